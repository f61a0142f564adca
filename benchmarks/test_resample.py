"""Resampling speed: native vs numpy vs soxr HQ vs scipy resample_poly, ratios from one interleaved run.

Targets (issue): 48k -> 16k and 44.1k -> 16k, 1 s and 60 s mono: native under
2 ms per second of audio including the Python call, at most 1.3x soxr HQ
(goal: faster). Streaming in 20 ms chunks: per-chunk time at most that of
``soxr.ResampleStream``. Correctness is checked in the same benchmark, so a
fast wrong answer cannot pass: output lengths (``round(n * out / in)``), the
signal-to-difference ratio between native and its numpy twin (>= 100 dB), the
aliasing rejection of a tone above the new Nyquist (native >= 100 dB, and at
least soxr HQ's), and streamed output equal to the whole-signal output. Also: two threads resampling two long signals
(native releases the GIL), wall time relative to one thread doing one.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from interleave import interleaved
from targets import check, note, plot_ratios

from remotemedia import _native
from remotemedia.kernels import resample as rs

soxr = pytest.importorskip("soxr")
signal = pytest.importorskip("scipy.signal")

NATIVE = _native.module() is not None
PAIRS = [(48000, 16000), (44100, 16000)]


def _signal(rate: int, seconds: int) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal(rate * seconds) * 0.1).astype(np.float32)


def _report(title: str, res: dict, per: float, unit: str) -> None:
    lines = [f"  {name:<26} {v['median_s'] / per * 1e3:8.3f} ms/{unit}   ratio to {next(iter(res))} {v['ratio']:.2f}"
             for name, v in res.items()]
    print(f"\n{title}\n" + "\n".join(lines))


def _sdr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """Signal-to-difference ratio (dB) of ``other`` against ``reference``."""
    ref = reference.astype(np.float64)
    diff = other.astype(np.float64) - ref
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum(diff ** 2), 1e-300)))


def _aliasing_db(fn, in_rate: int, out_rate: int) -> float:
    """Rejection (dB, positive = rejected) of a full-scale tone at 0.75x the input Nyquist folded by the
    rate change: output RMS over the middle 80% relative to the input's RMS."""
    f = 0.75 * in_rate / 2  # 18 kHz at 48k, 16.5 kHz at 44.1k: far above the new 8 kHz Nyquist
    t = np.arange(in_rate) / in_rate
    x = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
    y = np.asarray(fn(x), dtype=np.float64)
    mid = y[y.size // 10: -y.size // 10]
    rms_in = 0.5 / np.sqrt(2)
    return float(-20 * np.log10(max(np.sqrt(np.mean(mid ** 2)), 1e-300) / rms_in))


@pytest.mark.parametrize("in_rate,out_rate", PAIRS)
@pytest.mark.parametrize("seconds", [1, 60])
def test_whole_signal(benchmark, in_rate, out_rate, seconds):
    x = _signal(in_rate, seconds)
    g = np.gcd(in_rate, out_rate)
    variants = {"soxr HQ": lambda: soxr.resample(x, in_rate, out_rate, "HQ")}
    if NATIVE:
        variants["native high"] = lambda: rs.resample(x, in_rate, out_rate, impl="native")
    variants["numpy high"] = lambda: rs.resample(x, in_rate, out_rate, impl="python")
    variants["scipy resample_poly"] = lambda: signal.resample_poly(x, out_rate // g, in_rate // g)
    res = interleaved(variants, rounds=7 if seconds == 60 else 15)
    _report(f"resample {in_rate} -> {out_rate}, {seconds} s mono", res, seconds, "s of audio")
    benchmark.extra_info.update(res)
    fastest = "native high" if NATIVE else "numpy high"
    benchmark.pedantic(variants[fastest], rounds=3 if seconds == 60 else 20)
    pair = f"{in_rate / 1000:g}k->{out_rate / 1000:g}k"
    case = f"resample {pair}, {seconds} s"
    labels = {"numpy": "numpy high", "outside: soxr HQ": "soxr HQ", "outside: scipy resample_poly":
              "scipy resample_poly"}
    if not NATIVE:
        note(benchmark, f"{case}: numpy, per second of audio", res["numpy high"]["median_s"] / seconds * 1e3, "ms")
        return
    plot_ratios(benchmark, case, res, {"native": "native high", **labels})
    check(benchmark, f"{case}: native, per second of audio (incl. Python call)",
          res["native high"]["median_s"] / seconds * 1e3, "ms", "<", 2.0, source="issue 4")
    check(benchmark, f"{case}: native / soxr HQ (same run)", res["native high"]["ratio"], "x", "<=", 1.3,
          goal=1.0, source="issue 4")
    note(benchmark, f"{case}: numpy implementation / soxr HQ", res["numpy high"]["ratio"], "x")
    note(benchmark, f"{case}: scipy resample_poly / soxr HQ", res["scipy resample_poly"]["ratio"], "x")
    # Correctness, same run.
    y_native, y_numpy = variants["native high"](), variants["numpy high"]()
    want = int(np.rint(x.size * out_rate / in_rate))
    check(benchmark, f"{case}: output length == round(n*out/in) (native, numpy)",
          float(y_native.size == want and y_numpy.size == want), "", ">=", 1, source="issue 4")
    check(benchmark, f"{case}: SDR native vs numpy twin", _sdr_db(y_numpy, y_native), "dB", ">=", 100,
          source="issue 4")
    if seconds == 1:
        alias_native = _aliasing_db(lambda s: rs.resample(s, in_rate, out_rate, impl="native"), in_rate, out_rate)
        alias_soxr = _aliasing_db(lambda s: soxr.resample(s, in_rate, out_rate, "HQ"), in_rate, out_rate)
        check(benchmark, f"resample {pair}: aliasing rejection, native high",
              alias_native, "dB", ">=", 100, source="issue 4")
        check(benchmark, f"resample {pair}: aliasing rejection, native - soxr HQ",
              alias_native - alias_soxr, "dB", ">=", 0, source="issue 4")
        print(f"  aliasing rejection of a tone at {0.75 * in_rate / 2:.0f} Hz: native {alias_native:.1f} dB, "
              f"soxr HQ {alias_soxr:.1f} dB")


@pytest.mark.parametrize("in_rate,out_rate", PAIRS)
def test_stream_20ms_chunks(benchmark, in_rate, out_rate):
    x = _signal(in_rate, 10)
    chunk = in_rate // 50
    chunks = [x[i:i + chunk] for i in range(0, x.size - chunk + 1, chunk)]

    def run_soxr():
        s = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
        for c in chunks:
            s.resample_chunk(c)

    def run(impl):
        def go():
            r = rs.Resampler(in_rate, out_rate, 1, impl=impl)
            for c in chunks:
                r.process(c)
        return go

    variants = {"soxr.ResampleStream HQ": run_soxr}
    if NATIVE:
        variants["native Resampler high"] = run("native")
    variants["numpy Resampler high"] = run("python")
    res = interleaved(variants, rounds=9)
    _report(f"stream {in_rate} -> {out_rate} in 20 ms chunks (10 s)", res, len(chunks) / 1e3, "1000 chunks")
    benchmark.extra_info.update(res)
    benchmark.pedantic(variants["native Resampler high" if NATIVE else "numpy Resampler high"], rounds=3)
    if not NATIVE:
        return
    case = f"stream {in_rate / 1000:g}k->{out_rate / 1000:g}k, 20 ms chunks"
    plot_ratios(benchmark, case, res, {"native": "native Resampler high", "numpy": "numpy Resampler high",
                                       "outside: soxr.ResampleStream HQ": "soxr.ResampleStream HQ"})
    check(benchmark, f"{case}: native per chunk / soxr.ResampleStream per chunk",
          res["native Resampler high"]["ratio"], "x", "<=", 1.0, source="issue 4")
    note(benchmark, f"{case}: native, per chunk", res["native Resampler high"]["median_s"] / len(chunks) * 1e6,
         "us")
    # Correctness: the streamed output (+ flush) is exactly the whole-signal output.
    whole = x[: len(chunks) * chunk]
    r = rs.Resampler(in_rate, out_rate, 1, impl="native")
    streamed = np.concatenate([r.process(c) for c in chunks] + [r.flush()])
    check(benchmark, f"{case}: streamed == whole-signal output (native)",
          float(np.array_equal(streamed, rs.resample(whole, in_rate, out_rate, impl="native"))), "", ">=", 1,
          source="issue 4")


@pytest.mark.skipif(not NATIVE, reason="native unavailable")
def test_two_threads_use_two_cores(benchmark):
    """Wall time of two threads each resampling 60 s, over one thread doing one (1.0 = perfect overlap, 2.0 =
    serialised). Recorded, not asserted: the machine is shared."""
    x = _signal(48000, 60)

    def one():
        rs.resample(x, 48000, 16000, impl="native")

    def two():
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    one()
    ratios = []
    for _ in range(5):
        t0 = time.perf_counter()
        one()
        t1 = time.perf_counter()
        two()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    ratio = float(np.median(ratios))
    print(f"\ntwo threads x 60 s 48k -> 16k: wall time {ratio:.2f}x one thread's (serialised would be 2.0)")
    benchmark.extra_info["two_threads_wall_ratio"] = ratio
    note(benchmark, "resample: two threads x 60 s, wall time / one thread's (1.0 = perfect, 2.0 = serialised)",
         ratio, "x", source="issue 4")
    benchmark.pedantic(two, rounds=2)
