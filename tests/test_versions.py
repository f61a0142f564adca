"""The two distributions carry one version, and the extra pins it exactly."""

from __future__ import annotations

import pathlib
import re

import pytest

from remotemedia._version import __version__

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _read(rel: str) -> str:
    path = ROOT / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this checkout")
    return path.read_text()


def test_cargo_version_matches():
    cargo = _read("native/Cargo.toml")
    assert re.search(r'^version = "([^"]+)"', cargo, re.M).group(1) == __version__


def test_native_extra_pins_the_same_version():
    pyproject = _read("pyproject.toml")
    assert f'native = ["remotemedia-runtime=={__version__}"]' in pyproject


def test_changelog_has_unreleased_section():
    assert "## [Unreleased]" in _read("CHANGELOG.md")
