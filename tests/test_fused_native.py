"""The native fused segment gives the unfused nodes' outputs, bit for bit.

``remotemedia_runtime.FusedSegment`` runs a run of stages (mono mix,
conversion, resampling, WebRTC and energy VAD) in one call per chunk. Here
hypothesis draws runs of stages, their parameters, real speech in every
sample format and layout, and chunkings; the same chunks go through the
unfused nodes (``process`` / ``process_chunk`` per chunk, then ``flush`` in
the streaming engine's order: a stage first takes what its feeding stage
emitted at the end of the stream, then flushes), and every output must be
identical: arrays (dtype, shape, bits), clipped counts, decisions,
segments, ``keep_from``, the flush info. The Rust ``SegmentTracker`` is
compared with the Python one on random decision and energy sequences.

Skipped without the native module (a pure install never fuses).
"""

from __future__ import annotations

import json
import pathlib
import wave
from typing import Any, Dict, List

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remotemedia import _native
from remotemedia.kernels.segments import SegmentTracker
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.nodes.io_audio import MonoMixNode

rt = _native.module()
pytestmark = pytest.mark.skipif(rt is None or not hasattr(rt, "FusedSegment"),
                                reason=f"native fused segments unavailable: {_native.STATUS.reason}")

SPEECH = pathlib.Path(__file__).resolve().parent / "data" / "speech"
FILES = ["en_f_8k.wav", "en_m_16k.wav", "de_m_22k.wav", "fr_f_44k.wav", "es_m_48k.wav"]
_CACHE: Dict[str, Any] = {}


def speech(name: str):
    if name not in _CACHE:
        with wave.open(str(SPEECH / name)) as w:
            _CACHE[name] = (np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate())
    return _CACHE[name]


# ----------------------------------------------------------------------------- unfused reference


def make_node(stage: dict):
    kind, p, name = stage["kind"], stage.get("params", {}), stage["id"]
    if kind == "mono_mix":
        return MonoMixNode(runtime_hint="native", name=name)
    if kind == "convert":
        return FormatConverterNode(p.get("target_format", "f32"), runtime_hint="native", name=name)
    if kind == "resample":
        return AudioResampleNode(p.get("target_sample_rate", 16000), p.get("quality", "high"),
                                 runtime_hint="native", name=name)
    seg = {k: p[k] for k in ("min_speech_ms", "min_silence_ms", "pre_roll_ms", "post_roll_ms", "max_segment_s",
                             "speech_ratio_threshold", "segments") if k in p}
    if kind == "webrtc_vad":
        return VADNode(frame_duration_ms=p.get("frame_ms", 30), backend="webrtc", mode=p.get("mode", 3),
                       runtime_hint="native", name=name, **seg)
    return VADNode(frame_duration_ms=p.get("frame_ms", 30), energy_threshold=p.get("energy_threshold", 0.02),
                   backend="energy", runtime_hint="native", name=name, **seg)


def topo(spec: dict) -> List[str]:
    children: Dict[str, List[str]] = {s["id"]: [] for s in spec["stages"]}
    for e in spec["edges"]:
        children[e["from"]].append(e["to"])
    order, todo = [], [spec["input"]]
    while todo:
        s = todo.pop(0)
        order.append(s)
        todo += children[s]
    return order


class Unfused:
    """The spec's stages as nodes, driven the way the streaming engine drives them."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.nodes = {s["id"]: make_node(s) for s in spec["stages"]}
        self.kind = {s["id"]: s["kind"] for s in spec["stages"]}
        self.parent = {e["to"]: e["from"] for e in spec["edges"]}
        self.children: Dict[str, List[str]] = {s: [] for s in self.nodes}
        for e in spec["edges"]:
            self.children[e["from"]].append(e["to"])
        self.order = topo(spec)

    def call(self, sid: str, data: Any) -> Any:
        node = self.nodes[sid]
        if self.kind[sid] in ("resample", "webrtc_vad", "energy_vad"):
            out = node.process_chunk(data)
        else:
            out = node.process(data)
        if self.kind[sid] == "convert":
            out = (out[0], out[1], node.last_clipped)
        return out

    def process(self, samples: np.ndarray, sample_rate: int) -> Dict[str, Any]:
        outs: Dict[str, Any] = {}
        for sid in self.order:
            data = (samples, sample_rate) if sid == self.spec["input"] else outs[self.parent[sid]]
            outs[sid] = self.call(sid, data)
        return {sid: outs[sid] for sid in self.spec["outputs"]}

    def flush(self) -> Dict[str, List[Any]]:
        emitted: Dict[str, List[Any]] = {sid: [] for sid in self.nodes}
        fed: Dict[str, List[Any]] = {sid: [] for sid in self.nodes}
        for sid in self.order:
            for chunk in fed[sid]:
                out = self.call(sid, chunk)
                emitted[sid].append(out)
                for c in self.children[sid]:
                    fed[c].append(out)
            if self.kind[sid] in ("resample", "webrtc_vad", "energy_vad"):
                out = self.nodes[sid].flush()
                if out is not None:
                    emitted[sid].append(out)
                    for c in self.children[sid]:
                        fed[c].append(out)
        return {sid: emitted[sid] for sid in self.spec["outputs"]}


# ----------------------------------------------------------------------------- comparison


def same_array(a: np.ndarray, b: np.ndarray, where: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    assert a.tobytes() == b.tobytes(), f"{where}: values differ"


def seg_tuples(segments: list) -> list:
    return [(s["start"], s["end"], s["start_s"], s["end_s"]) for s in segments]


def same_vad_info(fused: dict, unfused: dict, where: str) -> None:
    same_array(fused["decisions"], unfused["decisions"], where + " decisions")
    assert fused["new_segments"] == seg_tuples(unfused["new_segments"]), where
    assert fused["keep_from"] == unfused["keep_from"], where


def same_output(kind: str, fused: Any, unfused: Any, where: str) -> None:
    if isinstance(unfused, dict):  # a VAD's flush info
        if not unfused:
            assert fused == {}, where
            return
        same_array(fused["decisions"], unfused["decisions"], where + " decisions")
        same_array(fused["flushed_decisions"], unfused["flushed_decisions"], where + " flushed")
        for key in ("is_speech", "speech_frames", "total_frames", "speech_ratio"):
            assert fused[key] == unfused[key], f"{where} {key}: {fused[key]} != {unfused[key]}"
        assert fused["new_segments"] == seg_tuples(unfused["new_segments"]), where
        assert ("segments" in fused) == ("segments" in unfused), where
        if "segments" in unfused:
            assert fused["segments"] == seg_tuples(unfused["segments"]), where
        return
    same_array(fused[0], unfused[0], where + " audio")
    assert fused[1] == unfused[1], where + " sample_rate"
    if kind == "convert":
        assert fused[2] == unfused[2], where + " clipped"
    if kind in ("webrtc_vad", "energy_vad"):
        same_vad_info(fused[2], unfused[2], where)


# ----------------------------------------------------------------------------- strategies


@st.composite
def vad_stage(draw, sid: str) -> dict:
    webrtc = draw(st.booleans())
    p: Dict[str, Any] = {
        "min_speech_ms": draw(st.sampled_from([0.0, 60.0, 250.0])),
        "min_silence_ms": draw(st.sampled_from([0.0, 40.0, 300.0])),
        "pre_roll_ms": draw(st.sampled_from([0.0, 25.0, 100.0])),
        "post_roll_ms": draw(st.sampled_from([0.0, 25.0, 100.0, 700.0])),
        "max_segment_s": draw(st.sampled_from([0.0, 0.25, 0.6, 30.0])),
        "speech_ratio_threshold": draw(st.sampled_from([0.0, 0.5])),
        "segments": draw(st.booleans()),
    }
    if webrtc:
        p["mode"] = draw(st.integers(0, 3))
        p["frame_ms"] = draw(st.sampled_from([10, 20, 30]))
    else:
        p["frame_ms"] = draw(st.sampled_from([5, 10, 30, 100]))
        p["energy_threshold"] = draw(st.sampled_from([0.0, 0.01, 0.05]))
    return {"id": sid, "kind": "webrtc_vad" if webrtc else "energy_vad", "params": p}


@st.composite
def specs(draw) -> dict:
    """A run of stages: optional mix, convert, resample (any order of what is drawn), a VAD or not,
    and sometimes a second branch (fan-out) off one of them."""
    pool = []
    if draw(st.booleans()):
        pool.append({"id": "mix", "kind": "mono_mix"})
    if draw(st.booleans()):
        pool.append({"id": "conv", "kind": "convert",
                     "params": {"target_format": draw(st.sampled_from(["f32", "i16", "int32", "F32"]))}})
    if draw(st.booleans()):
        pool.append({"id": "rs", "kind": "resample",
                     "params": {"target_sample_rate": draw(st.sampled_from([8000, 16000, 22050, 48000])),
                                "quality": draw(st.sampled_from(["low", "medium", "high", "very_high"]))}})
    chain = draw(st.permutations(pool))
    if draw(st.integers(0, 3)) or not chain:  # a VAD at the end 3 times in 4
        chain = list(chain) + [draw(vad_stage("vad"))]
    stages = list(chain)
    edges = [{"from": a["id"], "to": b["id"]} for a, b in zip(chain, chain[1:])]
    audio_stages = [s["id"] for s in chain if s["kind"] in ("mono_mix", "convert", "resample")]
    if audio_stages and draw(st.booleans()):
        src = draw(st.sampled_from(audio_stages))
        branch = draw(st.one_of(vad_stage("vad2"), st.just({"id": "conv2", "kind": "convert",
                                                              "params": {"target_format": "i16"}})))
        stages.append(branch)
        edges.append({"from": src, "to": branch["id"]})
    outputs = draw(st.lists(st.sampled_from([s["id"] for s in stages]), min_size=1, unique=True))
    return {"stages": stages, "edges": edges, "input": chain[0]["id"], "outputs": outputs}


@st.composite
def inputs(draw):
    """Real speech: an excerpt, some channels, a sample format, a layout, a rate, a chunking."""
    name = draw(st.sampled_from(FILES))
    x, rate = speech(name)
    rate = draw(st.sampled_from([rate, rate, 32000, 12000]))
    sizes = draw(st.lists(st.one_of(st.integers(0, 5), st.integers(100, 8000), st.integers(100, 8000),
                                    st.sampled_from([rate // 50, rate // 100])), min_size=1, max_size=8))
    if max(sizes) < 100:  # tiny chunks only: a short excerpt keeps the example fast
        n = draw(st.integers(0, rate // 10))
    else:
        n = draw(st.one_of(st.integers(0, 300), st.integers(rate // 2, int(1.6 * rate)),
                           st.integers(int(1.5 * rate), 4 * rate)))
    n = min(n, x.size)
    start = draw(st.integers(0, x.size - n))
    mono = x[start:start + n]
    channels = draw(st.sampled_from([1, 1, 2, 3]))
    rows = [mono]
    for c in range(1, channels):  # each further channel: scaled and delayed
        shifted = np.concatenate([np.zeros(min(5 * c, n), np.int16), mono[:max(0, n - 5 * c)]])
        rows.append((shifted.astype(np.int32) * (4 - c) // 4).astype(np.int16))
    a = np.stack(rows)
    dtype = draw(st.sampled_from(["i16", "i32", "f32", "f64"]))
    gain = draw(st.sampled_from([1.0, 8.0]))  # 8x: floats beyond [-1, 1] (clipping on the way to ints)
    if dtype == "i16":
        a = a
    elif dtype == "i32":
        a = (a.astype(np.int32) << 16) + np.int32(draw(st.integers(-3, 3)))
    else:
        a = (a.astype(np.float64) / 32768.0 * gain).astype(np.float32 if dtype == "f32" else np.float64)
    layout = draw(st.sampled_from(["planar", "interleaved", "strided", "1d"]))
    if layout == "interleaved":
        a = np.ascontiguousarray(a.T).T
    elif layout == "strided":
        wide = np.repeat(a, 2, axis=1)
        wide[:, 1::2] = 0
        a = wide[:, ::2]
    elif layout == "1d" and channels == 1:
        a = a[0]
    return a, rate, sizes


def chunks_of(a: np.ndarray, sizes: List[int]):
    n = a.shape[-1]
    pos, k = 0, 0
    out = []
    while pos < n or not out:
        size = sizes[k % len(sizes)]
        k += 1
        if size == 0 and k > 4 * len(sizes):
            size = 1
        out.append(a[..., pos:pos + size])
        pos += size
    return out


def float_mix_refused(spec: dict, a: np.ndarray) -> bool:
    """The fused mono mix refuses float input of 8+ channels; none is drawn here."""
    return a.dtype.kind == "f" and a.ndim == 2 and a.shape[0] >= 8


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=specs(), data=inputs())
def test_fused_segment_equals_the_unfused_nodes(spec, data):
    a, rate, sizes = data
    assert not float_mix_refused(spec, a)
    fused = rt.FusedSegment(json.dumps(spec))
    unfused = Unfused(spec)
    kinds = fused.kinds
    for stream in range(2):  # a second stream after the flush: fresh state in both
        for i, chunk in enumerate(chunks_of(a, sizes)):
            want = unfused.process(chunk, rate)
            got = fused.process(chunk, rate)
            assert set(got) == set(spec["outputs"])
            for sid in spec["outputs"]:
                same_output(kinds[sid], got[sid], want[sid], f"stream {stream} chunk {i} stage {sid}")
        want_flush = unfused.flush()
        got_flush = fused.flush()
        for sid in spec["outputs"]:
            assert len(got_flush[sid]) == len(want_flush[sid]), f"flush of {sid}"
            for k, (g, w) in enumerate(zip(got_flush[sid], want_flush[sid])):
                same_output(kinds[sid], g, w, f"stream {stream} flush {k} stage {sid}")
        sizes = sizes[::-1]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("vad", ["webrtc_vad", "energy_vad"])
def test_speech_chains_on_20ms_stereo_chunks_with_segments(name, vad):
    """MonoMix -> Resample 16k -> VAD with segments on 20 ms chunks of stereo speech (whole files)."""
    x, rate = speech(name)
    a = np.ascontiguousarray(np.stack([x, x // 2]).T).T  # interleaved, as a PCM reader gives it
    params = {"segments": True, "min_speech_ms": 100, "min_silence_ms": 150, "max_segment_s": 1.0}
    if vad == "energy_vad":
        params["energy_threshold"] = 0.01
    spec = {"stages": [{"id": "mix", "kind": "mono_mix"},
                       {"id": "rs", "kind": "resample", "params": {"target_sample_rate": 16000}},
                       {"id": "vad", "kind": vad, "params": params}],
            "edges": [{"from": "mix", "to": "rs"}, {"from": "rs", "to": "vad"}],
            "input": "mix", "outputs": ["vad"]}
    fused, unfused = rt.FusedSegment(json.dumps(spec)), Unfused(spec)
    segments = []
    for i, chunk in enumerate(chunks_of(a, [rate // 50])):
        got, want = fused.process(chunk, rate), unfused.process(chunk, rate)
        same_output(vad, got["vad"], want["vad"], f"chunk {i}")
        segments += got["vad"][2]["new_segments"]
    final = fused.flush()["vad"]
    want = unfused.flush()["vad"]
    assert len(final) == len(want) == 2  # the chunk of the resampler's tail, then the flush info
    for k, (g, w) in enumerate(zip(final, want)):
        same_output(vad, g, w, f"flush {k}")
    segments += final[0][2]["new_segments"] + final[-1]["new_segments"]
    assert len(segments) >= 2 and segments == final[-1]["segments"]
    assert 0 < final[-1]["speech_frames"] < final[-1]["total_frames"]


def test_stage_metrics_of_the_latest_call():
    x, rate = speech("es_m_48k.wav")
    a = np.stack([x, x // 2])
    spec = {"stages": [{"id": "mix", "kind": "mono_mix"},
                       {"id": "rs", "kind": "resample", "params": {"target_sample_rate": 16000}},
                       {"id": "vad", "kind": "webrtc_vad"}],
            "edges": [{"from": "mix", "to": "rs"}, {"from": "rs", "to": "vad"}],
            "input": "mix", "outputs": ["vad"]}
    fused = rt.FusedSegment(json.dumps(spec))
    for chunk in chunks_of(a[:, :48000], [960]):
        fused.process(chunk, rate)
    fused.flush()
    # Metrics of the latest call, per stage: the flush ran the resampler's flush, then the VAD twice
    # (the resampler's tail as a chunk, then its own flush).
    assert set(fused.stage_times_us()) == {"rs", "vad"}
    assert fused.stage_sizes()["rs"]["calls"] == 1 and fused.stage_sizes()["vad"]["calls"] == 2
    fused.process(a[:, :960], rate)
    sizes = fused.stage_sizes()
    assert sizes["mix"]["in_samples"] == 1920 and sizes["mix"]["in_bytes"] == 3840
    assert sizes["mix"]["out_samples"] == 960 and sizes["rs"]["in_samples"] == 960
    assert set(fused.stage_times_us()) == {"mix", "rs", "vad"}
    assert all(t >= 0 for t in fused.stage_times_us().values())


def test_passed_through_audio_is_the_callers_array():
    spec = {"stages": [{"id": "mix", "kind": "mono_mix"}, {"id": "f", "kind": "convert"},
                       {"id": "v", "kind": "energy_vad"}],
            "edges": [{"from": "mix", "to": "f"}, {"from": "f", "to": "v"}], "input": "mix",
            "outputs": ["mix", "f", "v"]}
    fused = rt.FusedSegment(json.dumps(spec))
    x = np.linspace(-1, 1, 480, dtype=np.float32)[np.newaxis, :]
    out = fused.process(x, 16000)
    assert out["mix"][0] is x and out["f"][0] is x and out["v"][0] is x
    one_d = fused.process(x[0], 16000)
    assert one_d["mix"][0].shape == (1, 480) and np.shares_memory(one_d["mix"][0], x)


def test_errors_name_the_stage_as_the_nodes_do():
    spec = {"stages": [{"id": "rs", "kind": "resample"}, {"id": "v", "kind": "webrtc_vad"}],
            "edges": [{"from": "rs", "to": "v"}], "input": "rs", "outputs": ["v"]}
    fused = rt.FusedSegment(json.dumps(spec))
    node = AudioResampleNode(runtime_hint="native", name="rs")
    x = np.zeros((1, 480), np.float32)
    fused.process(x, 48000)
    node.process_chunk((x, 48000))
    with pytest.raises(ValueError, match="sample_rate: expected 48000 Hz") as got:
        fused.process(x, 44100)
    assert got.value.stage_id == "rs" and str(got.value).startswith('stage "rs": ')
    with pytest.raises(ValueError, match="sample_rate: expected 48000 Hz"):
        node.process_chunk((x, 44100))
    with pytest.raises(ValueError, match=r'^stage "v": mode: expected 0, 1, 2 or 3, given 7$'):
        rt.FusedSegment(json.dumps({"stages": [{"id": "v", "kind": "webrtc_vad", "params": {"mode": 7}}],
                                    "input": "v", "outputs": []}))
    with pytest.raises(ValueError, match="cycle"):
        rt.FusedSegment(json.dumps({"stages": [{"id": "a", "kind": "convert"}, {"id": "b", "kind": "convert"}],
                                    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
                                    "input": "a", "outputs": []}))
    with pytest.raises(ValueError, match="samples: expected dtype int16, int32, float32 or float64, given uint8"):
        fused.process(np.zeros((1, 4), np.uint8), 48000)


def test_float_audio_of_eight_channels_is_refused_before_anything_runs():
    spec = {"stages": [{"id": "mix", "kind": "mono_mix"}, {"id": "rs", "kind": "resample"}],
            "edges": [{"from": "mix", "to": "rs"}], "input": "mix", "outputs": ["rs"]}
    fused = rt.FusedSegment(json.dumps(spec))
    with pytest.raises(ValueError, match="run this node unfused") as got:
        fused.process(np.zeros((8, 100), np.float32), 48000)
    assert got.value.stage_id == "mix"
    # The stream had not started: 44.1 kHz is taken now.
    fused.process(np.zeros((2, 100), np.float32), 44100)


def test_normalize_segment_equals_the_node():
    from remotemedia.nodes.video import NormalizeFrameNode

    spec = {"stages": [{"id": "n", "kind": "normalize", "params": {"mean": [0.1, 0.2, 0.3], "std": 0.5}}],
            "input": "n", "outputs": ["n"]}
    fused = rt.FusedSegment(json.dumps(spec))
    assert fused.input_kind == "video"
    frame = np.random.default_rng(1).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    node = NormalizeFrameNode([0.1, 0.2, 0.3], 0.5, runtime_hint="native")
    same_array(fused.process_frame(frame)["n"], node.process(frame), "tensor")
    crop = frame[1:5, 2:9]  # not contiguous: copied once
    same_array(fused.process_frame(crop)["n"], node.process(crop), "crop")


# ----------------------------------------------------------------------------- segment tracker


@st.composite
def tracker_cases(draw):
    frame_length, sample_rate = draw(st.sampled_from([(160, 16000), (480, 16000), (480, 48000), (10, 1000),
                                                      (1323, 44100), (1, 1), (7, 3)]))
    frame_s = frame_length / sample_rate
    params = {
        "min_speech_ms": draw(st.one_of(st.sampled_from([0.0, 250.0]), st.floats(0, 2000))),
        "min_silence_ms": draw(st.one_of(st.sampled_from([0.0, 300.0]), st.floats(0, 2000))),
        "pre_roll_ms": draw(st.one_of(st.sampled_from([0.0, 100.0]), st.floats(0, 3000))),
        "post_roll_ms": draw(st.one_of(st.sampled_from([0.0, 100.0]), st.floats(0, 3000))),
        "max_segment_s": draw(st.one_of(st.just(0.0), st.floats(2 * frame_s, 100 * frame_s))),
    }
    n = draw(st.integers(0, 500))
    runs = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 60)), max_size=40))
    dec = np.array([int(v) for v, k in runs for _ in range(k)][:n], dtype=np.uint8)
    energy_kind = draw(st.sampled_from(["none", "levels", "floats", "nan"]))
    if energy_kind == "none":
        energy = None
    elif energy_kind == "levels":  # many ties
        energy = np.array(draw(st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.0]), min_size=dec.size,
                                        max_size=dec.size)), dtype=np.float64)
    else:
        energy = np.array(draw(st.lists(st.floats(0, 1, width=64), min_size=dec.size, max_size=dec.size)))
        if energy_kind == "nan" and energy.size:
            energy[draw(st.integers(0, energy.size - 1))] = np.nan
    sizes = draw(st.lists(st.integers(0, 80), min_size=1, max_size=10))
    total = draw(st.one_of(st.none(), st.integers(0, dec.size * frame_length + 10)))
    return frame_length, sample_rate, params, dec, energy, sizes, total


@settings(max_examples=300, deadline=None)
@given(case=tracker_cases())
def test_rust_segment_tracker_equals_the_python_one(case):
    frame_length, sample_rate, params, dec, energy, sizes, total = case
    try:
        py = SegmentTracker(frame_length, sample_rate, **params)
    except ValueError:
        with pytest.raises(ValueError, match="max_segment_s"):
            rt.SegmentTracker(frame_length, sample_rate, **params)
        return
    rs = rt.SegmentTracker(frame_length, sample_rate, **params)
    for attr in ("min_speech_frames", "min_silence_frames", "pre_roll", "post_roll", "max_frames"):
        assert getattr(rs, attr) == getattr(py, attr), attr
    pos, k = 0, 0
    while pos < dec.size or k == 0:
        size = max(1, sizes[k % len(sizes)]) if k >= 2 * len(sizes) else sizes[k % len(sizes)]
        k += 1
        d = dec[pos:pos + size]
        e = None if energy is None else energy[pos:pos + size]
        assert rs.push(d, e) == [tuple(s) for s in py.push(d, e)]
        assert rs.earliest_pending_start() == py.earliest_pending_start()
        pos += size
    assert rs.finish(total) == [tuple(s) for s in py.finish(total)]
    assert rs.finish(total) == [] == py.finish(total)
    with pytest.raises(ValueError, match="push: expected a tracker that has not finished"):
        rs.push(dec[:1])


def test_fused_segment_releases_the_gil_for_a_chunk_not_for_one_frame():
    """Deterministic, no timing (see tests/gil_probe.py): a 2 s stereo chunk runs with the GIL released, so
    streams on other threads go on meanwhile; one 30 ms frame keeps it (releasing would cost a tenth of the call)."""
    from gil_probe import ticks_during

    spec = json.dumps({"stages": [{"id": "mono", "kind": "mono_mix", "params": {}},
                                  {"id": "vad", "kind": "webrtc_vad", "params": {"mode": 3, "frame_ms": 30,
                                                                                  "segments": True}}],
                       "edges": [{"from": "mono", "to": "vad"}], "input": "mono", "outputs": ["vad"]})
    seg = rt.FusedSegment(spec)
    rng = np.random.default_rng(0)
    chunk = rng.integers(-3000, 3000, (2, 2 * 16000 * 20), dtype=np.int16)
    frame = rng.integers(-3000, 3000, 480, dtype=np.int16)
    seg.process(frame, 16000)  # warm up: a first call may import
    assert ticks_during(lambda: seg.process(chunk, 16000)) > 0
    assert ticks_during(lambda: seg.process(frame, 16000)) == 0
