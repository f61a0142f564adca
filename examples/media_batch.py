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

import fractions
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from _data import import_av_or_skip, out_dir, read_wav, speech_path, write_json

MANIFEST = pathlib.Path(__file__).parent / "pipelines" / "speech_prep.json"

out = out_dir(__file__)
av = import_av_or_skip(out)


def encode(path, samples, rate, codec, out_rate=None, video=False):
    """Encodes int16 samples (channels, frames) with PyAV (``out_rate``: the codec's rate, e.g. 48 kHz opus)."""
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    audio = samples.astype(np.float32) / 32768
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate or rate)
        stream.layout = layout
        vstream = None
        if video:
            vstream = container.add_stream("libx264", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        for pos in range(0, audio.shape[1], 1024):  # PyAV converts rate and sample format for the encoder
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, pos:pos + 1024]), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, pos, fractions.Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if vstream is not None:
            for i in range(audio.shape[1] * 25 // rate):
                image = np.full((48, 64, 3), (i * 9) % 256, np.uint8)
                for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)


with tempfile.TemporaryDirectory(prefix="remotemedia-media-in-") as inputs:
    folder = pathlib.Path(inputs)
    en8, r8 = read_wav(speech_path("en_f_8k.wav"))
    de22, r22 = read_wav(speech_path("de_m_22k.wav"))
    en16, r16 = read_wav(speech_path("en_m_16k.wav"))
    encode(folder / "en_f.mp3", en8, r8, "libmp3lame")
    encode(folder / "de_m.opus", de22, r22, "libopus", out_rate=48000)
    encode(folder / "en_m.m4a", en16, r16, "aac")
    (folder / "video").mkdir()
    encode(folder / "video" / "en_m_stereo.mp4", np.vstack([en16, (en16 * 0.8).astype(np.int16)]), r16, "aac",
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
