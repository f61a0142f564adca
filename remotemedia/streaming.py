"""Chunked streaming: one stream (a file, say) flows through the graph chunk by chunk.

The item executor (:mod:`remotemedia.executor`) treats every item as a whole
input: ``process`` per item, nothing kept between items. A *chunk stream* is
one signal cut into pieces, and stateful nodes must see it as one signal. This
module drives a graph that way, with bounded memory.

Node protocol (every method optional; the first matching one is used):

``iter_chunks(**context)``
    A *chunk source* (a node without inputs, e.g.
    :class:`~remotemedia.nodes.io_audio.AudioFileSource`): returns a sync or
    async iterator of chunks. A sync iterator is advanced in the thread pool.
``begin_stream(**context)``
    Called once before the first chunk. ``context`` holds ``source_path``,
    ``output`` (from :meth:`Pipeline.run_file`), ``pipeline`` (name, hash and
    implementations: :func:`remotemedia.export.record.pipeline_identity`), ``chunk_s`` /
    ``chunk_frames`` / ``chunk_bytes`` when given, and may grow: accept
    ``**future_kwargs``.
``process_chunk(chunk)`` then ``flush()``
    A *stateful* node: called for every chunk in order, then once at the end
    of the stream; each returns one output or None (no output). The chunks'
    outputs followed by the flush's must equal the whole-stream result.
``process(chunk)``
    Any other node is stateless per chunk and gets ``process`` for each one
    (sync, ``async def`` or async generator, as in the item executor).
    ``is_streaming = True`` nodes get the whole chunk stream as an async
    iterator, as in the item executor.
``abort_stream()`` / ``reset()``
    Called when the run fails or is cancelled (after the node's in-flight
    call has returned): sinks drop their temporary files, stateful nodes drop
    their stream state.

Flow: every edge is a bounded :class:`asyncio.Queue` of ``queue_chunks``
chunks (backpressure: a slow node stalls its producers, memory stays
bounded). Every node is a task; sync calls run in the executor's thread pool,
so consecutive nodes overlap (the source reads chunk N+1 while the resampler
works on chunk N) and GIL-releasing native kernels use several cores. A node
takes every chunk already waiting on its input (up to ``queue_chunks``) in one
thread-pool call. End of stream travels down every edge after the producer's
flush. On fan-out every consumer gets every chunk in order (the same object:
do not mutate inputs); on fan-in a node gets dicts of one chunk per input
(keyed like the item executor: ``to_port`` or source id), zipped in order.

Hooks: ``before_run``/``after_run`` once, ``before_node``/``after_node`` per
chunk call (``attempt=1``; a chunk is never retried: node state moved on).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from remotemedia.errors import ConfigurationError, NodeError
from remotemedia.executor import Executor, _node_error, node_type_of, port_value
from remotemedia.graph import Edge, PipelineGraph

#: Chunks each edge holds before its producer waits.
DEFAULT_QUEUE_CHUNKS = 4
#: Input key of a source fed from outside the graph.
FEED_KEY = "__chunks__"

_EOS = object()
_run_ids = iter(range(1, 1 << 62))


@dataclass
class _Failed:
    error: BaseException


@dataclass
class _Ctx:
    node_id: str
    node: Any
    node_type: str
    out_edges: List[Edge]
    multi_port: bool
    is_sink: bool


def is_chunk_source(node: Any) -> bool:
    """Whether ``node`` produces a chunk stream by itself (has ``iter_chunks``)."""
    return callable(getattr(node, "iter_chunks", None))


def split_chunks(samples: np.ndarray, sample_rate: int, sizes: Iterable[int]) -> Iterator[Tuple[np.ndarray, int]]:
    """Cuts an in-memory signal into chunks (views) of the given frame counts.

    Args:
        samples: array shaped (channels, frames) or (frames,).
        sample_rate: Hz, attached to every chunk.
        sizes: frames per chunk, cycled until the signal ends (``[160]`` for
            fixed 160-frame chunks); every size must be >= 1.

    Yields:
        ``(view of samples (channels, n), sample_rate)``.
    """
    x = samples[np.newaxis, :] if samples.ndim == 1 else samples
    sizes = list(sizes)
    if not sizes or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes: expected frame counts >= 1, given {sizes!r}")
    pos, k, n = 0, 0, x.shape[1]
    while pos < n:
        step = int(sizes[k % len(sizes)])
        yield x[:, pos:pos + step], sample_rate
        pos += step
        k += 1


def _pull(iterator: Iterator[Any], n: int) -> Tuple[List[Any], bool]:
    """Up to ``n`` items of ``iterator`` and whether it ended (runs in a worker thread)."""
    items = []
    for _ in range(n):
        try:
            items.append(next(iterator))
        except StopIteration:
            return items, True
    return items, False


class ChunkStreamRun:
    """One run of a graph over one chunk stream.

    Args:
        executor: gives the thread pool and the hooks.
        graph: a validated graph.
        nodes: node id -> node.
        feed: chunks for the graph's sources (iterable or async iterable), or
            None when every source is a chunk source.
        context: passed to ``begin_stream`` and ``iter_chunks``.
        queue_chunks: capacity of every edge, in chunks.
        pipeline_name: passed to hooks.
    """

    def __init__(self, executor: Executor, graph: PipelineGraph, nodes: Dict[str, Any], *, feed: Any = None,
                 context: Optional[Dict[str, Any]] = None, queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
                 pipeline_name: Optional[str] = None) -> None:
        if isinstance(queue_chunks, bool) or not isinstance(queue_chunks, int) or queue_chunks < 1:
            raise ConfigurationError(f"queue_chunks: expected an int >= 1, given {queue_chunks!r}",
                                     parameter="queue_chunks", expected="an int >= 1", given=queue_chunks)
        self.executor = executor
        self.graph = graph
        self.nodes = nodes
        self.feed = feed
        self.context = dict(context or {})
        self.queue_chunks = queue_chunks
        self.pipeline_name = pipeline_name
        self.run_id = next(_run_ids)
        self.cancelled = threading.Event()
        fed = [n for n in graph.sources if not is_chunk_source(nodes[n])]
        if feed is None and fed:
            raise ConfigurationError(
                f"source node(s) {fed} need input: give a file path or chunks to stream(), or start the "
                "pipeline with a chunk source such as AudioFileSource", node_id=fed[0], parameter="inputs",
                expected="a file path, chunks, or a chunk source node", given=None)
        self._fed = fed if feed is not None else []
        # One bounded queue per edge (and per fed source), keyed by (dst, key).
        self._inputs: Dict[str, List[Tuple[str, asyncio.Queue]]] = {n: [] for n in graph.by_id}
        self._outputs: Dict[str, List[Tuple[Edge, asyncio.Queue]]] = {n: [] for n in graph.by_id}
        for node_id in graph.by_id:
            for edge in graph.inputs[node_id]:
                q: asyncio.Queue = asyncio.Queue(queue_chunks)
                self._inputs[node_id].append((edge.key, q))
                self._outputs[edge.src].append((edge, q))
        self._feed_queues: List[asyncio.Queue] = []
        for node_id in self._fed:
            q = asyncio.Queue(queue_chunks)
            self._inputs[node_id].append((FEED_KEY, q))
            self._feed_queues.append(q)
        self._sink_queue: asyncio.Queue = asyncio.Queue(queue_chunks * max(1, len(graph.sinks)))

    # ------------------------------------------------------------------ driving
    async def outputs(self) -> AsyncIterator[Tuple[str, Any]]:
        """Runs the stream; yields ``(sink_id, output)`` as outputs exist.

        Raises:
            NodeError: a node failed (the run is stopped, sinks aborted).
        """
        supervisor = asyncio.ensure_future(self._supervise())
        remaining = len(self.graph.sinks)
        try:
            while remaining:
                msg = await self._sink_queue.get()
                if isinstance(msg, _Failed):
                    raise msg.error
                if msg is _EOS:
                    remaining -= 1
                    continue
                yield msg
            await supervisor
        finally:
            if not supervisor.done():
                supervisor.cancel()
                await asyncio.gather(supervisor, return_exceptions=True)

    async def _supervise(self) -> None:
        hooks = self.executor.hooks
        hooks.call("before_run", run_id=self.run_id, pipeline_name=self.pipeline_name, graph=self.graph,
                   nodes=self.nodes)
        t0 = time.perf_counter_ns()
        tasks = [asyncio.ensure_future(self._node_task(n)) for n in self.graph.by_id]
        if self._feed_queues:
            tasks.append(asyncio.ensure_future(self._feed_task()))
        error: Optional[BaseException] = None
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
            if failed:
                error = failed[0].exception()
                await self._stop(tasks)
                while not self._sink_queue.empty():  # the consumer is waiting: make room for the failure
                    self._sink_queue.get_nowait()
                self._sink_queue.put_nowait(_Failed(error))  # type: ignore[arg-type]
        except BaseException as exc:  # cancelled by the consumer
            error = error or exc
            await self._stop(tasks)
            raise
        finally:
            hooks.call("after_run", run_id=self.run_id, pipeline_name=self.pipeline_name,
                       duration_ns=time.perf_counter_ns() - t0, error=error)

    async def _stop(self, tasks: List["asyncio.Future[Any]"]) -> None:
        self.cancelled.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn`` in the thread pool; if cancelled meanwhile, waits for the call to return first."""
        cf = self.executor.thread_pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(cf)
        except asyncio.CancelledError:
            await asyncio.get_running_loop().run_in_executor(None, concurrent.futures.wait, [cf])
            raise

    async def _feed_task(self) -> None:
        feed = self.feed
        if hasattr(feed, "__aiter__"):
            async for chunk in feed:
                for q in self._feed_queues:
                    await q.put(chunk)
        else:
            iterator = iter(feed)
            ended = False
            while not ended:
                items, ended = await self._blocking(_pull, iterator, self.queue_chunks)
                for chunk in items:
                    for q in self._feed_queues:
                        await q.put(chunk)
        for q in self._feed_queues:
            await q.put(_EOS)

    # ---------------------------------------------------------------- one node
    async def _node_task(self, node_id: str) -> None:
        node = self.nodes[node_id]
        out_edges = [e for e, _ in self._outputs[node_id]]
        ctx = _Ctx(node_id, node, node_type_of(node), out_edges,
                   multi_port=len(getattr(node, "output_types", {}) or {}) > 1, is_sink=not out_edges)
        try:
            await self._call_optional(ctx, "begin_stream", **self.context)
            if not self._inputs[node_id]:
                await self._run_source(ctx)
            elif getattr(node, "is_streaming", False):
                await self._run_streaming(ctx)
            else:
                await self._run_chunks(ctx)
        except NodeError:
            await self._abort(ctx)
            raise
        except asyncio.CancelledError:
            await self._abort(ctx)
            raise
        except Exception as exc:
            await self._abort(ctx)
            raise _node_error(node_id, ctx.node_type, 1, exc) from exc
        for _, q in self._outputs[node_id]:
            await q.put(_EOS)
        if ctx.is_sink:
            await self._sink_queue.put(_EOS)

    async def _call_optional(self, ctx: _Ctx, method: str, **kwargs: Any) -> None:
        fn = getattr(ctx.node, method, None)
        if not callable(fn):
            return
        if inspect.iscoroutinefunction(fn):
            await fn(**kwargs)
        else:
            await self._blocking(lambda: fn(**kwargs))

    async def _abort(self, ctx: _Ctx) -> None:
        for method in ("abort_stream", "reset"):
            fn = getattr(ctx.node, method, None)
            if callable(fn) and not inspect.iscoroutinefunction(fn) and (
                    method == "abort_stream" or callable(getattr(ctx.node, "process_chunk", None))):
                try:
                    fn()
                except Exception:  # noqa: S110 - the run's own error is the one to report
                    pass

    async def _run_source(self, ctx: _Ctx) -> None:
        if not is_chunk_source(ctx.node):
            raise TypeError(f"node {ctx.node_id!r} has no input and no iter_chunks(): it cannot start a chunk stream")
        it = ctx.node.iter_chunks(**self.context)
        if hasattr(it, "__aiter__"):
            async for chunk in it:
                await self._emit(ctx, chunk)
            return
        iterator = iter(it)
        ended = False
        while not ended:
            items, ended = await self._blocking(_pull, iterator, self.queue_chunks)
            for chunk in items:
                await self._emit(ctx, chunk)

    async def _take(self, node_id: str) -> List[Any]:
        """Inputs ready now (at least one; several for a single input); [] at end of stream."""
        inputs = self._inputs[node_id]
        if len(inputs) == 1:
            q = inputs[0][1]
            first = await q.get()
            if first is _EOS:
                return []
            batch = [first]
            while len(batch) < self.queue_chunks and not q.empty():
                item = q.get_nowait()
                if item is _EOS:
                    q.put_nowait(_EOS)  # seen again by the next call
                    break
                batch.append(item)
            return batch
        got = {key: await q.get() for key, q in inputs}
        ended = [k for k, v in got.items() if v is _EOS]
        if ended:
            if len(ended) != len(got):
                raise ValueError(f"fan-in chunk streams ended at different lengths (ended: {ended}, "
                                 f"still running: {sorted(set(got) - set(ended))})")
            return []
        return [got]

    async def _run_chunks(self, ctx: _Ctx) -> None:
        node = ctx.node
        stateful = callable(getattr(node, "process_chunk", None))
        fn = node.process_chunk if stateful else node.process
        is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        while True:
            batch = await self._take(ctx.node_id)
            if not batch:
                break
            if is_async:
                for item in batch:
                    await self._emit_result(ctx, self._timed_async(ctx, fn, item))
            else:
                for out in await self._blocking(self._call_batch, ctx, fn, batch):
                    await self._emit_result(ctx, out)
        if stateful and callable(getattr(node, "flush", None)):
            if inspect.iscoroutinefunction(node.flush):
                await self._emit_result(ctx, node.flush())
            else:
                for out in await self._blocking(self._call_batch, ctx, lambda _: node.flush(), [None]):
                    await self._emit_result(ctx, out)

    async def _run_streaming(self, ctx: _Ctx) -> None:
        async def chunks() -> AsyncIterator[Any]:
            while True:
                batch = await self._take(ctx.node_id)
                if not batch:
                    return
                for item in batch:
                    yield item

        await self._emit_result(ctx, ctx.node.process(chunks()))

    def _call_batch(self, ctx: _Ctx, fn: Callable[[Any], Any], batch: List[Any]) -> List[Any]:
        """Calls ``fn`` on each item in a worker thread (hooks per call); stops early when the run is cancelled."""
        hooks = self.executor.hooks
        results = []
        for item in batch:
            if self.cancelled.is_set():
                break
            if not hooks.has_node_hooks:
                results.append(fn(item))
                continue
            hooks.call("before_node", run_id=self.run_id, node_id=ctx.node_id, node_type=ctx.node_type, attempt=1)
            t0 = time.perf_counter_ns()
            error: Optional[BaseException] = None
            try:
                results.append(fn(item))
            except Exception as exc:
                error = exc
                raise
            finally:
                hooks.call("after_node", run_id=self.run_id, node_id=ctx.node_id, node_type=ctx.node_type,
                           attempt=1, duration_ns=time.perf_counter_ns() - t0, error=error)
        return results

    async def _timed_async(self, ctx: _Ctx, fn: Callable[[Any], Any], item: Any) -> Any:
        hooks = self.executor.hooks
        if hooks.has_node_hooks:
            hooks.call("before_node", run_id=self.run_id, node_id=ctx.node_id, node_type=ctx.node_type, attempt=1)
        t0 = time.perf_counter_ns()
        error: Optional[BaseException] = None
        try:
            result = fn(item)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            error = exc
            raise
        finally:
            if hooks.has_node_hooks:
                hooks.call("after_node", run_id=self.run_id, node_id=ctx.node_id, node_type=ctx.node_type,
                           attempt=1, duration_ns=time.perf_counter_ns() - t0, error=error)

    async def _emit_result(self, ctx: _Ctx, result: Any) -> None:
        if inspect.isawaitable(result):
            result = await result
        if hasattr(result, "__anext__"):
            try:
                async for out in result:
                    await self._emit(ctx, out)
            finally:
                if hasattr(result, "aclose"):
                    await result.aclose()
        else:
            await self._emit(ctx, result)

    async def _emit(self, ctx: _Ctx, out: Any) -> None:
        if out is None:
            return
        if ctx.is_sink:
            await self._sink_queue.put((ctx.node_id, out))
            return
        for edge, q in self._outputs[ctx.node_id]:
            await q.put(port_value(out, edge, ctx.multi_port))
