"""Figures of chapters 4 (a convolutional tracker) and 5 (PNR scoring).

Layout code that teaches nothing about tracking: the chapters compute every number they plot and
pass it in; these functions only draw. Each returns the figure (assign it, ``fig = ...``, so that
Jupyter shows it once) or, for a slider's page, its JPEG bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rankatt_book import figures

__all__ = [
    "BOX_STYLES",
    "frame_page",
    "frame_with_boxes",
    "init_loss_figure",
    "pnr_timeline_figure",
    "timing_figure",
    "tracking_record_figure",
]

BOX_STYLES = (("lime", "-"), ("tab:orange", "--"), ("tab:blue", ":"))
"""The book's order of boxes on a frame: ground truth (solid lime), a first tracker (dashed
orange), a second one (dotted blue)."""


def frame_with_boxes(
    ax: Any, image: Any, boxes: Sequence[Any], title: str | None = None, fontsize: int = 8
) -> None:
    """``image`` without axes, with the OTB ``boxes`` drawn in :data:`BOX_STYLES` order."""
    ax.imshow(image)
    for box, (colour, ls) in zip(boxes, BOX_STYLES, strict=False):  # up to 3 boxes
        figures.draw_box(ax, box, colour, ls=ls)
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


def init_loss_figure(
    losses: Sequence[float],
    checks: Sequence[tuple[int, float]],
    steps: int,
    threshold: float,
    title: str,
) -> Any:
    """Frame-1 training: the loss at every step (``losses``), the checks the library made
    (``(step, loss)`` pairs), the threshold and where training stopped; beside it, the same
    curve zoomed in on steps 10-120 near the threshold."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 2.8), gridspec_kw=dict(width_ratios=(1.4, 1)))
    ax = axes[0]
    ax.plot(losses, lw=1.2, label="CREST loss, every step (by hand)")
    hs, hv = zip(*checks, strict=True)
    ax.plot(hs, hv, "o", color="tab:orange", ms=5, label="the library's checks")
    ax.set_yscale("symlog", linthresh=0.01)  # linear near 0: the loss can be exactly 0
    ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.axvline(steps, color="0.5", lw=0.8)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax = axes[1]
    ax.plot(losses, lw=1.2)
    ax.axhline(threshold, color="tab:red", ls="--", lw=1)
    ax.set_ylim(0, 0.3)
    ax.set_xlim(10, 120)
    ax.set_xlabel("Adam step")
    ax.set_title("the same, zoomed in")
    fig.tight_layout()
    return fig


def tracking_record_figure(
    log: Sequence[Mapping[str, Any]],
    boxes: np.ndarray,
    gt: np.ndarray,
    scales: Sequence[float],
    update_frames: Sequence[int],
    min_peak: float,
) -> Any:
    """A CREST-style run frame by frame: the peak of every scale's weighted response (``log``
    entries with ``frame``, ``peaks``, ``peak``, ``scale``; the trained frames marked, the gate
    ``min_peak`` dashed), the selected scale, and the box size against the ground truth's."""
    f = np.array([e["frame"] for e in log])
    allpeaks = np.array([e["peaks"] for e in log])  # (frames, scales)
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.9))
    ax = axes[0]
    for s, (name, col) in enumerate(zip(scales, ("k", "tab:blue", "tab:red"), strict=False)):
        ax.plot(f, allpeaks[:, s], "-", color=col, lw=1, label=f"scale {name:g}")
    upd = np.array(update_frames)
    ax.plot(upd, [log[u - 2]["peak"] for u in upd], "|", color="tab:green", ms=8, label="trained")
    ax.axhline(min_peak, color="tab:red", ls="--", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("frame")
    ax.set_title("peak of the weighted response")
    ax.legend(loc="lower left", ncol=2)
    ax = axes[1]
    ax.plot(f, [e["scale"] for e in log], "o", ms=3)
    ax.set_yticks(scales)
    ax.set_xlabel("frame")
    ax.set_title("selected scale")
    ax = axes[2]
    k = np.arange(1, len(boxes) + 1)
    ax.plot(k, np.sqrt(gt[:, 2] * gt[:, 3]), color="lime", lw=2, label="ground truth")
    ax.plot(k, np.sqrt(boxes[:, 2] * boxes[:, 3]), "--", color="tab:orange", label="CREST")
    ax.set_xlabel("frame")
    ax.set_title(r"box size $\sqrt{wh}$ (px)")
    ax.legend()
    fig.tight_layout()
    return fig


def frame_page(
    image: Any,
    boxes: Sequence[Any],
    title: str,
    response: np.ndarray,
    scale: float,
    dpi: int = 60,
    quality: int = 75,
) -> bytes:
    """One page of a tracking slider, as JPEG bytes: the frame with its boxes (ground truth
    first) and the weighted response of the selected ``scale``."""
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.5), gridspec_kw=dict(width_ratios=(4, 3)))
    frame_with_boxes(axes[0], image, boxes, title, fontsize=9)
    figures.show(axes[1], response, f"response (scale {scale:g}), peak {response.max():.2f}",
                 vmin=-0.2, vmax=1.0)
    fig.tight_layout()
    return figures.jpeg_bytes(fig, dpi=dpi, quality=quality)


def timing_figure(
    other_frames: np.ndarray, train_frames: np.ndarray, bench: Mapping[str, Any]
) -> Any:
    """Stored per-frame times of the CREST-style tracker (frames with and without training, up
    to 1.2 s) beside ``rankatt bench``'s per-frame times (VGG16 alone, the whole update)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.9))
    ax = axes[0]
    bins = np.linspace(0.5, 1.2, 36)
    ax.hist(other_frames[other_frames <= 1.2], bins, alpha=0.6,
            label="frames 2, 4, ... (no training)")
    ax.hist(train_frames[train_frames <= 1.2], bins, alpha=0.6,
            label="frames 3, 5, ... (2 Adam steps)")
    ax.set_xlabel("seconds per frame (stored; frames up to 1.2 s)")
    ax.set_title("CREST-style tracker, synthetic test split")
    ax.legend()
    ax = axes[1]
    for key, col, label in (("backbone", "tab:gray", "VGG16 alone"),
                            ("crest", "tab:orange", "CREST-style update")):
        ms = np.array(bench["per_frame_ms"][key])
        ax.plot(np.arange(3, 3 + len(ms)), ms / 1000, "o-", ms=3, color=col, label=label)
    ax.set_xlabel(f"frame of {bench['meta']['sequence']}")
    ax.set_ylabel("seconds")
    ax.set_ylim(0, None)
    ax.set_title("results/bench/cpu.json (a quiet machine)")
    ax.legend()
    fig.tight_layout()
    return fig


def pnr_timeline_figure(
    runs: Mapping[str, Mapping[str, np.ndarray]], attributes_of: Callable[[str], Sequence[str]]
) -> Any:
    """Chapter 5: per sequence, the PNR of a kernel's response over the frames (log scale; the
    runs of consecutive frames joined) and its peak error in cells (red; circles where it is
    more than 2 cells). ``runs[name]`` holds ``frames`` (1-based), ``pnr`` and ``err``."""
    fig, axes = plt.subplots(len(runs), 1, figsize=(9.5, 2.6 * len(runs)), squeeze=False)
    for ax, (name, res) in zip(axes[:, 0], runs.items(), strict=True):
        f, s, e = res["frames"], res["pnr"], res["err"]
        seg = np.split(np.arange(len(f)), np.flatnonzero(np.diff(f) > 1) + 1)
        for idx in seg:
            ax.plot(f[idx], s[idx], "o-", ms=3, color="tab:blue")
        wrong = e > 2
        ax.plot(f[wrong], s[wrong], "o", ms=5, mfc="none", mec="tab:red", mew=1.5,
                label="peak > 2 cells from the target")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("PNR of $h_0 * x^S_t$")
        ax2 = ax.twinx()
        for idx in seg:
            ax2.plot(f[idx], e[idx], "-", color="tab:red", lw=0.8, alpha=0.6)
        ax2.set_ylabel("peak error (cells)", color="tab:red")
        ax2.set_ylim(0, 20)
        ax.set_title(f"{name} ({','.join(attributes_of(name))}), synthetic")
        ax.legend(loc="upper right")
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    return fig
