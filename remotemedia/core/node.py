"""remotemedia 1.x import path of :class:`remotemedia.nodes.base.Node` (the same class)."""

from remotemedia.nodes.base import Node, PassThroughNode

__all__ = ["Node", "PassThroughNode"]
