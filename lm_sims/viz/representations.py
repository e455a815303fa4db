"""Explorers for Chapter 5, section 5.1: representations converge.

* :func:`random_features_explorer`: ``1 - CKA`` and ``1 - mutual k-NN`` between
  random feature layers of two seeds against the width N, log-log, with the law
  ``beta / N`` (eq-rep-cka-deficit) dashed.
* :func:`width_alignment_explorer`: the same for trained muP networks (two
  seeds per width), each hidden layer, with the same networks at
  initialisation (thin) and ``1/n`` dashed.
* :func:`platonic_explorer`: the position paper's Fig. 6b (Huh et al. 2024) in
  miniature: each trained model's alignment with a reference model against its
  own held-out accuracy, one colour per model family, with its untrained copy's
  alignment (translucent markers, at the trained model's accuracy) as the
  baseline.
* :func:`layer_alignment_explorer`: the layer-by-layer CKA (or mutual k-NN)
  matrix between two seeds, trained and at initialisation (Kornblith et al. 2019).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from lm_sims import representations as rep
from lm_sims._config import check_key
from lm_sims.viz.explorer import Curve, Explorer, Heatmap, Knob, Panel

__all__ = [
    "layer_alignment_explorer",
    "platonic_explorer",
    "random_features_explorer",
    "width_alignment_explorer",
]

_METRICS = {"CKA": "cka", "mutual k-NN": "mutual_knn"}
_ACTIVATIONS = {"ReLU": "relu", "erf": "erf"}
_PAIRS = {"0–1": 0, "2–3": 1}
_ARCH_NAMES = {
    (1, "relu"): "1 hidden layer, ReLU",
    (2, "relu"): "2 hidden layers, ReLU",
    (2, "erf"): "2 hidden layers, erf",
}


def _key_data(key: jax.Array) -> tuple:
    return tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())


def _key(key_data: tuple) -> jax.Array:
    return jax.random.wrap_key_data(np.asarray(key_data, np.uint32))


@functools.lru_cache(maxsize=4)
def _test_inputs(key_data: tuple) -> np.ndarray:
    """The 500 held-out digits of the trained networks (same split)."""
    _, test = rep.digits_split(jax.random.fold_in(_key(key_data), 1))
    return np.asarray(test.x)


@functools.lru_cache(maxsize=4)
def _random_features(key_data: tuple, activation: str):
    x = _test_inputs(key_data)
    key = _key(key_data)
    measured = rep.random_feature_alignment(
        jax.random.fold_in(key, 10), x, rep.RF_WIDTHS, activation=activation
    )
    theory = rep.predict_cka_deficit(
        jax.random.fold_in(key, 11), x, rep.RF_WIDTHS, activation=activation
    )
    return measured, theory


def random_features_explorer(key: jax.Array) -> Explorer:
    """Random feature layers of width N from two seeds: ``1 - CKA`` falls as
    ``c / N`` (law of large numbers for the feature kernel), ``1 - mutual k-NN``
    more slowly.

    Features ``phi(x W)``, ``W ~ N(0, 1/64)``, of the 500 held-out digits
    (:func:`lm_sims.representations.random_feature_alignment`), widths 16 to
    4,096, mean of two seed pairs; dashed: ``beta / N`` with ``beta`` from
    (eq-rep-cka-deficit) (:func:`lm_sims.representations.predict_cka_deficit`).
    Mutual k-NN (k = 10) has no such law; the note gives both fitted slopes over
    N >= 256. Knob: activation (ReLU, erf). Static grid: 2 states, ~10 s.
    """
    check_key(key)
    key_data = _key_data(key)
    widths = np.asarray(rep.RF_WIDTHS, float)

    def panel(activation):
        measured, theory = _random_features(key_data, _ACTIVATIONS[activation])
        cka = 1 - measured.cka.mean(0)
        knn = 1 - measured.mutual_knn.mean(0)
        big = widths >= 256
        s_cka = np.polyfit(np.log(widths[big]), np.log(cka[big]), 1)[0]
        s_knn = np.polyfit(np.log(widths[big]), np.log(knn[big]), 1)[0]
        curves = [
            Curve(widths, cka, "1 − CKA", group=0, mode="lines+markers"),
            Curve(widths, theory, "β/N (theory)", "theory", group=0),
            Curve(widths, knn, "1 − mutual k-NN", group=1, mode="lines+markers"),
        ]
        note = (
            f"Fitted slopes for N ≥ 256: 1 − CKA {s_cka:.2f} (theory −1), "
            f"1 − mutual k-NN {s_knn:.2f}; β = {theory[0] * widths[0]:.1f}."
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [Knob("activation", tuple(_ACTIVATIONS), default="ReLU")],
        title="Random features: two seeds align as the width grows",
        x_title="width N (features)",
        y_title="1 − alignment",
        log_x=True,
        log_y=True,
        height=440,
    )


@functools.lru_cache(maxsize=4)
def _width_alignment(key_data: tuple) -> rep.Alignment:
    """Two seed pairs of depth-2 ReLU muP networks, widths 64 to 1,024."""
    return rep.width_alignment(_key(key_data), rep.WIDTHS, num_pairs=2)


def width_alignment_explorer(key: jax.Array) -> Explorer:
    """Trained muP networks of two seeds: both alignments rise with the width;
    CKA's deficit falls about as ``1/n`` in the first hidden layer, more slowly
    in the second, mutual k-NN's more slowly still.

    Depth-2 ReLU networks 64-n-n-10 (muP, base width 64, Adam, lr 2^-6, 200
    steps on 1,297 digits; :func:`lm_sims.representations.width_alignment`),
    widths 64 to 1,024; each hidden layer on the 500 held-out images. Thin: the
    same two networks at initialisation (what training is measured against).
    Dashed: the law of large numbers' ``1/n`` through the widest point of the
    trained ``1 - CKA`` (the most asymptotic one). Knob: seed pair (seeds 0 and
    1, or 2 and 3). The note gives the fitted slopes. Static grid: 2 states, 20
    trained networks (~15 s, shared with the other explorers).
    """
    check_key(key)
    key_data = _key_data(key)
    widths = np.asarray(rep.WIDTHS, float)

    def panel(seeds):
        result = _width_alignment(key_data)
        p = _PAIRS[seeds]
        curves, slopes = [], []
        for layer in range(result.cka.shape[-1]):
            cka = 1 - result.cka[p, :, layer]
            knn = 1 - result.mutual_knn[p, :, layer]
            cka0 = 1 - result.cka_init[p, :, layer]
            knn0 = 1 - result.mutual_knn_init[p, :, layer]
            col = layer + 1
            first = layer == 0
            curves += [
                Curve(
                    widths,
                    cka,
                    "1 − CKA",
                    group=0,
                    col=col,
                    mode="lines+markers",
                    showlegend=first,
                    id=f"cka {col}",
                ),
                Curve(
                    widths,
                    cka0,
                    "1 − CKA at initialisation",
                    group=0,
                    col=col,
                    mode="lines+markers",
                    showlegend=first,
                    thin=True,
                    id=f"cka init {col}",
                ),
                Curve(
                    widths,
                    knn0,
                    "1 − mutual k-NN at initialisation",
                    group=1,
                    col=col,
                    mode="lines+markers",
                    showlegend=first,
                    thin=True,
                    id=f"knn init {col}",
                ),
                Curve(
                    widths,
                    cka[-1] * widths[-1] / widths,
                    "∝ 1/n (theory)",
                    "theory",
                    group=0,
                    col=col,
                    showlegend=first,
                    id=f"law {col}",
                ),
                Curve(
                    widths,
                    knn,
                    "1 − mutual k-NN",
                    group=1,
                    col=col,
                    mode="lines+markers",
                    showlegend=first,
                    id=f"knn {col}",
                ),
            ]
            fit = [np.polyfit(np.log(widths), np.log(v), 1)[0] for v in (cka, knn)]
            slopes.append(f"layer {col}: {fit[0]:.2f} (CKA), {fit[1]:.2f} (k-NN)")
        note = (
            f"Seeds {seeds}. Fitted slopes, "
            + "; ".join(slopes)
            + ". Dashed: 1/n anchored at the widest point of 1 − CKA (its "
            "prefactor is not predicted)."
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [Knob("seeds", tuple(_PAIRS), default="0–1", label="seed pair")],
        title="Trained μP networks: two seeds align as the width grows",
        x_title="width n",
        # one title per panel: with shared_y the right panel had none
        y_title=("1 − alignment", "1 − alignment"),
        log_x=True,
        log_y=True,
        cols=2,
        subplot_titles=("hidden layer 1", "hidden layer 2"),
        height=440,
    )


@functools.lru_cache(maxsize=4)
def _zoo(key_data: tuple) -> rep.ModelAlignment:
    return rep.model_alignment(_key(key_data))


def _pair_prediction(key_data: tuple, zoo: rep.ModelAlignment) -> Curve:
    """The pair law's CKA for the depth-2 ReLU models of the zoo (eq-rep-pair)."""
    cross = _width_alignment(key_data)
    # last hidden layer, mean of the two seed pairs
    deficit = dict(zip(rep.WIDTHS, 1 - cross.cka.mean(0)[:, -1], strict=True))
    idx = np.flatnonzero(
        (zoo.depth == 2) & (zoo.activation == "relu") & np.isin(zoo.width, rep.WIDTHS)
    )
    pred = 1 - rep.predict_pair_deficit(
        [deficit[int(n)] for n in zoo.width[idx]], deficit[rep.REFERENCE[1]]
    )
    return Curve(
        zoo.accuracy[idx],
        pred,
        "pair law from cross-seed CKA (theory)",
        "theory",
        group=7,
        mode="lines+markers",
        id="pair prediction",
    )


def platonic_explorer(key: jax.Array) -> Explorer:
    """The paper's Fig. 6b in miniature: each model's alignment with a reference
    model against its accuracy, trained and (translucent) at initialisation.

    Eight networks (:data:`lm_sims.representations.ZOO`: one or two hidden
    layers, ReLU or erf, widths 64 to 512, muP, Adam, lr 2^-6, 200 steps on
    1,297 digits) against a reference, a depth-2 ReLU network of width 1,024
    from another seed. x: the model's held-out accuracy on 500 images; y:
    alignment of its last hidden layer with the reference's; colour: model
    family (its width is in each marker's hover name). Translucent markers, at
    the trained model's x (an untrained network has no accuracy of its own):
    the untrained copy of each model against the trained reference (the
    baseline random weights and shared inputs give). Thin lines join the widths
    of one family. Dashed, drawn under the markers (CKA
    only), for the depth-2 ReLU family: the prediction
    ``1 - CKA = (D_n + D_1024) / 2`` from each width's cross-seed deficit
    ``D`` (mean of two seed pairs; eq-rep-pair)
    (:func:`lm_sims.representations.predict_pair_deficit`); dashed (mutual
    k-NN): chance, ``k / (P_probe - 1)``. Knob: metric (opens on CKA). Static
    grid: 2 states.
    """
    check_key(key)
    key_data = _key_data(key)

    def panel(metric):
        zoo = _zoo(key_data)
        name = _METRICS[metric]
        y = np.asarray(getattr(zoo, name))
        y0 = np.asarray(getattr(zoo, f"{name}_init"))
        # the theory trace first, so that the trained markers are drawn over it
        curves = [] if name != "cka" else [_pair_prediction(key_data, zoo)]
        # one colour per family (groups 0-2; the theory is grey, group 7); the
        # width is in each marker's name (hover). Legend entries are grouped by
        # colour, so the untrained copies' one entry is the last family's
        fams = []
        for g, ((depth, act), label) in enumerate(_ARCH_NAMES.items()):
            arch = (zoo.depth == depth) & (zoo.activation == act)
            fams.append((g, depth, act, arch))
            idx = np.flatnonzero(arch)
            curves.append(
                Curve(
                    zoo.accuracy[idx],
                    y[idx],
                    label,
                    group=g,
                    mode="lines+markers",
                    thin=True,
                    id=f"arch {depth} {act}",
                )
            )
            for n in zoo.width[idx]:
                i = np.flatnonzero(arch & (zoo.width == n))
                curves.append(
                    Curve(
                        zoo.accuracy[i],
                        y[i],
                        f"{label}, n = {n}",
                        group=g,
                        mode="markers",
                        showlegend=False,
                        id=f"width {depth} {act} {n}",
                    )
                )
        for g, depth, act, arch in fams:
            first = g == len(fams) - 1  # one legend entry for all copies
            for n in zoo.width[arch]:
                i = np.flatnonzero(arch & (zoo.width == n))
                curves.append(
                    Curve(
                        zoo.accuracy[i],
                        y0[i],
                        "untrained copy (at its trained model's x)",
                        group=g,
                        mode="markers",
                        thin=True,
                        showlegend=first,
                        id=f"init {depth} {act} {n}",
                    )
                )
                first = False
        if name == "cka":
            note = (
                "Dashed: pair law 1 − CKA = (D_n + D_1024)/2 for the depth-2 ReLU "
                "family (one model per width: a noisy check). "
            )
        else:
            lo, hi = float(zoo.accuracy.min()), float(zoo.accuracy.max())
            chance = rep.NUM_NEIGHBOURS / (rep.NUM_TEST - 1)
            curves.append(
                Curve(
                    [lo, hi],
                    [chance, chance],
                    "chance level k/(P_probe − 1) (theory)",
                    "theory",
                    group=7,
                    id="chance",
                )
            )
            note = "Dashed: chance level of mutual k-NN, k/(P_probe − 1) = 10/499. "
        r = np.corrcoef(zoo.accuracy, y)[0, 1]
        r0 = np.corrcoef(zoo.accuracy, y0)[0, 1]
        # short: the caption explains the marks (a long note squeezes the plot)
        note += (
            "Each untrained copy is drawn at its trained model's accuracy. "
            f"Reference accuracy {zoo.reference_accuracy:.3f}; "
            f"r = {r:.2f} (untrained copies: {r0:.2f})."
        )
        return Panel(curves, note)

    return Explorer(
        panel,
        [Knob("metric", tuple(_METRICS), default="CKA")],
        title="Alignment with a reference model vs the model's own accuracy",
        x_title="held-out accuracy (fraction of 500 digits)",
        y_title="alignment with the reference",
        height=460,
    )


_HEAT_WIDTHS = (64, 256, 1024)


@functools.lru_cache(maxsize=8)
def _layers(key_data: tuple, width: int, metric: str):
    key = _key(key_data)
    cfg = rep.network_config(width)
    ra, _ = rep.trained_representations(key, 0, cfg)
    rb, _ = rep.trained_representations(key, 1, cfg)
    trained = rep.layer_alignment(ra, rb, metric)
    init = [rep.initial_representations(key, s, cfg) for s in (0, 1)]
    return trained, rep.layer_alignment(init[0], init[1], metric)


def layer_alignment_explorer(key: jax.Array) -> Explorer:
    """Layer-by-layer alignment between two seeds of a trained network (left) and
    of the same two networks at initialisation (right), Kornblith et al.'s Fig. 2
    at toy scale.

    Entry (i, j): layer i of seed 0 against layer j of seed 1, layers = input
    pixels (``in``), the two hidden layers (``h1``, ``h2``), the output (``out``);
    depth-2 ReLU muP networks (as in
    :func:`width_alignment_explorer`). Corresponding layers of two seeds match
    (the diagonal), better at larger width; the hidden layers stay close to the
    pixels, and training makes the outputs of two seeds agree. The colour scale
    is fixed to [0, 1]. Knobs: width (64, 256, 1,024; opens at 1,024, the width
    the text quotes), metric.
    Heatmaps only: this figure has no theory trace.
    """
    check_key(key)
    key_data = _key_data(key)
    # short tick labels (input pixels, hidden layers 1 and 2, output): with the
    # long ones the right panel's y-axis title ran over its tick labels
    names = ["in", "h1", "h2", "out"]

    def panel(width, metric):
        trained, init = _layers(key_data, int(width), _METRICS[metric])
        diag = ", ".join(f"{v:.3f}" for v in np.diag(trained)[1:-1])
        curves = [
            Heatmap(
                trained,
                f"{metric}, trained",
                x=names,  # the axis titles name the seeds
                y=names,
                col=1,
                zmin=0.0,
                zmax=1.0,
                showscale=False,
                id="trained",
            ),
            Heatmap(
                init,
                f"{metric}, at initialisation",
                x=names,
                y=names,
                col=2,
                zmin=0.0,
                zmax=1.0,
                colorbar_title="alignment",
                id="init",
            ),
        ]
        note = f"Width {int(width)}: trained hidden layers' diagonal {diag}."
        return Panel(curves, note)

    return Explorer(
        panel,
        [
            Knob("width", _HEAT_WIDTHS, default=1024, label="width n"),
            Knob("metric", tuple(_METRICS), default="CKA"),
        ],
        title="Layer-by-layer alignment of two seeds",
        x_title="layer of seed 1",
        y_title="layer of seed 0",  # both panels: rows are seed 0's layers
        cols=2,
        subplot_titles=("trained", "at initialisation"),
        height=460,
    )
