"""``export(out_dir, formats)``: the exporters over one output folder, with every option checked first."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from remotemedia.errors import ConfigurationError, ExportError

#: The export formats, in the order they are written.
FORMATS = ("hf", "nemo", "lhotse")
#: The folder under OUTDIR that receives ``hf/``, ``nemo/`` and ``lhotse/`` by default.
EXPORT_DIR_NAME = "remotemedia-export"
#: The split used by ``split=True``.
DEFAULT_SPLIT = (("train", 0.8), ("validation", 0.1), ("test", 0.1))


def parse_formats(formats: Union[str, Sequence[str]]) -> List[str]:
    """``"hf,nemo"`` or ``["hf", "nemo"]`` -> a checked list in :data:`FORMATS` order.

    Raises:
        ConfigurationError: an unknown or empty format list.
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    names = [str(f).strip().lower() for f in items if str(f).strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ConfigurationError(f"export format: expected a comma-separated list of {', '.join(FORMATS)}, given "
                                 f"{formats!r}", parameter="format", expected=",".join(FORMATS), given=formats)
    return [f for f in FORMATS if f in names]


def parse_split(split: Union[None, bool, str, Sequence[Tuple[str, float]]]) -> Optional[List[Tuple[str, float]]]:
    """The split fractions: None/False = no split; True = 0.8/0.1/0.1; ``"train=0.9,test=0.1"``; or pairs.

    Raises:
        ConfigurationError: unknown split names, fractions outside (0, 1] or not summing to 1.
    """
    from remotemedia.export.hf import SPLIT_NAMES

    if split is None or split is False:
        return None
    if split is True:
        return list(DEFAULT_SPLIT)
    pairs: List[Tuple[str, float]] = []
    try:
        if isinstance(split, str):
            for part in split.split(","):
                name, _, value = part.partition("=")
                pairs.append((name.strip(), float(value)))
        else:
            pairs = [(str(n), float(f)) for n, f in split]
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"split: expected NAME=FRACTION,... (e.g. train=0.8,validation=0.1,test=0.1), "
                                 f"given {split!r}", parameter="split", given=split) from exc
    names = [n for n, _ in pairs]
    bad = [n for n in names if n not in SPLIT_NAMES] + [n for n in names if names.count(n) > 1][:1]
    if bad or not pairs or any(not 0 < f <= 1 for _, f in pairs) or abs(sum(f for _, f in pairs) - 1) > 1e-9:
        raise ConfigurationError(f"split: expected distinct names from {', '.join(SPLIT_NAMES)} with fractions in "
                                 f"(0, 1] summing to 1, given {split!r}", parameter="split",
                                 expected="train=0.8,validation=0.1,test=0.1", given=split)
    return [(n, f) for n in SPLIT_NAMES for m, f in pairs if m == n]


def export(out_dir: Any, formats: Union[str, Sequence[str]] = FORMATS, *, export_dir: Any = None,
           split: Union[None, bool, str, Sequence[Tuple[str, float]]] = None, split_by: str = "recording",
           nemo_paths: str = "relative", no_audio: bool = False) -> Dict[str, Dict[str, Any]]:
    """Exports an output folder's segments in several formats.

    Args:
        out_dir: a ``remotemedia run`` output folder (only inputs whose last
            outcome in its ledger is ok are exported), or any folder holding
            SegmentWriter output (every ``*segments.jsonl`` under it).
        formats: ``"hf"``, ``"nemo"``, ``"lhotse"`` (a list or a comma-separated string).
        export_dir: where ``hf/``, ``nemo/`` and ``lhotse/`` go; default ``out_dir/remotemedia-export``.
        split: hf only: train/validation/test fractions (see :func:`parse_split`).
        split_by: ``"recording"`` (default) or ``"folder"``: what a split
            keeps together (a recording's segments, or every recording of one
            input folder, e.g. a speaker's).
        nemo_paths: ``"relative"`` (to the manifest's folder) or ``"absolute"``.
        no_audio: nemo and lhotse point into the source recordings (offsets
            and durations in the source's samples), not at segment files;
            hf cannot (it needs files).

    Returns:
        format -> what its exporter returned (paths, counts, durations).

    Raises:
        ConfigurationError: a bad option (before anything is written).
        ExportError: the folder's records cannot be exported (nothing of that
            format is published; formats before it may be).
    """
    from remotemedia.export.hf import export_hf
    from remotemedia.export.lhotse import export_lhotse
    from remotemedia.export.nemo import export_nemo
    from remotemedia.export.record import collect_segments

    names = parse_formats(formats)
    splits = parse_split(split)
    if split_by not in ("recording", "folder"):
        raise ConfigurationError(f"split_by: expected 'recording' or 'folder', given {split_by!r}",
                                 parameter="split_by", expected="recording|folder", given=split_by)
    if nemo_paths not in ("relative", "absolute"):
        raise ConfigurationError(f"nemo_paths: expected 'relative' or 'absolute', given {nemo_paths!r}",
                                 parameter="nemo_paths", expected="relative|absolute", given=nemo_paths)
    if no_audio and "hf" in names:
        raise ConfigurationError("the hf format needs segment files: it cannot be written with no_audio (--no-audio)",
                                 parameter="no_audio", expected="formats nemo, lhotse", given=",".join(names))
    if splits is not None and "hf" not in names:
        raise ConfigurationError("split applies to the hf format only", parameter="split", given=split)
    root = os.path.abspath(os.fspath(out_dir))
    target = os.path.abspath(os.fspath(export_dir)) if export_dir is not None else os.path.join(root, EXPORT_DIR_NAME)
    skip = (os.path.relpath(target, root).split(os.sep)[0],) if _inside(target, root) else ()
    entries = collect_segments(root, need_audio=not no_audio, need_source=no_audio, split_by=split_by, skip=skip)
    if not entries:
        raise ExportError("no segments to export: no segment index (*segments.jsonl) with a segment, of an input "
                          "whose last outcome is ok", path=root)
    for e in entries:
        if e.audio_path is not None and _inside(e.audio_path, target):
            raise ExportError(f"the export folder {target} holds the outputs of input {e.recording_id!r}; "
                              "choose another export folder", path=target)
    written: Dict[str, Dict[str, Any]] = {}
    for name in names:
        folder = os.path.join(target, name)
        if name == "hf":
            written[name] = export_hf(entries, folder, splits=splits)
        elif name == "nemo":
            written[name] = export_nemo(entries, folder, paths=nemo_paths, no_audio=no_audio)
        else:
            written[name] = export_lhotse(entries, folder, no_audio=no_audio)
    return written


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
