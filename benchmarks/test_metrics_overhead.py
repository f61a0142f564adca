"""Cost of metrics: per pipeline execution, and of exporting a run.

- Overhead per execution of a 10-node chain of trivial nodes (one item), with
  default settings (``Pipeline(..., enable_metrics=True)`` against the same
  pipeline without): from the median of interleaved rounds in the same
  process. The native install is measured here; the pure install in a child
  process with ``REMOTEMEDIA_IMPL=python`` (the compiled module is never
  loaded there, so ``memory="auto"`` has no counters). The limit is 100 us in
  both, the goal 20 us. Scheduling noise on a shared machine is of the order
  of the effect, so the cost of the hooks alone (called in the executor's
  sequence, no event loop) is printed too, per memory mode.
- Export of a 100-node run: ``to_json()`` (target < 1 ms), next to
  ``json.dumps(get())`` and ``json.dumps`` of the finished dict alone, and the
  Chrome trace.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from interleave import interleaved
from targets import check, note

from remotemedia import _native
from remotemedia.metrics import ExecutionMetrics
from remotemedia.metrics.trace import chrome_trace
from remotemedia.nodes.base import PassThroughNode
from remotemedia.pipeline import Pipeline

#: Memory modes measured in this process. ``tracemalloc`` is measured in child processes
#: (:func:`test_tracemalloc_mode_overhead_in_child_processes`): once started it stays on for the
#: whole process (see remotemedia.metrics.memory), and would then slow every variant and every later
#: benchmark in it, the baseline included.
MODES = ["off", "auto"]
HERE = Path(__file__).parent


def chain(n, hooks=(), enable_metrics=False):
    return Pipeline([PassThroughNode(name=f"n{i}") for i in range(n)], hooks=hooks, enable_metrics=enable_metrics)


class _NopHook:
    """The executor's hook dispatch alone (the floor of any node hook)."""

    def before_node(self, **future_kwargs):
        pass

    def after_node(self, **future_kwargs):
        pass


def overhead_10_nodes(rounds=31):
    """Interleaved medians of a 10-node chain run without metrics, with a no-op hook, with default metrics
    (``enable_metrics=True``) and with metrics in each mode; importable by a child process."""
    loop = asyncio.new_event_loop()
    pipelines = {"no metrics": chain(10), "a hook that does nothing": chain(10, [_NopHook()]),
                 "enable_metrics=True (default settings)": chain(10, enable_metrics=True)}
    for mode in MODES:
        m = ExecutionMetrics(memory=mode, opentelemetry=False)
        pipelines[f"metrics, memory={mode} ({m.memory_mechanism})"] = chain(10, [m])
    pipelines["metrics, memory=off, cpu_time=False"] = chain(10, [ExecutionMetrics(memory=False, cpu_time=False,
                                                                                   opentelemetry=False)])
    try:
        res = interleaved({k: (lambda p=p: loop.run_until_complete(p.run(1))) for k, p in pipelines.items()},
                          rounds=rounds, target_s=0.05)
    finally:
        loop.close()
    base_s = res["no metrics"]["median_s"]
    return {name: {"median_us": v["median_s"] * 1e6, "ratio": v["ratio"],
                   "overhead_us": (v["ratio"] - 1) * base_s * 1e6} for name, v in res.items()}


def _print_rows(title, rows):
    print(f"\n{title}:\n" + "\n".join(
        f"  {name:<50} {v['median_us']:8.1f} us/run  ratio {v['ratio']:.3f}  overhead {v['overhead_us']:7.1f} us"
        for name, v in rows.items()))


def test_metrics_overhead_per_execution_10_nodes(benchmark):
    if _native.module() is None:
        pytest.skip("the native install's row needs the compiled module (the pure install has its own row)")
    rows = overhead_10_nodes()
    p = chain(10, enable_metrics=True)
    loop = asyncio.new_event_loop()
    try:
        benchmark.pedantic(lambda: loop.run_until_complete(p.run(1)), rounds=200, iterations=1)
    finally:
        loop.close()
    benchmark.extra_info["rows"] = rows
    _print_rows("10-node chain, one item, per execution, native install (interleaved medians)", rows)
    check(benchmark, "metrics overhead per 10-node execution, default settings, native install (interleaved)",
          rows["enable_metrics=True (default settings)"]["overhead_us"], "us", "<", 100, goal=20, source="issue 16")
    off = next(name for name in rows if name.startswith("metrics, memory=off ("))
    note(benchmark, "metrics overhead per 10-node execution, memory=off", rows[off]["overhead_us"], "us",
         source="issue 6")
    note(benchmark, "10-node pipeline, one item, no metrics: time per run", rows["no metrics"]["median_us"], "us")


_PURE_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from remotemedia import _native
    from test_metrics_overhead import overhead_10_nodes
    assert _native.module() is None and "remotemedia_runtime" not in sys.modules
    print(json.dumps(overhead_10_nodes()))
""")


def test_metrics_overhead_per_execution_10_nodes_pure_install(benchmark):
    """The same rows in a child process that never loads the compiled module (``REMOTEMEDIA_IMPL=python``)."""
    out = subprocess.run([sys.executable, "-c", _PURE_CHILD, str(HERE)], capture_output=True, text=True, check=True,
                         timeout=600, env={**os.environ, "REMOTEMEDIA_IMPL": "python"})
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["rows"] = rows
    _print_rows("10-node chain, one item, per execution, pure install (child process, interleaved medians)", rows)
    assert next(name for name in rows if name.startswith("metrics, memory=auto")).endswith("(off)")
    check(benchmark, "metrics overhead per 10-node execution, default settings, pure install (child process)",
          rows["enable_metrics=True (default settings)"]["overhead_us"], "us", "<", 100, goal=20, source="issue 16")


def _hooks_only(metrics, run_id):
    """The hook calls of one 10-node execution, with the executor's arguments."""
    metrics.before_run(run_id=run_id, pipeline_name="p", graph=None, nodes=None)
    for i in range(10):
        node_id = _IDS[i]
        metrics.before_node(run_id=run_id, node_id=node_id, node_type="PassThroughNode", attempt=1, item=1)
        metrics.after_node(run_id=run_id, node_id=node_id, node_type="PassThroughNode", attempt=1, duration_ns=1,
                           error=None, delay_s=None, ran=True, result=1)
    metrics.after_run(run_id=run_id, pipeline_name="p", duration_ns=1, error=None)


_IDS = [f"n{i}" for i in range(10)]


@pytest.mark.parametrize("cpu_time", [True, False], ids=["cpu_time", "no_cpu_time"])
@pytest.mark.parametrize("mode", MODES)
def test_hook_cost_alone_10_nodes(benchmark, mode, cpu_time):
    metrics = ExecutionMetrics(memory=mode, opentelemetry=False, cpu_time=cpu_time)
    counter = iter(range(10**9))
    benchmark.pedantic(lambda: _hooks_only(metrics, next(counter)), rounds=2000, iterations=1, warmup_rounds=50)
    median_us = benchmark.stats.stats.median * 1e6
    benchmark.extra_info["median_us_per_execution"] = median_us
    if mode == "auto" and cpu_time:
        note(benchmark, "metrics hooks alone (no event loop), 10 nodes, memory=auto, per execution", median_us, "us",
             source="issue 6")
    print(f"\nhooks alone, 10 nodes, memory={mode} ({metrics.memory_mechanism}), cpu_time={cpu_time}: "
          f"{median_us:.1f} us per execution "
          f"(median; native {'present' if _native.module() else 'absent'})")


@pytest.fixture(scope="module")
def run_100():
    metrics = ExecutionMetrics(memory="auto", opentelemetry=False)
    p = chain(100, [metrics])
    p.run_sync(1)
    return metrics


def test_export_json_of_100_node_run(benchmark, run_100):
    text = benchmark(run_100.to_json)
    assert text == json.dumps(run_100.get()) and len(json.loads(text)["calls"]) == 100
    median_ms = benchmark.stats.stats.median * 1e3
    d = run_100.get()
    res = interleaved({"to_json()": run_100.to_json, "json.dumps(get())": lambda: json.dumps(run_100.get()),
                       "json.dumps of the finished dict alone": lambda: json.dumps(d)}, rounds=15, target_s=0.02)
    benchmark.extra_info["interleaved"] = res
    check(benchmark, "metrics export of a 100-node run as JSON text (to_json), median", median_ms, "ms", "<", 1,
          source="issue 16")
    note(benchmark, "metrics export of a 100-node run, json.dumps(get()) (interleaved median)",
         res["json.dumps(get())"]["median_s"] * 1e3, "ms", source="issue 6")
    print(f"\nexport of a 100-node run: to_json() {median_ms:.3f} ms (target < 1 ms); interleaved: " + ", ".join(
        f"{name} {v['median_s'] * 1e3:.3f} ms ({v['ratio']:.2f}x)" for name, v in res.items()))


def test_export_chrome_trace_of_100_node_run(benchmark, run_100):
    m = run_100.get()
    benchmark(lambda: json.dumps(chrome_trace(m)))
    print(f"\nChrome trace of a 100-node run: {benchmark.stats.stats.median * 1e3:.3f} ms")


_TRACEMALLOC_CHILD = textwrap.dedent("""
    import asyncio, statistics, sys, time
    from remotemedia.metrics import ExecutionMetrics
    from remotemedia.nodes.base import PassThroughNode
    from remotemedia.pipeline import Pipeline
    hooks = [ExecutionMetrics(memory="tracemalloc", opentelemetry=False)] if sys.argv[1] == "on" else []
    p = Pipeline([PassThroughNode(name=f"n{i}") for i in range(10)], hooks=hooks)
    loop = asyncio.new_event_loop()
    for _ in range(50):
        loop.run_until_complete(p.run(1))
    times = []
    for _ in range(400):
        t0 = time.perf_counter()
        loop.run_until_complete(p.run(1))
        times.append(time.perf_counter() - t0)
    print(statistics.median(times))
""")


def _child_median_s(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _TRACEMALLOC_CHILD, mode], capture_output=True, text=True, check=True,
                         timeout=300, env={**os.environ, "PYTHONHASHSEED": "0"})
    return float(out.stdout.strip().splitlines()[-1])


def test_tracemalloc_mode_overhead_in_child_processes(benchmark):
    """memory="tracemalloc": children without and with it, alternated; the median of the pair ratios."""
    assert not tracemalloc.is_tracing(), "an earlier benchmark left tracemalloc on in this process"
    pairs = []
    for r in range(5):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        got = {mode: _child_median_s(mode) for mode in order}
        pairs.append((got["off"], got["on"]))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    base = statistics.median(off for off, _ in pairs)
    ratio = statistics.median(on / off for off, on in pairs)
    overhead_us = (ratio - 1) * base * 1e6
    benchmark.extra_info["tracemalloc_mode"] = {"base_us": base * 1e6, "ratio": ratio, "overhead_us": overhead_us}
    note(benchmark, "metrics overhead per 10-node execution, memory=tracemalloc (child processes)", overhead_us,
         "us", source="issue 6")
    print(f"\nmemory=tracemalloc, 10-node chain, one item: {base * 1e6:.1f} us/run without metrics, "
          f"ratio {ratio:.3f}, overhead {overhead_us:.1f} us (medians of 5 alternated child pairs)")
