"""remotemedia 1.x ``MediaWriterNode``: encodes ``{"audio": frame}`` / ``{"video": frame}`` items into a media file."""

from __future__ import annotations

import os
import secrets
from typing import Any, Dict, Optional

from remotemedia.errors import AudioFileError, ConfigurationError
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["MediaWriterNode"]


@register_node
class MediaWriterNode(Node):
    """Writes the frames of :class:`~remotemedia.nodes.source.MediaReaderNode` items to a file (1.x), with PyAV.

    Args:
        output_path: the file; its extension picks the container (``.mp4``, ``.mkv``, ``.wav`` ...).
        name: node id.

    The first frame of a track adds a stream, as in 1.x: audio as 16-bit PCM for ``.wav`` and
    AAC otherwise, at the frame's rate and layout; video as H.264 at 30 fps with the frame's
    size and pixel format. Items without frames are ignored; ``process`` returns None.

    The file is written under a temporary name in the same folder and renamed into place by
    ``cleanup()`` (end of the pipeline run, or of ``managed_execution``), after the encoders are
    flushed and the file is fsynced: it appears complete or not at all. A failed chunk stream
    calls ``abort_stream()``, which removes the temporary file (1.x wrote in place).

    Raises:
        ConfigurationError: PyAV is missing or the folder does not exist.
        AudioFileError: an encoder or the muxer fails.
    """

    input_types = {"frames": "any"}
    output_types: Dict[str, str] = {}
    writes_files = True

    def __init__(self, output_path: str, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.output_path = os.fspath(output_path)
        folder = os.path.dirname(os.path.abspath(self.output_path))
        if not os.path.isdir(folder):
            raise ConfigurationError(f"node {self.name!r}: output_path: the folder {folder!r} does not exist",
                                     node_id=self.name, parameter="output_path", expected="an existing folder",
                                     given=self.output_path)
        try:
            import av  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(f"node {self.name!r}: MediaWriterNode needs PyAV: install PyAV "
                                     "(pip install 'remotemedia[media]')", node_id=self.name) from exc
        self.container: Any = None
        self.streams: Dict[str, Any] = {}
        self._tmp: Optional[str] = None

    def _open(self) -> None:
        import av

        head, tail = os.path.split(os.path.abspath(self.output_path))
        stem, ext = os.path.splitext(tail)
        self._tmp = os.path.join(head, f".{stem}.{secrets.token_hex(4)}.part{ext}")
        try:
            self.container = av.open(self._tmp, mode="w", format=None if ext else "matroska")
        except Exception as exc:
            self._tmp = None
            raise AudioFileError(f"cannot create the output ({exc})", path=self.output_path) from exc

    def _add_stream(self, track: str, frame: Any) -> Any:
        if track == "video":
            stream = self.container.add_stream("libx264", rate=30)
            stream.width, stream.height = frame.width, frame.height
            stream.pix_fmt = frame.format.name if frame.format.name in ("yuv420p", "yuvj420p") else "yuv420p"
        else:
            codec = "pcm_s16le" if self.output_path.lower().endswith(".wav") else "aac"
            stream = self.container.add_stream(codec, rate=frame.sample_rate)
            stream.layout = frame.layout.name
        if frame.time_base:
            stream.time_base = frame.time_base
        self.streams[track] = stream
        return stream

    def process(self, data: Any) -> None:
        import av

        if not isinstance(data, dict):
            return None
        for track, frame in data.items():
            if track not in ("audio", "video") or not isinstance(frame, av.frame.Frame):
                continue
            if self.container is None:
                self._open()
            stream = self.streams.get(track) or self._add_stream(track, frame)
            if track == "video" and frame.format.name != stream.pix_fmt:
                frame = frame.reformat(format=stream.pix_fmt)
            try:
                for packet in stream.encode(frame):
                    self.container.mux(packet)
            except Exception as exc:
                raise AudioFileError(f"encoding a {track} frame failed ({exc})", path=self.output_path) from exc
        return None

    def cleanup(self) -> None:
        """Flushes the encoders, closes the file and renames it into place (1.x: closed it)."""
        super().cleanup()
        container, tmp = self.container, self._tmp
        self.container, self._tmp = None, None
        if container is None or tmp is None:
            return
        try:
            for stream in self.streams.values():
                for packet in stream.encode(None):
                    container.mux(packet)
            container.close()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.output_path)
        except BaseException:
            _remove(tmp)
            raise
        finally:
            self.streams = {}

    def abort_stream(self) -> None:
        """Drops the temporary file of a failed run."""
        container, tmp = self.container, self._tmp
        self.container, self._tmp, self.streams = None, None, {}
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: S110 - the run's own error is the one to report
                pass
        if tmp is not None:
            _remove(tmp)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
