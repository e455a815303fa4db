"""The API reference page documents every public module of lm_sims and lm_sims.viz:
a new module that the page forgets would be invisible to readers of the book."""

import ast
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


# napoleon reads a first line "Words: more words" of an attribute docstring as
# "type: description" and Sphinx then fails (-W) on the unknown type "Words"; two
# such comments reached a full book build before being caught (PITFALLS.md)
_FIELD_LIST_LIKE = re.compile(r"^[^:`]*[A-Za-z)'] ?: \S")


def _attribute_docstrings(source: str) -> list[tuple[int, str]]:
    """First lines of ``#:`` comment blocks and of property docstrings."""
    found, previous = [], ""
    for i, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text.startswith("#:") and not previous.startswith("#:"):
            found.append((i, text[2:].strip()))
        previous = text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        ):
            doc = ast.get_docstring(node)
            if doc:
                found.append((node.lineno, doc.splitlines()[0]))
    return found


def test_attribute_comments_do_not_read_as_field_lists():
    root = Path(lm_sims.__file__).parent
    bad = []
    for path in sorted(root.rglob("*.py")):
        for line, first in _attribute_docstrings(path.read_text()):
            if _FIELD_LIST_LIKE.match(first):
                bad.append(f"{path.relative_to(root)}:{line}: {first}")
    assert not bad, bad


def test_the_field_list_check_can_fail():
    assert _FIELD_LIST_LIKE.match("Gradient flow's RK4 substeps per step: ``m = 1``")
    assert _FIELD_LIST_LIKE.match("Number of outputs: 1 or 10")
    assert not _FIELD_LIST_LIKE.match("Datasets accepted by :class:`Config`.")
    assert not _FIELD_LIST_LIKE.match("The number of outputs, 1 or 10.")
