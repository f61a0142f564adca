"""What runs in a batch worker: one input, from a manifest, to a published output folder.

:func:`run_task` is a module-level function taking and returning plain dicts,
so any :class:`concurrent.futures.Executor` can run it: threads, processes, a
Dask cluster. The task holds the manifest (a JSON dict), the input (path or
URL) and the output folder, never live objects; the worker builds its own
pipeline, so each worker resolves native or numpy itself. A worker thread
keeps its pipeline for its next inputs of the same batch (a service reuses
one pipeline for every request the same way; nodes are initialized and
cleaned up around every run either way) and builds a fresh one after a
failed attempt.

The worker runs on the library: URL inputs are downloaded by
:class:`~remotemedia.io.http.HttpFetcher` (timeouts, truncation checks, a
broken download resumed by the next attempt), files are read and written by
:mod:`remotemedia.io` (see :mod:`remotemedia.batch.adapter`), outputs are
published atomically (:mod:`remotemedia.batch.publish`), and a failed attempt
is retried by the engine's attempt loop
(:func:`remotemedia.engine.attempts.call_with_retries`) when the library's
:class:`~remotemedia.reliability.ErrorClassifier` calls the failure transient
(plus, since a retry redoes the whole input from scratch, any ``OSError`` it
does not know, such as EIO).
"""

from __future__ import annotations

import copy
import errno
import importlib
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
import urllib.parse
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

from remotemedia.batch.adapter import Stage, process_file
from remotemedia.batch.ledger import manifest_hash
from remotemedia.batch.publish import outputs_exist, safe_join, staged_folder, sweep_leftovers
from remotemedia.batch.stop import StopCheck, StopHook
from remotemedia.engine.attempts import call_with_retries
from remotemedia.errors import ConfigurationError, InputFileError, NodeError
from remotemedia.nodes import protocol
from remotemedia.reliability import TRANSIENT, ErrorClassifier, RetryPolicy, default_classifier

__all__ = ["run_task", "build_pipeline", "with_impl", "is_transient", "batch_classifier", "file_identity",
           "DISK_FULL_ERRNOS", "outputs_exist", "safe_join", "staged_folder", "sweep_leftovers"]

#: errno values that mean the output (or download) disk is full: the batch stops (see the runner).
DISK_FULL_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EDQUOT") if hasattr(errno, n))


def with_impl(manifest: Dict[str, Any], impl: Optional[str]) -> Dict[str, Any]:
    """The manifest with every kernel node's ``runtime_hint`` set to ``impl``.

    This is ``REMOTEMEDIA_IMPL`` for one batch, without touching the
    environment: ``"python"`` runs numpy kernels, ``"native"`` requires the
    compiled ones (construction fails loudly without them), ``"auto"`` or None
    leaves the manifest as it is.
    """
    if impl in (None, "auto"):
        return manifest
    if impl not in ("python", "native"):
        raise ConfigurationError(f"impl: expected auto, native or python, given {impl!r}", parameter="impl",
                                 expected="auto, native or python", given=impl)
    from remotemedia.nodes.registry import registered_classes

    classes = registered_classes()
    out = copy.deepcopy(manifest)
    for spec in out.get("nodes", []):
        cls = classes.get(spec.get("node_type")) if isinstance(spec, dict) else None
        if cls is not None and protocol.class_traits(cls).kernel_family is not None:
            spec["runtime_hint"] = impl
    return out


def build_pipeline(manifest: Dict[str, Any], hooks: Sequence[Any] = (), fuse: Optional[str] = None) -> Any:
    """A fresh pipeline from a manifest dict, with per-node timing on.

    Peak memory per node is measured the default way (``metrics_memory="auto"``):
    with the native module's allocation counters when they work, else not at
    all, since tracemalloc (the only other way) slows every allocation of the
    process several-fold (the numpy VAD about 50x) and batch runs are about
    throughput.

    Args:
        manifest: the manifest.
        hooks: extra lifecycle hooks (see :mod:`remotemedia.hooks`).
        fuse: ``"auto"`` or ``"off"`` overrides the manifest's ``config.fuse``
            (fused native segments); None keeps it.
    """
    from remotemedia.pipeline import Pipeline

    options = {} if fuse is None else {"fuse": fuse}
    return Pipeline.from_manifest(manifest, enable_metrics=True, keep_results=False, metrics_memory="auto",
                                  hooks=hooks, **options)


def batch_classifier() -> ErrorClassifier:
    """The batch's classifier: the library's default one (with every rule registered so far), except
    that an ``OSError`` it does not know (EIO ...) is transient: a retry redoes the whole input from
    scratch, its outputs staged and discarded on failure. A full disk is never retried."""
    classifier = default_classifier.copy(other_os_errors=TRANSIENT)
    classifier.add_permanent(_disk_full)
    return classifier


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the input may help (see :func:`batch_classifier`): an I/O error (not a
    missing file, a permission problem or a full disk), a timeout or a dropped connection, anywhere
    in the chain of causes, or an HTTP 408/429/500/502/503/504 answer."""
    return batch_classifier().is_transient(exc)


def run_task(task: Dict[str, Any]) -> Dict[str, Any]:
    """Processes one input of a batch (runs in a worker; never raises for a failing input).

    Args:
        task: ``{"manifest": dict, "manifest_hash": its hash (optional), "input": path or URL, "out_root": OUTDIR,
            "key": output folder relative to OUTDIR, "impl": None|"auto"|"native"|"python",
            "fuse": None|"auto"|"off" (None: the manifest's setting),
            "max_attempts": int, "retry_delay_s": float, "timeout_s": float,
            "plugins": [module names to import first], "stop_token", "stop_marker"}``
            (the last two from :meth:`remotemedia.batch.stop.StopFlag.task_fields`).

    Returns:
        ``{"status": "ok", "outputs": [paths relative to OUTDIR], "audio_s",
        "elapsed_s", "attempts", "node_time_us": {node id: us}, "metrics",
        "impl": {node id: implementation}, "worker"}``, ``{"status": "failed",
        "error", "error_type", "errno", "node_id", "node_type", "stage",
        "attempts", "transient", "traceback", "elapsed_s", "worker"}``, or
        ``{"status": "aborted", ...}`` when the batch was stopping (nothing
        published).
    """
    t0 = time.perf_counter()
    stop = StopCheck(task)
    stage = Stage()
    attempts = 0
    classifier = batch_classifier()
    policy = RetryPolicy(max_retries=max(1, int(task.get("max_attempts", 1))) - 1,
                         initial_delay_s=float(task.get("retry_delay_s", 0.1)), classifier=classifier)

    try:
        with _InputFile(task["input"], float(task.get("timeout_s", 60.0))) as source:
            def attempt() -> Dict[str, Any]:
                nonlocal attempts
                attempts += 1
                return _attempt(task, source, stage, stop)

            result = call_with_retries(attempt, (), policy)
    except Exception as exc:  # every failure of this input ends up in its failure line
        if stop.is_set():
            return {"status": "aborted", "attempts": attempts, "elapsed_s": time.perf_counter() - t0,
                    "worker": _worker_id()}
        return dict(_failure(exc, stage, attempts, classifier, time.perf_counter() - t0), worker=_worker_id())
    result.update(status="ok", attempts=attempts, elapsed_s=time.perf_counter() - t0, worker=_worker_id())
    return result


def _worker_id() -> str:
    """``host:pid:thread`` of the worker that ran an input."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


_KEPT = threading.local()  # .entry: (key, pipeline, StopHook) of the last input this thread ran


def _kept_pipeline(task: Dict[str, Any], stop: StopCheck) -> Any:
    """This worker thread's pipeline for the task's manifest and impl: built once, then reused for the
    next inputs of the batch (as a service reuses one pipeline for every request; nodes are initialized
    and cleaned up around every run either way). A failed attempt drops it (:func:`_drop_kept`)."""
    key = (task.get("manifest_hash") or manifest_hash(task["manifest"]), task.get("impl"), task.get("fuse"),
           tuple(task.get("plugins") or ()))
    kept = getattr(_KEPT, "entry", None)
    if kept is not None and kept[0] == key:
        kept[2].check = stop
        return kept[1]
    _drop_kept()
    for module in task.get("plugins") or ():
        importlib.import_module(module)
    hook = StopHook(stop)
    pipeline = build_pipeline(with_impl(task["manifest"], task.get("impl")), hooks=[hook], fuse=task.get("fuse"))
    _KEPT.entry = (key, pipeline, hook)
    return pipeline


def _drop_kept() -> None:
    kept = getattr(_KEPT, "entry", None)
    _KEPT.entry = None
    if kept is not None:
        kept[1].close()


def _attempt(task: Dict[str, Any], source: "_InputFile", stage: Stage, stop: StopCheck) -> Dict[str, Any]:
    """One attempt: build (or reuse) the pipeline, download or check the input, run, publish."""
    stop.raise_if_set()
    stage.name = "build"
    pipeline = _kept_pipeline(task, stop)
    try:
        local = source.local_path(stage)
        stage.name = "io"
        with staged_folder(task["out_root"], task["key"]) as staging:
            audio_s, metrics = process_file(pipeline, local, staging, stage)
            stop.raise_if_set()  # nothing is published once the batch is stopping
            stage.name = "io"
            names = sorted(os.listdir(staging))
    except BaseException:
        _drop_kept()  # whatever state the failure left, the next attempt starts from a fresh pipeline
        raise
    return {"outputs": [f"{task['key']}/{n}" for n in names], "audio_s": audio_s,
            "node_time_us": {nid: float(d["wall_us"]) for nid, d in metrics["nodes"].items()},
            "metrics": metrics,
            "impl": {n.id: protocol.implementation(n) for n in pipeline.nodes if protocol.runs_kernel(n)}}


def _failure(exc: BaseException, stage: Stage, attempts: int, classifier: ErrorClassifier,
             elapsed_s: float) -> Dict[str, Any]:
    node = next((e for e in _chain(exc) if isinstance(e, NodeError)), None)
    root = exc
    if node is not None and node.__cause__ is not None:
        root = node.__cause__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = stage.name
    if where == "pipeline" and node is None and isinstance(exc, InputFileError):
        where = "read"
    elif where == "pipeline" and node is None and isinstance(exc, OSError):
        where = "io"
    return {
        "status": "failed",
        "error": message if node is not None else f"{type(root).__name__}: {message}",
        "error_type": f"{type(root).__module__}.{type(root).__qualname__}",
        "errno": next((e.errno for e in _chain(exc) if isinstance(e, OSError) and e.errno is not None), None),
        "node_id": getattr(node, "node_id", None),
        "node_type": getattr(node, "node_type", None),
        "node_attempts": getattr(node, "attempt", None),
        "stage": where,
        "attempts": attempts,
        "transient": classifier.is_transient(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:],
        "elapsed_s": elapsed_s,
    }


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


# ---------------------------------------------------------------- inputs
def _download_name(url: str) -> str:
    """The local file name of a downloaded URL: ``input`` plus the URL path's extension when it is a plain one.

    Never the URL's own file name, which may be too long for the file system, ``..``, or full of
    odd characters; only the extension is kept, for readers that go by it.
    """
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    ext = os.path.splitext(path.rstrip("/").rsplit("/", 1)[-1])[1]
    return "input" + (ext.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", ext) else "")


class _InputFile:
    """An input as a local file, for every attempt on it: the path itself, or a URL downloaded once
    into a temporary folder (a broken download is resumed by the next attempt)."""

    def __init__(self, source: str, timeout_s: float) -> None:
        from remotemedia.batch.inputs import is_url

        self.source = source
        self.timeout_s = timeout_s
        self.is_url = is_url(source)
        self.tmpdir: Optional[str] = None
        self.fetcher: Any = None
        self.downloaded: Optional[str] = None

    def local_path(self, stage: Stage) -> str:
        """The local file (downloading it on first use)."""
        if not self.is_url:
            stage.name = "read"
            if not os.path.exists(self.source):
                raise InputFileError("no such file", path=self.source)
            return self.source
        if self.downloaded is None:
            from remotemedia.io.http import HttpFetcher

            stage.name = "download"
            if self.tmpdir is None:
                self.tmpdir = tempfile.mkdtemp(prefix="remotemedia-download-")
                self.fetcher = HttpFetcher(self.timeout_s)
            path = os.path.join(self.tmpdir, _download_name(self.source))
            self.fetcher.fetch_to_file(self.source, path)
            self.downloaded = path
        return self.downloaded

    def __enter__(self) -> "_InputFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def file_identity(source: str) -> Tuple[Optional[int], Optional[int]]:
    """``(size in bytes, mtime in ns)`` of a local input, ``(None, None)`` for a URL."""
    from remotemedia.batch.inputs import is_url

    if is_url(source):
        return None, None
    st = os.stat(source)
    return st.st_size, st.st_mtime_ns

