"""Format conversion: exact rules, errors, and python/native bit parity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from remotemedia.errors import KernelInputError

I16 = np.iinfo(np.int16)
I32 = np.iinfo(np.int32)


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def test_int16_to_float32_divides_by_32768(kernels):
    x = np.array([-32768, -16384, -1, 0, 1, 16384, 32767], dtype=np.int16)
    res = kernels.convert_format(x, "f32")
    assert res.samples.dtype == np.float32
    np.testing.assert_array_equal(res.samples, x.astype(np.float64) / 32768.0)
    assert res.clipped == 0


def test_int32_to_float32_rounds_like_a_cast(kernels):
    x = np.array([I32.min, -(2**24) - 1, -1, 0, 1, 2**24 + 1, I32.max], dtype=np.int32)
    res = kernels.convert_format(x, "f32")
    expected = (x.astype(np.float32) * np.float32(2.0**-31)).astype(np.float32)
    np.testing.assert_array_equal(bits(res.samples), bits(expected))
    assert res.samples[-1] == 1.0  # int32 max rounds up to 2^31 in float32


def test_float32_to_int16_rounds_half_to_even_and_clips(kernels):
    # k/32768 with k + 0.5 steps: exact halves, rounding to the even neighbour.
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32) / np.float32(32768)
    res = kernels.convert_format(halves, "i16")
    np.testing.assert_array_equal(res.samples, [0, 2, 2, 0, -2, -2])
    assert res.clipped == 0
    edge = np.array([1.0, -1.0, 2.0, -3.0, np.inf, -np.inf, np.nan, 32767.5 / 32768], dtype=np.float32)
    res = kernels.convert_format(edge, "i16")
    np.testing.assert_array_equal(res.samples, [32767, -32768, 32767, -32768, 32767, -32768, 0, 32767])
    # 1.0, 2.0, -3.0, inf, -inf are out of range; -1.0 is exactly the minimum; 32767.5 rounds to 32768.
    assert res.clipped == 6


def test_float32_to_int32_at_the_edges(kernels):
    x = np.array([1.0, np.nextafter(np.float32(1.0), np.float32(0)), -1.0, -1.0000001, 0.5, np.nan],
                 dtype=np.float32)
    res = kernels.convert_format(x, "i32")
    assert res.samples.dtype == np.int32
    np.testing.assert_array_equal(res.samples, [I32.max, 2147483520, I32.min, I32.min, 2**30, 0])
    assert res.clipped == 2


def test_float64_inputs(kernels):
    x = np.array([0.25, -1.0, 1.0, 1e300, np.nan, 1 / 3], dtype=np.float64)
    r16 = kernels.convert_format(x, "i16")
    np.testing.assert_array_equal(r16.samples, [8192, -32768, 32767, 32767, 0, 10923])
    assert r16.clipped == 2
    r32 = kernels.convert_format(x, "i32")
    np.testing.assert_array_equal(r32.samples, [2**29, I32.min, I32.max, I32.max, 0, 715827883])
    assert r32.clipped == 2
    rf = kernels.convert_format(x, "f32")
    with np.errstate(over="ignore"):
        expected = x.astype(np.float32)  # 1e300 overflows to inf, as a cast does
    np.testing.assert_array_equal(bits(rf.samples), bits(expected))


def test_int16_int32_shift(kernels):
    x = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    up = kernels.convert_format(x, "i32")
    np.testing.assert_array_equal(up.samples, x.astype(np.int64) * 65536)
    down = kernels.convert_format(up.samples, "i16")
    np.testing.assert_array_equal(down.samples, x)
    odd = np.array([32768, 98304, -32768, I32.max, I32.min], dtype=np.int32)  # 0.5, 1.5, -0.5 steps
    res = kernels.convert_format(odd, "i16")
    np.testing.assert_array_equal(res.samples, [0, 2, 0, 32767, -32768])
    assert res.clipped == 1


@pytest.mark.parametrize("fmt, dtype", [("f32", np.float32), ("i16", np.int16), ("i32", np.int32)])
def test_same_format_returns_the_input_object(kernels, fmt, dtype):
    x = np.zeros((2, 10), dtype=dtype)
    res = kernels.convert_format(x, fmt)
    assert res.samples is x
    assert res.clipped == 0


def test_shape_is_kept_and_aliases_accepted(kernels):
    x = (np.arange(24, dtype=np.int16) * 1000).reshape(3, 8)
    res = kernels.convert_format(x, "float32")
    assert res.samples.shape == (3, 8)
    np.testing.assert_array_equal(res.samples, x / 32768.0)


def test_out_array_is_written(kernels):
    x = np.linspace(-1.2, 1.2, 1001, dtype=np.float32).reshape(1, -1)
    out = np.full(x.shape, 7, dtype=np.int16)
    res = kernels.convert_format(x, "i16", out=out)
    assert res.samples is out
    np.testing.assert_array_equal(out, kernels.convert_format(x, "i16").samples)
    assert res.clipped == int(np.count_nonzero(np.abs(x) > 1.0))


def test_non_contiguous_input_is_handled(kernels):
    base = np.arange(-5000, 5000, dtype=np.int16).reshape(2, -1)
    view = base[:, ::3]
    assert not view.flags.c_contiguous
    res = kernels.convert_format(view, "f32")
    np.testing.assert_array_equal(res.samples, view / 32768.0)


def test_read_only_input(kernels):
    x = np.linspace(-1, 1, 100_000, dtype=np.float32)
    x.flags.writeable = False
    res = kernels.convert_format(x, "i16")
    assert res.samples.dtype == np.int16


def test_empty_input(kernels):
    res = kernels.convert_format(np.zeros((2, 0), dtype=np.float32), "i16")
    assert res.samples.shape == (2, 0) and res.clipped == 0


BAD_CALLS = [
    (lambda k: k.convert_format(np.zeros(4, dtype=np.uint8), "f32"), "samples: expected dtype int16, int32, float32 or float64, given uint8"),
    (lambda k: k.convert_format([0.0, 1.0], "f32"), "samples: expected a numpy.ndarray, given list"),
    (lambda k: k.convert_format(np.zeros(4, dtype=np.float32), "f16"), "target_format: expected one of 'f32', 'i16', 'i32', given 'f16'"),
    (lambda k: k.convert_format(np.zeros(4, dtype=np.float32), "i16", out=np.zeros(5, dtype=np.int16)), "out: expected shape (4,), given (5,)"),
    (lambda k: k.convert_format(np.zeros(4, dtype=np.float32), "i16", out=np.zeros(4, dtype=np.int32)), "out: expected dtype int16, given int32"),
    (lambda k: k.convert_format(np.zeros(8, dtype=np.float32), "i16", out=np.zeros(16, dtype=np.int16)[::2]), "out: expected a C-contiguous writeable array, given a non-contiguous or read-only array"),
]


@pytest.mark.parametrize("call, message", BAD_CALLS)
def test_bad_input_is_rejected_with_a_clear_message(kernels, call, message):
    with pytest.raises(KernelInputError) as info:
        call(kernels)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5 / 32768, 1.5 / 32768, -2.5 / 32768, 1.0000001, np.inf, -np.inf, np.nan, 3e38]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        hnp.arrays(np.float32, st.integers(0, 3000), elements=st.floats(-2, 2, width=32)),
        hnp.arrays(np.float32, st.integers(0, 200), elements=st.sampled_from(SPECIAL)),
        hnp.arrays(np.float64, st.integers(0, 2000), elements=st.floats(-1.5, 1.5) | st.sampled_from(SPECIAL)),
        hnp.arrays(np.int16, st.integers(0, 3000)),
        hnp.arrays(np.int32, st.integers(0, 3000)),
    ),
    target=st.sampled_from(["f32", "i16", "i32"]),
)
def test_parity_bit_identical_on_random_input(both_kernels, data, target):
    py, nat = both_kernels
    a = py.convert_format(data, target)
    b = nat.convert_format(data, target)
    assert a.samples.dtype == b.samples.dtype
    np.testing.assert_array_equal(bits(np.ascontiguousarray(a.samples)), bits(np.ascontiguousarray(b.samples)))
    assert a.clipped == b.clipped


@pytest.mark.parametrize("src", [np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("target", ["f32", "i16", "i32"])
def test_parity_on_large_arrays_crossing_blocks(both_kernels, src, target):
    rng = np.random.default_rng(7)
    n = 300_001  # several numpy blocks, and above the native GIL-release threshold
    if np.dtype(src).kind == "f":
        x = (rng.standard_normal(n) * 0.6).astype(src)
        x[::9973] = np.nan
    else:
        info = np.iinfo(src)
        x = rng.integers(info.min, info.max, n, endpoint=True).astype(src)
    py, nat = both_kernels
    a, b = py.convert_format(x, target), nat.convert_format(x, target)
    np.testing.assert_array_equal(bits(np.ascontiguousarray(a.samples)), bits(np.ascontiguousarray(b.samples)))
    assert a.clipped == b.clipped


@pytest.mark.parametrize("src, target", [(np.float32, "i16"), (np.int16, "f32"), (np.float64, "i32")])
def test_allocates_only_the_output(kernels, src, target):
    import tracemalloc

    n = 4_000_000
    x = np.ones(n, dtype=src)
    x.flags.writeable = False  # a borrowed, read-only input must do
    out_bytes = n * np.dtype({"i16": np.int16, "i32": np.int32, "f32": np.float32}[target]).itemsize
    tracemalloc.start()  # a no-op when metrics already started it
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        res = kernels.convert_format(x, target)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert res.samples.nbytes == out_bytes
    # The output, plus (numpy implementation) one cache-sized work block: never a copy of the input.
    assert out_bytes <= peak < out_bytes + 2_000_000, peak


def test_out_array_means_no_allocation_of_signal_size(kernels):
    import tracemalloc

    x = np.ones(4_000_000, dtype=np.float32)
    out = np.empty(x.shape, dtype=np.int16)
    tracemalloc.start()  # a no-op when metrics already started it
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        kernels.convert_format(x, "i16", out=out)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_native_releases_the_gil_for_large_arrays(both_kernels):
    """While a native conversion of a large array runs in a thread, Python code
    in this thread runs too. Deterministic, no timing: with a 100 s switch
    interval the interpreter never preempts a thread, so this thread can only
    run while the worker blocks or releases the GIL itself."""
    from gil_probe import ticks_during

    _, nat = both_kernels
    x = np.ones(20_000_000, dtype=np.float32)
    nat.convert_format(x[:10], "i16")  # warm up: a first call may import (file I/O releases the GIL)
    ticks = ticks_during(lambda: nat.convert_format(x, "i16"))
    # Had the call kept the GIL, the worker would have run to its end before this thread ran again.
    assert ticks > 0
