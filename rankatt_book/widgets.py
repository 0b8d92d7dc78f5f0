"""The one widget of the book: a slider over pre-rendered pages (frames, parameter values).

The pages are rendered when the chapter is executed and the slider is linked to them in the
browser (``jslink``), so it works in the rendered book without a running kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w

__all__ = ["pages_slider"]


def pages_slider(
    pages: Sequence[bytes],
    labels: Sequence[str] | None = None,
    value: int = 0,
    description: str = "frame",
    image_format: str = "jpeg",
    width: int | None = None,
) -> w.VBox:
    """A slider over ``pages`` (image bytes), one label per page (default ``1, 2, ...``), showing
    page ``value`` first.

    Raises:
        ValueError: no pages, labels of another length, or ``value`` out of range.
    """
    if not pages:
        raise ValueError("pages_slider needs at least one page")
    labels = [str(i + 1) for i in range(len(pages))] if labels is None else [str(s) for s in labels]
    if len(labels) != len(pages):
        raise ValueError(f"{len(pages)} pages but {len(labels)} labels")
    if not 0 <= value < len(pages):
        raise ValueError(f"value {value} is not a page index (0 to {len(pages) - 1})")
    extra = {} if width is None else {"width": width}
    stack = w.Stack([w.Image(value=p, format=image_format, **extra) for p in pages], selected_index=value)
    slider = w.SelectionSlider(options=[(s, i) for i, s in enumerate(labels)], value=value, description=description)
    w.jslink((slider, "index"), (stack, "selected_index"))
    return w.VBox([slider, stack])
