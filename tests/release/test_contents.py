"""What the release artifacts hold: file lists against expected sets, metadata, platform tag."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from release_helpers import wheel_metadata

from remotemedia._version import __version__

ROOT = Path(__file__).resolve().parents[2]
LICENCES = ("LICENSE", "LICENSE-WebRTC-VAD")
#: [tool.setuptools.package-data] of pyproject.toml, as globs under remotemedia/.
PACKAGE_DATA = ("py.typed", "data/speech/*.wav", "data/speech/README.md", "data/pipelines/*.json", "schemas/*.json")


def names(wheel: Path) -> set:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def expected_pure_files() -> set:
    """Every module of remotemedia/ in the source tree, the package data, and the dist-info files."""
    pkg = ROOT / "remotemedia"
    files = set()
    for path in pkg.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(pkg).as_posix()
        if rel.endswith(".py") or any(fnmatch.fnmatch(rel, g) for g in PACKAGE_DATA):
            files.add(f"remotemedia/{rel}")
    info = f"remotemedia-{__version__}.dist-info"
    files |= {f"{info}/{n}" for n in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt")}
    files |= {f"{info}/licenses/{n}" for n in LICENCES}
    return files


def test_pure_wheel_holds_the_package_its_data_and_licences_and_nothing_else(artifacts):
    got = names(artifacts.pure_wheel)
    expected = expected_pure_files()
    assert got == expected, f"missing: {sorted(expected - got)}; unexpected: {sorted(got - expected)}"
    # What the set implies, said outright: typed, demo data, no tests, no compiled or cached files.
    for required in ("remotemedia/py.typed", "remotemedia/data/pipelines/speech_prep.json",
                     "remotemedia/data/speech/en_f_8k.wav", "remotemedia/kernels/_webrtc_vad_py/core.py"):
        assert required in got
    assert not [n for n in got if n.startswith("tests/") or n.endswith((".so", ".pyc", ".pyd"))]


def test_runtime_wheel_file_list(artifacts):
    info = f"remotemedia_runtime-{__version__}.dist-info"
    expected = {
        "remotemedia_runtime/__init__.py",
        "remotemedia_runtime/__init__.pyi",
        "remotemedia_runtime/py.typed",
        "remotemedia_runtime/remotemedia_runtime.abi3.so",
        f"{info}/METADATA",
        f"{info}/WHEEL",
        f"{info}/RECORD",
        f"{info}/licenses/LICENSE",
        f"{info}/licenses/LICENSE-WebRTC-VAD",
        f"{info}/sboms/remotemedia-runtime.cyclonedx.json",
    }
    assert names(artifacts.runtime_wheel) == expected
    with zipfile.ZipFile(artifacts.runtime_wheel) as zf:
        assert zf.read("remotemedia_runtime/__init__.pyi") == (ROOT / "native" / "remotemedia_runtime.pyi").read_bytes()


@pytest.mark.parametrize("which", ["pure_wheel", "runtime_wheel"])
def test_licence_files_are_the_repository_ones(artifacts, which):
    wheel = getattr(artifacts, which)
    with zipfile.ZipFile(wheel) as zf:
        for name in LICENCES:
            (member,) = [n for n in zf.namelist() if n.endswith(f".dist-info/licenses/{name}")]
            assert zf.read(member) == (ROOT / name).read_bytes()
    notice = (ROOT / "LICENSE-WebRTC-VAD").read_text()
    assert "Copyright (c) 2011, The WebRTC project authors" in notice and "Redistributions in binary form" in notice


def test_native_folder_carries_the_same_licence_files():
    # native/ is its own project root (maturin reads licence files from there): keep the copies equal.
    for name in LICENCES:
        assert (ROOT / "native" / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_metadata_pins_the_runtime_exactly_and_declares_the_licences(artifacts):
    pure, _ = wheel_metadata(artifacts.pure_wheel)
    runtime, runtime_wheel_file = wheel_metadata(artifacts.runtime_wheel)
    assert pure["Version"] == runtime["Version"] == [__version__]
    assert f'remotemedia-runtime=={__version__}; extra == "native"' in pure["Requires-Dist"]
    assert pure["Requires-Python"] == runtime["Requires-Python"] == [">=3.9"]
    for fields in (pure, runtime):
        assert fields["License-Expression"] == ["MIT AND BSD-3-Clause"]
        assert sorted(fields["License-File"]) == sorted(LICENCES)
    assert "Root-Is-Purelib: false" in runtime_wheel_file


def test_runtime_wheel_is_abi3_and_manylinux_within_this_machines_glibc(artifacts, tmp_path):
    _, wheel_file = wheel_metadata(artifacts.runtime_wheel)
    (tag,) = re.findall(r"^Tag: (.+)$", wheel_file, re.M)
    m = re.fullmatch(r"cp39-abi3-manylinux_2_(\d+)_x86_64", tag)
    assert m, tag
    policy_minor = int(m.group(1))
    assert os.environ.get("REMOTEMEDIA_MANYLINUX", f"manylinux_2_{policy_minor}") == f"manylinux_2_{policy_minor}"
    libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    assert libc.startswith("glibc "), libc
    assert policy_minor <= int(libc.split(".")[1]), f"tag {tag} claims more than this machine's {libc}"
    # pypa's auditwheel, independently of maturin's own check: the module is consistent with the tag.
    r = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(artifacts.runtime_wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert f'consistent with the following platform tag: "manylinux_2_{policy_minor}_x86_64"' in text, r.stdout
    # ... and the glibc symbol versions it needs stop at that policy.
    with zipfile.ZipFile(artifacts.runtime_wheel) as zf:
        so = zf.read("remotemedia_runtime/remotemedia_runtime.abi3.so")
    needed = {int(v) for v in re.findall(rb"GLIBC_2\.(\d+)", so)}
    assert max(needed) <= policy_minor, sorted(needed)


def test_sdists_hold_sources_and_licences_not_build_leftovers(artifacts):
    v = __version__
    with tarfile.open(artifacts.pure_sdist) as tf:
        pure = {m.name for m in tf.getmembers() if m.isfile()}
    with tarfile.open(artifacts.runtime_sdist) as tf:
        runtime = {m.name for m in tf.getmembers() if m.isfile()}
    for name in ("pyproject.toml", "README.md", "PKG-INFO", *LICENCES, "remotemedia/__init__.py",
                 "remotemedia/py.typed", "remotemedia/data/pipelines/speech_prep.json"):
        assert f"remotemedia-{v}/{name}" in pure, name
    for name in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "PKG-INFO", "remotemedia_runtime.pyi", *LICENCES,
                 "src/lib.rs", "kernels/Cargo.toml", "kernels/src/lib.rs", "kernels/src/fvad/core.rs"):
        assert f"remotemedia_runtime-{v}/{name}" in runtime, name
    leftovers = re.compile(r"/(target|fuzz|tests?/test_|\.nox|dist|build)/|__pycache__|\.(pyc|so|whl)$")
    assert not [n for n in pure if leftovers.search(n)]
    assert not [n for n in runtime if re.search(r"/(target|fuzz)/|\.(so|whl)$", n)]
