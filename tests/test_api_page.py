"""The API reference page documents every public module of lm_sims and lm_sims.viz:
a new module that the page forgets would be invisible to readers of the book."""

import pkgutil
import re
from pathlib import Path

import lm_sims
import lm_sims.viz

API_PAGE = Path(__file__).parents[1] / "book" / "api.md"


def _public_modules(package) -> set[str]:
    return {
        f"{package.__name__}.{m.name}"
        for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_")
    }


def test_every_public_module_is_on_the_api_page():
    documented = set(re.findall(r"automodule:: (\S+)", API_PAGE.read_text()))
    public = (_public_modules(lm_sims) | _public_modules(lm_sims.viz)) - {"lm_sims.viz"}
    assert len(public) >= 15, public  # discovery works: not vacuous
    assert public <= documented, sorted(public - documented)
    # and the page names no module that does not exist
    assert documented <= public, sorted(documented - public)
