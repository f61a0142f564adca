"""The Python implementation's limits equal the compiled module's, and native errors arrive typed.

The compiled module exposes its bounds as constants; each is compared with the
constant the Python side validates with, so the two cannot drift apart.
Native input errors are :class:`~remotemedia.errors.KernelInputError` with
``parameter``/``expected``/``given`` set by Rust (no message is parsed).
"""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import _native, validate
from remotemedia.errors import KernelInputError
from remotemedia.kernels import _resample_design as design
from remotemedia.kernels import mix, resample, vad
from remotemedia.kernels._webrtc_vad_py import VALID_RATES as PORT_RATES

rt = _native.module()
pytestmark = pytest.mark.skipif(rt is None, reason="native unavailable")


def test_python_limits_equal_the_native_constants():
    assert mix.MAX_CHANNELS == validate.MAX_MIX_CHANNELS == rt.MIX_MAX_CHANNELS
    assert resample.MAX_CHANNELS == rt.RESAMPLE_MAX_CHANNELS
    assert (design.MIN_RATE, design.MAX_RATE) == (rt.RESAMPLE_MIN_RATE, rt.RESAMPLE_MAX_RATE)
    assert np.float32(design.MAX_ABS_SAMPLE) == rt.RESAMPLE_MAX_ABS_SAMPLE
    assert vad.VALID_RATES == PORT_RATES == tuple(rt.VAD_SAMPLE_RATES)
    assert vad.MODES == tuple(rt.VAD_MODES)
    assert vad.FRAME_MS == tuple(rt.VAD_FRAME_MS)


def test_native_errors_are_kernel_input_errors_with_their_parts():
    out = np.empty(4, np.int16)
    with pytest.raises(KernelInputError) as info:
        rt.mix_i16(np.zeros(8, np.int16), 2000, False, out)
    e = info.value
    assert (e.parameter, e.expected, e.given) == ("channels", "1 to 1024", "2000")
    assert str(e) == "channels: expected 1 to 1024, given 2000"
    with pytest.raises(KernelInputError) as info:
        rt.WebRtcVad(5, 16000)
    assert (info.value.parameter, info.value.given) == ("mode", "5")
    stream = rt.ResampleStream(48000, 16000, 768, "blackman_harris2", 2)
    with pytest.raises(KernelInputError) as info:
        stream.process(np.zeros((1, 10), np.float32))
    assert str(info.value) == "samples: expected 2 channels, given 1"
    with pytest.raises(KernelInputError) as info:
        rt.convert_i16_f32(np.zeros(3, np.int16), np.zeros(3, np.float32)[::-1].copy()[:2])
    assert info.value.parameter == "out"


@pytest.mark.parametrize("bad", [np.nan, np.inf, 2e30])
def test_out_of_range_samples_same_error_in_both(bad):
    x = np.zeros((1, 2000), np.float32)
    x[0, 7] = bad
    errors = []
    for impl in ("python", "native"):
        with pytest.raises(KernelInputError) as info:
            resample.resample(x, 48000, 16000, impl=impl)
        errors.append((type(info.value), str(info.value), info.value.parameter, info.value.expected,
                       info.value.given))
        stream = resample.Resampler(48000, 16000, 1, impl=impl)
        with pytest.raises(KernelInputError) as info:
            stream.process(x)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[2] and errors[1] == errors[3]
    assert errors[0][1] == ("samples: expected finite values of magnitude at most 1e+30, "
                            "given an array with NaN, inf or larger values")
