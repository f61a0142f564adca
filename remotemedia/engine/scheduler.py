"""The asyncio scheduler: every node of a run is a task; edges are inboxes.

One scheduler for item runs and chunk streams (see :mod:`.run` for the
difference). Each node task waits for inputs on its :class:`Inbox` and calls
the node per input (a fan-in node once per set of one input from each edge,
in order, keyed by source node id or ``to_port``). A node starts as soon as
all its inputs have an item: no level-by-level barriers, independent branches
run concurrently.

- A sync function runs in the engine's thread pool; the inputs a node has
  ready go to the pool as one batch (:func:`.inline.run_batch`), so cheap
  nodes cost one thread hop per batch, not per input. A backoff wait returns
  to the loop first (no thread held while waiting).
- An ``async def`` is awaited; an async generator yields zero or more outputs.
- A node with ``is_streaming = True`` is called once with an async iterator
  of all its inputs.
- Per node, inputs are processed one after another, in order.
- Item runs: inboxes are unbounded; at most ``max_concurrency`` calls (or
  batches) are in flight. A chain of sync nodes fed a list runs in one thread
  hop (:func:`.inline.run_chain`) and hands over to the tasks when a node
  needs the loop.
- Chunk streams: inboxes hold ``queue_chunks`` chunks per edge (backpressure:
  a slow node stalls its producers); ``begin_stream`` before the first chunk,
  ``flush`` after the last, ``abort_stream``/``reset`` when the run fails; a
  chunk source is read in the pool, ``queue_chunks`` chunks at a time, so
  reading overlaps the computing.
- A failing node stops the run: pending tasks are cancelled, a running thread
  finishes its current input, and the node's
  :class:`~remotemedia.errors.NodeExecutionError` is raised with
  ``partial_results`` (the outputs of every node that finished).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, AsyncIterator, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

from remotemedia.engine.attempts import NO_ARG, node_error
from remotemedia.engine.inline import Retry, Stop, needs_loop, run_batch, run_chain
from remotemedia.engine.run import CHUNKS, INPUT_KEY, SINK, NodeRuntime, Run
from remotemedia.errors import NodeError, NodeExecutionError
from remotemedia.nodes.protocol import Outputs, abort_methods

_EOF = object()


class Inbox:
    """A node's inputs: items per input key, zipped in arrival order; bounded by ``capacity`` when given."""

    def __init__(self, keys: Sequence[str], capacity: Optional[int] = None) -> None:
        self.keys = list(keys)
        self.capacity = capacity
        self.pending: Dict[str, Deque[Any]] = {k: deque() for k in self.keys}
        self.open = set(self.keys)
        self.changed = asyncio.Event()
        self.space = asyncio.Event()

    def put_nowait(self, key: str, items: Any) -> None:
        """Adds ``items`` (an iterable) for ``key``, ignoring the capacity."""
        self.pending[key].extend(items)
        self.changed.set()

    async def put(self, key: str, item: Any) -> None:
        """Adds one item for ``key``, waiting while the edge is full."""
        q = self.pending[key]
        while self.capacity is not None and len(q) >= self.capacity:
            self.space.clear()
            await self.space.wait()
        q.append(item)
        self.changed.set()

    def close(self, key: str) -> None:
        """The edge ``key`` has ended."""
        self.open.discard(key)
        self.changed.set()

    def take_ready(self, limit: Optional[int]) -> List[Any]:
        """Up to ``limit`` complete sets of inputs available now (bare items for one key, dicts for several)."""
        if len(self.keys) == 1:
            q = self.pending[self.keys[0]]
            if limit is None or len(q) <= limit:
                batch = list(q)
                q.clear()
            else:
                batch = [q.popleft() for _ in range(limit)]
        else:
            n = min(len(q) for q in self.pending.values())
            if limit is not None:
                n = min(n, limit)
            batch = [{k: self.pending[k].popleft() for k in self.keys} for _ in range(n)]
        if batch:
            self.space.set()
        return batch

    @property
    def exhausted(self) -> bool:
        """Every input has ended (whatever is left cannot form a complete set)."""
        return not self.open and (len(self.keys) == 1 or any(not q for q in self.pending.values()))

    def leftovers(self) -> Dict[str, int]:
        return {k: len(q) for k, q in self.pending.items() if q}

    async def batches(self, limit: Optional[int]) -> AsyncIterator[List[Any]]:
        while True:
            batch = self.take_ready(limit)
            if batch:
                yield batch
            elif self.exhausted:
                return
            else:
                self.changed.clear()
                await self.changed.wait()


class Scheduler:
    """Runs one :class:`~remotemedia.engine.run.Run` on the event loop.

    Args:
        engine: gives the thread pool (``call_blocking``) and ``max_concurrency``.
        run: the run.
        sink: where sink outputs go: an :class:`asyncio.Queue` of ``(sink_id,
            output)`` (the consumer's), or None to collect them in
            ``run.sink_outputs``.
    """

    def __init__(self, engine: Any, run: Run, sink: Optional["asyncio.Queue[Any]"] = None) -> None:
        self.engine = engine
        self.run = run
        self.sink = sink
        self.inboxes: Dict[str, Inbox] = {}
        self.semaphore: Optional[asyncio.Semaphore] = None
        self.chunks = run.mode == CHUNKS

    # ------------------------------------------------------------------ a run
    async def execute(self, inputs: Any) -> None:
        """Runs the graph over ``inputs`` (items or chunks for the fed sources, or None)."""
        run = self.run
        run.before_run()
        t0 = time.perf_counter_ns()
        error: Optional[BaseException] = None
        tasks: List["asyncio.Future[Any]"] = []
        try:
            chain = run.graph.chain_order() if (not self.chunks and type(inputs) is list) else None
            rts = self._chain_runtimes(chain) if chain is not None else None
            if rts is not None:
                tasks = await self._run_chain(rts, inputs)
            else:
                self._make_inboxes(run.graph.by_id)
                tasks = [asyncio.ensure_future(self._node_task(rt)) for rt in run.runtimes.values()]
                if inputs is not None:
                    tasks.append(asyncio.ensure_future(self._feed(inputs)))
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
                if failed:
                    error = failed[0].exception()
                    await self._cancel_all([t for t in tasks if not t.done()])
                    if isinstance(error, NodeError):
                        error.partial_results = run.partial_results()
                    raise error
        except BaseException as exc:  # includes cancellation of the run itself
            error = error or exc
            await self._cancel_all([t for t in tasks if not t.done()])
            raise
        finally:
            run.after_run(time.perf_counter_ns() - t0, error)

    def _make_inboxes(self, node_ids: Any) -> None:
        capacity = self.run.queue_chunks if self.chunks else None
        for node_id in node_ids:
            rt = self.run.runtimes[node_id]
            if rt.in_keys:
                self.inboxes[node_id] = Inbox(rt.in_keys, capacity)

    def _get_semaphore(self) -> asyncio.Semaphore:
        if self.semaphore is None:
            self.semaphore = asyncio.Semaphore(self.engine.max_concurrency)
        return self.semaphore

    async def _cancel_all(self, pending: List["asyncio.Future[Any]"]) -> None:
        self.run.cancelled.set()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _feed(self, inputs: Any) -> None:
        """Sends the input to every fed source node."""
        boxes = [self.inboxes[rt.node_id] for rt in self.run.runtimes.values() if INPUT_KEY in rt.in_keys]
        if isinstance(inputs, list) and not self.chunks:
            for box in boxes:
                box.put_nowait(INPUT_KEY, inputs)
        elif hasattr(inputs, "__aiter__"):
            async for item in inputs:
                for box in boxes:
                    await box.put(INPUT_KEY, item)
        elif self.chunks:  # a sync iterator of chunks may block (a file): advanced in the pool
            iterator = iter(inputs)
            ended = False
            while not ended:
                items, ended = await self.engine.pool.call_to_end(_pull, iterator, self.run.queue_chunks)
                for item in items:
                    for box in boxes:
                        await box.put(INPUT_KEY, item)
        else:
            for i, item in enumerate(inputs):
                for box in boxes:
                    box.put_nowait(INPUT_KEY, (item,))
                if i % 64 == 63:
                    await asyncio.sleep(0)
        for box in boxes:
            box.close(INPUT_KEY)

    # ------------------------------------------------- a chain in one hop
    def _chain_runtimes(self, chain: List[str]) -> Optional[List[NodeRuntime]]:
        """The chain's runtimes when all of them can run in one thread hop: sync, not streaming,
        every edge carrying the whole output."""
        rts = [self.run.runtimes[n] for n in chain]
        for rt in rts:
            if (rt.fn_mode != "sync" or rt.traits.is_streaming
                    or (rt.multi_port and any(e.from_port is not None for e in rt.out_edges))):
                return None
        return rts

    async def _run_chain(self, rts: List[NodeRuntime], items: List[Any]) -> List["asyncio.Future[Any]"]:
        """Runs a chain of sync nodes over a list with one thread hop (see :func:`.inline.run_chain`).

        From the node that needs the loop on, the tasks take over (returned).
        """
        run = self.run
        if not items:  # no calls: every node ends at once, in order
            run.finished.extend(rt.node_id for rt in rts)
            return []
        j, batch, results, stop = await self.engine.call_blocking(self._chain_blocking, rts, list(items))
        rt = rts[j]
        if stop is None and not any(needs_loop(r) for r in results):  # the chain ran to its end
            for result in results:
                await self._emit(rt, result)
            run.finished.append(rt.node_id)
            return []
        # node j goes on in the tasks, with the outcome of its first batch call, and so do the rest
        self._make_inboxes(r.node_id for r in rts[j:])
        self.inboxes[rt.node_id].close(self.inboxes[rt.node_id].keys[0])  # its whole input is ``batch``
        tasks = [asyncio.ensure_future(self._node_task(rt, first=(batch, results, stop)))]
        tasks += [asyncio.ensure_future(self._node_task(r)) for r in rts[j + 1:]]
        return tasks

    def _chain_blocking(self, rts: List[NodeRuntime], batch: List[Any]) -> Tuple[int, List[Any], List[Any], Stop]:
        return run_chain(self.run, rts, batch)

    def _run_node_attempts_blocking(self, rt: NodeRuntime, batch: List[Any], attempt: int,
                                    history: list) -> Tuple[List[Any], Stop]:
        return run_batch(self.run, rt, batch, attempt, history)

    # ------------------------------------------------------------ one node
    async def _node_task(self, rt: NodeRuntime, *,
                         first: Optional[Tuple[List[Any], List[Any], Stop]] = None) -> None:
        """Runs one node over its inputs. ``first``: a node taken over from the chain hop, with its
        whole input batch and the outcome of the first call on it."""
        run = self.run
        try:
            if self.chunks and rt.traits.cls.has_begin:
                await self._begin(rt)
            if first is not None:
                batch, results, stop = first
                await self._process_batch(rt, batch, first=(results, stop))
                del batch, results, first
            if not rt.in_keys:
                if self.chunks:
                    await self._chunk_source(rt)
                else:
                    await self._call_async(rt, NO_ARG)
            elif rt.traits.is_streaming:
                await self._call_async(rt, _stream_of(self.inboxes[rt.node_id]), retryable=False)
            else:
                inbox = self.inboxes[rt.node_id]
                limit = run.queue_chunks if self.chunks else None
                async for batch in inbox.batches(limit):
                    await self._process_batch(rt, batch)
                    del batch  # keep no input alive while waiting for the next batch
                self._check_leftovers(rt, inbox)
                if rt.stateful and rt.traits.cls.has_flush:
                    await self._flush(rt)
        except NodeError:
            self._abort(rt)
            raise
        except asyncio.CancelledError:
            self._abort(rt)
            raise
        except Exception as exc:
            self._abort(rt)
            raise node_error(rt.node_id, rt.node_type, 1, exc) from exc
        # Only a node that finished tells its consumers so; a failure cancels them instead.
        for edge in rt.out_edges:
            self.inboxes[edge.dst].close(edge.key)
        run.finished.append(rt.node_id)

    def _check_leftovers(self, rt: NodeRuntime, inbox: Inbox) -> None:
        leftovers = inbox.leftovers()
        if not leftovers:
            return
        if self.chunks:
            ended = sorted(k for k in inbox.keys if k not in leftovers)
            exc: Exception = ValueError(f"fan-in chunk streams ended at different lengths (ended: {ended}, "
                                        f"still running: {sorted(leftovers)})")
        else:
            counts = ", ".join(f"{k!r}: {n} unmatched" for k, n in leftovers.items())
            exc = ValueError(f"fan-in inputs ended with different numbers of items ({counts})")
        raise node_error(rt.node_id, rt.node_type, 1, exc) from exc

    def _abort(self, rt: NodeRuntime) -> None:
        if not self.chunks:
            return
        for method in abort_methods(rt.node, rt.traits.cls):
            try:
                method()
            except Exception:  # noqa: S110 - the run's own error is the one to report
                pass

    async def _begin(self, rt: NodeRuntime) -> None:
        begin, context = rt.node.begin_stream, self.run.context
        if rt.traits.cls.begin_async:
            await begin(**context)
        else:
            await self.engine.pool.call_to_end(lambda: begin(**context))

    async def _flush(self, rt: NodeRuntime) -> None:
        att, flush = rt.attempts, rt.node.flush
        if rt.traits.cls.flush_async:
            async def call() -> Any:
                return await flush()

            result = await att.call_async(call, None, retryable=False)
        else:
            result = await self.engine.pool.call_to_end(lambda: att.call_sync(flush, (), None, retryable=False))
        await self._emit_result(rt, result)

    async def _chunk_source(self, rt: NodeRuntime) -> None:
        it = rt.node.iter_chunks(**self.run.context)
        if hasattr(it, "__aiter__"):
            async for chunk in it:
                await self._emit(rt, chunk)
            return
        iterator = iter(rt.attempts.timed_reads(it))
        ended = False
        while not ended:
            items, ended = await self.engine.pool.call_to_end(_pull, iterator, self.run.queue_chunks)
            for chunk in items:
                await self._emit(rt, chunk)

    async def _process_batch(self, rt: NodeRuntime, batch: List[Any],
                             first: Optional[Tuple[List[Any], Stop]] = None) -> None:
        """Processes one batch of a node (``first``: the outcome of the first call on it, already made)."""
        if rt.fn_mode != "sync":
            for item in batch:
                await self._call_async(rt, item, retryable=rt.retryable)
            return
        pending, attempt, history = batch, 1, []
        while pending:
            if first is not None:
                (results, stop), first = first, None
            else:
                async with self._get_semaphore():
                    results, stop = await self.engine.call_blocking(self._run_node_attempts_blocking, rt, pending,
                                                                    attempt, history)
            for result in results:
                if needs_loop(result) or type(result) is Outputs:
                    await self._guarded(rt, self._emit_result(rt, result))
                else:
                    await self._emit(rt, result)
            if stop is None:
                break
            if isinstance(stop, NodeExecutionError):
                raise stop  # after emitting the items that succeeded before it
            assert isinstance(stop, Retry)
            await asyncio.sleep(stop.delay_s)  # the backoff wait: on the loop, no thread held
            pending, attempt, history = pending[stop.index:], stop.attempt, stop.history

    async def _call_async(self, rt: NodeRuntime, item: Any, retryable: bool = True) -> None:
        """One input through the attempt loop on the event loop (async nodes, sources, streaming nodes)."""
        emitted = [0]
        if item is NO_ARG:
            args: Tuple[Any, ...] = () if rt.traits.cls.source_call_without_argument else (None,)
        else:
            args = (item,)

        async def call() -> Any:
            if rt.fn_mode == "sync":  # sources and streaming nodes with a sync process
                result = await self.engine.call_blocking(rt.fn, *args)
            else:
                result = rt.fn(*args)
            return await self._emit_result(rt, result, emitted)

        bounded = not self.chunks and item is not NO_ARG and not rt.traits.is_streaming

        async def bounded_call() -> Any:
            async with self._get_semaphore():
                return await call()

        await rt.attempts.call_async(bounded_call if bounded else call, item, retryable=retryable and rt.retryable,
                                     emitted=emitted)

    async def _guarded(self, rt: NodeRuntime, coro: Any) -> None:
        try:
            await coro
        except NodeError:
            raise
        except Exception as exc:
            raise node_error(rt.node_id, rt.node_type, 1, exc) from exc

    async def _emit_result(self, rt: NodeRuntime, result: Any, emitted: Optional[List[int]] = None) -> Any:
        """Emits ``result`` (awaited, or iterated when it is an async iterator); returns it when it is one value."""
        if hasattr(result, "__await__"):
            result = await result
        if type(result) is Outputs:
            for out in result:
                await self._emit(rt, out)
            return None
        if hasattr(result, "__anext__"):
            try:
                async for out in result:
                    if emitted is not None:
                        emitted[0] += 1
                    await self._emit(rt, out)
                    del out  # keep no item alive while the generator makes the next
            finally:
                if hasattr(result, "aclose"):
                    await result.aclose()
            return None
        await self._emit(rt, result)
        return result

    async def _emit(self, rt: NodeRuntime, out: Any) -> None:
        for dst, key, value in self.run.route(rt, out):
            if dst is SINK:
                if self.sink is None:
                    self.run.sink_outputs[key].append(value)
                else:
                    await self.sink.put((key, value))
                continue
            box = self.inboxes[dst]
            if box.capacity is None:
                box.put_nowait(key, (value,))
            else:
                await box.put(key, value)


def _pull(iterator: Iterator[Any], n: int) -> Tuple[List[Any], bool]:
    """Up to ``n`` items of ``iterator`` and whether it ended (runs in a worker thread)."""
    items = []
    for _ in range(n):
        try:
            items.append(next(iterator))
        except StopIteration:
            return items, True
    return items, False


async def _stream_of(inbox: Inbox) -> AsyncIterator[Any]:
    async for batch in inbox.batches(None if inbox.capacity is None else inbox.capacity):
        for item in batch:
            yield item
