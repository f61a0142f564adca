"""SegmentWriter: cuts the speech segments a VADNode found out of the audio and writes them."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from remotemedia.audio import coerce_audio
from remotemedia.errors import ConfigurationError, KernelInputError
from remotemedia.nodes.audio import KernelNode
from remotemedia.nodes.registry import register_node


def segment_file_name(prefix: str, index: int) -> str:
    """The name of segment ``index``: ``<prefix>_<index:04d>.wav``, or ``<index:04d>.wav`` for an empty prefix."""
    return f"{prefix}_{index:04d}.wav" if prefix else f"{index:04d}.wav"


def segment_index_name(prefix: str) -> str:
    """The name of the segment index: ``<prefix>.segments.jsonl``, or ``segments.jsonl`` for an empty prefix."""
    return f"{prefix}.segments.jsonl" if prefix else "segments.jsonl"


@register_node
class SegmentWriter(KernelNode):
    """Writes each speech segment as a WAV file, plus a JSON-lines index.

    Put it after ``VADNode(segments=True)``: it takes the VAD's outputs
    (``(samples, sample_rate, info)``), cuts every segment out of those samples
    and writes it to ``<output_dir>/<prefix>_<index:04d>.wav`` in
    ``sample_format`` (int16 by default, converted with the convert kernel:
    round half to even, clipping counted). The index,
    ``<output_dir>/<prefix>.segments.jsonl``, has one line per segment
    (an empty prefix: ``<index:04d>.wav`` and ``segments.jsonl``):
    ``index``, ``file`` (name inside ``output_dir``), ``start``/``end``
    (samples at ``sample_rate``, end exclusive), ``start_s``/``end_s``,
    ``sample_rate``, ``frames``, ``clipped``, ``source``.

    Every file is written atomically (temporary file, fsync, rename); the
    index is written last, at the end of the stream, so its presence means the
    file was processed completely.

    Args:
        output_dir: the folder (``pipeline.run_file(src, out)`` gives ``out``
            instead); created if missing.
        sample_format: ``"i16"`` (default) or ``"i32"``.
        prefix: file name prefix; None = the source file's stem (``"stream"``
            without a source file).
        runtime_hint: implementation of the conversion (see :class:`KernelNode`).
        name: node id.
        sync_dir: fsync the folder before and after the index is written
            (default). False for a caller that makes the folder durable itself
            (the batch runner fsyncs its staging folder before it publishes
            it): each file is still fsynced before its rename.

    In a chunk stream only the audio a later segment may still need is kept
    (from the VAD's ``info["keep_from"]`` on), at most about
    ``max_segment_s`` plus the rolls. The output, once per stream (or per
    item with ``process``), is a summary dict: ``output_dir``, ``index``
    (the JSONL path), ``segments`` (count), ``speech_s``, ``sample_rate``,
    ``total_frames``, ``clipped``.
    """

    kernel_family = "convert"
    writes_files = True
    output_types = {"summary": "any"}

    def __init__(self, output_dir: Optional[str] = None, sample_format: str = "i16", prefix: Optional[str] = None,
                 runtime_hint: str = "auto", name: Optional[str] = None, *, sync_dir: bool = True) -> None:
        from remotemedia.kernels.convert import normalize_format

        super().__init__(runtime_hint=runtime_hint, name=name)
        self.output_dir = None if output_dir is None else os.fspath(output_dir)
        self.sample_format = normalize_format(sample_format, node_id=self.name)
        if self.sample_format == "f32":
            raise KernelInputError("sample_format", "'i16' or 'i32'", repr(sample_format), node_id=self.name)
        self.prefix = prefix
        self.sync_dir = bool(sync_dir)
        self._state: Optional[_SegmentStream] = None

    def _new_stream(self, output: Any = None, source_path: Any = None) -> "_SegmentStream":
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
                              None if source_path is None else os.fspath(source_path))

    # -------------------------------------------------------------- streaming
    def begin_stream(self, output: Any = None, source_path: Any = None, **future_kwargs: Any) -> None:
        self._state = self._new_stream(output, source_path)

    def process_chunk(self, data: Any) -> None:
        """Takes one VADNode output: a chunk ``(samples, sample_rate, info)`` or its final ``info`` dict."""
        if self._state is None:
            self._state = self._new_stream()
        state = self._state
        if isinstance(data, dict):  # VADNode.flush(): the last segments
            state.write(data.get("new_segments", ()))
            return
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        info = data[2] if isinstance(data, tuple) and len(data) > 2 and isinstance(data[2], dict) else {}
        state.append(samples, sample_rate)
        state.write(info.get("new_segments", ()))
        if "keep_from" in info:
            state.drop_before(int(info["keep_from"]))

    def flush(self) -> Optional[Dict[str, Any]]:
        state, self._state = self._state, None
        return None if state is None else state.finish()

    def abort_stream(self) -> None:
        self._state = None  # segment files already written stay; the index (written last) is not

    def process(self, data: Any) -> Dict[str, Any]:
        """Whole clip: ``(samples, sample_rate, info)`` from ``VADNode(segments=True).process``."""
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        info = data[2] if isinstance(data, tuple) and len(data) > 2 and isinstance(data[2], dict) else {}
        if "segments" not in info:
            raise KernelInputError("input", "a VADNode(segments=True) output (samples, sample_rate, info)",
                                   "no info['segments']", node_id=self.name)
        state = self._new_stream()
        state.append(samples, sample_rate)
        state.write(info["segments"])
        return state.finish()


class _SegmentStream:
    """One stream: buffered audio (absolute positions), written segments, the index lines."""

    def __init__(self, node: SegmentWriter, output_dir: str, prefix: str, source: Optional[str]) -> None:
        self.node = node
        self.output_dir = output_dir
        self.prefix = prefix
        self.source = source
        self.sample_rate: Optional[int] = None
        self.chunks: List[Tuple[int, np.ndarray]] = []  # (absolute start frame, (channels, n))
        self.end = 0  # absolute frame after the last buffered one
        self.lines: List[str] = []
        self.speech_frames = 0
        self.clipped = 0
        os.makedirs(output_dir, exist_ok=True)

    def append(self, samples: np.ndarray, sample_rate: int) -> None:
        if self.sample_rate is None:
            self.sample_rate = sample_rate
        elif sample_rate != self.sample_rate:
            raise KernelInputError("sample_rate", f"{self.sample_rate} Hz (as earlier in this stream)", sample_rate,
                                   node_id=self.node.name)
        if samples.shape[1]:
            self.chunks.append((self.end, samples))
            self.end += samples.shape[1]

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

    def write(self, segments: Any) -> None:
        from remotemedia.io.writers import AudioWriter

        for seg in segments:
            start, end = int(seg["start"]), int(seg["end"])
            index = len(self.lines)
            file = segment_file_name(self.prefix, index)
            audio = self.cut(start, end)
            # One folder fsync for all segments, in finish(), before the index that lists them.
            writer = AudioWriter(os.path.join(self.output_dir, file), self.sample_rate or 1, audio.shape[0],
                                 self.node.sample_format, "wav", impl=self.node.impl, sync_dir=False)
            with writer:
                writer.write(audio)
            self.clipped += writer.clipped
            self.speech_frames += end - start
            rate = self.sample_rate or 1
            self.lines.append(json.dumps({
                "index": index, "file": file, "start": start, "end": end, "start_s": start / rate,
                "end_s": end / rate, "sample_rate": self.sample_rate, "frames": end - start,
                "clipped": writer.clipped, "source": self.source,
            }))

    def finish(self) -> Dict[str, Any]:
        from remotemedia.io.atomic import AtomicFile, fsync_dir

        sync = self.node.sync_dir
        if sync:
            fsync_dir(self.output_dir)  # the segments' renames are durable before the index names them
        with AtomicFile(os.path.join(self.output_dir, segment_index_name(self.prefix)), "w", sync_dir=sync) as f:
            f.file.write("".join(line + "\n" for line in self.lines))
        index = f.path
        rate = self.sample_rate or 0
        return {"output_dir": self.output_dir, "index": index, "segments": len(self.lines),
                "speech_s": self.speech_frames / rate if rate else 0.0, "sample_rate": self.sample_rate,
                "total_frames": self.end, "clipped": self.clipped}
