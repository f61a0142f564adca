"""Sample format conversion between int16, int32 and float32 (float64 in).

Rules, identical bit for bit in the numpy and the native implementation:

- int -> float divides by 2^(bits-1) (int16: 32768, int32: 2^31);
- float -> int multiplies by 2^(bits-1) in the input's precision, rounds half
  to even, maps NaN to 0, clips to the integer range and counts the clipped
  samples (+-inf count as clipped);
- int16 -> int32 shifts left by 16 bits; int32 -> int16 divides by 65536,
  rounds half to even and clips;
- float64 -> float32 rounds to nearest;
- same format in: the input array itself is returned (no copy).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels.select import impl_table

FORMATS = {"i16": np.dtype(np.int16), "i32": np.dtype(np.int32), "f32": np.dtype(np.float32)}
_ALIASES = {
    "int16": "i16", "int32": "i32", "float32": "f32", "s16": "i16", "s32": "i32",
    "f32": "f32", "i16": "i16", "i32": "i32",
}
_INPUT_DTYPES = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float64))
_CODE = {np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
#: Every (source code, target code) pair that converts (same code in and out is a no-op).
_PAIRS = tuple((s, t) for s in ("i16", "i32", "f32", "f64") for t in FORMATS if s != t)

# Elements per block in the numpy implementation: small enough to stay in cache.
_BLOCK = 1 << 16


class Converted(NamedTuple):
    """Result of :func:`convert_format`.

    Attributes:
        samples: the converted array (same shape as the input).
        clipped: how many samples were out of the target range and clipped.
    """

    samples: np.ndarray
    clipped: int


def normalize_format(target_format: str, *, node_id: Optional[str] = None) -> str:
    """Maps a format name (``f32``/``float32``, ``i16``/``int16``, ``i32``/``int32``) to its short code."""
    key = target_format.lower() if isinstance(target_format, str) else None
    if key not in _ALIASES:
        raise KernelInputError("target_format", "one of 'f32', 'i16', 'i32'", repr(target_format), node_id=node_id)
    return _ALIASES[key]


class ConvertKernel:
    """Format conversion bound to one implementation (an entry of :data:`TABLE`).

    :meth:`convert` trusts its arguments: callers (:func:`convert_format`,
    nodes holding a validated :class:`~remotemedia.audio.AudioBuffer`) have
    checked them.

    Attributes:
        impl: ``"python"`` or ``"native"``.
    """

    __slots__ = ("impl", "_fns")

    def __init__(self, impl: str, fns: Dict[Tuple[str, str], Callable[[np.ndarray, np.ndarray], Any]]) -> None:
        self.impl = impl
        self._fns = fns

    def convert(self, samples: np.ndarray, target: str, out: Optional[np.ndarray] = None) -> Converted:
        """Converts without validating (see :func:`convert_format` for the rules).

        Args:
            samples: int16, int32, float32 or float64 array, any shape and strides.
            target: ``"f32"``, ``"i16"`` or ``"i32"`` (a short code).
            out: None, or a C-contiguous writeable array of the target dtype and
                the input's shape, not overlapping it.
        """
        src_code = _CODE[samples.dtype]
        if src_code == target:
            if out is None:
                return Converted(samples, 0)
            np.copyto(out, samples)
            return Converted(out, 0)
        src = np.ascontiguousarray(samples)  # one copy, on purpose, only when non-contiguous
        if out is None:
            out = np.empty(samples.shape, dtype=FORMATS[target])
        clipped = self._fns[src_code, target](src.reshape(-1), out.reshape(-1))
        return Converted(out, int(clipped))


def convert_format(
    samples: np.ndarray,
    target_format: str,
    *,
    out: Optional[np.ndarray] = None,
    impl: Optional[str] = None,
) -> Converted:
    """Converts audio samples to another sample format.

    Args:
        samples: array of int16, int32, float32 or float64, any shape (audio is
            (channels, frames)); a non-contiguous input is copied once.
        target_format: ``"f32"``, ``"i16"`` or ``"i32"`` (or ``float32`` ...).
        out: optional C-contiguous, writeable array of the target dtype and the
            input's shape to write into.
        impl: ``"python"``, ``"native"`` or None for the default implementation.

    Returns:
        ``Converted(samples, clipped)``. When the input already has the target
        format and no ``out`` is given, ``samples`` is the input object itself.

    Raises:
        KernelInputError: bad dtype, format or ``out``.
    """
    kernel = TABLE.select(impl)
    if not isinstance(samples, np.ndarray):
        raise KernelInputError("samples", "a numpy.ndarray", type(samples).__name__)
    if samples.dtype not in _INPUT_DTYPES:
        raise KernelInputError("samples", "dtype int16, int32, float32 or float64", samples.dtype)
    target = normalize_format(target_format)
    if out is not None:
        dst_dtype = FORMATS[target]
        if not isinstance(out, np.ndarray):
            raise KernelInputError("out", "a numpy.ndarray", type(out).__name__)
        if out.dtype != dst_dtype:
            raise KernelInputError("out", f"dtype {dst_dtype}", out.dtype)
        if out.shape != samples.shape:
            raise KernelInputError("out", f"shape {samples.shape}", out.shape)
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise KernelInputError("out", "a C-contiguous writeable array", "a non-contiguous or read-only array")
        if np.shares_memory(out, samples):
            raise KernelInputError("out", "an array not overlapping the input", "an overlapping array")
    return kernel.convert(samples, target, out)


def _convert_numpy(src: np.ndarray, out: np.ndarray, src_code: str, target: str) -> int:
    if target == "f32" and src_code in ("i16", "i32"):
        bits = 16 if src_code == "i16" else 32
        scale = np.float32(1.0 / (1 << (bits - 1)))
        np.multiply(src, scale, out=out, dtype=np.float32, casting="unsafe")
        return 0
    if target == "f32":  # f64 -> f32
        np.copyto(out, src, casting="unsafe")
        return 0
    if src_code == "i16":  # -> i32
        np.left_shift(src, 16, out=out, dtype=np.int32, casting="unsafe")
        return 0
    bits = 16 if target == "i16" else 32
    if src_code == "i32":  # -> i16, through exact float64
        return _float_to_int(src, out, bits, np.dtype(np.float64), scale=1.0 / 65536.0)
    return _float_to_int(src, out, bits, src.dtype, scale=float(1 << (bits - 1)))


def _float_to_int(src: np.ndarray, out: np.ndarray, bits: int, work: np.dtype, scale: float) -> int:
    """Scale, round half to even, NaN -> 0, clip; blockwise to stay in cache."""
    ftype = work.type
    hi = ftype(1 << (bits - 1))  # smallest float value above the integer range
    lo = ftype(-(1 << (bits - 1)))
    hi_below = np.nextafter(hi, ftype(0))
    imax = np.iinfo(out.dtype).max
    # An int max that the float type cannot hold (int32 max in float32) is set after the cast.
    fix_max = int(ftype(imax)) != imax
    scale_f = ftype(scale)
    buf = np.empty(min(_BLOCK, src.size), dtype=work)
    clipped = 0
    for start in range(0, src.size, _BLOCK):
        s = src[start : start + _BLOCK]
        t = buf[: s.size]
        np.multiply(s, scale_f, out=t, casting="unsafe")
        np.rint(t, out=t)
        high = t >= hi
        n_high = int(np.count_nonzero(high))
        clipped += n_high + int(np.count_nonzero(t < lo))
        nan = np.isnan(t)
        if nan.any():
            t[nan] = 0
        np.clip(t, lo, hi_below, out=t)
        o = out[start : start + _BLOCK]
        np.copyto(o, t, casting="unsafe")
        if fix_max and n_high:
            o[high] = imax
    return clipped


def _numpy_fn(src_code: str, target: str) -> Callable[[np.ndarray, np.ndarray], int]:
    if src_code in ("i16", "i32"):  # integer input: no NaN, no overflow, no warning to silence
        return functools.partial(_convert_numpy, src_code=src_code, target=target)

    def from_float(src: np.ndarray, out: np.ndarray) -> int:
        # Overflow to +-inf is part of the contract (clipped and counted), not an accident.
        with np.errstate(over="ignore", invalid="ignore"):
            return _convert_numpy(src, out, src_code, target)

    return from_float


#: The implementations of the ``convert`` family (see :func:`remotemedia.kernels.impl_table`).
TABLE = impl_table(
    "convert",
    python=ConvertKernel("python", {pair: _numpy_fn(*pair) for pair in _PAIRS}),
    native=lambda mod: ConvertKernel("native", {(s, t): getattr(mod, f"convert_{s}_{t}") for s, t in _PAIRS}),
)
