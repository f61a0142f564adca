"""remotemedia 1.x gRPC streaming source: refused (it needs the 1.x gRPC server)."""

from typing import Any

from remotemedia.core.exceptions import UnsupportedNodeError
from remotemedia.nodes._refused import NEEDS_SERVER, RefusedNode

__all__ = ["GRPCStreamSource", "GRPCStreamManager", "get_grpc_stream_manager"]


class GRPCStreamSource(RefusedNode):
    """Refused at construction: it was fed by the 1.x gRPC server's streaming endpoint."""

    why = NEEDS_SERVER


class GRPCStreamManager:
    """Refused at construction (it managed ``GRPCStreamSource`` nodes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedNodeError("GRPCStreamManager", NEEDS_SERVER)


def get_grpc_stream_manager() -> GRPCStreamManager:
    """Refused (1.x returned the process-wide ``GRPCStreamManager``)."""
    return GRPCStreamManager()
