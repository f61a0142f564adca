"""Helpers of the batch tests: small real WAV files and manifests."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parent.parent.parent
SPEECH = ROOT / "tests" / "data" / "speech"


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """(channels, frames) int16/int32 samples as PCM WAV."""
    samples = np.atleast_2d(samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(samples.dtype.itemsize)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(samples.T).tobytes())


def read_wav(path: Path) -> "tuple[np.ndarray, int]":
    with wave.open(str(path), "rb") as w:
        data = w.readframes(w.getnframes())
        dtype = np.int16 if w.getsampwidth() == 2 else np.int32
        return np.frombuffer(data, dtype=dtype).reshape(-1, w.getnchannels()).T, w.getframerate()


def make_small_wavs(folder: Path, n: int, frames: int = 400, sample_rate: int = 8000, seed: int = 0) -> list:
    """``n`` distinct short mono int16 WAVs in a few subfolders; returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        x = rng.integers(-3000, 3000, size=frames, dtype=np.int16)
        p = folder / f"part{i % 7}" / f"clip_{i:05d}.wav"
        write_wav(p, x, sample_rate)
        paths.append(p)
    return paths


def passthrough_manifest(*nodes: dict) -> dict:
    """A manifest: the given node entries, then FormatConverterNode to int16."""
    return {"version": "v1", "metadata": {"name": "batch-test"},
            "nodes": [*nodes, {"id": "to_i16", "node_type": "FormatConverterNode",
                               "params": {"target_format": "i16"}}]}


SPEECH_PREP = {"version": "v1", "metadata": {"name": "speech-prep-test"}, "nodes": [
    {"id": "resample", "node_type": "AudioResampleNode", "params": {"target_sample_rate": 16000}},
    {"id": "vad", "node_type": "VADNode", "params": {"backend": "webrtc", "segments": True}},
]}


def cli(*args: str) -> list:
    """The command line of ``remotemedia ARGS...`` run by this interpreter."""
    import sys

    return [sys.executable, "-m", "remotemedia", *args]


def ledger_entries(out: Path, event: str = "input") -> list:
    """The well-formed ledger entries of one kind (``"run"``, ``"input"``, ``"end"``)."""
    from remotemedia.batch import LEDGER_NAME, read_ledger

    return [e for e in read_ledger(str(out / LEDGER_NAME)) if e.get("event") == event]


def hidden_paths(folder: Path) -> list:
    """Every hidden file or folder under ``folder`` (staging, replaced folders, lock, stop markers)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def slow_manifest(delay_s: float) -> dict:
    """SlowNode (batch_test_nodes) then FormatConverterNode to int16: each input takes ``delay_s``."""
    return passthrough_manifest({"id": "slow", "node_type": "SlowNode", "params": {"delay_s": delay_s}})
