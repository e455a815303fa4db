"""Chapter 4.1 explorers (lm_sims.viz.transfer). The science behind them is tested
in test_transfer.py."""

import jax
import numpy as np
import pytest
from explorer_grid import KEY, explorer, grid

from lm_sims import feature_learning as fl
from lm_sims import transfer
from lm_sims.viz import transfer as vt

# the SGD states of the transfer explorer train a small sweep (~20 s) and the
# coordinate check compiles ten widths (~20 s): statistical tier
FACTORIES = (
    pytest.param(vt.transfer_explorer, marks=pytest.mark.statistical),
    pytest.param(vt.coordinate_check_explorer, marks=pytest.mark.statistical),
)


def _id(factory):
    return getattr(factory, "__name__", None)


@pytest.mark.parametrize("factory", FACTORIES, ids=_id)
def test_static_grid_gives_finite_curves_with_theory_and_simulation(factory):
    points = grid(factory)
    for values, panel in points:
        ids = [c.id for c in panel.curves]
        assert len(set(ids)) == len(ids), values
        for c in panel.curves:
            y = np.asarray(c.y, float)
            assert np.all(np.isfinite(np.asarray(c.x, float))), (values, c.id)
            assert np.all(np.isfinite(y)) and np.all(y > 0), (values, c.id)  # log y
            # lines have >= 2 points; an optimum is one marker
            assert y.size >= (1 if "optimum" in c.id else 2), (values, c.id)
        for col in (1, 2):  # SP and muP panels: simulation and theory in each
            roles = {c.role for c in panel.curves if c.col == col}
            assert roles == {"simulation", "theory"}, (values, col)


def test_transfer_explorer_adam_state_is_the_reference_sweep():
    # the book's default state draws the shipped sweep: every width's curve, the
    # markers at the refined optima, muP's dashed line at the width-64 optimum
    panel = explorer(vt.transfer_explorer).evaluate(
        optimizer="Adam", widths="all", steps=200
    )
    ref = transfer.reference_sweep()
    opt = transfer.optimum(ref)
    by_id = {c.id: c for c in panel.curves}
    for p, par in enumerate(("sp", "mup")):
        for i, n in enumerate(ref.widths):
            mean = ref.loss[p, i, :, :, -1].mean(-1)
            curve = by_id[f"{par} loss {n}"]
            np.testing.assert_allclose(curve.y, mean[np.isfinite(mean)])
            assert by_id[f"{par} optimum {n}"].x[0] == opt.refined[p, i]
        assert by_id[f"{par} transfer"].x[0] == opt.refined[p, 0]
    narrow = explorer(vt.transfer_explorer).evaluate(
        optimizer="Adam", widths="64–128", steps=100
    )
    assert "sp loss 256" not in {c.id for c in narrow.curves}


@pytest.mark.statistical
def test_the_widths_control_changes_the_figure_under_either_optimizer():
    # a control that leaves the figure unchanged is a broken control (the browser
    # test moves every slider after the optimizer one and requires new data)
    ex = explorer(vt.transfer_explorer)
    for opt in ("Adam", "SGD"):
        shown = [
            {c.id for c in ex.evaluate(optimizer=opt, widths=w, steps=200).curves}
            for w in ("all", "64–128")
        ]
        assert shown[0] != shown[1], opt


@pytest.mark.statistical
def test_coordinate_check_explorer_slopes():
    # the measured slopes on the explorer's grid (one seed) within +-0.2 of the
    # dashed theory (one seed: the +-0.15 bands of test_transfer use two)
    for values, panel in grid(vt.coordinate_check_explorer):
        by_id = {c.id: c for c in panel.curves}
        for par in ("sp", "mup"):
            for label in ("hidden layer 2", "output f"):
                sim, th = by_id[f"{par} {label}"], by_id[f"{par} {label} theory"]
                slope = np.polyfit(np.log(sim.x), np.log(sim.y), 1)[0]
                theory = np.polyfit(np.log(th.x), np.log(th.y), 1)[0]
                assert abs(slope - theory) <= 0.2, (values, par, label, slope)


@pytest.mark.statistical
def test_transfer_explorer_live_steps_read_one_sweep_to_the_end_of_the_range():
    # a number of steps that was not recorded (live slider) runs one one-seed
    # sweep over widths 64-512 to the end of the live range, recording at every
    # live value; every other one is then a lookup: no run, no compilation
    from lm_sims.diagnostics import count_compilations

    ex = explorer(vt.transfer_explorer)
    panel = ex.evaluate(optimizer="SGD", widths="all", steps=20)
    shown = {c.id for c in panel.curves if c.id.startswith("mup loss")}
    assert shown == {f"mup loss {n}" for n in (64, 128, 256, 512)}
    for c in panel.curves:
        assert np.all(np.isfinite(np.asarray(c.y, float))), c.id
    live = vt._live(vt._key_data(KEY), "gd")
    assert set(vt._LIVE_STEPS) <= set(live.steps.tolist())
    with count_compilations() as count:
        later = ex.evaluate(optimizer="SGD", widths="all", steps=310)
    assert count.count == 0
    k = int(np.flatnonzero(live.steps == 310)[0])
    mup = next(c for c in later.curves if c.id == "mup loss 64")
    assert np.isin(np.asarray(mup.y, float), live.loss[..., k]).all()


def test_transfer_explorer_draws_no_optimum_where_every_rate_diverged(monkeypatch):
    # a width whose every rate diverged has no optimum (Optimum.found False): no
    # marker, no NaN, and the note names it; here SP's width 64, so SP's panel
    # has no dashed line and the legend takes it from muP's
    ref = transfer.reference_sweep()
    loss, div = ref.loss.copy(), ref.diverged.copy()
    loss[0, 0], div[0, 0] = np.inf, True
    fake = ref._replace(loss=loss, diverged=div)
    monkeypatch.setattr(vt, "_sweep", lambda *args: fake)
    panel = explorer(vt.transfer_explorer).evaluate(
        optimizer="Adam", widths="all", steps=200
    )
    ids = {c.id for c in panel.curves}
    assert "sp optimum 64" not in ids and "sp transfer" not in ids
    assert {"sp optimum 128", "mup optimum 64", "mup transfer"} <= ids
    assert [c.showlegend for c in panel.curves if c.id == "mup transfer"] == [True]
    for c in panel.curves:
        assert np.all(np.isfinite(np.asarray(c.y, float))), c.id
    assert "SP n = 64: 2^-13" in panel.note


def test_coordinate_check_theory_names_and_note_follow_the_optimizer(monkeypatch):
    # a trace's name is drawn from the first state only, so it must not carry
    # exponents that change with the knob (SGD's 0.5 and 1 used to stay on the
    # Adam view); the note names each state's own exponents. Fake one-step
    # changes (no training) keep this a unit test.
    def fake(key_data, parameterization, optimizer):
        return np.tile([1.0, 2.0, 3.0], (len(vt._CC_WIDTHS), 1))

    monkeypatch.setattr(vt, "_changes", fake)
    check = vt.coordinate_check_explorer(jax.random.key(0))
    # SP's predicted exponents (hidden 1, hidden 2, output) as the note prints them
    expected = {
        "SGD": ("gd", "(-0.5, 0.5, 1) in SP"),
        "Adam": ("adam", "(0, 1, 1.5) in SP"),
    }
    names = {}
    for name, (opt, sp_text) in expected.items():
        panel = check.evaluate(optimizer=name)
        theory = [c for c in panel.curves if c.role == "theory"]
        names[name] = sorted(c.name for c in theory)
        assert all("n^" not in c.name for c in theory), names[name]
        assert sp_text in panel.note and f"Dashed ({name})" in panel.note, panel.note
        assert "(0, 0, 0) in μP" in panel.note, panel.note
        # the dashed lines have exactly the predicted slopes (exact: fake data)
        sp = fl.predicted_exponents("sp", optimizer=opt)
        by_id = {c.id: c for c in theory}
        for j, label in enumerate(vt._CC_LABELS):
            c = by_id[f"sp {label} theory"]
            slope = np.polyfit(np.log(c.x), np.log(c.y), 1)[0]
            np.testing.assert_allclose(slope, sp[j], atol=1e-9)
    assert names["SGD"] == names["Adam"]


def _y_titles(fig):
    """{y axis name: its title} for every y axis that carries a trace."""
    layout = fig["layout"]
    out = {}
    for trace in fig["data"]:
        name = "yaxis" + trace.get("yaxis", "y")[1:]
        out[name] = (layout.get(name, {}).get("title") or {}).get("text", "")
    return out


def test_both_panels_have_their_own_y_axis_title_and_ticks(monkeypatch):
    # the right (muP) panel used to share the left one's y axis: no title, no
    # tick labels, and on a phone, where the panels stack, no scale at all.
    # Fake data (no training) keeps this a unit test.
    ref = transfer.reference_sweep()
    monkeypatch.setattr(vt, "_sweep", lambda *args: ref)
    monkeypatch.setattr(
        vt,
        "_changes",
        lambda *a: np.tile([1.0, 2.0, 3.0], (len(vt._CC_WIDTHS), 1)),
    )
    for factory, values in (
        (vt.transfer_explorer, {"optimizer": "Adam", "widths": "all", "steps": 200}),
        (vt.coordinate_check_explorer, {"optimizer": "SGD"}),
    ):
        ex = factory(jax.random.key(0))
        fig = ex._figure_dict(ex.evaluate(**values))
        titles = _y_titles(fig)
        assert set(titles) == {"yaxis", "yaxis2"}, (factory.__name__, titles)
        assert all(titles.values()), (factory.__name__, titles)
        right = fig["layout"]["yaxis2"]
        assert "matches" not in right and right.get("showticklabels", True)


def test_theory_traces_in_the_legend_say_theory(monkeypatch):
    # the dashed line of the transfer figure is muP's prediction: its legend
    # entry reads as theory, not as one more width
    ref = transfer.reference_sweep()
    monkeypatch.setattr(vt, "_sweep", lambda *args: ref)
    panel = vt.transfer_explorer(jax.random.key(0)).evaluate(
        optimizer="Adam", widths="all", steps=200
    )
    shown = [c for c in panel.curves if c.role == "theory" and c.showlegend]
    assert shown and all("(theory)" in c.name for c in shown), [c.name for c in shown]
