"""Rebuilds: the runtime sdist builds where cargo exists, builds are reproducible in content,
and a runtime of another version is refused at install (the exact pin) and at import."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict

import pytest
from release_helpers import Venv

from remotemedia._version import __version__

ROOT = Path(__file__).resolve().parents[2]
OTHER_VERSION = "2.0.1" if __version__ != "2.0.1" else "2.0.2"
#: The SBOM that maturin writes records the absolute folder the crate was built in.
SBOM_BUILD_DIR = re.compile(rb"path\+file://[^#\"]*?(?=(/kernels)?#remotemedia-)")


def contents(wheel: Path) -> Dict[str, str]:
    """File name -> sha256 of the file's bytes inside a wheel (RECORD left out: it lists these
    hashes; the SBOM with its build folder replaced by a placeholder)."""
    out = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".dist-info/RECORD"):
                continue
            if "/sboms/" in name:
                data = SBOM_BUILD_DIR.sub(b"path+file://BUILD_DIR", data)
            out[name] = hashlib.sha256(data).hexdigest()
    return out


def pip_wheel(source: Path, out: Path, target_dir: Path) -> Path:
    """``pip wheel`` of a runtime source (an sdist, or a folder) with cargo on PATH, the way a user
    without a wheel for their platform would build it; the release platform tag and the same
    ``SOURCE_DATE_EPOCH`` as dist/."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    env["CARGO_TARGET_DIR"] = str(target_dir)
    env["MATURIN_PEP517_ARGS"] = f"--compatibility {os.environ.get('REMOTEMEDIA_MANYLINUX', 'off')} --auditwheel check"
    assert shutil.which("cargo", path=env.get("PATH")), "building the runtime sdist needs cargo on PATH"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(source)],
                       env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"building {source.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    (wheel,) = out.glob("remotemedia_runtime-*.whl")
    return wheel


@pytest.fixture(scope="module")
def cargo_target(tmp_path_factory) -> Path:
    """One cargo target folder for the rebuilds of this module (not native/target)."""
    return tmp_path_factory.mktemp("cargo-target")


@pytest.fixture(scope="module")
def wheel_from_sdist(artifacts, cargo_target, tmp_path_factory) -> Path:
    return pip_wheel(artifacts.runtime_sdist, tmp_path_factory.mktemp("from-sdist"), cargo_target)


def test_runtime_sdist_builds_with_cargo_into_the_same_wheel(artifacts, wheel_from_sdist):
    # Another folder, a fresh target folder, pip's isolated build: the same files, byte for byte
    # (the compiled module included), apart from the build folder the SBOM records.
    assert wheel_from_sdist.name == artifacts.runtime_wheel.name
    assert contents(wheel_from_sdist) == contents(artifacts.runtime_wheel)


def test_pure_build_is_reproducible(artifacts, tmp_path):
    out = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True,
                   capture_output=True, text=True, timeout=900)
    (wheel,) = out.glob("*.whl")
    assert contents(wheel) == contents(artifacts.pure_wheel)
    # With SOURCE_DATE_EPOCH the zip's timestamps are fixed too: the wheel is the same file.
    assert wheel.read_bytes() == artifacts.pure_wheel.read_bytes()
    (sdist,) = out.glob("*.tar.gz")
    assert sdist_contents(sdist) == sdist_contents(artifacts.pure_sdist)


def sdist_contents(sdist: Path) -> Dict[str, str]:
    with tarfile.open(sdist) as tf:
        return {m.name: hashlib.sha256(tf.extractfile(m).read()).hexdigest() for m in tf.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def other_version_wheel(artifacts, wheel_from_sdist, cargo_target, tmp_path_factory) -> Path:
    """A real runtime wheel of another version: the release sdist with its Cargo version changed,
    so the compiled module reports that version (built after the sdist build, reusing its crates)."""
    src = tmp_path_factory.mktemp("other-src")
    with tarfile.open(artifacts.runtime_sdist) as tf:
        tf.extractall(src, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (root,) = src.iterdir()
    cargo = root / "Cargo.toml"
    text, n = re.subn(rf'^version = "{re.escape(__version__)}"$', f'version = "{OTHER_VERSION}"', cargo.read_text(),
                      count=1, flags=re.M)
    assert n == 1
    cargo.write_text(text)
    wheel = pip_wheel(root, tmp_path_factory.mktemp("other-wheel"), cargo_target)
    assert f"remotemedia_runtime-{OTHER_VERSION}-" in wheel.name
    return wheel


def test_mismatched_runtime_is_refused_at_install(fresh_venv: Venv, artifacts, wheelhouse, other_version_wheel,
                                                  tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(artifacts.pure_wheel, links)
    shutil.copy(other_version_wheel, links)
    r = fresh_venv.pip_install("--find-links", str(links), "--find-links", str(wheelhouse), "remotemedia[native]",
                               check=False)
    assert r.returncode != 0
    assert f"remotemedia-runtime=={__version__}" in r.stdout + r.stderr, r.stderr
    assert "remotemedia" not in fresh_venv.distributions()
    # With both runtimes on offer, the pin picks this release's.
    shutil.copy(artifacts.runtime_wheel, links)
    fresh_venv.pip_install("--find-links", str(links), "--find-links", str(wheelhouse), "remotemedia[native]")
    assert fresh_venv.distributions()["remotemedia-runtime"] == __version__


def test_mismatched_runtime_is_refused_at_import(fresh_venv: Venv, artifacts, wheelhouse, other_version_wheel):
    fresh_venv.pip_install("--find-links", str(artifacts.dist), "--find-links", str(wheelhouse), "remotemedia")
    # Forced past pip's resolver (--no-deps), as a hand-made environment might be.
    fresh_venv.pip_install("--no-deps", str(other_version_wheel))
    assert fresh_venv.distributions()["remotemedia-runtime"] == OTHER_VERSION
    version = fresh_venv.run("python", "-c", "import remotemedia_runtime as m; print(m.__version__)").stdout.strip()
    assert version == OTHER_VERSION
    expected = f"remotemedia_runtime version {OTHER_VERSION} does not match remotemedia {__version__}"
    out = fresh_venv.run("remotemedia", "info").stdout
    assert expected in out, out
    r = fresh_venv.run("python", "-c", "import remotemedia", env={"REMOTEMEDIA_IMPL": "native"}, check=False)
    assert r.returncode != 0 and expected in r.stderr, r.stderr
