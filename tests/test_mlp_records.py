"""mlp.train's records reuse the step's forward pass and keep their values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import mlp, training

KEY = jax.random.key(11)
CFG = mlp.Config(width=32, d_in=3, num_train=16, steps=12, record_every=1, lr=0.1)


def _count_dots(jaxpr) -> int:
    n = 0
    for eqn in jaxpr.eqns:
        n += eqn.primitive.name == "dot_general"
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    n += _count_dots(inner)
    return n


def test_a_record_adds_no_forward_pass_under_full_batch_steps():
    x, y = mlp.training_data(KEY, CFG)
    p = mlp.init(KEY, CFG)
    step = _count_dots(
        jax.make_jaxpr(jax.grad(lambda q: mlp.loss(q, x, y, CFG)))(p).jaxpr
    )
    forward = _count_dots(jax.make_jaxpr(lambda q: mlp.apply(q, x, CFG))(p).jaxpr)
    whole = _count_dots(jax.make_jaxpr(mlp._train)(KEY, CFG, x, y, None).jaxpr)
    # the loss at step 0 (the divergence limit), the scan body traced once (one
    # gradient step, whose forward pass feeds the record) and the final record;
    # the old loop had two more forward passes per record (the loss and f_train)
    assert whole == step + 2 * forward


@pytest.mark.parametrize(
    "cfg",
    [
        CFG,
        CFG.replace(record_every=4),
        CFG.replace(optimizer="adam", lr=0.01, record_every=3),
        CFG.replace(batch_size=4, record_every=2),
    ],
)
def test_records_equal_the_loss_of_the_recorded_outputs(cfg):
    traj = mlp.train(KEY, cfg)
    x, y = mlp.training_data(KEY, cfg)
    loss = 0.5 * jnp.mean(jnp.sum((traj.f_train - y) ** 2, axis=-1), axis=-1)
    # the same formula on the same outputs: equal up to the rounding of fusion
    tol = 1e-6 if jnp.zeros(()).dtype == jnp.float32 else 1e-14
    np.testing.assert_allclose(traj.loss, loss, rtol=tol)
    # and the run itself matches a training.run without the aux path, step by step
    p0 = mlp.init(KEY, cfg)
    lr = tuple(
        mlp.Layer(cfg.lr * s.w_lr, cfg.lr * s.b_lr) for s in mlp.layer_scales(cfg)
    )
    scale = 0.5 * jnp.mean(jnp.sum(y**2, axis=-1))
    ref = training.run(
        lambda q, b: mlp.loss(q, b[0], b[1], cfg),
        p0,
        lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        optimizer=cfg.optimizer_config,
        data=(x, y),
        key=jax.random.fold_in(KEY, 2),
        loss_scale=scale,
    )
    np.testing.assert_allclose(traj.loss, ref.loss, rtol=100 * tol)


def test_has_aux_must_be_a_bool():
    with pytest.raises(TypeError, match="has_aux must be True or False"):
        training.run(
            lambda w: jnp.sum(w**2),
            jnp.ones(2),
            0.1,
            steps=2,
            record_every=1,
            has_aux=1,
        )
