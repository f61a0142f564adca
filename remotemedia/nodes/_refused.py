"""Base of the remotemedia 1.x node types kept only to refuse them, with a reason, at construction.

They run code sent to them (``CodeExecutorNode``, ``SerializedClassExecutorNode``) or need the
1.x server (remote, gRPC and WebRTC nodes). Their import paths exist so that a 1.x script fails
with a clear :class:`~remotemedia.core.exceptions.UnsupportedNodeError` where it builds one, not
with an ImportError at the top. None is registered: no manifest or definition can name them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from remotemedia.core.exceptions import UnsupportedNodeError
from remotemedia.nodes.base import Node

#: The reason of the nodes that would execute code they are given.
UNTRUSTED_CODE = ("it executes code it is given (a security hole: anyone who can send it a pipeline runs "
                  "arbitrary code); write a Node subclass and register it with @register_node instead")
#: The reason of the nodes that talk to the 1.x server.
NEEDS_SERVER = ("it needs the remotemedia 1.x execution server (gRPC/WebRTC), which this package does not "
                "ship; run the node locally in the pipeline instead")


class RefusedNode(Node):
    """Raises :class:`UnsupportedNodeError` with ``why`` when constructed."""

    why: ClassVar[str] = NEEDS_SERVER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedNodeError(type(self).__name__, self.why, node_id=kwargs.get("name"))
