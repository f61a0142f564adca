"""Command-line glue: ``remotemedia export`` and the export / segment options of ``remotemedia run``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional

#: ``remotemedia run`` options that set SegmentWriter parameters: option dest -> parameter.
SEGMENT_OPTIONS = {"segment_container": "container", "sample_format": "sample_format",
                   "min_duration_s": "min_duration_s", "max_duration_s": "max_duration_s",
                   "merge_max_s": "merge_max_s", "merge_gap_s": "merge_gap_s", "pad_s": "pad_s"}


def add_export_options(p: argparse.ArgumentParser, *, in_run: bool) -> None:
    """The options shared by ``export`` and ``run --export``."""
    g = p.add_argument_group("export" if in_run else "export options")
    if in_run:
        g.add_argument("--export", metavar="FORMATS", help="after the batch, export the ok inputs' segments: "
                                                           "a comma-separated list of hf, nemo, lhotse")
    g.add_argument("--export-dir", metavar="DIR", help="where hf/, nemo/, lhotse/ go (default: "
                                                      "OUTDIR/remotemedia-export)")
    g.add_argument("--split", nargs="?", const="train=0.8,validation=0.1,test=0.1", metavar="SPEC",
                   help="hf: train/validation/test split by a stable hash of each recording (or folder); "
                        "SPEC like train=0.9,test=0.1 (default 0.8/0.1/0.1)")
    g.add_argument("--split-by", choices=("recording", "folder"), default="recording",
                   help="what a split keeps together: a recording's segments (default) or every recording of "
                        "an input folder (e.g. one speaker's)")
    g.add_argument("--nemo-paths", choices=("relative", "absolute"), default="relative",
                   help="NeMo audio_filepath relative to the manifest's folder (default) or absolute")
    g.add_argument("--no-audio", action="store_true",
                   help="nemo/lhotse point into the source recordings (offsets in source samples) instead of "
                        "segment files" + ("; SegmentWriter then writes only its index" if in_run else ""))


def add_segment_options(p: argparse.ArgumentParser) -> None:
    """``remotemedia run`` options that set every SegmentWriter's output parameters."""
    g = p.add_argument_group("segment output (sets these parameters of every SegmentWriter in the manifest)")
    g.add_argument("--segment-container", choices=("wav", "flac"), help="segment files as WAV or FLAC (soundfile)")
    g.add_argument("--sample-format", choices=("i16", "i32"), help="segment sample format (FLAC: i32 = 24 bit)")
    g.add_argument("--min-duration-s", type=float, metavar="S", help="drop segments shorter than S seconds")
    g.add_argument("--max-duration-s", type=float, metavar="S", help="drop segments longer than S seconds")
    g.add_argument("--merge-max-s", type=float, metavar="S",
                   help="merge neighbouring segments while the merged span stays at most S seconds")
    g.add_argument("--merge-gap-s", type=float, metavar="S", help="merge only over pauses of at most S seconds")
    g.add_argument("--pad-s", type=float, metavar="S", help="add S seconds of audio at both ends of each segment")


def segment_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """SegmentWriter parameters given on the ``run`` command line (``--no-audio`` = ``write_audio=False``)."""
    out = {param: getattr(args, dest) for dest, param in SEGMENT_OPTIONS.items()
           if getattr(args, dest, None) is not None}
    if getattr(args, "no_audio", False):
        out["write_audio"] = False
    return out


def with_segment_options(manifest: Any, overrides: Dict[str, Any]) -> Any:
    """The manifest with ``overrides`` set in every SegmentWriter's params (unchanged when there are none).

    Raises:
        ConfigurationError: options given for a manifest without a SegmentWriter.
    """
    if not overrides:
        return manifest
    import copy

    from remotemedia.errors import ConfigurationError
    from remotemedia.manifest import load_manifest

    data = copy.deepcopy(load_manifest(manifest))
    writers = [n for n in data.get("nodes", []) if isinstance(n, dict) and n.get("node_type") == "SegmentWriter"]
    if not writers:
        names = ", ".join(f"--{k.replace('_', '-')}" if k != "write_audio" else "--no-audio" for k in overrides)
        raise ConfigurationError(f"{names}: the manifest has no SegmentWriter node to apply them to",
                                 parameter=next(iter(overrides)), expected="a manifest with a SegmentWriter")
    for node in writers:
        node["params"] = {**(node.get("params") or {}), **overrides}
    return data


def check_run_exports(args: argparse.Namespace) -> Optional[list]:
    """Checks ``run``'s export options before the batch starts; returns the formats (None: no export)."""
    from remotemedia.errors import ConfigurationError
    from remotemedia.export.api import parse_formats, parse_split

    if args.export is None:
        given = [o for o, v in (("--split", args.split), ("--export-dir", args.export_dir)) if v is not None]
        if given:
            raise ConfigurationError(f"{given[0]} needs --export", parameter=given[0], expected="--export FORMATS")
        return None
    formats = parse_formats(args.export)
    parse_split(args.split)
    if args.no_audio and "hf" in formats:
        raise ConfigurationError("--export hf needs segment files: it cannot be combined with --no-audio",
                                 parameter="no_audio", expected="--export nemo,lhotse", given=args.export)
    if args.split is not None and "hf" not in formats:
        raise ConfigurationError("--split applies to --export hf only", parameter="split", given=args.split)
    return formats


def run_exports(report: Any, formats: list, args: argparse.Namespace) -> None:
    """Exports after a batch (its ledger's ok inputs) and prints what was written."""
    from remotemedia.export.api import export

    out_dir = report.out_dir
    if report.ok + report.skipped == 0:
        print(f"remotemedia: note: no input succeeded: nothing exported from {out_dir}", file=sys.stderr)
        return

    written = export(out_dir, formats, export_dir=args.export_dir, split=args.split, split_by=args.split_by,
                     nemo_paths=args.nemo_paths, no_audio=args.no_audio)
    if not getattr(args, "quiet", False):
        print_exports(written)


def print_exports(written: Dict[str, Dict[str, Any]]) -> None:
    for name, info in written.items():
        if name == "hf":
            parts = ", ".join(f"{k} {v['segments']} ({v['duration_s'] / 3600:.3f} h)" for k, v in
                              info["splits"].items())
            print(f"export hf: {info['path']} ({parts})")
        else:
            count = info.get("segments", info.get("cuts"))
            print(f"export {name}: {info['path']} ({count} segments, {info['duration_s'] / 3600:.3f} h)")
    sys.stdout.flush()


def cmd_export(args: argparse.Namespace) -> int:
    """``remotemedia export OUTDIR --format ...``."""
    from remotemedia.export.api import export

    written = export(args.outdir, args.format, export_dir=args.export_dir, split=args.split,
                     split_by=args.split_by, nemo_paths=args.nemo_paths, no_audio=args.no_audio)
    if not args.quiet:
        print_exports(written)
    return 0


def add_export_command(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common], help="export an output folder's segments for a trainer "
                                                        "(Hugging Face audio folder, NeMo, lhotse)",
                       description="Writes training manifests from OUTDIR's segment index files: hf (an audio "
                                   "folder for datasets.load_dataset('audiofolder')), nemo (manifest.jsonl), "
                                   "lhotse (recordings/supervisions/cuts .jsonl.gz). With a batch ledger, only "
                                   "inputs whose last outcome is ok are exported. Files are written atomically "
                                   "and deterministically (re-running gives the same bytes).")
    p.add_argument("outdir", metavar="OUTDIR", help="a 'remotemedia run' output folder (or any SegmentWriter "
                                                    "output folder)")
    p.add_argument("--format", required=True, metavar="FORMATS", help="comma-separated: hf, nemo, lhotse")
    add_export_options(p, in_run=False)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_export)
