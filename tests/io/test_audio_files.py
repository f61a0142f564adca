"""Block readers and atomic writers (remotemedia.io), checked against libsndfile through soundfile."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import wave

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from remotemedia.errors import AudioFileError
from remotemedia.io import AtomicFile, AudioWriter, open_audio, read_audio, write_audio
from remotemedia.io.readers import SoundFileReader, WavReader


def signal(channels=2, frames=9001, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-32768, 32768, size=(channels, frames)).astype(np.int16)


@pytest.mark.parametrize("subtype,dtype", [("PCM_U8", np.int16), ("PCM_16", np.int16), ("PCM_24", np.int32),
                                           ("PCM_32", np.int32)])
def test_stdlib_wav_reader_equals_libsndfile(tmp_path, subtype, dtype):
    x = signal()
    path = tmp_path / "a.wav"
    sf.write(path, x.T, 44100, subtype=subtype)  # plain PCM WAV for 1-2 channels
    reader = open_audio(path)
    assert isinstance(reader, WavReader) and reader.dtype == dtype and reader.sample_rate == 44100
    with reader:
        got = np.concatenate(list(reader.blocks(1000)), axis=1)
    want = sf.read(path, dtype=np.dtype(dtype).name, always_2d=True)[0].T
    np.testing.assert_array_equal(got, want)
    assert got.shape == (2, 9001)


def test_wav_blocks_are_views_of_the_read_buffer(tmp_path):
    write_audio(tmp_path / "a.wav", signal(), 16000)
    with open_audio(tmp_path / "a.wav") as r:
        block = r.read(500)
    assert block.shape == (2, 500) and block.base is not None and not block.flags.owndata


@pytest.mark.parametrize("fmt,subtype,dtype", [("FLAC", "PCM_16", np.int16), ("FLAC", "PCM_24", np.int32),
                                               ("WAV", "FLOAT", np.float32), ("OGG", "VORBIS", np.float32)])
def test_soundfile_formats_keep_integer_pcm_integer(tmp_path, fmt, subtype, dtype):
    x = signal(frames=20000)
    path = tmp_path / f"a.{fmt.lower()}"
    data = x.T if subtype.startswith("PCM") else x.T.astype(np.float32) / 32768
    sf.write(path, data, 48000, format=fmt, subtype=subtype)
    with open_audio(path) as reader:
        assert isinstance(reader, SoundFileReader) and reader.dtype == dtype
        got = np.concatenate(list(reader.blocks(4096)), axis=1)
    want = sf.read(path, dtype=np.dtype(dtype).name, always_2d=True)[0].T
    np.testing.assert_array_equal(got, want)
    if fmt == "FLAC" and subtype == "PCM_16":
        np.testing.assert_array_equal(got, x)  # lossless, read as int16


@pytest.mark.parametrize("suffix,sample_format", [(".wav", "i16"), (".wav", "i32"), (".flac", "i16"),
                                                  (".flac", "i32"), (".wav", "f32")])
def test_writer_round_trip_in_blocks(tmp_path, suffix, sample_format):
    x = signal(frames=10000)
    target = {"i16": x, "i32": x.astype(np.int32) << 16, "f32": x.astype(np.float32) / 32768}[sample_format]
    path = tmp_path / f"out{suffix}"
    with AudioWriter(path, 22050, 2, sample_format) as w:
        for i in range(0, 10000, 3333):
            w.write(target[:, i:i + 3333])
    got, sr = read_audio(path)
    assert sr == 22050 and got.shape == (2, 10000)
    np.testing.assert_array_equal(got, target)
    assert os.listdir(tmp_path) == [f"out{suffix}"]


def _stdlib_wav_bytes(path, blocks, rate, channels, width):
    """The file the standard library's wave module writes for the same blocks (the writer's reference)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        for b in blocks:
            w.writeframesraw(np.ascontiguousarray(b.T).tobytes())
    return path.read_bytes()


@pytest.mark.parametrize("sample_format,channels,cuts", [
    ("i16", 1, [4410]), ("i16", 2, [0, 3000, 3001, 10000]), ("i32", 2, [7]), ("i32", 3, [100, 5000]),
    ("i16", 1, []), ("i16", 2, [0])])
def test_wav_writer_bytes_equal_the_stdlib_wave_module(tmp_path, sample_format, channels, cuts):
    """One block (header sized at once), several blocks (header patched at commit), no block and an empty
    block: the same bytes as the wave module's file."""
    x = signal(channels=channels, frames=10000, seed=3)
    if sample_format == "i32":
        x = x.astype(np.int32) << 16
    edges = [0, *cuts] if cuts else []
    blocks = [x[:, a:b] for a, b in zip(edges, edges[1:] + [x.shape[1]])] if cuts else []
    with AudioWriter(tmp_path / "ours.wav", 44100, channels, sample_format) as w:
        for b in blocks:
            w.write(b)
    width = 2 if sample_format == "i16" else 4
    assert (tmp_path / "ours.wav").read_bytes() == _stdlib_wav_bytes(tmp_path / "ref.wav", blocks, 44100, channels,
                                                                     width)


def test_wav_writer_refuses_what_wav_cannot_hold_before_writing(tmp_path):
    from remotemedia.errors import KernelInputError

    with pytest.raises(KernelInputError, match="num_channels"):
        AudioWriter(tmp_path / "a.wav", 8000, 0)
    with pytest.raises(KernelInputError, match="sample_rate"):
        AudioWriter(tmp_path / "a.wav", 0, 1)
    assert os.listdir(tmp_path) == []


def test_writer_converts_and_counts_clipping(tmp_path, impl):
    f = np.array([[0.5, -2.0, 1.5, 0.25]], dtype=np.float32)
    with AudioWriter(tmp_path / "c.wav", 8000, 1, "i16", impl=impl) as w:
        w.write(f)
    assert w.clipped == 2
    got, _ = read_audio(tmp_path / "c.wav")
    np.testing.assert_array_equal(got, [[16384, -32768, 32767, 8192]])


def test_nothing_appears_under_the_final_name_before_commit_and_failures_leave_nothing(tmp_path):
    path = tmp_path / "out.wav"
    w = AudioWriter(path, 8000, 1)
    w.write(np.ones(100, np.int16))
    assert not path.exists() and len(os.listdir(tmp_path)) == 1  # only the hidden temp file
    w.abort()
    assert os.listdir(tmp_path) == []
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with AudioWriter(path, 8000, 1) as w:
            w.write(np.ones(100, np.int16))
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.wav"]
    with AtomicFile(tmp_path / "t.txt", "w") as f:
        f.file.write("done\n")
    assert (tmp_path / "t.txt").read_text() == "done\n"


def test_a_killed_writer_never_leaves_a_truncated_file_under_the_final_name(tmp_path):
    child = textwrap.dedent("""
        import os, signal, sys
        import numpy as np
        from remotemedia.io import AudioWriter
        w = AudioWriter(sys.argv[1], 48000, 2)
        for i in range(20):
            w.write(np.full((2, 48000), i, np.int16))
            if i == 10:
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    final = tmp_path / "big.wav"
    proc = subprocess.run([sys.executable, "-c", child, str(final)])
    assert proc.returncode == -9
    assert not final.exists()
    leftovers = os.listdir(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".big.wav.") and leftovers[0].endswith(".part")


def test_the_pure_install_reads_and_writes_wav_without_soundfile(tmp_path):
    write_audio(tmp_path / "a.wav", signal(), 16000)
    sf.write(tmp_path / "a.flac", signal().T, 16000)
    child = textwrap.dedent("""
        import sys
        sys.modules["soundfile"] = None  # as if soundfile were not installed
        sys.modules["av"] = None  # nor PyAV (which reads FLAC too: tests/media/test_media_reader.py)
        import numpy as np
        from remotemedia.errors import AudioFileError
        from remotemedia.io import read_audio, write_audio
        x, sr = read_audio(sys.argv[1] + "/a.wav")
        write_audio(sys.argv[1] + "/b.wav", x, sr)
        for call in (lambda: read_audio(sys.argv[1] + "/a.flac"), lambda: write_audio(sys.argv[1] + "/b.flac", x, sr)):
            try:
                call()
            except AudioFileError as exc:
                print(exc)
        print("soundfile" in sys.modules and sys.modules["soundfile"] is None)
    """)
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and all("remotemedia[audio]" in line for line in lines[:2]) and lines[2] == "True"
    np.testing.assert_array_equal(read_audio(tmp_path / "b.wav")[0], signal())


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        open_audio(tmp_path / "nope.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioFileError, match="libsndfile"):
        open_audio(tmp_path / "junk.wav")
    with pytest.raises(AudioFileError, match="suffix"):
        AudioWriter(tmp_path / "x.mp3", 8000, 1)
    with pytest.raises(AudioFileError, match="folder"):
        AudioWriter(tmp_path / "no" / "x.wav", 8000, 1)
    with wave.open(str(tmp_path / "empty.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    with pytest.raises(AudioFileError, match="no audio data"):  # an input without audio is a failure, not a success
        read_audio(tmp_path / "empty.wav")


@settings(max_examples=60, deadline=None)
@given(channels=st.integers(1, 70), frames=st.integers(1, 300), dtype=st.sampled_from(["<i2", "<i4", "<f4", ">i2"]),
       layout=st.sampled_from(["C", "F", "sliced"]))
def test_interleave_equals_numpys_transposed_copy(channels, frames, dtype, layout):
    from remotemedia.io.writers import interleave

    x = np.arange(channels * frames * 2).astype(dtype).reshape(channels, frames * 2)
    x = {"C": x[:, :frames], "F": np.asfortranarray(x[:, :frames]), "sliced": x[:, ::2]}[layout]
    got = interleave(x)
    assert got.flags.c_contiguous and got.dtype == x.dtype and np.array_equal(got, np.ascontiguousarray(x.T))
