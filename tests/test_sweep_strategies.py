"""The sweep helper's strategies (vmap, chunked lax.map, loop), its "auto" rule, and
its sharding over several devices (virtual CPU devices, in a subprocess)."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import _sweep, deep_linear, mlp, sweep
from lm_sims.diagnostics import count_compilations

KEY = jax.random.key(3)
MLP = mlp.Config(width=16, d_in=4, num_train=12, steps=20, record_every=10, lr=0.05)
LRS = [0.02, 0.05, 0.1]
# float rounding of one run, for comparisons where batching may reorder sums
RTOL = 1e-5 if jnp.zeros(()).dtype == jnp.float32 else 1e-12


def _loop(run, cfg, num_seeds, lrs):
    """The reference: a Python loop of the same jitted run."""
    keys = jax.random.split(KEY, num_seeds)
    jitted = jax.jit(run)
    rows = [
        [jitted(keys[s], cfg.replace(lr=lr)) for s in range(num_seeds)] for lr in lrs
    ]
    return jax.tree_util.tree_map(
        lambda *xs: np.stack(xs).reshape((len(lrs), num_seeds) + xs[0].shape),
        *[r for row in rows for r in row],
    )


@pytest.mark.parametrize("strategy", ["loop", "map"])
def test_loop_and_unbatched_map_equal_a_python_loop_bitwise(strategy):
    ref = _loop(mlp.train, MLP, 2, LRS)
    out = sweep(mlp.train, KEY, MLP, num_seeds=2, strategy=strategy, lr=LRS)
    for a, b in zip(
        jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), b)


@pytest.mark.parametrize("strategy, chunk", [("vmap", None), ("map", 4)])
def test_batched_strategies_match_the_loop_to_rounding(strategy, chunk):
    ref = _loop(mlp.train, MLP, 2, LRS)
    out = sweep(
        mlp.train, KEY, MLP, num_seeds=2, strategy=strategy, chunk_size=chunk, lr=LRS
    )
    assert out.loss.shape == (3, 2, 3)
    # a batched matmul may sum in another order: float rounding, amplified by
    # 20 gradient steps (about 1e2 x the unit roundoff here)
    np.testing.assert_allclose(out.loss, ref.loss, rtol=100 * RTOL, atol=1e-7)
    np.testing.assert_allclose(out.f_train, ref.f_train, rtol=100 * RTOL, atol=1e-6)


@pytest.mark.parametrize("strategy", ["vmap", "map", "loop", "auto"])
def test_every_strategy_compiles_once_per_static_shape(strategy):
    cfg = deep_linear.Config(steps=40, record_every=20)

    def run(lrs):
        return sweep(
            deep_linear.train, KEY, cfg, num_seeds=2, strategy=strategy, lr=lrs
        )

    run([0.01, 0.02])
    with count_compilations() as compiles:
        run([0.03, 0.05])
    assert compiles.count == 0


def test_auto_takes_vmap_for_small_products_and_map_for_large_ones():
    small = deep_linear.Config(steps=40, record_every=20)  # width 16: tiny products
    large = MLP.replace(width=128, d_in=64, num_train=256)  # 2*256*64*128 = 4.2e6
    keys = jax.random.split(jax.random.key(0), 4)
    lrs = (np.full(4, 0.01, np.float32),)
    assert _sweep._auto(deep_linear.train, ("lr",), keys, small, lrs, None) == "vmap"
    assert _sweep._auto(mlp.train, ("lr",), keys, large, lrs, None) == "map"
    assert _sweep.AUTO_VMAP_MAX_DOT_FLOPS < 2 * 256 * 64 * 128


def test_largest_dot_flops_looks_inside_scans():
    def f(w):
        return jax.lax.scan(lambda c, _: (c @ w, None), jnp.ones((3, 5)), None, 4)[0]

    jaxpr = jax.make_jaxpr(f)(jnp.ones((5, 5)))
    assert _sweep._largest_dot_flops(jaxpr.jaxpr) == 2 * 3 * 5 * 5


def test_bad_strategy_chunk_and_devices_are_refused():
    cfg = deep_linear.Config(steps=20, record_every=10)
    with pytest.raises(ValueError, match="strategy must be one of"):
        sweep(deep_linear.train, KEY, cfg, strategy="pmap", lr=[0.1])
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        sweep(deep_linear.train, KEY, cfg, strategy="map", chunk_size=0, lr=[0.1])
    with pytest.raises(TypeError, match="chunk_size must be an integer"):
        sweep(deep_linear.train, KEY, cfg, strategy="map", chunk_size=2.0, lr=[0.1])
    with pytest.raises(ValueError, match="devices must hold at least one"):
        sweep(deep_linear.train, KEY, cfg, devices=[], lr=[0.1])
    with pytest.raises(TypeError, match="devices must be a sequence of jax.Device"):
        sweep(deep_linear.train, KEY, cfg, devices=["cpu"], lr=[0.1])


_SHARDED = r"""
import json, sys
import jax, numpy as np
from lm_sims import mlp, deep_linear, sweep
assert len(jax.devices()) == 4, jax.devices()
key = jax.random.key(5)
cfg = mlp.Config(width=16, d_in=4, num_train=12, steps=20, record_every=10, lr=0.05)
dl = deep_linear.Config(steps=40, record_every=20)
report = {"dtype": str(jax.numpy.zeros(()).dtype)}
for name, run, c in (("mlp", mlp.train, cfg), ("deep_linear", deep_linear.train, dl)):
    for strategy in ("vmap", "map", "loop"):
        # 3 rates x 2 seeds = 6 runs on 4 devices: padded to 8
        one = sweep(run, key, c, num_seeds=2, strategy=strategy,
                    devices=jax.devices()[:1], lr=[0.02, 0.05, 0.1])
        four = sweep(run, key, c, num_seeds=2, strategy=strategy, lr=[0.02, 0.05, 0.1])
        leaves = zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(four))
        diff = max(float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))
                   if np.size(a) else 0.0 for a, b in leaves)
        shapes = jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.shape, four))
        report[f"{name} {strategy}"] = [diff, one.loss.shape == four.loss.shape]
        assert four.loss.shape == (3, 2, one.loss.shape[-1])
    # 7 runs (odd) over 4 devices
    seven = sweep(run, key, c, num_seeds=7, strategy="map")
    single = sweep(run, key, c, num_seeds=7, strategy="map", devices=jax.devices()[:1])
    report[f"{name} 7 runs"] = [float(np.max(np.abs(np.asarray(seven.loss, float)
                                - np.asarray(single.loss, float)))), True]
print(json.dumps(report))
"""


# ~1 min per precision in a fresh 4-device process: the statistical tier (run once
# per CI; the fast tier runs twice, once per precision)
@pytest.mark.statistical
@pytest.mark.parametrize("x64", ["0", "1"])
def test_sharded_sweep_on_four_virtual_devices_equals_one_device(x64):
    env = dict(os.environ)
    # the flag must be set before JAX is imported: a fresh interpreter
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_ENABLE_X64"] = x64
    env["JAX_PLATFORMS"] = "cpu"
    # no shared persistent cache: programs for 4 devices stay out of the suite's
    # folder (and the suite's 1-device entries out of this process)
    for name in [n for n in env if n.startswith("JAX_") and "CACHE" in n]:
        del env[name]
    env["LM_SIMS_JAX_CACHE_DIR"] = "off"
    root = pathlib.Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _SHARDED],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[:2000] + "\n...\n" + done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.pop("dtype") == ("float64" if x64 == "1" else "float32")
    # every device runs the same compiled per-run program as the single device:
    # identical numbers, for every strategy and for a count not divisible by 4
    for name, (diff, same_shape) in report.items():
        assert same_shape, name
        assert diff == 0.0, (name, diff)
