"""Output paths derived from hostile input names, end to end through run_batch, in both implementations.

The unit tests of keys and joins are in test_batch_inputs.py; here real files (and a real HTTP
server on 127.0.0.1) go through a real pipeline, and what lands on disk is checked.
"""

from __future__ import annotations

import http.server
import os
import threading

import numpy as np
import pytest
from batch_helpers import passthrough_manifest, read_wav, write_wav

from remotemedia.batch import LEDGER_NAME, read_ledger, run_batch

HOSTILE_NAMES = [
    "A/Talk.wav", "B/talk.wav",                      # differ only in case
    "A/" + "x" * 200 + ".wav", "B/" + "x" * 200 + ".wav",  # very long, and the same in two folders
    "C/a b\nc.wav", "C/ü ß.wav", "C/-rf.wav", "C/con.wav", "C/..dots.wav", "C/;rm -rf ~;.wav",
    "D/talk.wav", "D/talk/x.wav",                    # a key that is also a folder of another key
    "E/remotemedia-ledger.jsonl.wav",                # the ledger's own name
]


def outcomes(out) -> list:
    return [e for e in read_ledger(os.path.join(out, LEDGER_NAME)) if e.get("event") == "input"]


def files_under(folder) -> list:
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def write_inputs(root) -> dict:
    """One distinct signal per hostile name; returns {path: samples}."""
    signals = {}
    for i, rel in enumerate(HOSTILE_NAMES):
        x = np.full(80, 100 * (i + 1), dtype=np.int16)
        write_wav(root / rel, x, 8000)
        signals[str(root / rel)] = x
    return signals


def test_hostile_file_names_stay_inside_and_never_overwrite_each_other(tmp_path, impl):
    signals = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    report = run_batch(passthrough_manifest(), [str(tmp_path / "in")], str(out), impl=impl, workers=2)
    assert (report.total, report.ok, report.failed) == (len(HOSTILE_NAMES), len(HOSTILE_NAMES), 0)
    entries = outcomes(out)
    keys = [e["key"] for e in entries]
    assert len({k.casefold() for k in keys}) == len(keys)
    for e in entries:
        folder = out / e["key"]
        assert os.path.realpath(folder).startswith(os.path.realpath(out) + os.sep)
        assert all(len(part.encode()) <= 255 for part in e["key"].split("/"))
        assert not any(part.startswith(".") for part in e["key"].split("/"))
        got, rate = read_wav(folder / "audio.wav")
        # Each output holds its own input's samples: nothing was overwritten by another input.
        assert rate == 8000 and np.array_equal(got[0], signals[e["input"]])
    # Nothing but the outputs and the ledger: no stray or half-written files anywhere.
    assert files_under(out) == sorted([LEDGER_NAME] + [os.path.join(k, "audio.wav") for k in keys])
    assert sorted(os.listdir(tmp_path)) == ["in", "out"]


def test_a_symlink_planted_in_the_output_folder_is_replaced_not_followed(tmp_path, impl):
    write_wav(tmp_path / "in" / "talk.wav", np.full(80, 7, dtype=np.int16), 8000)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "talk").symlink_to(elsewhere)          # where the input's outputs would go
    (out / "sub").symlink_to(elsewhere)           # a folder an input key would pass through
    write_wav(tmp_path / "in2" / "sub" / "x.wav", np.full(80, 9, dtype=np.int16), 8000)
    report = run_batch(passthrough_manifest(), [str(tmp_path / "in" / "talk.wav"), str(tmp_path / "in2")],
                       str(out), impl=impl)
    # talk: published as a real folder where the link was; the link's target is untouched.
    assert not (out / "talk").is_symlink() and (out / "talk" / "audio.wav").is_file()
    assert sorted(os.listdir(elsewhere)) == ["keep.txt"] and (elsewhere / "keep.txt").read_text() == "precious"
    # sub/x: refused as a clear per-input failure (its parent leads outside); the batch went on.
    by_key = {e["key"]: e for e in outcomes(out)}
    assert by_key["talk"]["status"] == "ok"
    failed = [e for e in by_key.values() if e["status"] != "ok"]
    assert len(failed) == 1 and "escapes" in failed[0]["error"]
    assert (report.ok, report.failed) == (1, 1)


class _AnyPathHandler(http.server.BaseHTTPRequestHandler):
    """Serves the same small WAV for every path (so hostile URL paths can be asked for)."""

    body = b""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def any_path_server(tmp_path):
    write_wav(tmp_path / "served.wav", np.full(80, 42, dtype=np.int16), 8000)
    _AnyPathHandler.body = (tmp_path / "served.wav").read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AnyPathHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hostile_url_paths_stay_inside(tmp_path, impl, any_path_server):
    base = any_path_server
    urls = [f"{base}/a/..%2F..%2F..%2Fescape.wav", f"{base}/%2e%2e/%2e%2e/escape.wav",
            f"{base}/x/%2Fetc%2Fpasswd.wav", f"{base}/", f"{base}/q/%2e%2e", f"{base}/y/" + "z" * 300 + ".wav?sig=../../q"]
    out = tmp_path / "work" / "out"
    report = run_batch(passthrough_manifest(), urls, str(out), impl=impl, retry_delay_s=0)
    assert (report.ok, report.failed) == (len(urls), 0)
    keys = [e["key"] for e in outcomes(out)]
    assert len(set(keys)) == len(urls)
    for k in keys:
        assert os.path.realpath(out / k).startswith(os.path.realpath(out) + os.sep)
        got, _ = read_wav(out / k / "audio.wav")
        assert np.all(got == 42)
    assert sorted(os.listdir(tmp_path)) == ["served.wav", "work"]
    assert os.listdir(tmp_path / "work") == ["out"]
