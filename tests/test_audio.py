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


# ------------------------------------------------- validated once, then trusted


def test_audio_buffer_is_the_1x_tuple():
    x = np.arange(6, dtype=np.int16).reshape(2, 3)
    buf = AudioBuffer(x, 8000)
    samples, rate = buf
    assert samples is x and rate == 8000 and buf[0] is x and buf[1] == 8000 and len(buf) == 2
    assert isinstance(buf, tuple) and buf.as_tuple() == (x, 8000) and type(buf.as_tuple()) is tuple
    assert buf == (x, 8000) and buf != (x, 16000)  # compares like the tuple (same array object: equal)
    assert AudioBuffer(np.zeros(3, np.float32), 16000.0).sample_rate == 16000
    assert repr(AudioBuffer(np.zeros(1, np.int16), 8000)) == "AudioBuffer(samples=array([[0]], dtype=int16), sample_rate=8000)"


def test_audio_buffer_is_immutable():
    buf = AudioBuffer(np.zeros(3, np.int16), 8000)
    for name in ("samples", "sample_rate", "anything"):
        with pytest.raises(AttributeError):
            setattr(buf, name, 1)


def test_pickling_checks_again():
    import pickle

    buf = AudioBuffer(np.arange(4, dtype=np.int32), 44100)
    back = pickle.loads(pickle.dumps(buf))
    assert type(back) is AudioBuffer and back.sample_rate == 44100
    np.testing.assert_array_equal(back.samples, buf.samples)
    bad = AudioBuffer.trusted(np.zeros((1, 3), np.int16), 0)  # a caller that broke the contract
    with pytest.raises(KernelInputError, match="sample_rate: expected 1 to 768000 Hz, given 0"):
        pickle.loads(pickle.dumps(bad))


def test_coerce_audio_trusts_an_audio_buffer_and_checks_tuples():
    from remotemedia.audio import coerce_audio

    buf = AudioBuffer(np.zeros((2, 5), np.float32), 48000)
    assert coerce_audio(buf) is buf
    x = np.zeros(5, np.int16)
    samples, rate = coerce_audio((x, 16000), node_id="n")
    assert samples.shape == (1, 5) and np.shares_memory(samples, x) and rate == 16000
    rate = coerce_audio((x, np.int64(16000)))[1]  # the checked path still takes numpy ints
    assert rate == 16000 and type(rate) is int
    for data, message in [
        ((x.astype(np.uint8), 16000), "node 'n': audio: expected dtype int16, int32, float32 or float64, given uint8"),
        ((x, 0), "node 'n': sample_rate: expected 1 to 768000 Hz, given 0"),
        ((x, True), "node 'n': sample_rate: expected an integer number of Hz, given True"),
        ((np.zeros((0, 3), np.int16), 8000), "node 'n': audio: expected shape (channels, frames) or (frames,), "
                                             "given (0, 3)"),
        ((x.tolist(), 8000), "node 'n': audio: expected a numpy.ndarray, given list"),
    ]:
        with pytest.raises(KernelInputError) as info:
            coerce_audio(data, node_id="n")
        assert str(info.value) == message


def test_audio_module_does_not_import_the_kernels():
    import subprocess
    import sys

    code = ("import sys, remotemedia.audio; "
            "print(sorted(m for m in sys.modules if m.startswith('remotemedia.kernels')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_to_mono_keeps_the_channel_limit_and_validates_impl():
    buf = AudioBuffer(np.zeros((1025, 4), np.int16), 8000)
    with pytest.raises(KernelInputError, match="samples: expected 1 to 1024 channels, given 1025 channels"):
        buf.to_mono()
    with pytest.raises(KernelInputError, match="impl: expected 'python' or 'native', given 'gpu'"):
        AudioBuffer(np.zeros((2, 4), np.int16), 8000).to_mono(impl="gpu")
