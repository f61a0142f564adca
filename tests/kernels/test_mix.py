"""Mix-down to mono: exact rules, layouts, errors, and python/native bit parity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError

I16 = np.iinfo(np.int16)
I32 = np.iinfo(np.int32)
DTYPES = [np.int16, np.int32, np.float32, np.float64]


def bits(a: np.ndarray) -> np.ndarray:
    """Bit patterns, with every NaN mapped to one value (payloads are not part of the contract)."""
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), np.array(np.nan, a.dtype), a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def exact_mean(x: np.ndarray) -> np.ndarray:
    """Integer reference from the rules: the exact mean with Python ints, rounded half to even."""
    out = []
    c = x.shape[0]
    for col in x.T.tolist():
        q, r = divmod(sum(col), c)  # floor division: 0 <= r < c
        out.append(q + (2 * r > c or (2 * r == c and q % 2 == 1)))
    return np.array([out], dtype=np.int64)


def sequential_mean(x: np.ndarray) -> np.ndarray:
    """Float reference from the rules: +0.0 + ch0 + ch1 + ... in float64, / C, cast back."""
    s = np.zeros(x.shape[1], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in x:
            s = s + row.astype(np.float64)
        return (s / x.shape[0]).astype(x.dtype)[np.newaxis, :]


def layouts(planar: np.ndarray) -> dict:
    """The same samples as a planar array, the transpose of interleaved data, and a strided slice."""
    interleaved = np.ascontiguousarray(planar.T).T
    wide = np.zeros((planar.shape[0], 2 * planar.shape[1]), planar.dtype)
    wide[:, ::2] = planar
    return {"planar": np.ascontiguousarray(planar), "interleaved": interleaved, "slice": wide[:, ::2]}


def test_layouts_helper_gives_what_it_says():
    d = layouts(np.zeros((3, 5), np.int16))
    assert d["planar"].flags.c_contiguous
    assert d["interleaved"].T.flags.c_contiguous and not d["interleaved"].flags.c_contiguous
    assert not d["slice"].flags.c_contiguous and not d["slice"].T.flags.c_contiguous


@pytest.mark.parametrize("layout", ["planar", "interleaved", "slice"])
def test_int_ties_round_half_to_even(kernels, layout):
    # Stereo sums 1, 3, 5, -1, -3, -5: means +-0.5, +-1.5, +-2.5.
    planar = np.array([[0, 1, 2, 0, -1, -2], [1, 2, 3, -1, -2, -3]], dtype=np.int16)
    out = kernels.mix_to_mono(layouts(planar)[layout])
    assert out.dtype == np.int16 and out.shape == (1, 6)
    np.testing.assert_array_equal(out, [[0, 2, 2, 0, -2, -2]])
    # Four channels (a shift of 2): sums 2, 6, -2, -6, 3, 5 -> 0.5, 1.5, -0.5, -1.5, 0.75, 1.25.
    planar = np.array([[2, 6, -2, -6, 3, 5], [0] * 6, [0] * 6, [0] * 6], dtype=np.int32)
    np.testing.assert_array_equal(kernels.mix_to_mono(layouts(planar)[layout]), [[0, 2, 0, -2, 1, 1]])
    # Six channels (through float64): sums 3, 9, -3, -9 -> +-0.5, +-1.5; 4 -> 0.67; 2 -> 0.33.
    planar = np.zeros((6, 6), np.int16)
    planar[0] = [3, 9, -3, -9, 4, 2]
    np.testing.assert_array_equal(kernels.mix_to_mono(layouts(planar)[layout]), [[0, 2, 0, -2, 1, 0]])


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
@pytest.mark.parametrize("channels", [2, 3, 5, 8, 1024])
@pytest.mark.parametrize("layout", ["planar", "interleaved", "slice"])
def test_int_extremes(kernels, dtype, channels, layout):
    info = np.iinfo(dtype)
    planar = np.zeros((channels, 7), dtype)
    planar[:, 0] = info.min
    planar[:, 1] = info.max
    planar[:, 2] = np.where(np.arange(channels) % 2, info.max, info.min)  # mean -0.5 (even count)
    planar[: channels // 2 + 1, 3] = info.max
    planar[:, 4] = info.min + 1
    planar[0, 5] = info.min
    planar[-1, 6] = info.max
    out = kernels.mix_to_mono(layouts(planar)[layout])
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.astype(np.int64), exact_mean(planar))
    assert out[0, 0] == info.min and out[0, 1] == info.max


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["planar", "interleaved", "slice"])
def test_float_special_values(kernels, dtype, layout):
    big = np.finfo(dtype).max
    planar = np.array([
        [0.5, np.nan, np.inf, np.inf, -0.0, 0.0, big, 1.0],
        [0.25, 1.0, 1.0, -np.inf, -0.0, -0.0, big, 2.0],
    ], dtype=dtype)
    out = kernels.mix_to_mono(layouts(planar)[layout])
    assert out.dtype == dtype
    # float32 MAX + MAX is finite in float64; float64 MAX + MAX overflows to inf (as numpy's mean does).
    top = big if dtype == np.float32 else np.inf
    np.testing.assert_array_equal(out[0, [0, 2, 6, 7]], np.array([0.375, np.inf, top, 1.5], dtype))
    assert np.isnan(out[0, 1]) and np.isnan(out[0, 3])
    # The float64 sum starts from +0.0: -0.0 + -0.0 gives +0.0, as numpy's mean does.
    assert out[0, 4] == 0 and not np.signbit(out[0, 4]) and not np.signbit(out[0, 5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [2, 3, 8, 9, 1024])
@pytest.mark.parametrize("layout", ["planar", "interleaved", "slice"])
def test_float_sums_in_channel_order(kernels, dtype, channels, layout):
    rng = np.random.default_rng(channels)
    # Magnitudes 1e16 and 1 cancel: the order of the additions shows in the result.
    planar = rng.choice(np.array([1e16, -1e16, 1.0, -1.0, 3.0, 1e-3]), size=(channels, 300)).astype(dtype)
    out = kernels.mix_to_mono(layouts(planar)[layout])
    np.testing.assert_array_equal(bits(out), bits(sequential_mean(planar)))


def test_float_planar_matches_numpy_mean(kernels):
    """numpy's mean over axis 0 of C-contiguous data (frames on the inner loop) adds row after row."""
    rng = np.random.default_rng(1)
    for channels in (2, 3, 8, 100):
        x = rng.choice(np.array([1e16, -1e16, 1.0, -1.0, 3.0, 1e-3]), size=(channels, 500))
        np.testing.assert_array_equal(kernels.mix_to_mono(x)[0], x.mean(axis=0, dtype=np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_channel_returns_the_input_object(kernels, dtype):
    x = np.arange(10, dtype=dtype)[np.newaxis, :]
    assert kernels.mix_to_mono(x) is x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [2, 3, 1024])
def test_zero_frames(kernels, dtype, channels):
    for x in (np.zeros((channels, 0), dtype), np.zeros((0, channels), dtype).T):
        out = kernels.mix_to_mono(x)
        assert out.shape == (1, 0) and out.dtype == dtype


def test_read_only_input(kernels):
    x = np.ones((2, 100), np.int16)
    x.flags.writeable = False
    np.testing.assert_array_equal(kernels.mix_to_mono(x), np.ones((1, 100), np.int16))
    pcm = AudioBuffer.from_pcm_bytes(np.arange(8, dtype=np.int16).tobytes(), 8000, 2).samples  # read-only view
    np.testing.assert_array_equal(kernels.mix_to_mono(pcm), [[0, 2, 4, 6]])  # 0.5, 2.5, 4.5, 6.5


BAD = [
    (lambda k: k.mix_to_mono([[0, 1], [2, 3]]), "samples: expected a numpy.ndarray, given list"),
    (lambda k: k.mix_to_mono(np.zeros((2, 4), np.uint8)),
     "samples: expected dtype int16, int32, float32 or float64, given uint8"),
    (lambda k: k.mix_to_mono(np.zeros((2, 4), np.float16)),
     "samples: expected dtype int16, int32, float32 or float64, given float16"),
    (lambda k: k.mix_to_mono(np.zeros(4, np.int16)), "samples: expected shape (channels, frames), given (4,)"),
    (lambda k: k.mix_to_mono(np.zeros((1, 2, 3), np.int16)),
     "samples: expected shape (channels, frames), given (1, 2, 3)"),
    (lambda k: k.mix_to_mono(np.zeros((0, 4), np.int16)), "samples: expected 1 to 1024 channels, given 0 channels"),
    (lambda k: k.mix_to_mono(np.zeros((1025, 2), np.float32)),
     "samples: expected 1 to 1024 channels, given 1025 channels"),
]


@pytest.mark.parametrize("call, message", BAD)
def test_bad_input_is_rejected_with_a_clear_message(kernels, call, message):
    with pytest.raises(KernelInputError) as info:
        call(kernels)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_bad_impl_is_rejected():
    from remotemedia.kernels.mix import mix_to_mono

    with pytest.raises(KernelInputError, match="impl: expected 'python' or 'native', given 'fast'"):
        mix_to_mono(np.zeros((2, 2), np.int16), impl="fast")


def _outcome(fn, x):
    try:
        return "ok", fn(x)
    except Exception as exc:  # noqa: BLE001 - the exception itself is what is compared
        return type(exc), str(exc)


def _planar_arrays():
    def array(dtype):
        if np.dtype(dtype).kind == "i":
            info = np.iinfo(dtype)
            elements = st.integers(int(info.min), int(info.max)) | st.sampled_from([int(info.min), int(info.max), 0,
                                                                                     -1, 1])
        else:
            elements = st.floats(-1e6, 1e6, width=np.dtype(dtype).itemsize * 8) | st.sampled_from(
                [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, -1e16, 1e-3])
        shapes = st.tuples(st.integers(1, 12) | st.sampled_from([16, 255, 256]), st.integers(0, 40))
        return hnp.arrays(dtype, shapes, elements=elements)

    return st.one_of(*(array(d) for d in DTYPES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(planar=_planar_arrays(), layout=st.sampled_from(["planar", "interleaved", "slice"]))
def test_parity_bit_identical_on_random_input(both_kernels, planar, layout):
    py, nat = both_kernels
    x = layouts(planar)[layout]
    a, b = py.mix_to_mono(x), nat.mix_to_mono(x)
    assert a.dtype == b.dtype == planar.dtype and a.shape == b.shape
    np.testing.assert_array_equal(bits(a), bits(b))
    if planar.dtype.kind == "i" and planar.shape[0] > 1:
        np.testing.assert_array_equal(a.astype(np.int64), exact_mean(planar))
    elif planar.shape[0] > 1:
        np.testing.assert_array_equal(bits(a), bits(sequential_mean(planar)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.one_of(
    hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int64, np.float16, np.complex64, bool] + DTYPES),
               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)),
    st.builds(lambda c, n, d: np.zeros((c, n), d), st.sampled_from([0, 1, 2, 1024, 1025, 4096]),
              st.integers(0, 3), st.sampled_from(DTYPES)),
    st.sampled_from([None, 3, [[1, 2]], "x"]),
))
def test_parity_of_errors(both_kernels, x):
    py, nat = both_kernels
    a, b = _outcome(py.mix_to_mono, x), _outcome(nat.mix_to_mono, x)
    assert a[0] == b[0]
    if a[0] == "ok":
        np.testing.assert_array_equal(bits(a[1]), bits(b[1]))
    else:
        assert a[0] is KernelInputError and a[1] == b[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [2, 3, 6])
def test_parity_on_large_arrays_crossing_blocks(both_kernels, dtype, channels):
    rng = np.random.default_rng(11)
    n = 100_003  # several numpy blocks, and above the native GIL-release threshold
    if np.dtype(dtype).kind == "f":
        planar = (rng.standard_normal((channels, n)) * 10.0 ** rng.integers(-6, 6, (channels, n))).astype(dtype)
        planar[:, ::9973] = np.nan
    else:
        info = np.iinfo(dtype)
        planar = rng.integers(info.min, info.max, (channels, n), endpoint=True).astype(dtype)
    py, nat = both_kernels
    for x in layouts(planar).values():
        np.testing.assert_array_equal(bits(py.mix_to_mono(x)), bits(nat.mix_to_mono(x)))


def test_native_reads_both_layouts_without_copying(both_kernels):
    """Only the output is allocated for planar and interleaved input; a strided one is copied once."""
    import tracemalloc

    _, nat = both_kernels
    frames = 1_000_000
    planar = np.ones((2, frames), np.int16)
    out_bytes = frames * 2
    for x, copies in ((planar, 0), (planar.T.copy().T, 0), (np.ones((2, 2 * frames), np.int16)[:, ::2], 1)):
        tracemalloc.start()  # a no-op when metrics already started it
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            nat.mix_to_mono(x)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        want = out_bytes + copies * 2 * frames * 2
        assert want <= peak < want + 100_000, (copies, peak)


def test_native_releases_the_gil_for_large_arrays(both_kernels):
    """Deterministic, no timing: see tests/gil_probe.py."""
    from gil_probe import ticks_during

    _, nat = both_kernels
    x = np.ones((2, 20_000_000), dtype=np.float32)
    nat.mix_to_mono(x[:, :10])  # warm up
    assert ticks_during(lambda: nat.mix_to_mono(x)) > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [2, 3, 8, 9])
@pytest.mark.parametrize("layout", ["planar", "interleaved", "slice"])
def test_audio_buffer_to_mono_keeps_numpy_mean_results(impl, dtype, channels, layout):
    """to_mono gives, bit for bit, what it gave before the kernel (numpy's mean), in every layout."""
    rng = np.random.default_rng(channels)
    if np.dtype(dtype).kind == "f":
        planar = rng.choice(np.array([1e16, -1e16, 1.0, -1.0, 3.0, 1e-3, -0.0]), size=(channels, 301)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        planar = rng.integers(info.min, info.max, (channels, 301), endpoint=True).astype(dtype)
    for x in (layouts(planar)[layout], layouts(planar)[layout][:, :1]):
        with np.errstate(invalid="ignore", over="ignore"):
            mean = x.mean(axis=0, dtype=np.float64)
        before = (mean if x.dtype.kind == "f" else np.rint(mean)).astype(dtype)[np.newaxis, :]
        np.testing.assert_array_equal(bits(AudioBuffer(x, 8000).to_mono(impl=impl).samples), bits(before))
