"""Retries, error classification, circuit breakers and run-time errors, in real pipelines on both implementations."""

from __future__ import annotations

import asyncio
import errno
import threading
import traceback
import urllib.error

import numpy as np
import pytest

from remotemedia.engine.attempts import acall_with_retries, call_with_retries
from remotemedia.errors import (
    CircuitOpenError,
    ConfigurationError,
    HttpStatusError,
    KernelInputError,
    NodeError,
    NodeExecutionError,
    PermanentError,
    PipelineValidationError,
    RemoteMediaError,
    TransientError,
)
from remotemedia.nodes.audio import FormatConverterNode
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.pipeline import Pipeline
from remotemedia.reliability import (
    PERMANENT,
    TRANSIENT,
    UNKNOWN,
    CircuitBreaker,
    CircuitBreakerRegistry,
    ErrorClassifier,
    RetryPolicy,
    classify,
    register_transient,
)

FAST = RetryPolicy(initial_delay_s=0.002, jitter=0.0)


def audio(n: int = 160, value: int = 1000):
    return np.full((1, n), value, np.int16), 16000


class Flaky(Node):
    """Fails with ``errors[i]`` on call i, then returns its input; counts calls."""

    def __init__(self, errors=(), name=None):
        super().__init__(name=name)
        self.errors = list(errors)
        self.calls = 0
        self.lock = threading.Lock()

    def process(self, data):
        with self.lock:
            self.calls += 1
            err = self.errors.pop(0) if self.errors else None
        if err is not None:
            raise err
        return data


class AsyncFlaky(Flaky):
    async def process(self, data):
        return Flaky.process(self, data)


# ------------------------------------------------------------- classification
@pytest.mark.parametrize("exc, kind", [
    (TimeoutError("t"), TRANSIENT), (ConnectionResetError(), TRANSIENT), (ConnectionRefusedError(), TRANSIENT),
    (BlockingIOError(), TRANSIENT), (OSError(errno.EBUSY, "busy"), TRANSIENT), (OSError(errno.EAGAIN, "x"), TRANSIENT),
    (OSError(errno.ETIMEDOUT, "x"), TRANSIENT), (OSError(errno.ECONNRESET, "x"), TRANSIENT),
    (asyncio.TimeoutError(), TRANSIENT), (urllib.error.URLError(ConnectionRefusedError()), TRANSIENT),
    (HttpStatusError("u", 503), TRANSIENT), (HttpStatusError("u", 429), TRANSIENT), (HttpStatusError("u", 408), TRANSIENT),
    (HttpStatusError("u", 404), PERMANENT), (HttpStatusError("u", 400), PERMANENT),
    (urllib.error.HTTPError("u", 502, "bad gateway", None, None), TRANSIENT),
    (urllib.error.HTTPError("u", 403, "forbidden", None, None), PERMANENT),
    (TransientError("x"), TRANSIENT), (PermanentError("x"), PERMANENT),
    (ValueError("v"), PERMANENT), (TypeError("t"), PERMANENT), (FileNotFoundError("f"), PERMANENT),
    (ConfigurationError("c"), PERMANENT), (KernelInputError("p", "e", "g"), PERMANENT),
    (PipelineValidationError([]), PERMANENT), (CircuitOpenError("x", 5, "e", 1.0), PERMANENT),
    (RuntimeError("r"), UNKNOWN), (OSError(errno.EIO, "io"), UNKNOWN), (KeyError("k"), UNKNOWN),
])
def test_builtin_classification(exc, kind):
    assert classify(exc) == kind


def test_classification_is_extensible_and_follows_causes():
    class Flake(Exception):
        pass

    class Broken(ConnectionError):
        pass

    c = ErrorClassifier()
    assert c.classify(Flake()) == UNKNOWN and c.classify(Broken()) == TRANSIENT
    c.add_transient(Flake, lambda e: "try again" in str(e))
    c.add_permanent(Broken)
    assert c.classify(Flake()) == TRANSIENT and c.classify(RuntimeError("please try again")) == TRANSIENT
    assert c.classify(Broken()) == PERMANENT
    assert classify(Flake()) == UNKNOWN  # a private classifier leaves the default alone
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = ConnectionResetError()
    assert classify(wrapped) == TRANSIENT

    class Marked(Exception):
        transient = True

    assert classify(Marked()) == TRANSIENT

    class GlobalFlake(Exception):
        pass

    register_transient(GlobalFlake)
    assert classify(GlobalFlake()) == TRANSIENT


def test_a_classifier_may_call_the_oserrors_it_does_not_know_transient():
    c = ErrorClassifier(other_os_errors=TRANSIENT)
    assert c.classify(OSError(errno.EIO, "io")) == TRANSIENT and c.classify(OSError("no errno")) == TRANSIENT
    wrapped = RuntimeError("node failed")
    wrapped.__cause__ = OSError(errno.EIO, "io")
    assert c.classify(wrapped) == TRANSIENT
    # Everything the rules decide stays as it was.
    assert c.classify(FileNotFoundError()) == PERMANENT and c.classify(PermissionError()) == PERMANENT
    assert c.classify(RuntimeError("r")) == UNKNOWN and c.classify(ValueError()) == PERMANENT
    c.add_permanent(lambda e: isinstance(e, OSError) and e.errno == errno.ENOSPC)
    assert c.classify(OSError(errno.ENOSPC, "full")) == PERMANENT
    assert c.copy().classify(OSError(errno.EIO, "io")) == TRANSIENT and c.copy().other_os_errors == TRANSIENT
    assert ErrorClassifier().copy(other_os_errors=TRANSIENT).classify(OSError(errno.EIO, "io")) == TRANSIENT
    assert classify(OSError(errno.EIO, "io")) == UNKNOWN  # the default classifier is unchanged
    with pytest.raises(ConfigurationError, match="other_os_errors: expected 'unknown' or 'transient'"):
        ErrorClassifier(other_os_errors=PERMANENT)


# ---------------------------------------------------------------- the policy
def test_default_policy_waits_100_200_400_ms_then_gives_up():
    p = RetryPolicy(jitter=0.0)
    decisions = [p.decide(ConnectionError(), attempt) for attempt in (1, 2, 3, 4)]
    assert [d.delay_s for d in decisions] == [0.1, 0.2, 0.4, None]
    assert [d.retry for d in decisions] == [True, True, True, False]
    assert not p.decide(ValueError(), 1).retry and not p.decide(RuntimeError(), 1).retry
    assert RetryPolicy(retry_unknown=True).decide(RuntimeError(), 1).retry
    assert RetryPolicy(max_delay_s=0.25, jitter=0).backoff_s(3) == 0.25
    jittered = [RetryPolicy().backoff_s(1) for _ in range(200)]
    assert all(0.09 <= d <= 0.11 for d in jittered) and len(set(jittered)) > 1


def test_policy_honours_retry_after_up_to_max_delay():
    p = RetryPolicy(jitter=0.0, max_delay_s=30)
    assert p.decide(HttpStatusError("u", 429, retry_after_s=3.0), 1).delay_s == 3.0
    assert p.decide(HttpStatusError("u", 503, retry_after_s=0.01), 1).delay_s == 0.1
    late = p.decide(HttpStatusError("u", 503, retry_after_s=31.0), 1)
    assert not late.retry and "Retry-After 31 s exceeds max_delay_s 30" in late.reason


def test_policy_validation_and_specs():
    with pytest.raises(ConfigurationError, match=r"multiplier: expected a number >= 1, given 0.5"):
        RetryPolicy(multiplier=0.5)
    with pytest.raises(ConfigurationError, match="unknown field 'backoff'"):
        RetryPolicy.from_spec({"backoff": 2})
    assert RetryPolicy.from_spec({"max_retries": 1}) == RetryPolicy(max_retries=1)
    assert RetryPolicy.from_spec(RetryPolicy.none().to_dict()).max_retries == 0


def test_standalone_call_retries_transient_errors():
    f = Flaky([ConnectionError("a"), TimeoutError("b")])
    assert call_with_retries(f.process, (7,), FAST) == 7 and f.calls == 3
    g = Flaky([ValueError("bad")])
    with pytest.raises(ValueError):
        call_with_retries(g.process, (7,), FAST)
    assert g.calls == 1
    h = AsyncFlaky([ConnectionError("a")])
    assert asyncio.run(acall_with_retries(h.process, (1,), FAST)) == 1 and h.calls == 2


# ------------------------------------------------------ retries in pipelines
def test_permanent_error_is_called_once(impl):
    node = Flaky([ValueError("bad sample")] * 10, name="flaky")
    p = Pipeline([node, FormatConverterNode("f32", runtime_hint=impl, name="conv")], enable_metrics=True)
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync([audio()])
    assert node.calls == 1 and info.value.attempts == 1
    assert [a["attempt"] for a in p.get_metrics()["attempts"]] == [1]


def test_transient_error_is_called_4_times_with_100_200_400_ms_waits(impl):
    node = Flaky([ConnectionResetError("peer reset")] * 10, name="flaky")
    p = Pipeline([node, FormatConverterNode("f32", runtime_hint=impl, name="conv")], enable_metrics=True)
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync([audio()])
    err = info.value
    assert node.calls == 4 and err.attempts == 4 and err.attempt == 4
    assert [r.attempt for r in err.attempt_history] == [1, 2, 3, 4]
    delays = [r.delay_s for r in err.attempt_history]
    assert delays[:3] == pytest.approx([0.1, 0.2, 0.4], rel=0.1001) and delays[3] is None  # default jitter 10 %
    metrics = p.get_metrics()["attempts"]
    assert [(a["attempt"], a["delay_s"]) for a in metrics] == [(r.attempt, r.delay_s) for r in err.attempt_history]
    assert all(a["error"] == "ConnectionResetError: peer reset" for a in metrics)


@pytest.mark.parametrize("cls", [Flaky, AsyncFlaky])
def test_transient_failure_then_success_keeps_order_and_gives_one_output_per_input(impl, cls):
    node = cls([None, ConnectionError("x"), TimeoutError("y")], name="flaky")
    p = Pipeline([node, FormatConverterNode("f32", runtime_hint=impl, name="conv")], retry=FAST,
                 enable_metrics=True)
    inputs = [audio(value=v) for v in (1000, 2000, 3000, 4000)]
    out = p.run_sync(inputs)
    assert [float(o[0][0, 0]) * 32768 for o in out] == [1000, 2000, 3000, 4000]
    assert node.calls == 6
    attempts = [(a["attempt"], a["error"] is None) for a in p.get_metrics()["attempts"]]
    assert attempts == [(1, False), (2, False), (3, True)]


def test_per_node_policy_from_manifest_overrides_the_pipeline_policy():
    manifest = {"version": "1.0", "metadata": {"name": "m"},
                "nodes": [{"id": "a", "node_type": "PassThroughNode"},
                          {"id": "b", "node_type": "PassThroughNode",
                           "retry": {"max_retries": 1, "initial_delay_s": 0.001}}],
                "connections": [{"from": "a", "to": "b"}]}
    p = Pipeline.from_manifest(manifest)
    node = Flaky([ConnectionError("x")] * 5, name="b")
    p._nodes["b"] = node
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync(1)
    assert node.calls == 2 and info.value.attempts == 2
    node.errors = [ConnectionError("x")] * 5
    node.calls = 0
    node.retry_policy = {"max_retries": 4, "initial_delay_s": 0.001}  # the manifest's still wins
    with pytest.raises(NodeExecutionError):
        p.run_sync(1)
    assert node.calls == 2


def test_node_attribute_policy_and_disabling_retries():
    node = Flaky([ConnectionError("x")] * 5, name="f")
    node.retry_policy = RetryPolicy(max_retries=2, initial_delay_s=0.001)
    with pytest.raises(NodeExecutionError):
        Pipeline([node]).run_sync(1)
    assert node.calls == 3
    other = Flaky([ConnectionError("x")] * 5, name="g")
    with pytest.raises(NodeExecutionError):
        Pipeline([other], retry=RetryPolicy.none()).run_sync(1)
    assert other.calls == 1


def test_a_retrying_node_does_not_block_other_branches():
    """One thread and one call slot: a blocking backoff would keep the other branch from running."""
    b_ran = threading.Event()
    seen_during_backoff = []

    class Waits(Node):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.calls = 0

        def process(self, data):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("first try fails")
            seen_during_backoff.append(b_ran.is_set())
            return data

    class B(Node):
        def process(self, data):
            b_ran.set()
            return data

    p = Pipeline([PassThroughNode(name="src"), Waits(name="a"), B(name="b")],
                 connections=[("src", "a"), ("src", "b")], max_workers=1, max_concurrency=1,
                 retry=RetryPolicy(initial_delay_s=0.5, jitter=0))
    try:
        assert p.run_sync(1) == {"a": 1, "b": 1}
    finally:
        p.close()
    assert seen_during_backoff == [True]


def test_async_generator_that_already_emitted_is_not_retried():
    class Gen(Node):
        calls = 0

        async def process(self, data):
            type(self).calls += 1
            yield data
            raise ConnectionError("after one output")

    p = Pipeline([Gen(name="g")], retry=FAST)
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync(1)
    assert Gen.calls == 1 and info.value.attempts == 1


# ----------------------------------------------------------- circuit breaker
class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_breaker_opens_on_5th_failure_and_6th_call_fails_fast(impl):
    node = Flaky([ConnectionError("down")] * 100, name="svc")
    breakers = CircuitBreakerRegistry()
    p = Pipeline([node, FormatConverterNode("f32", runtime_hint=impl, name="conv")], retry=RetryPolicy.none(),
                 circuit_breakers=breakers, enable_metrics=True)
    for _ in range(5):
        with pytest.raises(NodeExecutionError) as info:
            p.run_sync(audio())
        assert isinstance(info.value.__cause__, ConnectionError)
    assert node.calls == 5 and breakers.states()["node type 'Flaky'"] == "open"
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync(audio())
    assert node.calls == 5  # not run
    cause = info.value.__cause__
    assert isinstance(cause, CircuitOpenError)
    assert str(cause).startswith("circuit open for node type 'Flaky' after 5 consecutive failures; "
                                 "last error: ConnectionError: down; retry after 6")
    assert str(info.value).startswith("node 'svc' (Flaky) failed on attempt 1: CircuitOpenError: circuit open")
    assert p.get_metrics()["attempts"][-1]["ran"] is False
    # Metrics are per run: this run's only call of the node is the refused one.
    assert p.get_metrics()["nodes"]["svc"]["calls"] == 1


def test_breaker_counts_attempts_and_stops_retries():
    node = Flaky([ConnectionError("down")] * 100, name="svc")
    p = Pipeline([node], retry=FAST)
    with pytest.raises(NodeExecutionError):
        p.run_sync(1)  # 4 attempts
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync(1)  # 5th attempt trips it, the retry is refused
    assert node.calls == 5 and info.value.attempts == 2
    assert [r.ran for r in info.value.attempt_history] == [True, False]


def test_breaker_half_open_lets_one_trial_through():
    clock = Clock()
    b = CircuitBreaker("thing 'x'", fail_max=2, reset_timeout_s=10, clock=clock)
    for _ in range(2):
        b.before_call()
        b.on_failure(ConnectionError("e"))
    assert b.state == "open"
    with pytest.raises(CircuitOpenError, match="retry after 10.0 s"):
        b.before_call()
    clock.now += 10
    assert b.state == "half-open"
    b.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        b.before_call()  # a second caller while the trial runs
    b.on_failure(ConnectionError("still down"))
    assert b.state == "open" and b.last_error == "ConnectionError: still down"
    clock.now += 10
    b.before_call()
    b.on_success()
    assert b.state == "closed" and b.fail_counter == 0
    b.before_call()


def test_breaker_ignores_permanent_errors_and_successes_reset_it():
    b = CircuitBreaker("t", fail_max=3)
    for exc in (ConnectionError(), ConnectionError(), ValueError("bad input"), ConnectionError(),
                ConnectionError()):
        b.before_call()
        b.on_failure(exc)
    assert b.state == "closed" and b.fail_counter == 2
    assert CircuitBreaker("t", exclude=(KeyError,))._excluded(KeyError())
    with pytest.raises(ConfigurationError):
        CircuitBreakerRegistry(fail_max=0)


def test_registry_is_shared_across_pipelines_of_a_batch():
    breakers = CircuitBreakerRegistry(fail_max=2)
    a = Flaky([ConnectionError("x")] * 10, name="n")
    b = Flaky([ConnectionError("x")] * 10, name="n")
    for node in (a, b):
        with pytest.raises(NodeExecutionError):
            Pipeline([node], retry=RetryPolicy.none(), circuit_breakers=breakers).run_sync(1)
    c = Flaky([], name="n")
    with pytest.raises(NodeExecutionError, match="CircuitOpenError"):
        Pipeline([c], circuit_breakers=breakers).run_sync(1)
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)
    d = Flaky([ConnectionError("x")] * 10, name="n")
    with pytest.raises(NodeExecutionError, match="ConnectionError"):  # a pipeline without breakers runs it
        Pipeline([d], retry=RetryPolicy.none(), circuit_breakers=False).run_sync(1)


# ---------------------------------------------------------------------- errors
def test_node_execution_error_carries_context_and_the_pipeline_stays_usable(impl):
    class Crash(Node):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.fail = True

        def process(self, data):
            if self.fail:
                raise RuntimeError("native kernel exploded\nsecond line")
            return data

    crash = Crash(name="crash")
    p = Pipeline([PassThroughNode(name="src"), crash, FormatConverterNode("f32", runtime_hint=impl, name="conv")],
                 enable_metrics=True)
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync([audio(160)])
    err = info.value
    assert isinstance(err, NodeError) and isinstance(err, RemoteMediaError) and NodeError is NodeExecutionError
    assert str(err) == "node 'crash' (Crash) failed on attempt 1: RuntimeError: native kernel exploded | second line"
    assert "\n" not in str(err)
    assert (err.node_id, err.node_type, err.attempts) == ("crash", "Crash", 1)
    assert err.input_description == "audio (1, 160) int16 @ 16000 Hz"
    frames = traceback.extract_tb(err.__cause__.__traceback__)
    assert frames[-1].name == "process" and "raise RuntimeError" in frames[-1].line
    assert list(err.partial_results) == ["src"] and len(err.partial_results["src"]) == 1
    assert err.metrics["status"] == "failed" and err.metrics["nodes"]["crash"]["errors"] == 1
    crash.fail = False
    out = p.run_sync([audio(160)])
    assert out[0].dtype == np.float32 and p.get_metrics()["status"] == "ok"
    assert p.get_metrics()["run_id"] != err.metrics["run_id"]


def test_kernel_error_names_the_kernel_node_on_both_implementations(impl):
    p = Pipeline([PassThroughNode(name="src"), FormatConverterNode("f32", runtime_hint=impl, name="conv")])
    bad = (np.zeros((1, 4), np.uint8), 16000)
    with pytest.raises(NodeExecutionError) as info:
        p.run_sync([bad])
    err = info.value
    assert (err.node_id, err.node_type, err.attempts) == ("conv", "FormatConverterNode", 1)
    assert isinstance(err.__cause__, KernelInputError) and err.input_description == "audio (1, 4) uint8 @ 16000 Hz"
    assert list(err.partial_results) == ["src"]
    assert p.run_sync([audio(8)])[0].shape == (1, 8)


def test_streaming_runs_retry_too_and_their_errors_carry_metrics():
    node = Flaky([ConnectionError("x"), None, None, ValueError("bad")], name="f")
    p = Pipeline([node], retry=FAST, enable_metrics=True)
    got = []
    with pytest.raises(NodeExecutionError) as info:
        for out in p.stream([1, 2, 3]):
            got.append(out)
    assert got == [1, 2] and node.calls == 4
    assert info.value.metrics["attempts"][0]["error"] == "ConnectionError: x"


def test_outputs_before_a_final_failure_in_the_same_batch_are_not_lost():
    class FailsOn3(Node):
        def process(self, data):
            if data == 3:
                raise ValueError("bad item 3")
            return data

    got = []
    with pytest.raises(NodeExecutionError, match="bad item 3") as info:
        for out in Pipeline([FailsOn3(name="f")]).stream([1, 2, 3, 4]):
            got.append(out)
    assert got == [1, 2] and info.value.input_description == "3"
