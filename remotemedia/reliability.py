"""Retries with backoff, error classification and circuit breakers.

The semantics follow the libraries users already know: a :class:`RetryPolicy`
behaves like tenacity's ``stop_after_attempt(max_retries + 1)`` with an
exponential wait and ``reraise=True``; a :class:`CircuitBreaker` like
pybreaker's (closed -> open after ``fail_max`` consecutive failures -> half-open
after ``reset_timeout_s`` -> one trial call -> closed on success, open again on
failure; excluded errors count as successes).

What is retried is decided by an :class:`ErrorClassifier`:

- transient (retried): ``TimeoutError``, ``ConnectionError`` and subclasses,
  ``BlockingIOError``, ``OSError`` with errno EAGAIN, EBUSY, ETIMEDOUT,
  ECONNRESET, ECONNABORTED, ECONNREFUSED or EINTR, ``http.client.IncompleteRead``,
  HTTP 408/429/500/502/503/504 (``Retry-After`` honoured), and anything that
  derives from :class:`~remotemedia.errors.TransientError` or has a true
  ``transient`` attribute;
- permanent (raised at once): :class:`~remotemedia.errors.ConfigurationError`
  (manifests, validation, kernel inputs), ``TypeError``, ``ValueError``,
  ``FileNotFoundError`` and the other "no such path" errors, other HTTP 4xx,
  :class:`~remotemedia.errors.CircuitOpenError`, and anything deriving from
  :class:`~remotemedia.errors.PermanentError` or with a false ``transient``
  attribute;
- unknown: everything else (``RuntimeError``, ``KeyError``, ``OSError`` with
  another errno such as EIO ...). Not retried unless the policy says
  ``retry_unknown=True`` (a node that is not known to be idempotent is not
  called twice by default). A classifier made with
  ``other_os_errors=TRANSIENT`` calls those ``OSError`` s transient (the batch
  runner's: it redoes a whole input from scratch).

Users extend both sets, globally with :func:`register_transient` /
:func:`register_permanent`, or per policy with their own classifier. A
wrapped error (``__cause__``) that is itself unknown is classified by its cause.

How the engine uses this (see :mod:`remotemedia.engine.attempts`, the one
attempt loop of the package, also behind the batch runner and
:func:`~remotemedia.engine.attempts.call_with_retries`): each node call is an
attempt; a failed attempt is recorded (:class:`AttemptRecord`), the policy
decides whether and when to retry, and the wait is ``await asyncio.sleep`` on
the event loop (``time.sleep`` in a synchronous run), so other nodes keep running. Breakers are
looked up per call in a :class:`CircuitBreakerRegistry` by key: the node type,
or what the node's ``circuit_key(item)`` returns (a remote host, say), so one
registry passed to several runs (a batch) shares them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Type, Union

from remotemedia.errors import (
    CircuitOpenError,
    ConfigurationError,
    NodeExecutionError,
    PermanentError,
    TransientError,
)

TRANSIENT = "transient"
PERMANENT = "permanent"
UNKNOWN = "unknown"

#: errno values of an ``OSError`` that are worth retrying.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EAGAIN", "EWOULDBLOCK", "EBUSY", "ETIMEDOUT", "ECONNRESET", "ECONNABORTED",
                                      "ECONNREFUSED", "EINTR") if hasattr(errno, name))

Rule = Union[Type[BaseException], Callable[[BaseException], bool]]


def _matches(rule: Rule, exc: BaseException) -> bool:
    if isinstance(rule, type):
        return isinstance(exc, rule)
    return bool(rule(exc))


def _http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status of an error that carries one (ours or ``urllib.error.HTTPError``)."""
    status = getattr(exc, "status", None)
    if status is None and type(exc).__name__ == "HTTPError":
        status = getattr(exc, "code", None)
    return status if isinstance(status, int) and 100 <= status <= 599 else None


class ErrorClassifier:
    """Sorts exceptions into transient, permanent and unknown.

    Args:
        transient: extra exception types or predicates ``exc -> bool`` that
            mean "transient".
        permanent: extra types or predicates that mean "permanent" (checked
            before ``transient``).
        other_os_errors: the verdict on an ``OSError`` that no rule decides
            (an errno not listed in the module docstring, e.g. EIO):
            :data:`UNKNOWN` (default: a node call is not known to be
            idempotent) or :data:`TRANSIENT`, for a caller whose retry redoes a
            whole unit of work from scratch (a batch input: its outputs are
            staged and discarded on failure).

    User rules are checked after the explicit marks (:class:`TransientError`,
    :class:`PermanentError`, a ``transient`` attribute) and before the built-in
    rules, so they can override the built-ins.
    """

    def __init__(self, *, transient: Tuple[Rule, ...] = (), permanent: Tuple[Rule, ...] = (),
                 other_os_errors: str = UNKNOWN) -> None:
        if other_os_errors not in (UNKNOWN, TRANSIENT):
            raise ConfigurationError(f"other_os_errors: expected {UNKNOWN!r} or {TRANSIENT!r}, given "
                                     f"{other_os_errors!r}", parameter="other_os_errors",
                                     expected=f"{UNKNOWN!r} or {TRANSIENT!r}", given=other_os_errors)
        self._lock = threading.Lock()
        self._transient: List[Rule] = list(transient)
        self._permanent: List[Rule] = list(permanent)
        self.other_os_errors = other_os_errors

    def add_transient(self, *rules: Rule) -> None:
        """Adds exception types or predicates that are retried."""
        with self._lock:
            self._transient.extend(rules)

    def add_permanent(self, *rules: Rule) -> None:
        """Adds exception types or predicates that are never retried."""
        with self._lock:
            self._permanent.extend(rules)

    def copy(self, *, other_os_errors: Optional[str] = None) -> "ErrorClassifier":
        """An independent classifier with the same user rules (and settings, unless given)."""
        with self._lock:
            return ErrorClassifier(transient=tuple(self._transient), permanent=tuple(self._permanent),
                                   other_os_errors=other_os_errors or self.other_os_errors)

    def classify(self, exc: BaseException) -> str:
        """:data:`TRANSIENT`, :data:`PERMANENT` or :data:`UNKNOWN`."""
        seen = 0
        current: Optional[BaseException] = exc
        while current is not None and seen < 5:
            verdict = self._classify_one(current)
            if verdict != UNKNOWN:
                return verdict
            current = current.__cause__
            seen += 1
        return UNKNOWN

    def is_transient(self, exc: BaseException) -> bool:
        return self.classify(exc) == TRANSIENT

    def is_permanent(self, exc: BaseException) -> bool:
        return self.classify(exc) == PERMANENT

    def _classify_one(self, exc: BaseException) -> str:
        mark = getattr(exc, "transient", None)
        if isinstance(mark, bool):
            return TRANSIENT if mark else PERMANENT
        if isinstance(exc, TransientError):
            return TRANSIENT
        if isinstance(exc, PermanentError):
            return PERMANENT
        with self._lock:
            permanent, transient = list(self._permanent), list(self._transient)
        if any(_matches(rule, exc) for rule in permanent):
            return PERMANENT
        if any(_matches(rule, exc) for rule in transient):
            return TRANSIENT
        verdict = _builtin_class(exc)
        if verdict == UNKNOWN and isinstance(exc, OSError):
            return self.other_os_errors
        return verdict


def _builtin_class(exc: BaseException) -> str:
    if isinstance(exc, (ConfigurationError, CircuitOpenError)):
        return PERMANENT
    if isinstance(exc, NodeExecutionError):
        return UNKNOWN  # decided by its cause
    status = _http_status(exc)
    if status is not None:
        if status in (408, 429, 500, 502, 503, 504):
            return TRANSIENT
        return PERMANENT if 400 <= status < 500 else UNKNOWN
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return PERMANENT
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError, ConnectionError,
                        BlockingIOError, socket.timeout)):
        return TRANSIENT
    http_client = sys.modules.get("http.client")  # no such error exists unless it was imported
    if http_client is not None and isinstance(exc, http_client.IncompleteRead):
        return TRANSIENT
    if isinstance(exc, socket.gaierror):
        return TRANSIENT if exc.errno == getattr(socket, "EAI_AGAIN", None) else PERMANENT
    if isinstance(exc, OSError):
        if exc.errno in TRANSIENT_ERRNOS:
            return TRANSIENT
        reason = getattr(exc, "reason", None)  # urllib.error.URLError wraps the socket error
        if isinstance(reason, BaseException):
            return _builtin_class(reason)
        return UNKNOWN
    if isinstance(exc, (TypeError, ValueError)):
        return PERMANENT
    return UNKNOWN


#: The classifier used by every policy that has none of its own; extend it
#: with :func:`register_transient` / :func:`register_permanent`.
default_classifier = ErrorClassifier()


def register_transient(*rules: Rule) -> None:
    """Makes exception types (or predicates ``exc -> bool``) transient everywhere."""
    default_classifier.add_transient(*rules)


def register_permanent(*rules: Rule) -> None:
    """Makes exception types (or predicates ``exc -> bool``) permanent everywhere."""
    default_classifier.add_permanent(*rules)


def classify(exc: BaseException) -> str:
    """The default classifier's verdict on ``exc``."""
    return default_classifier.classify(exc)


# ---------------------------------------------------------------- retry policy
@dataclass(frozen=True)
class RetryDecision:
    """What a policy decided about one failed attempt.

    Attributes:
        retry: whether to call again.
        delay_s: how long to wait first (s); None when not retrying.
        reason: why (for logs and error reports).
    """

    retry: bool
    delay_s: Optional[float]
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing node call is retried.

    By default a transient failure is retried up to 3 times, after 0.1, 0.2
    and 0.4 s (each +/- 10 % jitter); a permanent or unknown one is raised at
    once. A ``Retry-After`` the failure carries (``retry_after_s``) is honoured:
    the wait is at least that long; if it is longer than ``max_delay_s`` the
    policy gives up instead of waiting.

    Args:
        max_retries: retries after the first attempt (0 = no retry).
        initial_delay_s: wait before the first retry (s).
        multiplier: growth factor of the wait per retry (>= 1).
        max_delay_s: upper bound of one wait (s).
        jitter: fraction of each wait randomised, in [0, 1]: the wait is
            multiplied by a uniform factor in ``[1 - jitter, 1 + jitter]``.
        retry_unknown: also retry errors the classifier does not know.
        classifier: the classifier to use; None = :data:`default_classifier`
            (read at each decision, so registrations apply).
    """

    max_retries: int = 3
    initial_delay_s: float = 0.1
    multiplier: float = 2.0
    max_delay_s: float = 30.0
    jitter: float = 0.1
    retry_unknown: bool = False
    classifier: Optional[ErrorClassifier] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        checks = [("max_retries", isinstance(self.max_retries, int) and 0 <= self.max_retries <= 100,
                   "an int in [0, 100]"),
                  ("initial_delay_s", self.initial_delay_s >= 0, "a number >= 0"),
                  ("multiplier", self.multiplier >= 1, "a number >= 1"),
                  ("max_delay_s", self.max_delay_s >= 0, "a number >= 0"),
                  ("jitter", 0 <= self.jitter <= 1, "a number in [0, 1]")]
        for name, ok, expected in checks:
            if not ok:
                given = getattr(self, name)
                raise ConfigurationError(f"{name}: expected {expected}, given {given!r}", parameter=name,
                                         expected=expected, given=given)

    # ---------------------------------------------------------- constructing
    @classmethod
    def from_spec(cls, spec: Union["RetryPolicy", Mapping[str, Any], Any, None]) -> Optional["RetryPolicy"]:
        """A policy from a policy, a dict of its fields, a manifest ``RetryPolicySpec`` or None."""
        if spec is None or isinstance(spec, RetryPolicy):
            return spec
        if hasattr(spec, "model_dump"):
            spec = spec.model_dump()
        if not isinstance(spec, Mapping):
            raise ConfigurationError("retry: expected a RetryPolicy or a dict of its fields, "
                                     f"given {type(spec).__name__}", parameter="retry")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - names)
        if unknown:
            raise ConfigurationError(f"retry: unknown field {unknown[0]!r}", parameter=unknown[0],
                                     expected=", ".join(sorted(names)), given=unknown[0])
        return cls(**dict(spec))

    @classmethod
    def none(cls) -> "RetryPolicy":
        """A policy that never retries."""
        return cls(max_retries=0)

    def to_dict(self) -> Dict[str, Any]:
        """The manifest form (``RetryPolicySpec`` fields)."""
        return {"max_retries": self.max_retries, "initial_delay_s": self.initial_delay_s,
                "multiplier": self.multiplier, "max_delay_s": self.max_delay_s, "jitter": self.jitter}

    # ------------------------------------------------------------- deciding
    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def backoff_s(self, retry_number: int, rng: Optional[random.Random] = None) -> float:
        """The wait before retry number ``retry_number`` (1-based), jitter applied (s)."""
        base = min(self.initial_delay_s * self.multiplier ** (retry_number - 1), self.max_delay_s)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * (rng or random).random() - 1.0)
        return max(0.0, min(base, self.max_delay_s))

    def classify(self, exc: BaseException) -> str:
        return (self.classifier or default_classifier).classify(exc)

    def decide(self, exc: BaseException, attempt: int) -> RetryDecision:
        """Whether to retry after attempt number ``attempt`` (1-based) failed with ``exc``, and when."""
        kind = self.classify(exc)
        if kind == PERMANENT or (kind == UNKNOWN and not self.retry_unknown):
            return RetryDecision(False, None, f"{kind} error")
        if attempt > self.max_retries:
            return RetryDecision(False, None, f"gave up after {attempt} attempts")
        delay = self.backoff_s(attempt)
        retry_after = getattr(exc, "retry_after_s", None)
        if isinstance(retry_after, (int, float)) and retry_after > 0:
            if retry_after > self.max_delay_s:
                return RetryDecision(False, None, f"Retry-After {retry_after:g} s exceeds max_delay_s "
                                                  f"{self.max_delay_s:g}")
            delay = max(delay, float(retry_after))
        return RetryDecision(True, delay, f"{kind} error")


@dataclass
class AttemptRecord:
    """One attempt of one node call.

    Attributes:
        node_id: the node.
        node_type: its type.
        attempt: 1 for the first call, 2 for the first retry ...
        error: the exception of a failed attempt, None for a success.
        delay_s: the wait before the next attempt (s), None when none followed.
        ran: False when a circuit breaker refused the call (the node did not run).
        duration_ns: how long the attempt took.
    """

    node_id: str
    node_type: str
    attempt: int
    error: Optional[BaseException] = None
    delay_s: Optional[float] = None
    ran: bool = True
    duration_ns: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: the error as ``"Type: message"``."""
        return {"node_id": self.node_id, "node_type": self.node_type, "attempt": self.attempt,
                "error": error_text(self.error), "delay_s": self.delay_s, "ran": self.ran,
                "duration_us": self.duration_ns / 1000.0}


def error_text(exc: Optional[BaseException]) -> Optional[str]:
    """``"Type: message"`` on one line, or None."""
    if exc is None:
        return None
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ------------------------------------------------------------ circuit breaker
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class CircuitBreaker:
    """Fails fast after repeated failures of one thing (a node type, a host).

    Closed: calls go through; ``fail_max`` consecutive failures open it.
    Open: calls are refused with :class:`~remotemedia.errors.CircuitOpenError`
    until ``reset_timeout_s`` has passed. Half-open: one trial call goes
    through (others are refused while it runs); success closes the breaker,
    failure opens it again for another ``reset_timeout_s``. Excluded errors
    (by default the ones the classifier calls permanent: a bad input says
    nothing about the health of what is guarded) count as successes, as in
    pybreaker. Thread-safe.

    Args:
        what: what is guarded, for messages (``"host '10.0.0.1:80'"``).
        fail_max: consecutive failures that open the breaker.
        reset_timeout_s: how long it stays open before a trial (s).
        exclude: a predicate ``exc -> bool`` or a tuple of types of errors
            that do not count as failures; None = permanent errors.
        clock: monotonic clock (s); injectable for tests.
    """

    def __init__(self, what: str, *, fail_max: int = 5, reset_timeout_s: float = 60.0,
                 exclude: Union[Callable[[BaseException], bool], Tuple[type, ...], None] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(fail_max, int) or fail_max < 1:
            raise ConfigurationError(f"fail_max: expected an int >= 1, given {fail_max!r}", parameter="fail_max")
        if reset_timeout_s < 0:
            raise ConfigurationError(f"reset_timeout_s: expected a number >= 0, given {reset_timeout_s!r}",
                                     parameter="reset_timeout_s")
        self.what = what
        self.fail_max = fail_max
        self.reset_timeout_s = float(reset_timeout_s)
        if exclude is None:
            self._excluded: Callable[[BaseException], bool] = default_classifier.is_permanent
        elif isinstance(exclude, tuple):
            self._excluded = lambda exc, types=exclude: isinstance(exc, types)  # type: ignore[misc]
        else:
            self._excluded = exclude
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self.last_error: Optional[str] = None

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (an open breaker whose timeout passed reads half-open)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
                return HALF_OPEN
            return self._state

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    @property
    def state_unchecked(self) -> str:
        """The stored state, read without the lock and without the timeout check (a fast-path hint).

        ``"closed"`` means calls may go through; anything else means
        :meth:`before_call` must decide.
        """
        return self._state

    def before_call(self) -> None:
        """Admits a call or raises :class:`~remotemedia.errors.CircuitOpenError` (the call must not run).

        An admitted call must be followed by exactly one of :meth:`on_success`,
        :meth:`on_failure` or :meth:`release`.
        """
        if self._state == CLOSED:  # the common case, read without the lock
            return
        with self._lock:
            if self._state == CLOSED:
                return
            if self._state == OPEN:
                remaining = self.reset_timeout_s - (self._clock() - self._opened_at)
                if remaining > 0:
                    raise CircuitOpenError(self.what, self._failures, self.last_error or "?", remaining)
                self._state = HALF_OPEN
            if self._trial_running:
                raise CircuitOpenError(self.what, self._failures, self.last_error or "?", 0.0)
            self._trial_running = True

    def on_success(self) -> None:
        if self._state == CLOSED and not self._failures:  # nothing to reset
            return
        with self._lock:
            self._trial_running = False
            self._state = CLOSED
            self._failures = 0

    def on_failure(self, exc: BaseException) -> None:
        if self._excluded(exc):
            self.on_success()
            return
        with self._lock:
            self.last_error = error_text(exc)
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.fail_max:
                self._state = OPEN
                self._opened_at = self._clock()
            self._trial_running = False

    def release(self) -> None:
        """Forgets an admitted call that ended without a verdict (it was cancelled)."""
        with self._lock:
            self._trial_running = False

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Calls ``fn`` through the breaker (standalone use)."""
        self.before_call()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.on_failure(exc)
            raise
        except BaseException:
            self.release()
            raise
        self.on_success()
        return result

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.what}, state={self.state!r}, failures={self._failures})"


class CircuitBreakerRegistry:
    """The circuit breakers of one pipeline or one batch, created on demand by key.

    Pass the same registry to every run of a batch so a failing node type or
    host trips once for all of them.

    Args:
        fail_max: see :class:`CircuitBreaker`.
        reset_timeout_s: see :class:`CircuitBreaker`.
        exclude: see :class:`CircuitBreaker`.
        clock: see :class:`CircuitBreaker`.
    """

    def __init__(self, *, fail_max: int = 5, reset_timeout_s: float = 60.0,
                 exclude: Union[Callable[[BaseException], bool], Tuple[type, ...], None] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._kwargs: Dict[str, Any] = {"fail_max": fail_max, "reset_timeout_s": reset_timeout_s,
                                        "exclude": exclude, "clock": clock}
        CircuitBreaker("check", **self._kwargs)  # validates the settings now
        self._lock = threading.Lock()
        self._breakers: Dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        """The breaker for ``key`` (e.g. ``"node type 'X'"``), created closed on first use."""
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(key)
                if breaker is None:
                    breaker = self._breakers[key] = CircuitBreaker(key, **self._kwargs)
        return breaker

    def __getitem__(self, key: str) -> CircuitBreaker:
        return self._breakers[key]

    def __contains__(self, key: object) -> bool:
        return key in self._breakers

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._breakers))

    def states(self) -> Dict[str, str]:
        """Key -> state of every breaker created so far."""
        return {key: b.state for key, b in list(self._breakers.items())}


def node_circuit_key(node_type: str) -> str:
    """The default breaker key of a node: its type."""
    return f"node type {node_type!r}"


def host_circuit_key(host: str) -> str:
    """The breaker key of a remote host (``"host:port"``)."""
    return f"host {host!r}"
