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
