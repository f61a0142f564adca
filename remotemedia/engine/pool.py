"""The thread pool sync node calls run in (one per process unless a pipeline has its own)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

_shared_pool: Optional[ThreadPoolExecutor] = None
_shared_lock = threading.Lock()


def default_max_workers() -> int:
    """``REMOTEMEDIA_MAX_WORKERS`` if set, else ``min(32, cpu_count + 4)`` (the stdlib default)."""
    env = os.environ.get("REMOTEMEDIA_MAX_WORKERS", "").strip()
    if env:
        return max(1, int(env))
    return min(32, (os.cpu_count() or 1) + 4)


def shared_thread_pool() -> ThreadPoolExecutor:
    """The process-wide pool that every engine uses unless given its own."""
    global _shared_pool
    with _shared_lock:
        if _shared_pool is None:
            _shared_pool = ThreadPoolExecutor(max_workers=default_max_workers(), thread_name_prefix="remotemedia")
        return _shared_pool


class Pool:
    """The threads of one engine: a pool it owns, one it was given, or the shared one.

    Args:
        max_workers: threads of a pool owned by this engine (closed by
            :meth:`close`); None = the shared pool.
        thread_pool: an existing pool to use (the caller owns it).
    """

    def __init__(self, max_workers: Optional[int] = None, thread_pool: Optional[ThreadPoolExecutor] = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers: expected an int >= 1, given {max_workers!r}")
        self.max_workers = max_workers
        self._given = thread_pool
        self._own: Optional[ThreadPoolExecutor] = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._given is not None:
            return self._given
        if self.max_workers is None:
            return shared_thread_pool()
        if self._own is None:
            self._own = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="remotemedia")
        return self._own

    def close(self) -> None:
        """Shuts down the pool this engine owns (a shared or given pool is left alone)."""
        if self._own is not None:
            self._own.shutdown(wait=True)
            self._own = None

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(*args)`` in the pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def call_to_end(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(*args)`` in the pool; if cancelled meanwhile, waits for the call to return first."""
        cf = self.executor.submit(fn, *args)
        try:
            return await asyncio.wrap_future(cf)
        except asyncio.CancelledError:
            await asyncio.get_running_loop().run_in_executor(None, concurrent.futures.wait, [cf])
            raise
