"""remotemedia 1.x import paths: ``remotemedia.core.pipeline.Pipeline``, ``remotemedia.core.node.Node``.

``Node`` and ``Pipeline`` are the package's own classes (:class:`remotemedia.nodes.base.Node`,
:class:`remotemedia.pipeline.Pipeline`), imported on first use so that the modules here can be
imported by the base classes themselves (:mod:`remotemedia.core.legacy`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Node", "Pipeline"]

_LAZY = {"Node": "remotemedia.core.node", "Pipeline": "remotemedia.core.pipeline"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'remotemedia.core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> Any:
    return sorted(set(globals()) | set(_LAZY))
