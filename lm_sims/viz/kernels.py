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
sphere. What the figures simulate and predict is in :mod:`lm_sims.kernels`
(:func:`lm_sims.kernels.output_samples`, :func:`lm_sims.kernels.preactivations`,
:func:`lm_sims.kernels.signal_propagation_theory`,
:func:`lm_sims.kernels.ntk_width_scan`); this module only draws it.
"""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math

import jax
import numpy as np

from lm_sims import kernels, mlp
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel, band

__all__ = ["nngp_explorer", "ntk_explorer", "signal_propagation_explorer"]

_D_IN = 2  # input dimension: every input lies on the circle |x|^2 = _D_IN


# -- 2.1: outputs of random networks ---------------------------------------------------


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
    from ``x_0`` on the circle (markers; shaded, +- one standard error over the
    networks), against
    :func:`lm_sims.kernels.nngp` (dashed). Right: the histogram of ``f(x_0)``
    divided by the NNGP standard deviation, against the standard normal density.
    Knobs: width, depth, sigma_w2, sigma_b2, activation.

    References:
        Neal, "Bayesian Learning for Neural Networks", 1996; Lee et al., "Deep
        neural networks as Gaussian processes", 2018, arXiv:1711.00165.
    """
    check_key(key)
    x = kernels.circle(_NNGP_ANGLES)
    x_theory = np.asarray(kernels.circle(_NNGP_THEORY_ANGLES), np.float64)
    grid = np.linspace(-4.0, 4.0, 121)
    gauss = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)

    def panel(width, depth, sigma_w2, sigma_b2, activation):
        cfg = mlp.Config(
            width=width,
            depth=depth,
            d_in=_D_IN,
            d_out=_NNGP_OUTPUTS,
            activation=activation,
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
        )
        out = kernels.output_samples(key, cfg, x, _NNGP_INITS)
        out = np.asarray(out, np.float64)
        z = np.einsum("mo,mjo->mj", out[:, 0], out) / _NNGP_OUTPUTS  # per network
        theory = np.asarray(kernels.nngp(x_theory[:1], x_theory, cfg))[0]
        scale = math.sqrt(theory[0])
        hx, hy = _histogram_steps(out[:, 0].ravel() / scale, _HIST_EDGES)
        deg = np.degrees(_NNGP_ANGLES)
        curves = [
            band(
                deg,
                z,
                "covariance (networks)",
                spread="sem",
                mode="lines+markers",
                band_label=f"mean ± 1 s.e.m. over {_NNGP_INITS} networks",
            ),
            Curve(
                np.degrees(_NNGP_THEORY_ANGLES),
                theory,
                "NNGP kernel (theory)",
                "theory",
            ),
            Curve(hx, hy, "f(x₀) histogram (networks)", group=1, col=2),
            # the histogram is of f(x0) / sqrt(K(x0, x0)): its limit is N(0, 1)
            Curve(
                grid, gauss, "Gaussian limit N(0, 1) (theory)", "theory", group=1, col=2
            ),
        ]
        return Panel(curves)

    return Explorer(
        panel,
        [
            Knob("width", (1, 4, 16, 128), default=4, label="hidden width n"),
            Knob("depth", (1, 3), label="hidden layers"),
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
        y_title=["E[f(x₀) f(x)] over networks", "probability density"],
        cols=2,
        subplot_titles=["covariance", "one output"],
    )


# -- 2.1: signal propagation -----------------------------------------------------------

_SIGNAL_DEPTH = 20  # hidden layers of the signal-propagation network
_SIGNAL_C0 = (0.2, 0.7, 0.95)  # cosines between x_0 and the other inputs


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
    return (
        f"χ₁ = {chi:.2f} > 1: chaotic, c_l → c* = {kernels.stable_correlation(cfg):.2f}"
    )


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
    check_key(key)
    angles = np.concatenate([[0.0], np.arccos(_SIGNAL_C0)])
    x = kernels.circle(angles)
    layers = np.arange(1, _SIGNAL_DEPTH + 1)

    @functools.lru_cache(maxsize=8)
    def params(width):
        cfg = mlp.Config(width=width, depth=_SIGNAL_DEPTH, d_in=_D_IN)
        return mlp.init(key, cfg)

    def panel(sigma_w2, sigma_b2, activation, width):
        cfg = mlp.Config(
            width=width,
            depth=_SIGNAL_DEPTH,
            d_in=_D_IN,
            activation=activation,
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
        )
        h = np.asarray(kernels.preactivations(params(width), x, cfg), np.float64)
        q_sim = np.mean(h**2, axis=-1)  # (L, 1 + k)
        c_sim = np.einsum("lw,lkw->lk", h[:, 0], h[:, 1:]) / width
        c_sim /= np.sqrt(q_sim[:, :1] * q_sim[:, 1:])
        q_th, c_th = kernels.signal_propagation_theory(_SIGNAL_C0, cfg, _SIGNAL_DEPTH)
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
        y_title=["pre-activation correlation c_l", "length q_l"],
        log_y=[False, True],
        cols=2,
        subplot_titles=["correlation", "length q_l = |h^l|² / n"],
    )


# -- 2.2: the NTK regime --------------------------------------------------------


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


def _kernel_prediction(s, i, lr):
    """Kernel gradient descent with the analytic NTK from the first network of
    width index i: :func:`lm_sims.kernels.predict_linearized`, whose
    ``diverged_step`` and ``unstable_modes`` the note reports."""
    x = kernels.circle(s.train_angles)
    theta = kernels.ntk(x, None, kernels.ntk_config(1, lr))
    return kernels.predict_linearized(
        theta,
        s.y_train,
        [0.0, lr * kernels.NTK_STEPS],
        f0_train=s.f0_train[i, 0],
        lr=lr,
    )


def ntk_explorer(key: jax.Array) -> Explorer:
    """The NTK regime: a trained two-layer ReLU network against kernel gradient
    descent with the analytic NTK (left, at one width, with the target function as
    a thin grey line and its samples, the training points, as grey markers: at
    P = 4 two targets agree at the points and the network learns the same
    function for both), and how the kernel, the
    weights and the network-kernel gap shrink with width (right: mean over 3
    networks per width, shaded +- one standard error; dashed, the laws ``width^-1/2``
    for the weights and the gap, ``width^-3/4`` for the kernel of a ReLU network,
    drawn through the widest network). Knobs: width, learning rate, number of
    training points, target. The setting is
    :func:`lm_sims.kernels.ntk_width_scan`'s.

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
    check_key(key)

    @functools.lru_cache(maxsize=32)
    def scan(lr, num_train, target):
        return kernels.ntk_width_scan(key, lr=lr, num_train=num_train, target=target)

    def panel(width, lr, num_train, target):
        s = scan(lr, num_train, target)
        i = list(s.widths).index(width)
        deg = np.degrees(s.test_angles)
        curves = [
            # the target and its samples, the training points, share one colour
            Curve(
                deg,
                kernels.TARGETS[target](s.test_angles),
                "target",
                group=7,
                thin=True,
            ),
            Curve(deg, s.f0[i, 0], "initial network", group=1),
            Curve(deg, s.f_net[i, 0], "trained network", group=0),
            Curve(deg, s.f_kernel[i, 0], "NTK prediction", "theory", group=0),
            Curve(
                np.degrees(s.train_angles),
                s.y_train,
                "training points",
                group=7,
                mode="markers",
            ),
        ]
        w = s.widths.astype(float)
        # above the kernel's stability limit the run is not lazy: no law to draw
        lazy = 1.0 if lr < s.lr_max else np.nan
        for j, (name, field, exponent, law) in enumerate(_LAZINESS):
            # (seeds, widths): the mean over the networks +- its standard error,
            # what the law is drawn through (the networks' full range, a factor
            # ~3, buried the three curves under each other); for positive samples
            # mean - s.e.m. >= 0, so the band stays on the log axis
            scan_band = band(
                w,
                getattr(s, field).T,
                name,
                spread="sem",
                group=2 + j,
                col=2,
                mode="lines+markers",
                band_label=f"mean ± 1 s.e.m. over {s.gap.shape[1]} networks",
            )
            mean = np.full(len(w), np.nan)
            mean[np.isin(w, scan_band.x)] = scan_band.y
            law_y = lazy * _power_law_through_widest(w, mean, exponent)
            curves += [
                scan_band,
                Curve(w, law_y, f"  {law}", "theory", group=2 + j, col=2),
            ]
        notes = []
        if lr >= s.lr_max:
            pred = _kernel_prediction(s, i, lr)
            when = (
                f" at step {pred.diverged_step}"
                if pred.diverged
                else f" (not yet within {kernels.NTK_STEPS} steps)"
            )
            notes.append(
                f"lr ≥ 2P/λ_max = {s.lr_max:.2f}: kernel gradient descent "
                f"diverges{when}, {int(np.sum(pred.unstable_modes))} NTK mode(s) "
                "with |1 − lr λ/P| > 1"
            )
        if s.diverged_step[i, 0] >= 0:
            notes.append(f"the network diverged at step {int(s.diverged_step[i, 0])}")
        return Panel(curves, "; ".join(notes))

    return Explorer(
        panel,
        [
            Knob("width", kernels.NTK_WIDTHS, default=256, label="hidden width n"),
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
            Knob("target", tuple(kernels.TARGETS), default="smooth", label="target"),
        ],
        title="The NTK regime: trained networks against kernel gradient descent",
        x_title=["angle θ on the input circle (degrees)", "hidden width n"],
        y_title=["network output f(θ)", "relative change, gap"],
        log_x=[False, True],
        log_y=[False, True],
        cols=2,
        subplot_titles=["after t = 200 lr", "relative changes and gap"],
    )
