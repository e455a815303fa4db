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


def explorer_inputs(gd):
    """The range inputs (one per movable knob) of the explorer drawn in ``gd``."""
    box = gd.locator("xpath=ancestor::div[contains(@class, 'lm-explorer')][1]")
    return box.locator(".lm-explorer-controls input[type=range]")


def move_slider(page, gd, index: int) -> None:
    """Move knob ``index``'s control one step from the keyboard, as a reader
    would: focus it and press the arrow key away from the end it is at."""
    control = explorer_inputs(gd).nth(index)
    control.scroll_into_view_if_needed()
    value, top = control.evaluate("el => [+el.value, +el.max]")
    control.focus()
    page.keyboard.press("ArrowLeft" if value == top else "ArrowRight")
    page.wait_for_function(
        "([el, v]) => +el.value !== v",
        arg=[control.element_handle(), value],
        timeout=10_000,
    )
