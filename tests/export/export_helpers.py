"""Helpers of the export tests: a corpus with hostile file names, a batch run over it, and structural
checks of each export format (what the toolkits read, checked without the toolkits)."""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import wave
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "tests" / "data" / "speech"
SPEECH_PREP = ROOT / "examples" / "pipelines" / "speech_prep.json"

#: (relative input path, speech file, stereo) - unicode, spaces, quotes, a newline, a tab, two speaker folders.
CORPUS = [
    ("spk é 1/it's \"quoted\" ü.wav", "en_m_16k.wav", False),
    ("spk é 1/日本語 テスト.wav", "fr_f_44k.wav", False),
    ("spk2/new\nline.wav", "de_m_22k.wav", False),
    ("spk2/tab\tand  spaces .wav", "en_f_8k.wav", False),
    ("spk2/stereo.wav", "es_m_48k.wav", True),
]


def read_wav(path) -> "tuple[np.ndarray, int]":
    with wave.open(str(path), "rb") as w:
        data = w.readframes(w.getnframes())
        return np.frombuffer(data, dtype=np.int16).reshape(-1, w.getnchannels()).T, w.getframerate()


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    samples = np.atleast_2d(samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(samples.T).astype("<i2").tobytes())


def make_corpus(folder: Path, extra: int = 0) -> List[Path]:
    """The corpus (and ``extra`` more copies under ``more/``); returns the input paths."""
    paths = []
    for rel, name, stereo in CORPUS:
        x, sr = read_wav(SPEECH / name)
        if stereo:  # two different channels: a mono mix is not either one
            x = np.concatenate([x, (x // 2)], axis=0)
        write_wav(folder / rel, x, sr)
        paths.append(folder / rel)
    for i in range(extra):
        _, name, _ = CORPUS[i % len(CORPUS)]
        dst = folder / "more" / f"take {i:02d}.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPEECH / name, dst)
        paths.append(dst)
    return paths


def header(path) -> "tuple[int, int, int]":
    """``(sample_rate, channels, frames)`` of an audio file (WAV by wave, FLAC by soundfile)."""
    if str(path).endswith(".flac"):
        import soundfile

        info = soundfile.info(str(path))
        return info.samplerate, info.channels, info.frames
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getnframes()


def read_gz_lines(path: Path) -> List[dict]:
    with gzip.open(path, "rt", encoding="ascii") as fh:
        return [json.loads(line) for line in fh]


def read_lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


def ok_sources(out: Path) -> Dict[str, str]:
    """input path -> key of every input whose last ledger outcome is ok."""
    last: Dict[str, dict] = {}
    for line in (out / "remotemedia-ledger.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("event") == "input":
            last[e["input"]] = e
    return {k: e["key"] for k, e in last.items() if e["status"] == "ok"}


def export_bytes(export_dir: Path) -> Dict[str, bytes]:
    """Every file of an export folder (relative path -> bytes)."""
    out = {}
    for dirpath, _, names in os.walk(export_dir):
        for n in names:
            p = Path(dirpath) / n
            out[p.relative_to(export_dir).as_posix()] = p.read_bytes()
    return out


# ------------------------------------------------------------------ structural checks, per format
HF_COLUMNS = ["file_name", "id", "recording_id", "source", "segment_index", "duration_s", "sample_rate", "channels",
              "source_start_s", "source_end_s", "speech_ratio"]


def check_hf(hf: Path, out: Path) -> Dict[str, List[dict]]:
    """The audio folder as ``datasets`` reads it; returns split -> rows."""
    splits = [d for d in ("train", "validation", "test") if (hf / d).is_dir()]
    folders = {s: hf / s for s in splits} if splits else {"all": hf}
    assert (hf / "README.md").is_file()
    assert not (splits and (hf / "metadata.jsonl").exists())
    rows_by_split = {}
    for split, folder in folders.items():
        rows = read_lines(folder / "metadata.jsonl")
        assert rows, split
        for row in rows:
            assert list(row) == HF_COLUMNS
            assert isinstance(row["file_name"], str) and not os.path.isabs(row["file_name"])
            audio = folder / row["file_name"]
            assert audio.is_file() and audio.resolve().is_relative_to(folder.resolve())
            assert os.path.samefile(audio, out / row["file_name"]) or audio.read_bytes() == (
                out / row["file_name"]).read_bytes()
            rate, channels, frames = header(audio)
            assert (row["sample_rate"], row["channels"]) == (rate, channels)
            assert row["duration_s"] == frames / rate  # exact: the same float division
            assert isinstance(row["speech_ratio"], float) and 0 < row["speech_ratio"] <= 1
            assert isinstance(row["source_start_s"], float) and row["source_end_s"] > row["source_start_s"]
        # audiofolder: every audio file in the folder is listed once
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
                       and p.suffix in (".wav", ".flac"))
        assert files == sorted(r["file_name"] for r in rows)
        rows_by_split[split] = rows
    return rows_by_split


#: NeMo's documented manifest fields (ASR datasets): audio_filepath and duration required, text
#: (transcript) and offset (seconds into the file) optional.
NEMO_TYPES = {"audio_filepath": str, "duration": float, "offset": float, "text": str}


def check_nemo(manifest: Path, *, no_audio: bool = False) -> List[dict]:
    rows = read_lines(manifest)
    assert rows
    for row in rows:
        for key, typ in NEMO_TYPES.items():
            assert isinstance(row[key], typ), (key, row)
        assert row["duration"] > 0 and row["offset"] >= 0
        path = row["audio_filepath"]
        audio = Path(path) if os.path.isabs(path) else manifest.parent / path  # NeMo: relative to the manifest
        assert audio.is_file(), path
        rate, _, frames = header(audio)
        if no_audio:
            # whole samples: the floats are k / rate for integers k (as lhotse and NeMo round them back)
            start, n = round(row["offset"] * rate), round(row["duration"] * rate)
            assert row["offset"] == start / rate and row["duration"] == n / rate and n > 0
            assert start + n <= frames
        else:
            assert row["offset"] == 0.0 and row["duration"] == frames / rate
    return rows


def check_lhotse(folder: Path, *, no_audio: bool = False) -> Dict[str, List[dict]]:
    recs = read_gz_lines(folder / "recordings.jsonl.gz")
    sups = read_gz_lines(folder / "supervisions.jsonl.gz")
    cuts = read_gz_lines(folder / "cuts.jsonl.gz")
    by_id = {r["id"]: r for r in recs}
    assert len(by_id) == len(recs) and recs
    for r in recs:
        assert list(r) == ["id", "sources", "sampling_rate", "num_samples", "duration", "channel_ids"]
        (src,) = r["sources"]
        assert src["type"] == "file" and os.path.isabs(src["source"]) and src["channels"] == r["channel_ids"]
        rate, channels, frames = header(src["source"])
        assert (r["sampling_rate"], len(r["channel_ids"]), r["num_samples"]) == (rate, channels, frames)
        assert r["duration"] == frames / rate
    assert [s["id"] for s in sups] == [c["id"] for c in cuts] and len(set(s["id"] for s in sups)) == len(sups)
    for s, c in zip(sups, cuts):
        rec = by_id[s["recording_id"]]
        rate = rec["sampling_rate"]
        assert c["recording"] == rec and c["type"] == ("MonoCut" if len(rec["channel_ids"]) == 1 else "MultiCut")
        assert (c["start"], c["duration"], c["channel"]) == (s["start"], s["duration"], s["channel"])
        assert c["supervisions"] == [{**s, "start": 0.0}]
        start, n = s["start"] * rate, s["duration"] * rate
        assert math.isclose(start, round(start), abs_tol=1e-6) and math.isclose(n, round(n), abs_tol=1e-6)
        assert s["start"] == round(start) / rate and s["duration"] == round(n) / rate  # exact to the sample
        assert round(start) + round(n) <= rec["num_samples"]
        if not no_audio:
            assert (s["start"], s["duration"]) == (0.0, rec["duration"])
        assert set(s["custom"]) == {"source", "segment_index", "speech_ratio"}
    return {"recordings": recs, "supervisions": sups, "cuts": cuts}
