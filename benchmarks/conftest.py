import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from interleave import machine  # noqa: E402


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


LOADAVG_START = _loadavg()


def pytest_report_header(config):  # noqa: ARG001
    from remotemedia import _native

    m = machine()
    return [
        "machine: " + ", ".join(f"{k}={v}" for k, v in m.items()),
        f"remotemedia implementation: {_native.STATUS.impl} ({_native.STATUS.version or _native.STATUS.reason})",
        f"load average at start: {LOADAVG_START}",
    ]


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing package is reported as such
        return "not installed"


def pytest_benchmark_update_machine_info(config, machine_info):  # noqa: ARG001
    """Adds what RESULTS.md needs: versions, OpenBLAS state, load average (see make_results.py)."""
    import numpy

    from remotemedia import __version__, _native

    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc not found"
    m = machine()
    unset = os.environ.get("REMOTEMEDIA_BENCH_UNSET")
    machine_info["remotemedia"] = {
        "cpu": m["cpu"], "cores": m["cores"], "numpy": numpy.__version__, "rustc": rustc,
        "remotemedia": __version__, "runtime": _native.STATUS.version or f"absent ({_native.STATUS.reason})",
        "outside": ", ".join(f"{p} {_version(p)}" for p in ("soxr", "scipy", "webrtcvad-wheels", "soundfile")),
        "openblas": (f"{unset} in the caller's environment, unset for this run" if unset else
                     "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set"),
        "loadavg_start": LOADAVG_START, "loadavg_end": _loadavg(),
    }


def pytest_benchmark_update_json(config, benchmarks, output_json):  # noqa: ARG001
    """Drops the raw per-round timings (``stats.data``, up to 160k numbers per micro-benchmark) so the
    committed JSON stays small; the summary statistics and ``extra_info`` are kept."""
    for bench in output_json.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
