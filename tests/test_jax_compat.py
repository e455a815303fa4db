"""The JAX compatibility shim (lm_sims._compat) and the declared lower bounds.

Runs in the book's venv (newest JAX) and, by scripts/run_tests.sh, in the oldest-JAX
venv (.venv-jax-oldest), where ``jax.enable_x64`` may be missing.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from lm_sims import _compat

ROOT = Path(__file__).resolve().parents[1]


def test_enable_x64_turns_float64_on_and_restores():
    before = jnp.zeros(1).dtype
    with _compat.enable_x64(True):
        assert jnp.zeros(1).dtype == jnp.float64
    assert jnp.zeros(1).dtype == before
    with _compat.enable_x64(False):
        assert jnp.zeros(1).dtype == jnp.float32


def test_enable_x64_falls_back_to_experimental(monkeypatch):
    """Without ``jax.enable_x64`` (JAX releases before it) the shim uses
    ``jax.experimental.enable_x64``; a stand-in records the call."""
    calls = []
    fake = types.ModuleType("jax.experimental")
    fake.enable_x64 = lambda new_val=True: calls.append(new_val) or "ctx"
    monkeypatch.delattr(jax, "enable_x64", raising=False)
    monkeypatch.setitem(sys.modules, "jax.experimental", fake)
    monkeypatch.setattr(jax, "experimental", fake, raising=False)
    assert _compat.enable_x64(False) == "ctx"
    assert calls == [False]


def _lower_bounds() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    deps = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    return dict(re.findall(r'"([a-z_]+)>=([0-9.]+)', deps))


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / "scripts" / "envs" / name).read_text()
    return {
        m[0].lower(): m[1]
        for m in re.findall(r"^([A-Za-z0-9_.-]+)==([0-9.]+)", text, re.M)
    }


@pytest.mark.parametrize("package", ["jax", "numpy", "optax", "jaxtyping"])
def test_oldest_jax_venv_pins_the_declared_lower_bounds(package):
    """CI's oldest-JAX venv tests exactly the lower bounds lm_sims declares."""
    bounds, pins = _lower_bounds(), _pins("jax_oldest.txt")
    assert pins[package] == bounds[package], (package, pins, bounds)
    if package == "jax":
        assert pins["jaxlib"] == bounds["jax"]
