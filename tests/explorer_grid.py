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


def control_ends(knob) -> list:
    """The values a knob's live control reports at its two ends, as the widget
    computes them: a log slider's ``10**exponent`` (``10**log10(0.05)`` is
    0.049999999999999996), a linear slider's ``low + 200 * step`` as well as its
    exact ends, a discrete control's first and last value."""
    import math

    if not knob.continuous:
        return [knob.options[0], knob.options[-1]]
    if knob.log:
        lo, hi = math.log10(knob.low), math.log10(knob.high)
        step = (hi - lo) / 200
        return [10**lo, 10 ** (lo + 200 * step), 10**hi]
    step = (knob.high - knob.low) / 200
    return [knob.low, knob.low + 200 * step, knob.high]


def end_states(ex) -> list[dict]:
    """Every state with one knob at an end of its live range (the value its control
    reports, moved into range as the live explorer does) and the others at their
    defaults; each state once."""
    default = {k.name: k.default for k in ex.knobs}
    states = []
    for k in ex.knobs:
        for raw in control_ends(k):
            state = {**default, k.name: k.clamp(raw)}
            if state not in states:
                states.append(state)
    return states
