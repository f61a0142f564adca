"""Peak memory of node calls: the trackers behind ``ExecutionMetrics(memory=...)``.

Two mechanisms, both process-wide counters read when a call starts and ends:

- ``"numpy+native"`` (:class:`CountingTracker`, the default where it works):
  the native module's counters. numpy data buffers are counted by a counting
  numpy memory handler (NEP 49) that wraps numpy's default one and is installed
  in each thread (or asyncio task) that runs a node; the Rust code's
  allocations by the module's counting global allocator. A few hundred
  nanoseconds per call. Python objects other than numpy buffers are not seen.
- ``"tracemalloc"`` / ``"tracemalloc+native"`` (:class:`TracemallocTracker`,
  only when asked for): Python objects and numpy buffers, plus the Rust
  counters when the native module is there. Once started it stays on for the
  rest of the process and slows every allocation of it (a 10-node run of
  trivial nodes: about 640 us more; the numpy VAD about 50x).

``memory="auto"`` picks the counters when the native module is installed and
numpy's default handler is in place; otherwise it measures nothing
(``"off"``): a pure install has no cheap way to see a call's peak (numpy's
handler API is C-only; RSS readings miss what is freed before the call ends
and cost a system call each), and turning tracemalloc on behind the user's
back would slow the whole process.

Each call reports, per counter, the highest level reached during its span
minus the level at its start. On every call start and end (under a lock, or
in one native call that holds the GIL) the peaks reached since the last event
are read, folded into every call in flight, and reset; so each call ends with
the highest level seen during its own span, however many calls overlap it
(with concurrent nodes, a call's peak includes what the others allocated
meanwhile).
"""

from __future__ import annotations

import contextvars
import threading
import tracemalloc
from typing import Any, List, Optional, Union

from remotemedia import _native
from remotemedia.errors import ConfigurationError
from remotemedia.metrics.calls import NAT_BASE, NAT_PEAK, PY_BASE, PY_PEAK

MEMORY_MODES = ("auto", "counting", "tracemalloc", "off")
#: ``memory_tracking`` values of the JSON (what measured the peaks).
MECHANISMS = ("numpy+native", "tracemalloc+native", "tracemalloc", "off")


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
        if py_peak > c[PY_PEAK]:
            c[PY_PEAK] = py_peak
        if nat_peak > c[NAT_PEAK]:
            c[NAT_PEAK] = nat_peak


#: Whether the counting numpy handler is installed in this context; numpy's own
#: handler variable is a context variable too, so both follow the same scopes.
_counting_installed: "contextvars.ContextVar[bool]" = contextvars.ContextVar("remotemedia_numpy_counting",
                                                                             default=False)


class CountingTracker:
    """Peaks from the native module's counters (numpy buffers and Rust allocations).

    The bookkeeping of the calls in flight is the native ``PeakTracker`` (one
    call per event, the GIL held throughout); this class installs the
    counting numpy handler in each context that runs a call.
    """

    mechanism = "numpy+native"

    def __init__(self, native_module: Any) -> None:
        peaks = native_module.PeakTracker(PY_BASE, PY_PEAK, NAT_BASE, NAT_PEAK)
        self._enter = peaks.enter
        #: Folds the peaks reached since the last event into a call (and the calls still in flight).
        self.exit = peaks.exit
        self._install = native_module.numpy_memory_install
        self._installed = _counting_installed.get

    def enter(self, call: list) -> None:
        """Records the counters' levels at the start of ``call``."""
        if not self._installed():  # numpy keeps its handler per context (thread or task)
            self._install()
            _counting_installed.set(True)
        self._enter(call)


_TRACEMALLOC_LOCK = threading.Lock()


def _start_tracemalloc_once() -> None:
    """Starts tracemalloc for the rest of the process (never stopped here; see below)."""
    with _TRACEMALLOC_LOCK:
        if not tracemalloc.is_tracing():
            tracemalloc.start()


class TracemallocTracker:
    """Peaks from tracemalloc (Python objects and numpy buffers), plus the
    native module's Rust allocation counters when it is installed.

    tracemalloc is started once, when the first tracker is made, and left on
    for the life of the process: stopping it while another thread allocates
    (numpy allocates without the GIL) crashed CPython 3.11 here (a segfault
    in a pure-install batch run). A tracemalloc session that the user started
    is left running, but its peak is reset by the tracker.
    """

    def __init__(self, native_module: Any) -> None:
        self._lock = threading.Lock()
        self._active: List[list] = []
        self._native_stats = getattr(native_module, "native_memory_stats", None)
        self._native_reset = getattr(native_module, "native_memory_reset_peak", None)
        self.mechanism = "tracemalloc+native" if self._native_stats is not None else "tracemalloc"
        _start_tracemalloc_once()

    def enter(self, call: list) -> None:
        """Records the levels at the start of ``call``."""
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
            call[PY_BASE] = call[PY_PEAK] = cur
            call[NAT_BASE] = call[NAT_PEAK] = nat_cur
            active.append(call)

    def exit(self, call: list) -> None:
        """Folds the peaks reached since the last event into ``call`` (and the calls still in flight)."""
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


Tracker = Union[CountingTracker, TracemallocTracker]


def memory_tracker(memory: Union[bool, str, None]) -> Optional[Tracker]:
    """The tracker for a ``memory=`` setting (None = off).

    Args:
        memory: ``"auto"`` (or True): the native counters when they work here,
            else off; ``"counting"``: the native counters or an error;
            ``"tracemalloc"``; ``"off"`` (or False, None).

    Raises:
        ConfigurationError: an unknown mode, or ``"counting"`` where the counters cannot work.
    """
    mode = {True: "auto", False: "off", None: "off"}.get(memory, memory)  # type: ignore[call-overload]
    if mode not in MEMORY_MODES:
        raise ConfigurationError(f"memory: expected one of {', '.join(MEMORY_MODES)}, given {memory!r}",
                                 parameter="memory", expected=" | ".join(MEMORY_MODES), given=memory)
    if mode == "off":
        return None
    native = _native.module()
    if mode == "tracemalloc":
        return TracemallocTracker(native)
    if native is None:
        if mode == "counting":
            raise ConfigurationError("memory='counting' needs the native module (remotemedia-runtime)",
                                     parameter="memory", expected="the native module installed", given=memory)
        return None
    if native.numpy_memory_install():
        return CountingTracker(native)
    if mode == "counting":
        raise ConfigurationError("memory='counting': numpy's memory handler is not numpy's default one",
                                 parameter="memory", expected="numpy's default memory handler", given=memory)
    return None
