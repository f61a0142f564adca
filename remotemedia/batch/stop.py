"""Stopping a batch cleanly: signals in the coordinator, a stop flag for the workers.

The coordinator turns the first SIGINT or SIGTERM into a request
(:class:`SignalStop`): it hands out no more inputs and raises the run's
:class:`StopFlag`. Workers poll the flag at every node call (a pipeline hook),
before publishing and between attempts, and abandon their input: its staging
folder is removed and nothing is published. A second SIGINT interrupts at
once (``KeyboardInterrupt``).

The flag reaches every kind of worker: threads of the coordinating process
see an in-process event; worker processes and Dask workers see a marker file
in the output folder (``.remotemedia-stop-<run>``; they share it, since they
write their outputs there), checked at most every :data:`FILE_POLL_S`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Dict, Optional, Tuple

from remotemedia.errors import PermanentError

#: Prefix of the stop marker files in the output folder (removed at the end of the run; swept if left).
MARKER_PREFIX = ".remotemedia-stop-"
#: How often a worker outside the coordinating process looks for the marker file (s).
FILE_POLL_S = 0.05

#: run token -> (pid of the coordinator, event), for workers in the coordinating process (a forked
#: worker process inherits this dict, but not the coordinator's later set(): it reads the marker).
_LOCAL: Dict[str, Tuple[int, threading.Event]] = {}


class StopRequested(PermanentError):
    """Raised in a worker when the batch is stopping: the input is abandoned (never retried)."""

    def __init__(self) -> None:
        super().__init__("the batch is stopping")


class StopFlag:
    """The coordinator's side: raised once, seen by every worker of the run.

    Args:
        out_dir: the output folder (where the marker file goes).
        token: the run's unique token.
    """

    def __init__(self, out_dir: str, token: str) -> None:
        self.token = token
        self.marker = os.path.join(out_dir, MARKER_PREFIX + token)
        self.event = threading.Event()
        _LOCAL[token] = (os.getpid(), self.event)

    def task_fields(self) -> Dict[str, str]:
        """What a task carries so that its worker can check the flag (plain data)."""
        return {"stop_token": self.token, "stop_marker": self.marker}

    def set(self) -> None:
        """Tells every worker to abandon its input."""
        if self.event.is_set():
            return
        self.event.set()
        try:
            with open(self.marker, "wb"):
                pass
        except OSError:  # a full disk: in-process workers still see the event
            pass

    def close(self) -> None:
        """Removes the marker file (call when no worker of the run is left)."""
        _LOCAL.pop(self.token, None)
        try:
            os.unlink(self.marker)
        except FileNotFoundError:
            pass


class StopCheck:
    """The worker's side of a :class:`StopFlag`, built from a task's fields.

    Args:
        task: a task dict; without ``stop_token`` the check never fires.
    """

    def __init__(self, task: Dict[str, Any]) -> None:
        token = task.get("stop_token")
        local = _LOCAL.get(token) if token else None
        self._event = local[1] if local is not None and local[0] == os.getpid() else None
        self._marker: Optional[str] = task.get("stop_marker") if token and self._event is None else None
        self._next_poll = 0.0
        self._seen = False

    def is_set(self) -> bool:
        """Whether the batch is stopping."""
        if self._seen:
            return True
        if self._event is not None:
            self._seen = self._event.is_set()
        elif self._marker is not None:
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + FILE_POLL_S
                self._seen = os.path.exists(self._marker)
        return self._seen

    def raise_if_set(self) -> None:
        """Raises :class:`StopRequested` when the batch is stopping."""
        if self.is_set():
            raise StopRequested()



class StopHook:
    """A pipeline hook that stops a run when the batch is stopping, for a pipeline kept across inputs:
    ``check`` is set to each input's :class:`StopCheck` before it runs."""

    def __init__(self, check: StopCheck) -> None:
        self.check = check

    def before_node(self, **_: Any) -> None:
        self.check.raise_if_set()


class SignalStop:
    """Context manager: while active (main thread only), SIGINT and SIGTERM request a clean stop.

    Attributes:
        signal_name: the first signal received (``"SIGINT"``/``"SIGTERM"``), None before.
        exit_code: 128 + its number.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signal_name: Optional[str] = None
        self.exit_code = 0
        self._previous: Dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - signal handler signature
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for the clean stop
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
            self.exit_code = 128 + signum

    def __enter__(self) -> "SignalStop":
        if self.enabled:
            for name in self.SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)  # None: set outside Python
        self._previous.clear()


def ignore_sigint() -> None:
    """Initializer of worker processes: Ctrl-C reaches the whole process group; the coordinator alone
    handles it (and tells its workers to stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
