"""lm_sims.central_flow: the central flow of gradient descent (Cohen et al. 2024)
against gradient descent, on the two-parameter toy and on Chapter 3's network."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import central_flow as cf
from lm_sims import edge_of_stability as eos
from lm_sims import observables, predictions

TOY_START, TOY_LR = (2.5, 0.1), 0.4  # 2/lr = 5 < gradient flow's landing 6.55


# -- the pieces -------------------------------------------------------------------


def _hessian_top(loss_fn, x):
    lam, vec = np.linalg.eigh(np.asarray(jax.hessian(loss_fn)(x), np.float64))
    return lam[-1], vec[:, -1]


def _small_net():
    key = jax.random.key(1)
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (12, 3))
    y = jnp.sin(x[:, 0])
    w = 0.8 * jax.random.normal(k2, (5, 3))
    a = 0.8 * jax.random.normal(k3, (5,))

    def loss(p):
        return 0.5 * jnp.mean((jnp.tanh(x @ p[0].T) @ p[1] - y) ** 2)

    return loss, (w, a)


def test_top_eigenpairs_match_the_dense_hessian():
    # Lanczos with as many steps as parameters is exact up to rounding (20
    # parameters; 1e-4 relative covers float32)
    loss, params = _small_net()
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    s, vec = _hessian_top(lambda z: loss(unravel(z)), flat)
    vals, vecs = observables.hessian_top_eigenpairs(loss, params, 2, num_iters=20)
    u = jax.flatten_util.ravel_pytree(jax.tree.map(lambda v: v[0], vecs))[0]
    assert float(vals[0]) == pytest.approx(s, rel=1e-4)
    assert abs(float(np.dot(u, vec))) == pytest.approx(1.0, abs=1e-4)
    # a warm start from the eigenvector itself converges in 2 steps
    warm, _ = observables.hessian_top_eigenpairs(
        loss, params, 1, num_iters=2, start=unravel(jnp.asarray(vec, flat.dtype))
    )
    assert float(warm[0]) == pytest.approx(s, rel=1e-4)


def test_grad_sharpness_matches_finite_differences_of_the_dense_eigenvalue():
    # dS/dw = d/dw (u^T H u) at fixed u (Hellmann-Feynman) vs central differences
    # of the dense top eigenvalue; step 1e-3 leaves an O(h^2) ~ 1e-6 error, and
    # float32 rounding of the eigenvalue differences ~1e-7/1e-3: 2% relative
    loss, params = _small_net()
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    flat_loss = lambda z: loss(unravel(z))  # noqa: E731
    _, u = _hessian_top(flat_loss, flat)
    g = cf.grad_sharpness(flat_loss, flat, jnp.asarray(u, flat.dtype))
    h = 1e-3
    fd = []
    for i in range(flat.size):
        e = np.zeros(flat.size)
        e[i] = h
        plus = _hessian_top(flat_loss, flat + e.astype(flat.dtype))[0]
        minus = _hessian_top(flat_loss, flat - e.astype(flat.dtype))[0]
        fd.append((plus - minus) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=0.02, atol=0.02 * np.abs(fd).max())


def test_stationary_sigma2_keeps_the_sharpness_still():
    # eq. (eq-cf-sigma): with sigma^2 = 2 <-g, gS> / |gS|^2 the velocity
    # g + sigma^2/2 gS is orthogonal to gS (dS/dt = 0) exactly, up to rounding
    rng = np.random.default_rng(0)
    for _ in range(5):
        g, gs = rng.normal(size=7), rng.normal(size=7)
        if g @ gs > 0:
            g = -g
        s2 = float(cf.sigma_squared(g, gs, 4.0, 0.5))
        assert s2 > 0
        assert abs((g + 0.5 * s2 * gs) @ gs) < 1e-5 * np.linalg.norm(gs) ** 2
    # gradient flow already flattens the sharpness: no oscillation is needed
    assert float(cf.sigma_squared([1.0, 0.0], [1.0, 1.0], 4.0, 0.5)) == 0.0
    # below the edge (S < 2/lr) there is no oscillation, whatever the gradients:
    # the same g, gS give 2.0 at the edge and exactly 0 below it
    assert float(cf.sigma_squared([-1.0, 0.0], [1.0, 0.0], 4.0, 0.5)) == 2.0
    assert float(cf.sigma_squared([-1.0, 0.0], [1.0, 0.0], 0.1, 0.5)) == 0.0
    assert float(cf.sigma_squared([-1.0, 0.0], [1.0, 0.0], 3.99, 0.5)) == 0.0


def test_restoring_term_returns_the_linearised_sharpness_to_the_edge():
    # eq. (eq-cf-sigma-discrete): after a substep of dt steps the linearised
    # sharpness S + gS . dw equals 2/lr exactly (rounding only)
    rng = np.random.default_rng(1)
    g, gs = rng.normal(size=5), rng.normal(size=5)
    lr, dt, s = 0.5, 0.5, 4.3
    s2 = float(cf.sigma_squared(g, gs, s, lr, dt=dt))
    dw = -dt * lr * (g + 0.5 * s2 * gs)
    assert s + gs @ dw == pytest.approx(2 / lr, rel=1e-5)


def test_grad_sharpness_normalises_the_eigenvector():
    # S is the Rayleigh quotient: any nonzero multiple of u gives the same
    # gradient (exact up to rounding: 1e-5 relative covers float32)
    loss = lambda w: 0.5 * (w[0] * w[1]) ** 2  # noqa: E731
    w = jnp.array([1.0, 3.0])
    unit = cf.grad_sharpness(loss, w, jnp.array([1.0, 0.0]))
    scaled = cf.grad_sharpness(loss, w, jnp.array([3.0, 0.0]))
    np.testing.assert_allclose(scaled, unit, rtol=1e-5)
    with pytest.raises(ValueError, match="eigenvector must be nonzero"):
        cf.grad_sharpness(loss, w, jnp.zeros(2))


def test_toy_loss_batches_and_validates():
    p = np.array([[2.0, 1.0], [1.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(cf.toy_loss(p), [0.5, 0.0, 0.5])
    assert cf.toy_loss(jnp.array([2.0, 1.0])).shape == ()


def test_predicted_loss_and_smoothing():
    assert float(cf.predicted_loss(0.5, 0.02, 0.1)) == pytest.approx(0.7)
    # a period-2 oscillation averages to its mean (the kernel, cut at 4 widths,
    # passes 1e-5 of it); a constant stays constant
    x = 1.0 + 0.3 * (-1.0) ** np.arange(200)
    sm = cf.gaussian_smooth(x, 10.0)
    np.testing.assert_allclose(sm[40:-40], 1.0, atol=1e-5)
    np.testing.assert_allclose(cf.gaussian_smooth(np.full(7, 2.0), 3.0), 2.0)
    err = cf.median_relative_error([1.1, 2.0, 2.7], [1.0, 2.0, 3.0])
    assert err == pytest.approx(0.1, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cf.sigma_squared([1.0], [1.0], 4.0, 0.0), "lr must be > 0"),
        (lambda: cf.sigma_squared([1.0], [1.0, 2.0], 4.0, 0.1), "one shape"),
        (lambda: cf.sigma_squared([np.nan], [1.0], 4.0, 0.1), "finite"),
        (lambda: cf.predicted_loss(1.0, 0.1, -1.0), "lr must be > 0"),
        (lambda: cf.predicted_loss(0.5, -1.0, 0.1), "sigma2 must be >= 0"),
        (lambda: cf.predicted_loss(np.ones(3), np.ones(2), 0.1), "sigma2 .shape"),
        (lambda: cf.toy_loss(jnp.ones(3)), r"params must have shape \(2,\)"),
        (lambda: cf.toy_loss(1.0), r"params must have shape \(2,\)"),
        (lambda: cf.toy_loss([np.nan, 1.0]), "finite"),
        (lambda: cf.Config(warmup_ratio=5.0), "warmup_ratio must be <= 1"),
        (lambda: cf.Config(warmup_ratio=0.0), "warmup_ratio must be > 0"),
        (lambda: cf.gaussian_smooth([1.0, 2.0], 0.0), "width must be > 0"),
        (lambda: cf.gaussian_smooth(np.ones((2, 2)), 1.0), "1-D"),
        (lambda: cf.run_flows(cf.toy_loss, jnp.ones(2), 0.1, steps=0), "steps"),
        (lambda: cf.toy_flows(np.nan, 0.1, 0.4, 10), "a0 must be finite"),
        (lambda: cf.Config(width=0), "width"),
        (lambda: cf.Config(lr_ratio=-1.0), "lr_ratio"),
        (lambda: cf.Config(num_eigs=11), "num_eigs"),
    ],
)
def test_bad_inputs_raise_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: cf.sigma_squared([True], [1.0], 4.0, 0.1),
        lambda: cf.run_flows(cf.toy_loss, jnp.ones(2), True, steps=3),
        lambda: cf.run_flows(lambda p: p, jnp.ones(2), 0.1, steps=3),
        lambda: cf.experiment(jax.random.key(0), eos.Config()),
        lambda: cf.Config(steps=2.5),
    ],
)
def test_bad_types_raise_type_errors(call):
    with pytest.raises(TypeError):
        call()


# -- Chapter 3's network, extended to the digits (backward compatible) -----------


def test_edge_of_stability_network_on_digits():
    cfg = eos.Config(dataset="digits", d=64, width=8, num_train=40)
    key = jax.random.key(0)
    p, batch = eos.init(key, cfg), eos.training_data(key, cfg)
    assert p.a.shape == (8, 10) and batch.y.shape == (40, 10)
    f = np.tanh(np.asarray(batch.x) @ np.asarray(p.w).T) @ np.asarray(p.a) / 8**0.5
    manual = 0.5 * np.sum((f - np.asarray(batch.y)) ** 2) / 40  # 1/(2P) sum |.|^2
    assert float(eos.loss(p, batch)) == pytest.approx(manual, rel=1e-5)
    with pytest.raises(ValueError, match="d=64"):
        eos.Config(dataset="digits")
    with pytest.raises(ValueError, match="dataset"):
        eos.Config(dataset="cifar")
    with pytest.raises(ValueError, match=r"\(P, d_out\)"):
        eos.loss(p, eos.Batch(batch.x, batch.y[:, :3]))


# -- the two-parameter toy ----------------------------------------------------------


def _toy():
    # cf.toy_flows(*TOY_START, TOY_LR, 150): the run of the book's scorecard
    # (lm_sims.predictions), cached there
    assert (predictions._TOY_START, predictions._TOY_LR) == (TOY_START, TOY_LR)
    return predictions._toy_flows()


def test_toy_gradient_descent_lands_at_sharpness_at_most_two_over_lr():
    # the check: gradient flow would land at S = sqrt(c^2 + 4) = 6.55 >
    # 2/lr = 5, where GD is unstable; GD instead converges (loss < 1e-8) to a
    # minimum with S <= 2/lr (measured 2.69; the tolerance is exact: <=)
    row = predictions.run("central-flow-gd-landing")  # the scorecard's row
    assert row.passed, row
    f = _toy()
    assert not f.diverged
    assert float(f.gd_loss[-1]) < 1e-8
    assert float(f.gd_sharpness[-1]) <= 2 / TOY_LR
    gd_end = np.asarray(f.paths[0][-1])
    assert float(cf.toy_sharpness(*gd_end)) <= 2 / TOY_LR  # closed form agrees
    assert float(cf.toy_sharpness(*gd_end)) == pytest.approx(
        float(f.gd_sharpness[-1]), rel=1e-4
    )


@pytest.mark.parametrize("edge", [4.0, 5.0, 6.0])
def test_toy_gradient_flow_conserves_a2_minus_b2(edge):
    # Chapter 1: d/dt (a^2 - b^2) = 0 along gradient flow. Integrated by RK4
    # substeps with lr S / m <= 0.5 (GF_SUBSTEP_SHARPNESS), it keeps a^2 - b^2 to
    # 1e-4 relative (measured 1.2-1.6e-5 in float64 and float32; the RK4 error
    # ~ (lr S / m)^5 / 120 per substep) and lands at sqrt(c^2 + 4) = 6.5527 to
    # 1e-4 (measured 1.1e-5), at every edge the page's explorer shows, whatever
    # the central flow's substeps. (Two Euler substeps, the scheme this replaced,
    # drifted by 2% and landed at 6.41.)
    c0 = float(cf.toy_conserved(*TOY_START))
    s_gf = cf.predict_toy_gradient_flow_sharpness(*TOY_START)
    for sub in (1, 2):
        f = cf.toy_flows(*TOY_START, 2 / edge, 150, substeps=sub)
        a, b = np.asarray(f.paths[2], np.float64).T
        assert np.abs(cf.toy_conserved(a, b) / c0 - 1).max() < 1e-4
        assert float(f.gf_loss[-1]) < 1e-8
        assert float(f.gf_sharpness[-1]) == pytest.approx(s_gf, rel=1e-4)


def test_gradient_flow_is_exact_on_a_stiff_quadratic():
    # L = (lam/2) |w|^2 with lr lam = 5 (GD diverges, |1 - 5| = 4 per step; two
    # steps stay below the blow-up threshold): gradient flow is w0 exp(-5 k).
    # The RK4 substeps (m = 10, lr lam / m = 0.5) reproduce it to 1% after two
    # steps (R(-0.5) / exp(-0.5) = 1 + 4.0e-4 per substep, 20 substeps: 0.8%);
    # GD at lr/2 (two Euler substeps, factor (1 - 2.5)^2 = 2.25 a step) would
    # grow instead of decaying
    lam, lr = 4.0, 1.25
    w0 = jnp.array([1.0, -0.5])
    f = cf.run_flows(
        lambda w: 0.5 * lam * jnp.sum(w**2), w0, lr, steps=2, record_params=True
    )
    assert not f.diverged
    gf = np.asarray(f.paths[2], np.float64)
    exact = np.asarray(w0)[None] * np.exp(-lr * lam * np.arange(3))[:, None]
    np.testing.assert_allclose(gf, exact, rtol=0.01)
    np.testing.assert_allclose(f.gf_sharpness, lam, rtol=1e-4)


def test_centre_distance_removes_gradient_descents_bounce():
    # L = (S/2) w^2 at lr = 2/S exactly: GD is the perfect 2-cycle w0, -w0 about
    # the centre 0, the flows (grad S = 0: sigma^2 = 0, both gradient flow) decay
    # to 0 as exp(-2 k). From the iterate the distance stays |w0| = 1 (the
    # bounce); from GD's centre, the midpoint w - lr grad/2 = 0, it is the flows'
    # own |w| = exp(-2 k) (RK4: 1 + 4.0e-4 per substep, 40 substeps: 1.6%)
    s = 4.0
    f = cf.run_flows(
        lambda w: 0.5 * s * jnp.sum(w**2), jnp.array([1.0]), 2 / s, steps=10
    )
    np.testing.assert_allclose(f.cf_distance[-1], 1.0, rtol=0.01)
    assert float(f.gf_centre_distance[-1]) == pytest.approx(np.exp(-20), rel=0.02)
    assert float(f.cf_centre_distance[-1]) < 1e-6


def test_toy_central_flow_rides_the_edge_to_a_minimum():
    # the start (S = 6.29) is above the edge: the restoring term (linearised)
    # brings S to 2/lr within three steps (1% after one, 1e-4 after two) and
    # holds it there (1e-4 relative); the flow ends on the minima ab = 1 with
    # S = 2/lr and sigma^2 -> 0 (the loss gradient vanishes, eq. (eq-cf-sigma))
    row = predictions.run("central-flow-edge")  # the scorecard's row
    assert row.passed, row
    f = _toy()
    assert float(f.cf_sharpness[0]) > 6
    s = np.asarray(f.cf_sharpness[3:])
    np.testing.assert_allclose(s, 2 / TOY_LR, rtol=1e-4)
    a, b = np.asarray(f.paths[1][-1])
    assert a * b == pytest.approx(1.0, abs=1e-3)
    assert a**2 + b**2 == pytest.approx(2 / TOY_LR, rel=1e-3)
    assert float(f.sigma2[-1]) < 1e-5 < float(f.sigma2[0])


def test_small_experiment_runs_and_records_finite_values():
    cfg = cf.Config(width=8, num_train=60, steps=30, settle_steps=5)
    ex = cf.experiment(jax.random.key(0), cfg)
    f = ex.flows
    assert f.gd_loss.shape == (31,) and not f.diverged
    for name in ("gd_loss", "cf_loss", "gf_loss", "sigma2", "cf_distance"):
        assert np.all(np.isfinite(np.asarray(getattr(f, name)))), name
    assert float(ex.lr) * float(ex.initial_sharpness) == pytest.approx(2 / 1.5)
    assert np.all(np.asarray(f.sigma2) >= 0)
    # lr_ratio and warmup_ratio are traced: the explorer's k slider reuses the
    # program (the run itself still takes its time)
    from lm_sims.diagnostics import count_compilations

    with count_compilations() as count:
        other = cf.experiment(jax.random.key(0), cfg.replace(lr_ratio=1.7))
        jax.block_until_ready(other)
    assert count.count == 0
    assert float(other.lr) * float(other.initial_sharpness) == pytest.approx(2 / 1.7)


# -- the book's network: statistical tier ----------------------------------------

SEEDS = range(6)  # the book's page and explorer show seed 1
SMOOTH = 10.0  # Gaussian smoothing of GD's loss, in steps (the setting)


@functools.cache
def _network(seed):
    # float64 as the issue specifies (the edge-of-stability phase is chaotic);
    # ~15 s per seed warm on two cores, plus ~30 s compiling once
    with jax.enable_x64(True):
        ex = cf.experiment(jax.random.key(seed), cf.Config())
        return jax.device_get(ex)


def _window(x):
    # the smoothing is biased within 3 widths of either end of the record
    return np.asarray(x, np.float64)[int(3 * SMOOTH) : -int(3 * SMOOTH)]


@pytest.mark.statistical
@pytest.mark.parametrize("seed", SEEDS)
def test_network_predicted_loss_tracks_the_time_averaged_gd_loss(seed):
    # median relative error of L(w_CF) + sigma^2/lr against the smoothed GD
    # loss <= 2.5% (the tolerance: third-order Taylor expansion of the
    # time average, Euler substeps, the smoothing's own bias; measured 0.15-2.4%
    # over the six seeds), and at most 0.6x the error of L(w_CF) alone
    # (measured 0.04-0.36x), so the sigma^2/lr term is really tested
    f = _network(seed).flows
    assert not f.diverged
    smooth = cf.gaussian_smooth(np.asarray(f.gd_loss, np.float64), SMOOTH)
    err = cf.median_relative_error(_window(f.predicted_loss), _window(smooth))
    err_flow = cf.median_relative_error(_window(f.cf_loss), _window(smooth))
    assert err <= 0.025, err
    assert err <= 0.6 * err_flow, (err, err_flow)


@pytest.mark.statistical
@pytest.mark.parametrize("seed", SEEDS)
def test_network_central_flow_stays_closer_to_gd_than_gradient_flow(seed):
    # the ratio |w_GD - w_CF| <= 0.4 |w_GD - w_GF| after 800 steps, at
    # every seed of the book's setting (measured 0.063-0.104 with gradient flow
    # by RK4, the range measured before with two Euler substeps). |w_GD - w_CF|
    # includes GD's bounce (its RMS 0.066-0.108 is about the distance itself),
    # so the same ratio is also required from GD's centre, the midpoint of its
    # step (measured 0.048-0.096). Gradient flow sharpens
    # only to 1.18-1.54 x the edge here, so see the dedicated test below
    f = _network(seed).flows
    ratio = float(f.cf_distance[-1]) / float(f.gf_distance[-1])
    assert ratio <= 0.4, ratio
    centre = float(f.cf_centre_distance[-1]) / float(f.gf_centre_distance[-1])
    assert centre <= 0.4, centre


@pytest.mark.statistical
def test_network_central_flow_stays_with_gd_while_gradient_flow_leaves():
    # the regime the check is about: a larger step, lr = 2/(1.1 S0), where
    # gradient flow sharpens far past the edge (measured 1.97 x 2/lr at seed 2,
    # asserted > 1.5) into a region GD cannot enter, while the central flow stays
    # with GD: distance ratio <= 0.4 (measured 0.116 from GD's iterate, 0.111
    # from its centre). Gradient flow is RK4 with lr S / m <= 0.5 per substep, so
    # 1.97 x the edge (lr S = 3.9) is 8 substeps well inside RK4's stability; the
    # two Euler substeps used before (GD at lr/2, stable only below 2 x the edge)
    # gave the same 1.97, at their own limit. One run, ~30 s
    with jax.enable_x64(True):
        ex = jax.device_get(cf.experiment(jax.random.key(2), cf.Config(lr_ratio=1.1)))
    f = ex.flows
    assert not f.diverged
    assert float(f.gf_sharpness[-1]) * float(ex.lr) / 2 > 1.5
    ratio = float(f.cf_distance[-1]) / float(f.gf_distance[-1])
    assert ratio <= 0.4, ratio
    centre = float(f.cf_centre_distance[-1]) / float(f.gf_centre_distance[-1])
    assert centre <= 0.4, centre


def _oscillation_ratios(seed):
    """GD's oscillation over the predicted sigma^2, time-averaged over the window:
    (all directions, from GD's own half-steps; along u_CF only)."""
    f = _network(seed).flows
    lr = float(_network(seed).lr)
    sig2 = _window(f.sigma2).mean()
    # the half-step |w_k+1 - w_k|^2/4 is x^2 plus the drift's share (lr |v|/2)^2,
    # v the centre's velocity; along the central flow -dL/dt = |v|^2 exactly
    # (v is orthogonal to grad S), so the drift's share per step is
    # lr (L_CF(k) - L_CF(k+1)) / 4, which is subtracted (measured < 1% of sigma^2)
    drift = lr * np.maximum(-np.diff(np.asarray(f.cf_loss, np.float64)), 0) / 4
    drift = _window(np.append(drift, drift[-1]))
    half = _window(f.half_step) - drift
    assert drift.mean() < 0.05 * sig2, drift.mean() / sig2
    return half.mean() / sig2, _window(f.oscillation).mean() / sig2


@pytest.mark.statistical
@pytest.mark.parametrize("seed", SEEDS)
def test_network_oscillation_variance_matches_sigma2(seed):
    # the check: GD's oscillation variance over the predicted sigma^2 in
    # [0.6, 1.5] per seed (the band covers the third-order expansion and the
    # window's finite average). Measured from GD's own half-steps, i.e. in every
    # direction at once, since the 2-cycle is not along one eigenvector (below);
    # measured 0.96-1.09 over the six seeds (the drift's share 0.3-0.8%)
    whole, _ = _oscillation_ratios(seed)
    assert 0.6 <= whole <= 1.5, whole


@pytest.mark.statistical
def test_network_oscillation_is_not_along_one_eigenvector():
    # a failure of the rank-one model, tested as a result: the central flow puts
    # the whole oscillation along its top eigenvector u_CF, but the top two or
    # three eigenvalues reach the edge together and GD's 2-cycle is shared among
    # them. Along u_CF alone GD's squared displacement from w_CF is only a
    # fraction of the whole oscillation (measured 0.50-0.98 per seed, mean 0.66:
    # below 0.9 on average, the test), though never more than all of it plus the
    # offset of the two centres (<= 1.5)
    fractions = []
    for seed in SEEDS:
        whole, along = _oscillation_ratios(seed)
        fractions.append(along / whole)
    assert np.mean(fractions) < 0.9, fractions
    assert all(0.0 < r <= 1.5 for r in fractions), fractions


@pytest.mark.statistical
@pytest.mark.parametrize("seed", [1])
def test_network_central_flow_holds_the_sharpness_at_the_edge(seed):
    # while active (sigma^2 > 0) the central flow's sharpness is 2/lr to 1e-3
    # (the restoring term; Lanczos with 10 warm-started steps) from the second
    # step on (it starts at GD's midpoint, 2.5% above the edge, and the
    # restoring term brings it back within one step) at >= 98% of the records;
    # at the rest a second, nearly degenerate eigenvalue has just overtaken the
    # one the rank-one flow holds (measured 4 of 799 records, at most +0.3%):
    # all within 0.5%. GD's sharpness hovers around the edge (mean within 3%)
    ex = _network(seed)
    f = ex.flows
    ratio = np.asarray(f.cf_sharpness)[2:] * float(ex.lr) / 2
    active = np.asarray(f.sigma2)[2:] > 0
    assert active.mean() > 0.9
    dev = np.abs(ratio[active] - 1.0)
    assert np.mean(dev <= 1e-3) >= 0.98, np.mean(dev <= 1e-3)
    assert dev.max() <= 5e-3, dev.max()
    gd = _window(f.gd_sharpness) * float(ex.lr) / 2
    assert abs(gd.mean() - 1.0) < 0.03, gd.mean()
