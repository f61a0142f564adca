"""VideoFrame and the raw file readers (.y4m, packed RGB): views, never copies."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia.errors import KernelInputError
from remotemedia.video import RawVideo, VideoFrame, Y4MVideo, coerce_frame


def test_frame_holds_the_array_it_was_given():
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    f = VideoFrame(pixels, timestamp_s=0.5, frame_index=3)
    assert f.pixels is pixels
    assert (f.height, f.width, f.num_channels, f.nbytes) == (4, 6, 3, 72)
    assert f.timestamp_s == 0.5 and f.frame_index == 3
    plane = VideoFrame(np.zeros((4, 6), dtype=np.uint8))
    assert plane.num_channels == 1 and plane.frame_index == 0
    assert f != VideoFrame(pixels, 0.5, 3)  # identity, not pixel equality
    assert coerce_frame(f) is f
    assert coerce_frame(pixels).pixels is pixels


@pytest.mark.parametrize("kwargs, message", [
    ({"pixels": np.zeros((2, 2), np.float32)}, "pixels: expected dtype uint8, given float32"),
    ({"pixels": np.zeros(4, np.uint8)}, "pixels: expected shape (height, width, channels) or (height, width), "
                                        "given (4,)"),
    ({"pixels": [[0]]}, "pixels: expected a numpy.ndarray, given list"),
    ({"pixels": np.zeros((2, 2), np.uint8), "frame_index": -1}, "frame_index: expected an int >= 0, given -1"),
    ({"pixels": np.zeros((2, 2), np.uint8), "timestamp_s": float("inf")},
     "timestamp_s: expected a finite number of seconds, given inf"),
])
def test_bad_frames_are_rejected(kwargs, message):
    with pytest.raises(KernelInputError) as info:
        VideoFrame(**kwargs)
    assert str(info.value) == message


def test_from_buffer_views_bytes_without_copying():
    data = bytearray(range(2 * 3 * 3)) + b"tail"
    f = VideoFrame.from_buffer(data, height=2, width=3, num_channels=3, frame_index=1)
    assert f.pixels.shape == (2, 3, 3) and f.pixels.flags.writeable
    data[0] = 99
    assert f.pixels[0, 0, 0] == 99  # a view: the buffer's change shows
    g = VideoFrame.from_buffer(bytes(data), 3, 3, 1, offset=9)
    assert g.pixels.shape == (3, 3) and not g.pixels.flags.writeable
    assert g.pixels[0, 0] == 9
    arr = np.arange(20, dtype=np.uint8)
    h = VideoFrame.from_buffer(arr, 2, 2, 4, offset=4)
    assert np.shares_memory(h.pixels, arr) and h.pixels[0, 0, 0] == 4
    with pytest.raises(KernelInputError, match="data: expected at least 19 bytes, given 18 bytes"):
        VideoFrame.from_buffer(bytes(18), 2, 3, 3, offset=1)


def test_raw_video_frames_are_memory_mapped_views(tmp_path):
    clip = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    path = tmp_path / "clip.rgb"
    clip.tofile(path)
    video = RawVideo(str(path), width=7, height=6, num_channels=3, fps=25.0)
    assert len(video) == 5
    frames = list(video)
    for k, f in enumerate(frames):
        np.testing.assert_array_equal(f.pixels, clip[k])
        assert f.frame_index == k and f.timestamp_s == k / 25.0
        assert not f.pixels.flags.writeable
        assert np.shares_memory(f.pixels, video._map)
    assert video[-1].frame_index == 4
    with pytest.raises(IndexError):
        video[5]
    gray = RawVideo(str(path), width=7, height=6, num_channels=1)
    assert len(gray) == 15 and gray[0].pixels.shape == (6, 7)
    with pytest.raises(KernelInputError, match=r"path: expected a whole number of 100-byte frames, given 630 bytes"):
        RawVideo(str(path), width=10, height=10, num_channels=1)


def write_y4m(path, planes, width, height, colorspace="420jpeg", fps="30000:1001", frame_params=("",)):
    header = f"YUV4MPEG2 W{width} H{height} F{fps} Ip A1:1" + (f" C{colorspace}" if colorspace else "") + "\n"
    with open(path, "wb") as fh:
        fh.write(header.encode())
        for k, frame in enumerate(planes):
            fh.write(b"FRAME" + frame_params[k % len(frame_params)].encode() + b"\n")
            for p in frame:
                fh.write(np.ascontiguousarray(p, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("colorspace, chroma", [
    ("420jpeg", (3, 4)), ("", (3, 4)), ("420mpeg2", (3, 4)), ("422", (5, 4)), ("444", (5, 7)), ("mono", None),
])
def test_y4m_frames_are_views_of_the_luma_plane(tmp_path, colorspace, chroma):
    rng = np.random.default_rng(1)
    h, w = 5, 7  # odd sizes: chroma rounds up
    frames = []
    for _ in range(3):
        y = rng.integers(0, 256, (h, w), dtype=np.uint8)
        frames.append((y,) if chroma is None else (y, rng.integers(0, 256, chroma, np.uint8),
                                                    rng.integers(0, 256, chroma, np.uint8)))
    path = tmp_path / "clip.y4m"
    write_y4m(path, frames, w, h, colorspace, frame_params=("", " Ixyz"))
    video = Y4MVideo(str(path))
    assert (video.width, video.height, len(video)) == (w, h, 3)
    assert video.fps == pytest.approx(30000 / 1001)
    for k, f in enumerate(video):
        np.testing.assert_array_equal(f.pixels, frames[k][0])
        assert f.pixels.shape == (h, w) and not f.pixels.flags.writeable
        assert f.timestamp_s == pytest.approx(k * 1001 / 30000)
        y, u, v = video.planes(k)
        assert np.shares_memory(y, video._map)
        if chroma is None:
            assert u is None and v is None
        else:
            np.testing.assert_array_equal(u, frames[k][1])
            np.testing.assert_array_equal(v, frames[k][2])


def test_y4m_errors(tmp_path):
    empty = tmp_path / "empty.y4m"
    empty.write_bytes(b"")
    with pytest.raises(KernelInputError, match="path: expected a YUV4MPEG2 file, given an empty file"):
        Y4MVideo(str(empty))
    bad = tmp_path / "bad.y4m"
    bad.write_bytes(b"RIFF nonsense\n")
    with pytest.raises(KernelInputError, match="path: expected a YUV4MPEG2 file"):
        Y4MVideo(str(bad))
    deep = tmp_path / "deep.y4m"
    deep.write_bytes(b"YUV4MPEG2 W2 H2 F25:1 C420p10\n")
    with pytest.raises(KernelInputError, match="colorspace: expected one of 420jpeg, .* given 420p10"):
        Y4MVideo(str(deep))
    short = tmp_path / "short.y4m"
    write_y4m(short, [(np.zeros((2, 2)), np.zeros((1, 1)), np.zeros((1, 1)))], 2, 2)
    with open(short, "ab") as fh:
        fh.write(b"FRAME\n\x00\x00")
    with pytest.raises(KernelInputError, match=r"6 bytes in frame 1, given 2 bytes \(truncated file\)"):
        Y4MVideo(str(short))
