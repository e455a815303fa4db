"""Explorers for Chapter 1: deep linear networks and conservation laws."""

from __future__ import annotations

import jax
import numpy as np

from lm_sims import deep_linear
from lm_sims._config import check_key
from lm_sims.viz.explorer import PALETTE, Curve, Explorer, Knob, Panel, paired_curves

__all__ = ["balancedness_explorer", "mode_explorer", "random_init_explorer"]

_WIDTHS = (16, 32, 64, 128)
# at most one mode per colour of the palette (the digits task has 9 modes: the 9th
# would share mode 1's colour), the strongest ones
_MAX_MODES = len(PALETTE)
_LEARNED = 0.99  # a mode is learned when u_i >= 0.99 s_i ...
_MARGIN = 1.5  # ... and the time axis ends 1.5x after the slowest drawn one is
_MAX_POINTS = 200  # points per curve drawn (page weight as before); records: every step


def _t_end(t: np.ndarray, u: np.ndarray, s: np.ndarray) -> float:
    """End of the time axis: ``_MARGIN`` times the first time at which every mode in
    ``u`` (records, modes) has reached ``_LEARNED`` of its target ``s``, or the
    whole run if that never happens (slow learning, divergence)."""
    done = np.all(u >= _LEARNED * s, axis=1)
    if not done.any():
        return float(t[-1])
    return float(min(t[-1], _MARGIN * t[int(np.argmax(done))]))


def _window(t: np.ndarray, t_end: float) -> np.ndarray:
    """Indices of the records drawn: t <= t_end, at most ``_MAX_POINTS`` of them,
    evenly strided, the first (t = 0) always included."""
    idx = np.flatnonzero(t <= t_end)
    stride = max(1, -(-idx.size // _MAX_POINTS))
    return idx[::stride]


def _note(traj) -> str:
    if traj.diverged:
        return (
            f"Diverged at step {int(traj.diverged_step)}: the simulation is cut "
            "there (the learning rate is too large for this task and init)."
        )
    return ""


def _modes_panel(key, cfg: deep_linear.Config) -> Panel:
    traj = deep_linear.train(key, cfg)
    m = min(_MAX_MODES, len(traj.singular_values))
    u0 = np.asarray(traj.u0)[:m]
    s = np.asarray(traj.singular_values)[:m]
    t = np.asarray(traj.t)
    u = np.asarray(traj.mode_strengths)[:, :m]
    labels = [f"mode {i + 1}, s = {si:.2f}" for i, si in enumerate(s)]
    # theory exists for modes starting below their target (0 < u0 < s); no
    # effective u0 exists for random init with n_layers > 2 (NaN): those are not drawn
    # (evaluated for every mode with a placeholder u0, so shapes never change and a
    # slider move never compiles)
    ok = np.isfinite(u0) & (u0 > 0) & (u0 < s)
    keep = _window(t, _t_end(t, u, s))
    # the theory is evaluated on a fixed-length grid (the drawn times, padded with
    # the last one): how many are drawn depends on lr, and a new length would
    # recompile predict at a slider move
    t_grid = np.concatenate([t[keep], np.full(_MAX_POINTS - keep.size, t[keep][-1])])
    theory = np.asarray(
        deep_linear.predict(s, np.where(ok, u0, s / 2), t_grid, cfg.n_layers)
    )[: keep.size]
    theory = np.where(ok, theory, np.nan)
    return Panel(paired_curves(t[keep], u[keep], theory, labels), _note(traj))


def mode_explorer(key: jax.Array) -> Explorer:
    """Mode strengths u_i(t) from balanced, task-aligned init: Saxe et al. (2014)
    Fig. 3 in miniature. Static grid: dataset x layers L x learning rate. The hidden
    width is fixed at 16: from aligned init the mode dynamics do not depend on it
    (a width knob would be a control that changes nothing)."""
    check_key(key)

    def panel(dataset, n_layers, lr, init_scale):
        cfg = deep_linear.Config(
            dataset=dataset,
            n_layers=n_layers,
            lr=lr,
            init_scale=init_scale,
            width=16,
            record_every=1,
        )
        return _modes_panel(key, cfg)

    return Explorer(
        panel,
        [
            Knob("dataset", ("synthetic", "tree", "digits"), label="dataset"),
            Knob("n_layers", (2, 3, 4), default=2, label="layers L"),
            Knob(
                "lr",
                (0.005, 0.02, 0.5),
                low=1e-3,
                high=1.0,
                log=True,
                default=0.02,
                label="learning rate",
            ),
            Knob(
                "init_scale",
                (1e-3,),
                low=1e-6,
                high=0.1,
                log=True,
                label="initial strength u0",
            ),
        ],
        title="Stage-like learning: mode strengths over time",
        x_title="t = lr × steps",
        y_title="mode strength u_i(t)",
    )


def random_init_explorer(key: jax.Array) -> Explorer:
    """Two-layer network from small *random* init: each mode follows the aligned
    solution with an effective u0 (see :func:`lm_sims.deep_linear.effective_u0`)."""
    check_key(key)

    def panel(dataset, init_scale, width, lr):
        cfg = deep_linear.Config(
            dataset=dataset,
            init="random",
            init_scale=init_scale,
            width=width,
            lr=lr,
            steps=3000,
            record_every=1,
        )
        return _modes_panel(key, cfg)

    return Explorer(
        panel,
        [
            Knob("dataset", ("synthetic", "tree"), label="dataset"),
            Knob(
                "init_scale",
                (1e-6, 1e-3, 0.1),
                low=1e-8,
                high=1.0,
                log=True,
                label="init scale",
            ),
            Knob("width", _WIDTHS[:3], label="hidden width"),
            Knob("lr", (0.01,), low=1e-3, high=0.3, log=True, label="learning rate"),
        ],
        title="Small random init: modes learned in order of s",
        x_title="t = lr × steps",
        y_title="mode strength u_i(t)",
    )


def balancedness_explorer(key: jax.Array) -> Explorer:
    """Balancedness ``||Q(t)||_F`` under gradient descent, against its conserved
    gradient-flow value ``||Q(0)||_F``, and the relative imbalance
    ``||Q||_F / ||W_1 W_1^T||_F`` that small init drives to zero."""
    check_key(key)

    def panel(lr, init_scale, n_layers):
        cfg = deep_linear.Config(
            init="random",
            init_scale=init_scale,
            lr=lr,
            n_layers=n_layers,
            width=16,
            record_every=1,
        )
        traj = deep_linear.train(key, cfg)
        t = np.asarray(traj.t)
        u = np.asarray(traj.mode_strengths)
        # t = 0 is drawn (linear time axis): the simulation starts on the conserved
        # value and the reader sees where, and how far, it drifts
        keep = _window(t, _t_end(t, u, np.asarray(traj.singular_values)))
        q = np.asarray(traj.balancedness)[keep]
        strength = u[keep].sum(axis=1)
        curves = []
        for i in range(q.shape[1]):
            curves.append(Curve(t[keep], q[:, i], f"||Q_{i + 1}(t)||", group=i))
            curves.append(
                Curve(
                    t[keep],
                    np.full(keep.size, q[0, i]),
                    f"||Q_{i + 1}(0)||, conserved (theory)",
                    "theory",
                    group=i,
                    showlegend=False,
                )
            )
        rel = q[:, 0] / np.maximum(np.abs(strength), 1e-30)
        curves.append(
            Curve(t[keep], rel, "relative imbalance", "simulation", group=5, col=2)
        )
        return Panel(curves, _note(traj))

    return Explorer(
        panel,
        [
            Knob(
                "lr",
                (0.01, 0.05, 0.2),
                low=1e-3,
                high=0.4,
                log=True,
                label="learning rate",
            ),
            Knob(
                "init_scale",
                (1e-3, 0.1, 1.0),
                low=1e-6,
                high=3.0,
                log=True,
                label="init scale",
            ),
            Knob("n_layers", (2,), label="layers L", live=(2, 3, 4)),
        ],
        title="Balancedness: conserved by gradient flow, drifting under GD",
        x_title="t = lr × steps",
        y_title=["||Q_l(t)||_F", "||Q_1|| / Σ u_i"],
        log_y=[False, True],
        cols=2,
        subplot_titles=["Q(t) and its flow value", "relative imbalance"],
    )
