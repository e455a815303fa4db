"""Chapter 2 explorers, sections 2.3 and 2.4 (lm_sims.viz.lazy_rich). The science
behind them is tested in test_lazy_rich_sweep.py and test_feature_learning.py."""

import jax
import numpy as np
import pytest
from explorer_grid import explorer, grid
from figure_checks import steps_that_change_nothing, subplots_without_a_y_title

from lm_sims import feature_learning as fl
from lm_sims import lazy_rich, power_law_fit
from lm_sims.viz import lazy_rich as vlr

KEY = jax.random.key(0)
MAX_PAGE_BYTES = 1_500_000
FACTORIES = (
    vlr.lazy_rich_explorer,
    vlr.relative_change_explorer,
    vlr.feature_learning_explorer,
)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_static_grid_gives_finite_curves_with_stable_names(factory):
    points = grid(factory)
    names = [c.name for c in points[0][1].curves]
    assert len(set(names)) == len(names)
    for values, panel in points:
        assert [c.name for c in panel.curves] == names, values
        assert panel.note == "", (values, panel.note)  # nothing diverges on the grid
        for c in panel.curves:
            drawn = ~np.isnan(c.y)
            # NaN only as the break between two paths of a `breaks` curve
            assert c.breaks or drawn.all(), (values, c.name)
            assert np.all(np.isfinite(c.x[drawn])) and np.all(np.isfinite(c.y[drawn]))
            assert drawn.sum() >= 2, (values, c.name)


# the curves averaged over seeds, drawn as bands (mean ± 1 s.e.m. over 4 seeds)
BANDS = {
    vlr.relative_change_explorer: {"network (simulation)"},
    vlr.feature_learning_explorer: {
        f"{p}{s}" for p in ("SP", "NTK", "μP") for s in ("", " (output)")
    },
}


@pytest.mark.parametrize("factory", tuple(BANDS), ids=lambda f: f.__name__)
def test_bands_over_seeds_contain_their_mean(factory):
    # at every static grid point each averaged curve is a band over 4 seeds of
    # nonzero width whose edges enclose the mean at every point (1e-12 relative:
    # float64 rounding of a mean), and no other curve is a band
    for values, panel in grid(factory):
        bands = {c.name: c for c in panel.curves if c.is_band}
        assert set(bands) == BANDS[factory], values
        for name, c in bands.items():
            assert c.band_label == "mean ± 1 s.e.m. over 4 seeds", c.band_label
            assert c.y.size >= 5, (values, name)  # nothing dropped on the grid
            tol = 1e-12 * np.abs(c.y)
            assert np.all(c.lower <= c.y + tol), (values, name)
            assert np.all(c.y <= c.upper + tol), (values, name)
            assert np.all(c.upper > c.lower), (values, name)
            assert np.all(c.lower > 0), (values, name)  # drawn on a log axis


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_static_page_weight(factory):
    grid(factory)  # warm caches: static_html then costs only the serialisation
    html = explorer(factory).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_neuron_paths_have_one_polyline_per_neuron():
    ex = explorer(vlr.lazy_rich_explorer)
    panel = ex.evaluate(alpha=30.0, width=50)
    paths = [c for c in panel.curves if c.name.startswith("neurons,")]
    ends = [c for c in panel.curves if c.name.startswith("final position")]
    # every neuron is one polyline ended by a NaN break (the last one trimmed)
    assert sum(int(np.isnan(c.x).sum()) + 1 for c in paths) == 50
    assert sum(c.x.size for c in ends) == 50
    # each path ends at its neuron's final marker
    for path, end in zip(paths, ends, strict=True):
        stops = np.append(np.flatnonzero(np.isnan(path.x)) - 1, path.x.size - 1)
        np.testing.assert_allclose(path.x[stops], end.x)


def test_coordinate_check_figure_draws_the_predicted_slopes():
    # Every dashed line has exactly the predicted slope (float64 rounding of the
    # log-log fit: 1e-9), and the measured curve beside it fits within 0.15 of it
    # (4 seeds: seed sd of the mean ~0.05; finite-width corrections, measured up to
    # 0.1 for SP's second layer). Checked on SP at lr * 64/n, in the kernel regime.
    panel = explorer(vlr.feature_learning_explorer).evaluate(
        lr=0.01, sp_lr="lr × 64/n", layer=2
    )
    by_name = {c.name: c for c in panel.curves}
    for name, theory in by_name.items():
        if not name.endswith(" (theory)"):
            continue
        sim = by_name[name.removesuffix(" (theory)")]
        par = {"SP": "sp", "NTK": "ntk", "μP": "mup"}[name.split()[0]]
        idx = 2 if "(output)" in name else 1
        predicted = fl.predicted_exponents(par, "lr × 64/n")[idx]
        assert _slope(theory) == pytest.approx(predicted, abs=1e-9), name
        assert _slope(sim) == pytest.approx(predicted, abs=0.15), name


def _slope(curve):
    x, y = np.asarray(curve.x, np.float64), np.asarray(curve.y, np.float64)
    return float(power_law_fit(x, y).exponent)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="sp_lr must be one of"):
        fl.one_step_changes(KEY, "sp", 0.01, sp_lr="sqrt")
    with pytest.raises(TypeError, match="lazy_rich.Config"):
        lazy_rich.predict_lazy(KEY, object())
    with pytest.raises(ValueError, match="alpha must be in"):
        explorer(vlr.lazy_rich_explorer).evaluate(alpha=1e3)


# -- figure checks (issue 10) -----------------------------------------------------


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_step_of_every_knob_changes_the_figure(factory):
    assert steps_that_change_nothing(factory) == []


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_subplot_has_a_y_title(factory):
    assert subplots_without_a_y_title(factory) == []


def test_neuron_plane_has_equal_axis_scales():
    # issue 10: with unequal scales the teacher's directions looked skewed. The
    # plane's y axis is pinned to its x axis one to one; the time panel is not.
    ex = explorer(vlr.lazy_rich_explorer)
    layout = ex._figure_dict(grid(vlr.lazy_rich_explorer)[0][1])["layout"]
    assert layout["yaxis"]["scaleanchor"] == "x"
    assert layout["yaxis"]["scaleratio"] == 1
    assert "scaleanchor" not in layout["yaxis2"]
    # the teacher's rays are unit directions drawn from the origin
    panel = ex.evaluate(alpha=0.1, width=200)
    rays = next(c for c in panel.curves if c.name == "teacher directions")
    points = np.stack([rays.x, rays.y], axis=1)
    length = np.linalg.norm(points, axis=1)
    ends = length[np.isfinite(length) & (length > 0)]
    assert ends.size == 3  # three teacher directions, each a ray from the origin
    np.testing.assert_allclose(ends, ends[0], rtol=1e-6)
