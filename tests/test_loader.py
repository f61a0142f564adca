"""REMOTEMEDIA_IMPL and the native loader, each case in a fresh interpreter."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

NATIVE_INSTALLED = importlib.util.find_spec("remotemedia_runtime") is not None


def run_py(code: str, impl=None, **extra_env) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("REMOTEMEDIA_IMPL", None)
    if impl is not None:
        env["REMOTEMEDIA_IMPL"] = impl
    env.update(extra_env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


INFO_JSON = "import json, remotemedia; print(json.dumps(remotemedia.info()))"
HIDE_NATIVE = "import sys; sys.modules['remotemedia_runtime'] = None\n"


def test_unknown_value_raises_value_error():
    r = run_py("import remotemedia", impl="fast")
    assert r.returncode != 0
    assert "ValueError: REMOTEMEDIA_IMPL: expected one of auto, python, native, given 'fast'" in r.stderr


def test_python_forced_reports_python_everywhere():
    r = run_py(INFO_JSON, impl="python")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["native"]["available"] is False
    assert data["native"]["reason"] == "REMOTEMEDIA_IMPL=python"
    assert data["nodes"], "no node types registered"
    assert {d["implementation"] for d in data["nodes"].values()} == {"python"}


@pytest.mark.parametrize("impl", [None, "auto", "AUTO", " native "])
def test_values_are_case_and_space_tolerant(impl):
    if impl and "native" in impl and not NATIVE_INSTALLED:
        pytest.skip("native not installed")
    r = run_py("import remotemedia; print(remotemedia.__impl__)", impl=impl)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("native" if NATIVE_INSTALLED else "python")


@pytest.mark.parametrize("hide", [True, False])
def test_missing_native_falls_back_under_auto_and_fails_under_native(hide):
    if not hide and NATIVE_INSTALLED:
        pytest.skip("this case runs in the pure install, where the module is really absent")
    prefix = HIDE_NATIVE if hide else ""
    r = run_py(prefix + INFO_JSON)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["native"]["available"] is False
    assert "remotemedia_runtime" in data["native"]["reason"] and "not installed" in data["native"]["reason"]
    assert {d["implementation"] for d in data["nodes"].values()} == {"python"}
    r = run_py(prefix + "import remotemedia", impl="native")
    assert r.returncode != 0
    assert "NativeUnavailableError: REMOTEMEDIA_IMPL=native but native cannot be used:" in r.stderr
    assert "not installed" in r.stderr
    r = run_py(prefix + "try:\n import remotemedia\nexcept ImportError as e:\n print(type(e).__name__)", impl="native")
    assert r.stdout.strip() == "NativeUnavailableError"


def test_version_mismatch_is_refused():
    fake = (
        "import sys, types; m = types.ModuleType('remotemedia_runtime'); m.__version__ = '0.0.1'; "
        "m.ABI_VERSION = 1; sys.modules['remotemedia_runtime'] = m\n"
    )
    r = run_py(fake + INFO_JSON)
    assert r.returncode == 0, r.stderr
    reason = json.loads(r.stdout)["native"]["reason"]
    assert "version 0.0.1 does not match remotemedia" in reason
    r = run_py(fake + "import remotemedia", impl="native")
    assert r.returncode != 0 and "version 0.0.1 does not match remotemedia" in r.stderr


def test_abi_mismatch_is_refused():
    from remotemedia._native import EXPECTED_ABI_VERSION
    from remotemedia._version import __version__

    fake = (
        "import sys, types; m = types.ModuleType('remotemedia_runtime'); "
        f"m.__version__ = {__version__!r}; m.ABI_VERSION = 999; sys.modules['remotemedia_runtime'] = m\n"
    )
    r = run_py(fake + "import remotemedia", impl="native")
    assert r.returncode != 0 and f"ABI version 999 does not match the expected {EXPECTED_ABI_VERSION}" in r.stderr


@pytest.mark.skipif(not NATIVE_INSTALLED, reason="native not installed")
def test_native_installed_reports_native_for_kernel_nodes():
    r = run_py(INFO_JSON, impl="native")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["native"]["available"] is True
    kernel_nodes = {k: v for k, v in data["nodes"].items() if v["kernel"]}
    assert kernel_nodes
    assert {v["implementation"] for v in kernel_nodes.values()} == {"native"}
    assert {v["implementation"] for v in data["kernels"].values()} == {"native"}


def test_importing_remotemedia_does_not_import_pydantic_or_the_nodes():
    r = run_py("import sys, remotemedia; print(sorted(m for m in ('pydantic', 'remotemedia.nodes.audio') "
               "if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_only_the_loader_imports_the_compiled_module():
    import pathlib

    import remotemedia

    root = pathlib.Path(remotemedia.__file__).parent
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "_native.py" and "import remotemedia_runtime" in p.read_text()
    ]
    assert offenders == []
