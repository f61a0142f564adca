"""Helpers of the release checks: wheel metadata, a user environment without Rust, fresh venvs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import Dict, List, Optional

import pytest

DIST_ENV = "REMOTEMEDIA_DIST_DIR"
#: Environment variables a clean user environment does not inherit from the test process.
DROPPED_PREFIXES = ("PYTHON", "VIRTUAL_ENV", "CONDA", "REMOTEMEDIA_", "PIP_", "CARGO", "RUSTUP", "RUSTC", "RUSTFLAGS",
                    "MATURIN", "PYO3_", "NOX")
RUST_TOOLS = ("cargo", "rustc", "rustup")


def wheel_metadata(wheel: Path) -> "tuple[Dict[str, List[str]], str]":
    """(METADATA fields, each a list of values; the WHEEL file's text) of a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        info = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(info).decode()
        wheel_text = zf.read(info.replace("METADATA", "WHEEL")).decode()
    msg = Parser().parsestr(text)
    fields: Dict[str, List[str]] = {}
    for key, value in msg.items():
        fields.setdefault(key, []).append(value)
    return fields, wheel_text


@dataclass(frozen=True)
class Artifacts:
    """The four release files: the pure and the runtime wheel and sdist."""

    dist: Path
    pure_wheel: Path
    pure_sdist: Path
    runtime_wheel: Path
    runtime_sdist: Path


def rustless_env(extra_path: Optional[Path] = None) -> Dict[str, str]:
    """The environment of a user without Rust: this process's, minus Python/pip/cargo settings,
    with every PATH directory that holds cargo, rustc or rustup removed."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(DROPPED_PREFIXES)}
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, tool)) for tool in RUST_TOOLS)]
    if extra_path is not None:
        dirs.insert(0, str(extra_path))
    env["PATH"] = os.pathsep.join(dirs)
    env["PIP_CONFIG_FILE"] = os.devnull  # no user or site pip configuration (an index, find-links ...)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    for tool in RUST_TOOLS:
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} still on the stripped PATH"
    return env


class Venv:
    """A fresh virtual environment (with pip) run with :func:`rustless_env`."""

    def __init__(self, path: Path, python: Optional[str] = None):
        self.path = path
        if python is None:
            venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
        else:  # another interpreter makes its own
            subprocess.run([python, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
        self.bin = path / "bin"
        self.python = self.bin / "python"
        self.env = rustless_env(self.bin)
        self.env["VIRTUAL_ENV"] = str(path)

    def run(self, *args: str, cwd: Optional[Path] = None, check: bool = True, env: Optional[Dict[str, str]] = None,
            timeout_s: float = 600) -> subprocess.CompletedProcess:
        """Runs a command of this environment (``args[0]`` looked up in its bin/ first)."""
        exe = shutil.which(args[0], path=self.env["PATH"])
        assert exe is not None, f"{args[0]} not found on {self.env['PATH']}"
        r = subprocess.run([exe, *args[1:]], cwd=cwd or self.path, env={**self.env, **(env or {})},
                           capture_output=True, text=True, timeout=timeout_s)
        if check and r.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def pip_install(self, *args: str, report: Optional[Path] = None, check: bool = True) -> subprocess.CompletedProcess:
        extra = ["--report", str(report)] if report else []
        return self.run("python", "-m", "pip", "install", "--no-index", *extra, *args, check=check)

    def distributions(self) -> Dict[str, str]:
        """Installed distributions: normalised name -> version."""
        out = self.run("python", "-m", "pip", "list", "--format=json").stdout
        return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out)}
