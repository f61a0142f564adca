"""Test-only node types for batch tests, loaded with ``--plugin batch_test_nodes``
(this folder on PYTHONPATH) or imported by the tests themselves.

``FlakyNode`` injects transient faults: it fails the FIRST attempt on each
selected input with ``OSError(EIO)``, like a read that hits a flaky disk or
network mount, and passes every later attempt. Which inputs were already seen
is kept as marker files (one per input, created with O_EXCL), so the state
holds across threads, worker processes and restarts of the whole run.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from typing import Any, Optional

from remotemedia.audio import coerce_audio
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node


def content_id(samples: Any) -> str:
    return hashlib.sha1(samples.tobytes()).hexdigest()


@register_node
class FlakyNode(Node):
    """Fails the first attempt on every ``every``-th input (by content hash) with EIO."""

    def __init__(self, marker_dir: str, every: int = 5, delay_s: float = 0.0, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.marker_dir = marker_dir
        self.every = every
        self.delay_s = delay_s

    def process(self, data: Any) -> Any:
        samples, _ = coerce_audio(data, node_id=self.name)
        if self.delay_s:
            time.sleep(self.delay_s)
        digest = content_id(samples)
        if int(digest[:8], 16) % self.every == 0:
            try:
                fd = os.open(os.path.join(self.marker_dir, digest), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return data
            os.close(fd)
            raise OSError(errno.EIO, "injected transient I/O error")
        return data


@register_node
class RejectLoudNode(Node):
    """Fails (permanently: ValueError) on inputs whose peak exceeds ``max_peak``."""

    def __init__(self, max_peak: int = 30000, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.max_peak = max_peak

    def process(self, data: Any) -> Any:
        samples, _ = coerce_audio(data, node_id=self.name)
        peak = int(abs(samples.astype("int64")).max()) if samples.size else 0
        if peak > self.max_peak:
            raise ValueError(f"peak {peak} exceeds {self.max_peak}")
        return data


@register_node
class SlowNode(Node):
    """Passes its input on after ``delay_s`` seconds (an input that takes a while, for stop tests)."""

    def __init__(self, delay_s: float = 0.2, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.delay_s = delay_s

    def process(self, data: Any) -> Any:
        time.sleep(self.delay_s)
        return data


@register_node
class DiskFullNode(Node):
    """Simulates a disk that fills up: after ``after_calls`` calls it creates ``flag_path``, and while that
    file exists every call raises ``OSError(ENOSPC)``, as a write to a full disk does. Deleting the file
    frees the "disk" for good (the fill happens once; the count is kept in files, across processes)."""

    def __init__(self, flag_path: str, after_calls: int = 5, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.flag_path = flag_path
        self.after_calls = after_calls

    def process(self, data: Any) -> Any:
        if os.path.exists(self.flag_path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if not os.path.exists(self.flag_path + ".filled"):
            with open(self.flag_path + ".count", "ab") as fh:
                fh.write(b"x")
                calls = fh.tell()
            if calls >= self.after_calls:
                for path in (self.flag_path + ".filled", self.flag_path):
                    open(path, "wb").close()
        return data
