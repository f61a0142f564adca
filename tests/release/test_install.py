"""Installing the release artifacts alone, with no Rust toolchain and no source tree:
``pip install --no-index --find-links dist "remotemedia[native]"`` (native) and ``remotemedia``
(pure), then ``remotemedia info`` and a short ``remotemedia run`` in each."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

import pytest
from release_helpers import Venv

from remotemedia._version import __version__

KERNEL_NODES = ("mono", "resample", "vad", "segments")


def install_from_dist(env: Venv, artifacts, wheelhouse: Path, requirement: str, tmp_path: Path) -> List[dict]:
    """``pip install --no-index`` from dist/ and the wheelhouse only; returns pip's install report items."""
    report = tmp_path / "pip-report.json"
    env.pip_install("--find-links", str(artifacts.dist), "--find-links", str(wheelhouse), requirement, report=report)
    items = json.loads(report.read_text())["install"]
    for item in items:
        url = item["download_info"]["url"]
        assert url.endswith(".whl"), f"pip built {url} from source"
        assert url.startswith((artifacts.dist.as_uri(), wheelhouse.as_uri())), url
    return items


def package_dir(env: Venv) -> Path:
    out = env.run("python", "-c", "import os, remotemedia; print(os.path.dirname(remotemedia.__file__))").stdout
    path = Path(out.strip())
    assert env.path in path.parents, f"remotemedia imported from {path}, not from the fresh environment"
    return path


def run_main_job(env: Venv, impl: str, tmp_path: Path) -> Dict[str, list]:
    """``remotemedia run`` of the packaged speech-preparation manifest on the packaged recordings.

    Returns {input key: [(start, end) of each segment]} after checking every input finished ok
    with each kernel node on ``impl``.
    """
    pkg = package_dir(env)
    inputs = sorted((pkg / "data" / "speech").glob("*.wav"))
    assert len(inputs) == 3, inputs
    out = tmp_path / f"out-{impl}"
    env.run("remotemedia", "run", str(pkg / "data" / "pipelines" / "speech_prep.json"), *map(str, inputs),
            "-o", str(out), "--impl", impl, "--quiet", cwd=tmp_path)
    ledger = [json.loads(line) for line in (out / "remotemedia-ledger.jsonl").read_text().splitlines()]
    done = [e for e in ledger if e.get("event") == "input"]
    assert sorted(e["key"] for e in done) == sorted(p.stem for p in inputs)
    segments = {}
    for entry in done:
        assert entry["status"] == "ok", entry
        assert {entry["impl"][n] for n in KERNEL_NODES} == {impl}, entry["impl"]
        index = out / entry["key"] / f"{entry['key']}.segments.jsonl"
        rows = [json.loads(line) for line in index.read_text().splitlines()]
        assert rows, f"no speech found in {entry['key']}"
        for row in rows:
            assert (index.parent / row["file"]).stat().st_size > 44
        segments[entry["key"]] = [(row["start"], row["end"]) for row in rows]
    return segments


def info(env: Venv, **extra_env: str) -> dict:
    return json.loads(env.run("remotemedia", "info", "--json", env=extra_env).stdout)


SEGMENTS: Dict[str, Dict[str, list]] = {}


def test_native_install_from_dist_only(fresh_venv, artifacts, wheelhouse, tmp_path):
    items = install_from_dist(fresh_venv, artifacts, wheelhouse, "remotemedia[native]", tmp_path)
    ours = {i["metadata"]["name"]: i["download_info"]["url"] for i in items if i["metadata"]["name"].startswith("remotemedia")}
    assert ours == {"remotemedia": artifacts.pure_wheel.as_uri(), "remotemedia-runtime": artifacts.runtime_wheel.as_uri()}
    dists = fresh_venv.distributions()
    assert dists["remotemedia"] == dists["remotemedia-runtime"] == __version__
    assert "numpy" in dists and "pydantic" in dists

    data = info(fresh_venv)
    assert data["native"]["available"] is True, data["native"]
    assert data["native"]["version"] == __version__
    assert data["native"]["build"]["profile"] == "release" and data["native"]["build"]["pyo3_abi3"] is True
    assert {k["implementation"] for k in data["kernels"].values()} == {"native"}
    text = fresh_venv.run("remotemedia", "info").stdout
    assert f"native: remotemedia_runtime {__version__} (release build)" in text
    # REMOTEMEDIA_IMPL=native (fail rather than fall back) imports too.
    assert info(fresh_venv, REMOTEMEDIA_IMPL="native")["native"]["available"] is True

    SEGMENTS["native"] = run_main_job(fresh_venv, "native", tmp_path)
    if "python" in SEGMENTS:
        assert SEGMENTS["native"] == SEGMENTS["python"]


def test_pure_install_from_dist_only(fresh_venv, artifacts, wheelhouse, tmp_path):
    items = install_from_dist(fresh_venv, artifacts, wheelhouse, "remotemedia", tmp_path)
    assert {i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("remotemedia")} == {"remotemedia"}
    assert "remotemedia-runtime" not in fresh_venv.distributions()

    data = info(fresh_venv)
    assert data["native"]["available"] is False
    assert "not installed" in data["native"]["reason"], data["native"]["reason"]
    assert {k["implementation"] for k in data["kernels"].values()} == {"python"}
    text = fresh_venv.run("remotemedia", "info").stdout
    assert "native: unavailable (the compiled module 'remotemedia_runtime' is not installed" in text, text
    kernel_lines = text.split("kernels:\n")[1].split("nodes:\n")[0].splitlines()
    assert kernel_lines and all(line.split()[1] == "python" for line in kernel_lines), text  # the numpy kernels
    # Forcing native on a pure install fails loudly, naming the reason.
    r = fresh_venv.run("python", "-c", "import remotemedia", env={"REMOTEMEDIA_IMPL": "native"}, check=False)
    assert r.returncode != 0 and "remotemedia_runtime" in r.stderr and "not installed" in r.stderr, r.stderr

    SEGMENTS["python"] = run_main_job(fresh_venv, "python", tmp_path)
    if "native" in SEGMENTS:  # same VAD decisions on both implementations (the demo's own comparison)
        assert SEGMENTS["native"] == SEGMENTS["python"]


OTHER_PYTHONS = [p for p in os.environ.get("REMOTEMEDIA_RELEASE_PYTHONS", "").split(os.pathsep) if p]


@pytest.mark.parametrize("python", OTHER_PYTHONS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no other CPython found (nox -s wheels lists python3.9 ... python3.13 it can run in REMOTEMEDIA_RELEASE_PYTHONS)"))])
def test_the_abi3_wheel_installs_and_runs_on_other_pythons(python, artifacts, tmp_path):
    env = Venv(tmp_path / "venv", python=python)
    version = env.run("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()
    # This interpreter's numpy and pydantic wheels (downloaded by its own pip), then --no-index as above.
    house = tmp_path / "wheelhouse"
    env.run("python", "-m", "pip", "download", "--only-binary", ":all:", "--dest", str(house),
            "numpy>=1.22", "pydantic>=2.5,<3")
    install_from_dist(env, artifacts, house, "remotemedia[native]", tmp_path)
    data = info(env)
    assert data["native"]["available"] is True, (version, data["native"])
    segments = run_main_job(env, "native", tmp_path)
    if "native" in SEGMENTS:
        assert segments == SEGMENTS["native"], version
