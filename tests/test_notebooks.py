"""The generated chapter notebooks run anywhere and read as plain Markdown.

scripts/sync_notebooks.py writes X.ipynb from the MyST page X.md. JupyterLab and Colab
know Markdown and math, not MyST, and Colab has no myst-nb: these tests check that no
MyST-only syntax and no myst_nb import reach a notebook, that every reference resolves
to what the built book shows, and that ``lm_sims.viz.glue`` prints live and glues
during the build. Fast tier: seconds, no kernel.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import jupytext
import pytest
from conftest import load_sync_module

from lm_sims.viz import glue

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


sync = load_sync_module()
PAGES = sync.pages()
PAGE_IDS = [p.relative_to(ROOT).with_suffix("").as_posix() for p in PAGES]

# MyST syntax that Jupyter shows as raw text: roles, fenced and colon directives,
# (label)= targets, labelled display math, glue of any kind.
MYST_ONLY = {
    "role": re.compile(r"\{[\w:-]+\}`"),
    "fenced directive": re.compile(r"^\s*`{3,}\{", flags=re.M),
    "colon directive": re.compile(r"^\s*:{3,}\{", flags=re.M),
    "(label)= target": re.compile(r"^\([^)\s]+\)=\s*$", flags=re.M),
    "labelled math": re.compile(r"\$\$[ \t]*\([^)\s]+\)[ \t]*$", flags=re.M),
    "glue": re.compile(r"\{glue"),
}


def myst_only(markdown: str) -> list[str]:
    """The kinds of MyST-only syntax found in a Markdown text."""
    return [kind for kind, pattern in MYST_ONLY.items() if pattern.search(markdown)]


@pytest.fixture(scope="module")
def index():
    return sync.build_index()


def _notebook(page_id: str) -> dict:
    return json.loads((ROOT / f"{page_id}.ipynb").read_text(encoding="utf-8"))


def _markdown(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


# -- the generated notebooks ---------------------------------------------------------


@pytest.mark.parametrize("page", PAGE_IDS)
def test_notebook_has_no_myst_only_syntax(page):
    for text in _markdown(_notebook(page)):
        assert not myst_only(text), f"{page}.ipynb: {myst_only(text)} in\n{text}"


def test_the_myst_detector_catches_each_kind_in_the_pages():
    # The detector can fail: the MyST sources hold every kind it looks for.
    found = set()
    for md in PAGES:
        found |= set(myst_only(md.read_text(encoding="utf-8")))
    index_pages = (ROOT / "chapters").glob("*/index.md")
    found |= {k for p in index_pages for k in myst_only(p.read_text(encoding="utf-8"))}
    assert found >= {"role", "fenced directive", "(label)= target", "labelled math"}
    assert myst_only(":::{note}\nx\n:::") == ["colon directive"]
    assert "glue" in myst_only("{glue:text}`x`")


@pytest.mark.parametrize("page", PAGE_IDS)
def test_no_notebook_or_page_imports_myst_nb(page):
    source = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    code = ["".join(c["source"]) for c in _notebook(page)["cells"]]
    for text, where in [(source, f"{page}.md"), ("\n".join(code), f"{page}.ipynb")]:
        assert not re.search(r"\bmyst_nb\b", text), f"{where} imports myst_nb"
    assert "from lm_sims.viz import glue" in source or "glue(" not in source


def test_every_page_converts_and_its_notebook_is_current(index):
    # Every {eq}/{cite}/{doc}/{ref} resolves (an unknown one raises SyncError), and
    # the committed notebook is what the sync writes today.
    for md, page in zip(PAGES, PAGE_IDS, strict=True):
        text = sync.with_setup_cell(
            md.read_text(encoding="utf-8"), sync.repository_url()
        )
        want = sync.notebook_json(text, md.name, index, page)
        have = (ROOT / f"{page}.ipynb").read_text(encoding="utf-8")
        assert sync.essence(have) == sync.essence(want), f"{page}: run sync_notebooks"


def test_solution_code_is_collapsed_and_exercises_are_headed():
    nb = _notebook("chapters/01_solvable/01_deep_linear")
    md = _markdown(nb)
    assert any("\n#### Exercise 1.1: The half-time\n" in t for t in md)
    assert any(t.startswith("<details><summary>Solution</summary>\n\n") for t in md)
    hidden = [
        c for c in nb["cells"] if c["metadata"].get("jupyter", {}).get("source_hidden")
    ]
    assert len(hidden) == 3, "one hidden code cell per solution (3 exercises)"
    assert all(c["cell_type"] == "code" for c in hidden)


# -- numbers equal those of the built book --------------------------------------------


def _last_page_of_each_chapter() -> list[str]:
    last = {}
    for page in PAGE_IDS:
        last[page.split("/")[1]] = page
    return sorted(last.values())


@pytest.mark.parametrize("page", _last_page_of_each_chapter())
def test_equation_and_exercise_numbers_match_the_built_book(page):
    html = HTML / f"{page}.html"
    if not html.exists():
        pytest.skip(f"{html.relative_to(ROOT)} missing: build the book to compare")
    built = html.read_text(encoding="utf-8")
    want_eq = re.findall(r'class="eqno">\(([\d.]+)\)', built)
    want_ex = re.findall(r'class="caption-number">Exercise ([\d.]+) </span>', built)
    text = "\n".join(_markdown(_notebook(page)))
    have_eq = re.findall(r"\\tag\{([\d.]+)\}", text)
    have_ex = re.findall(r"^#### Exercise ([\d.]+)", text, flags=re.M)
    # The last page of a chapter carries every earlier page's count: a numbering
    # error anywhere in the chapter shows here.
    assert have_eq == want_eq and have_ex == want_ex, (
        have_eq,
        want_eq,
        have_ex,
        want_ex,
    )
    assert want_ex, f"{page}: no exercises in the built page to compare"


# -- the conversion rules, each fed a page that exercises it --------------------------

BAD_FRONT = "---\njupytext: {text_representation: {format_name: myst}}\n---\n\n"


def _convert(body, index, page="chapters/01_solvable/01_deep_linear", exercises=()):
    # A synthetic page under a real page's name (its labels resolve), with its own
    # exercise numbers (the real page's are checked against the built book above).
    # Likewise it has no figures of its own.
    saved = index.exercises[page], index.figures.get(page, [])
    index.exercises[page], index.figures[page] = list(exercises), []
    try:
        nb = json.loads(sync.notebook_json(BAD_FRONT + body, "x.md", index, page))
    finally:
        index.exercises[page], index.figures[page] = saved
    return nb["cells"]


def test_roles_become_plain_markdown(index):
    cells = _convert(
        "(sec-x)=\n# Title\n\nSee {eq}`eq-saxe`, {cite}`saxe2014exact,simon2026theory`,"
        " {cite}`neal1996bayesian`, {func}`~lm_sims.deep_linear.predict`,"
        " {class}`lm_sims.mlp.Config`, {glue:text}`err_1e3`, {ref}`ex-dln-depth`,"
        " {doc}`02_eigenlearning`, {doc}`the notation </book/notation>`.\n",
        index,
    )
    text = "".join(cells[0]["source"])
    assert "(sec-x)=" not in text and text.startswith("# Title")
    assert "See (1.1)," in text
    assert (
        "([Saxe et al. 2014](https://arxiv.org/abs/1312.6120); "
        "[Simon et al. 2026](" in text
    )
    assert "([Neal 1996]" in text
    assert "`predict`" in text and "`lm_sims.mlp.Config`" in text
    assert "`err_1e3`" in text and "Exercise 1.3" in text
    assert "[Kernel regression and eigenlearning](02_eigenlearning.ipynb)" in text
    assert "[the notation](../../book/notation.md)" in text
    assert not myst_only(text)


def test_labelled_math_gets_the_book_number(index):
    cells = _convert("$$\nu = s\n$$ (eq-saxe-deep)\n", index)
    assert "".join(cells[0]["source"]) == "$$\nu = s\n\\tag{1.2}\n$$"


def test_solution_spanning_cells_is_collapsed(index):
    body = (
        "```{exercise} One\n:label: ex-a\n\nDo it.\n```\n\n"
        "```{solution-start} ex-a\n:class: dropdown\n```\n\nBecause $x$.\n\n"
        "```{code-cell} ipython3\nprint(1)\n```\n\nAnd so on.\n\n"
        "```{solution-end}\n```\n\n```{note}\nA remark.\n```\n"
    )
    cells = _convert(body, index, exercises=["1.4"])
    kinds = [c["cell_type"] for c in cells]
    texts = ["".join(c["source"]) for c in cells]
    assert kinds == ["markdown", "markdown", "code", "markdown", "markdown"]
    assert texts[0] == "#### Exercise 1.4: One\n\nDo it."
    assert (
        texts[1] == "<details><summary>Solution</summary>\n\nBecause $x$.\n\n</details>"
    )
    assert cells[2]["metadata"]["jupyter"] == {"source_hidden": True}
    assert texts[3].startswith("<details><summary>Solution (continued)</summary>")
    assert texts[4] == "> **Note**\n>\n> A remark."


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("{eq}`eq-nowhere`", "eq-nowhere"),
        ("{ref}`ex-nowhere`", "ex-nowhere"),
        ("{doc}`no_such_page`", "no_such_page"),
        ("{cite}`nobody2099`", "nobody2099"),
        ("{eq}`ex-dln-depth`", "ex-dln-depth"),  # a label, but not an equation's
        ("{weird}`x`", "weird"),
        ("$$\nx\n$$ (eq-unindexed)", "eq-unindexed"),
        ("```{solution-end}\n```\n", "solution-end"),
        ("```{solution-start} a\n```\n", "solution-start"),
    ],
)
def test_an_unresolvable_page_raises_naming_page_and_label(index, body, named):
    page = "chapters/01_solvable/03_conservation"
    with pytest.raises(sync.SyncError, match=re.escape(named)) as err:
        _convert(body + "\n", index, page=page)
    assert page in str(err.value)


# -- --check: only what the sync writes counts -----------------------------------------


def test_check_ignores_outputs_and_kernelspec_but_not_sources():
    path = ROOT / "chapters/01_solvable/01_deep_linear.ipynb"
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    code["execution_count"] = 7
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3"
    assert sync.essence(json.dumps(nb)) == sync.essence(text)
    code["source"] = ["changed"]
    assert sync.essence(json.dumps(nb)) != sync.essence(text)


# -- opening a page in JupyterLab does not dirty it ------------------------------------


def _venv_kernelspec() -> dict:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "display_name": spec.display_name,
        "language": spec.language,
        "name": "python3",
    }


def test_the_sync_kernelspec_is_the_venvs():
    assert sync.KERNELSPEC == _venv_kernelspec()


@pytest.mark.parametrize("page", PAGE_IDS)
def test_jupyterlab_save_reproduces_the_page(page):
    # What JupyterLab + jupytext write on autosave: the page read, the running
    # kernel's kernelspec set, written back as MyST.
    md = ROOT / f"{page}.md"
    text = md.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata["kernelspec"] = _venv_kernelspec()
    assert jupytext.writes(nb, fmt="md:myst") == text


# -- lm_sims.viz.glue ------------------------------------------------------------------


def test_glue_prints_one_line_live(monkeypatch, capsys):
    monkeypatch.delenv("LM_SIMS_STATIC", raising=False)
    glue("half_time", 2.302585093)
    glue("lr_max", "0.33", display=True)
    glue("count", 12)
    assert capsys.readouterr().out == "half_time = 2.30259\nlr_max = 0.33\ncount = 12\n"


def test_glue_calls_myst_nb_during_the_build(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    monkeypatch.setenv("LM_SIMS_STATIC", "1")
    glue("x", "1.5")
    assert calls == [("x", "1.5", False)] and capsys.readouterr().out == ""
    # Static but without myst-nb (a static run elsewhere): print, do not fail.
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    glue("x", "1.5")
    assert capsys.readouterr().out == "x = 1.5\n"


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"name": 3, "value": 1}, TypeError, "name"),
        ({"name": "", "value": 1}, ValueError, "name"),
        ({"name": "1x", "value": 1}, ValueError, "name"),
        ({"name": "a b", "value": 1}, ValueError, "name"),
        ({"name": "a", "value": 1, "display": "yes"}, TypeError, "display"),
    ],
)
def test_glue_rejects_bad_arguments(kwargs, error, named):
    with pytest.raises(error, match=named):
        glue(**kwargs)
