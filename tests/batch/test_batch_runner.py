"""run_batch: outputs, ledger, resume, failures, executors, URLs."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import http.server
import json
import os
import shutil
import threading

import numpy as np
import pytest
from batch_helpers import SPEECH_PREP, make_small_wavs, passthrough_manifest, read_wav, write_wav

import remotemedia
from remotemedia.batch import LEDGER_NAME, read_ledger, run_batch
from remotemedia.errors import ConfigurationError, PipelineValidationError


def outcomes(out_dir) -> list:
    return [e for e in read_ledger(os.path.join(out_dir, LEDGER_NAME)) if e.get("event") == "input"]


def test_speech_prep_writes_segments_per_input(tmp_path, speech_dir, impl):
    out = tmp_path / "out"
    report = remotemedia.run_batch(SPEECH_PREP, [str(speech_dir)], str(out), impl=impl, workers=2)
    assert (report.total, report.ok, report.failed, report.exit_code) == (5, 5, 0, 0)
    assert report.audio_s == pytest.approx(4.50 + 4.76 + 4.69 + 3.49 + 3.41, abs=0.02)
    assert set(report.node_time_us) == {"resample", "vad"}
    for entry in outcomes(out):
        assert entry["status"] == "ok" and entry["impl"] == {"resample": impl, "vad": impl}
        folder = out / entry["key"]
        lines = [json.loads(x) for x in (folder / "segments.jsonl").read_text().splitlines()]
        assert len(lines) >= 1  # every recording holds speech
        for seg in lines:
            samples, rate = read_wav(folder / seg["file"])
            assert rate == 16000 and samples.dtype == np.int16
            assert samples.shape[1] == seg["end"] - seg["start"] > 0
        assert sorted(entry["outputs"]) == sorted(f"{entry['key']}/{n}" for n in os.listdir(folder))


def test_both_implementations_find_the_same_segments(tmp_path, speech_dir, both_kernels):
    runs = {}
    for impl in ("python", "native"):
        run_batch(SPEECH_PREP, [str(speech_dir)], str(tmp_path / impl), impl=impl)
        runs[impl] = {e["key"]: (tmp_path / impl / e["key"] / "segments.jsonl").read_text()
                      for e in outcomes(tmp_path / impl)}
    assert runs["python"] == runs["native"]


def test_resume_skips_done_inputs_and_redoes_changed_ones(tmp_path):
    paths = make_small_wavs(tmp_path / "in", 6)
    manifest = passthrough_manifest()
    out = tmp_path / "out"
    first = run_batch(manifest, [str(tmp_path / "in")], str(out))
    assert first.ok == 6
    again = run_batch(manifest, [str(tmp_path / "in")], str(out), resume=True)
    assert (again.ok, again.skipped, again.failed) == (0, 6, 0)
    os.utime(paths[0], ns=(1, 1))  # mtime changed: redone
    shutil.rmtree(out / "part1")  # output gone: redone
    changed = run_batch(manifest, [str(tmp_path / "in")], str(out), resume=True)
    assert (changed.ok, changed.skipped) == (2, 4)
    other = dict(manifest, metadata={"name": "another"})  # another manifest: everything redone
    # (issue 21: resuming over another manifest's outputs must be asked for; see test_batch_stale.py)
    assert run_batch(other, [str(tmp_path / "in")], str(out), resume=True, replace_stale=True).ok == 6
    without = run_batch(manifest, [str(tmp_path / "in")], str(out))  # no resume: everything redone
    assert (without.ok, without.skipped) == (6, 0)


def test_failures_name_the_node_and_do_not_stop_the_batch(tmp_path):
    import batch_test_nodes  # noqa: F401  (registers RejectLoudNode)

    make_small_wavs(tmp_path / "in", 4)
    write_wav(tmp_path / "in" / "loud.wav", np.full(100, 32000, np.int16), 8000)
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    manifest = passthrough_manifest({"id": "gate", "node_type": "RejectLoudNode", "params": {"max_peak": 30000}})
    report = run_batch(manifest, [str(tmp_path / "in")], str(tmp_path / "out"), max_attempts=3, retry_delay_s=0)
    assert (report.ok, report.failed, report.exit_code) == (4, 2, 1)
    failed = {os.path.basename(e["input"]): e for e in outcomes(tmp_path / "out") if e["status"] == "failed"}
    loud, broken = failed["loud.wav"], failed["broken.wav"]
    assert (loud["node_id"], loud["node_type"], loud["attempts"]) == ("gate", "RejectLoudNode", 1)
    assert "peak 32000 exceeds 30000" in loud["error"] and "ValueError" in loud["traceback"]
    assert loud["error_type"] == "builtins.ValueError"
    assert (broken["node_id"], broken["stage"], broken["attempts"]) == (None, "read", 1)
    assert "not a PCM WAV file" in broken["error"]
    assert not (tmp_path / "out" / "loud").exists() and not (tmp_path / "out" / "broken").exists()
    assert "FAILED" in report.summary() and "'gate'" in report.summary()


def test_transient_failures_are_retried_and_attempts_recorded(tmp_path):
    import batch_test_nodes  # noqa: F401  (registers FlakyNode)

    make_small_wavs(tmp_path / "in", 20)
    (tmp_path / "markers").mkdir()
    manifest = passthrough_manifest({"id": "flaky", "node_type": "FlakyNode",
                                     "params": {"marker_dir": str(tmp_path / "markers"), "every": 2}})
    report = run_batch(manifest, [str(tmp_path / "in")], str(tmp_path / "out"), retry_delay_s=0)
    assert (report.ok, report.failed) == (20, 0)
    attempts = [e["attempts"] for e in outcomes(tmp_path / "out")]
    injected = len(os.listdir(tmp_path / "markers"))
    assert 0 < injected < 20
    assert sorted(attempts) == [1] * (20 - injected) + [2] * injected
    # Without retries, the same faults are failures with the node named.
    shutil.rmtree(tmp_path / "markers")
    (tmp_path / "markers").mkdir()
    report = run_batch(manifest, [str(tmp_path / "in")], str(tmp_path / "out2"), max_attempts=1)
    assert report.failed == injected and {f["node_id"] for f in report.failures} == {"flaky"}
    assert all(f["transient"] for f in report.failures)


def test_fail_fast_stops_submitting(tmp_path):
    import batch_test_nodes  # noqa: F401

    make_small_wavs(tmp_path / "in", 30)
    manifest = passthrough_manifest({"id": "gate", "node_type": "RejectLoudNode", "params": {"max_peak": 0}})
    report = run_batch(manifest, [str(tmp_path / "in")], str(tmp_path / "out"), fail_fast=True, workers=1)
    assert report.failed >= 1 and report.not_run > 0 and report.ok == 0
    assert report.failed + report.not_run == 30 and report.exit_code == 1


def test_invalid_manifest_fails_before_anything_runs(tmp_path):
    make_small_wavs(tmp_path / "in", 2)
    bad = {"version": "v1", "metadata": {"name": "bad"}, "nodes": [{"id": "x", "node_type": "NoSuchNode"}]}
    with pytest.raises(PipelineValidationError, match="unknown node type 'NoSuchNode'"):
        run_batch(bad, [str(tmp_path / "in")], str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigurationError, match="executor"):
        run_batch(passthrough_manifest(), [str(tmp_path / "in")], str(tmp_path / "o2"), executor="gpu")


def test_a_pipeline_object_and_any_executor(tmp_path):
    from remotemedia.pipeline import Pipeline

    make_small_wavs(tmp_path / "in", 5)
    pipeline = Pipeline.from_manifest(passthrough_manifest())
    with cf.ThreadPoolExecutor(3) as pool:
        report = run_batch(pipeline, str(tmp_path / "in"), str(tmp_path / "out"), executor=pool)
        assert pool.submit(lambda: 1).result() == 1  # an executor passed in is not shut down
    assert report.ok == 5 and report.executor == "ThreadPoolExecutor" and report.workers == 3


def test_processes_executor_gives_the_same_outputs_as_threads(tmp_path, speech_dir):
    inputs = [str(speech_dir / "en_f_8k.wav"), str(speech_dir / "de_m_22k.wav")]
    a = run_batch(SPEECH_PREP, inputs, str(tmp_path / "threads"), executor="threads")
    b = run_batch(SPEECH_PREP, inputs, str(tmp_path / "procs"), executor="processes", workers=2)
    assert a.ok == b.ok == 2 and b.executor == "processes"
    for key in ("en_f_8k", "de_m_22k"):
        names = sorted(os.listdir(tmp_path / "threads" / key))
        assert names == sorted(os.listdir(tmp_path / "procs" / key))
        for n in names:
            assert (tmp_path / "threads" / key / n).read_bytes() == (tmp_path / "procs" / key / n).read_bytes()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_inputs_are_downloaded_processed_and_resumed(tmp_path, http_root):
    root, base = http_root
    make_small_wavs(root, 3)
    urls = [f"{base}/part{i}/clip_{i:05d}.wav" for i in range(3)] + [f"{base}/missing.wav"]
    out = tmp_path / "out"
    report = run_batch(passthrough_manifest(), urls, str(out), retry_delay_s=0)
    assert (report.ok, report.failed) == (3, 1)
    missing = report.failures[0]
    assert missing["stage"] == "download" and "404" in missing["error"] and missing["attempts"] == 1
    for i in range(3):
        got, _ = read_wav(out / f"clip_{i:05d}" / "audio.wav")
        want, _ = read_wav(root / f"part{i}" / f"clip_{i:05d}.wav")
        assert np.array_equal(got, want)
    assert run_batch(passthrough_manifest(), urls[:3], str(out), resume=True).skipped == 3
