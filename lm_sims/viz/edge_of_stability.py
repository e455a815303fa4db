"""Explorers for Chapter 3, section 3.2: the edge of stability.

* :func:`edge_of_stability_explorer`: Cohen et al. (2021) Fig. 1 at toy scale (the
  position paper's Fig. 4): training loss (top) and sharpness (bottom) of full-batch
  gradient descent at three learning rates ``lr = 2 / (k S0)``, k = 4, 8, 16, with
  the edge ``2 / lr`` dashed, against ``t = lr * steps``
  (:func:`lm_sims.edge_of_stability.train`).
* :func:`quadratic_explorer`: gradient descent on a two-dimensional quadratic just
  below and just above ``lr * S = 2``, simulated and in closed form
  (:func:`lm_sims.edge_of_stability.quadratic_gd`,
  :func:`lm_sims.edge_of_stability.predict_quadratic`).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import edge_of_stability as eos
from lm_sims import training
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = ["edge_of_stability_explorer", "quadratic_explorer"]

_RATIOS = (4, 8, 16)  # lr = lr_scale * 2 / (k S0)
_WIDTHS = (64, 128)


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


@functools.lru_cache(maxsize=64)
def _run(key_data: tuple, activation: str, width: int, lr: float):
    """One cached run: (t, loss, sharpness, diverged_step) as float64 NumPy."""
    cfg = eos.Config(activation=activation, width=width, lr=lr)
    traj = jax.device_get(eos.train(_key(key_data), cfg))
    return (
        np.asarray(traj.t, np.float64),
        np.asarray(traj.loss, np.float64),
        np.asarray(traj.sharpness, np.float64),
        int(traj.diverged_step),
    )


@functools.lru_cache(maxsize=16)
def _initial_sharpness(key_data: tuple, activation: str, width: int) -> float:
    cfg = eos.Config(activation=activation, width=width)
    return float(eos.initial_sharpness(_key(key_data), cfg))


def edge_of_stability_explorer(key: jax.Array) -> Explorer:
    """Loss and sharpness of full-batch gradient descent at three learning rates:
    progressive sharpening, then the edge of stability (Cohen et al. 2021, Fig. 1).

    A two-layer network ``a . phi(W x) / sqrt(h)`` (d = 10) on 500 Gaussian inputs
    with random +-1 labels, readout initialised at scale 0.1, 2,000 steps
    (:class:`lm_sims.edge_of_stability.Config`). The learning rates are
    ``lr = lr_scale * 2 / (k S0)`` for k = 4, 8, 16, with ``S0`` the initial
    sharpness of the network (:func:`lm_sims.edge_of_stability.initial_sharpness`).
    Top: training loss (log axis). Bottom: sharpness, recorded every 10 steps, with
    each run's edge ``2 / lr`` dashed in its colour. Time is ``t = lr * steps``, so
    the three runs cover different spans of t. A run that diverges is cut at its
    divergence step and named in the note.

    Knobs: activation (tanh, ReLU); width (64, 128: each compiled once); the
    learning-rate scale (static 0.5, 1, 2; live 0.25-2.5). One run costs ~0.5 s on
    2 cores; each width and activation compiles once (two programs, 5-13 s). The
    whole static grid (12 states, 36 runs) took 65 s cold on two loaded cores
    (load average 5.5), most of it compiling; the explorer cache keeps it.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(activation, width, lr_scale):
        s0 = _initial_sharpness(key_data, activation, width)
        curves, notes = [], []
        for g, k in enumerate(_RATIOS):
            lr = float(lr_scale) * 2.0 / (k * s0)
            t, loss, sharp, diverged_step = _run(key_data, activation, width, lr)
            name = f"k = {k}"
            curves += [
                # named by k: lr = c · 2/(k S0) depends on the knob c too
                Curve(t, loss, name, group=g, id=f"loss {k}"),
                Curve(
                    t,
                    sharp,
                    f"sharpness, {name}",
                    group=g,
                    row=2,
                    showlegend=False,
                    id=f"sharpness {k}",
                ),
                Curve(
                    t[[0, -1]],
                    [2.0 / lr, 2.0 / lr],
                    f"2/lr, {name}",
                    "theory",
                    group=g,
                    row=2,
                    showlegend=False,
                    id=f"edge {k}",
                ),
            ]
            if diverged_step >= 0:
                notes.append(f"k = {k} diverged at step {diverged_step}")
        note = ""
        if notes:
            note = "; ".join(notes) + " (cut there)."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("activation", ("tanh", "relu"), label="activation φ"),
            Knob("width", _WIDTHS, default=64, label="width n"),
            Knob(
                "lr_scale",
                (0.5, 1.0, 2.0),
                low=0.25,
                high=2.5,
                log=True,
                default=1.0,
                label="lr scale c (lr = c · 2/(k S₀))",
            ),
        ],
        title="Gradient descent at the edge of stability: sharpness → 2/lr",
        x_title="t = lr × steps",
        y_title=["training loss", "sharpness S (top Hessian eigenvalue)"],
        log_y=[True, False],
        rows=2,
        shared_x=True,
        height=640,
    )


_QUADRATIC_H = np.diag([4.0, 1.0])  # sharpness S = 4, a flatter direction at 1
_QUADRATIC_X0 = np.array([1.0, 1.0])
_QUADRATIC_STEPS = 60


def quadratic_explorer(key: jax.Array | None = None) -> Explorer:
    """Gradient descent on ``1/2 x^T H x`` with ``H = diag(4, 1)`` (sharpness
    S = 4) from ``x0 = (1, 1)``, at ``lr * S`` just below and just above 2.

    Left: the two coordinates of the iterate against the step (simulation, solid)
    and the closed-form envelope ``+-|1 - lr S|^k`` of the sharp coordinate
    (dashed). Right: the loss (log axis), simulated and in closed form. Below
    ``lr S = 2`` the sharp coordinate flips sign each step and shrinks; above it
    flips and grows: the run diverges. Static: ``lr S`` in (1.8, 1.95, 2.05, 2.2);
    live 0.2-2.5. ``key`` is unused (the quadratic is deterministic); it is
    accepted so that every explorer factory has the same signature.
    """
    if key is not None:  # unused: the model is deterministic
        check_key(key)
    del key

    def panel(lr_times_s):
        ratio = float(lr_times_s)
        lr = ratio / 4.0
        steps = _QUADRATIC_STEPS
        sim = eos.quadratic_gd(_QUADRATIC_H, _QUADRATIC_X0, lr, steps)
        theory = eos.predict_quadratic(_QUADRATIC_H, _QUADRATIC_X0, lr, steps)
        # a diverged run (and its closed form, flagged by the same rule) is drawn
        # up to the step before it left the divergence limit, never beyond
        end = steps + 1 if sim.diverged_step < 0 else sim.diverged_step
        end_theory = steps + 1 if theory.diverged_step < 0 else theory.diverged_step
        k = sim.step.astype(float)[:end]
        kt = theory.step.astype(float)[:end_theory]
        envelope = np.abs(1.0 - ratio) ** kt * _QUADRATIC_X0[0]
        gap = np.array([np.nan])
        env_x = np.concatenate([kt, gap, kt])
        env_y = np.concatenate([envelope, gap, -envelope])
        curves = [
            Curve(
                k,
                sim.x[:end, 0],
                "x₁ (sharp direction, λ = 4)",
                group=0,
                mode="lines+markers",
            ),
            Curve(k, sim.x[:end, 1], "x₂ (flat direction, λ = 1)", group=1),
            Curve(
                env_x,
                env_y,
                "±|1 − lr·S|^k (theory)",
                "theory",
                group=0,
                breaks=True,
            ),
            Curve(k, sim.loss[:end], "loss", group=2, col=2),
            Curve(
                kt,
                theory.loss[:end_theory],
                "loss (theory)",
                "theory",
                group=2,
                col=2,
                showlegend=False,
            ),
        ]
        note = ""
        if eos.quadratic_diverges(lr, 4.0):
            grown = np.flatnonzero(sim.loss[:end] > sim.loss[0])
            note = (
                f"lr·S = {ratio:.3g} > 2: the sharp coordinate grows by "
                f"|1 − lr·S| = {abs(1 - ratio):.3g} per step; the loss exceeds its "
                f"start from step {int(grown[0])} on: divergence."
            )
            if sim.diverged:
                x0 = _QUADRATIC_X0
                scale = 0.5 * float(np.max(np.abs(theory.eigenvalues))) * (x0 @ x0)
                limit = float(training.divergence_limit(sim.loss[0], scale))
                same = sim.diverged_step == theory.diverged_step
                note += (
                    f" Diverged at step {sim.diverged_step}: the loss passed the "
                    f"divergence limit ({limit / sim.loss[0]:,.0f}× its start)"
                    + (", in the closed form at the same step" if same else "")
                    + "; not drawn beyond."
                )
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "lr_times_s",
                (1.8, 1.95, 2.05, 2.2),
                low=0.2,
                high=2.5,
                default=1.95,
                label="lr·S",
            ),
        ],
        title="Gradient descent on a quadratic diverges iff lr·S > 2",
        x_title="step k",
        y_title=["iterate coordinate", "loss ½ xᵀHx"],
        log_y=[False, True],
        cols=2,
        subplot_titles=["iterate", "loss"],
        height=440,
    )
