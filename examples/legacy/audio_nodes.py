"""Shows a remotemedia 1.x audio script running unchanged: sync process((audio, sr)) per runtime_hint.

Run: python examples/legacy/audio_nodes.py [OUTPUT_FOLDER]   (default out/legacy/audio_nodes)

Like 1.x scripts, it probes for the compiled module (top-level ``remotemedia_runtime``) before asking
for ``runtime_hint="rust"``: "rust" fails loudly when native is missing instead of falling back.
Every hint that runs must give the same answer; the script checks that, then saves the answers.
"""

import json
import pathlib
import sys

import numpy as np

from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode

try:  # the 1.x way to find out whether the Rust runtime is there
    import remotemedia_runtime

    RUST_AVAILABLE = True
    print(f"remotemedia_runtime {remotemedia_runtime.__version__} found")
except ImportError:
    RUST_AVAILABLE = False
    print("remotemedia_runtime not installed: skipping runtime_hint='rust'")

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/legacy/audio_nodes")
out.mkdir(parents=True, exist_ok=True)

# Two seconds at 44.1 kHz, float32 in [-1, 1]: a tone for the first second, near silence after.
sr = 44100
t = np.arange(2 * sr) / sr
audio = np.where(t < 1.0, 0.5, 0.001) * np.sin(2 * np.pi * 330 * t)
audio = audio.astype(np.float32)

results = {}
for runtime_hint in ("rust", "python", "auto"):
    if runtime_hint == "rust" and not RUST_AVAILABLE:
        continue
    try:
        resampler = AudioResampleNode(target_sample_rate=16000, runtime_hint=runtime_hint)
        converter = FormatConverterNode(target_format="i16", runtime_hint=runtime_hint)
        vad = VADNode(frame_duration_ms=30, energy_threshold=0.02, runtime_hint=runtime_hint)
    except ImportError as exc:  # installed but switched off (REMOTEMEDIA_IMPL=python): still loud, not silent
        print(f"runtime_hint={runtime_hint!r} unavailable: {exc}")
        continue
    resampled, new_sr = resampler.process((audio, sr))
    pcm, _ = converter.process((audio, sr))
    _, _, vad_info = vad.process((audio, sr))
    results[runtime_hint] = (resampled, pcm, vad_info)
    print(f"runtime_hint={runtime_hint!r:9}: resampled to {resampled.shape} @ {new_sr} Hz, int16 {pcm.shape}, "
          f"speech {vad_info['speech_frames']}/{vad_info['total_frames']} frames "
          f"(ran in {resampler.impl}/{converter.impl}/{vad.impl})")

# Whatever ran them, the answers agree: exactly for conversion and VAD, to float rounding for resampling.
ref_resampled, ref_pcm, ref_vad = results["auto"]
for hint, (resampled, pcm, vad_info) in results.items():
    diff = resampled.astype(np.float64) - ref_resampled
    sdr_db = 10 * np.log10(np.sum(ref_resampled.astype(np.float64) ** 2) / max(np.sum(diff ** 2), 1e-300))
    assert sdr_db > 120, f"{hint}: resampled output differs from auto's (SDR {sdr_db:.1f} dB)"
    assert np.array_equal(pcm, ref_pcm) and np.array_equal(vad_info["decisions"], ref_vad["decisions"]), hint
print(f"{len(results)} runtime hints agree")

np.save(out / "resampled_16k.npy", ref_resampled)
np.save(out / "converted_i16.npy", ref_pcm)
np.save(out / "vad_decisions.npy", ref_vad["decisions"])
(out / "vad.json").write_text(json.dumps({k: ref_vad[k] for k in ("is_speech", "speech_frames", "total_frames",
                                                                   "speech_ratio", "frame_ms")}, indent=2) + "\n")
