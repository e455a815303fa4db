"""Config dataclasses that are JAX pytrees, and the validation helpers behind them.

Fields that set shapes or loop lengths are *static* (pytree aux data: changing them
recompiles); every other field is a pytree leaf, so sweeping it never recompiles.
Validation runs only on concrete Python / NumPy numbers, at the public boundary:
inside ``jit`` or ``vmap`` a config is rebuilt from tracers and is not re-checked.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterable
from typing import Any

import jax
import numpy as np

__all__ = ["config_dataclass", "is_concrete"]


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


def check_choice(name: str, value: Any, options: Iterable[Any]):
    """Raise ValueError unless ``value`` is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, options))}; "
            f"got {name}={value!r}"
        )


def check_key(key: Any):
    """Raise TypeError unless ``key`` is a JAX PRNG key (typed or raw uint32[2])."""
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(
            "key must be a JAX PRNG key, e.g. jax.random.key(0); "
            f"got key={key!r} ({type(key).__name__})"
        )
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return
    if key.dtype != np.uint32 or key.shape[-1:] != (2,):
        raise TypeError(
            "key must be a JAX PRNG key, e.g. jax.random.key(0); "
            f"got an array of dtype {key.dtype} and shape {key.shape}"
        )
