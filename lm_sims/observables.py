"""Observables: pure functions of parameters, separate from any training loop."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["balancedness", "balancedness_step_change", "mode_strengths"]


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
    """
    return jnp.einsum("om,oi,mi->m", u, w, vt)


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

    References:
        Du, Hu & Lee, "Algorithmic regularization in learning deep homogeneous models:
        layers are automatically balanced", 2018, arXiv:1806.00900.
        Arora, Cohen & Hazan, "On the optimization of deep networks: implicit
        acceleration by overparameterization", 2018, arXiv:1802.06509.
    """
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
    """
    return [
        lr**2 * (grads[i] @ grads[i].T - grads[i + 1].T @ grads[i + 1])
        for i in range(len(grads) - 1)
    ]
