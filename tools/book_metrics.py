"""Counts that say how the book and the library read, before and after a restructuring.

    python tools/book_metrics.py [--width 88] [--json]

* functions defined in notebooks: ``def`` statements in the chapters' code cells;
* copied helpers: chapters that define one of the figure helpers themselves (``show``,
  ``show_jpeg``, ``jpeg_bytes``, ``draw_box``) and the JPEG snippets (``format="jpeg"``) in code cells;
* "DESIGN.md" references in the library, the tests, the tools, the scripts, the book and the Makefile;
* words of prose per chapter (markdown cells, code and maths left out);
* code lines wider than ``--width`` characters in the chapters' code cells.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ("show", "show_jpeg", "jpeg_bytes", "draw_box")
SCANNED = ("rankatt_lib", "tests", "tools", "data_scripts", "book", "docs")


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("[0-9][0-9]_*.ipynb"))


def cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def prose_words(markdown: str) -> int:
    """Words a reader reads: code blocks and maths left out, a role's link text kept
    (``{ref}`chapter 6 <ch-ranking>``` is two words), a glued number one word, and the text
    of admonitions, exercises and solutions counted."""
    kept, in_code = [], False
    for line in markdown.splitlines():
        fence = re.match(r"^\s*(```+|:::+)\s*(\{[\w-]+\})?", line)
        if in_code:
            in_code = not line.strip().startswith("```")
            continue
        if fence and fence.group(1).startswith("```") and not fence.group(2) and line.strip() != "```":
            in_code = True  # a code block (```python ...)
            continue
        if fence or re.match(r"^\s*:[\w-]+:", line):  # directive fences and their options
            continue
        kept.append(line)
    text = "\n".join(kept)
    text = re.sub(r"\{glue:\w+\}`[^`]*`", " 0 ", text)                        # a glued value
    text = re.sub(r"\{\w+\}`([^`<]*?)\s*(?:<[^`]*>)?`", r" \1 ", text)        # a role: its text
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)                        # display maths
    text = re.sub(r"\$[^$\n]+\$", " ", text)                                  # inline maths
    return len(re.findall(r"[A-Za-z][A-Za-z'’-]*", text))


def design_md_references(root: Path = ROOT) -> dict[str, int]:
    found = {}
    files = [root / "Makefile", root / "README.md"]
    for folder in SCANNED:
        files += [p for p in (root / folder).rglob("*") if p.suffix in (".py", ".ipynb", ".md", ".cfg", ".yml")]
    for p in files:
        # this counter and the test that forbids the citations name the file themselves
        if p.is_file() and p.resolve() not in (Path(__file__).resolve(), root / "tests" / "test_book_style.py"):
            n = p.read_text(encoding="utf-8", errors="replace").count("DESIGN.md")
            if n:
                found[str(p.relative_to(root))] = n
    return found


def measure(root: Path = ROOT, width: int = 88) -> dict:
    per_chapter = {}
    for path in chapters(root):
        code = cells(path, "code")
        lines = [ln for c in code for ln in c.splitlines()]
        per_chapter[path.stem] = {
            "words": sum(prose_words(m) for m in cells(path, "markdown")),
            "functions": sum(len(re.findall(r"^\s*def \w+", c, flags=re.M)) for c in code),
            "helpers_defined": sorted({h for c in code for h in HELPERS if re.search(rf"^def {h}\(", c, flags=re.M)}),
            "jpeg_snippets": sum(len(re.findall(r"format=[\"']jpe?g[\"']", c)) for c in code),
            "lines_over_width": sum(len(ln) > width for ln in lines),
        }
    refs = design_md_references(root)
    return {
        "width": width,
        "chapters": per_chapter,
        "functions_in_notebooks": sum(c["functions"] for c in per_chapter.values()),
        "chapters_defining_a_helper": sum(bool(c["helpers_defined"]) for c in per_chapter.values()),
        "helper_definitions": sum(len(c["helpers_defined"]) for c in per_chapter.values()),
        "jpeg_snippets": sum(c["jpeg_snippets"] for c in per_chapter.values()),
        "design_md_references": sum(refs.values()),
        "design_md_files": refs,
        "lines_over_width": sum(c["lines_over_width"] for c in per_chapter.values()),
        "words_max": max(c["words"] for c in per_chapter.values()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=88, help="the code width the rendered page shows (88)")
    ap.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = ap.parse_args(argv)
    m = measure(width=args.width)
    if args.json:
        print(json.dumps(m, indent=1))
        return
    print(f"{'chapter':<28}{'words':>7}{'defs':>6}{'helpers':>9}{'jpeg':>6}{'>' + str(args.width):>6}")
    for name, c in m["chapters"].items():
        print(f"{name:<28}{c['words']:>7}{c['functions']:>6}{len(c['helpers_defined']):>9}"
              f"{c['jpeg_snippets']:>6}{c['lines_over_width']:>6}")
    print(f"functions defined in notebooks: {m['functions_in_notebooks']}")
    print(f"helper definitions ({', '.join(HELPERS)}): {m['helper_definitions']} "
          f"in {m['chapters_defining_a_helper']} chapters; JPEG snippets (format='jpeg'): {m['jpeg_snippets']}")
    print(f"'DESIGN.md' references: {m['design_md_references']} in {len(m['design_md_files'])} files")
    print(f"code lines over {args.width} characters: {m['lines_over_width']}")


if __name__ == "__main__":
    main()
