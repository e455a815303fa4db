"""The Hermite eigenstructure ansatz (HEA) for rotation-invariant kernels.

Karkada et al. (2025) observe that a rotation-invariant kernel (a Gaussian RBF
kernel, a dot-product kernel, an NTK) on anisotropic data with covariance
eigenvalues ``gamma_1 >= gamma_2 >= ...`` has eigensystem close to that of the
same kernel on Gaussian data ``x ~ N(0, diag(gamma))``:

- eigenfunctions: the normalised multivariate (probabilists') Hermite polynomials
  of the whitened principal-component coordinates ``z_i = u_i . (x - mu) /
  sqrt(gamma_i)``,

  .. math:: h_\\nu(z) = \\prod_i \\frac{\\mathrm{He}_{\\nu_i}(z_i)}
      {\\sqrt{\\nu_i!}}, \\qquad \\nu \\in \\mathbb{N}^d,

  orthonormal under ``z ~ N(0, I)``;
- eigenvalues: a level coefficient of the total degree ``|nu|`` times a monomial
  in the data eigenvalues,

  .. math:: \\lambda_\\nu = c_{|\\nu|} \\prod_i \\gamma_i^{\\nu_i}.

For the Gaussian RBF kernel ``K(x, x') = exp(-|x - x'|^2 / (2 σ_K^2))`` (width
``σ_K``, the argument ``bandwidth``) the level coefficients follow from
``|x - x'|^2 = |x|^2 + |x'|^2 - 2 x . x'``: replace the two norm factors by their
typical value ``exp(-tr Σ_xx / (2 σ_K^2))`` each (``tr Σ_xx = sum_i gamma_i =
E|x - mu|^2``, the trace of the data covariance ``Σ_xx``, a law of large numbers
when the effective dimension is large) and expand ``exp(x . x' / σ_K^2) = sum_l
(x . x')^l / (l! σ_K^(2l))``; the degree-``l`` monomials ``prod_i (x_i
x'_i)^nu_i`` then carry ``prod_i gamma_i^nu_i`` and

.. math:: c_\\ell = e^{-\\operatorname{tr}\\Sigma_{xx}/\\sigma_K^2}\\,
    \\sigma_K^{-2\\ell}.

This is the Gaussian-kernel case of Karkada et al.'s level coefficients for a
dot-product kernel ``K = sum_l (c_l / l!) (x . x')^l`` (their statement of the
HEA, applied to the Gaussian kernel written as a dot-product kernel times the
norm factors; the same coefficients as the Gaussian kernel's in the authors'
public code). The approximation needs ``d_eff = (tr Σ_xx)^2 / sum_i gamma_i^2``
large (the norm factors) and ``gamma_i / σ_K^2`` small (the dropped lower-degree
parts of the monomials); keep ``σ_K >= 2 sqrt(tr Σ_xx)``: at ``σ_K^2 ~ tr Σ_xx``
the ansatz is poor, and its error grows with the degree ``|nu|``.

Everything here is NumPy float64 (theory and feature maps), whatever JAX's
precision.

References:
    Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
    curves from only raw data statistics", 2025, arXiv:2510.14878.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np
from jaxtyping import Float, Int

from lm_sims._config import (
    as_float64_numpy,
    check_allocation,
    check_int,
    check_real,
)

__all__ = [
    "fit_coefficients",
    "hermite_features",
    "multi_indices",
    "predict_eigenvalues",
    "rbf_kernel",
    "rbf_level_coefficients",
]

# Largest Hermite degree per coordinate we evaluate: He_k/sqrt(k!) by its
# three-term recurrence is accurate far beyond this, but a kernel's level
# coefficients at such degrees are below float64 resolution anyway.
MAX_DEGREE = 64


def _real_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` as a finite float64 NumPy array of ``ndim`` dimensions, or a
    TypeError/ValueError naming ``name``."""
    a = as_float64_numpy(name, value, finite=False)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if np.any(bad):
        raise ValueError(
            f"{name} must be finite, got {int(bad.sum())} NaN or inf entries"
        )
    return a


def multi_indices(num_dims: int, max_degree: int) -> Int[np.ndarray, "M num_dims"]:
    """All multi-indices ``nu`` in ``num_dims`` dimensions with ``|nu| <= max_degree``.

    Ordered by total degree ``|nu|``, then lexicographically with the first
    coordinate's power largest first (``(2, 0), (1, 1), (0, 2)``). There are
    ``M = binom(num_dims + max_degree, max_degree)`` of them.

    Args:
        num_dims: number of coordinates ``d``, int >= 1.
        max_degree: largest total degree ``L``, int >= 0.

    Returns:
        ``(M, num_dims)`` int64 array; row 0 is the constant ``(0, ..., 0)``.

    Raises:
        TypeError: non-integer (or bool) arguments.
        ValueError: ``num_dims < 1``, ``max_degree < 0``, or more than 10^7 rows
            (use :func:`predict_eigenvalues` to list only the top modes).

    Example:
        >>> multi_indices(2, 2).tolist()
        [[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]]
    """
    check_int("num_dims", num_dims, minimum=1)
    check_int("max_degree", max_degree, minimum=0)
    count = math.comb(num_dims + max_degree, max_degree)
    if count > 10**7:
        raise ValueError(
            f"multi_indices({num_dims}, {max_degree}) has {count} rows (limit 10^7); "
            "lower max_degree or use predict_eigenvalues for the top modes"
        )
    rows = []
    for degree in range(max_degree + 1):
        # non-decreasing tuples of coordinates = multisets of size `degree`
        for combo in _combinations(num_dims, degree):
            nu = np.zeros(num_dims, dtype=np.int64)
            for i in combo:
                nu[i] += 1
            rows.append(nu)
    return np.stack(rows).astype(np.int64)


def _combinations(num_dims: int, degree: int):
    from itertools import combinations_with_replacement

    return combinations_with_replacement(range(num_dims), degree)


def _check_indices(
    indices: Any, num_dims: int | None = None, name: str = "indices"
) -> np.ndarray:
    if indices is None or isinstance(indices, (str, bytes)):
        raise TypeError(f"{name} must be an int array (M, d), got {indices!r}")
    raw = np.asarray(indices)
    if raw.dtype == np.bool_ or not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"{name} must be non-negative integers, got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D (M, d) array, got {raw.shape}"
        )
    if num_dims is not None and raw.shape[1] != num_dims:
        raise ValueError(
            f"{name} must have {num_dims} columns (one per coordinate of z), "
            f"got shape {raw.shape}"
        )
    if np.any(raw < 0) or np.any(raw > MAX_DEGREE):
        raise ValueError(
            f"{name} must be in [0, {MAX_DEGREE}], got min {raw.min()}, max {raw.max()}"
        )
    return raw.astype(np.int64)


def hermite_features(
    z: Float[np.ndarray, "P d"], indices: Int[np.ndarray, "M d"]
) -> Float[np.ndarray, "P M"]:
    """Normalised multivariate Hermite polynomials ``h_nu(z)`` at the points ``z``.

    .. math:: h_\\nu(z) = \\prod_{i=1}^d \\frac{\\mathrm{He}_{\\nu_i}(z_i)}
        {\\sqrt{\\nu_i!}}

    with the probabilists' Hermite polynomials ``He_k`` (``He_0 = 1, He_1 = x,
    He_2 = x^2 - 1``), computed by the normalised recurrence ``h_{k+1} = (x h_k -
    sqrt(k) h_{k-1}) / sqrt(k + 1)``. Under ``z ~ N(0, I_d)`` they are orthonormal:
    ``E[h_nu h_mu] = delta_{nu mu}``. ``z`` should be whitened coordinates (PCA
    coordinates divided by the square root of their variance).

    Args:
        z: ``(P, d)`` real array of whitened coordinates (any float dtype; NumPy
            or JAX).
        indices: ``(M, d)`` non-negative int multi-indices, e.g. from
            :func:`multi_indices` or :func:`predict_eigenvalues`; entries <= 64.

    Returns:
        ``(P, M)`` NumPy float64 array.

    Raises:
        TypeError: non-real ``z`` (None, strings, bools, complex) or non-integer
            ``indices``.
        ValueError: wrong dimensions, NaN/inf in ``z``, negative indices or
            indices above 64, column counts that differ, an allocation above
            ``lm_sims._config.MAX_BYTES``.

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> z = np.array([[1.0, 2.0]])
        >>> hermite_features(z, [[0, 0], [1, 0], [0, 2], [1, 1]]).round(4).tolist()
        [[1.0, 1.0, 2.1213, 2.0]]
    """
    zz = _real_array("z", z, 2)
    nu = _check_indices(indices, zz.shape[1])
    num_points, _ = zz.shape
    num_modes = nu.shape[0]
    check_allocation(
        "hermite_features",
        8.0 * num_points * num_modes * 2,
        "pass fewer points or fewer multi-indices",
    )
    out = np.ones((num_points, num_modes))
    for i in np.flatnonzero(nu.max(axis=0) > 0):
        top = int(nu[:, i].max())
        x = zz[:, i]
        table = np.empty((top + 1, num_points))
        table[0] = 1.0
        table[1] = x
        for k in range(1, top):
            table[k + 1] = (x * table[k] - np.sqrt(k) * table[k - 1]) / np.sqrt(k + 1)
        active = np.flatnonzero(nu[:, i] > 0)
        out[:, active] *= table[nu[active, i]].T
    return out


def rbf_level_coefficients(
    q: float, bandwidth: float, max_level: int
) -> Float[np.ndarray, " levels"]:
    """HEA level coefficients of the Gaussian RBF kernel, ``c_l = exp(-tr Σ_xx /
    σ_K^2) σ_K^(-2l)``.

    For ``K(x, x') = exp(-|x - x'|^2 / (2 σ_K^2))`` on data with covariance trace
    ``tr Σ_xx = sum_i gamma_i`` (the argument ``q``), the HEA eigenvalue of the
    Hermite mode ``nu`` is
    ``c_{|nu|} prod_i gamma_i^{nu_i}`` (the module docstring derives ``c_l``; it
    is the Gaussian-kernel case of the dot-product level coefficients of
    Karkada et al.). The kernel is not divided by the sample count:
    these are the eigenvalues of the integral operator, which the eigenvalues of
    ``K / P`` on ``P`` samples estimate.

    Args:
        q: the trace ``tr Σ_xx = E|x - mu|^2`` of the data covariance, real >= 0.
        bandwidth: kernel width ``σ_K``, real > 0. The ansatz is accurate for
            ``σ_K >= 2 sqrt(tr Σ_xx)`` (poor at ``σ_K^2 ~ tr Σ_xx``).
        max_level: largest degree ``L``, int >= 0.

    Returns:
        ``(L + 1,)`` NumPy float64 array ``[c_0, ..., c_L]``.

    Raises:
        TypeError: non-real ``q`` / ``bandwidth`` or non-integer ``max_level``.
        ValueError: ``q < 0``, ``bandwidth <= 0``, NaN/inf, ``max_level < 0``.

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> rbf_level_coefficients(1.0, 2.0, 2).round(5).tolist()
        [0.7788, 0.1947, 0.04868]
    """
    check_real("q", q, nonnegative=True)
    check_real("bandwidth", bandwidth, positive=True)
    check_int("max_level", max_level, minimum=0)
    s2 = float(bandwidth) ** 2
    levels = np.arange(max_level + 1, dtype=np.float64)
    return np.exp(-float(q) / s2 - levels * np.log(s2))


def predict_eigenvalues(
    gammas: Float[np.ndarray, " d"],
    level_coeffs: Float[np.ndarray, " levels"],
    num_modes: int,
) -> tuple[Float[np.ndarray, " M"], Int[np.ndarray, "M d"]]:
    """HEA eigenvalues ``c_|nu| prod_i gamma_i^nu_i``: the ``num_modes`` largest.

    Searches the multi-indices ``nu`` with ``|nu| <= L`` (``L = len(level_coeffs)
    - 1``) without listing them all: within each degree ``l`` a best-first search
    from ``l e_1`` (coordinates sorted by ``gamma``), moving one unit of degree to
    the next smaller eigenvalue at a time, yields the products ``prod_i
    gamma_i^nu_i`` in decreasing order; the levels are then merged. Ties are
    broken by lower degree first, then by the order of discovery (deterministic).

    Args:
        gammas: ``(d,)`` data covariance eigenvalues, real >= 0 (at least one
            > 0), in any order; ``indices`` refer to this order.
        level_coeffs: ``(L + 1,)`` level coefficients ``c_0..c_L``, real >= 0,
            e.g. :func:`rbf_level_coefficients`; ``L <= 64``.
        num_modes: how many eigenvalues to return, int >= 1.

    Returns:
        ``(eigenvalues, indices)``: ``(M,)`` NumPy float64, sorted descending, and
        the ``(M, d)`` int64 multi-indices, ``M = min(num_modes, number of
        multi-indices with |nu| <= L)``. Feed ``indices`` to
        :func:`hermite_features` for the eigenfunctions.

    Raises:
        TypeError: non-real arrays (None, strings, bools) or non-integer
            ``num_modes``.
        ValueError: wrong dimensions, NaN/inf or negative entries, all-zero
            ``gammas``, more than 65 levels.

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> lam, nu = predict_eigenvalues([1.0, 0.5], [1.0, 0.5, 0.25], 4)
        >>> lam.tolist(), nu.tolist()
        ([1.0, 0.5, 0.25, 0.25], [[0, 0], [1, 0], [0, 1], [2, 0]])
    """
    gam = _real_array("gammas", gammas, 1)
    coeffs = _real_array("level_coeffs", level_coeffs, 1)
    check_int("num_modes", num_modes, minimum=1)
    if np.any(gam < 0) or not np.any(gam > 0):
        raise ValueError("gammas must be >= 0 with at least one > 0")
    if np.any(coeffs < 0):
        raise ValueError("level_coeffs must be >= 0")
    if coeffs.size > MAX_DEGREE + 1:
        raise ValueError(
            f"level_coeffs must have at most {MAX_DEGREE + 1} levels, got {coeffs.size}"
        )
    d = gam.size
    order = np.argsort(-gam, kind="stable")
    g = gam[order]
    with np.errstate(divide="ignore"):
        logg = np.log(g)
    candidates = []  # (-log lambda, degree, rank, sorted-coordinate tuple)
    for level, c in enumerate(coeffs):
        if c <= 0:
            continue
        for rank, (logp, combo) in enumerate(_top_products(logg, level, num_modes)):
            if np.isfinite(logp):
                candidates.append((-(np.log(c) + logp), level, rank, combo))
    candidates.sort(key=lambda t: t[:3])
    candidates = candidates[:num_modes]
    eigenvalues = np.exp(-np.array([t[0] for t in candidates]))
    indices = np.zeros((len(candidates), d), dtype=np.int64)
    for row, (*_, combo) in enumerate(candidates):
        for j in combo:
            indices[row, order[j]] += 1
    return eigenvalues, indices


def _top_products(logg: np.ndarray, degree: int, count: int):
    """The ``count`` largest ``sum_k logg[i_k]`` over non-decreasing ``(i_1..i_l)``
    (``logg`` sorted descending), largest first, by best-first search."""
    if degree == 0:
        return [(0.0, ())]
    d = logg.size
    start = (0,) * degree
    heap = [(-logg[0] * degree, start)]
    seen = {start}
    out = []
    while heap and len(out) < count:
        neg, combo = heapq.heappop(heap)
        out.append((-neg, combo))
        for k in range(degree):
            # move one unit from coordinate combo[k] to the next coordinate
            nxt = combo[k] + 1
            if nxt >= d or (k + 1 < degree and nxt > combo[k + 1]):
                continue
            child = combo[:k] + (nxt,) + combo[k + 1 :]
            if child in seen:
                continue
            seen.add(child)
            heapq.heappush(heap, (neg + logg[combo[k]] - logg[nxt], child))
    return out


def rbf_kernel(
    x: Float[np.ndarray, "P dim"],
    x2: Float[np.ndarray, "Q dim"] | None = None,
    *,
    bandwidth: float,
) -> Float[np.ndarray, "P Q"]:
    """Gaussian RBF kernel ``K(x, x') = exp(-|x - x'|^2 / (2 σ_K^2))`` (float64).

    Args:
        x: ``(P, dim)`` real inputs.
        x2: ``(Q, dim)`` real inputs, or None for ``x2 = x``.
        bandwidth: the width ``σ_K``, real > 0.

    Returns:
        ``(P, Q)`` NumPy float64 Gram matrix.

    Raises:
        TypeError, ValueError: as :func:`hermite_features` for the arrays;
            ``bandwidth <= 0``; mismatched ``dim``.

    Example:
        >>> rbf_kernel(np.zeros((1, 2)), np.ones((1, 2)), bandwidth=1.0).round(4)
        array([[0.3679]])
    """
    a = _real_array("x", x, 2)
    b = a if x2 is None else _real_array("x2", x2, 2)
    if b.shape[1] != a.shape[1]:
        raise ValueError(
            f"x and x2 must have the same number of columns, got {a.shape[1]} and "
            f"{b.shape[1]}"
        )
    check_real("bandwidth", bandwidth, positive=True)
    check_allocation("rbf_kernel", 8.0 * a.shape[0] * b.shape[0], "pass fewer points")
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(sq, 0.0) / (2.0 * float(bandwidth) ** 2))


def fit_coefficients(
    z: Float[np.ndarray, "P d"],
    y: Float[np.ndarray, " P"],
    indices: Int[np.ndarray, "M d"],
) -> tuple[Float[np.ndarray, " M"], float]:
    """Hermite coefficients ``v_nu`` of a target on samples, and its leftover power.

    The modes ``h_nu(z)``, taken in the given order (pass them in decreasing
    predicted eigenvalue, as :func:`predict_eigenvalues` returns them), are
    orthonormalised on the ``P`` samples by Gram-Schmidt (a QR factorisation of
    the ``(P, M)`` feature matrix, signs chosen so each orthonormalised mode keeps
    a positive overlap with its ``h_nu``), and ``v_nu = mean(psi_nu(z) y)`` for
    the orthonormalised ``psi_nu``. On Gaussian samples ``psi_nu ≈ h_nu``; on real
    data, whose whitened coordinates are not Gaussian, the ``h_nu`` overlap, and
    Gram-Schmidt in eigenvalue order gives each mode only the part of the target
    that the modes before it (learned earlier) do not already explain. The
    leftover ``mean(y^2) - sum_nu v_nu^2 >= 0`` is the power outside the ``M``
    modes, which the eigenlearning theory treats as noise. With few modes, power
    that a large training set would learn is counted as noise; with many (a
    sizeable fraction of ``P``), the in-sample fit absorbs part of any residual
    into the coefficients. On the digits the learning curve predicted for
    ``n`` near ``M`` depends on ``M`` either way (:mod:`lm_sims.natural_data`).

    Args:
        z: ``(P, d)`` whitened coordinates.
        y: ``(P,)`` target values, real.
        indices: ``(M, d)`` multi-indices, ``M <= P``, linearly independent on
            the samples.

    Returns:
        ``(coefficients, residual_power)``: ``(M,)`` float64 and a float >= 0.

    Raises:
        TypeError, ValueError: as :func:`hermite_features`; ``y`` of the wrong
            length; ``M > P``; modes that are linearly dependent on the samples.

    References:
        Karkada, Turnbull, Liu & Simon, "Predicting kernel regression learning
        curves from only raw data statistics", 2025, arXiv:2510.14878.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(4000, 2))
        >>> v, rest = fit_coefficients(z, 2 * z[:, 0] * z[:, 1], [[0, 0], [1, 1]])
        >>> v.round(1).tolist(), round(rest, 6)
        ([0.0, 2.0], 0.0)
    """
    zz = _real_array("z", z, 2)
    yy = _real_array("y", y, 1)
    nu = _check_indices(indices, zz.shape[1])
    if yy.size != zz.shape[0]:
        raise ValueError(
            f"y must have one value per row of z ({zz.shape[0]}), got {yy.size}"
        )
    if nu.shape[0] > zz.shape[0]:
        raise ValueError(
            f"need at least as many samples as modes, got P={zz.shape[0]}, "
            f"M={nu.shape[0]}"
        )
    phi = hermite_features(zz, nu)
    q, r = np.linalg.qr(phi)
    diag = np.abs(np.diag(r))
    if np.any(diag <= 1e-10 * np.sqrt(zz.shape[0]) * max(diag.max(), 1.0)):
        raise ValueError(
            "indices must give linearly independent modes on the samples (a "
            "repeated multi-index, or too few distinct samples)"
        )
    sign = np.sign(np.diag(r))
    coeffs = sign * (q.T @ yy) / np.sqrt(zz.shape[0])
    residual = float(max(np.mean(yy**2) - np.sum(coeffs**2), 0.0))
    return coeffs, residual
