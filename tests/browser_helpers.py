"""Helpers shared by the headless-browser tests (the book's pages, the explorer's
test figure and the live JupyterLab check)."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; scripts/run_tests.sh installs it
# The flags this project's browser checks use (DEVELOPERS: the built book in headless
# Chromium with the network cut); each test routes non-local requests to abort.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def move_slider(page, gd, index: int) -> None:
    """Click near one end of slider ``index``'s rail (the end it is not at)."""
    active, steps = gd.evaluate(
        "(gd, i) => [gd._fullLayout.sliders[i].active,"
        " gd._fullLayout.sliders[i].steps.length]",
        index,
    )
    rail = gd.locator(".slider-group .slider-rail-rect").nth(index)
    rail.scroll_into_view_if_needed()
    box = rail.bounding_box()
    x = box["x"] + (2 if active == steps - 1 else box["width"] - 2)
    page.mouse.click(x, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "([el, i, a]) => el._fullLayout.sliders[i].active !== a",
        arg=[gd.element_handle(), index, active],
        timeout=10_000,
    )
