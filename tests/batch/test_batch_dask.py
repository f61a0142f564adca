"""A batch on a Dask cluster: a LocalCluster with 2 worker processes on this machine.

The same inputs give byte-identical outputs on the cluster and on local
threads, through the Python API (``client.get_executor(pure=False)``) and
through the CLI pointed at the scheduler's address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from batch_helpers import SPEECH_PREP

from remotemedia.batch import LEDGER_NAME, read_ledger, run_batch

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    # Worker processes import remotemedia and resolve native/numpy themselves (same environment here).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        yield cluster


def tree(folder) -> dict:
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            if name != LEDGER_NAME:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    out[os.path.relpath(path, folder)] = fh.read()
    return out


def test_local_cluster_gives_the_same_outputs_as_local_threads(tmp_path, speech_dir, cluster):
    local = run_batch(SPEECH_PREP, [str(speech_dir)], str(tmp_path / "local"))
    with distributed.Client(cluster) as client:
        executor = client.get_executor(pure=False)
        remote = run_batch(SPEECH_PREP, [str(speech_dir)], str(tmp_path / "dask"), executor=executor, workers=2)
        # Both worker processes took part.
        assert len(client.nthreads()) == 2
    assert local.ok == remote.ok == 5 and remote.failed == 0
    assert remote.executor == "ClientExecutor"
    a, b = tree(tmp_path / "local"), tree(tmp_path / "dask")
    assert len(a) >= 15 and a == b
    entries = {e["key"]: e for e in read_ledger(str(tmp_path / "dask" / LEDGER_NAME)) if e.get("event") == "input"}
    assert set(entries) == {"en_m_16k", "en_f_8k", "de_m_22k", "fr_f_44k", "es_m_48k"}
    worker_pids = {int(e["worker"].split(":")[1]) for e in entries.values()}
    assert os.getpid() not in worker_pids  # the work ran in the cluster's worker processes


def test_cli_points_at_the_scheduler_address(tmp_path, speech_dir, cluster):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(SPEECH_PREP))
    r = subprocess.run([sys.executable, "-m", "remotemedia", "run", str(manifest), str(speech_dir), "-o",
                        str(tmp_path / "out"), "--executor", cluster.scheduler_address], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"({cluster.scheduler_address})" in r.stdout and "ok               5" in r.stdout
    run_batch(SPEECH_PREP, [str(speech_dir)], str(tmp_path / "local"))
    assert tree(tmp_path / "out") == tree(tmp_path / "local")
