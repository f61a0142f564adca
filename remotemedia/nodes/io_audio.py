"""File nodes: a block-reading source and an atomic file sink.

In a chunk stream (see :mod:`remotemedia.streaming`) :class:`AudioFileSource`
reads its file in chunks and :class:`AudioFileSink` appends them to a
temporary file that is renamed into place at the end of the stream. In the
item executor (``pipeline.run``) the source reads the whole file as one item
and the sink writes one item as a whole file.

``MonoMixNode`` lives in :mod:`remotemedia.nodes.audio`; it is importable from
here too, as before.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, Optional

import numpy as np

from remotemedia.audio import AudioBuffer, coerce_audio
from remotemedia.errors import ConfigurationError, KernelInputError
from remotemedia.nodes.audio import MonoMixNode  # noqa: F401  (its old home: keeps the import working)
from remotemedia.nodes.base import Node
from remotemedia.nodes.kernel_node import KernelNode
from remotemedia.nodes.registry import register_node

#: Default chunk duration of file sources (seconds of audio).
DEFAULT_CHUNK_S = 2.0


def _chunking(chunk_s: Optional[float], chunk_frames: Optional[int], chunk_bytes: Optional[int],
              node_id: str) -> Dict[str, Any]:
    given = {k: v for k, v in (("chunk_s", chunk_s), ("chunk_frames", chunk_frames), ("chunk_bytes", chunk_bytes))
             if v is not None}
    if len(given) > 1:
        raise ConfigurationError(f"node {node_id!r}: give one of chunk_s, chunk_frames, chunk_bytes, not {given}",
                                 node_id=node_id, parameter="chunk_s", expected="one chunk size", given=given)
    for key, value in given.items():
        bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value <= 0
        if key != "chunk_s" and not bad:
            bad = int(value) != value
        if bad:
            raise KernelInputError(key, "a number > 0" if key == "chunk_s" else "an int >= 1", repr(value),
                                   node_id=node_id)
    return given


@register_node
class AudioFileSource(Node):
    """Reads an audio file (WAV natively; FLAC, OGG and more with soundfile).

    Args:
        path: the file (a chunk stream may give another one:
            ``pipeline.run_file(path, out)`` / ``pipeline.stream(path)``).
        chunk_s: seconds of audio per chunk (default 2.0 when no size is given).
        chunk_frames: frames per chunk (instead of ``chunk_s``).
        chunk_bytes: bytes of samples per chunk (instead of ``chunk_s``).
        name: node id.

    Output: an AudioBuffer ``(samples (channels, frames), sample_rate)`` with int16 samples
    for up to 16-bit PCM, int32 for 24/32-bit PCM, float32 for float and lossy
    formats (see :mod:`remotemedia.io.readers`). In a chunk stream it yields
    one such buffer per chunk (an empty file gives one empty chunk, so sinks
    still learn the rate); ``process()`` returns the whole file.
    """

    input_types: Dict[str, str] = {}
    output_types = {"audio": "audio"}

    def __init__(self, path: Optional[str] = None, chunk_s: Optional[float] = None,
                 chunk_frames: Optional[int] = None, chunk_bytes: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self.path = None if path is None else os.fspath(path)
        self.chunking = _chunking(chunk_s, chunk_frames, chunk_bytes, self.name)

    def _path(self, source_path: Any) -> str:
        path = source_path if source_path is not None else self.path
        if path is None:
            raise ConfigurationError(f"node {self.name!r}: no file to read (give path= or run_file(path, ...))",
                                     node_id=self.name, parameter="path", expected="a file path", given=None)
        return os.fspath(path)

    def iter_chunks(self, source_path: Any = None, chunk_s: Optional[float] = None,
                    chunk_frames: Optional[int] = None, chunk_bytes: Optional[int] = None,
                    **future_kwargs: Any) -> Iterator[AudioBuffer]:
        """Yields the file's chunks; a chunk size given here overrides the node's."""
        from remotemedia.io.readers import chunk_frames_for, open_audio

        override = _chunking(chunk_s, chunk_frames, chunk_bytes, self.name)
        chunking = override or self.chunking or {"chunk_s": DEFAULT_CHUNK_S}
        with open_audio(self._path(source_path)) as reader:
            frames = chunk_frames_for(reader, **chunking)
            empty = True
            for block in reader.blocks(frames):
                empty = False
                yield AudioBuffer(block, reader.sample_rate)
            if empty:
                yield AudioBuffer(np.zeros((reader.num_channels, 0), dtype=reader.dtype), reader.sample_rate)

    def process(self, data: Any = None) -> AudioBuffer:
        """Reads the whole file (``data`` may be a path that replaces ``path``)."""
        from remotemedia.io.readers import read_audio

        source = data if isinstance(data, (str, os.PathLike)) else None
        return AudioBuffer(*read_audio(self._path(source)))


@register_node
class AudioFileSink(KernelNode):
    """Writes audio to a WAV or FLAC file, atomically (temporary file, fsync, rename).

    Args:
        path: the output file (``pipeline.run_file(src, out)`` gives ``out``
            instead); ``.wav`` or ``.flac`` picks the container.
        sample_format: ``"i16"`` (default), ``"i32"``, or ``"f32"`` (WAV,
            needs soundfile); other input dtypes are converted with the
            convert kernel (round half to even, clipping counted).
        container: ``"wav"`` or ``"flac"`` to override the suffix.
        runtime_hint: implementation of the conversion (see :class:`KernelNode`).
        name: node id.

    In a chunk stream every chunk is appended as it comes; the file appears
    under its name only when the stream ends (a failed or cancelled run
    removes the temporary file). The output, once per stream (or per item
    with ``process``), is a summary dict: ``path``, ``frames``,
    ``sample_rate``, ``num_channels``, ``sample_format``, ``clipped``.
    """

    kernel_family = "convert"
    writes_files = True
    input_types = {"audio": "audio"}
    output_types = {"summary": "any"}

    def __init__(self, path: Optional[str] = None, sample_format: str = "i16", container: Optional[str] = None,
                 runtime_hint: str = "auto", name: Optional[str] = None) -> None:
        from remotemedia.kernels.convert import normalize_format

        super().__init__(runtime_hint=runtime_hint, name=name)
        self.path = None if path is None else os.fspath(path)
        self.sample_format = normalize_format(sample_format, node_id=self.name)
        self.container = container
        self._target: Optional[str] = None
        self._writer: Any = None

    def _open(self, target: Optional[str], samples: np.ndarray, sample_rate: int) -> Any:
        from remotemedia.io.writers import AudioWriter

        if target is None:
            raise ConfigurationError(f"node {self.name!r}: no output file (give path= or run_file(src, out))",
                                     node_id=self.name, parameter="path", expected="a file path", given=None)
        return AudioWriter(target, sample_rate, samples.shape[0], self.sample_format, self.container, impl=self.impl)

    def _summary(self, writer: Any, path: str) -> Dict[str, Any]:
        return {"path": path, "frames": writer.frames_written, "sample_rate": writer.sample_rate,
                "num_channels": writer.num_channels, "sample_format": writer.sample_format,
                "clipped": writer.clipped}

    def begin_stream(self, output: Any = None, **future_kwargs: Any) -> None:
        self.abort_stream()
        self._target = os.fspath(output) if output is not None else self.path

    def process_chunk(self, data: Any) -> None:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        if self._writer is None:
            self._writer = self._open(self._target if self._target is not None else self.path, samples, sample_rate)
        elif sample_rate != self._writer.sample_rate:
            raise KernelInputError("sample_rate", f"{self._writer.sample_rate} Hz (as earlier in this stream)",
                                   sample_rate, node_id=self.name)
        self._writer.write(samples)

    def flush(self) -> Optional[Dict[str, Any]]:
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        return self._summary(writer, writer.commit())

    def abort_stream(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()

    def process(self, data: Any) -> Dict[str, Any]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        with self._open(self.path, samples, sample_rate) as writer:
            writer.write(samples)
        return self._summary(writer, writer.path)
