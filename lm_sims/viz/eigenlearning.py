"""Explorer for Chapter 1.2: eigenlearning, theory vs kernel ridge regression."""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import eigenlearning as el
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = ["eigenlearning_explorer"]

_NUM_MODES = 512  # modes of the Gaussian-design features (theory uses the same)
_NS = (4, 8, 16, 32, 64, 128)  # simulated training-set sizes
_NUM_SEEDS = 16  # trials per size: bands and error bars are their standard error
_SHOWN = np.unique(np.geomspace(1, 256, 40).astype(int))  # modes in the right panel


def eigenlearning_explorer(key: jax.Array) -> Explorer:
    """Learning curve (test MSE vs n) and per-mode learnabilities at one n, simulated
    by kernel ridge regression against the eigenlearning prediction (dashed). The
    learning curve is the mean over 16 trials, shaded +- one standard error; each
    mode's learnability is a marker with a +- one standard error bar (the modes are
    discrete: a band between them would suggest values there). Knobs: n, ridge,
    label noise, spectrum exponent alpha, target exponent r.

    References:
        Simon, Dickens, Karkada & DeWeese, "The Eigenlearning Framework", 2023,
        arXiv:2110.03922.
    """
    check_key(key)
    # simulate_learning_curve(key, cfg, _NS, _NUM_SEEDS) for every knob setting,
    # keeping the features per n, the Gram matrices per alpha and their Cholesky
    # factors per (alpha, ridge): a move re-solves only what it changes
    live = el._LiveLearningCurve(key, _NUM_MODES, _NS, _NUM_SEEDS)

    @functools.lru_cache(maxsize=64)
    def curve(ridge, noise, alpha, r):
        cfg = el.Config(
            num_modes=_NUM_MODES, alpha=alpha, r=r, ridge=ridge, noise=noise
        )
        return cfg, live.curve(cfg)

    def panel(n, ridge, noise, alpha, r):
        cfg, lc = curve(ridge, noise, alpha, r)
        lam, v = el.spectrum(cfg)
        n_th = np.geomspace(2, 256, 60)
        mse_th = [el.predict_test_mse(lam, v, m, ridge, noise) for m in n_th]
        i, k = _NS.index(n), _SHOWN - 1
        return Panel(
            curves=[
                # the core returns the mean and its standard error (not the
                # trials): the band is mean +- 1 s.e.m.
                Curve(
                    lc.n,
                    lc.test_mse,
                    "test MSE",
                    mode="lines+markers",
                    lower=lc.test_mse - lc.sem,
                    upper=lc.test_mse + lc.sem,
                    band_label=f"mean ± 1 s.e.m. over {_NUM_SEEDS} trials",
                ),
                Curve(n_th, mse_th, "test MSE (theory)", "theory", showlegend=False),
                Curve(
                    _SHOWN,
                    lc.learnability[i, k],
                    "learnability",
                    group=1,
                    col=2,
                    mode="markers",
                    error_y=lc.learnability_sem[i, k],
                ),
                Curve(
                    _SHOWN,
                    lc.learnability_theory[i, k],
                    "learnability (theory)",
                    "theory",
                    group=1,
                    col=2,
                    showlegend=False,
                ),
            ]
        )

    return Explorer(
        panel,
        knobs=[
            Knob("n", values=(8, 32, 128), label="n (right panel)"),
            Knob(
                "ridge",
                values=(1e-4, 1.0),
                low=1e-5,
                high=10.0,
                log=True,
                label="ridge δ",
            ),
            Knob("noise", values=(0.0, 0.5), low=0.0, high=1.0, label="label noise σ"),
            Knob(
                "alpha",
                values=(1.5, 2.5),
                low=1.1,
                high=3.0,
                label="spectrum exponent α",
            ),
            Knob("r", values=(2.0, 3.0), low=1.1, high=6.0, label="target exponent r"),
        ],
        title="Eigenlearning: kernel ridge regression on Gaussian features",
        x_title=["n (training samples)", "mode index k"],
        y_title=["test MSE", "learnability"],
        log_x=True,
        log_y=[True, False],
        cols=2,
        subplot_titles=["learning curve", "learnabilities"],
    )
