"""The built-in demo: packaged data, a deterministic corpus, the demo job end to end."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from remotemedia import _native, demo

ROOT = Path(__file__).parent.parent


def test_speech_recordings_ship_in_the_package_as_copies_of_the_test_data():
    for name in demo.SPEECH_FILES:
        packaged = Path(demo.DATA_DIR) / "speech" / name
        assert packaged.exists(), packaged
        assert filecmp.cmp(packaged, ROOT / "tests" / "data" / "speech" / name, shallow=False)
    assert (Path(demo.DATA_DIR) / "speech" / "README.md").exists()


def test_demo_manifest_is_valid_and_is_the_examples_one_when_that_exists():
    from remotemedia.manifest import load_manifest, validate_manifest

    path = demo.demo_manifest_path()
    assert validate_manifest(load_manifest(path)) == []
    example = ROOT / "examples" / "pipelines" / "speech_prep.json"
    if example.exists():  # the packaged copy must be the manifest that ships in examples/
        assert os.path.basename(path) == "speech_prep.json"
        assert json.loads(Path(path).read_text()) == json.loads(example.read_text())


def test_corpus_plan_covers_every_recording_rate_and_layout():
    full = demo.corpus_plan()
    assert len(full) == demo.CORPUS_SIZE == 252
    small = demo.corpus_plan(24)
    assert len(small) == 24
    assert {p[0] for p in small} == set(demo.SPEECH_FILES)
    assert {p[2] for p in small} == {name for name, _, _ in demo.LAYOUTS}
    assert len({p[1] for p in small}) >= 6


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.wav"))}


def test_corpus_is_deterministic_and_varied(tmp_path):
    from remotemedia.audio import AudioBuffer
    from remotemedia.io import read_audio

    def read_wav(path):
        return AudioBuffer(*read_audio(path))

    a = demo.make_corpus(str(tmp_path / "a"), 12)
    demo.make_corpus(str(tmp_path / "b"), 12)
    assert a["files"] == 12 and digest(tmp_path / "a") == digest(tmp_path / "b")
    kinds = set()
    for p in (tmp_path / "a").rglob("*.wav"):
        audio = read_wav(str(p))
        kinds.add((audio.sample_rate, audio.num_channels, audio.format))
        assert 3.0 < audio.duration_s < 8.0
        assert audio.samples[:, :100].any()  # noise in the leading silence
    assert len({k[0] for k in kinds}) >= 5 and {k[1] for k in kinds} == {1, 2} and {k[2] for k in kinds} == {
        "i16", "i32"}


def test_demo_command(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "remotemedia", "demo", "--files", "30", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"implementation: {_native.STATUS.impl}" in r.stdout
    assert "demo corpus: 30 files" in r.stdout
    assert "ok              30" in r.stdout and "failed           0" in r.stdout
    if _native.STATUS.impl == "native":
        assert "native vs numpy on 12 files: same segments: True" in r.stdout
    else:
        assert "native vs numpy: skipped" in r.stdout
    segments = list((out / "prepared").rglob("*.segments.jsonl"))  # SegmentWriter: <stem>.segments.jsonl
    assert len(segments) == 30
    assert sum(1 for s in segments if s.read_text().strip()) >= 28  # speech found in (nearly) every file
    try:
        import remotemedia.metrics  # noqa: F401
    except ImportError:
        assert "HTML report: not available in this build" in r.stdout
    else:
        assert (out / "report.html").exists()


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["demo", "--help"], ["nodes", "--help"],
                                  ["bench", "--help"]])
def test_help_everywhere(args):
    r = subprocess.run([sys.executable, "-m", "remotemedia", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage: remotemedia" in r.stdout
