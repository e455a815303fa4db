"""Empirical NTK of any JAX network. Re-exported by :mod:`lm_sims.kernels`."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from lm_sims._config import (
    MAX_BYTES,
    as_float_array,
    check_budget_arg,
    check_bytes,
    check_callable,
    check_choice,
    check_float_pytree,
    check_points,
)


def _forward_bytes(f, params, d: int, dtype) -> tuple[float, float]:
    """(fixed, per input) bytes of every intermediate of ``f``'s forward pass.

    Read off the traced program (``jax.make_jaxpr``) at one and at two inputs, so it
    counts what autodiff may hold for any network: activations, pre-activations,
    masks, whatever ``apply_fn`` computes. Shapes only: works under ``jit``.
    """

    def total(n):
        spec = jax.ShapeDtypeStruct((n, d), dtype)
        p_spec = jax.tree_util.tree_map(
            lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf), jnp.result_type(leaf)),
            params,
        )
        jaxpr = jax.make_jaxpr(f)(p_spec, spec).jaxpr
        return float(
            sum(
                math.prod(v.aval.shape) * v.aval.dtype.itemsize
                for eqn in jaxpr.eqns
                for v in eqn.outvars
                if hasattr(v.aval, "shape")
            )
        )

    one, two = total(1), total(2)
    per_input = max(two - one, 0.0)
    return max(one - per_input, 0.0), per_input


def empirical_ntk(
    apply_fn: Callable[[Any, Array], Array],
    params: Any,
    x1: Float[Array, "n1 d"],
    x2: Float[Array, "n2 d"] | None = None,
    *,
    method: str = "auto",
    max_bytes: float | None = None,
) -> Float[Array, "n1 n2"] | Float[Array, "n1 n2 k k"]:
    """Empirical NTK ``sum_p d f(x1) / d p  d f(x2) / d p`` of a finite network.

    The one implementation of the empirical NTK in lm_sims
    (:func:`lm_sims.mlp.empirical_ntk` is this function applied to
    ``lm_sims.mlp.apply``). The sum runs over every leaf of ``params`` (all trained
    at the same learning rate). Two ways to compute it (Novak et al. 2022), chosen
    by ``method``:

    * ``"jacobian"``: builds the per-input Jacobians ``J1`` (n1 k x P) and ``J2``
      with reverse mode (one input at a time, vmapped) and contracts them tensor by
      tensor. Memory ~ (n1 + n2) k P numbers plus the activations of every input;
      the fastest when that fits.
    * ``"implicit"``: never forms a Jacobian. Column ``(j, o)`` of the Gram matrix is
      ``J1 (J2^T e_{j,o})``: one reverse-mode gradient of output o at the single point
      ``x2[j]`` followed by one forward-mode product over ``x1``. Columns are mapped
      with ``lax.map`` in batches; one column holds a gradient (P numbers) and the
      activations and their tangents for all n1 inputs.
    * ``"auto"`` (default): "jacobian" if its estimate fits in ``max_bytes``, else
      "implicit" with as many columns per batch as fit.

    **Memory.** Before anything is allocated, the memory the chosen method holds is
    estimated from the traced network: the Jacobians or gradients, every
    intermediate of the forward pass (activations per input x width x layers, read
    off ``jax.make_jaxpr(apply_fn)``) and its tangents or cotangents, and the
    (n1 k) x (n2 k) result. If even the smallest computation (the implicit method,
    one column at a time) does not fit in ``max_bytes``, a ValueError names the
    estimate and the limit.

    **Precision.** Computed and returned in the dtype of ``params`` (float32 unless
    they are float64, which needs ``jax_enable_x64``); relative error ~1e-6 in
    float32. Unlike the analytic kernels (:func:`ntk`) this does not switch to
    float64, since it differentiates the caller's own network.

    Works under ``jax.jit`` (wrap the call; ``apply_fn`` may close over traced
    values).

    Args:
        apply_fn: ``apply_fn(params, x) -> (n,)`` or ``(n, k)`` outputs.
        params: any pytree of float arrays.
        x1: inputs, shape (n1, d).
        x2: inputs, shape (n2, d), or None for ``x2 = x1``.
        method: "auto", "jacobian" or "implicit".
        max_bytes: memory budget in bytes (> 0); None (default) uses the package
            limit ``lm_sims._config.MAX_BYTES`` (4 GiB, env ``LM_SIMS_MAX_BYTES``).

    Returns:
        Shape (n1, n2) when ``apply_fn`` returns (n,) or (n, 1); otherwise the full
        block kernel of shape (n1, n2, k, k), entry ``[i, j, o, o']`` pairing output
        o at ``x1[i]`` with output o' at ``x2[j]``. A JAX array in the dtype of
        ``params``.

    Raises:
        ValueError: unknown method; x1, x2 not non-empty 2-D arrays with the same
            d, or not finite; params with NaN or inf entries; max_bytes not > 0;
            or the estimated memory exceeds max_bytes (for ``method="jacobian"``,
            or for one implicit column).
        TypeError: apply_fn is not callable; params is not a pytree of real
            arrays; x1 or x2 is not real numbers; max_bytes is not a number.

    References:
        Novak et al., "Fast finite width neural tangent kernel", 2022,
        arXiv:2206.08720.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims import kernels
        >>> f = lambda p, x: jnp.tanh(x @ p["w"]) @ p["v"]
        >>> p = {"w": jnp.ones((3, 4)), "v": jnp.ones(4)}
        >>> kernels.empirical_ntk(f, p, jnp.ones((2, 3))).shape
        (2, 2)
    """
    check_callable("apply_fn", apply_fn, optional=False)
    check_float_pytree("params", params)
    check_choice("method", method, ("auto", "jacobian", "implicit"))
    check_budget_arg("max_bytes", max_bytes)
    limit = MAX_BYTES if max_bytes is None else float(max_bytes)
    same = x2 is None
    x1 = as_float_array("x1", x1)  # tracers pass: finiteness checked when concrete
    x2 = x1 if same else as_float_array("x2", x2)
    check_points("x1", x1)
    check_points("x2", x2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            "x1 and x2 must have the same input dimension d, got "
            f"x1.shape={tuple(x1.shape)} and x2.shape={tuple(x2.shape)}"
        )

    def f(p, x):
        out = apply_fn(p, x)
        return out[:, None] if out.ndim == 1 else out

    k = jax.eval_shape(f, params, x1[:1]).shape[-1]
    leaves = jax.tree_util.tree_leaves(params)
    num_params = sum(int(np.prod(leaf.shape)) for leaf in leaves)
    itemsize = max(jnp.dtype(leaf.dtype).itemsize for leaf in leaves)
    n1, n2, d = x1.shape[0], x2.shape[0], x1.shape[1]
    fixed, per_input = _forward_bytes(f, params, d, x1.dtype)
    param_bytes = float(num_params) * itemsize
    gram_bytes = 2.0 * n1 * k * n2 * k * itemsize  # result and its transpose
    n_jac = n1 if same else n1 + n2
    # Jacobians, the vmapped forward residuals and k cotangents per input, result.
    jac_bytes = (
        n_jac * k * param_bytes + n_jac * (1 + k) * per_input + fixed + gram_bytes
    )
    # One implicit column: a gradient at one point (residuals and cotangents), then
    # a forward-mode product over x1 (primals and tangents) and its (n1, k) output.
    column_bytes = (
        param_bytes + 4.0 * fixed + 2.0 * per_input * (1 + n1) + n1 * k * itemsize
    )
    size = (
        f"empirical_ntk of {n1} x {n2} inputs ({num_params:,} parameters, {k} "
        f"output{'s' if k > 1 else ''}, {per_input / itemsize:,.0f} intermediate "
        f"numbers per input)"
    )
    if method == "auto":
        method = "jacobian" if jac_bytes <= limit else "implicit"
    if method == "jacobian":
        check_bytes(
            size + ' with method="jacobian"',
            jac_bytes,
            'use method="implicit" or "auto", or fewer inputs',
            limit,
        )
    else:
        check_bytes(
            size + ' with method="implicit" (one column at a time)',
            column_bytes + gram_bytes,
            "pass fewer inputs x1, or a smaller network",
            limit,
        )

    batch = int(max(1, min(n2 * k, (limit - gram_bytes) // column_bytes)))

    # One compiled program per call (eager op-by-op autodiff of a network took
    # ~8 s where the jitted program takes ~0.5 s); a fresh closure each call, so
    # nothing accumulates in JAX's cache.
    @jax.jit
    def compute(params, x1, x2):
        if method == "jacobian":

            def jacobian(x):  # per input: leaves of shape (n, k, *leaf.shape)
                return jax.vmap(
                    jax.jacrev(lambda p, xi: f(p, xi[None])[0]), in_axes=(None, 0)
                )(params, x)

            j1 = jacobian(x1)
            j2 = j1 if same else jacobian(x2)

            def contract(a, b):
                a = a.reshape(n1 * k, -1)
                b = b.reshape(n2 * k, -1)
                return a @ b.T

            gram = sum(
                contract(a, b)
                for a, b in zip(
                    jax.tree_util.tree_leaves(j1),
                    jax.tree_util.tree_leaves(j2),
                    strict=True,
                )
            )
            gram = gram.reshape(n1, k, n2, k)
        else:

            def column(index):
                j, o = index // k, index % k
                grad = jax.grad(lambda p: f(p, x2[j][None])[0, o])(params)
                return jax.jvp(lambda p: f(p, x1), (params,), (grad,))[1]  # (n1, k)

            cols = jax.lax.map(column, jnp.arange(n2 * k), batch_size=batch)
            gram = jnp.transpose(cols.reshape(n2, k, n1, k), (2, 3, 0, 1))
        gram = jnp.transpose(gram, (0, 2, 1, 3))  # (n1, n2, k, k)
        return gram[:, :, 0, 0] if k == 1 else gram

    return compute(params, x1, x2)
