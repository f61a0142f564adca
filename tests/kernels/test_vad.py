"""WebRTC and energy VAD kernels: decisions identical across implementations,
identical to webrtcvad-wheels from a fresh state, and independent of chunking."""

from __future__ import annotations

import pathlib
import wave

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia.errors import KernelInputError

SPEECH = pathlib.Path(__file__).resolve().parents[1] / "data" / "speech"


def read_wav(name: str):
    with wave.open(str(SPEECH / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate()


def speech_at(rate: int) -> np.ndarray:
    """Real speech at a VAD rate: recorded files at 8/16/48 kHz; 32 kHz by 2x sample-and-hold of 16 kHz."""
    if rate == 32000:
        return np.repeat(read_wav("en_m_16k.wav")[0], 2)
    name = {8000: "en_f_8k.wav", 16000: "en_m_16k.wav", 48000: "es_m_48k.wav"}[rate]
    return read_wav(name)[0]


def noisy(rate: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Speech-band bursts over noise (synthetic), int16."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    burst = (np.sin(2 * np.pi * 1.3 * t) > 0.2) * np.sin(2 * np.pi * 180 * t) * np.sin(2 * np.pi * 900 * t)
    x = 9000 * burst + rng.normal(0, 300, n)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def reference_decisions(x: np.ndarray, rate: int, mode: int, frame_ms: int) -> np.ndarray:
    webrtcvad = pytest.importorskip("webrtcvad")
    v = webrtcvad.Vad(mode)
    fl = rate * frame_ms // 1000
    n = x.size // fl * fl
    return np.array([v.is_speech(x[i:i + fl].tobytes(), rate) for i in range(0, n, fl)], dtype=np.uint8)


@pytest.mark.parametrize("rate", [8000, 16000, 32000])
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_matches_webrtcvad_wheels_from_fresh_state(kernels, rate, frame_ms, mode):
    for x in (speech_at(rate), noisy(rate, seed=mode)):
        fl = rate * frame_ms // 1000
        whole = x[: x.size // fl * fl]  # whole frames only: the reference cannot pad
        got = kernels.webrtc_vad(whole, rate, mode, frame_ms)
        assert not got.padded
        np.testing.assert_array_equal(got.decisions, reference_decisions(whole, rate, mode, frame_ms))
        assert 0 < got.decisions.sum() < got.decisions.size  # both classes occur: a real test


@pytest.mark.parametrize("mode", [0, 3])
def test_48k_10ms_matches_reference_and_longer_frames_are_any_of_their_10ms_parts(kernels, mode):
    x = speech_at(48000)
    x = x[: x.size // 2880 * 2880]  # whole 60 ms: divisible into 10, 20 and 30 ms frames
    ten = reference_decisions(x, 48000, mode, 10)
    np.testing.assert_array_equal(kernels.webrtc_vad(x, 48000, mode, 10).decisions, ten)
    for frame_ms in (20, 30):
        k = frame_ms // 10
        got = kernels.webrtc_vad(x, 48000, mode, frame_ms).decisions
        np.testing.assert_array_equal(got, ten.reshape(-1, k).max(axis=1))


def test_implementations_agree_everywhere(both_kernels):
    py, nat = both_kernels
    for rate in (8000, 16000, 32000, 48000):
        for frame_ms in (10, 20, 30):
            x = np.concatenate([noisy(rate, 1.0, seed=rate), speech_at(rate)])
            for mode in (0, 3):
                a = py.webrtc_vad(x, rate, mode, frame_ms)
                b = nat.webrtc_vad(x, rate, mode, frame_ms)
                np.testing.assert_array_equal(a.decisions, b.decisions)
                assert a.padded == b.padded and a.frame_length == b.frame_length


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rate=st.sampled_from([8000, 16000, 32000, 48000]),
       frame_ms=st.sampled_from([10, 20, 30]), mode=st.integers(0, 3), level=st.sampled_from([30, 1000, 20000]))
def test_parity_on_random_signals(both_kernels, seed, rate, frame_ms, mode, level):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, int(rate * 0.6)))
    x = np.clip(rng.normal(0, level, n) * (rng.random(n) < rng.random()), -32768, 32767).astype(np.int16)
    py, nat = both_kernels
    np.testing.assert_array_equal(py.webrtc_vad(x, rate, mode, frame_ms).decisions,
                                  nat.webrtc_vad(x, rate, mode, frame_ms).decisions)


@pytest.mark.parametrize("rate, frame_ms", [(16000, 30), (48000, 20), (8000, 10)])
def test_any_chunking_gives_the_same_decisions(kernels, rate, frame_ms):
    x = np.concatenate([speech_at(rate), noisy(rate, 0.5)])
    whole = kernels.webrtc_vad(x, rate, 3, frame_ms)
    rng = np.random.default_rng(5)
    for sizes in ([7], [rate // 100], None):  # 7 samples, 10 ms, random sizes
        v = kernels.WebRtcVad(rate, 3, frame_ms)
        out, i = [], 0
        while i < x.size:
            k = int(rng.integers(1, 5000)) if sizes is None else sizes[0]
            out.append(v.process(x[i:i + k]))
            i += k
        out.append(v.flush())
        np.testing.assert_array_equal(np.concatenate(out), whole.decisions)
        assert v.last_padded == whole.padded


def test_one_sample_chunks(kernels):
    x = noisy(8000, 0.25, seed=3)
    whole = kernels.webrtc_vad(x, 8000, 2, 10).decisions
    v = kernels.WebRtcVad(8000, 2, 10)
    got = np.concatenate([v.process(x[i:i + 1]) for i in range(x.size)] + [v.flush()])
    np.testing.assert_array_equal(got, whole)


def test_flush_pads_and_flags_the_partial_frame(kernels):
    x = noisy(16000, 0.1)  # 1600 samples = 3 frames of 480 + 160
    v = kernels.WebRtcVad(16000, 0, 30)
    head = v.process(x)
    assert head.size == 3 and v.pending_samples == 160
    tail = v.flush()
    assert tail.size == 1 and v.last_padded
    padded = np.concatenate([x, np.zeros(320, np.int16)])
    np.testing.assert_array_equal(np.concatenate([head, tail]), kernels.webrtc_vad(padded, 16000, 0, 30).decisions)
    assert v.flush().size == 0 and not v.last_padded


def test_state_is_explicit_reset_restores_fresh_behaviour(kernels):
    a = np.concatenate([noisy(16000, 3.0, seed=1), speech_at(16000)])
    b = np.concatenate([speech_at(16000), noisy(16000, 3.0, seed=2)])
    fresh_b = kernels.webrtc_vad(b, 16000, 3, 10).decisions
    v = kernels.WebRtcVad(16000, 3, 10)
    v.process(a)
    v.flush()
    reused_b = np.concatenate([v.process(b), v.flush()])
    assert np.count_nonzero(reused_b != fresh_b) > 0  # history changes decisions
    v.reset()
    np.testing.assert_array_equal(np.concatenate([v.process(b), v.flush()]), fresh_b)


def test_float_input_is_converted_with_the_convert_rules(kernels):
    x = noisy(16000, 1.0)
    as_float = (x / 32768.0).astype(np.float32)
    np.testing.assert_array_equal(kernels.webrtc_vad(as_float, 16000, 1, 20).decisions,
                                  kernels.webrtc_vad(x, 16000, 1, 20).decisions)


BAD = [
    (lambda k: k.WebRtcVad(22050, 3, 30), "sample_rate: expected 8000, 16000, 32000 or 48000, given 22050"),
    (lambda k: k.WebRtcVad(16000, 4, 30), "mode: expected 0, 1, 2 or 3, given 4"),
    (lambda k: k.WebRtcVad(16000, 3, 25), "frame_ms: expected 10, 20 or 30, given 25"),
    (lambda k: k.WebRtcVad(16000, True, 30), "mode: expected 0, 1, 2 or 3, given True"),
    (lambda k: k.webrtc_vad(np.zeros((2, 480), np.int16), 16000), "samples: expected mono audio, shape (frames,) or (1, frames), given (2, 480)"),
    (lambda k: k.webrtc_vad(np.zeros(480, np.uint8), 16000), "samples: expected dtype int16, int32, float32 or float64, given uint8"),
    (lambda k: k.webrtc_vad([0] * 480, 16000), "samples: expected a numpy.ndarray, given list"),
    (lambda k: k.EnergyVad(16000, 0), "frame_ms: expected an int from 1 to 1000, given 0"),
    (lambda k: k.EnergyVad(16000, 30, -1.0), "energy_threshold: expected a finite number >= 0, given -1.0"),
    (lambda k: k.EnergyVad(16000, 30, float("nan")), "energy_threshold: expected a finite number >= 0, given nan"),
]


@pytest.mark.parametrize("call, message", BAD)
def test_bad_input_same_error_in_both(kernels, call, message):
    with pytest.raises(KernelInputError) as info:
        call(kernels)
    assert str(info.value) == message


def test_empty_input(kernels):
    r = kernels.webrtc_vad(np.zeros(0, np.int16), 16000)
    assert r.decisions.size == 0 and not r.padded


# ---------------------------------------------------------------- energy VAD


def test_energy_vad_is_rms_over_threshold(kernels):
    x = np.concatenate([np.full(160, 0.01, np.float32), np.full(160, 0.5, np.float32), np.zeros(100, np.float32)])
    r = kernels.energy_vad(x, 16000, frame_ms=10, energy_threshold=0.02)
    np.testing.assert_array_equal(r.decisions, [0, 1])  # the partial frame is not decided (1.x)
    np.testing.assert_allclose(r.rms, [0.01, 0.5], rtol=1e-6)
    padded = kernels.energy_vad(x, 16000, frame_ms=10, pad_last=True)
    assert padded.decisions.size == 3 and padded.padded


def test_energy_vad_int16_input_scaled(kernels):
    x = np.full(480, 16384, np.int16)
    r = kernels.energy_vad(x, 16000, 30, 0.49)
    assert r.rms[0] == 0.5 and r.decisions[0] == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), frame_ms=st.integers(1, 60), rate=st.sampled_from([8000, 16000, 22050, 44100]))
def test_energy_parity_bit_identical(both_kernels, seed, frame_ms, rate):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(int(rng.integers(0, 20000))) * rng.choice([0.001, 0.02, 0.5])).astype(np.float32)
    # thresholds exactly at some frames' RMS test the comparison itself
    py, nat = both_kernels
    a = py.energy_vad(x, rate, frame_ms, 0.02, pad_last=True)
    b = nat.energy_vad(x, rate, frame_ms, 0.02, pad_last=True)
    np.testing.assert_array_equal(a.rms.view(np.uint64), b.rms.view(np.uint64))
    np.testing.assert_array_equal(a.decisions, b.decisions)
    if a.rms.size:
        t = float(a.rms[0])
        np.testing.assert_array_equal(py.energy_vad(x, rate, frame_ms, t).decisions,
                                      nat.energy_vad(x, rate, frame_ms, t).decisions)


def test_energy_chunk_invariance(kernels):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(30000) * 0.05).astype(np.float32)
    whole = kernels.energy_vad(x, 16000, 20, 0.04, pad_last=True)
    v = kernels.EnergyVad(16000, 20, 0.04)
    parts, i = [], 0
    while i < x.size:
        k = int(rng.integers(1, 2000))
        parts.append(v.process(x[i:i + k]))
        i += k
    parts.append(v.flush())
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole.decisions)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole.rms)




@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=st.sampled_from([8000, 16000, 32000, 48000]), frame_ms=st.sampled_from([10, 20, 30]),
       n=st.integers(0, 3000), seed=st.integers(0, 1000), history=st.integers(0, 2000))
def test_decide_clip_is_reset_process_flush(kernels, rate, frame_ms, n, seed, history):
    x = noisy(rate, 0.25, seed)[:n] if n else np.zeros(0, np.int16)
    x = np.tile(x, 1 + n // max(1, x.size))[:n] if x.size else x
    det = kernels.WebRtcVad(rate, 3, frame_ms)
    det.process(noisy(rate, 0.1, seed + 1)[:history])  # state the clip must not see
    got = det.decide_clip(np.ascontiguousarray(x))
    assert det.last_padded == bool(n % det.frame_length) and det.frames_done == got.size
    ref = kernels.webrtc_vad(x, rate, 3, frame_ms)
    np.testing.assert_array_equal(got, ref.decisions)
    fresh = kernels.WebRtcVad(rate, 3, frame_ms)
    np.testing.assert_array_equal(got, np.concatenate([fresh.process(x), fresh.flush()]))
