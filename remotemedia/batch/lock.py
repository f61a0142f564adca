"""One run per output folder: an exclusive OS file lock inside it.

The coordinating process of a batch takes ``OUTDIR/.remotemedia.lock`` with
``flock(LOCK_EX)`` before it touches anything in the folder (the sweep of
leftovers, the ledger) and holds it for the life of the run; workers (threads,
processes, Dask workers) never take it and only write into their own staging
folders. The OS releases the lock when the holder dies, however it dies, so a
killed run never blocks the next one. The file records who holds it (pid,
host, start time, command line) for the "in use" message; it is removed when
the run ends.

Removing a lock file is safe only if a process that waited for the old file
notices that it is gone: after taking the lock, :meth:`OutputLock.acquire`
checks that the path still names the file it locked, and starts over if not.

On network folders the lock is as good as the file system's locking: NFS
clients turn ``flock`` into NFS byte-range locks (NLM for v3, in the protocol
for v4), which hold across machines while the lock service works; a mount with
``nolock``/``local_lock`` locks only within one machine, and an NFSv4 client
that loses its lease (a long network partition) loses the lock silently. See
the README's batch section.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import shlex
import socket
import sys
import time
from typing import Any, Callable, Dict, Optional

from remotemedia.errors import OutputFolderLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock
    fcntl = None  # type: ignore[assignment]

#: The lock file's name inside the output folder (hidden: never an output key).
LOCK_NAME = ".remotemedia.lock"
#: How often a waiting run tries again (s).
POLL_S = 0.2


def lock_available() -> bool:
    """Whether this platform can lock output folders (``fcntl.flock``; not on Windows)."""
    return fcntl is not None


def read_holder(path: str) -> Optional[Dict[str, Any]]:
    """The holder record of a lock file, or None when it is missing, empty or being written."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(64 * 1024) or b"null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _command_line() -> Optional[str]:
    """This process's command line (``remotemedia run ...`` for the CLI), for the "in use" message."""
    if not sys.argv or not sys.argv[0]:
        return None
    program = sys.argv[0]
    if os.path.basename(program) in ("__main__.py", "remotemedia"):  # python -m remotemedia, the console script
        program = "remotemedia"
    return shlex.join([program, *sys.argv[1:]])


class OutputLock:
    """The exclusive lock of one output folder.

    Args:
        out_dir: the output folder (must exist).

    Use :meth:`acquire` then :meth:`release` (or the context manager, which
    fails at once when the folder is in use).

    Attributes:
        path: the lock file.
        held: whether this object holds the lock.
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: Optional[float] = 0.0, *, on_wait: Optional[Callable[[Optional[Dict[str, Any]]], None]]
                = None, should_stop: Optional[Callable[[], bool]] = None) -> None:
        """Takes the lock.

        Args:
            wait_s: how long to wait for another run to finish (s): 0 = fail
                at once, None = wait as long as it takes.
            on_wait: called once with the holder's record when this run has to wait.
            should_stop: polled while waiting; when it returns True the wait
                ends with :class:`~remotemedia.errors.OutputFolderLockedError`.

        Raises:
            OutputFolderLockedError: another run holds it (after ``wait_s``).
            OSError: the lock file cannot be created.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: already held")
        if fcntl is None:  # pragma: no cover - Windows
            return
        deadline = None if wait_s is None else time.monotonic() + max(0.0, float(wait_s))
        told = False
        while True:
            fd = self._try_lock()
            if fd is not None:
                self._fd = fd
                self._write_holder()
                return
            holder = read_holder(self.path)
            if (deadline is not None and time.monotonic() >= deadline) or (should_stop is not None and should_stop()):
                raise OutputFolderLockedError(self.out_dir, holder)
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(POLL_S)

    def _try_lock(self) -> Optional[int]:
        """The locked descriptor of the current lock file, or None when another process holds it."""
        assert fcntl is not None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return None
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # the holder removed the file as it finished: lock the new one

    def _write_holder(self) -> None:
        assert self._fd is not None
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "command": _command_line()}
        data = json.dumps(record).encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        """Removes the lock file and releases the lock (no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: a waiter re-checks the path after locking
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
