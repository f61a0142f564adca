"""remotemedia 1.x exception names, as the package's own exceptions or subclasses of its base.

========================  ==============================================================
1.x name                  here
========================  ==============================================================
``RemoteMediaError``      :class:`remotemedia.errors.RemoteMediaError` (the same class)
``PipelineError``         :class:`remotemedia.errors.PipelineError`: base of
                          ``PipelineValidationError`` (a bad graph or manifest)
``NodeError``             :class:`remotemedia.errors.NodeExecutionError` (the same class)
``ConfigurationError``    :class:`remotemedia.errors.ConfigurationError` (the same class)
``SerializationError``    a subclass of ``RemoteMediaError`` (pipeline definitions)
``RemoteExecutionError``  a subclass of ``RemoteMediaError`` (with ``remote_traceback``)
``WebRTCError``           a subclass of ``RemoteMediaError``
``UnsupportedNodeError``  new: what the 1.x nodes that run remote or untrusted code raise
                          when constructed (a ``ConfigurationError``, never retried)
========================  ==============================================================
"""

from __future__ import annotations

from typing import Optional

from remotemedia.errors import ConfigurationError, NodeError, PipelineError, RemoteMediaError

__all__ = ["RemoteMediaError", "PipelineError", "NodeError", "ConfigurationError", "SerializationError",
           "RemoteExecutionError", "WebRTCError", "UnsupportedNodeError"]


class SerializationError(RemoteMediaError):
    """A pipeline or node cannot be serialised or read back (1.x name)."""


class RemoteExecutionError(RemoteMediaError):
    """Remote execution failed (1.x name; this package runs nothing remotely).

    Args:
        message: what went wrong.
        remote_traceback: the remote side's traceback, when there was one.
    """

    def __init__(self, message: str, remote_traceback: Optional[str] = None) -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback


class WebRTCError(RemoteMediaError):
    """A WebRTC error (1.x name; this package ships no WebRTC transport)."""


class UnsupportedNodeError(ConfigurationError):
    """A 1.x node type this package keeps only to refuse it: it runs code sent to it or needs a server.

    Args:
        node_type: the refused class name.
        why: why it is refused (one sentence).
        node_id: the node's name, when given.
    """

    def __init__(self, node_type: str, why: str, *, node_id: Optional[str] = None) -> None:
        self.node_type = node_type
        super().__init__(f"{node_type} is not supported by this package: {why}", node_id=node_id,
                         parameter="node_type", expected="a local node type", given=node_type)
