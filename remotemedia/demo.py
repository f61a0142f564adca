"""Built-in demo data and the demo job (``remotemedia demo``).

The demo data is synthesised, deterministic and needs no download: a
speech-like signal (harmonic voiced bursts with pauses, plus a little noise).
"""

from __future__ import annotations

import time
from typing import Any, Dict

import numpy as np

from remotemedia.audio import AudioBuffer


def synth_speech_like(duration_s: float = 10.0, sample_rate: int = 48_000, num_channels: int = 2,
                      seed: int = 0) -> AudioBuffer:
    """A deterministic speech-like int16 signal.

    Voiced bursts (a 110-220 Hz fundamental with harmonics, syllable-rate
    amplitude modulation) alternate with pauses; low-level noise throughout.

    Returns:
        AudioBuffer of int16 samples shaped (num_channels, frames).
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 150 + 40 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) ** 2
    bursts = (np.sin(2 * np.pi * 0.25 * t) > -0.2).astype(np.float64)
    mono = 0.3 * voiced * syllables * bursts + 0.003 * rng.standard_normal(n)
    chans = [mono * (1.0 - 0.1 * c) for c in range(num_channels)]
    samples = np.rint(np.clip(np.stack(chans), -1, 32767 / 32768) * 32768).astype(np.int16)
    return AudioBuffer(samples, sample_rate)


def run_demo() -> Dict[str, Any]:
    """Runs the demo job on the built-in data and returns what it measured."""
    from remotemedia.nodes.audio import FormatConverterNode

    audio = synth_speech_like()
    to_float = FormatConverterNode("f32", name="to_f32")
    to_int = FormatConverterNode("i16", name="to_i16")
    t0 = time.perf_counter()
    f32, sr = to_float.process(audio.as_tuple())
    back, _ = to_int.process((f32, sr))
    elapsed = time.perf_counter() - t0
    return {
        "input": f"{audio.num_channels} ch x {audio.num_frames} frames int16 @ {audio.sample_rate} Hz "
                 f"({audio.duration_s:.1f} s)",
        "implementation": to_float.impl,
        "round_trip_exact": bool(np.array_equal(back, audio.samples)),
        "clipped": to_int.total_clipped,
        "elapsed_ms": elapsed * 1e3,
    }
