"""ExecutionMetrics: the JSON and its schema, timestamps against the graph, peak memory, sizes, batches."""

from __future__ import annotations

import json
import time

import jsonschema
import numpy as np
import pytest

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.errors import ConfigurationError, NodeError
from remotemedia.kernels.vad import EnergyVad
from remotemedia.metrics import (
    ExecutionMetrics,
    aggregate,
    load_schema,
    payload_size,
    write_metrics_json,
)
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline

NATIVE = _native.module() is not None
MB = 1_000_000


def validate(data):
    jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker()).validate(data)


@pytest.fixture(params=["tracemalloc", "counting"])
def memory_mode(request):
    if request.param == "counting" and not NATIVE:
        pytest.skip("the counting allocators live in the native module")
    return request.param


class Sleep(Node):
    def __init__(self, delay_s=0.02, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.delay_s = delay_s

    def process(self, data):
        time.sleep(self.delay_s)
        return data


class Alloc(Node):
    """Allocates (and drops) ``nbytes`` of float64 zeros touched by numpy."""

    def __init__(self, nbytes=100 * MB, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.nbytes = nbytes

    def process(self, data):
        a = np.ones(self.nbytes // 8)
        return float(a[-1]) + data


class Fail(Node):
    def process(self, data):
        raise RuntimeError("boom")


def diamond(metrics=True, delay_s=0.02):
    """src -> (left, right) -> join: two concurrent branches of sleeping nodes."""

    class Join(Node):
        input_types = {"left": "any", "right": "any"}

        def process(self, data):
            return data["left"] + data["right"]

    p = Pipeline([PassThroughNode(name="src"), Sleep(delay_s, name="left"), Sleep(delay_s, name="right"),
                  Join(name="join")], enable_metrics=metrics, connections=[
        ("src", "left"), ("src", "right"),
        {"from": "left", "to": "join", "to_port": "left"}, {"from": "right", "to": "join", "to_port": "right"}])
    return p


# ------------------------------------------------------------------ schema
def test_run_metrics_validate_against_the_schema(tmp_path):
    p = diamond()
    p.run_sync([1, 2])
    m = p.get_metrics()
    validate(m)
    assert m["kind"] == "run" and m["status"] == "ok" and m["enabled"]
    assert set(m["nodes"]) == {"src", "left", "right", "join"}
    assert {(e["from"], e["to"]) for e in m["edges"]} == {("src", "left"), ("src", "right"), ("left", "join"),
                                                           ("right", "join")}
    assert len(m["calls"]) == 8 and all(c["status"] == "ok" for c in m["calls"])
    # to_json writes exactly what get_metrics returns
    text = p.to_json(tmp_path / "m.json")
    assert json.loads(text) == json.loads((tmp_path / "m.json").read_text()) == m


def test_disabled_and_not_yet_run_metrics_validate():
    off = Pipeline([MultiplyNode()]).get_metrics()
    validate(off)
    assert off["enabled"] is False and off["status"] == "not_run" and off["nodes"] == {}
    fresh = Pipeline([MultiplyNode()], enable_metrics=True).get_metrics()
    validate(fresh)
    assert fresh["enabled"] is True and fresh["run_id"] is None


def test_failed_run_is_recorded_and_validates():
    p = Pipeline([MultiplyNode(name="m"), Fail(name="f"), AddNode(name="a")], enable_metrics=True)
    with pytest.raises(NodeError):
        p.run_sync(1)
    m = p.get_metrics()
    validate(m)
    assert m["status"] == "failed" and "boom" in m["error"]
    assert m["nodes"]["m"]["status"] == "ok"
    assert m["nodes"]["f"]["status"] == "failed" and m["nodes"]["f"]["errors"] == 1
    assert m["nodes"]["f"]["calls"] == 1
    assert "RuntimeError: boom" in next(c["error"] for c in m["calls"] if c["node_id"] == "f")
    assert m["nodes"]["a"]["status"] == "not_run" and m["nodes"]["a"]["calls"] == 0
    assert m["execution_order"] == ["m", "f"]


def test_batch_files_validate(tmp_path):
    p = Pipeline([MultiplyNode(name="m"), AddNode(name="a")], enable_metrics=True)
    runs = []
    for i in range(5):
        p.run_sync(i)
        runs.append(p.get_metrics())
    assert len({r["run_id"] for r in runs}) == 5
    batch = aggregate(runs)
    validate(batch)
    write_metrics_json(tmp_path / "b.json", runs)
    data = json.loads((tmp_path / "b.json").read_text())
    validate(data)
    assert data["batch"]["runs"] == 5 and len(data["runs"]) == 5


# -------------------------------------------------------------- timestamps
def check_timeline(m):
    """Timestamps monotonic, inside the run, in execution order, and after every input ended."""
    calls = m["calls"]
    assert [c["seq"] for c in calls] == list(range(1, len(calls) + 1))
    starts = [c["start_us"] for c in calls]
    assert starts == sorted(starts)  # seq is the start order
    for c in calls:
        assert 0 <= c["start_us"] <= c["end_us"] <= m["total_wall_us"]
        assert c["wall_us"] == pytest.approx(c["end_us"] - c["start_us"])
    order = m["execution_order"]
    assert [m["nodes"][n]["order"] for n in order] == list(range(len(order)))
    firsts = [m["nodes"][n]["start_us"] for n in order]
    assert firsts == sorted(firsts)
    # The k-th call of a node consumes the k-th output of each producer (1:1 nodes here).
    per_node = {}
    for c in calls:
        per_node.setdefault(c["node_id"], []).append(c)
    for e in m["edges"]:
        for src_call, dst_call in zip(per_node[e["from"]], per_node[e["to"]]):
            assert dst_call["start_us"] >= src_call["end_us"], (e, src_call, dst_call)
    # Calls that share a lane never overlap.
    lanes = {}
    for c in calls:
        lanes.setdefault(c["lane"], []).append(c)
    for lane_calls in lanes.values():
        for a, b in zip(lane_calls, lane_calls[1:]):
            assert b["start_us"] >= a["end_us"]


def test_timestamps_are_monotonic_and_follow_the_graph():
    p = diamond()
    p.run_sync([1, 2, 3])
    m = p.get_metrics()
    check_timeline(m)
    assert m["execution_order"][0] == "src" and m["execution_order"][-1] == "join"
    # left and right sleep at the same time, so the run needs two lanes
    assert m["lanes"] >= 2
    left, right = m["nodes"]["left"], m["nodes"]["right"]
    assert left["start_us"] < right["end_us"] and right["start_us"] < left["end_us"]


def test_chain_timeline_and_absolute_start():
    from datetime import datetime

    p = Pipeline([MultiplyNode(name=f"m{i}") for i in range(6)], enable_metrics=True)
    p.run_sync(1)
    m = p.get_metrics()
    check_timeline(m)
    assert m["execution_order"] == [f"m{i}" for i in range(6)]
    run_start = datetime.fromisoformat(m["started_at"])
    for n in m["nodes"].values():
        delta_us = (datetime.fromisoformat(n["started_at"]) - run_start).total_seconds() * 1e6
        assert delta_us == pytest.approx(n["start_us"], abs=2)


def test_cpu_time_is_the_threads_not_the_wall_clock():
    class Spin(Node):
        def process(self, data):
            t_end = time.thread_time() + 0.02
            while time.thread_time() < t_end:
                pass
            return data

    p = Pipeline([Sleep(0.05, name="sleep"), Spin(name="spin")], enable_metrics=True)
    p.run_sync(1)
    nodes = p.get_metrics()["nodes"]
    assert nodes["sleep"]["cpu_us"] < nodes["sleep"]["wall_us"] / 2  # sleeping costs no CPU
    assert nodes["spin"]["cpu_us"] >= 20_000


# ------------------------------------------------------------------ memory
def test_a_100_mb_array_reports_100_to_110_mb(memory_mode):
    metrics = ExecutionMetrics(memory=memory_mode)
    p = Pipeline([AddNode(name="before"), Alloc(100 * MB, name="alloc"), AddNode(name="after")], hooks=[metrics])
    p.run_sync(1)
    m = metrics.get()
    validate(m)
    assert m["memory_tracking"].startswith("numpy" if memory_mode == "counting" else "tracemalloc")
    node = m["nodes"]["alloc"]
    assert 100 * MB <= node["peak_memory_bytes"] <= 110 * MB
    assert 100 * MB <= node["python_peak_bytes"] <= 110 * MB
    assert m["nodes"]["before"]["peak_memory_bytes"] < 1 * MB
    assert m["nodes"]["after"]["peak_memory_bytes"] < 1 * MB


def test_memory_of_concurrent_nodes_is_the_process_peak_during_each_span(memory_mode):
    """Two branches allocate 30 MB and 60 MB at the same time: each reports at least its own,
    at most the sum (the documented process-wide peak over its span)."""

    class AllocHold(Node):
        def __init__(self, nbytes, name=None):
            super().__init__(name=name)
            self.nbytes = nbytes

        def process(self, data):
            a = np.ones(self.nbytes // 8)
            time.sleep(0.05)  # both arrays are alive together
            return float(a[0]) + data

    class Join(Node):
        input_types = {"a": "any", "b": "any"}

        def process(self, data):
            return data["a"] + data["b"]

    metrics = ExecutionMetrics(memory=memory_mode)
    p = Pipeline([PassThroughNode(name="src"), AllocHold(30 * MB, name="a"), AllocHold(60 * MB, name="b"),
                  Join(name="join")], hooks=[metrics], connections=[
        ("src", "a"), ("src", "b"), {"from": "a", "to": "join", "to_port": "a"},
        {"from": "b", "to": "join", "to_port": "b"}])
    p.run_sync(1)
    nodes = metrics.get()["nodes"]
    assert 30 * MB <= nodes["a"]["peak_memory_bytes"] <= 95 * MB
    assert 60 * MB <= nodes["b"]["peak_memory_bytes"] <= 95 * MB


def test_native_kernel_allocations_are_counted(impl, memory_mode):
    """The native energy VAD builds its decisions (1 byte) and RMS (8 bytes) per frame in Rust
    vectors; with 1-sample frames that is 9 bytes per sample, counted as native memory. The numpy
    twin allocates the same 9 bytes per sample as numpy arrays, counted on the Python side."""
    n = 1_000_000
    x = np.linspace(-0.5, 0.5, n, dtype=np.float32)

    class EnergyFrames(Node):
        def process(self, data):
            decisions, rms = EnergyVad(1000, frame_ms=1, energy_threshold=0.1, impl=impl).process(data)
            return int(decisions.sum())

    metrics = ExecutionMetrics(memory=memory_mode)
    Pipeline([EnergyFrames(name="vad")], hooks=[metrics]).run_sync(x)
    node = metrics.get()["nodes"]["vad"]
    assert node["implementation"] == "python"  # a plain node: its kernel choice is its own business
    assert node["input_samples"] == n and node["input_bytes"] == 4 * n
    if impl == "native":
        assert 9 * n <= node["native_peak_bytes"] <= 2 * 9 * n + MB
    else:
        assert node["native_peak_bytes"] < 64 * 1024
        assert node["python_peak_bytes"] >= 9 * n


def test_memory_off_and_bad_modes():
    metrics = ExecutionMetrics(memory=False)
    Pipeline([Alloc(10 * MB, name="alloc")], hooks=[metrics]).run_sync(1)
    m = metrics.get()
    assert m["memory_tracking"] == "off" and m["nodes"]["alloc"]["peak_memory_bytes"] == 0
    validate(m)
    with pytest.raises(ConfigurationError, match="memory: expected one of"):
        ExecutionMetrics(memory="psutil")


def test_kernel_nodes_report_their_implementation(impl):
    from remotemedia.nodes.audio import FormatConverterNode

    p = Pipeline([FormatConverterNode(target_format="i16", runtime_hint=impl, name="conv")], enable_metrics=True)
    x = np.zeros((1, 4800), dtype=np.float32)
    p.run_sync((x, 48000))
    node = p.get_metrics()["nodes"]["conv"]
    assert node["implementation"] == impl
    assert node["input_samples"] == 4800 and node["input_bytes"] == 4800 * 4
    assert node["output_samples"] == 4800 and node["output_bytes"] == 4800 * 2


# ------------------------------------------------------------------- sizes
@pytest.mark.parametrize(("value", "expected"), [
    (np.zeros((2, 100), np.float32), (200, 800)),
    ((np.zeros(50, np.int16), 16000), (50, 100)),
    ([np.zeros(10), np.zeros(5)], (15, 120)),
    ({"a": np.zeros(3, np.int32), "b": (np.zeros(4, np.float32), 8000)}, (7, 28)),
    (b"abcd", (None, 4)),
    (1.5, (None, None)),
    ({"x": 1}, (None, None)),
])
def test_payload_size(value, expected):
    assert payload_size(value) == expected


def test_payload_size_of_audio_buffer():
    buf = AudioBuffer(np.zeros((2, 480), np.int16), 48000)
    assert payload_size(buf) == (960, 1920)


# ---------------------------------------------------------------- retries
def test_retry_attempts_passed_by_hooks_are_recorded():
    """Retries (issue 5) call the hooks once per attempt with attempt=, error= and delay_s=."""
    metrics = ExecutionMetrics(memory=False)
    metrics.before_run(run_id=7, pipeline_name="p")
    metrics.before_node(run_id=7, node_id="n", node_type="T", attempt=1, item=np.zeros(4))
    metrics.after_node(run_id=7, node_id="n", node_type="T", attempt=1, duration_ns=1, error=TimeoutError("slow"),
                       result=None, delay_s=0.5, some_future_context="ignored")
    metrics.before_node(run_id=7, node_id="n", node_type="T", attempt=2, item=np.zeros(4))
    metrics.after_node(run_id=7, node_id="n", node_type="T", attempt=2, duration_ns=1, error=None,
                       result=np.zeros(2))
    metrics.after_run(run_id=7, pipeline_name="p", duration_ns=1, error=None)
    m = metrics.get(7)
    validate(m)
    node = m["nodes"]["n"]
    assert (node["calls"], node["attempts"], node["retries"], node["errors"], node["status"]) == (2, 2, 1, 1, "ok")
    first, second = m["calls"]
    assert first["status"] == "failed" and first["retry_delay_s"] == 0.5 and first["error"] == "TimeoutError: slow"
    assert second["attempt"] == 2 and second["output_samples"] == 2


def test_runs_are_kept_by_id_and_history_is_bounded():
    metrics = ExecutionMetrics(memory=False, history=3)
    p = Pipeline([AddNode(name="a")], hooks=[metrics])
    ids = [p.execute_sync(i).run_id for i in range(5)]
    assert metrics.runs == 5 and metrics.run_ids == ids[-3:]
    assert metrics.get(ids[-1]) == metrics.get()
    with pytest.raises(KeyError):
        metrics.get(ids[0])


def test_metrics_stay_off_the_node_class():
    node = MultiplyNode()
    Pipeline([node], enable_metrics=True).run_sync(1)
    assert not any("metric" in name for name in vars(node))


# ------------------------------------------------------------------ batches
def test_aggregate_percentiles_per_node():
    p = Pipeline([MultiplyNode(name="m"), Sleep(0.001, name="s")], enable_metrics=True)
    runs = []
    for i in range(9):
        p.run_sync(i)
        runs.append(p.get_metrics())
    batch = aggregate(runs)
    assert batch["runs"] == 9 and batch["failed_runs"] == 0 and list(batch["nodes"]) == ["m", "s"]
    walls = [r["nodes"]["s"]["wall_us"] for r in runs]
    stats = batch["nodes"]["s"]["wall_us"]
    for q in (50, 95, 99):
        assert stats[f"p{q}"] == pytest.approx(float(np.percentile(walls, q)))
    assert stats["min"] == min(walls) and stats["max"] == max(walls)
    assert stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]


def test_cpu_time_can_be_turned_off():
    from remotemedia.report import html_report

    metrics = ExecutionMetrics(memory=False, cpu_time=False)
    p = Pipeline([MultiplyNode(name="m"), AddNode(name="a")], hooks=[metrics])
    p.run_sync([1, 2])
    m = metrics.get()
    validate(m)
    assert m["nodes"]["m"]["cpu_us"] is None and all(c["cpu_us"] is None for c in m["calls"])
    assert m["nodes"]["m"]["wall_us"] > 0
    assert "<svg" in html_report(m)
    validate(aggregate([m, m]))


def test_chunk_streams_report_each_kernel_nodes_implementation(impl, tmp_path):
    """run_file (chunk streaming) tells the metrics which implementation each kernel node runs, as run() does."""
    from remotemedia.io import write_audio
    from remotemedia.nodes.audio import AudioResampleNode, VADNode
    from remotemedia.nodes.io_audio import AudioFileSource, MonoMixNode
    from remotemedia.nodes.segment_writer import SegmentWriter

    src = tmp_path / "in.wav"
    write_audio(src, (np.arange(2 * 48000) % 300).astype(np.int16).reshape(2, -1), 48000)
    p = Pipeline([AudioFileSource(name="source"), MonoMixNode(name="mono", runtime_hint=impl),
                  AudioResampleNode(target_sample_rate=16000, runtime_hint=impl, name="resample"),
                  VADNode(backend="energy", segments=True, runtime_hint=impl, name="vad"),
                  SegmentWriter(name="segments")], enable_metrics=True)
    p.run_file(str(src), str(tmp_path / "out"))
    nodes = p.get_metrics()["nodes"]
    assert [nodes[n]["implementation"] for n in ("mono", "resample", "vad")] == [impl] * 3
