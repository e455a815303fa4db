"""Shared by the explorer tests: each explorer built once, its static grid evaluated
once per test session (the evaluations compile, so sharing them saves minutes)."""

import functools

import jax

KEY = jax.random.key(0)


@functools.cache
def explorer(factory):
    """``factory(KEY)``, built once per session."""
    return factory(KEY)


@functools.cache
def grid(factory):
    """``[(knob values, Panel)]`` for every point of the explorer's static grid."""
    ex = explorer(factory)
    return [(values, ex.evaluate(**values)) for values in ex.grid()]
