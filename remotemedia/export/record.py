"""The segment record: what SegmentWriter's index files hold and every exporter reads.

One JSON object per line of ``<prefix>.segments.jsonl`` (the fields are listed
in :class:`~remotemedia.nodes.segment_writer.SegmentWriter`). Exporters go
through :func:`collect_segments`, which turns an output folder into a sorted
list of :class:`SegmentEntry`:

- a batch output folder (it has ``remotemedia-ledger.jsonl``): the last
  outcome of every input, ok ones only (a failed input is in no export, even
  when an older run left its folder), sorted by output key;
- any other folder: every ``*segments.jsonl`` under it, sorted by path.

Every segment file is checked against its record: it must exist inside the
index's folder, and its header must give the record's sample rate and
``end - start`` frames. Durations in the exports come from those headers, so
they are exact to the sample.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Dict, Iterator, List, Optional, Tuple

from remotemedia.errors import ExportError

#: The suffix of SegmentWriter's index files (``<prefix>.segments.jsonl``; the batch's own
#: writer of item pipelines names them ``segments.jsonl``).
INDEX_SUFFIX = "segments.jsonl"


def pipeline_identity(pipeline: Any) -> Dict[str, Any]:
    """Name, hash and per-node implementation of a pipeline (for segment records): :meth:`Pipeline.identity`.

    Args:
        pipeline: a :class:`remotemedia.Pipeline`.

    Returns:
        ``{"name": str, "hash": str | None, "implementation": {node id: "native" | "python"}}``.
    """
    return pipeline.identity()


@dataclass(frozen=True)
class SegmentEntry:
    """One segment, ready to export.

    Attributes:
        id: unique, stable, file-name-safe id (``<recording_id>_<index:05d>``).
        recording_id: the input's id: its batch output key (safe characters), or
            the index file's path under the folder.
        group: what a train/validation/test split keeps together (see
            :func:`split_of`): the recording id, or its parent folder.
        source: the input: an absolute path or an http(s) URL.
        index: the segment's index in its index file.
        audio_path: absolute path of the segment file, or None (written without audio).
        rel_path: ``audio_path`` relative to the output folder (POSIX), or None.
        sample_rate: Hz of the segment file (of the stream with no file).
        channels: channels of the segment file.
        frames: frames of the segment file (from its header).
        source_start: first sample of the segment in the source, at ``source_sample_rate``.
        source_end: end (exclusive) in the source.
        source_sample_rate: the source's rate (Hz), or None when unknown.
        source_channels: the source's channels, or None.
        source_frames: the source's length in frames, or None.
        speech_ratio: fraction of VAD frames that were speech, or None.
        record: the index line as written.
    """

    id: str
    recording_id: str
    group: str
    source: str
    index: int
    audio_path: Optional[str]
    rel_path: Optional[str]
    sample_rate: int
    channels: int
    frames: int
    source_start: Optional[int]
    source_end: Optional[int]
    source_sample_rate: Optional[int]
    source_channels: Optional[int]
    source_frames: Optional[int]
    speech_ratio: Optional[float]
    record: Dict[str, Any] = field(repr=False, compare=False)

    @property
    def duration_s(self) -> float:
        """``frames / sample_rate``: the segment file's duration in seconds."""
        return self.frames / self.sample_rate

    @property
    def source_offset_s(self) -> Optional[float]:
        """Where the segment starts in the source (s), or None."""
        if self.source_start is None or not self.source_sample_rate:
            return None
        return self.source_start / self.source_sample_rate

    @property
    def source_duration_s(self) -> Optional[float]:
        """The segment's length measured in source samples (s), or None."""
        if self.source_start is None or self.source_end is None or not self.source_sample_rate:
            return None
        return (self.source_end - self.source_start) / self.source_sample_rate


def collect_segments(out_dir: Any, *, need_audio: bool = True, need_source: bool = False,
                     split_by: str = "recording", skip: Tuple[str, ...] = ()) -> List[SegmentEntry]:
    """Every exportable segment of an output folder, in a deterministic order.

    Args:
        out_dir: a ``remotemedia run`` output folder, or any folder holding
            SegmentWriter output.
        need_audio: every segment must have its file (refuse index-only records).
        need_source: every segment must know where it lies in a readable
            source recording (probed from the source when the record lacks it).
        split_by: ``"recording"`` or ``"folder"`` (the input's parent folder).
        skip: top-level names under ``out_dir`` not to scan (export folders).

    Raises:
        ExportError: a record that does not match its file, a missing file or
            source, a malformed index line.
    """
    from remotemedia.batch.ledger import LEDGER_NAME, last_outcomes, read_ledger

    root = os.path.abspath(os.fspath(out_dir))
    if not os.path.isdir(root):
        raise ExportError("not a folder", path=root)
    if split_by not in ("recording", "folder"):
        raise ExportError(f"split_by: expected 'recording' or 'folder', given {split_by!r}")
    ledger = os.path.join(root, LEDGER_NAME)
    if os.path.exists(ledger):
        outcomes = [e for e in last_outcomes(read_ledger(ledger)).values() if e.get("status") == "ok"]
        inputs = []
        for entry in sorted(outcomes, key=lambda e: str(e.get("key"))):
            key = str(entry["key"])
            indexes = sorted(o for o in entry.get("outputs") or [] if o.rsplit("/", 1)[-1].endswith(INDEX_SUFFIX))
            inputs.append((key, str(entry["input"]), indexes))
    else:
        inputs = list(_scan(root, skip))
    entries: List[SegmentEntry] = []
    for key, source, indexes in inputs:
        for rel_index in indexes:
            recording_id = key if len(indexes) == 1 else _safe_id(rel_index[: -len(INDEX_SUFFIX)].rstrip("._-"))
            entries += _read_index(root, rel_index, recording_id, key, source, need_audio, need_source, split_by)
    seen: Dict[str, str] = {}
    for e in entries:
        if e.id in seen:
            raise ExportError(f"two segments share the id {e.id!r} ({seen[e.id]} and {e.rel_path or e.source})",
                              path=root)
        seen[e.id] = e.rel_path or e.source
    return entries


def _scan(root: str, skip: Tuple[str, ...]) -> Iterator[Tuple[str, str, List[str]]]:
    """Folders without a ledger: every index file, as its own recording (key = its path without the suffix)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not (dirpath == root and d in skip))
        for name in filenames:
            if name.endswith(INDEX_SUFFIX) and not name.startswith("."):
                found.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    for rel in sorted(found):
        key = _safe_id(rel[: -len(INDEX_SUFFIX)].rstrip("._-") or "segments")
        yield key, "", [rel]


def _safe_id(text: str) -> str:
    from remotemedia.batch.inputs import safe_key

    return safe_key(text + ".x")  # safe_key drops an extension: give it one to drop


def _read_index(root: str, rel_index: str, recording_id: str, key: str, source: str, need_audio: bool,
                need_source: bool, split_by: str) -> List[SegmentEntry]:
    path = os.path.join(root, *rel_index.split("/"))
    folder = os.path.dirname(path)
    try:
        with open(path, "rb") as fh:
            raw_lines = fh.read().split(b"\n")
    except OSError as exc:
        raise ExportError(f"cannot read the segment index: {exc}", path=path) from exc
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    group = recording_id if split_by == "recording" else (key.rsplit("/", 1)[0] if "/" in key else key)
    probe: Dict[str, Any] = {}
    out = []
    for n, raw in enumerate(raw_lines, 1):
        where = f"{path}: line {n}"
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            raise ExportError(f"line {n} is not JSON ({exc})", path=path) from exc
        if not isinstance(rec, dict):
            raise ExportError(f"line {n}: expected a JSON object", path=path)
        index, start, end, rate = (_int(rec, k, where) for k in ("index", "start", "end", "sample_rate"))
        if rate < 1 or end <= start or start < 0:
            raise ExportError(f"line {n}: expected 0 <= start < end and sample_rate >= 1, given start={start}, "
                              f"end={end}, sample_rate={rate}", path=path)
        src = source or rec.get("source") or ""
        file = rec.get("file")
        audio_path = rel_path = None
        channels = rec.get("channels")
        frames = end - start
        if file is not None:
            if not isinstance(file, str) or not file or "/" in file or os.sep in file or file in (".", ".."):
                raise ExportError(f"line {n}: 'file' must be a plain file name inside the index's folder, "
                                  f"given {file!r}", path=path)
            audio_path = os.path.join(folder, file)
            rel_path = os.path.relpath(audio_path, root).replace(os.sep, "/")
            channels, frames = _check_file(audio_path, rate, end - start, where)
        elif need_audio:
            raise ExportError(f"line {n}: the segment was written without audio (write_audio=False); "
                              "export it with no_audio (--no-audio), which points into the source recordings",
                              path=path)
        if not isinstance(channels, int) or channels < 1:
            raise ExportError(f"line {n}: 'channels' must be an int >= 1, given {channels!r}", path=path)
        s_start, s_end, s_info = rec.get("source_start"), rec.get("source_end"), rec.get("source_info")
        s_rate = s_channels = s_frames = None
        if isinstance(s_info, dict) and isinstance(s_start, int) and isinstance(s_end, int):
            s_rate, s_channels, s_frames = s_info.get("sample_rate"), s_info.get("channels"), s_info.get("frames")
        elif need_source:  # an older or item-pipeline record: measure the source now
            if not probe:
                probe.update(_probe(src, where))
            s_rate, s_channels, s_frames = probe["sample_rate"], probe["channels"], probe["frames"]
            ratio = Fraction(s_rate, rate)
            s_start, s_end = min(s_frames, round(start * ratio)), min(s_frames, round(end * ratio))
        if need_source:
            _check_source(src, s_info if isinstance(s_info, dict) else None, where)
            if not (isinstance(s_start, int) and isinstance(s_end, int) and 0 <= s_start < s_end):
                raise ExportError(f"line {n}: the segment has no extent in its source (source_start={s_start}, "
                                  f"source_end={s_end})", path=path)
        ratio_value = rec.get("speech_ratio")
        out.append(SegmentEntry(
            id=f"{recording_id}_{index:05d}", recording_id=recording_id, group=group, source=src, index=index,
            audio_path=audio_path, rel_path=rel_path, sample_rate=rate, channels=channels, frames=frames,
            source_start=s_start, source_end=s_end, source_sample_rate=s_rate, source_channels=s_channels,
            source_frames=s_frames, speech_ratio=float(ratio_value) if isinstance(ratio_value, (int, float)) else None,
            record=rec))
    return out


def _int(rec: Dict[str, Any], key: str, where: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportError(f"{where}: {key!r} must be an int, given {value!r}")
    return value


def _check_file(path: str, sample_rate: int, frames: int, where: str) -> Tuple[int, int]:
    """``(channels, frames)`` of a segment file, checked against its record."""
    from remotemedia.io.readers import open_audio

    if not os.path.isfile(path):
        raise ExportError(f"{where}: the segment file is missing", path=path)
    try:
        with open_audio(path) as reader:
            got = (int(reader.sample_rate), int(reader.num_channels), int(reader.num_frames))
    except Exception as exc:
        raise ExportError(f"{where}: cannot read the segment file's header: {exc}", path=path) from exc
    if got[0] != sample_rate or got[2] != frames:
        raise ExportError(f"{where}: the file holds {got[2]} frames at {got[0]} Hz, the record says {frames} "
                          f"at {sample_rate} Hz", path=path)
    return got[1], got[2]


def _probe(source: str, where: str) -> Dict[str, int]:
    from remotemedia.batch.inputs import is_url
    from remotemedia.io.readers import open_audio

    if not source or is_url(source):
        raise ExportError(f"{where}: the record does not say where the segment lies in its source, and the source "
                          f"({source or 'unknown'!r}) cannot be measured here")
    try:
        with open_audio(source) as reader:
            return {"sample_rate": int(reader.sample_rate), "channels": int(reader.num_channels),
                    "frames": int(reader.num_frames)}
    except Exception as exc:
        raise ExportError(f"{where}: cannot read the source recording: {exc}", path=source) from exc


def _check_source(source: str, info: Optional[Dict[str, Any]], where: str) -> None:
    """A cut into a local source is only right while the source is the file the segments were made from."""
    from remotemedia.batch.inputs import is_url

    if not source:
        raise ExportError(f"{where}: the segment's source recording is unknown")
    if is_url(source):
        return
    try:
        st = os.stat(source)
    except OSError as exc:
        raise ExportError(f"{where}: the source recording is missing ({exc.strerror})", path=source) from exc
    if info is not None and (info.get("size"), info.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        raise ExportError(f"{where}: the source recording changed since its segments were made (size/mtime "
                          f"{info.get('size')}/{info.get('mtime_ns')} then, {st.st_size}/{st.st_mtime_ns} now)",
                          path=source)


def split_of(group: str, splits: List[Tuple[str, float]]) -> str:
    """The split of a group: a stable hash of its name, placed on the cumulative split fractions.

    Args:
        group: the group's name (:attr:`SegmentEntry.group`).
        splits: ``[(name, fraction), ...]`` summing to 1.

    The position is the first 8 bytes of ``sha256(group)`` over 2**64: the
    same group lands in the same split on any machine, in any run.
    """
    position = int.from_bytes(hashlib.sha256(group.encode("utf-8", "surrogateescape")).digest()[:8], "big") / 2 ** 64
    total = 0.0
    for name, fraction in splits:
        total += fraction
        if position < total:
            return name
    return splits[-1][0]
