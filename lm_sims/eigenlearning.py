"""Kernel ridge regression and its eigenlearning theory.

Theory (NumPy, float64): the *eigenlearning* equations of Simon et al. predict the test
and train error of kernel ridge regression (KRR) from the kernel's eigenvalues
``lambda_i`` and the target's eigencoefficients ``v_i`` alone. One scalar, the
effective regularisation ``kappa``, solves

.. math::
    \\sum_i \\frac{\\lambda_i}{\\lambda_i + \\kappa} + \\frac{\\delta}{\\kappa} = n
    \\qquad (\\delta = \\text{ridge}, \\; n = \\text{number of training samples}),

and sets every mode's *learnability* ``L_i = lambda_i / (lambda_i + kappa)``, the
overfitting coefficient ``E0 = n / (n - sum_i L_i^2)`` and

.. math::
    E_\\text{test} = E_0 \\Big(\\sum_i (1 - L_i)^2 v_i^2 + \\sigma^2\\Big),\\qquad
    E_\\text{train} = \\frac{\\delta^2}{n^2 \\kappa^2} E_\\text{test}.

At ridge 0 the learnabilities obey the conservation law ``sum_i L_i = n``.

Simulation (JAX, float64): KRR on Gaussian-design features. A sample ``x`` has
coordinates ``phi_k(x) ~ N(0, 1)`` i.i.d. for ``k = 1..num_modes``; the kernel is
``K(x, x') = sum_k lambda_k phi_k(x) phi_k(x')`` with ``lambda_k = k^-alpha``; the
target is ``f*(x) = sum_k v_k phi_k(x)`` with ``v_k^2 ∝ k^-r`` normalised to
``sum_k v_k^2 = 1``; labels are ``y = f*(x) + noise * N(0, 1)``. Because the
``phi_k`` are orthonormal under the data distribution, the population test error of a
fit with coefficients ``beta_hat`` is exact, with no test-set sampling noise:
``||beta_hat - v||^2 + noise^2`` against noisy test labels.

Errors here are plain mean squared errors (no factor 1/2), as in the eigenlearning
papers.

References:
    Simon et al., "The Eigenlearning Framework: A Conservation Law Perspective on
    Kernel Regression and Wide Neural Networks", 2021, arXiv:2110.03922.
    Bordelon et al., "Spectrum Dependent Learning Curves in Kernel Regression and
    Wide Neural Networks", 2020, arXiv:2002.02561.
    Canatar et al., "Spectral Bias and Task-Model Alignment Explain Generalization
    in Kernel Regression and Infinitely Wide Neural Networks", 2021,
    arXiv:2006.13198.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from lm_sims._compat import enable_x64
from lm_sims._config import (
    as_float64_numpy,
    check_budget_arg,
    check_bytes,
    check_int,
    check_key,
    check_real,
    check_work,
    config_dataclass,
)

__all__ = [
    "Config",
    "Fit",
    "LearningCurve",
    "Prediction",
    "effective_regularization",
    "learnabilities",
    "measured_learnabilities",
    "predict",
    "predict_test_mse",
    "predict_train_mse",
    "simulate_learning_curve",
    "spectrum",
    "train",
    "trials",
]

# Upper limit on alpha. The ridgeless Gram matrix K = Phi Lambda Phi^T has condition
# number ~ n^alpha (top eigenvalue ~ n, bottom ~ the unlearned tail ~ n^(1 - alpha)).
# Measured against a least-squares reference at n = 1024, 2048 modes: alpha = 4 gives
# cond 8e12 and the test MSE to 2e-6 relative; alpha = 5 gives cond 1e16 and a 4%
# error.
MAX_ALPHA = 4.0

# float64 arrays of num_modes entries the theory holds at once (k, eigenvalues,
# target, learnabilities and Newton's temporaries)
_THEORY_ARRAYS = 8


def _krr_cost(n: int, num_modes: int, num_seeds: int) -> tuple[float, float]:
    """(bytes, flop-equivalents) of ``num_seeds`` KRR fits of :func:`trials`.

    Memory: the float32 draw and its float64 copy of the features (12 n M bytes),
    the Gram matrix and its Cholesky factor (16 n^2) for the 8 fits in flight,
    plus the (num_seeds, M) float64 outputs. Work per fit: the Gram matrix
    (2 n^2 M flops), its Cholesky solve (n^3 / 3), the draws and products (~30 n M),
    times 8: float64 linear algebra ran at 2.5-6 Gflop/s on 2 cores here
    (2026-12), against the 2e10 flop-equivalents/s that MAX_WORK assumes.
    """
    n, m, s = float(n), float(num_modes), float(num_seeds)
    in_flight = min(s, _SEED_BATCH)
    nbytes = in_flight * (12 * n * m + 16 * n * n + 24 * m) + s * 8 * (m + 2)
    work = 8.0 * s * (2 * n * n * m + n**3 / 3 + 30 * n * m)
    return nbytes, work


def _check_krr_budget(cfg, num_seeds, max_bytes, max_work):
    """Refuse KRR trials whose memory or work estimate exceeds the limits."""
    check_budget_arg("max_bytes", max_bytes)
    check_budget_arg("max_work", max_work)
    nbytes, work = _krr_cost(cfg.n, cfg.num_modes, num_seeds)
    what = (
        f"{num_seeds} kernel ridge regression fits with n={cfg.n} samples and "
        f"num_modes={cfg.num_modes}"
    )
    fix = "use fewer seeds, a smaller n or fewer modes, or raise the limit"
    check_bytes(what, nbytes, fix, max_bytes)
    check_work(what, work, fix, max_work)


@config_dataclass(static=("n", "num_modes"))
class Config:
    """Kernel ridge regression with a power-law spectrum and a power-law target.

    Attributes:
        n: number of training samples (static: it sets shapes). int >= 1.
        num_modes: number of kernel eigenmodes ``M`` (static). int > n, so that at
            ridge 0 the kernel can interpolate the data.
        alpha: spectrum exponent, ``lambda_k = k^-alpha``. 1 < alpha <= 4: alpha > 1
            makes the kernel's trace ``sum_k lambda_k`` (= E K(x, x)) finite as
            ``num_modes -> inf``, so the model has a limit; alpha <= 4 keeps the
            ridgeless Gram matrix (condition number ~ n^alpha) solvable in float64.
        r: target power exponent, ``v_k^2 ∝ k^-r`` with ``sum_k v_k^2 = 1``. r > 1
            makes the target's norm finite as ``num_modes -> inf``.
        ridge: ridge parameter ``delta >= 0`` in ``(K + delta I)^-1 y`` (the kernel
            is not divided by n).
        noise: label-noise standard deviation ``sigma >= 0``.
    """

    n: int = 64
    num_modes: int = 1024
    alpha: float = 1.5
    r: float = 2.0
    ridge: float = 0.0
    noise: float = 0.0

    def _validate(self):
        check_int("n", self.n, minimum=1)
        check_int("num_modes", self.num_modes, minimum=2)
        if self.num_modes <= self.n:
            raise ValueError(
                f"num_modes must be > n, got num_modes={self.num_modes}, n={self.n}"
            )
        check_real("alpha", self.alpha)
        if not 1.0 < float(self.alpha) <= MAX_ALPHA:
            raise ValueError(
                f"alpha must be > 1 and <= {MAX_ALPHA:g}, got alpha={self.alpha:g}"
            )
        check_real("r", self.r)
        if not float(self.r) > 1.0:
            raise ValueError(f"r must be > 1, got r={self.r:g}")
        check_real("ridge", self.ridge, nonnegative=True)
        check_real("noise", self.noise, nonnegative=True)


# --------------------------------------------------------------------------------------
# Theory (NumPy float64)
# --------------------------------------------------------------------------------------


class Prediction(NamedTuple):
    """Eigenlearning prediction for one ``Config``.

    Attributes:
        kappa: effective regularisation, float > 0.
        learnabilities: ``L_i``, float64 ``(num_modes,)``, each in (0, 1).
        e0: overfitting coefficient ``E0 = n / (n - sum L_i^2) >= 1``.
        test_mse: expected test MSE against noisy test labels.
        train_mse: expected train MSE.
    """

    kappa: float
    learnabilities: Float[np.ndarray, " num_modes"]
    e0: float
    test_mse: float
    train_mse: float


def spectrum(
    cfg: Config,
) -> tuple[Float[np.ndarray, " num_modes"], Float[np.ndarray, " num_modes"]]:
    """Kernel eigenvalues and target coefficients of ``cfg`` (NumPy float64).

    Returns:
        ``(eigenvalues, target_coeffs)``: ``lambda_k = k^-alpha`` and
        ``v_k = k^(-r/2) / sqrt(sum_j j^-r)``, both ``(num_modes,)``.

    Raises:
        TypeError: cfg is not a :class:`Config`.
        ValueError: ``num_modes`` so large that the theory's float64 arrays
            would exceed ``lm_sims._config.MAX_BYTES``.

    Example:
        >>> lam, v = spectrum(Config(n=8, num_modes=16))
        >>> round(float((v**2).sum()), 12)
        1.0
    """
    _check_config(cfg)
    check_bytes(
        f"the eigenlearning theory of num_modes={cfg.num_modes} modes",
        _THEORY_ARRAYS * 8.0 * cfg.num_modes,
        "use fewer modes",
    )
    k = np.arange(1, cfg.num_modes + 1, dtype=np.float64)
    eigenvalues = k ** -float(cfg.alpha)
    v = k ** (-float(cfg.r) / 2)
    return eigenvalues, v / np.sqrt(np.sum(v**2))


def _check_config(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(
            f"cfg must be an eigenlearning.Config, got {type(cfg).__name__}"
        )


def _check_eigenvalues(eigenvalues) -> np.ndarray:
    lam = as_float64_numpy("eigenvalues", eigenvalues)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(
            f"eigenvalues must be a non-empty 1-D array, got shape {lam.shape}"
        )
    if np.any(lam < 0):
        raise ValueError(
            f"eigenvalues must be finite and >= 0, got min(eigenvalues)={lam.min():g}"
        )
    if not np.any(lam > 0):
        raise ValueError("eigenvalues must contain at least one value > 0")
    return lam


def effective_regularization(
    eigenvalues: Float[np.ndarray, " modes"], n: float, ridge: float = 0.0
) -> float:
    """Effective regularisation ``kappa`` of kernel ridge regression.

    Solves (the book's eq. ``eq-eig-kappa``)

    .. math:: \\sum_i \\frac{\\lambda_i}{\\lambda_i+\\kappa} + \\frac{\\delta}{\\kappa}
        = n

    for ``kappa > 0`` by Newton's method on ``1/kappa``, in float64 (the left side
    is increasing and concave in ``1/kappa``, so the iteration converges
    monotonically from a starting point below the root).

    Args:
        eigenvalues: kernel eigenvalues ``lambda_i >= 0``, ``(modes,)``.
        n: number of training samples, real > 0.
        ridge: ridge ``delta >= 0``.

    Returns:
        ``kappa`` as a Python float.

    Raises:
        ValueError: ``n <= 0``, ``ridge < 0``, bad eigenvalues, or ``ridge == 0`` with
            ``n >=`` the number of nonzero eigenvalues (the kernel then cannot
            interpolate and no ``kappa > 0`` exists).

    References:
        Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.

    Example:
        >>> lam = np.arange(1, 101) ** -2.0
        >>> kappa = effective_regularization(lam, n=10)
        >>> round(float(np.sum(lam / (lam + kappa))), 10)
        10.0
    """
    lam = _check_eigenvalues(eigenvalues)
    check_real("n", n, positive=True)
    check_real("ridge", ridge, nonnegative=True)
    n, ridge = float(n), float(ridge)
    lam = lam[lam > 0]
    modes = lam.size
    if ridge == 0 and n >= modes:
        raise ValueError(
            f"at ridge=0, n must be < the number of nonzero eigenvalues ({modes}), "
            f"got n={n:g}; use ridge > 0 or more modes"
        )
    # Newton's method on w = 1/kappa. h(w) = sum lam w/(lam w + 1) + ridge w - n is
    # increasing and concave in w, so Newton started left of the root (h < 0) climbs
    # monotonically to it without overshooting; on a power-law spectrum each early
    # step multiplies w by about 1 + alpha, so few steps are needed.
    # Start: h(w0) < w0 (sum lam + ridge) - n = -n/2 < 0.
    w = n / (2.0 * (lam.sum() + ridge))
    for _ in range(1000):
        s = 1.0 / (lam * w + 1.0)
        ell = lam * w * s
        h = ell.sum() + ridge * w - n
        if h >= 0.0:  # at the root up to rounding
            break
        step = -h / (np.sum(ell * s) / w + ridge)  # h'(w) = sum L(1-L)/w + ridge
        w += step
        if step <= 1e-15 * w:
            break
    else:  # pragma: no cover - Newton on a concave function always converges
        raise RuntimeError(f"kappa did not converge (n={n:g}, ridge={ridge:g})")
    return 1.0 / w


def learnabilities(
    eigenvalues: Float[np.ndarray, " modes"], kappa: float
) -> Float[np.ndarray, " modes"]:
    """Mode learnabilities ``L_i = lambda_i / (lambda_i + kappa)``.

    ``L_i`` is the fraction of target mode ``i`` that KRR learns on average:
    ``E[beta_hat_i] = L_i v_i``. At ridge 0, ``sum_i L_i = n`` (conservation law).

    Args:
        eigenvalues: ``(modes,)`` kernel eigenvalues.
        kappa: effective regularisation from :func:`effective_regularization`.

    Returns:
        ``(modes,)`` float64 array in [0, 1).
    """
    lam = _check_eigenvalues(eigenvalues)
    check_real("kappa", kappa, positive=True)
    return lam / (lam + float(kappa))


def _theory(lam, v, n, ridge, noise):
    kappa = effective_regularization(lam, n, ridge)
    ell = lam / (lam + kappa)
    e0 = n / (n - np.sum(ell**2))
    test = e0 * (np.sum((1.0 - ell) ** 2 * v**2) + noise**2)
    train = (ridge / (n * kappa)) ** 2 * test
    return kappa, ell, float(e0), float(test), float(train)


def _check_target(lam, target_coeffs, noise):
    v = as_float64_numpy("target_coeffs", target_coeffs)
    if v.shape != lam.shape:
        raise ValueError(
            f"target_coeffs must have the shape of eigenvalues {lam.shape}, "
            f"got {v.shape}"
        )
    check_real("noise", noise, nonnegative=True)
    return v


def predict_test_mse(
    eigenvalues: Float[np.ndarray, " modes"],
    target_coeffs: Float[np.ndarray, " modes"],
    n: float,
    ridge: float = 0.0,
    noise: float = 0.0,
) -> float:
    """Eigenlearning test MSE of KRR (the book's eq. ``eq-eig-test``).

    .. math:: E_\\text{test} = \\frac{n}{n - \\sum_i L_i^2}
        \\Big(\\sum_i (1 - L_i)^2 v_i^2 + \\sigma^2\\Big)

    measured against noisy test labels (subtract ``noise**2`` for the error against
    the clean target).

    Args:
        eigenvalues: ``(modes,)`` kernel eigenvalues ``lambda_i >= 0``.
        target_coeffs: ``(modes,)`` target eigencoefficients ``v_i``.
        n: number of training samples, > 0.
        ridge: ridge ``delta >= 0``.
        noise: label-noise standard deviation ``sigma >= 0``.

    Returns:
        Predicted test MSE (float).

    Raises:
        ValueError: as :func:`effective_regularization`; shape mismatch; noise < 0.

    References:
        Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.

    Example:
        >>> lam = np.arange(1, 201) ** -1.5
        >>> v = np.arange(1, 201) ** -1.0
        >>> round(predict_test_mse(lam, v / np.linalg.norm(v), n=50), 4)
        0.0251
    """
    lam = _check_eigenvalues(eigenvalues)
    v = _check_target(lam, target_coeffs, noise)
    check_real("n", n, positive=True)
    check_real("ridge", ridge, nonnegative=True)
    return _theory(lam, v, float(n), float(ridge), float(noise))[3]


def predict_train_mse(
    eigenvalues: Float[np.ndarray, " modes"],
    target_coeffs: Float[np.ndarray, " modes"],
    n: float,
    ridge: float = 0.0,
    noise: float = 0.0,
) -> float:
    """Eigenlearning train MSE: ``(ridge / (n kappa))^2 * E_test``.

    Zero at ridge 0 (KRR interpolates). Arguments as :func:`predict_test_mse`.
    """
    lam = _check_eigenvalues(eigenvalues)
    v = _check_target(lam, target_coeffs, noise)
    check_real("n", n, positive=True)
    check_real("ridge", ridge, nonnegative=True)
    return _theory(lam, v, float(n), float(ridge), float(noise))[4]


def predict(cfg: Config) -> Prediction:
    """Eigenlearning prediction for ``cfg``: kappa, learnabilities, E0, test/train MSE.

    Example:
        >>> p = predict(Config(n=64, num_modes=1024))
        >>> round(float(p.learnabilities.sum()), 8)   # conservation law at ridge 0
        64.0
    """
    _check_config(cfg)
    lam, v = spectrum(cfg)
    kappa, ell, e0, test, train_ = _theory(
        lam, v, cfg.n, float(cfg.ridge), float(cfg.noise)
    )
    return Prediction(kappa, ell, e0, test, train_)


# --------------------------------------------------------------------------------------
# Simulation (JAX float64)
# --------------------------------------------------------------------------------------


class Fit(NamedTuple):
    """One kernel-ridge-regression fit on fresh Gaussian-design data.

    :func:`train` and :func:`trials` return NumPy float64 arrays whatever JAX's
    precision mode (computed in float64 inside ``jax.enable_x64``, without
    changing the caller's setting); under ``jit``/``vmap`` (e.g.
    :func:`lm_sims.sweep`) the fields are JAX float64 arrays.

    Attributes:
        test_mse: population test MSE against noisy labels,
            ``||coeffs - v||^2 + noise^2`` (exact: no test sampling), ``()``.
        train_mse: mean over the n training points of (prediction - label)^2, ``()``.
        coeffs: learned eigencoefficients ``beta_hat_k``, ``(num_modes,)``; the
            learned function is ``sum_k beta_hat_k phi_k(x)``.
    """

    test_mse: Float[Array, ""]
    train_mse: Float[Array, ""]
    coeffs: Float[Array, " num_modes"]


def _spectrum_jax(cfg):
    k = jnp.arange(1, cfg.num_modes + 1, dtype=jnp.float64)
    lam = k ** -jnp.asarray(cfg.alpha, jnp.float64)
    v = k ** (-jnp.asarray(cfg.r, jnp.float64) / 2)
    return lam, v / jnp.sqrt(jnp.sum(v**2))


def _draw(key, cfg):
    """Training features ``(n, num_modes)`` and labels ``(n,)``, float64.

    Gaussian draws in float32, then cast: JAX's float64 sampler builds uint64 bits,
    which fail to lower when a caller (sweep, vmap) compiles outside x64 mode.
    """
    k_x, k_noise = jax.random.split(key)
    phi32 = jax.random.normal(k_x, (cfg.n, cfg.num_modes), jnp.float32)
    xi32 = jax.random.normal(k_noise, (cfg.n,), jnp.float32)
    with enable_x64(True):
        _, v = _spectrum_jax(cfg)
        phi = phi32.astype(jnp.float64)
        noise = jnp.asarray(cfg.noise, jnp.float64)
        return phi, phi @ v + noise * xi32.astype(jnp.float64)


def _fit(phi, y, cfg):
    """Kernel ridge regression on features ``phi`` and labels ``y`` (float64)."""
    with enable_x64(True):
        lam, v = _spectrum_jax(cfg)
        ridge = jnp.asarray(cfg.ridge, jnp.float64)
        noise = jnp.asarray(cfg.noise, jnp.float64)
        gram = (phi * lam) @ phi.T + ridge * jnp.eye(phi.shape[0], dtype=jnp.float64)
        a = jax.scipy.linalg.solve(gram, y, assume_a="pos")
        coeffs = lam * (phi.T @ a)
        test_mse = jnp.sum((coeffs - v) ** 2) + noise**2
        # residual y - K a = ridge * a exactly, since (K + ridge I) a = y
        train_mse = ridge**2 * jnp.mean(a**2)
        return Fit(test_mse, train_mse, coeffs)


def _as_numpy(fit: Fit) -> Fit:
    """The returned precision contract (as the kernels'): NumPy float64 arrays,
    exact in NumPy and usable by jnp code in either precision mode without
    warnings; left as JAX arrays when traced (inside jit or vmap, e.g. sweep)."""
    if any(isinstance(x, jax.core.Tracer) for x in fit):
        return fit
    return Fit(*(np.asarray(x) for x in fit))


def _float64_leaves(cfg):
    """Dynamic fields as float64 arrays (call in x64 mode): Python floats, NumPy
    scalars and float32 values then share one compiled signature."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), cfg)


def _one_blas_thread():
    """Context manager: LAPACK on one thread inside the block (where possible).

    JAX's CPU solvers (Cholesky, eigh) call LAPACK through SciPy's OpenBLAS,
    whose worker threads spin-wait; on a loaded 2-core machine the float64 solves
    of :func:`trials` ran ~10x slower with two BLAS threads than with one
    (2026-12, issue 11: p95 0.94 s against 0.11 s per explorer move). The
    matrices here are at most a few hundred wide, too small to gain from BLAS
    threads. Uses ``threadpoolctl`` when it is installed (it comes with
    scikit-learn); otherwise does nothing. JAX dispatches asynchronously: block
    on the results inside the block, or the solves run after it.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with sklearn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@jax.jit
def _train(key, cfg):
    return _fit(*_draw(key, cfg), cfg)


def train(
    key: jax.Array,
    cfg: Config,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> Fit:
    """Fit kernel ridge regression once on ``cfg.n`` fresh Gaussian-design samples.

    Draws ``Phi`` (n x num_modes, i.i.d. N(0, 1)), labels
    ``y = Phi v + noise * xi``, solves ``(Phi Lambda Phi^T + ridge I) a = y`` and
    returns the learned coefficients ``beta_hat = Lambda Phi^T a`` with the exact
    population test MSE. Jitted (one compilation per ``(n, num_modes)``), float64
    inside. Run many seeds with :func:`trials`, or over a grid of dynamic fields
    with :func:`lm_sims.sweep`.

    Args:
        key: PRNG key, e.g. ``jax.random.key(0)``.
        cfg: the :class:`Config`.

        max_bytes: refuse a fit whose memory estimate exceeds this many bytes
            (default ``lm_sims._config.MAX_BYTES``; ``math.inf``: no limit).
        max_work: refuse a fit whose work estimate exceeds this many
            flop-equivalents (default ``lm_sims._config.MAX_WORK``).

    Returns:
        A :class:`Fit` of NumPy float64 arrays whatever JAX's precision mode
        (exact in NumPy, and usable by jnp code in either mode without
        warnings); JAX float64 arrays when traced (e.g. under
        :func:`lm_sims.sweep`, whose output is then float64 too).

    Raises:
        TypeError: ``key`` is not a PRNG key or ``cfg`` is not a ``Config``.
        ValueError: the fit's memory or work estimate exceeds ``max_bytes`` or
            ``max_work`` (the message gives the size, the estimate and the limit).

    Example:
        >>> import jax
        >>> from lm_sims import sweep
        >>> out = sweep(train, jax.random.key(0), Config(n=32, num_modes=256),
        ...             num_seeds=100, ridge=[0.0, 0.1])
        >>> out.test_mse.shape   # (grid, seeds)
        (2, 100)
    """
    check_key(key)
    _check_config(cfg)
    _check_krr_budget(cfg, 1, max_bytes, max_work)
    # x64 around the call, not only inside the jitted body: a caller's vmap
    # (e.g. sweep) batches the inner jaxpr at call time, and must do so in x64 mode.
    with enable_x64(True), _one_blas_thread():
        # block inside: JAX dispatches asynchronously, the solve must run here
        fit = jax.block_until_ready(_train(key, _float64_leaves(cfg)))
    return _as_numpy(fit)


# Trials run as a compiled loop over batches of this many seeds: vmapping all seeds at
# once holds num_seeds Gram problems in memory and was slower on 2 CPU cores.
_SEED_BATCH = 8


@functools.partial(jax.jit, static_argnums=2)
def _trials(keys, cfg, batch_size):
    return jax.lax.map(lambda k: _train(k, cfg), keys, batch_size=batch_size)


def trials(
    key: jax.Array,
    cfg: Config,
    num_seeds: int,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> Fit:
    """Run :func:`train` on ``num_seeds`` independent seeds, compiled once.

    The seeds are ``jax.random.split(key, num_seeds)``, the same keys
    :func:`lm_sims.sweep` uses, so ``trials(key, cfg, s)`` equals one grid
    point of ``sweep(train, key, cfg, num_seeds=s, ...)``. Unlike ``sweep`` it
    loops over batches of 8 seeds inside one compiled program (bounded memory:
    8 Gram problems at a time), which is faster here than vmapping every seed.

    Args:
        key: PRNG key.
        cfg: the :class:`Config` (recompiles only if ``n`` or ``num_modes`` change).
        num_seeds: number of independent trials, int >= 1.
        max_bytes: refuse trials whose memory estimate (8 fits in flight plus
            the outputs) exceeds this many bytes (default
            ``lm_sims._config.MAX_BYTES``; ``math.inf``: no limit).
        max_work: refuse trials whose work estimate exceeds this many
            flop-equivalents (default ``lm_sims._config.MAX_WORK``, about ten
            minutes on a laptop).

    Returns:
        A :class:`Fit` of NumPy float64 arrays (whatever JAX's precision mode)
        with a leading ``(num_seeds,)`` axis.

    Raises:
        TypeError: ``key`` is not a PRNG key, ``cfg`` not a ``Config``, or
            ``num_seeds`` not an int.
        ValueError: ``num_seeds < 1``, or the memory or work estimate exceeds
            ``max_bytes`` / ``max_work`` (checked before anything is allocated;
            the message gives the sizes, the estimate and the limit).

    Example:
        >>> import jax
        >>> fits = trials(jax.random.key(0), Config(n=64, num_modes=512), 200)
        >>> fits.coeffs.shape
        (200, 512)
    """
    check_key(key)
    check_int("num_seeds", num_seeds, minimum=1)
    _check_config(cfg)
    _check_krr_budget(cfg, num_seeds, max_bytes, max_work)
    keys = jax.random.split(key, num_seeds)
    with enable_x64(True), _one_blas_thread():
        # block inside: JAX dispatches asynchronously, the solves must run here
        fits = jax.block_until_ready(
            _trials(keys, _float64_leaves(cfg), min(_SEED_BATCH, num_seeds))
        )
    return _as_numpy(fits)


def measured_learnabilities(
    coeffs: Float[Array, "*trials num_modes"], cfg: Config
) -> tuple[Float[np.ndarray, " num_modes"], Float[np.ndarray, " num_modes"]]:
    """Per-mode learnability estimated from trials: ``mean(beta_hat_k) / v_k``.

    Args:
        coeffs: ``Fit.coeffs`` from many independent trials; all leading axes are
            trials.
        cfg: the config the trials used (for ``v``).

    Returns:
        ``(mean, sem)``, each ``(num_modes,)`` float64: the estimate and its standard
        error of the mean across trials (needs >= 2 trials).

    Raises:
        TypeError: ``cfg`` is not a ``Config``; ``coeffs`` not real numbers.
        ValueError: the last axis of ``coeffs`` is not ``cfg.num_modes``, fewer
            than 2 trials, or NaN or inf entries.
    """
    _check_config(cfg)
    c = as_float64_numpy("coeffs", coeffs)
    if c.ndim < 1 or c.shape[-1] != cfg.num_modes:
        raise ValueError(
            f"coeffs must have shape (*trials, num_modes={cfg.num_modes}), got "
            f"{c.shape}"
        )
    c = c.reshape(-1, cfg.num_modes)
    if c.shape[0] < 2:
        raise ValueError(f"need >= 2 trials to estimate a mean, got {c.shape[0]}")
    _, v = spectrum(cfg)
    ratio = c / v
    return ratio.mean(0), ratio.std(0, ddof=1) / np.sqrt(c.shape[0])


class LearningCurve(NamedTuple):
    """Test MSE and per-mode learnabilities against sample size, simulated and
    predicted.

    Attributes:
        n: ``(points,)`` sample sizes (int).
        test_mse: ``(points,)`` mean simulated test MSE over seeds.
        sem: ``(points,)`` its standard error of the mean.
        theory: ``(points,)`` eigenlearning prediction of the test MSE.
        learnability: ``(points, num_modes)`` measured ``mean(beta_hat_k) / v_k``.
        learnability_sem: ``(points, num_modes)`` its standard error.
        learnability_theory: ``(points, num_modes)`` predicted ``L_k``.
    """

    n: np.ndarray
    test_mse: np.ndarray
    sem: np.ndarray
    theory: np.ndarray
    learnability: np.ndarray
    learnability_sem: np.ndarray
    learnability_theory: np.ndarray


def simulate_learning_curve(
    key: jax.Array,
    cfg: Config,
    ns: Sequence[int],
    num_seeds: int = 32,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> LearningCurve:
    """Simulated and predicted test MSE and learnabilities at each size in ``ns``.

    ``n`` sets shapes, so each value compiles once (cached afterwards); the seeds
    at each ``n`` run through :func:`trials`.

    Args:
        key: PRNG key (the same key is used at every ``n``).
        cfg: base config; its ``n`` is replaced by each value in ``ns``.
        ns: sample sizes, ints with ``1 <= n < cfg.num_modes``.
        num_seeds: independent trials per point (>= 2).
        max_bytes, max_work: limits on the estimated memory (of the largest
            point) and work (of all points together), as in :func:`trials`.

    Returns:
        A :class:`LearningCurve`.

    Raises:
        TypeError: ``key`` is not a PRNG key, ``cfg`` not a ``Config``, ``ns``
            not a sequence of ints (a float such as 1.5 or 16.0 is refused, not
            rounded) or ``num_seeds`` not an int.
        ValueError: ``ns`` empty or 2-D, a size outside ``1 <= n < num_modes``,
            ``num_seeds < 2``, or the memory or work estimate of the largest
            point / of all points together exceeds ``max_bytes`` / ``max_work``
            (checked before any fit runs).

    Example:
        >>> import jax
        >>> curve = simulate_learning_curve(
        ...     jax.random.key(0), Config(num_modes=512), [16, 64], num_seeds=64)
        >>> bool(abs(curve.test_mse[1] / curve.theory[1] - 1) < 0.1)
        True
    """
    check_key(key)
    _check_config(cfg)
    check_int("num_seeds", num_seeds, minimum=2)
    if isinstance(ns, (str, bytes)) or not hasattr(ns, "__len__"):
        raise TypeError(f"ns must be a sequence of ints, got ns={ns!r}")
    if np.ndim(ns) != 1 or len(ns) == 0:
        raise ValueError(
            f"ns must be a non-empty 1-D sequence of sizes, got shape {np.shape(ns)}"
        )
    for i, n in enumerate(ns):
        check_int(f"ns[{i}]", n, minimum=1, maximum=cfg.num_modes - 1)
    configs = [cfg.replace(n=int(n)) for n in ns]
    check_budget_arg("max_work", max_work)
    for c in configs:  # memory: one point at a time
        _check_krr_budget(c, num_seeds, max_bytes, math.inf)
    total = sum(_krr_cost(c.n, c.num_modes, num_seeds)[1] for c in configs)
    check_work(
        f"{len(ns)} points of {num_seeds} kernel ridge regression fits up to "
        f"n={max(ns)} with num_modes={cfg.num_modes}",
        total,
        "use fewer seeds, smaller sizes or fewer modes, or raise the limit",
        max_work,
    )
    rows = []
    for n, c in zip(ns, configs, strict=True):
        fits = trials(key, c, num_seeds, max_bytes=max_bytes, max_work=math.inf)
        e = np.asarray(fits.test_mse)
        ell, ell_sem = measured_learnabilities(fits.coeffs, c)
        p = predict(c)
        rows.append(
            (int(n), e.mean(), e.std(ddof=1) / np.sqrt(e.size), p.test_mse)
            + (ell, ell_sem, p.learnabilities)
        )
    return LearningCurve(*(np.array(col) for col in zip(*rows, strict=True)))


# --------------------------------------------------------------------------------------
# Live re-solves (the Chapter 1.2 explorer)
# --------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(1, 2))
def _features(keys, n, num_modes):
    """The features and unit label noise that :func:`trials` draws from ``keys``:
    ``phi`` ``(seeds, n, num_modes)`` and ``xi`` ``(seeds, n)``, float64 (the same
    float32 draws as :func:`_draw`, cast)."""

    def one(key):
        k_x, k_noise = jax.random.split(key)
        phi32 = jax.random.normal(k_x, (n, num_modes), jnp.float32)
        xi32 = jax.random.normal(k_noise, (n,), jnp.float32)
        return phi32.astype(jnp.float64), xi32.astype(jnp.float64)

    return jax.vmap(one)(keys)


@jax.jit
def _grams(phi, lam):
    """Each trial's Gram matrix ``phi diag(lam) phi^T``, ``(seeds, n, n)``."""
    return jnp.einsum("snm,m,skm->snk", phi, lam, phi)


@jax.jit
def _cholesky(gram, ridge):
    """Cholesky factors of ``gram + ridge I`` (as :func:`_fit`'s solve)."""
    eye = jnp.eye(gram.shape[-1], dtype=gram.dtype)
    return jax.vmap(lambda g: jax.scipy.linalg.cho_factor(g + ridge * eye)[0])(gram)


@jax.jit
def _resolve(phi, xi, chol, lam, v, noise):
    """KRR fits of every trial from its Cholesky factor: ``a = (K + ridge I)^-1 y``
    with ``y = phi v + noise xi``; returns ``(test_mse (seeds,), coeffs (seeds,
    num_modes))`` as :func:`_fit`."""
    y = phi @ v + noise * xi
    a = jax.vmap(lambda c, b: jax.scipy.linalg.cho_solve((c, False), b))(chol, y)
    coeffs = lam * jnp.einsum("snm,sn->sm", phi, a)
    test_mse = jnp.sum((coeffs - v) ** 2, axis=-1) + noise**2
    return test_mse, coeffs


class _LiveLearningCurve:
    """:func:`simulate_learning_curve` for one key, sizes and seeds, re-solved
    only as far as a move of a dynamic field needs (the Chapter 1.2 explorer).

    The features of every trial depend on the key and ``n`` alone, so they are
    drawn once per ``n``; the Gram matrices depend on ``alpha`` too and are kept
    per ``alpha``; their Cholesky factors (of ``K + ridge I``) are kept per
    ``(alpha, ridge)``. A move of ``noise`` or ``r`` then costs two triangular
    solves and two matrix-vector products per trial, a move of ``ridge`` one
    Cholesky factorisation per trial, and only a move of ``alpha`` new Gram
    matrices. (One eigendecomposition per Gram matrix would make ridge moves
    free, but measured here it costs 5-8x a Cholesky factorisation, and alpha
    moves set the worst case.) Same draws as :func:`trials` (same keys) and
    the same solve, so ``curve(cfg)`` equals ``simulate_learning_curve(key,
    cfg, ns, num_seeds)`` up to float64 rounding (tested). LAPACK runs on one
    BLAS thread (:func:`_one_blas_thread`).

    Args:
        key: PRNG key (the same key is used at every ``n``, as
            :func:`simulate_learning_curve`).
        num_modes: number of kernel modes (static).
        ns: sample sizes, ints with ``1 <= n < num_modes``.
        num_seeds: trials per size, int >= 2.
        max_cached: the most ``alpha`` values (Gram matrices) and ``(alpha,
            ridge)`` pairs (Cholesky factors) kept.
    """

    def __init__(self, key, num_modes, ns, num_seeds, max_cached=8):
        check_key(key)
        check_int("num_seeds", num_seeds, minimum=2)
        check_int("max_cached", max_cached, minimum=1)
        base = Config(n=1, num_modes=num_modes)  # validates num_modes
        configs = [base.replace(n=n) for n in ns]  # validates each n
        for c in configs:  # memory of the features, Gram matrices and factors
            _check_krr_budget(c, num_seeds, None, math.inf)
        self.ns = tuple(int(n) for n in ns)
        self.num_modes = int(num_modes)
        self.num_seeds = int(num_seeds)
        self._keys = jax.random.split(key, num_seeds)
        self._features = {}
        self._grams = functools.lru_cache(maxsize=max_cached)(self._grams_of)
        self._factors = functools.lru_cache(maxsize=max_cached)(self._factors_of)

    def _features_of(self, n):
        if n not in self._features:
            with enable_x64(True):
                self._features[n] = _features(self._keys, n, self.num_modes)
        return self._features[n]

    def _grams_of(self, alpha):
        lam, _ = spectrum(Config(n=1, num_modes=self.num_modes, alpha=alpha))
        with enable_x64(True):
            return [_grams(self._features_of(n)[0], lam) for n in self.ns]

    def _factors_of(self, alpha, ridge):
        with enable_x64(True), _one_blas_thread():
            # block inside: JAX dispatches asynchronously
            return jax.block_until_ready(
                [_cholesky(g, ridge) for g in self._grams(alpha)]
            )

    def curve(self, cfg: Config) -> LearningCurve:
        """The :class:`LearningCurve` of ``cfg`` (its ``n`` is ignored; its
        ``num_modes`` must match)."""
        _check_config(cfg)
        if cfg.num_modes != self.num_modes:
            raise ValueError(
                f"cfg.num_modes must be {self.num_modes}, got {cfg.num_modes}"
            )
        lam, v = spectrum(cfg)
        factors = self._factors(float(cfg.alpha), float(cfg.ridge))
        noise = float(cfg.noise)
        with enable_x64(True), _one_blas_thread():
            fits = jax.block_until_ready(
                [
                    _resolve(*self._features_of(n), chol, lam, v, noise)
                    for n, chol in zip(self.ns, factors, strict=True)
                ]
            )
        rows = []
        for n, (test_mse, coeffs) in zip(self.ns, fits, strict=True):
            c = cfg.replace(n=n)
            e = np.asarray(test_mse)
            ratio = np.asarray(coeffs) / v
            p = predict(c)
            rows.append(
                (n, e.mean(), e.std(ddof=1) / np.sqrt(e.size), p.test_mse)
                + (ratio.mean(0), ratio.std(0, ddof=1) / np.sqrt(e.size))
                + (p.learnabilities,)
            )
        return LearningCurve(*(np.array(col) for col in zip(*rows, strict=True)))
