"""One execution of a graph: its nodes' runtimes, where outputs go, what was kept.

A run is either an *item run* (every input is a whole item: ``process`` per
item, retries per call) or a *chunk stream* (one signal in pieces: stateful
nodes get ``begin_stream`` / ``process_chunk`` / ``flush``, a call is never
retried because node state moved on). Both schedulers (:mod:`.scheduler` on
asyncio, :mod:`.inline` in one thread) drive a :class:`Run` through the same
:class:`NodeRuntime` objects: the same per-input function, the same attempt
primitive (:mod:`.attempts`) and the same routing of outputs (:meth:`Run.route`).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from remotemedia.engine.attempts import Attempts
from remotemedia.graph import Edge, PipelineGraph
from remotemedia.nodes.protocol import NodeTraits, implementation, traits
from remotemedia.reliability import CircuitBreakerRegistry, RetryPolicy, node_circuit_key

ITEMS = "items"
CHUNKS = "chunks"
#: Input key of a source node fed from outside the graph.
INPUT_KEY = "__input__"
DEFAULT_QUEUE_CHUNKS = 4
#: ``dst`` of a sink output in :meth:`Run.route`.
SINK = None

_run_ids = itertools.count(1)


class _SourceMode:
    """Sentinel input: sources are called without data and produce the stream."""

    def __repr__(self) -> str:
        return "SOURCE_MODE"


SOURCE_MODE = _SourceMode()


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        outputs: sink node id -> its outputs, in order.
        node_results: node id -> its outputs, for every node (only when the
            run kept intermediate results).
        run_id: the id passed to hooks.
    """

    outputs: Dict[str, List[Any]]
    node_results: Dict[str, List[Any]] = field(default_factory=dict)
    run_id: int = 0


def port_value(out: Any, edge: Edge, multi_port: bool) -> Any:
    """What travels along ``edge``: the whole output, or its ``from_port`` entry
    when the node has several output ports (then the output is a dict keyed by port)."""
    if edge.from_port is None or not multi_port:
        return out
    if not isinstance(out, dict) or edge.from_port not in out:
        raise ValueError(f"output has no port {edge.from_port!r} (expected a dict keyed by port name, "
                         f"given {type(out).__name__})")
    return out[edge.from_port]


class NodeRuntime:
    """One node in one run: its traits, its per-input function and its attempts.

    Attributes:
        node_id, node, node_type: the node.
        traits: its :class:`~remotemedia.nodes.protocol.NodeTraits`.
        in_keys: its input keys (edge keys; ``[INPUT_KEY]`` for a fed source;
            ``[]`` for a source that produces the stream).
        out_edges: its outgoing edges.
        is_sink: no outgoing edges.
        fn: what is called per input: ``process``, or ``process_chunk`` of a
            stateful node in a chunk stream.
        fn_mode: ``"sync"``, ``"async"`` or ``"asyncgen"``.
        retryable: item runs retry transient failures; chunk calls never.
        attempts: the node's :class:`~remotemedia.engine.attempts.Attempts`.
    """

    __slots__ = ("node_id", "node", "node_type", "traits", "in_keys", "out_edges", "is_sink", "fn", "fn_mode",
                 "retryable", "attempts", "stateful", "multi_port")

    def __init__(self, run: "Run", node_id: str, node: Any, t: NodeTraits, policy: RetryPolicy, in_keys: List[str],
                 breakers: Optional[CircuitBreakerRegistry], hooks: Any) -> None:
        self.node_id = node_id
        self.node = node
        self.node_type = t.node_type
        self.traits: NodeTraits = t
        self.in_keys = in_keys
        self.out_edges: List[Edge] = run.graph.outputs[node_id]
        self.is_sink = not self.out_edges
        self.multi_port = t.multi_port
        chunks = run.mode == CHUNKS
        self.stateful = chunks and t.cls.stateful
        self.fn = node.process_chunk if self.stateful else node.process
        self.fn_mode = t.cls.chunk_mode if chunks else t.cls.process_mode
        self.retryable = not chunks
        breaker = None
        if breakers is not None and t.circuit_key is None:
            breaker = breakers.get(node_circuit_key(t.node_type))
        self.attempts = Attempts(node_id, t.node_type, policy, run_id=run.run_id, hooks=hooks, breaker=breaker,
                                 breakers=breakers, circuit_key=t.circuit_key, cancelled=run.cancelled)


class Run:
    """The state of one execution of a graph.

    Args:
        graph: a validated graph.
        nodes: node id -> node.
        mode: :data:`ITEMS` or :data:`CHUNKS`.
        fed: whether the graph's source nodes get items from outside
            (``False``: sources produce the stream themselves).
        keep_results: keep every node's outputs (``node_results``,
            ``partial_results``), not only the sinks'.
        policies: node id -> retry policy, over the node's own and ``default_policy``.
        default_policy: the policy of nodes without their own.
        breakers: the circuit breakers of the run (None = none).
        hooks: a :class:`~remotemedia.hooks.HookSet`.
        context: chunk streams: passed to ``begin_stream`` and ``iter_chunks``.
        queue_chunks: chunk streams: capacity of every edge, in chunks.
        pipeline_name: passed to hooks.
        fused: fused nodes among ``nodes`` (see :mod:`.fusion`): they report
            each stage to the hooks themselves.
        reported: ``(graph, nodes)`` as the user built them, for the hooks,
            when ``graph``/``nodes`` are a fused plan of them.
    """

    def __init__(self, graph: PipelineGraph, nodes: Dict[str, Any], *, mode: str = ITEMS, fed: bool = True,
                 keep_results: bool = False,
                 policies: Optional[Dict[str, RetryPolicy]] = None, default_policy: Optional[RetryPolicy] = None,
                 breakers: Optional[CircuitBreakerRegistry] = None, hooks: Any = None,
                 context: Optional[Dict[str, Any]] = None, queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
                 pipeline_name: Optional[str] = None, fused: Sequence[Any] = (),
                 reported: Optional[Tuple[PipelineGraph, Dict[str, Any]]] = None) -> None:
        self.graph = graph
        self.nodes = nodes
        self.reported = reported or (graph, nodes)
        self.fused = list(fused)
        self.mode = mode
        self.fed = fed
        self.keep_results = keep_results
        self.hooks = hooks
        self.context = dict(context or {})
        self.queue_chunks = queue_chunks
        self.pipeline_name = pipeline_name
        self.run_id = next(_run_ids)
        self.cancelled = threading.Event()
        self.results: Dict[str, List[Any]] = {n: [] for n in graph.by_id}
        self.sink_outputs: Dict[str, List[Any]] = {n: [] for n in graph.sinks}
        self.finished: List[str] = []
        policies = policies or {}
        default = default_policy or RetryPolicy()
        self.runtimes: Dict[str, NodeRuntime] = {}
        fused_ids = {id(f) for f in self.fused}
        for node_id in graph.by_id:
            node = nodes[node_id]
            t = traits(node)
            policy = policies.get(node_id) or RetryPolicy.from_spec(t.retry_policy) or default
            keys = [e.key for e in graph.inputs[node_id]]
            if not keys and fed and not (mode == CHUNKS and t.cls.chunk_source):
                keys = [INPUT_KEY]
            if id(node) in fused_ids:  # reports its stages itself; its errors name the stage's node
                node.bind(self.run_id, hooks)
                rt = NodeRuntime(self, node_id, node, t, policy, keys, breakers, None)
                rt.attempts.passthrough = frozenset(stage for stage, _ in node.stages)
            else:
                rt = NodeRuntime(self, node_id, node, t, policy, keys, breakers, hooks)
            self.runtimes[node_id] = rt

    def route(self, rt: NodeRuntime, out: Any) -> Sequence[Tuple[Optional[str], str, Any]]:
        """Records ``out`` of ``rt`` and returns where it goes: ``(dst, key, value)`` per edge.

        ``None`` is no output. A sink's output goes to the run's consumer:
        ``(SINK, sink_id, output)``; the scheduler hands it over its own way.
        """
        if out is None:
            return ()
        if self.keep_results:
            self.results[rt.node_id].append(out)
        if rt.is_sink:
            return ((SINK, rt.node_id, out),)
        multi = rt.multi_port
        return [(e.dst, e.key, port_value(out, e, multi)) for e in rt.out_edges]

    def partial_results(self) -> Dict[str, List[Any]]:
        """The outputs of every node that finished (for ``NodeError.partial_results``)."""
        return {n: self.results[n] for n in self.finished} if self.keep_results else {}

    def before_run(self) -> None:
        if self.hooks is not None:
            graph, nodes = self.reported
            self.hooks.call("before_run", run_id=self.run_id, pipeline_name=self.pipeline_name, graph=graph,
                            nodes=nodes, implementations={n: implementation(node) for n, node in nodes.items()},
                            fused=[[stage for stage, _ in f.stages] for f in self.fused])

    def after_run(self, duration_ns: int, error: Optional[BaseException]) -> None:
        if self.hooks is not None:
            self.hooks.call("after_run", run_id=self.run_id, pipeline_name=self.pipeline_name,
                            duration_ns=duration_ns, error=error)

