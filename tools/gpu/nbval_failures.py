"""Sort the failed cells of an nbval run (its ``--junitxml`` report) by cause.

Usage: ``python tools/gpu/nbval_failures.py REPORT.xml`` (used by ``device_check.sh``'s nbval step).

Prints one summary line, ``nbval: N failed cells: K for the missing OpenCV contrib, M other``,
then every other failure by name. A cell counts as "missing OpenCV contrib" when its error says
so (:mod:`rankatt_lib.trackers.opencv` raises ``RuntimeError`` naming ``opencv-contrib``): the GPU
machine's OpenCV has no CSRT/KCF/MOSSE, which says nothing about the GPU. Exit status: 0 when
every failure is of that kind, 1 otherwise, 2 when the report is missing or unreadable.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence

CONTRIB_MARK = "opencv-contrib"


def sort_failures(report: str) -> tuple[list[str], list[str], int]:
    """``(contrib, other, passed_or_skipped)``: names of the failed cells by cause, and the rest's count."""
    root = ET.parse(report).getroot()
    contrib: list[str] = []
    other: list[str] = []
    rest = 0
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = [f for f in case if f.tag in ("failure", "error")]
        if not bad:
            rest += 1
            continue
        text = " ".join((f.get("message") or "") + (f.text or "") for f in bad)
        (contrib if CONTRIB_MARK in text else other).append(name)
    return contrib, other, rest


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        contrib, other, rest = sort_failures(args[0])
    except (OSError, ET.ParseError) as exc:
        print(f"nbval: no readable report at {args[0]}: {exc}")
        return 2
    print(
        f"nbval: {rest} cells passed or skipped, {len(contrib) + len(other)} failed: "
        f"{len(contrib)} for the missing OpenCV contrib, {len(other)} other"
    )
    for name in other:
        print(f"  other failure: {name}")
    return 1 if other else 0


if __name__ == "__main__":
    raise SystemExit(main())
