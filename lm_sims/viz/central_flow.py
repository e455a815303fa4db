"""Explorers for Chapter 4, section 4.2: the central flow.

* :func:`toy_central_flow_explorer`: the two-parameter toy ``L(a, b) =
  1/2 (ab - 1)^2``: gradient descent, the central flow and gradient flow in the
  (a, b) plane, with the hyperbola of minima, the conserved ``a^2 - b^2`` of
  gradient flow and the edge ``S(a, b) = 2/lr``
  (:func:`lm_sims.central_flow.toy_flows`).
* :func:`central_flow_explorer`: the network of
  :func:`lm_sims.central_flow.experiment`: gradient descent's loss (raw and
  smoothed), the central flow's predicted time-averaged loss
  ``L(w_CF) + sigma^2 / lr``, the sharpnesses against ``2/lr``, and the distances
  of gradient descent from the two flows.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import central_flow as cf
from lm_sims._compat import enable_x64
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = ["central_flow_explorer", "toy_central_flow_explorer"]

TOY_START = (2.5, 0.1)
TOY_STEPS = 120


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


@functools.lru_cache(maxsize=32)
def _toy(lr: float):
    f = jax.device_get(cf.toy_flows(*TOY_START, lr, TOY_STEPS))
    return f


def _toy_edge_curve(lr: float, a_max: float):
    """The curve S(a, b) = 2/lr in the first quadrant, as (a, b) points with NaN
    gaps between branches (a grid contour: S is increasing in |a|, |b| far out)."""
    a = np.linspace(0.02, a_max, 400)
    b = np.linspace(0.0, a_max, 400)
    s = cf.toy_sharpness(a[:, None], b[None, :]) - 2.0 / lr
    # for each a, the smallest b > 0 where S crosses 2/lr (upwards)
    xs, ys = [], []
    for i, ai in enumerate(a):
        row = s[i]
        j = np.flatnonzero(np.sign(row[:-1]) != np.sign(row[1:]))
        if j.size:
            j0 = j[-1]
            frac = row[j0] / (row[j0] - row[j0 + 1])
            xs.append(ai)
            ys.append(b[j0] + frac * (b[j0 + 1] - b[j0]))
        else:
            xs.append(ai)
            ys.append(np.nan)
    return np.array(xs), np.array(ys)


def toy_central_flow_explorer(key: jax.Array | None = None) -> Explorer:
    """Gradient descent, the central flow and gradient flow on ``1/2 (ab - 1)^2``.

    From ``(a, b) = (2.5, 0.1)``, ``TOY_STEPS`` = 120 steps
    (:func:`lm_sims.central_flow.toy_flows`). Left: the trajectories in the
    (a, b) plane (gradient descent as markers, the flows as lines) with the
    hyperbola of minima ``ab = 1``, the hyperbola ``a^2 - b^2 = a0^2 - b0^2``
    that gradient flow conserves (dashed, theory) and the curve where the
    sharpness equals ``2/lr`` (dashed, theory). Right: the sharpness of each
    against the step, with ``2/lr`` and gradient flow's predicted final
    sharpness ``sqrt((a0^2 - b0^2)^2 + 4)`` dashed. Knob: the learning rate as
    the edge ``2/lr`` (static 4, 5, 6; live 3-7; at 2/lr above 6.55 gradient
    flow's minimum is stable and the three agree). Each state costs ~0.1 s
    after one compilation (~5 s). ``key`` is unused (deterministic).
    """
    if key is not None:  # unused: the model is deterministic
        check_key(key)
    del key
    a0, b0 = TOY_START
    c0 = a0**2 - b0**2
    s_gf = cf.predict_toy_gradient_flow_sharpness(a0, b0)

    def panel(edge):
        lr = 2.0 / float(edge)
        f = _toy(lr)
        gd, cf_path, gf = (np.asarray(p) for p in f.paths)
        path = {"gd": gd, "cf": cf_path, "gf": gf}
        steps = np.asarray(f.step, np.float64)
        a_max = 3.0
        bb = np.linspace(0.34, a_max, 200)
        hyper_min = (1.0 / bb, bb)
        aa = np.linspace(np.sqrt(c0), a_max, 200)
        conserved = (aa, np.sqrt(np.maximum(aa**2 - c0, 0.0)))
        ex, ey = _toy_edge_curve(lr, a_max)
        curves = [
            Curve(
                path["gd"][:, 0],
                path["gd"][:, 1],
                "gradient descent",
                group=0,
                mode="lines+markers",
                id="gd path",
            ),
            # the central flow is the theory's prediction of gradient descent's
            # time average: dashed, as in central_flow_explorer
            Curve(
                path["cf"][:, 0],
                path["cf"][:, 1],
                "central flow (theory)",
                "theory",
                group=2,
                id="cf path",
            ),
            Curve(
                path["gf"][:, 0],
                path["gf"][:, 1],
                "gradient flow",
                group=4,
                id="gf path",
            ),
            # colours as in central_flow_explorer: gradient descent blue, the
            # central flow green, gradient flow (and what it conserves) pink, the
            # edge 2/lr grey; the minima orange
            Curve(*hyper_min, "minima ab = 1", "theory", group=1, id="minima"),
            # legend names short: a wide legend squeezed the two panels until
            # the right one's axis title sat on the left one's plot
            Curve(
                *conserved,
                "a² − b² conserved by GF",
                "theory",
                group=4,
                id="conserved",
            ),
            Curve(
                ex,
                ey,
                "edge S(a, b) = 2/η",
                "theory",
                group=7,
                breaks=True,
                id="edge curve",
            ),
            Curve(
                steps,
                np.asarray(f.gd_sharpness),
                "S, gradient descent",
                group=0,
                col=2,
                showlegend=False,
                id="gd S",
            ),
            Curve(
                steps,
                np.asarray(f.cf_sharpness),
                "S, central flow",
                "theory",
                group=2,
                col=2,
                showlegend=False,
                id="cf S",
            ),
            Curve(
                steps,
                np.asarray(f.gf_sharpness),
                "S, gradient flow",
                group=4,
                col=2,
                showlegend=False,
                id="gf S",
            ),
            Curve(
                steps[[0, -1]],
                [edge, edge],
                "2/η",
                "theory",
                group=7,
                col=2,
                showlegend=False,
                id="edge",
            ),
            Curve(
                steps[[0, -1]],
                [s_gf, s_gf],
                "√((a₀² − b₀²)² + 4)",
                "theory",
                group=4,
                col=2,
                showlegend=False,
                id="gf final S",
            ),
        ]
        note = ""
        if int(f.diverged_step) >= 0:
            note = f"gradient descent diverged at step {int(f.diverged_step)}."
        else:
            note = (
                f"final sharpness: GD {float(f.gd_sharpness[-1]):.3g}, central flow "
                f"{float(f.cf_sharpness[-1]):.3g}, gradient flow "
                f"{float(f.gf_sharpness[-1]):.3g} (2/η = {float(edge):.3g}; "
                f"gradient flow predicted {s_gf:.3g})."
            )
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "edge",
                (4.0, 5.0, 6.0),
                low=3.0,
                high=7.0,
                default=5.0,
                label="edge 2/η",
            )
        ],
        title="L(a, b) = ½(ab − 1)²: gradient descent settles where S ≤ 2/η",
        x_title=["a", "step"],
        y_title=["b", "sharpness S"],
        cols=2,
        subplot_titles=["trajectories in the (a, b) plane", "sharpness"],
        # the (a, b) plane is geometric (the balanced minimum a = b lies on the
        # diagonal): one unit as long on both axes
        equal_aspect=[True, False],
        height=460,
    )


# -- the network ------------------------------------------------------------------

NETWORK_CFG = cf.Config()  # width 32, 500 digits, lr = 2/(1.5 S0), 800 steps
SKIP = 2  # steps of the central flow's start-up before its loss prediction is shown


@functools.lru_cache(maxsize=8)
def _network(key_data: tuple, lr_ratio: float):
    # float64 as the book's tests (the edge-of-stability phase is chaotic)
    with enable_x64(True):
        cfg = NETWORK_CFG.replace(lr_ratio=lr_ratio)
        return jax.device_get(cf.experiment(_key(key_data), cfg))


def central_flow_explorer(key: jax.Array) -> Explorer:
    """The central flow against gradient descent on Chapter 3's network (digits).

    :func:`lm_sims.central_flow.experiment` with the book's settings (width 32,
    500 digits, ``lr = 2/(k S0)``, k = 1.5, 800 steps after gradient descent has
    reached ``S lr/2 = 0.9`` and run 200 steps more; in float64 whatever the
    session's default). One colour per trajectory in all three rows: gradient
    descent blue, the central flow green (dashed: it is the theory), gradient
    flow pink, the edge ``2/lr`` grey. Top: gradient descent's loss at every
    step (thin) and its Gaussian moving average (bold), the central flow's
    predicted time average ``L(w_CF) + sigma^2/lr`` (bold dashed, from step
    ``SKIP`` = 2: before, sigma^2 is the restoring term that brings the flow,
    started 2.5% above the edge, back to it) and its own loss ``L(w_CF)`` (thin
    dashed), and gradient flow's loss. Middle: the three sharpnesses and
    ``2/lr`` (the central flow's sits on it). Bottom: the distance of gradient
    descent from the central flow and from gradient flow, from its iterate (bold;
    it includes gradient descent's bounce) and from its centre, the midpoint of
    its step (thin). Legends use the book's symbols (theta = ``w``, eta = ``lr``).
    Time is
    ``t = lr x steps`` counted from the start of the comparison.

    Knobs: the smoothing width (static 5, 10, 20 steps; live 2-40: free, the run
    is cached) and k (one static value, 1.5; live 1.3-1.8: each new k is a new
    run of about a minute on two cores, with no compilation: k is traced). The whole
    static grid is one run (~1 minute cold).
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(smoothing, lr_ratio):
        ex = _network(key_data, float(lr_ratio))
        f = ex.flows
        lr = float(ex.lr)
        t = np.asarray(f.t, np.float64)
        gd = np.asarray(f.gd_loss, np.float64)
        ok = np.isfinite(gd)
        smooth = np.full_like(gd, np.nan)
        if ok.sum() >= 2:
            smooth[ok] = cf.gaussian_smooth(gd[ok], float(smoothing))
        edge = 2.0 / lr
        # colour = trajectory: GD blue (raw thin, smoothed bold), central flow
        # green (dashed: the theory), gradient flow pink; 2/lr grey
        gd_c, cf_c, gf_c, edge_c = 0, 2, 4, 7
        # the prediction from step SKIP on: at steps 0-1 sigma^2 is the restoring
        # term pulling S (2.5% above the edge at GD's 2-cycle midpoint) back to
        # 2/lr within one step, not an oscillation variance (module docstring)
        pred = slice(SKIP, None)
        curves = [
            Curve(t, gd, "GD: loss (every step)", group=gd_c, id="gd loss", thin=True),
            Curve(t, smooth, "GD: loss, smoothed", group=gd_c, id="gd smooth"),
            Curve(
                t[pred],
                np.asarray(f.predicted_loss)[pred],
                # short legend names: the long ones ran past the figure's right edge
                "central flow: predicted loss",
                "theory",
                group=cf_c,
                id="cf predicted",
            ),
            Curve(
                t,
                np.asarray(f.cf_loss),
                "central flow: L(θ_CF)",
                "theory",
                group=cf_c,
                id="cf loss",
                thin=True,
            ),
            Curve(
                t,
                np.asarray(f.gf_loss),
                "gradient flow: L(θ_GF)",
                group=gf_c,
                id="gf loss",
            ),
            Curve(
                t,
                np.asarray(f.gd_sharpness),
                "GD: sharpness",
                group=gd_c,
                row=2,
                showlegend=False,
                id="gd S",
            ),
            Curve(
                t,
                np.asarray(f.cf_sharpness),
                "central flow: sharpness",
                "theory",
                group=cf_c,
                row=2,
                showlegend=False,
                id="cf S",
            ),
            Curve(
                t,
                np.asarray(f.gf_sharpness),
                "gradient flow: sharpness",
                group=gf_c,
                row=2,
                showlegend=False,
                id="gf S",
            ),
            Curve(
                t[[0, -1]],
                [edge, edge],
                "edge 2/η",
                "theory",
                group=edge_c,
                row=2,
                id="edge",
                thin=True,  # under the central flow's sharpness, which sits on it
            ),
            Curve(
                t,
                np.asarray(f.cf_distance),
                "central flow: distance |θ_GD − θ_CF|",
                "theory",
                group=cf_c,
                row=3,
                showlegend=False,
                id="cf distance",
            ),
            Curve(
                t,
                np.asarray(f.gf_distance),
                "gradient flow: distance |θ_GD − θ_GF|",
                group=gf_c,
                row=3,
                showlegend=False,
                id="gf distance",
            ),
            Curve(
                t,
                np.asarray(f.cf_centre_distance),
                "central flow: distance from GD's centre θ_GD − η∇L/2",
                "theory",
                group=cf_c,
                row=3,
                showlegend=False,
                id="cf centre distance",
                thin=True,
            ),
            Curve(
                t,
                np.asarray(f.gf_centre_distance),
                "gradient flow: distance from GD's centre θ_GD − η∇L/2",
                group=gf_c,
                row=3,
                showlegend=False,
                id="gf centre distance",
                thin=True,
            ),
        ]
        note = (
            f"η = {lr:.3g} (2/η = {edge:.3g}); gradient descent ran "
            f"{int(ex.warmup_steps)} steps alone before t = 0."
        )
        if int(f.diverged_step) >= 0:
            note += f" Gradient descent diverged at step {int(f.diverged_step)}."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "smoothing",
                (5.0, 10.0, 20.0),
                low=2.0,
                high=40.0,
                default=10.0,
                label="smoothing width (steps)",
            ),
            Knob(
                "lr_ratio",
                (1.5,),
                low=1.3,
                high=1.8,
                default=1.5,
                label="k in η = 2/(k S₀) (live: ~1 min per value)",
            ),
        ],
        title="The central flow predicts gradient descent's time-averaged loss",
        x_title="t = η × steps (from the start of the comparison)",
        y_title=["training loss", "sharpness S", "distance from GD"],
        log_y=[True, False, False],
        rows=3,
        shared_x=True,
        height=820,
    )
