"""Shows a remotemedia 1.x streaming script running unchanged: managed_execution() and process(stream).

Run: python examples/legacy/streaming.py [OUTPUT_FOLDER]   (default out/legacy/streaming)

Audio chunks come from an async generator; each one is converted to float32 and checked for voice
by the energy VAD, and results arrive as the chunks flow.
"""

import asyncio
import json
import pathlib
import sys

import numpy as np

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio import FormatConverterNode, VADNode

SAMPLE_RATE = 16000


async def microphone(num_chunks=10, chunk_s=0.5):
    """Pretends to be a live source: int16 chunks, a tone every other chunk, faint noise between."""
    rng = np.random.default_rng(1)
    t = np.arange(int(chunk_s * SAMPLE_RATE)) / SAMPLE_RATE
    for i in range(num_chunks):
        level = 0.4 if i % 2 == 0 else 0.002
        chunk = level * np.sin(2 * np.pi * 220 * t) + 0.001 * rng.standard_normal(t.size)
        yield (np.round(chunk * 32767).astype(np.int16), SAMPLE_RATE)
        await asyncio.sleep(0)  # a real source would wait for the next buffer here


async def main(out):
    pipeline = Pipeline()
    pipeline.add_node(FormatConverterNode(target_format="f32"))
    pipeline.add_node(VADNode(frame_duration_ms=30, energy_threshold=0.02))

    chunks = []
    async with pipeline.managed_execution():          # initialize() ... cleanup(), as in 1.x
        async for audio, sample_rate, vad_info in pipeline.process(microphone()):
            chunks.append({"frames": int(audio.shape[-1]), "sample_rate": sample_rate,
                           "is_speech": bool(vad_info["is_speech"]), "speech_frames": int(vad_info["speech_frames"])})
            print(f"chunk {len(chunks) - 1}: {'speech ' if vad_info['is_speech'] else 'silence'} "
                  f"({vad_info['speech_frames']}/{vad_info['total_frames']} frames)")
    (out / "chunks.json").write_text(json.dumps(chunks, indent=2) + "\n")


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/legacy/streaming")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(out))
