"""Analytic NNGP / NTK kernels, signal propagation and linearised dynamics.

Each check compares lm_sims.kernels with an independent computation: numerical
quadrature of the Gaussian expectations, the book's two-layer formula, a Monte Carlo
of the book's network written out here, or the explicit gradient-descent iteration.
"""

import math

import jax
import numpy as np
import pytest

from lm_sims import kernels
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
        acos = np.asarray(kernels._acos(jax.numpy.asarray(x)))
        asin = np.asarray(kernels._asin(jax.numpy.asarray(x)))
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
    # the blocked Gram computation must not depend on how rows are split
    # (n1 = 1000 with n2 = 300 uses two blocks of 873 rows, the second padded)
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
    # tolerance 1e-10: float64 rounding over 300 iterations of
    # f <- f - (lr / P) Theta (f - y) on train and f* <- f* - (lr / P) Theta* (f - y)
    theta, theta_star, y, f0, f0_star = _toy_problem()
    num, lr, steps = len(y), 0.7, 300
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
    slope = np.polyfit(np.log(lrs), np.log(errs), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)


def test_linearized_prediction_with_singular_kernel():
    # a duplicated training point makes Theta singular; GD must still match the
    # explicit iteration (tolerance 1e-10, rounding) and interpolate at t -> inf
    theta, theta_star, y, f0, f0_star = _toy_problem(k=1)
    idx = [0, 1, 2, 3, 4, 5, 5]
    theta, theta_star = theta[np.ix_(idx, idx)], theta_star[:, idx]
    y, f0 = y[idx], f0[idx]
    num, lr, steps = len(y), 0.5, 200
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
