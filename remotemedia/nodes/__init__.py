"""Pipeline nodes: the base class, the registry and the built-in node types."""

from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.registry import get_node_class, register_node, registered_node_types

__all__ = ["Node", "PassThroughNode", "get_node_class", "register_node", "registered_node_types"]
