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

__all__ = ["__version__", "__impl__", "info", "Info", "Pipeline", "Node", "run_batch",
           # remotemedia 1.x names (imported on first use)
           "try_load_rust_runtime", "is_rust_runtime_available", "get_rust_runtime", "RemoteExecutorConfig",
           "RemoteMediaError", "PipelineError", "NodeError", "RemoteExecutionError", "WebRTCError"]

#: Attributes imported on first use (PEP 562), so ``import remotemedia`` stays light.
_LAZY = {
    "Pipeline": "remotemedia.pipeline", "Node": "remotemedia.nodes.base", "run_batch": "remotemedia.batch",
    "try_load_rust_runtime": "remotemedia.core.runtime", "is_rust_runtime_available": "remotemedia.core.runtime",
    "get_rust_runtime": "remotemedia.core.runtime", "RemoteExecutorConfig": "remotemedia.nodes.legacy",
    "RemoteMediaError": "remotemedia.errors", "PipelineError": "remotemedia.errors", "NodeError": "remotemedia.errors",
    "RemoteExecutionError": "remotemedia.core.exceptions", "WebRTCError": "remotemedia.core.exceptions",
}


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'remotemedia' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():  # type: ignore[no-untyped-def]
    return sorted(set(globals()) | set(_LAZY))
