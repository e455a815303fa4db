"""Infinite-width kernels of deep fully connected networks, and kernel dynamics.

Analytic NNGP and NTK Gram matrices by the layer-by-layer recursions, the signal
propagation maps of mean-field theory (order vs chaos), the empirical NTK of any JAX
network, and the closed-form training dynamics of a linearised network.

**Parameterisation (the NTK parameterisation).** A network with ``depth`` hidden
layers of width ``n`` maps an input ``x`` of dimension ``d`` to

.. math::

    h^1 = \\frac{\\sigma_w}{\\sqrt d} W^1 x + \\sigma_b b^1,\\qquad
    h^{l+1} = \\frac{\\sigma_w}{\\sqrt n} W^{l+1} \\phi(h^l) + \\sigma_b b^{l+1},
    \\qquad f = h^{L+1},

with every entry of every ``W`` and ``b`` drawn from ``N(0, 1)`` and every tensor
trained by gradient descent at the same learning rate. As ``n -> infinity`` the output
at initialisation is a Gaussian process with covariance :func:`nngp`, and gradient
descent moves it with the fixed kernel :func:`ntk`. The networks built by
``lm_sims.mlp`` with ``parameterization="ntk"`` are exactly these, so their
:func:`empirical_ntk` converges to :func:`ntk` at rate ``n^-1/2``.

**Input normalisation.** The first layer divides by ``sqrt(d)``, so the layer-1
covariance is ``sigma_w2 * x.x' / d + sigma_b2``: inputs are meant to have
coordinates of order one (``|x|^2 ~ d``). For inputs on the unit sphere, multiply them
by ``sqrt(d)``; then ``depth=1, sigma_w2=1, sigma_b2=0`` gives the book's two-layer
ReLU kernel :func:`ntk_relu_sphere`.

**Recursions** (``Sigma`` = NNGP, ``Theta`` = NTK, expectations over
``(u, v) ~ N(0, [[Sigma(x,x), Sigma(x,x')], [Sigma(x,x'), Sigma(x',x')]])``)::

    Sigma^1 = Theta^1 = sigma_w2 x.x'/d + sigma_b2
    Sigma^{l+1} = sigma_w2 E[phi(u) phi(v)] + sigma_b2
    Theta^{l+1} = Sigma^{l+1} + sigma_w2 E[phi'(u) phi'(v)] Theta^l

for ``l = 1..depth``; the output kernels are ``Sigma^{depth+1}``, ``Theta^{depth+1}``.
The Gaussian expectations are closed forms: the arc-cosine kernel for ReLU (Cho &
Saul 2009) and Williams' arcsine kernel for erf (Williams 1997). Kernels are computed
in float64; correlations are clipped to [-1, 1] and ``sqrt(1 - c^2)`` is guarded, so
``x' = +-x`` is safe.

References:
    Neal, "Bayesian Learning for Neural Networks", 1996.
    Williams, "Computing with infinite networks", NeurIPS 1997.
    Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009.
    Poole et al., "Exponential expressivity in deep neural networks through transient
    chaos", 2016, arXiv:1606.05340.
    Lee et al., "Deep neural networks as Gaussian processes", 2018, arXiv:1711.00165.
    Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and generalization
    in neural networks", 2018, arXiv:1806.07572.
    Lee et al., "Wide neural networks of any depth evolve as linear models under
    gradient descent", 2019, arXiv:1902.06720.
    Novak et al., "Fast finite width neural tangent kernel", 2022, arXiv:2206.08720.
"""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from lm_sims._config import check_choice, check_int, check_real, config_dataclass

__all__ = [
    "ACTIVATIONS",
    "Config",
    "LinearizedPrediction",
    "chi",
    "correlation_map",
    "empirical_ntk",
    "length_fixed_point",
    "length_map",
    "nngp",
    "nngp_and_ntk",
    "nngp_diag",
    "ntk",
    "ntk_relu_sphere",
    "predict_linearized",
]

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


@functools.partial(jax.jit, static_argnames=("activation",))
def _correlation_map(c, q, sigma_w2, sigma_b2, *, activation):
    e, _ = _dual(activation, q, q, q * c, need_dot=False)
    q_next = sigma_w2 * _dual_diag(activation, q) + sigma_b2
    return (sigma_w2 * e + sigma_b2) / q_next


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


# --- signal propagation (Poole et al. 2016) ------------------------------------------


def length_map(q: Float[ArrayLike, " *shape"], cfg: Any) -> Float[Array, " *shape"]:
    """Length map: pre-activation variance of layer l+1 from that of layer l.

    .. math::

        q_{l+1} = \\sigma_w^2\\, \\mathbb E_{z\\sim N(0,1)}[\\phi(\\sqrt{q_l} z)^2]
        + \\sigma_b^2

    Args:
        q: variance(s) q_l >= 0, any shape.
        cfg: a kernel config (only activation, sigma_w2, sigma_b2 are used).

    Returns:
        float64 array q_{l+1}, same shape as q.

    References:
        Poole et al., "Exponential expressivity in deep neural networks through
        transient chaos", 2016, arXiv:1606.05340.
    """
    cfg = _as_config(cfg)
    with jax.enable_x64(True):
        sw2, sb2 = _f64(cfg.sigma_w2), _f64(cfg.sigma_b2)
        return _diag_recursion(_f64(q), sw2, sb2, activation=cfg.activation, depth=1)


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


def _resolve_q(cfg, q):
    """(q, sigma_b2, activation) at which to evaluate the correlation map.

    None means the fixed point q*. Limits replace the degenerate cases: ReLU and
    linear maps are scale invariant, so q -> inf is the sigma_b2 = 0 map at q = 1; at
    q = 0 (only with sigma_b2 = 0) erf acts as its linearisation and ReLU as at q = 1.
    """
    if q is None:
        q = length_fixed_point(cfg)
    elif not math.isinf(q):
        check_real("q", q, nonnegative=True)
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

    with ``q_{l+1} = length_map(q)``. Its slope at c = 1 is :func:`chi`: c = 1 is
    stable (ordered phase) if chi < 1 and unstable (chaotic phase) if chi > 1.

    Args:
        c: correlations in [-1, 1], any shape.
        cfg: a kernel config.
        q: the common pre-activation variance; None (default) uses the fixed point
            :func:`length_fixed_point`. For ReLU and linear networks whose q* is
            infinite, the q -> inf limit (the map with sigma_b2 = 0) is used.

    Returns:
        float64 array c_{l+1}, same shape as c.

    Raises:
        ValueError: q is negative, or infinite for erf.

    References:
        Poole et al., 2016, arXiv:1606.05340.
    """
    cfg = _as_config(cfg)
    q, sb2, activation = _resolve_q(cfg, q)
    with jax.enable_x64(True):
        c = jnp.clip(_f64(c), -1.0, 1.0)
        return _correlation_map(
            c, _f64(q), _f64(cfg.sigma_w2), _f64(sb2), activation=activation
        )


def chi(cfg: Any, q: float | None = None) -> float:
    """Slope chi_1 of the correlation map at c = 1: order (< 1) vs chaos (> 1).

    .. math:: \\chi_1 = \\sigma_w^2\\, \\mathbb E_{z\\sim N(0,1)}[\\phi'(\\sqrt{q}z)^2]

    ReLU: ``sigma_w2 / 2`` for every q (critical at He init, sigma_w2 = 2); erf:
    ``sigma_w2 (4/pi) / sqrt(1 + 4 q)``; linear: ``sigma_w2``. Gradients grow or
    shrink by a factor chi_1 per layer in backpropagation.

    Args:
        cfg: a kernel config.
        q: pre-activation variance; None (default) uses the fixed point q*.

    Returns:
        chi_1 as a Python float.

    References:
        Poole et al., 2016, arXiv:1606.05340; Schoenholz et al., "Deep information
        propagation", 2017, arXiv:1611.01232.
    """
    cfg = _as_config(cfg)
    if q is None:
        q = length_fixed_point(cfg)
    elif not math.isinf(q):
        check_real("q", q, nonnegative=True)
    if math.isinf(q):  # q-independent for ReLU and linear
        if cfg.activation == "erf":
            raise ValueError(f"q must be finite for erf, got q={q}")
        q = 1.0
    slope = {
        "relu": 0.5,
        "erf": (4.0 / math.pi) / math.sqrt(1.0 + 4.0 * q),
        "linear": 1.0,
    }[cfg.activation]  # E[phi'(u)^2], u ~ N(0, q): cheap scalar, plain Python
    return float(cfg.sigma_w2) * slope


# --- empirical NTK -------------------------------------------------------------------


def empirical_ntk(
    apply_fn: Callable[[Any, Array], Array],
    params: Any,
    x1: Float[Array, "n1 d"],
    x2: Float[Array, "n2 d"] | None = None,
    *,
    method: str = "auto",
    max_bytes: int = 2**28,
) -> Float[Array, "n1 n2"] | Float[Array, "n1 n2 k k"]:
    """Empirical NTK ``sum_p d f(x1) / d p  d f(x2) / d p`` of a finite network.

    The sum runs over every leaf of ``params`` (all trained at the same learning
    rate). Two ways to compute it (Novak et al. 2022), chosen by ``method``:

    * ``"jacobian"``: builds the Jacobians ``J1`` (n1 k x P) and ``J2`` with reverse
      mode and contracts them tensor by tensor. Memory ~ (n1 + n2) k P floats; the
      fastest when that fits.
    * ``"implicit"``: never forms a Jacobian. Column ``(j, o)`` of the Gram matrix is
      ``J1 (J2^T e_{j,o})``: one reverse-mode gradient of output o at the single point
      ``x2[j]`` followed by one forward-mode product over ``x1``. Columns are mapped
      with ``lax.map`` in batches holding at most ``max_bytes`` of gradients, so
      memory is a few copies of the parameters, whatever n1 and n2.
    * ``"auto"`` (default): "jacobian" if its Jacobians fit in ``max_bytes``, else
      "implicit".

    Works under ``jax.jit`` (wrap the call; ``apply_fn`` may close over traced
    values). In float32 the relative error is ~1e-6.

    Args:
        apply_fn: ``apply_fn(params, x) -> (n,)`` or ``(n, k)`` outputs.
        params: any pytree of float arrays.
        x1: inputs, shape (n1, d).
        x2: inputs, shape (n2, d), or None for ``x2 = x1``.
        method: "auto", "jacobian" or "implicit".
        max_bytes: memory budget in bytes for Jacobians or batched gradients.

    Returns:
        Shape (n1, n2) when ``apply_fn`` returns (n,) or (n, 1); otherwise the full
        block kernel of shape (n1, n2, k, k), entry ``[i, j, o, o']`` pairing output
        o at ``x1[i]`` with output o' at ``x2[j]``.

    Raises:
        ValueError: unknown method, or x1, x2 not 2-D with the same d.

    References:
        Novak et al., "Fast finite width neural tangent kernel", 2022,
        arXiv:2206.08720.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import kernels
        >>> f = lambda p, x: jnp.tanh(x @ p["w"]) @ p["v"]
        >>> p = {"w": jnp.ones((3, 4)), "v": jnp.ones(4)}
        >>> kernels.empirical_ntk(f, p, jnp.ones((2, 3))).shape
        (2, 2)
    """
    check_choice("method", method, ("auto", "jacobian", "implicit"))
    same = x2 is None
    x1, x2 = _check_inputs(jnp.asarray(x1), None if same else jnp.asarray(x2))

    def f(p, x):
        out = apply_fn(p, x)
        return out[:, None] if out.ndim == 1 else out

    k = jax.eval_shape(f, params, x1[:1]).shape[-1]
    leaves = jax.tree_util.tree_leaves(params)
    num_params = sum(int(np.prod(leaf.shape)) for leaf in leaves)
    itemsize = max(jnp.dtype(leaf.dtype).itemsize for leaf in leaves)
    n1, n2 = x1.shape[0], x2.shape[0]
    jac_bytes = ((n1 if same else n1 + n2) * k) * num_params * itemsize
    if method == "auto":
        method = "jacobian" if jac_bytes <= max_bytes else "implicit"

    if method == "jacobian":
        j1 = jax.jacrev(f)(params, x1)
        j2 = j1 if same else jax.jacrev(f)(params, x2)

        def contract(a, b):
            a = a.reshape(n1 * k, -1)
            b = b.reshape(n2 * k, -1)
            return a @ b.T

        gram = sum(
            contract(a, b)
            for a, b in zip(
                jax.tree_util.tree_leaves(j1),
                jax.tree_util.tree_leaves(j2),
                strict=True,
            )
        )
        gram = gram.reshape(n1, k, n2, k)
    else:

        def column(index):
            j, o = index // k, index % k
            grad = jax.grad(lambda p: f(p, x2[j][None])[0, o])(params)
            return jax.jvp(lambda p: f(p, x1), (params,), (grad,))[1]  # (n1, k)

        batch = int(max(1, min(n2 * k, max_bytes // (num_params * itemsize))))
        cols = jax.lax.map(column, jnp.arange(n2 * k), batch_size=batch)
        gram = jnp.transpose(cols.reshape(n2, k, n1, k), (2, 3, 0, 1))
    gram = jnp.transpose(gram, (0, 2, 1, 3))  # (n1, n2, k, k)
    return gram[:, :, 0, 0] if k == 1 else gram


# --- linearised training dynamics ----------------------------------------------------


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
