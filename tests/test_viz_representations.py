"""Chapter 5.1 explorers (lm_sims.viz.representations). The science behind them is
tested in test_representations.py."""

import jax
import numpy as np
import pytest
from explorer_grid import grid

from lm_sims import representations as rep
from lm_sims.viz import representations as vr
from lm_sims.viz.explorer import Curve, Heatmap

# the static grids train 26 small networks and 20 random feature layers
# (~35 s on 2 idle cores, shared through caches): statistical tier
CURVE_FACTORIES = (
    pytest.param(vr.random_features_explorer, marks=pytest.mark.statistical),
    pytest.param(vr.width_alignment_explorer, marks=pytest.mark.statistical),
    pytest.param(vr.platonic_explorer, marks=pytest.mark.statistical),
)


def _id(factory):
    return getattr(factory, "__name__", None)


def _untitled_y_axes(fig: dict) -> list[str]:
    """The y axes of a figure dict that carry a trace but show no title."""
    used = {t.get("yaxis", "y") for t in fig["data"]}
    layout = fig["layout"]
    missing = []
    for ref in sorted(used):
        axis = layout.get("yaxis" + ref[1:], {})
        title = axis.get("title", {})
        text = title.get("text", "") if isinstance(title, dict) else str(title)
        if not text.strip():
            missing.append(ref)
    return missing


@pytest.mark.parametrize("factory", CURVE_FACTORIES, ids=_id)
def test_static_grid_gives_finite_curves_with_theory_and_simulation(factory):
    for values, panel in grid(factory):
        ids = [c.id for c in panel.curves]
        assert len(set(ids)) == len(ids), values
        cols = {c.col for c in panel.curves}
        for c in panel.curves:
            x, y = np.asarray(c.x, float), np.asarray(c.y, float)
            assert np.all(np.isfinite(x)) and np.all(np.isfinite(y)), (values, c.id)
            assert y.size >= 2 or c.mode == "markers", (values, c.id)
            assert np.all(y > 0), (values, c.id)  # log axes; alignments > 0
        for col in cols:  # each subplot: simulation and theory
            roles = {c.role for c in panel.curves if c.col == col}
            assert roles == {"simulation", "theory"}, (values, col)


@pytest.mark.statistical
def test_random_features_explorer_slopes_and_theory():
    # the explorer's curves: 1 - CKA within 25% of beta/N for N >= 256 (2 pairs:
    # ~10% pair noise, O(1/N^2) correction), mutual k-NN's deficit above CKA's
    for values, panel in grid(vr.random_features_explorer):
        by_id = {c.id: c for c in panel.curves}
        cka, th = by_id["1 − CKA"], by_id["β/N (theory)"]
        big = cka.x >= 256
        np.testing.assert_allclose(cka.y[big] / th.y[big], 1.0, atol=0.25)
        assert np.all(by_id["1 − mutual k-NN"].y > cka.y), values
        assert "Fitted slopes for N ≥ 256" in panel.note


@pytest.mark.statistical
def test_layer_alignment_explorer_heatmaps():
    # CKA and mutual k-NN matrices in [0, 1]; the input row/column of two seeds
    # is the same data (1 on the (input, input) cell); trained hidden layers
    # align better at width 1,024 than at 64
    diag = {}
    for values, panel in grid(vr.layer_alignment_explorer):
        heat = {h.id: h for h in panel.curves}
        assert set(heat) == {"trained", "init"}
        for h in panel.curves:
            assert isinstance(h, Heatmap)
            z = np.asarray(h.z, float)
            assert z.shape == (4, 4) and np.all(np.isfinite(z)), values
            assert np.all((z >= -1e-6) & (z <= 1 + 1e-6)), values
            assert z[0, 0] == pytest.approx(1.0, abs=1e-5)
        diag[values["width"], values["metric"]] = np.diag(heat["trained"].z)[1:3]
    for metric in ("CKA", "mutual k-NN"):
        assert np.all(diag[1024, metric] > diag[64, metric]), metric


def test_platonic_explorer_panels_from_fake_results(monkeypatch):
    # the panel logic without training: one marker per model, one colour per
    # family, one thin line per family, the dashed prediction (CKA, drawn
    # first, under the markers) or chance line (mutual k-NN)
    m = len(rep.ZOO)
    zoo = rep.ModelAlignment(
        depth=np.asarray([t[0] for t in rep.ZOO]),
        width=np.asarray([t[1] for t in rep.ZOO]),
        activation=np.asarray([t[2] for t in rep.ZOO]),
        accuracy=np.linspace(0.8, 0.99, m),
        cka=np.linspace(0.5, 0.95, m),
        mutual_knn=np.linspace(0.2, 0.7, m),
        reference_accuracy=0.99,
        cka_init=np.linspace(0.4, 0.9, m),
        mutual_knn_init=np.linspace(0.3, 0.6, m),
    )
    w = len(rep.WIDTHS)
    cross = rep.Alignment(
        np.asarray(rep.WIDTHS),
        np.full((2, w, 2), 0.9) + np.linspace(0, 0.09, w)[None, :, None],
        np.full((2, w, 2), 0.6),
        np.full((4, w), 0.95),
    )
    monkeypatch.setattr(vr, "_zoo", lambda key_data: zoo)
    monkeypatch.setattr(vr, "_width_alignment", lambda key_data: cross)
    ex = vr.platonic_explorer(jax.random.key(0))
    cka = ex.evaluate(metric="CKA")
    by_id = {c.id: c for c in cka.curves}
    ex_default = ex.evaluate()
    assert [c.id for c in ex_default.curves] == [c.id for c in cka.curves]
    families = {}
    for d, n, a in rep.ZOO:
        trained, init = by_id[f"width {d} {a} {n}"], by_id[f"init {d} {a} {n}"]
        assert f"n = {n}" in trained.name and trained.mode == "markers"
        assert trained.group == init.group == by_id[f"arch {d} {a}"].group
        families.setdefault((d, a), trained.group)
        # the untrained baseline: translucent, at the trained model's accuracy
        assert init.thin and init.mode == "markers"
        i = rep.ZOO.index((d, n, a))
        np.testing.assert_allclose(init.x, trained.x)
        np.testing.assert_allclose(init.y, [zoo.cka_init[i]])
        np.testing.assert_allclose(trained.x, [zoo.accuracy[i]])
    # no two families, and no family and the grey theory, share a colour
    assert len(set(families.values())) == 3
    assert by_id["pair prediction"].group not in families.values()
    ids = [c.id for c in cka.curves]
    assert ids.index("pair prediction") < min(
        ids.index(k) for k in ids if k.startswith("width ")
    )
    pred = by_id["pair prediction"]
    assert pred.role == "theory" and pred.x.size == 4  # widths 64-512 of depth 2
    # a theory curve says so in the legend (issue 10: legends name theory)
    for panel in (cka, ex.evaluate(metric="mutual k-NN")):
        for c in panel.curves:
            assert (c.role == "theory") == ("(theory)" in c.name), c.name
    # (D_n + D_1024)/2 with D = 1 - cross-seed CKA of the last hidden layer
    v = 1 - cross.cka.mean(0)[:, -1]
    np.testing.assert_allclose(pred.y, 1 - 0.5 * (v[:4] + v[4]), rtol=1e-6)
    knn = ex.evaluate(metric="mutual k-NN")
    chance = {c.id: c for c in knn.curves}["chance"]
    np.testing.assert_allclose(chance.y, 10 / 499)
    assert all(isinstance(c, Curve) for c in knn.curves)
    assert "r = " in knn.note and "Reference accuracy 0.990" in knn.note
    assert "untrained copies" in knn.note
    assert "drawn at its trained model's accuracy" in knn.note
    # the note sits above the plot: at most 3 lines of 80 characters, so the plot
    # keeps its height (it had 5 lines; the caption explains the marks)
    assert max(len(cka.note), len(knn.note)) <= 240, (cka.note, knn.note)


def test_width_alignment_explorer_shows_initialisation_and_anchors_law_at_widest(
    monkeypatch,
):
    # without training: the thin at-initialisation curves are the Alignment's
    # cka_init, and the dashed 1/n line passes through the widest trained point
    w = len(rep.WIDTHS)
    n = np.asarray(rep.WIDTHS, float)
    cka = 1 - 0.1 * (64 / n)[None, :, None] * np.ones((2, w, 2))
    cross = rep.Alignment(
        np.asarray(rep.WIDTHS),
        cka,
        np.full((2, w, 2), 0.6),
        np.full((4, w), 0.95),
        cka_init=cka - 0.01,
        mutual_knn_init=np.full((2, w, 2), 0.5),
        movement=np.full((4, w, 2), 0.2),
    )
    monkeypatch.setattr(vr, "_width_alignment", lambda key_data: cross)
    ex = vr.width_alignment_explorer(jax.random.key(0))
    panel = ex.evaluate(seeds="0–1")
    # both panels have a y-axis title (issue 10: the right panel had none, hidden
    # by shared_y)
    assert _untitled_y_axes(ex._figure_dict(panel)) == []
    by_id = {c.id: c for c in panel.curves}
    np.testing.assert_allclose(by_id["cka init 1"].y, 1 - cross.cka_init[0, :, 0])
    assert by_id["cka init 1"].thin
    law = by_id["law 2"]
    assert law.role == "theory"
    np.testing.assert_allclose(law.y[-1], 1 - cka[0, -1, 1], rtol=1e-9)
    np.testing.assert_allclose(law.y * n, law.y[-1] * n[-1], rtol=1e-9)


def test_explorers_open_where_the_text_reads_them():
    # the text quotes the layer matrix at width 1,024 and discusses CKA first
    key = jax.random.key(0)
    layer = {k.name: k.default for k in vr.layer_alignment_explorer(key).knobs}
    assert layer == {"width": 1024, "metric": "CKA"}
    platonic = {k.name: k.default for k in vr.platonic_explorer(key).knobs}
    assert platonic == {"metric": "CKA"}


def test_layer_alignment_explorer_titles_both_heatmaps_y_axes(monkeypatch):
    # issue 10: the right-hand heatmap had no y-axis title; fake matrices, no
    # training
    z = np.eye(4) * 0.5 + 0.5
    monkeypatch.setattr(vr, "_layers", lambda key_data, width, metric: (z, z))
    ex = vr.layer_alignment_explorer(jax.random.key(0))
    fig = ex._figure_dict(ex.evaluate())
    assert len({t.get("yaxis", "y") for t in fig["data"]}) == 2
    assert _untitled_y_axes(fig) == []
    # short row labels: "hidden 1" pushed the right panel's title over its ticks
    # (seen at 1280 px); the caption spells the labels out
    for t in fig["data"]:
        assert max(len(str(v)) for v in t["y"]) <= 3, t["y"]
