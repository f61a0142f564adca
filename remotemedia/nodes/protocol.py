"""The node protocol: what a node may implement and what it declares.

This is the one module that looks at a node's optional attributes; the engine,
the pipeline, manifests and metrics ask :func:`traits` instead of probing.
:class:`~remotemedia.nodes.base.Node` is the usual base class, but any object
with an ``id`` and a ``process`` method is a node.

What a node may implement (every method optional but one of ``process`` /
``iter_chunks``):

``process(item)``
    Items: called once per input item (a fan-in node gets a dict keyed by
    source node id or ``to_port``). A plain function runs in the engine's
    thread pool, an ``async def`` is awaited, an async generator yields zero or
    more outputs. ``None`` means "no output". A source called without input
    (``pipeline.run()``) gets ``process()`` (or ``process(None)`` when its
    signature needs an argument). Chunk streams call it per chunk on nodes
    without ``process_chunk`` (stateless per chunk).
``iter_chunks(**context)``
    A *chunk source* (no inputs): a sync or async iterator of chunks.
``begin_stream(**context)``, ``process_chunk(chunk)``, ``flush()``
    The streaming trio of a *stateful* node in a chunk stream: once before the
    first chunk (``context`` holds ``source_path``, ``output``, ``chunk_s`` /
    ``chunk_frames`` / ``chunk_bytes`` when given; accept ``**future_kwargs``),
    per chunk in order, then once at the end. The chunks' outputs followed by
    the flush's must equal the whole-stream result.
``abort_stream()`` / ``reset()``
    Called when a chunk stream fails or is cancelled (after the node's call in
    flight returned): sinks drop temporary files (``abort_stream``), stateful
    nodes drop their stream state (``reset``).
``initialize()`` / ``cleanup()``
    Lifecycle, around a pipeline's runs (sync or ``async def``).

What a node declares (attributes):

``is_streaming``
    True: ``process`` receives the whole input stream as an async iterator
    and returns an async iterator of outputs.
``writes_files``
    True for file sinks (``AudioFileSink``, ``SegmentWriter``): ``run_file``
    gives them the output path.
``circuit_key(item)``
    The circuit-breaker key of one call (a remote host, say); without it the
    node type is the key.
``retry_policy``
    The node's own :class:`~remotemedia.reliability.RetryPolicy` (or a dict
    of its fields).
``kernel_family``
    The kernel family a kernel node runs (then ``impl`` says which
    implementation and ``with_impl(impl)`` gives a copy bound to another).
``input_types`` / ``output_types``
    Ports: name -> data type. With several output ports ``process`` returns a
    dict keyed by port.
``fused_stage()``, ``fused_output(result)``, ``fused_flush_output(result)``
    A kernel node that can run inside a fused native segment (see
    :mod:`remotemedia.engine.fusion`): its stage spec for the current
    parameters (or None: not now), and its output built from the stage's
    result, per chunk and per flush output.

A call may return :class:`Outputs` (a list) to emit several outputs at once
(a flush that ends several things).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Tuple, runtime_checkable

DEFAULT_INPUT_TYPES: Mapping[str, str] = {"input": "any"}
DEFAULT_OUTPUT_TYPES: Mapping[str, str] = {"output": "any"}


@runtime_checkable
class NodeProtocol(Protocol):
    """The minimal node: an id and ``process``. Everything else in the module docstring is optional."""

    @property
    def id(self) -> str: ...

    def process(self, data: Any) -> Any: ...


@dataclass(frozen=True)
class ClassTraits:
    """What a node class implements (computed once per class).

    Attributes:
        process_mode: how ``process`` is called: ``"sync"``, ``"async"`` or ``"asyncgen"``.
        source_call_without_argument: ``process()`` (True) or ``process(None)`` for a source call.
        chunk_source: the class has ``iter_chunks``.
        chunk_source_async: ``iter_chunks`` is an async generator.
        stateful: the class has ``process_chunk`` (then ``flush`` / ``begin_stream`` may follow).
        chunk_mode: how the per-chunk function (``process_chunk`` or ``process``) is called.
        flush_async, begin_async: ``flush`` / ``begin_stream`` are ``async def``.
        has_flush, has_begin, has_abort_stream, has_reset: the optional methods present.
        custom_initialize, custom_cleanup: lifecycle methods that do more than the base class's.
        input_types, output_types: the class's declared ports.
        kernel_family: the class's kernel family (an instance may choose another).
        default_impl, default_impl_reason: the implementation chosen for the class at import, and why.
        params_class: the class's explicit pydantic parameter model (``Params``), or None.
        allow_extra_params: manifests may give parameters the model does not declare.
        fusable: the class declares ``fused_stage`` (its native instances may run in a fused segment).
    """

    process_mode: str
    source_call_without_argument: bool
    chunk_source: bool
    chunk_source_async: bool
    stateful: bool
    chunk_mode: str
    has_flush: bool
    flush_async: bool
    has_begin: bool
    begin_async: bool
    has_abort_stream: bool
    has_reset: bool
    custom_initialize: bool
    custom_cleanup: bool
    input_types: Mapping[str, str]
    output_types: Mapping[str, str]
    kernel_family: Optional[str]
    default_impl: str
    default_impl_reason: str
    params_class: Optional[type]
    allow_extra_params: bool
    fusable: bool


@dataclass(frozen=True)
class NodeTraits:
    """Everything the engine needs to know about one node instance, read once per run.

    Attributes:
        node_type: the registered type name (or the class name).
        cls: the :class:`ClassTraits` of the node's class.
        is_streaming: ``process`` takes the whole input stream.
        writes_files: a file sink.
        circuit_key: the node's ``circuit_key`` method, or None.
        retry_policy: the node's own retry policy spec, or None.
        kernel_family: the kernel family, or None.
        impl: ``"native"`` or ``"python"`` (``"python"`` for nodes without kernels).
        multi_port: several output ports (outputs are dicts keyed by port).
    """

    node_type: str
    cls: ClassTraits
    is_streaming: bool
    writes_files: bool
    circuit_key: Optional[Callable[[Any], Optional[str]]]
    retry_policy: Any
    kernel_family: Optional[str]
    impl: str
    multi_port: bool


_CLASS_TRAITS: Dict[type, ClassTraits] = {}


def call_mode(fn: Any) -> str:
    """``"asyncgen"``, ``"async"`` or ``"sync"``: how ``fn`` is called."""
    if inspect.isasyncgenfunction(fn):
        return "asyncgen"
    return "async" if inspect.iscoroutinefunction(fn) else "sync"


def _without_argument(cls: type, name: str) -> bool:
    """Whether method ``name`` of ``cls`` can be called on an instance without arguments."""
    fn = getattr(cls, name)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not isinstance(inspect.getattr_static(cls, name), (staticmethod, classmethod)) and params:
        params = params[1:]  # self
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _custom(cls: type, method: str) -> bool:
    """Whether ``cls.method`` exists and does more than the base class's trivial one (marked ``_rm_trivial``)."""
    fn = getattr(cls, method, None)
    return fn is not None and not getattr(fn, "_rm_trivial", False)


def class_traits(cls: type) -> ClassTraits:
    """The :class:`ClassTraits` of a node class (cached)."""
    found = _CLASS_TRAITS.get(cls)
    if found is not None:
        return found
    process = getattr(cls, "process", None)
    chunk_fn = getattr(cls, "process_chunk", None)
    stateful = callable(chunk_fn)
    flush = getattr(cls, "flush", None)
    begin = getattr(cls, "begin_stream", None)
    traits = ClassTraits(
        process_mode=call_mode(process) if process is not None else "sync",
        source_call_without_argument=_without_argument(cls, "process") if process is not None else True,
        chunk_source=callable(getattr(cls, "iter_chunks", None)),
        chunk_source_async=inspect.isasyncgenfunction(getattr(cls, "iter_chunks", None)),
        stateful=stateful,
        chunk_mode=call_mode(chunk_fn if stateful else process),
        has_flush=callable(flush),
        flush_async=inspect.iscoroutinefunction(flush),
        has_begin=callable(begin),
        begin_async=inspect.iscoroutinefunction(begin),
        has_abort_stream=callable(getattr(cls, "abort_stream", None)),
        has_reset=callable(getattr(cls, "reset", None)),
        custom_initialize=_custom(cls, "initialize"),
        custom_cleanup=_custom(cls, "cleanup"),
        input_types=dict(getattr(cls, "input_types", DEFAULT_INPUT_TYPES)),
        output_types=dict(getattr(cls, "output_types", DEFAULT_OUTPUT_TYPES)),
        kernel_family=getattr(cls, "kernel_family", None),
        default_impl=getattr(cls, "default_impl", "python"),
        default_impl_reason=getattr(cls, "default_impl_reason", ""),
        params_class=getattr(cls, "Params", None),
        allow_extra_params=bool(getattr(cls, "allow_extra_params", False)),
        fusable=callable(getattr(cls, "fused_stage", None)),
    )
    if len(_CLASS_TRAITS) > 4096:
        _CLASS_TRAITS.clear()
    _CLASS_TRAITS[cls] = traits
    return traits


def node_type_of(node: Any) -> str:
    """The registered type name of ``node``'s class, or the class name when it is not registered."""
    return type(node).__dict__.get("node_type") or type(node).__name__


def input_types(node: Any) -> Dict[str, str]:
    """The node's input ports (name -> data type)."""
    return dict(getattr(node, "input_types", DEFAULT_INPUT_TYPES))


def output_types(node: Any) -> Dict[str, str]:
    """The node's output ports (name -> data type)."""
    return dict(getattr(node, "output_types", DEFAULT_OUTPUT_TYPES))


def traits(node: Any) -> NodeTraits:
    """The :class:`NodeTraits` of ``node`` (instance attributes read now)."""
    key_fn = getattr(node, "circuit_key", None)
    return NodeTraits(
        node_type=node_type_of(node),
        cls=class_traits(type(node)),
        is_streaming=bool(getattr(node, "is_streaming", False)),
        writes_files=bool(getattr(node, "writes_files", False)),
        circuit_key=key_fn if callable(key_fn) else None,
        retry_policy=getattr(node, "retry_policy", None),
        kernel_family=getattr(node, "kernel_family", None),
        impl=getattr(node, "impl", None) or "python",
        multi_port=len(getattr(node, "output_types", None) or ()) > 1,
    )


def is_chunk_source(node: Any) -> bool:
    """Whether ``node`` produces a chunk stream by itself (has ``iter_chunks``)."""
    return class_traits(type(node)).chunk_source


def writes_files(node: Any) -> bool:
    """Whether ``node`` is a file sink (declares ``writes_files``)."""
    return bool(getattr(node, "writes_files", False))


def implementation(node: Any) -> str:
    """``"native"`` or ``"python"``: what the node runs (``"python"`` without a kernel)."""
    return getattr(node, "impl", None) or "python"


def runs_kernel(node: Any) -> bool:
    """Whether ``node`` declares a kernel family."""
    return getattr(node, "kernel_family", None) is not None


def runtime_hint(node: Any) -> str:
    """The node's ``runtime_hint`` (lower case; ``"auto"`` when it has none)."""
    return str(getattr(node, "runtime_hint", "auto") or "auto").lower()


def bound_to(node: Any, impl: str) -> Any:
    """``node`` itself, or a copy bound to ``impl`` for one run when it is a kernel node on ``auto``.

    Used for ``Pipeline.run(..., use_rust=False)``: the original node (which
    another run may be using) is never changed.
    """
    if not runs_kernel(node) or runtime_hint(node) != "auto" or implementation(node) == impl:
        return node
    return node.with_impl(impl)


def lifecycle_method(node: Any, method: str) -> Tuple[Optional[Callable[[], Any]], bool]:
    """``(node.initialize or node.cleanup or None, whether it does more than the base class's)``."""
    fn = getattr(node, method, None)
    if not callable(fn):
        return None, False
    cls = class_traits(type(node))
    return fn, cls.custom_initialize if method == "initialize" else cls.custom_cleanup


class Outputs(list):
    """Several outputs of one call, emitted in order (e.g. a fused segment's flush)."""


def fused_stage(node: Any) -> Optional[Dict[str, Any]]:
    """The fused-segment stage of ``node`` (``{"kind", "params"}``), or None when it cannot be fused now.

    Only a kernel node bound to the native implementation that declares
    ``fused_stage`` can be.
    """
    if not class_traits(type(node)).fusable or implementation(node) != "native":
        return None
    return node.fused_stage()


def abort_methods(node: Any, cls: ClassTraits) -> Tuple[Callable[[], Any], ...]:
    """The sync methods to call when a chunk stream fails: ``abort_stream``, and ``reset`` of a stateful node."""
    out = []
    if cls.has_abort_stream and not inspect.iscoroutinefunction(node.abort_stream):
        out.append(node.abort_stream)
    if cls.stateful and cls.has_reset and not inspect.iscoroutinefunction(node.reset):
        out.append(node.reset)
    return tuple(out)
