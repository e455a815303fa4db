"""Property-based misuse tests: EVERY public function of lm_sims, and every Config
constructor, given one invalid argument (all the others valid), raises a ValueError
or TypeError whose message names that argument (issue 12, section 6).

The functions are enumerated programmatically (each public module's public names
whose ``__module__`` starts with ``lm_sims``); ``tests/property_registry.py`` holds,
for each, a factory of valid baseline arguments (small sizes) and derives the
invalid values from each parameter's kind (PRNG key, count, real, array, sequence,
config, choice, callable, ...): NaN / inf, wrong types, strings, None, wrong ndim,
empty, a dimension that does not match the other arguments, unknown names. Hypothesis
draws the (parameter, invalid value) pairs from that finite list with a fixed,
deterministic budget (``derandomize=True``, no example database), large enough to
cover every pair; pytest parametrizes over the functions so a failure names the
function, and Hypothesis's report names the parameter and the value.

A mutated call must fail at the boundary: no KeyError / IndexError /
AttributeError / JAX internal error, and no silent return.
"""

import inspect
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from property_registry import (
    CONFIG_BASELINES,
    NO_ARGUMENTS,
    REGISTRY,
    config_mutations,
    mutations,
    public_configs,
    public_functions,
)

FUNCTIONS = public_functions()

SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW_CALL_S = 2.0  # a rejected call slower than this validated after computing


def _params(names):
    return [pytest.param(n, id=n) for n in sorted(names)]


# --- coverage -----------------------------------------------------------------------


def test_every_public_function_is_in_the_registry():
    """The registry covers exactly the public functions (no stale entries)."""
    missing = sorted(set(FUNCTIONS) - set(REGISTRY))
    stale = sorted(set(REGISTRY) - set(FUNCTIONS))
    assert not missing, f"public functions without baseline arguments: {missing}"
    assert not stale, f"registry entries that are not public functions: {stale}"
    assert len(FUNCTIONS) > 200  # the enumeration found the package


def test_only_argument_free_functions_are_exempt():
    """The exemption list holds functions with no parameter at all, and every
    other function has at least one mutation."""
    for name in NO_ARGUMENTS:
        assert not inspect.signature(FUNCTIONS[name]).parameters, name


def test_every_config_class_is_covered():
    assert set(public_configs()) == set(CONFIG_BASELINES)


# --- the property -------------------------------------------------------------------


def _check_raises_naming(call, names, what):
    """``call()`` must raise ValueError / TypeError naming one of ``names``."""
    start = time.perf_counter()
    try:
        call()
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(n in message for n in names), (
            f"{what}: {type(err).__name__} does not name {names[0]!r}: {message}"
        )
        elapsed = time.perf_counter() - start
        assert elapsed < 60, f"{what}: rejected only after {elapsed:.0f} s"
        return
    raise AssertionError(f"{what}: no error (a silent return)")


@pytest.mark.parametrize("name", _params(set(REGISTRY) - NO_ARGUMENTS))
def test_invalid_argument_raises_naming_it(name):
    fn = FUNCTIONS[name]
    entry = REGISTRY[name]
    signature = inspect.signature(fn)
    pairs = mutations(name)
    assert pairs, f"{name}: no mutation applies"

    @settings(max_examples=4 * len(pairs), **SETTINGS)
    @given(st.sampled_from(pairs))
    def check(pair):
        param, mutation = pair
        kwargs = entry.factory()
        valid = kwargs.get(param, signature.parameters[param].default)
        kwargs[param] = mutation.make(valid)
        _check_raises_naming(
            lambda: fn(**kwargs),
            (param, *mutation.also_named),
            f"{name}({param}=<{mutation.name}>)",
        )

    check()


@pytest.mark.parametrize("name", sorted(CONFIG_BASELINES))
def test_invalid_config_field_raises_naming_it(name):
    cfg = CONFIG_BASELINES[name]
    pairs = config_mutations(name)

    @settings(max_examples=4 * len(pairs), **SETTINGS)
    @given(st.sampled_from(pairs))
    def check(pair):
        field, mutation = pair
        bad = mutation.make(getattr(cfg, field))
        _check_raises_naming(
            lambda: cfg.replace(**{field: bad}),
            (field,),
            f"{name}({field}=<{mutation.name}>)",
        )

    check()


@pytest.mark.statistical  # ~230 small runs, training loops included: a minute+
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_baseline_arguments_are_valid(name):
    """The baseline call succeeds, so each mutated call differs from a valid one
    in exactly the mutated argument."""
    FUNCTIONS[name](**REGISTRY[name].factory())
