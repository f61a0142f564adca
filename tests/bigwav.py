"""A large deterministic speech-like WAV, written block by block (for the bounded-memory test and benchmarks)."""

from __future__ import annotations

import wave

import numpy as np

SAMPLE_RATE = 48_000
_TABLE_S = 8  # the noise table is reused with a per-block offset


def _table(seed: int, num_channels: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-200, 200, size=(_TABLE_S * SAMPLE_RATE, num_channels), dtype=np.int16)


def write_speech_like_wav(path, total_frames: int, num_channels: int = 2, seed: int = 0,
                          block_s: int = 4) -> int:
    """Writes ``total_frames`` of 48 kHz int16 audio: tone bursts (speech-like on/off) over low noise.

    Every ``block_s`` block holds a 120-330 Hz tone with harmonics for a part of
    the block (pitch and length vary with the block index) and noise
    throughout, so a VAD finds segments of varying length. Memory use is a
    few blocks, whatever the length.

    Returns:
        The number of bytes of the file.
    """
    noise = _table(seed, num_channels)
    block = block_s * SAMPLE_RATE
    t = np.arange(block, dtype=np.float64) / SAMPLE_RATE
    voiced = []  # the tone pattern repeats every 45 blocks (pitch cycles over 15, length over 9)
    for k in range(45):
        f0 = 120.0 + 15.0 * (k % 15)
        on_s = 0.4 + 0.35 * (k % 9)  # 0.4 to 3.2 s of "speech" per block
        env = ((t > 0.3) & (t < 0.3 + on_s)).astype(np.float64)
        phase = 2 * np.pi * f0 * t
        tone = 4000.0 * env * (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase))
        voiced.append(np.rint(tone).astype(np.int16)[:, np.newaxis])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(num_channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        done = 0
        k = 0
        while done < total_frames:
            n = min(block, total_frames - done)
            offset = (k * 7919) % (noise.shape[0] - block)
            frames = noise[offset:offset + n] + voiced[k % 45][:n]  # |values| < 7400: no overflow
            w.writeframesraw(frames.astype("<i2", copy=False).tobytes())
            done += n
            k += 1
    return 44 + total_frames * num_channels * 2
