"""Tests of lm_sims.natural_data: Zipf's law, power-law spectra, and the Hermite
eigenstructure ansatz's learning curves (Section 5.2)."""

import jax
import numpy as np
import pytest

from lm_sims import eigenlearning, hermite, predictions
from lm_sims import natural_data as nd

# The settings of the page and the explorer (Gaussian data): d = 24 coordinates,
# gamma_i ∝ i^-0.5 with tr Σ_xx = sum gamma_i = 1 (effective dimension 18.9).
D, DECAY = 24, 0.5


# ---------------------------------------------------------------- Zipf -----------


def test_word_counts_and_rank_frequency_fit_on_exact_zipf():
    assert nd.word_counts("A a, b! A'b").tolist() == [3, 2]
    counts = np.round(1e5 / np.arange(1, 501) ** 1.1)
    fit = nd.rank_frequency_fit(counts, (1, 500))
    assert abs(fit.exponent + 1.1) < 0.01  # rounding of the counts only


def test_zipf_exponent_of_the_bundled_text():
    # Issue 9: |exponent| in [0.8, 1.2] over the stated range, ranks 1-1000 of the
    # ~3,100 distinct words of pydoc_data.topics (measured -1.05). The band is
    # the law's, not a sampling error: a 64k-word text fixes the counts. The
    # exponent drifts with the last rank, with no plateau (0.82 at 100, 1.15 at
    # 1,500, 1.25 at 2,000): the band holds for last ranks 100-1,500, not beyond.
    # Ranks 1-1,000 hold words seen at least 7 times (ranks 972-1,047 are tied at
    # 7): Poisson scatter <= 1/sqrt(7) = 38%; further out the counts are a
    # staircase of small integers.
    row = predictions.run("zipf-exponent")  # the scorecard's row
    assert row.passed, row
    counts = nd.word_counts(nd.bundled_text())
    assert counts.size > 2000 and counts.sum() > 50_000
    fit = nd.rank_frequency_fit(counts, nd.ZIPF_RANKS)
    assert nd.ZIPF_RANKS == (1, 1000)
    assert 0.8 <= -fit.exponent <= 1.2, fit.exponent
    assert counts[999] == 7 and 1000 <= np.flatnonzero(counts >= 7)[-1] < 1100
    drift = [-nd.rank_frequency_fit(counts, (1, r)).exponent for r in (100, 1500)]
    assert 0.8 <= drift[0] < -fit.exponent < drift[1] <= 1.2, drift
    assert -nd.rank_frequency_fit(counts, (1, 2000)).exponent > 1.2


# ---------------------------------------------------------------- spectra --------


def test_pca_spectrum_of_known_covariance():
    z = np.random.default_rng(0).normal(size=(50_000, 3))
    ev = nd.pca_spectrum(z * [3.0, 1.0, 2.0])
    # sampling error of a variance ~ sqrt(2 / P) ~ 0.6%; 3% is 5 sd
    np.testing.assert_allclose(ev, [9.0, 4.0, 1.0], rtol=0.03)


def test_spectrum_fit_recovers_a_power_law_within_its_interval():
    # Gaussian data with gamma_k = k^-1.5: the bootstrap interval over samples must
    # cover the true exponent (95% nominal; fixed key) and be narrow (P = 4000).
    x = np.random.default_rng(1).normal(size=(4000, 12)) * np.arange(1, 13) ** -0.75
    fit = nd.spectrum_fit(jax.random.key(0), x, (1, 12), num_bootstrap=200)
    low, high = fit.exponent_interval
    assert low < -1.5 < high and high - low < 0.15


def test_digits_spectrum_power_law_with_interval():
    # Issue 9: the digits PCA spectrum's power-law fit with its interval. Ranks
    # 1-40 (of 61 non-zero): exponent -1.35 measured; bias-corrected bootstrap
    # interval (-1.347, -1.326) over the 1,797 images. The band [-1.6, -1.1]
    # is for the fit range's arbitrariness (ranks 1-20 give -1.21, 5-40 give
    # -1.67); the interval's width < 0.1 says sampling is not the issue.
    x, _, gammas = nd.digits_hea()
    fit = nd.spectrum_fit(jax.random.key(0), x, nd.DIGITS_RANKS, num_bootstrap=200)
    low, high = fit.exponent_interval
    assert -1.6 < fit.exponent < -1.1
    assert low < high and high - low < 0.1
    assert abs(low - fit.exponent) < 0.05 and abs(high - fit.exponent) < 0.05
    np.testing.assert_allclose(nd.pca_spectrum(x)[:61], gammas, rtol=1e-9)


# ---------------------------------------------------------------- HEA ------------


def test_predict_learning_curve_is_eigenlearning_on_hea_modes():
    g = nd.power_law_gammas(D, DECAY)
    idx, v = nd.gaussian_target(D)
    e = nd.predict_learning_curve(g, 3.0, idx, v, [10, 100], num_modes=500)
    lam, nu = nd.hea_spectrum(g, 3.0, 500)
    vv = nd._coefficients_on(nu, idx, v)
    expect = [eigenlearning.predict_test_mse(lam, vv, n) for n in (10, 100)]
    np.testing.assert_allclose(e, expect, rtol=1e-12)
    with pytest.raises(ValueError, match="raise num_modes"):
        nd.predict_learning_curve(g, 3.0, idx, v, [10], num_modes=20)


def test_gaussian_learning_curve_one_mode_target():
    # Target z_0 alone: the error falls from ~1 (n small) to ~0; the zero predictor
    # has error = target power ~ 1 (1000 test points: +-5%).
    g = nd.power_law_gammas(D, DECAY)
    c = nd.gaussian_learning_curve(
        jax.random.key(0),
        g,
        3.0,
        [[1] + [0] * (D - 1)],
        [1.0],
        [2, 200],
        num_trials=2,
        num_test=1000,
        ridge=1e-8,
    )
    assert c.test_mse.shape == (2, 2)
    assert abs(c.target_power - 1.0) < 0.15
    assert c.mean[1] < 0.1 < 0.5 < c.mean[0]


@pytest.mark.statistical
def test_empirical_kernel_eigenvalues_match_hea():
    # Issue 9: top-20 eigenvalues of K/N over the HEA prediction in [0.85, 1.1]
    # with s = 2 (= 2 sqrt(q)) and effective dimension >= 9 (here 18.9). Error
    # sources: N = 2000 samples (Nystrom estimates of the spectrum, ~N^-1/2) and
    # the ansatz's O(q/s^2) corrections; measured ratios 0.93-1.06. Computed
    # and checked by the book's scorecard (lm_sims.predictions), the same calls.
    assert (D, DECAY) == (24, 0.5)
    row = predictions.run("hea-eigenvalues")
    assert row.passed, row


@pytest.mark.statistical
def test_gaussian_learning_curve_matches_hea_prediction():
    # Issue 9: predicted / measured KRR test MSE in [0.8, 1.25] at every n where
    # the measured error is >= 1% of the target power. Error sources: the trial
    # spread (96 trials for n <= 64, where ridgeless KRR's error is heavy-tailed;
    # 24 above: s.e.m. 2-5%), eigenlearning's finite-n error at n < ~10, and the
    # ansatz itself: on Gaussian data the true eigenfunctions and eigenvalues
    # differ from the Hermite ones at order gamma_i / sigma_K^2, an error that
    # grows with the mode's degree. Why s = 4 (sigma_K = 4 sqrt(tr Sigma_xx))
    # and not s = 2: at s = 2 (sigma_K^2 = 4 tr Sigma_xx) the n = 512 point, where
    # the target's last degree-3 components are being learned, falls to 0.61-0.75
    # over keys 0-3 (0.75 in the referee's independent run), outside the band;
    # at s = 3 it is 0.78-0.94, at s = 4 the ratio is 0.88-1.16 at every tested
    # n. The page shows the s = 2 ratios at every n; test_viz_natural_data
    # checks the s = 2 failure at n = 512 and its improvement with s.
    # Computed and checked by the book's scorecard (lm_sims.predictions), the same
    # calls, keys and band
    assert (D, DECAY) == (24, 0.5)
    row = predictions.run("hea-learning-curve")
    assert row.passed, row


@pytest.mark.statistical
def test_digits_learning_curve_matches_hea_prediction():
    # Issue 9: on the digits, predicted / measured in [0.75, 1.3] for n in
    # [10, 400]; larger n reported, not hidden (the page shows them). Target:
    # one-vs-rest digit 0; s = 2 = 2 sqrt(tr Sigma_xx); 500 fitted modes. Error
    # sources: the digits are not Gaussian (the ansatz's eigenvalues and
    # eigenfunctions are approximate), the in-sample coefficient fit, 24 trials
    # (s.e.m. ~5%). Measured ratios 0.82-1.13 for n <= 400. Beyond n ~ 400 the
    # prediction depends on the number of fitted modes (n = 800: about 1.5,
    # 1.0-1.2 and 0.6-0.7 for 300, 500 and 1,000 modes over three measurements),
    # so larger n are not tested.
    # Computed and checked by the book's scorecard (lm_sims.predictions), the same
    # calls, key and band (and 500 modes hold > 95% of the target's power)
    row = predictions.run("hea-digits-curve")
    assert row.passed, row


@pytest.mark.statistical
def test_digits_learning_curve_other_digits_and_mode_counts():
    # The n <= 400 agreement is not tuned to digit 0 or to 500 modes: digits 0, 3
    # and 8 as one-vs-rest targets, 400, 500 and 600 fitted modes, all within
    # the issue's [0.75, 1.3] (measured 0.83-1.12; 24 trials: s.e.m. ~5%; the
    # error sources as above). For n <= 400 the mode count barely matters (the
    # ratios move by < 0.1 between 400 and 600 modes, only at n = 400).
    ns = [10, 20, 40, 80, 160, 400]
    for digit in (0, 3, 8):
        y = nd.digits_target(digit)
        c = nd.digits_learning_curve(
            jax.random.key(0), y, 2.0, ns, num_trials=24, ridge=1e-8
        )
        ratios = []
        for modes in (400, 500, 600):
            pred, _ = nd.predict_digits_learning_curve(
                y, 2.0, ns, num_fit_modes=modes, ridge=1e-8
            )
            ratios.append(pred / c.mean)
        r = np.array(ratios)
        assert np.all((r >= 0.75) & (r <= 1.3)), (digit, r.round(3))
        assert np.all(np.abs(r[2] - r[0]) < 0.15), (digit, r.round(3))


# ---------------------------------------------------------------- validation -----


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: nd.word_counts(b"text"), TypeError),
        (lambda: nd.word_counts("123 !!"), ValueError),
        (lambda: nd.rank_frequency_fit([3, 2, 1], (1, 5)), ValueError),
        (lambda: nd.rank_frequency_fit([1, 2, 3], (1, 3)), ValueError),
        (lambda: nd.rank_frequency_fit([3, 2, 1], 3), TypeError),
        (lambda: nd.rank_frequency_fit([3.0, np.nan, 1.0], (1, 3)), ValueError),
        (lambda: nd.pca_spectrum([[1.0, 2.0]]), ValueError),
        (lambda: nd.pca_spectrum([[True, False], [False, True]]), TypeError),
        (lambda: nd.spectrum_fit(0, np.eye(5), (1, 3)), TypeError),
        (
            lambda: nd.spectrum_fit(
                jax.random.key(0), np.eye(5), (1, 3), num_bootstrap=10
            ),
            ValueError,
        ),
        (lambda: nd.power_law_gammas(0, 1.0), ValueError),
        (lambda: nd.power_law_gammas(4, -1.0), ValueError),
        (lambda: nd.hea_spectrum([1.0], 0.0, 3), ValueError),
        (lambda: nd.hea_spectrum([1.0], 1.0, 3, max_level=-1), ValueError),
        (lambda: nd.gaussian_data(jax.random.key(0), [1.0, 0.0], 3), ValueError),
        (lambda: nd.gaussian_data(jax.random.key(0), [1.0], 0), ValueError),
        (lambda: nd.kernel_eigenvalues(np.eye(3), 1.0, 4), ValueError),
        (lambda: nd.predict_learning_curve([1.0], 2.0, [[1]], [1.0], 5), TypeError),
        (lambda: nd.predict_learning_curve([1.0], 2.0, [[1]], [1.0], []), ValueError),
        (
            lambda: nd.predict_learning_curve([1.0, 1.0], 2.0, [[1]], [1.0], [2]),
            ValueError,
        ),
        (
            lambda: nd.predict_learning_curve([1.0], 2.0, [[1]], [1.0, 2.0], [2]),
            ValueError,
        ),
        (
            lambda: nd.predict_learning_curve([1.0], 2.0, [[1]], [1.0], [True]),
            TypeError,
        ),
        (
            lambda: nd.predict_learning_curve(
                [1.0], 2.0, [[1]], [1.0], [50], num_modes=40
            ),
            ValueError,
        ),
        (
            lambda: nd.predict_learning_curve(
                [1.0], 2.0, [[1]], [1.0], [2], ridge=-1.0
            ),
            ValueError,
        ),
        (
            lambda: nd.gaussian_learning_curve(
                jax.random.key(0), [1.0], 2.0, [[1]], [np.nan], [2]
            ),
            ValueError,
        ),
        (lambda: nd.digits_target(10), ValueError),
        (
            lambda: nd.digits_learning_curve(jax.random.key(0), np.zeros(5), 2.0, [10]),
            ValueError,
        ),
        (
            lambda: nd.digits_learning_curve(
                jax.random.key(0), nd.digits_target(0), 2.0, [1750]
            ),
            ValueError,
        ),
        (
            lambda: nd.predict_digits_learning_curve(
                nd.digits_target(0), 2.0, [10], num_fit_modes=100, num_modes=50
            ),
            ValueError,
        ),
    ],
)
def test_invalid_inputs_raise(call, err):
    with pytest.raises(err):
        call()


def test_hea_spectrum_matches_hermite_and_is_cached_safely():
    g = nd.power_law_gammas(6, 1.0)
    lam, nu = nd.hea_spectrum(g, 2.0, 30)
    c = hermite.rbf_level_coefficients(1.0, 2.0, 12)
    lam2, nu2 = hermite.predict_eigenvalues(g, c, 30)
    np.testing.assert_array_equal(nu, nu2)
    np.testing.assert_allclose(lam, lam2)
    lam[:] = 0.0  # a caller's edit must not reach the cache
    assert nd.hea_spectrum(g, 2.0, 30)[0][0] > 0
