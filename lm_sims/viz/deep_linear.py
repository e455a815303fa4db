"""Explorers for Chapter 1: deep linear networks and conservation laws."""

from __future__ import annotations

import jax
import numpy as np

from lm_sims import deep_linear
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel, paired_curves

__all__ = ["balancedness_explorer", "mode_explorer", "random_init_explorer"]

_WIDTHS = (16, 32, 64, 128)


def _note(traj) -> str:
    if traj.diverged:
        return (
            f"Diverged at step {int(traj.diverged_step)}: the simulation is cut "
            "there (the learning rate is too large for this task and init)."
        )
    return ""


def _modes_panel(key, cfg: deep_linear.Config) -> Panel:
    traj = deep_linear.train(key, cfg)
    u0 = np.asarray(traj.u0)
    labels = [f"mode {i + 1}, s = {s:.2f}" for i, s in enumerate(traj.singular_values)]
    s = np.asarray(traj.singular_values)
    # theory exists for modes starting below their target (0 < u0 < s); no
    # effective u0 exists for random init at depth > 2 (NaN): those are not drawn
    # (evaluated for every mode with a placeholder u0, so shapes never change and a
    # slider move never compiles)
    ok = np.isfinite(u0) & (u0 > 0) & (u0 < s)
    theory = np.asarray(
        deep_linear.predict(s, np.where(ok, u0, s / 2), traj.t, cfg.depth)
    )
    theory = np.where(ok, theory, np.nan)
    return Panel(
        paired_curves(traj.t, traj.mode_strengths, theory, labels), _note(traj)
    )


def mode_explorer(key: jax.Array) -> Explorer:
    """Mode strengths u_i(t) from balanced, task-aligned init: Saxe et al. (2014)
    Fig. 3 in miniature. Static grid: dataset x depth x learning rate. The hidden
    width is fixed at 16: from aligned init the mode dynamics do not depend on it
    (a width knob would be a control that changes nothing)."""
    check_key(key)

    def panel(dataset, depth, lr, init_scale):
        cfg = deep_linear.Config(
            dataset=dataset, depth=depth, lr=lr, init_scale=init_scale, width=16
        )
        return _modes_panel(key, cfg)

    return Explorer(
        panel,
        [
            Knob("dataset", ("synthetic", "tree", "digits"), label="dataset"),
            Knob("depth", (2, 3, 4), default=2, label="depth L"),
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

    def panel(lr, init_scale, depth):
        cfg = deep_linear.Config(
            init="random", init_scale=init_scale, lr=lr, depth=depth, width=16
        )
        traj = deep_linear.train(key, cfg)
        q = np.asarray(traj.balancedness)
        t = np.asarray(traj.t)
        strength = np.asarray(traj.mode_strengths).sum(axis=1)
        curves = paired_curves(
            t,
            q,
            np.broadcast_to(q[:1], q.shape),
            [f"||Q_{i + 1}||" for i in range(q.shape[1])],
        )
        rel = q[:, 0] / np.maximum(np.abs(strength), 1e-30)
        curves.append(Curve(t, rel, "relative imbalance", "simulation", group=5, col=2))
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
            Knob("depth", (2,), label="depth L", live=(2, 3, 4)),
        ],
        title="Balancedness: conserved by gradient flow, drifting under GD",
        x_title="t = lr × steps",
        y_title=["||Q_l(t)||_F", "||Q_1|| / Σ u_i"],
        log_x=True,  # the change happens early: t from lr * record_every on
        log_y=[False, True],
        cols=2,
        subplot_titles=["Q(t) and its flow value", "relative imbalance"],
    )
