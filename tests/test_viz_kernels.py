"""Chapter 2 explorers, sections 2.1 and 2.2 (lm_sims.viz.kernels): the static grid,
page weight, and the figures against the library's theory. The simulations and
theory behind them (output samples, pre-activations, signal propagation, the NTK
width scan) are tested in test_kernels.py."""

import jax
import numpy as np
import pytest
from explorer_grid import explorer, grid
from figure_checks import steps_that_change_nothing, subplots_without_a_y_title

from lm_sims import kernels
from lm_sims.viz import kernels as vk

KEY = jax.random.key(0)
MAX_PAGE_BYTES = 1_500_000
FACTORIES = (vk.nngp_explorer, vk.signal_propagation_explorer, vk.ntk_explorer)
# Curves that are empty by design when kernel gradient descent diverges (lr above
# 2P / lambda_max): there is no finite prediction, and the run is not lazy.
NO_KERNEL = ("NTK prediction", "gap |f − f_NTK|", "  ∝ n^")


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_static_grid_gives_finite_curves_with_stable_names(factory):
    points = grid(factory)
    names = [c.name for c in points[0][1].curves]
    assert len(set(names)) == len(names)
    for values, panel in points:
        assert [c.name for c in panel.curves] == names, values
        kernel_diverged = "kernel gradient descent diverges" in panel.note
        # a network may diverge only beyond the kernel's limit (the catapult lr)
        net_diverged = "network diverged" in panel.note
        assert kernel_diverged or not net_diverged, values
        for c in panel.curves:
            assert np.all(np.isfinite(c.x)) and np.all(np.isfinite(c.y)), c.name
            empty = (kernel_diverged and c.name.startswith(NO_KERNEL)) or (
                net_diverged and c.name == "trained network"
            )
            if empty:
                assert c.y.size == 0, (values, c.name)
            else:
                assert c.y.size >= 2, (values, c.name)


# the curves averaged over networks, drawn as bands (mean and spread)
BANDS = {
    vk.nngp_explorer: ("covariance (networks)",),
    vk.ntk_explorer: ("weights |Δw|/|w|", "kernel |ΔΘ|/|Θ|", "gap |f − f_NTK|"),
}


@pytest.mark.parametrize("factory", tuple(BANDS), ids=lambda f: f.__name__)
def test_bands_over_networks_contain_their_mean(factory):
    # at every static grid point each averaged curve is a band of nonzero width
    # whose edges enclose the mean (1e-12 relative: float64 rounding of the mean
    # of equal values), and none other is a band
    for values, panel in grid(factory):
        bands = {c.name: c for c in panel.curves if c.is_band}
        assert set(bands) == set(BANDS[factory]), values
        for name, c in bands.items():
            assert c.band_label.endswith(" networks"), c.band_label
            if c.y.size == 0:  # the gap when kernel gradient descent diverges
                assert name.startswith(NO_KERNEL), (values, name)
                continue
            tol = 1e-12 * np.abs(c.y)
            assert np.all(c.lower <= c.y + tol), (values, name)
            assert np.all(c.y <= c.upper + tol), (values, name)
            assert np.all(c.upper > c.lower), (values, name)
            if factory is vk.ntk_explorer:  # drawn on a log axis
                assert np.all(c.lower > 0), (values, name)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_static_page_weight(factory):
    grid(factory)  # compile first: static_html then costs the evaluation only
    html = explorer(factory).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_only_the_catapult_learning_rate_leaves_the_kernel_regime():
    # On the static grid, lr = 6 is above 2P/lambda_max (~4.3-4.4 here) and only it
    for values, panel in grid(vk.ntk_explorer):
        assert ("diverges" in panel.note) == (values["lr"] == 6.0), values
        if values["lr"] == 6.0:  # the step, as for a diverging network (issue 12)
            assert "kernel gradient descent diverges at step" in panel.note


# -- 2.1 --------------------------------------------------------------------------


def test_nngp_panel_covariance_matches_theory_within_sampling_error():
    # One hidden layer: E[f f'] = K exactly at every width (the readout is the only
    # sum), so the 500 x 8 samples must agree within 4 standard errors (sampling).
    # Three hidden layers at width 1: the deeper layers see a non-Gaussian,
    # one-unit layer and the covariance is far from K (>> 4 standard errors):
    # the check can tell a finite network from its limit.
    ex = explorer(vk.nngp_explorer)
    for width in (1, 4, 128):
        for activation in ("relu", "erf"):
            panel = ex.evaluate(width=width, depth=1, activation=activation)
            sim, theory = panel.curves[0], panel.curves[1]
            th = np.interp(sim.x, theory.x, theory.y)
            assert np.max(np.abs(sim.y - th) / _half_width(sim)) < 4.0, (
                width,
                activation,
            )
    panel = ex.evaluate(width=1, depth=3, activation="relu")
    sim, theory = panel.curves[0], panel.curves[1]
    th = np.interp(sim.x, theory.x, theory.y)
    assert np.max(np.abs(sim.y - th) / _half_width(sim)) > 8.0


def _half_width(curve):
    """Half the width of a mean +- spread band: the standard error for the NNGP."""
    return 0.5 * (curve.upper - curve.lower)


def test_output_histogram_is_a_density_and_gaussian_at_large_width():
    # The histogram integrates to the fraction of samples inside +-4 sd (>= 99.5%
    # at width 128; Gaussian: 99.99%); at width 128 its largest bin differs from
    # the normal density by < 0.06 (sampling: ~sqrt(0.4 / (4000 * 0.25)) = 0.02
    # per bin, up to 3 sigma) while at width 1 the spike of dead ReLUs is > 0.4 off
    ex = explorer(vk.nngp_explorer)
    for width, small in ((128, True), (1, False)):
        hist, gauss = ex.evaluate(width=width, depth=1).curves[2:4]
        mass = np.sum(np.diff(hist.x)[::2] * hist.y[::2])
        assert mass <= 1.0 + 1e-9
        centres = 0.5 * (hist.x[::2] + hist.x[1::2])
        dev = np.max(np.abs(hist.y[::2] - np.interp(centres, gauss.x, gauss.y)))
        if small:
            assert mass > 0.995 and dev < 0.06, (mass, dev)
        else:
            assert dev > 0.4, dev


def test_signal_propagation_panel_starts_on_the_map():
    # Layer 1 of the explorer's single width-1024 network: correlation within 0.1
    # (> 3 standard errors, (1 - c^2) / sqrt(1024) <= 0.03) and length within 15%
    # (sqrt(2 / 1024) = 4.4% sampling) of the theory, for every grid setting
    for values, panel in grid(vk.signal_propagation_explorer):
        if values["width"] != 1024:
            continue
        by_name = {c.name: c for c in panel.curves}
        for name, th in by_name.items():
            if not name.endswith(" (theory)"):
                continue
            sim = by_name[name.removesuffix(" (theory)")]
            if name.startswith("length"):
                assert abs(sim.y[0] / th.y[0] - 1) < 0.15, (values, name)
            else:
                assert abs(sim.y[0] - th.y[0]) < 0.1, (values, name)


# -- figure checks (issue 10) -----------------------------------------------------


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_step_of_every_knob_changes_the_figure(factory):
    assert steps_that_change_nothing(factory) == []


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_subplot_has_a_y_title(factory):
    assert subplots_without_a_y_title(factory) == []


def test_ntk_figure_draws_the_target_through_its_training_points():
    # The target function is drawn (thin, in the training points' colour), equal
    # to kernels.TARGETS at the plotted angles (float64 both: 1e-12), and at P = 4
    # "smooth" and "sin 3θ" take the same values at the four points: the networks
    # are the same, only the target line tells the states apart.
    ex = explorer(vk.ntk_explorer)
    by = {}
    for target in kernels.TARGETS:
        panel = ex.evaluate(width=256, lr=2.0, num_train=4, target=target)
        by[target] = {c.name: c for c in panel.curves}
        line, points = by[target]["target"], by[target]["training points"]
        assert line.thin and line.group == points.group
        f = kernels.TARGETS[target]
        np.testing.assert_allclose(line.y, f(np.radians(line.x)), atol=1e-12)
        np.testing.assert_allclose(points.y, f(np.radians(points.x)), atol=1e-12)
    smooth, sin3 = by["smooth"], by["sin 3θ"]
    np.testing.assert_allclose(smooth["training points"].y, sin3["training points"].y)
    # the two targets agree at the points up to rounding (1e-16 in float64, 1e-7
    # in float32), which 200 stable steps of gradient descent do not amplify
    np.testing.assert_allclose(
        smooth["trained network"].y, sin3["trained network"].y, atol=1e-5
    )
    assert np.max(np.abs(smooth["target"].y - sin3["target"].y)) > 0.5


def test_nngp_legend_names_the_theory_curves():
    # the theory curve of a pair in the legend reads as theory; the Gaussian is
    # the limit of the normalised output f(x0) / sqrt(K(x0, x0)): N(0, 1)
    panel = explorer(vk.nngp_explorer).evaluate(width=4, depth=1)
    theory = [c.name for c in panel.curves if c.role == "theory" and c.showlegend]
    assert theory and all(name.endswith("(theory)") for name in theory), theory
    gauss = next(c for c in panel.curves if c.name.startswith("Gaussian"))
    assert "N(0, 1)" in gauss.name
    area = np.sum(np.diff(gauss.x) * 0.5 * (gauss.y[1:] + gauss.y[:-1]))
    assert area == pytest.approx(1.0, abs=1e-3)  # +-4 sd hold 99.994%
