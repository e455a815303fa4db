"""Analytic NNGP and NTK kernels of deep fully connected networks (the dual
activations and the layer-by-layer recursions). Public names are re-exported by
:mod:`lm_sims.kernels`, whose docstring states the parameterisation."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from lm_sims._compat import enable_x64
from lm_sims._config import (
    as_float64_numpy,
    as_float_array,
    check_budget_arg,
    check_bytes,
    check_choice,
    check_int,
    check_points,
    check_real,
    check_work,
    config_dataclass,
)

ACTIVATIONS = ("relu", "erf", "linear")


@config_dataclass(static=("depth", "activation"))
class Config:
    """Architecture of an infinitely wide fully connected network.

    Any object with the attributes ``depth``, ``activation``, ``sigma_w2`` and
    ``sigma_b2`` (such as ``lm_sims.mlp.Config``) is accepted wherever a kernel config
    is, so a finite network and its limit share one config.

    Attributes:
        depth: number of hidden layers (int >= 1); the network has L = depth + 1 linear
            layers. Static.
        activation: "relu", "erf" or "linear". Static.
        sigma_w2: weight variance sigma_w^2 (> 0). 2.0 (the default) keeps the
            ReLU pre-activation length fixed across layers (He initialisation).
        sigma_b2: bias variance sigma_b^2 (>= 0).
    """

    depth: int = 1
    activation: str = "relu"
    sigma_w2: float = 2.0
    sigma_b2: float = 0.0

    def _validate(self):
        check_int("depth", self.depth, minimum=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_real("sigma_w2", self.sigma_w2, positive=True)
        check_real("sigma_b2", self.sigma_b2, nonnegative=True)


def _as_config(cfg: Any) -> Config:
    """A kernels.Config from any config with depth/activation/sigma_w2/sigma_b2."""
    if isinstance(cfg, Config):
        return cfg
    missing = [
        f
        for f in ("depth", "activation", "sigma_w2", "sigma_b2")
        if not hasattr(cfg, f)
    ]
    if missing:
        raise TypeError(
            "cfg must be a kernels.Config or have fields depth, activation, sigma_w2 "
            f"and sigma_b2; {type(cfg).__name__} lacks {', '.join(missing)}"
        )
    return Config(
        depth=cfg.depth,
        activation=cfg.activation,
        sigma_w2=cfg.sigma_w2,
        sigma_b2=cfg.sigma_b2,
    )


# --- Gaussian expectations (dual activations), float64, broadcasting ----------------

_TWO_PI = 2.0 * math.pi

# Rational approximation of asin on [0, 1/4] from fdlibm's e_asin.c / e_acos.c (Sun
# Microsystems, 1993): R(z) = P(z) / Q(z) with asin(x) = x + x R(x^2). XLA's own
# float64 arccos is not vectorised on CPU and made up most of the Gram matrix time;
# these are accurate to ~2 ulp on [-1, 1] (checked against numpy in the tests).
_ACOS_P = (
    1.66666666666666657415e-01,
    -3.25565818622400915405e-01,
    2.01212532134862925881e-01,
    -4.00555345006794114027e-02,
    7.91534994289814532176e-04,
    3.47933107596021167570e-05,
)
_ACOS_Q = (
    -2.40339491173441421878e00,
    2.02094576023350569471e00,
    -6.88283971605453293030e-01,
    7.70381505559019352791e-02,
)


def _asin_parts(x, half_one_minus=None):
    """(|x| < 1/2, R(z), sqrt(z)) with z = x^2 if |x| < 1/2 else (1 - |x|) / 2.

    ``half_one_minus`` is ``(1 - |x|) / 2`` computed without cancellation by the
    caller when x is itself a rounded ratio near 1 (the erf dual); by default it is
    formed from x, which is exact for |x| >= 1/2.
    """
    ax = jnp.abs(x)
    small = ax < 0.5
    if half_one_minus is None:
        half_one_minus = 0.5 * (1.0 - ax)
    z = jnp.where(small, x * x, half_one_minus)
    p0, p1, p2, p3, p4, p5 = _ACOS_P
    q1, q2, q3, q4 = _ACOS_Q
    num = z * (p0 + z * (p1 + z * (p2 + z * (p3 + z * (p4 + z * p5)))))
    den = 1.0 + z * (q1 + z * (q2 + z * (q3 + z * q4)))
    return small, num / den, jnp.sqrt(z)


def _acos(x, half_one_minus=None):
    """arccos(x) for x in [-1, 1], float64, as plain arithmetic XLA vectorises;
    ``half_one_minus = (1 - |x|) / 2`` as in :func:`_asin_parts`."""
    small, r, s = _asin_parts(x, half_one_minus)
    big = 2.0 * (s + s * r)  # arccos(|x|) = 2 asin(sqrt((1 - |x|) / 2))
    return jnp.where(
        small, 0.5 * math.pi - (x + x * r), jnp.where(x > 0, big, math.pi - big)
    )


def _asin(x, half_one_minus=None):
    """arcsin(x) for x in [-1, 1], float64, relative accuracy kept near 0 and, given
    ``half_one_minus = (1 - |x|) / 2`` accurately, near +-1 too."""
    small, r, s = _asin_parts(x, half_one_minus)
    big = 0.5 * math.pi - 2.0 * (s + s * r)  # arcsin(|x|)
    return jnp.where(small, x + x * r, jnp.where(x > 0, big, -big))


def _erf_dual_diag(q):
    """E[erf(u)^2], u ~ N(0, q): (2/pi) asin(a), a = 2q / (1 + 2q), 1 - a exact."""
    return (2.0 / math.pi) * _asin(2.0 * q / (1.0 + 2.0 * q), 0.5 / (1.0 + 2.0 * q))


def _dual_diag(activation: str, q):
    """E[phi(u)^2] for u ~ N(0, q)."""
    if activation == "relu":
        return 0.5 * q
    if activation == "erf":
        return _erf_dual_diag(q)
    return q


#: Correlations within this of 1 are set to 1 (a few ulp, the rounding of
#: ``k / sqrt(q1 q2)``), so an input paired with itself stays at c = 1 exactly and
#: its kernel entry follows the length recursion instead of drifting off it.
_SNAP = 16 * float(np.finfo(np.float64).eps)


def _dual(activation: str, q1, q2, k, need_dot: bool, snap=_SNAP):
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for the covariance [[q1, k], [k, q2]].

    See :func:`_dual_c`, which also returns the clipped correlation.
    """
    e, e_dot, _ = _dual_c(activation, q1, q2, k, need_dot, snap)
    return e, e_dot


def _dual_c(activation: str, q1, q2, k, need_dot: bool, snap=_SNAP):
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)], c) for the covariance [[q1, k], [k, q2]].

    ``q1`` and ``q2`` broadcast against ``k``. For every activation the covariance
    is clipped to ``[-sqrt(q1 q2), sqrt(q1 q2)]`` (the correlation
    ``c = k / sqrt(q1 q2)`` to [-1, 1]) before the dual is evaluated, and a
    correlation within ``snap`` of 1 is set to 1; both duals are then evaluated in
    forms without cancellation near c = 1 (``1 - c^2`` as ``(1 - c)(1 + c)``), so
    equal or opposite inputs give finite values and an input paired with itself
    gives the diagonal (length-map) value to a few ulp.
    """
    # Square roots and inverses act on q1, q2 (vectors) before broadcasting.
    sq1, sq2 = jnp.sqrt(q1), jnp.sqrt(q2)
    inv1 = jnp.where(q1 > 0, 1.0 / jnp.where(q1 > 0, sq1, 1.0), 0.0)
    inv2 = jnp.where(q2 > 0, 1.0 / jnp.where(q2 > 0, sq2, 1.0), 0.0)
    c = jnp.clip(k * inv1 * inv2, -1.0, 1.0)
    c = jnp.where(c >= 1.0 - snap, 1.0, c)
    if activation == "linear":
        e = jnp.where(c == 1.0, sq1 * sq2, k)  # the clipped covariance
        return e, (jnp.ones_like(k) if need_dot else None), c
    one_minus_c2 = (1.0 - c) * (1.0 + c)  # no cancellation near c = 1
    if activation == "relu":
        # Arc-cosine kernel of degree 1 (Cho & Saul 2009), theta = arccos(c):
        # E[relu relu] = sqrt(q1 q2) (sin theta + (pi - theta) c) / (2 pi),
        # E[step step] = (pi - theta) / (2 pi). sin theta and theta are both
        # accurate functions of c, so their near cancellation at small theta
        # (sin theta - theta cos theta ~ theta^3 / 3) loses nothing.
        pi_minus_theta = math.pi - _acos(c)
        sin_theta = jnp.sqrt(one_minus_c2)
        e = (sq1 * sq2) * ((sin_theta + pi_minus_theta * c) / _TWO_PI)
        return e, (pi_minus_theta / _TWO_PI if need_dot else None), c
    # erf, Williams (1997): with the clipped covariance kc = c sqrt(q1 q2),
    # E[erf erf] = (2/pi) arcsin(a), a = 2 kc / sqrt((1+2q1)(1+2q2)),
    # E[erf' erf'] = (4/pi) / sqrt(det), det = (1+2q1)(1+2q2) - 4 kc^2
    # = 1 + 2(q1+q2) + 4 q1 q2 (1-c)(1+c) >= 1. Since 1 - |a| >= 1 / (1 + 2 q),
    # the arcsine's slope stays below sqrt(1 + 2q): no cancellation to guard.
    inv_p = jax.lax.rsqrt(1.0 + 2.0 * q1) * jax.lax.rsqrt(1.0 + 2.0 * q2)
    a = (2.0 * c) * (sq1 * sq2) * inv_p
    det = 1.0 + 2.0 * (q1 + q2) + 4.0 * (q1 * q2) * one_minus_c2
    e = (2.0 / math.pi) * _asin(a)
    if not need_dot:
        return e, None, c
    return e, (4.0 / math.pi) * jax.lax.rsqrt(det), c


# g(theta) = sin(theta) - theta cos(theta) = theta^3/3 - theta^5/30 + theta^7/840
# - ...: below theta = 0.01 three terms are exact to 1e-16; above, the direct
# difference loses at most eps / (theta^2 / 3) ~ 7e-12 of g, and g enters the gap
# update only against pi (1 - cos theta), damped by 2 theta / (3 pi) ~ 2e-3.
def _sin_minus_theta_cos(theta, sin_theta, cos_theta):
    """sin(theta) - theta cos(theta) (~ theta^3 / 3) without cancellation."""
    t2 = theta * theta
    series = theta * t2 * (1.0 / 3.0 - t2 * (1.0 / 30.0 - t2 * (1.0 / 840.0)))
    return jnp.where(theta < 0.01, series, sin_theta - theta * cos_theta)


def _relu_layer(k, gap, q1, q2, sigma_w2, sigma_b2, need_dot):
    """One ReLU layer of the recursion, carrying the gap ``sqrt(q1 q2) - k >= 0``.

    Near c = 1 (ordered phase, deep layers, nearby inputs) ``E[step step] = (pi -
    theta) / (2 pi)`` has an infinite slope in c, so theta = arccos(c) must come
    from an accurate 1 - c, not from k / sqrt(q1 q2) rounded near 1. The gap is
    updated without cancellation: with ``q' = a q + b`` (a = sigma_w2 / 2,
    b = sigma_b2) and ``J(c) = (sin theta + (pi - theta) c) / (2 pi)``,

        gap' = a b (sqrt q1 - sqrt q2)^2 / (sqrt(q1' q2') + a sqrt(q1 q2) + b)
               + sigma_w2 sqrt(q1 q2) (pi (1 - c) - (sin theta - theta c)) / (2 pi),

    both terms >= 0 (the second by the series of sin theta - theta cos theta).
    Returns (k', gap', E[step step] or None, q1', q2').
    """
    sq1, sq2 = jnp.sqrt(q1), jnp.sqrt(q2)
    inv1 = jnp.where(q1 > 0, 1.0 / jnp.where(q1 > 0, sq1, 1.0), 0.0)
    inv2 = jnp.where(q2 > 0, 1.0 / jnp.where(q2 > 0, sq2, 1.0), 0.0)
    delta = jnp.clip(gap * inv1 * inv2, 0.0, 2.0)  # 1 - c, accurate
    c = 1.0 - delta
    theta = _acos(c, 0.5 * jnp.minimum(delta, 2.0 - delta))  # (1 - |c|) / 2
    sin_theta = jnp.sqrt(delta * (2.0 - delta))
    pi_minus_theta = math.pi - theta
    sqq = sq1 * sq2
    e = sqq * ((sin_theta + pi_minus_theta * c) / _TWO_PI)
    half_minus_j = (math.pi * delta - _sin_minus_theta_cos(theta, sin_theta, c)) / (
        _TWO_PI
    )
    a, b = 0.5 * sigma_w2, sigma_b2
    q1_next, q2_next = a * q1 + b, a * q2 + b
    diff = sq1 - sq2
    # denominator 0 only for a zero-length input without bias (b = 0): term 0
    den = jnp.sqrt(q1_next) * jnp.sqrt(q2_next) + a * sqq + b
    bracket = (a * b) * (diff * diff) / jnp.where(den > 0, den, 1.0)
    gap_next = bracket + sigma_w2 * sqq * half_minus_j
    k_next = sigma_w2 * e + sigma_b2
    e_dot = pi_minus_theta / _TWO_PI if need_dot else None
    return k_next, gap_next, e_dot, q1_next, q2_next


#: Side of the square tiles the Gram matrix is computed in. A tile's intermediates
#: (2 MB each at 512 x 512) stay in cache through all layers instead of streaming
#: n1 x n2 arrays through memory once per operation, and XLA splits each tile's
#: elementwise work across the cores. When x2 is x1 only the tiles on and above the
#: diagonal are computed (the Gram matrix is symmetric): half the recursion's work.
_TILE = 512

#: Layers unrolled per iteration of the loop over depth. 1 measured fastest (4,096
#: inputs, depth 3: unrolling 3-4 layers made the ReLU NTK 1.6x slower) and compiles
#: once in ~1 s whatever the depth.
_UNROLL = 1


def _gram_block(k, q1, q2, sigma_w2, sigma_b2, depth, activation, want, snap1):
    """Run the recursion on a block: k (b, n2) layer-1 covariances, q1 (b, 1), q2.

    The loop over layers is a ``fori_loop`` (compiled once for any depth). At layer
    1 correlations within ``snap1`` of 1 (the rounding of the inner products) are
    snapped to 1, so an input paired with itself starts exactly at c = 1.
    """
    need_ntk = want != "nngp"
    theta = k if need_ntk else jnp.zeros((), k.dtype)
    # An input paired with itself (layer-1 correlation 1 to rounding, equal
    # lengths): its entry is set to the length recursion at the end, so the Gram
    # matrix's diagonal is exactly its row lengths and k / sqrt(q1 q2) <= 1.
    sqq = jnp.sqrt(q1) * jnp.sqrt(q2)
    same = (k >= (1.0 - snap1) * sqq) & (q1 == q2)
    if activation == "relu" and need_ntk:
        gap = jnp.maximum(sqq - k, 0.0)
        gap = jnp.where(gap <= snap1 * sqq, 0.0, gap)

        def relu_layer(_, carry):
            k, gap, theta, q1, q2 = carry
            k, gap, e_dot, q1, q2 = _relu_layer(
                k, gap, q1, q2, sigma_w2, sigma_b2, need_ntk
            )
            if need_ntk:
                theta = k + sigma_w2 * e_dot * theta
            return k, gap, theta, q1, q2

        k, _, theta, q1, _ = jax.lax.fori_loop(
            0, depth, relu_layer, (k, gap, theta, q1, q2), unroll=min(depth, _UNROLL)
        )
        k = jnp.where(same, q1, k)
        return {"nngp": k, "ntk": theta, "both": (k, theta)}[want]

    def layer(i, carry):
        k, theta, q1, q2 = carry
        snap = jnp.where(i == 0, snap1, _SNAP)
        e, e_dot, c = _dual_c(activation, q1, q2, k, need_ntk, snap)
        q1_next = sigma_w2 * _dual_diag(activation, q1) + sigma_b2
        q2_next = sigma_w2 * _dual_diag(activation, q2) + sigma_b2
        k_next = sigma_w2 * e + sigma_b2
        if need_ntk:
            theta = k_next + sigma_w2 * e_dot * theta
        return k_next, theta, q1_next, q2_next

    k, theta, q1, _ = jax.lax.fori_loop(
        0, depth, layer, (k, theta, q1, q2), unroll=min(depth, _UNROLL)
    )
    k = jnp.where(same, q1, k)
    return {"nngp": k, "ntk": theta, "both": (k, theta)}[want]


@functools.partial(
    jax.jit, static_argnames=("depth", "activation", "want", "same", "tile")
)
def _gram(x1, x2, sigma_w2, sigma_b2, *, depth, activation, want, same, tile=_TILE):
    """NNGP and/or NTK Gram matrices (want = "nngp", "ntk" or "both").

    Computed tile by tile (``tile`` x ``tile`` entries; the last tile of a row or
    column is shifted back to end at the edge, so it overlaps its neighbour and
    rewrites those entries with the same values) by a ``fori_loop`` that writes each
    tile into the result in place: the only n1 x n2 arrays are the outputs. With
    ``same`` (x2 is x1) only the tiles on and above the diagonal are computed, each
    written together with its transpose (the off-diagonal tiles of the result are
    exactly symmetric; a diagonal tile is as its matrix product rounds, to an ulp).
    """
    (n1, d), n2 = x1.shape, x2.shape[0]
    q1 = sigma_w2 * jnp.sum(x1 * x1, axis=-1) / d + sigma_b2
    q2 = q1 if same else sigma_w2 * jnp.sum(x2 * x2, axis=-1) / d + sigma_b2
    # The layer-1 inner products (a matrix product) and lengths (sums of squares)
    # are summed in different orders: ~d ulp apart for equal inputs.
    snap1 = max(_SNAP, 2.0 * d * float(np.finfo(np.float64).eps))
    tr, tc = min(tile, n1), min(tile, n2)

    def block(r, c):
        """The outputs (a tuple) for rows r:r+tr and columns c:c+tc."""
        xr = jax.lax.dynamic_slice_in_dim(x1, r, tr)
        xc = jax.lax.dynamic_slice_in_dim(x2, c, tc)
        qr = jax.lax.dynamic_slice_in_dim(q1, r, tr)[:, None]
        qc = jax.lax.dynamic_slice_in_dim(q2, c, tc)[None, :]
        k = sigma_w2 * (xr @ xc.T) / d + sigma_b2
        out = _gram_block(k, qr, qc, sigma_w2, sigma_b2, depth, activation, want, snap1)
        return out if want == "both" else (out,)

    if tr == n1 and tc == n2:  # one tile
        out = block(0, 0)
        return out if want == "both" else out[0]
    mr, mc = -(-n1 // tr), -(-n2 // tc)
    if same:
        rows, cols = np.triu_indices(mr)
    else:
        rows, cols = np.divmod(np.arange(mr * mc), mc)
    rows, cols = jnp.asarray(rows, jnp.int32), jnp.asarray(cols, jnp.int32)

    def body(t, outs):
        r = jnp.minimum(rows[t] * tr, n1 - tr)
        c = jnp.minimum(cols[t] * tc, n2 - tc)
        vals = block(r, c)
        if same:  # the mirror tile first, so a diagonal tile keeps its own values
            outs = tuple(
                jax.lax.dynamic_update_slice(o, v.T, (c, r))
                for o, v in zip(outs, vals, strict=True)
            )
        return tuple(
            jax.lax.dynamic_update_slice(o, v, (r, c))
            for o, v in zip(outs, vals, strict=True)
        )

    outputs = 2 if want == "both" else 1
    init = tuple(jnp.zeros((n1, n2), x1.dtype) for _ in range(outputs))
    out = jax.lax.fori_loop(0, rows.shape[0], body, init)
    return out if want == "both" else out[0]


def _check_inputs(x1, x2, names=("x1", "x2")):
    """``(x1, x2)`` as float64 NumPy arrays (``x2 = x1`` when None), or TypeError /
    ValueError naming the argument: real numbers, finite, each a non-empty 2-D
    batch of points (n, d) with the same d."""
    x1 = as_float64_numpy(names[0], x1)
    x2 = x1 if x2 is None else as_float64_numpy(names[1], x2)
    check_points(names[0], x1)
    check_points(names[1], x2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same input dimension d, got "
            f"{names[0]}.shape={tuple(x1.shape)} and "
            f"{names[1]}.shape={tuple(x2.shape)}"
        )
    return x1, x2


#: Flop-equivalents per Gram entry and layer (measured ~2e8 entries x layers per
#: second on two laptop cores, ~2e10 flop-equivalents per second).
_WORK_PER_ENTRY_LAYER = 100.0


def _check_budget(name, n1, n2, d, depth, outputs, max_bytes, max_work):
    """Raise before allocating a Gram matrix (or running a recursion) too large."""
    check_budget_arg("max_bytes", max_bytes)
    check_budget_arg("max_work", max_work)
    # The results (written in place tile by tile), the float64 inputs (and their
    # device copies) and the ~32 tile-sized intermediates of one recursion step.
    nbytes = 8.0 * (outputs * n1 * n2 + 2 * (n1 + n2) * (d + 1) + 32 * _TILE**2)
    size = f"{name} of {n1} x {n2} inputs (d={d}, depth={depth})"
    fix = "pass fewer inputs, or compute the Gram matrix in blocks of rows"
    check_bytes(size, nbytes, fix, max_bytes)
    work = _WORK_PER_ENTRY_LAYER * float(n1) * float(n2) * (float(d) / 64 + depth)
    check_work(size, work, "pass fewer inputs or a shallower config", max_work)


def _kernels(x1, x2, cfg, want, max_bytes, max_work):
    cfg = _as_config(cfg)
    same = x2 is None or x2 is x1
    x1, x2 = _check_inputs(x1, None if same else x2)
    (n1, d), n2 = x1.shape, x2.shape[0]
    name = {"nngp": "nngp", "ntk": "ntk", "both": "nngp_and_ntk"}[want]
    outputs = 2 if want == "both" else 1
    _check_budget(name, n1, n2, d, cfg.depth, outputs, max_bytes, max_work)
    with enable_x64(True):
        x1 = _f64(x1)
        out = _gram(
            x1,
            x1 if same else _f64(x2),
            _f64(cfg.sigma_w2),
            _f64(cfg.sigma_b2),
            depth=cfg.depth,
            activation=cfg.activation,
            want=want,
            same=same,
        )
        # NumPy float64 (a read-only view, no copy): exact in NumPy, and usable by
        # jnp code in either precision mode without warnings.
        return jax.tree_util.tree_map(np.asarray, out)


def nngp(
    x1: Float[ArrayLike, "n1 d"],
    x2: Float[ArrayLike, "n2 d"] | None,
    cfg: Any,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> Float[Array, "n1 n2"]:
    """NNGP kernel: covariance of the network output at initialisation, infinite width.

    :math:`\\Sigma^{L+1}(x, x')` of the recursion in the module docstring
    (Neal 1996; Lee et al. 2018).

    Args:
        x1: inputs, shape (n1, d), coordinates of order one (``|x|^2 ~ d``).
        x2: inputs, shape (n2, d), or None for ``x2 = x1``.
        cfg: a :class:`Config` or any config with ``depth``, ``activation``,
            ``sigma_w2``, ``sigma_b2`` (e.g. ``lm_sims.mlp.Config``).
        max_bytes: memory limit in bytes for the Gram matrix and the recursion's
            working arrays; None (default) is the package limit
            (``lm_sims._config.MAX_BYTES``, 4 GiB, env ``LM_SIMS_MAX_BYTES``).
        max_work: work limit in flop-equivalents (~100 per entry and layer);
            None (default) is ``lm_sims._config.MAX_WORK`` (~10 minutes on a
            laptop, env ``LM_SIMS_MAX_WORK``).

    Returns:
        Gram matrix, shape (n1, n2): a NumPy float64 array (read-only; copy it
        with ``np.array`` to modify it in place), computed in float64 whatever
        JAX's precision mode (see the module docstring, "Precision").

    Raises:
        ValueError: x1 or x2 is not 2-D, is empty, their dimensions differ, or
            they are not finite; a config field is out of range (depth >= 1,
            sigma_w2 > 0, sigma_b2 >= 0, activation one of ``ACTIVATIONS``);
            max_bytes or max_work is not > 0; or the estimated memory or work
            exceeds its limit (raised before anything is allocated, naming the
            estimate and the limit).
        TypeError: cfg lacks a field, an input is not real numbers (None,
            strings, complex, booleans), or max_bytes or max_work is not a
            number.

    References:
        Lee et al., "Deep neural networks as Gaussian processes", 2018,
        arXiv:1711.00165.

    Example:
        >>> import numpy as np
        >>> from lm_sims import kernels
        >>> x = np.random.default_rng(0).normal(size=(5, 3))
        >>> kernels.nngp(x, x, kernels.Config(depth=2)).shape
        (5, 5)
    """
    return _kernels(x1, x2, cfg, "nngp", max_bytes, max_work)


def ntk(
    x1: Float[ArrayLike, "n1 d"],
    x2: Float[ArrayLike, "n2 d"] | None,
    cfg: Any,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> Float[Array, "n1 n2"]:
    """Neural tangent kernel of the infinitely wide network (NTK parameterisation).

    :math:`\\Theta^{L+1}(x, x') = \\sum_p \\partial_p f(x) \\partial_p f(x')` in the
    limit, with the sum over all weights and biases, each trained at the same
    learning rate (Jacot et al. 2018). Gradient flow on the loss
    ``1/(2P) sum_i |y_i - f(x_i)|^2`` moves the outputs by
    ``df/dt = -(1/P) Theta (f - y)``, see :func:`predict_linearized`.

    Args:
        x1: inputs, shape (n1, d), coordinates of order one (``|x|^2 ~ d``).
        x2: inputs, shape (n2, d), or None for ``x2 = x1``.
        cfg: a :class:`Config` or any config with ``depth``, ``activation``,
            ``sigma_w2``, ``sigma_b2`` (e.g. ``lm_sims.mlp.Config``).

        max_bytes, max_work: as :func:`nngp`.

    Returns:
        Gram matrix, shape (n1, n2), a NumPy float64 array as :func:`nngp`. For
        several outputs the kernel is this times the identity on the output index.

    Raises:
        ValueError, TypeError: as :func:`nngp`.

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel", 2018, arXiv:1806.07572.

    Example:
        >>> import numpy as np
        >>> from lm_sims import kernels
        >>> d = 3
        >>> x = np.sqrt(d) * np.eye(d)[:2]     # two orthogonal points, |x|^2 = d
        >>> cfg = kernels.Config(depth=1, sigma_w2=1.0)
        >>> bool(np.isclose(kernels.ntk(x, x, cfg)[0, 1], 1 / (2 * np.pi)))
        True
    """
    return _kernels(x1, x2, cfg, "ntk", max_bytes, max_work)


def nngp_and_ntk(
    x1: Float[ArrayLike, "n1 d"],
    x2: Float[ArrayLike, "n2 d"] | None,
    cfg: Any,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> tuple[Float[Array, "n1 n2"], Float[Array, "n1 n2"]]:
    """Both :func:`nngp` and :func:`ntk` from one pass of the recursion.

    Args and Raises as :func:`ntk`. Returns ``(nngp, ntk)``, each a NumPy float64
    array of shape (n1, n2) as :func:`nngp`.
    """
    return _kernels(x1, x2, cfg, "both", max_bytes, max_work)


def nngp_diag(x: Float[ArrayLike, "n d"], cfg: Any) -> Float[Array, " n"]:
    """Diagonal of the NNGP kernel, ``Sigma(x_i, x_i)``: the output variance per input.

    Costs O(n d) instead of the Gram matrix's O(n^2 d).

    Args:
        x: inputs, shape (n, d).
        cfg: as :func:`nngp`.

    Returns:
        NumPy float64 array, shape (n,), computed in float64 whatever JAX's
        precision mode; equal (to 1e-15 relative) to the diagonal of :func:`nngp`.

    Raises:
        ValueError, TypeError: as :func:`nngp`.
    """
    cfg = _as_config(cfg)
    x, _ = _check_inputs(x, None, ("x", "x"))
    with enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        sw2, sb2 = _f64(cfg.sigma_w2), _f64(cfg.sigma_b2)
        q = sw2 * jnp.sum(x * x, axis=-1) / x.shape[1] + sb2
        q = _diag_recursion(q, sw2, sb2, activation=cfg.activation, depth=cfg.depth)
        return np.asarray(q)


def _f64(value):
    """``value`` as a float64 JAX array (call inside ``jax.enable_x64(True)``).

    Pass this, never a NumPy array, to a jitted function in x64 mode: JAX 0.10
    caches the device copy of a NumPy array by identity, and if the same array was
    earlier captured by a float32 computation, the jitted call receives the cached
    float32 buffer and fails ("expected f64 ... got f32").
    """
    return jnp.asarray(value, jnp.float64)


@functools.partial(jax.jit, static_argnames=("activation", "depth"))
def _diag_recursion(q, sigma_w2, sigma_b2, *, activation, depth):
    """Apply the length map ``depth`` times (a loop compiled once for any depth)."""

    def layer(_, q):
        return sigma_w2 * _dual_diag(activation, q) + sigma_b2

    return jax.lax.fori_loop(0, depth, layer, q, unroll=min(depth, _UNROLL))


@jax.jit
def _ntk_relu_sphere(u):
    sin_theta = jnp.sqrt((1.0 - u) * (1.0 + u))  # no cancellation near u = +-1
    return (sin_theta + 2.0 * u * (math.pi - _acos(u))) / _TWO_PI


def ntk_relu_sphere(u: Float[ArrayLike, " *shape"]) -> Float[Array, " *shape"]:
    """NTK of the two-layer ReLU network on the unit sphere, book convention.

    For ``f(x) = n^{-1/2} sum_i a_i relu(w_i . x)`` with ``w_i ~ N(0, I_d)``,
    ``a_i ~ N(0, 1)``, both layers trained, no bias and ``|x| = |x'| = 1``:

    .. math::

        \\Theta(u) = \\frac{\\sqrt{1 - u^2} + 2u(\\pi - \\arccos u)}{2\\pi},
        \\qquad u = x \\cdot x'.

    This is :func:`ntk` with ``depth=1, activation="relu", sigma_w2=1, sigma_b2=0``
    applied to ``sqrt(d) x`` (the NTK parameterisation divides the first layer by
    ``sqrt(d)``).

    Args:
        u: cosine between the inputs, any shape, values in [-1, 1] (clipped).

    Returns:
        NumPy float64 array of the same shape (computed in float64 whatever JAX's
        precision mode).

    Raises:
        ValueError: u is not finite.
        TypeError: u is not real numbers.

    Example:
        >>> from lm_sims import kernels
        >>> float(kernels.ntk_relu_sphere(1.0))
        1.0
    """
    u = as_float64_numpy("u", u)
    with enable_x64(True):
        return np.asarray(_ntk_relu_sphere(jnp.clip(_f64(u), -1.0, 1.0)))


def circle(angles: Float[ArrayLike, " n"], d: int = 2) -> Float[Array, "n d"]:
    """Points ``sqrt(d) (cos a, sin a, 0, ..., 0)`` on a circle with ``|x|^2 = d``.

    The input normalisation the kernels expect (coordinates of order one, see the
    module docstring): two points at angles a and b have cosine ``cos(a - b)``, and
    the kernels between them are those of unit vectors on the sphere.

    Args:
        angles: angles in radians, shape (n,) (a scalar is one point).
        d: input dimension (int >= 2).

    Returns:
        Array of shape (n, d) in JAX's default float dtype (float32, or float64
        with ``jax_enable_x64``).

    Raises:
        ValueError: d < 2, an angle is not finite, or angles is empty or has
            more than one axis.
        TypeError: d is not an integer, or angles are not real numbers.

    Example:
        >>> import numpy as np
        >>> from lm_sims import kernels
        >>> x = kernels.circle(np.array([0.0, np.pi / 2]))
        >>> np.round(np.asarray(x), 4).tolist()
        [[1.4142, 0.0], [0.0, 1.4142]]
    """
    check_int("d", d, minimum=2)
    a = np.asarray(as_float_array("angles", angles), np.float64)
    if a.ndim > 1:
        raise ValueError(
            f"angles must be a scalar or 1-D, got shape {a.shape}; flatten it first"
        )
    a = a.reshape(-1)
    if not a.size:
        raise ValueError("angles must hold at least one angle, got an empty array")
    pts = np.zeros((a.size, d))
    pts[:, 0], pts[:, 1] = np.cos(a), np.sin(a)
    return jnp.asarray(math.sqrt(d) * pts)  # float64 -> the default float dtype
