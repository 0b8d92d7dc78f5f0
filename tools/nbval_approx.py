"""Compare a chapter cell's printed numbers within a stated tolerance instead of digit for digit.

The book's rule (``docs/writing_chapters.md``): a cell whose printed numbers depend on the
floating-point hardware (summation order: CPU vector width, oneDNN's kernels, thread count, a GPU)
starts with a marker comment that says how close they must stay and why::

    # approx-output rtol=0.02 atol=0.005: PNR divides by mean(m / max m), a small number (chapter 5)

nbval then compares that cell's text outputs (streams, ``text/plain``, ``text/html``) as follows:

* everything that is not a number must be the same (runs of white space count as one space, so a
  number that gains a digit does not break a column);
* every decimal number (``94.2``, ``-0.046``, ``8.34%``, ``5e-07``) must satisfy
  ``|new - committed| <= atol + rtol * |committed|``;
* every integer (``72``, ``966``; no point, no exponent) must be *equal* unless the marker gives
  ``itol`` (absolute) or ``irtol`` (relative): frame numbers, counts and orders are claims.

A number glued to a letter or an underscore on its left (``c65``, ``syn_test_000``, ``conv4_3``,
``x1.90``) is part of the text, not a number, and is compared exactly.

Options: ``rtol``, ``atol``, ``itol``, ``irtol`` (all default 0). A marker with an unknown option,
a malformed value or no reason after the colon is an error (the cell is named).

``book/conftest.py`` applies this to nbval's comparison; the library tests exercise it on
planted outputs (``tests/test_nbval_approx.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

MARKER = "approx-output"
_MARKER_LINE = re.compile(r"^\s*#\s*approx-output\b(?P<opts>[^:]*)(?::(?P<why>.*))?$")
_OPTION = re.compile(r"^(?P<key>[a-z]+)=(?P<value>[-+0-9.eE]+)$")
OPTIONS = ("rtol", "atol", "itol", "irtol")

# A number: optional sign, digits with an optional fraction, an optional exponent; not glued to a
# letter, digit or underscore on the left (identifiers such as c65, conv4_3 stay text), nor to a
# digit and a point (the 3 of 1.2.3), nor to a letter, digit or underscore on the right (1st, 2nd
# stay text). A range such as 0.045..0.051 is two numbers.
NUMBER = re.compile(r"(?<![A-Za-z0-9_])(?<!\d\.)[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z0-9_])")
_SPACE = re.compile(r"\s+")


class MarkerError(ValueError):
    """A malformed ``# approx-output`` marker."""


@dataclass(frozen=True)
class Tolerance:
    """How far a cell's printed numbers may move: decimals by ``atol + rtol * |committed|``,
    integers by ``itol + irtol * |committed|`` (0: equal)."""

    rtol: float = 0.0
    atol: float = 0.0
    itol: float = 0.0
    irtol: float = 0.0
    why: str = ""

    def allows(self, new: float, committed: float, integer: bool) -> bool:
        if integer:
            limit = self.itol + self.irtol * abs(committed)
        else:
            limit = self.atol + self.rtol * abs(committed)
        return abs(new - committed) <= limit * (1 + 1e-12)

    def describe(self) -> str:
        parts = [f"{k}={getattr(self, k):g}" for k in OPTIONS if getattr(self, k)]
        return ", ".join(parts) if parts else "exact"


def parse_marker(source: str) -> Tolerance | None:
    """The tolerance a cell's ``# approx-output`` marker states, or None when it has none.

    The marker must be a comment line of its own among the cell's leading comment lines.
    """
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break  # the marker belongs to the cell's leading comments
        m = _MARKER_LINE.match(stripped)
        if not m:
            continue
        opts = {}
        for word in m.group("opts").split():
            o = _OPTION.match(word)
            if not o or o.group("key") not in OPTIONS:
                raise MarkerError(f"unknown or malformed option {word!r} in {stripped!r} "
                                  f"(allowed: {', '.join(k + '=NUMBER' for k in OPTIONS)})")
            try:
                value = float(o.group("value"))
            except ValueError:
                raise MarkerError(f"option {word!r} in {stripped!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise MarkerError(f"option {word!r} in {stripped!r} must be a finite number >= 0")
            opts[o.group("key")] = value
        why = (m.group("why") or "").strip()
        if not why:
            raise MarkerError(f"{stripped!r}: say why after a colon (what makes these numbers "
                              "depend on the hardware)")
        if not opts:
            raise MarkerError(f"{stripped!r}: give at least one of {', '.join(OPTIONS)}")
        return Tolerance(why=why, **opts)
    if MARKER in source and re.search(r"^\s*#.*\bapprox-output\b", source, re.M):
        raise MarkerError("an '# approx-output' marker must be one of the cell's first comment lines")
    return None


def _split(text: str) -> tuple[list[str], list[str]]:
    """(the text between numbers, the numbers as printed)."""
    numbers = NUMBER.findall(text)
    skeleton = NUMBER.split(text)
    return skeleton, numbers


def _is_integer(token: str) -> bool:
    return "." not in token and "e" not in token.lower()


@dataclass
class Comparison:
    """The outcome of :func:`compare_text`: ``ok``, and what differed (for nbval's report)."""

    ok: bool
    problems: list[str] = field(default_factory=list)


def compare_text(new: str, committed: str, tol: Tolerance) -> Comparison:
    """Compare a fresh output text with the committed one under ``tol`` (see the module's rules)."""
    sk_new, num_new = _split(new)
    sk_ref, num_ref = _split(committed)
    norm_new = [_SPACE.sub(" ", s) for s in sk_new]
    norm_ref = [_SPACE.sub(" ", s) for s in sk_ref]
    if len(num_new) != len(num_ref) or norm_new != norm_ref:
        # locate the first line whose text (numbers aside) differs
        lines_new = [_SPACE.sub(" ", NUMBER.sub("#", ln)) for ln in new.splitlines()]
        lines_ref = [_SPACE.sub(" ", NUMBER.sub("#", ln)) for ln in committed.splitlines()]
        where = next((i for i, (a, b) in enumerate(zip(lines_new, lines_ref, strict=False)) if a != b),
                     min(len(lines_new), len(lines_ref)))
        got = new.splitlines()[where] if where < len(new.splitlines()) else "<no line>"
        want = committed.splitlines()[where] if where < len(committed.splitlines()) else "<no line>"
        return Comparison(False, [f"the text around the numbers differs (line {where + 1}): "
                                  f"committed {want!r}, now {got!r}"])
    problems = []
    for a, b in zip(num_new, num_ref, strict=True):
        integer = _is_integer(b) and _is_integer(a)
        if not tol.allows(float(a), float(b), integer):
            kind = "integer" if integer else "number"
            problems.append(f"{kind} {b} is now {a} (allowed: {tol.describe()})")
    return Comparison(not problems, problems)


TEXT_KEYS = (
    "text/plain",
    "text/html",
    "text/markdown",
    # what myst_nb's glue(..., display=False) stores: the value's repr, read by {glue:text}
    "application/papermill.record/text/plain",
)


def align_outputs(new: list, committed: list, tol: Tolerance, sanitize=lambda s: s) -> tuple[list, list[str]]:
    """Return a copy of ``new`` where every text that matches its committed counterpart within
    ``tol`` is replaced by the committed text (so nbval's exact comparison then passes), and the
    problems found in the others. Outputs are paired in order; a different number or kind of
    outputs is left to nbval to report.
    """
    import copy

    out = copy.deepcopy(new)
    problems: list[str] = []
    if len(new) != len(committed):
        return out, problems
    for o_new, o_ref in zip(out, committed, strict=True):
        if o_new.get("output_type") != o_ref.get("output_type"):
            continue
        pairs = []
        if o_new.get("output_type") == "stream":
            if o_new.get("name") == o_ref.get("name"):
                pairs.append((o_new, o_ref, "text"))
        elif "data" in o_new and "data" in o_ref:
            for key in TEXT_KEYS:
                if key in o_new["data"] and key in o_ref["data"]:
                    pairs.append((o_new["data"], o_ref["data"], key))
        for holder_new, holder_ref, key in pairs:
            a, b = holder_new[key], holder_ref[key]
            a = "".join(a) if isinstance(a, list) else a
            b = "".join(b) if isinstance(b, list) else b
            result = compare_text(sanitize(a), sanitize(b), tol)
            if result.ok:
                holder_new[key] = holder_ref[key]
            else:
                problems.extend(f"{key}: {p}" for p in result.problems)
    return out, problems
