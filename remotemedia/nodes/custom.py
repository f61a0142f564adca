"""remotemedia 1.x ``StatefulCounter``: a streaming node that counts the items of its stream."""

from __future__ import annotations

from typing import Any, AsyncIterator, Optional, Tuple

from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["StatefulCounter"]


@register_node
class StatefulCounter(Node):
    """Yields ``(value,)`` for each item of its stream, starting at ``initial_value`` (1.x).

    The count is kept across streams (state of the node), as in 1.x; the item itself is ignored.
    1.x slept 10 ms per item to simulate work; this one does not.
    """

    def __init__(self, initial_value: int = 0, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.value = initial_value
        self.is_streaming = True

    async def process(self, data_stream: Any) -> AsyncIterator[Tuple[int]]:  # type: ignore[override]
        async for _ in data_stream:
            yield (self.value,)
            self.value += 1
