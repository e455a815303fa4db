"""Binder's environment: repo2docker installs requirements.txt (+ runtime.txt) from
the repository root. docker is not available here, so this checks the same files in
the book's venv (.venv, built from requirements.txt by scripts/setup_env.sh): every
pin is exact, and JupyterLab has the front ends the live pages need."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# plotly's mimetype renderer, the ipywidgets manager, MyST markdown in cells
LABEXTENSIONS = (
    "jupyterlab-plotly",
    "@jupyter-widgets/jupyterlab-manager",
    "jupyterlab-myst",
)


def test_requirements_are_exact_pins():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    loose = [
        line
        for line in lines
        if line != "-e ." and not re.fullmatch(r"[A-Za-z0-9_.\[\],-]+==[\w.]+", line)
    ]
    assert not loose, f"requirements.txt must pin every package exactly: {loose}"
    assert "jupyterlab-myst" in " ".join(lines)
    assert (ROOT / "runtime.txt").read_text().strip() == "python-3.11"


def test_jupyterlab_has_the_widget_plotly_and_myst_labextensions():
    jupyter = Path(sys.executable).with_name("jupyter")
    out = subprocess.run(
        [str(jupyter), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    for name in LABEXTENSIONS:
        line = next((x for x in text.splitlines() if x.strip().startswith(name)), "")
        assert "enabled" in line, f"{name} missing or disabled:\n{text}"
