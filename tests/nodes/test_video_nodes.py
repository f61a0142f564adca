"""Video nodes: frames through a pipeline without copies; NormalizeFrameNode; file sources."""

from __future__ import annotations

import asyncio
import mmap
import tracemalloc
import weakref

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.errors import KernelInputError, NativeUnavailableError, NodeError
from remotemedia.kernels import normalize as norm_kernels
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import get_node_class
from remotemedia.nodes.video import FrameInspectNode, GeneratedFrameSource, NormalizeFrameNode, VideoFileSource
from remotemedia.pipeline import Pipeline
from remotemedia.video import FrameTensor, VideoFrame

W4K, H4K = 3840, 2160
FRAME_4K = W4K * H4K  # bytes of one 8-bit plane


class RecordingSource(GeneratedFrameSource):
    """The generated source with frames in anonymous memory maps (as a capture
    device's buffers would be): outside the allocators tracemalloc watches, so
    any traced block of frame size in a run can only be a copy. It remembers
    (weakly) every pixel array it made."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.made: dict = {}

    def make_frame(self, frame_index):
        buf = mmap.mmap(-1, int(np.prod(self.frame_shape)))
        frame = super().make_frame(frame_index, out=np.frombuffer(buf, dtype=np.uint8).reshape(self.frame_shape))
        self.made[frame_index] = (weakref.ref(frame.pixels), frame.pixels.ctypes.data)
        return frame


class CheckingSink(FrameInspectNode):
    """Checks at the end of the pipeline that each frame is the source's own buffer."""

    def __init__(self, source: RecordingSource, frame_bytes: int, name=None):
        super().__init__(name=name)
        self.source = source
        self.frame_bytes = frame_bytes
        self.same_object = 0
        self.same_memory = 0
        self.max_live_frame_blocks = 0

    def process(self, data):
        ref, address = self.source.made[data.frame_index]
        if ref() is data.pixels:
            self.same_object += 1
        if data.pixels.ctypes.data == address and np.shares_memory(ref(), data.pixels):
            self.same_memory += 1
        # Traced blocks of frame size alive now (numpy's arrays, bytes, anything): copies.
        live = sum(1 for t in tracemalloc.take_snapshot().traces if t.size >= self.frame_bytes)
        self.max_live_frame_blocks = max(self.max_live_frame_blocks, live)
        return super().process(data)


class CopyingNode(Node):
    """A node that copies frames (the negative control)."""

    def process(self, data):
        return VideoFrame(data.pixels.copy(), data.timestamp_s, data.frame_index)


async def _stream_through(pipeline, n_expected):
    """Consumes the stream, dropping each frame before the next (so at most one is alive)."""
    count = 0
    async for frame in pipeline.astream():
        assert isinstance(frame, VideoFrame) and frame.frame_index == count
        count += 1
        del frame
    assert count == n_expected


def _run_traced(num_frames, width, height, middle):
    """Runs source -> middle nodes -> checking sink under tracemalloc; returns (sink, peak bytes over baseline)."""
    source = RecordingSource(num_frames=num_frames, width=width, height=height, num_channels=1,
                             max_live_frames=1, name="source")
    sink = CheckingSink(source, width * height, name="sink")
    pipeline = Pipeline([source, *middle, sink], name="frames", keep_results=False)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        asyncio.run(_stream_through(pipeline, num_frames))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
        pipeline.close()
    return sink, peak


def test_300_4k_frames_cross_a_4_node_pipeline_without_a_copy():
    """300 distinct 3840x2160 planes (8.3 MB each): source -> inspect -> inspect -> sink.

    The frames live outside the traced allocators, so the traced peak of the
    whole run stays below one frame only if no block of frame size was
    allocated anywhere: no copy of any frame, by any node or by the executor.
    The sink checks that it holds the source's own array object and memory,
    and counts the traced frame-size blocks alive at that moment (none). The
    source makes a frame only once the previous one was freed
    (``max_live_frames=1``): 300 frames, never more than one alive.
    """
    a, b = FrameInspectNode(name="inspect_a"), FrameInspectNode(name="inspect_b")
    sink, peak = _run_traced(300, W4K, H4K, [a, b])
    assert a.frames_seen == b.frames_seen == sink.frames_seen == 300
    assert sink.frame_indices == list(range(300))
    assert sink.same_object == sink.same_memory == 300
    assert sink.max_live_frame_blocks == 0
    assert peak < FRAME_4K / 2, peak


def test_the_copy_detector_sees_a_copy():
    """The same harness with one copying node in the middle: the proof above can fail."""
    w, h = 640, 480
    sink, peak = _run_traced(4, w, h, [FrameInspectNode(name="a"), CopyingNode(name="copy")])
    assert sink.same_object == sink.same_memory == 0
    assert sink.max_live_frame_blocks >= 1
    assert peak >= w * h


def test_frames_are_freed_after_the_sink_while_streaming():
    """Streaming keeps no frame after the consumer drops it: a plain ``for`` loop holds
    the previous frame while it asks for the next, and two live frames are enough."""
    source = GeneratedFrameSource(num_frames=20, width=64, height=48, max_live_frames=2, wait_timeout_s=5.0)
    p = Pipeline([source, FrameInspectNode(), FrameInspectNode()], keep_results=False)
    indices = [f.frame_index for f in p.stream()]
    assert indices == list(range(20))
    one = GeneratedFrameSource(num_frames=20, width=64, height=48, max_live_frames=1, wait_timeout_s=5.0)
    indices = []
    for frame in Pipeline([one, FrameInspectNode()], keep_results=False).stream():
        indices.append(frame.frame_index)
        del frame  # with one live frame, the consumer drops each before asking for the next
    assert indices == list(range(20))


def test_max_live_frames_refuses_to_wait_forever_when_run_keeps_everything():
    source = GeneratedFrameSource(num_frames=5, width=8, height=8, max_live_frames=2, wait_timeout_s=0.2,
                                  name="src")
    with pytest.raises(NodeError, match="frames still referenced") as info:
        Pipeline([source, FrameInspectNode()]).run_sync()
    assert info.value.node_id == "src"


def test_generated_frames_follow_the_pattern():
    src = GeneratedFrameSource(num_frames=3, width=5, height=4, num_channels=3, fps=25.0)
    f = src.make_frame(2)
    y, x, c = np.meshgrid(np.arange(4), np.arange(5), np.arange(3), indexing="ij")
    np.testing.assert_array_equal(f.pixels, (y + x + 85 * c + 2) % 256)
    assert f.timestamp_s == 2 / 25.0 and f.frame_index == 2
    assert src.make_frame(0).pixels.shape == (4, 5, 3)
    assert GeneratedFrameSource(width=5, height=4, num_channels=1).make_frame(0).pixels.shape == (4, 5)
    frames = Pipeline([src]).run_sync()
    assert [fr.frame_index for fr in frames] == [0, 1, 2]


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 0}, "node 'g': width: expected an int >= 1, given 0"),
    ({"num_frames": -1}, "node 'g': num_frames: expected an int >= 0, given -1"),
    ({"max_live_frames": 0}, "node 'g': max_live_frames: expected None or an int >= 1, given 0"),
])
def test_generated_source_rejects_bad_parameters(kwargs, message):
    with pytest.raises(KernelInputError) as info:
        GeneratedFrameSource(name="g", **kwargs)
    assert str(info.value) == message


def test_nodes_are_registered():
    for name in ("NormalizeFrameNode", "FrameInspectNode", "GeneratedFrameSource", "VideoFileSource"):
        assert get_node_class(name).__name__ == name


# ---------------------------------------------------------------- normalise
def test_normalize_node_keeps_time_and_index(impl):
    node = NormalizeFrameNode(mean=[0.5, 0.5, 0.5], std=[0.25, 0.5, 1.0], runtime_hint=impl)
    assert node.impl == impl
    frame = GeneratedFrameSource(width=6, height=4).make_frame(7)
    out = node.process(frame)
    assert isinstance(out, FrameTensor)
    assert out.frame_index == 7 and out.timestamp_s == frame.timestamp_s
    assert out.tensor.shape == (3, 4, 6) and out.tensor.dtype == np.float32
    expected = norm_kernels.normalize_frame(frame.pixels, [0.5] * 3, [0.25, 0.5, 1.0], impl="python")
    np.testing.assert_array_equal(out.tensor, expected)
    bare = node.process(frame.pixels)
    assert isinstance(bare, np.ndarray)
    np.testing.assert_array_equal(bare, expected)


def test_normalize_node_in_a_streamed_pipeline(impl, tmp_path):
    """file -> inspect -> normalise -> sink, streamed: the kernel's exact output for every frame."""
    clip = np.random.default_rng(5).integers(0, 256, (6, 24, 32, 3), dtype=np.uint8)
    path = tmp_path / "clip.rgb"
    clip.tofile(path)
    p = Pipeline([VideoFileSource(str(path), width=32, height=24, fps=24.0), FrameInspectNode(),
                  NormalizeFrameNode(runtime_hint=impl), FrameTensorSink(name="sink")], keep_results=False)
    out = list(p.stream())
    assert [t.frame_index for t in out] == list(range(6))
    for k, t in enumerate(out):
        assert t.timestamp_s == k / 24.0
        expected = norm_kernels.normalize_frame(clip[k], (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                                                impl="python")
        np.testing.assert_array_equal(t.tensor.view(np.uint32), expected.view(np.uint32))


class FrameTensorSink(Node):
    input_types = {"tensor": "tensor"}

    def process(self, data):
        assert isinstance(data, FrameTensor)
        return data


def test_normalize_node_rejects_bad_statistics_at_construction():
    with pytest.raises(KernelInputError) as info:
        NormalizeFrameNode(mean=[0.5, 0.5], std=[0.0, 1.0], name="n")
    assert str(info.value) == "node 'n': std: expected values > 0, given (0.0, 1.0)"
    with pytest.raises(KernelInputError, match="node 'n': runtime_hint"):
        NormalizeFrameNode(runtime_hint="gpu", name="n")


def test_normalize_node_names_itself_in_frame_errors(impl):
    node = NormalizeFrameNode(runtime_hint=impl, name="n")
    with pytest.raises(KernelInputError) as info:
        node.process(np.zeros((4, 4, 2), dtype=np.uint8))  # ImageNet stats are for 3 channels
    assert str(info.value).startswith("node 'n': mean: expected one number or 2 (one per channel)")
    with pytest.raises(KernelInputError, match="node 'n': input: expected dtype uint8, given float32"):
        node.process(np.zeros((4, 4, 3), dtype=np.float32))


def test_normalize_node_native_hint():
    if _native.module() is None:
        with pytest.raises(NativeUnavailableError, match="native normalize is unavailable"):
            NormalizeFrameNode(runtime_hint="native")
    else:
        assert NormalizeFrameNode(runtime_hint="rust").impl == "native"


def test_normalize_node_round_trips_through_a_manifest():
    p = Pipeline([GeneratedFrameSource(num_frames=2, width=8, height=6, name="src"),
                  NormalizeFrameNode(mean=0.5, std=[0.1, 0.2, 0.3], name="norm")], name="vision")
    q = Pipeline.from_manifest(p.to_manifest())
    a, b = p.run_sync(), q.run_sync()
    assert len(a) == len(b) == 2
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.tensor, y.tensor)


# ------------------------------------------------------------- file source
def test_video_file_source_streams_views_of_a_raw_file(tmp_path):
    frames = np.arange(3 * 4 * 5 * 3, dtype=np.uint8).reshape(3, 4, 5, 3)
    path = tmp_path / "clip.rgb"
    frames.tofile(path)
    src = VideoFileSource(str(path), width=5, height=4, num_channels=3, fps=10.0, name="file")
    out = Pipeline([src, FrameInspectNode()]).run_sync()
    assert [f.frame_index for f in out] == [0, 1, 2]
    for k, f in enumerate(out):
        np.testing.assert_array_equal(f.pixels, frames[k])
        assert isinstance(f.pixels.base, np.memmap) or isinstance(f.pixels.base.base, np.memmap)
        assert not f.pixels.flags.writeable
        assert f.timestamp_s == k / 10.0


def test_video_file_source_needs_a_raw_frame_size():
    with pytest.raises(KernelInputError, match="node 'f': width/height: expected the frame size"):
        VideoFileSource("x.rgb", name="f")
