"""Fixtures of the node tests: ``fault_server`` (see tests/fault_server.py)."""

from __future__ import annotations

from fault_server import fault_server  # noqa: F401  (a fixture)
