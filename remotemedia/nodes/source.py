"""remotemedia 1.x media sources: ``MediaReaderNode``, ``LocalMediaReaderNode`` and the track sources.

A media reader decodes a file with PyAV (the ``media`` extra; 1.x went through aiortc's
``MediaPlayer``) and yields ``{"audio": av.AudioFrame}`` and ``{"video": av.VideoFrame}`` items
in the order the container interleaves them; a track source turns the frames of its track into
arrays and gives None (no output) for any other item:

- :class:`AudioTrackSource`: ``(float32 (channels, samples), sample_rate)``: packed layouts
  de-interleaved, int16 divided by 32768, int32 by 2^31;
- :class:`VideoTrackSource`: ``(ndarray (height, width, 3) in output_format, pts)``.

A pipeline that starts with a media reader is a chunk stream (``async for out in
pipeline.process()``, ``pipeline.stream()``, ``run_file``): the reader's frames are the chunks,
so stateful nodes downstream (``AudioTransform``, ``AudioResampler``) see the whole signal.
``await pipeline.run()`` calls the reader as an item source instead (1.x's ``process()`` async
generator).

Differences from 1.x, on purpose: a file without audio or video, or one that fails to decode
partway, raises :class:`~remotemedia.errors.AudioFileError` (1.x logged a warning and ended the
stream, an empty success); a missing PyAV is a clear error at construction.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, AsyncIterator, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

from remotemedia.errors import AudioFileError, ConfigurationError
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["MediaReaderNode", "LocalMediaReaderNode", "TrackSource", "AudioTrackSource", "VideoTrackSource",
           "MediaNotFoundError"]

logger = logging.getLogger(__name__)

_TRACKS = ("audio", "video")
#: Items handed to the event loop per thread-pool call when ``process()`` decodes.
_BATCH = 16


class MediaNotFoundError(AudioFileError, FileNotFoundError):
    """``LocalMediaReaderNode`` was given a path that does not exist (a ``FileNotFoundError``, as in 1.x)."""


def _require_av(node: Node) -> Any:
    try:
        import av
    except ImportError as exc:
        raise ConfigurationError(f"node {node.name!r}: {type(node).__name__} needs PyAV: install PyAV "
                                 "(pip install 'remotemedia[media]')", node_id=node.name, parameter="path",
                                 expected="the media extra installed", given=None) from exc
    return av


@register_node
class MediaReaderNode(Node):
    """Decodes a media file with PyAV and yields its frames (remotemedia 1.x ``MediaReaderNode``).

    Args:
        path: the media file (any container FFmpeg reads: mp4, mkv, webm, mp3, m4a, ogg, wav ...).
        tracks: which tracks to decode: the first audio and the first video track by default
            (``("audio",)`` skips decoding video).
        name: node id.
        **kwargs: kept in ``config`` (1.x scripts pass ``chunk_size`` and the like).

    Yields ``{"audio": av.AudioFrame}`` / ``{"video": av.VideoFrame}``, in container order.

    Raises:
        ConfigurationError: PyAV is not installed, or ``tracks`` is not a subset of audio/video.
        AudioFileError: (while reading) the file cannot be opened, has no audio or video
            track, or fails to decode.
    """

    input_types: Dict[str, str] = {}
    output_types = {"frames": "any"}

    def __init__(self, path: str, tracks: Sequence[str] = _TRACKS, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.path = os.fspath(path)
        wanted = tuple(tracks)
        if not wanted or any(t not in _TRACKS for t in wanted):
            raise ConfigurationError(f"node {self.name!r}: tracks: expected a non-empty subset of {_TRACKS}, "
                                     f"given {tracks!r}", node_id=self.name, parameter="tracks",
                                     expected="'audio' and/or 'video'", given=tracks)
        self.tracks = wanted
        _require_av(self)

    def frames(self, path: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Decodes ``path`` (default: the node's) and yields ``{"audio" | "video": frame}`` items.

        Raises:
            AudioFileError: see the class docstring.
        """
        from remotemedia.io.media import _describe, check_decoded_length

        av = _require_av(self)
        target = os.fspath(path) if path is not None else self.path
        try:
            container = av.open(target, mode="r")
        except Exception as exc:
            raise AudioFileError(f"not a media file FFmpeg can decode ({_describe(exc, target)})", path=target) \
                from exc
        with container:
            streams = [s for kind in self.tracks for s in getattr(container.streams, kind)[:1]]
            if not streams:
                kinds = sorted({s.type for s in container.streams}) or ["no streams at all"]
                raise AudioFileError(f"no {' or '.join(self.tracks)} track (the file has: {', '.join(kinds)})",
                                     path=target)
            audio = next((s for s in streams if s.type == "audio"), None)
            decoded, max_frame = 0, 0
            try:
                for packet in container.demux(streams):
                    for frame in packet.decode():
                        if isinstance(frame, av.AudioFrame):
                            decoded += frame.samples
                            max_frame = max(max_frame, frame.samples)
                            yield {"audio": frame}
                        elif isinstance(frame, av.VideoFrame):
                            yield {"video": frame}
            except AudioFileError:
                raise
            except Exception as exc:  # av.FFmpegError, OSError ... while demuxing or decoding
                raise AudioFileError(f"corrupt or truncated data after {decoded} decoded audio frames "
                                     f"({_describe(exc, target)})", path=target) from exc
            if audio is not None:
                rate = int(audio.codec_context.sample_rate or 0)
                check_decoded_length(target, audio, container, decoded, rate, max_frame)

    def iter_chunks(self, source_path: Any = None, **future_kwargs: Any) -> Iterator[Dict[str, Any]]:
        """Chunk source: the frames of ``source_path`` (from ``run_file``/``stream``) or of ``path``."""
        return self.frames(source_path)

    async def process(self, data: Any = None) -> AsyncIterator[Dict[str, Any]]:  # type: ignore[override]
        """1.x: an async generator of frame items (decoding runs in worker threads)."""
        iterator = self.frames()
        loop = asyncio.get_running_loop()
        while True:
            batch = await loop.run_in_executor(None, _take, iterator, _BATCH)
            for item in batch:
                yield item
            if len(batch) < _BATCH:
                return

    def stream(self) -> AsyncIterator[Dict[str, Any]]:
        """1.x alias of :meth:`process`."""
        return self.process()


def _take(iterator: Iterator[Any], n: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out


@register_node
class LocalMediaReaderNode(MediaReaderNode):
    """:class:`MediaReaderNode` for a local file that must exist when the node is built (1.x).

    Raises:
        MediaNotFoundError: no such file (also a ``FileNotFoundError``).
    """

    def __init__(self, path: str, tracks: Sequence[str] = _TRACKS, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        if not os.path.exists(os.fspath(path)):
            raise MediaNotFoundError("media file not found", path=os.fspath(path))
        super().__init__(path, tracks=tracks, name=name, **kwargs)


class TrackSource(Node):
    """Base of the track sources: takes ``{track: frame}`` items, ignores every other item (1.x).

    ``process(item)`` returns None for an item that is not a dict with this track's key, or whose
    frame is not of this track's frame type (logged), else ``self._process_frame(frame)``.
    """

    _track_type: str = ""
    input_types = {"frames": "any"}

    def _frame_type(self) -> type:
        raise NotImplementedError

    def process(self, data: Any) -> Any:
        if not isinstance(data, dict) or self._track_type not in data:
            return None
        frame = data[self._track_type]
        try:
            expected = self._frame_type()
        except ImportError:
            expected = None
        if expected is None or not isinstance(frame, expected):
            logger.warning("%s %r: a %r item holds a %s, not a %s; no output", type(self).__name__, self.name,
                           self._track_type, type(frame).__name__, getattr(expected, "__name__", "PyAV frame"))
            return None
        return self._process_frame(frame)

    def _process_frame(self, frame: Any) -> Any:
        raise NotImplementedError


@register_node
class AudioTrackSource(TrackSource):
    """``{"audio": av.AudioFrame}`` -> ``(float32 (channels, samples), sample_rate)`` (1.x).

    Packed layouts are de-interleaved (a view when the frame is already float32), integer samples
    scaled (int16 / 32768, int32 / 2^31, unsigned 8 bit as in 8-bit WAV), float64 rounded to
    float32.
    """

    _track_type = "audio"
    output_types = {"audio": "audio"}

    def _frame_type(self) -> type:
        import av

        return av.AudioFrame

    def _process_frame(self, frame: Any) -> Tuple[np.ndarray, int]:
        from remotemedia.io.media import frame_to_array
        from remotemedia.kernels.convert import convert_format

        samples = frame_to_array(frame)
        if samples.dtype != np.float32:
            samples = convert_format(samples, "f32").samples
        return samples, int(frame.sample_rate)


@register_node
class VideoTrackSource(TrackSource):
    """``{"video": av.VideoFrame}`` -> ``(ndarray, pts)`` (1.x).

    Args:
        output_format: pixel format of the array (``"bgr24"``, ``"rgb24"``, ``"gray"`` ...):
            (height, width, 3) uint8 for the 24-bit formats.
        name: node id.
    """

    _track_type = "video"
    output_types = {"video": "any"}

    def __init__(self, output_format: str = "bgr24", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not isinstance(output_format, str) or not output_format:
            raise ConfigurationError(f"node {self.name!r}: output_format: expected a pixel format name, given "
                                     f"{output_format!r}", node_id=self.name, parameter="output_format",
                                     expected="a pixel format name", given=output_format)
        self.output_format = output_format

    def _frame_type(self) -> type:
        import av

        return av.VideoFrame

    def _process_frame(self, frame: Any) -> Tuple[np.ndarray, Optional[int]]:
        return frame.to_ndarray(format=self.output_format), frame.pts
