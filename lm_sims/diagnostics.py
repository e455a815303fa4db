"""Diagnostics for users and for the benchmarks: how many XLA compilations ran."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax

__all__ = ["CompileCounter", "count_compilations"]

_EVENT = "/jax/core/compile/backend_compile_duration"
_total = 0
_registered = False


def _listener(event: str, duration: float, **_kwargs) -> None:
    global _total
    if event == _EVENT:
        _total += 1


class CompileCounter:
    """Number of XLA backend compilations since the counter was created (``.count``)."""

    def __init__(self):
        global _registered
        if not _registered:
            jax.monitoring.register_event_duration_secs_listener(_listener)
            _registered = True
        self._start = _total

    @property
    def count(self) -> int:
        return _total - self._start


@contextlib.contextmanager
def count_compilations() -> Iterator[CompileCounter]:
    """Count XLA compilations inside a ``with`` block.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from lm_sims.diagnostics import count_compilations
        >>> f = jax.jit(lambda x: x * 2)
        >>> _ = f(jnp.ones(3))
        >>> with count_compilations() as c:
        ...     _ = f(jnp.zeros(3))
        >>> c.count
        0
    """
    yield CompileCounter()
