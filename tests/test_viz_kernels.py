"""Chapter 2 explorers, sections 2.1 and 2.2 (lm_sims.viz.kernels): the static grid,
page weight, and the helpers behind the figures against the library's theory."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from explorer_grid import explorer, grid

from lm_sims import kernels, mlp
from lm_sims.viz import kernels as vk

KEY = jax.random.key(0)
MAX_PAGE_BYTES = 1_500_000
FACTORIES = (vk.nngp_explorer, vk.signal_propagation_explorer, vk.ntk_explorer)
# Curves that are empty by design when kernel gradient descent diverges (lr above
# 2P / lambda_max): there is no finite prediction, and the run is not lazy.
NO_KERNEL = ("NTK prediction", "gap |f − f_NTK|", "  ∝ n^")


def _loglog_slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


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


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_static_page_weight(factory):
    grid(factory)  # compile first: static_html then costs the evaluation only
    html = explorer(factory).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_only_the_catapult_learning_rate_leaves_the_kernel_regime():
    # On the static grid, lr = 6 is above 2P/lambda_max (~4.3-4.4 here) and only it
    for values, panel in grid(vk.ntk_explorer):
        assert ("diverges" in panel.note) == (values["lr"] == 6.0), values


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
            assert np.max(np.abs(sim.y - th) / sim.error_y) < 4.0, (width, activation)
    panel = ex.evaluate(width=1, depth=3, activation="relu")
    sim, theory = panel.curves[0], panel.curves[1]
    th = np.interp(sim.x, theory.x, theory.y)
    assert np.max(np.abs(sim.y - th) / sim.error_y) > 8.0


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


def test_preactivations_feed_the_network_output():
    # The last hidden pre-activation, through the activation and the readout,
    # gives mlp.apply's output (float32 rounding, 1e-5 relative)
    cfg = mlp.Config(width=32, depth=3, d_in=2, activation="erf", sigma_b2=0.2)
    params = mlp.init(jax.random.key(1), cfg)
    x = vk.circle(np.linspace(0, 3, 5))
    h = vk.preactivations(params, x, cfg)
    assert h.shape == (3, 5, 32)
    s = mlp.layer_scales(cfg)[-1]
    out = s.w_mult * (jax.scipy.special.erf(h[-1]) @ params[-1].w) + (
        s.b_mult * params[-1].b
    )
    expected = mlp.apply(params, x, cfg)
    assert float(jnp.max(jnp.abs(out - expected))) < 1e-5 * float(
        jnp.max(jnp.abs(expected))
    )


@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2", [("erf", 4.0, 0.3), ("relu", 1.5, 0.2)]
)
def test_signal_propagation_theory_is_the_nngp_recursion(
    activation, sigma_w2, sigma_b2
):
    # Layer l's length and correlation are the NNGP Gram matrix of a network with
    # l - 1 hidden layers (same closed forms, float64: 1e-10)
    c0 = np.array([0.2, 0.9])
    cfg = kernels.Config(activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    q, c = vk.signal_propagation_theory(c0, cfg, depth=4)
    angles = np.concatenate([[0.0], np.arccos(c0)])
    x = math.sqrt(2) * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # float64
    for layer in range(1, 4):
        gram = np.asarray(kernels.nngp(x, x, cfg.replace(depth=layer)))
        np.testing.assert_allclose(q[layer], gram[0, 0], rtol=1e-10)
        np.testing.assert_allclose(c[layer], gram[0, 1:] / gram[0, 0], rtol=1e-10)


@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2", [("erf", 4.0, 0.3), ("relu", 2.0, 0.3)]
)
def test_signal_propagation_simulation_follows_theory(activation, sigma_w2, sigma_b2):
    # 16 networks of width 512 and depth 20 (chaotic erf, chi_1 = 1.43; critical
    # ReLU): the mean over networks of the correlation at every layer and input
    # cosine is within 4.5 standard errors of the iterated map (60 correlated
    # comparisons; the finite-width bias, O(depth/width), is below the error).
    # Log-lengths: single ReLU networks random-walk (variance ~ depth/width), so
    # the mean of q_l / q_l(theory) over networks must be within 4.5 standard
    # errors of 1 too.
    c0 = np.array([0.2, 0.7, 0.95])
    x = vk.circle(np.concatenate([[0.0], np.arccos(c0)]))
    cfg = mlp.Config(
        width=512,
        depth=20,
        d_in=2,
        activation=activation,
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
    )
    keys = jax.random.split(jax.random.key(5), 16)
    h = jax.lax.map(lambda k: vk.preactivations(mlp.init(k, cfg), x, cfg), keys)
    h = np.asarray(h, np.float64)  # (networks, layers, inputs, width)
    q = np.mean(h**2, axis=-1)
    c = np.einsum("slw,slkw->slk", h[:, :, 0], h[:, :, 1:]) / cfg.width
    c /= np.sqrt(q[:, :, :1] * q[:, :, 1:])
    q_th, c_th = vk.signal_propagation_theory(c0, cfg, cfg.depth)

    def z_score(samples, expected):
        se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
        return np.abs(samples.mean(axis=0) - expected) / se

    assert np.max(z_score(c, c_th)) < 4.5
    assert np.max(z_score(q[:, :, 0] / q_th, 1.0)) < 4.5
    # the check has power: the maps for a sigma_w2 10% off are rejected
    q_off, c_off = vk.signal_propagation_theory(
        c0, cfg.replace(sigma_w2=1.1 * sigma_w2), cfg.depth
    )
    assert np.max(z_score(c, c_off)) > 4.5
    assert np.max(z_score(q[:, :, 0] / q_off, 1.0)) > 4.5


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


def test_stable_correlation_is_the_attracting_fixed_point():
    # Chaotic erf (chi_1 = 1.43): c* = correlation_map(c*) to 1e-6 and equals the
    # limit of iterating the map from c = 0.3 (500 steps, contraction ~0.6 per
    # step); ordered phase: 1.0
    cfg = kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3)
    c_star = vk.stable_correlation(cfg)
    assert abs(float(kernels.correlation_map(c_star, cfg)) - c_star) < 1e-6
    c = np.array(0.3)
    for _ in range(500):
        c = np.asarray(kernels.correlation_map(c, cfg))
    assert abs(float(c) - c_star) < 1e-5
    assert vk.stable_correlation(cfg.replace(sigma_w2=1.0)) == 1.0
    # odd activation, no bias, chaotic: c* = 0
    assert abs(vk.stable_correlation(cfg.replace(sigma_b2=0.0))) < 1e-6
    with pytest.raises(ValueError, match="needs a finite fixed length"):
        vk.stable_correlation(kernels.Config(activation="relu", sigma_w2=4.0))


# -- 2.2 --------------------------------------------------------------------------


@functools.cache
def _wide_parts():
    return vk.ntk_gap_parts(
        jax.random.key(7),
        lr=2.0,
        num_train=4,
        target="smooth",
        widths=(64, 256, 1024, 4096),
        num_seeds=4,
    )


def _wide_scan():
    return _wide_parts()[0]


def test_width_scan_exponents():
    # Widths 64..4096, 4 networks each (RMS over them: ~15% per width, ~0.05 on a
    # slope). Weight change: every weight moves by O(n^-1/2) times the distance
    # |y - f_0| the function travels, which varies by ~30% between networks;
    # divided by it, slope -1/2 +- 0.1 (measured -0.51 .. -0.53 over 4 keys; raw
    # -0.51 .. -0.63). Kernel change of a ReLU network: the activation pattern of
    # a fraction ~n^-1/2 of the units flips, each flip moves the kernel by ~1/n
    # with a random sign -> n^-3/4 (the smooth parts move by ~1/n); measured
    # -0.78 .. -0.81 -> band [-0.9, -0.65], which excludes the n^-1/2 bound.
    # Network minus the analytic-kernel prediction: dominated by the n^-1/2
    # fluctuation of the initial kernel -> slope -1/2 +- 0.15 (measured -0.47 ..
    # -0.54; P = 4 keeps Theta well conditioned, at P = 16 the window 16..1024 is
    # pre-asymptotic, see the page).
    s = _wide_scan()
    weight = vk._rms(s.weight_change / s.residual0)
    change = vk._rms(s.kernel_change)
    gap = vk._rms(s.gap)
    assert _loglog_slope(s.widths, weight) == pytest.approx(-0.5, abs=0.1)
    assert -0.9 <= _loglog_slope(s.widths, change) <= -0.65
    assert _loglog_slope(s.widths, gap) == pytest.approx(-0.5, abs=0.15)
    assert gap[-1] < 0.02  # measured ~0.01: the widest net is its kernel prediction


def test_gap_parts_add_up_and_scale():
    # gap = motion + initial as functions, so |gap| <= |motion| + |initial| for
    # every run (float64 arithmetic on the same test grid: 1e-9). The initial
    # kernel's difference from Theta is an average over n units: slope -1/2 +-
    # 0.15 (4 networks per width, as test_width_scan_exponents); the motion part
    # is bounded by n^-1/2 (Lee et al. 2019) and falls faster here (the kernel
    # moves as n^-3/4; measured -0.7): slope < -0.4.
    scan, motion, initial = _wide_parts()
    assert np.all(scan.gap <= motion + initial + 1e-9)
    assert _loglog_slope(scan.widths, vk._rms(initial)) == pytest.approx(-0.5, abs=0.15)
    assert _loglog_slope(scan.widths, vk._rms(motion)) < -0.4
    with pytest.raises(ValueError, match="lr must be < 2P / lambda_max"):
        vk.ntk_gap_parts(KEY, lr=6.0, num_train=4, target="smooth", widths=(16,))


def test_kernel_prediction_fits_the_training_points():
    # t = 400 at P = 4: every mode of Theta/P (smallest ~0.14) is learned to
    # (1 - 2 * 0.14)^200 ~ 1e-29, so the prediction (float64) passes through the
    # targets at the training angles 45, 135, ... degrees, which are points of
    # the 3-degree test grid: tolerance 1e-6 (float32 f0 and targets)
    s = _wide_scan()
    on_grid = [int(i) for i in np.rint(np.degrees(s.train_angles) / 3)]
    np.testing.assert_allclose(
        np.degrees(s.test_angles[on_grid]) % 360, np.degrees(s.train_angles), atol=1e-9
    )
    np.testing.assert_allclose(
        s.f_kernel[:, :, on_grid],
        np.broadcast_to(s.y_train, s.f_kernel[:, :, on_grid].shape),
        atol=1e-6,
    )
    # the initial outputs on the training and test inputs belong to the same
    # networks (both enter the prediction): equal at the shared angles (float32)
    np.testing.assert_allclose(s.f0_train, s.f0[:, :, on_grid], atol=1e-5)


def test_lr_above_the_kernel_limit_gives_no_prediction():
    s = vk.ntk_width_scan(
        KEY, lr=6.0, num_train=4, target="smooth", widths=(64,), num_seeds=1
    )
    assert 4.0 < s.lr_max < 5.0  # 2P / lambda_max: lambda_max / P ~ 0.45 here
    assert np.all(np.isnan(s.f_kernel)) and np.all(np.isnan(s.gap))
    assert np.all(np.isfinite(s.f_net))  # the network itself does not diverge


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"target": "cubic"}, "target must be one of"),
        ({"num_train": 0}, "num_train must be an integer >= 1"),
        ({"num_seeds": 1.5}, "num_seeds must be an integer >= 1"),
        ({"lr": -1.0}, "lr must be > 0"),
    ],
)
def test_width_scan_rejects_bad_arguments(kwargs, match):
    args = {"lr": 1.0, "num_train": 4, "target": "smooth"} | kwargs
    with pytest.raises(ValueError, match=match):
        vk.ntk_width_scan(KEY, **args)


def test_output_samples_rejects_bad_arguments():
    cfg = mlp.Config(width=4, d_in=2)
    with pytest.raises(ValueError, match="num_inits must be an integer >= 1"):
        vk.output_samples(KEY, cfg, vk.circle(np.zeros(2)), 0)
    with pytest.raises(ValueError, match="x must have shape"):
        vk.output_samples(KEY, cfg, np.ones((2, 3)), 4)


def test_circle_points_have_the_ntk_normalisation():
    x = np.asarray(vk.circle(np.array([0.0, math.pi / 3])), np.float64)
    np.testing.assert_allclose(np.sum(x**2, axis=1), vk.D_IN, rtol=1e-6)
    np.testing.assert_allclose(x[0] @ x[1] / vk.D_IN, 0.5, rtol=1e-6)
