"""``glue``: hand a computed number to the book's prose, or print it live.

The book's pages compute every number their prose quotes and pass it to ``glue``.
During the book build (``LM_SIMS_STATIC=1``) myst-nb stores it for the page's
``{glue:text}`` roles; anywhere else (JupyterLab, Binder, Colab, where myst-nb is
usually absent) the value is printed as one line ``name = value`` under the cell, and
the generated notebook's prose shows the name in inline code where the book shows
the value.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np

from lm_sims.viz.explorer import Explorer, is_static_build

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


def _compact(value: Any) -> str:
    """A short text for ``value``: str as is, numbers with 6 significant digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object: fall back to its repr
        return repr(value)
    if array.dtype.kind in "biuf" and array.ndim == 0:
        return _compact(array.item())
    if array.dtype.kind in "biuf":
        return np.array2string(array, precision=6, separator=", ", threshold=20)
    return repr(value)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Give a computed value to the book's prose (build) or print it (live).

    An :class:`~lm_sims.viz.explorer.Explorer` is a figure: during the build it is
    stored as its static HTML for the page's ``glue:figure`` directive, which numbers
    it and gives it a caption; live it is displayed (its widgets) under the cell.

    While the book is built (:func:`lm_sims.viz.explorer.is_static_build` is true, i.e.
    ``LM_SIMS_STATIC=1``) and myst-nb is importable, this is
    ``myst_nb.glue(name, value, display=display)``, and the page's ``glue:text``
    roles then show the value. Everywhere else it prints exactly one line
    ``name = value`` so a reader of the live notebook sees the number in the
    cell's output (the notebook's prose names it in inline code, ``name``).

    Args:
        name: The glue key, a non-empty identifier-like string (letters, digits,
            ``_``, ``.``, ``-``; not starting with a digit).
        value: The value. A ``str`` is printed as is; a Python or NumPy/JAX number
            with 6 significant digits; an array compactly; an
            :class:`~lm_sims.viz.explorer.Explorer` is displayed; anything else by
            repr.
        display: Passed to myst-nb during the build (whether the cell also shows
            the value). Ignored live, where the line is always printed.

    Returns:
        None.

    Raises:
        TypeError: If ``name`` is not a str or ``display`` is not a bool.
        ValueError: If ``name`` is empty or not identifier-like.

    Example:
        >>> glue("half_time", 2.302585093)
        half_time = 2.30259
        >>> glue("lr_max", "0.33")
        lr_max = 0.33
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a str, got name={name!r} ({type(name).__name__})"
        )
    if not _NAME.match(name):
        raise ValueError(
            f"name must be a non-empty identifier-like string (letters, digits, "
            f"'_', '.', '-', not starting with a digit), got name={name!r}"
        )
    if not isinstance(display, (bool, np.bool_)):
        raise TypeError(
            f"display must be True or False, got display={display!r} "
            f"({type(display).__name__})"
        )
    if is_static_build():
        try:
            import myst_nb  # noqa: PLC0415 - only during the book build
        except ImportError:
            myst_nb = None
        if myst_nb is not None:
            if isinstance(value, Explorer):
                from IPython.display import HTML  # noqa: PLC0415

                value = HTML(value.static_html())
            myst_nb.glue(name, value, display=bool(display))
            return
    if isinstance(value, Explorer):
        from IPython.display import display as show  # noqa: PLC0415

        show(value)
        return
    print(f"{name} = {_compact(value)}")
