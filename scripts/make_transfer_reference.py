"""Regenerate lm_sims/reference/transfer_adam_digits.npz (about 5 CPU minutes).

The cached Adam transfer sweep of Chapter 4.1: ``lm_sims.transfer.transfer_sweep(
jax.random.key(0))`` in float32 (JAX's default), SP and muP (base width 64), widths
64 ... 1024, learning rates 2^-13 ... 2^-3, two seeds, 200 Adam steps. The book page
reads it with ``lm_sims.transfer.reference_sweep()``; tests/test_transfer.py
recomputes the sweep and checks that the file matches.

Usage: .venv/bin/python scripts/make_transfer_reference.py
"""

import pathlib
import time

import jax

from lm_sims import transfer


def main():
    if jax.config.jax_enable_x64:
        raise SystemExit("run without JAX_ENABLE_X64: the reference is float32")
    start = time.perf_counter()
    result = transfer.transfer_sweep(jax.random.key(0))
    seconds = time.perf_counter() - start
    path = (
        pathlib.Path(transfer.__file__).parent / "reference" / transfer.REFERENCE_FILE
    )
    path.parent.mkdir(exist_ok=True)
    transfer.save_sweep(
        path,
        result,
        script="scripts/make_transfer_reference.py",
        seconds=round(seconds, 1),
        jax_version=jax.__version__,
    )
    print(f"wrote {path} ({path.stat().st_size} bytes) in {seconds:.0f} s")


if __name__ == "__main__":
    main()
