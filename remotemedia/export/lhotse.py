"""lhotse: ``recordings.jsonl.gz``, ``supervisions.jsonl.gz`` and ``cuts.jsonl.gz``.

The lines follow lhotse's own serialisation (``Recording.to_dict``,
``SupervisionSegment.to_dict``, ``MonoCut.to_dict`` / ``MultiCut.to_dict``),
so ``RecordingSet.from_file``, ``SupervisionSet.from_file`` and
``CutSet.from_file`` read them; lhotse is not needed to write them.

- With segment files: one recording per segment file (absolute path), one
  supervision covering it, one cut over the whole recording.
- With ``no_audio``: one recording per source (its own rate and channels,
  absolute path or URL), one supervision and one cut per segment, at the
  segment's position in the source (``start`` = first source sample / rate,
  ``duration`` = source samples / rate: exact to the source's sample). A
  multi-channel source gives a ``MultiCut`` over all its channels (the
  segment files, when written, are the pipeline's mono mix).

Supervisions carry ``custom`` fields: ``source``, ``segment_index`` and
``speech_ratio``. No text: the segments are not transcribed.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Sequence

from remotemedia.errors import ExportError
from remotemedia.export._files import write_jsonl_gz
from remotemedia.export.record import SegmentEntry

RECORDINGS_NAME = "recordings.jsonl.gz"
SUPERVISIONS_NAME = "supervisions.jsonl.gz"
CUTS_NAME = "cuts.jsonl.gz"


def export_lhotse(entries: Sequence[SegmentEntry], target: str, *, no_audio: bool = False) -> Dict[str, Any]:
    """Writes the three manifests into ``target`` (created when missing), each atomically.

    Args:
        entries: the segments (from :func:`~remotemedia.export.record.collect_segments`).
        target: the folder.
        no_audio: cuts into the source recordings instead of the segment files.

    Returns:
        ``{"path": target, "recordings", "supervisions", "cuts": counts, "duration_s": total of the cuts}``.
    """
    target = os.path.abspath(target)
    os.makedirs(target, exist_ok=True)
    recordings: Dict[str, Dict[str, Any]] = {}
    supervisions: List[Dict[str, Any]] = []
    cuts: List[Dict[str, Any]] = []
    for e in entries:
        if no_audio:
            rec = source_recording(e)
            start, duration = e.source_offset_s, e.source_duration_s
            channels = e.source_channels
        else:
            rec = file_recording(e)
            start, duration, channels = 0.0, e.duration_s, e.channels
        assert start is not None and duration is not None and channels is not None
        previous = recordings.setdefault(rec["id"], rec)
        if previous != rec:
            raise ExportError(f"recording {rec['id']!r} is described twice, differently ({previous} and {rec})")
        channel: Any = 0 if channels == 1 else list(range(channels))
        sup = {"id": e.id, "recording_id": rec["id"], "start": start, "duration": duration, "channel": channel,
               "custom": {"source": e.source, "segment_index": e.index, "speech_ratio": e.speech_ratio}}
        supervisions.append(sup)
        cuts.append({"id": e.id, "start": start, "duration": duration, "channel": channel,
                     "supervisions": [dict(sup, start=0.0)], "recording": rec,
                     "type": "MonoCut" if channels == 1 else "MultiCut"})
    write_jsonl_gz(os.path.join(target, RECORDINGS_NAME), recordings.values())
    write_jsonl_gz(os.path.join(target, SUPERVISIONS_NAME), supervisions)
    write_jsonl_gz(os.path.join(target, CUTS_NAME), cuts)
    return {"path": target, "recordings": len(recordings), "supervisions": len(supervisions), "cuts": len(cuts),
            "duration_s": sum(c["duration"] for c in cuts)}


def file_recording(e: SegmentEntry) -> Dict[str, Any]:
    """The lhotse recording of one segment file."""
    if e.audio_path is None:
        raise ExportError(f"segment {e.id!r} has no file (written without audio); export it with no_audio")
    return _recording(e.id, "file", e.audio_path, e.sample_rate, e.channels, e.frames)


def source_recording(e: SegmentEntry) -> Dict[str, Any]:
    """The lhotse recording of a segment's source (a local file or a URL)."""
    from remotemedia.batch.inputs import is_url

    if not e.source_sample_rate or not e.source_channels or e.source_frames is None:
        raise ExportError(f"segment {e.id!r}: its source recording is not described (rate, channels, length)")
    kind = "url" if is_url(e.source) else "file"
    return _recording(e.recording_id, kind, e.source, e.source_sample_rate, e.source_channels, e.source_frames)


def _recording(rec_id: str, kind: str, source: str, sample_rate: int, channels: int, frames: int) -> Dict[str, Any]:
    ids = list(range(channels))
    return {"id": rec_id, "sources": [{"type": kind, "channels": ids, "source": source}],
            "sampling_rate": sample_rate, "num_samples": frames, "duration": frames / sample_rate,
            "channel_ids": ids}
