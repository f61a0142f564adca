"""The batch runner end to end over a mixed folder of media made at test time, hostile files included.

Good files (mp3, opus, m4a, flac, wav, an mp4 with video and audio) are prepared by the speech
manifest; each hostile one (cut, corrupt, empty, video-only) is one failure line in the ledger and
the batch goes on. Both implementations.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

pytest.importorskip("av")

from mediagen import make_media, make_video_only  # noqa: E402

from remotemedia import run_batch  # noqa: E402
from remotemedia.batch import AUDIO_EXTENSIONS  # noqa: E402
from remotemedia.io import read_audio  # noqa: E402

MANIFEST = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "speech_prep.json"
GOOD = ("mp3", "opus", "m4a", "flac", "wav", "mp4")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    (root / "good").mkdir()
    (root / "bad").mkdir()
    for ext in GOOD:
        make_media(str(root / "good"), ext, seconds=4.0, name=f"talk_{ext}")
    path, _ = make_media(str(root / "bad"), "mp3", seconds=4.0, name="cut")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    path, _ = make_media(str(root / "bad"), "flac", seconds=4.0, name="corrupt")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 3: 2 * len(data) // 3] = os.urandom(len(data) // 3)
    open(path, "wb").write(bytes(data))
    (root / "bad" / "empty.m4a").write_bytes(b"")
    make_video_only(str(root / "bad" / "silent_film.mp4"))
    (root / "bad" / "notes.txt").write_text("not an input")  # not a media extension: not discovered
    return root


def test_media_extensions_are_discovered():
    for ext in (".mp3", ".opus", ".ogg", ".m4a", ".flac", ".wav", ".mp4", ".mkv", ".webm"):
        assert ext in AUDIO_EXTENSIONS


def test_batch_over_a_mixed_folder(folder, tmp_path, impl):
    out = tmp_path / "out"
    report = run_batch(MANIFEST, [str(folder)], str(out), workers=2, impl=impl, progress=False)
    results = {r["key"]: r for r in report.results}
    good = {f"good/talk_{ext}" for ext in GOOD}
    bad = {"bad/cut", "bad/corrupt", "bad/empty", "bad/silent_film"}
    assert set(results) == good | bad and report.total == 10
    assert {k for k, r in results.items() if r["status"] == "ok"} == good
    assert report.exit_code == 1 and report.failed == 4
    for key in good:
        (index,) = (out / key).glob("*.segments.jsonl")
        segments = [json.loads(line) for line in index.read_text().splitlines()]
        assert segments, key  # speech found in every format
        for seg in segments:
            samples, rate = read_audio(out / key / seg["file"])
            assert rate == 16000 and samples.shape[1] == seg["frames"] == seg["end"] - seg["start"]
        # the index counts decoded samples: no segment ends past the decoded signal at 16 kHz
        source = next(p for p in (folder / "good").iterdir() if p.stem == pathlib.Path(key).name)
        decoded, src_rate = read_audio(source)
        assert max(s["end"] for s in segments) <= round(decoded.shape[1] * 16000 / src_rate)
    messages = {k: results[k]["error"] for k in bad}
    assert "truncated" in messages["bad/cut"] or "corrupt" in messages["bad/cut"]
    assert "corrupt" in messages["bad/corrupt"] or "truncated" in messages["bad/corrupt"]
    assert "not a media file" in messages["bad/empty"] or "decode" in messages["bad/empty"]
    assert "no audio track" in messages["bad/silent_film"]
    for key in bad:
        assert results[key]["error_type"] == "remotemedia.errors.AudioFileError", results[key]
        assert not (out / key).exists()  # nothing published for a failed input
    ledger = [json.loads(line) for line in (out / "remotemedia-ledger.jsonl").read_text().splitlines()]
    assert sum(1 for e in ledger if e.get("event") == "input") == 10
    # the durations reported are the decoded ones, not the container's claim (mp3 and m4a headers are
    # off by an encoder delay or a frame)
    for key in good:
        source = next(p for p in (folder / "good").iterdir() if p.stem == pathlib.Path(key).name)
        decoded, src_rate = read_audio(source)
        assert results[key]["audio_s"] == decoded.shape[1] / src_rate, key
