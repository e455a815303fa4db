"""First trained run after a kernel restart, with and without a warm persistent
compilation cache (issue 11: under 1.5 s on a warm cache).

Each measurement is a fresh Python process (a kernel restart): it imports lm_sims,
calls ``lm_sims.compilation_cache.enable(folder)`` as every chapter's setup cell does,
and times the first call of a chapter's simulation, compilation (or loading from the
cache) included. "cold" runs on an empty folder, "warm" on the folder the cold run
filled; "no cache" has the cache off. Median of ``--repeats`` processes each.

    .venv/bin/python benchmarks/bench_first_run.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

# name -> code run after the imports; the timed part is the last statement
CASES = {
    "deep_linear.train (1.1)": (
        "from lm_sims import deep_linear\n"
        "cfg = deep_linear.Config(n_layers=2, lr=0.01, steps=3000)\n"
        "run = lambda: deep_linear.train(jax.random.key(0), cfg).loss"
    ),
    "mlp.train, width 256 (2.3, 3.2)": (
        "from lm_sims import mlp\n"
        "cfg = mlp.Config(width=256, d_in=8, num_train=64, steps=1000,"
        " record_every=50, lr=0.05)\n"
        "run = lambda: mlp.train(jax.random.key(0), cfg).loss"
    ),
    "eigenlearning.train (1.2)": (
        "from lm_sims import eigenlearning\n"
        "cfg = eigenlearning.Config()\n"
        "run = lambda: eigenlearning.train(jax.random.key(0), cfg).test_mse"
    ),
}

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import jax
from lm_sims import compilation_cache
t_import = time.perf_counter() - t0
compilation_cache.enable(sys.argv[1])
{setup}
t1 = time.perf_counter()
jax.block_until_ready(run())
first = time.perf_counter() - t1
t2 = time.perf_counter()
jax.block_until_ready(run())
second = time.perf_counter() - t2
print(json.dumps(dict(import_s=t_import, first_s=first, second_s=second)))
"""


def _child(case: str, folder: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.pop("LM_SIMS_JAX_CACHE_DIR", None)
    code = _CHILD.replace("{setup}", CASES[case])
    out = subprocess.run(
        [sys.executable, "-c", code, folder],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print()
    print(
        "| first call of | no cache (s) | cold cache (s) | warm cache (s) "
        "| second call (s) |"
    )
    print("|---|---|---|---|---|")
    for case in CASES:
        none, cold, warm, second = [], [], [], []
        for _ in range(args.repeats):
            none.append(_child(case, "off")["first_s"])
            with tempfile.TemporaryDirectory() as folder:
                cold.append(_child(case, folder)["first_s"])
                w = _child(case, folder)
                warm.append(w["first_s"])
                second.append(w["second_s"])
        med = statistics.median
        print(
            f"| {case} | {med(none):.2f} | {med(cold):.2f} | {med(warm):.2f} "
            f"| {med(second):.3f} |"
        )
    print()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
