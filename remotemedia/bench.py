"""``remotemedia bench``: the quick subset of the benchmark suite, as a ratio table.

Each kernel runs in the native and the numpy implementation and, when they
are installed, in the outside library that does the same job (soxr for
resampling, webrtcvad for voice activity detection). Variants are timed in
interleaved rounds (A B C, C B A, ...) and compared by the median over rounds
of each variant's time divided by the native time in the same round, so the
ratios hold on a noisy, shared machine where absolute times drift. The full
suite (pytest-benchmark) is in ``benchmarks/``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

Row = Dict[str, Any]


def _per_call_s(fn: Callable[[], object], loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / loops


def interleaved(variants: Dict[str, Callable[[], object]], rounds: int = 7, target_s: float = 0.02
                ) -> Dict[str, Dict[str, float]]:
    """Times every variant in alternating rounds.

    Args:
        variants: name -> a call to time; the first one is the reference.
        rounds: rounds; each round times every variant once (about ``target_s`` each).
        target_s: wanted duration of one variant's round (s); slow calls run once.

    Returns:
        name -> ``{"median_s": median seconds per call, "ratio": median over
        rounds of this variant's time / the reference's time}``.
    """
    names = list(variants)
    loops = {}
    for n in names:
        once = _per_call_s(variants[n], 1)  # also warms up
        loops[n] = max(1, int(target_s / max(once, 1e-9)))
    times: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            times[n].append(_per_call_s(variants[n], loops[n]))
    base = times[names[0]]
    return {n: {"median_s": statistics.median(t), "ratio": statistics.median(a / b for a, b in zip(t, base))}
            for n, t in times.items()}


def _speech_like(seconds: float, sample_rate: int) -> np.ndarray:
    """A deterministic float32 mono signal: voiced bursts with pauses, plus noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    voiced = sum(np.sin(2 * np.pi * k * 150 * t) / k for k in range(1, 8))
    bursts = (np.sin(2 * np.pi * 0.5 * t) > 0).astype(np.float64)
    return (0.2 * voiced * bursts + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _rows(kernel: str, case: str, seconds: float, res: Dict[str, Dict[str, float]]) -> List[Row]:
    return [{"kernel": kernel, "case": case, "variant": name, "median_ms": r["median_s"] * 1e3,
             "ratio_to_native": r["ratio"], "x_real_time": seconds / r["median_s"]} for name, r in res.items()]


def run_bench(seconds: float = 10.0, rounds: int = 7, native: Optional[bool] = None) -> List[Row]:
    """Runs the quick benchmarks.

    Args:
        seconds: seconds of audio per call.
        rounds: interleaved rounds per kernel.
        native: None = compare with native when it is installed; False = numpy only.

    Returns:
        One row per (kernel, variant): ``kernel``, ``case``, ``variant``,
        ``median_ms`` (per call), ``ratio_to_native`` (time / native time,
        measured in the same rounds; vs the numpy variant without native),
        ``x_real_time`` (audio seconds per wall second).
    """
    from remotemedia.kernels import convert, native_missing_reason, resample, vad

    def has_native(family: str) -> bool:
        return native is not False and native_missing_reason(family) is None

    rows: List[Row] = []
    # Format conversion: 48 kHz stereo int16 -> float32.
    x16 = np.rint(_speech_like(seconds, 48000) * 32767).astype(np.int16)
    x16 = np.stack([x16, x16])
    variants: Dict[str, Callable[[], object]] = {}
    if has_native("convert"):
        variants["native"] = lambda: convert.convert_format(x16, "f32", impl="native")
    variants["numpy"] = lambda: convert.convert_format(x16, "f32", impl="python")
    rows += _rows("convert", "int16 -> float32, 48 kHz stereo", seconds, interleaved(variants, rounds))

    # Resampling: 48 kHz -> 16 kHz mono float32.
    x48 = _speech_like(seconds, 48000)
    variants = {}
    if has_native("resample"):
        variants["native"] = lambda: resample.resample(x48, 48000, 16000, impl="native")
    variants["numpy"] = lambda: resample.resample(x48, 48000, 16000, impl="python")
    try:
        import soxr

        variants["soxr (HQ)"] = lambda: soxr.resample(x48, 48000, 16000, quality="HQ")
    except ImportError:
        pass
    rows += _rows("resample", "48 -> 16 kHz mono, quality high", seconds, interleaved(variants, rounds))

    # WebRTC VAD: 16 kHz int16, 30 ms frames.
    v16 = np.rint(_speech_like(seconds, 16000) * 32767).astype(np.int16)
    variants = {}
    if has_native("webrtc_vad"):
        variants["native"] = lambda: vad.webrtc_vad(v16, 16000, 3, 30, impl="native")
    variants["numpy"] = lambda: vad.webrtc_vad(v16, 16000, 3, 30, impl="python")
    try:
        import webrtcvad

        frames = [v16[i:i + 480].tobytes() for i in range(0, v16.size - 479, 480)]

        def wheels() -> None:
            det = webrtcvad.Vad(3)
            for f in frames:
                det.is_speech(f, 16000)

        variants["webrtcvad"] = wheels
    except ImportError:
        pass
    rows += _rows("webrtc_vad", "16 kHz, 30 ms frames, mode 3", seconds, interleaved(variants, rounds))
    return rows


def format_table(rows: List[Row]) -> str:
    """The ratio table printed by ``remotemedia bench``."""
    lines = [f"{'kernel':<11} {'variant':<12} {'ms/call':>9} {'x native':>9} {'x real time':>12}  case"]
    for r in rows:
        lines.append(f"{r['kernel']:<11} {r['variant']:<12} {r['median_ms']:>9.3f} {r['ratio_to_native']:>9.2f} "
                     f"{r['x_real_time']:>12.0f}  {r['case']}")
    lines.append("x native: time / native time, median over interleaved rounds of this run (>1 = slower than "
                 "native); without native, relative to numpy.")
    return "\n".join(lines)
