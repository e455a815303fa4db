# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""The neural feature ansatz: first-layer weights learn the average gradient outer
product.

Radhakrishnan et al. (2024) proposed that after training, the Gram matrix of a
network's first-layer weights is proportional to a power of the *average gradient
outer product* (AGOP) of the network with respect to its input,

.. math::

    W_1^T W_1 \;\propto\; \Big(\frac1n \sum_{i=1}^n \nabla_x f(x_i)\,
    \nabla_x f(x_i)^T\Big)^{\alpha}, \qquad \alpha = 1/2 \text{ (or 1)}.
    \qquad (nfa)

Here ``W_1`` has shape (width, d) so ``W_1^T W_1`` is d x d (stored as
``w1 @ w1.T`` with ``w1`` of shape (d, width)). The ansatz is tested on a
multi-index target, ``f*(x) = (u_1.x)(u_2.x) + tanh(u_3.x)`` with orthonormal
directions ``u_k`` in ``d = 20`` dimensions and ``x ~ N(0, I_d)``: a two-layer ReLU
network trained by Adam on the squared loss with weight decay. The comparison is the
Pearson correlation of the *off-diagonal* entries (:func:`nfa_correlation`): the
diagonals of both matrices are large and positive already at initialisation and
would make any all-entry correlation look high.

With ``directions="axes"`` the directions are the first three coordinate axes,
``f*(x) = x_1 x_2 + tanh(x_3)``. That target's own AGOP is diagonal
(``E[x_2 x_1] = 0`` and, by Stein's lemma, ``E[x_1 tanh'(x_3)] = 0``), so its
off-diagonal entries carry no signal and the off-diagonal correlation measures
mostly noise; the default ``"random"`` directions rotate the same target so the
AGOP's structure sits off the diagonal too.

References:
    Radhakrishnan, Beaglehole, Pandit & Belkin, "Mechanism for feature learning in
    neural networks and backpropagation-free machine learning models", Science
    383, 2024, arXiv:2212.13881.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims import training
from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_callable,
    check_choice,
    check_int,
    check_key,
    check_layer_chain,
    check_real,
    check_record_every,
    config_dataclass,
    diverged_flag,
    is_concrete,
    num_bytes,
)

__all__ = [
    "DIRECTIONS",
    "Config",
    "Layer",
    "Params",
    "Trajectory",
    "agop",
    "apply",
    "init",
    "loss",
    "matrix_power",
    "nfa_correlation",
    "off_diagonal_pearson",
    "predict",
    "target",
    "target_agop",
    "train",
    "training_data",
]

#: Index directions of the target accepted by :class:`Config`.
DIRECTIONS = ("random", "axes")


@config_dataclass(
    static=(
        "d_in",
        "width",
        "depth",
        "num_train",
        "steps",
        "record_every",
        "directions",
        "optimizer",
    )
)
class Config:
    """A ReLU MLP trained on the multi-index target, and its run.

    Attributes:
        d_in: input dimension d (int >= 3). Static.
        width: hidden width (int >= 1). Static.
        depth: hidden layers (int >= 1; 1 is a two-layer network). Static.
        num_train: training samples n (int >= 2); the AGOP averages over them.
            Static.
        steps: optimizer steps (int >= 1). Static.
        record_every: record every this many steps (divides steps). Static.
        directions: ``"random"`` (orthonormal u_1, u_2, u_3 from the key) or
            ``"axes"`` (``f* = x_1 x_2 + tanh(x_3)``). Static.
        optimizer: ``"adam"``, ``"momentum"`` or ``"gd"``, full batch. Static.
        lr: learning rate (> 0); ``t = lr * step``.
        weight_decay: lambda >= 0 of ``lambda/2 |W|^2`` (weights only) in the loss.
        init_scale: weight variance gain (> 0): ``w ~ N(0, init_scale / fan_in)``.
    """

    d_in: int = 20
    width: int = 128
    depth: int = 1
    num_train: int = 1000
    steps: int = 3000
    record_every: int = 50
    directions: str = "random"
    optimizer: str = "adam"
    lr: float = 0.003
    weight_decay: float = 1e-3
    init_scale: float = 2.0

    def _validate(self):
        check_int("d_in", self.d_in, minimum=3)
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_int("num_train", self.num_train, minimum=2)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_choice("directions", self.directions, DIRECTIONS)
        check_choice("optimizer", self.optimizer, training.OPTIMIZERS)
        check_real("lr", self.lr, positive=True)
        check_real("weight_decay", self.weight_decay, nonnegative=True)
        check_real("init_scale", self.init_scale, positive=True)


class Layer(NamedTuple):
    """One linear layer ``h @ w + b``."""

    w: Float[Array, "fan_in fan_out"]
    b: Float[Array, " fan_out"]


Params = tuple[Layer, ...]  # depth hidden layers, then the readout (width, 1)


class Trajectory(NamedTuple):
    """A recorded run; leading axis records = steps / record_every + 1.

    Attributes:
        step: (records,) int.
        t: (records,) ``lr * step`` (with Adam a rescaled step count).
        loss: (records,) training objective, MSE plus weight decay.
        mse: (records,) ``1/(2n) sum (f - y)^2`` on the training set.
        test_mse: (records,) the same on 1,000 fresh inputs.
        corr_sqrt: (records,) off-diagonal Pearson correlation of ``W_1^T W_1``
            with ``AGOP^(1/2)``.
        corr_agop: (records,) the same with the AGOP itself.
        gram: (d, d) ``W_1^T W_1`` at the end.
        agop: (d, d) the network's AGOP on the training inputs at the end.
        gram_init: (d, d) ``W_1^T W_1`` at initialisation.
        directions: (3, d) the target's index directions u_k (rows).
        params: parameters after the last step.
        diverged_step: first step whose loss blew up, or -1.
        observed: what ``observe`` recorded, or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    mse: Float[Array, " records"]
    test_mse: Float[Array, " records"]
    corr_sqrt: Float[Array, " records"]
    corr_agop: Float[Array, " records"]
    gram: Float[Array, "d d"]
    agop: Float[Array, "d d"]
    gram_init: Float[Array, "d d"]
    directions: Float[Array, "3 d"]
    params: Params
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


# -- pure functions: AGOP, matrix powers, correlations ------------------------------


def agop(
    fn: Callable[[Float[Array, " d"]], Any], x: Float[ArrayLike, "n d"]
) -> Float[Array, "d d"]:
    r"""Average gradient outer product of ``fn`` over the inputs ``x``,
    :math:`\frac1n \sum_i J(x_i)^T J(x_i)` with :math:`J` the Jacobian of ``fn``
    at one input (a gradient row for scalar outputs).

    Args:
        fn: maps one input (d,) to a scalar or a (k,) vector; differentiable.
        x: (n, d) inputs.

    Returns:
        (d, d) symmetric positive semi-definite matrix.

    Raises:
        TypeError: ``fn`` not callable.
        ValueError: ``x`` not 2-D, empty, or not finite.

    References:
        Radhakrishnan et al., "Mechanism for feature learning in neural networks
        and backpropagation-free machine learning models", 2024, arXiv:2212.13881.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> x = jnp.array([[1.0, 2.0], [3.0, -1.0]])
        >>> feature_ansatz.agop(lambda v: v[0] * v[1], x).tolist()  # grad (x2, x1)
        [[2.5, -0.5], [-0.5, 5.0]]
    """
    check_callable("fn", fn, optional=False)
    x = as_float_array("x", x)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n >= 1, d), got {tuple(x.shape)}")
    return jax.jit(_agop, static_argnums=(0,))(fn, x)


def _agop(fn, x):
    jac = jax.vmap(jax.jacrev(fn))(x)  # (n, d) or (n, k, d)
    jac = jac.reshape(x.shape[0], -1, x.shape[1])
    return jnp.einsum("nkd,nke->de", jac, jac) / x.shape[0]


def _check_square(name, a):
    a = as_float_array(name, a)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"{name} must be a square (d, d) matrix, got {a.shape}")
    return a


def _rtol(dtype):
    return 1e-4 if dtype == jnp.float32 else 1e-10


def _check_psd(name, a):
    """Raise ValueError unless the concrete (d, d) ``a`` is symmetric and PSD up
    to round-off (relative tolerance 1e-4 in float32, 1e-10 in float64)."""
    if not is_concrete(a):
        return
    m = np.asarray(a, dtype=np.float64)
    scale = np.max(np.abs(m))
    tol = _rtol(a.dtype)
    asym = np.max(np.abs(m - m.T))
    if asym > tol * scale:
        raise ValueError(
            f"{name} must be symmetric, got max |{name} - {name}^T| = {asym:.3g} "
            f"(> {tol:g} * max |entry| = {tol * scale:.3g})"
        )
    low = float(np.linalg.eigvalsh(0.5 * (m + m.T))[0])
    if low < -tol * scale * m.shape[0]:
        raise ValueError(
            f"{name} must be positive semi-definite, got an eigenvalue {low:.3g} "
            f"(round-off allows >= {-tol * scale * m.shape[0]:.3g})"
        )


def matrix_power(a: Float[ArrayLike, "d d"], power: float) -> Float[Array, "d d"]:
    """``A^power`` of a symmetric positive semi-definite matrix, by ``eigh``.

    The matrix must be symmetric and PSD up to round-off (relative tolerance 1e-4
    in float32, 1e-10 in float64); it is symmetrised and the round-off negative
    eigenvalues are set to 0.

    Args:
        a: (d, d) symmetric PSD matrix.
        power: exponent > 0 (1/2 for the square root).

    Returns:
        (d, d) matrix.

    Raises:
        ValueError: ``a`` not square or not finite, not symmetric, or with an
            eigenvalue below round-off (``-tol * d * max |a_ij|``); ``power`` <= 0.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> r = feature_ansatz.matrix_power(jnp.diag(jnp.array([4.0, 9.0])), 0.5)
        >>> [[round(float(v), 4) for v in row] for row in r]
        [[2.0, 0.0], [0.0, 3.0]]
    """
    a = _check_square("a", a)
    check_real("power", power, positive=True)
    _check_psd("a", a)
    return _matrix_power(a, power)


def _matrix_power(a, power):
    evals, evecs = jnp.linalg.eigh(0.5 * (a + a.T))
    return (evecs * jnp.clip(evals, 0.0) ** power) @ evecs.T


def off_diagonal_pearson(
    a: Float[ArrayLike, "d d"], b: Float[ArrayLike, "d d"]
) -> Float[Array, ""]:
    """Pearson correlation of the entries above the diagonal of two (d, d) matrices.

    Args:
        a, b: (d, d) matrices (d >= 3, so there are at least 3 pairs).

    Returns:
        scalar in [-1, 1].

    Raises:
        ValueError: shapes differ, not square, d < 3, or not finite; the entries
            above the diagonal of either matrix all equal (the correlation would
            be 0/0).

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> a = jnp.array([[9.0, 1, 2], [1, 9, 3], [2, 3, 9]])
        >>> round(float(feature_ansatz.off_diagonal_pearson(a, 2 * a + 1)), 6)
        1.0
    """
    a, b = _check_square("a", a), _check_square("b", b)
    if a.shape != b.shape or a.shape[0] < 3:
        raise ValueError(
            f"a and b must have the same shape (d, d) with d >= 3, got {a.shape} "
            f"and {b.shape}"
        )
    _check_spread("a", a)
    _check_spread("b", b)
    return _pearson(a, b)


def _check_spread(name, a):
    """A correlation with constant entries is 0/0: refuse it (concrete only)."""
    if not is_concrete(a):
        return
    off = np.asarray(a)[np.triu_indices(a.shape[0], 1)]
    if np.ptp(off) == 0:
        raise ValueError(
            f"the off-diagonal entries of {name} are all equal ({off[0]:g}): their "
            "Pearson correlation is undefined (0/0)"
        )


def _pearson(a, b):
    iu = np.triu_indices(a.shape[0], 1)
    u, v = a[iu], b[iu]
    u, v = u - u.mean(), v - v.mean()
    return jnp.sum(u * v) / jnp.sqrt(jnp.sum(u * u) * jnp.sum(v * v))


def nfa_correlation(
    gram: Float[ArrayLike, "d d"],
    agop_matrix: Float[ArrayLike, "d d"],
    power: float = 0.5,
) -> Float[Array, ""]:
    """The ansatz's test: off-diagonal Pearson of ``W_1^T W_1`` and ``AGOP^power``.

    Args:
        gram: (d, d) ``W_1^T W_1``.
        agop_matrix: (d, d) the network's AGOP (:func:`agop`).
        power: 0.5 (the ansatz's square root, default) or any power > 0.

    Returns:
        scalar correlation.

    Raises:
        ValueError: shapes differ or d < 3 (naming ``gram`` and ``agop_matrix``),
            non-finite input, ``agop_matrix`` not symmetric PSD, power <= 0.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> w = jnp.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])
        >>> g = w.T @ w
        >>> round(float(feature_ansatz.nfa_correlation(g, g @ g)), 5)
        1.0
    """
    gram = _check_square("gram", gram)
    agop_matrix = _check_square("agop_matrix", agop_matrix)
    check_real("power", power, positive=True)
    if gram.shape != agop_matrix.shape or gram.shape[0] < 3:
        raise ValueError(
            "gram and agop_matrix must have the same shape (d, d) with d >= 3, got "
            f"gram {gram.shape} and agop_matrix {agop_matrix.shape}"
        )
    _check_psd("agop_matrix", agop_matrix)
    _check_spread("gram", gram)
    powered = _matrix_power(agop_matrix, power)
    _check_spread(f"agop_matrix^{power:g}", powered)
    return _pearson(gram, powered)


# -- the target and the network -----------------------------------------------------


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a feature_ansatz.Config, got {type(cfg)}")


def _directions(key, cfg):
    if cfg.directions == "axes":
        return jnp.eye(3, cfg.d_in)
    q, r = jnp.linalg.qr(jax.random.normal(jax.random.fold_in(key, 3), (cfg.d_in, 3)))
    return (q * jnp.sign(jnp.diagonal(r))).T


def target(
    x: Float[ArrayLike, "n d"], directions: Float[ArrayLike, "3 d"]
) -> Float[Array, " n"]:
    """The multi-index target ``f*(x) = (u_1.x)(u_2.x) + tanh(u_3.x)``.

    Args:
        x: (n, d) inputs.
        directions: (3, d) rows u_1, u_2, u_3.

    Returns:
        (n,) targets.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> x = jnp.array([[2.0, 3.0, 0.0, 1.0]])
        >>> feature_ansatz.target(x, jnp.eye(3, 4)).tolist()
        [6.0]
    """
    x = as_float_array("x", x)
    u = as_float_array("directions", directions)
    if x.ndim != 2 or u.shape != (3, x.shape[1]):
        raise ValueError(
            f"x must be (n, d) and directions (3, d), got {x.shape} and {u.shape}"
        )
    return _target(x, u)


def _target(x, u):
    h = x @ u.T
    return h[..., 0] * h[..., 1] + jnp.tanh(h[..., 2])


def target_agop(directions: Float[ArrayLike, "3 d"]) -> Float[Array, "d d"]:
    r"""The target's population AGOP for ``x ~ N(0, I)``:
    :math:`U^T \mathrm{diag}(1, 1, E[\tanh'(z)^2])\, U` (Gaussian quadrature,
    exact to float precision), a reference for what the features should learn.

    Args:
        directions: (3, d) orthonormal rows u_k (``U U^T = I`` to 1e-4 in
            float32, 1e-8 in float64; the formula needs it).

    Returns:
        (d, d) matrix.

    Raises:
        ValueError: directions not (3, d), not finite, or not orthonormal.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import feature_ansatz
        >>> g = feature_ansatz.target_agop(jnp.eye(3, 4))
        >>> [round(float(v), 4) for v in jnp.diag(g)]
        [1.0, 1.0, 0.4644, 0.0]
    """
    u = as_float_array("directions", directions)
    if u.ndim != 2 or u.shape[0] != 3:
        raise ValueError(f"directions must have shape (3, d), got {u.shape}")
    un = np.asarray(u, dtype=np.float64)
    err = float(np.max(np.abs(un @ un.T - np.eye(3))))
    tol = 1e-4 if u.dtype == jnp.float32 else 1e-8
    if err > tol:
        raise ValueError(
            "directions must have orthonormal rows (U U^T = I; the AGOP formula "
            f"assumes it), got max |U U^T - I| = {err:.3g} > {tol:g}; "
            "orthonormalise them, e.g. with a QR decomposition"
        )
    z, w = np.polynomial.hermite_e.hermegauss(80)
    e_t2 = float(np.sum(w * (1 - np.tanh(z) ** 2) ** 2) / np.sqrt(2 * np.pi))
    d = jnp.asarray([1.0, 1.0, e_t2], u.dtype)
    return (u.T * d) @ u


def training_data(
    key: jax.Array, cfg: Config
) -> tuple[Float[Array, "n d"], Float[Array, " n"], Float[Array, "3 d"]]:
    """Inputs ``x ~ N(0, I_d)`` (``fold_in(key, 1)``), targets and directions.

    Returns:
        ``(x, y, directions)`` of shapes (n, d), (n,), (3, d).

    Example:
        >>> import jax
        >>> from lm_sims import feature_ansatz as fa
        >>> x, y, u = fa.training_data(jax.random.key(0), fa.Config())
        >>> x.shape, y.shape, u.shape
        ((1000, 20), (1000,), (3, 20))
    """
    check_key(key)
    _check_cfg(cfg)
    return _training_data(key, cfg)


def _training_data(key, cfg):
    u = _directions(key, cfg)
    x = jax.random.normal(jax.random.fold_in(key, 1), (cfg.num_train, cfg.d_in))
    return x, _target(x, u), u


def init(key: jax.Array, cfg: Config) -> Params:
    """``w ~ N(0, init_scale / fan_in)`` (readout ``N(0, 1 / width)``), zero biases.

    Example:
        >>> import jax
        >>> from lm_sims import feature_ansatz as fa
        >>> [l.w.shape for l in fa.init(jax.random.key(0), fa.Config())]
        [(20, 128), (128, 1)]
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    _check_cfg(cfg)
    dims = (cfg.d_in,) + (cfg.width,) * cfg.depth + (1,)
    keys = jax.random.split(key, len(dims) - 1)
    layers = []
    shapes = zip(dims[:-1], dims[1:], strict=True)
    for i, (k, (m, n)) in enumerate(zip(keys, shapes, strict=True)):
        gain = 1.0 if i == len(dims) - 2 else cfg.init_scale
        layers.append(
            Layer(jax.random.normal(k, (m, n)) * jnp.sqrt(gain / m), jnp.zeros((n,)))
        )
    return tuple(layers)


def _check_params(params):
    check_layer_chain(params, Layer, "feature_ansatz")
    if params[-1].w.shape[1] != 1:
        raise ValueError(
            f"the readout params[-1].w must have one output, got {params[-1].w.shape}"
        )


def _check_x(params, x, *, single=False):
    _check_params(params)
    x = as_float_array("x", x)
    d = params[0].w.shape[0]
    ok = (x.ndim == 2 or (single and x.ndim == 1)) and x.shape[-1] == d and x.size
    if not ok:
        shapes = "(n, d) or (d,)" if single else "(n, d)"
        raise ValueError(f"x must have shape {shapes} with d={d}, got {x.shape}")
    return x


def apply(params: Params, x: Float[ArrayLike, "n d"]) -> Float[Array, " n"]:
    """Network outputs ``f(x)``.

    Args:
        params: network parameters (from :func:`init`).
        x: (n, d) inputs, or one (d,) input; finite.

    Returns:
        (n,) outputs, or () for a single input.

    Raises:
        TypeError: params not a tuple of :class:`Layer`, x not real numbers.
        ValueError: x of the wrong shape or not finite; layers that do not chain.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import feature_ansatz as fa
        >>> p = fa.init(jax.random.key(0), fa.Config())
        >>> fa.apply(p, jnp.ones((5, 20))).shape, fa.apply(p, jnp.ones(20)).shape
        ((5,), ())
    """
    return _apply(params, _check_x(params, x, single=True))


def _apply(params, x):
    h = x
    for layer in params[:-1]:
        h = jax.nn.relu(h @ layer.w + layer.b)
    return (h @ params[-1].w + params[-1].b)[..., 0]


def loss(
    params: Params,
    x: Float[ArrayLike, "n d"],
    y: Float[ArrayLike, " n"],
    weight_decay: float,
) -> Float[Array, ""]:
    """``1/(2n) sum (f(x_i) - y_i)^2 + weight_decay/2 * sum |W_l|_F^2``.

    Args:
        params: network parameters (from :func:`init`).
        x: (n, d) inputs, finite.
        y: (n,) targets, finite. A column vector (n, 1) is refused: it would
            broadcast to an (n, n) difference and give a wrong loss silently.
        weight_decay: lambda >= 0 (weights only, not biases).

    Returns:
        scalar loss.

    Raises:
        TypeError: params, x or y not arrays of real numbers.
        ValueError: x not (n, d), y not (n,), NaN or inf entries, weight_decay
            < 0.

    Example:
        >>> import jax
        >>> from lm_sims import feature_ansatz as fa
        >>> cfg = fa.Config(num_train=50, width=16)
        >>> x, y, _ = fa.training_data(jax.random.key(0), cfg)
        >>> bool(fa.loss(fa.init(jax.random.key(0), cfg), x, y, 0.0) > 0)
        True
    """
    x = _check_x(params, x)
    y = as_float_array("y", y)
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"y must have shape (n={x.shape[0]},) like x's first axis, got "
            f"{tuple(y.shape)}"
            + ("; use y.ravel() for a column vector" if y.size == x.shape[0] else "")
        )
    if is_concrete(weight_decay):
        check_real("weight_decay", weight_decay, nonnegative=True)
    return _loss(params, x, y, weight_decay)


def _loss(params, x, y, weight_decay):
    mse = 0.5 * jnp.mean((_apply(params, x) - y) ** 2)
    return mse + 0.5 * weight_decay * sum(jnp.sum(layer.w**2) for layer in params)


def predict(cfg: Config, t: Float[ArrayLike, "*T"]) -> Float[Array, "*T"]:
    """The ansatz's prediction for the off-diagonal correlation: 1 at every time
    (``W_1^T W_1`` proportional to ``AGOP^(1/2)``); a reference line, not a
    trajectory.

    Example:
        >>> from lm_sims import feature_ansatz as fa
        >>> fa.predict(fa.Config(), [0.0, 1.0]).tolist()
        [1.0, 1.0]
    """
    _check_cfg(cfg)
    t_raw = np.asarray(t)
    if t_raw.dtype == bool or not (
        np.issubdtype(t_raw.dtype, np.integer)
        or np.issubdtype(t_raw.dtype, np.floating)
    ):
        raise TypeError(
            f"t must be real numbers (lr * step), got {t!r} of dtype {t_raw.dtype}"
        )
    t = t_raw.astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError("t must be finite, got NaN or inf entries")
    return np.ones_like(t)


def train(
    key: jax.Array, cfg: Config, *, observe: Callable[[Params], Any] | None = None
) -> Trajectory:
    """Train the MLP on the multi-index target and record the ansatz's correlation.

    ``init(key, cfg)``, data from ``training_data(key, cfg)``, then
    ``lm_sims.training.run`` with ``cfg.optimizer`` (full batch) on :func:`loss`.
    Every record holds the training and test MSE and
    ``nfa_correlation(W_1^T W_1, AGOP)`` with powers 1/2 and 1, the AGOP over the
    training inputs. Jitted; lr, weight_decay, init_scale are dynamic.

    Args:
        key: PRNG key.
        cfg: the config.
        observe: optional function of the parameters, recorded alongside.

    Returns:
        :class:`Trajectory`.

    Raises:
        TypeError: key not a PRNG key, cfg not a Config, observe not callable.
        ValueError: the run would allocate more than ``lm_sims._config.MAX_BYTES``
            (parameters ``d_in * width + width^2 * (depth - 1)`` and optimizer
            state, activations, the input gradients of the AGOP).

    References:
        Radhakrishnan et al., "Mechanism for feature learning in neural networks
        and backpropagation-free machine learning models", 2024, arXiv:2212.13881.

    Example:
        >>> import jax
        >>> from lm_sims import feature_ansatz as fa
        >>> cfg = fa.Config(num_train=200, width=32, steps=100, record_every=50)
        >>> traj = fa.train(jax.random.key(0), cfg)
        >>> traj.corr_sqrt.shape, traj.gram.shape
        ((3,), (20, 20))
    """
    check_key(key)
    _check_cfg(cfg)
    check_callable("observe", observe)
    n_params = cfg.d_in * cfg.width + cfg.width * cfg.width * (cfg.depth - 1)
    n_samples = cfg.num_train + 1000  # training set and the 1,000 test inputs
    check_allocation(
        f"a run with {cfg.num_train} samples, d_in={cfg.d_in}, width={cfg.width} "
        f"and depth={cfg.depth} (parameters, optimizer state, activations, input "
        "gradients)",
        # params, gradient, two Adam moments, update: 5 copies; per-sample
        # activations and the vmapped input Jacobians of the AGOP
        5 * num_bytes(n_params)
        + 4 * num_bytes(n_samples, cfg.d_in + cfg.width * cfg.depth)
        + 4 * num_bytes(cfg.num_train, cfg.width, cfg.depth + cfg.d_in),
        "use fewer samples, a smaller d_in, width or depth",
    )
    return _train(key, cfg, observe)


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key, cfg, observe_fn=None):
    params0 = init(key, cfg)
    x, y, u = _training_data(key, cfg)
    x_test = jax.random.normal(jax.random.fold_in(key, 2), (1000, cfg.d_in))
    y_test = _target(x_test, u)

    def loss_fn(p):
        return _loss(p, x, y, cfg.weight_decay)

    def measure(p):
        g = _agop(lambda v: _apply(p, v), x)
        w1 = p[0].w
        gram = w1 @ w1.T
        return gram, g

    def observe(p):
        gram, g = measure(p)
        return {
            "mse": 0.5 * jnp.mean((_apply(p, x) - y) ** 2),
            "test_mse": 0.5 * jnp.mean((_apply(p, x_test) - y_test) ** 2),
            "corr_sqrt": _pearson(gram, _matrix_power(g, 0.5)),
            "corr_agop": _pearson(gram, g),
            "observed": None if observe_fn is None else observe_fn(p),
        }

    result = training.run(
        loss_fn,
        params0,
        cfg.lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        optimizer=training.Optimizer(cfg.optimizer),
        observe=observe,
    )
    rec = result.observed
    gram, g = measure(result.params)
    return Trajectory(
        step=result.step,
        t=cfg.lr * result.step,
        loss=result.loss,
        mse=rec["mse"],
        test_mse=rec["test_mse"],
        corr_sqrt=rec["corr_sqrt"],
        corr_agop=rec["corr_agop"],
        gram=gram,
        agop=g,
        gram_init=params0[0].w @ params0[0].w.T,
        directions=u,
        params=result.params,
        diverged_step=result.diverged_step,
        observed=rec["observed"],
    )
