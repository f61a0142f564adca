"""Runs the benchmark suite with pytest-benchmark.

OpenBLAS overrides (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``) slow a current
numpy; they are removed here, for this command only (never in tests), and the
run says whether they were set.

Usage: python benchmarks/run.py [--json FILE] [pytest args...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def main(argv: list) -> int:
    was_set = {k: os.environ[k] for k in OVERRIDES if os.environ.get(k)}
    if was_set:
        env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
        env["REMOTEMEDIA_BENCH_UNSET"] = ",".join(f"{k}={v}" for k, v in was_set.items())
        os.execve(sys.executable, [sys.executable, __file__, *argv], env)
    print(f"OpenBLAS overrides removed for this run: {os.environ.get('REMOTEMEDIA_BENCH_UNSET') or 'none were set'}")
    import pytest

    args = []
    if argv[:1] == ["--json"]:
        args += [f"--benchmark-json={argv[1]}"]
        argv = argv[2:]
    here = Path(__file__).parent
    return pytest.main([str(here), "-p", "no:cacheprovider", "-s", "--benchmark-sort=name", *args, *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
