"""Finding a batch's inputs and naming their outputs.

Inputs are files, directories (searched recursively for audio extensions),
glob patterns (``**`` allowed) and http(s) URLs. Discovery is deterministic:
the specs in the order given, each expanded in sorted order, duplicates (the
same real path or URL) kept once.

Each input gets an output *key*: a relative POSIX path under OUTDIR that
names its output folder. Keys come from the input's path relative to the
directory or glob root it was found under (a plain file or URL: its base
name), without the extension, each component reduced to safe characters.
A key never escapes OUTDIR (no ``..``, no absolute path, no leading dot),
never equals another key up to case, never is a folder of another key, and
never shadows the ledger; a key that would clashes gets a hash suffix.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Set, Tuple

from remotemedia.errors import ConfigurationError

#: File extensions a directory or glob is searched for (lower case): WAV (standard library), what
#: libsndfile reads (soundfile, the ``audio`` extra) and what FFmpeg decodes (PyAV, the ``media``
#: extra), including the audio track of videos. An input the installed readers cannot decode fails
#: on its own, with an error naming the extra that would.
AUDIO_EXTENSIONS: Tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".m4b", ".aac",
                                     ".aif", ".aiff", ".caf", ".wma", ".mp4", ".m4v", ".mov", ".mkv", ".mka",
                                     ".webm")

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_MAX_COMPONENT = 100


@dataclass(frozen=True)
class InputItem:
    """One input of a batch.

    Attributes:
        source: an absolute file path, or an http(s) URL.
        key: the output folder of this input, relative to OUTDIR (POSIX separators).
    """

    source: str
    key: str

    @property
    def is_url(self) -> bool:
        return is_url(self.source)


def is_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL."""
    return text[:8].lower().startswith(("http://", "https://"))


def discover_inputs(specs: Iterable[str], *, extensions: Sequence[str] = AUDIO_EXTENSIONS,
                    exclude: Sequence[str] = (), reserved: Iterable[str] = ()) -> List[InputItem]:
    """Expands input specs into a deterministic list of inputs with unique output keys.

    Args:
        specs: file paths, directories, glob patterns or http(s) URLs.
        extensions: file extensions searched for in directories and globs
            (case-insensitive, with the dot). Files named explicitly are taken
            whatever their extension.
        exclude: directories whose contents are never inputs (the output folder).
        reserved: top-level names under OUTDIR that no key may take (the ledger).

    Returns:
        The inputs, in spec order, each spec's matches sorted.

    Raises:
        ConfigurationError: a spec names nothing that exists (a missing file,
            a glob without a match).
    """
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    excluded = [os.path.realpath(d) for d in exclude]
    found: List[Tuple[str, str]] = []  # (source, path relative to its root, POSIX)
    seen: Set[str] = set()

    def add(source: str, rel: str) -> None:
        ident = source if is_url(source) else os.path.realpath(source)
        if ident in seen:
            return
        if not is_url(source) and any(_inside(ident, d) for d in excluded):
            return
        seen.add(ident)
        found.append((source, rel))

    for spec in specs:
        spec = os.fspath(spec)
        if is_url(spec):
            add(spec, _url_name(spec))
        elif os.path.isdir(spec):
            for path, rel in _walk(spec, exts, excluded):
                add(path, rel)
        elif os.path.exists(spec):
            add(os.path.abspath(spec), os.path.basename(spec))
        elif glob.has_magic(spec):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                raise ConfigurationError(f"no file matches {spec!r}", parameter="inputs", expected="a matching file",
                                         given=spec)
            root = _glob_root(spec)
            for match in matches:
                if os.path.isdir(match):
                    for path, rel in _walk(match, exts, excluded):
                        add(path, _rel(os.path.join(match, rel), root))
                elif os.path.splitext(match)[1].lower() in exts:
                    add(os.path.abspath(match), _rel(match, root))
        else:
            raise ConfigurationError(f"input not found: {spec!r}", parameter="inputs",
                                     expected="an existing file or directory, a glob or an http(s) URL", given=spec)
    return assign_keys(found, reserved=reserved)


def assign_keys(found: Sequence[Tuple[str, str]], *, reserved: Iterable[str] = ()) -> List[InputItem]:
    """Turns ``(source, relative path)`` pairs into inputs with safe, unique keys (see the module doc)."""
    keys = [safe_key(rel) for _, rel in found]
    folders = {k.casefold().rsplit("/", i)[0] for k in keys for i in range(1, k.count("/") + 1)}
    taken = {r.casefold() for r in reserved}
    items = []
    for (source, _), key in zip(found, keys):
        if key.casefold() in taken or key.casefold() in folders:
            base = f"{key}-{hashlib.sha256(source.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
            key, n = base, 1
            while key.casefold() in taken or key.casefold() in folders:
                n += 1
                key = f"{base}-{n}"
        taken.add(key.casefold())
        items.append(InputItem(source, key))
    return items


def safe_key(rel: str) -> str:
    """A relative path reduced to a safe output key: no extension, safe characters, no ``..``."""
    parts = [p for p in re.split(r"[/\\]+", rel) if p not in ("", ".", "..")]
    if parts:
        stem, ext = os.path.splitext(parts[-1])
        parts[-1] = stem if stem and ext else parts[-1]
    clean = [_safe_component(p) for p in parts]
    return "/".join(clean) if clean else "_"


def _safe_component(part: str) -> str:
    part = _UNSAFE.sub("_", part).strip(". ")
    part = part[:_MAX_COMPONENT].rstrip(". ") or "_"
    if part.split(".")[0].casefold() in _WINDOWS_RESERVED:
        part = "_" + part
    return part


def _walk(root: str, exts: Tuple[str, ...], excluded: List[str]) -> List[Tuple[str, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not any(_inside(os.path.realpath(os.path.join(dirpath, d)), e)
                                                            for e in excluded))
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in exts:
                path = os.path.abspath(os.path.join(dirpath, name))
                out.append((path, _rel(path, root)))
    return out


def _rel(path: str, root: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")


def _glob_root(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    head: List[str] = []
    for part in re.split(r"([/\\])", pattern):
        if glob.has_magic(part):
            break
        head.append(part)
    root = "".join(head)
    if not root.endswith(("/", "\\")):
        root = os.path.dirname(root)
    return root or "."


def _url_name(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    name = urllib.parse.unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return name or (parts.hostname or "download").replace(".", "_")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
