"""Observables against cases with known answers: sharpness and the Hessian spectrum,
CKA, mutual k-NN alignment, relative change and RMS coordinates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.flatten_util import ravel_pytree

from lm_sims import lazy_rich, mlp
from lm_sims.observables import (
    hessian_top_k,
    linear_cka,
    mutual_knn_alignment,
    relative_change,
    rms_coordinates,
    sharpness,
)


def _spd(key, eigenvalues):
    """A symmetric matrix with the given eigenvalues in a random basis."""
    n = len(eigenvalues)
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n)))
    return (q * jnp.asarray(eigenvalues)) @ q.T


# -- sharpness and the top of the Hessian spectrum -----------------------------------


def test_sharpness_is_exact_on_a_quadratic():
    eig = jnp.array([5.0, 3.0, 2.5, 1.0, 0.5, -0.2])
    a = _spd(jax.random.key(0), eig)
    w = jax.random.normal(jax.random.key(1), (6,))  # the Hessian is A everywhere
    # float32 rounding of A and of the Lanczos recurrences
    assert float(sharpness(lambda v: 0.5 * v @ a @ v, w, num_iters=6)) == (
        pytest.approx(5.0, rel=1e-5)
    )


def test_lanczos_is_exact_after_as_many_steps_as_distinct_eigenvalues():
    # A Krylov space holds one vector per distinct eigenvalue: three steps suffice
    # for three distinct values of multiplicity 4, 3 and 3.
    eig = jnp.array([4.0] * 4 + [1.5] * 3 + [-2.0] * 3)
    a = _spd(jax.random.key(2), eig)
    quad = lambda v: 0.5 * v @ a @ v  # noqa: E731
    w = jnp.zeros(10)
    assert float(sharpness(quad, w, num_iters=3)) == pytest.approx(4.0, rel=1e-5)
    # Past that the Krylov space is exhausted: the restarts must recover the
    # multiplicities, so num_iters = n gives the whole spectrum (float32 rounding).
    full = hessian_top_k(quad, w, 10, num_iters=10)
    np.testing.assert_allclose(full, np.sort(eig)[::-1], rtol=1e-5, atol=1e-5)


def test_sharpness_is_the_algebraic_top_not_the_largest_magnitude():
    a = jnp.diag(jnp.array([-1.0, -2.0, -3.0]))
    assert float(sharpness(lambda v: 0.5 * v @ a @ v, jnp.ones(3))) == (
        pytest.approx(-1.0, rel=1e-6)
    )


@pytest.mark.parametrize("num_iters", [None, 12])
def test_hessian_top_k_matches_dense_eigvalsh_of_a_small_network(num_iters):
    cfg = mlp.Config(width=4, depth=1, d_in=2, activation="erf", sigma_b2=0.5)
    params = mlp.init(jax.random.key(0), cfg)
    x = jax.random.normal(jax.random.key(1), (8, 2))
    y = jnp.sin(x[:, :1])

    def loss(p):
        return mlp.loss(p, x, y, cfg)

    flat, unravel = ravel_pytree(params)
    dense = np.linalg.eigvalsh(
        np.asarray(jax.hessian(lambda f: loss(unravel(f)))(flat))
    )
    n = flat.size  # 17 parameters
    top = hessian_top_k(loss, params, 4, num_iters=num_iters or n)
    # full Krylov space: exact up to float32 rounding; 12 of 17 steps: the extreme
    # Ritz values converge first (measured error < 1e-5 relative here)
    np.testing.assert_allclose(top, dense[::-1][:4], rtol=2e-4, atol=1e-5)


def test_sharpness_is_jittable_and_works_as_an_observe_hook():
    cfg = mlp.Config(width=8, d_in=2, steps=20, record_every=10, num_train=8, lr=0.2)
    x = jax.random.normal(jax.random.key(3), (8, 2))
    y = jnp.cos(x[:, :1])

    def hook(p):
        return sharpness(lambda q: mlp.loss(q, x, y, cfg), p, num_iters=8)

    traj = mlp.train(jax.random.key(0), cfg, x, y, observe=hook)
    assert traj.observed.shape == (3,)
    eager = hook(mlp.init(jax.random.key(0), cfg))
    np.testing.assert_allclose(traj.observed[0], eager, rtol=1e-5)
    assert float(jax.jit(hook)(mlp.init(jax.random.key(0), cfg))) == pytest.approx(
        float(eager), rel=1e-5
    )


def test_curvature_inputs_are_validated():
    quad = lambda v: 0.5 * v @ v  # noqa: E731
    with pytest.raises(ValueError, match=r"k must be <= min\(num_iters, num_params\)"):
        hessian_top_k(quad, jnp.ones(3), 4)
    with pytest.raises(ValueError, match="k must be >= 1"):
        hessian_top_k(quad, jnp.ones(3), 0)
    with pytest.raises(ValueError, match="num_iters must be >= 1"):
        sharpness(quad, jnp.ones(3), num_iters=0)
    with pytest.raises(ValueError, match="params must be finite"):
        sharpness(quad, jnp.array([1.0, jnp.nan]))
    with pytest.raises(TypeError, match="params must be floating"):
        sharpness(quad, jnp.array([1, 2]))


# -- linear CKA -------------------------------------------------------------------


def _features(seed, n, p):
    return jax.random.normal(jax.random.key(seed), (n, p))


def test_linear_cka_known_values():
    x = _features(0, 30, 5)
    assert float(linear_cka(x, x)) == pytest.approx(1.0, abs=1e-6)
    # two centred, orthogonal, equal-norm columns against the first alone:
    # ||Y^T X||^2 = 1, ||X^T X||_F = sqrt(2), ||Y^T Y||_F = 1, so CKA = 1/sqrt(2)
    u = jnp.array([1.0, -1.0, 1.0, -1.0])
    v = jnp.array([1.0, 1.0, -1.0, -1.0])
    two = jnp.stack([u, v], axis=1)
    assert float(linear_cka(two, u[:, None])) == pytest.approx(2**-0.5, rel=1e-6)
    # an unrelated direction: 0
    assert float(linear_cka(u[:, None], v[:, None])) == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.sampled_from([6, 24]),  # few shapes: each new shape compiles anew
    p=st.sampled_from([1, 4]),
    q=st.sampled_from([1, 3]),
    scale=st.floats(0.01, 100.0),
)
def test_linear_cka_invariances(seed, n, p, q, scale):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, p)), rng.normal(size=(n, q))
    rot, _ = np.linalg.qr(rng.normal(size=(p, p)))
    x, y, rot = (jnp.asarray(v, jnp.float32) for v in (x, y, rot))
    base = float(linear_cka(x, y))
    assert 0.0 <= base <= 1.0 + 1e-6
    assert float(linear_cka(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(linear_cka(y, x)) == pytest.approx(base, abs=1e-5)  # symmetric
    # orthogonal transform and isotropic scaling of x; float32 rounding only
    assert float(linear_cka(scale * x @ rot, y)) == pytest.approx(base, abs=1e-5)
    # a column shift is removed by the centring
    assert float(linear_cka(x + 3.0, y)) == pytest.approx(base, abs=1e-4)


def test_linear_cka_is_not_invariant_to_general_linear_maps():
    x = _features(0, 50, 3)
    stretch = jnp.diag(jnp.array([10.0, 1.0, 0.1]))
    assert float(linear_cka(x @ stretch, x)) < 0.9


# -- mutual k-NN alignment -----------------------------------------------------------


def test_mutual_knn_is_one_for_identical_rotated_or_scaled_features():
    x = _features(0, 60, 6)
    rot, _ = jnp.linalg.qr(_features(1, 6, 6))
    for y in (x, 2.5 * x, x @ rot):
        assert float(mutual_knn_alignment(x, y, 5)) == pytest.approx(1.0)


def test_mutual_knn_is_at_chance_for_independent_features():
    n, k = 200, 10
    values = [
        float(mutual_knn_alignment(_features(s, n, 8), _features(s + 100, n, 8), k))
        for s in range(4)
    ]
    # Chance overlap k / (n - 1). One run's mean over n samples has sd ~0.005
    # (hypergeometric per-sample overlap, sd 0.067, over 200 samples); 4 runs
    # -> 0.0025; band = 4 sd.
    assert np.mean(values) == pytest.approx(k / (n - 1), abs=0.01)


def test_mutual_knn_falls_as_noise_is_added():
    x = _features(0, 100, 4)
    noise = _features(1, 100, 4)
    values = [float(mutual_knn_alignment(x, x + s * noise, 5)) for s in (0.0, 0.3, 3.0)]
    assert values[0] == 1.0 and values[0] > values[1] > values[2]


def test_representation_inputs_are_validated():
    x = _features(0, 10, 3)
    with pytest.raises(ValueError, match="x and y must hold the same samples"):
        linear_cka(x, x[:9])
    with pytest.raises(ValueError, match="x must be 2-D"):
        linear_cka(x[0], x)
    with pytest.raises(ValueError, match="y must be finite"):
        linear_cka(x, x.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="k must be >= 1 and <= 9, got k=10"):
        mutual_knn_alignment(x, x, 10)
    with pytest.raises(ValueError, match="k must be >= 1"):
        mutual_knn_alignment(x, x, 0)
    with pytest.raises(ValueError, match="needs >= 2 samples"):
        linear_cka(x[:1], x[:1])


# -- relative change and RMS coordinates ---------------------------------------------


def test_relative_change_over_a_pytree():
    p0 = {"a": jnp.array([3.0, 0.0]), "b": (jnp.array([[4.0]]),)}
    p1 = {"a": jnp.array([3.0, 1.0]), "b": (jnp.array([[4.0]]),)}
    assert float(relative_change(p1, p0)) == pytest.approx(0.2, rel=1e-6)
    assert float(relative_change(p0, p0)) == 0.0
    with pytest.raises(ValueError, match="same structure"):
        relative_change({"a": p1["a"]}, p0)
    with pytest.raises(ValueError, match="same shapes"):
        relative_change({"a": jnp.ones(3), "b": p0["b"]}, p0)


def test_lazy_rich_relative_change_delegates():
    p0 = lazy_rich.init(jax.random.key(0), lazy_rich.Config(width=10))
    p1 = lazy_rich.init(jax.random.key(1), lazy_rich.Config(width=10))
    assert float(lazy_rich.relative_change(p1, p0)) == float(relative_change(p1, p0))


def test_rms_coordinates_known_values_and_width_independence():
    assert float(rms_coordinates(jnp.full((3, 4), -2.0))) == pytest.approx(2.0)
    x = jnp.array([[3.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(rms_coordinates(x, axis=0), [12.5**0.5, 0.0])
    # N(0, 0.5^2) entries: RMS 0.5 at every width, while the row norm grows as
    # sqrt(width). Sampling error of the RMS over N entries: relative ~ 1/sqrt(2N).
    for width in (64, 1024):
        z = 0.5 * _features(width, 256, width)
        assert float(rms_coordinates(z)) == pytest.approx(
            0.5, rel=5 / (2 * 256 * 64) ** 0.5
        )
    with pytest.raises(ValueError, match="x must have at least one entry"):
        rms_coordinates(jnp.zeros((0, 3)))
    with pytest.raises(ValueError, match="x must be finite"):
        rms_coordinates(jnp.array([1.0, jnp.inf]))
