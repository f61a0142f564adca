"""``remotemedia run`` end to end, as a real subprocess on real files.

The main test: 1,000 small WAV files, transient I/O faults injected on a fifth
of them (their first attempt fails with EIO), the run SIGKILLed midway, then
``--resume``: every input ends with exactly one ok line, no finished input is
redone, and no output is truncated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import make_small_wavs, passthrough_manifest, read_wav, write_wav

from remotemedia.batch import LEDGER_NAME, read_ledger

N_FILES = 1000


def run_cli(args, env, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "remotemedia", *args], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


def input_lines(out: Path) -> list:
    return [e for e in read_ledger(str(out / LEDGER_NAME)) if e.get("event") == "input"]


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"event": "input"')
    except FileNotFoundError:
        return 0


def test_thousand_files_with_transient_faults_killed_then_resumed(tmp_path, subprocess_env):
    inputs = make_small_wavs(tmp_path / "in", N_FILES)
    markers = tmp_path / "markers"
    markers.mkdir()
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest({
        "id": "flaky", "node_type": "FlakyNode",
        "params": {"marker_dir": str(markers), "every": 5, "delay_s": 0.002}})))
    out = tmp_path / "out"
    args = ["run", str(manifest), str(tmp_path / "in"), "-o", str(out), "--workers", "2",
            "--plugin", "batch_test_nodes", "--quiet"]

    # Run 1: SIGKILL once a good part of the inputs is done.
    proc = subprocess.Popen([sys.executable, "-m", "remotemedia", *args], env=subprocess_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while count_lines(out / LEDGER_NAME) < N_FILES // 4:
        assert proc.poll() is None, f"run ended before the kill: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    first = input_lines(out)
    done_first = {e["input"] for e in first}
    assert N_FILES // 4 <= len(done_first) < N_FILES  # killed midway
    assert all(e["status"] == "ok" for e in first)
    finished_mtimes = {e["key"]: (out / e["key"] / "audio.wav").stat().st_mtime_ns for e in first}

    # Nothing visible is truncated, even right after the kill.
    for folder in out.rglob("clip_*"):
        if folder.is_dir() and not folder.name.startswith("."):
            samples, rate = read_wav(folder / "audio.wav")
            assert rate == 8000 and samples.shape == (1, 400)

    # Run 2: --resume finishes the rest.
    r = run_cli([*args, "--resume"], subprocess_env)
    assert r.returncode == 0, r.stderr
    lines = input_lines(out)
    second = lines[len(first):]
    assert {e["input"] for e in second}.isdisjoint(done_first)  # nothing finished is redone
    ok = [e for e in lines if e["status"] == "ok"]
    assert len(ok) == len(lines) == N_FILES and len({e["input"] for e in ok}) == N_FILES  # ledger complete
    for key, mtime in finished_mtimes.items():
        assert (out / key / "audio.wav").stat().st_mtime_ns == mtime

    # The faults were real and were retried: one marker per flaky input, each retried once (or, for a
    # flaky input that was in flight at the kill, done at its first attempt in run 2).
    injected = len(os.listdir(markers))
    assert N_FILES // 10 < injected < N_FILES // 3
    assert sum(e["attempts"] == 2 for e in ok) >= injected - 4
    assert all(e["attempts"] in (1, 2) for e in ok)

    # Every output is complete and equals its input; no staging folder is left.
    by_input = {e["input"]: e for e in ok}
    for path in inputs:
        entry = by_input[str(path)]
        assert entry["outputs"] == [f"{entry['key']}/audio.wav"]
        got, _ = read_wav(out / entry["key"] / "audio.wav")
        want, _ = read_wav(path)
        assert np.array_equal(got, want)
    assert not [p for p in out.rglob(".*")]


def test_exit_status_and_failure_lines(tmp_path, subprocess_env):
    make_small_wavs(tmp_path / "in", 3)
    write_wav(tmp_path / "in" / "loud.wav", np.full(50, -32768, np.int16), 8000)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest(
        {"id": "gate", "node_type": "RejectLoudNode", "params": {"max_peak": 30000}})))
    r = run_cli(["run", str(manifest), str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                 "--plugin", "batch_test_nodes"], subprocess_env)
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "loud.wav: node 'gate' after 1 attempt(s)" in r.stdout
    assert "ok               3" in r.stdout.replace("ok  ", "ok  ")
    failed = [e for e in input_lines(tmp_path / "out") if e["status"] == "failed"]
    assert [(e["node_id"], e["attempts"]) for e in failed] == [("gate", 1)]
    assert "peak 32768 exceeds 30000" in failed[0]["error"]
    # Once the input is fixed, --resume redoes only it.
    write_wav(tmp_path / "in" / "loud.wav", np.full(50, 100, np.int16), 8000)
    r = run_cli(["run", str(manifest), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--resume",
                 "--plugin", "batch_test_nodes", "--quiet"], subprocess_env)
    assert r.returncode == 0, r.stderr
    assert input_lines(tmp_path / "out")[-1]["input"].endswith("loud.wav")
    assert len(input_lines(tmp_path / "out")) == 5


def test_errors_are_one_line_and_verbose_adds_the_traceback(tmp_path, subprocess_env):
    make_small_wavs(tmp_path / "in", 1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "v1", "metadata": {"name": "x"},
                               "nodes": [{"id": "a", "node_type": "FormatConverterNode",
                                          "params": {"target_format": "f99"}}]}))
    r = run_cli(["run", str(bad), str(tmp_path / "in"), "-o", str(tmp_path / "out")], subprocess_env)
    assert r.returncode == 2 and r.stderr.startswith("remotemedia: error: ")
    assert "target_format" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(["run", str(tmp_path / "m.json"), str(tmp_path / "nothing"), "-o", str(tmp_path / "out")],
                subprocess_env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "m.json" in r.stderr
    r = run_cli(["run", str(bad), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--verbose"], subprocess_env)
    assert r.returncode == 2 and "Traceback (most recent call last)" in r.stderr
    r = run_cli(["run", str(bad), str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--executor", "tcp://"],
                subprocess_env)
    assert r.returncode == 2


def test_metrics_options_write_or_say_they_are_not_available(tmp_path, subprocess_env):
    make_small_wavs(tmp_path / "in", 2)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest()))
    files = {opt: tmp_path / f"x.{opt}" for opt in ("metrics", "trace", "report")}
    r = run_cli(["run", str(manifest), str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                 *[a for opt, f in files.items() for a in (f"--{opt}", str(f))]], subprocess_env)
    assert r.returncode == 0, r.stderr
    try:
        import remotemedia.metrics as metrics  # noqa: F401
    except ImportError:
        for opt, f in files.items():
            assert f"--{opt} is not available in this build" in r.stderr and not f.exists()
    else:
        for f in files.values():
            assert f.exists() and f.stat().st_size > 0


@pytest.mark.parametrize("impl", ["python"])
def test_impl_option_and_progress_off_without_a_terminal(tmp_path, subprocess_env, impl):
    make_small_wavs(tmp_path / "in", 3)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest()))
    r = run_cli(["run", str(manifest), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--impl", impl],
                subprocess_env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # stderr is a pipe: no progress bar
    assert all(e["impl"] == {"to_i16": impl} for e in input_lines(tmp_path / "out"))
    assert "ok               3" in r.stdout
