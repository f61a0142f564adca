"""remotemedia 1.x ``CalculatorNode``: arithmetic on ``{"operation": ..., "args": [a, b]}`` items."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node

__all__ = ["CalculatorNode"]

logger = logging.getLogger(__name__)

OPERATIONS = ("add", "multiply", "subtract", "divide", "power", "modulo")


@register_node
class CalculatorNode(Node):
    """Applies ``operation`` to the first two ``args`` of a dict item (remotemedia 1.x).

    ``process({"operation": "add", "args": [3, 4]})`` returns ``{"operation", "args", "result",
    "processed_by": "CalculatorNode[<name>]", "node_config"}``. As in 1.x, a bad item is answered
    with an error dict (``{"error": ..., "processed_by": ...}`` plus what was given) instead of
    an exception: an unknown operation, fewer than two arguments, a division or modulo by zero,
    a non-dict item. Operations: ``add``, ``multiply``, ``subtract``, ``divide``, ``power``,
    ``modulo``.
    """

    def _tag(self) -> str:
        return f"CalculatorNode[{self.name}]"

    def process(self, data: Any) -> Dict[str, Any]:
        if not isinstance(data, dict):
            return {"error": "Input must be a dictionary", "input": data, "processed_by": self._tag()}
        if "operation" not in data or "args" not in data:
            return {"error": "Input must contain 'operation' and 'args' keys", "input": data,
                    "processed_by": self._tag()}
        operation, args = data["operation"], data["args"]
        try:
            result = self._perform_operation(operation, args)
        except (ValueError, TypeError, ArithmeticError) as exc:
            logger.info("CalculatorNode %r: %s", self.name, exc)
            return {"error": str(exc), "operation": operation, "args": args, "processed_by": self._tag()}
        return {"operation": operation, "args": args, "result": result, "processed_by": self._tag(),
                "node_config": self.config}

    def _perform_operation(self, operation: str, args: List[Any]) -> Any:
        if not isinstance(args, (list, tuple)) or len(args) < 2:
            raise ValueError(f"Operation '{operation}' requires at least 2 arguments")
        a, b = args[0], args[1]
        if operation == "add":
            return a + b
        if operation == "multiply":
            return a * b
        if operation == "subtract":
            return a - b
        if operation == "divide":
            if b == 0:
                raise ValueError("Division by zero")
            return a / b
        if operation == "power":
            return a ** b
        if operation == "modulo":
            if b == 0:
                raise ValueError("Modulo by zero")
            return a % b
        raise ValueError(f"Unknown operation: {operation}")

    def get_supported_operations(self) -> List[str]:
        """The operation names."""
        return list(OPERATIONS)
