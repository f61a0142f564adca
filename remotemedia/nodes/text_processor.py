"""remotemedia 1.x ``TextProcessorNode``: named text operations on ``{"text": ..., "operations": [...]}``."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["TextProcessorNode"]

_OPERATIONS: Dict[str, Callable[[str], Any]] = {
    "uppercase": str.upper,
    "lowercase": str.lower,
    "reverse": lambda t: t[::-1],
    "word_count": lambda t: len(t.split()),
    "char_count": len,
    "title_case": str.title,
    "remove_spaces": lambda t: t.replace(" ", ""),
    "first_word": lambda t: (t.split() or [""])[0],
    "last_word": lambda t: (t.split() or [""])[-1],
}


@register_node
class TextProcessorNode(Node):
    """Runs text operations (remotemedia 1.x).

    ``process({"text": "Hello world", "operations": ["uppercase", "word_count"]})`` returns
    ``{"original_text", "operations", "results": {"uppercase": "HELLO WORLD", "word_count": 2},
    "processed_by": "TextProcessorNode[<name>]", "node_config"}``; ``operations`` defaults to
    ``["uppercase"]``; an unknown operation gives ``results["unknown_operation_<op>"]``. As in
    1.x, an item that is not a dict with ``text`` is answered with an error dict.
    """

    def process(self, data: Any) -> Dict[str, Any]:
        tag = f"TextProcessorNode[{self.name}]"
        if not isinstance(data, dict):
            return {"error": "Input must be a dictionary", "input": data, "processed_by": tag}
        if "text" not in data:
            return {"error": "Input must contain 'text' key", "input": data, "processed_by": tag}
        text, operations = data["text"], data.get("operations", ["uppercase"])
        if not isinstance(text, str):
            return {"error": f"'text' must be a string, given {type(text).__name__}", "text": text,
                    "operations": operations, "processed_by": tag}
        results: Dict[str, Any] = {}
        for op in operations:
            fn = _OPERATIONS.get(op)
            if fn is None:
                results[f"unknown_operation_{op}"] = f"Unknown operation: {op}"
            else:
                results[op] = fn(text)
        return {"original_text": text, "operations": operations, "results": results, "processed_by": tag,
                "node_config": self.config}

    def get_supported_operations(self) -> List[str]:
        """The operation names."""
        return list(_OPERATIONS)
