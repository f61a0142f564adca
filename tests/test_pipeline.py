"""The Pipeline API: building, sync twins, streaming, metrics, lifecycle, implementations."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest

import remotemedia
from remotemedia.errors import ConfigurationError, NodeError, PipelineValidationError
from remotemedia.nodes.audio import FormatConverterNode
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.registry import get_node_class, register_node
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline


def test_package_exposes_pipeline_lazily():
    from remotemedia.core.pipeline import Pipeline as CorePipeline

    assert remotemedia.Pipeline is Pipeline is CorePipeline
    assert "Pipeline" in dir(remotemedia)
    with pytest.raises(AttributeError):
        remotemedia.NoSuchThing  # noqa: B018


def test_import_stays_light_and_fast():
    code = ("import sys, time; t = time.perf_counter(); import remotemedia; dt = time.perf_counter() - t; "
            "p = remotemedia.Pipeline; print(dt, 'pydantic' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    _, pydantic_loaded = r.stdout.split()
    # Touching remotemedia.Pipeline must not pull pydantic in either (only manifests do).
    assert pydantic_loaded == "False"


def test_add_node_forms_a_chain_and_connect_replaces_it():
    p = Pipeline().add_node(MultiplyNode(factor=2)).add_node(AddNode(addend=1))
    assert [(e.src, e.dst) for e in p.edges] == [("MultiplyNode", "AddNode")]
    assert p.run_sync(3) == 7
    p.add_node(AddNode(addend=10))  # a defaulted duplicate name gets a suffix
    assert [n.id for n in p.nodes] == ["MultiplyNode", "AddNode", "AddNode_1"]
    p.connect("MultiplyNode", "AddNode_1")
    assert [(e.src, e.dst) for e in p.edges] == [("MultiplyNode", "AddNode_1")]
    assert p.run_sync(3) == {"AddNode": 4, "AddNode_1": 16}  # AddNode is now its own source


def test_duplicates_and_bad_connections_are_rejected():
    p = Pipeline([PassThroughNode(name="x")])
    with pytest.raises(ConfigurationError, match="duplicate node id 'x'"):
        p.add_node(PassThroughNode(name="x"))
    node = p.nodes[0]
    with pytest.raises(ConfigurationError, match="already in pipeline"):
        p.add_node(node)
    p.add_node(PassThroughNode(name="y")).connect("x", "y").connect("y", "x").connect("y", "ghost")
    with pytest.raises(PipelineValidationError) as info:
        p.run_sync(1)
    text = str(info.value)
    assert "cycle: x -> y -> x" in text and "unknown node id 'ghost'" in text


def test_port_mismatch_rejected_before_running():
    class Segments(Node):
        output_types = {"segments": "segments"}

        def process(self, data):
            raise AssertionError("must not run")

    p = Pipeline([Segments(name="seg"), FormatConverterNode(name="conv")])
    with pytest.raises(PipelineValidationError, match="port type mismatch"):
        p.run_sync(1)


def test_sync_twins_and_running_loop_guard():
    p = Pipeline([MultiplyNode(factor=3)])

    async def inside():
        assert await p.run(2) == 6
        assert (await p.execute([1, 2])).outputs == {"MultiplyNode": [3, 6]}
        assert [x async for x in p.astream([1, 2])] == [3, 6]
        with pytest.raises(RuntimeError, match=r"use await run\(\) instead"):
            p.run_sync(1)
        with pytest.raises(RuntimeError, match="astream"):
            next(iter(p.stream([1])))

    asyncio.run(inside())
    assert p.run_sync(2) == 6 and p.execute_sync(2).outputs == {"MultiplyNode": [6]}


def test_stream_yields_as_items_flow():
    seen = []

    def source():
        for i in range(5):
            seen.append(i)
            yield i

    p = Pipeline([MultiplyNode(factor=10), AddNode(addend=1)])
    it = p.stream(source())
    first = next(it)
    assert first == 1
    assert list(it) == [11, 21, 31, 41] and seen == [0, 1, 2, 3, 4]
    # stopping early cancels the run cleanly
    it = p.stream(iter(range(1000)))
    assert next(it) == 1
    it.close()


def test_astream_with_several_sinks_tags_outputs():
    p = Pipeline([PassThroughNode(name="a"), PassThroughNode(name="b")], connections=[])

    async def collect():
        return sorted([x async for x in p.astream([1])])

    assert asyncio.run(collect()) == [("a", 1), ("b", 1)]


def test_execute_keeps_every_nodes_results():
    p = Pipeline([MultiplyNode(factor=2, name="m"), AddNode(addend=1, name="a")])
    result = p.execute_sync([1, 2])
    assert result.node_results == {"m": [2, 4], "a": [3, 5]} and result.outputs == {"a": [3, 5]}
    q = Pipeline([MultiplyNode(factor=2, name="m"), AddNode(addend=1, name="a")], keep_results=False)
    assert q.execute_sync([1]).node_results == {}


def test_metrics_are_collected_by_a_hook():
    p = Pipeline([MultiplyNode(factor=2, name="m"), AddNode(addend=1, name="a")], enable_metrics=True)
    p.run_sync([1, 2, 3])
    p.run_sync(4)
    m = p.get_metrics()  # the latest run (see tests/metrics/ for the layout)
    assert m["enabled"] and m["status"] == "ok" and p.metrics.runs == 2 and p.metrics.failed_runs == 0
    assert m["nodes"]["m"]["calls"] == 1 and m["nodes"]["a"]["node_type"] == "AddNode"
    assert m["nodes"]["m"]["wall_us"] > 0 and m["nodes"]["m"]["max_wall_us"] >= m["nodes"]["m"]["mean_wall_us"]
    json.dumps(m)
    assert Pipeline([MultiplyNode()]).get_metrics()["enabled"] is False
    assert not hasattr(MultiplyNode(), "metrics")  # metrics live in hooks, not on nodes


def test_lifecycle_sync_and_async_initialize_and_cleanup():
    events = []

    class Res(Node):
        def initialize(self):
            events.append(("init", self.name))

        async def cleanup(self):
            events.append(("cleanup", self.name))

        def process(self, data):
            events.append(("process", self.name))
            return data

    p = Pipeline([Res(name="r")])
    p.run_sync(1)
    assert events == [("init", "r"), ("process", "r"), ("cleanup", "r")]
    events.clear()

    async def managed():
        async with p.managed_execution():
            await p.run(1)
            await p.run(2)

    asyncio.run(managed())
    assert events == [("init", "r"), ("process", "r"), ("process", "r"), ("cleanup", "r")]
    events.clear()
    with p:
        p.run_sync(1)
    assert events == [("init", "r"), ("process", "r"), ("cleanup", "r")]


def test_concurrent_runs_of_one_pipeline_initialize_once():
    count = {"init": 0, "cleanup": 0}

    class Res(Node):
        async def initialize(self):
            count["init"] += 1
            await asyncio.sleep(0.01)

        async def cleanup(self):
            count["cleanup"] += 1

        async def process(self, data):
            await asyncio.sleep(0.01)
            return data

    p = Pipeline([Res(name="r")])

    async def many():
        return await asyncio.gather(*(p.run(i) for i in range(20)))

    assert asyncio.run(many()) == list(range(20))
    assert count == {"init": 1, "cleanup": 1}


def test_initialize_failure_names_the_node():
    class Bad(Node):
        def initialize(self):
            raise OSError("no device")

    with pytest.raises(NodeError, match=r"node 'b' \(Bad\) failed on attempt 1: initialize\(\) failed: OSError"):
        Pipeline([Bad(name="b")]).run_sync(1)


def test_use_rust_never_changes_results(impl):
    x = (np.random.default_rng(1).standard_normal((2, 1000)) * 0.5).astype(np.float32)
    p = Pipeline([FormatConverterNode("i16", name="c")])
    a = p.run_sync((x, 8000), use_rust=True)
    b = p.run_sync((x, 8000), use_rust=False)
    np.testing.assert_array_equal(a[0], b[0])
    assert p.nodes[0].impl == FormatConverterNode.default_impl  # restored after the run
    forced = Pipeline([FormatConverterNode("i16", runtime_hint=impl, name="c")])
    np.testing.assert_array_equal(forced.run_sync((x, 8000), use_rust=False)[0], a[0])


def test_entry_point_group_registers_node_types(tmp_path):
    (tmp_path / "rm_plugin_nodes.py").write_text(
        "from remotemedia.nodes.base import Node\n"
        "class Shout(Node):\n"
        "    def process(self, data):\n"
        "        return data.upper()\n")
    dist = tmp_path / "rm_plugin_nodes-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rm-plugin-nodes\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[remotemedia.nodes]\nShoutNode = rm_plugin_nodes:Shout\n")
    code = ("from remotemedia import Pipeline\n"
            "p = Pipeline.from_manifest({'version': 'v1', 'metadata': {'name': 'x'},"
            " 'nodes': [{'id': 's', 'node_type': 'ShoutNode'}]})\n"
            "print(p.run_sync('hi'))")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "HI"


def test_registry_decorator():
    @register_node("EchoForPipelineTest")
    class Echo(Node):
        def process(self, data):
            return data

    assert get_node_class("EchoForPipelineTest") is Echo
    p = Pipeline.from_manifest({"version": "v1", "metadata": {"name": "e"},
                                "nodes": [{"id": "e", "node_type": "EchoForPipelineTest"}]})
    assert p.run_sync("hi") == "hi"


def test_sync_entry_points_never_print_the_outputs():
    """execute_sync / run_sync in the main thread: asyncio.run's SIGINT bookkeeping used to repr() the main
    task and so every output of the run (numpy printed whole arrays: milliseconds a call). An output whose
    repr is counted shows it is never printed."""
    printed = []

    class Loud:
        def __repr__(self) -> str:
            printed.append(1)
            return "Loud()"

    class Make(Node):
        def process(self, data):
            return Loud()

    p = Pipeline([Make(name="make")])
    assert isinstance(p.execute_sync(1).outputs["make"][0], Loud)
    assert isinstance(p.run_sync(1), Loud)
    assert printed == []
