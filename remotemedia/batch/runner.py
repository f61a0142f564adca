"""The batch coordinator: inputs in, work out to an executor, outcomes into the ledger."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from remotemedia.batch.inputs import AUDIO_EXTENSIONS, InputItem, discover_inputs
from remotemedia.batch.ledger import LEDGER_NAME, Ledger, last_outcomes, manifest_hash, now_iso, read_ledger
from remotemedia.batch.report import BatchReport, Progress
from remotemedia.batch.worker import build_pipeline, file_identity, outputs_exist, run_task, sweep_leftovers, with_impl
from remotemedia.errors import ConfigurationError

ExecutorSpec = Union[None, str, cf.Executor]


def load_batch_manifest(manifest_or_pipeline: Any) -> Dict[str, Any]:
    """A manifest dict from a dict, a JSON string, a file path or a :class:`~remotemedia.Pipeline`."""
    if hasattr(manifest_or_pipeline, "to_manifest"):
        return manifest_or_pipeline.to_manifest()
    from remotemedia.manifest import load_manifest

    return load_manifest(manifest_or_pipeline)


def run_batch(manifest_or_pipeline: Any, inputs: Union[str, Iterable[str]], out_dir: str,
              executor: ExecutorSpec = None, *, workers: Optional[int] = None, resume: bool = False,
              fail_fast: bool = False, impl: Optional[str] = None, progress: Union[Progress, bool, None] = None,
              max_attempts: int = 3, retry_delay_s: float = 0.1, timeout_s: float = 60.0,
              extensions: Sequence[str] = AUDIO_EXTENSIONS, plugins: Sequence[str] = ()) -> BatchReport:
    """Runs a pipeline over many files.

    Every input ends as a published output folder ``out_dir/<key>/`` (written
    atomically) or as a failure line in the ledger ``out_dir/remotemedia-ledger.jsonl``.

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
        fail_fast: stop submitting at the first failure (inputs in flight
            finish and are recorded; the rest count as ``not_run``).
        impl: ``"auto"``/None, ``"native"`` or ``"python"``: sets every kernel
            node's ``runtime_hint`` (``REMOTEMEDIA_IMPL`` for this batch only).
        progress: a :class:`~remotemedia.batch.report.Progress` (see
            :func:`~remotemedia.batch.report.make_progress`); True = a bar on
            stderr when it is a terminal; None or False = silent.
        max_attempts: attempts per input when the failure is transient (I/O,
            timeouts, HTTP 5xx); other failures are final at once.
        retry_delay_s: delay before the first retry (doubles each retry).
        timeout_s: network timeout of URL downloads (s).
        extensions: what directories and globs are searched for.
        plugins: modules every worker imports first (custom node types).

    Returns:
        A :class:`~remotemedia.batch.report.BatchReport`.

    Raises:
        PipelineValidationError: the manifest is invalid (nothing ran).
        ConfigurationError: an input does not exist, a bad executor or impl.
        NativeUnavailableError: ``impl="native"`` without the compiled module.
    """
    import importlib

    t0 = time.perf_counter()
    for module in plugins:
        importlib.import_module(module)
    manifest = load_batch_manifest(manifest_or_pipeline)
    probe = build_pipeline(with_impl(manifest, impl))  # every manifest error, before anything runs
    node_types = {n.id: getattr(n, "node_type", type(n).__name__) for n in probe.nodes}
    probe.close()
    digest = manifest_hash(manifest)
    out_dir = os.path.abspath(os.fspath(out_dir))
    os.makedirs(out_dir, exist_ok=True)
    specs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    items = discover_inputs(specs, extensions=extensions, exclude=[out_dir], reserved=[LEDGER_NAME])
    ledger_path = os.path.join(out_dir, LEDGER_NAME)
    report = BatchReport(out_dir=out_dir, ledger_path=ledger_path, total=len(items), node_types=node_types)
    sweep_leftovers(out_dir)

    todo: List[Tuple[InputItem, Optional[int], Optional[int]]] = []
    previous = last_outcomes(read_ledger(ledger_path)) if resume else {}
    for item in items:
        size, mtime_ns = file_identity(item.source)
        before = previous.get(item.source)
        if (before is not None and before.get("status") == "ok" and before.get("manifest_hash") == digest
                and before.get("size") == size and before.get("mtime_ns") == mtime_ns
                and before.get("key") == item.key and outputs_exist(out_dir, before.get("outputs") or [])):
            report.skipped += 1
        else:
            todo.append((item, size, mtime_ns))

    pool, owned, label, n_workers, client = _make_executor(executor, workers)
    report.executor, report.workers = label, n_workers
    if progress is True:
        from remotemedia.batch.report import make_progress

        progress = make_progress(None)
    elif progress is None or progress is False:
        progress = Progress()
    base_task = {"manifest": manifest, "out_root": out_dir, "impl": impl, "max_attempts": max_attempts,
                 "retry_delay_s": retry_delay_s, "timeout_s": timeout_s, "plugins": list(plugins)}
    ledger = Ledger(ledger_path)
    ledger.append({"event": "run", "time": now_iso(), "manifest_hash": digest, "inputs": len(items),
                   "to_do": len(todo), "resume": resume, "executor": label, "workers": n_workers, "impl": impl})
    progress.start(len(items), report.skipped)
    in_flight: Dict[cf.Future, Tuple[InputItem, Optional[int], Optional[int]]] = {}
    queue = iter(todo)
    stop = False
    try:
        while True:
            while not stop and len(in_flight) < max(2 * n_workers, 2):
                nxt = next(queue, None)
                if nxt is None:
                    break
                task = dict(base_task, input=nxt[0].source, key=nxt[0].key)
                in_flight[pool.submit(run_task, task)] = nxt
            if not in_flight:
                break
            done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                item, size, mtime_ns = in_flight.pop(fut)
                entry = _outcome(fut, item, size, mtime_ns, digest)
                metrics = entry.pop("metrics", None)
                ledger.append(entry)
                if metrics is not None:
                    entry["metrics"] = metrics
                _account(report, entry)
                progress.advance(entry)
                if entry["status"] == "failed" and fail_fast:
                    stop = True
        report.not_run = sum(1 for _ in queue) if stop else 0
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        raise
    finally:
        progress.close()
        ledger.close()
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()
    report.wall_s = time.perf_counter() - t0
    return report


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
    """``(executor, owned, label, workers, dask client or None)``."""
    cores = os.cpu_count() or 1
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigurationError(f"workers: expected an int >= 1, given {workers!r}", parameter="workers",
                                 expected="an int >= 1", given=workers)
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
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
        return pool, True, "processes", n, None
    if isinstance(spec, str) and spec.split("://", 1)[0] in ("tcp", "tls", "ucx", "inproc", "ws", "wss"):
        try:
            import distributed
        except ImportError as exc:
            raise ConfigurationError(f"executor {spec!r}: a Dask scheduler needs the 'dask' extra "
                                     "(pip install 'remotemedia[dask]')", parameter="executor",
                                     expected="distributed installed", given=spec) from exc
        client = distributed.Client(spec)
        n = workers or max(1, sum(client.nthreads().values()))
        return client.get_executor(pure=False), False, spec, n, client
    raise ConfigurationError(f"executor: expected threads, processes, a Dask scheduler address (tcp://host:port) "
                             f"or a concurrent.futures.Executor, given {spec!r}", parameter="executor",
                             expected="threads|processes|tcp://host:port", given=spec)
