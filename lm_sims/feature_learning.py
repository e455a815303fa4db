# ruff: noqa: F722  (jaxtyping shape strings are not Python expressions)
r"""How far hidden features move in one gradient step: SP, NTK and muP compared.

The network is an :mod:`lm_sims.mlp` network with two hidden ReLU layers of width n,
input dimension d and a scalar readout, no biases (``sigma_b2 = 0``: the biases
start at zero and are not trained) and ``sigma_w2 = 1``. In the *abc* form of
:mod:`lm_sims.mlp` (Yang & Hu 2021) layer l has a fixed multiplier :math:`m_l`,
stored weights :math:`w_l` initialised with standard deviation :math:`s_l` and
trained at ``lr * lr_scale_l``, and uses the effective weights :math:`W_l = m_l
w_l`:

.. math::

    h_1 = \phi(W_1 x), \quad h_2 = \phi(W_2 h_1), \quad f = W_3 h_2,
    \qquad \phi = \mathrm{relu}.                                  (abc-mlp)

With fan-in / fan-out (d, n), (n, n), (n, 1), :func:`lm_sims.mlp.layer_scales`
gives:

========  ========================  ===============================  ==========
param.    multipliers m_l           init std s_l of w_l              lr scales
========  ========================  ===============================  ==========
``sp``    1, 1, 1                   1/sqrt(d), 1/sqrt(n), 1/sqrt(n)  1, 1, 1
``ntk``   1/sqrt(d), 1/sqrt(n),     1, 1, 1                          1, 1, 1
          1/sqrt(n)
``mup``   sqrt(n), 1, 1/sqrt(n)     1/sqrt(d n), 1/sqrt(n),          1, 1, 1
                                    1/sqrt(n)
========  ========================  ===============================  ==========

**The abc symmetry.** A multiplier ``m`` on a weight trained at rate ``eta`` moves
the effective weight ``W = m w`` at rate ``eta m^2``. So what gradient descent does
depends only on the effective init std ``m s`` and effective rate
``lr * lr_scale * m^2`` (:func:`effective_layer_scales`). For ``mup`` these are
``1/sqrt(d), 1/sqrt(n), 1/n`` and ``lr n, lr, lr / n``: muP for SGD as Table 3 of
Yang et al. (2022) writes it (no multipliers; init variance 1/fan_in, 1/fan_in,
1/fan_in^2; learning rates lr * fan_out, lr, lr / fan_in), step for step the same
network; ``ntk`` is ``sp`` with effective rates ``lr / d, lr / n, lr / n``.

All three give activations of order one at initialisation (the same ones for one
key). After one step at a fixed base ``lr`` they differ (the *coordinate check*):
per coordinate, the hidden features move by (:func:`predicted_exponents`)

* ``ntk``: :math:`\Theta(n^{-1/2})`: the kernel (lazy) limit, features freeze;
* ``mup``: :math:`\Theta(1)`, and the output by :math:`\Theta(1)`: features learn at
  every width (the maximal-update limit);
* ``sp``: the first hidden layer (fan-in d) by :math:`n^{-1/2}`, the second by
  :math:`n^{1/2}`, and the output by :math:`n`: SP blows up unless lr falls as 1/n.

References:
    Yang & Hu, "Feature Learning in Infinite-Width Neural Networks", 2021,
    arXiv:2011.14522.
    Yang et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
    Hyperparameter Transfer", 2022, arXiv:2203.03466.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from lm_sims import kernels, mlp
from lm_sims._compat import enable_x64
from lm_sims._config import (
    as_float_array,
    check_budget_arg,
    check_bytes,
    check_choice,
    check_instance,
    check_int,
    check_int_sequence,
    check_key,
    check_real,
    check_representable,
    check_shape,
    check_work,
    config_dataclass,
)

__all__ = [
    "ADAM_EXPONENTS",
    "EXPONENTS",
    "PARAMETERIZATIONS",
    "SP_LR_SCALINGS",
    "WIDTHS",
    "Config",
    "EffectiveScales",
    "FeatureChange",
    "effective_layer_scales",
    "feature_change_after_one_step",
    "features",
    "init",
    "loss",
    "network_config",
    "OPTIMIZERS",
    "one_step_changes",
    "predicted_exponents",
    "sample_batch",
]

PARAMETERIZATIONS = mlp.PARAMETERIZATIONS
WIDTHS = (64, 128, 256, 512, 1024)  # the widths of :func:`one_step_changes`
# Predicted width exponents of the one-step change at a fixed base lr (Yang & Hu
# 2021): (hidden layer 1, hidden layer 2, output) per parameterisation.
EXPONENTS = {
    "sp": (-0.5, 0.5, 1.0),
    "ntk": (-0.5, -0.5, 0.0),
    "mup": (0.0, 0.0, 0.0),
}
# With Adam (first step: sign descent, each stored entry moves by its lr), at a fixed
# base lr: SP's and NTK's updates add up coherently over n inputs per unit.
ADAM_EXPONENTS = {
    "sp": (0.0, 1.0, 1.5),
    "ntk": (0.0, 0.5, 1.0),
    "mup": (0.0, 0.0, 0.0),
}
OPTIMIZERS = ("gd", "adam")  # the optimizers of the one-step coordinate check
# How SP's learning rate depends on width in :func:`one_step_changes`: fixed, or
# falling as 1/n from its value at the smallest width, 64 (the largest stable choice)
SP_LR_SCALINGS = ("fixed", "lr × 64/n")


@config_dataclass(
    static=("width", "parameterization", "input_dim", "batch_size", "optimizer")
)
class Config:
    """One gradient step of the two-hidden-layer network (abc-mlp).

    Attributes:
        width: hidden width n (int >= 1). Static.
        parameterization: "sp", "ntk" or "mup" (module docstring). Static.
        input_dim: input dimension d (int >= 1). Static.
        batch_size: number of inputs in the step and in the measurement (int >= 1).
            Static.
        center_output: take the step on the centred network ``f - f_0`` (see
            :func:`feature_change_after_one_step`). A bool; dynamic (switching it
            does not recompile).
        lr: base learning rate (> 0), the same at every width; layer l is trained
            at ``lr * lr_scale_l`` (:func:`lm_sims.mlp.layer_scales`); nonzero
            and finite in the run's dtype (float32: in [1.2e-38, 3.4e38]).
        optimizer: "gd" (default: one gradient step) or "adam" (one Adam step,
            with muP's Adam rates for "mup", see :mod:`lm_sims.mlp`). Static.
    """

    width: int = 256
    parameterization: str = "mup"
    input_dim: int = 16
    batch_size: int = 32
    center_output: bool = True
    lr: float = 0.01
    optimizer: str = "gd"

    def _validate(self):
        check_int("width", self.width, minimum=1)
        check_choice("parameterization", self.parameterization, PARAMETERIZATIONS)
        check_int("input_dim", self.input_dim, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        value = self.center_output
        if not (isinstance(value, (bool, np.bool_)) or np.asarray(value).dtype == bool):
            raise TypeError(
                f"center_output must be a bool, got center_output={value!r}"
            )
        check_real("lr", self.lr, positive=True)
        check_representable("lr", self.lr)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)


class EffectiveScales(NamedTuple):
    """Init standard deviations and learning-rate factors of the effective weights
    ``W_l = m_l w_l`` (input layer, hidden layer, readout).

    Attributes:
        init_std: ``m_l s_l``, the standard deviation of the entries of ``W_l``.
        lr_scale: ``lr_scale_l m_l^2``: ``W_l`` moves at ``lr * lr_scale``; with
            Adam ``lr_scale_l m_l`` (each entry of ``W_l`` moves by about
            ``lr * lr_scale``).
    """

    init_std: tuple[float, float, float]
    lr_scale: tuple[float, float, float]


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


def network_config(cfg: Config) -> mlp.Config:
    """The :class:`lm_sims.mlp.Config` of the network: two hidden ReLU layers of
    width ``cfg.width``, ``d_in = cfg.input_dim``, ``d_out = 1``, ``sigma_w2 = 1``,
    ``sigma_b2 = 0``, the parameterisation and lr of ``cfg``.

    Args:
        cfg: a :class:`Config`.

    Returns:
        :class:`lm_sims.mlp.Config` (``steps = 1``).

    Raises:
        TypeError: cfg is not a :class:`Config`.

    Example:
        >>> from lm_sims import feature_learning as fl
        >>> net = fl.network_config(fl.Config(width=64))
        >>> net.depth, net.d_in, net.parameterization
        (2, 16, 'mup')
    """
    if not isinstance(cfg, Config):
        raise TypeError(
            f"cfg must be a feature_learning.Config, got {type(cfg).__name__}"
        )
    return mlp.Config(
        width=cfg.width,
        depth=2,
        d_in=cfg.input_dim,
        d_out=1,
        activation="relu",
        parameterization=cfg.parameterization,
        steps=1,
        record_every=1,
        sigma_w2=1.0,
        sigma_b2=0.0,
        lr=cfg.lr,
        optimizer=cfg.optimizer,
    )


def effective_layer_scales(cfg: Config) -> EffectiveScales:
    """Effective init standard deviations and learning-rate factors (abc symmetry).

    For layer l with multiplier ``m``, init std ``s`` and rate ``lr * c``
    (:func:`lm_sims.mlp.layer_scales`), the effective weight ``W = m w`` starts with
    std ``m s`` and moves at rate ``lr * c * m^2``. Two parameterisations with the
    same effective scales train identically.

    Args:
        cfg: a :class:`Config` (width, input_dim, parameterization are used).

    Returns:
        :class:`EffectiveScales` of Python floats, input layer first. For "mup":
        init std ``(d^-1/2, n^-1/2, n^-1)`` and lr scales ``(n, 1, 1/n)``, Table 3
        of Yang et al. (2022).

    Raises:
        TypeError: cfg is not a :class:`Config`.

    References:
        Yang et al., "Tensor Programs V", 2022, arXiv:2203.03466, Table 3.

    Example:
        >>> from lm_sims import feature_learning as fl
        >>> fl.effective_layer_scales(fl.Config(width=256)).lr_scale
        (256.0, 1.0, 0.00390625)
    """
    scales = mlp.layer_scales(network_config(cfg))
    std = tuple(float(s.w_mult * s.w_std) for s in scales)
    power = 1 if cfg.optimizer == "adam" else 2  # Adam's step ignores |gradient|
    lr = tuple(float(s.w_lr * s.w_mult**power) for s in scales)
    return EffectiveScales(std, lr)


def init(key: jax.Array, cfg: Config) -> mlp.Params:
    """Draw the network's stored parameters: :func:`lm_sims.mlp.init` of
    :func:`network_config` (biases are zero).

    Args:
        key: PRNG key.
        cfg: a :class:`Config`.

    Returns:
        ``lm_sims.mlp.Params``: three layers, weights of shapes (d, n),
        (n, n), (n, 1), in the default float dtype.

    Raises:
        TypeError: key is not a PRNG key or cfg is not a :class:`Config`.

    Example:
        >>> import jax
        >>> from lm_sims import feature_learning as fl
        >>> p = fl.init(jax.random.key(0), fl.Config(width=32, input_dim=5))
        >>> [layer.w.shape for layer in p]
        [(5, 32), (32, 32), (32, 1)]
    """
    check_key(key)
    return mlp.init(key, network_config(cfg))


def sample_batch(
    key: jax.Array, cfg: Config
) -> tuple[Float[Array, "batch input_dim"], Float[Array, " batch"]]:
    """The batch of the coordinate check: ``x ~ N(0, I_d)``, ``y ~ N(0, 1)``.

    It depends on the key, d and the batch size only, so one key gives the same
    batch at every width and parameterisation.

    Args:
        key: PRNG key.
        cfg: a :class:`Config`.

    Returns:
        ``(x, y)`` of shapes (batch_size, input_dim) and (batch_size,).

    Raises:
        TypeError: key is not a PRNG key or cfg is not a :class:`Config`.

    Example:
        >>> import jax
        >>> from lm_sims import feature_learning as fl
        >>> x, y = fl.sample_batch(jax.random.key(0), fl.Config(batch_size=4))
        >>> x.shape, y.shape
        ((4, 16), (4,))
    """
    check_key(key)
    check_instance("cfg", cfg, Config)
    return _sample_batch(key, cfg)


def _sample_batch(key, cfg):
    data = jax.random.normal(key, (cfg.batch_size, cfg.input_dim + 1))
    return data[:, : cfg.input_dim], data[:, cfg.input_dim]


def features(
    params: mlp.Params, x: Float[Array, "batch input_dim"], cfg: Config
) -> tuple[
    Float[Array, "batch width"], Float[Array, "batch width"], Float[Array, " batch"]
]:
    """Activations of (abc-mlp): ``(h1, h2, f)``.

    The hidden features are ``relu`` of :func:`lm_sims.kernels.preactivations`,
    the output is :func:`lm_sims.mlp.apply`.

    Args:
        params: the network's parameters.
        x: inputs, shape (batch, input_dim).
        cfg: a :class:`Config`.

    Returns:
        Hidden activations h1, h2 of shape (batch, width) and outputs f (batch,).

    Raises:
        TypeError: cfg is not a :class:`Config`, or x is not an array of real
            numbers.
        ValueError: params do not have the shapes ``init(key, cfg)`` gives, x
            is not (batch, input_dim) with batch >= 1, or x has NaN or inf
            entries.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import feature_learning as fl
        >>> cfg = fl.Config(width=32, input_dim=5)
        >>> h1, h2, f = fl.features(fl.init(jax.random.key(0), cfg),
        ...                         jnp.ones((7, 5)), cfg)
        >>> h1.shape, f.shape
        ((7, 32), (7,))
    """
    net = network_config(cfg)
    x = mlp._check_network(params, x, net)
    h = jax.nn.relu(kernels.preactivations(params, x, net))
    return h[0], h[1], mlp.apply(params, x, net)[:, 0]


def loss(
    params: mlp.Params,
    x: Float[Array, "batch input_dim"],
    y: Float[Array, " batch"],
    cfg: Config,
) -> Float[Array, ""]:
    """Squared loss ``1/2 mean_mu (f(x_mu) - y_mu)^2`` (:func:`lm_sims.mlp.loss`).

    Args:
        params: the network's parameters.
        x: inputs, shape (batch, input_dim).
        y: targets, shape exactly (batch,) (a (batch, 1) array is refused, not
            broadcast).
        cfg: a :class:`Config`.

    Returns:
        scalar loss.

    Raises:
        TypeError: cfg is not a :class:`Config`, or x or y is not an array of
            real numbers.
        ValueError: y is not (batch,), x is not (batch, input_dim) with
            batch >= 1, x or y has NaN or inf entries, or params do not match
            cfg.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import feature_learning as fl
        >>> cfg = fl.Config(width=8, input_dim=3)
        >>> p = fl.init(jax.random.key(0), cfg)
        >>> float(fl.loss(p, jnp.zeros((4, 3)), jnp.zeros(4), cfg))
        0.0
    """
    net = network_config(cfg)
    x = mlp._check_network(params, x, net)
    y = as_float_array("y", y)
    check_shape("y", y.shape, (x.shape[0],), "(batch,)")
    return mlp.loss(params, x, y[:, None], net)


def _rms(x, axis=None):
    return jnp.sqrt(jnp.mean(x**2, axis=axis))


def feature_change_after_one_step(
    key: jax.Array,
    cfg: Config,
    *,
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> FeatureChange:
    """Take one full-batch gradient step and measure how far the features moved.

    The coordinate check of Yang et al. (2022): ``k_data, k_init =
    jax.random.split(key)``; the batch is :func:`sample_batch` of ``k_data`` (the
    same at every width) and the weights :func:`init` of ``k_init``; loss
    ``1/2 mean (f - y)^2`` over the batch; one step ``w_l <- w_l - lr *
    lr_scale_l * grad_l`` on every weight (biases stay zero); activations compared
    on the same batch before and after. Computed in float64 (at large width the
    NTK changes are ~1e-5 of the activations).

    Predicted width exponents (:func:`predicted_exponents`), ``hidden`` /
    ``output``: ntk (-1/2, -1/2) / 0; mup (0, 0) / 0; sp (-1/2, +1/2) / +1. They
    hold while the step is in linear response (the changes proportional to lr;
    halve lr to check). Measured on widths 64 to 1024 with lr = 1e-3 (8 seeds,
    tests/test_feature_learning.py): ntk -0.50, -0.50 / 0.00; mup 0.00, 0.00 /
    0.00; sp -0.50, +0.45 / +1.00 (the sp second layer approaches +1/2 from below:
    its update also has an O(1) part, of relative size ~n^-1/2).

    Centring (``cfg.center_output=True``, the default): the step is taken on the
    centred network ``f - f_0`` (targets shifted by the initial output), so the
    error signal is ``-y`` at every width. In sp and ntk the initial output is
    O(1) and random, and uncentred it sets a random prefactor on every update that
    differs from width to width (per-seed spread of the fitted exponents ~0.3
    instead of ~0.05). Centring leaves the exponents unchanged; in muP
    ``f_0 ~ n^-1/2 -> 0`` and centring stops mattering.

    Args:
        key: PRNG key (weights and data).
        cfg: a :class:`Config`.
        max_bytes: refuse steps estimated to hold more than this many bytes
            (float64 weights, gradients, the updated copy and the activations);
            default ``lm_sims._config.MAX_BYTES`` (4 GiB).
        max_work: refuse steps estimated above this many flop-equivalents
            (``12 * batch * parameters``); default ``lm_sims._config.MAX_WORK``.

    Returns:
        :class:`FeatureChange` of NumPy float64 arrays.

    Raises:
        TypeError: ``key`` is not a PRNG key, or cfg is not a :class:`Config`.
        ValueError: the width is so large that the step would exceed
            ``max_bytes`` or ``max_work`` (the message gives the estimate).

    References:
        Yang & Hu, 2021, arXiv:2011.14522; Yang et al., "Tensor Programs V",
        2022, arXiv:2203.03466.

    Example:
        >>> import jax
        >>> from lm_sims import feature_learning as fl
        >>> c = fl.feature_change_after_one_step(jax.random.key(0), fl.Config())
        >>> c.hidden.shape
        (2,)
    """
    check_key(key)
    network_config(cfg)  # type check
    _check_one_step_size(cfg, max_bytes, max_work)
    with enable_x64(True):
        out = _one_step(key, cfg.replace(lr=jnp.float64(cfg.lr)))
    # NumPy float64, so callers outside x64 mode can compute with it freely
    return FeatureChange(*(np.asarray(v, np.float64) for v in out))


def _check_one_step_size(cfg, max_bytes, max_work):
    check_budget_arg("max_bytes", max_bytes)
    check_budget_arg("max_work", max_work)
    num_params = cfg.width * (cfg.width + cfg.input_dim + 1)
    check_bytes(
        f"one step of the width={cfg.width} network in float64",
        # weights, gradients and the updated copy; activations before and after
        8.0 * (3 * num_params + 4 * cfg.batch_size * cfg.width),
        "use a smaller width",
        max_bytes,
    )
    check_work(
        f"one step of the width={cfg.width} network on {cfg.batch_size} inputs",
        # two forward passes, one backward pass (2 flops per weight and input each)
        12.0 * cfg.batch_size * num_params,
        "use a smaller width or batch",
        max_work,
    )


@jax.jit
def _one_step(key, cfg):
    k_data, k_init = jax.random.split(key)
    x, y = _sample_batch(k_data, cfg)
    net = network_config(cfg)
    params = mlp.init(k_init, net)
    h1, h2, f = features(params, x, cfg)
    # centring: the step sees f - f_0, i.e. its error signal is -y at every width
    target = y + jnp.where(cfg.center_output, f, 0.0)
    grads = jax.grad(loss)(params, x, target, cfg)
    weights = [g.w for g in grads]
    if cfg.optimizer == "adam":  # Adam's first step: g / (|g| + eps), per entry
        adam = optax.scale_by_adam()
        weights, _ = adam.update(weights, adam.init(weights))
    new = tuple(
        layer._replace(w=layer.w - cfg.lr * s.w_lr * g)  # biases stay at zero
        for layer, g, s in zip(params, weights, mlp.layer_scales(net), strict=True)
    )
    g1, g2, f_new = features(new, x, cfg)
    return FeatureChange(
        hidden=jnp.stack([_rms(g1 - h1), _rms(g2 - h2)]),
        output=_rms(f_new - f),
        hidden_init=jnp.stack([_rms(h1), _rms(h2)]),
    )


def one_step_changes(
    key: jax.Array,
    parameterization: str,
    lr: float,
    sp_lr: str = "fixed",
    *,
    widths: tuple[int, ...] = WIDTHS,
    num_seeds: int = 4,
    optimizer: str = "gd",
    max_bytes: float | None = None,
    max_work: float | None = None,
) -> Float[np.ndarray, "widths 3"]:
    """Geometric mean over seeds of the one-step changes, width by width.

    :func:`feature_change_after_one_step` at every width of ``widths`` and seed
    ``jax.random.fold_in(key, s)``, ``s < num_seeds`` (the same seeds at every
    width); the default settings of :class:`Config` otherwise (d = 16, batch 32,
    centred step). With ``sp_lr = "lr × 64/n"`` SP's learning rate falls as
    ``lr * widths[0] / n``. Log-log slopes of the columns against width estimate
    :func:`predicted_exponents`.

    Args:
        key: PRNG key.
        parameterization: ``"sp"``, ``"ntk"`` or ``"mup"``.
        lr: base learning rate (> 0).
        sp_lr: one of ``SP_LR_SCALINGS``: ``"fixed"``, or ``"lr × 64/n"`` (SP only;
            ignored by ntk and mup).
        widths: hidden widths (ints >= 1).
        num_seeds: networks per width (int >= 1).
        optimizer: "gd" (default) or "adam": the kind of the one step
            (:class:`Config`).
        max_bytes: memory limit of one step (bytes), as in
            :func:`feature_change_after_one_step`; default ``MAX_BYTES``.
        max_work: limit on the work of all steps together (flop-equivalents);
            default ``lm_sims._config.MAX_WORK``.

    Returns:
        float64 array (len(widths), 3): rows widths, columns hidden layer 1, hidden
        layer 2, output (RMS changes, :class:`FeatureChange`).

    Raises:
        ValueError: unknown parameterisation or sp_lr, lr <= 0, a width or
            num_seeds < 1, or a step above ``max_bytes`` or all steps above
            ``max_work`` (checked before the first step).
        TypeError: key is not a PRNG key, or widths is not a non-empty tuple of
            ints.

    References:
        Yang et al., "Tensor Programs V", 2022, arXiv:2203.03466 (the coordinate
        check).

    Example:
        >>> import jax
        >>> from lm_sims import feature_learning as fl
        >>> c = fl.one_step_changes(jax.random.key(0), "ntk", 0.01,
        ...                         widths=(64, 256), num_seeds=2)
        >>> c.shape, bool(c[1, 1] < c[0, 1])  # NTK features freeze as n grows
        ((2, 3), True)
    """
    check_key(key)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_real("lr", lr, positive=True)
    check_choice("sp_lr", sp_lr, SP_LR_SCALINGS)
    check_int("num_seeds", num_seeds, minimum=1)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    if not isinstance(widths, (tuple, list)) or not widths:
        raise TypeError(
            "widths must be a non-empty tuple of ints, e.g. (64, 128), got "
            f"widths={widths!r}"
        )
    widths = check_int_sequence("widths", widths)  # names widths[i]
    check_real("lr", lr, positive=True)
    check_representable("lr", lr)
    check_budget_arg("max_bytes", max_bytes)
    check_budget_arg("max_work", max_work)
    for n in widths:  # every size before the first step
        check_bytes(
            f"one step of the width={n} network in float64",
            8.0 * (3 * n * (n + 17) + 4 * 32 * n),
            "use smaller widths",
            max_bytes,
        )
    check_work(
        f"{num_seeds} one-step checks at widths {tuple(widths)}",
        num_seeds * sum(12.0 * 32 * n * (n + 17) for n in widths),
        "use smaller widths or fewer seeds",
        max_work,
    )
    per_width = parameterization == "sp" and sp_lr != "fixed"
    logs = np.zeros((len(widths), num_seeds, 3))
    for i, n in enumerate(widths):
        lr_n = lr * widths[0] / n if per_width else lr
        cfg = Config(
            width=n,
            parameterization=parameterization,
            lr=float(lr_n),
            optimizer=optimizer,
        )
        for s in range(num_seeds):
            c = feature_change_after_one_step(
                jax.random.fold_in(key, s), cfg, max_bytes=max_bytes, max_work=math.inf
            )
            logs[i, s] = np.log([*c.hidden, c.output])
    return np.exp(logs.mean(axis=1))


def predicted_exponents(
    parameterization: str, sp_lr: str = "fixed", optimizer: str = "gd"
) -> Float[np.ndarray, " 3"]:
    """Width exponents (hidden 1, hidden 2, output) of the one-step change.

    ``EXPONENTS``: at a fixed base lr, ntk (-1/2, -1/2, 0), mup (0, 0, 0), sp
    (-1/2, +1/2, +1). With SP's learning rate falling as 1/n (``sp_lr =
    "lr × 64/n"``) every SP exponent drops by 1: (-3/2, -1/2, 0).

    With ``optimizer="adam"`` (``ADAM_EXPONENTS``) the first step moves each stored
    entry by its learning rate, with a sign aligned with the layer's inputs, so an
    n-by-n update moves a unit by ~n times the entry step: sp (0, 1, 3/2) (the
    output also gets ``W_3 . dh_2 ~ n * n^-1/2 * n``), ntk (0, 1/2, 1), mup (0, 0,
    0) with muP's Adam rates (:mod:`lm_sims.mlp`).

    Args:
        parameterization: ``"sp"``, ``"ntk"`` or ``"mup"``.
        sp_lr: one of ``SP_LR_SCALINGS``.
        optimizer: "gd" (default) or "adam".

    Returns:
        float64 array of shape (3,).

    Raises:
        ValueError: unknown parameterisation or sp_lr.

    References:
        Yang & Hu, "Feature Learning in Infinite-Width Neural Networks", 2021,
        arXiv:2011.14522.

    Example:
        >>> from lm_sims import feature_learning as fl
        >>> fl.predicted_exponents("sp", "lr × 64/n").tolist()
        [-1.5, -0.5, 0.0]
    """
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_choice("sp_lr", sp_lr, SP_LR_SCALINGS)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    shift = 1.0 if parameterization == "sp" and sp_lr != "fixed" else 0.0
    table = ADAM_EXPONENTS if optimizer == "adam" else EXPONENTS
    return np.asarray(table[parameterization], np.float64) - shift
