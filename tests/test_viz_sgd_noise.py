"""Chapter 4.3 explorers (lm_sims.viz.sgd_noise). The science behind them is tested
in test_sgd_noise.py."""

import re

import jax
import numpy as np
import pytest
from explorer_grid import explorer, grid

from lm_sims import sgd_noise as sn
from lm_sims.viz import sgd_noise as vsn

MAX_PAGE_BYTES = 1_500_000
# each static grid simulates 9-12 settings (10-14 s each on 2 cores, mostly
# compiling one program per batch size): statistical tier
FACTORIES = (
    pytest.param(vsn.sgd_risk_explorer, marks=pytest.mark.statistical),
    pytest.param(vsn.linear_scaling_explorer, marks=pytest.mark.statistical),
    pytest.param(vsn.critical_batch_explorer, marks=pytest.mark.statistical),
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
        # notes stay short: at most two lines of the figure (~ 90 characters each)
        assert 0 < len(panel.note) <= 180, (values, panel.note)
        for c in panel.curves:
            drawn = ~np.isnan(c.y)
            assert c.breaks or drawn.all(), (values, c.id)  # NaN only as a break
            assert np.all(np.isfinite(c.x[drawn])) and np.all(np.isfinite(c.y[drawn]))
            assert drawn.sum() >= 2, (values, c.id)
        places = {(c.row, c.col) for c in panel.curves}
        for place in places:
            roles = {c.role for c in panel.curves if (c.row, c.col) == place}
            assert roles == {"simulation", "theory"}, (values, place)


@pytest.mark.statistical
def test_risk_explorer_notes_divergence_and_matches_the_recursion():
    for values, panel in grid(vsn.sgd_risk_explorer):
        cfg = sn.Config(lr=values["lr"], batch_size=values["batch_size"])
        unstable = values["lr"] > sn.max_stable_lr(cfg)
        assert ("diverge" in panel.note) == unstable, (values, panel.note)
        by_id = {c.id: c for c in panel.curves}
        sim, rec = by_id["simulation"], by_id["recursion"]
        assert sim.y.max() <= 10 * 0.5 and rec.y.max() <= 10 * 0.5  # cut at 10 R0
        if not unstable:
            # last 30 records (steps 700-1000), mean over 40 runs: within 15% of
            # the recursion (per-run spread ~60%, correlated over ~1/(lr h) steps)
            n = min(sim.y.size, rec.y.size)
            np.testing.assert_allclose(
                sim.y[n - 30 : n].mean(), rec.y[n - 30 : n].mean(), rtol=0.15
            )


@pytest.mark.statistical
def test_scaling_explorer_collapses_at_small_lr_over_b_and_splits_beyond():
    ((_, panel),) = grid(vsn.linear_scaling_explorer)
    by_id = {c.id: c for c in panel.curves}
    small = by_id["small"]
    for b in vsn.SCALING_BATCHES:
        exact = by_id[f"exact {b}"]
        # at lr/B = 1e-3 every exact curve is on the small-lr line (0.1% x B)
        assert exact.y[0] / small.y[0] == pytest.approx(1.0, abs=0.002 * b + 0.002)
        sim = by_id[f"simulated {b}"]
        for x, y in zip(sim.x, sim.y, strict=True):
            # 32 runs, time-averaged: 10% covers the sampling error
            assert y == pytest.approx(
                sn.stationary_risk(sn.Config(), lr=float(x * b), batch_size=b),
                rel=0.10,
            )
    # the limits are lr_max / B, decreasing in B
    lim = [by_id[f"limit {b}"].x[0] for b in vsn.SCALING_BATCHES]
    assert np.all(np.diff(lim) < 0)


@pytest.mark.statistical
def test_scaling_explorer_live_moves_compile_nothing_and_never_draw_an_unrelaxed_mean():
    """A live alpha / noise move reuses the static state's programs (one per batch
    size: the run length is traced), and where a run cannot relax within
    SCALING_MAX_WORK (small lr h_min at alpha 1.8) the marker is left out and the
    note says why, instead of the biased average of a run still in its transient
    (the old fallback drew it 10-13% high at alpha 1 already)."""
    from lm_sims.diagnostics import count_compilations

    grid(vsn.linear_scaling_explorer)  # the static state: compiles the programs
    ex = explorer(vsn.linear_scaling_explorer)
    with count_compilations() as count:
        panel = ex.evaluate(noise=0.7, alpha=1.8)
    assert count.count == 0
    assert (
        "Not simulated (relaxes too slowly for a live run): B = 1, η/B = 0.05; "
        "B = 1, η/B = 0.1; B = 4, η/B = 0.05." in panel.note
    )
    cfg = sn.Config(noise=0.7, alpha=1.8)
    shown = 0
    for b in vsn.SCALING_BATCHES:
        sim = next(c for c in panel.curves if c.id == f"simulated {b}")
        for x, y in zip(sim.x, sim.y, strict=True):
            if np.isnan(x):
                continue
            shown += 1
            # 32 runs, time-averaged: 10% covers the sampling error
            assert y == pytest.approx(
                sn.stationary_risk(cfg, lr=float(x * b), batch_size=b), rel=0.10
            )
    assert shown == 6


@pytest.mark.statistical
def test_critical_batch_explorer_key_numbers():
    ex = explorer(vsn.critical_batch_explorer)
    panel = ex.evaluate(target=0.02, noise=0.5, alpha=1.0)
    by_id = {c.id: c for c in panel.curves}
    cb = sn.critical_batch(sn.Config(), 0.02, vsn.CRIT_BATCHES)
    assert f"B_crit = {cb.b_crit:.3g}" in panel.note
    np.testing.assert_allclose(by_id["theory"].y, cb.steps)
    # four simulated points, each within 8% of the tuned steps (128 runs)
    sim = by_id["simulated"]
    assert sim.y.size == len(vsn.CRIT_SIM_BATCHES)
    idx = [list(cb.batch_sizes).index(b) for b in vsn.CRIT_SIM_BATCHES]
    np.testing.assert_allclose(sim.y, cb.steps[idx], rtol=0.08)
    # the noise scale grows along the run and is within a factor 2 of B_crit
    b_simple = by_id["b_simple theory"].y
    assert b_simple[-1] > b_simple[0]
    assert 0.5 < cb.b_crit / b_simple[-1] < 2.0


@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_static_page_weight(factory):
    grid(factory)
    html = explorer(factory).static_html(progress=False)
    assert len(html.encode()) < MAX_PAGE_BYTES, len(html.encode())


def test_knobs_reject_out_of_range_values():
    ex = vsn.sgd_risk_explorer(jax.random.key(0))
    with pytest.raises(ValueError, match="lr must be in"):
        ex.evaluate(lr=50.0, batch_size=1, noise=0.5, alpha=1.0)
    with pytest.raises(ValueError, match="batch_size must be one of"):
        ex.evaluate(lr=0.5, batch_size=3, noise=0.5, alpha=1.0)


_LR = re.compile(r"\blr\b")


def test_titles_use_the_books_symbol_for_the_learning_rate():
    # the book writes the learning rate eta everywhere (t = eta x steps, eta/B);
    # the figures' axis titles said "lr". Building an explorer computes nothing.
    for factory in (
        vsn.sgd_risk_explorer,
        vsn.linear_scaling_explorer,
        vsn.critical_batch_explorer,
    ):
        ex = factory(jax.random.key(0))
        texts = [ex.title] + [t for row in ex.x_title + ex.y_title for t in row]
        assert not any(_LR.search(t) for t in texts), (factory.__name__, texts)
    risk = vsn.sgd_risk_explorer(jax.random.key(0))
    assert risk.x_title[0][0] == "t = η × steps"
    assert vsn.linear_scaling_explorer(jax.random.key(0)).x_title[0][0] == "η/B"


@pytest.mark.statistical
@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_legends_say_theory_and_use_eta(factory):
    # every theory curve that has a legend entry reads as theory, and no legend
    # entry or note writes "lr" for the book's eta
    for values, panel in grid(factory):
        for c in panel.curves:
            assert not _LR.search(c.name), (values, c.name)
            if c.role == "theory" and c.showlegend:
                assert "(theory)" in c.name or "fit" in c.name, (values, c.name)
        assert not _LR.search(panel.note), (values, panel.note)


# Okabe-Ito pairs that read as one colour at line width 2: blue / sky blue and
# orange / vermilion. The small-eta formula was sky blue beside B = 1's blue, and
# B_noise vermilion beside B_crit's orange.
_NEAR = ({0, 5}, {1, 3})


@pytest.mark.statistical
@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_different_quantities_in_one_panel_have_distinct_colours(factory):
    for values, panel in grid(factory):
        for place in {(c.row, c.col) for c in panel.curves}:
            groups = {c.group for c in panel.curves if (c.row, c.col) == place}
            for pair in _NEAR:
                assert not pair <= groups, (values, place, sorted(groups))


@pytest.mark.statistical
@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_the_legend_fits_beside_the_plots(factory):
    # the critical-batch legend (seven entries under the style key) was cut off
    # at the default 420 px. Measured in Chromium: the key's lines ~19 px, an
    # entry ~29 px; the plot area is the height less 60 px below and a top
    # margin of 80 px plus 18 px per note line (two here)
    ex = explorer(factory)
    for values, panel in grid(factory):
        entries = sum(c.showlegend for c in panel.curves)
        needed = 3 * 19 + 29 * entries
        assert needed <= ex.height - 60 - (80 + 2 * 18), (values, entries, ex.height)
