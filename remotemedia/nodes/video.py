"""Video nodes: frame sources, inspection, and frame normalisation.

Frames travel as :class:`~remotemedia.video.VideoFrame` objects; the executor
hands the same object from node to node, so a chain of nodes that only read
frames moves no pixels at all.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any, AsyncIterator, List, Optional, Union

import numpy as np

from remotemedia.errors import KernelInputError, RemoteMediaError
from remotemedia.kernels import normalize
from remotemedia.nodes.audio import KernelNode
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node
from remotemedia.video import FrameTensor, RawVideo, VideoFrame, Y4MVideo, coerce_frame

#: ImageNet statistics, the usual defaults of vision models (in [0, 1] pixel units).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _LiveFrames:
    """Counts frames still referenced anywhere, so a source can wait for one to be freed."""

    def __init__(self, limit: int, wait_timeout_s: float, node_id: str) -> None:
        self.limit = limit
        self.wait_timeout_s = wait_timeout_s
        self.node_id = node_id
        self.count = 0
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._freed = asyncio.Event()

    def track(self, pixels: np.ndarray) -> None:
        with self._lock:
            self.count += 1
        weakref.finalize(pixels, self._on_free)

    def _on_free(self) -> None:  # any thread: whichever dropped the last reference
        with self._lock:
            self.count -= 1
        try:
            self._loop.call_soon_threadsafe(self._freed.set)
        except RuntimeError:  # the loop is closed: nobody is waiting
            pass

    async def wait_for_room(self) -> None:
        while True:
            self._freed.clear()
            with self._lock:
                if self.count < self.limit:
                    return
            try:
                await asyncio.wait_for(self._freed.wait(), self.wait_timeout_s)
            except asyncio.TimeoutError:
                raise RemoteMediaError(
                    f"node {self.node_id!r}: {self.count} frames still referenced after {self.wait_timeout_s} s "
                    f"(max_live_frames={self.limit}); something keeps every frame (run()/execute() collect all "
                    "outputs: stream with astream()/stream() instead, or raise max_live_frames)") from None


@register_node
class GeneratedFrameSource(Node):
    """Generates synthetic frames (no file, no codec): a moving diagonal gradient.

    Args:
        num_frames: how many frames to produce.
        width, height: frame size in pixels.
        num_channels: 1 gives (height, width) planes, more (height, width, channels).
        fps: frame rate (sets ``timestamp_s = frame_index / fps``).
        max_live_frames: when set, a new frame is made only while fewer than
            this many earlier frames are still referenced anywhere (backpressure
            for large frames on the executor's unbounded queues). Only for
            streamed runs (``astream``/``stream``), where the consumer drops
            frames: ``run()`` keeps every output and would wait forever, so
            waiting longer than ``wait_timeout_s`` raises. A ``for`` loop over
            the stream holds the previous frame while it asks for the next,
            so 2 is the smallest bound that works without ``del frame``.
        wait_timeout_s: see ``max_live_frames``.
        name: node id.

    Every frame is a fresh array: pixel ``(y, x, c)`` of frame ``k`` is
    ``(y + x + 85 * c + k) mod 256``.
    """

    input_types = {"input": "any"}
    output_types = {"video": "video"}

    def __init__(self, num_frames: int = 30, width: int = 640, height: int = 480, num_channels: int = 3,
                 fps: float = 30.0, max_live_frames: Optional[int] = None, wait_timeout_s: float = 30.0,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        for pname, value, low in (("num_frames", num_frames, 0), ("width", width, 1), ("height", height, 1),
                                  ("num_channels", num_channels, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise KernelInputError(pname, f"an int >= {low}", repr(value), node_id=self.name)
        if max_live_frames is not None and (not isinstance(max_live_frames, int) or max_live_frames < 1):
            raise KernelInputError("max_live_frames", "None or an int >= 1", repr(max_live_frames),
                                   node_id=self.name)
        if not float(fps) > 0:
            raise KernelInputError("fps", "a number of frames per second > 0", repr(fps), node_id=self.name)
        self.num_frames, self.width, self.height, self.num_channels = num_frames, width, height, num_channels
        self.fps = float(fps)
        self.max_live_frames = max_live_frames
        self.wait_timeout_s = float(wait_timeout_s)

    @property
    def frame_shape(self) -> tuple:
        """(height, width) or (height, width, num_channels)."""
        return (self.height, self.width) if self.num_channels == 1 else (self.height, self.width, self.num_channels)

    def make_frame(self, frame_index: int, out: Optional[np.ndarray] = None) -> VideoFrame:
        """Frame ``frame_index``: a new array every call, or written into ``out`` (uint8, :attr:`frame_shape`)."""
        pixels = np.empty(self.frame_shape, dtype=np.uint8) if out is None else out
        rows = ((np.arange(self.height) + frame_index) % 256).astype(np.uint8)
        cols = (np.arange(self.width)[:, None] + 85 * np.arange(self.num_channels)[None, :]) % 256
        cols = cols.astype(np.uint8)
        if self.num_channels == 1:
            np.add(rows[:, None], cols[None, :, 0], out=pixels)
        else:
            np.add(rows[:, None, None], cols[None, :, :], out=pixels)  # uint8: wraps mod 256
        return VideoFrame(pixels, frame_index / self.fps, frame_index)

    async def process(self) -> AsyncIterator[VideoFrame]:
        live = None if self.max_live_frames is None else _LiveFrames(self.max_live_frames, self.wait_timeout_s,
                                                                      self.name)
        for k in range(self.num_frames):
            if live is not None:
                await live.wait_for_room()
                frame = self.make_frame(k)
                live.track(frame.pixels)
            else:
                frame = self.make_frame(k)
            # No local may keep the frame while this generator is suspended.
            yield frame
            del frame
            await asyncio.sleep(0)


@register_node
class VideoFileSource(Node):
    """Reads frames from an uncompressed file, as views of the memory-mapped file.

    Args:
        path: a ``.y4m`` file (YUV4MPEG2, 8-bit; frames are its Y planes) or a
            raw file of packed frames (``rgb24``, ``gray``, ...).
        width, height: frame size of a raw file (ignored for ``.y4m``).
        num_channels: bytes per pixel of a raw file.
        fps: frame rate of a raw file (``.y4m`` files carry their own).
        name: node id.
    """

    input_types = {"input": "any"}
    output_types = {"video": "video"}

    def __init__(self, path: str = "", width: Optional[int] = None, height: Optional[int] = None,
                 num_channels: int = 3, fps: float = 30.0, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.path, self.width, self.height, self.num_channels, self.fps = path, width, height, num_channels, fps
        if not str(path).lower().endswith(".y4m") and (width is None or height is None):
            raise KernelInputError("width/height", "the frame size of a raw video file", f"{width}x{height}",
                                   node_id=self.name)

    def open(self) -> Union[Y4MVideo, RawVideo]:
        """The file's frame sequence."""
        if str(self.path).lower().endswith(".y4m"):
            return Y4MVideo(self.path)
        assert self.width is not None and self.height is not None
        return RawVideo(self.path, self.width, self.height, self.num_channels, self.fps)

    async def process(self) -> AsyncIterator[VideoFrame]:
        video = self.open()
        for k in range(len(video)):
            yield video[k]
            await asyncio.sleep(0)


@register_node
class FrameInspectNode(Node):
    """Looks at every frame and passes it on unchanged (the same object).

    Args:
        name: node id.

    Attributes:
        frames_seen: frames that went through.
        bytes_seen: their pixel bytes.
        frame_indices: the ``frame_index`` of each, in order.
    """

    input_types = {"video": "video"}
    output_types = {"video": "video"}

    def __init__(self, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.frames_seen = 0
        self.bytes_seen = 0
        self.frame_indices: List[int] = []

    def process(self, data: Any) -> Any:
        frame = coerce_frame(data, node_id=self.name)
        self.frames_seen += 1
        self.bytes_seen += frame.nbytes
        self.frame_indices.append(frame.frame_index)
        return data


@register_node
class NormalizeFrameNode(KernelNode):
    """Turns frames into a vision model's input: ``(pixel / 255 - mean) / std``, channels first.

    Args:
        mean: per-channel means in [0, 1] pixel units (one number for all
            channels, or one per channel); ImageNet's by default.
        std: per-channel standard deviations, same rules, > 0.
        runtime_hint: see :class:`~remotemedia.nodes.audio.KernelNode`.
        name: node id.

    ``process(frame)`` takes a :class:`~remotemedia.video.VideoFrame` (uint8
    (height, width, channels) or (height, width)) and returns a
    :class:`~remotemedia.video.FrameTensor` whose ``tensor`` is a new float32
    array (channels, height, width), with the frame's time and index; a bare
    uint8 array gives a bare float32 array. The frame is only read. See
    :mod:`remotemedia.kernels.normalize` for the exact arithmetic (the same
    bits in both implementations).
    """

    kernel_family = "normalize"
    input_types = {"video": "video"}
    output_types = {"tensor": "tensor"}

    def __init__(self, mean: Union[float, List[float]] = IMAGENET_MEAN,
                 std: Union[float, List[float]] = IMAGENET_STD, runtime_hint: str = "auto",
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        count = int(np.size(mean)) if np.ndim(mean) == 1 else int(np.size(std)) if np.ndim(std) == 1 else 1
        normalize.coefficients(mean, std, count, node_id=self.name)  # reject bad values now
        self.mean = mean
        self.std = std

    def process(self, data: Any) -> Any:
        frame = coerce_frame(data, node_id=self.name)
        try:
            tensor = normalize.normalize_frame(frame.pixels, self.mean, self.std, impl=self.impl)
        except KernelInputError as exc:
            raise KernelInputError(exc.parameter or "input", exc.expected or "", exc.given,
                                   node_id=self.name) from exc
        if isinstance(data, np.ndarray):
            return tensor
        return FrameTensor(tensor, frame.timestamp_s, frame.frame_index)


from remotemedia.nodes._video_1x import *  # noqa: E402,F401,F403  1.x: VideoTransform, VideoBuffer, VideoResizer
