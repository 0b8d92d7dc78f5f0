"""Copy the book's chapters for nbval on another device, not comparing the device-dependent cells.

Usage: ``python tools/gpu/device_notebooks.py [--src book] [--out book_device]``

A chapter cell tagged ``device-dependent`` prints numbers whose last digits depend on the
floating-point hardware (each such cell says why in its first line: an ill-conditioned PNR, a long
chain of float32 reductions, a tracker run compared with the stored CPU run, ...). On the CPU that
wrote the committed outputs, nbval compares them exactly like every other cell. On another device
(a GPU) they are still *executed*, but their outputs cannot be expected to match digit for digit:
this copies every ``*.ipynb`` of ``--src`` into ``--out`` (git-ignored; a sibling of ``book/`` so
that the chapters' ``Path.cwd().parent`` is still the repository) with ``nbval-ignore-output``
added to those cells, and prints how many cells it marked per chapter. ``device_check.sh`` runs
nbval on that copy with the project's own sanitizer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

DEVICE_TAG = "device-dependent"
IGNORE_TAG = "nbval-ignore-output"


def mark(notebook: dict) -> int:
    """Add ``nbval-ignore-output`` to every code cell tagged ``device-dependent``; returns how many."""
    marked = 0
    for cell in notebook.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and DEVICE_TAG in tags:
            if IGNORE_TAG not in tags:
                cell["metadata"]["tags"] = [*tags, IGNORE_TAG]
            marked += 1
    return marked


def copy_book(src: Path, out: Path) -> dict[str, int]:
    """Write the marked copies of ``src/*.ipynb`` into ``out`` (emptied first); ``{chapter: marked}``."""
    chapters = sorted(src.glob("*.ipynb"))
    if not chapters:
        raise FileNotFoundError(f"no notebooks in {src}")
    if out.resolve() == src.resolve():
        raise ValueError("--out must differ from --src (the committed chapters are never modified)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    counts = {}
    for path in chapters:
        nb = json.loads(path.read_text(encoding="utf-8"))
        counts[path.name] = mark(nb)
        (out / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", type=Path, default=Path("book"))
    p.add_argument("--out", type=Path, default=Path("book_device"))
    a = p.parse_args(argv)
    try:
        counts = copy_book(a.src, a.out)
    except (OSError, ValueError) as exc:
        print(f"device_notebooks: {exc}", file=sys.stderr)
        return 2
    total = sum(counts.values())
    print(f"{len(counts)} chapters copied to {a.out}; {total} device-dependent cells not compared: "
          + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
