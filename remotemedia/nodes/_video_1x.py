"""The remotemedia 1.x video nodes (import them from :mod:`remotemedia.nodes.video`).

1.x's ``VideoTransform``, ``VideoBuffer`` and ``VideoResizer`` were placeholders that returned
their input. ``VideoResizer`` and ``VideoTransform`` now resize for real, with FFmpeg's scaler
through PyAV (the ``media`` extra; bilinear, as ``av.VideoFrame.reformat``); ``VideoBuffer``,
which had no parameters and no behaviour, still passes frames on unchanged.

Frames may come as ``av.VideoFrame``, as :class:`remotemedia.video.VideoFrame`, as the
``(ndarray, pts)`` tuples of :class:`~remotemedia.nodes.source.VideoTrackSource`, or as bare
uint8 arrays (height, width) or (height, width, 1/3/4); each comes out in the same form.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from remotemedia.errors import ConfigurationError, KernelInputError
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["VideoTransform", "VideoBuffer", "VideoResizer"]

_ARRAY_FORMATS = {2: "gray", 1: "gray", 3: "rgb24", 4: "rgba"}


def _check_size(node: Node, value: Any, parameter: str) -> Tuple[int, int]:
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= 16384 for v in value)
    if not ok:
        raise ConfigurationError(f"node {node.name!r}: {parameter}: expected (width, height), each 1 to 16384, "
                                 f"given {value!r}", node_id=node.name, parameter=parameter,
                                 expected="(width, height)", given=value)
    return int(value[0]), int(value[1])


def _resize_array(pixels: np.ndarray, width: int, height: int, node: Node) -> np.ndarray:
    import av

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise KernelInputError("frame", "uint8 pixels shaped (height, width) or (height, width, 1/3/4)",
                               f"{pixels.dtype} {pixels.shape}", node_id=node.name)
    if pixels.shape[0] == height and pixels.shape[1] == width:
        return pixels
    squeeze = pixels.ndim == 3 and pixels.shape[2] == 1
    arr = pixels[:, :, 0] if squeeze else pixels
    fmt = _ARRAY_FORMATS[1 if arr.ndim == 2 else arr.shape[2]]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt)
    out = frame.reformat(width=width, height=height, interpolation="BILINEAR").to_ndarray(format=fmt)
    return out[:, :, np.newaxis] if squeeze else out


def resize_frame(data: Any, width: int, height: int, node: Node) -> Any:
    """``data`` (any of the frame forms in the module docstring) resized to ``width`` x ``height``."""
    from remotemedia.video import VideoFrame

    try:
        import av
    except ImportError as exc:
        raise ConfigurationError(f"node {node.name!r}: resizing needs PyAV: install PyAV "
                                 "(pip install 'remotemedia[media]')", node_id=node.name) from exc
    if isinstance(data, av.VideoFrame):
        if data.width == width and data.height == height:
            return data
        return data.reformat(width=width, height=height, interpolation="BILINEAR")
    if isinstance(data, VideoFrame):
        return VideoFrame(_resize_array(data.pixels, width, height, node), data.timestamp_s, data.frame_index)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        return _resize_array(data[0], width, height, node), data[1]
    if isinstance(data, np.ndarray):
        return _resize_array(data, width, height, node)
    raise KernelInputError("frame", "an av.VideoFrame, a remotemedia VideoFrame, (ndarray, pts) or an ndarray",
                           type(data).__name__, node_id=node.name)


class _Resize(Node):
    input_types = {"video": "any"}
    output_types = {"video": "any"}
    size: Tuple[int, int]

    def process(self, data: Any) -> Any:
        return resize_frame(data, *self.size, node=self)


@register_node
class VideoResizer(_Resize):
    """Resizes every frame to ``target_resolution`` = (width, height) (1.x placeholder, now real).

    Args:
        target_resolution: (width, height) in pixels.
        name: node id.
    """

    def __init__(self, target_resolution: Sequence[int] = (1920, 1080), name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.target_resolution = self.size = _check_size(self, target_resolution, "target_resolution")


@register_node
class VideoTransform(_Resize):
    """Brings every frame to ``resolution`` = (width, height) (1.x placeholder, now a resize).

    Args:
        resolution: (width, height) in pixels.
        name: node id.
    """

    def __init__(self, resolution: Sequence[int] = (1920, 1080), name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.resolution = self.size = _check_size(self, resolution, "resolution")


@register_node
class VideoBuffer(Node):
    """Passes frames on unchanged (1.x's ``VideoBuffer`` had no parameters and did nothing else)."""

    input_types = {"video": "any"}
    output_types = {"video": "any"}

    def process(self, data: Any) -> Any:
        return data
