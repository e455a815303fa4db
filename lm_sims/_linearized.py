"""Closed-form training dynamics of a linearised network. Re-exported by
:mod:`lm_sims.kernels`.

Also the one place where a closed-form theory of discrete-time gradient descent
decides that it diverges (:func:`divergence`), shared by
:func:`predict_linearized`, :func:`lm_sims.mlp.predict_ntk` and
:func:`lm_sims.lazy_rich.predict_lazy`: a mode with ``|1 - a_i| > 1`` grows, and
the prediction stops at the first step whose predicted loss leaves the range a
simulation accepts (:func:`lm_sims.training.divergence_limit`)."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Bool, Float

from lm_sims._compat import enable_x64
from lm_sims._config import as_float64_numpy, check_real, diverged_flag
from lm_sims._dual_kernels import _f64
from lm_sims.training import divergence_limit

# a gap between the two bounds of the first diverging step wider than this is
# bisected instead of scanned (it needs |1 - a| within ~1e-12 of 1)
_SCAN_LIMIT = 4096


def _loss_at(steps, factors, weights):
    """sum_i weights_i factors_i^(2 steps) for integer steps (*S,), in log space
    for the growing modes (no overflow: inf only past ~1e308)."""
    s = np.asarray(steps, np.float64)[..., None]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        terms = np.where(
            weights > 0,
            np.exp(
                np.log(np.where(weights > 0, weights, 1.0))
                + 2 * s * np.log(np.maximum(np.abs(factors), 1e-300))
            ),
            0.0,
        )
    return terms.sum(-1)


def divergence(
    factors: Float[ArrayLike, " modes"],
    weights: Float[ArrayLike, " modes"],
    max_step: int,
    loss_scale: float = 1.0,
) -> tuple[Bool[np.ndarray, " modes"], int]:
    """Which modes of a linear gradient-descent recursion diverge, and from when.

    A closed-form theory of gradient descent on a quadratic loss evolves mode i as
    ``c_i(k) = g_i^k c_i(0)`` with growth factor ``g_i = 1 - a_i`` (``a_i`` the step
    size times the mode's curvature), so its loss after k steps is
    ``L(k) = sum_i w_i g_i^(2k)`` with ``w_i`` the mode's share of ``L(0)``. Mode i
    diverges when ``|g_i| > 1``. The prediction is declared diverged at the first
    step k with ``L(k) > divergence_limit(L(0), loss_scale)`` (or a non-finite
    ``L(k)``), the criterion :func:`lm_sims.training.run` applies to a simulated
    run (:func:`lm_sims.training.divergence_limit`); steps from there on must not
    be plotted.

    Args:
        factors: growth factors ``g_i = 1 - a_i`` per mode, shape (modes,).
        weights: loss weights ``w_i >= 0`` (``L(0) = sum w_i``), shape (modes,).
        max_step: last step of the run (int >= 0): a crossing after it is not
            reported (as a simulation of ``max_step`` steps would not see it).
        loss_scale: the loss of a trivial predictor in the loss's units (> 0), as
            given to :func:`lm_sims.training.run`.

    Returns:
        ``(unstable, diverged_step)``: a bool array ``|g_i| > 1`` of shape (modes,),
        and the first step (int, in steps) whose loss exceeds the limit, or -1.
    """
    g = np.asarray(factors, np.float64)
    w = np.asarray(weights, np.float64)
    unstable = np.abs(g) > 1.0
    if not np.any(unstable & (w > 0)) or max_step < 1:
        return unstable, -1
    limit = float(divergence_limit(float(w.sum()), float(loss_scale)))
    grow = unstable & (w > 0)

    def first(threshold):
        """First k in [0, max_step] with the growing part > threshold, or None
        (the growing part rises monotonically in k)."""
        if _loss_at(max_step, g[grow], w[grow]) <= threshold:
            return None
        lo, hi = -1, int(max_step)  # part(lo) <= threshold < part(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _loss_at(mid, g[grow], w[grow]) > threshold:
                hi = mid
            else:
                lo = mid
        return hi

    # the stable part never exceeds L(0): L(k) > limit needs the growing part above
    # limit - (stable part at 0), and the growing part above limit suffices
    k_hi = first(limit)
    k_lo = first(limit - float(w[~grow].sum()))
    if k_lo is None:
        return unstable, -1
    k_hi = int(max_step) if k_hi is None else k_hi
    if k_hi - k_lo > _SCAN_LIMIT:  # pragma: no cover - |g| within 1e-12 of 1
        return unstable, k_hi
    ks = np.arange(k_lo, k_hi + 1)
    loss = _loss_at(ks, g, w)
    over = np.flatnonzero(~(loss <= limit))  # NaN or inf count as over
    return unstable, (int(ks[over[0]]) if over.size else -1)


class LinearizedPrediction(NamedTuple):
    """Outputs of the linearised network under gradient flow or descent.

    Attributes:
        f_train: outputs on the training inputs, shape (T, P, k) ((P, k) for scalar
            t; k dropped if y_train was 1-D), a NumPy float64 array whatever
            JAX's precision mode (exact in NumPy, and usable by jnp code in either
            mode without warnings). NaN at the times whose step
            is ``>= diverged_step`` (do not plot them).
        f_test: outputs on the test inputs, shape (T, n_test, k), or None; NaN
            where ``f_train`` is.
        eigenvalues: eigenvalues ``lambda_i`` of ``ntk_train``, descending, shape
            (P,), float64; those below ``P * eps * lambda_max`` (numerically zero)
            are 0.
        unstable_modes: bool, shape (P,): ``|1 - lr lambda_i / P| > 1``, the modes
            gradient descent amplifies (all False under gradient flow).
        diverged_step: the first step (in steps of size lr, an int) at which the
            predicted training loss ``L = 1/(2P) sum |y - f|^2`` exceeds
            ``lm_sims.training.divergence_limit(L_0, loss_scale)`` with
            ``loss_scale = 1/(2P) sum |y|^2``, the loss of f = 0 (1 if y = 0):
            the criterion of a simulated run, :func:`lm_sims.mlp.train`'s; if
            that step is at most the largest requested
            ``t / lr``; else -1 (always -1 under gradient flow).
    """

    f_train: Float[np.ndarray, "*T P *k"]
    f_test: Float[np.ndarray, "*T n_test *k"] | None
    eigenvalues: Float[np.ndarray, " P"] | None = None
    unstable_modes: Bool[np.ndarray, " P"] | None = None
    diverged_step: int = -1

    @property
    def diverged(self) -> bool:
        """True if the prediction diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


def _float_eps(value, theta) -> float:
    """Machine epsilon of the precision ``value`` was computed in: its own for a
    float array of <= 32 bits; float32's for float64 entries that are all exactly
    float32 numbers (a float32 kernel cast to float64, e.g. ``np.asarray(K,
    np.float64)`` of an empirical NTK); else float64's."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and np.issubdtype(dtype, np.floating):
        if np.dtype(dtype).itemsize < 8:
            return float(np.finfo(dtype).eps)
    if np.array_equal(theta.astype(np.float32).astype(np.float64), theta):
        return float(np.finfo(np.float32).eps)
    return float(np.finfo(np.float64).eps)


def _check_kernel(name, raw, theta):
    """Symmetric and positive semi-definite up to the rounding of raw's dtype."""
    eps = _float_eps(raw, theta)
    num = theta.shape[0]
    scale = float(np.max(np.abs(theta))) if theta.size else 0.0
    asym = float(np.max(np.abs(theta - theta.T))) if theta.size else 0.0
    tol = np.sqrt(eps)  # half the digits of the input's precision
    if asym > tol * scale:
        raise ValueError(
            f"{name} must be symmetric (a kernel Theta(X, X)); got max |K - K^T| = "
            f"{asym:.3g}, relative {asym / scale:.3g} > tolerance {tol:.3g} "
            "(sqrt of the epsilon of the precision it was computed in)"
        )
    lam = np.linalg.eigvalsh(0.5 * (theta + theta.T))
    tol_psd = max(tol, 10 * num * eps)
    if lam.size and lam[0] < -tol_psd * max(float(lam[-1]), 0.0):
        raise ValueError(
            f"{name} must be positive semi-definite (a kernel Theta(X, X)); its "
            f"most negative eigenvalue is {lam[0]:.3g} against the largest "
            f"{lam[-1]:.3g} (allowed down to -{tol_psd:.3g} x largest, set by the "
            "precision it was computed in)"
        )


def predict_linearized(
    ntk_train: Float[ArrayLike, "P P"],
    y_train: Float[ArrayLike, " P *k"],
    t: Float[ArrayLike, "*T"],
    *,
    ntk_test_train: Float[ArrayLike, "n_test P"] | None = None,
    f0_train: Float[ArrayLike, " P *k"] | None = None,
    f0_test: Float[ArrayLike, " n_test *k"] | None = None,
    lr: float | None = None,
) -> LinearizedPrediction:
    """Closed-form outputs of a linearised network trained on the mean squared error.

    The loss is ``L = 1/(2P) sum_i |y_i - f(x_i)|^2`` over the P training points, so
    gradient flow in ``t = lr * steps`` gives ``df(X)/dt = -(1/P) Theta (f(X) - y)``
    with ``Theta = Theta(X, X)`` and, on test inputs X*,

    .. math::

        f_t(X) = f_0(X) + (I - e^{-\\Theta t/P}) (y - f_0(X)),\\qquad
        f_t(X^*) = f_0(X^*) + \\Theta(X^*, X)\\, \\Theta^{-1}
            (I - e^{-\\Theta t / P}) (y - f_0(X)).

    Gradient descent with step ``lr`` for ``steps = t / lr`` steps replaces
    ``exp(-Theta t/P)`` by ``(I - lr Theta / P)^steps`` (exact for the linearised
    model). Eigenmode i of ``Theta = V diag(lambda) V^T`` is multiplied by
    ``1 - lr lambda_i / P`` per step, so it diverges if
    ``|1 - lr lambda_i / P| > 1``, i.e. ``lr lambda_i / P > 2``
    (``unstable_modes``). A diverging prediction is a result, as for a simulated
    run: ``diverged_step`` is the first step whose predicted loss leaves the range
    of :func:`lm_sims.training.divergence_limit` and the outputs from that step on
    are NaN. Computed in float64 from the eigendecomposition;
    ``Theta^{-1}(I - e^{-Theta t/P})`` is evaluated per eigenvalue as
    ``-expm1(-lambda t/P) / lambda`` (-> t/P for lambda -> 0), so a singular Theta is
    fine.

    Args:
        ntk_train: Theta(X, X), shape (P, P), finite, symmetric and positive
            semi-definite up to rounding: ``max |K - K^T| <= sqrt(eps) max |K|``
            and ``lambda_min >= -max(sqrt(eps), 10 P eps) lambda_max``, with eps
            the machine epsilon of the precision it was computed in: its dtype's,
            float32's for float64 entries that are all float32 numbers (a float32
            kernel cast to float64), else float64's.
        y_train: targets, shape (P,) or (P, k).
        t: time(s) lr * steps (>= 0), scalar or shape (T,).
        ntk_test_train: Theta(X*, X), shape (n_test, P), or None for no test outputs.
        f0_train: outputs at initialisation on X, shape of y_train (default 0: the
            mean over initialisations of an infinitely wide network).
        f0_test: outputs at initialisation on X*, shape (n_test,) or (n_test, k)
            (default 0); needs ``ntk_test_train``.
        lr: None for gradient flow; a learning rate for gradient descent, in which
            case every t must be a whole multiple of lr.

    Returns:
        :class:`LinearizedPrediction`: outputs (NumPy float64 whatever JAX's
        precision mode, leading axis T if t is 1-D; NaN from ``diverged_step``
        on), the eigenvalues of Theta, the
        unstable modes and ``diverged_step`` (steps; -1 if none).

    Raises:
        ValueError: shapes do not match, NaN or inf in any array, t < 0, lr <= 0,
            t / lr is not an integer, ``ntk_train`` not symmetric or not positive
            semi-definite (the message gives the asymmetry or the most negative
            eigenvalue), or ``f0_test`` without ``ntk_test_train``.
        TypeError: an array argument is None, a string or booleans.

    References:
        Lee et al., "Wide neural networks of any depth evolve as linear models under
        gradient descent", 2019, arXiv:1902.06720.

    Example:
        >>> import numpy as np
        >>> from lm_sims import kernels
        >>> K = np.array([[1.0, 0.5], [0.5, 1.0]])
        >>> out = kernels.predict_linearized(K, np.array([1.0, -1.0]), [0.0, 1e3])
        >>> np.round(np.asarray(out.f_train[-1]), 6).tolist()
        [1.0, -1.0]
        >>> # lr lambda_max / P = 3 * 1.5 / 2 > 2: the top mode diverges
        >>> bad = kernels.predict_linearized(K, [1.0, 0.0], [0.0, 30.0, 150.0], lr=3.0)
        >>> bad.eigenvalues.tolist(), bad.unstable_modes.tolist(), bad.diverged_step
        ([1.5, 0.5], [True, False], 19)
        >>> np.isnan(bad.f_train[:, 0]).tolist()  # from step 19 on: NaN
        [False, False, True]
    """
    theta = as_float64_numpy("ntk_train", ntk_train)
    y = as_float64_numpy("y_train", y_train)
    num = theta.shape[0] if theta.ndim == 2 else -1
    if theta.ndim != 2 or theta.shape != (num, num) or num < 1:
        raise ValueError(f"ntk_train must be square (P, P), got shape {theta.shape}")
    if y.shape[:1] != (num,) or y.ndim > 2:
        raise ValueError(
            f"y_train must have shape (P,) or (P, k) with P={num}, got {y.shape}"
        )
    t_arr = as_float64_numpy("t", t, finite=False)
    if t_arr.ndim > 1 or np.any(t_arr < 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError(f"t must be a scalar or 1-D array of times >= 0, got t={t}")
    steps = None
    if lr is not None:
        check_real("lr", lr, positive=True)
        steps = np.rint(t_arr / lr)
        if np.any(np.abs(steps * lr - t_arr) > 1e-6 * np.maximum(t_arr, lr)):
            raise ValueError(
                f"with lr={lr}, every t must be lr * (whole number of steps); got t={t}"
            )
    f0 = (
        np.zeros_like(y) if f0_train is None else as_float64_numpy("f0_train", f0_train)
    )
    if f0.shape != y.shape:
        raise ValueError(
            f"f0_train must have the shape of y_train {y.shape}, got {f0.shape}"
        )
    theta_star = f0_star = None
    if ntk_test_train is not None:
        theta_star = as_float64_numpy("ntk_test_train", ntk_test_train)
        if theta_star.ndim != 2 or theta_star.shape[1] != num:
            raise ValueError(
                f"ntk_test_train must have shape (n_test, P={num}), got "
                f"{theta_star.shape}"
            )
        shape = (theta_star.shape[0],) + y.shape[1:]
        f0_star = (
            np.zeros(shape) if f0_test is None else as_float64_numpy("f0_test", f0_test)
        )
        if f0_star.shape != shape:
            raise ValueError(f"f0_test must have shape {shape}, got {f0_star.shape}")
    elif f0_test is not None:
        raise ValueError(
            "f0_test was given without ntk_test_train: pass Theta(X*, X) as "
            "ntk_test_train to predict test outputs"
        )
    _check_kernel("ntk_train", ntk_train, theta)
    with enable_x64(True):
        # jnp arrays, not the NumPy objects themselves: see _f64
        args = (theta, y, f0, theta_star, f0_star, t_arr)
        args = [None if a is None else _f64(a) for a in args]
        f_train, f_test, lam, resid = _predict_linearized(
            *args, None if steps is None else _f64(lr)
        )
    # NumPy float64 (as the kernels return): exact in NumPy, and usable by jnp code
    # in either precision mode without warnings
    f_train = np.asarray(f_train)
    f_test = None if f_test is None else np.asarray(f_test)
    lam = np.asarray(lam)[::-1]  # descending
    resid = np.asarray(resid)[::-1]
    unstable = np.zeros(num, bool)
    diverged_step = -1
    if steps is not None:
        unstable, diverged_step = divergence(
            1.0 - float(lr) * lam / num,
            np.sum(resid**2, axis=1) / (2 * num),
            int(np.max(steps)) if steps.size else 0,
            # the loss of f = 0, the scale mlp.train gives its divergence limit
            _zero_loss(y),
        )
    if diverged_step >= 0:
        bad = steps >= diverged_step
        f_train = _mask_times(f_train, bad, y.ndim)
        if f_test is not None:
            f_test = _mask_times(f_test, bad, y.ndim)
    return LinearizedPrediction(f_train, f_test, lam, unstable, diverged_step)


def _zero_loss(y):
    """``1/(2P) sum |y|^2``, the loss of the zero predictor (1 if y = 0)."""
    value = 0.5 * float(np.sum(np.square(y))) / len(y)
    return value if value > 0 else 1.0


def _mask_times(f, bad, feature_dims):
    """NaN at the times (leading axes of f, the shape of t) where bad != 0."""
    return np.where(np.reshape(bad, bad.shape + (1,) * feature_dims), np.nan, f)


@jax.jit
def _predict_linearized(theta, y, f0, theta_star, f0_star, t, lr):
    num = theta.shape[0]
    lam, vec = jnp.linalg.eigh(0.5 * (theta + theta.T))
    tiny = num * jnp.finfo(jnp.float64).eps * jnp.max(jnp.abs(lam))
    zero = lam <= tiny
    lam_safe = jnp.where(zero, 1.0, lam)
    tt = jnp.asarray(t)[..., None]  # (*T, 1): broadcast against eigenvalues
    if lr is None:
        # (1 - exp(-lambda t / P)) / lambda, stable for small lambda t
        gain = -jnp.expm1(-lam_safe * tt / num) / lam_safe
    else:
        a = lr * lam_safe / num
        steps = jnp.rint(tt / lr)
        stable = a < 1.0
        power = jnp.where(  # (1 - a)^steps - 1, without cancellation for small a
            stable,
            jnp.expm1(steps * jnp.log1p(-jnp.where(stable, a, 0.0))),
            jnp.power(1.0 - a, steps) - 1.0,
        )
        gain = -power / lam_safe
    gain = jnp.where(zero, tt / num, gain)  # (*T, P)
    resid = vec.T @ (y - f0).reshape(num, -1)  # (P, k') in the eigenbasis
    coef = gain[..., :, None] * resid  # (*T, P, k')
    lam_used = jnp.where(zero, 0.0, lam)
    f_train = f0.reshape(num, -1) + vec @ (lam_used[:, None] * coef)
    f_train = f_train.reshape(tt.shape[:-1] + y.shape)
    if theta_star is None:
        return f_train, None, lam_used, resid
    f_test = f0_star.reshape(theta_star.shape[0], -1) + theta_star @ (vec @ coef)
    return f_train, f_test.reshape(tt.shape[:-1] + f0_star.shape), lam_used, resid
