"""Explorers for Chapter 2, sections 2.1 and 2.2: infinite width at initialisation
(the NNGP, signal propagation) and in training (the NTK regime).

* :func:`nngp_explorer`: the output covariance of finite random networks over many
  initialisations against the analytic NNGP kernel, and the distribution of one
  output against the Gaussian the central limit theorem predicts.
* :func:`signal_propagation_explorer`: correlation and length of two inputs'
  pre-activations layer by layer in one wide network, against the iterated
  correlation and length maps (order vs chaos).
* :func:`ntk_explorer`: two-layer ReLU networks trained by gradient descent on
  points of a circle, against the kernel prediction with the analytic NTK, and the
  width scaling of the kernel's motion and of the network-kernel gap.

Every input lies on a circle of radius ``sqrt(d)`` (d = 2) in the input plane, which
is what the NTK parameterisation of :mod:`lm_sims.kernels` expects (``|x|^2 = d``);
for ``x = sqrt(d) e`` with a unit vector ``e`` the kernels are those of the unit
sphere.
"""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from lm_sims import kernels, mlp
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = [
    "NTK_SEEDS",
    "NTK_STEPS",
    "NTK_WIDTHS",
    "NTKScan",
    "TARGETS",
    "circle",
    "nngp_explorer",
    "ntk_config",
    "ntk_explorer",
    "ntk_gap_parts",
    "ntk_width_scan",
    "output_samples",
    "preactivations",
    "signal_propagation_explorer",
    "signal_propagation_theory",
    "stable_correlation",
]

D_IN = 2  # input dimension: every input lies on the circle |x|^2 = D_IN


def circle(angles: Float[ArrayLike, " n"], d: int = D_IN) -> Float[Array, "n d"]:
    """Points ``sqrt(d) (cos a, sin a, 0, ..., 0)`` on a circle with ``|x|^2 = d``.

    Args:
        angles: angles in radians, shape (n,).
        d: input dimension (>= 2).

    Returns:
        float32 array, shape (n, d). Two points at angles a and b have cosine
        ``cos(a - b)``.
    """
    a = np.asarray(angles, np.float64).reshape(-1)
    pts = np.zeros((a.size, d))
    pts[:, 0], pts[:, 1] = np.cos(a), np.sin(a)
    return jnp.asarray(math.sqrt(d) * pts, jnp.float32)


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


# -- 2.1: outputs of random networks ---------------------------------------------------


@functools.partial(jax.jit, static_argnames=("num_inits",))
def _init_many(key, cfg, num_inits):
    return jax.vmap(lambda k: mlp.init(k, cfg))(jax.random.split(key, num_inits))


@jax.jit
def _apply_many(params, x, cfg):
    return jax.vmap(lambda p: mlp.apply(p, x, cfg))(params)


def output_samples(
    key: jax.Array, cfg: mlp.Config, x: Float[ArrayLike, "n d_in"], num_inits: int
) -> Float[Array, "num_inits n d_out"]:
    """Outputs of ``num_inits`` independently initialised networks at the inputs x.

    In the NTK parameterisation the stored parameters are standard normal whatever
    ``sigma_w2`` and ``sigma_b2`` (they enter as multipliers), so the same key gives
    the same draws at every variance: moving a variance knob moves every network
    continuously.

    Args:
        key: PRNG key; network m uses ``jax.random.split(key, num_inits)[m]``.
        cfg: network config (``parameterization`` "sp" or "ntk": both give the same
            outputs at initialisation).
        x: inputs, shape (n, d_in).
        num_inits: number of networks.

    Returns:
        float32 outputs, shape (num_inits, n, d_out).

    Raises:
        ValueError: num_inits < 1, or x is not of shape (n, cfg.d_in).
    """
    if int(num_inits) != num_inits or num_inits < 1:
        raise ValueError(
            f"num_inits must be an integer >= 1, got num_inits={num_inits}"
        )
    if np.ndim(x) != 2 or np.shape(x)[1] != cfg.d_in:
        raise ValueError(
            f"x must have shape (n, d_in={cfg.d_in}), got shape {np.shape(x)}"
        )
    params = _init_many(key, cfg, int(num_inits))
    return _apply_many(params, jnp.asarray(x, jnp.float32), cfg)


_PHI = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "linear": lambda h: h,
}


@jax.jit
def preactivations(
    params: mlp.Params, x: Float[ArrayLike, "n d_in"], cfg: mlp.Config
) -> Float[Array, "depth n width"]:
    """Pre-activations ``h^1 .. h^L`` of every hidden layer of an :mod:`lm_sims.mlp`
    network (the same arithmetic as :func:`lm_sims.mlp.apply`, which returns only
    the output ``h^{L+1}``).

    Args:
        params: network parameters (``depth + 1`` layers).
        x: inputs, shape (n, d_in).
        cfg: network config.

    Returns:
        shape (depth, n, width).
    """
    phi = _PHI[cfg.activation]
    scales = mlp.layer_scales(cfg)
    h, hs = jnp.asarray(x), []
    for i in range(cfg.depth):
        layer, s = params[i], scales[i]
        if i > 0:
            h = phi(h)
        h = s.w_mult * (h @ layer.w) + s.b_mult * layer.b
        hs.append(h)
    return jnp.stack(hs)


_NNGP_ANGLES = np.linspace(0.0, np.pi, 13)  # simulated: 0, 15, ..., 180 degrees
_NNGP_THEORY_ANGLES = np.linspace(0.0, np.pi, 91)
_NNGP_INITS = 500  # networks per panel ...
_NNGP_OUTPUTS = 8  # ... each with 8 outputs (independent given the hidden layers)
_HIST_EDGES = np.linspace(-4.0, 4.0, 33)


def _histogram_steps(samples, edges):
    """Density histogram as a step line: (x, y) with 2 points per bin."""
    density, _ = np.histogram(samples, bins=edges, density=False)
    density = density / (samples.size * np.diff(edges))
    return np.repeat(edges, 2)[1:-1], np.repeat(density, 2)


def nngp_explorer(key: jax.Array) -> Explorer:
    """Output covariance of random finite networks against the NNGP kernel.

    Left: ``E[f(x_0) f(x)]`` over 500 initialisations (8 outputs each) of networks
    with ``depth`` hidden layers of width ``width``, for x at angle 0..180 degrees
    from ``x_0`` on the circle (markers, +- one standard error), against
    :func:`lm_sims.kernels.nngp` (dashed). Right: the histogram of ``f(x_0)``
    divided by the NNGP standard deviation, against the standard normal density.
    Knobs: width, depth, sigma_w2, sigma_b2, activation.

    References:
        Neal, "Bayesian Learning for Neural Networks", 1996; Lee et al., "Deep
        neural networks as Gaussian processes", 2018, arXiv:1711.00165.
    """
    kd = _key_data(key)
    x = circle(_NNGP_ANGLES)
    x_theory = np.asarray(circle(_NNGP_THEORY_ANGLES), np.float64)
    grid = np.linspace(-4.0, 4.0, 121)
    gauss = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)

    @functools.lru_cache(maxsize=32)
    def params(width, depth):
        cfg = mlp.Config(width=width, depth=depth, d_in=D_IN, d_out=_NNGP_OUTPUTS)
        return _init_many(_key(kd), cfg, _NNGP_INITS)

    def panel(width, depth, sigma_w2, sigma_b2, activation):
        cfg = mlp.Config(
            width=width,
            depth=depth,
            d_in=D_IN,
            d_out=_NNGP_OUTPUTS,
            activation=activation,
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
        )
        out = np.asarray(_apply_many(params(width, depth), x, cfg), np.float64)
        z = np.einsum("mo,mjo->mj", out[:, 0], out) / _NNGP_OUTPUTS  # per network
        cov = z.mean(axis=0)
        stderr = z.std(axis=0, ddof=1) / math.sqrt(_NNGP_INITS)
        theory = np.asarray(kernels.nngp(x_theory[:1], x_theory, cfg))[0]
        scale = math.sqrt(theory[0])
        hx, hy = _histogram_steps(out[:, 0].ravel() / scale, _HIST_EDGES)
        deg = np.degrees(_NNGP_ANGLES)
        curves = [
            Curve(deg, cov, "covariance (networks)", mode="markers", error_y=stderr),
            Curve(np.degrees(_NNGP_THEORY_ANGLES), theory, "NNGP kernel", "theory"),
            Curve(hx, hy, "f(x₀) histogram (networks)", group=1, col=2),
            Curve(grid, gauss, "Gaussian N(0, K(x₀, x₀))", "theory", group=1, col=2),
        ]
        return Panel(curves)

    return Explorer(
        panel,
        [
            Knob("width", (1, 4, 16, 128), default=4, label="hidden width n"),
            Knob("depth", (1, 3), label="hidden layers L"),
            Knob(
                "sigma_w2",
                (1.0, 2.0, 4.0),
                low=0.1,
                high=5.0,
                default=2.0,
                label="weight variance σ_w²",
            ),
            Knob("sigma_b2", (0.1,), low=0.0, high=1.0, label="bias variance σ_b²"),
            Knob("activation", ("relu", "erf"), default="relu", label="activation"),
        ],
        title="Random networks at initialisation against the NNGP",
        x_title=["angle between x₀ and x (degrees)", "f(x₀) / √K(x₀, x₀)"],
        y_title=["E[f(x₀) f(x)] over networks", ""],
        cols=2,
        subplot_titles=["covariance", "one output"],
    )


# -- 2.1: signal propagation -----------------------------------------------------------

SIGNAL_DEPTH = 20  # hidden layers of the signal-propagation network
_SIGNAL_C0 = (0.2, 0.7, 0.95)  # cosines between x_0 and the other inputs


def signal_propagation_theory(
    c0: Float[ArrayLike, " k"], cfg, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Length and correlation of pre-activations, layer by layer, at infinite width.

    For inputs with ``|x|^2 = d`` and cosines ``c0`` between them, layer 1 has
    ``q_1 = sigma_w2 + sigma_b2`` and ``c_1 = (sigma_w2 c0 + sigma_b2) / q_1``; then
    ``q_{l+1} = length_map(q_l)`` and ``c_{l+1} = correlation_map(c_l, q=q_l)``
    (:func:`lm_sims.kernels.length_map`, :func:`lm_sims.kernels.correlation_map`).

    Args:
        c0: input cosines, shape (k,).
        cfg: a kernel config (activation, sigma_w2, sigma_b2).
        depth: number of hidden layers L.

    Returns:
        ``(q, c)``: float64 arrays of shapes (L,) and (L, k), layer 1 first.
    """
    sw2, sb2 = float(cfg.sigma_w2), float(cfg.sigma_b2)
    q = sw2 + sb2
    c = (sw2 * np.asarray(c0, np.float64) + sb2) / q
    qs, cs = [q], [c]
    for _ in range(depth - 1):
        c = np.asarray(kernels.correlation_map(c, cfg, q=q))
        q = float(kernels.length_map(q, cfg))
        qs.append(q)
        cs.append(c)
    return np.array(qs), np.stack(cs)


def stable_correlation(cfg) -> float:
    """Correlation c* that deep layers reach: the stable fixed point of
    :func:`lm_sims.kernels.correlation_map` at the fixed length q*.

    1 in the ordered phase (``chi_1 <= 1``); in the chaotic phase (``chi_1 > 1``)
    the largest root below 1 of ``correlation_map(c) = c``, located on a grid of
    4,001 points and refined on a second grid (accuracy ~1e-6).

    Args:
        cfg: a kernel config whose fixed length q* is finite (see
            :func:`lm_sims.kernels.length_fixed_point`).

    Returns:
        c* as a Python float.

    Raises:
        ValueError: q* is infinite (ReLU or linear with ``sigma_w2`` at or above
            its critical value): lengths grow without bound and no fixed point
            exists.
    """
    if math.isinf(kernels.length_fixed_point(cfg)):
        raise ValueError(
            "stable_correlation needs a finite fixed length q*; lengths grow without "
            f"bound for activation={cfg.activation!r}, sigma_w2={cfg.sigma_w2}"
        )
    if kernels.chi(cfg) <= 1:
        return 1.0
    lo, hi = -1.0, 1.0
    for _ in range(2):
        c = np.linspace(lo, hi, 4001)
        g = np.asarray(kernels.correlation_map(c, cfg)) - c
        # g < 0 on (c*, 1) where c = 1 repels; c* is the last sign change before
        sign_change = np.flatnonzero((g[:-2] >= 0) & (g[1:-1] < 0))
        if not sign_change.size:  # no root below 1 on this grid: c = 1 it is
            return 1.0
        i = sign_change[-1]
        lo, hi = float(c[i]), float(c[i + 1])
    return lo + (hi - lo) * float(g[i] / (g[i] - g[i + 1]))


def _phase_note(cfg) -> str:
    """A short line on the phase: chi_1 at the fixed length q*, where c_l goes."""
    q_star = kernels.length_fixed_point(cfg)
    sw2, sb2 = float(cfg.sigma_w2), float(cfg.sigma_b2)
    if cfg.activation == "relu" and math.isinf(q_star):
        return "ReLU, σ_w² ≥ 2: lengths unbounded, c_l → 1 slowly"
    if cfg.activation == "relu" and sb2 == 0:
        return f"ReLU, no bias: q_l × {sw2 / 2:.3g} per layer, c_l → 1 slowly"
    chi = kernels.chi(cfg)
    if q_star < 1e-12:  # erf, no bias, sigma_w2 <= pi/4
        return f"χ₁ = {chi:.2f}, q* = 0: the signal fades, erf acts linearly"
    if chi <= 1:
        return f"χ₁ = {chi:.2f} ≤ 1: ordered, c_l → 1"
    return f"χ₁ = {chi:.2f} > 1: chaotic, c_l → c* = {stable_correlation(cfg):.2f}"


def signal_propagation_explorer(key: jax.Array) -> Explorer:
    """Order and chaos: two inputs' pre-activation correlation and length across
    20 layers of one random network (solid), against the iterated correlation and
    length maps of mean-field theory (dashed). Knobs: sigma_w2, sigma_b2,
    activation, width.

    References:
        Poole et al., "Exponential expressivity in deep neural networks through
        transient chaos", 2016, arXiv:1606.05340; Schoenholz et al., "Deep
        information propagation", 2017, arXiv:1611.01232.
    """
    kd = _key_data(key)
    angles = np.concatenate([[0.0], np.arccos(_SIGNAL_C0)])
    x = circle(angles)
    layers = np.arange(1, SIGNAL_DEPTH + 1)

    @functools.lru_cache(maxsize=8)
    def params(width):
        cfg = mlp.Config(width=width, depth=SIGNAL_DEPTH, d_in=D_IN)
        return mlp.init(_key(kd), cfg)

    def panel(sigma_w2, sigma_b2, activation, width):
        cfg = mlp.Config(
            width=width,
            depth=SIGNAL_DEPTH,
            d_in=D_IN,
            activation=activation,
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
        )
        h = np.asarray(preactivations(params(width), x, cfg), np.float64)
        q_sim = np.mean(h**2, axis=-1)  # (L, 1 + k)
        c_sim = np.einsum("lw,lkw->lk", h[:, 0], h[:, 1:]) / width
        c_sim /= np.sqrt(q_sim[:, :1] * q_sim[:, 1:])
        q_th, c_th = signal_propagation_theory(_SIGNAL_C0, cfg, SIGNAL_DEPTH)
        curves = []
        for i, c0 in enumerate(_SIGNAL_C0):
            curves += [
                Curve(layers, c_sim[:, i], f"input cosine c₀ = {c0:g}", group=i),
                Curve(
                    layers,
                    c_th[:, i],
                    f"input cosine c₀ = {c0:g} (theory)",
                    "theory",
                    group=i,
                    showlegend=False,
                ),
            ]
        curves += [
            Curve(layers, q_sim[:, 0], "length q_l", group=3, col=2),
            Curve(
                layers,
                q_th,
                "length q_l (theory)",
                "theory",
                group=3,
                col=2,
                showlegend=False,
            ),
        ]
        return Panel(curves, _phase_note(cfg))

    return Explorer(
        panel,
        [
            Knob(
                "sigma_w2",
                (0.5, 1.0, 2.0, 4.0),
                low=0.1,
                high=6.0,
                default=4.0,
                label="weight variance σ_w²",
            ),
            Knob(
                "sigma_b2",
                (0.0, 0.3),
                low=0.0,
                high=1.0,
                default=0.3,
                label="bias variance σ_b²",
            ),
            Knob("activation", ("erf", "relu"), default="erf", label="activation"),
            Knob("width", (64, 1024), default=1024, label="hidden width n"),
        ],
        title="Signal propagation: correlation and length of two inputs by depth",
        x_title="layer l",
        y_title=["pre-activation correlation c_l", ""],
        log_y=[False, True],
        cols=2,
        subplot_titles=["correlation", "length q_l = |h^l|² / n"],
    )


# -- 2.2: the NTK regime ---------------------------------------------------------------

NTK_WIDTHS = (16, 64, 256, 1024)
NTK_STEPS = 200
NTK_SEEDS = 3  # networks per width; the width scan shows root mean squares over them
_NTK_SIGMA_W2 = 1.0
_NTK_SIGMA_B2 = 0.1  # a bias makes every frequency learnable (see the page)
_TEST_ANGLES = np.linspace(0.0, 2 * np.pi, 121)
_PROBE_ANGLES = np.arange(12) * 2 * np.pi / 12  # where the kernel's motion is measured

TARGETS = {
    "smooth": lambda a: np.sin(a) + 0.5 * np.cos(2 * a),
    "sin 3θ": lambda a: np.sin(3 * a),
    "square wave": lambda a: np.sign(np.sin(a)),
}


def ntk_config(width: int, lr: float) -> mlp.Config:
    """The section-2.2 network: two-layer ReLU, NTK parameterisation,
    ``sigma_w2 = 1``, ``sigma_b2 = 0.1``, d = 2, 200 steps of size lr."""
    return mlp.Config(
        width=width,
        depth=1,
        d_in=D_IN,
        sigma_w2=_NTK_SIGMA_W2,
        sigma_b2=_NTK_SIGMA_B2,
        lr=lr,
        steps=NTK_STEPS,
        record_every=NTK_STEPS,
    )


class NTKScan(NamedTuple):
    """Networks of several widths trained on the same data, and the NTK prediction.

    Shapes: W widths, S seeds (networks per width), n_test test inputs. Entries of a
    run that diverged are NaN.

    Attributes:
        widths: hidden widths, shape (W,).
        train_angles, y_train: training inputs (angles, radians) and targets, (P,).
        test_angles: angles of the test inputs on the circle, shape (n_test,).
        f0, f_net, f_kernel: outputs on the test inputs at initialisation, after
            training, and predicted by kernel gradient descent with the analytic NTK
            from the same f0; shape (W, S, n_test).
        kernel_change: ``|Theta_T - Theta_0|_F / |Theta_0|_F`` of the empirical NTK
            on 12 evenly spaced points of the circle, shape (W, S).
        weight_change: ``|w_T - w_0| / |w_0|`` over both weight matrices, (W, S).
        f0_train: outputs on the training inputs at initialisation, (W, S, P).
        residual0: root mean square of ``y - f_0`` over the training points, the
            distance the function has to travel, shape (W, S).
        gap: ``|f_net - f_kernel| / |f_kernel - f0|`` (root mean square over the
            test inputs), shape (W, S).
        diverged_step: first step at which each run diverged, or -1; shape (W, S).
        lr_max: ``2 P / lambda_max(Theta)``: kernel gradient descent diverges for
            ``lr >= lr_max``, and then ``f_kernel`` and ``gap`` are NaN.
    """

    widths: np.ndarray
    train_angles: np.ndarray
    y_train: np.ndarray
    test_angles: np.ndarray
    f0: np.ndarray
    f_net: np.ndarray
    f_kernel: np.ndarray
    kernel_change: np.ndarray
    weight_change: np.ndarray
    f0_train: np.ndarray
    residual0: np.ndarray
    gap: np.ndarray
    diverged_step: np.ndarray
    lr_max: float


@functools.partial(jax.jit, static_argnames=("num_seeds",))
def _train_seeds(key, cfg, x, y, x_test, probe, num_seeds):
    """Train num_seeds networks; initial and final test outputs, changes."""

    def one(k):
        traj = mlp.train(k, cfg, x, y, x_test)
        k0 = mlp.empirical_ntk(mlp.init(k, cfg), probe, None, cfg)
        k1 = mlp.empirical_ntk(traj.params, probe, None, cfg)
        change = jnp.linalg.norm(k1 - k0) / jnp.linalg.norm(k0)
        return (
            traj.f_train[0, :, 0],
            traj.f_test[0, :, 0],
            traj.f_test[-1, :, 0],
            traj.weight_change[-1],
            change,
            traj.diverged_step,
        )

    keys = jax.random.split(key, num_seeds)
    # vmap is faster for narrow networks, a sequential map for wide ones (2 cores)
    return jax.lax.map(one, keys, batch_size=num_seeds if cfg.width < 512 else 1)


@functools.lru_cache(maxsize=8)
def _train_kernels(num_train: int):
    """Analytic NTK on the training and test inputs (float64), and 2P/lambda_max."""
    angles = (np.arange(num_train) + 0.5) * 2 * np.pi / num_train
    x = np.asarray(circle(angles), np.float64)
    x_test = np.asarray(circle(_TEST_ANGLES), np.float64)
    cfg = ntk_config(1, 1.0)
    theta = np.asarray(kernels.ntk(x, None, cfg))
    theta_star = np.asarray(kernels.ntk(x_test, x, cfg))
    return theta, theta_star, 2 * num_train / float(np.linalg.eigvalsh(theta)[-1])


def ntk_width_scan(
    key: jax.Array,
    *,
    lr: float,
    num_train: int,
    target: str,
    widths: tuple[int, ...] = NTK_WIDTHS,
    num_seeds: int = NTK_SEEDS,
) -> NTKScan:
    """Train two-layer ReLU networks of several widths and predict them by the NTK.

    The networks (:func:`ntk_config`: NTK parameterisation, ``sigma_w2 = 1``,
    ``sigma_b2 = 0.1``, d = 2) see ``num_train`` evenly spaced points of the circle,
    at angles ``(i + 1/2) 2 pi / P``, labelled by ``TARGETS[target]``, and take 200
    full-batch gradient-descent steps of size ``lr`` on
    ``1/(2P) sum_i (f(x_i) - y_i)^2`` (time ``t = 200 lr``). The prediction is
    kernel gradient descent with the analytic NTK from each network's own initial
    function (:func:`lm_sims.kernels.predict_linearized`):

    ``f_t(X*) = f_0(X*) + Theta(X*, X) Theta^{-1} (I - (I - lr Theta / P)^200)
    (y - f_0(X))``.

    Args:
        key: PRNG key; the networks of every width use the seeds
            ``jax.random.split(key, num_seeds)``.
        lr: learning rate (> 0).
        num_train: number of training points P (>= 1).
        target: a key of ``TARGETS``.
        widths: hidden widths.
        num_seeds: networks per width (>= 1).

    Returns:
        :class:`NTKScan`.

    Raises:
        ValueError: unknown target, or lr, num_train, num_seeds out of range.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    for name, value in (("num_train", num_train), ("num_seeds", num_seeds)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {name}={value}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got lr={lr}")
    train_angles = (np.arange(num_train) + 0.5) * 2 * np.pi / num_train
    y = TARGETS[target](train_angles)
    x, x_test, probe = circle(train_angles), circle(_TEST_ANGLES), circle(_PROBE_ANGLES)
    y32 = jnp.asarray(y[:, None], jnp.float32)
    runs = [
        _train_seeds(key, ntk_config(w, lr), x, y32, x_test, probe, num_seeds)
        for w in widths
    ]
    f0_train, f0, f_net, weight, change, diverged = (
        np.stack([np.asarray(r[i], np.float64) for r in runs]) for i in range(6)
    )
    theta, theta_star, lr_max = _train_kernels(num_train)
    num_runs = len(widths) * num_seeds
    if lr < lr_max:  # one kernel prediction, every run a column
        f_kernel = np.asarray(
            kernels.predict_linearized(
                theta,
                np.repeat(y[:, None], num_runs, axis=1),
                lr * NTK_STEPS,
                ntk_test_train=theta_star,
                f0_train=f0_train.reshape(num_runs, -1).T,
                f0_test=f0.reshape(num_runs, -1).T,
                lr=lr,
            ).f_test
        ).T.reshape(f0.shape)
    else:  # kernel gradient descent diverges: no finite prediction to draw
        f_kernel = np.full_like(f0, np.nan)
    bad = diverged >= 0
    f_net[bad], weight[bad], change[bad] = np.nan, np.nan, np.nan
    gap = np.sqrt(
        np.mean((f_net - f_kernel) ** 2, axis=-1)
        / np.mean((f_kernel - f0) ** 2, axis=-1)
    )
    return NTKScan(
        widths=np.array(widths),
        train_angles=train_angles,
        y_train=y,
        test_angles=_TEST_ANGLES,
        f0=f0,
        f_net=f_net,
        f_kernel=f_kernel,
        kernel_change=change,
        weight_change=weight,
        f0_train=f0_train,
        residual0=np.sqrt(np.mean((y - f0_train) ** 2, axis=-1)),
        gap=gap,
        diverged_step=diverged.astype(int),
        lr_max=lr_max,
    )


@functools.partial(jax.jit, static_argnames=("num_seeds",))
def _initial_kernels(key, cfg, x, num_seeds):
    """Empirical NTK at initialisation of the networks of :func:`_train_seeds`."""

    def one(k):
        return mlp.empirical_ntk(mlp.init(k, cfg), x, None, cfg)

    return jax.lax.map(one, jax.random.split(key, num_seeds), batch_size=1)


def ntk_gap_parts(
    key: jax.Array,
    *,
    lr: float,
    num_train: int,
    target: str,
    widths: tuple[int, ...] = NTK_WIDTHS,
    num_seeds: int = NTK_SEEDS,
) -> tuple[NTKScan, np.ndarray, np.ndarray]:
    """Split the network-NTK gap of :func:`ntk_width_scan` into its two sources.

    With ``f_lin`` the network's own linearisation (kernel gradient descent with its
    empirical NTK at initialisation, from the same f0), the gap
    ``f_net - f_NTK = (f_net - f_lin) + (f_lin - f_NTK)`` is the kernel's motion
    during training plus the difference between the initial kernel and the
    infinite-width one. Both are measured like the gap, relative to
    ``|f_NTK - f_0|`` on the test inputs.

    Args:
        key, lr, num_train, target, widths, num_seeds: as :func:`ntk_width_scan`
            (``lr`` below ``2P / lambda_max``).

    Returns:
        ``(scan, motion, initial)``: the :class:`NTKScan`, and the relative sizes
        of ``f_net - f_lin`` and ``f_lin - f_NTK``, each of shape (W, S).

    Raises:
        ValueError: as :func:`ntk_width_scan`, or ``lr >= 2P / lambda_max``.
    """
    scan = ntk_width_scan(
        key,
        lr=lr,
        num_train=num_train,
        target=target,
        widths=widths,
        num_seeds=num_seeds,
    )
    if lr >= scan.lr_max:
        raise ValueError(
            f"lr must be < 2P / lambda_max = {scan.lr_max:.3f} (the linearised "
            f"network diverges above), got lr={lr}"
        )
    x_all = jnp.concatenate([circle(scan.train_angles), circle(scan.test_angles)])
    motion = np.zeros(scan.gap.shape)
    initial = np.zeros(scan.gap.shape)
    for i, width in enumerate(widths):
        k0 = np.asarray(
            _initial_kernels(key, ntk_config(width, lr), x_all, num_seeds), np.float64
        )
        for j in range(num_seeds):
            f_lin = np.asarray(
                kernels.predict_linearized(
                    k0[j, :num_train, :num_train],
                    scan.y_train,
                    lr * NTK_STEPS,
                    ntk_test_train=k0[j, num_train:, :num_train],
                    f0_train=scan.f0_train[i, j],
                    f0_test=scan.f0[i, j],
                    lr=lr,
                ).f_test
            )
            size = np.sqrt(np.mean((scan.f_kernel[i, j] - scan.f0[i, j]) ** 2))
            motion[i, j] = np.sqrt(np.mean((scan.f_net[i, j] - f_lin) ** 2)) / size
            initial[i, j] = np.sqrt(np.mean((f_lin - scan.f_kernel[i, j]) ** 2)) / size
    return scan, motion, initial


def _rms(values: np.ndarray) -> np.ndarray:
    """Root mean square over the last axis, ignoring NaN (NaN if all are)."""
    finite = np.isfinite(values)
    total = np.where(finite, values**2, 0.0).sum(axis=-1)
    count = finite.sum(axis=-1)
    return np.sqrt(np.where(count > 0, total / np.maximum(count, 1), np.nan))


def _power_law_through_widest(widths, values, exponent):
    """``C width^-exponent`` through the widest finite point (the asymptotic end)."""
    ok = np.flatnonzero(np.isfinite(values) & (values > 0))
    if not ok.size:
        return np.full(len(widths), np.nan)
    last = ok[-1]
    return values[last] * (widths / widths[last]) ** -exponent


# (label, NTKScan field, width exponent of the law, how the law is written)
_LAZINESS = (
    ("weights |Δw|/|w|", "weight_change", 0.5, "∝ n^-1/2 (weights)"),
    ("kernel |ΔΘ|/|Θ|", "kernel_change", 0.75, "∝ n^-3/4 (kernel)"),
    ("gap |f − f_NTK|", "gap", 0.5, "∝ n^-1/2 (gap)"),
)


def ntk_explorer(key: jax.Array) -> Explorer:
    """The NTK regime: a trained two-layer ReLU network against kernel gradient
    descent with the analytic NTK (left, at one width), and how the kernel, the
    weights and the network-kernel gap shrink with width (right: root mean square
    over 3 networks per width; dashed, the laws ``width^-1/2`` for the weights and
    the gap, ``width^-3/4`` for the kernel of a ReLU network, drawn through the
    widest network). Knobs: width, learning
    rate, number of training points, target. The setting is
    :func:`ntk_width_scan`'s.

    The kernel's law is a counting estimate (a fraction ~n^-1/2 of the ReLU units
    switch at an input, each moving the kernel by ~1/n with a random sign); the
    n^-1/2 of Lee et al. is a bound, and smooth activations give 1/n (Dyer &
    Gur-Ari). Above ``lr = 2P / lambda_max`` (the static value 6) kernel gradient
    descent diverges while the network catapults (Lewkowycz et al.).

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel", 2018, arXiv:1806.07572;
        Lee et al., "Wide neural networks of any depth evolve as linear models under
        gradient descent", 2019, arXiv:1902.06720; Dyer & Gur-Ari, "Asymptotics of
        wide networks from Feynman diagrams", 2020, arXiv:1909.11304; Lewkowycz et
        al., "The large learning rate phase of deep learning: the catapult
        mechanism", 2020, arXiv:2003.02218.
    """

    @functools.lru_cache(maxsize=32)
    def scan(lr, num_train, target):
        return ntk_width_scan(key, lr=lr, num_train=num_train, target=target)

    def panel(width, lr, num_train, target):
        s = scan(lr, num_train, target)
        i = list(s.widths).index(width)
        deg = np.degrees(s.test_angles)
        curves = [
            Curve(deg, s.f0[i, 0], "initial network", group=7),
            Curve(deg, s.f_net[i, 0], "trained network", group=0),
            Curve(deg, s.f_kernel[i, 0], "NTK prediction", "theory", group=0),
            Curve(
                np.degrees(s.train_angles),
                s.y_train,
                "training points",
                group=1,
                mode="markers",
            ),
        ]
        w = s.widths.astype(float)
        # above the kernel's stability limit the run is not lazy: no law to draw
        lazy = 1.0 if lr < s.lr_max else np.nan
        for j, (name, field, exponent, law) in enumerate(_LAZINESS):
            rms = _rms(getattr(s, field))
            law_y = lazy * _power_law_through_widest(w, rms, exponent)
            curves += [
                Curve(w, rms, name, group=2 + j, col=2, mode="lines+markers"),
                Curve(w, law_y, f"  {law}", "theory", group=2 + j, col=2),
            ]
        notes = []
        if lr >= s.lr_max:
            notes.append(
                f"lr ≥ 2P/λ_max = {s.lr_max:.2f}: kernel gradient descent diverges"
            )
        if s.diverged_step[i, 0] >= 0:
            notes.append(f"the network diverged at step {int(s.diverged_step[i, 0])}")
        return Panel(curves, "; ".join(notes))

    return Explorer(
        panel,
        [
            Knob("width", NTK_WIDTHS, default=256, label="hidden width n"),
            Knob(
                "lr",
                (0.5, 2.0, 6.0),
                low=0.05,
                high=10.0,
                log=True,
                default=2.0,
                label="learning rate (200 steps)",
            ),
            Knob("num_train", (4, 16), default=4, label="training points P"),
            Knob("target", tuple(TARGETS), default="smooth", label="target"),
        ],
        title="The NTK regime: trained networks against kernel gradient descent",
        x_title=["angle θ on the input circle (degrees)", "hidden width n"],
        y_title=["f(θ)", ""],
        log_x=[False, True],
        log_y=[False, True],
        cols=2,
        subplot_titles=["after t = 200 lr", "relative changes and gap"],
    )
