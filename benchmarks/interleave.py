"""Interleaved A/B timing: ratios that survive a noisy, shared machine.

Absolute times drift by up to 2x between runs here, so competing variants are
timed in alternating rounds (A B A B ...) and compared by the median of the
per-round ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable, Dict


def per_call_s(fn: Callable[[], object], loops: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn`` over ``loops`` back-to-back calls (by ``clock``)."""
    t0 = clock()
    for _ in range(loops):
        fn()
    return (clock() - t0) / loops


def calibrate(fn: Callable[[], object], target_s: float = 0.02,
              clock: Callable[[], float] = time.perf_counter) -> int:
    """Loops per round so that one round takes about ``target_s``."""
    loops = 1
    while True:
        if per_call_s(fn, loops, clock) * loops >= target_s / 4 or loops >= 1 << 24:
            return max(1, int(loops * target_s / max(per_call_s(fn, loops, clock) * loops, 1e-9)))
        loops *= 4


def interleaved(variants: Dict[str, Callable[[], object]], rounds: int = 15, target_s: float = 0.02,
                clock: Callable[[], float] = time.perf_counter) -> Dict[str, Dict[str, float]]:
    """Times every variant in alternating rounds.

    ``clock`` is wall time by default; ``time.thread_time`` (CPU time of the
    calling thread) leaves out the time a shared machine gives to other
    processes, for single-threaded calls of a few microseconds.

    Returns:
        name -> {"median_s": median seconds per call, "ratio": median over
        rounds of (this variant's time / the first variant's time)}.
    """
    names = list(variants)
    loops = {n: calibrate(variants[n], target_s, clock) for n in names}
    times: Dict[str, list] = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            times[n].append(per_call_s(variants[n], loops[n], clock))
    base = names[0]
    return {
        n: {
            "median_s": statistics.median(times[n]),
            "ratio": statistics.median(t / b for t, b in zip(times[n], times[base])),
        }
        for n in names
    }


def paired_difference_s(base: Callable[[], object], other: Callable[[], object], pairs: int = 4001,
                        clock: Callable[[], int] = time.perf_counter_ns) -> float:
    """Median over ``pairs`` of ``other``'s time minus ``base``'s, each pair timed call by call back to back
    (the order alternating from pair to pair), in seconds.

    For "time above the kernel" of a call that is mostly the kernel: the two calls of a pair see the same
    machine state, so the drifts that make a ratio of round medians swing by several percent (several
    microseconds on a 100 us kernel) cancel in each difference, and the median drops the pairs a
    preemption hit.
    """
    diffs = []
    for i in range(pairs):
        if i % 2:
            t0 = clock()
            other()
            t1 = clock()
            base()
            t2 = clock()
            diffs.append((t1 - t0) - (t2 - t1))
        else:
            t0 = clock()
            base()
            t1 = clock()
            other()
            t2 = clock()
            diffs.append((t2 - t1) - (t1 - t0))
    return statistics.median(diffs) * 1e-9


def machine() -> Dict[str, str]:
    """CPU model, cores, Python, and whether OpenBLAS overrides are set."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "<unset>"),
    }
