"""The book platform: notebooks in sync, the build, the built pages in a browser.

The build (minutes with real chapters) runs once per test session into a temporary
folder, so every cell is executed by every test run; the browser tests read it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from browser_helpers import move_slider
from conftest import jax_cache_env, load_sync_module

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = ("plotly", "ipywidgets", "matplotlib", "IPython")


sync = load_sync_module()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = sync.repository_url()
BRANCH = CONFIG["repository"]["branch"]


def _toc_files() -> list[str]:
    """Every document in _toc.yml (no suffix), in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


TOC_FILES = _toc_files()
SECTION_PAGES = [
    f for f in TOC_FILES if f.startswith("chapters/") and not f.endswith("/index")
]


# -- (a) notebooks for Colab / Binder ---------------------------------------------


def test_every_chapter_section_is_a_paired_notebook_page():
    paired = {p.relative_to(ROOT).with_suffix("").as_posix() for p in sync.pages()}
    assert SECTION_PAGES, "no chapter sections in _toc.yml"
    missing = [f for f in SECTION_PAGES if f not in paired]
    assert not missing, f"sections without jupytext front matter: {missing}"


def test_notebooks_in_sync():
    proc = subprocess.run(
        [sys.executable, "scripts/sync_notebooks.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("page", SECTION_PAGES)
def test_first_cell_installs_lm_sims_on_colab_only(page):
    ipynb = ROOT / f"{page}.ipynb"
    assert ipynb.exists(), f"{ipynb.name} missing: run scripts/sync_notebooks.py"
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(code[0]["source"])
    assert "remove-cell" in code[0]["metadata"].get("tags", [])
    pip_lines = [ln for ln in first.splitlines() if "%pip install" in ln]
    assert len(pip_lines) == 1, first
    pip = pip_lines[0]
    assert f"git+{REPO_URL}" in pip, f"{pip!r} does not install from {REPO_URL}"
    assert not re.search(r"\bjax(lib)?\b", pip), f"the Colab cell touches JAX: {pip}"
    assert "--upgrade" not in pip and " -U" not in pip, pip
    # The install is guarded: indented under the Colab check.
    guard = 'if "google.colab" in sys.modules:'
    assert guard in first and pip.startswith("    "), first
    for cell in code[1:]:
        assert "%pip" not in "".join(cell["source"]), "a second install cell"
    # and, everywhere, the persistent compilation cache (issue 11: a rerun after a
    # kernel restart loads compiled programs); unguarded, at the top level
    assert "\ncompilation_cache.enable()" in first, first


PAGE_WITHOUT_SETUP = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# Title

```{code-cell} ipython3
x = 1
```
"""


def test_sync_inserts_and_updates_the_setup_cell():
    url = "https://github.com/example/book"
    text = sync.with_setup_cell(PAGE_WITHOUT_SETUP, url)
    assert text.index("google.colab") < text.index("x = 1")
    assert text.index("# Title") < text.index("google.colab")
    assert sync.with_setup_cell(text, url) == text  # idempotent
    moved = sync.with_setup_cell(text, "https://github.com/example/other")
    assert "git+https://github.com/example/other" in moved
    assert "example/book" not in moved
    assert moved.count('"google.colab" in sys.modules') == 1  # one setup cell
    nb = json.loads(sync.notebook_json(text, "x.md"))
    assert nb == json.loads(sync.notebook_json(text, "x.md"))  # deterministic
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code", "code"]
    assert all(c["outputs"] == [] for c in nb["cells"][1:])


# -- (b) the build -------------------------------------------------------------------


def test_the_build_skips_every_venv_the_scripts_create():
    """The book build reads no file in a virtual environment: the oldest-JAX and
    Colab-like venvs sit at the repository root, and a pattern that missed them made
    Sphinx read scikit-learn's .rst files (-W failed with 260 warnings)."""
    from sphinx.util.matching import Matcher

    scripts = "".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh"))
    venvs = sorted(set(re.findall(r"(?<![\w/])(\.venv[\w-]*)", scripts)))
    assert ".venv" in venvs and len(venvs) >= 3, venvs
    excluded = Matcher(CONFIG["exclude_patterns"])
    # Sphinx prunes a folder whose path matches a pattern (sphinx.util.matching)
    kept = [v for v in venvs if not excluded(v)]
    assert not kept, f"_config.yml exclude_patterns miss {kept}"


@pytest.fixture(scope="session")
def built_book():
    """Build the whole book once (every cell executed) into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="lm-book-") as out:
        log = Path(out) / "build.log"
        jb = Path(sys.executable).with_name("jupyter-book")
        cmd = [str(jb), "build", str(ROOT), "--path-output", out]
        cmd += ["-W", "-n", "--keep-going"]
        # the notebook kernels share the tests' persistent compilation cache (the
        # Colab-like step, run before this tier, has compiled the same programs)
        env = {**os.environ, **jax_cache_env()}
        with open(log, "w") as fh:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=3600,
                env=env,
            )
        text = log.read_text(errors="replace")
        assert proc.returncode == 0, f"book build failed:\n{text[-6000:]}"
        yield Path(out) / "_build"


@pytest.mark.slow
def test_every_cell_executed_without_error(built_book):
    """Read each page's executed notebook from the build's execution cache.

    jupyter-cache stores a notebook only after it ran to the end without error
    (``raise_on_error`` also fails the build). ``_build/jupyter_execute`` is no proof:
    on a cache hit myst-nb writes the unexecuted notebook there.
    """
    import jupytext
    from jupyter_cache import get_cache

    cache = get_cache(built_book / ".jupyter_cache")
    for page in SECTION_PAGES:
        nb = jupytext.read(ROOT / f"{page}.md")
        record = cache.match_cache_notebook(nb)  # KeyError: never ran successfully
        executed = cache.get_cache_bundle(record.pk).nb
        code = [c for c in executed.cells if c.cell_type == "code"]
        assert code, f"{page} has no code cells"
        for i, cell in enumerate(code):
            assert isinstance(cell.get("execution_count"), int), f"{page} cell {i}"
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{page} code cell {i} raised: {errors[0].ename}"


@pytest.mark.slow
@pytest.mark.parametrize("page", SECTION_PAGES)
def test_launch_buttons_open_the_paired_notebook(built_book, page):
    html = (built_book / "html" / f"{page}.html").read_text(encoding="utf-8")
    repo = REPO_URL.removeprefix("https://github.com/")
    colab = re.findall(
        rf'href="https://colab\.research\.google\.com/github/{repo}/blob/'
        rf'{BRANCH}/([^"]+)"',
        html,
    )
    assert colab == [f"{page}.ipynb"], colab
    assert (ROOT / colab[0]).is_file()
    binder = re.findall(
        rf'href="https://mybinder\.org/v2/gh/{repo}/{BRANCH}\?urlpath=lab/tree/'
        rf'([^"]+)"',
        html,
    )
    assert binder == [f"{page}.ipynb"], binder


@pytest.mark.slow
def test_plotly_js_is_local_and_loaded_once(built_book):
    static = built_book / "html" / "_static" / "plotly.min.js"
    assert static.stat().st_size > 1_000_000
    for page in TOC_FILES:
        html = (built_book / "html" / f"{page}.html").read_text(encoding="utf-8")
        scripts = re.findall(r'<script[^>]*src="([^"]*)"', html)
        assert sum("plotly" in s for s in scripts) == 1, (page, scripts)
        remote = [s for s in scripts if "://" in s]
        assert not remote, f"{page} loads scripts from the network: {remote}"


@pytest.mark.slow
def test_page_weight_within_target(built_book):
    # Issue target: each page <= 3 MB without plotly.js (served once from _static);
    # the explorers' precomputed grids are what makes pages heavy.
    for page in TOC_FILES:
        size = (built_book / "html" / f"{page}.html").stat().st_size
        assert size <= 3_000_000, f"{page}.html is {size / 1e6:.2f} MB"


@pytest.mark.slow
def test_chapters_show_explorers(built_book):
    """The browser checks below are not vacuous: the chapters do embed explorers."""
    count = sum(
        (built_book / "html" / f"{page}.html")
        .read_text(encoding="utf-8")
        .count('<div class="lm-explorer"')
        for page in SECTION_PAGES
    )
    assert count > 0


# -- (c) the built pages in headless Chromium ----------------------------------------


@pytest.fixture(scope="session")
def browser_context(launch_chromium):
    with tempfile.TemporaryDirectory() as profile:
        context = launch_chromium(profile, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


_DATA_JSON = "gd => JSON.stringify(gd.data)"
# One element per drawn trace: scatter traces and heatmap images.
_DRAWN = ".scatterlayer .trace, .heatmaplayer .hm"
_NO_OUTPUT = {"remove-output", "remove-cell"}


def _page_source(doc: str) -> str:
    path = ROOT / f"{doc}.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _explorer_displays(text: str) -> int:
    """How many explorer figures a page's code cells display when executed.

    A cell displays one when its last statement is an expression (no trailing
    ``;``) that calls ``Explorer(...)`` or an ``*_explorer(...)`` factory, or names
    a variable assigned from one earlier on the page; and once per
    ``display(...)`` call given such an expression. Cells tagged ``remove-output``
    or ``remove-cell`` show nothing.
    """
    import ast

    import jupytext
    from IPython.core.inputtransformer2 import TransformerManager

    if "```{code-cell}" not in text:
        return 0
    names: set[str] = set()

    def is_explorer(node) -> bool:
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            return name == "Explorer" or name.endswith("_explorer")
        return isinstance(node, ast.Name) and node.id in names

    count = 0
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and is_explorer(node.value):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if _NO_OUTPUT & set(cell.metadata.get("tags", [])):
            continue
        count += sum(
            isinstance(n, ast.Call)
            and getattr(n.func, "id", "") == "display"
            and any(is_explorer(a) for a in n.args)
            for n in ast.walk(tree)
        )
        last = tree.body[-1] if tree.body else None
        shown = not cell.source.rstrip().endswith(";")
        if shown and isinstance(last, ast.Expr) and is_explorer(last.value):
            count += 1
    return count


EXPLORER_PAGE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

```{code-cell} ipython3
%matplotlib inline
ex = explorers.mode_explorer(key)
other = 3
```

```{code-cell} ipython3
explorers.mode_explorer(key)
```

```{code-cell} ipython3
ex
```

```{code-cell} ipython3
Explorer(panel, knobs);
```

```{code-cell} ipython3
display(ex)
display(other)
x = 1
```

```{code-cell} ipython3
:tags: [remove-output]
ex
```
"""


def test_explorer_displays_are_counted_from_the_page_source():
    assert _explorer_displays(EXPLORER_PAGE) == 3
    assert _explorer_displays("# A page without code\n\nExplorer(x)\n") == 0
    pages = {f: _explorer_displays(_page_source(f)) for f in SECTION_PAGES}
    assert sum(pages.values()) > 0, pages  # the chapters do show explorers


@pytest.mark.slow
@pytest.mark.parametrize("doc", TOC_FILES)
def test_page_in_browser(built_book, browser_context, doc):
    """Offline, error-free; every explorer draws and every slider changes its data."""
    left_file, console = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            left_file.append(r.request.url)
            r.abort()

    page = browser_context.new_page()
    page.route("**/*", route)
    page.on(
        "console",
        lambda m: console.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
    try:
        page.goto((built_book / "html" / f"{doc}.html").as_uri())
        page.wait_for_load_state("load")
        boxes = page.locator("div.lm-explorer")
        expected = _explorer_displays(_page_source(doc))
        assert boxes.count() == expected, (
            f"the page's cells display {expected} explorer(s), the browser shows "
            f"{boxes.count()}"
        )
        for b in range(boxes.count()):
            gd = boxes.nth(b).locator(".js-plotly-plot")
            assert gd.count() == 1, f"explorer {b} did not render a plotly figure"
            gd.locator(_DRAWN).first.wait_for(timeout=20_000)
            visible = gd.evaluate(
                "gd => gd._fullData.filter(t => t.visible === true).length"
            )
            drawn = gd.locator(_DRAWN).count()
            assert visible > 0 and drawn >= visible, (b, visible, drawn)
            n_sliders = gd.evaluate("gd => (gd._fullLayout.sliders || []).length")
            for s in range(n_sliders):
                before = gd.evaluate(_DATA_JSON)
                move_slider(page, gd, s)
                after = gd.evaluate(_DATA_JSON)
                assert after != before, f"explorer {b}: slider {s} left data unchanged"
        page.wait_for_timeout(300)  # late console messages (MathJax, theme)
    finally:
        page.close()
    assert not left_file, f"requests left file://: {left_file}"
    assert not console, f"console errors: {console}"


class _VisibleText(HTMLParser):
    """The text a reader sees as prose: outside scripts, styles, code, and the
    math elements Sphinx hands to MathJax (``class="math"``)."""

    # <head> too: its <title> is the browser tab's text (4.1's reads "\\(\\mu\\)P":
    # Sphinx puts a heading's math there as source; not prose on the page)
    SKIP = {"head", "script", "style", "pre", "code", "svg", "textarea"}
    VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "source", "col"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is it skipped?
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        skipped = tag in self.SKIP or "math" in classes
        self.stack.append(skipped or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.chunks.append(data)


@pytest.mark.slow
@pytest.mark.parametrize("doc", TOC_FILES)
def test_no_raw_math_in_the_prose(built_book, doc):
    """Every formula reaches MathJax: no literal ``$`` or ``\\(`` in the prose of a
    built page (1.3's derivation once showed raw LaTeX: a source line starting
    with ``+ `` inside inline math is read as a list item)."""
    parser = _VisibleText()
    parser.feed((built_book / "html" / f"{doc}.html").read_text(encoding="utf-8"))
    text = " ".join(parser.chunks)
    for mark in ("$", "\\(", "\\[", "\\begin{"):
        at = text.find(mark)
        assert at < 0, (
            f"{doc}: raw math in the prose: ...{text[max(0, at - 80) : at + 80]}..."
        )


_LIST_START = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s")


def _inline_math_line_starts(source: str) -> list[str]:
    """Lines of a MyST page that start like a list item inside an open inline
    ``$...$`` (outside code cells, fenced blocks and ``$$`` display math)."""
    bad, inside, fence = [], False, None
    for line in source.splitlines():
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith(("```", "~~~")):
            fence, inside = stripped[:3], False
            continue
        if stripped.startswith("$$"):
            inside = False
            continue
        if not stripped:
            inside = False  # a blank line ends the paragraph
            continue
        if inside and _LIST_START.match(line):
            bad.append(line)
        dollars = len(re.findall(r"(?<!\\)\$", line.replace("$$", "")))
        inside ^= dollars % 2 == 1
    return bad


def test_the_list_start_detector_finds_the_case():
    assert _inline_math_line_starts("has $a - b\n+ c = 0$. Fine.\n") == [
        "+ c = 0$. Fine."
    ]
    assert _inline_math_line_starts("has $a - b$\n- item\n") == []


@pytest.mark.parametrize("doc", SECTION_PAGES)
def test_no_source_line_starts_a_list_inside_inline_math(doc):
    # the source-level twin of test_no_raw_math_in_the_prose, in the fast tier
    source = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    assert _inline_math_line_starts(source) == [], doc


# -- (d) the core stays free of plotting libraries ------------------------------------


def test_import_lm_sims_loads_no_plotting_or_widget_library():
    code = (
        "import sys, json, lm_sims\n"
        f"bad = {FORBIDDEN_IN_CORE!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in bad)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_readme_python_examples_run():
    """Every ```python block of the README runs as written (a newcomer's first try)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
