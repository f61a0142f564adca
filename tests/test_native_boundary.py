"""The compiled module's boundary: versions, no-op call, errors instead of panics."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import _native
from remotemedia._version import __version__

pytestmark = pytest.mark.skipif(_native.module() is None, reason=f"native unavailable: {_native.STATUS.reason}")


@pytest.fixture
def rt():
    return _native.module()


def test_version_and_abi_match(rt):
    assert rt.__version__ == __version__
    assert rt.ABI_VERSION == _native.EXPECTED_ABI_VERSION
    info = rt.build_info()
    assert info["version"] == __version__ and info["abi_version"] == rt.ABI_VERSION


def test_noop_borrows_and_returns_length(rt):
    a = np.zeros((3, 5), dtype=np.float32)
    a.flags.writeable = False
    assert rt.noop(a) == 15
    assert rt.noop_borrow_f32(a) == 15


def _assert_plain_error(exc: BaseException) -> None:
    # A Rust panic surfaces as pyo3_runtime.PanicException, a BaseException subclass.
    assert isinstance(exc, Exception), f"got {type(exc).__module__}.{type(exc).__name__}"
    assert "Panic" not in type(exc).__name__


@pytest.mark.parametrize(
    "call",
    [
        lambda rt: rt.convert_f32_i16(np.zeros(4, np.float32), np.zeros(3, np.int16)),  # length mismatch
        lambda rt: rt.convert_f32_i16(np.zeros(4, np.float64), np.zeros(4, np.int16)),  # wrong dtype
        lambda rt: rt.convert_f32_i16(np.zeros(8, np.float32)[::2], np.zeros(4, np.int16)),  # non-contiguous
        lambda rt: rt.convert_i16_f32(np.zeros(4, np.int16), np.zeros(4, np.float32)[::-1]),  # non-contiguous out
        lambda rt: rt.convert_i16_f32(np.zeros((2, 2), np.int16), np.zeros(4, np.float32)),  # wrong ndim
        lambda rt: rt.convert_i16_f32(None, np.zeros(4, np.float32)),  # not an array
        lambda rt: rt.noop([1, 2, 3]),
    ],
)
def test_bad_direct_calls_raise_python_errors_not_panics(rt, call):
    with pytest.raises(BaseException) as info:
        call(rt)
    _assert_plain_error(info.value)


def test_length_mismatch_message(rt):
    with pytest.raises(ValueError, match=r"out: expected 4 samples \(same as the input\), given 3"):
        rt.convert_f32_i16(np.zeros(4, np.float32), np.zeros(3, np.int16))


def test_read_only_out_is_refused(rt):
    out = np.zeros(4, np.int16)
    out.flags.writeable = False
    with pytest.raises(BaseException) as info:
        rt.convert_f32_i16(np.zeros(4, np.float32), out)
    _assert_plain_error(info.value)
