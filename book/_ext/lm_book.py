"""Sphinx extension for the Learning Mechanics book (loaded via ``_config.yml``).

It does two things, both so that the built book works offline with no kernel:

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

It also keeps the API page free of duplicates: ``NamedTuple`` fields are documented
in their class's ``Attributes:`` section (house style), so autodoc's automatic
"Alias for field number N" members are skipped.
"""

from __future__ import annotations

import os
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


def _skip_namedtuple_aliases(app, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    return None


def setup(app: Sphinx) -> dict:
    os.environ["LM_SIMS_STATIC"] = "1"
    app.connect("builder-inited", _set_explorer_cache)
    app.connect("builder-inited", _add_plotly_js)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    app.connect("build-finished", _copy_plotly_js)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
