"""Chapter 5.3 explorer (lm_sims.viz.learning_order). The science behind it is
tested in test_learning_order.py."""

import jax
import numpy as np
import pytest
from explorer_grid import explorer, grid

from lm_sims import learning_order as lo
from lm_sims.viz import learning_order as vlo
from lm_sims.viz.explorer import PALETTE, Heatmap

MAX_PAGE_BYTES = 1_500_000
# the static grid trains 2 seeds x (2 networks + 2 kernel flows), ~17 s cold on two
# shared cores (measured): statistical tier
FACTORY = vlo.learning_order_explorer


@pytest.mark.statistical
def test_static_grid_gives_finite_curves_with_theory_and_simulation():
    points = grid(FACTORY)
    assert len(points) == len(vlo.SEEDS) * len(lo.ARCHITECTURES)
    ids = [c.id for c in points[0][1].curves]
    assert len(set(ids)) == len(ids)
    for values, panel in points:
        assert [c.id for c in panel.curves] == ids, values
        assert 0 < len(panel.note) <= 180, (values, panel.note)
        curves = [c for c in panel.curves if not isinstance(c, Heatmap)]
        for c in curves:
            assert np.all(np.isfinite(c.x)) and np.all(np.isfinite(c.y)), c.id
            assert c.y.size >= 2, (values, c.id)
        assert {c.role for c in curves} == {"simulation", "theory"}, values
        assert all(c.row == 1 for c in curves), values  # the heatmap is row 2
        (heat,) = [c for c in panel.curves if isinstance(c, Heatmap)]
        assert heat.z.shape == (1 + len(lo.ARCHITECTURES), 6)
        assert np.all(np.isfinite(heat.z))


@pytest.mark.statistical
def test_key_numbers_rank_grid_and_rbf_clock():
    key_data = tuple(
        int(v) for v in np.asarray(jax.random.key_data(jax.random.key(0))).ravel()
    )
    for values, panel in grid(FACTORY):
        res = vlo._result(key_data, values["seed"])
        (heat,) = [c for c in panel.curves if isinstance(c, Heatmap)]
        # row 0 is the HEA order 1..6; every learner's row is its measured ranks
        np.testing.assert_array_equal(heat.z[0], np.arange(1.0, 7.0))
        np.testing.assert_array_equal(heat.z[1:], res.ranks)
        # the bar, on the page's own draws
        assert np.all(res.spearman >= 0.8), (values, res.spearman)
        for name, rho in zip(res.architectures, res.spearman, strict=True):
            assert f"{vlo.LEARNER_LABELS[name]} {rho:.2f}" in panel.note
        if values["learner"] == "rbf_kernel":
            assert "τ = 1 (no fit)" in panel.note  # HEA eigenvalues, unfitted
        else:  # one clock fitted over all components (lo.clock), not at z1 alone
            a = res.architectures.index(values["learner"])
            tau = lo.clock(res.times[a], lo.predicted_times(lo.Config()))
            assert f"τ = {tau:.3g} (fit, all)" in panel.note


@pytest.mark.statistical
def test_learned_times_one_colour_per_learner_and_exact_theory():
    # issue 10: in the old three-panel figure the learners shared the two colours
    # the six components left (ReLU net and RBF kernel yellow; tanh net, ReLU NTK
    # and the ansatz's line grey). In a figure of their own: four learner colours,
    # the exact RBF theory in the RBF kernel's colour, the ansatz's line in grey
    key_data = tuple(
        int(v) for v in np.asarray(jax.random.key_data(jax.random.key(0))).ravel()
    )
    ex = explorer(vlo.learned_times_explorer)
    for values, panel in grid(vlo.learned_times_explorer):
        res = vlo._result(key_data, values["seed"])
        by_id = {c.id: c for c in panel.curves}
        colour = {i: PALETTE[c.group % len(PALETTE)] for i, c in by_id.items()}
        learners = [colour[f"times {n}"] for n in res.architectures]
        assert len(set(learners)) == len(learners), values
        assert colour["ln2 exact"] == colour["times rbf_kernel"]
        assert colour["ln2"] not in learners
        for c in panel.curves:
            assert (c.role == "theory") == ("(theory)" in c.name), c.name
            assert np.all(np.isfinite(c.y)) and np.all(c.y > 0), c.id
        np.testing.assert_allclose(
            by_id["ln2 exact"].y, np.log(2) / res.exact_eigenvalues
        )
        for j, name in enumerate(res.architectures):
            np.testing.assert_allclose(by_id[f"times {name}"].y, res.times[j])
        assert "Clock" in panel.note
    fig = ex._figure_dict(ex.evaluate(seed=0))
    assert fig["layout"]["yaxis"]["title"]["text"].strip()


@pytest.mark.statistical
def test_static_page_weight():
    grid(FACTORY)
    html = explorer(FACTORY).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_knobs_reject_unknown_values():
    ex = explorer(FACTORY)
    with pytest.raises(ValueError, match="learner must be one of"):
        ex.evaluate(seed=0, learner="gelu")
    with pytest.raises(ValueError, match="seed must be one of"):
        ex.evaluate(seed=7, learner="relu_mlp")


def test_every_panel_has_a_y_axis_title():
    # issue 10: the rank grid had no y-axis title; static spec (the curves need
    # the statistical-tier training runs)
    for factory in (FACTORY, vlo.learned_times_explorer):
        ex = explorer(factory)
        assert all(t.strip() for row in ex.y_title for t in row), ex.y_title
