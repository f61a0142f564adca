"""remotemedia 1.x import path of :class:`remotemedia.nodes.base.Node` (the same class).

Also the 1.x names that lived here: ``SessionState``, ``StateManager`` (per-session node state)
and ``RemoteExecutorConfig`` (kept so 1.x imports work; calling it refuses, see
:mod:`remotemedia.nodes.legacy`).
"""

from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.nodes.legacy import RemoteExecutorConfig, SessionState, StateManager

__all__ = ["Node", "PassThroughNode", "RemoteExecutorConfig", "SessionState", "StateManager"]
