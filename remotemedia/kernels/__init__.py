"""Kernels: the hot loops, each in a numpy and a native implementation.

This package is the ONE place that decides which implementation runs (in
:mod:`remotemedia.kernels.select`, re-exported here). At import it reads the
loader's status and the compiled module once, and records, per kernel family, whether native can run it and why not
(:func:`native_missing_reason`) and the default implementation
(:func:`default_impl`). Everything else asks here: node classes
(``Node.default_impl``), kernel nodes (``runtime_hint`` through
:func:`resolve_impl`), ``remotemedia info``, the metrics and the kernel
modules themselves.

Each kernel family lives in its own module (``convert``, ``mix``,
``resample``, ``vad``, ``normalize``) and builds its per-implementation
table at import with :func:`impl_table`: ``table["python"]``,
``table["native"]`` (present only when the compiled module has the family's
symbols) and ``table[None]`` (the default). A public kernel function takes
``impl=None|"python"|"native"`` and selects its implementation with one dict
lookup (:meth:`ImplTable.select`); a missing entry raises the errors
``impl=`` has always raised. Nodes select once, when they are built.

``get("python")`` / ``get("native")`` return a :class:`KernelSet`: the public
kernel functions bound to one implementation (what tests and benchmarks use).
"""

from __future__ import annotations

import functools

from remotemedia.errors import KernelInputError
from remotemedia.kernels.select import (  # noqa: F401  (the package's API)
    FAMILIES,
    IMPLS,
    RUNTIME_HINTS,
    ImplTable,
    default_impl,
    impl_table,
    native_missing_reason,
    normalize_hint,
    resolve_impl,
)


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
            for table in (convert.TABLE, mix.TABLE, resample.TABLE, vad.WEBRTC_TABLE,
                          vad.ENERGY_TABLE, normalize.TABLE):
                table.select("native")
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
