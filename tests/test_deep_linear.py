"""Deep linear networks: simulation vs the Saxe et al. (2014) theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import data, deep_linear, predictions

KEY = jax.random.key(0)
# max_t |u_sim - u_theory| / s_1 for aligned init (key 0), over a fixed time t = 14:
# the computation the book's scorecard shows (lm_sims.predictions)
_aligned_error = predictions._aligned_error


def test_aligned_two_layer_matches_closed_form_and_error_halves_with_lr():
    # Error source: Euler discretisation of gradient flow, first order in lr.
    # The scorecard's rows: e1 = error at lr 1e-3 <= 0.01, and e1 / e2 (e2 at
    # lr 5e-4) in [1.7, 2.3] (first order: halving lr halves the error)
    for prediction_id in ("saxe-logistic-error", "saxe-euler-order"):
        r = predictions.run(prediction_id)
        assert r.passed, r
    e1, e2 = _aligned_error(1e-3), _aligned_error(5e-4)
    assert e1 <= 0.01, e1
    assert 1.7 <= e1 / e2 <= 2.3, (e1, e2)


def test_aligned_deep_network_follows_depth_L_ode():
    # Error source: GD discretisation (first order in lr) plus RK4 error (negligible).
    row = predictions.run("saxe-deep-error")  # the scorecard's row, same conditions
    assert row.passed, row
    e1 = _aligned_error(1e-3, 3)
    e2 = _aligned_error(5e-4, 3)
    assert e1 <= 0.02, e1
    assert 1.7 <= e1 / e2 <= 2.3, (e1, e2)


def test_depth_two_ode_integrator_equals_closed_form():
    # The RK4 path (n_layers > 2) checked on the n_layers = 2 right-hand side it
    # generalises.
    s = jnp.array([3.0, 0.5])
    t = jnp.linspace(0.0, 10.0, 50)
    closed = deep_linear.predict(s, 1e-3, t, n_layers=2)
    numeric = deep_linear._predict_deep(s, jnp.full(2, 1e-3), t, 2, 256)
    np.testing.assert_allclose(numeric, closed, rtol=2e-4, atol=1e-5)


def test_aligned_half_times_within_one_percent():
    # Error source: discretisation (lr = 1e-3) and record spacing (interpolated).
    # Run (lr 1e-3, 14,000 steps, aligned init 1e-3, key 0) and check are the book
    # scorecard's (lm_sims.predictions)
    row = predictions.run("saxe-half-times")
    assert row.passed, row
    observed, predicted = predictions._half_times_of("aligned")
    np.testing.assert_allclose(observed, predicted, rtol=0.01)


def test_random_init_learns_modes_in_order_with_predicted_half_times():
    # Error source: the linearised alignment phase behind effective_u0 (small init
    # makes it accurate) and the residual mode coupling of a finite-width random init.
    # Run (lr 1e-3, 16,000 steps, random init 1e-6, width 64, key 0) and check are
    # the book scorecard's (lm_sims.predictions)
    row = predictions.run("saxe-random-half-times")
    assert row.passed, row
    observed, predicted = predictions._half_times_of("random")
    assert np.all(np.isfinite(observed)), observed
    assert np.all(np.diff(observed) > 0), observed  # decreasing s -> later half-time
    np.testing.assert_allclose(observed, predicted, rtol=0.15)


def test_sample_loss_equals_sufficient_statistics_loss():
    # Training uses Sigma_yx only: exact for whitened inputs (float32 round-off).
    for name in data.DATASETS:
        cfg = deep_linear.Config(dataset=name, init="random", init_scale=0.5)
        k_data, k_init = jax.random.split(KEY)
        task = data.make_task(k_data, name)
        params = deep_linear._init(k_init, cfg, task)
        p = task.x.shape[0]
        syx = task.y.T @ task.x / p
        floor = 0.5 * (jnp.sum(task.y**2) / p - jnp.sum(syx**2))
        np.testing.assert_allclose(
            deep_linear._loss_from_stats(params, syx, floor),
            deep_linear.loss(params, task),
            rtol=1e-4,
        )


def test_datasets_are_whitened_with_expected_shapes():
    for name, (d_in, d_out) in {
        "synthetic": (8, 8),
        "tree": (8, 15),
        "digits": (61, 10),
    }.items():
        task = data.make_task(KEY, name)
        p = task.x.shape[0]
        assert task.x.shape[1:] == (d_in,) and task.y.shape[1:] == (d_out,)
        np.testing.assert_allclose(task.x.T @ task.x / p, np.eye(d_in), atol=1e-4)
    s = data.correlation_svd(data.synthetic_task(KEY, (3.0, 1.0), 5, 4, 20))[1]
    np.testing.assert_allclose(s[:2], [3.0, 1.0], rtol=1e-5)
    tree_s = data.correlation_svd(data.hierarchical_task(3))[1]
    assert np.all(np.diff(np.asarray(tree_s)) <= 1e-6)  # broad before fine


def test_unstable_lr_is_flagged_not_crashed():
    # Linear stability at the solution: GD diverges for lr > 1/s_1 = 1/3.
    traj = deep_linear.train(KEY, deep_linear.Config(lr=0.5, init_scale=0.5))
    assert traj.diverged and 0 <= int(traj.diverged_step) < 2000
    after = traj.step > traj.diverged_step
    assert np.all(np.isnan(np.asarray(traj.loss)[np.asarray(after)]))
    ok = deep_linear.train(KEY, deep_linear.Config(lr=0.3, init_scale=0.5))
    assert not ok.diverged


@pytest.mark.parametrize(
    ("field", "value", "exc", "match"),
    [
        ("width", 0, ValueError, "width must be >= 1, got width=0"),
        ("width", 2, ValueError, "width must be >= 4"),
        ("width", 8.0, TypeError, "width must be an integer"),
        ("n_layers", 1, ValueError, "n_layers must be >= 2 and <= 6, got n_layers=1"),
        ("steps", 0, ValueError, "steps must be >= 1, got steps=0"),
        ("lr", -0.1, ValueError, "lr must be > 0, got lr=-0.1"),
        ("lr", float("nan"), ValueError, "lr must be finite"),
        ("init_scale", 0.0, ValueError, "init_scale must be > 0"),
        ("dataset", "mnist", ValueError, "dataset must be one of"),
        ("init", "zeros", ValueError, "init must be one of"),
        ("record_every", 3, ValueError, "record_every must divide steps"),
    ],
)
def test_bad_config_raises_clear_error(field, value, exc, match):
    with pytest.raises(exc, match=match):
        deep_linear.Config(**{field: value})


def test_bad_inputs_to_public_functions():
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        deep_linear.init(0, deep_linear.Config())
    with pytest.raises(ValueError, match="singular_values\\[1\\] must be > 0"):
        data.synthetic_task(KEY, (1.0, -1.0))
    with pytest.raises(ValueError, match="d_in must be >= 3"):
        data.synthetic_task(KEY, (1.0, 1.0, 1.0), d_in=2)
    with pytest.raises(ValueError, match="n_layers must be >= 2"):
        deep_linear.predict(jnp.ones(2), 0.1, jnp.ones(3), n_layers=1)


def test_public_boundary_rejects_arrays_keys_and_impossible_theory_inputs():
    # An array-valued leaf would skip validation and fail deep inside JAX.
    with pytest.raises(TypeError, match="lr must be a scalar"):
        deep_linear.Config(width=-5, lr=[0.1])
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        deep_linear.train(0, deep_linear.Config())
    with pytest.raises(TypeError, match="cfg must be a deep_linear.Config"):
        deep_linear.train(KEY, None)
    with pytest.raises(ValueError, match="0 < u0 < s"):
        deep_linear.predict_half_time(jnp.array([1.0, 0.5]), 2.0)
    with pytest.raises(ValueError, match="u0 must be a scalar or have the shape"):
        deep_linear.predict(jnp.ones(4), jnp.full(3, 0.1), jnp.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="non-decreasing times"):
        deep_linear.predict(jnp.ones(2), 0.1, jnp.array([1.0, 0.5]))


def test_old_depth_name_is_rejected():
    # 'depth' means hidden layers of an MLP everywhere else in lm_sims; a deep linear
    # network is counted by its weight matrices, n_layers (issue 10: notation drift)
    with pytest.raises(TypeError, match="depth"):
        deep_linear.Config(depth=3)
    with pytest.raises(TypeError, match="depth"):
        deep_linear.predict(jnp.ones(2), 0.1, jnp.ones(3), depth=3)
    assert deep_linear.Config(n_layers=3).n_layers == 3
