"""Developer sessions: tests on both implementations, lint, benchmarks.

``nox -s tests`` runs the whole suite twice (``nox -s toolkits``, outside CI, loads the exports
with ``datasets`` and lhotse):

- ``tests(impl='python')``: a pure install (no compiled module at all), so
  every node must fall back to numpy;
- ``tests(impl='native')``: both distributions installed and
  ``REMOTEMEDIA_IMPL=native``, so a missing or mismatched compiled module
  fails the run instead of silently falling back.

The Rust crate is built in-tree (``native/target``). The native session builds
the release wheel of ``remotemedia-runtime`` exactly as ``nox -s wheels`` does
(same profile, features and interpreter string, so cargo reuses one build) and
tests that wheel; a full run of it (no posargs) then queues ``wheels``, which
builds every release artifact into ``dist/`` and installs them in fresh
environments without Rust (``tests/release/``, docs/releasing.md).
"""

from __future__ import annotations

import datetime
import os
import pathlib
import re
import shutil
import subprocess
import sys

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False

ROOT = pathlib.Path(__file__).parent
DIST = ROOT / "dist"
#: The platform tag of the release wheel: the oldest manylinux policy whose glibc symbol versions
#: the compiled module stays within when built on the CI machine (Debian 12, glibc 2.36): Rust's
#: std links pthread_key_create and friends at GLIBC_2.34, where they moved into libc. maturin's
#: auditwheel check fails the build if a change needs a newer glibc (or links another library).
MANYLINUX = "manylinux_2_34"
MATURIN = "maturin>=1.9.3,<2"
#: The interpreter maturin is pointed at. pyo3's build script reruns, and pyo3 with everything
#: above it recompiles, whenever this string changes; abi3 makes the wheel the same whichever
#: CPython >= 3.9 it names, so every session names the real path of the one running nox.
PYO3_PYTHON = os.path.realpath(sys.executable)


def _source_date_epoch() -> str:
    """``SOURCE_DATE_EPOCH`` for reproducible artifacts: the environment's, else HEAD's commit time."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = ""
    return out or "315532800"  # 1980-01-01, the earliest time a zip file can hold


def _other_pythons() -> "list[str]":
    """The oldest and the newest CPython of 3.9-3.13 other than this one that run here (on PATH, or
    pyenv's): the abi3 runtime wheel is installed and run on them too."""
    this = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = []
    for minor in range(9, 14):
        version = f"3.{minor}"
        if version == this:
            continue
        candidates = [shutil.which(f"python{version}")]
        pyenv = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv")) / "versions"
        candidates += sorted(str(p) for p in pyenv.glob(f"{version}.*/bin/python{version}"))
        for exe in filter(None, candidates):
            ok = subprocess.run([exe, "-c", f"import sys, venv; assert sys.version_info[:2] == (3, {minor})"],
                                capture_output=True).returncode == 0
            if ok:
                found.append(exe)
                break
    return found[:1] + found[1:][-1:]


def _build_runtime_wheel(session: nox.Session, out: pathlib.Path) -> pathlib.Path:
    """One release build of ``remotemedia-runtime`` (abi3, ``MANYLINUX``) into ``out``; returns the wheel."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("remotemedia_runtime-*.whl"):
        old.unlink()
    session.run("maturin", "build", "--release", "--manifest-path", str(ROOT / "native" / "Cargo.toml"),
                "--interpreter", PYO3_PYTHON, "--compatibility", MANYLINUX, "--auditwheel", "check",
                "--out", str(out), env={"SOURCE_DATE_EPOCH": _source_date_epoch()})
    (wheel,) = out.glob("remotemedia_runtime-*.whl")
    return wheel


@nox.session
@nox.parametrize("impl", ["python", "native"])
def tests(session: nox.Session, impl: str) -> None:
    """The full test suite in one implementation."""
    if impl == "native":
        # The release wheel itself (what `nox -s wheels` ships), not a second build of ./native.
        session.install(MATURIN)
        wheel = _build_runtime_wheel(session, pathlib.Path(session.create_tmp()) / "wheel")
        session.install(str(wheel), ".[native,test]")
    else:
        session.install(".[test]")
    env = {"REMOTEMEDIA_TEST_EXPECT_IMPL": impl}
    if impl == "native":
        env["REMOTEMEDIA_IMPL"] = "native"
    if impl == "native":
        # The kernels' own Rust tests (no Python involved), on the release build just made.
        with session.chdir("native"):
            session.run("cargo", "test", "--release", "--quiet", "-p", "remotemedia-kernels", external=True)
    # Tests import the installed package, not the checkout.
    session.run("pytest", *session.posargs, env=env)
    if impl == "native" and not session.posargs:
        # The whole suite ran: check the release artifacts too (reuses this session's Rust build).
        session.notify("wheels")


@nox.session
def wheels(session: nox.Session) -> None:
    """Builds the release artifacts into dist/ and tests them (docs/releasing.md).

    dist/ gets the ``remotemedia`` wheel and sdist (``python -m build``: the wheel is built from
    the sdist) and the ``remotemedia-runtime`` wheel (maturin, release, abi3 for CPython >= 3.9,
    ``MANYLINUX``) and sdist, all stamped with ``SOURCE_DATE_EPOCH`` (HEAD's commit time unless
    set). Then ``tests/release/`` lists the wheels' files, installs them with pip ``--no-index``
    into fresh virtual environments whose PATH has no cargo, runs ``remotemedia info`` and
    ``remotemedia run`` there (native, then pure), refuses mismatched versions, and rebuilds
    (the pure wheel in place, the runtime from its sdist in a temporary folder) to compare
    contents. ``nox -s wheels -- -k contents`` runs some of those checks only.
    """
    session.install("build", MATURIN, "auditwheel", "pytest")
    epoch = _source_date_epoch()
    shutil.rmtree(DIST, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(DIST), str(ROOT), env={"SOURCE_DATE_EPOCH": epoch})
    session.run("maturin", "sdist", "--manifest-path", str(ROOT / "native" / "Cargo.toml"), "--out", str(DIST),
                env={"SOURCE_DATE_EPOCH": epoch})
    _build_runtime_wheel(session, DIST)
    for path in sorted(DIST.iterdir()):
        session.log(f"{path.name}: {path.stat().st_size:,} bytes")
    # tests/conftest.py imports remotemedia: the pure wheel just built serves it.
    (pure,) = DIST.glob("remotemedia-*.whl")
    session.install(str(pure))
    env = {"REMOTEMEDIA_DIST_DIR": str(DIST), "SOURCE_DATE_EPOCH": epoch, "REMOTEMEDIA_MANYLINUX": MANYLINUX,
           "REMOTEMEDIA_RELEASE_PYTHONS": os.pathsep.join(_other_pythons())}
    session.run("pytest", "-p", "no:cacheprovider", str(ROOT / "tests" / "release"), *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, rustfmt, clippy (warnings are errors) and the stub check."""
    session.install("ruff", "mypy", "./native", ".[native]")
    session.run("ruff", "check", "remotemedia", "tests", "benchmarks", "examples", "noxfile.py")
    with session.chdir("native"):
        session.run("cargo", "fmt", "--check", external=True)
        session.run("cargo", "clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings",
                    external=True)
        session.run("cargo", "fmt", "--check", "--manifest-path", "fuzz/Cargo.toml", external=True)
        session.run("python", "-m", "mypy.stubtest", "remotemedia_runtime", "--allowlist", "stubtest-allowlist.txt",
                    env={"MYPYPATH": "."})


@nox.session
def bench(session: nox.Session) -> None:
    """The full benchmark suite; writes benchmarks/results/<date>.json, then RESULTS.md and results.png from it."""
    session.install("./native", ".[native,bench]")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    result = out / f"{stamp}.json"
    session.run("python", "benchmarks/run.py", "--json", str(result), *session.posargs)
    command = "nox -s bench" + (" -- " + " ".join(session.posargs) if session.posargs else "")
    session.run("python", "benchmarks/make_results.py", str(result), "--command", command)


@nox.session(reuse_venv=True)
def toolkits(session: nox.Session) -> None:
    """The exports loaded by the real toolkits: ``datasets`` and lhotse (tests marked ``toolkits``).

    Not part of CI (``.ci/run``): recent ``datasets`` decodes audio with ``torchcodec``, which needs
    torch, and lhotse needs torch too; the registry's Linux torch wheel pulls its CUDA libraries, a
    5-6 GB install (the virtualenv is reused between runs). torchcodec also needs FFmpeg's shared
    libraries (4 to 7) on the machine (Debian: ``apt-get install ffmpeg``). None of these becomes a
    dependency of remotemedia; the CI sessions check the same files structurally without them.
    """
    session.install(".[test]", "datasets", "torchcodec", "torch", "lhotse", "urllib3")
    try:
        session.run("python", "-c", "import torchcodec.decoders", silent=True)
    except nox.command.CommandFailed:
        session.error("torchcodec cannot load FFmpeg's shared libraries (4 to 7): install them first, e.g. "
                      "apt-get install ffmpeg")
    session.run("pytest", "-m", "toolkits", "tests/export", *session.posargs,
                env={"REMOTEMEDIA_TEST_TOOLKITS": "1", "REMOTEMEDIA_TEST_EXPECT_IMPL": "python"})


@nox.session(venv_backend="none")
def fuzz(session: nox.Session) -> None:
    """cargo fuzz on the pure-Rust kernels: each target for FUZZ_SECONDS (default 60) seconds.

    ``nox -s fuzz`` runs every target in ``native/fuzz/Cargo.toml``; ``nox -s fuzz -- vad resample``
    runs some. Installs cargo-fuzz when it is missing. libFuzzer needs nightly compiler flags
    (``-Zsanitizer=address``), allowed on the stable toolchain by ``RUSTC_BOOTSTRAP=1``. A crash
    leaves its input in ``native/fuzz/artifacts/<target>/``. Not part of CI (see native/fuzz/README.md).
    """
    fuzz_dir = ROOT / "native" / "fuzz"
    targets = re.findall(r'^\[\[bin\]\]\s*\nname = "([^"]+)"', (fuzz_dir / "Cargo.toml").read_text(), re.M)
    wanted = session.posargs or targets
    unknown = sorted(set(wanted) - set(targets))
    if unknown:
        session.error(f"unknown fuzz target(s) {unknown}; known: {targets}")
    if shutil.which("cargo-fuzz") is None:
        session.run("cargo", "install", "cargo-fuzz", "--locked", external=True)
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    env = {"RUSTC_BOOTSTRAP": "1"}
    with session.chdir(fuzz_dir):
        session.run("cargo", "fuzz", "build", external=True, env=env)
        for target in wanted:
            session.run("cargo", "fuzz", "run", target, "--", f"-max_total_time={seconds}", "-rss_limit_mb=4096",
                        "-timeout=60", "-print_final_stats=1", external=True, env=env)
