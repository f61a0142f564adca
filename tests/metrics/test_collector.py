"""ExecutionMetrics, the hook: timestamps against the graph, CPU time, implementations, retries, history."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from metrics_helpers import Sleep, diamond, validate

from remotemedia.metrics import ExecutionMetrics, aggregate
from remotemedia.nodes.base import Node
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline
from remotemedia.reliability import RetryPolicy


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


def test_cpu_clock_read_once_per_call_in_a_chain_and_never_negative(monkeypatch):
    """A call that starts right after the previous one ended in the same thread takes its start CPU time from that
    call's end reading (collector.CPU_BRIDGE_NS); a longer gap gets a reading of its own. Fake clocks: no timing."""
    from remotemedia.metrics import collector

    wall = [0]
    cpu_reads = []

    def perf_ns():
        wall[0] += 1_000  # 1 us per reading
        return wall[0]

    def thread_ns():
        cpu_reads.append(wall[0])
        return wall[0] // 2  # the thread ran half the time

    monkeypatch.setattr(collector, "_perf_ns", perf_ns)
    monkeypatch.setattr(collector, "_thread_ns", thread_ns)
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=1, pipeline_name="p")
    for i in range(6):
        metrics.before_node(run_id=1, node_id=f"n{i}", node_type="T", item=1)
        metrics.after_node(run_id=1, node_id=f"n{i}", node_type="T", result=1)
    assert len(cpu_reads) == 1 + 6  # the first start, then each end
    wall[0] += collector.CPU_BRIDGE_NS  # a longer gap: the next start reads the clock again
    metrics.before_node(run_id=1, node_id="late", node_type="T", item=1)
    metrics.after_node(run_id=1, node_id="late", node_type="T", result=1)
    metrics.after_run(run_id=1)
    assert len(cpu_reads) == 7 + 2
    calls = metrics.get()["calls"]
    # a reading at each end, 1 us after the call's end: 1 us of fake CPU time for a read start 2 us before it;
    # a bridged start counts the gap as the thread's own: 0.5 us, never more than a reading would give
    assert [c["cpu_us"] for c in calls] == [1.0] + [0.5] * 5 + [1.0]


def test_kernel_nodes_report_their_implementation(impl):
    from remotemedia.nodes.audio import FormatConverterNode

    p = Pipeline([FormatConverterNode(target_format="i16", runtime_hint=impl, name="conv")], enable_metrics=True)
    x = np.zeros((1, 4800), dtype=np.float32)
    p.run_sync((x, 48000))
    node = p.get_metrics()["nodes"]["conv"]
    assert node["implementation"] == impl
    assert node["input_samples"] == 4800 and node["input_bytes"] == 4800 * 4
    assert node["output_samples"] == 4800 and node["output_bytes"] == 4800 * 2


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


def test_cpu_time_can_be_turned_off():
    from remotemedia.metrics.report import html_report

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


# ------------------------------------------------- what an engine may pass
def test_extra_hook_keywords_that_are_json_ready_are_kept_per_call():
    """Fused segments (issue 17) report their calls with extra keywords: scalars and flat lists or dicts of them
    are kept under the call's "extra"; anything else (objects, NaN, nested containers) is left out."""
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=1, pipeline_name="p")
    metrics.before_node(run_id=1, node_id="resample", node_type="AudioResampleNode", attempt=1, item=np.zeros(960),
                        segment="seg0")
    metrics.after_node(run_id=1, node_id="resample", node_type="AudioResampleNode", attempt=1, duration_ns=1,
                       error=None, result=np.zeros(320), delay_s=None, ran=True, fused=True, stage_us=3.25,
                       stages=("mono", "resample"), per_stage={"mono": 1.5, "resample": 1.75}, handle=object(),
                       bad=float("nan"), nested={"a": [1]}, n=np.int64(3))
    metrics.before_node(run_id=1, node_id="vad", node_type="VADNode", attempt=1, item=np.zeros(320))
    metrics.after_node(run_id=1, node_id="vad", node_type="VADNode", attempt=1, duration_ns=1, error=None,
                       result=None, delay_s=None, ran=True)
    metrics.after_run(run_id=1, pipeline_name="p", duration_ns=1, error=None)
    m = metrics.get()
    validate(m)
    resample, vad = m["calls"]
    assert resample["extra"] == {"segment": "seg0", "fused": True, "stage_us": 3.25, "stages": ["mono", "resample"],
                                 "per_stage": {"mono": 1.5, "resample": 1.75}}
    assert "extra" not in vad
    resample["extra"]["stages"].append("changed by the caller")
    resample["extra"]["per_stage"].clear()
    assert metrics.get()["calls"][0]["extra"]["stages"] == ["mono", "resample"]
    assert metrics.get()["calls"][0]["extra"]["per_stage"] == {"mono": 1.5, "resample": 1.75}
    assert resample["input_samples"] == 960 and resample["output_samples"] == 320


def test_chunk_stream_hooks_fill_sizes_and_source_reads_are_node_calls():
    """The engine's chunk streams pass item= and result= to the node hooks, and report each read of the source
    node as one call (no item): sizes add up over chunks, and the source gets calls and a wall time."""
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=3, pipeline_name="stream")
    for _ in range(5):
        chunk = np.zeros((2, 960), np.int16)
        metrics.before_node(run_id=3, node_id="source", node_type="AudioFileSource", attempt=1)
        time.sleep(0.001)
        metrics.after_node(run_id=3, node_id="source", node_type="AudioFileSource", attempt=1, duration_ns=1,
                           error=None, result=(chunk, 48000), delay_s=None, ran=True)
        metrics.before_node(run_id=3, node_id="mono", node_type="MonoMixNode", attempt=1, item=(chunk, 48000))
        metrics.after_node(run_id=3, node_id="mono", node_type="MonoMixNode", attempt=1, duration_ns=1, error=None,
                           result=(chunk[:1], 48000), delay_s=None, ran=True)
    # the read that finds the end: ran=False without an error, no chunk came out of it
    metrics.before_node(run_id=3, node_id="source", node_type="AudioFileSource", attempt=1, item=None)
    metrics.after_node(run_id=3, node_id="source", node_type="AudioFileSource", attempt=1, duration_ns=1,
                       error=None, result=None, delay_s=None, ran=False)
    metrics.after_run(run_id=3, pipeline_name="stream", duration_ns=1, error=None)
    m = metrics.get()
    validate(m)
    check_timeline({**m, "edges": [{"from": "source", "to": "mono"}]})
    source, mono = m["nodes"]["source"], m["nodes"]["mono"]
    assert source["calls"] == mono["calls"] == 5 and m["execution_order"] == ["source", "mono"]
    assert source["wall_us"] >= 5 * 1000
    assert source["input_samples"] is None and source["output_samples"] == 5 * 1920
    assert source["output_bytes"] == 5 * 3840
    assert (mono["input_samples"], mono["output_samples"], mono["output_bytes"]) == (5 * 1920, 5 * 960, 5 * 1920)
    assert metrics.to_json() == json.dumps(m)


def test_a_pipeline_with_metrics_has_one_hook_and_its_attempt_log():
    """enable_metrics=True installs one hook (ExecutionMetrics keeps the attempt log), and get_metrics() carries
    the run's attempts."""

    class FailOnce(Node):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.retry_policy = RetryPolicy(max_retries=1, initial_delay_s=0.001, jitter=0)
            self.failed = False

        def process(self, data):
            if not self.failed:
                self.failed = True
                raise ConnectionError("flaky")
            return data

    p = Pipeline([FailOnce(name="f"), AddNode(name="a")], enable_metrics=True)
    assert p.executor.hooks.hooks == [p.metrics]
    run_id = p.execute_sync(1).run_id
    attempts = p.get_metrics()["attempts"]
    assert [(a["run_id"], a["node_id"], a["attempt"], a["error"], a["ran"]) for a in attempts] == [
        (run_id, "f", 1, "ConnectionError: flaky", True), (run_id, "f", 2, None, True)]
    assert attempts[0]["delay_s"] == pytest.approx(0.001)
    p.execute_sync(2)
    assert p.get_metrics()["attempts"] == [] and p.get_metrics(run_id)["attempts"] == attempts
    assert p.attempt_log() == attempts


def test_fused_stages_are_timed_by_the_segment():
    """A fused segment reports each stage after the native call, as the engine's FusedNode does: item and result
    None, the stage's time in duration_ns (and stage_us), its sizes in input_size/output_size. The call takes that
    time (ending when reported), those sizes, no CPU time, and keeps fused/stage_us under extra."""
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=5, pipeline_name="p", fused=[["mono", "resample"]])
    for _ in range(3):
        time.sleep(0.002)  # the segment's native call
        for nid, node_type, us, size in (("mono", "MonoMixNode", 12.5, (1920, 3840, 960, 1920)),
                                         ("resample", "AudioResampleNode", 40.0, (960, 1920, 320, 640))):
            kwargs = {"run_id": 5, "node_id": nid, "node_type": node_type, "attempt": 1}
            metrics.before_node(item=None, fused=True, **kwargs)
            metrics.after_node(duration_ns=int(us * 1000), error=None, delay_s=None, ran=True, result=None,
                               fused=True, stage_us=us, input_size=size[:2], output_size=size[2:], **kwargs)
    metrics.after_run(run_id=5, pipeline_name="p", duration_ns=1, error=None)
    m = metrics.get()
    validate(m)
    assert metrics.to_json() == json.dumps(m)
    assert len(m["calls"]) == 6
    for c in m["calls"]:
        assert c["extra"] == {"fused": True, "stage_us": c["wall_us"]}
        assert c["cpu_us"] is None and 0 <= c["start_us"] <= c["end_us"] <= m["total_wall_us"]
    mono, resample = m["nodes"]["mono"], m["nodes"]["resample"]
    assert (mono["calls"], mono["wall_us"], mono["cpu_us"]) == (3, 37.5, None)
    assert (resample["wall_us"], resample["max_wall_us"], resample["mean_wall_us"]) == (120.0, 40.0, 40.0)
    assert (mono["input_samples"], mono["input_bytes"], mono["output_samples"], mono["output_bytes"]) == (
        3 * 1920, 3 * 3840, 3 * 960, 3 * 1920)
    assert (resample["input_samples"], resample["output_bytes"]) == (3 * 960, 3 * 640)


def test_a_real_chunk_stream_reports_every_source_read(tmp_path):
    """Through the engine: run_file reports each chunk read by the source as a call (the read that finds the end
    is not one), with the chunk's size, and every downstream call gets its item's and result's sizes."""
    from remotemedia.io import write_audio
    from remotemedia.nodes.io_audio import AudioFileSource, MonoMixNode

    src = tmp_path / "in.wav"
    write_audio(src, (np.arange(2 * 48000 * 2) % 300).astype(np.int16).reshape(2, -1), 48000)  # 2 s, stereo
    p = Pipeline([AudioFileSource(chunk_s=0.25, name="source"), MonoMixNode(name="mono")], enable_metrics=True)
    p.run_file(str(src), str(tmp_path / "mono.wav"))
    m = p.get_metrics()
    validate(m)
    source, mono = m["nodes"]["source"], m["nodes"]["mono"]
    assert source["calls"] == mono["calls"] == 8 and source["wall_us"] > 0
    assert source["input_samples"] is None and source["output_samples"] == 2 * 96000
    assert (mono["input_samples"], mono["output_samples"]) == (2 * 96000, 96000)
    assert m["execution_order"][0] == "source"


def test_implementations_passed_by_the_engine_win():
    """An engine that names each node's implementation (implementations=) is believed over the nodes' attributes;
    anything but "native" is reported as "python"."""
    from remotemedia.nodes.audio import FormatConverterNode

    node = FormatConverterNode(target_format="i16", runtime_hint="python", name="conv")
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=1, pipeline_name="p", nodes={"conv": node, "other": node},
                       implementations={"conv": "native", "other": "gpu"})
    for nid in ("conv", "other"):
        metrics.before_node(run_id=1, node_id=nid, node_type="FormatConverterNode", attempt=1)
        metrics.after_node(run_id=1, node_id=nid, node_type="FormatConverterNode", attempt=1, duration_ns=1,
                           error=None, delay_s=None, ran=True)
    metrics.after_run(run_id=1, pipeline_name="p", duration_ns=1, error=None)
    nodes = metrics.get()["nodes"]
    assert (nodes["conv"]["implementation"], nodes["other"]["implementation"]) == ("native", "python")
