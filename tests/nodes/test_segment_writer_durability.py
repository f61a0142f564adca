"""SegmentWriter's durability protocol: every segment file is fsynced before its rename, and the
folder is fsynced after the last segment's rename and before the index that lists them appears."""

from __future__ import annotations

import os

import numpy as np

import remotemedia.io.atomic as atomic
from remotemedia.nodes.segment_writer import SegmentWriter


def test_one_folder_fsync_after_all_segments_and_before_the_index(tmp_path, monkeypatch):
    events = []
    real_replace, real_fsync, real_fsync_dir = os.replace, os.fsync, atomic.fsync_dir

    def replace(src, dst):
        events.append(("rename", os.path.basename(dst)))
        return real_replace(src, dst)

    def fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        return real_fsync(fd)

    def fsync_dir(path):
        events.append(("fsync_dir", os.path.basename(os.fspath(path))))
        return real_fsync_dir(path)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)

    x = (np.arange(16000) % 200).astype(np.int16)[np.newaxis, :]
    segments = [{"start": 0, "end": 1000}, {"start": 2000, "end": 3000}, {"start": 5000, "end": 9000}]
    out = tmp_path / "out"
    result = SegmentWriter(output_dir=str(out), prefix="clip").process((x, 16000, {"segments": segments}))
    assert result["segments"] == 3

    events = [e for e in events if e[0] != "fsync" or not e[1].isdigit()]  # fsync_dir's own folder fd
    renames = [i for i, e in enumerate(events) if e[0] == "rename"]
    names = [events[i][1] for i in renames]
    assert names == ["clip_0000.wav", "clip_0001.wav", "clip_0002.wav", "clip.segments.jsonl"]
    for i in renames:  # each file's data is fsynced right before its rename
        assert events[i - 1][0] == "fsync" and events[i - 1][1].startswith(f".{events[i][1]}.")
    dir_syncs = [i for i, e in enumerate(events) if e[0] == "fsync_dir"]
    # One before the index (after the last segment's rename), one after the index's rename.
    assert len(dir_syncs) == 2
    assert renames[2] < dir_syncs[0] < renames[3] < dir_syncs[1]
    assert sorted(os.listdir(out)) == ["clip.segments.jsonl", "clip_0000.wav", "clip_0001.wav", "clip_0002.wav"]


def test_a_segment_whose_commit_fails_fails_the_stream_and_leaves_no_index(tmp_path, monkeypatch):
    """Segment files are committed (fsync, rename) beside the work on later chunks: a commit that fails
    (a full disk at fsync) is raised by the stream, at a later segment or at its end, never lost; the
    index is not written, and the folder holds only complete segment files (no temporary file)."""
    import errno

    from remotemedia.io.readers import read_audio

    real_fsync = os.fsync
    calls = []

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".clip_0001.wav."):
            calls.append(name)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    x = (np.arange(48000) % 200).astype(np.int16)[np.newaxis, :]
    out = tmp_path / "out"
    writer = SegmentWriter(output_dir=str(out), prefix="clip")
    writer.begin_stream()
    failed = None
    try:
        for k in range(6):  # a chunk of 8000 samples, each with the segment it completes
            chunk = x[:, k * 8000:(k + 1) * 8000]
            seg = {"start": k * 8000 + 1000, "end": k * 8000 + 3000}
            writer.process_chunk((chunk, 16000, {"new_segments": [seg], "keep_from": (k + 1) * 8000}))
        writer.flush()
    except OSError as exc:
        failed = exc
        writer.abort_stream()  # what the engine does when a stream fails: commits in flight end first
    assert failed is not None and failed.errno == errno.ENOSPC and calls
    names = sorted(os.listdir(out))
    assert "clip.segments.jsonl" not in names and "clip_0001.wav" not in names
    assert not [n for n in names if n.startswith(".")]  # no temporary file left
    assert "clip_0000.wav" in names
    for name in names:  # what is there is complete
        samples, rate = read_audio(out / name)
        assert rate == 16000 and samples.shape == (1, 2000)
