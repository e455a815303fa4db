# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""The order in which different learners pick up the Hermite components of a target.

Inputs are anisotropic Gaussians ``x ~ N(0, diag(gamma))`` in ``d`` dimensions and
the target is a sum of normalised Hermite polynomials of the whitened coordinates
``z_i = x_i / sqrt(gamma_i)``,

.. math:: f_*(x) = a \sum_{k=1}^{K} h_{\nu_k}(z), \qquad
    h_\nu(z) = \prod_i \mathrm{He}_{\nu_i}(z_i) / \sqrt{\nu_i!},

(:func:`lm_sims.hermite.hermite_features`). The Hermite eigenstructure ansatz (HEA,
Karkada et al. 2025) says that a rotation-invariant kernel acting on these data has
the ``h_nu`` as eigenfunctions with eigenvalues ``lambda_nu = c_{|nu|} prod_i
gamma_i^{nu_i}`` (:func:`lm_sims.hermite.predict_eigenvalues`; for the Gaussian RBF
kernel of width ``s`` and ``q = sum_i gamma_i``, ``c_l = e^{-q/s^2} s^{-2l}``).
Under kernel gradient flow on the loss ``1/(2P) sum_i (f(x_i) - y_i)^2`` the
coefficient of ``h_nu`` then approaches its target value as ``1 - exp(-lambda_nu
t)`` (in the population limit ``P -> infinity``): a component is half learned at

.. math:: t_{1/2}(\nu) = \ln 2 / \lambda_\nu ,

so components are learned in the order of decreasing ``lambda_nu``. The claim of
this module's page is that the *order* is shared by learners whose eigenvalues
differ: two kernels (the RBF kernel and the ReLU network's NTK,
:func:`lm_sims.kernels.ntk`) and two trained two-layer networks (ReLU and tanh).

**Learned.** For each learner we record the coefficient ``c_k(t) = E_test[f_t(x)
h_{nu_k}(z)]`` (a Monte Carlo average over held-out inputs) and its learnability
``L_k(t) = (c_k(t) - c_k(0)) / (a - c_k(0))``, the fraction of the initial error in
component ``k`` that has been removed (``c_k(0) = 0`` for kernels; for a network it
removes the random initial function, which linearised training also forgets at the
rate ``lambda``). Component ``k`` is *learned* at the first time ``t = lr * step``
at which ``L_k`` reaches ``threshold`` (1/2), linearly interpolated between
records; never reached gives ``inf``.

**Networks.** Two-layer networks in the NTK parameterisation of
:mod:`lm_sims.kernels` (``h = sigma_w W x / sqrt(d) + sigma_b b``, ``g = sigma_w
a . phi(h) / sqrt(n) + sigma_b b_out``, every entry ``N(0, 1)``), centred, ``f_theta
= g_theta - g_theta0`` (the random initial function, of order one, would otherwise
hide components of amplitude one; Chizat, Oyallon & Bach 2019), and trained by
full-batch gradient descent with :func:`lm_sims.training.run`. Inputs are fed as
``x sqrt(d / q)`` (coordinates of order one, the kernels module's convention), so
the ReLU network's infinite-width kernel is exactly
``kernels.ntk(x sqrt(d/q), ..., Config(depth=1, activation="relu"))``.

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
    "compare_orders",
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

#: Data covariance eigenvalues of the calibrated setting, 32, 16, ..., 1 over 63
#: (halving, sum 1).
DEFAULT_GAMMAS = tuple(2.0 ** (5 - i) / 63 for i in range(6))
#: Target components of the calibrated setting (multi-indices over d = 6), in
#: order z1, z2, z3, He2(z1), z1 z2, He2(z2); their HEA (RBF, s = 2) eigenvalues
#: run 0.099, 0.049, ..., 0.0031, each about half the one before.
DEFAULT_COMPONENTS = (
    (1, 0, 0, 0, 0, 0),
    (0, 1, 0, 0, 0, 0),
    (0, 0, 1, 0, 0, 0),
    (2, 0, 0, 0, 0, 0),
    (1, 1, 0, 0, 0, 0),
    (0, 2, 0, 0, 0, 0),
)


@config_dataclass(
    static=(
        "gammas",
        "components",
        "num_train",
        "num_test",
        "width",
        "steps",
        "num_times",
    )
)
class Config:
    """Data, target and learners of a learning-order experiment.

    Attributes:
        gammas: data covariance eigenvalues ``gamma_i`` (tuple of d floats > 0).
            Static.
        components: target multi-indices ``nu_k`` (tuple of K tuples of d ints
            >= 0, distinct, each of degree >= 1). Static.
        amplitude: coefficient ``a`` of every component (> 0).
        num_train: training inputs P (int >= 2). Static.
        num_test: held-out inputs for the Hermite coefficients (int >= 2). Static.
        bandwidth: RBF kernel width ``s`` in input units (> 0); the ansatz needs
            ``s >= 2 sqrt(q)``.
        width: hidden width n of the networks (int >= 1). Static.
        steps: gradient-descent steps of the networks (int >= 1). Static.
        lr: networks' learning rate (> 0); time is ``t = lr * step``.
        sigma_w2: weight variance of the networks and of the NTK (> 0).
        sigma_b2: bias variance of the networks and of the NTK (>= 0). Biases give
            the tanh network even Hermite components (tanh is odd).
        num_times: log-spaced times at which the kernel flows are evaluated
            (int >= 2). Static.
        threshold: learnability at which a component counts as learned, in (0, 1).
    """

    gammas: tuple = DEFAULT_GAMMAS
    components: tuple = DEFAULT_COMPONENTS
    amplitude: float = 1.0
    num_train: int = 1000
    num_test: int = 2000
    bandwidth: float = 2.0
    width: int = 512
    steps: int = 400
    lr: float = 0.25
    sigma_w2: float = 2.0
    sigma_b2: float = 2.0
    num_times: int = 80
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
        check_int("num_test", self.num_test, minimum=2)
        check_real("bandwidth", self.bandwidth, positive=True)
        check_int("width", self.width, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_real("lr", self.lr, positive=True)
        check_real("sigma_w2", self.sigma_w2, positive=True)
        check_real("sigma_b2", self.sigma_b2, nonnegative=True)
        check_int("num_times", self.num_times, minimum=2)
        check_real("threshold", self.threshold, positive=True)
        if float(self.threshold) >= 1.0:
            raise ValueError(f"threshold must be < 1, got threshold={self.threshold}")

    @property
    def q(self) -> float:
        """Trace of the data covariance, ``sum_i gamma_i``."""
        return float(sum(self.gammas))

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
        coefficients: (T, K) ``c_k(t)``, Monte Carlo over the held-out inputs.
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

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> task = lo.make_task(jax.random.key(0), lo.Config(num_train=8, num_test=4))
        >>> task.x_train.shape, task.features_test.shape
        ((8, 6), (4, 6))
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


def _learnability(coefficients, amplitude, c0=None):
    c = np.asarray(coefficients, dtype=np.float64)
    c0 = np.zeros(c.shape[1]) if c0 is None else np.asarray(c0)
    return (c - c0) / (amplitude - c0)


def _project(f_test, features):
    return np.asarray(f_test, np.float64) @ features / features.shape[0]


def kernel_times(cfg: Config) -> np.ndarray:
    """Log-spaced flow times: ``0.05 / lambda_max`` to ``20 / lambda_min`` (HEA).

    Args:
        cfg: experiment config.

    Returns:
        (num_times,) float64 times.
    """
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
        kernel: ``"rbf"`` (``exp(-|x - x'|^2 / (2 s^2))``, s = cfg.bandwidth) or
            ``"ntk"`` (:func:`lm_sims.kernels.ntk` of the one-hidden-layer ReLU
            network with cfg.sigma_w2, cfg.sigma_b2, inputs ``x sqrt(d/q)``).
        t: (T,) flow times >= 0; None: :func:`kernel_times`.

    Returns:
        :class:`Curves` (``diverged_step = -1``).

    Raises:
        ValueError: unknown kernel, negative or NaN times.
        TypeError: bad key or cfg.

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


@partial(jax.jit, static_argnames=("activation", "steps", "width"))
def _train_mlp(
    key, x, y, x_test, feats, lr, sigma_w2, sigma_b2, *, activation, steps, width
):
    params = _mlp_init(key, x.shape[1], width)

    def f(p, inputs):
        return _mlp_apply(p, inputs, activation, sigma_w2, sigma_b2)

    # centred: the initial function is subtracted, so every learner starts at 0
    f0_train, f0_test = f(params, x), f(params, x_test)

    def loss_fn(p):
        return 0.5 * jnp.mean((f(p, x) - f0_train - y) ** 2)

    def observe(p):
        return (f(p, x_test) - f0_test) @ feats / feats.shape[0]

    return training.run(
        loss_fn, params, lr, steps=steps, record_every=1, observe=observe
    )


def train_mlp(key: jax.Array, cfg: Config, activation: str) -> Curves:
    """Train a centred two-layer network (NTK parameterisation) by full-batch GD.

    Data from ``make_task(key, cfg)``, initialisation from ``fold_in(key, 1)``;
    Hermite coefficients on the held-out inputs recorded at every step.

    Args:
        key: PRNG key.
        cfg: experiment config (width, steps, lr, sigma_w2, sigma_b2).
        activation: ``"relu"`` or ``"tanh"``.

    Returns:
        :class:`Curves` with ``t = lr * step`` (steps + 1 records); after a
        divergence the records are NaN and ``diverged_step`` says where.

    Raises:
        ValueError: unknown activation.
        TypeError: bad key or cfg.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config(num_train=32, num_test=32, width=16, steps=5)
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
        jnp.asarray(task.features_test, dtype),
        jnp.asarray(cfg.lr, dtype),
        jnp.asarray(cfg.sigma_w2, dtype),
        jnp.asarray(cfg.sigma_b2, dtype),
        activation=activation,
        steps=cfg.steps,
        width=cfg.width,
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
        ValueError: shapes disagree, t is not increasing or has NaN, threshold out
            of range.

    Example:
        >>> import numpy as np
        >>> t = np.linspace(0, 4, 401)
        >>> learned_times(t, 1 - np.exp(-np.outer(t, [1.0, 0.1]))).round(2)
        array([0.69,  inf])
    """
    tt = np.asarray(as_float_array("t", t, allow_bool=False), np.float64)
    lv = np.asarray(learnability, dtype=np.float64)
    check_real("threshold", threshold, positive=True)
    if float(threshold) >= 1:
        raise ValueError(f"threshold must be in (0, 1), got threshold={threshold}")
    if tt.ndim != 1 or lv.ndim != 2 or lv.shape[0] != tt.shape[0]:
        raise ValueError(
            f"t must be (T,) and learnability (T, K); got {tt.shape} and {lv.shape}"
        )
    if np.any(~np.isfinite(tt)) or np.any(np.diff(tt) <= 0):
        raise ValueError("t must be finite and strictly increasing")
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
        ValueError: not 1-d or contains NaN.

    Example:
        >>> ranks([3.0, 1.0, 3.0, float("inf")]).tolist()
        [2.5, 1.0, 2.5, 4.0]
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-d array, got shape {v.shape}")
    if np.any(np.isnan(v)):
        raise ValueError("values must not contain NaN")
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
        ValueError: lengths differ, fewer than 2 values, or NaN.

    Example:
        >>> spearman([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
        0.8
    """
    ra, rb = ranks(a), ranks(b)
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

    ``lambda_k = c_{|nu_k|} prod_i gamma_i^{nu_ki}`` with ``c_l = e^{-q/s^2}
    s^{-2l}``, looked up in :func:`lm_sims.hermite.predict_eigenvalues`.

    Args:
        cfg: experiment config (gammas, components, bandwidth).

    Returns:
        (K,) float64 eigenvalues, in the order of ``cfg.components``.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> lo.predicted_eigenvalues(lo.Config()).round(4).tolist()
        [0.0989, 0.0494, 0.0247, 0.0126, 0.0063, 0.0031]
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

    Example:
        >>> from lm_sims import learning_order as lo
        >>> round(float(lo.predicted_times(lo.Config())[0]), 2)
        7.01
    """
    return math.log(2.0) / predicted_eigenvalues(cfg)


def predicted_order(cfg: Config) -> Float[np.ndarray, " K"]:
    """Predicted learning ranks (1 = first): :func:`ranks` of ``-lambda``.

    Args:
        cfg: experiment config.

    Returns:
        (K,) float64 ranks.

    Example:
        >>> from lm_sims import learning_order as lo
        >>> lo.predicted_order(lo.Config()).tolist()
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    """
    return ranks(-predicted_eigenvalues(cfg))


class OrderResult(NamedTuple):
    """All four learners on one task.

    Attributes:
        architectures: names, :data:`ARCHITECTURES`.
        curves: one :class:`Curves` per architecture.
        times: (A, K) learned times (inf: not learned in the run).
        ranks: (A, K) learning ranks (1 = first; ties averaged).
        predicted_eigenvalues: (K,) HEA eigenvalues (RBF kernel).
        predicted_ranks: (K,) predicted ranks.
        spearman: (A,) Spearman correlation of each learner's times with the
            predicted order (NaN if a learner learned nothing).
    """

    architectures: tuple
    curves: tuple
    times: np.ndarray
    ranks: np.ndarray
    predicted_eigenvalues: np.ndarray
    predicted_ranks: np.ndarray
    spearman: np.ndarray


def compare_orders(key: jax.Array, cfg: Config) -> OrderResult:
    """Run the ReLU and tanh networks and the RBF and NTK kernel flows; rank them.

    Every learner sees the same task (``make_task(key, cfg)``).

    Args:
        key: PRNG key.
        cfg: experiment config.

    Returns:
        :class:`OrderResult`.

    Example:
        >>> import jax
        >>> from lm_sims import learning_order as lo
        >>> cfg = lo.Config(num_train=64, num_test=64, width=16, steps=4)
        >>> lo.compare_orders(jax.random.key(0), cfg).times.shape
        (4, 6)
    """
    check_key(key)
    _check_cfg(cfg)
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
        rho,
    )
