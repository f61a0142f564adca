"""The JSON pipeline manifest (version ``v1``, the remotemedia 1.x wire format).

A manifest is a JSON object::

    {
      "version": "v1",
      "metadata": {"name": "clean-speech", "description": "...", "created_at": "2025-01-01T00:00:00Z"},
      "nodes": [
        {"id": "conv", "node_type": "FormatConverterNode", "params": {"target_format": "f32"},
         "runtime_hint": "auto", "retry": {"max_retries": 3}, "is_streaming": false}
      ],
      "connections": [{"from": "conv", "to": "vad", "from_port": null, "to_port": null}],
      "config": {}
    }

``connections`` may be left out: the nodes then form a chain in the order
given (an empty list means "no connections"). Unknown keys are rejected
everywhere. :func:`validate_manifest` reports every problem at once: the
structure (pydantic), each node's ``params`` against its node type's parameter
model, the node constructors' own checks, and the graph (duplicate ids,
unknown ids and ports, port types, cycles).

This module imports pydantic; nothing imports it at ``import remotemedia``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Literal, Optional, Tuple, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remotemedia.errors import ConfigurationError, PipelineValidationError, ValidationIssue
from remotemedia.graph import Edge, GraphNode, PipelineGraph
from remotemedia.limits import DEFAULT_LIMITS, ManifestLimits, check_data, check_text

MANIFEST_VERSION = "v1"
ACCEPTED_VERSIONS = ("v1", "1", "1.0")
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:remotemedia:schema:pipeline-manifest:v1"
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"

ManifestSource = Union[str, "os.PathLike[str]", Dict[str, Any]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetryPolicySpec(_Strict):
    """A node's retry policy (validated and stored; applied by the reliability layer)."""

    max_retries: int = Field(3, ge=0, le=100, description="retries after the first attempt")
    initial_delay_s: float = Field(0.1, ge=0, description="delay before the first retry (s)")
    multiplier: float = Field(2.0, ge=1, description="delay growth factor per retry")
    max_delay_s: float = Field(30.0, ge=0, description="upper bound of one delay (s)")
    jitter: float = Field(0.1, ge=0, le=1, description="fraction of each delay randomised")


class MetadataSpec(_Strict):
    name: str = Field(min_length=1)
    description: Optional[str] = None
    created_at: Optional[str] = Field(None, description="ISO 8601 timestamp")


class NodeSpec(_Strict):
    id: str = Field(pattern=NODE_ID_PATTERN)
    node_type: str = Field(min_length=1)
    params: Dict[str, Any] = Field(default_factory=dict)
    runtime_hint: Optional[Literal["auto", "native", "python", "rust"]] = None
    retry: Optional[RetryPolicySpec] = None
    is_streaming: Optional[bool] = None
    capabilities: Optional[Dict[str, Any]] = Field(
        None, description="remotemedia 1.x resource requirements (Pipeline.serialize); accepted and not used")


class ConnectionSpec(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    from_port: Optional[str] = None
    to_port: Optional[str] = None


class ManifestSpec(_Strict):
    """The whole manifest."""

    model_config = ConfigDict(extra="forbid", title="remotemedia pipeline manifest")

    version: Literal["v1", "1", "1.0"]
    metadata: MetadataSpec
    nodes: List[NodeSpec] = Field(min_length=1)
    connections: Optional[List[ConnectionSpec]] = None
    config: Dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------- schema
def json_schema() -> Dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a manifest, with ``$schema`` and ``$id``.

    Each registered node type whose parameter model can be expressed in JSON
    Schema adds an ``if node_type == T then params: <model>`` rule.
    """
    from remotemedia.nodes.registry import registered_classes

    schema = ManifestSpec.model_json_schema(by_alias=True)
    rules = []
    for type_name, cls in registered_classes().items():
        try:
            params = cls.params_model().model_json_schema()
        except Exception:  # a parameter type without a JSON form: no rule for it
            continue
        schema.setdefault("$defs", {})[f"params_{type_name}"] = params
        rules.append({
            "if": {"properties": {"node_type": {"const": type_name}}, "required": ["node_type"]},
            "then": {"properties": {"params": {"$ref": f"#/$defs/params_{type_name}"}}},
        })
    if rules:
        schema["$defs"]["NodeSpec"]["allOf"] = rules
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


# -------------------------------------------------------------------- loading
def load_manifest(source: ManifestSource, *, limits: Optional[ManifestLimits] = None) -> Dict[str, Any]:
    """Reads a manifest: a dict (returned as is), a JSON string, or a path to a JSON file.

    Args:
        source: the manifest.
        limits: size limits checked before parsing (default :data:`~remotemedia.limits.DEFAULT_LIMITS`).

    Raises:
        PipelineValidationError: the file is missing, too large, too deeply nested or not JSON.
    """
    if isinstance(source, dict):
        return source
    lim = limits or DEFAULT_LIMITS
    text: str
    origin = "<string>"
    if isinstance(source, str) and source.lstrip().startswith("{"):
        text = source
    else:
        origin = os.fspath(source)
        try:
            size = os.stat(origin).st_size
            if size > lim.max_bytes:  # never read an oversized file into memory
                raise PipelineValidationError([ValidationIssue(
                    "", f"manifest is {size} bytes, over the limit of {lim.max_bytes}", parameter="max_bytes",
                    expected=f"at most {lim.max_bytes} bytes", given=str(size))], origin)
            with open(origin, encoding="utf-8") as fh:
                text = fh.read(lim.max_bytes + 1)
        except OSError as exc:
            raise PipelineValidationError([ValidationIssue("", f"cannot read {origin}: {exc.strerror or exc}")],
                                          origin) from exc
        except UnicodeDecodeError as exc:
            raise PipelineValidationError([ValidationIssue("", f"not UTF-8 text: {exc.reason}")], origin) from exc
        except ValueError as exc:  # a "path" holding a NUL byte: neither JSON text nor a file name
            raise PipelineValidationError([ValidationIssue(
                "", f"neither JSON text (it does not start with '{{') nor a file name ({exc})")], "<string>") from exc
    too_big = check_text(text, lim)
    if too_big:
        raise PipelineValidationError(too_big, origin)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineValidationError(
            [ValidationIssue("", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")], origin) from exc
    if not isinstance(data, dict):
        raise PipelineValidationError(
            [ValidationIssue("", "a manifest is a JSON object", expected="object", given=type(data).__name__)], origin)
    return data


def validate_manifest(data: Dict[str, Any], *, instantiate: bool = True,
                      limits: Optional[ManifestLimits] = None) -> List[ValidationIssue]:
    """Every problem of a manifest (an empty list when it is valid).

    Args:
        data: the parsed JSON object.
        instantiate: also construct each node (constructors check more than
            types, e.g. a sample format name); constructors must be cheap.
        limits: size limits, checked first (an oversized manifest is reported
            alone, before any other work).
    """
    return _all_issues(data, instantiate, limits)[1]


def _all_issues(data: Any, instantiate: bool,
                limits: Optional[ManifestLimits] = None) -> Tuple[List[Any], List[ValidationIssue]]:
    over = check_data(data, limits)
    if over:
        return [], over
    issues = _structure_issues(data)
    broken = {int(i.path.split("/")[2]) for i in issues if i.path.startswith("/nodes/") and
              i.path.split("/")[2].isdigit()}
    nodes, node_issues = build_nodes(data, instantiate=instantiate, skip=broken)
    issues.extend(node_issues)
    issues.extend(manifest_graph(data).problems())
    return nodes, _dedupe(issues)


def _dedupe(issues: List[ValidationIssue]) -> List[ValidationIssue]:
    seen = set()
    out = []
    for issue in issues:
        key = (issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out


def _structure_issues(data: Any) -> List[ValidationIssue]:
    try:
        ManifestSpec.model_validate(data)
    except ValidationError as exc:
        return [_issue_from_pydantic(err, data, prefix=()) for err in exc.errors()]
    return []


def _issue_from_pydantic(err: Dict[str, Any], data: Any, prefix: Tuple[Any, ...],
                         node_id: Optional[str] = None) -> ValidationIssue:
    loc = tuple(prefix) + tuple(err.get("loc", ()))
    path = "/" + "/".join(str(p) for p in loc)
    if node_id is None and len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        node_id = _node_id_at(data, loc[1])
    names = [p for p in loc if isinstance(p, str)]
    parameter = names[-1] if names else None
    kind = err.get("type", "")
    given = _short(err.get("input"))
    if kind == "extra_forbidden":
        return ValidationIssue(path, f"unknown key {parameter!r}", node_id=node_id, parameter=parameter,
                               expected="no such key", given=given)
    if kind == "missing":
        return ValidationIssue(path, f"missing required key {parameter!r}", node_id=node_id, parameter=parameter,
                               expected="a value", given="nothing")
    expected = err.get("msg", "a valid value")
    return ValidationIssue(path, f"{parameter}: {expected}, given {given}", node_id=node_id, parameter=parameter,
                           expected=expected, given=given)


def _merge_union_errors(errors: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One error per parameter: pydantic reports a failed ``Union`` once per member."""
    merged: Dict[Any, Dict[str, Any]] = {}
    for err in errors:
        loc = tuple(err.get("loc", ()))
        key = loc[:1]
        if key not in merged:
            merged[key] = dict(err, loc=key if len(loc) > 1 and err.get("type") not in ("missing", "extra_forbidden")
                               and _is_union_tail(loc) else loc)
        elif merged[key]["loc"] == key and err.get("msg") not in merged[key]["msg"]:
            merged[key]["msg"] = f"{merged[key]['msg']}; or {err.get('msg')}"
        else:
            merged[(key, loc)] = err
    return list(merged.values())


def _is_union_tail(loc: Tuple[Any, ...]) -> bool:
    """Whether ``loc`` ends in a union member tag (``int``, ``list[float]``, ...) rather than a key or index."""
    tail = loc[-1]
    if not isinstance(tail, str) or len(loc) != 2:
        return False
    return any(ch in tail for ch in "[]-") or tail in (
        "int", "float", "str", "bool", "bytes", "none", "dict", "list", "tuple", "set")


def _node_id_at(data: Any, index: int) -> Optional[str]:
    try:
        node_id = data["nodes"][index]["id"]
    except (KeyError, IndexError, TypeError):
        return None
    return node_id if isinstance(node_id, str) else None


def _short(value: Any, limit: int = 80) -> str:
    from remotemedia.nodes.entry import short_repr

    return short_repr(value, limit)


def _node_dicts(data: Any) -> List[Tuple[int, Dict[str, Any]]]:
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, list):
        return []
    return [(i, n) for i, n in enumerate(nodes) if isinstance(n, dict)]


def manifest_graph(data: Any) -> PipelineGraph:
    """The graph of a (possibly invalid) manifest, built from whatever is well formed."""
    from remotemedia.nodes.registry import registered_classes

    classes = registered_classes()
    nodes: List[GraphNode] = []
    for i, spec in _node_dicts(data):
        node_id, node_type = spec.get("id"), spec.get("node_type")
        if not isinstance(node_id, str):
            continue
        cls = classes.get(node_type) if isinstance(node_type, str) else None
        ports = {}
        if cls is not None:
            ports = {"input_types": dict(cls.input_types), "output_types": dict(cls.output_types)}
        nodes.append(GraphNode(node_id, node_type if isinstance(node_type, str) else "?", path=f"/nodes/{i}",
                               **ports))
    conns = data.get("connections") if isinstance(data, dict) else None
    edges: List[Edge] = []
    if conns is None:
        edges = [Edge(a.id, b.id, path="/nodes") for a, b in zip(nodes, nodes[1:])]
    elif isinstance(conns, list):
        for i, c in enumerate(conns):
            if isinstance(c, dict) and isinstance(c.get("from"), str) and isinstance(c.get("to"), str):
                fp, tp = c.get("from_port"), c.get("to_port")
                edges.append(Edge(c["from"], c["to"], fp if isinstance(fp, str) else None,
                                  tp if isinstance(tp, str) else None, path=f"/connections/{i}"))
    return PipelineGraph(nodes, edges)


def build_nodes(data: Any, *, instantiate: bool = True, skip: Iterable[int] = ()) -> Tuple[List[Any],
                                                                                          List[ValidationIssue]]:
    """Validates each node's ``params`` and constructs the nodes (except those at indices ``skip``,
    whose structure is already known to be wrong).

    Returns:
        ``(nodes, issues)``: the nodes that could be built (all of them when
        ``issues`` is empty; none when ``instantiate`` is False).
    """
    from remotemedia.nodes.params import NODE_LEVEL
    from remotemedia.nodes.registry import registered_classes

    classes = registered_classes()
    nodes: List[Any] = []
    issues: List[ValidationIssue] = []
    for i, spec in _node_dicts(data):
        node_id = spec.get("id") if isinstance(spec.get("id"), str) else None
        node_type = spec.get("node_type")
        if not isinstance(node_type, str):
            continue  # reported by the structure check
        cls = classes.get(node_type)
        if cls is None:
            known = ", ".join(sorted(classes))
            issues.append(ValidationIssue(f"/nodes/{i}/node_type", f"unknown node type {node_type!r} (known: {known})",
                                          node_id=node_id, parameter="node_type", expected="a registered node type",
                                          given=repr(node_type)))
            continue
        params = spec.get("params", {})
        if not isinstance(params, dict):
            continue
        node_level = [k for k in params if k in NODE_LEVEL]
        for key in node_level:
            issues.append(ValidationIssue(f"/nodes/{i}/params/{key}",
                                          f"{key!r} belongs at the node level, not in params",
                                          node_id=node_id, parameter=key, expected=f"nodes[{i}].{key}",
                                          given=_short(params[key])))
        try:
            model = cls.params_model().model_validate(params)
        except ValidationError as exc:
            errors = [err for err in exc.errors()
                      if not (err.get("type") == "extra_forbidden" and err.get("loc", ("",))[0] in node_level)]
            issues.extend(_issue_from_pydantic(err, data, ("nodes", i, "params"), node_id)
                          for err in _merge_union_errors(errors))
            continue
        if not instantiate or node_id is None or node_level or i in skip:
            continue
        kwargs = model.model_dump(exclude_unset=True)
        try:
            nodes.append(construct_node(cls, node_id, kwargs, spec.get("runtime_hint"), spec.get("is_streaming")))
        except ConfigurationError as exc:
            param = exc.parameter
            path = f"/nodes/{i}/params/{param}" if param in params else (
                f"/nodes/{i}/{param}" if param in spec else f"/nodes/{i}")
            issues.append(ValidationIssue(path, str(exc), node_id=node_id, parameter=param, expected=exc.expected,
                                          given=None if exc.given is None else str(exc.given)))
        except ImportError as exc:  # NativeUnavailableError: runtime_hint native without native
            issues.append(ValidationIssue(f"/nodes/{i}/runtime_hint", str(exc), node_id=node_id,
                                          parameter="runtime_hint", expected="an available implementation",
                                          given=repr(spec.get("runtime_hint"))))
        except Exception as exc:
            issues.append(ValidationIssue(f"/nodes/{i}", f"{node_type}(...) failed: {type(exc).__name__}: {exc}",
                                          node_id=node_id))
    return nodes, issues


def construct_node(cls: type, node_id: str, params: Dict[str, Any], runtime_hint: Optional[str],
                   is_streaming: Optional[bool]) -> Any:
    """``cls(name=node_id, **params)`` plus the node-level fields."""
    import inspect

    kwargs = dict(params)
    if runtime_hint is not None:
        sig = inspect.signature(cls.__init__)
        accepts = "runtime_hint" in sig.parameters or any(
            p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        if not accepts:
            raise ConfigurationError(f"node {node_id!r}: {cls.__name__} takes no runtime_hint", node_id=node_id,
                                     parameter="runtime_hint", expected="no runtime_hint", given=runtime_hint)
        kwargs["runtime_hint"] = runtime_hint
    node = cls(name=node_id, **kwargs)
    if is_streaming is not None:
        node.is_streaming = is_streaming
    return node


def parse_manifest(source: ManifestSource, *,
                   limits: Optional[ManifestLimits] = None) -> Tuple[Dict[str, Any], List[Any]]:
    """Loads, validates and builds: ``(data, nodes)``.

    Raises:
        PipelineValidationError: every problem found.
    """
    data = load_manifest(source, limits=limits)
    origin = os.fspath(source) if isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith(
        "{") else "manifest"
    nodes, issues = _all_issues(data, True, limits)
    if issues:
        raise PipelineValidationError(issues, origin)
    return data, nodes


# ------------------------------------------------------------------- writing
def node_entry(node: Any, *, retry: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The manifest entry of a node: every constructor parameter, JSON-ready, and ``retry`` (validated).

    Raises:
        ConfigurationError: a parameter cannot be written (not JSON, positional
            varargs, or unknown to the node type's parameter model).
    """
    from remotemedia.nodes.entry import node_entry as entry_of

    return entry_of(node, retry=None if retry is None else RetryPolicySpec.model_validate(retry).model_dump())


# ------------------------------------------------------------------ node-link
_NODE_KEYS = ("id", "node_type", "params", "runtime_hint", "retry", "is_streaming")


def to_node_link(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """A manifest as node-link JSON (what ``networkx.node_link_graph`` reads).

    Graph attributes hold ``version``, ``metadata`` and ``config``; node
    attributes the node fields; edges ``source``/``target`` and the ports.
    """
    edges = []
    for c in manifest.get("connections") or []:
        e = {"source": c["from"], "target": c["to"]}
        for port in ("from_port", "to_port"):
            if c.get(port) is not None:
                e[port] = c[port]
        edges.append(e)
    pairs = [(e["source"], e["target"]) for e in edges]
    return {
        "directed": True,
        "multigraph": len(set(pairs)) != len(pairs),
        "graph": {"version": manifest.get("version", MANIFEST_VERSION), "metadata": manifest.get("metadata", {}),
                  "config": manifest.get("config", {})},
        "nodes": [dict(n) for n in manifest.get("nodes", [])],
        "edges": edges,
    }


def from_node_link(data: Dict[str, Any]) -> Dict[str, Any]:
    """A manifest from node-link JSON (``"edges"``, or ``"links"`` as older networkx writes).

    Raises:
        PipelineValidationError: the node-link data is not directed or lacks nodes.
    """
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise PipelineValidationError([ValidationIssue("/nodes", "node-link data needs a list of nodes")], "node-link")
    if data.get("directed") is False:
        raise PipelineValidationError([ValidationIssue("/directed", "a pipeline graph must be directed",
                                                       expected="true", given="false")], "node-link")
    graph = data.get("graph") or {}
    edges = data.get("edges", data.get("links", []))
    connections = []
    for e in edges:
        c = {"from": e.get("source"), "to": e.get("target")}
        c.update({k: v for k, v in e.items() if k not in ("source", "target", "key")})
        connections.append(c)
    metadata = graph.get("metadata") or {"name": graph.get("name", "pipeline")}
    return {
        "version": graph.get("version", MANIFEST_VERSION),
        "metadata": metadata,
        "nodes": [dict(n) for n in data["nodes"]],
        "connections": connections,
        "config": graph.get("config", {}),
    }
