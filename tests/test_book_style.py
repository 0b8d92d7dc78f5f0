"""The book's own rules, checked on the committed chapters (docs/writing_chapters.md).

* code lines fit the rendered page (at most 88 characters, ``# approx-output`` markers included:
  the page cuts them off like any other line);
* every chapter starts with its label, so that other pages can link to it by name;
* every exercise has a solution, and every solution belongs to an exercise;
* chapters use the helper package instead of defining the figure helpers again;
* nothing cites the design notes that readers of the repository do not have.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
WIDTH = 88
LABELS = {
    "00": "ch-introduction", "01": "ch-benchmarks", "02": "ch-correlation-filters",
    "03": "ch-deep-features", "04": "ch-convolutional-tracker", "05": "ch-pnr", "06": "ch-ranking",
    "07": "ch-convlstm", "08": "ch-attention", "09": "ch-parts", "10": "ch-full-tracker",
    "11": "ch-reproducing-otb", "12": "ch-ablations",
}


def cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(path):
    long = [f"cell {i}: {line[:60]}..." for i, code in enumerate(cells(path, "code"))
            for line in code.splitlines() if len(line) > WIDTH]
    assert long == [], f"{len(long)} code lines over {WIDTH} characters"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_starts_with_its_label(path):
    first = cells(path, "markdown")[0].lstrip()
    assert first.startswith(f"({LABELS[path.name[:2]]})=\n# "), first[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(path):
    text = "\n".join(cells(path, "markdown"))
    exercises = re.findall(r":::\{exercise\}[^\n]*\n:label: (\S+)", text)
    solutions = re.findall(r":::\{solution\} (\S+)", text)
    assert exercises, "no exercises"
    assert sorted(exercises) == sorted(solutions)
    assert len(set(exercises)) == len(exercises)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_chapter_defines_the_figure_helpers_again(path):
    code = "\n".join(cells(path, "code"))
    copied = re.findall(r"^def (show|show_jpeg|jpeg_bytes|draw_box)\(", code, flags=re.M)
    assert copied == []


def test_nothing_cites_the_design_notes_outside_the_repository():
    cited = []
    for folder in ("rankatt_lib", "rankatt_book", "tests", "book", "data_scripts", "docs"):
        for p in (ROOT / folder).rglob("*"):
            if p.suffix in (".py", ".ipynb", ".md") and p.name != Path(__file__).name:
                if "DESIGN.md" in p.read_text(encoding="utf-8", errors="replace"):
                    cited.append(str(p.relative_to(ROOT)))
    assert "DESIGN.md" not in (ROOT / "Makefile").read_text()
    assert cited == []
