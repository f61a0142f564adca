"""The remotemedia 1.x runtime probes: ``try_load_rust_runtime``, ``is_rust_runtime_available``, ``get_rust_runtime``.

Answered from :mod:`remotemedia._native` (the one loader of the compiled module, which honours
``REMOTEMEDIA_IMPL``), so they agree with ``remotemedia.info()`` and with every node's choice.
Importable from the package top level (``from remotemedia import is_rust_runtime_available``).
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Optional, Tuple

from remotemedia import _native


def try_load_rust_runtime() -> Tuple[bool, Optional[ModuleType], Optional[str]]:
    """``(loaded, module, reason)``: ``(True, remotemedia_runtime, None)`` when the native
    implementation is in use, else ``(False, None, why not)``. Never raises, never warns."""
    mod = _native.module()
    if mod is not None:
        return True, mod, None
    return False, None, _native.STATUS.reason


def is_rust_runtime_available() -> bool:
    """Whether the compiled module is in use; like 1.x, warns (``UserWarning``) when it is not."""
    ok, _, reason = try_load_rust_runtime()
    if not ok:
        warnings.warn(f"Rust runtime unavailable, the numpy implementation is used (same results, slower). "
                      f"Reason: {reason}", UserWarning, stacklevel=2)
    return ok


def get_rust_runtime() -> Optional[ModuleType]:
    """The compiled module ``remotemedia_runtime`` when in use, else None (with 1.x's warning)."""
    ok, mod, reason = try_load_rust_runtime()
    if not ok:
        warnings.warn(f"Rust runtime unavailable, the numpy implementation is used (same results, slower). "
                      f"Reason: {reason}", UserWarning, stacklevel=2)
    return mod
