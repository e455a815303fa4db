"""Full-batch gradient descent as one ``lax.scan``, shared by every model family.

The loop records an observable every ``record_every`` steps and stops updating the
parameters at the first step whose loss is non-finite or has blown up, so a diverging
run is a result (``diverged_step >= 0``) rather than a crash or a wall of NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# A run is marked diverged once its loss exceeds this multiple of (1 + initial loss).
BLOWUP = 1e8


class GDResult(NamedTuple):
    records: Any  # pytree, leading axis = num_records (= steps // record_every + 1)
    params: Any  # final parameters (frozen at the last finite step if diverged)
    diverged_step: jax.Array  # int32 scalar: first step whose loss blew up, or -1


def gradient_descent(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    lr: Any,
    steps: int,
    record_every: int,
    observe: Callable[[Any], Any],
) -> GDResult:
    """Run ``steps`` steps of ``params <- params - lr * grad loss_fn(params)``.

    ``lr`` is a scalar or a pytree matching ``params`` (per-tensor learning rates,
    as muP needs). Records ``observe(params)`` at steps 0, record_every, ..., steps
    (``record_every`` must divide ``steps``). After divergence, records repeat the
    last finite state with ``nan`` in floating leaves, so callers can mask them.
    """
    value_and_grad = jax.value_and_grad(loss_fn)
    loss0 = loss_fn(params)
    limit = BLOWUP * (1.0 + jnp.abs(loss0))
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
        rec = _mask(rec, diverged_step >= 0)
        carry, _ = jax.lax.scan(
            step, carry, b * record_every + jnp.arange(record_every)
        )
        return carry, rec

    if steps % record_every:
        raise ValueError(
            f"record_every must divide steps, got steps={steps}, "
            f"record_every={record_every}"
        )
    carry = (params, jnp.asarray(-1, jnp.int32))
    carry, recs = jax.lax.scan(block, carry, jnp.arange(steps // record_every))
    p, diverged_step = carry
    last = _mask(observe(p), diverged_step >= 0)
    records = jax.tree_util.tree_map(
        lambda r, x: jnp.concatenate([r, x[None]]), recs, last
    )
    return GDResult(records, p, diverged_step)


def _mask(rec, diverged):
    def f(x):
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.where(diverged, jnp.nan, x)
        return x

    return jax.tree_util.tree_map(f, rec)
