"""The rest of the remotemedia 1.x local surface, used the way 1.x code uses it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import warnings

import pytest

import remotemedia
from remotemedia.core.node import Node, RemoteExecutorConfig, SessionState
from remotemedia.core.pipeline import Pipeline
from remotemedia.errors import ConfigurationError, PipelineValidationError
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode


# ------------------------------------------------------------------ runtime probes
def test_runtime_probes_answer_from_the_loader():
    ok, module, reason = remotemedia.try_load_rust_runtime()
    from remotemedia import _native

    assert ok is (_native.module() is not None) and (module is _native.module())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = remotemedia.is_rust_runtime_available()
        runtime = remotemedia.get_rust_runtime()
    assert available is ok and runtime is module
    if ok:
        assert reason is None and not caught and runtime.__version__ == remotemedia.__version__
    else:
        assert reason and len(caught) == 2 and all(w.category is UserWarning for w in caught)
        assert reason in str(caught[0].message)


def test_runtime_probes_with_the_numpy_implementation_forced():
    code = ("import warnings, remotemedia\n"
            "ok, mod, why = remotemedia.try_load_rust_runtime()\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    print(ok, mod, why, remotemedia.is_rust_runtime_available(), remotemedia.get_rust_runtime(),"
            " len(w))\n")
    env = {**__import__("os").environ, "REMOTEMEDIA_IMPL": "python"}
    env.pop("REMOTEMEDIA_TEST_EXPECT_IMPL", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "None", "REMOTEMEDIA_IMPL=python", "False", "None", "2"]


def test_import_remotemedia_stays_light():
    code = "import sys, remotemedia; print(sorted(m for m in ('av', 'pydantic', 'soundfile') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------- exceptions
def test_1x_exception_names():
    from remotemedia import errors
    from remotemedia.core import exceptions as ex

    assert ex.RemoteMediaError is errors.RemoteMediaError is remotemedia.RemoteMediaError
    assert ex.NodeError is errors.NodeExecutionError is remotemedia.NodeError
    assert ex.ConfigurationError is errors.ConfigurationError
    assert issubclass(errors.PipelineValidationError, ex.PipelineError)
    for cls in (ex.PipelineError, ex.SerializationError, ex.RemoteExecutionError, ex.WebRTCError,
                ex.UnsupportedNodeError):
        assert issubclass(cls, errors.RemoteMediaError)
    assert ex.RemoteExecutionError("boom", remote_traceback="tb").remote_traceback == "tb"
    with pytest.raises(ex.PipelineError):  # 1.x code catching PipelineError sees a bad graph
        p = Pipeline()
        p.add_node(PassThroughNode(name="a"))
        p.connect("a", "missing")
        p.validate()


# --------------------------------------------------------------------- node helpers
class Echo(Node):
    def process(self, data):
        payload, metadata = self.split_data_metadata(data)
        return self.merge_data_metadata(payload, metadata)


def test_split_and_merge_metadata_like_1x():
    n = Echo()
    audio = object()
    assert n.split_data_metadata((audio, 16000, {"session_id": "s"})) == ((audio, 16000), {"session_id": "s"})
    assert n.split_data_metadata(("text", {"timestamp": 1})) == ("text", {"timestamp": 1})
    assert n.split_data_metadata(("text", {"other": 1})) == (("text", {"other": 1}), None)  # not metadata keys
    assert n.split_data_metadata([1, {"session_id": 1}]) == ([1, {"session_id": 1}], None)  # lists are data
    assert n.merge_data_metadata((audio, 16000), {"user_name": "x"}) == (audio, 16000, {"user_name": "x"})
    assert n.merge_data_metadata("text", {"user_name": "x"}) == ("text", {"user_name": "x"})
    assert n.merge_data_metadata("text", None) == "text"
    item = ("hello", {"session_id": "s1", "metadata": {}})
    assert n.process(item) == item
    assert n.extract_session_id(item) == "s1" and n.extract_session_id({"session_id": "d"}) == "d"
    assert n.extract_session_id("x") is None


def test_per_session_state():
    class Counter(Node):
        async def process(self, data):
            self.set_session_id(self.extract_session_id(data))
            state = await self.get_session_state()
            state.set("n", state.get("n", 0) + 1)
            return state.get("n")

    async def main():
        c = Counter()
        p = Pipeline()
        p.add_node(c)
        out = await p.run([{"session_id": "a"}, {"session_id": "b"}, {"session_id": "a"}])
        a = await c.get_session_state("a")
        return out, a, await c.state.get_all_sessions()

    out, a, sessions = asyncio.run(main())
    assert out == [1, 1, 2] and isinstance(a, SessionState) and a.get("n") == 2 and set(sessions) == {"a", "b"}
    assert asyncio.run(Echo(enable_state=False).get_session_state("x")) is None
    assert asyncio.run(Echo().get_session_state()) is None  # no session set

    async def limited():
        n = Echo(max_sessions=2)
        for sid in ("a", "b", "c"):
            await n.get_session_state(sid)
        return sorted(await n.state.get_all_sessions())
    assert asyncio.run(limited()) == ["b", "c"]  # the least recently used session was evicted


def test_config_capabilities_and_node_manifest():
    class Gpu(MultiplyNode):
        def get_capabilities(self):
            return {"gpu": {"type": "cuda", "min_memory_gb": 4.0}}

    m = MultiplyNode(factor=3, name="times3", colour="red")
    assert m.get_config() == {"name": "times3", "class": "MultiplyNode", "config": {"factor": 3, "colour": "red"}}
    assert m.get_capabilities() is None
    assert MultiplyNode(factor=3, name="times3").to_manifest() == {"id": "times3", "node_type": "MultiplyNode",
                                                                   "params": {"factor": 3}}
    with pytest.raises(ConfigurationError, match="colour"):  # what a manifest could not read back is refused
        m.to_manifest()
    g = Gpu(factor=2)
    assert g.to_manifest()["capabilities"] == {"gpu": {"type": "cuda", "min_memory_gb": 4.0}}
    assert "capabilities" not in g.to_manifest(include_capabilities=False)


# -------------------------------------------------------- serialize / definitions
def chain():
    p = Pipeline(name="math")
    p.add_node(MultiplyNode(factor=2))
    p.add_node(AddNode(addend=1))
    p.add_node(PassThroughNode())
    return p


def test_serialize_writes_the_1x_manifest_and_reads_back():
    text = chain().serialize(description="double plus one")
    data = json.loads(text)
    assert data["version"] == "v1" and data["metadata"]["name"] == "math"
    assert data["metadata"]["description"] == "double plus one" and data["metadata"]["created_at"].endswith("Z")
    assert [n["id"] for n in data["nodes"]] == ["MultiplyNode_0", "AddNode_1", "PassThroughNode_2"]
    assert [n["node_type"] for n in data["nodes"]] == ["MultiplyNode", "AddNode", "PassThroughNode"]
    assert data["nodes"][0]["params"]["factor"] == 2
    assert data["connections"] == [{"from": "MultiplyNode_0", "to": "AddNode_1"},
                                   {"from": "AddNode_1", "to": "PassThroughNode_2"}]
    assert Pipeline.from_manifest(text).run_sync([1, 2]) == [3, 5]

    class Gpu(PassThroughNode):
        def get_capabilities(self):
            return {"memory_gb": 2.0}

    from remotemedia.nodes.registry import register_node

    register_node(Gpu)
    p = Pipeline(name="caps")
    p.add_node(Gpu())
    assert json.loads(p.serialize())["nodes"][0]["capabilities"] == {"memory_gb": 2.0}
    assert "capabilities" not in json.loads(p.serialize(include_capabilities=False))["nodes"][0]
    assert Pipeline.from_manifest(p.serialize()).run_sync(5) == 5  # capabilities accepted


def test_export_definition_and_from_definition():
    d = chain().export_definition()
    assert d["name"] == "math" and d["dependencies"][0] == "numpy" and "remotemedia" in d["dependencies"]
    first = d["nodes"][0]
    assert first == {"node_id": "MultiplyNode_0", "node_type": "MultiplyNode", "config": {"factor": 2},
                     "is_remote": False, "remote_endpoint": None, "is_streaming": False, "is_source": True,
                     "is_sink": False, "module": "remotemedia.nodes.simple_math", "class_name": "MultiplyNode"}
    assert d["connections"][0] == {"from_node": "MultiplyNode_0", "to_node": "AddNode_1", "output_port": "default",
                                   "input_port": "default"}
    assert d["metadata"]["pipeline_type"] == "linear" and d["metadata"]["node_count"] == "3"
    rebuilt = asyncio.run(Pipeline.from_definition(d))
    assert rebuilt.run_sync([1, 2]) == [3, 5] and len(rebuilt) == 3 and rebuilt.node_count == 3
    assert [n.name for n in rebuilt] == ["MultiplyNode_0", "AddNode_1", "PassThroughNode_2"]


def test_from_definition_never_imports_what_it_names():
    evil = {"name": "x", "nodes": [{"node_id": "n0", "node_type": "system", "module": "os", "class_name": "system",
                                     "config": {"command": "touch /tmp/owned"}}]}
    with pytest.raises(PipelineValidationError, match="unknown node type 'system'"):
        asyncio.run(Pipeline.from_definition(evil))
    remote = {"name": "x", "nodes": [{"node_id": "r", "node_type": "MultiplyNode", "is_remote": True}]}
    from remotemedia.core.exceptions import UnsupportedNodeError

    with pytest.raises(UnsupportedNodeError, match="server"):
        asyncio.run(Pipeline.from_definition(remote))


def test_pipeline_config_len_iter_and_remove_node():
    p = chain()
    cfg = p.get_config()
    assert cfg["node_count"] == 3 and cfg["remote_node_count"] == 0 and not cfg["is_initialized"]
    assert [c["class"] for c in cfg["nodes"]] == ["MultiplyNode", "AddNode", "PassThroughNode"]
    assert len(p) == 3 and [type(n).__name__ for n in p] == ["MultiplyNode", "AddNode", "PassThroughNode"]
    assert p.remove_node("AddNode") and not p.remove_node("AddNode")
    assert p.run_sync(5) == 10


# ------------------------------------------------------------------ local 1.x nodes
def test_calculator_node_like_1x():
    from remotemedia.nodes.calculator import CalculatorNode

    c = CalculatorNode(name="calc")
    out = c.process({"operation": "add", "args": [3, 4]})
    assert out == {"operation": "add", "args": [3, 4], "result": 7, "processed_by": "CalculatorNode[calc]",
                   "node_config": {}}
    assert c.process({"operation": "power", "args": [2, 10]})["result"] == 1024
    assert c.process({"operation": "divide", "args": [1, 0]})["error"] == "Division by zero"
    assert c.process({"operation": "modulo", "args": [1, 0]})["error"] == "Modulo by zero"
    assert c.process({"operation": "nope", "args": [1, 2]})["error"] == "Unknown operation: nope"
    assert c.process({"operation": "add", "args": [1]})["error"] == "Operation 'add' requires at least 2 arguments"
    assert c.process([1, 2])["error"] == "Input must be a dictionary"
    assert c.process({"args": [1, 2]})["error"] == "Input must contain 'operation' and 'args' keys"
    p = Pipeline([PassThroughNode(), CalculatorNode()])
    assert [r["result"] for r in p.run_sync([{"operation": "multiply", "args": [2, 3]},
                                             {"operation": "subtract", "args": [2, 3]}])] == [6, -1]
    assert set(c.get_supported_operations()) == {"add", "multiply", "subtract", "divide", "power", "modulo"}


def test_text_processor_and_transforms():
    from remotemedia.nodes.text_processor import TextProcessorNode
    from remotemedia.nodes.transform import DataTransform, FormatConverter, TextTransformNode

    out = TextProcessorNode().process({"text": "hello big world", "operations": ["uppercase", "word_count",
                                                                                 "reverse", "last_word", "x"]})
    assert out["results"] == {"uppercase": "HELLO BIG WORLD", "word_count": 3, "reverse": "dlrow gib olleh",
                              "last_word": "world", "unknown_operation_x": "Unknown operation: x"}
    assert TextProcessorNode().process({"text": "a"})["results"] == {"uppercase": "A"}
    assert "error" in TextProcessorNode().process("text")
    obj = {"k": 1}
    assert DataTransform().process(obj) is obj and FormatConverter(target_format="xml").process(obj) is obj
    t = TextTransformNode(transform_func=str.title)
    assert t.process("ab cd") == "Ab Cd" and t.process(("ab", 1)) == ("Ab", 1) and t.process(5) == 5


def test_io_nodes_feed_and_collect_a_running_pipeline():
    from remotemedia.nodes.io_nodes import BidirectionalNode, DataSinkNode, DataSourceNode, JavaScriptBridgeNode

    got = []

    async def main():
        source = DataSourceNode(buffer_size=3, timeout_seconds=5, name="in")
        sink = DataSinkNode(callback=got.append, buffer_output=True, buffer_size=2, name="out")
        p = Pipeline()
        p.add_node(source)
        p.add_node(JavaScriptBridgeNode(transform_input=lambda x: x * 10, transform_output=lambda x: x + 1))
        p.add_node(sink)

        async def feed():
            for i in range(5):
                while not await source.push_data(i):  # full buffer: push refuses, try again
                    await asyncio.sleep(0.01)
            await source.close()
            assert not await source.push_data(99)

        async with p.managed_execution():
            feeder = asyncio.ensure_future(feed())
            outs = [x async for x in p.process()]
            await feeder
        return outs, sink

    outs, sink = asyncio.run(main())
    assert outs == got == [1, 11, 21, 31, 41] and sink.get_buffered_output() == [31, 41]
    assert sink.get_config()["total_processed"] == 5

    async def duplex():
        b = BidirectionalNode(process_callback=lambda x: None if x == "skip" else x.upper())
        results = []

        async def consume():
            async for r in b.process():
                results.append(r)
        task = asyncio.ensure_future(consume())
        for x in ("a", "skip", "b"):
            await b.push_input(x)
        first = await b.pull_output(timeout=2)
        await b.close()
        await task
        return first, results, await b.pull_output(timeout=0.1)
    assert asyncio.run(duplex()) == ("A", ["A", "B"], "B")

    async def idle():
        s = DataSourceNode(timeout_seconds=0.05)
        return [x async for x in s.process()]
    assert asyncio.run(idle()) == []  # ends after timeout_seconds without data


def test_stateful_counter():
    from remotemedia.nodes.custom import StatefulCounter

    p = Pipeline()
    p.add_node(PassThroughNode())
    p.add_node(StatefulCounter(initial_value=5))
    assert p.run_sync(["a", "b", "c"]) == [(5,), (6,), (7,)]


REFUSED = [
    ("remotemedia.nodes.code_executor", "CodeExecutorNode", "executes code it is given"),
    ("remotemedia.nodes.serialized_class_executor", "SerializedClassExecutorNode", "executes code it is given"),
    ("remotemedia.nodes.remote", "RemoteExecutionNode", "1.x execution server"),
    ("remotemedia.nodes.remote", "RemoteObjectExecutionNode", "pickled objects"),
    ("remotemedia.nodes.grpc_source", "GRPCStreamSource", "1.x execution server"),
    ("remotemedia.nodes.grpc_source", "GRPCStreamManager", "1.x execution server"),
]


@pytest.mark.parametrize("module,name,why", REFUSED)
def test_refusing_nodes_say_why_and_cannot_be_named_in_a_manifest(module, name, why):
    import importlib

    from remotemedia.core.exceptions import UnsupportedNodeError
    from remotemedia.nodes.registry import registered_node_types

    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(UnsupportedNodeError) as info:
        cls(code="print(1)", name="n")
    assert f"{name} is not supported by this package: it" in str(info.value) and why in str(info.value)
    assert name not in registered_node_types()
    manifest = {"version": "v1", "metadata": {"name": "x"}, "nodes": [{"id": "n", "node_type": name}]}
    with pytest.raises(PipelineValidationError, match=f"unknown node type '{name}'"):
        Pipeline.from_manifest(manifest)


def test_remote_executor_config_validates_and_refuses():
    from remotemedia.core.exceptions import UnsupportedNodeError
    from remotemedia.errors import ConfigurationError

    cfg = RemoteExecutorConfig(host="localhost", port=50052)
    assert remotemedia.RemoteExecutorConfig is RemoteExecutorConfig and cfg.protocol == "grpc"
    with pytest.raises(UnsupportedNodeError, match="localhost:50052"):
        cfg("MultiplyNode")
    for bad in ({"protocol": "ftp"}, {"port": 0}, {"timeout": 0}):
        with pytest.raises(ConfigurationError):
            RemoteExecutorConfig(**{"host": "h", "port": 1, **bad})
    from remotemedia.nodes.grpc_source import get_grpc_stream_manager

    with pytest.raises(UnsupportedNodeError):
        get_grpc_stream_manager()
