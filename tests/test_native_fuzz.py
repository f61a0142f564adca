"""Native kernels survive any arguments: raw entry points called with hostile
values (bypassing the Python wrappers) and the public wrappers with extreme
arrays. A Rust panic would surface as pyo3's PanicException (a BaseException,
not an Exception); an abort would kill this process."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotemedia import _native, kernels

rt = _native.module()
pytestmark = pytest.mark.skipif(rt is None, reason=f"native unavailable: {_native.STATUS.reason}")

INTS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63 - 1, 10**12]))
FLOATS = st.sampled_from([0.0, -0.0, np.nan, np.inf, -np.inf, 1e38, -1e38, 1e-45, 3.4e38])


def call_safely(fn, *args):
    """Calls ``fn``; an Exception is fine, a BaseException that is not one (a panic) is not."""
    try:
        fn(*args)
    except Exception:
        pass


def arrays(dtype):
    return st.one_of(
        st.builds(lambda n: np.zeros(n, dtype=dtype), st.integers(0, 2000)),
        st.builds(lambda n, v: np.full(n, v, dtype=np.float64).astype(dtype) if np.dtype(dtype).kind == "f"
                  else np.full(n, np.iinfo(dtype).min, dtype=dtype), st.integers(0, 2000), FLOATS),
        st.builds(lambda n: np.zeros(n, dtype=dtype)[::3], st.integers(0, 2000)),  # non-contiguous
    )


@settings(max_examples=150, deadline=None)
@given(src=arrays(np.float32), n_out=st.integers(0, 3000))
def test_raw_convert_entry_points(src, n_out):
    for name, odt in [("convert_f32_i16", np.int16), ("convert_f32_i32", np.int32)]:
        call_safely(getattr(rt, name), src, np.zeros(n_out, odt))
        call_safely(getattr(rt, name), src, np.zeros((2, n_out), odt))


@settings(max_examples=150, deadline=None)
@given(channels=INTS, interleaved=st.booleans(), n_out=st.integers(0, 3000),
       src=arrays(np.int16) | arrays(np.float32))
def test_raw_mix_entry_points(channels, interleaved, n_out, src):
    name = "mix_i16" if src.dtype == np.int16 else "mix_f32"
    call_safely(getattr(rt, name), src, channels, interleaved, np.zeros(n_out, src.dtype))
    call_safely(getattr(rt, name), src, channels, interleaved, np.zeros((2, n_out), src.dtype))
    for c in (1, 2, 3, 1024, 1025):  # steer to channel counts that pass the first check
        call_safely(getattr(rt, name), src, c, interleaved, np.zeros(src.size // c, src.dtype))


@settings(max_examples=150, deadline=None)
@given(mode=INTS, rate=INTS, frame_length=INTS, samples=arrays(np.int16))
def test_raw_webrtc_vad(mode, rate, frame_length, samples):
    try:
        v = rt.WebRtcVad(mode, rate)
    except Exception:
        return
    call_safely(v.process_frames, samples, frame_length)
    call_safely(v.process_frames, np.zeros(0, np.int16), frame_length)
    v.reset()


@settings(max_examples=150, deadline=None)
@given(samples=arrays(np.float32), frame_length=INTS, threshold=FLOATS)
def test_raw_energy_vad(samples, frame_length, threshold):
    call_safely(rt.energy_vad_frames, samples, frame_length, threshold)


@settings(max_examples=150, deadline=None)
@given(in_rate=INTS | st.sampled_from([48000, 44100]), out_rate=INTS | st.just(16000), block_in=INTS,
       channels=st.integers(0, 5000),
       window=st.sampled_from(["blackman_harris2", "blackman", "hann", "nope", ""]),
       frames=st.integers(0, 500), value=FLOATS)
def test_raw_resample(in_rate, out_rate, block_in, channels, window, frames, value):
    if block_in % 2 and in_rate in (48000, 44100):  # steer half the cases to valid blocks
        block_in = {48000: 768, 44100: 1764}[in_rate]
    x = np.full((max(1, min(channels, 8)), frames), value, dtype=np.float32)
    call_safely(rt.resample_f32, x, in_rate, out_rate, block_in, window)
    try:
        s = rt.ResampleStream(in_rate, out_rate, block_in, window, channels)
    except Exception:
        return
    call_safely(s.process, x)
    call_safely(s.flush)


@settings(max_examples=60, deadline=None)
@given(channels=st.integers(1, 4096), frames=st.integers(0, 64), value=FLOATS,
       pair=st.sampled_from([(48000, 16000), (44100, 16000), (8000, 48000), (22050, 24000)]))
def test_wrappers_with_extreme_arrays(channels, frames, value, pair):
    K = kernels.get("native")
    x = np.full((channels, frames), value, dtype=np.float32)
    call_safely(K.convert_format, x, "i16")
    call_safely(K.resample, x, *pair)
    call_safely(K.webrtc_vad, x[0], 16000)
    call_safely(K.energy_vad, x[0], 16000)
    call_safely(K.mix_to_mono, x)
    i16 = np.full((1, frames * 50), -32768, np.int16)
    assert K.webrtc_vad(i16, 8000, 3, 10).decisions.size == -(-i16.size // 80)


@pytest.mark.parametrize("channels", [4097, 2**26, 2**40])
def test_raw_resampler_refuses_hostile_channel_counts(channels):
    with pytest.raises(ValueError, match="channels: expected 1 to 4096"):
        rt.ResampleStream(48000, 16000, 768, "blackman_harris2", channels)


@pytest.mark.parametrize("rates", [(1, 10**12), (8000, 10**9), (0, 16000), (48000, 7999)])
def test_raw_resampler_refuses_rates_that_would_size_a_huge_output(rates):
    """Found by the fuzz test above: an absurd rate ratio sized the output array (an OOM kill)."""
    x = np.zeros((1, 500), np.float32)
    with pytest.raises(ValueError, match="rates: expected 8000 to 192000 Hz"):
        rt.resample_f32(x, *rates, 768, "blackman_harris2")
