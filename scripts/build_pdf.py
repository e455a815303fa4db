"""Print the whole book to one PDF, from the same sources as the HTML.

usage: python scripts/build_pdf.py [BUILD_DIR]    (default: _build)

Builds the book once more with Sphinx's ``singlehtml`` builder into
``BUILD_DIR/singlehtml`` (the notebooks are not run again: their outputs come from
the HTML build's execution cache) and prints that page in headless Chromium to
``BUILD_DIR/html/_static/learning-mechanics.pdf``, the file the landing page links.
Figures are printed at their explorer's default setting (the static page's
starting state); the controls, download links and navigation are left out by the
print stylesheet (``book/_static/lm_book.css``, ``@media print``).

Run by ``scripts/build_book.sh`` after the HTML build; ``tests/test_book.py``
checks the result.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PDF_NAME = "learning-mechanics.pdf"
MARGIN = {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}


def build_single_html(build: Path) -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--builder", "singlehtml", "--keep-going"]
    cmd += ["--path-output", str(build.parent)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    out = build / "singlehtml"
    index = out / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"the singlehtml build wrote no {index}")
    # Jupyter Book writes the single page under the root document's name
    # (book/intro.html) and index.html redirects there, but the page's links to
    # _static/ and _images/ are written as from the output's top folder: read
    # where it was, that page loads no style sheet, script or MathJax. Printed
    # from the top folder, every link resolves.
    target = re.search(r'url=([^"\s]+)"', index.read_text(encoding="utf-8"))
    single = out / target.group(1) if target else index
    page = out / "learning-mechanics.html"
    page.write_text(single.read_text(encoding="utf-8"), encoding="utf-8")
    return page


def print_pdf(page: Path, pdf: Path) -> int:
    """Print ``page`` to ``pdf`` with every figure drawn; returns the figure count."""
    from browser_helpers import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            tab = browser.new_page(viewport={"width": 700, "height": 1000})
            tab.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith("file:") else r.abort()
                ),
            )
            tab.goto(page.as_uri(), wait_until="load", timeout=300_000)
            figures = tab.locator("div.lm-explorer").count()
            tab.wait_for_function(
                "n => document.querySelectorAll("
                "'div.lm-explorer .js-plotly-plot .main-svg').length >= n",
                arg=figures,
                timeout=300_000,
            )
            tab.wait_for_function(
                "() => !document.querySelector('.math') || (window.MathJax &&"
                " MathJax.startup && MathJax.startup.document)",
                timeout=120_000,
            )
            tab.evaluate("() => window.MathJax && MathJax.startup.promise")
            tab.emulate_media(media="print")
            tab.wait_for_timeout(1000)
            pdf.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(
                path=str(pdf),
                format="A4",
                print_background=False,
                margin=MARGIN,
            )
        finally:
            browser.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build = Path(args[0]).resolve() if args else ROOT / "_build"
    from browser_helpers import CHROMIUM

    if not CHROMIUM.exists():
        print(
            f"PDF skipped: printing needs {CHROMIUM} (Debian: apt-get install "
            "chromium); the HTML book is built.",
            file=sys.stderr,
        )
        return 0
    start = time.perf_counter()
    page = build_single_html(build)
    pdf = build / "html" / "_static" / PDF_NAME
    figures = print_pdf(page, pdf)
    size = pdf.stat().st_size / 1e6
    print(
        f"Printed {pdf} ({size:.1f} MB, {figures} figures) in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
