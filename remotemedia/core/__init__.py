"""remotemedia 1.x import paths: ``remotemedia.core.pipeline.Pipeline``, ``remotemedia.core.node.Node``.

``Node`` and ``Pipeline`` are the package's own classes (:class:`remotemedia.nodes.base.Node`,
:class:`remotemedia.pipeline.Pipeline`), imported on first use so that the modules here can be
imported by the base classes themselves (:mod:`remotemedia.nodes.legacy`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Node", "Pipeline"]

def __getattr__(name: str) -> Any:
    if name == "Node":
        from remotemedia.core.node import Node

        return Node
    if name == "Pipeline":
        from remotemedia.core.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'remotemedia.core' has no attribute {name!r}")


def __dir__() -> Any:
    return sorted(set(globals()) | set(__all__))
