"""Timelines of recorded runs: Chrome trace event JSON and OpenTelemetry spans.

Both are built from the metrics dicts of :mod:`remotemedia.metrics`, after a
run, so tracing costs nothing while nodes run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from remotemedia.errors import ConfigurationError

#: Colour names the Chrome trace viewer knows, for failed and cancelled calls.
_FAILED_COLOR = "terrible"
_CANCELLED_COLOR = "grey"


def chrome_trace(metrics: Union[Dict[str, Any], Sequence[Dict[str, Any]]]) -> Dict[str, Any]:
    """The Chrome trace event format (JSON object form) of one run or of several.

    Each run is a process (``pid`` 1, 2, ...); each concurrent lane of the run
    is a synthetic thread (``tid`` = lane + 1, named ``lane N`` by a
    ``thread_name`` metadata event) and ``tid`` 0 holds one event spanning the
    whole run (``cat`` ``"run"``). Every node call (every attempt) is one
    complete event (``ph`` ``"X"``, ``cat`` = node type, times in
    microseconds); a retry is its own event named ``"<node> (attempt N)"`` and
    failed attempts are coloured. Several runs are placed on one time axis by
    their absolute start times.

    Args:
        metrics: a run's metrics dict, or a list of them.

    Returns:
        ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}``.
    """
    runs = [metrics] if isinstance(metrics, dict) else list(metrics)
    runs = [r for r in runs if r.get("run_id") is not None]
    origin = min((_epoch_us(r["started_at"]) for r in runs), default=0.0)
    events: List[Dict[str, Any]] = []
    for pid, run in enumerate(runs, start=1):
        offset = _epoch_us(run["started_at"]) - origin if len(runs) > 1 else 0.0
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                       "args": {"name": f"{run['pipeline']} (run {run['run_id']})"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": 0, "args": {"name": "run"}})
        for lane in range(run["lanes"]):
            events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": lane + 1,
                           "args": {"name": f"lane {lane + 1}"}})
            events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": lane + 1,
                           "args": {"sort_index": lane + 1}})
        events.append({"ph": "X", "name": run["pipeline"], "cat": "run", "pid": pid, "tid": 0, "ts": offset,
                       "dur": run["total_wall_us"],
                       "args": {"status": run["status"], "error": run["error"], "started_at": run["started_at"],
                                "total_cpu_us": run["total_cpu_us"]}})
        for c in run["calls"]:
            name = c["node_id"] if c["attempt"] == 1 else f"{c['node_id']} (attempt {c['attempt']})"
            args = {k: c[k] for k in _TRACE_ARGS if c[k] is not None}
            if c.get("extra"):
                args["extra"] = c["extra"]
            event = {"ph": "X", "name": name, "cat": c["node_type"], "pid": pid, "tid": c["lane"] + 1,
                     "ts": offset + c["start_us"], "dur": c["wall_us"], "args": args}
            if c["status"] == "failed":
                event["cname"] = _FAILED_COLOR
            elif c["status"] == "cancelled":
                event["cname"] = _CANCELLED_COLOR
            events.append(event)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"generator": "remotemedia", "runs": len(runs)}}


_TRACE_ARGS = ("node_id", "attempt", "status", "error", "retry_delay_s", "implementation", "cpu_us",
               "input_samples", "input_bytes", "output_samples", "output_bytes", "peak_memory_bytes",
               "python_peak_bytes", "native_peak_bytes")


def _epoch_us(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1e6


# ------------------------------------------------------------ OpenTelemetry
def otel_tracer(required: bool = False) -> Optional[Any]:
    """A tracer from ``opentelemetry-api``, or None when it is not installed.

    Args:
        required: raise instead of returning None.

    Raises:
        ConfigurationError: ``required`` and the package is missing.
    """
    try:
        from opentelemetry import trace
    except ImportError as exc:
        if required:
            raise ConfigurationError("OpenTelemetry spans need the opentelemetry-api package",
                                     parameter="opentelemetry", expected="opentelemetry-api installed",
                                     given="not installed") from exc
        return None
    return trace.get_tracer("remotemedia")


def otel_provider_configured() -> bool:
    """Whether a real OpenTelemetry tracer provider is set (not the API's default proxy or no-op one)."""
    return otel_provider_check()()


def otel_provider_check() -> Callable[[], bool]:
    """:func:`otel_provider_configured` with the API looked up once (a collector asks after every run)."""
    from opentelemetry import trace

    get_provider = trace.get_tracer_provider
    defaults = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)

    def configured() -> bool:
        return not isinstance(get_provider(), defaults)

    return configured


def emit_otel_spans(tracer: Any, metrics: Dict[str, Any]) -> None:
    """Emits one span for the run and a child span per node call, with the recorded times.

    Attributes are prefixed ``remotemedia.``; failed calls get an error status.
    """
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    t0_ns = int(_epoch_us(metrics["started_at"]) * 1000)
    root = tracer.start_span(f"pipeline {metrics['pipeline']}", start_time=t0_ns,
                             attributes={"remotemedia.pipeline": metrics["pipeline"],
                                         "remotemedia.run_id": metrics["run_id"]})
    if metrics["status"] == "failed":
        root.set_status(Status(StatusCode.ERROR, metrics["error"] or ""))
    context = trace.set_span_in_context(root)
    for c in metrics["calls"]:
        attributes = {f"remotemedia.{k}": c[k] for k in ("node_type", *_TRACE_ARGS) if c[k] is not None}
        attributes.update(_otel_extra(c.get("extra")))
        span = tracer.start_span(c["node_id"], context=context, start_time=t0_ns + int(c["start_us"] * 1000),
                                 attributes=attributes)
        if c["status"] != "ok":
            span.set_status(Status(StatusCode.ERROR, c["error"] or c["status"]))
        span.end(end_time=t0_ns + int(c["end_us"] * 1000))
    root.end(end_time=t0_ns + int(metrics["total_wall_us"] * 1000))


def _otel_extra(extra: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A call's ``extra`` as span attributes: ``remotemedia.extra.<key>`` (a dict's items one level down); None
    values and lists of mixed types are left out (OpenTelemetry takes neither)."""
    out: Dict[str, Any] = {}
    for key, value in (extra or {}).items():
        items = value.items() if isinstance(value, dict) else ((None, value),)
        for sub, v in items:
            name = f"remotemedia.extra.{key}" if sub is None else f"remotemedia.extra.{key}.{sub}"
            if isinstance(v, list):
                if v and None not in v and len({type(x) for x in v}) == 1:
                    out[name] = tuple(v)
            elif v is not None:
                out[name] = v
    return out
