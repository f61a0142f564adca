"""Deterministic, atomic output files of the exporters."""

from __future__ import annotations

import gzip
import io
import json
import os
from typing import Any, Dict, Iterable

from remotemedia.io.atomic import write_atomic


def json_line(row: Dict[str, Any]) -> str:
    """One JSON line: keys in the order given, ASCII escapes (any file name survives), no spaces to vary."""
    return json.dumps(row, ensure_ascii=True, allow_nan=False) + "\n"


def write_jsonl(path: str, rows: Iterable[Dict[str, Any]]) -> str:
    """Writes JSON lines atomically; returns the path."""
    return write_atomic(path, "".join(json_line(r) for r in rows))


def write_jsonl_gz(path: str, rows: Iterable[Dict[str, Any]]) -> str:
    """Writes gzip-compressed JSON lines atomically, byte-identical for the same rows.

    The gzip header holds no time stamp (``mtime=0``) and no file name.
    """
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=6, mtime=0) as gz:
        for row in rows:
            gz.write(json_line(row).encode("ascii"))
    return write_atomic(path, buf.getvalue())


def link_or_copy(src: str, dst: str) -> None:
    """A hard link of ``src`` at ``dst`` (no bytes copied), or a copy where links are impossible."""
    import shutil

    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy, fsynced before the folder is published
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
