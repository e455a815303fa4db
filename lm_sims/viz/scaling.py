"""Explorers for Chapter 3.1: scaling laws from power-law spectra.

* :func:`kaplan_explorer`: the position paper's Fig. 3 (Kaplan et al. 2020, Fig. 1)
  at toy scale: test error against compute, data and model size for the
  random-feature model of :mod:`lm_sims.scaling`, simulation and theory.
* :func:`learning_curve_explorer`: one axis at a time (data, model size or time)
  for three target exponents, with the local log-log slope against its asymptote,
  where the saturations show.
* :func:`quanta_digits_explorer`: the quanta model (Michaud et al. 2023) and the
  digits kernel's measured spectrum with the learning curve it predicts.

Every simulation is computed once per setting and cached (``functools.lru_cache``);
the explorers share the caches.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import scaling as sc
from lm_sims._config import check_key
from lm_sims.fitting import power_law_fit
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel, band

__all__ = [
    "kaplan_explorer",
    "learning_curve_explorer",
    "quanta_digits_explorer",
]

NUM_MODES = 2000  # modes M of the explorers' model (as the tests' default)
LR = 0.5  # 1 / (2 lambda_1): a random projection can raise the top curvature
NS = (16, 32, 64, 128, 256)  # training samples (data axis); n << M
WIDTHS = (16, 23, 32, 45, 64, 91, 128, 181, 256)  # model sizes (parameter axis)
COMPUTE_WIDTHS = (16, 32, 64, 128, 256)  # learning curves of the compute panel
COMPUTE = np.geomspace(20.0, 1e5, 40)  # compute C = N t
TIME_STEPS = np.unique(np.geomspace(1, 2e5, 36).round())  # steps of the time axis
TIME_N = 256  # training samples behind the time axis
SEEDS = 8  # draws per point (data and parameter axes)
TIME_SEEDS = 2  # draws per point (compute and time axes: each is a whole run)
RS = (2.0, 3.0, 5.0)
_DENSE_N = np.geomspace(8, 300, 60)  # theory lines (n, N << M: no truncation)
_DENSE_C = np.geomspace(COMPUTE[0], COMPUTE[-1], 60)


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


def _cfg(alpha, r, noise=0.0, **kw):
    return sc.Config(
        num_modes=NUM_MODES,
        alpha=float(alpha),
        r=float(r),
        noise=float(noise),
        lr=LR,
        **kw,
    )


@functools.lru_cache(maxsize=64)
def _data(key_data, alpha, r, noise):
    """(seeds, len(NS)) converged test MSE against n (N = inf; the t = inf limit
    by definition, whatever LR)."""
    return sc.data_curve(_key(key_data), _cfg(alpha, r, noise), NS, SEEDS).samples


@functools.lru_cache(maxsize=64)
def _width(key_data, alpha, r):
    """(seeds, len(WIDTHS)) converged test MSE against N (n = inf), no noise
    (label noise adds exactly noise^2 with infinite data)."""
    c = sc.width_curve(_key(key_data), _cfg(alpha, r), WIDTHS, SEEDS)
    return c.samples


@functools.lru_cache(maxsize=64)
def _compute(key_data, alpha, r):
    """(len(COMPUTE_WIDTHS), len(COMPUTE)) mean test MSE of gradient descent at
    compute C = N t (n = inf, no noise; NaN below one step)."""
    f = sc.isoflop(_key(key_data), _cfg(alpha, r), COMPUTE_WIDTHS, COMPUTE, TIME_SEEDS)
    return f.test_mse.T, f.diverged


@functools.lru_cache(maxsize=64)
def _time(key_data, alpha, r, noise):
    """(seeds, len(TIME_STEPS)) test MSE along gradient descent with TIME_N
    samples (N = inf)."""
    cfg = _cfg(alpha, r, noise, n=TIME_N)
    return sc.simulate_test_mse(_key(key_data), cfg, TIME_STEPS, TIME_SEEDS)


def _frontier_theory(cfg):
    """Compute-optimal E*(C) of :func:`lm_sims.scaling.predict_width_time`,
    minimised over real N in [8, 512]."""
    dense = np.union1d(np.geomspace(8, 512, 120), COMPUTE_WIDTHS)
    th = np.stack(
        [sc.predict_width_time(cfg, [w], _DENSE_C / w)[0] for w in dense], axis=1
    )
    return th.min(axis=1), dense[th.argmin(axis=1)]


def _slope(x, y):
    return float(power_law_fit(x, y).exponent)


def kaplan_explorer(key: jax.Array) -> Explorer:
    """The position paper's Fig. 3 (Kaplan et al. 2020, Fig. 1) at toy scale.

    The random-feature model of :mod:`lm_sims.scaling` (M = 2000 modes,
    ``lambda_k = k^-alpha``, target power ``v_k^2 ∝ k^-r``), trained by gradient
    descent at ``lr = 1/(2 lambda_1)``. Left, compute: test MSE along training
    against compute ``C = N t`` for five model sizes ``N`` (infinite data; mean
    of 2 draws of the random projection, solid) with
    :func:`lm_sims.scaling.predict_width_time` (dashed) and its compute-optimal
    envelope (dashed, black). Middle, data: converged error against the number
    of samples ``n`` (``N = t = inf``; mean +- one s.e.m. over 8 draws) with the
    eigenlearning curve. Right, parameters: converged error against ``N``
    (``n = t = inf``, 8 draws) with the deterministic equivalent. The note gives
    the asymptotic exponents.

    Static grid: alpha in (1.5, 2) x r in (2, 3, 5) x noise in (0, 0.1), every
    simulation cached. Live: alpha in [1.2, 3], r in [1.2, 6], noise in [0, 0.5]
    (a new alpha or r reruns the simulations, a few seconds).

    References:
        Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
        arXiv:2001.08361. Maloney, Roberts & Sully 2022, arXiv:2210.16859.
        Bordelon, Atanasov & Pehlevan 2024, arXiv:2402.01092.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(alpha, r, noise):
        cfg = _cfg(alpha, r, noise)
        s2 = float(noise) ** 2
        curves = []
        sim_c, diverged = _compute(key_data, alpha, r)
        for g, w in enumerate(COMPUTE_WIDTHS):
            curves.append(Curve(COMPUTE, sim_c[g] + s2, f"N = {w}", group=g, col=1))
            th = sc.predict_width_time(cfg, [w], _DENSE_C / w)[0]
            curves.append(
                Curve(
                    _DENSE_C,
                    th,
                    f"N = {w} (theory)",
                    "theory",
                    group=g,
                    col=1,
                    showlegend=False,
                )
            )
        e_star, _ = _frontier_theory(cfg)
        curves.append(
            Curve(
                _DENSE_C,
                e_star,
                "compute-optimal frontier (theory)",
                "theory",
                group=7,
            )
        )
        data = _data(key_data, alpha, r, noise)
        curves.append(
            band(
                NS,
                data,
                "n: simulation",
                spread="sem",
                group=5,
                col=2,
                mode="lines+markers",
            )
        )
        curves.append(
            Curve(
                _DENSE_N[_DENSE_N < NUM_MODES],
                sc.predict_data(cfg, _DENSE_N[_DENSE_N < NUM_MODES]),
                "eigenlearning (theory)",
                "theory",
                group=5,
                col=2,
            )
        )
        width = _width(key_data, alpha, r) + s2
        curves.append(
            band(
                WIDTHS,
                width,
                "N: simulation",
                spread="sem",
                group=6,
                col=3,
                mode="lines+markers",
            )
        )
        curves.append(
            Curve(
                _DENSE_N,
                sc.predict_width(cfg, _DENSE_N),
                "deterministic equivalent (theory)",
                "theory",
                group=6,
                col=3,
            )
        )
        ex = sc.predict_exponents(alpha, r)
        note = (
            f"asymptotes: E ~ C^{ex['frontier_loss']:.2f} (frontier, r−1 < α), "
            f"n^{ex['data']:.2f}, N^{ex['width']:.2f}"
        )
        if not noise:
            note += (
                f"; fitted (simulation): n {_slope(NS, data.mean(0)):.2f}, "
                f"N {_slope(WIDTHS, width.mean(0)):.2f}"
            )
        if diverged:
            note += f"; {diverged} runs diverged (cut)"
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("alpha", (1.5, 2.0), low=1.2, high=3.0, label="spectrum exponent α"),
            Knob("r", RS, low=1.2, high=6.0, default=2.0, label="target exponent r"),
            Knob("noise", (0.0, 0.1), low=0.0, high=0.5, label="label noise σ"),
        ],
        title="Scaling laws of a random-feature model (Kaplan et al. Fig. 1, toy)",
        # short titles: three panels share the text column's width
        x_title=["compute C = N·t", "samples n", "model size N"],
        # every panel its own y title (shared axes still: one scale)
        y_title="test MSE",
        log_x=True,
        log_y=True,
        cols=3,
        # short: three 25-character titles fit side by side (the limits, N, t = ∞
        # and n, t = ∞, are in the figure's caption and the docstring)
        subplot_titles=["compute", "data", "model size"],
        shared_y=True,
        height=460,
    )


_AXES = ("data", "model size", "time")


def _axis_curves(key_data, axis, alpha, r, noise):
    """x, samples (seeds, points), theory x, theory y, asymptotic exponent."""
    cfg = _cfg(alpha, r, noise)
    ex = sc.predict_exponents(alpha, r)
    if axis == "data":
        x_th = _DENSE_N[_DENSE_N < NUM_MODES]
        return (
            np.array(NS, float),
            _data(key_data, alpha, r, noise),
            x_th,
            sc.predict_data(cfg, x_th),
            ex["data"],
        )
    if axis == "model size":
        return (
            np.array(WIDTHS, float),
            _width(key_data, alpha, r) + float(noise) ** 2,
            _DENSE_N,
            sc.predict_width(cfg, _DENSE_N),
            ex["width"],
        )
    t = LR * TIME_STEPS
    return t, _time(key_data, alpha, r, noise), t, sc.predict_time(cfg, t), ex["time"]


def _local_slope(x, y):
    lx, ly = np.log(x), np.log(y)
    return np.exp(0.5 * (lx[1:] + lx[:-1])), np.diff(ly) / np.diff(lx)


def learning_curve_explorer(key: jax.Array) -> Explorer:
    """One scaling axis at a time, for three target exponents r = 2, 3, 5, with
    the local log-log slope against its asymptote: where the laws saturate.

    Left: test MSE against the chosen axis (mean +- one s.e.m. over draws, solid;
    theory dashed): data (converged, ``N = inf``; eigenlearning), model size
    (converged, ``n = inf``; deterministic equivalent) or time ``t = lr * steps``
    (gradient descent on ``n = 256`` samples, ``N = inf``; the gradient-flow mode
    sum, which assumes infinite data: the simulation leaves it where the data run
    out, near ``t ~ n^alpha``). Right: the local slope ``d log E / d log x`` of
    simulation (markers) and theory (dashed), with the asymptotic exponents
    ``-min(r-1, 2 alpha)`` (data), ``-min(r-1, alpha)`` (model size) and
    ``-(r-1)/alpha`` (time) as flat dashed levels. A draw on which gradient descent
    diverges (:func:`lm_sims.scaling.predict_divergence`; not met at ``lr = 0.5``
    over the knobs' ranges) is cut at its step and the note gives the step.
    Static grid: axis x alpha in
    (1.5, 2) x noise in (0, 0.1), sharing :func:`kaplan_explorer`'s cached runs.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(axis, alpha, noise):
        curves, cut = [], []
        for g, r in enumerate(RS):
            x, samples, x_th, y_th, asym = _axis_curves(key_data, axis, alpha, r, noise)
            if axis == "time" and np.isnan(samples).any():
                # diverged draws: NaN from their diverged_step on (dropped by Curve)
                first = int(TIME_STEPS[np.isnan(samples).any(axis=0)].min())
                cut.append(f"r = {r:g}: gradient descent diverges by step {first}")
            name = f"r = {r:g}"
            curves.append(band(x, samples, name, spread="sem", group=g, col=1))
            curves.append(
                Curve(
                    x_th, y_th, f"{name} (theory)", "theory", group=g, showlegend=False
                )
            )
            xs, ss = _local_slope(x, samples.mean(0))
            curves.append(
                Curve(
                    xs,
                    ss,
                    f"{name} slope",
                    group=g,
                    col=2,
                    mode="markers",
                    showlegend=False,
                )
            )
            xt, st = _local_slope(x_th, y_th)
            curves.append(
                Curve(
                    xt,
                    st,
                    f"{name} slope (theory)",
                    "theory",
                    group=g,
                    col=2,
                    showlegend=False,
                )
            )
            curves.append(
                Curve(
                    [x_th[0], x_th[-1]],
                    [asym, asym],
                    f"{name} asymptote",
                    "theory",
                    group=g,
                    col=2,
                    showlegend=False,
                )
            )
        notes = {
            "data": "data: r = 5 saturates at n^−2α (the variance of interpolation)",
            "model size": "model size: saturates at N^−α already for r − 1 > α",
            "time": f"time: n = {TIME_N} samples; the curves leave the mode sum "
            "where the data run out",
        }
        return Panel(curves, "; ".join([notes[axis], *cut]) + (" (cut)" if cut else ""))

    return Explorer(
        panel,
        [
            Knob("axis", _AXES, default="data", label="scaled axis"),
            Knob("alpha", (1.5, 2.0), low=1.2, high=3.0, label="spectrum exponent α"),
            Knob("noise", (0.0, 0.1), low=0.0, high=0.5, label="label noise σ"),
        ],
        title="Learning curves along one axis, and where they saturate",
        # one x title per column, short enough not to run into its neighbour
        x_title="n, N or t = lr × steps",
        y_title=["test MSE", "local slope d log E / d log x"],
        log_x=True,
        log_y=[True, False],
        cols=2,
        subplot_titles=["test error", "local exponent"],
        height=440,
    )


Q_WIDTHS = np.unique(np.geomspace(1, 3000, 30).round())
Q_NS = np.geomspace(30, 3e6, 25).round()  # whole samples (simulate_quanta)
Q_N = 100_000  # training samples behind the model-size curve
Q_SEEDS = 8
DIGITS_NS = (16, 32, 64, 128, 256, 512)
DIGITS_SEEDS = 8


@functools.lru_cache(maxsize=16)
def _quanta(key_data, alpha_q):
    q = sc.QuantaConfig(num_quanta=100_000, alpha_q=float(alpha_q))
    key = _key(key_data)
    width = sc.simulate_quanta(key, q, Q_WIDTHS, [Q_N], Q_SEEDS)[:, :, 0]
    data = sc.simulate_quanta(key, q, None, Q_NS, Q_SEEDS)[:, 0, :]
    # the theory with the draws (22 ms a call: a move back to a visited alpha_q
    # would otherwise recompute it)
    theory_width = sc.predict_quanta(q, Q_WIDTHS, [Q_N])[:, 0]
    theory_data = sc.predict_quanta(q, None, Q_NS)[0]
    return width, data, theory_width, theory_data


@functools.lru_cache(maxsize=4)
def _digits(key_data):
    spec = sc.digits_spectrum()
    curve = sc.digits_learning_curve(_key(key_data), DIGITS_NS, DIGITS_SEEDS)
    return spec, curve


def quanta_digits_explorer(key: jax.Array) -> Explorer:
    """The same kind of law from two other places: the quanta model and real data.

    Top: the quanta model (Michaud et al. 2023), subtasks with Zipfian frequencies
    ``p_k ∝ k^-(alpha_q+1)``; a model of size ``N`` learns the ``N`` most frequent
    subtasks it has seen. Loss against ``N`` (with ``n = 10^5`` samples: the law
    ``N^-alpha_q`` until the unseen subtasks dominate) and against ``n``
    (unlimited size: ``n^-alpha_q/(alpha_q+1)``), mean over 8 draws (solid) and
    :func:`lm_sims.scaling.predict_quanta` (dashed). Bottom: the digits Laplace
    kernel's measured eigenvalues and target power (markers) with power-law fits
    over modes 5-300 (dashed), and kernel regression's measured learning curve
    (mean +- one s.e.m. over 8 draws) against eigenlearning fed the measured
    spectrum (dashed). Static grid: alpha_q in (0.3, 0.5, 1).
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(alpha_q):
        width, data, theory_width, theory_data = _quanta(key_data, alpha_q)
        spec, curve = _digits(key_data)
        curves = [
            band(Q_WIDTHS, width, "quanta: L(N)", spread="sem", group=0),
            Curve(
                Q_WIDTHS,
                theory_width,
                "quanta: L(N) (theory)",
                "theory",
                group=0,
                showlegend=False,
            ),
            band(Q_NS, data, "quanta: L(n)", spread="sem", group=1, col=2),
            Curve(
                Q_NS,
                theory_data,
                "quanta: L(n) (theory)",
                "theory",
                group=1,
                col=2,
                showlegend=False,
            ),
        ]
        k = np.arange(1, spec.eigenvalues.size + 1, dtype=float)
        shown = np.unique(np.geomspace(1, 1000, 80).round()).astype(int) - 1
        fit_sel = (k >= 5) & (k <= 300)
        for g, (y, name) in enumerate(
            (
                (spec.eigenvalues, "eigenvalue λ_i"),
                (spec.target_power, "target power v_i²"),
            )
        ):
            fit = power_law_fit(k[fit_sel], y[fit_sel])
            curves.append(
                Curve(k[shown], y[shown], name, group=2 + g, row=2, mode="markers")
            )
            curves.append(
                Curve(
                    k[shown],
                    fit.curve(k[shown]),
                    f"{name}: power-law fit, i^{fit.exponent:.2f}",
                    "theory",
                    group=2 + g,
                    row=2,
                )
            )
        curves.append(
            Curve(
                curve.x,
                curve.test_mse,
                "digits: kernel regression",
                group=4,
                row=2,
                col=2,
                mode="lines+markers",
                lower=curve.test_mse - curve.sem,
                upper=curve.test_mse + curve.sem,
                band_label=f"mean ± 1 s.e.m. over {DIGITS_SEEDS} seeds",
            )
        )
        curves.append(
            Curve(
                curve.x,
                curve.theory,
                "eigenlearning, measured spectrum (theory)",
                "theory",
                group=4,
                row=2,
                col=2,
            )
        )
        return Panel(
            curves,
            f"quanta asymptotes: N^−{alpha_q:g}, n^−{alpha_q / (alpha_q + 1):.2f}",
        )

    return Explorer(
        panel,
        [Knob("alpha_q", (0.3, 0.5, 1.0), default=0.5, label="Zipf exponent α_q")],
        title="Quanta and a real spectrum: the same laws by other routes",
        x_title=[
            "model size N (quanta)",
            "training samples n",
            "mode index i",
            "training images n",
        ],
        y_title=["test loss", "test loss", "λ_i, v_i²", "test MSE"],
        log_x=True,
        log_y=True,
        cols=2,
        rows=2,
        subplot_titles=[
            "quanta: model size",
            "quanta: data",
            "digits: spectrum",
            "digits: learning curve",
        ],
        height=720,
    )
