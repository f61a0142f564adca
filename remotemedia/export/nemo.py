"""NVIDIA NeMo: a JSON-lines manifest, one utterance per line.

Each line has NeMo's documented fields: ``audio_filepath``, ``duration``
(seconds), ``offset`` (seconds into the file) and ``text`` (empty: no
transcript yet), plus ``id``, ``source`` and ``speech_ratio``, which NeMo
ignores. ``audio_filepath`` is relative to the manifest's folder (NeMo
resolves relative paths from there) or absolute (``paths="absolute"``).

With segment files, every line points at one file: ``offset`` 0 and
``duration`` = frames / sample rate of that file. With ``no_audio``, lines
point into the source recordings: ``offset`` = the segment's first source
sample / the source's rate, ``duration`` = its length in source samples /
the source's rate (exact to the source's sample).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Sequence

from remotemedia.errors import ExportError
from remotemedia.export._files import write_jsonl
from remotemedia.export.record import SegmentEntry

MANIFEST_NAME = "manifest.jsonl"


def export_nemo(entries: Sequence[SegmentEntry], target: str, *, paths: str = "relative",
                no_audio: bool = False) -> Dict[str, Any]:
    """Writes ``<target>/manifest.jsonl`` atomically.

    Args:
        entries: the segments (from :func:`~remotemedia.export.record.collect_segments`).
        target: the folder of the manifest (created when missing).
        paths: ``"relative"`` (to the manifest's folder) or ``"absolute"``.
        no_audio: point into the source recordings instead of segment files.

    Returns:
        ``{"path": manifest path, "segments": count, "duration_s": total}``.
    """
    if paths not in ("relative", "absolute"):
        raise ExportError(f"nemo paths: expected 'relative' or 'absolute', given {paths!r}")
    target = os.path.abspath(target)
    os.makedirs(target, exist_ok=True)
    rows = [nemo_row(e, target, paths, no_audio) for e in entries]
    path = write_jsonl(os.path.join(target, MANIFEST_NAME), rows)
    return {"path": path, "segments": len(rows), "duration_s": sum(r["duration"] for r in rows)}


def nemo_row(entry: SegmentEntry, manifest_dir: str, paths: str, no_audio: bool) -> Dict[str, Any]:
    """One manifest line."""
    from remotemedia.batch.inputs import is_url

    if no_audio:
        if is_url(entry.source):
            raise ExportError(f"segment {entry.id!r}: NeMo reads local files; its source is a URL ({entry.source}); "
                              "export with the segment files instead")
        audio, offset, duration = entry.source, entry.source_offset_s, entry.source_duration_s
    else:
        audio, offset, duration = entry.audio_path, 0.0, entry.duration_s
    if audio is None or offset is None or duration is None:
        raise ExportError(f"segment {entry.id!r}: no audio file and no position in its source")
    if paths == "relative":
        audio = os.path.relpath(audio, manifest_dir)
    return {"audio_filepath": audio.replace(os.sep, "/"), "duration": duration, "offset": offset, "text": "",
            "id": entry.id, "source": entry.source, "speech_ratio": entry.speech_ratio}
