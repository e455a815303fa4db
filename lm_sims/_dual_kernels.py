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

from lm_sims._config import (
    as_float_array,
    check_choice,
    check_int,
    check_real,
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
        depth: number of hidden layers L (int >= 1); the network has L + 1 linear
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


def _asin_parts(x):
    """(|x| < 1/2, R(z), sqrt(z)) with z = x^2 if |x| < 1/2 else (1 - |x|) / 2."""
    ax = jnp.abs(x)
    small = ax < 0.5
    z = jnp.where(small, x * x, 0.5 * (1.0 - ax))  # |x| >= 1/2: z = (1 - |x|)/2
    p0, p1, p2, p3, p4, p5 = _ACOS_P
    q1, q2, q3, q4 = _ACOS_Q
    num = z * (p0 + z * (p1 + z * (p2 + z * (p3 + z * (p4 + z * p5)))))
    den = 1.0 + z * (q1 + z * (q2 + z * (q3 + z * q4)))
    return small, num / den, jnp.sqrt(z)


def _acos(x):
    """arccos(x) for x in [-1, 1], float64, as plain arithmetic XLA vectorises."""
    small, r, s = _asin_parts(x)
    big = 2.0 * (s + s * r)  # arccos(|x|) = 2 asin(sqrt((1 - |x|) / 2))
    return jnp.where(
        small, 0.5 * math.pi - (x + x * r), jnp.where(x > 0, big, math.pi - big)
    )


def _asin(x):
    """arcsin(x) for x in [-1, 1], float64, relative accuracy kept near 0."""
    small, r, s = _asin_parts(x)
    big = 0.5 * math.pi - 2.0 * (s + s * r)  # arcsin(|x|)
    return jnp.where(small, x + x * r, jnp.where(x > 0, big, -big))


def _dual_diag(activation: str, q):
    """E[phi(u)^2] for u ~ N(0, q)."""
    if activation == "relu":
        return 0.5 * q
    if activation == "erf":
        return (2.0 / math.pi) * _asin(2.0 * q / (1.0 + 2.0 * q))
    return q


def _dual(activation: str, q1, q2, k, need_dot: bool):
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for the covariance [[q1, k], [k, q2]].

    ``q1`` and ``q2`` broadcast against ``k``. Correlations are clipped to [-1, 1] and
    the square roots guarded, so equal or opposite inputs give finite values.
    """
    if activation == "relu":
        # Arc-cosine kernel of degree 1 (Cho & Saul 2009), theta = arccos(c):
        # E[relu relu] = sqrt(q1 q2) (sin theta + (pi - theta) c) / (2 pi),
        # E[step step] = (pi - theta) / (2 pi).
        # Square roots and inverses act on q1, q2 (vectors) before broadcasting.
        sq1, sq2 = jnp.sqrt(q1), jnp.sqrt(q2)
        inv1 = jnp.where(q1 > 0, 1.0 / jnp.where(q1 > 0, sq1, 1.0), 0.0)
        inv2 = jnp.where(q2 > 0, 1.0 / jnp.where(q2 > 0, sq2, 1.0), 0.0)
        c = jnp.clip(k * inv1 * inv2, -1.0, 1.0)
        pi_minus_theta = math.pi - _acos(c)
        sin_theta = jnp.sqrt(jnp.maximum(1.0 - c * c, 0.0))
        e = (sq1 * sq2 / _TWO_PI) * (sin_theta + pi_minus_theta * c)
        return e, (pi_minus_theta / _TWO_PI if need_dot else None)
    if activation == "erf":
        # Williams (1997): E[erf erf] = (2/pi) arcsin(2k / sqrt((1+2q1)(1+2q2))),
        # E[erf' erf'] = (4/pi) / sqrt((1+2q1)(1+2q2) - 4k^2); the determinant is
        # written as 1 + 2(q1+q2) + 4(q1 q2 - k^2) with the last term clipped at 0.
        inv1 = 1.0 / jnp.sqrt(1.0 + 2.0 * q1)
        inv2 = 1.0 / jnp.sqrt(1.0 + 2.0 * q2)
        arg = jnp.clip((2.0 * k) * inv1 * inv2, -1.0, 1.0)
        e = (2.0 / math.pi) * _asin(arg)
        if not need_dot:
            return e, None
        det = 1.0 + 2.0 * (q1 + q2) + 4.0 * jnp.maximum(q1 * q2 - k * k, 0.0)
        return e, (4.0 / math.pi) * jax.lax.rsqrt(det)
    return k, (jnp.ones_like(k) if need_dot else None)


# Rows of the Gram matrix per block: keeps a block's intermediates (~2 MB each) in
# cache through all layers instead of streaming n1 x n2 arrays through memory per op.
_BLOCK_ELEMENTS = 2**18


def _gram_block(k, q1, q2, sigma_w2, sigma_b2, depth, activation, want):
    """Run the recursion on a block: k (b, n2) layer-1 covariances, q1 (b, 1), q2."""
    need_ntk = want != "nngp"
    theta = k
    for _ in range(depth):
        e, e_dot = _dual(activation, q1, q2, k, need_ntk)
        k_next = sigma_w2 * e + sigma_b2
        if need_ntk:
            theta = k_next + sigma_w2 * e_dot * theta
        k = k_next
        q1 = sigma_w2 * _dual_diag(activation, q1) + sigma_b2
        q2 = sigma_w2 * _dual_diag(activation, q2) + sigma_b2
    return {"nngp": k, "ntk": theta, "both": (k, theta)}[want]


@functools.partial(jax.jit, static_argnames=("depth", "activation", "want"))
def _gram(x1, x2, sigma_w2, sigma_b2, *, depth, activation, want):
    """NNGP and/or NTK Gram matrices (want = "nngp", "ntk" or "both")."""
    (n1, d), n2 = x1.shape, x2.shape[0]
    q1 = sigma_w2 * jnp.sum(x1 * x1, axis=-1) / d + sigma_b2
    q2 = (sigma_w2 * jnp.sum(x2 * x2, axis=-1) / d + sigma_b2)[None, :]
    block = max(1, min(n1, _BLOCK_ELEMENTS // max(n2, 1)))
    num_blocks = -(-n1 // block)
    pad = num_blocks * block - n1  # padding rows, dropped at the end
    x1 = jnp.pad(x1, ((0, pad), (0, 0))).reshape(num_blocks, block, d)
    q1 = jnp.pad(q1, (0, pad), constant_values=1.0).reshape(num_blocks, block, 1)

    def body(args):
        xb, qb = args
        k = sigma_w2 * (xb @ x2.T) / d + sigma_b2
        return _gram_block(k, qb, q2, sigma_w2, sigma_b2, depth, activation, want)

    out = jax.lax.map(body, (x1, q1))
    if pad:
        return jax.tree_util.tree_map(lambda a: a.reshape(-1, n2)[:n1], out)
    return jax.tree_util.tree_map(lambda a: a.reshape(n1, n2), out)


def _check_inputs(x1, x2):
    x1 = np.asarray(x1) if not isinstance(x1, jax.Array) else x1
    x2 = x1 if x2 is None else (np.asarray(x2) if not isinstance(x2, jax.Array) else x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D array (num_points, d), got {name}.shape="
                f"{tuple(x.shape)}"
            )
        if not (
            jnp.issubdtype(x.dtype, jnp.floating)
            or jnp.issubdtype(x.dtype, jnp.integer)
        ):
            raise TypeError(f"{name} must be a real array, got dtype {x.dtype}")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            "x1 and x2 must have the same input dimension d, got "
            f"x1.shape={tuple(x1.shape)} and x2.shape={tuple(x2.shape)}"
        )
    return x1, x2


def _kernels(x1, x2, cfg, want):
    cfg = _as_config(cfg)
    x1, x2 = _check_inputs(x1, x2)
    with jax.enable_x64(True):
        return _gram(
            _f64(x1),
            _f64(x2),
            _f64(cfg.sigma_w2),
            _f64(cfg.sigma_b2),
            depth=cfg.depth,
            activation=cfg.activation,
            want=want,
        )


def nngp(
    x1: Float[ArrayLike, "n1 d"], x2: Float[ArrayLike, "n2 d"] | None, cfg: Any
) -> Float[Array, "n1 n2"]:
    """NNGP kernel: covariance of the network output at initialisation, infinite width.

    :math:`\\Sigma^{L+1}(x, x')` of the recursion in the module docstring
    (Neal 1996; Lee et al. 2018).

    Args:
        x1: inputs, shape (n1, d), coordinates of order one (``|x|^2 ~ d``).
        x2: inputs, shape (n2, d), or None for ``x2 = x1``.
        cfg: a :class:`Config` or any config with ``depth``, ``activation``,
            ``sigma_w2``, ``sigma_b2`` (e.g. ``lm_sims.mlp.Config``).

    Returns:
        float64 Gram matrix, shape (n1, n2).

    Raises:
        ValueError: x1 or x2 is not 2-D, their dimensions differ, or a config field
            is out of range (depth >= 1, sigma_w2 > 0, sigma_b2 >= 0, activation one
            of ``ACTIVATIONS``).
        TypeError: cfg lacks a field, or an input is not a real array.

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
    return _kernels(x1, x2, cfg, "nngp")


def ntk(
    x1: Float[ArrayLike, "n1 d"], x2: Float[ArrayLike, "n2 d"] | None, cfg: Any
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

    Returns:
        float64 Gram matrix, shape (n1, n2). For several outputs the kernel is this
        times the identity on the output index.

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
    return _kernels(x1, x2, cfg, "ntk")


def nngp_and_ntk(
    x1: Float[ArrayLike, "n1 d"], x2: Float[ArrayLike, "n2 d"] | None, cfg: Any
) -> tuple[Float[Array, "n1 n2"], Float[Array, "n1 n2"]]:
    """Both :func:`nngp` and :func:`ntk` from one pass of the recursion.

    Args and Raises as :func:`ntk`. Returns ``(nngp, ntk)``, each float64 (n1, n2).
    """
    return _kernels(x1, x2, cfg, "both")


def nngp_diag(x: Float[ArrayLike, "n d"], cfg: Any) -> Float[Array, " n"]:
    """Diagonal of the NNGP kernel, ``Sigma(x_i, x_i)``: the output variance per input.

    Costs O(n d) instead of the Gram matrix's O(n^2 d).

    Args:
        x: inputs, shape (n, d).
        cfg: as :func:`nngp`.

    Returns:
        float64 array, shape (n,).

    Raises:
        ValueError, TypeError: as :func:`nngp`.
    """
    cfg = _as_config(cfg)
    x, _ = _check_inputs(x, None)
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        sw2, sb2 = _f64(cfg.sigma_w2), _f64(cfg.sigma_b2)
        q = sw2 * jnp.sum(x * x, axis=-1) / x.shape[1] + sb2
        return _diag_recursion(q, sw2, sb2, activation=cfg.activation, depth=cfg.depth)


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
    """Apply the length map ``depth`` times."""
    for _ in range(depth):
        q = sigma_w2 * _dual_diag(activation, q) + sigma_b2
    return q


@jax.jit
def _ntk_relu_sphere(u):
    return (
        jnp.sqrt(jnp.maximum(1.0 - u * u, 0.0)) + 2.0 * u * (math.pi - _acos(u))
    ) / (_TWO_PI)


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
        float64 array of the same shape.

    Example:
        >>> from lm_sims import kernels
        >>> float(kernels.ntk_relu_sphere(1.0))
        1.0
    """
    with jax.enable_x64(True):
        return _ntk_relu_sphere(jnp.clip(_f64(u), -1.0, 1.0))


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
        ValueError: d < 2, an angle is not finite, or angles has more than one
            axis.
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
    pts = np.zeros((a.size, d))
    pts[:, 0], pts[:, 1] = np.cos(a), np.sin(a)
    return jnp.asarray(math.sqrt(d) * pts)  # float64 -> the default float dtype
