"""Finite networks (lm_sims.mlp) against their infinite-width limits (lm_sims.kernels).

NNGP: the output covariance over random initialisations. NTK: the empirical tangent
kernel, and gradient-descent training in the NTK parameterisation against the
kernel prediction, with the width^-1/2 error scaling fitted on log-log axes. Also the
abc-parameterisations (the muP coordinate check itself is tested on
lm_sims.feature_learning), training records and errors.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from lm_sims import kernels, mlp, power_law_fit, predictions, sweep


def _circle(num, d, key_seed, angles=None):
    """Points on a circle of radius sqrt(d) in a random plane of R^d (|x|^2 = d)."""
    rng = np.random.default_rng(key_seed)
    basis = np.linalg.qr(rng.normal(size=(d, 2)))[0]
    theta = np.sort(rng.uniform(0, 2 * np.pi, num)) if angles is None else angles
    pts = np.stack([np.cos(theta), np.sin(theta)], axis=1) @ basis.T
    return math.sqrt(d) * pts, theta


# --- NNGP ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation,parameterization,sigma_w2,sigma_b2",
    [("relu", "ntk", 2.0, 0.1), ("erf", "sp", 3.0, 0.2)],
)
def test_nngp_matches_output_covariance(
    activation, parameterization, sigma_w2, sigma_b2
):
    # M = 200 initialisations of width-512, depth-2 networks with 64 outputs. Per
    # initialisation, z_m = mean over outputs of f(x_i) f(x_j) (outputs share hidden
    # layers, so only z_m are independent); tolerance: every entry within 4 standard
    # errors std(z)/sqrt(M) (sampling). The finite-width bias, O(1/width) ~ 0.2%,
    # is well below the ~1.5% standard error (relative, diagonal). The sampling is
    # the book's scorecard's (lm_sims.predictions), which shows the ReLU case.
    x, cfg, mean, stderr, theory = predictions._nngp_covariance(
        activation, parameterization, sigma_w2, sigma_b2
    )
    assert np.max(np.abs(mean - theory) / stderr) < 4.0
    if activation == "relu":
        r = predictions.run("nngp-covariance")
        assert r.passed, r
    # the check has power: a kernel with sigma_w2 off by 10% is rejected
    wrong = np.asarray(kernels.nngp(x, x, cfg.replace(sigma_w2=1.1 * sigma_w2)))
    assert np.max(np.abs(mean - wrong) / stderr) > 4.0


# --- empirical NTK -------------------------------------------------------------------


def _entk_errors(cfg, x, num_seeds, seed):
    """Relative Frobenius errors |Theta_emp - Theta| / |Theta| for num_seeds inits."""
    theory = np.asarray(kernels.ntk(x, x, cfg))

    def one(key):
        return mlp.empirical_ntk(mlp.init(key, cfg), x, None, cfg)

    keys = jax.random.split(jax.random.key(seed), num_seeds)
    emp = np.asarray(jax.lax.map(one, keys), np.float64)
    return np.linalg.norm(emp - theory, axis=(1, 2)) / np.linalg.norm(theory)


def test_empirical_ntk_converges_at_rate_one_over_sqrt_width():
    # Two-layer ReLU net, widths 64..4096, 64 initialisations each. Theta_emp is an
    # average of `width` iid terms, so its RMS relative error is C / sqrt(width).
    # Tolerances: fitted slope -1/2 +- 0.1 (the per-seed error spreads by ~40%, so
    # the RMS over 64 seeds is good to ~5% per width, ~0.02 on the slope); error at
    # width 4096 <= 5e-2 (measured ~0.028). Computed by the book's scorecard
    # (lm_sims.predictions), with the same conditions.
    r = predictions.run("ntk-width-exponent")
    assert r.passed, r
    widths, rms = predictions._entk_rms_errors()
    assert widths.tolist() == [64, 256, 1024, 4096]
    assert power_law_fit(widths, rms).exponent == pytest.approx(-0.5, abs=0.1)
    assert rms[-1] <= 5e-2


@pytest.mark.parametrize("activation,depth", [("erf", 2), ("relu", 3)])
def test_deep_empirical_ntk_converges(activation, depth):
    # Deeper nets test the layer recursion: widths 64..1024, 16 initialisations.
    # Tolerance: slope -1/2 +- 0.15 (RMS over 16 seeds is good to ~10% per width;
    # O(1/width) corrections at width 64); error at 1024 <= 0.15 (measured ~0.06-0.1)
    d, widths = 4, [64, 256, 1024]
    x = np.random.default_rng(2).normal(size=(6, d))
    rms = []
    for width in widths:
        cfg = mlp.Config(
            width=width,
            depth=depth,
            d_in=d,
            activation=activation,
            sigma_w2=2.0,
            sigma_b2=0.1,
        )
        rms.append(np.sqrt(np.mean(_entk_errors(cfg, x, 16, seed=width) ** 2)))
    assert power_law_fit(widths, rms).exponent == pytest.approx(-0.5, abs=0.15)
    assert rms[-1] <= 0.15


def test_empirical_ntk_methods_agree_with_brute_force():
    # Jacobian contraction, the implicit (vjp/jvp) method and a brute-force sum of
    # per-example gradient products must agree to float32 rounding (1e-5 relative);
    # several outputs give the (n1, n2, k, k) block kernel
    cfg = mlp.Config(width=32, depth=2, d_in=3, d_out=2, activation="erf")
    params = mlp.init(jax.random.key(3), cfg)
    rng = np.random.default_rng(3)
    x1, x2 = jnp.asarray(rng.normal(size=(4, 3))), jnp.asarray(rng.normal(size=(5, 3)))
    flat, unravel = ravel_pytree(params)

    @jax.jit
    def grads(x):  # (n, k, P) per-example, per-output gradients
        def f(p_flat, xi):
            return mlp.apply(unravel(p_flat), xi[None], cfg)[0]

        return jax.vmap(lambda xi: jax.jacrev(f)(flat, xi))(x)

    brute = jnp.einsum("iap,jbp->ijab", grads(x1), grads(x2))
    scale = float(jnp.abs(brute).max())
    for method in ("jacobian", "implicit"):
        got = mlp.empirical_ntk(params, x1, x2, cfg, method=method)
        assert got.shape == (4, 5, 2, 2)
        assert float(jnp.abs(got - brute).max()) < 1e-5 * scale
    # a small memory budget forces the implicit method with batches of one column
    # (one column is estimated at ~4,600 numbers here; a budget below it raises)
    f = lambda p, x: mlp.apply(p, x, cfg)  # noqa: E731
    budget = 6_000 * flat.dtype.itemsize
    got = kernels.empirical_ntk(f, params, x1, x2, max_bytes=budget)
    assert float(jnp.abs(got - brute).max()) < 1e-5 * scale


def test_multi_output_ntk_is_diagonal_in_outputs():
    # At width 2048 the block kernel approaches Theta (x) I: diagonal blocks match
    # the analytic NTK and off-diagonal blocks vanish, both to ~3/sqrt(width) ~ 7%
    # relative (finite-width fluctuations)
    cfg = mlp.Config(width=2048, depth=1, d_in=3, d_out=3, sigma_w2=2.0)
    x = np.random.default_rng(4).normal(size=(5, 3))
    emp = np.asarray(mlp.empirical_ntk(mlp.init(jax.random.key(4), cfg), x, None, cfg))
    theory = np.asarray(kernels.ntk(x, x, cfg))
    norm = np.linalg.norm(theory)
    tol = 3 / math.sqrt(cfg.width)
    for a in range(3):
        for b in range(3):
            want = theory if a == b else 0 * theory
            assert np.linalg.norm(emp[:, :, a, b] - want) < tol * norm


# --- the NTK regime: trained network vs kernel prediction ----------------------------


def test_ntk_regime_training_matches_kernel_prediction():
    # Two-layer ReLU net in the NTK parameterisation (sigma_w2 = 1, no bias: the
    # book's f = n^-1/2 sum a_i relu(w_i . x) on the sphere, inputs scaled to
    # |x|^2 = d), trained by GD (lr 1, 400 steps: t = 400, train loss ~1e-14) on 4
    # evenly spaced points of a circle in R^8, tested on 24 other points of it, at
    # widths 64..4096 with 32 seeds each. The prediction is kernel GD with the
    # analytic NTK started from the finite net's own f_0, so the O(1) random initial
    # function cancels exactly and what remains is kernel error alone: the init
    # kernel's fluctuation (empirical-NTK linearisation vs analytic) plus the
    # kernel's motion during training (net vs its own linearisation), both
    # O(width^-1/2). Errors are relative to the RMS of the predicted change.
    # The 4 points keep Theta well conditioned (lambda_min / lambda_max = 0.5): with
    # 8 random points (ratio ~1e-3) Theta^-1 amplifies kernel errors in slow modes
    # nonlinearly and the fitted slope over 64..4096 flattens to ~-0.35..-0.43.
    # Tolerances: net vs prediction slope in [-0.7, -0.3] (measured -0.46) and < 3%
    # at width 4096 (measured 1.5%); init-kernel part slope -1/2 +- 0.1; relative
    # weight change slope -1/2 +- 0.1 (both layers of a two-layer net move by O(1)
    # against norms O(sqrt(width))). RMS over 32 seeds is good to ~7% per width.
    d, num_seeds, lr, steps, num_train = 8, 32, 1.0, 400, 4
    angles = np.arange(num_train) * 2 * np.pi / num_train + 0.1
    x, theta = _circle(num_train, d, key_seed=5, angles=angles)
    x_test, _ = _circle(24, d, key_seed=5, angles=np.linspace(0, 2 * np.pi, 24, False))
    y = (np.sin(theta) + 0.5 * np.cos(2 * theta))[:, None]
    x_all = np.concatenate([x, x_test])
    widths = [64, 256, 1024, 4096]
    net_err, init_err, weight_change = [], [], []
    for width in widths:
        cfg = mlp.Config(
            width=width,
            depth=1,
            d_in=d,
            sigma_w2=1.0,
            sigma_b2=0.0,
            lr=lr,
            steps=steps,
            record_every=steps,
        )

        def run(key, cfg=cfg):
            traj = mlp.train(key, cfg, x, y, x_test)
            ntk0 = mlp.empirical_ntk(mlp.init(key, cfg), x_all, None, cfg)
            return traj, ntk0

        keys = jax.random.split(jax.random.key(width), num_seeds)
        traj, ntk0 = jax.jit(jax.vmap(run))(keys)
        assert float(traj.loss[:, -1].max()) < 1e-6  # trained to interpolation
        # seeds as output columns: one kernel prediction for all of them
        f0 = np.asarray(traj.f_train[:, 0, :, 0]).T  # (P, seeds)
        f0_test = np.asarray(traj.f_test[:, 0, :, 0]).T
        pred = mlp.predict_ntk(
            cfg,
            x,
            np.repeat(y, num_seeds, axis=1),
            lr * steps,
            x_test,
            f0_train=f0,
            f0_test=f0_test,
        ).f_test
        pred = np.asarray(pred)
        net = np.asarray(traj.f_test[:, -1, :, 0]).T
        scale = np.sqrt(np.mean((pred - f0_test) ** 2, axis=0))  # learned part
        net_err.append(np.sqrt(np.mean((net - pred) ** 2 / scale**2)))
        emp = []
        for s in range(num_seeds):
            k0 = np.asarray(ntk0[s], np.float64)
            lin = kernels.predict_linearized(
                k0[:num_train, :num_train],
                y,
                lr * steps,
                ntk_test_train=k0[num_train:, :num_train],
                f0_train=f0[:, s : s + 1],
                f0_test=f0_test[:, s : s + 1],
                lr=lr,
            ).f_test
            emp.append(
                np.mean((np.asarray(lin)[:, 0] - pred[:, s]) ** 2) / scale[s] ** 2
            )
        init_err.append(np.sqrt(np.mean(emp)))
        weight_change.append(float(np.sqrt(np.mean(traj.weight_change[:, -1] ** 2))))
    assert -0.7 <= power_law_fit(widths, net_err).exponent <= -0.3
    assert net_err[-1] < 0.03
    assert power_law_fit(widths, init_err).exponent == pytest.approx(-0.5, abs=0.1)
    assert power_law_fit(widths, weight_change).exponent == pytest.approx(-0.5, abs=0.1)


# --- parameterisations ---------------------------------------------------------------


def test_sp_and_ntk_compute_the_same_function():
    # exact up to float32 rounding: sp stores W_eff, ntk stores W_eff / multiplier
    cfg_ntk = mlp.Config(width=16, depth=2, d_in=3, d_out=2, sigma_w2=1.7, sigma_b2=0.3)
    cfg_sp = cfg_ntk.replace(parameterization="sp")
    p_ntk = mlp.init(jax.random.key(6), cfg_ntk)
    p_sp = tuple(
        mlp.Layer(s.w_mult * layer.w, s.b_mult * layer.b)
        for layer, s in zip(p_ntk, mlp.layer_scales(cfg_ntk), strict=True)
    )
    x = np.random.default_rng(6).normal(size=(4, 3))
    np.testing.assert_allclose(
        mlp.apply(p_sp, x, cfg_sp), mlp.apply(p_ntk, x, cfg_ntk), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "parameterization,var_exp,lr_exp",
    [
        # width exponents of the effective init variance and learning rate of the
        # input, hidden and readout weights (Yang et al. 2022, Table 3 for muP)
        ("sp", (0, -1, -1), (0, 0, 0)),
        ("ntk", (0, -1, -1), (0, -1, -1)),
        ("mup", (0, -1, -2), (1, 0, -1)),
    ],
)
def test_effective_scales_follow_the_abc_table(parameterization, var_exp, lr_exp):
    # exact: effective variance = (multiplier * std)^2, effective lr = multiplier^2 *
    # lr_scale; their ratio between widths 4n and n is 4^exponent
    def effective(width):
        cfg = mlp.Config(width=width, depth=2, parameterization=parameterization)
        return [
            (float(s.w_mult * s.w_std) ** 2, float(s.w_mult) ** 2 * float(s.w_lr))
            for s in mlp.layer_scales(cfg)
        ]

    small, large = effective(64), effective(256)
    for i, layer in enumerate(("input", "hidden", "readout")):
        got_var = math.log(large[i][0] / small[i][0], 4)
        got_lr = math.log(large[i][1] / small[i][1], 4)
        assert got_var == pytest.approx(var_exp[i], abs=1e-9), layer
        assert got_lr == pytest.approx(lr_exp[i], abs=1e-9), layer
    assert mlp.abc_exponents("mup", 2) == {
        "a": (-0.5, 0.0, 0.5),
        "b": (0.5, 0.5, 0.5),
        "c": (0.0, 0.0, 0.0),
    }


# --- training records, divergence, compilation, errors -------------------------------


def test_train_records_and_divergence():
    x, _ = _circle(6, 3, key_seed=8)
    y = np.linspace(-1, 1, 6)
    cfg = mlp.Config(width=32, d_in=3, steps=40, record_every=10, lr=0.5)
    traj = mlp.train(jax.random.key(8), cfg, x, y)
    # dynamic fields are pytree leaves: changing them does not recompile
    compiled = mlp._train._cache_size()
    mlp.train(jax.random.key(1), cfg.replace(lr=0.2, sigma_w2=1.5, sigma_b2=0.1), x, y)
    assert mlp._train._cache_size() == compiled
    assert traj.loss.shape == (5,) and traj.f_train.shape == (5, 6, 1)
    assert traj.f_test is None and int(traj.diverged_step) == -1
    np.testing.assert_allclose(traj.t, 0.5 * np.arange(0, 41, 10))
    assert float(traj.loss[-1]) < float(traj.loss[0])
    assert float(traj.weight_change[0]) == 0.0
    # the initial parameters are init(key, cfg): the recorded f_0 is theirs
    f0 = mlp.apply(mlp.init(jax.random.key(8), cfg), x, cfg)
    np.testing.assert_allclose(traj.f_train[0], f0, rtol=1e-6)
    # SP at a huge learning rate diverges: a result, not an exception
    bad = mlp.train(jax.random.key(8), cfg.replace(parameterization="sp", lr=1e3), x, y)
    step = int(bad.diverged_step)
    assert 0 <= step < 40
    assert np.all(np.isnan(np.asarray(bad.loss)[step // 10 + 1 :]))


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"width": 0}, ValueError, "width must be >= 1, got width=0"),
        ({"depth": 0}, ValueError, "depth must be >= 1, got depth=0"),
        ({"d_in": 2.5}, TypeError, "d_in must be an integer"),
        ({"parameterization": "mf"}, ValueError, "parameterization must be one of"),
        ({"activation": "gelu"}, ValueError, "activation must be one of"),
        ({"sigma_w2": 0.0}, ValueError, "sigma_w2 must be > 0, got sigma_w2=0"),
        ({"sigma_b2": -1.0}, ValueError, "sigma_b2 must be >= 0, got sigma_b2=-1"),
        ({"lr": -0.1}, ValueError, "lr must be > 0, got lr=-0.1"),
        ({"steps": 10, "record_every": 3}, ValueError, "record_every must divide"),
        ({"dataset": "mnist"}, ValueError, "dataset must be one of 'teacher'"),
        ({"dataset": "digits"}, ValueError, "dataset='digits' has d_in=64"),
        ({"num_train": 0}, ValueError, "num_train must be >= 1, got num_train=0"),
        ({"optimizer": "sgd"}, ValueError, "optimizer must be one of 'gd'"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got batch_size=0"),
        ({"momentum": 1.0}, ValueError, "momentum must be < 1, got momentum=1"),
        ({"eps": -1.0}, ValueError, "eps must be > 0, got eps=-1"),
    ],
)
def test_invalid_config_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        mlp.Config(**kwargs)


def test_invalid_data_raises():
    cfg = mlp.Config(width=8, d_in=3, steps=10, record_every=5)
    x, y = np.ones((4, 3)), np.ones(4)
    with pytest.raises(ValueError, match=r"x_train must have shape \(P, d_in=3\)"):
        mlp.train(jax.random.key(0), cfg, np.ones((4, 2)), y)
    with pytest.raises(ValueError, match=r"y_train must have shape \(P=4, d_out=1\)"):
        mlp.train(jax.random.key(0), cfg, x, np.ones(5))
    with pytest.raises(ValueError, match=r"x_test must have shape \(n_test, d_in=3\)"):
        mlp.train(jax.random.key(0), cfg, x, y, np.ones((2, 4)))
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        mlp.train(0, cfg, x, y)
    with pytest.raises(ValueError, match="give both x_train and y_train"):
        mlp.train(jax.random.key(0), cfg, x)
    with pytest.raises(ValueError, match="x_train must be finite"):
        mlp.train(jax.random.key(0), cfg, np.where(np.eye(4, 3) > 0, np.nan, x), y)
    with pytest.raises(ValueError, match="batch_size must be <= the number of"):
        mlp.train(jax.random.key(0), cfg.replace(batch_size=5), x, y)
    with pytest.raises(ValueError, match="predict_ntk needs parameterization='ntk'"):
        mlp.predict_ntk(cfg.replace(parameterization="mup"), x, y, 1.0)


# --- data from the config, optimizers, observe ---------------------------------------


def test_train_draws_its_data_from_the_config_and_sweeps():
    cfg = mlp.Config(width=16, d_in=3, steps=20, record_every=10, num_train=12)
    key = jax.random.key(4)
    traj = mlp.train(key, cfg)
    task = mlp.training_data(key, cfg)
    assert task.x.shape == (12, 3) and traj.f_train.shape == (3, 12, 1)
    # the same run with the data passed explicitly
    explicit = mlp.train(key, cfg, task.x, task.y)
    # same numbers, two compiled programs: equal up to rounding (float32 or 64)
    np.testing.assert_allclose(traj.loss, explicit.loss, rtol=1e-6)
    # init(key, cfg) is still the run's initial state
    f0 = mlp.apply(mlp.init(key, cfg), task.x, cfg)
    np.testing.assert_allclose(traj.f_train[0], f0, rtol=1e-5)  # jit vs eager
    # explicit data override the config's dataset
    other = mlp.train(key, cfg, task.x, -task.y)
    assert not np.allclose(other.loss, traj.loss)
    out = sweep(mlp.train, key, cfg, num_seeds=2, lr=[0.05, 0.1])
    assert out.loss.shape == (2, 2, 3)


@pytest.mark.parametrize(
    "dataset, d_in, d_out", [("random_labels", 5, 2), ("digits", 64, 10)]
)
def test_datasets_train(dataset, d_in, d_out):
    cfg = mlp.Config(
        width=32,
        d_in=d_in,
        d_out=d_out,
        dataset=dataset,
        num_train=32,
        steps=50,
        record_every=50,
        lr=0.2,
    )
    task = mlp.training_data(jax.random.key(0), cfg)
    assert task.x.shape == (32, d_in) and task.y.shape == (32, d_out)
    traj = mlp.train(jax.random.key(0), cfg)
    assert float(traj.loss[-1]) < float(traj.loss[0])


@pytest.mark.parametrize("optimizer, lr", [("momentum", 0.05), ("adam", 0.01)])
def test_optimizers_from_the_config_train(optimizer, lr):
    cfg = mlp.Config(width=32, d_in=3, steps=100, record_every=50, num_train=32, lr=lr)
    key = jax.random.key(1)
    gd = mlp.train(key, cfg)
    run = mlp.train(key, cfg.replace(optimizer=optimizer))
    sgd = mlp.train(key, cfg.replace(optimizer=optimizer, batch_size=8))
    for traj in (run, sgd):
        assert float(traj.loss[-1]) < 0.5 * float(traj.loss[0])
        assert not np.allclose(traj.loss[1:], gd.loss[1:])
        np.testing.assert_array_equal(traj.loss[0], gd.loss[0])  # same init, data


def test_observe_hook_records_any_function_of_the_parameters():
    cfg = mlp.Config(width=16, d_in=3, steps=20, record_every=10, num_train=8)
    key = jax.random.key(2)

    def hook(p):
        return {"w0": p[0].w, "norm": jnp.sum(p[-1].w ** 2)}

    traj = mlp.train(key, cfg, observe=hook)
    assert traj.observed["w0"].shape == (3, 3, 16)
    np.testing.assert_array_equal(traj.observed["w0"][0], mlp.init(key, cfg)[0].w)
    np.testing.assert_array_equal(traj.observed["w0"][-1], traj.params[0].w)
    assert mlp.train(key, cfg).observed is None


def test_mup_with_adam_uses_adams_table_not_sgds():
    # Adam moves W_eff = m w by m * lr_l: muP's rates lr_l ~ n^-(1/2, 1, 1/2)
    # (TP5, Table 3); SGD and momentum keep c = 0. base_width needs muP.
    n = 64
    adam = mlp.layer_scales(
        mlp.Config(width=n, depth=2, parameterization="mup", optimizer="adam")
    )
    np.testing.assert_allclose([s.w_lr for s in adam], [n**-0.5, 1 / n, n**-0.5])
    np.testing.assert_allclose([s.b_lr for s in adam], [n**-0.5, n**-0.5, 1.0])
    sgd = mlp.layer_scales(
        mlp.Config(width=n, parameterization="mup", optimizer="momentum")
    )
    assert [s.w_lr for s in sgd] == [1.0, 1.0]
    with pytest.raises(ValueError, match="base_width"):
        mlp.Config(parameterization="sp", base_width=64)
