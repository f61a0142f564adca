"""Stopping a batch: SIGTERM and SIGINT sent to a real ``remotemedia run`` mid-batch, then ``--resume``.

Nothing lost (every input ends with one ok line after the resume), nothing twice (no input of the
first run is redone), nothing half-done left (no staging folder, lock file or stop marker), and no
output published without its ledger line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import cli, hidden_paths, ledger_entries, make_small_wavs, read_wav, slow_manifest

from remotemedia.batch import run_batch
from remotemedia.batch.stop import SignalStop, StopCheck, StopFlag, StopHook, StopRequested


def published_keys(out: Path) -> set:
    return {str(p.parent.relative_to(out)) for p in out.rglob("audio.wav")}


@pytest.mark.parametrize("executor, signum, code, said", [
    ("threads", signal.SIGTERM, 143, "stopped by SIGTERM"),
    ("processes", signal.SIGTERM, 143, "stopped by SIGTERM"),
    ("threads", signal.SIGINT, 130, "interrupted"),
])
def test_a_signal_mid_batch_stops_cleanly_and_resume_finishes(tmp_path, subprocess_env, executor, signum, code,
                                                              said):
    n = 40
    inputs = make_small_wavs(tmp_path / "in", n)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(slow_manifest(0.3)))
    out = tmp_path / "out"
    args = ["run", str(manifest), str(tmp_path / "in"), "-o", str(out), "--workers", "2", "--executor", executor,
            "--plugin", "batch_test_nodes", "--quiet"]
    proc = subprocess.Popen(cli(*args), env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(ledger_entries(out)) < 4:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert said in err
    assert err.strip().splitlines()[-1] == "remotemedia: to finish the rest: remotemedia " + " ".join(
        args) + " --resume"

    first = ledger_entries(out)
    end = ledger_entries(out, "end")
    assert len(end) == 1 and end[0]["status"] == "interrupted" and end[0]["stopped_by"] == signal.Signals(signum).name
    assert end[0]["ok"] == len(first) and end[0]["not_run"] == n - len(first) > 0  # stopped early
    assert all(e["status"] == "ok" for e in first)
    # In-flight inputs were abandoned: nothing published without its ledger line, nothing half-done left.
    assert published_keys(out) == {e["key"] for e in first}
    assert hidden_paths(out) == []
    done_first = {e["input"] for e in first}

    r = subprocess.run(cli(*args, "--resume"), env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = ledger_entries(out)
    second = lines[len(first):]
    assert {e["input"] for e in second}.isdisjoint(done_first)  # nothing twice
    assert len(lines) == n and {e["input"] for e in lines} == {str(p) for p in inputs}  # nothing lost
    assert all(e["status"] == "ok" for e in lines)
    for entry in lines:
        got, _ = read_wav(out / entry["key"] / "audio.wav")
        want, _ = read_wav(Path(entry["input"]))
        assert np.array_equal(got, want)
    assert hidden_paths(out) == []


def test_the_stop_flag_reaches_threads_and_other_processes(tmp_path):
    flag = StopFlag(str(tmp_path), "tok")
    task = flag.task_fields()
    here = StopCheck(task)  # a thread of the coordinating process: the event
    elsewhere = StopCheck({**task, "stop_token": "not-this-process"})  # a token unknown here: the marker file
    assert not here.is_set() and not elsewhere.is_set()
    flag.set()
    assert here.is_set()
    time.sleep(0.06)
    assert elsewhere.is_set() and (tmp_path / (".remotemedia-stop-tok")).exists()
    with pytest.raises(StopRequested):
        StopHook(here).before_node(run_id=1, node_id="x")
    flag.close()
    assert not (tmp_path / ".remotemedia-stop-tok").exists()
    assert not StopCheck({}).is_set()  # a task without a flag (run_task called directly)


def test_an_input_in_flight_is_abandoned_when_the_flag_is_raised(tmp_path):
    from remotemedia.batch.worker import run_task

    make_small_wavs(tmp_path / "in", 1)
    src = next((tmp_path / "in").rglob("*.wav"))
    out = tmp_path / "out"
    flag = StopFlag(str(out.parent), "inflight")
    manifest = slow_manifest(0.6)
    task = {"manifest": manifest, "input": str(src), "out_root": str(out), "key": "k", "max_attempts": 3,
            "retry_delay_s": 0, "plugins": ["batch_test_nodes"], **flag.task_fields()}
    threading.Timer(0.3, flag.set).start()  # while SlowNode works: the next node call stops the run
    result = run_task(task)
    flag.close()
    assert result["status"] == "aborted" and result["attempts"] == 1  # not retried
    assert not (out / "k").exists() and hidden_paths(out) == []  # nothing published, staging removed
    flag = StopFlag(str(out.parent), "later")
    assert run_task({**task, **flag.task_fields()})["status"] == "ok"  # the same input, not stopped
    flag.close()


def test_sigterm_in_the_python_api_raises_batch_interrupted_after_the_clean_stop(tmp_path):
    from remotemedia.errors import BatchInterrupted

    make_small_wavs(tmp_path / "in", 12)
    out = tmp_path / "out"
    timer = threading.Timer(1.0, lambda: signal.raise_signal(signal.SIGTERM))
    timer.start()
    with pytest.raises(BatchInterrupted) as info:
        run_batch(slow_manifest(0.3), [str(tmp_path / "in")], str(out), workers=2, plugins=["batch_test_nodes"])
    timer.join()
    assert info.value.exit_code == 143 and info.value.signal_name == "SIGTERM"
    assert info.value.done + info.value.not_run == 12 and info.value.not_run > 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is the process's again
    assert ledger_entries(out, "end")[0]["status"] == "interrupted" and hidden_paths(out) == []


def test_signals_are_left_alone_off_the_main_thread_or_when_told():
    assert not SignalStop(enabled=False).enabled
    seen = []
    thread = threading.Thread(target=lambda: seen.append(SignalStop().enabled))
    thread.start()
    thread.join()
    assert seen == [False]


def test_a_forked_worker_reads_the_marker_not_its_copy_of_the_event(tmp_path):
    import multiprocessing

    flag = StopFlag(str(tmp_path), "forked")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        flag.set()  # after the fork: the child's copy of the event stays clear
        assert pool.apply(_stop_seen_in_child, (flag.task_fields(),)) is True
    flag.close()


def _stop_seen_in_child(task) -> bool:
    return StopCheck(task).is_set()
