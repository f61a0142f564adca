"""remotemedia 1.x ``SerializedClassExecutorNode``: refused (it unpickles and runs objects sent to it)."""

from remotemedia.nodes._refused import UNTRUSTED_CODE, RefusedNode

__all__ = ["SerializedClassExecutorNode"]


class SerializedClassExecutorNode(RefusedNode):
    """Refused at construction: 1.x cloudpickle-loaded objects from its input and called their methods."""

    why = UNTRUSTED_CODE
