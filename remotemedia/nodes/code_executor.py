"""remotemedia 1.x ``CodeExecutorNode``: refused (it executes Python code sent to it)."""

from remotemedia.nodes._refused import UNTRUSTED_CODE, RefusedNode

__all__ = ["CodeExecutorNode"]


class CodeExecutorNode(RefusedNode):
    """Refused at construction: 1.x executed Python source code found in its input."""

    why = UNTRUSTED_CODE
