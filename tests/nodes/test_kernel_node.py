"""KernelNode: bound once (construction, runtime_hint), with_impl copies, audio nodes pass AudioBuffers."""

from __future__ import annotations

import pathlib
import wave

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError, NativeUnavailableError
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, KernelNode, MonoMixNode, VADNode

SPEECH = pathlib.Path(__file__).resolve().parents[1] / "data" / "speech"
NATIVE = _native.module() is not None


def read_wav(name: str):
    with wave.open(str(SPEECH / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate()


def test_old_import_paths_keep_working():
    from remotemedia.nodes import io_audio, kernel_node

    assert KernelNode is kernel_node.KernelNode
    assert io_audio.MonoMixNode is MonoMixNode
    assert MonoMixNode.node_type == "MonoMixNode"


def test_audio_nodes_return_audio_buffers_that_unpack_like_tuples(impl):
    x = np.stack([np.arange(960, dtype=np.int16), -np.arange(960, dtype=np.int16)])
    for node in (FormatConverterNode("f32", runtime_hint=impl), MonoMixNode(runtime_hint=impl),
                 AudioResampleNode(16000, runtime_hint=impl)):
        out = node.process((x, 48000))
        assert type(out) is AudioBuffer
        samples, rate = out
        assert samples.ndim == 2 and rate in (16000, 48000)
    chunk = AudioResampleNode(16000, runtime_hint=impl).process_chunk(AudioBuffer(x.astype(np.float32), 48000))
    assert type(chunk) is AudioBuffer and chunk.sample_rate == 16000


def test_runtime_hint_rebinds(impl):
    other = "python" if impl == "native" else "native"
    node = FormatConverterNode("i16", runtime_hint=impl, name="c")
    assert node.impl == impl and node._convert.impl == impl
    if other == "native" and not NATIVE:
        with pytest.raises(NativeUnavailableError, match="node 'c': runtime_hint='native'"):
            node.runtime_hint = "native"
        assert node.impl == impl and node.runtime_hint == impl  # unchanged after the error
        return
    node.runtime_hint = other
    assert node.runtime_hint == other and node.impl == other and node._convert.impl == other
    assert node.impl_reason == f"runtime_hint={other!r}"
    assert node.get_params()["runtime_hint"] == other  # what to_manifest() writes
    with pytest.raises(KernelInputError, match="node 'c': runtime_hint: expected one of auto, native, python"):
        node.runtime_hint = "gpu"


def test_with_impl_is_a_fresh_copy_and_leaves_the_node_alone(impl):
    x = (np.random.default_rng(0).standard_normal((2, 4000)) * 0.1).astype(np.float32)
    node = AudioResampleNode(16000, quality="medium", runtime_hint=impl, name="rs")
    head = node.process_chunk((x[:, :1500], 48000))
    copy = node.with_impl("python")
    assert copy is not node and type(copy) is AudioResampleNode and copy.name == "rs"
    assert copy.impl == "python" and copy.quality == "medium" and copy.latency_frames == 0  # no stream
    assert node.impl == impl and node.latency_frames > 0  # the original keeps its stream
    rest = node.process_chunk((x[:, 1500:], 48000))
    tail = node.flush()
    whole = copy.process((x, 48000))
    streamed = np.concatenate([head.samples, rest.samples, tail.samples], axis=1)
    if impl == "python":
        np.testing.assert_array_equal(streamed, whole.samples)
    else:  # rubato and the numpy twin agree to float rounding
        np.testing.assert_allclose(streamed, whole.samples, atol=1e-5)
    with pytest.raises(KernelInputError, match="node 'rs': impl: expected 'python' or 'native', given 'auto'"):
        node.with_impl("auto")
    if not NATIVE:
        with pytest.raises(NativeUnavailableError):
            node.with_impl("native")
    else:
        assert node.with_impl("native").impl == "native"


def test_with_impl_copies_every_parameter():
    node = VADNode(backend="webrtc", mode=1, frame_duration_ms=20, segments=True, min_silence_ms=150.0, name="v")
    copy = node.with_impl("python")
    assert copy.get_params() == {**node.get_params(), "runtime_hint": "python"}
    assert (copy.backend, copy.mode, copy.frame_duration_ms, copy.segments, copy.kernel_family) == \
        ("webrtc", 1, 20, True, "webrtc_vad")


@pytest.mark.parametrize("backend, segments", [("webrtc", False), ("webrtc", True), ("energy", True)])
def test_vad_process_reuses_its_detector_as_if_fresh(impl, backend, segments):
    # 1.2 s of each (the numpy port takes milliseconds per frame at 48 kHz), two rates twice.
    clips = [(x[sr // 2:sr // 2 + sr * 6 // 5], sr) for x, sr in
             (read_wav(n) for n in ("en_m_16k.wav", "de_m_22k.wav", "es_m_48k.wav", "en_f_8k.wav"))]
    clips.append((clips[0][0][:7000], clips[0][1]))  # the same rate again, another clip
    node = VADNode(backend=backend, segments=segments, runtime_hint=impl)
    for x, sr in clips + clips[::-1]:
        got = node.process((x, sr))[2]
        ref = VADNode(backend=backend, segments=segments, runtime_hint=impl).process((x, sr))[2]
        assert got.keys() == ref.keys()
        np.testing.assert_array_equal(got.pop("decisions"), ref.pop("decisions"))
        assert got == ref


def test_vad_one_frame_info_has_every_key(impl):
    x, sr = read_wav("en_m_16k.wav")
    frame = x[16000:16480]
    _, _, info = VADNode(backend="webrtc", runtime_hint=impl).process((frame, sr))
    assert sorted(info) == sorted(["is_speech", "speech_frames", "total_frames", "speech_ratio", "frame_ms",
                                   "backend", "mode", "implementation", "decisions"])
    assert info["mode"] == 3  # the flush info has it too (segment index records read it there)
    assert info["total_frames"] == 1 and info["decisions"].dtype == np.uint8
    assert info["speech_frames"] == int(info["decisions"][0]) and info["implementation"] == impl


def test_vad_process_from_many_threads_at_once(impl):
    """process() reuses a detector; calls overlapping in time each get a fresh state all the same."""
    from concurrent.futures import ThreadPoolExecutor

    x, sr = read_wav("en_m_16k.wav")
    # Native: clips long enough (> 16384 samples) that the kernel releases the GIL, so calls overlap.
    # Numpy: threads switch every few ms inside the slow port; shorter clips, fewer calls.
    length, calls = (24000, 48) if impl == "native" else (6000, 12)
    clips = [x[i * 4000:i * 4000 + length] for i in range(4)]
    for segments in (False, True):
        node = VADNode(backend="webrtc", segments=segments, runtime_hint=impl)
        refs = [VADNode(backend="webrtc", segments=segments, runtime_hint=impl).process((c, sr))[2] for c in clips]
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda i, n=node: n.process((clips[i % 4], sr))[2], range(calls)))
        for i, info in enumerate(got):
            ref = refs[i % 4]
            np.testing.assert_array_equal(info["decisions"], ref["decisions"])
            assert info.get("segments") == ref.get("segments")


def test_vad_process_takes_a_strided_channel(impl):
    x, sr = read_wav("en_m_16k.wav")
    inter = np.stack([x, x // 3], axis=1)  # (frames, 2): one channel of it is a strided view
    strided = inter.T[:1]
    assert not strided.flags.c_contiguous
    got = VADNode(backend="webrtc", runtime_hint=impl).process((strided, sr))[2]
    ref = VADNode(backend="webrtc", runtime_hint=impl).process((x, sr))[2]
    np.testing.assert_array_equal(got["decisions"], ref["decisions"])
