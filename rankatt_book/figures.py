"""Figures: images without axes, OTB boxes on them, and JPEG output for photographic figures."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

__all__ = ["annotated_heatmap", "draw_box", "jpeg_bytes", "png_bytes", "show", "show_jpeg"]


def show(ax: Any, image: Any, title: str | None = None, **imshow: Any) -> Any:
    """``ax.imshow(image, **imshow)`` without ticks, with an optional title; returns the image."""
    im = ax.imshow(image, **imshow)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return im


def draw_box(ax: Any, box: Sequence[float], colour: str = "lime", **patch: Any) -> None:
    """Draw an OTB box on an image shown by ``imshow``.

    OTB boxes are ``x, y, w, h`` with the top-left pixel at ``1, 1``; ``imshow`` centres pixel
    ``i`` (0-based) on ``i``, so pixel ``x`` (1-based) spans ``x - 1.5`` to ``x - 0.5`` and the
    box's edge is at ``x - 1.5``. An empty box (``w`` or ``h`` <= 0: the target is out of view)
    draws nothing.
    """
    b = np.asarray(box, dtype=float)
    if b[2] > 0 and b[3] > 0:
        ax.add_patch(plt.Rectangle(b[:2] - 1.5, b[2], b[3], fill=False, ec=colour, **{"lw": 1.5, **patch}))


def jpeg_bytes(fig: Any, dpi: int = 80, quality: int = 80) -> bytes:
    """The figure as JPEG bytes (and closed): photographs and textured frames are ten times
    smaller as JPEG than as PNG, and the book stores every figure it shows."""
    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", dpi=dpi, pil_kwargs={"quality": quality})
    plt.close(fig)
    return buf.getvalue()


def png_bytes(fig: Any, dpi: int = 70, colours: int | None = 64) -> bytes:
    """The figure as PNG bytes (and closed); line art with a palette of ``colours`` colours stays
    sharp at a third of the size (``None``: full colour)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    if colours is None:
        return buf.getvalue()
    small = io.BytesIO()
    buf.seek(0)
    PILImage.open(buf).convert("RGB").quantize(colors=colours).save(small, format="png", optimize=True)
    return small.getvalue()


def show_jpeg(fig: Any, dpi: int = 80, quality: int = 80) -> None:
    """Display the figure as a JPEG (and close it)."""
    display(Image(jpeg_bytes(fig, dpi, quality), format="jpeg"))


def annotated_heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    fmt: str,
    white_text: Any,
    height: float,
    **imshow: Any,
) -> Any:
    """A table as a heat map with each value written in its cell (``fmt``), white where
    ``white_text(value)`` says so; ``imshow`` takes the colour map and its limits. Returns the figure."""
    fig, ax = plt.subplots(figsize=(9.5, height))
    im = ax.imshow(values, aspect="auto", **imshow)
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_yticks(range(len(rows)), rows)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7, color="w" if white_text(v) else "k")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    return fig
