"""Publishing an input's outputs: a staging folder renamed into place, and the sweep of leftovers.

Outputs are written into a hidden staging folder beside the final one
(``.NAME.partial-XXXX``), fsynced, and the staging folder is renamed to the
final name (an earlier output folder is moved aside first, as
``.NAME.old-XXXX``, and removed after). A reader therefore sees either no
output folder or a complete one, never a truncated file, even after a kill.
Leftovers of killed runs are removed by :func:`sweep_leftovers`, which the
coordinator runs only while it holds the output folder's lock (no other run
can be writing there).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Any, List, Optional

from remotemedia.batch.ledger import LEDGER_NAME
from remotemedia.batch.stop import MARKER_PREFIX
from remotemedia.errors import ConfigurationError
from remotemedia.io.atomic import fsync_dir, make_plain_temp_dir

#: Hidden names of staging and replaced folders (see the module doc).
_LEFTOVER = re.compile(r"^\..+\.(partial|old)-[A-Za-z0-9_]+$")


def safe_join(root: str, key: str) -> str:
    """``root/key``, refusing any key that would land outside ``root`` (after symlinks)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or os.path.isabs(key):
        raise ConfigurationError(f"output key {key!r} is not a safe relative path", parameter="key", given=key)
    path = os.path.join(root, *parts)
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(os.path.dirname(path))
    if not (real_parent == real_root or real_parent.startswith(real_root.rstrip(os.sep) + os.sep)):
        raise ConfigurationError(f"output key {key!r} escapes {root!r}", parameter="key", given=key)
    return path


class staged_folder:
    """Context manager: a staging folder beside ``root/key``, published by rename on success.

    On an exception the staging folder is removed and any earlier output is
    left as it was.
    """

    def __init__(self, root: str, key: str) -> None:
        self.final = safe_join(root, key)
        self.parent = os.path.dirname(self.final)
        self.name = os.path.basename(self.final)
        self.staging: Optional[str] = None

    def __enter__(self) -> str:
        os.makedirs(self.parent, exist_ok=True)
        # Published as is: the user's usual permissions (mkdtemp would make it 0o700).
        self.staging = make_plain_temp_dir(self.parent, f".{self.name}.partial-")
        return self.staging

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.staging is not None
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        try:
            fsync_dir(self.staging)
            old = None
            if os.path.lexists(self.final):
                old = tempfile.mkdtemp(prefix=f".{self.name}.old-", dir=self.parent)
                os.rename(self.final, os.path.join(old, "x"))
            os.rename(self.staging, self.final)
            fsync_dir(self.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise


def sweep_leftovers(root: str) -> int:
    """Removes staging and replaced folders left under ``root`` by killed runs, and their stop
    markers; returns how many. Folders holding a ledger of their own (another batch's output
    folder, with its own lock) are not entered.

    Call it only while holding ``root``'s lock (:class:`~remotemedia.batch.lock.OutputLock`):
    a live run's staging folders look exactly like a dead run's.
    """
    removed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            for name in filenames:
                if name.startswith(MARKER_PREFIX):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
        keep = []
        for d in dirnames:
            path = os.path.join(dirpath, d)
            if _LEFTOVER.match(d):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            elif not os.path.exists(os.path.join(path, LEDGER_NAME)):
                keep.append(d)
        dirnames[:] = keep
    return removed


def outputs_exist(root: str, outputs: List[str]) -> bool:
    """Whether every output path (relative to ``root``) is present."""
    return all(os.path.exists(os.path.join(root, *o.split("/"))) for o in outputs)
