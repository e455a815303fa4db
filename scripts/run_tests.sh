#!/usr/bin/env bash
# Run every check, as CI does (.ci/run calls this script and nothing else):
#   1. lint: ruff check and ruff format --check on the repository;
#   2. fast tier: unit tests and every docstring example in lm_sims, in parallel
#      (pytest-xdist, LM_TEST_WORKERS workers, default 2), in float32 and again
#      with JAX_ENABLE_X64=1;
#   3. statistical tier: many-trial checks and width scans (marker `statistical`),
#      in parallel;
#   4. oldest JAX: the lm_sims doctests and the compat tests in .venv-jax-oldest,
#      which holds the oldest JAX lm_sims supports (scripts/envs/jax_oldest.txt;
#      the newest is requirements.txt's, tested above);
#   5. Colab-like: tests/test_colab_like.py (marker `envs`): the notebooks' own
#      install line in .venv-colab (Colab's plotly, ipywidgets, numpy, newest JAX),
#      then every chapter notebook executed live with nbclient;
#   6. slow tier: the book build, the headless-browser checks of the built book and
#      the live JupyterLab check (marker `slow`), in one process (the build is a
#      session fixture: one build, shared).
# Every step runs even if an earlier one failed; the script exits non-zero if any
# failed. A tier that selects no test (pytest's exit code 5) is not a failure.
#
# With arguments, runs only `pytest ARGS...` (no lint, no tiers), e.g.
#   bash scripts/run_tests.sh tests/test_fitting.py -x
#   bash scripts/run_tests.sh -m "not slow" -n 2
#
# From a fresh clone: creates .venv (scripts/setup_env.sh), and installs Debian's
# chromium for the browser tests when it is missing and we are root.
set -euo pipefail
source "$(dirname "$0")/setup_env.sh" # also cds to the repository root

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  else
    echo "error: the browser tests need /usr/bin/chromium (Debian: apt-get install" \
      "chromium); run as root to have this script install it." >&2
    return 1
  fi
}

if [ $# -gt 0 ]; then
  # only a warning here: most selections do not need the browser
  ensure_chromium || echo "warning: continuing without chromium" >&2
  exec .venv/bin/pytest "$@"
fi

ensure_chromium

workers="${LM_TEST_WORKERS:-2}"
failed=()

# step NAME COMMAND...: run, time, and record a failure (exit 5, no tests, is fine)
step() {
  local name="$1" rc=0 start=$SECONDS
  shift
  echo
  echo "=== run_tests: $name ==="
  "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "=== run_tests: $name selected no tests (pytest exit 5); not a failure ==="
    rc=0
  fi
  echo "=== run_tests: $name: exit $rc, $((SECONDS - start)) s ==="
  [ "$rc" -eq 0 ] || failed+=("$name (exit $rc)")
}

step "ruff check" .venv/bin/ruff check .
step "ruff format --check" .venv/bin/ruff format --check .
# --dist loadfile: each test module runs whole on one worker, so its cached
# simulations (functools.cache, explorer grids) are computed once, not per worker
step "fast tier" .venv/bin/pytest -m "not slow and not statistical and not envs" \
  -n "$workers" --dist loadfile --durations=15
# lm_sims must work with jax_enable_x64 on as well as off: the fast tier again in
# float64 (JAX reads JAX_ENABLE_X64 at import), for the library: every docstring
# example and every test of lm_sims' simulations and theory. Left out, as the same
# in both precisions or not about lm_sims' numbers: the figure tests (the
# explorers, tests/test_viz_*.py and test_explorer.py, which plot what the tested
# core computes and recompile all of it in float64), the text of the pages and the
# API page, and the checks of the environment. They pass in float64 too:
# LM_X64_ALL=1 runs the whole fast tier in float64.
x64_skip=()
if [ "${LM_X64_ALL:-0}" != 1 ]; then
  x64_skip=(--ignore-glob='tests/test_viz_*.py' --ignore=tests/test_explorer.py
    --ignore=tests/test_api_page.py --ignore=tests/test_book.py
    --ignore=tests/test_notebooks.py --ignore=tests/test_binder_env.py
    --ignore=tests/test_import.py --ignore=tests/test_compilation_cache.py)
fi
step "fast tier (float64)" env JAX_ENABLE_X64=1 .venv/bin/pytest \
  -m "not slow and not statistical and not envs" -n "$workers" --dist loadfile -q \
  "${x64_skip[@]}"
step "statistical tier" .venv/bin/pytest -m "statistical and not slow and not envs" \
  -n "$workers" --dist loadfile --durations=15

# The oldest supported JAX (pyproject.toml's lower bound; how it was found is said
# there). The venv is cached and rebuilt only when its pins or pyproject.toml change.
# Subset: every docstring example in lm_sims (one call of each public function,
# including the float64 kernels under enable_x64, sweep's vmapped jit and the
# optax-based training loop: the APIs that moved between JAX releases) plus the unit
# tests of the shim; float32, as Colab runs. Plus ~40 s to build the venv when its
# pins change.
oldest_jax() {
  bash scripts/setup_venv.sh .venv-jax-oldest scripts/envs/jax_oldest.txt \
    pyproject.toml || return
  .venv-jax-oldest/bin/python -c \
    'import jax, optax, numpy; print("oldest JAX step:", jax.__version__, \
    "optax", optax.__version__, "numpy", numpy.__version__)'
  # its own persistent compilation cache folder beside the shared one (another JAX
  # version's programs would only take room there), or none when that is off
  local cache="${LM_SIMS_JAX_CACHE_DIR:-$HOME/.cache/lm_sims/jax_compilation_cache}"
  case "${cache,,}" in "" | off | 0) cache=off ;; *) cache="${cache%/}-jax-oldest" ;; esac
  env -u JAX_ENABLE_X64 LM_SIMS_JAX_CACHE_DIR="$cache" .venv-jax-oldest/bin/python \
    -m pytest -q -n "$workers" \
    -p no:cacheprovider lm_sims tests/test_jax_compat.py
}
step "oldest JAX (doctests + subset)" oldest_jax
# Colab-like venv (.venv-colab, cached on scripts/envs/colab_like.txt) + every
# notebook live through nbclient, two at a time: 4.8 min measured (16 notebooks,
# load ~3.5), plus ~1 min to build the venv when its pins change
step "Colab-like notebooks" .venv/bin/pytest -m envs -p no:cacheprovider -s \
  tests/test_colab_like.py
# Last, so that the book build's notebook kernels find the programs the Colab-like
# step compiled in the shared persistent compilation cache (tests/conftest.py).
step "slow tier" .venv/bin/pytest -m "slow and not envs" --durations=5

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run_tests: all steps passed (lint, fast tier in float32 and float64," \
  "statistical and slow tiers, oldest JAX, Colab-like notebooks)"
