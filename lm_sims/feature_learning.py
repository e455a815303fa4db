# ruff: noqa: F722  (jaxtyping shape strings are not Python expressions)
r"""How far hidden features move in one gradient step: SP, NTK and muP compared.

A depth-3 ReLU MLP (input layer, one hidden-to-hidden layer, scalar readout) of width
n is written in *abc* form (Yang & Hu 2021): layer l has a fixed multiplier
:math:`n^{-a_l}`, trainable weights initialised with standard deviation
:math:`n^{-b_l}`, and its own learning rate :math:`\mathrm{lr} \cdot n^{-c_l}`,

.. math::

    h_1 = \phi(m_1 W_1 x), \quad h_2 = \phi(m_2 W_2 h_1), \quad f = m_3 W_3 h_2,
    \qquad \phi = \mathrm{relu}.                                  (abc-mlp)

With input dimension d (fixed) and fan-in / fan-out (d, n), (n, n), (n, 1):

========  ======================  ===========================  ===================
param.    multipliers m_l         init std of W_l              learning rates
========  ======================  ===========================  ===================
``sp``    1, 1, 1                 1/sqrt(d), 1/sqrt(n),        lr, lr, lr
                                  1/sqrt(n)
``ntk``   1/sqrt(d), 1/sqrt(n),   1, 1, 1                      lr, lr, lr
          1/sqrt(n)
``mup``   1, 1, 1                 1/sqrt(d), 1/sqrt(n), 1/n    lr * n, lr, lr / n
========  ======================  ===========================  ===================

(muP for SGD, Yang et al. 2022, Table 3: init variance 1/fan_in, 1/fan_in,
1/fan_in^2 and learning rates lr * fan_out, lr, lr / fan_in.) All three give
activations of order one at initialisation. After one step at a fixed base ``lr``
they differ (the *coordinate check*): per coordinate, the hidden features move by

* ``ntk``: :math:`\Theta(n^{-1/2})`: the kernel (lazy) limit, features freeze;
* ``mup``: :math:`\Theta(1)`, and the output by :math:`\Theta(1)`: features learn at
  every width (the maximal-update limit);
* ``sp``: the first hidden layer (fan-in d) by :math:`n^{-1/2}`, the second by
  :math:`n^{1/2}`, and the output by :math:`n`: SP blows up unless lr falls as 1/n.

This module is self-contained (an abc MLP small enough to read in one go); it may
later share code with ``lm_sims.mlp``.

References:
    Yang & Hu, "Feature Learning in Infinite-Width Neural Networks", 2021,
    arXiv:2011.14522.
    Yang et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
    Hyperparameter Transfer", 2022, arXiv:2203.03466.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from lm_sims._config import check_choice, check_int, check_key, check_real

__all__ = [
    "PARAMETERIZATIONS",
    "FeatureChange",
    "LayerScales",
    "Params",
    "feature_change_after_one_step",
    "forward",
    "init",
    "layer_scales",
    "loss",
]

PARAMETERIZATIONS = ("sp", "ntk", "mup")


class LayerScales(NamedTuple):
    """The abc table for one width: one entry per layer (input, hidden, readout).

    Attributes:
        multiplier: fixed forward multipliers ``m_l = n^{-a_l}``.
        init_std: standard deviations of the trainable weights, ``n^{-b_l}``.
        lr_scale: per-layer learning-rate factors ``n^{-c_l}`` (times ``lr``).
    """

    multiplier: tuple[float, float, float]
    init_std: tuple[float, float, float]
    lr_scale: tuple[float, float, float]


class Params(NamedTuple):
    """Trainable weights of the depth-3 MLP (abc-mlp).

    Attributes:
        w1: input layer, ``Float[Array, "width input_dim"]``.
        w2: hidden-to-hidden layer, ``Float[Array, "width width"]``.
        w3: readout, ``Float[Array, "width"]``.
    """

    w1: Float[Array, "width input_dim"]
    w2: Float[Array, "width width"]
    w3: Float[Array, " width"]


class FeatureChange(NamedTuple):
    """RMS change of the network's activations after one gradient step.

    Attributes:
        hidden: RMS over batch and coordinates of ``h_l(after) - h_l(before)``
            for the two hidden layers (index 0: after the input layer, index 1:
            after the hidden-to-hidden layer), shape (2,).
        output: RMS over the batch of ``f(after) - f(before)``, scalar.
        hidden_init: RMS of ``h_l`` at initialisation (order one in every
            parameterisation), shape (2,).
    """

    hidden: Float[np.ndarray, " 2"]
    output: Float[np.ndarray, ""]
    hidden_init: Float[np.ndarray, " 2"]


def layer_scales(parameterization: str, width: int, input_dim: int) -> LayerScales:
    """Multipliers, init standard deviations and learning-rate factors per layer.

    Args:
        parameterization: ``"sp"``, ``"ntk"`` or ``"mup"`` (table in the module
            docstring).
        width: hidden width n (int >= 1).
        input_dim: input dimension d (int >= 1).

    Returns:
        :class:`LayerScales` of Python floats.

    Raises:
        ValueError: unknown ``parameterization``, or width / input_dim < 1.

    Example:
        >>> layer_scales("mup", 256, 16).lr_scale
        (256.0, 1.0, 0.00390625)
    """
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_int("width", width, minimum=1)
    check_int("input_dim", input_dim, minimum=1)
    n, d = float(width), float(input_dim)
    if parameterization == "sp":
        return LayerScales((1.0, 1.0, 1.0), (d**-0.5, n**-0.5, n**-0.5), (1.0,) * 3)
    if parameterization == "ntk":
        return LayerScales((d**-0.5, n**-0.5, n**-0.5), (1.0,) * 3, (1.0,) * 3)
    return LayerScales((1.0, 1.0, 1.0), (d**-0.5, n**-0.5, 1.0 / n), (n, 1.0, 1.0 / n))


def init(
    key: jax.Array, width: int, parameterization: str, input_dim: int = 16
) -> Params:
    """Draw Gaussian weights with the parameterisation's init standard deviations.

    Args:
        key: PRNG key.
        width: hidden width n.
        parameterization: ``"sp"``, ``"ntk"`` or ``"mup"``.
        input_dim: input dimension d.

    Returns:
        :class:`Params` in the default float dtype (float64 under
        ``jax.enable_x64``).
    """
    std = layer_scales(parameterization, width, input_dim).init_std
    return _init(key, width, input_dim, std)


def _init(key, width, input_dim, std):
    # One Gaussian draw sliced into the three matrices: a single RNG op compiles
    # several times faster on CPU than one per array, and compilation dominates
    # the cost of a one-step check.
    sizes = (width * input_dim, width * width)
    z = jax.random.normal(key, (sum(sizes) + width,))
    z1, z2, z3 = jnp.split(z, np.cumsum(sizes))
    return Params(
        std[0] * z1.reshape(width, input_dim),
        std[1] * z2.reshape(width, width),
        std[2] * z3,
    )


def forward(
    params: Params,
    x: Float[Array, "batch input_dim"],
    multiplier: tuple[float, float, float],
) -> tuple[
    Float[Array, "batch width"], Float[Array, "batch width"], Float[Array, " batch"]
]:
    """Activations of (abc-mlp): ``(h1, h2, f)``.

    Args:
        params: the weights.
        x: inputs, shape (batch, input_dim).
        multiplier: ``LayerScales.multiplier`` of the parameterisation.

    Returns:
        Hidden activations h1, h2 of shape (batch, width) and outputs f (batch,).
    """
    h1 = jax.nn.relu(multiplier[0] * x @ params.w1.T)
    h2 = jax.nn.relu(multiplier[1] * h1 @ params.w2.T)
    return h1, h2, multiplier[2] * h2 @ params.w3


def loss(
    params: Params,
    x: Float[Array, "batch input_dim"],
    y: Float[Array, " batch"],
    multiplier: tuple[float, float, float],
) -> Float[Array, ""]:
    """Squared loss ``1/2 mean_mu (f(x_mu) - y_mu)^2``."""
    return 0.5 * jnp.mean((forward(params, x, multiplier)[2] - y) ** 2)


def _rms(x, axis=None):
    return jnp.sqrt(jnp.mean(x**2, axis=axis))


def feature_change_after_one_step(
    key: jax.Array,
    width: int,
    parameterization: str,
    lr: float,
    *,
    input_dim: int = 16,
    batch_size: int = 32,
    center_output: bool = True,
) -> FeatureChange:
    """Take one full-batch gradient step and measure how far the features moved.

    The coordinate check of Yang et al. (2022): inputs ``x ~ N(0, I_d)`` (each
    input-layer preactivation has variance 1 at init) and targets ``y ~ N(0, 1)``,
    both drawn from ``key`` alone, so one key gives the same batch at every width;
    loss ``1/2 mean (f - y)^2`` over the batch; one step
    ``W_l <- W_l - lr * lr_scale_l * grad_l``; activations compared on the same
    batch before and after. Computed in float64 (at large width the NTK changes
    are ~1e-5 of the activations).

    Predicted width exponents (module docstring), ``hidden`` / ``output``:
    ntk (-1/2, -1/2) / 0; mup (0, 0) / 0; sp (-1/2, +1/2) / +1. They hold while the
    step is in linear response (the changes proportional to lr; halve lr to check).
    Measured on widths 64 to 2048 with lr = 1e-3 (8 seeds): ntk -0.50, -0.50 /
    0.00; mup 0.00, 0.00 / 0.00; sp -0.50, +0.46 / +0.98 (the sp second layer
    approaches +1/2 from below: its update also has an O(1) part, relative size
    ~n^-1/2).

    Centring (``center_output=True``, the default): the step is taken on the
    centred network ``f - f_0`` (targets shifted by the initial output), so the
    error signal is ``-y`` at every width. In sp and ntk the initial output is
    O(1) and random, and uncentred it sets a random prefactor on every update
    that differs from width to width (per-seed spread of the fitted exponents
    ~0.3 instead of ~0.05). Centring leaves the exponents unchanged; in muP
    ``f_0 -> 0`` anyway.

    Args:
        key: PRNG key (weights and data).
        width: hidden width n (int >= 1).
        parameterization: ``"sp"``, ``"ntk"`` or ``"mup"``.
        lr: base learning rate (> 0), the same for every width.
        input_dim: input dimension d (int >= 1).
        batch_size: number of inputs in the step and in the measurement.
        center_output: take the step on ``f - f_0`` (see above).

    Returns:
        :class:`FeatureChange` of NumPy float64 arrays.

    Raises:
        ValueError: unknown parameterisation, lr <= 0 or not finite, width,
            input_dim or batch_size < 1.
        TypeError: ``key`` is not a PRNG key, a size is not an int, or
            ``center_output`` is not a bool.

    Example:
        >>> import jax
        >>> c = feature_change_after_one_step(jax.random.key(0), 256, "mup", 0.01)
        >>> c.hidden.shape
        (2,)
    """
    check_key(key)
    check_int("width", width, minimum=1)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_real("lr", lr, positive=True)
    check_int("input_dim", input_dim, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    if not isinstance(center_output, bool):
        raise TypeError(f"center_output must be a bool, got {center_output!r}")
    scales = layer_scales(parameterization, width, input_dim)
    with jax.enable_x64(True):
        # the table enters as traced numbers: one compilation per width serves
        # all three parameterisations and every lr
        scales = jax.tree_util.tree_map(jnp.float64, scales)
        out = _one_step(
            key, width, input_dim, batch_size, center_output, scales, jnp.float64(lr)
        )
    # NumPy float64, so callers outside x64 mode can compute with it freely
    return FeatureChange(*(np.asarray(v, np.float64) for v in out))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _one_step(key, width, input_dim, batch_size, center_output, scales, lr):
    k_data, k_init = jax.random.split(key)
    # the data depend on the key only, so one key gives the same batch at every width
    data = jax.random.normal(k_data, (batch_size, input_dim + 1))
    x, y = data[:, :input_dim], data[:, input_dim]
    params = _init(k_init, width, input_dim, scales.init_std)
    h1, h2, f = forward(params, x, scales.multiplier)
    # centring: the step sees f - f_0, i.e. its error signal is -y at every width
    grads = jax.grad(loss)(params, x, y + f if center_output else y, scales.multiplier)
    steps = zip(params, scales.lr_scale, grads, strict=True)
    new = Params(*(p - lr * s * g for p, s, g in steps))
    g1, g2, f_new = forward(new, x, scales.multiplier)
    return FeatureChange(
        hidden=jnp.stack([_rms(g1 - h1), _rms(g2 - h2)]),
        output=_rms(f_new - f),
        hidden_init=jnp.stack([_rms(h1), _rms(h2)]),
    )
