"""Peak memory per node call: the native counters and tracemalloc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from metrics_helpers import MB, NATIVE, Alloc, validate

from remotemedia.errors import ConfigurationError
from remotemedia.kernels.vad import EnergyVad
from remotemedia.metrics import ExecutionMetrics
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.simple_math import AddNode
from remotemedia.pipeline import Pipeline


@pytest.fixture(params=["tracemalloc", "counting"])
def memory_mode(request):
    if request.param == "counting" and not NATIVE:
        pytest.skip("the counting allocators live in the native module")
    return request.param


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


def test_auto_measures_nothing_in_a_pure_install(tmp_path):
    """Without the compiled module (a child process with REMOTEMEDIA_IMPL=python never loads it), memory="auto"
    records no memory ("off", every peak 0) and leaves tracemalloc off; memory="tracemalloc" still works."""
    code = textwrap.dedent("""
        import json, sys, tracemalloc
        import numpy as np
        from remotemedia.metrics import ExecutionMetrics
        from remotemedia.nodes.base import Node
        from remotemedia.pipeline import Pipeline
        class Alloc(Node):
            def process(self, data):
                return float(np.ones(1_000_000)[-1]) + data
        out = {}
        for mode in ("auto", "tracemalloc"):
            p = Pipeline([Alloc(name="alloc")], enable_metrics=True, metrics_memory=mode)
            p.run_sync(1)
            m = p.get_metrics()
            out[mode] = [m["memory_tracking"], m["nodes"]["alloc"]["peak_memory_bytes"], tracemalloc.is_tracing()]
        out["native loaded"] = "remotemedia_runtime" in sys.modules
        print(json.dumps(out))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "REMOTEMEDIA_IMPL": "python"})
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["native loaded"] is False
    assert got["auto"] == ["off", 0, False]
    mechanism, peak, tracing = got["tracemalloc"]
    assert mechanism == "tracemalloc" and 8 * MB <= peak <= 9 * MB and tracing


@pytest.mark.skipif(not NATIVE, reason="the counting tracker lives in the native module")
def test_native_peak_tracker_folds_peaks_into_every_call_in_flight():
    """The native PeakTracker (CountingTracker's bookkeeping): a call's peak is the highest level during its own
    span, an outer call also sees what an inner call allocated, a call not in flight is left alone."""
    from remotemedia import _native
    from remotemedia.metrics.calls import NAT_BASE, NAT_PEAK, PY_BASE, PY_PEAK

    native = _native.module()
    assert native.numpy_memory_install()
    tracker = native.PeakTracker(PY_BASE, PY_PEAK, NAT_BASE, NAT_PEAK)
    outer, inner = [0] * 19, [0] * 19
    tracker.enter(outer)
    base = outer[PY_BASE]
    assert outer[PY_PEAK] == base and outer[NAT_PEAK] == outer[NAT_BASE]
    tracker.enter(inner)
    assert len(tracker) == 2
    a = np.ones(4 * MB // 8)  # numpy memory, while both calls are in flight
    tracker.exit(inner)
    del a
    b = np.ones(1 * MB // 8)  # after the inner call ended: only the outer one sees it (below its earlier peak)
    tracker.exit(outer)
    del b
    assert len(tracker) == 0
    assert inner[PY_PEAK] - inner[PY_BASE] >= 4 * MB
    assert outer[PY_PEAK] - base >= 4 * MB
    assert outer[PY_PEAK] >= inner[PY_PEAK]
    before = list(outer)
    tracker.exit(outer)  # not in flight any more: nothing changes
    assert outer == before and len(tracker) == 0
