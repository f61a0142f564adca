"""remotemedia: audio/ML preprocessing pipelines with an optional Rust accelerator.

Importing this package stays light (numpy; pydantic only where manifests are used); the
implementation (native or numpy) is chosen once, here, by
:mod:`remotemedia._native` from ``REMOTEMEDIA_IMPL``.
"""

from __future__ import annotations

from remotemedia import _native
from remotemedia._version import __version__
from remotemedia.info import Info, info

#: ``"native"`` or ``"python"``: the default implementation of kernels.
__impl__ = _native.STATUS.impl

__all__ = ["__version__", "__impl__", "info", "Info"]
