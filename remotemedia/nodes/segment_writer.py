"""SegmentWriter: cuts the speech segments a VADNode found out of the audio and writes them."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
from fractions import Fraction
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from remotemedia.audio import coerce_audio
from remotemedia.errors import ConfigurationError, KernelInputError
from remotemedia.nodes.audio import KernelNode
from remotemedia.nodes.registry import register_node

#: Fields of an index line that only a chunk stream knows (the source file and the running pipeline);
#: a whole-clip ``process()`` call writes them as null.
STREAM_CONTEXT_FIELDS = ("source", "source_start", "source_end", "source_info", "pipeline")


def segment_file_name(prefix: str, index: int, container: str = "wav") -> str:
    """The name of segment ``index``: ``<prefix>_<index:04d>.<container>``, or ``<index:04d>.<container>`` for an
    empty prefix."""
    return f"{prefix}_{index:04d}.{container}" if prefix else f"{index:04d}.{container}"


def segment_index_name(prefix: str) -> str:
    """The name of the segment index: ``<prefix>.segments.jsonl``, or ``segments.jsonl`` for an empty prefix."""
    return f"{prefix}.segments.jsonl" if prefix else "segments.jsonl"


@register_node
class SegmentWriter(KernelNode):
    """Writes each speech segment as an audio file, plus a JSON-lines index.

    Put it after ``VADNode(segments=True)``: it takes the VAD's outputs
    (``(samples, sample_rate, info)``), cuts every segment out of those samples
    and writes it to ``<output_dir>/<prefix>_<index:04d>.wav`` (``.flac`` with
    ``container="flac"``) in ``sample_format`` (int16 by default, converted
    with the convert kernel: round half to even, clipping counted). The
    index, ``<output_dir>/<prefix>.segments.jsonl``, has one line per written
    segment (the segment record); an empty prefix gives ``<index:04d>.wav``
    and ``segments.jsonl``:

    - ``index``, ``file`` (name inside ``output_dir``; null with
      ``write_audio=False``), ``start``/``end`` (samples at ``sample_rate``,
      end exclusive, padding included), ``start_s``/``end_s``,
      ``sample_rate`` (Hz), ``frames`` (``end - start``), ``duration_s``
      (``frames / sample_rate``), ``channels``, ``sample_format``,
      ``container``, ``clipped`` (samples clipped by the conversion);
    - ``speech_start``/``speech_end`` (the detected speech inside, before
      padding), ``merged`` (detected segments joined into this one),
      ``speech_ratio`` (fraction of the VAD frames overlapping the segment
      that were speech; null without VAD decisions), ``vad``
      (``backend``, ``mode``, ``frame_ms``; null without a VAD);
    - ``source`` (the input file's path), ``source_start``/``source_end`` (the
      segment in the source's own samples: ``round(start * source_rate /
      sample_rate)``, half to even), ``source_info`` (``size`` in bytes,
      ``mtime_ns``, ``sample_rate``, ``channels``, ``frames``, ``format``
      from the source file's header), ``pipeline`` (``name``, ``hash``: see
      :func:`remotemedia.export.record.pipeline_identity`, ``implementation``:
      node id -> ``"native"``/``"python"``). These five are known in a chunk
      stream (``pipeline.run_file``) and null after a whole-clip ``process``.

    Every file is written atomically (temporary file, fsync, rename); the
    index is written last, at the end of the stream, so its presence means the
    file was processed completely.

    Args:
        output_dir: the folder (``pipeline.run_file(src, out)`` gives ``out``
            instead); created if missing.
        sample_format: ``"i16"`` (default) or ``"i32"`` (FLAC: 24 bit).
        prefix: file name prefix; None = the source file's stem (``"stream"``
            without a source file).
        runtime_hint: implementation of the conversion (see :class:`KernelNode`).
        name: node id.
        container: ``"wav"`` (default) or ``"flac"`` (needs ``soundfile``, the
            ``audio`` extra).
        min_duration_s: drop written segments shorter than this (s, padding
            included); 0 = keep all.
        max_duration_s: drop written segments longer than this (s, padding
            included); 0 = no limit.
        merge_max_s: join neighbouring segments while the joined span stays
            at most this long (s, before padding); 0 = no merging.
        merge_gap_s: join only over pauses at most this long (s); None = any.
        pad_s: audio added at both ends of every segment (s), clipped to the
            signal; padded neighbours may overlap.
        write_audio: False = write the index only (no segment files): the
            records still say where each segment lies in the source, for
            exports that point into the source recordings.
        sync_dir: fsync the folder before and after the index is written
            (default). False for a caller that makes the folder durable itself
            (the batch runner fsyncs its staging folder before it publishes
            it): each file is still fsynced before its rename.

    The defaults keep the segments exactly as the VAD found them (see
    :class:`remotemedia.kernels.segments.SegmentShaper` for the order: merge,
    pad, filter). In a chunk stream only the audio a later segment may still
    need is kept (from the VAD's ``info["keep_from"]`` on, less ``pad_s``, and
    any merge group still open), at most about ``max_segment_s`` (or
    ``merge_max_s``) plus the rolls and padding. The output, once per stream
    (or per item with ``process``), is a summary dict: ``output_dir``,
    ``index`` (the JSONL path), ``segments`` (count), ``speech_s`` (seconds
    of audio in the written segments, padding included), ``sample_rate``,
    ``total_frames``, ``clipped``, ``dropped_short`` / ``dropped_long``
    (segments the duration filters dropped).
    """

    kernel_family = "convert"
    writes_files = True
    output_types = {"summary": "any"}

    def __init__(self, output_dir: Optional[str] = None, sample_format: str = "i16", prefix: Optional[str] = None,
                 runtime_hint: str = "auto", name: Optional[str] = None, container: str = "wav",
                 min_duration_s: float = 0.0, max_duration_s: float = 0.0, merge_max_s: float = 0.0,
                 merge_gap_s: Optional[float] = None, pad_s: float = 0.0, write_audio: bool = True,
                 sync_dir: bool = True) -> None:
        from remotemedia.kernels.convert import normalize_format
        from remotemedia.kernels.segments import check_shaping

        super().__init__(runtime_hint=runtime_hint, name=name)
        self.output_dir = None if output_dir is None else os.fspath(output_dir)
        self.sample_format = normalize_format(sample_format, node_id=self.name)
        if self.sample_format == "f32":
            raise KernelInputError("sample_format", "'i16' or 'i32'", repr(sample_format), node_id=self.name)
        if container not in ("wav", "flac"):
            raise KernelInputError("container", "'wav' or 'flac'", repr(container), node_id=self.name)
        if container == "flac" and write_audio:
            _require_soundfile(self.name)
        if not isinstance(write_audio, bool):
            raise KernelInputError("write_audio", "True or False", repr(write_audio), node_id=self.name)
        self.container = container
        self.shaping = {"min_duration_s": min_duration_s, "max_duration_s": max_duration_s,
                        "merge_max_s": merge_max_s, "merge_gap_s": merge_gap_s, "pad_s": pad_s}
        check_shaping(node_id=self.name, **self.shaping)
        self.write_audio = write_audio
        self.prefix = prefix
        self.sync_dir = bool(sync_dir)
        self._state: Optional[_SegmentStream] = None

    def _new_stream(self, output: Any = None, source_path: Any = None,
                    pipeline: Optional[Dict[str, Any]] = None) -> "_SegmentStream":
        out_dir = output if output is not None else self.output_dir
        if out_dir is None:
            raise ConfigurationError(f"node {self.name!r}: no output folder (give output_dir= or run_file(src, out))",
                                     node_id=self.name, parameter="output_dir", expected="a folder", given=None)
        if self.prefix is not None:
            prefix = self.prefix
        elif source_path is not None:
            prefix = os.path.splitext(os.path.basename(os.fspath(source_path)))[0]
        else:
            prefix = "stream"
        return _SegmentStream(self, os.fspath(out_dir), prefix,
                              None if source_path is None else os.fspath(source_path), pipeline)

    # -------------------------------------------------------------- streaming
    def begin_stream(self, output: Any = None, source_path: Any = None, pipeline: Optional[Dict[str, Any]] = None,
                     **future_kwargs: Any) -> None:
        self._state = self._new_stream(output, source_path, pipeline)

    def process_chunk(self, data: Any) -> None:
        """Takes one VADNode output: a chunk ``(samples, sample_rate, info)`` or its final ``info`` dict."""
        if self._state is None:
            self._state = self._new_stream()
        state = self._state
        if isinstance(data, dict):  # VADNode.flush(): the last segments, and the whole stream's decisions
            state.vad_info = data
            state.add(data.get("new_segments", ()))
            return
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        info = data[2] if isinstance(data, tuple) and len(data) > 2 and isinstance(data[2], dict) else {}
        state.append(samples, sample_rate)
        state.add(info.get("new_segments", ()), info.get("keep_from"))

    def flush(self) -> Optional[Dict[str, Any]]:
        state, self._state = self._state, None
        return None if state is None else state.finish()

    def abort_stream(self) -> None:
        state, self._state = self._state, None
        if state is not None:  # segment files already written stay (complete); the index (written last) is not
            state.settle(raise_errors=False)

    def process(self, data: Any) -> Dict[str, Any]:
        """Whole clip: ``(samples, sample_rate, info)`` from ``VADNode(segments=True).process``."""
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        info = data[2] if isinstance(data, tuple) and len(data) > 2 and isinstance(data[2], dict) else {}
        if "segments" not in info:
            raise KernelInputError("input", "a VADNode(segments=True) output (samples, sample_rate, info)",
                                   "no info['segments']", node_id=self.name)
        state = self._new_stream()
        state.vad_info = info
        state.append(samples, sample_rate)
        state.add(info["segments"])
        return state.finish()


def _require_soundfile(node_id: str) -> None:
    from remotemedia.errors import AudioFileError
    from remotemedia.io.readers import import_soundfile

    try:
        import_soundfile(None, "container='flac'")
    except AudioFileError as exc:
        raise ConfigurationError(f"node {node_id!r}: container: {exc}", node_id=node_id, parameter="container",
                                 expected="soundfile installed (pip install 'remotemedia[audio]')",
                                 given="flac") from exc


def _probe_source(path: Optional[str]) -> Optional[Dict[str, Any]]:
    """Size, mtime and header facts of the source file, or None when it is not a readable audio file."""
    if path is None:
        return None
    from remotemedia.io.readers import open_audio

    try:
        st = os.stat(path)
        with open_audio(path) as reader:
            return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sample_rate": int(reader.sample_rate),
                    "channels": int(reader.num_channels), "frames": int(reader.num_frames), "format": reader.format}
    except Exception:  # a probe: the stream itself reports an unreadable source
        return None


def speech_ratio(decisions: np.ndarray, frame_ms: float, sample_rate: int, start: int, end: int) -> Optional[float]:
    """Fraction of the VAD frames overlapping samples ``[start, end)`` that were speech.

    Args:
        decisions: per-frame decisions (nonzero = speech), frame k covering
            ``[k, k + 1) * frame_ms`` milliseconds of the stream.
        frame_ms: frame length (ms).
        sample_rate: Hz of ``start``/``end``.
        start: first sample.
        end: last sample + 1.

    Returns:
        A ratio in [0, 1], or None when no frame overlaps.
    """
    frame = Fraction(frame_ms) * sample_rate / 1000  # samples per frame (may be fractional)
    lo = int(start // frame)
    hi = min(int(decisions.size), -int(-end // frame))
    if hi <= lo:
        return None
    return int(np.count_nonzero(decisions[lo:hi])) / (hi - lo)


class _SegmentStream:
    """One stream: buffered audio (absolute positions), the shaper, written segments, the index records."""

    def __init__(self, node: SegmentWriter, output_dir: str, prefix: str, source: Optional[str],
                 pipeline: Optional[Dict[str, Any]]) -> None:
        self.node = node
        self.output_dir = output_dir
        self.prefix = prefix
        self.source = source
        self.source_info = _probe_source(source)
        self.pipeline = pipeline
        self.sample_rate: Optional[int] = None
        self.channels: Optional[int] = None
        self.shaper: Any = None
        self.chunks: List[Tuple[int, np.ndarray]] = []  # (absolute start frame, (channels, n))
        self.end = 0  # absolute frame after the last buffered one
        self.records: List[Dict[str, Any]] = []
        self.vad_info: Optional[Dict[str, Any]] = None
        self.speech_frames = 0
        self.clipped = 0
        # Each segment file's fsync and rename run on one thread of their own, overlapping the
        # work on the next chunks (fsync releases the GIL); finish() waits for all of them before
        # the folder fsync and the index, so the index still names only complete, durable files.
        self._committer: Optional[cf.ThreadPoolExecutor] = None
        self._commits: List[cf.Future] = []
        os.makedirs(output_dir, exist_ok=True)

    def append(self, samples: np.ndarray, sample_rate: int) -> None:
        if self.sample_rate is None:
            from remotemedia.kernels.segments import SegmentShaper

            self.sample_rate = sample_rate
            self.channels = int(samples.shape[0])
            self.shaper = SegmentShaper(sample_rate, node_id=self.node.name, **self.node.shaping)
        elif sample_rate != self.sample_rate:
            raise KernelInputError("sample_rate", f"{self.sample_rate} Hz (as earlier in this stream)", sample_rate,
                                   node_id=self.node.name)
        if samples.shape[1]:
            self.chunks.append((self.end, samples))
            self.end += samples.shape[1]

    def add(self, segments: Any, keep_from: Optional[int] = None) -> None:
        """New detected segments (and the VAD's ``keep_from``): writes what is complete, drops old audio."""
        segments = list(segments)
        if self.shaper is None:
            if segments:
                raise KernelInputError("input", "audio before segments", f"{len(segments)} segment(s) and no audio",
                                       node_id=self.node.name)
            return
        pad = self.shaper.pad
        next_start = None if keep_from is None else int(keep_from)
        for shaped in self.shaper.push(segments, self.end, next_start):
            self.write(shaped)
        if next_start is not None:
            keep = next_start - pad
            pending = self.shaper.earliest_pending_start()
            self.drop_before(keep if pending is None else min(keep, pending))

    def drop_before(self, frame: int) -> None:
        while self.chunks and self.chunks[0][0] + self.chunks[0][1].shape[1] <= frame:
            self.chunks.pop(0)

    def cut(self, start: int, end: int) -> np.ndarray:
        parts = []
        for pos, x in self.chunks:
            lo, hi = max(start, pos), min(end, pos + x.shape[1])
            if lo < hi:
                parts.append(x[:, lo - pos:hi - pos])
        got = sum(p.shape[1] for p in parts)
        if got != end - start:
            raise ValueError(f"segment [{start}, {end}) is not in the buffered audio "
                             f"({self.chunks[0][0] if self.chunks else self.end} to {self.end})")
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def write(self, shaped: Any) -> None:
        from remotemedia.io.writers import AudioWriter

        node = self.node
        start, end = int(shaped.start), int(shaped.end)
        index = len(self.records)
        file = None
        clipped = 0
        if node.write_audio:
            file = segment_file_name(self.prefix, index, node.container)
            audio = self.cut(start, end)
            # One folder fsync for all segments, in finish(), before the index that lists them.
            writer = AudioWriter(os.path.join(self.output_dir, file), self.sample_rate or 1, audio.shape[0],
                                 node.sample_format, node.container, impl=node.impl, sync_dir=False)
            try:
                writer.write(audio)
            except BaseException:
                writer.abort()
                raise
            clipped = writer.clipped
            self._commit(writer)
        self.clipped += clipped
        self.speech_frames += end - start
        rate = self.sample_rate or 1
        self.records.append({
            "index": index, "file": file, "start": start, "end": end, "start_s": start / rate,
            "end_s": end / rate, "sample_rate": self.sample_rate, "frames": end - start,
            "clipped": clipped, "source": self.source,
            "duration_s": (end - start) / rate, "channels": self.channels, "sample_format": node.sample_format,
            "container": node.container if node.write_audio else None,
            "speech_start": int(shaped.speech_start), "speech_end": int(shaped.speech_end),
            "merged": int(shaped.merged), "speech_ratio": None, "vad": None,
            **self._source_position(start, end), "source_info": self.source_info, "pipeline": self.pipeline,
        })

    def _source_position(self, start: int, end: int) -> Dict[str, Optional[int]]:
        info = self.source_info
        if info is None or not self.sample_rate:
            return {"source_start": None, "source_end": None}
        ratio = Fraction(info["sample_rate"], self.sample_rate)
        limit = max(int(info["frames"]), 0)
        return {"source_start": min(limit, round(start * ratio)), "source_end": min(limit, round(end * ratio))}

    def _vad_fields(self) -> None:
        """Fills ``speech_ratio`` and ``vad`` from the VAD's whole-stream info (decisions, frame length)."""
        info = self.vad_info or {}
        decisions, frame_ms = info.get("decisions"), info.get("frame_ms")
        if decisions is None or not frame_ms or not self.sample_rate:
            return
        decisions = np.asarray(decisions).reshape(-1)
        vad = {"backend": info.get("backend"), "mode": info.get("mode"), "frame_ms": frame_ms}
        for record in self.records:
            record["speech_ratio"] = speech_ratio(decisions, frame_ms, self.sample_rate, record["start"],
                                                  record["end"])
            record["vad"] = vad

    def _commit(self, writer: Any) -> None:
        """Finishes ``writer``'s file (fsync, rename) on the committer thread; a failed earlier commit is
        raised here, at the next segment (whose file is then dropped)."""
        try:
            self.settle(raise_errors=True, wait=False)
        except BaseException:
            writer.abort()
            raise
        if self._committer is None:
            self._committer = cf.ThreadPoolExecutor(1, thread_name_prefix=f"segments-{self.node.name}")
        self._commits.append(self._committer.submit(writer.commit))

    def settle(self, *, raise_errors: bool, wait: bool = True) -> None:
        """Waits for the segment files being committed (``wait``; else takes only those done); raises the
        first failure when ``raise_errors``. Without ``wait`` the committer thread stays for the next ones."""
        pending = []
        first: Optional[BaseException] = None
        for future in self._commits:
            if not wait and not future.done():
                pending.append(future)
                continue
            exc = future.exception()
            if exc is not None and first is None:
                first = exc
        self._commits = pending
        if wait and self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        if first is not None and raise_errors:
            raise first

    def finish(self) -> Dict[str, Any]:
        from remotemedia.io.atomic import AtomicFile, fsync_dir

        try:
            if self.shaper is not None:
                for shaped in self.shaper.finish(self.end):
                    self.write(shaped)
        except BaseException:
            self.settle(raise_errors=False)
            raise
        self.settle(raise_errors=True)  # every segment file complete (or its error raised) before the index
        self._vad_fields()
        sync = self.node.sync_dir
        if sync:
            fsync_dir(self.output_dir)  # the segments' renames are durable before the index names them
        with AtomicFile(os.path.join(self.output_dir, segment_index_name(self.prefix)), "w", sync_dir=sync) as f:
            f.file.write("".join(json.dumps(r) + "\n" for r in self.records))
        index = f.path
        rate = self.sample_rate or 0
        return {"output_dir": self.output_dir, "index": index, "segments": len(self.records),
                "speech_s": self.speech_frames / rate if rate else 0.0, "sample_rate": self.sample_rate,
                "total_frames": self.end, "clipped": self.clipped,
                "dropped_short": self.shaper.dropped_short if self.shaper is not None else 0,
                "dropped_long": self.shaper.dropped_long if self.shaper is not None else 0}
