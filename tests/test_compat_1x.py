"""remotemedia 1.x scripts run unchanged: import paths, run() semantics, managed execution."""

from __future__ import annotations

import asyncio
import time

from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.base import PassThroughNode
from remotemedia.nodes.simple_math import AddNode, MultiplyNode


def test_import_paths_are_the_same_classes():
    import remotemedia
    import remotemedia.core
    from remotemedia.nodes.base import Node as BaseNode

    assert Node is BaseNode and remotemedia.core.Pipeline is Pipeline is remotemedia.Pipeline


def test_math_nodes_scalar_and_element_wise():
    assert MultiplyNode(factor=2.0).process(3) == 6.0
    assert MultiplyNode().process([1, 2]) == [2.0, 4.0]
    assert AddNode(addend=0.5).process([1, 2]) == [1.5, 2.5]
    assert AddNode().process(7) == 7.0
    data = [1, 2]
    MultiplyNode(factor=3).process(data)
    assert data == [1, 2]  # inputs are never mutated


def test_run_result_shapes():
    async def main():
        p = Pipeline()
        p.add_node(MultiplyNode(factor=2.0))
        p.add_node(AddNode(addend=1.0))
        p.add_node(PassThroughNode())
        assert await p.run([1, 2, 3]) == [3.0, 5.0, 7.0]  # a list is streamed item by item
        assert await p.run(5) == 11.0                      # any other value is one item
        assert await p.run([5]) == 11.0                    # one output: the bare item
        assert await p.run([]) is None                     # no outputs: None
        assert await p.run((1, 2)) == (3.0, 5.0)           # a tuple is one item, element-wise
        assert await p.run([1, 2], use_rust=False) == [3.0, 5.0]

    asyncio.run(main())


def test_source_node_with_async_generator_and_none_input():
    class Numbers(Node):
        async def process(self, data=None):
            for i in range(4):
                yield i

    async def main():
        p = Pipeline()
        p.add_node(Numbers())
        p.add_node(MultiplyNode(factor=10))
        return await p.run()

    assert asyncio.run(main()) == [0, 10, 20, 30]


def test_managed_execution_and_process_stream():
    class Upper(Node):
        def process(self, data):
            return data.upper()

    async def feed():
        for word in ("a", "b", "c"):
            await asyncio.sleep(0)
            yield word

    async def main():
        pipeline = Pipeline(name="words")
        pipeline.add_node(Upper())
        pipeline.add_node(PassThroughNode())
        out = []
        async with pipeline.managed_execution():
            async for item in pipeline.process(feed()):
                out.append(item)
        return out

    assert asyncio.run(main()) == ["A", "B", "C"]


def test_node_keeps_unknown_kwargs_and_streaming_flag():
    class Mine(Node):
        pass

    node = Mine(name="m", colour="red", is_streaming=False)
    assert node.config == {"colour": "red", "is_streaming": False} and node.name == "m" and not node.is_streaming
    assert Node().name == "Node" and Node(custom=1).config == {"custom": 1}

    class Windows(Node):
        async def process(self, stream):
            window = []
            async for item in stream:
                window.append(item)
                if len(window) == 2:
                    yield sum(window)
                    window = []

    w = Windows()
    w.is_streaming = True
    p = Pipeline()
    p.add_node(PassThroughNode())
    p.add_node(w)
    assert asyncio.run(p.run([1, 2, 3, 4, 5, 6])) == [3, 7, 11]


def chain_12():
    p = Pipeline()
    for i in range(12):
        p.add_node(MultiplyNode(factor=1.0) if i % 3 == 0 else (AddNode(addend=1.0) if i % 3 == 1 else
                                                                 PassThroughNode()))
    return p


def test_400_runs_of_a_12_node_chain_over_100_items():
    """The 1.x workload; its speed is recorded by benchmarks/test_pipeline_overhead.py."""
    p = chain_12()
    items = list(range(100))

    async def main():
        for _ in range(400):
            out = await p.run(items)
        return out

    t0 = time.perf_counter()
    out = asyncio.run(main())
    elapsed = time.perf_counter() - t0
    assert out == [x + 4.0 for x in items]
    print(f"400 runs x 12 nodes x 100 items: {elapsed:.2f} s")
