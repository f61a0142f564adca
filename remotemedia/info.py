"""``remotemedia.info()``: what is installed and which implementation each node uses."""

from __future__ import annotations

from typing import Any, Dict


class Info(dict):  # type: ignore[type-arg]
    """A dict of installation facts that prints as a readable report.

    Keys: ``version`` (str), ``impl_requested`` (the ``REMOTEMEDIA_IMPL`` value),
    ``native`` (dict: ``available``, ``version``, ``reason``, ``build``),
    ``kernels`` (family -> {``implementation``, ``reason``}),
    ``nodes`` (node type -> {``implementation``, ``reason``, ``kernel``}),
    ``fusion`` (``available``; ``nodes``: the node types that can run inside
    a fused native segment).
    """

    def __str__(self) -> str:
        native = self["native"]
        lines = [
            f"remotemedia {self['version']}",
            f"REMOTEMEDIA_IMPL: {self['impl_requested']}",
        ]
        if native["available"]:
            profile = native["build"].get("profile", "?")
            lines.append(f"native: remotemedia_runtime {native['version']} ({profile} build)")
        else:
            lines.append(f"native: unavailable ({native['reason']})")
        lines.append("kernels:")
        for fam, d in self["kernels"].items():
            lines.append(f"  {fam:<28} {d['implementation']:<7} {d['reason']}")
        lines.append("nodes:")
        for name, d in self["nodes"].items():
            lines.append(f"  {name:<28} {d['implementation']:<7} {d['reason']}")
        fusion = self["fusion"]
        if fusion["available"]:
            lines.append(f"fused native segments: on in chunk streams for runs of {', '.join(fusion['nodes'])} "
                         "(Pipeline(fuse=\"off\") or remotemedia run --no-fuse turns them off)")
        else:
            lines.append(f"fused native segments: unavailable (native kernels unavailable: {native['reason']})")
        return "\n".join(lines)

    __repr__ = __str__


def info() -> Info:
    """Facts about this installation.

    Returns:
        An :class:`Info` (a dict) with the package version, the native module's
        version or the reason it is absent, and for every registered node type
        the implementation it uses by default (``native``/``python``) and why.
    """
    from remotemedia import _native
    from remotemedia._version import __version__
    from remotemedia.engine import fusion
    from remotemedia.kernels import FAMILIES, default_impl
    from remotemedia.nodes import protocol
    from remotemedia.nodes.registry import registered_classes

    status = _native.STATUS
    mod = _native.module()
    build: Dict[str, Any] = dict(mod.build_info()) if mod is not None else {}
    kernels = {}
    for fam in FAMILIES:
        impl, why = default_impl(fam)
        kernels[fam] = {"implementation": impl, "reason": why}
    nodes = {}
    for name, cls in registered_classes().items():
        nodes[name] = {
            "implementation": cls.default_impl,
            "reason": cls.default_impl_reason,
            "kernel": cls.kernel_family,
        }
    return Info(
        version=__version__,
        impl_requested=status.requested,
        native={"available": status.available, "version": status.version, "reason": status.reason, "build": build},
        kernels=kernels,
        nodes=nodes,
        fusion={"available": fusion.available(),
                "nodes": [name for name, cls in registered_classes().items() if protocol.class_traits(cls).fusable]},
    )
