"""A node's manifest entry (its constructor parameters, JSON-ready), beside the nodes it describes.

:mod:`remotemedia.manifest` (the pipeline's manifest) and the 1.x ``Node.to_manifest`` both
write a node with :func:`node_entry`; it lives with the nodes so that they need nothing above
their layer (see ``docs/architecture.md``).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from pydantic import ValidationError

from remotemedia.errors import ConfigurationError
from remotemedia.nodes.protocol import traits


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (for error messages)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def node_entry(node: Any, *, retry: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The manifest entry of a node: every constructor parameter, JSON-ready.

    Args:
        retry: the node's retry policy entry, already validated (see
            :func:`remotemedia.manifest.node_entry`), or None.

    Raises:
        ConfigurationError: a parameter cannot be written (not JSON, positional
            varargs, or unknown to the node type's parameter model).
    """
    params = node.get_params()
    declared = traits(node)
    entry: Dict[str, Any] = {"id": node.id, "node_type": declared.node_type}
    runtime_hint = params.pop("runtime_hint", None)
    params.pop("is_streaming", None)
    varargs = [k for k in params if k.startswith("*")]
    if varargs:
        raise ConfigurationError(f"node {node.id!r}: positional *args cannot be written to a manifest",
                                 node_id=node.id, parameter=varargs[0][1:])
    try:
        model = type(node).params_model().model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(
            f"node {node.id!r}: its parameters do not fit its type's parameter model: {exc}", node_id=node.id,
            parameter=str(first["loc"][0]) if first.get("loc") else None, expected=first.get("msg"),
            given=short_repr(first.get("input"))) from exc
    try:
        entry["params"] = json.loads(json.dumps(model.model_dump(mode="json")))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"node {node.id!r}: a parameter is not JSON-serialisable: {exc}",
                                 node_id=node.id) from exc
    if runtime_hint is not None:
        entry["runtime_hint"] = runtime_hint
    if retry is not None:
        entry["retry"] = retry
    if declared.is_streaming:
        entry["is_streaming"] = True
    return entry
