"""ExecutionMetrics: per-node timing, CPU time, sizes and peak memory of pipeline runs.

Metrics are a lifecycle hook (:mod:`remotemedia.hooks`), never a property of
nodes. ``Pipeline(..., enable_metrics=True)`` installs one; any executor can
take one in ``hooks=``. What is recorded, per ``process`` call (attempt):

- wall time in microseconds (``time.perf_counter_ns``), and start/end in
  microseconds since the run started; the run's and every node's absolute
  start as ISO 8601 (UTC);
- CPU time of the thread that ran the call (``time.thread_time_ns``): the
  worker thread for a sync node; for an async node the event loop thread,
  which also runs other coroutines while the node awaits;
- attempt number, status (``ok``/``failed``/``cancelled``), error text and the
  retry delay when a retry policy passes one;
- the implementation of kernel nodes (``native``/``python``, from ``node.impl``;
  plain Python nodes report ``python``);
- input and output sizes: samples (array elements, every channel) and bytes,
  for numpy arrays, :class:`~remotemedia.audio.AudioBuffer`, ``(array,
  sample_rate)`` tuples, dicts (fan-in), lists/tuples of those, and bytes;
  ``null`` for anything else;
- peak memory during the call (see below), and the execution order.

Peak memory (``memory=`` of :class:`ExecutionMetrics`). With the native
module installed (``"auto"`` picks it): numpy data buffers are counted by a
counting numpy memory handler (NEP 49) that wraps numpy's default one and is
installed in each thread (or asyncio task) that runs a node, and Rust
allocations of the native module by its counting global allocator; a few
hundred nanoseconds per call. Python objects other than numpy buffers are not
counted in this mode. Without the native module (or with
``memory="tracemalloc"``), :mod:`tracemalloc` measures Python objects and
numpy buffers; it is started when the collector is made and stays on for the
rest of the process (see :class:`_TracemallocTracker`), slowing every
allocation of the process from then on. For every call the collector reports ``python_peak_bytes`` (numpy
buffers, plus Python objects under tracemalloc) and ``native_peak_bytes``
(Rust allocations): the highest level each counter reached during the call
minus its level when the call started; ``peak_memory_bytes`` is their sum (an
upper bound when the two peaks happen at different moments). The counters are
process-wide: when nodes run concurrently, each one's peak includes what the
others allocated during its span. A tracemalloc session that the user started
is left running, but its peak is reset by the collector.

Everything at export time (:meth:`ExecutionMetrics.get`, ``to_json``, the
Chrome trace, the HTML report): the hooks only store raw numbers.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import os
import threading
import time
import tracemalloc
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.errors import ConfigurationError

#: Version of the metrics JSON layout (``schema_version``); bumped on any incompatible change.
SCHEMA_VERSION = 1
#: Finished runs kept for :meth:`ExecutionMetrics.get` by run id.
DEFAULT_HISTORY = 64

_MISSING = object()
_Size = Tuple[Optional[int], Optional[int]]
_NO_SIZE: _Size = (None, None)


# --------------------------------------------------------------------- sizes
def payload_size(value: Any) -> _Size:
    """Samples and bytes of a node input or output, cheaply (no copy, no traversal beyond one level).

    Args:
        value: a numpy array, :class:`~remotemedia.audio.AudioBuffer`,
            ``(array, sample_rate)`` tuple, dict of those (fan-in), list or
            tuple of those, or bytes.

    Returns:
        ``(samples, bytes)``: samples counts array elements over every
        channel; ``None`` where it does not apply or the type is unknown.
    """
    t = type(value)
    if t is np.ndarray:
        return value.size, value.nbytes
    if t is AudioBuffer:
        return value.samples.size, value.samples.nbytes
    if t is tuple or t is list:
        if len(value) == 2 and type(value[0]) is np.ndarray and isinstance(value[1], (int, np.integer)):
            return value[0].size, value[0].nbytes
        return _sum_sizes(value)
    if t is dict:
        return _sum_sizes(value.values())
    if t is bytes or t is bytearray:
        return None, len(value)
    if isinstance(value, np.ndarray):
        return value.size, value.nbytes
    return _NO_SIZE


def _sum_sizes(values: Iterable[Any]) -> _Size:
    samples = nbytes = 0
    known = False
    for v in values:
        t = type(v)
        if t is np.ndarray:
            samples += v.size
            nbytes += v.nbytes
        elif t is AudioBuffer:
            samples += v.samples.size
            nbytes += v.samples.nbytes
        elif t is tuple and len(v) == 2 and type(v[0]) is np.ndarray:
            samples += v[0].size
            nbytes += v[0].nbytes
        else:
            continue
        known = True
    return (samples, nbytes) if known else _NO_SIZE


# ---------------------------------------------------------------- raw records
# A call is a plain list (cheapest to build in the hooks); these name its slots.
(_SEQ, _NODE_ID, _NODE_TYPE, _ATTEMPT, _START, _END, _CPU0, _CPU, _THREAD, _IN, _OUT, _STATUS, _ERROR, _DELAY,
 _PY_BASE, _PY_PEAK, _NAT_BASE, _NAT_PEAK) = range(18)


# -------------------------------------------------------------------- memory
def _remove(active: List[list], call: list) -> bool:
    """Removes ``call`` (by identity: records of different calls may compare equal)."""
    for i, c in enumerate(active):
        if c is call:
            del active[i]
            return True
    return False


def _fold_peaks(calls: Any, py_peak: int, nat_peak: int) -> None:
    """Raises the peaks of every call in ``calls`` to the levels just read, where higher."""
    for c in calls:
        if py_peak > c[_PY_PEAK]:
            c[_PY_PEAK] = py_peak
        if nat_peak > c[_NAT_PEAK]:
            c[_NAT_PEAK] = nat_peak


#: Whether the counting numpy handler is installed in this context; numpy's own
#: handler variable is a context variable too, so both follow the same scopes.
_counting_installed: "contextvars.ContextVar[bool]" = contextvars.ContextVar("remotemedia_numpy_counting",
                                                                             default=False)


class _CountingTracker:
    """Peaks from the native module's counters: numpy buffers (a counting numpy
    memory handler, installed in each thread or task that runs a node) and Rust
    allocations (the module's global allocator). A few hundred nanoseconds per
    call; Python objects other than numpy buffers are not counted.

    On every call start and end (under a lock) the peaks reached since the
    last event are read, folded into every call in flight, and reset; so each
    call ends with the highest level seen during its own span, however many
    calls overlap it.
    """

    mechanism = "numpy+native"

    def __init__(self, native_module: Any) -> None:
        self._lock = threading.Lock()
        self._active: List[list] = []
        self._install = native_module.numpy_memory_install
        self._reset = native_module.memory_reset_peaks

    # acquire()/release() with try/finally: the same as ``with self._lock``, a little cheaper on this hot path
    def enter(self, call: list) -> None:
        if not _counting_installed.get():  # numpy keeps its handler per context (thread or task)
            self._install()
            _counting_installed.set(True)
        lock = self._lock
        lock.acquire()
        try:
            np_cur, np_peak, nat_cur, nat_peak = self._reset()
            active = self._active
            _fold_peaks(active, np_peak, nat_peak)
            call[_PY_BASE] = call[_PY_PEAK] = np_cur
            call[_NAT_BASE] = call[_NAT_PEAK] = nat_cur
            active.append(call)
        finally:
            lock.release()

    def exit(self, call: list) -> None:
        lock = self._lock
        lock.acquire()
        try:
            active = self._active
            if active and active[-1] is call:  # the newest call in flight (always, without concurrency)
                active.pop()
            elif not _remove(active, call):
                return
            _, np_peak, _, nat_peak = self._reset()
            _fold_peaks((call,), np_peak, nat_peak)
            _fold_peaks(active, np_peak, nat_peak)
        finally:
            lock.release()


_TRACEMALLOC_LOCK = threading.Lock()


def _start_tracemalloc_once() -> None:
    """Starts tracemalloc for the rest of the process (never stopped here; see below)."""
    with _TRACEMALLOC_LOCK:
        if not tracemalloc.is_tracing():
            tracemalloc.start()


class _TracemallocTracker:
    """Peaks from tracemalloc (Python objects and numpy buffers), plus the
    native module's Rust allocation counters when it is installed.

    tracemalloc is started once, when the first tracker is made, and left on
    for the life of the process: stopping it while another thread allocates
    (numpy allocates without the GIL) crashed CPython 3.11 here (a segfault
    in a pure-install batch run). While on, it slows every allocation of the
    process, so this costs far more than :class:`_CountingTracker`. Same
    folding of peaks over overlapping calls.
    """

    def __init__(self, native_module: Any) -> None:
        self._lock = threading.Lock()
        self._active: List[list] = []
        self._native_stats = getattr(native_module, "native_memory_stats", None)
        self._native_reset = getattr(native_module, "native_memory_reset_peak", None)
        self.mechanism = "tracemalloc+native" if self._native_stats is not None else "tracemalloc"
        _start_tracemalloc_once()

    def enter(self, call: list) -> None:
        with self._lock:
            active = self._active
            if not tracemalloc.is_tracing():  # the user stopped it: start again, and keep it on
                _start_tracemalloc_once()
            cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            if self._native_reset is not None:
                nat_peak = self._native_reset()
                nat_cur = self._native_stats()[0]
            else:
                nat_peak = nat_cur = 0
            _fold_peaks(active, peak, nat_peak)
            call[_PY_BASE] = call[_PY_PEAK] = cur
            call[_NAT_BASE] = call[_NAT_PEAK] = nat_cur
            active.append(call)

    def exit(self, call: list) -> None:
        with self._lock:
            active = self._active
            if not _remove(active, call):
                return
            peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
            nat_peak = self._native_reset() if self._native_reset is not None else 0
            _fold_peaks((call,), peak, nat_peak)
            _fold_peaks(active, peak, nat_peak)
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()


MEMORY_MODES = ("auto", "counting", "tracemalloc", "off")


def _memory_tracker(memory: Union[bool, str]) -> Any:
    mode = {True: "auto", False: "off", None: "off"}.get(memory, memory)  # type: ignore[call-overload]
    if mode not in MEMORY_MODES:
        raise ConfigurationError(f"memory: expected one of {', '.join(MEMORY_MODES)}, given {memory!r}",
                                 parameter="memory", expected=" | ".join(MEMORY_MODES), given=memory)
    if mode == "off":
        return None
    native = _native.module()
    counting = native is not None and hasattr(native, "memory_reset_peaks")
    if mode == "counting" and not counting:
        raise ConfigurationError("memory='counting' needs the native module (remotemedia-runtime)",
                                 parameter="memory", expected="the native module installed", given=memory)
    if counting and mode in ("auto", "counting") and native.numpy_memory_install():
        return _CountingTracker(native)
    if mode == "counting":
        raise ConfigurationError("memory='counting': numpy's memory handler is not numpy's default one",
                                 parameter="memory", expected="numpy's default memory handler", given=memory)
    return _TracemallocTracker(native)


class _RunState:
    __slots__ = ("run_id", "pipeline", "t0_ns", "wall0_ns", "cpu0_ns", "end_ns", "cpu_ns", "error", "calls", "open",
                 "graph", "impls", "seq", "memory", "cpu_time")

    def __init__(self, run_id: int, pipeline: str, graph: Any, impls: Dict[str, str], memory: str,
                 cpu_time: bool) -> None:
        self.run_id = run_id
        self.cpu_time = cpu_time
        self.pipeline = pipeline
        self.graph = graph
        self.impls = impls
        self.memory = memory
        self.calls: List[list] = []
        self.open: Dict[str, list] = {}
        self.seq = itertools.count(1)
        self.error: Optional[str] = None
        self.end_ns = 0
        self.cpu_ns = 0
        self.wall0_ns = time.time_ns()
        self.cpu0_ns = time.process_time_ns()
        self.t0_ns = time.perf_counter_ns()


def _impl_of(node: Any) -> str:
    impl = getattr(node, "impl", None)
    return impl if impl in ("native", "python") else "python"


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


_SIZED = frozenset((np.ndarray, AudioBuffer, tuple, list, dict, bytes, bytearray))
#: Types with no size (skips the isinstance check; a subclass of one of these is checked as usual).
_UNSIZED = frozenset((int, float, bool, str, type(None)))
_perf_ns = time.perf_counter_ns
_thread_ns = time.thread_time_ns
_get_ident = threading.get_ident


# ------------------------------------------------------------------ the hook
class ExecutionMetrics:
    """A hook that records per-node metrics of every run (see the module docstring).

    Thread-safe; several runs may be recorded at once (keyed by run id).

    Args:
        pipeline_name: used when the executor passes none.
        memory: how to measure peak memory: ``"auto"`` (or True) = the
            native counters when the native module is installed, else
            tracemalloc; ``"counting"``, ``"tracemalloc"``, or ``"off"`` (or
            False).
        history: finished runs kept for :meth:`get` by run id.
        opentelemetry: emit an OpenTelemetry span per run and per node call
            when a run ends: True, False, None (= when ``opentelemetry-api``
            is importable and a tracer provider is configured; spans go to
            the global provider), or a tracer.
        cpu_time: read the thread CPU clock around every call. Reading it is
            a system call (no vDSO), which costs microseconds on some virtual
            machines; False reports ``cpu_us`` as null.

    Raises:
        ConfigurationError: an unknown ``memory`` mode, or one that cannot work here.
    """

    def __init__(self, pipeline_name: str = "pipeline", *, memory: Union[bool, str] = "auto",
                 history: int = DEFAULT_HISTORY, opentelemetry: Any = None, cpu_time: bool = True) -> None:
        self.pipeline_name = pipeline_name
        self.cpu_time = bool(cpu_time)
        self._memory = _memory_tracker(memory)
        self._running: Dict[int, _RunState] = {}
        self._finished: "OrderedDict[int, _RunState]" = OrderedDict()
        self._history = max(1, history)
        self._lock = threading.Lock()
        self._runs = 0
        self._failed_runs = 0
        self._tracer: Any = None
        self._otel_auto = opentelemetry is None
        if opentelemetry is None or opentelemetry is True:
            from remotemedia.trace import otel_tracer

            self._tracer = otel_tracer(required=opentelemetry is True)
        elif opentelemetry is not False:
            self._tracer = opentelemetry  # a tracer object

    @property
    def memory_mechanism(self) -> str:
        """``"numpy+native"``, ``"tracemalloc+native"``, ``"tracemalloc"`` or ``"off"``."""
        return self._memory.mechanism if self._memory is not None else "off"

    # --------------------------------------------------------------- hooks
    def before_run(self, *, run_id: int, pipeline_name: Optional[str] = None, graph: Any = None,
                   nodes: Optional[Dict[str, Any]] = None, **future_kwargs: Any) -> None:
        impls = {nid: _impl_of(n) for nid, n in nodes.items()} if nodes else {}
        self._running[run_id] = _RunState(run_id, pipeline_name or self.pipeline_name, graph, impls,
                                          self.memory_mechanism, self.cpu_time)

    def before_node(self, *, run_id: int, node_id: str, node_type: str, attempt: int = 1, item: Any = _MISSING,
                    **future_kwargs: Any) -> None:
        run = self._running.get(run_id)
        if run is None:
            return
        t = type(item)
        call = [next(run.seq), node_id, node_type, attempt, 0, 0, 0, 0, _get_ident(),
                _NO_SIZE if t in _UNSIZED else (payload_size(item) if t in _SIZED or isinstance(item, np.ndarray)
                                                else _NO_SIZE),
                _NO_SIZE, "running", None, None, 0, 0, 0, 0]
        memory = self._memory
        if memory is not None:
            memory.enter(call)
        run.open[node_id] = call
        if self.cpu_time:
            call[_CPU0] = _thread_ns()
        call[_START] = _perf_ns()

    def after_node(self, *, run_id: int, node_id: str, node_type: str = "", attempt: int = 1, duration_ns: int = 0,
                   error: Optional[BaseException] = None, result: Any = _MISSING, delay_s: Optional[float] = None,
                   **future_kwargs: Any) -> None:
        end_ns = _perf_ns()
        cpu_ns = _thread_ns() if self.cpu_time else 0
        run = self._running.get(run_id)
        if run is None:
            return
        call = run.open.pop(node_id, None)
        if call is None:
            return
        call[_END] = end_ns
        call[_CPU] = cpu_ns - call[_CPU0]
        memory = self._memory
        if memory is not None:
            memory.exit(call)
        if error is None:
            call[_STATUS] = "ok"
            t = type(result)
            if t not in _UNSIZED and (t in _SIZED or isinstance(result, np.ndarray)):
                call[_OUT] = payload_size(result)
        else:
            call[_STATUS] = "failed"
            call[_ERROR] = f"{type(error).__name__}: {error}"
            call[_DELAY] = delay_s
        run.calls.append(call)

    def after_run(self, *, run_id: int, error: Optional[BaseException] = None, **future_kwargs: Any) -> None:
        end_ns = _perf_ns()
        run = self._running.pop(run_id, None)
        if run is None:
            return
        run.end_ns = end_ns
        run.cpu_ns = time.process_time_ns() - run.cpu0_ns
        if error is not None:
            run.error = f"{type(error).__name__}: {error}"
        for call in list(run.open.values()):  # calls a failure interrupted
            call[_END] = end_ns
            call[_STATUS] = "cancelled"
            if self._memory is not None:
                self._memory.exit(call)
            run.calls.append(call)
        run.open.clear()
        with self._lock:
            self._runs += 1
            self._failed_runs += error is not None
            self._finished[run_id] = run
            while len(self._finished) > self._history:
                self._finished.popitem(last=False)
        if self._tracer is not None:
            from remotemedia.trace import emit_otel_spans, otel_provider_configured

            if not self._otel_auto or otel_provider_configured():  # auto: only when someone collects spans
                emit_otel_spans(self._tracer, self._build(run))

    # -------------------------------------------------------------- export
    @property
    def runs(self) -> int:
        """Runs finished so far."""
        return self._runs

    @property
    def failed_runs(self) -> int:
        """Runs that raised."""
        return self._failed_runs

    @property
    def run_ids(self) -> List[int]:
        """Ids of the finished runs still kept, oldest first."""
        with self._lock:
            return list(self._finished)

    def get(self, run_id: Optional[int] = None) -> Dict[str, Any]:
        """The metrics of one run as a JSON-ready dict (layout: ``remotemedia/schemas/metrics.schema.json``).

        Args:
            run_id: a finished run (``RunResult.run_id``); None = the latest.
                With several runs at once, ask by id.

        Raises:
            KeyError: ``run_id`` is unknown or no longer kept.
        """
        with self._lock:
            if run_id is None:
                run = next(reversed(self._finished.values())) if self._finished else None
            else:
                run = self._finished[run_id]
        if run is None:
            return empty_metrics(self.pipeline_name, enabled=True, memory=self.memory_mechanism)
        return self._build(run)

    def to_json(self, path: Any = None, run_id: Optional[int] = None, indent: Optional[int] = None) -> str:
        """:meth:`get` as JSON text; written to ``path`` (atomically) when given.

        Returns:
            The JSON text.
        """
        return dump_json(self.get(run_id), path, indent=indent)

    def _build(self, run: _RunState) -> Dict[str, Any]:
        t0 = run.t0_ns
        wall0 = run.wall0_ns
        calls = sorted(run.calls)  # by sequence number (first slot)
        lane_ends: List[int] = []
        call_dicts = []
        nodes: Dict[str, Dict[str, Any]] = {}
        impls = run.impls
        cpu_time = run.cpu_time
        for (seq, node_id, node_type, attempt, start, end, _, cpu, thread, in_size, out_size, status, error, delay,
             py_base, py_peak, nat_base, nat_peak) in calls:
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
            cpu_us = cpu / 1000 if cpu_time else None
            py_peak -= py_base
            nat_peak -= nat_base
            peak = py_peak + nat_peak
            impl = impls.get(node_id, "python")
            call_dicts.append({
                "seq": seq, "node_id": node_id, "node_type": node_type, "attempt": attempt,
                "status": status, "error": error, "retry_delay_s": delay, "implementation": impl,
                "start_us": start_us, "end_us": end_us, "wall_us": wall_us, "cpu_us": cpu_us, "lane": lane,
                "thread_id": thread, "input_samples": in_size[0], "input_bytes": in_size[1],
                "output_samples": out_size[0], "output_bytes": out_size[1],
                "peak_memory_bytes": peak, "python_peak_bytes": py_peak, "native_peak_bytes": nat_peak,
            })
            n = nodes.get(node_id)
            if n is None:  # the node's first call: its totals are this call's (as folded into zeros below)
                nodes[node_id] = {
                    "node_type": node_type, "implementation": impl, "status": status, "order": len(nodes),
                    "calls": 1, "attempts": attempt, "retries": 1 if attempt > 1 else 0,
                    "errors": 1 if status == "failed" else 0,
                    "started_at": _iso(wall0 + start - t0), "start_us": start_us,
                    "end_us": end_us, "wall_us": 0.0 + wall_us, "mean_wall_us": 0.0,
                    "max_wall_us": wall_us if wall_us > 0.0 else 0.0,
                    "cpu_us": 0.0 + cpu_us if cpu_time else None,
                    "peak_memory_bytes": peak if peak > 0 else 0, "python_peak_bytes": py_peak if py_peak > 0 else 0,
                    "native_peak_bytes": nat_peak if nat_peak > 0 else 0,
                    "input_samples": _first_size(in_size[0]), "input_bytes": _first_size(in_size[1]),
                    "output_samples": _first_size(out_size[0]), "output_bytes": _first_size(out_size[1]),
                }
                continue
            n["calls"] += 1
            if attempt > n["attempts"]:
                n["attempts"] = attempt
            if attempt > 1:
                n["retries"] += 1
            if status == "failed":
                n["errors"] += 1
            n["status"] = status
            if end_us > n["end_us"]:
                n["end_us"] = end_us
            n["wall_us"] += wall_us
            if wall_us > n["max_wall_us"]:
                n["max_wall_us"] = wall_us
            if cpu_time:
                n["cpu_us"] += cpu_us
            if peak > n["peak_memory_bytes"]:
                n["peak_memory_bytes"] = peak
            if py_peak > n["python_peak_bytes"]:
                n["python_peak_bytes"] = py_peak
            if nat_peak > n["native_peak_bytes"]:
                n["native_peak_bytes"] = nat_peak
            if in_size is not _NO_SIZE:
                _add_size(n, "input_samples", "input_bytes", in_size)
            if out_size is not _NO_SIZE:
                _add_size(n, "output_samples", "output_bytes", out_size)
        for n in nodes.values():
            n["mean_wall_us"] = n["wall_us"] / n["calls"]
        edges: List[Dict[str, str]] = []
        if run.graph is not None:
            for gid, gnode in run.graph.by_id.items():
                if gid not in nodes:
                    nodes[gid] = _not_run_node(gnode.node_type, impls.get(gid, "python"))
            edges = [{"from": e.src, "to": e.dst} for e in run.graph.edges]
        status = "failed" if run.error is not None else "ok"
        return {
            "schema_version": SCHEMA_VERSION, "kind": "run", "enabled": True,
            "pipeline": run.pipeline, "run_id": run.run_id, "status": status, "error": run.error,
            "started_at": _iso(wall0), "total_wall_us": (run.end_ns - t0) / 1000, "total_cpu_us": run.cpu_ns / 1000,
            "memory_tracking": run.memory, "lanes": len(lane_ends),
            "execution_order": [nid for nid, n in nodes.items() if n["status"] != "not_run"],
            "nodes": nodes, "edges": edges, "calls": call_dicts,
        }


def _first_size(value: Optional[int]) -> Optional[int]:
    """A node's size total after its first call (as :func:`_add_size` would fold it into None)."""
    return None if value is None else 0 + value


def _add_size(n: Dict[str, Any], samples_key: str, bytes_key: str, size: _Size) -> None:
    if size[0] is not None:
        n[samples_key] = (n[samples_key] or 0) + size[0]
    if size[1] is not None:
        n[bytes_key] = (n[bytes_key] or 0) + size[1]


def _not_run_node(node_type: str, impl: str) -> Dict[str, Any]:
    return {
        "node_type": node_type, "implementation": impl, "status": "not_run", "order": None,
        "calls": 0, "attempts": 0, "retries": 0, "errors": 0, "started_at": None, "start_us": None, "end_us": None,
        "wall_us": 0.0, "mean_wall_us": 0.0, "max_wall_us": 0.0, "cpu_us": 0.0,
        "peak_memory_bytes": 0, "python_peak_bytes": 0, "native_peak_bytes": 0,
        "input_samples": None, "input_bytes": None, "output_samples": None, "output_bytes": None,
    }


def empty_metrics(pipeline_name: str, *, enabled: bool, memory: str = "off") -> Dict[str, Any]:
    """The metrics dict of a pipeline that has not run (or runs without metrics)."""
    return {
        "schema_version": SCHEMA_VERSION, "kind": "run", "enabled": enabled, "pipeline": pipeline_name,
        "run_id": None, "status": "not_run", "error": None, "started_at": None, "total_wall_us": 0.0,
        "total_cpu_us": 0.0, "memory_tracking": memory, "lanes": 0, "execution_order": [], "nodes": {},
        "edges": [], "calls": [],
    }


# ---------------------------------------------------------------- batches
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


# ------------------------------------------------------------------ files
MetricsLike = Union[Dict[str, Any], ExecutionMetrics]


def _as_dict(metrics: MetricsLike) -> Dict[str, Any]:
    return metrics.get() if isinstance(metrics, ExecutionMetrics) else metrics


def dump_json(metrics: Dict[str, Any], path: Any = None, *, indent: Optional[int] = None) -> str:
    """``metrics`` as JSON text, also written to ``path`` (atomically) when given."""
    text = json.dumps(metrics, indent=indent)
    if path is not None:
        _write_atomic(path, text)
    return text


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
    _write_atomic(path, json.dumps(data, indent=1))


def write_chrome_trace(path: Any, metrics: Union[MetricsLike, Sequence[Dict[str, Any]]]) -> None:
    """Writes a Chrome trace event file (Perfetto, chrome://tracing) of one run or of several (one process each)."""
    from remotemedia.trace import chrome_trace

    _write_atomic(path, json.dumps(chrome_trace(metrics if isinstance(metrics, (list, tuple)) else _as_dict(metrics))))


def write_html_report(path: Any, metrics: Union[MetricsLike, Sequence[Dict[str, Any]]], title: Optional[str] = None
                      ) -> None:
    """Writes the self-contained HTML report of one run, or of a batch when given a list of run dicts."""
    from remotemedia.report import html_report

    data = list(metrics) if isinstance(metrics, (list, tuple)) else _as_dict(metrics)
    _write_atomic(path, html_report(data, title=title))


def load_schema() -> Dict[str, Any]:
    """The JSON Schema of the metrics files (``remotemedia/schemas/metrics.schema.json``)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "metrics.schema.json")
    with open(here, encoding="utf-8") as fh:
        return json.load(fh)


def _write_atomic(path: Any, text: str) -> None:
    """Temp file in the target folder, fsync, rename (see :mod:`remotemedia.io.atomic`)."""
    from remotemedia.io.atomic import write_atomic

    write_atomic(path, text)
