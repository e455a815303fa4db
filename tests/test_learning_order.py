"""The learning order of Hermite components (lm_sims.learning_order): numpy ranks and
Spearman against scipy, the learned-time measurement on exact curves, the HEA
predicted order, closed-form kernel flow, and the statistical check that two
networks and two kernels learn in the predicted order."""

import math

import jax
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_sims import hermite, predictions
from lm_sims import learning_order as lo

CFG = lo.Config()  # d = 16, effective dimension 9.45, six components, P = 1000
SMALL = lo.Config(
    num_train=64, num_test=64, width=16, steps=10, record_every=1, num_times=6
)


# --- ranks and Spearman: numpy against scipy ----------------------------------------


def test_ranks_average_ties_like_scipy():
    v = np.array([3.0, 1.0, 3.0, np.inf, np.inf, -2.0, 1.0])
    np.testing.assert_array_equal(lo.ranks(v), scipy.stats.rankdata(v))
    assert lo.ranks([5.0]).tolist() == [1.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=12).flatmap(
        lambda a: st.tuples(
            st.just(a), st.lists(st.integers(0, 5), min_size=len(a), max_size=len(a))
        )
    )
)
def test_spearman_matches_scipy_with_ties(pair):
    # ties are frequent with values in 0..5: average ranks on both sides, as scipy
    a, b = (np.asarray(x, float) for x in pair)
    ours = lo.spearman(a, b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        assert math.isnan(ours)  # undefined, scipy returns NaN with a warning
        return
    assert ours == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-10)


def test_spearman_ranks_inf_last_and_known_values():
    # a component never learned (inf) ranks after every finite time
    assert lo.spearman([1.0, 2.0, np.inf], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert lo.spearman([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]) == -1.0
    # one adjacent swap among 6: 1 - 6*2/(6*35)
    assert lo.spearman([1, 2, 3, 5, 4, 6], np.arange(6.0)) == pytest.approx(33 / 35)


def test_rank_inputs_are_validated():
    with pytest.raises(ValueError, match="NaN"):
        lo.ranks([1.0, np.nan])
    with pytest.raises(TypeError, match="values must be real numbers, not bool"):
        lo.ranks([True, False])
    with pytest.raises(TypeError, match="values must hold real numbers"):
        lo.ranks(["a"])
    with pytest.raises(TypeError, match="learnability"):
        lo.learned_times([0.0, 1.0], [["a"], ["b"]])
    with pytest.raises(ValueError, match="1-d"):
        lo.ranks(np.ones((2, 2)))
    with pytest.raises(ValueError, match="same length"):
        lo.spearman([1.0, 2.0], [1.0, 2.0, 3.0])


# --- learned times ------------------------------------------------------------------


def test_learned_time_of_exponential_learning_is_ln2_over_lambda():
    # L = 1 - exp(-lambda t) crosses 1/2 at ln 2 / lambda; linear interpolation on
    # a grid of step h errs by at most lambda h^2 / 8 (curvature), < 1e-4 here
    t = np.linspace(0.0, 50.0, 5001)
    lam = np.array([2.0, 0.5, 0.1])
    times = lo.learned_times(t, 1 - np.exp(-np.outer(t, lam)))
    np.testing.assert_allclose(times, np.log(2) / lam, rtol=1e-4)
    # threshold 0.9: ln 10 / lambda
    times = lo.learned_times(t, 1 - np.exp(-np.outer(t, lam)), threshold=0.9)
    np.testing.assert_allclose(times, np.log(10) / lam, rtol=1e-4)


def test_learned_time_edge_cases():
    t = np.array([0.0, 1.0, 2.0])
    lv = np.array([[0.6, 0.0, 0.0], [0.7, 0.3, np.nan], [0.8, 0.7, np.nan]])
    times = lo.learned_times(t, lv)
    assert times[0] == 0.0  # reached at the first record
    assert times[1] == pytest.approx(1.5)  # 0.3 -> 0.7 crosses 0.5 half-way
    assert times[2] == np.inf  # NaN (diverged) never counts
    with pytest.raises(ValueError, match="increasing"):
        lo.learned_times([0.0, 0.0, 1.0], lv)
    with pytest.raises(ValueError, match="threshold"):
        lo.learned_times(t, lv, threshold=1.0)
    with pytest.raises(ValueError, match=r"\(T, K\)"):
        lo.learned_times(t[:2], lv)


# --- the HEA prediction -------------------------------------------------------------


def test_predicted_eigenvalues_are_level_coefficient_times_gamma_products():
    # c_|nu| prod gamma^nu with c_l = e^{-q/s^2} s^{-2l}: the lookup into
    # hermite.predict_eigenvalues must return each component's own eigenvalue
    c = hermite.rbf_level_coefficients(CFG.q, CFG.bandwidth, CFG.max_degree)
    g = np.asarray(CFG.gammas)
    direct = [c[sum(nu)] * np.prod(g ** np.asarray(nu)) for nu in CFG.components]
    np.testing.assert_allclose(lo.predicted_eigenvalues(CFG), direct, rtol=1e-12)
    np.testing.assert_allclose(lo.predicted_times(CFG), np.log(2) / np.array(direct))


def test_exact_eigenvalues_match_a_quadrature_of_the_1d_kernel():
    # Mehler's formula against a Nystrom (Gauss-Hermite, 200 nodes) eigensolve of
    # exp(-(x-y)^2/(2 sigma_K^2)) under N(0, gamma): 1-d, exact to ~1e-10 for the
    # top modes; the d-dimensional eigenvalue is the product over coordinates
    gam, sig = 0.24, 2.0
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    x = np.sqrt(gam) * z
    k = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * sig**2))
    ev = np.sort(np.linalg.eigvalsh(np.sqrt(w)[:, None] * k * np.sqrt(w)))[::-1]
    cfg = lo.Config(
        gammas=(gam,),
        components=((1,), (2,), (3,)),
        bandwidth=sig,
    )
    np.testing.assert_allclose(lo.exact_eigenvalues(cfg), ev[1:4], rtol=1e-8)
    # and the HEA is its leading term: the ratio tends to 1 as sigma_K grows
    # (at sigma_K = 20 sqrt(tr Sigma) the degree-2 error is ~1%)
    wide = CFG.replace(bandwidth=20.0)
    ratio = lo.predicted_eigenvalues(wide) / lo.exact_eigenvalues(wide)
    np.testing.assert_allclose(ratio, 1.0, rtol=0.02)


def test_default_setting_discriminates_the_ansatz_from_degree_then_variance():
    # the calibrated setting: effective dimension >= 9 and sigma_K >= 2 sqrt(tr
    # Sigma) (the range for the ansatz), a strict predicted order with
    # every EXACT gap >= 1.6 (well separated), the same order from HEA and exact
    assert CFG.effective_dimension >= 9.0
    assert CFG.bandwidth >= 2 * math.sqrt(CFG.q)
    hea, exact = lo.predicted_eigenvalues(CFG), lo.exact_eigenvalues(CFG)
    assert lo.predicted_order(CFG).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert lo.ranks(-exact).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert np.all(exact[:-1] / exact[1:] >= 1.6)
    # the ansatz's own error here: 1.11, 1.05, 1.24, 1.17, 0.99, 0.99
    np.testing.assert_allclose(hea / exact, 1.0, atol=0.25)
    # cross-degree inversion: the two degree-2 components come before the two
    # weak linear ones, so "degree first, then variance" has Spearman 0.543
    degree = np.array([sum(nu) for nu in CFG.components])
    var = np.array(
        [np.prod(np.asarray(CFG.gammas) ** np.asarray(nu)) for nu in CFG.components]
    )
    trivial = lo.ranks(degree * 10 - var / var.max())  # degree, then variance
    assert lo.spearman(trivial, lo.predicted_order(CFG)) == pytest.approx(
        1 - 6 * 16 / 210
    )


def test_clock_is_the_geometric_mean_ratio_over_learned_components():
    assert lo.clock([2.0, 8.0], [1.0, 2.0]) == pytest.approx(math.sqrt(8.0))
    assert lo.clock([3.0, np.inf], [1.0, 1.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="no finite"):
        lo.clock([np.inf], [1.0])
    with pytest.raises(ValueError, match="> 0"):
        lo.clock([0.0], [1.0])


def test_config_is_validated():
    with pytest.raises(ValueError, match="tuple of 16 ints"):
        lo.Config(components=((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="degree >= 1"):
        lo.Config(components=((0,) * 16, (1,) + (0,) * 15))
    with pytest.raises(ValueError, match="distinct"):
        lo.Config(components=((1,) + (0,) * 15,) * 2)
    with pytest.raises(ValueError, match="record_every must divide"):
        lo.Config(steps=10, record_every=3)
    with pytest.raises(ValueError, match="threshold"):
        lo.Config(threshold=1.5)
    with pytest.raises(ValueError, match="lr"):
        lo.Config(lr=float("nan"))
    with pytest.raises(TypeError, match="lr"):
        lo.Config(lr=True)
    with pytest.raises(ValueError, match="gammas"):
        lo.Config(gammas=(1.0, -1.0) + (1.0,) * 14)
    with pytest.raises(TypeError, match="cfg"):
        lo.predicted_eigenvalues(object())
    with pytest.raises(ValueError, match="kernel"):
        lo.kernel_flow(jax.random.key(0), SMALL, "laplace")
    with pytest.raises(ValueError, match="activation"):
        lo.train_mlp(jax.random.key(0), SMALL, "gelu")
    with pytest.raises(TypeError, match="key"):
        lo.make_task(0, SMALL)


# --- simulations ----------------------------------------------------------------------


def test_task_target_is_the_sum_of_its_hermite_components():
    task = lo.make_task(jax.random.key(1), SMALL)
    z = task.x_train / np.sqrt(np.asarray(SMALL.gammas))
    feats = hermite.hermite_features(z, np.asarray(SMALL.components))
    np.testing.assert_allclose(task.y_train, feats.sum(1), rtol=1e-12)
    assert task.features_test.shape == (SMALL.num_test, len(SMALL.components))


def test_kernel_flow_interpolates_the_training_data_at_long_times():
    # the closed form: loss 1/(2P) sum_j e^{-2 mu_j t} (u_j.y)^2 falls to ~0 once
    # mu_min t >> 1, and matches a direct Euler integration of the flow (step
    # 1e-3 / mu_max: Euler error ~1e-3 relative)
    key = jax.random.key(2)
    cfg = SMALL.replace(num_train=24)
    t = np.array([0.0, 1.0, 5.0])
    flow = lo.kernel_flow(key, cfg, "rbf", t)
    task = lo.make_task(key, cfg)
    k = hermite.rbf_kernel(task.x_train, bandwidth=cfg.bandwidth)
    dt = 1e-3 / np.linalg.eigvalsh(k / 24).max()
    f = np.zeros(24)
    for _ in range(int(round(5.0 / dt))):
        f -= dt * k @ (f - task.y_train) / 24
    loss_euler = 0.5 * np.mean((f - task.y_train) ** 2)
    assert flow.loss[0] == pytest.approx(0.5 * np.mean(task.y_train**2))
    assert flow.loss[2] == pytest.approx(loss_euler, rel=5e-3)
    assert np.all(np.diff(flow.loss) < 0)


def test_networks_train_in_both_precisions():
    # tiny runs: finite, decreasing loss, learnability 0 at t = 0 by definition
    for act in ("relu", "tanh"):
        c = lo.train_mlp(jax.random.key(3), SMALL, act)
        assert not c.diverged and np.all(np.isfinite(c.learnability))
        np.testing.assert_array_equal(c.learnability[0], 0.0)
        assert c.loss[-1] < c.loss[0]
        np.testing.assert_allclose(c.t, SMALL.lr * np.arange(SMALL.steps + 1))


def test_a_diverging_network_is_a_result():
    # lr = 50 is far beyond 2 / lambda_max of the NTK (lambda_max ~ 6): the run
    # stops, later records are NaN and no component counts as learned from them
    c = lo.train_mlp(jax.random.key(0), SMALL.replace(lr=50.0), "relu")
    assert c.diverged and c.diverged_step > 0
    times = lo.learned_times(c.t, c.learnability)
    assert times.shape == (6,)


@pytest.mark.statistical
def test_learned_times_are_stable_in_the_number_of_held_out_points():
    # the coefficients are a least-squares fit on the target's features, so
    # there is no cross-talk between components; what is left is the learned
    # function's part outside them, small. 4,000 (the default) against 32,000
    # held-out points, same training sample: every learned time within 5%
    # (measured: <= 2% at 5,000 against 40,000, kernels and networks; the
    # 2,000-point Monte Carlo average of the first version moved them by 25-35%)
    key = jax.random.key(1)
    for kernel in ("rbf", "ntk"):
        base = lo.kernel_flow(key, CFG, kernel)
        more = lo.kernel_flow(key, CFG.replace(num_test=32000), kernel)
        t4 = lo.learned_times(base.t, base.learnability)
        t32 = lo.learned_times(more.t, more.learnability)
        np.testing.assert_allclose(t4, t32, rtol=0.05, err_msg=kernel)


@pytest.mark.statistical
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_learners_follow_the_predicted_order(seed):
    # The test: Spearman >= 0.8 between each learner's order and the HEA
    # order, on a target where "degree first, then variance" scores 0.54, so the
    # bar cannot be passed without the cross-degree inversion. Measured (P =
    # 1000, centred width-256 nets, 2400 GD steps at lr 0.25, 4,000 held-out
    # points), seeds 0-4 x 4 learners x {float32, float64}: rho = 1 in all 40.
    # Margin: one swap of neighbours gives 0.943, two 0.886.
    # (the run is the book's scorecard's, lm_sims.predictions; seed 0 is its row)
    assert CFG == lo.Config()
    res = predictions._compare_orders(seed)
    if seed == 0:
        row = predictions.run("learning-order")
        assert row.passed, row
    assert np.all(res.spearman >= 0.8), dict(
        zip(res.architectures, res.spearman, strict=True)
    )
    # the inversion itself, learner by learner: z1 z2 (degree 2) is learned
    # before z15 (degree 1); measured t(z15)/t(z1 z2) >= 2.0 at seeds 0-4
    assert np.all(res.times[:, 3] < res.times[:, 4]), res.times
    # the kernels and the ReLU net learn all six within their runs; the tanh
    # net's last component may not be reached (it would rank last, as predicted)
    assert np.all(np.isfinite(res.times[[0, 2, 3]])), res.times
