"""The explorer: static grid (book HTML) and live widgets share one mechanism."""

import json
import re

import jax
import numpy as np
import pytest

from lm_sims.diagnostics import count_compilations
from lm_sims.viz import Curve, Explorer, Knob, Panel
from lm_sims.viz import deep_linear as vdl

KEY = jax.random.key(0)


def _toy():
    def panel(a, kind):
        x = np.linspace(0, 1, 5)
        y = a * x if kind == "line" else a * x**2
        curves = [Curve(x, y, "sim"), Curve(x, y + 0.1, "theory", role="theory")]
        if a > 1:  # a curve present only at some grid points
            curves.append(Curve(x, np.full(5, np.nan), "extra"))
        return Panel(curves, note="big" if a > 1 else "")

    return Explorer(
        panel,
        [Knob("a", (0.5, 2.0), low=0.1, high=3.0), Knob("kind", ("line", "square"))],
        title="toy",
    )


def _spec(html: str) -> dict:
    blob = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(blob.group(1).replace("<\\/", "</"))


def test_static_html_embeds_every_grid_point_without_nan():
    spec = _spec(_toy().static_html(progress=False))
    assert spec["sizes"] == [2, 2] and len(spec["frames"]) == 4
    names = [t["name"] for t in spec["figure"]["data"]]
    assert names == ["sim", "theory", "extra"]
    big = spec["frames"][2]  # a = 2.0, kind = line
    assert big["note"] == "big" and big["v"] == [True, True, True]
    assert big["y"][2] == []  # all-NaN curve: dropped points, never NaN in the page
    assert spec["frames"][0]["v"] == [True, True, False]
    np.testing.assert_allclose(big["y"][0], 2.0 * np.linspace(0, 1, 5))
    assert len(spec["figure"]["layout"]["sliders"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"a": 5.0}, ValueError, r"a must be in \[0.1, 3\], got a=5.0"),
        ({"a": "x"}, TypeError, "a must be a number"),
        ({"kind": "cube"}, ValueError, "kind must be one of 'line', 'square'"),
        ({"b": 1}, ValueError, "unknown knob"),
    ],
)
def test_out_of_range_values_raise_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _toy().evaluate(**kwargs)


def test_knob_definitions_are_validated():
    with pytest.raises(ValueError, match="must not be empty"):
        Knob("a", ())
    with pytest.raises(ValueError, match="low must be < high"):
        Knob("a", (1.0,), low=2.0, high=1.0)
    with pytest.raises(ValueError, match="a log knob needs low > 0"):
        Knob("a", (1.0,), low=0.0, high=2.0, log=True)
    with pytest.raises(ValueError, match=r"a must be in \[0, 1\], got a=2"):
        Knob("a", (2.0,), low=0.0, high=1.0)


def test_live_widget_updates_in_place_between_grid_points():
    ex = _toy()
    box = ex.widget()
    fig = box.children[-1]
    before = list(fig.data[0].y)
    ex._controls["a"].value = 2.5  # a value between the static grid points
    assert list(fig.data[0].y) != before
    assert fig.layout.annotations[0].text == "big"
    assert fig.data[2].visible is not False  # added when it first appears
    ex._controls["a"].value = 0.5
    assert fig.data[2].visible is False


def test_live_widget_reports_a_failing_panel_instead_of_crashing():
    def panel(a):
        if a > 1:
            raise ValueError(f"a too large for this model, got a={a}")
        return Panel([Curve([0, 1], [0, a], "sim")])

    ex = Explorer(panel, [Knob("a", (0.5,), low=0.1, high=2.0)])
    ex.widget()
    ex._controls["a"].value = 1.5
    assert "a too large" in ex._status.value


def test_diverged_run_is_flagged_in_the_figure_and_plots_no_nan():
    ex = vdl.mode_explorer(KEY)
    panel = ex.evaluate(
        dataset="synthetic", depth=2, lr=0.5
    )  # lr > 1/s_1 = 1/3 (0.4 only oscillates)
    assert "Diverged at step" in panel.note
    for c in panel.curves:
        assert np.all(np.isfinite(c.y))


def test_live_slider_move_on_dynamic_knob_does_not_compile():
    ex = vdl.mode_explorer(KEY)
    ex.widget()
    ex._controls["lr"].value = 0.011  # warm-up at this shape
    with count_compilations() as c:
        for lr in (0.013, 0.05, 0.2):
            ex._controls["lr"].value = lr
        ex._controls["init_scale"].value = 1e-4
    assert c.count == 0
    assert ex.last_update_s is not None


def test_curve_breaks_split_paths_with_one_gap_and_keep_default_dropping():
    nan, inf = np.nan, np.inf
    x = np.array([nan, 0.0, 1.0, nan, nan, 2.0, inf, 3.0, nan])
    y = np.array([0.0, 0.0, 1.0, 5.0, nan, 2.0, 1.0, 3.0, nan])
    # default: every non-finite point is dropped and the line joins across it
    plain = Curve(x, y, "plain")
    np.testing.assert_array_equal(plain.x, [0.0, 1.0, 2.0, 3.0])
    # breaks: one gap per NaN run, none at the ends, infinities still dropped
    split = Curve(x, y, "paths", breaks=True, error_y=np.ones(9))
    np.testing.assert_array_equal(split.x, [0.0, 1.0, nan, 2.0, 3.0])
    np.testing.assert_array_equal(split.y, [0.0, 1.0, nan, 2.0, 3.0])
    np.testing.assert_array_equal(split.error_y, [1.0, 1.0, nan, 1.0, 1.0])
    assert Curve([nan, nan], [1.0, nan], "empty", breaks=True).x.size == 0

    def panel(a):
        return Panel([Curve(x, a * y, "paths", breaks=True), Curve(x, y, "plain")])

    spec = _spec(Explorer(panel, [Knob("a", (1.0, 2.0))]).static_html(progress=False))
    frame = spec["frames"][1]
    assert frame["x"][0] == [0.0, 1.0, None, 2.0, 3.0]  # null: a gap in the line
    assert frame["y"][0] == [0.0, 2.0, None, 4.0, 6.0]
    assert frame["x"][1] == [0.0, 1.0, 2.0, 3.0]
