"""`remotemedia info` / `python -m remotemedia info` / `remotemedia.info()`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import remotemedia
from remotemedia import _native


def test_info_contents():
    data = remotemedia.info()
    assert data["version"] == remotemedia.__version__
    assert data["native"]["available"] is (_native.module() is not None)
    assert "FormatConverterNode" in data["nodes"] and "PassThroughNode" in data["nodes"]
    conv = data["nodes"]["FormatConverterNode"]
    assert conv["kernel"] == "convert"
    assert conv["implementation"] == _native.STATUS.impl
    assert data["nodes"]["PassThroughNode"]["implementation"] == "python"
    text = str(data)
    assert f"remotemedia {remotemedia.__version__}" in text and "FormatConverterNode" in text
    json.dumps(data)  # serialisable


def test_python_m_remotemedia_info_json():
    r = subprocess.run([sys.executable, "-m", "remotemedia", "info", "--json"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["nodes"]["FormatConverterNode"]["implementation"] == _native.STATUS.impl


def test_console_script_info():
    exe = shutil.which("remotemedia", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "FormatConverterNode" in r.stdout
    assert (_native.STATUS.impl + " ") in r.stdout


def test_demo_runs_and_reports_its_implementation():
    # The full demo is covered by tests/test_demo.py; here a small corpus.
    r = subprocess.run([sys.executable, "-m", "remotemedia", "demo", "--files", "6"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "failed           0" in r.stdout
    assert f"implementation: {_native.STATUS.impl}" in r.stdout


def test_cli_reports_native_unavailable_as_an_error():
    env = dict(os.environ, REMOTEMEDIA_IMPL="bogus")
    r = subprocess.run([sys.executable, "-m", "remotemedia", "info"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode != 0
    assert "REMOTEMEDIA_IMPL: expected one of auto, python, native, given 'bogus'" in r.stderr
