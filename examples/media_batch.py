"""Shows `remotemedia run` on a folder of mp3, opus and m4a files: decoded with libsndfile or FFmpeg, prepared
by the speech-preparation manifest, one folder of segments per input.

Run: python examples/media_batch.py [OUTPUT_FOLDER]   (default out/media_batch)

The inputs are made here with PyAV's encoders from the packaged speech recordings: en_f_8k as
mp3, de_m_22k as ogg/opus, en_m_16k as m4a (AAC) and a stereo mp4 video with an AAC track. Then,
as from a shell:

    remotemedia run examples/pipelines/speech_prep.json INPUTS -o OUTPUT_FOLDER/prepared --workers 2

Needs the media extra (pip install 'remotemedia[media]'); without it the script writes
skipped.txt and exits 0.
"""

# The ledger (timestamps) and the segment lists (they name the input's temporary path) differ from
# run to run: their deterministic part goes to summary.json. int16 segments written after
# resampling may differ by one step between implementations.
# example-test: timeout=120 ignore=*remotemedia-ledger.jsonl,*.segments.jsonl int_lsb=1

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from _data import encode_media, import_av_or_skip, out_dir, read_wav, speech_path, write_json

MANIFEST = pathlib.Path(__file__).parent / "pipelines" / "speech_prep.json"

out = out_dir(__file__)
import_av_or_skip(out)


with tempfile.TemporaryDirectory(prefix="remotemedia-media-in-") as inputs:
    folder = pathlib.Path(inputs)
    en8, r8 = read_wav(speech_path("en_f_8k.wav"))
    de22, r22 = read_wav(speech_path("de_m_22k.wav"))
    en16, r16 = read_wav(speech_path("en_m_16k.wav"))
    encode_media(folder / "en_f.mp3", en8, r8, "libmp3lame")
    encode_media(folder / "de_m.opus", de22, r22, "libopus", out_rate=48000)
    encode_media(folder / "en_m.m4a", en16, r16, "aac")
    (folder / "video").mkdir()
    encode_media(folder / "video" / "en_m_stereo.mp4", np.vstack([en16, (en16 * 0.8).astype(np.int16)]), r16, "aac",
           video=True)
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*"))
    print(f"inputs: {', '.join(names)}")
    run = subprocess.run([sys.executable, "-m", "remotemedia", "run", str(MANIFEST), inputs, "-o",
                          str(out / "prepared"), "--workers", "2", "--quiet"], capture_output=True, text=True)
    print(run.stderr.strip())
assert run.returncode == 0, run.stderr

lines = [json.loads(line) for line in (out / "prepared" / "remotemedia-ledger.jsonl").read_text().splitlines()]
ledger = [e for e in lines if e.get("event") == "input"]
assert len(ledger) == 4 and {e["status"] for e in ledger} == {"ok"}, ledger


def segment_list(key):
    """The segments of one input (prepared/<key>/<stem>.segments.jsonl), without the input path."""
    (jsonl,) = (out / "prepared" / key).glob("*.segments.jsonl")
    return [{k: v for k, v in json.loads(line).items() if k != "source"} for line in jsonl.read_text().splitlines()]


keys = sorted(e["key"] for e in ledger)
summary = {"inputs": names, "ok": len(ledger), "segments": {key: segment_list(key) for key in keys}}
for key in keys:
    print(f"{key}: {len(summary['segments'][key])} speech segments")
write_json(out / "summary.json", summary)
