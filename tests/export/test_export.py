"""Exports of a batch output folder (hf, nemo, lhotse): structure, exact durations, hostile names,
failed inputs, determinism, resume, the CLI; both implementations."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from export_helpers import (
    CORPUS,
    SPEECH_PREP,
    check_hf,
    check_lhotse,
    check_nemo,
    export_bytes,
    make_corpus,
    ok_sources,
    read_gz_lines,
    read_lines,
    read_wav,
)

from remotemedia import Pipeline, run_batch
from remotemedia.errors import ConfigurationError, ExportError
from remotemedia.export import EXPORT_DIR_NAME, collect_segments, export
from remotemedia.export.record import split_of


def run(inputs: Path, out: Path, impl: str, **kw):
    report = run_batch(str(SPEECH_PREP), [str(inputs)], str(out), impl=impl, workers=2, **kw)
    return report


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "in"
    make_corpus(folder)
    return folder


def test_every_format_from_a_batch_with_hostile_names(corpus, tmp_path, impl):
    out = tmp_path / "out"
    report = run(corpus, out, impl)
    assert (report.ok, report.failed) == (len(CORPUS), 0)
    written = export(out, "hf,nemo,lhotse", split=True)
    assert set(written) == {"hf", "nemo", "lhotse"}
    entries = collect_segments(out)
    assert len(entries) >= 2 * len(CORPUS)  # every recording holds several segments
    assert {e.source for e in entries} == {str(corpus / rel) for rel, _, _ in CORPUS}  # every name survived

    rows = check_hf(out / EXPORT_DIR_NAME / "hf", out)
    hf_rows = [r for split in rows.values() for r in split]
    assert sorted(r["id"] for r in hf_rows) == sorted(e.id for e in entries)
    for split, members in rows.items():  # a recording never straddles splits, and its split is its hash's
        for r in members:
            assert split_of(r["recording_id"], [("train", 0.8), ("validation", 0.1), ("test", 0.1)]) == split
    card = (out / EXPORT_DIR_NAME / "hf" / "README.md").read_text()
    for split, members in rows.items():
        assert f"| {split} | {len(members)} |" in card

    nemo = check_nemo(out / EXPORT_DIR_NAME / "nemo" / "manifest.jsonl")
    assert [r["id"] for r in nemo] == [e.id for e in entries]  # sorted by key, then segment
    assert all(not os.path.isabs(r["audio_filepath"]) for r in nemo)
    lh = check_lhotse(out / EXPORT_DIR_NAME / "lhotse")
    assert [c["id"] for c in lh["cuts"]] == [e.id for e in entries]
    assert {c["supervisions"][0]["custom"]["source"] for c in lh["cuts"]} == {e.source for e in entries}

    # Every segment file is the stream's audio: its record, its header and the exports agree to the sample.
    for e in entries:
        samples, rate = read_wav(e.audio_path)
        assert samples.shape == (1, e.record["end"] - e.record["start"]) == (e.channels, e.frames)
        assert rate == e.sample_rate == 16000
        assert e.record["pipeline"]["implementation"] == {"mono": impl, "resample": impl, "vad": impl,
                                                          "segments": impl}
        assert e.record["pipeline"]["name"] == "speech-prep"


def test_segment_files_of_a_16k_source_are_its_own_samples_and_no_audio_cuts_point_at_them(corpus, tmp_path, impl):
    """en_m_16k is mono at 16 kHz: the chain leaves its samples alone, so each segment file must equal the
    source's samples at the export's offsets, to the sample (with files, and with --no-audio cuts)."""
    out = tmp_path / "out"
    run(corpus, out, impl)
    export(out, "nemo,lhotse", export_dir=tmp_path / "files")
    export(out, "nemo,lhotse", export_dir=tmp_path / "cuts", no_audio=True)
    nemo_cuts = check_nemo(tmp_path / "cuts" / "nemo" / "manifest.jsonl", no_audio=True)
    lh_cuts = check_lhotse(tmp_path / "cuts" / "lhotse", no_audio=True)
    src = corpus / CORPUS[0][0]
    source, rate = read_wav(src)
    entries = [e for e in collect_segments(out) if e.source == str(src)]
    assert entries
    cuts = {c["id"]: c for c in lh_cuts["cuts"]}
    rows = {r["id"]: r for r in nemo_cuts}
    for e in entries:
        seg, seg_rate = read_wav(e.audio_path)
        assert seg_rate == rate == 16000
        c, r = cuts[e.id], rows[e.id]
        start, n = round(c["start"] * rate), round(c["duration"] * rate)
        assert (start, n) == (round(r["offset"] * rate), round(r["duration"] * rate)) == (e.source_start, e.frames)
        np.testing.assert_array_equal(source[:, start:start + n], seg)
        assert c["recording"]["sources"][0]["source"] == str(src) and c["recording"]["id"] == e.recording_id
    # The stereo source: a MultiCut over both channels, at 48 kHz.
    stereo = [c for c in lh_cuts["cuts"] if c["recording"]["sources"][0]["source"].endswith("stereo.wav")]
    assert stereo and all(c["type"] == "MultiCut" and c["channel"] == [0, 1] for c in stereo)
    assert all(c["recording"]["sampling_rate"] == 48000 for c in stereo)


def test_failed_inputs_are_in_no_export(corpus, tmp_path, impl):
    inputs = tmp_path / "in"
    shutil.copytree(corpus, inputs)
    (inputs / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    later = inputs / "later broken.wav"
    shutil.copyfile(inputs / CORPUS[0][0], later)
    out = tmp_path / "out"
    first = run(inputs, out, impl)
    assert (first.ok, first.failed) == (len(CORPUS) + 1, 1)
    assert any(e.source == str(later) for e in collect_segments(out))
    later.write_bytes(later.read_bytes()[:100])  # changed (so redone by --resume) and now unreadable
    second = run(inputs, out, impl, resume=True)
    assert (second.ok, second.skipped, second.failed) == (0, len(CORPUS), 2)
    assert (out / "later_broken").is_dir()  # the earlier ok output is still there, but its input failed last
    export(out, "hf,nemo,lhotse")
    good = set(ok_sources(out))
    assert good == {str(inputs / rel) for rel, _, _ in CORPUS}
    exported = export_bytes(out / EXPORT_DIR_NAME)
    text = b"".join(exported.values()).decode("latin-1")
    assert "later_broken" not in text and "broken.wav" not in text
    lh = check_lhotse(out / EXPORT_DIR_NAME / "lhotse")
    assert {c["supervisions"][0]["custom"]["source"] for c in lh["cuts"]} == good
    assert {r["source"] for r in check_nemo(out / EXPORT_DIR_NAME / "nemo" / "manifest.jsonl")} == good
    assert {r["source"] for rows in check_hf(out / EXPORT_DIR_NAME / "hf", out).values() for r in rows} == good


def test_exports_are_deterministic_and_replace_earlier_ones(corpus, tmp_path, impl):
    out = tmp_path / "out"
    run(corpus, out, impl)
    export(out, "hf,nemo,lhotse", split="train=0.5,test=0.5")
    first = export_bytes(out / EXPORT_DIR_NAME)
    (out / EXPORT_DIR_NAME / "hf" / "stale.txt").write_text("left by hand")
    export(out, ["lhotse", "hf", "nemo"], split="train=0.5,test=0.5")
    assert export_bytes(out / EXPORT_DIR_NAME) == first  # same bytes; the hf folder was replaced whole
    assert not any(n.startswith(".") for n in os.listdir(out / EXPORT_DIR_NAME))  # no staging leftovers
    for name in ("recordings", "supervisions", "cuts"):  # gzip without time stamp or file name
        assert first[f"lhotse/{name}.jsonl.gz"][4:8] == b"\0\0\0\0"


def test_a_folder_without_ledger_is_exported_from_its_index_files(tmp_path, impl):
    pipeline = Pipeline.from_manifest(str(SPEECH_PREP))
    src = tmp_path / "rec one.wav"
    shutil.copyfile(Path(SPEECH_PREP).parents[2] / "tests" / "data" / "speech" / "en_m_16k.wav", src)
    pipeline.run_file(src, tmp_path / "out" / "a")
    written = export(tmp_path / "out", "nemo,lhotse", nemo_paths="absolute")
    rows = check_nemo(Path(written["nemo"]["path"]))
    assert all(os.path.isabs(r["audio_filepath"]) for r in rows)
    assert {r["id"].rsplit("_", 1)[0] for r in rows} == {"a/rec_one"}
    check_lhotse(Path(written["lhotse"]["path"]))
    assert collect_segments(tmp_path / "out") == collect_segments(tmp_path / "out")  # the export dir is not read


def test_records_that_disagree_with_their_files_are_refused(corpus, tmp_path, impl):
    out = tmp_path / "out"
    run(corpus, out, impl)
    index = next(out.rglob("*.segments.jsonl"))
    lines = read_lines(index)
    first = out / index.parent / lines[0]["file"]
    samples, rate = read_wav(first)
    from export_helpers import write_wav

    write_wav(first, samples[:, :-1], rate)  # one sample short
    with pytest.raises(ExportError, match="holds .* frames at 16000 Hz, the record says"):
        export(out, "nemo")
    first.unlink()
    with pytest.raises(ExportError, match="segment file is missing"):
        export(out, "lhotse")
    lines[0]["file"] = "../escape.wav"
    index.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(ExportError, match="plain file name"):
        export(out, "hf")
    assert not (out / EXPORT_DIR_NAME / "hf").exists()  # nothing published


def test_bad_options_are_refused_before_anything_is_written(tmp_path):
    (tmp_path / "out").mkdir()
    cases = [({"formats": "hf,mp4"}, "export format"), ({"formats": "hf", "no_audio": True}, "needs segment files"),
             ({"formats": "hf", "split": "train=0.5,dev=0.5"}, "split"), ({"formats": "hf", "split": "train=0.7"},
                                                                         "summing to 1"),
             ({"formats": "nemo", "split": True}, "hf format only"), ({"formats": "nemo", "nemo_paths": "x"}, "nemo"),
             ({"formats": "hf", "split_by": "speaker"}, "split_by")]
    for kwargs, match in cases:
        formats = kwargs.pop("formats")
        with pytest.raises(ConfigurationError, match=match):
            export(tmp_path / "out", formats, **kwargs)
    assert os.listdir(tmp_path / "out") == []


def test_an_input_folder_named_like_the_export_folder_is_refused(tmp_path, impl):
    inputs = tmp_path / "in"
    make_corpus(inputs)
    shutil.copyfile(inputs / CORPUS[0][0], inputs / f"{EXPORT_DIR_NAME}.wav")
    out = tmp_path / "out"
    run(inputs, out, impl)
    with pytest.raises(ExportError, match="holds the outputs of input"):
        export(out, "nemo")
    export(out, "nemo", export_dir=tmp_path / "elsewhere")
    check_nemo(tmp_path / "elsewhere" / "nemo" / "manifest.jsonl")


# ----------------------------------------------------------------------------------- the CLI
def cli(*args, env=None, check=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "remotemedia", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def test_run_with_export_and_segment_options(corpus, tmp_path, impl):
    out = tmp_path / "out"
    proc = cli("run", SPEECH_PREP, corpus, "-o", out, "--impl", impl, "--export", "hf,nemo,lhotse", "--split",
               "--split-by", "folder", "--pad-s", "0.05", "--merge-max-s", "3", "--min-duration-s", "0.5",
               "--segment-container", "flac", check=0)
    assert "export hf:" in proc.stdout and "export lhotse:" in proc.stdout
    rows = check_hf(out / EXPORT_DIR_NAME / "hf", out)
    for split, members in rows.items():  # --split-by folder: a speaker folder never straddles splits
        folders = {r["recording_id"].rsplit("/", 1)[0] for r in members}
        assert all(split_of(f, [("train", 0.8), ("validation", 0.1), ("test", 0.1)]) == split for f in folders)
    files = [r["file_name"] for m in rows.values() for r in m]
    assert files and all(f.endswith(".flac") for f in files)
    for e in collect_segments(out):
        params = e.record
        assert params["container"] == "flac" and params["duration_s"] >= 0.5 and params["duration_s"] <= 3.1
    check_nemo(out / EXPORT_DIR_NAME / "nemo" / "manifest.jsonl")
    check_lhotse(out / EXPORT_DIR_NAME / "lhotse")


def test_run_no_audio_writes_only_indexes_and_cuts_into_the_sources(corpus, tmp_path, impl):
    out = tmp_path / "out"
    cli("run", SPEECH_PREP, corpus, "-o", out, "--impl", impl, "--export", "lhotse,nemo", "--no-audio", "-q", check=0)
    assert not list(out.rglob("*.wav")) and len(list(out.rglob("*.segments.jsonl"))) == len(CORPUS)
    lh = check_lhotse(out / EXPORT_DIR_NAME / "lhotse", no_audio=True)
    assert {r["sources"][0]["source"] for r in lh["recordings"]} == {str(corpus / rel) for rel, _, _ in CORPUS}
    check_nemo(out / EXPORT_DIR_NAME / "nemo" / "manifest.jsonl", no_audio=True)
    proc = cli("export", out, "--format", "hf")  # no files to put in an audio folder
    assert proc.returncode == 2 and "written without audio" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--export", "hf,wav"], "export format"), (["--export", "hf", "--no-audio"], "cannot be combined"),
    (["--split"], "--split needs --export"), (["--export", "nemo", "--split"], "hf only"),
])
def test_run_refuses_bad_export_options_before_anything_runs(tmp_path, corpus, args, message):
    proc = cli("run", SPEECH_PREP, corpus, "-o", tmp_path / "out", *args)
    assert proc.returncode == 2 and message in proc.stderr and not (tmp_path / "out").exists()


def test_segment_options_need_a_segment_writer(tmp_path, corpus):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"version": "v1", "metadata": {"name": "m"}, "nodes": [
        {"id": "to_i16", "node_type": "FormatConverterNode", "params": {"target_format": "i16"}}]}))
    proc = cli("run", manifest, corpus, "-o", tmp_path / "out", "--pad-s", "0.1")
    assert proc.returncode == 2 and "--pad-s: the manifest has no SegmentWriter" in proc.stderr
    proc = cli("run", SPEECH_PREP, corpus, "-o", tmp_path / "out", "--pad-s", "-1")
    assert proc.returncode == 2 and "pad_s" in proc.stderr and "segments" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_export_command(corpus, tmp_path, impl):
    out = tmp_path / "out"
    run(corpus, out, impl)
    proc = cli("export", out, "--format", "nemo,lhotse", "--nemo-paths", "absolute", "--export-dir",
               tmp_path / "x", check=0)
    assert str(tmp_path / "x" / "nemo") in proc.stdout
    assert all(os.path.isabs(r["audio_filepath"]) for r in check_nemo(tmp_path / "x" / "nemo" / "manifest.jsonl"))
    assert cli("export", out, "--format", "hf", "-q", check=0).stdout == ""
    proc = cli("export", tmp_path / "nowhere", "--format", "hf")
    assert proc.returncode == 2 and "not a folder" in proc.stderr


def test_interrupted_and_resumed_batch_exports_the_same_bytes(tmp_path, impl):
    """A batch killed mid-way (SIGKILL) and resumed exports byte-identical manifests to one run straight through."""
    inputs = tmp_path / "in"
    make_corpus(inputs, extra=20)
    out = tmp_path / "out"
    args = ["run", SPEECH_PREP, inputs, "-o", out, "--impl", impl, "--workers", "1", "-q"]
    export_args = ["--export", "hf,nemo,lhotse", "--split"]
    cli(*args, *export_args, check=0)
    straight = export_bytes(out / EXPORT_DIR_NAME)
    assert len(straight) > 50
    shutil.rmtree(out)

    proc = subprocess.Popen([sys.executable, "-m", "remotemedia", *map(str, args)])
    ledger = out / "remotemedia-ledger.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ledger.exists() and ledger.read_text().count('"event": "input"') >= 3:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = ledger.read_text().count('"event": "input"')
    assert 3 <= done < len(CORPUS) + 20, "the batch was not interrupted"
    cli(*args, "--resume", *export_args, check=0)
    resumed = export_bytes(out / EXPORT_DIR_NAME)
    assert resumed.keys() == straight.keys()
    for name in straight:
        assert resumed[name] == straight[name], name
    skipped = [json.loads(x) for x in ledger.read_text().splitlines()]
    assert sum(1 for e in skipped if e.get("event") == "run") == 2
    # lhotse's gzip holds the same JSON lines too (not only the same compressed bytes)
    assert read_gz_lines(out / EXPORT_DIR_NAME / "lhotse" / "cuts.jsonl.gz")


def test_item_pipeline_segments_are_exported_too(tmp_path, impl):
    """The batch's item pipelines write their segments with SegmentWriter (NNNN.wav + segments.jsonl, the
    stream-only fields null): channels and frames come from the files, and --no-audio measures the source
    recordings."""
    manifest = {"version": "v1", "metadata": {"name": "item-prep"}, "nodes": [
        {"id": "resample", "node_type": "AudioResampleNode", "params": {"target_sample_rate": 16000}},
        {"id": "vad", "node_type": "VADNode", "params": {"backend": "webrtc", "segments": True}}]}
    inputs = tmp_path / "in"
    make_corpus(inputs)
    out = tmp_path / "out"
    assert run_batch(manifest, [str(inputs)], str(out), impl=impl).ok == len(CORPUS)
    export(out, "nemo,lhotse")
    rows = check_nemo(out / EXPORT_DIR_NAME / "nemo" / "manifest.jsonl")
    assert all(re.fullmatch(r"\d{4}\.wav", r["audio_filepath"].rsplit("/", 1)[-1]) for r in rows)  # issue 16
    check_lhotse(out / EXPORT_DIR_NAME / "lhotse")
    export(out, "nemo,lhotse", no_audio=True, export_dir=tmp_path / "cuts")
    check_nemo(tmp_path / "cuts" / "nemo" / "manifest.jsonl", no_audio=True)
    lh = check_lhotse(tmp_path / "cuts" / "lhotse", no_audio=True)
    assert {r["sampling_rate"] for r in lh["recordings"]} == {8000, 16000, 22050, 44100, 48000}


def test_nothing_to_export_is_an_error_and_a_batch_without_successes_exports_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no segments to export"):
        export(tmp_path / "empty", "nemo")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    proc = cli("run", SPEECH_PREP, tmp_path / "in", "-o", tmp_path / "out", "--export", "nemo", "-q")
    assert proc.returncode == 1 and "nothing exported" in proc.stderr
    assert not (tmp_path / "out" / EXPORT_DIR_NAME).exists()
