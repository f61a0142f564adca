"""The batch coordinator: inputs in, work out to an executor, outcomes into the ledger.

One run per output folder: the coordinator holds the folder's lock
(:mod:`remotemedia.batch.lock`) from before it touches anything there until the
end record is in the ledger. SIGINT and SIGTERM stop a run cleanly
(:mod:`remotemedia.batch.stop`): no more inputs are handed out, in-flight
inputs are abandoned (their staging removed), the ledger gets its end record,
and ``resume`` picks up the rest. A full disk stops the run the same way.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import errno
import logging
import os
import time
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from remotemedia.batch.inputs import AUDIO_EXTENSIONS, InputItem, discover_inputs
from remotemedia.batch.ledger import LEDGER_NAME, Ledger, last_outcomes, manifest_hash, now_iso, read_ledger
from remotemedia.batch.lock import OutputLock, lock_available
from remotemedia.batch.publish import outputs_exist, sweep_leftovers
from remotemedia.batch.report import BatchReport, Progress
from remotemedia.batch.stop import SignalStop, StopFlag, ignore_sigint
from remotemedia.batch.worker import DISK_FULL_ERRNOS, build_pipeline, file_identity, run_task, with_impl
from remotemedia.errors import (
    BatchInterrupted,
    ConfigurationError,
    OutputFolderLockedError,
    StaleOutputsError,
    describe_lock_holder,
    describe_stale,
)
from remotemedia.nodes import protocol

ExecutorSpec = Union[None, str, cf.Executor]
Todo = Tuple[InputItem, Optional[int], Optional[int]]  # (input, size, mtime_ns)

#: How often the coordinator looks at the signal flag while inputs run (s).
POLL_S = 0.2
#: Address schemes of a Dask scheduler.
_DASK_SCHEMES = ("tcp", "tls", "ucx", "inproc", "ws", "wss")

_log = logging.getLogger("remotemedia.batch")


def load_batch_manifest(manifest_or_pipeline: Any) -> Dict[str, Any]:
    """A manifest dict from a dict, a JSON string, a file path or a :class:`~remotemedia.Pipeline`."""
    from remotemedia.manifest import load_manifest
    from remotemedia.pipeline import Pipeline

    if isinstance(manifest_or_pipeline, Pipeline):
        return manifest_or_pipeline.to_manifest()

    return load_manifest(manifest_or_pipeline)


def run_batch(manifest_or_pipeline: Any, inputs: Union[str, Iterable[str]], out_dir: str,
              executor: ExecutorSpec = None, *, workers: Optional[int] = None, resume: bool = False,
              replace_stale: bool = False, lock_wait_s: Optional[float] = 0.0, fail_fast: bool = False,
              impl: Optional[str] = None, fuse: Optional[str] = None,
              progress: Union[Progress, bool, None] = None, max_attempts: int = 3, retry_delay_s: float = 0.1,
              timeout_s: float = 60.0, extensions: Sequence[str] = AUDIO_EXTENSIONS,
              plugins: Sequence[str] = (), handle_signals: bool = True) -> BatchReport:
    """Runs a pipeline over many files.

    Every input ends as a published output folder ``out_dir/<key>/`` (written
    atomically) or as a failure line in the ledger ``out_dir/remotemedia-ledger.jsonl``.
    One run at a time per output folder (an OS lock inside it, see
    :mod:`remotemedia.batch.lock`).

    Args:
        manifest_or_pipeline: a manifest (dict, JSON text or file path) or a
            Pipeline (its manifest is what workers get).
        inputs: files, directories (searched recursively by extension), glob
            patterns, http(s) URLs; one string or several.
        out_dir: the output folder (created when missing).
        executor: ``"threads"`` (default), ``"processes"``, a Dask scheduler
            address (``"tcp://host:port"``, needs the ``dask`` extra), or any
            :class:`concurrent.futures.Executor` (e.g.
            ``distributed.Client(...).get_executor(pure=False)``); an executor
            passed in is not shut down.
        workers: worker count for threads/processes (default: CPU cores); for
            an executor passed in, bounds the inputs in flight.
        resume: skip inputs whose last outcome in the ledger is ok, with the
            same size, mtime and manifest hash, and whose outputs exist.
        replace_stale: with ``resume``, redo (and replace) the outputs made
            with another manifest; without it such outputs make the run refuse
            to start (:class:`~remotemedia.errors.StaleOutputsError`).
        lock_wait_s: how long to wait for another run that holds ``out_dir``
            (s): 0 = fail at once, None = as long as it takes.
        fail_fast: stop submitting at the first failure (inputs in flight
            finish and are recorded; the rest count as ``not_run``).
        impl: ``"auto"``/None, ``"native"`` or ``"python"``: sets every kernel
            node's ``runtime_hint`` (``REMOTEMEDIA_IMPL`` for this batch only).
        fuse: ``"auto"`` or ``"off"``: fused native segments (see
            :class:`~remotemedia.pipeline.Pipeline`) for this batch; None keeps
            the manifest's ``config.fuse``. The outputs are the same either way,
            so it is not part of the manifest hash that ``resume`` compares.
        progress: a :class:`~remotemedia.batch.report.Progress` (see
            :func:`~remotemedia.batch.report.make_progress`); True = a bar on
            stderr when it is a terminal; None or False = silent.
        max_attempts: attempts per input (1 to 101) when the failure is
            transient (I/O, timeouts, HTTP 5xx); other failures are final at once.
        retry_delay_s: delay before the first retry (doubles each retry, +/- 10 %).
        timeout_s: network timeout of URL downloads (s, per socket operation).
        extensions: what directories and globs are searched for.
        plugins: modules every worker imports first (custom node types).
        handle_signals: on the main thread, SIGINT and SIGTERM stop the batch
            cleanly for its duration (see the module doc); False leaves the
            process's signal handlers alone.

    Returns:
        A :class:`~remotemedia.batch.report.BatchReport`.

    Raises:
        PipelineValidationError: the manifest is invalid (nothing ran).
        ConfigurationError: an input does not exist, a bad executor or impl.
        OutputFolderLockedError: another run holds ``out_dir`` (nothing touched).
        StaleOutputsError: ``resume`` found outputs of another manifest (nothing touched).
        NativeUnavailableError: ``impl="native"`` without the compiled module.
        BatchInterrupted: stopped by SIGTERM (``KeyboardInterrupt``: by SIGINT),
            after the clean stop.
        OSError: the disk is full (after the clean stop), or the ledger cannot be written.
    """
    import importlib

    t0 = time.perf_counter()
    _check_settings(executor, workers, max_attempts, lock_wait_s)
    for module in plugins:
        importlib.import_module(module)
    manifest = load_batch_manifest(manifest_or_pipeline)
    probe = build_pipeline(with_impl(manifest, impl), fuse=fuse)  # every manifest error, before anything runs
    node_types = {n.id: protocol.node_type_of(n) for n in probe.nodes}
    probe.close()
    out_dir = os.path.abspath(os.fspath(out_dir))
    os.makedirs(out_dir, exist_ok=True)
    specs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    with SignalStop(handle_signals) as signals:
        lock = OutputLock(out_dir)
        if not lock_available():  # pragma: no cover - Windows
            _log.warning("this platform has no flock: %s is not locked against other runs", out_dir)
        try:
            lock.acquire(lock_wait_s, on_wait=lambda holder: _log.warning(
                "%s is in use by another run (%s): waiting for it", out_dir, describe_lock_holder(holder)),
                should_stop=lambda: signals.requested)
        except OutputFolderLockedError:
            if signals.requested:
                _raise_interrupted(signals, 0, 0)
            raise
        try:
            run = _Run(manifest, out_dir, report=BatchReport(out_dir=out_dir, ledger_path=os.path.join(
                out_dir, LEDGER_NAME), node_types=node_types), signals=signals)
            run.plan(specs, extensions, resume, replace_stale)
            run.execute(executor, workers, fail_fast=fail_fast, progress=progress, resume=resume, task={
                "impl": impl, "fuse": fuse, "max_attempts": max_attempts, "retry_delay_s": retry_delay_s,
                "timeout_s": timeout_s, "plugins": list(plugins)})
        finally:
            lock.release()
    run.report.wall_s = time.perf_counter() - t0
    return run.report


def _check_settings(executor: ExecutorSpec, workers: Any, max_attempts: Any, lock_wait_s: Any) -> None:
    """Refuses bad settings before anything is touched."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigurationError(f"workers: expected an int >= 1, given {workers!r}", parameter="workers",
                                 expected="an int >= 1", given=workers)
    if not (executor is None or isinstance(executor, cf.Executor) or executor in ("threads", "processes")
            or (isinstance(executor, str) and executor.split("://", 1)[0] in _DASK_SCHEMES)):
        raise ConfigurationError(f"executor: expected threads, processes, a Dask scheduler address "
                                 f"(tcp://host:port) or a concurrent.futures.Executor, given {executor!r}",
                                 parameter="executor", expected="threads|processes|tcp://host:port", given=executor)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 101:
        raise ConfigurationError(f"max_attempts: expected an int from 1 to 101, given {max_attempts!r}",
                                 parameter="max_attempts", expected="an int from 1 to 101", given=max_attempts)
    if lock_wait_s is not None and (isinstance(lock_wait_s, bool) or not isinstance(lock_wait_s, (int, float))
                                    or not lock_wait_s >= 0):
        raise ConfigurationError(f"lock_wait_s: expected a number >= 0 or None, given {lock_wait_s!r}",
                                 parameter="lock_wait_s", expected="a number >= 0 or None", given=lock_wait_s)


def _raise_interrupted(signals: SignalStop, done: int, not_run: int) -> None:
    if signals.signal_name == "SIGINT":
        raise KeyboardInterrupt
    raise BatchInterrupted(signals.signal_name or "a signal", signals.exit_code, done, not_run)


class _Run:
    """One locked run: what to do, then doing it."""

    def __init__(self, manifest: Dict[str, Any], out_dir: str, report: BatchReport, signals: SignalStop) -> None:
        self.manifest = manifest
        self.digest = manifest_hash(manifest)
        self.out_dir = out_dir
        self.report = report
        self.signals = signals
        self.todo: List[Todo] = []
        self.stop_reason: Optional[str] = None  # "fail-fast", a signal name, "disk full"
        self.disk_full: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------ planning
    def plan(self, specs: List[Any], extensions: Sequence[str], resume: bool, replace_stale: bool) -> None:
        """Finds the inputs and what is left to do; refuses to mix two manifests' outputs."""
        items = discover_inputs(specs, extensions=extensions, exclude=[self.out_dir], reserved=[LEDGER_NAME])
        self.report.total = len(items)
        previous = last_outcomes(read_ledger(self.report.ledger_path)) if resume else {}
        stale: Dict[str, int] = collections.Counter()
        for item in items:
            size, mtime_ns = file_identity(item.source)
            before = previous.get(item.source)
            done_before = (before is not None and before.get("status") == "ok" and before.get("key") == item.key
                           and outputs_exist(self.out_dir, before.get("outputs") or []))
            if done_before and before.get("manifest_hash") == self.digest and before.get("size") == size \
                    and before.get("mtime_ns") == mtime_ns:
                self.report.skipped += 1
                continue
            if done_before and before.get("manifest_hash") != self.digest:
                stale[str(before.get("manifest_hash"))] += 1
            self.todo.append((item, size, mtime_ns))
        if stale and not replace_stale:
            raise StaleOutputsError(self.out_dir, self.digest, dict(stale))
        if stale:
            _log.warning("%s: the manifest changed: %s; replacing them (--replace-stale)", self.out_dir,
                         describe_stale(self.digest, dict(stale)))
        self.report.replaced_stale = sum(stale.values())
        swept = sweep_leftovers(self.out_dir)  # under the lock: no other run is writing here
        if swept:
            _log.info("%s: removed %d leftover(s) of an earlier, killed run", self.out_dir, swept)

    # ------------------------------------------------------------- running
    def execute(self, executor: ExecutorSpec, workers: Optional[int], *, fail_fast: bool,
                progress: Union[Progress, bool, None], resume: bool, task: Dict[str, Any]) -> None:
        report = self.report
        pool, owned, label, n_workers, client = _make_executor(executor, workers)
        report.executor, report.workers = label, n_workers
        if progress is True:
            from remotemedia.batch.report import make_progress

            progress = make_progress(None)
        elif progress is None or progress is False:
            progress = Progress()
        token = uuid.uuid4().hex[:16]
        flag = StopFlag(self.out_dir, token)
        base_task = dict(task, manifest=self.manifest, manifest_hash=self.digest, out_root=self.out_dir,
                         **flag.task_fields())
        ledger: Optional[Ledger] = None
        status = "failed"
        try:
            ledger = Ledger(report.ledger_path)
            ledger.append({"event": "run", "time": now_iso(), "run": token, "manifest_hash": self.digest,
                           "inputs": report.total, "to_do": len(self.todo), "resume": resume,
                           "replaced_stale": report.replaced_stale, "executor": label, "workers": n_workers,
                           "impl": task.get("impl")})
            progress.start(report.total, report.skipped)
            self._loop(pool, n_workers, base_task, ledger, progress, flag, fail_fast)
            status = ("completed" if self.stop_reason is None else "interrupted" if self.signals.requested
                      else "stopped")
        except BaseException:
            flag.set()  # whatever went wrong here, the workers abandon their inputs
            status = "interrupted" if self.signals.requested else "failed"
            raise
        finally:
            try:
                progress.close()
                if owned:
                    pool.shutdown(wait=True, cancel_futures=True)
                if client is not None:
                    client.close()
            finally:
                flag.close()
                if ledger is not None:
                    self._end(ledger, status, token)
        if self.disk_full is not None:
            raise OSError(errno.ENOSPC, f"no space left on device: the outputs of {self.disk_full['input']} could "
                                        f"not be written ({self.disk_full['error']}); {report.ok} input(s) done in "
                                        f"this run, {report.not_run} not finished: free some space and run again "
                                        "with --resume")
        if self.signals.requested:
            _raise_interrupted(self.signals, report.ok + report.failed, report.not_run)

    def _loop(self, pool: Any, n_workers: int, base_task: Dict[str, Any], ledger: Ledger, progress: Any,
              flag: StopFlag, fail_fast: bool) -> None:
        report = self.report
        in_flight: Dict[cf.Future, Todo] = {}
        queue: Iterator[Todo] = iter(self.todo)
        submitting = True
        abandoned = 0
        try:
            while True:
                if self.signals.requested and self.stop_reason is None:
                    self._abort(self.signals.signal_name or "signal", flag, in_flight)
                if self.stop_reason is not None:
                    submitting = False
                while submitting and len(in_flight) < max(2 * n_workers, 2):
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    in_flight[pool.submit(run_task, dict(base_task, input=nxt[0].source, key=nxt[0].key))] = nxt
                if not in_flight:
                    break
                done, _ = cf.wait(list(in_flight), timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    item, size, mtime_ns = in_flight.pop(fut)
                    if fut.cancelled():
                        abandoned += 1
                        continue
                    entry = _outcome(fut, item, size, mtime_ns, self.digest)
                    if entry["status"] == "aborted" or (flag.event.is_set() and entry.get("stage") == "worker"):
                        abandoned += 1  # stopped mid-way (or its worker killed by the same signal): redone on resume
                        continue
                    metrics = entry.pop("metrics", None)
                    ledger.append(entry)
                    if metrics is not None:
                        entry["metrics"] = metrics
                    _account(report, entry)
                    progress.advance(entry)
                    if entry["status"] == "failed" and entry.get("errno") in DISK_FULL_ERRNOS \
                            and self.stop_reason is None:
                        self.disk_full = entry
                        self._abort("disk full", flag, in_flight)
                    elif entry["status"] == "failed" and fail_fast and self.stop_reason is None:
                        self.stop_reason = "fail-fast"  # in-flight inputs finish and are recorded
        finally:
            report.not_run = abandoned + sum(1 for _ in queue)
            report.stop_reason = self.stop_reason

    def _abort(self, reason: str, flag: StopFlag, in_flight: Dict[cf.Future, Todo]) -> None:
        """Stops handing out inputs and tells the in-flight ones to abandon their work."""
        self.stop_reason = reason
        flag.set()
        for fut in in_flight:
            fut.cancel()

    def _end(self, ledger: Ledger, status: str, token: str) -> None:
        """Appends the end record (best effort: the disk may be full) and closes the ledger."""
        r = self.report
        try:
            ledger.append({"event": "end", "time": now_iso(), "run": token, "status": status,
                           "stopped_by": self.stop_reason, "ok": r.ok, "failed": r.failed, "skipped": r.skipped,
                           "not_run": r.not_run})
        except (OSError, ValueError):
            pass
        finally:
            ledger.close()


def _outcome(fut: cf.Future, item: InputItem, size: Optional[int], mtime_ns: Optional[int],
             digest: str) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"event": "input", "input": item.source, "key": item.key, "size": size,
                             "mtime_ns": mtime_ns, "manifest_hash": digest, "time": now_iso()}
    try:
        result = fut.result()
    except BaseException as exc:  # the worker itself died (a crashed process, a lost Dask worker)
        import traceback

        result = {"status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}",
                  "error_type": f"{type(exc).__module__}.{type(exc).__qualname__}", "node_id": None,
                  "node_type": None, "stage": "worker", "attempts": 1,
                  "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]}
    entry.update(result)
    return entry


def _account(report: BatchReport, entry: Dict[str, Any]) -> None:
    report.results.append(entry)
    if entry["status"] == "ok":
        report.ok += 1
        report.audio_s += float(entry.get("audio_s") or 0.0)
        for node_id, us in (entry.get("node_time_us") or {}).items():
            report.node_time_us[node_id] = report.node_time_us.get(node_id, 0.0) + us
    else:
        report.failed += 1
        report.failures.append(entry)


def _make_executor(spec: ExecutorSpec, workers: Optional[int]) -> Tuple[Any, bool, str, int, Any]:
    """``(executor, owned, label, workers, dask client or None)`` for settings :func:`_check_settings` accepted."""
    cores = os.cpu_count() or 1
    if isinstance(spec, cf.Executor):
        n = workers or getattr(spec, "_max_workers", None) or cores
        return spec, False, type(spec).__name__, int(n), None
    if spec is None or spec == "threads":
        n = workers or cores
        return cf.ThreadPoolExecutor(max_workers=n, thread_name_prefix="remotemedia-batch"), True, "threads", n, None
    if spec == "processes":
        import multiprocessing

        n = workers or cores
        # spawn, not fork: the coordinator has threads (the shared pool), which fork does not copy safely.
        # Workers ignore Ctrl-C (sent to the whole process group): the coordinator stops them cleanly.
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=ignore_sigint)
        return pool, True, "processes", n, None
    try:
        import distributed
    except ImportError as exc:
        raise ConfigurationError(f"executor {spec!r}: a Dask scheduler needs the 'dask' extra "
                                 "(pip install 'remotemedia[dask]')", parameter="executor",
                                 expected="distributed installed", given=spec) from exc
    client = distributed.Client(spec)
    n = workers or max(1, sum(client.nthreads().values()))
    return client.get_executor(pure=False), False, str(spec), n, client
