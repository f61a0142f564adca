"""remotemedia 1.x data transforms: ``DataTransform``, ``FormatConverter``, ``TextTransformNode``.

1.x's ``DataTransform`` and ``FormatConverter`` were placeholders that returned their input;
they still do (pass-through nodes with their 1.x parameters), and say so. ``TextTransformNode``
applies a Python function, so it cannot be named in a manifest (a function is not JSON).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from remotemedia.errors import ConfigurationError
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["DataTransform", "FormatConverter", "TextTransformNode"]


@register_node
class DataTransform(Node):
    """Returns its input unchanged (1.x's generic transform had no behaviour; subclass it and override ``process``)."""

    def process(self, data: Any) -> Any:
        return data


@register_node
class FormatConverter(Node):
    """Returns its input unchanged (1.x placeholder; ``target_format`` is kept for 1.x scripts).

    For audio sample formats use :class:`remotemedia.nodes.audio.FormatConverterNode`.
    """

    def __init__(self, target_format: str = "json", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.target_format = target_format

    def process(self, data: Any) -> Any:
        return data


class TextTransformNode(Node):
    """Applies ``transform_func`` to text: a string, or the first element of a ``(text, ...)`` tuple (1.x).

    Other items pass through unchanged.
    """

    def __init__(self, transform_func: Callable[[str], str], name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not callable(transform_func):
            raise ConfigurationError(f"node {self.name!r}: transform_func: expected a function, given "
                                     f"{type(transform_func).__name__}", node_id=self.name,
                                     parameter="transform_func", expected="a callable", given=transform_func)
        self.transform_func = transform_func

    def process(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.transform_func(data)
        if isinstance(data, tuple) and data and isinstance(data[0], str):
            return (self.transform_func(data[0]),) + data[1:]
        return data
