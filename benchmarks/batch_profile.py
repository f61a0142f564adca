"""Where one batch input's time goes: CPU per stage of the speech-prep item pipeline, in a worker thread.

    python benchmarks/batch_profile.py [OUT_PARENT] [--inputs N]

The input is the batch benchmark's (benchmarks/test_batch.py): 20 s of 48 kHz stereo int16 speech-like
signal. Each stage is timed on its own, as the batch worker runs it, in a worker thread (as the batch's
thread pool does; asyncio on the main thread costs more), with the process's CPU time (all threads), so
the numbers hold on a busy machine better than wall times. OUT_PARENT is where the outputs go: a tmpfs
leaves the fsyncs out, a disk puts them in (their waits show in the wall column).

Stages: build the pipeline from the manifest; read the input (remotemedia.io.read_audio); the two nodes
called directly (their kernels release the GIL); the same through the engine (execute_sync, metrics on,
as the batch runs it); the outputs (SegmentWriter, AudioWriter); publication (staging folder fsync,
rename, parent fsync); one ledger line (JSON, fsync).

On 2 cores two workers can only approach 2x the files per second of one when the GIL-held share of an
input's time is small: engine, output and build glue hold it, the kernels and the file I/O do not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

MANIFEST = {"version": "v1", "metadata": {"name": "speech-prep-bench"}, "nodes": [
    {"id": "resample", "node_type": "AudioResampleNode", "params": {"target_sample_rate": 16000}},
    {"id": "vad", "node_type": "VADNode", "params": {"backend": "webrtc", "segments": True}},
]}
SECONDS, RATE = 20.0, 48000


def make_input(folder: str) -> str:
    """The batch benchmark's signal: a 140 Hz voiced tone gated at 0.4 Hz, plus noise, stereo int16."""
    from remotemedia.io import write_audio

    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    voiced = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 0.4 * t) > 0)
    x = 0.2 * voiced + 0.01 * rng.standard_normal(t.size)
    path = os.path.join(folder, "input.wav")
    write_audio(path, np.rint(np.stack([x, 0.8 * x]) * 32767).astype(np.int16), RATE)
    return path


def profile(src: str, out_parent: str, inputs: int) -> dict:
    from remotemedia.batch.adapter import write_outputs
    from remotemedia.batch.ledger import Ledger
    from remotemedia.batch.publish import staged_folder
    from remotemedia.batch.worker import build_pipeline, with_impl
    from remotemedia.io import read_audio

    manifest = with_impl(MANIFEST, "native")
    out = tempfile.mkdtemp(prefix="rm-profile-", dir=out_parent)
    ledger = Ledger(os.path.join(out, "ledger.jsonl"))
    kept = build_pipeline(manifest)
    resample_node, vad_node = kept.nodes
    rows: dict = {}

    @contextlib.contextmanager
    def timed(name: str):
        w, c = time.perf_counter(), time.process_time()
        yield
        rows.setdefault(name, []).append(((time.process_time() - c) * 1e3, (time.perf_counter() - w) * 1e3))

    for i in range(inputs + 2):  # the first two warm up
        with timed("build the pipeline"):
            build_pipeline(manifest).close()
        with timed("read the input (3.8 MB)"):
            samples, rate = read_audio(src)
        with timed("resample + VAD nodes, called directly"):
            vad_node.process(resample_node.process((samples, rate)))
        with timed("the same through the engine (execute_sync)"):
            result = kept.execute_sync((samples, rate))
        staging = staged_folder(out, f"k{i}")
        folder = staging.__enter__()
        with timed("write the outputs (SegmentWriter)"):
            write_outputs(result.outputs, folder)
        with timed("publish (fsync, rename, fsync)"):
            staging.__exit__(None, None, None)
        with timed("one ledger line (JSON, fsync)"):
            ledger.append({"event": "input", "input": src, "key": f"k{i}",
                           "outputs": sorted(os.listdir(staging.final))})
    ledger.close()
    kept.close()
    shutil.rmtree(out, ignore_errors=True)
    return {name: (statistics.median(c for c, _ in v[2:]), statistics.median(w for _, w in v[2:]))
            for name, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_parent", nargs="?", default=None, help="where outputs go (default: the temp folder)")
    parser.add_argument("--inputs", type=int, default=20, help="inputs timed per stage (default 20)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="rm-profile-in-")
    try:
        src = make_input(folder)
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(profile(src, args.out_parent, args.inputs)))
        thread.start()
        thread.join()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"one input: {SECONDS:.0f} s of {RATE} Hz stereo int16, native kernels; medians of {args.inputs} inputs; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'stage':<46} {'CPU ms':>8} {'wall ms':>8}")
    for name, (cpu, wall) in result.items():
        print(f"{name:<46} {cpu:8.2f} {wall:8.2f}")


if __name__ == "__main__":
    main()
