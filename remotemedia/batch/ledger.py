"""The batch ledger: one JSON line per finished input, in OUTDIR.

Only the coordinating process writes it. Each outcome is appended, flushed
and fsynced as soon as its input finishes, so a killed run loses at most the
inputs that were in flight. Reading tolerates a last line cut by a kill (it is
skipped, and the next run starts on a fresh line).

Entry keys: ``event`` (``"run"`` for the header of each run, ``"input"`` for
an outcome, ``"end"`` for the end of a run), ``time`` (UTC ISO 8601). Run
headers: ``run`` (the run's token), ``manifest_hash``, ``inputs``, ``to_do``,
``resume``, ``replaced_stale``, ``executor``, ``workers``, ``impl``.
Outcomes: ``input`` (path or URL), ``key``, ``status`` (``"ok"``/``"failed"``),
``size``, ``mtime_ns``, ``manifest_hash``, ``attempts``; ok: ``outputs`` (paths
relative to OUTDIR), ``audio_s``, ``elapsed_s``; failed: ``node_id``,
``node_type``, ``stage``, ``error``, ``error_type``, ``errno``, ``traceback``.
End records: ``run``, ``status`` (``"completed"``, ``"stopped"`` early by
fail-fast or a full disk, ``"interrupted"`` by a signal, ``"failed"`` by an
error of the run itself), ``stopped_by``, ``ok``, ``failed``, ``skipped``,
``not_run``; a killed run has none.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from typing import Any, Dict, Iterator, List, Optional

LEDGER_NAME = "remotemedia-ledger.jsonl"


def manifest_hash(manifest: Dict[str, Any]) -> str:
    """``sha256:<hex>`` of the manifest's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def read_ledger(path: str) -> List[Dict[str, Any]]:
    """Every well-formed entry of a ledger file (none when it does not exist)."""
    return list(_entries(path))


def _entries(path: str) -> Iterator[Dict[str, Any]]:
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                continue  # cut by a kill
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def last_outcomes(entries: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """input -> its most recent outcome entry."""
    out: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        if entry.get("event") == "input" and isinstance(entry.get("input"), str):
            out[entry["input"]] = entry
    return out


class Ledger:
    """Appends entries to a ledger file, durably (flush + fsync per entry).

    Args:
        path: the ledger file; created when missing.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: Optional[Any] = open(path, "ab")
        if self._fh.tell() > 0:
            with open(path, "rb") as rd:
                rd.seek(-1, os.SEEK_END)
                if rd.read(1) != b"\n":  # a line cut by a kill: start a fresh one
                    self._fh.write(b"\n")

    def append(self, entry: Dict[str, Any]) -> None:
        """Writes one entry as a JSON line; returns once it is on disk."""
        if self._fh is None:
            raise ValueError("ledger is closed")
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        try:
            self._fh.write(line.encode("utf-8"))
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:  # a full disk, say: the line may be cut (a reader skips it)
            raise OSError(exc.errno, f"cannot append to the ledger {self.path}: {exc.strerror or exc}; once "
                                     "fixed, run again with --resume") from exc

    def close(self) -> None:
        """Closes the file. Every appended line was flushed already; what a failed append left in the
        buffer (a cut line) is dropped if it still cannot be written."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.close()
            except OSError:
                pass

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
