"""PipelineGraph: the pipeline's nodes and connections, checked once.

The graph knows node ids, types and ports, not node instances, so the same
checks serve a manifest (before any node exists) and a pipeline built in
Python. :meth:`PipelineGraph.problems` reports every problem at once:

- duplicate node ids, node types that are not registered (left to the caller,
  who knows the registry), connections naming unknown ids or ports;
- port type mismatches: an output port of type ``T`` may feed an input port of
  type ``T`` or ``"any"`` (and an ``"any"`` output feeds anything);
- every cycle, with its full path (``cycle: a -> b -> c -> a``).

Topological order is deterministic: Kahn's algorithm, ties broken by the
order nodes were declared.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from remotemedia.errors import PipelineValidationError, ValidationIssue

ANY = "any"
#: At most this many cycles are listed (the count of the rest is reported).
MAX_CYCLES = 50
#: Path-search steps spent listing cycles before the listing is cut short.
MAX_CYCLE_SEARCH_STEPS = 200_000


@dataclass(frozen=True)
class GraphNode:
    """A node as the graph sees it.

    Attributes:
        id: unique node id.
        node_type: registered type name.
        input_types: input port name -> data type.
        output_types: output port name -> data type.
        path: its location in the manifest (``/nodes/3``).
    """

    id: str
    node_type: str = "Node"
    input_types: Mapping[str, str] = field(default_factory=lambda: {"input": ANY})
    output_types: Mapping[str, str] = field(default_factory=lambda: {"output": ANY})
    path: str = ""


@dataclass(frozen=True)
class Edge:
    """A connection ``src -> dst``, optionally between named ports.

    Attributes:
        src: source node id.
        dst: destination node id.
        from_port: output port of ``src`` (None = its only port, or its whole output).
        to_port: input port of ``dst`` (None = its only port).
        path: its location in the manifest (``/connections/0``).
    """

    src: str
    dst: str
    from_port: Optional[str] = None
    to_port: Optional[str] = None
    path: str = ""

    @property
    def key(self) -> str:
        """How ``dst`` receives this edge's items on fan-in: ``to_port``, else ``src``."""
        return self.to_port if self.to_port is not None else self.src


def types_compatible(given: str, accepted: str) -> bool:
    """Whether an output of type ``given`` may feed an input of type ``accepted``."""
    return given == ANY or accepted == ANY or given == accepted


class PipelineGraph:
    """The nodes and edges of a pipeline, with their checks and order.

    Args:
        nodes: the nodes, in declaration order (ids should be unique).
        edges: the connections, in declaration order.
    """

    def __init__(self, nodes: Sequence[GraphNode], edges: Sequence[Edge]) -> None:
        self.nodes: List[GraphNode] = list(nodes)
        self.edges: List[Edge] = list(edges)
        self.by_id: Dict[str, GraphNode] = {}
        for node in self.nodes:
            self.by_id.setdefault(node.id, node)
        self._index = {node_id: i for i, node_id in enumerate(self.by_id)}
        self.inputs: Dict[str, List[Edge]] = {node_id: [] for node_id in self.by_id}
        self.outputs: Dict[str, List[Edge]] = {node_id: [] for node_id in self.by_id}
        for edge in self.edges:
            if edge.src in self.by_id and edge.dst in self.by_id:
                self.outputs[edge.src].append(edge)
                self.inputs[edge.dst].append(edge)

    # ----------------------------------------------------------------- queries
    def chain_order(self) -> Optional[List[str]]:
        """The node ids from source to sink when the graph is one chain (every node has at most
        one input and one output connection, and all are connected), else None. Computed once."""
        try:
            return self._chain
        except AttributeError:
            pass
        chain: Optional[List[str]] = None
        sources = [n for n in self.by_id if not self.inputs[n]]
        if len(sources) == 1 and all(len(self.inputs[n]) <= 1 and len(self.outputs[n]) <= 1 for n in self.by_id):
            chain = [sources[0]]
            while self.outputs[chain[-1]] and len(chain) <= len(self.by_id):
                chain.append(self.outputs[chain[-1]][0].dst)
            if len(chain) != len(self.by_id) or len(set(chain)) != len(chain):
                chain = None
        self._chain: Optional[List[str]] = chain
        return chain

    @property
    def sources(self) -> List[str]:
        """Node ids without inputs (they receive the pipeline input), in order."""
        return [n for n in self.by_id if not self.inputs[n]]

    @property
    def sinks(self) -> List[str]:
        """Node ids without outputs (their outputs are the result), in order."""
        return [n for n in self.by_id if not self.outputs[n]]

    def predecessors(self, node_id: str) -> List[str]:
        return [e.src for e in self.inputs[node_id]]

    def successors(self, node_id: str) -> List[str]:
        return [e.dst for e in self.outputs[node_id]]

    def topological_order(self) -> List[str]:
        """Node ids, each after all its predecessors; ties in declaration order.

        Raises:
            PipelineValidationError: the graph has a cycle.
        """
        indegree = {n: len(self.inputs[n]) for n in self.by_id}
        heap = [(self._index[n], n) for n, d in indegree.items() if d == 0]
        heapq.heapify(heap)
        order: List[str] = []
        while heap:
            _, node_id = heapq.heappop(heap)
            order.append(node_id)
            for edge in self.outputs[node_id]:
                indegree[edge.dst] -= 1
                if indegree[edge.dst] == 0:
                    heapq.heappush(heap, (self._index[edge.dst], edge.dst))
        if len(order) != len(self.by_id):
            raise PipelineValidationError(self._cycle_issues(), "pipeline graph")
        return order

    # ------------------------------------------------------------------ checks
    def problems(self) -> List[ValidationIssue]:
        """Every structural problem of the graph (empty when it is valid)."""
        issues: List[ValidationIssue] = []
        seen: Dict[str, str] = {}
        for node in self.nodes:
            if node.id in seen:
                issues.append(ValidationIssue(
                    f"{node.path}/id", f"duplicate node id {node.id!r} (first at {seen[node.id] or 'an earlier node'})",
                    node_id=node.id, parameter="id", expected="a unique id", given=repr(node.id)))
            else:
                seen[node.id] = node.path
        delivered: Dict[Tuple[str, str], Edge] = {}
        for edge in self.edges:
            edge_issues = self._edge_problems(edge)
            issues.extend(edge_issues)
            if edge_issues:
                continue
            first = delivered.setdefault((edge.dst, edge.key), edge)
            if first is not edge:
                issues.append(ValidationIssue(
                    edge.path, f"two connections deliver to {edge.dst!r} under the same key {edge.key!r} "
                    f"(also {first.path or 'an earlier connection'}); give them distinct to_port names",
                    node_id=edge.dst, parameter="to_port", expected="a distinct to_port", given=repr(edge.to_port)))
        issues.extend(self._cycle_issues())
        return issues

    def validate(self) -> "PipelineGraph":
        """Returns self, or raises :class:`PipelineValidationError` listing every problem."""
        issues = self.problems()
        if issues:
            raise PipelineValidationError(issues, "pipeline graph")
        return self

    def _edge_problems(self, edge: Edge) -> List[ValidationIssue]:
        issues = []
        for end, node_id in (("from", edge.src), ("to", edge.dst)):
            if node_id not in self.by_id:
                issues.append(ValidationIssue(
                    f"{edge.path}/{end}", f"connection {end} unknown node id {node_id!r}", node_id=node_id,
                    parameter=end, expected=f"one of {sorted(self.by_id)}" if len(self.by_id) <= 20 else "a node id",
                    given=repr(node_id)))
        if issues:
            return issues
        src, dst = self.by_id[edge.src], self.by_id[edge.dst]
        out_type, problem = _port_type(src.output_types, edge.from_port, "output", allow_whole=True)
        if problem:
            issues.append(ValidationIssue(f"{edge.path}/from_port", f"node {src.id!r} ({src.node_type}): {problem}",
                                          node_id=src.id, parameter="from_port",
                                          expected=f"one of {sorted(src.output_types)}", given=repr(edge.from_port)))
        in_type, problem = _port_type(dst.input_types, edge.to_port, "input", allow_whole=False)
        if problem:
            issues.append(ValidationIssue(f"{edge.path}/to_port", f"node {dst.id!r} ({dst.node_type}): {problem}",
                                          node_id=dst.id, parameter="to_port",
                                          expected=f"one of {sorted(dst.input_types)}", given=repr(edge.to_port)))
        if out_type is not None and in_type is not None and not types_compatible(out_type, in_type):
            issues.append(ValidationIssue(
                edge.path, f"port type mismatch: {src.id!r} ({src.node_type}) gives {out_type!r} but "
                f"{dst.id!r} ({dst.node_type}) takes {in_type!r}", node_id=dst.id, parameter="to_port",
                expected=repr(in_type), given=repr(out_type)))
        return issues

    # ------------------------------------------------------------------ cycles
    def find_cycles(self, limit: int = MAX_CYCLES) -> Tuple[List[List[str]], bool]:
        """The elementary cycles of the graph, each a list of ids ending where it starts.

        Every strongly connected component is searched; each cycle is listed once,
        starting at its earliest-declared node. Returns ``(cycles, truncated)``:
        ``truncated`` is True when more than ``limit`` cycles exist.
        """
        succ = {n: [e.dst for e in self.outputs[n]] for n in self.by_id}
        cycles: List[List[str]] = []
        budget = [MAX_CYCLE_SEARCH_STEPS]
        # Johnson's outer loop: take a component's earliest node, list the cycles
        # through it, remove it, and split what is left into components again.
        todo = _strongly_connected(list(self.by_id), succ, set(self.by_id))
        while todo:
            component = todo.pop()
            if len(component) == 1 and component[0] not in succ[component[0]]:
                continue
            start = min(component, key=self._index.__getitem__)
            members = set(component)
            if _cycles_from(start, succ, members, cycles, limit, budget):
                return cycles, True
            members.discard(start)
            rest = sorted(members, key=self._index.__getitem__)
            todo.extend(reversed(_strongly_connected(rest, succ, members)))
        return cycles, False

    def _cycle_issues(self) -> List[ValidationIssue]:
        cycles, truncated = self.find_cycles()
        issues = [
            ValidationIssue("/connections", "cycle: " + " -> ".join(cycle), node_id=cycle[0], parameter="connections",
                            expected="an acyclic graph", given=" -> ".join(cycle))
            for cycle in cycles
        ]
        if truncated:
            issues.append(ValidationIssue("/connections", f"more cycles than listed ({len(cycles)} shown)",
                                          parameter="connections"))
        return issues


def _port_type(ports: Mapping[str, str], port: Optional[str], kind: str, *, allow_whole: bool):
    """(type, problem) of ``port`` among ``ports``."""
    if port is None:
        if len(ports) == 1:
            return next(iter(ports.values())), None
        if allow_whole or not ports:
            return ANY, None  # the whole output dict, or a node that declares no ports
        return None, f"has {kind} ports {sorted(ports)}; name one"
    if port not in ports:
        return None, f"has no {kind} port {port!r}"
    return ports[port], None


def _strongly_connected(nodes: List[str], succ: Dict[str, List[str]], members: set) -> List[List[str]]:
    """Tarjan's strongly connected components of the subgraph on ``members``.

    Iterative, so deep graphs do not recurse.
    """
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    on_stack = set()
    stack: List[str] = []
    components: List[List[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            children = succ[node]
            while i < len(children):
                child = children[i]
                i += 1
                if child not in members:
                    continue
                if child not in index:
                    work.append((node, i))
                    work.append((child, 0))
                    recurse = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycles_from(start: str, succ: Dict[str, List[str]], allowed: set, out: List[List[str]], limit: int,
                 budget: List[int]) -> bool:
    """Appends the elementary cycles through ``start`` within ``allowed``; True when cut short."""
    path = [start]
    on_path = {start}
    iters = [iter(succ[start])]
    while iters:
        budget[0] -= 1
        if budget[0] < 0:
            return True
        nxt = next(iters[-1], None)
        if nxt is None:
            iters.pop()
            on_path.discard(path.pop())
            continue
        if nxt == start:
            if len(out) >= limit:
                return True
            out.append(path + [start])
        elif nxt in allowed and nxt not in on_path:
            path.append(nxt)
            on_path.add(nxt)
            iters.append(iter(succ[nxt]))
    return False
