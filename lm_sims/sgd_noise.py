# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""SGD noise: learning rate, batch size and temperature, on noisy linear regression.

**The model.** Online (one-pass) minibatch SGD on linear regression: each step draws
a fresh batch of ``B`` (``batch_size``) Gaussian inputs :math:`x \sim N(0, H)` with
labels :math:`y = x^\top w_* + \sigma \xi`, :math:`\xi \sim N(0, 1)` (``noise`` is
the label-noise standard deviation :math:`\sigma`), and takes

.. math::

    w_{k+1} = w_k - \frac{\eta}{B} \sum_{i=1}^{B} x_i\, (x_i^\top w_k - y_i),

the gradient of the book's half mean squared error on the batch. The input
covariance is a power law in ``dim`` (d) dimensions, :math:`h_j \propto j^{-\alpha}`
(``alpha``; the default 1), normalised to :math:`\mathrm{tr}\, H = 1`
(:func:`spectrum`); the teacher is :math:`w_* \sim N(0, I_d)`, the start
:math:`w_0 = 0`. Because the data are rotation invariant, the simulation works in
H's eigenbasis (H diagonal), which changes nothing but the cost.

**Risk convention.** The population loss is
:math:`\frac12 \mathbb{E}(x^\top w - y)^2 = R(w) + \sigma^2/2` with the *excess
risk*

.. math::

    R(w) = \tfrac12\, e^\top H e, \qquad e = w - w_*,
    \qquad (eq-sgd-risk)

the quantity every function here reports (``loss`` in a :class:`Trajectory` is its
mean over runs).

**Exact second-moment recursion.** The minibatch gradient is
:math:`g = H e + \text{noise}` with per-example covariance, for Gaussian inputs
(Isserlis' theorem, :math:`\mathbb{E}[x x^\top A x x^\top] = 2 H A H +
\mathrm{tr}(HA) H`),
:math:`\Sigma(e) = H e e^\top H + (e^\top H e) H + \sigma^2 H`. So
:math:`\Gamma = \mathbb{E}[e e^\top]` obeys

.. math::

    \Gamma' = (I - \eta H)\Gamma(I - \eta H) + \frac{\eta^2}{B}
    \bigl[H \Gamma H + \mathrm{tr}(H\Gamma) H + \sigma^2 H\bigr],
    \qquad (eq-sgd-recursion)

which closes on the diagonal entries :math:`\Gamma_{jj} = \mathbb{E}\, e_j^2` in
H's eigenbasis (j indexes modes, k steps; a prime is the next step):
:math:`\mathrm{diag}\,\Gamma' = A\,\mathrm{diag}\,\Gamma + c` with
:math:`A = \mathrm{diag}\bigl((1 - \eta h_j)^2 + \eta^2 h_j^2 / B\bigr) +
\frac{\eta^2}{B} h h^\top` (symmetric, positive semi-definite; the letter T is
kept for the temperature) and :math:`c = \frac{\eta^2 \sigma^2}{B} h`. With
:math:`\Gamma_0 = I` (:math:`e_0 = -w_*`), the whole curve is
:math:`\mathrm{diag}\,\Gamma_k = \mathrm{diag}\,\Gamma_\infty
+ A^k (\mathrm{diag}\,\Gamma_0 - \mathrm{diag}\,\Gamma_\infty)`;
:func:`predict_risk` iterates the recursion (O(d) per step, since A is diagonal
plus rank one: exact at every step).

**Stationary risk.** Setting :math:`\Gamma_{jj}' = \Gamma_{jj}` gives

.. math::

    R_\infty = \frac{\sigma^2}{2}\,\frac{\rho}{1 - \rho}, \qquad
    \rho = \frac{\eta}{B} \sum_j \frac{h_j}{2 - \eta h_j (1 + 1/B)},
    \qquad (eq-sgd-stationary)

(:func:`stationary_risk`), and to leading order in :math:`\eta`,
:math:`R_\infty \approx \eta \sigma^2 \mathrm{tr}(H) / (4B)`
(:func:`stationary_risk_small_lr`): a function of :math:`\eta/B` alone, the
*linear scaling rule*. The recursion is stable (spectral radius of A below one)
iff :math:`\rho < 1` and :math:`\eta h_j (1 + 1/B) < 2` for every j
(:func:`max_stable_lr`); the stationary risk diverges as :math:`\rho \to 1`.
With :math:`\rho_0 = \eta\,\mathrm{tr}(H)/(2B)`, the leading-order formula over the
exact one is :math:`(\rho_0/\rho)(1 - \rho)`: a feedback factor
:math:`1/(1 - \rho)` (the noise grows with the error), which alone leaves a
deficit :math:`\rho_0` that depends on :math:`\eta/B` only, and a discreteness
factor :math:`\rho/\rho_0 = 1 + O(\eta h_{\max})`, which at fixed
:math:`\eta/B` grows with B. For this module's default spectrum at
:math:`\eta\,\mathrm{tr}H/B = 0.5`: 29% low at B = 1 (25 points of it from
the feedback alone), 48% at B = 8.

**Temperature.** At small :math:`\eta` the stationary covariance is
:math:`\Gamma \approx T I` with :math:`T = \eta\sigma^2/(2B)`: isotropic, equal
*variance* per mode and energy :math:`h_j T/2` per mode, so :math:`R_\infty
\approx T\,\mathrm{tr}H/2`. This is not the Gibbs law :math:`\propto e^{-R/T}`
(covariance :math:`T H^{-1}`, equal energy :math:`T/2` per mode); SGD's
stationary state differs from that posterior unless the noise is preconditioned
(Mandt, Hoffman & Blei 2017).

**Gradient noise scale.** McCandlish et al.'s "simple" noise scale is
:math:`B_\text{simple} = \mathrm{tr}\,\Sigma / |\bar g|^2` with :math:`\bar g = H e` the
full gradient, and their Hessian-weighted one :math:`B_\text{noise} =
\mathrm{tr}(H\Sigma)/(\bar g^\top H \bar g)`. Both are recorded along a run (population
values at each iterate, averaged over runs in numerator and denominator
separately) and predicted from the recursion (:func:`predict_noise_scale`).

**Steps and examples.** :func:`steps_to_target` gives the steps the expected risk
needs to fall to a target (exact recursion); :func:`tune_lr` minimises them over
the learning rate, and :func:`critical_batch` fits
:math:`S(B) = S_{\min}(1 + B_\text{crit}/B)` to the tuned steps, so that
:math:`E = B S = E_{\min}(1 + B/B_\text{crit})` with :math:`E_{\min} = S_{\min}
B_\text{crit}` and :math:`(S/S_{\min} - 1)(E/E_{\min} - 1) = 1`.

**Precision.** The simulation runs in JAX's default float (float32, or float64
under ``jax_enable_x64``); the theory is NumPy float64.

References:
    Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
    2017, arXiv:1706.02677.
    Mandt, Hoffman & Blei, "Stochastic gradient descent as approximate Bayesian
    inference", 2017, arXiv:1704.04289.
    McCandlish, Kaplan, Amodei & OpenAI Dota Team, "An empirical model of
    large-batch training", 2018, arXiv:1812.06162.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_int,
    check_key,
    check_real,
    check_record_every,
    config_dataclass,
    diverged_flag,
    float_bytes,
)
from lm_sims.training import DIVERGENCE_FACTOR, divergence_limit

__all__ = [
    "MAX_ALPHA",
    "Config",
    "CriticalBatch",
    "NoiseScale",
    "RiskDivergence",
    "Trajectory",
    "critical_batch",
    "max_stable_lr",
    "predict_divergence",
    "predict_noise_scale",
    "predict_risk",
    "relaxation_steps",
    "simulated_steps_to_target",
    "spectrum",
    "stationary_risk",
    "stationary_risk_small_lr",
    "steps_to_target",
    "train",
    "tune_lr",
]

#: Largest spectrum exponent accepted (``h_j ∝ j^-alpha``).
MAX_ALPHA = 4.0
#: Largest dimension accepted.
MAX_DIM = 4096
#: A run is marked diverged once its risk exceeds ``BLOWUP * (1 + R_0)``: the
#: package-wide factor ``lm_sims.training.DIVERGENCE_FACTOR`` (1e3; issue 12).
BLOWUP = DIVERGENCE_FACTOR


@config_dataclass(static=("dim", "batch_size", "steps", "record_every", "num_runs"))
class Config:
    """Online minibatch SGD on noisy linear regression (see the module docstring).

    Attributes:
        dim: input dimension d (int, 1 .. 4096). Static. Default 50.
        batch_size: examples per step B (int >= 1). Static. Default 1.
        steps: SGD steps (int >= 1). Static. Default 2000.
        record_every: record the risk every this many steps; must divide
            ``steps``. Static. Default 10.
        num_runs: independent runs (teacher, data stream) simulated together
            (int >= 1). Static. Default 256.
        lr: learning rate eta (> 0). Time on the book's axes is ``lr * step``.
        noise: label-noise standard deviation sigma (>= 0). Default 0.5
            (variance 0.25).
        alpha: spectrum exponent, ``h_j ∝ j^-alpha`` with ``tr H = 1``
            (0 <= alpha <= 4; 0 is isotropic). Default 1.
    """

    dim: int = 50
    batch_size: int = 1
    steps: int = 2000
    record_every: int = 10
    num_runs: int = 256
    lr: float = 0.5
    noise: float = 0.5
    alpha: float = 1.0

    def _validate(self):
        check_int("dim", self.dim, minimum=1, maximum=MAX_DIM)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_int("num_runs", self.num_runs, minimum=1)
        check_real("lr", self.lr, positive=True)
        check_real("noise", self.noise, nonnegative=True)
        check_real("alpha", self.alpha, low=0.0, high=MAX_ALPHA)


class Trajectory(NamedTuple):
    """Online SGD runs, recorded every ``record_every`` steps.

    Attributes:
        step: (records,) the step of each record, 0, record_every, ..., steps.
        t: (records,) time ``lr * step``.
        loss: (records,) the excess risk ``R = 1/2 e^T H e`` averaged over runs;
            NaN from the first record after a divergence.
        risk: (records, num_runs) the excess risk of each run; a run's records are
            NaN after it diverged.
        b_simple: (records,) simple noise scale ``mean tr(Sigma) / mean |g|^2``
            (g = H e) over the runs (population values at each iterate).
        b_noise: (records,) Hessian-weighted noise scale
            ``mean tr(H Sigma) / mean g^T H g``.
        diverged_step: () the first step at which some run's risk exceeded
            ``BLOWUP * (1 + R_0)`` or was not finite, or -1.
        observed: None (kept for the book's common trajectory shape).
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    risk: Float[Array, "records num_runs"]
    b_simple: Float[Array, " records"]
    b_noise: Float[Array, " records"]
    diverged_step: Int[Array, ""]
    observed: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if some run diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


class NoiseScale(NamedTuple):
    """Predicted gradient noise scales along the expected trajectory.

    Attributes:
        b_simple: (points,) ``E tr(Sigma) / E |g|^2`` (g = H e).
        b_noise: (points,) ``E tr(H Sigma) / E g^T H g``.
    """

    b_simple: np.ndarray
    b_noise: np.ndarray


class CriticalBatch(NamedTuple):
    """Steps and examples to a target risk against batch size (:func:`critical_batch`).

    Attributes:
        batch_sizes: (n,) the batch sizes B.
        steps: (n,) steps S(B) to the target at the tuned learning rate
            (real-valued: the exact recursion interpolated between steps).
        examples: (n,) ``E = B * S``.
        lr: (n,) the tuned learning rates.
        s_min, b_crit: fitted ``S = s_min (1 + b_crit / B)`` (least squares in
            relative error over the batch sizes <= ``fit_max``).
        e_min: ``s_min * b_crit``.
        fit_max: largest batch size used in the fit.
    """

    batch_sizes: np.ndarray
    steps: np.ndarray
    examples: np.ndarray
    lr: np.ndarray
    s_min: float
    e_min: float
    b_crit: float
    fit_max: int


# --- validation -------------------------------------------------------------------


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(
            f"cfg must be an lm_sims.sgd_noise.Config, got {type(cfg).__name__}"
        )


def _check_memory(cfg):
    per_run = cfg.batch_size * (cfg.dim + 1) * 3 + cfg.dim * 6
    records = cfg.steps // cfg.record_every + 1
    nbytes = float(cfg.num_runs) * (per_run + records + 8) * float_bytes()
    check_allocation(
        f"train with num_runs={cfg.num_runs}, batch_size={cfg.batch_size}, "
        f"dim={cfg.dim}, {records} records",
        nbytes,
        "lower num_runs, batch_size or the number of records",
    )


def _steps_array(name, value):
    s = np.asarray(as_float_array(name, value, allow_bool=False), np.float64)
    if np.any(s < 0):
        raise ValueError(f"{name} must be >= 0 (steps), got min {s.min():g}")
    if s.size > 10_000_000:
        raise ValueError(f"{name} must have at most 1e7 entries, got {s.size}")
    return s


# --- spectrum and theory ----------------------------------------------------------


def spectrum(dim: int = 50, alpha: float = 1.0) -> Float[np.ndarray, " dim"]:
    r"""Eigenvalues :math:`h_j = j^{-\alpha} / \sum_i i^{-\alpha}` of H (tr H = 1).

    Args:
        dim: d, the number of eigenvalues (1 .. 4096).
        alpha: exponent (0 <= alpha <= 4).

    Returns:
        (dim,) float64, decreasing, summing to 1.

    Raises:
        TypeError, ValueError: ``dim`` not an int in range, ``alpha`` not a real
            in [0, 4] (NaN included).

    Example:
        >>> from lm_sims import sgd_noise
        >>> h = sgd_noise.spectrum(50, 1.0)
        >>> round(float(h.sum()), 12), round(float(h[0] / h[1]), 12)
        (1.0, 2.0)
    """
    check_int("dim", dim, minimum=1, maximum=MAX_DIM)
    check_real("alpha", alpha, low=0.0, high=MAX_ALPHA)
    h = np.arange(1, dim + 1, dtype=np.float64) ** -float(alpha)
    return h / h.sum()


def _problem(cfg, lr=None, batch_size=None):
    lr = cfg.lr if lr is None else lr
    b = cfg.batch_size if batch_size is None else batch_size
    _check_lr_b(lr, b)
    lr, b = float(lr), int(b)
    return spectrum(cfg.dim, float(cfg.alpha)), lr, b, float(cfg.noise) ** 2


def _s_value(h, lr, b):
    denom = 2.0 - lr * h * (1.0 + 1.0 / b)
    if np.any(denom <= 0):
        return np.inf
    return lr / b * float(np.sum(h / denom))


def _stationary(h, lr, b, s2):
    s = _s_value(h, lr, b)
    if not s < 1:
        return np.inf
    return 0.5 * s2 * s / (1.0 - s)


def _gammas(h, lr, b, s2, wanted, limit=None):
    """Expected diagonal of e e^T at the integer steps ``wanted`` (sorted),
    iterating (eq-sgd-recursion) from diag Gamma = 1; O(d) per step (the operator is
    diagonal plus rank one). Returns ``(g, log_scale, crossed)``: (len(wanted), dim)
    diagonals divided by ``exp(log_scale)``, (len(wanted),) log scales, and the
    first step ``k <= max(wanted)`` whose expected risk ``1/2 h . diag Gamma_k``
    exceeds ``limit`` (-1 if none or ``limit`` is None). The iterate is
    renormalised whenever it leaves [1e-100, 1e100], so it neither overflows
    beyond the stability limit nor underflows at noise 0; ratios of its moments
    (the noise scales) stay exact."""
    diag = (1.0 - lr * h) ** 2 + lr**2 * h**2 / b
    coupling, c = lr**2 / b, lr**2 * s2 / b * h
    g = np.ones_like(h)
    log_scale = 0.0
    log_limit = None if limit is None else np.log(limit)
    crossed = -1
    out = np.empty((len(wanted), h.size))
    logs = np.empty(len(wanted))
    j, k = 0, 0
    while j < len(wanted):
        hg = h @ g
        if crossed < 0 and log_limit is not None:
            if np.log(0.5 * hg) + log_scale > log_limit:
                crossed = k
        while j < len(wanted) and wanted[j] == k:
            out[j], logs[j] = g, log_scale
            j += 1
        if j < len(wanted):
            shift = np.exp(min(-log_scale, 700.0)) if s2 > 0 else 0.0
            g = diag * g + (coupling * hg) * h + c * shift
            k += 1
            top = g.max()
            if top > 1e100 or 0 < top < 1e-100:
                g = g / top
                log_scale += np.log(top)
    return out, logs, crossed


def _int_steps(name, value):
    s = _steps_array(name, value)
    if s.ndim > 1:
        raise ValueError(
            f"{name} must be a scalar or a 1-D array of steps, got shape {s.shape}"
        )
    s = s.reshape(-1)
    if np.any(s != np.round(s)):
        raise ValueError(f"{name} must be whole steps, got {s[s != np.round(s)][0]}")
    if s.size and s.max() > 1e6:
        raise ValueError(f"{name} must be <= 1e6 steps, got {s.max():g}")
    return s.astype(np.int64)


def _at_steps(h, lr, b, s2, k, limit=None):
    """(diag Gamma / exp(log_scale), log_scale) at the integer steps k (any order,
    repeats allowed), and with ``limit`` the first step crossing it as a third
    value; see :func:`_gammas`."""
    uniq, inverse = np.unique(k, return_inverse=True)
    g, logs, crossed = _gammas(h, lr, b, s2, uniq, limit)
    if limit is None:
        return g[inverse], logs[inverse]
    return g[inverse], logs[inverse], crossed


def _risk_limit(h):
    """The simulation's divergence limit on the risk: ``divergence_limit(R_0, 1)``
    with ``R_0 = tr(H)/2`` (``BLOWUP * (1 + R_0)``, as :func:`train` applies)."""
    return float(divergence_limit(0.5 * float(np.sum(h)), 1.0))


def _growth(h, lr, b):
    """Spectral radius of the recursion's operator ``A = diag(D) + (lr^2/B) h h^T``
    (``D_j = (1 - lr h_j)^2 + lr^2 h_j^2 / B``): the largest root ``mu > max D`` of
    ``1 = (lr^2/B) sum_j h_j^2 / (mu - D_j)``, by bisection (relative 1e-14)."""
    diag = (1.0 - lr * h) ** 2 + lr**2 * h**2 / b
    coupling = lr**2 / b
    top = float(diag.max())
    lo, hi = top, top + coupling * float(h @ h)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore"):
            f = coupling * np.sum(h**2 / (mid - diag)) if mid > top else np.inf
        if f > 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * hi:
            break
    return hi


class RiskDivergence(NamedTuple):
    """Whether the expected-risk recursion diverges, and from which step
    (:func:`predict_divergence`).

    Attributes:
        unstable: True if the second-moment recursion is unstable at ``cfg.lr``:
            ``lr >= max_stable_lr(cfg)``, i.e. ``rho >= 1`` or
            ``lr h_j (1 + 1/B) >= 2`` for some j (eq-sgd-stationary). Its modes
            are coupled (rank one), so they do not diverge one by one: when it is
            unstable, every mode's ``E e_j^2`` grows (the Perron vector of A is
            positive), and when it is stable none does.
        growth: the spectral radius of the recursion's operator A (diagonal plus
            rank one, see the module docstring): the late-time factor by which
            the expected risk grows (``> 1``) or its transient decays (``< 1``)
            per step.
        lr_max: :func:`max_stable_lr` at ``cfg.batch_size``.
        diverged_step: the first step (int, in steps) ``<= max_step`` whose
            expected risk exceeds ``training.divergence_limit(R_0, 1) = BLOWUP *
            (1 + R_0)``, the limit at which :func:`train` stops a simulated run;
            -1 if none. It can be >= 0 at a stable lr whose stationary risk is
            above the limit (large noise near ``lr_max``), as a simulated run
            would be stopped too.
    """

    unstable: bool
    growth: float
    lr_max: float
    diverged_step: int

    @property
    def diverged(self) -> bool:
        """True if the expected risk crossed the limit (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


def predict_divergence(cfg: Config, max_step: int) -> RiskDivergence:
    r"""Where the exact expected-risk recursion diverges, as a simulated run would.

    Iterates (eq-sgd-recursion) from :math:`\Gamma_0 = I` for ``max_step`` steps
    and reports the first step whose expected excess risk exceeds the limit that
    :func:`train` applies to a simulated run
    (:func:`lm_sims.training.divergence_limit` with ``R_0`` and scale 1), with
    the stability condition (:func:`max_stable_lr`) and the recursion's growth
    factor. :func:`predict_risk` is NaN from ``diverged_step`` on.

    Args:
        cfg: a :class:`Config` (``dim``, ``alpha``, ``batch_size``, ``lr``,
            ``noise``).
        max_step: last step of the run (int, 0 .. 1e6; units: steps): a crossing
            after it is not reported, as a run of ``max_step`` steps would not
            see it.

    Returns:
        :class:`RiskDivergence`.

    Raises:
        TypeError: ``cfg`` not a Config; ``max_step`` not an int.
        ValueError: ``max_step`` outside 0 .. 1e6.

    Example:
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config(lr=2.0)  # lr_max = 1.68 at B = 1
        >>> d = sgd_noise.predict_divergence(cfg, 1000)
        >>> d.unstable, round(d.growth, 4), d.diverged_step
        (True, 1.0299, 235)
        >>> sgd_noise.predict_divergence(cfg.replace(lr=0.5), 1000).diverged
        False
    """
    _check_cfg(cfg)
    check_int("max_step", max_step, minimum=0, maximum=1_000_000)
    h, lr, b, s2 = _problem(cfg)
    *_, crossed = _gammas(h, lr, b, s2, np.array([int(max_step)]), _risk_limit(h))
    return RiskDivergence(
        not _s_value(h, lr, b) < 1.0,
        float(_growth(h, lr, b)),
        float(_max_stable_lr(h, b)),
        int(crossed),
    )


def predict_risk(cfg: Config, step: ArrayLike) -> Float[np.ndarray, " points"]:
    r"""Expected excess risk after ``step`` SGD steps, from the exact recursion.

    :math:`R(k) = \frac12 \sum_j h_j (\Gamma_k)_{jj}` with :math:`\Gamma_k` from
    (eq-sgd-recursion), iterated in float64 from :math:`\Gamma_0 = I` (exact
    at every step; O(d) work per step up to the largest ``step``). Beyond the
    stability limit (:func:`max_stable_lr`) the expected risk grows geometrically:
    a diverging prediction is a result, as for a simulated run (:func:`train`),
    and the risk is NaN from the first step whose expected risk exceeds
    ``training.divergence_limit(R_0, 1) = BLOWUP * (1 + R_0)`` on (do not plot
    it). :func:`predict_divergence` gives that step, the stability condition
    and the growth factor.

    Args:
        cfg: a :class:`Config` (``dim``, ``alpha``, ``batch_size``, ``lr``,
            ``noise``; the simulation fields are ignored).
        step: (points,) or scalar whole steps (0 .. 1e6; units: steps, not
            ``lr * steps``).

    Returns:
        (points,) float64 expected excess risk; NaN at the steps ``>=
        predict_divergence(cfg, max(step)).diverged_step`` (none if it is -1).

    Raises:
        TypeError: ``cfg`` not a Config; ``step`` not real numbers (bools refused).
        ValueError: negative, fractional or NaN ``step``; ``step`` with more
            than one dimension.

    References:
        Jain, Kakade, Kidambi, Netrapalli & Sidford, "Parallelizing stochastic
        gradient descent for least squares regression", 2018, arXiv:1610.03774
        (the same second-moment operator).

    Example:
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config()
        >>> r = sgd_noise.predict_risk(cfg, [0, 10_000])
        >>> round(float(r[0]), 6), round(float(r[1]), 6)
        (0.5, 0.044137)
        >>> # lr = 2 > lr_max = 1.68: the risk crosses 1e3 (1 + R_0) at step 235
        >>> sgd_noise.predict_risk(cfg.replace(lr=2.0), [234, 235]).round(1).tolist()
        [1462.8, nan]
    """
    _check_cfg(cfg)
    k = _int_steps("step", step)
    h, lr, b, s2 = _problem(cfg)
    g, logs, crossed = _at_steps(h, lr, b, s2, k, _risk_limit(h))
    with np.errstate(over="ignore"):
        r = 0.5 * (g @ h) * np.exp(logs)
    if crossed >= 0:
        r = np.where(k >= crossed, np.nan, r)
    return r


def predict_noise_scale(cfg: Config, step: ArrayLike) -> NoiseScale:
    r"""Expected gradient noise scales along the run, from the recursion.

    With :math:`\Gamma_{jj} = \mathbb{E}\, e_j^2` the diagonal of
    :math:`\Gamma = \mathbb{E}[e e^\top]` and :math:`2\bar R = \sum h_j \Gamma_{jj}`:
    :math:`\mathbb{E}|\bar g|^2 = \sum h_j^2 \Gamma_{jj}`,
    :math:`\mathbb{E}\,\mathrm{tr}\,\Sigma = \mathbb{E}|\bar g|^2 +
    \mathrm{tr}(H)(2\bar R + \sigma^2)`; :math:`B_\text{simple}` is their ratio.
    :math:`B_\text{noise} = \mathbb{E}\,\mathrm{tr}(H\Sigma) /
    \mathbb{E}\,\bar g^\top H \bar g` with
    :math:`\mathbb{E}\,\bar g^\top H \bar g = \sum h_j^3 \Gamma_{jj}` and
    :math:`\mathbb{E}\,\mathrm{tr}(H\Sigma) = \sum h_j^3 \Gamma_{jj} +
    \sum h_j^2 (2\bar R + \sigma^2)`.

    Both are ratios of moments, so they stay finite where the moments do not
    (they are not masked where :func:`predict_risk` is; check
    :func:`predict_divergence` before comparing them with a simulated run, whose
    noise scales are NaN after it diverged):
    beyond the stability limit (:func:`max_stable_lr`), where
    the expected risk grows to ``inf``, they tend to the values set by the
    growing mode alone, and at ``noise = 0`` late in a stable run (moments
    below the float64 range) toward those of the slowest modes. The iteration
    is renormalised, so these values are exact; no NaN or inf is returned.

    Args:
        cfg: a :class:`Config`.
        step: (points,) or scalar whole steps (0 .. 1e6).

    Returns:
        :class:`NoiseScale` of (points,) float64 arrays, finite and >= 1.

    Raises:
        TypeError, ValueError: as :func:`predict_risk`.

    References:
        McCandlish et al., "An empirical model of large-batch training", 2018,
        arXiv:1812.06162 (eqs. 2.6-2.8).

    Example:
        >>> from lm_sims import sgd_noise
        >>> ns = sgd_noise.predict_noise_scale(sgd_noise.Config(), [0])
        >>> bool(ns.b_simple[0] > 1)
        True
    """
    _check_cfg(cfg)
    k = _int_steps("step", step)
    h, lr, b, s2 = _problem(cfg)
    g, logs = _at_steps(h, lr, b, s2, k)
    # sigma^2 in the units of the rescaled diag Gamma (0 at noise 0; finite otherwise,
    # since with noise the moments never fall far below their stationary value)
    s2_scaled = s2 * np.exp(np.minimum(-logs, 700.0)) if s2 > 0 else 0.0 * logs
    two_r = g @ h
    grad2 = g @ h**2
    tr_sigma = grad2 + h.sum() * (two_r + s2_scaled)
    ghg = g @ h**3
    tr_hs = ghg + np.sum(h**2) * (two_r + s2_scaled)
    return NoiseScale(tr_sigma / grad2, tr_hs / ghg)


def _check_lr_b(lr, batch_size):
    check_real("lr", lr, positive=True)
    check_int("batch_size", batch_size, minimum=1)


def stationary_risk(
    cfg: Config, lr: float | None = None, batch_size: int | None = None
) -> float:
    r"""Stationary excess risk of the exact recursion, (eq-sgd-stationary).

    :math:`R_\infty = \frac{\sigma^2}{2} \frac{\rho}{1 - \rho}`,
    :math:`\rho = \frac{\eta}{B} \sum_j \frac{h_j}{2 - \eta h_j (1 + 1/B)}`;
    ``inf`` at or beyond the stability limit (:func:`max_stable_lr`): the
    defined limit of ``R_inf`` as ``rho -> 1``, there is no stationary state
    (:func:`predict_divergence` gives the step at which the expected risk leaves
    a simulation's range).

    Args:
        cfg: a :class:`Config`.
        lr: learning rate (> 0); default ``cfg.lr``.
        batch_size: B (int >= 1); default ``cfg.batch_size``.

    Returns:
        float, the stationary excess risk ``1/2 E e^T H e``.

    Raises:
        TypeError, ValueError: bad ``cfg``, ``lr`` or ``batch_size``.

    Example:
        >>> from lm_sims import sgd_noise
        >>> round(sgd_noise.stationary_risk(sgd_noise.Config(), lr=0.5), 6)
        0.044137
    """
    _check_cfg(cfg)
    h, lr, b, s2 = _problem(cfg, lr, batch_size)
    _check_lr_b(lr, b)
    return float(_stationary(h, lr, b, s2))


def relaxation_steps(
    cfg: Config, rtol: float = 0.01, *, max_steps: float = 1e6
) -> float:
    r"""Steps after which the expected risk stays within ``rtol`` of stationary.

    The exact recursion (eq-sgd-recursion) is linear in the diagonal of
    :math:`\Gamma_k = E\, e_k e_k^\top`: :math:`g_{k+1} = M g_k + c` with
    :math:`M = \mathrm{diag}((1 - \eta h)^2 + \eta^2 h^2/B) + (\eta^2/B)\, h
    h^\top` (symmetric) and :math:`c = \eta^2 \sigma^2 h / B`, from
    :math:`g_0 = 1` (:math:`w_* \sim N(0, I)`, :math:`w_0 = 0`). With
    :math:`M = \sum_i \mu_i v_i v_i^\top`, :math:`R_k - R_\infty = \tfrac12
    \sum_i a_i \mu_i^k`, :math:`a_i = (h \cdot v_i)(v_i \cdot (g_0 -
    g_\infty))`, and :math:`\tfrac12 \sum_i |a_i| |\mu_i|^k` bounds it and
    decreases in k. Returned: the first integer step at which that bound is at
    most ``rtol * R_inf``, so :func:`predict_risk` is within ``rtol`` of
    :func:`stationary_risk` from there on (a guarantee; the risk itself may get
    there a little sooner). Costs one d x d eigendecomposition, whatever the
    number of steps (iterating the recursion costs O(d) per step).

    Args:
        cfg: a :class:`Config` (``lr``, ``batch_size``, ``noise``, ``alpha``,
            ``dim`` are used).
        rtol: relative tolerance (0 < rtol < 1).
        max_steps: search limit (>= 1).

    Returns:
        float: the step count (a whole number), or ``inf`` if the bound is still
        above ``rtol * R_inf`` at ``max_steps``, if ``lr`` is at or beyond the
        stability limit (no stationary state), or if ``noise`` is 0
        (``R_inf = 0``: no relative tolerance is met before the risk is 0).

    Raises:
        TypeError, ValueError: bad ``cfg``, ``rtol`` or ``max_steps``.

    References:
        McCandlish et al., "An empirical model of large-batch training", 2018,
        arXiv:1812.06162 (the recursion as Chapter 4.3 writes it).

    Example:
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config(lr=0.5)
        >>> k = sgd_noise.relaxation_steps(cfg)
        >>> k
        1004.0
        >>> risk = sgd_noise.predict_risk(cfg, [k])[0]
        >>> bool(abs(risk / sgd_noise.stationary_risk(cfg) - 1) <= 0.01)
        True
    """
    _check_cfg(cfg)
    check_real("rtol", rtol, low=0.0, high=1.0)
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1), got rtol={rtol}")
    check_real("max_steps", max_steps, low=1.0)
    h, lr, b, s2 = _problem(cfg)
    stat = _stationary(h, lr, b, s2)
    if not np.isfinite(stat) or stat <= 0:
        return np.inf
    m = np.diag((1.0 - lr * h) ** 2 + lr**2 * h**2 / b) + (lr**2 / b) * np.outer(h, h)
    mu, v = np.linalg.eigh(m)
    if np.max(np.abs(mu)) >= 1:
        return np.inf
    g_inf = np.linalg.solve(np.eye(h.size) - m, lr**2 * s2 / b * h)
    a = np.abs((h @ v) * (v.T @ (1.0 - g_inf)))
    mu = np.abs(mu)
    target = rtol * stat

    def bound(k):
        return 0.5 * float(np.sum(a * mu**k))

    if bound(0) <= target:
        return 0.0
    hi = float(math.floor(max_steps))
    if bound(hi) > target:
        return np.inf
    lo = 0.0  # bound(lo) > target >= bound(hi)
    while hi - lo > 1:
        mid = math.floor((lo + hi) / 2)
        if bound(mid) > target:
            lo = float(mid)
        else:
            hi = float(mid)
    return hi


def stationary_risk_small_lr(
    cfg: Config, lr: float | None = None, batch_size: int | None = None
) -> float:
    r"""Leading small-lr stationary risk, :math:`\eta \sigma^2 \mathrm{tr}(H)/(4B)`.

    The first term of (eq-sgd-stationary) in :math:`\eta`: a function of
    :math:`\eta / B` only (the linear scaling rule), :math:`T\,\mathrm{tr}H/2`
    with the temperature :math:`T = \eta\sigma^2/(2B)` of the SDE picture (Mandt
    et al. 2017). Its ratio to the exact value is :math:`(\rho_0/\rho)(1 - \rho)`
    with :math:`\rho_0 = \eta\,\mathrm{tr}(H)/(2B)`: the feedback factor
    :math:`1 - \rho` depends mostly on :math:`\eta/B` (and dominates at B = 1), the
    discreteness factor :math:`\rho_0/\rho = 1 - O(\eta h_{\max})` makes the
    error grow with B at fixed :math:`\eta/B`.

    It is finite for every ``lr``, also at and beyond :func:`max_stable_lr`,
    where the exact :func:`stationary_risk` is ``inf``: compare ``lr`` with
    :func:`max_stable_lr` before trusting it.

    Args:
        cfg: a :class:`Config`.
        lr: learning rate (> 0); default ``cfg.lr``.
        batch_size: B (int >= 1); default ``cfg.batch_size``.

    Returns:
        float.

    Raises:
        TypeError, ValueError: bad ``cfg``, ``lr`` or ``batch_size``.

    Example:
        >>> from lm_sims import sgd_noise
        >>> sgd_noise.stationary_risk_small_lr(sgd_noise.Config(), lr=0.5)
        0.03125
    """
    _check_cfg(cfg)
    h, lr, b, s2 = _problem(cfg, lr, batch_size)
    _check_lr_b(lr, b)
    return lr * s2 * float(h.sum()) / (4.0 * b)


def max_stable_lr(cfg: Config, batch_size: int | None = None) -> float:
    r"""Largest learning rate at which the second-moment recursion is stable.

    The root of :math:`\rho(\eta) = 1` (rho of (eq-sgd-stationary), increasing in
    :math:`\eta`) below :math:`2B / ((B + 1) h_{\max})`; the stationary risk
    diverges as :math:`\eta` approaches it. For :math:`B \to \infty` it tends to
    gradient descent's :math:`2 / h_{\max}`; for small B it is about
    :math:`2B/\mathrm{tr}\,H`.

    Args:
        cfg: a :class:`Config` (``dim``, ``alpha``).
        batch_size: B (int >= 1); default ``cfg.batch_size``.

    Returns:
        float, relative precision 1e-12.

    Raises:
        TypeError, ValueError: bad ``cfg`` or ``batch_size``.

    Example:
        >>> from lm_sims import sgd_noise
        >>> round(sgd_noise.max_stable_lr(sgd_noise.Config(), batch_size=1), 4)
        1.6786
    """
    _check_cfg(cfg)
    b = cfg.batch_size if batch_size is None else batch_size
    check_int("batch_size", b, minimum=1)
    h = spectrum(cfg.dim, float(cfg.alpha))
    return float(_max_stable_lr(h, b))


def _max_stable_lr(h, b):
    lo, hi = 0.0, 2.0 * b / ((b + 1.0) * h.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _s_value(h, mid, b) < 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return lo


# --- steps to a target risk -------------------------------------------------------


def _crossings(h, lrs, b, s2, target, max_steps, stop_first=False):
    """Real-valued first step at which the expected risk reaches ``target``, for
    each learning rate in ``lrs`` (iterating the recursion for all of them at
    once; log-linear interpolation between the two integer steps around the
    crossing). ``inf`` where it is not reached within ``max_steps``. With
    ``stop_first`` the iteration ends at the first integer step at which any of
    them has crossed (the others stay ``inf``)."""
    lrs = np.asarray(lrs, np.float64)[:, None]
    diag = (1.0 - lrs * h) ** 2 + lrs**2 * h**2 / b
    rho, c = lrs**2 / b, lrs**2 * s2 / b * h
    g = np.ones((lrs.shape[0], h.size))
    r_prev = 0.5 * g @ h
    out = np.full(lrs.shape[0], np.inf)
    if np.any(r_prev <= target):
        return np.where(r_prev <= target, 0.0, np.inf)
    live = np.ones(lrs.shape[0], bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(1, int(max_steps) + 1):
            g = diag * g + rho * (g @ h)[:, None] * h + c
            r = 0.5 * g @ h
            hit = live & (r <= target)
            if hit.any():
                frac = np.log(r_prev / target) / np.log(r_prev / r)
                out[hit] = k - 1 + frac[hit]
                live &= ~hit
                if stop_first or not live.any():
                    break
            live &= np.isfinite(r)
            if not live.any():
                break
            r_prev = r
    return out


def _steps_to(h, lr, b, s2, target, max_steps):
    if _s_value(h, lr, b) >= 1 or _stationary(h, lr, b, s2) >= target:
        return np.inf
    return float(_crossings(h, [lr], b, s2, target, max_steps)[0])


def _check_target(cfg, target):
    check_real("target", target, positive=True)
    r0 = 0.5 * float(np.sum(spectrum(cfg.dim, float(cfg.alpha))))
    if target >= r0:
        raise ValueError(
            f"target must be below the initial risk R_0 = {r0:g}, got target={target:g}"
        )


def steps_to_target(cfg: Config, target: float, *, max_steps: float = 1e6) -> float:
    r"""Steps for the expected excess risk to fall to ``target`` (exact recursion).

    The first step at which :func:`predict_risk` is <= ``target``, interpolated
    (linearly in log risk) between it and the step before, so the result is a
    real number that varies smoothly with ``lr``. ``inf`` if the learning
    rate is unstable (``lr >= max_stable_lr``: the expected risk diverges, see
    :func:`predict_divergence`), the stationary risk is above the target, or the
    crossing is beyond ``max_steps``: ``inf`` is the defined value "never
    reached", not an overflow.

    Args:
        cfg: a :class:`Config` (``lr``, ``batch_size``, ``noise``, spectrum).
        target: excess risk to reach (0 < target < R_0 = tr(H)/2).
        max_steps: search horizon in steps (1 .. 1e7).

    Returns:
        float steps.

    Raises:
        TypeError, ValueError: bad ``cfg``, ``target`` or ``max_steps``.

    Example:
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config(lr=0.1)
        >>> round(sgd_noise.steps_to_target(cfg, 0.05))
        803
    """
    _check_cfg(cfg)
    _check_target(cfg, target)
    check_real("max_steps", max_steps, low=1.0, high=1e7)
    h, lr, b, s2 = _problem(cfg)
    return float(_steps_to(h, lr, b, s2, float(target), float(max_steps)))


#: ``tune_lr`` searches learning rates in ``[TUNE_SPAN * hi, hi]`` (log grid).
TUNE_SPAN = 1e-3


def _lr_reaching(h, b, s2, target, lr_max):
    """Largest learning rate whose exact stationary risk is <= ``target`` (the
    root of the increasing (eq-sgd-stationary), by bisection), capped at
    ``lr_max``; above it the target is never reached."""
    if _stationary(h, 0.999 * lr_max, b, s2) <= target:
        return 0.999 * lr_max
    lo, hi = 0.0, 0.999 * lr_max
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _stationary(h, mid, b, s2) <= target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return lo


def _tune_range(h, b, s2, target):
    hi = _lr_reaching(h, b, s2, target, _max_stable_lr(h, b))
    return TUNE_SPAN * hi, hi


def _tune(h, b, s2, target, max_steps):
    """Fewest steps over learning rates: three rounds of 32-point log grids over
    :func:`_tune_range`, each round zooming in on the previous best (the first
    learning rate to cross is the best of its grid, so each round stops there).
    ``(inf, nan)`` if no learning rate of the first grid reaches the target
    within ``max_steps``."""
    lo, hi = np.log(_tune_range(h, b, s2, target))
    best, best_lr = np.inf, np.nan
    for _ in range(3):
        grid = np.linspace(lo, hi, 32)
        steps = _crossings(h, np.exp(grid), b, s2, target, max_steps, True)
        if not np.isfinite(steps).any():
            break
        i = int(np.argmin(steps))
        if steps[i] < best:
            best, best_lr = float(steps[i]), float(np.exp(grid[i]))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    return best, best_lr


def tune_lr(
    cfg: Config, target: float, *, max_steps: float = 1e6
) -> tuple[float, float]:
    r"""The constant learning rate that reaches ``target`` in the fewest steps.

    Minimises :func:`steps_to_target` over :math:`\eta` in ``[1e-3 hi, hi]``,
    where ``hi`` is the largest learning rate whose exact stationary risk
    (:func:`stationary_risk`) is at most ``target`` (above it the target is
    never reached), capped at ``0.999 x`` :func:`max_stable_lr`. Search: a
    32-point log grid over that range, then two more 32-point log grids, each
    over the two grid cells around the previous best (so the learning rate is
    resolved to about 0.01% of the range in log). The steps at each rate come
    from iterating the exact recursion, interpolated between integer steps.

    Args:
        cfg: a :class:`Config` (``batch_size``, ``noise``, spectrum; ``lr`` is
            ignored).
        target: excess risk to reach (0 < target < R_0).
        max_steps: search horizon in steps (1 .. 1e7).

    Returns:
        ``(steps, lr)``: the fewest steps (float) and the learning rate.

    Raises:
        TypeError, ValueError: bad ``cfg``, ``target`` or ``max_steps``.
        ValueError: no learning rate in the searched range reaches ``target``
            within ``max_steps`` (the message gives the range; raise
            ``max_steps``).

    Example:
        >>> from lm_sims import sgd_noise
        >>> steps, lr = sgd_noise.tune_lr(sgd_noise.Config(batch_size=8), 0.05)
        >>> 50 < steps < 60, 2.0 < lr < 2.6
        (True, True)
    """
    _check_cfg(cfg)
    _check_target(cfg, target)
    check_real("max_steps", max_steps, low=1.0, high=1e7)
    h, _, b, s2 = _problem(cfg)
    steps, lr = _tune(h, b, s2, float(target), float(max_steps))
    if not np.isfinite(steps):
        raise ValueError(_exhausted(h, [b], s2, float(target), float(max_steps)))
    return steps, lr


def _exhausted(h, bs, s2, target, max_steps):
    lo, hi = _tune_range(h, bs[0], s2, target)
    return (
        f"no learning rate in [{lo:.3g}, {hi:.3g}] (B = {bs[0]}) reaches "
        f"target={target:g} within max_steps={max_steps:g}"
        + (f"; also batch sizes {bs[1:]}" if len(bs) > 1 else "")
        + ": the searched range is exhausted (raise max_steps or the target)"
    )


def critical_batch(
    cfg: Config,
    target: float,
    batch_sizes: ArrayLike = (1, 2, 4, 8, 16, 32, 64),
    *,
    fit_max: int = 64,
) -> CriticalBatch:
    r"""Tuned steps S(B) and examples E(B) to ``target``, and the fitted trade-off.

    For each B, :func:`tune_lr` gives the fewest steps S(B). A least-squares fit
    in relative error, over the batch sizes <= ``fit_max``, of
    :math:`S = S_{\min}(1 + B_\text{crit}/B)` (linear in 1/B) gives
    :math:`S_{\min}` and :math:`B_\text{crit}`; :math:`E_{\min} = S_{\min}
    B_\text{crit}`, and then :math:`E = E_{\min}(1 + B/B_\text{crit})` and
    :math:`(S/S_{\min} - 1)(E/E_{\min} - 1) = 1` on the fitted curve.

    Args:
        cfg: a :class:`Config` (``noise``, spectrum).
        target: excess risk to reach (0 < target < R_0).
        batch_sizes: (n,) distinct integers >= 1, at least two <= ``fit_max``.
        fit_max: largest batch size used in the fit (int >= 2).

    Returns:
        :class:`CriticalBatch`.

    Raises:
        TypeError, ValueError: bad ``cfg``, ``target``, ``batch_sizes`` or
            ``fit_max``; a batch size for which :func:`tune_lr` finds no
            learning rate reaching the target within 1e6 steps.

    References:
        McCandlish et al., "An empirical model of large-batch training", 2018,
        arXiv:1812.06162 (eq. 2.11).

    Example:
        >>> from lm_sims import sgd_noise
        >>> cb = sgd_noise.critical_batch(sgd_noise.Config(), 0.05, (1, 4, 16))
        >>> 40 < cb.b_crit < 70
        True
    """
    _check_cfg(cfg)
    _check_target(cfg, target)
    check_int("fit_max", fit_max, minimum=2)
    bs = np.asarray(batch_sizes)
    if bs.ndim != 1 or bs.size < 2 or not np.issubdtype(bs.dtype, np.integer):
        raise TypeError(
            f"batch_sizes must be a 1-D sequence of >= 2 integers, got {batch_sizes!r}"
        )
    if np.any(bs < 1) or np.unique(bs).size != bs.size:
        raise ValueError(f"batch_sizes must be distinct and >= 1, got {bs.tolist()}")
    if np.sum(bs <= fit_max) < 2:
        raise ValueError(
            f"at least two batch_sizes must be <= fit_max={fit_max}, got {bs.tolist()}"
        )
    h, _, _, s2 = _problem(cfg)
    steps, lrs = np.empty(bs.size), np.empty(bs.size)
    for i, b in enumerate(bs):
        steps[i], lrs[i] = _tune(h, int(b), s2, float(target), 1e6)
    if not np.all(np.isfinite(steps)):
        bad = bs[~np.isfinite(steps)].tolist()
        raise ValueError(_exhausted(h, bad, s2, float(target), 1e6))
    sel = bs <= fit_max
    design = np.stack([np.ones(sel.sum()), 1.0 / bs[sel]], axis=1) / steps[sel, None]
    coef = np.linalg.lstsq(design, np.ones(sel.sum()), rcond=None)[0]
    s_min, b_crit = float(coef[0]), float(coef[1] / coef[0])
    return CriticalBatch(
        bs.astype(np.int64),
        steps,
        bs * steps,
        lrs,
        s_min,
        s_min * b_crit,
        b_crit,
        int(fit_max),
    )


# --- simulation -------------------------------------------------------------------


def _train(key, cfg, every):
    """``cfg.steps`` is the number of records after the first (``record_every`` 1 in
    ``cfg``, static); ``every``, traced, is the steps between records: one program
    serves every run length with the same record count."""
    dtype = jnp.result_type(float)
    k = jnp.arange(1, cfg.dim + 1, dtype=dtype) ** -jnp.asarray(cfg.alpha, dtype)
    h = k / jnp.sum(k)
    sqrt_h = jnp.sqrt(h)
    lr = jnp.asarray(cfg.lr, dtype)
    sigma = jnp.asarray(cfg.noise, dtype)
    s2 = sigma**2
    b = cfg.batch_size
    r0 = 0.5 * jnp.sum(h)  # E R_0 (w* ~ N(0, I))
    limit = BLOWUP * (1.0 + r0)
    k_teacher, k_data = jax.random.split(key)
    w_star = jax.random.normal(k_teacher, (cfg.num_runs, cfg.dim), dtype)
    run_keys = jax.random.split(k_data, cfg.num_runs)

    def stats(e):
        two_r = jnp.sum(h * e**2)
        grad2 = jnp.sum(h**2 * e**2)
        ghg = jnp.sum(h**3 * e**2)
        tr_sigma = grad2 + jnp.sum(h) * (two_r + s2)
        tr_hs = ghg + jnp.sum(h**2) * (two_r + s2)
        return 0.5 * two_r, jnp.stack([tr_sigma, grad2, tr_hs, ghg])

    def one_run(run_key, e0):
        def step(carry, i):
            e, dead = carry
            kx, kn = jax.random.split(jax.random.fold_in(run_key, i))
            x = jax.random.normal(kx, (b, cfg.dim), dtype) * sqrt_h
            xi = jax.random.normal(kn, (b,), dtype) * sigma
            resid = x @ e - xi  # x^T w - y with y = x^T w* + xi
            e_new = e - lr / b * (x.T @ resid)
            r_new = 0.5 * jnp.sum(h * e_new**2)
            bad = ~(r_new < limit)  # NaN-safe
            newly = bad & (dead < 0)
            dead = jnp.where(newly, i + 1, dead)
            e = jnp.where(dead >= 0, e, e_new)
            return (e, dead), None

        def record(carry, j):
            start = j * every
            carry = jax.lax.fori_loop(
                0, every, lambda t, c: step(c, start + t)[0], carry
            )
            e, dead = carry
            r, s = stats(e)
            nan = jnp.where(dead >= 0, jnp.nan, 0.0).astype(dtype)
            return carry, (r + nan, s + nan)

        r_first, s_first = stats(e0)
        idx = jnp.arange(cfg.steps, dtype=every.dtype)
        dead0 = jnp.asarray(-1, idx.dtype)
        (_, dead), (rs, ss) = jax.lax.scan(record, (e0, dead0), idx)
        rs = jnp.concatenate([r_first[None], rs])
        ss = jnp.concatenate([s_first[None], ss])
        return rs, ss, dead

    risk, s, dead = jax.vmap(one_run)(run_keys, -w_star)
    risk = risk.T  # (records, runs)
    mean_s = jnp.mean(s, axis=0)  # (records, 4); NaN once any run diverged
    any_dead = dead >= 0
    first = jnp.where(any_dead, dead, jnp.iinfo(dead.dtype).max).min()
    diverged_step = jnp.where(any_dead.any(), first, -1)
    step_idx = jnp.arange(risk.shape[0], dtype=every.dtype) * every
    return Trajectory(
        step=step_idx,
        t=lr * step_idx.astype(dtype),
        loss=jnp.mean(risk, axis=1),
        risk=risk,
        b_simple=mean_s[:, 0] / mean_s[:, 1],
        b_noise=mean_s[:, 2] / mean_s[:, 3],
        diverged_step=diverged_step,
    )


_train_jit = jax.jit(_train)


def _run_program(key, cfg):
    """``_train_jit`` with the run length traced: compiles once per
    (dim, batch_size, records, num_runs), whatever ``steps``."""
    every = cfg.record_every
    shape_cfg = dataclasses.replace(cfg, steps=cfg.steps // every, record_every=1)
    return _train_jit(key, shape_cfg, jnp.asarray(every, jnp.result_type(int)))


def train(key: jax.Array, cfg: Config) -> Trajectory:
    r"""Simulate ``num_runs`` independent runs of online minibatch SGD.

    Each run draws its own teacher :math:`w_* \sim N(0, I_d)` and a fresh batch
    of ``batch_size`` inputs :math:`x \sim N(0, H)` (H diagonal, :func:`spectrum`)
    and labels :math:`y = x^\top w_* + \sigma\xi` at every step, from
    :math:`w_0 = 0`. vmap over runs, ``lax.scan`` over steps (recording every
    ``record_every``); jitted, with ``lr``, ``noise`` and ``alpha`` traced (a
    sweep over them does not recompile), and the run length too: one program per
    (``dim``, ``batch_size``, ``steps // record_every``, ``num_runs``), so runs of
    any length with the same number of records share it. A run whose risk
    exceeds ``BLOWUP * (1 + R_0)`` is frozen and its later records are NaN;
    ``diverged_step`` is the first such step over all runs.

    Args:
        key: PRNG key (split into teacher and data keys).
        cfg: a :class:`Config`.

    Returns:
        :class:`Trajectory` with ``steps // record_every + 1`` records.

    Raises:
        TypeError: ``key`` not a PRNG key or ``cfg`` not a :class:`Config`.
        ValueError: the run would allocate more than ``LM_SIMS_MAX_BYTES``.

    References:
        McCandlish et al., "An empirical model of large-batch training", 2018,
        arXiv:1812.06162.

    Example:
        >>> import jax
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config(steps=200, num_runs=8)
        >>> traj = sgd_noise.train(jax.random.key(0), cfg)
        >>> traj.risk.shape, bool(traj.loss[-1] < traj.loss[0])
        ((21, 8), True)
    """
    check_key(key)
    _check_cfg(cfg)
    _check_memory(cfg)
    return _run_program(key, cfg)


def simulated_steps_to_target(traj: Trajectory, target: float) -> float:
    """First recorded step at which the run-averaged risk is <= ``target``.

    Args:
        traj: a :class:`Trajectory` from :func:`train`.
        target: excess risk (> 0).

    Returns:
        float step (a multiple of ``record_every``), or ``inf`` if never reached
        (or the runs diverged first).

    Raises:
        TypeError: ``traj`` not a Trajectory.
        ValueError: bad ``target``.

    Example:
        >>> import jax
        >>> from lm_sims import sgd_noise
        >>> cfg = sgd_noise.Config(steps=200, num_runs=8, record_every=1)
        >>> traj = sgd_noise.train(jax.random.key(0), cfg)
        >>> sgd_noise.simulated_steps_to_target(traj, 0.4) < 20
        True
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a sgd_noise.Trajectory, got {type(traj)}")
    check_real("target", target, positive=True)
    loss = np.asarray(traj.loss, np.float64)
    hit = np.flatnonzero(loss <= target)
    return float(np.asarray(traj.step)[hit[0]]) if hit.size else np.inf
