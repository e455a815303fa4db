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

# JAX's persistent compilation cache for the notebook kernels (the folder and the
# settings of lm_sims.compilation_cache, which the tests and the chapters use too):
# a rebuild loads compiled programs instead of compiling. LM_SIMS_JAX_CACHE_DIR
# moves it; LM_SIMS_JAX_CACHE_DIR=off turns it off. prune() first: the kernels get
# JAX's settings from the environment only, and the folder's bound is ours.
eval "$(.venv/bin/python -c '
import shlex
from lm_sims import compilation_cache as c
c.prune()
for k, v in c.environment().items():
    print(f"export {k}={shlex.quote(v)}")
')"

# The Colab/Binder buttons open X.ipynb next to each X.md: regenerate them first.
.venv/bin/python scripts/sync_notebooks.py
start=$SECONDS
.venv/bin/jupyter-book build . -W -n --keep-going "${all[@]}"
echo "Built _build/html in $((SECONDS - start)) s: open _build/html/index.html"
# The PDF the landing page links: the same sources through the singlehtml builder
# (outputs from the execution cache), printed in headless Chromium.
.venv/bin/python scripts/build_pdf.py _build
