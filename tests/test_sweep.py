"""The sweep helper: one compilation, shared seeds, clear errors."""

import jax
import numpy as np
import pytest

from lm_sims import deep_linear, sweep

KEY = jax.random.key(7)
CFG = deep_linear.Config(steps=200, record_every=20)


def test_sweep_compiles_once_across_dynamic_values():
    traces = []

    def run(key, cfg):
        traces.append(1)  # runs only while JAX traces (compiles) the function
        return deep_linear.train(key, cfg)

    a = sweep(run, KEY, CFG, num_seeds=3, lr=[0.01, 0.02], init_scale=[1e-3, 1e-2])
    b = sweep(run, KEY, CFG, num_seeds=3, lr=[0.05, 0.03], init_scale=[1e-4, 0.1])
    assert len(traces) == 1
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
