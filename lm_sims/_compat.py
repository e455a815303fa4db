"""Shims for JAX APIs that moved between the oldest supported JAX and the newest.

lm_sims supports every JAX from the lower bound in ``pyproject.toml`` up (Colab may
ship an older JAX than the book's environment). Where an API the library calls was
renamed or added within that range, the library calls it through this module.
"""

from __future__ import annotations

import jax


def enable_x64(new_val: bool = True):
    """Context manager that turns ``jax_enable_x64`` on (or off) inside its block.

    ``jax.enable_x64`` on JAX releases that have it (the newest ones, where
    ``jax.experimental.enable_x64`` was removed); ``jax.experimental.enable_x64``
    on older ones, which lack the top-level name.

    Args:
        new_val: the value of ``jax_enable_x64`` inside the block.

    Returns:
        A context manager; on exit the previous value is restored.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims._compat import enable_x64
        >>> with enable_x64(True):
        ...     print(jnp.zeros(1).dtype)
        float64
    """
    top = getattr(jax, "enable_x64", None)
    if top is not None:
        return top(new_val)
    from jax.experimental import enable_x64 as experimental_enable_x64

    return experimental_enable_x64(new_val)
