# ruff: noqa: F722  (jaxtyping shape strings are not Python expressions)
r"""Lazy versus rich training of a two-layer ReLU network, set by the output scale.

The student is a mean-field two-layer ReLU network with an output multiplier alpha,

.. math::

    f(x) = \frac{\alpha}{n} \sum_{i=1}^{n} a_i\, \mathrm{relu}(w_i \cdot x),
    \qquad x \in \mathbb{R}^2,                                  (lazy-rich-model)

trained by full-batch gradient descent on ``num_train`` Gaussian inputs labelled by a
teacher with ``teacher_width`` (= 3) ReLU units,
:math:`f^*(x) = \sum_j \mathrm{relu}(w^*_j \cdot x)` with unit vectors :math:`w^*_j`.
Large alpha gives *lazy* training (the weights barely move while the loss falls: a
kernel method with the tangent kernel at initialisation); small alpha gives *rich*
training (neurons travel and gather on the teacher's directions). This is the
two-dimensional experiment of Chizat, Oyallon & Bach (2019), the book's Fig. 2.

Two choices make alpha the only thing that changes between the two regimes.

**Centred output.** The initialisation is symmetrised: neurons come in pairs with the
same input weights :math:`w` and opposite output weights :math:`\pm a`, so
:math:`f_0 \equiv 0` exactly for every alpha (otherwise :math:`f_0 \sim
\alpha/\sqrt{n}` would swamp the target when alpha is large). The two members of a
pair receive different gradients and separate as soon as training starts.

**Learning rate scaled with alpha** (:func:`effective_lr`). The gradient of the loss
with respect to each weight carries a factor alpha/n, and the tangent kernel at
initialisation is :math:`K_0 = (\alpha^2/n)\,\bar k` with :math:`\bar k = O(1)`, so
gradient descent with step :math:`\eta` moves the function at rate
:math:`\eta\,\alpha^2/n`. The step used is

.. math::

    \eta = \frac{\mathrm{lr}\; n}{\alpha \max(\alpha, 1)}.            (lazy-rich-lr)

For alpha >= 1 this is ``lr * n / alpha**2``, Chizat's lazy scaling (the loss divided
by alpha^2): the function-space dynamics at initialisation,
:math:`\dot f = -\mathrm{lr}\,\bar k\,(f - y)` in time ``t = lr * steps``, are the
same for every alpha, and the parameters move by :math:`O(1/\alpha)`.
For alpha < 1 the same rule fails: rich training must grow the neurons from mass
:math:`|a_i||w_i| \sim 1` to :math:`\sim 1/\alpha`, and under ``lr * n / alpha**2``
both the early growth rate of the weights and the tangent kernel of the trained
network are :math:`1/\alpha` times larger (measured: lr = 0.5 trains alpha = 1 and
alpha = 30, but under ``lr * n / alpha**2`` it diverges within 5 steps at alpha = 0.1,
which needs lr <= ~0.05 = 0.5 alpha).
Rescaling :math:`\theta' = \sqrt{\alpha}\,\theta` shows that alpha < 1 is a plain
mean-field network (multiplier 1/n) started at the small scale
:math:`\sqrt{\alpha}`, whose natural step is ``lr * n`` in :math:`\theta'`, i.e.
``lr * n / alpha`` in :math:`\theta`. With it the function-space speed near
convergence is the same for every alpha, and the small initial speed
(:math:`\alpha\,\mathrm{lr}\,\bar k`) only adds the familiar escape plateau of length
:math:`\sim \log(1/\alpha)`. One ``lr`` then trains both ends stably.

References:
    Chizat, Oyallon & Bach, "On Lazy Training in Differentiable Programming", 2019,
    arXiv:1812.07956.
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

from lm_sims import observables as _observables
from lm_sims._config import (
    STEP_OVERHEAD,
    as_float_array,
    check_budget_arg,
    check_callable,
    check_instance,
    check_int,
    check_key,
    check_real,
    check_record_every,
    check_representable,
    check_shape,
    check_work,
    config_dataclass,
    diverged_flag,
    is_concrete,
)
from lm_sims._linearized import divergence
from lm_sims.training import run

__all__ = [
    "LAZY_CONFIG",
    "AlphaSweep",
    "Batch",
    "Config",
    "LazyPrediction",
    "RunSummary",
    "alpha_sweep",
    "Params",
    "Trajectory",
    "dataset",
    "effective_lr",
    "forward",
    "init",
    "loss",
    "neuron_positions",
    "predict_lazy",
    "relative_change",
    "run_summary",
    "target",
    "teacher",
    "teacher_alignment_fraction",
    "train",
    "uniform_alignment_baseline",
]


@config_dataclass(
    static=("width", "num_train", "teacher_width", "steps", "record_every")
)
class Config:
    """Hyperparameters of the lazy-versus-rich experiment.

    Attributes:
        alpha: output multiplier alpha > 0 (dynamic: sweepable). 0.1 is rich, 30 lazy.
        lr: base learning rate > 0 (dynamic); the step is :func:`effective_lr`.
            Time on the book's axes is ``t = lr * steps``.
        width: student width n, even (symmetrised pairs), static. Default 200.
        num_train: number of training inputs x ~ N(0, I_2), static. Default 64.
        teacher_width: number of teacher ReLU units, static. Default 3.
        steps: gradient-descent steps, static.
        record_every: record every this many steps; must divide ``steps``, static.

    ``alpha``, ``lr``, the step :func:`effective_lr` and ``alpha / width`` must be
    nonzero and finite in the run's dtype (float32: in [1.2e-38, 3.4e38]), or the
    config raises ValueError.
    """

    alpha: float = 1.0
    lr: float = 0.5
    width: int = 200
    num_train: int = 64
    teacher_width: int = 3
    steps: int = 6000
    record_every: int = 60

    def _validate(self):
        check_real("alpha", self.alpha, positive=True)
        check_real("lr", self.lr, positive=True)
        check_int("width", self.width, minimum=2)
        if self.width % 2:
            raise ValueError(
                "width must be even (the symmetrised init pairs neurons +a, -a), "
                f"got width={self.width}"
            )
        check_int("num_train", self.num_train, minimum=1)
        check_int("teacher_width", self.teacher_width, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_representable("alpha", self.alpha)
        check_representable("lr", self.lr)
        step = float(self.lr) * self.width / (self.alpha * max(self.alpha, 1.0))
        check_representable(
            "the step lr * width / (alpha * max(alpha, 1)) (effective_lr)", step
        )
        check_representable(
            "alpha / width (the output multiplier)",
            step and (float(self.alpha) / self.width),
        )


class Params(NamedTuple):
    """Student parameters (leading axes allowed, e.g. records or seeds).

    Attributes:
        a: output weights, ``Float[Array, "width"]``.
        w: input weights, ``Float[Array, "width 2"]``.
    """

    a: Float[Array, "*batch width"]
    w: Float[Array, "*batch width 2"]


class Batch(NamedTuple):
    """Training data: inputs ``x`` (num_train, 2) and teacher labels ``y``."""

    x: Float[Array, "num_train 2"]
    y: Float[Array, " num_train"]


class Trajectory(NamedTuple):
    """A training run, recorded every ``record_every`` steps (``records`` rows).

    Attributes:
        step: the step of each record, 0, record_every, ..., steps (int).
        t: time ``lr * step`` of each record.
        loss: training loss 1/2 mean (f - y)^2.
        relative_change: ``||theta_t - theta_0|| / ||theta_0||`` over all parameters.
        positions: neuron positions ``|a_i| w_i`` in the input plane (Chizat's plot);
            their length is the neuron's mass ``|a_i| |w_i|``.
        sign: sign of each output weight ``a_i`` (+1 or -1; 0 if exactly zero).
        alignment: :func:`teacher_alignment_fraction` (radius 0.2 rad).
        teacher_directions: the teacher's unit vectors ``w*_j``.
        diverged_step: first step whose loss blew up, or -1. Records after it are
            NaN (do not plot them).
        observed: what ``train``'s ``observe`` hook recorded (leading axis
            records), or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    relative_change: Float[Array, " records"]
    positions: Float[Array, "records width 2"]
    sign: Float[Array, "records width"]
    alignment: Float[Array, " records"]
    teacher_directions: Float[Array, "teacher_width 2"]
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``); for swept output
        (leading grid and seed axes) a bool array of those axes."""
        return diverged_flag(self.diverged_step)


def effective_lr(cfg: Config) -> Float[Array, ""]:
    """Gradient-descent step size ``lr * n / (alpha * max(alpha, 1))``.

    Equation (lazy-rich-lr): ``lr * n / alpha**2`` (Chizat's lazy scaling, same
    function-space speed at initialisation for every alpha) for alpha >= 1, and
    ``lr * n / alpha`` (mean-field step for a network started at scale sqrt(alpha),
    same speed near convergence) for alpha < 1. See the module docstring.

    Args:
        cfg: the configuration; uses ``lr``, ``alpha`` and ``width``.

    Returns:
        The step size applied to every parameter (float scalar).

    Raises:
        TypeError: cfg is not a :class:`Config`.

    Example:
        >>> float(effective_lr(Config(alpha=10.0, lr=1.0)))  # 200 / 100
        2.0
    """
    check_instance("cfg", cfg, Config)
    alpha = jnp.asarray(cfg.alpha)
    return cfg.lr * cfg.width / (alpha * jnp.maximum(alpha, 1.0))


def teacher(key: jax.Array, cfg: Config) -> Float[Array, "teacher_width 2"]:
    """Draw the teacher's unit input directions ``w*_j``, all in one half-plane.

    The k = ``teacher_width`` angles are ``phi0 + (j - (k - 1) / 2) pi / k + u_j``
    with a random rotation ``phi0 ~ U[0, 2 pi)`` and jitter
    ``u_j ~ U[-pi / (4k), pi / (4k)]``: neighbours are at least ``pi / (2k)`` apart
    (0.52 rad for k = 3, so arcs of radius 0.2 rad never overlap) and all k lie
    within an arc shorter than pi.

    Why one half-plane: without biases, ``relu(u.x) = relu(-u.x) + u.x``, so a
    teacher whose directions surround the origin (``sum_j d_j w*_j = 0`` for some
    ``d_j > 0``) has a continuum of equally sparse representations that swap units
    for their antipodes, and rich training lands on a mixture of both. When the
    directions lie in an open half-plane, the teacher's own units are the unique
    representation of least path norm ``sum_i |a_i||w_i|``, so rich training has a
    single place to go.

    Args:
        key: PRNG key.
        cfg: uses ``teacher_width``.

    Returns:
        Unit vectors, shape (teacher_width, 2), float32.

    Raises:
        TypeError: key is not a PRNG key or cfg is not a :class:`Config`.
    """
    _check_key_cfg(key, cfg)
    k = cfg.teacher_width
    k_rot, k_jit = jax.random.split(key)
    phi0 = jax.random.uniform(k_rot, (), maxval=2 * jnp.pi)
    half = jnp.pi / (4 * k)
    jitter = jax.random.uniform(k_jit, (k,), minval=-half, maxval=half)
    angles = phi0 + (jnp.arange(k) - (k - 1) / 2) * jnp.pi / k + jitter
    return jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)


def target(
    teacher_directions: Float[Array, "teacher_width 2"], x: Float[Array, "*batch 2"]
) -> Float[Array, "*batch"]:
    """Teacher output ``f*(x) = sum_j relu(w*_j . x)``.

    Args:
        teacher_directions: unit vectors ``w*_j``, shape (teacher_width, 2).
        x: inputs, shape (..., 2).

    Returns:
        Teacher outputs, shape (...).

    Raises:
        TypeError: teacher_directions or x is not an array of real numbers.
        ValueError: teacher_directions is not (teacher_width, 2) with
            teacher_width >= 1, x does not end in 2, or either has NaN or inf
            entries (concrete values only).
    """
    teacher_directions = _check_directions(teacher_directions)
    x = _check_inputs(x)
    return jnp.sum(jax.nn.relu(x @ teacher_directions.T), axis=-1)


def _check_inputs(x):
    """x: a real array of shape (..., 2), finite when concrete."""
    x = as_float_array("x", x)
    if x.ndim < 1 or x.shape[-1] != 2:
        raise ValueError(f"x must have shape (..., 2), got x of shape {x.shape}")
    return x


def _check_key_cfg(key, cfg):
    if is_concrete(key):
        check_key(key)
    check_instance("cfg", cfg, Config)


def dataset(
    key: jax.Array, cfg: Config, teacher_directions: Float[Array, "teacher_width 2"]
) -> Batch:
    """Draw ``num_train`` inputs x ~ N(0, I_2) and label them with the teacher.

    Args:
        key: PRNG key.
        cfg: uses ``num_train``.
        teacher_directions: from :func:`teacher`, shape (teacher_width, 2).

    Returns:
        ``Batch(x, y)`` with x of shape (num_train, 2) and y of shape (num_train,).

    Raises:
        TypeError: key is not a PRNG key, cfg is not a :class:`Config`, or
            teacher_directions is not an array of real numbers.
        ValueError: teacher_directions is not (teacher_width, 2) or has NaN or
            inf entries.
    """
    _check_key_cfg(key, cfg)
    teacher_directions = _check_directions(teacher_directions)
    x = jax.random.normal(key, (cfg.num_train, 2))
    return Batch(x, target(teacher_directions, x))


def init(key: jax.Array, cfg: Config) -> Params:
    """Symmetrised N(0, 1) initialisation, so that the student output is exactly 0.

    Draws ``a_i ~ N(0, 1)`` and ``w_i ~ N(0, I_2)`` for ``i < n/2`` and sets
    ``a_{i + n/2} = -a_i``, ``w_{i + n/2} = w_i``; every term of (lazy-rich-model)
    cancels with its partner, so ``f_0(x) = 0`` for all x and every alpha.
    ``key`` is split as :func:`train` splits it (teacher, data, init), so
    ``init(key, cfg)`` is the initial state of ``train(key, cfg)``.

    Args:
        key: PRNG key, the one given to :func:`train`.
        cfg: uses ``width`` (even).

    Returns:
        ``Params(a, w)`` with shapes (width,) and (width, 2), float32.

    Raises:
        TypeError: key is not a PRNG key or cfg is not a :class:`Config`.

    Example:
        >>> import jax
        >>> p = init(jax.random.key(0), Config())
        >>> float(abs(forward(p, jax.numpy.ones((1, 2)), 30.0)[0]))
        0.0
    """
    _check_key_cfg(key, cfg)
    return _init(jax.random.split(key, 3)[2], cfg)


def _init(key, cfg):
    half = cfg.width // 2
    k_a, k_w = jax.random.split(key)
    a = jax.random.normal(k_a, (half,))
    w = jax.random.normal(k_w, (half, 2))
    return Params(jnp.concatenate([a, -a]), jnp.concatenate([w, w]))


def forward(
    params: Params, x: Float[Array, "*batch 2"], alpha: float
) -> Float[Array, "*batch"]:
    """Student output (lazy-rich-model), ``(alpha / n) sum_i a_i relu(w_i . x)``.

    Args:
        params: ``Params(a, w)`` with shapes (width,), (width, 2).
        x: inputs, shape (..., 2).
        alpha: output multiplier (> 0).

    Returns:
        Outputs, shape (...). Exactly 0.0 at the output of :func:`init`.

    Raises:
        TypeError: params is not a :class:`Params`, x is not an array of real
            numbers, or alpha is not a real number.
        ValueError: params.a is not (width,) with params.w (width, 2), x does
            not end in 2 or has NaN or inf entries, or alpha is not > 0 and
            finite (concrete values only: traced ones pass).
    """
    _check_params(params)
    x = _check_inputs(x)
    _check_alpha(alpha)
    n = params.a.shape[-1]
    terms = jax.nn.relu(x @ params.w.T) * params.a
    if n % 2 == 0:
        # Add neuron i to its init partner i + n/2 first: at the symmetrised init
        # each pair sums to exactly 0.0 in floating point, so f_0 = 0 exactly.
        terms = terms[..., : n // 2] + terms[..., n // 2 :]
    return (alpha / n) * jnp.sum(terms, axis=-1)


def _check_alpha(alpha):
    if is_concrete(alpha):
        check_real("alpha", alpha, positive=True)


def _check_params(params, *, batched: bool = False):
    """Shapes only (tracers pass): a (*batch, width), w (*batch, width, 2)."""
    if not isinstance(params, Params):
        raise TypeError(
            f"params must be a lazy_rich.Params, got {type(params).__name__}"
        )
    a, w = jnp.shape(params.a), jnp.shape(params.w)
    if len(a) < 1 or (not batched and len(a) != 1) or w != a + (2,):
        want = "(*batch, width)" if batched else "(width,)"
        raise ValueError(
            f"params must have a of shape {want} and w of shape a.shape + (2,), "
            f"got a {a} and w {w}"
        )


def loss(params: Params, batch: Batch, alpha: float) -> Float[Array, ""]:
    """Training loss ``1/2 mean_mu (f(x_mu) - y_mu)^2``.

    Args:
        params: student parameters.
        batch: ``Batch(x, y)``, x (num_train, 2) and y exactly (num_train,).
        alpha: output multiplier.

    Returns:
        Scalar loss.

    Raises:
        TypeError: params is not a :class:`Params`, batch is not a pair
            ``(x, y)`` of real arrays, or alpha is not a real number.
        ValueError: x is not (num_train, 2), y is not (num_train,), x or y has
            NaN or inf entries, params have the wrong shapes, or alpha is not
            > 0 and finite.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import lazy_rich
        >>> p = lazy_rich.init(jax.random.key(0), lazy_rich.Config(width=4))
        >>> batch = lazy_rich.Batch(jnp.ones((3, 2)), jnp.ones(3))
        >>> float(lazy_rich.loss(p, batch, 1.0))
        0.5
    """
    if not isinstance(batch, tuple) or len(batch) != 2:
        raise TypeError(
            f"batch must be a lazy_rich.Batch(x, y), got batch={batch!r:.80} "
            f"({type(batch).__name__})"
        )
    x = as_float_array("batch.x", batch[0])
    y = as_float_array("batch.y", batch[1])
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"batch.x must have shape (num_train, 2), got {x.shape}")
    check_shape("batch.y", y.shape, (x.shape[0],), "(num_train,)")
    _check_params(params)
    _check_alpha(alpha)
    return 0.5 * jnp.mean((forward(params, x, alpha) - y) ** 2)


def neuron_positions(params: Params) -> Float[Array, "*batch width 2"]:
    """Neuron positions ``|a_i| w_i`` in the input plane, as Chizat et al. plot them.

    ReLU is positively homogeneous, so neuron i acts as
    ``sign(a_i) relu((|a_i| w_i) . x)``: its position fixes its direction and its
    mass ``|a_i| |w_i|``.

    Args:
        params: ``Params`` with any leading axes.

    Returns:
        Positions with the shape of ``params.w``.

    Raises:
        TypeError: params is not a :class:`Params`.
        ValueError: params.w is not params.a.shape + (2,).
    """
    _check_params(params, batched=True)
    return jnp.abs(params.a)[..., None] * params.w


def relative_change(params: Params, params0: Params) -> Float[Array, ""]:
    """Relative parameter change ``||theta - theta_0|| / ||theta_0||``.

    The norm is the Euclidean norm over all of ``a`` and ``w`` together. In the lazy
    regime it falls as ``1/alpha`` (Chizat et al. 2019).

    Args:
        params: current parameters (no leading axes).
        params0: initial parameters.

    Returns:
        Scalar ratio (:func:`lm_sims.observables.relative_change`).
    """
    return _observables.relative_change(params, params0)


def _angles_to_teacher(w, teacher_directions):
    norm = jnp.linalg.norm(w, axis=-1, keepdims=True)
    unit = w / jnp.where(norm > 0, norm, 1.0)
    cos = jnp.clip(unit @ teacher_directions.T, -1.0, 1.0)
    return jnp.min(jnp.arccos(cos), axis=-1)


def _check_radius(radius):
    if is_concrete(radius):
        check_real("radius", radius, positive=True, high=math.pi)


def _check_directions(d):
    """A real (teacher_width, 2) array, teacher_width >= 1, finite when concrete."""
    d = as_float_array("teacher_directions", d)
    if d.ndim != 2 or d.shape[1] != 2 or d.shape[0] < 1:
        raise ValueError(
            f"teacher_directions must have shape (teacher_width, 2), got {d.shape}"
        )
    return d


def teacher_alignment_fraction(
    params: Params,
    teacher_directions: Float[Array, "teacher_width 2"],
    radius: float = 0.2,
) -> Float[Array, "*batch"]:
    r"""Mass-weighted fraction of neurons within ``radius`` of a teacher direction.

    .. math::

        A = \frac{\sum_i m_i \, 1[\min_j \angle(w_i, w^*_j) < r]}{\sum_i m_i},
        \qquad m_i = |a_i|\,|w_i|.

    All neurons count, whatever the sign of ``a_i``. A neuron with ``w_i = 0`` has no
    mass. Compare with :func:`uniform_alignment_baseline`, the value for directions
    spread uniformly on the circle: rich training concentrates mass on the teacher
    (A well above the baseline), lazy training leaves it at its initial value.

    Args:
        params: ``Params`` with any leading axes.
        teacher_directions: unit vectors, shape (teacher_width, 2).
        radius: angular radius r in radians, 0 < r <= pi (default 0.2).

    Returns:
        The fraction in [0, 1], with the leading axes of ``params``.

    Raises:
        ValueError: radius is not in (0, pi] (or NaN), the shapes of params
            or teacher_directions are wrong, or teacher_directions has NaN or
            inf entries.
        TypeError: radius is not a real number, params is not a
            :class:`Params`, or teacher_directions is not an array of real
            numbers.
    """
    _check_params(params, batched=True)
    _check_radius(radius)
    teacher_directions = _check_directions(teacher_directions)
    mass = jnp.abs(params.a) * jnp.linalg.norm(params.w, axis=-1)
    near = _angles_to_teacher(params.w, teacher_directions) < radius
    return jnp.sum(mass * near, axis=-1) / jnp.sum(mass, axis=-1)


def uniform_alignment_baseline(
    teacher_directions: Float[Array, "teacher_width 2"], radius: float = 0.2
) -> Float[Array, ""]:
    """Fraction of the circle within ``radius`` of some teacher direction.

    The exact measure of the union of the arcs ``[theta_j - r, theta_j + r]``
    divided by ``2 pi``: with the angles sorted round the circle and circular gaps
    ``g_j`` to the next one, the union has length ``sum_j min(g_j, 2 r)``. Equals
    ``k r / pi`` (``3 * 0.4 / (2 pi) = 0.191`` for three units, r = 0.2) when no
    arcs overlap.

    Args:
        teacher_directions: unit vectors, shape (teacher_width, 2).
        radius: angular radius r in radians (default 0.2).

    Returns:
        Scalar in [0, 1].

    Raises:
        ValueError: radius is not in (0, pi] (or NaN), or teacher_directions is
            not (teacher_width, 2) or has NaN or inf entries.
        TypeError: radius is not a real number, or teacher_directions is not an
            array of real numbers.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import lazy_rich
        >>> d = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
        >>> round(float(lazy_rich.uniform_alignment_baseline(d, 0.2)), 4)
        0.191
    """
    _check_radius(radius)
    teacher_directions = _check_directions(teacher_directions)
    theta = jnp.sort(jnp.arctan2(teacher_directions[:, 1], teacher_directions[:, 0]))
    gaps = jnp.diff(jnp.concatenate([theta, theta[:1] + 2 * jnp.pi]))
    return jnp.sum(jnp.minimum(gaps, 2 * radius)) / (2 * jnp.pi)


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key, cfg, observe_fn=None):
    k_teacher, k_data, k_init = jax.random.split(key, 3)
    directions = teacher(k_teacher, cfg)
    batch = dataset(k_data, cfg, directions)
    params0 = _init(k_init, cfg)

    def observe(p):
        return (
            relative_change(p, params0),
            neuron_positions(p),
            jnp.sign(p.a),
            teacher_alignment_fraction(p, directions),
            None if observe_fn is None else observe_fn(p),
        )

    result = run(
        functools.partial(loss, batch=batch, alpha=cfg.alpha),
        params0,
        effective_lr(cfg),
        steps=cfg.steps,
        record_every=cfg.record_every,
        observe=observe,
        # the loss of f = 0 (also the initial loss: the symmetrised f_0 = 0)
        loss_scale=jnp.maximum(
            0.5 * jnp.mean(batch.y**2), jnp.finfo(batch.y.dtype).tiny
        ),
        max_work=math.inf,  # checked by train
    )
    change, positions, sign, alignment, observed = result.observed
    return Trajectory(
        step=result.step,
        t=cfg.lr * result.step,
        loss=result.loss,
        relative_change=change,
        positions=positions,
        sign=sign,
        alignment=alignment,
        teacher_directions=directions,
        diverged_step=result.diverged_step,
        observed=observed,
    )


def train(
    key: jax.Array,
    cfg: Config,
    *,
    observe: Callable[[Params], Any] | None = None,
    max_work: float | None = None,
) -> Trajectory:
    """Train the student on its teacher by full-batch gradient descent.

    One key makes the teacher, the data and the initialisation (split in that
    order). The step size is :func:`effective_lr`; a diverging run is not an error:
    ``diverged_step >= 0`` and the records after it are NaN. Jitted: static fields
    of ``cfg`` select the compiled program, ``alpha`` and ``lr`` are traced (so
    ``lm_sims.sweep`` sweeps them without recompiling).

    Args:
        key: PRNG key, e.g. ``jax.random.key(0)``.
        cfg: a :class:`Config`.
        observe: optional function of the :class:`Params`, evaluated at every
            record (:func:`lm_sims.training.run`); its outputs land in
            ``Trajectory.observed``. A new function recompiles ``train``.
        max_work: refuse runs estimated above this many flop-equivalents
            (``steps * (6 * 3 * width * num_train + STEP_OVERHEAD)``); default
            ``lm_sims._config.MAX_WORK``; ``math.inf`` for no limit.

    Returns:
        :class:`Trajectory` with ``steps // record_every + 1`` records. A
        diverging run is a result: ``diverged_step`` is the first step whose
        loss left ``lm_sims.training.divergence_limit`` (1,000 x twice the
        initial loss) or was not finite; every record at or after it is NaN.

    Raises:
        TypeError: ``key`` is not a PRNG key, or ``observe`` is not callable.
        ValueError: the run is estimated above ``max_work``.

    References:
        Chizat, Oyallon & Bach, "On Lazy Training in Differentiable Programming",
        2019, arXiv:1812.07956 (Fig. 1 there, Fig. 2 in the book).

    Example:
        >>> import jax
        >>> rich = train(jax.random.key(0), Config(alpha=0.1))
        >>> lazy = train(jax.random.key(0), Config(alpha=30.0))
        >>> bool(rich.relative_change[-1] > 10 * lazy.relative_change[-1])
        True
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a lazy_rich.Config, got {type(cfg).__name__}")
    check_callable("observe", observe)
    check_budget_arg("max_work", max_work)
    check_work(
        f"steps={cfg.steps} of a width={cfg.width} network on "
        f"num_train={cfg.num_train} inputs",
        cfg.steps * (6.0 * 3 * cfg.width * cfg.num_train + STEP_OVERHEAD),
        "use fewer steps, a smaller width or fewer inputs",
        max_work,
    )
    return _train(key, cfg, observe)


# -- theory: the network linearised at initialisation (the lazy limit) --------------


class LazyPrediction(NamedTuple):
    """Gradient descent on the network linearised at its initialisation.

    Attributes:
        t: times ``lr * step`` of the records, shape (records,).
        loss: training loss ``1/2 mean (f - y)^2``, shape (records,); NaN at the
            records whose step is ``>= diverged_step`` (do not plot them).
        relative_change: ``||theta_t - theta_0|| / ||theta_0||``, shape (records,);
            NaN where ``loss`` is.
        eigenvalues: eigenvalues ``lambda_a`` of the tangent kernel
            ``K = J J^T / P`` at initialisation (alpha included), descending,
            shape (P,); mode a is multiplied by ``1 - eta lambda_a`` per step
            (``eta`` = :func:`effective_lr`).
        unstable_modes: bool, shape (P,): ``|1 - eta lambda_a| > 1``, the modes
            gradient descent on the linearised network amplifies.
        diverged_step: the first step (an int, in steps) whose predicted loss
            exceeds :func:`lm_sims.training.divergence_limit` of the loss at step
            0 with the loss of f = 0 as its scale (the criterion of
            :func:`train`), if it is at most ``cfg.steps``; else -1.
    """

    t: Float[np.ndarray, " records"]
    loss: Float[np.ndarray, " records"]
    relative_change: Float[np.ndarray, " records"]
    eigenvalues: Float[np.ndarray, " P"] | None = None
    unstable_modes: Any = None
    diverged_step: int = -1

    @property
    def diverged(self) -> bool:
        """True if the prediction diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


@functools.lru_cache(maxsize=16)
def _tangent_spectrum(key_data: tuple, cfg: Config):
    """Eigen-decomposition of the scale-free tangent kernel at init (float64).

    The Jacobian of f is (alpha / n) times a matrix J that does not depend on alpha
    or lr, so one decomposition of ``J J^T / P`` serves every alpha and lr.
    """
    key = jax.random.wrap_key_data(np.asarray(key_data, np.uint32))
    k_teacher, k_data, k_init = jax.random.split(key, 3)  # as train
    directions = teacher(k_teacher, cfg)
    batch = dataset(k_data, cfg, directions)
    params = _init(k_init, cfg)
    x = np.asarray(batch.x, np.float64)
    y = np.asarray(batch.y, np.float64)
    a = np.asarray(params.a, np.float64)
    w = np.asarray(params.w, np.float64)
    pre = x @ w.T  # (P, n)
    jac = np.concatenate(
        [
            np.maximum(pre, 0.0),
            ((a * (pre > 0))[:, :, None] * x[:, None, :]).reshape(len(x), -1),
        ],
        axis=1,
    )  # d f / d (a, w) without the factor alpha / n
    lam, vecs = np.linalg.eigh(jac @ jac.T / len(x))
    rho = vecs.T @ (0.0 - y)  # f_0 = 0 exactly (symmetrised init)
    theta0 = float(np.sqrt(np.sum(a**2) + np.sum(w**2)))
    return np.clip(lam, 0.0, None), rho, theta0


def predict_lazy(key: jax.Array, cfg: Config) -> LazyPrediction:
    r"""Loss and relative parameter change of the linearised network, in closed form.

    Gradient descent with step :math:`\eta` (:func:`effective_lr`)
    on the first-order Taylor expansion of :math:`f` at :math:`\theta_0`, with
    tangent kernel :math:`K = J J^\top / P = \sum_a \lambda_a u_a u_a^\top` and
    residual coordinates :math:`\rho_a = u_a^\top (f_0 - y)`: with
    :math:`\mu_a = \eta \lambda_a`, after k steps

    .. math::

        \mathcal{L}_k = \frac{1}{2P} \sum_a (1 - \mu_a)^{2k} \rho_a^2, \qquad
        \lVert \theta_k - \theta_0 \rVert^2
            = \frac{1}{P} \sum_a \frac{(1 - (1 - \mu_a)^k)^2}{\lambda_a}\, \rho_a^2 .

    Since :math:`\lambda_a \propto \alpha^2` and, for alpha >= 1,
    :math:`\eta \propto 1/\alpha^2`, the parameter change is then exactly
    proportional to :math:`1/\alpha`; it is the limit of the real network's as
    alpha grows (Chizat, Oyallon & Bach 2019): the gap closes at least as fast as
    :math:`1/\alpha` (measured here: as alpha^-1.1 to alpha^-1.7 between alpha = 3
    and 30, depending on the seed).

    Args:
        key: the PRNG key given to :func:`lm_sims.lazy_rich.train` (same teacher,
            data and initialisation).
        cfg: a :class:`lm_sims.lazy_rich.Config`.

    Mode a is multiplied by :math:`1 - \mu_a` per step, so it diverges when
    :math:`|1 - \mu_a| > 1` (``unstable_modes``). A diverging prediction is a
    result, as a diverging run of :func:`train` is: ``diverged_step`` is the first
    step whose predicted loss exceeds :func:`lm_sims.training.divergence_limit` of
    its start (the criterion ``train`` applies), and the records from that step
    on are NaN.

    Returns:
        :class:`LazyPrediction` at the records of ``train(key, cfg)``: float64
        NumPy arrays, with the tangent kernel's eigenvalues, the unstable modes
        and ``diverged_step`` (in steps; -1 if none).

    Raises:
        TypeError: cfg is not a :class:`Config`, or key is not a PRNG key.

    References:
        Chizat, Oyallon & Bach, "On Lazy Training in Differentiable Programming",
        2019, arXiv:1812.07956.

    Example:
        >>> import jax
        >>> from lm_sims import lazy_rich
        >>> cfg = lazy_rich.Config(alpha=30.0)
        >>> p = lazy_rich.predict_lazy(jax.random.key(0), cfg)
        >>> bool(p.relative_change[-1] < 0.1), p.diverged
        (True, False)
        >>> bad = lazy_rich.predict_lazy(jax.random.key(0), cfg.replace(lr=8.0))
        >>> bad.diverged, bool(bad.unstable_modes[0])  # the top mode: mu > 2
        (True, True)
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a lazy_rich.Config, got {type(cfg).__name__}")
    check_key(key)
    key_data = tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())
    shape_cfg = Config(
        width=cfg.width, num_train=cfg.num_train, teacher_width=cfg.teacher_width
    )
    lam, rho, theta0 = _tangent_spectrum(key_data, shape_cfg)
    alpha = float(cfg.alpha)
    eta = float(effective_lr(cfg))
    lam = (alpha / cfg.width) ** 2 * lam
    mu = eta * lam
    step = cfg.record_every * np.arange(cfg.steps // cfg.record_every + 1)
    k = step[:, None].astype(np.float64)
    used = rho != 0  # a mode without residual stays at 0, even an unstable one
    with np.errstate(over="ignore", invalid="ignore"):
        decay = (1.0 - mu) ** k
        loss = 0.5 * np.mean(np.where(used, decay**2 * rho**2, 0.0), axis=1)
        # (1 - (1 - mu)^k)^2 / lam, with its limit k^2 mu eta for mu -> 0
        tiny = mu < 1e-12
        gain = np.where(tiny, 0.0, (1.0 - decay) ** 2) / np.where(tiny, 1.0, lam)
        gain = np.where(tiny, k**2 * mu * eta, gain)
        change = np.sqrt(np.mean(np.where(used, gain * rho**2, 0.0), axis=1)) / theta0
    # train's criterion: divergence_limit with the loss of f = 0 as the scale
    # (1/2 mean y^2 = 1/2 mean rho^2, rho being y rotated; f_0 = 0)
    zero_loss = max(0.5 * float(np.mean(rho**2)), float(np.finfo(np.float64).tiny))
    unstable, diverged_step = divergence(
        1.0 - mu, rho**2 / (2 * len(rho)), cfg.steps, zero_loss
    )
    if diverged_step >= 0:
        after = step >= diverged_step
        loss, change = np.where(after, np.nan, loss), np.where(after, np.nan, change)
    order = np.argsort(-lam, kind="stable")
    return LazyPrediction(
        cfg.lr * step.astype(np.float64),
        loss,
        change,
        lam[order],
        unstable[order],
        diverged_step,
    )


# -- the book's run: the chapter's configuration, alpha sweep and summary ------------

# The run of the Chapter 2.3 figures: 400 steps at lr = 0.5 reach t = 200, where the
# rich network (alpha = 0.1) has gathered most of its mass on the teacher (alignment
# ~4.6x the uniform value, against ~5.0x after 6,000 steps) and the lazy loss
# (alpha = 30) is below 1e-3; one run costs ~30 ms on 2 cores instead of ~400 ms for
# the 6,000-step default. Records every 4 steps, so the fast start is resolved.
LAZY_CONFIG = Config(steps=400, record_every=4)


class AlphaSweep(NamedTuple):
    """Final relative parameter change against the output scale alpha.

    Attributes:
        alpha: the output scales, shape (A,).
        relative_change: ``||theta_T - theta_0|| / ||theta_0||`` of the trained
            network at the last record (NaN if the run diverged), shape (A,).
        relative_change_lazy: the same for the linearised network,
            :func:`predict_lazy`, shape (A,).
        diverged_step: first diverged step of each run, or -1, shape (A,).
    """

    alpha: Float[np.ndarray, " A"]
    relative_change: Float[np.ndarray, " A"]
    relative_change_lazy: Float[np.ndarray, " A"]
    diverged_step: Int[np.ndarray, " A"]


def alpha_sweep(
    key: jax.Array, cfg: Config, alphas: Float[np.ndarray, " A"]
) -> AlphaSweep:
    """Train the network at each output scale alpha and predict it linearised.

    Every run uses the same key (same teacher, data and initialisation) and ``cfg``
    with ``alpha`` replaced; the linearised prediction is :func:`predict_lazy`. For
    alpha >= 1 the prediction is exactly proportional to ``1/alpha`` and the
    network's change approaches it as alpha grows (Chizat, Oyallon & Bach 2019).
    Runs are sequential jitted calls (alpha is dynamic: one compilation).

    Args:
        key: PRNG key, as for :func:`train`.
        cfg: a :class:`Config` (its ``alpha`` is ignored).
        alphas: output scales (> 0), shape (A,).

    Returns:
        :class:`AlphaSweep` of float64 NumPy arrays.

    Raises:
        TypeError: cfg is not a :class:`Config`, or key is not a PRNG key.
        ValueError: alphas is empty or holds a value <= 0 or not finite.
        TypeError: alphas is not an array of real numbers (None, strings).

    References:
        Chizat, Oyallon & Bach, "On Lazy Training in Differentiable Programming",
        2019, arXiv:1812.07956.

    Example:
        >>> import jax
        >>> from lm_sims import lazy_rich
        >>> s = lazy_rich.alpha_sweep(jax.random.key(0), lazy_rich.LAZY_CONFIG,
        ...                           [10.0, 100.0])
        >>> ratio = s.relative_change[0] / s.relative_change[1]
        >>> bool(abs(ratio - 10.0) < 0.5)  # the 1/alpha law
        True
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a lazy_rich.Config, got {type(cfg).__name__}")
    check_key(key)
    as_float_array("alphas", alphas, finite=False)  # TypeError: None, strings
    alphas = np.asarray(alphas, np.float64).reshape(-1)
    if not alphas.size:
        raise ValueError("alphas must hold at least one output scale, got none")
    for i, a in enumerate(alphas):
        check_real(f"alphas[{i}]", float(a), positive=True)
    sim, lazy, diverged = [], [], []
    for a in alphas:
        run_cfg = cfg.replace(alpha=float(a))
        traj = train(key, run_cfg)
        sim.append(float(traj.relative_change[-1]))
        lazy.append(float(predict_lazy(key, run_cfg).relative_change[-1]))
        diverged.append(int(traj.diverged_step))
    return AlphaSweep(alphas, np.array(sim), np.array(lazy), np.array(diverged))


class RunSummary(NamedTuple):
    """The numbers a reader checks on one run (final values at the last record
    before any divergence).

    Attributes:
        loss: final training loss.
        relative_change: final ``||theta - theta_0|| / ||theta_0||``.
        relative_change_lazy: the same for the linearised network
            (:func:`predict_lazy`).
        alignment_ratio: final :func:`teacher_alignment_fraction` over its value
            for uniformly spread directions, :func:`uniform_alignment_baseline`.
        alignment_ratio_init: the same at initialisation.
        alignment_ratio_max: the largest possible ratio (all mass near the
            teacher), ``1 / uniform_alignment_baseline``.
        max_mass: largest final neuron mass ``|a_i| |w_i|``.
        init_max_mass: the same at initialisation.
        diverged_step: first diverged step, or -1.
    """

    loss: float
    relative_change: float
    relative_change_lazy: float
    alignment_ratio: float
    alignment_ratio_init: float
    alignment_ratio_max: float
    max_mass: float
    init_max_mass: float
    diverged_step: int


def run_summary(key: jax.Array, cfg: Config) -> RunSummary:
    """Train once and summarise: loss, parameter change (and its lazy prediction),
    alignment with the teacher and the largest neuron, at the end and at init.

    Rich training (small alpha) grows a few neurons along the teacher's directions
    (alignment ratio well above 1, largest mass many times its initial value); lazy
    training (large alpha) fits the data with the neurons where they started
    (alignment ratio ~1, relative change ~ the linearised one, ~1/alpha).

    Args:
        key: PRNG key, as for :func:`train`.
        cfg: a :class:`Config`.

    Returns:
        :class:`RunSummary` of Python numbers. A diverged run is summarised at its
        last finite record, with ``diverged_step`` set.

    Raises:
        TypeError: cfg is not a :class:`Config`, or key is not a PRNG key.

    References:
        Chizat, Oyallon & Bach, "On Lazy Training in Differentiable Programming",
        2019, arXiv:1812.07956.

    Example:
        >>> import jax
        >>> from lm_sims import lazy_rich
        >>> cfg = lazy_rich.LAZY_CONFIG.replace(alpha=0.1)
        >>> r = lazy_rich.run_summary(jax.random.key(0), cfg)
        >>> bool(r.alignment_ratio > 3 * r.alignment_ratio_init)
        True
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a lazy_rich.Config, got {type(cfg).__name__}")
    check_key(key)
    traj = jax.device_get(train(key, cfg))
    theory = predict_lazy(key, cfg)
    positions = np.asarray(traj.positions, np.float64)
    finite = np.flatnonzero(np.all(np.isfinite(positions), axis=(1, 2)))
    last = int(finite[-1]) if finite.size else 0
    base = float(uniform_alignment_baseline(traj.teacher_directions))
    mass = np.linalg.norm(positions, axis=-1)
    return RunSummary(
        loss=float(traj.loss[last]),
        relative_change=float(traj.relative_change[last]),
        relative_change_lazy=float(theory.relative_change[last]),
        alignment_ratio=float(traj.alignment[last]) / base,
        alignment_ratio_init=float(traj.alignment[0]) / base,
        alignment_ratio_max=1.0 / base,
        max_mass=float(mass[last].max()),
        init_max_mass=float(mass[0].max()),
        diverged_step=int(traj.diverged_step),
    )
