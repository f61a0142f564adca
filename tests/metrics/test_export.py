"""The metrics JSON: the schema, and the text export (the same text as json.dumps of the dict)."""

from __future__ import annotations

import json

import pytest
from metrics_helpers import Fail, diamond, validate

from remotemedia.errors import NodeError
from remotemedia.metrics import aggregate, write_metrics_json
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline


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
