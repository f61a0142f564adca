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
