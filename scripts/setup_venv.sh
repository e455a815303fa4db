#!/usr/bin/env bash
# Usage: bash scripts/setup_venv.sh DIR PINS_FILE [KEY_FILE...]
#
# Make sure the virtual environment DIR exists and holds exactly PINS_FILE (a pip
# requirements file) installed into a fresh venv. The venv is cached: it is rebuilt
# from scratch only when the SHA-256 of PINS_FILE and the KEY_FILEs changes (the
# key is stored in DIR/.lm_pins_key), as setup_env.sh does for .venv. Used by
# run_tests.sh for the oldest-JAX venv (.venv-jax-oldest) and the Colab-like venv
# (.venv-colab). Needs a Python >= 3.11 on PATH (or PYTHON=/path/to/python).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="$1"
pins="$2"
shift 2
stamp="$dir/.lm_pins_key"
want="$(cat "$pins" "$@" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
  exit 0
fi
echo "setup_venv: (re)building $dir from $pins (key ${want:0:12})"
rm -rf "$dir"
"${PYTHON:-python3}" -m venv "$dir"
"$dir/bin/python" -m pip install -q -r "$pins"
echo "$want" >"$stamp"
