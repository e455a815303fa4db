"""Sphinx extension for the Learning Mechanics book (loaded via ``_config.yml``).

It does these things (the first three so that the built book works offline with
no kernel):

1. **plotly.js from the installed plotly package, once per page, no CDN.**
   The explorers in executed notebooks emit plain HTML made with
   ``include_plotlyjs=False`` (myst-nb skips the default
   ``application/vnd.plotly.v1+json`` output, which would render blank). The
   library they need is plotly's own bundled ``plotly/package_data/plotly.min.js``;
   at ``builder-inited`` this extension registers it with ``app.add_js_file`` and at
   ``build-finished`` copies it into the output's ``_static/``. Every page therefore
   loads ``_static/plotly.min.js`` exactly once, from disk, and the version always
   matches the Python plotly that wrote the figures.

2. **Static explorers during the build.** At ``setup`` it sets
   ``os.environ["LM_SIMS_STATIC"] = "1"``. Notebook kernels started by myst-nb
   inherit the builder's environment, so ``lm_sims.viz.Explorer`` sees the flag
   and renders the precomputed grid as static HTML with plotly sliders instead of
   ipywidgets (which would need a live kernel and CDN-hosted widget managers).
   jupyter-cache keys notebooks on their code only, so clear ``_build/.jupyter_cache``
   if a page was ever executed without this flag.

3. **A cache of explorer grids next to the build.** At ``builder-inited`` it sets
   ``LM_SIMS_CACHE_DIR`` (unless already set) to ``_build/.lm_sims_cache``: a page
   whose code changed re-executes, but its unchanged explorers are read from there
   instead of recomputed (``lm_sims.viz.cache_dir``). A clean build (a new output
   folder, or ``jupyter-book clean --all``) computes every explorer again.

4. **Author-year labels in the bibliography.** sphinxcontrib-bibtex's styles label
   the list with alpha keys ("[SKA+26]", "[MKAOpenAIDTeam18]"), which a reader cannot
   match to the author-year citations in the text. The pybtex style
   ``lm_author_year`` registered here labels each entry "Saxe et al. 2014" (one
   author: "Neal 1996"; two: "Lee and Bahri 2018"; an organisation as written; a,
   b, ... where two entries would share a label), the names the text's citations
   show, and the text the notebooks show (``scripts/sync_notebooks.py``).
   ``_config.yml`` selects it with ``bibtex_default_style`` under
   ``sphinx: config:`` (Jupyter Book 1.x ignores top-level Sphinx settings).

5. **Search snippets offline.** Sphinx's search page fetches each result page for
   its snippet, which a browser refuses for files opened from disk (no snippets,
   console errors). ``html_show_search_summary`` is off; at ``build-finished`` this
   extension writes every page's text to ``_static/lm_search_text.js``, which
   ``_static/lm_search.js`` loads on the search page to add the snippets.

It also keeps the API page free of duplicates: ``NamedTuple`` fields are documented
in their class's ``Attributes:`` section (house style), so autodoc's automatic
"Alias for field number N" members are skipped.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx

PLOTLY_JS = "plotly.min.js"


def plotly_js_path() -> Path:
    """Path of the ``plotly.min.js`` bundled with the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(
            f"plotly.min.js not found at {path}; reinstall plotly "
            "(pip install --force-reinstall plotly)"
        )
    return path


def _set_explorer_cache(app: Sphinx) -> None:
    cache = Path(app.outdir).parent / ".lm_sims_cache"
    os.environ.setdefault("LM_SIMS_CACHE_DIR", str(cache))


def _add_plotly_js(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    plotly_js_path()  # fail early, before minutes of notebook execution
    # Before the theme's own scripts is fine; figures are drawn by inline scripts
    # in the page body, which run after every <head> script has loaded.
    app.add_js_file(PLOTLY_JS, priority=400)


def _copy_plotly_js(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), static / PLOTLY_JS)


def _latex_plain(text: str) -> str:
    import codecs

    import latexcodec  # noqa: F401 - registers the "ulatex" codec

    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "")


def author_year(entry) -> str:
    """The label of a pybtex entry: "Neal 1996", "Lee and Bahri 2018", "Saxe et
    al. 2014", the names sphinxcontrib-bibtex's author_year citations print."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [_latex_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
    if len(last) > 2:
        who = f"{last[0]} et al."
    elif len(last) == 2:
        who = f"{last[0]} and {last[1]}"
    else:
        who = last[0] if last else _latex_plain(entry.fields.get("title", entry.key))
    return f"{who} {entry.fields.get('year', 'n.d.')}"


def _register_author_year_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            entries = list(sorted_entries)
            labels = [author_year(e) for e in entries]
            seen: dict[str, int] = {}
            for label in labels:
                seen[label] = seen.get(label, 0) + 1
            count: dict[str, int] = {}
            for label in labels:
                if seen[label] > 1:  # "Lee et al. 2018a", "Lee et al. 2018b"
                    count[label] = count.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[count[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(Style):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "lm_author_year", AuthorYearStyle)


_ARTICLE = re.compile(r"<article[^>]*bd-article[^>]*>(.*?)</article>", re.S)
_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
SEARCH_TEXT = "lm_search_text.js"


def page_text(page_html: str) -> str:
    """The text a reader sees in a built page's article (no scripts, no styles,
    no tags), whitespace collapsed: what the offline search snippets quote."""
    m = _ARTICLE.search(page_html)
    body = _DROP.sub(" ", m.group(1) if m else page_html)
    text = html.unescape(_TAG.sub(" ", body))
    return re.sub(r"\s+", " ", text).replace(" ¶", "").strip()


def _write_search_text(app: Sphinx, exception: Exception | None) -> None:
    """Every page's text as ``window.LM_SEARCH_TEXT = {docname: text}`` in
    ``_static/lm_search_text.js``, for ``lm_search.js`` on the search page."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    texts = {}
    for doc in sorted(app.env.found_docs):
        path = out / f"{doc}.html"
        if path.is_file():
            texts[doc] = page_text(path.read_text(encoding="utf-8"))
    blob = json.dumps(texts, ensure_ascii=False).replace("</", "<\\/")
    (out / "_static" / SEARCH_TEXT).write_text(
        f"window.LM_SEARCH_TEXT = {blob};\n", encoding="utf-8"
    )


def _skip_namedtuple_aliases(app, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    return None


def _html_visitors_for_singlehtml(app: Sphinx) -> None:
    """Give the singlehtml builder (the PDF's source) every html node visitor.

    Sphinx looks up node visitors by builder name and falls back to the format
    (``html``) only when no extension registered any for that name. sphinx-exercise
    registers its own for ``singlehtml``, so the nodes other extensions register for
    ``html`` alone (myst-nb's folded code cells, ...) had none there and the
    singlehtml build stopped ("departing unknown node type: HideCodeCellNode").
    """
    builder = app.builder
    handlers = app.registry.translation_handlers
    if builder.format != "html" or builder.name == "html":
        return
    if builder.name not in handlers:  # the fallback to html applies
        return
    for node, visitors in handlers.get("html", {}).items():
        handlers[builder.name].setdefault(node, visitors)


def setup(app: Sphinx) -> dict:
    os.environ["LM_SIMS_STATIC"] = "1"
    _register_author_year_style()
    app.connect("builder-inited", _set_explorer_cache)
    app.connect("builder-inited", _add_plotly_js)
    app.connect("builder-inited", _html_visitors_for_singlehtml)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    app.connect("build-finished", _copy_plotly_js)
    app.connect("build-finished", _write_search_text)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
