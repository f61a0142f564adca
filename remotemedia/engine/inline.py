"""The synchronous paths: a node's batch in one worker thread, a chain in one hop, a stream in one thread.

- :func:`run_batch` calls a sync node on a batch of inputs in a worker thread
  (the blocking entry of the attempt primitive): the results of the items that
  succeeded, and what stopped the batch: nothing, a :class:`Retry` (the
  backoff wait happens back on the event loop, not in the thread) or the final
  error (raised by the caller after it emitted the results, so no finished
  output is lost).
- :func:`run_chain` runs a chain of sync nodes over a list in one thread hop,
  node after node (what the scheduler does for such a chain, without a task,
  an inbox and a hop per node), until the end or until a node needs the event
  loop.
- :class:`InlineStream` runs a whole graph of sync nodes in the calling thread,
  one input at a time, for the synchronous entry points (``Pipeline.stream``,
  ``Pipeline.run_file``): no event loop, no task or queue per node. A chunk
  source is read ahead by one thread (bounded by ``queue_chunks``), so reading
  overlaps the computing. Outputs are yielded as soon as they exist.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from remotemedia.audio import AudioBuffer
from remotemedia.engine.attempts import NO_ARG, node_error
from remotemedia.engine.run import CHUNKS, INPUT_KEY, SINK, NodeRuntime, Run
from remotemedia.errors import NodeError, NodeExecutionError
from remotemedia.nodes.protocol import Outputs, abort_methods
from remotemedia.reliability import CLOSED, AttemptRecord

#: Result types that are never awaitable nor async iterators (skips the generic checks).
_PLAIN_TYPES = frozenset((type(None), bool, int, float, complex, str, bytes, bytearray, tuple, list, dict,
                          AudioBuffer))


def needs_loop(result: Any) -> bool:
    """Whether a sync call's result must be awaited or iterated on an event loop."""
    if type(result) in _PLAIN_TYPES:
        return False
    return hasattr(result, "__await__") or hasattr(result, "__anext__")


@dataclass
class Retry:
    """A batch stopped at ``index`` to wait ``delay_s`` before attempt ``attempt`` of that item."""

    index: int
    attempt: int
    delay_s: float
    history: List[AttemptRecord]


Stop = Union[None, Retry, NodeExecutionError]


# ------------------------------------------------------------ batches and chains
def run_batch(run: Run, rt: NodeRuntime, batch: List[Any], first_attempt: int = 1,
              first_history: Optional[List[AttemptRecord]] = None) -> Tuple[List[Any], Stop]:
    """Calls ``rt``'s sync function on each item of ``batch`` (in a worker thread).

    ``first_attempt``/``first_history`` continue the attempts of ``batch[0]``.
    Stops early when the run is cancelled.
    """
    results: List[Any] = []
    att = rt.attempts
    fn = rt.fn
    cancelled = run.cancelled.is_set
    retryable = rt.retryable
    perf_ns = time.perf_counter_ns
    try:
        if first_attempt == 1 and att.circuit_key is None:
            # The first attempt of each item, written out for the common case (a closed breaker or none):
            # Attempts.start and Attempts.succeeded inline, the hot path of every chain of sync nodes.
            breaker = att.breaker
            before, after = att.before_hooks, att.after_hooks
            run_id, node_id, node_type = att.run_id, att.node_id, att.node_type
            for index, item in enumerate(batch):
                if cancelled():
                    break
                if breaker is not None and breaker.state_unchecked != CLOSED:
                    att.start(item, 1, [])  # the breaker decides (a refusal raises, recorded)
                elif before:
                    for hook in before:
                        hook(run_id=run_id, node_id=node_id, node_type=node_type, attempt=1, item=item)
                t0 = perf_ns()
                try:
                    result = fn(item)
                except Exception as exc:
                    history: List[AttemptRecord] = []
                    delay = att.failed(exc, item, 1, history, breaker, t0, retryable=retryable)
                    return results, Retry(index, 2, delay, history)
                except BaseException:
                    att.interrupted(breaker)
                    raise
                results.append(result)
                if breaker is not None and (breaker.fail_counter or breaker.state_unchecked != CLOSED):
                    breaker.on_success()
                if after:
                    duration_ns = perf_ns() - t0
                    for hook in after:
                        hook(run_id=run_id, node_id=node_id, node_type=node_type, attempt=1, duration_ns=duration_ns,
                             error=None, delay_s=None, ran=True, result=result)
            return results, None
        attempt, history = first_attempt, list(first_history or ())
        for index, item in enumerate(batch):
            if cancelled():
                break
            if index:
                attempt = 1
                if history:
                    history = []
            breaker = att.start(item, attempt, history)
            t0 = perf_ns()
            try:
                result = fn(item)
            except Exception as exc:
                delay = att.failed(exc, item, attempt, history, breaker, t0, retryable=retryable)
                return results, Retry(index, attempt + 1, delay, history)
            except BaseException:
                att.interrupted(breaker)
                raise
            results.append(result)
            att.succeeded(result, attempt, history, breaker, t0)
        return results, None
    except NodeExecutionError as err:
        return results, err


def run_chain(run: Run, rts: List[NodeRuntime], batch: List[Any]) -> Tuple[int, List[Any], List[Any], Stop]:
    """In a worker thread: each node's whole batch in turn, down a chain of sync nodes.

    Returns ``(j, batch, results, stop)``: node ``j`` (the last, or the one
    that needs the event loop: a retry's wait, a final failure, or a result
    to await) got ``batch`` and gave ``results`` and ``stop`` (as
    :func:`run_batch`); the nodes before it have finished and their outputs
    are recorded.
    """
    keep = run.keep_results
    last = len(rts) - 1
    j = 0
    while True:
        rt = rts[j]
        results, stop = run_batch(run, rt, batch)
        if j == last or stop is not None or run.cancelled.is_set():
            return j, batch, results, stop
        outs = []
        for result in results:
            if needs_loop(result):
                return j, batch, results, stop
            if result is not None:
                outs.append(result)
        if keep:
            run.results[rt.node_id].extend(outs)
        run.finished.append(rt.node_id)
        batch = outs
        j += 1


# ------------------------------------------------------------------ streams
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _ReadAhead:
    """Iterates ``make()`` in a thread of its own, at most ``capacity`` items ahead of the consumer."""

    def __init__(self, make: Callable[[], Iterable[Any]], capacity: int) -> None:
        self._queue: "queue.Queue[Any]" = queue.Queue(capacity)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(make,), name="remotemedia-read", daemon=True)
        self._thread.start()

    def _produce(self, make: Callable[[], Iterable[Any]]) -> None:
        try:
            for item in make():
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer
            self._put(_Failed(exc))

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        get = self._queue.get
        while True:
            item = get()
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.05)


class InlineStream:
    """Runs a graph of sync nodes in the calling thread; iterate it for ``(sink_id, output)``.

    A chain (every node feeding the next) runs each input straight down the
    chain; any other graph keeps a queue per edge and steps the nodes in
    topological order after each input. Same calls, same order per node.

    Args:
        run: the run (its mode says items or chunks).
        feed: what the fed sources get (an iterable), or None when a chunk
            source (or, for items, every source called once) produces the data.
    """

    def __init__(self, run: Run, feed: Optional[Iterable[Any]]) -> None:
        self.run = run
        self.feed = feed
        self.order = [run.runtimes[n] for n in run.graph.topological_order()]
        chain = run.graph.chain_order()
        self.chain: Optional[List[NodeRuntime]] = None
        if chain is not None and not any(e.from_port is not None and run.runtimes[e.src].multi_port
                                         for rt in self.order for e in rt.out_edges):
            self.chain = [run.runtimes[n] for n in chain]
        self.boxes: Dict[str, Dict[str, Deque[Any]]] = {
            rt.node_id: {k: deque() for k in rt.in_keys} for rt in self.order if rt.in_keys}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._done: List[str] = []

    def __iter__(self) -> Iterator[Tuple[str, Any]]:
        run = self.run
        chunks = run.mode == CHUNKS
        run.before_run()
        t0 = time.perf_counter_ns()
        error: Optional[BaseException] = None
        reader: Optional[_ReadAhead] = None
        try:
            if chunks:
                for rt in self.order:
                    if rt.traits.cls.has_begin:
                        self._guard(rt, lambda rt=rt: rt.node.begin_stream(**run.context))
            producers = [rt for rt in self.order if not rt.in_keys]
            if self.feed is not None:
                if self.chain is not None:
                    push = self._push
                    for item in self.feed:
                        yield from push(0, item)
                else:
                    fed = [self.boxes[rt.node_id][INPUT_KEY] for rt in self.order if INPUT_KEY in rt.in_keys]
                    for item in self.feed:
                        for box in fed:
                            box.append(item)
                        yield from self._drain()
            elif chunks:
                (source,) = producers
                reader = _ReadAhead(lambda: source.attempts.timed_reads(
                    source.node.iter_chunks(**run.context)), run.queue_chunks)
                try:
                    for chunk in reader:
                        yield from self._emit(source, chunk)
                except NodeError:
                    raise
                except Exception as exc:
                    raise node_error(source.node_id, source.node_type, 1, exc) from exc
            for rt in producers:
                if not chunks and self.feed is None:  # items: each source called once, without input
                    args = () if rt.traits.cls.source_call_without_argument else (None,)
                    yield from self._emit(rt, self._call(rt, args, NO_ARG))
                self._finished(rt)
            yield from self._finish()
        except BaseException as exc:
            error = exc
            run.cancelled.set()
            if chunks:
                self._abort()
            if isinstance(exc, NodeError):
                exc.partial_results = run.partial_results()
            raise
        finally:
            if reader is not None:
                reader.close()
            if self._loop is not None:
                self._loop.close()
            run.after_run(time.perf_counter_ns() - t0, error)

    # --------------------------------------------------------------- calls
    def _call(self, rt: NodeRuntime, args: Tuple[Any, ...], item: Any) -> Any:
        result = rt.attempts.call_sync(rt.fn, args, item, retryable=rt.retryable)
        if needs_loop(result):
            return self._on_loop(rt, result)
        return result

    def _on_loop(self, rt: NodeRuntime, result: Any) -> Any:
        """Awaits an awaitable result, or collects an async iterator's outputs (as :class:`Outputs`)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()

        async def settle() -> Any:
            value = result
            if hasattr(value, "__await__"):
                value = await value
            if hasattr(value, "__anext__"):
                return Outputs([x async for x in value])
            return value

        try:
            return self._loop.run_until_complete(settle())
        except Exception as exc:
            raise node_error(rt.node_id, rt.node_type, 1, exc) from exc

    def _emit(self, rt: NodeRuntime, out: Any) -> List[Tuple[str, Any]]:
        """``out`` of ``rt`` on its way: down the chain, or into the queues of its consumers."""
        if self.chain is not None:
            if type(out) is Outputs:
                return [x for one in out for x in self._emit(rt, one)]
            if out is None:
                return _NO_OUTPUT
            run = self.run
            if run.keep_results:
                run.results[rt.node_id].append(out)
            if rt.is_sink:
                return [(rt.node_id, out)]
            return self._push(self.chain.index(rt) + 1, out)
        sinks = list(self._deliver(rt, out))
        sinks += self._drain()
        return sinks

    def _push(self, j: int, x: Any) -> List[Tuple[str, Any]]:
        """Runs input ``x`` of chain node ``j`` down the chain; returns the sink outputs."""
        chain = self.chain
        assert chain is not None
        last = len(chain) - 1
        keep = self.run.keep_results
        while True:
            rt = chain[j]
            x = rt.attempts.call_sync(rt.fn, (x,), x, retryable=rt.retryable)
            if type(x) not in _PLAIN_TYPES:
                if needs_loop(x):
                    x = self._on_loop(rt, x)
                if type(x) is Outputs:
                    return [out for one in x for out in self._emit(rt, one)]
            if x is None:
                return _NO_OUTPUT
            if keep:
                self.run.results[rt.node_id].append(x)
            if j == last:
                return [(rt.node_id, x)]
            j += 1

    # ------------------------------------------------ queues (any graph)
    def _deliver(self, rt: NodeRuntime, out: Any) -> Iterator[Tuple[str, Any]]:
        outs = out if type(out) is Outputs else (out,)
        route = self.run.route
        for one in outs:
            try:
                targets = route(rt, one)
            except Exception as exc:
                raise node_error(rt.node_id, rt.node_type, 1, exc) from exc
            for dst, key, value in targets:
                if dst is SINK:
                    yield key, value
                else:
                    self.boxes[dst][key].append(value)

    def _ready(self, rt: NodeRuntime) -> Any:
        box = self.boxes[rt.node_id]
        if len(box) == 1:
            (q,) = box.values()
            return q.popleft() if q else _NONE
        if all(box.values()):
            return {k: q.popleft() for k, q in box.items()}
        return _NONE

    def _step(self, rt: NodeRuntime) -> List[Tuple[str, Any]]:
        sinks: List[Tuple[str, Any]] = []
        while True:
            item = self._ready(rt)
            if item is _NONE:
                return sinks
            sinks += self._deliver(rt, self._call(rt, (item,), item))

    def _drain(self) -> List[Tuple[str, Any]]:
        sinks: List[Tuple[str, Any]] = []
        for rt in self.order:
            if rt.in_keys:
                sinks += self._step(rt)
        return sinks

    # --------------------------------------------------------- the end
    def _finish(self) -> Iterator[Tuple[str, Any]]:
        chunks = self.run.mode == CHUNKS
        for rt in self.order:
            if not rt.in_keys:
                continue
            if self.chain is None:
                yield from self._step(rt)
                self._check_leftovers(rt, chunks)
            if rt.stateful and rt.traits.cls.has_flush:
                out = rt.attempts.call_sync(rt.node.flush, (), None, retryable=False)
                if needs_loop(out):
                    out = self._on_loop(rt, out)
                yield from self._emit(rt, out)
            self._finished(rt)

    def _check_leftovers(self, rt: NodeRuntime, chunks: bool) -> None:
        box = self.boxes[rt.node_id]
        leftovers = {k: len(q) for k, q in box.items() if q}
        if not leftovers:
            return
        if chunks:
            ended = sorted(k for k, q in box.items() if not q)
            exc: Exception = ValueError(f"fan-in chunk streams ended at different lengths (ended: {ended}, "
                                        f"still running: {sorted(leftovers)})")
        else:
            counts = ", ".join(f"{k!r}: {n} unmatched" for k, n in leftovers.items())
            exc = ValueError(f"fan-in inputs ended with different numbers of items ({counts})")
        raise node_error(rt.node_id, rt.node_type, 1, exc) from exc

    def _finished(self, rt: NodeRuntime) -> None:
        self._done.append(rt.node_id)
        self.run.finished.append(rt.node_id)

    def _guard(self, rt: NodeRuntime, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except NodeError:
            raise
        except Exception as exc:
            raise node_error(rt.node_id, rt.node_type, 1, exc) from exc

    def _abort(self) -> None:
        for rt in self.order:
            if rt.node_id in self._done:
                continue
            for method in abort_methods(rt.node, rt.traits.cls):
                try:
                    method()
                except Exception:  # noqa: S110 - the run's own error is the one to report
                    pass


_NO_OUTPUT: Tuple[Tuple[str, Any], ...] = ()


_NONE = object()
