"""Channel mix-down to mono: the mean of the channels of every frame.

Rules, identical bit for bit in the numpy and the native implementation:

- int16/int32: the exact mean, rounded half to even, in the input's dtype.
  The sum of the channels is exact (int32 for int16, int64 for int32, since
  there are at most 1024 channels). With a power-of-two channel count the
  rounding is done with integer shifts, otherwise as ``np.rint(sum / C)`` in
  float64: the same integer, because the sum is exact in float64 and the
  exact quotient is either a representable half-integer or at least 1/(2C)
  away from every half-integer, far more than the division's error (half an
  ulp of a value below 2^31). So both equal
  ``np.rint(x.mean(axis=0, dtype=np.float64))``, what
  :meth:`remotemedia.audio.AudioBuffer.to_mono` computed before this kernel.
- float32/float64: ``+0.0 + channel 0 + channel 1 + ... + channel C-1``
  summed in float64 in that order, divided by C in float64, cast to the input
  dtype (round to nearest). That is numpy's ``x.mean(axis=0,
  dtype=np.float64)`` except when the channel axis is the contiguous one and
  C >= 8, where numpy sums the channels pairwise (last-bit differences);
  NaN and inf propagate (NaN payloads are not part of the contract).
- one channel: the input array itself is returned (no copy).

The native kernel reads planar (C-contiguous) input and the transpose of
interleaved data (``x.T`` C-contiguous, as PCM readers give) in place; any
other strides are copied once into a C-contiguous array first.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels.select import impl_table
from remotemedia.validate import MAX_MIX_CHANNELS

#: The largest channel count accepted (the native kernel's ``MIX_MAX_CHANNELS``).
MAX_CHANNELS = MAX_MIX_CHANNELS

_CODE = {np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.float32): "f32",
         np.dtype(np.float64): "f64"}
#: The exact accumulator of each integer dtype.
_ACC = {np.dtype(np.int16): np.dtype(np.int32), np.dtype(np.int32): np.dtype(np.int64)}

# Frames per block in the numpy implementation: the accumulator stays in cache.
_BLOCK = 1 << 14


class MixKernel:
    """Mix-down bound to one implementation (an entry of :data:`TABLE`).

    :meth:`mix` trusts its argument (checked by :func:`mix_to_mono` or held in
    a validated :class:`~remotemedia.audio.AudioBuffer`).

    Attributes:
        impl: ``"python"`` or ``"native"``.
    """

    __slots__ = ("impl", "_fns")

    def __init__(self, impl: str, native: Optional[Dict[np.dtype, Callable[..., Any]]] = None) -> None:
        self.impl = impl
        self._fns = native

    def mix(self, samples: np.ndarray) -> np.ndarray:
        """Mixes (channels, frames) of 1 to 1024 channels and a sample dtype down to (1, frames), unchecked.

        One channel returns the input itself (see :func:`mix_to_mono` for the rules).
        """
        channels, frames = samples.shape
        if channels == 1:
            return samples
        out = np.empty((1, frames), dtype=samples.dtype)
        if self._fns is not None:
            if samples.flags.c_contiguous:
                flat, interleaved = samples.reshape(-1), False
            elif samples.T.flags.c_contiguous:
                flat, interleaved = samples.T.reshape(-1), True
            else:
                flat, interleaved = np.ascontiguousarray(samples).reshape(-1), False  # one copy, on purpose
            self._fns[samples.dtype](flat, channels, interleaved, out.reshape(-1))
        elif samples.dtype.kind == "f":
            # Overflow to inf and inf + -inf = NaN are IEEE results by the contract, not accidents.
            with np.errstate(invalid="ignore", over="ignore"):
                _mix_float(samples, out[0])
        else:
            _mix_int(samples, out[0])
        return out


#: The implementations of the ``mix`` family (see :func:`remotemedia.kernels.impl_table`).
TABLE = impl_table(
    "mix",
    python=MixKernel("python"),
    native=lambda mod: MixKernel("native", {dtype: getattr(mod, f"mix_{code}") for dtype, code in _CODE.items()}),
)


def check_mix_input(samples: Any) -> np.ndarray:
    """Validates the input of :func:`mix_to_mono`; returns it."""
    if not isinstance(samples, np.ndarray):
        raise KernelInputError("samples", "a numpy.ndarray", type(samples).__name__)
    if samples.dtype not in _CODE:
        raise KernelInputError("samples", "dtype int16, int32, float32 or float64", samples.dtype)
    if samples.ndim != 2:
        raise KernelInputError("samples", "shape (channels, frames)", samples.shape)
    channels = samples.shape[0]
    if not 1 <= channels <= MAX_CHANNELS:
        raise KernelInputError("samples", f"1 to {MAX_CHANNELS} channels", f"{channels} channels")
    return samples


def mix_to_mono(samples: np.ndarray, *, impl: Optional[str] = None) -> np.ndarray:
    """Mixes every channel down to one: the mean of the channels of each frame.

    Args:
        samples: array shaped (channels, frames), 1 to 1024 channels, dtype
            int16, int32, float32 or float64; any strides (planar and the
            transpose of interleaved data are read in place).
        impl: ``"python"``, ``"native"`` or None for the default implementation.

    Returns:
        An array shaped (1, frames) of the input's dtype: integer input gives
        the mean rounded half to even, float input the float64 mean cast to
        the input's dtype (see the module doc for the exact order). A
        one-channel input is returned as is (the same object).

    Raises:
        KernelInputError: not an array, another dtype, not 2-D, or a channel
            count outside 1 to 1024.
    """
    kernel = TABLE.select(impl)
    return kernel.mix(check_mix_input(samples))


def _mix_int(x: np.ndarray, out: np.ndarray) -> None:
    channels, frames = x.shape
    acc_dtype = _ACC[x.dtype]
    shift = channels.bit_length() - 1 if channels & (channels - 1) == 0 else None
    acc = np.empty(min(_BLOCK, frames), dtype=acc_dtype)
    tmp = np.empty_like(acc)
    for start in range(0, frames, _BLOCK):
        stop = min(start + _BLOCK, frames)
        s = acc[: stop - start]
        np.add(x[0, start:stop], x[1, start:stop], out=s, dtype=acc_dtype)
        for c in range(2, channels):
            np.add(s, x[c, start:stop], out=s)
        if shift is not None:
            # floor(s / 2^k), plus one when the remainder is above half, or
            # exactly half and the floor is odd (ties to even).
            t = tmp[: s.size]
            half = 1 << (shift - 1)
            np.bitwise_and(s, (1 << shift) - 1, out=t)  # remainder, 0 <= t < 2^k
            np.right_shift(s, shift, out=s)  # floor
            if shift == 1:
                np.bitwise_and(t, s, out=t)  # remainder 1 (a tie) and an odd floor
            else:
                up = (t > half) | ((t == half) & ((s & 1) == 1))
                t[...] = up
            np.add(s, t, out=s)
            np.copyto(out[start:stop], s, casting="unsafe")
        else:
            np.copyto(out[start:stop], np.rint(s / float(channels)), casting="unsafe")


def _mix_float(x: np.ndarray, out: np.ndarray) -> None:
    channels, frames = x.shape
    acc = np.empty(min(_BLOCK, frames), dtype=np.float64)
    for start in range(0, frames, _BLOCK):
        stop = min(start + _BLOCK, frames)
        s = acc[: stop - start]
        s.fill(0.0)  # +0.0 first: a sum of -0.0 only is +0.0, as in numpy's mean
        for c in range(channels):
            np.add(s, x[c, start:stop], out=s)
        np.divide(s, float(channels), out=s)
        np.copyto(out[start:stop], s, casting="unsafe")
