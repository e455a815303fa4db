"""Explorers for Chapter 4, section 4.3: SGD noise, batch size and temperature.

* :func:`sgd_risk_explorer`: the excess risk of online minibatch SGD on noisy linear
  regression against time ``t = lr * steps``: simulation (mean and spread over runs),
  the exact second-moment recursion (:func:`lm_sims.sgd_noise.predict_risk`) and the
  small-lr stationary formula ``lr sigma^2 tr(H) / (4B)``.
* :func:`linear_scaling_explorer`: the stationary risk against ``lr / B`` for four
  batch sizes: the curves collapse at small ``lr`` (the linear scaling rule) and
  split where ``lr h_max`` is no longer small, up to each one's stability limit.
* :func:`critical_batch_explorer`: steps against examples to a target risk, with
  the fitted ``S = S_min (1 + B_crit / B)``, and the gradient noise scale along a
  large-batch run beside ``B_crit``.

Every simulation is computed once per setting and cached (``functools.lru_cache``).
"""

from __future__ import annotations

import functools
import math

import jax
import numpy as np

from lm_sims import sgd_noise as sn
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel, band

__all__ = [
    "critical_batch_explorer",
    "linear_scaling_explorer",
    "sgd_risk_explorer",
]

RISK_STEPS = 1000  # steps of the risk-vs-time runs
RISK_RUNS = 40  # runs per setting (the band)
SCALING_BATCHES = (1, 4, 16, 64)
# their colours: blue, orange, green, pink (not vermilion, 3, beside orange)
SCALING_GROUPS = (0, 1, 2, 4)
SCALING_RATIOS = (0.05, 0.1, 0.2, 0.8)  # lr / B of the simulated points
SCALING_RUNS = 32
CRIT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)  # theory
CRIT_SIM_BATCHES = (1, 4, 16, 64)  # simulated
CRIT_RUNS = 128
SCALING_RECORDS = 256  # records of a stationary-risk run (one program per B)
SCALING_RTOL = 0.01  # records averaged: the recursion within 1% of stationary
# Work limit of one stationary-risk run, in steps x (4 + B): a step costs about
# 4 + B units (per-step overhead and B samples per run; measured 106 us a step at
# B = 1 and 1.4 ms at B = 64 for 32 runs on two cores), so a run costs at most
# ~3 s: up to 26,214 steps at B = 1 and 1,927 at B = 64. Every point of the
# static state (alpha = 1) fits (the longest needs 21,952 steps at B = 1).
SCALING_MAX_WORK = 2**17
SLOW = "slow"  # _stationary_sim's answer for a run over SCALING_MAX_WORK
# Simulated only below this fraction of lr_max: nearer the limit the risk is
# heavy-tailed (its higher moments diverge before its mean; Gurbuzbalaban et al.
# 2021, arXiv:2006.04740) and a 32-run average misses the rare excursions that
# carry the mean (measured: -38% at B = 1, alpha = 2.5, 0.94 lr_max; +13% at
# alpha = 2, 0.80 lr_max; within 3.3% below 0.75 lr_max over alpha 0-3).
SCALING_EDGE = 0.75
CRIT_RECORDS = 1024  # records of a critical-batch run (one program per B)
# plot height that fits a legend of nine entries and the style key (~30 px each)
LEGEND_HEIGHT = 540
CUT = 10.0  # a diverging curve is cut where the risk exceeds CUT x R_0


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


def _cfg(noise, alpha, **kw) -> sn.Config:
    return sn.Config(noise=float(noise), alpha=float(alpha), **kw)


@functools.lru_cache(maxsize=64)
def _run(key_data, noise, alpha, lr, batch_size, steps, record_every, num_runs):
    """One cached simulation: (step, risk (records, runs), b_simple, b_noise,
    diverged_step) as float64 NumPy."""
    cfg = _cfg(
        noise,
        alpha,
        lr=float(lr),
        batch_size=int(batch_size),
        steps=int(steps),
        record_every=int(record_every),
        num_runs=int(num_runs),
    )
    traj = jax.device_get(sn.train(_key(key_data), cfg))
    return (
        np.asarray(traj.step, np.int64),
        np.asarray(traj.risk, np.float64),
        np.asarray(traj.b_simple, np.float64),
        np.asarray(traj.b_noise, np.float64),
        int(traj.diverged_step),
    )


def _cut(y: np.ndarray, limit: float) -> np.ndarray:
    """y up to (not including) its first point above ``limit`` or non-finite;
    NaN after (dropped by Curve)."""
    bad = ~(y <= limit)
    out = y.astype(float).copy()
    if bad.any():
        out[int(np.argmax(bad)) :] = np.nan
    return out


def sgd_risk_explorer(key: jax.Array) -> Explorer:
    """Excess risk of online minibatch SGD against time: simulation, the exact
    recursion and the small-lr stationary formula.

    Noisy linear regression in d = 50 dimensions with ``h_j ∝ j^-alpha`` (tr H = 1),
    teacher ``w* ~ N(0, I)``, ``w0 = 0``, fresh Gaussian batches of B examples
    each step (:func:`lm_sims.sgd_noise.train`), 1,000 steps, 40 runs. Solid: the
    mean risk over runs with a band of one standard deviation across runs. Dashed:
    the exact second-moment recursion (:func:`lm_sims.sgd_noise.predict_risk`) and
    the leading small-lr stationary risk ``lr sigma^2 tr(H) / (4B)``. Beyond the
    stability limit (:func:`lm_sims.sgd_noise.max_stable_lr`) the runs diverge: the
    curves are cut where the risk exceeds 10 R_0 and the note gives the step, and
    the step at which the theory diverges
    (:func:`lm_sims.sgd_noise.predict_divergence`).

    Knobs: lr (static 0.1, 0.5, 2; live 0.01-10); batch size B (1, 8, 64); noise
    sigma (static 0.5; live 0.05-2); spectrum exponent alpha (static 1; live
    0-3). The static grid (9 states) takes ~10 s on two cores (three programs).
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(lr, batch_size, noise, alpha):
        lr, b = float(lr), int(batch_size)
        cfg = _cfg(noise, alpha, lr=lr, batch_size=b)
        step, risk, _, _, dead = _run(
            key_data, float(noise), float(alpha), lr, b, RISK_STEPS, 10, RISK_RUNS
        )
        r0 = 0.5  # tr(H) / 2
        t = lr * step
        mean = risk.mean(axis=1)
        keep = mean <= CUT * r0  # NaN (a diverged run) compares False
        if not keep.all():  # cut at the first record above 10 R_0
            keep[int(np.argmin(keep)) :] = False
        theory = _cut(sn.predict_risk(cfg, step), CUT * r0)
        small = sn.stationary_risk_small_lr(cfg)
        if keep.sum() < 2:  # blew up by the first record: show the start only
            keep[:] = False
            keep[0] = True
        idx = np.flatnonzero(keep)
        idx = idx if idx.size >= 2 else np.repeat(idx, 2)
        curves = [
            band(
                t[idx],
                risk[idx].T,
                "simulation: mean over runs",
                group=0,
                id="simulation",
            ),
            Curve(
                t, theory, "exact recursion (theory)", "theory", group=0, id="recursion"
            ),
            Curve(
                t[[0, -1]],
                [small, small],
                "small-η formula (theory)",
                "theory",
                group=1,
                id="small-lr",
            ),
        ]
        notes = []
        lr_max = sn.max_stable_lr(cfg)
        div = sn.predict_divergence(cfg, int(step[-1]))
        if dead >= 0 or div.unstable or div.diverged or not keep.all():
            first = int(step[int(np.argmin(keep))]) if not keep.all() else dead
            notes.append(
                f"η = {lr:g} > η_max = {lr_max:.3g} (B = {b}): the runs diverge; "
                f"mean risk > 10 R₀ at step {first} (cut there)."
                if div.unstable
                else f"The mean risk exceeds 10 R₀ at step {first} (cut there)."
            )
            if div.diverged:
                notes.append(
                    f"Theory (×{div.growth:.3g}/step): diverges at step "
                    f"{div.diverged_step}."
                )
            elif div.unstable:
                notes.append(
                    f"Theory (×{div.growth:.3g}/step): diverges after step "
                    f"{int(step[-1])}."
                )
        else:
            exact = sn.stationary_risk(cfg)
            notes.append(
                f"Stationary risk {exact:.3g}; small-η formula "
                f"{100 * (1 - small / exact):.0f}% low. η_max = {lr_max:.3g}."
            )
        return Panel(curves, " ".join(notes))

    return Explorer(
        panel,
        [
            Knob(
                "lr",
                (0.1, 0.5, 2.0),
                low=0.01,
                high=10.0,
                log=True,
                default=0.5,
                label="learning rate η",
            ),
            Knob("batch_size", (1, 8, 64), default=1, label="batch size B"),
            Knob("noise", (0.5,), low=0.05, high=2.0, label="label noise σ"),
            Knob("alpha", (1.0,), low=0.0, high=3.0, label="spectrum exponent α"),
        ],
        title="Online SGD: excess risk against time, simulated and exact",
        x_title="t = η × steps",  # the book's symbol, as in the other chapters
        y_title="excess risk R = ½ eᵀHe",
        log_x=False,
        log_y=True,
    )


@functools.lru_cache(maxsize=64)
def _stationary_sim(key_data, noise, alpha, lr, b) -> float | str:
    """Simulated stationary risk: the mean over runs and over the records from the
    step on which the exact recursion stays within SCALING_RTOL of stationary
    (:func:`lm_sims.sgd_noise.relaxation_steps`). The run lasts 1.5 times that
    relaxation (at least 512 steps), so at least a third of its
    records are averaged; SCALING_RECORDS records whatever the length, so one
    program per batch size serves every lr, noise and alpha (the run length is
    traced in :func:`lm_sims.sgd_noise.train`). Returns, instead of a value, why
    there is none: the run diverged, or it would need more work than
    SCALING_MAX_WORK to relax (small lr h_min at large alpha), where a shorter
    run's average would still hold the initial transient: a biased value is not
    drawn."""
    cfg = _cfg(noise, alpha, lr=lr, batch_size=b)
    longest = SCALING_MAX_WORK // (4 + b)
    relax = sn.relaxation_steps(cfg, SCALING_RTOL, max_steps=longest / 1.5)
    if not np.isfinite(relax):
        return SLOW
    steps = max(1.5 * relax, 512)
    every = math.ceil(steps / SCALING_RECORDS)
    step, risk, _, _, dead = _run(
        key_data, noise, alpha, lr, b, every * SCALING_RECORDS, every, SCALING_RUNS
    )
    if dead >= 0:
        return f"at step {dead}"
    # from step `relax` on the exact recursion is within SCALING_RTOL of stationary
    return float(np.mean(risk[step >= relax]))


def linear_scaling_explorer(key: jax.Array) -> Explorer:
    """Stationary excess risk against ``lr / B`` for B = 1, 4, 16, 64: the linear
    scaling rule and where it breaks.

    Dashed: the exact stationary risk (:func:`lm_sims.sgd_noise.stationary_risk`)
    for each B, from small lr up to its stability limit (marked by a vertical
    dashed line at ``lr_max / B``), and the small-lr formula ``lr sigma^2 tr(H) /
    (4B)``, a function of ``lr / B`` alone. Markers: simulated stationary risk
    (32 runs, averaged over the records where the exact recursion is within 1% of
    stationary) at ``lr / B`` = 0.05, 0.1, 0.2, 0.8 where ``lr`` is below 0.75
    ``lr_max`` and the run (1.5 relaxation times) fits the live limit (26,214
    steps at B = 1, 1,927 at B = 64: about 3 s each); the note names the points
    not simulated and why (diverged, with the step; near the limit, where the
    risk is heavy-tailed, Gurbuzbalaban et al. 2021, arXiv:2006.04740, and a
    32-run mean is unreliable; or the relaxation a large alpha makes too slow to
    simulate live). At small ``lr / B`` all curves lie on the formula; the large
    batches leave it first, because at fixed ``lr / B`` their lr is larger, and
    the corrections grow with ``lr h_max``.

    Knobs: noise sigma (static 0.5; live 0-2); spectrum exponent alpha (static 1;
    live 0-3). The static state takes ~10 s on two cores.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(noise, alpha):
        noise, alpha = float(noise), float(alpha)
        curves, limits = [], []
        missing = {"slow": [], "near": [], "diverged": []}
        ratios = np.geomspace(1e-3, 2.0, 80)
        for g, b in zip(SCALING_GROUPS, SCALING_BATCHES, strict=True):
            cfg = _cfg(noise, alpha, batch_size=b)
            lr_max = sn.max_stable_lr(cfg)
            x = ratios[ratios * b < 0.995 * lr_max]
            x = np.append(x, 0.995 * lr_max / b)
            y = np.array([sn.stationary_risk(cfg, lr=float(r * b)) for r in x])
            curves.append(
                Curve(x, y, f"B = {b} (theory)", "theory", group=g, id=f"exact {b}")
            )
            limits.append(lr_max / b)
            sim_x, sim_y = [], []
            for r in SCALING_RATIOS:
                if SCALING_EDGE * lr_max <= r * b < lr_max:
                    missing["near"].append(f"B = {b}, η/B = {r:g}")
                elif r * b < lr_max:
                    val = _stationary_sim(key_data, noise, alpha, float(r * b), b)
                    if isinstance(val, str):
                        kind = "slow" if val == SLOW else "diverged"
                        detail = "" if val == SLOW else f" ({val})"
                        missing[kind].append(f"B = {b}, η/B = {r:g}{detail}")
                    else:
                        sim_x.append(r)
                        sim_y.append(val)
            curves.append(
                Curve(
                    sim_x if len(sim_x) else [np.nan],
                    sim_y if len(sim_y) else [np.nan],
                    f"B = {b} (simulated)",
                    group=g,
                    mode="markers",
                    showlegend=False,
                    id=f"simulated {b}",
                )
            )
        small = 0.25 * ratios * noise**2  # lr sigma^2 tr(H) / (4B), tr H = 1
        curves.append(
            Curve(
                ratios,
                small,
                "small-η formula (theory)",
                "theory",
                # grey: sky blue (5) was hard to tell from B = 1's blue
                group=7,
                id="small",
            )
        )
        top = float(np.nanmax([c.y.max() for c in curves if c.y.size]))
        bottom = float(small[0])
        # each batch size's stability limit in its colour (the note lists them)
        for g, b, lim in zip(SCALING_GROUPS, SCALING_BATCHES, limits, strict=True):
            curves.append(
                Curve(
                    [lim, lim],
                    [bottom, top],
                    f"η_max/B, B = {b} (theory)",
                    "theory",
                    group=g,
                    showlegend=False,
                    id=f"limit {b}",
                )
            )
        h_max = sn.spectrum(50, alpha)[0]
        note = (
            "η_max/B (vertical lines): "
            + ", ".join(f"{v:.3g}" for v in limits)
            + f" for B = {', '.join(str(b) for b in SCALING_BATCHES)}. "
            f"The rule needs η·h_max ≪ 1 (h_max = {h_max:.3g})."
        )
        why = {
            "slow": "relaxes too slowly for a live run",
            "near": "near the stability limit, where the risk is heavy-tailed",
            "diverged": "diverged",
        }
        for kind, points in missing.items():
            if points:
                note += f" Not simulated ({why[kind]}): {'; '.join(points)}."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("noise", (0.5,), low=0.05, high=2.0, label="label noise σ"),
            Knob("alpha", (1.0,), low=0.0, high=3.0, label="spectrum exponent α"),
        ],
        title="The linear scaling rule: stationary risk depends on η/B at small η",
        x_title="η/B",
        y_title="stationary excess risk",
        log_x=True,
        log_y=True,
    )


@functools.lru_cache(maxsize=16)
def _critical(noise, alpha, target):
    return sn.critical_batch(_cfg(noise, alpha), target, CRIT_BATCHES)


def critical_batch_explorer(key: jax.Array) -> Explorer:
    """Steps against examples to a target risk (the Pareto front), with the critical
    batch size, and the gradient noise scale beside it.

    Left: for each batch size B, the fewest steps S(B) to bring the expected excess
    risk to the target with a tuned constant lr
    (:func:`lm_sims.sgd_noise.critical_batch`, exact recursion; markers joined,
    dashed) against the examples
    E = B S; simulated S(B) at the tuned lr for B = 1, 4, 16, 64 (first step where
    the mean over 128 runs is below the target; solid markers); the fitted
    ``S = S_min (1 + B_crit/B)``, ``E = E_min (1 + B/B_crit)`` (dashed line), and
    S_min and E_min as asymptotes; the fit uses B <= 64 only, so B_crit (about 94
    at the target 0.02) is an extrapolation and B = 128-1024 fall 8-21% above it.
    Right: the simple noise scale B_simple and the
    Hessian-weighted B_noise along the B = 64 run at its tuned lr (simulated,
    solid; predicted, dashed) with B_crit as a horizontal line.

    Knobs: target risk (0.05, 0.02, 0.01; 10%, 4%, 2% of R_0); noise sigma
    (static 0.5; live 0.1-2); alpha (static 1; live 0-3). The static grid (3
    states) takes ~20 s on two cores.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(target, noise, alpha):
        target, noise, alpha = float(target), float(noise), float(alpha)
        try:
            cb = _critical(noise, alpha, target)
        except ValueError as err:
            return Panel(
                [Curve([1, 2], [np.nan, np.nan], "unreachable", id="theory")],
                f"The target cannot be reached: {err}",
            )
        bs = cb.batch_sizes
        curves = [
            Curve(
                cb.examples,
                cb.steps,
                "recursion, tuned η (theory)",
                "theory",
                group=0,
                mode="lines+markers",
                id="theory",
            ),
        ]
        sim_s, sim_e = [], []
        for b in CRIT_SIM_BATCHES:
            i = int(np.flatnonzero(bs == b)[0])
            # CRIT_RECORDS records over 1.3 S(B) steps: one program per B for
            # every target, noise and alpha; S(B) resolved to 0.13%
            every = max(1, math.ceil(1.3 * cb.steps[i] / CRIT_RECORDS))
            steps = every * CRIT_RECORDS
            step, risk, bsimple, bnoise, _ = _run(
                key_data, noise, alpha, float(cb.lr[i]), int(b), steps, every, CRIT_RUNS
            )
            mean = risk.mean(axis=1)
            hit = np.flatnonzero(mean <= target)
            if hit.size:
                sim_s.append(float(step[hit[0]]))
                sim_e.append(float(b * step[hit[0]]))
            if b == CRIT_SIM_BATCHES[-1]:
                noise_run = (step, bsimple, bnoise, cb.lr[i], steps)
        curves.append(
            Curve(
                sim_e,
                sim_s,
                "simulated (128 runs)",
                group=0,
                mode="markers",
                id="simulated",
            )
        )
        bb = np.geomspace(0.5, 4096, 80)
        fit_s = cb.s_min * (1 + cb.b_crit / bb)
        curves += [
            Curve(
                bb * fit_s,
                fit_s,
                "fit S_min (1 + B_crit/B)",
                "theory",
                group=1,
                id="fit",
            ),
            Curve(
                [cb.e_min * 0.5, cb.examples.max() * 2],
                [cb.s_min, cb.s_min],
                "S_min, E_min (fit)",
                "theory",
                group=7,
                id="s_min",
            ),
            Curve(
                [cb.e_min, cb.e_min],
                [cb.s_min * 0.5, cb.steps.max() * 2],
                "E_min",
                "theory",
                group=7,
                showlegend=False,
                id="e_min",
            ),
        ]
        step, bsimple, bnoise, lr64, steps = noise_run
        b64 = CRIT_SIM_BATCHES[-1]
        pred = sn.predict_noise_scale(
            _cfg(noise, alpha, lr=float(lr64), batch_size=b64), step
        )
        i64 = int(np.flatnonzero(bs == b64)[0])
        reach = step <= cb.steps[i64]
        curves += [
            Curve(
                step[reach], bsimple[reach], "B_simple", group=2, col=2, id="b_simple"
            ),
            Curve(
                step[reach],
                pred.b_simple[reach],
                "B_simple (theory)",
                "theory",
                group=2,
                col=2,
                showlegend=False,
                id="b_simple theory",
            ),
            # pink: group 3 (vermilion) was hard to tell from B_crit's orange
            Curve(step[reach], bnoise[reach], "B_noise", group=4, col=2, id="b_noise"),
            Curve(
                step[reach],
                pred.b_noise[reach],
                "B_noise (theory)",
                "theory",
                group=4,
                col=2,
                showlegend=False,
                id="b_noise theory",
            ),
            Curve(
                [0, cb.steps[i64]],
                [cb.b_crit, cb.b_crit],
                "B_crit (fit)",
                "theory",
                group=1,
                col=2,
                id="b_crit",
            ),
        ]
        at_target = float(pred.b_simple[reach][-1])
        note = (
            f"B_crit = {cb.b_crit:.3g} (fit, B ≤ 64); B_simple at the target "
            f"{at_target:.3g} (B = 64 run); S_min = {cb.s_min:.3g} steps."
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob(
                "target", (0.05, 0.02, 0.01), default=0.02, label="target excess risk"
            ),
            Knob("noise", (0.5,), low=0.1, high=2.0, label="label noise σ"),
            Knob("alpha", (1.0,), low=0.0, high=3.0, label="spectrum exponent α"),
        ],
        title="Steps against examples to a target risk, and the critical batch size",
        x_title=["examples E = B × steps", "step (B = 64, tuned η)"],
        y_title=["steps S", "noise scale (examples)"],
        log_x=[True, False],
        log_y=[True, True],
        cols=2,
        subplot_titles=["Pareto front", "gradient noise scale"],
        # room for the legend's nine entries beside the plots (at the default
        # 420 px the last ones were cut off behind a scroll bar)
        height=LEGEND_HEIGHT,
    )
