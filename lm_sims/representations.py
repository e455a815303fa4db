# ruff: noqa: F722  (jaxtyping shape strings are not Python expressions)
r"""Converging representations: CKA and mutual k-NN across widths, seeds and models.

Two representations of the same ``n`` inputs, ``X`` (n, p1) and ``Y`` (n, p2), are
compared by linear CKA (:func:`lm_sims.observables.linear_cka`, Kornblith et al.
2019) and by mutual k-nearest-neighbour alignment
(:func:`lm_sims.observables.mutual_knn_alignment`, Huh et al. 2024; rows normalised,
``k = 10`` neighbours by inner product, self excluded). Both observables are reused
unchanged.

**Random features.** A width-``N`` random ReLU layer ``phi(x W)``, ``W`` with
i.i.d. ``N(0, 1/d)`` entries, has the centred feature kernel
``K_N = Pi Phi Phi^T Pi / N``, an average of ``N`` i.i.d. rank-one terms
``psi_i psi_i^T`` (``psi_i = Pi phi(X w_i)``, ``Pi`` the centring projection). By
the law of large numbers ``K_N = K + E_N`` with ``E_N = O(N^{-1/2})``; expanding
CKA of two independent draws to second order in ``E`` gives (derivation on the
book's page)

.. math::

    \mathbb{E}\,[1 - \mathrm{CKA}] = \frac{\beta}{N} + O(N^{-2}),\qquad
    \beta = \frac{\mathbb{E}\,\lVert\psi\rVert^4}{\lVert K\rVert_F^2}
      - \frac{\mathbb{E}\,(\psi^\top K \psi)^2}{\lVert K\rVert_F^4},
    \qquad (eq-rep-cka-deficit)

which :func:`predict_cka_deficit` evaluates by Monte Carlo over units. Mutual k-NN
has no such law: it counts shared neighbours, which a perturbation of size
``N^{-1/2}`` reorders only near the boundary of each neighbourhood, a first-order
effect, so its deficit falls more slowly (about ``N^{-1/2}``, measured ``N^{-0.47}``
on digits). The argument holds while the similarity fluctuations exceed the typical
gap between the k-th and (k+1)-th similarity of the ``n`` probe inputs; at larger N
the deficit must fall faster, so ``-1/2`` is an intermediate-N law.

**Trained networks.** 64-n-n-10 ReLU networks (:mod:`lm_sims.mlp`, muP with base
width 64 as in Chapter 4, ``sigma_w2 = 2``, biases from zero) trained by minibatch
Adam (batch 64, ``lr = 2^-6``, Chapter 4's optimum, 200 steps) on 1,297 digits
images (centred one-hot targets, 1/2-MSE); the other 500 images are held out, and
every representation is evaluated on them. A model's seed sets its initialisation
only: every model sees the same minibatches, so two seeds of one width differ by
their initial weights alone. muP has a deterministic feature-learning limit as the
width grows, so a deficit ``1 - CKA ~ 1/n`` between two seeds of width ``n`` is
expected asymptotically (Bordelon & Pehlevan 2023 for the ``n^{-1/2}`` fluctuations).
Every trained result comes with the same networks at initialisation
(:func:`initial_representations`), which separates what random weights and the
inputs already share from what training adds.

References:
    Kornblith, Norouzi, Lee & Hinton, "Similarity of neural network
    representations revisited", 2019, arXiv:1905.00414.
    Huh, Cheung, Wang & Isola, "The Platonic representation hypothesis", 2024,
    arXiv:2405.07987.
    Yang & Hu, "Feature learning in infinite-width neural networks", 2021,
    arXiv:2011.14522.
    Bordelon & Pehlevan, "Dynamics of finite width kernel and prediction
    fluctuations in mean field neural networks", 2023, arXiv:2304.03408.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims import data as _data
from lm_sims import mlp, observables, training
from lm_sims._config import (
    as_float_array,
    check_allocation,
    check_choice,
    check_int,
    check_key,
    check_layer_chain,
    num_bytes,
)

__all__ = [
    "ACTIVATIONS",
    "BASE_WIDTH",
    "METRICS",
    "NUM_TEST",
    "NUM_NEIGHBOURS",
    "REFERENCE",
    "RF_WIDTHS",
    "WIDTHS",
    "ZOO",
    "Alignment",
    "ModelAlignment",
    "alignment",
    "cka_deficit_coefficient",
    "digits_split",
    "initial_representations",
    "layer_alignment",
    "layer_representations",
    "model_alignment",
    "network_config",
    "predict_cka_deficit",
    "predict_pair_deficit",
    "random_feature_alignment",
    "random_features",
    "train_network",
    "trained_representations",
    "width_alignment",
]

ACTIVATIONS = ("relu", "erf")
METRICS = ("cka", "mutual_knn")
NUM_TEST = 500  # held-out digits on which every representation is evaluated
NUM_NEIGHBOURS = 10  # k of mutual k-NN, as in Huh et al.
RF_WIDTHS = (16, 64, 256, 512, 1024, 2048, 4096)
WIDTHS = (64, 128, 256, 512, 1024)
BASE_WIDTH = 64
#: The models of the Fig. 6b miniature as (depth, width, activation) triples.
#: No width below the muP base width 64: there the hidden learning rate is above the
#: base one, and a depth-2 width-32 ReLU network failed to train at lr 2^-6 in one
#: draw of its weights (held-out accuracy 0.48), a single point that set the trend.
ZOO = (
    tuple((1, n, "relu") for n in (128, 512))
    + tuple((2, n, "relu") for n in (64, 128, 256, 512))
    + tuple((2, n, "erf") for n in (128, 512))
)
#: The reference model of the Fig. 6b miniature, (depth, width, activation).
REFERENCE = (2, 1024, "relu")
_LR = 2.0**-6  # Adam, muP base width 64: Chapter 4's optimum, where features move
_STEPS = 200
_BATCH = 64


class Alignment(NamedTuple):
    """Cross-seed alignment against width.

    Attributes:
        widths: (W,) widths N, int.
        cka: (pairs, W) linear CKA of each seed pair (for trained networks
            (pairs, W, layers): one value per hidden layer).
        mutual_knn: the same shape, mutual k-NN alignment.
        accuracy: None (random features) or (seeds, W) held-out accuracy of
            every trained network.
        cka_init: None (random features) or (pairs, W, layers): the same seed
            pairs at initialisation (the baseline training is compared with).
        mutual_knn_init: the same for mutual k-NN.
        movement: None or (seeds, W, layers): ``1 - CKA`` between each trained
            network and its own initialisation (how far its features moved).
    """

    widths: Int[np.ndarray, " W"]
    cka: Float[np.ndarray, "pairs W *layers"]
    mutual_knn: Float[np.ndarray, "pairs W *layers"]
    accuracy: Float[np.ndarray, "seeds W"] | None = None
    cka_init: Float[np.ndarray, "pairs W layers"] | None = None
    mutual_knn_init: Float[np.ndarray, "pairs W layers"] | None = None
    movement: Float[np.ndarray, "seeds W layers"] | None = None


class ModelAlignment(NamedTuple):
    """Each model's alignment with a reference model and its own performance.

    Attributes:
        depth, width: (M,) each model's number of hidden layers and width.
        activation: (M,) each model's activation name.
        accuracy: (M,) held-out accuracy (fraction of the 500 images).
        cka: (M,) linear CKA of its last hidden layer with the reference's.
        mutual_knn: (M,) mutual k-NN alignment, the same layers.
        reference_accuracy: the reference model's held-out accuracy.
        cka_init: (M,) CKA of each model *at initialisation* (its untrained
            copy, same seed) with the trained reference: the baseline that
            random weights and the shared inputs give without training.
        mutual_knn_init: (M,) the same for mutual k-NN.
    """

    depth: Int[np.ndarray, " M"]
    width: Int[np.ndarray, " M"]
    activation: np.ndarray
    accuracy: Float[np.ndarray, " M"]
    cka: Float[np.ndarray, " M"]
    mutual_knn: Float[np.ndarray, " M"]
    reference_accuracy: float
    cka_init: Float[np.ndarray, " M"] | None = None
    mutual_knn_init: Float[np.ndarray, " M"] | None = None


# -- alignment observables ---------------------------------------------------------


def alignment(
    x: Float[ArrayLike, "n p1"],
    y: Float[ArrayLike, "n p2"],
    metric: str = "cka",
    k: int = NUM_NEIGHBOURS,
) -> float:
    """One alignment number between two representations of the same samples.

    ``metric="cka"``: :func:`lm_sims.observables.linear_cka`; ``"mutual_knn"``:
    :func:`lm_sims.observables.mutual_knn_alignment` with ``k`` neighbours.

    Args:
        x: (n, p1) features.
        y: (n, p2) features of the same n samples.
        metric: "cka" or "mutual_knn".
        k: neighbours for mutual k-NN (1 <= k <= n - 1; unused for CKA).

    Returns:
        The alignment, a Python float in [0, 1].

    Raises:
        ValueError: an unknown metric, or what the observable raises (shapes, NaN,
            a constant representation, k out of range).
        TypeError: inputs that are not real arrays, or k not an int.

    References:
        Kornblith et al., "Similarity of neural network representations
        revisited", 2019, arXiv:1905.00414.
        Huh et al., "The Platonic representation hypothesis", 2024,
        arXiv:2405.07987.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (30, 4))
        >>> rep.alignment(x, -2.0 * x, "mutual_knn", k=3)
        1.0
    """
    check_choice("metric", metric, METRICS)
    check_int("k", k, minimum=1)
    x, y = _check_rep("x", x), _check_rep("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same samples, got {x.shape[0]} and {y.shape[0]}"
        )
    if metric == "cka":
        return float(_cka(x, y))
    check_int("k", k, minimum=1, maximum=x.shape[0] - 1)
    return float(_knn(x, y, k))


def _check_rep(name, z):
    """One representation: a finite real (n >= 2, p >= 1) array, not constant
    over samples; errors name ``name``."""
    z = as_float_array(name, z, allow_bool=False)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n >= 2, p >= 1), got {tuple(z.shape)}"
        )
    if not bool(jnp.any(z != z[:1])):
        raise ValueError(f"{name} is constant over samples: its alignment is undefined")
    return z


# The observables, unchanged, compiled once per shape (checked above): eager
# dispatch compiled each of their operations per shape, 4x slower on first use.
_cka = jax.jit(observables.linear_cka)
_knn = jax.jit(observables.mutual_knn_alignment, static_argnums=2)


def layer_alignment(
    reps_a: Sequence[Float[ArrayLike, "n p"]],
    reps_b: Sequence[Float[ArrayLike, "n p"]],
    metric: str = "cka",
    k: int = NUM_NEIGHBOURS,
) -> Float[np.ndarray, "La Lb"]:
    """The layer-by-layer alignment matrix of two networks (Kornblith et al.,
    Fig. 2): entry (i, j) compares layer i of network a with layer j of network b.

    Args:
        reps_a: La representations (n, p_i) of the same n samples.
        reps_b: Lb representations (n, q_j) of those samples.
        metric: "cka" or "mutual_knn" (see :func:`alignment`).
        k: neighbours for mutual k-NN.

    Returns:
        (La, Lb) NumPy float64 matrix with entries in [0, 1].

    Raises:
        ValueError: an empty list, or what :func:`alignment` raises.
        TypeError: a list entry that is not a real array.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (20, 3))
        >>> rep.layer_alignment([x, x**2], [x]).round(3).tolist()[0]
        [1.0]
    """
    check_choice("metric", metric, METRICS)
    for name, reps in (("reps_a", reps_a), ("reps_b", reps_b)):
        if isinstance(reps, (str, bytes)) or not isinstance(reps, Sequence):
            raise TypeError(f"{name} must be a list of (n, p) arrays, got {reps!r}")
        if len(reps) == 0:
            raise ValueError(f"{name} must hold at least one representation")
        for i, z in enumerate(reps):
            _check_rep(f"{name}[{i}]", z)
    check_int("k", k, minimum=1)
    out = np.empty((len(reps_a), len(reps_b)))
    for i, a in enumerate(reps_a):
        for j, b in enumerate(reps_b):
            out[i, j] = alignment(a, b, metric, k)
    return out


# -- random features ----------------------------------------------------------------


def _check_inputs(x):
    x = as_float_array("x", x, allow_bool=False)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (n >= 2, d >= 1), got {tuple(x.shape)}")
    return x


def random_features(
    key: jax.Array, x: Float[ArrayLike, "n d"], width: int, activation: str = "relu"
) -> Float[Array, "n width"]:
    """A random one-layer feature map ``phi(x W)``, ``W_ij ~ N(0, 1/d)``.

    Args:
        key: PRNG key (the weights).
        x: (n, d) inputs.
        width: number of features N (int >= 1).
        activation: "relu" or "erf".

    Returns:
        (n, width) features in the default float dtype.

    Raises:
        ValueError: x not (n >= 2, d) or not finite, width < 1, an unknown
            activation, or features above ``lm_sims._config.MAX_BYTES``.
        TypeError: key not a PRNG key, x not real, width not an int.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (5, 3))
        >>> rep.random_features(jax.random.key(1), x, 8).shape
        (5, 8)
    """
    check_key(key)
    x = _check_inputs(x)
    check_int("width", width)
    check_choice("activation", activation, ACTIVATIONS)
    check_allocation(
        f"random features of width={width}",
        2 * num_bytes(x.shape[0] + x.shape[1], width),
        "use a smaller width",
    )
    return _random_features(key, x, width, activation)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _random_features(key, x, width, activation):
    w = jax.random.normal(key, (x.shape[1], width), x.dtype) / np.sqrt(x.shape[1])
    phi = jax.nn.relu if activation == "relu" else jax.scipy.special.erf
    return phi(x @ w)


def _check_widths(widths, name="widths", minimum=1):
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {widths!r}")
    if len(widths) == 0:
        raise ValueError(f"{name} must not be empty")
    for w in widths:
        check_int(f"each of {name}", w, minimum=minimum)
    return tuple(int(w) for w in widths)


def random_feature_alignment(
    key: jax.Array,
    x: Float[ArrayLike, "n d"],
    widths: Sequence[int] = RF_WIDTHS,
    *,
    num_pairs: int = 2,
    k: int = NUM_NEIGHBOURS,
    activation: str = "relu",
) -> Alignment:
    """CKA and mutual k-NN between random feature layers of two seeds, per width.

    Pair ``p`` compares ``random_features(fold_in(key, 2p), x, N)`` with
    ``random_features(fold_in(key, 2p + 1), x, N)``.

    Args:
        key: PRNG key.
        x: (n, d) inputs (e.g. the held-out digits of :func:`digits_split`).
        widths: the widths N (ints >= 1).
        num_pairs: independent seed pairs (int >= 1).
        k: neighbours for mutual k-NN (1 <= k <= n - 1).
        activation: "relu" or "erf".

    Returns:
        :class:`Alignment` with ``cka`` and ``mutual_knn`` of shape
        (num_pairs, W) and ``accuracy`` None.

    Raises:
        ValueError, TypeError: as :func:`random_features` and :func:`alignment`.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (40, 3))
        >>> a = rep.random_feature_alignment(jax.random.key(1), x, [8, 512],
        ...                                  num_pairs=1, k=3)
        >>> bool(a.cka[0, 1] > a.cka[0, 0])
        True
    """
    check_key(key)
    x = _check_inputs(x)
    widths = _check_widths(widths)
    check_int("num_pairs", num_pairs)
    check_int("k", k, minimum=1, maximum=x.shape[0] - 1)
    check_choice("activation", activation, ACTIVATIONS)
    x_np = np.asarray(x)
    cache_key = (
        _key_bits(key),
        hashlib.sha1(x_np.tobytes()).hexdigest(),
        x_np.shape,
        str(x_np.dtype),
        widths,
        num_pairs,
        k,
        activation,
    )
    if cache_key not in _RF_CACHE:  # the book's page and its explorer share runs
        if len(_RF_CACHE) >= 16:
            _RF_CACHE.pop(next(iter(_RF_CACHE)))
        _RF_CACHE[cache_key] = _rf_alignment(key, x, widths, num_pairs, k, activation)
    cka, knn = _RF_CACHE[cache_key]
    return Alignment(np.asarray(widths), cka.copy(), knn.copy())


_RF_CACHE: dict = {}


def _rf_alignment(key, x, widths, num_pairs, k, activation):
    cka = np.empty((num_pairs, len(widths)))
    knn = np.empty_like(cka)
    for p in range(num_pairs):
        for j, n in enumerate(widths):
            a = random_features(jax.random.fold_in(key, 2 * p), x, n, activation)
            b = random_features(jax.random.fold_in(key, 2 * p + 1), x, n, activation)
            cka[p, j] = alignment(a, b, "cka")
            knn[p, j] = alignment(a, b, "mutual_knn", k)
    return cka, knn


def cka_deficit_coefficient(
    key: jax.Array,
    x: Float[ArrayLike, "n d"],
    *,
    activation: str = "relu",
    num_units: int = 8192,
) -> float:
    r"""The coefficient ``beta`` of ``E[1 - CKA] = beta / N`` (eq-rep-cka-deficit).

    With ``psi = Pi phi(X w)`` one centred random unit (``w ~ N(0, I/d)``) and
    ``K = E[psi psi^T]``,

    .. math::

        \beta = \frac{\mathbb{E}\lVert\psi\rVert^4}{\lVert K\rVert_F^2}
          - \frac{\mathbb{E}(\psi^\top K\psi)^2}{\lVert K\rVert_F^4},

    estimated from ``num_units`` independent units (``K`` from the same units;
    the bias this adds is ``O(1/num_units)`` relative). It is the second-order
    term of the expansion of CKA between two independent width-N layers in the
    fluctuations ``K_N - K``. Its first term is the effective rank
    ``(tr K)^2 / ||K||_F^2`` of the centred kernel times ``1 + CV^2`` (``CV`` the
    coefficient of variation of ``||psi||^2`` over units).

    Args:
        key: PRNG key (the Monte Carlo units).
        x: (n, d) inputs.
        activation: "relu" or "erf".
        num_units: Monte Carlo units (int >= 100).

    Returns:
        ``beta`` as a Python float (> 0).

    Raises:
        ValueError: x constant over samples (the centred kernel vanishes), or as
            :func:`random_features`; num_units < 100.
        TypeError: as :func:`random_features`.

    References:
        Kornblith et al., "Similarity of neural network representations
        revisited", 2019, arXiv:1905.00414 (linear CKA).

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (30, 3))
        >>> beta = rep.cka_deficit_coefficient(jax.random.key(1), x, num_units=2000)
        >>> bool(beta > 0)
        True
    """
    check_int("num_units", num_units, minimum=100)
    x = _check_inputs(x)
    if not bool(jnp.any(x != x[:1])):
        raise ValueError("x is constant over samples: its centred kernel is zero")
    psi = random_features(key, x, num_units, activation)
    psi = psi - jnp.mean(psi, axis=0)
    psi = psi / jnp.sqrt(jnp.mean(jnp.sum(psi**2, axis=0)))  # scale-free; O(1)
    kernel = psi @ psi.T / num_units
    kf2 = jnp.sum(kernel**2)
    fourth = jnp.mean(jnp.sum(psi**2, axis=0) ** 2)
    quad = jnp.mean(jnp.einsum("im,ij,jm->m", psi, kernel, psi) ** 2)
    if not bool(kf2 > 0) or not bool(jnp.isfinite(kf2)):
        raise ValueError(
            "the centred feature kernel of x vanishes (units constant over samples)"
        )
    return float(fourth / kf2 - quad / kf2**2)


def predict_cka_deficit(
    key: jax.Array,
    x: Float[ArrayLike, "n d"],
    widths: Sequence[int] = RF_WIDTHS,
    *,
    activation: str = "relu",
    num_units: int = 8192,
) -> Float[np.ndarray, " W"]:
    """Predicted ``E[1 - CKA]`` between two random feature layers of width N:
    ``beta / N`` (eq-rep-cka-deficit), ``beta`` from :func:`cka_deficit_coefficient`.

    Valid when ``beta / N << 1`` (the expansion is to second order in the
    fluctuations); at small N the measured deficit falls below it (CKA <= 1).

    Args:
        key: PRNG key (Monte Carlo units).
        x: (n, d) inputs.
        widths: widths N (ints >= 1).
        activation: "relu" or "erf".
        num_units: Monte Carlo units (int >= 100).

    Returns:
        (W,) NumPy float64 predicted deficits.

    Raises:
        ValueError, TypeError: as :func:`cka_deficit_coefficient`, or bad widths.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> x = jax.random.normal(jax.random.key(0), (30, 3))
        >>> d = rep.predict_cka_deficit(jax.random.key(1), x, [100, 200],
        ...                             num_units=2000)
        >>> round(float(d[0] / d[1]), 6)
        2.0
    """
    widths = _check_widths(widths)
    beta = cka_deficit_coefficient(key, x, activation=activation, num_units=num_units)
    return beta / np.asarray(widths, np.float64)


def predict_pair_deficit(
    deficit_a: Float[ArrayLike, "*shape"], deficit_b: Float[ArrayLike, "*shape"]
) -> Float[np.ndarray, "*shape"]:
    r"""Predicted ``1 - CKA`` between a network of family a and one of family b,
    from each family's own cross-seed deficit: their mean.

    Write each network's centred kernel as the family's limit plus an
    independent fluctuation, ``K_a = K + E_a``. To second order the expected CKA
    deficit is a sum of one term per network (eq-rep-cka-deficit with
    ``beta / N = (v_a + v_b) / 2``), so two seeds of family a have deficit ``v_a``,
    and a network of a against one of b (same limit ``K``) has

    .. math:: 1 - \mathrm{CKA}(a, b) \approx \tfrac12\,(v_a + v_b).

    Holds for two widths of one muP architecture (same limit); fails, as it
    should, between architectures with different limits.

    Args:
        deficit_a: cross-seed ``1 - CKA`` of family a (finite, in [0, 1]).
        deficit_b: the same for family b (broadcastable).

    Returns:
        NumPy float64 array, their mean.

    Raises:
        ValueError: entries outside [0, 1] or NaN.
        TypeError: non-real inputs.

    Example:
        >>> from lm_sims import representations as rep
        >>> rep.predict_pair_deficit([0.2, 0.1], 0.02).tolist()
        [0.11, 0.06]
    """
    a = np.asarray(as_float_array("deficit_a", deficit_a, allow_bool=False), float)
    b = np.asarray(as_float_array("deficit_b", deficit_b, allow_bool=False), float)
    for name, v in (("deficit_a", a), ("deficit_b", b)):
        if np.any((v < 0) | (v > 1)):
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")
    return 0.5 * (a + b)


# -- trained networks ---------------------------------------------------------------


def digits_split(key: jax.Array) -> tuple[_data.Task, _data.Task]:
    """All 1,797 digits in a random order, split into 1,297 training and
    ``NUM_TEST = 500`` held-out images (:func:`lm_sims.data.digits_regression`:
    64 centred, globally scaled pixels; centred one-hot targets).

    Args:
        key: PRNG key (the order).

    Returns:
        ``(train, test)``, two :class:`lm_sims.data.Task`.

    Raises:
        TypeError: key is not a PRNG key.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> train, test = rep.digits_split(jax.random.key(0))
        >>> train.x.shape, test.x.shape
        ((1297, 64), (500, 64))
    """
    check_key(key)
    task = _data.digits_regression(key, _data.NUM_DIGITS)
    cut = _data.NUM_DIGITS - NUM_TEST
    return (
        _data.Task(task.x[:cut], task.y[:cut]),
        _data.Task(task.x[cut:], task.y[cut:]),
    )


def network_config(
    width: int,
    *,
    depth: int = 2,
    activation: str = "relu",
    steps: int = _STEPS,
    lr: float = _LR,
) -> mlp.Config:
    """The :class:`lm_sims.mlp.Config` of one trained network.

    64-n-...-n-10 MLP with ``depth`` hidden layers, muP with base width 64 (SP at
    n = 64, Chapter 4), ``sigma_w2 = 2``, ``sigma_b2 = 0``, minibatch Adam (batch
    64) on the 1,297 training digits.

    Args:
        width: hidden width n (int >= 1).
        depth: hidden layers (int >= 1).
        activation: "relu" or "erf".
        steps: Adam steps (int >= 1).
        lr: base learning rate (> 0); the default ``2^-6`` is Chapter 4's
            optimum for this network, where the hidden features move (at
            ``2^-8`` they stay close to initialisation).

    Returns:
        :class:`lm_sims.mlp.Config`.

    Raises:
        ValueError, TypeError: a field out of range (named in the message).

    Example:
        >>> from lm_sims import representations as rep
        >>> cfg = rep.network_config(256)
        >>> cfg.parameterization, cfg.base_width, cfg.batch_size
        ('mup', 64, 64)
    """
    check_choice("activation", activation, ACTIVATIONS)
    return mlp.Config(
        width=width,
        depth=depth,
        d_in=64,
        d_out=10,
        activation=activation,
        parameterization="mup",
        steps=steps,
        record_every=steps,
        sigma_w2=2.0,
        sigma_b2=0.0,
        lr=lr,
        dataset="digits",
        num_train=_data.NUM_DIGITS - NUM_TEST,
        optimizer="adam",
        batch_size=_BATCH,
        base_width=BASE_WIDTH,
    )


def layer_representations(
    params: mlp.Params, x: Float[ArrayLike, "n d_in"], cfg: mlp.Config
) -> tuple[Float[Array, "n p"], ...]:
    """Every representation of ``x`` in an :mod:`lm_sims.mlp` network: the input,
    each hidden layer's post-activations ``phi(h^l)`` (effective weights, as
    :func:`lm_sims.mlp.apply`), and the output ``f(x)``.

    Args:
        params: the network's parameters (:func:`lm_sims.mlp.init` or trained).
        x: (n, d_in) inputs.
        cfg: its config.

    Returns:
        ``depth + 2`` arrays: (n, d_in), ``depth`` x (n, width), (n, d_out).

    Raises:
        TypeError: cfg is not an mlp.Config, params not a tuple of mlp.Layer,
            x not real.
        ValueError: x not (n >= 1, d_in) or not finite; params not a chain of
            (fan_in, fan_out) layers.

    Example:
        >>> import jax
        >>> from lm_sims import mlp, representations as rep
        >>> cfg = mlp.Config(width=8, depth=2, d_in=3)
        >>> p = mlp.init(jax.random.key(0), cfg)
        >>> [r.shape for r in rep.layer_representations(p, jax.numpy.ones((4, 3)),
        ...                                             cfg)]
        [(4, 3), (4, 8), (4, 8), (4, 1)]
    """
    if not isinstance(cfg, mlp.Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    check_layer_chain(params, mlp.Layer, "mlp")
    x = as_float_array("x", x, allow_bool=False)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != cfg.d_in:
        raise ValueError(
            f"x must have shape (n, d_in={cfg.d_in}), got {tuple(x.shape)}"
        )
    phi = {"relu": jax.nn.relu, "erf": jax.scipy.special.erf, "linear": lambda h: h}[
        cfg.activation
    ]
    reps, h = [x], x
    for i, (layer, s) in enumerate(zip(params, mlp.layer_scales(cfg), strict=True)):
        if i > 0:
            h = phi(h)
            reps.append(h)
        h = s.w_mult * (h @ layer.w) + s.b_mult * layer.b
    reps.append(h)
    return tuple(reps)


@jax.jit
def _train(key, batch_key, cfg, x, y):
    params0 = mlp.init(key, cfg)
    lr_tree = tuple(
        mlp.Layer(cfg.lr * s.w_lr * jnp.ones(()), cfg.lr * s.b_lr * jnp.ones(()))
        for s in mlp.layer_scales(cfg)
    )
    result = training.run(
        lambda p, batch: mlp.loss(p, batch[0], batch[1], cfg),
        params0,
        lr_tree,
        steps=cfg.steps,
        record_every=cfg.record_every,
        optimizer=cfg.optimizer_config,
        data=(x, y),
        key=batch_key,
    )
    return result.params, result.diverged_step


def train_network(
    key: jax.Array, batch_key: jax.Array, cfg: mlp.Config, train: _data.Task
) -> tuple[mlp.Params, int]:
    """Train one network from ``mlp.init(key, cfg)`` on ``train`` with the
    minibatches drawn from ``batch_key`` (:func:`lm_sims.training.run`, muP
    per-tensor rates of :func:`lm_sims.mlp.layer_scales`).

    Two calls with different ``key`` and one ``batch_key`` differ by their
    initialisation only. :func:`lm_sims.mlp.train` cannot do this: it draws
    both its initialisation and its minibatches from one ``key`` (the latter
    from ``fold_in(key, 2)``), so this function calls the same
    :func:`lm_sims.training.run` with the two keys separated (tested equal to
    ``mlp.train`` when ``batch_key = fold_in(key, 2)``).

    Args:
        key: PRNG key of the initialisation.
        batch_key: PRNG key of the minibatch order.
        cfg: an :class:`lm_sims.mlp.Config` (e.g. :func:`network_config`).
        train: the training :class:`lm_sims.data.Task`, x (P, d_in), y (P, d_out).

    Returns:
        ``(params, diverged_step)``; ``diverged_step`` is -1 for a run that did
        not diverge (then the parameters are frozen at that step, see
        :func:`lm_sims.training.run`).

    Raises:
        TypeError: a key that is not a PRNG key, cfg not an mlp.Config.
        ValueError: data shapes that do not match cfg.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> train, _ = rep.digits_split(jax.random.key(0))
        >>> cfg = rep.network_config(16, steps=10)
        >>> params, diverged = rep.train_network(jax.random.key(1),
        ...                                      jax.random.key(2), cfg, train)
        >>> diverged
        -1
    """
    check_key(key)
    check_key(batch_key, "batch_key")
    if not isinstance(cfg, mlp.Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    if not isinstance(train, tuple) or len(train) != 2:
        raise TypeError(f"train must be a lm_sims.data.Task (x, y), got {train!r}")
    x = as_float_array("train.x", train[0])
    y = as_float_array("train.y", train[1])
    if x.shape != (x.shape[0], cfg.d_in) or y.shape != (x.shape[0], cfg.d_out):
        raise ValueError(
            f"train must hold x (P, d_in={cfg.d_in}) and y (P, d_out={cfg.d_out}), "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    params, div = _train(key, batch_key, cfg, x, y)
    return params, int(div)


def _key_bits(key):
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return tuple(int(v) for v in np.asarray(key).ravel())


def _check_digits_run(key, seed, cfg):
    """Validate a (key, seed, cfg) triple of a digits network: an mlp.Config with
    d_in = 64 and d_out = 10."""
    check_key(key)
    check_int("seed", seed, minimum=0)
    if not isinstance(cfg, mlp.Config):
        raise TypeError(f"cfg must be an mlp.Config, got {type(cfg).__name__}")
    if (cfg.d_in, cfg.d_out) != (64, 10):
        raise ValueError(
            f"cfg must have d_in=64 and d_out=10 (digits), got d_in={cfg.d_in}, "
            f"d_out={cfg.d_out}"
        )


@functools.lru_cache(maxsize=128)
def _trained(key_bits, seed, cfg):
    key = jax.random.wrap_key_data(np.asarray(key_bits, np.uint32))
    train, test = digits_split(jax.random.fold_in(key, 1))
    params, div = train_network(
        jax.random.fold_in(jax.random.fold_in(key, 2), seed),
        jax.random.fold_in(key, 3),
        cfg,
        train,
    )
    reps = tuple(np.asarray(r) for r in layer_representations(params, test.x, cfg))
    labels = np.argmax(np.asarray(test.y), axis=1)
    accuracy = float(np.mean(np.argmax(reps[-1], axis=1) == labels))
    return reps, accuracy, div


def trained_representations(
    key: jax.Array, seed: int, cfg: mlp.Config
) -> tuple[tuple[np.ndarray, ...], float]:
    """The representations of the 500 held-out digits in one trained network,
    and its held-out accuracy (cached: the book's pages reuse the runs).

    The data split is :func:`digits_split` of ``fold_in(key, 1)``; the
    initialisation is ``fold_in(fold_in(key, 2), seed)``; the minibatch order
    ``fold_in(key, 3)`` is shared by every seed and config.

    Args:
        key: PRNG key of the experiment.
        seed: the model's seed (int >= 0).
        cfg: an :class:`lm_sims.mlp.Config` for d_in = 64, d_out = 10 (e.g.
            :func:`network_config`).

    Returns:
        ``(reps, accuracy)``: the ``depth + 2`` representations of
        :func:`layer_representations` as NumPy arrays, and the fraction of
        held-out images whose largest output is the label.

    Raises:
        ValueError: a run that diverged (lower ``cfg.lr``), or bad arguments.
        TypeError: a key that is not a PRNG key, cfg not an mlp.Config.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> reps, acc = rep.trained_representations(
        ...     jax.random.key(0), 0, rep.network_config(16, steps=10))
        >>> [r.shape[1] for r in reps], 0 <= acc <= 1
        ([64, 16, 16, 10], True)
    """
    _check_digits_run(key, seed, cfg)
    reps, accuracy, div = _trained(_key_bits(key), int(seed), cfg)
    if div >= 0:
        raise ValueError(
            f"the run diverged at step {div} (width={cfg.width}, lr={cfg.lr}); "
            "use a smaller lr"
        )
    return reps, accuracy


def initial_representations(
    key: jax.Array, seed: int, cfg: mlp.Config
) -> tuple[np.ndarray, ...]:
    """The representations of the 500 held-out digits in the network that
    :func:`trained_representations` trains, at initialisation (same data split,
    same initial weights).

    Args:
        key: PRNG key of the experiment.
        seed: the model's seed (int >= 0).
        cfg: an :class:`lm_sims.mlp.Config` with d_in = 64, d_out = 10.

    Returns:
        The ``depth + 2`` representations of :func:`layer_representations`, NumPy.

    Raises:
        ValueError, TypeError: as :func:`trained_representations`.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> reps = rep.initial_representations(jax.random.key(0), 0,
        ...                                    rep.network_config(16))
        >>> [r.shape for r in reps][1:]
        [(500, 16), (500, 16), (500, 10)]
    """
    _check_digits_run(key, seed, cfg)
    _, test = digits_split(jax.random.fold_in(key, 1))
    params = mlp.init(jax.random.fold_in(jax.random.fold_in(key, 2), seed), cfg)
    return tuple(np.asarray(r) for r in layer_representations(params, test.x, cfg))


def width_alignment(
    key: jax.Array,
    widths: Sequence[int] = WIDTHS,
    *,
    num_pairs: int = 1,
    depth: int = 2,
    activation: str = "relu",
    k: int = NUM_NEIGHBOURS,
    steps: int = _STEPS,
) -> Alignment:
    """Cross-seed CKA and mutual k-NN of trained networks, per width and layer.

    Pair ``p`` compares seeds ``2p`` and ``2p + 1`` of
    :func:`trained_representations` with :func:`network_config` (``width``,
    ``depth``, ``activation``), on every hidden layer.

    Args:
        key: PRNG key of the experiment.
        widths: hidden widths (ints >= 1).
        num_pairs: seed pairs (int >= 1).
        depth: hidden layers (int >= 1).
        activation: "relu" or "erf".
        k: neighbours for mutual k-NN (1..499).
        steps: Adam steps (int >= 1).

    Returns:
        :class:`Alignment` with ``cka``, ``mutual_knn``, ``cka_init``,
        ``mutual_knn_init`` of shape (num_pairs, W, depth) (the latter two: the
        same networks at initialisation), ``movement`` (2 num_pairs, W, depth)
        and ``accuracy`` (2 num_pairs, W).

    Raises:
        ValueError, TypeError: as :func:`trained_representations`.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> a = rep.width_alignment(jax.random.key(0), [16], depth=1, steps=10)
        >>> a.cka.shape, a.accuracy.shape
        ((1, 1, 1), (2, 1))
    """
    check_key(key)
    widths = _check_widths(widths)
    check_int("num_pairs", num_pairs)
    check_int("depth", depth)
    check_int("k", k, maximum=NUM_TEST - 1)
    cka, knn, cka0, knn0 = (np.empty((num_pairs, len(widths), depth)) for _ in "1234")
    move = np.empty((2 * num_pairs, len(widths), depth))
    acc = np.empty((2 * num_pairs, len(widths)))
    for j, n in enumerate(widths):
        cfg = network_config(n, depth=depth, activation=activation, steps=steps)
        for p in range(num_pairs):
            ra, acc[2 * p, j] = trained_representations(key, 2 * p, cfg)
            rb, acc[2 * p + 1, j] = trained_representations(key, 2 * p + 1, cfg)
            ia = initial_representations(key, 2 * p, cfg)
            ib = initial_representations(key, 2 * p + 1, cfg)
            for layer in range(depth):
                a, b = ra[layer + 1], rb[layer + 1]
                cka[p, j, layer] = alignment(a, b, "cka")
                knn[p, j, layer] = alignment(a, b, "mutual_knn", k)
                a0, b0 = ia[layer + 1], ib[layer + 1]
                cka0[p, j, layer] = alignment(a0, b0, "cka")
                knn0[p, j, layer] = alignment(a0, b0, "mutual_knn", k)
                move[2 * p, j, layer] = 1 - alignment(a, a0, "cka")
                move[2 * p + 1, j, layer] = 1 - alignment(b, b0, "cka")
    return Alignment(np.asarray(widths), cka, knn, acc, cka0, knn0, move)


def model_alignment(
    key: jax.Array,
    models: Sequence[tuple[int, int, str]] = ZOO,
    reference: tuple[int, int, str] = REFERENCE,
    *,
    reference_seed: int = 99,
    k: int = NUM_NEIGHBOURS,
) -> ModelAlignment:
    """The miniature of Huh et al.'s Fig. 1/Fig. 6b: each model's alignment with a
    reference model against its own held-out accuracy.

    Every model is ``network_config(width, depth=depth, activation=activation)``
    trained from seed 0 (:func:`trained_representations`); the reference from
    ``reference_seed``, so that a model of the reference's own architecture is a
    different network. The alignment compares the last hidden layers. The
    baseline ``cka_init`` / ``mutual_knn_init`` compares each model's untrained
    copy (same seed, :func:`initial_representations`) with the trained
    reference: what random weights and the shared inputs give without training.

    Args:
        key: PRNG key of the experiment.
        models: (depth, width, activation) triples (default :data:`ZOO`: depth 1
            and 2 ReLU and depth 2 erf networks of widths 64 to 512, eight
            models).
        reference: the reference's (depth, width, activation) (default
            :data:`REFERENCE`, the depth-2 ReLU network of width 1,024).
        reference_seed: the reference's seed (int >= 1; seed 0 is the models').
        k: neighbours for mutual k-NN (1..499).

    Returns:
        :class:`ModelAlignment`.

    Raises:
        ValueError, TypeError: a malformed triple, or as
            :func:`trained_representations`.

    References:
        Huh, Cheung, Wang & Isola, "The Platonic representation hypothesis", 2024,
        arXiv:2405.07987.

    Example:
        >>> import jax
        >>> from lm_sims import representations as rep
        >>> m = rep.model_alignment(jax.random.key(0), [(1, 16, "relu")],
        ...                         (1, 16, "relu"))
        >>> m.cka.shape
        (1,)
    """
    check_key(key)
    check_int("reference_seed", reference_seed, minimum=1)
    check_int("k", k, maximum=NUM_TEST - 1)
    triples = [_check_model("reference", reference)]
    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
        raise TypeError(
            f"models must be a list of (depth, width, activation), got {models!r}"
        )
    if len(models) == 0:
        raise ValueError("models must not be empty")
    triples += [_check_model("each of models", m) for m in models]
    d, w, a = triples[0]
    ref, ref_acc = trained_representations(
        key, reference_seed, network_config(w, depth=d, activation=a)
    )
    out = {n: [] for n in ("cka", "mutual_knn", "accuracy", "cka0", "knn0")}
    for d, w, a in triples[1:]:
        cfg = network_config(w, depth=d, activation=a)
        reps, acc = trained_representations(key, 0, cfg)
        init = initial_representations(key, 0, cfg)
        out["accuracy"].append(acc)
        out["cka"].append(alignment(reps[-2], ref[-2], "cka"))
        out["mutual_knn"].append(alignment(reps[-2], ref[-2], "mutual_knn", k))
        out["cka0"].append(alignment(init[-2], ref[-2], "cka"))
        out["knn0"].append(alignment(init[-2], ref[-2], "mutual_knn", k))
    return ModelAlignment(
        depth=np.asarray([t[0] for t in triples[1:]]),
        width=np.asarray([t[1] for t in triples[1:]]),
        activation=np.asarray([t[2] for t in triples[1:]]),
        accuracy=np.asarray(out["accuracy"]),
        cka=np.asarray(out["cka"]),
        mutual_knn=np.asarray(out["mutual_knn"]),
        reference_accuracy=ref_acc,
        cka_init=np.asarray(out["cka0"]),
        mutual_knn_init=np.asarray(out["knn0"]),
    )


def _check_model(name, triple):
    if not isinstance(triple, (tuple, list)) or len(triple) != 3:
        raise TypeError(
            f"{name} must be a (depth, width, activation) triple, got {triple!r}"
        )
    depth, width, activation = triple
    check_int(f"{name} depth", depth)
    check_int(f"{name} width", width)
    check_choice(f"{name} activation", activation, ACTIVATIONS)
    return int(depth), int(width), str(activation)
