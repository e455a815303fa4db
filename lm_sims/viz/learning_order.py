"""Explorer for Chapter 5, section 5.3: the same learning order across learners.

* :func:`learning_order_explorer`: on anisotropic Gaussian data (d = 16, effective
  dimension 9.45) with a target of six Hermite components
  (:mod:`lm_sims.learning_order`), (1) the learnability of each component against
  time for one learner (a ReLU or tanh two-layer network, RBF kernel flow,
  ReLU-NTK kernel flow), solid, with the Hermite eigenstructure ansatz's curves
  ``1 - exp(-lambda_k t / tau)`` dashed (``tau = 1`` for the RBF kernel, whose
  eigenvalues the ansatz predicts; for the others ``tau`` is the learner's own
  clock, :func:`lm_sims.learning_order.clock`, a least-squares fit over all
  components in log time); (2) every learner's learned times against the
  predicted eigenvalue (networks: markers joined by a line; kernel flows: markers),
  with ``ln 2 / lambda`` of the ansatz and of the exact RBF eigenvalues (Mehler's
  formula), dashed; (3) the learning ranks as a grid of learners x components under
  the predicted ranks. The three panels are stacked (one column), so each is as wide
  as the book's text column.

Every simulation is computed once per seed and cached
(:func:`lm_sims.learning_order.compare_orders` caches by key and config, so the
book's page reuses the explorer's runs).
"""

from __future__ import annotations

import jax
import numpy as np

from lm_sims import learning_order as lo
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Heatmap, Knob, Panel

__all__ = ["learning_order_explorer"]

SEEDS = (0, 1)  # static grid: the data/initialisation seeds
LEARNER_LABELS = {
    "relu_mlp": "ReLU net",
    "tanh_mlp": "tanh net",
    "rbf_kernel": "RBF kernel",
    "relu_ntk": "ReLU NTK",
}
# the rank grid's row labels: short enough for the figure's left margin
GRID_LABELS = {**LEARNER_LABELS, "rbf_kernel": "RBF"}
# the learned-time panel: colour groups 6 (yellow) and 7 (grey), modulo the palette,
# are the ones the six components (groups 0-5) leave free; groups 8 apart share a
# colour but not a legend toggle. The ReLU NTK's times lie on the ReLU net's, so it
# takes the other colour; the RBF kernel shares yellow with its exact theory.
LEARNER_GROUPS = {"relu_mlp": 6, "tanh_mlp": 7, "relu_ntk": 15, "rbf_kernel": 14}
LEARNER_MODES = {
    "relu_mlp": "lines+markers",
    "tanh_mlp": "lines+markers",
    "rbf_kernel": "markers",
    "relu_ntk": "markers",
}


def _label(nu) -> str:
    """A component's name: z1, z1 z2, He2(z1)."""
    parts = []
    for i, n in enumerate(nu):
        if n == 1:
            parts.append(f"z{i + 1}")
        elif n > 1:
            parts.append(f"He{n}(z{i + 1})")
    return " ".join(parts)


def _result(key_data: tuple, seed: int) -> lo.OrderResult:
    base = jax.random.wrap_key_data(np.asarray(key_data, np.uint32))
    key = jax.random.fold_in(base, seed)
    return lo.compare_orders(key, lo.Config())  # cached there


def _panel(key_data: tuple, seed: int, learner: str) -> Panel:
    cfg = lo.Config()
    res = _result(key_data, int(seed))
    a = res.architectures.index(learner)
    curves = res.curves[a]
    lam = res.predicted_eigenvalues
    labels = [_label(nu) for nu in cfg.components]
    # the learner's clock: tau = 1 for the RBF kernel (HEA's own eigenvalues);
    # otherwise one least-squares fit over all components (stated in the note)
    t_pred = lo.predicted_times(cfg)
    tau = 1.0 if learner == "rbf_kernel" else lo.clock(res.times[a], t_pred)
    t = curves.t[1:]  # log axis: t > 0
    out = []
    for k, name in enumerate(labels):
        out.append(
            Curve(t, curves.learnability[1:, k], name, group=k, id=f"sim {name}")
        )
        out.append(
            Curve(
                t,
                -np.expm1(-lam[k] * t / tau),
                f"HEA {name}",
                role="theory",
                group=k,
                showlegend=False,
                id=f"hea {name}",
            )
        )
    grid = np.vstack([res.predicted_ranks, res.ranks])
    rows = ["HEA"] + [GRID_LABELS[n] for n in res.architectures]
    out.append(
        Heatmap(
            grid,
            "learning rank",
            x=labels,
            y=rows,
            row=3,
            zmin=1.0,
            zmax=float(len(labels)),
            colorbar_title="rank",
        )
    )
    # learned times (row 2): two colours are left by the components, so the mark
    # tells networks (markers joined by a line) from kernel flows (markers alone)
    for j, name in enumerate(res.architectures):
        out.append(
            Curve(
                lam,
                res.times[j],
                LEARNER_LABELS[name],
                row=2,
                mode=LEARNER_MODES[name],
                group=LEARNER_GROUPS[name],
                id=f"times {name}",
            )
        )
    out.append(
        Curve(
            lam,
            np.log(2) / lam,
            "ln 2 / λ, HEA (theory)",
            role="theory",
            row=2,
            group=23,  # grey (23 mod 8), dashed
            id="ln2",
        )
    )
    exact = res.exact_eigenvalues
    out.append(
        Curve(
            lam,
            np.log(2) / exact,
            "ln 2 / λ, exact RBF (theory)",
            role="theory",
            row=2,
            group=22,  # yellow, as the RBF kernel
            id="ln2 exact",
        )
    )
    rho = ", ".join(
        f"{LEARNER_LABELS[n]} {r:.2f}"
        for n, r in zip(res.architectures, res.spearman, strict=True)
    )
    clock = "τ = 1 (no fit)" if tau == 1.0 else f"τ = {tau:.3g} (fit, all)"
    note = f"Spearman vs HEA: {rho}. HEA curves: {clock}."
    if curves.diverged:
        note += f" Diverged at step {curves.diverged_step}."
    return Panel(out, note)


def learning_order_explorer(key: jax.Array) -> Explorer:
    """Learnability curves, rank grid and learned times of four learners.

    Args:
        key: PRNG key; the seed knob folds into it.

    Returns:
        An :class:`lm_sims.viz.explorer.Explorer` with knobs ``seed`` (the data
        and initialisation draw, 0 or 1) and ``learner``.

    Example:
        >>> import jax
        >>> ex = learning_order_explorer(jax.random.key(0))
        >>> [k.name for k in ex.knobs]
        ['seed', 'learner']
    """
    check_key(key)
    key_data = tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())

    def panel(seed, learner):
        return _panel(key_data, seed, learner)

    return Explorer(
        panel,
        [
            Knob("seed", SEEDS, label="seed", default=0),
            Knob(
                "learner",
                tuple(lo.ARCHITECTURES),
                label="learner (top panel)",
                default="relu_mlp",
            ),
        ],
        title="Hermite components are learned in the predicted order",
        rows=3,
        height=1000,
        subplot_titles=(
            "learnability of each component",
            "time to learnability 1/2",
            "learning rank (1 = first)",
        ),
        x_title=(
            "time t (lr × steps, or flow time)",
            "predicted eigenvalue λ (HEA, RBF kernel)",
            "target component",
        ),
        # every panel has a y-axis title (the rank grid's rows are the learners)
        y_title=("learnability L_k(t)", "learned time t₁/₂", "learner"),
        log_x=(True, True, False),
        log_y=(False, True, False),
    )
