"""Time ``lm_sims.sweep`` against a Python loop of the same jitted runs.

Three model families of the book, 32 learning rates each (one seed), float32:

- deep linear network (``deep_linear.Config()``: width 16, two weight
  matrices, 2,000 steps);
- MLP of width 128 and of width 512 (one hidden ReLU layer, d = 64, P = 256,
  200 full-batch GD steps, records every 20).

For each: the loop (``jax.jit(train)`` called once per rate, the reference), the
sweep with ``strategy="auto"`` (and the strategy it chose), and each explicit
strategy (``vmap``, ``map`` one run at a time, ``map`` in chunks of 4, ``loop``);
the XLA compilations of the sweep's first call and of a second call with other
rates (``lm_sims.diagnostics.count_compilations``); the loop's throughput in
GFLOP/s (6 x parameters x P per step) against this machine's float32 matmul peak
(a 2,048^3 product, measured in the same run). Times are the best of ``--repeats``
warm calls. Prints one table with the machine and the load average.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import platform

import jax
import numpy as np

# the same timer and matmul peak as the training benchmark (this folder is on
# sys.path when a script in it runs)
from bench_training import best, matmul_peak

from lm_sims import _sweep, deep_linear, mlp, sweep
from lm_sims.diagnostics import count_compilations

NUM_LRS = 32


def families():
    lrs_dl = np.geomspace(1e-3, 2e-2, NUM_LRS)
    yield "deep linear, width 16", deep_linear.train, deep_linear.Config(), lrs_dl, 0
    for width in (128, 512):
        cfg = mlp.Config(
            width=width,
            d_in=64,
            num_train=256,
            steps=200,
            record_every=20,
            parameterization="sp",
            lr=0.01,
        )
        params = 64 * width + 2 * width + 1
        flops = 6.0 * params * 256 * cfg.steps
        yield (
            f"MLP, width {width}",
            mlp.train,
            cfg,
            np.geomspace(1e-3, 3e-2, NUM_LRS),
            flops,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    key = jax.random.key(0)
    load0 = open("/proc/loadavg").read().split()[:3]
    peak = matmul_peak(args.repeats)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"jax {jax.__version__} ({jax.devices()[0].platform}, {len(jax.devices())} "
        f"device(s)), float32; matmul peak {peak:.1f} GFLOP/s; load average "
        f"{' '.join(load0)} at start"
    )
    header = (
        "| model | loop (s) | loop GFLOP/s (% peak) | sweep auto (s) | chose | "
        "speedup | vmap | map | map, chunks of 4 | loop strategy | "
        "compiles: first / second call |"
    )
    print(header)
    print("|---" * 11 + "|")
    for name, run, cfg, lrs, flops in families():
        jitted = jax.jit(run)

        def loop(lrs=lrs, cfg=cfg, jitted=jitted):
            return [jitted(key, cfg.replace(lr=float(a))) for a in lrs]

        t_loop = best(loop, args.repeats)
        _sweep._compiled.clear()
        _sweep._decisions.clear()
        with count_compilations() as counter:
            jax.block_until_ready(sweep(run, key, cfg, lr=lrs))
        first = counter.count  # read now: the counter keeps counting after
        with count_compilations() as counter:
            jax.block_until_ready(sweep(run, key, cfg, lr=lrs * 1.1))
        second = counter.count
        chose = next(v[0] for v in _sweep._decisions.values())
        t_auto = best(
            lambda run=run, cfg=cfg, lrs=lrs: sweep(run, key, cfg, lr=lrs),
            args.repeats,
        )
        times = {}
        for label, strategy, chunk in (
            ("vmap", "vmap", None),
            ("map", "map", None),
            ("map4", "map", 4),
            ("loop", "loop", None),
        ):
            times[label] = best(
                lambda s=strategy, c=chunk, run=run, cfg=cfg, lrs=lrs: sweep(
                    run, key, cfg, strategy=s, chunk_size=c, lr=lrs
                ),
                args.repeats,
            )
        gflops = NUM_LRS * flops / t_loop / 1e9
        rate = f"{gflops:.1f} ({100 * gflops / peak:.0f}%)" if flops else "-"
        cells = " | ".join(
            f"{times[k]:.2f} ({t_loop / times[k]:.2f}x)"
            for k in ("vmap", "map", "map4", "loop")
        )
        print(
            f"| {name} | {t_loop:.2f} | {rate} | {t_auto:.2f} | {chose} | "
            f"{t_loop / t_auto:.2f}x | {cells} | {first} / {second} |",
            flush=True,
        )
    load1 = open("/proc/loadavg").read().split()[:3]
    print(f"load average {' '.join(load1)} at end")


if __name__ == "__main__":
    main()
