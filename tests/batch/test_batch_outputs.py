"""What an item pipeline's sinks become on disk: SegmentWriter's naming and index, the library's writers."""

from __future__ import annotations

import json
import os

import numpy as np
from batch_helpers import SPEECH_PREP, read_wav

from remotemedia.batch import run_batch
from remotemedia.batch.worker import with_impl
from remotemedia.io import write_audio
from remotemedia.nodes.segment_writer import (
    STREAM_CONTEXT_FIELDS,
    SegmentWriter,
    segment_file_name,
    segment_index_name,
)
from remotemedia.pipeline import Pipeline

INDEX_KEYS = {"index", "file", "start", "end", "start_s", "end_s", "sample_rate", "frames", "clipped", "source"}


def index_lines(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_segment_names_with_and_without_a_prefix():
    assert (segment_file_name("talk", 3), segment_index_name("talk")) == ("talk_0003.wav", "talk.segments.jsonl")
    assert (segment_file_name("", 3), segment_index_name("")) == ("0003.wav", "segments.jsonl")


def test_vad_segments_are_written_by_segment_writer_in_both_kinds_of_pipeline(tmp_path, speech_dir, impl):
    src = speech_dir / "en_f_8k.wav"
    out = tmp_path / "out"
    run_batch(SPEECH_PREP, [str(src)], str(out), impl=impl)
    folder = out / "en_f_8k"
    lines = index_lines(folder / "segments.jsonl")
    assert len(lines) >= 1 and all(INDEX_KEYS <= set(line) for line in lines)
    assert sorted(os.listdir(folder)) == sorted([segment_file_name("", i) for i in range(len(lines))]
                                                + ["segments.jsonl"])
    # The same pipeline ending in a SegmentWriter (a file pipeline, streamed): the same segments, same index format.
    streamed = Pipeline.from_manifest(with_impl(dict(SPEECH_PREP, nodes=[*SPEECH_PREP["nodes"], {
        "id": "write", "node_type": "SegmentWriter", "params": {"prefix": ""}}]), impl))
    streamed.run_file(str(src), str(tmp_path / "streamed"))
    other = index_lines(tmp_path / "streamed" / "segments.jsonl")
    assert [set(x) for x in lines] == [set(x) for x in other]  # one index format
    drop = STREAM_CONTEXT_FIELDS  # what only a chunk stream knows: null in the item pipeline's records
    assert all(x[k] is None for x in lines for k in drop)
    assert [{k: v for k, v in x.items() if k not in drop} for x in lines] == [
        {k: v for k, v in x.items() if k not in drop} for x in other]
    for line in lines:
        a, rate_a = read_wav(folder / line["file"])
        b, rate_b = read_wav(tmp_path / "streamed" / line["file"])
        # Resampled whole vs in chunks: equal to float rounding (one int16 step at most).
        assert rate_a == rate_b == 16000 and a.shape == b.shape
        assert np.abs(a.astype(np.int32) - b.astype(np.int32)).max() <= 1


def test_several_sinks_get_prefixes_and_int32_stays_int32(tmp_path):
    t = np.arange(16000) / 16000
    x = (np.sin(2 * np.pi * 220 * t) * (t > 0.3) * (t < 0.7) * 2**30).astype(np.int32)
    (tmp_path / "in").mkdir()
    write_audio(tmp_path / "in" / "tone.wav", x, 16000, "i32")
    manifest = {"version": "v1", "metadata": {"name": "two-sinks"}, "nodes": [
        {"id": "pass", "node_type": "PassThroughNode"},
        {"id": "vad", "node_type": "VADNode", "params": {"backend": "energy", "segments": True}},
        {"id": "copy", "node_type": "PassThroughNode"}],
        "connections": [{"from": "pass", "to": "vad"}, {"from": "pass", "to": "copy"}]}
    report = run_batch(manifest, [str(tmp_path / "in")], str(tmp_path / "out"))
    assert report.ok == 1, report.failures
    folder = tmp_path / "out" / "tone"
    names = sorted(os.listdir(folder))
    lines = index_lines(folder / "vad.segments.jsonl")
    assert names == sorted(["copy_audio.wav", "vad.segments.jsonl"] + [f"vad_{i:04d}.wav" for i in range(len(lines))])
    copy, rate = read_wav(folder / "copy_audio.wav")
    assert rate == 16000 and copy.dtype == np.int32 and np.array_equal(copy[0], x)
    for line in lines:
        seg, _ = read_wav(folder / line["file"])
        assert seg.dtype == np.int32 and np.array_equal(seg[0], x[line["start"]:line["end"]])
    assert sorted(report.results[0]["outputs"]) == sorted(f"tone/{n}" for n in names)


def test_segment_writer_with_an_empty_prefix_writes_no_hidden_index(tmp_path):
    samples = np.zeros((1, 800), np.int16)
    SegmentWriter(output_dir=str(tmp_path), prefix="").process(
        (samples, 8000, {"segments": [{"start": 100, "end": 300, "start_s": 0.0125, "end_s": 0.0375}]}))
    assert sorted(os.listdir(tmp_path)) == ["0000.wav", "segments.jsonl"]


def test_segment_writer_can_leave_the_folder_fsync_to_its_caller(tmp_path, monkeypatch):
    import stat

    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    item = (np.zeros((1, 800), np.int16), 8000, {"segments": [
        {"start": 100, "end": 300, "start_s": 0.0125, "end_s": 0.0375},
        {"start": 400, "end": 700, "start_s": 0.05, "end_s": 0.0875}]})
    for sync_dir, dirs in ((True, 2), (False, 0)):
        synced.clear()
        SegmentWriter(output_dir=str(tmp_path / str(sync_dir)), prefix="", sync_dir=sync_dir).process(item)
        assert synced.count("file") == 3 and synced.count("dir") == dirs  # every file still fsynced
        assert sorted(os.listdir(tmp_path / str(sync_dir))) == ["0000.wav", "0001.wav", "segments.jsonl"]
