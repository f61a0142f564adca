"""Filter design of the resampler, shared by the numpy and the native implementation.

The native implementation is rubato's synchronous FFT resampler (``rubato::Fft``,
rubato 5.1). This module decides its block sizes and window (the quality presets)
and recomputes, for the numpy twin, the exact filter rubato builds from them,
copying its float32 arithmetic so that the two implementations agree to float
rounding.

How rubato's ``Fft`` works (read from its source):

- with ``g = gcd(in_rate, out_rate)``, blocks are ``N = k * in_rate / g`` input
  frames and ``M = k * out_rate / g`` output frames;
- the anti-aliasing filter is one N-tap windowed sinc at the input rate,
  normalised to sum 1, its cutoff set by the shorter block side;
- each block is zero-padded to 2N, transformed, multiplied by the filter's
  spectrum, cut (or zero-extended) to M + 1 bins and transformed back at 2M
  points; the second half overlaps the next block.

Here k is the smallest **even** k (with N divisible by 4) that makes the shorter
block side at least the preset's ``min_block``: with k even the filter's peak
(input frame N/2) lands exactly on output frame M/2, so removing M/2 output
frames aligns the output with no fractional shift.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Dict

import numpy as np

#: Quality presets, in increasing order of latency and quality.
QUALITIES = ("low", "medium", "high", "very_high")

#: Largest reduced-ratio term accepted (``in_rate / g`` and ``out_rate / g``).
#: Rate pairs with a tiny gcd (8001 -> 16000 Hz) would need blocks of tens of
#: thousands of frames and a latency near a second; they are refused.
MAX_RATIO_TERM = 8192

#: Sample rates accepted (Hz).
MIN_RATE = 8000
MAX_RATE = 192000

#: Largest accepted sample magnitude (the native kernel's float32 FFTs could
#: overflow above it). Non-finite values are refused too.
MAX_ABS_SAMPLE = 1e30


@dataclass(frozen=True)
class Preset:
    """A quality preset.

    Attributes:
        name: ``low``, ``medium``, ``high`` or ``very_high``.
        min_block: the shorter side of a block (M when downsampling, N when
            upsampling) is at least this many frames; it sets the transition
            width, the passband edge and the latency (M / 2 output frames).
        window: the window of the windowed sinc (rubato ``WindowFunction``).
    """

    name: str
    min_block: int
    window: str


PRESETS: Dict[str, Preset] = {
    "low": Preset("low", 64, "blackman_harris"),
    "medium": Preset("medium", 128, "blackman_harris"),
    "high": Preset("high", 256, "blackman_harris2"),
    "very_high": Preset("very_high", 512, "blackman_harris2"),
}


@dataclass(frozen=True)
class Plan:
    """Block sizes for one rate pair and preset.

    Attributes:
        in_rate: Hz.
        out_rate: Hz.
        block_in: N, input frames per block.
        block_out: M, output frames per block.
        window: window name.
        delay: output frames held back (M / 2); also the latency in frames.
    """

    in_rate: int
    out_rate: int
    block_in: int
    block_out: int
    window: str

    @property
    def delay(self) -> int:
        return self.block_out // 2


def reduced_ratio(in_rate: int, out_rate: int) -> tuple:
    """``(in_rate / g, out_rate / g)`` with ``g = gcd(in_rate, out_rate)``."""
    g = math.gcd(in_rate, out_rate)
    return in_rate // g, out_rate // g


def make_plan(in_rate: int, out_rate: int, quality: str) -> Plan:
    """The block sizes for a (validated) rate pair and preset."""
    preset = PRESETS[quality]
    a, b = reduced_ratio(in_rate, out_rate)
    k = 2
    while k * min(a, b) < preset.min_block or (k * a) % 4:
        k += 2
    return Plan(in_rate, out_rate, k * a, k * b, preset.window)


def output_len(frames: int, in_rate: int, out_rate: int) -> int:
    """``round(frames * out_rate / in_rate)``, half to even, exact."""
    q, r = divmod(frames * out_rate, in_rate)
    if 2 * r > in_rate or (2 * r == in_rate and q % 2):
        return q + 1
    return q


# --- rubato's filter, recomputed -------------------------------------------------

_F32 = np.float32

#: Cosine-sum window coefficients (a0, a1, a2, a3) of the windowfunctions crate.
_COSINE_WINDOWS = {
    "blackman": (0.42, 0.5, 0.08, 0.0),
    "blackman_harris": (0.35875, 0.48829, 0.14128, 0.01168),
    "hann": (0.5, 0.5, 0.0, 0.0),
}

#: rubato's cubic fit of the relative cutoff against the sinc length.
_CUTOFF_FIT = {
    "blackman_harris": (8.041443677716476, 55.9506779343387, 898.0287985384213),
    "blackman_harris2": (13.745202940783823, 121.73532586374934, 5964.163279612051),
    "blackman": (6.159598046201173, 18.926415097606878, 653.4247430458968),
    "blackman2": (9.506235102129398, 79.13120634953742, 1502.2316160588925),
    "hann": (3.3481080887677166, 10.106519434875038, 78.96345249024414),
    "hann2": (5.38751148378734, 29.69451915489501, 184.82117462266237),
}


def window(npoints: int, name: str) -> np.ndarray:
    """rubato's periodic window: float64 cosine sum, cast to float32, squared in float32 for ``*2``."""
    base = name[:-1] if name.endswith("2") else name
    a0, a1, a2, a3 = _COSINE_WINDOWS[base]
    x = np.arange(npoints, dtype=np.float64)
    length = float(npoints)
    w = (a0 - a1 * np.cos(2.0 * np.pi * x / length) + a2 * np.cos(4.0 * np.pi * x / length)
         - a3 * np.cos(6.0 * np.pi * x / length))
    w32 = w.astype(_F32)
    if name.endswith("2"):
        w32 = w32 * w32
    return w32


def _cutoff_fit(npoints: int, name: str) -> np.float32:
    k1, k2, k3 = (_F32(v) for v in _CUTOFF_FIT[name])
    n = _F32(npoints)
    one = _F32(1.0)
    return one / (k1 / n + k2 / (n * n) + k3 / (n * n * n) + one)


def cutoff(plan: Plan) -> np.float32:
    """The filter cutoff relative to the input Nyquist, as rubato computes it (float32)."""
    n, m = plan.block_in, plan.block_out
    if n > m:
        return _cutoff_fit(m, plan.window) * _F32(m) / _F32(n)
    return _cutoff_fit(n, plan.window)


def filter_taps(plan: Plan) -> np.ndarray:
    """The N-tap windowed sinc of rubato (float32, sum 1), peak at tap N / 2."""
    n = plan.block_in
    w = window(n, plan.window)
    v = (np.arange(n, dtype=_F32) - _F32(n // 2)) * cutoff(plan)
    arg = v * _F32(np.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        # sin in float64 rounded to float32 is the correctly rounded float32 sin.
        s = np.sin(arg.astype(np.float64)).astype(_F32) / arg
    s[v == 0] = _F32(1.0)
    val = w * s
    # rubato sums sequentially in float32; cumsum is sequential, sum() is pairwise.
    total = np.cumsum(val, dtype=_F32)[-1]
    return val / total


@functools.lru_cache(maxsize=32)
def filter_spectrum(plan: Plan) -> np.ndarray:
    """The first ``min(N + 1, M)`` bins (complex128) of the filter's 2N-point
    spectrum, scaled like rubato's (taps divided by 2N): rubato's transforms are
    unnormalised, like ``rfft`` and ``irfft(..., norm="forward")``.

    Computed once per plan (cached) and returned read-only: every numpy stream
    of the same rates and preset shares it.
    """
    n, m = plan.block_in, plan.block_out
    taps = filter_taps(plan) / _F32(2 * n)
    spec = np.fft.rfft(taps.astype(np.float64), n=2 * n)
    used = n + 1 if n < m else m
    spec = spec[:used].copy()
    spec.flags.writeable = False
    return spec
