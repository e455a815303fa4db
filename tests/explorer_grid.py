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


def all_factories() -> list:
    """Every ``*_explorer`` factory of every chapter module of ``lm_sims.viz``
    (found, not listed: a new chapter's explorers are checked without editing tests)."""
    import importlib
    import pkgutil

    import lm_sims.viz

    found = []
    for m in sorted(pkgutil.iter_modules(lm_sims.viz.__path__), key=lambda m: m.name):
        if m.name == "explorer" or m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"lm_sims.viz.{m.name}")
        found += [getattr(mod, n) for n in mod.__all__ if n.endswith("_explorer")]
    return found
