"""Time lm_sims' training loop against a hand-written jit + lax.scan loop.

One MLP run (width 256, one hidden layer, 64 inputs in d = 16, 2,000 steps, float32)
timed six ways, all in one process so the ratios share the machine's load:

- ``hand-written GD``: the floor; ``w <- w - lr * grad`` in a jitted ``lax.scan``
  with no recording, no divergence check and no Optax;
- ``mlp.train GD``: the library path (lm_sims.training.run around Optax, the loss and
  outputs recorded every 20 steps, divergence flagged);
- ``mlp.train momentum`` and ``mlp.train Adam``: the same with other optimizers;
- ``mlp.train SGD, B = 16``: minibatch SGD (a fresh batch from the key every step);
- ``mlp.train GD + sharpness``: GD with the top Hessian eigenvalue (20 Lanczos
  steps) recorded every 20 steps through the ``observe`` hook.

Each time is the median of several runs after a compiling first call.

Run: ``.venv/bin/python benchmarks/bench_training.py [--repeats 7] [--width 256]
[--num-train 64]``
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from lm_sims import mlp, observables

WIDTH, D_IN, P, STEPS, RECORD_EVERY, LR = 256, 16, 64, 2000, 20, 0.05


def bench(fn, repeats: int) -> tuple[float, float]:
    """(first call incl. compile, median wall time of later calls), in s."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    wall = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        wall.append(time.perf_counter() - t0)
    return first, float(np.median(wall))


def hand_written(cfg, x, y, key):
    """Plain full-batch GD of the same network: the floor for the library."""

    @jax.jit
    def run(key):
        params = mlp.init(key, cfg)

        def step(p, _):
            g = jax.grad(mlp.loss)(p, x, y, cfg)
            return jax.tree_util.tree_map(lambda w, d: w - cfg.lr * d, p, g), None

        return jax.lax.scan(step, params, None, length=cfg.steps)[0]

    return lambda: run(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--num-train", type=int, default=P)
    args = parser.parse_args()
    key = jax.random.key(0)
    base = mlp.Config(
        width=args.width,
        depth=1,
        d_in=D_IN,
        num_train=args.num_train,
        steps=STEPS,
        record_every=RECORD_EVERY,
        lr=LR,
        parameterization="sp",
    )
    data = mlp.training_data(key, base)
    x, y = data.x, data.y

    def sharpness_hook(params):
        return observables.sharpness(
            lambda p: mlp.loss(p, x, y, base), params, num_iters=20
        )

    runs = {
        "hand-written GD (floor)": hand_written(base, x, y, key),
        "mlp.train GD": functools.partial(mlp.train, key, base),
        "mlp.train momentum": functools.partial(
            mlp.train, key, base.replace(optimizer="momentum")
        ),
        "mlp.train Adam": functools.partial(
            mlp.train, key, base.replace(optimizer="adam", lr=1e-3)
        ),
        "mlp.train SGD, B = 16": functools.partial(
            mlp.train, key, base.replace(batch_size=16)
        ),
        "mlp.train GD + sharpness": functools.partial(
            mlp.train, key, base, observe=sharpness_hook
        ),
    }
    load = os.getloadavg()[0]
    print(
        f"MLP width {args.width}, P = {args.num_train}, d = {D_IN}, {STEPS} steps, "
        f"record every {RECORD_EVERY}, {jnp.zeros(()).dtype}, {os.cpu_count()} cores, "
        f"load average {load:.1f}"
    )
    floor = None
    for name, fn in runs.items():
        first, wall = bench(fn, args.repeats)
        floor = floor or wall
        print(
            f"{name:26s} median {1e3 * wall:8.1f} ms ({1e6 * wall / STEPS:6.1f} "
            f"us/step, {wall / floor:4.2f}x floor); first call {first:5.2f} s"
        )


if __name__ == "__main__":
    main()
