"""One helper to run a simulation over seeds and a grid of dynamic hyperparameters.

``sweep`` runs a ``run(key, cfg)`` function for ``num_seeds`` PRNG keys at every point
of the Cartesian product of the values given for dynamic config fields, with one
compilation per static shape. The same seeds are used at every grid point, so
differences between grid points are never seed noise. It chooses between three ways
of running the batch (``strategy``): one vmapped program, a chunked ``lax.map`` and a
Python loop of one jitted run, and spreads the runs over every device JAX sees. Its
one public path is ``lm_sims.sweep`` (this module is private).
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

from lm_sims._config import (
    check_callable,
    check_choice,
    check_int,
    check_key,
    code_names,
)

__all__ = ["AUTO_VMAP_MAX_DOT_FLOPS", "CACHE_SIZE", "STRATEGIES", "sweep"]

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


#: The ways ``sweep`` can run its batch of runs (see :func:`sweep`).
STRATEGIES = ("auto", "vmap", "map", "loop")
#: ``strategy="auto"`` picks ``"vmap"`` when the largest matrix product of one run
#: (``dot_general``, counted in flops ``2 m n k`` by tracing the run once) is at most
#: this many flops, else ``"map"`` (one run at a time in one program). Measured on 2
#: cores (benchmarks/bench_sweep.py): below it each step is a few small kernels whose
#: fixed cost batching amortises (deep linear width 16: vmap 2x faster than a loop);
#: above it one run's matrix products already keep the cores busy (an MLP of width
#: 128-512: vmap 0.9-1.0x a loop, the unbatched lax.map 1.1-1.2x).
AUTO_VMAP_MAX_DOT_FLOPS = 2.0**20
#: How many compiled sweeps (and ``"auto"`` decisions) are kept, least recently used
#: dropped first. Each holds a compiled program and keeps its ``run`` alive.
CACHE_SIZE = 16
_compiled: collections.OrderedDict = collections.OrderedDict()
_decisions: collections.OrderedDict = collections.OrderedDict()


def _remember(cache: collections.OrderedDict, key, value):
    cache[key] = value
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _recall(cache: collections.OrderedDict, key):
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    return None


def _one(run: Callable, names: tuple[str, ...]):
    """One run at one grid point: ``run(key, cfg with names = values)``."""

    def one(key, cfg, values):
        return run(key, cfg.replace(**dict(zip(names, values, strict=True))))

    return one


def _subjaxprs(value):
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def _largest_dot_flops(jaxpr) -> float:
    """The flops ``2 m n k`` of the largest ``dot_general`` in ``jaxpr``, inner
    jaxprs (scan, while, cond, jit) included; 0 when it has none."""
    best = 0.0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            k = float(np.prod([lhs[i] for i in contract]))
            best = max(best, 2.0 * float(np.prod(eqn.outvars[0].aval.shape)) * k)
        for value in eqn.params.values():
            for sub in _subjaxprs(value):
                best = max(best, _largest_dot_flops(sub))
    return best


def _auto(run, names, keys, cfg, values, mesh) -> str:
    """The ``"auto"`` strategy for these static shapes, cached. It traces the
    vmapped sweep (the trace is JAX's own, reused if ``"vmap"`` is chosen, so a
    vmapped sweep still traces ``run`` once) and divides its largest matrix product
    by the number of runs batched on one device."""
    devices = None if mesh is None else tuple(d.id for d in mesh.devices.flat)
    shapes = tuple(np.shape(v) for v in values)
    cache_key = (
        _run_key(run),
        names,
        jax.tree_util.tree_structure(cfg),
        keys.shape,
        shapes,
        devices,
    )
    decided = _recall(_decisions, cache_key)
    if decided is not None:
        return decided[0]
    traced = _batched(run, names, "vmap", None, mesh).trace(keys, cfg, values)
    per_device = keys.shape[0] // (1 if mesh is None else mesh.devices.size)
    flops = _largest_dot_flops(traced.jaxpr.jaxpr) / per_device
    decided = "vmap" if flops <= AUTO_VMAP_MAX_DOT_FLOPS else "map"
    # the entry keeps run alive, so the ids in its key stay unique while it exists
    _remember(_decisions, cache_key, (decided, run))
    return decided


def _shard_map():
    top = getattr(jax, "shard_map", None)
    if top is not None:
        return top
    from jax.experimental.shard_map import shard_map  # JAX before 0.7

    return shard_map


def _batched(run: Callable, names: tuple[str, ...], strategy: str, chunk, mesh):
    """The jitted batch of ``run`` over ``names`` for ``strategy``: one per equal
    ``run`` (see :func:`_run_key`), strategy, chunk and device mesh, at most
    ``CACHE_SIZE`` kept. Its arguments: keys (N,), cfg, values (a tuple of (N,)
    arrays); its result: the outputs with a leading axis N (N a multiple of the
    mesh size)."""
    devices = None if mesh is None else tuple(d.id for d in mesh.devices.flat)
    key = (_run_key(run), names, strategy, chunk, devices)
    found = _recall(_compiled, key)
    if found is not None:
        return found[0]
    one = _one(run, names)
    if strategy == "loop":
        # "loop" runs one point per call; on a mesh each device runs its points
        # one after another (lax.map with no batching)
        local = (
            None
            if mesh is None
            else (lambda k, c, v: jax.lax.map(lambda kv: one(kv[0], c, kv[1]), (k, v)))
        )
        fn = jax.jit(one) if mesh is None else None
    elif strategy == "vmap":
        local = jax.vmap(one, in_axes=(0, None, 0))
    else:

        def local(k, c, v):
            return jax.lax.map(
                lambda kv: one(kv[0], c, kv[1]), (k, v), batch_size=chunk
            )

    if mesh is not None:
        spec = jax.sharding.PartitionSpec(_AXIS)
        fn = jax.jit(
            _shard_map()(
                local,
                mesh=mesh,
                in_specs=(spec, jax.sharding.PartitionSpec(), spec),
                out_specs=spec,
                check_vma=False,
            )
        )
    elif strategy != "loop":
        fn = jax.jit(local)
    # the entry keeps run alive, so the ids in its key stay unique while it exists
    return _remember(_compiled, key, (fn, run))[0]


_AXIS = "sweep"


def _mesh(devices):
    """A 1-D mesh over ``devices`` (default: every device JAX sees, all hosts), or
    None for one device."""
    if devices is None:
        devices = jax.devices()
    devices = list(devices)
    if len(devices) == 1:
        return None
    return jax.sharding.Mesh(np.array(devices), (_AXIS,))


def _loop(fn, keys, cfg, values):
    """``fn`` called once per point (asynchronous dispatch), outputs stacked."""
    outs = [fn(keys[i], cfg, tuple(v[i] for v in values)) for i in range(keys.shape[0])]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)


def sweep(
    run: Callable,
    key: jax.Array,
    cfg: Any,
    *,
    num_seeds: int = 1,
    strategy: str = "auto",
    chunk_size: int | None = None,
    devices: Any = None,
    **grid,
):
    """Run ``run(key, cfg)`` for every seed and every point of a hyperparameter grid.

    Args:
        run: a function ``(key, cfg) -> pytree`` such as a module's ``train``.
        key: PRNG key; split into ``num_seeds`` keys with
            ``jax.random.split(key, num_seeds)``, shared by all grid points. Seed
            ``i`` of the sweep is therefore ``run(jax.random.split(key,
            num_seeds)[i], cfg)``, not ``run(key, cfg)`` (even for one seed).
        cfg: the base config (a ``config_dataclass``). Grid fields override it.
        num_seeds: number of independent seeds (int >= 1).
        strategy: how the ``G * num_seeds`` runs (``G`` grid points) are run:

            - ``"vmap"``: one vmapped program. Fastest when one run is a chain of
              small kernels (deep linear networks of width 16: 2x faster than a
              loop on 2 cores), but a vmapped matrix product is a batched one,
              no faster (and with older XLA 2-5x slower) than the plain products
              of a loop for MLPs of width 128-512.
            - ``"map"``: ``jax.lax.map`` over the runs in chunks of ``chunk_size``
              (each chunk vmapped; ``chunk_size=None`` or 1: one run at a time),
              one program. Bitwise equal to ``"loop"`` with chunks of 1.
            - ``"loop"``: one jitted run called once per point (asynchronous
              dispatch), bitwise equal to a Python loop of ``jax.jit(run)``.
            - ``"auto"`` (default): traces the vmapped sweep once per static
              shape (the trace is reused when it keeps ``"vmap"``) and takes
              ``"vmap"`` when one run's largest matrix product
              (``dot_general``) costs at most ``AUTO_VMAP_MAX_DOT_FLOPS`` = 2^20
              flops (``2 m n k``), else ``"map"`` with chunks of 1. Measured
              on 2 cores by ``benchmarks/bench_sweep.py`` (benchmarks/RESULTS.md,
              "Sweep").

            Every strategy compiles once per static shape; the results agree to
            float rounding (``"vmap"``) or bitwise (``"map"`` with chunks of 1,
            ``"loop"``).
        chunk_size: runs per chunk for ``strategy="map"`` (int >= 1, or None for
            one at a time); ignored otherwise.
        devices: the devices to spread the runs over (a sequence of
            ``jax.Device``); default ``jax.devices()``, every device JAX sees, on
            every host. With more than one, the runs (grid points and seeds,
            flattened) are split into equal contiguous blocks, one per device
            (padded with copies of the last run, whose results are dropped), and
            each device runs its block with ``strategy`` (``"loop"`` becomes an
            unbatched ``lax.map`` there) inside one ``jax.shard_map`` program.
            Results equal the one-device run (tested on 4 virtual CPU devices).
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
    are kept (``CACHE_SIZE``).

    **More than one machine.** ``sweep`` needs no new code on several hosts: start
    JAX's multi-process runtime first, in every process, then call ``sweep`` with the
    same arguments in every process; each host runs its devices' share and every
    process gets the whole result::

        import jax
        jax.distributed.initialize(coordinator_address="host0:1234",
                                   num_processes=2, process_id=RANK)
        from lm_sims import mlp, sweep
        out = sweep(mlp.train, jax.random.key(0), cfg, num_seeds=8, lr=lrs)

    (On CPU-only hosts also set ``jax.config.update(
    "jax_cpu_collectives_implementation", "gloo")`` before ``initialize``; on
    clusters that JAX detects, SLURM or Cloud TPU, ``initialize()`` needs no
    arguments.) Every process must pass the same key, config and grid. To test the
    sharding on one machine, start Python with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (set before JAX is
    imported): JAX then sees 4 CPU devices.

    Returns:
        The output pytree of ``run`` with leading axes ``(*grid_shape, num_seeds)``,
        where ``grid_shape`` lists the lengths of the grid value lists in order.

    Raises:
        ValueError: a grid field is static (it sets shapes, loop lengths or the
            kind of computation, so each value compiles anew: loop over it in
            Python, one sweep per value), is not a field of ``cfg``, has no
            values or values that are not 1-D, or a grid value is out of the
            field's valid range; ``strategy`` is not one of ``STRATEGIES``;
            ``chunk_size`` < 1; ``devices`` is empty.
        TypeError: ``run`` is not callable, ``key`` is not a PRNG key,
            ``num_seeds`` or ``chunk_size`` is not an int, ``cfg`` is not an
            lm_sims Config, grid values are not numbers, or ``devices`` holds
            something other than ``jax.Device``.

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
    check_choice("strategy", strategy, STRATEGIES)
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, minimum=1)
    if devices is not None:
        devices = list(devices)
        if not devices:
            raise ValueError("devices must hold at least one jax.Device, got []")
        for d in devices:
            if not isinstance(d, jax.Device):
                raise TypeError(
                    "devices must be a sequence of jax.Device (e.g. jax.devices()), "
                    f"got an element {d!r} ({type(d).__name__})"
                )
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
    # runs in (grid point, seed) order: run g * num_seeds + s
    count = points.shape[0] * num_seeds
    mesh = _mesh(devices)
    size = 1 if mesh is None else mesh.devices.size
    padded = -(-count // size) * size
    index = np.minimum(np.arange(padded), count - 1)  # pad with the last run
    seed_keys = jax.random.split(key, num_seeds)
    keys = seed_keys[jnp.asarray(index % num_seeds)]
    dtype = jnp.result_type(float)
    values = tuple(
        np.asarray(points[index // num_seeds, i], dtype=dtype)
        for i in range(len(names))
    )
    if strategy == "auto":
        strategy = _auto(run, names, keys, cfg, values, mesh)
    chunk = chunk_size if strategy == "map" and chunk_size != 1 else None
    fn = _batched(run, names, strategy, chunk, mesh)
    if strategy == "loop" and mesh is None:
        out = _loop(fn, keys, cfg, values)
    else:
        out = fn(keys, cfg, values)
        if jax.process_count() > 1:  # each process holds its devices' blocks
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
    return jax.tree_util.tree_map(
        lambda x: x[:count].reshape(shape + (num_seeds,) + x.shape[1:]), out
    )
