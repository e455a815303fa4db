"""Figure checks for the Chapter 1 explorers (lm_sims.viz.deep_linear), on the
figure dict, not pixels."""

import jax
import numpy as np
import pytest

from lm_sims import deep_linear
from lm_sims.viz import deep_linear as explorers
from lm_sims.viz.explorer import PALETTE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = jax.random.key(0)


def _fig(ex, **values):
    return ex._figure_dict(ex.evaluate(**values))


def _curves(fig, dash):
    return [
        tr
        for tr in fig["data"]
        if tr["type"] == "scatter"
        and not str(tr.get("meta")).startswith("::")  # not a legend-key entry
        and "::band" not in str(tr.get("meta"))
        and (tr["line"]["dash"] == "dash") == dash
    ]


def _xs(trace):
    return np.asarray(trace["x"], dtype=float)


def test_digits_modes_have_distinct_colours():
    # the digits task has 9 modes and the palette 8 colours: mode 9 was drawn in
    # mode 1's colour (issue 10); each drawn mode now has a colour of its own
    fig = _fig(explorers.mode_explorer(KEY), dataset="digits")
    sims = _curves(fig, dash=False)
    colours = [tr["line"]["color"] for tr in sims]
    assert 2 <= len(sims) <= len(PALETTE)
    assert len(set(colours)) == len(colours)
    # each theory curve has its simulation's colour
    for th in _curves(fig, dash=True):
        assert th["line"]["color"] in colours


@pytest.mark.parametrize(
    "values", [{"dataset": "digits", "lr": 0.5}, {"dataset": "tree", "lr": 0.5}]
)
def test_mode_time_axis_ends_shortly_after_learning(values):
    # the time axis ran ~10x past the end of learning (issue 10): it now ends
    # 1.5x after the slowest drawn mode reaches 99% of its singular value
    ex = explorers.mode_explorer(KEY)
    fig = _fig(ex, **values)
    sims = _curves(fig, dash=False)
    t_last = max(_xs(tr)[-1] for tr in sims)
    cfg = deep_linear.Config(
        dataset=values["dataset"], lr=values.get("lr", 0.02), record_every=1
    )
    traj = deep_linear.train(KEY, cfg)
    m = len(sims)
    s = np.asarray(traj.singular_values)[:m]
    u = np.asarray(traj.mode_strengths)[:, :m]
    t = np.asarray(traj.t)
    t99 = t[np.argmax(np.all(u >= 0.99 * s, axis=1))]
    assert np.all(u[-1] >= 0.99 * s)  # learning ends within the run
    # ends after learning, with a margin, and not far past it; points spaced by
    # lr * stride, so allow one record of slack
    assert t99 <= t_last <= 1.5 * t99 + 0.01 * t[-1]
    assert t_last < 0.5 * t[-1]
    # every drawn simulation curve reaches its singular value in the window
    for tr, si in zip(sims, s, strict=True):
        assert np.asarray(tr["y"], dtype=float)[-1] >= 0.99 * si


def test_balancedness_theory_and_simulation_meet_at_t0():
    # on a log time axis t = 0 was dropped and the dashed conserved value never met
    # the drifting simulation (issue 10): the axis is linear and starts at t = 0,
    # where the simulation equals the theory
    ex = explorers.balancedness_explorer(KEY)
    fig = _fig(ex, lr=0.05, init_scale=0.1, n_layers=2)
    layout = fig["layout"]
    x_axes = [k for k in layout if k.startswith("xaxis")]
    assert x_axes and all(layout[k].get("type") != "log" for k in x_axes)
    sim = next(tr for tr in _curves(fig, dash=False) if tr["name"] == "||Q_1(t)||")
    th = next(tr for tr in _curves(fig, dash=True) if "Q_1" in tr["name"])
    assert "theory" in th["name"]
    assert _xs(sim)[0] == 0.0 and _xs(th)[0] == 0.0
    y_sim, y_th = (np.asarray(tr["y"], dtype=float) for tr in (sim, th))
    assert y_sim[0] == pytest.approx(y_th[0], rel=1e-6)
    # and the drift that follows is visible: > 1% of the value by the end
    assert abs(y_sim[-1] - y_th[-1]) > 0.01 * y_th[0]
