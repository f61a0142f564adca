"""Chrome trace export and OpenTelemetry spans of recorded runs."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from remotemedia.metrics import ExecutionMetrics, write_chrome_trace
from remotemedia.metrics.trace import chrome_trace
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline


class Sleep(Node):
    def process(self, data):
        time.sleep(0.01)
        return data


class Join(Node):
    input_types = {"a": "any", "b": "any"}

    def process(self, data):
        return data["a"] + data["b"]


def branches():
    return Pipeline([PassThroughNode(name="src"), Sleep(name="a"), Sleep(name="b"), Join(name="join")],
                    enable_metrics=True, connections=[
        ("src", "a"), ("src", "b"), {"from": "a", "to": "join", "to_port": "a"},
        {"from": "b", "to": "join", "to_port": "b"}])


def node_events(trace):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] != "run"]


def test_trace_file_loads_and_has_one_event_per_node_run(tmp_path):
    p = branches()
    p.run_sync([1, 2, 3])
    m = p.get_metrics()
    write_chrome_trace(tmp_path / "t.json", m)
    trace = json.loads((tmp_path / "t.json").read_text())
    events = node_events(trace)
    assert len(events) == 12 == len(m["calls"])  # 4 nodes x 3 items
    assert sorted(e["name"] for e in events) == sorted(["src", "a", "b", "join"] * 3)
    for e, c in zip(sorted(events, key=lambda e: e["ts"]), m["calls"]):
        assert (e["name"], e["ts"], e["dur"], e["tid"]) == (c["node_id"], c["start_us"], c["wall_us"], c["lane"] + 1)
        assert e["args"]["implementation"] == "python" and e["pid"] == 1
    run_events = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "run"]
    assert len(run_events) == 1 and run_events[0]["dur"] == m["total_wall_us"]


def test_lanes_are_named_threads_and_events_in_a_lane_do_not_overlap():
    p = branches()
    p.run_sync([1, 2])
    trace = chrome_trace(p.get_metrics())
    events = node_events(trace)
    tids = {e["tid"] for e in events}
    assert len(tids) >= 2  # the sleeping branches overlap
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert all(names[t] == f"lane {t}" for t in tids) and names[0] == "run"
    for tid in tids:
        lane = sorted((e for e in events if e["tid"] == tid), key=lambda e: e["ts"])
        for x, y in zip(lane, lane[1:]):
            assert y["ts"] >= x["ts"] + x["dur"]


def test_retries_are_separate_events():
    metrics = ExecutionMetrics(memory=False)
    metrics.before_run(run_id=1, pipeline_name="p")
    for attempt, error in ((1, ConnectionError("reset")), (2, ConnectionError("reset")), (3, None)):
        metrics.before_node(run_id=1, node_id="fetch", node_type="Fetch", attempt=attempt, item=np.zeros(3))
        metrics.after_node(run_id=1, node_id="fetch", node_type="Fetch", attempt=attempt, duration_ns=0, error=error,
                           result=np.zeros(3) if error is None else None, delay_s=None if error is None else 0.1)
    metrics.after_run(run_id=1, pipeline_name="p", duration_ns=0, error=None)
    events = node_events(chrome_trace(metrics.get()))
    assert [e["name"] for e in events] == ["fetch", "fetch (attempt 2)", "fetch (attempt 3)"]
    assert [e.get("cname") for e in events] == ["terrible", "terrible", None]
    assert events[0]["args"]["error"] == "ConnectionError: reset" and events[0]["args"]["retry_delay_s"] == 0.1


def test_several_runs_are_processes_on_one_time_axis():
    p = Pipeline([MultiplyNode(name="m"), AddNode(name="a")], enable_metrics=True)
    runs = []
    for i in range(3):
        p.run_sync(i)
        runs.append(p.get_metrics())
    trace = chrome_trace(runs)
    events = node_events(trace)
    assert len(events) == 6 and {e["pid"] for e in events} == {1, 2, 3}
    run_starts = [e["ts"] for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "run"]
    assert run_starts[0] == 0 and run_starts == sorted(run_starts)


def test_opentelemetry_spans():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    class Fail(Node):
        def process(self, data):
            raise ValueError("bad")

    metrics = ExecutionMetrics(memory=False, opentelemetry=provider.get_tracer("test"))
    p = Pipeline([MultiplyNode(name="m"), AddNode(name="a")], hooks=[metrics])
    p.run_sync([1, 2])
    spans = exporter.get_finished_spans()
    root = next(s for s in spans if s.name == "pipeline pipeline")
    children = [s for s in spans if s is not root]
    assert sorted(s.name for s in children) == ["a", "a", "m", "m"]
    assert all(s.parent.span_id == root.context.span_id for s in children)
    assert all(root.start_time <= s.start_time <= s.end_time <= root.end_time for s in children)
    assert children[0].attributes["remotemedia.node_type"] in ("MultiplyNode", "AddNode")
    exporter.clear()
    with pytest.raises(Exception, match="bad"):
        Pipeline([Fail(name="f")], hooks=[metrics]).run_sync(1)
    failed = [s for s in exporter.get_finished_spans() if s.name == "f"]
    assert failed[0].status.status_code is StatusCode.ERROR


def test_opentelemetry_auto_mode_uses_the_global_provider():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from remotemedia.metrics.trace import otel_provider_configured

    metrics = ExecutionMetrics(memory=False)  # opentelemetry=None: auto
    p = Pipeline([MultiplyNode(name="m")], hooks=[metrics])
    if not otel_provider_configured():
        p.run_sync(1)  # no provider: nothing emitted, nothing fails
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)  # once per process (the API refuses a second one)
    else:
        pytest.skip("a global tracer provider was set elsewhere in this process")
    p.run_sync(2)
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["m", "pipeline pipeline"]


def fused_run(metrics):
    """Two calls reported the way a fused native segment reports them (extra keywords on after_node)."""
    metrics.before_run(run_id=1, pipeline_name="fused")
    for node_id, stage_us in (("mono", 1.5), ("resample", 4.25)):
        metrics.before_node(run_id=1, node_id=node_id, node_type="KernelNode", attempt=1, item=np.zeros(960))
        metrics.after_node(run_id=1, node_id=node_id, node_type="KernelNode", attempt=1, duration_ns=1, error=None,
                           result=np.zeros(320), delay_s=None, ran=True, fused=True, stage_us=stage_us,
                           stages=["mono", "resample"], per_stage={"mono": 1.5, "resample": None})
    metrics.after_run(run_id=1, pipeline_name="fused", duration_ns=1, error=None)


def test_extra_keywords_reach_the_trace_events_and_spans():
    events = node_events(chrome_trace(_fused_metrics().get()))
    assert [e["args"]["extra"]["stage_us"] for e in events] == [1.5, 4.25]
    assert all(e["args"]["extra"]["fused"] is True for e in events)
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fused_run(ExecutionMetrics(memory=False, opentelemetry=provider.get_tracer("test")))
    span = next(s for s in exporter.get_finished_spans() if s.name == "resample")
    assert span.attributes["remotemedia.extra.fused"] is True
    assert span.attributes["remotemedia.extra.stage_us"] == 4.25
    assert span.attributes["remotemedia.extra.stages"] == ("mono", "resample")
    assert span.attributes["remotemedia.extra.per_stage.mono"] == 1.5
    assert "remotemedia.extra.per_stage.resample" not in span.attributes  # None: OpenTelemetry takes no null


def _fused_metrics():
    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    fused_run(metrics)
    return metrics
