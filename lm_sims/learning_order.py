# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""The order in which different learners pick up the Hermite components of a target.

Inputs are anisotropic Gaussians ``x ~ N(0, Sigma_xx)``, ``Sigma_xx = diag(gamma)``,
in ``d`` dimensions, and the target is a sum of normalised Hermite polynomials of
the whitened coordinates ``z_i = x_i / sqrt(gamma_i)``,

.. math:: f_*(x) = a \sum_{k=1}^{K} h_{\nu_k}(z), \qquad
    h_\nu(z) = \prod_i \mathrm{He}_{\nu_i}(z_i) / \sqrt{\nu_i!},

(:func:`lm_sims.hermite.hermite_features`). The Hermite eigenstructure ansatz (HEA,
Karkada et al. 2025) says that a rotation-invariant kernel acting on these data has
the ``h_nu`` as eigenfunctions with eigenvalues ``lambda_nu = c_{|nu|} prod_i
gamma_i^{nu_i}`` (:func:`lm_sims.hermite.predict_eigenvalues`; for the Gaussian RBF
kernel ``exp(-|x - x'|^2 / (2 sigma_K^2))``, ``c_l = e^{-tr Sigma_xx / sigma_K^2}
sigma_K^{-2l}``). For the RBF kernel the exact eigenvalues are known too
(:func:`exact_eigenvalues`, Mehler's formula), which measures the ansatz's own
error separately from differences between learners. Under kernel gradient flow on
the loss ``1/(2P) sum_i (f(x_i) - y_i)^2`` the coefficient of ``h_nu`` approaches
its target value as ``1 - exp(-lambda_nu t)`` (population limit ``P -> infinity``):
a component is half learned at

.. math:: t_{1/2}(\nu) = \ln 2 / \lambda_\nu ,

so components are learned in the order of decreasing ``lambda_nu``. The claim of
this module's page is that the *order* is shared by learners whose eigenvalues
differ: two kernels (the RBF kernel and the ReLU network's NTK,
:func:`lm_sims.kernels.ntk`) and two trained two-layer networks (ReLU and tanh).

**Learned.** For each learner we record the coefficients ``c(t)`` of its function
on the target's K components: the least-squares fit of ``f_t`` on the features
``h_{nu_k}`` over ``num_test`` held-out inputs (shared by all learners). Least
squares rather than the Monte Carlo average ``mean(f_t h_k)``: the average
carries cross-talk ``~ sqrt(K / num_test)`` from the other components, the same
for every learner, which at 2,000 points moved learned times by 25-35%. The
learnability ``L_k(t) = (c_k(t) - c_k(0)) / (a - c_k(0))`` is the fraction of
the initial error in component ``k`` that has been removed (``c_k(0) = 0`` for
kernels; for a network it removes the random initial function, which linearised
training also forgets at the rate ``lambda``). Component ``k`` is *learned* at the
first time ``t = lr * step`` at which ``L_k`` reaches ``threshold`` (1/2),
linearly interpolated between records; never reached gives ``inf``.

**Networks.** Two-layer networks in the NTK parameterisation of
:mod:`lm_sims.kernels` (``h = sigma_w W x / sqrt(d) + sigma_b b``, ``g = sigma_w
a . phi(h) / sqrt(n) + sigma_b b_out``, every entry ``N(0, 1)``), centred, ``f_theta
= g_theta - g_theta0`` (the random initial function, of order one, would otherwise
hide components of amplitude one; Chizat, Oyallon & Bach 2019), and trained by
full-batch gradient descent with :func:`lm_sims.training.run`. The network is
written here rather than taken from :mod:`lm_sims.mlp` because the section needs a
tanh network and ``mlp.ACTIVATIONS`` is ``kernels.ACTIVATIONS`` (relu, erf,
linear): every activation of :mod:`lm_sims.mlp` is tied to a closed-form kernel,
which tanh does not have. For ReLU the parameterisation is the same as
``mlp.Config(parameterization="ntk", depth=1)``. Inputs are fed as ``x sqrt(d /
tr Sigma_xx)`` (coordinates of order one, the kernels module's convention), so
the ReLU network's infinite-width kernel is exactly ``kernels.ntk(x sqrt(d / tr
Sigma_xx), ..., Config(depth=1, activation="relu"))``.

**Rank correlation.** :func:`ranks` gives average ranks to ties (``inf`` times tie
with each other), and :func:`spearman` is the Pearson correlation of the two rank
vectors (the definition of ``scipy.stats.spearmanr``, which lm_sims does not
depend on).

References:
    Karkada et al., "Predicting kernel regression learning curves from only raw
    data statistics", 2025, arXiv:2510.14878.
    Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and
    generalization in neural networks", 2018, arXiv:1806.07572.
    Rahaman et al., "On the spectral bias of neural networks", 2019,
    arXiv:1806.08734.
    Chizat, Oyallon & Bach, "On lazy training in differentiable programming",
    2019, arXiv:1812.07956.
    Rasmussen & Williams, "Gaussian processes for machine learning", 2006,
    section 4.3.1 (the RBF kernel's eigenvalues under a Gaussian measure).
    Spearman, "The proof and measurement of association between two things",
    1904.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from lm_sims import hermite, kernels, training
from lm_sims._config import (
    as_float64_numpy,
    as_float_array,
    check_choice,
    check_int,
    check_key,
    check_real,
    config_dataclass,
)

__all__ = [
    "ARCHITECTURES",
    "Config",
    "Curves",
    "OrderResult",
    "Task",
    "clock",
    "compare_orders",
    "exact_eigenvalues",
    "kernel_flow",
    "kernel_times",
    "learned_times",
    "make_task",
    "predicted_eigenvalues",
    "predicted_order",
    "predicted_times",
    "ranks",
    "spearman",
    "train_mlp",
]

#: The four learners compared, in the book's order.
ARCHITECTURES = ("relu_mlp", "tanh_mlp", "rbf_kernel", "relu_ntk")


def _default_gammas():
    # two leading directions, a bulk of twelve that the target does not use (it
    # sets the effective dimension), and two weak directions: sum 1
    weak = (0.0025, 0.001)
    bulk = (1.0 - 0.24 - 0.12 - sum(weak)) / 12
    return (0.24, 0.12) + (bulk,) * 12 + weak


def _unit(d, i, n=1):
    return tuple(n if j == i else 0 for j in range(d))


#: Data covariance eigenvalues of the calibrated setting (d = 16, trace 1):
#: 0.24, 0.12, twelve of 0.0531, then 0.0025 and 0.001. Effective dimension
#: ``(tr Sigma_xx)^2 / sum gamma_i^2 = 9.45``.
DEFAULT_GAMMAS = _default_gammas()
#: Target components of the calibrated setting, in HEA order (z1, z2, He2(z1),
#: z1 z2, z15, z16). The two degree-2 components come BEFORE the two weak linear
#: ones (a cross-degree inversion that "degree first, then variance" gets
#: wrong: its order has Spearman 0.54 with this one). HEA (RBF, sigma_K = 2)
#: eigenvalues 0.0467, 0.0234, 0.0028, 0.0014, 0.00049, 0.00019.
DEFAULT_COMPONENTS = (
    _unit(16, 0),
    _unit(16, 1),
    _unit(16, 0, 2),
    (1, 1) + (0,) * 14,
    _unit(16, 14),
    _unit(16, 15),
)


@config_dataclass(
    static=(
        "gammas",
        "components",
        "num_train",
        "num_test",
        "width",
        "steps",
        "record_every",
        "num_times",
    )
)
class Config:
    r"""Data, target and learners of a learning-order experiment.

    Attributes:
        gammas: eigenvalues ``gamma_i`` of the data covariance ``Sigma_xx`` (tuple
            of d floats > 0). Static.
        components: target multi-indices ``nu_k`` (tuple of K tuples of d ints
            >= 0, distinct, each of degree >= 1). Static.
        amplitude: coefficient ``a`` of every component (> 0).
        num_train: training inputs P (int >= 2). Static.
        num_test: held-out inputs on which the Hermite coefficients are fitted
            (int >= K). Static.
        bandwidth: RBF kernel width ``sigma_K`` in input units (> 0); the ansatz
            needs ``sigma_K >= 2 sqrt(tr Sigma_xx)``.
        width: hidden width n of the networks (int >= 1). Static.
        steps: gradient-descent steps of the networks (int >= 1). Static.
        record_every: the networks' coefficients are recorded every this many
            steps (int >= 1, divides steps). Static.
        lr: networks' learning rate (> 0); time is ``t = lr * step``.
        sigma_w2: weight variance of the networks and of the NTK (> 0).
        sigma_b2: bias variance of the networks and of the NTK (>= 0). Biases give
            the tanh network even Hermite components (tanh is odd).
        num_times: log-spaced times at which the kernel flows are evaluated
            (int >= 2). Static.
        threshold: learnability at which a component counts as learned, in (0, 1).

    Raises:
        TypeError: a field of the wrong type (bools are refused for numbers).
        ValueError: a field out of its range, NaN, components of the wrong
            length, repeated or of degree 0, ``record_every`` not dividing
            ``steps``.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config()
        >>> len(cfg.gammas), round(cfg.q, 6), round(cfg.effective_dimension, 2)
        (16, 1.0, 9.45)
    """

    gammas: tuple = DEFAULT_GAMMAS
    components: tuple = DEFAULT_COMPONENTS
    amplitude: float = 1.0
    num_train: int = 1000
    num_test: int = 4000
    bandwidth: float = 2.0
    width: int = 256
    steps: int = 2400
    record_every: int = 2
    lr: float = 0.25
    sigma_w2: float = 2.0
    sigma_b2: float = 2.0
    num_times: int = 120
    threshold: float = 0.5

    def _validate(self):
        if not isinstance(self.gammas, tuple) or len(self.gammas) == 0:
            raise TypeError(f"gammas must be a non-empty tuple, got {self.gammas!r}")
        for g in self.gammas:
            check_real("gammas", g, positive=True)
        d = len(self.gammas)
        if not isinstance(self.components, tuple) or len(self.components) < 2:
            raise TypeError(
                "components must be a tuple of at least 2 multi-indices, got "
                f"{self.components!r}"
            )
        for nu in self.components:
            if not isinstance(nu, tuple) or len(nu) != d:
                raise ValueError(
                    f"every component must be a tuple of {d} ints (len(gammas)), "
                    f"got {nu!r}"
                )
            for n in nu:
                check_int("components entry", n, minimum=0)
            if sum(nu) < 1:
                raise ValueError(f"components must have degree >= 1, got {nu!r}")
        if len(set(self.components)) != len(self.components):
            raise ValueError(f"components must be distinct, got {self.components!r}")
        check_real("amplitude", self.amplitude, positive=True)
        check_int("num_train", self.num_train, minimum=2)
        check_int("num_test", self.num_test, minimum=len(self.components))
        check_real("bandwidth", self.bandwidth, positive=True)
        check_int("width", self.width, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        if self.steps % self.record_every:
            raise ValueError(
                f"record_every must divide steps, got record_every="
                f"{self.record_every}, steps={self.steps}"
            )
        check_real("lr", self.lr, positive=True)
        check_real("sigma_w2", self.sigma_w2, positive=True)
        check_real("sigma_b2", self.sigma_b2, nonnegative=True)
        check_int("num_times", self.num_times, minimum=2)
        check_real("threshold", self.threshold, positive=True)
        if float(self.threshold) >= 1.0:
            raise ValueError(f"threshold must be < 1, got threshold={self.threshold}")

    @property
    def q(self) -> float:
        """Trace of the data covariance, ``tr Sigma_xx = sum_i gamma_i``."""
        return float(sum(self.gammas))

    @property
    def effective_dimension(self) -> float:
        """``(tr Sigma_xx)^2 / sum_i gamma_i^2``, the ansatz's accuracy parameter."""
        return self.q**2 / float(sum(g * g for g in self.gammas))

    @property
    def max_degree(self) -> int:
        """Largest degree among the target components."""
        return max(sum(nu) for nu in self.components)


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(
            f"cfg must be a learning_order.Config, got {type(cfg).__name__}"
        )


class Task(NamedTuple):
    """Training and held-out data of one draw (NumPy float64).

    Attributes:
        x_train: (P, d) inputs ``x ~ N(0, diag(gamma))``.
        y_train: (P,) targets ``f_*(x)``.
        x_test: (n_test, d) held-out inputs.
        features_test: (n_test, K) ``h_{nu_k}(z)`` at the held-out inputs.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    features_test: np.ndarray


class Curves(NamedTuple):
    """One learner's run: Hermite coefficients over time.

    Attributes:
        t: (T,) times, ``lr * step`` for networks, the flow time for kernels.
        loss: (T,) training loss ``1/(2P) sum (f - y)^2``.
        coefficients: (T, K) ``c_k(t)``, least-squares fit on the K target
            features over the held-out inputs.
        learnability: (T, K) ``L_k(t) = (c_k(t) - c_k(0)) / (a - c_k(0))``.
        diverged_step: -1, or the first step at which a network diverged.
    """

    t: np.ndarray
    loss: np.ndarray
    coefficients: np.ndarray
    learnability: np.ndarray
    diverged_step: int

    @property
    def diverged(self) -> bool:
        """True if the run diverged."""
        return self.diverged_step >= 0


def make_task(key: jax.Array, cfg: Config) -> Task:
    """Draw training and held-out inputs and the Hermite target.

    Args:
        key: PRNG key (split into training and test draws).
        cfg: experiment config.

    Returns:
        :class:`Task`.

    Raises:
        TypeError: key is not a PRNG key or cfg is not a Config.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> task = lo.make_task(jax.random.key(0), lo.Config(num_train=8, num_test=9))
        >>> task.x_train.shape, task.features_test.shape
        ((8, 16), (9, 6))
    """
    check_key(key)
    _check_cfg(cfg)
    k_train, k_test = jax.random.split(key)
    d = len(cfg.gammas)
    sd = np.sqrt(np.asarray(cfg.gammas, dtype=np.float64))
    nu = np.asarray(cfg.components, dtype=np.int64)
    z_train = np.asarray(jax.random.normal(k_train, (cfg.num_train, d)), np.float64)
    z_test = np.asarray(jax.random.normal(k_test, (cfg.num_test, d)), np.float64)
    y = float(cfg.amplitude) * hermite.hermite_features(z_train, nu).sum(axis=1)
    return Task(z_train * sd, y, z_test * sd, hermite.hermite_features(z_test, nu))


def _real_values(name, values):
    """float64 NumPy copy of a real array (NaN and inf kept: the callers decide);
    TypeError naming ``name`` for bools, strings, None or objects."""
    return as_float64_numpy(name, values, finite=False)


def _learnability(coefficients, amplitude, c0=None):
    c = np.asarray(coefficients, dtype=np.float64)
    c0 = np.zeros(c.shape[1]) if c0 is None else np.asarray(c0)
    return (c - c0) / (amplitude - c0)


def _projector(features):
    """(n_test, K) matrix ``F (F^T F)^{-1}``: ``f @ proj`` is the least-squares fit
    of ``f`` on the K target features (no cross-talk between them)."""
    f = np.asarray(features, np.float64)
    return f @ np.linalg.inv(f.T @ f)


def _project(f_test, features):
    return np.asarray(f_test, np.float64) @ _projector(features)


def kernel_times(cfg: Config) -> np.ndarray:
    """Log-spaced flow times: ``0.05 / lambda_max`` to ``20 / lambda_min`` (HEA).

    Args:
        cfg: experiment config.

    Returns:
        (num_times,) float64 times.

    Raises:
        TypeError: cfg is not a Config.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> t = lo.kernel_times(lo.Config(num_times=3))
        >>> t.shape, round(float(t[0]), 2)
        ((3,), 1.07)
    """
    _check_cfg(cfg)
    lam = predicted_eigenvalues(cfg)
    return np.geomspace(0.05 / lam.max(), 20.0 / lam.min(), cfg.num_times)


def kernel_flow(
    key: jax.Array, cfg: Config, kernel: str, t: np.ndarray | None = None
) -> Curves:
    r"""Kernel gradient flow on the task, in closed form at the times ``t``.

    The flow ``df/dt(x) = -(1/P) sum_i K(x, x_i) (f(x_i) - y_i)`` from ``f = 0``
    gives ``f_t(x) = K(x, X) U diag((1 - e^{-mu t}) / (P mu)) U^T y`` with ``K/P =
    U diag(mu) U^T``; each population eigenmode is learned as ``1 - e^{-lambda
    t}``.

    Args:
        key: PRNG key of :func:`make_task`.
        cfg: experiment config.
        kernel: ``"rbf"`` (``exp(-|x - x'|^2 / (2 sigma_K^2))``, ``sigma_K =
            cfg.bandwidth``) or ``"ntk"`` (:func:`lm_sims.kernels.ntk` of the
            one-hidden-layer ReLU network with cfg.sigma_w2, cfg.sigma_b2, inputs
            ``x sqrt(d / tr Sigma_xx)``).
        t: (T,) flow times >= 0; None: :func:`kernel_times`.

    Returns:
        :class:`Curves` (``diverged_step = -1``).

    Raises:
        ValueError: unknown kernel, negative or NaN times.
        TypeError: bad key or cfg.

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and
            generalization in neural networks", 2018, arXiv:1806.07572.
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config(num_train=64, num_test=64, num_times=4)
        >>> lo.kernel_flow(jax.random.key(0), cfg, "rbf").learnability.shape
        (4, 6)
    """
    check_key(key)
    _check_cfg(cfg)
    check_choice("kernel", kernel, ("rbf", "ntk"))
    tt = kernel_times(cfg) if t is None else as_float_array("t", t, allow_bool=False)
    tt = np.atleast_1d(np.asarray(tt, np.float64))
    if tt.ndim != 1 or np.any(~np.isfinite(tt)) or np.any(tt < 0):
        raise ValueError("t must be a 1-d array of finite times >= 0")
    task = make_task(key, cfg)
    if kernel == "rbf":
        s = float(cfg.bandwidth)
        k_tr = hermite.rbf_kernel(task.x_train, bandwidth=s)
        k_te = hermite.rbf_kernel(task.x_test, task.x_train, bandwidth=s)
    else:
        scale = math.sqrt(len(cfg.gammas) / cfg.q)
        kc = kernels.Config(
            depth=1,
            activation="relu",
            sigma_w2=float(cfg.sigma_w2),
            sigma_b2=float(cfg.sigma_b2),
        )
        xs, xts = task.x_train * scale, task.x_test * scale
        k_tr = np.asarray(kernels.ntk(xs, xs, kc), np.float64)
        k_te = np.asarray(kernels.ntk(xts, xs, kc), np.float64)
    num = cfg.num_train
    mu, u = np.linalg.eigh(k_tr / num)
    mu = np.clip(mu, 0.0, None)
    uy = u.T @ task.y_train
    mt = np.outer(tt, mu)
    safe = np.where(mu > 0, mu, 1.0)
    gain = np.where(mu > 0, -np.expm1(-mt) / (num * safe), tt[:, None] / num)
    alpha = (gain * uy) @ u.T  # (T, P)
    f_test = alpha @ k_te.T
    residual = np.exp(-mt) * uy  # train residual in the eigenbasis, (T, P)
    loss = 0.5 * np.sum(residual**2, axis=1) / num
    coeffs = _project(f_test, task.features_test)
    return Curves(tt, loss, coeffs, _learnability(coeffs, float(cfg.amplitude)), -1)


def _mlp_init(key, d, width):
    k_w, k_b, k_a, k_c = jax.random.split(key, 4)
    return {
        "w": jax.random.normal(k_w, (d, width)),
        "b": jax.random.normal(k_b, (width,)),
        "a": jax.random.normal(k_a, (width,)),
        "c": jax.random.normal(k_c, ()),
    }


def _mlp_apply(params, x, activation, sigma_w2, sigma_b2):
    phi = jax.nn.relu if activation == "relu" else jnp.tanh
    sw, sb = jnp.sqrt(sigma_w2), jnp.sqrt(sigma_b2)
    d, width = params["w"].shape
    h = sw * (x @ params["w"]) / math.sqrt(d) + sb * params["b"]
    return sw * (phi(h) @ params["a"]) / math.sqrt(width) + sb * params["c"]


@partial(jax.jit, static_argnames=("activation", "steps", "width", "record_every"))
def _train_mlp(
    key,
    x,
    y,
    x_test,
    feats,
    lr,
    sigma_w2,
    sigma_b2,
    *,
    activation,
    steps,
    width,
    record_every,
):
    params = _mlp_init(key, x.shape[1], width)

    def f(p, inputs):
        return _mlp_apply(p, inputs, activation, sigma_w2, sigma_b2)

    # centred: the initial function is subtracted, so every learner starts at 0
    f0_train, f0_test = f(params, x), f(params, x_test)

    def loss_fn(p):
        return 0.5 * jnp.mean((f(p, x) - f0_train - y) ** 2)

    def observe(p):  # feats is the least-squares projector of _projector
        return (f(p, x_test) - f0_test) @ feats

    return training.run(
        loss_fn, params, lr, steps=steps, record_every=record_every, observe=observe
    )


def train_mlp(key: jax.Array, cfg: Config, activation: str) -> Curves:
    """Train a centred two-layer network (NTK parameterisation) by full-batch GD.

    Data from ``make_task(key, cfg)``, initialisation from ``fold_in(key, 1)``;
    Hermite coefficients on the held-out inputs recorded every
    ``cfg.record_every`` steps.

    Args:
        key: PRNG key.
        cfg: experiment config (width, steps, lr, sigma_w2, sigma_b2).
        activation: ``"relu"`` or ``"tanh"``.

    Returns:
        :class:`Curves` with ``t = lr * step`` (steps / record_every + 1
        records); after a
        divergence the records are NaN and ``diverged_step`` says where.

    Raises:
        ValueError: unknown activation.
        TypeError: bad key or cfg.

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and
            generalization in neural networks", 2018, arXiv:1806.07572.
        Chizat, Oyallon & Bach, "On lazy training in differentiable
            programming", 2019, arXiv:1812.07956.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config(num_train=32, num_test=32, width=16, steps=5,
        ...                 record_every=1)
        >>> lo.train_mlp(jax.random.key(0), cfg, "tanh").t.tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    """
    check_key(key)
    _check_cfg(cfg)
    check_choice("activation", activation, ("relu", "tanh"))
    task = make_task(key, cfg)
    scale = math.sqrt(len(cfg.gammas) / cfg.q)
    dtype = jnp.asarray(0.0).dtype
    res = _train_mlp(
        jax.random.fold_in(key, 1),
        jnp.asarray(task.x_train * scale, dtype),
        jnp.asarray(task.y_train, dtype),
        jnp.asarray(task.x_test * scale, dtype),
        jnp.asarray(_projector(task.features_test), dtype),
        jnp.asarray(cfg.lr, dtype),
        jnp.asarray(cfg.sigma_w2, dtype),
        jnp.asarray(cfg.sigma_b2, dtype),
        activation=activation,
        steps=cfg.steps,
        width=cfg.width,
        record_every=cfg.record_every,
    )
    coeffs = np.asarray(res.observed, np.float64)
    t = float(cfg.lr) * np.asarray(res.step, np.float64)
    learn = _learnability(coeffs, float(cfg.amplitude), coeffs[0])
    return Curves(
        t, np.asarray(res.loss, np.float64), coeffs, learn, int(res.diverged_step)
    )


def learned_times(
    t: Float[np.ndarray, " T"],
    learnability: Float[np.ndarray, "T K"],
    threshold: float = 0.5,
) -> Float[np.ndarray, " K"]:
    """First time each learnability reaches ``threshold`` (linear interpolation).

    Args:
        t: (T,) increasing times (units of the caller: ``lr * step`` or flow time).
        learnability: (T, K) learnabilities; NaN entries (a diverged run) never
            count as reached.
        threshold: level in (0, 1).

    Returns:
        (K,) float64 times; ``inf`` where the threshold is never reached; ``t[0]``
        if it is reached at the first record.

    Raises:
        TypeError: non-real t or learnability (strings, bools, None).
        ValueError: shapes disagree, t is not increasing or has NaN, learnability
            has inf entries, threshold out of range.

    References:
        Rahaman et al., "On the spectral bias of neural networks", 2019,
            arXiv:1806.08734.
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> import numpy as np
        >>> t = np.linspace(0, 4, 401)
        >>> learned_times(t, 1 - np.exp(-np.outer(t, [1.0, 0.1]))).round(2)
        array([0.69,  inf])
    """
    tt = np.asarray(as_float_array("t", t, allow_bool=False), np.float64)
    lv = _real_values("learnability", learnability)
    check_real("threshold", threshold, positive=True)
    if float(threshold) >= 1:
        raise ValueError(f"threshold must be in (0, 1), got threshold={threshold}")
    if tt.ndim != 1 or lv.ndim != 2 or lv.shape[0] != tt.shape[0]:
        raise ValueError(
            f"t must be (T,) and learnability (T, K); got {tt.shape} and {lv.shape}"
        )
    if np.any(~np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
        raise ValueError("t must be finite and strictly increasing")
    if np.any(np.isinf(lv)):
        raise ValueError(
            "learnability must be finite (or NaN for a diverged run), got "
            f"{int(np.isinf(lv).sum())} inf entries"
        )
    reached = np.nan_to_num(lv, nan=-np.inf) >= threshold
    out = np.full(lv.shape[1], np.inf)
    for k in range(lv.shape[1]):
        hits = np.flatnonzero(reached[:, k])
        if hits.size == 0:
            continue
        i = hits[0]
        if i == 0:
            out[k] = tt[0]
            continue
        a, b = lv[i - 1, k], lv[i, k]
        frac = 0.0 if not np.isfinite(a) else (threshold - a) / (b - a)
        out[k] = tt[i - 1] + frac * (tt[i] - tt[i - 1])
    return out


def ranks(values: Float[np.ndarray, " K"]) -> Float[np.ndarray, " K"]:
    """Ranks 1..K of ``values`` (ascending), ties given their average rank.

    ``inf`` is a value like any other (several ``inf`` tie with each other).

    Args:
        values: (K,) real values, no NaN.

    Returns:
        (K,) float64 ranks.

    Raises:
        TypeError: non-real values (strings, bools, None).
        ValueError: not 1-d or contains NaN.

    References:
        Spearman, "The proof and measurement of association between two
            things", 1904 (no arXiv id).

    Example:
        >>> ranks([3.0, 1.0, 3.0, float("inf")]).tolist()
        [2.5, 1.0, 2.5, 4.0]
    """
    return _ranks(values, "values")


def _ranks(values, name):
    v = _real_values(name, values)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {v.shape}")
    if np.any(np.isnan(v)):
        raise ValueError(f"{name} must not contain NaN")
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    out = np.empty(v.size)
    start = 0
    for end in range(1, v.size + 1):
        if end == v.size or sorted_v[end] != sorted_v[start]:
            out[order[start:end]] = 0.5 * (start + end - 1) + 1.0
            start = end
    return out


def spearman(a: Float[np.ndarray, " K"], b: Float[np.ndarray, " K"]) -> float:
    """Spearman rank correlation: Pearson correlation of :func:`ranks`.

    Args:
        a: (K,) real values, no NaN (``inf`` allowed: ranked last).
        b: (K,) real values, same length.

    Returns:
        float in [-1, 1]; NaN if either side has all values tied (undefined, as
        in ``scipy.stats.spearmanr``).

    Raises:
        TypeError: non-real values (strings, bools, None), naming ``values``.
        ValueError: lengths differ, fewer than 2 values, or NaN.

    References:
        Spearman, "The proof and measurement of association between two
            things", 1904 (no arXiv id).

    Example:
        >>> spearman([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
        0.8
    """
    ra, rb = _ranks(a, "a"), _ranks(b, "b")
    if ra.size != rb.size or ra.size < 2:
        raise ValueError(
            f"a and b must have the same length >= 2, got {ra.size} and {rb.size}"
        )
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denom == 0:
        return float("nan")
    return round(float(ra @ rb) / denom, 12)


def predicted_eigenvalues(cfg: Config) -> Float[np.ndarray, " K"]:
    """HEA eigenvalues of the RBF kernel for the target components.

    ``lambda_k = c_{|nu_k|} prod_i gamma_i^{nu_ki}`` with ``c_l = e^{-tr
    Sigma_xx / sigma_K^2} sigma_K^{-2l}``, looked up in
    :func:`lm_sims.hermite.predict_eigenvalues`. At effective dimension ~9 and
    ``sigma_K = 2 sqrt(tr Sigma_xx)`` these are off by up to ~25% at degree 2
    (:func:`exact_eigenvalues`).

    Args:
        cfg: experiment config (gammas, components, bandwidth).

    Returns:
        (K,) float64 eigenvalues, in the order of ``cfg.components``.

    Raises:
        TypeError: cfg is not a Config.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> lo.predicted_eigenvalues(lo.Config()).round(5).tolist()
        [0.04673, 0.02336, 0.0028, 0.0014, 0.00049, 0.00019]
    """
    _check_cfg(cfg)
    levels = hermite.rbf_level_coefficients(cfg.q, float(cfg.bandwidth), cfg.max_degree)
    count = math.comb(len(cfg.gammas) + cfg.max_degree, cfg.max_degree)
    lam, idx = hermite.predict_eigenvalues(np.asarray(cfg.gammas), levels, count)
    lookup = {
        tuple(int(v) for v in row): float(x) for row, x in zip(idx, lam, strict=True)
    }
    return np.array([lookup[tuple(nu)] for nu in cfg.components])


def predicted_times(cfg: Config) -> Float[np.ndarray, " K"]:
    """Population-limit half-learning times of RBF kernel flow, ``ln 2 / lambda``.

    Args:
        cfg: experiment config.

    Returns:
        (K,) float64 flow times.

    Raises:
        TypeError: cfg is not a Config.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> round(float(lo.predicted_times(lo.Config())[0]), 2)
        14.83
    """
    return math.log(2.0) / predicted_eigenvalues(cfg)


def predicted_order(cfg: Config) -> Float[np.ndarray, " K"]:
    """Predicted learning ranks (1 = first): :func:`ranks` of ``-lambda``.

    Args:
        cfg: experiment config.

    Returns:
        (K,) float64 ranks.

    Raises:
        TypeError: cfg is not a Config.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> lo.predicted_order(lo.Config()).tolist()
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    """
    return ranks(-predicted_eigenvalues(cfg))


def exact_eigenvalues(cfg: Config) -> Float[np.ndarray, " K"]:
    r"""Exact eigenvalues of the RBF kernel on the Gaussian data, per component.

    The kernel ``exp(-|x - x'|^2 / (2 sigma_K^2))`` factorises over coordinates
    and so does the Gaussian measure, so every eigenvalue is a product of 1-d ones
    (Mehler's formula; Rasmussen & Williams eq. 4.39): for variance ``gamma``,
    with ``a = 1/(4 gamma)``, ``b = 1/(2 sigma_K^2)``, ``c = sqrt(a^2 + 2ab)``,
    ``A = a + b + c``, the k-th eigenvalue is ``sqrt(2a/A) (b/A)^k``. The mode
    with multi-index ``nu`` has eigenvalue ``prod_i sqrt(2a_i/A_i) (b_i/A_i)^{nu_i}``;
    its eigenfunction is a Hermite polynomial of a slightly rescaled coordinate
    times a Gaussian factor, which tends to ``h_nu`` as ``sigma_K^2 / gamma_i ->
    infinity``. The HEA (:func:`predicted_eigenvalues`) is the leading term of the
    same product for ``gamma_i / sigma_K^2 -> 0``; the ratio of the two is the
    ansatz's own error.

    Args:
        cfg: experiment config (gammas, components, bandwidth).

    Returns:
        (K,) float64 eigenvalues, in the order of ``cfg.components``.

    Raises:
        TypeError: cfg is not a Config.

    References:
        Rasmussen & Williams, "Gaussian processes for machine learning", 2006,
            section 4.3.1 (no arXiv id).
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config()
        >>> (lo.predicted_eigenvalues(cfg) / lo.exact_eigenvalues(cfg)).round(2)
        array([1.11, 1.05, 1.24, 1.17, 0.99, 0.99])
    """
    _check_cfg(cfg)
    g = np.asarray(cfg.gammas, np.float64)
    a = 1.0 / (4.0 * g)
    b = 1.0 / (2.0 * float(cfg.bandwidth) ** 2)
    big_a = a + b + np.sqrt(a * a + 2.0 * a * b)
    nu = np.asarray(cfg.components, np.float64)
    log_lam = 0.5 * np.log(2.0 * a / big_a).sum() + nu @ np.log(b / big_a)
    return np.exp(log_lam)


def clock(times: Float[np.ndarray, " K"], reference: Float[np.ndarray, " K"]) -> float:
    """A learner's time unit ``tau``: least squares of ``log t = log tau + log t_ref``.

    ``tau = exp(mean_k log(times_k / reference_k))`` over the components with a
    finite learned time: one number for all components, so no single (possibly
    one-step) measurement sets it.

    Args:
        times: (K,) measured learned times > 0 (``inf``: not learned, skipped).
        reference: (K,) reference times > 0, e.g. :func:`predicted_times`.

    Returns:
        float ``tau`` > 0.

    Raises:
        TypeError: non-real inputs.
        ValueError: shapes differ, NaN, non-positive times, or no finite time.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> round(clock([2.0, 4.0, float("inf")], [1.0, 2.0, 3.0]), 6)
        2.0
    """
    t = _real_values("times", times)
    r = _real_values("reference", reference)
    if t.ndim != 1 or t.shape != r.shape:
        raise ValueError(
            f"times and reference must be 1-d of one length, got {t.shape}, {r.shape}"
        )
    if np.any(np.isnan(t)) or np.any(~np.isfinite(r)):
        raise ValueError("times must not be NaN and reference must be finite")
    if np.any(t <= 0) or np.any(r <= 0):
        raise ValueError("times and reference must be > 0")
    ok = np.isfinite(t)
    if not np.any(ok):
        raise ValueError("no finite learned time: the clock is undefined")
    return float(np.exp(np.mean(np.log(t[ok] / r[ok]))))


class OrderResult(NamedTuple):
    """All four learners on one task.

    Attributes:
        architectures: names, :data:`ARCHITECTURES`.
        curves: one :class:`Curves` per architecture.
        times: (A, K) learned times (inf: not learned in the run).
        ranks: (A, K) learning ranks (1 = first; ties averaged).
        predicted_eigenvalues: (K,) HEA eigenvalues (RBF kernel).
        predicted_ranks: (K,) predicted ranks.
        exact_eigenvalues: (K,) exact RBF eigenvalues (:func:`exact_eigenvalues`).
        spearman: (A,) Spearman correlation of each learner's times with the
            predicted order (NaN if a learner learned nothing).
    """

    architectures: tuple
    curves: tuple
    times: np.ndarray
    ranks: np.ndarray
    predicted_eigenvalues: np.ndarray
    predicted_ranks: np.ndarray
    exact_eigenvalues: np.ndarray
    spearman: np.ndarray


def compare_orders(key: jax.Array, cfg: Config) -> OrderResult:
    """Run the ReLU and tanh networks and the RBF and NTK kernel flows; rank them.

    Every learner sees the same task (``make_task(key, cfg)``). Results are
    cached by ``(key, cfg)`` (the last 16): the book's page and its explorer
    share runs. Treat the returned arrays as read-only.

    Args:
        key: PRNG key.
        cfg: experiment config.

    Returns:
        :class:`OrderResult`.

    Raises:
        TypeError: cfg is not a Config or key is not a PRNG key.

    References:
        Karkada et al., "Predicting kernel regression learning curves from only
            raw data statistics", 2025, arXiv:2510.14878.
        Rahaman et al., "On the spectral bias of neural networks", 2019,
            arXiv:1806.08734.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config(num_train=64, num_test=64, width=16, steps=4)
        >>> lo.compare_orders(jax.random.key(0), cfg).times.shape
        (4, 6)
    """
    check_key(key)
    _check_cfg(cfg)
    cache_key = (tuple(np.asarray(jax.random.key_data(key)).ravel().tolist()), cfg)
    if cache_key not in _ORDER_CACHE:
        if len(_ORDER_CACHE) >= 16:
            _ORDER_CACHE.pop(next(iter(_ORDER_CACHE)))
        _ORDER_CACHE[cache_key] = _compare_orders(key, cfg)
    return _ORDER_CACHE[cache_key]


_ORDER_CACHE: dict = {}


def _compare_orders(key, cfg):
    curves = (
        train_mlp(key, cfg, "relu"),
        train_mlp(key, cfg, "tanh"),
        kernel_flow(key, cfg, "rbf"),
        kernel_flow(key, cfg, "ntk"),
    )
    times = np.stack(
        [learned_times(c.t, c.learnability, cfg.threshold) for c in curves]
    )
    lam = predicted_eigenvalues(cfg)
    pred = ranks(-lam)
    rho = np.array([spearman(tk, pred) for tk in times])
    return OrderResult(
        ARCHITECTURES,
        curves,
        times,
        np.stack([ranks(tk) for tk in times]),
        lam,
        pred,
        exact_eigenvalues(cfg),
        rho,
    )
