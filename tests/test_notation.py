"""The notation page and the code agree: one meaning per name (issue 10).

The notation page names the library's arguments in inline code; each must be a real
module, argument or attribute of lm_sims (the page once named ``n_train``, which the
code never had). And ``L`` counts weight matrices everywhere (Chapter 1's
``n_layers``); an MLP's ``depth`` counts hidden layers, so "L hidden layers" is drift.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTATION = ROOT / "book" / "notation.md"


def _library_names() -> set[str]:
    """Every module, function/class, argument and attribute name in lm_sims."""
    names: set[str] = {"lm_sims"}
    for path in (ROOT / "lm_sims").rglob("*.py"):
        names.add(path.stem)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            if isinstance(node, ast.arg):
                names.add(node.arg)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)  # dataclass fields (Config attributes)
    return names


def test_every_name_on_the_notation_page_is_in_the_library():
    text = NOTATION.read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))
    assert len(named) >= 10, f"the notation page names too few identifiers: {named}"
    missing = sorted(named - _library_names() - {"code"})
    assert not missing, f"book/notation.md names {missing}, which lm_sims does not have"


# "L" is the number of weight matrices; these phrasings give it to the hidden layers
_DRIFT = re.compile(
    r"hidden layers\s+\$?L\b|\$L\$\s+hidden layers|depth\s+\$L\$"
    r"|L\s*=\s*depth\b(?!\s*\+)"
)


@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(ROOT).as_posix()
        for pattern in ("lm_sims/**/*.py", "chapters/**/*.md", "book/*.md")
        for p in ROOT.glob(pattern)
    ),
)
def test_L_counts_weight_matrices_everywhere(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    hits = [m.group(0) for m in _DRIFT.finditer(text)]
    assert not hits, f"{path}: {hits} (L counts weight matrices; depth = L - 1)"
