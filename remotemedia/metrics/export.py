"""A recorded run as the JSON layout (``remotemedia/schemas/metrics.schema.json``), as a dict or as text,
and the metrics files (JSON, Chrome trace, HTML report).

Everything here runs after a run, from the raw call records of
:mod:`remotemedia.metrics.calls`. One pass (:func:`_tables`) turns them into
the values of the layout, in its key order; :func:`run_record` makes dicts of
them and :func:`run_json` writes the JSON text directly, without the dicts:
``run_json(run) == json.dumps(run_record(run))``, character for character
(a test holds it to that), in well under half the time. The text reuses the
digits of each call's times for the totals of a node that ran once, and
caches the JSON form of node ids, node types and a graph's edges per
collector (:class:`JsonCache`).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Sequence, Tuple, Union

from remotemedia.metrics.aggregate import aggregate
from remotemedia.metrics.calls import NO_SIZE
from remotemedia.metrics.schema import CALL_KEYS, NODE_KEYS, SCHEMA_VERSION

if TYPE_CHECKING:
    from remotemedia.metrics.calls import RunState

# Slots of a node's value list (NODE_KEYS order) that the fold below updates.
(_N_STATUS, _N_CALLS, _N_ATTEMPTS, _N_RETRIES, _N_ERRORS, _N_END, _N_WALL, _N_MEAN, _N_MAX, _N_CPU, _N_PEAK,
 _N_PY, _N_NAT, _N_IN_S, _N_IN_B, _N_OUT_S, _N_OUT_B) = (2, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                       20, 21)

_ISO_SECONDS: Dict[int, str] = {}


def _iso(epoch_ns: int) -> str:
    """ISO 8601 UTC with microseconds, as ``datetime.isoformat`` writes it (whole seconds cached)."""
    seconds, ns = divmod(epoch_ns, 1_000_000_000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        if len(_ISO_SECONDS) > 256:
            _ISO_SECONDS.clear()
        prefix = _ISO_SECONDS[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{prefix}.{ns // 1000:06d}+00:00"


# ---------------------------------------------------------------- one pass
def _tables(run: "RunState") -> Tuple[List[list], Dict[str, list], int]:
    """The run's calls as value lists (CALL_KEYS order, then ``extra``), by start order; the totals of
    every node that ran (NODE_KEYS order), by first start; and the number of lanes."""
    t0 = run.t0_ns
    wall0 = run.wall0_ns
    impls = run.impls
    cpu_time = run.cpu_time
    lane_ends: List[int] = []
    rows: List[list] = []
    nodes: Dict[str, list] = {}
    for (seq, node_id, node_type, attempt, start, end, _, cpu, thread, in_size, out_size, status, error, delay,
         py_base, py_peak, nat_base, nat_peak, extra) in sorted(run.calls):  # by sequence number (first slot)
        if lane_ends and lane_ends[0] <= start:  # the first lane free at this start (most often the first)
            lane = 0
            lane_ends[0] = end
        else:
            for lane, lane_end in enumerate(lane_ends):
                if lane_end <= start:
                    lane_ends[lane] = end
                    break
            else:
                lane = len(lane_ends)
                lane_ends.append(end)
        start_us = (start - t0) / 1000
        end_us = (end - t0) / 1000
        wall_us = (end - start) / 1000
        cpu_us = cpu / 1000 if cpu_time and cpu is not None else None  # None: a fused stage (not measured)
        py_peak -= py_base
        nat_peak -= nat_base
        peak = py_peak + nat_peak
        impl = "native" if impls.get(node_id) == "native" else "python"
        in_samples, in_bytes = in_size
        out_samples, out_bytes = out_size
        rows.append([seq, node_id, node_type, attempt, status, error, delay, impl, start_us, end_us, wall_us,
                     cpu_us, lane, thread, in_samples, in_bytes, out_samples, out_bytes, peak, py_peak, nat_peak,
                     extra])
        n = nodes.get(node_id)
        if n is None:  # the node's first call: its totals are this call's
            nodes[node_id] = [
                node_type, impl, status, len(nodes), 1, attempt, 1 if attempt > 1 else 0,
                1 if status == "failed" else 0, _iso(wall0 + start - t0), start_us, end_us, wall_us, wall_us,
                wall_us if wall_us > 0.0 else 0.0, cpu_us, peak if peak > 0 else 0, py_peak if py_peak > 0 else 0,
                nat_peak if nat_peak > 0 else 0, in_samples, in_bytes, out_samples, out_bytes]
            continue
        n[_N_CALLS] += 1
        if attempt > n[_N_ATTEMPTS]:
            n[_N_ATTEMPTS] = attempt
        if attempt > 1:
            n[_N_RETRIES] += 1
        if status == "failed":
            n[_N_ERRORS] += 1
        n[_N_STATUS] = status
        if end_us > n[_N_END]:
            n[_N_END] = end_us
        n[_N_WALL] += wall_us
        if wall_us > n[_N_MAX]:
            n[_N_MAX] = wall_us
        if cpu_us is not None:
            n[_N_CPU] = cpu_us if n[_N_CPU] is None else n[_N_CPU] + cpu_us
        if peak > n[_N_PEAK]:
            n[_N_PEAK] = peak
        if py_peak > n[_N_PY]:
            n[_N_PY] = py_peak
        if nat_peak > n[_N_NAT]:
            n[_N_NAT] = nat_peak
        if in_size is not NO_SIZE:
            _add_size(n, _N_IN_S, in_size)
        if out_size is not NO_SIZE:
            _add_size(n, _N_OUT_S, out_size)
    for n in nodes.values():
        if n[_N_CALLS] > 1:
            n[_N_MEAN] = n[_N_WALL] / n[_N_CALLS]
    return rows, nodes, len(lane_ends)


def _add_size(n: list, slot: int, size: Any) -> None:
    samples, nbytes = size
    if samples is not None:
        n[slot] = (n[slot] or 0) + samples
    if nbytes is not None:
        n[slot + 1] = (n[slot + 1] or 0) + nbytes


def _impl(run: "RunState", node_id: str) -> str:
    impl = run.impls.get(node_id)
    return impl if impl == "native" else "python"


def _not_run_node(node_type: str, impl: str) -> Dict[str, Any]:
    return {
        "node_type": node_type, "implementation": impl, "status": "not_run", "order": None,
        "calls": 0, "attempts": 0, "retries": 0, "errors": 0, "started_at": None, "start_us": None, "end_us": None,
        "wall_us": 0.0, "mean_wall_us": 0.0, "max_wall_us": 0.0, "cpu_us": 0.0,
        "peak_memory_bytes": 0, "python_peak_bytes": 0, "native_peak_bytes": 0,
        "input_samples": None, "input_bytes": None, "output_samples": None, "output_bytes": None,
    }


def _header(run: "RunState", lanes: int) -> Dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "kind": "run", "enabled": True,
        "pipeline": run.pipeline, "run_id": run.run_id, "status": "failed" if run.error is not None else "ok",
        "error": run.error, "started_at": _iso(run.wall0_ns), "total_wall_us": (run.end_ns - run.t0_ns) / 1000,
        "total_cpu_us": run.cpu_ns / 1000, "memory_tracking": run.memory, "lanes": lanes,
        "fused": [list(segment) for segment in run.fused],
    }


# ------------------------------------------------------------------- dicts
def run_record(run: "RunState") -> Dict[str, Any]:
    """A finished run as the layout's dict (new objects on every call: the caller may change them)."""
    rows, ran, lanes = _tables(run)
    calls = []
    for row in rows:
        call = dict(zip(CALL_KEYS, row))
        if row[-1] is not None:  # a copy, down to its lists and dicts (one level: see calls.json_ready)
            call["extra"] = {k: v.copy() if type(v) is list or type(v) is dict else v for k, v in row[-1].items()}
        calls.append(call)
    nodes = {nid: dict(zip(NODE_KEYS, values)) for nid, values in ran.items()}
    edges: List[Dict[str, str]] = []
    if run.graph is not None:
        for gid, gnode in run.graph.by_id.items():
            if gid not in nodes:
                nodes[gid] = _not_run_node(gnode.node_type, _impl(run, gid))
        edges = [{"from": e.src, "to": e.dst} for e in run.graph.edges]
    record = _header(run, lanes)
    record.update(execution_order=list(ran), nodes=nodes, edges=edges, calls=calls,
                  attempts=[dict(a) for a in run.attempts])
    return record


def empty_metrics(pipeline_name: str, *, enabled: bool, memory: str = "off") -> Dict[str, Any]:
    """The metrics dict of a pipeline that has not run (or runs without metrics)."""
    return {
        "schema_version": SCHEMA_VERSION, "kind": "run", "enabled": enabled, "pipeline": pipeline_name,
        "run_id": None, "status": "not_run", "error": None, "started_at": None, "total_wall_us": 0.0,
        "total_cpu_us": 0.0, "memory_tracking": memory, "lanes": 0, "fused": [], "execution_order": [], "nodes": {},
        "edges": [], "calls": [],
    }


# -------------------------------------------------------------------- text
class JsonCache:
    """JSON text of the strings and edges that every run of a pipeline repeats (kept by a collector)."""

    __slots__ = ("_strings", "_graph", "_edges")

    def __init__(self) -> None:
        self._strings: Dict[Any, str] = {}
        self._graph: Any = None
        self._edges = "[]"

    def string(self, value: str) -> str:
        """``json.dumps(value)``, cached (node ids, node types, statuses, implementations)."""
        text = self._strings.get(value)
        if text is None:
            if len(self._strings) > 10_000:
                self._strings.clear()
            text = self._strings[value] = json.dumps(value)
        return text

    def edges(self, graph: Any) -> str:
        """The JSON text of ``graph``'s edges (the latest graph's is kept)."""
        if graph is None:
            return "[]"
        if graph is not self._graph:
            self._edges = json.dumps([{"from": e.src, "to": e.dst} for e in graph.edges])
            self._graph = graph
        return self._edges


_NODE = ('%s: {"node_type": %s, "implementation": %s, "status": %s, "order": %d, "calls": %d, "attempts": %d, '
         '"retries": %d, "errors": %d, "started_at": "%s", "start_us": %s, "end_us": %s, "wall_us": %s, '
         '"mean_wall_us": %s, "max_wall_us": %s, "cpu_us": %s, "peak_memory_bytes": %d, "python_peak_bytes": %d, '
         '"native_peak_bytes": %d, "input_samples": %s, "input_bytes": %s, "output_samples": %s, "output_bytes": %s}')
_NULL = {None: "null"}
_STATUS = {status: json.dumps(status) for status in ("ok", "failed", "cancelled")}


def run_json(run: "RunState", cache: JsonCache) -> str:
    """``json.dumps(run_record(run))``, written directly from the raw records (see the module docstring)."""
    rows, ran, lanes = _tables(run)
    s = cache.string
    null = _NULL.get
    names = {nid: (s(nid), s(v[0]), s(v[1]), v[0]) for nid, v in ran.items()}  # id, type, implementation
    calls = []
    digits: Dict[str, Tuple[str, str, str, Optional[str]]] = {}  # a node's one call: its times as text
    for (seq, node_id, node_type, attempt, status, error, delay, _, start_us, end_us, wall_us, cpu_us, lane,
         thread, in_samples, in_bytes, out_samples, out_bytes, peak, py_peak, nat_peak, extra) in rows:
        times = (repr(start_us), repr(end_us), repr(wall_us), None if cpu_us is None else repr(cpu_us))
        if ran[node_id][_N_CALLS] == 1:
            digits[node_id] = times
        name, type_name, impl, first_type = names[node_id]
        text = (f'{{"seq": {seq}, "node_id": {name}, '
                f'"node_type": {type_name if node_type is first_type else s(node_type)}, "attempt": {attempt}, '
                f'"status": {_STATUS[status]}, "error": {"null" if error is None else json.dumps(error)}, '
                f'"retry_delay_s": {"null" if delay is None else json.dumps(delay)}, "implementation": {impl}, '
                f'"start_us": {times[0]}, "end_us": {times[1]}, "wall_us": {times[2]}, "cpu_us": {times[3] or "null"}, '
                f'"lane": {lane}, "thread_id": {"null" if thread is None else thread}, '
                f'"input_samples": {"null" if in_samples is None else in_samples}, '
                f'"input_bytes": {"null" if in_bytes is None else in_bytes}, '
                f'"output_samples": {"null" if out_samples is None else out_samples}, '
                f'"output_bytes": {"null" if out_bytes is None else out_bytes}, "peak_memory_bytes": {peak}, '
                f'"python_peak_bytes": {py_peak}, "native_peak_bytes": {nat_peak}')
        calls.append(text + "}" if extra is None else f"{text}, \"extra\": {json.dumps(extra)}}}")
    nodes = []
    for node_id, v in ran.items():
        once = digits.get(node_id)
        if once is not None:  # one call: the node's times are the call's, already written
            start, end, wall, cpu = once
            mean = maximum = wall
        else:
            start, end, wall, mean, maximum = repr(v[9]), repr(v[10]), repr(v[11]), repr(v[12]), repr(v[13])
            cpu = None if v[14] is None else repr(v[14])
        name, type_name, impl, _ = names[node_id]
        nodes.append(_NODE % (name, type_name, impl, _STATUS[v[2]], v[3], v[4], v[5], v[6], v[7], v[8], start,
                              end, wall, mean, maximum, cpu or "null", v[15], v[16], v[17], null(v[18], v[18]),
                              null(v[19], v[19]), null(v[20], v[20]), null(v[21], v[21])))
    graph = run.graph
    if graph is not None:
        for gid, gnode in graph.by_id.items():
            if gid not in ran:
                nodes.append(f"{s(gid)}: {json.dumps(_not_run_node(gnode.node_type, _impl(run, gid)))}")
    head = json.dumps(_header(run, lanes))
    order = ", ".join(n[0] for n in names.values())
    return (f"{head[:-1]}, \"execution_order\": [{order}], \"nodes\": {{{', '.join(nodes)}}}, "
            f"\"edges\": {cache.edges(graph)}, \"calls\": [{', '.join(calls)}], "
            f"\"attempts\": {json.dumps(run.attempts)}}}")


# ------------------------------------------------------------------- files
def dump_json(metrics: Dict[str, Any], path: Any = None, *, indent: Optional[int] = None) -> str:
    """``metrics`` as JSON text, also written to ``path`` (atomically) when given."""
    text = json.dumps(metrics, indent=indent)
    if path is not None:
        write_atomic(path, text)
    return text


class _Collector(Protocol):
    """An :class:`~remotemedia.metrics.ExecutionMetrics` (what the writers need of it)."""

    def get(self) -> Dict[str, Any]: ...


MetricsLike = Union[Dict[str, Any], _Collector]


def _as_dict(metrics: Any) -> Dict[str, Any]:
    return metrics if isinstance(metrics, dict) else metrics.get()


def write_metrics_json(path: Any, metrics: Union[MetricsLike, Sequence[Dict[str, Any]]]) -> None:
    """Writes metrics as JSON (atomically).

    Args:
        path: the file to write.
        metrics: one run's dict (or an :class:`ExecutionMetrics`: its latest
            run), a batch dict from :func:`aggregate`, or a list of run dicts
            (written as ``{"batch": aggregate(list), "runs": list}``).
    """
    if isinstance(metrics, (list, tuple)):
        data: Any = {"batch": aggregate(metrics), "runs": list(metrics)}
    else:
        data = _as_dict(metrics)
    write_atomic(path, json.dumps(data, indent=1))


def write_chrome_trace(path: Any, metrics: Union[MetricsLike, Sequence[Dict[str, Any]]]) -> None:
    """Writes a Chrome trace event file (Perfetto, chrome://tracing) of one run or of several (one process each)."""
    from remotemedia.metrics.trace import chrome_trace

    write_atomic(path, json.dumps(chrome_trace(metrics if isinstance(metrics, (list, tuple)) else _as_dict(metrics))))


def write_html_report(path: Any, metrics: Union[MetricsLike, Sequence[Dict[str, Any]]], title: Optional[str] = None
                      ) -> None:
    """Writes the self-contained HTML report of one run, or of a batch when given a list of run dicts."""
    from remotemedia.metrics.report import html_report

    data = list(metrics) if isinstance(metrics, (list, tuple)) else _as_dict(metrics)
    write_atomic(path, html_report(data, title=title))


def write_atomic(path: Any, text: str) -> None:
    """Temp file in the target folder, fsync, rename (see :mod:`remotemedia.io.atomic`)."""
    from remotemedia.io.atomic import write_atomic as _write

    _write(path, text)
