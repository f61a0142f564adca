"""Shows a custom Python node (registered with @register_node) between native kernel nodes.

Run: python examples/custom_node.py [OUTPUT_FOLDER]   (default out/custom_node)

Chain: FormatConverterNode (kernel) -> PeakNormalizeNode (yours, numpy) -> FormatConverterNode (kernel).
The kernel nodes run natively when remotemedia-runtime is installed; yours is plain Python either way.
"""

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.audio import FormatConverterNode
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

from _data import out_dir, read_wav, speech_path, write_json, write_wav


@register_node  # makes "PeakNormalizeNode" usable in manifests too
class PeakNormalizeNode(Node):
    """Scales float audio so that its peak sits at ``peak_dbfs`` (dB relative to full scale).

    Args:
        peak_dbfs: the target peak level, <= 0.
        name: node id.
    """

    # Declared ports: the pipeline checks that audio nodes feed it.
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

    def __init__(self, peak_dbfs: float = -1.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.peak_dbfs = peak_dbfs

    def process(self, data):
        samples, sample_rate = data  # float32 (channels, frames), from the converter before us
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        gain = 10 ** (self.peak_dbfs / 20) / peak if peak > 0 else 1.0
        # A new array: nodes must never modify their input (on fan-out others see the same object).
        return (samples * np.float32(gain)).astype(np.float32), sample_rate


out = out_dir(__file__)
audio, sample_rate = read_wav(speech_path("en_f_8k.wav"))  # int16, (1, frames), 8 kHz

pipeline = Pipeline([
    FormatConverterNode(target_format="f32", name="to_float"),
    PeakNormalizeNode(peak_dbfs=-1.0, name="normalize"),
    FormatConverterNode(target_format="i16", name="to_int16"),
])
louder, rate = pipeline.run_sync((audio, sample_rate))

# Because the type is registered, the pipeline survives a trip through its manifest.
again = Pipeline.from_manifest(pipeline.to_manifest())
same, _ = again.run_sync((audio, sample_rate))
assert np.array_equal(louder, same)

write_wav(out / "normalized.wav", louder, rate)
write_json(out / "levels.json", {"peak_in": int(np.max(np.abs(audio))), "peak_out": int(np.max(np.abs(louder))),
                                 "clipped": pipeline.get_node("to_int16").total_clipped,
                                 "manifest_nodes": [n["node_type"] for n in again.to_manifest()["nodes"]]})

for node in pipeline.nodes:
    print(f"  {node.name:10} {type(node).__name__:20} runs in {getattr(node, 'impl', 'python')}")
print(f"peak {np.max(np.abs(audio))} -> {np.max(np.abs(louder))} (of 32767), manifest round trip identical")
print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")
