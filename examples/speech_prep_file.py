"""Shows the full speech-preparation chain on one file: decode, mono, 16 kHz, WebRTC VAD, one WAV per segment.

Run: python examples/speech_prep_file.py [OUTPUT_FOLDER]   (default out/speech_prep_file)

The chain is the manifest examples/pipelines/speech_prep.json; `run_file` reads the recording in 2 s
chunks (bounded memory) and the SegmentWriter publishes <stem>_NNNN.wav per segment and
<stem>.segments.jsonl (written last).
"""

# int16 segments written after resampling: float rounding may move a sample by one step.
# The index names the implementation that ran (its "pipeline" field): compared through segments.json instead.
# example-test: int_lsb=1 ignore=*.segments.jsonl

import json
import pathlib

from remotemedia import Pipeline

from _data import out_dir, speech_path, write_json

HERE = pathlib.Path(__file__).parent

out = out_dir(__file__)
pipeline = Pipeline.from_manifest(HERE / "pipelines" / "speech_prep.json")

# A 22.05 kHz recording, so that the resampler has real work to do (22050 -> 16000 Hz).
recording = speech_path("de_m_22k.wav")
results = pipeline.run_file(recording, out)  # sink id -> list of summaries (one per file sink run)

# The segment list the writer published next to the WAV files: one JSON object per line.
segments = [json.loads(line) for line in (out / f"{recording.stem}.segments.jsonl").read_text().splitlines()]
for seg in segments:
    print({k: v for k, v in seg.items() if k != "path"})
# Every field of every segment record but the pipeline's implementations (compared between implementations).
write_json(out / "segments.json", [{k: v for k, v in seg.items() if k != "pipeline"} for seg in segments])
write_json(out / "summary.json", {"input": recording.name, "segments": len(segments),
                                  "files": sorted(p.name for p in out.glob("*.wav"))})
print(f"{recording.name}: {len(segments)} speech segments in {out}")
print("sink results:", {k: len(v) for k, v in results.items()})
