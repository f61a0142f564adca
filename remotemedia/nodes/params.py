"""Parameter models of node types: what a manifest's ``params`` may hold.

A node type's model is ``cls.Params`` when the class sets one (any pydantic v2
model), otherwise it is derived once from the ``__init__`` signature:

- every parameter except ``self``, ``name`` (the node id), ``runtime_hint`` and
  ``is_streaming`` (both node-level manifest fields) and ``*args``/``**kwargs``
  becomes a field;
- its type is the parameter's type hint (``Any`` without one), and it is
  required unless it has a default;
- unknown parameters are rejected unless the class sets
  ``allow_extra_params = True``.

This module imports pydantic; :mod:`remotemedia.nodes.base` only reaches it
when a model is asked for, so ``import remotemedia`` stays light.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Dict, Tuple

from pydantic import BaseModel, ConfigDict, create_model

#: Constructor parameters that live at the manifest node level, not in ``params``.
NODE_LEVEL = ("name", "runtime_hint", "is_streaming")


def params_model(cls: type) -> type:
    """The parameter model of node class ``cls`` (cached per class)."""
    cached = cls.__dict__.get("_rm_params_model")
    if cached is not None:
        return cached
    from remotemedia.nodes.protocol import class_traits

    explicit = class_traits(cls).params_class
    model = explicit if explicit is not None else _derive(cls)
    cls._rm_params_model = model  # type: ignore[attr-defined]
    return model


def _derive(cls: type) -> type:
    from remotemedia.nodes.protocol import class_traits

    init = inspect.unwrap(cls.__init__)  # type: ignore[misc]
    sig = inspect.signature(init)
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # unresolvable forward references: validate nothing rather than fail
        hints = {}
    fields: Dict[str, Tuple[Any, Any]] = {}
    for pname, param in list(sig.parameters.items())[1:]:
        if pname in NODE_LEVEL or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        default = ... if param.default is param.empty else param.default
        fields[pname] = (hints.get(pname, Any), default)
    config = ConfigDict(
        extra="allow" if class_traits(cls).allow_extra_params else "forbid",
        arbitrary_types_allowed=True,
    )
    return create_model(f"{cls.__name__}Params", __config__=config, **fields)  # type: ignore[call-overload]


def validate_params(cls: type, params: Dict[str, Any]) -> BaseModel:
    """Validates ``params`` against ``cls``'s model.

    Raises:
        pydantic.ValidationError: every problem, with its location.
    """
    return params_model(cls).model_validate(params)
