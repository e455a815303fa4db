"""lm_sims.compilation_cache: one persistent compilation cache that every process
sharing the folder uses the same way, bounded by the module, not by JAX.

Issue 13's CI failed because the Colab-like and JupyterLab kernels wrote into the
suite's cache folder unbounded while the test workers bounded it: the kernels'
entries had no ``-atime`` file, and every later bounded write raised "Error writing
persistent compilation cache entry". Then JAX's bound itself turned out to rescan
the whole folder at every write (quadratic in a cold run). Now every process writes
unbounded with the module's settings and :func:`prune` bounds the folder once per
process. These tests run fresh processes with warnings as errors.
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
elif sys.argv[2] == "plain":  # bounded by JAX itself (no process of ours does)
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
    """Why no process of the project lets JAX bound the folder: one entry written
    without the bound (no ``-atime`` file) makes JAX's bounded writes fail."""
    _orphan(tmp_path)
    proc = _compile(tmp_path, "plain", 1.0)
    assert proc.returncode != 0
    assert "Error writing persistent compilation cache entry" in proc.stderr


def test_enable_writes_entries_and_a_second_process_loads_them(tmp_path):
    entry = _orphan(tmp_path)  # an entry without access time: no harm now
    proc = _compile(tmp_path, "enable", 2.0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert entry.exists()
    written = [p for p in tmp_path.glob("*-cache") if p != entry]
    assert written, sorted(p.name for p in tmp_path.iterdir())
    assert not list(tmp_path.glob("*-atime"))  # JAX does not bound it: no scan

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


def _entry(folder: Path, name: str, size: int, written: int) -> Path:
    path = folder / f"{name}-cache"
    path.write_bytes(b"x" * size)
    os.utime(path, (written, written))
    return path


def test_prune_removes_the_oldest_entries_beyond_the_bound(tmp_path):
    for i in range(10):  # 10 x 100 bytes, written at times 0..9
        _entry(tmp_path, f"jit_{i}", 100, i)
    (tmp_path / "jit_3-atime").write_bytes(b"\0" * 8)  # JAX's, for a pruned entry
    (tmp_path / "jit_gone-atime").write_bytes(b"\0" * 8)  # for no entry at all
    assert compilation_cache.prune(tmp_path, max_bytes=1000) == 1  # under: stale only
    assert not (tmp_path / "jit_gone-atime").exists()
    # over 800: the oldest go until <= 3/4 of it (600 bytes: 6 entries left)
    assert compilation_cache.prune(tmp_path, max_bytes=800) == 4  # with jit_3-atime
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [f"jit_{i}-cache" for i in range(4, 10)], left
    assert compilation_cache.prune(tmp_path, max_bytes=800) == 0  # idempotent
    assert compilation_cache.prune(tmp_path / "missing") == 0


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (1.5, TypeError, "max_bytes must be an int"),
        (True, TypeError, "max_bytes"),
        (-1, ValueError, "max_bytes must be >= 0, got -1"),
    ],
)
def test_prune_checks_its_bound(tmp_path, bad, error, match):
    with pytest.raises(error, match=match):
        compilation_cache.prune(tmp_path, max_bytes=bad)


def test_child_process_settings_are_the_parents(tmp_path):
    """Every process of the suite that shares the folder (book build kernels,
    JupyterLab and Colab-like kernels) gets the same settings: no JAX bound."""
    env = jax_cache_env()
    if env:
        assert env["JAX_COMPILATION_CACHE_MAX_SIZE"] == "-1"
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
    assert list(tmp_path.glob("*-cache"))
    assert not list(tmp_path.glob("*-atime"))


def test_no_child_process_is_given_other_cache_settings():
    """The class of issue 13's failure: a JAX_COMPILATION_CACHE_DIR set by hand
    somewhere, with other settings. Every place must use the module's."""
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
