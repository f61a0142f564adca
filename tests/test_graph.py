"""PipelineGraph: problems reported at once, cycles with full paths, deterministic order."""

from __future__ import annotations

import pytest

from remotemedia.errors import PipelineValidationError
from remotemedia.graph import Edge, GraphNode, PipelineGraph, types_compatible


def graph(ids, edges, **ports):
    nodes = [GraphNode(i, path=f"/nodes/{k}", **ports.get(i, {})) for k, i in enumerate(ids)]
    return PipelineGraph(nodes, [Edge(*e, path=f"/connections/{k}") if isinstance(e, tuple) else e
                                 for k, e in enumerate(edges)])


def messages(g):
    return [i.message for i in g.problems()]


def test_topological_order_breaks_ties_by_declaration_order():
    g = graph(["d", "c", "b", "a"], [("c", "a"), ("d", "a"), ("b", "a")])
    assert g.topological_order() == ["d", "c", "b", "a"]
    assert g.sources == ["d", "c", "b"] and g.sinks == ["a"]
    assert g.predecessors("a") == ["c", "d", "b"]


def test_diamond_order_and_no_problems():
    g = graph(["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    assert g.problems() == []
    assert g.topological_order() == ["a", "b", "c", "d"]
    assert g.validate() is g


def test_cycle_reported_with_full_path():
    g = graph(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    assert messages(g) == ["cycle: a -> b -> c -> a"]
    with pytest.raises(PipelineValidationError, match="cycle: a -> b -> c -> a"):
        g.topological_order()


def test_every_cycle_is_reported():
    # two separate components plus two cycles sharing nodes, plus a self-loop
    g = graph(["a", "b", "c", "x", "y", "s"],
              [("a", "b"), ("b", "c"), ("c", "a"), ("c", "b"), ("x", "y"), ("y", "x"), ("s", "s")])
    assert sorted(messages(g)) == sorted([
        "cycle: a -> b -> c -> a", "cycle: b -> c -> b", "cycle: x -> y -> x", "cycle: s -> s"])


def test_many_cycles_are_capped_and_say_so():
    ids = [f"n{i}" for i in range(12)]
    edges = [(a, b) for a in ids for b in ids if a != b]  # complete digraph: millions of cycles
    msgs = messages(graph(ids, edges))
    assert len(msgs) > 10 and msgs[-1].startswith("more cycles than listed")


def test_duplicates_unknown_ids_and_ports_all_reported():
    nodes = [GraphNode("a", path="/nodes/0"), GraphNode("a", path="/nodes/1"),
             GraphNode("v", "VAD", {"audio": "audio"}, {"segments": "segments"}, path="/nodes/2"),
             GraphNode("w", "Writer", {"audio": "audio"}, {"out": "any"}, path="/nodes/3")]
    edges = [Edge("a", "ghost", path="/connections/0"), Edge("v", "w", path="/connections/1"),
             Edge("a", "v", to_port="samples", path="/connections/2")]
    issues = PipelineGraph(nodes, edges).problems()
    text = [str(i) for i in issues]
    assert any("duplicate node id 'a'" in t and t.startswith("/nodes/1/id") for t in text)
    assert any(t.startswith("/connections/0/to") and "unknown node id 'ghost'" in t for t in text)
    mismatch = [i for i in issues if "port type mismatch" in i.message]
    assert len(mismatch) == 1 and mismatch[0].expected == "'audio'" and mismatch[0].given == "'segments'"
    assert any(t.startswith("/connections/2/to_port") and "has no input port 'samples'" in t for t in text)


def test_fan_in_needs_distinct_keys():
    g = graph(["a", "b"], [("a", "b"), ("a", "b")])
    assert any("same key 'a'" in m for m in messages(g))
    ok = graph(["a", "b"], [Edge("a", "b", to_port="x"), Edge("a", "b", to_port="y")],
               b={"input_types": {"x": "any", "y": "any"}})
    assert ok.problems() == []


def test_multi_port_input_needs_a_port_name():
    g = graph(["a", "b"], [("a", "b")], b={"input_types": {"x": "any", "y": "any"}})
    assert any("has input ports ['x', 'y']; name one" in m for m in messages(g))


def test_types_compatible():
    assert types_compatible("audio", "audio") and types_compatible("any", "audio") and types_compatible("x", "any")
    assert not types_compatible("segments", "audio")


def test_deep_chain_does_not_recurse():
    ids = [f"n{i}" for i in range(5000)]
    g = graph(ids, list(zip(ids, ids[1:])) + [(ids[-1], ids[0])])
    (issue,) = g.problems()
    assert issue.message.startswith("cycle: n0 -> n1 -> ") and issue.message.endswith("n4999 -> n0")
