"""Plotting and widgets for the book: the one explorer every chapter uses.

This subpackage may import plotly, ipywidgets and IPython; the core ``lm_sims``
never does.
"""

from lm_sims.viz.explorer import (
    Curve,
    Explorer,
    Knob,
    Panel,
    is_static_build,
    paired_curves,
)

__all__ = ["Curve", "Explorer", "Knob", "Panel", "is_static_build", "paired_curves"]
