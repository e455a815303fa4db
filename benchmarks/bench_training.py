"""Time lm_sims' training loop against a hand-written scan and eager PyTorch.

One full-batch run of a 2-layer ReLU MLP (one hidden layer of width 512, d = 64,
n = 512 training points, 2,000 steps, float32, learning rate 0.05), all in one
process so the ratios share the machine's load:

- ``hand-written scan``: the floor; ``w <- w - lr * grad`` in a jitted
  ``lax.scan`` with no recording, no divergence check and no Optax;
- ``mlp.train GD`` with ``record_every`` 1, 20 and 2,000 (a record holds the loss,
  the outputs on the training inputs and the weight change);
- ``mlp.train SGD, B = 64`` and ``mlp.train Adam`` (record_every 20), against a
  hand-written SGD / Adam scan of the same work;
- eager PyTorch on CPU (``torch.set_num_threads`` 1 and 2; the same network and
  steps, in a benchmark-only venv ``.venv-torch`` built by
  ``scripts/setup_venv.sh .venv-torch benchmarks/envs/torch.txt``), run in a
  subprocess; skipped with ``--no-torch`` or when the venv cannot be built.

Each time is the best of ``--repeats`` warm calls. Throughput counts 6 x
parameters x batch flops per step (forward 2, backward 4); the peak is a 2,048^3
float32 matmul in JAX measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_training.py [--repeats 3] [--no-torch]``
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

from lm_sims import mlp

WIDTH, D_IN, P, STEPS, LR, BATCH = 512, 64, 512, 2000, 0.05, 64
ROOT = pathlib.Path(__file__).resolve().parents[1]

TORCH = r"""
import json, sys, time
import numpy as np, torch
width, d, n, steps, lr, threads = map(float, sys.argv[1:7])
width, d, n, steps, threads = int(width), int(d), int(n), int(steps), int(threads)
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
x = torch.randn(n, d, generator=g)
y = torch.randn(n, 1, generator=g)
w1 = (torch.randn(d, width, generator=g) * (2.0 / d) ** 0.5).requires_grad_()
b1 = torch.zeros(width, requires_grad=True)
w2 = (torch.randn(width, 1, generator=g) * (1.0 / width) ** 0.5).requires_grad_()
b2 = torch.zeros(1, requires_grad=True)
params = [w1, b1, w2, b2]
def run():
    for _ in range(steps):
        loss = 0.5 * ((torch.relu(x @ w1 + b1) @ w2 + b2 - y) ** 2).sum(1).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, gp in zip(params, grads):
                p -= lr * gp
run()
times = []
for _ in range(3):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
print(json.dumps({"seconds": min(times), "torch": torch.__version__}))
"""


def best(fn, repeats):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_peak(repeats):
    n = 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    return 2 * n**3 / best(lambda: f(a), repeats) / 1e9


def hand_written(cfg, x, y, key, optimizer="gd"):
    """The same network trained by a bare jitted scan: the floor."""

    @jax.jit
    def run(key):
        params = mlp.init(key, cfg)
        num = x.shape[0]

        def loss(p, i):
            if cfg.batch_size is None:
                return mlp.loss(p, x, y, cfg)
            k = jax.random.fold_in(key, i)
            idx = jax.random.choice(k, num, (cfg.batch_size,), replace=False)
            return mlp.loss(p, x[idx], y[idx], cfg)

        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

        def step(carry, i):
            p, m, v = carry
            g = jax.grad(loss)(p, i)
            if optimizer == "adam":
                t = i + 1
                m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
                v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
                g = jax.tree_util.tree_map(
                    lambda a, b: (
                        (a / (1 - 0.9**t)) / (jnp.sqrt(b / (1 - 0.999**t)) + 1e-8)
                    ),
                    m,
                    v,
                )
            p = jax.tree_util.tree_map(lambda w, d: w - cfg.lr * d, p, g)
            return (p, m, v), None

        carry = (params, zeros, zeros)
        return jax.lax.scan(step, carry, jnp.arange(cfg.steps))[0][0]

    return lambda: run(key)


def torch_time(threads):
    """Seconds for the run in eager PyTorch with ``threads`` threads, or None."""
    venv = ROOT / ".venv-torch"
    setup = subprocess.run(
        ["bash", "scripts/setup_venv.sh", ".venv-torch", "benchmarks/envs/torch.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if setup.returncode != 0:
        print(f"(torch venv not built: {setup.stderr.strip()[-300:]})")
        return None, None
    args = [str(a) for a in (WIDTH, D_IN, P, STEPS, LR, threads)]
    done = subprocess.run(
        [str(venv / "bin/python"), "-c", TORCH, *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"(torch run failed: {done.stderr.strip()[-300:]})")
        return None, None
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["seconds"], out["torch"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    key = jax.random.key(0)
    load0 = open("/proc/loadavg").read().split()[:3]
    base = mlp.Config(
        width=WIDTH,
        depth=1,
        d_in=D_IN,
        num_train=P,
        steps=STEPS,
        record_every=20,
        lr=LR,
        parameterization="sp",
    )
    x, y = mlp.training_data(key, base)
    params = D_IN * WIDTH + 2 * WIDTH + 1
    peak = matmul_peak(args.repeats)
    print(
        f"2-layer ReLU MLP, width {WIDTH}, d = {D_IN}, n = {P}, {STEPS} steps, "
        f"float32; {platform.machine()}, {os.cpu_count()} cores, jax "
        f"{jax.__version__}; matmul peak {peak:.1f} GFLOP/s; load average "
        f"{' '.join(load0)} at start"
    )
    sgd = base.replace(batch_size=BATCH)
    adam = base.replace(optimizer="adam", lr=1e-3)
    rows = [
        ("hand-written scan, GD", hand_written(base, x, y, key), P, "GD"),
        (
            "mlp.train GD, record_every 1",
            lambda: mlp.train(key, base.replace(record_every=1)),
            P,
            "GD",
        ),
        ("mlp.train GD, record_every 20", lambda: mlp.train(key, base), P, "GD"),
        (
            "mlp.train GD, record_every 2000",
            lambda: mlp.train(key, base.replace(record_every=STEPS)),
            P,
            "GD",
        ),
        (
            f"hand-written scan, SGD B = {BATCH}",
            hand_written(sgd, x, y, key),
            BATCH,
            "SGD",
        ),
        (
            f"mlp.train SGD B = {BATCH}, record_every 20",
            lambda: mlp.train(key, sgd),
            BATCH,
            "SGD",
        ),
        ("hand-written scan, Adam", hand_written(adam, x, y, key, "adam"), P, "Adam"),
        ("mlp.train Adam, record_every 20", lambda: mlp.train(key, adam), P, "Adam"),
    ]
    print("| run | s | GFLOP/s | % of peak | x hand-written |")
    print("|---|---|---|---|---|")
    floors = {}
    for name, fn, batch, kind in rows:
        t = best(fn, args.repeats)
        floors.setdefault(kind, t)
        gflops = 6.0 * params * batch * STEPS / t / 1e9
        print(
            f"| {name} | {t:.3f} | {gflops:.1f} | {100 * gflops / peak:.0f}% | "
            f"{t / floors[kind]:.2f} |",
            flush=True,
        )
    if not args.no_torch:
        for threads in (1, 2):
            t, version = torch_time(threads)
            if t is None:
                break
            gflops = 6.0 * params * P * STEPS / t / 1e9
            print(
                f"| eager PyTorch {version}, {threads} thread(s), GD | {t:.3f} | "
                f"{gflops:.1f} | {100 * gflops / peak:.0f}% | {t / floors['GD']:.2f} |"
            )
    load1 = open("/proc/loadavg").read().split()[:3]
    print(f"load average {' '.join(load1)} at end ({sys.executable})")


if __name__ == "__main__":
    main()
