"""The explorer: static grid (book HTML) and live widgets share one mechanism."""

import itertools
import json
import math
import re

import jax
import numpy as np
import pytest
from browser_helpers import move_slider
from explorer_grid import all_factories
from test_trust_api import HEAVY

from lm_sims.diagnostics import count_compilations
from lm_sims.viz import (
    MAX_STATES,
    Curve,
    Explorer,
    Heatmap,
    Knob,
    Panel,
    band,
    paired_curves,
)
from lm_sims.viz import deep_linear as vdl
from lm_sims.viz.explorer import cache_dir

KEY = jax.random.key(0)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test gets an empty explorer cache (never the user's ~/.cache)."""
    monkeypatch.setenv("LM_SIMS_CACHE_DIR", str(tmp_path / "cache"))


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
    # theory drawn last (on top), then the legend key; the legend keeps the order
    assert names == ["sim", "extra", "theory", "theory (dashed)", "simulation (solid)"]
    assert [it["id"] for it in spec["items"]] == ["sim", "extra", "theory"]
    ranks = [t["legendrank"] for t in spec["figure"]["data"]]
    assert ranks == [100, 102, 101, 1, 2]
    big = spec["frames"][2]  # a = 2.0, kind = line
    assert big["note"] == "big" and all(d is not None for d in big["d"])
    assert big["d"][1]["y"] == []  # all-NaN curve: points dropped, never NaN
    assert spec["frames"][0]["d"][1] is None  # absent at a = 0.5: hidden there
    np.testing.assert_allclose(big["d"][0]["y"], 2.0 * np.linspace(0, 1, 5))
    assert "sliders" not in spec["figure"]["layout"]  # HTML range inputs instead
    html_text = _toy().static_html(progress=False)
    assert len(re.findall(r'<input type="range"', html_text)) == 2


def test_long_notes_wrap_above_the_plots_and_the_margin_makes_room():
    long = "Diverged at step 12: " + "the run stops there; " * 12
    ex = Explorer(
        lambda a: Panel([Curve([1, 2], [a, a], "c")], note=long if a > 1 else ""),
        [Knob("a", (0.5, 2.0))],
        title="t",
        cols=2,
        subplot_titles=["left", "right"],
    )
    spec = _spec(ex.static_html(progress=False))
    layout = spec["figure"]["layout"]
    note = layout["annotations"][0]
    # above the plot area and the subplot titles, never over a curve
    assert note["y"] == 1.0 and note["yanchor"] == "bottom" and note["yshift"] > 0
    lines = spec["frames"][1]["note"].split("<br>")
    # 80 characters fit the plot area of a figure in the book's text column
    assert len(lines) >= 3 and max(map(len, lines)) <= 80
    # the top margin holds the longest note of any frame (the default has none)
    assert layout["margin"]["t"] == 80 + 18 * len(lines)
    assert spec["frames"][0]["note"] == ""


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
    out = box.children[-1]
    before = ex.figure["data"][0]["y"]
    ids = [t["meta"] for t in ex.figure["data"]]
    ex._controls["a"].value = 2.5  # a value between the static grid points
    assert ex.figure["data"][0]["y"] != before
    assert ex.figure["layout"]["annotations"][0]["text"] == "big"
    # the whole figure is re-rendered: the Output holds exactly the current one
    (shown,) = out.outputs
    assert shown["data"]["application/vnd.plotly.v1+json"] is ex.figure
    big = [t["meta"] for t in ex.figure["data"]]
    assert len(big) > len(ids)  # the trace that appears above a = 2 is drawn
    ex._controls["a"].value = 0.5
    assert [t["meta"] for t in ex.figure["data"]] == ids  # and gone, none kept
    json.dumps(ex.figure, allow_nan=False)  # a JSON message: no NaN, no arrays


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
        dataset="synthetic", n_layers=2, lr=0.5
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
    frame = spec["frames"][1]["d"]
    assert frame[0]["x"] == [0.0, 1.0, None, 2.0, 3.0]  # null: a gap in the line
    assert frame[0]["y"] == [0.0, 2.0, None, 4.0, 6.0]
    assert frame[1]["x"] == [0.0, 1.0, 2.0, 3.0]


# -- the figure model: bands, heatmaps, subplot grids, ids, limits, cache ----------

LAYERS = np.arange(1, 7)
STEPS = np.arange(1.0, 101.0)


def _demo_panel(lr, width):
    """Synthetic numbers shaped like a chapter figure (no JAX: fast and exact)."""
    noise = np.random.default_rng(0).standard_normal((8, 1))  # same at every call
    seeds = np.exp(-lr * STEPS)[None] * np.exp(0.5 * noise)
    sharp = 2.0 / lr * (1.0 - np.exp(-STEPS / 30.0))
    cka = np.exp(-np.abs(LAYERS[:, None] - LAYERS[None]) * 16.0 / width)
    return Panel(
        [
            band(STEPS, seeds, "loss", group=0),
            Curve(STEPS, np.exp(-lr * STEPS), "loss (theory)", "theory", group=0),
            Curve(STEPS, sharp, "sharpness", group=1, row=2),
            Curve(
                STEPS, np.full_like(STEPS, 2.0 / lr), "2 / lr", "theory", group=1, row=2
            ),
            Curve(
                STEPS, lr * sharp, "lr × sharpness", group=2, row=2, secondary_y=True
            ),
            Heatmap(cka, "CKA", x=LAYERS, y=LAYERS, col=2, zmin=0.0, zmax=1.0),
            Curve(
                LAYERS,
                cka[-1],
                "CKA with the last layer",
                group=3,
                row=2,
                col=2,
                mode="markers",
                error_y=np.full(6, 0.03),
            ),
        ],
        note="",
    )


def _demo(panel=_demo_panel):
    return Explorer(
        panel,
        [
            Knob("lr", (0.02, 0.05, 0.1), low=0.01, high=0.2, log=True),
            Knob("width", (16, 64), label="width n"),
        ],
        title="Test figure: band, heatmap, 2 × 2 grid, second y axis",
        rows=2,
        cols=2,
        shared_x="columns",
        secondary_y=[[False, False], [True, False]],
        x_title=["t (lr × steps)", "layer"],
        y_title=[["loss", "layer"], ["sharpness", "CKA"]],
        y2_title=[["", ""], ["lr × sharpness", ""]],
        log_y=[[True, False], [False, False]],
        subplot_titles=[
            "loss over 8 seeds",
            "CKA between layers",
            "sharpness",
            "CKA with the last layer",
        ],
    )


def test_band_is_mean_and_spread_over_seeds_and_cuts_diverged_points():
    x = np.arange(4.0)
    s = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, np.nan], [2.0, 3.0, 4.0, 5.0]])
    std = band(x, s, "loss")
    np.testing.assert_allclose(std.y, [2.0, 3.0, 4.0])  # last point: one seed NaN
    np.testing.assert_allclose(std.upper - std.y, [1.0, 1.0, 1.0])  # s.d., ddof=1
    assert std.band_label == "mean ± 1 s.d. over 3 seeds" and std.is_band
    sem = band(x, s, "loss", spread="sem")
    np.testing.assert_allclose(sem.y - sem.lower, 1 / np.sqrt(3))
    rng = band(x, s, "loss", spread="range", role="theory", col=2, id="L")
    np.testing.assert_allclose([rng.lower, rng.upper], [[1, 2, 3], [3, 4, 5]])
    assert (rng.role, rng.col, rng.id) == ("theory", 2, "L")
    with pytest.raises(ValueError, match="spread must be one of"):
        band(x, s, "loss", spread="iqr")
    with pytest.raises(ValueError, match=r"num_seeds >= 2, points\), got shape"):
        band(x, s[:1], "loss")
    with pytest.raises(ValueError, match="samples has 4 points, x has 3"):
        band(x[:3], s, "loss")


def test_band_and_heatmap_arguments_are_validated():
    with pytest.raises(ValueError, match="give both lower and upper"):
        Curve([0, 1], [0, 1], "c", lower=[0, 0])
    with pytest.raises(ValueError, match=r"lower must be <= upper, got lower=2.0"):
        Curve([0, 1], [0, 1], "c", lower=[0, 2], upper=[1, 1])
    with pytest.raises(ValueError, match="a band cannot have breaks"):
        Curve([0, 1], [0, 1], "c", lower=[0, 0], upper=[1, 1], breaks=True)
    with pytest.raises(ValueError, match="row must be an integer >= 1, got row=0"):
        Curve([0, 1], [0, 1], "c", row=0)
    with pytest.raises(ValueError, match=r"non-empty 2-D array, got shape \(3,\)"):
        Heatmap([1, 2, 3], "h")
    with pytest.raises(ValueError, match="x needs 2 labels"):
        Heatmap(np.eye(2), "h", x=["a", "b", "c"])
    with pytest.raises(ValueError, match="zmin must be < zmax"):
        Heatmap(np.eye(2), "h", zmin=1.0, zmax=0.0)
    h = Heatmap([[1.0, np.inf], [np.nan, 0.5]], "h")
    assert h.x == [0, 1] and h.colorbar_title == "h"
    ex = Explorer(lambda a: Panel([h]), [Knob("a", (1,))])
    cells = _spec(ex.static_html(progress=False))["frames"][0]["d"][0]["z"]
    assert cells == [[1.0, None], [None, 0.5]]  # blank cells, never NaN or inf


def test_panel_traces_must_fit_the_grid_and_have_unique_ids():
    def explorer(*curves, **kwargs):
        return Explorer(lambda a: Panel(list(curves)), [Knob("a", (1,))], **kwargs)

    c = Curve([0, 1], [0, 1], "c")
    with pytest.raises(ValueError, match="trace id 'c' appears twice"):
        explorer(c, Curve([0, 1], [1, 2], "c")).evaluate()
    explorer(c, Curve([0, 1], [1, 2], "c", id="c2")).evaluate()  # distinct ids
    with pytest.raises(ValueError, match="row=1, col=2; the grid has rows=1, cols=1"):
        explorer(Curve([0, 1], [0, 1], "c", col=2)).evaluate()
    with pytest.raises(ValueError, match="has no second y axis"):
        explorer(Curve([0, 1], [0, 1], "c", secondary_y=True)).evaluate()
    with pytest.raises(ValueError, match="one per column \\(2\\), one per subplot"):
        explorer(c, cols=2, rows=2, y_title=["a", "b", "c"])
    with pytest.raises(ValueError, match="shared_x must be one of"):
        explorer(c, shared_x="x")


def test_grid_layout_comes_from_make_subplots():
    from plotly.subplots import make_subplots

    ex = _demo()
    spec = _spec(ex.static_html(progress=False))
    lay = spec["figure"]["layout"]
    ref = make_subplots(
        rows=2,
        cols=2,
        shared_xaxes="columns",
        specs=[[{}, {}], [{"secondary_y": True}, {}]],
        horizontal_spacing=0.18,
        vertical_spacing=lay["yaxis"]["domain"][0] - lay["yaxis3"]["domain"][1],
    ).layout
    for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4", "yaxis", "yaxis5"):
        np.testing.assert_allclose(lay[axis]["domain"], ref[axis].domain)
    assert lay["yaxis4"]["overlaying"] == "y3" and lay["yaxis4"]["side"] == "right"
    assert lay["yaxis4"]["title"]["text"] == "lr × sharpness"
    assert lay["xaxis"]["matches"] == "x3" and lay["xaxis"]["title"]["text"] == ""
    assert lay["xaxis3"]["title"]["text"] == "t (lr × steps)"  # bottom row only
    assert lay["yaxis"]["type"] == "log" and lay["yaxis3"]["type"] == "linear"
    assert lay["yaxis2"]["autorange"] == "reversed"  # a matrix: row 0 on top
    texts = [a["text"] for a in lay["annotations"]]
    assert texts[0] == "" and "<b>CKA between layers</b>" in texts  # note first
    axes = {t["meta"]: (t["xaxis"], t["yaxis"]) for t in spec["figure"]["data"]}
    assert axes["lr × sharpness"] == ("x3", "y4")
    assert axes["CKA"] == ("x2", "y2") and axes["CKA with the last layer"] == (
        "x4",
        "y5",
    )
    assert axes["loss::band"] == axes["loss"] == ("x", "y")
    # Today's per-column settings: cols only means one row, one value per column.
    one_row = Explorer(
        lambda a: Panel([]),
        [Knob("a", (1,))],
        cols=2,
        log_y=[True, False],
        x_title=["a", "b"],
    )
    lay1 = one_row._layout([], "")
    assert lay1["yaxis"]["type"] == "log" and lay1["yaxis2"]["type"] == "linear"
    assert lay1["xaxis2"]["title"]["text"] == "b" and "xaxis3" not in lay1


def test_traces_are_matched_by_id_not_legend_text():
    def panel(a):
        return Panel(
            [
                Curve([0, 1], [0, a], f"slope {a}", id="line"),
                Heatmap([[a]], f"a = {a}", id="h"),
            ]
        )

    ex = Explorer(panel, [Knob("a", (1.0, 2.0), low=0.0, high=3.0)])
    spec = _spec(ex.static_html(progress=False))
    assert [it["id"] for it in spec["items"]] == ["line", "h"]
    assert [f["d"][0]["y"] for f in spec["frames"]] == [[0.0, 1.0], [0.0, 2.0]]
    ex.widget()
    ex._controls["a"].value = 2.5
    data = [t for t in ex.figure["data"] if t["meta"] != "::key"]
    assert len(data) == 2 and data[0]["y"] == [0.0, 2.5]
    assert data[1]["z"] == [[2.5]]


def test_subtitle_describes_only_the_roles_present():
    def key(*curves):
        ex = Explorer(lambda a: Panel(list(curves)), [Knob("a", (1,))], title="T")
        return _spec(ex.static_html(progress=False))["figure"]["layout"]["title"][
            "text"
        ]

    sim = Curve([0, 1], [0, 1], "sim")
    th = Curve([0, 1], [0, 1], "th", "theory")
    assert key(sim) == "T<br><sup>solid: simulation</sup>"
    assert key(sim, th) == "T<br><sup>solid: simulation · dashed: theory</sup>"
    assert "theory" not in key(sim, Heatmap(np.eye(2), "h"))
    assert key(Heatmap(np.eye(2), "h")) == "T"
    shaded = key(band([0, 1], [[0, 1], [1, 2]], "b"))
    assert (
        shaded == "T<br><sup>solid: simulation · shaded: mean ± 1 s.d. over 2 "
        "seeds</sup>"
    )
    assert (
        key(Curve([0], [1], "m", mode="markers")) == "T<br><sup>markers: "
        "simulation</sup>"
    )
    mixed = key(sim, Curve([0], [1], "m", mode="markers"))
    assert mixed == "T<br><sup>solid or markers: simulation</sup>"


def test_number_of_states_is_limited_with_a_clear_error():
    ex = Explorer(lambda a, b: Panel([]), [Knob("a", range(20)), Knob("b", range(7))])
    with pytest.raises(
        ValueError,
        match=(
            r"20 x 7 = 140 states \(a: 20 values, b: 7 values\), more than "
            r"max_states=128"
        ),
    ):
        ex.static_html(progress=False)
    small = Explorer(lambda a: Panel([]), [Knob("a", range(3))], max_states=2)
    with pytest.raises(ValueError, match=r"3 = 3 states \(a: 3 values\)"):
        small.grid()
    assert MAX_STATES == 128


def test_every_chapter_explorer_grid_is_within_the_limit():
    from explorer_grid import all_factories

    factories = all_factories()
    assert len(factories) >= 10, factories  # discovery found the chapters' explorers
    sizes = {f.__name__: len(f(KEY).grid()) for f in factories}
    assert max(sizes.values()) <= MAX_STATES, sizes


def test_the_latency_benchmark_covers_every_explorer():
    # benchmarks/bench_explorers.py lists explorers with labels; a new explorer
    # missing there would go unmeasured
    import importlib.util
    from pathlib import Path

    from explorer_grid import all_factories

    path = Path(__file__).parents[1] / "benchmarks" / "bench_explorers.py"
    spec = importlib.util.spec_from_file_location("bench_explorers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    listed = {(module, name) for _, module, name in bench.EXPLORERS}
    found = {(f.__module__, f.__name__) for f in all_factories()}
    assert found <= listed, sorted(found - listed)


def test_static_grid_is_cached_on_disk_by_code_and_inputs(tmp_path, monkeypatch):
    calls = []  # counted outside the panels: their closures are part of the key
    evaluate = Explorer.evaluate

    def counting(self, **values):
        calls.append(values)
        return evaluate(self, **values)

    monkeypatch.setattr(Explorer, "evaluate", counting)
    scale = [2.0]

    def make(factor):
        def panel(a):
            return Panel([Curve([0, 1], [0, factor * a], "c")])

        return panel

    def render(panel, values=(1.0, 2.0)):
        calls.clear()
        return _spec(Explorer(panel, [Knob("a", values)]).static_html(progress=False))

    first = render(make(2.0))
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("*.json"))) == 1
    assert render(make(2.0)) == first and calls == []  # new closure, same inputs
    render(make(3.0))  # a closure value changed
    assert len(calls) == 2
    render(make(2.0), values=(1.0, 3.0))  # a knob changed
    assert len(calls) == 2

    def other(a):  # different code, same name and output
        return Panel([Curve([0, 1], [0, scale[0] * a], "c")])

    assert render(other) == first and len(calls) == 2
    render(other)
    assert calls == []
    scale[0] = 5.0  # a closure value mutated in place
    render(other)
    assert len(calls) == 2
    # A folder that cannot be created (its parent is a file): no cache, no error.
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LM_SIMS_CACHE_DIR", str(blocker / "cache"))
    render(make(2.0))
    assert len(calls) == 2
    render(make(2.0))
    assert len(calls) == 2
    monkeypatch.setenv("LM_SIMS_CACHE_DIR", "off")
    assert cache_dir() is None
    render(make(2.0))
    assert len(calls) == 2


def test_cache_key_sees_jax_arrays_and_refuses_what_it_cannot_describe():
    from lm_sims.viz.explorer import _cache_key

    def with_key(key):
        def panel(a):
            return Panel([Curve([0, 1], [0, a + float(jax.random.normal(key))], "c")])

        return Explorer(panel, [Knob("a", (1.0,))])

    k0 = _cache_key(with_key(jax.random.key(0)))
    assert k0 == _cache_key(with_key(jax.random.key(0)))
    assert k0 != _cache_key(with_key(jax.random.key(1)))

    class Opaque:
        __slots__ = ("v",)

        def __init__(self):
            self.v = 1

    thing = Opaque()
    ex = Explorer(lambda a: Panel([Curve([0], [thing.v], "c")]), [Knob("a", (1,))])
    assert _cache_key(ex) is None  # uncacheable: always computed, never stale


def test_live_figure_has_the_same_traces_and_updates_bands_and_heatmaps():
    ex = _demo()
    ex.widget()
    metas = [t["meta"] for t in ex.figure["data"]]
    static = [
        t["meta"] for t in _spec(ex.static_html(progress=False))["figure"]["data"]
    ]
    assert metas == static
    hm = [t["type"] for t in ex.figure["data"]].index("heatmap")
    band_before = ex.figure["data"][0]["y"]
    z_before = np.asarray(ex.figure["data"][hm]["z"], dtype=float)
    ex._controls["lr"].value = 0.15
    assert ex.figure["data"][0]["y"] != band_before
    ex._controls["width"].value = 64
    assert not np.allclose(np.asarray(ex.figure["data"][hm]["z"], float), z_before)
    title = ex.figure["layout"]["title"]["text"]
    assert "shaded: mean ± 1 s.d. over 8 seeds" in title


# -- the test figure in headless Chromium ---------------------------------------------


_HEATMAP_Z = "gd => JSON.stringify(gd.data.find(t => t.type === 'heatmap').z)"


def _download_csv(page) -> tuple[str, list[dict]]:
    import csv
    import io

    with page.expect_download() as info:
        page.locator("p.lm-explorer-download a").click()
    download = info.value
    with open(download.path(), encoding="utf-8") as fh:
        text = fh.read()
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


@pytest.mark.slow
def test_test_figure_draws_moves_and_downloads_in_chromium(tmp_path, launch_chromium):
    """Every new capability in one static figure, offline in headless Chromium.

    Set ``LM_SIMS_FIGURE_PNG=path.png`` to keep a screenshot (light mode; a dark
    mode one is written next to it) for a human look.
    """
    import os
    import tempfile

    ex = _demo()
    page_path = tmp_path / "figure.html"
    ex.save_html(str(page_path))
    expected = _spec(page_path.read_text(encoding="utf-8"))
    left_file, console = [], []

    def route(r):
        if r.request.url.startswith(("file://", "data:")):
            r.continue_()
        else:
            left_file.append(r.request.url)
            r.abort()

    with tempfile.TemporaryDirectory() as profile:
        context = launch_chromium(
            profile, viewport={"width": 1100, "height": 900}, accept_downloads=True
        )
        try:
            page = context.new_page()
            page.route("**/*", route)
            page.on(
                "console",
                lambda m: console.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
            page.goto(page_path.as_uri())
            gd = page.locator("div.lm-explorer .js-plotly-plot")
            assert gd.count() == 1
            gd.locator(".heatmaplayer image").first.wait_for(timeout=20_000)
            # Drawn: 6 scatter traces (the band's fill and mean line, 5 more), one
            # heatmap with its colour bar, the band's filled outline, a second y axis.
            keys = sum(t["meta"] == "::key" for t in expected["figure"]["data"])
            assert keys == 3  # theory, simulation as lines, as markers
            assert gd.locator(".scatterlayer .trace").count() == 7 + keys
            assert gd.locator(".heatmaplayer image").count() == 1
            assert gd.locator(".heatmaplayer .hm").count() == 1  # test_book's
            assert gd.locator(".colorbar").count() == 1
            assert gd.locator(".scatterlayer .trace .fills path").count() == 1
            assert gd.evaluate("gd => gd._fullLayout.yaxis4.overlaying") == "y3"
            png = os.environ.get("LM_SIMS_FIGURE_PNG")
            if png:
                page.screenshot(path=png, full_page=True)
            # The link gives the default frame's data as CSV.
            name, rows = _download_csv(page)
            assert name.endswith("_lr-0.05_width-16.csv"), name
            ids = {it["id"] for it in expected["items"]}
            assert {r["trace_id"] for r in rows} == ids
            frame = expected["frames"][expected["start"]]["d"]
            loss = [r for r in rows if r["trace_id"] == "loss"]
            at = [it["id"] for it in expected["items"]]
            assert [float(r["y"]) for r in loss] == frame[at.index("loss")]["y"]
            assert [float(r["lower"]) for r in loss] == frame[at.index("loss")]["lo"]
            cka = [r for r in rows if r["trace_id"] == "CKA"]
            assert (
                len(cka) == 36
                and float(cka[1]["z"]) == frame[at.index("CKA")]["z"][0][1]
            )
            assert cka[1]["x"] == "2" and cka[1]["y"] == "1"
            # Each slider changes the plotted data, the heatmap included.
            for s in range(2):
                before = gd.evaluate("gd => JSON.stringify(gd.data)")
                z_before = gd.evaluate(_HEATMAP_Z)
                move_slider(page, gd, s)
                assert gd.evaluate("gd => JSON.stringify(gd.data)") != before
                if s == 1:  # width: the CKA matrix
                    assert gd.evaluate(_HEATMAP_Z) != (z_before)
            name, moved = _download_csv(page)
            assert name.endswith("_lr-0.1_width-64.csv"), name
            assert moved != rows
            if png:  # the same figure in the book theme's dark mode
                page.evaluate(
                    "() => { document.documentElement.dataset.theme = 'dark';"
                    " document.body.style.background = '#121212'; }"
                )
                page.wait_for_timeout(300)
                page.screenshot(path=png.replace(".png", "_dark.png"), full_page=True)
            page.wait_for_timeout(200)
        finally:
            context.close()
    assert not left_file, f"requests left file://: {left_file}"
    assert not console, f"console errors: {console}"


def test_y_range_fixes_a_linear_axis_and_rejects_a_log_one():
    ex = Explorer(
        lambda a: Panel([Curve([1, 2], [0, 0], "c", col=2)]),
        [Knob("a", (1.0,))],
        cols=2,
        y_range=[None, (0, 1)],
    )
    layout = _spec(ex.static_html(progress=False))["figure"]["layout"]
    assert layout["yaxis2"]["range"] == [0.0, 1.0]  # not plotly's [-1, 1] for zeros
    assert "range" not in layout["yaxis"]
    assert Explorer(lambda: Panel([]), [], y_range=(0, 1)).y_range == [[(0, 1)]]
    with pytest.raises(ValueError, match="y_range must be None or"):
        Explorer(lambda: Panel([]), [], log_y=True, y_range=(0, 1))
    with pytest.raises(ValueError, match="y_range must be None or"):
        Explorer(lambda: Panel([]), [], y_range=(1, 0))


def test_plotly_uids_are_css_safe_whatever_the_trace_names():
    # plotly builds CSS selectors from uids (a heatmap's colour bar): a uid with a
    # space or "/" threw in the browser and left the whole figure blank
    ex = Explorer(
        lambda a: Panel(
            [
                Heatmap(np.eye(2) * a, "W₁ᵀW₁ / max"),
                Curve([1, 2], [a, a], "corr(.., AGOP^½)", lower=[0, 0], upper=[3, 3]),
            ]
        ),
        [Knob("a", (1.0, 2.0))],
    )
    data = _spec(ex.static_html(progress=False))["figure"]["data"]
    uids = [t["uid"] for t in data if t["meta"] != "::key"]
    assert len(uids) == 3 and len(set(uids)) == 3  # heatmap, band fill, line
    uids = [t["uid"] for t in data]  # with the legend key's
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", u) for u in uids), uids


def test_heatmaps_sharing_a_scale_can_draw_one_colour_bar():
    ex = Explorer(
        lambda a: Panel(
            [
                Heatmap(np.eye(2) * a, "left", showscale=False),
                Heatmap(np.eye(2) * a, "right", col=2),
            ]
        ),
        [Knob("a", (1.0,))],
        cols=2,
    )
    data = _spec(ex.static_html(progress=False))["figure"]["data"]
    assert [t["showscale"] for t in data] == [False, True]


def test_heatmaps_with_string_labels_get_category_axes():
    # on the book's linear axes plotly cannot place string labels and draws an
    # empty panel (console: '<image> attribute height: Expected length, "NaN"')
    ex = Explorer(
        lambda a: Panel(
            [
                Curve([1.0, 2.0], [a, a], "line"),
                Heatmap(np.eye(2) * a, "cka", x=["l1", "l2"], y=[0, 1], col=2),
            ]
        ),
        [Knob("a", (1.0,))],
        cols=2,
    )
    layout = _spec(ex.static_html(progress=False))["figure"]["layout"]
    assert layout["xaxis2"]["type"] == "category"
    assert layout["yaxis2"]["type"] == "linear"  # numeric labels stay numeric
    assert layout["xaxis"]["type"] == "linear"


def _one(a=1.0):
    return Panel([Curve([0, 1], [0, a], "c")])


_KNOB = Knob("a", (1.0,), low=0.5, high=2.0)
_INF = float("inf")


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        # Knob: finite ends, low < high, types, distinct values, an identifier name
        (lambda: Knob("a", (1.0,), low=-_INF, high=_INF), ValueError, "low must be"),
        (lambda: Knob("a", (1.0,), low=0.0, high=float("nan")), ValueError, "high"),
        (lambda: Knob("a", (1.0,), low="0", high=2.0), TypeError, "low must be a"),
        (lambda: Knob("a", "abc"), TypeError, "values must be a sequence"),
        (lambda: Knob("a", 3), TypeError, "values must be a sequence"),
        (lambda: Knob("a", (1.0, 1.0)), ValueError, "values must be distinct"),
        (lambda: Knob("a", (1.0, _INF)), ValueError, "values must be finite"),
        (lambda: Knob("a", (None,)), TypeError, "a number or a string"),
        (lambda: Knob("a b", (1.0,)), ValueError, "name must be a Python identifier"),
        (lambda: Knob(3, (1.0,)), TypeError, "name must be a string"),
        (lambda: Knob("a", (1.0,), log=True), ValueError, "log=True needs a live"),
        (lambda: Knob("a", (1.0,), log="yes"), TypeError, "log must be True or"),
        (lambda: Knob("a", (1.0,), label=5), TypeError, "label must be a string"),
        (lambda: Knob("a", (1.0,), default=2.0), ValueError, "default=2.0 is not"),
        # Explorer: sizes, counts, types, the panel's signature, the knobs
        (lambda: Explorer(_one, [_KNOB], cols=-1), ValueError, "cols must be >= 1"),
        (lambda: Explorer(_one, [_KNOB], cols=1.5), TypeError, "cols must be an int"),
        (lambda: Explorer(_one, [_KNOB], rows=0), ValueError, "rows must be >= 1"),
        (lambda: Explorer(_one, [_KNOB], height=-5), ValueError, "height must be"),
        (lambda: Explorer(_one, [_KNOB], height=1e9), TypeError, "height must be an"),
        (lambda: Explorer(_one, [_KNOB], max_states=0), ValueError, "max_states"),
        (lambda: Explorer(_one, [_KNOB], title=3), TypeError, "title must be a str"),
        (lambda: Explorer(_one, [_KNOB], log_y="no"), TypeError, r"log_y \(row 1"),
        (lambda: Explorer(_one, [_KNOB], x_title=[1]), TypeError, r"x_title \(row"),
        (lambda: Explorer(_one, [_KNOB], subplot_titles="ab"), TypeError, "subplot_"),
        (lambda: Explorer(_one, [_KNOB], cols=2, log_x=[1, 2, 3]), ValueError, "log_x"),
        (lambda: Explorer(_one, [_KNOB], y_range=(0, _INF)), ValueError, "y_range"),
        (lambda: Explorer(_one, [_KNOB], shared_x="cols"), ValueError, "shared_x"),
        (lambda: Explorer(_one, [_KNOB, _KNOB]), ValueError, "knob names must be"),
        (lambda: Explorer(_one, [("a", 1)]), TypeError, r"knobs\[0\] must be a Knob"),
        (lambda: Explorer(_one, _KNOB), TypeError, "knobs must be a sequence"),
        (lambda: Explorer("panel", [_KNOB]), TypeError, "panel must be a function"),
        (lambda: Explorer(lambda b: None, [_KNOB]), TypeError, "not accepted: .'a'."),
        (lambda: Explorer(lambda a, b: 0, [_KNOB]), TypeError, "required but not"),
        # traces
        (lambda: Curve([0], [1], "c", col=-1), ValueError, "col must be an integer"),
        (lambda: Curve([0], [1], "c", row=1.0), TypeError, "row must be an integer"),
        (lambda: Curve([0], [1], "c", group=-1), ValueError, "group must be >= 0"),
        (lambda: Curve(["a"], [1], "c"), TypeError, "x must hold real numbers"),
        (lambda: Curve([0], [{}], "c"), TypeError, "y must hold real numbers"),
        (lambda: Curve([0], [1], 5), TypeError, "name must be a string"),
        (lambda: Curve([0], [1], "c", thin=1), TypeError, "thin must be True or"),
        (lambda: Curve([0], [1], "c", error_y=[-1]), ValueError, "error_y must be >="),
        (lambda: Heatmap([[1.0]], "h", zmax=_INF), ValueError, "zmax must be finite"),
        (lambda: Heatmap([["x"]], "h"), TypeError, "z must hold real numbers"),
        (lambda: Heatmap([[1.0]], "h", colorscale=3), TypeError, "colorscale must"),
        (lambda: Heatmap([[1.0]], "h", showscale="y"), TypeError, "showscale"),
        (lambda: band([0, 1], [["a", "b"], [1, 2]], "b"), TypeError, "samples must"),
        (lambda: band([0, 1], [[1, 2], [3, 4]], 7), TypeError, "name must be a str"),
        (lambda: Panel(Curve([0], [1], "c")), TypeError, "curves must be a list"),
        (lambda: Panel([1]), TypeError, r"curves\[0\] must be a Curve"),
        (lambda: Panel([], note=None), TypeError, "note must be a string"),
        (
            lambda: paired_curves([0, 1], [[1], [2]], [[1], [2]], ["u", "v"]),
            ValueError,
            r"simulation must have shape \(points, k\) = \(2, 2\)",
        ),
        (lambda: paired_curves([0, 1], [1, 2], [1, 2], "u"), TypeError, "labels must"),
    ],
)
def test_every_constructor_argument_is_validated(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_a_curve_outside_the_grid_is_refused_when_the_panel_is_computed():
    ex = Explorer(lambda a: Panel([Curve([0], [a], "c", col=3)]), [_KNOB], cols=2)
    with pytest.raises(ValueError, match="col=3; the grid has rows=1, cols=2"):
        ex.evaluate()


@pytest.mark.parametrize(("low", "high"), [(0.05, 10.0), (0.03, 100.0), (1e-3, 0.3)])
def test_a_log_slider_s_own_ends_are_valid_values(low, high):
    # 10**log10(0.05) = 0.049999999999999996 < 0.05: the control's leftmost value
    # used to be rejected, and every later move of any knob with it
    import math

    knob = Knob("lr", (low,), low=low, high=high, log=True)
    for raw in (10 ** math.log10(low), 10 ** math.log10(high)):
        assert low <= knob.clamp(raw) <= high
        knob.check(knob.clamp(raw))
    assert knob.clamp("x") == "x" and knob.clamp(float("nan")) != knob.clamp(1.0)


def test_the_live_explorer_takes_its_sliders_ends_and_never_wedges():
    import math

    def panel(lr, b, kind):
        if kind == "broken":
            raise RuntimeError("this state cannot be computed")
        return Panel([Curve([0, 1], [lr, b], "c")])

    ex = Explorer(
        panel,
        [
            Knob("lr", (0.1,), low=0.05, high=1.0, log=True),
            Knob("b", (1.0,), low=0.1, high=3.0),
            Knob("kind", ("ok", "broken")),
        ],
    )
    ex.widget()

    def y():
        return ex.figure["data"][0]["y"]

    def note():
        return ex.figure["layout"]["annotations"][0]["text"]

    ex._controls["lr"].value = 10 ** math.log10(0.05)  # what the frontend sends
    assert ex._status.value == "" and y()[0] == 0.05
    ex._controls["b"].value = 2.0  # other knobs keep working
    assert y()[1] == 2.0
    ex._controls["kind"].value = "broken"  # any error: the note says it, no raise
    assert "RuntimeError" in ex._status.value
    assert "cannot be computed" in note() and y()[1] == 2.0  # the last figure stays
    ex._controls["kind"].value = "ok"  # and the next move computes afresh
    ex._controls["b"].value = 0.5
    assert y()[1] == 0.5 and ex._status.value == ""
    assert note() == ""


# -- live controls: none dead ------------------------------------------------------


def test_a_knob_with_one_live_option_gets_no_control_and_is_stated_fixed():
    def panel(a, width, depth):
        return Panel([Curve([0, 1], [0, a * width * depth], "c")])

    ex = Explorer(
        panel,
        [
            Knob("a", (1.0,), low=0.5, high=2.0),
            Knob("width", (16,)),
            Knob("depth", (2,), live=(2, 3)),
        ],
    )
    box = ex.widget()
    assert set(ex._controls) == {"a", "depth"}  # width has one value: no control
    assert "Fixed: width = 16" in box.children[2].value
    assert [o[1] for o in ex._controls["depth"].options] == [2, 3]
    ex._controls["depth"].value = 3  # a live option the static page lacks
    assert ex.figure["data"][0]["y"] == [0.0, 48.0]
    caption = re.search(r"lm-explorer-fixed'>(.*?)</p>", ex.static_html(False))[1]
    # the static caption promises only what live mode can do
    assert caption == (
        "Fixed in this static view: a = 1, width = 16, depth = 2. Run the page "
        "live (Jupyter, Binder or Colab) to vary a and depth."
    )
    with pytest.raises(ValueError, match="live must include every static value"):
        Knob("d", (2, 5), live=(2, 3))
    with pytest.raises(ValueError, match="a continuous knob has its live range"):
        Knob("d", (2.0,), low=1.0, high=3.0, live=(2.0, 3.0))
    with pytest.raises(ValueError, match="must be one of 2, 3"):
        ex.evaluate(depth=4)


def test_every_live_control_of_the_book_offers_at_least_two_values():
    from explorer_grid import all_factories, explorer

    for factory in all_factories():
        ex = explorer(factory)
        for k in ex.knobs:
            # a control with one value is a dead widget: give the knob a live
            # range or live options, or drop it from the knobs
            assert k.continuous or len(k.options) >= 2, (factory.__name__, k.name)


def _other_value(knob):
    """A value of ``knob``'s live control away from its default: the far end of a
    continuous range (in log space for a log knob), or the option at the far end
    of a discrete control."""
    if not knob.continuous:
        first, last = knob.options[0], knob.options[-1]
        return last if last != knob.default else first
    if knob.log:
        lo, hi, d = (math.log(v) for v in (knob.low, knob.high, knob.default))
        return knob.low if d - lo > hi - d else knob.high
    return knob.low if knob.default - knob.low > knob.high - knob.default else knob.high


def panel_data(panel) -> list:
    """A panel's drawn data, comparable with ``==``: ``[(id, [arrays as lists])]``."""
    out = []
    for c in panel.curves:
        arrays = (c.z,) if isinstance(c, Heatmap) else (c.x, c.y)
        out.append((c.id, [np.asarray(a, float).round(10).tolist() for a in arrays]))
    return out


def moved_states(ex) -> tuple:
    """``(base, [(knob name, state)])``: the default figure's data and note, and for
    each knob the state with that knob at the far end of its live control."""
    default = {k.name: k.default for k in ex.knobs}
    panel = ex.evaluate(**default)
    base = (panel_data(panel), panel.note)
    return base, [(k.name, {**default, k.name: _other_value(k)}) for k in ex.knobs]


@pytest.mark.statistical
@pytest.mark.parametrize(
    "factory",
    # the three explorers whose live states train for minutes (HEAVY) get this
    # check in test_trust_api_ends.py, from the end-of-range panels it computes
    [f for f in all_factories() if f.__name__ not in HEAVY],
    ids=lambda f: f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}",
)
def test_moving_any_live_control_changes_the_figure(factory):
    from explorer_grid import explorer

    ex = explorer(factory)
    base, moves = moved_states(ex)
    for name, state in moves:
        moved = ex.evaluate(**state)
        assert (panel_data(moved), moved.note) != base, (name, state[name])


@pytest.mark.slow
def test_controls_take_the_keyboard_and_panels_stack_at_phone_width(
    tmp_path, launch_chromium
):
    """Issue 10: every control is reached with Tab and moved with the arrow keys,
    Home and End, with a visible focus ring; at 390 px the 2 x 2 figure stacks its
    panels in one column (before, each panel shrank to 47 px and they overlapped)."""
    import tempfile

    from browser_helpers import explorer_inputs

    ex = _demo()
    page_path = tmp_path / "figure.html"
    ex.save_html(str(page_path))
    spec = _spec(page_path.read_text(encoding="utf-8"))
    labels = [k["labels"] for k in spec["knobs"]]
    with tempfile.TemporaryDirectory() as profile:
        context = launch_chromium(profile, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith("file:") else r.abort()
                ),
            )
            page.goto(page_path.as_uri())
            gd = page.locator("div.lm-explorer .js-plotly-plot")
            gd.locator(".heatmaplayer image").first.wait_for(timeout=20_000)
            inputs = explorer_inputs(gd)
            assert inputs.count() == 2
            reached = []
            for _ in range(80):  # the modebar's buttons come first
                page.keyboard.press("Tab")
                at = page.evaluate(
                    "() => document.activeElement.type === 'range' ? "
                    "document.activeElement.id : null"
                )
                if at and at not in reached:
                    reached.append(at)
                if len(reached) == 2:
                    break
            assert len(reached) == 2, f"Tab reached only {reached}"
            ring = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
            )
            assert ring[0] != "none" and ring[1] >= 2, ring
            data = "gd => JSON.stringify(gd.data)"
            for key, pos in (("End", -1), ("Home", 0)):
                before = gd.evaluate(data)
                page.keyboard.press(key)
                page.wait_for_timeout(200)
                out = page.evaluate(
                    "() => document.getElementById("
                    "document.activeElement.id + '-out').textContent"
                )
                assert out == labels[1][pos]
                assert gd.evaluate(data) != before
            wide_h = gd.evaluate("gd => gd._fullLayout.height")
            page.set_viewport_size({"width": 390, "height": 800})
            page.wait_for_function(
                "([el, h]) => el._fullLayout.height > h",
                arg=[gd.element_handle(), wide_h],
                timeout=10_000,
            )
            boxes = gd.evaluate(  # one per subplot: its x axis and main y axis
                "gd => [1, 2, 3, 4].map(i => { const k = i === 1 ? '' : i;"
                " const x = gd._fullLayout['xaxis' + k],"
                " y = gd._fullLayout[x.anchor.replace('y', 'yaxis')];"
                " return [x._length, y._length, y.domain[0], y.domain[1]]; })"
            )
            for width_px, height_px, _, _ in boxes:
                assert width_px >= 200 and height_px >= 150, boxes
            spans = sorted((lo, hi) for _, _, lo, hi in boxes)
            for (_, hi), (lo, _) in itertools.pairwise(spans):
                assert hi <= lo, f"stacked panels overlap: {spans}"
            assert gd.evaluate("gd => gd.getBoundingClientRect().width") <= 390
            # the drawing follows the div (a relayout of the height had turned
            # plotly's autosize off: opened wide, then narrowed, the figure kept
            # its wide width and the page scrolled sideways)
            page.wait_for_function(
                "el => el._fullLayout.width <= 390", arg=gd.element_handle()
            )
            page.set_viewport_size({"width": 1280, "height": 900})
            page.wait_for_function(
                "([el, h]) => el._fullLayout.height === h",
                arg=[gd.element_handle(), wide_h],
                timeout=10_000,
            )
            page.wait_for_function(
                "el => el._fullLayout.width >= 1000", arg=gd.element_handle()
            )
        finally:
            context.close()


def test_side_by_side_panels_put_the_legend_under_the_plots():
    # issue 10: a legend beside two or three panels took ~180 px of the ~690 px text
    # column (three panels ~110 px each, the lazy/rich plane ~180 px). Side by side,
    # the legend goes under the plots, the figure grows by its rows and the plot
    # area keeps its height; one column keeps it beside; a colour bar on the right
    # keeps it beside too (under would not free the bar's room)
    def two(a):
        names = [f"a fairly long legend entry {i}" for i in range(6)]
        return Panel(
            [Curve([0, 1], [a, i], n, col=1 + i % 2) for i, n in enumerate(names)]
        )

    ex = Explorer(two, [Knob("a", (1.0, 2.0))], cols=2, height=420)
    spec = _spec(ex.static_html(progress=False))
    lay = spec["figure"]["layout"]
    assert lay["legend"]["orientation"] == "h" and lay["legend"]["y"] < 0
    plot_h = lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]
    assert plot_h == 420 - lay["margin"]["t"] - 60  # the plot area as before
    # six entries of ~30 characters and the key: at least three rows of ~22 px
    assert lay["height"] >= 420 + 3 * 22
    # below the tick labels and the x title, and within the figure
    assert lay["legend"]["y"] * plot_h <= -60
    assert spec["wide"]["legend.orientation"] == "h"
    assert spec["wide"]["height"] == lay["height"]
    assert spec["wide"]["legend.y"] == lay["legend"]["y"]

    one = Explorer(
        lambda a: Panel([Curve([0, 1], [a, 1], "c")]), [Knob("a", (1.0, 2.0))]
    )
    lay1 = _spec(one.static_html(progress=False))["figure"]["layout"]
    assert lay1["legend"]["orientation"] == "v" and lay1["height"] == one.height

    def heat(a):
        return Panel(
            [
                Curve([0, 1], [a, 1], "c"),
                Heatmap([[a, 1], [1, a]], "h", col=2),
            ]
        )

    bar = Explorer(heat, [Knob("a", (1.0, 2.0))], cols=2)
    lay2 = _spec(bar.static_html(progress=False))["figure"]["layout"]
    assert lay2["legend"]["orientation"] == "v" and lay2["legend"]["x"] > 1
