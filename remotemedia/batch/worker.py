"""What runs in a batch worker: one input, from a manifest, to a published output folder.

:func:`run_task` is a module-level function taking and returning plain dicts,
so any :class:`concurrent.futures.Executor` can run it: threads, processes, a
Dask cluster. The task holds the manifest (a JSON dict), the input (path or
URL) and the output folder, never live objects; the worker builds its own
pipeline, so each worker resolves native or numpy itself.

Outputs are published atomically: they are written into a hidden staging
folder beside the final one (``.NAME.partial-XXXX``), fsynced, and the
staging folder is renamed to the final name. A reader therefore sees either
no output folder or a complete one, never a truncated file, even after a
kill; leftovers of killed runs are swept by the coordinator
(:func:`sweep_leftovers`).
"""

from __future__ import annotations

import copy
import importlib
import os
import re
import shutil
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Tuple

from remotemedia.errors import ConfigurationError, InputFileError, NodeError

#: Hidden names of staging and replaced folders (see the module doc).
_LEFTOVER = re.compile(r"^\..+\.(partial|old)-[A-Za-z0-9_]+$")
#: OSErrors that retrying cannot fix.
_PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


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
        if cls is not None and getattr(cls, "kernel_family", None) is not None:
            spec["runtime_hint"] = impl
    return out


def build_pipeline(manifest: Dict[str, Any]) -> Any:
    """A fresh pipeline from a manifest dict, with per-node timing on.

    Peak memory per node is recorded with the native module's allocation
    counters when they are installed; without them it is not recorded in
    batch runs, since tracemalloc (the only other way) slows every allocation
    of the process several-fold (the numpy VAD about 50x) and batch runs are
    about throughput.
    """
    from remotemedia import _native
    from remotemedia.pipeline import Pipeline

    mod = _native.module()
    memory = "auto" if mod is not None and hasattr(mod, "numpy_memory_install") else "off"
    return Pipeline.from_manifest(manifest, enable_metrics=True, keep_results=False, metrics_memory=memory)


def run_task(task: Dict[str, Any]) -> Dict[str, Any]:
    """Processes one input of a batch (runs in a worker; never raises for a failing input).

    Args:
        task: ``{"manifest": dict, "input": path or URL, "out_root": OUTDIR,
            "key": output folder relative to OUTDIR, "impl": None|"auto"|"native"|"python",
            "max_attempts": int, "retry_delay_s": float, "timeout_s": float,
            "plugins": [module names to import first]}``.

    Returns:
        ``{"status": "ok", "outputs": [paths relative to OUTDIR], "audio_s",
        "elapsed_s", "attempts", "node_time_us": {node id: us}, "metrics",
        "impl": {node id: implementation}}`` or ``{"status": "failed", "error",
        "error_type", "node_id", "node_type", "stage", "attempts", "traceback",
        "elapsed_s"}``.
    """
    t0 = time.perf_counter()
    max_attempts = max(1, int(task.get("max_attempts", 1)))
    delay_s = float(task.get("retry_delay_s", 0.1))
    attempt = 0
    while True:
        attempt += 1
        try:
            result = _attempt(task)
        except Exception as exc:  # every failure of this input ends up in its failure line
            if attempt < max_attempts and is_transient(exc):
                time.sleep(delay_s * (2 ** (attempt - 1)))
                continue
            return dict(_failure(exc, attempt, time.perf_counter() - t0), worker=_worker_id())
        result.update(status="ok", attempts=attempt, elapsed_s=time.perf_counter() - t0, worker=_worker_id())
        return result


def _worker_id() -> str:
    """``host:pid:thread`` of the worker that ran an input."""
    import socket
    import threading

    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def _attempt(task: Dict[str, Any]) -> Dict[str, Any]:
    for module in task.get("plugins") or ():
        importlib.import_module(module)
    try:
        pipeline = build_pipeline(with_impl(task["manifest"], task.get("impl")))
    except Exception as exc:
        exc._rm_stage = "build"  # type: ignore[attr-defined]
        raise
    source = task["input"]
    with _local_copy(source, float(task.get("timeout_s", 60.0))) as local, \
            staged_folder(task["out_root"], task["key"]) as staging:
        audio_s = _stage("read", audio_duration_s_of, local)
        try:
            _stage("pipeline", _process, pipeline, local, staging)
        finally:
            pipeline.close()
        names = sorted(os.listdir(staging))
    metrics = pipeline.get_metrics()
    metrics = metrics.to_dict() if hasattr(metrics, "to_dict") else metrics
    node_us = {}
    try:
        node_us = {nid: float(d["wall_us"] if "wall_us" in d else d["total_us"]) for nid, d in metrics["nodes"].items()}
    except (KeyError, TypeError, AttributeError, ValueError):
        pass
    impls = {n.id: n.impl for n in pipeline.nodes if hasattr(n, "impl")}
    return {"outputs": [f"{task['key']}/{n}" for n in names], "audio_s": audio_s, "node_time_us": node_us,
            "metrics": metrics, "impl": impls}


def _process(pipeline: Any, local: str, staging: str) -> None:
    from remotemedia.batch.adapter import process_file

    process_file(pipeline, local, staging)


def audio_duration_s_of(path: str) -> Optional[float]:
    from remotemedia.batch.adapter import audio_duration_s

    return audio_duration_s(path)


def _stage(stage: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        if not hasattr(exc, "_rm_stage"):
            exc._rm_stage = stage  # type: ignore[attr-defined]
        raise


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the input may help: an I/O error (not a missing file or
    a permission problem), a timeout or a dropped connection, anywhere in the
    chain of causes, or an HTTP 408/429/5xx answer."""
    seen = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, urllib.error.HTTPError):
            return e.code in (408, 429) or e.code >= 500
        if isinstance(e, (TimeoutError, ConnectionError)):
            return True
        if isinstance(e, OSError) and not isinstance(e, _PERMANENT_OS_ERRORS):
            return True
        e = e.__cause__ or e.__context__
    return False


def _failure(exc: BaseException, attempts: int, elapsed_s: float) -> Dict[str, Any]:
    node = next((e for e in _chain(exc) if isinstance(e, NodeError)), None)
    root = exc
    if node is not None and node.__cause__ is not None:
        root = node.__cause__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    stage = getattr(exc, "_rm_stage", "pipeline")
    if stage == "pipeline" and node is None and isinstance(exc, InputFileError):
        stage = "read"
    elif stage == "pipeline" and node is None and isinstance(exc, OSError):
        stage = "io"
    return {
        "status": "failed",
        "error": message if node is not None else f"{type(root).__name__}: {message}",
        "error_type": f"{type(root).__module__}.{type(root).__qualname__}",
        "node_id": getattr(node, "node_id", None),
        "node_type": getattr(node, "node_type", None),
        "node_attempts": getattr(node, "attempt", None),
        "stage": stage,
        "attempts": attempts,
        "transient": is_transient(exc),
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


# ------------------------------------------------------------ publishing
def safe_join(root: str, key: str) -> str:
    """``root/key``, refusing any key that would land outside ``root`` (after symlinks)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or os.path.isabs(key):
        raise ConfigurationError(f"output key {key!r} is not a safe relative path", parameter="key", given=key)
    path = os.path.join(root, *parts)
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(os.path.dirname(path))
    if not (real_parent == real_root or real_parent.startswith(real_root.rstrip(os.sep) + os.sep)):
        raise ConfigurationError(f"output key {key!r} escapes {root!r}", parameter="key", given=key)
    return path


class staged_folder:
    """Context manager: a staging folder beside ``root/key``, published by rename on success.

    On an exception the staging folder is removed and any earlier output is
    left as it was.
    """

    def __init__(self, root: str, key: str) -> None:
        self.final = safe_join(root, key)
        self.parent = os.path.dirname(self.final)
        self.name = os.path.basename(self.final)
        self.staging: Optional[str] = None

    def __enter__(self) -> str:
        os.makedirs(self.parent, exist_ok=True)
        self.staging = tempfile.mkdtemp(prefix=f".{self.name}.partial-", dir=self.parent)
        from remotemedia.io.atomic import plain_mode

        os.chmod(self.staging, plain_mode(directory=True))  # published as is: the user's usual permissions
        return self.staging

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.staging is not None
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        try:
            _fsync_dir(self.staging)
            old = None
            if os.path.lexists(self.final):
                old = tempfile.mkdtemp(prefix=f".{self.name}.old-", dir=self.parent)
                os.rename(self.final, os.path.join(old, "x"))
            os.rename(self.staging, self.final)
            _fsync_dir(self.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_leftovers(root: str) -> int:
    """Removes staging and replaced folders left under ``root`` by a killed run; returns how many."""
    removed = 0
    for dirpath, dirnames, _ in os.walk(root):
        keep = []
        for d in dirnames:
            if _LEFTOVER.match(d):
                shutil.rmtree(os.path.join(dirpath, d), ignore_errors=True)
                removed += 1
            else:
                keep.append(d)
        dirnames[:] = keep
    return removed


# ---------------------------------------------------------------- inputs
def _download_name(url: str) -> str:
    """The local file name of a downloaded URL: ``input`` plus the URL path's extension when it is a plain one.

    Never the URL's own file name, which may be too long for the file system, ``..``, or full of
    odd characters; only the extension is kept, for readers that go by it.
    """
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    ext = os.path.splitext(path.rstrip("/").rsplit("/", 1)[-1])[1]
    return "input" + (ext.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", ext) else "")


class _local_copy:
    """A local path for an input: the path itself, or a downloaded temporary copy of a URL."""

    def __init__(self, source: str, timeout_s: float) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self.tmpdir: Optional[str] = None

    def __enter__(self) -> str:
        from remotemedia.batch.inputs import is_url

        if not is_url(self.source):
            if not os.path.exists(self.source):
                err = InputFileError("no such file", path=self.source)
                err._rm_stage = "read"  # type: ignore[attr-defined]
                raise err
            return self.source
        self.tmpdir = tempfile.mkdtemp(prefix="remotemedia-download-")
        path = os.path.join(self.tmpdir, _download_name(self.source))
        try:
            with urllib.request.urlopen(self.source, timeout=self.timeout_s) as resp, open(path, "wb") as fh:
                shutil.copyfileobj(resp, fh, 1 << 20)
        except Exception as exc:
            exc._rm_stage = "download"  # type: ignore[attr-defined]
            self.__exit__(None, None, None)
            raise
        return path

    def __exit__(self, *exc: Any) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def outputs_exist(root: str, outputs: List[str]) -> bool:
    """Whether every output path (relative to ``root``) is present."""
    return all(os.path.exists(os.path.join(root, *o.split("/"))) for o in outputs)


def file_identity(source: str) -> Tuple[Optional[int], Optional[int]]:
    """``(size in bytes, mtime in ns)`` of a local input, ``(None, None)`` for a URL."""
    from remotemedia.batch.inputs import is_url

    if is_url(source):
        return None, None
    st = os.stat(source)
    return st.st_size, st.st_mtime_ns
