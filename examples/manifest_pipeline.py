"""Shows the pipeline API: a manifest loaded, validated, run (async and sync), streamed, and written back.

Run: python examples/manifest_pipeline.py
"""

from __future__ import annotations

import asyncio
import pathlib

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.simple_math import AddNode, MultiplyNode

HERE = pathlib.Path(__file__).parent


async def main() -> None:
    # 1. A manifest from disk: checked (types, params, graph) before anything runs.
    math = Pipeline.from_manifest(HERE / "pipelines" / "math_chain.json", enable_metrics=True)
    print("math chain on [1, 2, 3]:", await math.run([1, 2, 3]))          # a list is streamed item by item
    print("metrics (us per node):", {k: round(v["wall_us"]) for k, v in math.get_metrics()["nodes"].items()})

    # 2. Kernel nodes: int16 audio -> float32 -> int16, native when installed, numpy otherwise.
    audio = Pipeline.from_manifest(HERE / "pipelines" / "format_round_trip.json")
    samples = (np.sin(np.linspace(0, 100, 16000)) * 20000).astype(np.int16)
    out, sample_rate = await audio.run((samples, 16000))
    print("format round trip exact:", bool(np.array_equal(out[0], samples)), "at", sample_rate, "Hz")

    # 3. The same chain built in Python, written back as a manifest.
    built = Pipeline(name="built").add_node(MultiplyNode(factor=2)).add_node(AddNode(addend=1))
    print("manifest of the Python pipeline:", built.to_manifest()["nodes"])


if __name__ == "__main__":
    asyncio.run(main())
    # Sync twins for code without an event loop:
    p = Pipeline([MultiplyNode(factor=10)])
    print("run_sync(4):", p.run_sync(4), "| stream:", list(p.stream(range(3))))
