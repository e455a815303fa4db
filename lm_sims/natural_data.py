"""Universal statistics of natural data, and kernel learning curves predicted from them.

Two power laws of natural data, measured on data that ship with the installed
packages (no download):

- **Zipf's law**: the frequency of the ``r``-th most common word of a text falls as
  ``f_r ∝ r^-a`` with ``a ≈ 1``. The text is the CPython standard library's
  ``pydoc_data.topics`` (the help pages of the Python language reference, about
  64,000 words): :func:`bundled_text`, :func:`word_counts`,
  :func:`rank_frequency_fit`.
- **Power-law spectra of images**: the eigenvalues of the pixel covariance of
  scikit-learn's 8x8 handwritten digits fall roughly as a power of their rank:
  :func:`pca_spectrum`, :func:`spectrum_fit` (bootstrap interval over images).

Then the Hermite eigenstructure ansatz (:mod:`lm_sims.hermite`) turns the data
covariance and the target into a Gaussian RBF kernel's eigenvalues and the
target's eigencoefficients, and Chapter 1's eigenlearning
(:func:`lm_sims.eigenlearning.predict_test_mse`, unchanged) into a learning curve:
:func:`predict_learning_curve`. :func:`gaussian_learning_curve` measures kernel
ridge regression (KRR) on Gaussian data with the same covariance, where the ansatz
becomes exact in the joint limit of high effective dimension and wide kernel
(``σ_K^2 / tr Σ_xx`` large), and
:func:`digits_learning_curve` on the digits.

Conventions (NumPy float64 throughout, whatever JAX's precision): the kernel is
``K(x, x') = exp(-|x - x'|^2 / (2 σ_K^2))`` (width ``σ_K``: the argument
``bandwidth``), not divided by the sample count; KRR
fits ``f(x) = K(x, X) (K(X, X) + ridge I)^-1 y``; test errors are plain mean
squared errors (no factor 1/2), as in :mod:`lm_sims.eigenlearning`.

References:
    Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning curves
    from only raw data statistics", 2025, arXiv:2510.14878.
    Zipf, "Human Behavior and the Principle of Least Effort", 1949
    (Addison-Wesley).
    Piantadosi, "Zipf's word frequency law in natural language: A critical review
    and future directions", 2014, Psychonomic Bulletin & Review 21, 1112.
    Simon et al., "The Eigenlearning Framework", 2021, arXiv:2110.03922.
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jaxtyping import Float, Int

from lm_sims import eigenlearning, hermite
from lm_sims._config import check_int, check_key, check_real
from lm_sims.fitting import PowerLawFit, power_law_fit

__all__ = [
    "GAUSSIAN_TARGET",
    "LearningCurve",
    "bundled_text",
    "digits_hea",
    "digits_learning_curve",
    "digits_target",
    "gaussian_target",
    "predict_digits_learning_curve",
    "gaussian_data",
    "gaussian_learning_curve",
    "hea_spectrum",
    "kernel_eigenvalues",
    "pca_spectrum",
    "power_law_gammas",
    "predict_learning_curve",
    "rank_frequency_fit",
    "spectrum_fit",
    "word_counts",
]

# Zipf fit range (ranks, inclusive). The fitted exponent drifts with the last rank,
# with no plateau (last rank 100, 300, 500, 1000, 1500, 2000, 3000: 0.82, 0.86,
# 0.92, 1.05, 1.15, 1.25, 1.39): the curve bends all along. Ranks 1-1,000 hold the
# words seen at least 7 times (ranks 972-1,047 tie at 7; Poisson scatter of a count
# <= 1/sqrt(7) = 38%); further out the counts are a staircase of small integers.
# The band [0.8, 1.2] holds for any last rank from 100 to 1,500.
ZIPF_RANKS = (1, 1000)
# Digits PCA fit range: ranks 1-40 of the 61 non-constant directions (the last 20
# fall off faster: the 8x8 grid's pixel resolution).
DIGITS_RANKS = (1, 40)

#: The Gaussian-data target as (Hermite component, coefficient) pairs, each component
#: a map coordinate -> degree; degrees 1-3, so the learning curve has several plateaus.
GAUSSIAN_TARGET: tuple[tuple[dict[int, int], float], ...] = (
    ({0: 1}, 0.6),
    ({2: 1}, 0.5),
    ({0: 1, 1: 1}, 0.4),
    ({1: 2}, 0.3),
    ({0: 1, 3: 1}, 0.3),
    ({0: 2, 2: 1}, 0.25),
    ({5: 1, 7: 1}, 0.2),
)


# --------------------------------------------------------------------------------------
# Zipf's law
# --------------------------------------------------------------------------------------


def bundled_text() -> str:
    """The text behind the Zipf plot: CPython's ``pydoc_data.topics``, all topics.

    ``pydoc_data`` ships with every CPython installation (it is what ``help()``
    shows for keywords and language topics); its ``topics`` dict maps a topic
    name to a page of the Python Language Reference. The pages are joined in
    sorted topic order (deterministic).

    Returns:
        One ``str`` (about 420,000 characters on CPython 3.11).

    Example:
        >>> len(bundled_text().split()) > 50_000
        True
    """
    from pydoc_data import topics

    return "\n".join(topics.topics[k] for k in sorted(topics.topics))


def word_counts(text: str) -> Int[np.ndarray, " words"]:
    """Word frequencies of ``text``, most common first.

    A word is a maximal run of ASCII letters, lower-cased (``"Python's"`` gives
    ``python`` and ``s``; digits and punctuation separate words).

    Args:
        text: a ``str``.

    Returns:
        ``(words,)`` int64 counts sorted in decreasing order (rank 1 first).

    Raises:
        TypeError: ``text`` not a ``str``.
        ValueError: ``text`` without any word.

    Example:
        >>> word_counts("the cat and the hat and the bat").tolist()
        [3, 2, 1, 1, 1]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = re.findall(r"[a-z]+", text.lower())
    if not words:
        raise ValueError("text must contain at least one word (a run of letters)")
    counts = sorted(collections.Counter(words).values(), reverse=True)
    return np.asarray(counts, dtype=np.int64)


def _check_ranks(name: str, ranks: Any, size: int) -> tuple[int, int]:
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise TypeError(f"{name} must be a (first, last) pair of ranks, got {ranks!r}")
    lo, hi = ranks
    check_int(f"{name}[0]", lo, minimum=1)
    check_int(f"{name}[1]", hi, minimum=lo + 2, maximum=size)
    return int(lo), int(hi)


def rank_frequency_fit(
    counts: Int[np.ndarray, " words"], ranks: tuple[int, int] = ZIPF_RANKS
) -> PowerLawFit:
    """Zipf fit ``f_r ≈ prefactor r^exponent`` over ranks ``first..last``.

    Least squares on log-log axes (:func:`lm_sims.fitting.power_law_fit`) of the
    counts against their rank, over the given inclusive range of ranks. Zipf's law
    is ``exponent ≈ -1``.

    Args:
        counts: ``(words,)`` positive counts, decreasing (from :func:`word_counts`).
        ranks: ``(first, last)`` inclusive 1-based ranks, ``last - first >= 2``,
            ``last <= words``. Default ``(1, 1000)``.

    Returns:
        A :class:`lm_sims.fitting.PowerLawFit` (its ``exponent_stderr`` is the
        residual scatter's: adjacent ranks are not independent, so read it as a
        measure of curvature, not as a sampling error).

    Raises:
        TypeError, ValueError: non-positive or non-finite counts, counts not in
            decreasing order, a bad ``ranks`` pair.

    References:
        Zipf, "Human Behavior and the Principle of Least Effort", 1949.

    Example:
        >>> c = np.round(1000 / np.arange(1, 101)).astype(int)
        >>> round(float(rank_frequency_fit(c, (1, 100)).exponent), 2)
        -1.0
    """
    f = hermite._real_array("counts", counts, 1)
    if np.any(f <= 0) or np.any(np.diff(f) > 0):
        raise ValueError("counts must be > 0 and in decreasing order (rank 1 first)")
    lo, hi = _check_ranks("ranks", ranks, f.size)
    r = np.arange(lo, hi + 1, dtype=np.float64)
    return power_law_fit(r, f[lo - 1 : hi])


# --------------------------------------------------------------------------------------
# Power-law spectra
# --------------------------------------------------------------------------------------


def pca_spectrum(x: Float[np.ndarray, "P dim"]) -> Float[np.ndarray, " dim"]:
    """Eigenvalues of the sample covariance ``(x - mean)^T (x - mean) / P``, largest
    first (float64; tiny negative round-off is clipped to 0).

    Args:
        x: ``(P, dim)`` real data, ``P >= 2``.

    Returns:
        ``(dim,)`` float64, decreasing.

    Raises:
        TypeError, ValueError: non-real, non-finite or not 2-D ``x``; ``P < 2``.

    Example:
        >>> pca_spectrum(np.array([[1.0, 0.0], [-1.0, 0.0]])).tolist()
        [1.0, 0.0]
    """
    a = hermite._real_array("x", x, 2)
    if a.shape[0] < 2:
        raise ValueError(f"x must have at least 2 rows (samples), got {a.shape[0]}")
    a = a - a.mean(0)
    ev = np.linalg.eigvalsh(a.T @ a / a.shape[0])[::-1]
    return np.maximum(ev, 0.0)


def spectrum_fit(
    key: jax.Array,
    x: Float[np.ndarray, "P dim"],
    ranks: tuple[int, int] = DIGITS_RANKS,
    *,
    num_bootstrap: int = 200,
    confidence: float = 0.95,
) -> PowerLawFit:
    """Power-law fit ``gamma_k ≈ prefactor k^exponent`` of a PCA spectrum, with a
    bootstrap interval over the samples.

    The point estimate is the log-log least-squares fit of
    :func:`pca_spectrum` over ranks ``first..last``. The interval resamples the
    ``P`` rows of ``x`` with replacement ``num_bootstrap`` times, recomputes the
    spectrum and refits, and reports the basic bootstrap interval ``(2 a - a_hi,
    2 a - a_lo)`` from the resampled exponents' quantiles ``a_lo, a_hi`` (the
    resamples' repeated rows bias the slope; this interval cancels the bias to
    first order): the sampling error of the exponent, from the data. It says
    nothing about the choice of fit range, which on a curved spectrum moves the
    exponent far more; the residual standard error, ``exponent_stderr``,
    measures that curvature.

    Args:
        key: JAX PRNG key for the resamples.
        x: ``(P, dim)`` data.
        ranks: inclusive 1-based ranks ``(first, last)`` of the fit, default
            ``(1, 40)``; all eigenvalues in range must be > 0.
        num_bootstrap: resamples, int >= 100.
        confidence: coverage of the percentile interval, in (0, 1).

    Returns:
        :class:`lm_sims.fitting.PowerLawFit` with ``exponent_interval`` set.

    Raises:
        TypeError, ValueError: as :func:`pca_spectrum`; a bad key, ``ranks``,
            ``num_bootstrap`` or ``confidence``; zero eigenvalues in range.

    Example:
        >>> import jax
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(4000, 10)) * np.arange(1, 11) ** -0.75
        >>> fit = spectrum_fit(jax.random.key(0), x, (1, 10), num_bootstrap=100)
        >>> low, high = fit.exponent_interval
        >>> round(float(fit.exponent), 1), bool(low < -1.5 < high)
        (-1.5, True)
    """
    check_key(key)
    a = hermite._real_array("x", x, 2)
    ev = pca_spectrum(a)
    lo, hi = _check_ranks("ranks", ranks, ev.size)
    check_int("num_bootstrap", num_bootstrap, minimum=100)
    check_real("confidence", confidence, low=1e-9, high=1 - 1e-9)
    if np.any(ev[lo - 1 : hi] <= 0):
        raise ValueError(
            f"ranks {ranks} include zero eigenvalues; use last <= {int(np.sum(ev > 0))}"
        )
    r = np.arange(lo, hi + 1, dtype=np.float64)
    fit = power_law_fit(r, ev[lo - 1 : hi])
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    a = a - a.mean(0)
    num = a.shape[0]
    log_r = np.log(r)
    slopes = []
    for _ in range(num_bootstrap):
        w = np.bincount(rng.integers(0, num, num), minlength=num) / num
        mean = w @ a
        cov = (a * w[:, None]).T @ a - np.outer(mean, mean)
        e = np.linalg.eigvalsh(cov)[::-1][lo - 1 : hi]
        if np.all(e > 0):
            slopes.append(np.polyfit(log_r, np.log(e), 1)[0])
    tail = (1.0 - float(confidence)) / 2.0
    q_lo, q_hi = np.quantile(slopes, [tail, 1.0 - tail])
    # basic ("reverse percentile") interval: resampling with repeated rows biases
    # the spectrum's slope (measured on the digits: the percentile interval missed
    # its own point estimate), and 2 * estimate - quantile cancels that bias.
    est = float(fit.exponent)
    interval = (np.float64(2 * est - q_hi), np.float64(2 * est - q_lo))
    return fit._replace(exponent_interval=interval)


def power_law_gammas(num_dims: int, exponent: float) -> Float[np.ndarray, " d"]:
    """Covariance eigenvalues ``gamma_i ∝ i^-exponent``, normalised to trace
    ``tr Σ_xx = sum_i gamma_i = 1``.

    Args:
        num_dims: ``d``, int >= 1.
        exponent: decay exponent, real >= 0.

    Returns:
        ``(d,)`` float64 summing to 1, decreasing. (Their effective dimension,
        ``(sum_i gamma_i)^2 / sum_i gamma_i^2``, is ``1 / sum(gammas**2)``.)

    Raises:
        TypeError: non-integer (or bool) ``num_dims``, non-real ``exponent``.
        ValueError: ``num_dims < 1``, ``exponent < 0`` or NaN/inf.

    Example:
        >>> g = power_law_gammas(32, 1.0)
        >>> round(float(1 / np.sum(g**2)), 1)
        10.2
    """
    check_int("num_dims", num_dims, minimum=1)
    check_real("exponent", exponent, nonnegative=True)
    g = np.arange(1, num_dims + 1, dtype=np.float64) ** -float(exponent)
    return g / g.sum()


# --------------------------------------------------------------------------------------
# The ansatz: spectra and learning curves
# --------------------------------------------------------------------------------------


def hea_spectrum(
    gammas: Float[np.ndarray, " d"],
    bandwidth: float,
    num_modes: int,
    *,
    max_level: int = 12,
) -> tuple[Float[np.ndarray, " M"], Int[np.ndarray, "M d"]]:
    """HEA eigenvalues of the Gaussian RBF kernel on data of covariance ``gammas``.

    ``lambda_nu = exp(-tr Σ_xx / σ_K^2) σ_K^(-2|nu|) prod_i gamma_i^nu_i`` with
    ``tr Σ_xx = sum_i gamma_i``: :func:`lm_sims.hermite.predict_eigenvalues` with
    :func:`lm_sims.hermite.rbf_level_coefficients`.

    Args:
        gammas: ``(d,)`` covariance eigenvalues, >= 0.
        bandwidth: RBF width ``σ_K > 0``.
        num_modes: number of modes, int >= 1.
        max_level: highest degree searched, int in [0, 64].

    Returns:
        ``(eigenvalues (M,), indices (M, d))``, as
        :func:`lm_sims.hermite.predict_eigenvalues`.

    Raises:
        TypeError: non-real ``gammas`` / ``bandwidth`` (None, strings, bools),
            non-integer ``num_modes`` / ``max_level``.
        ValueError: ``gammas`` not 1-D, empty, negative, all zero or NaN/inf;
            ``bandwidth <= 0``; ``num_modes < 1``; ``max_level`` outside [0, 64].

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> lam, nu = hea_spectrum([0.5, 0.5], 2.0, 3)
        >>> lam.round(4).tolist(), nu.tolist()
        ([0.7788, 0.0974, 0.0974], [[0, 0], [1, 0], [0, 1]])
    """
    g = hermite._real_array("gammas", gammas, 1)
    check_int("max_level", max_level, minimum=0, maximum=hermite.MAX_DEGREE)
    check_real("bandwidth", bandwidth, positive=True)
    check_int("num_modes", num_modes, minimum=1)
    lam, nu = _hea_spectrum(tuple(g), float(bandwidth), num_modes, max_level)
    return lam.copy(), nu.copy()


@functools.lru_cache(maxsize=16)
def _hea_spectrum(gammas, bandwidth, num_modes, max_level):
    g = np.asarray(gammas)
    c = hermite.rbf_level_coefficients(float(g.sum()), bandwidth, max_level)
    return hermite.predict_eigenvalues(g, c, num_modes)


def gaussian_data(
    key: jax.Array, gammas: Float[np.ndarray, " d"], num_samples: int
) -> tuple[Float[np.ndarray, "P d"], Float[np.ndarray, "P d"]]:
    """Samples ``x ~ N(0, diag(gammas))`` and their whitened coordinates ``z``.

    Args:
        key: JAX PRNG key.
        gammas: ``(d,)`` variances, > 0.
        num_samples: ``P``, int >= 1.

    Returns:
        ``(x, z)``: ``(P, d)`` float64 with ``x = z sqrt(gammas)``, ``z ~ N(0, I)``.

    Raises:
        TypeError: a bad key; non-real ``gammas``; non-integer ``num_samples``.
        ValueError: ``gammas`` not 1-D, empty, <= 0 or NaN/inf; ``num_samples < 1``.

    Example:
        >>> x, z = gaussian_data(jax.random.key(0), [4.0, 1.0], 3)
        >>> bool(np.allclose(x, z * [2.0, 1.0]))
        True
    """
    check_key(key)
    g = hermite._real_array("gammas", gammas, 1)
    if np.any(g <= 0):
        raise ValueError("gammas must be > 0")
    check_int("num_samples", num_samples, minimum=1)
    z = np.asarray(jax.random.normal(key, (num_samples, g.size)), dtype=np.float64)
    return z * np.sqrt(g), z


def kernel_eigenvalues(
    x: Float[np.ndarray, "P dim"], bandwidth: float, num: int | None = None
) -> Float[np.ndarray, " num"]:
    """The largest eigenvalues of ``K / P`` on the samples ``x`` (float64): the
    Nyström estimate of the kernel's integral-operator eigenvalues.

    Args:
        x: ``(P, dim)`` samples.
        bandwidth: RBF width ``σ_K > 0``.
        num: how many (default all ``P``), int in [1, P].

    Returns:
        ``(num,)`` float64, decreasing.

    Raises:
        TypeError: non-real ``x`` or ``bandwidth``, non-integer ``num``.
        ValueError: ``x`` not 2-D, empty or NaN/inf; ``bandwidth <= 0``; ``num``
            outside [1, P].

    Example:
        >>> x = np.zeros((4, 2))
        >>> kernel_eigenvalues(x, 1.0, 2).round(6).tolist()
        [1.0, 0.0]
    """
    a = hermite._real_array("x", x, 2)
    num = a.shape[0] if num is None else num
    check_int("num", num, minimum=1, maximum=a.shape[0])
    ev = np.linalg.eigvalsh(hermite.rbf_kernel(a, bandwidth=bandwidth) / a.shape[0])
    return np.abs(ev[::-1][:num])


def _check_ns(ns: Any) -> np.ndarray:
    if isinstance(ns, (int, np.integer)) or not isinstance(ns, (Sequence, np.ndarray)):
        raise TypeError(f"ns must be a sequence of ints, got {ns!r}")
    if len(ns) == 0:
        raise ValueError("ns must not be empty")
    for i, n in enumerate(ns):
        check_int(f"ns[{i}]", int(n) if isinstance(n, np.integer) else n, minimum=1)
    return np.asarray(ns, dtype=np.int64)


def _coefficients_on(indices, target_indices, target_coeffs):
    """Target coefficients aligned with ``indices``; every target mode must be
    among them."""
    where = {tuple(r): k for k, r in enumerate(np.asarray(indices))}
    v = np.zeros(len(where))
    for nu, c in zip(
        np.asarray(target_indices), np.asarray(target_coeffs), strict=True
    ):
        k = where.get(tuple(nu))
        if k is None:
            raise ValueError(
                f"target mode {tuple(int(a) for a in nu)} is not among the "
                f"{len(where)} predicted modes; raise num_modes"
            )
        v[k] += c
    return v


def predict_learning_curve(
    gammas: Float[np.ndarray, " d"],
    bandwidth: float,
    target_indices: Int[np.ndarray, "T d"],
    target_coeffs: Float[np.ndarray, " T"],
    ns: Sequence[int],
    *,
    num_modes: int = 4000,
    ridge: float = 0.0,
    noise: float = 0.0,
) -> Float[np.ndarray, " ns"]:
    """HEA + eigenlearning test MSE of RBF kernel ridge regression against ``n``.

    The kernel eigenvalues are :func:`hea_spectrum`'s top ``num_modes``; the
    target ``f* = sum_T v_T h_T(z) (+ noise)`` puts its coefficients on the modes
    with those multi-indices; :func:`lm_sims.eigenlearning.predict_test_mse` (the
    book's eq. ``eq-eig-test``) gives the error at each ``n``. With ``noise``,
    the error is against noisy labels, as measured on held-out data whose labels
    carry the same leftover.

    Args:
        gammas: ``(d,)`` data covariance eigenvalues.
        bandwidth: RBF width ``σ_K > 0`` (the ansatz needs ``σ_K >= 2 sqrt(tr
            Σ_xx)``; its error grows with the degree as ``σ_K`` falls).
        target_indices: ``(T, d)`` multi-indices of the target's Hermite modes;
            each must be among the ``num_modes`` predicted modes.
        target_coeffs: ``(T,)`` real coefficients.
        ns: training-set sizes, ints >= 1, each < ``num_modes``.
        num_modes: modes kept (the spectrum's tail beyond them is dropped; keep
            ``num_modes`` several times the largest ``n``).
        ridge: ``delta >= 0`` in ``(K + delta I)^-1``, with ``K`` not divided by n.
        noise: standard deviation of the part of the labels outside the modes.

    Returns:
        ``(len(ns),)`` float64 predicted test MSE.

    Raises:
        TypeError, ValueError: as the functions above; a target mode outside the
            predicted modes; ``n >= num_modes``.

    References:
        Karkada et al., 2025, arXiv:2510.14878; Simon et al., 2021,
        arXiv:2110.03922.

    Example:
        >>> g = power_law_gammas(8, 1.0)
        >>> e = predict_learning_curve(g, 2.0, [[1] + [0] * 7], [1.0], [1, 30])
        >>> bool(e[0] > 0.5 > 0.1 > e[1])
        True
    """
    ns = _check_ns(ns)
    check_int("num_modes", num_modes, minimum=2)
    if ns.max() >= num_modes:
        raise ValueError(
            f"every n must be < num_modes={num_modes}, got max n={int(ns.max())}"
        )
    check_real("ridge", ridge, nonnegative=True)
    check_real("noise", noise, nonnegative=True)
    lam, nu = hea_spectrum(gammas, bandwidth, num_modes)
    t_idx = hermite._check_indices(target_indices, nu.shape[1], "target_indices")
    t_v = hermite._real_array("target_coeffs", target_coeffs, 1)
    if t_v.size != t_idx.shape[0]:
        raise ValueError(
            f"target_coeffs must have one value per target mode ({t_idx.shape[0]}), "
            f"got {t_v.size}"
        )
    v = _coefficients_on(nu, t_idx, t_v)
    return np.array(
        [
            eigenlearning.predict_test_mse(lam, v, int(n), ridge=ridge, noise=noise)
            for n in ns
        ]
    )


def gaussian_target(
    num_dims: int = 24,
) -> tuple[Int[np.ndarray, "T num_dims"], Float[np.ndarray, " T"]]:
    """The Gaussian-data target :data:`GAUSSIAN_TARGET` as arrays.

    Seven Hermite components of degrees 1-3 on the first eight coordinates
    (``z_0``, ``z_2``, ``z_0 z_1``, ``h_2(z_1)``, ``z_0 z_3``, ``h_2(z_0) z_2``,
    ``z_5 z_7``), coefficients normalised to unit power.

    Args:
        num_dims: ``d``, int >= 8.

    Returns:
        ``(indices (7, num_dims) int64, coefficients (7,) float64)``.

    Example:
        >>> nu, v = gaussian_target(8)
        >>> nu[0].tolist(), round(float(np.sum(v**2)), 12)
        ([1, 0, 0, 0, 0, 0, 0, 0], 1.0)
    """
    check_int("num_dims", num_dims, minimum=8)
    idx = np.zeros((len(GAUSSIAN_TARGET), num_dims), dtype=np.int64)
    for row, (mono, _) in enumerate(GAUSSIAN_TARGET):
        for i, k in mono.items():
            idx[row, i] = k
    v = np.array([c for _, c in GAUSSIAN_TARGET])
    return idx, v / np.linalg.norm(v)


class LearningCurve(NamedTuple):
    """Measured KRR test MSE against the training-set size.

    Attributes:
        n: ``(points,)`` int64 training-set sizes.
        test_mse: ``(trials, points)`` float64 test MSE of each trial.
        target_power: float, mean squared target on the test points (the error of
            the zero predictor).
    """

    n: np.ndarray
    test_mse: np.ndarray
    target_power: float

    @property
    def mean(self) -> np.ndarray:
        """``(points,)`` mean test MSE over trials."""
        return self.test_mse.mean(axis=0)


def _krr_errors(k_train, k_test, y_train, y_test, ridge):
    a = k_train + ridge * np.eye(k_train.shape[0])
    alpha = np.linalg.solve(a, y_train)
    return float(np.mean((k_test @ alpha - y_test) ** 2))


def gaussian_learning_curve(
    key: jax.Array,
    gammas: Float[np.ndarray, " d"],
    bandwidth: float,
    target_indices: Int[np.ndarray, "T d"],
    target_coeffs: Float[np.ndarray, " T"],
    ns: Sequence[int],
    *,
    num_trials: int = 8,
    num_test: int = 2000,
    ridge: float = 0.0,
) -> LearningCurve:
    """Measured test MSE of RBF kernel ridge regression on Gaussian data.

    Each trial draws ``max(ns)`` training points and ``num_test`` test points from
    ``N(0, diag(gammas))`` (nested training sets: the first ``n`` points), labels
    them with ``f*(x) = sum_T v_T h_T(z)`` (no noise), fits KRR at each ``n`` and
    measures the MSE against ``f*`` on the test points.

    Args:
        key: JAX PRNG key.
        gammas: ``(d,)`` variances, > 0.
        bandwidth: RBF width ``σ_K > 0``.
        target_indices: ``(T, d)`` multi-indices.
        target_coeffs: ``(T,)`` coefficients.
        ns: training-set sizes, ints >= 1.
        num_trials: independent draws, int >= 1.
        num_test: test points, int >= 1.
        ridge: ``delta >= 0`` (add ~1e-8 or more for large ``n``: the Gram matrix
            of a smooth kernel is ill-conditioned).

    Returns:
        :class:`LearningCurve`.

    Raises:
        TypeError: a bad key; non-real arrays or ``bandwidth`` / ``ridge``;
            ``ns`` not a sequence of ints; non-integer ``num_trials`` /
            ``num_test``.
        ValueError: NaN/inf or wrongly shaped arrays, one coefficient per
            target mode not given, ``ns`` empty or < 1, ``num_trials`` or
            ``num_test`` < 1, ``bandwidth <= 0``, ``ridge < 0``.

    References:
        Karkada, Turnbull, Liu & Simon, 2025, arXiv:2510.14878.

    Example:
        >>> g = power_law_gammas(8, 1.0)
        >>> c = gaussian_learning_curve(jax.random.key(0), g, 2.0,
        ...     [[1] + [0] * 7], [1.0], [4, 64], num_trials=2, ridge=1e-6)
        >>> bool(c.mean[1] < 0.1 * c.mean[0])
        True
    """
    check_key(key)
    g = hermite._real_array("gammas", gammas, 1)
    ns = _check_ns(ns)
    check_int("num_trials", num_trials, minimum=1)
    check_int("num_test", num_test, minimum=1)
    check_real("bandwidth", bandwidth, positive=True)
    check_real("ridge", ridge, nonnegative=True)
    t_idx = hermite._check_indices(target_indices, g.size, "target_indices")
    t_v = hermite._real_array("target_coeffs", target_coeffs, 1)
    if t_v.size != t_idx.shape[0]:
        raise ValueError(
            f"target_coeffs must have one value per target mode ({t_idx.shape[0]}), "
            f"got {t_v.size}"
        )
    errors, power = _gaussian_curve(
        _key_tuple(key),
        tuple(g),
        float(bandwidth),
        tuple(map(tuple, t_idx.tolist())),
        tuple(t_v),
        tuple(ns.tolist()),
        num_trials,
        num_test,
        float(ridge),
    )
    return LearningCurve(ns, errors.copy(), power)


def _key_tuple(key):
    """A hashable form of a checked key (typed or raw), for the run caches."""
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    data = jax.random.key_data(key) if typed else key
    return typed, tuple(int(v) for v in np.asarray(data).ravel())


def _key_from(key_tuple):
    typed, data = key_tuple
    raw = np.asarray(data, dtype=np.uint32)
    return jax.random.wrap_key_data(raw) if typed else jax.numpy.asarray(raw)


# The page and its explorer ask for the same runs: keep the last few (a run is
# a few seconds; its result a few kB).
@functools.lru_cache(maxsize=32)
def _gaussian_curve(
    key_tuple, gammas, bandwidth, t_idx, t_v, ns, num_trials, num_test, ridge
):
    g, t_idx, t_v = np.asarray(gammas), np.asarray(t_idx), np.asarray(t_v)
    n_max = max(ns)
    errors = np.empty((num_trials, len(ns)))
    power = 0.0
    keys = jax.random.split(_key_from(key_tuple), num_trials)
    for trial, k in enumerate(keys):
        x, z = gaussian_data(k, g, n_max + num_test)
        y = hermite.hermite_features(z, t_idx) @ t_v
        x_tr, y_tr, x_te, y_te = x[:n_max], y[:n_max], x[n_max:], y[n_max:]
        k_all = hermite.rbf_kernel(x_tr, bandwidth=bandwidth)
        k_te = hermite.rbf_kernel(x_te, x_tr, bandwidth=bandwidth)
        power += float(np.mean(y_te**2)) / num_trials
        for j, n in enumerate(ns):
            errors[trial, j] = _krr_errors(
                k_all[:n, :n], k_te[:, :n], y_tr[:n], y_te, ridge
            )
    return errors, power


# --------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------


@functools.cache
def _digits():
    from lm_sims.data import _load_digits

    images, labels = _load_digits()
    x = images.astype(np.float64)
    x = x - x.mean(0)
    cov = x.T @ x / x.shape[0]
    evals, evecs = np.linalg.eigh(cov)
    keep = evals > 1e-8 * evals.max()  # constant border pixels carry no variance
    evals, evecs = evals[keep][::-1], evecs[:, keep][:, ::-1]
    q = evals.sum()
    x = x / np.sqrt(q)  # q = 1 after scaling
    gammas = evals / q
    z = (x @ evecs) / np.sqrt(gammas)
    return x, z, gammas, labels.astype(np.int64)


def digits_hea() -> tuple[
    Float[np.ndarray, "1797 64"], Float[np.ndarray, "1797 61"], Float[np.ndarray, " 61"]
]:
    """Digits pixels for the ansatz: ``(x, z, gammas)``, float64 copies.

    ``x``: the 1,797 images' 64 pixels, centred per pixel and divided by one
    global factor so that ``tr Σ_xx = E|x|^2 = sum_i gamma_i = 1``. ``gammas``:
    the 61 non-zero eigenvalues of its covariance, decreasing (3 border pixels are
    constant). ``z``: the whitened principal-component coordinates ``z_i = u_i .
    x / sqrt(gamma_i)`` (unit variance, uncorrelated; not Gaussian).

    Example:
        >>> x, z, g = digits_hea()
        >>> x.shape, z.shape, round(float(g.sum()), 6)
        ((1797, 64), (1797, 61), 1.0)
    """
    x, z, g, _ = _digits()
    return x.copy(), z.copy(), g.copy()


def digits_target(digit: int) -> Float[np.ndarray, " 1797"]:
    """One-vs-rest target: ``1[label == digit] - 0.1`` (mean ~0, power ~0.09).

    Args:
        digit: int in [0, 9].

    Returns:
        ``(1797,)`` float64, in the order of :func:`digits_hea`'s images.

    Raises:
        TypeError: non-integer (or bool) ``digit``.
        ValueError: ``digit`` outside [0, 9].

    Example:
        >>> round(float(digits_target(0).mean()), 3)
        -0.001
    """
    check_int("digit", digit, minimum=0, maximum=9)
    labels = _digits()[3]
    return (labels == digit).astype(np.float64) - 0.1


def digits_learning_curve(
    key: jax.Array,
    target: Float[np.ndarray, " 1797"],
    bandwidth: float,
    ns: Sequence[int],
    *,
    num_trials: int = 8,
    ridge: float = 0.0,
) -> LearningCurve:
    """Measured RBF KRR test MSE on the digits (:func:`digits_hea`'s ``x``).

    Each trial permutes the 1,797 images, trains on the first ``n`` (nested) and
    tests on the images not among the first ``max(ns)``.

    Args:
        key: JAX PRNG key.
        target: ``(1797,)`` real labels (e.g. :func:`digits_target`).
        bandwidth: RBF width ``σ_K > 0``.
        ns: training-set sizes, ints >= 1, ``max(ns) <= 1697`` (100 test images
            at least).
        num_trials: independent permutations, int >= 1.
        ridge: ``delta >= 0``.

    Returns:
        :class:`LearningCurve`; ``target_power`` is the mean over all images of
        ``target**2``.

    Raises:
        TypeError: a bad key; non-real ``target`` / ``bandwidth`` / ``ridge``;
            ``ns`` not a sequence of ints; non-integer ``num_trials``.
        ValueError: ``target`` not of length 1797 or NaN/inf; ``ns`` empty, < 1
            or above 1697; ``num_trials < 1``; ``bandwidth <= 0``; ``ridge < 0``.

    References:
        Karkada, Turnbull, Liu & Simon, 2025, arXiv:2510.14878.

    Example:
        >>> c = digits_learning_curve(jax.random.key(0), digits_target(0), 2.0,
        ...     [10, 100], num_trials=2, ridge=1e-6)
        >>> bool(c.mean[1] < c.mean[0] < c.target_power * 1.5)
        True
    """
    check_key(key)
    x = _digits()[0]
    y = hermite._real_array("target", target, 1)
    if y.size != x.shape[0]:
        raise ValueError(f"target must have {x.shape[0]} values, got {y.size}")
    ns = _check_ns(ns)
    if ns.max() > x.shape[0] - 100:
        raise ValueError(f"max(ns) must be <= {x.shape[0] - 100}, got {ns.max()}")
    check_int("num_trials", num_trials, minimum=1)
    check_real("bandwidth", bandwidth, positive=True)
    check_real("ridge", ridge, nonnegative=True)
    errors = _digits_curve(
        _key_tuple(key),
        tuple(y),
        float(bandwidth),
        tuple(ns.tolist()),
        num_trials,
        float(ridge),
    )
    return LearningCurve(ns, errors.copy(), float(np.mean(y**2)))


@functools.lru_cache(maxsize=32)
def _digits_curve(key_tuple, y, bandwidth, ns, num_trials, ridge):
    y = np.asarray(y)
    k_full = _digits_gram(bandwidth)
    n_max = max(ns)
    errors = np.empty((num_trials, len(ns)))
    keys = jax.random.split(_key_from(key_tuple), num_trials)
    for trial, k in enumerate(keys):
        perm = np.asarray(jax.random.permutation(k, y.size))
        tr, te = perm[:n_max], perm[n_max:]
        for j, n in enumerate(ns):
            errors[trial, j] = _krr_errors(
                k_full[np.ix_(tr[:n], tr[:n])],
                k_full[np.ix_(te, tr[:n])],
                y[tr[:n]],
                y[te],
                ridge,
            )
    return errors


@functools.lru_cache(maxsize=4)
def _digits_gram(bandwidth: float) -> np.ndarray:
    return hermite.rbf_kernel(_digits()[0], bandwidth=bandwidth)


def predict_digits_learning_curve(
    target: Float[np.ndarray, " 1797"],
    bandwidth: float,
    ns: Sequence[int],
    *,
    num_fit_modes: int = 500,
    num_modes: int = 4000,
    ridge: float = 0.0,
) -> tuple[Float[np.ndarray, " ns"], float]:
    """HEA + eigenlearning learning curve of RBF KRR on the digits.

    From the data covariance (:func:`digits_hea`'s ``gammas``) and the target
    alone: the kernel's eigenvalues are :func:`hea_spectrum`'s; the target's
    coefficients on the top ``num_fit_modes`` modes come from
    :func:`lm_sims.hermite.fit_coefficients` on all 1,797 images (Gram-Schmidt in
    eigenvalue order); its leftover power is the noise variance of
    :func:`lm_sims.eigenlearning.predict_test_mse`. The prediction depends on
    ``num_fit_modes`` once ``n`` nears it. For ``n <= 400`` it hardly depends on
    it between 400 and 600 modes (digits 0, 3 and 8: predicted over measured KRR
    error 0.83-1.12); at ``n = 800`` (digit 0) the ratio is about 1.5-1.8,
    1.0-1.2 and 0.6-0.7 for 300, 500 and 1,000 modes (two independent
    measurements): too few modes count learnable power as noise (pessimistic),
    while many modes absorb the ansatz's error and part of the in-sample residual
    into the coefficients (optimistic). Fitting more modes than ``n`` does not
    make the prediction accurate there; no mode count is singled out.

    Args:
        target: ``(1797,)`` labels (e.g. :func:`digits_target`).
        bandwidth: RBF width ``σ_K > 0`` (``tr Σ_xx = 1``: ``σ_K >= 2`` for the
            ansatz).
        ns: training-set sizes, ints >= 1, each < ``num_modes``.
        num_fit_modes: modes the target is expanded on, int in [1, 1797].
        num_modes: kernel modes in the theory, int > ``num_fit_modes``.
        ridge: ``delta >= 0``.

    Returns:
        ``(test_mse (len(ns),), leftover_power)``.

    Raises:
        TypeError: non-real ``target`` / ``bandwidth`` / ``ridge``; ``ns`` not a
            sequence of ints; non-integer ``num_fit_modes`` / ``num_modes``.
        ValueError: ``target`` not of length 1797 or NaN/inf;
            ``num_fit_modes`` outside [1, 1797]; ``num_modes <= num_fit_modes``;
            an ``n >= num_modes``; ``bandwidth <= 0``; ``ridge < 0``.

    References:
        Karkada, Turnbull, Liu & Simon, 2025, arXiv:2510.14878; Simon et al.,
        "The Eigenlearning Framework", 2021, arXiv:2110.03922.

    Example:
        >>> e, rest = predict_digits_learning_curve(digits_target(0), 2.0,
        ...     [10, 100], num_fit_modes=100, num_modes=1000)
        >>> bool(e[0] > e[1]), bool(0 < rest < 0.02)
        (True, True)
    """
    _, z, g = digits_hea()
    y = hermite._real_array("target", target, 1)
    if y.size != z.shape[0]:
        raise ValueError(f"target must have {z.shape[0]} values, got {y.size}")
    check_int("num_fit_modes", num_fit_modes, minimum=1, maximum=z.shape[0])
    check_int("num_modes", num_modes, minimum=num_fit_modes + 1)
    _, nu = hea_spectrum(g, bandwidth, num_modes)
    v, rest = hermite.fit_coefficients(z, y, nu[:num_fit_modes])
    e = predict_learning_curve(
        g,
        bandwidth,
        nu[:num_fit_modes],
        v,
        ns,
        num_modes=num_modes,
        ridge=ridge,
        noise=float(np.sqrt(rest)),
    )
    return e, rest
