"""nbval over the chapters: cells marked ``# approx-output rtol=... atol=...: why`` are compared
within that tolerance rather than digit for digit (tools/nbval_approx.py, docs/writing_chapters.md).

Loaded by pytest when it collects ``book/`` (``make test``); not part of the rendered book.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "nbval_approx.py"
_spec = importlib.util.spec_from_file_location("nbval_approx", _TOOL)
nbval_approx = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("nbval_approx", nbval_approx)
_spec.loader.exec_module(nbval_approx)


def _approx_compare(item, tol):
    exact = item.compare_outputs

    def compare_outputs(test, ref, skip_compare=None):
        aligned, problems = nbval_approx.align_outputs(test, ref, tol, sanitize=item.sanitize)
        ok = exact(aligned, ref, skip_compare)
        if not ok:
            item.comparison_traceback.append(
                f"approx-output cell (allowed: {tol.describe()}; why: {tol.why})")
            item.comparison_traceback.extend("  " + p for p in problems)
        return ok

    return compare_outputs


def pytest_collection_modifyitems(session, config, items):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adapt
        return
    for item in items:
        if not isinstance(item, IPyNbCell):
            continue
        try:
            tol = nbval_approx.parse_marker(item.cell.source)
        except nbval_approx.MarkerError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
        if tol is not None:
            if not item.options["check"]:
                raise pytest.UsageError(f"{item.nodeid}: an approx-output cell must not also be "
                                        "tagged nbval-ignore-output (it would not be checked at all)")
            item.compare_outputs = _approx_compare(item, tol)
            item.options["check"] = True
