"""Property test: audio files with mutated headers and cut tails are read, or refused with a clear
AudioFileError naming the file; never another exception, and nothing is sized beyond the file."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia.errors import AudioFileError
from remotemedia.io import read_audio

try:
    import soundfile
except ImportError:  # the pure install reads PCM WAV without it
    soundfile = None


def wav(fmt_tag: int, ch: int, rate: int, bits: int, frames: int, extensible: bool = False) -> bytes:
    width = bits // 8
    data = (np.arange(frames * ch * width) * 37 % 251).astype(np.uint8).tobytes()
    if extensible:
        fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, ch, rate, rate * ch * width, ch * width, bits, 22, bits, 0,
                          struct.pack("<H", fmt_tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, ch, rate, rate * ch * width, ch * width, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


BASES = [
    wav(1, 1, 16000, 16, 400),
    wav(1, 2, 44100, 16, 300),
    wav(1, 1, 8000, 8, 500),
    wav(1, 2, 48000, 24, 200),
    wav(1, 1, 22050, 32, 200),
    wav(3, 1, 16000, 32, 200),           # float32 (soundfile)
    wav(1, 2, 16000, 16, 200, extensible=True),  # WAVE_FORMAT_EXTENSIBLE (soundfile)
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(BASES),
       edits=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=10),
       cut=st.integers(0, 600))
def test_mutated_headers_are_read_or_refused_clearly(tmp_path, base, edits, cut):
    data = bytearray(base)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    data = data[:max(0, len(data) - cut)]
    path = tmp_path / "mutated.wav"
    path.write_bytes(bytes(data))
    try:
        samples, rate = read_audio(path)
    except AudioFileError as exc:
        assert str(path) in str(exc)
        return
    # Read: a real shape, and no more samples than the file's bytes can hold.
    assert samples.ndim == 2 and samples.shape[0] >= 1 and rate >= 1
    if _format_tag(data) in PCM_TAGS:
        # PCM (8-bit is the densest: one byte per sample, read as int16)
        assert samples.size <= len(data)
        assert samples.nbytes <= 2 * len(data)
    else:
        # A mutated tag can name a codec that FFmpeg decodes (WAVE_FORMAT 0x1501 is DSP Group
        # TrueSpeech: 32 bytes -> 240 samples): the decoded samples, bounded by what speech codecs
        # expand to (Opus at 6 kbit/s and 48 kHz: 64 samples per byte).
        assert samples.size <= 64 * len(data)


#: WAVE format tags of PCM and float data (0xFFFE: extensible, whose subformat says which).
PCM_TAGS = (1, 3)


def _format_tag(data: bytes) -> int:
    """The format tag of the base files' layout (fmt chunk at 12; an extensible file's subformat at 44)."""
    if len(data) < 22:
        return 1
    tag = struct.unpack_from("<H", data, 20)[0]
    if tag == 0xFFFE and len(data) >= 46:
        tag = struct.unpack_from("<H", data, 44)[0]
    return tag
