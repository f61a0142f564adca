"""Which implementation runs each kernel family: decided here once, at import (see :mod:`remotemedia.kernels`).

The kernel modules build their per-implementation tables with :func:`impl_table`
from this module; :mod:`remotemedia.kernels` re-exports everything here.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

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

T = TypeVar("T")


def _missing_at_import(family: str) -> Optional[str]:
    mod = _native.module()
    if mod is None:
        return _native.STATUS.reason
    missing = [name for name in FAMILIES[family] if not hasattr(mod, name)]
    if missing:
        return f"{_native.MODULE_NAME} {_native.STATUS.version} has no {family} kernel ({', '.join(missing)})"
    return None


#: Family -> why native cannot run it (None: it can). Decided once, here.
_NATIVE_MISSING: Dict[str, Optional[str]] = {family: _missing_at_import(family) for family in FAMILIES}
_INSTALLED = f"{_native.MODULE_NAME} {_native.STATUS.version} is installed"


def native_missing_reason(family: str) -> Optional[str]:
    """Why ``family`` cannot run natively, or None when it can."""
    try:
        return _NATIVE_MISSING[family]
    except KeyError:
        raise KeyError(f"unknown kernel family {family!r}") from None


def default_impl(family: str) -> Tuple[str, str]:
    """``(impl, why)``: the implementation ``family`` runs by default (``runtime_hint="auto"``)."""
    reason = native_missing_reason(family)
    return ("native", _INSTALLED) if reason is None else ("python", reason)


def normalize_hint(runtime_hint: str, *, node_id: Optional[str] = None) -> str:
    """Maps a ``runtime_hint`` to ``auto``/``native``/``python`` (``rust`` is ``native``)."""
    if not isinstance(runtime_hint, str) or runtime_hint.lower() not in RUNTIME_HINTS:
        raise KernelInputError("runtime_hint", "one of auto, native, python, rust", repr(runtime_hint), node_id=node_id)
    hint = runtime_hint.lower()
    return "native" if hint == "rust" else hint


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
    return default_impl(family)


class ImplTable(Dict[Optional[str], T]):
    """One kernel family's implementations: ``"python"``, ``"native"`` (when available), None = the default.

    Looking up an implementation that is not there raises what ``impl=`` of a
    kernel function has always raised: :class:`KernelInputError` for a value
    other than ``"python"``/``"native"``, :class:`NativeUnavailableError`
    (naming the family and why) for ``"native"`` when it cannot run.

    Attributes:
        family: the kernel family (a key of :data:`FAMILIES`).
    """

    def __init__(self, family: str, entries: Dict[Optional[str], T]) -> None:
        super().__init__(entries)
        self.family = family

    def __missing__(self, impl: Any) -> T:
        if impl not in IMPLS:
            raise KernelInputError("impl", "'python' or 'native'", repr(impl))
        raise NativeUnavailableError(
            f"impl='native' but native {self.family} is unavailable: {_NATIVE_MISSING[self.family]}")

    def select(self, impl: Any) -> T:
        """The implementation for an ``impl=`` argument (None = the default): one dict lookup."""
        try:
            return self[impl]
        except TypeError:  # an unhashable value: not one of the names either
            raise KernelInputError("impl", "'python' or 'native'", repr(impl)) from None


def impl_table(family: str, python: T, native: Callable[[Any], T]) -> "ImplTable[T]":
    """Builds ``family``'s table once, at import of its kernel module.

    Args:
        family: a key of :data:`FAMILIES`.
        python: the numpy implementation.
        native: called with the compiled module when native can run ``family``
            (see :func:`native_missing_reason`); returns the native implementation.
    """
    entries: Dict[Optional[str], T] = {"python": python}
    if _NATIVE_MISSING[family] is None:
        entries["native"] = native(_native.module())
    entries[None] = entries[default_impl(family)[0]]
    return ImplTable(family, entries)
