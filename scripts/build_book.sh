#!/usr/bin/env bash
# Build the book into _build/html (from a fresh clone: creates .venv first).
#
#   bash scripts/build_book.sh          # re-executes only chapters whose code changed
#   bash scripts/build_book.sh --all    # rebuild every page (execution cache still used;
#                                       # rm -rf _build to re-execute everything)
set -euo pipefail
source "$(dirname "$0")/setup_env.sh"   # also cds to the repository root

all=()
for arg in "$@"; do
  case "$arg" in
    --all) all=(--all) ;;
    *) echo "usage: bash scripts/build_book.sh [--all]" >&2; exit 2 ;;
  esac
done

# JAX's persistent compilation cache for the notebook kernels (the folder the tests
# use, tests/conftest.py): a rebuild loads compiled programs instead of compiling.
# LM_SIMS_JAX_CACHE_DIR moves it; LM_SIMS_JAX_CACHE_DIR=off turns it off.
jax_cache="${LM_SIMS_JAX_CACHE_DIR:-$HOME/.cache/lm_sims/jax_compilation_cache}"
case "${jax_cache,,}" in
  "" | off | 0) ;;
  *)
    export JAX_COMPILATION_CACHE_DIR="$jax_cache"
    export JAX_COMPILATION_CACHE_MAX_SIZE=$((2 * 1024 ** 3)) # bounded, file-locked
    export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0.05
    export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1
    ;;
esac

# The Colab/Binder buttons open X.ipynb next to each X.md: regenerate them first.
.venv/bin/python scripts/sync_notebooks.py
start=$SECONDS
.venv/bin/jupyter-book build . -W -n --keep-going "${all[@]}"
echo "Built _build/html in $((SECONDS - start)) s: open _build/html/index.html"
