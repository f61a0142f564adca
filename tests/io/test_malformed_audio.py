"""Malformed audio files: a clear per-file error, the batch goes on, and nothing
is sized by an untrusted header (no hang, no crash, no giant allocation)."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc

import numpy as np
import pytest

import remotemedia
from remotemedia.errors import AudioFileError
from remotemedia.io import open_audio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEECH_PREP = os.path.join(ROOT, "examples", "pipelines", "speech_prep.json")


def wav_bytes(ch=1, rate=16000, bits=16, data_len=None, frames=1600, riff_len=None) -> bytes:
    data = (np.arange(frames * ch) % 2000).astype("<i2").tobytes() if bits == 16 else b"\0" * (frames * ch * bits // 8)
    dl = len(data) if data_len is None else data_len
    fmt = struct.pack("<HHIIHH", 1, ch, rate, (rate * ch * bits // 8) & 0xFFFFFFFF, (ch * bits // 8) & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", dl) + data
    return b"RIFF" + struct.pack("<I", len(body) if riff_len is None else riff_len) + body


#: name -> (file bytes, the start of the expected error, or None when the file is fine)
CASES = {
    "ok": (wav_bytes(), None),
    "lying_riff_size": (wav_bytes(riff_len=0xFFFFFFFF), None),  # the RIFF size is not needed to read
    "truncated_header": (wav_bytes()[:30], "not a PCM WAV file"),
    "no_fmt_chunk": (b"RIFF\x14\x00\x00\x00WAVEjunk\x04\x00\x00\x00abcd", "not a PCM WAV file"),
    "claims_4_gb": (wav_bytes(data_len=0xFFFFFFF0), "truncated or lying header: it claims 4294967280 bytes"),
    "truncated_data": (wav_bytes()[:1000], "truncated or lying header"),
    "zero_channels": (wav_bytes(ch=0), "not a PCM WAV file"),
    "65535_channels": (wav_bytes(ch=65535, frames=1), "the header claims 65535 channels"),
    "absurd_rate": (wav_bytes(rate=0xFFFFFFFF), "the header claims a sample rate of 4294967295 Hz"),
    "zero_rate": (wav_bytes(rate=0), "the header claims a sample rate of 0 Hz"),
    "no_data": (wav_bytes(frames=0), "no audio data"),
    "empty_file": (b"", "cannot be read"),
    "random_bytes": (np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "cannot be read"),
}


@pytest.fixture
def bad_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (data, _) in CASES.items():
        (folder / f"{name}.wav").write_bytes(data)
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_opening_gives_a_clear_error(tmp_path, name):
    data, expected = CASES[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(data)
    if expected is None:
        with open_audio(path) as reader:
            assert reader.read(100_000).shape[1] == reader.num_frames
        return
    if name in ("empty_file", "random_bytes"):
        pytest.importorskip("soundfile")  # not a RIFF/WAVE: only libsndfile is asked
    with pytest.raises(AudioFileError) as info:
        with open_audio(path) as reader:
            reader.read(1 << 20)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_a_lying_header_sizes_nothing(tmp_path):
    path = tmp_path / "claims_4_gb.wav"
    path.write_bytes(CASES["claims_4_gb"][0])
    was_tracing = tracemalloc.is_tracing()  # metrics may have started it already (it then stays on)
    if not was_tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with pytest.raises(AudioFileError):
            remotemedia.io.read_audio(path)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert peak < 1_000_000


def test_batch_goes_on_and_reports_each_file(bad_folder, tmp_path, impl):
    pytest.importorskip("soundfile")
    out = tmp_path / "out"
    report = remotemedia.run_batch(SPEECH_PREP, [str(bad_folder)], str(out), impl=impl, workers=2)
    entries = {}
    with open(out / "remotemedia-ledger.jsonl") as fh:
        for line in fh:
            e = json.loads(line)
            if e.get("event") == "input":
                entries[e["key"]] = e
    assert set(entries) == set(CASES)
    for name, (_, expected) in CASES.items():
        e = entries[name]
        if expected is None:
            assert e["status"] == "ok", e
        else:
            assert e["status"] == "failed" and expected in e["error"], e
            assert e.get("node_id") == "source"
            assert not (out / name).exists()  # no output folder for a failed input
    assert report.failed == sum(1 for _, exp in CASES.values() if exp) and report.exit_code == 1
