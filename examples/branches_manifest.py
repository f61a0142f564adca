r"""Shows a manifest-driven pipeline whose two branches converge (fan-out, then fan-in on a custom node).

Run: python examples/branches_manifest.py [OUTPUT_FOLDER]   (default out/branches_manifest)

The graph (examples/pipelines/branches.json):

    input --> to_16k (AudioResampleNode) ---\
         \--> to_f32 (FormatConverterNode) --> bundle (BranchBundle, defined below)
"""

import pathlib

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

from _data import out_dir, read_wav, speech_path, write_json

HERE = pathlib.Path(__file__).parent


@register_node  # the manifest names it "BranchBundle": registering makes that name known
class BranchBundle(Node):
    """Fan-in: receives {source node id: (samples, sample_rate)} and checks the branches line up."""

    def process(self, data):
        # On fan-in a node gets one item from each input, in a dict keyed by the source node's id
        # (or by the connection's "to_port" when it names one).
        speech, speech_rate = data["to_16k"]
        full, full_rate = data["to_f32"]
        # Same duration on both branches, to one output frame (the resampler keeps round(n * out / in)).
        assert speech.shape[1] == round(full.shape[1] * speech_rate / full_rate)
        return {"speech_16k": speech, "full_rate_f32": full, "rates": [speech_rate, full_rate]}


out = out_dir(__file__)
audio, sample_rate = read_wav(speech_path("de_m_22k.wav"))  # int16, (1, frames), 22050 Hz

pipeline = Pipeline.from_manifest(HERE / "pipelines" / "branches.json")  # validated before anything runs
bundle = pipeline.run_sync((audio, sample_rate))  # "bundle" is the only sink: its one output

np.save(out / "speech_16k_f32.npy", bundle["speech_16k"])        # resampled: float rounding differs by impl
np.save(out / "full_rate_f32.npy", bundle["full_rate_f32"])      # int16 / 32768: exact in both
write_json(out / "bundle.json", {"rates": bundle["rates"],
                                 "frames": [bundle["speech_16k"].shape[1], bundle["full_rate_f32"].shape[1]],
                                 "graph": [(c["from"], c["to"]) for c in pipeline.to_manifest()["connections"]]})

rms = [float(np.sqrt(np.mean(np.square(bundle[k], dtype=np.float64)))) for k in ("speech_16k", "full_rate_f32")]
print(f"input {audio.shape[1]} frames @ {sample_rate} Hz fanned out to two branches and back in:")
print(f"  to_16k: {bundle['speech_16k'].shape[1]} frames @ 16000 Hz, RMS {rms[0]:.4f}")
print(f"  to_f32: {bundle['full_rate_f32'].shape[1]} frames @ {sample_rate} Hz, RMS {rms[1]:.4f}")
print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")
