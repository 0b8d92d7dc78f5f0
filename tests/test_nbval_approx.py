"""The book's rule for hardware-dependent numbers (tools/nbval_approx.py, book/conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


nbval_approx = _load("nbval_approx", REPO / "tools" / "nbval_approx.py")
Tolerance = nbval_approx.Tolerance


def test_marker_parsing() -> None:
    tol = nbval_approx.parse_marker("# approx-output rtol=0.02 atol=5e-3: PNR is ill-conditioned\nx = 1\n")
    assert (tol.rtol, tol.atol, tol.itol, tol.irtol) == (0.02, 0.005, 0.0, 0.0)
    assert tol.why == "PNR is ill-conditioned"
    assert nbval_approx.parse_marker("# a comment\n# approx-output itol=2: counts\nprint(1)").itol == 2
    assert nbval_approx.parse_marker("print(1)  # nothing to see") is None
    for bad in ("# approx-output rtol=0.02\nx", "# approx-output: no tolerance given\nx",
                "# approx-output rtol=abc: why\nx", "# approx-output speed=1: why\nx",
                "# approx-output rtol=-1: why\nx", "x = 1\n# approx-output rtol=0.1: too late\n"):
        with pytest.raises(nbval_approx.MarkerError):
            nbval_approx.parse_marker(bad)


def test_numbers_within_tolerance_pass_and_beyond_it_fail() -> None:
    tol = Tolerance(rtol=0.01, atol=0.002)
    ok = nbval_approx.compare_text
    # the examples, each within a meaningful tolerance ...
    assert ok("frame 61: scores 94.2, 94.2, 94.2", "frame 61: scores 94.0, 94.0, 94.0", tol).ok
    assert ok("64   -0.045 x", "64   -0.046 x", tol).ok
    assert ok("data term 4.9383e-04", "data term 4.9439e-04", Tolerance(rtol=0.01)).ok
    # ... and a real change is still caught
    r = ok("frame 61: scores 97.0, 94.2, 94.2", "frame 61: scores 94.0, 94.0, 94.0", tol)
    assert not r.ok and "94.0 is now 97.0" in r.problems[0]
    assert not ok("data term 5.1e-04", "data term 4.9439e-04", Tolerance(rtol=0.01)).ok
    assert ok("data term 5.1e-04", "data term 4.9439e-04", tol).ok        # atol 0.002 dwarfs it


def test_integers_and_identifiers_are_exact_unless_said_otherwise() -> None:
    tol = Tolerance(rtol=0.05, atol=0.01)
    ok = nbval_approx.compare_text
    assert not ok("frame 73: c65 -> c76", "frame 72: c65 -> c76", tol).ok          # an integer
    assert not ok("frame 72: c65 -> c86", "frame 72: c65 -> c76", tol).ok          # an identifier
    assert not ok("syn_test_001 conv4_3", "syn_test_000 conv4_3", tol).ok
    assert not ok("order [0, 2, 1]", "order [0, 1, 2]", tol).ok
    assert not ok("ranked 1st", "ranked 2nd", tol).ok
    assert not ok("(x1.91 per frame)", "(x1.90 per frame)", tol).ok               # glued to a letter
    assert ok("range 0.0471..0.0512", "range 0.0474..0.0510", tol).ok            # a range: two numbers
    assert not ok("range 0.045..0.091", "range 0.045..0.051", tol).ok
    assert not ok("version 1.2.4", "version 1.2.3", tol).ok                        # 1.2 then text .3
    assert ok("966 cells", "970 cells", Tolerance(itol=5)).ok
    assert not ok("950 cells", "970 cells", Tolerance(itol=5)).ok
    assert ok("7042 (x 1.90)", "7065 (x 1.90)", Tolerance(irtol=0.01, rtol=0.01)).ok


def test_text_must_match_except_for_white_space_around_numbers() -> None:
    tol = Tolerance(rtol=0.1)
    ok = nbval_approx.compare_text
    assert ok("   9.99  yes", "  10.01  yes", tol).ok                               # a column widens
    assert not ok("   9.99  no", "  10.01  yes", tol).ok
    assert not ok("1.0, 2.0, 3.0", "1.0, 2.0", tol).ok                              # a number more
    r = ok("a 1.0\nb 2.0\nc 3.0 changed", "a 1.0\nb 2.0\nc 3.0", tol)
    assert not r.ok and "line 3" in r.problems[0]


def test_align_outputs_replaces_only_what_matches() -> None:
    tol = Tolerance(rtol=0.01)
    committed = [{"output_type": "stream", "name": "stdout", "text": "PNR 94.0\n"},
                 {"output_type": "execute_result", "data": {"text/plain": "0.500", "image/png": "AAA"},
                  "metadata": {}, "execution_count": 3}]
    fresh = [{"output_type": "stream", "name": "stdout", "text": "PNR 94.2\n"},
             {"output_type": "execute_result", "data": {"text/plain": "0.600", "image/png": "BBB"},
              "metadata": {}, "execution_count": 3}]
    out, problems = nbval_approx.align_outputs(fresh, committed, tol)
    assert out[0]["text"] == "PNR 94.0\n"            # within tolerance: now equal to the committed
    assert out[1]["data"]["text/plain"] == "0.600"   # beyond it: left for nbval to report
    assert problems == ["text/plain: number 0.500 is now 0.600 (allowed: rtol=0.01)"]
    assert fresh[0]["text"] == "PNR 94.2\n"          # the inputs are not modified


def test_a_glued_value_in_a_marked_cell_is_compared_within_the_tolerance() -> None:
    # myst_nb's glue(display=False) stores the value's repr under a papermill mime type
    key = "application/papermill.record/text/plain"
    def glued(v):
        return [{"output_type": "display_data", "data": {key: v}, "metadata": {"scrapbook": {"name": "k"}}}]

    out, problems = nbval_approx.align_outputs(glued("0.9712"), glued("0.9700"), Tolerance(rtol=0.01))
    assert out[0]["data"][key] == "0.9700" and problems == []
    out, problems = nbval_approx.align_outputs(glued("0.99"), glued("0.97"), Tolerance(rtol=0.01))
    assert out[0]["data"][key] == "0.99" and len(problems) == 1


def _notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": i + 1, "metadata": {}, "source": src,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": out}]}
                    for i, (src, out) in enumerate(cells)],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.mark.slow
def test_nbval_uses_the_marker(tmp_path: Path) -> None:
    """End to end through nbval and book/conftest.py: a number within the tolerance passes, one
    beyond it fails, an unmarked cell is still compared digit for digit."""
    book = tmp_path / "book"
    book.mkdir()
    (book / "conftest.py").write_text((REPO / "book" / "conftest.py").read_text()
                                      .replace('parents[1] / "tools"', f'parents[0] / {str(REPO / "tools")!r}'))
    marked = "# approx-output rtol=0.01: a float32 sum\nprint(f'{0.1 * 3:.4f}')"
    _notebook(book / "a.ipynb", [(marked, "0.3010\n"), ("print(2)", "2\n")])      # within 1 %: passes
    _notebook(book / "b.ipynb", [(marked, "0.3100\n")])                           # 3 % off: fails
    _notebook(book / "c.ipynb", [("print(f'{0.1 * 3:.4f}')", "0.3010\n")])        # unmarked: exact, fails
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-current-env", "-q", str(book)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout
    assert "2 failed, 2 passed" in out, out[-3000:]
    assert "b.ipynb::Cell 0" in out and "c.ipynb::Cell 0" in out
    assert "number 0.3100 is now 0.3000 (allowed: rtol=0.01)" in out


def test_every_marker_in_the_book_parses_and_is_compared() -> None:
    marked = 0
    for path in sorted((REPO / "book").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            tags = cell.get("metadata", {}).get("tags", [])
            assert "device-dependent" not in tags, f"{path.name} cell {i}: use an approx-output marker"
            tol = nbval_approx.parse_marker("".join(cell["source"]))
            if tol is not None:
                marked += 1
                assert "nbval-ignore-output" not in tags, f"{path.name} cell {i}: marked but never compared"
    assert marked > 0


def test_numeric_configs_environment_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nc = _load("numeric_configs", REPO / "tools" / "numeric_configs.py")
    assert len(nc.CONFIGS) >= 6 and "ci" in nc.CONFIGS
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    env = nc.environment("native")
    assert "OMP_NUM_THREADS" not in env and "ONEDNN_MAX_CPU_ISA" not in env   # nothing inherited
    ci = nc.environment("ci")
    assert (ci["ATEN_CPU_CAPABILITY"], ci["ONEDNN_MAX_CPU_ISA"], ci["OMP_NUM_THREADS"]) == ("default", "SSE41", "1")
    assert nc.CONFIGS["avx2"][0]["ATEN_CPU_CAPABILITY"] == "avx2"
    assert any(c[0].get("OMP_NUM_THREADS") == "3" for c in nc.CONFIGS.values())
    with pytest.raises(SystemExit, match="unknown configuration"):
        nc.environment("avx1024")
    report = tmp_path / "r.xml"
    report.write_text('<testsuites><testsuite>'
                      '<testcase classname="book.06_ranking.ipynb" name="Cell 5"/>'
                      '<testcase classname="book.06_ranking.ipynb" name="Cell 8"><failure message="x"/></testcase>'
                      '<testcase classname="book.07.ipynb" name="Cell 1"><skipped/></testcase>'
                      '</testsuite></testsuites>')
    assert nc.failed_cells(report) == (1, ["06_ranking:c8"])
