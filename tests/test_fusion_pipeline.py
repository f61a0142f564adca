"""Fused native segments through the pipeline: ``fuse="auto"`` gives what ``fuse="off"`` gives.

``tests/test_fused_native.py`` checks the compiled ``FusedSegment`` against
the nodes stage by stage. Here the engine plans the segment itself: random
chains of MonoMix / FormatConverter / AudioResample / VAD nodes over real
speech, random chunkings, streamed with ``Pipeline.stream(chunked=True)``
once fused and once not; every output (arrays to the bit, sample rates, VAD
infos with their segments), the clipping counters, the errors (naming the
node) and the metrics (every fused node under its own id) must agree. In the
pure install nothing fuses and the same comparisons hold trivially, so the
fusion-specific assertions are skipped there.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import wave
from typing import Any, Dict, List

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia.engine import fusion
from remotemedia.errors import NodeExecutionError
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, MonoMixNode, VADNode
from remotemedia.pipeline import Pipeline

SPEECH = pathlib.Path(__file__).resolve().parent / "data" / "speech"
FUSES = fusion.available()
_CACHE: Dict[str, Any] = {}


def speech(name: str):
    if name not in _CACHE:
        with wave.open(str(SPEECH / name)) as w:
            _CACHE[name] = (np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate())
    return _CACHE[name]


def build(kind: str, params: Dict[str, Any], name: str):
    if kind == "mix":
        return MonoMixNode(name=name)
    if kind == "convert":
        return FormatConverterNode(params["target_format"], name=name)
    if kind == "resample":
        return AudioResampleNode(params["target_sample_rate"], params["quality"], name=name)
    return VADNode(name=name, **params)


def pipeline(chain: List[tuple], fuse: str, metrics: bool = False) -> Pipeline:
    p = Pipeline(name="chain", fuse=fuse, enable_metrics=metrics)
    for kind, params, name in chain:
        p.add_node(build(kind, params, name))
    return p


def same(a: Any, b: Any, where: str) -> None:
    """Equal to the bit: arrays by dtype, shape and bytes; containers element by element."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: values differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


@st.composite
def vad_params(draw) -> Dict[str, Any]:
    webrtc = draw(st.booleans())
    p: Dict[str, Any] = {
        "segments": draw(st.booleans()),
        "min_speech_ms": draw(st.sampled_from([0.0, 60.0, 250.0])),
        "min_silence_ms": draw(st.sampled_from([0.0, 40.0, 300.0])),
        "pre_roll_ms": draw(st.sampled_from([0.0, 25.0, 100.0])),
        "post_roll_ms": draw(st.sampled_from([0.0, 100.0, 700.0])),
        "max_segment_s": draw(st.sampled_from([0.0, 0.6, 30.0])),
        "speech_ratio_threshold": draw(st.sampled_from([0.0, 0.5])),
    }
    if webrtc:
        p.update(backend="webrtc", mode=draw(st.integers(0, 3)), frame_duration_ms=draw(st.sampled_from([10, 20, 30])))
    else:
        p.update(backend="energy", frame_duration_ms=draw(st.sampled_from([10, 30])),
                 energy_threshold=draw(st.sampled_from([0.0, 0.01, 0.05])))
    return p


@st.composite
def chains(draw) -> List[tuple]:
    pool = []
    if draw(st.booleans()):
        pool.append(("mix", {}, "mix"))
    if draw(st.booleans()):
        pool.append(("convert", {"target_format": draw(st.sampled_from(["f32", "i16", "int32"]))}, "conv"))
    if draw(st.booleans()):
        pool.append(("resample", {"target_sample_rate": draw(st.sampled_from([8000, 16000, 22050])),
                                  "quality": draw(st.sampled_from(["low", "high"]))}, "rs"))
    chain = list(draw(st.permutations(pool)))
    if not chain or draw(st.integers(0, 3)):
        chain.append(("vad", draw(vad_params()), "vad"))
    return chain


@st.composite
def chunked_speech(draw):
    name = draw(st.sampled_from(["en_m_16k.wav", "de_m_22k.wav", "es_m_48k.wav"]))
    x, rate = speech(name)
    n = min(x.size, draw(st.integers(0, 3 * rate)))
    start = draw(st.integers(0, x.size - n))
    mono = x[start:start + n]
    channels = draw(st.sampled_from([1, 2]))
    a = np.stack([mono] * channels) if channels > 1 else mono[None, :]
    if channels == 2:
        a = a.copy()
        a[1] //= 2
    dtype = draw(st.sampled_from(["i16", "f32"]))
    if dtype == "f32":
        a = (a.astype(np.float32) / 32768.0) * np.float32(draw(st.sampled_from([1.0, 4.0])))
    size = draw(st.sampled_from([rate // 50, rate // 100 * 3, 4096, 7919]))
    chunks = [(a[:, i:i + size], rate) for i in range(0, a.shape[1], size)]
    return chunks


def run(p: Pipeline, chunks) -> list:
    return list(p.stream(iter(chunks), chunked=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chain=chains(), chunks=chunked_speech())
def test_fused_pipeline_gives_the_unfused_outputs(chain, chunks):
    fused, plain = pipeline(chain, "auto", metrics=True), pipeline(chain, "off")
    got, want = run(fused, chunks), run(plain, chunks)
    same(got, want, "outputs")
    for (kind, _, name) in chain:
        if kind == "convert":
            a, b = fused.get_node(name), plain.get_node(name)
            assert (a.total_clipped, a.last_clipped) == (b.total_clipped, b.last_clipped)
    if FUSES and chunks:
        # every node of the chain ran in the one segment, each reported under its own id
        assert fused.get_metrics()["fused"] == [[name for _, _, name in chain]]


def test_a_chain_is_planned_as_one_segment_in_the_native_build():
    chain = [("mix", {}, "mix"), ("resample", {"target_sample_rate": 16000, "quality": "high"}, "rs"),
             ("vad", {"backend": "webrtc", "segments": True}, "vad")]
    p = pipeline(chain, "auto", metrics=True)
    x, rate = speech("es_m_48k.wav")
    chunks = [(np.stack([x[i:i + 960], x[i:i + 960]]), rate) for i in range(0, 48000, 960)]
    out = run(p, chunks)
    # a result per chunk, then at the end the resampler's tail through the VAD, and the VAD's flush info
    # (1 s at 16 kHz: 33 whole 30 ms frames and the last partial one)
    assert len(out) == len(chunks) + 2
    assert isinstance(out[-1], dict) and out[-1]["total_frames"] == 34 and out[-1]["segments"]
    m = p.get_metrics()
    if not FUSES:
        assert m["fused"] == []
        pytest.skip("the pure install never fuses (checked above)")
    assert m["fused"] == [["mix", "rs", "vad"]]
    for nid in ("mix", "rs", "vad"):
        node = m["nodes"][nid]
        # a call per chunk, and the flush for the stages that keep state (the stateless mix has nothing to flush)
        assert node["calls"] == len(chunks) + (nid != "mix"), nid
        assert node["implementation"] == "native" and node["wall_us"] > 0, nid
        calls = [c for c in m["calls"] if c["node_id"] == nid]
        assert len(calls) == node["calls"] and all(c["extra"]["fused"] is True for c in calls), nid
    # the sizes come from the stages: the mix takes stereo int16 in and gives mono out, the resampler 48k -> 16k
    assert m["nodes"]["mix"]["input_samples"] == 2 * 48000 and m["nodes"]["mix"]["output_samples"] == 48000
    assert m["nodes"]["rs"]["output_samples"] == 16000


def test_fuse_off_and_the_manifest_setting_turn_it_off():
    chain = [("mix", {}, "mix"), ("vad", {"backend": "webrtc"}, "vad")]
    x, rate = speech("en_m_16k.wav")
    chunks = [(x[None, i:i + 320], rate) for i in range(0, 16000, 320)]
    off = pipeline(chain, "off", metrics=True)
    run(off, chunks)
    assert off.get_metrics()["fused"] == []
    manifest = off.to_manifest()
    manifest.setdefault("config", {})["fuse"] = "off"
    loaded = Pipeline.from_manifest(manifest, enable_metrics=True)
    assert loaded.fuse == "off"
    run(loaded, chunks)
    assert loaded.get_metrics()["fused"] == []


@pytest.mark.parametrize("fuse", ["auto", "off"])
def test_a_failure_inside_the_segment_names_the_node(fuse):
    """A sample rate that changes mid-stream fails in the resampler: the error names it in both modes."""
    chain = [("mix", {}, "mix"), ("resample", {"target_sample_rate": 16000, "quality": "high"}, "rs"),
             ("vad", {"backend": "webrtc"}, "vad")]
    p = pipeline(chain, fuse)
    x, _ = speech("en_m_16k.wav")
    chunks = [(x[None, :1600], 16000), (x[None, 1600:3200], 22050)]
    with pytest.raises(NodeExecutionError) as info:
        run(p, chunks)
    assert info.value.node_id == "rs"
    assert "22050" in str(info.value)


def test_input_the_fused_mix_does_not_reproduce_runs_unfused_with_the_same_answers():
    """Float input with 8 or more channels: the fused mix refuses it before anything ran, and the nodes
    take the stream themselves (same outputs as fuse="off")."""
    rng = np.random.default_rng(5)
    chunks = [(rng.uniform(-0.5, 0.5, (9, 4800)).astype(np.float32), 48000) for _ in range(4)]
    chain = [("mix", {}, "mix"), ("resample", {"target_sample_rate": 16000, "quality": "high"}, "rs")]
    got = run(pipeline(chain, "auto"), chunks)
    want = run(pipeline(chain, "off"), chunks)
    same(got, want, "outputs")


# ----------------------------------------------------------------------------- the command line

MANIFEST = pathlib.Path(__file__).resolve().parent.parent / "examples" / "pipelines" / "speech_prep.json"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "remotemedia", *args], capture_output=True, text=True, timeout=300)


def test_validate_and_info_say_what_fuses():
    r = cli("validate", str(MANIFEST))
    assert r.returncode == 0, r.stderr
    info = cli("info")
    assert info.returncode == 0, info.stderr
    if FUSES:
        assert "fused native segments: mono -> resample -> vad" in r.stdout
        assert "fused native segments: on in chunk streams for runs of" in info.stdout
        assert "VADNode" in info.stdout.rsplit("fused native segments:", 1)[1]
    else:
        assert "fused native segments: none (native kernels unavailable" in r.stdout
        assert "fused native segments: unavailable" in info.stdout


def test_run_no_fuse_gives_the_same_files_and_metrics_without_fused_calls(tmp_path):
    """``remotemedia run`` fuses the speech chain; ``--no-fuse`` runs the nodes one by one: the same segment
    files and index bytes, the same ledger outcome, and --resume across the two is not a changed manifest."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("en_m_16k.wav", "es_m_48k.wav"):
        shutil.copy(SPEECH / name, inputs / name)
    outs = {}
    for flag in ("auto", "off"):
        out = tmp_path / f"out_{flag}"
        extra = ["--no-fuse"] if flag == "off" else []
        r = cli("run", str(MANIFEST), str(inputs), "-o", str(out), "-q", "--metrics", str(tmp_path / f"{flag}.json"),
                *extra)
        assert r.returncode == 0, r.stderr
        runs = json.loads((tmp_path / f"{flag}.json").read_text())["runs"]
        assert len(runs) == 2
        fused_calls = [c for run in runs for c in run["calls"] if (c.get("extra") or {}).get("fused")]
        if flag == "auto" and FUSES:
            assert all(run["fused"] == [["mono", "resample", "vad"]] for run in runs)
            assert {c["node_id"] for c in fused_calls} == {"mono", "resample", "vad"}
        else:
            assert all(run["fused"] == [] for run in runs) and not fused_calls
        outs[flag] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                      if p.is_file() and p.suffix in (".wav", ".jsonl") and p.name != "remotemedia-ledger.jsonl"}
    assert outs["auto"].keys() == outs["off"].keys() and len(outs["auto"]) > 4
    for name in outs["auto"]:
        assert outs["auto"][name] == outs["off"][name], name
    # the fused run's folder resumed without fusion: nothing is stale, nothing is redone
    r = cli("run", str(MANIFEST), str(inputs), "-o", str(tmp_path / "out_auto"), "--resume", "--no-fuse")
    assert r.returncode == 0, r.stderr
    assert "skipped          2   (done in an earlier run)" in r.stdout, r.stdout
