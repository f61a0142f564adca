"""remotemedia 1.x import paths: ``remotemedia.core.pipeline.Pipeline``, ``remotemedia.core.node.Node``."""

from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline

__all__ = ["Node", "Pipeline"]
