"""The remotemedia 1.x audio nodes against their 1.x behaviour, in both implementations."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from remotemedia.audio import AudioBuffer as Buf
from remotemedia.core.pipeline import Pipeline
from remotemedia.errors import KernelInputError
from remotemedia.kernels import mix, resample
from remotemedia.nodes.audio import (
    AudioBuffer,
    AudioResampler,
    AudioTransform,
    ExtractAudioDataNode,
    VoiceActivityDetector,
)
from remotemedia.streaming import split_chunks


def stereo(n=44100, rate=44100, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = 0.3 * np.sin(2 * np.pi * (300 * t + 500 * t ** 2)) + 0.05 * rng.standard_normal(n)
    return np.stack([x, 0.5 * x + 0.02 * rng.standard_normal(n)]).astype(np.float32)


def sdr_db(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 10 * np.log10(np.sum(b ** 2) / max(np.sum((a - b) ** 2), 1e-300))


async def _collect(agen):
    return [x async for x in agen]


def stream_through(node, items):
    return asyncio.run(_collect(node.process(iter(items))))


# ------------------------------------------------------------------ AudioTransform
def test_audio_transform_defaults_and_shapes(impl):
    node = AudioTransform(runtime_hint=impl)
    assert (node.output_sample_rate, node.output_channels) == (44100, 2)
    x = stereo()
    out, rate = AudioTransform(16000, 1, runtime_hint=impl).process((x, 44100))
    assert rate == 16000 and out.shape == (1, 16000) and out.dtype == np.float32
    ref = resample.resample(mix.mix_to_mono(x, impl=impl), 44100, 16000, impl=impl)
    np.testing.assert_array_equal(out, ref)  # mono mix, then the kernel's resampler
    up, _ = AudioTransform(44100, 2, runtime_hint=impl).process((x[:1], 44100))  # mono -> stereo: copies
    assert up.shape == (2, 44100) and np.array_equal(up[0], up[1]) and np.array_equal(up[0], x[0])
    six = np.concatenate([x, x, x])
    first, _ = AudioTransform(44100, 2, runtime_hint=impl).process((six, 44100))  # 6 -> 2: the first two
    np.testing.assert_array_equal(first, six[:2])
    same, r = AudioTransform(44100, 2, runtime_hint=impl).process((x, 44100))
    assert same is x and r == 44100  # nothing to do: the input itself


def test_audio_transform_integer_input_and_odd_lengths(impl):
    pcm = np.round(stereo(12345) * 32767).astype(np.int16)
    out, rate = AudioTransform(16000, 1, runtime_hint=impl).process((pcm, 44100))
    assert out.dtype == np.float32 and out.shape == (1, round(12345 * 16000 / 44100))
    kept, _ = AudioTransform(44100, 1, runtime_hint=impl).process((pcm, 44100))  # no resampling: mixed as float
    assert kept.dtype == np.float32
    np.testing.assert_array_equal(kept, mix.mix_to_mono(pcm.astype(np.float32) / 32768, impl=impl))


def test_audio_transform_keeps_metadata_and_refuses_what_it_cannot_do(impl):
    x = stereo(4410)
    node = AudioTransform(16000, 1, runtime_hint=impl, name="tf")
    out = node.process((x, 44100, {"session_id": "s1"}))
    assert len(out) == 3 and out[1] == 16000 and out[2] == {"session_id": "s1"}
    with pytest.raises(KernelInputError, match="node 'tf': input"):
        node.process("not audio")
    with pytest.raises(KernelInputError, match="2 channels"):
        AudioTransform(16000, 6, runtime_hint=impl).process((x, 44100))
    with pytest.raises(KernelInputError, match="output_sample_rate"):
        AudioTransform(100, 1)
    with pytest.raises(KernelInputError, match="output_channels"):
        AudioTransform(16000, 0)


def test_audio_transform_native_and_numpy_agree(both_kernels):
    x = stereo(30000)
    a, _ = AudioTransform(16000, 1, runtime_hint="python").process((x, 44100))
    b, _ = AudioTransform(16000, 1, runtime_hint="native").process((x, 44100))
    assert a.shape == b.shape and sdr_db(b, a) > 120


@pytest.mark.parametrize("cls,kwargs", [(AudioTransform, {"output_sample_rate": 16000, "output_channels": 1}),
                                        (AudioResampler, {"target_sample_rate": 22050})])
@pytest.mark.parametrize("sizes", [[1000], [1, 4096, 333], [44100 * 3]])
def test_streamed_chunks_equal_the_whole_clip(impl, cls, kwargs, sizes):
    x = stereo(44100 * 2 + 17)
    whole, rate = cls(runtime_hint=impl, **kwargs).process((x, 44100))
    node = cls(runtime_hint=impl, **kwargs)
    outs = [node.process_chunk(c) for c in split_chunks(x, 44100, sizes)]
    outs.append(node.flush())
    got = np.concatenate([o[0] for o in outs if o is not None], axis=1)
    assert got.shape == whole.shape  # exactly round(n * out / in) frames
    np.testing.assert_array_equal(got, whole)
    assert all(o[1] == rate for o in outs if o is not None)


def test_streamed_chunks_must_keep_their_format(impl):
    node = AudioResampler(16000, runtime_hint=impl, name="rs")
    node.process_chunk((stereo(1000), 44100))
    with pytest.raises(KernelInputError, match="as earlier in this stream"):
        node.process_chunk((stereo(1000), 48000))
    node.reset()
    node.process_chunk((stereo(1000), 48000))  # a new stream after reset


# ------------------------------------------------------------------ AudioResampler
def test_audio_resampler_resamples_for_real(impl):
    x = stereo()
    out, rate = AudioResampler(16000, runtime_hint=impl).process((x, 44100))  # 1.x returned the input
    assert rate == 16000 and out.shape == (2, 16000) and out.dtype == np.float32
    np.testing.assert_array_equal(out, resample.resample(x, 44100, 16000, impl=impl))
    assert AudioResampler(runtime_hint=impl).target_sample_rate == 44100
    same = AudioResampler(44100, runtime_hint=impl).process((x, 44100))
    assert same[0] is x


# ------------------------------------------------------------- ExtractAudioDataNode
def test_extract_audio_data_flattens_like_1x(caplog):
    x = stereo(100)
    flat = ExtractAudioDataNode().process((x, 44100))
    assert flat.shape == (200,) and np.shares_memory(flat, x)  # a view: no copy
    np.testing.assert_array_equal(flat, x.flatten())
    np.testing.assert_array_equal(ExtractAudioDataNode().process(Buf(x, 44100)), x.flatten())
    assert ExtractAudioDataNode(name="ex").process({"audio": 1}) is None
    assert "expected an (ndarray, sample_rate) tuple" in caplog.text


# --------------------------------------------------------------------- AudioBuffer
def test_audio_buffer_fixed_chunks_and_remainder():
    x = stereo(2500)
    items = [(x[:, :700], 44100), (x[:, 700:701], 44100), (x[:, 701:2500], 44100)]
    out = stream_through(AudioBuffer(1000), items)
    assert [o[0].shape for o in out] == [(2, 1000), (2, 1000), (2, 500)]
    assert all(o[1] == 44100 for o in out)
    np.testing.assert_array_equal(np.concatenate([o[0] for o in out], axis=1), x)


def test_audio_buffer_flushes_on_a_format_change():
    a, b = stereo(1500), stereo(900, seed=2)[:1]
    out = stream_through(AudioBuffer(1000), [(a, 44100), (b, 16000), (b.astype(np.float64), 16000)])
    assert [(o[0].shape, o[1], o[0].dtype) for o in out] == [
        ((2, 1000), 44100, np.float32), ((2, 500), 44100, np.float32),  # flushed when the rate changed
        ((1, 900), 16000, np.float32), ((1, 900), 16000, np.float64)]   # ... and when the dtype changed
    with pytest.raises(KernelInputError, match="buffer_size_samples"):
        AudioBuffer(0)
    with pytest.raises(KernelInputError, match="node 'buf'"):
        stream_through(AudioBuffer(10, name="buf"), ["text"])


def test_audio_buffer_in_a_1x_pipeline():
    x = stereo(4000)

    async def main():
        p = Pipeline()
        p.add_node(AudioBuffer(buffer_size_samples=1500))
        async with p.managed_execution():
            return [o async for o in p.process(_feed([(x[:, i:i + 300], 16000) for i in range(0, 4000, 300)]))]

    out = asyncio.run(main())
    assert [o[0].shape[1] for o in out] == [1500, 1500, 1000]


async def _feed(items):
    for item in items:
        yield item


# ----------------------------------------------------------- VoiceActivityDetector
def reference_1x(chunks, frame, energy_threshold, speech_threshold):
    """1.x's algorithm written out per frame: threshold per chunk from the last 100 energies."""
    history, out = [], []
    for chunk in chunks:
        if history:
            s = sorted(history)
            thr = 0.7 * (s[int(len(s) * 0.3)] * 2.5) + 0.3 * energy_threshold
        else:
            thr = energy_threshold
        n = len(chunk) // frame
        speech, total = 0, 0.0
        for i in range(n):
            e = float(np.sqrt(np.mean(chunk[i * frame:(i + 1) * frame].astype(np.float64) ** 2)))
            total += e
            history.append(e)
            if len(history) > 100:
                history.pop(0)
            speech += e > thr
        ratio = speech / max(n, 1)
        out.append((ratio >= speech_threshold, ratio, total / max(n, 1), thr))
    return out, history


def test_vad_adaptive_threshold_on_a_known_sequence(impl):
    frame = 30  # 30 ms at 1 kHz
    levels = [[0.01] * 5 + [0.5] * 5, [0.03] * 10, [0.01] * 40, [0.02] * 10 + [0.0] * 3, [0.005] * 80,
              [0.04] * 7, [0.2] * 2]
    chunks = [np.repeat(np.asarray(lv, np.float32), frame) for lv in levels]
    chunks[3] = np.concatenate([chunks[3], np.full(17, 0.9, np.float32)])  # a partial frame: not analysed
    node = VoiceActivityDetector(frame_duration_ms=30, energy_threshold=0.02, speech_threshold=0.3,
                                 runtime_hint=impl)
    expected, history = reference_1x(chunks, frame, 0.02, 0.3)
    # Hand-checked: chunk 1 against 0.02 (5 of 10 frames), chunk 2 against 0.7 * 2.5 * 0.01 + 0.006.
    assert expected[0][:2] == (True, 0.5) and expected[1][3] == pytest.approx(0.0235) and expected[1][:2] == (True, 1)
    out = stream_through(node, [(c[np.newaxis, :], 1000) for c in chunks])
    assert len(out) == len(chunks)
    for (audio, meta), chunk, (is_speech, ratio, avg, _thr) in zip(out, chunks, expected):
        assert audio[1] == 1000 and audio[0].shape == (1, chunk.size)
        assert set(meta) == {"is_speech", "speech_ratio", "avg_energy", "frame_duration_ms"}
        assert meta["is_speech"] is is_speech and meta["speech_ratio"] == ratio and meta["frame_duration_ms"] == 30
        assert meta["avg_energy"] == pytest.approx(avg, rel=1e-6)
    assert [m["is_speech"] for _, m in out] == [e[0] for e in expected]
    assert len(history) == 100  # the last 100 frame energies, across chunks
    assert node.adaptive_threshold() == pytest.approx(0.7 * 2.5 * sorted(history)[30] + 0.3 * 0.02)
    node.reset()
    assert node.adaptive_threshold() == 0.02


def test_vad_filter_mode_metadata_and_integer_input(impl):
    quiet = np.full((1, 3000), 0.001, np.float32)
    loud = (np.sin(np.arange(3000) / 3.0) * 0.5).astype(np.float32)[np.newaxis, :]
    items = [(quiet, 16000), (loud, 16000, {"session_id": "a"}), (quiet, 16000)]
    kept = stream_through(VoiceActivityDetector(filter_mode=True, runtime_hint=impl), items)
    assert len(kept) == 1 and kept[0][2] == {"session_id": "a"} and kept[0][0] is loud
    plain = stream_through(VoiceActivityDetector(include_metadata=False, runtime_hint=impl), items)
    assert [len(o) for o in plain] == [2, 3, 2] and plain[1][2] == {"session_id": "a"}
    merged = stream_through(VoiceActivityDetector(runtime_hint=impl), items)
    assert merged[1][1]["session_id"] == "a" and merged[1][1]["is_speech"] is True
    pcm = np.round(loud * 32767).astype(np.int16)  # integers are scaled, not squared in int16 (1.x overflowed)
    (_, meta), = stream_through(VoiceActivityDetector(runtime_hint=impl), [(np.vstack([pcm, pcm]), 16000)])
    assert 0.3 < meta["avg_energy"] < 0.4 and meta["is_speech"]


def test_vad_native_and_numpy_decide_the_same(both_kernels):
    rng = np.random.default_rng(5)
    chunks = [(rng.uniform(-a, a, (2, 4800)).astype(np.float32), 16000) for a in rng.uniform(0, 0.2, 30)]
    a = stream_through(VoiceActivityDetector(runtime_hint="python"), chunks)
    b = stream_through(VoiceActivityDetector(runtime_hint="native"), chunks)
    assert [m for _, m in a] == [m for _, m in b]


def test_vad_parameters_are_checked():
    with pytest.raises(KernelInputError, match="frame_ms"):
        VoiceActivityDetector(frame_duration_ms=0)
    with pytest.raises(KernelInputError, match="speech_threshold"):
        VoiceActivityDetector(speech_threshold=2)
    with pytest.raises(KernelInputError, match="energy_threshold"):
        VoiceActivityDetector(energy_threshold=-1)


def test_vad_output_feeds_the_buffer_and_the_transform(impl):
    """1.x example 07's chain MediaReader -> ... -> VoiceActivityDetector -> AudioBuffer."""
    x = stereo(9000, 16000)
    vad_out = stream_through(VoiceActivityDetector(runtime_hint=impl), [(x[:, :4000], 16000), (x[:, 4000:], 16000)])
    buffered = stream_through(AudioBuffer(3000), vad_out)
    assert [b[0].shape for b in buffered] == [(2, 3000)] * 3
    np.testing.assert_array_equal(np.concatenate([b[0] for b in buffered], axis=1), x)
    mono = AudioTransform(16000, 1, runtime_hint=impl).process(vad_out[0])
    assert mono[0].shape == (1, 4000) and mono[2] == vad_out[0][1]  # metadata passed on
