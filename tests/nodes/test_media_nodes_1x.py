"""The 1.x media nodes: MediaReaderNode, the track sources, MediaWriterNode, the video nodes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

av = pytest.importorskip("av")

from mediagen import FORMATS, make_media  # noqa: E402

from remotemedia.core.pipeline import Pipeline  # noqa: E402
from remotemedia.errors import AudioFileError, ConfigurationError, KernelInputError, NodeError  # noqa: E402
from remotemedia.io import read_audio  # noqa: E402
from remotemedia.io.media import MediaFileReader  # noqa: E402
from remotemedia.nodes.audio import AudioTransform  # noqa: E402
from remotemedia.nodes.sink import MediaWriterNode  # noqa: E402
from remotemedia.nodes.source import (  # noqa: E402
    AudioTrackSource,
    LocalMediaReaderNode,
    MediaNotFoundError,
    MediaReaderNode,
    TrackSource,
    VideoTrackSource,
)
from remotemedia.nodes.video import VideoBuffer, VideoResizer, VideoTransform  # noqa: E402
from remotemedia.video import VideoFrame  # noqa: E402


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("nodes"))
    return {ext: make_media(folder, ext, seconds=1.5) for ext in ("mp4", "mp3", "flac", "opus")}


def run(coro):
    return asyncio.run(coro)


async def collect_process(pipeline, stream=None):
    async with pipeline.managed_execution():
        return [x async for x in pipeline.process(stream)]


def test_media_reader_yields_audio_and_video_frame_items(media):
    path, _ = media["mp4"]
    items = list(MediaReaderNode(path).frames())
    kinds = {next(iter(i)) for i in items}
    assert kinds == {"audio", "video"} and all(len(i) == 1 for i in items)
    assert all(isinstance(i["audio"], av.AudioFrame) for i in items if "audio" in i)
    assert sum(isinstance(i.get("video"), av.VideoFrame) for i in items) == 37  # 1.5 s at 25 fps
    audio_only = list(MediaReaderNode(path, tracks=("audio",)).frames())
    assert audio_only and all("audio" in i for i in audio_only)

    async def one_x():  # 1.x: the reader's process() is an async generator
        return [i async for i in MediaReaderNode(path, chunk_size=4096).process()]
    assert len(run(one_x())) == len(items)
    assert MediaReaderNode(path, chunk_size=4096).config == {"chunk_size": 4096}


def test_audio_track_source_conversions_like_1x():
    src = AudioTrackSource()
    x = np.array([[1000, -32768, 32767], [5, 6, 7]], dtype=np.int16)
    packed = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T).reshape(1, -1), format="s16", layout="stereo")
    packed.sample_rate = 8000
    out, rate = src.process({"audio": packed})
    assert rate == 8000 and out.dtype == np.float32 and out.shape == (2, 3)  # de-interleaved
    np.testing.assert_array_equal(out, x.astype(np.float32) / 32768)
    big = np.array([[2 ** 30, -2 ** 31]], dtype=np.int32)
    f32 = av.AudioFrame.from_ndarray(big, format="s32p", layout="mono")
    f32.sample_rate = 16000
    np.testing.assert_array_equal(src.process({"audio": f32})[0], [[0.5, -1.0]])
    flt = np.array([[0.25, -0.5]], dtype=np.float32)
    fr = av.AudioFrame.from_ndarray(flt, format="fltp", layout="mono")
    fr.sample_rate = 16000
    got = src.process({"audio": fr})[0]
    assert np.shares_memory(got, np.frombuffer(fr.planes[0], np.float32))  # float32 planar mono: no copy
    # 1.x: no track, another track, or another frame type -> None
    assert src.process({"video": fr}) is None and src.process("text") is None
    assert src.process({"audio": "not a frame"}) is None


def test_video_track_source_gives_array_and_pts(media):
    path, _ = media["mp4"]
    frames = [i for i in MediaReaderNode(path).frames() if "video" in i]
    arr, pts = VideoTrackSource().process(frames[3])
    assert arr.shape == (48, 64, 3) and arr.dtype == np.uint8 and pts == frames[3]["video"].pts
    assert VideoTrackSource(output_format="gray").process(frames[0])[0].shape == (48, 64)
    assert VideoTrackSource().process({"audio": 1}) is None
    assert isinstance(VideoTrackSource(), TrackSource)


@pytest.mark.parametrize("ext", ["mp4", "mp3", "opus"])
def test_a_1x_media_pipeline_streams_the_whole_signal(media, ext, impl):
    """MediaReaderNode -> AudioTrackSource -> AudioTransform via process(): chunked == whole, lengths exact."""
    path, _ = media[ext]
    p = Pipeline()
    p.add_node(MediaReaderNode(path=path))
    p.add_node(AudioTrackSource())
    p.add_node(AudioTransform(output_sample_rate=16000, output_channels=1, runtime_hint=impl))
    outs = run(collect_process(p))
    got = np.concatenate([o[0] for o in outs], axis=1)
    with MediaFileReader(path) as reader:  # the same decoder (FFmpeg's; read_audio may pick libsndfile's)
        decoded, rate = np.concatenate(list(reader.blocks(1 << 20)), axis=1), reader.sample_rate
    whole, _ = AudioTransform(16000, 1, runtime_hint=impl).process((decoded, rate))
    assert got.shape == whole.shape == (1, round(decoded.shape[1] * 16000 / rate))
    np.testing.assert_array_equal(got, whole)


def test_run_uses_the_reader_as_an_item_source(media):
    path, _ = media["flac"]
    p = Pipeline()
    p.add_node(MediaReaderNode(path))
    p.add_node(AudioTrackSource())
    out = p.run_sync()
    assert isinstance(out, list) and sum(o[0].shape[1] for o in out) == read_audio(path)[0].shape[1]


def test_reader_errors_are_clear(media, tmp_path):
    with pytest.raises(MediaNotFoundError) as info:
        LocalMediaReaderNode(str(tmp_path / "nope.mp4"))
    assert isinstance(info.value, FileNotFoundError) and "media file not found" in str(info.value)
    with pytest.raises(ConfigurationError, match="tracks"):
        MediaReaderNode("x.mp4", tracks=("subtitles",))
    bad = tmp_path / "cut.mp3"
    data = open(media["mp3"][0], "rb").read()
    bad.write_bytes(data[:len(data) // 2])
    with pytest.raises(AudioFileError, match="truncated"):
        list(MediaReaderNode(str(bad)).frames())
    p = Pipeline()
    p.add_node(MediaReaderNode(str(bad), name="reader"))
    p.add_node(AudioTrackSource())
    with pytest.raises(NodeError) as err:
        run(collect_process(p))
    assert err.value.node_id == "reader" and isinstance(err.value.__cause__, AudioFileError)
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00" * 500)
    with pytest.raises(AudioFileError, match="not a media file"):
        list(MediaReaderNode(str(junk)).frames())


def test_media_writer_round_trip_and_atomicity(media, tmp_path):
    path, _ = media["mp4"]
    target = tmp_path / "copy.mp4"
    p = Pipeline()
    p.add_node(MediaReaderNode(path))
    p.add_node(MediaWriterNode(output_path=str(target)))
    run(collect_process(p))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["copy.mp4"]  # no temporary file left
    with av.open(str(target)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        assert sum(1 for _ in c.decode(video=0)) == 37
    copy, rate = read_audio(target)
    orig, _ = read_audio(path)
    assert rate == 44100 and abs(copy.shape[1] - orig.shape[1]) <= 2048
    # A failed run leaves nothing under the final name.
    w = MediaWriterNode(str(tmp_path / "failed.mp4"))
    for item in MediaReaderNode(path).frames():
        w.process(item)
        break
    w.abort_stream()
    w.cleanup()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["copy.mp4"]
    with pytest.raises(ConfigurationError, match="does not exist"):
        MediaWriterNode(str(tmp_path / "no" / "x.mp4"))


def test_video_nodes_resize_for_real(media):
    frames = [i["video"] for i in MediaReaderNode(media["mp4"][0]).frames() if "video" in i]
    resized = VideoResizer(target_resolution=(32, 24)).process(frames[0])
    assert isinstance(resized, av.VideoFrame) and (resized.width, resized.height) == (32, 24)
    arr = np.zeros((48, 64, 3), np.uint8)
    arr[:, 32:] = 200
    small, pts = VideoTransform(resolution=(16, 12)).process((arr, 7))
    assert small.shape == (12, 16, 3) and pts == 7 and small[:, :7].max() == 0 and small[:, 9:].min() == 200
    vf = VideoFrame(arr, timestamp_s=1.5, frame_index=3)
    out = VideoResizer((32, 24)).process(vf)
    assert out.pixels.shape == (24, 32, 3) and (out.timestamp_s, out.frame_index) == (1.5, 3)
    assert VideoResizer((64, 48)).process(arr) is arr  # already that size
    assert VideoBuffer().process(vf) is vf
    with pytest.raises(ConfigurationError, match="target_resolution"):
        VideoResizer((0, 10))
    with pytest.raises(KernelInputError, match="uint8"):
        VideoResizer((8, 8)).process(arr.astype(np.float32))


def test_media_formats_available_to_the_nodes():
    assert {"mp3", "opus", "m4a", "flac", "mp4"} <= set(FORMATS)
