"""Plumbing and figures of chapters 10 (the full tracker) and 11 (reproducing OTB).

What the chapters teach stays in them: which fields of ``tracker.last`` hold what, the loop that
reads them (:func:`rankatt_lib.evaluation.run.track_sequence` with an ``on_frame``), the numbers the
prose quotes. What lives here is the copying of those fields into small numpy arrays, the replay
of the ranking on stored features, and the layout of the multi-panel figures::

    from rankatt_book import full_tracker

    frames.append(full_tracker.frame_internals(tracker, centre, side))   # in on_frame
    fig = full_tracker.internals_over_time(live)                        # PNR, peak, scale
    full_tracker.internals_row(axes, seq, run, k)                       # one frame, five panels
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch

from rankatt_book import figures
from rankatt_lib.trackers.rankatt import RankingAttentionConfig

__all__ = [
    "COLOURS",
    "GATE",
    "attribute_heatmap",
    "frame_internals",
    "internals_over_time",
    "internals_row",
    "replay_ranking",
    "scrub_jpeg",
    "speed_figure",
]

COLOURS = {"ground truth": "lime", "rankatt": "tab:orange", "crest": "tab:blue"}
"""The colours of chapter 10's boxes and curves."""

GATE = RankingAttentionConfig().parts.update_min_peak
"""The tracker's learning gate (``update_min_peak``): a frame whose peak is below it is neither
stored nor learned from (drawn as a line in :func:`internals_over_time`)."""


def frame_internals(tracker: Any, centre: np.ndarray, side: float) -> dict[str, Any]:
    """Small copies of what the pieces of a ``rankatt`` tracker computed on its last frame
    (``tracker.last``, at the chosen scale), for plotting after the run.

    Args:
        tracker: the tracker, just after ``update``.
        centre, side: the centre and search side it searched from (read before ``update``).

    Returns:
        ``frame``, ``centre``, ``side`` (at the chosen scale), ``scale``, ``peak``, ``peaks`` (every
        scale), ``stored``, ``updated``, the ranking's ``scores`` and ``order``, the ``attention``
        map, the nine ``parts`` responses, the combined ``response`` and the ``weighted`` one
        (times the motion prior), the ranked kernels' ``norms`` relative to ``h0``'s, and ``xs``:
        the ``conv4_3`` features of the scale-1 patch, the ones the ranking scored (a tensor).
    """
    last = tracker.last
    k = last.scale_index
    ref = tracker.config.search.scales.index(1.0)  # the ranking scores the scale-1 patch
    norms = tracker.ranking.kernels.flatten(1).norm(dim=1) / tracker.h0.norm()
    return dict(
        frame=last.frame,
        centre=centre,
        side=side * last.scale,
        scale=last.scale,
        peak=last.peak_value,
        peaks=last.peaks.copy(),
        stored=last.stored,
        updated=last.updated,
        scores=last.scores.cpu().numpy(),
        order=last.order.cpu().numpy(),
        attention=last.attention[k, 0].cpu().numpy(),
        parts=last.parts[k].cpu().numpy(),
        response=last.response[k].cpu().numpy(),
        weighted=last.weighted[k].cpu().numpy(),
        norms=norms.cpu().numpy(),
        xs=last.xS[ref : ref + 1].clone(),
    )


def replay_ranking(
    h0: torch.Tensor, features: Sequence[torch.Tensor], updater: Any, n_kernels: int = 3
) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray]:
    """Eq. 1-7 alone, frame by frame: a ranking of ``n_kernels`` copies of ``h0`` driven by
    ``updater`` (a :class:`rankatt_lib.components.convlstm.RankingUpdater`) on the ``conv4_3``
    ``features`` of successive frames.

    Returns:
        ``(orders, scores, norms)``: the re-ordering of every frame (Eq. 3), the ``(frames, N)``
        PNR scores, best first, and the ``(frames, N)`` kernel norms relative to ``h0``'s.
    """
    from rankatt_lib.components.ranking import Ranking

    ranking, h = Ranking.from_kernel(h0, n_kernels), h0
    orders, scores, norms = [], [], []
    with torch.no_grad():
        for xs in features:
            h, info = updater.step(ranking, h, xs)
            orders.append(tuple(info.rank.order.tolist()))
            scores.append(info.rank.scores.numpy())
            norms.append((ranking.kernels.flatten(1).norm(dim=1) / h0.norm()).numpy())
    return orders, np.array(scores), np.array(norms)


def internals_over_time(live: Mapping[str, Mapping[str, Any]]) -> Any:
    """Three rows per run (columns): the ranking's PNR scores by rank (circles: a new kernel took
    the top slot), the peak with the learning gate and the frames learned from, the chosen scale."""
    fig, axes = plt.subplots(3, len(live), figsize=(11, 5.6), sharex=True, squeeze=False)
    for col, (name, run) in enumerate(live.items()):
        fr = run["frames"]
        t = np.array([f["frame"] for f in fr])
        scores = np.array([f["scores"] for f in fr])
        ax = axes[0, col]
        for j, style in enumerate(("-", "--", ":")):
            ax.plot(t, scores[:, j], style, color="tab:purple", label=f"rank {j + 1}")
        moved = np.array([f["order"][0] != 0 for f in fr])  # a new kernel took the top slot
        ax.plot(t[moved], scores[moved, 0], "o", ms=4, mfc="none", mec="k", label="new best kernel")
        ax.set_title(f"{name} (synthetic)")
        ax.set_ylabel("PNR score")
        ax.legend(ncol=2)
        ax = axes[1, col]
        peak = np.array([f["peak"] for f in fr])
        ax.plot(t, peak, "-", color="k")
        upd = np.array([f["updated"] for f in fr])
        ax.plot(t[upd], peak[upd], "o", ms=4, color="tab:green", label="Eq. 10 update")
        ax.axhline(GATE, color="tab:red", lw=0.8, ls="--", label=f"learning gate {GATE}")
        ax.set_ylabel("peak")
        ax.legend(ncol=2)
        ax = axes[2, col]
        ax.step(t, [f["scale"] for f in fr], where="mid", color="tab:brown")
        ax.set_yticks([0.95, 1.0, 1.05])
        ax.set_ylabel("chosen scale")
        ax.set_xlabel("frame")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def internals_row(axes: Sequence[Any], seq: Any, run: Mapping[str, Any], k: int) -> None:
    """Frame ``k`` (1-based, ``k >= 2``) of a live run on five axes: the search region with the
    ground truth and the box before (dashed) and after, the attention map with the three PNR
    scores, the nine part responses as a 3 x 3 mosaic, their combination by the prior kernel, and
    the same times the motion prior with its peak."""
    f = run["frames"][k - 2]  # frames[0] is frame 2
    assert f["frame"] == k
    ax = axes[0]
    ax.set_facecolor("0.5")  # outside the image
    figures.show(ax, seq.image(k - 1), f"{seq.name} #{k}: search region\n(scale {f['scale']:.2f})")
    figures.draw_box(ax, seq.gt[k - 1], COLOURS["ground truth"])
    figures.draw_box(ax, run["boxes"][k - 2], COLOURS["rankatt"], ls="--")  # where it was
    figures.draw_box(ax, run["boxes"][k - 1], COLOURS["rankatt"])  # where it went
    (cx, cy), half = f["centre"], f["side"] / 2
    ax.set_xlim(cx - half - 1, cx + half - 1)
    ax.set_ylim(cy + half - 1, cy - half - 1)
    pnr = " / ".join(f"{s:.1f}" for s in f["scores"])
    figures.show(axes[1], f["attention"], f"attention $m_t$\nPNR {pnr}", cmap="viridis")
    p = f["parts"]  # (9, 63, 63) -> a 3 x 3 mosaic
    mosaic = np.block([[p[3 * r + c] for c in range(3)] for r in range(3)])
    figures.show(axes[2], mosaic, "9 part responses", cmap="viridis")
    for v in (63, 126):
        axes[2].axhline(v - 0.5, color="w", lw=0.6)
        axes[2].axvline(v - 0.5, color="w", lw=0.6)
    figures.show(axes[3], f["response"], "combined (prior kernel)", cmap="viridis")
    figures.show(axes[4], f["weighted"], f"× motion prior\npeak {f['peak']:.2f}", cmap="viridis")
    py, px = np.unravel_index(np.argmax(f["weighted"]), f["weighted"].shape)
    axes[4].plot(px, py, "r+", ms=10, mew=2)


def speed_figure(bench: Mapping[str, Any], t4: Mapping[str, Any] | None, labels: Mapping[str, str]) -> Any:
    """The CPU benchmark of ``rankatt bench`` (``results/bench/cpu.json``): mean ms per component
    (beside the ``T = 4`` variant's when ``t4`` is given; ``labels`` names the components) and
    the mean (median as a tick) per frame of rankatt, VGG16 alone, CREST and CSRT."""
    meta, mean, med, r = bench["meta"], bench["mean_ms"], bench["median_ms"], bench["ratios"]
    comp = bench["components_ms"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw=dict(width_ratios=[1.4, 1]))
    y = np.arange(len(comp))[::-1]
    dy = 0.2 if t4 else 0
    ax1.barh(y + dy, list(comp.values()), 0.4, color="tab:orange", label="rankatt (T = 12)")
    for yy, v in zip(y, comp.values(), strict=True):
        share = 100 * v / mean["rankatt"]
        ax1.text(v, yy + dy, f" {v:.0f} ms ({share:.0f}%)", va="center", fontsize=7)
    if t4:
        t4_ms = [t4["components_ms"].get(k, np.nan) for k in comp]
        ax1.barh(y - 0.2, t4_ms, 0.4, color="tab:orange", alpha=0.4, label="rankatt-t4 (T = 4)")
        ax1.legend(loc="lower right")
    ax1.set_yticks(y)
    ax1.set_yticklabels([labels.get(k, k) for k in comp])
    ax1.set_xlabel("mean ms per frame")
    ax1.set_xlim(0, 1.35 * max(comp.values()))
    ax1.set_title(f"rankatt per component (CPU)\n{meta['device_name']}, torch {meta['torch_version']}")
    keys = [k for k in ("csrt", "crest", "backbone", "rankatt") if k in mean]
    names = {"backbone": "VGG16 alone", "crest": "CREST", "csrt": "CSRT"}
    colours = ["tab:gray", "tab:blue", "tab:green", "tab:orange"][: len(keys)]
    ax2.barh([names.get(k, k) for k in keys], [mean[k] for k in keys], color=colours)
    ax2.plot([med[k] for k in keys], range(len(keys)), "k|", ms=14, label="median")
    target = bench["target_ratio_cpu"]
    ax2.axvline(target * mean["backbone"], color="k", ls="--", lw=0.8, label=f"target: {target} x VGG16")
    ax2.legend(loc="lower right")
    ax2.set_xlabel("mean ms per frame")
    ax2.set_title(
        f"rankatt / VGG16 = {r['rankatt/backbone']:.2f} (target <= {target})\nrankatt / CSRT = {r['rankatt/csrt']:.0f}"
    )
    fig.tight_layout()
    return fig


def scrub_jpeg(
    seq: Any, boxes: Sequence[tuple[Sequence[np.ndarray], tuple[int, int, int]]], i: int, scale: float = 0.6
) -> bytes:
    """Frame ``i`` (0-based) of ``seq`` with the boxes of every ``(trajectory, BGR colour)`` pair,
    drawn with OpenCV at ``scale`` times the size and numbered, as a small JPEG (a slider page)."""
    img = cv2.cvtColor(seq.image(i), cv2.COLOR_RGB2BGR)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for trajectory, colour in boxes:
        b = trajectory[i]
        if b[2] > 0 and b[3] > 0:
            x0, y0 = (b[:2] - 1) * scale  # OpenCV's pixel indices are 0-based, OTB's 1-based
            x1, y1 = x0 + b[2] * scale, y0 + b[3] * scale
            cv2.rectangle(img, (round(x0), round(y0)), (round(x1), round(y1)), colour, 1)
    cv2.putText(img, f"#{i + 1}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()


def attribute_heatmap(table: Any, title: str) -> Any:
    """A table of AUC per attribute (rows trackers, columns attributes) as a heat map with the
    values written in the cells (chapter 11)."""
    return figures.annotated_heatmap(
        table.to_numpy(), list(table.index), list(table.columns), title, ".2f",
        lambda v: v <= 0.55, 0.45 * len(table) + 1.2, cmap="viridis", vmin=0, vmax=0.8,
    )
