"""Fusion planning: a run of native kernel nodes in a chunk stream becomes one native call per chunk.

A *segment* is a maximal chain of nodes, each running its kernel natively and
declaring the stage it is (``fused_stage()``, see
:mod:`remotemedia.nodes.protocol`), where every node but the first takes its
only input from the one before and every node but the last feeds only the one
after. The planner replaces the segment's nodes by one :class:`FusedNode` (it
takes the last node's id, so edges and sink ids stay the same), which hands
the segment to the compiled module as a JSON spec
(``remotemedia_runtime.FusedSegment``: serde_json, petgraph, every chunk
through every stage with the GIL released) and gives each node's output back
in the node's own form (``fused_output``), bit for bit what the node gives
unfused.

What stays in Python: the plan, the attempt loop around the segment (one
call per chunk; chunk calls are never retried, a breaker sees the segment as
one call), the hooks (every fused node is reported under its own id with the
stage's wall time from Rust and ``fused=True``), and the nodes' side effects
(clipping counters). A failure inside the segment is a
:class:`~remotemedia.errors.NodeExecutionError` naming the stage's node.

A pure install never fuses; neither does ``Pipeline(fuse="off")``, a manifest
with ``"config": {"fuse": "off"}`` or ``remotemedia run --no-fuse``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Tuple

from remotemedia import _native
from remotemedia.audio import coerce_audio
from remotemedia.engine.attempts import node_error
from remotemedia.graph import Edge, GraphNode, PipelineGraph
from remotemedia.nodes.protocol import Outputs, fused_stage, input_types, node_type_of, output_types, traits

#: Marks a refusal of input that the fused mono mix does not reproduce (see ``FusedNode``).
_UNFUSABLE_INPUT = "fused segment does not reproduce"


def available() -> bool:
    """Whether the compiled module can run fused segments."""
    mod = _native.module()
    return mod is not None and hasattr(mod, "FusedSegment")


#: Stage kinds whose output feeds nothing (a segment ends with them).
_TERMINAL_KINDS = frozenset(("webrtc_vad", "energy_vad", "normalize"))


def plan_segments(graph: PipelineGraph, nodes: Dict[str, Any]) -> List[List[str]]:
    """The maximal chains of fusable nodes of ``graph``, in topological order."""
    stages = {n: fused_stage(nodes[n]) for n in graph.by_id}
    segments: List[List[str]] = []
    seen = set()
    for node_id in graph.topological_order():
        if node_id in seen or stages[node_id] is None:
            continue
        chain = [node_id]
        seen.add(node_id)
        while stages[chain[-1]]["kind"] not in _TERMINAL_KINDS:
            outs = graph.outputs[chain[-1]]
            if len(outs) != 1 or outs[0].from_port is not None or outs[0].to_port is not None:
                break
            nxt = outs[0].dst
            if stages[nxt] is None or len(graph.inputs[nxt]) != 1 or nxt in seen:
                break
            chain.append(nxt)
            seen.add(nxt)
        segments.append(chain)
    return segments


def fuse(graph: PipelineGraph, nodes: Dict[str, Any]) -> Tuple[PipelineGraph, Dict[str, Any], List["FusedNode"]]:
    """``graph`` and ``nodes`` with every segment replaced by one :class:`FusedNode` (unchanged when none)."""
    if not available():
        return graph, nodes, []
    segments = plan_segments(graph, nodes)
    if not segments:
        return graph, nodes, []
    fused: List[FusedNode] = []
    new_nodes = dict(nodes)
    inner = set()
    tail_of = {}
    for chain in segments:
        node = FusedNode([(n, nodes[n]) for n in chain])
        fused.append(node)
        for n in chain[:-1]:
            inner.add(n)
            del new_nodes[n]
        new_nodes[chain[-1]] = node
        tail_of[chain[0]] = chain[-1]
    edges = []
    for node_id in graph.by_id:
        for e in graph.inputs[node_id]:
            if e.src in inner:  # inside a segment
                continue
            if e.dst in tail_of:  # a segment's input edge: it now enters the fused node
                e = Edge(e.src, tail_of[e.dst], e.from_port, e.to_port, e.path)
            edges.append(e)
    gnodes = [GraphNode(k, node_type_of(n), input_types(n), output_types(n)) for k, n in new_nodes.items()]
    return PipelineGraph(gnodes, edges), new_nodes, fused


class FusedNode:
    """A segment of native kernel nodes run as one node of a chunk stream.

    Args:
        stages: ``(node_id, node)`` in chain order.
    """

    is_streaming = False
    writes_files = False

    def __init__(self, stages: List[Tuple[str, Any]]) -> None:
        self.stages = stages
        self.name = stages[-1][0]
        self.node_type = f"fused({'+'.join(node_type_of(n) for _, n in stages)})"
        self.input_types = input_types(stages[0][1])
        self.output_types = output_types(stages[-1][1])
        self.impl = "native"
        self._types = {nid: node_type_of(n) for nid, n in stages}
        spec = {
            "stages": [dict(fused_stage(n), id=nid) for nid, n in stages],
            "edges": [{"from": a, "to": b} for (a, _), (b, _) in zip(stages, stages[1:])],
            "input": stages[0][0],
            "outputs": [nid for nid, _ in stages],
        }
        self.spec_json = json.dumps(spec)
        self.segment = _native.module().FusedSegment(self.spec_json)
        self._hooks: Any = None
        self._run_id = 0
        self._unfused = False
        self._started = False

    @property
    def id(self) -> str:
        return self.name

    def bind(self, run_id: int, hooks: Any) -> None:
        """Where each stage's call is reported (the run's hooks)."""
        self._run_id, self._hooks = run_id, hooks

    # ----------------------------------------------------------- the stream
    def begin_stream(self, **context: Any) -> None:
        self.segment.reset()
        self._unfused = False
        self._started = False
        for _, node in self.stages:
            begin = traits(node).cls.has_begin
            if begin:
                node.begin_stream(**context)

    def process_chunk(self, chunk: Any) -> Any:
        if self._unfused:
            return self._unfused_chunk(chunk)
        samples, sample_rate = coerce_audio(chunk, node_id=self.stages[0][0])
        t0 = time.perf_counter_ns()
        try:
            results = self.segment.process(samples, sample_rate)
        except ValueError as exc:
            if not self._started and _UNFUSABLE_INPUT in str(exc):
                self._unfused = True  # nothing ran: the nodes take this stream themselves
                return self._unfused_chunk(chunk)
            raise self._stage_error(exc) from exc
        self._started = True
        self._report(t0)
        out: Any = None
        for nid, node in self.stages:
            out = node.fused_output(results[nid])
        return out

    def flush(self) -> Any:
        if self._unfused:
            return self._unfused_flush()
        t0 = time.perf_counter_ns()
        try:
            results = self.segment.flush()
        except ValueError as exc:
            raise self._stage_error(exc) from exc
        self._report(t0)
        outs: List[Any] = []
        for nid, node in self.stages:
            converted = [node.fused_flush_output(r) for r in results[nid]]
            if nid == self.name:
                outs = [o for o in converted if o is not None]
        return Outputs(outs)

    def abort_stream(self) -> None:
        self.segment.reset()
        for _, node in self.stages:
            cls = traits(node).cls
            if cls.has_abort_stream:
                node.abort_stream()
            if cls.has_reset:
                node.reset()

    reset = abort_stream

    # ------------------------------------------------------------ internals
    def _report(self, t0: int) -> None:
        """Each stage of the latest call as a call of its node: its wall time and sizes from Rust, placed
        one after the other from ``t0`` (the stages ran in that order)."""
        hooks = self._hooks
        if hooks is None or not hooks.has_node_hooks:
            return
        times = self.segment.stage_times_us()
        sizes = self.segment.stage_sizes()
        start_ns = t0
        for nid, _ in self.stages:
            us = times.get(nid)
            if us is None:
                continue
            size = sizes.get(nid, {})
            duration_ns = int(us * 1000)
            kwargs = {"run_id": self._run_id, "node_id": nid, "node_type": self._types[nid], "attempt": 1}
            for hook in hooks.before_node:
                hook(item=None, fused=True, **kwargs)
            for hook in hooks.after_node:
                hook(duration_ns=duration_ns, error=None, delay_s=None, ran=True, result=None, fused=True,
                     stage_us=us, start_ns=start_ns, input_size=(size.get("in_samples"), size.get("in_bytes")),
                     output_size=(size.get("out_samples"), size.get("out_bytes")), **kwargs)
            start_ns += duration_ns

    def _stage_error(self, exc: ValueError) -> Exception:
        stage = getattr(exc, "stage_id", None) or self.name
        return node_error(stage, self._types.get(stage, self.node_type), 1, exc)

    def _unfused_chunk(self, chunk: Any) -> Any:
        x = chunk
        for _, node in self.stages:
            fn = node.process_chunk if traits(node).cls.stateful else node.process
            x = fn(x)
            if x is None:
                return None
        return x

    def _unfused_flush(self) -> Any:
        pending: List[Any] = []
        for _, node in self.stages:
            produced = []
            for x in pending:
                fn = node.process_chunk if traits(node).cls.stateful else node.process
                y = fn(x)
                if y is not None:
                    produced.append(y)
            if traits(node).cls.stateful and traits(node).cls.has_flush:
                y = node.flush()
                if y is not None:
                    produced.append(y)
            pending = produced
        return Outputs(pending)
