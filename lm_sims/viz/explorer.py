"""The explorer: theory (dashed) and simulation (solid) on the same axes, with knobs.

One mechanism serves both ways of reading the book:

* **Static** (the built HTML, no kernel, no network): the panel function is evaluated
  on the product grid of every knob's ``values``; the results are embedded in the page
  as JSON behind plotly sliders, and a few lines of JavaScript swap the traces when a
  slider moves. plotly.js itself is loaded once per page from the book's ``_static``.
* **Live** (Jupyter, Binder, Colab): ipywidgets controls span each knob's live range
  (``low`` .. ``high``, or its discrete ``values``); every change reruns the panel
  function (the JAX simulation) and updates the same ``FigureWidget`` in place.

The mode is chosen by :func:`is_static_build`: the book's Sphinx extension sets the
environment variable ``LM_SIMS_STATIC=1`` before notebooks execute.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Curve", "Explorer", "Knob", "Panel", "is_static_build", "paired_curves"]

# Okabe-Ito colours (colour-blind safe), all readable on light and dark backgrounds.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#999999",
)
ROLES = ("theory", "simulation")
MODES = ("lines", "markers", "lines+markers")
_KEY = "solid: simulation · dashed: theory"
_SIG_DIGITS = 5  # significant digits kept in the static grid (page weight)


def is_static_build() -> bool:
    """True while the book is being built (``LM_SIMS_STATIC=1``): render static HTML."""
    return os.environ.get("LM_SIMS_STATIC", "") not in ("", "0")


@dataclass(frozen=True)
class Knob:
    """One control of an explorer.

    Args:
        name: keyword argument of the panel function this knob sets.
        values: the values precomputed for the static HTML (at least one). Numbers or
            strings. A knob with one value shows no slider in the static page.
        low, high: the live range of a continuous numeric knob. Leave both ``None``
            for a discrete knob, whose live control offers exactly ``values``.
        log: continuous knob on a log scale (needs ``low > 0``).
        label: text shown next to the control (defaults to ``name``).
        default: the initial value (defaults to the middle of ``values``).

    Raises:
        ValueError: empty ``values``; only one of ``low`` / ``high``; ``low >= high``;
            ``log`` with ``low <= 0``; a static value outside ``[low, high]``;
            a ``default`` that is not one of ``values``.
    """

    name: str
    values: Sequence[Any]
    low: float | None = None
    high: float | None = None
    log: bool = False
    label: str | None = None
    default: Any = None

    def __post_init__(self):
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not values:
            raise ValueError(f"knob {self.name!r}: values must not be empty")
        if (self.low is None) != (self.high is None):
            raise ValueError(f"knob {self.name!r}: give both low and high, or neither")
        if self.continuous:
            if not self.low < self.high:
                raise ValueError(
                    f"knob {self.name!r}: low must be < high, got low={self.low}, "
                    f"high={self.high}"
                )
            if self.log and self.low <= 0:
                raise ValueError(
                    f"knob {self.name!r}: a log knob needs low > 0, got low={self.low}"
                )
            for v in values:
                self.check(v)
        if self.default is None:
            object.__setattr__(self, "default", values[(len(values) - 1) // 2])
        elif self.default not in values:
            raise ValueError(
                f"knob {self.name!r}: default={self.default!r} is not one of {values}"
            )

    @property
    def continuous(self) -> bool:
        return self.low is not None

    @property
    def text(self) -> str:
        return self.label or self.name

    def check(self, value: Any) -> Any:
        """Return ``value`` if valid for this knob, else raise ValueError/TypeError."""
        if self.continuous:
            if isinstance(value, (bool, str)) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(
                    f"{self.name} must be a number, got {self.name}={value!r}"
                )
            if not (self.low <= value <= self.high):
                raise ValueError(
                    f"{self.name} must be in [{self.low:g}, {self.high:g}], "
                    f"got {self.name}={value!r}"
                )
            return value
        if value not in self.values:
            raise ValueError(
                f"{self.name} must be one of {', '.join(map(repr, self.values))}; "
                f"got {self.name}={value!r}"
            )
        return value


@dataclass
class Curve:
    """One trace. ``role`` is ``"theory"`` (dashed) or ``"simulation"`` (solid).

    Args:
        x, y: 1-D arrays of equal length. Non-finite points are dropped before
            plotting (a diverged run is cut, never drawn as NaN).
        name: legend text; must be the same at every knob value.
        group: colour index (curves of one mode/quantity share a group).
        col: 1-based subplot column.
        mode: ``"lines"``, ``"markers"`` or ``"lines+markers"``.
        error_y: optional 1-D array of error-bar half-widths, same length as ``y``.
        showlegend: whether the curve has a legend entry.
        breaks: if True, a NaN in ``x`` or ``y`` splits the curve into separate
            polylines instead of being dropped (runs of NaN collapse to one gap;
            leading and trailing NaN are removed; infinities are still dropped).
            Draws many short paths, e.g. one per neuron, as one trace.
    """

    x: Any
    y: Any
    name: str
    role: str = "simulation"
    group: int = 0
    col: int = 1
    mode: str = "lines"
    error_y: Any = None
    showlegend: bool = True
    breaks: bool = False

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got role={self.role!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got mode={self.mode!r}")
        x = np.asarray(self.x, dtype=float).reshape(-1)
        y = np.asarray(self.y, dtype=float).reshape(-1)
        if x.shape != y.shape:
            raise ValueError(
                f"curve {self.name!r}: x and y must have equal length, got "
                f"{x.size} and {y.size}"
            )
        keep = np.isfinite(x) & np.isfinite(y)
        gap = np.zeros_like(keep)
        if self.breaks:
            gap = np.isnan(x) | np.isnan(y)
            gap[1:] &= ~gap[:-1]  # one gap per run of NaN
            drawn = np.flatnonzero(keep)
            if drawn.size:  # and none before the first or after the last point
                gap[: drawn[0]] = gap[drawn[-1] + 1 :] = False
            else:
                gap[:] = False
            keep |= gap
        err = None
        if self.error_y is not None:
            err = np.asarray(self.error_y, dtype=float).reshape(-1)
            if err.shape != y.shape:
                raise ValueError(
                    f"curve {self.name!r}: error_y must match y's length {y.size}"
                )
            keep &= np.isfinite(err) | gap
            err = np.where(gap, np.nan, err)[keep]
        x, y = np.where(gap, np.nan, x), np.where(gap, np.nan, y)
        self.x, self.y, self.error_y = x[keep], y[keep], err


@dataclass
class Panel:
    """What a panel function returns: curves and an optional note for the reader."""

    curves: list[Curve]
    note: str = ""
    extras: dict = field(default_factory=dict)


def paired_curves(
    x: Any,
    simulation: Any,
    theory: Any,
    labels: Sequence[str],
    *,
    theory_x: Any = None,
    col: int = 1,
) -> list[Curve]:
    """Curves for several quantities, each as simulation (solid) and theory (dashed).

    One legend entry per quantity (its colour); the theory curve shares the entry
    (clicking it toggles both). Every explorer figure says "solid: simulation ·
    dashed: theory" above the axes.

    Args:
        x: (points,) shared x values of the simulation.
        simulation: (points, k) simulated values, one column per quantity.
        theory: (points_th, k) predicted values.
        labels: k legend labels.
        theory_x: (points_th,) x values of the theory (default: ``x``).
        col: subplot column.
    """
    simulation = np.asarray(simulation, dtype=float).reshape(len(np.asarray(x)), -1)
    theory_x = x if theory_x is None else theory_x
    theory = np.asarray(theory, dtype=float).reshape(len(np.asarray(theory_x)), -1)
    curves = []
    for i, label in enumerate(labels):
        curves.append(Curve(x, simulation[:, i], label, "simulation", group=i, col=col))
        curves.append(
            Curve(
                theory_x,
                theory[:, i],
                f"{label} (theory)",
                "theory",
                group=i,
                col=col,
                showlegend=False,
            )
        )
    return curves


def _round(a: np.ndarray) -> list:
    """Floats rounded to a few significant digits, as plain JSON numbers
    (NaN, a curve's break, becomes ``null``: a gap in the plotted line)."""
    if a.size == 0:
        return []
    return [None if v != v else float(f"{v:.{_SIG_DIGITS}g}") for v in a.tolist()]


class Explorer:
    """Theory vs simulation, explorable by knobs, in the book (static) or live.

    Args:
        panel: ``panel(**{knob.name: value}) -> Panel``. It must return curves with
            the same names at every knob value.
        knobs: the controls, in the order shown.
        title: figure title.
        x_title, y_title: axis titles with units (a string, or one per column).
        log_x, log_y: log axes (a bool, or one per column).
        cols: number of subplot columns.
        subplot_titles: one title per column.
        height: plot height in pixels, without the sliders.

    Raises:
        ValueError: duplicate knob names, or a per-column setting of the wrong length.

    Displaying the object in a notebook shows the static figure during a book build
    and live widgets otherwise. :meth:`static_html` and :meth:`widget` give each
    explicitly.
    """

    def __init__(
        self,
        panel: Callable[..., Panel],
        knobs: Sequence[Knob],
        *,
        title: str = "",
        x_title: str | Sequence[str] = "",
        y_title: str | Sequence[str] = "",
        log_x: bool | Sequence[bool] = False,
        log_y: bool | Sequence[bool] = False,
        cols: int = 1,
        subplot_titles: Sequence[str] | None = None,
        height: int = 420,
    ):
        names = [k.name for k in knobs]
        if len(set(names)) != len(names):
            raise ValueError(f"knob names must be unique, got {names}")
        self.panel_fn = panel
        self.knobs = tuple(knobs)
        self.title = title
        self.cols = int(cols)
        self.x_title = self._per_col("x_title", x_title)
        self.y_title = self._per_col("y_title", y_title)
        self.log_x = self._per_col("log_x", log_x)
        self.log_y = self._per_col("log_y", log_y)
        self.subplot_titles = (
            None
            if subplot_titles is None
            else self._per_col("subplot_titles", subplot_titles)
        )
        self.height = int(height)
        self._fig = None
        self._controls: dict[str, Any] = {}
        self.last_update_s: float | None = None

    def _per_col(self, name, value):
        if isinstance(value, (str, bool)):
            return [value] * self.cols
        value = list(value)
        if len(value) != self.cols:
            raise ValueError(
                f"{name} needs one entry per column ({self.cols}), got {value}"
            )
        return value

    # -- evaluation -----------------------------------------------------------------

    def evaluate(self, **values) -> Panel:
        """Validate knob values (missing ones take their default) and call the panel.

        Raises:
            ValueError, TypeError: an unknown knob, or a value outside a knob's range.
        """
        unknown = set(values) - {k.name for k in self.knobs}
        if unknown:
            raise ValueError(
                f"unknown knob(s) {sorted(unknown)}; knobs are "
                f"{[k.name for k in self.knobs]}"
            )
        args = {k.name: k.check(values.get(k.name, k.default)) for k in self.knobs}
        panel = self.panel_fn(**args)
        if not isinstance(panel, Panel):
            raise TypeError(
                f"the panel function must return a Panel, got {type(panel)}"
            )
        return panel

    def grid(self) -> list[dict]:
        """The static grid: every combination of the knobs' ``values``."""
        combos = itertools.product(*(k.values for k in self.knobs))
        names = [k.name for k in self.knobs]
        return [dict(zip(names, c, strict=True)) for c in combos]

    # -- figure ---------------------------------------------------------------------

    def _layout(self, note: str) -> dict:
        layout: dict[str, Any] = {
            "title": {
                "text": f"{self.title}<br><sup>{_KEY}</sup>",
                "x": 0.02,
                "xanchor": "left",
            },
            "height": self.height,
            "margin": {"l": 70, "r": 20, "t": 80, "b": 60},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": "#333333"},
            "legend": {"orientation": "v", "bgcolor": "rgba(0,0,0,0)"},
            "hovermode": "closest",
            "annotations": [
                self._note_annotation(note),
            ],
        }
        gap = 0.12
        width = (1 - gap * (self.cols - 1)) / self.cols
        for c in range(self.cols):
            sfx = "" if c == 0 else str(c + 1)
            lo = c * (width + gap)
            grid = {"gridcolor": "rgba(128,128,128,0.25)", "zeroline": False}
            layout[f"xaxis{sfx}"] = {
                "domain": [lo, lo + width],
                "title": {"text": self.x_title[c]},
                "type": "log" if self.log_x[c] else "linear",
                "anchor": f"y{sfx}",
                **grid,
            }
            layout[f"yaxis{sfx}"] = {
                "title": {"text": self.y_title[c]},
                "type": "log" if self.log_y[c] else "linear",
                "anchor": f"x{sfx}",
                **grid,
            }
            if self.subplot_titles:
                layout["annotations"].append(
                    {
                        "text": f"<b>{self.subplot_titles[c]}</b>",
                        "xref": "paper",
                        "yref": "paper",
                        "x": lo + width / 2,
                        "y": 1.0,
                        "yanchor": "bottom",
                        "showarrow": False,
                    }
                )
        return layout

    @staticmethod
    def _note_annotation(note: str) -> dict:
        return {
            "text": note,
            "xref": "paper",
            "yref": "paper",
            "x": 0.01,
            "y": 0.99,
            "xanchor": "left",
            "yanchor": "top",
            "showarrow": False,
            "font": {"color": "#D55E00", "size": 13},
        }

    @staticmethod
    def _trace(curve: Curve) -> dict:
        color = PALETTE[curve.group % len(PALETTE)]
        sfx = "" if curve.col == 1 else str(curve.col)
        trace: dict[str, Any] = {
            "type": "scatter",
            "x": _round(curve.x),
            "y": _round(curve.y),
            "name": curve.name,
            "mode": curve.mode,
            "legendgroup": f"{curve.col}-{curve.group}",
            "showlegend": curve.showlegend,
            "xaxis": f"x{sfx}",
            "yaxis": f"y{sfx}",
            "line": {
                "color": color,
                "dash": "dash" if curve.role == "theory" else "solid",
                "width": 2.5 if curve.role == "theory" else 2,
            },
            "marker": {"color": color, "size": 7},
        }
        if curve.error_y is not None:
            trace["error_y"] = {
                "type": "data",
                "array": _round(curve.error_y),
                "visible": True,
                "color": color,
            }
        return trace

    def _figure_dict(self, panel: Panel) -> dict:
        return {
            "data": [self._trace(c) for c in panel.curves],
            "layout": self._layout(panel.note),
        }

    # -- static HTML ----------------------------------------------------------------

    def static_html(self, progress: bool | None = None) -> str:
        """Precompute the grid and return self-contained HTML (plotly.js not included).

        Args:
            progress: show a progress bar (default: only outside a book build).

        Curves are matched by name across grid points; a curve missing at a grid
        point is hidden there.
        """
        points = self.grid()
        if progress is None:
            progress = not is_static_build()
        iterator = points
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(points, desc="precomputing explorer grid", leave=False)
        panels = [self.evaluate(**values) for values in iterator]
        # The union of curve names over the grid, in order of first appearance: a
        # curve absent at a grid point (e.g. a dataset with fewer modes) is hidden.
        styles: dict[str, Curve] = {}
        for panel in panels:
            for c in panel.curves:
                styles.setdefault(c.name, c)
        names = list(styles)
        frames = []
        for panel in panels:
            by_name = {c.name: c for c in panel.curves}
            cs = [by_name.get(n) for n in names]
            frames.append(
                {
                    "x": [[] if c is None else _round(c.x) for c in cs],
                    "y": [[] if c is None else _round(c.y) for c in cs],
                    "e": [
                        None if c is None or c.error_y is None else _round(c.error_y)
                        for c in cs
                    ],
                    "v": [c is not None for c in cs],
                    "note": panel.note,
                }
            )
        default_idx = points.index({k.name: k.default for k in self.knobs})
        default = {c.name: c for c in panels[default_idx].curves}
        fig = {
            "data": [self._trace(default.get(n, styles[n])) for n in names],
            "layout": self._layout(panels[default_idx].note),
        }
        for trace, n in zip(fig["data"], names, strict=False):
            trace["visible"] = n in default
        sliders = []
        movable = [k for k in self.knobs if len(k.values) > 1]
        fixed = [k for k in self.knobs if len(k.values) == 1]
        plot_px = self.height - 60 - 80
        for i, k in enumerate(movable):
            sliders.append(
                {
                    "active": k.values.index(k.default),
                    "currentvalue": {"prefix": f"{k.text} = ", "font": {"size": 13}},
                    "pad": {"t": 10, "b": 0},
                    "len": 0.9,
                    "x": 0.05,
                    "y": -(70 + 95 * i) / plot_px,
                    "yanchor": "top",
                    "steps": [
                        {"label": _label(v), "method": "skip", "args": [None]}
                        for v in k.values
                    ],
                    "name": k.name,
                }
            )
        fig["layout"]["sliders"] = sliders
        extra = 95 * len(movable)
        fig["layout"]["height"] = self.height + extra
        fig["layout"]["margin"]["b"] = 60 + extra
        sizes = [len(k.values) for k in self.knobs]
        slider_of = [movable.index(k) if k in movable else -1 for k in self.knobs]
        div_id = "lm-" + uuid.uuid4().hex[:12]
        spec = {
            "figure": fig,
            "frames": frames,
            "sizes": sizes,
            "slider_of": slider_of,
        }
        caption = ""
        if fixed:
            caption = (
                "<p class='lm-explorer-fixed'>Fixed in this static view: "
                + ", ".join(
                    f"{html.escape(k.text)} = {html.escape(_label(k.values[0]))}"
                    for k in fixed
                )
                + ". Run the page live (Jupyter, Binder or Colab) to vary every knob."
                "</p>"
            )
        data = json.dumps(spec, separators=(",", ":"), allow_nan=False)
        data = data.replace("</", "<\\/")
        return (
            f'<div class="lm-explorer" id="{div_id}-box">'
            f'<div class="lm-explorer-plot" id="{div_id}"></div>{caption}'
            f'<script type="application/json" id="{div_id}-data">{data}</script>'
            f"<script>{_JS.replace('__ID__', div_id)}</script></div>"
        )

    def save_html(self, path: str) -> None:
        """Write a stand-alone HTML page (plotly.js from the installed plotly)."""
        import plotly.offline

        js = plotly.offline.get_plotlyjs()
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(
                "<!doctype html><html><head><meta charset='utf-8'>"
                f"<script>{js}</script></head><body>{self.static_html()}</body></html>"
            )

    # -- live widgets ---------------------------------------------------------------

    def _control(self, k: Knob):
        import ipywidgets as w

        style = {"description_width": "initial"}
        layout = w.Layout(width="420px")
        if k.continuous:
            if k.log:
                return w.FloatLogSlider(
                    value=k.default,
                    base=10,
                    min=math.log10(k.low),
                    max=math.log10(k.high),
                    step=(math.log10(k.high) - math.log10(k.low)) / 200,
                    description=k.text,
                    continuous_update=False,
                    readout_format=".3g",
                    style=style,
                    layout=layout,
                )
            return w.FloatSlider(
                value=k.default,
                min=k.low,
                max=k.high,
                step=(k.high - k.low) / 200,
                description=k.text,
                continuous_update=False,
                readout_format=".3g",
                style=style,
                layout=layout,
            )
        if all(isinstance(v, str) for v in k.values):
            return w.ToggleButtons(
                options=list(k.values), value=k.default, description=k.text, style=style
            )
        return w.SelectionSlider(
            options=[(_label(v), v) for v in k.values],
            value=k.default,
            description=k.text,
            continuous_update=False,
            style=style,
            layout=layout,
        )

    def widget(self):
        """The live explorer: ipywidgets controls above a plotly ``FigureWidget``."""
        import ipywidgets as w
        import plotly.graph_objects as go

        panel = self.evaluate()
        self._fig = go.FigureWidget(self._figure_dict(panel))
        self._controls = {k.name: self._control(k) for k in self.knobs}
        self._status = w.HTML()
        for c in self._controls.values():
            c.observe(self._on_change, names="value")
        return w.VBox([*self._controls.values(), self._status, self._fig])

    def _on_change(self, _change=None) -> None:
        start = time.perf_counter()
        values = {name: c.value for name, c in self._controls.items()}
        try:
            panel = self.evaluate(**values)
        except (ValueError, TypeError) as err:  # keep the widget alive, say why
            self._status.value = (
                f"<span style='color:#D55E00'>{html.escape(str(err))}</span>"
            )
            return
        self.update(panel)
        self.last_update_s = time.perf_counter() - start

    def update(self, panel: Panel) -> None:
        """Put ``panel``'s curves into the live figure in place (matched by name;
        traces the panel does not return are hidden, new names are added)."""
        fig = self._fig
        by_name = {c.name: c for c in panel.curves}
        with fig.batch_update():
            for trace in fig.data:
                curve = by_name.pop(trace.name, None)
                trace.visible = curve is not None
                if curve is None:
                    continue
                trace.x = curve.x
                trace.y = curve.y
                if curve.error_y is not None:
                    trace.error_y.array = curve.error_y
            for curve in by_name.values():
                fig.add_trace(self._trace(curve))
            fig.layout.annotations[0].text = panel.note
        self._status.value = (
            f"<span style='color:#D55E00'>{html.escape(panel.note)}</span>"
            if panel.note
            else ""
        )

    def _ipython_display_(self):
        from IPython.display import HTML, display

        if is_static_build():
            display(HTML(self.static_html()))
        else:
            display(self.widget())


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# The static figure's script: draw, then on any slider change pick the grid point from
# all sliders' positions and restyle the traces. Follows the theme's light/dark mode.
_JS = r"""
(function () {
  var id = "__ID__";
  function start() {
    var gd = document.getElementById(id);
    if (!window.Plotly || !gd) { return setTimeout(start, 30); }
    var spec = JSON.parse(document.getElementById(id + "-data").textContent);
    var fig = spec.figure;
    function theme() {
      var dark = document.documentElement.dataset.theme === "dark";
      var c = dark ? "#e6e6e6" : "#333333";
      var upd = {"font.color": c};
      (fig.layout.sliders || []).forEach(function (s, i) {
        upd["sliders[" + i + "].font.color"] = c;
        upd["sliders[" + i + "].currentvalue.font.color"] = c;
      });
      return upd;
    }
    Plotly.newPlot(gd, fig.data, fig.layout,
                   {responsive: true, displaylogo: false}).then(function () {
      Plotly.relayout(gd, theme());
      new MutationObserver(function () { Plotly.relayout(gd, theme()); })
        .observe(document.documentElement,
                 {attributes: true, attributeFilter: ["data-theme"]});
      gd.on("plotly_sliderchange", function () {
        var idx = 0;
        for (var k = 0; k < spec.sizes.length; k++) {
          var s = spec.slider_of[k];
          var a = s < 0 ? 0 : gd._fullLayout.sliders[s].active;
          idx = idx * spec.sizes[k] + a;
        }
        var f = spec.frames[idx];
        var n = f.x.length, ids = [];
        for (var i = 0; i < n; i++) { ids.push(i); }
        var upd = {x: f.x, y: f.y, visible: f.v};
        if (f.e.some(function (e) { return e !== null; })) {
          upd["error_y.array"] = f.e.map(function (e) { return e || []; });
        }
        Plotly.restyle(gd, upd, ids);
        Plotly.relayout(gd, {"annotations[0].text": f.note});
      });
    });
  }
  start();
})();
"""
