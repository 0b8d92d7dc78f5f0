"""Execute the book's notebooks in place, storing outputs and widget state.

    python tools/execute_notebooks.py [NOTEBOOK ...]     # default: every notebook in _toc.yml

Runs each notebook with a fresh kernel from this environment, cwd = the notebook's folder, and
writes it back only if it executed without error (a failing chapter keeps its previous outputs and
the command exits non-zero). Cell timing metadata is not recorded, so re-executing an unchanged
chapter leaves a small diff.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def merge_streams(nb) -> None:
    """Join adjacent outputs of the same stream: the kernel splits one cell's printout into several
    depending on when it flushes, which the committed book should not record."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            prev = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and prev is not None
                    and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
                prev["text"] = prev["text"] + out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def execute(path: Path, timeout: int = 1800) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    merge_streams(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or toc_notebooks()
    failed = []
    for p in paths:
        print(f"executing {p.relative_to(ROOT)} ...", flush=True)
        try:
            print(f"  done in {execute(p):.1f} s", flush=True)
        except CellExecutionError as exc:
            failed.append(p)
            print(f"  FAILED (outputs not written):\n{str(exc)[-3000:]}", flush=True)
    if failed:
        print("chapters that failed: " + ", ".join(str(p.relative_to(ROOT)) for p in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
