"""Explorer for Chapter 5, section 5.3: the same learning order across learners.

* :func:`learning_order_explorer`: on anisotropic Gaussian data (d = 16, effective
  dimension 9.45) with a target of six Hermite components
  (:mod:`lm_sims.learning_order`), (1) the learnability of each component against
  time for one learner (a ReLU or tanh two-layer network, RBF kernel flow,
  ReLU-NTK kernel flow), solid, with the Hermite eigenstructure ansatz's curves
  ``1 - exp(-lambda_k t / tau)`` dashed (``tau = 1`` for the RBF kernel, whose
  eigenvalues the ansatz predicts; for the others ``tau`` is the learner's own
  clock, :func:`lm_sims.learning_order.clock`, a least-squares fit over all
  components in log time); (2) the learning ranks as a grid of learners x
  components under the predicted ranks. The two panels are stacked (one column), so
  each is as wide as the book's text column.
* :func:`learned_times_explorer`: every learner's learned times against the
  predicted eigenvalue (networks: markers joined by a line; kernel flows: markers),
  with ``ln 2 / lambda`` of the ansatz and of the exact RBF eigenvalues (Mehler's
  formula), dashed. A figure of its own, so that each learner has its own colour
  (the six components take six of the palette's eight).

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

__all__ = ["learned_times_explorer", "learning_order_explorer"]

SEEDS = (0, 1)  # static grid: the data/initialisation seeds
LEARNER_LABELS = {
    "relu_mlp": "ReLU net",
    "tanh_mlp": "tanh net",
    "rbf_kernel": "RBF kernel",
    "relu_ntk": "ReLU NTK",
}
# the rank grid's row labels: short enough for the figure's left margin
GRID_LABELS = {**LEARNER_LABELS, "rbf_kernel": "RBF"}
# the learned-times figure (its own legend, so its colours are free of the six
# components'): one colour per learner; the exact RBF theory shares the RBF
# kernel's colour (the same quantity), the ansatz's ln 2 / lambda is grey (7)
LEARNER_GROUPS = {"relu_mlp": 0, "tanh_mlp": 1, "relu_ntk": 3, "rbf_kernel": 2}
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
            row=2,
            zmin=1.0,
            zmax=float(len(labels)),
            colorbar_title="rank",
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


def _times_panel(key_data: tuple, seed: int) -> Panel:
    res = _result(key_data, int(seed))
    lam = res.predicted_eigenvalues
    out = []
    for j, name in enumerate(res.architectures):
        out.append(
            Curve(
                lam,
                res.times[j],
                LEARNER_LABELS[name],
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
            group=7,  # grey, dashed
            id="ln2",
        )
    )
    out.append(
        Curve(
            lam,
            np.log(2) / res.exact_eigenvalues,
            "ln 2 / λ, exact RBF (theory)",
            role="theory",
            group=LEARNER_GROUPS["rbf_kernel"],  # the RBF kernel's own theory
            id="ln2 exact",
        )
    )
    exact = np.log(2) / res.exact_eigenvalues
    clocks = ", ".join(
        f"{LEARNER_LABELS[n]} {lo.clock(t, exact):.3g}"
        for n, t in zip(res.architectures, res.times, strict=True)
    )
    return Panel(out, f"Clock (times over exact RBF ln 2 / λ): {clocks}.")


def learned_times_explorer(key: jax.Array) -> Explorer:
    """Every learner's learned times against the predicted eigenvalue.

    The time ``t_1/2`` at which each of the six components reaches learnability
    1/2, for the four learners (networks: markers joined by a line; kernel flows:
    markers), against the ansatz's eigenvalue ``lambda`` of the RBF kernel, with
    ``ln 2 / lambda`` of the ansatz and of the exact RBF eigenvalues (Mehler's
    formula) dashed. The note gives each learner's clock
    (:func:`lm_sims.learning_order.clock` against the exact RBF times). The runs
    are those of :func:`learning_order_explorer` (cached).

    Args:
        key: PRNG key; the seed knob folds into it.

    Returns:
        An :class:`lm_sims.viz.explorer.Explorer` with the knob ``seed`` (0 or 1).

    Example:
        >>> import jax
        >>> ex = learned_times_explorer(jax.random.key(0))
        >>> [k.name for k in ex.knobs]
        ['seed']
    """
    check_key(key)
    key_data = tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())

    def panel(seed):
        return _times_panel(key_data, seed)

    return Explorer(
        panel,
        [Knob("seed", SEEDS, label="seed", default=0)],
        title="Learned times follow ln 2 / λ, each learner on its own clock",
        x_title="predicted eigenvalue λ (HEA, RBF kernel)",
        y_title="learned time t₁/₂ (lr × steps, or flow time)",
        log_x=True,
        log_y=True,
        height=480,
    )


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
        rows=2,
        height=760,
        subplot_titles=(
            "learnability of each component",
            "learning rank (1 = first)",
        ),
        x_title=(
            "time t (lr × steps, or flow time)",
            "target component",
        ),
        # every panel has a y-axis title (the rank grid's rows are the learners)
        y_title=("learnability L_k(t)", "learner"),
        log_x=(True, False),
        log_y=(False, False),
    )
