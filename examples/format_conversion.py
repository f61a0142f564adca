"""Shows: sample format conversion with FormatConverterNode, in whichever implementation is active.

Run: python examples/format_conversion.py   (REMOTEMEDIA_IMPL=python|native to force one)
"""

import numpy as np

import remotemedia
from remotemedia.nodes.audio import FormatConverterNode

# One second of a 440 Hz tone at 16 kHz, a bit too loud: some samples exceed full scale.
sr = 16_000
t = np.arange(sr) / sr
audio = (1.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

to_int16 = FormatConverterNode(target_format="i16", name="to_i16")
pcm, sr_out = to_int16.process((audio, sr))  # 1.x tuple form in, (channels, frames) out

print(f"remotemedia {remotemedia.__version__}, node implementation: {to_int16.impl} ({to_int16.impl_reason})")
print(f"output: dtype={pcm.dtype} shape={pcm.shape} sample_rate={sr_out}")
print(f"clipped samples: {to_int16.last_clipped} of {audio.size}")
