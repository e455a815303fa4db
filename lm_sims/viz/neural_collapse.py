"""Explorers for Chapter 3, section 3.3: neural collapse and the neural feature
ansatz.

* :func:`neural_collapse_explorer`: NC1-NC4 of an MLP classifier against
  ``t = lr * steps`` on log axes, with the simplex-ETF limits as theory lines
  (Papyan, Han & Donoho 2020), on the calibrated Gaussian-mixture setting or on
  1,000 digits.
* :func:`feature_ansatz_explorer`: the first-layer Gram matrix ``W_1^T W_1`` and the
  square root of the network's average gradient outer product after training, as
  heatmaps, and their off-diagonal correlation over training (Radhakrishnan et al.
  2024).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import feature_ansatz, neural_collapse
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Heatmap, Knob, Panel

__all__ = ["feature_ansatz_explorer", "neural_collapse_explorer"]

_POINTS = 60  # log-spaced records per curve
_NC_STEPS = 3000  # steps per explorer state (the tests run 10^4)


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


def _nc_config(dataset: str, weight_decay: float, width: int, steps: int):
    base = (
        neural_collapse.ETF_CONFIG
        if dataset == "etf"
        else (neural_collapse.DIGITS_CONFIG)
    )
    return base.replace(weight_decay=float(weight_decay), width=int(width), steps=steps)


@functools.lru_cache(maxsize=32)
def _nc_run(key_data: tuple, dataset: str, weight_decay: float, width: int):
    cfg = _nc_config(dataset, weight_decay, width, _NC_STEPS)
    return cfg, jax.device_get(neural_collapse.train(_key(key_data), cfg))


def neural_collapse_explorer(key: jax.Array) -> Explorer:
    """NC1-NC4 over training on log axes, the simplex-ETF limits dashed.

    Four panels against ``t = lr * steps``: NC1 = Tr(Sigma_W Sigma_B^+)/K (limit
    0); NC2, the mean and the worst pairwise cosine of the centred class means
    (limit -1/(K-1), dashed) and their norm variation; NC3, the distance of the
    normalised classifier from the normalised class means (limit 0); NC4, the
    fraction of decisions that differ from the nearest class mean's, with the
    training error (limit 0). Zeros on a log axis are not drawn, so NC4 stops when
    it reaches 0.

    Static grid: dataset in (calibrated Gaussian mixture, digits) x weight decay
    in (1e-3, 5e-3) x width in (64, 128): 8 runs of 3,000 momentum-GD steps
    (:data:`lm_sims.neural_collapse.ETF_CONFIG` and ``DIGITS_CONFIG`` otherwise),
    ~30 s in all on 2 cores. Live: weight decay in [1e-4, 3e-2].
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(dataset, weight_decay, width):
        cfg, tr = _nc_run(key_data, dataset, float(weight_decay), int(width))
        m = tr.metrics
        idx = neural_collapse.log_records(tr.step, _POINTS)
        t = np.asarray(tr.t)[idx]
        th = neural_collapse.predict(cfg, t)
        sel = {k: np.asarray(v)[idx] for k, v in m._asdict().items()}
        curves = [
            Curve(t, sel["nc1"], "NC1 = Tr(Σ_W Σ_B⁺)/K", group=0, col=1, row=1),
            Curve(
                t,
                sel["cosine_mean"],
                "mean cosine of class means",
                group=1,
                col=2,
                row=1,
            ),
            Curve(
                t,
                -np.asarray(sel["cosine_deviation"]) + th.cosine_mean,
                "worst pair: −1/(K−1) − |cos + 1/(K−1)|",
                group=2,
                col=2,
                row=1,
            ),
            Curve(
                t,
                th.cosine_mean,
                "simplex ETF −1/(K−1) (theory)",
                "theory",
                group=1,
                col=2,
                row=1,
            ),
            Curve(
                t,
                sel["norm_cv"],
                "norm variation of class means (NC2)",
                group=3,
                col=1,
                row=2,
            ),
            Curve(t, sel["nc3"], "NC3 = ‖W/‖W‖ − M/‖M‖‖²", group=4, col=1, row=2),
            Curve(
                t,
                sel["nc4"],
                "NC4: network ≠ nearest class mean",
                group=5,
                col=2,
                row=2,
            ),
            Curve(t, 1.0 - sel["accuracy"], "training error", group=6, col=2, row=2),
        ]
        note = ""
        if int(tr.diverged_step) >= 0:
            note = f"Diverged at step {int(tr.diverged_step)}: curves stop there."
        elif int(tr.degenerate_step) >= 0:
            note = (
                f"The features died at step {int(tr.degenerate_step)} (weight decay "
                f"{float(weight_decay):g} drove every class mean together): NC1-NC4 "
                "are undefined from there, so the curves stop."
            )
        else:
            note = (
                f"end: NC1 {sel['nc1'][-1]:.3g}, worst cosine "
                f"{sel['cosine_deviation'][-1]:.3f} from −1/(K−1), norm variation "
                f"{sel['norm_cv'][-1]:.3f}, NC3 {sel['nc3'][-1]:.3g}"
            )
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "dataset",
                ("etf", "digits"),
                default="etf",
                label="data (etf: 4-class Gaussian mixture; digits: 10 classes)",
            ),
            Knob(
                "weight_decay",
                (1e-3, 5e-3),
                low=1e-4,
                high=3e-2,
                log=True,
                default=5e-3,
                label="weight decay λ",
            ),
            Knob("width", (64, 128), default=128, label="width p"),
        ],
        title="Neural collapse: class means approach a simplex ETF (dashed)",
        x_title="t = lr × steps",
        y_title=["NC1", "cosine", "NC2 norm variation, NC3", "fraction"],
        log_x=True,
        # NC4 and the training error reach exactly 0: a linear axis shows that
        log_y=[[True, False], [True, False]],
        y_range=[[None, None], [None, (-0.02, 1.0)]],  # fractions
        rows=2,
        cols=2,
        subplot_titles=[
            "NC1 (within-class)",
            "NC2 (cosines)",
            "NC2 (norms), NC3",
            "NC4 (decisions)",
        ],
        height=640,
    )


@functools.lru_cache(maxsize=16)
def _nfa_run(key_data: tuple, directions: str, weight_decay: float):
    cfg = feature_ansatz.Config(directions=directions, weight_decay=weight_decay)
    return jax.device_get(feature_ansatz.train(_key(key_data), cfg))


def _normalised(a):
    a = np.asarray(a, np.float64)
    return a / np.max(np.abs(a))


def feature_ansatz_explorer(key: jax.Array) -> Explorer:
    """W_1^T W_1 against AGOP^(1/2) after training, and their correlation.

    Left and middle: the two (d, d) matrices at the end of training, each divided
    by its largest entry. Right: the off-diagonal Pearson correlation with
    AGOP^(1/2) and with the AGOP over ``t = lr * steps`` (Adam, 3,000 steps), the
    ansatz's value 1 dashed and the value at initialisation dashed as reference.

    Static grid: target directions in (random, axes) x weight decay in (0, 1e-3):
    4 runs of ~1 s (8 s in all with compilation on 2 cores). Live: weight decay
    in [0, 1e-2].
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(directions, weight_decay):
        tr = _nfa_run(key_data, directions, float(weight_decay))
        gram = _normalised(tr.gram)
        root = _normalised(feature_ansatz.matrix_power(tr.agop, 0.5))
        t = np.asarray(tr.t)
        later = t > 0
        corr = np.asarray(tr.corr_sqrt)
        curves = [
            Heatmap(
                gram,
                "W₁ᵀW₁ / max",
                col=1,
                colorscale="diverging",
                zmin=-1.0,
                zmax=1.0,
                showscale=False,  # both maps span -1..1 (caption); a colour bar
                # between columns 2 and 3 would sit on column 3's tick labels
            ),
            Heatmap(
                root,
                "AGOP^½ / max",
                col=2,
                colorscale="diverging",
                zmin=-1.0,
                zmax=1.0,
                showscale=False,
            ),
            Curve(t[later], corr[later], "corr(W₁ᵀW₁, AGOP^½)", group=0, col=3),
            Curve(
                t[later],
                np.asarray(tr.corr_agop)[later],
                "corr(W₁ᵀW₁, AGOP)",
                group=1,
                col=3,
            ),
            Curve(
                t[later],
                np.ones(later.sum()),
                "ansatz: r = 1 (theory)",
                "theory",
                group=2,
                col=3,
            ),
            # a measured reference, not theory: thin, in its curve's colour
            Curve(
                t[later],
                np.full(later.sum(), corr[0]),
                "corr(W₁ᵀW₁, AGOP^½) at init",
                group=0,
                col=3,
                thin=True,
            ),
        ]
        note = (
            f"off-diagonal correlation {corr[0]:.2f} at init → {corr[-1]:.2f} at "
            f"the end; test MSE {float(tr.test_mse[-1]):.3f}"
        )
        if int(tr.diverged_step) >= 0:
            note = f"Diverged at step {int(tr.diverged_step)}: curves stop there."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "directions",
                ("random", "axes"),
                default="random",
                label="target directions u_k",
            ),
            Knob(
                "weight_decay",
                (0.0, 1e-3),
                low=0.0,
                high=1e-2,
                default=1e-3,
                label="weight decay λ",
            ),
        ],
        title="Neural feature ansatz: W₁ᵀW₁ ∝ AGOP^½ (off-diagonal entries)",
        x_title=["input coordinate j", "input coordinate j", "t = lr × steps"],
        y_title=["input coordinate i", "", "off-diagonal Pearson r"],
        log_x=[False, False, True],
        cols=3,
        subplot_titles=["W₁ᵀW₁ (end)", "AGOP^½ (end)", "correlation"],
        height=440,
    )
