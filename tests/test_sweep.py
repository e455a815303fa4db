"""The sweep helper: one compilation, shared seeds, clear errors."""

import jax
import numpy as np
import pytest

from lm_sims import deep_linear, sweep
from lm_sims.diagnostics import count_compilations

KEY = jax.random.key(7)
CFG = deep_linear.Config(steps=200, record_every=20)


def test_sweep_compiles_once_across_dynamic_values():
    traces = []

    def run(key, cfg):
        traces.append(1)  # runs only while JAX traces (compiles) the function
        return deep_linear.train(key, cfg)

    a = sweep(run, KEY, CFG, num_seeds=3, lr=[0.01, 0.02], init_scale=[1e-3, 1e-2])
    first = len(traces)  # strategy="auto" traces one run once to choose, then vmaps
    assert 1 <= first <= 2
    with count_compilations() as compiles:
        b = sweep(run, KEY, CFG, num_seeds=3, lr=[0.05, 0.03], init_scale=[1e-4, 0.1])
    assert len(traces) == first and compiles.count == 0  # no retrace, no compile
    assert a.mode_strengths.shape == (2, 2, 3, 11, 4)
    assert not np.allclose(a.mode_strengths, b.mode_strengths)


def test_sweep_matches_individual_runs_with_shared_seeds():
    out = sweep(deep_linear.train, KEY, CFG, num_seeds=2, lr=[0.01, 0.03])
    keys = jax.random.split(KEY, 2)
    for i, lr in enumerate((0.01, 0.03)):
        for s in range(2):
            single = deep_linear.train(keys[s], CFG.replace(lr=lr))
            np.testing.assert_allclose(
                out.mode_strengths[i, s], single.mode_strengths, rtol=1e-4, atol=1e-6
            )


def test_sweep_over_seeds_only():
    cfg = CFG.replace(init="random")  # aligned init is seed-independent by design
    out = sweep(deep_linear.train, KEY, cfg, num_seeds=3)
    assert out.loss.shape == (3, 11)
    assert not np.allclose(out.loss[0], out.loss[1])


def test_sweep_rejects_static_fields_unknown_fields_and_bad_values():
    with pytest.raises(ValueError, match="cannot sweep 'width': it is a static field"):
        sweep(deep_linear.train, KEY, CFG, width=[8, 16])
    with pytest.raises(ValueError, match="'momentum' is not a field of Config"):
        sweep(deep_linear.train, KEY, CFG, momentum=[0.9])
    with pytest.raises(ValueError, match="lr must be > 0, got lr=-0.1"):
        sweep(deep_linear.train, KEY, CFG, lr=[0.1, -0.1])
    with pytest.raises(ValueError, match="grid for 'lr' is empty"):
        sweep(deep_linear.train, KEY, CFG, lr=[])
    with pytest.raises(ValueError, match="num_seeds must be >= 1"):
        sweep(deep_linear.train, KEY, CFG, num_seeds=0, lr=[0.1])
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        sweep(deep_linear.train, 0, CFG, lr=[0.1])


def test_sweep_rejects_a_grid_that_is_not_1d():
    # a 2-D grid used to be flattened silently into 4 points
    with pytest.raises(ValueError, match=r"grid for 'lr' must be a 1-D .* \(2, 2\)"):
        sweep(deep_linear.train, KEY, CFG, lr=[[0.01, 0.02], [0.03, 0.04]])
    with pytest.raises(ValueError, match=r"grid for 'lr' must be a 1-D .* shape \(\)"):
        sweep(deep_linear.train, KEY, CFG, lr=0.01)
    with pytest.raises(TypeError, match="grid for 'lr' must be real numbers"):
        sweep(deep_linear.train, KEY, CFG, lr=["fast"])
    with pytest.raises(TypeError, match="run must be a function"):
        sweep("train", KEY, CFG, lr=[0.1])


def test_sweep_has_one_import_path_and_no_docstring_cites_another():
    import importlib
    import pathlib

    import lm_sims

    assert callable(lm_sims.sweep) and "sweep" in lm_sims.__all__
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("lm_sims.sweep")  # the module is private: _sweep
    root = pathlib.Path(lm_sims.__file__).parents[1]
    cited = []
    for path in [*root.glob("lm_sims/**/*.py"), *root.glob("book/*.md")]:
        text = path.read_text()
        for bad in ("lm_sims.sweep.sweep", "from lm_sims.sweep import", "sweep::"):
            if bad in text:
                cited.append((path.name, bad))
    assert not cited, cited


def _tiny_run(key, cfg):
    """A cheap run for cache tests: one number per seed and grid point."""
    return cfg.lr * jax.random.normal(key)


def test_equal_run_functions_compile_once():
    import functools

    traces = []

    def make(scale):  # a new function object at every call, equal code and values
        return lambda k, c: (traces.append(1), scale * _tiny_run(k, c))[1]

    a = sweep(make(2.0), KEY, CFG, num_seeds=2, lr=[0.1, 0.2])
    b = sweep(make(2.0), KEY, CFG, num_seeds=2, lr=[0.1, 0.2])
    assert len(traces) == 1  # traced (compiled) once for two equal lambdas
    np.testing.assert_array_equal(a, b)
    c = sweep(make(3.0), KEY, CFG, num_seeds=2, lr=[0.1, 0.2])
    assert len(traces) == 2  # another closure value is another function
    np.testing.assert_allclose(c, 1.5 * np.asarray(a), rtol=1e-6)

    def scaled(k, c, scale):
        traces.append(1)
        return scale * _tiny_run(k, c)

    for _ in range(2):
        sweep(functools.partial(scaled, scale=2.0), KEY, CFG, lr=[0.1])
    assert len(traces) == 3  # equal partials share one compilation
    # the case: a lambda around a module's train, written out at each call
    sweep(lambda k, c: deep_linear.train(k, c), KEY, CFG, lr=[0.1])
    with count_compilations() as compiles:
        sweep(lambda k, c: deep_linear.train(k, c), KEY, CFG, lr=[0.3])
    assert compiles.count == 0


_SCALE = 1.0


def _global_run(key, cfg):
    return _SCALE * _tiny_run(key, cfg)


def test_a_rebound_global_is_not_served_from_a_stale_compilation(monkeypatch):
    first = np.asarray(sweep(lambda k, c: _global_run(k, c), KEY, CFG, lr=[0.1]))
    monkeypatch.setitem(globals(), "_SCALE", 3.0)
    second = np.asarray(sweep(lambda k, c: _global_run(k, c), KEY, CFG, lr=[0.1]))
    np.testing.assert_allclose(second, 3.0 * first, rtol=1e-6)


def test_the_compiled_sweep_cache_is_bounded(monkeypatch):
    from lm_sims import _sweep

    monkeypatch.setattr(_sweep, "CACHE_SIZE", 3)
    for i in range(6):  # six distinct functions
        sweep(lambda k, c, i=i: i * _tiny_run(k, c), KEY, CFG, lr=[0.1])
        assert len(_sweep._compiled) <= 3
