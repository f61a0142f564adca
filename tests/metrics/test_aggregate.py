"""Per-node statistics over runs."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_helpers import Sleep

from remotemedia.metrics import aggregate
from remotemedia.nodes.simple_math import MultiplyNode
from remotemedia.pipeline import Pipeline


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
