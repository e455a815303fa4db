"""The book's quantitative predictions, each checked against its simulation.

A registry of the predictions the chapters state with a number: the theory's value
(or exponent), what a simulation of the same model gives, their difference, and the
tolerance that the test suite holds the pair to. Every entry computes its row from
the same ``lm_sims`` calls, sizes, keys and tolerance as the test it names; the tests
call :func:`run` and assert :attr:`Result.passed`, so the book's scorecard page and
the test suite cannot drift apart. :func:`scorecard` runs the entries the book's
scorecard page shows (measured ~1 minute with a warm compilation cache, ~2 minutes
cold, on two CPU cores in float32); costlier entries carry a
:attr:`Prediction.left_out` reason, and :data:`LEFT_OUT` lists predictions that only
their tests compute.

A prediction whose computation raises or gives a non-finite number is a failed row
(``passed=False``, the reason in :attr:`Result.note`), never an exception from
:func:`scorecard`: a failing prediction shows on the page, it does not break it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import numpy as np

__all__ = [
    "LEFT_OUT",
    "PREDICTIONS",
    "LeftOut",
    "Outcome",
    "Prediction",
    "Result",
    "run",
    "scorecard",
]


class Outcome(NamedTuple):
    """What a prediction's computation returns (see :class:`Prediction`).

    Attributes:
        theory: the theory's value or exponent (float), or a short string.
        simulated: the simulation's value (float), or a short string.
        error: the distance between them, in the units the tolerance states.
        passed: whether the test's condition holds.
        note: extra context for the row (the other numbers the test checks).
    """

    theory: float | str
    simulated: float | str
    error: float
    passed: bool
    note: str = ""


class Prediction(NamedTuple):
    """One entry of the registry (:data:`PREDICTIONS`).

    Attributes:
        id: a short stable name, e.g. ``"saxe-euler-order"``.
        section: the page path without extension, e.g.
            ``"chapters/01_solvable/01_deep_linear"``.
        title: the section's title.
        statement: the prediction in one line.
        tolerance: the test's condition in one line, in the units of ``error``.
        why: one line on where the error comes from (why this tolerance).
        test: the pytest node id of the test that holds the prediction.
        compute: a function of no arguments returning an :class:`Outcome`.
        left_out: empty if :func:`scorecard` runs the entry by default; else why
            the book's scorecard leaves it out (its cost), though :func:`run`
            and its test still compute it.
    """

    id: str
    section: str
    title: str
    statement: str
    tolerance: str
    why: str
    test: str
    compute: Callable[[], Outcome]
    left_out: str = ""


class Result(NamedTuple):
    """One row of the scorecard (:func:`run`, :func:`scorecard`).

    Attributes:
        id: the prediction's id.
        section: its page path (``chapters/.../page`` without extension).
        statement: the prediction in one line.
        theory: the theory's value or exponent (float), or a short string.
        simulated: the simulation's value (float), or a short string; ``"-"`` when
            the computation failed.
        error: distance between them in the units of ``tolerance`` (``nan`` when
            the computation failed).
        tolerance: the condition the test holds, in one line.
        passed: True if the condition holds.
        seconds: wall-clock time of the computation (s).
        note: extra numbers the test checks, or why the computation failed.
    """

    id: str
    section: str
    statement: str
    theory: float | str
    simulated: float | str
    error: float
    tolerance: str
    passed: bool
    seconds: float
    note: str = ""


class LeftOut(NamedTuple):
    """A prediction the tests hold but the scorecard does not run (too slow).

    Attributes:
        section: its page path.
        statement: the prediction in one line.
        test: the pytest node id of the test that holds it.
        reason: why it is not in the scorecard (its cost).
    """

    section: str
    statement: str
    test: str
    reason: str


def _cached(fn):
    """Cache a computation per arguments and float precision (x64 on or off), so
    two rows (or a row and its test) that need the same runs compute them once."""

    @functools.cache
    def inner(x64, args, kwargs):
        return fn(*args, **dict(kwargs))

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        x64 = bool(jax.config.jax_enable_x64)
        return inner(x64, args, tuple(sorted(kwargs.items())))

    wrapper.cache_clear = inner.cache_clear
    return wrapper


def _band(x: float, low: float, high: float) -> bool:
    return bool(low <= x <= high)


def _exponents_outcome(predicted, fitted, what: str, tol: float = 0.15) -> Outcome:
    """Width exponents fitted against predicted, passing when every one is within
    ``tol`` (the coordinate checks of 2.4 and 4.1)."""
    err = float(np.max(np.abs(np.asarray(fitted) - np.asarray(predicted))))
    return Outcome(
        ", ".join(f"{v:+.2f}" for v in predicted),
        ", ".join(f"{v:+.2f}" for v in fitted),
        err,
        err <= tol,
        what,
    )


def _slope(x, y) -> float:
    from lm_sims.fitting import power_law_fit

    return float(power_law_fit(np.asarray(x, np.float64), np.asarray(y)).exponent)


# --- 1.1 deep linear networks -------------------------------------------------------

_DEEP_LINEAR = ("chapters/01_solvable/01_deep_linear", "Deep linear networks")


@_cached
def _aligned_error(lr: float, n_layers: int = 2) -> float:
    """``max_t |u_sim - u_theory| / s_1`` of an aligned deep linear run at ``t = 14``
    (key 0, init scale 1e-3, 200 records): Saxe et al.'s solution against GD."""
    from lm_sims import deep_linear

    steps = int(round(14.0 / lr))
    cfg = deep_linear.Config(
        steps=steps,
        record_every=steps // 200,
        lr=lr,
        init_scale=1e-3,
        n_layers=n_layers,
    )
    traj = deep_linear.train(jax.random.key(0), cfg)
    theory = deep_linear.predict(
        traj.singular_values, traj.u0, traj.t, n_layers=n_layers
    )
    err = np.max(np.abs(np.asarray(traj.mode_strengths - theory)))
    return float(err / float(traj.singular_values[0]))


def _saxe_error():
    e1 = _aligned_error(1e-3)
    return Outcome(0.0, e1, e1, e1 <= 0.01)


def _saxe_order():
    e1, e2 = _aligned_error(1e-3), _aligned_error(5e-4)
    ratio = e1 / e2
    note = f"error {e1:.2e} at lr 1e-3, {e2:.2e} at lr 5e-4"
    return Outcome(2.0, ratio, abs(ratio - 2.0), _band(ratio, 1.7, 2.3), note)


# --- 1.2 eigenlearning ----------------------------------------------------------------

_EIGEN = (
    "chapters/01_solvable/02_eigenlearning",
    "Kernel regression and eigenlearning",
)


@_cached
def _eigenlearning_trials(n, num_modes, ridge, noise, num_seeds):
    """(cfg, the ``num_seeds`` KRR trials' Fit as NumPy arrays) at key 0."""
    from lm_sims import eigenlearning as el

    cfg = el.Config(n=n, num_modes=num_modes, ridge=ridge, noise=noise)
    fits = el.trials(jax.random.key(0), cfg, num_seeds)
    return cfg, jax.tree_util.tree_map(np.asarray, fits)


def _eigen_mse():
    from lm_sims import eigenlearning as el

    cfg, fits = _eigenlearning_trials(64, 512, 0.0, 0.0, 400)
    test = fits.test_mse
    pred = float(el.predict(cfg).test_mse)
    sem = float(test.std(ddof=1) / np.sqrt(test.size) / test.mean())
    ratio = float(test.mean()) / pred
    note = f"ratio {ratio:.3f}, relative s.e.m. {sem:.3f} (must be < 0.015)"
    ok = sem < 0.015 and _band(ratio, 0.95, 1.05)
    return Outcome(pred, float(test.mean()), abs(ratio - 1), ok, note)


# --- 1.3 conservation -----------------------------------------------------------------

_CONSERVATION = (
    "chapters/01_solvable/03_conservation",
    "Conservation laws and balancedness",
)


@_cached
def _balancedness_drifts() -> tuple[float, float]:
    """Balancedness drift at t = 8 of random-init deep linear runs at lr 0.02, 0.01
    (key 3, init scale 0.1)."""
    from lm_sims import deep_linear

    drifts = []
    for lr in (0.02, 0.01):
        steps = int(round(8.0 / lr))
        cfg = deep_linear.Config(
            init="random", init_scale=0.1, lr=lr, steps=steps, record_every=steps // 4
        )
        traj = deep_linear.train(jax.random.key(3), cfg)
        drifts.append(float(traj.balancedness_drift[-1, 0]))
    return tuple(drifts)


def _balancedness():
    d1, d2 = _balancedness_drifts()
    ratio = d1 / d2
    note = f"drift {d1:.2e} at lr 0.02, {d2:.2e} at lr 0.01"
    return Outcome(
        2.0, ratio, abs(ratio - 2.0), d2 > 0 and abs(ratio - 2.0) <= 0.2, note
    )


# --- 2.1 NNGP -------------------------------------------------------------------------

_NNGP = ("chapters/02_limits/01_nngp", "Infinite width at initialisation: the NNGP")


@_cached
def _nngp_covariance(activation, parameterization, sigma_w2, sigma_b2):
    """(empirical mean, its standard error, theory) of the 5 x 5 output covariance
    over 200 width-512 depth-2 networks with 64 outputs (key 0)."""
    from lm_sims import kernels, mlp

    d, num_inits = 3, 200
    x = np.random.default_rng(0).normal(size=(5, d))
    cfg = mlp.Config(
        width=512,
        depth=2,
        d_in=d,
        d_out=64,
        activation=activation,
        parameterization=parameterization,
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
    )
    keys = jax.random.split(jax.random.key(0), num_inits)
    out = jax.jit(jax.vmap(lambda k: mlp.apply(mlp.init(k, cfg), x, cfg)))(keys)
    out = np.asarray(out, np.float64)  # (M, 5, 64)
    z = np.einsum("mio,mjo->mij", out, out) / cfg.d_out
    mean, stderr = z.mean(0), z.std(0, ddof=1) / math.sqrt(num_inits)
    return x, cfg, mean, stderr, np.asarray(kernels.nngp(x, x, cfg))


def _nngp():
    _, _, mean, stderr, theory = _nngp_covariance("relu", "ntk", 2.0, 0.1)
    z = np.abs(mean - theory) / stderr
    i, j = np.unravel_index(np.argmax(z), z.shape)
    note = f"worst entry ({i}, {j}); theory and simulation shown there"
    return Outcome(
        float(theory[i, j]), float(mean[i, j]), float(z.max()), z.max() < 4.0, note
    )


# --- 2.2 NTK --------------------------------------------------------------------------

_NTK = ("chapters/02_limits/02_ntk", "The lazy limit: the neural tangent kernel")


@_cached
def _entk_rms_errors(widths=(64, 256, 1024, 4096), num_seeds=64):
    """RMS over ``num_seeds`` initialisations of ``|Theta_emp - Theta| / |Theta|``
    for a two-layer ReLU net (d = 4, 8 inputs, seeds ``key(width)``)."""
    from lm_sims import kernels, mlp

    d = 4
    x = np.random.default_rng(1).normal(size=(8, d))
    rms = []
    for width in widths:
        cfg = mlp.Config(width=width, depth=1, d_in=d, sigma_w2=2.0, sigma_b2=0.1)
        theory = np.asarray(kernels.ntk(x, x, cfg))

        def one(key, cfg=cfg):
            return mlp.empirical_ntk(mlp.init(key, cfg), x, None, cfg)

        keys = jax.random.split(jax.random.key(width), num_seeds)
        emp = np.asarray(jax.lax.map(one, keys), np.float64)
        err = np.linalg.norm(emp - theory, axis=(1, 2)) / np.linalg.norm(theory)
        rms.append(float(np.sqrt(np.mean(err**2))))
    return np.asarray(widths), np.asarray(rms)


def _ntk_entk():
    widths, rms = _entk_rms_errors()
    slope = _slope(widths, rms)
    note = f"relative error {rms[-1]:.3f} at width {widths[-1]} (must be <= 0.05)"
    ok = abs(slope + 0.5) <= 0.1 and rms[-1] <= 5e-2
    return Outcome(-0.5, slope, abs(slope + 0.5), ok, note)


# --- 2.3 lazy and rich ----------------------------------------------------------------

_LAZY = ("chapters/02_limits/03_lazy_rich", "Lazy and rich training")
_LAZY_RICH_ALPHAS = (1.0, 3.0, 10.0, 30.0)


@_cached
def _lazy_rich_changes(num_seeds: int = 3) -> np.ndarray:
    """Seed-mean final relative parameter change at output scales 1, 3, 10, 30
    (default Config, keys 0..num_seeds-1)."""
    from lm_sims import lazy_rich

    cfg = lazy_rich.Config()
    means = []
    for alpha in _LAZY_RICH_ALPHAS:
        runs = [
            float(
                lazy_rich.train(
                    jax.random.key(s), cfg.replace(alpha=alpha)
                ).relative_change[-1]
            )
            for s in range(num_seeds)
        ]
        means.append(np.mean(runs))
    return np.asarray(means)


def _lazy_rich():
    means = _lazy_rich_changes(3)
    slope = _slope(_LAZY_RICH_ALPHAS, means)
    flat = 30.0 * means[3] / (10.0 * means[2])
    note = f"alpha x change at 30 over at 10: {flat:.3f} (must be within 0.1 of 1)"
    ok = _band(slope, -1.2, -0.7) and abs(flat - 1.0) < 0.1
    return Outcome(-1.0, slope, abs(slope + 1.0), ok, note)


# --- 2.4 muP coordinate check ---------------------------------------------------------

_MUP = ("chapters/02_limits/04_mup", "Two infinite-width limits: NTK and muP")
_COORD_WIDTHS = (64, 256, 1024)


@_cached
def _coordinate_exponents(parameterization: str) -> np.ndarray:
    """Fitted width exponents of the one-step change of (hidden 1, hidden 2,
    output), widths 64-1024, 8 seeds, lr 1e-3, key 0."""
    from lm_sims import feature_learning as fl

    changes = fl.one_step_changes(
        jax.random.key(0), parameterization, 1e-3, widths=_COORD_WIDTHS, num_seeds=8
    )
    changes = np.asarray(changes, np.float64)
    return np.array([_slope(_COORD_WIDTHS, c) for c in changes.T])


def _coord(parameterization):
    def compute():
        from lm_sims import feature_learning as fl

        fitted = _coordinate_exponents(parameterization)
        predicted = np.asarray(fl.predicted_exponents(parameterization), np.float64)
        return _exponents_outcome(
            predicted, fitted, "exponents of hidden layer 1, hidden layer 2, output"
        )

    return compute


# --- 3.1 scaling laws -----------------------------------------------------------------

_SCALING = ("chapters/03_laws/01_scaling_laws", "Scaling laws from power-law spectra")


@_cached
def _scaling_time_slope(r: float) -> float:
    """Fitted slope of the population test loss against t = 10..1000 (GD at lr =
    1/lambda_1 on 2000 modes, alpha 1.5, key 0)."""
    from lm_sims import scaling as sc

    cfg = sc.Config(num_modes=2000, n=None, alpha=1.5, r=r, steps=1000, record_every=10)
    traj = sc.train(jax.random.key(0), cfg)
    t, e = np.asarray(traj.t, float), np.asarray(traj.test_mse, float)
    keep = t >= 10
    return _slope(t[keep], e[keep])


def _scaling_time():
    r = 2.0
    slope = _scaling_time_slope(r)
    theory = -(r - 1) / 1.5
    return Outcome(theory, slope, abs(slope - theory), abs(slope - theory) <= 0.1)


# --- 3.2 edge of stability ------------------------------------------------------------

_EOS = ("chapters/03_laws/02_edge_of_stability", "The edge of stability")


@_cached
def _edge_run(k: float, activation: str = "tanh", key_seed: int = 0):
    """(trajectory, lr, EdgeSummary) of the default network at ``lr = 2 / (k S0)``
    (late phase: steps 1000-2000)."""
    from lm_sims import edge_of_stability as eos

    key = jax.random.key(key_seed)
    cfg = eos.Config().replace(activation=activation)
    lr = eos.lr_for_ratio(key, cfg, k)
    traj = eos.train(key, cfg.replace(lr=lr))
    return traj, lr, eos.edge_summary(traj, lr, 1000)


def _eos():
    traj, _, s = _edge_run(4, "tanh", 0)
    diverged = bool(traj.diverged)
    note = (
        f"first crossing at step {s.first_crossing}; late samples in "
        f"[{s.late_min:.3f}, {s.late_max:.3f}] (must be in [0.93, 1.10])"
    )
    ok = (
        not diverged
        and 0 < s.first_crossing < 700
        and _band(s.late_mean, 0.97, 1.06)
        and 0.93 <= s.late_min
        and s.late_max <= 1.10
    )
    return Outcome(1.0, s.late_mean, abs(s.late_mean - 1.0), ok, note)


# --- 3.3 neural collapse and the feature ansatz ---------------------------------------

_COLLAPSE = (
    "chapters/03_laws/03_collapse_and_features",
    "Neural collapse and the neural feature ansatz",
)


@_cached
def _collapse_run(name: str, seed: int = 0):
    """Metrics of the neural-collapse run ``"etf"`` or ``"digits"`` at ``key(seed)``."""
    from lm_sims import neural_collapse as nc

    cfg = {"etf": nc.ETF_CONFIG, "digits": nc.DIGITS_CONFIG}[name]
    tr = jax.device_get(nc.train(jax.random.key(seed), cfg))
    return tr


def _etf():
    from lm_sims import neural_collapse as nc

    devs, cvs, ok = [], [], True
    for seed in range(3):
        tr = _collapse_run("etf", seed)
        m = tr.metrics
        devs.append(float(m.cosine_deviation[-1]))
        cvs.append(float(m.norm_cv[-1]))
        ok = ok and not tr.diverged and devs[-1] < 0.05 and cvs[-1] < 0.1
    worst = max(devs)
    note = f"keys 0-2; norm variation at most {max(cvs):.3f} (must be < 0.1)"
    return Outcome(
        nc.etf_cosine(4), f"every cosine within {worst:.3f}", worst, ok, note
    )


@_cached
def _feature_ansatz_run(seed: int = 0):
    """The default feature-ansatz run at ``key(seed)``."""
    from lm_sims import feature_ansatz as fa

    return jax.device_get(fa.train(jax.random.key(seed), fa.Config()))


def _nfa():
    corr, ok = [], True
    for seed in range(3):
        tr = _feature_ansatz_run(seed)
        c0, c1 = float(tr.corr_sqrt[0]), float(tr.corr_sqrt[-1])
        corr.append(c1)
        ok = ok and not tr.diverged and c1 >= 0.85 and c1 >= c0 + 0.15
        ok = ok and float(tr.corr_agop[-1]) >= 0.8
    worst = min(corr)
    note = "keys 0-2, worst shown; each >= 0.15 above its value at init"
    return Outcome(1.0, worst, 1.0 - worst, ok, note)


# --- 4.1 muP transfer -----------------------------------------------------------------

_TRANSFER = (
    "chapters/04_hyperparameters/01_mup_transfer",
    "muP and learning-rate transfer",
)


def _transfer():
    from lm_sims import transfer

    opt = transfer.optimum(transfer.reference_sweep())
    mup_spread = float(np.max(opt.refined[1]) - np.min(opt.refined[1]))
    argmin_spread = int(np.max(opt.argmin[1]) - np.min(opt.argmin[1]))
    sp_drift = float(opt.refined[0, 0] - opt.refined[0, -1])
    note = (
        f"muP grid-argmin spread {argmin_spread} (must be <= 1); "
        f"SP optimum drifts {sp_drift:.2f} octaves (must be >= 1.5)"
    )
    ok = (
        argmin_spread <= 1
        and mup_spread <= 1.2
        and int(opt.argmin[0, 0] - opt.argmin[0, -1]) >= 2
        and sp_drift >= 1.5
        and bool(np.all(np.diff(opt.best_loss[1]) < 0))
    )
    return Outcome(0.0, mup_spread, mup_spread, ok, note)


# --- 4.2 central flow -----------------------------------------------------------------

_CENTRAL = (
    "chapters/04_hyperparameters/02_central_flow",
    "The learning rate as implicit curvature regularisation: the central flow",
)
_TOY_START, _TOY_LR = (2.5, 0.1), 0.4


@_cached
def _toy_flows():
    """Gradient descent, the central flow and gradient flow on the two-parameter toy
    from (2.5, 0.1) at lr 0.4, 150 steps."""
    from lm_sims import central_flow as cf

    return cf.toy_flows(*_TOY_START, _TOY_LR, 150)


def _toy_cf():
    f = _toy_flows()
    s = np.asarray(f.cf_sharpness[3:], np.float64) * _TOY_LR / 2
    err = float(np.max(np.abs(s - 1.0)))
    return Outcome(2 / _TOY_LR, float(np.asarray(f.cf_sharpness)[-1]), err, err <= 1e-4)


def _toy_gd():
    from lm_sims import central_flow as cf

    f = _toy_flows()
    s_end = float(f.gd_sharpness[-1])
    s_gf = cf.predict_toy_gradient_flow_sharpness(*_TOY_START)
    ok = not f.diverged and float(f.gd_loss[-1]) < 1e-8 and s_end <= 2 / _TOY_LR
    note = f"gradient flow would land at {s_gf:.3f}; GD loss {float(f.gd_loss[-1]):.1e}"
    return Outcome(
        f"<= {2 / _TOY_LR:g}", s_end, max(0.0, s_end - 2 / _TOY_LR), ok, note
    )


# --- 4.3 SGD noise --------------------------------------------------------------------

_SGD = (
    "chapters/04_hyperparameters/03_sgd_noise",
    "SGD noise: learning rate, batch size and temperature",
)


def _sgd_window_mean(traj, cfg, tol=0.002, min_records=100):
    from lm_sims import sgd_noise as sn

    step = np.asarray(traj.step)
    theory = sn.predict_risk(cfg, step)
    stat = sn.stationary_risk(cfg)
    sel = np.abs(theory / stat - 1) < tol
    if sel.sum() < min_records:
        raise ValueError("run too short to reach stationarity")
    return float(np.mean(np.asarray(traj.risk, np.float64)[sel])), stat


@_cached
def _sgd_stationary_risk(lr: float, batch_size: int) -> tuple[float, float]:
    """(simulated, exact) stationary risk: 256 runs of 6,000 steps (key 0), averaged
    over the records where the recursion's transient is below 0.2%."""
    from lm_sims import sgd_noise as sn

    cfg = sn.Config().replace(lr=lr, batch_size=batch_size, steps=6000, record_every=10)
    return _sgd_window_mean(sn.train(jax.random.key(0), cfg), cfg)


def _sgd_stationary():
    sim, stat = _sgd_stationary_risk(0.5, 1)
    err = abs(sim / stat - 1)
    return Outcome(float(stat), sim, err, err <= 0.03)


def _sgd_critical_batch():
    from lm_sims import sgd_noise as sn

    cb = sn.critical_batch(sn.Config(), 0.02, (1, 2, 4, 8, 16, 32, 64))
    fit = cb.s_min * (1 + cb.b_crit / cb.batch_sizes)
    err = float(np.max(np.abs(cb.steps / fit - 1.0)))
    note = f"S_min {cb.s_min:.1f} steps, B_crit {cb.b_crit:.0f}; recursion, not sampled"
    lr_ratio = float(cb.lr[1] / cb.lr[0])
    ok = err <= 0.05 and 10 < cb.s_min < 15 and 80 < cb.b_crit < 110
    ok = ok and abs(lr_ratio / 2.0 - 1) <= 0.05
    return Outcome("S_min (1 + B_crit / B)", "exact recursion", err, ok, note)


# --- 5.1 representations --------------------------------------------------------------

_REPS = ("chapters/05_universality/01_representations", "Representations converge")


def _held_out_digits() -> np.ndarray:
    """The 500 held-out digits of Section 5.1's random-feature comparisons."""
    from lm_sims import representations as rep

    return np.asarray(rep.digits_split(jax.random.fold_in(jax.random.key(0), 1))[1].x)


@_cached
def _cka_deficit():
    """(held-out digits, measured 1 - CKA at N = 1024 over 4 seed pairs, beta/N)."""
    from lm_sims import representations as rep

    key = jax.random.key(0)
    held_out = _held_out_digits()
    measured = rep.random_feature_alignment(
        jax.random.fold_in(key, 2), held_out, [1024], num_pairs=4
    )
    predicted = float(
        rep.predict_cka_deficit(jax.random.fold_in(key, 3), held_out, [1024])[0]
    )
    return held_out, float(np.mean(1 - np.asarray(measured.cka))), predicted


def _cka():
    _, sim, predicted = _cka_deficit()
    ratio = sim / predicted
    return Outcome(
        predicted, sim, abs(ratio - 1), 0.8 < ratio < 1.2, f"ratio {ratio:.3f}"
    )


# --- 5.2 natural data -----------------------------------------------------------------

_NATURAL = (
    "chapters/05_universality/02_natural_data",
    "Universal statistics of natural data",
)


def _zipf():
    from lm_sims import natural_data as nd

    counts = nd.word_counts(nd.bundled_text())
    exponent = -float(nd.rank_frequency_fit(counts, nd.ZIPF_RANKS).exponent)
    return Outcome(1.0, exponent, abs(exponent - 1.0), _band(exponent, 0.8, 1.2))


def _hea_eigenvalues():
    from lm_sims import natural_data as nd

    g = nd.power_law_gammas(24, 0.5)
    x, _ = nd.gaussian_data(jax.random.key(1), g, 2000)
    ratio = nd.kernel_eigenvalues(x, 2.0, 20) / nd.hea_spectrum(g, 2.0, 20)[0]
    ratio = np.asarray(ratio, np.float64)
    worst = float(ratio[np.argmax(np.abs(ratio - 1))])
    ok = 1.0 / np.sum(g**2) >= 9.0 and bool(np.all((ratio >= 0.85) & (ratio <= 1.1)))
    note = f"top-20 ratios in [{ratio.min():.3f}, {ratio.max():.3f}]"
    return Outcome(1.0, worst, abs(worst - 1), ok, note)


# --- 5.3 learning order ---------------------------------------------------------------

_ORDER = (
    "chapters/05_universality/03_learning_order",
    "The same learning order across architectures",
)


@_cached
def _compare_orders(seed: int):
    """:func:`lm_sims.learning_order.compare_orders` on the default Config."""
    from lm_sims import learning_order as lo

    return lo.compare_orders(jax.random.key(seed), lo.Config())


def _learning_order():
    res = _compare_orders(0)
    rho = np.asarray(res.spearman, np.float64)
    times = np.asarray(res.times)
    ok = bool(np.all(rho >= 0.8)) and bool(np.all(times[:, 3] < times[:, 4]))
    ok = ok and bool(np.all(np.isfinite(times[[0, 2, 3]])))
    note = ", ".join(
        f"{a} {r:.2f}" for a, r in zip(res.architectures, rho, strict=True)
    )
    return Outcome(1.0, float(rho.min()), float(1 - rho.min()), ok, note)


# --- further rows, by section ---------------------------------------------------------


def _saxe_deep():
    e1, e2 = _aligned_error(1e-3, 3), _aligned_error(5e-4, 3)
    ratio = e1 / e2
    note = f"error / error at half the lr: {ratio:.2f} (must be in [1.7, 2.3])"
    return Outcome(0.0, e1, e1, e1 <= 0.02 and _band(ratio, 1.7, 2.3), note)


@_cached
def _half_times_of(init: str) -> tuple[np.ndarray, np.ndarray]:
    """(observed, predicted) half-times of each mode, lr 1e-3, key 0: aligned init
    at scale 1e-3 (14,000 steps) or random init at 1e-6, width 64 (16,000 steps)."""
    from lm_sims import deep_linear

    if init == "aligned":
        cfg = deep_linear.Config(steps=14000, record_every=20, lr=1e-3, init_scale=1e-3)
    else:
        cfg = deep_linear.Config(
            steps=16000,
            record_every=20,
            lr=1e-3,
            init="random",
            init_scale=1e-6,
            width=64,
        )
    traj = deep_linear.train(jax.random.key(0), cfg)
    observed = np.asarray(
        deep_linear.half_time(traj.t, traj.mode_strengths, traj.singular_values),
        np.float64,
    )
    predicted = np.asarray(
        deep_linear.predict_half_time(traj.singular_values, traj.u0), np.float64
    )
    return observed, predicted


def _half_times():
    observed, predicted = _half_times_of("aligned")
    rel = np.abs(observed - predicted) / np.abs(predicted)
    i = int(np.argmax(rel))
    note = f"worst of {rel.size} modes shown (mode {i + 1})"
    return Outcome(
        float(predicted[i]), float(observed[i]), float(rel[i]), rel.max() <= 0.01, note
    )


def _random_half_times():
    observed, predicted = _half_times_of("random")
    rel = np.abs(observed - predicted) / np.abs(predicted)
    i = int(np.nanargmax(rel))
    ok = bool(np.all(np.isfinite(observed))) and bool(np.all(np.diff(observed) > 0))
    ok = ok and bool(rel.max() <= 0.15)
    note = f"worst of {rel.size} modes shown (mode {i + 1}); learned in order"
    return Outcome(float(predicted[i]), float(observed[i]), float(rel[i]), ok, note)


def _eigen_exponent():
    from lm_sims import eigenlearning as el
    from lm_sims.fitting import power_law_fit

    cfg = el.Config(num_modes=1024, alpha=1.5, r=2.0)
    curve = el.simulate_learning_curve(
        jax.random.key(3), cfg, [16, 32, 64, 128], num_seeds=200
    )
    fit = power_law_fit(curve.n, curve.test_mse, sigma=curve.sem)
    sim = float(fit.exponent)
    theory = float(power_law_fit(curve.n, curve.theory).exponent)
    band = min(4 * float(fit.exponent_stderr) + 0.02, 0.06)
    ok = bool(np.all(curve.sem / curve.test_mse < 0.03))
    ok = ok and fit.exponent_stderr < 0.02 and abs(sim - theory) < band
    ok = ok and abs(sim + (cfg.r - 1)) < 0.1
    note = (
        f"band 4 standard errors + 0.02 = {band:.3f}; asymptote {-(cfg.r - 1):g} "
        "(within 0.1)"
    )
    return Outcome(theory, sim, abs(sim - theory), ok, note)


@_cached
def _ntk_gap_parts():
    """kernels.ntk_gap_parts at key 7: lr 2, 4 training points, smooth target,
    widths 64-4096, 4 networks each."""
    from lm_sims import kernels

    return kernels.ntk_gap_parts(
        jax.random.key(7),
        lr=2.0,
        num_train=4,
        target="smooth",
        widths=(64, 256, 1024, 4096),
        num_seeds=4,
    )


def _rms(values):
    return np.sqrt(np.mean(np.asarray(values) ** 2, axis=-1))


def _ntk_gap():
    s = _ntk_gap_parts()[0]
    weight = _slope(s.widths, _rms(s.weight_change / s.residual0))
    change = _slope(s.widths, _rms(s.kernel_change))
    gap = _rms(s.gap)
    slope = _slope(s.widths, gap)
    ok = abs(weight + 0.5) <= 0.1 and _band(change, -0.9, -0.65)
    ok = ok and abs(slope + 0.5) <= 0.15 and gap[-1] < 0.02
    note = (
        f"gap {gap[-1]:.3f} at width 4096 (< 0.02); weight-change slope "
        f"{weight:.2f} (-1/2 +- 0.1); kernel-change slope {change:.2f} "
        "(in [-0.9, -0.65])"
    )
    return Outcome(-0.5, slope, abs(slope + 0.5), ok, note)


@_cached
def _width_curve_slopes(r: float) -> tuple[float, float]:
    """(simulated, theory) unweighted log-log slopes of the test loss against width
    N = 16-512 (2000 modes, alpha 1.5, 64 draws, key 0)."""
    from lm_sims import scaling as sc

    cfg = sc.Config(num_modes=2000, alpha=1.5, r=r)
    widths = np.array([16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512])
    c = sc.width_curve(jax.random.key(0), cfg, widths, num_seeds=64)
    return _slope(c.x, c.test_mse), _slope(c.x, c.theory)


def _scaling_width():
    sim, theory = _width_curve_slopes(2.0)
    ok = abs(sim + 1.0) <= 0.2 and abs(sim - theory) <= 0.1
    note = (
        f"asymptote -(r - 1) = -1 (within 0.2); theory over the same range {theory:.3f}"
    )
    return Outcome(theory, sim, abs(sim - theory), ok, note)


def _scaling_frontier():
    from lm_sims import scaling as sc

    cfg = sc.Config(num_modes=2000, alpha=1.5, r=2.0, lr=0.5)
    widths = np.unique(np.geomspace(16, 512, 28).round().astype(int))
    compute = np.geomspace(3e2, 3e4, 9)
    f = sc.isoflop(jax.random.key(0), cfg, widths, compute, num_seeds=4)
    ok = f.diverged == 0
    exps = {}
    for theory in (False, True):
        nf, ef = sc.compute_frontier(f, theory=theory)
        exps[theory] = (float(nf.exponent), float(ef.exponent))
        ok = ok and abs(nf.exponent - 0.4) <= 0.1 and abs(ef.exponent + 0.4) <= 0.1
    n_sim, e_sim = exps[False]
    note = (
        f"E* exponent {e_sim:.3f} (theory -0.4 +- 0.1); from the theory's own "
        f"isoFLOP curves {exps[True][0]:.3f}, {exps[True][1]:.3f}"
    )
    return Outcome(0.4, n_sim, abs(n_sim - 0.4), ok, note)


def _nc1_digits():
    tr = _collapse_run("digits", 0)
    m = tr.metrics
    i100 = int(np.flatnonzero(np.asarray(tr.step) == 100)[0])
    nc1_0, nc1_100, nc1 = float(m.nc1[0]), float(m.nc1[i100]), float(m.nc1[-1])
    nc3_0, nc3 = float(m.nc3[0]), float(m.nc3[-1])
    ok = not tr.diverged and float(m.accuracy[-1]) == 1.0
    ok = ok and nc1 <= nc1_100 / 1.8 and nc1 <= nc1_0 / 4
    ok = ok and nc3 <= 0.25 and nc3 <= nc3_0 / 8 and float(m.nc4[-1]) <= 0.005
    note = (
        f"NC1 {nc1_0:.2f} -> {nc1_100:.2f} (step 100) -> {nc1:.2f} (must fall 4x "
        f"from init); NC3 {nc3_0:.2f} -> {nc3:.2f} (<= 0.25)"
    )
    return Outcome("falls >= 4x", f"{nc1_0 / nc1:.1f}x", nc1 / nc1_0, ok, note)


def _eos_control():
    traj, _, s = _edge_run(16, "tanh", 0)
    loss = np.asarray(traj.loss)
    ok = s.max_ratio < 0.9 and s.first_crossing == -1 and s.loss_monotone
    ok = ok and float(loss[-1]) < 0.05 * float(loss[0])
    note = (
        "k = 16: the data are fit before S reaches 2/lr; the loss falls monotonically"
    )
    return Outcome("< 1", s.max_ratio, s.max_ratio, ok, note)


def _sgd_linear_scaling():
    from lm_sims import sgd_noise as sn

    cfg0 = sn.Config()
    base_cfg = cfg0.replace(lr=0.1, steps=12_000, record_every=20)
    base, _ = _sgd_window_mean(sn.train(jax.random.key(0), base_cfg), base_cfg)
    ratios = {}
    for k in (8, 64):
        steps = max(16_000 // k // 10 * 10, 1000)
        cfg = base_cfg.replace(
            lr=0.1 * k, batch_size=k, steps=steps, record_every=10, num_runs=128
        )
        sim = _sgd_window_mean(sn.train(jax.random.key(0), cfg), cfg, min_records=50)
        ratios[k] = sim[0] / base
    theory = sn.stationary_risk(cfg0, lr=0.8, batch_size=8) / sn.stationary_risk(
        cfg0, lr=0.1, batch_size=1
    )
    ok = _band(ratios[8], 0.97, 1.10) and ratios[64] > 1.10
    note = (
        f"k = 8 shown (k lr h_max = 0.18); at k = 64 the rule breaks: "
        f"{ratios[64]:.2f} (must be > 1.10)"
    )
    return Outcome(float(theory), ratios[8], abs(ratios[8] / theory - 1), ok, note)


def _sgd_steps():
    from lm_sims import sgd_noise as sn

    cfg0 = sn.Config()
    cb = sn.critical_batch(cfg0, 0.02, (1, 4, 16, 64))
    sim = []
    for b, lr, steps in zip(cb.batch_sizes, cb.lr, cb.steps, strict=True):
        cfg = cfg0.replace(
            batch_size=int(b),
            lr=float(lr),
            steps=int(np.ceil(1.3 * steps)),
            record_every=1,
            num_runs=512,
        )
        sim.append(sn.simulated_steps_to_target(sn.train(jax.random.key(0), cfg), 0.02))
    sim = np.array(sim, np.float64)
    rel = np.abs(sim - cb.steps) / np.abs(cb.steps)
    design = np.stack([np.ones(sim.size), 1 / cb.batch_sizes], 1) / sim[:, None]
    s_min, s_b = np.linalg.lstsq(design, np.ones(sim.size), rcond=None)[0]
    law = np.abs(sim / (s_min + s_b / cb.batch_sizes) - 1.0)
    ok = bool(rel.max() <= 0.05) and bool(law.max() <= 0.05)
    i = int(np.argmax(rel))
    note = (
        f"B = {int(cb.batch_sizes[i])} shown (worst of 1, 4, 16, 64); simulated S(B) "
        f"against S_min (1 + B_crit / B) fitted to them: within {law.max():.3f}"
    )
    return Outcome(float(cb.steps[i]), float(sim[i]), float(rel[i]), ok, note)


def _cka_slope():
    from lm_sims import representations as rep
    from lm_sims.fitting import power_law_fit

    key = jax.random.key(0)
    held_out = _held_out_digits()
    widths = [256, 512, 1024, 2048, 4096, 8192, 16384]
    a = rep.random_feature_alignment(jax.random.fold_in(key, 4), held_out, widths)
    w = np.asarray(widths, float)
    cka = float(power_law_fit(w, 1 - np.asarray(a.cka)).exponent)
    knn = float(power_law_fit(w, 1 - np.asarray(a.mutual_knn)).exponent)
    ok = _band(cka, -1.2, -0.8) and _band(knn, -0.7, -0.25)
    ok = ok and bool(np.all(np.diff(np.asarray(a.cka).mean(0)) > 0))
    ok = ok and bool(np.all(np.diff(np.asarray(a.mutual_knn).mean(0)) > 0))
    note = f"mutual k-NN falls slower: slope {knn:.2f} (must be in [-0.7, -0.25])"
    return Outcome(-1.0, cka, abs(cka + 1.0), ok, note)


def _hea_curve():
    from lm_sims import natural_data as nd

    g = nd.power_law_gammas(24, 0.5)
    idx, v = nd.gaussian_target(24)
    runs = []
    k_small, k_large = jax.random.split(jax.random.key(0))
    for k, ns, trials in (
        (k_small, [4, 8, 16, 32, 64], 96),
        (k_large, [128, 256, 512, 1024], 24),
    ):
        c = nd.gaussian_learning_curve(
            k, g, 4.0, idx, v, ns, num_trials=trials, num_test=1000, ridge=1e-8
        )
        pred = nd.predict_learning_curve(g, 4.0, idx, v, ns, ridge=1e-8)
        runs.append((c.mean, pred, c.mean >= 0.01 * c.target_power))
    mean, pred, check = (np.concatenate(a) for a in zip(*runs, strict=True))
    ratio = (pred / mean)[check]
    ok = check.sum() >= 8 and bool(np.all((ratio >= 0.8) & (ratio <= 1.25)))
    i = int(np.argmax(np.abs(np.log(ratio))))
    note = (
        f"{check.sum()} sizes from n = 4 (those where the error is >= 1% of the "
        "target's power), worst shown; s = 4"
    )
    return Outcome(
        float(pred[check][i]), float(mean[check][i]), abs(float(ratio[i]) - 1), ok, note
    )


@_cached
def _transfer_coordinate_slopes(parameterization: str, optimizer: str) -> np.ndarray:
    """Log-log slopes against width (64-1024, 2 seeds, key 0) of the one-step
    changes (hidden 1, hidden 2, output); lr 1e-3 for SGD, 1e-4 for Adam."""
    from lm_sims import feature_learning as fl

    widths = (64, 128, 256, 512, 1024)
    lr = 1e-4 if optimizer == "adam" else 1e-3
    changes = fl.one_step_changes(
        jax.random.key(0),
        parameterization,
        lr,
        widths=widths,
        num_seeds=2,
        optimizer=optimizer,
    )
    return np.polyfit(np.log(widths), np.log(changes), 1)[0]


def _adam_coordinate_check():
    from lm_sims import feature_learning as fl

    slopes = _transfer_coordinate_slopes("mup", "adam")
    expected = np.asarray(fl.predicted_exponents("mup", optimizer="adam"), np.float64)
    return _exponents_outcome(
        expected,
        slopes,
        "exponents of hidden layer 1, hidden layer 2, output (Adam, muP)",
    )


@_cached
def _signal_propagation(activation: str, sigma_w2: float, sigma_b2: float):
    """(c, q, c_theory, q_theory, c0, cfg): per-network correlations and lengths of
    32 width-512 depth-20 networks (keys split from key 5) and the iterated maps."""
    from lm_sims import kernels, mlp

    c0 = np.array([0.2, 0.7, 0.95])
    x = kernels.circle(np.concatenate([[0.0], np.arccos(c0)]))
    cfg = mlp.Config(
        width=512,
        depth=20,
        d_in=2,
        activation=activation,
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
    )
    keys = jax.random.split(jax.random.key(5), 32)
    h = jax.lax.map(lambda k: kernels.preactivations(mlp.init(k, cfg), x, cfg), keys)
    h = np.asarray(h, np.float64)  # (networks, layers, inputs, width)
    q = np.mean(h**2, axis=-1)
    c = np.einsum("slw,slkw->slk", h[:, :, 0], h[:, :, 1:]) / cfg.width
    c /= np.sqrt(q[:, :, :1] * q[:, :, 1:])
    q_th, c_th = kernels.signal_propagation_theory(c0, cfg, cfg.depth)
    return c, q, np.asarray(c_th), np.asarray(q_th), c0, cfg


def _z_score(samples, expected):
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    return np.abs(samples.mean(axis=0) - expected) / se


def _signal():
    c, q, c_th, q_th, _, _ = _signal_propagation("erf", 4.0, 0.3)
    z = _z_score(c, c_th)
    zq = float(np.max(_z_score(q[:, :, 0] / q_th, 1.0)))
    i = np.unravel_index(np.argmax(z), z.shape)
    note = (
        f"worst of 20 layers x 3 input pairs shown (layer {i[0] + 1}); lengths "
        f"within {zq:.1f} standard errors (< 4.5)"
    )
    ok = z.max() < 4.5 and zq < 4.5
    return Outcome(float(c_th[i]), float(c.mean(0)[i]), float(z.max()), ok, note)


def _scaling_digits():
    from lm_sims import scaling as sc

    c = sc.digits_learning_curve(
        jax.random.key(0), [32, 64, 128, 256, 512], num_seeds=8
    )
    ratio = np.asarray(c.test_mse / c.theory, np.float64)
    i = int(np.argmax(np.abs(ratio - 1)))
    ok = bool(np.all(np.abs(ratio - 1) < 0.1))
    ok = ok and bool(np.all(c.sem / c.test_mse < 0.03))
    note = f"n = 32-512, worst shown (n = {int(c.x[i])})"
    return Outcome(
        float(c.theory[i]), float(c.test_mse[i]), abs(float(ratio[i]) - 1), ok, note
    )


def _digits_hea():
    from lm_sims import natural_data as nd

    y = nd.digits_target(0)
    ns = [10, 20, 40, 80, 160, 400, 800, 1697]
    pred, rest = nd.predict_digits_learning_curve(
        y, 2.0, ns, num_fit_modes=500, ridge=1e-8
    )
    c = nd.digits_learning_curve(
        jax.random.key(0), y, 2.0, ns, num_trials=24, ridge=1e-8
    )
    ratio = np.asarray(pred / c.mean, np.float64)
    small = np.asarray(ns) <= 400
    ok = bool(np.all((ratio[small] >= 0.75) & (ratio[small] <= 1.3)))
    ok = ok and 0 < rest < 0.05 * c.target_power
    i = int(np.argmax(np.abs(np.log(ratio[small]))))
    note = f"n = 10-400, worst shown (n = {ns[i]}); digit 0 one-vs-rest, s = 2"
    return Outcome(float(pred[i]), float(c.mean[i]), abs(float(ratio[i]) - 1), ok, note)


def _p(section, statement, tolerance, why, test, compute, id, left_out=""):
    return Prediction(
        id, section[0], section[1], statement, tolerance, why, test, compute, left_out
    )


#: Every prediction the scorecard runs (the registry), in book order.
PREDICTIONS: tuple[Prediction, ...] = (
    _p(
        _DEEP_LINEAR,
        "GD from small aligned init follows Saxe et al.'s logistic mode curves",
        "error <= 0.01",
        "max over modes and time of |u_sim - u_theory| / s_1 at lr 1e-3; Euler steps",
        "tests/test_deep_linear.py::"
        "test_aligned_two_layer_matches_closed_form_and_error_halves_with_lr",
        _saxe_error,
        id="saxe-logistic-error",
    ),
    _p(
        _DEEP_LINEAR,
        "the curves' error is first order in lr: halving lr halves it",
        "ratio in [1.7, 2.3]",
        "error at lr 1e-3 over error at 5e-4; second-order terms in lr",
        "tests/test_deep_linear.py::"
        "test_aligned_two_layer_matches_closed_form_and_error_halves_with_lr",
        _saxe_order,
        id="saxe-euler-order",
    ),
    _p(
        _DEEP_LINEAR,
        "depth 3: GD follows the depth-L mode ODE (error first order in lr)",
        "error <= 0.02",
        "Euler steps (first order in lr) plus RK4 error (negligible)",
        "tests/test_deep_linear.py::test_aligned_deep_network_follows_depth_L_ode",
        _saxe_deep,
        id="saxe-deep-error",
    ),
    _p(
        _DEEP_LINEAR,
        "each mode's half-time is ln(s/u0 - 1) / (2 s) (aligned init)",
        "relative error <= 0.01",
        "lr 1e-3 discretisation and record spacing (interpolated)",
        "tests/test_deep_linear.py::test_aligned_half_times_within_one_percent",
        _half_times,
        id="saxe-half-times",
    ),
    _p(
        _DEEP_LINEAR,
        "random small init: modes learned in order at the predicted half-times",
        "relative error <= 0.15",
        "the linearised alignment phase and finite-width mode coupling",
        "tests/test_deep_linear.py::"
        "test_random_init_learns_modes_in_order_with_predicted_half_times",
        _random_half_times,
        id="saxe-random-half-times",
    ),
    _p(
        _EIGEN,
        "eigenlearning gives kernel ridge regression's mean test MSE (n = 64)",
        "|mean / theory - 1| <= 0.05",
        "400 trials (s.e.m. < 1.5%) plus the theory's O(1/n) finite-n error",
        "tests/test_eigenlearning.py::"
        "test_mean_test_and_train_mse_match_eigenlearning[64-512-0.0-0.0-400]",
        _eigen_mse,
        id="eigenlearning-test-mse",
    ),
    _p(
        _EIGEN,
        "the learning curve's exponent n^-(r-1) (alpha 1.5, r 2, n = 16-128)",
        "|sim - theory| < min(4 s.e. + 0.02, 0.06)",
        "200 trials per n (slope s.e. ~0.015) plus the theory's finite-n tilt",
        "tests/test_eigenlearning.py::test_learning_curve_exponent_simulation",
        _eigen_exponent,
        id="eigenlearning-exponent",
    ),
    _p(
        _CONSERVATION,
        "GD breaks balancedness by O(lr): the drift at fixed time halves with lr",
        "|ratio - 2| <= 0.2",
        "drift(lr 0.02) / drift(lr 0.01) at t = 8; O(lr^2) corrections",
        "tests/test_conservation.py::"
        "test_balancedness_drift_at_fixed_time_is_linear_in_lr",
        _balancedness,
        id="balancedness-drift-order",
    ),
    _p(
        _NNGP,
        "the output covariance of random ReLU networks is the NNGP kernel",
        "max |z| < 4 standard errors",
        "200 width-512 networks: sampling; the O(1/width) bias is ~0.2%",
        "tests/test_mlp_ntk.py::test_nngp_matches_output_covariance[relu-ntk-2.0-0.1]",
        _nngp,
        id="nngp-covariance",
    ),
    _p(
        _NNGP,
        "correlations through 20 random erf layers follow the iterated map",
        "max |z| < 4.5 standard errors",
        "32 width-512 networks: sampling; finite-width bias O(depth/width)",
        "tests/test_kernels.py::"
        "test_signal_propagation_simulation_follows_theory[erf-4.0-0.3]",
        _signal,
        id="signal-propagation",
    ),
    _p(
        _NTK,
        "the empirical NTK converges to the analytic NTK as width^-1/2",
        "|slope + 1/2| <= 0.1",
        "RMS error over 64 inits per width, widths 64-4096: ~5% per width",
        "tests/test_mlp_ntk.py::"
        "test_empirical_ntk_converges_at_rate_one_over_sqrt_width",
        _ntk_entk,
        id="ntk-width-exponent",
    ),
    _p(
        _NTK,
        "a trained wide net is its NTK kernel regression: gap ~ width^-1/2",
        "|slope + 1/2| <= 0.15",
        "4 networks per width (~0.05 on a slope); init-kernel fluctuation",
        "tests/test_kernels.py::test_width_scan_exponents",
        _ntk_gap,
        id="ntk-kernel-regression",
    ),
    _p(
        _LAZY,
        "the relative parameter change falls as 1/alpha (lazy limit)",
        "slope in [-1.2, -0.7]",
        "alpha = 1-30, 3 seeds; training is not yet lazy at alpha ~ 1",
        "tests/test_lazy_rich.py::test_relative_change_falls_as_one_over_alpha",
        _lazy_rich,
        id="lazy-relative-change",
    ),
    _p(
        _MUP,
        "muP coordinate check: one-step changes are width-independent",
        "max |fitted - predicted| <= 0.15",
        "8 seeds (~0.03 on a slope) and O(width^-1/2) finite-width corrections",
        "tests/test_feature_learning.py::"
        "test_measured_exponents_match_the_predicted_ones[mup]",
        _coord("mup"),
        id="mup-coordinate-check",
    ),
    _p(
        _MUP,
        "NTK coordinate check: features freeze as width^-1/2, output O(1)",
        "max |fitted - predicted| <= 0.15",
        "8 seeds and O(width^-1/2) finite-width corrections",
        "tests/test_feature_learning.py::"
        "test_measured_exponents_match_the_predicted_ones[ntk]",
        _coord("ntk"),
        id="ntk-coordinate-check",
    ),
    _p(
        _MUP,
        "SP coordinate check: the output blows up as width (features width^1/2)",
        "max |fitted - predicted| <= 0.15",
        "8 seeds; SP's second layer approaches +1/2 from below (width^-1/2)",
        "tests/test_feature_learning.py::"
        "test_measured_exponents_match_the_predicted_ones[sp]",
        _coord("sp"),
        id="sp-coordinate-check",
    ),
    _p(
        _SCALING,
        "test loss falls with time as t^-(r-1)/alpha (alpha 1.5, r 2)",
        "|slope - theory| <= 0.1",
        "fit over t = 10-1000 of population GD; pre-asymptotic curvature",
        "tests/test_scaling.py::"
        "test_time_curve_slope_from_the_gradient_descent_loop[2.0]",
        _scaling_time,
        id="scaling-time-exponent",
    ),
    _p(
        _SCALING,
        "test loss falls with width as N^-(r-1) (alpha 1.5, r 2)",
        "|sim - theory| <= 0.1",
        "64 draws (s.e. 1-4% per point) over N = 16-512",
        "tests/test_scaling.py::test_width_curve_slopes[2.0]",
        _scaling_width,
        id="scaling-width-exponent",
        left_out="64 draws at 11 widths: 8 s warm, 17 s cold",
    ),
    _p(
        _SCALING,
        "compute-optimal width grows as C^0.4 (alpha 1.5, r 2)",
        "|exponent - 0.4| <= 0.1",
        "28 widths, 4 draws; the optimum moves on a discrete grid",
        "tests/test_scaling.py::test_compute_optimal_frontier_exponents",
        _scaling_frontier,
        id="scaling-compute-frontier",
        left_out="an isoFLOP grid of 28 widths: 4 s warm, 9 s cold",
    ),
    _p(
        _SCALING,
        "kernel regression on digits follows eigenlearning with their spectrum",
        "|sim / theory - 1| < 0.1",
        "8 trials (s.e. ~2%); the finite pool of 1,797 images",
        "tests/test_scaling.py::"
        "test_digits_learning_curve_is_predicted_by_its_measured_spectrum",
        _scaling_digits,
        id="scaling-digits-curve",
    ),
    _p(
        _EOS,
        "sharpness rises to 2/lr and stays there: late mean of S lr / 2",
        "mean in [0.97, 1.06]",
        "period-two oscillation and the chaos of the late phase (steps 1000-2000)",
        "tests/test_edge_of_stability.py::"
        "test_sharpness_rises_to_two_over_lr_and_stays_there[4]",
        _eos,
        id="eos-sharpness-edge",
    ),
    _p(
        _EOS,
        "at a small lr (k = 16) sharpness stays below 2/lr: max S lr / 2",
        "max < 0.9",
        "the run fits the data before progressive sharpening reaches the edge",
        "tests/test_edge_of_stability.py::"
        "test_small_learning_rate_control_stays_below_the_edge",
        _eos_control,
        id="eos-small-lr-control",
    ),
    _p(
        _COLLAPSE,
        "class means collapse to a simplex ETF: cosines -> -1/(K-1)",
        "worst cosine deviation < 0.05",
        "finite training time; 3 keys, the worst shown",
        "tests/test_neural_collapse.py::test_calibrated_setting_reaches_the_simplex_etf",
        _etf,
        id="neural-collapse-etf",
        left_out="three training runs: 19 s warm, 21 s cold (two cores, float32)",
    ),
    _p(
        _COLLAPSE,
        "digits MLP: within-class variability NC1 collapses (partially)",
        "NC1_end / NC1_0 <= 1/4",
        "10^4 steps at weight decay 1e-3: the collapse is partial at this scale",
        "tests/test_neural_collapse.py::test_digits_run_collapses_partially",
        _nc1_digits,
        id="neural-collapse-nc1",
    ),
    _p(
        _COLLAPSE,
        "first-layer Gram matrix ~ AGOP^(1/2) (neural feature ansatz)",
        "Pearson >= 0.85",
        "finite sample (n = 1000) and finite training; 3 keys, the worst shown",
        "tests/test_feature_ansatz.py::"
        "test_first_layer_gram_matches_agop_square_root_after_training",
        _nfa,
        id="feature-ansatz-correlation",
    ),
    _p(
        _TRANSFER,
        "under muP the optimal Adam lr does not move with width (64-1024)",
        "optimum spread <= 1.2 octaves",
        "2 seeds, flat loss near the optimum; shipped sweep (its test recomputes it)",
        "tests/test_transfer.py::test_adam_transfer_sweep_and_the_shipped_reference",
        _transfer,
        id="mutransfer-optimum",
    ),
    _p(
        _TRANSFER,
        "muP with Adam: one-step changes are width-independent",
        "max |fitted - predicted| <= 0.15",
        "2 seeds; finite-width corrections ~width^-1/2",
        "tests/test_transfer.py::test_coordinate_check_slopes[mup-adam]",
        _adam_coordinate_check,
        id="adam-mup-coordinate-check",
    ),
    _p(
        _CENTRAL,
        "the central flow holds the sharpness at 2/lr (toy model)",
        "max |S lr / 2 - 1| <= 1e-4",
        "the linearised restoring term, from the fourth step on",
        "tests/test_central_flow.py::test_toy_central_flow_rides_the_edge_to_a_minimum",
        _toy_cf,
        id="central-flow-edge",
    ),
    _p(
        _CENTRAL,
        "GD lands at a minimum with S <= 2/lr where gradient flow would not",
        "S_end <= 2/lr (exact)",
        "no tolerance: the claim is an inequality",
        "tests/test_central_flow.py::"
        "test_toy_gradient_descent_lands_at_sharpness_at_most_two_over_lr",
        _toy_gd,
        id="central-flow-gd-landing",
    ),
    _p(
        _SGD,
        "the exact recursion gives SGD's stationary risk (lr 0.5, B = 1)",
        "|sim / theory - 1| <= 0.03",
        "256 runs x ~3,000 stationary steps: s.e.m. ~0.5%",
        "tests/test_sgd_noise.py::"
        "test_recursion_matches_simulated_stationary_risk_within_3_percent[0.5-1]",
        _sgd_stationary,
        id="sgd-stationary-risk",
    ),
    _p(
        _SGD,
        "steps to target follow S_min (1 + B_crit / B) for B <= 64",
        "max |S / fit - 1| <= 0.05",
        "a two-number fit to seven batch sizes; the spectrum's many scales",
        "tests/test_sgd_noise.py::"
        "test_steps_to_target_follows_the_critical_batch_law_for_b_up_to_64",
        _sgd_critical_batch,
        id="sgd-critical-batch",
    ),
    _p(
        _SGD,
        "linear scaling rule: R(k lr, k B) = R(lr, B) while k lr h_max is small",
        "ratio in [0.97, 1.10]",
        "s.e.m. ~1% of window means over 128-256 runs",
        "tests/test_sgd_noise.py::test_simulated_linear_scaling_holds_then_breaks",
        _sgd_linear_scaling,
        id="sgd-linear-scaling",
        left_out="three many-run simulations: 6 s warm, 9 s cold",
    ),
    _p(
        _SGD,
        "simulated steps to target risk match the recursion at B = 1-64",
        "|sim / theory - 1| <= 0.05",
        "512 runs (s.e.m. ~2% near the target), integer steps",
        "tests/test_sgd_noise.py::"
        "test_simulated_steps_to_target_follow_theory_and_the_critical_batch_law",
        _sgd_steps,
        id="sgd-steps-to-target",
        left_out="512 runs at four batch sizes: 3 s warm, 9 s cold",
    ),
    _p(
        _REPS,
        "random features: 1 - CKA = beta / N (N = 1024)",
        "|ratio - 1| < 0.2",
        "4 seed pairs (pair spread ~15%), O(1/N^2) and Monte Carlo corrections",
        "tests/test_representations.py::"
        "test_predicted_deficit_matches_random_features_at_width_1024",
        _cka,
        id="cka-deficit",
    ),
    _p(
        _NATURAL,
        "word frequencies follow Zipf's law, f ~ rank^-1 (ranks 1-1000)",
        "exponent in [0.8, 1.2]",
        "the law's own band: the exponent drifts with the fitted range",
        "tests/test_natural_data.py::test_zipf_exponent_of_the_bundled_text",
        _zipf,
        id="zipf-exponent",
    ),
    _p(
        _NATURAL,
        "the Hermite eigenstructure ansatz gives the RBF kernel's top-20 eigenvalues",
        "ratios in [0.85, 1.1]",
        "N = 2000 samples (~N^-1/2) and the ansatz's O(q / s^2) corrections",
        "tests/test_natural_data.py::test_empirical_kernel_eigenvalues_match_hea",
        _hea_eigenvalues,
        id="hea-eigenvalues",
    ),
    _p(
        _NATURAL,
        "HEA + eigenlearning predict KRR's learning curve on Gaussian data",
        "predicted / measured in [0.8, 1.25]",
        "trial spread (s.e.m. 2-5%), finite-n error and the ansatz's O(gamma/s^2)",
        "tests/test_natural_data.py::"
        "test_gaussian_learning_curve_matches_hea_prediction",
        _hea_curve,
        id="hea-learning-curve",
    ),
    _p(
        _NATURAL,
        "HEA predicts KRR's learning curve on the digits (n <= 400)",
        "predicted / measured in [0.75, 1.3]",
        "digits are not Gaussian; in-sample fit; 24 trials (s.e.m. ~5%)",
        "tests/test_natural_data.py::test_digits_learning_curve_matches_hea_prediction",
        _digits_hea,
        id="hea-digits-curve",
    ),
    _p(
        _ORDER,
        "networks and kernels learn Hermite components in the HEA's order",
        "Spearman >= 0.8 for every learner",
        "one swap of neighbours gives 0.943; key 0 shown",
        "tests/test_learning_order.py::test_all_learners_follow_the_predicted_order[0]",
        _learning_order,
        id="learning-order",
    ),
)

_BY_ID = {p.id: p for p in PREDICTIONS}

#: Predictions the tests hold that the scorecard does not run (too slow for the
#: book build), with the test that holds each.
LEFT_OUT: tuple[LeftOut, ...] = (
    LeftOut(
        "chapters/04_hyperparameters/02_central_flow",
        "the network's central flow holds its sharpness at 2/lr (to 1e-3)",
        "tests/test_central_flow.py::"
        "test_network_central_flow_holds_the_sharpness_at_the_edge[1]",
        "float64 network experiment: ~15 s per seed warm plus ~30 s compiling",
    ),
    LeftOut(
        "chapters/04_hyperparameters/02_central_flow",
        "L(w_CF) + sigma^2/lr tracks the time-averaged GD loss (within 2.5%)",
        "tests/test_central_flow.py::"
        "test_network_predicted_loss_tracks_the_time_averaged_gd_loss",
        "the float64 network experiment at six seeds",
    ),
    LeftOut(
        "chapters/04_hyperparameters/01_mup_transfer",
        "the shipped Adam transfer sweep is this code's result (widths 64-256)",
        "tests/test_transfer.py::test_adam_transfer_sweep_and_the_shipped_reference",
        "recomputing widths 64-256 takes ~90 s (the whole sweep ~6 CPU minutes); "
        "the scorecard's row reads the shipped sweep",
    ),
    LeftOut(
        "chapters/04_hyperparameters/01_mup_transfer",
        "minibatch SGD: muP's optimal lr is width-independent, wider is better",
        "tests/test_transfer.py::test_sgd_transfer_sweep",
        "a sweep of widths 64-512 over eight learning rates (minutes)",
    ),
    LeftOut(
        "chapters/05_universality/01_representations",
        "trained networks align more as width grows: 1 - CKA ~ N^-0.6..-1.2",
        "tests/test_representations.py::"
        "test_trained_networks_align_more_as_width_grows",
        "trains pairs of networks at five widths up to 1,024 (minutes)",
    ),
    LeftOut(
        "chapters/05_universality/01_representations",
        "random features: 1 - CKA falls as 1/N (N = 256-16,384), k-NN slower",
        "tests/test_representations.py::"
        "test_random_feature_cka_deficit_falls_as_one_over_width",
        "measured 33 s on two cores (widths up to 16,384); its test computes it "
        "with the same function as the scorecard",
    ),
    LeftOut(
        "chapters/03_laws/01_scaling_laws",
        "the data curve is eigenlearning's at every n (r = 2, 3, 5)",
        "tests/test_scaling.py::test_data_curve_is_eigenlearning_at_every_n",
        "up to 768 kernel-regression trials per n on 4,000 modes, three exponents",
    ),
)


def _check_id(prediction_id, name: str = "prediction_id") -> Prediction:
    if not isinstance(prediction_id, str):
        raise TypeError(
            f"{name} must be a string, got {type(prediction_id).__name__} "
            f"{prediction_id!r}"
        )
    if prediction_id not in _BY_ID:
        raise ValueError(
            f"{name} must be one of {sorted(_BY_ID)}, got {prediction_id!r}"
        )
    return _BY_ID[prediction_id]


def _finite(x) -> bool:
    return isinstance(x, str) or math.isfinite(float(x))


def _run(p: Prediction) -> Result:
    start = time.perf_counter()
    try:
        out = p.compute()
        out = Outcome(*out)
        values = (out.theory, out.simulated, out.error)
        if not all(_finite(v) for v in values):
            raise FloatingPointError(f"non-finite value in {values}")
        row = (out.theory, out.simulated, float(out.error), bool(out.passed), out.note)
    except Exception as exc:  # a failed computation is a failed row
        reason = f"computation failed: {type(exc).__name__}: {exc}"
        row = ("-", "-", math.nan, False, reason[:300])
    theory, simulated, error, passed, note = row
    seconds = time.perf_counter() - start
    return Result(
        p.id,
        p.section,
        p.statement,
        theory,
        simulated,
        error,
        p.tolerance,
        passed,
        seconds,
        note,
    )


def run(prediction_id: str) -> Result:
    """Compute one prediction and its simulation, and check the test's tolerance.

    Args:
        prediction_id: an id of :data:`PREDICTIONS`, e.g. ``"saxe-euler-order"``.

    Returns:
        :class:`Result`. A computation that raises or gives a non-finite number
        is a row with ``passed=False`` and the reason in ``note``; it does not
        raise.

    Raises:
        TypeError: ``prediction_id`` is not a string.
        ValueError: ``prediction_id`` is not in the registry (the message lists
            the valid ids).

    Example:
        >>> from lm_sims import predictions
        >>> r = predictions.run("zipf-exponent")
        >>> r.passed, r.theory
        (True, 1.0)
    """
    return _run(_check_id(prediction_id))


def scorecard(ids: Sequence[str] | None = None) -> list[Result]:
    """Run the registry's predictions (all, or ``ids``), in the given order.

    The default set takes ~1 minute on two CPU cores in float32 with a warm
    compilation cache, ~2 minutes cold (each row's time is in
    :attr:`Result.seconds`); runs that two rows share are computed once.

    Args:
        ids: prediction ids (a list or tuple of strings, no repeats), or None for
            every entry of :data:`PREDICTIONS` in book order except those with a
            ``left_out`` reason (too slow for the book build).

    Returns:
        list of :class:`Result`, one per id. Never raises for a failing
        prediction: it is a row with ``passed=False``.

    Raises:
        TypeError: ``ids`` is not a list or tuple of strings.
        ValueError: ``ids`` is empty, or an id is not in the registry (the message
            lists the valid ids), or is repeated.

    Example:
        >>> from lm_sims import predictions
        >>> [(r.id, r.passed) for r in predictions.scorecard(["zipf-exponent"])]
        [('zipf-exponent', True)]
    """
    if ids is None:
        chosen = [p for p in PREDICTIONS if not p.left_out]
    else:
        if isinstance(ids, str) or not isinstance(ids, (list, tuple)):
            raise TypeError(f"ids must be a list or tuple of ids, got {ids!r}")
        if not ids:
            raise ValueError("ids must name at least one prediction, got an empty one")
        chosen = [_check_id(i, "ids entries") for i in ids]
        if len({p.id for p in chosen}) != len(chosen):
            raise ValueError(f"ids must not repeat an id, got {list(ids)}")
    return [_run(p) for p in chosen]
