"""Media files through the block readers: PyAV-encoded at test time, decoded by open_audio.

Decoded samples equal the source within the codec's error (lossless formats exactly), at zero
offset; any block size gives the same samples as one whole read; the soundfile and PyAV paths
agree where both decode a format; every count is the decoded one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

av = pytest.importorskip("av")

from mediagen import FORMATS, aligned_snr_db, make_media, speech_like  # noqa: E402

from remotemedia.io import SoundFileReader, WavReader, open_audio, read_audio  # noqa: E402
from remotemedia.io.media import MediaFileReader, frame_to_array  # noqa: E402

#: Lowest SNR accepted for the lossy codecs at their default bit rates on the test signal (measured
#: 24-26 dB for mp3, opus and aac at zero offset; a one-sample offset gives about 0 dB).
LOSSY_SNR_DB = 15.0


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("media"))
    return {ext: make_media(folder, ext) for ext in FORMATS}


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_decode_equals_the_source_within_the_codec_error(media, ext):
    path, source = media[ext]
    decoded, rate = read_audio(path)
    assert rate == FORMATS[ext][1] and decoded.shape[0] == source.shape[0]
    n = source.shape[1]
    if FORMATS[ext][3]:  # lossless: bit for bit
        assert decoded.dtype == np.int16
        np.testing.assert_array_equal(decoded, source)
        return
    assert decoded.dtype == np.float32
    if ext in ("mp3", "opus", "mkv", "webm"):  # gapless: the encoder delay is removed exactly
        assert decoded.shape[1] == n
    elif ext == "ogg":  # FFmpeg's (experimental) Vorbis encoder ends on a block boundary
        assert n - 2048 <= decoded.shape[1] <= n + 2048
    else:  # AAC in MP4: priming removed, the last frame's padding kept (at most one 1024-sample frame)
        assert n <= decoded.shape[1] < n + 1024
    assert aligned_snr_db(decoded, source) > LOSSY_SNR_DB


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_any_block_size_gives_the_whole_file(media, ext):
    path, _ = media[ext]
    whole, _ = read_audio(path)
    for sizes in ([1, 7, 1000], [4096], [333, 100_000], [1152]):
        parts = []
        with open_audio(path) as reader:
            k = 0
            while True:
                block = reader.read(sizes[k % len(sizes)])
                k += 1
                if block.shape[1] == 0:
                    break
                assert block.shape[1] == sizes[(k - 1) % len(sizes)] or reader.num_frames_exact
                parts.append(block)
            assert reader.num_frames == reader.frames_read == whole.shape[1] and reader.num_frames_exact
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("ext", ["mp3", "opus", "flac", "wav"])
def test_pyav_and_libsndfile_agree(media, ext):
    pytest.importorskip("soundfile")
    path, _ = media[ext]
    with open_audio(path) as reader:  # probed first, except Ogg Opus (FFmpeg decodes it faster)
        assert type(reader).__name__ == ("MediaFileReader" if ext == "opus" else "SoundFileReader"
                                         if ext != "wav" else "WavReader")
    with (WavReader(path) if ext == "wav" else SoundFileReader(path)) as reader:
        ref, rate = np.concatenate(list(reader.blocks(1 << 20)), axis=1), reader.sample_rate
    with MediaFileReader(path) as reader:
        assert reader.sample_rate == rate and reader.dtype == ref.dtype
        got = np.concatenate(list(reader.blocks(5000)), axis=1)
    assert got.shape == ref.shape
    if ref.dtype == np.int16:
        np.testing.assert_array_equal(got, ref)
    else:  # the same decoder algorithm in two libraries: float rounding apart
        np.testing.assert_allclose(got, ref, atol=2e-6)


@pytest.mark.parametrize("ext", ["m4a", "mkv", "webm", "mp4"])
def test_formats_libsndfile_cannot_read_go_through_pyav(media, ext):
    path, _ = media[ext]
    with open_audio(path) as reader:
        assert isinstance(reader, MediaFileReader)
        assert not reader.num_frames_exact and reader.claimed_frames is not None
        claimed = reader.claimed_frames
        total = sum(b.shape[1] for b in reader.blocks(4096))
        assert reader.num_frames_exact and reader.num_frames == total  # the decoded count, not the claim
        assert reader.duration_s == total / reader.sample_rate
    if ext in ("m4a", "mp4"):  # AAC: the container claims the source length, decoding keeps padding
        assert total != claimed


def test_video_file_gives_its_audio_track(media):
    path, source = media["mp4"]
    with av.open(path) as c:
        assert {s.type for s in c.streams} == {"audio", "video"}
    decoded, rate = read_audio(path)
    assert rate == 44100 and decoded.shape[0] == 2
    assert aligned_snr_db(decoded, source) > LOSSY_SNR_DB


# ---------------------------------------------------------------- sample formats and layouts
@pytest.mark.parametrize("fmt,dtype", [("s16", np.int16), ("s32", np.int32), ("flt", np.float32),
                                       ("dbl", np.float64)])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_frame_to_array_maps_packed_and_planar_layouts(fmt, dtype, channels):
    rng = np.random.default_rng(channels)
    n = 37
    if np.dtype(dtype).kind == "i":
        x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, size=(channels, n), dtype=dtype)
    else:
        x = rng.uniform(-1, 1, size=(channels, n)).astype(dtype)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    packed = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T).reshape(1, -1), format=fmt, layout=layout)
    planar = av.AudioFrame.from_ndarray(np.ascontiguousarray(x), format=fmt + "p", layout=layout)
    for frame in (packed, planar):
        got = frame_to_array(frame)
        assert got.shape == (channels, n) and got.dtype == dtype
        np.testing.assert_array_equal(got, x)
    # No copy where the layout allows: packed data is a transposed view of the frame's buffer,
    # planar mono is the plane itself; planar multi-channel data is one buffer per channel.
    for frame, is_view in ((packed, True), (planar, channels == 1)):
        got = frame_to_array(frame)
        assert (got.base is not None and not got.flags.owndata) == is_view or not is_view
        if is_view:
            plane = np.frombuffer(frame.planes[0], dtype=dtype)
            assert np.shares_memory(got, plane)


def test_u8_is_widened_like_8_bit_wav():
    x = np.array([[0, 128, 255, 1]], dtype=np.uint8)
    frame = av.AudioFrame.from_ndarray(x, format="u8", layout="mono")
    np.testing.assert_array_equal(frame_to_array(frame), [[-32768, 0, 32512, -32512]])


def test_a_format_change_midway_is_converted_to_the_first_format(media):
    # FFmpeg decoders may change rate or layout mid-stream (a radio capture, a spliced file). The
    # reader converts such frames to the first frame's format with av.AudioResampler, so blocks never
    # change shape: here the decoder's frames after the first are replaced by 22.05 kHz mono s16 ones.
    path, _ = media["mp3"]
    with MediaFileReader(path) as reader:
        first = reader.read(100)
        assert (reader.sample_rate, reader.num_channels, reader.dtype) == (44100, 2, np.float32)
        mono = (speech_like(22050, 22050, 1) * 32767).astype(np.int16)

        def other_format():
            for pos in range(0, 22050, 1000):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono[:, pos:pos + 1000]), format="s16",
                                                   layout="mono")
                frame.sample_rate = 22050
                yield frame

        reader._frames = other_format()
        reader.claimed_frames = None  # the spliced stream claims nothing (the file's claim would flag it as cut)
        blocks = [first] + list(reader.blocks(4096))
    assert all(x.shape[0] == 2 and x.dtype == np.float32 for x in blocks)
    total = sum(x.shape[1] for x in blocks)
    pending = reader.frames_read - total  # (none: every frame was returned)
    assert pending == 0
    # the first frame's rest (mp3 frames of the real file before the switch) plus 1 s at 44.1 kHz
    assert 44100 <= total <= 44100 + 3 * 1152 + 100
    np.testing.assert_allclose(blocks[-1][0], blocks[-1][1])  # mono upmixed: both channels equal


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=6), ext=st.sampled_from(["m4a", "opus", "mp4"]))
def test_chunk_invariance_for_any_block_sizes(media, sizes, ext):
    path, _ = media[ext]
    whole, _ = read_audio(path)
    parts, k = [], 0
    with MediaFileReader(path) as reader:
        while True:
            block = reader.read(sizes[k % len(sizes)])
            k += 1
            if block.shape[1] == 0:
                break
            parts.append(block)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
