"""Every chapter notebook runs live in a Colab-like environment, installed only by
the notebook's own install line.

This is issue 13's Colab-like check and also its "notebooks executed in live mode
(no static flag) through nbclient, each under a stated time" check:

1. ``.venv-colab`` (scripts/setup_venv.sh, cached under the SHA-256 of
   scripts/envs/colab_like.txt) holds the newest JAX with the plotly, ipywidgets,
   numpy, IPython and ipykernel versions Google Colab preinstalls, and no lm_sims.
2. The install line of a generated notebook's first code cell (the ``%pip install
   "lm_sims[viz,data] @ git+URL"`` under ``if "google.colab" in sys.modules:``) is
   run with that venv's pip, the git URL replaced by this checkout; ``pip freeze``
   before and after must show jax, jaxlib, numpy, plotly and ipywidgets unchanged.
3. Every generated notebook (chapters/*/*.ipynb) is executed top to bottom with
   nbclient in that venv's kernel, in live mode (LM_SIMS_STATIC unset), two at a time,
   each under ``NOTEBOOK_TIMEOUT_S``; JAX's persistent compilation cache is shared
   (``conftest.jax_cache_env``) so later runs compile less.

Run by scripts/run_tests.sh as its own step (marker ``envs``, left out of the tiers).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import jax_cache_env

pytestmark = pytest.mark.envs

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-colab"
PINS = ROOT / "scripts" / "envs" / "colab_like.txt"
NOTEBOOKS = sorted(ROOT.glob("chapters/*/*.ipynb"))
UNCHANGED = ("jax", "jaxlib", "numpy", "plotly", "ipywidgets")
# Per-notebook limit. Measured here (2026-12-02, 2 cores, load average 3.4-3.7 from
# other jobs, two notebooks at a time, JAX compilation cache shared with the test
# suite): 9.6 s (conservation) to 81.4 s (collapse and features), median 26.6 s, all
# 16 in 286 s. A cold cache is slower: issue 13 measured 110-200 s per notebook
# under load. Limit = 2 x the slowest cold run.
NOTEBOOK_TIMEOUT_S = 400

_RUNNER = r"""
import pathlib, sys, time
import nbformat
from nbclient import NotebookClient
path, limit = pathlib.Path(sys.argv[1]), int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
# the kernel must be this venv's Python, not another environment's
check = f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.prefix"
nb.cells.insert(0, nbformat.v4.new_code_cell(check))
start = time.perf_counter()
resources = {"metadata": {"path": str(path.parent)}}
NotebookClient(nb, timeout=limit, kernel_name="python3", resources=resources).execute()
print(f"EXECUTED {time.perf_counter() - start:.1f}")
"""


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", *args],
        capture_output=True,
        text=True,
        check=True,
    )


def _freeze() -> dict[str, str]:
    out = _pip("freeze", "--all").stdout
    versions = {}
    for line in out.splitlines():  # "name==version" or "name @ url"
        name, sep, version = line.partition("==")
        if not sep:
            name, sep, version = line.partition(" @ ")
        if sep:
            versions[name.strip().lower().replace("_", "-")] = version
    return versions


def install_line(notebook: Path) -> str:
    """The ``%pip install ...`` arguments of the notebook's first code cell, the
    one that runs only on Colab."""
    nb = json.loads(notebook.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert 'if "google.colab" in sys.modules:' in source, source
    found = re.findall(r"^\s*%pip install (.+)$", source, flags=re.M)
    assert len(found) == 1, source
    return found[0]


def local_install_args(line: str) -> list[str]:
    """The install line's pip arguments with ``git+URL`` pointed at this checkout."""
    args = shlex.split(line)
    spec = [a for a in args if "@ git+" in a]
    assert len(spec) == 1, args
    name = spec[0].split("@", 1)[0].strip()
    return [a if a not in spec else f"{name} @ {ROOT.as_uri()}" for a in args]


@pytest.fixture(scope="module")
def installed():
    """The Colab-like venv after the notebook's own install line; returns the
    freezes before and after."""
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup_venv.sh"), str(VENV), str(PINS)],
        check=True,
    )
    # a fresh start each run: the pins (repaired if an earlier run moved them)
    # and no lm_sims from an earlier run
    _pip("install", "-q", "-r", str(PINS))
    _pip("uninstall", "-q", "-y", "lm_sims")
    before = _freeze()
    lines = {install_line(nb) for nb in NOTEBOOKS}
    assert len(lines) == 1, f"notebooks disagree on the install line: {lines}"
    # no cache of lm_sims' own wheel: the checkout may have changed since
    _pip("install", "--no-cache-dir", *local_install_args(lines.pop()))
    return before, _freeze()


def test_install_line_keeps_colab_packages(installed):
    before, after = installed
    assert "lm-sims" in after
    changed = {p: (before.get(p), after.get(p)) for p in UNCHANGED}
    changed = {p: v for p, v in changed.items() if v[0] != v[1] or v[0] is None}
    assert not changed, f"the install line changed Colab's packages: {changed}"


def _execute(notebook: Path) -> tuple[Path, float, str]:
    env = {k: v for k, v in os.environ.items() if k != "LM_SIMS_STATIC"}
    # the suite's persistent compilation cache, with the settings of every
    # process that shares it (lm_sims.compilation_cache.environment)
    env.update(jax_cache_env())
    env.pop("JAX_ENABLE_X64", None)  # as on Colab
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [
                str(VENV / "bin" / "python"),
                "-c",
                _RUNNER,
                str(notebook),
                str(NOTEBOOK_TIMEOUT_S),
            ],
            capture_output=True,
            text=True,
            timeout=NOTEBOOK_TIMEOUT_S + 60,
            env=env,
            cwd=notebook.parent,
        )
        error = "" if proc.returncode == 0 else (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired:
        error = f"over {NOTEBOOK_TIMEOUT_S} s"
    return notebook, time.perf_counter() - start, error


def test_every_notebook_runs_live(installed):
    assert len(NOTEBOOKS) >= 16, NOTEBOOKS
    with ThreadPoolExecutor(max_workers=2) as pool:  # two notebooks at a time
        results = list(pool.map(_execute, NOTEBOOKS))
    for notebook, seconds, error in results:
        status = "ok" if not error else "FAILED"
        print(
            f"{notebook.relative_to(ROOT)}: {seconds:.1f} s {status}", file=sys.stderr
        )
    failed = {str(nb.relative_to(ROOT)): err for nb, _, err in results if err}
    assert not failed, "\n\n".join(f"{k}:\n{v}" for k, v in failed.items())
    slow = [(str(nb), s) for nb, s, _ in results if s > NOTEBOOK_TIMEOUT_S]
    assert not slow, slow
