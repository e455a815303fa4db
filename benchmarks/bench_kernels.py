"""Time the analytic NTK Gram matrix: 4096 inputs in d = 64, 3 hidden ReLU layers.

Target: <= 1 s in float64 on 2 CPU cores. Prints the median wall time of several runs
after a warm-up (compilation) run, and the same for erf and for the NNGP alone.

Run: ``.venv/bin/python benchmarks/bench_kernels.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lm_sims import kernels


def bench(fn, repeats: int) -> tuple[float, float, float]:
    """(first run incl. compile, median wall, median CPU time of later runs), in s.

    CPU time (all threads of this process) is shown because wall time on a shared
    machine includes waiting for other processes.
    """
    t0 = time.perf_counter()
    np.asarray(fn())
    first = time.perf_counter() - t0
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        np.asarray(fn())
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return first, float(np.median(wall)), float(np.median(cpu))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--d", type=int, default=64)
    args = parser.parse_args()
    x = np.random.default_rng(0).normal(size=(args.n, args.d))
    print(f"{args.n} inputs, d={args.d}, float64, {os.cpu_count()} cores")
    for name, activation, fn in [
        ("ntk ", "relu", kernels.ntk),
        ("ntk ", "erf", kernels.ntk),
        ("nngp", "relu", kernels.nngp),
    ]:
        cfg = kernels.Config(depth=3, activation=activation, sigma_w2=2.0)
        first, wall, cpu = bench(lambda f=fn, c=cfg: f(x, x, c), args.repeats)
        print(
            f"{name} {activation:4s} depth 3: median {wall:.3f} s wall, "
            f"{cpu:.3f} s CPU (first call incl. compile {first:.2f} s)"
        )


if __name__ == "__main__":
    main()
