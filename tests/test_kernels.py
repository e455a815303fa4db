"""Analytic NNGP / NTK kernels, signal propagation and linearised dynamics.

Each check compares lm_sims.kernels with an independent computation: numerical
quadrature of the Gaussian expectations, the book's two-layer formula, a Monte Carlo
of the book's network written out here, or the explicit gradient-descent iteration.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import _dual_kernels, kernels, mlp, power_law_fit, predictions
from lm_sims.kernels import Config

# --- independent references ----------------------------------------------------------

_NORMAL_CDF = np.frompyfunc(lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)), 1, 1)


def _normal_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _relu_expectations(q1, q2, k):
    """E[relu(u) relu(v)] and P(u > 0, v > 0) by 1-D integration (Simpson).

    With u = sqrt(q1) z1, v = sqrt(q2) (c z1 + s z2), the z2 integral is closed form
    (E[relu(m + s z)] = m Phi(m/s) + s phi(m/s)), leaving a smooth integral over
    z1 > 0, done on a fine grid.
    """
    c = k / math.sqrt(q1 * q2)
    s = math.sqrt(1.0 - c * c)
    z = np.linspace(0.0, 12.0, 24001)
    m = c * z
    cdf = _NORMAL_CDF(m / s).astype(float)
    inner = m * cdf + s * _normal_pdf(m / s)
    w = np.ones_like(z)  # Simpson weights
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= (z[1] - z[0]) / 3.0
    e = math.sqrt(q1 * q2) * np.sum(w * _normal_pdf(z) * z * inner)
    e_dot = np.sum(w * _normal_pdf(z) * cdf)
    return e, e_dot


def _gauss_hermite_2d(f, q1, q2, k, nodes=320):
    """E[f(u, v)] for (u, v) ~ N(0, [[q1, k], [k, q2]]) by Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    ww = np.outer(w, w)
    c = k / math.sqrt(q1 * q2)
    u = math.sqrt(q1) * z1
    v = math.sqrt(q2) * (c * z1 + math.sqrt(1 - c * c) * z2)
    return float(np.sum(ww * f(u, v)))


def _erf(x):
    with jax.enable_x64(True):  # XLA's float64 erf, accurate to ~1 ulp
        return np.asarray(jax.scipy.special.erf(np.asarray(x, np.float64)))


def _erf_prime(x):
    return 2.0 / math.sqrt(math.pi) * np.exp(-x * x)


def _two_inputs(d=5, cos=0.3, norms=(1.2, 0.7)):
    """Two inputs with |x|^2 = d * norm^2 and cosine `cos`."""
    e1, e2 = np.eye(d)[0], np.eye(d)[1]
    a = norms[0] * math.sqrt(d) * e1
    b = norms[1] * math.sqrt(d) * (cos * e1 + math.sqrt(1 - cos * cos) * e2)
    return np.stack([a, b])


# --- the kernels ---------------------------------------------------------------------


def test_acos_asin_match_numpy():
    # tolerance 1e-15 absolute (asin: 4 ulp relative): fdlibm's rational
    # approximation is accurate to ~2 ulp
    x = np.concatenate(
        [np.linspace(-1, 1, 200001), [-1, 1, 0.5, -0.5, np.nextafter(1, 0), 1e-300]]
    )
    with jax.enable_x64(True):
        acos = np.asarray(_dual_kernels._acos(jax.numpy.asarray(x)))
        asin = np.asarray(_dual_kernels._asin(jax.numpy.asarray(x)))
    assert np.max(np.abs(acos - np.arccos(x))) < 1e-15
    assert np.max(np.abs(asin - np.arcsin(x))) < 1e-15
    np.testing.assert_allclose(asin, np.arcsin(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("sigma_b2", [0.0, 0.3])
def test_one_layer_relu_kernels_match_integration(sigma_b2):
    # tolerance 1e-9: Simpson integration error on a 24001-point grid (~1e-12)
    x = _two_inputs()
    cfg = Config(depth=1, activation="relu", sigma_w2=1.7, sigma_b2=sigma_b2)
    d = x.shape[1]
    k1 = cfg.sigma_w2 * x @ x.T / d + sigma_b2  # layer-1 covariance
    e, e_dot = _relu_expectations(k1[0, 0], k1[1, 1], k1[0, 1])
    nngp_ref = cfg.sigma_w2 * e + sigma_b2
    ntk_ref = nngp_ref + cfg.sigma_w2 * e_dot * k1[0, 1]
    nngp, ntk = kernels.nngp_and_ntk(x, x, cfg)
    assert abs(float(nngp[0, 1]) - nngp_ref) < 1e-9
    assert abs(float(ntk[0, 1]) - ntk_ref) < 1e-9
    assert abs(float(nngp[0, 0]) - (cfg.sigma_w2 * k1[0, 0] / 2 + sigma_b2)) < 1e-12


@pytest.mark.parametrize("sigma_b2", [0.0, 0.3])
def test_one_layer_erf_kernels_match_quadrature(sigma_b2):
    # tolerance 1e-10: 320-node Gauss-Hermite quadrature of smooth integrands (erf
    # of a wide Gaussian is steep on the node scale: 80 nodes give only ~1e-6)
    x = _two_inputs(cos=-0.6)
    cfg = Config(depth=1, activation="erf", sigma_w2=2.5, sigma_b2=sigma_b2)
    d = x.shape[1]
    k1 = cfg.sigma_w2 * x @ x.T / d + sigma_b2
    q1, q2, k = k1[0, 0], k1[1, 1], k1[0, 1]
    e = _gauss_hermite_2d(lambda u, v: _erf(u) * _erf(v), q1, q2, k)
    e_dot = _gauss_hermite_2d(lambda u, v: _erf_prime(u) * _erf_prime(v), q1, q2, k)
    e_diag = _gauss_hermite_2d(lambda u, v: _erf(u) ** 2, q1, q2, k)
    nngp, ntk = kernels.nngp_and_ntk(x, x, cfg)
    assert abs(float(nngp[0, 1]) - (cfg.sigma_w2 * e + sigma_b2)) < 1e-10
    ntk_ref = cfg.sigma_w2 * e + sigma_b2 + cfg.sigma_w2 * e_dot * k
    assert abs(float(ntk[0, 1]) - ntk_ref) < 1e-10
    assert abs(float(nngp[0, 0]) - (cfg.sigma_w2 * e_diag + sigma_b2)) < 1e-10


def test_linear_network_kernels_are_closed_form():
    # exact up to rounding: a deep linear net's NNGP is (sigma_w2)^(L+1) x.x'/d
    # (no bias) and its NTK is (L + 1) times that
    x = np.random.default_rng(0).normal(size=(4, 3))
    cfg = Config(depth=3, activation="linear", sigma_w2=1.3)
    nngp, ntk = kernels.nngp_and_ntk(x, x, cfg)
    ref = 1.3**4 * x @ x.T / 3
    np.testing.assert_allclose(nngp, ref, rtol=1e-12)
    np.testing.assert_allclose(ntk, 4 * ref, rtol=1e-12)


def test_two_layer_relu_sphere_formula():
    # the general recursion at depth 1, sigma_w2 = 1, no bias, inputs sqrt(d) * (unit
    # vectors) must reproduce the book's closed form. Tolerance 1e-13 where |u| < 0.999;
    # 1e-8 at u = +-1, where Theta has a square-root singularity and the 1e-16
    # rounding of the cosine computed from the inputs moves Theta by ~1e-8
    d = 6
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = np.concatenate([x, -x[:3], x[:3]])  # u = -1 and u = +1
    cfg = Config(depth=1, activation="relu", sigma_w2=1.0, sigma_b2=0.0)
    gram = np.asarray(kernels.ntk(math.sqrt(d) * x, None, cfg))
    u = np.clip(x @ x.T, -1, 1)
    book = (np.sqrt(1 - u**2) + 2 * u * (np.pi - np.arccos(u))) / (2 * np.pi)
    inner = np.abs(u) < 0.999
    np.testing.assert_allclose(gram[inner], book[inner], rtol=0, atol=1e-13)
    np.testing.assert_allclose(gram, book, rtol=0, atol=1e-8)
    np.testing.assert_allclose(kernels.ntk_relu_sphere(u), book, rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        kernels.ntk_relu_sphere([1.0, 0.0, -1.0]), [1.0, 1 / (2 * np.pi), 0.0]
    )


def test_two_layer_sphere_formula_matches_book_network():
    # Monte Carlo of f = n^-1/2 sum_i a_i relu(w_i . x) (written out here, not
    # lm_sims.mlp): its empirical NTK is an average of n iid terms, so it must match
    # within 4 standard errors of that average (sampling error only)
    n, d = 200_000, 5
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w = rng.normal(size=(n, d))
    a = rng.normal(size=n)
    pre = w @ x.T  # (n, 4)
    act, step = np.maximum(pre, 0), (pre > 0).astype(float)
    terms = act[:, :, None] * act[:, None, :] + (a**2)[:, None, None] * (
        step[:, :, None] * step[:, None, :] * (x @ x.T)[None]
    )
    mean = terms.mean(axis=0)
    stderr = terms.std(axis=0) / math.sqrt(n)
    theory = np.asarray(kernels.ntk_relu_sphere(x @ x.T))
    assert np.all(np.abs(mean - theory) <= 4 * stderr + 1e-12)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_kernels_are_safe_at_plus_minus_one(activation):
    # x' = x, x' = -x, x' = (1 + 1e-15) x (a correlation rounded past 1, clipped) and
    # x = 0 must give finite values; the diagonal must equal nngp_diag (tolerance
    # 1e-13, rounding); Gram matrices are symmetric positive semi-definite
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4))
    x = np.concatenate([x, -x[:2], x[:2] * (1 + 1e-15), np.zeros((1, 4))])
    cfg = Config(depth=3, activation=activation, sigma_w2=2.0, sigma_b2=0.0)
    nngp, ntk = (np.asarray(g) for g in kernels.nngp_and_ntk(x, x, cfg))
    assert np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk))
    diag = np.asarray(kernels.nngp_diag(x, cfg))
    np.testing.assert_allclose(np.diag(nngp), diag, rtol=1e-13, atol=0)
    assert diag[-1] == 0.0  # zero input, no bias: zero output variance, exactly
    np.testing.assert_allclose(nngp, nngp.T, rtol=1e-13, atol=1e-15)
    for gram in (nngp, ntk):
        assert np.linalg.eigvalsh(gram).min() > -1e-12 * np.abs(gram).max()
    np.testing.assert_allclose(np.diag(nngp[:2, 7:9]), diag[:2], rtol=1e-13)
    # one hidden layer: relu(z) relu(-z) = 0, and erf is odd, so K(x, -x) = -K(x, x)
    one = Config(depth=1, activation=activation, sigma_w2=2.0, sigma_b2=0.0)
    k_opp = np.diag(np.asarray(kernels.nngp(x[:2], x[5:7], one)))
    want = 0.0 * k_opp if activation == "relu" else -kernels.nngp_diag(x[:2], one)
    np.testing.assert_allclose(k_opp, want, rtol=1e-13, atol=1e-15)


def test_gram_blocks_and_rectangular_shapes():
    # the tiled Gram computation must not depend on how rows are split
    # (n1 = 1000 with n2 = 300 uses two tiles of 512 x 300, the second shifted back
    # to overlap the first)
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=(1000, 3)), rng.normal(size=(300, 3))
    cfg = Config(depth=2, activation="erf", sigma_w2=1.5, sigma_b2=0.2)
    a = np.asarray(kernels.ntk(x1, x2, cfg))
    assert a.shape == (1000, 300)
    # tolerance 1e-12 relative + 1e-14 absolute: a different block split changes
    # the matmul's rounding, and small entries come from cancellation
    np.testing.assert_allclose(
        a[:7], kernels.ntk(x1[:7], x2, cfg), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_tiled_gram_matches_one_tile_and_is_symmetric(activation):
    # Tiles of 16 (edge tiles shifted back to overlap; with x2 = x1 only the upper
    # tiles, each written with its transpose) against one tile of the whole matrix.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 5))
    x[9] = x[2]  # a repeated input: its off-diagonal entry is on the length map
    args = dict(depth=3, activation=activation)
    with jax.enable_x64(True):
        xj, y = jnp.asarray(x), jnp.asarray(x.copy())
        sw2, sb2 = jnp.float64(1.7), jnp.float64(0.1)
        for want in ("nngp", "ntk", "both"):
            one = _dual_kernels._gram(
                xj, xj, sw2, sb2, **args, want=want, same=True, tile=70
            )
            for same, x2 in ((True, xj), (False, y)):
                tiled = _dual_kernels._gram(
                    xj, x2, sw2, sb2, **args, want=want, same=same, tile=16
                )
                for a, b in zip(
                    jax.tree_util.tree_leaves(tiled),
                    jax.tree_util.tree_leaves(one),
                    strict=True,
                ):
                    a, b = np.asarray(a), np.asarray(b)
                    if same:  # mirrored tiles; diagonal tiles round to an ulp
                        np.testing.assert_allclose(a, a.T, rtol=2e-15, atol=1e-16)
                    # 1e-13 relative (the bound for restructuring): a mirrored
                    # tile is the transposed matrix product, a few ulp apart
                    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_gram_memory_estimate_bounds_the_size():
    # The estimate counts the outputs (written in place, tile by tile), the inputs and
    # one tile's intermediates: 16,384 inputs fit the default 4 GiB for one kernel
    # (2 GiB), not for both (4 GiB of outputs).
    check = _dual_kernels._check_budget
    check("ntk", 16384, 16384, 64, 3, 1, None, None)
    with pytest.raises(ValueError, match="max_bytes"):
        check("nngp_and_ntk", 16384, 16384, 64, 3, 2, None, None)
    # an absurd size is refused before anything is allocated (a 320 GB result)
    x = np.zeros((200_000, 1))
    with pytest.raises(ValueError, match="max_bytes"):
        kernels.ntk(x, None, Config(depth=1))


def test_nngp_and_ntk_accept_mlp_like_configs():
    # any object with depth / activation / sigma_w2 / sigma_b2 works
    class Net:
        depth, activation, sigma_w2, sigma_b2, width = 2, "relu", 2.0, 0.1, 64

    x = np.random.default_rng(5).normal(size=(3, 2))
    np.testing.assert_array_equal(
        kernels.ntk(x, x, Net()), kernels.ntk(x, x, Config(2, "relu", 2.0, 0.1))
    )


# --- signal propagation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2",
    [("relu", 1.5, 0.2), ("erf", 3.0, 0.05), ("erf", 0.5, 0.0), ("linear", 0.8, 0.1)],
)
def test_length_map_and_fixed_point(activation, sigma_w2, sigma_b2):
    # tolerance 1e-10: 320-node Gauss-Hermite quadrature of E[phi(sqrt(q) z)^2]
    # (1e-3 for relu, whose kink at 0 slows it); q* must be a fixed point of the map
    # to bisection accuracy
    cfg = Config(depth=1, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    phi = {"relu": lambda z: np.maximum(z, 0), "erf": _erf, "linear": lambda z: z}
    z, w = np.polynomial.hermite_e.hermegauss(320)
    w = w / w.sum()
    for q in (0.3, 1.0, 4.0):
        ref = sigma_w2 * np.sum(w * phi[activation](math.sqrt(q) * z) ** 2) + sigma_b2
        tol = 1e-3 if activation == "relu" else 1e-10
        assert abs(float(kernels.length_map(q, cfg)) - ref) < tol * max(1, ref)
    q_star = kernels.length_fixed_point(cfg)
    assert abs(float(kernels.length_map(q_star, cfg)) - q_star) < 1e-12
    if activation == "erf" and sigma_b2 == 0.0:
        assert q_star < 1e-12  # sigma_w2 < pi/4: the ordered phase collapses to 0


def test_fixed_point_diverges_above_criticality():
    assert kernels.length_fixed_point(Config(activation="relu", sigma_w2=2.5)) == (
        math.inf
    )
    q = kernels.length_fixed_point(Config(activation="relu", sigma_w2=1.0, sigma_b2=1))
    assert q == pytest.approx(2.0)


@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2",
    [("relu", 2.0, 0.0), ("relu", 1.2, 0.3), ("erf", 1.0, 0.05), ("erf", 4.0, 0.05)],
)
def test_chi_is_slope_of_correlation_map_at_one(activation, sigma_w2, sigma_b2):
    # tolerance: finite-difference slope over 1 - c = 1e-7; the map's next term is
    # (1 - c)^(3/2) for ReLU (error ~3e-4) and (1 - c)^2 for erf (~1e-6)
    cfg = Config(depth=1, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    eps = 1e-7
    c1 = float(kernels.correlation_map(1.0, cfg))
    slope = (c1 - float(kernels.correlation_map(1.0 - eps, cfg))) / eps
    assert c1 == pytest.approx(1.0, abs=1e-12)  # c = 1 is always a fixed point
    tol = 1e-3 if activation == "relu" else 1e-5
    assert slope == pytest.approx(kernels.chi(cfg), rel=tol)
    if activation == "relu":
        assert kernels.chi(cfg) == pytest.approx(sigma_w2 / 2)


@pytest.mark.parametrize("sigma_w2", [1.5, 2.0, 2.5])
def test_relu_without_bias_map_has_slope_one_whatever_chi(sigma_w2):
    # the chi docstring's exception: ReLU with sigma_b2 = 0 has q* = 0 or inf
    # (except at sigma_w2 = 2); its map of normalised correlations has slope 1 at
    # c = 1 for every sigma_w2 (ReLU's (1 - c)^(3/2) term: ~3e-4 at 1 - c = 1e-7),
    # while chi = sigma_w2 / 2, the slope only at the critical sigma_w2 = 2
    cfg = Config(depth=1, activation="relu", sigma_w2=sigma_w2, sigma_b2=0.0)
    eps = 1e-7
    slope = (1.0 - float(kernels.correlation_map(1.0 - eps, cfg))) / eps
    assert slope == pytest.approx(1.0, rel=1e-3)
    assert kernels.chi(cfg) == pytest.approx(sigma_w2 / 2)


def test_order_to_chaos_transition_erf():
    # erf with sigma_b2 = 0: q* = 0 and chi = 4 sigma_w2 / pi up to sigma_w2 = pi/4,
    # chaos (chi > 1 at q* > 0) above
    crit = Config(activation="erf", sigma_w2=math.pi / 4, sigma_b2=0.0)
    assert kernels.chi(crit) == pytest.approx(1.0, rel=1e-9)
    chaotic = Config(activation="erf", sigma_w2=3.0, sigma_b2=0.0)
    assert kernels.length_fixed_point(chaotic) > 0.1
    assert kernels.chi(chaotic) > 1.0
    ordered = Config(activation="erf", sigma_w2=0.5, sigma_b2=0.5)
    assert kernels.chi(ordered) < 1.0


def test_gram_recursion_agrees_with_correlation_map():
    # exact up to rounding: inputs whose layer-1 length is the fixed point q* keep
    # it, so the depth-L NNGP between them is q* times the L-fold correlation map
    cfg = Config(depth=4, activation="erf", sigma_w2=2.0, sigma_b2=0.1)
    q_star = kernels.length_fixed_point(cfg)
    d = 3
    r = math.sqrt((q_star - cfg.sigma_b2) * d / cfg.sigma_w2)  # |x| giving q*
    x = r * np.array([[1.0, 0, 0], [0.6, 0.8, 0]])
    c = (cfg.sigma_w2 * x[0] @ x[1] / d + cfg.sigma_b2) / q_star
    for _ in range(cfg.depth):
        c = kernels.correlation_map(c, cfg)
    gram = np.asarray(kernels.nngp(x, x, cfg))
    assert gram[0, 0] == pytest.approx(q_star, rel=1e-12)
    assert gram[0, 1] == pytest.approx(q_star * float(c), rel=1e-12)


def test_relu_correlation_map_is_scale_free_without_bias():
    cfg = Config(activation="relu", sigma_w2=3.0, sigma_b2=0.0)  # q* = inf
    c = np.linspace(-1, 1, 9)
    a = np.asarray(kernels.correlation_map(c, cfg))
    np.testing.assert_allclose(
        a, kernels.correlation_map(c, cfg, q=0.37), rtol=1e-14, atol=1e-16
    )
    theta = np.arccos(c)  # Cho & Saul's normalised arc-cosine map
    ref = (np.sin(theta) + (np.pi - theta) * c) / np.pi
    np.testing.assert_allclose(a, ref, rtol=1e-13, atol=1e-16)


# --- linearised dynamics -------------------------------------------------------------


def _toy_problem(num_train=6, num_test=4, k=2, seed=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_train + num_test, 3))
    cfg = Config(depth=2, activation="relu", sigma_w2=2.0, sigma_b2=0.1)
    gram = np.asarray(kernels.ntk(x, x, cfg))
    theta, theta_star = gram[:num_train, :num_train], gram[num_train:, :num_train]
    y = rng.normal(size=(num_train, k))
    f0, f0_star = rng.normal(size=(num_train, k)), rng.normal(size=(num_test, k))
    return theta, theta_star, y, f0, f0_star


def test_gd_prediction_equals_explicit_iteration():
    # tolerance 1e-10: float64 rounding over 60 iterations of
    # f <- f - (lr / P) Theta (f - y) on train and f* <- f* - (lr / P) Theta* (f - y);
    # lr = 0.35 < 2P / lambda_max = 0.40, so every mode converges (an unstable lr
    # is a diverged result: tests/test_trust_theory.py)
    theta, theta_star, y, f0, f0_star = _toy_problem()
    num, lr, steps = len(y), 0.35, 60
    f, fs = f0.copy(), f0_star.copy()
    for _ in range(steps):
        resid = f - y
        f, fs = f - lr / num * theta @ resid, fs - lr / num * theta_star @ resid
    out = kernels.predict_linearized(
        theta,
        y,
        [0.0, lr * steps],
        ntk_test_train=theta_star,
        f0_train=f0,
        f0_test=f0_star,
        lr=lr,
    )
    np.testing.assert_allclose(out.f_train[0], f0, atol=1e-12)
    np.testing.assert_allclose(out.f_test[0], f0_star, atol=1e-12)
    np.testing.assert_allclose(out.f_train[1], f, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.f_test[1], fs, rtol=1e-10, atol=1e-10)


def test_gradient_flow_prediction_and_lr_to_zero_limit():
    # (1) flow equals f0* + Theta* Theta^-1 (I - expm(-Theta t/P)) (y - f0) computed
    # with a linear solve (tolerance 1e-9, conditioning of Theta);
    # (2) GD -> flow with error proportional to lr (first-order time stepping):
    # halving lr halves the error, fitted exponent 1 +- 0.05
    theta, theta_star, y, f0, f0_star = _toy_problem(k=1)
    num, t = len(y), 5.0
    lam, vec = np.linalg.eigh(theta)
    decay = vec @ np.diag(np.exp(-lam * t / num)) @ vec.T
    ref = f0_star + theta_star @ np.linalg.solve(
        theta, (np.eye(num) - decay) @ (y - f0)
    )
    flow = kernels.predict_linearized(
        theta, y, t, ntk_test_train=theta_star, f0_train=f0, f0_test=f0_star
    )
    np.testing.assert_allclose(flow.f_test, ref, rtol=1e-9, atol=1e-9)
    lrs = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = [
        np.abs(
            kernels.predict_linearized(
                theta,
                y,
                t,
                ntk_test_train=theta_star,
                f0_train=f0,
                f0_test=f0_star,
                lr=lr,
            ).f_test
            - flow.f_test
        ).max()
        for lr in lrs
    ]
    assert power_law_fit(lrs, errs).exponent == pytest.approx(1.0, abs=0.05)


def test_linearized_prediction_with_singular_kernel():
    # a duplicated training point makes Theta singular; GD must still match the
    # explicit iteration (tolerance 1e-10, rounding) and interpolate at t -> inf;
    # lr = 0.3 < 2P / lambda_max = 0.36 (a larger lr diverges: a flagged result)
    theta, theta_star, y, f0, f0_star = _toy_problem(k=1)
    idx = [0, 1, 2, 3, 4, 5, 5]
    theta, theta_star = theta[np.ix_(idx, idx)], theta_star[:, idx]
    y, f0 = y[idx], f0[idx]
    num, lr, steps = len(y), 0.3, 200
    f = f0.copy()
    for _ in range(steps):
        f = f - lr / num * theta @ (f - y)
    out = kernels.predict_linearized(theta, y, lr * steps, f0_train=f0, lr=lr)
    assert np.all(np.isfinite(out.f_train))
    np.testing.assert_allclose(out.f_train, f, rtol=1e-10, atol=1e-10)
    late = kernels.predict_linearized(
        theta, y, 1e7, ntk_test_train=theta_star, f0_train=f0
    )
    assert np.all(np.isfinite(late.f_test))
    np.testing.assert_allclose(late.f_train, y, atol=1e-6)


def test_numpy_inputs_already_used_by_float32_jit():
    # JAX 0.10 caches the device copy of a NumPy array by identity: an array first
    # captured by a float32 jit must still reach the float64 kernels as float64
    x = np.random.default_rng(7).normal(size=(4, 2))
    y = np.ones((4, 1))
    jax.jit(lambda a: a + x.sum() + y.sum())(1.0).block_until_ready()
    gram = kernels.ntk(x, x, Config())
    out = kernels.predict_linearized(gram, y, 1.0, lr=0.5, f0_train=y)
    assert gram.dtype == np.float64 and out.f_train.dtype == np.float64


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"activation": "tanh"}, ValueError, "activation must be one of .*'tanh'"),
        ({"sigma_w2": 0.0}, ValueError, "sigma_w2 must be > 0, got sigma_w2=0"),
        ({"sigma_w2": -1.0}, ValueError, "sigma_w2 must be > 0"),
        ({"sigma_b2": -0.1}, ValueError, "sigma_b2 must be >= 0, got sigma_b2=-0.1"),
        ({"depth": 0}, ValueError, "depth must be >= 1, got depth=0"),
        ({"depth": 2.0}, TypeError, "depth must be an integer"),
        ({"sigma_w2": float("nan")}, ValueError, "sigma_w2 must be finite"),
    ],
)
def test_invalid_config_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Config(**kwargs)


def test_invalid_inputs_raise():
    cfg = Config()
    with pytest.raises(ValueError, match=r"same input dimension d.*\(3, 2\).*\(4, 5\)"):
        kernels.ntk(np.ones((3, 2)), np.ones((4, 5)), cfg)
    with pytest.raises(ValueError, match=r"x1 must be a 2-D array.*x1.shape=\(3,\)"):
        kernels.nngp(np.ones(3), None, cfg)
    with pytest.raises(TypeError, match="lacks sigma_w2, sigma_b2"):

        class Partial:
            depth, activation = 1, "relu"

        kernels.ntk(np.ones((2, 2)), None, Partial())
    with pytest.raises(ValueError, match="q must be >= 0"):
        kernels.chi(cfg, q=-1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        kernels.empirical_ntk(
            lambda p, x: x @ p, np.ones(2), np.ones((2, 2)), method="x"
        )


def test_invalid_linearized_arguments_raise():
    theta = np.eye(3)
    y = np.zeros(3)
    with pytest.raises(ValueError, match="ntk_train must be square"):
        kernels.predict_linearized(np.ones((3, 2)), y, 1.0)
    with pytest.raises(ValueError, match="y_train must have shape"):
        kernels.predict_linearized(theta, np.zeros(4), 1.0)
    with pytest.raises(
        ValueError, match="t must be a scalar or 1-D array of times >= 0"
    ):
        kernels.predict_linearized(theta, y, -1.0)
    with pytest.raises(ValueError, match=r"lr \* \(whole number of steps\)"):
        kernels.predict_linearized(theta, y, 0.25, lr=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        kernels.predict_linearized(theta, y, 0.0, lr=-0.1)
    with pytest.raises(
        ValueError, match=r"ntk_test_train must have shape \(n_test, P=3\)"
    ):
        kernels.predict_linearized(theta, y, 1.0, ntk_test_train=np.ones((2, 4)))


# --- finite random networks and signal propagation through depth --------------------


KEY = jax.random.key(0)


def _loglog_slope(x, y):
    return float(power_law_fit(np.asarray(x, np.float64), np.asarray(y)).exponent)


def _rms(values):
    """Root mean square over the last axis (the scan's seeds)."""
    return np.sqrt(np.mean(np.asarray(values) ** 2, axis=-1))


def test_preactivations_feed_the_network_output():
    # The last hidden pre-activation, through the activation and the readout,
    # gives mlp.apply's output (float32 rounding, 1e-5 relative)
    cfg = mlp.Config(width=32, depth=3, d_in=2, activation="erf", sigma_b2=0.2)
    params = mlp.init(jax.random.key(1), cfg)
    x = kernels.circle(np.linspace(0, 3, 5))
    h = kernels.preactivations(params, x, cfg)
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
    q, c = kernels.signal_propagation_theory(c0, cfg, depth=4)
    angles = np.concatenate([[0.0], np.arccos(c0)])
    x = math.sqrt(2) * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # float64
    for layer in range(1, 4):
        gram = np.asarray(kernels.nngp(x, x, cfg.replace(depth=layer)))
        np.testing.assert_allclose(q[layer], gram[0, 0], rtol=1e-10)
        np.testing.assert_allclose(c[layer], gram[0, 1:] / gram[0, 0], rtol=1e-10)


@pytest.mark.statistical  # 32 networks of depth 20, ~9 s per case
@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2", [("erf", 4.0, 0.3), ("relu", 2.0, 0.3)]
)
def test_signal_propagation_simulation_follows_theory(activation, sigma_w2, sigma_b2):
    # 32 networks of width 512 and depth 20 (chaotic erf, chi_1 = 1.43; critical
    # ReLU): the mean over networks of the correlation at every layer and input
    # cosine is within 4.5 standard errors of the iterated map (60 correlated
    # comparisons; the finite-width bias, O(depth/width), is below the error).
    # 32 networks, not 16: the power check below needs them (with 16 the 10%-off
    # maps were rejected at z = 4.1 only, for the float64 draws).
    # Log-lengths: single ReLU networks random-walk (variance ~ depth/width), so
    # the mean of q_l / q_l(theory) over networks must be within 4.5 standard
    # errors of 1 too.
    # (the networks and maps are the book scorecard's, lm_sims.predictions; the
    # chaotic erf case is its row)
    c, q, c_th, q_th, c0, cfg = predictions._signal_propagation(
        activation, sigma_w2, sigma_b2
    )
    if activation == "erf":
        row = predictions.run("signal-propagation")
        assert row.passed, row

    def z_score(samples, expected):
        se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
        return np.abs(samples.mean(axis=0) - expected) / se

    assert np.max(z_score(c, c_th)) < 4.5
    assert np.max(z_score(q[:, :, 0] / q_th, 1.0)) < 4.5
    # the check has power: the maps for a sigma_w2 10% off are rejected
    q_off, c_off = kernels.signal_propagation_theory(
        c0, cfg.replace(sigma_w2=1.1 * sigma_w2), cfg.depth
    )
    assert np.max(z_score(c, c_off)) > 4.5
    assert np.max(z_score(q[:, :, 0] / q_off, 1.0)) > 4.5


def test_stable_correlation_is_the_attracting_fixed_point():
    # Chaotic erf (chi_1 = 1.43): c* = correlation_map(c*) to 1e-6 and equals the
    # limit of iterating the map from c = 0.3 (500 steps, contraction ~0.6 per
    # step); ordered phase: 1.0
    cfg = kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3)
    c_star = kernels.stable_correlation(cfg)
    assert abs(float(kernels.correlation_map(c_star, cfg)) - c_star) < 1e-6
    c = np.array(0.3)
    for _ in range(500):
        c = np.asarray(kernels.correlation_map(c, cfg))
    assert abs(float(c) - c_star) < 1e-5
    assert kernels.stable_correlation(cfg.replace(sigma_w2=1.0)) == 1.0
    # odd activation, no bias, chaotic: c* = 0
    assert abs(kernels.stable_correlation(cfg.replace(sigma_b2=0.0))) < 1e-6
    with pytest.raises(ValueError, match="needs a finite fixed length"):
        kernels.stable_correlation(kernels.Config(activation="relu", sigma_w2=4.0))


# --- the NTK regime in finite networks (width scan) ---------------------------


def _wide_parts():
    # kernels.ntk_gap_parts(key 7, lr 2, 4 points, smooth target, widths 64-4096,
    # 4 networks each): the scan of the book's scorecard (lm_sims.predictions)
    return predictions._ntk_gap_parts()


def _wide_scan():
    return _wide_parts()[0]


@pytest.mark.statistical  # width scan up to n = 4096
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
    row = predictions.run("ntk-kernel-regression")  # the scorecard's row
    assert row.passed, row
    s = _wide_scan()
    weight = _rms(s.weight_change / s.residual0)
    change = _rms(s.kernel_change)
    gap = _rms(s.gap)
    assert _loglog_slope(s.widths, weight) == pytest.approx(-0.5, abs=0.1)
    assert -0.9 <= _loglog_slope(s.widths, change) <= -0.65
    assert _loglog_slope(s.widths, gap) == pytest.approx(-0.5, abs=0.15)
    assert gap[-1] < 0.02  # measured ~0.01: the widest net is its kernel prediction


@pytest.mark.statistical  # width scan up to n = 4096
def test_gap_parts_add_up_and_scale():
    # gap = motion + initial as functions, so |gap| <= |motion| + |initial| for
    # every run (float64 arithmetic on the same test grid: 1e-9). The initial
    # kernel's difference from Theta is an average over n units: slope -1/2 +-
    # 0.15 (4 networks per width, as test_width_scan_exponents); the motion part
    # is bounded by n^-1/2 (Lee et al. 2019) and falls faster here (the kernel
    # moves as n^-3/4; measured -0.7): slope < -0.4.
    scan, motion, initial = _wide_parts()
    assert np.all(scan.gap <= motion + initial + 1e-9)
    assert _loglog_slope(scan.widths, _rms(initial)) == pytest.approx(-0.5, abs=0.15)
    assert _loglog_slope(scan.widths, _rms(motion)) < -0.4
    with pytest.raises(ValueError, match="lr must be < 2P / lambda_max"):
        kernels.ntk_gap_parts(KEY, lr=6.0, num_train=4, target="smooth", widths=(16,))


@pytest.mark.statistical  # width scan up to n = 4096
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
    s = kernels.ntk_width_scan(
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
        ({"lr": float("nan")}, "lr must be finite"),
        ({"widths": ()}, "widths must not be empty"),
        ({"widths": (0,)}, r"widths\[0\] must be >= 1"),
    ],
)
def test_width_scan_rejects_bad_arguments(kwargs, match):
    args = {"lr": 1.0, "num_train": 4, "target": "smooth"} | kwargs
    with pytest.raises(ValueError, match=match):
        kernels.ntk_width_scan(KEY, **args)


def test_output_samples_rejects_bad_arguments():
    cfg = mlp.Config(width=4, d_in=2)
    with pytest.raises(ValueError, match="num_inits must be >= 1"):
        kernels.output_samples(KEY, cfg, kernels.circle(np.zeros(2)), 0)
    with pytest.raises(ValueError, match="x must have shape"):
        kernels.output_samples(KEY, cfg, np.ones((2, 3)), 4)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        kernels.output_samples(0, cfg, kernels.circle(np.zeros(2)), 4)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        kernels.ntk_width_scan(0, lr=1.0, num_train=4, target="smooth")


def test_circle_points_have_the_ntk_normalisation():
    x = np.asarray(kernels.circle(np.array([0.0, math.pi / 3])), np.float64)
    np.testing.assert_allclose(np.sum(x**2, axis=1), 2, rtol=1e-6)
    np.testing.assert_allclose(x[0] @ x[1] / 2, 0.5, rtol=1e-6)


def test_signal_propagation_theory_rejects_bad_arguments():
    cfg = kernels.Config(activation="erf")
    with pytest.raises(ValueError, match="depth must be >= 1"):
        kernels.signal_propagation_theory([0.5], cfg, 0)
    with pytest.raises(ValueError, match="c0 must be cosines in"):
        kernels.signal_propagation_theory([1.5], cfg, 3)
    with pytest.raises(ValueError, match="c0 must be cosines in"):
        kernels.signal_propagation_theory([float("nan")], cfg, 3)
    with pytest.raises(ValueError, match="d must be >= 2"):
        kernels.circle([0.0], d=1)
    with pytest.raises(ValueError, match="angles must be finite"):
        kernels.circle([float("inf")])


def test_circle_dtype_follows_the_default_float():
    x = kernels.circle(np.zeros(3), d=4)
    assert x.shape == (3, 4)
    assert x.dtype == jnp.zeros(()).dtype  # float32, or float64 under x64


def test_ntk_config_is_the_scan_network():
    cfg = kernels.ntk_config(64, 2.0)
    assert (cfg.width, cfg.depth, cfg.d_in, cfg.parameterization) == (64, 1, 2, "ntk")
    assert (cfg.sigma_w2, cfg.sigma_b2, cfg.lr) == (1.0, 0.1, 2.0)
    assert cfg.steps == cfg.record_every == kernels.NTK_STEPS
    with pytest.raises(ValueError, match="lr must be > 0"):
        kernels.ntk_config(64, -1.0)


@pytest.mark.parametrize("first", ["lm_sims.mlp", "lm_sims.kernels", "lm_sims"])
def test_kernels_and_mlp_import_in_either_order(first):
    # kernels re-exports modules that build on mlp, which imports kernels: the
    # import must work whichever module a fresh interpreter loads first
    import subprocess
    import sys

    code = (
        f"import {first}; from lm_sims import kernels, mlp; "
        "assert kernels.ntk_config(4, 1.0).width == 4; "
        "assert mlp.ACTIVATIONS is kernels.ACTIVATIONS"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_are_documented_under_lm_sims_kernels():
    # The split into private modules changes no import path: every public name is
    # an attribute of lm_sims.kernels, and the functions and classes say they
    # belong to it (autodoc and help() show them there)
    for name in kernels.__all__:
        obj = getattr(kernels, name)
        if callable(obj):
            assert obj.__module__ == "lm_sims.kernels", name


def test_circle_gram_without_bias_is_singular_exactly_for_even_p_from_6():
    # 2.2's statement: the two-layer ReLU NTK without bias has no odd Fourier
    # coefficient beyond 1, so the circulant Gram matrix of P evenly spaced points
    # on the circle has a zero eigenvalue for every even P >= 6 (frequency 3 sums
    # only odd frequencies) and none for odd P; with sigma_b2 = 0.1 (the page's
    # networks) none at all. Relative to the largest eigenvalue: zero means
    # rounding (< 1e-5 in float32), nonzero means > 1e-3 (measured >= 4e-3 up
    # to P = 16 in float64)
    for sigma_b2 in (0.0, 0.1):
        cfg = Config(depth=1, sigma_w2=1.0, sigma_b2=sigma_b2)
        for p in range(3, 17):
            phi = 2 * np.pi * np.arange(p) / p
            x = np.sqrt(2.0) * np.stack([np.cos(phi), np.sin(phi)], axis=1)
            ev = np.linalg.eigvalsh(np.asarray(kernels.ntk(x, x, cfg), np.float64))
            ratio = ev[0] / ev[-1]
            if sigma_b2 == 0.0 and p % 2 == 0 and p >= 6:
                assert abs(ratio) < 1e-5, (sigma_b2, p, ratio)
            else:
                assert ratio > 1e-3, (sigma_b2, p, ratio)
