"""Test-session setup: a persistent JAX compilation cache shared by test runs.

Most of the fast tier's time is XLA compilation of the same small programs at every
run. JAX's persistent cache stores each compiled executable on disk, keyed by the
program, the JAX/jaxlib version, the backend and the JAX flags (x64 included), so a
second run on the same machine loads it instead of compiling. The cache lives under
``~/.cache/lm_sims/`` (set ``LM_SIMS_JAX_CACHE_DIR`` to move it, or to ``off`` to
turn it off).

Safe with pytest-xdist workers and concurrent runs: a finite
``jax_compilation_cache_max_size`` makes JAX take a file lock (the ``filelock``
package) around every read and write of the cache, so no worker reads an entry that
another is still writing, and it bounds the folder by evicting the least recently
used entries. (Without the lock a torn read is a warning, an error under this
suite's ``filterwarnings = error``.) pytest loads this file in every xdist worker
before any test module, so the settings hold before the first compilation.
"""

import importlib.util
import os
from pathlib import Path

import jax
import pytest
from browser_helpers import CHROMIUM, CHROMIUM_ARGS

_DEFAULT_DIR = Path.home() / ".cache" / "lm_sims" / "jax_compilation_cache"
_CACHE_DIR = os.environ.get("LM_SIMS_JAX_CACHE_DIR", str(_DEFAULT_DIR))
if _CACHE_DIR.strip().lower() in ("", "off", "0"):  # as LM_SIMS_CACHE_DIR=off
    _CACHE_DIR = ""
_CACHE_MAX_BYTES = 2 * 1024**3  # 2 GiB; a full fast-tier run writes ~100-200 MB
# Cache every program that took at least this long to compile. JAX's default, 1 s,
# skips most of this suite's programs (0.1-1 s each); reading an entry takes ~ms.
_MIN_COMPILE_SECONDS = 0.05


def jax_cache_env() -> dict[str, str]:
    """Environment variables that give a child process (a notebook kernel of the
    book build, a JupyterLab kernel) this same persistent compilation cache: JAX
    reads each ``jax_*`` option from its upper-case environment variable at import.
    Empty when the cache is off."""
    if not _CACHE_DIR:
        return {}
    return {
        "JAX_COMPILATION_CACHE_DIR": _CACHE_DIR,
        "JAX_COMPILATION_CACHE_MAX_SIZE": str(_CACHE_MAX_BYTES),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(_MIN_COMPILE_SECONDS),
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


if _CACHE_DIR:
    jax.config.update("jax_compilation_cache_dir", _CACHE_DIR)
    jax.config.update("jax_compilation_cache_max_size", _CACHE_MAX_BYTES)
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS
    )
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright driver for the whole session, shared by every browser test.

    Playwright's sync API runs an asyncio loop while it is open, so a second
    ``sync_playwright()`` started while another is open fails ("using Playwright
    Sync API inside the asyncio loop"); the book's session-scoped browser and the
    explorer's test figure therefore start their browsers from this one driver.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def launch_chromium(playwright_session):
    """``launch(profile_dir, **options)``: headless Chromium with the project's
    flags and a fresh profile, as a persistent Playwright context."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/run_tests.sh installs it")

    def launch(profile, **options):
        return playwright_session.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
            **options,
        )

    return launch


def load_sync_module():
    """``scripts/sync_notebooks.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "sync_notebooks",
        Path(__file__).resolve().parents[1] / "scripts" / "sync_notebooks.py",
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
