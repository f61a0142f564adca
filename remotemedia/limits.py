"""Size limits for untrusted manifests.

A transcription service validates manifests it did not write. Before a
manifest is parsed (text) or validated (data), its size is checked against
:class:`ManifestLimits`, so an oversized or deeply nested document is
rejected quickly, with a clear message, and without building anything sized
by it. Parsing itself is safe: JSON only (no pickle, no eval), and node types
resolve only through the registry (see :mod:`remotemedia.nodes.registry`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from remotemedia.errors import ValidationIssue


@dataclass(frozen=True)
class ManifestLimits:
    """Bounds on a manifest; every field is configurable.

    Attributes:
        max_bytes: size of the JSON text (bytes).
        max_nodes: entries in ``nodes``.
        max_connections: entries in ``connections``.
        max_depth: nesting depth of JSON containers in the whole document.
        max_string_length: length of any string (keys included), in characters.
        max_items: total number of JSON values (containers, strings, numbers ...).
    """

    max_bytes: int = 4 * 1024 * 1024
    max_nodes: int = 2_000
    max_connections: int = 20_000
    max_depth: int = 32
    max_string_length: int = 10_000
    max_items: int = 500_000


DEFAULT_LIMITS = ManifestLimits()

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def check_text(text: str, limits: Optional[ManifestLimits] = None) -> List[ValidationIssue]:
    """Problems with the raw JSON text: its size and its nesting depth.

    The depth is measured without parsing (brackets outside strings), so a
    document nested 100,000 levels deep never reaches the JSON parser.
    """
    lim = limits or DEFAULT_LIMITS
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > lim.max_bytes else len(text)
    if size > lim.max_bytes:
        return [ValidationIssue("", f"manifest is {size} bytes, over the limit of {lim.max_bytes}",
                                parameter="max_bytes", expected=f"at most {lim.max_bytes} bytes", given=str(size))]
    bare = _STRING.sub('""', text).encode("utf-8", "surrogatepass")
    raw = np.frombuffer(bare, dtype=np.uint8)
    step = (raw == ord("[")).astype(np.int32) + (raw == ord("{")) - (raw == ord("]")) - (raw == ord("}"))
    depth = int(np.cumsum(step).max()) if step.size else 0
    if depth > lim.max_depth:
        return [_depth_issue(depth, lim)]
    return []


def _depth_issue(depth: Any, lim: ManifestLimits) -> ValidationIssue:
    return ValidationIssue("", f"manifest nests {depth} levels deep, over the limit of {lim.max_depth}",
                           parameter="max_depth", expected=f"at most {lim.max_depth} levels", given=str(depth))


def check_data(data: Any, limits: Optional[ManifestLimits] = None) -> List[ValidationIssue]:
    """Problems with parsed manifest data: counts, depth and string lengths.

    Walks the document iteratively (no recursion), stopping at the first
    limit exceeded of each kind.
    """
    lim = limits or DEFAULT_LIMITS
    issues: List[ValidationIssue] = []
    if isinstance(data, dict):
        nodes, conns = data.get("nodes"), data.get("connections")
        if isinstance(nodes, list) and len(nodes) > lim.max_nodes:
            issues.append(ValidationIssue("/nodes", f"{len(nodes)} nodes, over the limit of {lim.max_nodes}",
                                          parameter="max_nodes", expected=f"at most {lim.max_nodes}",
                                          given=str(len(nodes))))
        if isinstance(conns, list) and len(conns) > lim.max_connections:
            issues.append(ValidationIssue("/connections",
                                          f"{len(conns)} connections, over the limit of {lim.max_connections}",
                                          parameter="max_connections", expected=f"at most {lim.max_connections}",
                                          given=str(len(conns))))
    if issues:
        return issues
    stack = [(data, 1, "")]
    items = 0
    while stack:
        value, depth, path = stack.pop()
        items += 1
        if items > lim.max_items:
            return [ValidationIssue("", f"manifest has more than {lim.max_items} values",
                                    parameter="max_items", expected=f"at most {lim.max_items} values",
                                    given=f"more than {lim.max_items}")]
        if isinstance(value, str):
            if len(value) > lim.max_string_length:
                return [ValidationIssue(path or "/", f"a string of {len(value)} characters, over the limit of "
                                        f"{lim.max_string_length}", parameter="max_string_length",
                                        expected=f"at most {lim.max_string_length} characters",
                                        given=str(len(value)))]
            continue
        if isinstance(value, (dict, list)):
            if depth > lim.max_depth:
                return [_depth_issue(f"more than {lim.max_depth}", lim)]
            if isinstance(value, dict):
                for key, child in value.items():
                    stack.append((key, depth, path))
                    stack.append((child, depth + 1, f"{path}/{key}"))
            else:
                for i, child in enumerate(value):
                    stack.append((child, depth + 1, f"{path}/{i}"))
    return []
