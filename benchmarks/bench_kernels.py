"""Analytic NNGP/NTK Gram matrices: lm_sims against the floor and neural-tangents.

For n = 1,024, 4,096 and 16,384 inputs in d = 64 (Gaussian, seed 0), 3 hidden layers,
ReLU and erf, sigma_w2 = 2, sigma_b2 = 0.05, float64, one run prints a table with:

- lm_sims' ``kernels.nngp`` and ``kernels.ntk`` (each called alone, as a user does),
- the floor: one jitted float64 matrix product ``sigma_w2 * X @ X.T / d + sigma_b2``
  of the same size (an n x d by d x n product writing the n x n output), measured in
  the same process,
- neural-tangents' jitted ``kernel_fn`` of the same network
  (``stax.serial(Dense, phi) x 3 + Dense``, NTK parameterisation,
  ``W_std = sqrt(sigma_w2)``, ``b_std = sqrt(sigma_b2)``: the same recursion as
  lm_sims, see ``lm_sims.kernels``), for n <= ``--nt-max`` (4,096 by default: at
  16,384 its unfused n x n intermediates need tens of GB),
- the ratios lm_sims / floor and neural-tangents / lm_sims, the exponent of time
  against n fitted over all n (2 is linear in the number of entries), the largest
  absolute difference between lm_sims and neural-tangents off the diagonal, and each
  code's diagonal against the exact length recursion (relative to its largest
  entry): neural-tangents feeds the correlation of an input with itself, rounded
  just below 1, to arccos, and its ReLU NTK diagonal is off by ~1e-8 relative.

Each time is the median wall time of ``--repeats`` calls after one warm-up call
(compilation), with the CPU time of the process (all threads) beside it.

neural-tangents needs an old JAX and TensorFlow, so it runs in a benchmark-only venv,
``.venv-nt``, that this script creates on first use with
``scripts/setup_venv.sh .venv-nt benchmarks/envs/neural_tangents.txt`` (never in the
book's ``.venv``): this same file, run there with ``--nt-worker``, reads the inputs
from ``benchmarks/_out/`` and writes its kernels and timings there as ``.npz``; the
comparison happens here.

Run (about 3 minutes on 2 cores, plus the venv build the first time)::

    flock /tmp/lm_heavy.lock .venv/bin/python benchmarks/bench_kernels.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "_out"
NT_VENV = ROOT / ".venv-nt"
NT_PINS = ROOT / "benchmarks" / "envs" / "neural_tangents.txt"
D, DEPTH, SIGMA_W2, SIGMA_B2 = 64, 3, 2.0, 0.05
ACTIVATIONS = ("relu", "erf")


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall, median process CPU time) in s of ``repeats`` calls after a
    warm-up call; ``fn`` must return a host (NumPy) array, so the work is done."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def inputs(n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, D))


# --- neural-tangents side (runs in .venv-nt; imports nothing from lm_sims) ----------


def nt_worker(n: int, repeats: int, path: Path) -> None:
    """Time neural-tangents' jitted kernel_fn on the inputs in ``path`` (x) and
    write its NNGP/NTK Gram matrices and timings back into ``path``."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax

    x = jnp.asarray(np.load(path)["x"], jnp.float64)
    assert x.shape == (n, D)
    w_std, b_std = float(np.sqrt(SIGMA_W2)), float(np.sqrt(SIGMA_B2))
    result = {"x": np.asarray(x), "nt_version": nt.__version__, "jax": jax.__version__}
    for act in ACTIVATIONS:
        phi = stax.Relu() if act == "relu" else stax.Erf()
        layers = []
        for _ in range(DEPTH):
            layers += [stax.Dense(512, W_std=w_std, b_std=b_std), phi]
        layers.append(stax.Dense(1, W_std=w_std, b_std=b_std))
        _, _, kernel_fn = stax.serial(*layers)
        for get in ("nngp", "ntk"):
            fn = jax.jit(lambda a, g=get, k=kernel_fn: k(a, None, g))
            result[f"{act}_{get}"] = np.asarray(fn(x))
            wall, cpu = timed(lambda f=fn: np.asarray(f(x)), repeats)
            result[f"{act}_{get}_wall"], result[f"{act}_{get}_cpu"] = wall, cpu
    np.savez(path, **result)


def run_nt(n: int, repeats: int) -> dict | None:
    """neural-tangents' kernels and timings at n inputs, from .venv-nt."""
    OUT.mkdir(parents=True, exist_ok=True)
    setup = [
        "bash",
        str(ROOT / "scripts" / "setup_venv.sh"),
        str(NT_VENV),
        str(NT_PINS),
    ]
    if subprocess.run(setup, cwd=ROOT).returncode:
        print("neural-tangents venv could not be built: skipped", file=sys.stderr)
        return None
    path = OUT / f"nt_kernels_{n}.npz"
    np.savez(path, x=inputs(n))
    cmd = [str(NT_VENV / "bin" / "python"), __file__, "--nt-worker", "--n", str(n)]
    cmd += ["--repeats", str(repeats), "--out", str(path)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


# --- lm_sims side -------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def exact_diagonal(x: np.ndarray, activation: str, get: str) -> np.ndarray:
    """The Gram matrix's diagonal by the length recursion alone (correlation exactly
    1: ``E[phi'^2]`` is 1/2 for ReLU and ``(4/pi) / sqrt(1 + 4q)`` for erf), in NumPy
    float64: an independent check of each code's diagonal, where the ReLU NTK is most
    sensitive (``E[phi' phi']`` has an infinite slope at correlation 1)."""
    q = SIGMA_W2 * np.sum(x * x, axis=1) / D + SIGMA_B2
    theta = q.copy()
    for _ in range(DEPTH):
        if activation == "relu":
            e, e_dot = 0.5 * q, 0.5
        else:
            e = (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q))
            e_dot = (4 / np.pi) / np.sqrt(1 + 4 * q)
        q_next = SIGMA_W2 * e + SIGMA_B2
        theta = q_next + SIGMA_W2 * e_dot * theta
        q = q_next
    return q if get == "nngp" else theta


def exponent(ns, ts) -> float:
    """Least-squares slope of log(time) against log(n)."""
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,4096,16384")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nt-max", type=int, default=4096)
    parser.add_argument("--no-nt", action="store_true", help="skip neural-tangents")
    parser.add_argument("--nt-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nt_worker:
        nt_worker(args.n, args.repeats, args.out)
        return

    import jax
    import jax.numpy as jnp

    from lm_sims import kernels

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {machine()}; jax {jax.__version__}")
    print(f"load average at start: {loadavg()}")
    print(
        f"d = {D}, depth {DEPTH}, sigma_w2 = {SIGMA_W2}, sigma_b2 = {SIGMA_B2}, "
        f"float64, median of {args.repeats} after warm-up; wall s (CPU s)"
    )

    with jax.enable_x64(True):
        floor_fn = jax.jit(lambda a: SIGMA_W2 * (a @ a.T) / D + SIGMA_B2)

    rows, times = [], {}
    for n in sizes:
        x = inputs(n)
        with jax.enable_x64(True):
            xj = jnp.asarray(x, jnp.float64)
            floor = timed(lambda a=xj: np.asarray(floor_fn(a)), args.repeats)
        nt = None
        if not args.no_nt and n <= args.nt_max:
            nt = run_nt(n, args.repeats)
        for act in ACTIVATIONS:
            cfg = kernels.Config(
                depth=DEPTH, activation=act, sigma_w2=SIGMA_W2, sigma_b2=SIGMA_B2
            )
            for get, fn in (("nngp", kernels.nngp), ("ntk", kernels.ntk)):

                def call(f=fn, c=cfg, a=x):
                    return f(a, None, c)

                t = timed(call, args.repeats)
                times[act, get, n] = t[0]
                row = [n, act, get, t, floor, t[0] / floor[0]]
                if nt is not None:
                    nt_t = (nt[f"{act}_{get}_wall"], nt[f"{act}_{get}_cpu"])
                    ours, theirs = call(), nt[f"{act}_{get}"]
                    off = ~np.eye(n, dtype=bool)
                    diff = float(np.max(np.abs(ours - theirs)[off]))
                    exact = exact_diagonal(x, act, get)
                    scale = np.max(np.abs(exact))
                    diag = [
                        float(np.max(np.abs(np.diag(k) - exact)) / scale)
                        for k in (ours, theirs)
                    ]
                    row += [nt_t, nt_t[0] / t[0], diff, *diag]
                rows.append(row)
                del call
        if nt is not None:
            print(
                f"(n = {n}: neural-tangents {nt['nt_version']} on jax {nt['jax']}, "
                f"{NT_VENV.name})"
            )

    def fmt(t):
        return f"{t[0]:.3f} ({t[1]:.2f})"

    print()
    print(
        "| n | activation | kernel | lm_sims s | floor s | lm_sims / floor "
        "| neural-tangents s | NT / lm_sims | max abs diff off the diagonal "
        "| diagonal vs exact, lm_sims | diagonal vs exact, NT |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        n, act, get, t, floor, ratio = row[:6]
        rest = (
            f"{fmt(row[6])} | {row[7]:.1f} | {row[8]:.1e} | {row[9]:.1e} "
            f"| {row[10]:.1e}"
            if len(row) > 6
            else "not run | | | | "
        )
        print(
            f"| {n:,} | {act} | {get} | {fmt(t)} | {fmt(floor)} | {ratio:.2f} | "
            f"{rest} |"
        )
    if len(sizes) > 1:
        print()
        print(f"exponent of time vs n over n = {', '.join(map(str, sizes))}:")
        for act in ACTIVATIONS:
            for get in ("nngp", "ntk"):
                e = exponent(sizes, [times[act, get, n] for n in sizes])
                print(f"  {act} {get}: {e:.2f}")
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
