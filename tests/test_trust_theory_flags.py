"""Issue 12, section 2, for the discrete-time theories outside the NTK ones:
sgd_noise's expected-risk recursion and scaling's exact gradient-descent iterates
report instability as the simulations do (which modes diverge, from which step:
the first step whose loss exceeds training.divergence_limit), mask their values
from that step on with NaN, and return today's values at a stable lr."""

import jax
import numpy as np
import pytest

from lm_sims import scaling as sc
from lm_sims import sgd_noise as sn
from lm_sims.training import divergence_limit

KEY = jax.random.key(0)

# --- sgd_noise ---------------------------------------------------------------------


def _hand_risk(cfg, max_step):
    """Expected risk R(k), k = 0 .. max_step, iterating the full (d x d) operator
    of (eq-sgd-recursion) on diag Gamma, without the module's O(d) shortcut or
    renormalisation (float64; overflow to inf is fine here)."""
    h = sn.spectrum(cfg.dim, cfg.alpha)
    lr, b, s2 = cfg.lr, cfg.batch_size, cfg.noise**2
    a = np.diag((1 - lr * h) ** 2 + lr**2 * h**2 / b) + lr**2 / b * np.outer(h, h)
    c = lr**2 * s2 / b * h
    g, out = np.ones(cfg.dim), []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_step + 1):
            out.append(0.5 * h @ g)
            g = a @ g + c
    return np.array(out), a


def _first_over(loss, limit):
    over = np.flatnonzero(~(loss <= float(limit)))
    return int(over[0]) if over.size else -1


UNSTABLE_SGD = [
    sn.Config(lr=2.0),  # lr_max = 1.68 at B = 1
    sn.Config(
        lr=1.1 * sn.max_stable_lr(sn.Config(alpha=0.5), 8),
        batch_size=8,
        noise=0.1,
        alpha=0.5,
    ),
    sn.Config(lr=1.02 * sn.max_stable_lr(sn.Config(dim=10), 1), dim=10),
]


@pytest.mark.parametrize("cfg", UNSTABLE_SGD, ids=["lr2", "B8", "just-above"])
def test_sgd_unstable_lr_flags_the_step_the_recursion_crosses(cfg):
    max_step = 3000
    hand, a = _hand_risk(cfg, max_step)
    # the limit train applies to a run: BLOWUP (1 + R_0), R_0 = tr(H)/2 = 0.5
    step = _first_over(hand, divergence_limit(0.5, 1.0))
    assert step > 0
    div = sn.predict_divergence(cfg, max_step)
    assert div.unstable and div.diverged and div.diverged_step == step
    # growth: the spectral radius of the (symmetric) operator, to rounding
    np.testing.assert_allclose(div.growth, np.linalg.eigvalsh(a)[-1], rtol=1e-12)
    assert div.growth > 1 and cfg.lr >= div.lr_max
    ks = np.arange(max_step + 1)
    risk = sn.predict_risk(cfg, ks)
    assert np.all(np.isnan(risk[step:])) and np.all(np.isfinite(risk[:step]))
    # before the step: the recursion's values (rounding of d-term sums only)
    np.testing.assert_allclose(risk[:step], hand[:step], rtol=1e-10)
    # a shorter horizon does not see the crossing: no flag, nothing masked
    short = sn.predict_divergence(cfg, step - 1)
    assert short.unstable and short.diverged_step == -1
    assert np.all(np.isfinite(sn.predict_risk(cfg, [0, step - 1])))


def test_sgd_simulation_diverges_where_the_theory_does():
    # the same criterion on simulated runs: at lr = 2 > lr_max both the expected
    # risk and a run of 8 cross the limit, at lr = 0.5 neither does. The steps
    # agree within a factor 2 only: the expected risk averages a heavy-tailed
    # per-run risk, and the first of 8 runs to cross is not its mean (measured
    # 154 in float32 and 333 in float64 against the theory's 235)
    cfg = sn.Config(lr=2.0, steps=400, num_runs=8)
    traj = sn.train(KEY, cfg)
    theory = sn.predict_divergence(cfg, cfg.steps)
    assert traj.diverged and theory.diverged
    assert 0.5 < int(traj.diverged_step) / theory.diverged_step < 2
    stable = cfg.replace(lr=0.5)
    assert not sn.train(KEY, stable).diverged
    assert not sn.predict_divergence(stable, stable.steps).diverged


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_sgd_unstable_is_the_spectral_radius_condition(batch_size):
    # lr >= max_stable_lr  <=>  spectral radius of A >= 1 (checked 2% on each side)
    cfg = sn.Config(dim=20, batch_size=batch_size)
    lr_max = sn.max_stable_lr(cfg)
    for lr, unstable in ((0.98 * lr_max, False), (1.02 * lr_max, True)):
        div = sn.predict_divergence(cfg.replace(lr=lr), 0)
        assert div.unstable == unstable and (div.growth > 1) == unstable
        assert div.diverged_step == -1  # max_step 0: no step to cross


# today's values (HEAD b71063a) at stable learning rates: unchanged to rounding
SGD_STABLE = {
    "default": (
        {},
        [
            0.5000000000000002,
            0.47570215813070565,
            0.34881318470585704,
            0.13633929175611528,
            0.04458563002497055,
        ],
    ),
    "near-limit": (
        {"lr": 1.5},
        [
            0.5000000000000002,
            0.5221648831602513,
            0.597697219273013,
            0.7359604899868826,
            0.8547635681608488,
        ],
    ),
    "B8": (
        {"batch_size": 8, "lr": 2.0, "noise": 0.1, "alpha": 2.0},
        [
            0.5000000000000001,
            0.31717863926144413,
            0.07404505924569701,
            0.018728394611027526,
            0.0034809160555281347,
        ],
    ),
}


@pytest.mark.parametrize("name", list(SGD_STABLE))
def test_sgd_stable_lr_values_unchanged(name):
    changes, expected = SGD_STABLE[name]
    cfg = sn.Config(**changes)
    steps = [0, 1, 10, 100, 1000]
    np.testing.assert_allclose(sn.predict_risk(cfg, steps), expected, rtol=1e-13)
    div = sn.predict_divergence(cfg, 1000)
    assert not div.unstable and not div.diverged and div.growth < 1


def test_sgd_stationary_and_steps_keep_inf_beyond_the_limit():
    # inf is their defined value past lr_max ("no stationary state", "never")
    cfg = sn.Config(lr=2.0)
    assert sn.stationary_risk(cfg) == np.inf
    assert sn.steps_to_target(cfg, 0.1, max_steps=1e4) == np.inf


def test_predict_divergence_rejects_bad_max_step():
    with pytest.raises(ValueError, match="max_step"):
        sn.predict_divergence(sn.Config(), -1)
    with pytest.raises(TypeError, match="max_step"):
        sn.predict_divergence(sn.Config(), 1.5)
    with pytest.raises(TypeError, match="cfg"):
        sn.predict_divergence(None, 10)


# --- scaling -----------------------------------------------------------------------

SMALL = sc.Config(num_modes=200, n=50, r=2.0)
UNSTABLE_SC = {
    "population-lr3": {"n": None, "lr": 3.0},
    "n1-default-lr": {"n": 1},
    "random-features-lr3": {"n": None, "width": 30, "lr": 3.0},
}


def _hand_gd(key, cfg, max_step):
    """Gradient descent by hand in NumPy float64 on the draw of ``key``: the
    training loss and the exact test MSE at steps 0 .. max_step."""
    with jax.enable_x64(True):
        lam, v, proj, phi, y = (
            None if a is None else np.asarray(a, np.float64)
            for a in sc._draw(key, cfg, np.float64)
        )
    feat = proj if proj is not None else np.diag(np.sqrt(lam))  # beta = feat @ w
    w = np.zeros(feat.shape[1])
    noise2 = cfg.noise**2
    losses, tests = [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_step + 1):
            test = np.sum((feat @ w - v) ** 2) + noise2
            if cfg.n is None:
                loss, grad = 0.5 * test, feat.T @ (feat @ w - v)
            else:
                z = phi @ proj if proj is not None else phi * np.sqrt(lam)
                resid = z @ w - y
                loss, grad = 0.5 * np.mean(resid**2), z.T @ resid / cfg.n
            losses.append(loss)
            tests.append(test)
            w = w - cfg.lr * grad
    return np.array(losses), np.array(tests)


@pytest.mark.parametrize("name", list(UNSTABLE_SC))
def test_scaling_unstable_lr_flags_the_step_gradient_descent_crosses(name):
    cfg = SMALL.replace(**UNSTABLE_SC[name])
    max_step, seeds = 60, 2
    steps = np.arange(max_step + 1)
    div = sc.predict_divergence(KEY, cfg, steps, seeds)
    mse = sc.simulate_test_mse(KEY, cfg, steps, seeds)
    for i, key in enumerate(jax.random.split(KEY, seeds)):
        loss, test = _hand_gd(key, cfg, max_step)
        # train's rule: loss > 1e3 (|L_0| + loss_scale), loss_scale 1
        step = _first_over(loss, divergence_limit(loss[0], 1.0))
        assert step > 0 and div.diverged_step[i] == step, (i, div)
        assert div.num_unstable[i] >= 1 and cfg.lr * div.lambda_max[i] > 2
        assert np.all(np.isnan(mse[i, step:])) and np.all(np.isfinite(mse[i, :step]))
        # before it, the closed form is the iterate (relative 1e-8: an
        # eigendecomposition against repeated float64 products)
        np.testing.assert_allclose(mse[i, :step], test[:step], rtol=1e-8)
        # the step-by-step simulation stops at the same step
        sim = sc.train(key, cfg.replace(steps=max_step, record_every=1))
        assert int(sim.diverged_step) == step
    assert div.diverged.all()
    # t = inf: no converged limit, the defined value inf (not masked)
    assert np.all(np.isinf(sc.simulate_test_mse(KEY, cfg, [10, np.inf], 2)[:, 1]))


SC_STABLE = {
    "n64": (
        {"n": 64, "lr": 1.0},
        [
            [
                0.9999999999999999,
                0.2801412592413217,
                0.09709520985543668,
                0.029340787272488515,
                0.01778759538758615,
            ],
            [
                0.9999999999999999,
                0.25647818977954434,
                0.09449610860227556,
                0.03639053453634325,
                0.017691287294991965,
            ],
        ],
    ),
    "population-lr1.9": (
        {"n": None, "lr": 1.9},
        [
            [0.9999999999999999, 0.6717717224730757, 0.11850216319277984]
            + [0.007578462862395774, 0.0]
        ]
        * 2,
    ),
    "width30": (
        {"n": None, "width": 30, "lr": 0.5},
        [
            [
                0.9999999999999999,
                0.5507788592606389,
                0.17542257681497495,
                0.0722610363874805,
                0.06534255359148242,
            ],
            [
                0.9999999999999999,
                0.5030162310968389,
                0.21107975085707825,
                0.10130346135589355,
                0.09448255331315912,
            ],
        ],
    ),
}


@pytest.mark.parametrize("name", list(SC_STABLE))
def test_scaling_stable_lr_values_unchanged(name):
    changes, expected = SC_STABLE[name]
    cfg = sc.Config(num_modes=200, r=2.0, **changes)
    steps = [0, 1, 10, 100, np.inf]
    e = sc.simulate_test_mse(KEY, cfg, steps, 2)
    np.testing.assert_allclose(e, expected, rtol=1e-12, atol=1e-15)
    div = sc.predict_divergence(KEY, cfg, steps, 2)
    assert not div.diverged.any() and np.all(div.num_unstable == 0)


def test_isoflop_cuts_the_runs_that_diverge_by_their_budget():
    # population loss, lr = 3 > 2 / lambda_max: every width diverges; a budget's
    # point is cut iff its step count reaches that seed's diverged_step
    cfg = sc.Config(num_modes=200, lr=3.0)
    widths, compute = [8, 16], [30.0, 3000.0]
    f = sc.isoflop(KEY, cfg, widths, compute, num_seeds=1)
    expected = 0
    for j, w in enumerate(widths):
        steps = np.round(np.asarray(compute) / (w * cfg.lr))
        d = sc.predict_divergence(
            KEY, cfg.replace(n=None, width=w), steps, 1
        ).diverged_step[0]
        cut = (d >= 0) & (steps >= d) & (steps >= 1)
        expected += int(cut.sum())
        assert np.array_equal(np.isnan(f.test_mse[:, j]), cut | (steps < 1))
    assert f.diverged == expected > 0
    ok = sc.isoflop(KEY, cfg.replace(lr=0.5), widths, compute, num_seeds=1)
    assert ok.diverged == 0 and np.all(np.isfinite(ok.test_mse))


def test_time_curve_masks_the_diverged_steps():
    c = sc.time_curve(KEY, SMALL.replace(n=None, lr=3.0), [2, 10, np.inf], 1)
    assert np.isfinite(c.test_mse[0]) and np.isnan(c.test_mse[1])
    assert np.isinf(c.test_mse[2])
