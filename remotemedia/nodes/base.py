"""The Node base class and the simplest built-in nodes.

A node's ``process`` may be a plain function, an ``async def`` or an async
generator. Nodes must not mutate their inputs: on fan-out every consumer gets
the same object (numpy inputs may be read-only).

Constructor parameters are recorded: every subclass ``__init__`` is wrapped (in
``__init_subclass__``) so that the arguments of the outermost constructor call,
defaults applied and ``**kwargs`` flattened, are kept and returned by
:meth:`Node.get_params`. That is what ``Pipeline.to_manifest()`` writes, so any
node built from its constructor round-trips through a manifest without
declaring anything. A node whose parameters change after construction may
override :meth:`Node.get_params`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, ClassVar, Dict, Mapping, Optional

from remotemedia.nodes.legacy import LegacyNodeMixin
from remotemedia.nodes.registry import register_node

_PENDING = object()


def _recording_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wraps ``init`` so the outermost constructor call records its arguments."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: "Node", *args: Any, **kwargs: Any) -> None:
        if "_init_params" in self.__dict__:  # an inner super().__init__ call
            init(self, *args, **kwargs)
            return
        self.__dict__["_init_params"] = _PENDING
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError:
            bound = None  # the call itself raises the TypeError below
        try:
            init(self, *args, **kwargs)
        except BaseException:
            self.__dict__.pop("_init_params", None)
            raise
        self.__dict__["_init_params"] = _bound_params(sig, bound) if bound is not None else {}

    __init__._rm_records_params = True  # type: ignore[attr-defined]
    return __init__


def _bound_params(sig: inspect.Signature, bound: inspect.BoundArguments) -> Dict[str, Any]:
    bound.apply_defaults()
    params: Dict[str, Any] = {}
    for pname, param in list(sig.parameters.items())[1:]:
        value = bound.arguments.get(pname)
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            params.update(value or {})
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                params[f"*{pname}"] = tuple(value)
        elif pname != "name":
            params[pname] = value
    return params


class Node(LegacyNodeMixin):
    """Base class of every pipeline node (remotemedia 1.x compatible; the 1.x helpers such as
    ``split_data_metadata`` and ``get_session_state`` come from :mod:`remotemedia.nodes.legacy`).

    Args:
        name: the node's id in a pipeline (defaults to the class name).
        **kwargs: kept in ``self.config`` (1.x behaviour).

    Attributes:
        node_type: the registered type name (class attribute).
        kernel_family: the kernel family the node runs, or None.
        is_streaming: when True the node receives the whole input stream as an
            async iterator.
    """

    node_type: ClassVar[str] = "Node"
    kernel_family: ClassVar[Optional[str]] = None
    #: Input ports: name -> data type (``"any"`` matches every type). A
    #: connection's ``to_port`` names one; without it, the only port.
    input_types: ClassVar[Mapping[str, str]] = {"input": "any"}
    #: Output ports: name -> data type. With several ports, ``process`` returns
    #: a dict keyed by port name and a connection's ``from_port`` picks one.
    output_types: ClassVar[Mapping[str, str]] = {"output": "any"}
    #: Explicit pydantic model of the constructor parameters (manifest
    #: ``params``); None = derived from the ``__init__`` signature and type hints.
    Params: ClassVar[Optional[type]] = None
    #: Whether a manifest may give parameters the model does not declare (they
    #: land in ``config`` through ``**kwargs``); off, so typos are errors.
    allow_extra_params: ClassVar[bool] = False
    #: Implementation chosen for this node class at import time and why.
    default_impl: ClassVar[str] = "python"
    default_impl_reason: ClassVar[str] = "pure Python node (no kernel)"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_rm_records_params", False):
            cls.__init__ = _recording_init(init)  # type: ignore[method-assign]
        if cls.kernel_family is not None:
            from remotemedia.kernels import default_impl

            cls.default_impl, cls.default_impl_reason = default_impl(cls.kernel_family)

    def __init__(self, name: Optional[str] = None, **kwargs: Any) -> None:
        self.name = name or type(self).__name__
        self.config: Dict[str, Any] = dict(kwargs)
        self.is_streaming = bool(kwargs.get("is_streaming", False))
        self._is_initialized = False
        if "_init_params" not in self.__dict__:  # Node(...) itself, not a subclass
            self.__dict__["_init_params"] = dict(kwargs)

    def get_params(self) -> Dict[str, Any]:
        """The constructor parameters of this node, except ``name``.

        Returns:
            A new dict: the arguments the node was constructed with, defaults
            applied and ``**kwargs`` flattened (so ``runtime_hint`` and
            ``is_streaming`` appear here when the constructor takes them).
        """
        params = self.__dict__.get("_init_params")
        return dict(params) if isinstance(params, dict) else {}

    @classmethod
    def params_model(cls) -> type:
        """The pydantic model that validates this node type's manifest ``params``.

        ``cls.Params`` when set, else a model derived from the ``__init__``
        signature (see :mod:`remotemedia.nodes.params`). Imports pydantic.
        """
        from remotemedia.nodes.params import params_model

        return params_model(cls)

    @property
    def id(self) -> str:
        """The node's id (its name)."""
        return self.name

    @property
    def is_initialized(self) -> bool:
        return self._is_initialized

    def initialize(self) -> None:
        """Acquires resources before the first ``process`` call."""
        self._is_initialized = True

    def cleanup(self) -> None:
        """Releases resources after the last ``process`` call."""
        self._is_initialized = False

    # The engine calls these two inline, in order, without a thread hop (see nodes/protocol.py).
    initialize._rm_trivial = True  # type: ignore[attr-defined]
    cleanup._rm_trivial = True  # type: ignore[attr-defined]

    def process(self, data: Any) -> Any:
        """Processes one input item and returns the output item."""
        raise NotImplementedError(f"{type(self).__name__}.process")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


@register_node
class PassThroughNode(Node):
    """Returns its input unchanged (the same object)."""

    def process(self, data: Any) -> Any:
        return data
