"""The one-hop path of a chain of sync nodes over a list behaves as the general path.

A chain of sync nodes fed a list runs in one worker thread hop (see
``Executor._run_chain``); the same graph fed an iterator takes the general path
(a task, an inbox and a thread hop per node). For chains of nodes that pass,
drop items, fail transiently (retried), fail for good, or return an awaitable
or an async iterator from a sync ``process``, both give the same outputs, the
same error (node id, attempt, history, input), the same partial results and the
same hook calls and metrics per node (and in the same global order when no
retry lets two nodes run at once).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia.engine import Executor
from remotemedia.errors import NodeExecutionError
from remotemedia.metrics import ExecutionMetrics
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.pipeline import Pipeline
from remotemedia.reliability import CircuitBreakerRegistry, RetryPolicy

FAST_RETRY = RetryPolicy(max_retries=2, initial_delay_s=0.0, jitter=0.0)


class Behave(Node):
    """A sync node whose behaviour on item ``v`` is drawn by the test."""

    def __init__(self, kind: str, on: int = 0, times: int = 1, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.kind, self.on, self.times = kind, on, times
        self.failed: Dict[int, int] = {}

    def process(self, x: Any) -> Any:
        if self.kind == "inc":
            return x + 1
        if self.kind == "drop":
            return None if x % 2 == 0 else x
        if self.kind == "flaky" and x == self.on and self.failed.get(x, 0) < self.times:
            self.failed[x] = self.failed.get(x, 0) + 1
            raise TimeoutError(f"transient on {x}")
        if self.kind == "fail" and x == self.on:
            raise ValueError(f"bad item {x}")
        if self.kind == "coro":
            async def later() -> Any:
                return x * 2
            return later()
        if self.kind == "agen":
            async def twice() -> Any:
                yield x
                yield x + 100
            return twice()
        return x


class Record:
    """A hook recording every call (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: List[Tuple[Any, ...]] = []

    def before_run(self, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("before_run",))

    def after_run(self, *, error: Any, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("after_run", type(error).__name__))

    def before_node(self, *, node_id: str, attempt: int, item: Any, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("before_node", node_id, attempt, item))

    def after_node(self, *, node_id: str, attempt: int, error: Any, delay_s: Any, ran: bool, result: Any,
                   **kw: Any) -> None:
        with self.lock:
            self.calls.append(("after_node", node_id, attempt, repr(error), delay_s, ran,
                               result if isinstance(result, (int, type(None))) else type(result).__name__))

    def per_node(self) -> Dict[str, List[Tuple[Any, ...]]]:
        out: Dict[str, List[Tuple[Any, ...]]] = {}
        for c in self.calls:
            if c[0] in ("before_node", "after_node"):
                out.setdefault(c[1], []).append(c)
        return out


KINDS = ["pass", "inc", "drop", "flaky", "fail", "coro", "agen"]
node_spec = st.tuples(st.sampled_from(KINDS), st.integers(0, 4), st.integers(1, 3))


def build(specs: List[Tuple[str, int, int]], hooks: List[Any], breakers: Any = False) -> Pipeline:
    nodes = [Behave(kind, on, times, name=f"n{i}") for i, (kind, on, times) in enumerate(specs)]
    return Pipeline(nodes, hooks=hooks, retry=FAST_RETRY, circuit_breakers=breakers)


def outcome(specs, items, *, as_list: bool, breakers: Any = False) -> Dict[str, Any]:
    rec = Record()
    metrics = ExecutionMetrics(memory="off", opentelemetry=False, cpu_time=False)
    p = build(specs, [rec, metrics], breakers)
    hops = []
    call_blocking = p.executor.call_blocking

    async def counting(fn, *args):
        hops.append(getattr(fn, "__name__", "?"))
        return await call_blocking(fn, *args)

    p.executor.call_blocking = counting  # type: ignore[method-assign]
    feed = list(items) if as_list else iter(list(items))
    res: Dict[str, Any] = {}
    try:
        result = asyncio.run(p.executor.run(p.graph, {n.id: n for n in p.nodes}, feed, pipeline_name="p"))
        res["outputs"] = result.outputs
        res["node_results"] = result.node_results
    except NodeExecutionError as err:
        res["error"] = (err.node_id, err.node_type, err.attempt, str(err), err.input_description,
                        [(a.node_id, a.attempt, repr(a.error), a.delay_s, a.ran) for a in err.attempt_history],
                        type(err.__cause__).__name__)
        res["partial"] = err.partial_results
    res["rec"] = rec
    m = metrics.get()
    res["metrics_per_node"] = {nid: [(c["attempt"], c["status"], c["error"]) for c in m["calls"]
                                     if c["node_id"] == nid] for nid in m["nodes"]}
    res["metrics_status"] = (m["status"], m["error"])
    res["hops"] = hops
    return res


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(node_spec, min_size=1, max_size=6), items=st.lists(st.integers(0, 4), max_size=6))
def test_one_hop_chain_equals_general_path(specs, items):
    fast = outcome(specs, items, as_list=True)
    slow = outcome(specs, items, as_list=False)
    assert fast.get("outputs") == slow.get("outputs")
    assert fast.get("node_results") == slow.get("node_results")
    assert fast.get("error") == slow.get("error")
    assert fast["metrics_status"] == slow["metrics_status"]
    retried = any(c[0] == "after_node" and c[4] is not None for c in slow["rec"].calls)
    failed_at = fast["error"][0] if "error" in fast else None
    names = [f"n{i}" for i in range(len(specs))]
    # nodes after a failing one may or may not have taken the items it emitted first (in both paths)
    upto = names[:names.index(failed_at) + 1] if failed_at else names
    fast_nodes, slow_nodes = fast["rec"].per_node(), slow["rec"].per_node()
    for nid in upto:
        assert fast_nodes.get(nid) == slow_nodes.get(nid), nid
        assert fast["metrics_per_node"].get(nid) == slow["metrics_per_node"].get(nid), nid
    if not retried and failed_at is None:
        assert fast["rec"].calls == slow["rec"].calls  # the same global order
    if not retried and failed_at is not None:
        assert fast["partial"] == slow["partial"]
    # the one-hop path ran the chain in one hop unless a node needed the event loop
    needs_loop = any(k in ("flaky", "fail", "coro", "agen") for k, _, _ in specs)
    if items and not needs_loop:
        assert fast["hops"] == ["_chain_blocking"]


def test_chain_of_sync_nodes_runs_in_one_thread_hop():
    res = outcome([("inc", 0, 1)] * 10, [1, 2, 3], as_list=True)
    assert res["hops"] == ["_chain_blocking"]
    assert res["outputs"] == {"n9": [11, 12, 13]}
    assert [c[1] for c in res["rec"].calls if c[0] == "before_node"] == [f"n{i}" for i in range(10) for _ in "abc"]


def test_empty_list_runs_no_node_and_no_hop():
    res = outcome([("inc", 0, 1)] * 3, [], as_list=True)
    assert res["hops"] == [] and res["outputs"] == {"n2": []}
    assert res["rec"].calls == [("before_run",), ("after_run", "NoneType")]


def test_breaker_opened_by_retries_in_a_chain_matches_general_path():
    """Retries open the node type's breaker, which refuses the last attempt: the same in both paths."""
    specs = [("pass", 0, 1), ("flaky", 0, 3), ("pass", 0, 1)]
    runs = [outcome(specs, [0, 1], as_list=as_list, breakers=CircuitBreakerRegistry(fail_max=2))
            for as_list in (True, False)]
    for res in runs:
        node_id, _, attempt, _, _, history, cause = res["error"]
        assert (node_id, attempt, cause) == ("n1", 3, "CircuitOpenError")
        assert [(a[1], a[4]) for a in history] == [(1, True), (2, True), (3, False)]
    fast, slow = runs
    assert fast["error"] == slow["error"] and fast["partial"] == slow["partial"] == {"n0": [0, 1]}
    assert fast["rec"].calls == slow["rec"].calls
    # each retry goes back to the loop for its wait, then on in the general path
    assert fast["hops"] == ["_chain_blocking"] + ["_run_node_attempts_blocking"] * 2


class Slow(Node):
    def __init__(self, seen: List[str], name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.seen = seen

    def process(self, x: Any) -> Any:
        self.seen.append(self.name)
        time.sleep(0.2)
        return x


def test_cancelling_a_chain_run_stops_it_after_the_current_item():
    seen: List[str] = []
    p = Pipeline([PassThroughNode(name="a"), Slow(seen, name="b"), Slow(seen, name="c")])

    async def main() -> None:
        task = asyncio.ensure_future(p.run([1, 2, 3]))
        await asyncio.sleep(0.1)  # b is in its first item
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # the worker thread finishes its item, then stops

    asyncio.run(main())
    assert seen == ["b"]


def test_sync_nodes_of_a_chain_still_run_off_the_event_loop_thread():
    loop_thread: List[int] = []
    threads: List[int] = []

    class Where(Node):
        def process(self, x: Any) -> Any:
            threads.append(threading.get_ident())
            return x

    async def main() -> Any:
        loop_thread.append(threading.get_ident())
        return await Pipeline([Where(name="a"), Where(name="b")]).run([1, 2])

    assert asyncio.run(main()) == [1, 2]
    assert len(threads) == 4 and loop_thread[0] not in threads


def test_executor_run_with_a_list_and_a_sink_per_item_stream():
    """``iter_outputs`` (the consumer gets each sink output) takes the one-hop path too."""
    ex = Executor()
    p = Pipeline([Behave("inc", name="a"), Behave("drop", name="b")])

    async def main() -> List[Any]:
        return [x async for x in ex.iter_outputs(p.graph, {n.id: n for n in p.nodes}, [0, 1, 2, 3])]

    assert asyncio.run(main()) == [("b", 1), ("b", 3)]
