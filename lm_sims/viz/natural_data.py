"""Explorers for Chapter 5.2: universal statistics of natural data, and the Hermite
eigenstructure ansatz.

* :func:`natural_spectra_explorer`: Zipf's law for the words of a text bundled with
  Python, and the power-law PCA spectrum of the digits, each with its fitted law
  over a chosen range of ranks.
* :func:`hea_explorer`: from the data covariance and the target alone, a Gaussian
  RBF kernel's spectrum and its kernel-regression learning curve (the Hermite
  eigenstructure ansatz + eigenlearning), against the measured spectrum and
  learning curve, on Gaussian data and on the digits.

The runs are cached in :mod:`lm_sims.natural_data`, shared with the page.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import natural_data as nd
from lm_sims._config import check_key
from lm_sims.fitting import power_law_fit
from lm_sims.viz.explorer import Curve, Explorer, Knob, Panel

__all__ = ["hea_explorer", "natural_spectra_explorer"]

# Last rank of the Zipf fit (the first is 1): the exponent drifts with it, with no
# plateau (0.82, 0.86, 1.05, 1.15, 1.39); the page's range ends at 1,000.
ZIPF_LAST = (100, 300, 1000, 1500, 3000)
PCA_LAST = (20, 40, 61)  # last rank of the digits spectrum fit

# The ansatz's settings (shared with the page and tests/test_natural_data.py):
GAUSS_DIMS, GAUSS_DECAY = 24, 0.5  # gamma_i ∝ i^-0.5, tr Σ_xx = 1, d_eff = 18.9
# Small n: many cheap trials (ridgeless KRR's error is heavy-tailed there: one bad
# draw moved a 24-trial mean at n = 8 by 20%); large n: fewer, costly trials.
GAUSS_NS_SMALL, GAUSS_TRIALS_SMALL = (4, 8, 16, 32, 64), 96
GAUSS_NS_LARGE, GAUSS_TRIALS_LARGE = (128, 256, 512, 1024), 24
GAUSS_NS = GAUSS_NS_SMALL + GAUSS_NS_LARGE
GAUSS_TEST = 1000
DIGITS_NS_SMALL, DIGITS_TRIALS_SMALL = (10, 20, 40, 80, 160, 400), 24
DIGITS_NS_LARGE, DIGITS_TRIALS_LARGE = (800, 1200), 6  # reported, not tested
DIGITS_NS = DIGITS_NS_SMALL + DIGITS_NS_LARGE
DIGIT = 0  # one-vs-rest target
FIT_MODES = 500  # Hermite modes the digits target is expanded on (> 400)
RIDGE = 1e-8  # keeps the smooth kernel's Gram matrix solvable; far below kappa
SPECTRUM_SAMPLES = 1000  # samples behind the measured spectrum (digits: a subset)
SPECTRUM_RANKS = 100  # eigenvalues shown
BANDWIDTHS = (2.0, 3.0, 4.0)  # static grid: σ_K = 2, 3, 4 sqrt(tr Σ_xx)


@functools.cache
def _zipf():
    return nd.word_counts(nd.bundled_text())


@functools.cache
def _digits_spectrum():
    return nd.digits_hea()[2]


def natural_spectra_explorer(key: jax.Array) -> Explorer:
    """Zipf's law and the digits' power-law spectrum, with fits over chosen ranks.

    Left: word frequency against rank for the 3,118 distinct words of CPython's
    ``pydoc_data.topics`` (solid), with the least-squares power law over ranks 1
    to ``zipf_last`` (dashed, in the counts' colour) and Zipf's ``f_r = f_1 / r``
    (dashed, grey). Right: eigenvalues of the digits' pixel covariance
    (``tr Σ_xx = 1``) against rank, with the power law fitted over ranks 1 to
    ``pca_last`` (dashed, in the eigenvalues' colour). The note gives both
    exponents as positive ``a`` and ``α`` (``f_r ∝ r^-a``, ``γ_k ∝ k^-α``, the
    page's convention): each drifts with the range, with no plateau (the Zipf exponent
    from 0.82 at last rank 100 to 1.39 at 3,000; the 8x8 images' last
    directions steepen the spectrum).

    Static grid: ``zipf_last`` in (100, 300, 1000, 1500, 3000) x ``pca_last``
    in (20, 40, 61), every state a pair of line fits (no simulation to rerun).
    ``key`` is unused (the data are fixed); it is taken for a uniform factory
    signature.
    """
    check_key(key)
    del key  # deterministic data

    def panel(zipf_last, pca_last):
        all_counts = _zipf()
        fit = nd.rank_frequency_fit(all_counts, (1, int(zipf_last)))
        # ~150 log-spaced ranks are enough to draw 3,118 (and keep the page light)
        idx = np.unique(np.geomspace(1, all_counts.size, 150).astype(int)) - 1
        ranks, counts = idx + 1.0, all_counts[idx]
        gam = _digits_spectrum()
        k = np.arange(1, gam.size + 1, dtype=float)
        pfit = power_law_fit(k[:pca_last], gam[:pca_last])
        r_fit = ranks[ranks <= int(zipf_last)]
        curves = [
            Curve(ranks, counts.astype(float), "word counts", group=0, col=1),
            # a fit shares its data's colour (one quantity); Zipf's f1/r is a
            # reference law, in grey
            Curve(
                r_fit,
                fit.curve(r_fit),
                f"power-law fit: r^{fit.exponent:.2f}",
                "theory",
                group=0,
                col=1,
                id="zipf fit",
            ),
            Curve(
                ranks,
                counts[0] / ranks,
                "Zipf's law: f₁ / r",
                "theory",
                group=7,
                col=1,
            ),
            Curve(k, gam, "digits PCA eigenvalues", group=1, col=2),
            Curve(
                k[:pca_last],
                pfit.curve(k[:pca_last]),
                f"power-law fit: k^{pfit.exponent:.2f}",
                "theory",
                group=1,
                col=2,
                id="spectrum fit",
            ),
        ]
        note = (
            f"Zipf exponent a = {-fit.exponent:.2f} (f_r ∝ r^-a, ranks "
            f"1-{zipf_last}); digits spectrum exponent α = {-pfit.exponent:.2f} "
            f"(γ_k ∝ k^-α, ranks 1-{pca_last})"
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("zipf_last", ZIPF_LAST, default=1000, label="Zipf fit: last rank"),
            Knob("pca_last", PCA_LAST, default=40, label="spectrum fit: last rank"),
        ],
        title="Two power laws of natural data",
        x_title=["word rank r", "principal component k"],
        y_title=["count (of 64,285 words)", "variance γₖ (tr Σₓₓ = 1)"],
        log_x=True,
        log_y=True,
        cols=2,
        subplot_titles=["words of pydoc_data.topics", "8×8 digits, pixel PCA"],
    )


def _key_data(key):
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data):
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


def _summary(curves):
    """(n, mean, s.e.m., target power) of learning curves over disjoint n."""
    n = np.concatenate([c.n for c in curves]).astype(float)
    mean = np.concatenate([c.mean for c in curves])
    sem = np.concatenate(
        [c.test_mse.std(0, ddof=1) / np.sqrt(c.test_mse.shape[0]) for c in curves]
    )
    power = float(np.mean([c.target_power for c in curves]))
    return n, mean, sem, power


@functools.lru_cache(maxsize=16)
def _gauss(key_data, s):
    """(measured spectrum, HEA spectrum, (n, mean, sem, power), predicted MSE)."""
    g = nd.power_law_gammas(GAUSS_DIMS, GAUSS_DECAY)
    k_spec, k_small, k_large = jax.random.split(_key(key_data), 3)
    x, _ = nd.gaussian_data(k_spec, g, SPECTRUM_SAMPLES)
    measured = nd.kernel_eigenvalues(x, s, SPECTRUM_RANKS)
    predicted = nd.hea_spectrum(g, s, SPECTRUM_RANKS)[0]
    idx, v = nd.gaussian_target(GAUSS_DIMS)
    runs = [
        nd.gaussian_learning_curve(
            k, g, s, idx, v, ns, num_trials=trials, num_test=GAUSS_TEST, ridge=RIDGE
        )
        for k, ns, trials in (
            (k_small, GAUSS_NS_SMALL, GAUSS_TRIALS_SMALL),
            (k_large, GAUSS_NS_LARGE, GAUSS_TRIALS_LARGE),
        )
    ]
    pred = nd.predict_learning_curve(g, s, idx, v, GAUSS_NS, ridge=RIDGE)
    return measured, predicted, _summary(runs), pred


@functools.lru_cache(maxsize=16)
def _digits(key_data, s):
    x, _, g = nd.digits_hea()
    k_spec, k_small, k_large = jax.random.split(_key(key_data), 3)
    subset = np.asarray(jax.random.permutation(k_spec, x.shape[0]))
    measured = nd.kernel_eigenvalues(x[subset[:SPECTRUM_SAMPLES]], s, SPECTRUM_RANKS)
    predicted = nd.hea_spectrum(g, s, SPECTRUM_RANKS)[0]
    y = nd.digits_target(DIGIT)
    runs = [
        nd.digits_learning_curve(k, y, s, ns, num_trials=trials, ridge=RIDGE)
        for k, ns, trials in (
            (k_small, DIGITS_NS_SMALL, DIGITS_TRIALS_SMALL),
            (k_large, DIGITS_NS_LARGE, DIGITS_TRIALS_LARGE),
        )
    ]
    pred, _ = nd.predict_digits_learning_curve(
        y, s, DIGITS_NS, num_fit_modes=FIT_MODES, ridge=RIDGE
    )
    return measured, predicted, _summary(runs), pred


def hea_explorer(key: jax.Array) -> Explorer:
    """The Hermite eigenstructure ansatz against measurement, on Gaussian data and
    on the digits.

    Left: the top 100 eigenvalues of ``K / P`` (solid; ``P = 1000`` samples:
    Gaussian data ``N(0, diag(gamma))`` with ``gamma_i ∝ i^-0.5``, ``d = 24``,
    ``tr Σ_xx = 1``, or random digits images scaled to ``tr Σ_xx = 1``) and the
    HEA prediction ``exp(-tr Σ_xx / σ_K^2) σ_K^(-2|nu|) prod_i gamma_i^nu_i``
    (dashed), against
    rank. Middle: kernel ridge regression's test MSE over the target's power
    against the number of training samples ``n`` (solid, mean +- one s.e.m.;
    Gaussian data: 96 trials for n <= 64, 24 above; digits: 24 trials for
    n <= 400, 6 at n = 800 and 1200, tested on the images left out of the
    largest training set of each run) and the prediction of
    eigenlearning on the HEA modes (dashed). Gaussian data: a seven-component
    Hermite target of degrees 1-3; digits: one-vs-rest digit 0, its
    coefficients fitted on 500 modes. Right: predicted over measured error, with
    the tested bands (dashed levels; the ratio is tested where the error is at
    least 1% of the target power and, on the digits, for ``n <= 400``).

    The kernel is ``exp(-|x - x'|^2 / (2 σ_K^2))``. Static grid: data in
    (Gaussian, digits) x ``bandwidth`` ``σ_K`` in (2, 3, 4), every run cached.
    Live: ``σ_K`` in [1, 6] (a new one reruns the trials: a few seconds); the
    ansatz's error grows as ``σ_K`` falls, more for higher-degree modes (on
    Gaussian data the tested band fails at ``σ_K = 2`` for n = 512).

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(data, bandwidth):
        s = float(bandwidth)
        if data == "Gaussian":
            measured, predicted, (n, mean, sem, power), pred = _gauss(key_data, s)
            band_lo, band_hi = 0.8, 1.25
            checked = mean >= 0.01 * power
        else:
            measured, predicted, (n, mean, sem, power), pred = _digits(key_data, s)
            band_lo, band_hi = 0.75, 1.3
            checked = n <= 400
        ranks = np.arange(1, measured.size + 1, dtype=float)
        ok = measured > 1e-12  # below round-off the Gram spectrum is noise
        ratio = pred / mean
        curves = [
            Curve(ranks[ok], measured[ok], "eigenvalues of K/P", group=0, col=1),
            Curve(
                ranks, predicted, "HEA eigenvalues (theory)", "theory", group=0, col=1
            ),
            Curve(
                n,
                mean / power,
                "KRR: measured",
                group=1,
                col=2,
                mode="lines+markers",
                lower=(mean - sem) / power,
                upper=(mean + sem) / power,
                band_label="mean ± 1 s.e.m. over trials",
            ),
            Curve(
                n,
                pred / power,
                "HEA + eigenlearning (theory)",
                "theory",
                group=1,
                col=2,
            ),
            Curve(n, ratio, "predicted / measured", group=2, col=3, mode="markers"),
            Curve(
                [n[0], n[-1]],
                [1.0, 1.0],
                "exact agreement",
                "theory",
                group=2,
                col=3,
                showlegend=False,
            ),
        ]
        for lvl in (band_lo, band_hi):
            curves.append(
                Curve(
                    [n[0], n[-1]],
                    [lvl, lvl],
                    f"tested band {lvl:g}",
                    "theory",
                    group=5,
                    col=3,
                    showlegend=False,
                )
            )
        r_in = ratio[checked]
        beyond = ratio[~checked]
        note = (
            f"ratio {r_in.min():.2f}-{r_in.max():.2f} over the tested n "
            f"({int(n[checked][0])}-{int(n[checked][-1])})"
        )
        if beyond.size:
            note += f"; beyond: {', '.join(f'{r:.2f}' for r in beyond)}"
        top = measured[:20] / predicted[:20]
        note += f"; top-20 eigenvalue ratio {top.min():.2f}-{top.max():.2f}"
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("data", ("Gaussian", "digits"), default="Gaussian", label="data"),
            Knob(
                "bandwidth",
                BANDWIDTHS,
                low=1.0,
                high=6.0,
                default=4.0,
                label="RBF width σ_K (tr Σ_xx = 1)",
            ),
        ],
        title="Kernel spectrum and learning curve from data statistics (HEA)",
        x_title=["eigenvalue rank", "training samples n", "training samples n"],
        y_title=["eigenvalue", "test MSE / target power", "predicted / measured"],
        log_x=True,
        log_y=[True, True, False],
        cols=3,
        subplot_titles=["kernel spectrum", "learning curve", "ratio"],
        height=460,
    )
