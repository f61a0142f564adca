"""Media files made at test time with PyAV's own encoders (nothing is committed or downloaded).

``make_media(folder, "mp3")`` writes a short stereo file and returns ``(path, source)``: the
float32 (channels, frames) signal that was encoded (for lossless formats, the int16 samples).
The signal is speech-like and not periodic (a gliding tone with a syllable-rate envelope plus
low-passed noise), so an offset between decoded and source samples shows as a large error.
"""

from __future__ import annotations

import fractions
import os
from typing import Dict, Optional, Tuple

import numpy as np

#: extension -> (encoder, sample rate, container format or None, lossless, with a video track)
FORMATS: Dict[str, Tuple[str, int, Optional[str], bool, bool]] = {
    "mp3": ("libmp3lame", 44100, None, False, False),
    "opus": ("libopus", 48000, "ogg", False, False),
    "ogg": ("vorbis", 44100, "ogg", False, False),
    "m4a": ("aac", 44100, "ipod", False, False),
    "flac": ("flac", 44100, None, True, False),
    "wav": ("pcm_s16le", 44100, None, True, False),
    "mkv": ("libopus", 48000, None, False, False),
    "webm": ("libopus", 48000, None, False, False),
    "mp4": ("aac", 44100, None, False, True),
}


def speech_like(num_frames: int, sample_rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """float32 (channels, num_frames) in about [-0.4, 0.4]."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / sample_rate
    tone = 0.25 * np.sin(2 * np.pi * (180 * t + 260 * t ** 2)) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t))
    noise = np.convolve(rng.standard_normal(num_frames), np.ones(8) / 8, "same") * 0.05
    chans = [tone + noise, 0.5 * tone - noise] + [0.3 * tone + k * 0.01 * noise for k in range(channels - 2)]
    return np.stack(chans[:channels]).astype(np.float32)


def encode(path: str, source: np.ndarray, sample_rate: int, codec: str, *, container_format: Optional[str] = None,
           video: bool = False, frame_samples: int = 1000) -> None:
    """Encodes ``source`` (float32 or int16, (channels, frames)) into ``path`` with PyAV."""
    import av

    channels = source.shape[0]
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
    options = {"strict": "experimental"} if codec == "vorbis" else {}
    with av.open(path, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=sample_rate, options=options)
        stream.layout = layout
        vstream = None
        if video:
            vstream = container.add_stream("libx264", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        pos = 0
        n = source.shape[1]
        while pos < n:
            chunk = np.ascontiguousarray(source[:, pos:pos + frame_samples])
            if chunk.dtype == np.int16:  # packed s16: what lossless encoders take as is
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T).reshape(1, -1), format="s16",
                                                   layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            frame.pts = pos
            frame.time_base = fractions.Fraction(1, sample_rate)
            for packet in stream.encode(frame):
                container.mux(packet)
            pos += frame_samples
        for packet in stream.encode(None):
            container.mux(packet)
        if vstream is not None:
            for i in range(int(25 * n / sample_rate)):
                img = np.full((48, 64, 3), (i * 7) % 256, np.uint8)
                for packet in vstream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)


def make_media(folder: str, ext: str, seconds: float = 2.0, channels: int = 2, name: Optional[str] = None,
               seed: int = 0) -> Tuple[str, np.ndarray]:
    """Writes ``folder/<name or sample>.<ext>``; returns ``(path, source)`` (see the module docstring)."""
    codec, rate, fmt, lossless, video = FORMATS[ext]
    source = speech_like(int(round(seconds * rate)), rate, channels, seed)
    if lossless:
        source = np.round(source * 32767).astype(np.int16)
    path = os.path.join(folder, f"{name or 'sample'}.{ext}")
    encode(path, source, rate, codec, container_format=fmt, video=video)
    return path, source


def make_video_only(path: str, seconds: float = 1.0) -> None:
    """An mp4 with one h264 video track and no audio."""
    import av

    with av.open(path, "w") as container:
        v = container.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(25 * seconds)):
            for packet in v.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in v.encode(None):
            container.mux(packet)


def aligned_snr_db(decoded: np.ndarray, source: np.ndarray) -> float:
    """SNR (dB) of ``decoded`` against ``source`` over their common length, at zero offset."""
    n = min(decoded.shape[1], source.shape[1])
    d = decoded[:, :n].astype(np.float64)
    s = source[:, :n].astype(np.float64)
    return float(10 * np.log10(np.sum(s ** 2) / max(np.sum((d - s) ** 2), 1e-30)))
