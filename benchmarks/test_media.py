"""Decoding 10 minutes of mp3 / opus to a 16 kHz mono int16 WAV: ``run_file`` against a careful script.

The media are encoded here with PyAV (44.1 kHz stereo mp3, 48 kHz stereo ogg/opus; not committed).

- ``run_file``: ``Pipeline([MonoMixNode(), AudioResampleNode(16000)]).run_file(src, "out.wav")``
  (open_audio picks the decoder: libsndfile for both; 2 s chunks; the appended AudioFileSink
  converts to int16 and writes the WAV atomically);
- the script: PyAV decode, the numpy mean of the channels, ``soxr.ResampleStream`` (HQ) fed about
  1 s of audio per call, ``np.rint``/``np.clip`` to int16, the stdlib ``wave`` writer.

Timed in interleaved rounds in one process (each call is one whole file, about a second).
Target (issue 18): run_file time / script time <= 1.0.
"""

from __future__ import annotations

import wave

import numpy as np
import pytest
from interleave import interleaved
from targets import check, note

av = pytest.importorskip("av")
soxr = pytest.importorskip("soxr")

from remotemedia import Pipeline  # noqa: E402
from remotemedia.io import read_audio  # noqa: E402
from remotemedia.nodes.audio import AudioResampleNode  # noqa: E402
from remotemedia.nodes.io_audio import MonoMixNode  # noqa: E402

SECONDS = 600
FORMATS = {"mp3": ("libmp3lame", 44100, None), "opus": ("libopus", 48000, "ogg")}


def _speech_like(n: int, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(n) / rate
    env = (np.sin(2 * np.pi * 0.25 * t) > -0.2) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.3 * t))
    # 160 Hz +- 40 Hz of vibrato at 0.7 Hz (the phase is the integral of the frequency)
    x = 0.3 * env * np.sin(2 * np.pi * 160 * t - (40 / 0.7) * np.cos(2 * np.pi * 0.7 * t))
    x += 0.01 * rng.standard_normal(n)
    return np.stack([x, 0.8 * x]).astype(np.float32)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    import fractions

    folder = tmp_path_factory.mktemp("media-bench")
    rate = 44100
    source = _speech_like(SECONDS * rate, rate)
    paths = {}
    for ext, (codec, codec_rate, fmt) in FORMATS.items():
        path = str(folder / f"talk.{ext}")
        with av.open(path, "w", format=fmt) as container:
            stream = container.add_stream(codec, rate=codec_rate)
            stream.layout = "stereo"
            for pos in range(0, source.shape[1], 44100):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(source[:, pos:pos + 44100]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate, frame.pts, frame.time_base = rate, pos, fractions.Fraction(1, rate)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        paths[ext] = path
    return folder, paths


def careful_script(src: str, dst: str) -> None:
    """PyAV decode -> mono mean -> soxr stream (HQ) -> int16 -> wave, about 1 s per soxr call."""
    with av.open(src) as container, wave.open(dst, "wb") as out:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = soxr.ResampleStream(rate, 16000, 1, dtype="float32", quality="HQ")
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)

        def write(y: np.ndarray) -> None:
            out.writeframes(np.clip(np.rint(y * 32768.0), -32768, 32767).astype("<i2").tobytes())

        pending, held = [], 0
        for frame in container.decode(stream):
            pending.append(frame.to_ndarray().mean(axis=0, dtype=np.float32))
            held += frame.samples
            if held >= rate:
                write(resampler.resample_chunk(np.concatenate(pending)))
                pending, held = [], 0
        tail = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        write(resampler.resample_chunk(tail, last=True))


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_media_to_16k_mono_int16(benchmark, media, ext):
    folder, paths = media
    src = paths[ext]
    pipeline = Pipeline([MonoMixNode(), AudioResampleNode(16000)])
    ours, theirs = str(folder / f"ours_{ext}.wav"), str(folder / f"script_{ext}.wav")

    def run_file() -> None:
        pipeline.run_file(src, ours)

    def script() -> None:
        careful_script(src, theirs)

    run_file()
    script()
    a, ra = read_audio(ours)
    b, rb = read_audio(theirs)
    decoded, rate = read_audio(src)
    assert ra == rb == 16000 and a.dtype == b.dtype == np.int16 and a.shape[0] == 1
    assert a.shape[1] == round(decoded.shape[1] * 16000 / rate)  # exact length
    n = min(a.shape[1], b.shape[1])
    diff = a[0, 16000:n - 16000].astype(np.float64) - b[0, 16000:n - 16000]
    snr = 10 * np.log10(np.sum(b[0, 16000:n - 16000].astype(np.float64) ** 2) / max(np.sum(diff ** 2), 1.0))
    assert snr > 40, snr  # the same signal (two resamplers, two decoders)

    res = interleaved({"script": script, "run_file": run_file}, rounds=5, target_s=0.01)
    benchmark.pedantic(run_file, rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    speedup = res["run_file"]["ratio"]  # median over rounds of run_file time / script time
    print(f"\n{SECONDS // 60} min of {ext} -> 16 kHz mono int16 WAV: run_file {res['run_file']['median_s']:.2f} s, "
          f"script {res['script']['median_s']:.2f} s, run_file / script = {speedup:.2f}x (agree at {snr:.0f} dB)")
    case = f"decode 10 min {ext} to 16 kHz mono int16 WAV"
    note(benchmark, f"{case}: run_file", res["run_file"]["median_s"], "s")
    note(benchmark, f"{case}: PyAV + soxr + numpy script", res["script"]["median_s"], "s")
    check(benchmark, f"{case}: run_file time / PyAV + soxr script time", speedup, "x", "<=", 1.0,
          source="issue 18")
