"""Writes segment_cases.json: fixed cases of the Python SegmentTracker for the Rust one.

Run from the repository root (needs the remotemedia package importable):

    python native/kernels/tests/data/make_segment_cases.py

Each case gives the tracker's parameters, the decisions (a string of 0/1),
the energies (one digit per frame, so that ties are frequent and the values
are exact), the chunk sizes they are pushed in, the ``total_samples``
given to ``finish``, and what the Python class returned: the segments of each
push with ``earliest_pending_start()`` after it, then the segments of
``finish``. Seconds are stored as the bits of the float64 (an integer), so the
comparison is exact. ``native/kernels/tests/segment_cases.rs`` replays them.
"""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels.segments import SegmentTracker

OUT = Path(__file__).with_name("segment_cases.json")


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def seg(s) -> list:
    return [s.start, s.end, bits(s.start_s), bits(s.end_s)]


def decisions(rng: random.Random, n: int) -> str:
    """Runs of speech and silence of random lengths (short and long)."""
    out = []
    speech = rng.random() < 0.5
    while len(out) < n:
        run = rng.choice([1, 2, 3, 5, 8, 13, 30, 80, 200])
        out += ["1" if speech else "0"] * run
        speech = not speech
    return "".join(out[:n])


def main() -> None:
    rng = random.Random(20261203)
    cases = []
    while len(cases) < 56:
        frame_length, sample_rate = rng.choice([(160, 16000), (480, 16000), (480, 48000), (240, 8000),
                                                (1323, 44100), (7, 1000), (1, 1)])
        frame_s = frame_length / sample_rate
        params = {
            "min_speech_ms": rng.choice([0.0, 10.0, 250.0, 90.5, 1000.0 * frame_s * 3]),
            "min_silence_ms": rng.choice([0.0, 30.0, 300.0, 1000.0 * frame_s * 2.5]),
            "pre_roll_ms": rng.choice([0.0, 100.0, 33.3, 1000.0]),
            "post_roll_ms": rng.choice([0.0, 100.0, 12.5, 1000.0]),
            "max_segment_s": rng.choice([0.0, 30.0, frame_s * 2, frame_s * rng.randint(3, 40), 0.5]),
        }
        try:
            SegmentTracker(frame_length, sample_rate, **params)
        except KernelInputError:
            continue  # max_segment_s below two frames
        n = rng.randint(0, 400)
        dec = decisions(rng, n)
        with_energy = rng.random() < 0.8
        energy = "".join(rng.choice("01123589") for _ in range(n)) if with_energy else None
        chunks = []
        left = n
        while left:
            c = min(left, rng.choice([0, 1, 2, 7, 50, 200]))
            chunks.append(c)
            left -= c
        total = rng.choice([None, n * frame_length, max(0, n * frame_length - rng.randint(0, frame_length))])
        tracker = SegmentTracker(frame_length, sample_rate, **params)
        pushes = []
        pos = 0
        for c in chunks:
            d = [int(ch) for ch in dec[pos:pos + c]]
            e = None if energy is None else [float(ch) for ch in energy[pos:pos + c]]
            got = tracker.push(np.array(d, dtype=np.uint8), None if e is None else np.array(e))
            pushes.append({"segments": [seg(s) for s in got], "earliest": tracker.earliest_pending_start()})
            pos += c
        final = tracker.finish(total)
        cases.append({
            "frame_length": frame_length, "sample_rate": sample_rate, "params": params,
            "decisions": dec, "energy": energy, "chunks": chunks, "total_samples": total,
            "pushes": pushes, "finish": [seg(s) for s in final],
        })
    OUT.write_text(json.dumps(cases, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(cases)} cases, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
