"""The exception hierarchy of remotemedia.

Every exception the package raises on purpose derives from
:class:`RemoteMediaError`. They are all defined here, in Python, so the pure
install has them too; the native module reports errors as plain ``ValueError``
and the Python wrappers re-raise them as these types (``raise ... from``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence


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


class AudioFileError(RemoteMediaError):
    """An audio file cannot be read or written: missing, unsupported format,
    or an optional library (``soundfile``, the ``audio`` extra) is needed.

    Args:
        message: what is wrong.
        path: the file concerned.
    """

    def __init__(self, message: str, *, path: Any = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class NativeUnavailableError(RemoteMediaError, ImportError):
    """The native implementation was required but cannot be used."""


class NodeError(RemoteMediaError):
    """A node failed at run time.

    Args:
        message: what happened.
        node_id: the failing node's id.
        node_type: the failing node's type name.
        attempt: how many attempts were made (1 = no retry).

    Attributes:
        partial_results: set by the executor when a pipeline run stops on this
            error: node id -> list of the outputs of every node that had
            finished (empty when none had).

    The original exception is chained (``raise NodeError(...) from exc``), so
    ``__cause__`` holds it with its traceback.
    """

    partial_results: Dict[str, List[Any]] = {}

    def __init__(self, message: str, *, node_id: str, node_type: str, attempt: int = 1) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.attempt = attempt
        super().__init__(f"node {node_id!r} ({node_type}) failed on attempt {attempt}: {message}")


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a manifest or a pipeline graph.

    Attributes:
        path: JSON-pointer-like location in the manifest, e.g. ``/nodes/2/params/factor``.
        message: what is wrong, readable on its own.
        node_id: the node concerned, when there is one.
        parameter: the parameter (or manifest field) concerned.
        expected: what was expected (free text).
        given: what was given (its ``repr``-like text).
    """

    path: str
    message: str
    node_id: Optional[str] = None
    parameter: Optional[str] = None
    expected: Optional[str] = None
    given: Optional[str] = None

    def __str__(self) -> str:
        where = f" (node {self.node_id!r})" if self.node_id else ""
        return f"{self.path or '/'}{where}: {self.message}"


class PipelineValidationError(ConfigurationError):
    """A manifest or pipeline graph is invalid; ``issues`` lists every problem found.

    Args:
        issues: all the problems, in manifest order.
        source: what was validated (a file name, ``"<dict>"`` ...), for the message.
    """

    def __init__(self, issues: Sequence[ValidationIssue], source: str = "pipeline") -> None:
        self.issues: List[ValidationIssue] = list(issues)
        first = self.issues[0] if self.issues else None
        lines = [f"{source}: {len(self.issues)} problem{'s' if len(self.issues) != 1 else ''}"]
        lines += [f"  {issue}" for issue in self.issues]
        super().__init__(
            "\n".join(lines),
            node_id=first.node_id if first else None,
            parameter=first.parameter if first else None,
            expected=first.expected if first else None,
            given=first.given if first else None,
        )
