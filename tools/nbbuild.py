"""Write a notebook from a plain-text outline (authoring aid for the book's chapters).

The outline is a Python file holding a list ``CELLS`` of ``("md"|"code", source[, tags])`` tuples.
The written notebook is the chapter's source of truth afterwards; execute it with
``make execute`` (or ``python tools/execute_notebooks.py NOTEBOOK``).

    python tools/nbbuild.py outline.py book/NN_chapter.ipynb
"""

from __future__ import annotations

import runpy
import sys
import textwrap

import nbformat


def build(cells: list[tuple], path: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for spec in cells:
        kind, src = spec[0], textwrap.dedent(spec[1]).strip("\n")
        tags = list(spec[2]) if len(spec) > 2 else []
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validate(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    outline, out = sys.argv[1], sys.argv[2]
    build(runpy.run_path(outline)["CELLS"], out)
