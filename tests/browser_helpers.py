"""Helpers shared by the headless-browser tests (the book's pages and the explorer's
test figure)."""


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
