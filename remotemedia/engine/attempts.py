"""The attempt primitive: one node call with its circuit breaker, hooks and retries.

Every call the package makes with retries goes through :class:`Attempts`: node
calls in item runs and chunk streams (sync, async, and in a worker thread's
batch), fused segments, the batch runner's per-input attempts, and
:func:`call_with_retries`. One state machine, three entries:

- :meth:`Attempts.call_sync`: the whole loop in the calling thread (backoff
  waits with ``time.sleep``);
- :meth:`Attempts.call_async`: on the event loop (waits with ``asyncio.sleep``);
- the steps :meth:`Attempts.start`, :meth:`Attempts.failed` and
  :meth:`Attempts.succeeded`, for a worker thread that returns to the event
  loop for a backoff wait instead of holding its thread (the engine's batches).

One attempt: pick the breaker (the node type's, or the one of
``circuit_key(item)``), ask it (an open breaker refuses: recorded with
``ran=False``, final), call ``before_node`` hooks, call, then on failure let the
breaker count it, let the policy decide (a cancelled run, an error this node
already reported, a call that emitted outputs or is not retryable: final),
call ``after_node`` hooks with the delay, and either wait and go again or raise
a :class:`~remotemedia.errors.NodeExecutionError`; on success close the
breaker, call ``after_node`` hooks, and record the success when it followed
failures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence

from remotemedia.errors import CircuitOpenError, NodeError, NodeExecutionError, describe_input
from remotemedia.reliability import CLOSED, AttemptRecord, CircuitBreaker, CircuitBreakerRegistry, RetryPolicy

#: ``item`` of a source call (no input).
NO_ARG = object()
#: ``item`` when the input is not to be described (lifecycle calls).
NOTHING = object()

_NEVER = threading.Event()  # a "cancelled" flag that is never set


class Attempts:
    """The attempt state machine of one node (or fused segment) in one run.

    Args:
        node_id: named in errors and hooks.
        node_type: named in errors and hooks.
        policy: the retry policy.
        run_id: passed to hooks.
        hooks: a :class:`~remotemedia.hooks.HookSet` (or None: no hooks).
        breaker: the fixed breaker, when there is one and no ``circuit_key``.
        breakers: the registry ``circuit_key`` results are looked up in.
        circuit_key: the node's ``circuit_key`` method, or None.
        cancelled: an event set when the run is cancelled (no retry after it).
        reraise: a final failure re-raises the call's own exception instead of
            a :class:`NodeExecutionError` (the standalone loop of
            :func:`call_with_retries`).
        passthrough: ids of nodes this call stands for (a fused segment's
            stages): a :class:`NodeError` naming one of them is final and
            raised as it is.
    """

    __slots__ = ("node_id", "node_type", "policy", "run_id", "before_hooks", "after_hooks", "has_hooks", "breaker",
                 "breakers", "circuit_key", "cancelled", "reraise", "passthrough")

    def __init__(self, node_id: str, node_type: str, policy: RetryPolicy, *, run_id: int = 0, hooks: Any = None,
                 breaker: Optional[CircuitBreaker] = None, breakers: Optional[CircuitBreakerRegistry] = None,
                 circuit_key: Optional[Callable[[Any], Optional[str]]] = None,
                 cancelled: Optional[threading.Event] = None, reraise: bool = False,
                 passthrough: frozenset = frozenset()) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.policy = policy
        self.run_id = run_id
        self.before_hooks: Sequence[Any] = hooks.before_node if hooks is not None else ()
        self.after_hooks: Sequence[Any] = hooks.after_node if hooks is not None else ()
        self.has_hooks = bool(self.before_hooks or self.after_hooks)
        self.breakers = breakers
        self.circuit_key = circuit_key if breakers is not None else None
        self.breaker = breaker
        self.cancelled = cancelled or _NEVER
        self.reraise = reraise
        self.passthrough = passthrough

    # ------------------------------------------------------------------ steps
    def breaker_for(self, item: Any) -> Optional[CircuitBreaker]:
        """The breaker of a call on ``item``."""
        if self.circuit_key is None:
            return self.breaker
        from remotemedia.reliability import node_circuit_key

        key = self.circuit_key(None if item is NO_ARG else item)
        assert self.breakers is not None
        return self.breakers.get(key or node_circuit_key(self.node_type))

    def start(self, item: Any, attempt: int, history: List[AttemptRecord]) -> Optional[CircuitBreaker]:
        """Before an attempt: the breaker's permission and the ``before_node`` hooks.

        Returns:
            The call's breaker (to pass to :meth:`failed` / :meth:`succeeded`).

        Raises:
            NodeExecutionError: the breaker refused (recorded, final).
        """
        breaker = self.breaker_for(item) if self.circuit_key is not None else self.breaker
        if breaker is not None and breaker.state_unchecked != CLOSED:
            try:
                breaker.before_call()
            except CircuitOpenError as exc:
                self._hooks_before(item, attempt)
                self._record(history, attempt, exc, None, time.perf_counter_ns(), ran=False)
                raise self.error(exc, attempt, history, item) from exc
        if self.before_hooks:
            self._hooks_before(item, attempt)
        return breaker

    def failed(self, exc: Exception, item: Any, attempt: int, history: List[AttemptRecord],
               breaker: Optional[CircuitBreaker], t0: int, *, retryable: bool = True) -> float:
        """After a failed attempt: the breaker counts it, the policy decides, hooks see it.

        Returns:
            The wait before the next attempt (s).

        Raises:
            NodeExecutionError: the failure is final (chained to ``exc``).
        """
        if breaker is not None:
            breaker.on_failure(exc)
        if self.passthrough and isinstance(exc, NodeError) and getattr(exc, "node_id", None) in self.passthrough:
            raise exc
        delay = self._retry_delay(exc, attempt) if retryable else None
        self._record(history, attempt, exc, delay, t0)
        if delay is None:
            if self.reraise:
                raise exc
            raise self.error(exc, attempt, history, item) from exc
        return delay

    def succeeded(self, result: Any, attempt: int, history: List[AttemptRecord], breaker: Optional[CircuitBreaker],
                  t0: int) -> None:
        """After a successful attempt: the breaker closes, hooks see it, a retried success is recorded."""
        if breaker is not None and (breaker.fail_counter or breaker.state_unchecked != CLOSED):
            breaker.on_success()
        if attempt > 1 or self.after_hooks:
            self._record(history, attempt, None, None, t0, result=result)

    def interrupted(self, breaker: Optional[CircuitBreaker]) -> None:
        """The attempt was cancelled: no verdict (a half-open breaker's trial slot is freed)."""
        if breaker is not None:
            breaker.release()

    # ---------------------------------------------------------------- entries
    def call_sync(self, fn: Callable[..., Any], args: Sequence[Any], item: Any, *, retryable: bool = True,
                  sleep: Callable[[float], Any] = time.sleep) -> Any:
        """Calls ``fn(*args)`` with every attempt in this thread; returns its result.

        Raises:
            NodeExecutionError: the call failed for good.
        """
        breaker = self.breaker
        if not self.has_hooks and self.circuit_key is None and (breaker is None or breaker.state_unchecked == CLOSED):
            # the common case: nothing to tell anyone unless the call fails
            t0 = time.perf_counter_ns()
            try:
                result = fn(*args)
            except Exception as exc:
                history: List[AttemptRecord] = []
                sleep(self.failed(exc, item, 1, history, breaker, t0, retryable=retryable))
                return self._loop_sync(fn, args, item, 2, history, retryable, sleep)
            if breaker is not None:
                breaker.on_success()
            return result
        return self._loop_sync(fn, args, item, 1, [], retryable, sleep)

    def _loop_sync(self, fn: Callable[..., Any], args: Sequence[Any], item: Any, attempt: int,
                   history: List[AttemptRecord], retryable: bool, sleep: Callable[[float], Any]) -> Any:
        while True:
            breaker = self.start(item, attempt, history)
            t0 = time.perf_counter_ns()
            try:
                result = fn(*args)
            except Exception as exc:
                sleep(self.failed(exc, item, attempt, history, breaker, t0, retryable=retryable))
                attempt += 1
                continue
            except BaseException:
                self.interrupted(breaker)
                raise
            self.succeeded(result, attempt, history, breaker, t0)
            return result

    async def call_async(self, call: Callable[[], Any], item: Any, *, retryable: bool = True,
                         emitted: Optional[List[int]] = None) -> Any:
        """Awaits ``call()`` (a coroutine function of no argument) with every attempt on the loop.

        Args:
            call: makes one attempt (it may emit outputs as it goes: then it
                increments ``emitted[0]``, and a failure after an output is
                final, never retried).
            item: the input (for breakers, hooks and errors).
            retryable: False = a failure is final.
            emitted: the counter ``call`` increments per output.
        """
        history: List[AttemptRecord] = []
        attempt = 0
        while True:
            attempt += 1
            breaker = self.start(item, attempt, history)
            t0 = time.perf_counter_ns()
            if emitted is not None:
                emitted[0] = 0
            try:
                result = await call()
            except Exception as exc:
                can_retry = retryable and not (emitted is not None and emitted[0])
                await asyncio.sleep(self.failed(exc, item, attempt, history, breaker, t0, retryable=can_retry))
                continue
            except BaseException:
                self.interrupted(breaker)
                raise
            self.succeeded(result, attempt, history, breaker, t0)
            return result

    def timed_reads(self, iterator: Iterable[Any]) -> Iterator[Any]:
        """Yields a chunk source's chunks, each read reported to the node hooks as one call.

        The read that finds the end is reported with ``ran=False`` (no chunk
        came out of it). No breaker, no retry: a source's position moved on.
        """
        if not self.has_hooks:
            yield from iterator
            return
        it = iter(iterator)
        perf_ns = time.perf_counter_ns
        while True:
            self._hooks_before(None, 1)
            t0 = perf_ns()
            try:
                chunk = next(it)
            except StopIteration:
                self._record([], 1, None, None, t0, ran=False)
                return
            except Exception as exc:
                self._record([], 1, exc, None, t0)
                raise
            self._record([], 1, None, None, t0, result=chunk)
            yield chunk

    # ------------------------------------------------------------- internals
    def _retry_delay(self, exc: BaseException, attempt: int) -> Optional[float]:
        if self.cancelled.is_set() or (isinstance(exc, NodeError) and getattr(exc, "node_id", None) == self.node_id):
            return None
        decision = self.policy.decide(exc, attempt)
        return decision.delay_s if decision.retry else None

    def _hooks_before(self, item: Any, attempt: int) -> None:
        for hook in self.before_hooks:
            hook(run_id=self.run_id, node_id=self.node_id, node_type=self.node_type, attempt=attempt, item=item)

    def _record(self, history: List[AttemptRecord], attempt: int, error: Optional[BaseException],
                delay_s: Optional[float], t0: int, ran: bool = True, result: Any = None) -> None:
        duration_ns = time.perf_counter_ns() - t0
        if error is not None or attempt > 1:
            history.append(AttemptRecord(self.node_id, self.node_type, attempt, error, delay_s, ran, duration_ns))
        for hook in self.after_hooks:
            hook(run_id=self.run_id, node_id=self.node_id, node_type=self.node_type, attempt=attempt,
                 duration_ns=duration_ns, error=error, delay_s=delay_s, ran=ran, result=result)

    def error(self, exc: BaseException, attempt: int, history: Sequence[AttemptRecord] = (),
              item: Any = NOTHING, what: str = "") -> NodeExecutionError:
        """The :class:`NodeExecutionError` of this node for ``exc`` (the caller chains it)."""
        return node_error(self.node_id, self.node_type, attempt, exc, what, history=history, item=item)


def node_error(node_id: str, node_type: str, attempt: int, exc: BaseException, what: str = "", *,
               history: Sequence[AttemptRecord] = (), item: Any = NOTHING) -> NodeExecutionError:
    """A :class:`NodeExecutionError` naming the node, describing the input (the caller chains it)."""
    detail = f"{type(exc).__name__}: {exc}"
    described: Optional[str]
    if item is NOTHING:
        described = None
    elif item is NO_ARG:
        described = "no input (source call)"
    elif hasattr(item, "__anext__"):
        described = "a stream of items"
    else:
        described = describe_input(item)
    return NodeExecutionError(f"{what}: {detail}" if what else detail, node_id=node_id, node_type=node_type,
                              attempt=attempt, attempt_history=history, input_description=described)


def call_with_retries(fn: Callable[..., Any], args: Sequence[Any], policy: RetryPolicy) -> Any:
    """``fn(*args)`` with ``policy``'s retries in this thread; a final failure re-raises its own error.

    The standalone form of the loop (no node, no hooks, no breaker).
    """
    return Attempts("call", "call", policy, reraise=True).call_sync(fn, args, NOTHING)


async def acall_with_retries(fn: Callable[..., Any], args: Sequence[Any], policy: RetryPolicy) -> Any:
    """``await fn(*args)`` with ``policy``'s retries (asynchronous waits); a final failure re-raises its own error."""
    return await Attempts("call", "call", policy, reraise=True).call_async(lambda: fn(*args), NOTHING)
