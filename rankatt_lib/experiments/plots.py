"""OTB-style precision and success plots, and result tables.

Every function takes ``scores``: tracker name -> :class:`rankatt_lib.evaluation.metrics.DatasetScore`, all
computed under the same protocol. Plots return a :class:`matplotlib.figure.Figure` (built without
pyplot, so nothing is shown or kept open behind the caller's back; a notebook displays the returned
figure). Trackers are listed best first, with their score in the legend, e.g. ``CSRT [0.812]``:
precision at 20 px for the precision plot, AUC for the success plot, as in the OTB toolkit.

Tables are :class:`pandas.DataFrame`; :func:`format_table` renders one as a Markdown pipe table
without the optional ``tabulate`` dependency that ``DataFrame.to_markdown`` needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rankatt_lib.evaluation.metrics import ATTRIBUTE_ORDER, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS, DatasetScore

__all__ = [
    "ATTRIBUTE_NAMES",
    "ranked",
    "precision_plot",
    "success_plot",
    "results_table",
    "attribute_table",
    "format_table",
]

ATTRIBUTE_NAMES: dict[str, str] = {
    "IV": "illumination variation",
    "SV": "scale variation",
    "OCC": "occlusion",
    "DEF": "deformation",
    "MB": "motion blur",
    "FM": "fast motion",
    "IPR": "in-plane rotation",
    "OPR": "out-of-plane rotation",
    "OV": "out of view",
    "BC": "background clutter",
    "LR": "low resolution",
}
"""The OTB attribute codes spelled out, for plot titles."""

# OTB toolkit-like styles: distinct colours first, then the same colours dashed.
_COLORS = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#000000",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#999999",
    "#17becf",
)
_STYLES = ("-", "--", ":", "-.")


def _check_protocols(scores: Mapping[str, DatasetScore]) -> None:
    if not scores:
        raise ValueError("no scores to show: pass {tracker name: DatasetScore}")
    protocols = {s.protocol for s in scores.values()}
    if len(protocols) > 1:
        raise ValueError(
            f"scores come from different protocols ({', '.join(sorted(protocols))}); "
            "score every tracker under the same one"
        )


def _curves(score: DatasetScore, attribute: str | None, tracker: str) -> Any:
    if attribute is None:
        return score
    try:
        return score.attributes[attribute]
    except KeyError:
        raise KeyError(
            f"tracker {tracker!r} has no sequence with attribute {attribute!r}; "
            f"it has {', '.join(score.attributes) or 'none'}"
        ) from None


def ranked(
    scores: Mapping[str, DatasetScore], metric: str = "auc", attribute: str | None = None
) -> list[str]:
    """Tracker names, best first by ``metric`` (``"auc"`` or ``"precision"``); ties by name."""
    if metric not in ("auc", "precision"):
        raise ValueError(f"metric must be 'auc' or 'precision', got {metric!r}")
    _check_protocols(scores)
    value = {t: getattr(_curves(s, attribute, t), metric) for t, s in scores.items()}
    return sorted(value, key=lambda t: (-value[t], t))


def _new_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def _title(base: str, scores: Mapping[str, DatasetScore], attribute: str | None) -> str:
    if attribute is None:
        return base
    n = next(iter(scores.values())).attributes[attribute].n_sequences
    return f"{base} - {ATTRIBUTE_NAMES.get(attribute, attribute)} ({n})"


def _plot(
    scores: Mapping[str, DatasetScore],
    metric: str,
    ax: Axes | None,
    title: str,
    attribute: str | None,
) -> Figure:
    order = ranked(scores, metric, attribute)
    fig, ax = _new_axes(ax)
    x = PRECISION_THRESHOLDS if metric == "precision" else SUCCESS_THRESHOLDS
    for k, tracker in enumerate(order):
        c = _curves(scores[tracker], attribute, tracker)
        y = c.precision_curve if metric == "precision" else c.success_curve
        ax.plot(
            x,
            y,
            color=_COLORS[k % len(_COLORS)],
            linestyle=_STYLES[(k // len(_COLORS)) % len(_STYLES)],
            linewidth=2.0 if k == 0 else 1.5,
            label=f"{tracker} [{getattr(c, metric):.3f}]",
        )
    if metric == "precision":
        ax.set_xlim(0, 50)
        ax.set_xlabel("Location error threshold (px)")
        ax.set_ylabel("Precision")
        loc = "lower right"
    else:
        ax.set_xlim(0, 1)
        ax.set_xlabel("Overlap threshold")
        ax.set_ylabel("Success rate")
        loc = "lower left"
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.set_title(_title(title, scores, attribute))
    ax.legend(loc=loc, fontsize="small")
    return fig


def precision_plot(
    scores: Mapping[str, DatasetScore],
    ax: Axes | None = None,
    title: str = "Precision plots of OPE",
    attribute: str | None = None,
) -> Figure:
    """Precision curves over 0..50 px, trackers sorted by precision at 20 px, legend ``NAME [0.812]``.

    Args:
        scores: tracker name -> :class:`DatasetScore` (same protocol).
        ax: draw into these axes (a new figure otherwise).
        title: the plot title (the attribute's name and sequence count are appended).
        attribute: plot the curves of one attribute code (e.g. ``"OCC"``) instead of the whole set.

    Returns:
        The figure.
    """
    return _plot(scores, "precision", ax, title, attribute)


def success_plot(
    scores: Mapping[str, DatasetScore],
    ax: Axes | None = None,
    title: str = "Success plots of OPE",
    attribute: str | None = None,
) -> Figure:
    """Success curves over IoU 0..1, trackers sorted by AUC, legend ``NAME [0.612]``.

    Arguments as :func:`precision_plot`.
    """
    return _plot(scores, "auc", ax, title, attribute)


def results_table(scores: Mapping[str, DatasetScore]) -> pd.DataFrame:
    """One row per tracker (best AUC first): ``AUC``, ``Precision@20``, ``Sequences``."""
    order = ranked(scores, "auc")
    df = pd.DataFrame(
        {
            "AUC": [scores[t].auc for t in order],
            "Precision@20": [scores[t].precision for t in order],
            "Sequences": [scores[t].n_sequences for t in order],
        },
        index=pd.Index(order, name="Tracker"),
    )
    return df


def attribute_table(scores: Mapping[str, DatasetScore]) -> pd.DataFrame:
    """Per-attribute scores: rows trackers (best overall AUC first), columns ``(attribute, metric)``.

    The column index has two levels: the attribute code (OTB order; only attributes some tracker
    was scored on) and ``"AUC"`` / ``"Precision@20"``. A tracker without a sequence of an attribute
    gets NaN there. ``df.xs("AUC", axis=1, level=1)`` gives the AUC-only table.
    """
    order = ranked(scores, "auc")
    codes: set[str] = set()
    for s in scores.values():
        codes.update(s.attributes)
    attrs = sorted(
        codes, key=lambda c: (ATTRIBUTE_ORDER.index(c) if c in ATTRIBUTE_ORDER else len(ATTRIBUTE_ORDER), c)
    )
    columns = pd.MultiIndex.from_product([attrs, ["AUC", "Precision@20"]], names=["attribute", "metric"])
    data = np.full((len(order), len(columns)), np.nan)
    for i, t in enumerate(order):
        for j, (code, metric) in enumerate(columns):
            summary = scores[t].attributes.get(code)
            if summary is not None:
                data[i, j] = summary.auc if metric == "AUC" else summary.precision
    return pd.DataFrame(data, index=pd.Index(order, name="Tracker"), columns=columns)


def format_table(df: pd.DataFrame, floatfmt: str = ".3f", index: bool = True) -> str:
    """A Markdown pipe table of ``df`` (no ``tabulate`` needed); floats as ``floatfmt``, NaN as ``-``.

    Multi-level column labels are joined with a space (``"OCC AUC"``).
    """

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "-" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    def label(c: Any) -> str:
        return " ".join(str(p) for p in c) if isinstance(c, tuple) else str(c)

    headers = ([str(df.index.name or "")] if index else []) + [label(c) for c in df.columns]
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False), strict=True):
        rows.append(([str(idx)] if index else []) + [cell(v) for v in row])
    numeric = [False] * (1 if index else 0) + [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    sep = ["---:" if num else ":---" for num in numeric]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
