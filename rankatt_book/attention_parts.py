"""Figures of chapters 8 (attention) and 9 (the part-based tracker).

Maps drawn in the coordinates of the search patch, boxes and the 3 x 3 grid of parts on it, the
panels of the paper's Fig. 3 and the pages of the chapters' sliders. Nothing here computes what
the chapters teach: the attention map, its weights, the part responses and the measures stay in
the chapters; this module only draws them.

A tracked frame of chapter 8 is a dict with ``frame`` (1-based), ``centre`` and ``side`` (the
search square the tracker cut, image pixels), ``gt`` and ``box`` (OTB boxes of that frame),
``patch`` (``(1, 3, 255, 255)`` float RGB), ``m`` (the attention map ``(1, 1, 31, 31)``) and ``xL``
(the ``conv3_3`` features ``(1, 256, 63, 63)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from rankatt_book import figures
from rankatt_lib.components.attention import apply_attention, normalise_attention, upsample_attention

__all__ = [
    "as_image",
    "box_in_patch",
    "draw_grid",
    "draw_patch_box",
    "fig3_page",
    "fig3_row",
    "occlusion_page",
    "show_cells",
    "window",
]

PATCH = 255
"""Side of the search patch in pixels."""


def as_image(patch: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` float RGB patch (0..255) as an ``(H, W, 3)`` ``uint8`` image."""
    return patch[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()


def show_cells(ax: Any, fmap: Any, stride: int, title: str | None = None, **imshow: Any) -> None:
    """A feature or attention map drawn in patch pixels: cell ``i`` of a map of stride ``stride``
    covers ``stride * i - 0.5`` to ``stride * (i + 1) - 0.5``; the axes show the whole patch, grey
    where the map does not reach."""
    n = fmap.shape[-1]
    ext = (-0.5, stride * n - 0.5, stride * n - 0.5, -0.5)
    figures.show(ax, fmap, title, extent=ext, **imshow)
    ax.set_xlim(-0.5, PATCH - 0.5)
    ax.set_ylim(PATCH - 0.5, -0.5)
    ax.set_facecolor("0.85")


def box_in_patch(f: Mapping[str, Any], box: Sequence[float] | None = None) -> tuple[float, ...]:
    """A box of tracked frame ``f`` (default: its ground truth) in the frame's search patch:
    ``(left, top, right, bottom)`` edges in patch pixels (pixel ``i`` centred on ``i``).

    The patch is the square of side ``f["side"]`` image pixels around ``f["centre"]``, resampled to
    255 pixels, so the centre falls on patch pixel 127; OTB's pixel ``x`` (1-based) spans
    ``x - 0.5`` to ``x + 0.5`` in image coordinates.
    """
    x, y, w, h = f["gt"] if box is None else box
    k = PATCH / f["side"]  # patch pixels per image pixel
    cx, cy = f["centre"]
    c = (PATCH - 1) / 2
    return (c + (x - 0.5 - cx) * k, c + (y - 0.5 - cy) * k,
            c + (x + w - 0.5 - cx) * k, c + (y + h - 0.5 - cy) * k)


def draw_patch_box(ax: Any, f: Mapping[str, Any], box: Sequence[float] | None = None,
                   colour: str = "lime", **patch: Any) -> None:
    """Draw a box of tracked frame ``f`` (default: its ground truth) on its search patch, with
    :func:`rankatt_book.figures.draw_box` (the patch's pixel ``x`` 1-based, edge at ``x - 1.5``)."""
    left, top, right, bottom = box_in_patch(f, box)
    otb = (left + 1.5, top + 1.5, right - left, bottom - top)
    figures.draw_box(ax, otb, colour, **{"lw": 1.2, **patch})


def fig3_row(axes: Sequence[Any], name: str, f: Mapping[str, Any], titles: bool = True,
             tracker_box: bool = False) -> None:
    """The paper's Fig. 3 for tracked frame ``f`` on five axes: the patch with the ground truth
    (and the tracker's box, red and dashed), (a) the channel mean of ``xL``, (b) the weights
    ``a(up(m))``, (c) the channel mean with the residual attention, (c') with plain
    multiplication; (a), (c) and (c') on one colour scale."""
    maps = {v: apply_attention(f["xL"], f["m"], v)[0].mean(0) for v in ("none", "residual", "multiply")}
    a = normalise_attention(upsample_attention(f["m"], (63, 63)))[0, 0]
    vmax = float(maps["residual"].max())
    figures.show(axes[0], as_image(f["patch"]), f"{name}, frame {f['frame']}")
    draw_patch_box(axes[0], f)
    if tracker_box:
        draw_patch_box(axes[0], f, f["box"], "tab:red", ls="--")
    panels = (
        (maps["none"], "(a) $x^L$, channel mean", "magma", vmax),
        (a, "(b) attention $a(m_t)$", "viridis", 1),
        (maps["residual"], "(c) $x^L(1 + a)$", "magma", vmax),
        (maps["multiply"], "(c') $x^L a$", "magma", vmax),
    )
    for ax, (fmap, title, cmap, top) in zip(axes[1:], panels, strict=True):
        show_cells(ax, fmap, 4, title if titles else None, cmap=cmap, vmin=0, vmax=top)
        draw_patch_box(ax, f, lw=0.8, ls="--")


def fig3_page(name: str, f: Mapping[str, Any], suptitle: str) -> bytes:
    """One page of chapter 8's slider: :func:`fig3_row` with the tracker's box, as JPEG bytes."""
    fig, axes = plt.subplots(1, 5, figsize=(8.5, 2.05))
    fig3_row(axes, name, f, tracker_box=True)
    fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return figures.jpeg_bytes(fig, dpi=64, quality=70)


def draw_grid(ax: Any, box: Sequence[float], color: str = "w", lw: float = 1.0) -> None:
    """The 3 x 3 grid of parts of a box ``(cx, cy, w, h)`` (patch pixels, image pixels or cells,
    whatever the axes show)."""
    cx, cy, w, h = box
    x0, y0 = cx - w / 2, cy - h / 2
    for k in range(4):
        ax.plot([x0 + k * w / 3, x0 + k * w / 3], [y0, y0 + h], color=color, lw=lw)
        ax.plot([x0, x0 + w], [y0 + k * h / 3, y0 + k * h / 3], color=color, lw=lw)


def window(m: Any, centre: float, half: int = 16) -> Any:
    """The ``(2 half + 1)^2`` cells of a square map around cell ``(centre, centre)``, for display."""
    c = int(round(centre))
    return m[c - half:c + half + 1, c - half:c + half + 1]


def occlusion_page(image: np.ndarray, title: str, responses: Mapping[str, np.ndarray],
                   centre: tuple[float, float]) -> bytes:
    """One page of chapter 9's occlusion slider, as JPEG bytes: the occluded patch, then each
    model's response with its peak (white circle) and the true centre (green cross, in cells)."""
    fig, axes = plt.subplots(1, 1 + len(responses), figsize=(7.5, 2.6))
    figures.show(axes[0], image, title)
    for ax, (name, r) in zip(axes[1:], responses.items(), strict=True):
        i, j = np.unravel_index(np.argmax(r), r.shape)
        figures.show(ax, r, f"{name}: peak {r[i, j]:.2f}", cmap="viridis", vmin=-0.1, vmax=0.7)
        ax.plot(*centre, "+", color="lime", ms=12, mew=2)
        ax.plot(j, i, "o", mfc="none", mec="w", ms=10, mew=1.5)
    fig.tight_layout()
    return figures.jpeg_bytes(fig, dpi=72, quality=75)
