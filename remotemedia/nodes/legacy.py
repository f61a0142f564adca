"""The remotemedia 1.x helpers of ``Node`` and ``Pipeline`` that user code calls.

:class:`~remotemedia.nodes.base.Node` and :class:`~remotemedia.pipeline.Pipeline` inherit these
mixins, so a 1.x node subclass or script finds the methods it used:

- on nodes: ``split_data_metadata`` / ``merge_data_metadata`` (the ``(data, metadata)`` tuple
  convention), ``extract_session_id``, per-session state (``set_session_id``,
  ``get_session_id``, ``await get_session_state()``, the ``state`` manager), ``get_config``,
  ``get_capabilities`` and ``to_manifest``;
- on pipelines: ``export_definition``, ``serialize`` (1.x's JSON manifest, with
  ``capabilities`` when asked), ``await Pipeline.from_definition(...)``, ``get_config``,
  ``node_count``, ``remove_node``, ``len()`` and iteration.

Nothing here runs when unused: the state manager of a node is made on first use, so the
base classes carry no extra attributes.

Differences from 1.x, on purpose: ``from_definition`` never imports the ``module`` /
``class_name`` a definition names; node types resolve through the registry only, like
manifests (a definition is untrusted input). ``serialize`` writes each node's full
constructor parameters (1.x wrote ``node.config``, the leftover keyword arguments).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional, Tuple

#: Keys that make the last dict of a tuple its metadata (the 1.x rule of ``split_data_metadata``).
METADATA_KEYS = ("session_id", "metadata", "user_name", "timestamp")


@dataclass
class SessionState:
    """One session's state of a node (1.x ``SessionState``).

    Attributes:
        session_id: the session.
        data: the stored values.
        created_at, last_accessed: local times.
        metadata: free-form.
    """

    session_id: str
    data: Dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=datetime.now)
    last_accessed: datetime = field(default_factory=datetime.now)
    metadata: Dict[str, Any] = field(default_factory=dict)

    def update_access_time(self) -> None:
        self.last_accessed = datetime.now()

    def get(self, key: str, default: Any = None) -> Any:
        self.update_access_time()
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.update_access_time()
        self.data[key] = value

    def update(self, updates: Dict[str, Any]) -> None:
        self.update_access_time()
        self.data.update(updates)

    def clear(self) -> None:
        self.data.clear()
        self.update_access_time()


class StateManager:
    """Per-session states of one node (1.x ``StateManager``): isolation, expiry, a session limit.

    Args:
        default_ttl: sessions idle longer are dropped by :meth:`cleanup_expired_sessions` (24 h).
        max_sessions: when reached, a new session evicts the least recently used one.

    Thread-safe (a lock, not an event loop's): nodes run in worker threads.
    """

    def __init__(self, default_ttl: Optional[timedelta] = None, max_sessions: Optional[int] = None) -> None:
        self._states: Dict[str, SessionState] = {}
        self._lock = threading.Lock()
        self.default_ttl = default_ttl or timedelta(hours=24)
        self.max_sessions = max_sessions

    async def get_or_create_session(self, session_id: str) -> SessionState:
        with self._lock:
            state = self._states.get(session_id)
            if state is None:
                if self.max_sessions and len(self._states) >= self.max_sessions:
                    oldest = min(self._states, key=lambda k: self._states[k].last_accessed)
                    del self._states[oldest]
                state = self._states[session_id] = SessionState(session_id=session_id)
            return state

    async def get_session(self, session_id: str) -> Optional[SessionState]:
        with self._lock:
            return self._states.get(session_id)

    async def delete_session(self, session_id: str) -> bool:
        with self._lock:
            return self._states.pop(session_id, None) is not None

    async def get_all_sessions(self) -> Dict[str, SessionState]:
        with self._lock:
            return dict(self._states)

    async def clear_all_sessions(self) -> None:
        with self._lock:
            self._states.clear()

    async def cleanup_expired_sessions(self) -> int:
        """Drops sessions idle for longer than ``default_ttl``; returns how many."""
        now = datetime.now()
        with self._lock:
            expired = [k for k, s in self._states.items() if now - s.last_accessed > self.default_ttl]
            for k in expired:
                del self._states[k]
        return len(expired)


class LegacyNodeMixin:
    """The 1.x ``Node`` helpers (see the module docstring)."""

    name: str
    config: Dict[str, Any]

    # ----------------------------------------------------------- metadata
    def split_data_metadata(self, data: Any) -> Tuple[Any, Optional[Dict[str, Any]]]:
        """Splits ``(data, metadata)`` / ``(audio, sample_rate, metadata)`` into data and metadata.

        A tuple's last element is metadata when it is a dict holding one of
        ``session_id``, ``metadata``, ``user_name`` or ``timestamp`` (1.x rule).

        Returns:
            ``(data without metadata, metadata or None)``: for a 2-tuple the first element, for
            longer tuples the tuple without its last element.
        """
        if isinstance(data, tuple) and len(data) >= 2 and isinstance(data[-1], dict) \
                and any(k in data[-1] for k in METADATA_KEYS):
            return (data[0] if len(data) == 2 else data[:-1]), data[-1]
        return data, None

    def merge_data_metadata(self, data: Any, metadata: Optional[Dict[str, Any]]) -> Any:
        """Attaches ``metadata`` again: a tuple gets it appended, anything else becomes ``(data, metadata)``."""
        if metadata is None:
            return data
        return data + (metadata,) if isinstance(data, tuple) else (data, metadata)

    def extract_session_id(self, data: Any) -> Optional[str]:
        """The ``session_id`` of a dict input or of a tuple's trailing metadata dict, else None."""
        if isinstance(data, dict) and "session_id" in data:
            return data["session_id"]
        if isinstance(data, tuple) and len(data) >= 2 and isinstance(data[-1], dict) and "session_id" in data[-1]:
            return data[-1]["session_id"]
        return None

    # -------------------------------------------------------------- state
    @property
    def state(self) -> Optional[StateManager]:
        """The node's :class:`StateManager` (made on first use); None when the node was built with
        ``enable_state=False``."""
        if "_rm_state" not in self.__dict__:
            enabled = self.config.get("enable_state", True) if isinstance(getattr(self, "config", None), dict) \
                else True
            self.__dict__["_rm_state"] = StateManager(self.config.get("state_ttl") if enabled else None,
                                                      self.config.get("max_sessions")) if enabled else None
        return self.__dict__["_rm_state"]

    @state.setter
    def state(self, value: Any) -> None:
        self.__dict__["_rm_state"] = value

    def set_session_id(self, session_id: Optional[str]) -> None:
        """Sets the session that :meth:`get_session_state` uses by default."""
        self.__dict__["_rm_session_id"] = session_id

    def get_session_id(self) -> Optional[str]:
        """The current session id (None until set)."""
        return self.__dict__.get("_rm_session_id")

    async def get_session_state(self, session_id: Optional[str] = None) -> Optional[SessionState]:
        """The state of ``session_id`` (default: the current session), created on first use.

        Returns:
            None when state is disabled or no session is given or set.
        """
        manager = self.state
        session_id = session_id or self.get_session_id()
        if manager is None or not session_id:
            return None
        return await manager.get_or_create_session(session_id)

    # ---------------------------------------------------------- describing
    def get_config(self) -> Dict[str, Any]:
        """``{"name", "class", "config"}``: ``config`` is the node's constructor parameters (1.x: its
        keyword-argument config; both agree for nodes that pass their parameters on as 1.x did)."""
        params = self.get_params() if hasattr(self, "get_params") else {}
        return {"name": self.name, "class": type(self).__name__, "config": {**params, **self.config}}

    def get_capabilities(self) -> Optional[Dict[str, Any]]:
        """Resource requirements (1.x format: ``gpu``, ``cpu``, ``memory_gb``); None = none. Override it."""
        return None

    def to_manifest(self, include_capabilities: bool = True) -> Dict[str, Any]:
        """The node's manifest entry (1.x ``Node.to_manifest``): ``id``, ``node_type``, ``params``,
        ``is_streaming`` when set, ``capabilities`` when asked for and not None.

        Raises:
            ConfigurationError: a parameter cannot be written as JSON.
        """
        from remotemedia.nodes.entry import node_entry

        entry = node_entry(self)
        if include_capabilities:
            caps = self.get_capabilities()
            if caps:
                entry["capabilities"] = caps
        return entry


class LegacyPipelineMixin:
    """The 1.x ``Pipeline`` methods (see the module docstring)."""

    name: str

    # The host class (remotemedia.pipeline.Pipeline) provides these.
    nodes: List[Any]
    edges: List[Any]
    _nodes: Dict[str, Any]
    _edges: List[Any]
    _retry: Dict[str, Any]
    _graph: Any

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self._nodes)

    @property
    def remote_node_count(self) -> int:
        """Always 0: this package runs every node locally."""
        return 0

    @property
    def is_initialized(self) -> bool:
        """Whether every node is initialized (after ``initialize()`` / inside ``managed_execution``)."""
        return bool(self._nodes) and all(getattr(n, "is_initialized", False) for n in self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._nodes.values()))

    def remove_node(self, node_name: str) -> bool:
        """Removes the node named ``node_name`` and its connections; False when there is none."""
        if node_name not in self._nodes:
            return False
        del self._nodes[node_name]
        self._edges = [e for e in self._edges if node_name not in (e.src, e.dst)]
        self._retry.pop(node_name, None)
        self._graph = None
        return True

    def get_config(self) -> Dict[str, Any]:
        """``{"name", "node_count", "remote_node_count", "nodes": [node.get_config()...], "is_initialized"}``."""
        return {"name": self.name, "node_count": self.node_count, "remote_node_count": 0,
                "nodes": [n.get_config() for n in self._nodes.values()], "is_initialized": self.is_initialized}

    def _legacy_ids(self) -> Dict[str, str]:
        """node id -> the 1.x manifest id ``<name>_<index>``."""
        return {node_id: f"{node_id}_{i}" for i, node_id in enumerate(self._nodes)}

    def _legacy_connections(self, ids: Dict[str, str]) -> List[Dict[str, Any]]:
        out = []
        for e in self.edges:
            c: Dict[str, Any] = {"from": ids[e.src], "to": ids[e.dst]}
            if e.from_port is not None:
                c["from_port"] = e.from_port
            if e.to_port is not None:
                c["to_port"] = e.to_port
            out.append(c)
        return out

    def serialize(self, include_capabilities: bool = True, description: Optional[str] = None) -> str:
        """The pipeline as 1.x's JSON manifest (``version`` v1, ``metadata`` with ``name``,
        ``created_at`` and ``description``, ``nodes`` with ids ``<name>_<index>``, ``connections``).

        ``Pipeline.from_manifest`` reads it back (``capabilities`` are accepted and ignored there).

        Args:
            include_capabilities: add each node's ``get_capabilities()`` when it is not None.
            description: ``metadata.description``.

        Raises:
            ConfigurationError: a node parameter cannot be written as JSON.
        """
        ids = self._legacy_ids()
        nodes = []
        for node_id, node in self._nodes.items():
            entry = node.to_manifest(include_capabilities)
            entry["id"] = ids[node_id]
            nodes.append(entry)
        metadata: Dict[str, Any] = {"name": self.name,
                                    "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
        if description:
            metadata["description"] = description
        return json.dumps({"version": "v1", "metadata": metadata, "nodes": nodes,
                           "connections": self._legacy_connections(ids)}, indent=2)

    def export_definition(self) -> Dict[str, Any]:
        """The 1.x pipeline definition: ``name``, ``nodes`` (``node_id``, ``node_type``, ``config``,
        ``is_remote``, ``remote_endpoint``, ``is_streaming``, ``is_source``, ``is_sink``, ``module``,
        ``class_name``), ``connections`` (``from_node``, ``to_node``, ``output_port``,
        ``input_port``), ``metadata`` and ``dependencies``. Read it back with
        ``await Pipeline.from_definition(definition)``."""
        from remotemedia.nodes.protocol import traits

        ids = self._legacy_ids()
        graph = self.graph  # type: ignore[attr-defined]
        nodes = []
        for node_id, node in self._nodes.items():
            nodes.append({
                "node_id": ids[node_id], "node_type": type(node).node_type, "config": node.to_manifest(False)["params"],
                "is_remote": False, "remote_endpoint": None, "is_streaming": traits(node).is_streaming,
                "is_source": node_id in graph.sources, "is_sink": node_id in graph.sinks,
                "module": type(node).__module__, "class_name": type(node).__name__,
            })
        connections = [{"from_node": ids[e.src], "to_node": ids[e.dst], "output_port": e.from_port or "default",
                        "input_port": e.to_port or "default"} for e in self.edges]
        deps = {"remotemedia", "numpy"}
        for node in self._nodes.values():
            deps.update(getattr(node, "dependencies", ()) or ())
        order = list(ids.values())
        linear = [(c["from_node"], c["to_node"]) for c in connections] == list(zip(order, order[1:]))
        return {
            "name": self.name, "nodes": nodes, "connections": connections,
            "metadata": {"exported_at": time.time(), "node_count": str(self.node_count), "remote_node_count": "0",
                         "has_streaming_nodes": str(any(n["is_streaming"] for n in nodes)),
                         "pipeline_type": "linear" if linear else "dag"},
            "dependencies": sorted(deps),
        }

    @classmethod
    async def from_definition(cls, definition: Dict[str, Any], **kwargs: Any) -> Any:
        """Builds a pipeline from :meth:`export_definition`'s output (1.x: an async classmethod).

        Node types resolve through the registry only: a definition's ``module`` and
        ``class_name`` are never imported. Remote nodes are refused.

        Raises:
            PipelineValidationError: an unknown node type, bad parameters or connections (every
                problem at once, before anything runs).
            UnsupportedNodeError: a remote node.
        """
        from remotemedia.core.exceptions import UnsupportedNodeError
        from remotemedia.errors import PipelineValidationError, ValidationIssue

        if not isinstance(definition, dict) or not isinstance(definition.get("nodes"), list):
            raise PipelineValidationError([ValidationIssue("/nodes", "a definition has a list of nodes",
                                                           expected="list", given=type(definition).__name__)],
                                          "<definition>")
        nodes = []
        for i, d in enumerate(definition["nodes"]):
            if not isinstance(d, dict):
                raise PipelineValidationError([ValidationIssue(f"/nodes/{i}", "a node definition is an object")],
                                              "<definition>")
            if d.get("is_remote"):
                raise UnsupportedNodeError(str(d.get("node_type")), "remote execution needs a server this package "
                                           "does not ship; run the node locally", node_id=d.get("node_id"))
            spec: Dict[str, Any] = {"id": d.get("node_id"), "node_type": d.get("node_type") or d.get("class_name"),
                                    "params": d.get("config") or {}}
            if d.get("is_streaming"):
                spec["is_streaming"] = True
            nodes.append(spec)
        manifest: Dict[str, Any] = {"version": "v1", "metadata": {"name": definition.get("name") or "ImportedPipeline"},
                                    "nodes": nodes}
        if definition.get("connections"):
            manifest["connections"] = [
                {k: v for k, v in (("from", c.get("from_node")), ("to", c.get("to_node")),
                                   ("from_port", None if c.get("output_port") in (None, "default") else
                                    c.get("output_port")),
                                   ("to_port", None if c.get("input_port") in (None, "default") else
                                    c.get("input_port"))) if v is not None}
                for c in definition["connections"] if isinstance(c, dict)]
        await asyncio.sleep(0)
        return cls.from_manifest(manifest, **kwargs)  # type: ignore[attr-defined]


@dataclass
class RemoteExecutorConfig:
    """1.x remote endpoint settings (validated as 1.x did); calling it refuses, since this package
    runs nothing remotely.

    Raises:
        ConfigurationError: an unknown protocol, a port outside 1-65535 or a timeout <= 0.
    """

    host: str
    port: int
    protocol: str = "grpc"
    auth_token: Optional[str] = None
    timeout: float = 30.0
    max_retries: int = 3
    ssl_enabled: bool = True
    pip_packages: Optional[List[str]] = None

    def __post_init__(self) -> None:
        from remotemedia.errors import ConfigurationError

        if self.protocol not in ("grpc", "http"):
            raise ConfigurationError(f"unsupported protocol {self.protocol!r}", parameter="protocol",
                                     expected="'grpc' or 'http'", given=self.protocol)
        if not isinstance(self.port, int) or not 0 < self.port <= 65535:
            raise ConfigurationError(f"invalid port {self.port!r}", parameter="port", expected="1 to 65535",
                                     given=self.port)
        if self.timeout <= 0:
            raise ConfigurationError(f"invalid timeout {self.timeout!r}", parameter="timeout", expected="> 0 s",
                                     given=self.timeout)

    def __call__(self, target: Any, **kwargs: Any) -> Any:
        from remotemedia.core.exceptions import UnsupportedNodeError

        name = target if isinstance(target, str) else type(target).__name__
        raise UnsupportedNodeError("RemoteExecutionNode", f"running {name} on {self.host}:{self.port} needs the "
                                   "remotemedia 1.x server, which this package does not ship; run it locally")
