"""The engine: one run loop for item runs and chunk streams.

Files, top to bottom:

- :mod:`.run`: one execution (:class:`Run`): each node's runtime (its traits,
  its per-input function, its attempts) and where outputs go;
- :mod:`.attempts`: the attempt primitive (retry, breaker, hooks: one state
  machine with a sync and an async entry), also used by the batch runner;
- :mod:`.scheduler`: the asyncio scheduler (a task and an inbox per node);
- :mod:`.inline`: the synchronous paths (a node's batch in a worker thread, a
  chain in one hop, a whole stream in the calling thread);
- :mod:`.pool`: the thread pool;
- :mod:`.fusion`: plans runs of native kernel nodes into fused segments.

:class:`Engine` is what a :class:`~remotemedia.pipeline.Pipeline` holds: its
pool, hooks, default retry policy and circuit breakers, and the entry points
that pick a scheduler. Which one runs is a policy: a graph whose nodes are all
synchronous, driven from synchronous code, runs inline; everything else on the
event loop. Results, hooks and errors are the same either way.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

from remotemedia.engine import fusion
from remotemedia.engine.attempts import NOTHING, Attempts, acall_with_retries, call_with_retries, node_error
from remotemedia.engine.inline import InlineStream
from remotemedia.engine.pool import Pool, default_max_workers, shared_thread_pool
from remotemedia.engine.run import (
    CHUNKS,
    DEFAULT_QUEUE_CHUNKS,
    INPUT_KEY,
    ITEMS,
    SOURCE_MODE,
    Run,
    RunResult,
    port_value,
)
from remotemedia.engine.scheduler import Scheduler
from remotemedia.errors import ConfigurationError
from remotemedia.graph import PipelineGraph
from remotemedia.hooks import HookSet
from remotemedia.nodes.protocol import class_traits, lifecycle_method, traits
from remotemedia.reliability import CircuitBreakerRegistry, RetryPolicy

__all__ = [
    "Engine", "Executor", "RunResult", "SOURCE_MODE", "INPUT_KEY", "ITEMS", "CHUNKS", "DEFAULT_QUEUE_CHUNKS",
    "Attempts", "call_with_retries", "acall_with_retries", "default_max_workers", "shared_thread_pool", "port_value",
]

DEFAULT_MAX_CONCURRENCY = 256
_END = object()


class Engine:
    """Runs pipeline graphs: items or chunk streams, on asyncio or inline.

    Args:
        max_workers: threads of a pool owned by this engine (closed by
            :meth:`close`); None = the process-wide shared pool
            (:func:`shared_thread_pool`).
        max_concurrency: at most this many node calls in flight per item run.
        thread_pool: an existing ``concurrent.futures.ThreadPoolExecutor`` to
            use (the caller owns it); overrides ``max_workers``.
        hooks: lifecycle hooks (see :mod:`remotemedia.hooks`).
        retry: the retry policy of nodes without their own (a
            :class:`~remotemedia.reliability.RetryPolicy` or a dict of its
            fields); None = ``RetryPolicy()`` (3 retries of transient errors).
        breakers: circuit breakers shared by every run of this engine (pass
            one registry to several engines to share them); None = none.
    """

    def __init__(self, *, max_workers: Optional[int] = None, max_concurrency: Optional[int] = None,
                 thread_pool: Optional[ThreadPoolExecutor] = None, hooks: Sequence[Any] = (),
                 retry: Any = None, breakers: Optional[CircuitBreakerRegistry] = None) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency: expected an int >= 1, given {max_concurrency!r}")
        self.pool = Pool(max_workers, thread_pool)
        self.max_workers = max_workers
        self.max_concurrency = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.hooks = HookSet(hooks)
        self.retry_policy: RetryPolicy = RetryPolicy.from_spec(retry) or RetryPolicy()
        self.breakers = breakers

    # ------------------------------------------------------------- resources
    @property
    def thread_pool(self) -> ThreadPoolExecutor:
        return self.pool.executor

    @property
    def _own_pool(self) -> Optional[ThreadPoolExecutor]:
        return self.pool._own

    def close(self) -> None:
        """Shuts down the pool this engine owns (a shared or given pool is left alone)."""
        self.pool.close()

    async def call_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(*args)`` in the thread pool (every thread hop of a run goes through here)."""
        return await self.pool.call(fn, *args)

    async def lifecycle(self, nodes: Iterable[Any], method: str) -> None:
        """Calls ``node.initialize()`` or ``node.cleanup()`` on every node, concurrently.

        Sync methods run in the thread pool (the base class's trivial ones
        inline, in order, without a task per node); async ones are awaited.
        Failures raise :class:`~remotemedia.errors.NodeError`.
        """
        def failure(node: Any, exc: Exception) -> Exception:
            return node_error(node.id, traits(node).node_type, 1, exc, f"{method}() failed")

        async def one(node: Any, fn: Callable[[], Any]) -> None:
            try:
                if inspect.iscoroutinefunction(fn):
                    await fn()
                else:
                    result = await self.call_blocking(fn)
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:
                raise failure(node, exc) from exc

        special = []
        for node in nodes:
            fn, custom = lifecycle_method(node, method)
            if fn is None:
                continue
            if custom:
                special.append(one(node, fn))
                continue
            try:  # the base class's trivial method: inline, in order
                fn()
            except Exception as exc:
                raise failure(node, exc) from exc
        if special:
            await asyncio.gather(*special)

    def lifecycle_sync(self, nodes: Iterable[Any], method: str) -> None:
        """:meth:`lifecycle` for synchronous code: the base class's trivial methods inline, in order;
        the others (sync in the pool, async awaited) on a private event loop."""
        special = []
        for node in nodes:
            fn, custom = lifecycle_method(node, method)
            if fn is None:
                continue
            if custom:
                special.append(node)
                continue
            try:
                fn()
            except Exception as exc:
                raise node_error(node.id, traits(node).node_type, 1, exc, f"{method}() failed") from exc
        if special:
            asyncio.run(self.lifecycle(special, method))

    # ------------------------------------------------------------------ runs
    def new_run(self, graph: PipelineGraph, nodes: Dict[str, Any], *, mode: str = ITEMS, fed: bool = True,
                keep_results: bool = False, pipeline_name: Optional[str] = None,
                retry_policies: Optional[Dict[str, RetryPolicy]] = None, context: Optional[Dict[str, Any]] = None,
                queue_chunks: int = DEFAULT_QUEUE_CHUNKS, fused: Sequence[Any] = (),
                reported: Optional[Tuple[PipelineGraph, Dict[str, Any]]] = None) -> Run:
        """A :class:`Run` of ``graph`` with this engine's hooks, policy and breakers."""
        if isinstance(queue_chunks, bool) or not isinstance(queue_chunks, int) or queue_chunks < 1:
            raise ConfigurationError(f"queue_chunks: expected an int >= 1, given {queue_chunks!r}",
                                     parameter="queue_chunks", expected="an int >= 1", given=queue_chunks)
        return Run(graph, nodes, mode=mode, fed=fed, keep_results=keep_results, policies=retry_policies,
                   default_policy=self.retry_policy, breakers=self.breakers, hooks=self.hooks, context=context,
                   queue_chunks=queue_chunks, pipeline_name=pipeline_name, fused=fused, reported=reported)

    async def run(self, graph: PipelineGraph, nodes: Dict[str, Any], inputs: Any = SOURCE_MODE, *,
                  keep_results: bool = True, pipeline_name: Optional[str] = None,
                  retry_policies: Optional[Dict[str, RetryPolicy]] = None) -> RunResult:
        """Runs ``graph`` once over ``inputs`` (items) and collects the sinks' outputs.

        Args:
            graph: a validated graph.
            nodes: node id -> node instance, for every graph node.
            inputs: items fed to every source node (an iterable or async
                iterable), or :data:`SOURCE_MODE` to call sources without input.
            keep_results: keep every node's outputs (``node_results`` and
                ``NodeError.partial_results``), not only the sinks'.
            pipeline_name: passed to hooks.
            retry_policies: node id -> policy, overriding the node's own
                (``retry_policy`` attribute) and the engine's.

        Raises:
            NodeExecutionError: a node failed (``partial_results`` attached).
        """
        fed = inputs is not SOURCE_MODE
        run = self.new_run(graph, nodes, fed=fed, keep_results=keep_results, pipeline_name=pipeline_name,
                           retry_policies=retry_policies)
        await Scheduler(self, run).execute(inputs if fed else None)
        return RunResult(outputs=run.sink_outputs, node_results=run.results if keep_results else {},
                         run_id=run.run_id)

    def iter_outputs(self, graph: PipelineGraph, nodes: Dict[str, Any], inputs: Any = SOURCE_MODE, *,
                     pipeline_name: Optional[str] = None,
                     retry_policies: Optional[Dict[str, RetryPolicy]] = None) -> AsyncIterator[Tuple[str, Any]]:
        """Runs ``graph`` over items and yields ``(sink_id, output)`` as soon as each output exists.

        Nothing but the items in flight is kept in memory. Stopping the
        iteration early cancels the run.
        """
        fed = inputs is not SOURCE_MODE
        run = self.new_run(graph, nodes, fed=fed, pipeline_name=pipeline_name, retry_policies=retry_policies)
        return self._drive(run, inputs if fed else None, asyncio.Queue())

    def iter_chunk_outputs(self, graph: PipelineGraph, nodes: Dict[str, Any], feed: Any = None, *,
                           context: Optional[Dict[str, Any]] = None, queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
                           pipeline_name: Optional[str] = None, fuse: bool = False) -> AsyncIterator[Tuple[str, Any]]:
        """Runs ``graph`` over one chunk stream on the event loop; yields ``(sink_id, output)``.

        Args:
            feed: chunks for the sources that are not chunk sources (an
                iterable or async iterable), or None when chunk sources produce
                the stream.
            context: passed to ``begin_stream`` and ``iter_chunks``.
            queue_chunks: capacity of every edge, in chunks.
        """
        run = self.chunk_run(graph, nodes, feed, context=context, queue_chunks=queue_chunks,
                             pipeline_name=pipeline_name, fuse=fuse)
        sink: asyncio.Queue = asyncio.Queue(queue_chunks * max(1, len(graph.sinks)))
        return self._drive(run, feed, sink)

    def chunk_run(self, graph: PipelineGraph, nodes: Dict[str, Any], feed: Any, *,
                  context: Optional[Dict[str, Any]] = None, queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
                  pipeline_name: Optional[str] = None, fuse: bool = False) -> Run:
        """A chunk-stream :class:`Run`; checks that every source has something to read.

        Args:
            fuse: plan fused native segments (see :mod:`.fusion`).
        """
        if feed is None:
            fed = [n for n in graph.sources if not class_traits(type(nodes[n])).chunk_source]
            if fed:
                raise ConfigurationError(
                    f"source node(s) {fed} need input: give a file path or chunks to stream(), or start the "
                    "pipeline with a chunk source such as AudioFileSource", node_id=fed[0], parameter="inputs",
                    expected="a file path, chunks, or a chunk source node", given=None)
        reported = (graph, nodes)
        fused: list = []
        if fuse:
            graph, nodes, fused = fusion.fuse(graph, nodes)
        return self.new_run(graph, nodes, mode=CHUNKS, fed=feed is not None, pipeline_name=pipeline_name,
                            context=context, queue_chunks=queue_chunks, fused=fused, reported=reported)

    async def _drive(self, run: Run, inputs: Any, sink: "asyncio.Queue[Any]") -> AsyncIterator[Tuple[str, Any]]:
        scheduler = Scheduler(self, run, sink)

        async def drive() -> None:
            try:
                await scheduler.execute(inputs)
            finally:
                await sink.put(_END)

        task = asyncio.ensure_future(drive())
        try:
            while True:
                msg = await sink.get()
                if msg is _END:
                    break
                yield msg
                del msg  # keep no output alive while waiting for the next
            await task  # re-raises a failure
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    # --------------------------------------------------------- inline runs
    def can_inline(self, run: Run) -> bool:
        """Whether ``run`` can run inline: every node synchronous, no streaming node, one producer
        at most for a chunk stream without feed (a sync chunk source)."""
        chunks = run.mode == CHUNKS
        producers = 0
        for rt in run.runtimes.values():
            cls = rt.traits.cls
            if rt.traits.is_streaming or rt.fn_mode != "sync":
                return False
            if chunks and ((rt.stateful and cls.flush_async) or cls.begin_async):
                return False
            if not rt.in_keys:
                producers += 1
                if chunks and (run.fed or cls.chunk_source_async):
                    return False
        return not chunks or run.fed or producers == 1

    def stream_inline(self, run: Run, feed: Optional[Iterable[Any]]) -> Iterator[Tuple[str, Any]]:
        """Runs ``run`` in the calling thread (see :class:`.inline.InlineStream`); yields ``(sink_id, output)``."""
        return iter(InlineStream(run, feed))


#: The name of :class:`Engine` before it became a package (kept for code written against it).
Executor = Engine

__all__ += ["NOTHING", "node_error"]
