"""Book build time (clean and no-change rebuild) and HTML weight per page.

Not a test: numbers for RESULTS.md. Run from the repository root with the project's
environment (``bash scripts/build_book.sh`` once creates ``.venv``):

    .venv/bin/python benchmarks/bench_book.py [--skip-clean]

The clean build deletes ``_build`` (the execution cache included) first. Page weight
is the HTML file plus everything it embeds, without plotly.js (served once per book
from ``_static``).
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = [
    str(pathlib.Path(sys.executable).with_name("jupyter-book")),
    "build",
    ".",
    "-W",
    "-n",
    "--keep-going",
]


def timed_build() -> float:
    start = time.perf_counter()
    subprocess.run(BUILD, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-clean", action="store_true")
    args = ap.parse_args()
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}")
    if not args.skip_clean:
        shutil.rmtree(ROOT / "_build", ignore_errors=True)
        print(f"clean build: {timed_build():.0f} s")
    print(f"rebuild, nothing changed: {timed_build():.0f} s")
    print()
    print("| page | HTML weight without plotly.js (MB) |")
    print("|---|---|")
    html = ROOT / "_build" / "html"
    for page in sorted(html.rglob("*.html")):
        rel = page.relative_to(html)
        if rel.parts[0] in ("_static", "_sources", "genindex.html", "search.html"):
            continue
        print(f"| {rel} | {page.stat().st_size / 1e6:.2f} |")


if __name__ == "__main__":
    main()
