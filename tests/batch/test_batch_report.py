"""Progress displays and the summary table."""

from __future__ import annotations

import io

import pytest

from remotemedia.batch.report import BatchReport, LineProgress, Progress, TqdmProgress, make_progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_off_when_the_stream_is_not_a_terminal():
    assert type(make_progress(None, io.StringIO())) is Progress
    assert type(make_progress(False, _Tty())) is Progress


def test_tqdm_bar_counts_files_and_failures():
    pytest.importorskip("tqdm")
    stream = _Tty()
    bar = make_progress(None, stream)
    assert isinstance(bar, TqdmProgress)
    bar.start(4, 1)
    bar.advance({"status": "ok"})
    bar.advance({"status": "failed"})
    bar.close()
    text = stream.getvalue()
    assert "3/4" in text and "failed=1" in text


def test_line_progress_without_tqdm():
    stream = _Tty()
    p = LineProgress(stream, interval_s=0)
    p.start(3, 0)
    for status in ("ok", "failed", "ok"):
        p.advance({"status": status})
    p.close()
    assert "3/3 files" in stream.getvalue() and "1 failed" in stream.getvalue()


def test_summary_table():
    r = BatchReport(out_dir="/o", ledger_path="/o/l.jsonl", total=5, ok=3, failed=1, skipped=1, audio_s=7200.0,
                    wall_s=36.0, workers=2, executor="threads", node_time_us={"a": 3e6, "b": 1e6},
                    node_types={"a": "VADNode", "b": "AudioResampleNode"},
                    failures=[{"input": "x.wav", "node_id": "a", "attempts": 3, "error": "boom"}])
    text = r.summary()
    assert "audio 2.000 h" in text and "real-time factor 0.0050 (200x real time)" in text
    assert "75.0%" in text and "25.0%" in text
    assert "FAILED x.wav: node 'a' after 3 attempt(s): boom" in text
    assert r.exit_code == 1 and r.real_time_factor == pytest.approx(0.005)
    assert BatchReport(out_dir="/o", ledger_path="/l", total=2, ok=1, skipped=1).exit_code == 0
