"""SGD noise on noisy linear regression (lm_sims.sgd_noise): the exact second-moment
recursion against simulation, the linear scaling rule and where it breaks, the
stability limit, the critical batch size and the gradient noise scale."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import predictions
from lm_sims import sgd_noise as sn

KEY = jax.random.key(0)
CFG = sn.Config()  # d = 50, h_j ∝ 1/j, tr H = 1, sigma^2 = 0.25, B = 1, lr = 0.5
TARGET = 0.02  # the page's target risk: 4% of R_0 = 0.5
BATCHES = (1, 2, 4, 8, 16, 32, 64)


def _window_mean(traj, cfg, tol=0.002, min_records=100):
    """Run- and time-averaged simulated risk over the records where the recursion
    says the transient is below ``tol`` of the stationary risk."""
    step = np.asarray(traj.step)
    theory = sn.predict_risk(cfg, step)
    stat = sn.stationary_risk(cfg)
    sel = np.abs(theory / stat - 1) < tol
    assert sel.sum() >= min_records, "run too short to reach stationarity"
    return float(np.mean(np.asarray(traj.risk, np.float64)[sel])), stat


# --- theory: fast ----------------------------------------------------------------


def test_spectrum_is_a_normalised_power_law():
    h = sn.spectrum(50, 1.0)
    assert h.shape == (50,) and h.dtype == np.float64
    np.testing.assert_allclose(h.sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(h[0] / h, np.arange(1, 51), rtol=1e-12)
    np.testing.assert_allclose(sn.spectrum(7, 0.0), np.full(7, 1 / 7))


def test_recursion_reaches_the_closed_form_stationary_risk():
    # iterating (eq-sgd-recursion) k = 40 / (lr h_min) steps converges to
    # (eq-sgd-stationary): the slowest mode decays as (1 - lr h_min)^2k ~ e^-80
    h_min = sn.spectrum()[-1]
    for lr, b in ((0.5, 1), (2.0, 8), (0.1, 1), (6.0, 64)):
        cfg = CFG.replace(lr=lr, batch_size=b)
        r = sn.predict_risk(cfg, [0, int(40 / (lr * h_min))])
        assert r[0] == pytest.approx(0.5, rel=1e-14)  # R_0 = tr(H)/2
        assert r[1] == pytest.approx(sn.stationary_risk(cfg), rel=1e-9)


def test_recursion_matches_a_direct_matrix_iteration():
    # the full d x d recursion of Gamma = E[e e^T] with M0 = I against the diagonal
    # closure of the module (float64 rounding only)
    cfg = CFG.replace(dim=8, lr=0.7, batch_size=3, alpha=1.3, noise=0.4)
    h = sn.spectrum(8, 1.3)
    hm, lr, b, s2 = np.diag(h), 0.7, 3, 0.16
    m = np.eye(8)
    a = np.eye(8) - lr * hm
    risks = [0.5 * np.trace(hm @ m)]
    for _ in range(30):
        m = a @ m @ a + lr**2 / b * (hm @ m @ hm + np.trace(hm @ m) * hm + s2 * hm)
        risks.append(0.5 * np.trace(hm @ m))
    np.testing.assert_allclose(sn.predict_risk(cfg, np.arange(31)), risks, rtol=1e-12)


def test_small_lr_formula_is_the_leading_order_and_its_error_is_linear_in_lr():
    # R_inf = lr sigma^2 tr(H)/(4B) (1 + O(lr)): the relative error halves with lr
    errors = []
    for lr in (0.04, 0.02, 0.01):
        exact = sn.stationary_risk(CFG, lr=lr)
        small = sn.stationary_risk_small_lr(CFG, lr=lr)
        assert small == pytest.approx(lr * 0.25 / 4)
        errors.append(exact / small - 1)
    assert errors[0] > errors[1] > errors[2] > 0
    np.testing.assert_allclose(np.array(errors[:2]) / errors[1:], 2.0, rtol=0.03)


def test_small_lr_formula_is_15_to_30_percent_low_at_lr_tr_h_over_b_up_to_half():
    # measured from (eq-sgd-stationary): 14.6% low at lr tr(H)/B = 0.25, 29.2% at
    # 0.5 (the calibration said 20-40%); bands of +-5 points around them.
    # This holds at B = 1 only: at fixed lr/B the discreteness part of the error,
    # O(lr h_max), grows with B (measured 22.6% and 48.4% at B = 8; same bands)
    bands = {
        1: ((0.25, (0.10, 0.20)), (0.5, (0.24, 0.34))),
        8: ((0.25, (0.18, 0.28)), (0.5, (0.43, 0.53))),
    }
    for b, cases in bands.items():
        for x, low_band in cases:
            small = sn.stationary_risk_small_lr(CFG, lr=x * b, batch_size=b)
            low = 1 - small / sn.stationary_risk(CFG, lr=x * b, batch_size=b)
            assert low_band[0] <= low <= low_band[1], (b, x, low)


def test_small_lr_deficit_splits_into_feedback_and_discreteness():
    # small / exact = (rho0 / rho)(1 - rho), rho0 = lr tr(H)/(2B): exact algebra,
    # so rtol 1e-12. Without the discreteness (rho = rho0) the deficit is rho0,
    # the same at fixed lr/B; at B = 1 it is most of the deficit (12.5 of 14.6
    # and 25 of 29.2 points, measured), while the discreteness part grows with B.
    h = sn.spectrum()
    disc = {}
    for x in (0.25, 0.5):
        for b in (1, 8):
            lr = x * b
            rho0 = lr * h.sum() / (2 * b)
            rho = lr / b * np.sum(h / (2 - lr * h * (1 + 1 / b)))
            ratio = sn.stationary_risk_small_lr(
                CFG, lr=lr, batch_size=b
            ) / sn.stationary_risk(CFG, lr=lr, batch_size=b)
            np.testing.assert_allclose(ratio, rho0 / rho * (1 - rho), rtol=1e-12)
            assert rho0 == pytest.approx(x / 2)
            disc[x, b] = rho / rho0 - 1
            if b == 1:
                assert rho0 > 0.8 * (1 - ratio)  # the feedback dominates at B = 1
        assert disc[x, 8] > 4 * disc[x, 1] > 0  # measured 5.3x and 7.0x


def test_small_lr_formula_is_finite_beyond_the_stability_limit():
    # documented: the leading-order formula knows nothing of the limit
    lr = 1.01 * sn.max_stable_lr(CFG)
    assert sn.stationary_risk(CFG, lr=lr) == np.inf
    assert np.isfinite(sn.stationary_risk_small_lr(CFG, lr=lr))


def test_risk_is_linear_in_lr_at_small_lr():
    # log-log slope of R_inf(lr) over lr in [0.005, 0.05] at B = 1: 1 +- 0.05
    lrs = np.geomspace(0.005, 0.05, 6)
    r = [sn.stationary_risk(CFG, lr=lr) for lr in lrs]
    slope = np.polyfit(np.log(lrs), np.log(r), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)


def test_linear_scaling_rule_holds_where_k_lr_hmax_is_small_and_breaks_beyond():
    # R_inf(k lr, k B) / R_inf(lr, B) in [0.97, 1.10] wherever k lr h_max <= 0.3
    # (the O(lr h) corrections of (eq-sgd-stationary)); beyond, it must break
    h_max = sn.spectrum()[0]
    held, broke = 0, 0
    for lr in (0.01, 0.03, 0.1, 0.3):
        for b in (1, 2, 4):
            base = sn.stationary_risk(CFG, lr=lr, batch_size=b)
            for k in (2, 4, 8, 16, 32, 64):
                if k * lr >= sn.max_stable_lr(CFG, batch_size=k * b):
                    continue
                ratio = sn.stationary_risk(CFG, lr=k * lr, batch_size=k * b) / base
                if k * lr * h_max <= 0.3:
                    assert 0.97 <= ratio <= 1.10, (lr, b, k, ratio)
                    held += 1
                elif k * lr * h_max >= 0.7:
                    assert ratio > 1.10, (lr, b, k, ratio)
                    broke += 1
    assert held >= 20 and broke >= 5


def test_stability_limit():
    # s(lr_max) = 1: the stationary risk is finite just below and infinite above,
    # and the expected risk of the recursion grows geometrically above it
    for b in (1, 8, 64):
        lr_max = sn.max_stable_lr(CFG, batch_size=b)
        assert np.isfinite(sn.stationary_risk(CFG, lr=0.999 * lr_max, batch_size=b))
        assert sn.stationary_risk(CFG, lr=1.001 * lr_max, batch_size=b) == np.inf
        unstable = CFG.replace(lr=1.05 * lr_max, batch_size=b)
        r = sn.predict_risk(unstable, [0, 3000])
        # past the divergence limit by step 3000: NaN there, flagged (issue 12)
        div = sn.predict_divergence(unstable, 3000)
        assert div.unstable and 0 < div.diverged_step <= 3000 and div.growth > 1
        assert np.isfinite(r[0]) and np.isnan(r[1])
    # small B: about 2B/tr(H) (noise-limited); large B: gradient descent's 2/h_max
    h_max = sn.spectrum()[0]
    assert sn.max_stable_lr(CFG, batch_size=1) < 2.0
    assert sn.max_stable_lr(CFG, batch_size=4096) == pytest.approx(2 / h_max, rel=0.02)


def test_steps_to_target_follows_the_critical_batch_law_for_b_up_to_64():
    # S(B) = S_min (1 + B_crit / B) within 5% for B <= 64 (the fit is two numbers
    # for seven batch sizes; the residual comes from the spectrum's many scales)
    row = predictions.run("sgd-critical-batch")  # the scorecard's row
    assert row.passed, row
    cb = sn.critical_batch(CFG, TARGET, BATCHES)
    fit = cb.s_min * (1 + cb.b_crit / cb.batch_sizes)
    np.testing.assert_allclose(cb.steps / fit, 1.0, atol=0.05)
    assert 10 < cb.s_min < 15 and 80 < cb.b_crit < 110  # measured: 12.1, 94
    # E = E_min (1 + B / B_crit) and (S/S_min - 1)(E/E_min - 1) = 1 on the fit
    e_fit = cb.e_min * (1 + cb.batch_sizes / cb.b_crit)
    np.testing.assert_allclose(cb.batch_sizes * fit, e_fit, rtol=1e-12)
    np.testing.assert_allclose(
        (fit / cb.s_min - 1) * (e_fit / cb.e_min - 1), 1.0, rtol=1e-12
    )
    # the tuned learning rate grows linearly with B at small B (linear scaling)
    np.testing.assert_allclose(cb.lr[1] / cb.lr[0], 2.0, rtol=0.05)


def test_the_noise_scale_is_the_per_step_critical_batch():
    # McCandlish et al.'s derivation is exact for a quadratic loss: with the
    # per-step optimal lr, the expected one-step risk decrease at batch B is
    # Delta_max / (1 + B_noise / B), B_noise = E tr(H Sigma) / E G^T H G
    cfg = CFG.replace(lr=0.2)
    k = 300
    g, log_scale = sn._at_steps(sn.spectrum(), 0.2, 1, 0.25, np.array([k]))
    gam = g[0] * np.exp(log_scale[0])
    h = sn.spectrum()
    r = 0.5 * h @ gam
    b_noise = sn.predict_noise_scale(cfg, [k]).b_noise[0]
    grad2, ghg = h**2 @ gam, h**3 @ gam
    best = {}
    for b in (1, 4, 16, 64, 10**9):
        lrs = np.linspace(1e-3, 10, 20001)
        diag = (1 - lrs[:, None] * h) ** 2 + lrs[:, None] ** 2 * h**2 / b
        g1 = diag * gam + lrs[:, None] ** 2 / b * ((h @ gam) * h + 0.25 * h)
        decrease = r - 0.5 * g1 @ h
        best[b] = decrease.max()
        lr_opt = grad2 / (ghg + (ghg + np.sum(h**2) * (2 * r + 0.25)) / b)
        assert lrs[decrease.argmax()] == pytest.approx(lr_opt, abs=1e-3)
    for b in (1, 4, 16, 64):
        assert best[b] == pytest.approx(best[10**9] / (1 + b_noise / b), rel=1e-6)


def test_critical_batch_against_the_noise_scale():
    # No theorem ties the fitted B_crit of a constant-lr run to one value of the
    # noise scale (B_noise is the *per-step* critical batch and grows along the
    # run). What the model does: B_simple measured at the target on the B = 64
    # run is B_crit to within a factor 1.5 at three targets; the noise scale at
    # initialisation is far below B_crit; and both grow as the target falls.
    crit, at_target = [], []
    for target in (0.05, 0.02, 0.01):
        cb = sn.critical_batch(CFG, target, BATCHES)
        i = list(cb.batch_sizes).index(64)
        cfg = CFG.replace(batch_size=64, lr=float(cb.lr[i]))
        ns = sn.predict_noise_scale(cfg, [0, int(np.ceil(cb.steps[i]))])
        ratio = cb.b_crit / ns.b_simple[1]
        assert 1 / 1.5 <= ratio <= 1.5, (target, ratio)
        assert cb.b_crit > 2.5 * ns.b_simple[0]
        assert ns.b_noise[1] < ns.b_simple[1]  # Hessian weighting: smaller here
        crit.append(cb.b_crit)
        at_target.append(ns.b_simple[1])
    assert np.all(np.diff(crit) > 0) and np.all(np.diff(at_target) > 0)


def test_critical_batch_fit_that_brackets_it_and_b_noise_at_the_target():
    # The B <= 64 fit (test above) extrapolates: B_crit = 94 lies beyond it, and
    # B = 128-1024 fall 8-21% above that hyperbola (measured). Fitted over
    # B = 1-1024, which brackets B_crit, the law holds within 5% (measured 4.6%;
    # exact recursion, so no sampling slack) with B_crit = 77. The derivation's
    # B_crit = B_noise fails: B_noise at the target is about half of B_crit
    # (measured 47 against 94 and 77), so we require a ratio in [0.35, 0.7].
    bs = BATCHES + (128, 256, 512, 1024)
    narrow = sn.critical_batch(CFG, TARGET, bs)
    fit = narrow.s_min * (1 + narrow.b_crit / narrow.batch_sizes)
    big = narrow.batch_sizes > 64
    assert np.all(narrow.batch_sizes[big] > narrow.b_crit)
    assert np.all(narrow.steps[big] / fit[big] - 1 > 0.05)  # measured 8.5-21%
    wide = sn.critical_batch(CFG, TARGET, bs, fit_max=1024)
    fit_w = wide.s_min * (1 + wide.b_crit / wide.batch_sizes)
    np.testing.assert_allclose(wide.steps / fit_w, 1.0, atol=0.05)
    assert 1 < wide.b_crit < 1024 and 65 < wide.b_crit < 90
    i = list(bs).index(64)
    cfg = CFG.replace(batch_size=64, lr=float(narrow.lr[i]))
    b_noise = sn.predict_noise_scale(cfg, [int(np.ceil(narrow.steps[i]))]).b_noise[0]
    for b_crit in (narrow.b_crit, wide.b_crit):
        assert 0.35 <= b_noise / b_crit <= 0.7, (b_noise, b_crit)


# --- simulation: fast ------------------------------------------------------------


def test_train_shapes_dtypes_and_a_short_check_against_the_recursion():
    cfg = CFG.replace(batch_size=4, lr=1.0, steps=400, num_runs=128)
    traj = sn.train(KEY, cfg)
    assert traj.risk.shape == (41, 128) and traj.loss.shape == (41,)
    assert traj.loss.dtype == jnp.result_type(float)
    assert not traj.diverged and int(traj.diverged_step) == -1
    np.testing.assert_allclose(np.asarray(traj.t), 1.0 * np.arange(0, 401, 10))
    # records 20..40 (steps 200-400): mean over 128 runs x 21 records; the per-run
    # risk fluctuates by ~60%, correlated over ~10 steps: 12% covers > 4 s.e.m.
    sim = float(np.mean(np.asarray(traj.loss)[20:]))
    theory = float(np.mean(sn.predict_risk(cfg, np.asarray(traj.step)[20:])))
    assert sim == pytest.approx(theory, rel=0.12)
    ns = sn.predict_noise_scale(cfg, np.asarray(traj.step))
    np.testing.assert_allclose(np.asarray(traj.b_simple)[0], ns.b_simple[0], rtol=0.1)


def test_a_run_beyond_the_stability_limit_is_flagged_and_cut():
    cfg = CFG.replace(lr=4.0, steps=200, num_runs=8)
    traj = sn.train(KEY, cfg)
    assert traj.diverged and 0 < int(traj.diverged_step) <= 200
    last = int(traj.diverged_step) // cfg.record_every + 1
    assert np.all(np.isnan(np.asarray(traj.loss)[last:]))
    assert np.all(np.isfinite(np.asarray(traj.loss)[: int(traj.diverged_step) // 10]))


def test_lr_noise_alpha_are_traced_one_compilation():
    from lm_sims.diagnostics import count_compilations

    cfg = CFG.replace(steps=20, num_runs=4)
    sn.train(KEY, cfg)
    with count_compilations() as count:
        for lr, noise, alpha in ((0.3, 0.1, 0.5), (0.2, 1.0, 2.0)):
            sn.train(KEY, cfg.replace(lr=lr, noise=noise, alpha=alpha))
    assert count.count == 0


@pytest.mark.parametrize(
    "changes",
    [dict(lr=0.5), dict(lr=0.2, alpha=2.0), dict(lr=3.2, batch_size=64, noise=1.5)],
)
def test_relaxation_steps_is_a_tight_bound_on_the_recursion(changes):
    # the eigendecomposition bound: from its step on, the iterated recursion
    # (predict_risk, O(d) per step) stays within rtol of stationary; the risk's
    # own last step outside is within 15% below it (the bound sums |terms|)
    cfg = CFG.replace(**changes)
    k = sn.relaxation_steps(cfg, 0.01)
    assert k == int(k) and 0 < k < 1e5
    steps = np.arange(0, int(3 * k) + 2)
    rel = sn.predict_risk(cfg, steps) / sn.stationary_risk(cfg) - 1
    outside = np.flatnonzero(np.abs(rel) >= 0.01)
    assert outside[-1] < k
    assert outside[-1] >= 0.85 * k
    assert sn.relaxation_steps(cfg, 0.01, max_steps=k - 1) == np.inf
    assert sn.relaxation_steps(cfg, 0.05) < k


def test_relaxation_steps_is_inf_without_a_stationary_state_and_checks_rtol():
    assert sn.relaxation_steps(CFG.replace(lr=4.0)) == np.inf  # beyond lr_max
    assert sn.relaxation_steps(CFG.replace(noise=0.0)) == np.inf  # R_inf = 0
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="rtol"):
            sn.relaxation_steps(CFG, bad)
    with pytest.raises(ValueError, match="max_steps"):
        sn.relaxation_steps(CFG, max_steps=0.5)


def test_run_length_is_traced_at_a_fixed_record_count():
    """One program per record count: runs of 40 to 400 steps with 20 records
    compile nothing after the first, and each takes exactly its own steps: every
    record of the record_every=2 run equals the every-other record of the
    record_every=1 run (the data stream is keyed by the step index), and a run
    that diverges is flagged at the same step either way."""
    from lm_sims.diagnostics import count_compilations

    cfg = CFG.replace(steps=40, record_every=2, num_runs=4)
    sn.train(KEY, cfg)
    with count_compilations() as count:
        trajs = {
            n: sn.train(KEY, cfg.replace(steps=20 * n, record_every=n))
            for n in (1, 5, 20)
        }
    assert count.count == 0
    np.testing.assert_array_equal(np.asarray(trajs[20].step), 20 * np.arange(21))
    fine = sn.train(KEY, cfg.replace(steps=100, record_every=1))
    np.testing.assert_array_equal(np.asarray(trajs[5].risk), np.asarray(fine.risk)[::5])
    hot = cfg.replace(lr=4.0, steps=200, record_every=10)
    coarse = sn.train(KEY, hot)
    fine = sn.train(KEY, hot.replace(record_every=1))
    assert coarse.diverged and int(coarse.diverged_step) == int(fine.diverged_step)


# --- validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
        ({"lr": float("nan")}, ValueError, "lr must be finite"),
        ({"lr": True}, TypeError, "lr must be a real number"),
        ({"noise": -1.0}, ValueError, "noise must be >= 0"),
        ({"alpha": 5.0}, ValueError, "alpha must be <= 4"),
        ({"alpha": float("nan")}, ValueError, "alpha must be finite"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
        ({"dim": 5000}, ValueError, "dim must be >= 1 and <= 4096"),
        ({"steps": 100, "record_every": 7}, ValueError, "record_every must divide"),
        ({"num_runs": 0}, ValueError, "num_runs must be >= 1"),
    ],
)
def test_bad_config_names_field_value_and_range(changes, error, match):
    with pytest.raises(error, match=match):
        CFG.replace(**changes)


def test_tune_lr_finds_a_target_below_the_old_fixed_floor():
    # regression: the search used to start at 1e-3 lr_max (1e-3 here), above the
    # largest lr whose stationary risk is below the target (~8e-4 = 4 B target /
    # (sigma^2 tr H)), and returned (inf, nan). Exact recursion, no tolerance
    # beyond the grid's resolution: the optimum must beat lr x 0.9 and x 1.1
    cfg = sn.Config(dim=2, alpha=0.0, noise=5.0)
    target = 0.005
    assert sn.max_stable_lr(cfg) * 1e-3 > 4 * target / 25
    steps, lr = sn.tune_lr(cfg, target)
    assert np.isfinite(steps) and lr < 1e-3
    assert sn.stationary_risk(cfg, lr=lr) < target
    assert steps == pytest.approx(sn.steps_to_target(cfg.replace(lr=lr), target))
    for f in (0.9, 1.1):
        assert sn.steps_to_target(cfg.replace(lr=f * lr), target) > steps
    cb = sn.critical_batch(cfg, target, (1, 2))
    assert np.all(np.isfinite(cb.steps))


def test_tune_lr_raises_when_the_search_range_is_exhausted():
    cfg = sn.Config(dim=2, alpha=0.0, noise=5.0)
    with pytest.raises(ValueError, match="exhausted.*max_steps|max_steps.*exhausted"):
        sn.tune_lr(cfg, 0.005, max_steps=10)


def test_noise_scales_stay_finite_beyond_the_limit_and_at_noise_zero():
    # ratios of moments: finite where the moments overflow (lr beyond the limit)
    # or underflow (noise 0, late steps); no NaN and no RuntimeWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unstable = CFG.replace(lr=1.2 * sn.max_stable_lr(CFG))
        assert np.isnan(sn.predict_risk(unstable, [100_000])[0])  # diverged: masked
        ns = sn.predict_noise_scale(unstable, [0, 10, 100_000])
        quiet = sn.predict_noise_scale(CFG.replace(noise=0.0), [0, 1000, 10**6])
    for arr in (*ns, *quiet):
        assert np.all(np.isfinite(arr)) and np.all(arr >= 1)
    # beyond the limit they converge to the growing mode's values (the risk
    # overflows near step 2e4 here; the scales agree at 1e3 and 1e5 steps)
    late = sn.predict_noise_scale(unstable, [1000, 100_000])
    g, logs = sn._at_steps(*sn._problem(unstable), np.array([1000]))
    assert np.isfinite(0.5 * (g @ sn.spectrum()) * np.exp(logs))[0]  # no overflow
    np.testing.assert_allclose(late.b_simple[0], late.b_simple[1], rtol=1e-9)
    np.testing.assert_allclose(late.b_noise[0], late.b_noise[1], rtol=1e-9)
    # at noise 0 the simple noise scale rises toward the slowest modes' value
    assert quiet.b_simple[2] > quiet.b_simple[1] > quiet.b_simple[0]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="step must be a scalar or a 1-D"):
        sn.predict_risk(CFG, [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="step must be a scalar or a 1-D"):
        sn.predict_noise_scale(CFG, [[0, 1]])
    with pytest.raises(TypeError, match="cfg must be"):
        sn.predict_risk({"lr": 0.1}, [0])
    with pytest.raises(ValueError, match="step must be >= 0"):
        sn.predict_risk(CFG, [-1])
    with pytest.raises(ValueError, match="whole steps"):
        sn.predict_risk(CFG, [1.5])
    with pytest.raises(ValueError, match="must be finite"):
        sn.predict_risk(CFG, [float("nan")])
    with pytest.raises(TypeError, match="not booleans"):
        sn.predict_risk(CFG, [True])
    with pytest.raises(ValueError, match="target must be below"):
        sn.steps_to_target(CFG, 0.6)
    with pytest.raises(ValueError, match="target must be > 0"):
        sn.tune_lr(CFG, -0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        sn.stationary_risk(CFG, lr=-1.0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        sn.max_stable_lr(CFG, batch_size=1.5)
    with pytest.raises(ValueError, match="distinct"):
        sn.critical_batch(CFG, 0.02, (1, 1, 2))
    with pytest.raises(TypeError, match="PRNG key"):
        sn.train(0, CFG)
    with pytest.raises(ValueError, match="GiB"):
        sn.train(KEY, CFG.replace(num_runs=10**6, batch_size=1024))
    with pytest.raises(TypeError, match="Trajectory"):
        sn.simulated_steps_to_target((1, 2), 0.1)


# --- simulation: many runs (statistical tier) ------------------------------------


@pytest.mark.statistical
@pytest.mark.parametrize("lr, b", [(0.5, 1), (2.0, 8)])
def test_recursion_matches_simulated_stationary_risk_within_3_percent(lr, b):
    # 256 runs x ~3,000 stationary steps: the s.e.m. of the averaged risk is
    # ~0.5% (correlation time ~1/(2 lr h_1)); 3% is the bar. The runs
    # (and the window) are the book's scorecard's (lm_sims.predictions), which
    # shows (0.5, 1)
    assert CFG == sn.Config()
    sim, stat = predictions._sgd_stationary_risk(lr, b)
    assert sim == pytest.approx(stat, rel=0.03)
    if (lr, b) == (0.5, 1):
        row = predictions.run("sgd-stationary-risk")
        assert row.passed, row


@pytest.mark.statistical
def test_simulated_linear_scaling_holds_then_breaks():
    # simulated R(k lr, k B) / R(lr, B): in [0.97, 1.10] at k lr h_max = 0.18
    # (theory 1.03); above 1.10 at k lr h_max = 1.42 (theory 1.76); s.e.m. ~1%.
    # Computed and checked by the book's scorecard (lm_sims.predictions): the
    # same runs and bands
    row = predictions.run("sgd-linear-scaling")
    assert row.passed, row


@pytest.mark.statistical
def test_simulated_risk_slope_in_lr_is_one_at_small_lr():
    # slope of log R vs log lr over lr = 0.02 .. 0.08 (B = 1; theory 1.03 for
    # the stationary risk): window means (where the recursion's transient is
    # < 2%, the same relative bias at every lr) over 128 runs; each has s.e.m.
    # ~0.5% and is checked against the recursion's mean over the same window
    lrs = np.array([0.02, 0.04, 0.08])
    r = []
    for lr in lrs:
        cfg = CFG.replace(
            lr=float(lr), steps=int(1200 / lr), record_every=20, num_runs=128
        )
        traj = sn.train(KEY, cfg)
        step = np.asarray(traj.step)
        theory = sn.predict_risk(cfg, step)
        sel = np.abs(theory / sn.stationary_risk(cfg) - 1) < 0.02
        assert sel.sum() >= 200
        r.append(float(np.mean(np.asarray(traj.loss)[sel])))
        assert r[-1] == pytest.approx(float(np.mean(theory[sel])), rel=0.02)
    slope = np.polyfit(np.log(lrs), np.log(r), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05), (slope, r)


@pytest.mark.statistical
def test_simulated_steps_to_target_follow_theory_and_the_critical_batch_law():
    # at the tuned lr, the first step at which the mean risk over 512 runs is
    # <= TARGET, against the recursion (5%: the mean's s.e.m. ~2% near the target
    # shifts the crossing by a few %, plus integer steps at large B), and the
    # simulated S(B) against S_min (1 + B_crit / B) fitted to them (5%). Computed
    # and checked by the book's scorecard (lm_sims.predictions): the same runs
    assert (CFG, TARGET) == (sn.Config(), 0.02)
    row = predictions.run("sgd-steps-to-target")
    assert row.passed, row
