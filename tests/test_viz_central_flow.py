"""Chapter 4.2 explorers (lm_sims.viz.central_flow). The science behind them is
tested in test_central_flow.py."""

import numpy as np
import pytest
from explorer_grid import grid

from lm_sims.viz import central_flow as vcf

# the network explorer's static grid is one ~1-minute run (three smoothing
# widths of it): statistical tier; the toy's three states take ~5 s
FACTORIES = (
    pytest.param(vcf.central_flow_explorer, marks=pytest.mark.statistical),
    vcf.toy_central_flow_explorer,
)


def _id(factory):
    return getattr(factory, "__name__", None)


@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_static_grid_gives_finite_curves_with_theory_and_simulation(factory):
    points = grid(factory)
    ids = [c.id for c in points[0][1].curves]
    assert len(set(ids)) == len(ids)
    for values, panel in points:
        assert [c.id for c in panel.curves] == ids, values
        assert "diverged" not in panel.note, (values, panel.note)
        for c in panel.curves:
            drawn = ~np.isnan(c.y)
            assert c.breaks or drawn.all(), (values, c.id)  # NaN only as a break
            assert np.all(np.isfinite(c.x[drawn])) and np.all(np.isfinite(c.y[drawn]))
            assert drawn.sum() >= 2, (values, c.id)
        for place in {(c.row, c.col) for c in panel.curves}:
            roles = {c.role for c in panel.curves if (c.row, c.col) == place}
            assert roles == {"simulation", "theory"}, (values, place)


def test_toy_explorer_key_numbers():
    # at every static 2/lr below gradient flow's landing sharpness (6.55), GD
    # lands at S <= 2/lr while the central flow ends at 2/lr (to 1e-3); gradient
    # flow (RK4) lands at sqrt(c^2 + 4) to 1e-4 (measured 1.1e-5; the page's
    # text quotes the formula), and the note prints the same 3 digits for both
    from lm_sims import central_flow as cf

    s_gf = cf.predict_toy_gradient_flow_sharpness(*vcf.TOY_START)
    for values, panel in grid(vcf.toy_central_flow_explorer):
        by_id = {c.id: c for c in panel.curves}
        edge = values["edge"]
        assert by_id["gd S"].y[-1] <= edge
        assert by_id["cf S"].y[-1] == pytest.approx(edge, rel=1e-3)
        assert by_id["gf S"].y[-1] == pytest.approx(s_gf, rel=1e-4)
        assert f"gradient flow {s_gf:.3g} " in panel.note, panel.note
        assert f"predicted {s_gf:.3g})" in panel.note, panel.note


@pytest.mark.statistical
def test_network_explorer_key_numbers_and_colours():
    # the page's headline at the book's smoothing (10 steps): the prediction is
    # within the tested 2.5% of the smoothed GD loss (median over the window);
    # colour = trajectory in every row, and the prediction starts after the
    # start-up (no spike at 0). The central flow's sharpness sits on 2/lr after
    # its start-up: to 1e-3 (the restoring term with Lanczos' warm-started
    # eigenvalue, tested in test_central_flow) at >= 90% of the records, and
    # within 1% at all. The rest are the rank-one flow's overtaking spikes (the
    # page says so): a second, nearly degenerate eigenvalue that the flow does
    # not hold rises past 2/lr for a step before the flow takes it over. How
    # many and how high depends on where the chaotic GD run hands over to the
    # flow, i.e. on the CPU's rounding: measured 4.8% of the records, at most
    # +0.57%, on the machine of 2026-12-02 (0.4%, +0.3% on an earlier one), so
    # a 0.5% bound on every record failed there; 90% and 1% leave 2x margin.
    for values, panel in grid(vcf.central_flow_explorer):
        by_id = {c.id: c for c in panel.curves}
        groups = {
            "gd": {"gd loss", "gd smooth", "gd S"},
            "cf": {
                "cf predicted",
                "cf loss",
                "cf S",
                "cf distance",
                "cf centre distance",
            },
            "gf": {"gf loss", "gf S", "gf distance", "gf centre distance"},
        }
        for ids in groups.values():
            assert len({by_id[i].group for i in ids}) == 1, ids
        assert len({by_id[next(iter(ids))].group for ids in groups.values()}) == 3
        assert by_id["gd loss"].thin and by_id["cf loss"].thin
        edge = by_id["edge"].y[0]
        dev = np.abs(by_id["cf S"].y[vcf.SKIP :] / edge - 1.0)
        assert np.mean(dev <= 1e-3) >= 0.9, np.mean(dev <= 1e-3)
        assert dev.max() <= 1e-2, dev.max()
        pred = by_id["cf predicted"]
        assert pred.x[0] == by_id["gd smooth"].x[vcf.SKIP]
        if values["smoothing"] != 10.0:
            continue
        smooth = by_id["gd smooth"]
        keep = (pred.x >= smooth.x[30]) & (pred.x <= smooth.x[-31])
        target = np.interp(pred.x[keep], smooth.x, smooth.y)
        assert np.median(np.abs(pred.y[keep] / target - 1)) <= 0.025


def test_thin_curves_are_drawn_thin_and_translucent():
    # Curve(thin=True) (added to lm_sims.viz.explorer for these explorers): a
    # secondary line of a trajectory's colour, width 1 and opacity 0.5
    from lm_sims.viz import explorer as ve

    def panel(k):
        return ve.Panel(
            [
                ve.Curve([0, 1], [k, 2 * k], "bold", id="bold"),
                ve.Curve([0, 1], [k, 3 * k], "thin", "theory", thin=True, id="thin"),
            ]
        )

    ex = ve.Explorer(panel, [ve.Knob("k", (1.0, 2.0), low=1.0, high=2.0)])
    fig = ex._figure_dict(panel(1.0))
    by = {t["meta"]: t for t in fig["data"]}
    assert by["thin"]["opacity"] == 0.5 and by["thin"]["line"]["width"] == 1
    assert by["thin"]["line"]["dash"] == "dash"
    assert "opacity" not in by["bold"] and by["bold"]["line"]["width"] == 2


def test_toy_central_flow_is_theory_and_the_plane_keeps_its_geometry():
    # the central flow is the theory's prediction of GD's time average: dashed
    # in the toy as in the network figure (it was drawn solid, as a simulation);
    # the (a, b) plane has one unit as long on both axes (the balanced minimum
    # a = b lies on the diagonal), the sharpness panel does not; each panel has
    # a y axis title
    ex = vcf.toy_central_flow_explorer()
    panel = ex.evaluate(edge=5.0)
    by_id = {c.id: c for c in panel.curves}
    assert by_id["cf path"].role == by_id["cf S"].role == "theory"
    assert "theory" in by_id["cf path"].name
    assert by_id["gd path"].role == by_id["gf path"].role == "simulation"
    fig = ex._figure_dict(panel)
    layout = fig["layout"]
    assert layout["yaxis"].get("scaleanchor") == "x"
    assert "scaleanchor" not in layout["yaxis2"]
    for axis in ("yaxis", "yaxis2"):
        assert layout[axis]["title"]["text"], axis


def test_toy_colours_are_one_per_quantity_and_match_the_network_figure():
    # one colour per trajectory, the network figure's (gradient descent blue 0,
    # central flow green 2, gradient flow pink 4, the edge grey 7), in both
    # panels; the minima have their own (they shared near-identical oranges with
    # the central flow); legend names short enough to leave the panels their width
    panel = vcf.toy_central_flow_explorer().evaluate(edge=5.0)
    group = {c.id: c.group for c in panel.curves}
    expected = {"gd": 0, "cf": 2, "gf": 4}
    for run, g in expected.items():
        assert group[f"{run} path"] == group[f"{run} S"] == g, run
    assert group["conserved"] == group["gf final S"] == expected["gf"]
    assert group["edge curve"] == group["edge"] == 7
    assert group["minima"] not in {*expected.values(), 7}
    assert max(len(c.name) for c in panel.curves if c.showlegend) <= 24


@pytest.mark.statistical
def test_network_legend_names_fit_the_legend():
    # "central flow: prediction L(θ_CF) + σ_osc²/η" ran past the figure's right
    # edge at 1280 px; the formula is in the page's caption
    for values, panel in grid(vcf.central_flow_explorer):
        long = [c.name for c in panel.curves if c.showlegend and len(c.name) > 30]
        assert not long, (values, long)
