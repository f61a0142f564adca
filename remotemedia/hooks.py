"""Lifecycle hooks of pipeline runs, and the minimal timing collector.

A hook is any object with some of these methods; each takes keyword-only
arguments plus ``**future_kwargs``, so new context can be passed later without
breaking existing hooks (the Hamilton convention)::

    before_run(*, run_id, pipeline_name, graph, nodes, **future_kwargs)
    after_run(*, run_id, pipeline_name, duration_ns, error, **future_kwargs)
    before_node(*, run_id, node_id, node_type, attempt, item, **future_kwargs)
    after_node(*, run_id, node_id, node_type, attempt, duration_ns, error, delay_s, ran, result, **future_kwargs)

``graph`` is the :class:`~remotemedia.graph.PipelineGraph` being run and
``nodes`` maps node id to node instance. ``item`` is the input of the call
(a dict keyed by input for fan-in; an async iterator for a streaming node),
``result`` what ``process`` returned (None for an async generator or on
error).

``before_node``/``after_node`` surround every attempt of one ``process`` call:
``attempt`` counts from 1, ``delay_s`` is the wait before the next attempt
(None when no retry follows), ``ran`` is False when a circuit breaker refused
the call (the node did not run).
They are called from the thread that runs the node: a worker thread for sync
nodes, the event loop thread for async ones, so hooks must be thread-safe and
quick. An exception raised by a hook propagates (a broken hook is a bug, not
something to hide). Metrics stay out of the Node class: they are a hook.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Sequence

HOOK_METHODS = ("before_run", "after_run", "before_node", "after_node")


class HookSet:
    """The hooks of one executor, grouped by method for cheap dispatch.

    Args:
        hooks: objects implementing any of :data:`HOOK_METHODS`.
    """

    def __init__(self, hooks: Sequence[Any] = ()) -> None:
        self.hooks = list(hooks)
        self._by_method: Dict[str, List[Any]] = {
            name: [getattr(h, name) for h in self.hooks if callable(getattr(h, name, None))] for name in HOOK_METHODS
        }
        #: The bound ``before_node`` and ``after_node`` methods, in hook order (for hot loops).
        self.before_node: List[Any] = self._by_method["before_node"]
        self.after_node: List[Any] = self._by_method["after_node"]
        #: Whether any node-level hook exists (the executor skips timing otherwise).
        self.has_node_hooks = bool(self.before_node or self.after_node)

    def call(self, method: str, **kwargs: Any) -> None:
        for fn in self._by_method[method]:
            fn(**kwargs)


#: At most this many attempt records are kept by :class:`TimingHook` (the oldest are dropped).
MAX_ATTEMPT_RECORDS = 10_000


class TimingHook:
    """Collects per-node call counts and durations (what ``Pipeline.get_metrics()`` returns).

    Thread-safe. Durations are wall-clock time of each ``process`` attempt, in
    microseconds. Every failed attempt, and the successful attempt of a
    retried call, is also kept as a record ``{"run_id", "node_id",
    "node_type", "attempt", "error", "delay_s", "ran"}`` (the last
    :data:`MAX_ATTEMPT_RECORDS`); a refused call (``ran=False``) is not counted
    as a call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._nodes: Dict[str, Dict[str, Any]] = {}
            self._attempts: Deque[Dict[str, Any]] = deque(maxlen=MAX_ATTEMPT_RECORDS)
            self._runs = 0
            self._run_us = 0.0
            self._failed_runs = 0

    def before_node(self, **future_kwargs: Any) -> None:
        pass

    def after_node(self, *, node_id: str, node_type: str, duration_ns: int, error: Optional[BaseException],
                   attempt: int = 1, delay_s: Optional[float] = None, ran: bool = True, run_id: int = 0,
                   **future_kwargs: Any) -> None:
        us = duration_ns / 1000.0
        with self._lock:
            if error is not None or attempt > 1:
                text = None if error is None else f"{type(error).__name__}: {error}".splitlines()[0]
                self._attempts.append({"run_id": run_id, "node_id": node_id, "node_type": node_type,
                                       "attempt": attempt, "error": text, "delay_s": delay_s, "ran": ran})
            if not ran:
                return
            entry = self._nodes.get(node_id)
            if entry is None:
                entry = self._nodes[node_id] = {"node_type": node_type, "calls": 0, "errors": 0, "total_us": 0.0,
                                                "max_us": 0.0}
            entry["calls"] += 1
            entry["errors"] += error is not None
            entry["total_us"] += us
            entry["max_us"] = max(entry["max_us"], us)

    def after_run(self, *, duration_ns: int, error: Optional[BaseException], **future_kwargs: Any) -> None:
        with self._lock:
            self._runs += 1
            self._failed_runs += error is not None
            self._run_us += duration_ns / 1000.0

    def snapshot(self) -> Dict[str, Any]:
        """The totals so far.

        Returns:
            ``{"runs", "failed_runs", "total_run_us", "nodes": {node_id: {"node_type",
            "calls", "errors", "total_us", "mean_us", "max_us"}}, "attempts": [...]}``
            (microseconds; ``attempts`` as described in the class docstring).
        """
        with self._lock:
            nodes = {}
            for node_id, entry in self._nodes.items():
                d = dict(entry)
                d["mean_us"] = d["total_us"] / d["calls"] if d["calls"] else 0.0
                nodes[node_id] = d
            return {"runs": self._runs, "failed_runs": self._failed_runs, "total_run_us": self._run_us, "nodes": nodes,
                    "attempts": [dict(a) for a in self._attempts]}
