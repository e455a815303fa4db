"""Figure checks shared by the chapter figure tests: what a reader would see wrong
in an explorer's figure dict (issue 10)."""

from __future__ import annotations

import json

from explorer_grid import explorer, grid

from lm_sims.viz.explorer import Curve


def figure_defects(ex, panel) -> list[str]:
    """What a reader would see wrong in the figure dict of ``panel``: a subplot
    with curves but no y-axis title (a shared row axis counts as titled where its
    first subplot is), a subplot or x-axis title too long for its column, a
    theory curve in the legend
    whose name does not say theory (or fit), two legend entries of different
    simulated quantities in one colour."""
    fig = ex._figure_dict(panel)
    layout, bad = fig["layout"], []
    for tr in fig["data"]:
        if tr.get("meta") == "::key" or tr.get("type") != "scatter":
            continue
        axis = layout["yaxis" + tr["yaxis"][1:]]
        title = (axis.get("title") or {}).get("text") or ""
        if not title and axis.get("matches"):
            shared = layout["yaxis" + axis["matches"][1:]]
            title = (shared.get("title") or {}).get("text") or ""
        if not title:
            bad.append(f"no y title for {tr['name']!r}")
    # bold subplot titles: the explorer wraps beyond 37 characters at 2 columns;
    # at 3 columns a panel was ~110 px beside the legend, ~14 characters (seen:
    # "data (N, t = ∞)" and "parameters (n, t = ∞)" ran into each other); the
    # legend is under the plots now, and the limit keeps a margin
    limit = {1: 75, 2: 37, 3: 14}[ex.cols]
    for row in ex.subplot_titles or []:
        bad += [f"long title {t!r}" for t in row if len(t) > limit]
    # x titles (plain text) of neighbouring columns: 40 characters overlapped at 2
    for row in ex.x_title if ex.cols > 1 else []:
        bad += [f"long x title {t!r}" for t in row if len(t) > 75 // ex.cols]
    colours = {}
    for c in panel.curves:
        if not isinstance(c, Curve) or not c.showlegend:
            continue
        if c.role == "theory" and not any(w in c.name for w in ("theory", "fit")):
            bad.append(f"theory curve {c.name!r} does not say so")
        if c.role == "simulation" and not c.thin:
            colours.setdefault(c.group, []).append(c.name)
    bad += [f"one colour for {v}" for v in colours.values() if len(v) > 1]
    return bad


def _drawn(ex, panel) -> str:
    """The figure's traces and note as text: what a reader sees, for comparisons."""
    fig = ex._figure_dict(panel)
    return json.dumps(
        [fig["data"], panel.note], sort_keys=True, default=lambda o: repr(o)
    )


def steps_that_change_nothing(factory) -> list[tuple[dict, str]]:
    """(grid state, knob) pairs where one slider step leaves the figure as it was: a
    step that changes nothing misleads the reader (issue 10: at P = 4 two NTK
    targets drew identical curves until the target itself was drawn)."""
    ex = explorer(factory)
    states = grid(factory)
    drawn = {tuple(values.items()): _drawn(ex, panel) for values, panel in states}
    same = []
    for values, _ in states:
        for knob in ex.knobs:
            i = knob.values.index(values[knob.name])
            if i + 1 == len(knob.values):
                continue
            step = dict(values, **{knob.name: knob.values[i + 1]})
            if drawn[tuple(values.items())] == drawn[tuple(step.items())]:
                same.append((values, knob.name))
    return same


def subplots_without_a_y_title(factory) -> list[str]:
    """The y axes of the default figure with no title (issue 10: right-hand panels
    had none; the legend named the quantity, the axis did not)."""
    ex = explorer(factory)
    values, panel = grid(factory)[0]
    layout = ex._figure_dict(panel)["layout"]
    axes = [k for k in layout if k.startswith("yaxis")]
    assert len(axes) == ex.rows * ex.cols, axes
    return [k for k in axes if not layout[k]["title"]["text"].strip()]
