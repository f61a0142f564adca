"""The node type registry: the only way a name in a manifest becomes a class.

Node types come from the built-in modules, from the :func:`register_node`
decorator, and from the ``remotemedia.nodes`` entry-point group. Nothing is
imported or evaluated from a name that is not registered.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Dict, List, Optional, Type, TypeVar, Union, overload

from remotemedia.errors import ConfigurationError

T = TypeVar("T", bound=type)

ENTRY_POINT_GROUP = "remotemedia.nodes"
_BUILTIN_MODULES = (
    "remotemedia.nodes.base",
    "remotemedia.nodes.audio",
    "remotemedia.nodes.simple_math",
    "remotemedia.nodes.video",
    "remotemedia.nodes.http_source",
    "remotemedia.nodes.io_audio",
    "remotemedia.nodes.segment_writer",
    # remotemedia 1.x modules (nodes/audio.py and nodes/video.py bring their 1.x nodes along)
    "remotemedia.nodes.source",
    "remotemedia.nodes.sink",
    "remotemedia.nodes.calculator",
    "remotemedia.nodes.transform",
    "remotemedia.nodes.text_processor",
    "remotemedia.nodes.custom",
)
_REGISTRY: Dict[str, type] = {}
_loaded = False


@overload
def register_node(cls: T) -> T: ...
@overload
def register_node(cls: str) -> Callable[[T], T]: ...


def register_node(cls: Union[type, str, None] = None, *, name: Optional[str] = None):  # type: ignore[no-untyped-def]
    """Registers a node class under its class name (or ``name``).

    Use as ``@register_node`` or ``@register_node("MyNode")``.
    """
    if isinstance(cls, str):
        return register_node(name=cls)
    if cls is None:
        return lambda c: _register(c, name or c.__name__)
    return _register(cls, name or cls.__name__)


def _register(cls: T, type_name: str) -> T:
    existing = _REGISTRY.get(type_name)
    if existing is not None and existing is not cls and (
        existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ConfigurationError(
            f"node type {type_name!r} is already registered by {existing.__module__}.{existing.__qualname__}",
            parameter="node_type",
            given=type_name,
        )
    _REGISTRY[type_name] = cls
    cls.node_type = type_name  # type: ignore[attr-defined]
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    if sys.version_info >= (3, 10):
        from importlib.metadata import entry_points

        eps = entry_points(group=ENTRY_POINT_GROUP)
    else:  # pragma: no cover - Python 3.9
        from importlib.metadata import entry_points

        eps = entry_points().get(ENTRY_POINT_GROUP, [])
    for ep in eps:
        cls = ep.load()
        _register(cls, ep.name)


def get_node_class(type_name: str) -> type:
    """The class registered as ``type_name``.

    Raises:
        ConfigurationError: no node type of that name is registered.
    """
    _load_all()
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise ConfigurationError(
            f"unknown node type {type_name!r}",
            parameter="node_type",
            expected="a registered node type",
            given=type_name,
        ) from None


def registered_node_types() -> List[str]:
    """Every registered node type name, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def registered_classes() -> Dict[str, Type]:
    """A copy of the registry: name -> class."""
    _load_all()
    return dict(_REGISTRY)
