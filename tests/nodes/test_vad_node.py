"""VADNode: 1.x signature, both backends, segments, streaming == whole."""

from __future__ import annotations

import pathlib
import wave

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError
from remotemedia.nodes.audio import VADNode

SPEECH = pathlib.Path(__file__).resolve().parents[1] / "data" / "speech"


def read_wav(name: str):
    with wave.open(str(SPEECH / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate()


def test_1x_defaults_energy_vad(impl):
    x, sr = read_wav("en_m_16k.wav")
    node = VADNode(runtime_hint=impl)
    audio, rate, info = node.process((x, sr))
    assert audio.shape == (1, x.size) and rate == sr and np.shares_memory(audio, x)
    assert info["backend"] == "energy" and info["implementation"] == impl
    assert info["total_frames"] == -(-x.size // 480)  # 30 ms frames, last one padded
    assert 0 < info["speech_frames"] < info["total_frames"]
    assert info["is_speech"] == (info["speech_ratio"] > 0.5)
    assert "segments" not in info


def test_silence_is_not_speech(impl):
    node = VADNode(runtime_hint=impl)
    _, _, info = node.process((np.zeros(16000, np.float32), 16000))
    assert not info["is_speech"] and info["speech_frames"] == 0


@pytest.mark.parametrize("name", ["en_m_16k.wav", "en_f_8k.wav", "es_m_48k.wav"])
def test_webrtc_segments_cover_the_spoken_sentences(impl, name):
    x, sr = read_wav(name)
    node = VADNode(backend="webrtc", mode=3, segments=True, runtime_hint=impl)
    _, _, info = node.process((x, sr))
    segs = info["segments"]
    # Each recording has two sentences separated by a 0.6-0.8 s pause (see tests/data/speech/make_speech.sh).
    assert len(segs) == 2, segs
    assert segs[0]["end"] <= segs[1]["start"]
    assert 0.1 < segs[0]["start_s"] < 0.6 and segs[1]["end_s"] <= x.size / sr
    for s in segs:
        assert s["start_s"] == s["start"] / sr


def test_implementations_agree_through_the_node(both_kernels):
    for name in ("en_m_16k.wav", "es_m_48k.wav", "en_f_8k.wav"):
        x, sr = read_wav(name)
        for backend in ("webrtc", "energy"):
            a = VADNode(backend=backend, segments=True, runtime_hint="python").process((x, sr))[2]
            b = VADNode(backend=backend, segments=True, runtime_hint="native").process((x, sr))[2]
            np.testing.assert_array_equal(a["decisions"], b["decisions"])
            assert a["segments"] == b["segments"]


def test_streaming_matches_whole(impl):
    x, sr = read_wav("en_m_16k.wav")
    stereo = np.stack([x, (x // 2).astype(np.int16)])
    for backend in ("webrtc", "energy"):
        whole = VADNode(backend=backend, segments=True, runtime_hint=impl).process((stereo, sr))[2]
        node = VADNode(backend=backend, segments=True, runtime_hint=impl)
        rng = np.random.default_rng(0)
        i, streamed = 0, []
        while i < x.size:
            k = int(rng.integers(1, 4000))
            _, _, part = node.process_chunk((stereo[:, i:i + k], sr))
            streamed += part["new_segments"]
            i += k
        final = node.flush()
        streamed += final["new_segments"]
        np.testing.assert_array_equal(final["decisions"], whole["decisions"])
        assert final["segments"] == whole["segments"] == streamed


def test_non_vad_rate_is_resampled_for_webrtc(impl):
    pytest.importorskip("remotemedia.kernels.resample")
    x, sr = read_wav("de_m_22k.wav")
    _, rate, info = VADNode(backend="webrtc", segments=True, runtime_hint=impl).process((x, sr))
    assert rate == 22050 and info["segments"]
    assert all(s["end"] <= x.size for s in info["segments"])


def test_audio_buffer_input_and_multichannel(impl):
    x, sr = read_wav("en_m_16k.wav")
    buf = AudioBuffer(np.stack([x, x]), sr)
    _, _, info2 = VADNode(backend="webrtc", runtime_hint=impl).process(buf)
    _, _, info1 = VADNode(backend="webrtc", runtime_hint=impl).process((x, sr))
    np.testing.assert_array_equal(info1["decisions"], info2["decisions"])


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "silero"}, "node 'v': backend: expected 'energy' or 'webrtc', given 'silero'"),
    ({"backend": "webrtc", "mode": 5}, "node 'v': mode: expected 0, 1, 2 or 3, given 5"),
    ({"backend": "webrtc", "frame_duration_ms": 25}, "node 'v': frame_ms: expected 10, 20 or 30, given 25"),
    ({"energy_threshold": -0.1}, "node 'v': energy_threshold: expected a finite number >= 0, given -0.1"),
    ({"min_silence_ms": -5}, "node 'v': min_silence_ms: expected a finite number >= 0, given -5"),
    ({"runtime_hint": "cuda"}, "node 'v': runtime_hint: expected one of auto, native, python, rust, given 'cuda'"),
])
def test_bad_parameters_rejected_at_construction(kwargs, message):
    with pytest.raises(KernelInputError) as info:
        VADNode(name="v", **kwargs)
    assert str(info.value) == message


def test_class_default_and_instance_families():
    assert VADNode.kernel_family == "energy_vad"
    assert VADNode.default_impl == _native.STATUS.impl
    assert VADNode(backend="webrtc").kernel_family == "webrtc_vad"


def test_segments_are_at_the_input_rate_when_the_detector_resamples(impl):
    # 22.05 kHz is not a WebRTC rate: detection runs at 16 kHz, segments must still be in 22.05 kHz samples.
    x, sr = read_wav("de_m_22k.wav")
    segs = VADNode(backend="webrtc", segments=True, runtime_hint=impl).process((x, sr))[2]["segments"]
    from remotemedia.kernels.resample import resample

    x16 = resample(x.astype(np.float32) / 32768, sr, 16000, impl=impl)
    ref = VADNode(backend="webrtc", segments=True, runtime_hint=impl).process((x16, 16000))[2]["segments"]
    assert len(segs) == len(ref) >= 1
    for s, r in zip(segs, ref):
        assert s["end"] <= x.size and s["start_s"] == s["start"] / sr and s["end_s"] == s["end"] / sr
        assert abs(s["start_s"] - r["start_s"]) < 0.001 and abs(s["end_s"] - r["end_s"]) < 0.001
