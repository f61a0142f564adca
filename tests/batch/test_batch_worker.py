"""The worker: atomic publication, leftovers, impl overrides, error classification."""

from __future__ import annotations

import errno
import os
import urllib.error

import pytest

from remotemedia.batch.worker import is_transient, run_task, staged_folder, sweep_leftovers, with_impl
from remotemedia.errors import InputFileError, NodeError


def test_published_folder_replaces_the_old_one_whole(tmp_path):
    out = tmp_path / "out"
    with staged_folder(str(out), "a/b") as staging:
        open(os.path.join(staging, "old.txt"), "w").write("old")
    assert sorted(os.listdir(out / "a" / "b")) == ["old.txt"]
    with staged_folder(str(out), "a/b") as staging:
        assert not os.path.exists(out / "a" / "b" / "new.txt")  # nothing visible before publication
        open(os.path.join(staging, "new.txt"), "w").write("new")
    assert sorted(os.listdir(out / "a" / "b")) == ["new.txt"]
    assert sorted(os.listdir(out / "a")) == ["b"]  # no staging or old folder left


def test_failure_leaves_the_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    with staged_folder(str(out), "k") as staging:
        open(os.path.join(staging, "x.txt"), "w").write("1")
    with pytest.raises(RuntimeError), staged_folder(str(out), "k") as staging:
        open(os.path.join(staging, "x.txt"), "w").write("2")
        raise RuntimeError("boom")
    assert (out / "k" / "x.txt").read_text() == "1"
    assert sorted(os.listdir(out)) == ["k"]


def test_sweep_removes_only_leftovers(tmp_path):
    for d in [".a.partial-abc_1", "sub/.b.old-xyz", "keep", "sub/.keep", "sub/c.partial-x"]:
        (tmp_path / d).mkdir(parents=True)
    assert sweep_leftovers(str(tmp_path)) == 2
    assert sorted(os.listdir(tmp_path)) == ["keep", "sub"]
    assert sorted(os.listdir(tmp_path / "sub")) == [".keep", "c.partial-x"]


def test_with_impl_sets_runtime_hint_of_kernel_nodes_only():
    m = {"version": "v1", "metadata": {"name": "x"}, "nodes": [
        {"id": "a", "node_type": "FormatConverterNode", "runtime_hint": "native"},
        {"id": "b", "node_type": "PassThroughNode"}]}
    py = with_impl(m, "python")
    assert py["nodes"][0]["runtime_hint"] == "python" and "runtime_hint" not in py["nodes"][1]
    assert m["nodes"][0]["runtime_hint"] == "native"  # the input is not modified
    assert with_impl(m, "auto") is m and with_impl(m, None) is m
    with pytest.raises(ValueError, match="impl: expected auto, native or python"):
        with_impl(m, "rust2")


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as c:
            raise outer from c
    except BaseException as e:
        return e


@pytest.mark.parametrize("exc, transient", [
    (OSError(errno.EIO, "io"), True),
    (TimeoutError(), True),
    (ConnectionResetError(), True),
    (FileNotFoundError(), False),
    (PermissionError(), False),
    (ValueError("bad"), False),
    (InputFileError("not a WAV", path="x"), False),
    (urllib.error.HTTPError("u", 503, "busy", {}, None), True),
    (urllib.error.HTTPError("u", 404, "gone", {}, None), False),
    (_chained(NodeError("x", node_id="n", node_type="T"), OSError(errno.EIO, "io")), True),
    (_chained(NodeError("x", node_id="n", node_type="T"), ValueError()), False),
])
def test_transient_errors(exc, transient):
    assert is_transient(exc) is transient


def test_failure_of_a_missing_input_is_a_failure_record_not_an_exception(tmp_path):
    task = {"manifest": {"version": "v1", "metadata": {"name": "m"},
                         "nodes": [{"id": "p", "node_type": "PassThroughNode"}]},
            "input": str(tmp_path / "gone.wav"), "out_root": str(tmp_path / "out"), "key": "gone",
            "max_attempts": 3, "retry_delay_s": 0}
    result = run_task(task)
    assert result["status"] == "failed" and result["attempts"] == 1 and result["stage"] == "read"
    assert "no such file" in result["error"] and result["node_id"] is None
    assert not os.path.exists(tmp_path / "out" / "gone")


def test_a_full_disk_is_not_worth_a_retry_and_the_failure_says_so():
    assert not is_transient(OSError(errno.ENOSPC, "full")) and not is_transient(OSError(errno.EDQUOT, "quota"))
    assert is_transient(_chained(NodeError("x", node_id="n", node_type="T"), OSError(errno.EIO, "io")))


def test_url_inputs_are_downloaded_once_per_input_and_resumed_by_the_retry(tmp_path, fault_server):
    import numpy as np
    from batch_helpers import passthrough_manifest, read_wav, write_wav

    from remotemedia.batch import run_batch

    write_wav(tmp_path / "src.wav", np.arange(-20000, 20000, 4, dtype=np.int16), 8000)
    body = (tmp_path / "src.wav").read_bytes()
    urls = [fault_server.add("/cut.wav", body, faults=["reset"]),
            fault_server.add("/busy.wav", body, faults=["503", "503"]),
            fault_server.add("/short.wav", body, faults=["truncate", "truncate"])]
    out = tmp_path / "out"
    report = run_batch(passthrough_manifest(), urls, str(out), retry_delay_s=0)
    assert (report.ok, report.failed) == (3, 0)
    attempts = {e["key"]: e["attempts"] for e in report.results}
    assert attempts == {"cut": 2, "busy": 3, "short": 3}
    # The truncated download asked only for the rest on each retry; the others were not resumable.
    assert fault_server.range_requests["/short.wav"] == 2 and fault_server.range_requests["/cut.wav"] == 0
    assert fault_server.requests["/cut.wav"] == 2 and fault_server.requests["/busy.wav"] == 3
    want, _ = read_wav(tmp_path / "src.wav")
    for key in attempts:
        got, _ = read_wav(out / key / "audio.wav")
        assert np.array_equal(got, want)
    assert sorted(os.listdir(tmp_path)) == ["out", "src.wav"]  # no download folder left behind


def test_failure_stages_are_recorded(tmp_path, fault_server):
    from batch_helpers import passthrough_manifest

    from remotemedia.batch import run_batch

    (tmp_path / "junk.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    report = run_batch(passthrough_manifest(), [str(tmp_path / "junk.wav"), fault_server.url("/nothing.wav")],
                       str(tmp_path / "out"), retry_delay_s=0)
    stages = {f["key"]: (f["stage"], f["attempts"], f["errno"]) for f in report.failures}
    assert stages == {"junk": ("read", 1, None), "nothing": ("download", 1, None)}


def test_a_retry_after_the_download_does_not_download_again(tmp_path, fault_server):
    import batch_test_nodes  # noqa: F401  (registers FlakyNode)
    import numpy as np
    from batch_helpers import passthrough_manifest, write_wav

    from remotemedia.batch import run_batch

    write_wav(tmp_path / "src.wav", np.arange(-3000, 3000, dtype=np.int16), 8000)
    url = fault_server.add("/once.wav", (tmp_path / "src.wav").read_bytes())
    (tmp_path / "markers").mkdir()
    flaky = passthrough_manifest({"id": "flaky", "node_type": "FlakyNode",
                                  "params": {"marker_dir": str(tmp_path / "markers"), "every": 1}})
    report = run_batch(flaky, [url], str(tmp_path / "out"), retry_delay_s=0)
    assert report.ok == 1 and report.results[0]["attempts"] == 2  # the node failed once (EIO), then passed
    assert fault_server.requests["/once.wav"] == 1
