"""Bit-exactness of the pure-Python WebRTC VAD port against the C original.

The reference is the ``webrtcvad-wheels`` package (import name ``webrtcvad``),
which compiles the same WebRTC GMM VAD sources as libfvad.  Every test runs
both implementations from a fresh state on the same frame sequence and
requires *identical* decisions for every frame, over modes 0-3, rates 8, 16,
32 and 48 kHz and frame lengths 10, 20 and 30 ms.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

webrtcvad = pytest.importorskip("webrtcvad")

from remotemedia.kernels._webrtc_vad_py import VALID_RATES, FvadPy  # noqa: E402

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data" / "speech"
SPEECH_FILES = sorted(p.name for p in SPEECH_DIR.glob("*.wav"))
RATES = (8000, 16000, 32000, 48000)
MODES = (0, 1, 2, 3)
FRAME_MS = (10, 20, 30)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def frame_signal(signal: np.ndarray, rate: int, ms: int) -> np.ndarray:
    """Cut an int16 signal into whole frames: shape (n_frames, rate*ms/1000)."""
    n = rate // 1000 * ms
    usable = len(signal) // n * n
    return np.ascontiguousarray(signal[:usable], dtype=np.int16).reshape(-1, n)


def reference_decisions(frames: np.ndarray, mode: int, rate: int) -> np.ndarray:
    vad = webrtcvad.Vad(mode)
    return np.array([vad.is_speech(f.tobytes(), rate) for f in frames], dtype=np.uint8)


def assert_identical(samples: np.ndarray, rate: int, label: str) -> int:
    """Compare all modes x frame lengths for one int16 signal at ``rate`` Hz.

    Each configuration starts from a fresh state on both sides. Returns the
    number of decisions compared.
    """
    compared = 0
    failures = []
    for mode in MODES:
        for ms in FRAME_MS:
            frames = frame_signal(samples, rate, ms)
            assert len(frames) > 0
            ref = reference_decisions(frames, mode, rate)
            got = FvadPy(mode, rate).process_frames(frames)
            assert got.dtype == np.uint8 and got.shape == ref.shape
            bad = np.flatnonzero(got != ref)
            compared += len(ref)
            if len(bad):
                failures.append(f"mode={mode} {ms}ms: {len(bad)}/{len(ref)} differ, first at frames {bad[:8].tolist()}")
    assert not failures, f"{label} @ {rate} Hz:\n" + "\n".join(failures)
    return compared


def read_wav(path: Path) -> tuple:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getframerate(), data.astype(np.int16)


@functools.cache
def load_speech(name: str, rate: int) -> np.ndarray:
    """A speech recording converted to ``rate`` Hz mono int16.

    Uses sox (as the recordings were made) when available, else a plain
    linear-interpolation resampler: the comparison does not depend on how the
    audio was produced.
    """
    path = SPEECH_DIR / name
    if shutil.which("sox"):
        out_opts = ["-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-L"]
        cmd = ["sox", "-D", str(path), *out_opts, "-"]
        raw = subprocess.run(cmd, check=True, capture_output=True).stdout
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    src_rate, data = read_wav(path)
    n_out = int(round(len(data) * rate / src_rate))
    t = np.arange(n_out) * (src_rate / rate)
    out = np.interp(t, np.arange(len(data)), data.astype(np.float64))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def synthetic_signals(rate: int) -> dict:
    """Deterministic synthetic test signals (int16) at ``rate`` Hz."""
    rng = np.random.default_rng(rate)
    n = int(rate * 0.6)  # 0.6 s each, ~0.3 s for the full-scale ones
    n_fs = int(rate * 0.33)
    t = np.arange(n) / rate

    def clip(x):
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)

    # 0.6 s from 0.3 s in: the end of the leading pause, then speech.
    speech = load_speech("en_m_16k.wav", rate)[int(0.3 * rate) :][:n]
    speech = np.pad(speech, (0, n - len(speech)))
    gate = (t % 0.2) < 0.1  # 100 ms on / 100 ms off
    return {
        "silence": np.zeros(n, dtype=np.int16),
        "noise_std30": clip(rng.normal(0, 30, n)),
        "noise_std1000": clip(rng.normal(0, 1000, n)),
        "noise_std12000": clip(rng.normal(0, 12000, n)),
        "noise_gated": clip(rng.normal(0, 3000, n) * gate + rng.normal(0, 20, n)),
        "square_200hz_fullscale": np.where(np.sin(2 * np.pi * 200 * t[:n_fs]) >= 0, 32767, -32768).astype(np.int16),
        "random_extremes": np.where(rng.random(n_fs) < 0.5, -32768, 32767).astype(np.int16),
        "constant_min": np.full(n_fs, -32768, dtype=np.int16),
        "sine_440hz": clip(16000 * np.sin(2 * np.pi * 440 * t)),
        "sine_3khz_clipped": clip(60000 * np.sin(2 * np.pi * 3000 * t[:n_fs])),
        "speech_plus_noise": clip(speech.astype(np.float64) + rng.normal(0, 800, n)),
        "speech_loud_clipped": clip(speech[:n_fs].astype(np.float64) * 8),
    }


SYNTHETIC_NAMES = tuple(synthetic_signals(8000))


# ---------------------------------------------------------------------------
# Exactness against the C implementation
# ---------------------------------------------------------------------------


def test_speech_recordings_present():
    assert len(SPEECH_FILES) >= 4, f"speech recordings missing in {SPEECH_DIR}"


@pytest.mark.slow
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", SPEECH_FILES)
def test_speech_recordings_match_reference(name, rate):
    samples = load_speech(name, rate)
    assert len(samples) > rate  # > 1 s of audio
    compared = assert_identical(samples, rate, name)
    assert compared > 0


@pytest.mark.slow
@pytest.mark.parametrize("rate", RATES)
def test_synthetic_signals_match_reference(rate):
    signals = synthetic_signals(rate)
    for name, samples in signals.items():
        assert_identical(samples, rate, name)


def test_speech_decisions_are_not_trivial():
    # The recordings contain speech and pauses: the detector says both.
    frames = frame_signal(load_speech("en_m_16k.wav", 16000), 16000, 30)
    got = FvadPy(0, 16000).process_frames(frames)
    assert 0.2 < got.mean() < 0.9


def test_48khz_uses_only_first_10ms_like_upstream():
    # Upstream resamples the first 10 ms of a 20/30 ms 48 kHz frame once per
    # 10 ms block; the rest of the frame is ignored.  The port replicates it.
    rng = np.random.default_rng(7)
    head = np.clip(rng.normal(0, 5000, (40, 480)), -32768, 32767).astype(np.int16)
    tail_a = np.zeros((40, 960), dtype=np.int16)
    tail_b = np.clip(rng.normal(0, 5000, (40, 960)), -32768, 32767).astype(np.int16)
    a = np.concatenate([head, tail_a], axis=1)
    b = np.concatenate([head, tail_b], axis=1)
    for mode in MODES:
        da = FvadPy(mode, 48000).process_frames(a)
        db = FvadPy(mode, 48000).process_frames(b)
        np.testing.assert_array_equal(da, db)
        np.testing.assert_array_equal(da, reference_decisions(a, mode, 48000))


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    HAVE_HYPOTHESIS = False
else:
    HAVE_HYPOTHESIS = True

if HAVE_HYPOTHESIS:

    @st.composite
    def frame_sequences(draw):
        rate = draw(st.sampled_from(RATES))
        mode = draw(st.sampled_from(MODES))
        ms = draw(st.sampled_from(FRAME_MS))
        n_frames = draw(st.integers(min_value=1, max_value=12))
        n = rate // 1000 * ms
        amplitude = draw(st.sampled_from([3, 300, 3000, 32767]))
        elements = st.integers(min_value=-amplitude - (amplitude == 32767), max_value=amplitude)
        frames = draw(arrays(np.int16, (n_frames, n), elements=elements))
        return rate, mode, frames

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame_sequences())
    def test_random_frames_match_reference(case):
        rate, mode, frames = case
        ref = reference_decisions(frames, mode, rate)
        got = FvadPy(mode, rate).process_frames(frames)
        np.testing.assert_array_equal(got, ref)

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.sampled_from(RATES),
        st.sampled_from(MODES),
        st.lists(
            st.tuples(st.sampled_from(FRAME_MS), st.sampled_from([0, 50, 2000, 20000]), st.integers(0, 2**32 - 1)),
            min_size=1,
            max_size=25,
        ),
    )
    def test_mixed_frame_lengths_and_levels_match_reference(rate, mode, plan):
        # Frame length may change from frame to frame (as the C API allows).
        vad = webrtcvad.Vad(mode)
        port = FvadPy(mode, rate)
        for ms, std, seed in plan:
            n = rate // 1000 * ms
            frame = np.clip(np.random.default_rng(seed).normal(0, std, n), -32768, 32767).astype(np.int16)
            assert port.process(frame) == vad.is_speech(frame.tobytes(), rate)

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_random_frames_match_reference():
        pass


# ---------------------------------------------------------------------------
# State handling
# ---------------------------------------------------------------------------


def _speech_frames(rate: int, ms: int = 30) -> np.ndarray:
    return frame_signal(load_speech("en_m_16k.wav", rate), rate, ms)


@pytest.mark.parametrize("rate", RATES)
def test_reset_restores_fresh_state_keeping_mode_and_rate(rate):
    frames = _speech_frames(rate)
    vad = FvadPy(3, rate)
    first = vad.process_frames(frames)
    vad.reset()
    assert vad.mode == 3 and vad.sample_rate == rate
    again = vad.process_frames(frames)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, reference_decisions(frames, 3, rate))


def test_process_and_process_frames_agree():
    frames = _speech_frames(16000, 20)
    a = FvadPy(1, 16000)
    one_by_one = np.array([a.process(f) for f in frames], dtype=np.uint8)
    np.testing.assert_array_equal(one_by_one, FvadPy(1, 16000).process_frames(frames))
    assert all(isinstance(a.process(f), bool) for f in frames[:3])


@pytest.mark.parametrize("rate", RATES)
def test_state_matters(rate):
    # A detector that has adapted to loud noise decides differently on the
    # same audio than a fresh one (both sides agree with the reference).
    rng = np.random.default_rng(11)
    n = rate // 1000 * 10
    history = np.clip(rng.normal(0, 8000, (120, n)), -32768, 32767).astype(np.int16)
    probe = frame_signal(load_speech("en_m_16k.wav", rate), rate, 10)
    used = FvadPy(0, rate)
    used.process_frames(history)
    d_used = used.process_frames(probe)
    d_fresh = FvadPy(0, rate).process_frames(probe)
    assert (d_used != d_fresh).any()
    ref = webrtcvad.Vad(0)
    for f in history:
        ref.is_speech(f.tobytes(), rate)
    np.testing.assert_array_equal(d_used, np.array([ref.is_speech(f.tobytes(), rate) for f in probe], dtype=np.uint8))


def test_properties_are_read_only():
    vad = FvadPy(2, 32000)
    assert (vad.mode, vad.sample_rate) == (2, 32000)
    with pytest.raises(AttributeError):
        vad.mode = 1
    with pytest.raises(AttributeError):
        vad.sample_rate = 8000


def test_defaults():
    vad = FvadPy()
    assert (vad.mode, vad.sample_rate) == (0, 8000)
    assert VALID_RATES == (8000, 16000, 32000, 48000)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [-1, 4, 1.0, "1", None, True])
def test_bad_mode(mode):
    with pytest.raises(ValueError, match="mode"):
        FvadPy(mode, 16000)


@pytest.mark.parametrize("rate", [0, 11025, 22050, 44100, 96000, 16000.0, None])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="sample_rate"):
        FvadPy(0, rate)


@pytest.mark.parametrize("length", [0, 1, 159, 161, 240, 400, 640])
def test_bad_frame_length(length):
    vad = FvadPy(0, 16000)
    with pytest.raises(ValueError, match="frame length.*160, 320, 480"):
        vad.process(np.zeros(length, dtype=np.int16))
    with pytest.raises(ValueError, match="frame length"):
        vad.process_frames(np.zeros((2, length), dtype=np.int16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16, np.int8])
def test_bad_dtype(dtype):
    vad = FvadPy(0, 8000)
    with pytest.raises(ValueError, match="int16"):
        vad.process(np.zeros(80, dtype=dtype))
    with pytest.raises(ValueError, match="int16"):
        vad.process_frames(np.zeros((3, 80), dtype=dtype))


def test_bad_ndim_and_type():
    vad = FvadPy(0, 8000)
    with pytest.raises(ValueError, match="1-D"):
        vad.process(np.zeros((1, 80), dtype=np.int16))
    with pytest.raises(ValueError, match="2-D"):
        vad.process_frames(np.zeros(80, dtype=np.int16))
    with pytest.raises(ValueError, match="ndarray"):
        vad.process([0] * 80)
    with pytest.raises(ValueError, match="ndarray"):
        vad.process(bytes(160))


def test_bad_input_leaves_state_untouched():
    frames = _speech_frames(8000)
    vad = FvadPy(0, 8000)
    ref = FvadPy(0, 8000)
    for i, f in enumerate(frames):
        with pytest.raises(ValueError):
            vad.process(np.zeros(81, dtype=np.int16))
        assert vad.process(f) == ref.process(f), i


def test_empty_frame_batch():
    out = FvadPy(0, 8000).process_frames(np.zeros((0, 80), dtype=np.int16))
    assert out.dtype == np.uint8 and out.shape == (0,)


def test_non_contiguous_frames_accepted():
    frames = _speech_frames(16000, 10)
    strided = np.repeat(frames, 2, axis=1)[:, ::2]
    assert not strided.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(FvadPy(0, 16000).process_frames(strided), FvadPy(0, 16000).process_frames(frames))
