# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""The central flow: the time-averaged trajectory of gradient descent at the edge
of stability (Cohen, Damian, Talwalkar, Kolter & Lee 2024).

**Time averaging.** At the edge of stability (Chapter 3) gradient descent with step
``lr`` oscillates along the top Hessian eigenvector :math:`u` about a smoothly
moving centre :math:`\bar w`: :math:`w = \bar w + x\, u`. Averaging the gradient
over the oscillation, with :math:`\mathbb{E}[x] = 0` and
:math:`\mathbb{E}[x^2] = \sigma^2`, a Taylor expansion to third order gives
:math:`\mathbb{E}[\nabla L(\bar w + x u)] \approx \nabla L(\bar w)
+ \tfrac12 \sigma^2 \nabla S(\bar w)`, where :math:`S = u^\top H u` is the
sharpness and :math:`\nabla S = \nabla^3 L[u, u]`. The centre therefore follows

.. math::

    \frac{dw}{dt} = -\mathrm{lr}\,\Big[\nabla L(w)
        + \tfrac12\, \sigma^2(t)\, \nabla S(w)\Big],
    \qquad (eq-cf-flow)

with time in steps (in the book's time ``t = lr * steps`` the factor ``lr``
disappears). The oscillation keeps the sharpness pinned at the edge,
:math:`S(w) = 2/\mathrm{lr}`; requiring :math:`dS/dt = \nabla S \cdot dw/dt = 0`
fixes

.. math::

    \sigma^2 = \frac{2\,\langle -\nabla L, \nabla S\rangle}{\|\nabla S\|^2}
    \;\ge 0, \qquad (eq-cf-sigma)

and :math:`\sigma^2 = 0` (gradient flow) while :math:`S < 2/\mathrm{lr}`. With
eq. (eq-cf-sigma), eq. (eq-cf-flow) is gradient flow projected orthogonally to
:math:`\nabla S`: the learning rate acts as an implicit penalty
:math:`\tfrac12\sigma^2 S` on the curvature. Since
:math:`L(\bar w + x u) \approx L(\bar w) + \tfrac12 S x^2` and
:math:`S = 2/\mathrm{lr}`, the time-averaged loss of gradient descent is predicted
to be

.. math::

    \overline{L} \approx L(w) + \frac{\sigma^2}{\mathrm{lr}}.
    \qquad (eq-cf-loss)

This is the rank-one case (one eigenvalue at the edge) of the central flow for
gradient descent in Cohen et al. (2024), Section 3 (their time-averaged gradient,
projected flow and predicted loss; the general case is a semidefinite
complementarity problem over all eigenvalues at the edge).

**What is integrated** (:func:`central_flow_step`). Explicit Euler substeps of
``dt`` steps (``substeps`` = 2 per gradient-descent step, so ``dt = 1/2``). At
each substep the sharpness and its eigenvector come from Lanczos
(:func:`lm_sims.observables.hessian_top_eigenpairs`, ``lanczos_iters`` = 10
Hessian-vector products, warm-started from the previous eigenvector), the
gradient of the sharpness from autodiff of :math:`w \mapsto u^\top H(w) u` at
fixed :math:`u`, and :math:`\sigma^2` from the complementarity condition
discretised over the substep, as in the authors' code: the smallest
:math:`\sigma^2 \ge 0` for which the linearised sharpness after the substep does
not exceed the edge,

.. math::

    \sigma^2 = \max\Big(0,\;
        \frac{2\,\langle -\nabla L, \nabla S\rangle}{\|\nabla S\|^2}
        + \frac{2\,(S - 2/\mathrm{lr})}{\mathrm{dt}\;\mathrm{lr}\,\|\nabla S\|^2}
    \Big). \qquad (eq-cf-sigma-discrete)

The first term is eq. (eq-cf-sigma); the second, the *restoring term*, pulls a
sharpness that drifted above the edge (integration error, Lanczos error) back to
it within one substep, and turns the flow on by itself once S reaches
``2/lr`` (below the edge the bracket is negative far from it).

**Gradient flow** :math:`dw/dt = -\mathrm{lr}\,\nabla L(w)` (time in steps) is
integrated separately and accurately: classical fourth-order Runge-Kutta, with
the number of substeps in each step chosen from gradient flow's sharpness
:math:`S_{\mathrm{GF}}` recorded at the start of that step, so that
:math:`\mathrm{lr}\,S_{\mathrm{GF}}/m \le` ``GF_SUBSTEP_SHARPNESS`` = 0.5, well
inside RK4's stability interval (2.79) and independent of ``substeps``. (Two Euler
substeps, as for the central flow, would be gradient descent at ``lr/2``, stable
only while :math:`S < 4/\mathrm{lr}`, i.e. twice the edge, which gradient flow
passes at larger steps.) On the toy it keeps :math:`a^2 - b^2` to about 2e-5
relative.

**The experiments.** :func:`run_flows` runs gradient descent, the central flow
and gradient flow side by side from one point, for any loss on a parameter
pytree. :func:`experiment` is the book's network: Chapter 3's two-layer tanh
network (:mod:`lm_sims.edge_of_stability`, ``f = a^T tanh(W x) / sqrt(n)``,
small readout) of width 32 on 500 digits with centred one-hot targets and the
1/2-MSE loss, ``lr = 2 / (k S0)`` with k = 1.5; gradient descent runs until
``S lr / 2 >= 0.9``, then 200 steps more (it reaches the edge within ~30
steps and overshoots it while its oscillation grows from rounding error; the
central flow, which assumes the oscillation is already there, does not model
this onset: started together, the two drift apart in weight space); the two
flows start from the midpoint of its last 2-cycle. :func:`toy_flows` is the
two-parameter toy ``L(a, b) = 1/2 (ab - 1)^2`` of Chapter 1.

References:
    Cohen, Damian, Talwalkar, Kolter & Lee, "Understanding optimization in deep
    learning with central flows", 2024, arXiv:2410.24206.
    Damian, Nichani & Lee, "Self-stabilization: the implicit bias of gradient
    descent at the edge of stability", 2023, arXiv:2209.15594.
    Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient descent on neural networks
    typically occurs at the edge of stability", 2021, arXiv:2103.00065.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims import edge_of_stability, observables, training
from lm_sims._config import (
    as_float_array,
    check_callable,
    check_float_pytree,
    check_int,
    check_key,
    check_real,
    config_dataclass,
    diverged_flag,
)

__all__ = [
    "Config",
    "Experiment",
    "Flows",
    "central_flow_step",
    "experiment",
    "gaussian_smooth",
    "grad_sharpness",
    "median_relative_error",
    "predicted_loss",
    "run_flows",
    "sigma_squared",
    "toy_conserved",
    "toy_flows",
    "toy_loss",
    "toy_sharpness",
    "predict_toy_gradient_flow_sharpness",
    "GF_SUBSTEP_SHARPNESS",
]

#: The largest substep times sharpness allowed when gradient flow is integrated
#: by RK4. Each step is split into ``m = ceil(lr S_GF / GF_SUBSTEP_SHARPNESS)``
#: substeps (at least 1, at most ``_GF_MAX_SUBSTEPS``), well inside RK4's
#: stability limit 2.79 on the negative real axis.
GF_SUBSTEP_SHARPNESS = 0.5
_GF_MAX_SUBSTEPS = 4096


def _float():
    return jnp.zeros(()).dtype


# -- the flow's pieces ---------------------------------------------------------


def _flat(loss_fn, params):
    flat, unravel = ravel_pytree(params)

    def flat_loss(x):
        return loss_fn(unravel(x))

    return flat, unravel, flat_loss


def _grad_s_flat(flat_loss, x, u, v=None):
    """d/dx (u^T H(x) v) at fixed u, v (v = u: the gradient of the sharpness)."""
    grad = jax.grad(flat_loss)
    v = u if v is None else v

    def s_of(y):
        return jnp.vdot(u, jax.jvp(grad, (y,), (v,))[1])

    return jax.grad(s_of)(x)


def _sigma2(g, gs, s, lr, dt):
    den = 0.5 * dt * lr * jnp.vdot(gs, gs)
    num = s - 2.0 / lr - dt * lr * jnp.vdot(gs, g)
    safe = jnp.where(den > 0, den, 1.0)
    return jnp.where(den > 0, jnp.maximum(0.0, num / safe), 0.0)


def _eig(flat_loss, x, start, iters, k=1):
    """Top-k eigenpairs: (k,) values, (k, n) vectors; start (n,) or None."""
    return observables.hessian_top_eigenpairs(
        flat_loss, x, k, num_iters=iters, start=start
    )


def _psd_project(m):
    lam, q = jnp.linalg.eigh(0.5 * (m + m.T))
    return (q * jnp.maximum(lam, 0.0)) @ q.T


_SDCP_ITERS = 300


def _solve_sdcp(a, gram, c):
    """X >= 0 (PSD) with R = a + c G(X) >= 0 and <X, R> = 0 (k x k).

    The KKT conditions of min <a, X> + c/2 <X, G(X)> over the PSD cone (G a PSD
    operator, ``gram`` its (k, k, k, k) matrix): accelerated projected gradient.
    For k = 1 the first step is exact, X = max(0, -a / (c G)).
    """
    kk = a.shape[0]
    flat_g = gram.reshape(kk * kk, kk * kk)
    lip = c * jnp.maximum(jnp.linalg.eigvalsh(flat_g)[-1], 1e-300)

    def resid(x):
        return a + c * (flat_g @ x.reshape(-1)).reshape(kk, kk)

    def body(_, st):
        x, y, tk = st
        x1 = _psd_project(y - resid(y) / lip)
        t1 = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk**2))
        y1 = x1 + ((tk - 1.0) / t1) * (x1 - x)
        return x1, y1, t1

    x0 = jnp.zeros_like(a)
    one = jnp.ones((), a.dtype)
    x, _, _ = jax.lax.fori_loop(0, _SDCP_ITERS, body, (x0, x0, one))
    return x


def _cf_substep(flat_loss, x, start, lr, dt, iters, k=1):
    """One Euler substep of eq. (eq-cf-flow) with k eigenvalues at the edge.

    Returns x', the (k, n) eigenvectors, the (k, k) covariance X of the
    oscillation in their basis (Sigma = U^T X U), and the (k,) eigenvalues.
    """
    g = jax.grad(flat_loss)(x)
    lam, u = _eig(flat_loss, x, start, iters, k)
    if k == 1:
        gs = _grad_s_flat(flat_loss, x, u[0])
        sig2 = _sigma2(g, gs, lam[0], lr, dt)
        return x - dt * lr * (g + 0.5 * sig2 * gs), u, sig2[None, None], lam
    # gradients of every entry u_i^T H u_j: (k, k, n)
    pairs = [(i, j) for i in range(k) for j in range(k)]
    dh = jnp.stack([_grad_s_flat(flat_loss, x, u[i], u[j]) for i, j in pairs])
    dh = dh.reshape(k, k, -1)
    gram = jnp.einsum("ijn,kln->ijkl", dh, dh)
    drift = jnp.einsum("ijn,n->ij", dh, -lr * g)  # dH/dt of gradient flow
    a = 2.0 / lr * jnp.eye(k, dtype=x.dtype) - jnp.diag(lam) - dt * drift
    cov = _solve_sdcp(a, gram, 0.5 * dt * lr)
    push = jnp.einsum("ij,ijn->n", cov, dh)
    return x - dt * lr * (g + 0.5 * push), u, cov, lam


def _check_loss_params(loss_fn, params):
    check_callable("loss_fn", loss_fn, optional=False)
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must hold at least one array")
    for leaf in leaves:
        as_float_array("params", leaf, allow_bool=False)
    flat, _, flat_loss = _flat(loss_fn, params)
    out = jax.eval_shape(flat_loss, flat)
    if getattr(out, "shape", None) != ():
        raise TypeError(
            "loss_fn must return a scalar, got "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )


def grad_sharpness(
    loss_fn: Callable[[Any], Float[Array, ""]], params: Any, eigenvector: Any
) -> Any:
    r"""Gradient of the sharpness, :math:`\nabla S = \nabla_w (u^\top H(w) u)`.

    For a simple top eigenvalue :math:`S` with unit eigenvector :math:`u`, the
    derivative of :math:`S` is that of :math:`u^\top H(w) u` at fixed :math:`u`
    (Hellmann-Feynman), i.e. the third derivative :math:`\nabla^3 L[u, u]`;
    computed by autodiff of a Hessian-vector product (never the Hessian).

    Args:
        loss_fn: scalar loss of the parameters.
        params: parameter pytree (floating arrays).
        eigenvector: top eigenvector, a pytree like ``params``
            (:func:`lm_sims.observables.hessian_top_eigenpairs`); it is
            normalised to unit length here, so any nonzero multiple of it
            gives the same result.

    Returns:
        A pytree like ``params``.

    Raises:
        TypeError: ``loss_fn`` not callable or not scalar; non-floating params or
            eigenvector.
        ValueError: NaN entries; ``eigenvector`` not shaped like ``params``
            or zero.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.central_flow import grad_sharpness
        >>> # L = w0^2 w1^2 / 2 (cubic+ terms): d/dw (u^T H u) at u = e0 is
        >>> # d/dw (w1^2) = (0, 2 w1)
        >>> g = grad_sharpness(lambda w: 0.5 * (w[0] * w[1]) ** 2,
        ...                    jnp.array([1.0, 3.0]), jnp.array([1.0, 0.0]))
        >>> g.tolist()
        [0.0, 6.0]
    """
    _check_loss_params(loss_fn, params)
    check_float_pytree("eigenvector", eigenvector)
    flat, unravel, flat_loss = _flat(loss_fn, params)
    u, _ = ravel_pytree(eigenvector)
    if u.shape != flat.shape:
        raise ValueError(
            f"eigenvector must be shaped like params ({flat.shape[0]} entries), "
            f"got {u.shape[0] if u.ndim else 0}"
        )
    u = as_float_array("eigenvector", u, allow_bool=False).astype(flat.dtype)
    norm = jnp.linalg.norm(u)
    if not bool(norm > 0):
        raise ValueError("eigenvector must be nonzero, got the zero vector")
    return unravel(_grad_s_flat(flat_loss, flat, u / norm))


def sigma_squared(
    grad_loss: Float[ArrayLike, " n"],
    grad_sharp: Float[ArrayLike, " n"],
    sharpness: float,
    lr: float,
    dt: float | None = None,
) -> Float[Array, ""]:
    r"""The oscillation variance :math:`\sigma^2` of the central flow.

    With ``dt=None``, the stationarity condition eq. (eq-cf-sigma),
    :math:`\max(0, 2\langle -\nabla L, \nabla S\rangle / \|\nabla S\|^2)`: the
    :math:`\sigma^2` that makes :math:`dS/dt = 0`, at or above the edge
    (``sharpness >= 2/lr``), and 0 (gradient flow) below it.
    With a substep ``dt`` (in steps), eq. (eq-cf-sigma-discrete): that value
    plus the restoring term :math:`2(S - 2/\mathrm{lr}) /
    (\mathrm{dt}\,\mathrm{lr}\,\|\nabla S\|^2)`, clipped at 0. Zero where
    :math:`\nabla S = 0`.

    Args:
        grad_loss: (n,) flat gradient of the loss.
        grad_sharp: (n,) flat gradient of the sharpness (:func:`grad_sharpness`).
        sharpness: the top Hessian eigenvalue S.
        lr: learning rate (> 0).
        dt: None or the substep in steps (> 0).

    Returns:
        Scalar :math:`\sigma^2 \ge 0`, in squared parameter units.

    Raises:
        ValueError: shapes differ, NaN entries, ``lr`` or ``dt`` not > 0.
        TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import sigma_squared
        >>> float(sigma_squared([1.0, 0.0], [-1.0, 1.0], 4.0, 0.5))  # 2*1/2
        1.0
        >>> float(sigma_squared([1.0, 0.0], [-1.0, 1.0], 3.0, 0.5))  # S < 2/lr
        0.0
        >>> float(sigma_squared([1.0, 0.0], [-1.0, 1.0], 4.1, 0.5, dt=0.5))
        1.4
    """
    g = as_float_array("grad_loss", grad_loss, allow_bool=False)
    gs = as_float_array("grad_sharp", grad_sharp, allow_bool=False)
    if g.ndim != 1 or gs.shape != g.shape:
        raise ValueError(
            "grad_loss and grad_sharp must be flat vectors of one shape, got "
            f"{g.shape} and {gs.shape}"
        )
    check_real("sharpness", sharpness)
    check_real("lr", lr, positive=True)
    if dt is None:
        den = jnp.vdot(gs, gs)
        safe = jnp.where(den > 0, den, 1.0)
        active = (den > 0) & (float(sharpness) >= 2.0 / float(lr))
        return jnp.where(active, jnp.maximum(0.0, -2.0 * jnp.vdot(g, gs) / safe), 0.0)
    check_real("dt", dt, positive=True)
    return _sigma2(g, gs, float(sharpness), float(lr), float(dt))


def predicted_loss(
    loss: Float[ArrayLike, "*t"], sigma2: Float[ArrayLike, "*t"], lr: float
) -> Float[Array, "*t"]:
    r"""The time-averaged gradient-descent loss predicted by the central flow,
    eq. (eq-cf-loss): :math:`L(w_{\mathrm{CF}}) + \sigma^2/\mathrm{lr}`.

    Args:
        loss: the loss along the central flow, any shape.
        sigma2: :math:`\sigma^2 \ge 0` along the flow, broadcastable to ``loss``.
        lr: learning rate (> 0).

    Returns:
        The prediction, broadcast shape.

    Raises:
        ValueError: NaN entries, a negative ``sigma2``, shapes that do not
            broadcast, or ``lr`` not > 0.
        TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import predicted_loss
        >>> float(predicted_loss(0.5, 0.01, 0.1))
        0.6
    """
    loss = as_float_array("loss", loss, allow_bool=False)
    sigma2 = as_float_array("sigma2", sigma2, allow_bool=False)
    check_real("lr", lr, positive=True)
    if bool(jnp.any(sigma2 < 0)):
        raise ValueError(
            f"sigma2 must be >= 0 (a variance), got min {float(jnp.min(sigma2)):g}"
        )
    try:
        jnp.broadcast_shapes(loss.shape, sigma2.shape)
    except ValueError:
        raise ValueError(
            f"sigma2 (shape {sigma2.shape}) must broadcast to loss (shape {loss.shape})"
        ) from None
    return loss + sigma2 / lr


def central_flow_step(
    loss_fn: Callable[[Any], Float[Array, ""]],
    params: Any,
    lr: float,
    *,
    dt: float = 0.5,
    eigenvector: Any = None,
    lanczos_iters: int = 10,
) -> tuple[Any, Float[Array, ""], Float[Array, ""], Any]:
    r"""One explicit Euler substep of the central flow, eq. (eq-cf-flow).

    :math:`w \leftarrow w - \mathrm{dt}\;\mathrm{lr}\,[\nabla L
    + \tfrac12 \sigma^2 \nabla S]` with :math:`\sigma^2` from
    eq. (eq-cf-sigma-discrete) and :math:`S, u` from warm-started Lanczos.

    Args:
        loss_fn: scalar loss of the parameters.
        params: parameter pytree.
        lr: learning rate (> 0).
        dt: substep in gradient-descent steps (> 0; 0.5 = two substeps a step).
        eigenvector: None or a pytree like ``params``: the Lanczos start (the
            previous substep's eigenvector).
        lanczos_iters: Hessian-vector products per eigenpair (int >= 1).

    Returns:
        ``(params, sigma2, sharpness, eigenvector)`` after / at the substep:
        the new parameters, and the :math:`\sigma^2`, :math:`S` and unit
        eigenvector used for it.

    Raises:
        TypeError, ValueError: as :func:`grad_sharpness`; ``lr``, ``dt`` not
            > 0, ``lanczos_iters`` < 1.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.central_flow import central_flow_step, toy_loss
        >>> w, s2, s, u = central_flow_step(toy_loss, jnp.array([2.0, 0.5]), 0.1)
        >>> round(float(s), 4), float(s2)  # S = 4.25 < 2/lr: gradient flow
        (4.25, 0.0)
    """
    _check_loss_params(loss_fn, params)
    check_real("lr", lr, positive=True)
    check_real("dt", dt, positive=True)
    check_int("lanczos_iters", lanczos_iters, minimum=1)
    if eigenvector is not None:
        check_float_pytree("eigenvector", eigenvector)
    flat, unravel, flat_loss = _flat(loss_fn, params)
    u = None if eigenvector is None else ravel_pytree(eigenvector)[0]
    if u is not None and u.shape != flat.shape:
        raise ValueError("eigenvector must be shaped like params")
    x, u, cov, s = _cf_substep(flat_loss, flat, u, float(lr), float(dt), lanczos_iters)
    return unravel(x), cov[0, 0], s[0], unravel(u[0])


# -- gradient descent, central flow and gradient flow side by side --------------


class Flows(NamedTuple):
    """Gradient descent (GD), the central flow (CF) and gradient flow (GF) from one
    start, recorded at every gradient-descent step (:func:`run_flows`).

    Attributes:
        step: (steps + 1,) 0, 1, ..., steps.
        t: (steps + 1,) time ``lr * step``.
        gd_loss, cf_loss, gf_loss: (steps + 1,) the loss of each.
        sigma2: (steps + 1,) the central flow's :math:`\\sigma^2` (first substep
            of each step; the last record repeats the one before).
        predicted_loss: (steps + 1,) ``cf_loss + sigma2 / lr``, eq. (eq-cf-loss).
        gd_sharpness, cf_sharpness, gf_sharpness: (steps + 1,) top Hessian
            eigenvalues (Lanczos, warm-started).
        cf_distance, gf_distance: (steps + 1,) Euclidean distances
            ``|w_GD - w_CF|`` and ``|w_GD - w_GF|`` over all parameters, from
            the oscillating iterate (so ``cf_distance`` includes GD's bounce).
        cf_centre_distance, gf_centre_distance: (steps + 1,) the same from
            the midpoint of GD's step, ``w_GD - lr grad L(w_GD) / 2`` (the centre
            of a 2-cycle ``w_k = c + x_k v``, ``x_{k+1} = -x_k``, up to the
            drift's half-step): the distance of GD's centre from each flow,
            without the bounce.
        oscillation: (steps + 1,) ``((w_GD - w_CF) . u_CF)^2``, GD's squared
            displacement from the central flow along its top eigenvector (its
            time average is predicted to be ``sigma2``).
        gd_oscillation: (steps + 1,) ``((w_GD - w_CF) . u_GD)^2``, the same
            along gradient descent's own top eigenvector (where the top
            eigenvalues are nearly degenerate, the two eigenvectors differ).
        half_step: (steps + 1,) ``|w_GD(k+1) - w_GD(k)|^2 / 4``, GD's squared
            half-step (the last record repeats the one before). In a 2-cycle
            ``w_k = c + x_k v`` (``x_{k+1} = -x_k``, any unit ``v`` or several
            directions) about a slowly moving centre ``c`` it is ``x_k^2`` plus
            the drift's share, so its time average measures the oscillation's
            variance in every direction at once and without reference to
            ``w_CF`` (compare ``sigma2``).
        diverged_step: () first step at which gradient descent blew up, or -1
            (later records of all three are NaN).
        final: ``(w_GD, w_CF, w_GF)`` parameter pytrees at the last step.
        paths: None, or (with ``record_params``) ``(gd, cf, gf)``, each
            (steps + 1, num_params): the flat parameters at every step.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    gd_loss: Float[Array, " records"]
    cf_loss: Float[Array, " records"]
    gf_loss: Float[Array, " records"]
    sigma2: Float[Array, " records"]
    predicted_loss: Float[Array, " records"]
    gd_sharpness: Float[Array, " records"]
    cf_sharpness: Float[Array, " records"]
    gf_sharpness: Float[Array, " records"]
    cf_distance: Float[Array, " records"]
    gf_distance: Float[Array, " records"]
    cf_centre_distance: Float[Array, " records"]
    gf_centre_distance: Float[Array, " records"]
    oscillation: Float[Array, " records"]
    gd_oscillation: Float[Array, " records"]
    half_step: Float[Array, " records"]
    diverged_step: Int[Array, ""]
    final: Any = None
    paths: Any = None

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if gradient descent diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


def _warm(u):
    """A Lanczos start from the previous (k, n) eigenvectors (weights 1, 1/2, ...)."""
    weights = 1.0 / jnp.arange(1, u.shape[0] + 1, dtype=u.dtype)
    return weights @ u


def _gf_step(grad, x, lr, sharpness):
    """One step (time lr) of gradient flow by RK4 substeps, their number from the
    sharpness (``GF_SUBSTEP_SHARPNESS``)."""
    ratio = lr * jnp.abs(sharpness) / GF_SUBSTEP_SHARPNESS
    ratio = jnp.where(jnp.isfinite(ratio), ratio, 1.0)
    m = jnp.clip(jnp.ceil(ratio), 1, _GF_MAX_SUBSTEPS).astype(jnp.asarray(0).dtype)
    h = lr / m.astype(x.dtype)

    def rk4(_, y):
        k1 = grad(y)
        k2 = grad(y - 0.5 * h * k1)
        k3 = grad(y - 0.5 * h * k2)
        k4 = grad(y - h * k3)
        return y - (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    return jax.lax.fori_loop(jnp.zeros_like(m), m, rk4, x)


def _flows(
    flat_loss, x0, lr, steps, substeps, iters, k=1, x_flow=None, record_params=False
):
    """The three dynamics from flat x0 (traceable; the two flows from ``x_flow``
    if given); returns the records."""
    dt = 1.0 / substeps
    xf0 = x0 if x_flow is None else x_flow
    _, u0 = _eig(flat_loss, x0, None, max(4 * iters, 40), k)
    grad = jax.grad(flat_loss)
    loss0 = flat_loss(x0)
    limit = training.BLOWUP * (1.0 + jnp.abs(loss0))
    idx0 = jnp.zeros((), jnp.asarray(0).dtype)

    def record(xg, xc, xf, ug, uc, uf):
        sg, ug = _eig(flat_loss, xg, ug, iters)
        sf, uf = _eig(flat_loss, xf, uf, iters)
        sc, _ = _eig(flat_loss, xc, _warm(uc), iters)
        mid = xg - 0.5 * lr * grad(xg)  # the midpoint of GD's step: its 2-cycle centre
        rec = dict(
            gd_loss=flat_loss(xg),
            cf_loss=flat_loss(xc),
            gf_loss=flat_loss(xf),
            gd_sharpness=sg[0],
            cf_sharpness=sc[0],
            gf_sharpness=sf[0],
            cf_distance=jnp.linalg.norm(xg - xc),
            gf_distance=jnp.linalg.norm(xg - xf),
            cf_centre_distance=jnp.linalg.norm(mid - xc),
            gf_centre_distance=jnp.linalg.norm(mid - xf),
            oscillation=jnp.sum((uc @ (xg - xc)) ** 2),
            gd_oscillation=jnp.vdot(ug[0], xg - xc) ** 2,
        )
        if record_params:
            rec.update(path_gd=xg, path_cf=xc, path_gf=xf)
        return rec, ug[0], uc, uf[0]

    def body(carry, i):
        xg, xc, xf, ug, uc, uf, div = carry
        rec, ug, uc, uf = record(xg, xc, xf, ug, uc, uf)
        xc1, uc1, cov, _ = _cf_substep(flat_loss, xc, _warm(uc), lr, dt, iters, k)
        sig2 = jnp.trace(cov)
        # GD's displacement measured along the eigenvectors used at this record
        rec["oscillation"] = jnp.sum((uc1 @ (xg - xc)) ** 2)
        uc = uc1
        for _ in range(substeps - 1):
            xc1, uc, _, _ = _cf_substep(flat_loss, xc1, _warm(uc), lr, dt, iters, k)
        xf1 = _gf_step(grad, xf, lr, rec["gf_sharpness"])
        xg1 = xg - lr * grad(xg)
        rec["sigma2"] = sig2
        rec["half_step"] = 0.25 * jnp.sum((xg1 - xg) ** 2)
        bad = ~(jnp.abs(rec["gd_loss"]) < limit) | ~jnp.all(jnp.isfinite(xg1))
        bad = bad | ~jnp.all(jnp.isfinite(xc1)) | ~jnp.all(jnp.isfinite(xf1))
        was = div >= 0
        div = jnp.where(~was & bad, i, div)
        rec = {k: jnp.where(was | bad, jnp.nan, v) for k, v in rec.items()}
        keep = was | bad
        xg1, xc1, xf1 = (
            jnp.where(keep, a, b) for a, b in ((xg, xg1), (xc, xc1), (xf, xf1))
        )
        return (xg1, xc1, xf1, ug, uc, uf, div), rec

    carry0 = (x0, xf0, xf0, u0[0], u0, u0[0], idx0 - 1)
    (xg, xc, xf, ug, uc, uf, div), recs = jax.lax.scan(
        body, carry0, jnp.arange(steps, dtype=idx0.dtype)
    )
    last, _, _, _ = record(xg, xc, xf, ug, uc, uf)
    last["sigma2"] = recs["sigma2"][-1]
    last["half_step"] = recs["half_step"][-1]
    last = {k: jnp.where(div >= 0, jnp.nan, v) for k, v in last.items()}
    recs = {k: jnp.concatenate([recs[k], last[k][None]]) for k in recs}
    step = jnp.arange(steps + 1, dtype=idx0.dtype)
    return recs, step, div, (xg, xc, xf)


def _pack(recs, step, div, finals, lr, unravel):
    paths = None
    if "path_gd" in recs:
        paths = tuple(recs.pop(f"path_{n}") for n in ("gd", "cf", "gf"))
    return Flows(
        paths=paths,
        step=step,
        t=lr * step,
        predicted_loss=recs["cf_loss"] + recs["sigma2"] / lr,
        diverged_step=div,
        final=tuple(unravel(x) for x in finals),
        **recs,
    )


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5, 6, 7))
def _run_flows(loss_fn, params, lr, steps, substeps, iters, k, record_params):
    flat, unravel, flat_loss = _flat(loss_fn, params)
    recs, step, div, finals = _flows(
        flat_loss, flat, lr, steps, substeps, iters, k, record_params=record_params
    )
    return _pack(recs, step, div, finals, lr, unravel)


def run_flows(
    loss_fn: Callable[[Any], Float[Array, ""]],
    params: Any,
    lr: float,
    *,
    steps: int,
    substeps: int = 2,
    lanczos_iters: int = 10,
    num_eigs: int = 1,
    record_params: bool = False,
) -> Flows:
    r"""Gradient descent, the central flow and gradient flow from one start.

    Gradient descent :math:`w_{k+1} = w_k - \mathrm{lr}\,\nabla L(w_k)`; the
    central flow eq. (eq-cf-flow) by ``substeps`` explicit Euler substeps per step
    (:func:`central_flow_step`), and gradient flow (:math:`\sigma^2 = 0`) by RK4
    substeps whose number follows its sharpness (``GF_SUBSTEP_SHARPNESS``; see
    the module docstring), so that all three share the time axis
    ``t = lr * step``. Every step records
    losses, sharpnesses (Lanczos, ``lanczos_iters`` Hessian-vector products,
    warm-started), :math:`\sigma^2`, the distances of GD from the two flows and
    GD's squared displacement along the central flow's top eigenvector. Jitted
    (``loss_fn`` is a static argument: pass the same function object to reuse
    the compilation).

    Args:
        loss_fn: scalar loss of the parameters (close over the data).
        params: the starting parameter pytree.
        lr: learning rate (> 0).
        steps: gradient-descent steps (int >= 1).
        substeps: Euler substeps of the central flow per step (int >= 1; the
            book: 2). Gradient flow chooses its own (module docstring).
        lanczos_iters: Lanczos steps per eigenpair (int >= 1; the book: 10).
        num_eigs: how many top eigenvalues the central flow holds at the edge
            (int >= 1). 1 is the rank-one form eq. (eq-cf-sigma-discrete);
            with k > 1 the oscillation covariance is a k x k matrix X in the
            basis U of the top k eigenvectors, found at every substep from the
            complementarity problem X >= 0, R >= 0, <X, R> = 0 on the
            linearised edge residual R = 2/lr - U^T H U after the substep
            (Cohen et al.'s semidefinite complementarity problem), and
            ``sigma2`` is tr X.
        record_params: also record the three flat parameter vectors at every
            step (``Flows.paths``; memory 3 x (steps + 1) x num_params).

    Returns:
        :class:`Flows`, ``steps + 1`` records.

    Raises:
        TypeError, ValueError: as :func:`central_flow_step`; ``steps`` or
            ``substeps`` < 1.

    References:
        Cohen et al., "Understanding optimization in deep learning with central
        flows", 2024, arXiv:2410.24206.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims.central_flow import run_flows, toy_loss
        >>> f = run_flows(toy_loss, jnp.array([2.5, 0.1]), 0.4, steps=50)
        >>> bool(abs(float(f.cf_sharpness[-1]) * 0.4 / 2 - 1) < 0.01)  # at 2/lr
        True
    """
    _check_loss_params(loss_fn, params)
    check_real("lr", lr, positive=True)
    check_int("steps", steps, minimum=1)
    check_int("substeps", substeps, minimum=1)
    check_int("lanczos_iters", lanczos_iters, minimum=1)
    check_int("num_eigs", num_eigs, minimum=1, maximum=lanczos_iters)
    if not isinstance(record_params, bool):
        raise TypeError(f"record_params must be a bool, got {record_params!r}")
    return _run_flows(
        loss_fn,
        params,
        float(lr),
        steps,
        substeps,
        lanczos_iters,
        num_eigs,
        record_params,
    )


# -- post-processing ---------------------------------------------------------


def gaussian_smooth(x: Float[ArrayLike, " t"], width: float) -> Float[np.ndarray, " t"]:
    """A Gaussian moving average of a time series (edges: the kernel renormalised).

    ``y_i = sum_j K(i - j) x_j / sum_j K(i - j)`` over the available j, with
    ``K(d) = exp(-d^2 / (2 width^2))`` truncated at 4 widths. This is the
    "time-averaged" gradient-descent loss the central flow predicts.

    Args:
        x: (t,) series (float64 NumPy is returned).
        width: standard deviation of the kernel in records (> 0).

    Returns:
        (t,) smoothed series.

    Raises:
        ValueError: ``x`` not 1-D or has NaN; ``width`` not > 0.
        TypeError: non-real (or boolean) ``x``.

    Example:
        >>> from lm_sims.central_flow import gaussian_smooth
        >>> gaussian_smooth([0.0, 2.0, 0.0, 2.0, 0.0, 2.0], 3.0).round(2).tolist()
        [0.9, 0.94, 0.98, 1.02, 1.06, 1.1]
    """
    x = np.asarray(as_float_array("x", x, allow_bool=False), np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D time series, got shape {x.shape}")
    check_real("width", width, positive=True)
    half = int(np.ceil(4 * float(width)))
    d = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (d / float(width)) ** 2)
    num = np.convolve(x, k, mode="same") if x.size >= k.size else None
    if num is None:  # short series: direct sum
        i = np.arange(x.size)
        w = np.exp(-0.5 * ((i[:, None] - i[None, :]) / float(width)) ** 2)
        w = np.where(np.abs(i[:, None] - i[None, :]) <= half, w, 0.0)
        return w @ x / w.sum(1)
    den = np.convolve(np.ones_like(x), k, mode="same")
    return num / den


def median_relative_error(
    prediction: Float[ArrayLike, " t"], target: Float[ArrayLike, " t"]
) -> float:
    """Median over records of ``|prediction / target - 1|``.

    Args:
        prediction, target: (t,) series of one shape; target nonzero.

    Returns:
        The median relative error, a float.

    Raises:
        ValueError: shapes differ, empty, NaN entries or a zero target.
        TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import median_relative_error
        >>> round(median_relative_error([1.1, 2.0, 2.7], [1.0, 2.0, 3.0]), 6)
        0.1
    """
    p = np.asarray(as_float_array("prediction", prediction, allow_bool=False))
    t = np.asarray(as_float_array("target", target, allow_bool=False))
    if p.shape != t.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(
            f"prediction and target must be 1-D of one shape, got {p.shape}, {t.shape}"
        )
    if np.any(t == 0):
        raise ValueError("target must be nonzero")
    return float(np.median(np.abs(p / t - 1.0)))


# -- the two-parameter toy ---------------------------------------------------------


def toy_loss(params: Float[ArrayLike, " 2"]) -> Float[Array, ""]:
    r"""The two-parameter toy :math:`L(a, b) = \tfrac12 (ab - 1)^2` (Chapter 1).

    Gradient flow conserves :math:`a^2 - b^2` (:func:`toy_conserved`); the
    minima are the hyperbola :math:`ab = 1`, where the sharpness is
    :math:`a^2 + b^2` (:func:`toy_sharpness`).

    Args:
        params: (2,) the pair (a, b), or (..., 2) a batch of pairs.

    Returns:
        The loss, shape ``params.shape[:-1]`` (a scalar for one pair).

    Raises:
        ValueError: last axis not of length 2; NaN entries (concrete inputs).
        TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import toy_loss
        >>> float(toy_loss([2.0, 1.0]))
        0.5
    """
    p = as_float_array("params", params, allow_bool=False)
    if p.ndim < 1 or p.shape[-1] != 2:
        raise ValueError(
            f"params must have shape (2,) or (..., 2): the pair (a, b); got {p.shape}"
        )
    return 0.5 * (p[..., 0] * p[..., 1] - 1.0) ** 2


def toy_sharpness(a: Float[ArrayLike, "*t"], b: Float[ArrayLike, "*t"]):
    r"""Top Hessian eigenvalue of :func:`toy_loss`, in closed form.

    The Hessian is :math:`\begin{pmatrix} b^2 & 2ab - 1 \\ 2ab - 1 & a^2
    \end{pmatrix}`, so
    :math:`S = \tfrac12(a^2 + b^2) + \sqrt{\tfrac14 (a^2 - b^2)^2 + (2ab - 1)^2}`;
    on the minima (ab = 1) :math:`S = a^2 + b^2`.

    Args:
        a, b: arrays of one shape.

    Returns:
        S with that shape (NumPy float64).

    Raises:
        ValueError: NaN entries. TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import toy_sharpness
        >>> float(toy_sharpness(2.0, 0.5))
        4.25
    """
    a = np.asarray(as_float_array("a", a, allow_bool=False), np.float64)
    b = np.asarray(as_float_array("b", b, allow_bool=False), np.float64)
    return 0.5 * (a**2 + b**2) + np.sqrt(
        0.25 * (a**2 - b**2) ** 2 + (2 * a * b - 1) ** 2
    )


def toy_conserved(a: Float[ArrayLike, "*t"], b: Float[ArrayLike, "*t"]):
    """The quantity ``a^2 - b^2`` that gradient flow on :func:`toy_loss` conserves.

    Args:
        a, b: arrays of one shape.

    Returns:
        ``a**2 - b**2`` (NumPy float64).

    Raises:
        ValueError: NaN entries. TypeError: non-real (or boolean) inputs.

    Example:
        >>> from lm_sims.central_flow import toy_conserved
        >>> float(toy_conserved(2.0, 1.0))
        3.0
    """
    a = np.asarray(as_float_array("a", a, allow_bool=False), np.float64)
    b = np.asarray(as_float_array("b", b, allow_bool=False), np.float64)
    return a**2 - b**2


def predict_toy_gradient_flow_sharpness(a0: float, b0: float) -> float:
    r"""Sharpness of the minimum that gradient flow on the toy reaches from (a0, b0).

    Gradient flow keeps :math:`c = a^2 - b^2` and ends on :math:`ab = 1`, where
    :math:`S = a^2 + b^2 = \sqrt{(a^2 - b^2)^2 + 4 a^2 b^2} = \sqrt{c^2 + 4}`.

    Args:
        a0, b0: the start (finite reals).

    Returns:
        :math:`\sqrt{(a_0^2 - b_0^2)^2 + 4}`.

    Raises:
        ValueError, TypeError: non-finite or non-real inputs.

    Example:
        >>> from lm_sims.central_flow import predict_toy_gradient_flow_sharpness
        >>> predict_toy_gradient_flow_sharpness(2.0, 0.0)
        4.47213595499958
    """
    check_real("a0", a0)
    check_real("b0", b0)
    c = float(a0) ** 2 - float(b0) ** 2
    return float(np.sqrt(c**2 + 4.0))


def toy_flows(
    a0: float, b0: float, lr: float, steps: int, *, substeps: int = 2
) -> Flows:
    r"""Gradient descent, central flow and gradient flow on the toy from (a0, b0).

    :func:`run_flows` on :func:`toy_loss` with params ``(a, b)`` (two parameters,
    so two Lanczos steps are exact). The central flow moves along the curve
    :math:`S(a, b) = 2/\mathrm{lr}` once it reaches it; gradient flow keeps
    :math:`a^2 - b^2` and lands at sharpness
    :func:`predict_toy_gradient_flow_sharpness` (to about 1e-5 with the RK4
    substeps); gradient descent, if it does
    not diverge, lands at sharpness :math:`\le 2/\mathrm{lr}`.

    Args:
        a0, b0: the start (finite reals).
        lr: learning rate (> 0).
        steps: gradient-descent steps (int >= 1).
        substeps: Euler substeps of the central flow per step (int >= 1);
            gradient flow chooses its own (module docstring).

    Returns:
        :class:`Flows` with ``paths``: the three (steps + 1, 2) trajectories.

    Raises:
        ValueError, TypeError: invalid inputs.

    Example:
        >>> from lm_sims.central_flow import toy_flows
        >>> f = toy_flows(2.5, 0.1, 0.4, 200)
        >>> bool(f.gd_sharpness[-1] <= 2 / 0.4)
        True
    """
    check_real("a0", a0)
    check_real("b0", b0)
    return run_flows(
        toy_loss,
        jnp.asarray([float(a0), float(b0)], _float()),
        lr,
        steps=steps,
        substeps=substeps,
        lanczos_iters=2,
        record_params=True,
    )


# -- the book's network -----------------------------------------------------------


@config_dataclass(
    static=(
        "width",
        "num_train",
        "steps",
        "substeps",
        "lanczos_iters",
        "num_eigs",
        "max_warmup_steps",
        "settle_steps",
    )
)
class Config:
    """The network experiment of :func:`experiment`.

    Attributes:
        width: hidden width n (int >= 1). Static. Default 32.
        num_train: digits images P (1 .. 1797). Static. Default 500.
        steps: gradient-descent steps compared after the warm-up (int >= 1).
            Static. Default 800.
        substeps: Euler substeps of the central flow per step (int >= 1).
            Static. Default 2. (Gradient flow: RK4, adaptive; module docstring.)
        lanczos_iters: Lanczos steps per eigen-solve (int >= 1). Static.
            Default 10.
        num_eigs: eigenvalues the central flow holds at the edge (int >= 1,
            <= lanczos_iters; see :func:`run_flows`). Static. Default 1.
        max_warmup_steps: the warm-up stops here if the sharpness has not
            reached ``warmup_ratio * 2 / lr`` (int >= 0). Static. Default 5000.
        settle_steps: after the warm-up, gradient descent runs this many more
            steps alone, long enough to reach the edge and settle into its
            oscillation; the two flows then start from the midpoint of its last
            2-cycle, ``w_k - lr grad L(w_k) / 2``, while gradient descent
            continues from ``w_k`` (int >= 0; 0: all three start together at
            the end of the warm-up). Static. Default 200: started together,
            gradient descent first overshoots the edge (S lr/2 up to ~1.1)
            while its oscillation grows from rounding error, and this onset,
            which the central flow does not model, leaves a lasting offset
            between the two (see the module docstring).
        lr_ratio: k in ``lr = 2 / (k S0)`` (> 0). Default 1.5.
        warmup_ratio: gradient descent runs alone until ``S lr / 2`` reaches
            this (in (0, 1]: the edge is 1). Default 0.9.
        readout_scale: standard deviation of the initial readout (> 0).
            Default 0.1, as in Chapter 3.
    """

    width: int = 32
    num_train: int = 500
    steps: int = 800
    substeps: int = 2
    lanczos_iters: int = 10
    num_eigs: int = 1
    max_warmup_steps: int = 5000
    settle_steps: int = 200
    lr_ratio: float = 1.5
    warmup_ratio: float = 0.9
    readout_scale: float = 0.1

    def _validate(self):
        check_int("width", self.width, minimum=1)
        check_int("num_train", self.num_train, minimum=1, maximum=1797)
        check_int("steps", self.steps, minimum=1)
        check_int("substeps", self.substeps, minimum=1)
        check_int("lanczos_iters", self.lanczos_iters, minimum=1)
        check_int("num_eigs", self.num_eigs, minimum=1, maximum=self.lanczos_iters)
        check_int("max_warmup_steps", self.max_warmup_steps, minimum=0)
        check_int("settle_steps", self.settle_steps, minimum=0)
        check_real("lr_ratio", self.lr_ratio, positive=True)
        check_real("warmup_ratio", self.warmup_ratio, positive=True, high=1.0)
        check_real("readout_scale", self.readout_scale, positive=True)


class Experiment(NamedTuple):
    """The network experiment (:func:`experiment`).

    Attributes:
        flows: :class:`Flows` of the ``steps`` compared steps (step 0 = the end
            of the warm-up).
        lr: the learning rate ``2 / (lr_ratio S0)``.
        initial_sharpness: S0 at initialisation.
        warmup_steps: gradient-descent steps before the comparison starts
            (the warm-up plus ``settle_steps``).
    """

    flows: Flows
    lr: Float[Array, ""]
    initial_sharpness: Float[Array, ""]
    warmup_steps: Int[Array, ""]


def _eos_config(cfg):
    return edge_of_stability.Config(
        dataset="digits",
        d=64,
        width=cfg.width,
        num_train=cfg.num_train,
        readout_scale=cfg.readout_scale,
    )


def _experiment(key, cfg):
    # the float fields traced: a new lr_ratio or warmup_ratio reuses the program
    # (readout_scale stays static: it sets the initial parameters, and no knob moves
    # it)
    shape_cfg = cfg.replace(lr_ratio=1.0, warmup_ratio=1.0)
    return _experiment_jit(key, shape_cfg, cfg.lr_ratio, cfg.warmup_ratio)


@functools.partial(jax.jit, static_argnums=(1,))
def _experiment_jit(key, cfg, lr_ratio, warmup_ratio):
    ecfg = _eos_config(cfg)
    k_data, k_init = jax.random.split(key)
    batch = edge_of_stability._data(k_data, ecfg)
    params = edge_of_stability._init(k_init, ecfg)
    flat, unravel = ravel_pytree(params)

    def flat_loss(x):
        return edge_of_stability._loss(unravel(x), batch, "tanh")

    s0, u0 = _eig(flat_loss, flat, None, max(4 * cfg.lanczos_iters, 80))
    lr = 2.0 / (lr_ratio * s0[0])
    grad = jax.grad(flat_loss)

    def cond(st):
        x, u, s, n = st
        return (s * lr / 2 < warmup_ratio) & (n < cfg.max_warmup_steps)

    def body(st):
        x, u, s, n = st
        x = x - lr * grad(x)
        s, u = _eig(flat_loss, x, u, cfg.lanczos_iters)
        return x, u[0], s[0], n + 1

    idx0 = jnp.zeros((), jnp.asarray(0).dtype)
    x, _, _, n = jax.lax.while_loop(cond, body, (flat, u0[0], s0[0], idx0))
    x_flow = x
    if cfg.settle_steps:
        x = jax.lax.fori_loop(0, cfg.settle_steps, lambda _, y: y - lr * grad(y), x)
        x_flow = x - 0.5 * lr * grad(x)  # the midpoint of GD's 2-cycle
        n = n + cfg.settle_steps
    recs, step, div, finals = _flows(
        flat_loss,
        x,
        lr,
        cfg.steps,
        cfg.substeps,
        cfg.lanczos_iters,
        cfg.num_eigs,
        x_flow=x_flow,
    )
    flows = _pack(recs, step, div, finals, lr, unravel)
    return Experiment(flows, lr, s0[0], n)


def experiment(key: jax.Array, cfg: Config) -> Experiment:
    r"""The book's network: gradient descent, central flow and gradient flow.

    Chapter 3's network :math:`f(x) = a^\top \tanh(W x)/\sqrt{n}` with a small
    readout (:mod:`lm_sims.edge_of_stability`, ``dataset="digits"``: d = 64
    pixels, 10 centred one-hot outputs, loss
    :math:`\frac{1}{2P}\sum_\mu |f(x_\mu) - y_\mu|^2`), ``key`` split into data
    and initialisation keys as there. With :math:`S_0` the initial sharpness,
    ``lr = 2 / (lr_ratio S0)``; gradient descent runs alone until
    :math:`S\,\mathrm{lr}/2 \ge` ``warmup_ratio`` (or ``max_warmup_steps``)
    and then ``settle_steps`` more steps; then the three dynamics run for
    ``steps`` steps as in :func:`run_flows`, the two flows from the midpoint of
    gradient descent's last 2-cycle (see :class:`Config`).
    Runs in JAX's default float dtype (the book uses float64). Jitted: one
    compilation per set of static fields.

    Args:
        key: PRNG key.
        cfg: a :class:`Config`.

    Returns:
        :class:`Experiment`.

    Raises:
        TypeError: ``key`` not a PRNG key or ``cfg`` not a :class:`Config`.

    References:
        Cohen et al., "Understanding optimization in deep learning with central
        flows", 2024, arXiv:2410.24206.

    Example:
        >>> import jax
        >>> from lm_sims import central_flow as cf
        >>> cfg = cf.Config(width=8, num_train=50, steps=20)
        >>> ex = cf.experiment(jax.random.key(0), cfg)
        >>> ex.flows.gd_loss.shape
        (21,)
    """
    check_key(key)
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a central_flow.Config, got {type(cfg).__name__}")
    return _experiment(key, cfg)
