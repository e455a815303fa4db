# Sourced by build_book.sh and run_tests.sh (not run on its own): make sure .venv
# exists and has requirements.txt (which ends with `-e .`, i.e. lm_sims) installed.
# Needs only a Python >= 3.11 on PATH (or PYTHON=/path/to/python3.11).

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x .venv/bin/python ]; then
  PYTHON="${PYTHON:-python3}"
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: need Python >= 3.11 (got: $("$PYTHON" --version 2>&1))." >&2
    echo "Set PYTHON=/path/to/python3.11 or newer." >&2
    exit 1
  fi
  echo "Creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the requirements or the package metadata changed.
stamp=.venv/.lm_book_requirements
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -r requirements.txt
  echo "$want" > "$stamp"
fi

# JupyterLab in this venv opens MyST markdown pages (chapters/*.md) as notebooks
# (jupytext's "Jupytext Notebook" viewer) instead of as text.
mkdir -p .venv/share/jupyter/lab/settings
cat > .venv/share/jupyter/lab/settings/overrides.json <<'JSON'
{
  "@jupyterlab/docmanager-extension:plugin": {
    "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
  }
}
JSON
