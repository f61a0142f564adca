"""The asyncio executor: readiness, concurrency, fan-in/fan-out, failures, bounds, hooks."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from typing import Any, Optional

import numpy as np
import pytest

from remotemedia.engine import Executor, shared_thread_pool
from remotemedia.errors import NodeError
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.pipeline import Pipeline


class Log:
    """A thread-safe event log: (event, node id) in the order they happened."""

    def __init__(self) -> None:
        self.events = []
        self.lock = threading.Lock()

    def add(self, event: str, node_id: str) -> None:
        with self.lock:
            self.events.append((event, node_id))

    def index(self, event: str, node_id: str) -> int:
        return self.events.index((event, node_id))


class Sleep(Node):
    """Sync node: sleeps ``delay_s`` (releasing the GIL), returns its input."""

    def __init__(self, delay_s: float = 0.0, log: Optional[Log] = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.delay_s = delay_s
        self.log = log

    def process(self, data: Any) -> Any:
        if self.log:
            self.log.add("start", self.name)
        time.sleep(self.delay_s)
        if self.log:
            self.log.add("end", self.name)
        return data


class AsyncSleep(Sleep):
    async def process(self, data: Any) -> Any:
        if self.log:
            self.log.add("start", self.name)
        await asyncio.sleep(self.delay_s)
        if self.log:
            self.log.add("end", self.name)
        return data


class Explode(Node):
    """Async generator: yields ``n`` outputs per input."""

    def __init__(self, n: int = 3, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.n = n

    async def process(self, data: Any):
        for i in range(self.n):
            await asyncio.sleep(0)
            yield (data, i)


class Fail(Node):
    def process(self, data: Any) -> Any:
        raise ZeroDivisionError("boom in process")


class Collect(Node):
    """Returns what it received (fan-in dicts included)."""

    def process(self, data: Any) -> Any:
        return data


def test_node_starts_when_its_own_inputs_are_ready_not_by_level():
    log = Log()
    p = Pipeline(connections=[("slow", "after_slow"), ("fast", "after_fast")])
    for node in (Sleep(0.3, log, name="slow"), Sleep(0.0, log, name="after_slow"),
                 Sleep(0.0, log, name="fast"), Sleep(0.0, log, name="after_fast")):
        p.add_node(node)
    p.run_sync(1)
    # A level-by-level executor would wait for "slow" before starting any second-level node.
    assert log.index("end", "after_fast") < log.index("end", "slow")


def two_branches(delay_s: float, parallel: bool) -> Pipeline:
    a, b = Sleep(delay_s, name="a"), Sleep(delay_s, name="b")
    return Pipeline([a, b], connections=[] if parallel else [("a", "b")])


def test_two_blocking_branches_run_in_parallel():
    # Sequential and parallel are measured in the same run; the ratio has a wide margin.
    t0 = time.perf_counter()
    two_branches(0.3, parallel=False).run_sync(1)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = two_branches(0.3, parallel=True).run_sync(1)
    parallel = time.perf_counter() - t0
    assert out == {"a": 1, "b": 1}
    assert parallel / sequential < 0.8, (parallel, sequential)


def test_async_process_is_awaited_and_async_generator_fans_out_items():
    p = Pipeline([AsyncSleep(0.01, name="wait"), Explode(3, name="explode"), PassThroughNode(name="out")])
    assert p.run_sync(["x", "y"]) == [("x", 0), ("x", 1), ("x", 2), ("y", 0), ("y", 1), ("y", 2)]


def test_async_nodes_run_concurrently_on_the_loop():
    p = Pipeline([AsyncSleep(0.3, name=f"n{i}") for i in range(20)], connections=[])
    t0 = time.perf_counter()
    p.run_sync(1)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.3 * 20 * 0.5  # far from sequential (6 s); no tight bound


def test_fan_in_is_keyed_by_source_id_or_port_and_fan_out_shares_the_object():
    payload = np.arange(4.0)
    p = Pipeline(connections=[("src", "left"), ("src", "right"), ("left", "join"), ("right", "join")])
    for node in (PassThroughNode(name="src"), PassThroughNode(name="left"), PassThroughNode(name="right"),
                 Collect(name="join")):
        p.add_node(node)
    out = p.run_sync(payload)
    assert set(out) == {"left", "right"} and out["left"] is payload and out["right"] is payload

    class TwoPorts(Node):
        input_types = {"x": "any", "y": "any"}

        def process(self, data):
            return data["x"] - data["y"]

    q = Pipeline([PassThroughNode(name="a"), AsyncSleep(0, name="b"), TwoPorts(name="d")],
                 connections=[{"from": "a", "to": "d", "to_port": "x"}, {"from": "a", "to": "b"},
                              {"from": "b", "to": "d", "to_port": "y"}])
    assert q.run_sync([5, 7]) == [0, 0]


def test_output_ports_select_from_a_dict():
    class Split(Node):
        output_types = {"even": "any", "odd": "any"}

        def process(self, data):
            return {"even": data * 2, "odd": data * 2 + 1}

    p = Pipeline([Split(name="s"), PassThroughNode(name="e"), PassThroughNode(name="o")],
                 connections=[{"from": "s", "to": "e", "from_port": "even"},
                              {"from": "s", "to": "o", "from_port": "odd"}])
    assert p.run_sync([1, 2]) == {"e": [2, 4], "o": [3, 5]}


def test_streaming_node_receives_the_whole_stream():
    class Running(Node):
        async def process(self, stream):
            total = 0
            async for item in stream:
                total += item
                yield total

    node = Running(name="sum")
    node.is_streaming = True
    assert Pipeline([PassThroughNode(name="in"), node]).run_sync([1, 2, 3, 4]) == [1, 3, 6, 10]


def test_source_mode_calls_the_first_node_without_input():
    class Count(Node):
        def process(self):
            async def gen():
                for i in range(3):
                    yield i
            return gen()

    p = Pipeline([Count(name="count"), Sleep(name="s")])
    assert p.run_sync() == [0, 1, 2]


def test_failure_names_the_node_chains_the_cause_and_keeps_partial_results():
    log = Log()
    p = Pipeline(connections=[("ok", "bad"), ("bad", "never"), ("ok", "side")])
    for node in (PassThroughNode(name="ok"), Fail(name="bad"), Sleep(0, log, name="never"),
                 PassThroughNode(name="side")):
        p.add_node(node)
    with pytest.raises(NodeError) as info:
        p.run_sync([1, 2])
    err = info.value
    assert (err.node_id, err.node_type, err.attempt) == ("bad", "Fail", 1)
    assert "node 'bad' (Fail) failed on attempt 1: ZeroDivisionError: boom in process" == str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)
    frames = traceback.extract_tb(err.__cause__.__traceback__)
    assert frames[-1].name == "process" and "raise ZeroDivisionError" in frames[-1].line
    assert err.partial_results["ok"] == [1, 2]
    assert "bad" not in err.partial_results and "never" not in err.partial_results
    assert ("start", "never") not in log.events


def test_failure_cancels_running_async_nodes():
    cancelled = threading.Event()

    class Forever(Node):
        async def process(self, data):
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    class FailLater(Node):
        async def process(self, data):
            await asyncio.sleep(0.05)
            raise RuntimeError("late")

    p = Pipeline([Forever(name="forever"), FailLater(name="fail")], connections=[])
    t0 = time.perf_counter()
    with pytest.raises(NodeError, match="node 'fail'"):
        p.run_sync(1)
    assert cancelled.is_set() and time.perf_counter() - t0 < 30


def test_uneven_fan_in_is_an_error():
    p = Pipeline([PassThroughNode(name="a"), Explode(2, name="b"), Collect(name="j")],
                 connections=[("a", "j"), ("a", "b"), ("b", "j")])
    with pytest.raises(NodeError, match="fan-in inputs ended with different numbers of items"):
        p.run_sync(1)


def test_max_concurrency_bounds_node_calls_in_flight():
    state = {"now": 0, "peak": 0}

    class Track(Node):
        async def process(self, data):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.01)
            state["now"] -= 1
            return data

    p = Pipeline([Track(name=f"t{i}") for i in range(200)], connections=[], max_concurrency=7)
    p.run_sync(1)
    assert state["peak"] == 7


def test_own_thread_pool_is_bounded_and_closed():
    names = set()

    class Where(Node):
        def process(self, data):
            names.add(threading.current_thread().name)
            time.sleep(0.01)
            return data

    with Pipeline([Where(name=f"w{i}") for i in range(20)], connections=[], max_workers=2) as p:
        p.run_sync(1)
        assert 1 <= len(names) <= 2
    assert p.executor._own_pool is None


def test_hooks_see_every_attempt_with_keyword_arguments():
    calls = []

    class Hook:
        def before_node(self, *, node_id, node_type, attempt, **future_kwargs):
            calls.append(("before", node_id, node_type, attempt))

        def after_node(self, *, node_id, error, duration_ns, **future_kwargs):
            calls.append(("after", node_id, type(error).__name__ if error else None, duration_ns >= 0))

        def after_run(self, *, error, **future_kwargs):
            calls.append(("run", type(error).__name__ if error else None))

    p = Pipeline([PassThroughNode(name="a"), AsyncSleep(0, name="b")], hooks=[Hook()])
    p.run_sync([1])
    assert calls == [("before", "a", "PassThroughNode", 1), ("after", "a", None, True),
                     ("before", "b", "AsyncSleep", 1), ("after", "b", None, True), ("run", None)]
    calls.clear()
    with pytest.raises(NodeError):
        Pipeline([Fail(name="f")], hooks=[Hook()]).run_sync(1)
    assert calls == [("before", "f", "Fail", 1), ("after", "f", "ZeroDivisionError", True),
                     ("run", "NodeExecutionError")]


def test_executor_rejects_bad_bounds():
    with pytest.raises(ValueError, match="max_workers"):
        Executor(max_workers=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        Executor(max_concurrency=0)
    assert shared_thread_pool() is shared_thread_pool()
