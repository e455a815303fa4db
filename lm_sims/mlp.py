"""Fully connected networks in the standard, NTK and muP parameterisations.

A network with ``depth`` hidden layers of width ``n`` maps ``x`` (dimension ``d_in``)
to ``f(x)`` (dimension ``d_out``) through ``depth + 1`` linear layers,
``h^l = W^l_eff x^{l-1} + b^l_eff`` and ``x^l = phi(h^l)``, trained on the loss
``1/(2P) sum_i |y_i - f(x_i)|^2`` by full-batch gradient descent (the default) or any
optimizer of :mod:`lm_sims.training` (minibatch SGD, momentum, Adam). The training
data come from the config (``dataset``, ``num_train``: see
:func:`lm_sims.data.make_regression`) unless given explicitly.

**abc-parameterisations** (Yang & Hu 2021). Each weight tensor is stored as a trained
parameter ``w`` and used as ``W_eff = m w``; ``w ~ N(0, s^2)`` entrywise and gradient
descent updates ``w`` with learning rate ``lr_l = lr * n^{-c}``. Writing ``m`` and
``s`` as powers of the width, ``m ~ n^{-a}`` and ``s ~ n^{-b}``, the three
parameterisations are (layer 1 = input layer, L+1 = readout; sigma_w = sqrt(sigma_w2),
fan_in = d_in for layer 1 and n otherwise)::

                   multiplier m            init std s              a     b    c
    "sp"   all     1                       sigma_w / sqrt(fan_in)  0    0,1/2  0
    "ntk"  all     sigma_w / sqrt(fan_in)  1                      0,1/2  0     0
    "mup"  input   n^{1/2}                 sigma_w / sqrt(d_in n) -1/2  1/2   0
           hidden  1                       sigma_w / sqrt(n)       0    1/2   0
           readout n^{-1/2}                sigma_w / sqrt(n)      1/2   1/2   0

(b for "sp" and a for "ntk" are 0 on the input layer and 1/2 elsewhere.)

**muP for Adam** (``optimizer="adam"``). Adam's step on a stored entry is ~ its
learning rate whatever the gradient's size, so with a multiplier ``m`` the effective
weight moves by ``m * lr_l`` (not ``m^2``). muP for Adam (Yang et al. 2022, Table 3:
effective rates ``lr``, ``lr / fan_in``, ``lr / fan_in`` for input, hidden and
readout weights) then needs in this multiplier form::

                   multiplier m   init std s               lr_l         c
    "mup"  input   n^{1/2}        sigma_w / sqrt(d_in n)   lr n^{-1/2}  1/2
    (adam) hidden  1              sigma_w / sqrt(n)        lr / n       1
           readout n^{-1/2}       sigma_w / sqrt(n)        lr n^{-1/2}  1/2

and hidden biases (multiplier ``n^{1/2}``) at ``lr n^{-1/2}``, the readout bias at
``lr``. "sp" and "ntk" keep ``c = 0`` with Adam (one global learning rate).

**muP with a base width** (``base_width=n0``, "mup" only), the form of the ``mup``
package: no multipliers; with ``width_mult = n / n0`` the network is SP
(``W ~ N(0, sigma_w2 / fan_in)``, biases ``N(0, sigma_b2)``) except that the readout
variance is ``sigma_w2 / (n width_mult)`` and the learning rates are, for input,
hidden and readout weights, ``lr (width_mult, 1, 1 / width_mult)`` under SGD and
``lr (1, 1 / width_mult, 1 / width_mult)`` under Adam (hidden biases like input
weights, the readout bias at ``lr``). At ``n = n0`` it is exactly "sp"; with
``n0 = 1`` its effective weights and rates are those of the multiplier form above.

The
effective weights ``W_eff`` then have variance ``sigma_w2 / fan_in`` in every layer,
except the muP readout, ``sigma_w2 / n^2``; and since a multiplier ``m`` scales the
learning rate of ``W_eff`` by ``m^2``, muP trains input, hidden and readout weights
at effective rates ``lr * n``, ``lr`` and ``lr / n`` (Yang et al. 2022, Table 3).
Biases: "sp" ``b ~ N(0, sigma_b2)``, multiplier 1; "ntk" ``b ~ N(0, 1)``,
multiplier ``sigma_b``; "mup" hidden biases like input weights with fan_in 1
(multiplier ``n^{1/2}``, std ``sigma_b n^{-1/2}``), readout bias as in "sp". With
``sigma_b2 = 0`` the "sp" and "mup" biases start at zero and are trained; the "ntk"
biases are switched off.

At initialisation all three give the same hidden pre-activations; "sp" and "ntk"
give the same output distribution, whose infinite-width limit is
``lm_sims.kernels.nngp``. Only "ntk" has a finite tangent kernel as ``n -> inf``: it
is exactly the parameterisation of ``lm_sims.kernels``, so :func:`empirical_ntk`
converges to ``kernels.ntk(x1, x2, cfg)`` and a wide "ntk" network trained by
gradient descent follows :func:`predict_ntk`.

References:
    Jacot, Gabriel & Hongler, "Neural tangent kernel", 2018, arXiv:1806.07572.
    Lee et al., "Wide neural networks of any depth evolve as linear models under
    gradient descent", 2019, arXiv:1902.06720.
    Yang & Hu, "Feature learning in infinite-width neural networks", 2021,
    arXiv:2011.14522.
    Yang et al., "Tensor Programs V: tuning large neural networks via zero-shot
    hyperparameter transfer", 2022, arXiv:2203.03466.
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
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims import data as _data
from lm_sims import kernels, training
from lm_sims._config import (
    STEP_OVERHEAD,
    as_float64_numpy,
    as_float_array,
    check_allocation,
    check_budget_arg,
    check_callable,
    check_choice,
    check_finite,
    check_float_pytree,
    check_instance,
    check_int,
    check_key,
    check_layer_shapes,
    check_points,
    check_real,
    check_record_every,
    check_representable,
    check_shape,
    check_work,
    config_dataclass,
    diverged_flag,
    is_concrete,
    num_bytes,
)

__all__ = [
    "ACTIVATIONS",
    "PARAMETERIZATIONS",
    "Config",
    "Layer",
    "LayerScales",
    "Params",
    "Trajectory",
    "abc_exponents",
    "apply",
    "empirical_ntk",
    "init",
    "layer_scales",
    "loss",
    "predict_ntk",
    "train",
    "training_data",
]

ACTIVATIONS = kernels.ACTIVATIONS
PARAMETERIZATIONS = ("sp", "ntk", "mup")


@config_dataclass(
    static=(
        "width",
        "depth",
        "d_in",
        "d_out",
        "activation",
        "parameterization",
        "steps",
        "record_every",
        "dataset",
        "num_train",
        "optimizer",
        "batch_size",
        "base_width",
    )
)
class Config:
    """A fully connected network, its training data and its optimizer run.

    Attributes:
        width: hidden width n (int >= 1). Static.
        depth: number of hidden layers (int >= 1); the network has L = depth + 1
            weight matrices. Static.
        d_in: input dimension (int >= 1). Static.
        d_out: output dimension (int >= 1). Static.
        activation: "relu", "erf" or "linear". Static.
        parameterization: "sp", "ntk" or "mup" (see the module docstring). Static.
        steps: number of gradient-descent steps (int >= 1). Static.
        record_every: record every this many steps; must divide steps. Static.
        sigma_w2: weight variance sigma_w^2 (> 0); 2.0 is He initialisation.
        sigma_b2: bias variance sigma_b^2 (>= 0).
        lr: base learning rate (> 0); tensor l is trained at ``lr * n^{-c_l}``.
            Time on the book's axes is ``t = lr * step``. Every real field must
            be representable in the run's dtype (float32: nonzero magnitudes in
            [1.2e-38, 3.4e38]), or the config raises ValueError.
        dataset: the training data drawn by :func:`train` when no ``x_train`` is
            given, one of ``lm_sims.data.REGRESSION_DATASETS``: "teacher" (Gaussian
            inputs, fixed random ReLU teacher), "random_labels" (Gaussian inputs,
            +-1 labels) or "digits" (d_in = 64; d_out = 10 one-hot or 1 scalar),
            see :func:`lm_sims.data.make_regression`. Static.
        num_train: number of training samples P drawn from ``dataset`` (int >= 1).
            Static.
        optimizer: "gd" (default), "momentum" or "adam"
            (:class:`lm_sims.training.Optimizer`). Static.
        batch_size: None (full batch, default) or minibatch size for SGD (int >= 1,
            at most P). Static.
        momentum: momentum decay in [0, 1) (optimizer "momentum").
        b1: Adam's first-moment decay in [0, 1).
        b2: Adam's second-moment decay in [0, 1).
        eps: Adam's denominator offset (> 0).
        base_width: None (default: muP in the multiplier form of the module
            docstring) or the base width n0 (int >= 1) of muP in the ``mup``
            package's form, equal to "sp" at ``width == n0`` (module docstring).
            Only with ``parameterization="mup"``. Static.
    """

    width: int = 256
    depth: int = 1
    d_in: int = 2
    d_out: int = 1
    activation: str = "relu"
    parameterization: str = "ntk"
    steps: int = 1000
    record_every: int = 10
    sigma_w2: float = 2.0
    sigma_b2: float = 0.0
    lr: float = 0.1
    dataset: str = "teacher"
    num_train: int = 64
    optimizer: str = "gd"
    batch_size: int | None = None
    momentum: float = 0.9
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    base_width: int | None = None

    def _validate(self):
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_int("d_in", self.d_in, minimum=1)
        check_int("d_out", self.d_out, minimum=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("parameterization", self.parameterization, PARAMETERIZATIONS)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_real("sigma_w2", self.sigma_w2, positive=True)
        check_real("sigma_b2", self.sigma_b2, nonnegative=True)
        check_real("lr", self.lr, positive=True)
        _data.check_regression_dataset(
            self.dataset, self.num_train, self.d_in, self.d_out
        )
        check_choice("optimizer", self.optimizer, training.OPTIMIZERS)
        if self.base_width is not None:
            check_int("base_width", self.base_width, minimum=1)
            if self.parameterization != "mup":
                raise ValueError(
                    "base_width is muP's base width and needs "
                    "parameterization='mup', got "
                    f"parameterization={self.parameterization!r}, "
                    f"base_width={self.base_width}"
                )
        _ = self.optimizer_config  # validates batch_size, momentum, b1, b2, eps
        # numbers that pass the ranges above but are 0 or inf in the run's dtype
        for name in ("sigma_w2", "sigma_b2", "lr", "momentum", "b1", "b2", "eps"):
            check_representable(name, getattr(self, name))

    @property
    def optimizer_config(self) -> training.Optimizer:
        """The run's :class:`lm_sims.training.Optimizer`."""
        return training.Optimizer(
            name=self.optimizer,
            batch_size=self.batch_size,
            momentum=self.momentum,
            b1=self.b1,
            b2=self.b2,
            eps=self.eps,
        )


class Layer(NamedTuple):
    """Trained parameters of one linear layer (stored, not effective, values)."""

    w: Float[Array, "fan_in fan_out"]
    b: Float[Array, " fan_out"]


Params = tuple[Layer, ...]  # depth + 1 layers, input layer first


class LayerScales(NamedTuple):
    """How one layer's stored parameters enter the network and are trained.

    ``W_eff = w_mult * w`` with ``w ~ N(0, w_std^2)``, trained at ``lr * w_lr``;
    likewise for the bias. Entries are floats or scalar arrays (traced under jit).
    """

    w_mult: float
    w_std: float
    w_lr: float
    b_mult: float
    b_std: float
    b_lr: float


class Trajectory(NamedTuple):
    """Recorded training run; leading axis = records (steps/record_every + 1).

    Attributes:
        step: the step of each record, 0, record_every, ..., steps (int).
        t: time ``lr * step`` of each record (the base ``lr``). Under gradient
            descent this is the gradient-flow time of the book's axes; with
            momentum the effective step is ``lr / (1 - momentum)``, and with Adam
            ``t`` is only a rescaled step count.
        loss: training loss ``1/(2P) sum |y - f|^2``.
        f_train: outputs on the training inputs, (records, P, d_out).
        f_test: outputs on the test inputs, (records, n_test, d_out), or None.
        weight_change: ``|w - w_0| / |w_0|`` over all weight matrices together
            (Frobenius norms of stored parameters; multipliers cancel). Biases are
            left out, unlike :func:`lm_sims.observables.relative_change`, which
            counts every leaf of the parameters.
        layer_weight_change: the same per layer, (records, depth + 1).
        params: parameters after the last step (frozen if the run diverged).
        diverged_step: first step whose loss blew up, or -1. Records after it are
            NaN.
        observed: what ``train``'s ``observe`` hook recorded (leading axis
            records), or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    f_train: Float[Array, "records P d_out"]
    f_test: Float[Array, "records n_test d_out"] | None
    weight_change: Float[Array, " records"]
    layer_weight_change: Float[Array, "records layers"]
    params: Params
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``); for swept output
        (leading grid and seed axes) a bool array of those axes."""
        return diverged_flag(self.diverged_step)


def abc_exponents(
    parameterization: str, depth: int, optimizer: str = "gd"
) -> dict[str, tuple[float, ...]]:
    """Width exponents (a, b, c) of the weights of each layer (Yang & Hu 2021).

    Multiplier ``~ n^{-a}``, init std ``~ n^{-b}``, learning rate ``~ n^{-c}``, for
    layers 1 .. depth + 1 (input layer first), in the multiplier form of the module
    docstring (``base_width=None``). Width-independent constants (sigma_w,
    1/sqrt(d_in)) are in :func:`layer_scales`. Only muP's c depends on the
    optimizer: 0 for "gd" and "momentum"; (1/2, 1, ..., 1, 1/2) for "adam", whose
    step on a stored weight does not scale with its gradient (Yang et al. 2022,
    Table 3).

    Args:
        parameterization: "sp", "ntk" or "mup".
        depth: number of hidden layers (>= 1).
        optimizer: "gd" (default), "momentum" or "adam".

    Returns:
        ``{"a": (...), "b": (...), "c": (...)}``, each a tuple of depth + 1 floats.

    Example:
        >>> from lm_sims import mlp
        >>> mlp.abc_exponents("mup", 2)["a"]
        (-0.5, 0.0, 0.5)
        >>> mlp.abc_exponents("mup", 2, optimizer="adam")["c"]
        (0.5, 1.0, 0.5)
    """
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_int("depth", depth, minimum=1)
    check_choice("optimizer", optimizer, training.OPTIMIZERS)
    hidden = depth - 1
    if parameterization == "sp":
        a, b = (0.0,) * (depth + 1), (0.0,) + (0.5,) * (depth)
    elif parameterization == "ntk":
        a, b = (0.0,) + (0.5,) * depth, (0.0,) * (depth + 1)
    else:
        a, b = (-0.5,) + (0.0,) * hidden + (0.5,), (0.5,) * (depth + 1)
        if optimizer == "adam":
            return {"a": a, "b": b, "c": (0.5,) + (1.0,) * hidden + (0.5,)}
    return {"a": a, "b": b, "c": (0.0,) * (depth + 1)}


def layer_scales(cfg: Config) -> tuple[LayerScales, ...]:
    """Multipliers, init standard deviations and learning-rate factors per layer.

    See the table in the module docstring; the width exponents are
    :func:`abc_exponents`.

    Args:
        cfg: the network config (sigma_w2, sigma_b2 may be traced).

    Returns:
        One :class:`LayerScales` per layer, input layer first.

    Raises:
        TypeError: cfg is not an mlp.Config.
    """
    check_instance("cfg", cfg, Config)
    n, d, depth = cfg.width, cfg.d_in, cfg.depth
    if cfg.parameterization == "mup" and cfg.base_width is not None:
        return _base_width_scales(cfg)
    exps = abc_exponents(cfg.parameterization, depth, cfg.optimizer)
    adam = cfg.optimizer == "adam"
    sw, sb = jnp.sqrt(cfg.sigma_w2), jnp.sqrt(cfg.sigma_b2)
    scales = []
    for i in range(depth + 1):
        fan_in = d if i == 0 else n
        a, b, c = exps["a"][i], exps["b"][i], exps["c"][i]
        lr_scale = n ** (-c)
        if cfg.parameterization == "sp":
            w = (1.0, sw / math.sqrt(fan_in))
            bias = (1.0, sb)
        elif cfg.parameterization == "ntk":
            w = (sw / math.sqrt(fan_in), 1.0)
            bias = (sb, 1.0)
        else:  # mup: constants in the init, width powers as in abc_exponents
            const = sw / math.sqrt(d) if i == 0 else sw
            w = (n ** (-a), const * n ** (-b))
            hidden_bias = i < depth
            bias = (math.sqrt(n), sb / math.sqrt(n)) if hidden_bias else (1.0, sb)
        # Adam moves W_eff = m w by m * lr: a hidden bias (m = n^1/2) at lr n^-1/2,
        # the readout bias (m = 1) at lr; SGD's bias rates equal the weights' (1)
        b_lr = lr_scale
        if adam and cfg.parameterization == "mup":
            b_lr = n**-0.5 if i < depth else 1.0
        scales.append(LayerScales(w[0], w[1], lr_scale, bias[0], bias[1], b_lr))
    return tuple(scales)


def _base_width_scales(cfg):
    """muP with base width n0 (the ``mup`` package's form; module docstring)."""
    n, d, depth = cfg.width, cfg.d_in, cfg.depth
    mult = n / cfg.base_width  # width_mult
    sw, sb = jnp.sqrt(cfg.sigma_w2), jnp.sqrt(cfg.sigma_b2)
    if cfg.optimizer == "adam":
        w_lrs = (1.0,) + (1.0 / mult,) * depth
        b_lrs = (1.0,) * (depth + 1)
    else:  # SGD and momentum: Table 3's lr fan_out, lr, lr / fan_in
        w_lrs = (mult,) + (1.0,) * (depth - 1) + (1.0 / mult,)
        b_lrs = (mult,) * depth + (1.0,)
    scales = []
    for i in range(depth + 1):
        fan_in = d if i == 0 else n
        std = sw / math.sqrt(fan_in * (mult if i == depth else 1.0))
        scales.append(LayerScales(1.0, std, w_lrs[i], 1.0, sb, b_lrs[i]))
    return tuple(scales)


def _activation(name):
    return {
        "relu": jax.nn.relu,
        "erf": jax.scipy.special.erf,
        "linear": lambda h: h,
    }[name]


def init(key: jax.Array, cfg: Config) -> Params:
    """Draw the stored parameters: ``w ~ N(0, w_std^2)``, ``b ~ N(0, b_std^2)``.

    Args:
        key: PRNG key.
        cfg: network config.

    Returns:
        Params: a tuple of depth + 1 :class:`Layer`, w of shape (fan_in, fan_out),
        in JAX's default float dtype (float32, or float64 under
        ``jax_enable_x64``).

    Raises:
        TypeError: key is not a PRNG key or cfg is not an mlp.Config.

    Example:
        >>> import jax
        >>> from lm_sims import mlp
        >>> p = mlp.init(jax.random.key(0), mlp.Config(width=8, depth=2, d_in=3))
        >>> [layer.w.shape for layer in p]
        [(3, 8), (8, 8), (8, 1)]
    """
    check_instance("cfg", cfg, Config)
    if is_concrete(key):
        check_key(key)
    dims = (cfg.d_in,) + (cfg.width,) * cfg.depth + (cfg.d_out,)
    # One draw for all tensors, then sliced: each separate jax.random call adds
    # ~0.5 s of XLA compile time on CPU, which dominated compiling `train`.
    total = sum((m + 1) * n for m, n in zip(dims[:-1], dims[1:], strict=True))
    z = jax.random.normal(key, (total,))
    layers, start = [], 0
    for i, s in enumerate(layer_scales(cfg)):
        fan_in, fan_out = dims[i], dims[i + 1]
        w = z[start : start + fan_in * fan_out].reshape(fan_in, fan_out)
        start += fan_in * fan_out
        b = z[start : start + fan_out]
        start += fan_out
        layers.append(Layer(s.w_std * w, s.b_std * b))
    return tuple(layers)


def apply(
    params: Params, x: Float[ArrayLike, "n d_in"], cfg: Config
) -> Float[Array, "n d_out"]:
    """Network outputs ``f(x)``.

    Args:
        params: from :func:`init` (or trained).
        x: inputs, shape (n, d_in).
        cfg: network config (static fields must match params).

    Returns:
        outputs, shape (n, d_out).

    Raises:
        TypeError: cfg is not an mlp.Config, params is not a tuple of layers, or
            x is not an array of real numbers.
        ValueError: params do not have the shapes ``init(key, cfg)`` gives
            (another width, depth, d_in or d_out), x is not (n, d_in) with
            n >= 1, or x has NaN or inf entries.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import mlp
        >>> cfg = mlp.Config(width=8, d_in=3)
        >>> mlp.apply(mlp.init(jax.random.key(0), cfg), jnp.ones((5, 3)), cfg).shape
        (5, 1)
    """
    x = _check_network(params, x, cfg)
    phi = _activation(cfg.activation)
    h = x
    scales = layer_scales(cfg)
    for i, (layer, s) in enumerate(zip(params, scales, strict=True)):
        if i > 0:
            h = phi(h)
        h = s.w_mult * (h @ layer.w) + s.b_mult * layer.b
    return h


def _dims(cfg):
    return (cfg.d_in,) + (cfg.width,) * cfg.depth + (cfg.d_out,)


def _check_network(params, x, cfg, name="x"):
    """params as ``init(key, cfg)`` (shapes only), x a real (n, d_in) array with
    n >= 1, finite when concrete; returns x as a floating array."""
    check_instance("cfg", cfg, Config)
    check_layer_shapes(
        params,
        _dims(cfg),
        "mlp",
        f" (width={cfg.width}, depth={cfg.depth}, d_in={cfg.d_in}, "
        f"d_out={cfg.d_out}): use the config the parameters were drawn with",
    )
    x = as_float_array(name, x)
    if x.ndim != 2 or x.shape[1] != cfg.d_in or x.shape[0] < 1:
        raise ValueError(
            f"{name} must have shape (n, d_in={cfg.d_in}) with n >= 1, got {name} "
            f"of shape {x.shape}"
        )
    return x


def loss(
    params: Params,
    x: Float[ArrayLike, "P d_in"],
    y: Float[ArrayLike, "P d_out"],
    cfg: Config,
) -> Float[Array, ""]:
    """Mean squared error ``1/(2P) sum_i |y_i - f(x_i)|^2``.

    Args:
        params: network parameters.
        x: inputs, shape (P, d_in).
        y: targets, shape exactly (P, d_out) (a (P,) vector is refused, not
            broadcast: reshape it with ``y[:, None]``).
        cfg: network config.

    Returns:
        scalar loss.

    Raises:
        ValueError: y is not (P, d_out), x is not (P, d_in) with P >= 1, x or y
            has NaN or inf entries, or params do not match cfg (:func:`apply`).
        TypeError: cfg is not an mlp.Config, or x or y is not an array of real
            numbers.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import mlp
        >>> cfg = mlp.Config(width=8)
        >>> p = mlp.init(jax.random.key(0), cfg)
        >>> float(mlp.loss(p, jnp.zeros((4, 2)), jnp.zeros((4, 1)), cfg))
        0.0
    """
    x = _check_network(params, x, cfg)
    y = as_float_array("y", y)
    check_shape("y", y.shape, (x.shape[0], cfg.d_out), "(P, d_out)")
    residual = apply(params, x, cfg) - y
    return 0.5 * jnp.mean(jnp.sum(residual**2, axis=-1))


def _check_data(cfg, x, y, x_test):
    if x is not None:
        _check_train_data(cfg, x, y)
    if x_test is not None and (x_test.ndim != 2 or x_test.shape[1] != cfg.d_in):
        raise ValueError(
            f"x_test must have shape (n_test, d_in={cfg.d_in}), got "
            f"{tuple(x_test.shape)}"
        )
    if x_test is not None:
        check_finite("x_test", x_test)


def _num_params(cfg):
    dims = _dims(cfg)
    return sum((m + 1) * n for m, n in zip(dims[:-1], dims[1:], strict=True))


def _check_memory(cfg, num_train, num_test):
    num_params = _num_params(cfg)
    # parameters, gradients, the update and up to two optimizer moments
    check_allocation(
        f"training {num_params} parameters (width={cfg.width}, depth={cfg.depth})",
        5 * num_bytes(num_params),
        "use a smaller width or depth",
    )
    check_allocation(
        f"the activations of {num_train} samples at width={cfg.width}",
        2 * num_bytes(num_train + num_test, cfg.width, cfg.depth + 1),
        "use fewer samples or a smaller width",
    )


def _check_train_data(cfg, x, y):
    if x.ndim != 2 or x.shape[1] != cfg.d_in or x.shape[0] < 1:
        raise ValueError(
            f"x_train must have shape (P, d_in={cfg.d_in}) with P >= 1, got "
            f"{tuple(x.shape)}"
        )
    if y.shape != (x.shape[0], cfg.d_out):
        raise ValueError(
            f"y_train must have shape (P={x.shape[0]}, d_out={cfg.d_out}), or (P,) "
            f"if d_out = 1; got {tuple(y.shape)}"
        )
    for name, v in (("x_train", x), ("y_train", y)):
        if is_concrete(v) and not bool(jnp.all(jnp.isfinite(v))):
            raise ValueError(f"{name} must be finite, got NaN or inf entries")


def _as_targets(cfg, y):
    y = jnp.asarray(y)
    return y[:, None] if (y.ndim == 1 and cfg.d_out == 1) else y


def training_data(key: jax.Array, cfg: Config) -> _data.Task:
    """The training set that ``train(key, cfg)`` draws when no ``x_train`` is given.

    ``lm_sims.data.make_regression(jax.random.fold_in(key, 1), cfg.dataset,
    cfg.num_train, cfg.d_in, cfg.d_out)``: use it to evaluate a theory
    (:func:`predict_ntk`) on the data a run was trained on.

    Args:
        key: the PRNG key given to :func:`train`.
        cfg: network config (dataset, num_train, d_in, d_out).

    Returns:
        ``lm_sims.data.Task(x, y)``, x of shape (num_train, d_in) and y of shape
        (num_train, d_out).

    Example:
        >>> import jax
        >>> from lm_sims import mlp
        >>> task = mlp.training_data(jax.random.key(0), mlp.Config(num_train=16))
        >>> task.x.shape, task.y.shape
        ((16, 2), (16, 1))
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    return _data.make_regression(
        jax.random.fold_in(key, 1), cfg.dataset, cfg.num_train, cfg.d_in, cfg.d_out
    )


def train(
    key: jax.Array,
    cfg: Config,
    x_train: Float[ArrayLike, "P d_in"] | None = None,
    y_train: Float[ArrayLike, "P d_out"] | None = None,
    x_test: Float[ArrayLike, "n_test d_in"] | None = None,
    *,
    observe: Callable[[Params], Any] | None = None,
    max_work: float | None = None,
) -> Trajectory:
    """Initialise with ``init(key, cfg)`` and train with the config's optimizer.

    Each tensor is updated at ``cfg.lr * lr_scale`` (:func:`layer_scales`) for
    ``cfg.steps`` steps on :func:`loss` by :func:`lm_sims.training.run`: full-batch
    gradient descent by default, or ``cfg.optimizer`` ("momentum", "adam") with
    minibatches of ``cfg.batch_size``. Every ``record_every`` steps the outputs on
    train and test inputs, the loss, the relative weight change and ``observe``
    are recorded.

    Without ``x_train`` the data are ``lm_sims.data.make_regression(
    jax.random.fold_in(key, 1), cfg.dataset, cfg.num_train, cfg.d_in, cfg.d_out)``,
    so ``lm_sims.sweep(mlp.train, key, cfg, lr=[...])`` works; minibatches use
    ``jax.random.fold_in(key, 2)``. ``key`` itself goes to ``init`` only, so
    ``init(key, cfg)`` recovers the initial parameters. Jitted: changing a static
    field (or ``observe``) recompiles, dynamic ones do not (use ``lm_sims.sweep``
    over seeds and lr, sigma_w2, sigma_b2, momentum, b1, b2, eps).

    Args:
        key: PRNG key.
        cfg: network, data and run config.
        x_train: training inputs, shape (P, d_in); None: drawn from
            ``cfg.dataset``.
        y_train: targets, shape (P, d_out), or (P,) when d_out = 1; given exactly
            when x_train is.
        x_test: optional test inputs, shape (n_test, d_in).
        observe: optional function of the parameters, evaluated at every record;
            its outputs land in ``Trajectory.observed``.
        max_work: refuse runs estimated above this many flop-equivalents
            (``steps * (6 * parameters * batch + STEP_OVERHEAD)`` plus the
            records); default ``lm_sims._config.MAX_WORK`` (1e13, about ten
            minutes on a laptop); ``math.inf`` for no limit.

    Returns:
        :class:`Trajectory`. A diverging run is not an error: ``diverged_step`` is
        the first step whose loss left ``lm_sims.training.divergence_limit``
        (``1e3 * (|loss_0| + mean |y|^2 / 2)``; ``1e8`` times for Adam) or was
        not finite,
        and every record at or after it is NaN.

    Raises:
        ValueError: data shapes do not match cfg (or P = 0), data hold NaN or
            inf, only one of x_train and y_train is given, batch_size exceeds the
            number of training samples, or the run would allocate more than
            ``lm_sims._config.MAX_BYTES`` or take more than ``max_work`` (the
            messages give the estimates).
        TypeError: key is not a PRNG key, cfg is not an mlp.Config, data are not
            real arrays, or observe is not callable.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import mlp
        >>> cfg = mlp.Config(width=64, d_in=2, steps=100, lr=0.5)
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]]) * jnp.sqrt(2.0)
        >>> traj = mlp.train(jax.random.key(0), cfg, x, jnp.array([1.0, -1.0]))
        >>> bool(traj.loss[-1] < traj.loss[0])
        True
        >>> adam = mlp.train(jax.random.key(0), cfg.replace(optimizer="adam",
        ...                  lr=0.01, batch_size=16))  # data from cfg.dataset
        >>> adam.loss.shape
        (11,)
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    if (x_train is None) != (y_train is None):
        raise ValueError(
            "give both x_train and y_train, or neither (then the data are drawn "
            f"from cfg.dataset={cfg.dataset!r})"
        )
    check_callable("observe", observe)
    check_budget_arg("max_work", max_work)
    if x_train is not None:
        x_train = as_float_array("x_train", x_train, finite=False)
        y_train = _as_targets(cfg, as_float_array("y_train", y_train, finite=False))
    x_test = None if x_test is None else as_float_array("x_test", x_test, finite=False)
    _check_data(cfg, x_train, y_train, x_test)
    num = cfg.num_train if x_train is None else x_train.shape[0]
    num_test = 0 if x_test is None else x_test.shape[0]
    _check_memory(cfg, num, num_test)
    num_params = _num_params(cfg)
    batch = num if cfg.batch_size is None else cfg.batch_size
    records = cfg.steps // cfg.record_every + 1
    check_work(
        f"training width={cfg.width}, depth={cfg.depth} ({num_params} parameters) "
        f"for steps={cfg.steps} on {batch} samples",
        cfg.steps * (6.0 * num_params * batch + STEP_OVERHEAD)
        + records * 2.0 * num_params * (num + num_test),
        "use fewer steps, a smaller width or fewer samples",
        max_work,
    )
    if cfg.batch_size is not None and cfg.batch_size > num:
        raise ValueError(
            f"batch_size must be <= the number of training samples P={num}, got "
            f"batch_size={cfg.batch_size}"
        )
    return _train(key, cfg, x_train, y_train, x_test, observe)


@functools.partial(jax.jit, static_argnums=(5,))
def _train(key, cfg, x_train, y_train, x_test, observe_fn=None):
    params0 = init(key, cfg)
    if x_train is None:
        x_train, y_train = training_data(key, cfg)
    lr_tree = tuple(
        Layer(cfg.lr * s.w_lr * jnp.ones(()), cfg.lr * s.b_lr * jnp.ones(()))
        for s in layer_scales(cfg)
    )

    def loss_fn(p, batch):
        # the outputs ride along (aux): a record reuses the step's forward pass
        f = apply(p, batch[0], cfg)
        return 0.5 * jnp.mean(jnp.sum((f - batch[1]) ** 2, axis=-1)), f

    # the loss of the zero predictor: the divergence limit's scale (1 if y = 0)
    scale = 0.5 * jnp.mean(jnp.sum(y_train**2, axis=-1))
    scale = jnp.where(scale > 0, scale, 1.0)

    norms0 = jnp.stack([jnp.sum(layer.w**2) for layer in params0])

    def observe(p, f_train):
        diffs = jnp.stack(
            [jnp.sum((a.w - b.w) ** 2) for a, b in zip(p, params0, strict=True)]
        )
        return {
            "f_train": f_train,
            "f_test": None if x_test is None else apply(p, x_test, cfg),
            "weight_change": jnp.sqrt(jnp.sum(diffs) / jnp.sum(norms0)),
            "layer_weight_change": jnp.sqrt(diffs / norms0),
            "observed": None if observe_fn is None else observe_fn(p),
        }

    result = training.run(
        loss_fn,
        params0,
        lr_tree,
        steps=cfg.steps,
        record_every=cfg.record_every,
        optimizer=cfg.optimizer_config,
        data=(x_train, y_train),
        key=jax.random.fold_in(key, 2),
        observe=observe,
        loss_scale=scale,
        max_work=math.inf,  # checked by train
        has_aux=True,
    )
    rec = result.observed
    return Trajectory(
        step=result.step,
        t=cfg.lr * result.step,
        loss=result.loss,
        f_train=rec["f_train"],
        f_test=rec["f_test"],
        weight_change=rec["weight_change"],
        layer_weight_change=rec["layer_weight_change"],
        params=result.params,
        diverged_step=result.diverged_step,
        observed=rec["observed"],
    )


@functools.partial(jax.jit, static_argnames=("method", "max_bytes"))
def _empirical_ntk(params, x1, x2, cfg, method, max_bytes):
    return kernels.empirical_ntk(
        lambda p, x: apply(p, x, cfg),
        params,
        x1,
        x2,
        method=method,
        max_bytes=max_bytes,
    )


def empirical_ntk(
    params: Params,
    x1: Float[ArrayLike, "n1 d_in"],
    x2: Float[ArrayLike, "n2 d_in"] | None,
    cfg: Config,
    *,
    method: str = "auto",
    max_bytes: float | None = None,
) -> Float[Array, "n1 n2"] | Float[Array, "n1 n2 d_out d_out"]:
    """Empirical NTK of the network with respect to its stored parameters (jitted).

    A thin wrapper: ``lm_sims.kernels.empirical_ntk(lambda p, x: apply(p, x, cfg),
    params, x1, x2, method=method, max_bytes=max_bytes)``, jitted, with the
    arguments in this module's order (cfg last). The one implementation, its
    methods, memory estimate and precision are documented there. For
    ``parameterization="ntk"`` it converges to ``kernels.ntk(x1, x2, cfg)`` as the
    width grows, with relative fluctuations ~ width^-1/2. (It is the kernel of
    gradient descent when all tensors share one learning rate, as in all three
    parameterisations here.)

    Args:
        params: network parameters.
        x1: inputs, shape (n1, d_in).
        x2: inputs, shape (n2, d_in), or None for x1.
        cfg: network config.
        method: "auto", "jacobian" or "implicit".
        max_bytes: memory budget in bytes, as in ``kernels.empirical_ntk`` (None:
            the package limit).

    Returns:
        (n1, n2) if d_out = 1, else (n1, n2, d_out, d_out): a JAX array in the
        dtype of params.

    Raises:
        ValueError, TypeError: as ``kernels.empirical_ntk`` (bad method, params or
            inputs, or the estimated memory exceeds max_bytes).
    """
    # Checked here, outside the jit, where the values are still concrete.
    check_float_pytree("params", params)
    x1 = as_float_array("x1", x1)
    x2 = None if x2 is None else as_float_array("x2", x2)
    return _empirical_ntk(params, x1, x2, cfg, method, max_bytes)


def predict_ntk(
    cfg: Config,
    x_train: Float[ArrayLike, "P d_in"],
    y_train: Float[ArrayLike, "P d_out"],
    t: Float[ArrayLike, " *T"],
    x_test: Float[ArrayLike, "n_test d_in"] | None = None,
    *,
    f0_train: Float[ArrayLike, "P d_out"] | None = None,
    f0_test: Float[ArrayLike, "n_test d_out"] | None = None,
    gradient_flow: bool = False,
) -> kernels.LinearizedPrediction:
    """Infinite-width NTK prediction of :func:`train` ("ntk" parameterisation).

    Kernel gradient descent with the analytic kernel ``kernels.ntk(.., cfg)``:
    ``f_t = f_0 + Theta* Theta^{-1} (I - (I - lr Theta / P)^steps) (y - f_0)``
    (``kernels.predict_linearized``). Pass the finite network's initial outputs as
    ``f0_train`` / ``f0_test`` (e.g. ``traj.f_train[0]``) to predict that network;
    leave them out for the mean over initialisations (f_0 = 0).

    Args:
        cfg: network config (depth, activation, sigma_w2, sigma_b2, lr are used).
        x_train: training inputs, shape (P, d_in).
        y_train: targets, shape (P, d_out) or (P,).
        t: time(s) lr * steps, scalar or (T,); multiples of cfg.lr unless
            gradient_flow.
        x_test: optional test inputs, shape (n_test, d_in).
        f0_train: initial outputs on x_train, shape of y_train; default 0.
        f0_test: initial outputs on x_test; default 0.
        gradient_flow: use ``exp(-Theta t / P)`` (lr -> 0) instead of discrete GD.

    Returns:
        ``kernels.LinearizedPrediction`` (NumPy float64 arrays whatever JAX's
        precision mode): the outputs, the NTK's
        eigenvalues ``lambda_i`` (descending), ``unstable_modes``
        (``|1 - lr lambda_i / P| > 1``: kernel gradient descent amplifies them)
        and ``diverged_step``, the first step (in steps) whose predicted loss
        leaves the range :func:`train` accepts
        (:func:`lm_sims.training.divergence_limit`), or -1; outputs from that
        step on are NaN, as a diverged run's records are.

    Raises:
        ValueError: cfg.parameterization is not "ntk" (the others have no finite
            tangent kernel at infinite width), x_train or x_test is not a
            non-empty (n, d) array, shapes do not match, or NaN or inf inputs.
        TypeError: cfg is not a :class:`Config`, an input is not real numbers,
            or gradient_flow is not a bool.

    Example:
        >>> import numpy as np
        >>> from lm_sims import kernels, mlp
        >>> x = np.asarray(kernels.circle(np.linspace(0.0, 3.0, 4)))
        >>> y = np.sin(np.linspace(0.0, 3.0, 4))[:, None]
        >>> cfg = mlp.Config(width=64, d_in=2, lr=1.0)
        >>> mlp.predict_ntk(cfg, x, y, [0.0, 100.0]).diverged_step
        -1
        >>> bad = mlp.predict_ntk(cfg.replace(lr=2.0), x, y, [0.0, 400.0])
        >>> bad.unstable_modes.tolist(), bad.diverged_step  # lr lambda_i / P > 2
        ([True, True, False, False], 5)
        >>> bool(np.isnan(bad.f_train[-1]).all())
        True
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    if cfg.parameterization != "ntk":
        raise ValueError(
            "predict_ntk needs parameterization='ntk' (the infinite-width tangent "
            f"kernel of 'sp' and 'mup' is not finite); got "
            f"parameterization={cfg.parameterization!r}"
        )
    check_instance("gradient_flow", gradient_flow, (bool, np.bool_))
    x_train = as_float64_numpy("x_train", x_train)
    check_points("x_train", x_train)
    if x_test is not None:
        x_test = as_float64_numpy("x_test", x_test)
        check_points("x_test", x_test, x_train.shape[1], "d of x_train")
    theta = kernels.ntk(x_train, None, cfg)
    theta_star = None if x_test is None else kernels.ntk(x_test, x_train, cfg)
    return kernels.predict_linearized(
        theta,
        y_train,
        t,
        ntk_test_train=theta_star,
        f0_train=f0_train,
        f0_test=f0_test,
        lr=None if gradient_flow else float(cfg.lr),
    )
