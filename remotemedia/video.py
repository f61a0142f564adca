"""VideoFrame: one frame's pixels as a numpy array, with its time and index.

Frames are large (a 3840x2160 RGB frame is 24.9 MB, one 8-bit plane 8.3 MB),
so nothing here copies pixels: a VideoFrame holds the array it was given, the
pipeline executor passes the same object from node to node, and
:meth:`VideoFrame.from_buffer` views raw bytes (a ``bytes`` object, an
``mmap``, a ``np.memmap``) without copying them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from remotemedia.errors import KernelInputError

Buffer = Union[bytes, bytearray, memoryview, np.ndarray]


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One video frame.

    Attributes:
        pixels: uint8 array (height, width, channels) (interleaved, e.g. RGB),
            or (height, width) for one plane (grey, or the Y plane of YUV).
            Held as given, never copied; it may be a read-only view of a file.
        timestamp_s: presentation time in seconds from the start of the stream.
        frame_index: position in the stream, from 0.

    Frames compare by identity (``eq=False``): two frames with equal pixels are
    still two frames.
    """

    pixels: np.ndarray
    timestamp_s: float = 0.0
    frame_index: int = 0

    def __post_init__(self) -> None:
        check_pixels(self.pixels)
        if isinstance(self.frame_index, (bool, np.bool_)) or not isinstance(self.frame_index, (int, np.integer)) \
                or self.frame_index < 0:
            raise KernelInputError("frame_index", "an int >= 0", repr(self.frame_index))
        try:
            timestamp_s = float(self.timestamp_s)
        except (TypeError, ValueError) as exc:
            raise KernelInputError("timestamp_s", "a number of seconds", repr(self.timestamp_s)) from exc
        if not np.isfinite(timestamp_s):
            raise KernelInputError("timestamp_s", "a finite number of seconds", repr(self.timestamp_s))
        object.__setattr__(self, "timestamp_s", timestamp_s)
        object.__setattr__(self, "frame_index", int(self.frame_index))

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def num_channels(self) -> int:
        """Channels per pixel (1 for a (height, width) plane)."""
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    @classmethod
    def from_buffer(cls, data: Buffer, height: int, width: int, num_channels: int = 3, *, offset: int = 0,
                    timestamp_s: float = 0.0, frame_index: int = 0) -> "VideoFrame":
        """Views packed 8-bit pixels in ``data`` as a frame, without copying.

        Args:
            data: any buffer (``bytes``, ``bytearray``, ``memoryview``, ``mmap``,
                a uint8 ``np.memmap``) holding at least ``offset + height *
                width * num_channels`` bytes.
            height, width: frame size in pixels.
            num_channels: 1 gives a (height, width) plane, more an interleaved
                (height, width, num_channels) frame.
            offset: byte offset of the frame in ``data``.
            timestamp_s, frame_index: see the class.

        Returns:
            A frame whose pixels share memory with ``data`` (read-only when
            ``data`` is ``bytes``).
        """
        for name, value in (("height", height), ("width", width), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise KernelInputError(name, "an int >= 1", repr(value))
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
            raise KernelInputError("offset", "an int >= 0", repr(offset))
        count = int(height) * int(width) * int(num_channels)
        size = data.nbytes if isinstance(data, np.ndarray) else memoryview(data).nbytes
        if offset + count > size:
            raise KernelInputError("data", f"at least {offset + count} bytes", f"{size} bytes")
        if isinstance(data, np.ndarray):
            if data.dtype != np.uint8 or not data.flags.c_contiguous:
                raise KernelInputError("data", "a C-contiguous uint8 array", f"{data.dtype} array")
            flat = data.reshape(-1)[offset:offset + count]
        else:
            flat = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
        shape = (height, width) if num_channels == 1 else (height, width, num_channels)
        return cls(flat.reshape(shape), timestamp_s, frame_index)


@dataclass(frozen=True, eq=False)
class FrameTensor:
    """A frame turned into a model input (e.g. by ``NormalizeFrameNode``).

    Attributes:
        tensor: float32 array (channels, height, width).
        timestamp_s: the source frame's time (seconds).
        frame_index: the source frame's index.
    """

    tensor: np.ndarray
    timestamp_s: float = 0.0
    frame_index: int = 0


def check_pixels(pixels: Any, parameter: str = "pixels", node_id: Optional[str] = None) -> np.ndarray:
    """Validates a frame's pixel array (uint8, (height, width) or (height, width, channels))."""
    if not isinstance(pixels, np.ndarray):
        raise KernelInputError(parameter, "a numpy.ndarray", type(pixels).__name__, node_id=node_id)
    if pixels.dtype != np.uint8:
        raise KernelInputError(parameter, "dtype uint8", pixels.dtype, node_id=node_id)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] < 1):
        raise KernelInputError(parameter, "shape (height, width, channels) or (height, width)", pixels.shape,
                               node_id=node_id)
    return pixels


def coerce_frame(data: Any, node_id: Optional[str] = None) -> VideoFrame:
    """Accepts a VideoFrame or a bare pixel array (wrapped, not copied, at index 0)."""
    if isinstance(data, VideoFrame):
        return data
    if isinstance(data, np.ndarray):
        return VideoFrame(check_pixels(data, "input", node_id))
    raise KernelInputError("input", "a VideoFrame or a uint8 numpy.ndarray", type(data).__name__, node_id=node_id)


# ------------------------------------------------------------------ raw files
#: Y4M colour spaces of 8-bit samples -> (chroma width divisor, chroma height divisor); None = no chroma.
_Y4M_CHROMA = {
    "420jpeg": (2, 2), "420paldv": (2, 2), "420mpeg2": (2, 2), "420": (2, 2),
    "422": (2, 1), "444": (1, 1), "411": (4, 1), "mono": None,
}


class _FrameFile:
    """A sequence of frames viewed in a memory-mapped file (shared by the readers)."""

    path: str
    height: int
    width: int
    fps: float
    _offsets: list

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, index: int) -> VideoFrame:
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        index %= len(self)
        return VideoFrame(self._plane(index), index / self.fps, index)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(len(self)):
            yield self[i]

    def _plane(self, index: int) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


class RawVideo(_FrameFile):
    """Frames of packed 8-bit pixels stored back to back (``ffmpeg -f rawvideo -pix_fmt rgb24``).

    Args:
        path: the file.
        width, height: frame size in pixels.
        num_channels: bytes per pixel (3 for rgb24, 1 for gray, 4 for rgba).
        fps: frames per second (gives each frame's ``timestamp_s``).

    Frames are read-only views of a ``np.memmap`` of the file: opening reads
    nothing, a frame's bytes are read from disk when first touched.

    Raises:
        KernelInputError: bad size, or a file that is not a whole number of frames.
    """

    def __init__(self, path: str, width: int, height: int, num_channels: int = 3, fps: float = 30.0) -> None:
        import os

        for name, value in (("width", width), ("height", height), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise KernelInputError(name, "an int >= 1", repr(value))
        self.path, self.width, self.height, self.num_channels = os.fspath(path), int(width), int(height), \
            int(num_channels)
        self.fps = _check_fps(fps)
        self.frame_bytes = self.width * self.height * self.num_channels
        size = os.path.getsize(self.path)
        if size % self.frame_bytes:
            raise KernelInputError("path", f"a whole number of {self.frame_bytes}-byte frames", f"{size} bytes")
        self._map = np.memmap(self.path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        self._offsets = list(range(0, size, self.frame_bytes))

    def _plane(self, index: int) -> np.ndarray:
        flat = self._map[self._offsets[index]:self._offsets[index] + self.frame_bytes]
        shape = (self.height, self.width) if self.num_channels == 1 else (self.height, self.width, self.num_channels)
        return flat.reshape(shape)


class Y4MVideo(_FrameFile):
    """A YUV4MPEG2 (``.y4m``) file of 8-bit samples, memory-mapped.

    Indexing or iterating gives VideoFrames of the luma (Y) plane, (height,
    width) uint8 views of the file; :meth:`planes` gives the Y, U and V planes
    of a frame (views too). No decoder is needed: Y4M is uncompressed.

    Attributes:
        width, height: luma size in pixels.
        fps: frame rate from the ``F`` header field (30 when absent).
        colorspace: the ``C`` header field (``420jpeg`` when absent).

    Raises:
        KernelInputError: not a Y4M file, a colour space of more than 8 bits,
            or a truncated frame.
    """

    def __init__(self, path: str) -> None:
        import os

        self.path = os.fspath(path)
        if os.path.getsize(self.path) == 0:
            raise KernelInputError("path", "a YUV4MPEG2 file", "an empty file")
        self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        raw = self._map
        head_end = _find_newline(raw, 0, 4096)
        fields = bytes(raw[:head_end]).decode("ascii", "replace").split(" ")
        if fields[0] != "YUV4MPEG2":
            raise KernelInputError("path", "a YUV4MPEG2 file", repr(fields[0][:16]))
        tags = {f[0]: f[1:] for f in fields[1:] if f}
        try:
            self.width, self.height = int(tags["W"]), int(tags["H"])
        except (KeyError, ValueError) as exc:
            raise KernelInputError("path", "a Y4M header with W and H", " ".join(fields)) from exc
        num, _, den = tags.get("F", "30:1").partition(":")
        self.fps = _check_fps(int(num) / int(den or 1))
        self.colorspace = tags.get("C", "420jpeg")
        if self.colorspace not in _Y4M_CHROMA:
            raise KernelInputError("colorspace", f"one of {', '.join(_Y4M_CHROMA)} (8-bit)", self.colorspace)
        sub = _Y4M_CHROMA[self.colorspace]
        luma = self.width * self.height
        self._chroma_shape = None if sub is None else (-(-self.height // sub[1]), -(-self.width // sub[0]))
        chroma = 0 if sub is None else self._chroma_shape[0] * self._chroma_shape[1]
        self.frame_bytes = luma + 2 * chroma
        offsets = []
        pos = head_end + 1
        while pos < raw.size:
            if bytes(raw[pos:pos + 5]) != b"FRAME":
                raise KernelInputError("path", f"a FRAME header at byte {pos}", repr(bytes(raw[pos:pos + 5])))
            start = _find_newline(raw, pos, 256) + 1
            if start + self.frame_bytes > raw.size:
                raise KernelInputError("path", f"{self.frame_bytes} bytes in frame {len(offsets)}",
                                       f"{raw.size - start} bytes (truncated file)")
            offsets.append(start)
            pos = start + self.frame_bytes
        self._offsets = offsets

    def _plane(self, index: int) -> np.ndarray:
        start = self._offsets[index]
        return self._map[start:start + self.width * self.height].reshape(self.height, self.width)

    def planes(self, index: int) -> tuple:
        """``(y, u, v)`` uint8 views of frame ``index`` (``u``/``v`` None for ``Cmono``)."""
        y = self[index].pixels
        if self._chroma_shape is None:
            return y, None, None
        start = self._offsets[index % len(self)] + y.size
        n = self._chroma_shape[0] * self._chroma_shape[1]
        u = self._map[start:start + n].reshape(self._chroma_shape)
        v = self._map[start + n:start + 2 * n].reshape(self._chroma_shape)
        return y, u, v


def _find_newline(raw: np.ndarray, start: int, limit: int) -> int:
    window = np.asarray(raw[start:start + limit])
    hits = np.flatnonzero(window == 0x0A)
    if not hits.size:
        raise KernelInputError("path", f"a header line ending within {limit} bytes at byte {start}", "none")
    return start + int(hits[0])


def _check_fps(fps: Any) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError) as exc:
        raise KernelInputError("fps", "a number of frames per second > 0", repr(fps)) from exc
    if not (np.isfinite(value) and value > 0):
        raise KernelInputError("fps", "a number of frames per second > 0", repr(fps))
    return value
