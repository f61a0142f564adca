"""The map in docs/architecture.md matches the code: layers, import direction, one place per decision.

Reads the package's source (every ``import``, module-level or inside a
function) and checks:

- imports only point down the layers of docs/architecture.md (or stay in a layer);
- there is no import cycle;
- only ``remotemedia/_native.py`` imports the compiled module;
- no module but ``remotemedia/nodes/protocol.py`` probes a node's optional
  attributes (``getattr``/``hasattr`` with one of the protocol's names);
- the layer table below and the one in docs/architecture.md are the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import remotemedia
from remotemedia.graph import _strongly_connected

PACKAGE = Path(remotemedia.__file__).parent
DOC = Path(__file__).parent.parent / "docs" / "architecture.md"

#: Layer of every module (prefix match, longest wins), top to bottom. A module
#: may import modules of its own layer or of a lower one.
LAYERS: List[List[str]] = [
    ["remotemedia.cli", "remotemedia.__main__", "remotemedia.demo", "remotemedia.bench"],
    ["remotemedia.batch", "remotemedia.export", "remotemedia.core"],
    ["remotemedia.pipeline"],
    ["remotemedia.engine", "remotemedia.manifest", "remotemedia.info"],
    ["remotemedia.nodes"],
    ["remotemedia.metrics"],
    ["remotemedia.audio", "remotemedia.io"],
    ["remotemedia.kernels", "remotemedia.validate"],
    ["remotemedia.reliability", "remotemedia.graph", "remotemedia.video", "remotemedia.streaming",
     "remotemedia.hooks", "remotemedia.limits"],
    ["remotemedia._native"],
    ["remotemedia.errors", "remotemedia.core.exceptions", "remotemedia._version"],
]
#: The package root only re-exports (lazily) and reports; it sits on top.
ROOT = "remotemedia"

#: Optional node attributes and methods that only the protocol module looks up.
PROTOCOL_NAMES = {
    "process_chunk", "flush", "begin_stream", "abort_stream", "iter_chunks", "is_streaming", "writes_files",
    "circuit_key", "retry_policy", "kernel_family", "input_types", "output_types", "runtime_hint", "impl",
    "default_impl", "default_impl_reason", "Params", "allow_extra_params", "with_impl", "fused_stage",
}


def _modules() -> Dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        mods[name] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str:
    while name and name not in MODULES:
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return name


def _imports(name: str, path: Path) -> Set[str]:
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name) for a in node.names if a.name.startswith("remotemedia."))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base == "remotemedia" or base.startswith("remotemedia."):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(_resolve(full) if full in MODULES else _resolve(base))
    found.discard(name)
    found.discard("")
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def layer_of(module: str) -> int:
    if module == ROOT:
        return -1
    best, rank = "", None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, i
    assert rank is not None, f"{module} is in no layer of docs/architecture.md"
    return rank


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_point_down():
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in GRAPH.items() for d in deps if layer_of(d) < layer_of(m)]
    assert upward == []


def test_no_import_cycles():
    # Tarjan's strongly connected components, the graph module's own (what pipeline cycles are found with).
    nodes = sorted(set(GRAPH) | {d for deps in GRAPH.values() for d in deps})
    succ = {v: sorted(GRAPH.get(v, ())) for v in nodes}
    cycles = [sorted(c) for c in _strongly_connected(nodes, succ, set(nodes)) if len(c) > 1]
    assert cycles == []


def test_only_the_loader_imports_the_compiled_module():
    importers = sorted(name for name, path in MODULES.items()
                       if re.search(r"^\s*(import|from)\s+remotemedia_runtime\b", path.read_text(), re.M))
    assert importers == ["remotemedia._native"]


def test_only_the_protocol_module_probes_node_attributes():
    probes = []
    for name, path in MODULES.items():
        if name == "remotemedia.nodes.protocol":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in PROTOCOL_NAMES):
                probes.append(f"{name}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    assert probes == []


def test_the_documented_layers_are_these():
    text = DOC.read_text()
    table = text.split("<!-- layers -->")[1]
    documented = [sorted(re.findall(r"`(remotemedia(?:\.\w+)*)`", line)) for line in table.splitlines()
                  if line.startswith("| ") and "`remotemedia" in line]
    assert documented == [sorted(prefixes) for prefixes in LAYERS]
