"""Shared fixtures: the implementation axis of every kernel test."""

from __future__ import annotations

import os

import pytest

from remotemedia import _native
from remotemedia import kernels as _kernels


def pytest_report_header(config):  # noqa: ARG001
    status = _native.STATUS
    native = f"native {status.version}" if status.available else f"native unavailable: {status.reason}"
    return [f"remotemedia implementation: {status.impl} (REMOTEMEDIA_IMPL={status.requested}; {native})"]


def pytest_sessionstart(session):  # noqa: ARG001
    # nox sets this so that a silent fallback fails the run instead of passing.
    expected = os.environ.get("REMOTEMEDIA_TEST_EXPECT_IMPL")
    if expected and _native.STATUS.impl != expected:
        raise pytest.UsageError(
            f"expected implementation {expected!r}, got {_native.STATUS.impl!r}: {_native.STATUS.reason}"
        )


NATIVE_AVAILABLE = _native.module() is not None


@pytest.fixture(params=["python", "native"])
def impl(request) -> str:
    """``"python"`` or ``"native"``; native is skipped where it is not installed."""
    if request.param == "native" and not NATIVE_AVAILABLE:
        pytest.skip(f"native unavailable: {_native.STATUS.reason}")
    return request.param


@pytest.fixture
def kernels(impl) -> _kernels.KernelSet:
    """The kernel functions bound to one implementation."""
    return _kernels.get(impl)


@pytest.fixture
def both_kernels():
    """(python, native) kernel sets, for parity tests; skipped without native."""
    if not NATIVE_AVAILABLE:
        pytest.skip(f"native unavailable: {_native.STATUS.reason}")
    return _kernels.get("python"), _kernels.get("native")
