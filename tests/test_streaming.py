"""The chunk-stream driver: protocol, order, fan-out/fan-in, backpressure, overlap, failures."""

from __future__ import annotations

import asyncio
import os
import threading

import numpy as np
import pytest

from remotemedia import Pipeline
from remotemedia.errors import ConfigurationError, NodeError
from remotemedia.hooks import TimingHook
from remotemedia.io import write_audio
from remotemedia.nodes.base import Node
from remotemedia.nodes.io_audio import AudioFileSink, AudioFileSource, MonoMixNode
from remotemedia.streaming import split_chunks


class Recorder(Node):
    """Stateful test node: tags each chunk with its running index; flush emits the count."""

    def __init__(self, tag: str = "r", name=None):
        super().__init__(name=name)
        self.tag = tag
        self.seen = []
        self.begun = None

    def begin_stream(self, **context):
        self.begun = context
        self.seen = []

    def process_chunk(self, chunk):
        self.seen.append(chunk)
        return (self.tag, len(self.seen) - 1, chunk)

    def flush(self):
        return (self.tag, "flush", len(self.seen))


class Counter(Node):
    """Stateless: doubles numbers; counts calls."""

    def process(self, x):
        return x * 2


def test_process_chunk_then_flush_in_order_and_begin_stream_context():
    rec = Recorder()
    pipeline = Pipeline([rec])
    out = list(pipeline.stream(range(10), chunked=True, chunk_frames=5))
    assert out == [("r", i, i) for i in range(10)] + [("r", "flush", 10)]
    from remotemedia.export.record import pipeline_identity

    assert rec.begun == {"chunk_frames": 5, "pipeline": pipeline_identity(pipeline)}
    assert rec.begun["pipeline"]["name"] == "pipeline" and rec.begun["pipeline"]["hash"].startswith("sha256:")


def test_stateless_nodes_get_process_per_chunk_and_none_is_no_output():
    class DropOdd(Node):
        def process(self, x):
            return None if x % 2 else x

    out = list(Pipeline([DropOdd(), Counter(), Recorder()]).stream(range(6), chunked=True))
    assert out == [("r", 0, 0), ("r", 1, 4), ("r", 2, 8), ("r", "flush", 3)]


def test_async_and_streaming_nodes():
    class AsyncDouble(Node):
        async def process(self, x):
            await asyncio.sleep(0)
            return 2 * x

    class Pairs(Node):  # is_streaming: gets the whole chunk stream
        def __init__(self, name=None):
            super().__init__(name=name, is_streaming=True)

        async def process(self, chunks):
            prev = None
            async for c in chunks:
                if prev is not None:
                    yield (prev, c)
                prev = c

    out = list(Pipeline([AsyncDouble(), Pairs()]).stream(range(4), chunked=True))
    assert out == [(0, 2), (2, 4), (4, 6)]


def test_fan_out_every_consumer_sees_every_chunk_in_order_and_fan_in_zips():
    p = Pipeline(connections=[])
    src = Counter(name="src")
    a, b = Recorder("a", name="a"), Recorder("b", name="b")

    class Join(Node):
        def process(self, d):
            return (d["a"], d["b"])

    p.add_node(src).add_node(a).add_node(b).add_node(Join(name="join"))
    p.connect("src", "a").connect("src", "b").connect("a", "join").connect("b", "join")
    out = list(p.stream(range(50), chunked=True, queue_chunks=2))
    assert out[:50] == [(("a", i, 2 * i), ("b", i, 2 * i)) for i in range(50)]
    assert out[50] == (("a", "flush", 50), ("b", "flush", 50))


def test_several_sinks_yield_pairs():
    p = Pipeline(connections=[])
    p.add_node(Counter(name="src")).add_node(Recorder("a", name="a")).add_node(Recorder("b", name="b"))
    p.connect("src", "a").connect("src", "b")
    out = list(p.stream([1, 2], chunked=True))
    assert [x for x in out if x[0] == "a"] == [("a", ("a", 0, 2)), ("a", ("a", 1, 4)), ("a", ("a", "flush", 2))]
    assert len(out) == 6


def test_backpressure_bounds_what_a_slow_sink_lets_pile_up():
    """The source can run at most the queues' capacity ahead of a sink that does not consume."""
    produced = []
    release = threading.Event()

    class Source(Node):
        input_types = {}

        def iter_chunks(self, **context):
            for i in range(200):
                produced.append(i)
                yield i

    class SlowSink(Node):
        def process_chunk(self, x):
            release.wait(10)
            return x

    queue_chunks = 3
    p = Pipeline([Source(), Counter(), SlowSink()])

    async def main():
        agen = p.astream(queue_chunks=queue_chunks).__aiter__()
        first = asyncio.ensure_future(agen.__anext__())
        for _ in range(200):  # let the source run as far as the queues allow
            await asyncio.sleep(0.005)
            if len(produced) >= 200:
                break
        ahead = len(produced)
        release.set()
        outs = [await first] + [x async for x in agen]
        return ahead, outs

    ahead, outs = asyncio.run(main())
    # At most queue_chunks per edge (2) and per node's batch in hand (3): 5 x queue_chunks, not 200.
    assert ahead <= 5 * queue_chunks
    assert outs == [2 * i for i in range(200)]


def test_consecutive_nodes_overlap():
    """The source reads chunk N+1 while the next node still works on chunk N (a handshake that needs overlap)."""
    second_read = threading.Event()

    class Source(Node):
        input_types = {}

        def iter_chunks(self, **context):
            yield 0
            second_read.set()  # reached only while Worker is inside its first call, if they overlap
            yield 1

    class Worker(Node):
        def process_chunk(self, x):
            if x == 0:
                assert second_read.wait(10), "the source did not run while the worker worked"
            return x

    assert list(Pipeline([Source(), Worker()]).stream(queue_chunks=1)) == [0, 1]


def test_failure_names_the_node_and_removes_the_sinks_temp_file(tmp_path):
    class Boom(Node):
        def process_chunk(self, data):
            self.n = getattr(self, "n", 0) + 1
            if self.n == 5:
                raise RuntimeError("bad chunk")
            return data

    x = np.zeros((1, 16000), np.int16)
    out = tmp_path / "out.wav"
    p = Pipeline([Boom(name="boom"), AudioFileSink(str(out))])
    with pytest.raises(NodeError) as err:
        list(p.stream(split_chunks(x, 16000, [1000]), chunked=True))
    assert err.value.node_id == "boom" and "bad chunk" in str(err.value)
    assert isinstance(err.value.__cause__, RuntimeError)
    assert os.listdir(tmp_path) == []  # no final file, no temp file


def test_stopping_early_cancels_the_run_and_drops_temp_files(tmp_path):
    x = np.zeros((1, 48000), np.int16)
    p = Pipeline([MonoMixNode(), AudioFileSink(str(tmp_path / "o.wav"))])

    class Tap(Node):
        def process(self, d):
            return d

    q = Pipeline([Tap()])
    for _ in q.stream(split_chunks(x, 48000, [100]), chunked=True):
        break  # stop after the first chunk
    gen = p.stream(split_chunks(x, 48000, [100]), chunked=True)
    gen.close()
    assert os.listdir(tmp_path) == []


def test_run_file_appends_a_sink_and_writes_atomically(tmp_path):
    x = (np.arange(96000, dtype=np.int32).reshape(2, -1) % 2000 - 1000).astype(np.int16)
    src = tmp_path / "in.wav"
    write_audio(src, x, 48000)
    res = Pipeline([MonoMixNode()]).run_file(src, tmp_path / "mono.flac", chunk_s=0.1)
    assert res["__output__"][0]["frames"] == 48000
    from remotemedia.io import read_audio

    got, sr = read_audio(tmp_path / "mono.flac")
    np.testing.assert_array_equal(got, MonoMixNode().process((x, 48000))[0])
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "mono.flac"]


def test_run_file_errors_are_clear(tmp_path):
    with pytest.raises(ConfigurationError, match="output is required"):
        Pipeline([MonoMixNode()]).run_file(tmp_path / "x.wav")
    with pytest.raises(ConfigurationError, match="need input"):
        list(Pipeline([MonoMixNode()]).stream(chunked=True))
    with pytest.raises(NodeError, match="no such file"):
        Pipeline([MonoMixNode()]).run_file(tmp_path / "missing.wav", tmp_path / "o.wav")
    with pytest.raises(ConfigurationError, match="chunk streams only"):
        list(Pipeline([MonoMixNode()]).stream([1], chunk_s=1.0))


def test_hooks_see_every_chunk_call():
    hook = TimingHook()
    p = Pipeline([Counter(name="c"), Recorder(name="r")], hooks=[hook])
    list(p.stream(range(7), chunked=True))
    snap = hook.snapshot()
    assert snap["runs"] == 1
    assert snap["nodes"]["c"]["calls"] == 7 and snap["nodes"]["r"]["calls"] == 8  # 7 chunks + flush


def test_source_node_in_the_graph_takes_the_path_and_chunking(tmp_path):
    x = np.arange(1000, dtype=np.int16)[np.newaxis]
    src = tmp_path / "a.wav"
    write_audio(src, x, 8000)
    p = Pipeline([AudioFileSource(chunk_frames=300), Recorder()])
    outs = list(p.stream(str(src)))
    assert [o[2][0].shape[1] for o in outs[:-1]] == [300, 300, 300, 100]
    outs = list(p.stream(str(src), chunk_frames=999))
    assert [o[2][0].shape[1] for o in outs[:-1]] == [999, 1]
