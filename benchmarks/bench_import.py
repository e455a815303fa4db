"""Import time of lm_sims on top of JAX (not a test: numbers for RESULTS.md).

Target (issue 11): ``import lm_sims`` adds under 0.2 s to ``import jax``, and does no
work at import (no JAX array, no compilation, no backend started).

Each measurement is a fresh interpreter (``python -c``) that times its own import
with ``time.perf_counter`` around the import statement(s), so interpreter start-up is
not counted; the two cases alternate, ``--repeats`` times each, and the table shows the
median and the range. A last fresh process checks that importing lm_sims created no
JAX array, compiled nothing, started no backend and imported no plotting library, and
lists the slowest lm_sims modules from ``python -X importtime``.

Usage: python benchmarks/bench_import.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

_TIMER = """
import time
t0 = time.perf_counter()
import jax
t1 = time.perf_counter()
{extra}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

_WORK_CHECK = """
import json, sys
import jax, jax.monitoring as m
events = []
m.register_event_duration_secs_listener(lambda e, d, **k: events.append(e))
m.register_event_listener(lambda e, **k: events.append(e))
from jax._src import xla_bridge
import lm_sims
backends = sorted(xla_bridge._backends)  # before live_arrays(), which starts one
print(json.dumps({
    "jax_events": events,
    "live_arrays": len(jax.live_arrays()),
    "backends_started": backends,
    "heavy_modules": sorted(
        m for m in ("scipy", "sklearn", "optax", "plotly", "ipywidgets",
                    "matplotlib", "IPython")
        if m in sys.modules),
}))
"""


def _run(code: str) -> str:
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout.strip().splitlines()[-1]


def _slowest_modules(top: int = 8) -> list[tuple[str, float]]:
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import jax, lm_sims"],
        capture_output=True,
        text=True,
        env=env,
    )
    rows = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        name = parts[2].strip()
        if name.startswith("lm_sims") or name in ("optax", "filelock"):
            try:
                rows.append((name, int(parts[1]) / 1e6))  # cumulative, s
            except ValueError:
                continue
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with open("/proc/loadavg") as f:
        load_start = " ".join(f.read().split()[:3])
    jax_only, jax_lm = [], []
    for _ in range(args.repeats):
        jax_only.append(float(_run(_TIMER.format(extra="")).split()[0]))
        a, b = map(float, _run(_TIMER.format(extra="import lm_sims")).split())
        jax_lm.append((a, b))
    work = json.loads(_run(_WORK_CHECK))
    with open("/proc/loadavg") as f:
        load_end = " ".join(f.read().split()[:3])
    import jax

    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, jax {jax.__version__}; load average "
        f"{load_start} at the start, {load_end} at the end"
    )
    print()
    print("| fresh process | median (s) | min-max (s) |")
    print("|---|---|---|")
    total = [a + b for a, b in jax_lm]
    added = [b for _, b in jax_lm]
    for label, xs in (
        ("import jax", jax_only),
        ("import jax; import lm_sims (both)", total),
        ("import lm_sims after jax (added)", added),
    ):
        print(
            f"| {label} | {statistics.median(xs):.3f} | {min(xs):.3f}-{max(xs):.3f} |"
        )
    print()
    ok = statistics.median(added) < 0.2
    print(f"Target: lm_sims adds < 0.2 s: {'met' if ok else 'MISSED'}")
    print(
        f"Work at import: {len(work['jax_events'])} JAX events (compilations, "
        f"traces), {work['live_arrays']} live arrays, backends started: "
        f"{work['backends_started'] or 'none'}; heavy modules imported: "
        f"{work['heavy_modules'] or 'none'}"
    )
    print()
    print("Slowest modules (python -X importtime, cumulative, one run):")
    for name, secs in _slowest_modules():
        print(f"- {name}: {secs * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
