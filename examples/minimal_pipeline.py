"""Shows a minimal linear pipeline built in Python: int16 speech -> float32 -> 16 kHz -> int16.

Run: python examples/minimal_pipeline.py [OUTPUT_FOLDER]   (default out/minimal_pipeline;
REMOTEMEDIA_IMPL=python|native forces one implementation, the results are the same)
"""

# The int16 WAV is written after resampling: the implementations' float results differ in the last bits,
# which can move a sample across a rounding boundary (2 samples of 54531 here), so allow 1 LSB:
# example-test: int_lsb=1

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode

from _data import out_dir, read_wav, speech_path, write_json, write_wav

out = out_dir(__file__)
audio, sample_rate = read_wav(speech_path("es_m_48k.wav"))  # int16, (1, frames), 48 kHz

# Three nodes added in order and never connect()ed: a linear chain.
pipeline = Pipeline(name="minimal")
pipeline.add_node(FormatConverterNode(target_format="f32", name="to_float"))
pipeline.add_node(AudioResampleNode(target_sample_rate=16000, quality="high", name="to_16k"))
pipeline.add_node(FormatConverterNode(target_format="i16", name="to_int16"))

# One input item (a 1.x style (samples, sample_rate) tuple) gives one output item.
# pipeline.run_sync(...) would return just that; execute_sync also keeps every node's outputs.
result = pipeline.execute_sync((audio, sample_rate))
pcm16k, rate = result.outputs["to_int16"][0]
resampled, _ = result.node_results["to_16k"][0]

# The resampler's two implementations agree to float rounding (> 120 dB SDR), not to the bit:
# the float32 result is saved as .npy (the example test compares it with that tolerance).
np.save(out / "resampled_16k_f32.npy", resampled)
write_wav(out / "speech_16k.wav", pcm16k, rate)
write_json(out / "summary.json", {"input_frames": audio.shape[1], "input_rate": sample_rate,
                                  "output_frames": pcm16k.shape[1], "output_rate": rate,
                                  "nodes": [n["id"] for n in pipeline.to_manifest()["nodes"]]})

print(f"{audio.shape[1]} frames @ {sample_rate} Hz -> {pcm16k.shape[1]} frames @ {rate} Hz "
      f"({pcm16k.dtype}); resampler ran in {pipeline.get_node('to_16k').impl}")
print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")
