"""Chapter 12 (ablations): the figures and the tables' plumbing, which teach nothing by themselves.

The chapter keeps what it teaches (the variants, the bootstrap by hand, the live runs, the
numbers); what lives here draws and formats:

* :func:`verdicts`: one sentence per compared run, written from the ablation table, so that the
  text stays true when the chapter is executed again with more runs complete;
* :func:`attribute_heatmap`, :func:`sequence_dots`: the per-attribute and per-sequence figures;
* :func:`kernel_drift_figure`, :func:`attention_row`: the live comparison's figures;
* :func:`readings_table`, :func:`as_text`: the readings screened on validation, from the study's
  ``summary.json``;
* :func:`ranking_trace_figure`: the ranking through an occlusion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rankatt_book import figures

__all__ = [
    "as_text",
    "attention_row",
    "attribute_heatmap",
    "kernel_drift_figure",
    "ranking_trace_figure",
    "readings_table",
    "sequence_dots",
    "verdicts",
]


def _per_sequence(scores: Mapping[str, Any], tracker: str, names: Sequence[str], metric: str = "auc") -> np.ndarray:
    return np.array([getattr(scores[tracker].sequences[n], metric) for n in names])


def _noise(flag: str) -> str:
    return "beyond" if flag == "yes" else "within"


def verdicts(
    table: pd.DataFrame,
    scores: Mapping[str, Any],
    full: str,
    names: Sequence[str],
    phrases: Mapping[str, str],
    variants: Mapping[str, Any],
) -> str:
    """Markdown: for every run of ``table`` but ``full``, its AUC and precision differences to the
    full tracker with their intervals and verdicts, how many sequences it wins and loses (by more
    than 0.005 AUC) and where; then, when ``rankatt-noranking`` is there, the paper's claim (the
    ranking raises the precision "much") set against it, overall and on the BC sequences."""
    base = _per_sequence(scores, full, names)
    lines = []
    for t in [t for t in table.index if t != full]:
        r = table.loc[t]
        d = _per_sequence(scores, t, names) - base
        worst, best = names[int(np.argmin(d))], names[int(np.argmax(d))]
        verdict = "beyond noise" if r["ΔAUC beyond noise"] == "yes" else "within noise"
        ablation = t in variants
        lines.append(
            f"* `{t}`: {phrases[t]} {'changes' if ablation else 'differs in'} AUC by "
            f"{r['ΔAUC']:+.3f} ({r['AUC']:.3f} vs {scores[full].auc:.3f}; 95 % interval "
            f"{r['ΔAUC 95% interval']}, {verdict}) and "
            f"{'precision@20' if ablation else 'in precision@20'} by {r['ΔP@20']:+.3f} "
            f"({r['P@20']:.3f} vs {scores[full].precision:.3f}; "
            f"{_noise(r['ΔP@20 beyond noise'])} noise). "
            f"It is better than the full tracker on {int((d > 0.005).sum())} sequences and worse on "
            f"{int((d < -0.005).sum())} (by more than 0.005 AUC); the largest loss is on {worst} "
            f"({d.min():+.3f}), the largest gain on {best} ({d.max():+.3f})."
        )
    if "rankatt-noranking" in table.index:
        r = table.loc["rankatt-noranking"]
        gain = -r["ΔP@20"]
        moves = (
            f"{'raises' if gain > 0 else 'lowers'} it by {abs(gain):.3f}"
            if abs(gain) >= 0.0005
            else "leaves it unchanged to three decimals"
        )
        bc_full, bc_base = scores[full].attributes["BC"], scores["rankatt-noranking"].attributes["BC"]
        lines.append(
            f"\n**The paper's claim, on this benchmark.** The paper says the ranking network makes the "
            f'precision "much better than the baseline". Here the full tracker\'s precision@20 is '
            f"{scores[full].precision:.3f} and the baseline's {r['P@20']:.3f}: switching the ranking on "
            f"{moves}, {_noise(r['ΔP@20 beyond noise'])} noise, and "
            f"{'raises' if r['ΔAUC'] < 0 else 'lowers'} the AUC by {abs(r['ΔAUC']):.3f}, "
            f"{_noise(r['ΔAUC beyond noise'])} noise. On the "
            f"{bc_full.n_sequences} sequences with background clutter (BC), where the "
            f"suppression of background interference should show most, the ranking changes the AUC by "
            f"{bc_full.auc - bc_base.auc:+.3f} and the precision@20 by "
            f"{bc_full.precision - bc_base.precision:+.3f}."
        )
    return "\n".join(lines)


def attribute_heatmap(scores: Mapping[str, Any], full: str, others: Sequence[str], variants: Mapping[str, Any]) -> Any:
    """Per attribute, each run's AUC minus the full tracker's, as a heat map with the numbers
    written in; the colours are scaled to the ablations (the other trackers' larger differences
    saturate them)."""
    codes = list(scores[full].attributes)
    counts = [scores[full].attributes[c].n_sequences for c in codes]
    diff = np.array([[scores[t].attributes[c].auc - scores[full].attributes[c].auc for c in codes] for t in others])
    ablation_rows = [i for i, t in enumerate(others) if t in variants] or list(range(len(others)))
    vmax = max(0.05, float(np.abs(diff[ablation_rows]).max()))
    return figures.annotated_heatmap(
        diff, others, [f"{c} ({n})" for c, n in zip(codes, counts, strict=True)],
        f"AUC per attribute minus {full}'s (synthetic benchmark; sequences in brackets)",
        "+.2f", lambda v: abs(v) > 0.6 * vmax, 0.45 * len(others) + 1.6,
        cmap="RdBu", vmin=-vmax, vmax=vmax,
    )


def sequence_dots(
    scores: Mapping[str, Any],
    full: str,
    others: Sequence[str],
    variants: Mapping[str, Any],
    names: Sequence[str],
    attributes_of: Callable[[str], Sequence[str]],
) -> Any:
    """Per sequence, each run's AUC minus the full tracker's: the ablations in one panel, the other
    trackers in another (on their own scale); the labels give each sequence's attributes and the
    full tracker's AUC on it."""
    markers = "os^vDP<>X*"
    groups = [g for g in ([t for t in others if t in variants], [t for t in others if t not in variants]) if g]
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(5.2 + 3.3 * len(groups), 0.28 * len(names) + 1.4),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    y = np.arange(len(names))
    base = _per_sequence(scores, full, names)
    for ax, group in zip(axes[0], groups, strict=True):
        for k, t in enumerate(group):
            d = _per_sequence(scores, t, names) - base
            ax.scatter(
                d, y + (k - (len(group) - 1) / 2) * 0.1, marker=markers[k % len(markers)], s=22, label=t, alpha=0.85
            )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title("ablations" if group[0] in variants else "other trackers (own scale)")
        ax.set_xlabel(f"AUC minus {full}'s, per sequence")
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2)
    labels = [f"{n}  {','.join(attributes_of(n))}  ({base[i]:.2f})" for i, n in enumerate(names)]
    axes[0, 0].set_yticks(y, labels, fontsize=7)
    axes[0, 0].invert_yaxis()
    return fig


def kernel_drift_figure(
    norm_ratio: Sequence[float], cosine: Sequence[float], att_gap: Sequence[float], box_gap: Sequence[float]
) -> Any:
    """Left: the full tracker's attention kernel against h0 (norm ratio, cosine) per frame. Right:
    the largest difference of the two trackers' attention maps, and how far apart their boxes are."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.0))
    frames = np.arange(1, len(norm_ratio) + 1)
    axes[0].plot(frames, norm_ratio, "o-", ms=3, label=r"$|h_t| / |h_0|$")
    axes[0].plot(frames, cosine, "s-", ms=3, label=r"$\cos(h_t, h_0)$")
    axes[0].set_ylim(0.95, 1.005)
    axes[0].set_xlabel("frame")
    axes[0].set_title("rankatt's attention kernel against $h_0$")
    axes[0].legend()
    axes[1].plot(frames, att_gap, "o-", ms=3, color="tab:purple")
    axes[1].set_xlabel("frame")
    axes[1].set_ylabel("max |difference|", color="tab:purple")
    axes[1].set_title("attention maps a(m), rankatt vs fixed $h_0$")
    ax2 = axes[1].twinx()
    ax2.plot(frames, box_gap, "s--", ms=3, color="tab:green")
    ax2.set_ylabel("box centres apart (px)", color="tab:green")
    fig.tight_layout()
    return fig


def attention_row(axes: Sequence[Any], patches: Mapping[str, np.ndarray], maps: Mapping[str, Any], frame: int) -> None:
    """Three panels: each tracker's search patch with its attention map over it (yellow where
    ``a = 1``, transparent where ``a = 0``), then the difference of the two maps (first minus
    second) on its own colour scale. ``patches``: tracker -> ``(255, 255, 3)`` uint8;
    ``maps``: tracker -> ``(31, 31)`` normalised attention; ``frame``: 0-based."""
    ext = (-0.5, 31 * 8 - 0.5, 31 * 8 - 0.5, -0.5)  # conv4_3 cell i covers patch pixels 8i-0.5..8i+7.5
    for ax, name in zip(axes[:2], maps, strict=True):
        a = np.asarray(maps[name])
        overlay = plt.cm.autumn(a)  # yellow where a = 1, red where a is small
        overlay[..., 3] = 0.75 * a  # transparent where there is no attention
        ax.imshow(patches[name])
        ax.imshow(overlay, extent=ext, interpolation="nearest")
        ax.set_title(f"{name}, frame {frame + 1}", fontsize=8)
    first, second = list(maps)
    d = np.asarray(maps[first]) - np.asarray(maps[second])
    lim = max(float(np.abs(d).max()), 1e-3)
    axes[2].imshow(d, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title(f"difference (colour scale +-{lim:.3f})", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def readings_table(study: Mapping[str, Any], tried: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """The readings of ``tried`` (reading -> (switch, what it tests)) as one row each, with per
    validation split of ``study["validation"]`` the sequences finished, the AUC, the size ratio over
    frames 51+ and the paired difference to the reading's reference with its 95 % interval (and the
    sequences it is over, when fewer than the split's); NaN where a reading was not run."""
    rows: dict[str, dict[tuple[str, str], Any]] = {}
    for split, recs in study["validation"].items():
        short = split.split(" (")[0]
        full_split = 8 if split.startswith("synthetic") else 10
        for r in recs:
            if r["reading"] not in tried:
                continue
            d = r.get("vs_reference")
            row = rows.setdefault(r["reading"], {})
            row[(short, "seq")] = r["sequences"]
            row[(short, "AUC")] = r["auc"]
            row[(short, "size 51+")] = r["size_ratio_51"]
            if d:
                fewer = d["n"] < r["sequences"] or d["n"] < full_split
                row[(short, "ΔAUC [95 %]")] = f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" + (
                    f" ({d['n']} seq)" if fewer else ""
                )
            else:
                row[(short, "ΔAUC [95 %]")] = "-"
    for t in rows:
        rows[t][("", "switch")] = tried[t][0]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex([t for t in tried if t in rows])
    table = table[[("", "switch")] + [c for c in table.columns if c[0]]]
    for c in [c for c in table.columns if c[1] == "seq"]:
        table[c] = table[c].astype("Int64")
    return table


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """The readings table as text: AUC and size ratio to three decimals, "-" where a reading was
    not run on a split."""
    shown = table.copy()
    for c in shown.columns:
        fmt = "{:.3f}" if c[1] in ("AUC", "size 51+") else "{}"
        shown[c] = [fmt.format(v) if pd.notna(v) else "-" for v in table[c]]
    return shown


def ranking_trace_figure(
    fr: np.ndarray,
    occ: np.ndarray,
    peak: Sequence[float],
    pnr: np.ndarray,
    born: np.ndarray,
    changed: np.ndarray,
) -> Any:
    """Four panels over the frames of a traced run: the occluded share of the target and the parts'
    peak; the top kernel's PNR (log scale); the other ranks' PNR over the top one's; the frame the
    top kernel was written on, with the frames where it changed. The occlusion is shaded."""
    fig, axes = plt.subplots(4, 1, figsize=(9.5, 6.4), sharex=True, gridspec_kw=dict(height_ratios=[1, 1, 1, 1]))
    axes[0].fill_between(fr, occ, step="mid", color="0.55", label="occluded share of the target")
    axes[0].plot(fr, peak, color="tab:green", lw=1.2, label="the parts' peak")
    axes[0].set_ylim(0, 1.05)
    axes[0].legend(loc="lower left", fontsize=8)
    axes[1].plot(fr, pnr[:, 0], color="tab:blue", lw=1.2)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("PNR of $c^{(1st)}_t$")
    for j in range(1, pnr.shape[1]):
        axes[2].plot(fr, pnr[:, j] / pnr[:, 0], lw=1.0, label=f"rank {j + 1} / rank 1")
    axes[2].set_ylabel("PNR ratio")
    axes[2].legend(loc="lower left", fontsize=8, ncol=2)
    axes[3].step(fr, born[:, 0], where="mid", color="tab:purple", label="frame $c^{(1st)}_t$ was written on")
    axes[3].scatter(fr[changed], born[changed, 0], color="tab:red", s=16, zorder=3, label="$c^{(1st)}_t$ changed")
    axes[3].set_xlabel("frame")
    axes[3].legend(loc="upper left", fontsize=8)
    for ax in axes:
        ax.axvspan(fr[occ > 0].min() - 0.5, fr[occ > 0].max() + 0.5, color="0.9", zorder=0)
    fig.tight_layout()
    return fig
