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
    # lands at S <= 2/lr while the central flow ends at 2/lr (to 1e-3)
    for values, panel in grid(vcf.toy_central_flow_explorer):
        by_id = {c.id: c for c in panel.curves}
        edge = values["edge"]
        assert by_id["gd S"].y[-1] <= edge
        assert by_id["cf S"].y[-1] == pytest.approx(edge, rel=1e-3)
        assert by_id["gf S"].y[-1] > edge


@pytest.mark.statistical
def test_network_explorer_prediction_tracks_smoothed_loss():
    # the page's headline at the book's smoothing (10 steps): the prediction is
    # within the tested 2.5% of the smoothed GD loss (median over the window)
    for values, panel in grid(vcf.central_flow_explorer):
        if values["smoothing"] != 10.0:
            continue
        by_id = {c.id: c for c in panel.curves}
        pred, smooth = by_id["cf predicted"].y[30:-30], by_id["gd smooth"].y[30:-30]
        assert np.median(np.abs(pred / smooth - 1)) <= 0.025
