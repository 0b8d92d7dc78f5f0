"""Command line entry point: ``python -m rankatt_lib`` (or ``rankatt``)."""

from __future__ import annotations

import argparse
import sys

from . import __version__, device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rankatt", description="rankatt tracking library")
    parser.add_argument("--version", action="version", version=f"rankatt_lib {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="print the version and the device the library would use")
    args = parser.parse_args(argv)
    if args.command in (None, "info"):
        print(f"rankatt_lib {__version__} on device {device()}")
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
