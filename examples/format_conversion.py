"""Shows sample format conversion with FormatConverterNode, in whichever implementation is active.

Run: python examples/format_conversion.py [OUTPUT_FOLDER]   (default out/format_conversion;
REMOTEMEDIA_IMPL=python|native forces one implementation: the results are bit-identical)
"""

import numpy as np

import remotemedia
from remotemedia.nodes.audio import FormatConverterNode

from _data import out_dir, write_json, write_wav

out = out_dir(__file__)

# One second of a 440 Hz tone at 16 kHz, a bit too loud: some samples exceed full scale.
sr = 16_000
t = np.arange(sr) / sr
audio = (1.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

to_int16 = FormatConverterNode(target_format="i16", name="to_i16")
pcm, sr_out = to_int16.process((audio, sr))  # 1.x tuple form in, (channels, frames) out
# Back to float: int16 / 32768, exact; clipped peaks stay flat at full scale.
back, _ = FormatConverterNode(target_format="f32").process((pcm, sr_out))
# float64 goes straight to 32-bit PCM (rounded half to even, NaN -> 0).
pcm32, _ = FormatConverterNode(target_format="i32").process((audio.astype(np.float64) * 0.5, sr))

write_wav(out / "tone_i16.wav", pcm, sr_out)
np.save(out / "tone_back_f32.npy", back)
np.save(out / "tone_i32.npy", pcm32)
write_json(out / "conversion.json", {"clipped": to_int16.last_clipped, "samples": audio.size,
                                     "dtypes": [str(pcm.dtype), str(back.dtype), str(pcm32.dtype)]})

print(f"remotemedia {remotemedia.__version__}, node implementation: {to_int16.impl} ({to_int16.impl_reason})")
print(f"output: dtype={pcm.dtype} shape={pcm.shape} sample_rate={sr_out}")
print(f"clipped samples: {to_int16.last_clipped} of {audio.size}")
print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")
