"""Signal propagation: the length and correlation maps of mean-field theory (order
and chaos), their iteration layer by layer and the stable correlation.
Re-exported by :mod:`lm_sims.kernels`."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from lm_sims._compat import enable_x64
from lm_sims._config import as_float64_numpy, check_int, check_real
from lm_sims._dual_kernels import _as_config, _diag_recursion, _dual, _dual_diag, _f64

#: Deepest network :func:`signal_propagation_theory` iterates (one Python step per
#: layer; the maps have long converged by then).
MAX_DEPTH = 10_000


@functools.partial(jax.jit, static_argnames=("activation",))
def _correlation_map(c, q, sigma_w2, sigma_b2, *, activation):
    e, _ = _dual(activation, q, q, q * c, need_dot=False)
    q_next = sigma_w2 * _dual_diag(activation, q) + sigma_b2
    return (sigma_w2 * e + sigma_b2) / q_next


def length_map(q: Float[ArrayLike, " *shape"], cfg: Any) -> Float[Array, " *shape"]:
    """Length map: pre-activation variance of layer l+1 from that of layer l.

    .. math::

        q_{l+1} = \\sigma_w^2\\, \\mathbb E_{z\\sim N(0,1)}[\\phi(\\sqrt{q_l} z)^2]
        + \\sigma_b^2

    Args:
        q: variance(s) q_l >= 0, any shape.
        cfg: a kernel config (only activation, sigma_w2, sigma_b2 are used).

    Returns:
        NumPy float64 array q_{l+1}, same shape as q (float64 whatever JAX's
        precision mode).

    Raises:
        ValueError: q has NaN, inf or negative entries.
        TypeError: q is not real numbers (None, strings, complex, booleans), or
            cfg lacks a kernel field.

    References:
        Poole et al., "Exponential expressivity in deep neural networks through
        transient chaos", 2016, arXiv:1606.05340.
    """
    cfg = _as_config(cfg)
    q = as_float64_numpy("q", q)
    if np.any(q < 0):
        raise ValueError(
            f"q must be variances >= 0, got q with minimum {float(q.min()):g}"
        )
    return _length_map(q, cfg)


def _length_map(q, cfg):
    """:func:`length_map` without the checks (q may be inf: deep layers of an
    unbounded ReLU or linear network)."""
    with enable_x64(True):
        sw2, sb2 = _f64(cfg.sigma_w2), _f64(cfg.sigma_b2)
        q = _diag_recursion(_f64(q), sw2, sb2, activation=cfg.activation, depth=1)
        return np.asarray(q)


def length_fixed_point(cfg: Any) -> float:
    """Fixed point q* of :func:`length_map` reached from any positive input length.

    ReLU and linear networks have ``q* = sigma_b2 / (1 - sigma_w2 / s)`` (s = 2 for
    ReLU, 1 for linear) when ``sigma_w2 < s`` and ``q* = inf`` otherwise (lengths grow
    without bound; at ``sigma_w2 = s, sigma_b2 = 0`` every length is preserved and inf
    is returned too: the correlation map is then the same for every q). For erf the
    map is concave and bounded, and q* is its largest root, found by bisection
    (``q* = 0`` for ``sigma_b2 = 0, sigma_w2 <= pi/4``).

    Args:
        cfg: a kernel config.

    Returns:
        q* as a Python float (possibly inf).
    """
    cfg = _as_config(cfg)
    sw2, sb2 = float(cfg.sigma_w2), float(cfg.sigma_b2)
    if cfg.activation in ("relu", "linear"):
        slope = sw2 / 2.0 if cfg.activation == "relu" else sw2
        return sb2 / (1.0 - slope) if slope < 1.0 else math.inf
    # erf: g(q) = map(q) - q is concave with g(0) = sb2 >= 0 and g(hi) < 0.
    lo, hi = 0.0, sw2 + sb2 + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        g = sw2 * (2 / math.pi) * math.asin(2 * mid / (1 + 2 * mid)) + sb2 - mid
        lo, hi = (mid, hi) if g > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def _check_q(cfg, q) -> float:
    """The variance ``q`` of :func:`correlation_map` and :func:`chi` as a float:
    None means the fixed point q*; otherwise a real number >= 0 or +inf (ReLU and
    linear only), else TypeError / ValueError naming q."""
    if q is None:
        return length_fixed_point(cfg)
    if isinstance(q, numbers.Real) and not isinstance(q, bool) and q == math.inf:
        if cfg.activation == "erf":
            raise ValueError(f"q must be finite for erf, got q={q}")
        return math.inf
    check_real("q", q, nonnegative=True)
    return float(q)


def _resolve_q(cfg, q):
    """(q, sigma_b2, activation) at which to evaluate the correlation map.

    None means the fixed point q*. Limits replace the degenerate cases: ReLU and
    linear maps are scale invariant, so q -> inf is the sigma_b2 = 0 map at q = 1; at
    q = 0 (only with sigma_b2 = 0) erf acts as its linearisation and ReLU as at q = 1.
    """
    q = _check_q(cfg, q)
    if math.isinf(q):
        if cfg.activation == "erf":
            raise ValueError(f"q must be finite for erf, got q={q}")
        return 1.0, 0.0, cfg.activation
    if q == 0 and float(cfg.sigma_b2) == 0:
        return 1.0, 0.0, ("linear" if cfg.activation == "erf" else cfg.activation)
    return q, cfg.sigma_b2, cfg.activation


def correlation_map(
    c: Float[ArrayLike, " *shape"], cfg: Any, q: float | None = None
) -> Float[Array, " *shape"]:
    """Correlation map c_l -> c_{l+1} of two inputs with equal lengths q.

    .. math:: c_{l+1} = \\frac{\\sigma_w^2 \\mathbb E[\\phi(u)\\phi(v)] + \\sigma_b^2}
        {q_{l+1}},\\quad (u, v) \\sim N\\left(0, q \\begin{pmatrix} 1 & c \\\\ c & 1
        \\end{pmatrix}\\right)

    with ``q_{l+1} = length_map(q)``. At a finite, nonzero fixed point q* its
    slope at c = 1 is :func:`chi`: c = 1 is stable (ordered phase) if chi < 1 and
    unstable (chaotic phase) if chi > 1. (ReLU without bias: the map is the same
    for every q, with slope 1 at c = 1 whatever chi; see :func:`chi`.)

    Args:
        c: correlations in [-1, 1], any shape.
        cfg: a kernel config.
        q: the common pre-activation variance; None (default) uses the fixed point
            :func:`length_fixed_point`. For ReLU and linear networks whose q* is
            infinite, the q -> inf limit (the map with sigma_b2 = 0) is used.

    Returns:
        NumPy float64 array c_{l+1}, same shape as c (float64 whatever JAX's
        precision mode).

    Raises:
        ValueError: c has NaN or inf entries; q is negative, NaN, or infinite for
            erf.
        TypeError: c is not real numbers, q is not a real number or None, or cfg
            lacks a kernel field.

    References:
        Poole et al., 2016, arXiv:1606.05340.
    """
    cfg = _as_config(cfg)
    c = as_float64_numpy("c", c)
    return _correlation_map_checked(c, cfg, q)


def _correlation_map_checked(c, cfg, q):
    """:func:`correlation_map` on a float64 array ``c`` already checked."""
    q, sb2, activation = _resolve_q(cfg, q)
    with enable_x64(True):
        c = jnp.clip(_f64(c), -1.0, 1.0)
        return np.asarray(
            _correlation_map(
                c, _f64(q), _f64(cfg.sigma_w2), _f64(sb2), activation=activation
            )
        )


def chi(cfg: Any, q: float | None = None) -> float:
    """The per-layer gain chi_1 of small perturbations: order (< 1) vs chaos (> 1).

    .. math:: \\chi_1 = \\sigma_w^2\\, \\mathbb E_{z\\sim N(0,1)}[\\phi'(\\sqrt{q}z)^2]

    The squared size of a small perturbation of the input, and of a gradient in
    backpropagation, is multiplied by chi_1 at each layer. At a finite, nonzero
    fixed point ``q = q*`` it is also the slope of :func:`correlation_map` at
    c = 1 (Poole et al.). Otherwise it is not: for ReLU without bias, whose q* is 0
    or infinite unless sigma_w2 = 2, the map of normalised correlations is the
    same for every q and sigma_w2 and has slope 1 at c = 1, while chi_1 =
    sigma_w2 / 2 (the lengths, not the correlations, grow or shrink). ReLU:
    ``sigma_w2 / 2`` for every q (critical at He init, sigma_w2 = 2); erf:
    ``sigma_w2 (4/pi) / sqrt(1 + 4 q)``; linear: ``sigma_w2``.

    Args:
        cfg: a kernel config.
        q: pre-activation variance; None (default) uses the fixed point q*.

    Returns:
        chi_1 as a Python float.

    Raises:
        ValueError: q is negative, NaN, or infinite for erf.
        TypeError: q is not a real number or None, or cfg lacks a kernel field.

    References:
        Poole et al., 2016, arXiv:1606.05340; Schoenholz et al., "Deep information
        propagation", 2017, arXiv:1611.01232.
    """
    cfg = _as_config(cfg)
    q = _check_q(cfg, q)
    if math.isinf(q):  # q-independent for ReLU and linear
        q = 1.0
    slope = {
        "relu": 0.5,
        "erf": (4.0 / math.pi) / math.sqrt(1.0 + 4.0 * q),
        "linear": 1.0,
    }[cfg.activation]  # E[phi'(u)^2], u ~ N(0, q): cheap scalar, plain Python
    return float(cfg.sigma_w2) * slope


def signal_propagation_theory(
    c0: Float[ArrayLike, " k"], cfg: Any, depth: int
) -> tuple[Float[np.ndarray, " depth"], Float[np.ndarray, "depth k"]]:
    """Length and correlation of pre-activations, layer by layer, at infinite width.

    For inputs with ``|x|^2 = d`` (:func:`circle`) and cosines ``c0`` between them,
    hidden layer 1 has ``q_1 = sigma_w2 + sigma_b2`` and
    ``c_1 = (sigma_w2 c0 + sigma_b2) / q_1``; then ``q_{l+1} = length_map(q_l)`` and
    ``c_{l+1} = correlation_map(c_l, q=q_l)`` (:func:`length_map`,
    :func:`correlation_map`). These are the diagonal and the normalised
    off-diagonal entries of the NNGP Gram matrix of a network with ``l - 1`` hidden
    layers, and what a wide random network's pre-activations follow
    (:func:`preactivations`).

    Args:
        c0: input cosines in [-1, 1], shape (k,).
        cfg: a kernel config (activation, sigma_w2, sigma_b2 are used).
        depth: number of hidden layers (int >= 1); L = depth + 1 weight matrices.

    Returns:
        ``(q, c)``: float64 NumPy arrays of shapes (L,) and (L, k), layer 1 first.

    Raises:
        ValueError: depth < 1 or > ``MAX_DEPTH`` (10,000), or c0 not 1-D, empty,
            not finite or outside [-1, 1].
        TypeError: depth is not an integer, c0 is not real numbers, or cfg lacks
            a kernel field.

    References:
        Poole et al., "Exponential expressivity in deep neural networks through
        transient chaos", 2016, arXiv:1606.05340.

    Example:
        >>> from lm_sims import kernels
        >>> cfg = kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3)
        >>> q, c = kernels.signal_propagation_theory([0.2, 0.9], cfg, depth=3)
        >>> q.shape, c.shape
        ((3,), (3, 2))
    """
    cfg = _as_config(cfg)
    check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    c0 = as_float64_numpy("c0", c0, finite=False)  # TypeError: None, strings, ...
    if c0.ndim != 1:
        raise ValueError(
            f"c0 must be a 1-D array of cosines, shape (k,), got c0 of shape {c0.shape}"
        )
    if not c0.size:
        raise ValueError("c0 must hold at least one cosine, got none")
    if not np.all(np.isfinite(c0)) or np.any(np.abs(c0) > 1):
        raise ValueError(f"c0 must be cosines in [-1, 1], got c0={c0}")
    sw2, sb2 = float(cfg.sigma_w2), float(cfg.sigma_b2)
    q = sw2 + sb2
    c = (sw2 * c0 + sb2) / q
    qs, cs = [q], [c]
    for _ in range(depth - 1):
        c = np.asarray(_correlation_map_checked(c, cfg, q))
        q = float(_length_map(np.float64(q), cfg))
        qs.append(q)
        cs.append(c)
    return np.array(qs), np.stack(cs)


def stable_correlation(cfg: Any) -> float:
    """Correlation c* that deep layers reach: the stable fixed point of
    :func:`correlation_map` at the fixed length q*.

    1 in the ordered phase (``chi_1 <= 1``, :func:`chi`); in the chaotic phase
    (``chi_1 > 1``) the largest root below 1 of ``correlation_map(c) = c``, located
    on a grid of 4,001 points and refined on a second grid (accuracy ~1e-6).

    Args:
        cfg: a kernel config whose fixed length q* is finite
            (:func:`length_fixed_point`).

    Returns:
        c* as a Python float.

    Raises:
        ValueError: q* is infinite (ReLU or linear with ``sigma_w2`` at or above
            its critical value): lengths grow without bound and no fixed point
            exists.

    References:
        Poole et al., 2016, arXiv:1606.05340; Schoenholz et al., "Deep information
        propagation", 2017, arXiv:1611.01232.

    Example:
        >>> from lm_sims import kernels
        >>> cfg = kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3)
        >>> round(kernels.stable_correlation(cfg), 3)
        0.445
    """
    cfg = _as_config(cfg)
    if math.isinf(length_fixed_point(cfg)):
        raise ValueError(
            "stable_correlation needs a finite fixed length q*; lengths grow without "
            f"bound for activation={cfg.activation!r}, sigma_w2={cfg.sigma_w2}"
        )
    if chi(cfg) <= 1:
        return 1.0
    lo, hi = -1.0, 1.0
    for _ in range(2):
        c = np.linspace(lo, hi, 4001)
        g = np.asarray(correlation_map(c, cfg)) - c
        # g < 0 on (c*, 1) where c = 1 repels; c* is the last sign change before
        sign_change = np.flatnonzero((g[:-2] >= 0) & (g[1:-1] < 0))
        if not sign_change.size:  # no root below 1 on this grid: c = 1 it is
            return 1.0
        i = sign_change[-1]
        lo, hi = float(c[i]), float(c[i + 1])
    return lo + (hi - lo) * float(g[i] / (g[i] - g[i + 1]))
