"""The ``remotemedia`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


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
    result = run_demo()
    print("demo: int16 -> float32 -> int16 round trip on built-in speech-like data")
    for key, value in result.items():
        print(f"  {key}: {value:.2f}" if isinstance(value, float) else f"  {key}: {value}")
    return 0 if result["round_trip_exact"] else 1


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
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from remotemedia.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from remotemedia._version import __version__

    parser = argparse.ArgumentParser(prog="remotemedia", description="Audio/ML preprocessing pipelines.")
    parser.add_argument("--version", action="version", version=f"remotemedia {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="show versions and which implementation each node uses")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("demo", help="run the demo job on built-in data")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("validate", help="check a pipeline manifest; print every problem")
    p.add_argument("file", help="manifest JSON file")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("schema", help="print the JSON Schema of pipeline manifests")
    p.set_defaults(func=_cmd_schema)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``remotemedia`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ImportError as exc:  # e.g. REMOTEMEDIA_IMPL=native without the compiled module
        print(f"remotemedia: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
