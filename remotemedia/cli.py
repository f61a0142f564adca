"""The ``remotemedia`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List, Optional


def _cmd_info(args: argparse.Namespace) -> int:
    from remotemedia.info import info

    data = info()
    print(json.dumps(data, indent=2) if args.json else str(data))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from remotemedia.demo import run_demo
    from remotemedia.info import info

    print(info())
    print()
    result = run_demo(out_dir=args.out, workers=args.workers, report_path=args.report,
                      progress=None if not args.quiet else False, num_files=args.files)
    return 0 if result["ok"] else 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from remotemedia.errors import PipelineValidationError
    from remotemedia.manifest import load_manifest, manifest_graph, validate_manifest

    try:
        data = load_manifest(args.file)
        issues = validate_manifest(data)
    except PipelineValidationError as exc:
        issues = exc.issues
    if issues:
        print(f"{args.file}: {len(issues)} problem{'s' if len(issues) != 1 else ''}", file=sys.stderr)
        for issue in issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    graph = manifest_graph(data)
    print(f"{args.file}: OK ({len(graph.nodes)} nodes, {len(graph.edges)} connections; "
          f"order: {' -> '.join(graph.topological_order())})")
    print(_fusion_line(data))
    return 0


def _fusion_line(manifest: Any) -> str:
    """What a chunk stream of the manifest's pipeline fuses in this installation, as one line."""
    from remotemedia import _native
    from remotemedia.engine import fusion
    from remotemedia.pipeline import Pipeline

    if not fusion.available():
        return f"fused native segments: none (native kernels unavailable: {_native.STATUS.reason})"
    try:
        pipeline = Pipeline.from_manifest(manifest)
    except Exception as exc:  # noqa: BLE001 - validation passed; building may still need what is not here
        return f"fused native segments: not planned (building the pipeline failed: {exc})"
    try:
        if pipeline.fuse == "off":
            return "fused native segments: none (the manifest sets config.fuse to \"off\")"
        plan = pipeline.fusion_plan()
    finally:
        pipeline.close()
    if not plan:
        return "fused native segments: none (no run of native kernel nodes to fuse)"
    return "fused native segments: " + "; ".join(" -> ".join(segment) for segment in plan)


def _cmd_schema(args: argparse.Namespace) -> int:
    from remotemedia.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from remotemedia.batch import make_progress, run_batch
    from remotemedia.export.cli import check_run_exports, run_exports, segment_overrides, with_segment_options

    exports = check_run_exports(args)  # before anything runs
    manifest = with_segment_options(args.manifest, segment_overrides(args))
    _show_batch_notes()
    report = run_batch(manifest, args.inputs, args.out, executor=args.executor, workers=args.workers,
                       resume=args.resume, replace_stale=args.replace_stale, lock_wait_s=args.wait,
                       fail_fast=args.fail_fast, impl=args.impl, fuse="off" if args.no_fuse else None,
                       progress=make_progress(False if args.quiet else None), max_attempts=args.retries + 1,
                       extensions=args.ext or _default_extensions(), plugins=args.plugin)
    if report.total == 0:
        print("remotemedia: warning: no input files found", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    _write_exports(report, args)
    if exports:
        run_exports(report, exports, args)  # the ledger's ok inputs only
    return report.exit_code


def _show_batch_notes() -> None:
    """The batch's notes (waiting for another run, replacing stale outputs) as ``remotemedia: ...`` on stderr."""
    import logging

    logger = logging.getLogger("remotemedia.batch")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("remotemedia: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


def _resume_hint(args: argparse.Namespace, argv: List[str]) -> str:
    """How to finish an interrupted ``remotemedia run``: the same command with ``--resume``."""
    import shlex

    if getattr(args, "command", None) != "run":
        return ""
    cmd = ["remotemedia", *argv] + ([] if args.resume else ["--resume"])
    return f"remotemedia: to finish the rest: {shlex.join(cmd)}"


def _default_extensions() -> List[str]:
    from remotemedia.batch import AUDIO_EXTENSIONS

    return list(AUDIO_EXTENSIONS)


def _write_exports(report: Any, args: argparse.Namespace) -> None:
    """--metrics / --trace / --report, through :mod:`remotemedia.metrics` when this build has it."""
    wanted = [("metrics", "write_metrics_json"), ("trace", "write_chrome_trace"), ("report", "write_html_report")]
    for option, function in wanted:
        path = getattr(args, option, None)
        if not path:
            continue
        writer = _metrics_function(function)
        if writer is None:
            print(f"remotemedia: note: --{option} is not available in this build "
                  f"(remotemedia.metrics.{function} is missing); nothing written to {path}", file=sys.stderr)
            continue
        writer(path, report.file_metrics())
        if not args.quiet:
            print(f"{option}: {path}")


def _metrics_function(name: str) -> Any:
    try:
        import remotemedia.metrics as metrics  # type: ignore[import-not-found]
    except ImportError:
        return None
    return getattr(metrics, name, None)


def _cmd_nodes(args: argparse.Namespace) -> int:
    from remotemedia.nodes.describe import describe_nodes, format_nodes

    data = describe_nodes()
    print(json.dumps(data, indent=2) if args.json else format_nodes(data))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from remotemedia.bench import format_table, run_bench

    rows = run_bench(seconds=args.seconds, rounds=args.rounds)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from remotemedia._version import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, print the full traceback")
    parser = argparse.ArgumentParser(prog="remotemedia", description="Audio/ML preprocessing pipelines.",
                                     parents=[common])
    parser.add_argument("--version", action="version", version=f"remotemedia {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="show versions and which implementation each node uses", parents=[common])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("demo", parents=[common],
                       help="prepare a built-in speech corpus (a few hundred files) with the speech-prep pipeline",
                       description="Expands the built-in speech recordings into a few hundred files (8-48 kHz, "
                                   "mono/stereo, 16/32-bit, silence and noise around the speech), runs the "
                                   "speech-preparation pipeline over them as a batch, prints the summary and "
                                   "compares the native and numpy implementations on a subset.")
    p.add_argument("--out", metavar="DIR", help="keep the corpus and outputs in DIR (default: a temporary folder)")
    p.add_argument("--workers", type=int, metavar="N", help="worker threads (default: CPU cores)")
    p.add_argument("--report", metavar="FILE", help="write the HTML report to FILE (default: DIR/report.html "
                                                    "with --out)")
    p.add_argument("--files", type=int, metavar="N", help="corpus size (default: 252)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("run", parents=[common], help="run a pipeline manifest over many files",
                       description="Runs MANIFEST over every INPUT (files, directories searched recursively, "
                                   "glob patterns, http(s) URLs). Each input's outputs land atomically in "
                                   "OUTDIR/<name>/; every outcome is appended to OUTDIR/remotemedia-ledger.jsonl. "
                                   "One run at a time per OUTDIR (see --wait). Exit status 1 when any input "
                                   "failed; 2 for an error (nothing run, or a full disk); 130/143 when stopped by "
                                   "Ctrl-C/SIGTERM (--resume does the rest).")
    p.add_argument("manifest", help="pipeline manifest JSON file")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, directory, glob pattern or http(s) URL")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--workers", type=int, metavar="N", help="parallel workers (default: CPU cores)")
    p.add_argument("--executor", default="threads", metavar="threads|processes|tcp://HOST:PORT",
                   help="threads (default), processes, or the address of a Dask scheduler (needs the dask extra)")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs already done (same size, mtime and manifest) according to the ledger")
    p.add_argument("--replace-stale", action="store_true",
                   help="with --resume: redo and replace outputs made with another manifest (without it, "
                        "such outputs make the run refuse to start)")
    p.add_argument("--wait", nargs="?", type=float, const=None, default=0.0, metavar="SECONDS",
                   help="when another run is using OUTDIR, wait for it to finish (at most SECONDS; default: "
                        "as long as it takes) instead of failing at once")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed input")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="retries of an input after a transient (I/O, network) failure (default 2)")
    p.add_argument("--impl", choices=("auto", "native", "python"), default="auto",
                   help="kernel implementation for this run (REMOTEMEDIA_IMPL semantics)")
    p.add_argument("--no-fuse", action="store_true",
                   help="run every node on its own instead of fusing runs of native kernel nodes into one native "
                        "call per chunk (the outputs are the same; for comparing timings or isolating a problem)")
    p.add_argument("--metrics", metavar="FILE", help="write per-node metrics as JSON")
    p.add_argument("--trace", metavar="FILE", help="write a Chrome trace (chrome://tracing, Perfetto)")
    p.add_argument("--report", metavar="FILE", help="write an HTML report")
    p.add_argument("--ext", action="append", metavar=".EXT",
                   help="extension searched for in directories and globs (repeatable; default .wav)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first, in every worker too (e.g. to register custom node types)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    _export_cli().add_segment_options(p)
    _export_cli().add_export_options(p, in_run=True)
    p.set_defaults(func=_cmd_run)
    _export_cli().add_export_command(sub, common)
    p = sub.add_parser("nodes", parents=[common],
                       help="list every node type: parameters, defaults, ports, implementation")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_nodes)
    p = sub.add_parser("bench", parents=[common], help="quick benchmark: native vs numpy vs outside libraries",
                       description="Times each kernel in the native and numpy implementations and, when "
                                   "installed, soxr and webrtcvad, in interleaved rounds, and prints time ratios "
                                   "measured in this run (under a minute).")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of audio per call (default 10)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("validate", help="check a pipeline manifest; print every problem", parents=[common])
    p.add_argument("file", help="manifest JSON file")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("schema", help="print the JSON Schema of pipeline manifests", parents=[common])
    p.set_defaults(func=_cmd_schema)
    return parser


def _export_cli() -> Any:
    from remotemedia.export import cli

    return cli


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``remotemedia`` console script.

    Errors are one line on stderr (``remotemedia: error: ...``), exit status 2;
    ``--verbose`` adds the traceback. A manifest with problems lists each one.
    """
    from remotemedia.errors import BatchInterrupted, RemoteMediaError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("remotemedia: interrupted", file=sys.stderr)
        hint = _resume_hint(args, argv)
        if hint:
            print(hint, file=sys.stderr)
        return 130
    except BatchInterrupted as exc:
        print(f"remotemedia: {exc}", file=sys.stderr)
        print(_resume_hint(args, argv), file=sys.stderr)
        return exc.exit_code
    except (RemoteMediaError, ImportError, OSError) as exc:  # e.g. REMOTEMEDIA_IMPL=native without native
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        print(f"remotemedia: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    """The error's message; a manifest with a single problem on one line (several: one per line)."""
    from remotemedia.errors import PipelineValidationError

    text = str(exc)
    if isinstance(exc, PipelineValidationError) and len(exc.issues) == 1:
        source = text.splitlines()[0].rsplit(": 1 problem", 1)[0]
        return f"{source}: {exc.issues[0]}"
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
