"""Chapter 3.1 explorers (lm_sims.viz.scaling): every static-grid state has finite
curves, theory and simulation in every panel, and the key numbers. The science
behind them is tested in test_scaling.py."""

import numpy as np
import pytest
from explorer_grid import explorer, grid
from figure_checks import figure_defects

from lm_sims import scaling as sc
from lm_sims.viz import scaling as vs
from lm_sims.viz.explorer import Curve

FACTORIES = [
    vs.kaplan_explorer,
    vs.learning_curve_explorer,
    vs.quanta_digits_explorer,
]
# subplots (row, col) of each explorer
CELLS = {
    vs.kaplan_explorer: [(1, 1), (1, 2), (1, 3)],
    vs.learning_curve_explorer: [(1, 1), (1, 2)],
    vs.quanta_digits_explorer: [(1, 1), (1, 2), (2, 1), (2, 2)],
}


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_state_is_finite_with_theory_and_simulation_in_each_panel(factory):
    for values, panel in grid(factory):
        curves = [c for c in panel.curves if isinstance(c, Curve)]
        for c in curves:
            assert c.y.size > 0, (values, c.name)
            assert np.all(np.isfinite(c.x)) and np.all(np.isfinite(c.y)), c.name
            if c.is_band:  # drawn on log axes
                assert np.all(c.lower > 0), (values, c.name)
        for cell in CELLS[factory]:
            roles = {c.role for c in curves if (c.row, c.col) == cell}
            assert roles == {"theory", "simulation"}, (values, cell, roles)
        assert "diverged" not in panel.note, (values, panel.note)


def _by_name(panel):
    return {c.name: c for c in panel.curves}


def test_kaplan_panels_simulation_meets_theory():
    # data and parameter panels: the simulated means lie within 20% of the theory
    # at every point (8 draws: per-point s.e. 5-15%; eigenlearning's own error at
    # n = 16 is ~10%), at alpha = 1.5, r = 2, no noise
    for values, panel in grid(vs.kaplan_explorer):
        if values != {"alpha": 1.5, "r": 2.0, "noise": 0.0}:
            continue
        curves = _by_name(panel)
        cfg = sc.Config(num_modes=vs.NUM_MODES, alpha=1.5, r=2.0)
        data = curves["n: simulation"]
        np.testing.assert_allclose(data.y, sc.predict_data(cfg, data.x), rtol=0.2)
        width = curves["N: simulation"]
        np.testing.assert_allclose(width.y, sc.predict_width(cfg, width.x), rtol=0.2)
        # the compute panel's simulated curves fall with compute, and the
        # frontier lies at or below every model size's theory curve
        for w in vs.COMPUTE_WIDTHS:
            y = curves[f"N = {w}"].y
            assert np.all(np.diff(y) <= 1e-12), w
        frontier = curves["compute-optimal frontier (theory)"]
        for w in vs.COMPUTE_WIDTHS:
            th = curves[f"N = {w} (theory)"]
            assert np.all(frontier.y <= th.y * (1 + 1e-9)), w
        assert "n^-1.00" in panel.note and "C^-0.40" in panel.note
        return
    pytest.fail("state alpha = 1.5, r = 2, noise = 0 is not in the static grid")


def test_learning_curves_show_the_data_saturation():
    # r = 5 at alpha = 1.5: the theory's local slope on the data axis, averaged
    # over n = 64..256, is near -2 alpha = -3 (not -(r-1) = -4) within 0.3
    # (finite-n and finite-P corrections: -3.0 to -3.3 there); r = 2 near -1
    for values, panel in grid(vs.learning_curve_explorer):
        if values != {"axis": "data", "alpha": 1.5, "noise": 0.0}:
            continue
        curves = _by_name(panel)
        for r, asym in ((5, -3.0), (2, -1.0)):
            c = curves[f"r = {r} slope (theory)"]
            local = c.y[(c.x >= 64) & (c.x <= 256)]
            assert abs(local.mean() - asym) < 0.3, (r, local)
        assert curves["r = 5 asymptote"].y[0] == -3.0
        return
    pytest.fail("state axis = data, alpha = 1.5, noise = 0 is not in the grid")


def test_time_axis_leaves_the_mode_sum_when_the_data_run_out():
    # n = 512 samples: the simulated error ends above the mode sum (which goes to
    # zero) by more than 2x at t = 10^5, and agrees with it within 15% at t ~ 10
    for values, panel in grid(vs.learning_curve_explorer):
        if values != {"axis": "time", "alpha": 1.5, "noise": 0.0}:
            continue
        curves = _by_name(panel)
        sim, th = curves["r = 2"], curves["r = 2 (theory)"]
        assert sim.y[-1] > 2 * th.y[-1]
        i = int(np.argmin(np.abs(sim.x - 10)))
        assert abs(sim.y[i] / th.y[i] - 1) < 0.15
        return
    pytest.fail("state axis = time, alpha = 1.5, noise = 0 is not in the grid")


def test_digits_panel_prediction_within_ten_percent():
    # measured kernel regression vs eigenlearning from the measured spectrum:
    # within 10% at n = 32..512 (the statistical test checks this at 8 draws)
    values, panel = grid(vs.quanta_digits_explorer)[0]
    curves = _by_name(panel)
    sim = curves["digits: kernel regression"]
    th = curves["eigenlearning, measured spectrum (theory)"]
    keep = sim.x >= 32
    assert np.all(np.abs(sim.y[keep] / th.y[keep] - 1) < 0.1)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_figure_has_y_titles_short_titles_and_honest_legend(factory):
    # caught: the quanta data panel had no y title, two Kaplan subplot titles ran
    # into each other, "eigenlearning" and "compute-optimal frontier" were theory
    # lines whose legend entries did not say so
    ex = explorer(factory)
    assert figure_defects(ex, ex.evaluate()) == []
