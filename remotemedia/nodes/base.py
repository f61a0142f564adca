"""The Node base class and the simplest built-in nodes.

A node's ``process`` may be a plain function, an ``async def`` or an async
generator. Nodes must not mutate their inputs: on fan-out every consumer gets
the same object.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional

from remotemedia.nodes.registry import register_node


class Node:
    """Base class of every pipeline node (remotemedia 1.x compatible).

    Args:
        name: the node's id in a pipeline (defaults to the class name).
        **kwargs: kept in ``self.config`` (1.x behaviour).

    Attributes:
        node_type: the registered type name (class attribute).
        kernel_family: the kernel family the node runs, or None.
        is_streaming: when True the node receives the whole input stream as an
            async iterator.
    """

    node_type: ClassVar[str] = "Node"
    kernel_family: ClassVar[Optional[str]] = None
    #: Implementation chosen for this node class at import time and why.
    default_impl: ClassVar[str] = "python"
    default_impl_reason: ClassVar[str] = "pure Python node (no kernel)"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kernel_family is not None:
            from remotemedia.kernels import resolve_impl

            cls.default_impl, cls.default_impl_reason = resolve_impl(cls.kernel_family, "auto")

    def __init__(self, name: Optional[str] = None, **kwargs: Any) -> None:
        self.name = name or type(self).__name__
        self.config: Dict[str, Any] = dict(kwargs)
        self.is_streaming = bool(kwargs.get("is_streaming", False))
        self._is_initialized = False

    @property
    def id(self) -> str:
        """The node's id (its name)."""
        return self.name

    @property
    def is_initialized(self) -> bool:
        return self._is_initialized

    def initialize(self) -> None:
        """Acquires resources before the first ``process`` call."""
        self._is_initialized = True

    def cleanup(self) -> None:
        """Releases resources after the last ``process`` call."""
        self._is_initialized = False

    def process(self, data: Any) -> Any:
        """Processes one input item and returns the output item."""
        raise NotImplementedError(f"{type(self).__name__}.process")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


@register_node
class PassThroughNode(Node):
    """Returns its input unchanged (the same object)."""

    def process(self, data: Any) -> Any:
        return data
