"""The built-in demo (``remotemedia demo``): speech preparation over a generated corpus.

The corpus comes from three short real-speech recordings shipped in
``remotemedia/data/speech/`` (synthesised with espeak-ng and sox; see the
README there). :func:`make_corpus` expands them deterministically into a few
hundred WAV files: 7 sample rates from 8 to 48 kHz, mono and stereo, 16- and
32-bit, each with its own amount of silence and noise around the speech.
:func:`run_demo` runs the speech-preparation pipeline over the corpus as a
batch, prints the summary, writes the HTML report when this build has the
metrics exporters, and runs a subset once with the native kernels and once
with numpy to compare outputs and time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from remotemedia.audio import AudioBuffer

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SPEECH_FILES = ("en_f_8k.wav", "en_m_16k.wav", "de_m_22k.wav")
RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
#: (name, channels, sample format)
LAYOUTS = (("mono16", 1, "i16"), ("stereo16", 2, "i16"), ("mono32", 1, "i32"))
VARIANTS = 4
CORPUS_SIZE = len(SPEECH_FILES) * len(RATES) * len(LAYOUTS) * VARIANTS  # 252
COMPARE_FILES = 12


def demo_manifest_path() -> str:
    """The speech-preparation manifest the demo runs: ``data/pipelines/speech_prep.json``,
    the packaged copy of ``examples/pipelines/speech_prep.json`` (a test keeps them equal)."""
    return os.path.join(DATA_DIR, "pipelines", "speech_prep.json")


def corpus_plan(num_files: Optional[int] = None) -> List[Tuple[str, int, str, int, str, int]]:
    """The files of the corpus: ``(speech file, rate, layout, channels, format, variant)``.

    ``num_files`` below :data:`CORPUS_SIZE` takes evenly spaced entries, so a
    small corpus still covers every recording, rate and layout.
    """
    plan = [(src, rate, name, ch, fmt, v) for src in SPEECH_FILES for rate in RATES
            for name, ch, fmt in LAYOUTS for v in range(VARIANTS)]
    if num_files is not None and num_files < len(plan):
        idx = np.unique(np.linspace(0, len(plan) - 1, max(1, num_files)).round().astype(int))
        plan = [plan[i] for i in idx]
    return plan


def make_corpus(folder: str, num_files: Optional[int] = None) -> Dict[str, Any]:
    """Writes the demo corpus into ``folder/<recording>/<rate>_<layout>_v<k>.wav``.

    Deterministic: the same files, byte for byte, on every run (the noise comes
    from a generator seeded by the file's identity; resampling uses the default
    implementation, whose outputs agree to float rounding across implementations).

    Returns:
        ``{"files": count, "audio_s": total duration (s), "bytes": total size}``.
    """
    from remotemedia.io import read_audio, write_audio
    from remotemedia.kernels.convert import convert_format
    from remotemedia.kernels.resample import resample

    speech: Dict[str, AudioBuffer] = {}
    at_rate: Dict[Tuple[str, int], np.ndarray] = {}
    total_s, total_bytes = 0.0, 0
    plan = corpus_plan(num_files)
    for src, rate, layout, channels, fmt, variant in plan:
        if src not in speech:
            speech[src] = AudioBuffer(*read_audio(os.path.join(DATA_DIR, "speech", src)))
        if (src, rate) not in at_rate:
            audio = speech[src]
            x = convert_format(audio.samples, "f32").samples
            at_rate[(src, rate)] = x[0] if audio.sample_rate == rate else resample(x[0], audio.sample_rate, rate)
        x = at_rate[(src, rate)]
        # Seeded by the file's identity: a file is the same in a small corpus and in the full one.
        seed = (SPEECH_FILES.index(src) * 100_000 + RATES.index(rate) * 1000
                + LAYOUTS.index((layout, channels, fmt)) * 10 + variant)
        rng = np.random.default_rng(seed)
        lead, trail = (int(rate * s) for s in rng.uniform(0.2, 1.2, size=2))
        gain = rng.uniform(0.35, 1.0)
        noise_rms = 10 ** (rng.uniform(-62, -42) / 20)
        mono = np.concatenate([np.zeros(lead, np.float32), gain * x, np.zeros(trail, np.float32)])
        chans = [mono, 0.8 * mono][:channels]
        samples = np.stack([c + noise_rms * rng.standard_normal(c.size) for c in chans]).astype(np.float32)
        samples = convert_format(np.clip(samples, -1.0, 1.0), fmt).samples
        name = f"{os.path.splitext(src)[0]}/{rate}_{layout}_v{variant}.wav"
        path = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_audio(path, samples, rate, "i32" if samples.dtype == np.int32 else "i16")
        total_s += samples.shape[1] / rate
        total_bytes += os.path.getsize(path)
    return {"files": len(plan), "audio_s": total_s, "bytes": total_bytes}


def _compare(a_dir: str, b_dir: str, keys: List[str]) -> Dict[str, Any]:
    """Compares two batch outputs: segment lists and segment samples, key by key."""
    from remotemedia.io import read_audio

    same_segments = True
    max_diff = 0
    for key in keys:
        fa, fb = (os.path.join(d, *key.split("/")) for d in (a_dir, b_dir))
        names_a, names_b = sorted(os.listdir(fa)), sorted(os.listdir(fb))
        if names_a != names_b:
            same_segments = False
            continue
        for name in names_a:
            if name.endswith(".jsonl"):
                with open(os.path.join(fa, name)) as ha, open(os.path.join(fb, name)) as hb:
                    sa = [json.loads(line) for line in ha]
                    sb = [json.loads(line) for line in hb]
                if [(s["start"], s["end"]) for s in sa] != [(s["start"], s["end"]) for s in sb]:
                    same_segments = False
            elif name.endswith(".wav"):
                (wa, _), (wb, _) = read_audio(os.path.join(fa, name)), read_audio(os.path.join(fb, name))
                if wa.shape != wb.shape:
                    same_segments = False
                elif wa.size:
                    diff = np.abs(wa.astype(np.int64) - wb.astype(np.int64)).max()
                    max_diff = max(max_diff, int(diff))
    return {"same_segments": same_segments, "max_sample_diff": max_diff}


def run_demo(out_dir: Optional[str] = None, workers: Optional[int] = None, report_path: Optional[str] = None,
             progress: Optional[bool] = None, num_files: Optional[int] = None,
             print_fn: Any = print) -> Dict[str, Any]:
    """Runs the demo and prints what it measured.

    Args:
        out_dir: keep the corpus (``corpus/``), the outputs (``prepared/``),
            the comparison runs and ``report.html`` here; None = a temporary
            folder removed at the end.
        workers: worker threads (default: CPU cores).
        report_path: where to write the HTML report (default ``out_dir/report.html``,
            or ``remotemedia-demo-report.html`` in the current folder without ``out_dir``).
        progress: the progress bar: None = when stderr is a terminal.
        num_files: corpus size (default :data:`CORPUS_SIZE`).
        print_fn: where lines go.

    Returns:
        ``{"ok": every file processed (and, when compared, the same outputs),
        "report": the batch report, "implementation", "compare": {...} or None}``.
    """
    from remotemedia import _native
    from remotemedia.batch import make_progress, run_batch
    from remotemedia.kernels import native_missing_reason

    temp = out_dir is None
    work = tempfile.mkdtemp(prefix="remotemedia-demo-") if temp else os.path.abspath(out_dir)
    try:
        corpus = os.path.join(work, "corpus")
        if os.path.isdir(corpus):
            shutil.rmtree(corpus)
        t0 = time.perf_counter()
        made = make_corpus(corpus, num_files)
        print_fn(f"demo corpus: {made['files']} files from {len(SPEECH_FILES)} speech recordings "
                 f"({len(RATES)} rates 8-48 kHz, mono/stereo, 16/32-bit, silence and noise around the speech), "
                 f"{made['audio_s'] / 60:.1f} min of audio, {made['bytes'] / 1e6:.0f} MB, "
                 f"made in {time.perf_counter() - t0:.1f} s")
        manifest = demo_manifest_path()
        print_fn(f"pipeline: {os.path.relpath(manifest, os.path.dirname(DATA_DIR))}")
        prepared = os.path.join(work, "prepared")
        if os.path.isdir(prepared):
            shutil.rmtree(prepared)
        report = run_batch(manifest, [corpus], prepared, workers=workers, progress=make_progress(progress))
        impls = sorted({i for r in report.results for i in (r.get("impl") or {}).values()})
        implementation = impls[0] if len(impls) == 1 else ", ".join(impls) or _native.STATUS.impl
        print_fn(f"implementation: {implementation}")
        print_fn(report.summary())
        _write_report(report, report_path or (os.path.join(work, "report.html") if not temp
                                              else "remotemedia-demo-report.html"), print_fn)
        compare = None
        reason = next((r for r in (native_missing_reason(f) for f in ("resample", "webrtc_vad")) if r), None)
        if reason is not None:
            print_fn(f"native vs numpy: skipped (native kernels unavailable: {reason})")
        else:
            compare = _compare_impls(corpus, work, workers, print_fn)
        ok = report.exit_code == 0 and (compare is None or compare["same_segments"])
        return {"ok": ok, "report": report, "implementation": implementation, "compare": compare}
    finally:
        if temp:
            shutil.rmtree(work, ignore_errors=True)


def _compare_impls(corpus: str, work: str, workers: Optional[int], print_fn: Any) -> Dict[str, Any]:
    from remotemedia.batch import discover_inputs, run_batch

    items = discover_inputs([corpus])
    step = max(1, len(items) // COMPARE_FILES)
    subset = [it.source for it in items[::step][:COMPARE_FILES]]
    runs = {}
    for impl in ("native", "python"):
        out = os.path.join(work, f"compare-{impl}")
        if os.path.isdir(out):
            shutil.rmtree(out)
        runs[impl] = run_batch(demo_manifest_path(), subset, out, workers=workers, impl=impl)
    keys = [r["key"] for r in runs["native"].results if r["status"] == "ok"]
    result = _compare(os.path.join(work, "compare-native"), os.path.join(work, "compare-python"), keys)
    native_s, python_s = runs["native"].wall_s, runs["python"].wall_s
    result.update(files=len(subset), native_s=native_s, python_s=python_s, speedup=python_s / native_s)
    print_fn(f"native vs numpy on {len(subset)} files: same segments: {result['same_segments']}, "
             f"samples max |diff| {result['max_sample_diff']} LSB; native {native_s:.2f} s, numpy {python_s:.2f} s: "
             f"{result['speedup']:.1f}x faster (wall time of the same batch, same workers)")
    return result


def _write_report(report: Any, path: str, print_fn: Any) -> None:
    try:
        from remotemedia.metrics import write_html_report  # type: ignore[import-not-found,attr-defined]
    except ImportError:
        print_fn("HTML report: not available in this build (remotemedia.metrics.write_html_report is missing)")
        return
    write_html_report(path, report.file_metrics())
    print_fn(f"HTML report: {path}")
