"""Chapter 3.2 explorers (lm_sims.viz.edge_of_stability). The science behind them is
tested in test_edge_of_stability.py."""

import jax
import numpy as np
import pytest
from explorer_grid import explorer, grid
from figure_checks import figure_defects

from lm_sims import edge_of_stability as eos
from lm_sims.viz import edge_of_stability as veos

KEY = jax.random.key(0)
MAX_PAGE_BYTES = 1_500_000
# the edge explorer's static grid trains 36 networks (12 states x 3 learning rates,
# ~15 s with a warm compilation cache, ~45 s cold on 2 cores): statistical tier
FACTORIES = (
    pytest.param(veos.edge_of_stability_explorer, marks=pytest.mark.statistical),
    veos.quadratic_explorer,
)


def _id(factory):
    return getattr(factory, "__name__", None)


def _subplots(panel):
    return {(c.row, c.col) for c in panel.curves}


@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_static_grid_gives_finite_curves_with_theory_and_simulation(factory):
    points = grid(factory)
    ids = [c.id for c in points[0][1].curves]
    assert len(set(ids)) == len(ids)
    for values, panel in points:
        assert [c.id for c in panel.curves] == ids, values
        for c in panel.curves:
            drawn = ~np.isnan(c.y)
            assert c.breaks or drawn.all(), (values, c.id)  # NaN only as a break
            assert np.all(np.isfinite(c.x[drawn])) and np.all(np.isfinite(c.y[drawn]))
            assert drawn.sum() >= 2, (values, c.id)
        # every subplot holds a simulation and its theory, except the loss row of
        # the edge explorer: no theory predicts the loss at the edge of stability
        # (the central flow of Chapter 4 does; Cohen et al.'s Fig. 1 has none)
        for place in _subplots(panel):
            roles = {c.role for c in panel.curves if (c.row, c.col) == place}
            expected = {"simulation", "theory"}
            if factory is veos.edge_of_stability_explorer and place == (1, 1):
                expected = {"simulation"}
            assert roles == expected, (values, place)


@pytest.mark.statistical
def test_edge_explorer_grid_runs_are_finite_and_reach_the_edge():
    # nothing diverges on the static grid (lr_scale up to 2, i.e. k = 2: a
    # catapult that survives), and at the book's setting (tanh, h = 64, scale 1)
    # the k = 4 and 8 runs settle at 2/lr while k = 16 stays below: the late
    # (t-index >= 100, steps >= 1000) mean of S lr / 2 in [0.97, 1.06] and max
    # of the control below 0.9, the bands of test_edge_of_stability.py
    for values, panel in grid(veos.edge_of_stability_explorer):
        assert panel.note == "", (values, panel.note)
        assert len(panel.curves) == 9
    panel = explorer(veos.edge_of_stability_explorer).evaluate(
        activation="tanh", width=64, lr_scale=1.0
    )
    by_id = {c.id: c for c in panel.curves}
    for k in (4, 8, 16):
        edge = by_id[f"edge {k}"].y[0]
        sharp = by_id[f"sharpness {k}"].y
        assert sharp.size == 201  # every 10 steps of 2,000, none cut
        ratio = sharp / edge
        if k < 16:
            assert 0.97 <= ratio[100:].mean() <= 1.06, (k, ratio[100:].mean())
        else:
            assert ratio.max() < 0.9
    # the edges 2/lr = k S0 are in the ratio 4 : 8 : 16
    edges = [by_id[f"edge {k}"].y[0] for k in (4, 8, 16)]
    np.testing.assert_allclose(np.array(edges) / edges[0], [1.0, 2.0, 4.0])
    s0 = float(eos.initial_sharpness(KEY, eos.Config()))
    assert edges[0] == pytest.approx(4 * s0, rel=1e-6)  # 2/lr = k S0


def test_quadratic_explorer_diverges_exactly_above_two():
    ex = explorer(veos.quadratic_explorer)
    for values, panel in grid(veos.quadratic_explorer):
        ratio = values["lr_times_s"]
        by_id = {c.id: c for c in panel.curves}
        loss, theory = by_id["loss"].y, by_id["loss (theory)"].y
        np.testing.assert_allclose(loss, theory, rtol=1e-8)  # float64 rounding
        assert (loss[-1] > loss[0]) == (ratio > 2), ratio
        assert ("divergence" in panel.note) == (ratio > 2), (ratio, panel.note)
    with pytest.raises(ValueError, match="lr_times_s must be in"):
        ex.evaluate(lr_times_s=3.0)


def test_quadratic_explorer_stops_a_diverged_run_at_its_flagged_step():
    # at the live range's top (lr S = 2.5) the loss grows by 1.5^2 a step: it would
    # reach 1e21 by step 60; the run is flagged (loss past the divergence limit)
    # and neither the simulation nor the closed form is drawn from there on
    panel = explorer(veos.quadratic_explorer).evaluate(lr_times_s=2.5)
    by_id = {c.id: c for c in panel.curves}
    run = eos.quadratic_gd(np.diag([4.0, 1.0]), [1.0, 1.0], 2.5 / 4, 60)
    assert run.diverged_step == 10
    for name in ("loss", "loss (theory)"):
        assert len(by_id[name].y) == run.diverged_step
        assert np.all(np.isfinite(by_id[name].y)) and by_id[name].y.max() < 1e4
    assert f"Diverged at step {run.diverged_step}" in panel.note


@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_static_page_weight(factory):
    grid(factory)  # warm caches: static_html then costs only the serialisation
    html = explorer(factory).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_quadratic_figure_has_y_titles_and_honest_legend():
    ex = explorer(veos.quadratic_explorer)
    for ratio in (1.95, 2.2):
        assert figure_defects(ex, ex.evaluate(lr_times_s=ratio)) == []


@pytest.mark.statistical  # three training runs (~2 s warm)
def test_edge_legend_names_the_run_by_k_whatever_the_lr_scale():
    # caught: the legend said "lr = 2/(4 S₀)" at every lr scale c, where
    # lr = c · 2/(k S₀)
    ex = explorer(veos.edge_of_stability_explorer)
    panel = ex.evaluate(lr_scale=2.0)
    names = {c.name for c in panel.curves if c.showlegend}
    assert names == {"k = 4", "k = 8", "k = 16"}, names
    assert figure_defects(ex, panel) == []
