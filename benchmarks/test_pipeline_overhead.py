"""Pipeline overhead and parallelism, as ratios measured in the same run.

- A 10-node chain of pass-through nodes, one item: time per ``run()`` minus
  calling the 10 ``process`` methods directly (the per-run overhead),
  interleaved.
- 400 consecutive ``run()`` calls of a 12-node chain over 100 items (the 1.x
  workload): time per run and per node call, and the ratio to calling the 12
  ``process`` methods directly in a Python loop (the floor).
- Two independent branches of GIL-releasing work (a sleeping sync node; the
  native format converter on a long signal): wall time of the two as parallel
  branches over the same two in sequence (1.0 = no parallelism, 0.5 = perfect).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.nodes.audio import FormatConverterNode
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
from interleave import interleaved  # noqa: E402
from targets import note  # noqa: E402

ITEMS = list(range(100))


def chain_12() -> Pipeline:
    p = Pipeline()
    for i in range(12):
        p.add_node((MultiplyNode(factor=1.0), AddNode(addend=1.0), PassThroughNode())[i % 3])
    return p


def test_10_node_run_overhead(benchmark):
    p = Pipeline([PassThroughNode(name=f"n{i}") for i in range(10)])
    loop = asyncio.new_event_loop()

    def direct():
        x = 1
        for node in p.nodes:
            x = node.process(x)
        return x

    try:
        res = interleaved({"direct process calls": direct,
                           "pipeline.run(1)": lambda: loop.run_until_complete(p.run(1))}, rounds=21, target_s=0.05)
        benchmark.pedantic(lambda: loop.run_until_complete(p.run(1)), rounds=200, iterations=1)
    finally:
        loop.close()
    floor_s = res["direct process calls"]["median_s"]
    overhead_us = (res["pipeline.run(1)"]["ratio"] - 1) * floor_s * 1e6
    benchmark.extra_info.update(res)
    note(benchmark, "10-node pipeline overhead per run (one item; run() - direct calls, interleaved)",
         overhead_us, "us", source="issue 5")
    print(f"\n10-node chain, one item: run() {res['pipeline.run(1)']['median_s'] * 1e6:.1f} us, direct calls "
          f"{floor_s * 1e6:.1f} us, overhead {overhead_us:.1f} us per run")


def test_400_runs_of_12_node_chain(benchmark):
    p = chain_12()

    async def runs():
        for _ in range(400):
            await p.run(ITEMS)

    def direct():
        for _ in range(400):
            for x in ITEMS:
                for node in p.nodes:
                    x = node.process(x)

    t0 = time.perf_counter()
    direct()
    floor_s = time.perf_counter() - t0
    benchmark.pedantic(lambda: asyncio.run(runs()), rounds=3, iterations=1)
    best_s = benchmark.stats.stats.min
    calls = 400 * 12 * 100
    benchmark.extra_info.update({"seconds_for_400_runs": best_s, "us_per_node_call": best_s / calls * 1e6,
                                 "ratio_to_direct_loop": best_s / floor_s})
    note(benchmark, "12-node chain x 100 items: time per node call", best_s / calls * 1e6, "us")
    print(f"\n400 runs x 12 nodes x 100 items: {best_s:.2f} s ({best_s / calls * 1e6:.2f} us per node call); "
          f"direct loop {floor_s:.2f} s; ratio {best_s / floor_s:.1f}")


class Sleep(Node):
    def __init__(self, delay_s: float = 0.3, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.delay_s = delay_s

    def process(self, data):
        time.sleep(self.delay_s)
        return data


def _ratio(make_parallel, make_sequential, data, rounds=3):
    par, seq = [], []
    for _ in range(rounds):  # interleaved, best of each
        t0 = time.perf_counter()
        make_sequential(data)
        seq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        make_parallel(data)
        par.append(time.perf_counter() - t0)
    return min(par) / min(seq), min(par), min(seq)


def test_parallel_branches_sleep(benchmark):
    par = Pipeline([Sleep(name="a"), Sleep(name="b")], connections=[])
    seq = Pipeline([Sleep(name="a"), Sleep(name="b")])
    ratio, p_s, s_s = _ratio(par.run_sync, seq.run_sync, 1)
    benchmark.pedantic(par.run_sync, args=(1,), rounds=1, iterations=1)
    benchmark.extra_info.update({"parallel_over_sequential": ratio})
    print(f"\n2 x 0.3 s sleeping sync nodes: parallel {p_s:.3f} s, sequential {s_s:.3f} s, ratio {ratio:.2f}")


@pytest.mark.skipif(_native.module() is None, reason="native unavailable")
def test_parallel_branches_native_convert(benchmark):
    x = np.random.default_rng(0).standard_normal((1, 50_000_000)).astype(np.float32) * 0.5
    par = Pipeline([FormatConverterNode("i16", runtime_hint="native", name="a"),
                    FormatConverterNode("i32", runtime_hint="native", name="b")], connections=[])
    one_a = Pipeline([FormatConverterNode("i16", runtime_hint="native", name="a")])
    one_b = Pipeline([FormatConverterNode("i32", runtime_hint="native", name="b")])

    def sequential(data):
        one_a.run_sync(data)
        one_b.run_sync(data)

    ratio, p_s, s_s = _ratio(par.run_sync, sequential, (x, 16000))
    benchmark.pedantic(par.run_sync, args=((x, 16000),), rounds=1, iterations=1)
    benchmark.extra_info.update({"parallel_over_sequential": ratio})
    print(f"\nnative f32->i16 and f32->i32 of 50M samples: parallel {p_s:.3f} s, sequential {s_s:.3f} s, "
          f"ratio {ratio:.2f}")
