# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""The edge of stability: full-batch gradient descent drives the sharpness to 2/lr.

**Quadratic stability.** Gradient descent with step ``lr`` on a quadratic
:math:`\frac12 x^\top H x` multiplies the component of the iterate along an
eigenvector of H with eigenvalue :math:`\lambda` by :math:`1 - \mathrm{lr}\,\lambda`
at every step,

.. math::

    x_k = (1 - \mathrm{lr}\, H)^k x_0, \qquad
    |x_k \cdot u_\lambda| = |1 - \mathrm{lr}\,\lambda|^k\, |x_0 \cdot u_\lambda|,
    \qquad (eq-eos-quadratic)

so it converges iff :math:`|1 - \mathrm{lr}\,\lambda| < 1` for every eigenvalue,
i.e. iff the *sharpness* :math:`S = \lambda_{\max}(H)` obeys
:math:`\mathrm{lr}\, S < 2`, and diverges along the top eigenvector when
:math:`\mathrm{lr}\, S > 2` (:func:`quadratic_gd`, :func:`predict_quadratic`).

**Neural networks.** On a network the Hessian changes along the run. Cohen et al.
(2021) found that full-batch gradient descent on a hard task first *sharpens*
(S rises, "progressive sharpening") until S reaches :math:`2/\mathrm{lr}`, and then,
instead of diverging, hovers at the edge of stability, :math:`S \approx 2/\mathrm{lr}`,
while the loss keeps falling over long times but non-monotonically. The model here
is their phenomenon at toy scale: a two-layer network

.. math::

    f(x) = \frac{1}{\sqrt{n}}\, a^\top \phi(W x), \qquad \phi \in \{\tanh,
    \mathrm{relu}\}, \qquad (eq-eos-model)

with ``d = 10`` inputs, ``n = 64`` hidden units (``width``; the book's symbol
for width), trained on ``P = 500`` (``num_train``) Gaussian
inputs :math:`x \sim N(0, I_d)` with random :math:`\pm 1` labels (an easy teacher
task does not sharpen enough), :math:`W_{ij} \sim N(0, 1/d)`, and a *small* readout
:math:`a_i \sim N(0, 0.1^2)` (with :math:`a \sim N(0, 1)` the network starts too
sharp and never reaches the edge at these learning rates). The loss is the book's
:math:`\mathcal{L} = \frac{1}{2P} \sum_\mu (f(x_\mu) - y_\mu)^2`. The learning rate
is set relative to the initial sharpness :math:`S_0` (:func:`initial_sharpness`),
:math:`\mathrm{lr} = 2 / (k S_0)`: with k = 4 or 8 the run sharpens until S meets
:math:`2/\mathrm{lr}` and stays there; with k = 16 it stops short (the control).

**Sharpness** is :func:`lm_sims.observables.sharpness` (Lanczos on Hessian-vector
products, never the dense Hessian) evaluated every ``record_every`` steps through the
``observe`` hook of :func:`lm_sims.training.run`. Each evaluation starts Lanczos
afresh from the observable's fixed probe vector with ``lanczos_iters`` (20)
Hessian-vector products. Measured against the dense 704 x 704 Hessian along the
k = 8 run, where the top two eigenvalues come within 0.6-3% of each other, 20 steps
give the top eigenvalue to a relative 4e-13 in float64 and 1.3e-7 in float32 (10
steps leave ~1e-3). A whole 2,000-step run with 201 sharpness evaluations costs
~0.5 s on two cores, so a warm start from the previous record's top eigenvector,
which would save some of those 20 products, is not needed (and the ``observe`` hook
of :func:`lm_sims.training.run` is a pure function of the parameters, so it
carries no vector from one record to the next).

**Precision.** Everything runs in JAX's default float dtype: float32, or float64
under ``jax_enable_x64`` (recommended for this experiment, whose late phase is
chaotic). The data and the initial weights are drawn in float32 and then cast, so
one key gives the *same* initial network and data in both precisions; the two runs
agree until the edge of stability, where rounding differences grow and the
trajectories separate (the late-phase statistics they are tested on do not).

References:
    Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient descent on neural networks
    typically occurs at the edge of stability", 2021, arXiv:2103.00065.
    Damian, Nichani & Lee, "Self-stabilization: the implicit bias of gradient
    descent at the edge of stability", 2023, arXiv:2209.15594.
    Lewkowycz et al., "The large learning rate phase of deep learning: the
    catapult mechanism", 2020, arXiv:2003.02218.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from lm_sims import data, observables, training
from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_callable,
    check_choice,
    check_int,
    check_key,
    check_real,
    check_record_every,
    config_dataclass,
    diverged_flag,
    num_bytes,
)

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "Batch",
    "Config",
    "EdgeSummary",
    "Params",
    "QuadraticRun",
    "Trajectory",
    "apply",
    "edge_summary",
    "init",
    "initial_sharpness",
    "loss",
    "lr_for_ratio",
    "predict_quadratic",
    "quadratic_diverges",
    "quadratic_gd",
    "sharpness",
    "stability_threshold",
    "train",
    "training_data",
]

ACTIVATIONS = ("tanh", "relu")
#: Training sets of :class:`Config`: Gaussian inputs with random +-1 labels (the
#: edge-of-stability section) or the digits with centred one-hot targets
#: (``d = 64``, 10 outputs; the central flow of Chapter 4).
DATASETS = ("random_labels", "digits")


@config_dataclass(
    static=(
        "d",
        "width",
        "num_train",
        "activation",
        "steps",
        "record_every",
        "lanczos_iters",
        "dataset",
    )
)
class Config:
    """The edge-of-stability experiment: network, data and gradient-descent run.

    Attributes:
        d: input dimension (int >= 1). Static. Default 10.
        width: hidden width n (int >= 1). Static. Default 64.
        num_train: number of training samples P (int >= 1). Static. Default 500.
        activation: "tanh" or "relu". Static.
        steps: gradient-descent steps (int >= 1). Static. Default 2000.
        record_every: record the loss and the sharpness every this many steps;
            must divide ``steps``. Static. Default 10.
        lanczos_iters: Hessian-vector products per sharpness evaluation (Lanczos
            steps, int >= 1). Static. Default 20.
        lr: learning rate (> 0). Time on the book's axes is ``t = lr * step``. Set
            it relative to the initial sharpness with :func:`lr_for_ratio`.
        readout_scale: standard deviation of the readout weights at
            initialisation (> 0). Default 0.1 (see the module docstring).
        dataset: "random_labels" (default: ``num_train`` Gaussian inputs with
            +-1 labels, one output) or "digits" (``num_train`` random digits
            images of :func:`lm_sims.data.digits_regression`, centred one-hot
            targets, 10 outputs: the readout ``a`` is (width, 10); needs
            ``d = 64``). Static.
    """

    d: int = 10
    width: int = 64
    num_train: int = 500
    activation: str = "tanh"
    steps: int = 2000
    record_every: int = 10
    lanczos_iters: int = 20
    lr: float = 1.0
    readout_scale: float = 0.1
    dataset: str = "random_labels"

    def _validate(self):
        check_int("d", self.d, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("num_train", self.num_train, minimum=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_int("lanczos_iters", self.lanczos_iters, minimum=1)
        check_real("lr", self.lr, positive=True)
        check_real("readout_scale", self.readout_scale, positive=True)
        check_choice("dataset", self.dataset, DATASETS)
        if self.dataset == "digits":
            if self.d != 64:
                raise ValueError(
                    f"dataset='digits' has d = 64 input pixels, got d={self.d}: "
                    "pass d=64"
                )
            check_int("num_train", self.num_train, maximum=data.NUM_DIGITS)

    @property
    def d_out(self) -> int:
        """The number of outputs, 1 for "random_labels" and 10 for "digits"."""
        return 10 if self.dataset == "digits" else 1


class Params(NamedTuple):
    """Network parameters.

    Attributes:
        w: first-layer weights, ``Float[Array, "width d"]``.
        a: readout weights, ``Float[Array, "width"]`` (one output) or
            ``Float[Array, "width d_out"]`` (``dataset="digits"``: 10 outputs).
    """

    w: Float[Array, "width d"]
    a: Float[Array, " width"]


class Batch(NamedTuple):
    """Training data: inputs ``x`` (num_train, d) and targets ``y``: +-1 labels of
    shape (num_train,), or (num_train, d_out) for a network with d_out outputs."""

    x: Float[Array, "num_train d"]
    y: Float[Array, " num_train"]


class Trajectory(NamedTuple):
    """A gradient-descent run, recorded every ``record_every`` steps.

    Attributes:
        step: (records,) the step of each record, 0, record_every, ..., steps (int).
        t: (records,) time ``lr * step``.
        loss: (records,) training loss ``1/(2P) sum (f - y)^2``; NaN after a
            divergence.
        sharpness: (records,) top eigenvalue of the loss Hessian; NaN after a
            divergence. The edge of stability is ``2 / lr``
            (:func:`stability_threshold`).
        diverged_step: () first step whose loss blew up, or -1.
        observed: what ``train``'s ``observe`` hook recorded (leading axis
            records), or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    sharpness: Float[Array, " records"]
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``); for swept output
        (leading grid and seed axes) a bool array of those axes."""
        return diverged_flag(self.diverged_step)


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(
            f"cfg must be an edge_of_stability.Config, got {type(cfg).__name__}"
        )


def _check_key(key):
    if not isinstance(key, jax.core.Tracer):
        check_key(key)


def _float():
    return jnp.zeros(()).dtype  # float64 under jax_enable_x64, else float32


def _real_array(name, value):
    """``value`` as a finite floating array; bools are refused, not read as 0/1."""
    return as_float_array(name, value, allow_bool=False)


def _check_params(params):
    if not (isinstance(params, tuple) and hasattr(params, "w")) or not hasattr(
        params, "a"
    ):
        raise TypeError(
            "params must be edge_of_stability.Params(w, a), got "
            f"{type(params).__name__}"
        )
    w = _real_array("params.w", params.w)
    a = _real_array("params.a", params.a)
    if w.ndim != 2 or a.ndim not in (1, 2) or a.shape[0] != w.shape[0]:
        raise ValueError(
            "params must have w of shape (width, d) and a of shape (width,) or "
            "(width, d_out), got "
            f"params.w of shape {w.shape} and params.a of shape {a.shape}"
        )
    return Params(w, a)


def _check_x(params, x, name="x"):
    x = _real_array(name, x)
    d = params.w.shape[1]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(
            f"{name} must have shape (P, d) with d = {d} (params.w is "
            f"{params.w.shape}), got {name} of shape {x.shape}"
        )
    return x


def _check_batch(params, batch):
    if not (isinstance(batch, tuple) and len(batch) == 2):
        raise TypeError(
            f"batch must be edge_of_stability.Batch(x, y), got {type(batch).__name__}"
        )
    x = _check_x(params, batch[0], "batch.x")
    y = _real_array("batch.y", batch[1])
    if params.a.ndim == 2:
        if y.shape != (x.shape[0], params.a.shape[1]):
            raise ValueError(
                f"batch.y must have shape (P, d_out) = ({x.shape[0]}, "
                f"{params.a.shape[1]}) for params.a of shape {params.a.shape}, "
                f"got batch.y of shape {y.shape}"
            )
        return Batch(x, y)
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"batch.y must have shape (P,) = ({x.shape[0]},) to match batch.x of "
            f"shape {x.shape}, got batch.y of shape {y.shape} (a column vector "
            "(P, 1) would broadcast to a (P, P) error: pass y.ravel())"
        )
    return Batch(x, y)


def _check_memory(cfg):
    # the largest live arrays of a run: data (P d), the hidden activations and
    # their tangents in the gradient and Hessian-vector products (~8 P n), the
    # Lanczos basis (lanczos_iters + 4 parameter vectors) and the records
    records = cfg.steps // cfg.record_every + 1
    nbytes = (
        num_bytes(cfg.num_train, cfg.d + 8 * cfg.width)
        + num_bytes(cfg.lanczos_iters + 4, cfg.width, cfg.d + cfg.d_out)
        + num_bytes(4, records)
    )
    check_allocation(
        f"the run at width={cfg.width}, num_train={cfg.num_train}, d={cfg.d}",
        nbytes,
        "use a smaller width, num_train or d",
    )


def _data(key, cfg):
    if cfg.dataset == "digits":
        task = data._digits(key, cfg.num_train, 10)  # float32, cast below
        return Batch(task.x.astype(_float()), task.y.astype(_float()))
    k_x, k_y = jax.random.split(key)
    # drawn in float32 and cast: the same data in both precisions
    x = jax.random.normal(k_x, (cfg.num_train, cfg.d), jnp.float32)
    coin = jax.random.uniform(k_y, (cfg.num_train,), jnp.float32) < 0.5
    return Batch(x.astype(_float()), jnp.where(coin, 1.0, -1.0).astype(_float()))


def _init(key, cfg):
    k_w, k_a = jax.random.split(key)
    w = jax.random.normal(k_w, (cfg.width, cfg.d), jnp.float32) / np.sqrt(cfg.d)
    shape = (cfg.width,) if cfg.d_out == 1 else (cfg.width, cfg.d_out)
    a = jax.random.normal(k_a, shape, jnp.float32)
    return Params(w.astype(_float()), cfg.readout_scale * a.astype(_float()))


def training_data(key: jax.Array, cfg: Config) -> Batch:
    """The training set of ``train(key, cfg)``: ``x ~ N(0, I_d)``, ``y = +-1``.

    Labels are independent fair coins, independent of ``x`` (a task that needs
    memorisation). Drawn from the first half of ``jax.random.split(key)`` in
    float32 and cast to JAX's default float dtype.

    Args:
        key: the PRNG key given to :func:`train`.
        cfg: uses ``num_train`` and ``d``.

    Returns:
        ``Batch(x, y)``, x of shape (num_train, d), y of shape (num_train,).

    Raises:
        TypeError: ``key`` is not a PRNG key or ``cfg`` not a :class:`Config`.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> batch = eos.training_data(jax.random.key(0), eos.Config(num_train=8))
        >>> batch.x.shape, sorted(set(batch.y.tolist()))
        ((8, 10), [-1.0, 1.0])
    """
    _check_key(key)
    _check_cfg(cfg)
    _check_memory(cfg)
    return _data(jax.random.split(key)[0], cfg)


def init(key: jax.Array, cfg: Config) -> Params:
    """The initial network of ``train(key, cfg)``.

    ``W_ij ~ N(0, 1/d)`` and ``a_i ~ N(0, readout_scale^2)``, from the second half
    of ``jax.random.split(key)``, drawn in float32 and cast to JAX's default float
    dtype (so one key gives the same network in both precisions).

    Args:
        key: PRNG key.
        cfg: uses ``width``, ``d`` and ``readout_scale``.

    Returns:
        :class:`Params` with w of shape (width, d) and a of shape (width,).

    Raises:
        TypeError: ``key`` is not a PRNG key or ``cfg`` not a :class:`Config`.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> p = eos.init(jax.random.key(0), eos.Config(width=16))
        >>> p.w.shape, p.a.shape
        ((16, 10), (16,))
    """
    _check_key(key)
    _check_cfg(cfg)
    _check_memory(cfg)
    return _init(jax.random.split(key)[1], cfg)


def apply(
    params: Params, x: Float[ArrayLike, "n d"], activation: str = "tanh"
) -> Float[Array, " n"]:
    """Network outputs, eq. (eq-eos-model): ``f(x) = a . phi(W x) / sqrt(h)``.

    Args:
        params: :class:`Params`.
        x: inputs, shape (P, d).
        activation: "tanh" or "relu".

    Returns:
        Outputs, shape (P,).

    Raises:
        ValueError: unknown ``activation``; ``x`` not of shape (P, d) with the
            ``d`` of ``params.w``; ``params`` of inconsistent shapes; NaN or inf
            entries.
        TypeError: ``params`` not :class:`Params`, or non-real (or boolean) arrays.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import edge_of_stability as eos
        >>> p = eos.init(jax.random.key(0), eos.Config(width=16))
        >>> eos.apply(p, jnp.ones((3, 10))).shape
        (3,)
    """
    check_choice("activation", activation, ACTIVATIONS)
    params = _check_params(params)
    return _apply(params, _check_x(params, x), activation)


def _apply(params, x, activation):
    phi = jnp.tanh if activation == "tanh" else jax.nn.relu
    width = params.w.shape[0]
    return phi(x @ params.w.T) @ params.a / np.sqrt(width)


def _loss(params, batch, activation):
    residual = _apply(params, batch.x, activation) - batch.y
    if residual.ndim == 2:  # d_out outputs: 1/(2P) sum_mu |f(x_mu) - y_mu|^2
        return 0.5 * jnp.mean(jnp.sum(residual**2, axis=1))
    return 0.5 * jnp.mean(residual**2)


def _sharpness(params, batch, activation, num_iters):
    return observables.sharpness(
        functools.partial(_loss, batch=batch, activation=activation),
        params,
        num_iters=num_iters,
    )


def loss(params: Params, batch: Batch, activation: str = "tanh") -> Float[Array, ""]:
    """Training loss ``1/(2P) sum_mu (f(x_mu) - y_mu)^2`` (half the mean squared error;
    with d_out outputs, the squared error summed over outputs).

    Args:
        params: :class:`Params`.
        batch: :class:`Batch`, x of shape (P, d) and y of shape (P,).
        activation: "tanh" or "relu".

    Returns:
        Scalar loss.

    Raises:
        ValueError: ``batch.y`` not of shape (P,) matching ``batch.x`` (a column
            vector (P, 1) is refused, not broadcast), ``batch.x`` not (P, d),
            NaN or inf entries, or an unknown ``activation``.
        TypeError: as :func:`apply`, or ``batch`` not a (x, y) pair.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> key, cfg = jax.random.key(0), eos.Config(num_train=50, width=16)
        >>> value = eos.loss(eos.init(key, cfg), eos.training_data(key, cfg))
        >>> 0.4 < float(value) < 0.6
        True
    """
    check_choice("activation", activation, ACTIVATIONS)
    params = _check_params(params)
    return _loss(params, _check_batch(params, batch), activation)


def sharpness(
    params: Params, batch: Batch, activation: str = "tanh", *, num_iters: int = 20
) -> Float[Array, ""]:
    """Top eigenvalue of the Hessian of :func:`loss` at ``params``.

    :func:`lm_sims.observables.sharpness` (Lanczos on Hessian-vector products).

    Args:
        params: :class:`Params`.
        batch: :class:`Batch`.
        activation: "tanh" or "relu".
        num_iters: Lanczos steps (>= 1).

    Returns:
        Scalar sharpness (algebraic top eigenvalue), in the dtype of ``params``.

    Raises:
        ValueError, TypeError: as :func:`loss`, or
            :func:`lm_sims.observables.sharpness`.
    """
    check_choice("activation", activation, ACTIVATIONS)
    params = _check_params(params)
    return _sharpness(params, _check_batch(params, batch), activation, num_iters)


@functools.partial(jax.jit, static_argnums=(1,))
def _initial_sharpness(key, cfg):
    k_data, k_init = jax.random.split(key)
    # 4x the usual Lanczos steps: this one number sets every learning rate
    iters = max(4 * cfg.lanczos_iters, 40)
    return _sharpness(_init(k_init, cfg), _data(k_data, cfg), cfg.activation, iters)


def _shape_cfg(cfg):
    # only the static fields and readout_scale matter for S0: one compile per shape
    return Config(
        d=cfg.d,
        width=cfg.width,
        num_train=cfg.num_train,
        activation=cfg.activation,
        lanczos_iters=cfg.lanczos_iters,
        dataset=cfg.dataset,
    )


def initial_sharpness(key: jax.Array, cfg: Config) -> Float[Array, ""]:
    """Sharpness ``S0`` of the initial network of ``train(key, cfg)`` on its data.

    Use it to set the learning rate as ``lr = 2 / (k S0)`` (:func:`lr_for_ratio`):
    the run then starts a factor k below the edge of stability. Does not depend on
    ``cfg.lr``.

    Args:
        key: the PRNG key given to :func:`train`.
        cfg: the run's config (``readout_scale`` and the static fields are used).

    Returns:
        Scalar, the top Hessian eigenvalue at initialisation.

    Raises:
        TypeError: ``key`` is not a PRNG key or ``cfg`` not a :class:`Config`.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> s0 = eos.initial_sharpness(jax.random.key(0), eos.Config())
        >>> 0.05 < float(s0) < 0.1
        True
    """
    _check_key(key)
    _check_cfg(cfg)
    _check_memory(cfg)
    return _initial_sharpness(
        key, _shape_cfg(cfg).replace(readout_scale=cfg.readout_scale)
    )


def lr_for_ratio(key: jax.Array, cfg: Config, k: float) -> float:
    """The learning rate ``2 / (k S0)``: k times below the edge at initialisation.

    Args:
        key: the PRNG key given to :func:`train`.
        cfg: the run's config (its ``lr`` is ignored).
        k: how far below the edge the run starts (> 0); the book uses 4, 8
            (progressive sharpening to the edge) and 16 (the control). k < 1
            starts beyond the edge.

    Returns:
        The learning rate, a Python float.

    Raises:
        ValueError: ``k`` is not finite and > 0.
        TypeError: as :func:`initial_sharpness`.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> key, cfg = jax.random.key(0), eos.Config()
        >>> lr = eos.lr_for_ratio(key, cfg, 8)
        >>> round(lr * float(eos.initial_sharpness(key, cfg)), 6)
        0.25
    """
    check_real("k", k, positive=True)
    return 2.0 / (float(k) * float(initial_sharpness(key, cfg)))


def stability_threshold(lr: float | ArrayLike) -> Float[Array, "*batch"]:
    """The edge of stability ``2 / lr``: gradient descent on a quadratic whose
    sharpness exceeds it diverges, eq. (eq-eos-quadratic).

    Args:
        lr: learning rate(s) (> 0), any shape.

    Returns:
        ``2 / lr`` with the shape of ``lr``.

    Raises:
        ValueError: an ``lr`` that is not > 0 or not finite.
        TypeError: ``lr`` is not real numbers (booleans are refused).

    Example:
        >>> from lm_sims.edge_of_stability import stability_threshold
        >>> float(stability_threshold(0.5))
        4.0
    """
    lr = _real_array("lr", lr)
    if not bool(jnp.all(lr > 0)):
        raise ValueError(f"lr must be > 0, got lr={np.asarray(lr)}")
    return 2.0 / lr


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key, cfg, observe_fn=None):
    k_data, k_init = jax.random.split(key)
    batch = _data(k_data, cfg)
    params0 = _init(k_init, cfg)
    loss_fn = functools.partial(_loss, batch=batch, activation=cfg.activation)

    def observe(p):
        s = observables.sharpness(loss_fn, p, num_iters=cfg.lanczos_iters)
        return s, (None if observe_fn is None else observe_fn(p))

    result = training.run(
        loss_fn,
        params0,
        cfg.lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        observe=observe,
    )
    sharp, observed = result.observed
    return Trajectory(
        step=result.step,
        t=cfg.lr * result.step,
        loss=result.loss,
        sharpness=sharp,
        diverged_step=result.diverged_step,
        observed=observed,
    )


def train(
    key: jax.Array,
    cfg: Config,
    *,
    observe: Callable[[Params], Any] | None = None,
) -> Trajectory:
    r"""Full-batch gradient descent on the network, recording loss and sharpness.

    :math:`\theta_{k+1} = \theta_k - \mathrm{lr}\, \nabla \mathcal{L}(\theta_k)` for
    ``cfg.steps`` steps by :func:`lm_sims.training.run`, from :func:`init` on
    :func:`training_data` (``key`` is split into data and init keys). Every
    ``record_every`` steps the loss and the sharpness
    (:func:`lm_sims.observables.sharpness`, ``lanczos_iters`` Hessian-vector
    products) are recorded. Jitted: static fields (and ``observe``) select the
    compiled program, ``lr`` and ``readout_scale`` are traced (``lm_sims.sweep``
    sweeps them with one compilation). A diverging run is not an error:
    ``diverged_step`` says where, and later records are NaN.

    Args:
        key: PRNG key.
        cfg: a :class:`Config`.
        observe: optional function of the :class:`Params`, evaluated at every
            record; its outputs land in ``Trajectory.observed``.

    Returns:
        :class:`Trajectory` with ``steps // record_every + 1`` records.

    Raises:
        TypeError: ``key`` is not a PRNG key, ``cfg`` not a :class:`Config`, or
            ``observe`` not callable.
        ValueError: the run would allocate more than ``LM_SIMS_MAX_BYTES``
            (default 4 GiB; width, num_train and d set the size).

    References:
        Cohen et al., "Gradient descent on neural networks typically occurs at the
        edge of stability", 2021, arXiv:2103.00065 (Fig. 1).

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> key, cfg = jax.random.key(0), eos.Config(steps=200)
        >>> traj = eos.train(key, cfg.replace(lr=eos.lr_for_ratio(key, cfg, 4)))
        >>> traj.sharpness.shape, bool(traj.loss[-1] < traj.loss[0])
        ((21,), True)
    """
    _check_key(key)
    _check_cfg(cfg)
    check_callable("observe", observe)
    _check_memory(cfg)
    return _train(key, cfg, observe)


class EdgeSummary(NamedTuple):
    """How a run met the edge of stability (:func:`edge_summary`).

    Attributes:
        first_crossing: first recorded step with ``S lr / 2 > 1``, or -1.
        late_mean: mean of ``S lr / 2`` over the late records.
        late_min, late_max: its extremes over the late records.
        max_ratio: the largest ``S lr / 2`` of the run.
        loss_monotone: True if the recorded loss never rose.
        late_start: the first step counted as late.
    """

    first_crossing: int
    late_mean: float
    late_min: float
    late_max: float
    max_ratio: float
    loss_monotone: bool
    late_start: int


def edge_summary(
    traj: Trajectory, lr: float | None = None, late_start: int = 1000
) -> EdgeSummary:
    """Summarise a run against its edge of stability ``2 / lr``.

    The run's learning rate is read from the trajectory (``traj.t / traj.step``);
    an ``lr`` given as well must agree with it (relative 1e-4: ``t`` is rounded
    to the float dtype), so a summary can never use another run's threshold.

    Args:
        traj: a :class:`Trajectory` of one run (no leading grid axes).
        lr: the run's learning rate (> 0), or None to take it from ``traj``.
        late_start: the records at steps >= this are the late phase (int >= 0, at
            most the last recorded step).

    Returns:
        :class:`EdgeSummary` of Python numbers.

    Raises:
        TypeError: ``traj`` is not a :class:`Trajectory`.
        ValueError: ``lr`` not > 0 or not the run's learning rate, ``late_start``
            out of range, the trajectory has leading axes, or it diverged before
            ``late_start``.

    Example:
        >>> import jax
        >>> from lm_sims import edge_of_stability as eos
        >>> key, cfg = jax.random.key(0), eos.Config(steps=200)
        >>> lr = eos.lr_for_ratio(key, cfg, 16)
        >>> traj = eos.train(key, cfg.replace(lr=lr))
        >>> s = eos.edge_summary(traj, late_start=100)  # lr from traj.t / traj.step
        >>> s.first_crossing, s.loss_monotone
        (-1, True)
        >>> eos.edge_summary(traj, 2 * lr, 100)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: lr must be the run's learning rate, ...
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(
            "traj must be an edge_of_stability.Trajectory (the output of train), "
            f"got {type(traj).__name__}"
        )
    step = np.asarray(traj.step)
    if step.ndim != 1:
        raise ValueError(
            f"traj must be one run (1-D records), got step of shape {step.shape}"
        )
    check_int("late_start", late_start, minimum=0, maximum=int(step[-1]))
    run_lr = float(np.asarray(traj.t, np.float64)[-1] / step[-1])
    if lr is None:
        lr = run_lr
    else:
        check_real("lr", lr, positive=True)
        if not np.isclose(float(lr), run_lr, rtol=1e-4, atol=0.0):
            raise ValueError(
                f"lr must be the run's learning rate, traj.t / traj.step = "
                f"{run_lr:.6g}, got lr={float(lr):.6g} (omit lr to use the run's)"
            )
    ratio = np.asarray(traj.sharpness, np.float64) * float(lr) / 2.0
    loss_ = np.asarray(traj.loss, np.float64)
    late = step >= late_start
    if not np.all(np.isfinite(ratio[late])):
        raise ValueError(
            f"the run diverged at step {int(traj.diverged_step)}, before the late "
            f"phase (steps >= {late_start}) ends: no late statistics"
        )
    above = np.flatnonzero(ratio > 1.0)
    finite = np.isfinite(loss_)
    return EdgeSummary(
        first_crossing=int(step[above[0]]) if above.size else -1,
        late_mean=float(ratio[late].mean()),
        late_min=float(ratio[late].min()),
        late_max=float(ratio[late].max()),
        max_ratio=float(np.nanmax(ratio)),
        loss_monotone=bool(np.all(np.diff(loss_[finite]) <= 0)),
        late_start=int(late_start),
    )


# -- the quadratic: gradient descent diverges iff lr * S > 2 ------------------------


class QuadraticRun(NamedTuple):
    """Gradient descent on ``1/2 x^T H x`` (:func:`quadratic_gd`,
    :func:`predict_quadratic`).

    A run that diverges is flagged as every simulation in lm_sims is
    (:func:`lm_sims.training.run`): from ``diverged_step`` on, ``x`` and ``loss``
    are NaN, so no figure plots an overflowing point.

    Attributes:
        step: (steps + 1,) 0, 1, ..., steps.
        x: (steps + 1, dim) the iterates (NaN from ``diverged_step`` on).
        loss: (steps + 1,) ``1/2 x^T H x`` at each iterate (NaN from
            ``diverged_step`` on).
        eigenvalues: (dim,) the eigenvalues of H, ascending.
        unstable_modes: (dim,) bool, ``|1 - lr lambda_i| > 1``: the eigen-directions
            along which gradient descent grows (in the order of ``eigenvalues``).
        diverged_step: the first step (in steps) whose ``|loss|`` is not finite or
            exceeds :func:`lm_sims.training.divergence_limit` ``(|L(0)|, scale)``
            with ``scale = 1/2 max|lambda| |x0|^2`` (the loss scale of the start),
            i.e. about 2,000 times the starting loss; -1 if none.
    """

    step: Int[np.ndarray, " records"]
    x: Float[np.ndarray, "records dim"]
    loss: Float[np.ndarray, " records"]
    eigenvalues: Float[np.ndarray, " dim"]
    unstable_modes: Bool[np.ndarray, " dim"]
    diverged_step: int

    @property
    def diverged(self) -> bool:
        """Whether the run diverged within its steps (``diverged_step >= 0``)."""
        return self.diverged_step >= 0


def _flag_quadratic(h, x0, lr, xs, loss_):
    """The :class:`QuadraticRun` of iterates ``xs`` and losses ``loss_`` with the
    divergence flags of the simulations, values masked from the diverged step."""
    lam = np.linalg.eigvalsh(h)
    scale = 0.5 * float(np.max(np.abs(lam))) * float(x0 @ x0)
    diverged_step = -1
    if scale > 0:
        limit = float(training.divergence_limit(abs(float(loss_[0])), scale))
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(loss_) | (np.abs(loss_) > limit)
        bad |= ~np.all(np.isfinite(xs), axis=1)
        if np.any(bad):
            diverged_step = int(np.argmax(bad))
            xs, loss_ = xs.copy(), loss_.copy()
            xs[diverged_step:] = np.nan
            loss_[diverged_step:] = np.nan
    unstable = np.abs(1.0 - lr * lam) > 1.0
    return QuadraticRun(np.arange(len(loss_)), xs, loss_, lam, unstable, diverged_step)


def _check_quadratic(hessian, x0, lr, steps, copies):
    h = np.asarray(_real_array("hessian", hessian), np.float64)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
        raise ValueError(f"hessian must be square (dim, dim), got shape {h.shape}")
    if not np.allclose(h, h.T, rtol=1e-12, atol=1e-12 * np.abs(h).max()):
        raise ValueError("hessian must be symmetric")
    x0 = np.asarray(_real_array("x0", x0), np.float64)
    if x0.shape != (h.shape[0],):
        raise ValueError(f"x0 must have shape ({h.shape[0]},), got {x0.shape}")
    check_real("lr", lr, positive=True)
    check_int("steps", steps, minimum=1)
    # float64 NumPy: ``copies`` arrays of (steps + 1, dim)
    check_allocation(
        f"{steps} steps of a {h.shape[0]}-dimensional quadratic",
        8.0 * copies * (steps + 1.0) * h.shape[0],
        "use fewer steps or a smaller hessian",
    )
    return h, x0, float(lr)


def quadratic_gd(
    hessian: Float[ArrayLike, "dim dim"],
    x0: Float[ArrayLike, " dim"],
    lr: float,
    steps: int,
) -> QuadraticRun:
    r"""Simulate gradient descent on :math:`\frac12 x^\top H x`, step by step.

    :math:`x_{k+1} = x_k - \mathrm{lr}\, H x_k` in float64 NumPy. A run that
    diverges is a result, flagged as every lm_sims simulation is: ``diverged_step``
    is the first step whose loss leaves the range
    :func:`lm_sims.training.divergence_limit` allows (about 2,000 times the
    starting loss), and ``x`` and ``loss`` are NaN from there on (never raised).

    Args:
        hessian: (dim, dim) symmetric matrix H.
        x0: (dim,) starting point.
        lr: learning rate (> 0).
        steps: number of steps (int >= 1).

    Returns:
        :class:`QuadraticRun` of float64 arrays.

    Raises:
        ValueError: H not square or not symmetric, x0 of the wrong shape, NaN
            entries, ``lr <= 0``, ``steps < 1``, or iterates that would take
            more than ``LM_SIMS_MAX_BYTES`` (default 4 GiB).
        TypeError: boolean or non-real ``hessian`` / ``x0``.

    Example:
        >>> import numpy as np
        >>> from lm_sims.edge_of_stability import quadratic_gd
        >>> run = quadratic_gd(np.diag([2.0, 1.0]), [1.0, 1.0], 0.5, 2)
        >>> run.x[-1].tolist()  # (1 - 0.5 * 2)^2 = 0 and (1 - 0.5)^2 = 0.25
        [0.0, 0.25]
        >>> far = quadratic_gd(np.diag([2.0, 1.0]), [1.0, 1.0], 2.0, 20)
        >>> far.unstable_modes.tolist(), far.diverged_step  # |1 - 2 * 2| = 3
        ([False, True], 4)
    """
    h, x, lr = _check_quadratic(hessian, x0, lr, steps, copies=2)
    start = x
    xs = [x]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            x = x - lr * (h @ x)
            xs.append(x)
        xs = np.array(xs)
        loss_ = 0.5 * np.einsum("ki,ij,kj->k", xs, h, xs)
    return _flag_quadratic(h, start, lr, xs, loss_)


def predict_quadratic(
    hessian: Float[ArrayLike, "dim dim"],
    x0: Float[ArrayLike, " dim"],
    lr: float,
    steps: int,
) -> QuadraticRun:
    r"""Gradient descent on a quadratic in closed form, eq. (eq-eos-quadratic).

    With :math:`H = \sum_i \lambda_i u_i u_i^\top`,
    :math:`x_k = \sum_i (1 - \mathrm{lr}\,\lambda_i)^k (u_i \cdot x_0)\, u_i` and
    :math:`\frac12 x_k^\top H x_k = \frac12 \sum_i \lambda_i
    (1 - \mathrm{lr}\,\lambda_i)^{2k} (u_i \cdot x_0)^2`: the component along
    :math:`u_i` grows iff :math:`|1 - \mathrm{lr}\,\lambda_i| > 1`
    (``unstable_modes``). The prediction is flagged and masked from its
    ``diverged_step`` on by the same rule as the simulation (:class:`QuadraticRun`).

    Args:
        hessian, x0, lr, steps: as :func:`quadratic_gd`.

    Returns:
        :class:`QuadraticRun` of float64 arrays.

    Raises:
        ValueError: as :func:`quadratic_gd`.

    Example:
        >>> import numpy as np
        >>> from lm_sims.edge_of_stability import predict_quadratic
        >>> p = predict_quadratic(np.diag([2.0, 1.0]), [1.0, 1.0], 1.05, 10)
        >>> round(float(p.x[-1, 0]), 4)  # (1 - 2.1)^10 = 1.1^10
        2.5937
        >>> p.unstable_modes.tolist(), p.diverged_step  # grows, but not 2,000x yet
        ([False, True], -1)
    """
    h, x0, lr = _check_quadratic(hessian, x0, lr, steps, copies=3)
    lam, u = np.linalg.eigh(h)
    c = u.T @ x0
    k = np.arange(steps + 1.0)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        factor = (1.0 - lr * lam) ** k  # (steps + 1, dim)
        xs = (factor * c) @ u.T
        loss_ = 0.5 * np.sum(lam * (factor * c) ** 2, axis=1)
    return _flag_quadratic(h, x0, lr, xs, loss_)


def quadratic_diverges(lr: float, sharpness: float) -> bool:
    """Whether gradient descent on a quadratic with this sharpness diverges.

    True iff ``lr * sharpness > 2`` (from a start with a component along the top
    eigenvector); at exactly 2 the iterate oscillates with constant amplitude.

    Args:
        lr: learning rate (> 0).
        sharpness: top eigenvalue of the Hessian (> 0).

    Returns:
        bool.

    Raises:
        ValueError: ``lr`` or ``sharpness`` not finite and > 0.

    Example:
        >>> from lm_sims.edge_of_stability import quadratic_diverges
        >>> quadratic_diverges(0.19, 10.0), quadratic_diverges(0.21, 10.0)
        (False, True)
    """
    check_real("lr", lr, positive=True)
    check_real("sharpness", sharpness, positive=True)
    return bool(float(lr) * float(sharpness) > 2.0)
