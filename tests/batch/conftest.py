"""Fixtures of the batch tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # batch_helpers and batch_test_nodes (workers import the latter too)
    sys.path.insert(0, str(HERE))

from batch_helpers import SPEECH  # noqa: E402


@pytest.fixture
def speech_dir() -> Path:
    return SPEECH


@pytest.fixture
def subprocess_env() -> dict:
    """Environment for CLI subprocesses: this folder importable (for --plugin batch_test_nodes)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


from fault_server import fault_server  # noqa: E402, F401  (a fixture: a real HTTP server injecting faults)
