"""Explorers for Chapter 4, section 4.1: muP and learning-rate transfer.

* :func:`transfer_explorer`: the position paper's Fig. 5 (Yang et al. 2022, Fig. 1)
  at toy scale: final training loss against ``log2`` of the learning rate, one
  curve per width, SP beside muP (:func:`lm_sims.transfer.transfer_sweep`; Adam from
  the shipped reference sweep, SGD from a small sweep).
* :func:`coordinate_check_explorer`: how far features and outputs move in one step
  against width, log-log, SP beside muP, SGD or Adam, with the predicted slopes
  dashed (:func:`lm_sims.feature_learning.one_step_changes`).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import feature_learning as fl
from lm_sims import transfer
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = ["coordinate_check_explorer", "transfer_explorer"]

_OPTIMIZERS = {"Adam": "adam", "SGD": "gd"}
# largest width shown (None: all). Both sets differ under either optimizer (the SGD
# sweep has widths 64-256), so the control is never a no-op.
_WIDTH_SETS = {"all": None, "64–128": 128}
_SGD_WIDTHS = (64, 128, 256)  # small: the static grid stays < ~60 s
_LIVE_WIDTHS = (64, 128, 256, 512)
_NAMES = {"sp": "SP", "mup": "μP (base width 64)"}


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


_RECORDED_STEPS = (50, 100, 150, 200)


@functools.lru_cache(maxsize=4)
def _recorded(key_data: tuple, optimizer: str) -> transfer.TransferSweep:
    """The shipped Adam sweep, or a small SGD sweep (widths 64-256, one seed)."""
    if optimizer == "adam":
        return transfer.reference_sweep()
    return transfer.transfer_sweep(
        _key(key_data), "gd", widths=_SGD_WIDTHS, num_seeds=1
    )


# the live steps: 20, 30, ..., 400 (a record every 10 steps: a record is a
# full-data loss, ~9 minibatch steps' work, so records at every step would cost
# ~10x the run)
_LIVE_STEPS = tuple(range(20, 401, 10))


@functools.lru_cache(maxsize=4)
def _live(key_data: tuple, optimizer: str) -> transfer.TransferSweep:
    """Live mode: one fresh one-seed sweep over widths 64-512 to the last live
    steps value, recording at every live value, so that every other one is a
    lookup (one sweep per optimizer, no compilation on later moves)."""
    return transfer.transfer_sweep(
        _key(key_data),
        optimizer,
        widths=_LIVE_WIDTHS,
        num_seeds=1,
        steps=_LIVE_STEPS[-1],
        record_every=_LIVE_STEPS[1] - _LIVE_STEPS[0],
    )


def _sweep(key_data: tuple, optimizer: str, steps: int) -> transfer.TransferSweep:
    if steps in _RECORDED_STEPS:
        return _recorded(key_data, optimizer)
    return _live(key_data, optimizer)


def transfer_explorer(key: jax.Array) -> Explorer:
    """Training loss against learning rate for widths 64 to 1,024: SP's optimum
    drifts to small learning rates as the width grows, muP's stays (Fig. 5).

    The 64-n-n-10 ReLU network on all 1,797 digits, one-hot 1/2-MSE, minibatch 64
    (:func:`lm_sims.transfer.network_config`); muP with base width 64 equals SP at
    n = 64. Each curve is the seed-mean full-data loss after ``steps`` steps at
    ``eta = 2^k``; the marker is its refined optimum (refined-opt); the dashed
    vertical line is muP's prediction, "the optimum of width 64 holds at every
    width". A rate at which some seed diverged is left out and named in the note;
    a width at which every rate diverged has no optimum marker (``found`` of
    :class:`lm_sims.transfer.Optimum`). The legend names the widths only
    (colour) and the dashed line, so that the two panels keep the column's width.

    Knobs: optimizer (Adam: the shipped sweep, 2 seeds, widths 64-1,024, rates
    2^-13 ... 2^-3; SGD: widths 64-256, one seed, rates 2^-7 ... 2^0, computed once,
    ~20 s); the widths shown (all, or 64-128 only); the steps (static 50, 100,
    150, 200: the recorded ones; live 20, 30, ..., 400: the first other value runs
    one one-seed sweep over widths 64-512 to 400 steps, recording every 10 steps,
    and every later value reads it, with no run and no compilation).
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(optimizer, widths, steps):
        opt = _OPTIMIZERS[optimizer]
        steps = int(round(float(steps)))
        result = _sweep(key_data, opt, steps)
        k = int(np.flatnonzero(result.steps == steps)[0])
        largest = _WIDTH_SETS[widths]
        best = transfer.optimum(result, steps)
        mean = np.mean(result.loss[..., k], axis=-1)  # (2, W, R)
        x = result.log2_lrs
        curves, notes, line_in_legend = [], [], False
        for p, par in enumerate(result.parameterizations):
            col = p + 1
            shown = [
                i
                for i, n in enumerate(result.widths)
                if largest is None or n <= largest
            ]
            for g, i in enumerate(shown):
                n = int(result.widths[i])
                # diverged by these steps (the live sweep runs on to the end of
                # the range: a later divergence does not hide an earlier loss)
                dead = (result.diverged_step[p, i] >= 0) & (
                    result.diverged_step[p, i] <= steps
                )
                ok = np.isfinite(mean[p, i]) & ~np.any(dead, -1)
                curves.append(
                    Curve(
                        x[ok],
                        mean[p, i, ok],
                        f"n = {n}",
                        group=g,
                        col=col,
                        showlegend=p == 0,
                        mode="lines+markers",
                        id=f"{par} loss {n}",
                    )
                )
                if best.found[p, i]:  # else every rate diverged: no optimum
                    curves.append(
                        Curve(
                            [best.refined[p, i]],
                            [best.best_loss[p, i]],
                            f"optimum, n = {n}",
                            group=g,
                            col=col,
                            showlegend=False,
                            mode="markers",
                            id=f"{par} optimum {n}",
                        )
                    )
                if not ok.all():
                    first = x[~ok].min()
                    notes.append(f"{_NAMES[par].split()[0]} n = {n}: 2^{first:g}")
            finite = mean[p][np.isfinite(mean[p])]
            if best.found[p, 0]:  # the smallest width's optimum: muP's prediction
                curves.append(
                    Curve(
                        [best.refined[p, 0]] * 2,
                        [finite.min(), finite.max()],
                        # short: the legend must leave the two panels their width
                        f"optimum of n = {int(result.widths[0])} (theory)",
                        "theory",
                        group=len(shown),
                        col=col,
                        showlegend=not line_in_legend,
                        id=f"{par} transfer",
                    )
                )
                line_in_legend = True
        note = ""
        if notes:
            note = "Diverged (left out) from lr = " + "; ".join(notes) + "."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("optimizer", tuple(_OPTIMIZERS), default="Adam"),
            Knob("widths", tuple(_WIDTH_SETS), default="all", label="widths n"),
            Knob(
                "steps",
                _RECORDED_STEPS,
                live=_LIVE_STEPS,
                default=200,
                label="steps",
            ),
        ],
        title="Learning-rate transfer: SP (left) and μP (right)",
        x_title="log₂ learning rate η",
        # one title per panel: each panel has its own y axis, ticks and title
        # (a shared y axis hid them on the right panel, and on a phone, where
        # the panels stack, the μP panel had no scale at all)
        y_title="training loss after the steps",
        log_y=True,
        cols=2,
        subplot_titles=("SP", "μP, base width 64"),
        height=460,
    )


_CC_WIDTHS = (64, 128, 256, 512)
_CC_LR = {"gd": 1e-3, "adam": 1e-4}
_CC_LABELS = ("hidden layer 1", "hidden layer 2", "output f")


@functools.lru_cache(maxsize=8)
def _changes(key_data: tuple, parameterization: str, optimizer: str):
    return fl.one_step_changes(
        _key(key_data),
        parameterization,
        _CC_LR[optimizer],
        widths=_CC_WIDTHS,
        num_seeds=1,
        optimizer=optimizer,
    )


def coordinate_check_explorer(key: jax.Array) -> Explorer:
    """The coordinate check: RMS change of each layer's activations after one
    step, against width, SP beside muP.

    The two-hidden-layer ReLU network of :mod:`lm_sims.feature_learning` (d = 16,
    batch 32, centred step) at widths 64 to 512, one seed, a fixed base
    learning rate (SGD 1e-3; Adam 1e-4, muP with Adam's rates). Solid: measured;
    dashed: the predicted power laws ``n^alpha`` through the width-64 point
    (:func:`lm_sims.feature_learning.predicted_exponents`): SGD SP (-1/2, +1/2, +1),
    Adam SP (0, +1, +3/2), muP (0, 0, 0) for both; the note names the exponents
    of the state shown (the dashed traces are named without them, since a
    trace's name is the same in every state). Knob: optimizer. Precomputing
    both states takes ~25 s on 2 cores (one compilation per width, optimizer and
    parameterisation).
    """
    check_key(key)
    key_data = _key_data(key)
    widths = np.asarray(_CC_WIDTHS, np.float64)

    def panel(optimizer):
        opt = _OPTIMIZERS[optimizer]
        curves, exponents = [], []
        for p, par in enumerate(("sp", "mup")):
            changes = _changes(key_data, par, opt)
            slopes = fl.predicted_exponents(par, optimizer=opt)
            exponents.append(", ".join(f"{s + 0.0:g}" for s in slopes))  # no -0
            for j, label in enumerate(_CC_LABELS):
                curves.append(
                    Curve(
                        widths,
                        changes[:, j],
                        label,
                        group=j,
                        col=p + 1,
                        showlegend=p == 0,
                        mode="lines+markers",
                        id=f"{par} {label}",
                    )
                )
                curves.append(
                    Curve(
                        widths,
                        changes[0, j] * (widths / widths[0]) ** slopes[j],
                        # a trace's name is fixed at the first knob state, so
                        # the exponents (which change with it) are in the note
                        f"{label} (theory)",
                        "theory",
                        group=j,
                        col=p + 1,
                        showlegend=False,
                        id=f"{par} {label} theory",
                    )
                )
        note = (
            f"Dashed ({optimizer}): n^alpha through the width-64 point, alpha for "
            f"{', '.join(_CC_LABELS)} = ({exponents[0]}) in SP, ({exponents[1]}) "
            "in μP."
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [Knob("optimizer", tuple(_OPTIMIZERS), default="SGD")],
        title="Coordinate check: change after one step vs width",
        x_title="width n",
        # one title per panel (no shared y axis: see transfer_explorer)
        y_title="RMS change after one step",
        log_x=True,
        log_y=True,
        cols=2,
        subplot_titles=("SP", "μP"),
        height=440,
    )
