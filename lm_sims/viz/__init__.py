"""Plotting and widgets for the book: the one explorer every chapter uses.

This subpackage may import plotly, ipywidgets and IPython; the core ``lm_sims``
never does.
"""

from lm_sims.viz._glue import glue
from lm_sims.viz.explorer import (
    DIVERGING,
    MAX_STATES,
    SEQUENTIAL,
    Curve,
    Explorer,
    Heatmap,
    Knob,
    Panel,
    band,
    cache_dir,
    is_static_build,
    paired_curves,
)

__all__ = [
    "DIVERGING",
    "MAX_STATES",
    "SEQUENTIAL",
    "Curve",
    "Explorer",
    "Heatmap",
    "Knob",
    "Panel",
    "band",
    "cache_dir",
    "glue",
    "is_static_build",
    "paired_curves",
]
