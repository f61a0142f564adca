"""Where users call: pipelines streamed item by item and chunk by chunk, against careful loops.

- 4 ``PassThroughNode``s, ``Pipeline.stream(range(n))`` item by item: time per
  item (the engine's whole cost: nothing else happens).
- 20 ms chunks of 48 kHz stereo int16 through MonoMix -> AudioResample 16 kHz
  -> VAD (WebRTC) with ``Pipeline.stream(chunks, chunked=True)``, native
  kernels through the plain engine (no fusion), against the careful real-time
  loop a good engineer writes without us: numpy mono mix, ``soxr.ResampleStream``
  and webrtcvad-wheels on every 30 ms frame (a buffer of the leftover samples,
  no growing arrays). Interleaved rounds in one run; the ratio is the median of
  per-round ratios. Both make the same number of VAD decisions (checked).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.nodes.audio import AudioResampleNode, VADNode
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.io_audio import MonoMixNode
from remotemedia.pipeline import Pipeline
from remotemedia.streaming import split_chunks

sys.path.insert(0, str(Path(__file__).parent))
from interleave import interleaved  # noqa: E402
from targets import check, note  # noqa: E402

soxr = pytest.importorskip("soxr")
webrtcvad = pytest.importorskip("webrtcvad")

CHUNK_FRAMES = 960  # 20 ms at 48 kHz
SECONDS = 6


def test_four_passthrough_nodes_streamed_item_by_item(benchmark):
    p = Pipeline([PassThroughNode(name=f"p{i}") for i in range(4)])
    n = 2000

    def run():
        count = 0
        for _ in p.stream(range(n)):
            count += 1
        assert count == n

    res = interleaved({"stream": run}, rounds=9, target_s=0.1)
    benchmark.pedantic(run, rounds=5, iterations=1)
    per_item_us = res["stream"]["median_s"] / n * 1e6
    check(benchmark, "4 PassThroughNodes, stream() item by item: time per item", per_item_us, "us", "<=", 8.0,
          source="issue 16")
    print(f"\n4 pass-through nodes streamed: {per_item_us:.2f} us per item")


def _chunks():
    rng = np.random.default_rng(7)
    t = np.arange(48000 * SECONDS) / 48000
    envelope = (np.sin(2 * np.pi * 0.5 * t) > 0).astype(np.float64)  # speech-like bursts and pauses
    voice = np.sin(2 * np.pi * 220 * t) * envelope + 0.05 * rng.standard_normal(t.size)
    x = np.stack([voice, 0.8 * voice]) * 8000
    return list(split_chunks(x.astype(np.int16), 48000, [CHUNK_FRAMES]))


def careful_loop(chunks):
    """numpy mono mix, soxr.ResampleStream (flushed at the end), webrtcvad-wheels per 30 ms frame; returns the
    decisions (of whole frames: the pipeline also decides a last partial frame)."""
    stream = soxr.ResampleStream(48000, 16000, 1, dtype="float32", quality="HQ")
    vad = webrtcvad.Vad(3)
    frame = np.empty(480, dtype=np.int16)
    filled = 0
    decisions = []
    scale = np.float32(0.5 / 32768)
    last = len(chunks) - 1
    for i, (samples, _) in enumerate(chunks):
        mono = (samples[0].astype(np.float32) + samples[1]) * scale
        y = stream.resample_chunk(mono, last=i == last)  # the end of the stream flushes the resampler
        y16 = np.clip(np.rint(y * 32768), -32768, 32767).astype(np.int16)
        pos = 0
        while pos < y16.size:
            take = min(480 - filled, y16.size - pos)
            frame[filled:filled + take] = y16[pos:pos + take]
            filled += take
            pos += take
            if filled == 480:
                decisions.append(vad.is_speech(frame.tobytes(), 16000))
                filled = 0
    return decisions


@pytest.mark.skipif(_native.module() is None, reason="native unavailable")
def test_20ms_chunk_stream_plain_engine_vs_careful_loop(benchmark):
    chunks = _chunks()
    pipeline = Pipeline([MonoMixNode(name="mono"), AudioResampleNode(16000, name="resample"),
                         VADNode(backend="webrtc", frame_duration_ms=30, mode=3, name="vad")],
                        fuse="off")

    def ours():
        n = 0
        for out in pipeline.stream(chunks, chunked=True):
            n += len(out[2]["decisions"]) if isinstance(out, tuple) else len(out.get("flushed_decisions", ()))
        return n

    ours_n, careful_n = ours(), len(careful_loop(chunks))
    assert abs(ours_n - careful_n) <= 1, (ours_n, careful_n)  # the same frames (ours also decides the padded tail)
    res = interleaved({"careful loop": lambda: careful_loop(chunks), "remotemedia": ours}, rounds=11, target_s=0.2)
    benchmark.pedantic(ours, rounds=3, iterations=1)
    per_chunk = {k: v["median_s"] / len(chunks) * 1e6 for k, v in res.items()}
    ratio = res["remotemedia"]["ratio"]
    check(benchmark, "20 ms 48 kHz stereo chunks, MonoMix -> Resample 16k -> VAD webrtc, plain engine (no "
          "fusion): time per chunk / careful loop (numpy mix + soxr.ResampleStream + webrtcvad-wheels)", ratio, "x",
          "<=", 3.0, source="issue 16")
    note(benchmark, "20 ms chunk stream, plain engine: time per chunk", per_chunk["remotemedia"], "us")
    note(benchmark, "20 ms chunk stream: careful loop time per chunk", per_chunk["careful loop"], "us")
    print(f"\n20 ms chunks: remotemedia {per_chunk['remotemedia']:.1f} us, careful loop "
          f"{per_chunk['careful loop']:.1f} us per chunk, ratio {ratio:.2f}")
