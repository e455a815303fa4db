"""Where a live move's time goes, for the explorers that miss the latency target.

Not a test: the profiles behind RESULTS.md's "Live explorers" misses (issue 11 asks
for the profile that shows why a target is not met). For each explorer named on the
command line (default: those that missed in the last ``bench_explorers.py`` run), it
builds the explorer, evaluates its default state once (the warm-up: compilations and
caches), then moves one knob to a new value under ``cProfile`` and prints the move's
wall time, the XLA compilations during it, and the functions of ``lm_sims`` with the
largest cumulative time (the panel function itself and the explorer's plumbing left
out), so the table says which simulation or theory call a move waits on.

Usage: python benchmarks/profile_explorers.py [NAME ...] [--top 5]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import platform
import pstats
import time

import jax

from lm_sims.diagnostics import count_compilations

# (label, module, factory, knob, new value): the move profiled, a value the
# warm-up has not visited (so every cache below the explorer misses, as on a
# reader's first move to it)
MOVES = [
    ("3.1 Kaplan Fig. 1", "scaling", "kaplan_explorer", "alpha", 1.3),
    ("3.1 learning curves", "scaling", "learning_curve_explorer", "alpha", 1.3),
    (
        "3.2 edge of stability",
        "edge_of_stability",
        "edge_of_stability_explorer",
        "lr_scale",
        1.1,
    ),
    ("3.3 neural collapse", "neural_collapse", "neural_collapse_explorer", None, None),
    ("3.3 feature ansatz", "neural_collapse", "feature_ansatz_explorer", None, None),
    ("4.1 transfer (Fig. 5)", "transfer", "transfer_explorer", "steps", 310),
    ("4.2 central flow", "central_flow", "central_flow_explorer", "lr_ratio", 1.6),
    ("4.3 SGD risk", "sgd_noise", "sgd_risk_explorer", "lr", 0.3),
    ("4.3 linear scaling rule", "sgd_noise", "linear_scaling_explorer", "alpha", 1.5),
    ("4.3 critical batch", "sgd_noise", "critical_batch_explorer", "alpha", 1.5),
    ("5.2 HEA", "natural_data", "hea_explorer", "bandwidth", 2.5),
]
SKIP = ("viz/explorer.py", "viz/_glue.py", "<", "functools")


def _first_continuous(explorer):
    for k in explorer.knobs:
        if k.continuous:
            return k.name, 0.5 * (k.low + k.high)
    k = explorer.knobs[0]
    return k.name, k.options[-1]


def profile(label, module, name, knob, value, top):
    mod = importlib.import_module(f"lm_sims.viz.{module}")
    factory = getattr(mod, name, None)
    if factory is None:
        print(f"### {label}: {module}.{name} not found\n")
        return
    explorer = factory(jax.random.key(0))
    state = {k.name: k.default for k in explorer.knobs}
    explorer.evaluate(**state)  # warm-up: the default state
    if knob is None:
        knob, value = _first_continuous(explorer)
    state[knob] = value
    prof = cProfile.Profile()
    with count_compilations() as compiles:
        start = time.perf_counter()
        prof.enable()
        explorer.evaluate(**state)
        prof.disable()
        wall = time.perf_counter() - start
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_, _, _, cum, _) in stats.stats.items():
        if "lm_sims" not in path or any(s in path for s in SKIP) or func == "panel":
            continue
        rows.append((cum, f"{path.split('lm_sims/')[-1]}:{line} {func}"))
    rows.sort(reverse=True)
    print(
        f"### {label}: {knob} -> {value}: {wall:.2f} s, {compiles.count} compilations"
    )
    print()
    print("| cumulative s | share of the move | lm_sims function |")
    print("|---|---|---|")
    for cum, where in rows[:top]:
        print(f"| {cum:.2f} | {cum / wall:.0%} | `{where}` |")
    print(flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help="labels (substrings) to profile")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args()
    load = open("/proc/loadavg").read().split()[0]
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, jax "
        f"{jax.__version__} on {jax.devices()[0].platform}; load average {load}"
    )
    print()
    for move in MOVES:
        if args.names and not any(n in move[0] for n in args.names):
            continue
        profile(*move, args.top)


if __name__ == "__main__":
    main()
