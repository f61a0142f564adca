"""Pipeline: build a graph of nodes in Python or from a manifest, then run it.

remotemedia 1.x scripts keep working: ``Pipeline().add_node(a).add_node(b)``
forms a chain, ``await pipeline.run(data)`` streams a list item by item (any
other value is one item, ``None`` makes the first node a source), and returns a
list for several outputs, the bare item for one, ``None`` for none.

Every async entry point has a sync twin: ``run``/``run_sync``,
``execute``/``execute_sync``, ``astream``/``stream``,
``managed_execution``/``with pipeline:``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import Any, AsyncIterator, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from remotemedia.engine import CHUNKS, DEFAULT_QUEUE_CHUNKS, ITEMS, SOURCE_MODE, Engine, RunResult
from remotemedia.errors import ConfigurationError, NodeExecutionError, PipelineValidationError
from remotemedia.graph import Edge, GraphNode, PipelineGraph
from remotemedia.metrics import ExecutionMetrics, empty_metrics
from remotemedia.nodes import protocol
from remotemedia.nodes.legacy import LegacyPipelineMixin
from remotemedia.reliability import CircuitBreakerRegistry, RetryPolicy

NodeRef = Union[str, Any]


class Pipeline(LegacyPipelineMixin):
    """A directed acyclic graph of nodes (the 1.x methods such as ``serialize`` and
    ``export_definition`` come from :mod:`remotemedia.nodes.legacy`).

    Args:
        nodes: nodes to add, in order (see :meth:`add_node`).
        name: the pipeline's name (manifest ``metadata.name``).
        enable_metrics: record per-node metrics of every run (an
            :class:`~remotemedia.metrics.ExecutionMetrics` hook), read with
            :meth:`get_metrics`.
        metrics_memory: how peak memory is measured: ``"auto"`` (the native
            allocation counters, else not at all), ``"counting"``,
            ``"tracemalloc"`` (once started it stays on for the process) or
            ``"off"`` (see :mod:`remotemedia.metrics.memory`).
        connections: explicit connections, as ``(src, dst)`` tuples or dicts
            with ``from``/``to``/``from_port``/``to_port``; ``[]`` means none.
            Without it (and without :meth:`connect`), nodes form a chain.
        max_workers: threads of a pool owned by this pipeline; None = the
            shared pool of the process.
        max_concurrency: node calls in flight at once, per run.
        hooks: lifecycle hooks (see :mod:`remotemedia.hooks`).
        keep_results: keep every node's outputs of a run (for
            :meth:`execute` and ``NodeError.partial_results``), not only the sinks'.
        retry: the retry policy of every node without its own (a
            :class:`~remotemedia.reliability.RetryPolicy` or a dict of its
            fields); None = ``RetryPolicy()``: transient errors retried 3
            times after 0.1, 0.2, 0.4 s. ``RetryPolicy.none()`` disables retries.
        fuse: ``"auto"`` (default): in chunk streams, a connected run of nodes
            whose bound implementation is native runs as one fused native
            segment (same outputs, one call per chunk); ``"off"``: never. A
            pure install never fuses.
        circuit_breakers: True (default) = a
            :class:`~remotemedia.reliability.CircuitBreakerRegistry` of this
            pipeline, shared by all its runs; a registry = that one (share it
            across the pipelines of a batch); False/None = no breakers.

    A node's own policy comes first: ``add_node(node, retry=...)`` or the
    manifest's ``retry``, then the node's ``retry_policy`` attribute, then
    ``retry``.

    Nodes must not mutate their inputs: on fan-out every consumer gets the
    same object.
    """

    def __init__(self, nodes: Optional[Sequence[Any]] = None, name: Optional[str] = None, enable_metrics: bool = False,
                 *, connections: Optional[Sequence[Any]] = None, max_workers: Optional[int] = None,
                 max_concurrency: Optional[int] = None, hooks: Sequence[Any] = (), keep_results: bool = True,
                 retry: Any = None, circuit_breakers: Any = True, metrics_memory: str = "auto",
                 fuse: str = "auto") -> None:
        if fuse not in ("auto", "off"):
            raise ConfigurationError(f"fuse: expected 'auto' or 'off', given {fuse!r}", parameter="fuse",
                                     expected="'auto' or 'off'", given=fuse)
        self.fuse = fuse
        self.name = name or "pipeline"
        self.metadata: Dict[str, Any] = {}
        self.config: Dict[str, Any] = {}
        self.keep_results = keep_results
        self._nodes: Dict[str, Any] = {}
        self._edges: List[Edge] = []
        self._explicit = False
        self._retry: Dict[str, Any] = {}
        self._graph: Optional[PipelineGraph] = None
        self._hash: Any = _UNSET
        self._metrics = ExecutionMetrics(self.name, memory=metrics_memory) if enable_metrics else None
        all_hooks = list(hooks) + ([self._metrics] if self._metrics is not None else [])
        if circuit_breakers is True:
            circuit_breakers = CircuitBreakerRegistry()
        elif circuit_breakers is False:
            circuit_breakers = None
        #: The circuit breakers of this pipeline's runs (None = none).
        self.circuit_breakers: Optional[CircuitBreakerRegistry] = circuit_breakers
        #: The engine that runs this pipeline (its pool, hooks, retry policy and breakers).
        self.executor = Engine(max_workers=max_workers, max_concurrency=max_concurrency, hooks=all_hooks,
                               retry=retry, breakers=circuit_breakers)
        self._active = 0
        self._sync_lock = threading.Lock()
        self._managed = False
        self._lifecycle_lock: Optional[Tuple[Any, asyncio.Lock]] = None  # (event loop, lock)
        for node in nodes or ():
            self.add_node(node)
        if connections is not None:
            self._explicit = True
            for c in connections:
                if isinstance(c, dict):
                    self.connect(c["from"], c["to"], from_port=c.get("from_port"), to_port=c.get("to_port"))
                else:
                    self.connect(*c)

    # ------------------------------------------------------------- building
    @property
    def nodes(self) -> List[Any]:
        """The nodes, in the order they were added."""
        return list(self._nodes.values())

    def get_node(self, node_id: str) -> Any:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise ConfigurationError(f"pipeline {self.name!r} has no node {node_id!r}", node_id=node_id,
                                     parameter="node_id", given=node_id) from None

    def add_node(self, node: Any, *, retry: Any = None) -> "Pipeline":
        """Adds ``node`` and returns the pipeline (for chaining).

        A node whose name is already taken and was defaulted (its class name)
        is renamed ``<ClassName>_<n>``; an explicit duplicate name is an error.

        Args:
            node: a :class:`~remotemedia.nodes.base.Node`.
            retry: the node's retry policy: a
                :class:`~remotemedia.reliability.RetryPolicy` or a dict of its
                fields (written to the manifest, see
                :class:`remotemedia.manifest.RetryPolicySpec`).
        """
        if any(n is node for n in self._nodes.values()):
            raise ConfigurationError(f"node {node.id!r} is already in pipeline {self.name!r}", node_id=node.id)
        if node.id in self._nodes:
            if node.name != type(node).__name__:
                raise ConfigurationError(f"duplicate node id {node.id!r} in pipeline {self.name!r}", node_id=node.id,
                                         parameter="name", expected="a unique name", given=node.id)
            k = 1
            while f"{node.name}_{k}" in self._nodes:
                k += 1
            node.name = f"{node.name}_{k}"
        self._nodes[node.id] = node
        if retry is not None:
            RetryPolicy.from_spec(retry)  # rejects a bad policy now
            self._retry[node.id] = retry if isinstance(retry, RetryPolicy) else dict(retry)
        self._graph = None
        self._hash = _UNSET
        return self

    def connect(self, src: NodeRef, dst: NodeRef, *, from_port: Optional[str] = None,
                to_port: Optional[str] = None) -> "Pipeline":
        """Connects ``src``'s output (port ``from_port``) to ``dst``'s input (port ``to_port``).

        From the first call on, only explicit connections count: the implicit
        chain of :meth:`add_node` is dropped. Nodes are given as ids or objects.
        """
        self._explicit = True
        self._edges.append(Edge(_ref_id(src), _ref_id(dst), from_port, to_port,
                                path=f"/connections/{len(self._edges)}"))
        self._graph = None
        self._hash = _UNSET
        return self

    @property
    def edges(self) -> List[Edge]:
        """The connections in effect (the implicit chain when none were made)."""
        if self._explicit:
            return list(self._edges)
        ids = list(self._nodes)
        return [Edge(a, b, path=f"/connections/{i}") for i, (a, b) in enumerate(zip(ids, ids[1:]))]

    @property
    def graph(self) -> PipelineGraph:
        """The validated graph (built once per change).

        Raises:
            PipelineValidationError: every problem of the graph.
        """
        if self._graph is None:
            nodes = [_graph_node(n, f"/nodes/{i}") for i, n in enumerate(self._nodes.values())]
            graph = PipelineGraph(nodes, self.edges)
            issues = graph.problems()
            if issues:
                raise PipelineValidationError(issues, f"pipeline {self.name!r}")
            self._graph = graph
        return self._graph

    def identity(self) -> Dict[str, Any]:
        """Name, manifest hash and per-node implementation of this pipeline (for output records).

        ``hash`` is ``sha256:<hex>`` of the pipeline's manifest as built (every
        parameter, defaults included; canonical JSON) without the nodes'
        ``runtime_hint``, so one pipeline has one hash whichever implementation
        ran it (that is in ``implementation``); None when a parameter cannot be
        written to a manifest. The hash is computed once per set of nodes and
        connections.

        Returns:
            ``{"name": str, "hash": str | None, "implementation": {node id: "native" | "python"}}``
            (kernel nodes only).
        """
        if self._graph is None or self._hash is _UNSET:
            self._hash = _manifest_hash(self)
        impls = {n.id: protocol.implementation(n) for n in self._nodes.values() if protocol.runs_kernel(n)}
        return {"name": self.name, "hash": self._hash, "implementation": impls}

    def validate(self) -> "Pipeline":
        """Checks the graph now; returns self."""
        _ = self.graph
        return self

    # ------------------------------------------------------------ lifecycle
    async def initialize(self) -> None:
        """Initializes every node (sync ``initialize`` in the thread pool, async awaited)."""
        await self.executor.lifecycle(self._nodes.values(), "initialize")

    async def cleanup(self) -> None:
        """Cleans up every node."""
        await self.executor.lifecycle(self._nodes.values(), "cleanup")

    @contextlib.asynccontextmanager
    async def managed_execution(self) -> AsyncIterator["Pipeline"]:
        """``async with pipeline.managed_execution():`` initializes, then cleans up, once."""
        await self.initialize()
        self._managed = True
        try:
            yield self
        finally:
            self._managed = False
            await self.cleanup()

    async def __aenter__(self) -> "Pipeline":
        await self.initialize()
        self._managed = True
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._managed = False
        await self.cleanup()

    def __enter__(self) -> "Pipeline":
        _no_running_loop("with pipeline:", "async with pipeline:")
        asyncio.run(self.initialize())
        self._managed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._managed = False
        asyncio.run(self.cleanup())
        self.close()

    def close(self) -> None:
        """Releases the pipeline's own thread pool, if it has one."""
        self.executor.close()

    @contextlib.asynccontextmanager
    async def _lifecycle(self) -> AsyncIterator[None]:
        """Initializes before the first concurrent run, cleans up after the last (unless managed)."""
        if self._managed:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._lifecycle_lock is None or self._lifecycle_lock[0] is not loop:
            self._lifecycle_lock = (loop, asyncio.Lock())  # one lock per event loop
        lock = self._lifecycle_lock[1]
        async with lock:
            if self._active == 0:
                await self.initialize()
            self._active += 1
        try:
            yield
        finally:
            async with lock:
                self._active -= 1
                if self._active == 0:
                    await self.cleanup()

    @contextlib.contextmanager
    def _sync_lifecycle(self) -> Iterator[None]:
        """:meth:`_lifecycle` for the inline runs of synchronous entry points (no event loop)."""
        if self._managed:
            yield
            return
        with self._sync_lock:
            if self._active == 0:
                self.executor.lifecycle_sync(self._nodes.values(), "initialize")
            self._active += 1
        try:
            yield
        finally:
            with self._sync_lock:
                self._active -= 1
                if self._active == 0:
                    self.executor.lifecycle_sync(self._nodes.values(), "cleanup")

    def _run_nodes(self, use_rust: bool, nodes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The nodes of one run: ``use_rust=False`` runs kernel nodes left on ``auto`` with numpy,
        through copies bound to it for this run (the pipeline's own nodes, which another run may be
        using, are never changed)."""
        nodes = self._nodes if nodes is None else nodes
        if use_rust:
            return nodes
        return {node_id: protocol.bound_to(node, "python") for node_id, node in nodes.items()}

    # ------------------------------------------------------------------ runs
    async def execute(self, input_data: Any = None, use_rust: bool = True) -> RunResult:
        """Runs the pipeline and returns the full :class:`~remotemedia.engine.RunResult`.

        Args:
            input_data: a list (streamed item by item to every source node),
                any other value (one item), or None (sources produce the data).
            use_rust: False runs auto-selected kernels with numpy; results are the same.

        Raises:
            PipelineValidationError: the graph is invalid (nothing ran).
            NodeExecutionError: a node failed (after its retries);
                ``partial_results`` holds finished nodes' outputs and
                ``metrics`` the pipeline's metrics so far. The pipeline stays
                usable.
        """
        graph = self.graph
        async with self._lifecycle():
            try:
                return await self.executor.run(graph, self._run_nodes(use_rust), _as_inputs(input_data),
                                               keep_results=self.keep_results, pipeline_name=self.name,
                                               retry_policies=self._retry_policies())
            except NodeExecutionError as err:
                err.metrics = self.get_metrics()
                raise

    def execute_sync(self, input_data: Any = None, use_rust: bool = True) -> RunResult:
        """:meth:`execute` for code without an event loop."""
        _no_running_loop("execute_sync()", "await execute()")
        return _run_async(self.execute(input_data, use_rust))

    async def run(self, input_data: Any = None, use_rust: bool = True) -> Any:
        """Runs the pipeline (1.x semantics).

        Returns:
            With one sink: a list when it gave several outputs, the bare item
            for one, None for none. With several sinks: a dict sink id -> that.
        """
        result = await self.execute(input_data, use_rust)
        return self._shape(result.outputs)

    def run_sync(self, input_data: Any = None, use_rust: bool = True) -> Any:
        """:meth:`run` for code without an event loop."""
        _no_running_loop("run_sync()", "await run()")
        return _run_async(self.run(input_data, use_rust))

    async def astream(self, inputs: Any = None, *, chunked: Optional[bool] = None, **stream_options: Any
                      ) -> AsyncIterator[Any]:
        """Yields outputs as soon as they exist (``(sink_id, item)`` with several sinks).

        Two modes:

        - items (the 1.x behaviour): every item of ``inputs`` is a whole input
          (``process`` per item, nothing kept between items);
        - a chunk stream (see :mod:`remotemedia.nodes.protocol`): ``inputs`` is
          one signal in pieces; stateful nodes are driven with
          ``begin_stream``/``process_chunk``/``flush``, edges are bounded. Chosen when
          ``inputs`` is a file path (read in chunks), when ``chunked=True``
          (``inputs`` is an iterable of ``(samples, sample_rate)`` chunks), or
          when ``inputs`` is None and the pipeline starts with a chunk source
          (such as ``AudioFileSource``).

        Args:
            inputs: an iterable or async iterable of items or chunks, a file
                path, or None (sources produce the data).
            chunked: force (True) or refuse (False) the chunk-stream mode;
                None decides as above.
            **stream_options: chunk streams only: ``chunk_s``,
                ``chunk_frames`` or ``chunk_bytes`` (file chunk size),
                ``queue_chunks`` (edge capacity), ``output`` (passed to sinks'
                ``begin_stream``).
        """
        job = self._stream_job(inputs, chunked, stream_options)
        async with self._lifecycle():
            if job.mode == CHUNKS:
                outputs = self.executor.iter_chunk_outputs(job.graph, job.nodes, job.feed, context=job.context,
                                                           queue_chunks=job.queue_chunks, pipeline_name=self.name,
                                                           fuse=self.fuse == "auto")
            else:
                outputs = self.executor.iter_outputs(job.graph, job.nodes, SOURCE_MODE if job.feed is None
                                                     else job.feed, pipeline_name=self.name,
                                                     retry_policies=self._retry_policies())
            try:
                async for sink, item in outputs:
                    yield item if job.single else (sink, item)
                    del item  # keep no output alive while waiting for the next
            except NodeExecutionError as err:
                err.metrics = self.get_metrics()
                raise
            finally:  # stopping early must cancel the run now, not when the generator is collected
                await outputs.aclose()

    def process(self, stream: Any = None) -> AsyncIterator[Any]:
        """1.x: ``async for out in pipeline.process(stream)`` (same as :meth:`astream`)."""
        return self.astream(stream)

    def stream(self, inputs: Any = None, *, chunked: Optional[bool] = None, **stream_options: Any) -> Iterator[Any]:
        """:meth:`astream` as a plain iterator, for code without an event loop.

        A graph of synchronous nodes runs inline, in this thread, one input at
        a time (a chunk source is read ahead by one thread); any other graph
        runs on a private event loop. Outputs, hooks and errors are the same.
        """
        _no_running_loop("stream()", "astream()")
        job = self._stream_job(inputs, chunked, stream_options)
        run = self._inline_run(job)
        if run is None:
            yield from self._stream_on_loop(inputs, chunked, stream_options)
            return
        with self._sync_lifecycle():
            try:
                for sink, item in self.executor.stream_inline(run, job.feed):
                    yield item if job.single else (sink, item)
                    del item
            except NodeExecutionError as err:
                err.metrics = self.get_metrics()
                raise

    def _stream_on_loop(self, inputs: Any, chunked: Optional[bool], stream_options: Dict[str, Any]) -> Iterator[Any]:
        loop = asyncio.new_event_loop()
        agen = self.astream(inputs, chunked=chunked, **stream_options).__aiter__()
        try:
            while True:
                try:
                    item = loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    break
                yield item
                del item  # keep no output alive while the next is computed
        finally:
            try:
                loop.run_until_complete(agen.aclose())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _retry_policies(self) -> Dict[str, RetryPolicy]:
        return {node_id: RetryPolicy.from_spec(spec) for node_id, spec in self._retry.items()}  # type: ignore[misc]

    # --------------------------------------------------------- chunk streams
    def _starts_with_chunk_source(self) -> bool:
        sources = self.graph.sources
        return bool(sources) and all(protocol.is_chunk_source(self._nodes[n]) for n in sources)

    def writes_files(self) -> bool:
        """Whether the pipeline reads its own input file (starts with a chunk source) or ends in file sinks."""
        sinks = [self._nodes[n] for n in self.graph.sinks]
        return self._starts_with_chunk_source() or all(protocol.writes_files(n) for n in sinks)

    def fusion_plan(self) -> List[List[str]]:
        """The node ids of each run of nodes that a chunk stream of this pipeline fuses into one native call
        per chunk, as the nodes are bound now (see :mod:`remotemedia.engine.fusion`); empty with
        ``fuse="off"`` or without the native module."""
        from remotemedia.engine import fusion

        if self.fuse == "off" or not fusion.available():
            return []
        return fusion.plan_segments(self.graph, self._nodes)

    def _graph_with(self, source: Any = None, sink: Any = None) -> Tuple[PipelineGraph, Dict[str, Any]]:
        """The graph plus an implicit source before every source node and/or a sink after the only sink."""
        base = self.graph
        if source is None and sink is None:
            return base, self._nodes
        nodes = dict(self._nodes)
        edges = list(self.edges)
        if source is not None:
            nodes[source.id] = source
            edges += [Edge(source.id, n) for n in base.sources]
        if sink is not None:
            if len(base.sinks) != 1:
                raise ConfigurationError(f"pipeline {self.name!r} has several sinks {base.sinks}: end each with a "
                                         "file sink (AudioFileSink, SegmentWriter) to write files",
                                         parameter="output", given=base.sinks)
            nodes[sink.id] = sink
            edges.append(Edge(base.sinks[0], sink.id))
        for node in (source, sink):
            if node is not None and node.id in self._nodes:
                raise ConfigurationError(f"node id {node.id!r} is reserved for run_file()", node_id=node.id)
        graph = PipelineGraph([_graph_node(n) for n in nodes.values()], edges)
        issues = graph.problems()
        if issues:
            raise PipelineValidationError(issues, f"pipeline {self.name!r}")
        return graph, nodes

    def _stream_job(self, inputs: Any, chunked: Optional[bool], options: Dict[str, Any],
                    sink: Any = None, pairs: bool = False) -> "_StreamJob":
        """What a stream of ``inputs`` runs: items or a chunk stream, over which graph and nodes."""
        if chunked is None:
            chunked = _is_path(inputs) or (inputs is None and self._starts_with_chunk_source())
        if not chunked:
            if options:
                raise ConfigurationError(f"{sorted(options)}: options of chunk streams only (chunked=True)",
                                         parameter=sorted(options)[0], expected="chunked=True", given=options)
            graph = self.graph
            return _StreamJob(ITEMS, graph, self._nodes, inputs, {}, DEFAULT_QUEUE_CHUNKS,
                              len(graph.sinks) == 1 and not pairs)
        unknown = sorted(set(options) - _STREAM_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected stream option(s) {unknown}; known: {sorted(_STREAM_OPTIONS)}")
        from remotemedia.nodes.io_audio import AudioFileSource

        context: Dict[str, Any] = {k: v for k, v in options.items() if k != "queue_chunks" and v is not None}
        context["pipeline"] = self.identity()  # name, hash, implementations: for output records
        source = None
        feed = None
        if _is_path(inputs):
            context["source_path"] = inputs
            if not self._starts_with_chunk_source():
                source = AudioFileSource(name="__source__")
        elif inputs is not None:
            feed = inputs
        graph, nodes = self._graph_with(source, sink)
        queue_chunks = options.get("queue_chunks") or DEFAULT_QUEUE_CHUNKS
        return _StreamJob(CHUNKS, graph, nodes, feed, context, queue_chunks, len(graph.sinks) == 1 and not pairs)

    def _new_run(self, job: "_StreamJob") -> Any:
        if job.mode == CHUNKS:
            return self.executor.chunk_run(job.graph, job.nodes, job.feed, context=job.context,
                                           queue_chunks=job.queue_chunks, pipeline_name=self.name,
                                           fuse=self.fuse == "auto")
        return self.executor.new_run(job.graph, job.nodes, fed=job.feed is not None, pipeline_name=self.name,
                                     retry_policies=self._retry_policies())

    def _inline_run(self, job: "_StreamJob") -> Any:
        """The run of ``job`` when it can run inline (see :meth:`Engine.can_inline`), else None."""
        if job.feed is not None and hasattr(job.feed, "__aiter__"):
            return None
        run = self._new_run(job)
        return run if self.executor.can_inline(run) else None

    def _file_job(self, path: Any, output: Any, stream_options: Dict[str, Any]) -> "_StreamJob":
        from remotemedia.nodes.io_audio import AudioFileSink

        sinks = [self._nodes[n] for n in self.graph.sinks]
        sink = None
        if not all(protocol.writes_files(n) for n in sinks):
            if output is None:
                raise ConfigurationError("run_file(path, output): output is required when the pipeline does not "
                                         "end in file sinks", parameter="output", expected="a file path", given=None)
            sink = AudioFileSink(name="__output__")
        options = dict(stream_options)
        if output is not None:
            options["output"] = output
        return self._stream_job(os.fspath(path), True, options, sink=sink, pairs=True)

    async def arun_file(self, path: Any, output: Any = None, **stream_options: Any) -> Dict[str, List[Any]]:
        """Processes one file end to end as a chunk stream (bounded memory).

        Args:
            path: the input file (any format :func:`remotemedia.io.open_audio` reads).
            output: where the file sinks write (a file for ``AudioFileSink``,
                a folder for ``SegmentWriter``); None = their own parameters.
                When the pipeline does not end in file sinks, an
                ``AudioFileSink(output)`` is appended after its only sink.
            **stream_options: ``chunk_s``, ``chunk_frames``, ``chunk_bytes``,
                ``queue_chunks`` (see :meth:`astream`).

        Returns:
            sink id -> the sink's outputs (one summary dict per file sink).

        Raises:
            NodeError: a node failed; no file appears under a final name
                that was not completely written.
        """
        job = self._file_job(path, output, stream_options)
        results: Dict[str, List[Any]] = {}
        async with self._lifecycle():
            outputs = self.executor.iter_chunk_outputs(job.graph, job.nodes, None, context=job.context,
                                                       queue_chunks=job.queue_chunks, pipeline_name=self.name,
                                                       fuse=self.fuse == "auto")
            try:
                async for sink_id, item in outputs:
                    results.setdefault(sink_id, []).append(item)
            finally:
                await outputs.aclose()
        return results

    def run_file(self, path: Any, output: Any = None, **stream_options: Any) -> Dict[str, List[Any]]:
        """:meth:`arun_file` for code without an event loop (inline when every node is synchronous)."""
        _no_running_loop("run_file()", "await arun_file()")
        job = self._file_job(path, output, stream_options)
        run = self._inline_run(job)
        if run is None:
            return _run_async(self.arun_file(path, output, **stream_options))
        results: Dict[str, List[Any]] = {}
        with self._sync_lifecycle():
            for sink_id, item in self.executor.stream_inline(run, None):
                results.setdefault(sink_id, []).append(item)
        return results

    def _shape(self, outputs: Dict[str, List[Any]]) -> Any:
        shaped = {sink: _one_or_many(items) for sink, items in outputs.items()}
        if len(shaped) == 1:
            return next(iter(shaped.values()))
        return shaped or None

    # --------------------------------------------------------------- metrics
    @property
    def metrics(self) -> Optional[ExecutionMetrics]:
        """The metrics collector (``enable_metrics=True``), or None."""
        return self._metrics

    def get_metrics(self, run_id: Optional[int] = None) -> Dict[str, Any]:
        """The metrics of the latest run (or of ``run_id``), as a JSON-ready dict.

        The layout is documented by ``remotemedia/schemas/metrics.schema.json``
        (see :mod:`remotemedia.metrics`). Without ``enable_metrics=True`` (or
        before the first run) the dict has ``"status": "not_run"`` and no nodes.
        ``attempts`` lists the run's failed attempts and the successful attempt
        of every retried call: ``{"run_id", "node_id", "node_type", "attempt",
        "error", "delay_s", "ran"}`` (``delay_s`` = the wait before the next
        attempt, None when none followed; ``ran`` False = a circuit breaker
        refused the call).

        Args:
            run_id: a run's id (``RunResult.run_id``); needed when runs overlap.
        """
        if self._metrics is None:
            return {**empty_metrics(self.name, enabled=False), "attempts": []}
        return self._metrics.get(run_id)

    def attempt_log(self) -> List[Dict[str, Any]]:
        """Retry attempts of every run of this pipeline (the newest 10,000), oldest first.

        Each entry is shaped like :meth:`get_metrics`'s ``attempts``; empty
        without ``enable_metrics=True``.
        """
        return self._metrics.attempt_log() if self._metrics is not None else []

    def to_json(self, path: Any = None, run_id: Optional[int] = None, indent: Optional[int] = None) -> str:
        """:meth:`get_metrics` as JSON text, also written to ``path`` when given."""
        if self._metrics is None:
            from remotemedia.metrics import dump_json

            return dump_json(self.get_metrics(run_id), path, indent=indent)
        return self._metrics.to_json(path, run_id, indent=indent)

    # ------------------------------------------------------------- manifests
    @classmethod
    def from_manifest(cls, source: Any, *, limits: Any = None, **kwargs: Any) -> "Pipeline":
        """Builds a pipeline from a manifest: a dict, a JSON string or a file path.

        Args:
            source: the manifest.
            limits: a :class:`remotemedia.limits.ManifestLimits` for untrusted
                manifests (default: :data:`remotemedia.limits.DEFAULT_LIMITS`).
            **kwargs: passed to the constructor. ``fuse`` defaults to the
                manifest's ``config.fuse`` (``"auto"`` or ``"off"``).

        Raises:
            PipelineValidationError: every problem of the manifest, before anything runs.
        """
        from remotemedia.manifest import parse_manifest

        data, nodes = parse_manifest(source, limits=limits)
        connections = data.get("connections")
        config = dict(data.get("config") or {})
        if "fuse" not in kwargs and "fuse" in config:  # the manifest's own setting, unless the caller gives one
            kwargs["fuse"] = config["fuse"]
        pipeline = cls(nodes, name=data["metadata"]["name"], connections=connections, **kwargs)
        pipeline.metadata = {k: v for k, v in data["metadata"].items() if k != "name"}
        pipeline.config = config
        for spec in data["nodes"]:
            if spec.get("retry") is not None:
                pipeline._retry[spec["id"]] = dict(spec["retry"])
        return pipeline

    def to_manifest(self) -> Dict[str, Any]:
        """The pipeline as a manifest dict (JSON-ready), every node parameter included.

        Raises:
            ConfigurationError: a node parameter cannot be written.
        """
        from remotemedia.manifest import MANIFEST_VERSION, node_entry

        connections = []
        for e in self.edges:
            c: Dict[str, Any] = {"from": e.src, "to": e.dst}
            if e.from_port is not None:
                c["from_port"] = e.from_port
            if e.to_port is not None:
                c["to_port"] = e.to_port
            connections.append(c)
        return {
            "version": MANIFEST_VERSION,
            "metadata": {"name": self.name, **self.metadata},
            "nodes": [node_entry(n, retry=_retry_dict(self._retry.get(n.id))) for n in self._nodes.values()],
            "connections": connections,
            "config": dict(self.config),
        }

    def save_manifest(self, path: Any) -> None:
        """Writes :meth:`to_manifest` as JSON to ``path`` (atomically: temp file, fsync, rename)."""
        import json

        from remotemedia.io.atomic import write_atomic

        write_atomic(path, json.dumps(self.to_manifest(), indent=2) + "\n")

    def to_node_link(self) -> Dict[str, Any]:
        """The pipeline as node-link JSON (``{"directed": true, "nodes": [...], "edges": [...]}``)."""
        from remotemedia.manifest import to_node_link

        return to_node_link(self.to_manifest())

    @classmethod
    def from_node_link(cls, data: Dict[str, Any], **kwargs: Any) -> "Pipeline":
        """Builds a pipeline from node-link JSON (edges under ``"edges"`` or ``"links"``)."""
        from remotemedia.manifest import from_node_link

        return cls.from_manifest(from_node_link(data), **kwargs)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` (``MultiDiGraph`` when two edges join the same pair) of the pipeline.

        Requires networkx (an optional dependency).
        """
        import networkx as nx

        data = self.to_node_link()
        graph = nx.MultiDiGraph() if data["multigraph"] else nx.DiGraph()
        graph.graph.update(data["graph"])
        for node in data["nodes"]:
            attrs = {k: v for k, v in node.items() if k != "id"}
            graph.add_node(node["id"], **attrs)
        for edge in data["edges"]:
            graph.add_edge(edge["source"], edge["target"],
                           **{k: v for k, v in edge.items() if k not in ("source", "target")})
        return graph

    @classmethod
    def from_networkx(cls, graph: Any, **kwargs: Any) -> "Pipeline":
        """Builds a pipeline from a networkx directed graph made by :meth:`to_networkx` (or alike)."""
        data = {
            "directed": graph.is_directed(),
            "graph": dict(graph.graph),
            "nodes": [{"id": n, **attrs} for n, attrs in graph.nodes(data=True)],
            "edges": [{"source": u, "target": v, **attrs} for u, v, attrs in graph.edges(data=True)],
        }
        return cls.from_node_link(data, **kwargs)

    def __repr__(self) -> str:
        return f"Pipeline(name={self.name!r}, nodes={list(self._nodes)})"


_UNSET = object()


def _manifest_hash(pipeline: "Pipeline") -> Optional[str]:
    import hashlib
    import json

    try:
        manifest = pipeline.to_manifest()
    except Exception:  # a custom node parameter that cannot be written: no hash, nothing else lost
        return None
    for node in manifest.get("nodes", []):
        node.pop("runtime_hint", None)
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_STREAM_OPTIONS = frozenset(("chunk_s", "chunk_frames", "chunk_bytes", "queue_chunks", "output"))


class _StreamJob(NamedTuple):
    """What one stream runs (see :meth:`Pipeline._stream_job`)."""

    mode: str
    graph: PipelineGraph
    nodes: Dict[str, Any]
    feed: Any
    context: Dict[str, Any]
    queue_chunks: int
    single: bool


def _graph_node(node: Any, path: str = "") -> GraphNode:
    return GraphNode(node.id, protocol.node_type_of(node), protocol.input_types(node), protocol.output_types(node),
                     path=path)


def _retry_dict(spec: Any) -> Optional[Dict[str, Any]]:
    return spec.to_dict() if isinstance(spec, RetryPolicy) else spec


def _ref_id(ref: NodeRef) -> str:
    return ref if isinstance(ref, str) else ref.id


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _as_inputs(input_data: Any) -> Any:
    if input_data is None:
        return SOURCE_MODE
    return input_data if isinstance(input_data, list) else [input_data]


def _one_or_many(items: List[Any]) -> Any:
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def _run_async(coro: Any) -> Any:
    """``asyncio.run(coro)``, the result handed back through a box instead of as the main task's result.

    In the main thread, ``asyncio.run`` checks once the run is over whether the SIGINT handler it
    installed is still there, and ``signal.getsignal`` (CPython 3.11) builds a ValueError message with
    ``repr()`` of that handler, which holds the main task: numpy printed the task's result, every output
    array of the run, about 7 ms a call for a 20 s stereo file's segments (a third of the batch's time
    per file). A main task that returns None costs nothing to print.
    """
    box: List[Any] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]


def _no_running_loop(what: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{what} cannot be used in a running event loop; use {instead} instead")
