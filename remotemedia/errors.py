"""The exception hierarchy of remotemedia.

Every exception the package raises on purpose derives from
:class:`RemoteMediaError`. They are all defined here, in Python, so the pure
install has them too; the native module reports errors as plain ``ValueError``
and the Python wrappers re-raise them as these types (``raise ... from``).
"""

from __future__ import annotations

from typing import Any, Optional


class RemoteMediaError(Exception):
    """Base of every error raised by remotemedia."""


class ConfigurationError(RemoteMediaError, ValueError):
    """A parameter, manifest or environment setting is invalid.

    Args:
        message: what is wrong.
        node_id: the node the setting belongs to, when there is one.
        parameter: the parameter's name.
        expected: what was expected (free text).
        given: the value that was given.
    """

    def __init__(
        self,
        message: str,
        *,
        node_id: Optional[str] = None,
        parameter: Optional[str] = None,
        expected: Optional[str] = None,
        given: Any = None,
    ) -> None:
        self.node_id = node_id
        self.parameter = parameter
        self.expected = expected
        self.given = given
        super().__init__(message)


class KernelInputError(ConfigurationError):
    """An array or value handed to a kernel does not meet its contract.

    Raised identically (type and message) by the numpy and the native
    implementation, before any work is done. The message names the parameter,
    what was expected and what was given.
    """

    def __init__(self, parameter: str, expected: str, given: Any, *, node_id: Optional[str] = None) -> None:
        where = f"node {node_id!r}: " if node_id else ""
        super().__init__(
            f"{where}{parameter}: expected {expected}, given {given}",
            node_id=node_id,
            parameter=parameter,
            expected=expected,
            given=given,
        )


class NativeUnavailableError(RemoteMediaError, ImportError):
    """The native implementation was required but cannot be used."""


class NodeError(RemoteMediaError):
    """A node failed at run time.

    Args:
        message: what happened.
        node_id: the failing node's id.
        node_type: the failing node's type name.
        attempt: how many attempts were made (1 = no retry).
    """

    def __init__(self, message: str, *, node_id: str, node_type: str, attempt: int = 1) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.attempt = attempt
        super().__init__(f"node {node_id!r} ({node_type}) failed on attempt {attempt}: {message}")
