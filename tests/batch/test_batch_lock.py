"""One run per output folder: the OS lock, and real ``remotemedia run`` processes racing for one folder."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from batch_helpers import cli, hidden_paths, ledger_entries, make_small_wavs, read_wav, slow_manifest

from remotemedia.batch import run_batch
from remotemedia.batch.lock import LOCK_NAME, OutputLock, lock_available, read_holder
from remotemedia.errors import OutputFolderLockedError

pytestmark = pytest.mark.skipif(not lock_available(), reason="no flock on this platform")


def test_a_held_folder_is_refused_naming_the_holder_and_freed_on_release(tmp_path):
    a, b = OutputLock(str(tmp_path)), OutputLock(str(tmp_path))
    a.acquire()
    holder = read_holder(str(tmp_path / LOCK_NAME))
    assert holder is not None and holder["pid"] == os.getpid() and holder["host"] and holder["started"]
    with pytest.raises(OutputFolderLockedError) as info:
        b.acquire()
    assert info.value.holder == holder and f"pid {os.getpid()} on host {holder['host']}" in str(info.value)
    assert "--wait" in str(info.value) and not b.held
    a.release()
    assert not (tmp_path / LOCK_NAME).exists()  # removed at the end of the run
    b.acquire()
    assert b.held
    b.release()


def test_a_waiting_run_gets_the_lock_when_the_holder_releases_it(tmp_path):
    a, b = OutputLock(str(tmp_path)), OutputLock(str(tmp_path))
    a.acquire()
    with pytest.raises(OutputFolderLockedError):
        b.acquire(0.3)  # a bounded wait ends with the same error
    told, got = [], threading.Event()

    def wait():
        b.acquire(None, on_wait=told.append)
        got.set()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.6)
    assert not got.is_set() and len(told) == 1 and told[0]["pid"] == os.getpid()
    a.release()
    thread.join(10)
    assert got.is_set() and b.held
    b.release()


def test_a_wait_ends_when_told_to_stop(tmp_path):
    a, b = OutputLock(str(tmp_path)), OutputLock(str(tmp_path))
    a.acquire()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(OutputFolderLockedError):
        b.acquire(None, should_stop=stop.is_set)
    a.release()


def test_a_lock_taken_on_a_file_its_holder_removed_is_not_kept(tmp_path, monkeypatch):
    """A run that opened the lock file just before its holder removed it, then locked that removed file,
    must not believe it holds the folder while a third run holds the new file."""
    path = str(tmp_path / LOCK_NAME)
    a, c = OutputLock(str(tmp_path)), OutputLock(str(tmp_path))
    a.acquire()
    stale_fd = os.open(path, os.O_RDWR)  # b opens the file ...
    a.release()  # ... the holder finishes (removes it, unlocks) ...
    c.acquire()  # ... and a third run creates and locks a new one
    real_open = os.open
    calls = []

    def open_once_stale(p, flags, mode=0o777):
        calls.append(p)
        return stale_fd if len(calls) == 1 else real_open(p, flags, mode)

    monkeypatch.setattr(os, "open", open_once_stale)
    b = OutputLock(str(tmp_path))
    with pytest.raises(OutputFolderLockedError):
        b.acquire()  # flock on the removed file succeeds; the path check sees another file and retries
    monkeypatch.undo()
    assert len(calls) == 2 and not b.held
    c.release()


def test_run_batch_refuses_a_held_folder_before_touching_it(tmp_path):
    make_small_wavs(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".k.partial-abc").mkdir()  # a leftover: swept only by the run that holds the lock
    holder = OutputLock(str(out))
    holder.acquire()
    try:
        with pytest.raises(OutputFolderLockedError):
            run_batch(slow_manifest(0.0), [str(tmp_path / "in")], str(out), plugins=["batch_test_nodes"])
        assert sorted(os.listdir(out)) == [".k.partial-abc", LOCK_NAME]  # no ledger, nothing swept
    finally:
        holder.release()
    report = run_batch(slow_manifest(0.0), [str(tmp_path / "in")], str(out), plugins=["batch_test_nodes"])
    assert report.ok == 3 and hidden_paths(out) == []


def wait_for_inputs(out: Path, n: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while len(ledger_entries(out)) < n:
        assert proc.poll() is None, f"run ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def test_two_runs_on_one_folder_the_second_refuses_at_once_or_waits_and_skips(tmp_path, subprocess_env):
    n = 60
    inputs = make_small_wavs(tmp_path / "in", n)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(slow_manifest(0.25)))
    out = tmp_path / "out"
    args = ["run", str(manifest), str(tmp_path / "in"), "-o", str(out), "--workers", "2",
            "--plugin", "batch_test_nodes", "--quiet"]
    first = subprocess.Popen(cli(*args), env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    waiting = None
    try:
        wait_for_inputs(out, 2, first)
        waiting = subprocess.Popen(cli(*args, "--wait", "--resume"), env=subprocess_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        second = subprocess.run(cli(*args), env=subprocess_env, capture_output=True, text=True, timeout=120)
        assert first.poll() is None  # the second run ended while the first was still working
        assert second.returncode == 2
        assert "is in use by another remotemedia run" in second.stderr
        assert f"pid {first.pid} on host" in second.stderr and "remotemedia run" in second.stderr
        assert len(ledger_entries(out, "run")) == 1  # the second run wrote nothing
        assert first.wait(timeout=300) == 0, first.communicate()
        w_out, w_err = waiting.communicate(timeout=300)
    finally:
        for proc in (first, waiting):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert waiting.returncode == 0, w_err
    assert "is in use by another run" in w_err and "waiting for it" in w_err
    runs, ends = ledger_entries(out, "run"), ledger_entries(out, "end")
    assert [r["to_do"] for r in runs] == [n, 0]  # the waiting run came after, and found everything done
    assert [e["status"] for e in ends] == ["completed", "completed"] and ends[1]["skipped"] == n
    lines = ledger_entries(out)
    assert len(lines) == n and all(e["status"] == "ok" for e in lines)
    assert {e["input"] for e in lines} == {str(p) for p in inputs}
    for entry in lines:
        samples, _ = read_wav(out / entry["key"] / "audio.wav")
        assert samples.shape == (1, 400)
    assert hidden_paths(out) == []  # no lock file, staging or stop marker left


def test_concurrent_runs_never_record_an_input_twice(tmp_path, subprocess_env):
    """Three runs started at once on one folder, each told to wait and resume: they take turns, and
    the ledger has exactly one ok line per input, each run's lines between its own header and end."""
    n = 30
    make_small_wavs(tmp_path / "in", n)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(slow_manifest(0.02)))
    out = tmp_path / "out"
    args = ["run", str(manifest), str(tmp_path / "in"), "-o", str(out), "--workers", "2",
            "--plugin", "batch_test_nodes", "--quiet", "--wait", "--resume"]
    procs = [subprocess.Popen(cli(*args), env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    from remotemedia.batch import LEDGER_NAME, read_ledger

    entries = read_ledger(str(out / LEDGER_NAME))
    ok = [e for e in entries if e.get("event") == "input" and e["status"] == "ok"]
    assert len(ok) == n and len({e["input"] for e in ok}) == n
    order = [e["event"] for e in entries]
    assert order.count("run") == 3 and order.count("end") == 3
    # Never interleaved: run, its inputs, end; run, end; run, end.
    blocks = "".join({"run": "(", "end": ")", "input": "."}[e] for e in order)
    assert blocks == "(" + "." * n + ")()()"
