#!/usr/bin/env bash
# Build the book into _build/html (from a fresh clone: creates .venv first).
#
#   bash scripts/build_book.sh          # re-executes only chapters whose code changed
#                                       # (every chapter after a change to lm_sims)
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
# jupyter-cache keys a page's outputs on the page's own text: after a change to
# lm_sims a cached page would show the old code's figures and numbers. So the
# execution cache goes, and every page is read again, when the library's source
# differs from the one the last build ran.
lib_hash=$(find lm_sims -name '*.py' -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
if [ -d _build/.jupyter_cache ] && [ "$(cat _build/.lm_sims_source 2>/dev/null)" != "$lib_hash" ]; then
  echo "lm_sims changed since the last build: every page is executed again"
  rm -rf _build/.jupyter_cache
  all=(--all)
fi
start=$SECONDS
.venv/bin/jupyter-book build . -W -n --keep-going "${all[@]}"
echo "$lib_hash" >_build/.lm_sims_source
echo "Built _build/html in $((SECONDS - start)) s: open _build/html/index.html"
# The PDF the landing page links: the same sources through the singlehtml builder
# (outputs from the execution cache), printed in headless Chromium.
.venv/bin/python scripts/build_pdf.py _build
