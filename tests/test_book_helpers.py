"""The chapters' helper package ``rankatt_book``: set-up, figures, the pages slider."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rankatt_book import chapter, figures, widgets  # noqa: E402


def test_versions_other_than_the_pinned_ones_fail_early_with_the_fix(monkeypatch):
    monkeypatch.delenv("RANKATT_ANY_VERSION", raising=False)
    chapter.check_versions({"torch": "2.14.1+cpu", "torchvision": "0.29.1"})  # a local build tag is fine
    with pytest.raises(RuntimeError, match=r"torch==2.14.1, but this environment has torch 2.3.0.*make setup"):
        chapter.check_versions({"torch": "2.3.0", "torchvision": "0.29.1"})
    monkeypatch.setenv("RANKATT_ANY_VERSION", "1")
    chapter.check_versions({"torch": "2.3.0", "torchvision": "0.29.1"})


def test_setup_prints_the_version_and_returns_the_repository(capsys):
    root = chapter.setup(1)
    assert (root / "rankatt_lib" / "__init__.py").is_file() and (root / "book").is_dir()
    assert capsys.readouterr().out.startswith("rankatt_lib ")
    assert plt.rcParams["axes.titlesize"] == 10


def test_draw_box_puts_the_edge_of_an_otb_box_on_the_pixel_edges():
    # a 1-based box x=3, y=2, w=4, h=5 covers 0-based columns 2..5 and rows 1..5; imshow centres
    # pixel i on i, so its edges are 1.5 .. 5.5 and 0.5 .. 5.5
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    figures.draw_box(ax, [3, 2, 4, 5], "red")
    figures.draw_box(ax, [0, 0, 0, 0])   # out of view: nothing drawn
    (rect,) = ax.patches
    assert rect.get_xy() == (1.5, 0.5) and rect.get_width() == 4 and rect.get_height() == 5
    assert rect.get_edgecolor()[:3] == (1.0, 0.0, 0.0) and rect.get_fill() is False
    plt.close(fig)


def test_jpeg_and_png_bytes_are_images_and_close_the_figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    jpeg = figures.jpeg_bytes(fig, dpi=40)
    assert jpeg[:3] == b"\xff\xd8\xff" and not plt.fignum_exists(fig.number)
    fig, ax = plt.subplots(figsize=(2, 2))
    assert figures.png_bytes(fig, dpi=40)[:8] == b"\x89PNG\r\n\x1a\n"


def test_pages_slider_links_a_slider_to_the_pages():
    box = widgets.pages_slider([b"a", b"b", b"c"], ["1", "5", "9"], value=1)
    slider, stack = box.children
    assert [o[0] for o in slider.options] == ["1", "5", "9"] and slider.index == 1
    assert stack.selected_index == 1 and [c.value for c in stack.children] == [b"a", b"b", b"c"]
    with pytest.raises(ValueError, match="3 pages but 2 labels"):
        widgets.pages_slider([b"a", b"b", b"c"], ["1", "2"])
    with pytest.raises(ValueError, match="value 3 is not a page index"):
        widgets.pages_slider([b"a", b"b", b"c"], value=3)
