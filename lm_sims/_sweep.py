"""One helper to run a simulation over seeds and a grid of dynamic hyperparameters.

``sweep`` vmaps a ``run(key, cfg)`` function over ``num_seeds`` PRNG keys and over the
Cartesian product of the values given for dynamic config fields, and jit-compiles the
whole batch once. The same seeds are used at every grid point, so differences between
grid points are never seed noise. Its one public path is ``lm_sims.sweep`` (this
module is private).
"""

from __future__ import annotations

import collections
import functools
import itertools
import sys
import types
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lm_sims._config import check_callable, check_int, check_key, code_names

__all__ = ["sweep"]

#: How many compiled sweeps are kept (least recently used dropped first). Each holds
#: a compiled program and keeps its ``run`` function alive.
CACHE_SIZE = 16
_compiled: collections.OrderedDict = collections.OrderedDict()


def _value(value: Any) -> tuple:
    """A hashable stand-in for ``value``: the value itself (with its type) when it
    is hashable, else its identity. An identity is safe in a cache key because the
    cache entry keeps the object alive (its id cannot be reused meanwhile)."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("value", type(value), value)


def _token(value: Any, seen: frozenset) -> tuple:
    """Like :func:`_value`, but functions and partials (closed over, or partial
    arguments) are described by what they compute (:func:`_run_key`)."""
    if isinstance(value, (types.FunctionType, functools.partial)):
        if id(value) in seen:  # a function that refers to itself
            return ("id", id(value))
        return ("run", _run_key(value, seen | {id(value)}))
    if isinstance(value, tuple):
        return ("tuple", tuple(_token(v, seen) for v in value))
    return _value(value)


def _code_key(code: types.CodeType) -> tuple:
    """What a code object computes, without its line numbers (so a lambda written
    again on another line is the same function)."""
    consts = tuple(
        _code_key(c) if isinstance(c, types.CodeType) else _value(c)
        for c in code.co_consts
    )
    return (
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_argcount,
        code.co_kwonlyargcount,
        code.co_flags,
    )


def _run_key(run: Callable, seen: frozenset = frozenset()) -> tuple:
    """A key under which equal ``run`` functions share one compiled sweep.

    A plain function (a lambda included) is described by its code, the values it
    closes over, its defaults and the objects its global names refer to now (by
    identity for functions and modules: redefining one compiles anew); a
    ``functools.partial`` by its function and arguments; any other callable (a
    jitted function, a bound method) by its own hash and equality. Two lambdas
    ``lambda k, c: mlp.train(k, c)`` made at two calls therefore compile once.
    """
    if isinstance(run, functools.partial):
        kwargs = tuple(sorted((k, _token(v, seen)) for k, v in run.keywords.items()))
        return (
            "partial",
            _token(run.func, seen),
            _token(tuple(run.args), seen),
            kwargs,
        )
    if isinstance(run, types.FunctionType):
        code = run.__code__
        cells = tuple(
            _token(c.cell_contents, seen) if _cell_full(c) else ("empty",)
            for c in run.__closure__ or ()
        )
        glob = run.__globals__
        names = sorted(code_names(code))
        kwdefaults = sorted((run.__kwdefaults__ or {}).items())
        return (
            "function",
            _code_key(code),
            cells,
            _token(run.__defaults__ or (), seen),
            tuple((k, _token(v, seen)) for k, v in kwdefaults),
            id(glob),
            tuple((n, _global(glob[n], seen)) for n in names if n in glob),
        )
    return _value(run)


def _global(value: Any, seen: frozenset) -> tuple:
    """A global a function uses: the user's own functions (a notebook's, a
    script's: code outside lm_sims and outside any versioned package) by what
    they compute, down to the globals they use in turn (so rebinding a number
    that a helper reads compiles anew); anything else as :func:`_value`."""
    if isinstance(value, types.FunctionType):
        top = (value.__module__ or "").split(".")[0]
        package = sys.modules.get(top)
        if top != "lm_sims" and not hasattr(package, "__version__"):
            return _token(value, seen)
    return _value(value)


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _batched(run: Callable, names: tuple[str, ...]):
    """The jitted sweep of ``run`` over ``names``: one per equal ``run`` (see
    :func:`_run_key`), at most ``CACHE_SIZE`` kept."""
    key = (_run_key(run), names)
    if key in _compiled:
        _compiled.move_to_end(key)
        return _compiled[key][0]

    def one(k, cfg, point):
        _index, values = point  # the index keeps vmap's axis when the grid is empty
        cfg = cfg.replace(**dict(zip(names, values, strict=True)))
        return run(k, cfg)

    over_seeds = jax.vmap(one, in_axes=(0, None, None))
    over_grid = jax.vmap(over_seeds, in_axes=(None, None, 0))
    # the entry keeps run alive, so the ids in its key stay unique while it exists
    _compiled[key] = (jax.jit(over_grid), run)
    while len(_compiled) > CACHE_SIZE:
        _compiled.popitem(last=False)
    return _compiled[key][0]


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
        **grid: ``field=values`` with ``values`` a 1-D sequence of numbers (shape
            ``(n,)``, n >= 1), for dynamic fields of ``cfg`` only. The grid is
            their Cartesian product, in the order given (for a 2-D grid of two
            fields give each its own 1-D list). Values enter the run in JAX's
            default float dtype (float64 when ``jax_enable_x64`` is on, else
            float32).

    Equal ``run`` functions share one compilation: a lambda or a
    ``functools.partial`` made anew at each call (``lambda k, c: mlp.train(k, c)``)
    is recognised by its code and the values it uses, so repeated sweeps never
    recompile for the same shapes. The 16 most recently used compiled sweeps
    are kept.

    Returns:
        The output pytree of ``run`` with leading axes ``(*grid_shape, num_seeds)``,
        where ``grid_shape`` lists the lengths of the grid value lists in order.

    Raises:
        ValueError: a grid field is static (it sets shapes, loop lengths or the
            kind of computation, so each value compiles anew: loop over it in
            Python, one sweep per value), is not a field of ``cfg``, has no
            values or values that are not 1-D, or a grid value is out of the
            field's valid range.
        TypeError: ``run`` is not callable, ``key`` is not a PRNG key,
            ``num_seeds`` is not an int, ``cfg`` is not an lm_sims Config, or grid
            values are not numbers.

    Example:
        >>> import jax
        >>> from lm_sims import deep_linear, sweep
        >>> cfg = deep_linear.Config(steps=200)
        >>> out = sweep(deep_linear.train, jax.random.key(0), cfg,
        ...             num_seeds=4, lr=[0.01, 0.02])
        >>> out.loss.shape[:2]
        (2, 4)
    """
    check_callable("run", run, optional=False)
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
                "(the type of cfg) "
                "(it sets shapes, loop lengths or the kind of computation, so each "
                "value compiles anew). "
                f"Loop over {name} in Python and call sweep once per value."
            )
        if name not in cls.dynamic_fields:
            raise ValueError(
                f"{name!r} is not a field of {cls.__name__} (the type of cfg); "
                f"dynamic fields are {', '.join(cls.dynamic_fields)}: is cfg the "
                "config that run expects?"
            )
        raw = np.asarray(grid[name])
        if raw.dtype.kind not in "iuf":
            raise TypeError(
                f"grid for {name!r} must be real numbers, got {name}={grid[name]!r} "
                f"(dtype {raw.dtype})"
            )
        if raw.ndim != 1:
            raise ValueError(
                f"grid for {name!r} must be a 1-D sequence of values, shape (n,), "
                f"got shape {raw.shape}; give each swept field its own 1-D list "
                "(the grid is their Cartesian product)"
            )
        values = raw.astype(float)
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
