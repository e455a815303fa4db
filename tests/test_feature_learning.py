"""Coordinate check: feature movement after one step in SP, NTK and muP."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import feature_learning as fl

WIDTHS = (64, 256, 1024)  # each width compiles once (~1 s); all three share it
NUM_SEEDS = 8
LR = 1e-3  # linear response at every width here (test_changes_are_linear_in_lr)


@functools.cache
def _exponents(parameterization: str):
    """Fitted width exponents of (hidden 1, hidden 2, output), seed-averaged logs."""
    logs = np.zeros((len(WIDTHS), NUM_SEEDS, 3))
    for i, n in enumerate(WIDTHS):
        for seed in range(NUM_SEEDS):
            c = fl.feature_change_after_one_step(
                jax.random.key(seed), n, parameterization, LR
            )
            logs[i, seed] = np.log([*c.hidden, c.output])
    return np.polyfit(np.log(WIDTHS), logs.mean(axis=1), 1)[0]


# Bands +-0.15 around the infinite-width exponents. Error sources: seed noise
# (per-seed exponent sd 0.03-0.08 measured, so ~0.03 for the mean of 8) and
# O(n^-1/2) finite-width corrections (sp second layer measured +0.45, see below).
def test_ntk_features_freeze_as_width_grows():
    h1, h2, out = _exponents("ntk")  # measured -0.50, -0.50, +0.02
    assert abs(h1 + 0.5) <= 0.15, h1
    assert abs(h2 + 0.5) <= 0.15, h2
    assert abs(out) <= 0.15, out  # the function still moves by O(1)


def test_mup_features_move_by_order_one_at_every_width():
    h1, h2, out = _exponents("mup")  # measured 0.00, 0.00, 0.00
    assert abs(h1) <= 0.15, h1
    assert abs(h2) <= 0.15, h2
    assert abs(out) <= 0.15, out


def test_sp_blows_up_with_fixed_lr():
    h1, h2, out = _exponents("sp")  # measured -0.50, +0.45, +1.00
    assert abs(h1 + 0.5) <= 0.15, h1  # fan-in d layer: same as ntk
    # hidden-to-hidden layer: +1/2 from a rank-B update of size lr n^-1/2 acting on
    # |h1|^2 ~ n, plus an O(1) part that flattens the fit at small width (local
    # exponent 0.42 at 64-128 rising to 0.49 at 1024-2048)
    assert abs(h2 - 0.5) <= 0.15, h2
    assert abs(out - 1.0) <= 0.15, out


def test_changes_are_linear_in_lr():
    # Premise of the exponents: one step is in linear response. Halving lr must
    # halve every change; the second-order terms are of relative size ~ the
    # relative feature change, <= 1e-3 here (sp, width 1024; measured 3e-4).
    for par in fl.PARAMETERIZATIONS:
        key = jax.random.key(0)
        a = fl.feature_change_after_one_step(key, 1024, par, LR)
        b = fl.feature_change_after_one_step(key, 1024, par, LR / 2)
        np.testing.assert_allclose(a.hidden / b.hidden, 2.0, rtol=2e-3)
        np.testing.assert_allclose(a.output / b.output, 2.0, rtol=2e-3)


def test_all_parameterizations_start_from_the_same_features():
    # With one key the three init schemes give the same function of the data
    # (multipliers and init scales trade places), with O(1) activations.
    for n in WIDTHS:
        inits = [
            np.asarray(
                fl.feature_change_after_one_step(
                    jax.random.key(3), n, par, LR
                ).hidden_init
            )
            for par in fl.PARAMETERIZATIONS
        ]
        np.testing.assert_allclose(inits[0], inits[1], rtol=1e-10)
        np.testing.assert_allclose(inits[0], inits[2], rtol=1e-10)
        # relu of unit-variance Gaussians: rms sqrt(1/2) ~ 0.71 for layer 1,
        # and rms ~0.5 for layer 2 (correlated inputs), within seed noise.
        assert 0.55 < inits[0][0] < 0.85 and 0.35 < inits[0][1] < 0.7, inits[0]


def test_layer_scales_table():
    n, d = 256, 16
    sp = fl.layer_scales("sp", n, d)
    assert sp.multiplier == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(sp.init_std, (d**-0.5, n**-0.5, n**-0.5))
    assert sp.lr_scale == (1.0, 1.0, 1.0)
    ntk = fl.layer_scales("ntk", n, d)
    np.testing.assert_allclose(ntk.multiplier, (d**-0.5, n**-0.5, n**-0.5))
    assert ntk.init_std == (1.0, 1.0, 1.0) and ntk.lr_scale == (1.0, 1.0, 1.0)
    mup = fl.layer_scales("mup", n, d)
    assert mup.multiplier == (1.0, 1.0, 1.0)
    # init variance 1/fan_in, 1/fan_in, 1/fan_in^2; lr * fan_out, lr, lr / fan_in
    np.testing.assert_allclose(np.square(mup.init_std), (1 / d, 1 / n, 1 / n**2))
    np.testing.assert_allclose(mup.lr_scale, (n, 1.0, 1 / n))


def test_public_init_and_forward_shapes():
    params = fl.init(jax.random.key(0), 32, "mup", input_dim=5)
    assert params.w1.shape == (32, 5) and params.w2.shape == (32, 32)
    assert params.w3.shape == (32,)
    h1, h2, f = fl.forward(
        params, jnp.ones((7, 5)), fl.layer_scales("mup", 32, 5).multiplier
    )
    assert h1.shape == h2.shape == (7, 32) and f.shape == (7,)


def test_uncentred_step_runs_and_differs():
    key = jax.random.key(0)
    a = fl.feature_change_after_one_step(key, 64, "sp", LR)
    b = fl.feature_change_after_one_step(key, 64, "sp", LR, center_output=False)
    assert np.all(np.isfinite(b.hidden)) and np.isfinite(b.output)
    assert a.output != b.output


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"width": 0}, ValueError, "width must be >= 1"),
        ({"width": 64.0}, TypeError, "width must be an integer"),
        ({"parameterization": "mu-p"}, ValueError, "parameterization must be one of"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
        ({"lr": -1.0}, ValueError, "lr must be > 0"),
        ({"lr": float("inf")}, ValueError, "lr must be finite"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"input_dim": 0}, ValueError, "input_dim must be >= 1"),
        ({"center_output": 1}, TypeError, "center_output must be a bool"),
        ({"key": 0}, TypeError, "key must be a JAX PRNG key"),
    ],
)
def test_invalid_arguments_raise(kwargs, error, match):
    args = {"key": jax.random.key(0), "width": 64, "parameterization": "mup"}
    args["lr"] = LR
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fl.feature_change_after_one_step(**args)
