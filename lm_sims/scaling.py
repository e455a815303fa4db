"""Neural scaling laws from power-law spectra: a solvable random-feature model.

The model (Maloney, Roberts & Sully 2022; Bordelon, Atanasov & Pehlevan 2024). A
sample ``x`` has ``M = num_modes`` latent coordinates ``phi_k(x) ~ N(0, 1)`` i.i.d.;
its features are ``psi_k = sqrt(lambda_k) phi_k`` with the power-law spectrum
``lambda_k = k^-alpha``. The target is ``f*(x) = sum_k v_k phi_k(x)`` with power
``v_k^2 ∝ k^-r`` (``sum_k v_k^2 = 1``), labels ``y = f*(x) + noise * xi``. A model of
size ``N = width`` sees ``N`` random features ``z = A psi`` (``A``: ``N x M``, i.i.d.
``N(0, 1/N)``, a random projection; ``width=None`` is the limit ``N -> inf``, where
``z = psi``) and predicts ``f(x) = w . z``. Gradient descent from ``w = 0`` on the
training loss ``1/2 mean (f - y)^2`` over ``n`` samples (``n=None``: the population
loss, infinite data) at learning rate ``lr`` (default ``1/lambda_1 = 1``) for
``steps`` steps, time ``t = lr * steps``.

Because the ``phi_k`` are orthonormal, the test error of any ``w`` is exact, with no
test-set sampling: writing ``beta = Lambda^(1/2) A^T w`` for the learned function's
coefficients, ``E = ||beta - v||^2 + noise^2`` (a plain mean squared error against
noisy test labels, as in :mod:`lm_sims.eigenlearning`).

Three axes, three laws (the book's Chapter 3.1):

* data: ``N = t = inf``: gradient descent converges to the minimum-norm
  interpolant, kernel regression with kernel eigenvalues ``lambda_k``; the
  eigenlearning equations (:mod:`lm_sims.eigenlearning`) give the whole curve
  ``E(n)``, ``~ n^-(r-1)`` for ``r < 2 alpha + 1`` and ``n^-2alpha`` beyond;
* model size: ``n = t = inf``: the error of the best function in the span of ``N``
  random features, with deterministic equivalent
  ``E(N) = sum_k v_k^2 kappa_N / (lambda_k + kappa_N)``,
  ``sum_k lambda_k / (lambda_k + kappa_N) = N``, ``~ N^-min(r-1, alpha)``;
* time: ``n = N = inf``: the gradient-flow mode sum
  ``E(t) = sum_k v_k^2 exp(-2 lambda_k t) ~ t^-(r-1)/alpha``.

:func:`train` runs gradient descent step by step (``lm_sims.training.run``). The
curve functions (:func:`simulate_test_mse`, :func:`data_curve`, :func:`width_curve`,
:func:`time_curve`, :func:`isoflop`) compute the same gradient-descent iterates
exactly in the eigenbasis of the quadratic loss, in float64, for any number of steps
(``np.inf``: the converged limit) at the cost of one eigendecomposition per trial.

The quanta model (Michaud et al. 2023) and the digits kernel (a real spectrum) are
at the end of the module.

References:
    Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
    arXiv:2001.08361.
    Maloney, Roberts & Sully, "A Solvable Model of Neural Scaling Laws", 2022,
    arXiv:2210.16859.
    Bordelon, Atanasov & Pehlevan, "A Dynamical Model of Neural Scaling Laws",
    2024, arXiv:2402.01092.
    Michaud, Liu, Girit & Tegmark, "The Quantization Model of Neural Scaling",
    2023, arXiv:2303.13506.
    Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from lm_sims import eigenlearning as _el
from lm_sims._compat import enable_x64
from lm_sims._config import (
    check_allocation,
    check_callable,
    check_int,
    check_key,
    check_real,
    check_record_every,
    config_dataclass,
    diverged_flag,
)
from lm_sims._linearized import divergence
from lm_sims.fitting import power_law_fit
from lm_sims.training import run

__all__ = [
    "Config",
    "Frontier",
    "Params",
    "QuantaConfig",
    "ScalingCurve",
    "DigitsSpectrum",
    "Divergence",
    "Trajectory",
    "compute_frontier",
    "data_curve",
    "digits_learning_curve",
    "digits_spectrum",
    "init",
    "isoflop",
    "predict_data",
    "predict_digits",
    "predict_divergence",
    "predict_exponents",
    "predict_quanta",
    "predict_time",
    "predict_width",
    "predict_width_time",
    "quanta_curve",
    "quanta_frequencies",
    "simulate_quanta",
    "simulate_test_mse",
    "spectrum",
    "time_curve",
    "train",
    "width_curve",
]

MAX_ALPHA = _el.MAX_ALPHA
# Trials run in batches of this many inside one compiled loop (bounded memory).
_SEED_BATCH = 4


@config_dataclass(static=("num_modes", "n", "width", "steps", "record_every"))
class Config:
    """The random-feature scaling model.

    Attributes:
        num_modes: number of latent modes ``M`` (static), int >= 2.
        n: training samples (static), int >= 1, or None for the population loss
            (infinite data).
        width: model size ``N``, the number of random features (static), int in
            ``1 .. num_modes - 1``, or None for ``N -> inf`` (the features
            ``psi`` themselves).
        steps: gradient-descent steps of :func:`train` (static), int >= 1.
        record_every: record every this many steps (static); divides ``steps``.
        alpha: spectrum exponent, ``lambda_k = k^-alpha``, ``1 < alpha <= 4``.
        r: target power exponent, ``v_k^2 ∝ k^-r``, ``r > 1``.
        noise: label-noise standard deviation ``>= 0``.
        lr: learning rate ``> 0``; ``1 = 1/lambda_1``. Time is ``t = lr * steps``.
            Gradient descent converges only for ``lr < 2 / lambda_max``, with
            ``lambda_max`` the top eigenvalue of the draw's Hessian: ``lambda_1 = 1``
            for ``n = width = None`` (so ``lr < 2``), but the empirical kernel of
            ``n`` samples (``z z^T / n``) or of ``N`` random features sits above
            ``lambda_1``, roughly ``lambda_max ~ 1 + sum_k lambda_k / n`` (or
            ``/ N``; ``sum_k k^-1.5 ~ 2.6``). The default ``lr=1`` therefore
            diverges for ``n <= 4`` at ``alpha = 1.5`` (``n = 1, 2, 4`` with
            ``jax.random.key(0)``) and for small ``width``; use ``lr = 0.5`` there.
            Divergence is a result: :attr:`Trajectory.diverged_step` in
            :func:`train`; in :func:`simulate_test_mse`, NaN from the same step
            on (:func:`predict_divergence`) and ``inf`` for ``steps = inf``.
    """

    num_modes: int = 2000
    n: int | None = 256
    width: int | None = None
    steps: int = 1000
    record_every: int = 100
    alpha: float = 1.5
    r: float = 2.0
    noise: float = 0.0
    lr: float = 1.0

    def _validate(self):
        check_int("num_modes", self.num_modes, minimum=2)
        if self.n is not None:
            check_int("n", self.n, minimum=1)
        if self.width is not None:
            check_int("width", self.width, minimum=1, maximum=self.num_modes - 1)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        check_real("alpha", self.alpha)
        if not 1.0 < float(self.alpha) <= MAX_ALPHA:
            raise ValueError(
                f"alpha must be > 1 and <= {MAX_ALPHA:g}, got alpha={self.alpha:g}"
            )
        check_real("r", self.r)
        if not float(self.r) > 1.0:
            raise ValueError(f"r must be > 1, got r={self.r:g}")
        check_real("noise", self.noise, nonnegative=True)
        check_real("lr", self.lr, positive=True)


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a scaling.Config, got {type(cfg).__name__}")


# --------------------------------------------------------------------------------------
# Theory (NumPy float64)
# --------------------------------------------------------------------------------------


def spectrum(
    cfg: Config,
) -> tuple[Float[np.ndarray, " num_modes"], Float[np.ndarray, " num_modes"]]:
    """Eigenvalues ``lambda_k = k^-alpha`` and target coefficients ``v_k`` of ``cfg``.

    ``v_k = k^(-r/2) / sqrt(sum_j j^-r)``, so ``sum_k v_k^2 = 1`` (NumPy float64,
    both ``(num_modes,)``).

    Example:
        >>> lam, v = spectrum(Config(num_modes=100))
        >>> float(lam[0]), round(float((v**2).sum()), 12)
        (1.0, 1.0)
    """
    _check_cfg(cfg)
    check_allocation("scaling.spectrum", 8.0 * 4 * cfg.num_modes, "lower num_modes")
    k = np.arange(1, cfg.num_modes + 1, dtype=np.float64)
    v = k ** (-float(cfg.r) / 2)
    return k ** -float(cfg.alpha), v / np.sqrt(np.sum(v**2))


def _real_values(name, value):
    """``value`` as a float64 NumPy array, or TypeError naming ``name`` for
    strings, bools, None and other non-numbers."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be real numbers, got {name}={value!r:.80} "
            f"({type(value).__name__})"
        )
    try:
        raw = np.asarray(value, dtype=object)
    except ValueError:
        raw = None
    if (
        raw is None
        or np.asarray(value).dtype.kind not in "iuf"
        or any(isinstance(x, (bool, np.bool_, str, bytes)) for x in raw.ravel())
    ):
        raise TypeError(
            f"{name} must be real numbers (not bools or strings), got "
            f"{name}={value!r:.80}"
        )
    return np.atleast_1d(np.asarray(value, dtype=np.float64))


def _int_sizes(name, values, maximum=None):
    """``values`` as a list of Python ints: a non-empty 1-D sequence of integers
    (no floats, bools or strings), each in ``1 .. maximum``."""
    if isinstance(values, (str, bytes)) or not isinstance(
        values, (Sequence, np.ndarray, range)
    ):
        raise TypeError(
            f"{name} must be a sequence of ints, got {name}={values!r:.80} "
            f"({type(values).__name__})"
        )
    if np.ndim(values) != 1 or len(values) == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of ints, got {name}="
            f"{values!r:.80}"
        )
    for m in values:
        check_int(name, m, minimum=1, maximum=maximum)
    return [int(m) for m in values]


def _positive_array(name, value, integer=False):
    a = _real_values(name, value)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {name}={value!r:.80}")
    if integer and np.any(a != np.round(a)):
        raise ValueError(f"{name} must hold integers, got {name}={value!r:.80}")
    return a


def predict_data(cfg: Config, n: Any) -> Float[np.ndarray, " points"]:
    """Eigenlearning test MSE at ``n`` samples (``N = t = inf``), eq. ``eq-sc-data``.

    The converged gradient-descent solution from ``w = 0`` is the minimum-norm
    interpolant, kernel regression at ridge 0 with eigenvalues ``lambda_k``, so
    :func:`lm_sims.eigenlearning.predict_test_mse` gives the whole curve.

    Args:
        cfg: the model (``num_modes``, ``alpha``, ``r``, ``noise``).
        n: sample sizes, ``(points,)`` reals in ``(0, num_modes)``.

    Returns:
        ``(points,)`` float64 test MSE against noisy labels.

    Raises:
        ValueError: ``n`` not positive or ``>= num_modes``.

    References:
        Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.

    Example:
        >>> e = predict_data(Config(num_modes=500), [16, 64])
        >>> bool(e[1] < e[0])
        True
    """
    _check_cfg(cfg)
    ns = _positive_array("n", n)
    lam, v = spectrum(cfg)
    return np.array(
        [_el.predict_test_mse(lam, v, m, 0.0, float(cfg.noise)) for m in ns]
    )


def _widths_below_modes(cfg, width):
    ws = _positive_array("width", width)
    if np.any(ws >= cfg.num_modes):
        raise ValueError(
            f"width must be < num_modes={cfg.num_modes} (ridge 0: N features "
            f"can span at most the M modes), got width={width!r:.80}"
        )
    return ws


def _kappa_width(lam, width):
    return _el.effective_regularization(lam, float(width))


def predict_width(cfg: Config, width: Any) -> Float[np.ndarray, " points"]:
    """Deterministic-equivalent test MSE of ``N`` random features (``n = t = inf``).

    With infinite data and time the model reaches the best function in the span of
    its ``N`` features, the projection of the target on a random ``N``-dimensional
    subspace; its average error is (eq. ``eq-sc-width``)

    .. math:: E(N) = \\sum_k v_k^2 \\frac{\\kappa_N}{\\lambda_k + \\kappa_N} +
        \\sigma^2, \\qquad \\sum_k \\frac{\\lambda_k}{\\lambda_k + \\kappa_N} = N,

    first order in ``kappa_N ~ N^-alpha`` (a projection has no variance term),
    so the law saturates at ``N^-alpha``, not at ``N^-2alpha`` as the data law.

    Args:
        cfg: the model.
        width: ``(points,)`` model sizes in ``(0, num_modes)``.

    Returns:
        ``(points,)`` float64 test MSE.

    Raises:
        TypeError: ``width`` not real numbers (strings, bools).
        ValueError: ``width`` not in ``(0, num_modes)``.

    References:
        Maloney, Roberts & Sully, "A Solvable Model of Neural Scaling Laws", 2022,
        arXiv:2210.16859.

    Example:
        >>> e = predict_width(Config(num_modes=500), [16, 64])
        >>> bool(e[1] < e[0])
        True
    """
    _check_cfg(cfg)
    ws = _widths_below_modes(cfg, width)
    lam, v = spectrum(cfg)
    out = []
    for w in ws:
        kappa = _kappa_width(lam, w)
        out.append(np.sum(v**2 * kappa / (lam + kappa)) + float(cfg.noise) ** 2)
    return np.array(out)


def _times(name, t):
    a = _real_values(name, t)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if np.any(np.isnan(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be >= 0 (inf allowed), got {name}={t!r:.80}")
    return a


def predict_time(cfg: Config, t: Any) -> Float[np.ndarray, " points"]:
    """Gradient-flow mode sum ``E(t) = sum_k v_k^2 exp(-2 lambda_k t) + sigma^2``.

    Gradient flow on the population loss (``n = N = inf``) learns mode ``k`` as
    ``1 - exp(-lambda_k t)``; eq. ``eq-sc-time``. ``~ t^-(r-1)/alpha``.

    Args:
        cfg: the model.
        t: ``(points,)`` times ``t = lr * steps >= 0``.

    Returns:
        ``(points,)`` float64 test MSE.

    Raises:
        TypeError: ``t`` not real numbers (strings, bools).
        ValueError: ``t`` negative or NaN; the arrays would exceed the memory
            limit.

    References:
        Bordelon, Atanasov & Pehlevan, "A Dynamical Model of Neural Scaling
        Laws", 2024, arXiv:2402.01092.

    Example:
        >>> float(predict_time(Config(num_modes=100), [0.0])[0])
        1.0
    """
    _check_cfg(cfg)
    ts = _times("t", t)
    check_allocation(
        "scaling.predict_time",
        8.0 * 2 * ts.size * cfg.num_modes,
        "lower num_modes or the number of times",
    )
    lam, v = spectrum(cfg)
    decay = np.exp(-2.0 * np.outer(ts, lam))
    return decay @ v**2 + float(cfg.noise) ** 2


def predict_width_time(
    cfg: Config, width: Any, t: Any
) -> Float[np.ndarray, "widths points"]:
    """Test MSE of ``N`` random features after time ``t`` (infinite data), approx.

    Interpolates the two exact limits: the ``L_k = lambda_k / (lambda_k +
    kappa_N)`` captured part of each mode is learned at its rate, the rest is out
    of reach (eq. ``eq-sc-width-time``):

    .. math:: E(N, t) \\approx \\sum_k v_k^2 \\Big[(1 - L_k) + L_k
        e^{-2\\lambda_k t}\\Big] + \\sigma^2,

    exact as ``N -> inf`` (:func:`predict_time`) and as ``t -> inf``
    (:func:`predict_width`).

    Args:
        cfg: the model.
        width: ``(widths,)`` model sizes in ``(0, num_modes)``.
        t: ``(points,)`` times ``>= 0``.

    Returns:
        ``(widths, points)`` float64.

    References:
        Bordelon, Atanasov & Pehlevan, "A Dynamical Model of Neural Scaling
        Laws", 2024, arXiv:2402.01092.

    Example:
        >>> predict_width_time(Config(num_modes=100), [10, 20], [1.0, 2.0]).shape
        (2, 2)
    """
    _check_cfg(cfg)
    ws = _widths_below_modes(cfg, width)
    ts = _times("t", t)
    check_allocation(
        "scaling.predict_width_time",
        8.0 * 2 * (ts.size + 4) * cfg.num_modes,
        "lower num_modes or the number of times",
    )
    lam, v = spectrum(cfg)
    decay = np.exp(-2.0 * np.outer(lam, ts))  # (modes, points)
    out = []
    for w in ws:
        kappa = _kappa_width(lam, w)
        ell = lam / (lam + kappa)
        out.append((v**2 * (1 - ell)).sum() + (v**2 * ell) @ decay)
    return np.array(out) + float(cfg.noise) ** 2


def predict_exponents(alpha: float, r: float) -> dict[str, float]:
    """Asymptotic scaling exponents of the model (no noise).

    Returns:
        ``{"data": -min(r - 1, 2 alpha), "width": -min(r - 1, alpha),
        "time": -(r - 1) / alpha, "frontier_width": 1 / (1 + alpha),
        "frontier_loss": -(r - 1) / (1 + alpha)}``; the two frontier exponents
        hold for ``r - 1 < alpha`` (otherwise the width law has saturated).

    Example:
        >>> predict_exponents(1.5, 5.0)["data"]
        -3.0
    """
    check_real("alpha", alpha)
    check_real("r", r)
    if not 1.0 < float(alpha) <= MAX_ALPHA or not float(r) > 1.0:
        raise ValueError(
            f"need 1 < alpha <= {MAX_ALPHA:g} and r > 1, got alpha={alpha}, r={r}"
        )
    a, s = float(alpha), float(r) - 1.0
    return {
        "data": -min(s, 2 * a),
        "width": -min(s, a),
        "time": -s / a,
        "frontier_width": 1 / (1 + a),
        "frontier_loss": -s / (1 + a),
    }


# --------------------------------------------------------------------------------------
# Simulation: gradient descent step by step
# --------------------------------------------------------------------------------------


class Params(NamedTuple):
    """Parameters: the readout ``w``, ``(width,)`` (or ``(num_modes,)`` for
    ``width=None``)."""

    w: Float[Array, " features"]


class Trajectory(NamedTuple):
    """A recorded gradient-descent run (``records = steps // record_every + 1``).

    Attributes:
        step: (records,) int, 0, record_every, ..., steps.
        t: (records,) time ``t = lr * step``.
        loss: (records,) training loss ``1/2 mean (f - y)^2`` (population loss
            for ``n=None``).
        test_mse: (records,) exact test MSE ``||beta - v||^2 + noise^2``.
        diverged_step: () int, the first step whose loss blew up, or -1; records
            after it are NaN.
        observed: what ``observe(params)`` recorded, or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    test_mse: Float[Array, " records"]
    diverged_step: Int[Array, ""]
    observed: Any

    @property
    def diverged(self):
        """True if the run diverged (an array for swept runs)."""
        return diverged_flag(self.diverged_step)


def _keys(key):
    k_proj, k_x, k_noise = jax.random.split(key, 3)
    return k_proj, k_x, k_noise


def _pad(width: int) -> int:
    """Projection rows drawn for ``width`` features: the next power of two (>= 8),
    so that widths in one bucket share compiled code and their first rows."""
    return max(8, 1 << (int(width) - 1).bit_length())


def _draw(key, cfg, dtype, active=None):
    """Spectrum, target, projection ``C = Lambda^(1/2) A^T`` (or None) and data.

    ``A`` is the first ``width`` rows of a ``(_pad(width), M)`` Gaussian draw.
    With ``active`` (a traced int), ``cfg.width`` is the padded size and the rows
    from ``active`` on are zero (their features are identically 0: eigenvalue 0,
    never moved by gradient descent). Gaussians are drawn in float32 and cast
    (the float64 sampler needs x64 mode at trace time). The same key gives the
    same draws in :func:`train` and in the exact curves.
    """
    k_proj, k_x, k_noise = _keys(key)
    p = cfg.num_modes
    k = jnp.arange(1, p + 1, dtype=dtype)
    lam = k ** -jnp.asarray(cfg.alpha, dtype)
    v = k ** (-jnp.asarray(cfg.r, dtype) / 2)
    v = v / jnp.sqrt(jnp.sum(v**2))
    proj = None
    if cfg.width is not None:
        rows = cfg.width if active is None else _pad(cfg.width)
        a = jax.random.normal(k_proj, (_pad(rows), p), jnp.float32).astype(dtype)
        if active is None:
            a = a[: cfg.width] / jnp.sqrt(jnp.asarray(cfg.width, dtype))
        else:
            mask = jnp.arange(rows) < active
            a = jnp.where(mask[:, None], a, 0.0) / jnp.sqrt(active.astype(dtype))
        proj = jnp.sqrt(lam)[:, None] * a.T
    phi = y = None
    if cfg.n is not None:
        phi = jax.random.normal(k_x, (cfg.n, p), jnp.float32).astype(dtype)
        xi = jax.random.normal(k_noise, (cfg.n,), jnp.float32).astype(dtype)
        y = phi @ v + jnp.asarray(cfg.noise, dtype) * xi
    return lam, v, proj, phi, y


def _beta(w, lam, proj):
    """Learned coefficients ``beta = Lambda^(1/2) A^T w`` in the phi basis."""
    return jnp.sqrt(lam) * w if proj is None else proj @ w


def _estimate_bytes(cfg, exact=False):
    p = cfg.num_modes
    m = cfg.width if cfg.width is not None else p
    # spectrum, target, parameters, gradient, optimiser and beta: ~8 vectors
    size = 8 * (p + m) + p * (cfg.width or 0)
    if cfg.n is not None:
        size += cfg.n * p + cfg.n * m
        if exact:
            size += 3 * cfg.n * cfg.n + p * cfg.n
    elif exact and cfg.width is not None:
        size += 3 * m * m + p * m
    return 8.0 * size


def init(key: jax.Array, cfg: Config) -> Params:
    """The initial parameters: ``w = 0`` (gradient descent then stays in the span of
    the training features and converges to the minimum-norm solution).

    Example:
        >>> import jax
        >>> init(jax.random.key(0), Config(num_modes=10, width=4)).w.shape
        (4,)
    """
    check_key(key)
    _check_cfg(cfg)
    m = cfg.width if cfg.width is not None else cfg.num_modes
    return Params(jnp.zeros((m,), jnp.result_type(float)))


def train(
    key: jax.Array, cfg: Config, *, observe: Callable[[Params], Any] | None = None
) -> Trajectory:
    """Gradient descent on the random-feature model, one ``lax.scan`` (jitted).

    Draws the projection ``A`` (if ``width``), the ``n`` training samples and
    their labels from ``key``, then runs ``steps`` steps of full-batch gradient
    descent from ``w = 0`` on ``1/2 mean (w . z - y)^2`` (the population loss
    ``1/2 (||beta - v||^2 + noise^2)`` when ``n=None``) through
    :func:`lm_sims.training.run`, recording the training loss and the exact test
    MSE. The same draws as seed i of :func:`simulate_test_mse` when ``key`` is
    ``jax.random.split(key0, num_seeds)[i]``.

    Args:
        key: PRNG key.
        cfg: the :class:`Config`.
        observe: optional function of :class:`Params`, recorded along the run.

    Returns:
        A :class:`Trajectory` in the default float dtype.

    Raises:
        TypeError: bad ``key``, ``cfg`` or ``observe``.
        ValueError: the data would exceed the memory limit (with the estimate).

    References:
        Bordelon, Atanasov & Pehlevan, "A Dynamical Model of Neural Scaling
        Laws", 2024, arXiv:2402.01092.

    Example:
        >>> import jax
        >>> traj = train(jax.random.key(0), Config(num_modes=200, n=50, steps=20,
        ...              record_every=10))
        >>> traj.test_mse.shape, bool(traj.test_mse[-1] < traj.test_mse[0])
        ((3,), True)
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    _check_cfg(cfg)
    check_callable("observe", observe)
    check_allocation(
        "scaling.train's features", _estimate_bytes(cfg) / 2, "lower n or num_modes"
    )
    return _train(key, cfg, observe)


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key, cfg, observe_fn=None):
    dtype = jnp.result_type(float)
    lam, v, proj, phi, y = _draw(key, cfg, dtype)
    noise2 = jnp.asarray(cfg.noise, dtype) ** 2

    def test_mse(prm):
        return jnp.sum((_beta(prm.w, lam, proj) - v) ** 2) + noise2

    if cfg.n is None:

        def loss_fn(prm):
            return 0.5 * test_mse(prm)

    else:
        z = phi * jnp.sqrt(lam) if proj is None else phi @ proj  # (n, features)

        def loss_fn(prm):
            return 0.5 * jnp.mean((z @ prm.w - y) ** 2)

    def observe_all(prm):
        return test_mse(prm), None if observe_fn is None else observe_fn(prm)

    m = cfg.width if cfg.width is not None else cfg.num_modes
    res = run(
        loss_fn,
        Params(jnp.zeros((m,), dtype)),
        cfg.lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        observe=observe_all,
    )
    test, observed = res.observed
    t = jnp.asarray(cfg.lr, dtype) * res.step.astype(dtype)
    return Trajectory(res.step, t, res.loss, test, res.diverged_step, observed)


# --------------------------------------------------------------------------------------
# Simulation: the same gradient-descent iterates, exactly, at any step count
# --------------------------------------------------------------------------------------


def _exact_parts(key, cfg, active=None):
    """Eigen-data of the quadratic loss for one draw (float64, x64 mode):
    ``(d, c, Q, v)`` with the GD iterate ``beta_s = Q (h_s(d) * c)``,
    ``h_s(d) = (1 - (1 - lr d)^s) / d``."""
    dtype = jnp.float64
    lam, v, proj, phi, y = _draw(key, cfg, dtype, active)
    if cfg.n is None:
        # population loss 1/2 ||C w - v||^2: Hessian C^T C = V diag(d) V^T
        d, vecs = jnp.linalg.eigh(proj.T @ proj)
        q = proj @ vecs
        return d, vecs.T @ (proj.T @ v), q, v
    n = cfg.n
    z = phi * jnp.sqrt(lam) if proj is None else phi @ proj  # (n, features)
    d, u = jnp.linalg.eigh(z @ z.T / n)  # w_s = Z^T a_s, a_s = U (h_s(d) * c)
    zu = z.T @ u  # (features, n)
    q = jnp.sqrt(lam)[:, None] * zu if proj is None else proj @ zu
    return d, u.T @ y / n, q, v


def _converged(key, cfg, active=None, check_stable=False):
    """Test MSE of the limit ``t = inf`` (the minimum-norm solution) by one
    Cholesky solve, cheaper than the eigendecomposition. With ``check_stable``,
    ``inf`` where gradient descent at ``cfg.lr`` does not converge
    (``lr * lambda_max >= 2``, the top eigenvalue from ``eigvalsh``)."""
    dtype = jnp.float64
    noise2 = jnp.asarray(cfg.noise, dtype) ** 2
    lr = jnp.asarray(cfg.lr, dtype)
    lam, v, proj, phi, y = _draw(key, cfg, dtype, active)
    if cfg.n is None:
        if cfg.width is None:  # Hessian Lambda: lambda_max = lambda_1
            e = noise2
            if check_stable:
                e = jnp.where(lr * lam[0] >= 2.0, jnp.inf, e)
            return e[None]
        gram, rhs = proj.T @ proj, proj.T @ v
        top = jnp.linalg.eigvalsh(gram)[-1] if check_stable else None
        if active is not None:  # padded features: identity block, zero rhs
            gram = gram + jnp.diag((jnp.arange(cfg.width) >= active).astype(dtype))
    else:
        z = phi * jnp.sqrt(lam) if proj is None else phi @ proj
        gram, rhs = z @ z.T, y
        top = jnp.linalg.eigvalsh(gram)[-1] / cfg.n if check_stable else None
    a = jax.scipy.linalg.solve(gram, rhs, assume_a="pos")
    if cfg.n is None:
        beta = proj @ a
    else:
        beta = _beta(z.T @ a, lam, proj)
    e = jnp.sum((beta - v) ** 2) + noise2
    if check_stable:
        e = jnp.where(lr * top >= 2.0, jnp.inf, e)
    return e[None]


def _exact_curve(key, cfg, steps, active=None):
    """Test MSE ``(len(steps),)`` of gradient descent at each step count, and the
    training loss's modes ``(factors, weights)``: ``L(s) = sum_j weights_j
    factors_j^(2 s)`` (the loss :func:`train` minimises; the last entry, factor
    1, is the part gradient descent cannot move), for
    :func:`lm_sims._linearized.divergence`."""
    dtype = jnp.float64
    lr = jnp.asarray(cfg.lr, dtype)
    noise2 = jnp.asarray(cfg.noise, dtype) ** 2
    one = jnp.ones((1,), dtype)
    if cfg.n is None and cfg.width is None:  # Hessian Lambda, diagonal
        lam, v, *_ = _draw(key, cfg, dtype)
        f = jnp.power(1.0 - lr * lam[None, :], steps[:, None])
        f = jnp.where(jnp.isinf(steps)[:, None], 0.0, f)
        e = jnp.sum(f**2 * v**2, axis=1) + noise2
        # no limit when gradient descent diverges: lr lambda_max >= 2
        e = jnp.where(jnp.isinf(steps) & (lr * lam[0] >= 2.0), jnp.inf, e)
        # population loss 1/2 (sum_k (1 - lr lambda_k)^(2s) v_k^2 + noise^2)
        factors = jnp.concatenate([1.0 - lr * lam, one])
        return e, factors, jnp.concatenate([0.5 * v**2, 0.5 * noise2 * one])
    d, c, q, v = _exact_parts(key, cfg, active)
    tiny = 1e-12 * jnp.max(d)
    s = steps[:, None]
    x = lr * d[None, :]
    finite = jnp.power(1.0 - x, jnp.where(jnp.isinf(s), 1.0, s))
    h = jnp.where(d > tiny, (1.0 - finite) / jnp.where(d > tiny, d, 1.0), lr * s)
    h = jnp.where(jnp.isinf(s), jnp.where(d > tiny, 1.0 / d, 0.0), h)
    beta = (h * c) @ q.T  # (steps, modes)
    e = jnp.sum((beta - v) ** 2, axis=1) + noise2
    # no limit when gradient descent diverges: lr lambda_max >= 2
    e = jnp.where(jnp.isinf(steps) & (lr * jnp.max(d) >= 2.0), jnp.inf, e)
    if cfg.n is None:
        # 1/2 ||v - C w_s||^2 + noise^2/2: the residual along q_j / |q_j| is
        # (1 - lr d_j)^s c_j / sqrt(d_j); the rest of v is out of reach
        w = jnp.where(d > tiny, c**2 / jnp.where(d > tiny, d, 1.0), 0.0)
        rest = jnp.maximum(jnp.sum(v**2) - jnp.sum(w), 0.0) + noise2
        return (
            e,
            jnp.concatenate([1.0 - lr * d, one]),
            0.5 * jnp.concatenate([w, rest * one]),
        )
    # 1/(2n) |y - Z w_s|^2 with U^T (y - Z w_s) = (1 - lr d)^s U^T y = n (1 - lr d)^s c
    weights = 0.5 * cfg.n * c**2
    return (
        e,
        jnp.concatenate([1.0 - lr * d, one]),
        jnp.concatenate([weights, 0.0 * one]),
    )


@functools.partial(jax.jit, static_argnums=(3,))
def _exact_trials(keys, cfg, steps, batch):
    return jax.lax.map(lambda k: _exact_curve(k, cfg, steps), keys, batch_size=batch)


@functools.partial(jax.jit, static_argnums=(4,))
def _padded_trials(keys, cfg, steps, active, batch):
    return jax.lax.map(
        lambda k: _exact_curve(k, cfg, steps, active), keys, batch_size=batch
    )


@functools.partial(jax.jit, static_argnums=(3, 4))
def _converged_trials(keys, cfg, active, batch, check_stable):
    return jax.lax.map(
        lambda k: _converged(k, cfg, active, check_stable), keys, batch_size=batch
    )


def _f64(cfg):
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), cfg)


def simulate_test_mse(
    key: jax.Array, cfg: Config, steps: Any, num_seeds: int = 1
) -> Float[np.ndarray, "seeds points"]:
    """Exact test MSE of gradient descent after each step count, over seeds.

    The loss is quadratic, so the iterates of gradient descent from ``w = 0`` are
    known in closed form in the eigenbasis of its Hessian: mode ``j`` (eigenvalue
    ``d_j``) reaches ``1 - (1 - lr d_j)^s`` of its target after ``s`` steps. One
    eigendecomposition per seed (of the ``n x n`` kernel, or of the ``N x N``
    Hessian when ``n=None``) then gives every step count; ``np.inf`` gives the
    converged limit (the minimum-norm solution). Float64, jitted, the seeds run in
    compiled batches of 4. Seed ``i`` draws the same projection and data as
    ``train(jax.random.split(key, num_seeds)[i], cfg)``. ``cfg.steps`` is not
    used.

    Args:
        key: PRNG key.
        cfg: the :class:`Config` (``n``, ``width`` set the shapes).
        steps: ``(points,)`` step counts ``>= 0`` (integers or ``np.inf``).
        num_seeds: independent draws of projection and data, int >= 1.

    Returns:
        ``(num_seeds, points)`` float64 NumPy array. Where gradient descent at
        ``cfg.lr`` diverges for that seed's draw (``lr * lambda_max > 2``,
        ``lambda_max`` the top eigenvalue of its Hessian, see :class:`Config`),
        a diverging prediction is a result, as for a simulated run: the finite
        step counts ``>= diverged_step`` are NaN (the first step whose training
        loss exceeds ``training.divergence_limit(L_0, 1)``, the rule of
        :func:`train`; :func:`predict_divergence` gives it per seed), and
        ``np.inf`` gives ``inf`` wherever ``lr * lambda_max >= 2``: the defined
        "no converged limit". Stable learning rates: unchanged.

    Raises:
        TypeError: bad ``key``, ``cfg``, ``num_seeds`` or ``steps`` (strings,
            bools).
        ValueError: steps negative or not integer; ``num_seeds < 1``; the
            arrays (including the ``num_seeds`` keys and the output) would exceed
            the memory limit.

    Example:
        >>> import jax, numpy as np
        >>> e = simulate_test_mse(jax.random.key(0), Config(num_modes=300, n=64),
        ...                       [0, 10, np.inf], num_seeds=2)
        >>> e.shape, bool(np.all(e[:, 2] < e[:, 1]))
        ((2, 3), True)
    """
    return _simulate(key, cfg, steps, num_seeds, check_stable=True)


def _seed_bytes(num_seeds, points):
    """The arrays that scale with ``num_seeds``: the split keys (8 bytes each)
    and the float64 ``(num_seeds, points)`` output, its copies and a mask."""
    return 8.0 * num_seeds + 8.0 * 4 * num_seeds * points


def _simulate(key, cfg, steps, num_seeds, check_stable, report=False):
    """:func:`simulate_test_mse`; ``check_stable=False`` keeps the ``t = inf``
    limit (the minimum-norm solution) whatever ``lr`` is: the curves whose
    axis is defined at ``t = inf`` (:func:`data_curve`, :func:`width_curve`).
    With ``report``, returns ``(test MSE, Divergence)``."""
    check_key(key)
    _check_cfg(cfg)
    check_int("num_seeds", num_seeds, minimum=1)
    s = _times("steps", steps)
    if np.any(np.isfinite(s) & (s != np.round(s))):
        raise ValueError(f"steps must be integers or inf, got steps={steps!r:.80}")
    check_allocation(
        "scaling.simulate_test_mse",
        min(num_seeds, _SEED_BATCH) * _estimate_bytes(cfg, exact=True)
        + 8.0 * s.size * cfg.num_modes * min(num_seeds, _SEED_BATCH)
        + _seed_bytes(num_seeds, s.size),
        "lower num_seeds, n, width, num_modes or the number of step counts",
    )
    keys = jax.random.split(key, num_seeds)
    batch = min(_SEED_BATCH, num_seeds)
    active = None
    if cfg.width is not None:  # widths in one power-of-two bucket share a compile
        if cfg.width < cfg.num_modes // 2 and _pad(cfg.width) != cfg.width:
            active = jnp.asarray(cfg.width)
            cfg = cfg.replace(width=_pad(cfg.width))
    with enable_x64(True):
        if np.all(np.isinf(s)) and not report:  # only the converged limit: one
            # solve per seed (no finite step can diverge)
            out = _converged_trials(keys, _f64(cfg), active, batch, check_stable)
            return np.repeat(np.asarray(out, dtype=np.float64), s.size, axis=1)
        steps = jnp.asarray(s, jnp.float64)
        if active is None:
            out = _exact_trials(keys, _f64(cfg), steps, batch)
        else:
            out = _padded_trials(keys, _f64(cfg), steps, active, batch)
    out, factors, weights = (np.asarray(a, dtype=np.float64) for a in out)
    div = _divergences(factors, weights, s, float(cfg.lr))
    out = _mask_diverged(out, s, div.diverged_step)
    return (out, div) if report else out


def _divergences(factors, weights, s, lr):
    """:class:`Divergence` of each seed from its loss modes ``(seeds, modes)``,
    over the finite step counts ``s`` (the t = inf limit is not a step)."""
    finite = s[np.isfinite(s)]
    max_step = int(finite.max()) if finite.size else 0
    unstable, first = [], []
    for g, w in zip(factors, weights, strict=True):
        u, k = divergence(g, w, max_step, 1.0)  # scale 1: train's loss_scale
        unstable.append(int(u.sum()))
        first.append(k)
    lam_max = (1.0 - factors.min(axis=1)) / lr  # the mode with lr d largest
    return Divergence(lam_max, np.array(unstable, np.int64), np.array(first, np.int64))


def _mask_diverged(out, s, diverged_step):
    """NaN at the finite step counts ``>= diverged_step`` of each seed (row)."""
    ds = np.asarray(diverged_step)[:, None]
    return np.where((ds >= 0) & np.isfinite(s) & (s >= ds), np.nan, out)


class Divergence(NamedTuple):
    """Where gradient descent on each seed's draw diverges
    (:func:`predict_divergence`; the same draws as :func:`simulate_test_mse`).

    Attributes:
        lambda_max: ``(seeds,)`` float64, the top eigenvalue of the draw's
            Hessian (of the training loss; of the population loss for
            ``n=None``).
        num_unstable: ``(seeds,)`` int, the number of Hessian eigenmodes with
            ``|1 - lr d_j| > 1`` (``lr d_j > 2``), the modes gradient descent
            amplifies; 0 if it converges.
        diverged_step: ``(seeds,)`` int, the first step (in steps) at which the
            training loss of the exact iterate exceeds
            ``training.divergence_limit(L_0, 1)``, the criterion :func:`train`
            (through :func:`lm_sims.training.run`) applies, if that step is at
            most the largest finite step count asked for; else -1.
    """

    lambda_max: np.ndarray
    num_unstable: np.ndarray
    diverged_step: np.ndarray

    @property
    def diverged(self) -> np.ndarray:
        """``(seeds,)`` bool: ``diverged_step >= 0``."""
        return diverged_flag(self.diverged_step)


def predict_divergence(
    key: jax.Array, cfg: Config, steps: Any, num_seeds: int = 1
) -> Divergence:
    """Which modes of gradient descent diverge on each draw, and from which step.

    The exact iterates of :func:`simulate_test_mse` (same key, config and
    seeds): the training loss is ``L(s) = sum_j w_j (1 - lr d_j)^(2s)`` in the
    eigenbasis of its Hessian (eigenvalues ``d_j``, plus a constant part that
    gradient descent cannot move), so mode j diverges if ``lr d_j > 2``, and the
    run is declared diverged at the first step ``s`` with ``L(s) >
    training.divergence_limit(L(0), 1)``, the criterion of :func:`train`.
    :func:`simulate_test_mse` is NaN at the step counts from that step on.

    Args:
        key: PRNG key.
        cfg: the :class:`Config`.
        steps: ``(points,)`` step counts ``>= 0`` (integers or ``np.inf``); a
            crossing after the largest finite one is not reported.
        num_seeds: independent draws, int >= 1.

    Returns:
        A :class:`Divergence` of ``(num_seeds,)`` arrays.

    Raises:
        TypeError, ValueError: as :func:`simulate_test_mse`.

    Example:
        >>> import jax
        >>> cfg = Config(num_modes=300, n=None, lr=3.0)  # lr lambda_1 = 3 > 2
        >>> d = predict_divergence(jax.random.key(0), cfg, [10, 100])
        >>> d.num_unstable.tolist(), d.diverged_step.tolist()
        ([1], [7])
        >>> simulate_test_mse(jax.random.key(0), cfg, [6, 7]).round(1).tolist()
        [[2495.2, nan]]
    """
    return _simulate(key, cfg, steps, num_seeds, check_stable=True, report=True)[1]


class ScalingCurve(NamedTuple):
    """Simulated test MSE along one axis, with the theory at the same points.

    Attributes:
        x: ``(points,)`` the scaled quantity (n, N or t).
        test_mse: ``(points,)`` mean over seeds.
        sem: ``(points,)`` its standard error (0 for one seed).
        theory: ``(points,)`` the prediction at ``x``.
        samples: ``(seeds, points)`` every seed's value.
    """

    x: np.ndarray
    test_mse: np.ndarray
    sem: np.ndarray
    theory: np.ndarray
    samples: np.ndarray


def _curve(x, samples, theory):
    samples = np.asarray(samples, np.float64)
    k = samples.shape[0]
    sem = samples.std(0, ddof=1) / np.sqrt(k) if k > 1 else np.zeros(samples.shape[1])
    return ScalingCurve(
        np.asarray(x, np.float64), samples.mean(0), sem, theory, samples
    )


def _check_seeds(num_seeds, points, minimum=1):
    check_int("num_seeds", num_seeds, minimum=minimum)
    check_allocation(
        "scaling's num_seeds x points arrays",
        _seed_bytes(num_seeds, points),
        "lower num_seeds",
    )


def data_curve(
    key: jax.Array, cfg: Config, ns: Sequence[int], num_seeds: int = 16
) -> ScalingCurve:
    """Converged test MSE against the number of samples ``n`` (``t = inf``), with
    the eigenlearning curve :func:`predict_data` (exact only for ``width=None``).

    Each ``n`` sets shapes (one compilation each); the seeds for ``n`` are
    ``split(fold_in(key, n), num_seeds)``. The axis is defined at ``t = inf``:
    every point is the minimum-norm interpolant (the limit of gradient flow),
    whatever ``cfg.lr``.

    Raises:
        TypeError: bad ``key`` or ``cfg``; ``ns`` not a sequence of ints (floats,
            bools and strings are refused, not truncated); ``num_seeds`` not an
            int.
        ValueError: ``ns`` empty or outside ``1 .. num_modes - 1``;
            ``num_seeds < 1``; the memory limit.

    Example:
        >>> import jax
        >>> c = data_curve(jax.random.key(0), Config(num_modes=400), [32, 64], 4)
        >>> c.test_mse.shape, c.theory.shape
        ((2,), (2,))
    """
    check_key(key)
    _check_cfg(cfg)
    ns = _int_sizes("ns", ns, maximum=cfg.num_modes - 1)
    _check_seeds(num_seeds, len(ns))
    rows = [
        _simulate(
            jax.random.fold_in(key, m), cfg.replace(n=m), [np.inf], num_seeds, False
        )[:, 0]
        for m in ns
    ]
    return _curve(ns, np.stack(rows, axis=1), predict_data(cfg, ns))


def width_curve(
    key: jax.Array, cfg: Config, widths: Sequence[int], num_seeds: int = 8
) -> ScalingCurve:
    """Converged test MSE against model size ``N`` with infinite data (``n = t =
    inf``), with the deterministic equivalent :func:`predict_width`. The axis is
    defined at ``t = inf`` (the best function in the span of the features),
    whatever ``cfg.lr``.

    Raises:
        TypeError: bad ``key`` or ``cfg``; ``widths`` not a sequence of ints;
            ``num_seeds`` not an int.
        ValueError: ``widths`` empty or outside ``1 .. num_modes - 1``;
            ``num_seeds < 1``; the memory limit.

    Example:
        >>> import jax
        >>> c = width_curve(jax.random.key(0), Config(num_modes=400), [16, 32], 2)
        >>> bool(c.test_mse[1] < c.test_mse[0])
        True
    """
    check_key(key)
    _check_cfg(cfg)
    widths = _int_sizes("widths", widths, maximum=cfg.num_modes - 1)
    _check_seeds(num_seeds, len(widths))
    base = cfg.replace(n=None)
    rows = [
        _simulate(
            jax.random.fold_in(key, m),
            base.replace(width=m),
            [np.inf],
            num_seeds,
            False,
        )[:, 0]
        for m in widths
    ]
    return _curve(widths, np.stack(rows, axis=1), predict_width(cfg, widths))


def time_curve(
    key: jax.Array, cfg: Config, steps: Sequence[int], num_seeds: int = 4
) -> ScalingCurve:
    """Test MSE of gradient descent against time ``t = lr * steps`` with
    ``cfg.n`` samples (``None``: infinite data) and ``N = inf``, with the
    gradient-flow mode sum :func:`predict_time` (``x`` is ``t``). With finite
    ``n`` the simulation leaves the mode sum near ``t ~ n^alpha``, where the data
    run out, and settles at :func:`predict_data`. ``np.inf`` in ``steps`` is the
    converged limit, ``inf`` where gradient descent at ``cfg.lr`` diverges; the
    finite steps from a seed's ``diverged_step`` on are NaN in ``samples`` and
    ``test_mse`` (see :func:`simulate_test_mse`).

    Raises:
        TypeError: bad ``key``, ``cfg``, ``steps`` or ``num_seeds``.
        ValueError: ``steps`` negative or not integer; ``num_seeds < 1``; the
            memory limit.

    Example:
        >>> import jax
        >>> c = time_curve(jax.random.key(0), Config(num_modes=400, n=None),
        ...                [10, 100], 1)
        >>> bool(c.test_mse[1] < c.test_mse[0])
        True
    """
    check_key(key)
    _check_cfg(cfg)
    base = cfg.replace(width=None)
    s = _times("steps", steps)
    _check_seeds(num_seeds, s.size)
    seeds = num_seeds if cfg.n is not None else 1  # deterministic without data
    samples = simulate_test_mse(key, base, s, seeds)
    if seeds < num_seeds:
        samples = np.repeat(samples, num_seeds, axis=0)
    t = float(cfg.lr) * s
    return _curve(t, samples, predict_time(cfg, t))


# --------------------------------------------------------------------------------------
# Compute-optimal frontier
# --------------------------------------------------------------------------------------


class Frontier(NamedTuple):
    """IsoFLOP curves and the compute-optimal frontier.

    Attributes:
        compute: ``(budgets,)`` compute budgets ``C = N t`` (``t = lr * steps``).
        widths: ``(widths,)`` model sizes simulated.
        test_mse: ``(budgets, widths)`` simulated mean test MSE at ``C``
            (``steps = round(C / (N lr))``; NaN where that is 0 steps or where a
            seed's run diverged by then, as in :func:`simulate_test_mse`).
        theory: ``(budgets, widths)`` :func:`predict_width_time` at the same
            ``(N, t)``.
        best_width: ``(budgets,)`` simulated ``N*``: the vertex of a parabola in
            ``(log N, log E)`` through the 7 widths around the smallest error
            (the argmin alone moves in a staircase).
        best_mse: ``(budgets,)`` simulated ``E*`` at that vertex.
        theory_best_width: ``(budgets,)`` ``N*`` of the theory, minimised over a
            dense grid of 200 real ``N`` in the same range.
        theory_best_mse: ``(budgets,)`` ``E*`` of the theory.
        diverged: number of (seed, width, budget) runs that diverged: whose
            training loss exceeded ``training.divergence_limit(L_0, 1)`` at or
            before their last step (:func:`predict_divergence`, the rule of
            :func:`train`).
    """

    compute: np.ndarray
    widths: np.ndarray
    test_mse: np.ndarray
    theory: np.ndarray
    best_width: np.ndarray
    best_mse: np.ndarray
    theory_best_width: np.ndarray
    theory_best_mse: np.ndarray
    diverged: int


def isoflop(
    key: jax.Array,
    cfg: Config,
    widths: Sequence[int],
    compute: Sequence[float],
    num_seeds: int = 4,
) -> Frontier:
    """IsoFLOP curves: test MSE at fixed compute ``C = N t`` against model size.

    Infinite data (``n = None``); for each width ``N`` and budget ``C`` gradient
    descent runs ``round(C / (N lr))`` steps (exact iterates,
    :func:`simulate_test_mse`). The compute-optimal size ``N*(C)`` minimises the
    error at each budget; theory predicts ``N* ~ C^(1/(1+alpha))`` and
    ``E* ~ C^(-(r-1)/(1+alpha))`` (for ``r - 1 < alpha``). Use >= 25 widths: with
    few, the argmin moves in a staircase. Every width uses the same seeds
    (``split(key, num_seeds)``), which correlates neighbouring widths.

    Args:
        key: PRNG key.
        cfg: the model; ``n`` and ``width`` are ignored.
        widths: ``(widths,)`` model sizes, ints in ``1 .. num_modes - 1``.
        compute: ``(budgets,)`` budgets ``C > 0``.
        num_seeds: draws of ``A`` (int >= 1).

    Returns:
        A :class:`Frontier`.

    Raises:
        TypeError: bad ``key`` or ``cfg``; ``widths`` not a sequence of ints;
            ``compute`` not real numbers; ``num_seeds`` not an int.
        ValueError: ``widths`` empty or outside ``1 .. num_modes - 1``;
            ``compute`` not > 0; ``num_seeds < 1``; the memory limit.

    References:
        Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
        arXiv:2001.08361. Bordelon, Atanasov & Pehlevan, 2024, arXiv:2402.01092.

    Example:
        >>> import jax
        >>> f = isoflop(jax.random.key(0), Config(num_modes=300, lr=0.5),
        ...             [8, 16, 32], [100.0, 1000.0], num_seeds=1)
        >>> f.test_mse.shape
        (2, 3)
    """
    _check_cfg(cfg)
    check_key(key)
    ws = np.array(sorted(set(_int_sizes("widths", widths, cfg.num_modes - 1))))
    cs = _positive_array("compute", compute)
    check_int("num_seeds", num_seeds, minimum=1)
    lr = float(cfg.lr)
    base = cfg.replace(n=None)
    batch = min(_SEED_BATCH, num_seeds)
    check_allocation(
        "scaling.isoflop",
        batch * _estimate_bytes(base.replace(width=_pad(ws[-1])), exact=True)
        + _seed_bytes(num_seeds, cs.size * ws.size),
        "lower num_seeds, the widths or num_modes",
    )
    sim = np.full((num_seeds, cs.size, ws.size), np.nan)
    keys = jax.random.split(key, num_seeds)
    with enable_x64(True):
        for j, w in enumerate(ws):
            # every step count at every width (one compilation per width bucket);
            # the budgets' step counts differ by width
            steps = np.maximum(np.round(cs / (w * lr)), 0.0)
            out = _padded_trials(
                keys,
                _f64(base.replace(width=_pad(int(w)))),
                jnp.asarray(steps, jnp.float64),
                jnp.asarray(int(w)),
                batch,
            )
            e, factors, weights = (np.asarray(a, np.float64) for a in out)
            # a run of `steps` steps has diverged if its training loss crossed
            # training.divergence_limit at or before its last step (train's rule)
            div = _divergences(factors, weights, steps, lr)
            e = _mask_diverged(e, steps, div.diverged_step)
            sim[:, :, j] = np.where(steps >= 1, e, np.nan)
    bad = ~np.isfinite(sim)
    attempted = np.broadcast_to(np.round(cs[:, None] / (ws * lr)) >= 1, sim.shape[1:])
    diverged = int((bad & attempted).sum())
    sim = np.where(bad, np.nan, sim)
    mean = sim.mean(0)
    t_grid = np.round(cs[:, None] / (ws * lr)) * lr
    theory = np.stack(
        [predict_width_time(cfg, [w], t_grid[:, j])[0] for j, w in enumerate(ws)],
        axis=1,
    )
    theory = np.where(t_grid > 0, theory, np.nan)
    best_w, best_e = _vertices(ws, mean)
    dense = np.geomspace(ws[0], ws[-1], 200)
    th = np.stack(
        [predict_width_time(cfg, [w], cs / w)[0] for w in dense], axis=1
    )  # (budgets, 200)
    jt = np.argmin(th, axis=1)
    return Frontier(
        cs,
        ws.astype(np.float64),
        mean,
        theory,
        best_w,
        best_e,
        dense[jt],
        th[np.arange(cs.size), jt],
        diverged,
    )


def _vertices(widths, mse, half=3):
    """Minimum of each isoFLOP curve: a parabola in (log N, log E) through the
    ``2 half + 1`` widths around the smallest error (its vertex, if it lies
    between them; else the smallest point). Returns ``(N*, E*)``, NaN for a
    budget with no finite point or whose smallest error is at an end."""
    lw = np.log(np.asarray(widths, np.float64))
    best_w = np.full(mse.shape[0], np.nan)
    best_e = np.full(mse.shape[0], np.nan)
    for i, row in enumerate(np.asarray(mse, np.float64)):
        ok = np.isfinite(row) & (row > 0)
        if not ok.any():
            continue
        j = int(np.argmin(np.where(ok, row, np.inf)))
        best_w[i], best_e[i] = widths[j], row[j]
        if j == 0 or j == row.size - 1:
            continue
        sel = np.arange(max(j - half, 0), min(j + half + 1, row.size))
        sel = sel[ok[sel]]
        if sel.size < 3:
            continue
        a, b, c = np.polyfit(lw[sel], np.log(row[sel]), 2)
        if a > 0 and lw[sel[0]] <= -b / (2 * a) <= lw[sel[-1]]:
            x = -b / (2 * a)
            best_w[i], best_e[i] = np.exp(x), np.exp(c - b * b / (4 * a))
    return best_w, best_e


def compute_frontier(frontier: Frontier, theory: bool = False):
    """Power-law fits of ``N*(C)`` and ``E*(C)``: ``(width_fit, loss_fit)``, each a
    :class:`lm_sims.fitting.PowerLawFit` (over the budgets whose optimum is inside
    the width range, not at its ends).

    Raises:
        TypeError: ``frontier`` is not a :class:`Frontier`, or ``theory`` not a bool.
        ValueError: fewer than 3 budgets have their optimum inside the widths.

    Example:
        >>> import jax
        >>> f = isoflop(jax.random.key(0), Config(num_modes=300, lr=0.5),
        ...             range(4, 64, 2), [30.0, 100.0, 300.0, 1000.0], 1)
        >>> nf, ef = compute_frontier(f, theory=True)
        >>> bool(0 < nf.exponent < 1 and ef.exponent < 0)
        True
    """
    if not isinstance(frontier, Frontier):
        raise TypeError(f"frontier must be a Frontier, got {type(frontier).__name__}")
    if not isinstance(theory, (bool, np.bool_)):
        raise TypeError(f"theory must be True or False, got theory={theory!r}")
    nb = frontier.theory_best_width if theory else frontier.best_width
    eb = frontier.theory_best_mse if theory else frontier.best_mse
    lo, hi = frontier.widths[0], frontier.widths[-1]
    inside = (nb > lo * 1.0001) & (nb < hi * 0.9999) & np.isfinite(eb)
    if inside.sum() < 3:
        raise ValueError(
            f"need >= 3 budgets whose optimum is inside the widths [{lo:g}, {hi:g}]"
            f", got {int(inside.sum())}; widen the widths or move the budgets"
        )
    c = frontier.compute[inside]
    return power_law_fit(c, nb[inside]), power_law_fit(c, eb[inside])


# --------------------------------------------------------------------------------------
# The quanta model (Michaud et al. 2023)
# --------------------------------------------------------------------------------------


@config_dataclass(static=("num_quanta",))
class QuantaConfig:
    """The quantization model of neural scaling.

    Attributes:
        num_quanta: number of subtasks ("quanta") ``K`` (static), int >= 2.
        alpha_q: Zipf exponent: subtask ``k`` has frequency
            ``p_k ∝ k^-(alpha_q + 1)``, so ``L(N) ~ N^-alpha_q``. ``> 0``.
        threshold: training samples of a subtask needed to learn it, ``>= 1``
            (an integer-valued float).
    """

    num_quanta: int = 100_000
    alpha_q: float = 0.5
    threshold: float = 1.0

    def _validate(self):
        check_int("num_quanta", self.num_quanta, minimum=2)
        check_real("alpha_q", self.alpha_q, positive=True)
        check_real("threshold", self.threshold, low=1.0)
        if float(self.threshold) != round(float(self.threshold)):
            raise ValueError(
                f"threshold must be an integer >= 1, got threshold={self.threshold}"
            )


def _check_qcfg(qcfg):
    if not isinstance(qcfg, QuantaConfig):
        raise TypeError(
            f"qcfg must be a scaling.QuantaConfig, got {type(qcfg).__name__}"
        )


def quanta_frequencies(qcfg: QuantaConfig) -> Float[np.ndarray, " num_quanta"]:
    """Subtask frequencies ``p_k = k^-(alpha_q + 1) / sum_j j^-(alpha_q + 1)``.

    Example:
        >>> p = quanta_frequencies(QuantaConfig(num_quanta=10))
        >>> round(float(p.sum()), 12), bool(p[0] > p[1])
        (1.0, True)
    """
    _check_qcfg(qcfg)
    check_allocation(
        "scaling.quanta_frequencies",
        8.0 * 3 * qcfg.num_quanta,
        "lower num_quanta",
    )
    k = np.arange(1, qcfg.num_quanta + 1, dtype=np.float64)
    p = k ** -(float(qcfg.alpha_q) + 1.0)
    return p / p.sum()


def _optional_sizes(name, values, integer=False):
    if values is None:
        return None
    return _positive_array(name, values, integer=integer)


def predict_quanta(
    qcfg: QuantaConfig, width: Any = None, n: Any = None
) -> Float[np.ndarray, "widths ns"]:
    """Expected test loss of the quanta model: the mass of the unlearned subtasks.

    A model of size ``N`` (``width``) holds ``N`` quanta; a subtask is learned when
    it is among the ``N`` most frequent and was seen at least ``threshold`` times
    in ``n`` training samples. With loss 1 on an unlearned subtask and 0 on a
    learned one (eq. ``eq-sc-quanta``),

    .. math:: L(N, n) \\approx \\sum_k p_k \\Big[1 - \\mathbb 1[k \\le N]\\,
        \\Pr\\big(\\mathrm{Poisson}(n p_k) \\ge \\tau\\big)\\Big],

    exact for ``n = inf`` (``L = sum_{k > N} p_k ~ N^(-alpha_q) / alpha_q``) and
    for ``N = inf`` (``L ~ n^(-alpha_q / (alpha_q + 1))``); in between it ignores
    that the ``N`` most frequent are picked by their sample counts.

    Args:
        qcfg: the :class:`QuantaConfig`.
        width: ``(widths,)`` model sizes > 0, or None (unlimited).
        n: ``(ns,)`` training samples > 0, or None (infinite data).

    Returns:
        ``(widths, ns)`` float64 (a missing axis has length 1).

    Raises:
        TypeError: ``width`` or ``n`` not real numbers (strings, bools).
        ValueError: ``width`` or ``n`` not > 0; the ``(widths, ns, num_quanta)``
            arrays would exceed the memory limit.

    References:
        Michaud, Liu, Girit & Tegmark, "The Quantization Model of Neural
        Scaling", 2023, arXiv:2303.13506.

    Example:
        >>> q = QuantaConfig(num_quanta=1000, alpha_q=1.0)
        >>> predict_quanta(q, width=[1, 10]).shape
        (2, 1)
    """
    _check_qcfg(qcfg)
    ws = _optional_sizes("width", width)
    ns = _optional_sizes("n", n)
    nw = 1 if ws is None else ws.size
    nn = 1 if ns is None else ns.size
    check_allocation(
        "scaling.predict_quanta",
        8.0 * qcfg.num_quanta * (2 * nw * nn + 4 * nn + nw + 2),
        "lower num_quanta or the number of width and n values",
    )
    p = quanta_frequencies(qcfg)
    k = np.arange(1, p.size + 1)
    inside = np.ones((1, p.size)) if ws is None else (k[None, :] <= ws[:, None])
    if ns is None:
        seen = np.ones((1, p.size))
    else:
        mu = ns[:, None] * p[None, :]
        below = np.zeros_like(mu)
        term = np.exp(-mu)
        for j in range(int(qcfg.threshold)):  # Pr(Poisson(mu) < threshold)
            if j:
                term = term * mu / j
            below += term
        seen = 1.0 - below
    learned = inside[:, None, :] * seen[None, :, :]
    return np.einsum("k,wnk->wn", p, 1.0 - learned)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _quanta_trials(keys, qcfg, ns, infinite, ranked):
    p = jnp.asarray(_quanta_p(qcfg.num_quanta, qcfg.alpha_q))

    def one(key):
        k_count, k_tie = jax.random.split(key)
        shape = (ns.size, p.size)
        if infinite:
            counts = jnp.full(shape, jnp.inf, p.dtype)
            score = jnp.broadcast_to(-jnp.arange(p.size, dtype=p.dtype), shape)
        elif ranked:
            counts = jax.random.poisson(k_count, ns[:, None] * p[None, :], shape)
            counts = counts.astype(p.dtype)
            tie = jax.random.uniform(k_tie, p.shape, p.dtype)  # random order of ties
            score = counts + 0.5 * tie
        else:  # only "seen >= threshold" matters: draw that indicator directly,
            # Pr(Poisson(mu) < threshold) = Q(threshold, mu) (regularised gamma)
            below = jax.scipy.special.gammaincc(
                qcfg.threshold, ns[:, None] * p[None, :]
            )
            u = jax.random.uniform(k_count, shape, p.dtype)
            counts = jnp.where(u >= below, jnp.inf, 0.0)
        if ranked:
            rank = jnp.argsort(jnp.argsort(-score, axis=1), axis=1)
        else:  # unlimited size: every subtask seen often enough is learned
            rank = jnp.zeros(shape, jnp.int32)
        return rank, counts >= qcfg.threshold

    return jax.lax.map(one, keys)


def _quanta_p(num_quanta, alpha_q):
    """Frequencies as a JAX array (traceable ``alpha_q``)."""
    k = jnp.arange(1, num_quanta + 1, dtype=jnp.result_type(float))
    p = k ** -(alpha_q + 1.0)
    return p / p.sum()


def simulate_quanta(
    key: jax.Array,
    qcfg: QuantaConfig,
    width: Any = None,
    n: Any = None,
    num_seeds: int = 8,
) -> Float[np.ndarray, "seeds widths ns"]:
    """Simulated test loss of the quanta model over seeds.

    Each seed draws the training counts of every subtask, ``Poisson(n p_k)``
    (``n`` samples on average, Poissonised), ranks the subtasks by count (ties in
    random order) and lets a model of size ``N`` learn its ``N`` best-ranked
    subtasks among those seen at least ``threshold`` times. The test loss is the
    exact expected loss on a fresh sample, ``sum_{k unlearned} p_k``. With
    ``n=None`` the ranking is by the true frequencies (deterministic).

    Args:
        key: PRNG key.
        qcfg: the :class:`QuantaConfig`.
        width: ``(widths,)`` model sizes, or None (unlimited).
        n: ``(ns,)`` training samples, or None (infinite data).
        num_seeds: independent draws, int >= 1.

    Returns:
        ``(num_seeds, widths, ns)`` float64 NumPy array (a missing axis has
        length 1).

    Raises:
        TypeError: bad ``key`` or ``qcfg``; ``width`` or ``n`` not real numbers;
            ``num_seeds`` not an int.
        ValueError: ``width`` or ``n`` not integers > 0; ``num_seeds < 1``; the
            ``(num_seeds, widths, ns, num_quanta)`` arrays would exceed the
            memory limit.

    References:
        Michaud, Liu, Girit & Tegmark, "The Quantization Model of Neural
        Scaling", 2023, arXiv:2303.13506.

    Example:
        >>> import jax
        >>> q = QuantaConfig(num_quanta=1000, alpha_q=1.0)
        >>> simulate_quanta(jax.random.key(0), q, [1, 10], [100], 2).shape
        (2, 2, 1)
    """
    check_key(key)
    _check_qcfg(qcfg)
    check_int("num_seeds", num_seeds, minimum=1)
    ws = _optional_sizes("width", width, integer=True)
    ns = _optional_sizes("n", n, integer=True)
    nn = 1 if ns is None else ns.size
    nw = 1 if ws is None else ws.size
    # per seed: rank (int32) + seen (bool) kept, learned (bool) and 1 - learned
    # (float64) over the widths axis; one trial's counts, scores and argsorts
    check_allocation(
        "scaling.simulate_quanta",
        float(num_seeds) * nn * qcfg.num_quanta * (5 + 9 * nw)
        + 8.0 * 6 * nn * qcfg.num_quanta
        + _seed_bytes(num_seeds, nw * nn),
        "lower num_quanta, the number of width and n values or num_seeds",
    )
    keys = jax.random.split(key, num_seeds)
    n_arr = jnp.asarray(np.ones(1) if ns is None else ns, jnp.result_type(float))
    rank, seen = _quanta_trials(keys, qcfg, n_arr, ns is None, ws is not None)
    rank, seen = np.asarray(rank), np.asarray(seen)
    p = quanta_frequencies(qcfg)
    cap = np.array([np.inf]) if ws is None else ws
    learned = (rank[:, None] < cap[None, :, None, None]) & seen[:, None]
    return np.einsum("k,swnk->swn", p, 1.0 - learned)


def quanta_curve(
    key: jax.Array, qcfg: QuantaConfig, axis: str, values: Any, num_seeds: int = 8
) -> ScalingCurve:
    """The quanta model's loss along one axis: ``"width"`` (infinite data) or
    ``"data"`` (unlimited size), simulated and predicted.

    Example:
        >>> import jax
        >>> q = QuantaConfig(num_quanta=1000, alpha_q=1.0)
        >>> c = quanta_curve(jax.random.key(0), q, "data", [10, 100], 4)
        >>> bool(c.test_mse[1] < c.test_mse[0])
        True
    """
    if axis not in ("width", "data"):
        raise ValueError(f"axis must be 'width' or 'data', got axis={axis!r}")
    _positive_array("values", values, integer=True)
    if axis == "width":
        sim = simulate_quanta(key, qcfg, values, None, num_seeds)[:, :, 0]
        th = predict_quanta(qcfg, values, None)[:, 0]
    else:
        sim = simulate_quanta(key, qcfg, None, values, num_seeds)[:, 0, :]
        th = predict_quanta(qcfg, None, values)[0]
    return _curve(values, sim, th)


# --------------------------------------------------------------------------------------
# Real data: the digits kernel
# --------------------------------------------------------------------------------------


class DigitsSpectrum(NamedTuple):
    """The digits kernel's eigensystem under the empirical distribution.

    Attributes:
        eigenvalues: ``(M,)`` eigenvalues of ``K / M`` (descending, >= 0), the
            kernel operator's spectrum on the ``M = 1797`` images.
        target_power: ``(M,)`` ``sum_c v_{i,c}^2``: the centred one-hot target's
            power in eigenmode ``i``, summed over the 10 classes.
        bandwidth: the Laplace kernel's length scale.
    """

    eigenvalues: np.ndarray
    target_power: np.ndarray
    bandwidth: float


_DIGITS_POOL = 1797  # images in lm_sims.data's digits set


def _laplace_kernel(x, bandwidth):
    sq = np.sum(x**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    return np.exp(-np.sqrt(d2) / bandwidth)


@functools.cache
def _digits(bandwidth: float):
    from lm_sims import data as _data

    pixels, labels = _data._digits_pixels()
    x = np.asarray(pixels, np.float64)
    y = np.eye(10)[np.asarray(labels)] - 0.1
    kernel = _laplace_kernel(x, bandwidth)
    m = x.shape[0]
    evals, evecs = np.linalg.eigh(kernel / m)
    evals, evecs = np.maximum(evals[::-1], 0.0), evecs[:, ::-1]
    power = np.sum((evecs.T @ y) ** 2, axis=1) / m  # v_i = u_i . y / sqrt(M)
    return kernel, y, evals, power


def digits_spectrum(bandwidth: float = 8.0) -> DigitsSpectrum:
    """Eigenvalues and target power of a Laplace kernel on the digits images.

    The kernel is ``K(x, x') = exp(-||x - x'|| / bandwidth)`` on the 64 pixels of
    :func:`lm_sims.data.digits_regression` (centred, ``mean |x|^2 = 64``); the
    distribution is the empirical one on all ``M = 1797`` images, whose kernel
    operator has the eigenvalues of ``K / M`` and eigenfunctions
    ``phi_i(x_j) = sqrt(M) U_ji``. The target is the one-hot label minus 0.1.
    NumPy float64; cached per bandwidth (about 2 s the first time).

    Args:
        bandwidth: length scale > 0 (pixel units; the typical distance between
            two images is about 11).

    Returns:
        A :class:`DigitsSpectrum`.

    References:
        Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.
    """
    check_real("bandwidth", bandwidth, positive=True)
    _, _, evals, power = _digits(float(bandwidth))
    return DigitsSpectrum(evals.copy(), power.copy(), float(bandwidth))


def predict_digits(
    ns: Any, ridge: float = 1e-3, bandwidth: float = 8.0
) -> Float[np.ndarray, " points"]:
    """Eigenlearning test MSE (summed over the 10 classes) of kernel regression on
    ``n`` digits, from the measured spectrum and target power alone.

    Args:
        ns: ``(points,)`` training-set sizes in ``(0, 1797]`` (the pool).
        ridge: ridge ``>= 0``.
        bandwidth: the Laplace kernel's length scale ``> 0``.

    Returns:
        ``(points,)`` float64 test MSE.

    Raises:
        TypeError: ``ns`` not real numbers (strings, bools).
        ValueError: ``ns`` not in ``(0, 1797]``; bad ``ridge`` or ``bandwidth``.

    Example (about 3 s the first time: the 1,797 x 1,797 eigendecomposition)::

        e = predict_digits([16, 64])  # (2,), falling with n
    """
    ns = _positive_array("ns", ns)
    if np.any(ns > _DIGITS_POOL):
        raise ValueError(
            f"ns must be <= {_DIGITS_POOL} (the digits pool), "
            f"got ns={ns.tolist()!r:.80}"
        )
    check_real("ridge", ridge, nonnegative=True)
    spec = digits_spectrum(bandwidth)
    lam, v = spec.eigenvalues, np.sqrt(spec.target_power)
    keep = lam > 0
    return np.array(
        [_el.predict_test_mse(lam[keep], v[keep], float(m), float(ridge)) for m in ns]
    )


@functools.partial(jax.jit, static_argnums=(1,))
def _permutations(keys, m):
    return jax.vmap(lambda k: jax.random.permutation(k, m))(keys)


def _digits_trial(kernel, y, idx, ridge):
    n = idx.size
    coef = np.linalg.solve(kernel[np.ix_(idx, idx)] + ridge * np.eye(n), y[idx])
    pred = kernel[:, idx] @ coef
    return np.mean(np.sum((pred - y) ** 2, axis=1))


def digits_learning_curve(
    key: jax.Array,
    ns: Sequence[int],
    num_seeds: int = 8,
    ridge: float = 1e-3,
    bandwidth: float = 8.0,
) -> ScalingCurve:
    """Measured kernel-regression learning curve on digits vs eigenlearning.

    Each trial draws ``n`` distinct training images from the 1,797, fits kernel
    ridge regression ``(K_n + ridge I)^-1 y`` and measures the test MSE (summed
    over classes) on all 1,797 images: the population error under the empirical
    distribution that the spectrum of :func:`digits_spectrum` describes. The
    theory holds while ``n`` is a small fraction of the 1,797 (measured with 8
    seeds, key 0, as on the book's page: within 9% from ``n = 32`` to ``512``,
    15% high at ``n = 1024``, where the finite pool is nearly used up). Float64
    (NumPy solves; the subsets are drawn with JAX from ``fold_in(key, n)``).

    Args:
        key: PRNG key.
        ns: training-set sizes, ints in ``1 .. 1797``.
        num_seeds: trials per size, int >= 2.
        ridge: ridge ``>= 0`` (a small one keeps the solve well conditioned).
        bandwidth: the Laplace kernel's length scale.

    Returns:
        A :class:`ScalingCurve` (``theory`` from :func:`predict_digits`).

    Raises:
        TypeError: bad ``key``; ``ns`` not a sequence of ints.
        ValueError: ``ns`` empty or outside ``1 .. 1797``; ``num_seeds < 2``;
            bad ``ridge`` or ``bandwidth``.

    References:
        Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.
    """
    check_key(key)
    check_int("num_seeds", num_seeds, minimum=2)
    check_real("ridge", ridge, nonnegative=True)
    check_real("bandwidth", bandwidth, positive=True)
    ns = _int_sizes("ns", ns, maximum=_DIGITS_POOL)
    _check_seeds(num_seeds, len(ns), minimum=2)
    kernel, y, _, _ = _digits(float(bandwidth))
    rows = []
    for m in ns:
        keys = jax.random.split(jax.random.fold_in(key, m), num_seeds)
        perms = np.asarray(_permutations(keys, kernel.shape[0]))
        rows.append([_digits_trial(kernel, y, p[:m], float(ridge)) for p in perms])
    return _curve(ns, np.stack(rows, axis=1), predict_digits(ns, ridge, bandwidth))
