"""Shows the pipeline API: a manifest loaded, validated, run (async and sync), streamed, and written back.

Run: python examples/manifest_pipeline.py [OUTPUT_FOLDER]   (default out/manifest_pipeline)
"""

from __future__ import annotations

import asyncio
import pathlib

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.simple_math import AddNode, MultiplyNode

from _data import out_dir, write_json

HERE = pathlib.Path(__file__).parent


async def main(out: pathlib.Path) -> dict:
    # 1. A manifest from disk: checked (types, params, graph) before anything runs.
    math = Pipeline.from_manifest(HERE / "pipelines" / "math_chain.json", enable_metrics=True)
    chain = await math.run([1, 2, 3])  # a list is streamed item by item
    print("math chain on [1, 2, 3]:", chain)
    print("metrics (us per node):", {k: round(v["wall_us"]) for k, v in math.get_metrics()["nodes"].items()})

    # 2. Kernel nodes: int16 audio -> float32 -> int16, native when installed, numpy otherwise.
    audio = Pipeline.from_manifest(HERE / "pipelines" / "format_round_trip.json")
    samples = (np.sin(np.linspace(0, 100, 16000)) * 20000).astype(np.int16)
    round_trip, sample_rate = await audio.run((samples, 16000))
    exact = bool(np.array_equal(round_trip[0], samples))
    print("format round trip exact:", exact, "at", sample_rate, "Hz")
    np.save(out / "round_trip_i16.npy", round_trip)

    # 3. The same chain built in Python, written back as a manifest (a file `remotemedia validate` accepts).
    built = Pipeline(name="built").add_node(MultiplyNode(factor=2)).add_node(AddNode(addend=1))
    built.save_manifest(out / "built_manifest.json")
    print("manifest of the Python pipeline:", built.to_manifest()["nodes"])
    return {"math_chain": chain, "round_trip_exact": exact}


if __name__ == "__main__":
    out = out_dir(__file__)
    results = asyncio.run(main(out))
    # Sync twins for code without an event loop:
    p = Pipeline([MultiplyNode(factor=10)])
    results.update(run_sync=p.run_sync(4), stream=list(p.stream(range(3))))
    print("run_sync(4):", results["run_sync"], "| stream:", results["stream"])
    write_json(out / "results.json", results)
