"""remotemedia 1.x I/O nodes: feed a running pipeline from outside, collect what it gives.

- :class:`DataSourceNode`: a source; ``await node.push_data(x)`` from your code, ``await
  node.close()`` to end the stream.
- :class:`DataSinkNode`: passes items on and hands each to a callback, a buffer or a queue.
- :class:`BidirectionalNode`: both, with an optional callback between (request/response).
- :class:`JavaScriptBridgeNode`: applies optional input/output transforms (1.x's bridge to
  its JavaScript client; here a plain transform node).

They take Python callables and queues, so they are used from Python, not named in manifests.
Pushing is safe from any thread or event loop. Differences from 1.x: a callback that raises
fails the node (1.x logged the error and dropped the item).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import threading
import time
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Tuple

from remotemedia.errors import ConfigurationError
from remotemedia.nodes.base import Node

__all__ = ["DataSourceNode", "DataSinkNode", "BidirectionalNode", "JavaScriptBridgeNode"]

_END = object()
_TIMEOUT = object()


def _check_size(node: Node, value: Any, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"node {node.name!r}: {parameter}: expected an int >= 1, given {value!r}",
                                 node_id=node.name, parameter=parameter, expected="an int >= 1", given=value)
    return value


class _Inbox:
    """A bounded FIFO that producers in any thread or loop feed and one async consumer drains."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.items: Deque[Any] = collections.deque()
        self.closed = False
        self._lock = threading.Lock()
        self._waiter: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Event]] = None

    def put(self, item: Any) -> bool:
        with self._lock:
            if self.closed or len(self.items) >= self.maxsize:
                return False
            self.items.append(item)
            waiter = self._waiter
        self._wake(waiter)
        return True

    def close(self) -> None:
        with self._lock:
            self.closed = True
            waiter = self._waiter
        self._wake(waiter)

    @staticmethod
    def _wake(waiter: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        if waiter is None:
            return
        loop, event = waiter
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    async def get(self, timeout_s: Optional[float]) -> Any:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        while True:
            with self._lock:
                if self.items:
                    self._waiter = None
                    return self.items.popleft()
                if self.closed:
                    self._waiter = None
                    return _END
                event.clear()
                self._waiter = (loop, event)
            try:
                await asyncio.wait_for(event.wait(), timeout_s)
            except asyncio.TimeoutError:
                return _TIMEOUT


async def _call(fn: Callable[[Any], Any], data: Any) -> Any:
    result = fn(data)
    if inspect.isawaitable(result):
        result = await result
    return result


class DataSourceNode(Node):
    """A source fed from outside the pipeline (remotemedia 1.x).

    Args:
        buffer_size: items held before ``push_data`` refuses (returns False).
        timeout_seconds: the stream ends after this long without data.
        name: node id.

    ``process()`` is an async generator of the pushed items, in order, until :meth:`close` or
    ``timeout_seconds`` without data.
    """

    input_types: Dict[str, str] = {}

    def __init__(self, buffer_size: int = 100, timeout_seconds: float = 30.0, name: Optional[str] = None) -> None:
        super().__init__(name=name or "DataSourceNode")
        self.buffer_size = _check_size(self, buffer_size, "buffer_size")
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or timeout_seconds <= 0:
            raise ConfigurationError(f"node {self.name!r}: timeout_seconds: expected a number > 0, given "
                                     f"{timeout_seconds!r}", node_id=self.name, parameter="timeout_seconds",
                                     expected="> 0", given=timeout_seconds)
        self.timeout_seconds = float(timeout_seconds)
        self.is_source = True
        self.is_streaming = True
        self._inbox = _Inbox(self.buffer_size)
        self._last_data_time = time.monotonic()

    async def push_data(self, data: Any) -> bool:
        """Queues ``data`` for the pipeline; False when the node is closed or its buffer is full."""
        accepted = self._inbox.put(data)
        if accepted:
            self._last_data_time = time.monotonic()
        return accepted

    async def close(self) -> None:
        """Ends the stream once the queued items are out."""
        self._inbox.close()

    async def process(self, input_data: Any = None) -> AsyncIterator[Any]:  # type: ignore[override]
        while True:
            item = await self._inbox.get(self.timeout_seconds)
            if item is _END:
                return
            if item is _TIMEOUT:
                if time.monotonic() - self._last_data_time >= self.timeout_seconds:
                    return
                continue
            yield item

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "buffer_size": self.buffer_size, "timeout_seconds": self.timeout_seconds,
                "is_source": True, "is_streaming": True}


class DataSinkNode(Node):
    """Passes every item on and hands it to ``callback``, a bounded buffer and/or a queue (1.x).

    Args:
        callback: called (or awaited) with each item.
        buffer_output: keep the last ``buffer_size`` items (:meth:`get_buffered_output`).
        buffer_size: size of that buffer.
        name: node id.
    """

    def __init__(self, callback: Optional[Callable[[Any], Any]] = None, buffer_output: bool = False,
                 buffer_size: int = 100, name: Optional[str] = None) -> None:
        super().__init__(name=name or "DataSinkNode")
        self.callback = callback
        self.buffer_output = bool(buffer_output)
        self.buffer_size = _check_size(self, buffer_size, "buffer_size")
        self.is_sink = True
        self.output_buffer: Optional[Deque[Any]] = collections.deque(maxlen=self.buffer_size) if buffer_output \
            else None
        self._output_queue: Optional[asyncio.Queue] = None
        self._total_processed = 0

    def set_output_queue(self, queue: asyncio.Queue) -> None:
        """Also put every item on ``queue``."""
        self._output_queue = queue

    def set_callback(self, callback: Callable[[Any], Any]) -> None:
        self.callback = callback

    async def process(self, data: Any) -> Any:
        self._total_processed += 1
        if self.output_buffer is not None:
            self.output_buffer.append(data)
        if self._output_queue is not None:
            await self._output_queue.put(data)
        if self.callback is not None:
            await _call(self.callback, data)
        return data

    def get_buffered_output(self) -> List[Any]:
        """The buffered items, oldest first ([] without ``buffer_output``)."""
        return list(self.output_buffer) if self.output_buffer is not None else []

    def clear_buffer(self) -> None:
        if self.output_buffer is not None:
            self.output_buffer.clear()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "buffer_output": self.buffer_output, "buffer_size": self.buffer_size,
                "is_sink": True, "total_processed": self._total_processed}


class BidirectionalNode(Node):
    """Source and sink at once: pushed inputs go through ``process_callback`` and come out (1.x).

    Args:
        process_callback: called (or awaited) with each input; None passes inputs through; a
            None result is dropped.
        buffer_size: capacity of the input and output buffers.
        name: node id.

    ``await push_input(x)`` feeds it, ``await pull_output(timeout)`` takes a result (also yielded
    by ``process()``), ``await close()`` ends it.
    """

    input_types: Dict[str, str] = {}

    def __init__(self, process_callback: Optional[Callable[[Any], Any]] = None, buffer_size: int = 100,
                 name: Optional[str] = None) -> None:
        super().__init__(name=name or "BidirectionalNode")
        self.process_callback = process_callback
        self.buffer_size = _check_size(self, buffer_size, "buffer_size")
        self.is_source = True
        self.is_sink = True
        self.is_streaming = True
        self._inputs = _Inbox(self.buffer_size)
        self._outputs = _Inbox(self.buffer_size)

    async def push_input(self, data: Any) -> bool:
        """Queues an input; False when closed or full."""
        return self._inputs.put(data)

    async def pull_output(self, timeout: Optional[float] = None) -> Optional[Any]:
        """The next result, or None after ``timeout`` seconds (or once closed and drained)."""
        item = await self._outputs.get(timeout)
        return None if item is _END or item is _TIMEOUT else item

    async def close(self) -> None:
        self._inputs.close()

    async def process(self, input_data: Any = None) -> AsyncIterator[Any]:  # type: ignore[override]
        if input_data is not None:
            self._inputs.put(input_data)
        try:
            while True:
                item = await self._inputs.get(None)
                if item is _END:
                    return
                result = item if self.process_callback is None else await _call(self.process_callback, item)
                if result is not None:
                    self._outputs.put(result)
                    yield result
        finally:
            self._outputs.close()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "buffer_size": self.buffer_size, "is_source": True, "is_sink": True,
                "is_streaming": True}


class JavaScriptBridgeNode(Node):
    """Applies ``transform_input`` then ``transform_output`` (each optional, sync or async) to every item (1.x)."""

    def __init__(self, transform_input: Optional[Callable[[Any], Any]] = None,
                 transform_output: Optional[Callable[[Any], Any]] = None, name: Optional[str] = None) -> None:
        super().__init__(name=name or "JavaScriptBridgeNode")
        self.transform_input = transform_input
        self.transform_output = transform_output

    async def process(self, data: Any) -> Any:
        if self.transform_input is not None:
            data = await _call(self.transform_input, data)
        if self.transform_output is not None:
            data = await _call(self.transform_output, data)
        return data

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "has_input_transform": self.transform_input is not None,
                "has_output_transform": self.transform_output is not None}
