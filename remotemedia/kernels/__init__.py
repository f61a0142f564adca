"""Kernels: the hot loops, each in a numpy and a native implementation.

Each kernel family lives in its own module (``convert``, ...) and exposes the
same functions whatever implementation runs them. Which one runs is decided
here, from :mod:`remotemedia._native`, once per family at import time, and may
be overridden per call (``impl=``) or per node (``runtime_hint``).

``get("python")`` / ``get("native")`` return a :class:`KernelSet`: the public
kernel functions bound to one implementation (what tests and benchmarks use).
"""

from __future__ import annotations

import functools
from typing import Dict, Optional, Tuple

from remotemedia import _native
from remotemedia.errors import KernelInputError, NativeUnavailableError

IMPLS = ("python", "native")
RUNTIME_HINTS = ("auto", "native", "python", "rust")

#: Kernel family -> the compiled module's symbols it needs.
FAMILIES: Dict[str, Tuple[str, ...]] = {
    "convert": (
        "convert_i16_f32",
        "convert_i32_f32",
        "convert_f32_i16",
        "convert_f32_i32",
        "convert_f64_i16",
        "convert_f64_i32",
        "convert_f64_f32",
        "convert_i16_i32",
        "convert_i32_i16",
    ),
    "mix": ("mix_i16", "mix_i32", "mix_f32", "mix_f64"),
    "resample": ("resample_f32", "ResampleStream"),
    "webrtc_vad": ("WebRtcVad",),
    "energy_vad": ("energy_vad_frames",),
    "normalize": ("normalize_u8_f32",),
}


def native_missing_reason(family: str) -> Optional[str]:
    """Why ``family`` cannot run natively, or None when it can."""
    if family not in FAMILIES:
        raise KeyError(f"unknown kernel family {family!r}")
    mod = _native.module()
    if mod is None:
        return _native.STATUS.reason
    missing = [name for name in FAMILIES[family] if not hasattr(mod, name)]
    if missing:
        return f"{_native.MODULE_NAME} {_native.STATUS.version} has no {family} kernel ({', '.join(missing)})"
    return None


def normalize_hint(runtime_hint: str, *, node_id: Optional[str] = None) -> str:
    """Maps a ``runtime_hint`` to ``auto``/``native``/``python`` (``rust`` is ``native``)."""
    if not isinstance(runtime_hint, str) or runtime_hint.lower() not in RUNTIME_HINTS:
        raise KernelInputError("runtime_hint", "one of auto, native, python, rust", repr(runtime_hint), node_id=node_id)
    hint = runtime_hint.lower()
    return "native" if hint == "rust" else hint


@functools.cache
def _resolve_auto(family: str) -> Tuple[str, str]:
    reason = native_missing_reason(family)
    if reason is None:
        return "native", f"{_native.MODULE_NAME} {_native.STATUS.version} is installed"
    return "python", reason


def resolve_impl(family: str, runtime_hint: str = "auto", *, node_id: Optional[str] = None) -> Tuple[str, str]:
    """Chooses the implementation of ``family`` for a hint.

    Args:
        family: a key of :data:`FAMILIES`.
        runtime_hint: ``auto``, ``native`` (alias ``rust``) or ``python``.
        node_id: named in errors.

    Returns:
        ``(impl, why)``: ``impl`` is ``"native"`` or ``"python"``.

    Raises:
        NativeUnavailableError: ``native`` was asked for and cannot be used.
        KernelInputError: the hint is not one of the accepted values.
    """
    hint = normalize_hint(runtime_hint, node_id=node_id)
    if hint == "python":
        return "python", "runtime_hint='python'"
    if hint == "native":
        reason = native_missing_reason(family)
        if reason is not None:
            where = f"node {node_id!r}: " if node_id else ""
            raise NativeUnavailableError(
                f"{where}runtime_hint={runtime_hint!r} but native {family} is unavailable: {reason}"
            )
        return "native", f"runtime_hint={runtime_hint!r}"
    return _resolve_auto(family)


def check_impl(impl: Optional[str], family: str) -> str:
    """Validates an ``impl=`` argument of a kernel function (None = the default)."""
    if impl is None:
        return _resolve_auto(family)[0]
    if impl not in IMPLS:
        raise KernelInputError("impl", "'python' or 'native'", repr(impl))
    if impl == "native":
        reason = native_missing_reason(family)
        if reason is not None:
            raise NativeUnavailableError(f"impl='native' but native {family} is unavailable: {reason}")
    return impl


class KernelSet:
    """Every public kernel function bound to one implementation.

    Attributes:
        impl: ``"python"`` or ``"native"``.
    """

    def __init__(self, impl: str) -> None:
        from remotemedia.kernels import convert, mix, normalize, resample, vad

        if impl not in IMPLS:
            raise KernelInputError("impl", "'python' or 'native'", repr(impl))
        if impl == "native":
            for family in FAMILIES:
                check_impl("native", family)
        self.impl = impl
        self.convert_format = functools.partial(convert.convert_format, impl=impl)
        self.mix_to_mono = functools.partial(mix.mix_to_mono, impl=impl)
        self.resample = functools.partial(resample.resample, impl=impl)
        self.Resampler = functools.partial(resample.Resampler, impl=impl)
        self.webrtc_vad = functools.partial(vad.webrtc_vad, impl=impl)
        self.WebRtcVad = functools.partial(vad.WebRtcVad, impl=impl)
        self.energy_vad = functools.partial(vad.energy_vad, impl=impl)
        self.EnergyVad = functools.partial(vad.EnergyVad, impl=impl)
        self.normalize_frame = functools.partial(normalize.normalize_frame, impl=impl)

    def __repr__(self) -> str:
        return f"KernelSet(impl={self.impl!r})"


def get(impl: str) -> KernelSet:
    """The kernel functions bound to ``impl`` (``"python"`` or ``"native"``)."""
    return KernelSet(impl)
