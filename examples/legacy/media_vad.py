"""Shows a remotemedia 1.x media script running unchanged: a video file's speech through MediaReaderNode,
AudioTrackSource, AudioTransform, AudioBuffer and VoiceActivityDetector, with managed_execution() and process().

Run: python examples/legacy/media_vad.py [OUTPUT_FOLDER]   (default out/legacy/media_vad)

The input is made here: a packaged speech recording (22.05 kHz mono, with silence added around it)
encoded with PyAV into talk.mp4 with an h264 video track and an AAC audio track. Needs the media
extra (pip install 'remotemedia[media]'); without it the script writes skipped.txt and exits 0.
"""

# The VAD's per-chunk energies come after resampling (float rounding differs between
# implementations): they are saved as .npy (compared to 120 dB); decisions and counts as JSON.

import asyncio
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))  # examples/_data.py
from _data import encode_media, import_av_or_skip, out_dir, read_wav, speech_path, write_json  # noqa: E402

out = out_dir(__file__)
import_av_or_skip(out)

from remotemedia.core.pipeline import Pipeline  # noqa: E402
from remotemedia.nodes.audio import AudioBuffer, AudioTransform, VoiceActivityDetector  # noqa: E402
from remotemedia.nodes.source import AudioTrackSource, MediaReaderNode  # noqa: E402


def make_video(path):
    """1 s silence + speech + 1 s silence, stereo AAC at 22.05 kHz, next to 25 fps of 64x48 h264 video."""
    speech, rate = read_wav(speech_path("de_m_22k.wav"))
    silence = np.zeros((1, rate), np.int16)
    mono = np.concatenate([silence, speech, silence], axis=1)
    encode_media(path, np.vstack([mono, (mono * 0.8).astype(np.int16)]), rate, "aac", video=True)
    return mono.shape[1] / rate


async def main():
    video = out / "talk.mp4"
    seconds = make_video(video)

    # The 1.x way: a pipeline of nodes, initialised and cleaned up by managed_execution(), its
    # output consumed with `async for ... in pipeline.process()` (the first node is the source).
    pipeline = Pipeline(name="video-vad")
    pipeline.add_node(MediaReaderNode(path=str(video)))            # {"audio": frame} / {"video": frame}
    pipeline.add_node(AudioTrackSource())                          # (float32 (2, n), 22050); video -> nothing
    pipeline.add_node(AudioTransform(output_sample_rate=16000, output_channels=1))  # mono 16 kHz
    pipeline.add_node(AudioBuffer(buffer_size_samples=4800))        # 300 ms chunks (10 VAD frames)
    pipeline.add_node(VoiceActivityDetector(frame_duration_ms=30, energy_threshold=0.02, speech_threshold=0.3))

    chunks, energies = [], []
    async with pipeline.managed_execution():
        async for (audio, sample_rate), vad in pipeline.process():
            chunks.append({"frames": int(audio.shape[1]), "sample_rate": sample_rate,
                           "is_speech": vad["is_speech"], "speech_ratio": vad["speech_ratio"]})
            energies.append(vad["avg_energy"])

    speech_chunks = [i for i, c in enumerate(chunks) if c["is_speech"]]
    total = sum(c["frames"] for c in chunks)
    print(f"{video.name}: {seconds:.2f} s of audio -> {total} frames at 16 kHz in {len(chunks)} chunks; "
          f"speech in chunks {speech_chunks[0]}..{speech_chunks[-1]} ({len(speech_chunks)} of {len(chunks)})")
    write_json(out / "vad_chunks.json", {"chunks": chunks, "frames_16k": total})
    np.save(out / "avg_energy.npy", np.asarray(energies))
    video.unlink()  # made here; the results are what is kept


if __name__ == "__main__":
    asyncio.run(main())
