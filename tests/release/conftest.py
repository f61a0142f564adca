"""Fixtures for the release checks: the artifacts in dist/, a wheelhouse of their dependencies,
and fresh virtual environments with no Rust toolchain on PATH.

These tests need the artifacts that ``nox -s wheels`` builds (it sets ``REMOTEMEDIA_DIST_DIR``);
in an ordinary test run they are skipped, saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from release_helpers import DIST_ENV, Artifacts, Venv, wheel_metadata  # noqa: E402

from remotemedia._version import __version__  # noqa: E402


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    folder = os.environ.get(DIST_ENV)
    if not folder:
        pytest.skip(f"release checks need built artifacts: run `nox -s wheels` (sets {DIST_ENV})")
    dist = Path(folder)
    names = sorted(p.name for p in dist.iterdir())

    def one(pattern: str) -> Path:
        found = [n for n in names if re.fullmatch(pattern, n)]
        assert len(found) == 1, f"{dist}: expected one file matching {pattern}, found {found} among {names}"
        return dist / found[0]

    v = re.escape(__version__)
    arts = Artifacts(
        dist=dist,
        pure_wheel=one(rf"remotemedia-{v}-py3-none-any\.whl"),
        pure_sdist=one(rf"remotemedia-{v}\.tar\.gz"),
        runtime_wheel=one(rf"remotemedia_runtime-{v}-cp39-abi3-manylinux_2_\d+_x86_64\.whl"),
        runtime_sdist=one(rf"remotemedia_runtime-{v}\.tar\.gz"),
    )
    assert len(names) == 4, f"dist/ holds exactly the four release files, found {names}"
    return arts


@pytest.fixture(scope="session")
def wheelhouse(artifacts: Artifacts, tmp_path_factory) -> Path:
    """Wheels of the dependencies our wheels declare (numpy, pydantic and theirs), downloaded once.

    It stands for the team's package index: the installs below use ``--no-index`` with dist/ and
    this folder as their only sources.
    """
    requirements = []
    for wheel in (artifacts.pure_wheel, artifacts.runtime_wheel):
        fields, _ = wheel_metadata(wheel)
        requirements += [r for r in fields.get("Requires-Dist", []) if "extra ==" not in r]
    assert requirements, "the wheels declare their dependencies"
    folder = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary", ":all:", "--dest", str(folder),
                    *requirements], check=True, capture_output=True, text=True, timeout=600)
    return folder


@pytest.fixture
def fresh_venv(tmp_path) -> Venv:
    return Venv(tmp_path / "venv")
