# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
"""Observables: pure functions of parameters or representations, separate from any
training loop (record them along a run with ``observe=`` of a module's ``train`` or
of :func:`lm_sims.training.run`).

* curvature: :func:`sharpness` (top Hessian eigenvalue) and :func:`hessian_top_k`,
  by Lanczos iteration on Hessian-vector products (never the dense Hessian);
* representations: :func:`linear_cka` and :func:`mutual_knn_alignment`;
* parameters and activations: :func:`relative_change`, :func:`rms_coordinates`,
  and the deep-linear quantities :func:`mode_strengths`, :func:`balancedness`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_callable,
    check_int,
    check_real,
    is_concrete,
    num_bytes,
)

__all__ = [
    "balancedness",
    "balancedness_step_change",
    "hessian_top_eigenpairs",
    "hessian_top_k",
    "linear_cka",
    "mode_strengths",
    "mutual_knn_alignment",
    "relative_change",
    "rms_coordinates",
    "sharpness",
]


def mode_strengths(
    w: Float[Array, "d_out d_in"],
    u: Float[Array, "d_out modes"],
    vt: Float[Array, "modes d_in"],
) -> Float[Array, " modes"]:
    """Strength of each singular mode in an end-to-end linear map:
    ``u_i = U_i^T W V_i`` (Saxe et al. 2014, arXiv:1312.6120).

    Args:
        w: (d_out, d_in) end-to-end map ``W_L ... W_1``.
        u: (d_out, modes) left singular vectors of ``Sigma_yx``.
        vt: (modes, d_in) right singular vectors (transposed).

    Returns:
        (modes,) mode strengths.

    Raises:
        TypeError: an argument is not a real array.
        ValueError: an argument is not 2-D, holds NaN or inf, or the shapes do not
            chain as (d_out, d_in), (d_out, modes), (modes, d_in).
    """
    w, u, vt = (_matrix(n, a) for n, a in (("w", w), ("u", u), ("vt", vt)))
    if u.shape[0] != w.shape[0]:
        raise ValueError(
            f"u must have d_out = w.shape[0] = {w.shape[0]} rows, got u of shape "
            f"{tuple(u.shape)}"
        )
    if vt.shape != (u.shape[1], w.shape[1]):
        raise ValueError(
            f"vt must have shape (modes, d_in) = ({u.shape[1]}, {w.shape[1]}) from u "
            f"and w, got vt of shape {tuple(vt.shape)}"
        )
    return jnp.einsum("om,oi,mi->m", u, w, vt)


def _matrix(name, a):
    """``a`` as a finite real 2-D array, or an error naming ``name``."""
    a = as_float_array(name, a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(a.shape)}")
    return a


def _matrix_chain(name, mats):
    """``mats`` as a list of finite real 2-D arrays with ``mats[l + 1].shape[1] ==
    mats[l].shape[0]`` (a product ``M_L ... M_1``), or an error naming ``name``."""
    if isinstance(mats, (str, bytes)) or not isinstance(mats, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of 2-D arrays (W_1, ..., W_L), got "
            f"{type(mats).__name__}"
        )
    if not mats:
        raise ValueError(f"{name} must hold at least one matrix, got none")
    out = [_matrix(f"{name}[{i}]", m) for i, m in enumerate(mats)]
    for i in range(len(out) - 1):
        if out[i + 1].shape[1] != out[i].shape[0]:
            raise ValueError(
                f"{name}[{i + 1}] has shape {tuple(out[i + 1].shape)}, but the product "
                f"needs {out[i].shape[0]} columns ({name}[{i}] has shape "
                f"{tuple(out[i].shape)})"
            )
    return out


def balancedness(
    weights: Sequence[Float[Array, "out in"]],
) -> list[Float[Array, "n n"]]:
    """Balancedness ``Q_l = W_l W_l^T - W_{l+1}^T W_{l+1}`` for l = 1 .. L-1, eq. (1.5).

    Gradient flow on any loss of the product ``W_L ... W_1`` conserves every ``Q_l``
    (Arora, Cohen & Hazan 2018; Du, Hu & Lee 2018).

    Args:
        weights: ``(W_1, ..., W_L)``, ``W_l`` of shape (n_l, n_{l-1}).

    Returns:
        L - 1 arrays, ``Q_l`` of shape (n_l, n_l).

    Raises:
        TypeError: ``weights`` is not a list of real arrays.
        ValueError: it is empty, a matrix is not 2-D or holds NaN or inf, or the
            shapes do not chain.

    References:
        Du, Hu & Lee, "Algorithmic regularization in learning deep homogeneous models:
        layers are automatically balanced", 2018, arXiv:1806.00900.
        Arora, Cohen & Hazan, "On the optimization of deep networks: implicit
        acceleration by overparameterization", 2018, arXiv:1802.06509.
    """
    weights = _matrix_chain("weights", weights)
    return [
        weights[i] @ weights[i].T - weights[i + 1].T @ weights[i + 1]
        for i in range(len(weights) - 1)
    ]


def balancedness_step_change(
    grads: Sequence[Float[Array, "out in"]], lr: float
) -> list[Float[Array, "n n"]]:
    """The exact change of each ``Q_l`` in one gradient-descent step, eq. (1.6):
    ``Delta Q_l = lr^2 (G_l G_l^T - G_{l+1}^T G_{l+1})`` with ``G_l = dL/dW_l``.

    The first-order terms cancel because ``G_l W_l^T = W_{l+1}^T G_{l+1}`` for any
    loss of the product; only the ``lr^2`` term survives, so over a fixed time
    ``t = lr * steps`` the drift of ``Q`` grows linearly in ``lr``.

    Args:
        grads: ``(G_1, ..., G_L)`` at the current weights.
        lr: learning rate.

    Returns:
        L - 1 arrays of shape (n_l, n_l).

    Raises:
        TypeError: ``grads`` is not a list of real arrays, or ``lr`` not a real.
        ValueError: ``grads`` is empty, a matrix is not 2-D or holds NaN or inf, the
            shapes do not chain, or ``lr`` is not finite and > 0.
    """
    grads = _matrix_chain("grads", grads)
    if is_concrete(lr):
        check_real("lr", lr, positive=True)
    return [
        lr**2 * (grads[i] @ grads[i].T - grads[i + 1].T @ grads[i + 1])
        for i in range(len(grads) - 1)
    ]


# -- curvature: Lanczos on Hessian-vector products ---------------------------------


def _probe(n: int, j: int, dtype) -> jax.Array:
    """A fixed, deterministic start/restart vector (unit norm, no zero entries)."""
    i = jnp.arange(1, n + 1, dtype=dtype)
    golden = (math.sqrt(5.0) - 1.0) / 2.0
    v = jnp.cos(2.0 * jnp.pi * jnp.mod(i * (j + 1) * golden, 1.0)) + 0.5 / (j + 1)
    return v / jnp.linalg.norm(v)


def _lanczos(hvp, n: int, m: int, dtype, start=None, vectors=False):
    """m steps of Lanczos with full reorthogonalisation; returns Ritz values
    (ascending), and with ``vectors=True`` also the (n, m) Ritz vectors (columns).
    ``start`` (n,) replaces the fixed probe as the first Lanczos vector."""
    basis = jnp.zeros((m, n), dtype)
    v = _probe(n, 0, dtype)
    if start is not None:
        norm = jnp.linalg.norm(start)
        v = jnp.where(norm > 0, start / jnp.where(norm > 0, norm, 1.0), v)
    alphas = jnp.zeros(m, dtype)
    betas = jnp.zeros(m, dtype)  # betas[j] couples vectors j and j + 1

    def body(j, state):
        basis, v, alphas, betas = state
        basis = basis.at[j].set(v)
        w = hvp(v)
        alpha = jnp.vdot(v, w)
        # full reorthogonalisation against every stored vector, twice
        # (Paige 1971; Parlett 1998, ch. 13): keeps the basis orthonormal in floats
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        scale = jnp.maximum(jnp.abs(alpha), jnp.max(jnp.abs(alphas)))
        breakdown = beta <= 1e3 * jnp.finfo(dtype).eps * jnp.maximum(scale, 1e-30)
        # an invariant subspace is exhausted: restart from a fresh vector orthogonal
        # to the basis (beta = 0 decouples the tridiagonal matrix exactly)
        fresh = _probe(n, j + 1, dtype)
        for _ in range(2):
            fresh = fresh - basis.T @ (basis @ fresh)
        nxt = jnp.where(breakdown, fresh / jnp.linalg.norm(fresh), w / beta)
        beta = jnp.where(breakdown, 0.0, beta)
        return basis, nxt, alphas.at[j].set(alpha), betas.at[j].set(beta)

    basis, _, alphas, betas = jax.lax.fori_loop(0, m, body, (basis, v, alphas, betas))
    tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    if not vectors:
        return jnp.linalg.eigvalsh(tri)  # ascending
    theta, s = jnp.linalg.eigh(tri)
    return theta, basis.T @ s


def _check_params(params, name="params"):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError(f"{name} must hold at least one array")
    for x in leaves:
        if isinstance(x, (str, bytes)) or (
            is_concrete(x) and np.asarray(x).dtype.kind not in "fiub"
        ):
            raise TypeError(
                f"{name} must hold floating arrays, got a leaf {x!r:.60} "
                f"({type(x).__name__})"
            )
        if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
            raise TypeError(
                f"{name} must be floating arrays, got dtype {jnp.result_type(x)}"
            )
        if is_concrete(x) and not bool(jnp.all(jnp.isfinite(x))):
            raise ValueError(f"{name} must be finite, got NaN or inf entries")


def _flat_hvp(loss_fn, params, k, num_iters):
    """Validate a Lanczos request; return the flat parameters, their unravel, the
    number of parameters n, the Lanczos size m and the flat Hessian-vector product
    (forward-over-reverse autodiff)."""
    check_callable("loss_fn", loss_fn, optional=False)
    _check_params(params)
    flat, unravel = ravel_pytree(params)
    n = flat.shape[0]
    if n == 0:
        raise ValueError("params must hold at least one entry, got none")
    check_int("num_iters", num_iters, minimum=1)
    m = min(num_iters, n)
    if isinstance(k, int) and not isinstance(k, bool) and k > m:
        raise ValueError(
            f"k must be <= min(num_iters, num_params) = min({num_iters}, {n}) = {m}, "
            f"got k={k}; raise num_iters to at least k (the top k Ritz values "
            "converge only when num_iters is comfortably above k)"
        )
    check_int("k", k, minimum=1, maximum=m)
    check_allocation(
        f"the Lanczos basis (num_iters={m} x num_params={n})",
        2 * num_bytes(m, n),
        "lower num_iters",
    )

    def flat_loss(x):
        return loss_fn(unravel(x))

    out = jax.eval_shape(flat_loss, flat)
    if getattr(out, "shape", None) != ():
        raise TypeError(
            "loss_fn must return a scalar, got "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )
    grad = jax.grad(flat_loss)

    def hvp(v):
        return jax.jvp(grad, (flat,), (v,))[1]

    return flat, unravel, n, m, hvp


def hessian_top_k(
    loss_fn: Callable[[Any], Float[Array, ""]],
    params: Any,
    k: int,
    *,
    num_iters: int = 32,
) -> Float[Array, " k"]:
    r"""The k largest eigenvalues of the Hessian of ``loss_fn`` at ``params``.

    Lanczos iteration (with full reorthogonalisation) on Hessian-vector products
    :math:`v \mapsto \nabla^2 \mathcal{L}(\theta)\, v` (forward-over-reverse
    autodiff), so the Hessian is never formed: ``num_iters`` HVPs, memory
    ``num_iters x num_params``. The Ritz values converge first at the ends of the
    spectrum; with ``num_iters >= num_params`` they are the exact eigenvalues (up
    to rounding). The start vector is fixed and deterministic, so the result is
    reproducible. Jittable (``k`` and ``num_iters`` are Python ints) and works on
    any parameter pytree.

    Args:
        loss_fn: scalar function of the parameters (close over the data).
        params: a pytree of floating arrays (num_params entries in all).
        k: number of eigenvalues, 1 <= k <= min(num_iters, num_params).
        num_iters: Lanczos steps (>= 1); capped at num_params.

    Returns:
        (k,) the largest eigenvalues (algebraic, not by magnitude), descending,
        in the dtype of ``params``.

    Raises:
        ValueError: ``k`` or ``num_iters`` out of range, or ``params`` has NaN.
        TypeError: a leaf of ``params`` is not floating, or ``k`` is not an int.

    References:
        Lanczos, "An iteration method for the solution of the eigenvalue problem
        of linear differential and integral operators", 1950.
        Ghorbani, Krishnan & Xiao, "An investigation into neural net optimization
        via Hessian eigenvalue density", 2019, arXiv:1901.10159.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.observables import hessian_top_k
        >>> a = jnp.diag(jnp.array([3.0, 2.0, 1.0, -1.0]))
        >>> top = hessian_top_k(lambda w: 0.5 * w @ a @ w, jnp.ones(4), 2)
        >>> [round(v, 4) for v in top.tolist()]
        [3.0, 2.0]
    """
    flat, unravel, n, m, hvp = _flat_hvp(loss_fn, params, k, num_iters)
    ritz = _lanczos(hvp, n, m, flat.dtype)
    return ritz[::-1][:k]


def sharpness(
    loss_fn: Callable[[Any], Float[Array, ""]],
    params: Any,
    *,
    num_iters: int = 20,
) -> Float[Array, ""]:
    r"""Sharpness: the largest eigenvalue of the Hessian of the loss.

    :math:`\lambda_{\max}(\nabla^2 \mathcal{L}(\theta))`, by :func:`hessian_top_k`
    with k = 1 (Lanczos on Hessian-vector products). Gradient descent with step
    ``lr`` is stable on a quadratic only while sharpness < 2 / lr; full-batch
    training drives it up to that edge and hovers there (Cohen et al. 2021).
    Exact on a quadratic ``1/2 w^T A w`` once ``num_iters`` reaches the number of
    distinct eigenvalues of A. Jittable; use it as an ``observe`` hook.

    Args:
        loss_fn: scalar function of the parameters (close over the data).
        params: a pytree of floating arrays.
        num_iters: Lanczos steps (>= 1); capped at the number of parameters.

    Returns:
        Scalar, the top Hessian eigenvalue (algebraic), dtype of ``params``.

    Raises:
        ValueError, TypeError: as :func:`hessian_top_k`.

    References:
        Cohen et al., "Gradient descent on neural networks typically occurs at the
        edge of stability", 2021, arXiv:2103.00065.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.observables import sharpness
        >>> a = jnp.array([[2.0, 1.0], [1.0, 2.0]])  # eigenvalues 3 and 1
        >>> round(float(sharpness(lambda w: 0.5 * w @ a @ w, jnp.zeros(2))), 5)
        3.0
    """
    return hessian_top_k(loss_fn, params, 1, num_iters=num_iters)[0]


def hessian_top_eigenpairs(
    loss_fn: Callable[[Any], Float[Array, ""]],
    params: Any,
    k: int = 1,
    *,
    num_iters: int = 20,
    start: Any = None,
) -> tuple[Float[Array, " k"], Any]:
    r"""The k largest Hessian eigenvalues and their unit eigenvectors, by Lanczos.

    As :func:`hessian_top_k` (Lanczos with full reorthogonalisation on
    Hessian-vector products, never the dense Hessian), and also the Ritz
    vectors. ``start`` warm-starts the iteration: along a training run, the
    previous step's eigenvectors (summed) make a few steps enough (the central
    flow of :mod:`lm_sims.central_flow` uses 10). Signs are arbitrary. Jittable.

    Args:
        loss_fn: scalar function of the parameters (close over the data).
        params: a pytree of floating arrays (num_params entries in all).
        k: number of eigenpairs, 1 <= k <= min(num_iters, num_params).
        num_iters: Lanczos steps (>= 1); capped at num_params.
        start: None (the fixed probe vector of :func:`hessian_top_k`) or a pytree
            like ``params``, the first Lanczos vector (normalised here; an all-zero
            start falls back to the probe).

    Returns:
        ``(values, vectors)``: (k,) eigenvalues, descending, and a pytree like
        ``params`` with a leading axis k (vector i of unit Euclidean norm over
        all leaves).

    Raises:
        ValueError, TypeError: as :func:`hessian_top_k`; ``start`` not a pytree
            of the structure and shapes of ``params``.

    References:
        Lanczos, "An iteration method for the solution of the eigenvalue problem
        of linear differential and integral operators", 1950.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.observables import hessian_top_eigenpairs
        >>> a = jnp.diag(jnp.array([1.0, 3.0, 2.0]))
        >>> s, u = hessian_top_eigenpairs(lambda w: 0.5 * w @ a @ w, jnp.ones(3))
        >>> round(float(s[0]), 5), [round(abs(x), 5) for x in u[0].tolist()]
        (3.0, [0.0, 1.0, 0.0])
    """
    flat, unravel, n, m, hvp = _flat_hvp(loss_fn, params, k, num_iters)
    v0 = None
    if start is not None:
        same = jax.tree_util.tree_structure(start) == jax.tree_util.tree_structure(
            params
        ) and all(
            jnp.shape(a) == jnp.shape(b)
            for a, b in zip(
                jax.tree_util.tree_leaves(start),
                jax.tree_util.tree_leaves(params),
                strict=True,
            )
        )
        if not same:
            raise ValueError(
                "start must be a pytree with the structure and shapes of params"
            )
        _check_params(start, "start")
        v0 = ravel_pytree(start)[0].astype(flat.dtype)

    theta, vecs = _lanczos(hvp, n, m, flat.dtype, start=v0, vectors=True)
    top = vecs[:, ::-1][:, :k].T  # (k, n), descending
    top = top / jnp.linalg.norm(top, axis=1, keepdims=True)
    return theta[::-1][:k], jax.vmap(unravel)(top)


# -- representations ------------------------------------------------------------


def _check_features(name, x, *, min_samples=2):
    x = as_float_array(name, x, finite=False)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (samples, features), got shape {tuple(x.shape)}"
        )
    if x.shape[0] < min_samples or x.shape[1] < 1:
        raise ValueError(
            f"{name} needs >= {min_samples} samples and >= 1 feature, got shape "
            f"{tuple(x.shape)}"
        )
    if is_concrete(x) and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")
    return x


def _check_pair(x, y, min_samples=2):
    x = _check_features("x", x, min_samples=min_samples)
    y = _check_features("y", y, min_samples=min_samples)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "x and y must hold the same samples (same first axis), got "
            f"{x.shape[0]} and {y.shape[0]}"
        )
    dtype = jnp.result_type(x.dtype, y.dtype, float)
    return x.astype(dtype), y.astype(dtype)


def linear_cka(
    x: Float[ArrayLike, "n p1"], y: Float[ArrayLike, "n p2"]
) -> Float[Array, ""]:
    r"""Linear centred kernel alignment (CKA) between two representations.

    With column-centred features :math:`X` (n, p1) and :math:`Y` (n, p2) of the
    same n samples,

    .. math::

        \mathrm{CKA}(X, Y) = \frac{\lVert Y^\top X \rVert_F^2}
            {\lVert X^\top X \rVert_F\, \lVert Y^\top Y \rVert_F} \in [0, 1],

    the HSIC of the linear kernels normalised. It is 1 for identical inputs and is
    invariant to orthogonal transforms and isotropic scaling of either argument
    (not to arbitrary invertible linear maps), and the feature counts may differ.

    Args:
        x: (n, p1) features, n >= 2 samples.
        y: (n, p2) features of the same samples.

    Returns:
        Scalar CKA in [0, 1]. (Under ``jit``, where inputs are not checked, NaN if
        a representation is constant over samples.)

    Raises:
        ValueError: not 2-D, different sample counts, fewer than 2 samples, NaN or
            inf entries, or a representation constant over samples.
        TypeError: an input is not an array of real numbers (None, str, complex).

    References:
        Kornblith, Norouzi, Lee & Hinton, "Similarity of neural network
        representations revisited", 2019, arXiv:1905.00414.

    Example:
        >>> import jax
        >>> from lm_sims.observables import linear_cka
        >>> x = jax.random.normal(jax.random.key(0), (50, 8))
        >>> round(float(linear_cka(x, 3.0 * x)), 5)
        1.0
    """
    x, y = _check_pair(x, y)
    x = x - jnp.mean(x, axis=0)
    y = y - jnp.mean(y, axis=0)
    for name, z in (("x", x), ("y", y)):
        if is_concrete(z) and not bool(jnp.any(z != 0)):
            raise ValueError(
                f"{name} is constant over samples (all zero once centred): CKA "
                "is undefined for a representation without variance"
            )
    # Scale by the largest entry, then by the norm, so that the squared norms
    # neither underflow (entries ~1e-30) nor overflow (~1e30) in float32.
    x = x / jnp.max(jnp.abs(x))
    y = y / jnp.max(jnp.abs(y))
    x = x / jnp.linalg.norm(x)
    y = y / jnp.linalg.norm(y)
    cross = jnp.sum((y.T @ x) ** 2)
    return cross / (jnp.linalg.norm(x.T @ x) * jnp.linalg.norm(y.T @ y))


def _knn(z, k):
    z = z / jnp.maximum(jnp.linalg.norm(z, axis=1, keepdims=True), 1e-30)
    sim = z @ z.T
    sim = jnp.where(jnp.eye(z.shape[0], dtype=bool), -jnp.inf, sim)
    return jax.lax.top_k(sim, k)[1]


def mutual_knn_alignment(
    x: Float[ArrayLike, "n p1"], y: Float[ArrayLike, "n p2"], k: int
) -> Float[Array, ""]:
    r"""Mutual k-nearest-neighbour alignment of two representations.

    For each sample i, :math:`N_X(i)` is the set of its k nearest other samples in
    representation X by cosine similarity (rows normalised to unit length, as in
    Huh et al.), and likewise :math:`N_Y(i)`. The alignment is the mean overlap

    .. math:: m_{kNN}(X, Y) = \frac{1}{n} \sum_i \frac{|N_X(i) \cap N_Y(i)|}{k}.

    It is 1 for identical representations (or ones related by a rotation or
    positive scaling) and about ``k / (n - 1)`` for independent ones (chance).
    Ties in similarity (duplicate samples, or all-zero rows such as inputs on
    which every ReLU unit is dead) are broken by sample index in both X and Y
    alike, which inflates the score: drop such rows first.

    Args:
        x: (n, p1) features.
        y: (n, p2) features of the same n samples.
        k: neighbours per sample, 1 <= k <= n - 1 (Python int).

    Returns:
        Scalar in [0, 1].

    Raises:
        ValueError: shapes or ``k`` out of range (k >= n included), NaN entries,
            or n so large that the (n, n) similarity matrix exceeds the memory
            limit (``lm_sims._config.MAX_BYTES``).
        TypeError: an input is not an array of real numbers, or k not an int.

    References:
        Huh, Cheung, Wang & Isola, "The Platonic representation hypothesis", 2024,
        arXiv:2405.07987.

    Example:
        >>> import jax
        >>> from lm_sims.observables import mutual_knn_alignment
        >>> x = jax.random.normal(jax.random.key(0), (40, 5))
        >>> float(mutual_knn_alignment(x, 2.0 * x, k=5))
        1.0
    """
    x, y = _check_pair(x, y)
    check_int("k", k, minimum=1, maximum=x.shape[0] - 1)
    n = x.shape[0]
    check_allocation(
        f"the (n, n) similarity matrices for n={n} samples",
        2 * num_bytes(n, n),
        "use fewer samples (a random subset)",
    )
    nx, ny = _knn(x, k), _knn(y, k)
    shared = jnp.sum(nx[:, :, None] == ny[:, None, :], axis=(1, 2))
    return jnp.mean(shared / k)


# -- parameters and coordinates ------------------------------------------------------


def relative_change(params: Any, params0: Any) -> Float[Array, ""]:
    r"""Relative parameter change :math:`\lVert\theta - \theta_0\rVert /
    \lVert\theta_0\rVert` over a whole pytree.

    The norms are Euclidean over every entry of every leaf together (the Frobenius
    norm of all parameters stacked). Small in the lazy (kernel) regime, O(1) in the
    rich regime (Chizat, Oyallon & Bach 2019).

    Args:
        params: current parameters, a pytree of arrays.
        params0: reference (initial) parameters, the same structure and shapes.

    Returns:
        Scalar ratio, in the default float dtype (integer leaves are promoted,
        so squares do not overflow). (Under ``jit``, where inputs are not
        checked, inf or NaN if ``params0`` is all zeros.)

    Raises:
        ValueError: the two pytrees differ in structure or shapes, are empty,
            hold NaN or inf, or ``params0`` is all zeros.
        TypeError: a leaf is not an array of real numbers.

    References:
        Chizat, Oyallon & Bach, "On lazy training in differentiable programming",
        2019, arXiv:1812.07956.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.observables import relative_change
        >>> p0 = {"a": jnp.array([3.0, 0.0]), "b": jnp.array(4.0)}
        >>> p1 = {"a": jnp.array([3.0, 1.0]), "b": jnp.array(4.0)}
        >>> round(float(relative_change(p1, p0)), 6)
        0.2
    """
    s1, s0 = jax.tree_util.tree_structure(params), jax.tree_util.tree_structure(params0)
    if s1 != s0:
        raise ValueError(
            f"params and params0 must have the same structure, got {s1} and {s0}"
        )
    leaves = [as_float_array("params", a) for a in jax.tree_util.tree_leaves(params)]
    leaves0 = [as_float_array("params0", b) for b in jax.tree_util.tree_leaves(params0)]
    if not leaves:
        raise ValueError("params must hold at least one array, got an empty pytree")
    for a, b in zip(leaves, leaves0, strict=True):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                "params and params0 must have the same shapes, got "
                f"{jnp.shape(a)} and {jnp.shape(b)}"
            )
    num = sum(jnp.sum((a - b) ** 2) for a, b in zip(leaves, leaves0, strict=True))
    den = sum(jnp.sum(b**2) for b in leaves0)
    if is_concrete(den) and not float(den) > 0:
        raise ValueError(
            "params0 must not be all zeros (the change relative to a zero "
            "reference is undefined)"
        )
    return jnp.sqrt(num / den)


def rms_coordinates(
    x: Float[ArrayLike, ...], axis: int | tuple[int, ...] | None = None
) -> Float[Array, ...]:
    r"""Root-mean-square size of the coordinates of ``x``:
    :math:`\sqrt{\mathrm{mean}(x^2)}`.

    The quantity of the muP coordinate check (Yang et al. 2022): a typical entry of
    a width-n activation vector stays O(1) as n grows in a well-scaled network,
    where the vector's norm grows as :math:`\sqrt{n}`. Default: over all entries
    (e.g. an activation matrix (samples, width)); ``axis=0`` gives each
    coordinate's RMS over samples.

    Args:
        x: an array of any shape, at least one entry.
        axis: axes to average over; None for all.

    Returns:
        The RMS, reduced over ``axis`` (a scalar by default).

    Raises:
        ValueError: ``x`` is empty, has NaN or inf entries, or ``axis`` is out
            of range.
        TypeError: ``x`` is not an array of real numbers, or ``axis`` not ints.

    References:
        Yang et al., "Tensor Programs V: tuning large neural networks via zero-shot
        hyperparameter transfer", 2022, arXiv:2203.03466 (coordinate check).

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.observables import rms_coordinates
        >>> float(rms_coordinates(jnp.array([[3.0, -3.0], [3.0, 3.0]])))
        3.0
    """
    x = as_float_array("x", x)
    if x.size == 0:
        raise ValueError(f"x must have at least one entry, got shape {x.shape}")
    if axis is not None:
        if not isinstance(axis, (tuple, list)):
            axis = (axis,)
        for a in axis:
            check_int("axis", a, minimum=-x.ndim, maximum=x.ndim - 1)
        axis = tuple(axis)
    # scale by the largest entry so that squares neither overflow nor underflow
    scale = jnp.max(jnp.abs(x))
    scale = jnp.where(scale > 0, scale, 1.0)
    return scale * jnp.sqrt(jnp.mean((x / scale) ** 2, axis=axis))
