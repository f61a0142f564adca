"""Targets recorded into pytest-benchmark's ``extra_info`` for the results table.

Every benchmark calls :func:`check` for each target it measures (and
:func:`note` for numbers that have no target), so ``make_results.py`` can
build the table from the JSON alone. Ratios for the plot go through
:func:`plot_ratios`. The thresholds are the issues' targets, written here once
and never adjusted to a measurement.
"""

from __future__ import annotations

import operator
from typing import Any, Dict, Optional

_OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


def check(benchmark: Any, name: str, measured: float, unit: str, op: str, threshold: float,
          goal: Optional[float] = None, source: str = "") -> bool:
    """Records one target row and returns whether it passed.

    Args:
        benchmark: the pytest-benchmark fixture.
        name: what is measured (one table row).
        measured: the measured value, in ``unit``.
        unit: unit of ``measured`` and ``threshold`` (e.g. "us", "x soxr HQ").
        op: comparison, one of ``<``, ``<=``, ``>=``, ``>``: passes when ``measured op threshold``.
        threshold: the target (the limit that decides pass/fail).
        goal: an optional stricter goal (same op); reported, does not decide pass/fail.
        source: where the target comes from (e.g. "issue 4").
    """
    ok = bool(_OPS[op](measured, threshold))
    row: Dict[str, Any] = {"name": name, "measured": float(measured), "unit": unit,
                           "target": f"{op} {threshold:g} {unit}".strip(), "pass": ok, "source": source}
    if goal is not None:
        row["goal"] = f"{op} {goal:g} {unit}".strip()
        row["goal_met"] = bool(_OPS[op](measured, goal))
    benchmark.extra_info.setdefault("targets", []).append(row)
    return ok


def note(benchmark: Any, name: str, measured: float, unit: str, source: str = "") -> None:
    """Records a measured number with no pass/fail target (shown as "recorded")."""
    benchmark.extra_info.setdefault("targets", []).append(
        {"name": name, "measured": float(measured), "unit": unit, "target": "", "pass": None, "source": source})


def plot_ratios(benchmark: Any, kernel: str, res: Dict[str, Dict[str, float]], labels: Dict[str, str],
                reference: str = "native") -> None:
    """Records one kernel case for the plot: each variant's time as a ratio to ``reference``'s.

    Args:
        kernel: the plot group (e.g. "resample 48k->16k, 60 s").
        res: an :func:`interleave.interleaved` result (its ``ratio`` is relative to its first variant).
        labels: plot label ("native", "numpy", "outside: soxr HQ", ...) -> variant name in ``res``.
        reference: the label the ratios are relative to.

    The ratio of two variants is the quotient of their median per-round ratios to the
    same first variant of the interleaved run.
    """
    ref = res[labels[reference]]["ratio"]
    benchmark.extra_info.setdefault("plot", []).append(
        {"kernel": kernel, "reference": reference,
         "ratios": {label: res[name]["ratio"] / ref for label, name in labels.items()}})
