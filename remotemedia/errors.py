"""The exception hierarchy of remotemedia.

Every exception the package raises on purpose derives from
:class:`RemoteMediaError`. They are all defined here, in Python, so the pure
install has them too; the native module reports errors as plain ``ValueError``
and the Python wrappers re-raise them as these types (``raise ... from``)::

    RemoteMediaError
    ├── ConfigurationError (ValueError)          permanent: never retried
    │   ├── KernelInputError                     a kernel's input breaks its contract
    │   └── PipelineValidationError              every problem of a manifest / graph (also a PipelineError)
    ├── PipelineError                            1.x base of pipeline-level errors
    ├── NativeUnavailableError (ImportError)     native forced but unusable
    ├── NodeExecutionError (alias NodeError)     a node failed at run time (after retries)
    ├── CircuitOpenError                         a circuit breaker refused the call
    ├── TransientError                           mark: "retry me" (subclass or raise it)
    │   ├── HttpStatusError (408/429/5xx)        ... status decides, see below
    │   └── TruncatedBodyError (ConnectionError) fewer bytes than Content-Length
    ├── PermanentError                           mark: "never retry me"
    │   └── MediaDecodeError (ValueError)        a body is not the media it claims
    └── ExportError                              an export cannot be written as asked

:class:`HttpStatusError` derives from :class:`TransientError` but its
``transient`` attribute is False for 4xx statuses other than 408 and 429; the
classifier of :mod:`remotemedia.reliability` reads that attribute first.

:class:`NodeExecutionError` chains the node's original exception
(``__cause__``, with its traceback) and carries the node id, node type, the
number of attempts and each attempt's record, a short description of the
input, the outputs of the nodes that had finished (``partial_results``) and the
pipeline's metrics so far. Its message is one line.
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


class ExportError(RemoteMediaError):
    """An export (Hugging Face, NeMo, lhotse) cannot be written as asked: a segment
    record that disagrees with its file, a missing source, an option that does
    not fit the output folder. Nothing is published under the export's name.

    Args:
        message: what is wrong (names the file, line or option).
        path: the file or folder concerned.
    """

    def __init__(self, message: str, *, path: Any = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class NativeUnavailableError(RemoteMediaError, ImportError):
    """The native implementation was required but cannot be used."""


class NodeExecutionError(RemoteMediaError):
    """A node failed at run time (after its retries, if any).

    Args:
        message: the cause, one line (``"<ExceptionType>: <message>"``).
        node_id: the failing node's id.
        node_type: the failing node's type name (the operation).
        attempt: how many attempts were made (1 = no retry).
        attempt_history: one record per attempt
            (:class:`remotemedia.reliability.AttemptRecord`), oldest first.
        input_description: a short description of the input that failed
            (shape, dtype, sample rate; see :func:`describe_input`).

    Attributes:
        attempts: same as ``attempt``: the number of attempts made.
        partial_results: set by the executor when a pipeline run stops on this
            error: node id -> list of the outputs of every node that had
            finished (empty when none had).
        metrics: the pipeline's metrics at the time of the failure
            (``Pipeline.get_metrics()``), or None when run without a pipeline.

    The original exception is chained (``raise NodeExecutionError(...) from exc``),
    so ``__cause__`` holds it with its traceback.
    """

    partial_results: Dict[str, List[Any]] = {}
    metrics: Optional[Dict[str, Any]] = None

    def __init__(self, message: str, *, node_id: str, node_type: str, attempt: int = 1,
                 attempt_history: Sequence[Any] = (), input_description: Optional[str] = None) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.attempt = attempt
        self.attempt_history: List[Any] = list(attempt_history)
        self.input_description = input_description
        one_line = " | ".join(part.strip() for part in str(message).splitlines() if part.strip())
        super().__init__(f"node {node_id!r} ({node_type}) failed on attempt {attempt}: {one_line}")

    @property
    def attempts(self) -> int:
        """The number of attempts made (1 = the node was called once)."""
        return self.attempt


#: The 1.x name of :class:`NodeExecutionError` (the same class).
NodeError = NodeExecutionError


class TransientError(RemoteMediaError):
    """Base (or mark) of errors worth retrying: raise it or subclass it.

    Attributes:
        transient: True; a subclass instance may set it False (see
            :class:`HttpStatusError`).
        retry_after_s: the delay the other side asked for (s), or None.
    """

    transient: bool = True
    retry_after_s: Optional[float] = None


class PermanentError(RemoteMediaError):
    """Base (or mark) of errors never worth retrying."""

    transient: bool = False


class MediaDecodeError(PermanentError, ValueError):
    """Bytes could not be decoded as the expected media (e.g. not a PCM WAV file)."""


class HttpStatusError(TransientError):
    """An HTTP server answered with an error status.

    Args:
        url: the requested URL.
        status: the HTTP status code.
        reason: the status text.
        retry_after_s: the parsed ``Retry-After`` header (s), or None.

    Attributes:
        transient: True for 408, 429, 500, 502, 503 and 504; False otherwise.
    """

    TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(self, url: str, status: int, reason: str = "", retry_after_s: Optional[float] = None) -> None:
        self.url = url
        self.status = int(status)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.transient = self.status in self.TRANSIENT_STATUSES
        after = f" (Retry-After {retry_after_s:g} s)" if retry_after_s is not None else ""
        super().__init__(f"HTTP {self.status} {reason} for {url}{after}".replace("  ", " "))


class TruncatedBodyError(TransientError, ConnectionError):
    """A response body ended before its ``Content-Length`` (never silently accepted).

    Args:
        url: the requested URL.
        received: bytes received in total (including resumed ranges).
        expected: the announced length in bytes.
    """

    def __init__(self, url: str, received: int, expected: int) -> None:
        self.url = url
        self.received = received
        self.expected = expected
        super().__init__(f"body of {url} truncated: received {received} of {expected} bytes")


class CircuitOpenError(RemoteMediaError):
    """A circuit breaker is open and refused the call without running it.

    Args:
        what: what the breaker guards, e.g. ``"node type 'HttpSource'"`` or
            ``"host '127.0.0.1:8000'"``.
        failures: the consecutive failures that opened it.
        last_error: the last failure, as text.
        retry_after_s: seconds until a trial call is let through (0 while a
            trial call is running).
    """

    def __init__(self, what: str, failures: int, last_error: str, retry_after_s: float) -> None:
        self.what = what
        self.failures = failures
        self.last_error = last_error
        self.retry_after_s = retry_after_s
        super().__init__(f"circuit open for {what} after {failures} consecutive failures; "
                         f"last error: {last_error}; retry after {retry_after_s:.1f} s")


def describe_input(item: Any, *, _depth: int = 0) -> str:
    """A short, one-line description of a node input for error reports.

    Audio is described by shape, dtype and sample rate, arrays by shape and
    dtype, bytes by length; nothing is printed in full.

    Args:
        item: any node input (an AudioBuffer, ``(samples, sample_rate)``, an
            array, bytes, a dict of fan-in inputs ...).

    Returns:
        E.g. ``"audio (1, 16000) int16 @ 16000 Hz"`` or ``"bytes len=512"``.
    """
    samples = getattr(item, "samples", None)
    if samples is not None and hasattr(samples, "shape") and hasattr(item, "sample_rate"):
        return f"audio {tuple(samples.shape)} {samples.dtype} @ {item.sample_rate} Hz"
    if isinstance(item, tuple) and len(item) == 2 and hasattr(item[0], "shape") and isinstance(item[1], int):
        return f"audio {tuple(item[0].shape)} {item[0].dtype} @ {item[1]} Hz"
    if hasattr(item, "shape") and hasattr(item, "dtype"):
        return f"array {tuple(item.shape)} {item.dtype}"
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"{type(item).__name__} len={len(item)}"
    if isinstance(item, str):
        return repr(item) if len(item) <= 80 else repr(item[:77] + "...")
    if item is None:
        return "None"
    if isinstance(item, dict) and _depth == 0:
        parts = [f"{k}: {describe_input(v, _depth=1)}" for k, v in list(item.items())[:4]]
        return "{" + ", ".join(parts) + (", ..." if len(item) > 4 else "") + "}"
    if isinstance(item, (list, tuple)):
        return f"{type(item).__name__} len={len(item)}"
    if isinstance(item, (int, float, bool)):
        return repr(item)
    return type(item).__name__


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


class PipelineError(RemoteMediaError):
    """Base of pipeline-level errors (the remotemedia 1.x name, ``remotemedia.core.exceptions``)."""


class PipelineValidationError(ConfigurationError, PipelineError):
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


class InputFileError(RemoteMediaError):
    """An input file of a batch cannot be used (missing, unreadable, not audio, unsupported format).

    Args:
        message: what is wrong.
        path: the file (or URL) concerned.
    """

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class OutputFolderLockedError(RemoteMediaError):
    """Another batch run holds the output folder's lock (nothing was touched).

    Args:
        out_dir: the output folder.
        holder: what the lock file says about the run that holds it (``pid``,
            ``host``, ``started``, ``command``), or None when it cannot be read.
    """

    def __init__(self, out_dir: str, holder: Optional[Dict[str, Any]]) -> None:
        self.out_dir = out_dir
        self.holder = holder
        super().__init__(f"{out_dir} is in use by another remotemedia run ({describe_lock_holder(holder)}); "
                         "wait for it with --wait (lock_wait_s from Python), or use another output folder")


def describe_lock_holder(holder: Optional[Dict[str, Any]]) -> str:
    """``"pid 123 on host h, started <time>: <command>"`` from a lock file's holder record."""
    if not holder:
        return "its lock file does not say which"
    text = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')}"
    return text + (f": {holder['command']}" if holder.get("command") else "")


class StaleOutputsError(ConfigurationError):
    """A resumed batch found outputs made with another manifest (nothing was touched).

    Args:
        out_dir: the output folder.
        new_hash: the manifest hash of this run.
        old_hashes: manifest hash -> how many existing outputs were made with it.
    """

    def __init__(self, out_dir: str, new_hash: str, old_hashes: Dict[str, int]) -> None:
        self.out_dir = out_dir
        self.new_hash = new_hash
        self.old_hashes = dict(old_hashes)
        self.count = sum(self.old_hashes.values())
        super().__init__(f"{out_dir}: the manifest changed: {describe_stale(new_hash, self.old_hashes)}; rerun with "
                         "--replace-stale (replace_stale=True) to replace them, or use another output folder",
                         parameter="resume", expected=f"outputs made with {new_hash}",
                         given=", ".join(self.old_hashes))


def describe_stale(new_hash: str, old_hashes: Dict[str, int]) -> str:
    """``"3 outputs were made with sha256:aa.. and would be replaced by outputs of sha256:bb.."``."""
    count = sum(old_hashes.values())
    made = ", ".join(f"{n} with {h}" for h, n in old_hashes.items())
    return (f"{count} output{'s were' if count != 1 else ' was'} made with another manifest ({made}) and would be "
            f"replaced by outputs of {new_hash}")


class BatchInterrupted(RemoteMediaError):
    """A batch run stopped cleanly on SIGTERM (SIGINT raises ``KeyboardInterrupt`` the same way).

    In-flight inputs were abandoned (their staging removed, no ledger line),
    the ledger got its end record; ``resume`` picks up the rest.

    Args:
        signal_name: ``"SIGTERM"``.
        exit_code: the conventional exit status, 128 + the signal number (143).
        done: inputs recorded in the ledger by this run.
        not_run: inputs this run did not finish.
    """

    def __init__(self, signal_name: str, exit_code: int, done: int, not_run: int) -> None:
        self.signal_name = signal_name
        self.exit_code = exit_code
        self.done = done
        self.not_run = not_run
        super().__init__(f"stopped by {signal_name}: {done} input(s) recorded by this run, {not_run} not finished; "
                         "run again with --resume (resume=True) to do the rest")
