"""The metrics JSON: the schema, and the text export (the same text as json.dumps of the dict)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_helpers import Fail, diamond, validate

from remotemedia.errors import NodeError
from remotemedia.metrics import ExecutionMetrics, aggregate, write_metrics_json
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline
from remotemedia.reliability import RetryPolicy


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


# ---------------------------------------------------------------- JSON text
def test_to_json_is_json_dumps_of_get_character_for_character():
    """to_json() writes the text itself (without building the dicts): the same text as json.dumps(get()),
    for chains, concurrent branches, failures, not-run nodes, retries, odd names and messages."""

    class Flaky(Node):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.retry_policy = RetryPolicy(max_retries=2, initial_delay_s=0.001, jitter=0)
            self.failures = 1

        def process(self, data):
            if self.failures:
                self.failures -= 1
                raise TimeoutError('slow "once"\nsecond line é')
            return np.zeros(8, np.float32)

    cases = []
    chain = Pipeline([MultiplyNode(name=f"n{i}") for i in range(5)], enable_metrics=True)
    chain.run_sync([1, 2, 3])
    cases.append(chain)
    d = diamond(delay_s=0.005)
    d.run_sync([1, 2])
    cases.append(d)
    failed = Pipeline([MultiplyNode(name="m"), Fail(name='f "quoted" ☃'), AddNode(name="after")], enable_metrics=True)
    with pytest.raises(NodeError):
        failed.run_sync(1)
    cases.append(failed)
    retried = Pipeline([Flaky(name="flaky"), PassThroughNode(name="ünïcode")], enable_metrics=True)
    retried.run_sync(1)
    cases.append(retried)
    for p in cases:
        m = p.get_metrics()
        validate(m)
        assert p.to_json() == json.dumps(m)
        assert p.metrics.to_json() == json.dumps(p.metrics.get())
    assert [a["attempt"] for a in retried.get_metrics()["attempts"]] == [1, 2]
    assert failed.get_metrics()["nodes"]["after"]["status"] == "not_run"
    assert json.loads(retried.to_json(indent=2)) == retried.get_metrics()


_NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=6)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), _NAMES,
                     st.floats(allow_nan=False, allow_infinity=False))
_EXTRAS = st.dictionaries(st.sampled_from(["fused", "stage_us", "chunk", "stages", "per_stage"]), st.one_of(
    _SCALARS, st.lists(_SCALARS, max_size=3), st.dictionaries(_NAMES, _SCALARS, max_size=2)), max_size=2)
_PAYLOADS = st.sampled_from([None, 1, 2.5, "text", b"abc", np.zeros(3, np.int16), (np.zeros((2, 4), np.float32), 8000),
                             {"a": np.zeros(2), "b": 3}, [np.zeros(1), np.zeros(2)]])
_CALL = st.tuples(st.integers(0, 3), st.integers(1, 3), st.booleans(), _PAYLOADS, _PAYLOADS, _EXTRAS,
                  st.sampled_from([None, 0, 1, 0.25]))


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_NAMES, min_size=4, max_size=4, unique=True), calls=st.lists(_CALL, max_size=12),
       cpu_time=st.booleans(), failed_run=st.booleans())
def test_to_json_equals_json_dumps_of_get_for_any_hook_sequence(names, calls, cpu_time, failed_run):
    """Any sequence of hook calls (as an engine passes them: items, results, attempts, errors, delays and extra
    keywords) exports to the same text both ways, and the text validates."""
    metrics = ExecutionMetrics(memory=False, cpu_time=cpu_time, opentelemetry=False)
    metrics.before_run(run_id=1, pipeline_name=names[0], graph=None, nodes=None)
    for node, attempt, fails, item, result, extra, delay in calls:
        node_id = names[node]
        metrics.before_node(run_id=1, node_id=node_id, node_type=f"T{node}", attempt=attempt, item=item)
        error = ValueError(f"bad {node_id!r}\n\t\"x\"") if fails else None
        metrics.after_node(run_id=1, node_id=node_id, node_type=f"T{node}", attempt=attempt, duration_ns=1,
                           error=error, result=None if fails else result, delay_s=delay if fails else None, ran=True,
                           **extra)
    if calls and failed_run:
        metrics.before_node(run_id=1, node_id=names[3], node_type="T3", attempt=1)  # interrupted: cancelled
    metrics.after_run(run_id=1, pipeline_name=names[0], duration_ns=1,
                      error=RuntimeError("stop") if failed_run else None)
    record = metrics.get()
    validate(record)
    assert metrics.to_json() == json.dumps(record)
    assert len(record["calls"]) == len(calls) + (1 if calls and failed_run else 0)
