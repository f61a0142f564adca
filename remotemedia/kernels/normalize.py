"""Frame normalisation: uint8 (height, width, channels) -> float32 (channels, height, width).

The standard preprocessing before a vision model: scale the pixels to [0, 1],
subtract a per-channel mean and divide by a per-channel standard deviation
(both in units of that [0, 1] scale, e.g. ImageNet's mean (0.485, 0.456, 0.406)
and std (0.229, 0.224, 0.225)), and move the channels first.

Arithmetic, identical bit for bit in the numpy and the native implementation:

- per channel, ``scale = float32(1 / (255 * std))`` and
  ``offset = float32(-mean / std)``, both computed in float64, then rounded;
- per pixel, ``y = float32(float32(x) * scale)``, then
  ``y = float32(y + offset)``: two IEEE float32 operations in that order, never
  fused into one multiply-add (numpy: ``np.multiply`` then ``np.add``; Rust:
  ``*`` then ``+``, which the compiler does not contract).

``y`` differs from the float64 value ``(x / 255 - mean) / std`` by a few float32
ulps at most (two roundings of the coefficients and two of the arithmetic).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels.select import impl_table

Stats = Union[float, Sequence[float], np.ndarray]

#: Output elements per block of the numpy implementation (stays in L2 between
#: the multiply and the add).
_BLOCK_ELEMENTS = 1 << 15


def coefficients(mean: Stats, std: Stats, num_channels: int, *,
                 node_id: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, offset)`` of :func:`normalize_frame`, float32 arrays of ``num_channels``.

    Args:
        mean: one number for every channel or one per channel, in [0, 1] pixel units.
        std: same shape rules; every value finite and > 0.
        num_channels: channels of the frame.
        node_id: named in errors.

    Raises:
        KernelInputError: wrong count, non-finite value or std <= 0.
    """
    m = _per_channel(mean, "mean", num_channels, node_id)
    s = _per_channel(std, "std", num_channels, node_id)
    if not all(v > 0 for v in s):
        raise KernelInputError("std", "values > 0", _show(s), node_id=node_id)
    with np.errstate(over="ignore"):  # an overflow to inf is reported just below
        scale = np.array([1.0 / (255.0 * v) for v in s], dtype=np.float64).astype(np.float32)
        offset = np.array([-a / b for a, b in zip(m, s)], dtype=np.float64).astype(np.float32)
    if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
        raise KernelInputError("mean/std", "coefficients finite in float32", f"mean {_show(m)}, std {_show(s)}",
                               node_id=node_id)
    return scale, offset


def _show(values: Sequence[float]) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"


def _per_channel(value: Stats, parameter: str, num_channels: int, node_id: Optional[str]) -> Tuple[float, ...]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelInputError(parameter, "a number or a sequence of numbers", repr(value), node_id=node_id) from exc
    if arr.ndim == 0:
        arr = np.full(num_channels, float(arr))
    if arr.ndim != 1 or arr.size != num_channels:
        raise KernelInputError(parameter, f"one number or {num_channels} (one per channel)", repr(value),
                               node_id=node_id)
    if not np.isfinite(arr).all():
        raise KernelInputError(parameter, "finite values", repr(value), node_id=node_id)
    return tuple(float(v) for v in arr)


def check_frame(frame: np.ndarray, parameter: str = "frame", node_id: Optional[str] = None) -> np.ndarray:
    """Returns ``frame`` viewed as (height, width, channels) uint8 ((height, width) gets one channel)."""
    if not isinstance(frame, np.ndarray):
        raise KernelInputError(parameter, "a numpy.ndarray", type(frame).__name__, node_id=node_id)
    if frame.dtype != np.uint8:
        raise KernelInputError(parameter, "dtype uint8", frame.dtype, node_id=node_id)
    if frame.ndim == 2:
        return frame[:, :, np.newaxis]
    if frame.ndim != 3 or frame.shape[2] < 1:
        raise KernelInputError(parameter, "shape (height, width, channels) or (height, width)", frame.shape,
                               node_id=node_id)
    return frame


def normalize_frame(
    frame: np.ndarray,
    mean: Stats,
    std: Stats,
    *,
    out: Optional[np.ndarray] = None,
    impl: Optional[str] = None,
) -> np.ndarray:
    """Normalises one frame: ``(pixel / 255 - mean) / std``, channels first.

    Args:
        frame: uint8 array (height, width, channels), or (height, width) for
            one plane. Read, never written; a read-only or memory-mapped frame
            will do. A non-contiguous frame (a crop, say) is copied once before
            the native implementation runs.
        mean: per-channel means in [0, 1] pixel units (one number or one per channel).
        std: per-channel standard deviations, same rules, > 0.
        out: optional float32 C-contiguous writeable array (channels, height,
            width), not overlapping ``frame``, to write into.
        impl: ``"python"``, ``"native"`` or None for the default implementation.

    Returns:
        float32 array (channels, height, width) (``out`` when given); a
        (height, width) frame gives (1, height, width).

    Raises:
        KernelInputError: bad frame, mean, std or ``out``.
    """
    run = TABLE.select(impl)
    hwc = check_frame(frame)
    height, width, channels = hwc.shape
    scale, offset = coefficients(mean, std, channels)
    shape = (channels, height, width)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise KernelInputError("out", "a numpy.ndarray", type(out).__name__)
        if out.dtype != np.float32:
            raise KernelInputError("out", "dtype float32", out.dtype)
        if out.shape != shape:
            raise KernelInputError("out", f"shape {shape}", out.shape)
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise KernelInputError("out", "a C-contiguous writeable array", "a non-contiguous or read-only array")
        if np.shares_memory(out, hwc):
            raise KernelInputError("out", "an array not overlapping the frame", "an overlapping array")
    else:
        out = np.empty(shape, dtype=np.float32)
    if out.size == 0:
        return out
    run(hwc, scale, offset, out)
    return out


def _native_runner(mod: Any) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]:
    kernel = mod.normalize_u8_f32

    def run(hwc: np.ndarray, scale: np.ndarray, offset: np.ndarray, out: np.ndarray) -> None:
        src = np.ascontiguousarray(hwc)  # one copy, on purpose, only when not contiguous
        kernel(src.reshape(-1), hwc.shape[2], scale.tolist(), offset.tolist(), out.reshape(-1))

    return run


def _normalize_numpy(hwc: np.ndarray, scale: np.ndarray, offset: np.ndarray, out: np.ndarray) -> None:
    """Blocks of rows, per channel: multiply then add while the block is in cache."""
    height, width, channels = hwc.shape
    rows = max(1, _BLOCK_ELEMENTS // max(1, width))
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        block = hwc[r0:r1]
        for c in range(channels):
            o = out[c, r0:r1]
            np.multiply(block[:, :, c], scale[c], out=o, dtype=np.float32)
            np.add(o, offset[c], out=o)


#: The implementations of the ``normalize`` family: ``run(hwc, scale, offset, out)``, arguments checked.
TABLE = impl_table("normalize", python=_normalize_numpy, native=_native_runner)
