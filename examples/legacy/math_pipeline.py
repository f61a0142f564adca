"""Shows a remotemedia 1.x script running unchanged: async run() with lists through the 1.x math nodes.

Run: python examples/legacy/math_pipeline.py [OUTPUT_FOLDER]   (default out/legacy/math_pipeline)

Written the way 1.x scripts were: imports from remotemedia.core.pipeline and remotemedia.nodes.*,
an async main with ``await pipeline.run(...)``; only the output folder handling is new.
"""

import asyncio
import json
import pathlib
import sys

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode


async def main(out):
    pipeline = Pipeline()
    pipeline.add_node(MultiplyNode(factor=2))
    pipeline.add_node(AddNode(addend=1))
    pipeline.add_node(PassThroughNode())

    results = {
        "list": await pipeline.run([1, 2, 3, 4]),      # a list is streamed item by item: [3, 5, 7, 9]
        "scalar": await pipeline.run(10),              # one item in, the bare result out: 21
        "tuple": await pipeline.run((1.5, 2.5)),       # a tuple is one item, processed element-wise
        "no_rust": await pipeline.run([5, 6], use_rust=False),
    }
    for key, value in results.items():
        print(f"{key:>8}: {value}")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/legacy/math_pipeline")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(out))
