"""The neural feature ansatz (Radhakrishnan et al. 2024, arXiv:2212.13881)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import feature_ansatz as fa
from lm_sims import predictions

KEY = jax.random.key(0)


def _run(seed: int = 0):
    # fa.train(key(seed), fa.Config()) on the host: the runs of the book's
    # scorecard (lm_sims.predictions), cached there
    return predictions._feature_ansatz_run(seed)


# -- pure functions on constructed inputs ----------------------------------------------


def test_agop_of_a_linear_map_is_its_gram():
    # f(x) = A x has Jacobian A at every input: AGOP = A^T A exactly (float rounding)
    a = jax.random.normal(KEY, (3, 5))
    x = jax.random.normal(jax.random.key(1), (7, 5))
    np.testing.assert_allclose(fa.agop(lambda v: a @ v, x), a.T @ a, rtol=1e-5)


def test_agop_of_the_target_matches_its_population_value():
    # Monte Carlo over 20,000 Gaussian inputs: entries of order 1 with sampling
    # error ~ 1/sqrt(20,000) * O(1) = 0.01-0.02; 0.06 is > 3 standard errors
    cfg = fa.Config()
    _, _, u = fa.training_data(KEY, cfg)
    x = jax.random.normal(jax.random.key(2), (20_000, cfg.d_in))
    mc = fa.agop(lambda v: fa.target(v[None], u)[0], x)
    np.testing.assert_allclose(mc, fa.target_agop(u), atol=0.06)


def test_matrix_power_square_root_squares_back():
    # eigh-based root of a PSD matrix: float32 round-off only
    b = jax.random.normal(KEY, (6, 6))
    a = b @ b.T
    r = fa.matrix_power(a, 0.5)
    np.testing.assert_allclose(r @ r, a, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fa.matrix_power(a, 1.0), a, rtol=1e-4, atol=1e-4)


def test_off_diagonal_pearson_ignores_the_diagonal():
    # identical off-diagonals and wildly different diagonals: correlation 1
    b = np.array(jax.random.normal(KEY, (5, 5)))
    a = b + b.T
    c = a.copy()
    np.fill_diagonal(c, [100.0, -3.0, 7.0, 0.0, 50.0])
    assert float(fa.off_diagonal_pearson(a, c)) == pytest.approx(1.0, abs=1e-5)
    assert float(fa.off_diagonal_pearson(a, -a)) == pytest.approx(-1.0, abs=1e-5)


def test_nfa_correlation_is_one_when_the_ansatz_holds_exactly():
    # gram = AGOP^(1/2) exactly: correlation 1 with power 1/2 (round-off only)
    b = jax.random.normal(KEY, (8, 8))
    gram = b @ b.T
    assert float(fa.nfa_correlation(gram, gram @ gram)) == pytest.approx(1, abs=1e-4)
    assert float(fa.nfa_correlation(gram, gram, power=1.0)) == pytest.approx(
        1, abs=1e-5
    )


# -- the trained network (the tests) ----------------------------------------


@pytest.mark.statistical
def test_first_layer_gram_matches_agop_square_root_after_training():
    # The bars: off-diagonal Pearson with AGOP^(1/2) >= 0.85 at the end and
    # >= 0.15 above its initial value; with the AGOP itself >= 0.8. Three seeds
    # (measured 0.955-0.979 at the end from 0.12-0.41 at init; AGOP 0.97-0.99); the
    # finite sample (n = 1000) and finite training keep it below 1.
    row = predictions.run("feature-ansatz-correlation")  # the scorecard's row
    assert row.passed, row
    for seed in range(3):
        tr = _run(seed)
        assert not tr.diverged
        assert tr.corr_sqrt[-1] >= 0.85, (seed, tr.corr_sqrt[-1])
        assert tr.corr_sqrt[-1] >= tr.corr_sqrt[0] + 0.15, (seed, tr.corr_sqrt[[0, -1]])
        assert tr.corr_agop[-1] >= 0.8, (seed, tr.corr_agop[-1])
        # the network has learned the target (test MSE far below Var f*/2 ~ 0.6)
        assert tr.test_mse[-1] < 0.05, (seed, tr.test_mse[-1])


@pytest.mark.statistical
def test_recorded_correlation_matches_the_final_matrices():
    # the end-of-run gram and AGOP give back the last recorded correlation
    tr = _run(0)
    np.testing.assert_allclose(
        fa.nfa_correlation(tr.gram, tr.agop), tr.corr_sqrt[-1], rtol=1e-4
    )
    g = fa.init(jax.random.key(0), fa.Config())[0].w
    np.testing.assert_allclose(tr.gram_init, g @ g.T, rtol=1e-4, atol=1e-5)


def test_small_run_shapes_and_time_axis():
    cfg = fa.Config(num_train=100, width=16, steps=20, record_every=10)
    tr = fa.train(KEY, cfg)
    assert tr.step.tolist() == [0, 10, 20]
    np.testing.assert_allclose(tr.t, cfg.lr * np.array([0, 10, 20]), rtol=1e-6)
    assert tr.gram.shape == tr.agop.shape == (20, 20)
    assert tr.directions.shape == (3, 20)
    u = np.asarray(tr.directions)
    np.testing.assert_allclose(u @ u.T, np.eye(3), atol=1e-5)
    assert tr.diverged_step == -1 and not tr.diverged
    axes = fa.train(KEY, cfg.replace(directions="axes"))
    np.testing.assert_array_equal(axes.directions, np.eye(3, 20))


def test_a_diverging_run_is_a_result():
    cfg = fa.Config(num_train=100, width=16, steps=20, record_every=10)
    tr = fa.train(KEY, cfg.replace(optimizer="gd", lr=1e4))
    assert tr.diverged and tr.diverged_step >= 0
    assert np.isnan(tr.loss[-1])


def test_observe_hook_is_recorded():
    cfg = fa.Config(num_train=100, width=16, steps=20, record_every=10)
    tr = fa.train(KEY, cfg, observe=lambda p: jnp.sum(p[0].w ** 2))
    assert tr.observed.shape == (3,)


# -- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("d_in", 2),
        ("width", 0),
        ("record_every", 7),
        ("directions", "diagonal"),
        ("optimizer", "sgd"),
        ("lr", -1.0),
        ("lr", float("nan")),
        ("weight_decay", -1e-3),
        ("init_scale", 0.0),
    ],
)
def test_invalid_config_raises(field, value):
    with pytest.raises(ValueError, match=field):
        fa.Config(**{field: value})


def test_invalid_inputs_raise():
    with pytest.raises(TypeError, match="fn"):
        fa.agop("not a function", jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="x"):
        fa.agop(lambda v: v.sum(), jnp.ones(3))
    with pytest.raises(ValueError, match="finite"):
        fa.agop(lambda v: v.sum(), jnp.array([[1.0, jnp.nan]]))
    with pytest.raises(ValueError, match="d >= 3"):
        fa.off_diagonal_pearson(jnp.eye(2), jnp.eye(2))
    with pytest.raises(ValueError, match="same shape"):
        fa.off_diagonal_pearson(jnp.eye(3), jnp.eye(4))
    with pytest.raises(ValueError, match="power"):
        fa.matrix_power(jnp.eye(3), -0.5)
    with pytest.raises(ValueError, match="square"):
        fa.matrix_power(jnp.ones((2, 3)), 0.5)
    with pytest.raises(TypeError, match="key"):
        fa.train(0, fa.Config())
    with pytest.raises(TypeError, match="cfg"):
        fa.train(KEY, {"lr": 0.1})
    with pytest.raises(TypeError, match="observe"):
        fa.train(KEY, fa.Config(), observe=3)
    with pytest.raises(ValueError, match="directions"):
        fa.target(jnp.ones((2, 4)), jnp.eye(2, 4))


# -- review findings: each class of bad input is refused, never a silent number ------


def test_loss_refuses_mis_shaped_targets():
    # a column-vector y broadcast to (n, n) and gave a wrong loss silently
    cfg = fa.Config(num_train=50, width=16)
    prm = fa.init(KEY, cfg)
    x, y, _ = fa.training_data(KEY, cfg)
    assert np.isfinite(fa.loss(prm, x, y, 0.0))
    with pytest.raises(ValueError, match=r"y must have shape \(n=50,\).*ravel"):
        fa.loss(prm, x, y[:, None], 0.0)
    with pytest.raises(ValueError, match=r"y must have shape \(n=50,\)"):
        fa.loss(prm, x, y[:1], 0.0)
    with pytest.raises(ValueError, match="x must have shape"):
        fa.loss(prm, x[:, :5], y, 0.0)
    with pytest.raises(ValueError, match="y must be finite"):
        fa.loss(prm, x, y.at[0].set(jnp.nan), 0.0)
    with pytest.raises(ValueError, match="x must be finite"):
        fa.apply(prm, jnp.full((3, 20), jnp.nan))
    with pytest.raises(TypeError, match="params"):
        fa.apply(prm[0], x)
    assert fa.apply(prm, x[0]).shape == ()
    assert jax.grad(fa.loss)(prm, x, y, 0.1)[0].w.shape == (20, 16)


def test_target_agop_refuses_non_orthonormal_directions():
    # for 2 * I the formula gave diag 4, 4, 1.86; the true AGOP is 16, 16, 1.0
    with pytest.raises(ValueError, match="directions must have orthonormal rows"):
        fa.target_agop(2 * jnp.eye(3, 4))
    with pytest.raises(ValueError, match="orthonormal"):
        fa.target_agop(jnp.array([[1.0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]))
    fa.target_agop(_run_directions())  # the QR directions of train pass


def _run_directions():
    return fa.training_data(KEY, fa.Config(num_train=2))[2]


def test_matrix_power_refuses_non_symmetric_or_negative_matrices():
    with pytest.raises(ValueError, match="positive semi-definite"):
        fa.matrix_power(-jnp.eye(3), 0.5)
    with pytest.raises(ValueError, match="symmetric"):
        fa.matrix_power(jnp.array([[1.0, 5.0], [0.0, 1.0]]), 1.0)
    # round-off is not an error: a rank-1 PSD matrix has eigenvalues ~ -eps
    v = jax.random.normal(KEY, (6, 1))
    r = fa.matrix_power(v @ v.T, 0.5)
    np.testing.assert_allclose(r @ r, v @ v.T, atol=1e-4 * float(jnp.sum(v**2)))
    with pytest.raises(ValueError, match="agop_matrix must be positive"):
        fa.nfa_correlation(jnp.eye(3), -jnp.eye(3))


def test_nfa_correlation_names_its_arguments():
    with pytest.raises(ValueError, match=r"gram \(3, 3\) and agop_matrix \(4, 4\)"):
        fa.nfa_correlation(jnp.eye(3), jnp.eye(4))


def test_train_memory_guard_counts_the_width_squared_weights():
    with pytest.raises(ValueError, match="GiB"):
        fa.train(
            KEY, fa.Config(width=10**5, depth=2, num_train=2, steps=1, record_every=1)
        )


def test_constant_entries_and_bool_times_are_refused():
    # finite input gave NaN (0/0); a bool was taken for the number 1
    with pytest.raises(ValueError, match="off-diagonal entries of a are all equal"):
        fa.off_diagonal_pearson(jnp.eye(3), jnp.eye(3))
    with pytest.raises(ValueError, match="off-diagonal entries of gram"):
        fa.nfa_correlation(jnp.eye(3), jnp.eye(3) + jnp.ones((3, 3)))
    with pytest.raises(TypeError, match="t must be real numbers"):
        fa.predict(fa.Config(), True)
