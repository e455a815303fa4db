"""Live-explorer latency and recompilations (not a test: numbers for RESULTS.md).

For every explorer in the book (every ``*_explorer`` factory in ``lm_sims.viz``; one
missing from the list below is reported as a row), in live mode (ipywidgets + Output
figure, no frontend):
1. warm-up: visit every discrete value of every knob once (each new shape compiles);
2. measure: move knobs to random values in their live range, ``--moves`` times (or
   until ``--budget`` seconds of moves have run, at least 3 moves), and time each
   move from the control's new value to the figure holding the new traces. The
   knobs moved: the continuous ones; without one, the discrete knobs whose live
   control offers values the static page lacks (4.1's steps), else the first knob;
3. count XLA compilations during the measured moves on *dynamic* knobs (target 0).

Targets (issue 11): p50 <= 50 ms, p95 <= 150 ms, 0 compilations per move.

Usage: python benchmarks/bench_explorers.py [--moves 40] [--budget 30] [--only NAME]
Prints one markdown table: explorer, knobs moved, moves, p50, p95, compilations per
move, whether the targets are met, the machine and the load average (1-minute, at
the start and the end of that explorer's measurement).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import pkgutil
import platform
import time

import jax
import numpy as np

from lm_sims.diagnostics import count_compilations

# (label, module, factory). Each factory takes a PRNG key and returns an Explorer.
EXPLORERS = [
    ("1.1 mode strengths", "lm_sims.viz.deep_linear", "mode_explorer"),
    ("1.1 random init", "lm_sims.viz.deep_linear", "random_init_explorer"),
    ("1.2 eigenlearning", "lm_sims.viz.eigenlearning", "eigenlearning_explorer"),
    ("1.3 balancedness", "lm_sims.viz.deep_linear", "balancedness_explorer"),
    ("2.1 NNGP", "lm_sims.viz.kernels", "nngp_explorer"),
    ("2.1 signal propagation", "lm_sims.viz.kernels", "signal_propagation_explorer"),
    ("2.2 NTK regime", "lm_sims.viz.kernels", "ntk_explorer"),
    ("2.3 lazy vs rich", "lm_sims.viz.lazy_rich", "lazy_rich_explorer"),
    (
        "2.3 relative change vs alpha",
        "lm_sims.viz.lazy_rich",
        "relative_change_explorer",
    ),
    ("2.4 muP vs NTK", "lm_sims.viz.lazy_rich", "feature_learning_explorer"),
    ("3.1 Kaplan Fig. 1", "lm_sims.viz.scaling", "kaplan_explorer"),
    ("3.1 learning curves", "lm_sims.viz.scaling", "learning_curve_explorer"),
    ("3.1 quanta + digits", "lm_sims.viz.scaling", "quanta_digits_explorer"),
    ("3.2 quadratic", "lm_sims.viz.edge_of_stability", "quadratic_explorer"),
    (
        "3.2 edge of stability",
        "lm_sims.viz.edge_of_stability",
        "edge_of_stability_explorer",
    ),
    ("3.3 neural collapse", "lm_sims.viz.neural_collapse", "neural_collapse_explorer"),
    ("3.3 feature ansatz", "lm_sims.viz.neural_collapse", "feature_ansatz_explorer"),
    ("4.1 transfer (Fig. 5)", "lm_sims.viz.transfer", "transfer_explorer"),
    ("4.1 coordinate check", "lm_sims.viz.transfer", "coordinate_check_explorer"),
    ("4.2 central flow toy", "lm_sims.viz.central_flow", "toy_central_flow_explorer"),
    ("4.2 central flow", "lm_sims.viz.central_flow", "central_flow_explorer"),
    ("4.3 SGD risk", "lm_sims.viz.sgd_noise", "sgd_risk_explorer"),
    ("4.3 linear scaling rule", "lm_sims.viz.sgd_noise", "linear_scaling_explorer"),
    ("4.3 critical batch", "lm_sims.viz.sgd_noise", "critical_batch_explorer"),
    ("5.1 random features", "lm_sims.viz.representations", "random_features_explorer"),
    ("5.1 width alignment", "lm_sims.viz.representations", "width_alignment_explorer"),
    ("5.1 Platonic (Fig. 6b)", "lm_sims.viz.representations", "platonic_explorer"),
    ("5.1 layer alignment", "lm_sims.viz.representations", "layer_alignment_explorer"),
    ("5.2 natural spectra", "lm_sims.viz.natural_data", "natural_spectra_explorer"),
    ("5.2 HEA", "lm_sims.viz.natural_data", "hea_explorer"),
    ("5.3 learning order", "lm_sims.viz.learning_order", "learning_order_explorer"),
    ("5.3 learned times", "lm_sims.viz.learning_order", "learned_times_explorer"),
]


def _random_value(knob, rng):
    if knob.continuous:
        if knob.log:
            lo, hi = math.log10(knob.low), math.log10(knob.high)
            return float(10 ** rng.uniform(lo, hi))
        return float(rng.uniform(knob.low, knob.high))
    return knob.options[rng.integers(len(knob.options))]


def _load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def _all_factories() -> set[tuple[str, str]]:
    """(module, name) of every ``*_explorer`` function in ``lm_sims.viz``."""
    import lm_sims.viz

    found = set()
    for info in pkgutil.iter_modules(lm_sims.viz.__path__):
        if info.name.startswith("_") or info.name == "explorer":
            continue
        module = importlib.import_module(f"lm_sims.viz.{info.name}")
        for name, obj in vars(module).items():
            if (
                name.endswith("_explorer")
                and inspect.isfunction(obj)
                and obj.__module__ == module.__name__
            ):
                found.add((module.__name__, name))
    return found


def bench(explorer, moves: int, rng, budget: float = math.inf) -> dict:
    explorer.widget()
    controls = explorer._controls
    for k in explorer.knobs:  # warm-up: every discrete value once, one continuous move
        for v in k.options:
            controls[k.name].value = v
        controls[k.name].value = k.default
    dynamic = [k for k in explorer.knobs if k.continuous]
    # without a continuous knob: the discrete knobs whose live control offers values
    # the static page does not precompute (e.g. 4.1's steps), else the first knob
    moved = dynamic or [k for k in explorer.knobs if len(k.options) > len(k.values)]
    moved = moved or explorer.knobs[:1]
    latencies = []
    load_start = _load()
    with count_compilations() as compiles:
        for _ in range(moves):
            if len(latencies) >= 3 and sum(latencies) > budget:
                break
            k = moved[rng.integers(len(moved))]
            value = _random_value(k, rng)
            if controls[k.name].value == value:
                continue
            start = time.perf_counter()
            controls[k.name].value = value  # observe callback runs synchronously
            latencies.append(time.perf_counter() - start)
    lat = np.array(latencies) * 1e3
    return {
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "moves": len(lat),
        "compiles": compiles.count,
        "dynamic": ", ".join(k.name for k in dynamic)
        or "(none; moved: " + ", ".join(k.name for k in moved) + ")",
        "load": f"{load_start}-{_load()}",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=40)
    ap.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="stop an explorer's moves after this many seconds (at least 3 moves)",
    )
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    key = jax.random.key(0)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {jax.devices()[0].platform}"
    )
    print(
        f"Machine: {platform.platform()}, {platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} CPUs, jax {jax.__version__} on "
        f"{jax.devices()[0].platform}; load average {_load()} at the start"
    )
    print()
    print(
        "| explorer | dynamic knobs moved | moves | p50 (ms) | p95 (ms) "
        "| compilations per move | targets met | machine | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    listed = {(module, name) for _, module, name in EXPLORERS}
    rows = list(EXPLORERS) + [
        (f"(unlisted) {name}", module, name)
        for module, name in sorted(_all_factories() - listed)
    ]
    for label, module, name in rows:
        if args.only and args.only not in label:
            continue
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as err:
            print(f"| {label} | not available ({err}) | | | | | | | |")
            continue
        r = bench(factory(key), args.moves, rng, args.budget)
        per_move = r["compiles"] / max(r["moves"], 1)
        met = r["p50"] <= 50 and r["p95"] <= 150 and r["compiles"] == 0
        print(
            f"| {label} | {r['dynamic']} | {r['moves']} | {r['p50']:.1f} "
            f"| {r['p95']:.1f} | {per_move:.2g} | {'yes' if met else 'no'} "
            f"| {machine} | {r['load']} |",
            flush=True,
        )
    print()
    print(f"Load average at the end: {_load()}")


if __name__ == "__main__":
    main()
