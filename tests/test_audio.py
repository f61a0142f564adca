"""AudioBuffer: layout, zero-copy PCM views, mono mixdown."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError


def test_one_dimensional_is_mono_view():
    x = np.arange(10, dtype=np.int16)
    buf = AudioBuffer(x, 16000)
    assert buf.samples.shape == (1, 10) and np.shares_memory(buf.samples, x)
    assert buf.format == "i16" and buf.num_channels == 1 and buf.duration_s == pytest.approx(10 / 16000)


def test_from_pcm_bytes_is_a_view_without_copy():
    inter = np.array([1, -1, 2, -2, 3, -3], dtype=np.int16)
    raw = inter.tobytes()
    buf = AudioBuffer.from_pcm_bytes(raw, 8000, num_channels=2, format="i16")
    np.testing.assert_array_equal(buf.samples, [[1, 2, 3], [-1, -2, -3]])
    backing = np.frombuffer(raw, dtype=np.int16)
    assert np.shares_memory(buf.samples, backing)
    assert not buf.samples.flags.writeable


def test_from_pcm_bytes_rejects_partial_frames():
    with pytest.raises(KernelInputError, match="data: expected a multiple of 4 bytes, given 6 bytes"):
        AudioBuffer.from_pcm_bytes(b"\x00" * 6, 8000, num_channels=2)


def test_to_mono_rounds_half_to_even():
    buf = AudioBuffer(np.array([[1, 3, -1], [2, 4, -2]], dtype=np.int16), 8000)
    np.testing.assert_array_equal(buf.to_mono().samples, [[2, 4, -2]])  # 1.5 -> 2, 3.5 -> 4, -1.5 -> -2
    f = AudioBuffer(np.array([[0.5, 1.0], [0.25, 0.0]], dtype=np.float32), 8000).to_mono()
    assert f.samples.dtype == np.float32
    np.testing.assert_array_equal(f.samples, [[0.375, 0.5]])


@pytest.mark.parametrize("rate", [0, -1, 1.5, "16000", True, 10**7])
def test_bad_sample_rates(rate):
    with pytest.raises(KernelInputError, match="sample_rate"):
        AudioBuffer(np.zeros(3, np.int16), rate)


def test_bad_shapes():
    with pytest.raises(KernelInputError, match=r"shape \(channels, frames\)"):
        AudioBuffer(np.zeros((1, 2, 3), np.int16), 8000)
