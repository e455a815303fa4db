"""The chapters' simulations on the default JAX backend (a GPU when present) and on
the CPU, side by side (not a test: a check to run on an accelerator machine).

Each case is one representative run of a chapter, through lm_sims' public API with
the code unchanged (the same calls the explorers and chapters make). Every case runs
once on ``jax.devices()[0]`` and once on ``jax.devices("cpu")[0]``, each inside
``jax.default_device(...)`` with its key created there; a first call compiles (not
timed), then the case repeats until ``--seconds`` have passed (at least 2 runs,
at most 10) and the median wall time counts. The table gives runs per second on
each device and the ratio (default backend / CPU: above 1 means the accelerator is
faster). With no accelerator it says so and runs the CPU side only, with
``--quick`` settings.

Usage: python benchmarks/gpu.py [--seconds 1.5] [--only TEXT] [--quick]
Runs in about a minute on a GPU machine (compilation included); with no GPU,
about as long on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import numpy as np

from lm_sims import (
    deep_linear,
    edge_of_stability,
    eigenlearning,
    kernels,
    lazy_rich,
    mlp,
    neural_collapse,
    sgd_noise,
)


def _cases(quick: bool):
    """(label, run(key) -> outputs). ``quick`` shortens the longest runs."""
    steps = 500 if quick else 2000
    ntk_inputs = 1024 if quick else 4096

    def ntk_gram(key):
        x = np.sqrt(64) * np.asarray(jax.random.normal(key, (ntk_inputs, 64)))
        x /= np.linalg.norm(x, axis=1, keepdims=True) / np.sqrt(64)
        return kernels.ntk(x, None, kernels.Config(depth=3))

    return [
        (
            "1.1 deep linear network (deep_linear.train, default Config)",
            lambda key: deep_linear.train(key, deep_linear.Config()),
        ),
        (
            "1.2 kernel ridge regression, 16 trials, n=128, 512 modes, float64 "
            "(eigenlearning.trials)",
            lambda key: eigenlearning.trials(
                key, eigenlearning.Config(n=128, num_modes=512), 16
            ),
        ),
        (
            f"2.1 analytic NTK Gram, {ntk_inputs} inputs, d=64, depth 3, float64 "
            "(kernels.ntk)",
            ntk_gram,
        ),
        (
            "2.3 lazy vs rich (lazy_rich.train, default Config)",
            lambda key: lazy_rich.train(key, lazy_rich.Config()),
        ),
        (
            f"2.x MLP full-batch GD, width 512, d=64, n=512, {steps} steps (mlp.train)",
            lambda key: mlp.train(
                key,
                mlp.Config(
                    width=512, d_in=64, num_train=512, steps=steps, record_every=100
                ),
            ),
        ),
        (
            "3.2 edge of stability, with Lanczos sharpness "
            "(edge_of_stability.train, default Config)",
            lambda key: edge_of_stability.train(
                key, edge_of_stability.Config(steps=steps)
            ),
        ),
        (
            "3.3 neural collapse (neural_collapse.train, default Config)",
            lambda key: neural_collapse.train(key, neural_collapse.Config()),
        ),
        (
            "4.3 SGD noise (sgd_noise.train, default Config)",
            lambda key: sgd_noise.train(key, sgd_noise.Config()),
        ),
    ]


def _time(run, device, seconds: float) -> tuple[float, float]:
    """(compile + first run, median of later runs) in seconds on ``device``."""
    with jax.default_device(device):
        key = jax.random.key(0)
        start = time.perf_counter()
        jax.block_until_ready(run(key))
        first = time.perf_counter() - start
        times = []
        while len(times) < 2 or (sum(times) < seconds and len(times) < 10):
            start = time.perf_counter()
            jax.block_until_ready(run(key))
            times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--only", default=None)
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    args = ap.parse_args()
    default = jax.devices()[0]
    cpu = jax.devices("cpu")[0]
    accelerator = default.platform != "cpu"
    quick = args.quick or not accelerator
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, jax "
        f"{jax.__version__}; default backend: {default.platform} "
        f"({default.device_kind}); load average {_load()} at the start"
    )
    if not accelerator:
        print(
            "No GPU or other accelerator: JAX's default backend is the CPU. Running "
            "the CPU side only, with --quick settings."
        )
    print()
    if accelerator:
        print(
            f"| case | {default.platform} runs/s | cpu runs/s | {default.platform} / "
            f"cpu | first call {default.platform} / cpu (s) |"
        )
        print("|---|---|---|---|---|")
    else:
        print("| case | cpu runs/s | cpu first call (s) |")
        print("|---|---|---|")
    for label, run in _cases(quick):
        if args.only and args.only not in label:
            continue
        cpu_first, cpu_t = _time(run, cpu, args.seconds)
        if accelerator:
            acc_first, acc_t = _time(run, default, args.seconds)
            print(
                f"| {label} | {1 / acc_t:.3g} | {1 / cpu_t:.3g} | {cpu_t / acc_t:.2f} "
                f"| {acc_first:.1f} / {cpu_first:.1f} |",
                flush=True,
            )
        else:
            print(f"| {label} | {1 / cpu_t:.3g} | {cpu_first:.1f} |", flush=True)
    print()
    print(f"Load average at the end: {_load()}")


if __name__ == "__main__":
    main()
