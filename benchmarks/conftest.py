import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from interleave import machine  # noqa: E402


def pytest_report_header(config):  # noqa: ARG001
    from remotemedia import _native

    m = machine()
    return [
        "machine: " + ", ".join(f"{k}={v}" for k, v in m.items()),
        f"remotemedia implementation: {_native.STATUS.impl} ({_native.STATUS.version or _native.STATUS.reason})",
    ]
