"""Finite random networks at initialisation: output samples and hidden
pre-activations of :mod:`lm_sims.mlp` networks, the simulations the NNGP and the
signal-propagation maps predict. Re-exported by :mod:`lm_sims.kernels`."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

# lm_sims.mlp imports lm_sims.kernels, which imports this module last (after every
# name mlp needs): here mlp may be partly initialised, so it is used only inside
# functions, never at import time.
from lm_sims import mlp
from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_float_pytree,
    check_int,
    check_key,
    check_layer_shapes,
    num_bytes,
)


@functools.partial(jax.jit, static_argnames=("num_inits",))
def _init_many(key, cfg, num_inits):
    return jax.vmap(lambda k: mlp.init(k, cfg))(jax.random.split(key, num_inits))


@jax.jit
def _apply_many(params, x, cfg):
    return jax.vmap(lambda p: mlp.apply(p, x, cfg))(params)


def _check_cfg(cfg):
    if not isinstance(cfg, mlp.Config):
        raise TypeError(
            f"cfg must be an lm_sims.mlp.Config, got {type(cfg).__name__} (for "
            "kernels.Config, build the network with mlp.Config(...))"
        )


def _check_x(x, cfg):
    x = as_float_array("x", x)
    if x.ndim != 2 or x.shape[1] != cfg.d_in or x.shape[0] < 1:
        raise ValueError(
            f"x must have shape (n, d_in={cfg.d_in}) with n >= 1, got shape "
            f"{tuple(x.shape)}"
        )
    return x


def _num_params(cfg):
    dims = (cfg.d_in,) + (cfg.width,) * cfg.depth + (cfg.d_out,)
    return sum((m + 1) * n for m, n in zip(dims[:-1], dims[1:], strict=True))


def _check_params(params, cfg):
    check_layer_shapes(
        params,
        (cfg.d_in,) + (cfg.width,) * cfg.depth + (cfg.d_out,),
        "mlp",
        f": params do not match cfg (width={cfg.width}, depth={cfg.depth}, "
        f"d_in={cfg.d_in}, d_out={cfg.d_out})",
    )
    check_float_pytree("params", params)


def output_samples(
    key: jax.Array, cfg: mlp.Config, x: Float[ArrayLike, "n d_in"], num_inits: int
) -> Float[Array, "num_inits n d_out"]:
    """Outputs of ``num_inits`` independently initialised networks at the inputs x.

    Samples of the random function whose infinite-width limit is the Gaussian
    process with covariance :func:`nngp`: ``E[f(x) f(x')]`` over networks is
    ``nngp(x, x', cfg)`` for every output, exactly at any width for one hidden
    layer, up to O(1/width) beyond. In the NTK parameterisation the stored
    parameters are standard normal whatever ``sigma_w2`` and ``sigma_b2`` (they enter
    as multipliers), so the same key gives the same draws at every variance.

    Args:
        key: PRNG key; network m uses ``jax.random.split(key, num_inits)[m]``.
        cfg: an :class:`lm_sims.mlp.Config` (``parameterization`` "sp" or "ntk"
            give the same outputs at initialisation).
        x: inputs, shape (n, d_in), coordinates of order one (e.g. :func:`circle`).
        num_inits: number of networks (int >= 1).

    Returns:
        outputs, shape (num_inits, n, d_out), in the default float dtype.

    Raises:
        ValueError: num_inits < 1, x is not of shape (n, cfg.d_in) with n >= 1 or
            has NaN, or the networks would exceed ``lm_sims._config.MAX_BYTES``.
        TypeError: key is not a PRNG key, cfg is not an mlp.Config, x is not real,
            or num_inits is not an integer.

    References:
        Neal, "Bayesian Learning for Neural Networks", 1996; Lee et al., "Deep
        neural networks as Gaussian processes", 2018, arXiv:1711.00165.

    Example:
        >>> import jax, numpy as np
        >>> from lm_sims import kernels, mlp
        >>> cfg = mlp.Config(width=64, d_in=2, d_out=3)
        >>> x = kernels.circle(np.array([0.0, 1.0]))
        >>> kernels.output_samples(jax.random.key(0), cfg, x, 10).shape
        (10, 2, 3)
    """
    check_key(key)
    _check_cfg(cfg)
    check_int("num_inits", num_inits, minimum=1)
    x = _check_x(x, cfg)
    check_allocation(
        f"{num_inits} networks of {_num_params(cfg)} parameters",
        num_bytes(num_inits, _num_params(cfg) + x.shape[0] * cfg.width),
        "use fewer num_inits (or call it several times with different keys)",
    )
    params = _init_many(key, cfg, int(num_inits))
    return _apply_many(params, x, cfg)


_PHI = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "linear": lambda h: h,
}


@jax.jit
def _preactivations(params, x, cfg):
    phi = _PHI[cfg.activation]
    scales = mlp.layer_scales(cfg)
    h, hs = x, []
    for i in range(cfg.depth):
        layer, s = params[i], scales[i]
        if i > 0:
            h = phi(h)
        h = s.w_mult * (h @ layer.w) + s.b_mult * layer.b
        hs.append(h)
    return jnp.stack(hs)


def preactivations(
    params: mlp.Params, x: Float[ArrayLike, "n d_in"], cfg: mlp.Config
) -> Float[Array, "depth n width"]:
    """Pre-activations ``h^1 .. h^L`` of every hidden layer of an :mod:`lm_sims.mlp`
    network.

    The same arithmetic as :func:`lm_sims.mlp.apply`, which returns only the output
    ``h^{L+1}``. At large width, ``|h^l|^2 / n`` and the cosine between two inputs'
    ``h^l`` follow :func:`signal_propagation_theory`. Jitted; may be called on
    traced parameters.

    Args:
        params: network parameters (``depth + 1`` layers).
        x: inputs, shape (n, d_in).
        cfg: network config.

    Returns:
        shape (depth, n, width).

    Raises:
        ValueError: x is not of shape (n, cfg.d_in) or has NaN, or the shapes
            of params do not match cfg, or params has NaN or inf entries.
        TypeError: cfg is not an mlp.Config, x is not an array of reals, or
            params is not a tuple of layers of real arrays.

    References:
        Poole et al., "Exponential expressivity in deep neural networks through
        transient chaos", 2016, arXiv:1606.05340.

    Example:
        >>> import jax, numpy as np
        >>> from lm_sims import kernels, mlp
        >>> cfg = mlp.Config(width=16, depth=3, d_in=2)
        >>> p = mlp.init(jax.random.key(0), cfg)
        >>> kernels.preactivations(p, kernels.circle(np.zeros(4)), cfg).shape
        (3, 4, 16)
    """
    _check_cfg(cfg)
    x = _check_x(x, cfg)
    _check_params(params, cfg)
    return _preactivations(params, x, cfg)
