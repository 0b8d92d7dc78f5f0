"""Open the built book in a real browser (Debian's Chromium through Playwright), offline.

Needs the HTML book (`make html`); `make test` builds it before running these tests. Every page is
opened from `file://`: the test fails on any request that is not a local file, on page errors other
than the known harmless ones, and when math, figures or widgets do not render.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Seen on every page of a Jupyter Book 1.x build, and harmless (book appendix, reading-book).
HARMLESS_PAGE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML / 'index.html'} does not exist: build the book first (make html)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium not found at /usr/bin/chromium: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--allow-file-access-from-files",
            ],
        )
        yield b
        b.close()


def open_page(browser, path: Path):
    """Open a built page; return (page, the URLs it requested, its page errors)."""
    from playwright.sync_api import TimeoutError as TimeoutError_

    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    try:
        page.wait_for_load_state("networkidle", timeout=10_000)
    except TimeoutError_:
        # Chromium does not always report "network idle" for file:// pages with many widget
        # images (seen on chapter 7 with no request pending); give late requests time to show
        # up instead: every request is still recorded and checked by assert_offline_and_clean.
        page.wait_for_timeout(2_000)
    return page, requests, errors


def assert_offline_and_clean(requests: list[str], errors: list[str]) -> None:
    remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert remote == [], f"the page requested non-local resources: {remote[:10]}"
    bad = [e for e in errors if not any(h in e for h in HARMLESS_PAGE_ERRORS)]
    assert bad == [], f"page errors: {bad}"


def test_landing_page(browser):
    page, requests, errors = open_page(browser, HTML / "index.html")
    # index.html redirects to the root document of the table of contents.
    page.wait_for_selector("article h1")
    assert "rankatt" in page.title()
    assert "ranking based attention" in page.inner_text("article h1").lower()
    # The sidebar lists the introduction chapter.
    assert page.locator("nav a", has_text="Introduction").count() >= 1
    assert_offline_and_clean(requests, errors)
    page.close()


def test_introduction_chapter_renders_math_figure_and_widget(browser):
    page, requests, errors = open_page(browser, HTML / "book" / "00_introduction.html")
    assert "Introduction" in page.title()
    # MathJax (served from _static/mathjax) typesets the display equations.
    page.wait_for_selector("mjx-container", timeout=20_000)
    assert page.locator("mjx-container").count() >= 2
    # The executed matplotlib figure is shown and actually decoded.
    img = page.locator(".cell_output img").first
    img.wait_for(timeout=10_000)
    assert img.evaluate("i => i.complete && i.naturalWidth > 100")
    # The ipywidgets slider is rendered from the widget state stored in the notebook.
    page.wait_for_selector(".jupyter-widgets .widget-slider, .widget-slider", timeout=20_000)
    assert page.locator(".widget-slider").count() >= 1
    # ... and it works without a kernel: the slider is jslinked to a Stack of stored frames, so
    # moving it switches the image in the browser.
    image_src = "() => document.querySelector('.widget-image').src"
    before = page.evaluate(image_src)
    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(old) => ({image_src})() !== old", arg=before, timeout=5_000)
    assert page.inner_text(".widget-readout").strip() == "1"
    assert_offline_and_clean(requests, errors)
    page.close()


def _chapter_pages() -> list[Path]:
    return sorted((HTML / "book").glob("*.html")) if (HTML / "book").exists() else []


def test_every_page_is_offline_and_error_free(browser):
    pages = _chapter_pages()
    assert len(pages) >= 2, f"expected the landing page and chapters under {HTML / 'book'}"
    for path in pages:
        page, requests, errors = open_page(browser, path)
        assert page.locator("article h1").count() >= 1, f"{path.name}: no title"
        # Every executed figure that the page shows is actually decoded.
        broken = page.evaluate(
            "() => [...document.querySelectorAll('.cell_output img')]"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
        )
        assert broken == [], f"{path.name}: images that did not load: {broken}"
        try:
            assert_offline_and_clean(requests, errors)
        except AssertionError as exc:
            raise AssertionError(f"{path.name}: {exc}") from None
        page.close()


def test_code_fits_the_page_and_solutions_start_hidden(browser):
    # On a 1366 x 768 laptop screen no code cell's input runs past its box (the 88-column rule of
    # tests/test_book_style.py is the width the page shows), and every solution starts closed.
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    for path in sorted((HTML / "book").glob("[0-9][0-9]_*.html")):
        page = ctx.new_page()
        page.goto(path.as_uri(), wait_until="load")
        cut = page.evaluate(
            "() => [...document.querySelectorAll('.cell_input pre')]"
            ".filter(p => p.scrollWidth > p.clientWidth + 1)"
            ".map(p => p.textContent.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 60))"
        )
        assert cut == [], f"{path.name}: code cut off at the page's width: {cut}"
        # sphinx-exercise's solutions are dropdown admonitions; sphinx-togglebutton hides their body
        solutions = page.locator("div.solution.dropdown")
        assert solutions.count() >= 1, f"{path.name}: no solutions"
        page.wait_for_selector("div.solution.dropdown button.toggle-button", timeout=10_000)
        shown = page.evaluate(
            "() => [...document.querySelectorAll('div.solution.dropdown')].filter(d =>"
            " [...d.children].some(c => !c.classList.contains('admonition-title')"
            " && getComputedStyle(c).visibility !== 'hidden' && c.getBoundingClientRect().height > 0)"
            ").length"
        )
        assert shown == 0, f"{path.name}: {shown} solutions shown before they are opened"
        page.close()
    ctx.close()
