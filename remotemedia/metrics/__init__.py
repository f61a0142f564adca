"""Metrics of pipeline runs: per-node timing, CPU time, sizes and peak memory, and their files.

Metrics are a lifecycle hook (:mod:`remotemedia.hooks`), never a property of
nodes. ``Pipeline(..., enable_metrics=True)`` installs one
:class:`ExecutionMetrics`; any executor takes one in ``hooks=``.

Modules, in the order data flows through them:

- :mod:`~remotemedia.metrics.collector`: the hook. Stores raw numbers per
  node call (:mod:`~remotemedia.metrics.calls` names them), nothing more.
- :mod:`~remotemedia.metrics.memory`: how peak memory is measured (native
  counters, tracemalloc, or not at all) and what each way sees.
- :mod:`~remotemedia.metrics.export`: a recorded run as the JSON layout
  (dict or text; :mod:`~remotemedia.metrics.schema` holds the layout's
  version and JSON Schema), and the metrics files.
- :mod:`~remotemedia.metrics.aggregate`: per-node statistics over many runs.
- :mod:`~remotemedia.metrics.trace`: Chrome trace events and OpenTelemetry
  spans; :mod:`~remotemedia.metrics.report`: the self-contained HTML report.
"""

from __future__ import annotations

from remotemedia.metrics.aggregate import PERCENTILES, aggregate
from remotemedia.metrics.calls import payload_size
from remotemedia.metrics.collector import DEFAULT_HISTORY, MAX_ATTEMPT_RECORDS, ExecutionMetrics
from remotemedia.metrics.export import (
    MetricsLike,
    dump_json,
    empty_metrics,
    write_chrome_trace,
    write_html_report,
    write_metrics_json,
)
from remotemedia.metrics.memory import MECHANISMS, MEMORY_MODES
from remotemedia.metrics.schema import SCHEMA_VERSION, load_schema

__all__ = [
    "DEFAULT_HISTORY", "MAX_ATTEMPT_RECORDS", "MECHANISMS", "MEMORY_MODES", "PERCENTILES", "SCHEMA_VERSION",
    "ExecutionMetrics", "MetricsLike", "aggregate", "dump_json", "empty_metrics", "load_schema", "payload_size",
    "write_chrome_trace", "write_html_report", "write_metrics_json",
]
