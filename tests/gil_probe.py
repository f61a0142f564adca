"""Proves, without timing, that a call releases the GIL."""

from __future__ import annotations

import sys
import threading
from typing import Callable


def ticks_during(call: Callable[[], object]) -> int:
    """Runs ``call`` in a thread; counts how often this thread ran meanwhile.

    With a 100 s switch interval the interpreter never preempts a thread, so
    this thread can only run while the worker blocks or releases the GIL
    itself: a result of 0 means the call kept the GIL throughout. Warm the
    call up first (a first call may import, and file I/O releases the GIL).
    """
    started, done = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        call()
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        started.wait()
        ticks = 0
        while not done.is_set() and ticks < 100_000:
            ticks += 1
        done.wait()  # blocks: hands the GIL back so the worker can finish
        t.join()
    finally:
        sys.setswitchinterval(old)
    return ticks
