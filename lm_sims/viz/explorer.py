"""The explorer: theory (dashed) and simulation (solid) on the same axes, with knobs.

One mechanism serves both ways of reading the book:

* **Static** (the built HTML, no kernel, no network): the panel function is evaluated
  on the product grid of every knob's ``values`` (at most :data:`MAX_STATES` points);
  the results are embedded in the page as JSON behind plotly sliders, and a few lines
  of JavaScript swap the traces when a slider moves. plotly.js itself is loaded once
  per page from the book's ``_static``. The evaluated grid is kept in a disk cache
  (:func:`cache_dir`), keyed by the panel's code and inputs, so an unchanged explorer
  is not recomputed at every build. Under each figure, a link downloads the data
  shown (CSV), built in the browser from the current slider state.
* **Live** (Jupyter, Binder, Colab): ipywidgets controls span each knob's live range
  (``low`` .. ``high``, or its discrete ``live`` options); every change reruns the
  panel function (the JAX simulation) and re-renders the whole figure into an
  ``ipywidgets.Output`` (plotly's own mimetype; HTML on Colab).

Both use one figure model: a grid of subplots laid out by plotly's
``plotly.subplots.make_subplots`` (rows, columns, shared axes, a second y axis),
holding :class:`Curve` traces (lines, markers, bands of mean +- spread over seeds, see
:func:`band`) and :class:`Heatmap` traces (CKA or Hessian matrices). Every trace has an
``id``; static frames and live updates match traces by id, never by legend text.

The mode is chosen by :func:`is_static_build`: the book's Sphinx extension sets the
environment variable ``LM_SIMS_STATIC=1`` before notebooks execute.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import html
import itertools
import json
import math
import os
import re
import sys
import tempfile
import textwrap
import time
import types
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lm_sims._config import check_callable, check_int, check_real, code_names

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
    "is_static_build",
    "paired_curves",
]

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
SPREADS = ("std", "sem", "range")
#: Perceptually uniform, colour-blind safe; both ends stand out on a white and on a
#: dark page (for CKA and other values in [0, 1]).
SEQUENTIAL = "Viridis"
#: The diverging scale for signed matrices such as a Hessian or an AGOP matrix. Blue
#: below zero, orange above, and a middle grey that is visible on a light and on a
#: dark page (white would vanish in light mode, black in dark mode). Used with
#: ``zmid = 0``.
DIVERGING = (
    (0.0, "#08306B"),
    (0.25, "#4A90C8"),
    (0.5, "#A0A0A0"),
    (0.75, "#F0A04B"),
    (1.0, "#8C2D04"),
)
#: Most states (knob combinations) one explorer may precompute for the static page.
#: The book's target is 3 MB of HTML per page (plotly.js excluded); 3 MB / 128 is
#: 23 kB per state, about 1,500 plotted points at 5 significant digits. Today's
#: largest grid is 72 states (the NTK explorer); the heaviest page, 2.1 MB, holds
#: 45 states of 5 to 10 curves of 100 to 500 points each.
MAX_STATES = 128
_SIG_DIGITS = 5  # significant digits kept in the static grid (page weight)
_CACHE_FORMAT = 1  # bump when the cached records change shape


_NOTE_WIDTH = 80  # characters per note line: fits the plot area of a figure in the
# book's ~690 px text column (13 px font, 72 px left margin; 88 characters overflowed)
_NOTE_LINE_PX = 18  # pixels per note line (13 px font)
_TITLE_CHARS = 75  # characters of subplot titles across the figure (~8 px each)
#: Below this width in pixels a static figure stacks its panels in one column, puts
#: its legend under the plots and rewraps its title and notes (a phone is 390 px).
NARROW_PX = 560
_NARROW_NOTE = 44  # note characters per line at phone width
_NARROW_PANEL_PX, _NARROW_GAP_PX = 240, 100  # stacked panel height, gap below it
_KEY_COLOR = "#888888"  # the legend key's grey, readable on light and dark pages
# A figure of two or more panels side by side puts its legend under the plots (a
# legend beside them took ~180 px of the ~690 px text column and left each of three
# panels ~110 px, an equal-aspect plane ~180 px). Rows of that legend are estimated
# for this plot width, an entry ~46 px of symbol and gap plus ~7 px per character.
_LEGEND_WIDTH_PX = 600
_LEGEND_ROW_PX = 22
_LEGEND_GAP_PX = 70  # from the plots' bottom edge to the legend (ticks, x title)


def _legend_rows(names: Sequence[str], width: int = _LEGEND_WIDTH_PX) -> int:
    """Rows a horizontal legend of these entries fills at ``width`` pixels."""
    rows, used = 0, width
    for name in names:
        need = 46 + 7 * len(re.sub(r"<[^>]*>", "", name))
        if used + need > width:
            rows, used = rows + 1, 0
        used += need
    return rows


def _uid(trace_id: str) -> str:
    """A plotly ``uid`` for a trace id. Plotly builds CSS selectors from uids (a
    heatmap's colour bar), so a uid holds only ``[A-Za-z0-9_-]``: an id with spaces
    or symbols ("W₁ᵀW₁ / max") would stop the figure from drawing."""
    return "t" + hashlib.sha1(trace_id.encode()).hexdigest()[:16]


def _wrap_note(note: str, width: int = 0) -> str:
    """A figure note broken into lines of at most ``width`` (default
    ``_NOTE_WIDTH``) characters."""
    return "<br>".join(textwrap.wrap(note, width or _NOTE_WIDTH)) if note else ""


def _note_lines(note: str, width: int = 0) -> int:
    return len(textwrap.wrap(note, width or _NOTE_WIDTH)) if note else 0


def _wrap_title(title: str, width: int) -> str:
    """A subplot or figure title broken at spaces into lines of at most ``width``
    characters (plotly never wraps text: long titles of neighbouring subplots
    print over each other)."""
    return "<br>".join(textwrap.wrap(title, width)) if title else ""


def is_static_build() -> bool:
    """True while the book is being built (``LM_SIMS_STATIC=1``): render static HTML."""
    return os.environ.get("LM_SIMS_STATIC", "") not in ("", "0")


# -- argument checks (the numeric ones are lm_sims._config's) ----------------------


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be True or False, got {name}={value!r} "
            f"({type(value).__name__})"
        )


def _check_str(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a string{' or None' if optional else ''}, got "
            f"{name}={value!r} ({type(value).__name__})"
        )


def _numbers(name: str, value: Any) -> np.ndarray:
    """``value`` as a float array; TypeError naming ``name`` if it holds anything
    but real numbers (strings, None, objects)."""
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        if a.dtype.kind == "O":
            try:
                a = a.astype(float)
            except (TypeError, ValueError):
                pass
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must hold real numbers, got {name} of dtype {a.dtype} "
                f"({textwrap.shorten(repr(value), 60)})"
            )
    return a.astype(float)


def _is_number(v: Any) -> bool:
    return not isinstance(v, (bool, np.bool_)) and isinstance(
        v, (int, float, np.integer, np.floating)
    )


@dataclass(frozen=True)
class Knob:
    """One control of an explorer.

    Args:
        name: keyword argument of the panel function this knob sets.
        values: the values precomputed for the static HTML (at least one). Numbers or
            strings. A knob with one value shows no slider in the static page.
        low, high: the live range of a continuous numeric knob. Leave both ``None``
            for a discrete knob, whose live control offers ``live`` (default
            ``values``).
        log: continuous knob on a log scale (needs ``low > 0``).
        label: text shown next to the control (defaults to ``name``).
        default: the initial value (defaults to the middle of ``values``).
        live: the values a discrete knob's live control offers, a superset of
            ``values`` (default ``values``): e.g. widths the static page does not
            precompute. A knob with a single live option gets no live control.

    Raises:
        ValueError: a ``name`` that is not an identifier; empty or repeated
            ``values``; a non-finite value; only one of ``low`` / ``high``;
            non-finite ends or ``low >= high``; ``log`` with ``low <= 0``; a static
            value outside ``[low, high]``; a ``default`` that is not one of
            ``values``; ``live`` on a continuous knob, or a ``live`` that misses a
            static value or repeats one.
        TypeError: ``values`` a string or not a sequence, a value that is neither
            a number nor a string, non-numeric ``low`` / ``high`` or values of a
            continuous knob, a non-bool ``log``, a non-string ``label``.

    Example:
        >>> Knob("lr", (0.01, 0.1), low=1e-3, high=1.0, log=True).default
        0.01
        >>> Knob("lr", (0.01,), low=0.01, high=1.0, log=True).clamp(
        ...     10 ** math.log10(0.01))  # a log slider's leftmost value
        0.01
    """

    name: str
    values: Sequence[Any]
    low: float | None = None
    high: float | None = None
    log: bool = False
    label: str | None = None
    default: Any = None
    live: Sequence[Any] | None = None

    def __post_init__(self):
        _check_str("name", self.name)
        if not self.name.isidentifier():
            raise ValueError(
                "name must be a Python identifier (the panel function's keyword), "
                f"got name={self.name!r}"
            )
        what = f"knob {self.name!r}"
        if isinstance(self.values, (str, bytes)) or not isinstance(
            self.values, (Sequence, np.ndarray, range)
        ):
            raise TypeError(
                f"{what}: values must be a sequence of numbers or strings, got "
                f"values={self.values!r} ({type(self.values).__name__})"
            )
        values = tuple(
            v.item() if isinstance(v, np.generic) else v for v in self.values
        )
        object.__setattr__(self, "values", values)
        if not values:
            raise ValueError(f"{what}: values must not be empty")
        for v in values:
            if not (_is_number(v) or isinstance(v, str)):
                raise TypeError(
                    f"{what}: each value must be a number or a string, got "
                    f"{v!r} ({type(v).__name__}) in values={values!r}"
                )
            if _is_number(v) and not math.isfinite(v):
                raise ValueError(f"{what}: values must be finite, got {v!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{what}: values must be distinct, got {values!r}")
        _check_bool(f"{what}: log", self.log)
        _check_str(f"{what}: label", self.label, optional=True)
        if (self.low is None) != (self.high is None):
            raise ValueError(f"{what}: give both low and high, or neither")
        if self.log and not self.continuous:
            raise ValueError(f"{what}: log=True needs a live range low, high")
        if self.continuous:
            check_real(f"{what}: low", self.low)
            check_real(f"{what}: high", self.high)
            object.__setattr__(self, "low", float(self.low))
            object.__setattr__(self, "high", float(self.high))
            if not self.low < self.high:
                raise ValueError(
                    f"{what}: low must be < high, got low={self.low}, high={self.high}"
                )
            if self.log and self.low <= 0:
                raise ValueError(
                    f"{what}: a log knob needs low > 0, got low={self.low}"
                )
            for v in values:
                self.check(v)
        if self.live is not None:
            if self.continuous:
                raise ValueError(
                    f"{what}: live lists discrete live values; a continuous knob "
                    "has its live range low, high"
                )
            live = Knob(self.name, self.live).values  # the same checks as values
            missing = [v for v in values if v not in live]
            if missing:
                raise ValueError(
                    f"{what}: live must include every static value, missing "
                    f"{missing} in live={live!r}"
                )
            object.__setattr__(self, "live", live)
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

    @property
    def options(self) -> tuple:
        """The values a discrete knob's live control offers (``live`` or
        ``values``); for a continuous knob, ``values``."""
        return self.live if self.live is not None else self.values

    @property
    def adjustable(self) -> bool:
        """Whether the live explorer gives this knob a control (it does for a
        live range or for at least two discrete options)."""
        return self.continuous or len(self.options) > 1

    def clamp(self, value: Any) -> Any:
        """The value a live control reports, moved into ``[low, high]``.

        A slider's ends are computed in floating point and can fall just outside
        the range (a log slider's leftmost value ``10**log10(low)`` is below
        ``low`` for ``low = 0.05``); a value the control itself produces is always
        valid. Discrete knobs and non-numbers are returned unchanged (and checked
        by :meth:`check`).
        """
        if self.continuous and _is_number(value) and math.isfinite(value):
            return min(max(float(value), self.low), self.high)
        return value

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
        if value not in self.options:
            raise ValueError(
                f"{self.name} must be one of {', '.join(map(repr, self.options))}; "
                f"got {self.name}={value!r}"
            )
        return value


def _place(kind: str, name: str, row: Any, col: Any) -> None:
    for what, v in (("row", row), ("col", col)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(
                f"{kind} {name!r}: {what} must be an integer >= 1, got {what}={v!r}"
            )
        if v < 1:
            raise ValueError(
                f"{kind} {name!r}: {what} must be an integer >= 1, got {what}={v!r}"
            )


@dataclass
class Curve:
    """One line or marker trace, optionally with a shaded band.

    ``role`` is ``"theory"`` (dashed) or ``"simulation"`` (solid). A curve with
    ``lower`` and ``upper`` is a band: the region between them is filled in the
    curve's colour under its line (mean +- spread over seeds; see :func:`band`).

    Args:
        x, y: (points,) arrays of equal length. Non-finite points are dropped before
            plotting (a diverged run is cut, never drawn as NaN).
        name: legend text.
        role: ``"simulation"`` or ``"theory"``.
        group: colour index (curves of one mode/quantity share a group).
        col: 1-based subplot column.
        mode: ``"lines"``, ``"markers"`` or ``"lines+markers"``.
        error_y: optional (points,) error-bar half-widths.
        showlegend: whether the curve has a legend entry.
        breaks: if True, a NaN in ``x`` or ``y`` splits the curve into separate
            polylines instead of being dropped (runs of NaN collapse to one gap;
            leading and trailing NaN are removed; infinities are still dropped).
            Draws many short paths, e.g. one per neuron, as one trace.
        row: 1-based subplot row.
        secondary_y: plot against the subplot's second (right) y axis; the explorer
            must declare one there (``Explorer(secondary_y=...)``).
        lower, upper: optional (points,) edges of the band (both or neither);
            a point where either is non-finite is dropped.
        band_label: what the band shows, for the figure's key (e.g. "mean ± 1 s.d.
            over 8 seeds"); default "uncertainty band".
        id: the trace's key, matched across knob values (static frames and live
            updates); unique within a panel. Default: ``name``.
        thin: if True, a thinner, translucent line (width 1, opacity 0.5): a
            secondary curve of the same quantity as a bold one in its colour
            (e.g. a raw series under its moving average).

    Raises:
        ValueError: unknown ``role`` or ``mode``; arrays of different lengths; only one
            of ``lower`` / ``upper``; ``lower > upper``; a negative ``error_y``; a
            band with ``breaks``; ``row`` or ``col`` < 1; ``group`` < 0.
        TypeError: a non-string ``name``, ``id`` or ``band_label``; arrays that
            hold anything but numbers; a non-integer ``row``, ``col`` or ``group``;
            a non-bool flag (``showlegend``, ``breaks``, ``secondary_y``, ``thin``).

    Example:
        >>> c = Curve([0, 1, 2], [1.0, float("nan"), 3.0], "loss")
        >>> c.x.tolist(), c.id
        ([0.0, 2.0], 'loss')
        >>> Curve([0, 1], [1, 2], "mean", lower=[0, 1], upper=[2, 3]).is_band
        True
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
    row: int = 1
    secondary_y: bool = False
    lower: Any = None
    upper: Any = None
    band_label: str = ""
    id: str | None = None
    thin: bool = False

    def __post_init__(self):
        _check_str("name", self.name)
        what = f"curve {self.name!r}"
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got role={self.role!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got mode={self.mode!r}")
        _place("curve", self.name, self.row, self.col)
        check_int(f"{what}: group", self.group, minimum=0)
        for flag in ("showlegend", "breaks", "secondary_y", "thin"):
            _check_bool(f"{what}: {flag}", getattr(self, flag))
        _check_str(f"{what}: band_label", self.band_label)
        _check_str(f"{what}: id", self.id, optional=True)
        self.id = str(self.name if self.id is None else self.id)
        x = _numbers(f"{what}: x", self.x).reshape(-1)
        y = _numbers(f"{what}: y", self.y).reshape(-1)
        if x.shape != y.shape:
            raise ValueError(
                f"curve {self.name!r}: x and y must have equal length, got "
                f"{x.size} and {y.size}"
            )
        if (self.lower is None) != (self.upper is None):
            raise ValueError(
                f"curve {self.name!r}: give both lower and upper, or neither"
            )
        keep = np.isfinite(x) & np.isfinite(y)
        lo = hi = None
        if self.lower is not None:
            if self.breaks:
                raise ValueError(f"curve {self.name!r}: a band cannot have breaks")
            lo = _numbers(f"{what}: lower", self.lower).reshape(-1)
            hi = _numbers(f"{what}: upper", self.upper).reshape(-1)
            if lo.shape != y.shape or hi.shape != y.shape:
                raise ValueError(
                    f"curve {self.name!r}: lower and upper must match y's length "
                    f"{y.size}, got {lo.size} and {hi.size}"
                )
            keep &= np.isfinite(lo) & np.isfinite(hi)
            if np.any(lo[keep] > hi[keep]):
                i = int(np.flatnonzero(keep & (lo > hi))[0])
                raise ValueError(
                    f"curve {self.name!r}: lower must be <= upper, got "
                    f"lower={float(lo[i])!r} > upper={float(hi[i])!r} at index {i}"
                )
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
            err = _numbers(f"{what}: error_y", self.error_y).reshape(-1)
            if err.shape != y.shape:
                raise ValueError(
                    f"curve {self.name!r}: error_y must match y's length {y.size}, "
                    f"got {err.size}"
                )
            if np.any(err < 0):
                raise ValueError(
                    f"curve {self.name!r}: error_y must be >= 0 (half-widths), got "
                    f"error_y={float(err[err < 0][0])!r}"
                )
            keep &= np.isfinite(err) | gap
            err = np.where(gap, np.nan, err)[keep]
        x, y = np.where(gap, np.nan, x), np.where(gap, np.nan, y)
        self.x, self.y, self.error_y = x[keep], y[keep], err
        if lo is not None:
            self.lower, self.upper = lo[keep], hi[keep]

    @property
    def is_band(self) -> bool:
        """True for a curve drawn with a shaded band (``lower`` / ``upper``)."""
        return self.lower is not None


@dataclass
class Heatmap:
    """A matrix drawn as coloured cells, with a colour bar (CKA, Hessian, AGOP).

    Row 0 of ``z`` is drawn at the top, as a matrix is printed.

    Args:
        z: (ny, nx) values. Non-finite cells are left blank (never drawn as NaN).
        name: what the matrix is (hover text and the colour bar's default title).
        x: (nx,) column labels, numbers or strings (default 0 .. nx - 1).
        y: (ny,) row labels (default 0 .. ny - 1).
        row, col: 1-based subplot.
        colorscale: ``"sequential"`` (:data:`SEQUENTIAL`, for values such as CKA in
            [0, 1]), ``"diverging"`` (:data:`DIVERGING`, centred on zero, for
            signed matrices) or any plotly colour-scale name.
        zmin, zmax: fixed ends of the colour scale; set them so that colours mean
            the same at every knob value (default: each frame's own range).
        colorbar_title: title of the colour bar (default ``name``).
        showscale: draw the colour bar (heatmaps that share ``zmin``/``zmax`` need
            only one).
        id: the trace's key (default ``name``).

    Raises:
        ValueError: ``z`` not 2-D or empty; labels of the wrong length; non-finite
            ``zmin`` / ``zmax`` or ``zmin >= zmax``; ``row`` or ``col`` < 1.
        TypeError: a non-numeric ``z``; a non-string ``name``, ``id`` or
            ``colorbar_title``; a malformed ``colorscale``; non-integer ``row`` /
            ``col``; a non-bool ``showscale``.

    Example:
        >>> h = Heatmap([[1.0, 0.5], [0.5, 1.0]], "CKA", x=["l1", "l2"], y=["l1", "l2"])
        >>> h.z.shape, h.id
        ((2, 2), 'CKA')
    """

    z: Any
    name: str
    x: Any = None
    y: Any = None
    row: int = 1
    col: int = 1
    colorscale: Any = "sequential"
    zmin: float | None = None
    zmax: float | None = None
    colorbar_title: str | None = None
    id: str | None = None
    showscale: bool = True

    def __post_init__(self):
        _check_str("name", self.name)
        what = f"heatmap {self.name!r}"
        _place("heatmap", self.name, self.row, self.col)
        _check_str(f"{what}: id", self.id, optional=True)
        _check_str(f"{what}: colorbar_title", self.colorbar_title, optional=True)
        _check_bool(f"{what}: showscale", self.showscale)
        if isinstance(self.colorscale, str):
            if not self.colorscale:
                raise ValueError(f"{what}: colorscale must not be empty")
        elif not isinstance(self.colorscale, Sequence) or not all(
            isinstance(p, Sequence) and len(p) == 2 for p in self.colorscale
        ):
            raise TypeError(
                f"{what}: colorscale must be 'sequential', 'diverging', a plotly "
                "colour-scale name or a sequence of (position, colour) pairs, got "
                f"colorscale={self.colorscale!r}"
            )
        for end in ("zmin", "zmax"):
            if getattr(self, end) is not None:
                check_real(f"{what}: {end}", getattr(self, end))
        self.id = str(self.name if self.id is None else self.id)
        z = _numbers(f"{what}: z", self.z)
        if z.ndim != 2 or z.size == 0:
            raise ValueError(
                f"heatmap {self.name!r}: z must be a non-empty 2-D array, got shape "
                f"{z.shape}"
            )
        self.z = np.where(np.isfinite(z), z, np.nan)
        ny, nx = z.shape
        for axis, n in (("x", nx), ("y", ny)):
            labels = getattr(self, axis)
            labels = list(range(n)) if labels is None else list(np.asarray(labels))
            if len(labels) != n:
                raise ValueError(
                    f"heatmap {self.name!r}: {axis} needs {n} labels (z has shape "
                    f"{z.shape}), got {len(labels)}"
                )
            setattr(self, axis, [_plain(v) for v in labels])
        if self.zmin is not None and self.zmax is not None and self.zmin >= self.zmax:
            raise ValueError(
                f"heatmap {self.name!r}: zmin must be < zmax, got zmin={self.zmin}, "
                f"zmax={self.zmax}"
            )
        if self.colorbar_title is None:
            self.colorbar_title = self.name


def _plain(v: Any) -> Any:
    """A label as a JSON-able Python value (numpy scalars to int/float/str)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


@dataclass
class Panel:
    """What a panel function returns: traces (curves, heatmaps) and a note.

    Args:
        curves: the traces, :class:`Curve` or :class:`Heatmap` (any sequence; kept
            as a list).
        note: text shown above the plots (e.g. "Diverged at step 12"), or "".

    Raises:
        TypeError: ``curves`` not a sequence of traces, or a non-string ``note``.

    Example:
        >>> Panel((Curve([0, 1], [0, 1], "c"),)).curves[0].id
        'c'
    """

    curves: list[Curve | Heatmap]
    note: str = ""

    def __post_init__(self):
        if isinstance(self.curves, (str, bytes)) or not isinstance(
            self.curves, Sequence
        ):
            raise TypeError(
                "curves must be a list of Curve and Heatmap traces, got "
                f"curves={self.curves!r} ({type(self.curves).__name__})"
            )
        self.curves = list(self.curves)
        for i, item in enumerate(self.curves):
            if not isinstance(item, (Curve, Heatmap)):
                raise TypeError(
                    f"curves[{i}] must be a Curve or a Heatmap, got "
                    f"{type(item).__name__}"
                )
        _check_str("note", self.note)


def band(
    x: Any,
    samples: Any,
    name: str,
    *,
    spread: str = "std",
    **kwargs: Any,
) -> Curve:
    """A curve of the mean over seeds with a shaded band of their spread.

    Args:
        x: (points,) x values.
        samples: (num_seeds, points) one row per seed (or run).
        name: legend text.
        spread: the band: ``"std"`` mean +- one standard deviation over seeds
            (ddof = 1), ``"sem"`` mean +- the standard error of the mean (s.d. /
            sqrt(num_seeds)), ``"range"`` from the smallest to the largest seed.
        **kwargs: any other :class:`Curve` argument (role, group, row, col, id ...).

    Returns:
        A :class:`Curve` with ``lower`` / ``upper`` set and a ``band_label`` such as
        "mean ± 1 s.d. over 8 seeds". A point where any seed is non-finite (a run
        that diverged) is dropped: the mean of the survivors would be biased.

    Raises:
        ValueError: ``samples`` not 2-D, fewer than 2 seeds, a number of points that
            differs from ``x``'s, or an unknown ``spread``.
        TypeError: ``x`` or ``samples`` holding anything but numbers, a non-string
            ``name``.

    Example:
        >>> import numpy as np
        >>> c = band([0, 1], np.array([[1.0, 2.0], [3.0, 4.0]]), "loss")
        >>> c.y.tolist(), c.lower.tolist(), c.band_label
        ([2.0, 3.0], [0.5858, 1.5858], 'mean ± 1 s.d. over 2 seeds')
    """
    _check_str("name", name)
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {SPREADS}, got spread={spread!r}")
    s = _numbers(f"band {name!r}: samples", samples)
    x = _numbers(f"band {name!r}: x", x)
    if s.ndim != 2 or s.shape[0] < 2:
        raise ValueError(
            f"band {name!r}: samples must have shape (num_seeds >= 2, points), got "
            f"shape {s.shape}"
        )
    n = s.shape[0]
    if s.shape[1] != np.asarray(x).reshape(-1).size:
        raise ValueError(
            f"band {name!r}: samples has {s.shape[1]} points, x has "
            f"{np.asarray(x).size}"
        )
    ok = np.all(np.isfinite(s), axis=0)
    s = np.where(ok, s, 0.0)
    mean = s.mean(axis=0)
    if spread == "range":
        lower, upper = s.min(axis=0), s.max(axis=0)
        label = f"range over {n} seeds"
    else:
        half = s.std(axis=0, ddof=1)
        if spread == "sem":
            half = half / math.sqrt(n)
        lower, upper = mean - half, mean + half
        label = f"mean ± 1 {'s.d.' if spread == 'std' else 's.e.m.'} over {n} seeds"
    nan = np.where(ok, 0.0, np.nan)
    kwargs.setdefault("band_label", label)
    return Curve(x, mean + nan, name, lower=lower + nan, upper=upper + nan, **kwargs)


def paired_curves(
    x: Any,
    simulation: Any,
    theory: Any,
    labels: Sequence[str],
    *,
    theory_x: Any = None,
    col: int = 1,
    row: int = 1,
) -> list[Curve]:
    """Curves for several quantities, each as simulation (solid) and theory (dashed).

    One legend entry per quantity (its colour); the theory curve shares the entry
    (clicking it toggles both). The figure's key above the axes says "solid:
    simulation · dashed: theory".

    Args:
        x: (points,) shared x values of the simulation.
        simulation: (points, k) simulated values, one column per quantity.
        theory: (points_th, k) predicted values.
        labels: k legend labels.
        theory_x: (points_th,) x values of the theory (default: ``x``).
        col, row: subplot.

    Raises:
        ValueError: ``simulation`` or ``theory`` whose shape is not (points, k)
            with ``k = len(labels)`` and points matching their x values.
        TypeError: non-numeric arrays; ``labels`` not a sequence of strings.

    Example:
        >>> [c.id for c in paired_curves([0, 1], [[1], [2]], [[1], [2]], ["u"])]
        ['u', 'u (theory)']
    """
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a sequence of strings, got labels={labels!r}")
    for label in labels:
        _check_str("each label", label)
    k = len(labels)
    theory_x = x if theory_x is None else theory_x
    arrays = {}
    for what, values, xs in (
        ("simulation", simulation, x),
        ("theory", theory, theory_x),
    ):
        n = _numbers("x" if what == "simulation" else "theory_x", xs).size
        a = _numbers(what, values)
        if a.ndim == 1 and k == 1:
            a = a[:, None]
        if a.shape != (n, k):
            raise ValueError(
                f"{what} must have shape (points, k) = ({n}, {k}) (points of its x "
                f"values, one column per label), got shape {a.shape}"
            )
        arrays[what] = a
    simulation, theory = arrays["simulation"], arrays["theory"]
    curves = []
    for i, label in enumerate(labels):
        curves.append(
            Curve(x, simulation[:, i], label, "simulation", group=i, col=col, row=row)
        )
        curves.append(
            Curve(
                theory_x,
                theory[:, i],
                f"{label} (theory)",
                "theory",
                group=i,
                col=col,
                row=row,
                showlegend=False,
            )
        )
    return curves


def _round(a: Any) -> list:
    """Floats rounded to a few significant digits, as plain JSON numbers (NaN, a
    curve's break or a blank heatmap cell, and infinities become ``null``)."""
    a = np.asarray(a, dtype=float)
    if a.ndim > 1:
        return [_round(r) for r in a]
    if a.size == 0:
        return []
    return [
        float(f"{v:.{_SIG_DIGITS}g}") if math.isfinite(v) else None for v in a.tolist()
    ]


# -- records: one JSON-able description of a trace, shared by static and live ------


def _style(item: Curve | Heatmap) -> dict:
    """Everything about a trace except its data (the same at every knob value)."""
    if isinstance(item, Heatmap):
        return {
            "kind": "heatmap",
            "id": item.id,
            "name": item.name,
            "row": int(item.row),
            "col": int(item.col),
            "colorscale": item.colorscale,
            "zmin": item.zmin,
            "zmax": item.zmax,
            "colorbar_title": item.colorbar_title,
            "showscale": bool(item.showscale),
            # string labels need category axes: on the book's linear axes plotly
            # cannot place them and draws nothing (NaN image size)
            "x_category": any(isinstance(v, str) for v in item.x),
            "y_category": any(isinstance(v, str) for v in item.y),
        }
    return {
        "kind": "curve",
        "id": item.id,
        "name": item.name,
        "role": item.role,
        "group": int(item.group),
        "row": int(item.row),
        "col": int(item.col),
        "mode": item.mode,
        "showlegend": bool(item.showlegend),
        "secondary_y": bool(item.secondary_y),
        "band": item.is_band,
        "band_label": item.band_label,
        "error": item.error_y is not None,
        "thin": bool(getattr(item, "thin", False)),
    }


def _data(item: Curve | Heatmap, static: bool) -> dict:
    """A trace's data: rounded lists for the page, arrays for the live figure."""
    conv = _round if static else (lambda a: a)
    if isinstance(item, Heatmap):
        return {"z": conv(item.z), "x": list(item.x), "y": list(item.y)}
    d = {"x": conv(item.x), "y": conv(item.y)}
    if item.error_y is not None:
        d["e"] = conv(item.error_y)
    if item.is_band:
        d["lo"], d["hi"] = conv(item.lower), conv(item.upper)
    return d


def _band_xy(data: dict) -> tuple[list, list]:
    """The closed outline of a band: along ``upper``, back along ``lower``."""
    x, lo, hi = (list(np.asarray(data[k]).tolist()) for k in ("x", "lo", "hi"))
    return x + x[::-1], hi + lo[::-1]


def _subtitle(styles: Sequence[dict]) -> str:
    """The figure's key: only the roles and trace kinds actually drawn."""
    curves = [s for s in styles if s["kind"] == "curve"]
    sim = [s for s in curves if s["role"] == "simulation"]
    parts = []
    lines = any("lines" in s["mode"] for s in sim)
    markers = any(s["mode"] == "markers" for s in sim)
    if lines or markers:  # one entry for the role, naming each mark it uses
        marks = "solid" if not markers else ("solid or markers" if lines else "markers")
        parts.append(f"{marks}: simulation")
    if any(s["role"] == "theory" for s in curves):
        parts.append("dashed: theory")
    labels = dict.fromkeys(
        s["band_label"] or "uncertainty band" for s in curves if s["band"]
    )
    parts += [f"shaded: {label}" for label in labels]
    return " · ".join(parts)


def _theory_last(styles: Sequence[dict]) -> list[int]:
    """Drawing order: theory curves after (so above) everything else, where they
    coincide with a simulation; otherwise the panel's order."""
    return sorted(range(len(styles)), key=lambda i: styles[i].get("role") == "theory")


def _legend_key(styles: Sequence[dict]) -> list[dict]:
    """Legend entries, in grey, that say which marks are theory and which are
    simulation, for the roles and marks actually drawn (no data of their own)."""
    curves = [s for s in styles if s["kind"] == "curve"]
    sim = [s for s in curves if s["role"] == "simulation"]
    entries = []
    if any(s["role"] == "theory" for s in curves):
        entries.append(("theory (dashed)", "lines", "dash"))
    if any("lines" in s["mode"] for s in sim):
        entries.append(("simulation (solid)", "lines", "solid"))
    if any(s["mode"] == "markers" for s in sim):
        entries.append(("simulation (markers)", "markers", "solid"))
    return [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "name": name,
            "mode": mode,
            "line": {"color": _KEY_COLOR, "dash": dash, "width": 2},
            "marker": {"color": _KEY_COLOR, "size": 7},
            "showlegend": True,
            "legendgroup": "lm-key",
            "legendrank": k + 1,
            "hoverinfo": "skip",
            "xaxis": "x",
            "yaxis": "y",
            "meta": "::key",
            "uid": _uid(f"::key::{name}"),
        }
        for k, (name, mode, dash) in enumerate(entries)
    ]


def _cells(
    name: str, value: Any, rows: int, cols: int, kind: type | None = None
) -> list[list]:
    """A per-subplot setting as a rows x cols grid: one value for all subplots, one
    per column (every row alike), one per subplot in row-major order, or nested.
    With ``kind`` (``str`` or ``bool``), every cell must be of that type."""
    if value is None or isinstance(value, (str, bool, int, float, np.bool_)):
        cells = [[value] * cols for _ in range(rows)]
    else:
        if not isinstance(value, (Sequence, np.ndarray)):
            raise TypeError(
                f"{name} must be one value or a sequence of values, got "
                f"{name}={value!r} ({type(value).__name__})"
            )
        value = list(value)
        cells = None
        if value and all(isinstance(v, (list, tuple)) for v in value):
            if len(value) == rows and all(len(v) == cols for v in value):
                cells = [list(v) for v in value]
        elif len(value) == cols:
            cells = [list(value) for _ in range(rows)]
        elif len(value) == rows * cols:
            cells = [value[r * cols : (r + 1) * cols] for r in range(rows)]
        if cells is None:
            raise ValueError(
                f"{name} needs one value, one per column ({cols}), one per subplot "
                f"({rows * cols}, row by row) or a {rows} x {cols} nested list; "
                f"got {value!r}"
            )
    if kind is not None:
        check = _check_bool if kind is bool else _check_str
        for r, row in enumerate(cells):
            for c, v in enumerate(row):
                check(f"{name} (row {r + 1}, col {c + 1})", v)
    return cells


_MIN_HEIGHT, _MAX_HEIGHT = 150, 5000  # pixels: room for a title and one plot; a
# figure taller than a few screens is a mistake


def _check_panel_signature(panel: Callable, names: Sequence[str]) -> None:
    """Raise TypeError unless ``panel`` accepts every knob as a keyword and needs
    no other argument (checked before anything is computed)."""
    import inspect

    try:
        sig = inspect.signature(panel)
    except (TypeError, ValueError):  # builtins and some C callables: cannot tell
        return
    params = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        accepted = None
    else:
        accepted = {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
    missing = [n for n in names if accepted is not None and n not in accepted]
    required = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
        and p.name not in names
    ]
    if missing or required:
        raise TypeError(
            f"panel{sig} must take each knob as a keyword argument and need no "
            f"other: knobs {list(names)}"
            + (f"; not accepted: {missing}" if missing else "")
            + (f"; required but not a knob: {required}" if required else "")
        )


_SHARED = (False, True, "columns", "rows", "all")


class Explorer:
    """Theory vs simulation, explorable by knobs, in the book (static) or live.

    Args:
        panel: ``panel(**{knob.name: value}) -> Panel``. Trace ids must be unique
            within a panel; a trace is matched across knob values by its id.
        knobs: the controls, in the order shown.
        title: figure title. A key under it names what the line styles and shading
            show, for the roles present only.
        x_title, y_title: axis titles with units: one string, one per column, one
            per subplot (row by row) or a ``rows x cols`` nested list.
        log_x, log_y: log axes, given like the titles.
        y_range: a fixed ``(low, high)`` for a linear y axis, or ``None`` (the
            default) to fit each frame's data; given like ``log_y``. Use it where
            the data can be constant (a fraction that is exactly 0 would otherwise
            be drawn on a meaningless axis from -1 to 1).
        cols, rows: the grid of subplots (plotly's ``make_subplots``).
        subplot_titles: one title per column, or per subplot (row by row).
        height: plot height in pixels, without the sliders (default 420 for one
            row, 300 per row plus 140 for several).
        shared_x, shared_y: link axes as ``make_subplots`` does: ``True`` or
            ``"columns"`` (x: subplots of a column share x), ``"rows"``, ``"all"``;
            only the outer subplots show the shared axis' labels and title.
        secondary_y: give a subplot a second y axis on its right, given like
            ``log_y``; a curve goes there with ``Curve(secondary_y=True)``.
        y2_title, log_y2: title and log scale of the second y axes, given like
            ``y_title``.
        max_states: the most knob combinations the static page may precompute
            (default :data:`MAX_STATES`, from the book's 3 MB page-weight target).
        equal_aspect: pin a subplot's y scale to its x scale (one unit is as long
            on both axes), given like ``log_y``; for planes where directions and
            angles mean something (neuron positions, 2-D inputs).

    Raises:
        ValueError: duplicate knob names; a per-subplot setting of the wrong length;
            ``rows`` or ``cols`` outside 1 .. 12; ``height`` outside 150 .. 5000
            pixels; ``max_states`` < 1; an unknown ``shared_x`` / ``shared_y``; a
            ``y_range`` that is not finite ``(low, high)`` with ``low < high`` on a
            linear axis.
        TypeError: a ``panel`` that is not callable or does not take every knob
            as a keyword (or needs another argument); ``knobs`` that are not
            :class:`Knob`; non-integer sizes; titles that are not strings; log and
            secondary-axis flags that are not bools.

    Displaying the object in a notebook shows the static figure during a book build
    and live widgets otherwise. :meth:`static_html` and :meth:`widget` give each
    explicitly.

    Example:
        >>> import numpy as np
        >>> def panel(lr):
        ...     t = np.arange(10.0)
        ...     return Panel([Curve(t, np.exp(-lr * t), "loss")])
        >>> ex = Explorer(panel, [Knob("lr", (0.1, 0.2))], y_title="loss")
        >>> [c.id for c in ex.evaluate(lr=0.2).curves], len(ex.grid())
        (['loss'], 2)
    """

    def __init__(
        self,
        panel: Callable[..., Panel],
        knobs: Sequence[Knob],
        *,
        title: str = "",
        x_title: str | Sequence = "",
        y_title: str | Sequence = "",
        log_x: bool | Sequence = False,
        log_y: bool | Sequence = False,
        cols: int = 1,
        subplot_titles: Sequence[str] | None = None,
        height: int | None = None,
        rows: int = 1,
        shared_x: bool | str = False,
        shared_y: bool | str = False,
        secondary_y: bool | Sequence = False,
        y2_title: str | Sequence = "",
        log_y2: bool | Sequence = False,
        max_states: int = MAX_STATES,
        y_range: Sequence | None = None,
        equal_aspect: bool | Sequence = False,
    ):
        check_callable("panel", panel, optional=False)
        if isinstance(knobs, (str, bytes)) or not isinstance(knobs, Sequence):
            raise TypeError(f"knobs must be a sequence of Knob, got knobs={knobs!r}")
        for i, k in enumerate(knobs):
            if not isinstance(k, Knob):
                raise TypeError(
                    f"knobs[{i}] must be a Knob, got {k!r} ({type(k).__name__})"
                )
        names = [k.name for k in knobs]
        if len(set(names)) != len(names):
            raise ValueError(f"knob names must be unique, got {names}")
        _check_panel_signature(panel, names)
        _check_str("title", title)
        for what, n, hi in (
            ("rows", rows, 12),
            ("cols", cols, 12),
            ("max_states", max_states, None),
        ):
            check_int(what, n, minimum=1, maximum=hi)
        if height is not None:
            check_int("height", height, minimum=_MIN_HEIGHT, maximum=_MAX_HEIGHT)
        for what, s in (("shared_x", shared_x), ("shared_y", shared_y)):
            if not isinstance(s, (bool, str)) or s not in _SHARED:
                raise ValueError(f"{what} must be one of {_SHARED}, got {what}={s!r}")
        self.panel_fn = panel
        self.knobs = tuple(knobs)
        self.title = title
        self.rows, self.cols = int(rows), int(cols)
        r, c = self.rows, self.cols
        self.x_title = _cells("x_title", x_title, r, c, str)
        self.y_title = _cells("y_title", y_title, r, c, str)
        self.log_x = _cells("log_x", log_x, r, c, bool)
        self.log_y = _cells("log_y", log_y, r, c, bool)
        one_range = (
            isinstance(y_range, (tuple, list))
            and len(y_range) == 2
            and all(isinstance(v, (int, float)) for v in y_range)
        )
        self.y_range = (
            [[tuple(y_range)] * c for _ in range(r)]
            if one_range
            else _cells("y_range", y_range, r, c)
        )
        for row, logs in zip(self.y_range, self.log_y, strict=True):
            for rng, is_log in zip(row, logs, strict=True):
                if rng is None:
                    continue
                ok = (
                    isinstance(rng, (tuple, list))
                    and len(rng) == 2
                    and all(_is_number(v) and math.isfinite(v) for v in rng)
                )
                if is_log or not ok or not float(rng[0]) < float(rng[1]):
                    raise ValueError(
                        "y_range must be None or (low, high), finite numbers with "
                        f"low < high, on a linear axis, got y_range={y_range!r}"
                    )
        self.secondary_y = _cells("secondary_y", secondary_y, r, c, bool)
        self.equal_aspect = _cells("equal_aspect", equal_aspect, r, c, bool)
        for eq, lx, ly in zip(self.equal_aspect, self.log_x, self.log_y, strict=True):
            for e, a, b in zip(eq, lx, ly, strict=True):
                if e and a != b:
                    raise ValueError(
                        "equal_aspect needs both axes of a subplot linear or both "
                        f"log, got equal_aspect={equal_aspect!r}, log_x={log_x!r}, "
                        f"log_y={log_y!r}"
                    )
        self.y2_title = _cells("y2_title", y2_title, r, c, str)
        self.log_y2 = _cells("log_y2", log_y2, r, c, bool)
        if isinstance(subplot_titles, str):
            raise TypeError(
                "subplot_titles must be a sequence of strings (one per column or "
                f"per subplot), got the string {subplot_titles!r}"
            )
        self.subplot_titles = (
            None
            if subplot_titles is None
            else _cells("subplot_titles", list(subplot_titles), r, c, str)
        )
        self.shared_x, self.shared_y = shared_x, shared_y
        self.height = (
            int(420 if rows == 1 else 300 * rows + 140)
            if height is None
            else int(height)
        )
        self.max_states = int(max_states)
        self._base = None
        self._controls: dict[str, Any] = {}
        self._output = None
        #: The live figure shown now, a plotly figure dict (keys ``data``,
        #: ``layout`` and ``config``); None before :meth:`widget` is called.
        self.figure: dict | None = None
        self.last_update_s: float | None = None

    # -- evaluation -----------------------------------------------------------------

    def evaluate(self, **values) -> Panel:
        """Validate knob values (missing ones take their default) and call the panel.

        Raises:
            ValueError, TypeError: an unknown knob, or a value outside a knob's range;
                a panel that is not a :class:`Panel`, repeats a trace id, or puts a
                trace outside the grid or on a second y axis the subplot lacks.
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
        self._check(panel)
        return panel

    def _check(self, panel: Panel) -> None:
        seen = set()
        for item in panel.curves:
            if not isinstance(item, (Curve, Heatmap)):
                raise TypeError(
                    f"a Panel holds Curve and Heatmap traces, got {type(item)}"
                )
            if item.id in seen:
                raise ValueError(
                    f"trace id {item.id!r} appears twice in one panel; give each "
                    "trace a distinct name or id"
                )
            seen.add(item.id)
            if item.row > self.rows or item.col > self.cols:
                raise ValueError(
                    f"trace {item.id!r} is in subplot row={item.row}, col={item.col}; "
                    f"the grid has rows={self.rows}, cols={self.cols}"
                )
            sec = isinstance(item, Curve) and item.secondary_y
            if sec and not self.secondary_y[item.row - 1][item.col - 1]:
                raise ValueError(
                    f"curve {item.id!r} has secondary_y=True but subplot row="
                    f"{item.row}, col={item.col} has no second y axis; pass "
                    "Explorer(secondary_y=...)"
                )

    def grid(self) -> list[dict]:
        """The static grid: every combination of the knobs' ``values``.

        Raises:
            ValueError: more than ``max_states`` combinations (the message lists
                each knob's number of values).
        """
        sizes = [len(k.values) for k in self.knobs]
        total = math.prod(sizes)
        if total > self.max_states:
            each = ", ".join(
                f"{k.name}: {n} values" for k, n in zip(self.knobs, sizes, strict=True)
            )
            raise ValueError(
                f"explorer {self.title!r} would precompute "
                f"{' x '.join(map(str, sizes))} = {total} states ({each}), more than "
                f"max_states={self.max_states} (the page-weight target is 3 MB). Give "
                "the knobs fewer static values (the live range stays), or raise "
                "max_states if the page stays under 3 MB."
            )
        combos = itertools.product(*(k.values for k in self.knobs))
        names = [k.name for k in self.knobs]
        return [dict(zip(names, c, strict=True)) for c in combos]

    # -- figure ---------------------------------------------------------------------

    def _subplots(self) -> tuple[dict, dict]:
        """The layout of ``make_subplots`` (axes, domains, subplot titles) and each
        subplot's axis names ``(row, col, secondary) -> (xref, yref, xkey, ykey)``."""
        if self._base is not None:
            return self._base
        from plotly.subplots import make_subplots

        rows, cols = self.rows, self.cols
        plot_px = max(self.height - 140, 100)
        row_gap = 45 if self.shared_x in (True, "columns", "all") else 90
        extra = any(
            self.secondary_y[r][c] for r in range(rows) for c in range(cols - 1)
        )
        kwargs: dict[str, Any] = {
            "horizontal_spacing": min(0.12 + 0.06 * extra, 0.9 / max(cols - 1, 1)),
        }
        if rows > 1:
            kwargs["vertical_spacing"] = min(row_gap / plot_px, 0.9 / (rows - 1))
        titles = None
        if self.subplot_titles is not None:
            chars = max(16, _TITLE_CHARS // cols)
            titles = [
                f"<b>{_wrap_title(t, chars)}</b>" if t else ""
                for row in self.subplot_titles
                for t in row
            ]
        fig = make_subplots(
            rows=rows,
            cols=cols,
            shared_xaxes=self.shared_x,
            shared_yaxes=self.shared_y,
            specs=[[{"secondary_y": bool(s)} for s in row] for row in self.secondary_y],
            subplot_titles=titles,
            **kwargs,
        )
        # automargin: long tick labels push the axis title out instead of under it
        # exponentformat "power": 10⁻⁴, never SI prefixes ("100µ" reads like "µP")
        grid = {
            "gridcolor": "rgba(128,128,128,0.25)",
            "zeroline": False,
            "automargin": True,
            "exponentformat": "power",
        }
        x_outer = self.shared_x in (True, "columns", "all")
        y_outer = self.shared_y in (True, "rows", "all")
        refs = {}
        for r, c in itertools.product(range(rows), range(cols)):
            at = {"row": r + 1, "col": c + 1}
            show_x = not x_outer or r == rows - 1
            show_y = not y_outer or c == 0
            fig.update_xaxes(
                title_text=self.x_title[r][c] if show_x else "",
                type="log" if self.log_x[r][c] else "linear",
                **grid,
                **at,
            )
            sec = {"secondary_y": False} if self.secondary_y[r][c] else {}
            fixed = self.y_range[r][c]
            fig.update_yaxes(
                title_text=self.y_title[r][c] if show_y else "",
                type="log" if self.log_y[r][c] else "linear",
                **({"range": list(map(float, fixed))} if fixed is not None else {}),
                **grid,
                **at,
                **sec,
            )
            if self.equal_aspect[r][c]:
                x_name = fig.get_subplot(r + 1, c + 1).xaxis.plotly_name
                fig.update_yaxes(
                    scaleanchor=x_name.replace("axis", ""),
                    scaleratio=1,
                    constrain="domain",
                    **at,
                    **sec,
                )
                fig.update_xaxes(constrain="domain", **at)
            for s in (False, True) if self.secondary_y[r][c] else (False,):
                sub = (
                    fig.get_subplot(r + 1, c + 1, secondary_y=s)
                    if s
                    else (fig.get_subplot(r + 1, c + 1))
                )
                xk, yk = sub.xaxis.plotly_name, sub.yaxis.plotly_name
                refs[(r + 1, c + 1, s)] = (
                    xk.replace("axis", ""),
                    yk.replace("axis", ""),
                    xk,
                    yk,
                )
            if self.secondary_y[r][c]:
                fig.update_yaxes(
                    title_text=self.y2_title[r][c],
                    type="log" if self.log_y2[r][c] else "linear",
                    showgrid=False,
                    zeroline=False,
                    tickmode="auto",  # not synced to the left axis' grid
                    secondary_y=True,
                    **at,
                )
        layout = fig.layout.to_plotly_json()
        layout.pop("template", None)
        for a in layout.get("annotations", []):  # subplot titles
            a["font"] = {"size": 14}
        self._base = (layout, refs)
        return self._base

    def _title(self, styles: Sequence[dict]) -> str:
        key = _subtitle(styles)
        return f"{self.title}<br><sup>{key}</sup>" if key else self.title

    def _layout(
        self, styles: Sequence[dict], note: str, note_lines: int | None = None
    ) -> dict:
        """The figure's layout; ``note_lines`` lines of note are reserved above the
        plots (default: as many as ``note`` needs)."""
        base, refs = self._subplots()
        lines = _note_lines(note) if note_lines is None else note_lines
        layout = copy.deepcopy(base)
        for s in styles:
            if s["kind"] == "heatmap":
                _, _, xk, yk = refs[(s["row"], s["col"], False)]
                for key, axis in (("x_category", xk), ("y_category", yk)):
                    if s[key]:
                        layout[axis]["type"] = "category"
        right = any(
            s["kind"] == "heatmap" and s["col"] == self.cols for s in styles
        ) or any(self.secondary_y[r][-1] for r in range(self.rows))
        legend: dict[str, Any] = {
            "orientation": "v",
            "bgcolor": "rgba(0,0,0,0)",
            **({"x": 1.12, "xanchor": "left"} if right else {}),
        }
        top, height, bottom = self._top(lines), self.height, 60
        if self.cols >= 2 and not right:  # under the plots: the panels keep the width
            names = [
                s["name"] for s in styles if s["kind"] == "curve" and s["showlegend"]
            ] + [t["name"] for t in _legend_key(styles)]
            # the bottom margin grows from 60 px (ticks and x title) to the gap,
            # the legend's rows and ~30 px to spare
            extra = _LEGEND_GAP_PX - 40 + _LEGEND_ROW_PX * _legend_rows(names)
            plot_h = max(height - top - bottom, 100)
            height, bottom = height + extra, bottom + extra
            legend.update(
                orientation="h",
                x=0.0,
                xanchor="left",
                y=-_LEGEND_GAP_PX / plot_h,
                yanchor="top",
                traceorder="normal",  # entries flow in rows, groups not stacked
            )
        layout.update(
            {
                "title": {
                    "text": self._title(styles),
                    "x": 0.02,
                    "xanchor": "left",
                    # at the top, not centred in a top margin that grows with notes
                    "y": 1.0,
                    "yref": "container",
                    "yanchor": "top",
                    "pad": {"t": 12},
                },
                "height": height,
                "margin": {"l": 70, "r": 20, "t": top, "b": bottom},
                "paper_bgcolor": "rgba(0,0,0,0)",
                "plot_bgcolor": "rgba(0,0,0,0)",
                "font": {"color": "#333333"},
                "legend": legend,
                "hovermode": "closest",
                "annotations": [
                    self._note_annotation(note, bool(self.subplot_titles)),
                    *base.get("annotations", []),
                ],
            }
        )
        for s in styles:
            if s["kind"] == "heatmap":
                _, _, xk, yk = refs[(s["row"], s["col"], False)]
                layout[yk].update(autorange="reversed", showgrid=False)
                layout[xk].update(showgrid=False)
        return layout

    def _title_lines(self) -> int:
        """Lines of the tallest subplot title of the top row (0 without titles)."""
        if not self.subplot_titles:
            return 0
        chars = max(16, _TITLE_CHARS // self.cols)
        return max(
            (len(textwrap.wrap(t, chars)) for t in self.subplot_titles[0] if t),
            default=0,
        )

    def _top(self, note_lines: int) -> int:
        """Top margin in pixels: the title and its key line, then the note's lines
        (the note sits above the plots, never over a curve or a subplot title),
        and a subplot title's lines beyond its first."""
        extra = max(self._title_lines() - 1, 0)
        return 80 + _NOTE_LINE_PX * (note_lines + extra)

    def _note_annotation(self, note: str, titled: bool) -> dict:
        return {
            "text": _wrap_note(note),
            "xref": "paper",
            "yref": "paper",
            "x": 0.0,
            "y": 1.0,
            "xanchor": "left",
            "yanchor": "bottom",
            # above the subplot titles
            "yshift": 6 + _NOTE_LINE_PX * self._title_lines() if titled else 6,
            "align": "left",
            "showarrow": False,
            "font": {"color": "#D55E00", "size": 13},
        }

    def _traces(self, style: dict, data: dict) -> list[dict]:
        """The plotly traces of one item: a heatmap; or a band's fill, then its
        line. Each carries its item's id in ``meta`` (``id::band`` for a fill)."""
        base, refs = self._subplots()
        sec = style["kind"] == "curve" and style["secondary_y"]
        xref, yref, xk, yk = refs[(style["row"], style["col"], sec)]
        tid = style["id"]
        if style["kind"] == "heatmap":
            scale = {"sequential": SEQUENTIAL, "diverging": DIVERGING}.get(
                style["colorscale"], style["colorscale"]
            )
            if not isinstance(scale, str):
                scale = [list(p) for p in scale]
            xd, yd = base[xk]["domain"], base[yk]["domain"]
            trace = {
                "type": "heatmap",
                "z": data["z"],
                "x": data["x"],
                "y": data["y"],
                "name": style["name"],
                "colorscale": scale,
                "showscale": style.get("showscale", True),
                "colorbar": {
                    "x": xd[1] + 0.01,
                    "xanchor": "left",
                    "y": (yd[0] + yd[1]) / 2,
                    "yanchor": "middle",
                    "len": yd[1] - yd[0],
                    "thickness": 12,
                    "outlinewidth": 0,
                    "title": {"text": style["colorbar_title"], "side": "right"},
                },
                "hovertemplate": (
                    f"{html.escape(style['name'])}<br>x: %{{x}}<br>y: %{{y}}"
                    "<br>value: %{z:.4g}<extra></extra>"
                ),
                "xaxis": xref,
                "yaxis": yref,
                "meta": tid,
                "uid": _uid(tid),
            }
            for k in ("zmin", "zmax"):
                if style[k] is not None:
                    trace[k] = style[k]
            if style["colorscale"] == "diverging" and style["zmin"] is None:
                trace["zmid"] = 0.0
            return [trace]
        color = PALETTE[style["group"] % len(PALETTE)]
        theory = style["role"] == "theory"
        legendgroup = f"{style['row']}-{style['col']}-{style['group']}"
        line: dict[str, Any] = {
            "type": "scatter",
            "x": data["x"],
            "y": data["y"],
            "name": style["name"],
            "mode": style["mode"],
            "legendgroup": legendgroup,
            "showlegend": style["showlegend"],
            "xaxis": xref,
            "yaxis": yref,
            "line": {
                "color": color,
                "dash": "dash" if theory else "solid",
                "width": 2.5 if theory else 2,
            },
            "marker": {"color": color, "size": 7},
            "meta": tid,
            "uid": _uid(tid),
        }
        if style.get("thin"):
            line["line"]["width"] = 1
            line["opacity"] = 0.5
        if style["error"]:
            line["error_y"] = {
                "type": "data",
                "array": data["e"],
                "visible": True,
                "color": color,
            }
        if not style["band"]:
            return [line]
        bx, by = _band_xy(data)
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        fill = {
            "type": "scatter",
            "x": bx,
            "y": by,
            "name": f"{style['name']} (band)",
            "mode": "lines",
            "fill": "toself",
            "fillcolor": f"rgba({r},{g},{b},0.22)",
            "line": {"width": 0, "color": color},
            "hoverinfo": "skip",
            "legendgroup": legendgroup,
            "showlegend": False,
            "xaxis": xref,
            "yaxis": yref,
            "meta": f"{tid}::band",
            "uid": _uid(f"{tid}::band"),
        }
        return [fill, line]

    def _figure_dict(self, panel: Panel) -> dict:
        styles = [_style(c) for c in panel.curves]
        datas = [_data(c, static=False) for c in panel.curves]
        data = []
        for i in _theory_last(styles):
            for t in self._traces(styles[i], datas[i]):
                t["legendrank"] = 100 + i  # the panel's order, whatever the drawing's
                data.append(t)
        layout = self._layout(styles, panel.note)
        self._log_ticks(layout, styles, [datas])
        return {"data": data + _legend_key(styles), "layout": layout}

    def _log_ticks(
        self, layout: dict, styles: Sequence[dict], frames: Sequence[Sequence]
    ) -> None:
        """Label a log axis at powers of ten only, with unlabelled minor ticks,
        where every frame's data on it span two decades or more, and at 1, 2 and 5
        of each decade where they span half a decade to two (plotly's default
        labels every digit of a decade there, a wall of numbers).
        ``frames``: per frame, each style's data (or None where absent)."""
        _, refs = self._subplots()
        members: dict[tuple[str, str], list[int]] = {}
        for i, st in enumerate(styles):
            if st["kind"] != "curve":
                continue
            r, c, sec = st["row"] - 1, st["col"] - 1, st["secondary_y"]
            _, _, xk, yk = refs[(r + 1, c + 1, sec)]
            if self.log_x[r][c]:
                members.setdefault((xk, "x"), []).append(i)
            if (self.log_y2 if sec else self.log_y)[r][c]:
                members.setdefault((yk, "y"), []).append(i)
        for (axis, coord), idx in members.items():
            keys = ("x",) if coord == "x" else ("y", "lo", "hi")
            span = math.inf
            for frame in frames:
                parts = [
                    np.asarray(frame[i][k], dtype=float).ravel()
                    for i in idx
                    if frame[i] is not None
                    for k in keys
                    if k in frame[i]
                ]
                v = np.concatenate(parts) if parts else np.empty(0)
                v = v[np.isfinite(v) & (v > 0)]
                if v.size >= 2:
                    span = min(span, math.log10(v.max() / v.min()))
            if not math.isfinite(span):
                continue
            if span >= 2.0:  # two or more labelled powers of ten
                layout[axis].update(
                    dtick=1,
                    minor={"ticks": "outside", "ticklen": 3, "showgrid": False},
                )
            elif span >= 0.5:  # labels at 1, 2 and 5 of each decade only
                layout[axis].update(dtick="D2")

    # -- static HTML ----------------------------------------------------------------

    def _static_points(self, points, progress: bool, cache: bool) -> list[dict]:
        """Each grid point as ``{"items": [[style, data], ...], "note": str}`` with
        rounded data: from the disk cache when the panel and its inputs are
        unchanged, else evaluated (and stored)."""
        path = None
        if cache:
            directory = cache_dir()
            key = _cache_key(self) if directory is not None else None
            if key is not None:
                path = directory / f"explorer-{key}.json"
                cached = _cache_load(path, len(points))
                if cached is not None:
                    return cached
        iterator = points
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(points, desc="precomputing explorer grid", leave=False)
        records = []
        for values in iterator:
            panel = self.evaluate(**values)
            records.append(
                {
                    "items": [[_style(c), _data(c, static=True)] for c in panel.curves],
                    "note": panel.note,
                }
            )
        if path is not None:
            _cache_save(path, records)
        return records

    def static_html(self, progress: bool | None = None, cache: bool = True) -> str:
        """Precompute the grid and return self-contained HTML (plotly.js not included).

        Args:
            progress: show a progress bar (default: only outside a book build).
            cache: read and write the disk cache (:func:`cache_dir`).

        Traces are matched by id across grid points; a trace missing at a grid point
        is hidden there. Under the figure, a link downloads the data shown as CSV
        (columns ``trace_id, x, y, lower, upper, error_y, z``; a heatmap gives one
        row per cell with its x and y labels; numbers as plotted, to 5 significant
        digits), made in the browser from the current slider positions and named
        after the title and the knob values.

        Raises:
            ValueError: more than ``max_states`` grid points (see :meth:`grid`).
        """
        points = self.grid()
        if progress is None:
            progress = not is_static_build()
        records = self._static_points(points, progress, cache)
        # The union of trace ids over the grid, in order of first appearance: a
        # trace absent at a grid point (e.g. a dataset with fewer modes) is hidden.
        first: dict[str, tuple[dict, dict]] = {}
        for rec in records:
            for style, data in rec["items"]:
                first.setdefault(style["id"], (style, data))
        rank = {tid: k for k, tid in enumerate(first)}  # legend order
        order = _theory_last([first[tid][0] for tid in first])
        ids = [list(first)[k] for k in order]  # drawing order: theory on top
        default_idx = points.index({k.name: k.default for k in self.knobs})
        default = {s["id"]: (s, d) for s, d in records[default_idx]["items"]}
        data, items = [], []
        for tid in ids:
            style, d = default.get(tid, first[tid])
            traces = self._traces(style, d)
            for t in traces:
                t["visible"] = tid in default
                t["legendrank"] = 100 + rank[tid]
            items.append(
                {
                    "id": tid,
                    "kind": style["kind"],
                    "band": style.get("band", False),
                    "error": style.get("error", False),
                    "traces": list(range(len(data), len(data) + len(traces))),
                }
            )
            data += traces
        styles = [first[tid][0] for tid in ids]
        data += _legend_key(styles)
        note_lines = max(_note_lines(rec["note"]) for rec in records)
        layout = self._layout(styles, records[default_idx]["note"], note_lines)
        frames, frame_data = [], []
        for rec in records:
            here = {s["id"]: d for s, d in rec["items"]}
            d = [here.get(tid) for tid in ids]
            frame_data.append(d)
            frames.append({"d": d, "note": _wrap_note(rec["note"])})
        self._log_ticks(layout, styles, frame_data)
        fig = {"data": data, "layout": layout}
        movable = [k for k in self.knobs if len(k.values) > 1]
        fixed = [k for k in self.knobs if len(k.values) == 1]
        sizes = [len(k.values) for k in self.knobs]
        div_id = "lm-" + uuid.uuid4().hex[:12]
        narrow_notes = max(_note_lines(rec["note"], _NARROW_NOTE) for rec in records)
        spec = {
            "figure": fig,
            "frames": frames,
            "items": items,
            "sizes": sizes,
            "start": default_idx,
            "knobs": [
                {"name": k.name, "labels": [_label(v) for v in k.values]}
                for k in self.knobs
            ],
            "start_pos": [k.values.index(k.default) for k in self.knobs],
            "file": _slug(self.title) or "explorer",
            "narrow_px": NARROW_PX,
            "narrow_note": _NARROW_NOTE,
            **self._narrow(layout, styles, data, narrow_notes),
        }
        controls = ""
        if movable:
            rows = []
            for i, k in enumerate(self.knobs):
                if len(k.values) < 2:
                    continue
                at = k.values.index(k.default)
                label = html.escape(_label(k.values[at]))
                rows.append(
                    f'<div class="lm-knob"><label for="{div_id}-k{i}">'
                    f"{html.escape(k.text)}</label>"
                    f'<input type="range" id="{div_id}-k{i}" min="0" '
                    f'max="{len(k.values) - 1}" step="1" value="{at}" '
                    f'aria-valuetext="{label}">'
                    f'<output id="{div_id}-k{i}-out" for="{div_id}-k{i}">'
                    f"{label}</output></div>"
                )
            title = html.escape(self.title or "the figure")
            controls = (
                f'<div class="lm-explorer-controls" role="group" '
                f'aria-label="Settings of {title}">{"".join(rows)}</div>'
            )
        caption = ""
        if fixed:
            live = [html.escape(k.text) for k in fixed if k.adjustable]
            caption = (
                "<p class='lm-explorer-fixed'>Fixed in this static view: "
                + ", ".join(
                    f"{html.escape(k.text)} = {html.escape(_label(k.values[0]))}"
                    for k in fixed
                )
                + "."
                + (
                    " Run the page live (Jupyter, Binder or Colab) to vary "
                    + (", ".join(live[:-1]) + " and " if len(live) > 1 else "")
                    + live[-1]
                    + "."
                    if live
                    else ""
                )
                + "</p>"
            )
        link = (
            f"<p class='lm-explorer-download'><a id='{div_id}-csv' href='#' "
            "download='explorer.csv'>Download the data shown (CSV)</a></p>"
        )
        blob = json.dumps(spec, separators=(",", ":"), allow_nan=False)
        blob = blob.replace("</", "<\\/")
        return (
            f'<div class="lm-explorer" id="{div_id}-box"><style>{_CSS}</style>'
            f'<div class="lm-explorer-plot" id="{div_id}"></div>{controls}{link}'
            f"{caption}"
            f'<script type="application/json" id="{div_id}-data">{blob}</script>'
            f"<script>{_JS.replace('__ID__', div_id)}</script></div>"
        )

    def _narrow(
        self, layout: dict, styles: Sequence[dict], data: list[dict], note_lines: int
    ) -> dict:
        """The layout and trace updates for phone width (``NARROW_PX``): panels
        stacked in one column in row-major order, each with its own axis titles,
        the legend under the plots, the title and notes rewrapped; and the values
        they replace (``wide``), to go back on a wider window."""
        base, refs = self._subplots()
        rows, cols = self.rows, self.cols
        used = {(s["row"] - 1, s["col"] - 1) for s in styles}
        cells = [rc for rc in itertools.product(range(rows), range(cols)) if rc in used]
        n = max(len(cells), 1)
        plot_h = n * _NARROW_PANEL_PX + (n - 1) * _NARROW_GAP_PX
        title = _wrap_title(self.title, 40)
        key = _subtitle(styles)
        title_lines = title.count("<br>") + 1 if title else 0
        top = 50 + 22 * title_lines + (18 if key else 0) + _NOTE_LINE_PX * note_lines
        top += _NOTE_LINE_PX * self._title_lines()
        entries = sum(
            1 for t in data if t.get("type") == "scatter" and t.get("showlegend")
        )
        bottom = _LEGEND_GAP_PX + _LEGEND_ROW_PX * math.ceil(entries / 2)
        narrow: dict[str, Any] = {
            "height": top + plot_h + bottom,
            "margin.t": top,
            "margin.b": bottom,
            "margin.l": 60,
            "margin.r": 12,
            "title.text": f"{title}<br><sup>{key}</sup>" if key else title,
            "legend.orientation": "h",
            "legend.x": 0.0,
            "legend.xanchor": "left",
            "legend.y": -_LEGEND_GAP_PX / plot_h,
            "legend.yanchor": "top",
            "legend.traceorder": "normal",
            "annotations[0].yshift": 6 + _NOTE_LINE_PX * self._title_lines(),
        }
        wide: dict[str, Any] = {
            "height": layout["height"],
            "margin.t": layout["margin"]["t"],
            "margin.b": layout["margin"]["b"],
            "margin.l": layout["margin"]["l"],
            "margin.r": layout["margin"]["r"],
            "title.text": layout["title"]["text"],
            "legend.orientation": layout["legend"]["orientation"],
            "legend.x": layout["legend"].get("x", 1.02),
            "legend.xanchor": layout["legend"].get("xanchor", "left"),
            "legend.y": layout["legend"].get("y", 1.0),
            "legend.yanchor": layout["legend"].get("yanchor", "auto"),
            # plotly's default with legend groups (every trace has one)
            "legend.traceorder": layout["legend"].get("traceorder", "grouped"),
            "annotations[0].yshift": layout["annotations"][0]["yshift"],
        }
        colorbar = {(s["row"], s["col"]) for s in styles if s["kind"] == "heatmap"}
        titled = 0
        traces: dict[str, list] = {"narrow": [], "wide": [], "index": []}
        for r, c in itertools.product(range(rows), range(cols)):
            if (r, c) not in used:  # an empty subplot: no room in the column
                _, _, xk, yk = refs[(r + 1, c + 1, False)]
                for axis in (xk, yk):
                    narrow[f"{axis}.visible"], wide[f"{axis}.visible"] = False, True
                if self.subplot_titles and self.subplot_titles[r][c]:
                    titled += 1
                    narrow[f"annotations[{titled}].visible"] = False
                    wide[f"annotations[{titled}].visible"] = True
                continue
            k = cells.index((r, c))
            top_f = 1 - k * (_NARROW_PANEL_PX + _NARROW_GAP_PX) / plot_h
            low_f = top_f - _NARROW_PANEL_PX / plot_h
            right = 0.8 if (r + 1, c + 1) in colorbar or self.secondary_y[r][c] else 1
            _, _, xk, yk = refs[(r + 1, c + 1, False)]
            for key_, value in (
                (f"{xk}.domain", [0.0, right]),
                (f"{yk}.domain", [low_f, top_f]),
                (f"{xk}.title.text", self.x_title[r][c]),
                (f"{yk}.title.text", self.y_title[r][c]),
            ):
                axis, attr = key_.split(".", 1)
                narrow[key_] = value
                old = layout[axis]
                for part in attr.split("."):
                    old = old.get(part) if isinstance(old, dict) else None
                wide[key_] = old if old is not None else ""
            if self.subplot_titles and self.subplot_titles[r][c]:
                titled += 1
                a = layout["annotations"][titled]  # [0] is the note
                narrow[f"annotations[{titled}].x"] = right / 2
                narrow[f"annotations[{titled}].y"] = top_f
                wide[f"annotations[{titled}].x"] = a["x"]
                wide[f"annotations[{titled}].y"] = a["y"]
            for j, t in enumerate(data):
                if t.get("type") != "heatmap" or t["xaxis"] != xk.replace("axis", ""):
                    continue
                if t["yaxis"] != yk.replace("axis", ""):
                    continue
                cb = t["colorbar"]
                traces["index"].append(j)
                traces["wide"].append([cb["x"], cb["y"], cb["len"]])
                traces["narrow"].append(
                    [right + 0.02, (low_f + top_f) / 2, 0.9 * (top_f - low_f)]
                )
        return {"narrow": narrow, "wide": wide, "narrow_traces": traces}

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
    #
    # The live figure is a whole plotly figure re-rendered into an ipywidgets Output at
    # every change (no FigureWidget, no anywidget): JupyterLab draws the
    # application/vnd.plotly.v1+json output with the renderer that ships inside the
    # plotly wheel, Colab the text/html output (plotly.js from its CDN). Nothing is
    # kept across updates but the controls: a dataset switch cannot accumulate traces,
    # and a reloaded page shows the Output's current figure.

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
        if all(isinstance(v, str) for v in k.options):
            return w.ToggleButtons(
                options=list(k.options),
                value=k.default,
                description=k.text,
                style=style,
            )
        return w.SelectionSlider(
            options=[(_label(v), v) for v in k.options],
            value=k.default,
            description=k.text,
            continuous_update=False,
            style=style,
            layout=layout,
        )

    def widget(self):
        """The live explorer: the controls, a status line and the figure.

        Returns an ``ipywidgets.VBox``: one control per knob that has a live range
        or at least two live options (a slider, operable with the arrow keys, or
        toggle buttons for named choices), a line naming the knobs that are fixed,
        a status line (the panel's note, or why a state could not be computed) and
        an ``ipywidgets.Output`` holding the figure. Every change evaluates the
        panel from all the controls' values and re-renders the whole figure; the
        figure shown is also in :attr:`figure` (a plotly figure dict).

        Raises:
            ValueError, TypeError: the default state cannot be evaluated (see
                :meth:`evaluate`); later states that fail are reported in the
                status line and the figure's note instead, keeping the last figure.
        """
        import ipywidgets as w

        self._controls = {k.name: self._control(k) for k in self.knobs if k.adjustable}
        fixed = [k for k in self.knobs if not k.adjustable]
        self._status = w.HTML()
        self._output = w.Output(layout=w.Layout(min_height=f"{self.height}px"))
        self.figure = None
        start = time.perf_counter()
        self.update(self.evaluate(**self.live_values()))
        self.last_update_s = time.perf_counter() - start
        for c in self._controls.values():
            c.observe(self._on_change, names="value")
        rows = list(self._controls.values())
        if fixed:
            rows.append(
                w.HTML(
                    "Fixed: "
                    + ", ".join(
                        f"{html.escape(k.text)} = {html.escape(_label(k.default))}"
                        for k in fixed
                    )
                )
            )
        return w.VBox([*rows, self._status, self._output])

    def live_values(self) -> dict[str, Any]:
        """The knob values the live controls show now, each moved into its knob's
        range (:meth:`Knob.clamp`: a slider's ends can round just outside it);
        knobs without a control keep their default."""
        knobs = {k.name: k for k in self.knobs}
        return {name: knobs[name].clamp(c.value) for name, c in self._controls.items()}

    def _on_change(self, _change=None) -> None:
        start = time.perf_counter()
        try:
            panel = self.evaluate(**self.live_values())
            self.update(panel)
        except Exception as err:  # a live figure must never wedge:
            # whatever a state raises (a model's ValueError, a JAX error), the old
            # traces stay, the note and the status say why, and the next move of
            # any knob computes afresh from all the controls' values
            self._show_error(err)
            return
        self.last_update_s = time.perf_counter() - start

    def _show_error(self, err: Exception) -> None:
        msg = f"Not updated ({type(err).__name__}): {err}"
        self._status.value = f"<span style='color:#D55E00'>{html.escape(msg)}</span>"
        if self.figure is not None:
            fig = {**self.figure, "layout": copy.copy(self.figure["layout"])}
            layout = fig["layout"]
            layout["annotations"] = [
                {**layout["annotations"][0], "text": _wrap_note(html.escape(msg))},
                *layout["annotations"][1:],
            ]
            layout["margin"] = {**layout["margin"], "t": self._top(_note_lines(msg))}
            self._show(fig)

    def update(self, panel: Panel) -> None:
        """Render ``panel`` as the whole live figure (no state kept from the last
        one) and put its note in the status line."""
        self._check(panel)
        fig = self._figure_dict(panel)
        fig["data"] = _json_arrays(fig["data"])
        fig["config"] = {"responsive": True, "displaylogo": False}
        self._show(fig)
        self._status.value = (
            f"<span style='color:#D55E00'>{html.escape(panel.note)}</span>"
            if panel.note
            else ""
        )

    def _show(self, fig: dict) -> None:
        """Replace the Output's content by ``fig`` (a JSON-able plotly figure dict)."""
        self.figure = fig
        bundle = _mimebundle(fig, self.title)
        if "google.colab" not in sys.modules or _kernel_shell() is None:
            # one comm message that replaces the Output's state: JupyterLab and
            # Notebook 7 redraw it (measured in JupyterLab: as fast as or faster
            # than clear_output + display, and independent of the kernel's
            # message parents); a reloaded page shows it
            self._output.outputs = (
                {"output_type": "display_data", "data": bundle, "metadata": {}},
            )
            return
        from IPython.display import clear_output, display

        with self._output:
            clear_output(wait=True)
            display(bundle, raw=True)

    def _ipython_display_(self):
        from IPython.display import HTML, display

        if is_static_build():
            display(HTML(self.static_html()))
        else:
            display(self.widget())


_LIVE_DIGITS = 6  # significant digits sent to the live figure (message size)


def _json_arrays(obj: Any) -> Any:
    """``obj`` with every numpy array as a list of numbers rounded to
    ``_LIVE_DIGITS`` significant digits, non-finite entries as ``None`` (JSON has
    no NaN; plotly draws ``null`` as a gap)."""
    if isinstance(obj, dict):
        return {k: _json_arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if obj and all(_is_number(v) for v in obj):
            return _json_arrays(np.asarray(obj, dtype=float))
        return [_json_arrays(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":
        a = obj.astype(float)
        ok = np.isfinite(a)
        mag = np.where(ok & (a != 0), np.abs(a), 1.0)
        k = np.clip(_LIVE_DIGITS - 1 - np.floor(np.log10(mag)), -300, 300)
        scale = 10.0 ** np.abs(k)
        rounded = np.where(
            k >= 0, np.round(a * scale) / scale, np.round(a / scale) * scale
        )
        out = rounded.astype(object)
        out[~ok] = None
        return out.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _kernel_shell():
    """The IPython shell if code runs in a Jupyter kernel, else ``None``."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def _mimebundle(fig: dict, title: str) -> dict:
    """The display bundle of a live figure: plotly's mimetype (drawn by the
    renderer inside the plotly wheel, in JupyterLab and Notebook 7) and, on Colab,
    HTML with plotly.js from the CDN (Colab has no plotly renderer)."""
    bundle = {
        "application/vnd.plotly.v1+json": fig,
        "text/plain": f"<explorer figure: {re.sub(r'<[^>]*>', ' ', title)}>",
    }
    if "google.colab" in sys.modules:
        import plotly.io as pio

        bundle = {
            "text/html": pio.to_html(
                fig,
                config=fig.get("config"),
                include_plotlyjs="cdn",
                full_html=False,
                validate=False,
            ),
            "text/plain": bundle["text/plain"],
        }
    return bundle


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _slug(text: str) -> str:
    """A file-name-safe version of ``text`` (ASCII letters, digits, ``-``)."""
    text = re.sub(r"<[^>]*>", " ", text)
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60]


# -- disk cache of static grids ----------------------------------------------------


def cache_dir() -> Path | None:
    """Where evaluated static grids are cached, or ``None`` when caching is off.

    The environment variable ``LM_SIMS_CACHE_DIR`` names the folder (``off``
    disables the cache); by default ``~/.cache/lm_sims/explorer``. A missing folder
    is created on first write; a folder that cannot be written only means no cache.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"LM_SIMS_CACHE_DIR": "off"}):
        ...     print(cache_dir())
        None
        >>> with mock.patch.dict(os.environ, {"LM_SIMS_CACHE_DIR": "/tmp/grids"}):
        ...     print(cache_dir())
        /tmp/grids
    """
    raw = os.environ.get("LM_SIMS_CACHE_DIR", "").strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    return Path("~/.cache/lm_sims/explorer").expanduser()


class _Uncacheable(Exception):
    """An input the cache key cannot describe faithfully: do not cache."""


def _source_hash() -> str:
    """Hash of every ``lm_sims`` source file (paths and contents)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _cache_key(explorer: Explorer) -> str | None:
    """The hex key of an explorer's static grid, or ``None`` if it cannot be made."""
    import jax

    try:
        panel = _fingerprint(explorer.panel_fn)
        knobs = _fingerprint([(k.name, list(k.values)) for k in explorer.knobs])
    except (_Uncacheable, RecursionError):
        return None
    payload = {
        "format": _CACHE_FORMAT,
        "digits": _SIG_DIGITS,
        "panel": panel,
        "knobs": knobs,
        "lm_sims": _source_hash(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "x64": bool(jax.config.jax_enable_x64),
        "backend": jax.default_backend(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _cache_load(path: Path, n_points: int) -> list[dict] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            records = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(records, list) or len(records) != n_points:
        return None
    return records


def _cache_save(path: Path, records: list[dict]) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as fh:
            tmp = fh.name
            json.dump(records, fh, separators=(",", ":"), allow_nan=False)
        os.replace(tmp, path)
    except (OSError, ValueError):  # read-only or missing folder: no cache, no error
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _fingerprint(obj: Any) -> str:
    """A hash of what ``obj`` computes: code, closure values, referenced globals,
    array contents. ``lm_sims`` code is covered by :func:`_source_hash` and
    third-party code by its version; anything else it cannot describe raises
    :class:`_Uncacheable` (no caching beats a stale cache)."""
    h = hashlib.sha256()
    _feed(h, obj, {}, 0)  # id -> object: keeps each visited object (and its id) alive
    return h.hexdigest()


def _put(h, *parts: Any) -> None:
    for p in parts:
        h.update(str(p).encode() + b"\0")


def _package(module: str) -> tuple[str, str | None]:
    """``(top-level package, its version or None)``."""
    top = module.split(".")[0]
    version = getattr(sys.modules.get(top), "__version__", None)
    return top, version if isinstance(version, str) else None


def _feed_code(h, code: types.CodeType, seen, depth) -> None:
    _put(h, "code", code.co_name, code.co_argcount, code.co_kwonlyargcount)
    h.update(code.co_code)
    _put(h, code.co_names, code.co_varnames)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _feed_code(h, c, seen, depth + 1)
        else:
            _feed(h, c, seen, depth + 1)


def _feed_function(h, fn: types.FunctionType, seen, depth) -> None:
    module = fn.__module__ or ""
    top, version = _package(module)
    _put(h, "function", module, fn.__qualname__)
    if top != "lm_sims" and version is not None:
        _put(h, version)  # third-party code: its version stands for it
        return
    if top != "lm_sims":  # code outside any package: notebooks, tests, scripts
        _feed_code(h, fn.__code__, seen, depth)
        glob = fn.__globals__
        for name in sorted(code_names(fn.__code__)):
            if name in glob:
                _put(h, "global", name)
                _feed(h, glob[name], seen, depth + 1)
    # lm_sims code is in the source hash; its closures and defaults are inputs
    _feed(h, fn.__defaults__, seen, depth + 1)
    _feed(h, fn.__kwdefaults__, seen, depth + 1)
    cells = fn.__closure__ or ()
    for name, cell in zip(fn.__code__.co_freevars, cells, strict=True):
        _put(h, "free", name)
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            value = "<empty cell>"
        _feed(h, value, seen, depth + 1)


def _feed(h, obj: Any, seen: dict, depth: int) -> None:
    if depth > 60:
        raise _Uncacheable("nested too deep")
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        _put(h, type(obj).__name__, repr(obj))
        return
    if isinstance(obj, (np.ndarray, np.generic)):
        a = np.asarray(obj)
        if a.dtype == object:
            _put(h, "object array", a.shape)
            for v in a.reshape(-1):
                _feed(h, v, seen, depth + 1)
            return
        _put(h, "ndarray", a.dtype.str, a.shape)
        h.update(np.ascontiguousarray(a).tobytes())
        return
    if id(obj) in seen:
        _put(h, "seen")
        return
    seen[id(obj)] = obj
    module = type(obj).__module__ or ""
    if module.startswith(("jax", "jaxlib")) and hasattr(obj, "dtype"):
        import jax

        if jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
            _put(h, "prng key", str(obj.dtype))
            obj = jax.random.key_data(obj)
        _feed(h, np.asarray(obj), seen, depth + 1)
        return
    if isinstance(obj, types.ModuleType):
        _put(h, "module", obj.__name__, _package(obj.__name__)[1])
        return
    if isinstance(obj, functools.partial):
        _put(h, "partial")
        _feed(h, (obj.func, obj.args, obj.keywords), seen, depth + 1)
        return
    if isinstance(obj, types.MethodType):
        _put(h, "method")
        _feed(h, (obj.__func__, obj.__self__), seen, depth + 1)
        return
    if isinstance(obj, types.FunctionType):
        _feed_function(h, obj, seen, depth)
        return
    if isinstance(obj, type):
        _put(h, "type", obj.__module__, obj.__qualname__, _package(obj.__module__)[1])
        return
    if isinstance(obj, (types.BuiltinFunctionType, np.ufunc)):
        name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
        _put(h, "builtin", getattr(obj, "__module__", None), name)
        return
    wrapped = getattr(obj, "__wrapped__", None)
    if callable(obj) and wrapped is not None:  # jax.jit, functools.cache ...
        _put(h, "wrapper", type(obj).__qualname__)
        _feed(h, wrapped, seen, depth + 1)
        return
    if isinstance(obj, (list, tuple)):
        _put(h, type(obj).__module__, type(obj).__qualname__, len(obj))
        for v in obj:
            _feed(h, v, seen, depth + 1)
        return
    if isinstance(obj, dict):
        _put(h, "dict", len(obj))
        for k, v in obj.items():
            _feed(h, k, seen, depth + 1)
            _feed(h, v, seen, depth + 1)
        return
    if isinstance(obj, (set, frozenset)):
        _put(h, "set", sorted(_fingerprint(v) for v in obj))
        return
    if dataclasses.is_dataclass(obj):
        _put(h, "dataclass", module, type(obj).__qualname__)
        for f in dataclasses.fields(obj):
            _put(h, f.name)
            _feed(h, getattr(obj, f.name), seen, depth + 1)
        return
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and not hasattr(type(obj), "__slots__"):
        _put(h, "object", module, type(obj).__qualname__)
        _feed(h, state, seen, depth + 1)
        return
    raise _Uncacheable(f"cannot fingerprint {type(obj)!r}")


# The static figure's script: draw, then on any slider change pick the grid point from
# all sliders' positions, restyle the traces (matched by the items' trace indices) and
# refresh the CSV link. Follows the theme's light/dark mode.
#: Styles of a static explorer's controls (inline, so a page outside the book
#: shows them too): native range inputs, reachable with Tab and moved with the arrow
#: keys, Home and End, with a visible focus ring in light and dark mode.
_CSS = (
    ".lm-explorer-controls{display:grid;grid-template-columns:minmax(6em,max-content)"
    " 1fr minmax(4em,max-content);gap:.35em .8em;align-items:center;margin:.4em 0"
    " .2em 0;font-size:.92em}"
    ".lm-knob{display:contents}"
    ".lm-knob input[type=range]{width:100%;min-width:0;margin:0;"
    "accent-color:#0072B2}"
    ".lm-knob input[type=range]:focus-visible{outline:3px solid #E69F00;"
    "outline-offset:3px;border-radius:3px}"
    ".lm-knob output{font-variant-numeric:tabular-nums}"
)
_JS = r"""
(function () {
  var id = "__ID__";
  function start() {
    var gd = document.getElementById(id);
    if (!window.Plotly || !gd) { return setTimeout(start, 30); }
    var spec = JSON.parse(document.getElementById(id + "-data").textContent);
    var fig = spec.figure, link = document.getElementById(id + "-csv");
    function theme() {
      var dark = document.documentElement.dataset.theme === "dark";
      return {"font.color": dark ? "#e6e6e6" : "#333333"};
    }
    var inputs = spec.knobs.map(function (k, i) {
      return document.getElementById(id + "-k" + i);
    });
    var box = document.getElementById(id + "-box"), narrow = null, frame = null;
    function wrap(note, width) {
      var words = note.replace(/<br>/g, " ").split(" "), lines = [], line = "";
      words.forEach(function (w) {
        if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
        else { line = line ? line + " " + w : w; }
      });
      if (line) { lines.push(line); }
      return lines.join("<br>");
    }
    function noteText(f) {
      return narrow ? wrap(f.note, spec.narrow_note) : f.note;
    }
    function fit() {
      var now = box.clientWidth < spec.narrow_px;
      if (now === narrow) { return; }
      narrow = now;
      var upd = Object.assign({}, narrow ? spec.narrow : spec.wide);
      upd["annotations[0].text"] = noteText(frame);
      // the height goes on the div and the figure is autosized to the div: a
      // relayout of "height" would turn plotly's autosize off and freeze the
      // width (a page opened wide then narrowed kept its 700-px figures)
      gd.style.height = upd.height + "px";
      delete upd.height;
      Plotly.relayout(gd, upd).then(function () { return Plotly.Plots.resize(gd); });
      var t = spec.narrow_traces;
      if (t.index.length) {
        var v = narrow ? t.narrow : t.wide;
        Plotly.restyle(gd, {
          "colorbar.x": v.map(function (a) { return a[0]; }),
          "colorbar.y": v.map(function (a) { return a[1]; }),
          "colorbar.len": v.map(function (a) { return a[2]; })
        }, t.index);
      }
    }
    function positions() {
      return inputs.map(function (el) { return el ? +el.value : 0; });
    }
    function cell(v) {
      if (v === null || v === undefined) { return ""; }
      var s = String(v);
      return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    function csv(f) {
      var rows = ["trace_id,x,y,lower,upper,error_y,z"];
      spec.items.forEach(function (it, i) {
        var d = f.d[i];
        if (!d) { return; }
        if (it.kind === "heatmap") {
          d.y.forEach(function (yv, r) {
            d.x.forEach(function (xv, c) {
              rows.push([it.id, xv, yv, null, null, null, d.z[r][c]].map(cell)
                        .join(","));
            });
          });
          return;
        }
        d.x.forEach(function (xv, j) {
          rows.push([it.id, xv, d.y[j], d.lo ? d.lo[j] : null,
                     d.hi ? d.hi[j] : null, d.e ? d.e[j] : null, null]
                    .map(cell).join(","));
        });
      });
      return rows.join("\r\n") + "\r\n";
    }
    function setLink(f, pos) {
      var parts = [spec.file];
      spec.knobs.forEach(function (k, i) {
        if (k.labels.length > 1) { parts.push(k.name + "-" + k.labels[pos[i]]); }
      });
      link.download = parts.join("_").replace(/[^A-Za-z0-9._-]+/g, "-") + ".csv";
      link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv(f));
    }
    function show(f) {
      var sc = {i: [], x: [], y: [], v: [], e: []};
      var hm = {i: [], z: [], x: [], y: [], v: []};
      var errors = false;
      spec.items.forEach(function (it, i) {
        var d = f.d[i], t = it.traces;
        if (it.kind === "heatmap") {
          hm.i.push(t[0]); hm.v.push(!!d);
          hm.z.push(d ? d.z : [[]]); hm.x.push(d ? d.x : []); hm.y.push(d ? d.y : []);
          return;
        }
        if (it.band) {
          sc.i.push(t[0]); sc.v.push(!!d); sc.e.push([]);
          sc.x.push(d ? d.x.concat(d.x.slice().reverse()) : []);
          sc.y.push(d ? d.hi.concat(d.lo.slice().reverse()) : []);
        }
        errors = errors || it.error;
        sc.i.push(t[t.length - 1]); sc.v.push(!!d);
        sc.x.push(d ? d.x : []); sc.y.push(d ? d.y : []);
        sc.e.push(d && d.e ? d.e : []);
      });
      if (sc.i.length) {
        var upd = {x: sc.x, y: sc.y, visible: sc.v};
        if (errors) { upd["error_y.array"] = sc.e; }
        Plotly.restyle(gd, upd, sc.i);
      }
      if (hm.i.length) {
        Plotly.restyle(gd, {z: hm.z, x: hm.x, y: hm.y, visible: hm.v}, hm.i);
      }
      Plotly.relayout(gd, {"annotations[0].text": noteText(f)});
    }
    frame = spec.frames[spec.start];
    Plotly.newPlot(gd, fig.data, fig.layout,
                   {responsive: true, displaylogo: false}).then(function () {
      Plotly.relayout(gd, theme());
      fit();
      setLink(frame, spec.start_pos);
      new MutationObserver(function () { Plotly.relayout(gd, theme()); })
        .observe(document.documentElement,
                 {attributes: true, attributeFilter: ["data-theme"]});
      var pending = null;
      window.addEventListener("resize", function () {
        clearTimeout(pending);
        pending = setTimeout(fit, 100);
      });
      inputs.forEach(function (el, i) {
        if (!el) { return; }
        el.addEventListener("input", function () {
          var pos = positions(), idx = 0;
          for (var k = 0; k < spec.sizes.length; k++) {
            idx = idx * spec.sizes[k] + pos[k];
          }
          var label = spec.knobs[i].labels[pos[i]];
          document.getElementById(el.id + "-out").textContent = label;
          el.setAttribute("aria-valuetext", label);
          frame = spec.frames[idx];
          show(frame);
          setLink(frame, pos);
        });
      });
    });
  }
  start();
})();
"""
