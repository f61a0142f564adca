"""Hostile media: truncated, corrupt, empty, audio-less and absurd files are one clear AudioFileError each.

Never a crash, a hang, another exception type or an empty success; and a batch over them goes on
(tests/media/test_media_batch.py).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("av")

from mediagen import FORMATS, make_media, make_video_only  # noqa: E402

from remotemedia.errors import AudioFileError  # noqa: E402
from remotemedia.io import open_audio, read_audio  # noqa: E402
from remotemedia.io.media import MediaFileReader, ogg_missing_eos  # noqa: E402

LOSSY_OR_CONTAINER = sorted(ext for ext in FORMATS if ext != "wav")  # PCM WAV has its own tests (tests/io)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("hostile"))
    return {ext: make_media(folder, ext, seconds=3.0)[0] for ext in FORMATS}


def _refused(path) -> AudioFileError:
    with pytest.raises(AudioFileError) as info:
        read_audio(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("ext", LOSSY_OR_CONTAINER)
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_files_are_refused(media, ext, keep, tmp_path):
    data = open(media[ext], "rb").read()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[:int(len(data) * keep)])
    err = _refused(cut)
    assert any(word in str(err) for word in ("truncated", "corrupt", "cannot", "not a media file")), err


@pytest.mark.parametrize("ext", LOSSY_OR_CONTAINER)
def test_corrupt_files_are_refused(media, ext, tmp_path):
    data = bytearray(open(media[ext], "rb").read())
    rng = np.random.default_rng(7)
    third = len(data) // 3
    data[third:2 * third] = rng.integers(0, 256, third, dtype=np.uint8).tobytes()
    bad = tmp_path / f"bad.{ext}"
    bad.write_bytes(bytes(data))
    _refused(bad)


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_zero_length_and_garbage_files_are_refused(ext, tmp_path):
    empty = tmp_path / f"empty.{ext}"
    empty.write_bytes(b"")
    _refused(empty)
    junk = tmp_path / f"junk.{ext}"
    junk.write_bytes(os.urandom(3000))
    _refused(junk)


def test_a_video_without_audio_is_refused(tmp_path):
    path = tmp_path / "silent_film.mp4"
    make_video_only(str(path))
    err = _refused(path)
    assert "no audio track (the file has: video)" in str(err)


def _au(channels: int, rate: int, frames: int = 100) -> bytes:
    """A Sun .au file (big-endian header: offset, size, encoding 3 = 16-bit PCM, rate, channels)."""
    data = (np.arange(frames * max(channels, 1)) % 200).astype(">i2").tobytes()
    return struct.pack(">4sIIIII", b".snd", 24, len(data), 3, rate, channels) + data


@pytest.mark.parametrize("channels,rate", [(5000, 16000), (0, 16000), (2, 0), (1, 2_000_000_000)])
def test_absurd_header_values_are_refused_by_both_decoders(channels, rate, tmp_path):
    path = tmp_path / "absurd.au"
    path.write_bytes(_au(channels, rate))
    err = _refused(path)  # libsndfile's reader (probed first) or FFmpeg's
    assert any(w in str(err) for w in ("channels", "sample rate", "Hz", "cannot", "decode")), err
    with pytest.raises(AudioFileError) as info:  # FFmpeg alone
        MediaFileReader(path)
    assert str(path) in str(info.value)


def test_ogg_end_of_stream_flag_is_what_tells_a_cut_ogg(media, tmp_path):
    for ext in ("opus", "ogg"):
        assert not ogg_missing_eos(media[ext])
        data = open(media[ext], "rb").read()
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(data[:data.rfind(b"OggS")])  # exactly the complete pages before the last one
        assert ogg_missing_eos(str(cut))
        err = _refused(cut)
        assert "no end-of-stream flag" in str(err) or "incomplete" in str(err)
    assert not ogg_missing_eos(media["mp3"])  # not an Ogg file


def test_without_the_media_extra_libsndfile_formats_still_read_and_others_name_the_extra(media):
    pytest.importorskip("soundfile")
    child = textwrap.dedent("""
        import sys
        sys.modules["av"] = None  # as if PyAV were not installed
        from remotemedia.errors import AudioFileError
        from remotemedia.io import read_audio
        for path in sys.argv[1:]:
            try:
                x, sr = read_audio(path)
                print("ok", x.shape[1], sr)
            except AudioFileError as exc:
                print("error", exc)
        import remotemedia.nodes.source  # the 1.x media nodes import without PyAV (they need it to run)
        print("av" in sys.modules and sys.modules["av"] is None)
    """)
    paths = [media[e] for e in ("mp3", "opus", "flac", "m4a", "mp4", "webm")]
    out = subprocess.run([sys.executable, "-c", child, *paths], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:6]] == ["ok", "ok", "ok", "error", "error", "error"], lines
    for line, path in zip(lines[3:6], paths[3:]):
        assert path in line and "remotemedia[media]" in line and "libsndfile cannot read it" in line
    assert lines[6] == "True"


def test_open_audio_names_the_reader_it_chose(media):
    with open_audio(media["m4a"]) as reader:
        assert isinstance(reader, MediaFileReader) and reader.codec == "aac"
        assert "mp4" in reader.container_format
