"""Atomic file output: write to a temporary file next to the target, then rename.

A reader never sees a partial file under the final name: the data goes to a
hidden temporary file in the target's folder (same file system, so the rename
is atomic), is flushed and ``fsync``-ed, renamed over the final name with
``os.replace``, and the folder is ``fsync``-ed so the rename itself survives a
crash. An interrupted or failed write removes its temporary file (a killed
process may leave a ``.<name>.<random>.part`` file behind, never a truncated
file under the final name).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import IO, Any, Iterator, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic (briefly racy) read
    os.umask(mask)
    return mask


def plain_mode(*, directory: bool = False) -> int:
    """The permissions ``open()``/``mkdir()`` would give (0o666/0o777 minus the umask).

    ``tempfile.mkstemp``/``mkdtemp`` create 0o600/0o700 entries; outputs
    published from them get these permissions, so teammates can read them as
    they could any other file the user writes.
    """
    return (0o777 if directory else 0o666) & ~current_umask()


def _random_names(prefix: str, suffix: str) -> Iterator[str]:
    for _ in range(100):
        yield f"{prefix}{secrets.token_hex(4)}{suffix}"
    raise FileExistsError(f"no free temporary name {prefix}XXXXXXXX{suffix} after 100 tries")


def create_plain_temp(directory: str, prefix: str, suffix: str = "") -> Tuple[int, str]:
    """Creates a new file with a random name in ``directory``, as ``open()`` would (0o666 minus the umask).

    Like :func:`tempfile.mkstemp` (exclusive creation, no symlink followed), but
    the kernel applies the umask itself, so nothing needs to read it (reading it
    from ``/proc`` costs about 0.1 ms a file).

    Returns:
        ``(file descriptor open for reading and writing, path)``.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    for name in _random_names(prefix, suffix):
        path = os.path.join(directory, name)
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def make_plain_temp_dir(directory: str, prefix: str) -> str:
    """Creates a new folder with a random name in ``directory``, as ``mkdir()`` would (0o777 minus the
    umask; :func:`tempfile.mkdtemp` makes 0o700); returns its path."""
    for name in _random_names(prefix, ""):
        path = os.path.join(directory, name)
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def fsync_dir(directory: PathLike) -> None:
    """``fsync`` a folder so that a rename inside it is durable (no-op where unsupported)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(os.fspath(directory), flags)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary file that becomes ``path`` on :meth:`commit`.

    Args:
        path: the final file name.
        mode: ``"wb"`` (default) or ``"w"`` (text, UTF-8).
        sync_dir: fsync the folder after the rename (default). A writer of many
            files into one folder may pass False and call :func:`fsync_dir`
            once, before it publishes whatever says the set is complete (an
            index written last): every file is still complete or absent.

    Use as a context manager (commit on success, abort on an exception) or
    call :meth:`commit` / :meth:`abort` yourself.

    Attributes:
        path: the final name (absolute).
        tmp_path: the temporary file's name.
        file: the open file object to write to.
    """

    def __init__(self, path: PathLike, mode: str = "wb", *, sync_dir: bool = True) -> None:
        if mode not in ("wb", "w"):
            raise ValueError(f"mode: expected 'wb' or 'w', given {mode!r}")
        self.path = os.path.abspath(os.fspath(path))
        directory, name = os.path.split(self.path)
        fd, self.tmp_path = create_plain_temp(directory, f".{name}.", ".part")  # published with these permissions
        try:
            self.file: IO[Any] = os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}))
        except BaseException:
            os.close(fd)
            os.unlink(self.tmp_path)
            raise
        self.done = False
        self.sync_dir = sync_dir

    def commit(self) -> str:
        """Flushes, fsyncs, renames to the final name and fsyncs the folder (unless ``sync_dir=False``);
        returns the final path."""
        if self.done:
            raise ValueError(f"{self.path}: already committed or aborted")
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self.done = True
        if self.sync_dir:
            fsync_dir(os.path.dirname(self.path))
        return self.path

    def abort(self) -> None:
        """Closes and removes the temporary file (the final name is left untouched)."""
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp_path)

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type: Optional[type], *exc: Any) -> None:
        if exc_type is None:
            if not self.done:
                self.commit()
        else:
            self.abort()


def write_atomic(path: PathLike, data: Union[bytes, str]) -> str:
    """Writes ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the final path."""
    with AtomicFile(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.file.write(data)
    return f.path
