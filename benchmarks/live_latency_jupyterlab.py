"""Live latency in the real client: slider move to repainted figure in JupyterLab.

Starts a JupyterLab server on 127.0.0.1 over a copy of the chapter notebooks (as
tests/test_live_jupyterlab.py does), opens each page in headless Chromium (network
cut), runs all cells, then presses ArrowRight / ArrowLeft on the first slider of the
page's first explorer ``--moves`` times. Each move is timed in the page, from the
keydown event to the first animation frame after the explorer's Output holds a drawn
plotly figure with new data: the kernel's evaluation, the message, the Output's
re-render and plotly's newPlot together. Prints one row per page (run-all time,
p50 / p95 over the moves) and the machine's load. Target: p50 <= 100 ms on 2 cores.

Usage:
    .venv/bin/python benchmarks/live_latency_jupyterlab.py --moves 12
    .venv/bin/python benchmarks/live_latency_jupyterlab.py --pages 02_limits/01_nngp
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jupyterlab_driver import (  # noqa: E402
    browser,
    close_notebook,
    explorer_box,
    jupyterlab,
    machine,
    move_and_time,
    open_and_run_all,
)
from test_live_jupyterlab import PAGES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=12)
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=500,
        help="idle time before each move (plotly's renderer makes a PNG of each "
        "figure after drawing it; a reader does not press keys back to back)",
    )
    parser.add_argument(
        "--pages",
        nargs="*",
        default=[p for p, _ in PAGES],
        help="notebooks relative to chapters/ (default: the live test's pages)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"start: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        root = Path(tmp)
        with jupyterlab(root, root / "server.log") as (base, token):
            context, _ = browser(pw, root / "profile")
            for path in args.pages:
                path = path if path.endswith(".ipynb") else f"{path}.ipynb"
                page = context.new_page()
                try:
                    run_s, state = open_and_run_all(page, base, token, path, 600)
                    if not state or state["errors"]:
                        rows.append((path, run_s, None, f"errors: {state}"))
                        continue
                    box = explorer_box(page)
                    # warm-up (may compile); a slider at its right end moves left
                    keys = ("ArrowLeft", "ArrowRight")
                    if move_and_time(page, box, keys[1], 60_000) is None:
                        keys = keys[::-1]
                        move_and_time(page, box, keys[1], 60_000)
                    times, parts = [], []
                    for i in range(args.moves):
                        page.wait_for_timeout(args.pause_ms)  # a reader's pace
                        t = move_and_time(page, box, keys[i % 2], parts=parts)
                        times.append(np.nan if t is None else t)
                    arrived = np.array([np.nan if a is None else a for a, _ in parts])
                    rows.append((path, run_s, np.array(times), arrived))
                finally:
                    close_notebook(page)
                    page.close()
            context.close()
    print(f"end: {machine()}")
    print()
    print(
        "| page | run-all (s) | moves | p50 (ms) | p95 (ms) | max (ms) | "
        "p50 key to new output (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    every = []
    for path, run_s, times, arrived in rows:
        if times is None:
            print(f"| {path} | {run_s:.0f} | 0 | - | - | - | ({arrived}) |")
            continue
        every += list(times)
        p50, p95 = np.nanpercentile(times * 1e3, [50, 95])
        print(
            f"| {path} | {run_s:.0f} | {len(times)} | {p50:.0f} | {p95:.0f} | "
            f"{np.nanmax(times) * 1e3:.0f} | {np.nanmedian(arrived) * 1e3:.0f} |"
        )
    if every:
        p50, p95 = np.nanpercentile(np.array(every) * 1e3, [50, 95])
        print(f"| all pages | | {len(every)} | {p50:.0f} | {p95:.0f} | |")


if __name__ == "__main__":
    main()
