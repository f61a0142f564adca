"""Developer sessions: tests on both implementations, lint, benchmarks.

``nox -s tests`` runs the whole suite twice (``nox -s toolkits``, outside CI, loads the exports
with ``datasets`` and lhotse):

- ``tests(impl='python')``: a pure install (no compiled module at all), so
  every node must fall back to numpy;
- ``tests(impl='native')``: both distributions installed and
  ``REMOTEMEDIA_IMPL=native``, so a missing or mismatched compiled module
  fails the run instead of silently falling back.

The Rust crate is built in-tree (``native/target``), so the native session
reuses the build that ``pip install ./native`` already made in the same clone.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import re
import shutil

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False

ROOT = pathlib.Path(__file__).parent


@nox.session
@nox.parametrize("impl", ["python", "native"])
def tests(session: nox.Session, impl: str) -> None:
    """The full test suite in one implementation."""
    if impl == "native":
        session.install("./native", ".[native,test]")
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
