"""Deep linear networks: exact learning dynamics (Saxe, McClelland & Ganguli 2014).

A linear network with L weight matrices (``n_layers``), ``f(x) = W_L ... W_1 x``,
trained by full-batch gradient descent on
``loss = 1/(2P) sum_mu ||y_mu - f(x_mu)||^2`` with whitened inputs
(``x.T x / P = I``). The dynamics depend on the data only through the input-output
correlation ``Sigma_yx = U diag(s) V^T``. Each singular mode of the end-to-end map,
``u_i = U_i^T (W_L ... W_1) V_i``, is learned along a sigmoid whose time scale is
``1/s_i``: strong modes first, weak modes after a plateau.

Theory (continuous time ``t = lr * steps``), eq. (1.1) of the book: for L = 2 from
balanced, task-aligned initial strength ``u0``,

    u(t) = s / (1 + (s/u0 - 1) exp(-2 s t)),     t_half = ln(s/u0 - 1) / (2 s),

and for L weight matrices, eq. (1.2), ``dp/dt = L p^(2 - 2/L) (s - p)``, integrated
numerically.

References:
    Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear dynamics of learning
    in deep linear neural networks", 2014, arXiv:1312.6120.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from lm_sims import data as _data
from lm_sims._config import (
    STEP_OVERHEAD,
    as_float_array,
    check_budget_arg,
    check_callable,
    check_choice,
    check_instance,
    check_int,
    check_key,
    check_real,
    check_record_every,
    check_representable,
    check_work,
    config_dataclass,
    diverged_flag,
)
from lm_sims.observables import balancedness, mode_strengths
from lm_sims.training import run

__all__ = [
    "INITS",
    "Config",
    "Params",
    "Trajectory",
    "effective_u0",
    "half_time",
    "init",
    "loss",
    "predict",
    "predict_half_time",
    "train",
]

INITS = ("aligned", "random")
# number of singular modes tracked for each dataset of lm_sims.data.make_task
NUM_MODES = {"synthetic": 4, "tree": 8, "digits": 9}


@config_dataclass(
    static=("width", "n_layers", "steps", "record_every", "dataset", "init")
)
class Config:
    """A deep linear network run.

    Attributes:
        width: hidden width n of every hidden layer (static; >= the number of modes
            of the dataset: 4 synthetic, 8 tree, 9 digits).
        n_layers: number of weight matrices L (static; 2..6).
        steps: gradient-descent steps (static; >= 1).
        record_every: record every this many steps (static; divides ``steps``).
        dataset: ``"synthetic"``, ``"tree"`` or ``"digits"`` (static), see
            :func:`lm_sims.data.make_task`.
        init: ``"aligned"`` (balanced, task-aligned: every mode starts at strength
            ``init_scale``) or ``"random"`` (i.i.d. Gaussian entries with variance
            ``init_scale**(2/L) / sqrt(fan_in * fan_out)``) (static).
        lr: learning rate (> 0; dynamic).
        init_scale: initial mode strength u0 (aligned) or overall scale (random)
            (> 0, <= 10; dynamic). ``lr`` and ``init_scale`` must be nonzero and
            finite in the run's dtype (float32: in [1.2e-38, 3.4e38]).
    """

    width: int = 16
    n_layers: int = 2
    steps: int = 2000
    record_every: int = 10
    dataset: str = "synthetic"
    init: str = "aligned"
    lr: float = 0.01
    init_scale: float = 1e-3

    def _validate(self):
        check_int("width", self.width, minimum=1)
        check_int("n_layers", self.n_layers, minimum=2, maximum=6)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1, maximum=self.steps)
        check_record_every(self.steps, self.record_every)
        check_choice("dataset", self.dataset, _data.DATASETS)
        check_choice("init", self.init, INITS)
        if self.width < self.num_modes:
            raise ValueError(
                f"width must be >= {self.num_modes} (the number of modes of dataset="
                f"{self.dataset!r}), got width={self.width}"
            )
        check_real("lr", self.lr, positive=True)
        check_real("init_scale", self.init_scale, positive=True, high=10.0)
        check_representable("lr", self.lr)
        check_representable("init_scale", self.init_scale)
        # a = init_scale^(1/L) per layer must be representable too
        check_representable("init_scale ** (1 / n_layers)", self.init_scale**0.5)

    @property
    def num_modes(self) -> int:
        return NUM_MODES.get(self.dataset, 0)


class Params(NamedTuple):
    """Weights ``(W_1, ..., W_L)``: W_1 (width, d_in), hidden (width, width),
    W_L (d_out, width)."""

    weights: tuple[Float[Array, "out in"], ...]


class Trajectory(NamedTuple):
    """A recorded run (``records = steps // record_every + 1``).

    Attributes:
        step: (records,) int, the step of each record (0, record_every, ..., steps).
        t: (records,) the book's time ``t = lr * step`` (float32, or float64 under
            ``jax_enable_x64``).
        mode_strengths: (records, modes) ``u_i = U_i^T W V_i``, modes by descending s.
        loss: (records,) training loss (1/2 MSE).
        balancedness: (records, n_layers - 1) Frobenius norms of
            ``Q_l = W_l W_l^T - W_{l+1}^T W_{l+1}``.
        balancedness_drift: (records, n_layers - 1) ``||Q_l(t) - Q_l(0)||_F``; zero
            under gradient flow, ``O(lr)`` at fixed ``t`` under gradient descent.
        singular_values: (modes,) the ``s_i`` of ``Sigma_yx``, descending.
        u0: (modes,) effective initial strengths for the theory: ``init_scale`` for
            aligned init; ``|W_1 V_i + W_2^T U_i|^2 / 4`` for random init with two
            weight matrices (the component that grows, see :func:`effective_u0`);
            NaN otherwise.
        diverged_step: () int, the first step whose loss blew up, or -1. Records
            after it are NaN.
        observed: what ``train``'s ``observe`` hook recorded (leading axis
            records), or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    mode_strengths: Float[Array, "records modes"]
    loss: Float[Array, " records"]
    balancedness: Float[Array, "records layers"]
    balancedness_drift: Float[Array, "records layers"]
    singular_values: Float[Array, " modes"]
    u0: Float[Array, " modes"]
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``); for swept output
        (leading grid and seed axes) a bool array of those axes."""
        return diverged_flag(self.diverged_step)


def _dims(task: _data.Task, cfg: Config):
    d_in, d_out = task.x.shape[1], task.y.shape[1]
    return [d_in] + [cfg.width] * (cfg.n_layers - 1) + [d_out]


def init(key: jax.Array, cfg: Config, task: _data.Task | None = None) -> Params:
    """Initial weights for ``cfg`` on ``task`` (default: ``make_task(key, dataset)``).

    Aligned init (``cfg.init == "aligned"``): with ``Sigma_yx = U S V^T`` and random
    orthonormal ``R_l`` (width, r), ``W_1 = R_1 a V_r^T``, ``W_l = R_l a R_{l-1}^T``,
    ``W_L = U_r a R_{L-1}^T`` with ``a = init_scale**(1/L)``: balanced and decoupled,
    every mode at strength ``init_scale``.

    Raises:
        TypeError: ``key`` is not a PRNG key, ``cfg`` not a :class:`Config` or
            ``task`` not an ``lm_sims.data.Task``.
        ValueError: ``task`` does not hold x (P, d_in) and y (P, d_out).
    """
    check_key(key)
    check_instance("cfg", cfg, Config)
    if task is not None:
        _check_task(task)
    k_data, k_init = jax.random.split(key)
    if task is None:
        task = _data.make_task(k_data, cfg.dataset)
    return _init(k_init, cfg, task)


def _init(key, cfg: Config, task: _data.Task) -> Params:
    dims = _dims(task, cfg)
    n_layers = cfg.n_layers
    keys = jax.random.split(key, n_layers)
    if cfg.init == "random":
        scale = cfg.init_scale ** (1.0 / n_layers)
        ws = tuple(
            jax.random.normal(k, (dims[i + 1], dims[i]))
            * scale
            / (dims[i] * dims[i + 1]) ** 0.25
            for i, k in enumerate(keys)
        )
        return Params(ws)
    r = cfg.num_modes
    u, _, vt = _data.correlation_svd(task)
    a = cfg.init_scale ** (1.0 / n_layers)
    rs = [_data._orthonormal(k, cfg.width, r) for k in keys[: n_layers - 1]]
    ws = [a * rs[0] @ vt[:r]]
    for i in range(1, n_layers - 1):
        ws.append(a * rs[i] @ rs[i - 1].T)
    ws.append(a * u[:, :r] @ rs[-1].T)
    return Params(tuple(ws))


def _product(params: Params):
    w = params.weights[0]
    for m in params.weights[1:]:
        w = m @ w
    return w


def _check_params(params, d_in: int, d_out: int):
    """Shapes only (tracers pass): a chain W_1 (n, d_in), ..., W_L (d_out, n)."""
    if not isinstance(params, Params):
        raise TypeError(
            f"params must be a deep_linear.Params, got {type(params).__name__}"
        )
    ws = params.weights
    if not isinstance(ws, (tuple, list)) or len(ws) < 2:
        raise ValueError(
            "params.weights must be a tuple of >= 2 matrices (n_layers >= 2), got "
            f"{type(ws).__name__} of length {len(ws) if hasattr(ws, '__len__') else 0}"
        )
    shapes = [tuple(jnp.shape(w)) for w in ws]
    ok = all(len(sh) == 2 for sh in shapes) and all(
        shapes[i + 1][1] == shapes[i][0] for i in range(len(shapes) - 1)
    )
    if not ok or shapes[0][1] != d_in or shapes[-1][0] != d_out:
        raise ValueError(
            f"params.weights must chain from d_in={d_in} to d_out={d_out} (W_1 "
            f"(width, {d_in}), ..., W_L ({d_out}, width)), got shapes {shapes}"
        )


def loss(params: Params, task: _data.Task) -> Float[Array, ""]:
    """Training loss ``1/(2P) sum_mu ||y_mu - W_L ... W_1 x_mu||^2`` (a scalar).

    Args:
        params: weights, W_1 (width, d_in) first.
        task: ``lm_sims.data.Task`` with x (P, d_in) and y (P, d_out).

    Returns:
        The loss, a scalar.

    Raises:
        TypeError: params is not a :class:`Params`.
        ValueError: the weights do not chain from the task's d_in to its d_out,
            or task.y is not (P, d_out) with the P of task.x.

    Example:
        >>> import jax
        >>> from lm_sims import data, deep_linear
        >>> task = data.make_task(jax.random.key(0), "synthetic")
        >>> p = deep_linear.init(jax.random.key(1), deep_linear.Config(), task)
        >>> bool(deep_linear.loss(p, task) > 0)
        True
    """
    x, y = _check_task(task)
    _check_params(params, x.shape[1], y.shape[1])
    pred = task.x @ _product(params).T
    return 0.5 * jnp.mean(jnp.sum((task.y - pred) ** 2, axis=-1))


def _check_task(task):
    if not isinstance(task, tuple) or not hasattr(task, "x") or not hasattr(task, "y"):
        raise TypeError(f"task must be an lm_sims.data.Task, got {type(task).__name__}")
    x, y = task.x, task.y
    if jnp.ndim(x) != 2 or jnp.ndim(y) != 2 or jnp.shape(y)[0] != jnp.shape(x)[0]:
        raise ValueError(
            "task must hold x of shape (P, d_in) and y of shape (P, d_out), got "
            f"x {jnp.shape(x)} and y {jnp.shape(y)}"
        )
    return x, y


def _loss_from_stats(params: Params, sigma_yx, floor):
    # Exactly loss(params, task) for whitened inputs (x.T x / P = I), at a cost that
    # does not grow with P: 1/2 ||W - Syx||_F^2 + floor, where
    # floor = 1/2 (tr Syy - ||Syx||_F^2) >= 0 is the part no linear map can fit.
    w = _product(params)
    return 0.5 * jnp.sum((w - sigma_yx) ** 2) + floor


def effective_u0(
    params: Params, task: _data.Task, num_modes: int
) -> Float[Array, " m"]:
    """Effective initial mode strengths of a two-layer net from small random init.

    Linearising around small weights, mode i's hidden vectors ``a = W_1 V_i`` and
    ``b = W_2^T U_i`` obey ``da/dt = s b``, ``db/dt = s a``: the sum ``a + b`` grows
    as ``exp(s t)`` and the difference decays, so the mode then follows the aligned
    solution with ``u0 = |a + b|^2 / 4``.

    Args:
        params: parameters of a network with two weight matrices.
        task: the task (its ``Sigma_yx`` SVD defines the modes).
        num_modes: number of leading modes, an int in [1, min(d_in, d_out)].

    Returns:
        (num_modes,) effective initial strengths.

    Raises:
        ValueError: ``params`` does not hold two weight matrices or does not match
            the task's d_in and d_out, or ``num_modes`` is outside
            [1, min(d_in, d_out)].
        TypeError: ``num_modes`` is not an int, or params is not a
            :class:`Params`.

    Example:
        >>> import jax
        >>> from lm_sims import data, deep_linear
        >>> task = data.make_task(jax.random.key(0), "synthetic")
        >>> cfg = deep_linear.Config(init="random")
        >>> p = deep_linear.init(jax.random.key(1), cfg, task)
        >>> deep_linear.effective_u0(p, task, 4).shape
        (4,)
    """
    x, y = _check_task(task)
    _check_params(params, x.shape[1], y.shape[1])
    if len(params.weights) != 2:
        raise ValueError(
            "effective_u0 needs two weight matrices (n_layers=2), got "
            f"n_layers={len(params.weights)}"
        )
    max_modes = min(x.shape[1], y.shape[1])
    check_int("num_modes", num_modes, minimum=1, maximum=max_modes)
    u, _, vt = _data.correlation_svd(task)
    w1, w2 = params.weights
    a = w1 @ vt[:num_modes].T  # (width, modes)
    b = w2.T @ u[:, :num_modes]
    return jnp.sum((a + b) ** 2, axis=0) / 4.0


def train(
    key: jax.Array,
    cfg: Config,
    *,
    observe: Callable[[Params], Any] | None = None,
    max_work: float | None = None,
) -> Trajectory:
    """Train a deep linear network by full-batch gradient descent.

    The task comes from ``lm_sims.data.make_task(k_data, cfg.dataset)``; the loss is
    evaluated through ``Sigma_yx`` (exactly equal to the sample loss, because inputs
    are whitened), so a step costs the same for 64 or 1,797 samples.

    Args:
        key: PRNG key (data for ``"synthetic"``, and the initial weights).
        cfg: the run's :class:`Config`.
        observe: optional function of the :class:`Params`, evaluated at every
            record (:func:`lm_sims.training.run`); its outputs land in
            ``Trajectory.observed``. A new function recompiles ``train``.
        max_work: refuse runs estimated above this many flop-equivalents
            (``steps * (6 * parameters + STEP_OVERHEAD)``); default
            ``lm_sims._config.MAX_WORK``; ``math.inf`` for no limit.

    Returns:
        A :class:`Trajectory`; ``t`` is in units of ``lr * steps``. A diverging
        run is a result: ``diverged_step`` is the first step whose loss left
        ``lm_sims.training.divergence_limit`` (1,000 x (loss_0 + the loss of
        the zero map)) or was not finite; every record at or after it is NaN.

    Raises:
        ValueError, TypeError: an invalid config (raised when ``cfg`` is built).
        ValueError: the run is estimated above ``max_work``.

    Example:
        >>> import jax
        >>> from lm_sims import deep_linear
        >>> traj = deep_linear.train(jax.random.key(0), deep_linear.Config())
        >>> traj.mode_strengths.shape
        (201, 4)
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a deep_linear.Config, got {type(cfg).__name__}")
    check_callable("observe", observe)
    check_budget_arg("max_work", max_work)
    # the end-to-end product and its gradient: ~6 matrix products of width^2 x d
    # with d <= 64 (the datasets' widest side)
    num_params = cfg.n_layers * cfg.width**2
    check_work(
        f"steps={cfg.steps} of a width={cfg.width}, n_layers={cfg.n_layers} network",
        cfg.steps * (6.0 * num_params * 64 + STEP_OVERHEAD),
        "use fewer steps",
        max_work,
    )
    return _train(key, cfg, observe)


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key: jax.Array, cfg: Config, observe_fn=None) -> Trajectory:
    k_data, k_init = jax.random.split(key)
    task = _data.make_task(k_data, cfg.dataset)
    params = _init(k_init, cfg, task)
    r = cfg.num_modes
    u, s, vt = _data.correlation_svd(task)
    u, s, vt = u[:, :r], s[:r], vt[:r]
    p = task.x.shape[0]
    sigma_yx = task.y.T @ task.x / p
    floor = jnp.maximum(0.5 * (jnp.sum(task.y**2) / p - jnp.sum(sigma_yx**2)), 0.0)

    q_init = balancedness(params.weights)

    def observe(prm):
        w = _product(prm)
        qs = balancedness(prm.weights)
        return (
            mode_strengths(w, u, vt),
            jnp.stack([jnp.linalg.norm(q) for q in qs]),
            jnp.stack(
                [jnp.linalg.norm(q - q0) for q, q0 in zip(qs, q_init, strict=True)]
            ),
        )

    def observe_all(prm):
        return observe(prm), None if observe_fn is None else observe_fn(prm)

    # the loss of the zero map, the divergence limit's scale
    scale = 0.5 * jnp.sum(sigma_yx**2) + floor
    result = run(
        lambda prm: _loss_from_stats(prm, sigma_yx, floor),
        params,
        cfg.lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        observe=observe_all,
        loss_scale=jnp.where(scale > 0, scale, 1.0),
        max_work=math.inf,  # checked by train
    )
    (strengths, bal, drift), observed = result.observed
    step = result.step
    if cfg.init == "aligned":
        u0 = jnp.full((r,), cfg.init_scale, s.dtype)
    elif cfg.n_layers == 2:
        u0 = effective_u0(params, task, r)
    else:
        u0 = jnp.full((r,), jnp.nan, s.dtype)
    return Trajectory(
        step=step,
        t=cfg.lr * step,
        mode_strengths=strengths,
        loss=result.loss,
        balancedness=bal,
        balancedness_drift=drift,
        singular_values=s,
        u0=u0,
        diverged_step=result.diverged_step,
        observed=observed,
    )


def predict(
    s: Float[Array, " modes"],
    u0: Float[Array, " modes"],
    t: Float[Array, " times"],
    n_layers: int = 2,
    substeps: int = 64,
) -> Float[Array, "times modes"]:
    """Theory: mode strengths under gradient flow from balanced, aligned init.

    L = 2, eq. (1.1): ``u(t) = s / (1 + (s/u0 - 1) exp(-2 s t))`` in closed form.
    L > 2, eq. (1.2): ``dp/dt = L p^(2-2/L) (s - p)``, integrated with RK4
    in ``z = log(p / (s - p))`` (where ``dz/dt = L s p^(1-2/L)``: no stiffness at
    convergence), with adaptive steps ``h = 1 / (substeps * |d rhs/dz|)`` set by
    the local time scale of the fastest mode, independently of the grid ``t``:
    a coarse grid gives the same values as a fine one.

    Args:
        s: (modes,) singular values of ``Sigma_yx`` (> 0).
        u0: (modes,) or scalar initial strengths (0 < u0 < s).
        t: (times,) non-decreasing finite times in units of ``lr * steps``,
            starting >= 0.
        n_layers: number of weight matrices L (2..6).
        substeps: RK4 steps per local time scale for n_layers > 2 (int >= 1;
            default 64: relative error < 1e-6 against a fine reference).

    Returns:
        (times, modes) predicted mode strengths.

    Raises:
        ValueError: n_layers outside 2..6; t not 1-D, empty, decreasing, negative
            or not finite; s, u0 not finite or not with 0 < u0 < s.
        TypeError: s, u0 or t is not an array of real numbers, or n_layers or
            substeps is not an integer.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import deep_linear
        >>> u = deep_linear.predict(jnp.array([3.0]), 1e-3,
        ...                         jnp.array([0.0, 10.0, 100.0]), n_layers=3)
        >>> [round(float(v), 3) for v in u[:, 0]]
        [0.001, 3.0, 3.0]

    References:
        Saxe, McClelland & Ganguli, 2014, arXiv:1312.6120, eqs. (6)-(8) and sec. 3.
    """
    check_int("n_layers", n_layers, minimum=2, maximum=6)
    check_int("substeps", substeps, minimum=1)
    s, u0 = _check_modes(s, u0)
    t = as_float_array("t", t).astype(s.dtype)
    if (
        t.ndim != 1
        or t.shape[0] < 1
        or not bool(jnp.all(t >= 0))
        or not bool(jnp.all(jnp.diff(t) >= 0))
    ):
        raise ValueError(
            "t must be a non-empty 1-D array of non-decreasing times >= 0, got "
            f"shape {t.shape}"
        )
    if n_layers == 2:
        return s / (1 + (s / u0 - 1) * jnp.exp(-2 * s * t[:, None]))
    return _predict_deep(s, u0, t, n_layers, substeps)


def _check_modes(s, u0):
    """Validate singular values and initial strengths: real, finite, 1-D,
    0 < u0 < s."""
    s = as_float_array("s", s).astype(jnp.result_type(float))
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"s must be a non-empty 1-D array, got shape {s.shape}")
    u0 = as_float_array("u0", u0).astype(s.dtype)
    if u0.ndim > 1 or (u0.ndim == 1 and u0.shape != s.shape):
        raise ValueError(
            f"u0 must be a scalar or have the shape of s {s.shape}, got {u0.shape}"
        )
    u0 = jnp.broadcast_to(u0, s.shape)
    if not bool(jnp.all((u0 > 0) & (u0 < s))):
        raise ValueError(
            "the theory needs 0 < u0 < s for every mode (a mode starting at or "
            f"above its target has no sigmoid), got s={s}, u0={u0}"
        )
    return s, u0


@functools.partial(jax.jit, static_argnums=(3, 4))
def _predict_deep(s, u0, t, n_layers, substeps):
    # z = log(p / (s - p)), p = s sigmoid(z):  dz/dt = L s p^(1 - 2/L). The rate is
    # bounded and flat at convergence, so steps grow there instead of shrinking.
    a = 1.0 - 2.0 / n_layers

    def rhs(z):
        return n_layers * s * (s * jax.nn.sigmoid(z)) ** a

    def rate(z):  # |d rhs / dz|: the inverse local time scale of each mode
        return a * rhs(z) * (1.0 - jax.nn.sigmoid(z))

    def advance(state, t_next):
        def body(st):
            z, tc = st
            fastest = jnp.max(rate(z))
            h = jnp.where(fastest > 0, 1.0 / (substeps * fastest), jnp.inf)
            h = jnp.minimum(h, t_next - tc)
            k1 = rhs(z)
            k2 = rhs(z + h / 2 * k1)
            k3 = rhs(z + h / 2 * k2)
            k4 = rhs(z + h * k3)
            return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), tc + h

        state = jax.lax.while_loop(lambda st: st[1] < t_next, body, state)
        return state, s * jax.nn.sigmoid(state[0])

    z0 = jnp.log(u0) - jnp.log(s - u0)
    _, out = jax.lax.scan(advance, (z0, jnp.zeros((), t.dtype)), t)
    return out


def predict_half_time(s, u0, n_layers: int = 2):
    """Theory: time (``lr * steps``) at which a mode reaches half its final strength.

    L = 2: ``t_half = ln(s/u0 - 1) / (2 s)``. L > 2:
    ``t_half = int_{u0}^{s/2} dp / (L p^(2-2/L) (s - p))`` by the trapezoid rule in
    ``log p`` (2,048 points).

    Raises:
        ValueError: n_layers outside 2..6; s, u0 not finite or not with
            0 < u0 < s.
        TypeError: s or u0 is not an array of real numbers, or n_layers is not an
            integer.
    """
    check_int("n_layers", n_layers, minimum=2, maximum=6)
    s, u0 = _check_modes(s, u0)
    if n_layers == 2:
        return jnp.log(s / u0 - 1) / (2 * s)
    x = jnp.linspace(jnp.log(u0), jnp.log(s / 2), 2048)  # (points, modes)
    p = jnp.exp(x)
    integrand = 1.0 / (n_layers * p ** (1 - 2 / n_layers) * (s - p))
    return jnp.trapezoid(integrand, x, axis=0)


def half_time(
    t: Float[Array, " records"], u: Float[Array, "records modes"], s
) -> Float[Array, " modes"]:
    """Observed half-times: the first time each mode reaches ``s/2`` (linear
    interpolation between records); NaN for a mode that never does.

    Args:
        t: (records,) non-decreasing times in units of ``lr * steps``
            (``Trajectory.t``).
        u: (records, modes) mode strengths (``Trajectory.mode_strengths``);
            NaN records (those after a divergence) are allowed, inf is not.
        s: (modes,) target singular values.

    Returns:
        (modes,) half-times in the units of ``t``.

    Raises:
        ValueError: ``t`` is not 1-D, non-decreasing and finite with at least one
            record, ``u`` is not (len(t), modes) or has inf entries, or ``s``
            does not have one finite value > 0 per mode.
        TypeError: an argument is not an array of real numbers.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import deep_linear
        >>> t = jnp.array([0.0, 1.0, 2.0])
        >>> u = jnp.array([[0.1], [0.5], [0.9]])
        >>> float(deep_linear.half_time(t, u, jnp.array([1.2]))[0])
        1.25
    """
    t = as_float_array("t", t)
    u = as_float_array("u", u, finite=False)  # NaN after a divergence is allowed
    if bool(jnp.any(jnp.isinf(u))):
        raise ValueError(
            "u must not hold inf entries (NaN marks the records after a "
            f"divergence), got {int(jnp.sum(jnp.isinf(u)))} inf entries"
        )
    s = as_float_array("s", s)
    if t.ndim != 1 or u.ndim != 2 or u.shape[0] != t.shape[0] or t.shape[0] < 1:
        raise ValueError(
            "t must be 1-D and u of shape (len(t), modes); got t of shape "
            f"{t.shape} and u of shape {u.shape}"
        )
    if s.ndim != 1 or s.shape[0] != u.shape[1]:
        raise ValueError(
            f"s must have one value per mode ({u.shape[1]}), got shape {s.shape}"
        )
    if not bool(jnp.all(s > 0)):
        raise ValueError(f"s must be > 0 for every mode, got s={s}")
    if not bool(jnp.all(jnp.diff(t) >= 0)):
        raise ValueError("t must be non-decreasing (Trajectory.t)")
    above = u >= s / 2
    idx = jnp.argmax(above, axis=0)
    reached = jnp.any(above, axis=0)
    i0 = jnp.maximum(idx - 1, 0)
    cols = jnp.arange(u.shape[1])
    u_lo, u_hi = u[i0, cols], u[idx, cols]
    t_lo, t_hi = t[i0], t[idx]
    frac = jnp.where(u_hi > u_lo, (s / 2 - u_lo) / (u_hi - u_lo), 0.0)
    return jnp.where(reached, t_lo + frac * (t_hi - t_lo), jnp.nan)
