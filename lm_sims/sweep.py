"""One helper to run a simulation over seeds and a grid of dynamic hyperparameters.

``sweep`` vmaps a ``run(key, cfg)`` function over ``num_seeds`` PRNG keys and over the
Cartesian product of the values given for dynamic config fields, and jit-compiles the
whole batch once. The same seeds are used at every grid point, so differences between
grid points are never seed noise.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lm_sims._config import check_int, check_key

__all__ = ["sweep"]


@functools.cache
def _batched(run: Callable, names: tuple[str, ...]):
    def one(key, cfg, point):
        _index, values = point  # the index keeps vmap's axis when the grid is empty
        cfg = cfg.replace(**dict(zip(names, values, strict=True)))
        return run(key, cfg)

    over_seeds = jax.vmap(one, in_axes=(0, None, None))
    over_grid = jax.vmap(over_seeds, in_axes=(None, None, 0))
    return jax.jit(over_grid)


def sweep(run: Callable, key: jax.Array, cfg: Any, *, num_seeds: int = 1, **grid):
    """Run ``run(key, cfg)`` for every seed and every point of a hyperparameter grid.

    Args:
        run: a function ``(key, cfg) -> pytree`` such as a module's ``train``.
        key: PRNG key; split into ``num_seeds`` keys with
            ``jax.random.split(key, num_seeds)``, shared by all grid points. Seed
            ``i`` of the sweep is therefore ``run(jax.random.split(key,
            num_seeds)[i], cfg)``, not ``run(key, cfg)`` (even for one seed).
        cfg: the base config (a ``config_dataclass``). Grid fields override it.
        num_seeds: number of independent seeds (int >= 1).
        **grid: ``field=values`` with ``values`` a 1-D sequence of numbers, for
            dynamic fields of ``cfg`` only. The grid is their Cartesian product, in
            the order given. Values enter the run in JAX's default float dtype
            (float64 when ``jax_enable_x64`` is on, else float32).

    Returns:
        The output pytree of ``run`` with leading axes ``(*grid_shape, num_seeds)``,
        where ``grid_shape`` lists the lengths of the grid value lists in order.

    Raises:
        ValueError: a grid field is static (it sets shapes, loop lengths or the
            kind of computation, so each value compiles anew: loop over it in
            Python, one sweep per value), is not a field of ``cfg``, has no
            values, or a grid value is out of the field's valid range.
        TypeError: ``key`` is not a PRNG key or ``num_seeds`` is not an int.

    Example:
        >>> import jax
        >>> from lm_sims import deep_linear, sweep
        >>> cfg = deep_linear.Config(steps=200)
        >>> out = sweep(deep_linear.train, jax.random.key(0), cfg,
        ...             num_seeds=4, lr=[0.01, 0.02])
        >>> out.loss.shape[:2]
        (2, 4)
    """
    check_key(key)
    check_int("num_seeds", num_seeds, minimum=1)
    cls = type(cfg)
    static = getattr(cls, "static_fields", None)
    if static is None:
        raise TypeError(f"cfg must be an lm_sims Config, got {cls.__name__}")
    names = tuple(grid)
    arrays = []
    for name in names:
        if name in static:
            raise ValueError(
                f"cannot sweep {name!r}: it is a static field of {cls.__name__} "
                "(it sets shapes, loop lengths or the kind of computation, so each "
                "value compiles anew). "
                f"Loop over {name} in Python and call sweep once per value."
            )
        if name not in cls.dynamic_fields:
            raise ValueError(
                f"{name!r} is not a field of {cls.__name__}; dynamic fields are "
                f"{', '.join(cls.dynamic_fields)}"
            )
        values = np.asarray(grid[name], dtype=float).reshape(-1)
        if values.size == 0:
            raise ValueError(f"grid for {name!r} is empty; give at least one value")
        for v in values:  # validates every grid value at the public boundary
            cfg.replace(**{name: float(v)})
        arrays.append(values)
    shape = tuple(len(a) for a in arrays)
    combos = list(itertools.product(*arrays))  # no grid: one point, no values
    points = np.array(combos, dtype=float).reshape(len(combos), len(names))
    keys = jax.random.split(key, num_seeds)
    values = tuple(
        jnp.asarray(points[:, i], dtype=jnp.result_type(float))
        for i in range(len(names))
    )
    index = jnp.arange(points.shape[0])
    out = _batched(run, names)(keys, cfg, (index, values))
    return jax.tree_util.tree_map(
        lambda x: x.reshape(shape + (num_seeds,) + x.shape[2:]), out
    )
