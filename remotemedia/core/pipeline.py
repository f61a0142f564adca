"""remotemedia 1.x import path of :class:`remotemedia.pipeline.Pipeline` (the same class)."""

from remotemedia.pipeline import Pipeline

__all__ = ["Pipeline"]
