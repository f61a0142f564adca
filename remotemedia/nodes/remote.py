"""remotemedia 1.x remote execution nodes: refused (they need the 1.x server; one also ships pickled objects)."""

from remotemedia.nodes._refused import NEEDS_SERVER, RefusedNode

__all__ = ["RemoteExecutionNode", "RemoteObjectExecutionNode"]


class RemoteExecutionNode(RefusedNode):
    """Refused at construction: it streamed its input to a node on a remote 1.x server."""

    why = NEEDS_SERVER


class RemoteObjectExecutionNode(RefusedNode):
    """Refused at construction: it cloudpickled a Python object to a remote server and ran it there."""

    why = ("it cloudpickled a Python object to the remotemedia 1.x server and ran it there: that server is not "
           "shipped by this package, and running pickled objects executes code it is given; run the node locally "
           "instead")
