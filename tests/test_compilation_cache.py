"""lm_sims.compilation_cache: one bounded, locked persistent compilation cache that
every process sharing the folder uses the same way.

Issue 13's CI failed because the Colab-like and JupyterLab kernels wrote into the
suite's cache folder unbounded: their entries had no ``-atime`` file, and every later
bounded write (the test workers') raised "Error writing persistent compilation cache
entry", an error under ``filterwarnings = error``. These tests reproduce that in a
fresh process with warnings as errors, show that :func:`enable` repairs it, and check
that every child process of the suite gets the bounded settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import jax_cache_env

from lm_sims import compilation_cache

ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter (JAX's cache is process-global), warnings as errors.
_COMPILE = """
import sys, jax, jax.numpy as jnp
from lm_sims import compilation_cache
folder = sys.argv[1]
if sys.argv[2] == "enable":
    compilation_cache.enable(folder)
elif sys.argv[2] == "plain":  # bounded, by JAX's own settings, without the repair
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_compilation_cache_max_size", 2**30)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
# else ("env"): JAX reads its settings from the environment only
def f(a):  # ~0.1 s to compile: above the cache's threshold (MIN_COMPILE_TIME_S)
    for i in range(60):
        a = jnp.tanh(a @ a.T + i * float(sys.argv[3]))
    return a.sum()
print(float(jax.jit(f)(jnp.eye(8))))
"""


def _compile(folder: Path, mode: str, salt: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.pop(compilation_cache.ENV_VAR, None)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", _COMPILE, str(folder), mode, str(salt)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _orphan(folder: Path) -> Path:
    """An entry as an unbounded writer leaves it: ``-cache`` without ``-atime``."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / "jit_unbounded-0123456789abcdef-cache"
    entry.write_bytes(b"\0" * 64)
    return entry


def test_an_entry_without_access_time_breaks_bounded_writes(tmp_path):
    """The failure itself (so the next test can fail): JAX's eviction scan reads
    every entry's ``-atime`` file, and the missing one fails the write."""
    _orphan(tmp_path)
    proc = _compile(tmp_path, "plain", 1.0)
    assert proc.returncode != 0
    assert "Error writing persistent compilation cache entry" in proc.stderr


def test_enable_repairs_the_folder_and_writes_bounded_entries(tmp_path):
    entry = _orphan(tmp_path)
    proc = _compile(tmp_path, "enable", 2.0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    atime = tmp_path / entry.name.replace("-cache", "-atime")
    assert int.from_bytes(atime.read_bytes(), "little") == 0  # evicted first
    written = [p for p in tmp_path.glob("*-cache") if p != entry]
    assert written, sorted(p.name for p in tmp_path.iterdir())
    for p in written:  # bounded: each entry has its access time
        assert p.with_name(p.name.replace("-cache", "-atime")).exists()

    # a second process loads the program instead of compiling and writing it: the
    # same one entry of f, not rewritten. (Only f's: JAX's small helper programs,
    # e.g. jit_iota, compile in about MIN_COMPILE_TIME_S, so whether one is stored
    # depends on the machine's load at that moment; a CI run saw one more.)
    def entries_of_f():
        return {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("jit_f-*-cache")}

    before = entries_of_f()
    assert len(before) == 1, before
    assert _compile(tmp_path, "enable", 2.0).returncode == 0
    assert entries_of_f() == before


def test_repair_removes_access_times_without_entries(tmp_path):
    stale = tmp_path / "jit_gone-00-atime"
    stale.write_bytes(b"\0" * 8)
    assert compilation_cache.repair(tmp_path) == 1
    assert not stale.exists()
    assert compilation_cache.repair(tmp_path) == 0  # idempotent
    assert compilation_cache.repair(tmp_path / "missing") == 0


def test_child_process_settings_are_bounded_like_the_parent(tmp_path):
    """Every process of the suite that shares the folder (book build kernels,
    JupyterLab and Colab-like kernels) gets a bound, hence the lock."""
    env = jax_cache_env()
    if env:
        assert int(env["JAX_COMPILATION_CACHE_MAX_SIZE"]) > 0
        assert env["JAX_COMPILATION_CACHE_DIR"] == env[compilation_cache.ENV_VAR]
    child = compilation_cache.environment(tmp_path)
    args = [str(tmp_path), "env", "1.0"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", _COMPILE, *args],
        env={**base, **child},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = list(tmp_path.glob("*-cache"))
    assert entries
    assert all(p.with_name(p.name[:-5] + "atime").exists() for p in entries)


def test_no_child_process_is_given_an_unbounded_cache():
    """The class of issue 13's failure: a JAX_COMPILATION_CACHE_DIR set by hand
    somewhere, without the bound. Every place must use the module's settings."""
    offenders = []
    for path in [
        *ROOT.glob("tests/*.py"),
        *ROOT.glob("scripts/*"),
        *ROOT.glob("benchmarks/*.py"),
    ]:
        if path.name == Path(__file__).name or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if (
            '"JAX_COMPILATION_CACHE_DIR"' in text
            or "JAX_COMPILATION_CACHE_DIR=" in text
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
    assert "compilation_cache" in (ROOT / "scripts" / "build_book.sh").read_text()


@pytest.mark.parametrize("bad", [3, 2.5, ["/tmp"]])
def test_bad_path_is_a_type_error(bad):
    with pytest.raises(TypeError, match="path must be"):
        compilation_cache.cache_dir(bad)
    with pytest.raises(TypeError, match="path must be"):
        compilation_cache.enable(bad)


def test_off_means_no_cache(monkeypatch):
    monkeypatch.setenv(compilation_cache.ENV_VAR, "off")
    assert compilation_cache.cache_dir() is None
    assert compilation_cache.environment() == {}
    monkeypatch.setenv(compilation_cache.ENV_VAR, "/tmp/somewhere")
    assert compilation_cache.cache_dir() == Path("/tmp/somewhere")


def test_an_unusable_folder_warns_and_changes_nothing(tmp_path):
    """A notebook's setup cell must not fail on a read-only home."""
    import jax

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    before = jax.config.jax_compilation_cache_dir
    with pytest.warns(RuntimeWarning, match="no persistent compilation cache"):
        assert compilation_cache.enable(blocker / "cache") is None
    assert jax.config.jax_compilation_cache_dir == before
