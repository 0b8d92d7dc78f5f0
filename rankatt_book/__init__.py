"""Helpers of the rankatt book's chapters: set-up, figures, widgets. Not part of the library.

The chapters keep the code that teaches; what every chapter needs and nobody needs to read lives
here (the Kalman book's ``kf_book`` package is the model)::

    from rankatt_book import setup, figures, widgets

    ROOT = setup()                     # threads, float32, seeds, figure style, versions; the repo
    fig, ax = plt.subplots()
    figures.show(ax, image, "frame 1")
    figures.draw_box(ax, box, "lime")
    figures.show_jpeg(fig)             # photographic figures are stored as JPEG
    widgets.pages_slider([figures.jpeg_bytes(f) for f in figs], labels)

The library never imports this package (``tests/test_layers.py``).
"""

from __future__ import annotations

from rankatt_book import figures, widgets
from rankatt_book.chapter import ROOT, setup

__all__ = ["ROOT", "figures", "setup", "widgets"]
