"""Closed-form training dynamics of a linearised network. Re-exported by
:mod:`lm_sims.kernels`."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from lm_sims._config import check_real
from lm_sims._dual_kernels import _f64


class LinearizedPrediction(NamedTuple):
    """Outputs of the linearised network under gradient flow or descent.

    Attributes:
        f_train: outputs on the training inputs, shape (T, P, k) ((P, k) for scalar
            t; k dropped if y_train was 1-D).
        f_test: outputs on the test inputs, shape (T, n_test, k), or None.
    """

    f_train: Float[Array, "*T P *k"]
    f_test: Float[Array, "*T n_test *k"] | None


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
    model; it diverges if ``lr * lambda_max / P > 2``). Computed in float64 from the
    eigendecomposition ``Theta = V diag(lambda) V^T``;
    ``Theta^{-1}(I - e^{-Theta t/P})`` is evaluated per eigenvalue as
    ``-expm1(-lambda t/P) / lambda`` (-> t/P for lambda -> 0), so a singular Theta is
    fine.

    Args:
        ntk_train: Theta(X, X), shape (P, P), symmetric positive semi-definite.
        y_train: targets, shape (P,) or (P, k).
        t: time(s) lr * steps (>= 0), scalar or shape (T,).
        ntk_test_train: Theta(X*, X), shape (n_test, P), or None for no test outputs.
        f0_train: outputs at initialisation on X, shape of y_train (default 0: the
            mean over initialisations of an infinitely wide network).
        f0_test: outputs at initialisation on X*, shape (n_test,) or (n_test, k)
            (default 0).
        lr: None for gradient flow; a learning rate for gradient descent, in which
            case every t must be a whole multiple of lr.

    Returns:
        :class:`LinearizedPrediction` (float64), leading axis T if t is 1-D.

    Raises:
        ValueError: shapes do not match, t < 0, lr <= 0, or t / lr is not an integer.

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
    """
    theta = np.asarray(ntk_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    num = theta.shape[0] if theta.ndim == 2 else -1
    if theta.ndim != 2 or theta.shape != (num, num):
        raise ValueError(f"ntk_train must be square (P, P), got shape {theta.shape}")
    if y.shape[:1] != (num,) or y.ndim > 2:
        raise ValueError(
            f"y_train must have shape (P,) or (P, k) with P={num}, got {y.shape}"
        )
    t_arr = np.asarray(t, dtype=np.float64)
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
    f0 = np.zeros_like(y) if f0_train is None else np.asarray(f0_train, np.float64)
    if f0.shape != y.shape:
        raise ValueError(
            f"f0_train must have the shape of y_train {y.shape}, got {f0.shape}"
        )
    theta_star = f0_star = None
    if ntk_test_train is not None:
        theta_star = np.asarray(ntk_test_train, np.float64)
        if theta_star.ndim != 2 or theta_star.shape[1] != num:
            raise ValueError(
                f"ntk_test_train must have shape (n_test, P={num}), got "
                f"{theta_star.shape}"
            )
        shape = (theta_star.shape[0],) + y.shape[1:]
        f0_star = (
            np.zeros(shape) if f0_test is None else np.asarray(f0_test, np.float64)
        )
        if f0_star.shape != shape:
            raise ValueError(f"f0_test must have shape {shape}, got {f0_star.shape}")
    with jax.enable_x64(True):
        # jnp arrays, not the NumPy objects themselves: see _f64
        args = (theta, y, f0, theta_star, f0_star, t_arr)
        args = [None if a is None else _f64(a) for a in args]
        out = _predict_linearized(*args, None if steps is None else _f64(lr))
    return LinearizedPrediction(*out)


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
        return f_train, None
    f_test = f0_star.reshape(theta_star.shape[0], -1) + theta_star @ (vec @ coef)
    return f_train, f_test.reshape(tt.shape[:-1] + f0_star.shape)
