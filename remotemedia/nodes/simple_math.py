"""Arithmetic nodes of remotemedia 1.x (``MultiplyNode``, ``AddNode``).

Both work on a number, element-wise on a list (or tuple) of numbers, and on
numpy arrays (broadcasting); they never mutate their input.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node


def _apply(data: Any, fn: Any) -> Any:
    if isinstance(data, (list, tuple)):
        return type(data)(fn(x) for x in data)
    return fn(data)


@register_node
class MultiplyNode(Node):
    """Multiplies its input by ``factor``.

    Args:
        factor: the multiplier.
        name: node id.
    """

    def __init__(self, factor: Union[int, float] = 2.0, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.factor = factor

    def process(self, data: Any) -> Any:
        factor = self.factor
        return _apply(data, lambda x: x * factor)


@register_node
class AddNode(Node):
    """Adds ``addend`` to its input.

    Args:
        addend: the number added.
        name: node id.
    """

    def __init__(self, addend: Union[int, float] = 0.0, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.addend = addend

    def process(self, data: Any) -> Any:
        addend = self.addend
        return _apply(data, lambda x: x + addend)
