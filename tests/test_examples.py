"""Every example runs unchanged with REMOTEMEDIA_IMPL=python and =native and writes the same outputs.

Discovery: every ``examples/*.py`` and ``examples/legacy/*.py`` not starting with ``_``. Each runs
in a subprocess as ``python EXAMPLE OUTPUT_FOLDER`` (cwd: a fresh tmp folder), once per
implementation, each into its own folder; the native run is skipped when the compiled module is not
installed. Then the two folders are compared:

- the same file names (recursively), at least one file;
- ``.json``: the parsed documents are equal (floats included);
- ``.wav``: same channels, sample width, rate and length, and the same samples;
- ``.npy``: same dtype and shape; integer and bool arrays equal; float arrays equal, or within
  the resampler's documented agreement between implementations: a signal-to-difference ratio of
  at least 120 dB (``remotemedia.kernels.resample``: "agree to > 120 dB SDR"); NaNs in the same places;
- anything else: byte-identical.

An example can adjust its own check with marker comments (one or more lines, ``key=value`` pairs):

    # example-test: timeout=120            seconds per run (default 60)
    # example-test: sdr_db=100             minimum SDR of float arrays (default 120)
    # example-test: int_lsb=1              integer samples (.npy, .wav) may differ by this much
    #                                      (e.g. int16 written after resampling: float rounding can
    #                                      move a sample across a rounding boundary; default 0)
    # example-test: ignore=report.html,trace*.json
    #                                      compared by name only (timings, host names, ...)

An unknown key is an error, so a typo cannot silently loosen a check.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import wave
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(
    p for pattern in ("examples/*.py", "examples/legacy/*.py") for p in ROOT.glob(pattern) if not p.name.startswith("_")
)
#: The resampler's documented agreement between implementations (remotemedia/kernels/resample.py).
DEFAULT_SDR_DB = 120.0
DEFAULT_TIMEOUT_S = 60.0
NATIVE_INSTALLED = importlib.util.find_spec("remotemedia_runtime") is not None
_MARKER = re.compile(r"^\s*#\s*example-test:(.*)$")


@dataclass
class Options:
    """Per-example settings read from ``# example-test:`` comments."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    sdr_db: float = DEFAULT_SDR_DB
    int_lsb: int = 0
    ignore: List[str] = field(default_factory=list)


def read_options(source: str) -> Options:
    """Parses every ``# example-test: key=value ...`` line of an example's source."""
    opts = Options()
    for line in source.splitlines():
        match = _MARKER.match(line)
        if not match:
            continue
        for pair in match.group(1).split():
            key, sep, value = pair.partition("=")
            if not sep or not value:
                raise ValueError(f"example-test marker: expected key=value, given {pair!r}")
            if key == "timeout":
                opts.timeout_s = float(value)
            elif key == "sdr_db":
                opts.sdr_db = float(value)
            elif key == "int_lsb":
                opts.int_lsb = int(value)
            elif key == "ignore":
                opts.ignore += [g for g in value.split(",") if g]
            else:
                raise ValueError(f"example-test marker: unknown key {key!r} (timeout, sdr_db, int_lsb, ignore)")
    return opts


def example_id(path: pathlib.Path) -> str:
    return path.relative_to(ROOT / "examples").as_posix()


# --------------------------------------------------------------------------- running


_RUNS: Dict[Tuple[str, str], pathlib.Path] = {}


@pytest.fixture(scope="session")
def run_example(tmp_path_factory):
    """``run_example(path, impl)`` -> the output folder of that run (each run happens once per session)."""

    def run(path: pathlib.Path, impl: str) -> pathlib.Path:
        key = (example_id(path), impl)
        if key not in _RUNS:
            opts = read_options(path.read_text())
            work = tmp_path_factory.mktemp(f"{path.stem}-{impl}")
            out = work / "out"
            env = {**os.environ, "REMOTEMEDIA_IMPL": impl}
            proc = subprocess.run([sys.executable, str(path), str(out)], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=opts.timeout_s)
            assert proc.returncode == 0, (
                f"{key[0]} failed with REMOTEMEDIA_IMPL={impl} (exit {proc.returncode})\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
            assert out.is_dir() and any(out.iterdir()), f"{key[0]} wrote nothing to {out}"
            _RUNS[key] = out
        return _RUNS[key]

    return run


def test_examples_are_discovered():
    names = {example_id(p) for p in EXAMPLES}
    assert {"minimal_pipeline.py", "branches_manifest.py", "custom_node.py", "vad_segments.py",
            "resampling_presets.py", "format_conversion.py", "manifest_pipeline.py",
            "speech_prep_file.py", "streaming_long_file.py", "retries_flaky_http.py", "metrics_report.py",
            "batch_folder.py", "batch_dask.py", "legacy/audio_nodes.py"} <= names
    assert not any(p.name.startswith("_") for p in EXAMPLES)


@pytest.mark.parametrize("impl", ["python", "native"])
@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_example_runs(example, impl, run_example):
    if impl == "native" and not NATIVE_INSTALLED:
        pytest.skip("the compiled module remotemedia_runtime is not installed")
    run_example(example, impl)


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_example_outputs_match_between_implementations(example, run_example):
    if not NATIVE_INSTALLED:
        pytest.skip("the compiled module remotemedia_runtime is not installed")
    opts = read_options(example.read_text())
    problems = compare_folders(run_example(example, "python"), run_example(example, "native"), opts)
    assert not problems, f"{example_id(example)}: outputs differ between implementations:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- comparing


def compare_folders(a: pathlib.Path, b: pathlib.Path, opts: Options) -> List[str]:
    """Every difference between two output folders (empty when they match)."""
    names_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    names_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    problems = []
    if names_a != names_b:
        problems.append(f"file names differ: only python {sorted(names_a - names_b)}, "
                        f"only native {sorted(names_b - names_a)}")
    for name in sorted(names_a & names_b):
        if any(fnmatch.fnmatch(name, g) for g in opts.ignore):
            continue
        problem = compare_files(a / name, b / name, opts)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def compare_files(a: pathlib.Path, b: pathlib.Path, opts: Options) -> str:
    """Why two output files differ, or ``""``."""
    suffix = a.suffix.lower()
    if suffix == ".json":
        da, db = json.loads(a.read_text()), json.loads(b.read_text())
        return "" if da == db else f"JSON differs:\n  python: {_short(da)}\n  native: {_short(db)}"
    if suffix == ".npy":
        return compare_arrays(np.load(a, allow_pickle=False), np.load(b, allow_pickle=False), opts)
    if suffix == ".wav":
        (pa, xa), (pb, xb) = _read_wav(a), _read_wav(b)
        if pa != pb:
            return f"WAV parameters differ: {pa} vs {pb}"
        return compare_arrays(xa, xb, opts)
    return "" if a.read_bytes() == b.read_bytes() else "contents differ"


def compare_arrays(x: np.ndarray, y: np.ndarray, opts: Options) -> str:
    """Why two arrays differ beyond the allowed tolerance, or ``""``."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return f"dtype/shape differ: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
    if np.array_equal(x, y):
        return ""
    if x.dtype.kind in "iub":
        worst = int(np.max(np.abs(x.astype(np.int64) - y.astype(np.int64))))
        return "" if worst <= opts.int_lsb else (
            f"integer values differ by up to {worst} (allowed {opts.int_lsb}) at {np.count_nonzero(x != y)} places")
    if x.dtype.kind == "f":
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return "NaNs in different places"
        xf, yf = np.nan_to_num(x.astype(np.float64)), np.nan_to_num(y.astype(np.float64))
        signal, noise = float(np.sum(xf ** 2)), float(np.sum((xf - yf) ** 2))
        sdr_db = float("inf") if noise == 0 else (10 * np.log10(signal / noise) if signal > 0 else float("-inf"))
        return "" if sdr_db >= opts.sdr_db else f"float arrays agree to {sdr_db:.1f} dB SDR (need {opts.sdr_db} dB)"
    return f"arrays of dtype {x.dtype} differ"


def _read_wav(path: pathlib.Path) -> Tuple[tuple, np.ndarray]:
    with wave.open(str(path), "rb") as f:
        params = (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes(), f.getcomptype())
        raw = f.readframes(f.getnframes())
    dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}.get(params[1])
    return params, (np.frombuffer(raw, dtype=dtype) if dtype is not None else np.frombuffer(raw, dtype=np.uint8))


def _short(obj: object) -> str:
    text = json.dumps(obj, sort_keys=True)
    return text if len(text) < 400 else text[:400] + "..."


# --------------------------------------------------------------------------- the checker itself


def test_compare_catches_differences(tmp_path):
    """The comparison is strict where it must be: these differences are all reported."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(1000).astype(np.float32)
    np.save(a / "float.npy", signal)
    np.save(b / "float.npy", signal + np.float32(1e-3))             # ~ 60 dB SDR: too far
    np.save(a / "ints.npy", np.arange(10, dtype=np.int16))
    np.save(b / "ints.npy", np.arange(10, dtype=np.int16) + (np.arange(10) == 3))  # one LSB off
    (a / "x.json").write_text('{"v": 0.5}')
    (b / "x.json").write_text('{"v": 0.5000001}')
    (a / "only_here.txt").write_text("")
    problems = compare_folders(a, b, Options())
    assert len(problems) == 4 and all(any(p.startswith(n) for p in problems)
                                      for n in ("file names", "float.npy", "ints.npy", "x.json"))
    # What the markers allow is allowed, and only that.
    assert compare_folders(a, b, Options(sdr_db=50, int_lsb=1, ignore=["x.json"])) == [problems[0]]
    np.save(b / "float.npy", signal + np.float32(1e-7) * signal)   # float rounding: ~140 dB SDR
    assert compare_arrays(np.load(a / "float.npy"), np.load(b / "float.npy"), Options()) == ""


def test_markers_are_parsed_and_typos_refused():
    opts = read_options("x = 1\n# example-test: timeout=120 int_lsb=1\n#example-test: ignore=a.html,b*.json\n")
    assert (opts.timeout_s, opts.int_lsb, opts.ignore, opts.sdr_db) == (120.0, 1, ["a.html", "b*.json"], 120.0)
    with pytest.raises(ValueError, match="unknown key 'tolerence'"):
        read_options("# example-test: tolerence=3")
