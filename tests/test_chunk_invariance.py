"""Streaming equals whole-file: every audio node and the speech chain, any chunking, both implementations.

Each test pushes a signal through the chunk-stream driver (``Pipeline.stream``
with ``chunked=True`` or ``Pipeline.run_file``) cut into 1-frame, 160-frame,
10 ms and 1 s chunks and into random chunkings (hypothesis), and compares
with the node's whole-signal ``process`` call: exactly (bit for bit) for
conversion, mono mix, VAD, files and segments, and for resampling within one
implementation (the two implementations agree to float rounding only).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import wave

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia import Pipeline
from remotemedia.io import read_audio, write_audio
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.nodes.io_audio import AudioFileSink, AudioFileSource, MonoMixNode
from remotemedia.nodes.segment_writer import STREAM_CONTEXT_FIELDS, SegmentWriter
from remotemedia.streaming import split_chunks

SPEECH = pathlib.Path(__file__).resolve().parent / "data" / "speech"
HYPOTHESIS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Random chunk sizes, tiny ones included; the 4096 appended keeps a single example from being all 1-frame chunks.
random_sizes = st.lists(st.one_of(st.integers(1, 160), st.integers(161, 12000)), min_size=1, max_size=12).map(
    lambda sizes: sizes + [4096])


def read_wav(name: str):
    with wave.open(str(SPEECH / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate()


def stereo(name: str, seconds: float = None):
    """Real speech as a stereo int16 signal (right = left scaled by 3/4 and delayed 7 frames)."""
    x, sr = read_wav(name)
    if seconds is not None:
        x = x[: int(seconds * sr)]
    right = np.concatenate([np.zeros(7, np.int16), (x[:-7].astype(np.int32) * 3 // 4).astype(np.int16)])
    return np.stack([x, right]), sr


def fixed_chunkings(sr: int):
    return {"1 frame": [1], "160 frames": [160], "10 ms": [sr // 100], "1 s": [sr]}


def stream_node(node, x, sr, sizes):
    return list(Pipeline([node]).stream(split_chunks(x, sr, sizes), chunked=True, queue_chunks=64))


def signal_for(sizes, name="es_m_48k.wav"):
    # One-frame chunks cost a driver round trip each: a shorter signal keeps the test fast.
    return stereo(name, 0.15 if sizes == [1] else None)


# ------------------------------------------------------------------- stateless nodes
@pytest.mark.parametrize("chunking", ["1 frame", "160 frames", "10 ms", "1 s"])
def test_format_conversion_and_mono_mix_fixed_chunkings(impl, chunking):
    x, sr = signal_for([1] if chunking == "1 frame" else None)
    sizes = fixed_chunkings(sr)[chunking]
    check_stateless(impl, x, sr, sizes)


@HYPOTHESIS
@given(sizes=random_sizes)
def test_format_conversion_and_mono_mix_random_chunkings(impl, sizes):
    x, sr = stereo("es_m_48k.wav", 1.0)
    check_stateless(impl, x, sr, sizes)


def check_stateless(impl, x, sr, sizes):
    f32 = FormatConverterNode("f32", runtime_hint=impl).process((x, sr))[0] * np.float32(1.7)  # clips some
    for node, data in ((FormatConverterNode("f32", runtime_hint=impl), x),
                       (FormatConverterNode("i16", runtime_hint=impl), f32),
                       (MonoMixNode(), x), (MonoMixNode(), f32)):
        whole, rate = node.process((data, sr))
        outs = stream_node(node, data, sr, sizes)
        assert all(r == rate for _, r in outs)
        got = np.concatenate([o for o, _ in outs], axis=1)
        assert got.dtype == whole.dtype
        np.testing.assert_array_equal(got, whole)


# -------------------------------------------------------------------- resampler
@pytest.mark.parametrize("chunking", ["1 frame", "160 frames", "10 ms", "1 s"])
def test_resampler_fixed_chunkings(impl, chunking):
    x, sr = signal_for([1] if chunking == "1 frame" else None)
    check_resampler(impl, x, sr, fixed_chunkings(sr)[chunking])


@HYPOTHESIS
@given(sizes=random_sizes, target=st.sampled_from([16000, 44100, 8000]))
def test_resampler_random_chunkings(impl, sizes, target):
    x, sr = stereo("es_m_48k.wav", 1.0)
    check_resampler(impl, x, sr, sizes, target)


def check_resampler(impl, x, sr, sizes, target=16000):
    node = AudioResampleNode(target, runtime_hint=impl)
    whole, rate = node.process((x, sr))
    outs = stream_node(node, x, sr, sizes)
    got = np.concatenate([o for o, _ in outs], axis=1)
    assert rate == target and all(r == target for _, r in outs)
    np.testing.assert_array_equal(got, whole)  # bit-exact within one implementation


# -------------------------------------------------------------------------- VAD
@pytest.mark.parametrize("chunking", ["1 frame", "160 frames", "10 ms", "1 s"])
def test_vad_fixed_chunkings(impl, chunking):
    name = "en_f_8k.wav"
    x, sr = stereo(name, 0.8 if chunking == "1 frame" else None)  # 0.8 s still holds the start of a segment
    check_vad(impl, x, sr, fixed_chunkings(sr)[chunking])


@HYPOTHESIS
@given(sizes=random_sizes, name=st.sampled_from(["en_m_16k.wav", "de_m_22k.wav", "es_m_48k.wav"]))
def test_vad_random_chunkings(impl, sizes, name):
    x, sr = stereo(name)
    check_vad(impl, x, sr, sizes)


def check_vad(impl, x, sr, sizes):
    for backend in ("webrtc", "energy"):
        node = VADNode(backend=backend, segments=True, runtime_hint=impl)
        audio, _, whole = node.process((x, sr))
        outs = stream_node(node, x, sr, sizes)
        chunks, final = outs[:-1], outs[-1]
        assert isinstance(final, dict)
        np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks], axis=1), audio)
        decisions = np.concatenate([c[2]["decisions"] for c in chunks] + [final["flushed_decisions"]])
        np.testing.assert_array_equal(decisions, whole["decisions"])
        np.testing.assert_array_equal(final["decisions"], whole["decisions"])
        segments = [s for c in chunks for s in c[2]["new_segments"]] + final["new_segments"]
        assert segments == whole["segments"] == final["segments"]
        assert all(c[2]["keep_from"] <= s["start"] for i, c in enumerate(chunks)
                   for s in [t for later in chunks[i + 1:] for t in later[2]["new_segments"]] + final["new_segments"])


# ------------------------------------------------------------------------ files
@pytest.mark.parametrize("container", ["wav", "flac"])
def test_file_source_chunks_equal_the_whole_file(tmp_path, container):
    x, sr = stereo("es_m_48k.wav")
    path = tmp_path / f"in.{container}"
    write_audio(path, x, sr)
    whole, rate = AudioFileSource(str(path)).process()
    assert whole.dtype == np.int16 and rate == sr
    np.testing.assert_array_equal(whole, x)
    for sizes in ([160], [sr // 100], [sr], [997]):
        chunks = list(AudioFileSource(str(path), chunk_frames=sizes[0]).iter_chunks())
        assert all(c.shape[1] == sizes[0] for c, _ in chunks[:-1])
        np.testing.assert_array_equal(np.concatenate([c for c, _ in chunks], axis=1), x)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_file_sink_writes_the_same_bytes_for_any_chunking(impl, tmp_path, fmt):
    x, sr = stereo("es_m_48k.wav")
    f32 = x.astype(np.float32) / 16384  # half of the samples clip when converted back to int16
    ref = tmp_path / f"ref.{fmt}"
    summary = AudioFileSink(str(ref), runtime_hint=impl).process((f32, sr))
    assert summary["clipped"] > 0 and summary["frames"] == x.shape[1]
    for k, sizes in enumerate(([160], [sr // 100], [sr], [1, 999, 12345])):
        out = tmp_path / f"out{k}.{fmt}"
        [got] = stream_node(AudioFileSink(str(out), runtime_hint=impl), f32, sr, sizes)
        assert got == {**summary, "path": str(out)}
        assert out.read_bytes() == ref.read_bytes()


# ---------------------------------------------------------------- the speech chain
def speech_chain(impl, prefix=None, **vad):
    return Pipeline([MonoMixNode(), AudioResampleNode(16000, runtime_hint=impl),
                     VADNode(backend="webrtc", mode=3, segments=True, runtime_hint=impl, **vad),
                     SegmentWriter(prefix=prefix, runtime_hint=impl)], name="speech-prep")


def whole_file_reference(impl, src, out_dir, **vad):
    """The chain's output computed with whole-signal ``process`` calls (no streaming anywhere)."""
    x, sr = read_audio(src)
    mono, _ = MonoMixNode().process((x, sr))
    r, rate = AudioResampleNode(16000, runtime_hint=impl).process((mono, sr))
    audio, rate, info = VADNode(backend="webrtc", mode=3, segments=True, runtime_hint=impl, **vad).process((r, rate))
    return SegmentWriter(str(out_dir), prefix=pathlib.Path(src).stem, runtime_hint=impl).process((audio, rate, info))


def assert_same_outputs(got_dir, ref_dir, from_file=True):
    names = sorted(os.listdir(ref_dir))
    assert sorted(os.listdir(got_dir)) == names
    for n in names:
        if n.endswith(".wav"):
            assert (got_dir / n).read_bytes() == (ref_dir / n).read_bytes(), n
    index = [n for n in names if n.endswith(".jsonl")]
    assert len(index) == 1
    ref = [json.loads(line) for line in (ref_dir / index[0]).read_text().splitlines()]
    got = [json.loads(line) for line in (got_dir / index[0]).read_text().splitlines()]
    # Only a stream knows its source file and pipeline: filled there, null in the whole-clip reference.
    filled = STREAM_CONTEXT_FIELDS if from_file else ("pipeline",)
    assert all(g[k] is not None for g in got for k in filled)
    assert [{**g, **dict.fromkeys(STREAM_CONTEXT_FIELDS)} for g in got] == ref
    return ref


@pytest.mark.parametrize("chunking", ["1 frame", "160 frames", "10 ms", "1 s"])
def test_speech_chain_fixed_chunkings(impl, tmp_path, chunking):
    # 1-frame chunks: 1.2 s of 8 kHz speech (one segment), one driver round trip per frame and node.
    name, seconds = ("en_f_8k.wav", 1.2) if chunking == "1 frame" else ("es_m_48k.wav", None)
    x, sr = stereo(name, seconds)
    src = tmp_path / "in.wav"
    write_audio(src, x, sr)
    ref = whole_file_reference(impl, src, tmp_path / "ref")
    assert ref["segments"] >= 1
    sizes = fixed_chunkings(sr)[chunking]
    result = speech_chain(impl).run_file(src, tmp_path / "out", chunk_frames=sizes[0], queue_chunks=64)
    assert result["SegmentWriter"] == [{**ref, "output_dir": str(tmp_path / "out"),
                                        "index": str(tmp_path / "out" / "in.segments.jsonl")}]
    assert_same_outputs(tmp_path / "out", tmp_path / "ref")


@HYPOTHESIS
@given(sizes=random_sizes, container=st.sampled_from(["wav", "flac"]))
def test_speech_chain_random_chunkings(impl, sizes, container):
    # Short pauses and segments, so that 4.5 s of speech gives several segments and cuts.
    vad = {"min_silence_ms": 90.0, "min_speech_ms": 60.0, "max_segment_s": 1.0}
    tmp = pathlib.Path(tempfile.mkdtemp())
    try:
        x, sr = stereo("de_m_22k.wav")
        src = tmp / f"clip.{container}"
        write_audio(src, x, sr)
        ref = whole_file_reference(impl, src, tmp / "ref", **vad)
        assert ref["segments"] >= 3
        chain = speech_chain(impl, prefix="clip", **vad)
        chunks = split_chunks(read_audio(src)[0], sr, sizes)  # decoded (FLAC: by libsndfile), then cut in memory
        outputs = list(chain.stream(chunks, chunked=True, output=str(tmp / "out"), queue_chunks=16))
        assert outputs == [{**ref, "output_dir": str(tmp / "out"), "index": str(tmp / "out" / "clip.segments.jsonl")}]
        assert_same_outputs(tmp / "out", tmp / "ref", from_file=False)
    finally:
        shutil.rmtree(tmp)


def test_speech_prep_manifest_runs_and_matches_the_chain(tmp_path):
    manifest = pathlib.Path(__file__).resolve().parents[1] / "examples" / "pipelines" / "speech_prep.json"
    pipeline = Pipeline.from_manifest(manifest)
    assert [type(n).__name__ for n in pipeline.nodes] == ["AudioFileSource", "MonoMixNode", "AudioResampleNode",
                                                          "VADNode", "SegmentWriter"]
    x, sr = stereo("es_m_48k.wav")
    src = tmp_path / "talk.flac"
    write_audio(src, x, sr)
    result = pipeline.run_file(src, tmp_path / "out")
    impl = pipeline.get_node("vad").impl
    ref = whole_file_reference(impl, src, tmp_path / "ref")
    assert result["segments"][0]["segments"] == ref["segments"] >= 1
    assert_same_outputs(tmp_path / "out", tmp_path / "ref")
