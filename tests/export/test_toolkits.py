"""The exports loaded by the real toolkits: Hugging Face ``datasets`` and lhotse.

Marked ``toolkits``: they need ``datasets`` (with ``torchcodec``, hence torch, and FFmpeg's shared
libraries to decode audio) and ``lhotse`` (torch, urllib3), a 5-6 GB install that is no dependency of
remotemedia. ``nox -s toolkits`` installs them and runs these tests with
``REMOTEMEDIA_TEST_TOOLKITS=1``, which turns a missing library into a failure; elsewhere they are
skipped when the libraries are absent (the other export tests check the same files structurally).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest
from export_helpers import CORPUS, SPEECH_PREP, check_hf, make_corpus, read_lines, read_wav

from remotemedia import run_batch
from remotemedia.export import EXPORT_DIR_NAME, collect_segments, export

pytestmark = pytest.mark.toolkits


def need(module: str):
    if os.environ.get("REMOTEMEDIA_TEST_TOOLKITS") == "1":
        return importlib.import_module(module)  # the toolkits session: a missing library is a failure
    return pytest.importorskip(module)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A batch over the hostile-name corpus, exported in every format (segment files and --no-audio cuts)."""
    root = tmp_path_factory.mktemp("toolkits")
    make_corpus(root / "in")
    out = root / "out"
    report = run_batch(str(SPEECH_PREP), [str(root / "in")], str(out), workers=2)
    assert report.ok == len(CORPUS)
    export(out, "hf,nemo,lhotse", split=True)
    export(out, "nemo,lhotse", export_dir=root / "cuts", no_audio=True)
    return out


def decoded(audio) -> "tuple[np.ndarray, int]":
    """(channels, n) float samples and rate of a datasets audio value (torchcodec decoder, or the older dict)."""
    if isinstance(audio, dict):
        return np.atleast_2d(np.asarray(audio["array"])), int(audio["sampling_rate"])
    samples = audio.get_all_samples()
    return samples.data.numpy(), int(samples.sample_rate)


def test_datasets_loads_the_audio_folder(prepared):
    datasets = need("datasets")
    hf = prepared / EXPORT_DIR_NAME / "hf"
    rows = check_hf(hf, prepared)
    ds = datasets.load_dataset("audiofolder", data_dir=str(hf))
    assert sorted(ds) == sorted(rows)
    entries = {e.id: e for e in collect_segments(prepared)}
    for split, members in rows.items():
        assert ds[split].num_rows == len(members)
        assert ds[split].column_names == ["audio"] + list(members[0])[1:]
        assert sorted(ds[split]["id"]) == sorted(r["id"] for r in members)
        row = ds[split][0]
        samples, rate = decoded(row["audio"])
        want, want_rate = read_wav(entries[row["id"]].audio_path)
        assert rate == want_rate == row["sample_rate"] and samples.shape == want.shape
        np.testing.assert_allclose(samples, want / 32768.0, atol=1e-6)  # the segment's own samples
        assert row["duration_s"] == want.shape[1] / rate
    # The card's YAML header does not stop datasets from loading the folder by its path either.
    assert sum(d.num_rows for d in datasets.load_dataset(str(hf)).values()) == len(entries)


def test_lhotse_loads_cuts_and_their_audio(prepared):
    lhotse = need("lhotse")
    from lhotse.qa import validate

    folder = prepared / EXPORT_DIR_NAME / "lhotse"
    cuts = lhotse.CutSet.from_file(folder / "cuts.jsonl.gz")
    recordings = lhotse.RecordingSet.from_file(folder / "recordings.jsonl.gz")
    supervisions = lhotse.SupervisionSet.from_file(folder / "supervisions.jsonl.gz")
    entries = collect_segments(prepared)
    assert len(cuts) == len(recordings) == len(supervisions) == len(entries)
    validate(cuts, read_data=True)  # lhotse's own checks, reading every cut's audio
    by_id = {e.id: e for e in entries}
    for cut in cuts:
        e = by_id[cut.id]
        audio = cut.load_audio()
        want, rate = read_wav(e.audio_path)
        assert cut.sampling_rate == rate and cut.num_samples == want.shape[1] == e.frames
        np.testing.assert_allclose(audio, want / 32768.0, atol=1e-6)
        assert cut.supervisions[0].custom["source"] == e.source


def test_lhotse_cuts_into_the_sources(prepared):
    lhotse = need("lhotse")
    from lhotse.qa import validate

    cuts = lhotse.CutSet.from_file(prepared.parent / "cuts" / "lhotse" / "cuts.jsonl.gz")
    validate(cuts, read_data=True)
    by_id = {e.id: e for e in collect_segments(prepared)}
    assert sorted(c.id for c in cuts) == sorted(by_id)
    for cut in cuts:
        e = by_id[cut.id]
        source, rate = read_wav(e.source)
        audio = cut.load_audio()
        assert audio.shape == (source.shape[0], e.source_end - e.source_start)
        np.testing.assert_allclose(audio, source[:, e.source_start:e.source_end] / 32768.0, atol=1e-6)
        if source.shape[0] == 1 and rate == 16000:  # untouched by the chain: the segment file is the same audio
            np.testing.assert_array_equal(read_wav(e.audio_path)[0], source[:, e.source_start:e.source_end])
    nemo = read_lines(prepared.parent / "cuts" / "nemo" / "manifest.jsonl")
    assert [r["id"] for r in nemo] == [e.id for e in by_id.values()]
