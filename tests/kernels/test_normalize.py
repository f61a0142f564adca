"""Frame normalisation: exact arithmetic, errors, allocation, and python/native bit parity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from remotemedia.errors import KernelInputError
from remotemedia.kernels.normalize import coefficients

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32)


def reference(frame: np.ndarray, mean, std) -> np.ndarray:
    """The documented rule, by another route: a 256-entry table per channel built
    from float32 scalar operations (multiply, round; add, round)."""
    hwc = frame[:, :, None] if frame.ndim == 2 else frame
    c = hwc.shape[2]
    m = np.broadcast_to(np.asarray(mean, dtype=np.float64), (c,))
    s = np.broadcast_to(np.asarray(std, dtype=np.float64), (c,))
    out = np.empty((c,) + hwc.shape[:2], dtype=np.float32)
    for ch in range(c):
        scale = np.float32(1.0 / (255.0 * s[ch]))
        offset = np.float32(-m[ch] / s[ch])
        table = np.array([np.float32(np.float32(v) * scale) + offset for v in range(256)], dtype=np.float32)
        out[ch] = table[hwc[:, :, ch]]
    return out


def test_imagenet_normalisation_matches_the_rule_bit_for_bit(kernels):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = kernels.normalize_frame(frame, MEAN, STD)
    assert out.shape == (3, 37, 53) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(bits(out), bits(reference(frame, MEAN, STD)))
    # and within a few float32 ulps of the exact value (x / 255 - mean) / std
    exact = (frame.transpose(2, 0, 1) / 255.0 - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
    np.testing.assert_allclose(out, exact, rtol=0, atol=4 * np.finfo(np.float32).eps * np.abs(exact).max())


def test_every_pixel_value_on_every_channel(kernels):
    frame = np.stack([np.arange(256, dtype=np.uint8)] * 4, axis=-1).reshape(16, 16, 4)
    mean, std = (0.0, 0.5, 1.0, -0.3), (1.0, 0.25, 3.0, 0.01)
    out = kernels.normalize_frame(frame, mean, std)
    np.testing.assert_array_equal(bits(out), bits(reference(frame, mean, std)))
    np.testing.assert_array_equal(kernels.normalize_frame(frame, 0.0, 1.0)[0].ravel(),
                                  np.arange(256, dtype=np.float32) * np.float32(1 / 255))


def test_coefficients_are_rounded_from_float64():
    scale, offset = coefficients(MEAN, STD, 3)
    assert scale.dtype == offset.dtype == np.float32
    np.testing.assert_array_equal(scale, np.float32([1 / (255 * s) for s in STD]))
    np.testing.assert_array_equal(offset, np.float32([-m / s for m, s in zip(MEAN, STD)]))


def test_one_plane_gives_one_channel(kernels):
    frame = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = kernels.normalize_frame(frame, 0.5, 0.5)
    assert out.shape == (1, 3, 4)
    np.testing.assert_array_equal(bits(out), bits(reference(frame, 0.5, 0.5)))


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
def test_all_channel_counts_and_block_edges(kernels, channels):
    rng = np.random.default_rng(channels)
    frame = rng.integers(0, 256, (67, 131, channels), dtype=np.uint8)  # 8777 pixels: blocks + a tail
    mean, std = rng.uniform(-1, 1, channels), rng.uniform(0.05, 2, channels)
    out = kernels.normalize_frame(frame, mean, std)
    np.testing.assert_array_equal(bits(out), bits(reference(frame, mean, std)))


def test_out_array_is_written_and_returned(kernels):
    frame = np.full((4, 5, 3), 200, dtype=np.uint8)
    out = np.full((3, 4, 5), np.nan, dtype=np.float32)
    res = kernels.normalize_frame(frame, MEAN, STD, out=out)
    assert res is out
    np.testing.assert_array_equal(bits(out), bits(reference(frame, MEAN, STD)))


def test_views_read_only_and_memory_mapped_frames(kernels, tmp_path):
    rng = np.random.default_rng(2)
    big = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    for view in (big[5:30, 7:50], big[::-1], big[:, ::2], big[..., ::-1]):  # crops, flips: not contiguous
        np.testing.assert_array_equal(bits(kernels.normalize_frame(view, MEAN, STD)),
                                      bits(reference(np.ascontiguousarray(view), MEAN, STD)))
    ro = big.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(kernels.normalize_frame(ro, MEAN, STD), reference(big, MEAN, STD))
    path = tmp_path / "f.raw"
    big.tofile(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=big.shape)
    np.testing.assert_array_equal(kernels.normalize_frame(mm, MEAN, STD), reference(big, MEAN, STD))


def test_the_frame_is_not_written(kernels):
    frame = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    before = frame.copy()
    kernels.normalize_frame(frame, MEAN, STD)
    np.testing.assert_array_equal(frame, before)


def test_empty_frames(kernels):
    assert kernels.normalize_frame(np.zeros((0, 7, 3), np.uint8), MEAN, STD).shape == (3, 0, 7)
    assert kernels.normalize_frame(np.zeros((2, 0), np.uint8), 0.5, 0.5).shape == (1, 2, 0)


_F = np.zeros((4, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda k: k.normalize_frame([[1]], MEAN, STD), "frame: expected a numpy.ndarray, given list"),
        (lambda k: k.normalize_frame(_F.astype(np.float32), MEAN, STD), "frame: expected dtype uint8, given float32"),
        (lambda k: k.normalize_frame(_F[0, 0], MEAN, STD),
         "frame: expected shape (height, width, channels) or (height, width), given (3,)"),
        (lambda k: k.normalize_frame(np.zeros((2, 2, 0), np.uint8), 0.5, 0.5),
         "frame: expected shape (height, width, channels) or (height, width), given (2, 2, 0)"),
        (lambda k: k.normalize_frame(_F, (0.5, 0.5), STD), "mean: expected one number or 3 (one per channel), "
                                                            "given (0.5, 0.5)"),
        (lambda k: k.normalize_frame(_F, MEAN, (0.2, -1.0, 0.2)), "std: expected values > 0, given (0.2, -1.0, 0.2)"),
        (lambda k: k.normalize_frame(_F, MEAN, 0.0), "std: expected values > 0, given (0.0, 0.0, 0.0)"),
        (lambda k: k.normalize_frame(_F, float("nan"), STD), "mean: expected finite values, given nan"),
        (lambda k: k.normalize_frame(_F, "a", STD), "mean: expected a number or a sequence of numbers, given 'a'"),
        (lambda k: k.normalize_frame(_F, MEAN, 1e-300),
         "mean/std: expected coefficients finite in float32, given mean (0.485, 0.456, 0.406), "
         "std (1e-300, 1e-300, 1e-300)"),
        (lambda k: k.normalize_frame(_F, MEAN, STD, out=np.zeros((3, 4, 5), np.float64)),
         "out: expected dtype float32, given float64"),
        (lambda k: k.normalize_frame(_F, MEAN, STD, out=np.zeros((4, 5, 3), np.float32)),
         "out: expected shape (3, 4, 5), given (4, 5, 3)"),
        (lambda k: k.normalize_frame(_F, MEAN, STD, out=np.zeros((3, 4, 10), np.float32)[:, :, ::2]),
         "out: expected a C-contiguous writeable array, given a non-contiguous or read-only array"),
        (lambda k: k.normalize_frame(_F, MEAN, STD, out=[]), "out: expected a numpy.ndarray, given list"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kernels, call, message):
    with pytest.raises(KernelInputError) as info:
        call(kernels)
    assert str(info.value) == message


def test_overlapping_out_is_rejected(kernels):
    buf = np.zeros(3 * 4 * 5 * 4, dtype=np.uint8)
    out = buf.view(np.float32).reshape(3, 4, 5)
    with pytest.raises(KernelInputError, match="out: expected an array not overlapping the frame"):
        kernels.normalize_frame(buf[:60].reshape(4, 5, 3), MEAN, STD, out=out)


def test_read_only_out_is_rejected(kernels):
    out = np.zeros((3, 4, 5), np.float32)
    out.flags.writeable = False
    with pytest.raises(KernelInputError, match="out: expected a C-contiguous writeable array"):
        kernels.normalize_frame(_F, MEAN, STD, out=out)


stats = st.floats(-3, 3)
stds = st.floats(0.001, 50)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    frame=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)
                     .flatmap(lambda hw: st.sampled_from([hw, hw + (1,), hw + (3,), hw + (4,), hw + (6,)]))),
    data=st.data(),
)
def test_parity_bit_identical_for_any_frame_and_statistics(both_kernels, frame, data):
    c = 1 if frame.ndim == 2 else frame.shape[2]
    mean = data.draw(st.lists(stats, min_size=c, max_size=c))
    std = data.draw(st.lists(stds, min_size=c, max_size=c))
    py, nat = both_kernels
    a, b = py.normalize_frame(frame, mean, std), nat.normalize_frame(frame, mean, std)
    np.testing.assert_array_equal(bits(a), bits(b))


def test_parity_on_a_1080p_frame(both_kernels):
    frame = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    py, nat = both_kernels
    np.testing.assert_array_equal(bits(py.normalize_frame(frame, MEAN, STD)),
                                  bits(nat.normalize_frame(frame, MEAN, STD)))


def _peak(fn) -> int:
    import tracemalloc

    tracemalloc.start()  # a no-op when metrics already started it
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_allocates_only_the_output(kernels):
    frame = np.ones((720, 1280, 3), dtype=np.uint8)
    frame.flags.writeable = False
    out_bytes = frame.size * 4
    peak = _peak(lambda: kernels.normalize_frame(frame, MEAN, STD))
    # The output and (numpy) a few cache-sized blocks of work: never a copy of the frame.
    assert out_bytes <= peak < out_bytes + 500_000, peak


def test_out_array_means_no_allocation_of_frame_size(kernels):
    frame = np.ones((720, 1280, 3), dtype=np.uint8)
    out = np.empty((3, 720, 1280), dtype=np.float32)
    peak = _peak(lambda: kernels.normalize_frame(frame, MEAN, STD, out=out))
    assert peak < 500_000, peak


def test_a_non_contiguous_frame_is_copied_once_at_most(kernels):
    frame = np.ones((720, 1280, 3), dtype=np.uint8)[:, ::-1]
    out = np.empty((3, 720, 1280), dtype=np.float32)
    peak = _peak(lambda: kernels.normalize_frame(frame, MEAN, STD, out=out))
    assert peak < frame.nbytes + 500_000, peak


def test_native_releases_the_gil_for_large_frames(both_kernels):
    """Deterministic, no timing: with a 100 s switch interval this thread runs
    while the worker normalises only if the worker released the GIL."""
    from gil_probe import ticks_during

    _, nat = both_kernels
    frame = np.ones((2160, 3840, 3), dtype=np.uint8)
    out = np.empty((3, 2160, 3840), dtype=np.float32)
    nat.normalize_frame(frame[:4, :4], MEAN, STD)  # warm up
    ticks = ticks_during(lambda: nat.normalize_frame(frame, MEAN, STD, out=out))
    assert ticks > 0


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 6])
def test_native_baseline_and_simd_code_agree(both_kernels, channels):
    """The native module runs AVX2-compiled loops where the CPU has AVX2; its
    baseline (SSE2) loops must give the same bits."""
    from remotemedia import _native

    py, _ = both_kernels
    rng = np.random.default_rng(10 + channels)
    frame = rng.integers(0, 256, (33, 71, channels), dtype=np.uint8)
    mean, std = rng.uniform(-1, 1, channels), rng.uniform(0.05, 2, channels)
    scale, offset = coefficients(mean, std, channels)
    mod = _native.module()
    outs = []
    for baseline in (False, True):
        out = np.empty((channels, 33, 71), dtype=np.float32)
        mod.normalize_u8_f32(frame.reshape(-1), channels, scale.tolist(), offset.tolist(), out.reshape(-1),
                             baseline=baseline)
        outs.append(out)
    expected = py.normalize_frame(frame, mean, std)
    np.testing.assert_array_equal(bits(outs[0]), bits(expected))
    np.testing.assert_array_equal(bits(outs[1]), bits(expected))
