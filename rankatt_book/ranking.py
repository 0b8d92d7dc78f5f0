"""Figures of chapters 6 (the ranking) and 7 (ConvLSTM updates). Not part of the library.

Layout code that teaches nothing: the chapters compute every number they show and pass it here to
be drawn. Each function makes one figure of the chapter, lays it out and returns it (or, for the
pages of a slider, its JPEG bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rankatt_book import figures

__all__ = [
    "COLOURS",
    "plot_clip_responses",
    "plot_fixed_ranking",
    "plot_replay",
    "plot_step_and_clip_losses",
    "plot_tracker_ranking",
    "plot_training_runs",
    "ranked_maps_page",
    "shade_occlusion",
]

COLOURS = ["tab:blue", "tab:red", "tab:green"]
"""One colour per kernel (chapter 6: c65, c76, c86) or per rank."""


def shade_occlusion(ax: Any, frames: Sequence[int], occ: Sequence[float]) -> None:
    """Shade the frames where the occluder covers the target: light grey above 10 %, darker above
    50 % (``occ`` is the covered fraction of each of ``frames``)."""
    for thr, alpha in ((0.1, 0.15), (0.5, 0.3)):
        for f, o in zip(frames, occ, strict=True):
            if o > thr:
                ax.axvspan(f - 0.5, f + 0.5, color="0.3", alpha=alpha, lw=0)


# --- chapter 6 -------------------------------------------------------------------------------


def plot_fixed_ranking(
    frames: np.ndarray,
    scores: np.ndarray,
    rank_of: np.ndarray,
    occlusion: np.ndarray,
    names: Sequence[str],
    fit_frames: Sequence[int],
    title: str,
) -> Any:
    """Three fixed kernels ranked on every frame: their PNR scores (log scale, dotted lines at the
    frames they were fitted on) above, their ranks below; ``scores`` and ``rank_of`` are
    ``(frames, kernels)`` and ``occlusion`` the covered fraction of each of ``frames``."""
    fig, axes = plt.subplots(2, 1, figsize=(9.5, 4.6), sharex=True, gridspec_kw=dict(height_ratios=[3, 1.2]))
    ax = axes[0]
    shade_occlusion(ax, frames, occlusion)
    for k in range(len(names)):
        ax.plot(
            frames, scores[:, k], "o-", ms=3, color=COLOURS[k], label=f"{names[k]} (fitted on frame {fit_frames[k]})"
        )
        ax.axvline(fit_frames[k], color=COLOURS[k], lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylabel("PNR score $s^i_t$")
    ax.legend(loc="lower left", ncol=3)
    ax.set_title(title)
    ax = axes[1]
    shade_occlusion(ax, frames, occlusion)
    for k in range(len(names)):
        ax.scatter(frames, rank_of[:, k] + 1, color=COLOURS[k], s=14)
    ax.set_yticks([1, 2, 3])
    ax.set_ylim(3.5, 0.5)
    ax.set_ylabel("rank")
    ax.set_xlabel("frame (grey: target occluded > 10 % / > 50 %)")
    fig.tight_layout()
    return fig


def ranked_maps_page(
    patch: np.ndarray,
    title: str,
    maps: np.ndarray,
    rank: np.ndarray,
    scores: np.ndarray,
    names: Sequence[str],
    centre: float,
) -> bytes:
    """One slider page (JPEG): the search patch, then the kernels' response maps ``maps`` (one per
    kernel) in rank order (``rank[k]``: 0 = best), titled with their PNR ``scores``; a white cross
    at the patch centre ``(centre, centre)`` in cells."""
    fig, axes = plt.subplots(1, 4, figsize=(8.4, 2.3))
    figures.show(axes[0], patch, title)
    vmax = maps.max()
    for ax, k in zip(axes[1:], np.argsort(rank), strict=True):
        figures.show(
            ax, maps[k], f"#{rank[k] + 1} {names[k]}: PNR {scores[k]:.1f}", cmap="viridis", vmin=-0.3 * vmax, vmax=vmax
        )
        ax.title.set_color(COLOURS[k])
        ax.plot(centre, centre, "+", color="w", ms=8)
    fig.tight_layout()
    return figures.jpeg_bytes(fig, dpi=60, quality=75)


def plot_tracker_ranking(log: Sequence[Mapping[str, Any]], occlusion: np.ndarray, title: str) -> Any:
    """The tracker's ranking frame by frame, from rows with ``frame``, ``scores`` (rank order),
    ``born`` (the frame each ranked kernel was made on) and ``err`` (centre error): the scores
    (log scale), the kernels' ages and the centre error; ``occlusion`` is indexed by frame - 1."""
    F_ = np.array([r["frame"] for r in log])
    S_ = np.array([r["scores"] for r in log])
    B_ = np.array([r["born"] for r in log])
    fig, axes = plt.subplots(3, 1, figsize=(9.5, 6.4), sharex=True, gridspec_kw=dict(height_ratios=[2, 1.4, 1.2]))
    ax = axes[0]
    shade_occlusion(ax, F_, occlusion[F_ - 1])
    for j, lab in enumerate(("1st (best)", "2nd", "3rd (replaced)")):
        # the best one thicker: ties are frequent
        ax.plot(F_, S_[:, j], "o-", ms=6 if j == 0 else 3, lw=3 if j == 0 else 1.5, color=COLOURS[j], label=lab)
    ax.set_yscale("log")
    ax.set_ylabel("PNR score")
    ax.legend(loc="lower left", ncol=3)
    ax.set_title(title)
    ax = axes[1]
    shade_occlusion(ax, F_, occlusion[F_ - 1])
    for j in range(3):
        ax.plot(F_, F_ - B_[:, j], "o", ms=8 if j == 0 else 4, color=COLOURS[j])
    ax.set_ylabel("age of the kernel\n(frames)")
    ax.set_ylim(-0.5, (F_[:, None] - B_).max() + 0.5)
    ax = axes[2]
    shade_occlusion(ax, F_, occlusion[F_ - 1])
    ax.plot(F_, [r["err"] for r in log], "k.-")
    ax.set_ylabel("centre error (px)")
    ax.set_xlabel("frame")
    fig.tight_layout()
    return fig


def plot_replay(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Mapping[str, str],
    frames: np.ndarray,
    occlusion: np.ndarray,
) -> Any:
    """The replays of chapter 6, one line per run: the age of the kernel ranked first (top) and its
    norm relative to h0 (bottom, log scale); rows with ``frame``, ``born`` and ``c1st``."""
    fig, axes = plt.subplots(2, 1, figsize=(9.5, 4.6), sharex=True)
    for (key, rows), col, off in zip(runs.items(), COLOURS, (-0.15, 0, 0.15), strict=False):
        F_ = np.array([r["frame"] for r in rows])
        axes[0].plot(
            F_ + off, [r["frame"] - r["born"][0] for r in rows], "o-", ms=3, lw=0.8, color=col, label=labels[key]
        )
        axes[1].plot(F_, [r["c1st"] for r in rows], "o-", ms=3, lw=0.8, color=col)
    for ax in axes:
        shade_occlusion(ax, frames, occlusion)
    axes[0].set_ylabel("age of $c^{(1st)}_t$ (frames)")
    axes[0].legend(loc="upper left")
    axes[0].set_title("The replay (synthetic): which kernel the ranking picks, and its norm")
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"$|c^{(1st)}_t| \,/\, |h_0|$")
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    return fig


# --- chapter 7 -------------------------------------------------------------------------------


def plot_training_runs(
    runs: Mapping[str, tuple[str, Mapping[str, Any], str]], histories: Mapping[str, np.ndarray]
) -> Any:
    """The stored training runs side by side: per epoch, the training and validation losses
    (``histories[tag]``, a record array with ``epoch``, ``train_rel``, ``val_rel``), the run's
    validation baselines and its best epoch (from its JSON record ``runs[tag][1]``)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(12.0, 3.4), sharey=True)
    for ax, (tag, (_, rec, title)) in zip(axes, runs.items(), strict=True):
        hist = histories[tag]
        ax.plot(hist["epoch"], hist["train_rel"], "o-", ms=4, label="train (32-clip subset)")
        ax.plot(hist["epoch"], hist["val_rel"], "s-", ms=4, label="validation")
        v = rec["results"]["val"]
        ax.axhline(v["fixed"]["rel"], color="k", ls="--", lw=1, label="val: h0 kept fixed")
        ax.axhline(v["untrained"]["rel"], color="tab:red", ls=":", lw=1.2, label="val: untrained updater")
        ax.axvline(rec["training"]["best_epoch"], color="0.6", lw=0.8)
        ax.set_title(f"{tag}: {title}\nbest epoch {rec['training']['best_epoch']}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Eq. 9 / zero kernel")
    axes[-1].legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_step_and_clip_losses(
    steps: Mapping[str, Sequence[float]], per_clip: Mapping[str, Mapping[str, Sequence[float]]]
) -> Any:
    """A training run's record drawn: Eq. 9 per update step on the validation clips (``steps``:
    ``fixed``, ``untrained``, ``trained``, ``refit``), then per clip, trained against h0 kept
    fixed, on the validation and the training clips (``per_clip["val"]``, ``per_clip["train"]``)."""
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.3), gridspec_kw=dict(width_ratios=[1.3, 1, 1]))
    ax = axes[0]
    for key, label, st in (
        ("fixed", "h0 kept fixed", "k--"),
        ("untrained", "untrained", "r:"),
        ("trained", "trained (shipped, cn)", "o-"),
        ("refit", "refit on t-1 (oracle)", "s-"),
    ):
        ax.plot(range(2, 2 + len(steps[key])), steps[key], st, ms=4, label=label)
    ax.set_xlabel("clip frame t")
    ax.set_ylabel("Eq. 9 (validation clips)")
    ax.set_title("loss per update step")
    ax.legend()
    ax.grid(alpha=0.3)
    splits = (("validation", per_clip["val"]), ("training", per_clip["train"]))
    for ax, (split, pc) in zip(axes[1:], splits, strict=True):
        fx, tr = np.array(pc["fixed"]), np.array(pc["trained"])
        ax.loglog(fx, tr, ".", ms=6 if split == "validation" else 4)
        lim = [min(fx.min(), tr.min()) * 0.8, max(fx.max(), tr.max()) * 1.2]
        ax.plot(lim, lim, "k-", lw=0.8)
        ax.set_xlabel("Eq. 9, h0 kept fixed")
        ax.set_ylabel("Eq. 9, trained updater")
        ax.set_title(f"{split} clips: updater better on {(tr < fx).sum()} of {len(fx)}")
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_clip_responses(
    patches: Sequence[np.ndarray],
    targets: Sequence[tuple[float, float]],
    frame_numbers: Sequence[int],
    labels: Any,
    r_fixed: Any,
    r_tr: Any,
    l_fixed: Any,
    l_tr: Any,
    extent: tuple[float, ...],
) -> Any:
    """A clip frame by frame (one column per update step): the search patch with the target
    (``targets``, patch pixels), the label, the response of h0 kept fixed and of the trained
    h_t, each titled with its Eq. 9 x 1e4 (``l_fixed``, ``l_tr``); maps drawn on ``extent``."""
    n = len(patches)
    fig, axes = plt.subplots(4, n, figsize=(11.0, 6.6))
    vmax = float(max(r_fixed.max(), r_tr.max(), 1.0))
    maps = dict(vmin=-0.2, vmax=vmax, extent=extent)
    for j in range(n):
        figures.show(axes[0, j], patches[j], f"frame {frame_numbers[j]}")
        axes[0, j].plot(*targets[j], "+", color="lime", ms=10, mew=2)
        figures.show(axes[1, j], labels[j].numpy(), "label $y^S_t$" if j == 0 else None, **maps)
        figures.show(axes[2, j], r_fixed[j].numpy(), f"$h_0$: {l_fixed[j] * 1e4:.1f}", **maps)
        figures.show(axes[3, j], r_tr[j].numpy(), f"trained: {l_tr[j] * 1e4:.1f}", **maps)
    axes[1, 0].set_ylabel("label")
    axes[2, 0].set_ylabel("$h_0 * x^S_t$")
    axes[3, 0].set_ylabel("$h_t * x^S_t$")
    fig.tight_layout()
    return fig
