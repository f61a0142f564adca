"""The raw record of one node call, as the hooks store it, and payload sizes.

The hooks run on every node call, so they store only raw numbers in a plain
list (the cheapest record to build in Python); :mod:`remotemedia.metrics.export`
turns the lists into the JSON layout after the run. The constants below name
the list's slots.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from remotemedia.audio import AudioBuffer

#: ``(samples, bytes)`` of a payload; ``None`` where unknown.
Size = Tuple[Optional[int], Optional[int]]
NO_SIZE: Size = (None, None)

# Slots of a call record. Times are perf_counter_ns / thread_time_ns readings; the
# memory slots hold counter levels (bytes) at the start (BASE) and the highest seen (PEAK).
(SEQ, NODE_ID, NODE_TYPE, ATTEMPT, START, END, CPU0, CPU, THREAD, IN, OUT, STATUS, ERROR, DELAY,
 PY_BASE, PY_PEAK, NAT_BASE, NAT_PEAK, EXTRA) = range(19)


#: Types that :func:`payload_size` measures (exactly these; subclasses of ndarray go through isinstance).
SIZED = frozenset((np.ndarray, AudioBuffer, tuple, list, dict, bytes, bytearray))
#: Types with no size: skips the isinstance check in the hooks (a subclass of one of these is checked as usual;
#: ``object`` is the type of the hooks' "not passed" sentinel).
UNSIZED = frozenset((int, float, bool, str, type(None), object))


def size_of(value: Any) -> Size:
    """:func:`payload_size`, after a cheap type test (what the hooks call on every input and output)."""
    t = type(value)
    if t in UNSIZED:
        return NO_SIZE
    if t in SIZED or isinstance(value, np.ndarray):
        return payload_size(value)
    return NO_SIZE


def payload_size(value: Any) -> Size:
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
    return NO_SIZE


def _sum_sizes(values: Iterable[Any]) -> Size:
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
    return (samples, nbytes) if known else NO_SIZE


#: Scalar types an extra hook keyword may hold to be recorded (see :func:`json_ready`).
_SCALARS = (str, int, float, bool, type(None))


def json_ready(value: Any) -> bool:
    """Whether an extra hook keyword is recorded: a JSON scalar (finite numbers), or a flat list or
    str-keyed dict of them (``stage_us={"resample": 3.1}``)."""
    t = type(value)
    if t in _SCALARS:
        return t is not float or value - value == 0.0  # finite (inf - inf and nan - nan are nan)
    if t is list or t is tuple:
        return all(type(v) in _SCALARS and json_ready(v) for v in value)
    if t is dict:
        return all(type(k) is str and type(v) in _SCALARS and json_ready(v) for k, v in value.items())
    return False


class RunState:
    """What the hooks record of one run: raw call records plus the run's context."""

    __slots__ = ("run_id", "pipeline", "t0_ns", "wall0_ns", "cpu0_ns", "end_ns", "cpu_ns", "error", "calls", "open",
                 "graph", "impls", "seq", "memory", "cpu_time", "attempts", "fused")

    def __init__(self, run_id: Any, pipeline: str, graph: Any, impls: Dict[str, str], memory: str,
                 cpu_time: bool) -> None:
        self.run_id = run_id
        self.cpu_time = cpu_time
        self.pipeline = pipeline
        self.graph = graph
        self.impls = impls
        self.fused: List[List[str]] = []  # the node ids of each fused native segment of the run
        self.memory = memory
        self.calls: List[list] = []
        self.open: Dict[str, list] = {}
        self.attempts: List[Dict[str, Any]] = []
        self.seq = itertools.count(1)
        self.error: Optional[str] = None
        self.end_ns = 0
        self.cpu_ns = 0
        self.wall0_ns = time.time_ns()
        self.cpu0_ns = time.process_time_ns()
        self.t0_ns = time.perf_counter_ns()
