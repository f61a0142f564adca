"""Cost of metrics: per pipeline execution, and of exporting a run.

- Overhead per execution of a 10-node chain of trivial nodes (one item):
  (run with an ExecutionMetrics hook - run without), from the median of
  interleaved rounds in the same process, for each memory mode. The spec's
  limit is 100 us, the goal 20 us. Scheduling noise on a shared machine is
  larger than the effect, so the cost of the hooks alone (called in the
  executor's sequence, no event loop) is printed too.
- Export of a 100-node run: ``get()`` + ``json.dumps`` (target < 1 ms), and the
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
#: whole process (see remotemedia.metrics), and would then slow every variant and every later
#: benchmark in it, the baseline included.
MODES = ["off", "auto"]


def chain(n, hooks=()):
    return Pipeline([PassThroughNode(name=f"n{i}") for i in range(n)], hooks=hooks)


class _NopHook:
    """The executor's hook dispatch alone (the floor of any node hook)."""

    def before_node(self, **future_kwargs):
        pass

    def after_node(self, **future_kwargs):
        pass


def test_metrics_overhead_per_execution_10_nodes(benchmark):
    loop = asyncio.new_event_loop()
    pipelines = {"no metrics": chain(10), "a hook that does nothing": chain(10, [_NopHook()])}
    for mode in MODES:
        m = ExecutionMetrics(memory=mode, opentelemetry=False)
        pipelines[f"metrics, memory={mode} ({m.memory_mechanism})"] = chain(10, [m])
    pipelines["metrics, memory=off, cpu_time=False"] = chain(10, [ExecutionMetrics(memory=False, cpu_time=False,
                                                                                   opentelemetry=False)])
    try:
        res = interleaved({k: (lambda p=p: loop.run_until_complete(p.run(1))) for k, p in pipelines.items()},
                          rounds=31, target_s=0.05)
        with_metrics = pipelines[f"metrics, memory=auto ({ExecutionMetrics(memory='auto').memory_mechanism})"]
        benchmark.pedantic(lambda: loop.run_until_complete(with_metrics.run(1)), rounds=200, iterations=1)
    finally:
        loop.close()
    base_s = res["no metrics"]["median_s"]
    lines = []
    for name, v in res.items():
        overhead_us = (v["ratio"] - 1) * base_s * 1e6
        benchmark.extra_info[name] = {"median_us": v["median_s"] * 1e6, "ratio": v["ratio"],
                                      "overhead_us": overhead_us}
        lines.append(f"  {name:<50} {v['median_s'] * 1e6:8.1f} us/run  ratio {v['ratio']:.3f}  "
                     f"overhead {overhead_us:7.1f} us")
    print("\n10-node chain, one item, per execution (interleaved medians):\n" + "\n".join(lines))
    auto = next(name for name in res if name.startswith("metrics, memory=auto"))
    check(benchmark, "metrics overhead per 10-node execution, memory=auto (interleaved, same process)",
          benchmark.extra_info[auto]["overhead_us"], "us", "<", 100, goal=20, source="issue 6")
    off = next(name for name in res if name.startswith("metrics, memory=off ("))
    note(benchmark, "metrics overhead per 10-node execution, memory=off", benchmark.extra_info[off]["overhead_us"],
         "us", source="issue 6")
    note(benchmark, "10-node pipeline, one item, no metrics: time per run", base_s * 1e6, "us")


def _hooks_only(metrics, run_id):
    """The hook calls of one 10-node execution, with the executor's arguments."""
    metrics.before_run(run_id=run_id, pipeline_name="p", graph=None, nodes=None)
    for i in range(10):
        node_id = _IDS[i]
        metrics.before_node(run_id=run_id, node_id=node_id, node_type="PassThroughNode", attempt=1, item=1)
        metrics.after_node(run_id=run_id, node_id=node_id, node_type="PassThroughNode", attempt=1, duration_ns=1,
                           error=None, result=1)
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
    text = benchmark(lambda: json.dumps(run_100.get()))
    assert len(json.loads(text)["calls"]) == 100
    median_ms = benchmark.stats.stats.median * 1e3
    # json.dumps of the finished dict alone: the floor of any export of these numbers
    d = run_100.get()
    floor = interleaved({"dumps only": lambda: json.dumps(d), "get + dumps": lambda: json.dumps(run_100.get())},
                        rounds=9, target_s=0.02)
    benchmark.extra_info["ratio_to_dumps_only"] = floor["get + dumps"]["ratio"]
    check(benchmark, "metrics export of a 100-node run (get + json.dumps), median", median_ms, "ms", "<", 1,
          source="issue 6")
    print(f"\nexport (get + json.dumps) of a 100-node run: {median_ms:.3f} ms (target < 1 ms); "
          f"{floor['get + dumps']['ratio']:.2f}x json.dumps of the same dict alone "
          f"({floor['dumps only']['median_s'] * 1e3:.3f} ms)")


def test_export_chrome_trace_of_100_node_run(benchmark, run_100):
    m = run_100.get()
    benchmark(lambda: json.dumps(chrome_trace(m)))
    print(f"\nChrome trace of a 100-node run: {benchmark.stats.stats.median * 1e3:.3f} ms")


_CHILD = textwrap.dedent("""
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
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True,
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
