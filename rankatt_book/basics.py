"""Figure plumbing of the first chapters (00-03): nothing here is taught, it only draws.

* :func:`jpeg_inline`: chapters 2 and 3 show photographs in every figure, so their inline
  figures are stored as JPEG;
* :func:`sequence_strips`: frames of benchmark sequences with their ground truth (chapter 1);
* :func:`centred`: a cyclic response map drawn with shift 0 in the middle (chapter 2);
* :func:`as_image`, :func:`show_map`, :func:`draw_match_case`: search patches and the response
  maps of template matching drawn over them (chapter 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from rankatt_book import figures

__all__ = ["as_image", "centred", "draw_match_case", "jpeg_inline", "sequence_strips", "show_map"]


def jpeg_inline(quality: int = 85) -> None:
    """Store the notebook's inline figures as JPEG (a PNG of a photograph is several times larger)."""
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("jpeg", pil_kwargs={"quality": quality})


def sequence_strips(dataset: Any, names: Sequence[str], frames: int = 6, row_height: float = 2.0) -> Any:
    """One row per sequence of ``dataset``: ``frames`` frames spread over the sequence, with the
    ground-truth box (green; none where the target is out of view) and, left of the row, the
    sequence's name and attributes. Returns the figure."""
    fig, axes = plt.subplots(len(names), frames, figsize=(13, row_height * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        seq = dataset[name]
        for ax, i in zip(row, np.linspace(0, len(seq) - 1, frames).round().astype(int), strict=True):
            image = seq.image(i)
            figures.show(ax, image, f"#{i + 1}")
            ax.title.set_fontsize(8)
            figures.draw_box(ax, seq.gt[i], "lime")
            ax.axis("off")
        label = f"{name}\n{','.join(dataset.attributes_of(name))}"
        row[0].text(-10, image.shape[0] / 2, label, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def centred(r: Any) -> np.ndarray:
    """A cyclic map stored with shift 0 at index ``[0, 0]``, rolled so that shift 0 is drawn in the
    middle (``fftshift``)."""
    return torch.fft.fftshift(torch.as_tensor(r)).cpu().numpy()


def as_image(patch: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` or ``(3, H, W)`` image tensor as an ``(H, W, 3)`` array for ``imshow``."""
    return patch.reshape(-1, *patch.shape[-3:])[0].permute(1, 2, 0).cpu().numpy()


def show_map(ax: Any, r: np.ndarray, xs: np.ndarray, ys: np.ndarray, truth: Any, title: str) -> None:
    """A response map drawn over the 255 x 255 search patch: cell ``(i, j)`` at ``(xs[j], ys[i])``
    (grey where there is no cell), the truth as a green cross and the best match as a white
    circle."""
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[-1] + dy / 2, ys[0] - dy / 2)
    figures.show(ax, r, title, cmap="viridis", extent=extent)
    ax.set_xlim(0, 255)
    ax.set_ylim(255, 0)
    ax.set_facecolor("0.85")
    ax.plot(*truth, "+", color="lime", ms=14, mew=2)
    i, j = np.unravel_index(np.argmax(r), r.shape)
    ax.plot(xs[j], ys[i], "o", mfc="none", mec="w", ms=12, mew=1.5)


def draw_match_case(
    axes: Sequence[Any], res: Mapping[str, Any], name: str, representations: Sequence[str], better: str, worse: str
) -> None:
    """One row of chapter 3's matching figure: the frame of sequence ``name`` where ``better``
    beats ``worse`` by the widest margin, then the response map of each representation on it.

    ``res`` holds, per frame, the search ``patches``, the ``truth`` (target centre in the patch),
    the frame numbers (``frames``), and per representation the ``errors`` and the ``maps``
    (``(r, xs, ys)``).
    """
    b = int(np.argmax(res["errors"][worse] - res["errors"][better]))
    t = res["truth"][b]
    figures.show(axes[0], as_image(res["patches"][b]), f"{name}, frame {res['frames'][b]}")
    axes[0].plot(*t, "+", color="lime", ms=14, mew=2)
    for ax, rep in zip(axes[1:], representations, strict=True):
        show_map(ax, *res["maps"][rep][b], t, f"{rep}: error {res['errors'][rep][b]:.0f} px")
