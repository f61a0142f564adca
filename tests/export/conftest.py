"""Fixtures of the export tests: export_helpers importable (the toolkits tests use it too)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
