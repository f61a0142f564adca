"""Hugging Face ``datasets`` audio folder: ``metadata.jsonl`` beside the audio files.

Layout of ``<target>`` (published as a whole: written under a hidden staging
name, then renamed)::

    README.md                  dataset card: segments, hours and bytes per split
    metadata.jsonl             without splits: one line per segment
    <key>/<segment file>       hard links to the batch's segment files (copies
                               where the file system cannot link)

or, with splits, ``train/``, ``validation/``, ``test/``, each with its own
``metadata.jsonl`` and files. ``load_dataset("audiofolder", data_dir=target)``
reads it: ``file_name`` (relative to the metadata file) becomes the ``audio``
column, the other keys become columns. A segment's split is a stable hash of
its group (:func:`remotemedia.export.record.split_of`): all segments of one
recording, or of one input folder (``split_by="folder"``: a speaker's folder,
say), land in the same split.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from remotemedia.errors import ExportError
from remotemedia.export._files import link_or_copy, write_jsonl
from remotemedia.export.record import SegmentEntry, split_of

#: Split names ``datasets`` recognises in an audio folder's layout.
SPLIT_NAMES = ("train", "validation", "test")


def metadata_row(entry: SegmentEntry, file_name: str) -> Dict[str, Any]:
    """One ``metadata.jsonl`` line (the same keys, in the same order, for every segment)."""
    return {
        "file_name": file_name,
        "id": entry.id,
        "recording_id": entry.recording_id,
        "source": entry.source,
        "segment_index": entry.index,
        "duration_s": entry.duration_s,
        "sample_rate": entry.sample_rate,
        "channels": entry.channels,
        "source_start_s": entry.source_offset_s,
        "source_end_s": None if entry.source_end is None or not entry.source_sample_rate
        else entry.source_end / entry.source_sample_rate,
        "speech_ratio": entry.speech_ratio,
    }


def export_hf(entries: Sequence[SegmentEntry], target: str, *,
              splits: Optional[List[Tuple[str, float]]] = None) -> Dict[str, Any]:
    """Writes the audio folder ``target`` (replacing an earlier one atomically).

    Args:
        entries: segments with their files (from :func:`~remotemedia.export.record.collect_segments`).
        target: the folder to publish.
        splits: ``[(name, fraction), ...]`` with names from :data:`SPLIT_NAMES`
            summing to 1; None = one unsplit folder.

    Returns:
        ``{"path": target, "splits": {name: {"segments", "duration_s", "bytes"}}}`` (name ``"all"`` unsplit).
    """
    from remotemedia.batch.worker import staged_folder

    missing = [e for e in entries if e.audio_path is None]
    if missing:
        raise ExportError(f"the hf format needs the segment files; {missing[0].id!r} has none (written without "
                          "audio)")
    groups: Dict[str, List[SegmentEntry]] = {}
    for e in entries:
        name = "all" if splits is None else split_of(e.group, splits)
        groups.setdefault(name, []).append(e)
    order = ["all"] if splits is None else [name for name, _ in splits]
    parent, name = os.path.split(os.path.abspath(target))
    stats: Dict[str, Dict[str, Any]] = {}
    with staged_folder(parent, name) as staging:
        for split in order:
            members = groups.get(split, [])
            if splits is not None and not members:
                continue  # datasets refuses an empty split folder; the card says it is empty
            folder = staging if splits is None else os.path.join(staging, split)
            os.makedirs(folder, exist_ok=True)
            rows, size = [], 0
            for e in members:
                assert e.audio_path is not None and e.rel_path is not None
                link_or_copy(e.audio_path, os.path.join(folder, *e.rel_path.split("/")))
                size += os.path.getsize(e.audio_path)
                rows.append(metadata_row(e, e.rel_path))
            write_jsonl(os.path.join(folder, "metadata.jsonl"), rows)
            stats[split] = {"segments": len(rows), "duration_s": sum(e.duration_s for e in members), "bytes": size}
        for split in order:
            stats.setdefault(split, {"segments": 0, "duration_s": 0.0, "bytes": 0})
        from remotemedia.io.atomic import write_atomic

        write_atomic(os.path.join(staging, "README.md"), dataset_card(stats, splits))
    return {"path": os.path.abspath(target), "splits": stats}


def dataset_card(stats: Dict[str, Dict[str, Any]], splits: Optional[List[Tuple[str, float]]]) -> str:
    """The README.md of the audio folder: what it holds, per split (no time stamps: re-runs give the same bytes)."""
    total = sum(s["segments"] for s in stats.values())
    lines = [
        "---",
        "task_categories:",
        "- automatic-speech-recognition",
        f"size_categories:\n- {_size_category(total)}",
        "---",
        "",
        "# Speech segments prepared by remotemedia",
        "",
        "Load with `datasets.load_dataset(\"audiofolder\", data_dir=<this folder>)`. Each row is one speech",
        "segment (its audio file is the `audio` column); `source`, `source_start_s` and `source_end_s` say",
        "where it was cut from, `speech_ratio` how much of it the voice activity detector called speech.",
        "",
        "| split | segments | hours | bytes |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, s in stats.items():
        lines.append(f"| {name} | {s['segments']} | {s['duration_s'] / 3600:.4f} | {s['bytes']} |")
    if splits is not None:
        lines += ["", "Split by a stable hash of each recording's group: " +
                  ", ".join(f"{n} {f:g}" for n, f in splits) + " (expected fractions; a group never straddles "
                  "splits)."]
    return "\n".join(lines) + "\n"


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"
