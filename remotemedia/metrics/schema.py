"""The metrics JSON layout: its version, key order, and JSON Schema (``remotemedia/schemas/metrics.schema.json``)."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

#: Version of the metrics JSON layout (``schema_version``); bumped on any incompatible change.
SCHEMA_VERSION = 1

#: Keys of a call, in the layout's order (the optional ``extra`` follows them when present).
CALL_KEYS = ("seq", "node_id", "node_type", "attempt", "status", "error", "retry_delay_s", "implementation",
             "start_us", "end_us", "wall_us", "cpu_us", "lane", "thread_id", "input_samples", "input_bytes",
             "output_samples", "output_bytes", "peak_memory_bytes", "python_peak_bytes", "native_peak_bytes")
#: Keys of a node's totals, in the layout's order.
NODE_KEYS = ("node_type", "implementation", "status", "order", "calls", "attempts", "retries", "errors",
             "started_at", "start_us", "end_us", "wall_us", "mean_wall_us", "max_wall_us", "cpu_us",
             "peak_memory_bytes", "python_peak_bytes", "native_peak_bytes", "input_samples", "input_bytes",
             "output_samples", "output_bytes")


def load_schema() -> Dict[str, Any]:
    """The JSON Schema of the metrics files (``remotemedia/schemas/metrics.schema.json``)."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas",
                        "metrics.schema.json")
    with open(here, encoding="utf-8") as fh:
        return json.load(fh)
