"""A full disk: the batch stops at once (exit 2, one clear line), publishes no truncated file, and
``--resume`` finishes once there is room (a torn last ledger line tolerated).

The real test mounts a small tmpfs in a private mount namespace (``unshare``); where the system
does not allow that it is skipped, and the simulated test (a node that raises ENOSPC, as a
full disk would) still runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import cli, hidden_paths, ledger_entries, make_small_wavs, passthrough_manifest, read_wav

from remotemedia.batch import LEDGER_NAME, read_ledger


def _unshare_prefix() -> list:
    """``unshare`` arguments that give a private mount namespace where tmpfs can be mounted, or []."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return []
    for prefix in (["unshare", "-m"], ["unshare", "-r", "-m"]):
        try:
            probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                                   capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return []


UNSHARE = _unshare_prefix()

SCRIPT = """
set -u
mount -t tmpfs -o size=320k tmpfs "$MNT"
"$@" -o "$MNT/out" 2>"$HOST/err1"; echo $? >"$HOST/rc1"
cp -a "$MNT/out" "$HOST/after_full"
mount -o remount,size=64m "$MNT"
"$@" -o "$MNT/out" --resume 2>"$HOST/err2"; echo $? >"$HOST/rc2"
cp -a "$MNT/out" "$HOST/after_resume"
"""


def check_outputs_complete(out: Path, entries: list) -> None:
    for entry in entries:
        got, _ = read_wav(out / entry["key"] / "audio.wav")
        want, _ = read_wav(Path(entry["input"]))
        assert np.array_equal(got, want)


@pytest.mark.skipif(not UNSHARE, reason="cannot mount a tmpfs here (no unshare or no mount namespace)")
def test_a_real_full_disk_stops_the_batch_and_resume_finishes(tmp_path, subprocess_env):
    inputs = make_small_wavs(tmp_path / "in", 40, frames=16000)  # 32 KB each: 1.3 MB in all
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest()))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = dict(subprocess_env, MNT=str(mnt), HOST=str(tmp_path))
    cmd = cli("run", str(manifest), str(tmp_path / "in"), "--workers", "2", "--quiet")
    r = subprocess.run([*UNSHARE, "sh", "-c", SCRIPT, "sh", *cmd], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    rc1, err1 = int((tmp_path / "rc1").read_text()), (tmp_path / "err1").read_text()
    assert rc1 == 2, err1
    assert err1.count("\n") == 1 and err1.startswith("remotemedia: error: [Errno 28] ")
    assert "--resume" in err1

    full = tmp_path / "after_full"
    first = [e for e in read_ledger(str(full / LEDGER_NAME)) if e.get("event") == "input"]
    ok_first = [e for e in first if e["status"] == "ok"]
    assert 0 < len(ok_first) < len(inputs)
    check_outputs_complete(full, ok_first)  # every published file is whole
    published = {str(p.parent.relative_to(full)) for p in full.rglob("audio.wav")}
    assert published == {e["key"] for e in ok_first}
    assert [p for p in hidden_paths(full) if ".partial-" in p or ".old-" in p] == []

    assert int((tmp_path / "rc2").read_text()) == 0, (tmp_path / "err2").read_text()
    done = tmp_path / "after_resume"
    lines = ledger_entries(done)
    ok = [e for e in lines if e["status"] == "ok"]
    assert len(ok) == len(inputs) and {e["input"] for e in ok} == {str(p) for p in inputs}  # nothing lost
    assert len(ok) == len({e["input"] for e in ok})  # nothing twice
    check_outputs_complete(done, ok)
    assert hidden_paths(done) == []


def test_a_simulated_full_disk_stops_the_batch_and_resume_finishes(tmp_path, subprocess_env):
    """Without a small file system to fill: a node raises ENOSPC once a 'disk full' flag file exists."""
    inputs = make_small_wavs(tmp_path / "in", 30)
    flag = tmp_path / "disk-full"
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(passthrough_manifest(
        {"id": "disk", "node_type": "DiskFullNode", "params": {"flag_path": str(flag), "after_calls": 8}})))
    out = tmp_path / "out"
    args = ["run", str(manifest), str(tmp_path / "in"), "-o", str(out), "--workers", "2",
            "--plugin", "batch_test_nodes", "--quiet"]
    r = subprocess.run(cli(*args), env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "no space left on device" in r.stderr and "--resume" in r.stderr
    first = ledger_entries(out)
    failed = [e for e in first if e["status"] == "failed"]
    assert failed and all(e["errno"] == 28 and e["attempts"] == 1 for e in failed)  # a full disk is not retried
    assert len(first) < len(inputs)  # the batch stopped instead of failing every input
    end = ledger_entries(out, "end")[-1]
    assert end["status"] == "stopped" and end["stopped_by"] == "disk full"
    assert hidden_paths(out) == []
    os.unlink(flag)  # room again
    r = subprocess.run(cli(*args, "--resume"), env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ok = [e for e in ledger_entries(out) if e["status"] == "ok"]
    assert len(ok) == len(inputs) == len({e["input"] for e in ok})
    check_outputs_complete(out, ok)
