"""Config dataclasses that are JAX pytrees, and the validation helpers behind them.

Fields that set shapes or loop lengths are *static* (pytree aux data: changing them
recompiles); every other field is a pytree leaf, so sweeping it never recompiles.
Validation runs only on concrete Python / NumPy numbers, at the public boundary:
inside ``jit`` or ``vmap`` a config is rebuilt from tracers and is not re-checked.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import types
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["config_dataclass", "is_concrete"]

#: Largest array (bytes) a public function allocates before it refuses with an
#: estimate (``check_allocation``); set ``LM_SIMS_MAX_BYTES`` to change it.
MAX_BYTES = int(float(os.environ.get("LM_SIMS_MAX_BYTES", 4 * 2**30)))


def is_concrete(value: Any) -> bool:
    """True if ``value`` is a concrete number or array (not a JAX tracer)."""
    return not isinstance(value, jax.core.Tracer)


def config_dataclass(cls=None, *, static: Iterable[str] = ()):
    """Make ``cls`` a frozen dataclass registered as a pytree.

    Args:
        cls: the class to decorate.
        static: names of fields that set shapes or loop lengths. They are pytree aux
            data (hashable, part of the compilation cache key); all other fields are
            leaves.

    The class may define ``_validate(self)``; it is called after construction only
    when every leaf is concrete.
    """

    def wrap(cls):
        static_names = tuple(static)
        original_post_init = cls.__dict__.get("__post_init__")

        def __post_init__(self):
            if original_post_init is not None:
                original_post_init(self)
            validate = getattr(self, "_validate", None)
            names = type(self).dynamic_fields
            leaves = [getattr(self, n) for n in names]
            if validate is None or not all(is_concrete(v) for v in leaves):
                return  # rebuilt from tracers inside jit / vmap: checked at entry
            for n, v in zip(names, leaves, strict=True):
                if np.ndim(v) != 0:
                    raise TypeError(
                        f"{n} must be a scalar, got an array of shape {np.shape(v)}; "
                        "to run several values use lm_sims.sweep"
                    )
            validate()

        cls.__post_init__ = __post_init__  # before @dataclass so __init__ calls it
        cls = dataclasses.dataclass(frozen=True)(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = set(static_names) - set(names)
        if unknown:
            raise TypeError(f"static fields {sorted(unknown)} are not fields of {cls}")
        data_names = tuple(n for n in names if n not in static_names)
        cls.static_fields = static_names
        cls.dynamic_fields = data_names

        def replace(self, **changes):
            return dataclasses.replace(self, **changes)

        cls.replace = replace

        def flatten(obj):
            return (
                tuple(getattr(obj, n) for n in data_names),
                tuple(getattr(obj, n) for n in static_names),
            )

        def unflatten(aux, children):
            obj = object.__new__(cls)
            for n, v in zip(data_names, children, strict=True):
                object.__setattr__(obj, n, v)
            for n, v in zip(static_names, aux, strict=True):
                object.__setattr__(obj, n, v)
            return obj

        jax.tree_util.register_pytree_node(cls, flatten, unflatten)
        return cls

    return wrap if cls is None else wrap(cls)


# --- validation helpers: each names the field, the value and the valid range -------


def check_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None):
    """Raise TypeError unless ``value`` is an int; ValueError unless in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {name}={value!r} ({type(value).__name__})"
        )
    if value < minimum or (maximum is not None and value > maximum):
        hi = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{hi}, got {name}={value}")


def check_real(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
):
    """Raise TypeError unless ``value`` is a finite real; ValueError unless in range."""
    if isinstance(value, bool) or not isinstance(
        value, (numbers.Real, np.ndarray, jax.Array)
    ):
        raise TypeError(
            f"{name} must be a real number, got {name}={value!r} "
            f"({type(value).__name__})"
        )
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {name}={v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {name}={v:g}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0, got {name}={v:g}")
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low:g}, got {name}={v:g}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high:g}, got {name}={v:g}")


def check_record_every(steps: int, record_every: int):
    """Raise ValueError unless ``record_every`` divides ``steps`` (both already
    checked as ints >= 1): a run records every ``record_every`` steps."""
    if steps % record_every:
        raise ValueError(
            f"record_every must divide steps, got steps={steps}, "
            f"record_every={record_every}"
        )


def check_choice(name: str, value: Any, options: Iterable[Any]):
    """Raise ValueError unless ``value`` is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, options))}; "
            f"got {name}={value!r}"
        )


def check_key(key: Any, name: str = "key"):
    """Raise TypeError unless ``key`` is one JAX PRNG key (typed, shape (), or raw
    uint32[2]); a batch of keys is refused (vmap over them instead)."""
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(
            f"{name} must be a JAX PRNG key, e.g. jax.random.key(0); "
            f"got {name}={key!r} ({type(key).__name__})"
        )
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise TypeError(
                f"{name} must be a single PRNG key (shape ()), got a batch of keys "
                f"of shape {key.shape}; call once per key or use lm_sims.sweep"
            )
        return
    if key.dtype != np.uint32 or key.shape != (2,):
        raise TypeError(
            f"{name} must be a JAX PRNG key, e.g. jax.random.key(0); "
            f"got an array of dtype {key.dtype} and shape {key.shape}"
        )


def as_float64_numpy(name: str, value: Any, *, finite: bool = True) -> np.ndarray:
    """``value`` as a float64 NumPy array (for float64 theory evaluated in NumPy
    whatever JAX's precision), or TypeError naming ``name`` for None, strings,
    booleans (Python, NumPy, inside a list, or a bool array), objects or complex
    numbers; with ``finite``, ValueError on NaN or inf."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be an array of real numbers, got {name}={value!r}"
        )
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be real numbers, not booleans, got {name}={value!r}"
        )
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged input
        raise TypeError(f"{name} must be an array of real numbers ({err})") from None
    if raw.dtype == np.bool_ or (
        raw.dtype == object
        and any(isinstance(v, (bool, np.bool_)) for v in raw.ravel())
    ):
        raise TypeError(
            f"{name} must be real numbers, not booleans, got {name}={value!r}"
        )
    if not (
        np.issubdtype(raw.dtype, np.floating) or np.issubdtype(raw.dtype, np.integer)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    a = raw.astype(np.float64)
    if finite and not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or inf entries")
    return a


def as_float_array(
    name: str, value: Any, *, finite: bool = True, allow_bool: bool = True
) -> jax.Array:
    """``value`` as a floating JAX array (ints and bools promoted to the default
    float dtype), or TypeError naming ``name`` for None, strings, objects or
    complex numbers; with ``finite``, ValueError on NaN or inf (concrete only);
    with ``allow_bool=False``, TypeError for booleans (Python, NumPy, inside a
    list, or a bool array) instead of reading them as 0 and 1."""
    if isinstance(value, jax.core.Tracer):
        x = value
    else:
        if not allow_bool and (
            isinstance(value, (bool, np.bool_))
            or (hasattr(value, "dtype") and np.dtype(value.dtype) == np.bool_)
            or (
                isinstance(value, (list, tuple))
                and any(
                    isinstance(v, (bool, np.bool_))
                    for v in np.ravel(np.asarray(value, object))
                )
            )
        ):
            raise TypeError(
                f"{name} must be real numbers, not booleans, got {name}={value!r}"
            )
        if value is None or isinstance(value, (str, bytes)) or _holds_strings(value):
            raise TypeError(
                f"{name} must be an array of real numbers, got {name}={value!r} "
                f"({type(value).__name__})"
            )
        try:
            x = jnp.asarray(value)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be an array of real numbers, got a "
                f"{type(value).__name__} that is not one ({err})"
            ) from None
    dtype = x.dtype
    if not (
        jnp.issubdtype(dtype, jnp.floating)
        or jnp.issubdtype(dtype, jnp.integer)
        or jnp.issubdtype(dtype, jnp.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if finite:
        check_finite(name, x)
    return x


def _holds_strings(value: Any) -> bool:
    """True for a list or tuple with a string entry (``jnp.asarray`` would warn
    about a dtype alias before failing)."""
    if not isinstance(value, (list, tuple)):
        return False
    try:
        flat = np.ravel(np.asarray(value, object))
    except ValueError:  # ragged: jnp.asarray reports it
        return False
    return any(isinstance(v, (str, bytes, np.str_, np.bytes_)) for v in flat)


def check_finite(name: str, x: Any):
    """Raise ValueError if the concrete array ``x`` has NaN or inf entries (says
    how many and where the first is); tracers pass (checked at the boundary)."""
    if not is_concrete(x):
        return
    a = np.asarray(x)
    bad = ~np.isfinite(a)
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {int(bad.sum())} NaN or inf entries "
            f"(first at index {first}: {a[first]})"
        )


def check_callable(name: str, fn: Any, *, optional: bool = True):
    """Raise TypeError unless ``fn`` is callable (or None when ``optional``)."""
    if fn is None and optional:
        return
    if not isinstance(fn, Callable):
        raise TypeError(
            f"{name} must be a function{' or None' if optional else ''}, got "
            f"{name}={fn!r} ({type(fn).__name__})"
        )


def check_allocation(what: str, nbytes: float, fix: str):
    """Raise ValueError before allocating more than ``MAX_BYTES``, with the size
    estimate, what it is for and how to shrink it (:func:`check_bytes` for a
    function that takes an explicit ``max_bytes``)."""
    _over_budget(what, nbytes, MAX_BYTES, "env LM_SIMS_MAX_BYTES", fix)


def _over_budget(what: str, nbytes: float, limit: float, how: str, fix: str):
    if nbytes > limit:
        raise ValueError(
            f"{what} would need about {nbytes / 2**30:.3g} GiB (limit "
            f"{limit / 2**30:.3g} GiB: {how}); {fix}"
        )


def float_bytes() -> int:
    """Bytes per entry of the default float dtype (4, or 8 under x64)."""
    return jnp.zeros((), float).dtype.itemsize


def num_bytes(*shape: int) -> float:
    """Bytes of a default-float array of ``shape`` (a float, no overflow)."""
    return float(math.prod(float(n) for n in shape)) * float_bytes()


def diverged_flag(diverged_step: Any) -> bool | np.ndarray:
    """``Trajectory.diverged`` of every module: ``diverged_step >= 0``.

    A bool for one run; a NumPy bool array of the same shape for a batch of runs
    (the output of :func:`lm_sims.sweep`, leading axes grid x seeds).
    """
    flags = np.asarray(diverged_step) >= 0
    return bool(flags) if flags.ndim == 0 else flags


def check_layer_chain(params, layer_type: type, owner: str) -> None:
    """Check a fully connected network given as a chain of ``(w, b)`` layers:
    ``params`` a tuple of >= 2 ``layer_type`` with ``w`` (fan_in, fan_out), ``b``
    (fan_out,), finite, and each fan_in equal to the previous layer's fan_out.
    ``owner`` names the module in the messages (e.g. ``"neural_collapse"``)."""
    if (
        not isinstance(params, (tuple, list))
        or len(params) < 2
        or not all(isinstance(layer, layer_type) for layer in params)
    ):
        raise TypeError(
            f"params must be a tuple of >= 2 {owner}.{layer_type.__name__} (from "
            f"init), got {type(params).__name__}"
        )
    for i, layer in enumerate(params):
        w = as_float_array(f"params[{i}].w", layer.w)
        b = as_float_array(f"params[{i}].b", layer.b)
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise ValueError(
                f"params[{i}] must have w (fan_in, fan_out) and b (fan_out,), got "
                f"{tuple(w.shape)} and {tuple(b.shape)}"
            )
        if i and w.shape[0] != params[i - 1].w.shape[1]:
            raise ValueError(
                f"params[{i}].w has fan_in {w.shape[0]}, but the previous layer "
                f"has fan_out {params[i - 1].w.shape[1]}"
            )


# --- issue 12 (property suite): argument types at the public boundary ----------------


def _type_label(types: Any) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(
        f"{t.__module__.removeprefix('lm_sims.')}.{t.__qualname__}"
        if t.__module__.startswith("lm_sims")
        else t.__qualname__
        for t in types
    )


def check_instance(name: str, value: Any, types: Any):
    """Raise TypeError unless ``isinstance(value, types)`` (e.g. a config, a task,
    a trajectory): the message names ``name``, the expected and the given type."""
    if not isinstance(value, types):
        raise TypeError(
            f"{name} must be a {_type_label(types)}, got {name}={value!r:.80} "
            f"({type(value).__name__})"
        )


def as_int_array(name: str, value: Any, *, minimum: int | None = None) -> np.ndarray:
    """``value`` as an int64 NumPy array, or TypeError naming ``name`` for None,
    strings, booleans, complex or non-integer numbers (NaN included); with
    ``minimum``, ValueError for smaller entries. Floats holding integers pass."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be an array of integers, got {name}={value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged input
        raise TypeError(f"{name} must be an array of integers ({err})") from None
    if np.issubdtype(raw.dtype, np.integer):
        out = raw.astype(np.int64)
    elif np.issubdtype(raw.dtype, np.floating):
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise TypeError(
                f"{name} must hold integers, got non-integer entries in "
                f"{name}={raw.ravel()[:6].tolist()}"
            )
        out = raw.astype(np.int64)
    else:
        raise TypeError(f"{name} must hold integers, got dtype {raw.dtype}")
    if minimum is not None and out.size and out.min() < minimum:
        raise ValueError(
            f"{name} entries must be >= {minimum}, got {name} with minimum "
            f"{int(out.min())}"
        )
    return out


def check_int_sequence(
    name: str, values: Any, *, minimum: int = 1, allow_empty: bool = False
) -> tuple[int, ...]:
    """``values`` (a sequence of ints, e.g. widths or sample sizes) as a tuple, or
    TypeError / ValueError naming ``name`` (and the bad entry's index)."""
    if isinstance(values, (str, bytes)) or not isinstance(
        values, (list, tuple, range, np.ndarray)
    ):
        raise TypeError(
            f"{name} must be a sequence of integers, got {name}={values!r:.80} "
            f"({type(values).__name__})"
        )
    if isinstance(values, np.ndarray):
        values = list(values.ravel())
    values = list(values)
    if not values and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    for i, v in enumerate(values):
        check_int(f"{name}[{i}]", v, minimum=minimum)
    return tuple(int(v) for v in values)


def check_float_pytree(name: str, tree: Any, *, finite: bool = True):
    """Raise TypeError naming ``name`` unless ``tree`` is a non-empty pytree whose
    leaves are real numbers or arrays (not strings, None or objects); with
    ``finite``, ValueError for a NaN or inf entry (concrete leaves only)."""
    leaves, _ = jax.tree_util.tree_flatten(tree)
    if not leaves:
        raise TypeError(
            f"{name} must be a pytree of real arrays, got {name}={tree!r:.80} "
            "(no array leaves)"
        )
    for leaf in leaves:
        if isinstance(leaf, jax.core.Tracer):
            continue
        if isinstance(leaf, (str, bytes)) or not hasattr(np.asarray(leaf), "dtype"):
            raise TypeError(f"{name} must hold real arrays, got a leaf {leaf!r:.40}")
        a = np.asarray(leaf)
        if not (
            np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
        ):
            raise TypeError(
                f"{name} must hold real arrays, got a leaf of dtype {a.dtype}"
            )
        if finite and not np.all(np.isfinite(a)):
            raise ValueError(
                f"{name} must be finite, got a leaf with NaN or inf entries"
            )


#: Largest amount of work (flop-equivalents) a training run starts before it
#: refuses with an estimate (``check_work``); about 10 minutes at 2e10 flop/s, a
#: laptop's two cores. Set ``LM_SIMS_MAX_WORK`` or pass ``max_work=`` to change it.
MAX_WORK = float(os.environ.get("LM_SIMS_MAX_WORK", 1e13))
#: Fixed cost of one step of a ``lax.scan`` loop on a laptop (about 5 us at 2e10
#: flop/s), in flop-equivalents: the work of a step is at least this.
STEP_OVERHEAD = 1e5


def check_work(what: str, work: float, fix: str, max_work: float | None = None):
    """Raise ValueError before starting more than ``max_work`` flop-equivalents
    (default ``MAX_WORK``), naming the estimate, what it is for, the limit and how
    to shrink it or raise the limit."""
    limit = MAX_WORK if max_work is None else float(max_work)
    if work > limit:
        raise ValueError(
            f"{what} would take about {work:.3g} flop-equivalents (limit "
            f"{limit:.3g}: max_work=..., env LM_SIMS_MAX_WORK); {fix}"
        )


def check_bytes(what: str, nbytes: float, fix: str, max_bytes: float | None = None):
    """``check_allocation`` with an explicit limit: raise ValueError before
    allocating more than ``max_bytes`` (default ``MAX_BYTES``)."""
    limit = MAX_BYTES if max_bytes is None else float(max_bytes)
    _over_budget(what, nbytes, limit, "max_bytes=..., env LM_SIMS_MAX_BYTES", fix)


def check_budget_arg(name: str, value: Any):
    """Validate an explicit ``max_bytes`` / ``max_work`` argument: None or a real
    number > 0 (inf allowed: no limit)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number or None, got {name}={value!r}")
    if not float(value) > 0:
        raise ValueError(f"{name} must be > 0 (or None), got {name}={value}")


# --- issue 12: representable numbers, exact shapes, parameters matching a config ---


def check_representable(name: str, value: Any, dtype: Any = None):
    """Raise ValueError if the real ``value`` (already checked finite) would become
    0 or inf in ``dtype`` (default: the run's float dtype, float32 unless
    ``jax_enable_x64``): a nonzero magnitude must lie in [finfo.tiny, finfo.max],
    e.g. [1.18e-38, 3.4e+38] in float32."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    info = jnp.finfo(dtype)
    v = abs(float(value))
    if v != 0.0 and not (float(info.tiny) <= v <= float(info.max)):
        raise ValueError(
            f"{name}={float(value):g} is not representable in {np.dtype(dtype).name} "
            f"(the run's dtype): a nonzero magnitude must lie in "
            f"[{float(info.tiny):.3g}, {float(info.max):.3g}]"
            + (
                "; set JAX_ENABLE_X64=1 (float64) for a wider range"
                if np.dtype(dtype).itemsize < 8
                else ""
            )
        )


def check_shape(name: str, shape: Any, expected: tuple, what: str = ""):
    """Raise ValueError unless ``shape == expected`` exactly (no broadcasting):
    the message names ``name``, its shape and the expected one (``what`` spells
    the expected dimensions, e.g. ``"(P, d_out)"``)."""
    shape = tuple(int(n) for n in shape)
    expected = tuple(int(n) for n in expected)
    if shape != expected:
        spelled = f" {what} =" if what else ""
        raise ValueError(
            f"{name} must have shape{spelled} {expected}, got {name} of shape {shape}"
        )


def check_layer_shapes(params: Any, dims: tuple, owner: str, fix: str = ""):
    """Raise unless ``params`` is a chain of ``(w, b)`` layers whose shapes are
    exactly those a config of layer sizes ``dims`` (d_in, hidden..., d_out) gives:
    ``w`` (dims[i], dims[i+1]) and ``b`` (dims[i+1],). TypeError for a wrong
    container, ValueError for a wrong number of layers or a wrong shape; shapes
    only (works on tracers). ``owner`` names the config in the messages."""
    if not isinstance(params, (tuple, list)) or not all(
        hasattr(layer, "w") and hasattr(layer, "b") for layer in params
    ):
        raise TypeError(
            f"params must be a tuple of layers with w and b (from {owner} init), "
            f"got {type(params).__name__}"
        )
    if len(params) != len(dims) - 1:
        raise ValueError(
            f"params has {len(params)} layers but the {owner} config needs "
            f"{len(dims) - 1} (depth + 1){fix}"
        )
    for i, layer in enumerate(params):
        for part, got, want in (
            ("w", jnp.shape(layer.w), (dims[i], dims[i + 1])),
            ("b", jnp.shape(layer.b), (dims[i + 1],)),
        ):
            if tuple(got) != tuple(want):
                raise ValueError(
                    f"params[{i}].{part} has shape {tuple(got)} but the {owner} "
                    f"config (layer sizes {tuple(dims)}) needs {tuple(want)}{fix}"
                )


def check_points(name: str, x: Any, d: int | None = None, what: str = "d"):
    """Raise ValueError unless the array ``x`` is a non-empty 2-D batch of points,
    shape (n, d) with n >= 1 and d >= 1 (and ``d`` columns when given; ``what``
    names that dimension, e.g. ``"d_in"``). Shapes only: works on tracers."""
    shape = tuple(jnp.shape(x))
    want = f"(n, {what}={d})" if d is not None else f"(n, {what})"
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D array {want}, got {name}.shape={shape}")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            f"{name} must hold at least one point of dimension >= 1, shape {want}, "
            f"got {name}.shape={shape}"
        )
    if d is not None and shape[1] != d:
        raise ValueError(f"{name} must have shape {want}, got {name}.shape={shape}")


def code_names(code: types.CodeType) -> set[str]:
    """The global names a function's code (and the code nested in it: lambdas,
    comprehensions, inner functions) reads; used to fingerprint a function by what
    it computes (the sweep's compilation cache, the explorers' grid cache)."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= code_names(c)
    return names
