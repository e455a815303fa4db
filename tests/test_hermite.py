"""Tests of lm_sims.hermite: the Hermite eigenstructure ansatz (HEA)."""

import math

import jax
import numpy as np
import pytest

from lm_sims import hermite


def test_multi_indices_count_and_order():
    nu = hermite.multi_indices(3, 4)
    assert nu.shape == (math.comb(7, 4), 3)
    assert len({tuple(r) for r in nu}) == nu.shape[0]  # no repeats
    assert np.all(np.diff(nu.sum(1)) >= 0)  # ordered by degree
    assert nu.dtype == np.int64 and nu.min() == 0 and nu.sum(1).max() == 4


def test_hermite_features_match_closed_forms():
    z = np.linspace(-2.0, 2.0, 7)[:, None]
    feats = hermite.hermite_features(z, [[0], [1], [2], [3], [4]])
    x = z[:, 0]
    expect = np.stack(
        [np.ones_like(x), x, (x**2 - 1) / np.sqrt(2), (x**3 - 3 * x) / np.sqrt(6)]
        + [(x**4 - 6 * x**2 + 3) / np.sqrt(24)],
        axis=1,
    )
    np.testing.assert_allclose(feats, expect, rtol=1e-12, atol=1e-12)


def test_hermite_features_orthonormal_under_gaussian():
    # Monte Carlo Gram matrix of 15 modes (degree <= 2 in 4 dims) on 200k Gaussian
    # points: each entry has sampling sd <= sqrt(E h^4 / P) ~ 3 / sqrt(2e5) ~ 0.007,
    # so 0.04 (about 6 sd) fails only if the polynomials are not orthonormal.
    z = np.random.default_rng(0).normal(size=(200_000, 4))
    phi = hermite.hermite_features(z, hermite.multi_indices(4, 2))
    gram = phi.T @ phi / z.shape[0]
    assert np.max(np.abs(gram - np.eye(gram.shape[0]))) < 0.04


def test_rbf_level_coefficients_formula():
    c = hermite.rbf_level_coefficients(3.0, 4.0, 5)
    expect = np.exp(-3.0 / 16.0) * 16.0 ** -np.arange(6)
    np.testing.assert_allclose(c, expect, rtol=1e-14)


def test_predict_eigenvalues_matches_brute_force():
    gam = np.array([0.3, 1.0, 0.05, 0.6])  # unsorted on purpose
    c = np.array([1.0, 0.9, 0.2, 0.5, 0.01])  # non-geometric levels
    lam, nu = hermite.predict_eigenvalues(gam, c, 40)
    every = hermite.multi_indices(4, 4)
    brute = c[every.sum(1)] * np.prod(gam**every, axis=1)
    np.testing.assert_allclose(lam, np.sort(brute)[::-1][:40], rtol=1e-12)
    # each returned index gives its eigenvalue
    np.testing.assert_allclose(lam, c[nu.sum(1)] * np.prod(gam**nu, axis=1), rtol=1e-12)
    assert len({tuple(r) for r in nu}) == 40
    # asking for more than exist returns all of them
    lam_all, _ = hermite.predict_eigenvalues(gam, c, 10**4)
    assert lam_all.size == every.shape[0]


def test_predict_eigenvalues_zero_gamma_and_zero_level():
    lam, nu = hermite.predict_eigenvalues([1.0, 0.0], [1.0, 0.0, 0.5], 10)
    assert np.all(lam > 0) and np.all(nu[:, 1] == 0)  # gamma 0 and c_1 = 0 drop out
    assert nu.sum(1).tolist() == [0, 2]


def test_fit_coefficients_recovers_a_polynomial():
    # An exact polynomial: the orthonormalised modes span it, so nothing is left
    # over (to round-off), and on 20k Gaussian samples psi_nu ~ h_nu, so the
    # coefficients approach the true ones (sampling error ~ 1/sqrt(P) ~ 0.01 per
    # unit of power; 0.06 is ~5 sd for this target's power ~ 11).
    z = np.random.default_rng(1).normal(size=(20_000, 3))
    nu = hermite.multi_indices(3, 3)
    v_true = np.random.default_rng(2).normal(size=nu.shape[0])
    y = hermite.hermite_features(z, nu) @ v_true
    v, rest = hermite.fit_coefficients(z, y, nu)
    assert rest < 1e-9 * np.mean(y**2)
    np.testing.assert_allclose(np.sum(v**2), np.mean(y**2), rtol=1e-9)
    assert np.max(np.abs(v - v_true)) < 0.2
    assert np.linalg.norm(v - v_true) / np.linalg.norm(v_true) < 0.06


def test_fit_coefficients_gram_schmidt_order_and_leftover():
    # Non-Gaussian z: h_0 = 1 and h_2 = (z^2 - 1)/sqrt(2) overlap on uniform z;
    # in this order the first mode takes the mean, the second only the rest.
    z = np.linspace(-1.0, 1.0, 2001)[:, None]
    y = z[:, 0] ** 2
    v, rest = hermite.fit_coefficients(z, y, [[0], [2]])
    assert abs(v[0] - np.mean(y)) < 1e-12  # psi_0 = 1
    assert rest < 1e-12
    v1, rest1 = hermite.fit_coefficients(z, y, [[0]])
    assert abs(rest1 - np.var(y)) < 1e-12  # the leftover is what mode 0 misses
    with pytest.raises(ValueError, match="linearly independent"):
        hermite.fit_coefficients(z, y, [[1], [1]])


def test_empirical_rbf_eigenvalues_match_hea_small():
    # Fast version of the check (the statistical tier has the full one):
    # anisotropic Gaussian data in d = 12, s = 2 sqrt(q); top-10 eigenvalues of
    # K/N (N = 1500) over the HEA prediction within [0.85, 1.1] (N^-1/2 sampling
    # error of the Gram spectrum ~ 3%, plus the ansatz's O(1/d_eff) error).
    d, n = 12, 1500
    gam = np.arange(1, d + 1) ** -0.5
    gam = gam / gam.sum()  # q = 1
    x = np.random.default_rng(3).normal(size=(n, d)) * np.sqrt(gam)
    s = 2.0
    k_emp = np.linalg.eigvalsh(hermite.rbf_kernel(x, bandwidth=s) / n)[::-1]
    lam, _ = hermite.predict_eigenvalues(
        gam, hermite.rbf_level_coefficients(1.0, s, 6), 10
    )
    ratio = k_emp[:10] / lam
    assert np.all((ratio > 0.85) & (ratio < 1.1)), ratio


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: hermite.multi_indices(0, 2), ValueError),
        (lambda: hermite.multi_indices(2, -1), ValueError),
        (lambda: hermite.multi_indices(True, 2), TypeError),
        (lambda: hermite.multi_indices(2.0, 2), TypeError),
        (lambda: hermite.multi_indices(200, 6), ValueError),
        (lambda: hermite.hermite_features([[np.nan]], [[1]]), ValueError),
        (lambda: hermite.hermite_features([[1.0]], [[-1]]), ValueError),
        (lambda: hermite.hermite_features([[1.0]], [[1.0]]), TypeError),
        (lambda: hermite.hermite_features([[1.0]], [[1, 0]]), ValueError),
        (lambda: hermite.hermite_features([[True]], [[1]]), TypeError),
        (lambda: hermite.hermite_features("z", [[1]]), TypeError),
        (lambda: hermite.hermite_features([1.0], [[1]]), ValueError),
        (lambda: hermite.hermite_features([[1j]], [[1]]), TypeError),
        (lambda: hermite.rbf_level_coefficients(-1.0, 1.0, 2), ValueError),
        (lambda: hermite.rbf_level_coefficients(1.0, 0.0, 2), ValueError),
        (lambda: hermite.rbf_level_coefficients(np.nan, 1.0, 2), ValueError),
        (lambda: hermite.rbf_level_coefficients(1.0, True, 2), TypeError),
        (lambda: hermite.rbf_level_coefficients(1.0, 1.0, 2.5), TypeError),
        (lambda: hermite.predict_eigenvalues([1.0, -1.0], [1.0], 3), ValueError),
        (lambda: hermite.predict_eigenvalues([0.0, 0.0], [1.0], 3), ValueError),
        (lambda: hermite.predict_eigenvalues([1.0], [1.0, np.inf], 3), ValueError),
        (lambda: hermite.predict_eigenvalues([1.0], [-1.0], 3), ValueError),
        (lambda: hermite.predict_eigenvalues([1.0], [1.0], 0), ValueError),
        (lambda: hermite.predict_eigenvalues([[1.0]], [1.0], 1), ValueError),
        (lambda: hermite.predict_eigenvalues(None, [1.0], 1), TypeError),
        (lambda: hermite.predict_eigenvalues([1.0], [True], 1), TypeError),
        (lambda: hermite.rbf_kernel([[1.0]], [[1.0, 2.0]], bandwidth=1.0), ValueError),
        (lambda: hermite.fit_coefficients([[1.0]], [1.0, 2.0], [[0]]), ValueError),
        (lambda: hermite.fit_coefficients([[1.0]], [1.0], [[0], [1]]), ValueError),
    ],
)
def test_invalid_inputs_raise(call, err):
    with pytest.raises(err):
        call()


def test_accepts_jax_arrays():
    z = jax.numpy.ones((3, 2))
    assert hermite.hermite_features(z, [[1, 1]]).dtype == np.float64


def test_rbf_hea_trace_is_one_to_second_order():
    # The page's exercise: sum_nu c_|nu| prod gamma^nu = e^{-q/s^2} prod (1 -
    # gamma_i/s^2)^-1 = 1 + sum gamma_i^2 / (2 s^4) + O(s^-6). Summing the listed
    # modes (d = 3, degrees <= 30: the tail is < 1e-15) gives the closed form to
    # round-off, and its excess over E K(x, x) = 1 is the second-order term up
    # to the next order, sum gamma^3 / (3 s^6) (7% of it at s = 2 here).
    gam = np.array([0.5, 0.3, 0.2])
    for s in (2.0, 4.0):
        lam, _ = hermite.predict_eigenvalues(
            gam, hermite.rbf_level_coefficients(1.0, s, 30), 10**5
        )
        closed = np.exp(-1 / s**2) * np.prod(1 / (1 - gam / s**2))
        assert abs(lam.sum() - closed) < 1e-12
        lead = np.sum(gam**2) / (2 * s**4)
        third = np.sum(gam**3) / (3 * s**6)
        assert abs(closed - 1 - lead) < 1.5 * third, (s, closed - 1, lead, third)
        assert third < 0.1 * lead
