"""Test-session setup: a persistent JAX compilation cache shared by test runs.

Most of the fast tier's time is XLA compilation of the same small programs at every
run. JAX's persistent cache stores each compiled executable on disk, keyed by the
program, the JAX/jaxlib version, the backend and the JAX flags (x64 included), so a
second run on the same machine loads it instead of compiling. The suite uses the
cache readers get, :mod:`lm_sims.compilation_cache` (``~/.cache/lm_sims/``; set
``LM_SIMS_JAX_CACHE_DIR`` to move it, or to ``off`` to turn it off), with its
settings: bounded by the module (pruned once per process), not by JAX, whose bound
rescans the whole folder under a lock at every write. Every child process that
shares the folder (the book build's kernels, the JupyterLab and Colab-like kernels)
gets the same settings from :func:`jax_cache_env`: a process with other settings
broke the folder for the others once (issue 13's CI failure). pytest loads this
file in every xdist worker before any test module, so the settings hold before the
first compilation.
"""

import importlib.util
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM, CHROMIUM_ARGS

from lm_sims import compilation_cache

# bounds the folder (prune), then configures JAX
_CACHE_DIR = compilation_cache.enable()


def jax_cache_env() -> dict[str, str]:
    """Environment variables that give a child process (a notebook kernel of the
    book build, a JupyterLab kernel) this same persistent compilation cache, with
    the same settings. Empty when the cache is off."""
    return compilation_cache.environment(_CACHE_DIR or "off")


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
