"""What a batch reports: progress while it runs, a summary when it ends."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, TextIO


@dataclass
class BatchReport:
    """The outcome of :func:`remotemedia.batch.run_batch`.

    Attributes:
        out_dir: the output folder.
        ledger_path: the ledger file (JSON lines).
        total: inputs found.
        ok: inputs processed now.
        failed: inputs that failed now (see ``failures``).
        skipped: inputs skipped by ``resume`` (done earlier).
        not_run: inputs not finished: never started, or abandoned in flight,
            because the batch stopped (see ``stop_reason``).
        stop_reason: why the batch stopped early: ``"fail-fast"``, a signal
            name (``"SIGTERM"``), ``"disk full"``; None when it ran to the end.
        replaced_stale: outputs made with another manifest that ``resume``
            was told to replace (``replace_stale``).
        audio_s: seconds of audio in the inputs processed now.
        wall_s: wall-clock duration of the batch (s).
        workers: worker count used to bound work in flight.
        executor: what ran the work (``threads``, ``processes``, a scheduler address, a class name).
        node_time_us: node id -> total time in that node over the inputs processed now (us).
        node_types: node id -> node type.
        failures: the failure entries (as in the ledger).
        results: every outcome entry of this run (as in the ledger) plus ``metrics`` per ok input.
    """

    out_dir: str
    ledger_path: str
    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    stop_reason: Optional[str] = None
    replaced_stale: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 0
    executor: str = ""
    node_time_us: Dict[str, float] = field(default_factory=dict)
    node_types: Dict[str, str] = field(default_factory=dict)
    failures: List[Dict[str, Any]] = field(default_factory=list)
    results: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every input is done (processed now or earlier), 1 otherwise."""
        return 0 if self.failed == 0 and self.not_run == 0 else 1

    @property
    def real_time_factor(self) -> Optional[float]:
        """Wall time over audio time (below 1: faster than real time), None without audio."""
        return self.wall_s / self.audio_s if self.audio_s > 0 else None

    def file_metrics(self) -> List[Dict[str, Any]]:
        """Per-input pipeline metrics of this run (``input`` key added), for metrics exporters."""
        return [dict(r["metrics"], input=r["input"]) for r in self.results
                if r.get("status") == "ok" and isinstance(r.get("metrics"), dict)]

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready summary (no per-input entries)."""
        return {"out_dir": self.out_dir, "ledger": self.ledger_path, "total": self.total, "ok": self.ok,
                "failed": self.failed, "skipped": self.skipped, "not_run": self.not_run,
                "stop_reason": self.stop_reason, "replaced_stale": self.replaced_stale, "audio_s": self.audio_s,
                "wall_s": self.wall_s, "real_time_factor": self.real_time_factor, "workers": self.workers,
                "executor": self.executor, "node_time_us": dict(self.node_time_us),
                "failures": [{k: v for k, v in f.items() if k != "traceback"} for f in self.failures]}

    def summary(self) -> str:
        """The final summary table, as printed by ``remotemedia run``."""
        hours = self.audio_s / 3600
        lines = [
            f"{'':<10}{'files':>8}",
            f"{'ok':<10}{self.ok:>8}   audio {hours:.3f} h ({self.audio_s:.1f} s)",
            f"{'failed':<10}{self.failed:>8}",
            f"{'skipped':<10}{self.skipped:>8}   (done in an earlier run)",
        ]
        if self.not_run:
            why = "--fail-fast" if self.stop_reason in (None, "fail-fast") else self.stop_reason
            lines.append(f"{'not run':<10}{self.not_run:>8}   (stopped by {why})")
        lines.append(f"{'total':<10}{self.total:>8}")
        rtf = self.real_time_factor
        speed = f"; real-time factor {rtf:.4f} ({1 / rtf:.0f}x real time)" if rtf else ""
        lines.append(f"wall time {self.wall_s:.2f} s with {self.workers} worker(s) ({self.executor}){speed}")
        total_us = sum(self.node_time_us.values())
        if total_us > 0:
            lines.append("time per node (sum over workers):")
            for node_id, us in sorted(self.node_time_us.items(), key=lambda kv: -kv[1]):
                kind = self.node_types.get(node_id, "")
                lines.append(f"  {node_id:<20} {kind:<22} {us / 1e6:>9.2f} s {100 * us / total_us:>6.1f}%")
        for f in self.failures[:10]:
            where = f" node {f['node_id']!r}" if f.get("node_id") else f" ({f.get('stage')})"
            lines.append(f"FAILED {f['input']}:{where} after {f['attempts']} attempt(s): {f['error']}")
        if len(self.failures) > 10:
            lines.append(f"... and {len(self.failures) - 10} more failures (see the ledger)")
        lines.append(f"ledger: {self.ledger_path}")
        return "\n".join(lines)


class Progress:
    """Receives batch events; the base class ignores them (no progress display).

    Subclass it, or pass any object with these methods, as ``run_batch(progress=...)``.
    """

    def start(self, total: int, skipped: int) -> None:
        """The batch starts: ``total`` inputs, of which ``skipped`` are already done."""

    def advance(self, entry: Dict[str, Any]) -> None:
        """One input finished; ``entry`` is its ledger entry."""

    def close(self) -> None:
        """The batch ended."""


class TqdmProgress(Progress):
    """A tqdm bar on a stream: files done/total, rate, ETA, failures so far."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None
        self.failed = 0

    def start(self, total: int, skipped: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=skipped, file=self.stream, unit="file", dynamic_ncols=True,
                        desc="remotemedia", smoothing=0.1)
        self.bar.set_postfix(failed=0, refresh=False)

    def advance(self, entry: Dict[str, Any]) -> None:
        if entry.get("status") == "failed":
            self.failed += 1
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LineProgress(Progress):
    """A one-line status rewritten in place (when tqdm is not installed), at most every ``interval_s``."""

    def __init__(self, stream: TextIO, interval_s: float = 0.5) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self.total = self.done = self.failed = self.initial = 0
        self.t0 = self.last = 0.0

    def start(self, total: int, skipped: int) -> None:
        self.total, self.done, self.initial = total, skipped, skipped
        self.t0 = time.monotonic()
        self._show(force=True)

    def advance(self, entry: Dict[str, Any]) -> None:
        self.done += 1
        self.failed += entry.get("status") == "failed"
        self._show(force=self.done == self.total)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.interval_s:
            return
        self.last = now
        elapsed = max(now - self.t0, 1e-9)
        rate = (self.done - self.initial) / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        self.stream.write(f"\r{self.done}/{self.total} files, {rate:.1f} files/s, ETA {eta}, "
                          f"{self.failed} failed ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def make_progress(enabled: Optional[bool] = None, stream: Optional[TextIO] = None) -> Progress:
    """The progress display for a terminal.

    Args:
        enabled: False = none; None = only when ``stream`` is a terminal;
            True = always.
        stream: where to draw (default stderr).

    Returns:
        A tqdm bar when tqdm is installed (the ``cli`` extra), else a plain
        status line; a silent :class:`Progress` when disabled.
    """
    stream = stream if stream is not None else sys.stderr
    if enabled is False or (enabled is None and not (hasattr(stream, "isatty") and stream.isatty())):
        return Progress()
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return LineProgress(stream)
    return TqdmProgress(stream)
