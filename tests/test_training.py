"""lm_sims.training: the optimizer-agnostic loop (GD, minibatch SGD, momentum, Adam)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import data, deep_linear, lazy_rich, mlp, training
from lm_sims._compat import enable_x64
from lm_sims.observables import mode_strengths

# -- the reference: the full-batch GD loop as it was in lm_sims/_gd.py ---------------
# Kept verbatim except one line (the divergence carry takes the loop index's dtype, so
# the reference also runs under JAX_ENABLE_X64=1). Full-batch GD through
# training.run must reproduce it bit for bit.


def _old_gradient_descent(loss_fn, params, lr, steps, record_every, observe, scale=1.0):
    value_and_grad = jax.value_and_grad(loss_fn)
    loss0 = loss_fn(params)
    # issue 12's criterion: 1e3 x (|loss_0| + the zero predictor's loss)
    limit = training.DIVERGENCE_FACTOR * (jnp.abs(loss0) + scale)
    if not isinstance(lr, (dict, list, tuple)) and jnp.ndim(lr) == 0:
        lr_tree = jax.tree_util.tree_map(lambda _: lr, params)
    else:
        lr_tree = lr

    def step(carry, i):
        p, diverged_step = carry
        loss, grads = value_and_grad(p)
        new = jax.tree_util.tree_map(lambda w, g, a: w - a * g, p, grads, lr_tree)
        finite = jnp.all(
            jnp.array(
                [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(new)]
            )
        )
        bad = (~jnp.isfinite(loss)) | (loss > limit) | (~finite)
        newly = bad & (diverged_step < 0)
        diverged_step = jnp.where(newly, i, diverged_step)
        keep = diverged_step >= 0
        p = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), p, new)
        return (p, diverged_step), None

    def block(carry, b):
        p, diverged_step = carry
        rec = observe(p)
        rec = _old_mask(rec, diverged_step >= 0)
        carry, _ = jax.lax.scan(
            step, carry, b * record_every + jnp.arange(record_every)
        )
        return carry, rec

    carry = (params, jnp.asarray(-1, jnp.arange(1).dtype))  # the one changed line
    carry, recs = jax.lax.scan(block, carry, jnp.arange(steps // record_every))
    p, diverged_step = carry
    last = _old_mask(observe(p), diverged_step >= 0)
    records = jax.tree_util.tree_map(
        lambda r, x: jnp.concatenate([r, x[None]]), recs, last
    )
    # issue 12: no record at or after the diverged step
    at = jnp.arange(0, steps + 1, record_every) >= diverged_step
    records = _old_mask_rows(records, (diverged_step >= 0) & at)
    return records, p, diverged_step


def _old_mask_rows(rec, rows):
    def f(x):
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.where(rows.reshape((-1,) + (1,) * (x.ndim - 1)), jnp.nan, x)
        return x

    return jax.tree_util.tree_map(f, rec)


def _old_mask(rec, diverged):
    def f(x):
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.where(diverged, jnp.nan, x)
        return x

    return jax.tree_util.tree_map(f, rec)


def _equal(a, b):
    """Bit-for-bit equality of two pytrees (NaN == NaN)."""
    for x, y in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# -- old vs new on every model family, bit for bit -----------------------------------


@jax.jit
def _old_deep_linear(key, cfg):
    k_data, k_init = jax.random.split(key)
    task = data.make_task(k_data, cfg.dataset)
    params = deep_linear._init(k_init, cfg, task)
    r = cfg.num_modes
    u, _, vt = data.correlation_svd(task)
    u, vt = u[:, :r], vt[:r]
    p = task.x.shape[0]
    sigma_yx = task.y.T @ task.x / p
    floor = jnp.maximum(0.5 * (jnp.sum(task.y**2) / p - jnp.sum(sigma_yx**2)), 0.0)

    def loss_fn(prm):
        return deep_linear._loss_from_stats(prm, sigma_yx, floor)

    def observe(prm):
        return mode_strengths(deep_linear._product(prm), u, vt), loss_fn(prm)

    scale = 0.5 * jnp.sum(sigma_yx**2) + floor
    return _old_gradient_descent(
        loss_fn,
        params,
        cfg.lr,
        cfg.steps,
        cfg.record_every,
        observe,
        jnp.where(scale > 0, scale, 1.0),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"n_layers": 3, "init": "random", "init_scale": 0.1},
        {"lr": 0.6, "init_scale": 0.5},  # diverges: the frozen/masked path
    ],
)
def test_deep_linear_gd_is_bit_for_bit_the_old_loop(changes):
    cfg = deep_linear.Config(steps=300, record_every=30, **changes)
    key = jax.random.key(3)
    (strengths, losses), _, diverged = _old_deep_linear(key, cfg)
    traj = deep_linear.train(key, cfg)
    _equal((traj.mode_strengths, traj.loss), (strengths, losses))
    assert int(traj.diverged_step) == int(diverged)
    assert (int(diverged) >= 0) == ("lr" in changes)


@jax.jit
def _old_mlp(key, cfg, x, y):
    params0 = mlp.init(key, cfg)
    lr_tree = tuple(
        mlp.Layer(cfg.lr * s.w_lr * jnp.ones(()), cfg.lr * s.b_lr * jnp.ones(()))
        for s in mlp.layer_scales(cfg)
    )

    def loss_fn(p):
        return mlp.loss(p, x, y, cfg)

    def observe(p):
        return loss_fn(p), mlp.apply(p, x, cfg)

    scale = 0.5 * jnp.mean(jnp.sum(y**2, axis=-1))
    return _old_gradient_descent(
        loss_fn,
        params0,
        lr_tree,
        cfg.steps,
        cfg.record_every,
        observe,
        jnp.where(scale > 0, scale, 1.0),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"parameterization": "mup", "depth": 2, "sigma_b2": 0.1},
        {"parameterization": "sp", "lr": 50.0},  # diverges
    ],
)
def test_mlp_gd_is_bit_for_bit_the_old_loop(changes):
    cfg = mlp.Config(width=32, d_in=3, steps=60, record_every=10, **changes)
    key = jax.random.key(5)
    task = data.teacher_regression(jax.random.key(1), 16, 3, 1)
    (losses, f_train), params, diverged = _old_mlp(key, cfg, task.x, task.y)
    traj = mlp.train(key, cfg, task.x, task.y)
    _equal((traj.loss, traj.f_train, traj.params), (losses, f_train, params))
    assert int(traj.diverged_step) == int(diverged)
    assert (int(diverged) >= 0) == ("lr" in changes)


@jax.jit
def _old_lazy_rich(key, cfg):
    k_teacher, k_data, k_init = jax.random.split(key, 3)
    directions = lazy_rich.teacher(k_teacher, cfg)
    batch = lazy_rich.dataset(k_data, cfg, directions)
    params0 = lazy_rich._init(k_init, cfg)

    def observe(p):
        return lazy_rich.loss(p, batch, cfg.alpha), lazy_rich.neuron_positions(p)

    return _old_gradient_descent(
        functools.partial(lazy_rich.loss, batch=batch, alpha=cfg.alpha),
        params0,
        lazy_rich.effective_lr(cfg),
        cfg.steps,
        cfg.record_every,
        observe,
        jnp.maximum(0.5 * jnp.mean(batch.y**2), 1e-30),
    )


@pytest.mark.parametrize("changes", [{}, {"alpha": 0.1}, {"lr": 50.0}])
def test_lazy_rich_gd_is_bit_for_bit_the_old_loop(changes):
    cfg = lazy_rich.Config(width=20, num_train=16, steps=200, record_every=20)
    cfg = cfg.replace(**changes)
    key = jax.random.key(2)
    (losses, positions), _, diverged = _old_lazy_rich(key, cfg)
    traj = lazy_rich.train(key, cfg)
    _equal((traj.loss, traj.positions), (losses, positions))
    assert int(traj.diverged_step) == int(diverged)
    assert (int(diverged) >= 0) == ("lr" in changes)


# -- the optimizers ----------------------------------------------------------------

A = jnp.array([[3.0, 1.0], [1.0, 2.0]])  # a quadratic loss 1/2 w^T A w
W0 = jnp.array([1.0, -2.0])


def _quadratic(w):
    return 0.5 * w @ A @ w


def _path(optimizer, lr=0.1, steps=2):
    res = training.run(
        _quadratic,
        W0,
        lr,
        steps=steps,
        record_every=1,
        optimizer=optimizer,
        observe=lambda w: w,
    )
    return np.asarray(res.observed)


def test_momentum_first_steps_match_hand_computed_heavy_ball():
    beta, lr = 0.8, 0.1
    w0 = np.asarray(W0, np.float64)
    a = np.asarray(A, np.float64)
    v1 = a @ w0  # v <- g + beta v, w <- w - lr v (optax.trace)
    w1 = w0 - lr * v1
    v2 = a @ w1 + beta * v1
    w2 = w1 - lr * v2
    path = _path(training.Optimizer("momentum", momentum=beta), lr)
    # float32 rounding of a few multiply-adds
    np.testing.assert_allclose(path, [w0, w1, w2], rtol=1e-6)


def test_adam_first_steps_match_hand_computed_updates():
    b1, b2, eps, lr = 0.9, 0.99, 1e-8, 0.1
    w = np.asarray(W0, np.float64)
    a = np.asarray(A, np.float64)
    m = v = np.zeros(2)
    expected = [w]
    for k in (1, 2):
        g = a @ w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**k), v / (1 - b2**k)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(w)
    path = _path(training.Optimizer("adam", b1=b1, b2=b2, eps=eps), lr)
    # float32 rounding; the first Adam step is exactly -lr * sign(g) (+ eps effects)
    np.testing.assert_allclose(path, expected, rtol=1e-6)
    np.testing.assert_allclose(path[1], W0 - lr * np.sign(A @ W0), rtol=1e-6)


@pytest.mark.parametrize("name", ["gd", "momentum", "adam"])
def test_per_tensor_learning_rates_are_honoured(name):
    # Two decoupled coordinates with the same gradient: only their rates differ, so
    # each follows the scalar-lr run at its own rate exactly.
    params = {"a": jnp.array(1.0), "b": jnp.array(1.0)}
    lr = {"a": 0.1, "b": 0.3}
    opt = training.Optimizer(name)

    def loss(p):
        return 0.5 * (p["a"] ** 2 + p["b"] ** 2)

    res = training.run(loss, params, lr, steps=5, record_every=5, optimizer=opt)
    for leaf in ("a", "b"):
        alone = training.run(
            lambda w: 0.5 * w**2,
            jnp.array(1.0),
            lr[leaf],
            steps=5,
            record_every=5,
            optimizer=opt,
        )
        np.testing.assert_allclose(res.params[leaf], alone.params, rtol=1e-6)
    assert float(res.params["a"]) != float(res.params["b"])
    if name == "gd":
        np.testing.assert_allclose(res.params["a"], 0.9**5, rtol=1e-6)
        np.testing.assert_allclose(res.params["b"], 0.7**5, rtol=1e-6)


# -- minibatch SGD -------------------------------------------------------------------

P, D = 256, 8


@functools.cache
def _regression():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(k1, (P, D))
    y = x @ jax.random.normal(k2, (D,)) + 0.5 * jax.random.normal(k3, (P,))
    return x, y


def _mse(w, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ w - y) ** 2)


def _sgd(batch_size, key=None, steps=4000, lr=0.05):
    key = jax.random.key(1) if key is None else key
    return training.run(
        _mse,
        jnp.zeros(D),
        lr,
        steps=steps,
        record_every=10,
        optimizer=training.Optimizer(batch_size=batch_size),
        data=_regression(),
        key=key,
    )


def test_minibatch_of_all_samples_is_full_batch_gd():
    gd = training.run(
        _mse, jnp.zeros(D), 0.05, steps=100, record_every=10, data=_regression()
    )
    sgd = _sgd(P, steps=100)
    # a full batch in shuffled order: only the float32 summation order differs
    np.testing.assert_allclose(sgd.loss, gd.loss, rtol=1e-5)
    np.testing.assert_allclose(sgd.params, gd.params, rtol=1e-5, atol=1e-6)


def test_sgd_converges_and_its_noise_floor_scales_as_one_over_batch_size():
    x, y = _regression()
    loss_min = float(_mse(jnp.linalg.lstsq(x, y)[0], (x, y)))
    excess = {}
    for b in (4, 16, 64):
        res = _sgd(b)
        tail = np.asarray(res.loss[200:]) - loss_min  # stationary: last 2,000 steps
        excess[b] = tail.mean()
        assert float(res.loss[0]) > 100 * excess[b]  # it converged to the floor
    # Small-lr theory: the stationary excess loss is proportional to the variance of
    # a minibatch gradient, (P - B) / (B (P - 1)) for batches drawn without
    # replacement. 25% band: O(lr * curvature) corrections (~10% measured) and the
    # correlation of successive records (standard errors ~4%).
    var = {b: (P - b) / (b * (P - 1)) for b in excess}
    for b1, b2 in ((4, 16), (16, 64)):
        ratio = excess[b1] / excess[b2]
        assert ratio == pytest.approx(var[b1] / var[b2], rel=0.25), (b1, b2, ratio)
    full = _sgd(P)  # no noise: converges to the least-squares loss
    assert abs(float(full.loss[-1]) - loss_min) < 1e-5 * loss_min + 1e-6


def test_minibatches_are_fresh_and_drawn_from_the_key():
    a, b, c = _sgd(8, steps=50), _sgd(8, steps=50), _sgd(8, jax.random.key(2), 50)
    _equal(a, b)
    assert not np.allclose(a.loss[1:], c.loss[1:])


def test_momentum_and_adam_train_under_jit_and_sweep_hyperparameters():
    @jax.jit
    def final_loss(momentum):
        opt = training.Optimizer("momentum", batch_size=32, momentum=momentum)
        return training.run(
            _mse,
            jnp.zeros(D),
            0.01,
            steps=200,
            record_every=200,
            optimizer=opt,
            data=_regression(),
            key=jax.random.key(0),
        ).loss[-1]

    losses = jax.vmap(final_loss)(jnp.array([0.0, 0.5, 0.9]))
    first = float(_mse(jnp.zeros(D), _regression()))
    assert np.all(np.asarray(losses) < first)
    assert len(set(np.asarray(losses).tolist())) == 3


# -- divergence, records, dtypes -----------------------------------------------------


def test_divergence_is_flagged_frozen_and_masked():
    # GD on 1/2 lam w^2 multiplies w by (1 - lr lam) = -3 a step, so the loss is
    # loss0 * 9^k; the first k with loss0 * 9^k > BLOWUP (1 + loss0) is where it stops.
    lam, lr = 2.0, 2.0
    loss0 = 0.5 * lam
    first = next(
        k for k in range(100) if loss0 * 9.0**k > training.BLOWUP * (1 + loss0)
    )
    res = training.run(
        lambda w: 0.5 * lam * w**2,
        jnp.array(1.0),
        lr,
        steps=40,
        record_every=4,
        observe=lambda w: {"w": w, "sign": jnp.sign(w).astype(jnp.int32)},
    )
    assert int(res.diverged_step) == first
    np.testing.assert_allclose(res.params, (-3.0) ** first, rtol=1e-6)  # frozen
    after = np.asarray(res.step) >= first  # issue 12: the record at the cut too
    assert np.all(np.isnan(res.loss[after])) and np.all(
        np.isnan(res.observed["w"][after])
    )
    assert np.all(np.isfinite(res.loss[~after]))
    assert np.all(res.observed["sign"] != 0)  # integer leaves are not masked
    stable = training.run(
        lambda w: 0.5 * w**2, jnp.array(1.0), 0.1, steps=40, record_every=4
    )
    assert int(stable.diverged_step) == -1


def test_non_finite_parameters_count_as_divergence():
    # The loss is finite at step 0 but the float32 update overflows to -inf.
    w0 = jnp.array(1.0, jnp.float32)
    res = training.run(lambda w: 1e30 * w, w0, 1e10, steps=4, record_every=1)
    assert int(res.diverged_step) == 0
    assert np.all(np.isnan(res.loss[1:]))


def test_records_steps_and_dtypes_follow_the_precision():
    res = training.run(_quadratic, W0, 0.1, steps=12, record_every=4)
    assert res.step.tolist() == [0, 4, 8, 12]
    assert res.observed is None
    index_dtype = jnp.arange(1).dtype  # int64 under JAX_ENABLE_X64=1, else int32
    assert res.step.dtype == res.diverged_step.dtype == index_dtype
    assert res.loss.dtype == W0.dtype
    with enable_x64(True):  # jax 0.7.2 (oldest supported) lacks jax.enable_x64
        w64 = jnp.asarray(np.array([1.0, -2.0]), jnp.float64)
        res64 = training.run(
            _quadratic,
            w64,
            0.1,
            steps=4,
            record_every=2,
            optimizer=training.Optimizer("adam", batch_size=None),
        )
        assert res64.loss.dtype == jnp.float64
        assert res64.diverged_step.dtype == jnp.int64


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"name": "sgd"}, ValueError, r"minibatch SGD is Optimizer\(name='gd'"),
        ({"name": "rmsprop"}, ValueError, "name must be one of 'gd', 'momentum'"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got batch_size=0"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
        ({"momentum": 1.0}, ValueError, "momentum must be < 1, got momentum=1"),
        ({"momentum": -0.1}, ValueError, "momentum must be >= 0"),
        ({"b2": 1.5}, ValueError, "b2 must be < 1, got b2=1.5"),
        ({"eps": 0.0}, ValueError, "eps must be > 0, got eps=0"),
        ({"b1": float("nan")}, ValueError, "b1 must be finite"),
    ],
)
def test_invalid_optimizer_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        training.Optimizer(**kwargs)


def test_a_zero_per_tensor_lr_freezes_that_tensor():
    # random features with a trained readout: lr 0 leaves the tensor bit-exact
    params = {"features": jnp.ones(3), "readout": jnp.ones(3)}

    def loss(p):
        return 0.5 * jnp.sum((p["features"] * p["readout"] - 2.0) ** 2)

    out = training.run(
        loss, params, {"features": 0.0, "readout": 0.1}, steps=4, record_every=2
    )
    assert jnp.array_equal(out.params["features"], params["features"])
    assert not jnp.array_equal(out.params["readout"], params["readout"])
    with pytest.raises(ValueError, match="every per-tensor learning rate is 0"):
        training.run(
            loss, params, {"features": 0.0, "readout": 0.0}, steps=4, record_every=2
        )
    with pytest.raises(ValueError, match=r"lr \(per tensor\) must be >= 0"):
        training.run(
            loss, params, {"features": -0.1, "readout": 0.1}, steps=4, record_every=2
        )


def test_invalid_run_arguments_raise():
    run = functools.partial(training.run, _quadratic, W0)
    with pytest.raises(ValueError, match="lr must be > 0, got lr=-0.1"):
        run(-0.1, steps=4, record_every=2)
    with pytest.raises(ValueError, match="lr must be a scalar or a pytree"):
        run({"a": 0.1}, steps=4, record_every=2)
    with pytest.raises(ValueError, match="record_every must divide steps"):
        run(0.1, steps=5, record_every=2)
    with pytest.raises(ValueError, match="steps must be >= 1, got steps=0"):
        run(0.1, steps=0, record_every=1)
    with pytest.raises(TypeError, match="optimizer must be an lm_sims.training"):
        run(0.1, steps=4, record_every=2, optimizer="adam")
    sgd = training.Optimizer(batch_size=4)
    with pytest.raises(ValueError, match="batch_size=4 needs data"):
        run(0.1, steps=4, record_every=2, optimizer=sgd)
    mse = functools.partial(
        training.run,
        _mse,
        jnp.zeros(D),
        0.1,
        steps=4,
        record_every=2,
        data=_regression(),
    )
    with pytest.raises(TypeError, match="minibatch SGD needs a PRNG key"):
        mse(optimizer=sgd)
    with pytest.raises(ValueError, match="batch_size must be <= the number of samples"):
        mse(optimizer=training.Optimizer(batch_size=P + 1), key=jax.random.key(0))
    with pytest.raises(ValueError, match="same leading"):
        training.run(
            _mse,
            jnp.zeros(D),
            0.1,
            steps=4,
            record_every=2,
            data=(jnp.ones((3, D)), jnp.ones(4)),
        )
