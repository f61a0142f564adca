"""``--resume`` with a changed manifest: reported before work starts, refused unless ``--replace-stale``."""

from __future__ import annotations

import json
import logging
import os
import subprocess

import pytest
from batch_helpers import cli, ledger_entries, make_small_wavs, passthrough_manifest

from remotemedia.batch import LEDGER_NAME, run_batch
from remotemedia.batch.ledger import manifest_hash
from remotemedia.errors import StaleOutputsError


def snapshot(folder) -> dict:
    return {os.path.relpath(os.path.join(d, f), folder): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(folder) for f in files}


def test_resume_refuses_to_mix_two_manifests_and_touches_nothing(tmp_path, caplog):
    make_small_wavs(tmp_path / "in", 5)
    old, new = passthrough_manifest(), dict(passthrough_manifest(), metadata={"name": "changed"})
    out = tmp_path / "out"
    run_batch(old, [str(tmp_path / "in")], str(out))
    os.unlink(next((tmp_path / "in").rglob("*.wav")))  # an input gone: its old output is not counted
    before = snapshot(out)
    with pytest.raises(StaleOutputsError) as info:
        run_batch(new, [str(tmp_path / "in")], str(out), resume=True)
    err = info.value
    assert (err.count, err.new_hash, err.old_hashes) == (4, manifest_hash(new), {manifest_hash(old): 4})
    assert manifest_hash(old) in str(err) and manifest_hash(new) in str(err)
    assert "4 outputs were made with another manifest" in str(err) and "--replace-stale" in str(err)
    assert snapshot(out) == before  # no ledger line, no output replaced, nothing swept
    # Without resume the user asked for everything to be redone: no refusal, no note.
    with caplog.at_level(logging.WARNING, logger="remotemedia.batch"):
        report = run_batch(new, [str(tmp_path / "in")], str(out))
    assert report.ok == 4 and report.replaced_stale == 0 and not caplog.records


def test_replace_stale_redoes_and_reports_the_replaced_outputs(tmp_path, caplog):
    make_small_wavs(tmp_path / "in", 4)
    old, new = passthrough_manifest(), dict(passthrough_manifest(), metadata={"name": "changed"})
    out = tmp_path / "out"
    run_batch(old, [str(tmp_path / "in")], str(out))
    with caplog.at_level(logging.WARNING, logger="remotemedia.batch"):
        report = run_batch(new, [str(tmp_path / "in")], str(out), resume=True, replace_stale=True)
    assert (report.ok, report.skipped, report.replaced_stale) == (4, 0, 4)
    assert any("4 outputs were made with another manifest" in r.getMessage() for r in caplog.records)
    assert ledger_entries(out, "run")[-1]["replaced_stale"] == 4
    again = run_batch(new, [str(tmp_path / "in")], str(out), resume=True)  # now all of the new manifest
    assert (again.ok, again.skipped, again.replaced_stale) == (0, 4, 0)


def test_cli_reports_old_and_new_hash_before_work_starts(tmp_path, subprocess_env):
    make_small_wavs(tmp_path / "in", 3)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(passthrough_manifest()))
    new.write_text(json.dumps(dict(passthrough_manifest(), metadata={"name": "changed"})))
    out = tmp_path / "out"
    base = [str(tmp_path / "in"), "-o", str(out), "--quiet"]
    assert subprocess.run(cli("run", str(old), *base), env=subprocess_env, timeout=300).returncode == 0
    ledger = (out / LEDGER_NAME).read_bytes()
    r = subprocess.run(cli("run", str(new), *base, "--resume"), env=subprocess_env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    old_hash, new_hash = (manifest_hash(json.loads(p.read_text())) for p in (old, new))
    assert f"3 outputs were made with another manifest (3 with {old_hash})" in r.stderr
    assert f"replaced by outputs of {new_hash}" in r.stderr and "--replace-stale" in r.stderr
    assert (out / LEDGER_NAME).read_bytes() == ledger
    r = subprocess.run(cli("run", str(new), *base, "--resume", "--replace-stale"), env=subprocess_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"remotemedia: {out}: the manifest changed: 3 outputs were made with another")
    assert "replacing them (--replace-stale)" in r.stderr
    assert [e["manifest_hash"] for e in ledger_entries(out)][-3:] == [new_hash] * 3
