"""`remotemedia nodes` and `remotemedia bench`."""

from __future__ import annotations

import json
import subprocess
import sys

from remotemedia import _native
from remotemedia.bench import format_table, run_bench
from remotemedia.nodes.describe import describe_nodes, format_nodes
from remotemedia.nodes.registry import registered_node_types


def test_nodes_lists_every_type_with_parameters_ports_and_implementation():
    data = describe_nodes()
    assert sorted(data) == registered_node_types()
    resample = data["AudioResampleNode"]
    params = {p["name"]: p for p in resample["parameters"]}
    assert params["target_sample_rate"] == {"name": "target_sample_rate", "type": "int", "required": False,
                                            "default": 16000}
    assert params["quality"]["default"] == "high"
    assert resample["kernel"] == "resample" and resample["implementation"] == _native.STATUS.impl
    assert resample["runtime_hint"] is True
    conv = data["FormatConverterNode"]
    assert conv["inputs"] == {"audio": "audio"} and conv["outputs"] == {"audio": "audio"}
    assert data["PassThroughNode"]["parameters"] == [] and data["PassThroughNode"]["runtime_hint"] is False
    text = format_nodes(data)
    assert "VADNode  [kernel energy_vad" in text and "segments                 bool" in text


def test_nodes_command_json():
    r = subprocess.run([sys.executable, "-m", "remotemedia", "nodes", "--json"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "VADNode" in json.loads(r.stdout)


def test_bench_rows_and_table():
    rows = run_bench(seconds=0.5, rounds=1)
    kernels = {r["kernel"] for r in rows}
    assert kernels == {"convert", "resample", "webrtc_vad"}
    variants = {(r["kernel"], r["variant"]) for r in rows}
    assert ("resample", "numpy") in variants
    if _native.STATUS.impl == "native":
        assert all(r["ratio_to_native"] == 1.0 for r in rows if r["variant"] == "native")
    assert all(r["median_ms"] > 0 and r["x_real_time"] > 0 for r in rows)
    table = format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["kernel", "variant", "ms/call"]


def test_bench_command():
    r = subprocess.run([sys.executable, "-m", "remotemedia", "bench", "--seconds", "0.5", "--rounds", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "resample" in r.stdout and "x native" in r.stdout
