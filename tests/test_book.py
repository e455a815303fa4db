"""The book platform: notebooks in sync, the build, the built pages in a browser.

The build (minutes with real chapters) runs once per test session into a temporary
folder, so every cell is executed by every test run; the browser tests read it.
"""

from __future__ import annotations

import itertools
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
from browser_helpers import explorer_inputs, move_slider
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
    """Build the whole book once (every cell executed) into a temporary folder, or
    into ``$LM_TEST_BOOK_DIR`` when set: kept between runs, so a rerun re-executes
    and rewrites only what changed (Sphinx and jupyter-cache are incremental)."""
    keep = os.environ.get("LM_TEST_BOOK_DIR")
    with tempfile.TemporaryDirectory(prefix="lm-book-") as tmp:
        out = keep or tmp
        Path(out).mkdir(parents=True, exist_ok=True)
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
def test_no_page_shows_the_build_machine_paths(built_book):
    """The API page once printed a default folder's value as built:
    ``PosixPath('/root/.cache/...')``. No page names the builder's home folder or
    checkout."""
    private = {str(Path.home()), str(ROOT)}
    leaks = []
    for page in (built_book / "html").rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        leaks += [(page.name, p) for p in private if p + "/" in text]
    assert leaks == [], leaks


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
    ``display(...)`` call given such an expression; and once per ``{glue:figure}``
    directive whose key a cell glued with such an expression
    (``glue("fig-x", explorers.x_explorer(key))``). Cells tagged ``remove-output``
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
    glued: set[str] = set()
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "markdown":
            count += sum(
                m.group(1) in glued
                for m in re.finditer(
                    r"^[`:]{3,}\{glue:figure\}\s+(\S+)", cell.source, re.M
                )
            )
        if cell.cell_type != "code":
            continue
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and is_explorer(node.value):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "glue"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and is_explorer(node.args[1])
            ):
                glued.add(node.args[0].value)
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

```{code-cell} ipython3
glue("fig-a", explorers.mode_explorer(key))
glue("n", 3)
```

```{glue:figure} fig-a
:name: fig-a

A caption.
```

```{glue:figure} n
:name: fig-n

Not an explorer.
```
"""


def test_explorer_displays_are_counted_from_the_page_source():
    assert _explorer_displays(EXPLORER_PAGE) == 4
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
            n_sliders = explorer_inputs(gd).count()
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


# -- (e) issue 10: what a reader meets on every page ----------------------------------

_MATH_READY = (
    "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup"
    " && MathJax.startup.document && document.querySelectorAll('mjx-container')"
    ".length > 0)"
)
# Display math wider than its box (the box scrolls: div.math has overflow-x auto)
_WIDE_MATH = """() => Array.from(document.querySelectorAll('div.math'))
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.textContent || '').slice(0, 60))"""
# Math Sphinx handed to MathJax that MathJax did not typeset
_UNTYPESET = """() => Array.from(document.querySelectorAll('.math'))
  .filter(e => !e.querySelector('mjx-container'))
  .map(e => (e.textContent || '').slice(0, 60))"""
# Pixel boxes [x0, y0, x1, y1] of each explorer's subplots (main axes only)
_PANEL_BOXES = """gd => Object.keys(gd._fullLayout)
  .filter(k => /^xaxis\\d*$/.test(k) && gd._fullLayout[k].visible !== false)
  .map(k => { const x = gd._fullLayout[k];
    const y = gd._fullLayout[x.anchor.replace('y', 'yaxis')];
    return [x._offset, y._offset, x._offset + x._length, y._offset + y._length]; })"""


# the legend's box in the same coordinates, and the figure's size
_LEGEND_BOX = """gd => { const g = gd.querySelector('g.legend');
  if (!g) { return null; }
  const r = g.getBoundingClientRect(), o = gd.getBoundingClientRect();
  return [r.left - o.left, r.top - o.top, r.right - o.left, r.bottom - o.top,
          o.width, o.height]; }"""


def _legend_clear(gd, doc, b, width):
    """The legend sits inside the figure and over no panel."""
    box = gd.evaluate(_LEGEND_BOX)
    if box is None or box[2] - box[0] < 1:
        return
    panels = gd.evaluate(_PANEL_BOXES)
    hit = [p for p in panels if _overlap(box[:4], p)]
    assert not hit, f"{doc} figure {b} at {width} px: legend {box[:4]} over {hit}"
    assert box[3] <= box[5] + 1 and box[2] <= box[4] + 1, (
        f"{doc} figure {b} at {width} px: legend {box[:4]} cut off by the figure "
        f"({box[4]} x {box[5]})"
    )


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


@pytest.mark.slow
@pytest.mark.parametrize("doc", TOC_FILES)
def test_page_reads_at_desktop_and_phone_width(built_book, browser_context, doc):
    """Issue 10: all math typeset, no display equation wider than its box at
    1280 px; every explorer control reached and moved from the keyboard with a
    visible focus ring; at 390 px (a phone) no sideways scrolling and no explorer
    panels that overlap or shrink below a readable size; at both widths every legend
    inside its figure and over no panel."""
    page = browser_context.new_page()
    page.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
    )
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto((built_book / "html" / f"{doc}.html").as_uri())
        page.wait_for_load_state("load")
        page.wait_for_function(_MATH_READY, timeout=30_000)
        page.evaluate(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        )
        assert page.evaluate(_UNTYPESET) == [], f"{doc}: math left as source"
        wide = page.evaluate(_WIDE_MATH)
        assert wide == [], f"{doc}: display equations wider than the column: {wide}"
        boxes = page.locator("div.lm-explorer")
        for b in range(boxes.count()):
            gd = boxes.nth(b).locator(".js-plotly-plot")
            gd.locator(_DRAWN).first.wait_for(timeout=20_000)
            controls = explorer_inputs(gd)
            for c in range(controls.count()):
                el = controls.nth(c)
                assert el.evaluate("e => e.tabIndex >= 0 && !e.disabled")
                move_slider(page, gd, c)  # focus + arrow key
                ring = el.evaluate(
                    "e => { const s = getComputedStyle(e);"
                    " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
                )
                assert ring[0] != "none" and ring[1] >= 2, (doc, b, c, ring)
            _legend_clear(gd, doc, b, 1280)
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(600)  # the explorers restack after a resize
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= 391, f"{doc}: the page scrolls sideways at 390 px ({scroll})"
        for b in range(boxes.count()):
            gd = boxes.nth(b).locator(".js-plotly-plot")
            panels = gd.evaluate(_PANEL_BOXES)
            for p in panels:
                assert p[2] - p[0] >= 150 and p[3] - p[1] >= 100, (doc, b, panels)
            for i, j in itertools.combinations(range(len(panels)), 2):
                assert not _overlap(panels[i], panels[j]), (doc, b, panels)
            _legend_clear(gd, doc, b, 390)
    finally:
        page.close()


_DIRECTIVE_AT = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    flags=re.M | re.S,
)


def _visible_code_cells(text: str) -> list[tuple[int, str]]:
    """(lines, first line) of each code cell a reader of the HTML sees unfolded:
    not tagged hide-input, hide-cell, remove-input or remove-cell, and not inside an
    exercise's solution (shown collapsed)."""
    import jupytext

    hidden = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
    out, in_solution = [], False
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "markdown":
            for m in re.finditer(r"\{solution-(start|end)\}", cell.source):
                in_solution = m.group(1) == "start"
            continue
        if cell.cell_type != "code" or in_solution:
            continue
        if hidden & set(cell.metadata.get("tags", [])):
            continue
        lines = [ln for ln in cell.source.splitlines() if ln.strip()]
        out.append((len(lines), lines[0] if lines else ""))
    return out


@pytest.mark.parametrize("doc", SECTION_PAGES)
def test_no_long_code_cell_in_the_reading_path(doc):
    """Issue 10: bookkeeping code is folded; no visible code cell over 15 lines."""
    long = [c for c in _visible_code_cells(_page_source(doc)) if c[0] > 15]
    assert long == [], f"{doc}: visible code cells over 15 lines: {long}"


@pytest.mark.parametrize("doc", SECTION_PAGES)
def test_every_explorer_is_a_numbered_captioned_figure_with_a_prompt(doc):
    """Issue 10: each explorer is shown through {glue:figure} with a :name: (so
    Sphinx numbers it), a caption that names theory and simulation, a "Try this"
    prompt right after it, and the text refers to it by number ({numref})."""
    text = _page_source(doc)
    figures = [
        m for m in _DIRECTIVE_AT.finditer(text) if m.group("name") == "glue:figure"
    ]
    displays = _explorer_displays(text)
    assert displays == len(figures), (
        f"{doc}: {displays} explorer(s) shown, {len(figures)} as numbered figures"
    )
    for m in figures:
        body = m.group("body")
        name = re.search(r"^:name:\s*(\S+)", body, re.M)
        assert name, f"{doc}: figure {m.group('arg')} has no :name: (no number)"
        caption = re.sub(r"^:[\w-]+:.*$", "", body, flags=re.M).strip()
        assert len(caption) > 80, f"{doc}: figure {name.group(1)}: caption too short"
        after = text[m.end() : m.end() + 400]
        assert re.search(r"\{admonition\}\s*Try this", after), (
            f"{doc}: figure {name.group(1)} has no 'Try this' prompt after it"
        )
        assert f"{{numref}}`{name.group(1)}`" in text, (
            f"{doc}: the text never refers to {name.group(1)} by number"
        )


@pytest.mark.parametrize("doc", SECTION_PAGES)
def test_every_section_states_its_goals_and_summary(doc):
    """Issue 10: a section opens with what it teaches and assumes and closes with a
    summary and the one prediction to remember."""
    text = _page_source(doc)
    goals = text.find(":class: lm-goals")
    summary = text.find(":class: lm-summary")
    assert goals >= 0, f"{doc}: no 'In this section' box (class lm-goals)"
    assert summary > goals, f"{doc}: no summary box (class lm-summary) after it"
    assert "You will learn" in text and "It assumes" in text, doc
    assert "prediction to remember" in text[summary:], doc


def _glossary_terms() -> list[str]:
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r"^```\{glossary\}\n(.*?)^```", text, re.S | re.M)
    assert block, "book/glossary.md has no {glossary} directive"
    return [
        ln
        for ln in block.group(1).splitlines()
        if ln and not ln[0].isspace() and not ln.startswith(":")
    ]


def _prose_only(text: str) -> str:
    """``text`` with everything but prose blanked, offsets kept: front matter, code
    cells, math, roles (a {term} link is not a plain use), inline code, headings,
    directive options and labels."""

    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))

    for pattern, flags in (
        (r"\A---\n.*?\n---\n", re.S),
        (r"^```\{code-cell\}.*?^```", re.S | re.M),
        (r"^```\{math\}.*?^```", re.S | re.M),
        (r"\$\$.*?\$\$", re.S),
        (r"\$[^$\n]*\$", 0),
        (r"\{[\w:-]+\}`[^`]*`", 0),
        (r"`[^`\n]*`", 0),
        (r"^#.*$", re.M),
        (r"^:[\w-]+:.*$", re.M),
        (r"^\(.*\)=$", re.M),
    ):
        text = re.sub(pattern, blank, text, flags=flags)
    return text


_TERM_LINK = re.compile(r"\{term\}`([^`<]*?)\s*(?:<([^>`]*)>)?`")


@pytest.mark.parametrize("doc", [f for f in TOC_FILES if f.startswith("chapters/")])
def test_glossary_terms_link_at_their_first_use_on_each_page(doc):
    """Issue 10: a glossary term links to its entry where it first appears on a
    page (prose, captions and boxes; not headings, code or math). A link counts for
    a term when the term is its target or is in its text ({term}`NTK <NTK
    parameterisation>` is a first use of the word NTK)."""
    raw = _page_source(doc)
    prose = _prose_only(raw)
    links = [
        (m.start(), (m.group(1) + " " + (m.group(2) or "")).lower())
        for m in _TERM_LINK.finditer(raw)
    ]
    late = []
    for term in _glossary_terms():
        word = re.compile(r"(?<![\w-])" + re.escape(term.lower()) + r"(?![\w-])")
        plain = word.search(prose.lower())
        if plain is None:
            continue
        first_link = min((p for p, t in links if word.search(t)), default=None)
        if first_link is None or first_link > plain.start():
            late.append((term, raw[: plain.start()].count("\n") + 1))
    assert late == [], f"{doc}: glossary terms first used unlinked (term, line): {late}"


_PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


@pytest.mark.slow
def test_the_pdf_is_printed_from_the_same_build(built_book):
    """Issue 10: the whole book as one PDF (the singlehtml build of the same
    sources, every figure at its default setting), linked from the landing page."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_pdf.py"), str(built_book)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **jax_cache_env()},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pdf = built_book / "html" / "_static" / "learning-mechanics.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(_PDF_PAGE.findall(data))
    assert pages >= 100, f"the PDF has {pages} pages: not the whole book"
    landing = (built_book / "html" / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'href="../_static/learning-mechanics.pdf"' in landing
