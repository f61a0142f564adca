"""The asyncio executor: runs a validated :class:`~remotemedia.graph.PipelineGraph`.

Model: every edge carries a stream of items. Each node is one asyncio task that
waits for items on its inputs and calls ``process`` once per item (a fan-in
node once per set of one item from each input, in order, keyed by source node
id or ``to_port``). A node starts as soon as all its inputs have an item; there
are no level-by-level barriers, so independent branches run concurrently.

- A sync ``process`` runs in a bounded thread pool; the items a node has ready
  go to the pool as one batch, so cheap nodes cost one thread hop per batch,
  not per item. Native kernels that release the GIL run truly in parallel.
- A chain of sync nodes fed a list (what ``Pipeline.run`` passes) takes one
  thread hop for the whole chain instead of one per node: there is nothing to
  overlap, as each node gets its predecessor's outputs as one batch once the
  predecessor has finished. The calls, attempts, breakers and hooks are the
  same, in the same order; a node that needs the loop (a retry's wait, a final
  failure, an awaitable result) hands over to the general path.
- An ``async def process`` is awaited; an async-generator ``process`` yields
  zero or more outputs per input. A ``None`` result means "no output".
- A node with ``is_streaming = True`` is called once with an async iterator of
  all its input items and returns an async iterator of outputs.
- Per node, items are processed one after another, in order (nodes may keep
  state across items); concurrency is across nodes.
- Concurrency is bounded by configuration, not by the graph: at most
  ``max_concurrency`` process calls (or batches) are in flight per run, and
  threads never exceed the pool's ``max_workers`` (the process-wide shared
  pool unless one is given), however many nodes or pipelines run at once.
- On fan-out every consumer gets the same object: nodes must not mutate their
  inputs.
- A failing call is retried by the node's
  :class:`~remotemedia.reliability.RetryPolicy` when its error is transient
  (see :mod:`remotemedia.reliability`): the backoff wait is ``asyncio.sleep``
  on the loop (a sync node's batch returns to the loop first), so other nodes
  keep running while one waits; the node's later items wait behind the
  retried one (order is kept). A call that already emitted outputs (an async
  generator) or consumed a stream (a streaming node) is never retried: that
  could duplicate outputs. Every call passes through a circuit breaker of the
  executor's :class:`~remotemedia.reliability.CircuitBreakerRegistry` (when it
  has one), keyed by node type or by the node's ``circuit_key(item)``.
- Every failed attempt, and the successful attempt of a retried call, is
  recorded (:class:`~remotemedia.reliability.AttemptRecord`) and passed to the
  ``after_node`` hooks (``attempt=``, ``error=``, ``delay_s=``, ``ran=``).
- A failing node stops the run: every pending node is cancelled, a running
  thread finishes its current item and stops, and a
  :class:`~remotemedia.errors.NodeExecutionError` naming the node is raised,
  chained to the original exception, with its attempts, a description of the
  input, and ``partial_results`` holding the outputs of every node that had
  finished.

Seams: every node call goes through :meth:`Executor._run_node_attempts`
(async) or :meth:`Executor._run_node_attempts_blocking` (worker thread).
Edges are unbounded in-memory queues; bounded queues (backpressure) can
replace :class:`_Inbox` without touching nodes.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from remotemedia.errors import CircuitOpenError, NodeError, NodeExecutionError, describe_input
from remotemedia.graph import Edge, PipelineGraph
from remotemedia.hooks import HookSet
from remotemedia.reliability import (
    CLOSED,
    AttemptRecord,
    CircuitBreaker,
    CircuitBreakerRegistry,
    RetryPolicy,
    node_circuit_key,
)

#: Input key of a source node fed with the pipeline input.
INPUT_KEY = "__input__"
DEFAULT_MAX_CONCURRENCY = 256

_EOF = object()
_run_ids = itertools.count(1)
_shared_pool: Optional[ThreadPoolExecutor] = None
_shared_lock = threading.Lock()


class _SourceMode:
    """Sentinel input: sources are called without data and produce the stream."""

    def __repr__(self) -> str:
        return "SOURCE_MODE"


SOURCE_MODE = _SourceMode()


def default_max_workers() -> int:
    """``REMOTEMEDIA_MAX_WORKERS`` if set, else ``min(32, cpu_count + 4)`` (the stdlib default)."""
    env = os.environ.get("REMOTEMEDIA_MAX_WORKERS", "").strip()
    if env:
        return max(1, int(env))
    return min(32, (os.cpu_count() or 1) + 4)


def shared_thread_pool() -> ThreadPoolExecutor:
    """The process-wide pool that every executor uses unless given its own."""
    global _shared_pool
    with _shared_lock:
        if _shared_pool is None:
            _shared_pool = ThreadPoolExecutor(max_workers=default_max_workers(), thread_name_prefix="remotemedia")
        return _shared_pool


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        outputs: sink node id -> its outputs, in order.
        node_results: node id -> its outputs, for every node (only when the
            run kept intermediate results).
        run_id: the id passed to hooks.
    """

    outputs: Dict[str, List[Any]]
    node_results: Dict[str, List[Any]] = field(default_factory=dict)
    run_id: int = 0


class _Inbox:
    """A node's input: items per input key, zipped in arrival order."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.pending: Dict[str, Deque[Any]] = {k: deque() for k in self.keys}
        self.open = set(self.keys)
        self.changed = asyncio.Event()

    def put(self, key: str, items: Any) -> None:
        if items is _EOF:
            self.open.discard(key)
        else:
            self.pending[key].extend(items)
        self.changed.set()

    def take_ready(self) -> List[Any]:
        """Every complete set of inputs available now (bare items for one key, dicts for several)."""
        if len(self.keys) == 1:
            queue = self.pending[self.keys[0]]
            batch = list(queue)
            queue.clear()
            return batch
        n = min(len(q) for q in self.pending.values())
        return [{k: self.pending[k].popleft() for k in self.keys} for _ in range(n)]

    @property
    def exhausted(self) -> bool:
        """Every input has ended (whatever is left cannot form a complete set)."""
        return not self.open and (len(self.keys) == 1 or any(not q for q in self.pending.values()))

    def leftovers(self) -> Dict[str, int]:
        return {k: len(q) for k, q in self.pending.items() if q}

    async def batches(self) -> AsyncIterator[List[Any]]:
        while True:
            batch = self.take_ready()
            if batch:
                yield batch
            elif self.exhausted:
                return
            else:
                self.changed.clear()
                await self.changed.wait()


@dataclass
class _NodeCtx:
    node_id: str
    node: Any
    node_type: str
    mode: str  # "sync" | "async" | "asyncgen"
    out_edges: List[Edge]
    multi_port: bool
    is_sink: bool
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    circuit_key: Optional[Callable[[Any], Optional[str]]] = None
    breaker: Optional[CircuitBreaker] = None  # the node type's, when the node has no circuit_key


@dataclass
class _Retry:
    """A sync batch stopped at ``index`` to wait ``delay_s`` before attempt ``attempt`` of that item."""

    index: int
    attempt: int
    delay_s: float
    history: List[AttemptRecord]


class _Run:
    """The state of one execution of a graph."""

    def __init__(self, graph: PipelineGraph, nodes: Dict[str, Any], *, keep_results: bool,
                 on_sink: Optional[Callable[[str, Any], None]],
                 policies: Optional[Dict[str, RetryPolicy]] = None) -> None:
        self.graph = graph
        self.nodes = nodes
        self.policies = policies or {}
        self.keep_results = keep_results
        self.on_sink = on_sink
        self.run_id = next(_run_ids)
        self.cancelled = threading.Event()
        self.results: Dict[str, List[Any]] = {n: [] for n in graph.by_id}
        self.sink_outputs: Dict[str, List[Any]] = {n: [] for n in graph.sinks}
        self.finished: List[str] = []
        self.inboxes: Dict[str, _Inbox] = {}



def port_value(out: Any, edge: Edge, multi_port: bool) -> Any:
    """What travels along ``edge``: the whole output, or its ``from_port`` entry
    when the node has several output ports (then the output is a dict keyed by port)."""
    if edge.from_port is None or not multi_port:
        return out
    if not isinstance(out, dict) or edge.from_port not in out:
        raise ValueError(f"output has no port {edge.from_port!r} (expected a dict keyed by port name, "
                         f"given {type(out).__name__})")
    return out[edge.from_port]

class Executor:
    """Runs pipeline graphs on asyncio with bounded concurrency.

    Args:
        max_workers: threads of a pool owned by this executor (closed by
            :meth:`close`); None = the process-wide shared pool
            (:func:`shared_thread_pool`).
        max_concurrency: at most this many node calls in flight per run.
        thread_pool: an existing ``concurrent.futures.ThreadPoolExecutor`` to
            use (the caller owns it); overrides ``max_workers``.
        hooks: lifecycle hooks (see :mod:`remotemedia.hooks`).
        retry: the retry policy of nodes without their own (a
            :class:`~remotemedia.reliability.RetryPolicy` or a dict of its
            fields); None = ``RetryPolicy()`` (3 retries of transient errors).
        breakers: circuit breakers shared by every run of this executor (pass
            one registry to several executors to share them); None = none.
    """

    def __init__(self, *, max_workers: Optional[int] = None, max_concurrency: Optional[int] = None,
                 thread_pool: Optional[ThreadPoolExecutor] = None, hooks: Sequence[Any] = (),
                 retry: Any = None, breakers: Optional[CircuitBreakerRegistry] = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers: expected an int >= 1, given {max_workers!r}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency: expected an int >= 1, given {max_concurrency!r}")
        self.max_workers = max_workers
        self.max_concurrency = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self._given_pool = thread_pool
        self._own_pool: Optional[ThreadPoolExecutor] = None
        self.hooks = HookSet(hooks)
        self.retry_policy: RetryPolicy = RetryPolicy.from_spec(retry) or RetryPolicy()
        self.breakers = breakers

    # ------------------------------------------------------------- resources
    @property
    def thread_pool(self) -> ThreadPoolExecutor:
        if self._given_pool is not None:
            return self._given_pool
        if self.max_workers is None:
            return shared_thread_pool()
        if self._own_pool is None:
            self._own_pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="remotemedia")
        return self._own_pool

    def close(self) -> None:
        """Shuts down the pool this executor owns (a shared or given pool is left alone)."""
        if self._own_pool is not None:
            self._own_pool.shutdown(wait=True)
            self._own_pool = None

    async def call_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(*args)`` in the thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.thread_pool, fn, *args)

    async def lifecycle(self, nodes: Iterable[Any], method: str) -> None:
        """Calls ``node.initialize()`` or ``node.cleanup()`` on every node, concurrently.

        Sync methods run in the thread pool (the base class's trivial ones
        inline); async ones are awaited. Failures raise :class:`NodeError`.
        """
        from remotemedia.nodes.base import Node

        async def one(node: Any) -> None:
            fn = getattr(node, method, None)
            if fn is None:
                return
            try:
                if getattr(type(node), method, None) is getattr(Node, method):
                    fn()
                elif inspect.iscoroutinefunction(fn):
                    await fn()
                else:
                    result = await self.call_blocking(fn)
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:
                raise _node_error(node.id, _type_name(node), 1, exc, f"{method}() failed") from exc

        nodes = list(nodes)
        base = getattr(Node, method)
        if all(getattr(type(n), method, None) is base for n in nodes):
            # only the base class's trivial methods: call them in order, without a task per node
            for node in nodes:
                try:
                    getattr(node, method)()
                except Exception as exc:
                    raise _node_error(node.id, _type_name(node), 1, exc, f"{method}() failed") from exc
            return
        await asyncio.gather(*(one(n) for n in nodes))

    # ------------------------------------------------------------------ runs
    async def run(self, graph: PipelineGraph, nodes: Dict[str, Any], inputs: Any = SOURCE_MODE, *,
                  keep_results: bool = True, pipeline_name: Optional[str] = None,
                  retry_policies: Optional[Dict[str, RetryPolicy]] = None) -> RunResult:
        """Runs ``graph`` once over ``inputs`` and collects the sinks' outputs.

        Args:
            graph: a validated graph.
            nodes: node id -> node instance, for every graph node.
            inputs: items fed to every source node (an iterable or async
                iterable), or :data:`SOURCE_MODE` to call sources without input.
            keep_results: keep every node's outputs (``node_results`` and
                ``NodeError.partial_results``), not only the sinks'.
            pipeline_name: passed to hooks.
            retry_policies: node id -> policy, overriding the node's own
                (``retry_policy`` attribute) and the executor's.

        Raises:
            NodeExecutionError: a node failed (``partial_results`` attached).
        """
        run = _Run(graph, nodes, keep_results=keep_results, on_sink=None, policies=retry_policies)
        await self._execute(run, inputs, pipeline_name)
        return RunResult(outputs=run.sink_outputs, node_results=run.results if keep_results else {}, run_id=run.run_id)

    async def iter_outputs(self, graph: PipelineGraph, nodes: Dict[str, Any], inputs: Any = SOURCE_MODE, *,
                           pipeline_name: Optional[str] = None,
                           retry_policies: Optional[Dict[str, RetryPolicy]] = None) -> AsyncIterator[Tuple[str, Any]]:
        """Runs ``graph`` and yields ``(sink_id, output)`` as soon as each output exists.

        Nothing but the items in flight is kept in memory. Stopping the
        iteration early cancels the run.
        """
        queue: asyncio.Queue = asyncio.Queue()
        run = _Run(graph, nodes, keep_results=False, on_sink=lambda sink, item: queue.put_nowait((sink, item)),
                   policies=retry_policies)

        async def drive() -> None:
            try:
                await self._execute(run, inputs, pipeline_name)
            finally:
                queue.put_nowait(_EOF)

        task = asyncio.ensure_future(drive())
        try:
            while True:
                msg = await queue.get()
                if msg is _EOF:
                    break
                yield msg
                del msg  # keep no output alive while waiting for the next
            await task  # re-raises a failure
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _execute(self, run: _Run, inputs: Any, pipeline_name: Optional[str]) -> None:
        graph = run.graph
        source_mode = inputs is SOURCE_MODE
        chain = graph.chain_order() if type(inputs) is list else None
        if chain is None:
            for node_id in graph.by_id:
                keys = [e.key for e in graph.inputs[node_id]]
                if not keys and not source_mode:
                    keys = [INPUT_KEY]
                run.inboxes[node_id] = _Inbox(keys)
        self.hooks.call("before_run", run_id=run.run_id, pipeline_name=pipeline_name, graph=graph, nodes=run.nodes)
        t0 = time.perf_counter_ns()
        error: Optional[BaseException] = None
        tasks: List["asyncio.Future[Any]"] = []
        try:
            ctxs = self._chain_contexts(run, chain) if chain is not None else None
            if ctxs is not None:
                tasks = await self._run_chain(run, ctxs, inputs)
            else:
                if chain is not None:  # a chain that needs the general path: its inboxes were not made
                    for node_id in graph.by_id:
                        run.inboxes[node_id] = _Inbox([e.key for e in graph.inputs[node_id]] or [INPUT_KEY])
                semaphore = asyncio.Semaphore(self.max_concurrency)
                tasks = [asyncio.ensure_future(self._node_task(run, node_id, semaphore)) for node_id in graph.by_id]
                if not source_mode:
                    tasks.append(asyncio.ensure_future(self._feed(run, inputs)))
            if tasks:
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
                if failed:
                    error = failed[0].exception()
                    await _cancel_all(run, pending)
                    if isinstance(error, NodeError):
                        error.partial_results = {n: run.results[n] for n in run.finished} if run.keep_results else {}
                    raise error
        except BaseException as exc:  # includes cancellation of the run itself
            error = error or exc
            await _cancel_all(run, [t for t in tasks if not t.done()])
            raise
        finally:
            self.hooks.call("after_run", run_id=run.run_id, pipeline_name=pipeline_name,
                            duration_ns=time.perf_counter_ns() - t0, error=error)

    async def _feed(self, run: _Run, inputs: Any) -> None:
        """Sends the pipeline input to every source node."""
        boxes = [run.inboxes[n] for n in run.graph.sources]
        if isinstance(inputs, list):
            for box in boxes:
                box.put(INPUT_KEY, inputs)
        elif hasattr(inputs, "__aiter__"):
            async for item in inputs:
                for box in boxes:
                    box.put(INPUT_KEY, (item,))
        else:
            for i, item in enumerate(inputs):
                for box in boxes:
                    box.put(INPUT_KEY, (item,))
                if i % 64 == 63:
                    await asyncio.sleep(0)
        for box in boxes:
            box.put(INPUT_KEY, _EOF)

    # ------------------------------------------------- a chain in one hop
    def _chain_contexts(self, run: _Run, chain: List[str]) -> Optional[List[_NodeCtx]]:
        """The contexts of a chain's nodes when all of them can run in one thread hop, else None.

        That is: every node has a sync, non-streaming ``process``, and every
        edge carries the whole output (no port of a multi-port node).
        """
        ctxs = [self._node_ctx(run, node_id) for node_id in chain]
        for ctx in ctxs:
            if (ctx.mode != "sync" or getattr(ctx.node, "is_streaming", False)
                    or (ctx.multi_port and any(e.from_port is not None for e in ctx.out_edges))):
                return None
        return ctxs

    async def _run_chain(self, run: _Run, ctxs: List[_NodeCtx], items: List[Any]) -> List["asyncio.Future[Any]"]:
        """Runs a chain of sync nodes over a list of items with one thread hop.

        This is what the general path does for such a chain, without a task,
        an inbox and a thread hop per node: there, the first node gets every
        item as one batch, and each node gets its predecessor's outputs as one
        batch once the predecessor has finished. Here one worker thread runs
        the nodes' batches one after the other (the same calls, attempts,
        breakers and hooks, in the same order) until the end of the chain, or
        until a node needs the event loop: a retry's backoff wait, a final
        failure, or a result that is awaitable or an async iterator. From that
        node on, the general path takes over (returned: its tasks).
        """
        if not items:  # no calls: every node ends at once, in order
            run.finished.extend(ctx.node_id for ctx in ctxs)
            return []
        j, batch, results, stop = await self.call_blocking(self._chain_blocking, run, ctxs, list(items))
        ctx = ctxs[j]
        if stop is None and not any(_needs_loop(r) for r in results):  # the chain ran to its end
            for result in results:
                self._emit(run, ctx, result)
            run.finished.append(ctx.node_id)
            return []
        # node j goes on in the general path, with the outcome of its first batch call, and so do the rest
        graph = run.graph
        for c in ctxs[j:]:
            run.inboxes[c.node_id] = _Inbox([e.key for e in graph.inputs[c.node_id]] or [INPUT_KEY])
        run.inboxes[ctx.node_id].put(run.inboxes[ctx.node_id].keys[0], _EOF)  # its whole input is ``batch``
        semaphore = asyncio.Semaphore(self.max_concurrency)
        tasks = [asyncio.ensure_future(self._node_task(run, ctx.node_id, semaphore, ctx=ctx,
                                                       first=(batch, results, stop)))]
        tasks += [asyncio.ensure_future(self._node_task(run, c.node_id, semaphore)) for c in ctxs[j + 1:]]
        return tasks

    def _chain_blocking(self, run: _Run, ctxs: List[_NodeCtx], batch: List[Any]
                        ) -> Tuple[int, List[Any], List[Any], Union[None, _Retry, NodeExecutionError]]:
        """In a worker thread: each node's batch in turn (see :meth:`_run_chain`).

        Returns ``(j, batch, results, stop)``: node ``j`` (the last, or the
        one that needs the loop) got ``batch`` and gave ``results`` and
        ``stop`` (as :meth:`_run_node_attempts_blocking`); the nodes before it
        have finished and their outputs are recorded.
        """
        keep = run.keep_results
        last = len(ctxs) - 1
        j = 0
        while True:
            ctx = ctxs[j]
            results, stop = self._run_node_attempts_blocking(run, ctx, batch)
            if j == last or stop is not None or run.cancelled.is_set():
                return j, batch, results, stop
            outs = []
            for result in results:
                if _needs_loop(result):
                    return j, batch, results, stop
                if result is not None:
                    outs.append(result)
            if keep:
                run.results[ctx.node_id].extend(outs)
            run.finished.append(ctx.node_id)
            batch = outs
            j += 1

    # ------------------------------------------------------------ one node
    def _node_ctx(self, run: _Run, node_id: str) -> _NodeCtx:
        node = run.nodes[node_id]
        out_edges = run.graph.outputs[node_id]
        policy = (run.policies.get(node_id) or RetryPolicy.from_spec(getattr(node, "retry_policy", None))
                  or self.retry_policy)
        key_fn = getattr(node, "circuit_key", None)
        ctx = _NodeCtx(node_id, node, _type_name(node), _mode_of(node.process), out_edges,
                       multi_port=len(getattr(node, "output_types", None) or ()) > 1,
                       is_sink=not out_edges, policy=policy, circuit_key=key_fn if callable(key_fn) else None)
        if self.breakers is not None and ctx.circuit_key is None:
            ctx.breaker = self.breakers.get(node_circuit_key(ctx.node_type))
        return ctx

    async def _node_task(self, run: _Run, node_id: str, semaphore: asyncio.Semaphore, *,
                         ctx: Optional[_NodeCtx] = None,
                         first: Optional[Tuple[List[Any], List[Any], Union[None, _Retry, NodeExecutionError]]] = None,
                         ) -> None:
        """Runs one node over its inputs. ``ctx``/``first``: a node taken over from :meth:`_run_chain`,
        with its context, and its whole input batch with the outcome of the first call on it."""
        if ctx is None:
            ctx = self._node_ctx(run, node_id)
        node = ctx.node
        out_edges = ctx.out_edges
        inbox = run.inboxes[node_id]
        if first is not None:
            batch, results, stop = first
            await self._process_batch(run, ctx, batch, semaphore, first=(results, stop))
            del batch, results, first
        if not inbox.keys:  # a source in source mode: one call without input
            await self._run_node_attempts(run, ctx, _NO_ARG, semaphore=None)
        elif getattr(node, "is_streaming", False):
            await self._run_node_attempts(run, ctx, _stream_of(inbox), semaphore=None, retryable=False)
        else:
            async for batch in inbox.batches():
                await self._process_batch(run, ctx, batch, semaphore)
                del batch  # keep no item alive while waiting for the next batch
            leftovers = inbox.leftovers()
            if leftovers:
                counts = ", ".join(f"{k!r}: {n} unmatched" for k, n in leftovers.items())
                exc = ValueError(f"fan-in inputs ended with different numbers of items ({counts})")
                raise _node_error(node_id, ctx.node_type, 1, exc) from exc
        # Only a node that finished tells its consumers so; a failure cancels them instead.
        for edge in out_edges:
            run.inboxes[edge.dst].put(edge.key, _EOF)
        run.finished.append(node_id)

    async def _process_batch(self, run: _Run, ctx: _NodeCtx, batch: List[Any], semaphore: asyncio.Semaphore,
                             first: Optional[Tuple[List[Any], Union[None, _Retry, NodeExecutionError]]] = None,
                             ) -> None:
        """Processes one batch of a node (``first``: the outcome of the first call on it, already made)."""
        if ctx.mode == "sync":
            pending, attempt, history = batch, 1, []
            while pending:
                if first is not None:
                    (results, retry), first = first, None
                else:
                    async with semaphore:
                        results, retry = await self.call_blocking(self._run_node_attempts_blocking, run, ctx,
                                                                  pending, attempt, history)
                for result in results:
                    if _needs_loop(result):
                        await self._guarded(ctx, 1, self._emit_result(run, ctx, result))
                    else:
                        self._emit(run, ctx, result)
                if retry is None:
                    break
                if isinstance(retry, NodeExecutionError):
                    raise retry  # after emitting the items that succeeded before it
                await asyncio.sleep(retry.delay_s)  # the backoff wait: on the loop, no thread held
                pending, attempt, history = pending[retry.index:], retry.attempt, retry.history
        else:
            for item in batch:
                await self._run_node_attempts(run, ctx, item, semaphore=semaphore)

    # ------------------------------------------------- attempts and retries
    def _breaker(self, ctx: _NodeCtx, item: Any) -> Optional[CircuitBreaker]:
        if self.breakers is None or ctx.circuit_key is None:
            return ctx.breaker
        key = ctx.circuit_key(None if item is _NO_ARG else item)
        return self.breakers.get(key or node_circuit_key(ctx.node_type))

    def _retry_delay(self, run: _Run, ctx: _NodeCtx, exc: BaseException, attempt: int) -> Optional[float]:
        """The wait before the next attempt, or None when the failure is final."""
        if run.cancelled.is_set() or (isinstance(exc, NodeError) and getattr(exc, "node_id", None) == ctx.node_id):
            return None
        decision = ctx.policy.decide(exc, attempt)
        return decision.delay_s if decision.retry else None

    def _finish_attempt(self, run: _Run, ctx: _NodeCtx, history: List[AttemptRecord], attempt: int,
                        error: Optional[BaseException], delay_s: Optional[float], t0: int, ran: bool = True,
                        result: Any = None) -> None:
        duration_ns = time.perf_counter_ns() - t0
        if error is not None or attempt > 1:
            history.append(AttemptRecord(ctx.node_id, ctx.node_type, attempt, error, delay_s, ran, duration_ns))
        for hook in self.hooks.after_node:
            hook(run_id=run.run_id, node_id=ctx.node_id, node_type=ctx.node_type, attempt=attempt,
                 duration_ns=duration_ns, error=error, delay_s=delay_s, ran=ran, result=result)

    def _failure(self, ctx: _NodeCtx, attempt: int, history: List[AttemptRecord], item: Any,
                 exc: BaseException) -> NodeExecutionError:
        return _node_error(ctx.node_id, ctx.node_type, attempt, exc, history=history, item=item)

    def _refused(self, run: _Run, ctx: _NodeCtx, history: List[AttemptRecord], attempt: int, item: Any,
                 exc: CircuitOpenError) -> NodeExecutionError:
        """Records an attempt a breaker refused (the node did not run) and returns the final error."""
        if self.hooks.has_node_hooks:
            self.hooks.call("before_node", run_id=run.run_id, node_id=ctx.node_id, node_type=ctx.node_type,
                            attempt=attempt, item=item)
        self._finish_attempt(run, ctx, history, attempt, exc, None, time.perf_counter_ns(), ran=False)
        return self._failure(ctx, attempt, history, item, exc)

    async def _run_node_attempts(self, run: _Run, ctx: _NodeCtx, item: Any,
                                 semaphore: Optional[asyncio.Semaphore], retryable: bool = True) -> None:
        """Calls ``process`` on one item on the loop, with retries, and emits what it gives (async seam)."""
        hooks = self.hooks
        history: List[AttemptRecord] = []
        attempt = 0
        while True:
            attempt += 1
            breaker = self._breaker(ctx, item)
            if breaker is not None:
                try:
                    breaker.before_call()
                except CircuitOpenError as exc:
                    raise self._refused(run, ctx, history, attempt, item, exc) from exc
            if hooks.has_node_hooks:
                hooks.call("before_node", run_id=run.run_id, node_id=ctx.node_id, node_type=ctx.node_type,
                           attempt=attempt, item=item)
            t0 = time.perf_counter_ns()
            emitted = [0]
            try:
                if semaphore is not None:
                    async with semaphore:
                        result = await self._call_and_emit(run, ctx, item, emitted)
                else:
                    result = await self._call_and_emit(run, ctx, item, emitted)
            except Exception as exc:
                if breaker is not None:
                    breaker.on_failure(exc)
                delay = self._retry_delay(run, ctx, exc, attempt) if retryable and not emitted[0] else None
                self._finish_attempt(run, ctx, history, attempt, exc, delay, t0)
                if delay is None:
                    raise self._failure(ctx, attempt, history, item, exc) from exc
                await asyncio.sleep(delay)
                continue
            except BaseException:  # cancelled: no verdict
                if breaker is not None:
                    breaker.release()
                raise
            if breaker is not None:
                breaker.on_success()
            self._finish_attempt(run, ctx, history, attempt, None, None, t0, result=result)
            return

    async def _call_and_emit(self, run: _Run, ctx: _NodeCtx, item: Any, emitted: List[int]) -> Any:
        process = ctx.node.process
        if item is _NO_ARG:
            args: Tuple[Any, ...] = () if _takes_no_argument(process) else (None,)
        else:
            args = (item,)
        if ctx.mode == "sync":  # sources and streaming nodes with a sync process
            result = await self.call_blocking(process, *args)
        else:
            result = process(*args)
        return await self._emit_result(run, ctx, result, emitted)

    def _run_node_attempts_blocking(self, run: _Run, ctx: _NodeCtx, batch: List[Any], first_attempt: int = 1,
                                    first_history: Optional[List[AttemptRecord]] = None,
                                    ) -> Tuple[List[Any], Union[None, _Retry, NodeExecutionError]]:
        """Calls a sync ``process`` on each item of ``batch`` in a worker thread (the blocking seam).

        ``first_attempt``/``first_history`` continue the attempts of
        ``batch[0]``. Returns the results of the items that succeeded and what
        stopped the batch: None (nothing), a :class:`_Retry` (an item failed
        transiently: where to resume after the backoff wait, which the caller
        awaits on the event loop, not in this thread) or the final
        :class:`NodeExecutionError` (raised by the caller after emitting the
        results, so no finished output is lost).
        """
        results: List[Any] = []
        try:
            return self._attempts_blocking(run, ctx, batch, first_attempt, first_history, results)
        except NodeExecutionError as err:
            return results, err

    def _attempts_blocking(self, run: _Run, ctx: _NodeCtx, batch: List[Any], first_attempt: int,
                           first_history: Optional[List[AttemptRecord]],
                           results: List[Any]) -> Tuple[List[Any], Optional[_Retry]]:
        process = ctx.node.process
        hooks = self.hooks
        if not hooks.has_node_hooks and ctx.breaker is None and ctx.circuit_key is None and first_attempt == 1:
            # the plain loop: no hooks, no breaker, a first attempt (nothing to record unless it fails)
            for index, item in enumerate(batch):
                if run.cancelled.is_set():
                    break
                t0 = time.perf_counter_ns()
                try:
                    results.append(process(item))
                except Exception as exc:
                    return results, self._blocking_failure(run, ctx, index, item, 1, [], exc, None, t0)
            return results, None
        has_hooks = hooks.has_node_hooks
        before_hooks, after_hooks = hooks.before_node, hooks.after_node
        run_id, node_id, node_type = run.run_id, ctx.node_id, ctx.node_type
        cancelled = run.cancelled.is_set
        perf_ns = time.perf_counter_ns
        breaker = ctx.breaker
        attempt, history = first_attempt, list(first_history or ())
        for index, item in enumerate(batch):
            if cancelled():
                break
            if index:
                attempt = 1
                if history:
                    history = []
            if ctx.circuit_key is not None:
                breaker = self._breaker(ctx, item)
            if breaker is not None and breaker.state_unchecked != CLOSED:
                try:
                    breaker.before_call()
                except CircuitOpenError as exc:
                    raise self._refused(run, ctx, history, attempt, item, exc) from exc
            for hook in before_hooks:
                hook(run_id=run_id, node_id=node_id, node_type=node_type, attempt=attempt, item=item)
            t0 = perf_ns()
            try:
                result = process(item)
                results.append(result)
            except Exception as exc:
                return results, self._blocking_failure(run, ctx, index, item, attempt, history, exc, breaker, t0)
            except BaseException:
                if breaker is not None:
                    breaker.release()
                raise
            if breaker is not None and (breaker.fail_counter or breaker.state_unchecked != CLOSED):
                breaker.on_success()
            if attempt > 1:
                self._finish_attempt(run, ctx, history, attempt, None, None, t0, result=result)
            elif has_hooks:  # _finish_attempt of a first attempt that succeeded: nothing to record
                duration_ns = perf_ns() - t0
                for hook in after_hooks:
                    hook(run_id=run_id, node_id=node_id, node_type=node_type, attempt=1, duration_ns=duration_ns,
                         error=None, delay_s=None, ran=True, result=result)
        return results, None

    def _blocking_failure(self, run: _Run, ctx: _NodeCtx, index: int, item: Any, attempt: int,
                          history: List[AttemptRecord], exc: Exception, breaker: Optional[CircuitBreaker],
                          t0: int) -> _Retry:
        """Records a failed attempt in a worker thread: where to resume, or raises the final error."""
        if breaker is not None:
            breaker.on_failure(exc)
        delay = self._retry_delay(run, ctx, exc, attempt)
        self._finish_attempt(run, ctx, history, attempt, exc, delay, t0)
        if delay is None:
            raise self._failure(ctx, attempt, history, item, exc) from exc
        return _Retry(index, attempt + 1, delay, history)

    async def _guarded(self, ctx: _NodeCtx, attempt: int, coro: Awaitable[None]) -> None:
        try:
            await coro
        except NodeError:
            raise
        except Exception as exc:
            raise _node_error(ctx.node_id, ctx.node_type, attempt, exc) from exc

    async def _emit_result(self, run: _Run, ctx: _NodeCtx, result: Any, emitted: Optional[List[int]] = None) -> Any:
        """Emits ``result`` (awaited, or iterated when it is an async iterator); returns it when it is one value."""
        if inspect.isawaitable(result):
            result = await result
        if hasattr(result, "__anext__"):
            try:
                async for out in result:
                    if emitted is not None:
                        emitted[0] += 1
                    self._emit(run, ctx, out)
                    del out  # keep no item alive while the generator makes the next
            finally:
                if hasattr(result, "aclose"):
                    await result.aclose()
            return None
        self._emit(run, ctx, result)
        return result

    def _emit(self, run: _Run, ctx: _NodeCtx, out: Any) -> None:
        if out is None:
            return
        if run.keep_results:
            run.results[ctx.node_id].append(out)
        if ctx.is_sink:
            if run.on_sink is not None:  # streaming: the consumer owns the output, nothing is kept
                run.on_sink(ctx.node_id, out)
            else:
                run.sink_outputs[ctx.node_id].append(out)
            return
        for edge in ctx.out_edges:
            run.inboxes[edge.dst].put(edge.key, (port_value(out, edge, ctx.multi_port),))


_NO_ARG = object()
_NOTHING = object()
#: Result types that are never awaitable nor async iterators (skips the generic checks).
_PLAIN_TYPES = frozenset((type(None), bool, int, float, complex, str, bytes, bytearray, tuple, list, dict))


def _needs_loop(result: Any) -> bool:
    """Whether a sync ``process`` result must be awaited or iterated on the event loop."""
    if type(result) in _PLAIN_TYPES:
        return False
    return inspect.isawaitable(result) or hasattr(result, "__anext__")


_MODES: Dict[Any, str] = {}


def _mode_of(process: Callable[..., Any]) -> str:
    """``"asyncgen"``, ``"async"`` or ``"sync"``: how ``process`` is called (cached per class function)."""
    func = getattr(process, "__func__", None)  # a bound method: the answer is its function's
    if func is not None:
        mode = _MODES.get(func)
        if mode is not None:
            return mode
    if inspect.isasyncgenfunction(process):
        mode = "asyncgen"
    else:
        mode = "async" if inspect.iscoroutinefunction(process) else "sync"
    if func is not None:
        if len(_MODES) > 4096:
            _MODES.clear()
        _MODES[func] = mode
    return mode


def _takes_no_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


async def _stream_of(inbox: _Inbox) -> AsyncIterator[Any]:
    async for batch in inbox.batches():
        for item in batch:
            yield item


async def _cancel_all(run: _Run, pending: Iterable["asyncio.Future[Any]"]) -> None:
    run.cancelled.set()
    pending = list(pending)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def node_type_of(node: Any) -> str:
    """The registered type name of ``node``'s class, or the class name when it is not registered."""
    return type(node).__dict__.get("node_type") or type(node).__name__


_type_name = node_type_of


def _node_error(node_id: str, node_type: str, attempt: int, exc: BaseException, what: str = "", *,
                history: Sequence[AttemptRecord] = (), item: Any = _NOTHING) -> NodeExecutionError:
    detail = f"{type(exc).__name__}: {exc}"
    described: Optional[str]
    if item is _NOTHING:
        described = None
    elif item is _NO_ARG:
        described = "no input (source call)"
    elif hasattr(item, "__anext__"):
        described = "a stream of items"
    else:
        described = describe_input(item)
    return NodeExecutionError(f"{what}: {detail}" if what else detail, node_id=node_id, node_type=node_type,
                              attempt=attempt, attempt_history=history, input_description=described)
