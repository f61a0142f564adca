"""Regenerates docs/metrics-report.png: the HTML metrics report of a small pipeline, rendered by headless Chromium.

Usage (from the repository root, with remotemedia installed and Debian's ``chromium`` on PATH)::

    python docs/make_report_screenshot.py [--html out.html] [--batch]

The pipeline: synthetic 20 s stereo 48 kHz int16 "recordings" -> float32 -> two concurrent branches
(resample to 16 kHz + WebRTC VAD; a numpy spectrogram) -> a join. Two recordings are streamed through
one run, so every node runs twice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from remotemedia.metrics import write_html_report
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.nodes.base import Node
from remotemedia.pipeline import Pipeline

HERE = os.path.dirname(os.path.abspath(__file__))


class Load(Node):
    """Synthesises a 20 s stereo 48 kHz int16 recording: tone bursts (speech-like) in noise."""

    def process(self, seed):
        rng = np.random.default_rng(seed)
        rate, seconds = 48000, 20
        t = np.arange(rate * seconds) / rate
        bursts = (np.sin(2 * np.pi * 0.4 * t) > 0.2) * np.sin(2 * np.pi * 220 * t) * 0.5
        x = bursts + rng.normal(0, 0.01, t.size)
        stereo = np.stack([x, 0.8 * x])
        return np.rint(np.clip(stereo, -1, 1) * 32767).astype(np.int16), rate


class Spectrogram(Node):
    """Magnitude spectrogram: 2048-sample frames, hop 512 (numpy)."""

    def process(self, data):
        samples, rate = data
        x = samples.mean(axis=0)
        n = (x.size - 2048) // 512 + 1
        frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::512][:n] * np.hanning(2048)
        return np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32)


class Summary(Node):
    input_types = {"vad": "any", "spec": "any"}

    def process(self, data):
        info = data["vad"][2]
        return {"speech_ratio": info["speech_ratio"], "spectrogram_frames": int(data["spec"].shape[0])}


def build() -> Pipeline:
    return Pipeline(
        [Load(name="load"), FormatConverterNode(target_format="f32", name="to_f32"),
         AudioResampleNode(target_sample_rate=16000, name="resample_16k"),
         VADNode(backend="webrtc", mode=2, name="vad"), Spectrogram(name="spectrogram"), Summary(name="summary")],
        name="speech-prep", enable_metrics=True,
        connections=[("load", "to_f32"), ("to_f32", "resample_16k"), ("resample_16k", "vad"),
                     ("to_f32", "spectrogram"), {"from": "vad", "to": "summary", "to_port": "vad"},
                     {"from": "spectrogram", "to": "summary", "to_port": "spec"}])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", help="also keep the HTML report here")
    parser.add_argument("--batch", action="store_true", help="render the batch report of 8 runs instead")
    parser.add_argument("--png", default=os.path.join(HERE, "metrics-report.png"))
    args = parser.parse_args()
    pipeline = build()
    pipeline.run_sync([1, 2])  # warm-up (FFT plans, imports)
    runs = []
    for seed in range(8 if args.batch else 1):
        pipeline.run_sync([seed, seed + 100])
        runs.append(pipeline.get_metrics())
    with tempfile.TemporaryDirectory() as tmp:
        html_path = os.path.abspath(args.html) if args.html else os.path.join(tmp, "report.html")
        write_html_report(html_path, runs if args.batch else runs[0])
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            print("chromium not found (apt-get install chromium)", file=sys.stderr)
            return 1
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={os.path.abspath(args.png)}", "--window-size=1400,1000",
                        "file://" + html_path], check=True, capture_output=True, timeout=120)
    print(f"wrote {args.png} ({os.path.getsize(args.png) // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
