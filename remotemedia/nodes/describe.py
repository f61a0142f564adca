"""Descriptions of the registered node types (``remotemedia nodes``)."""

from __future__ import annotations

import json
from typing import Any, Dict, List


def describe_nodes() -> Dict[str, Dict[str, Any]]:
    """Every registered node type, sorted by name.

    Returns:
        node type -> ``{"summary": first docstring line, "module", "parameters":
        [{"name", "type", "required", "default"}], "inputs": {port: type},
        "outputs": {port: type}, "kernel": family or None, "implementation":
        "native"/"python", "reason", "runtime_hint": whether the type takes one}``.
        Defaults are JSON values (``repr`` text when not JSON-serialisable).
    """
    from remotemedia.nodes.protocol import class_traits
    from remotemedia.nodes.registry import registered_classes

    out: Dict[str, Dict[str, Any]] = {}
    for name, cls in sorted(registered_classes().items()):
        declared = class_traits(cls)
        out[name] = {
            "summary": _summary(cls),
            "module": cls.__module__,
            "parameters": _parameters(cls),
            "inputs": dict(declared.input_types),
            "outputs": dict(declared.output_types),
            "kernel": declared.kernel_family,
            "implementation": declared.default_impl,
            "reason": declared.default_impl_reason,
            "runtime_hint": declared.kernel_family is not None,
        }
    return out


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _parameters(cls: type) -> List[Dict[str, Any]]:
    try:
        model = cls.params_model()  # type: ignore[attr-defined]
    except Exception as exc:  # a parameter model that cannot be built: say so instead of failing the listing
        return [{"name": "?", "type": f"(unavailable: {exc})", "required": False, "default": None}]
    params = []
    for pname, field in model.model_fields.items():
        required = field.is_required()
        params.append({
            "name": pname,
            "type": _type_name(field.annotation),
            "required": required,
            "default": None if required else _jsonable(field.get_default(call_default_factory=True)),
        })
    return params


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def format_nodes(data: Dict[str, Dict[str, Any]]) -> str:
    """The text listing of :func:`describe_nodes`."""
    lines: List[str] = []
    for name, d in data.items():
        impl = d["implementation"]
        kernel = f"kernel {d['kernel']}, {impl} ({d['reason']})" if d["kernel"] else impl
        lines.append(f"{name}  [{kernel}]")
        if d["summary"]:
            lines.append(f"    {d['summary']}")
        ins = ", ".join(f"{p}: {t}" for p, t in d["inputs"].items()) or "none"
        outs = ", ".join(f"{p}: {t}" for p, t in d["outputs"].items()) or "none"
        lines.append(f"    ports: in ({ins}) -> out ({outs})")
        if d["parameters"]:
            lines.append("    parameters:")
            for p in d["parameters"]:
                default = "required" if p["required"] else f"default {json.dumps(p['default'])}"
                lines.append(f"      {p['name']:<24} {p['type']:<18} {default}")
        else:
            lines.append("    parameters: none")
        if d["runtime_hint"]:
            lines.append("    runtime_hint: auto | native | python (node level)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
