"""ExecutionMetrics: the one hook that records every node call of every run.

The hooks (:mod:`remotemedia.hooks`) run on every call, so they only store
raw numbers in a list per call (:mod:`remotemedia.metrics.calls`); everything
else happens when a run is exported (:mod:`remotemedia.metrics.export`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Any, Deque, Dict, List, Optional, Sequence, Union

import numpy as np

from remotemedia.metrics import export
from remotemedia.metrics.calls import (  # noqa: F401  (RunState also imported from here)
    CPU,
    CPU0,
    DELAY,
    END,
    ERROR,
    EXTRA,
    IN,
    NO_SIZE,
    OUT,
    SIZED,
    START,
    STATUS,
    UNSIZED,
    RunState,
    Size,
    json_ready,
    payload_size,
)
from remotemedia.metrics.memory import memory_tracker

#: Finished runs kept for :meth:`ExecutionMetrics.get` by run id.
DEFAULT_HISTORY = 64
#: At most this many attempt records are kept for :meth:`ExecutionMetrics.attempt_log` (the oldest are dropped).
MAX_ATTEMPT_RECORDS = 10_000

_MISSING = object()
_perf_ns = time.perf_counter_ns
_thread_ns = time.thread_time_ns
_get_ident = threading.get_ident

#: A call that starts at most this long (ns of ``perf_counter_ns``) after its thread's latest CPU clock reading
#: (the end of the call before it) takes its start CPU time from that reading plus the wall time since, instead
#: of a new reading (see :class:`ExecutionMetrics`, ``cpu_time``).
CPU_BRIDGE_NS = 20_000


def _size_pair(value: Any) -> Size:
    """An engine's ``(samples, bytes)`` (``input_size=``/``output_size=``), ints or None; anything else: unknown."""
    try:
        samples, nbytes = value
    except (TypeError, ValueError):
        return NO_SIZE
    return (samples if type(samples) is int else None, nbytes if type(nbytes) is int else None)


def _engine_keywords(call: list, kwargs: Dict[str, Any], duration_ns: int) -> None:
    """What ``after_node`` keywords beyond the documented ones mean for the call record.

    ``input_size=``/``output_size=`` are the call's sizes when the engine
    passes no item or result (a fused segment's stage). A call with
    ``fused=True`` is a stage of a fused native segment, reported after the
    segment ran: its time is the stage's own (``duration_ns``, from the
    segment's timers), ending when it was reported, or starting at
    ``start_ns=`` (``perf_counter_ns``) when given; its CPU time is not
    known (null). The rest goes to :func:`_record_extra`.
    """
    size = kwargs.pop("input_size", None)
    if size is not None:
        call[IN] = _size_pair(size)
    size = kwargs.pop("output_size", None)
    if size is not None:
        call[OUT] = _size_pair(size)
    start_ns = kwargs.pop("start_ns", None)
    if kwargs.get("fused") and type(duration_ns) is int and duration_ns >= 0:
        end = call[START] if type(start_ns) is not int else start_ns + duration_ns
        call[START] = end - duration_ns
        call[END] = end
        call[CPU] = None
    _record_extra(call, kwargs)


def _record_extra(call: list, kwargs: Dict[str, Any]) -> None:
    """Keeps the extra hook keywords that are JSON-ready (``fused=True``, ``stage_us=...``) in the call record."""
    extra = call[EXTRA]
    for key, value in kwargs.items():
        if json_ready(value):
            if extra is None:
                extra = call[EXTRA] = {}
            t = type(value)
            extra[key] = list(value) if t is tuple or t is list else dict(value) if t is dict else value


class ExecutionMetrics:
    """A hook that records per-node metrics of every run.

    Per node call (every attempt of a retry is its own record): wall time
    (``time.perf_counter_ns``) and the start and end in microseconds since
    the run started, the CPU time of the thread that ran the call
    (``time.thread_time_ns``: the worker thread for a sync node; for an async
    node the event loop thread, which also runs other coroutines while the
    node awaits), attempt, status (``ok``/``failed``/``cancelled``), error
    text and retry delay, the implementation of kernel nodes (``node.impl``;
    plain Python nodes report ``python``), input and output sizes
    (:func:`~remotemedia.metrics.calls.payload_size`), peak memory
    (:mod:`remotemedia.metrics.memory`), and any extra hook keyword that is
    JSON-ready (``after_node(..., fused=True)``) under the call's ``extra``.
    A stage of a fused native segment (``fused=True``) is timed by the
    segment: its wall time is the ``duration_ns`` the engine passes, its sizes
    ``input_size=``/``output_size=``, its CPU time unknown (null).
    Every failed attempt and the successful attempt of a retried call also go
    to the attempt log (:meth:`attempt_log`, and ``attempts`` of :meth:`get`).

    Thread-safe; several runs may be recorded at once (keyed by run id).

    Args:
        pipeline_name: used when the executor passes none.
        memory: how to measure peak memory: ``"auto"`` (or True) = the native
            counters when the native module is installed, else nothing;
            ``"counting"``, ``"tracemalloc"``, or ``"off"`` (or False). See
            :mod:`remotemedia.metrics.memory`.
        history: finished runs kept for :meth:`get` by run id.
        opentelemetry: emit an OpenTelemetry span per run and per node call
            when a run ends: True, False, None (= when ``opentelemetry-api``
            is importable and a tracer provider is configured; spans go to
            the global provider), or a tracer.
        cpu_time: read the thread CPU clock around every call. Reading it is
            a system call (no vDSO), which costs microseconds on some virtual
            machines; False reports ``cpu_us`` as null. A call that starts
            within :data:`CPU_BRIDGE_NS` (20 us) of its thread's previous
            reading (the end of the call before it, as in a chain of sync
            nodes) is not given a reading of its own: its start CPU time is
            that reading plus the wall time since (a thread's CPU time cannot
            grow faster than the wall clock), which halves the readings of a
            chain. Where the thread did not run during that gap (descheduled,
            or waiting), the call's ``cpu_us`` is that much (< 20 us) smaller;
            it is never larger than with a reading of its own.

    Raises:
        ConfigurationError: an unknown ``memory`` mode, or one that cannot work here.
    """

    def __init__(self, pipeline_name: str = "pipeline", *, memory: Union[bool, str] = "auto",
                 history: int = DEFAULT_HISTORY, opentelemetry: Any = None, cpu_time: bool = True) -> None:
        self.pipeline_name = pipeline_name
        self.cpu_time = bool(cpu_time)
        self._memory = memory_tracker(memory)
        self._enter = self._memory.enter if self._memory is not None else None
        self._exit = self._memory.exit if self._memory is not None else None
        self._running: Dict[Any, RunState] = {}
        self._thread_cpu = threading.local()  # each thread's latest CPU clock reading (see before_node)
        self._finished: "OrderedDict[Any, RunState]" = OrderedDict()
        self._history = max(1, history)
        self._lock = threading.Lock()
        self._attempts: Deque[Dict[str, Any]] = deque(maxlen=MAX_ATTEMPT_RECORDS)
        self._json = export.JsonCache()
        self._runs = 0
        self._failed_runs = 0
        self._tracer: Any = None
        self._otel_wanted: Any = None  # None: always emit; else a check, once per run, that someone collects spans
        if opentelemetry is None or opentelemetry is True:
            from remotemedia.metrics.trace import otel_provider_check, otel_tracer

            self._tracer = otel_tracer(required=opentelemetry is True)
            if opentelemetry is None and self._tracer is not None:
                self._otel_wanted = otel_provider_check()
        elif opentelemetry is not False:
            self._tracer = opentelemetry  # a tracer object

    @property
    def memory_mechanism(self) -> str:
        """What measures peak memory: ``"numpy+native"``, ``"tracemalloc+native"``, ``"tracemalloc"`` or ``"off"``."""
        return self._memory.mechanism if self._memory is not None else "off"

    # --------------------------------------------------------------- hooks
    def before_run(self, *, run_id: Any, pipeline_name: Optional[str] = None, graph: Any = None,
                   nodes: Optional[Dict[str, Any]] = None, implementations: Optional[Dict[str, str]] = None,
                   fused: Optional[Sequence[Sequence[str]]] = None, **future_kwargs: Any) -> None:
        """Starts recording run ``run_id``.

        Args:
            graph: gives the edges and the nodes that may not run.
            implementations: node id -> ``"native"`` / ``"python"``, what each
                node runs in this run (the engine passes it; a node missing from
                it is reported as ``"python"``).
            fused: the node ids of each fused native segment of the run (the
                run's ``fused`` list).
        """
        # what each node runs, as set for this run (checked at export: anything else is "python")
        impls = dict(implementations or {})
        state = self._running[run_id] = RunState(run_id, pipeline_name or self.pipeline_name, graph, impls,
                                                 self.memory_mechanism, self.cpu_time)
        if fused:
            state.fused = [list(segment) for segment in fused]

    def before_node(self, *, run_id: Any, node_id: str, node_type: str, attempt: int = 1, item: Any = _MISSING,
                    **future_kwargs: Any) -> None:
        """Starts a call record: sizes of ``item`` (omitted: a source's read), memory levels, clocks last."""
        run = self._running.get(run_id)
        if run is None:
            return
        t = type(item)
        # a new record (see remotemedia.metrics.calls for the slots), written out: cheaper than a function call
        call = [next(run.seq), node_id, node_type, attempt, 0, 0, 0, 0, _get_ident(),
                NO_SIZE if t in UNSIZED else (payload_size(item) if t in SIZED or isinstance(item, np.ndarray)
                                              else NO_SIZE),
                NO_SIZE, "running", None, None, 0, 0, 0, 0, None]
        if future_kwargs:
            _record_extra(call, future_kwargs)
        enter = self._enter
        if enter is not None:
            enter(call)
        run.open[node_id] = call
        if self.cpu_time:
            start = _perf_ns()
            last = getattr(self._thread_cpu, "last", None)  # (perf_counter_ns, thread_time_ns) read together
            if last is not None and start - last[0] < CPU_BRIDGE_NS:  # this thread ran since: no new reading
                call[CPU0] = last[1] + start - last[0]
                call[START] = start
                return
            call[CPU0] = _thread_ns()
        call[START] = _perf_ns()

    def after_node(self, *, run_id: Any, node_id: str, node_type: str = "", attempt: int = 1, duration_ns: int = 0,
                   error: Optional[BaseException] = None, result: Any = _MISSING, delay_s: Optional[float] = None,
                   ran: bool = True, **future_kwargs: Any) -> None:
        """Ends the call record (clocks first): status, error, retry delay, sizes of ``result``, peaks, extras;
        logs a failed attempt or the successful attempt of a retried call.

        ``ran`` False with an error: a breaker refused the call (a failed call);
        without one: a chunk source's read that found the end (no call, not
        recorded). Extra keywords: see :func:`_engine_keywords`.
        """
        end_ns = _perf_ns()
        if self.cpu_time:
            cpu_ns = _thread_ns()
            self._thread_cpu.last = (_perf_ns(), cpu_ns)
        else:
            cpu_ns = 0
        if error is not None or attempt > 1:
            self._log_attempt(run_id, node_id, node_type, attempt, error, delay_s, ran)
        run = self._running.get(run_id)
        if run is None:
            return
        call = run.open.pop(node_id, None)
        if call is None:
            return
        call[END] = end_ns
        cpu_ns -= call[CPU0]
        call[CPU] = cpu_ns if cpu_ns > 0 else 0  # a bridged start can only make it smaller (see cpu_time)
        exit_ = self._exit
        if exit_ is not None:
            exit_(call)
        if not ran and error is None:  # a chunk source's read that found the end: no call
            return
        if error is None:
            call[STATUS] = "ok"
            t = type(result)
            if t not in UNSIZED and (t in SIZED or isinstance(result, np.ndarray)):
                call[OUT] = payload_size(result)
        else:
            call[STATUS] = "failed"
            call[ERROR] = f"{type(error).__name__}: {error}"
            call[DELAY] = None if delay_s is None else float(delay_s)
        if future_kwargs:
            _engine_keywords(call, future_kwargs, duration_ns)
        run.calls.append(call)

    def after_run(self, *, run_id: Any, error: Optional[BaseException] = None, **future_kwargs: Any) -> None:
        """Ends run ``run_id``: calls still open are recorded as cancelled, the run is kept for :meth:`get`
        (the latest ``history`` runs), and OpenTelemetry spans are emitted when wanted."""
        end_ns = _perf_ns()
        run = self._running.pop(run_id, None)
        if run is None:
            return
        run.end_ns = end_ns
        run.cpu_ns = time.process_time_ns() - run.cpu0_ns
        if error is not None:
            run.error = f"{type(error).__name__}: {error}"
        if run.open:  # calls a failure interrupted
            for call in run.open.values():
                call[END] = end_ns
                call[STATUS] = "cancelled"
                if self._exit is not None:
                    self._exit(call)
                run.calls.append(call)
            run.open.clear()
        with self._lock:
            self._runs += 1
            self._failed_runs += error is not None
            self._finished[run_id] = run
            while len(self._finished) > self._history:
                self._finished.popitem(last=False)
        if self._tracer is not None and (self._otel_wanted is None or self._otel_wanted()):
            from remotemedia.metrics.trace import emit_otel_spans

            emit_otel_spans(self._tracer, export.run_record(run))

    def _log_attempt(self, run_id: Any, node_id: str, node_type: str, attempt: int, error: Optional[BaseException],
                     delay_s: Optional[float], ran: bool) -> None:
        """A failed attempt, or the successful attempt of a retried call (rare: outside the hot path)."""
        text = None if error is None else f"{type(error).__name__}: {error}".splitlines()[0]
        record = {"run_id": run_id, "node_id": node_id, "node_type": node_type, "attempt": attempt, "error": text,
                  "delay_s": None if delay_s is None else float(delay_s), "ran": ran}
        with self._lock:
            self._attempts.append(record)
            run = self._running.get(run_id)
            if run is not None:
                run.attempts.append(record)

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
    def run_ids(self) -> List[Any]:
        """Ids of the finished runs still kept, oldest first."""
        with self._lock:
            return list(self._finished)

    def attempt_log(self) -> List[Dict[str, Any]]:
        """Retry attempts of every run (the newest :data:`MAX_ATTEMPT_RECORDS`), oldest first.

        Returns:
            ``{"run_id", "node_id", "node_type", "attempt", "error", "delay_s",
            "ran"}`` per failed attempt and per successful attempt of a retried
            call: ``error`` is the first line of ``"<ExceptionType>: <message>"``
            (None for a success), ``delay_s`` the wait before the next attempt
            (None when none followed), ``ran`` False when a circuit breaker
            refused the call.
        """
        with self._lock:
            return [dict(a) for a in self._attempts]

    def _run(self, run_id: Any) -> Optional[RunState]:
        with self._lock:
            if run_id is None:
                return next(reversed(self._finished.values())) if self._finished else None
            return self._finished[run_id]

    def get(self, run_id: Any = None) -> Dict[str, Any]:
        """The metrics of one run as a JSON-ready dict (layout: ``remotemedia/schemas/metrics.schema.json``).

        Args:
            run_id: a finished run (``RunResult.run_id``); None = the latest.
                With several runs at once, ask by id.

        Returns:
            A new dict (the caller may change it); ``attempts`` holds the
            run's part of :meth:`attempt_log`. Before any run finished: no
            nodes, ``status`` ``"not_run"``, and the attempts of the newest
            run that logged any (a run that raised before it could finish).

        Raises:
            KeyError: ``run_id`` is unknown or no longer kept.
        """
        run = self._run(run_id)
        if run is not None:
            return export.run_record(run)
        record = export.empty_metrics(self.pipeline_name, enabled=True, memory=self.memory_mechanism)
        with self._lock:
            newest = self._attempts[-1]["run_id"] if self._attempts else None
            record["attempts"] = [dict(a) for a in self._attempts if a["run_id"] == newest] if self._attempts else []
        return record

    def to_json(self, path: Any = None, run_id: Any = None, indent: Optional[int] = None) -> str:
        """:meth:`get` as JSON text (the same text as ``json.dumps(get())``, made faster); written to
        ``path`` (atomically) when given.

        Returns:
            The JSON text.
        """
        run = self._run(run_id) if indent is None else None
        if run is None:
            return export.dump_json(self.get(run_id), path, indent=indent)
        text = export.run_json(run, self._json)
        if path is not None:
            export.write_atomic(path, text)
        return text
