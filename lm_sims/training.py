# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
"""One training loop for every model family: Optax optimizers inside one ``lax.scan``.

:func:`run` trains any parameter pytree on any loss with full-batch gradient descent
(the default), minibatch SGD, momentum or Adam (:class:`Optimizer`), all built from
Optax transformations. The loop records the full-data loss and a user ``observe``
hook every ``record_every`` steps, and stops updating at the first step whose loss or
parameters blow up, so a diverging run is a result (``diverged_step >= 0``), never a
crash or a wall of NaN.

Learning rates are a scalar or a pytree matching the parameters (per-tensor rates,
as muP needs): the update of a tensor ``w`` with rate ``a`` is
``w <- w + (-a) * u`` where ``u`` is the optimizer's direction (the gradient for GD).

References:
    Robbins & Monro, "A stochastic approximation method", 1951 (SGD).
    Polyak, "Some methods of speeding up the convergence of iteration methods",
    1964 (heavy-ball momentum).
    Kingma & Ba, "Adam: a method for stochastic optimization", 2015,
    arXiv:1412.6980.
    DeepMind et al., "The DeepMind JAX Ecosystem", 2020 (Optax).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from lm_sims._config import (
    STEP_OVERHEAD,
    check_allocation,
    check_budget_arg,
    check_callable,
    check_choice,
    check_finite,
    check_instance,
    check_int,
    check_key,
    check_real,
    check_record_every,
    check_representable,
    check_work,
    config_dataclass,
    is_concrete,
)

__all__ = [
    "ADAM_DIVERGENCE_FACTOR",
    "BLOWUP",
    "DIVERGENCE_FACTOR",
    "OPTIMIZERS",
    "Optimizer",
    "RunResult",
    "divergence_limit",
    "make_optimizer",
    "run",
]

#: The divergence criterion of every gradient-descent loop in lm_sims (GD, SGD,
#: momentum, and the modules' own loops): a run has diverged at the first step
#: whose loss is not finite or exceeds ``DIVERGENCE_FACTOR * (|loss_0| +
#: loss_scale)`` (:func:`divergence_limit`), a thousand times both its start and
#: the loss of a trivial predictor (``loss_scale``); past it the run has left any
#: sensible range, and a gradient step that large grows geometrically. Transient
#: spikes that recover (edge of stability, catapults) stay far below it: the
#: largest ratio ``max_k loss_k / (|loss_0| + 1)`` of a run that does not
#: diverge, over every run of tests/test_edge_of_stability.py,
#: test_central_flow.py, test_transfer.py, test_sgd_noise.py and their test_viz_*
#: files (measured 2026-12 with the old cut at 1e8), is 183: the catapult of
#: central_flow's two-parameter toy, which then converges to loss < 1e-8; the
#: edge-of-stability networks of Chapter 3 stay below 3, GD in Chapter 4.1 below
#: 21. The factor leaves a margin of 5x over the largest.
DIVERGENCE_FACTOR = 1e3
#: The factor for Adam, whose step moves each entry by about ``lr`` whatever the
#: gradient: at a large rate its first steps overshoot and the loss spikes, then
#: falls back (Chapter 4.1's sweep: spikes up to ``7e5 * (|loss_0| + 1)`` at step 1
#: in runs that end below their start), so an Adam run is cut only past 1e8 x or
#: when not finite.
ADAM_DIVERGENCE_FACTOR = 1e8
#: The gradient-descent factor under its former name.
BLOWUP = DIVERGENCE_FACTOR
#: Optimizer names accepted by :class:`Optimizer`.
OPTIMIZERS = ("gd", "momentum", "adam")


@config_dataclass(static=("name", "batch_size"))
class Optimizer:
    """An optimizer: its kind, batch size and hyperparameters (a pytree config).

    The learning rate is not part of it: it is given to :func:`run` as a scalar or
    a pytree matching the parameters.

    Attributes:
        name: ``"gd"`` (plain steps along the gradient), ``"momentum"`` (heavy-ball,
            ``optax.trace``) or ``"adam"`` (``optax.scale_by_adam``). Static.
        batch_size: None for full-batch steps, or an int >= 1: minibatch SGD with a
            fresh batch of ``batch_size`` distinct samples (drawn without
            replacement within the batch, independently at every step). Static.
        momentum: momentum decay ``beta`` in [0, 1) for ``"momentum"``:
            ``v <- g + beta v``, ``w <- w - lr v``. Dynamic.
        b1: Adam's first-moment decay in [0, 1). Dynamic.
        b2: Adam's second-moment decay in [0, 1). Dynamic.
        eps: Adam's denominator offset (> 0). Dynamic.

    Example:
        >>> from lm_sims import training
        >>> training.Optimizer("adam", batch_size=32).b1
        0.9
    """

    name: str = "gd"
    batch_size: int | None = None
    momentum: float = 0.9
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def _validate(self):
        if self.name == "sgd":
            raise ValueError(
                "name='sgd' is not an optimizer name here: minibatch SGD is "
                "Optimizer(name='gd', batch_size=B) (plain SGD) or name='momentum' "
                f"with a batch_size; names are {', '.join(map(repr, OPTIMIZERS))}"
            )
        check_choice("name", self.name, OPTIMIZERS)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)
        check_real("momentum", self.momentum, low=0.0)
        if float(self.momentum) >= 1.0:
            raise ValueError(f"momentum must be < 1, got momentum={self.momentum:g}")
        for name in ("b1", "b2"):
            value = getattr(self, name)
            check_real(name, value, low=0.0)
            if float(value) >= 1.0:
                raise ValueError(f"{name} must be < 1, got {name}={value:g}")
        check_real("eps", self.eps, positive=True)


class RunResult(NamedTuple):
    """What :func:`run` returns (``records = steps // record_every + 1``).

    Attributes:
        step: (records,) int, the step of each record: 0, r, 2r, ..., steps.
        loss: (records,) the full-data loss at each record; NaN after divergence.
        observed: ``observe(params)`` at each record, every leaf with a leading
            records axis (floating leaves NaN after divergence), or None.
        params: parameters after the last step (frozen at the last finite step if
            the run diverged).
        diverged_step: () int, the first step whose loss or parameters blew up, or
            -1. Its dtype is the loop index's (int64 under ``jax_enable_x64``).
    """

    step: Int[Array, " records"]
    loss: Float[Array, " records"]
    observed: Any
    params: Any
    diverged_step: Int[Array, ""]


def divergence_limit(
    loss0: Any, loss_scale: Any = 1.0, factor: float = DIVERGENCE_FACTOR
) -> Any:
    """The loss above which a run counts as diverged:
    ``factor * (|loss0| + loss_scale)``.

    Args:
        loss0: the loss at step 0 (scalar, may be traced).
        loss_scale: the loss of a trivial predictor in the problem's units (e.g.
            ``1/2 mean |y|^2``, the loss of ``f = 0``), > 0; default 1.
        factor: ``DIVERGENCE_FACTOR`` (1e3, gradient steps; default) or
            ``ADAM_DIVERGENCE_FACTOR`` (1e8, Adam).

    Returns:
        The limit, a scalar of the dtype of ``loss0``.

    Raises:
        TypeError: a concrete argument is not a real number.
        ValueError: a concrete argument is NaN or inf, or loss_scale or factor
            is <= 0 (traced arguments, inside ``jit`` / ``vmap``, are not checked).

    Example:
        >>> from lm_sims import training
        >>> float(training.divergence_limit(2.0, 1.0))
        3000.0
    """
    if is_concrete(loss0):
        check_real("loss0", loss0)
    if is_concrete(loss_scale):
        check_real("loss_scale", loss_scale, positive=True)
    if is_concrete(factor):
        check_real("factor", factor, positive=True)
    return _divergence_limit(loss0, loss_scale, factor)


def _divergence_limit(loss0, loss_scale, factor):
    # unchecked: run() applies it to its own loss at step 0, which may be NaN or
    # inf (a run that diverges at step 0 is a result, not an error)
    return factor * (jnp.abs(loss0) + loss_scale)


def _is_scalar(lr) -> bool:
    # np.ndim: None or a string is a "scalar" here, refused by check_real later
    # (jnp.ndim warns on them); np.ndim reads .ndim of arrays and tracers
    return not isinstance(lr, (dict, list, tuple)) and np.ndim(lr) == 0


def make_optimizer(
    optimizer: Optimizer, lr: Any, params: Any
) -> optax.GradientTransformation:
    """The Optax transformation for ``optimizer`` with learning rate(s) ``lr``.

    ``optax.chain(direction, scale by -lr)`` where the direction is the gradient
    (``"gd"``), ``optax.trace(momentum)`` or ``optax.scale_by_adam(b1, b2, eps)``,
    and ``-lr`` is applied tensor by tensor when ``lr`` is a pytree.

    Args:
        optimizer: an :class:`Optimizer`.
        lr: learning rate, a scalar or a pytree with the structure of ``params``
            (one scalar per tensor).
        params: the parameter pytree (only its structure is used).

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        TypeError: optimizer is not an :class:`Optimizer`, params is not a pytree
            of floating arrays, or lr is not a real number.
        ValueError: lr is not > 0 and finite (per-tensor rates >= 0, not all 0),
            does not match the structure of params, or params has NaN or inf
            entries (traced values are not checked).
    """
    check_instance("optimizer", optimizer, Optimizer)
    _check_params(params)
    _check_lr(lr, params)
    if _is_scalar(lr):
        lr_tree = jax.tree_util.tree_map(lambda _: lr, params)
    else:
        lr_tree = lr

    def scale(updates, _params=None):
        return jax.tree_util.tree_map(lambda u, a: -a * u, updates, lr_tree)

    descend = optax.stateless(scale)
    if optimizer.name == "gd":
        return descend
    if optimizer.name == "momentum":
        return optax.chain(optax.trace(decay=optimizer.momentum), descend)
    return optax.chain(
        optax.scale_by_adam(b1=optimizer.b1, b2=optimizer.b2, eps=optimizer.eps),
        descend,
    )


def _check_lr(lr, params):
    if _is_scalar(lr):
        leaves = [lr]
    else:
        if jax.tree_util.tree_structure(lr) != jax.tree_util.tree_structure(params):
            raise ValueError(
                "lr must be a scalar or a pytree with the structure of params; got "
                f"{jax.tree_util.tree_structure(lr)} for params "
                f"{jax.tree_util.tree_structure(params)}"
            )
        leaves = jax.tree_util.tree_leaves(lr)
    for a in leaves:
        if np.ndim(a) != 0:
            raise ValueError(
                f"every learning rate must be a scalar, got shape {jnp.shape(a)}"
            )
    if _is_scalar(lr):
        if is_concrete(lr):
            check_real("lr", lr, positive=True)
            check_representable("lr", lr)
        return
    # per-tensor rates: 0 freezes a tensor (e.g. random features with a trained
    # readout); at least one tensor must train
    concrete = [a for a in leaves if is_concrete(a)]
    for a in concrete:
        check_real("lr (per tensor)", a, nonnegative=True)
        check_representable("lr (per tensor)", a)
    if concrete and len(concrete) == len(leaves) and all(float(a) == 0 for a in leaves):
        raise ValueError(
            "every per-tensor learning rate is 0, so nothing would train; give at "
            "least one tensor lr > 0"
        )


def _num_samples(data) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("data must hold at least one array")
    for x in leaves:
        if isinstance(x, (str, bytes)) or not hasattr(x, "shape"):
            raise TypeError(
                "every leaf of data must be an array with a leading sample axis, "
                f"got {type(x).__name__} {x!r:.60}; convert lists with jnp.asarray"
            )
    sizes = {int(jnp.shape(x)[0]) if jnp.ndim(x) else -1 for x in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(
            "every array in data must have the same leading (sample) axis, got "
            f"shapes {[tuple(jnp.shape(x)) for x in leaves]}"
        )
    num = sizes.pop()
    if num < 1:
        raise ValueError(f"data must hold at least one sample, got P={num}")
    return num


def _check_data(data):
    _num_samples(data)
    for i, x in enumerate(jax.tree_util.tree_leaves(data)):
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            check_finite(f"data leaf {i}", x)


def _check_params(params):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must hold at least one array, got an empty pytree")
    for i, x in enumerate(leaves):
        if isinstance(x, (str, bytes)) or not jnp.issubdtype(
            jnp.result_type(x), jnp.floating
        ):
            raise TypeError(
                f"params must be floating arrays (gradients need them), got leaf "
                f"{i} of type {type(x).__name__} and dtype "
                f"{getattr(x, 'dtype', None)}; use e.g. jnp.asarray(x, float)"
            )
        check_finite(f"params leaf {i}", x)


def _as_record(tree):
    """Check that ``observe`` returned a pytree of numbers or arrays."""

    def leaf(x):
        if not isinstance(x, (str, bytes)):
            try:
                return jnp.asarray(x)
            except TypeError:
                pass
        raise TypeError(
            "observe must return a pytree of arrays or numbers, got a leaf of type "
            f"{type(x).__name__}: {x!r:.60}"
        )

    return jax.tree_util.tree_map(leaf, tree)


def _mask(rec, diverged):
    def f(x):
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.where(diverged, jnp.nan, x)
        return x

    return jax.tree_util.tree_map(f, rec)


def _all_finite(tree) -> jax.Array:
    return jnp.all(
        jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)])
    )


def run(
    loss_fn: Callable[..., Float[Array, ""]],
    params: Any,
    lr: Any,
    *,
    steps: int,
    record_every: int,
    optimizer: Optimizer | None = None,
    data: Any = None,
    key: jax.Array | None = None,
    observe: Callable[[Any], Any] | None = None,
    loss_scale: Any = 1.0,
    max_work: float | None = None,
    has_aux: bool = False,
) -> RunResult:
    r"""Train ``params`` on ``loss_fn`` for ``steps`` steps in one ``lax.scan``.

    Every step computes the gradient of the loss on the full data (default) or on a
    fresh minibatch, turns it into an update with the :class:`Optimizer` (Optax), and
    applies it with learning rate(s) ``lr``. Full-batch gradient descent is

    .. math:: \theta_{k+1} = \theta_k - \eta\, \nabla \mathcal{L}(\theta_k).

    At steps 0, ``record_every``, ..., ``steps`` it records the full-data loss and
    ``observe(params)``. With ``has_aux`` and full-batch steps a record costs no
    forward pass of its own: its loss and the outputs ``observe`` reads come from
    the forward pass of the step taken at the same parameters; otherwise it costs
    one full-data forward pass. The first step whose loss (the minibatch's at
    a step, the full data's at a record) is non-finite or exceeds
    ``DIVERGENCE_FACTOR * (|loss_0| + loss_scale)`` (:func:`divergence_limit`: a
    thousand times its start; ``ADAM_DIVERGENCE_FACTOR`` = 1e8 for Adam, whose
    recovering spikes are larger), or whose update makes a parameter non-finite, is
    ``diverged_step``: from then on the parameters (and optimizer state) stay frozen
    and the floating leaves of every record at or after ``diverged_step`` are NaN,
    so no figure can plot a point of the blow-up.

    Works eagerly and under ``jax.jit`` / ``vmap`` (call it inside a jitted
    function to compile once: ``loss_fn`` and ``observe`` are traced each call).

    Args:
        loss_fn: ``loss_fn(params)`` if ``data`` is None, else
            ``loss_fn(params, batch)`` with ``batch`` a pytree like ``data`` whose
            arrays hold a subset of its samples (leading axis). Returns a scalar.
        params: the initial parameter pytree (floating arrays).
        lr: learning rate > 0: a scalar, or a pytree with the structure of
            ``params`` holding one scalar per tensor (per-tensor rates, e.g. muP).
            Time on the book's axes is ``t = lr * step``.
        steps: number of optimizer steps (int >= 1).
        record_every: record every this many steps (int >= 1, divides ``steps``).
        optimizer: an :class:`Optimizer`; default full-batch gradient descent.
        data: a pytree of arrays with a shared leading sample axis of size P, or
            None. Needed for minibatches.
        key: PRNG key for the minibatches; required when
            ``optimizer.batch_size`` is set, unused otherwise.
        observe: any function of the parameters, evaluated at every record (e.g.
            sharpness, a kernel, representations); returns a pytree. None: record
            nothing beyond the loss.
        loss_scale: the loss of a trivial predictor in the problem's units
            (e.g. ``1/2 mean |y|^2``, the loss of ``f = 0``; > 0, default 1), the
            floor of the divergence limit when ``loss_0`` is small.
        max_work: refuse runs estimated above this many flop-equivalents
            (``steps * (6 * parameters * samples + STEP_OVERHEAD)``); default
            ``lm_sims._config.MAX_WORK`` (1e13, about ten minutes on a laptop);
            ``math.inf`` for no limit.
        has_aux: if True, ``loss_fn`` returns ``(loss, aux)`` (``aux`` any pytree,
            e.g. the network's outputs on the batch) and ``observe`` is called as
            ``observe(params, aux)`` with the ``aux`` of the full data at the
            record's parameters, so a record reuses the step's forward pass.

    Returns:
        :class:`RunResult` with ``steps // record_every + 1`` records.

    Raises:
        ValueError: ``steps`` or ``record_every`` out of range or not dividing
            (``steps`` above the int32 step counter without x64), ``lr`` <= 0 or
            not matching ``params``, ``batch_size`` > P, data arrays with
            different leading axes or no samples, NaN or inf in ``params`` or
            ``data``, empty ``params``, a minibatch optimizer without ``data``,
            an ``lr`` that is 0 or inf in the run's dtype (float32: outside
            [1.2e-38, 3.4e38]), a run estimated above ``max_work``, or records
            of ``observe`` that would exceed ``lm_sims._config.MAX_BYTES`` (the
            messages give the estimates).
        TypeError: ``optimizer`` is not an :class:`Optimizer`; ``loss_fn`` or
            ``observe`` not callable; ``loss_fn`` not returning a scalar;
            ``observe`` returning something other than arrays or numbers;
            ``params`` not floating; ``key`` missing when minibatches are drawn,
            or not a single PRNG key.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import training
        >>> res = training.run(lambda w: 0.5 * jnp.sum(w**2), jnp.ones(3), 0.5,
        ...                    steps=4, record_every=2)
        >>> res.loss.tolist()  # the loss falls by (1 - lr)^2 = 1/4 a step
        [1.5, 0.09375, 0.005859375]
    """
    optimizer = Optimizer() if optimizer is None else optimizer
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "optimizer must be an lm_sims.training.Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    check_callable("loss_fn", loss_fn, optional=False)
    check_callable("observe", observe)
    check_int("steps", steps, minimum=1)
    check_int("record_every", record_every, minimum=1)
    index_dtype = jnp.arange(1).dtype
    if steps > jnp.iinfo(index_dtype).max:
        raise ValueError(
            f"steps must be <= {jnp.iinfo(index_dtype).max} (the {index_dtype} step "
            f"counter; set JAX_ENABLE_X64=1 for more), got steps={steps}"
        )
    check_record_every(steps, record_every)
    check_budget_arg("max_work", max_work)
    if not isinstance(has_aux, bool):
        raise TypeError(f"has_aux must be True or False, got has_aux={has_aux!r}")
    if is_concrete(loss_scale):
        check_real("loss_scale", loss_scale, positive=True)
    _check_params(params)
    _check_lr(lr, params)
    if key is not None and is_concrete(key):
        check_key(key)
    batch_size = optimizer.batch_size
    if batch_size is not None:
        if data is None:
            raise ValueError(
                f"batch_size={batch_size} needs data (a pytree of arrays with a "
                "leading sample axis) to draw minibatches from"
            )
        if key is None:
            raise TypeError("minibatch SGD needs a PRNG key: pass key=...")
        _check_data(data)
        num = _num_samples(data)
        if batch_size > num:
            raise ValueError(
                f"batch_size must be <= the number of samples P={num}, got "
                f"batch_size={batch_size}"
            )
    elif data is not None:
        _check_data(data)
    num_params = sum(
        float(np.prod(jnp.shape(x))) for x in jax.tree_util.tree_leaves(params)
    )
    samples = 1 if data is None else (batch_size or _num_samples(data))
    check_work(
        f"{steps} steps of {num_params:.0f} parameters on {samples} samples",
        steps * (6.0 * num_params * samples + STEP_OVERHEAD),
        "use fewer steps or a smaller model",
        max_work,
    )

    def full_loss_aux(p):
        out = loss_fn(p) if data is None else loss_fn(p, data)
        return out if has_aux else (out, None)

    def batch_loss(p, i):
        if batch_size is None:
            return full_loss_aux(p)
        num = _num_samples(data)
        k = jax.random.fold_in(key, i)  # a fresh batch at every step
        idx = jax.random.choice(k, num, (batch_size,), replace=False)
        batch = jax.tree_util.tree_map(lambda x: x[idx], data)
        out = loss_fn(p, batch)
        return out if has_aux else (out, None)

    def observe_fn(p, aux):
        if observe is None:
            return None
        return _as_record(observe(p, aux) if has_aux else observe(p))

    num_records = steps // record_every + 1
    loss0, aux0 = full_loss_aux(params)
    if jnp.shape(loss0) != ():
        raise TypeError(
            f"loss_fn must return a scalar, got shape {jnp.shape(loss0)} (reduce "
            "it, e.g. with jnp.mean)"
        )
    shapes = jax.eval_shape(observe_fn, params, aux0)
    per_record = sum(
        float(np.prod(x.shape)) * x.dtype.itemsize
        for x in jax.tree_util.tree_leaves(shapes)
    )
    check_allocation(
        f"recording observe at {num_records} records",
        num_records * per_record,
        "record less often (a larger record_every) or observe less",
    )
    tx = make_optimizer(optimizer, lr, params)
    value_and_grad = jax.value_and_grad(batch_loss, has_aux=True)
    factor = ADAM_DIVERGENCE_FACTOR if optimizer.name == "adam" else DIVERGENCE_FACTOR
    limit = _divergence_limit(loss0, loss_scale, factor)

    def blown(loss):
        return (~jnp.isfinite(loss)) | (loss > limit)

    def step(carry, _, loss_grads=None):
        p, state, diverged_step, i = carry
        if loss_grads is None:
            (loss, _aux), grads = value_and_grad(p, i)
        else:
            loss, grads = loss_grads
        updates, new_state = tx.update(grads, state, p)
        new = optax.apply_updates(p, updates)
        bad = blown(loss) | (~_all_finite(new))
        newly = bad & (diverged_step < 0)
        diverged_step = jnp.where(newly, i, diverged_step)
        keep = diverged_step >= 0
        p, state = jax.tree_util.tree_map(
            lambda a, b: jnp.where(keep, a, b), (p, state), (new, new_state)
        )
        return (p, state, diverged_step, i + 1), None

    def record(carry, loss_aux=None):
        # the full-data loss at a record also counts (minibatch steps see a batch)
        p, state, diverged_step, i = carry
        loss, aux = full_loss_aux(p) if loss_aux is None else loss_aux
        rec = (loss, observe_fn(p, aux))
        newly = blown(rec[0]) & (diverged_step < 0)
        diverged_step = jnp.where(newly, i, diverged_step)
        return (p, state, diverged_step, i), _mask(rec, diverged_step >= 0)

    def block(carry, _):
        if batch_size is None and has_aux:
            # full batch: the record and the step share one forward pass (the
            # step's loss at these parameters is the record's full-data loss;
            # only with has_aux, so that the other loops keep their numbers bit
            # for bit: the fused loss can differ from a separate forward pass in
            # the last bit)
            (loss, aux), grads = value_and_grad(carry[0], carry[3])
            carry, rec = record(carry, (loss, aux))
            carry, _ = step(carry, None, (loss, grads))
            rest = record_every - 1
        else:
            carry, rec = record(carry)
            rest = record_every
        # the step counter is in the carry: no (steps,) index array is allocated
        if rest:
            carry, _ = jax.lax.scan(step, carry, None, length=rest)
        return carry, rec

    carry = (
        params,
        tx.init(params),
        jnp.full((), -1, index_dtype),
        jnp.zeros((), index_dtype),
    )
    carry, recs = jax.lax.scan(block, carry, None, length=steps // record_every)
    carry, last = record(carry)
    p, _, diverged_step, _ = carry
    losses, observed = jax.tree_util.tree_map(
        lambda r, x: jnp.concatenate([r, x[None]]), recs, last
    )
    record_steps = jnp.arange(0, steps + 1, record_every, dtype=index_dtype)
    # no record at or after the diverged step is reported (a record is taken
    # before its step: the one at diverged_step already holds the blown-up loss)
    after = (diverged_step >= 0) & (record_steps >= diverged_step)
    losses, observed = jax.tree_util.tree_map(
        lambda x: _mask_rows(x, after), (losses, observed)
    )
    return RunResult(record_steps, losses, observed, p, diverged_step)


def _mask_rows(x, rows):
    """NaN in the floating rows (leading axis) of ``x`` where ``rows`` is True."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return jnp.where(rows.reshape(rows.shape + (1,) * (x.ndim - 1)), jnp.nan, x)
