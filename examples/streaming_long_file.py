"""Shows a long file streamed in bounded memory: mono -> 16 kHz -> VAD segments, one chunk at a time.

Run: python examples/streaming_long_file.py [OUTPUT_FOLDER]   (default out/streaming_long_file)

First writes a 2.5 minute 48 kHz stereo WAV (about 29 MB) into a temporary folder, block by block,
from a speech recording repeated at varying loudness. Then `pipeline.stream(path, chunk_s=1.0)` reads
it 1 s at a time: every stateful node (the resampler's filter memory, the VAD's frames and segment
tracker) keeps its state across chunks, so the segments are those of one whole-file call, while at
most a few chunks are in memory. The peak RSS printed at the end stays far below "whole file as float32"
(it is printed only: it depends on the machine, so it is not among the compared outputs).
"""

import resource
import tempfile
import wave
from pathlib import Path

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.audio import AudioResampleNode, VADNode
from remotemedia.nodes.io_audio import MonoMixNode

from _data import out_dir, read_wav, speech_path, write_json

DURATION_S = 150
RATE = 48000


def write_long_wav(path: Path) -> int:
    """Writes DURATION_S seconds of 48 kHz stereo int16 speech, one repetition of the recording per block."""
    speech, rate = read_wav(speech_path("es_m_48k.wav"))  # int16 (1, 163594), 48 kHz mono
    assert rate == RATE
    frames = 0
    with wave.open(str(path), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(RATE)
        block = 0
        while frames < DURATION_S * RATE:
            gain = 0.4 + 0.5 * ((block * 7) % 10) / 10  # 0.4 .. 0.85, deterministic
            left = np.round(speech[0] * gain)
            right = np.round(speech[0] * gain * 0.8)  # the right channel a little quieter
            n = min(left.size, DURATION_S * RATE - frames)
            stereo = np.stack([left[:n], right[:n]], axis=1).astype("<i2")  # interleaved (frames, 2)
            f.writeframes(stereo.tobytes())
            frames += n
            block += 1
    return frames


out = out_dir(__file__)
pipeline = Pipeline([
    MonoMixNode(name="mono"),  # average of the channels
    AudioResampleNode(16000, quality="high", name="resample"),  # 48 -> 16 kHz, streaming filter state
    VADNode(backend="webrtc", mode=3, frame_duration_ms=30, segments=True, name="vad"),
], name="long-file")

with tempfile.TemporaryDirectory(prefix="remotemedia-long-") as tmp:
    path = Path(tmp) / "long_48k_stereo.wav"
    frames = write_long_wav(path)
    print(f"wrote {path.name}: {frames / RATE:.0f} s, 2 channels, {path.stat().st_size / 1e6:.1f} MB")

    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; peak so far
    segments, chunks, speech_frames = [], 0, 0
    for item in pipeline.stream(path, chunk_s=1.0):  # a path: read in 1 s chunks, outputs as they come
        if isinstance(item, tuple):  # (samples, 16000, info) per chunk
            _, _, info = item
            chunks += 1
        else:  # the VAD's flush at the end: the whole stream's info
            info = item
            speech_frames = info.get("speech_frames", 0)
        segments += info.get("new_segments", [])
    # the temporary folder (and the 29 MB file) is deleted here

peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{chunks} chunks, {len(segments)} speech segments, {speech_frames} speech frames of 30 ms")
# Printed, not written: memory depends on the machine and the Python build.
print(f"peak RSS: {rss_before_mb:.0f} MB before streaming, {peak_rss_mb:.0f} MB after "
      f"(+{peak_rss_mb - rss_before_mb:.0f} MB; the file decoded whole as float32 would be "
      f"{frames * 2 * 4 / 1e6:.0f} MB more)")

write_json(out / "segments.json", {"input_s": frames / RATE, "chunks": chunks, "speech_frames": speech_frames,
                                   "segments": segments})
