"""Explorers for Chapter 2, sections 2.3 and 2.4: lazy vs rich training, and the
feature movement of the NTK and muP infinite-width limits.

* :func:`lazy_rich_explorer`: the paths of a two-layer ReLU network's neurons in
  the input plane under the output scale alpha (Chizat, Oyallon & Bach 2019; the
  position paper's Fig. 2), with the teacher's directions and the linearised (lazy)
  prediction of the loss and of the parameter movement,
  :func:`lm_sims.lazy_rich.predict_lazy`.
* :func:`relative_change_explorer`: the final relative parameter change against
  alpha, measured and linearised (the ``1/alpha`` law).
* :func:`feature_learning_explorer`: the coordinate check of Yang & Hu (2021),
  feature and output movement after one step against width in SP, NTK and muP,
  with the predicted width exponents.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import feature_learning, lazy_rich
from lm_sims._config import check_key
from lm_sims.lazy_rich import LAZY_CONFIG, predict_lazy
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel, band

__all__ = [
    "feature_learning_explorer",
    "lazy_rich_explorer",
    "relative_change_explorer",
]

_PATH_POINTS = 40  # records per neuron path (log-spaced in time)
_CURVE_POINTS = 150  # records per loss / change curve (log-spaced in time)
_SWEEP_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
_DENSE_ALPHAS = np.geomspace(_SWEEP_ALPHAS[0], _SWEEP_ALPHAS[-1], 40)


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


# -- 2.3: the linearised (lazy) prediction -------------------------------------------


def _paths(positions: np.ndarray, records: np.ndarray, mask: np.ndarray):
    """(records, n, 2) positions of the neurons in ``mask``: one NaN-separated
    polyline per neuron through the chosen records."""
    p = positions[records][:, mask]  # (m, k, 2)
    p = np.concatenate([p, np.full((1, *p.shape[1:]), np.nan)], axis=0)
    p = p.transpose(1, 0, 2).reshape(-1, 2)
    return p[:, 0], p[:, 1]


def _lazy_rich_panel(key, cfg: lazy_rich.Config) -> Panel:
    traj = jax.device_get(lazy_rich.train(key, cfg))
    theory = predict_lazy(key, cfg)
    positions = np.asarray(traj.positions, np.float64)
    num = positions.shape[0]
    records = np.unique(np.geomspace(1, num, _PATH_POINTS).round().astype(int) - 1)
    finite = np.all(np.isfinite(positions), axis=(1, 2))
    records = records[finite[records]]  # a diverged run: paths stop at divergence
    last = records[-1]
    positive = np.asarray(traj.sign[last]) >= 0
    curves = []
    for group, (mask, label) in enumerate(
        ((positive, "a_i > 0"), (~positive, "a_i < 0"))
    ):
        px, py = _paths(positions, records, mask)
        curves.append(Curve(px, py, f"neurons, {label}", group=group, breaks=True))
        end = positions[last][mask]
        curves.append(
            Curve(
                end[:, 0],
                end[:, 1],
                f"final position, {label}",
                group=group,
                mode="markers",
                showlegend=False,
            )
        )
    radius = 1.1 * np.nanmax(np.linalg.norm(positions[records], axis=-1))
    rays = []
    for d in np.asarray(traj.teacher_directions, np.float64):
        rays += [[0.0, 0.0], radius * d, [np.nan, np.nan]]
    rays = np.array(rays)
    curves.append(
        Curve(
            rays[:, 0], rays[:, 1], "teacher directions", "theory", group=2, breaks=True
        )
    )
    t = np.asarray(traj.t)
    # log time axis: t > 0, log-spaced records
    later = np.unique(np.geomspace(1, num - 1, _CURVE_POINTS).round().astype(int))
    curves += [
        Curve(t[later], np.asarray(traj.loss)[later], "loss", group=3, col=2),
        Curve(
            theory.t[later],
            theory.loss[later],
            "loss (lazy theory)",
            "theory",
            group=3,
            col=2,
            showlegend=False,
        ),
        Curve(
            t[later],
            np.asarray(traj.relative_change)[later],
            "‖θ−θ₀‖/‖θ₀‖",
            group=4,
            col=2,
        ),
        Curve(
            theory.t[later],
            theory.relative_change[later],
            "‖θ−θ₀‖/‖θ₀‖ (lazy theory)",
            "theory",
            group=4,
            col=2,
            showlegend=False,
        ),
    ]
    notes = []
    if int(traj.diverged_step) >= 0:
        notes.append(
            f"Diverged at step {int(traj.diverged_step)}: paths and curves stop "
            "there (lower the learning rate)."
        )
    if theory.diverged:
        # the linearised network is a result too: its curves stop where its loss
        # leaves the range a run accepts (predict_lazy masks them)
        notes.append(
            f"The lazy theory diverges at step {theory.diverged_step}: "
            f"{int(np.sum(theory.unstable_modes))} tangent-kernel mode(s) have "
            "|1 − η λ| > 1, so its dashed curves stop there."
        )
    return Panel(curves, " ".join(notes))


def lazy_rich_explorer(key: jax.Array) -> Explorer:
    """Neuron paths under the output scale alpha: rich (alpha = 0.1) against lazy
    (alpha = 30), the position paper's Fig. 2 (Chizat, Oyallon & Bach 2019).

    Left: the positions ``|a_i| w_i`` of all neurons from initialisation (start of
    each path) to the end of training (markers), coloured by the sign of ``a_i``,
    with the teacher's directions (dashed rays) where rich training sends them.
    Right: training loss and relative parameter change against ``t = lr * steps``,
    with the linearised (lazy) prediction :func:`lm_sims.lazy_rich.predict_lazy`
    dashed. The step is
    ``lr * n / (alpha * max(alpha, 1))`` (:func:`lm_sims.lazy_rich.effective_lr`),
    so the same ``lr`` trains every alpha. Runs ``lm_sims.lazy_rich.LAZY_CONFIG``
    (400 steps, ~30 ms on 2 cores).

    Static grid: alpha in (0.1, 1, 3, 30) x width in (50, 200), lr = 0.5. Live:
    alpha in [0.03, 100], lr in [0.02, 1]. The run's final numbers (loss,
    relative change, alignment with the teacher, largest neuron) are
    :func:`lm_sims.lazy_rich.run_summary`.
    """
    check_key(key)

    def panel(alpha, width, lr):
        cfg = LAZY_CONFIG.replace(alpha=alpha, width=width, lr=lr)
        return _lazy_rich_panel(key, cfg)

    return Explorer(
        panel,
        [
            Knob(
                "alpha",
                (0.1, 1.0, 3.0, 30.0),
                low=0.03,
                high=100.0,
                log=True,
                default=0.1,
                label="output scale α",
            ),
            Knob("width", (50, 200), default=200, label="width n"),
            Knob(
                "lr",
                (0.5,),
                low=0.02,
                high=1.0,
                log=True,
                label="learning rate lr (step lr·n/(α·max(α,1)))",
            ),
        ],
        title="Lazy or rich: the output scale α decides whether neurons move",
        x_title=["|a_i| w_i, first coordinate", "t = lr × steps"],
        y_title=["|a_i| w_i, second coordinate", "loss, ‖θ−θ₀‖/‖θ₀‖"],
        log_x=[False, True],
        log_y=[False, True],
        # the plane is geometric: one unit as long on both axes, so the teacher's
        # directions and the neurons' angles are drawn true
        equal_aspect=[True, False],
        cols=2,
        subplot_titles=["neurons in the input plane", "loss and parameter change"],
        height=480,
    )


_SWEEP_SEEDS = 4  # teachers, data sets and initialisations per width


@functools.lru_cache(maxsize=8)
def _sweep(key_data: tuple, width: int, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lm_sims.lazy_rich.alpha_sweep` at the explorer's alphas for seeds
    ``jax.random.fold_in(key, s)``, s < 4 (cached), and the linearised prediction
    on a dense grid of alphas for the same seeds: (seeds, 7) and (seeds, 40)."""
    key, cfg = _key(key_data), LAZY_CONFIG.replace(width=width, lr=lr)
    measured, theory = [], []
    for s in range(_SWEEP_SEEDS):
        k = jax.random.fold_in(key, s)
        measured.append(lazy_rich.alpha_sweep(k, cfg, _SWEEP_ALPHAS).relative_change)
        theory.append(
            [
                predict_lazy(k, cfg.replace(alpha=float(a))).relative_change[-1]
                for a in _DENSE_ALPHAS
            ]
        )
    return np.array(measured), np.array(theory)


def relative_change_explorer(key: jax.Array) -> Explorer:
    """Final relative parameter change against alpha: the lazy ``1/alpha`` law.

    Simulation at alpha = 0.1 ... 100 after the run of :func:`lazy_rich_explorer`
    (lr = 0.5, 400 steps: t = 200), mean over 4 seeds (teacher, data and
    initialisation from ``jax.random.fold_in(key, s)``) +- one standard error,
    and the linearised prediction :func:`lm_sims.lazy_rich.predict_lazy` averaged
    over the same seeds (dashed), exactly proportional to ``1/alpha`` for
    alpha >= 1 (:func:`lm_sims.lazy_rich.alpha_sweep`). The seeds agree closely:
    the band's half-width is 2-10% of the mean, thin on the three-decade axis.
    The one knob, width, is
    discrete: each width's sweeps (4 x 7 runs, ~1 s) are computed once and cached.
    """
    check_key(key)
    key_data = _key_data(key)
    lr = LAZY_CONFIG.lr

    def panel(width):
        measured, theory = _sweep(key_data, width, lr)
        return Panel(
            [
                band(
                    _SWEEP_ALPHAS,
                    measured,
                    "network (simulation)",
                    spread="sem",
                    mode="lines+markers",
                    group=4,
                ),
                Curve(
                    _DENSE_ALPHAS,
                    theory.mean(axis=0),
                    "linearised network (lazy theory)",
                    "theory",
                    group=4,
                ),
            ]
        )

    return Explorer(
        panel,
        [
            Knob("width", (50, 200), default=200, label="width n"),
        ],
        title="Lazy training moves the weights by O(1/α) (lr = 0.5)",
        x_title="output scale α",
        y_title="‖θ_T − θ₀‖ / ‖θ₀‖ at t = 200",
        log_x=True,
        log_y=True,
    )


# -- 2.4: coordinate check -------------------------------------------------------------

_NAMES = {"sp": "SP", "ntk": "NTK", "mup": "μP"}
_WIDTHS = feature_learning.WIDTHS


_SEEDS = 4  # networks per width in the coordinate check


@functools.lru_cache(maxsize=64)
def _one_step_changes(key_data: tuple, parameterization: str, lr: float, sp_lr: str):
    """Cached :func:`lm_sims.feature_learning.one_step_changes`, seed by seed:
    float64 (seeds, widths, 3), seed s from ``jax.random.fold_in(key, s)``."""
    if parameterization != "sp":
        sp_lr = "fixed"  # ignored: one cache entry per lr
    key = _key(key_data)
    return np.stack(
        [
            feature_learning.one_step_changes(
                jax.random.fold_in(key, s), parameterization, lr, sp_lr, num_seeds=1
            )
            for s in range(_SEEDS)
        ]
    )


def _slope_line(widths, values, slope):
    """Theory line n^slope through the data (prefactor by least squares in log)."""
    n = np.asarray(widths, np.float64)
    log_c = np.mean(np.log(values) - slope * np.log(n))
    return np.exp(log_c) * n**slope


def feature_learning_explorer(key: jax.Array) -> Explorer:
    """Coordinate check: RMS change of hidden features and output after one step
    of gradient descent against width, in SP, NTK and muP (Yang & Hu 2021).

    Measured (solid, markers: mean over 4 seeds, shaded +- one standard error; one
    seed per call of :func:`lm_sims.feature_learning.one_step_changes`, seed s
    from ``jax.random.fold_in(key, s)``) with the predicted
    power laws dashed: slope from the abc analysis, prefactor fitted. Knobs: the
    base lr; SP's learning rate fixed or falling as 1/n; which hidden layer.
    Static grid: lr in (0.001, 0.01, 0.1, 1) x SP lr in (fixed, 64/n) x layer in
    (1, 2). All knobs are discrete: one lr costs ~2 s on 2 cores (5 widths up to
    1024, 3 parameterisations, 4 seeds) and is cached, so revisiting it is instant.
    """
    check_key(key)

    key_data = _key_data(key)

    def panel(lr, sp_lr, layer):
        curves = []
        for g, par in enumerate(("sp", "ntk", "mup")):
            y_all = _one_step_changes(key_data, par, float(lr), sp_lr)
            slopes = feature_learning.predicted_exponents(par, sp_lr)
            for col, idx in ((1, layer - 1), (2, 2)):
                name = _NAMES[par] + ("" if col == 1 else " (output)")
                # mean over 4 seeds +- its standard error: the fitted law goes
                # through the mean (for positive samples mean - s.e.m. >= 0, so
                # the band stays on the log axis)
                measured = band(
                    _WIDTHS,
                    y_all[:, :, idx],
                    name,
                    spread="sem",
                    group=g,
                    col=col,
                    mode="lines+markers",
                    showlegend=col == 1,
                )
                curves.append(measured)
                curves.append(
                    Curve(
                        measured.x,
                        _slope_line(measured.x, measured.y, slopes[idx]),
                        f"{name} (theory)",
                        "theory",
                        group=g,
                        col=col,
                        showlegend=False,
                    )
                )
        return Panel(curves)

    return Explorer(
        panel,
        [
            Knob(
                "lr",
                (0.001, 0.01, 0.1, 1.0),
                default=0.01,
                label="base learning rate lr",
            ),
            Knob("sp_lr", feature_learning.SP_LR_SCALINGS, label="SP learning rate"),
            Knob("layer", (1, 2), default=2, label="hidden layer ℓ"),
        ],
        title="One step of gradient descent: do the features move as n → ∞?",
        x_title="width n",
        y_title=["RMS change of h_ℓ after one step", "RMS change of f after one step"],
        log_x=True,
        log_y=True,
        cols=2,
        subplot_titles=["hidden features h_ℓ", "network output f"],
        height=460,
    )
