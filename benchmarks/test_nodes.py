"""What a user pays above the kernel: nodes timed next to the kernel calls inside them.

Every row is measured in interleaved rounds in the same run (see ``interleave.py``), in
both implementations where it applies (``impl``: the node's ``runtime_hint`` and the
kernel's ``impl=``). The clock is the calling thread's CPU time (``time.thread_time``):
these calls take microseconds, run in one thread (no native call here is large enough
to release the GIL) and a shared machine's scheduling would otherwise decide the
result; every variant of a row is timed the same way.

- ``VADNode(backend="webrtc").process((frame, 16000))`` on one 30 ms 16 kHz int16 frame
  of real speech (a whole clip from a fresh state, per call), next to the public kernel
  call ``webrtc_vad(frame, ...)`` and to webrtcvad-wheels' ``Vad.is_speech`` on the same
  frame's bytes. Target (issue 16): native node <= 1.5x ``Vad.is_speech``.
- ``FormatConverterNode.process`` (int16 -> float32), ``AudioResampleNode.process`` and
  ``process_chunk`` (float32, 48 -> 16 kHz) and ``MonoMixNode.process`` (int16) on one
  20 ms 48 kHz stereo chunk, given as a 1.x ``(samples, sample_rate)`` tuple (untrusted
  input: validated) and as an :class:`~remotemedia.audio.AudioBuffer` (what nodes pass
  each other), next to the public kernel call on the same chunk. Target (issue 16): node
  time minus kernel time <= 2 us. The overhead checked is the median of paired differences
  (``interleave.paired_difference_s``: node call and kernel call back to back, 4001 pairs,
  wall clock), because the earlier estimator (the median over rounds of the node's time
  over the kernel's, minus one, times the kernel's median) swung by +-4 us on the numpy
  resampler's 95 us call here (2% of it), ten times the effect; both are printed and kept.
- ``VADNode.process_chunk`` on 20 ms chunks of 16 kHz float32 speech (webrtc, 30 ms
  frames, ``segments=True``), per chunk, next to the streaming kernel
  (``WebRtcVad.process``) on the same chunks: recorded.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest
from interleave import interleaved, paired_difference_s
from targets import check, note

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.kernels import convert, mix, resample, vad
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.nodes.io_audio import MonoMixNode

SPEECH = Path(__file__).resolve().parents[1] / "remotemedia" / "data" / "speech" / "en_m_16k.wav"
ROUNDS = 21
CLOCK = time.thread_time


@pytest.fixture(params=["python", "native"])
def impl(request) -> str:
    if request.param == "native" and _native.module() is None:
        pytest.skip(f"native unavailable: {_native.STATUS.reason}")
    return request.param


def _speech_16k() -> np.ndarray:
    with wave.open(str(SPEECH)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def _loudest_frame(x: np.ndarray, frame_length: int) -> np.ndarray:
    frames = x[: x.size // frame_length * frame_length].reshape(-1, frame_length).astype(np.float64)
    return x[int(np.argmax((frames ** 2).sum(axis=1))) * frame_length:][:frame_length].copy()


def _chunk_48k_stereo(dtype: type) -> np.ndarray:
    """20 ms of 48 kHz stereo: the transpose of interleaved int16 (what readers give), or planar float32."""
    rng = np.random.default_rng(0)
    inter = rng.integers(-20000, 20000, (960, 2)).astype(np.int16)
    if dtype is np.int16:
        return inter.T
    return np.ascontiguousarray(inter.T, dtype=np.float32) / np.float32(32768)


def test_vad_node_one_frame(benchmark, impl):
    webrtcvad = pytest.importorskip("webrtcvad")
    frame = _loudest_frame(_speech_16k(), 480)
    frame_bytes = frame.tobytes()
    wheels = webrtcvad.Vad(3)
    node = VADNode(backend="webrtc", mode=3, frame_duration_ms=30, runtime_hint=impl)
    item = (frame, 16000)
    # Same decision everywhere, checked in the same run.
    decision = node.process(item)[2]["decisions"].tolist()
    assert decision == vad.webrtc_vad(frame, 16000, 3, 30, impl=impl).decisions.tolist() \
        == [int(wheels.is_speech(frame_bytes, 16000))]
    res = interleaved({
        "webrtcvad-wheels Vad.is_speech": lambda: wheels.is_speech(frame_bytes, 16000),
        "kernel webrtc_vad (fresh state)": lambda: vad.webrtc_vad(frame, 16000, 3, 30, impl=impl),
        "VADNode.process": lambda: node.process(item),
    }, rounds=ROUNDS, target_s=0.03, clock=CLOCK)
    benchmark.pedantic(node.process, args=(item,), rounds=200, iterations=1)
    benchmark.extra_info.update(res)
    us = {k: v["median_s"] * 1e6 for k, v in res.items()}
    print(f"\nVADNode webrtc, one 30 ms 16 kHz frame, {impl}:\n" + "\n".join(
        f"  {k:<34} {v:7.2f} us  ratio to wheels {res[k]['ratio']:.2f}" for k, v in us.items()))
    name = f"VADNode(backend='webrtc').process, one 30 ms 16 kHz int16 frame, {impl}"
    note(benchmark, f"{name}: per call", us["VADNode.process"], "us")
    note(benchmark, f"{name}: kernel webrtc_vad per call", us["kernel webrtc_vad (fresh state)"], "us")
    note(benchmark, "webrtcvad-wheels Vad.is_speech, one 30 ms 16 kHz frame", us["webrtcvad-wheels Vad.is_speech"],
         "us")
    if impl == "native":
        check(benchmark, f"{name} / webrtcvad-wheels Vad.is_speech (same run)", res["VADNode.process"]["ratio"],
              "x", "<=", 1.5, source="issue 16")
    else:
        note(benchmark, f"{name} / webrtcvad-wheels Vad.is_speech (same run)", res["VADNode.process"]["ratio"], "x")


def _node_cases(impl: str):
    """(row name, node call, kernel call, chunk) for the 20 ms 48 kHz stereo chunk."""
    i16 = _chunk_48k_stereo(np.int16)
    f32 = _chunk_48k_stereo(np.float32)
    conv = FormatConverterNode("f32", runtime_hint=impl)
    res_node = AudioResampleNode(16000, runtime_hint=impl)
    res_stream = AudioResampleNode(16000, runtime_hint=impl)
    stream_kernel = resample.Resampler(48000, 16000, 2, impl=impl)
    mono = MonoMixNode(runtime_hint=impl)
    return [
        ("FormatConverterNode.process (int16 -> float32)", conv.process,
         lambda: convert.convert_format(i16, "f32", impl=impl), i16),
        ("AudioResampleNode.process (float32 48 -> 16 kHz)", res_node.process,
         lambda: resample.resample(f32, 48000, 16000, impl=impl), f32),
        ("AudioResampleNode.process_chunk (float32 48 -> 16 kHz)", res_stream.process_chunk,
         lambda: stream_kernel.process(f32), f32),
        ("MonoMixNode.process (int16)", mono.process, lambda: mix.mix_to_mono(i16, impl=impl), i16),
    ]


@pytest.mark.parametrize("case", range(4), ids=["convert", "resample", "resample_chunk", "mono_mix"])
def test_node_overhead_20ms_chunk(benchmark, impl, case):
    name, node_call, kernel_call, x = _node_cases(impl)[case]
    as_tuple = (x, 48000)
    as_buffer = AudioBuffer(x, 48000)
    res = interleaved({
        "kernel": kernel_call,
        "node, (samples, rate) tuple": lambda: node_call(as_tuple),
        "node, AudioBuffer": lambda: node_call(as_buffer),
    }, rounds=ROUNDS, target_s=0.03, clock=CLOCK)
    benchmark.pedantic(node_call, args=(as_buffer,), rounds=200, iterations=1)
    paired = {"node, (samples, rate) tuple": paired_difference_s(kernel_call, lambda: node_call(as_tuple)) * 1e6,
              "node, AudioBuffer": paired_difference_s(kernel_call, lambda: node_call(as_buffer)) * 1e6}
    benchmark.extra_info.update(res)
    benchmark.extra_info["paired_difference_us"] = paired
    kernel_us = res["kernel"]["median_s"] * 1e6
    over = {k: (res[k]["ratio"] - 1.0) * kernel_us for k in res if k != "kernel"}
    print(f"\n{name}, 20 ms 48 kHz stereo, {impl}: kernel {kernel_us:.2f} us; " + "; ".join(
        f"{k} {res[k]['median_s'] * 1e6:.2f} us (rounds: {v:+.2f} us, paired: {paired[k]:+.2f} us)"
        for k, v in over.items()))
    row = f"{name}, 20 ms 48 kHz stereo chunk, {impl}"
    note(benchmark, f"{row}: kernel call", kernel_us, "us")
    for k, v in over.items():
        note(benchmark, f"{row}: {k}", res[k]["median_s"] * 1e6, "us")
        note(benchmark, f"{row}: {k} minus kernel (ratio of round medians)", v, "us")
        check(benchmark, f"{row}: {k} minus kernel (median of paired differences)", paired[k], "us", "<=", 2.0,
              source="issue 16")


def test_vad_node_process_chunk_20ms(benchmark, impl):
    x = _speech_16k().astype(np.float32) / np.float32(32768)
    x = x[: x.size // 320 * 320]
    chunks = [x[i:i + 320] for i in range(0, x.size, 320)]
    items = [(c, 16000) for c in chunks]
    node = VADNode(backend="webrtc", mode=3, frame_duration_ms=30, segments=True, runtime_hint=impl)
    det = vad.WebRtcVad(16000, 3, 30, impl=impl)

    def through_node():
        for item in items:
            node.process_chunk(item)
        return node.flush()

    def kernel_only():
        for c in chunks:
            det.process(c)
        det.flush()
        det.reset()

    whole = VADNode(backend="webrtc", mode=3, frame_duration_ms=30, segments=True,
                    runtime_hint=impl).process((x, 16000))[2]
    streamed = through_node()
    assert streamed["segments"] == whole["segments"] and len(whole["segments"]) >= 1
    np.testing.assert_array_equal(streamed["decisions"], whole["decisions"])
    res = interleaved({"kernel WebRtcVad.process": kernel_only, "VADNode.process_chunk": through_node},
                      rounds=ROUNDS if impl == "native" else 3, target_s=0.05, clock=CLOCK)
    benchmark.pedantic(through_node, rounds=3 if impl == "native" else 1, iterations=1)
    benchmark.extra_info.update(res)
    n = len(chunks)
    us = {k: v["median_s"] / n * 1e6 for k, v in res.items()}
    print(f"\nVADNode.process_chunk, 20 ms 16 kHz float32 chunks, webrtc, segments, {impl}: " + "; ".join(
        f"{k} {v:.2f} us/chunk" for k, v in us.items()))
    row = f"VADNode(backend='webrtc', segments=True).process_chunk, 20 ms 16 kHz chunks, {impl}"
    note(benchmark, f"{row}: per chunk", us["VADNode.process_chunk"], "us")
    note(benchmark, f"{row}: kernel WebRtcVad.process per chunk", us["kernel WebRtcVad.process"], "us")
    note(benchmark, f"{row}: node time / kernel time", res["VADNode.process_chunk"]["ratio"], "x")
