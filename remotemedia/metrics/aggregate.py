"""Per-node statistics over many runs (a batch: one run per file)."""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

from remotemedia.metrics.schema import SCHEMA_VERSION

#: Percentiles of the batch statistics.
PERCENTILES = (50, 95, 99)


def aggregate(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Per-node statistics over many runs (one per file of a batch).

    Each node's value in one run is the sum over its calls (wall and CPU
    time) or the maximum (peak memory). Percentiles interpolate linearly
    (numpy's default).

    Args:
        runs: metrics dicts of single runs (:meth:`ExecutionMetrics.get`).

    Returns:
        A dict of ``kind`` ``"batch"``: ``runs``, ``failed_runs``,
        ``total_wall_us`` statistics, and per node ``wall_us``, ``cpu_us``,
        ``peak_memory_bytes`` statistics (``p50``/``p95``/``p99``/``min``/
        ``max``/``mean``) plus ``runs`` (how many runs ran it) and ``errors``.
    """
    runs = [r for r in runs if r.get("kind") == "run" and r.get("run_id") is not None]
    per_node: Dict[str, Dict[str, Any]] = {}
    for r in runs:
        for nid, n in r["nodes"].items():
            if n["status"] == "not_run":
                continue
            e = per_node.setdefault(nid, {"node_type": n["node_type"], "implementation": n["implementation"],
                                          "order": len(per_node), "runs": 0, "errors": 0, "wall_us": [],
                                          "cpu_us": [], "peak_memory_bytes": []})
            e["runs"] += 1
            e["errors"] += n["errors"]
            e["wall_us"].append(n["wall_us"])
            if n["cpu_us"] is not None:
                e["cpu_us"].append(n["cpu_us"])
            e["peak_memory_bytes"].append(n["peak_memory_bytes"])
    nodes = {}
    for nid, e in per_node.items():
        nodes[nid] = {**e, **{k: _stats(e[k]) for k in ("wall_us", "cpu_us", "peak_memory_bytes")}}
    return {
        "schema_version": SCHEMA_VERSION, "kind": "batch",
        "pipelines": sorted({r["pipeline"] for r in runs}),
        "runs": len(runs), "failed_runs": sum(r["status"] == "failed" for r in runs),
        "total_wall_us": _stats([r["total_wall_us"] for r in runs]),
        "nodes": nodes,
    }


def _stats(values: Sequence[float]) -> Dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "min": 0.0, "max": 0.0, "mean": 0.0}
    a = np.asarray(values, dtype=np.float64)
    p = np.percentile(a, PERCENTILES)
    return {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2]), "min": float(a.min()),
            "max": float(a.max()), "mean": float(a.mean())}
