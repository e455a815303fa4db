# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
r"""Neural collapse: last-layer features of a classifier trained past zero error.

An MLP classifier ``x -> h(x) -> W h(x) + b`` (ReLU hidden layers, ``h`` the last
hidden layer's activations, ``W`` of shape (K, p)) is trained with softmax
cross-entropy plus weight decay by full-batch momentum gradient descent, far beyond
100% training accuracy. Papyan, Han & Donoho (2020) observed four things happen in
this terminal phase of training; each is measured here by a pure function of the
features, the labels and the classifier (:func:`collapse_metrics`):

* **NC1** (variability collapse): the within-class covariance vanishes relative to
  the between-class one,
  :math:`\mathrm{NC1} = \mathrm{Tr}(\Sigma_W \Sigma_B^{+}) / K \to 0`;
* **NC2** (simplex ETF): the centred class means
  :math:`m_c = \mu_c - \mu_G` get equal norms and equal pairwise cosines
  :math:`-1/(K-1)`, the most separated configuration of K vectors (a simplex
  equiangular tight frame);
* **NC3** (self-duality): the classifier rows align with the class means,
  :math:`\lVert W/\lVert W\rVert_F - M/\lVert M\rVert_F \rVert_F^2 \to 0`;
* **NC4** (nearest class centre): the network's decision agrees with the decision
  "nearest class mean in feature space".

The theory (the limits at the end of training) is :func:`predict`: NC1 = NC3 = NC4 =
0, norm variation 0 and cosines -1/(K-1). It is exact for the *unconstrained
features model*, in which the features themselves are free parameters under the same
regularised cross-entropy (Mixon, Parshall & Pi 2020; Zhu et al. 2021): every
global minimiser is a simplex ETF with ``W`` proportional to ``M``.

Two datasets (``Config.dataset``): ``"gaussian"``, a balanced mixture of K Gaussian
classes whose means have norm ``separation`` (the calibrated setting where the
collapse completes: :data:`ETF_CONFIG`), and ``"digits"``, 1,000 of scikit-learn's
8x8 handwritten digits (:data:`DIGITS_CONFIG`, real data, where at this scale the
collapse is partial).

Weight decay enters through the loss: :func:`loss` is the mean cross-entropy plus
``weight_decay / 2`` times the squared norm of every parameter (weights and biases),
so momentum GD on it is SGD-style coupled weight decay, as in Papyan et al.

References:
    Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal phase
    of deep learning training", 2020, PNAS, arXiv:2008.08186.
    Mixon, Parshall & Pi, "Neural collapse with unconstrained features", 2020,
    arXiv:2011.11619.
    Zhu et al., "A geometric analysis of neural collapse with unconstrained
    features", 2021, arXiv:2105.02375.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from lm_sims import data as _data
from lm_sims import training
from lm_sims._config import (
    as_float_array,
    as_int_array,
    check_allocation,
    check_callable,
    check_choice,
    check_int,
    check_key,
    check_layer_chain,
    check_real,
    check_record_every,
    config_dataclass,
    diverged_flag,
    is_concrete,
    num_bytes,
)

__all__ = [
    "DATASETS",
    "DIGITS_CONFIG",
    "ETF_CONFIG",
    "CollapseMetrics",
    "Config",
    "Layer",
    "Params",
    "Trajectory",
    "apply",
    "class_means",
    "collapse_metrics",
    "etf_cosine",
    "features",
    "init",
    "log_records",
    "loss",
    "predict",
    "simplex_etf",
    "train",
    "training_data",
]

#: Datasets accepted by :class:`Config`.
DATASETS = ("gaussian", "digits")


@config_dataclass(
    static=(
        "dataset",
        "num_classes",
        "d_in",
        "num_train",
        "width",
        "depth",
        "steps",
        "record_every",
    )
)
class Config:
    """An MLP classifier, its data and its momentum-GD run with weight decay.

    Attributes:
        dataset: ``"gaussian"`` (balanced Gaussian mixture) or ``"digits"``
            (scikit-learn's 8x8 digits, d_in = 64, 10 classes). Static.
        num_classes: number of classes K (int >= 2; 10 for digits). Static.
        d_in: input dimension (int >= 1; 64 for digits). Static.
        num_train: number of training samples P (a multiple of K for "gaussian",
            at most 1,797 for "digits"). Static.
        width: hidden width p (int >= 1); the features h(x) live in R^p. Static.
        depth: number of hidden ReLU layers (int >= 1). Static.
        steps: number of optimizer steps (int >= 1). Static.
        record_every: record the metrics every this many steps (divides steps).
            Static.
        lr: learning rate (> 0). Time on the book's axes is ``t = lr * step``.
        momentum: heavy-ball momentum in [0, 1).
        weight_decay: coefficient lambda >= 0 of ``lambda/2 |theta|^2`` in the loss.
        separation: norm of each Gaussian class mean (> 0; "gaussian" only); the
            noise around each mean is N(0, I).
        init_scale: He-initialisation gain sigma_w^2 (> 0): weights
            ~ N(0, init_scale / fan_in), biases 0.
    """

    dataset: str = "gaussian"
    num_classes: int = 4
    d_in: int = 32
    num_train: int = 200
    width: int = 128
    depth: int = 3
    steps: int = 10_000
    record_every: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-3
    separation: float = 8.0
    init_scale: float = 2.0

    def _validate(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_int("num_classes", self.num_classes, minimum=2)
        check_int("d_in", self.d_in, minimum=1)
        check_int("num_train", self.num_train, minimum=self.num_classes)
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_int("steps", self.steps, minimum=1)
        check_int("record_every", self.record_every, minimum=1)
        check_record_every(self.steps, self.record_every)
        if self.dataset == "digits":
            if self.num_classes != 10 or self.d_in != 64:
                raise ValueError(
                    "dataset='digits' has num_classes=10 and d_in=64, got "
                    f"num_classes={self.num_classes}, d_in={self.d_in}"
                )
            check_int("num_train", self.num_train, minimum=10, maximum=_data.NUM_DIGITS)
        elif self.num_train % self.num_classes:
            raise ValueError(
                "dataset='gaussian' is balanced: num_train must be a multiple of "
                f"num_classes={self.num_classes}, got num_train={self.num_train}"
            )
        check_real("lr", self.lr, positive=True)
        check_real("momentum", self.momentum, nonnegative=True)
        if float(self.momentum) >= 1.0:
            raise ValueError(f"momentum must be < 1, got momentum={self.momentum:g}")
        check_real("weight_decay", self.weight_decay, nonnegative=True)
        check_real("separation", self.separation, positive=True)
        check_real("init_scale", self.init_scale, positive=True)


#: The calibrated setting that reaches the simplex ETF, 4 Gaussian classes in
#: d = 32 (means of norm 8, 50 samples each), MLP 32-128-128-128-4, weight decay
#: 5e-3, momentum 0.9, lr 0.05, 10^4 steps (about 5 s on 2 cores). Measured over
#: keys 0-2: worst pairwise cosine within 0.024-0.033 of -1/3, norm variation
#: 0.02. Shallower nets or d = 16 stall at 0.05-0.10 from the ETF.
ETF_CONFIG = Config()
#: The real-data case, 1,000 digits, MLP 64-128-128-10, weight decay 1e-3,
#: momentum 0.9, lr 0.05, 10^4 steps (about 10 s on 2 cores).
DIGITS_CONFIG = Config(
    dataset="digits",
    num_classes=10,
    d_in=64,
    num_train=1000,
    width=128,
    depth=2,
    weight_decay=1e-3,
)


class Layer(NamedTuple):
    """One linear layer: ``h @ w + b``."""

    w: Float[Array, "fan_in fan_out"]
    b: Float[Array, " fan_out"]


Params = tuple[Layer, ...]  # depth hidden layers, then the classifier (p, K)


class CollapseMetrics(NamedTuple):
    """The neural-collapse measures (scalars, or (records,) along a run).

    Attributes:
        nc1: ``Tr(Sigma_W Sigma_B^+) / K`` (-> 0).
        norm_cv: coefficient of variation (std / mean) of the norms of the
            centred class means (NC2, -> 0).
        cosine_mean: mean pairwise cosine of the centred class means (NC2,
            -> -1/(K-1)).
        cosine_deviation: largest ``|cos(m_c, m_c') + 1/(K-1)|`` over pairs
            c != c' (NC2, -> 0).
        etf_distance: ``|| M M^T / ||M M^T||_F - E / ||E||_F ||_F`` with
            ``E = I - 11^T / K`` the Gram matrix of a simplex ETF (NC2, -> 0).
        nc3: ``|| W/||W||_F - M/||M||_F ||_F^2``, classifier rows against the
            centred class means (-> 0).
        nc4: fraction of samples whose network decision differs from the nearest
            class mean's (-> 0).
        accuracy: training accuracy of the network's decision.
    """

    nc1: Float[Array, "*records"]
    norm_cv: Float[Array, "*records"]
    cosine_mean: Float[Array, "*records"]
    cosine_deviation: Float[Array, "*records"]
    etf_distance: Float[Array, "*records"]
    nc3: Float[Array, "*records"]
    nc4: Float[Array, "*records"]
    accuracy: Float[Array, "*records"]


class Trajectory(NamedTuple):
    """A recorded run; leading axis records = steps / record_every + 1.

    Attributes:
        step: (records,) int, the step of each record.
        t: (records,) ``lr * step``. With momentum beta the effective step is
            ``lr / (1 - beta)``; ``t`` is the book's common time axis.
        loss: (records,) the training objective: mean cross-entropy plus
            ``weight_decay / 2 * |theta|^2``.
        cross_entropy: (records,) the mean cross-entropy alone.
        metrics: :class:`CollapseMetrics` with (records,) leaves.
        params: parameters after the last step (frozen if the run diverged).
        diverged_step: first step whose loss blew up, or -1; later records NaN.
        degenerate_step: first recorded step at which the features died (a
            centred class mean is zero: all features zero, or two class means
            coincide) or the classifier is zero, or -1. The collapse metrics are
            undefined there (an NC1 of 0 would claim a perfect collapse), so
            ``metrics`` is NaN from that record on; plot only earlier records.
        observed: what ``observe`` recorded, or None.
    """

    step: Int[Array, " records"]
    t: Float[Array, " records"]
    loss: Float[Array, " records"]
    cross_entropy: Float[Array, " records"]
    metrics: CollapseMetrics
    params: Params
    diverged_step: Int[Array, ""]
    degenerate_step: Int[Array, ""] = -1
    observed: Any = None

    @property
    def degenerate(self) -> bool | np.ndarray:
        """True if the features died during the run (``degenerate_step >= 0``)."""
        return diverged_flag(self.degenerate_step)

    @property
    def diverged(self) -> bool | np.ndarray:
        """True if the run diverged (``diverged_step >= 0``)."""
        return diverged_flag(self.diverged_step)


# -- theory: the simplex ETF --------------------------------------------------------


def etf_cosine(num_classes: int) -> float:
    r"""Pairwise cosine of a simplex ETF of K vectors, :math:`-1/(K-1)`.

    K unit vectors summing to zero with equal pairwise inner products c satisfy
    :math:`0 = |\sum_k v_k|^2 = K + K(K-1)c`, hence :math:`c = -1/(K-1)`.

    Args:
        num_classes: K (int >= 2).

    Returns:
        float, -1/(K-1).

    Raises:
        ValueError, TypeError: K not an int >= 2.

    Example:
        >>> from lm_sims import neural_collapse
        >>> neural_collapse.etf_cosine(10)
        -0.1111111111111111
    """
    check_int("num_classes", num_classes, minimum=2)
    return -1.0 / (num_classes - 1)


def simplex_etf(num_classes: int, dim: int | None = None) -> Float[Array, "K dim"]:
    """A simplex equiangular tight frame: K unit vectors with cosines -1/(K-1).

    The rows of ``sqrt(K/(K-1)) (I - 11^T/K)``, embedded in the first K
    coordinates of R^dim.

    Args:
        num_classes: K (int >= 2).
        dim: ambient dimension (int >= K; default K).

    Returns:
        (K, dim) array in the default float dtype, rows of unit norm.

    Raises:
        ValueError, TypeError: K < 2 or dim < K; the (K, dim) array would exceed
            ``lm_sims._config.MAX_BYTES``.

    Example:
        >>> from lm_sims import neural_collapse
        >>> m = neural_collapse.simplex_etf(3)
        >>> [round(float(v), 4) for v in (m @ m.T)[0]]
        [1.0, -0.5, -0.5]
    """
    check_int("num_classes", num_classes, minimum=2)
    dim = num_classes if dim is None else dim
    check_int("dim", dim, minimum=num_classes)
    check_allocation(
        f"a simplex ETF of {num_classes} classes in dim={dim}",
        num_bytes(num_classes, num_classes) + num_bytes(num_classes, dim),
        "use fewer classes or a smaller dim",
    )
    c = num_classes
    m = (jnp.eye(c) - jnp.ones((c, c)) / c) * jnp.sqrt(c / (c - 1.0))
    return jnp.pad(m, ((0, 0), (0, dim - c)))


def predict(cfg: Config, t: Float[ArrayLike, "*T"]) -> CollapseMetrics:
    """The collapse limits at the end of the terminal phase (the theory lines).

    NC1 = 0, norm variation 0, cosines -1/(K-1) (mean and every pair, deviation
    0), ETF distance 0, NC3 = 0, NC4 = 0 and accuracy 1: the global minimisers of
    the regularised cross-entropy of the unconstrained features model (Zhu et al.
    2021). They are limits, not a trajectory: the values are constant in ``t``.

    Args:
        cfg: the run (only ``num_classes`` is used).
        t: times ``lr * step``, any shape.

    Returns:
        :class:`CollapseMetrics` with leaves of ``t``'s shape (float64).

    Example:
        >>> from lm_sims import neural_collapse
        >>> p = neural_collapse.predict(neural_collapse.ETF_CONFIG, [1.0, 10.0])
        >>> p.cosine_mean.tolist(), p.nc1.tolist()
        ([-0.3333333333333333, -0.3333333333333333], [0.0, 0.0])
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a neural_collapse.Config, got {type(cfg)}")
    t_raw = np.asarray(t)
    if t_raw.dtype == bool or not (
        np.issubdtype(t_raw.dtype, np.integer)
        or np.issubdtype(t_raw.dtype, np.floating)
    ):
        raise TypeError(
            f"t must be real numbers (lr * step), got {t!r} of dtype {t_raw.dtype}"
        )
    t = t_raw.astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError("t must be finite, got NaN or inf entries")
    zero = np.zeros_like(t)
    cos = zero + etf_cosine(cfg.num_classes)
    return CollapseMetrics(zero, zero, cos, zero, zero, zero, zero, zero + 1.0)


# -- the metrics --------------------------------------------------------------------


def _check_features(features, labels, num_classes):
    check_int("num_classes", num_classes, minimum=2)
    h = as_float_array("features", features)
    if h.ndim != 2 or h.shape[0] < 1:
        raise ValueError(f"features must have shape (N, p), got {tuple(h.shape)}")
    if isinstance(labels, jax.core.Tracer):
        lab = labels
    else:
        lab = _as_labels(labels)
    if lab.shape != (h.shape[0],):
        raise ValueError(
            f"labels must have shape (N={h.shape[0]},), got {tuple(lab.shape)}"
        )
    if is_concrete(lab):
        lab_np = np.asarray(lab)
        if lab_np.min() < 0 or lab_np.max() >= num_classes:
            raise ValueError(
                f"labels must be in 0..{num_classes - 1}, got values in "
                f"[{lab_np.min()}, {lab_np.max()}]"
            )
        missing = sorted(set(range(num_classes)) - set(lab_np.tolist()))
        if missing:
            raise ValueError(
                f"every class needs at least one sample; classes {missing} have none"
            )
    return h, lab


def class_means(
    features: Float[ArrayLike, "N p"], labels: Int[ArrayLike, " N"], num_classes: int
) -> tuple[Float[Array, "K p"], Float[Array, " p"]]:
    """Class means ``mu_c`` and the global mean ``mu_G`` (the mean of the class
    means, as in Papyan et al., so that the centred means sum to zero).

    Args:
        features: (N, p) features (float).
        labels: (N,) int labels in 0..K-1; every class present.
        num_classes: K (int >= 2).

    Returns:
        ``(mu, mu_G)`` of shapes (K, p) and (p,).

    Raises:
        ValueError, TypeError: shapes that do not match, non-integer or
            out-of-range labels, a class with no sample, NaN or inf features.

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import neural_collapse
        >>> mu, g = neural_collapse.class_means(jnp.array([[0.0], [2.0], [4.0]]),
        ...                                     jnp.array([0, 0, 1]), 2)
        >>> mu.ravel().tolist(), g.tolist()
        ([1.0, 4.0], [2.5])
    """
    h, lab = _check_features(features, labels, num_classes)
    return _class_means(h, lab, num_classes)


def _class_means(h, lab, num_classes):
    onehot = jax.nn.one_hot(lab, num_classes, dtype=h.dtype)
    counts = onehot.sum(axis=0)
    mu = (onehot.T @ h) / jnp.maximum(counts, 1.0)[:, None]
    return mu, mu.mean(axis=0)


def collapse_metrics(
    features: Float[ArrayLike, "N p"],
    labels: Int[ArrayLike, " N"],
    weight: Float[ArrayLike, "K p"],
    bias: Float[ArrayLike, " K"],
    num_classes: int,
) -> CollapseMetrics:
    r"""NC1-NC4 of features ``h`` (N, p) and a linear classifier ``W h + b``.

    With class means :math:`\mu_c`, :math:`\mu_G` their mean, centred means
    :math:`M` (rows :math:`m_c = \mu_c - \mu_G`),
    :math:`\Sigma_W = \frac1N \sum_i (h_i - \mu_{y_i})(h_i - \mu_{y_i})^T` and
    :math:`\Sigma_B = \frac1K M^T M`:

    .. math::

        \mathrm{NC1} = \tfrac1K \mathrm{Tr}(\Sigma_W \Sigma_B^{+}), \qquad
        \mathrm{NC3} = \Big\lVert \frac{W}{\lVert W\rVert_F}
            - \frac{M}{\lVert M\rVert_F} \Big\rVert_F^2,

    computed as :math:`\mathrm{Tr}(M^{+T} \Sigma_W M^{+})` (since
    :math:`\Sigma_B^{+} = K\, M^{+} M^{+T}`) without forming a p x p matrix; the
    pseudo-inverse drops singular values below 1e-5 (float32) or 1e-10 (float64)
    of the largest (the centred means have rank at most K - 1). NC2 is reported
    as the norm variation, the mean and worst pairwise cosine and the distance to
    the ETF Gram matrix; NC4 as the fraction of decisions ``argmax (W h + b)``
    that differ from ``argmin_c |h - mu_c|``.

    Args:
        features: (N, p) features (float).
        labels: (N,) int labels in 0..K-1, every class present.
        weight: (K, p) classifier weights (rows = classes).
        bias: (K,) classifier bias.
        num_classes: K (int >= 2).

    Returns:
        :class:`CollapseMetrics` of scalars (the features' dtype).

    Raises:
        ValueError, TypeError: shapes that do not match, non-integer or
            out-of-range labels, a class with no sample, NaN or inf inputs.
        ValueError: degenerate input, for which the metrics are undefined: a
            centred class mean is zero relative to the class means (all features
            zero, or two class means coincide; the pseudo-inverse would report a
            fake NC1 = 0), or an all-zero ``weight``.

    References:
        Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
        phase of deep learning training", 2020, arXiv:2008.08186 (Fig. 6-9).

    Example:
        >>> import jax.numpy as jnp
        >>> from lm_sims import neural_collapse as nc
        >>> m = nc.simplex_etf(3)  # collapsed features at the ETF, W = M
        >>> r = nc.collapse_metrics(m, jnp.arange(3), m, jnp.zeros(3), 3)
        >>> round(float(r.nc1), 6), round(float(r.cosine_mean), 6)
        (0.0, -0.5)
    """
    h, lab = _check_features(features, labels, num_classes)
    w = as_float_array("weight", weight)
    b = as_float_array("bias", bias)
    if w.shape != (num_classes, h.shape[1]):
        raise ValueError(
            f"weight must have shape (K={num_classes}, p={h.shape[1]}), got "
            f"{tuple(w.shape)}"
        )
    if b.shape != (num_classes,):
        raise ValueError(f"bias must have shape (K={num_classes},), got {b.shape}")
    if is_concrete(h) and is_concrete(w):
        mean_norm, mean_scale, w_norm = (
            float(v) for v in _degeneracy_jit(h, lab, w, num_classes)
        )
        if not mean_norm > _rtol(h.dtype) * mean_scale:
            raise ValueError(
                "features are degenerate: a centred class mean is zero (smallest "
                f"|mu_c - mu_G| = {mean_norm:.3g}, largest |mu_c| = {mean_scale:.3g}; "
                "all features zero, or two class means coincide), so NC1 and the NC2 "
                "cosines are undefined; collapse needs K distinct class means"
            )
        if not w_norm > 0:
            raise ValueError(
                "weight must not be all zero: NC3 compares W/|W|_F with the class means"
            )
    return _metrics_jit(h, lab, w, b, num_classes)


def _rtol(dtype):
    return 1e-5 if dtype == jnp.float32 else 1e-10


def _degeneracy(h, lab, w, num_classes):
    """(smallest centred class-mean norm, largest class-mean norm, |W|_F)."""
    mu, mu_g = _class_means(h, lab, num_classes)
    norms = jnp.linalg.norm(mu - mu_g, axis=1)
    return jnp.min(norms), jnp.max(jnp.linalg.norm(mu, axis=1)), jnp.linalg.norm(w)


def _is_degenerate(h, lab, w, num_classes):
    """Traceable flag: the metrics of these features are undefined."""
    mean_norm, mean_scale, w_norm = _degeneracy(h, lab, w, num_classes)
    # <= (not ~>): NaN records of a diverged run are not flagged here
    return (mean_norm <= _rtol(h.dtype) * mean_scale) | (w_norm <= 0)


_degeneracy_jit = jax.jit(_degeneracy, static_argnums=(3,))


def _metrics(h, lab, w, b, num_classes):
    c = num_classes
    mu, mu_g = _class_means(h, lab, c)
    m = mu - mu_g
    hc = h - mu[lab]
    # NC1 = Tr(M^{+T} Sigma_W M^{+}) through an SVD of the (K, p) centred means
    u, s, vt = jnp.linalg.svd(m, full_matrices=False)
    keep = s > _rtol(h.dtype) * s[0]
    s_inv = jnp.where(keep, 1.0 / jnp.where(keep, s, 1.0), 0.0)
    m_pinv = (vt.T * s_inv) @ u.T  # (p, K)
    proj = hc @ m_pinv  # (N, K)
    nc1 = jnp.sum(proj**2) / h.shape[0]
    norms = jnp.linalg.norm(m, axis=1)
    norm_cv = jnp.std(norms) / jnp.mean(norms)
    unit = m / norms[:, None]
    cos = unit @ unit.T
    off = ~jnp.eye(c, dtype=bool)
    target = -1.0 / (c - 1)
    cosine_mean = jnp.sum(jnp.where(off, cos, 0.0)) / (c * (c - 1))
    cosine_deviation = jnp.max(jnp.where(off, jnp.abs(cos - target), 0.0))
    m_unit = m / jnp.linalg.norm(m)  # tiny features: m m^T would underflow
    gram = m_unit @ m_unit.T
    etf = jnp.eye(c) - jnp.ones((c, c)) / c
    etf_distance = jnp.linalg.norm(
        gram / jnp.linalg.norm(gram) - etf / jnp.linalg.norm(etf)
    )
    nc3 = jnp.sum((w / jnp.linalg.norm(w) - m / jnp.linalg.norm(m)) ** 2)
    decision = jnp.argmax(h @ w.T + b, axis=1)
    dist = jnp.sum(h**2, 1)[:, None] - 2 * h @ mu.T + jnp.sum(mu**2, 1)[None, :]
    nearest = jnp.argmin(dist, axis=1)
    nc4 = jnp.mean((decision != nearest).astype(h.dtype))
    accuracy = jnp.mean((decision == lab).astype(h.dtype))
    return CollapseMetrics(
        nc1, norm_cv, cosine_mean, cosine_deviation, etf_distance, nc3, nc4, accuracy
    )


_metrics_jit = jax.jit(_metrics, static_argnums=(4,))


# -- the network --------------------------------------------------------------------


def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a neural_collapse.Config, got {type(cfg)}")


def init(key: jax.Array, cfg: Config) -> Params:
    """He-initialised weights ``w ~ N(0, init_scale / fan_in)``, zero biases.

    Args:
        key: PRNG key.
        cfg: the config (d_in, width, depth, num_classes, init_scale).

    Returns:
        Params: depth hidden :class:`Layer` then the classifier, w of shape
        (fan_in, fan_out), in the default float dtype.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> [l.w.shape for l in nc.init(jax.random.key(0), nc.ETF_CONFIG)]
        [(32, 128), (128, 128), (128, 128), (128, 4)]
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    _check_cfg(cfg)
    dims = (cfg.d_in,) + (cfg.width,) * cfg.depth + (cfg.num_classes,)
    keys = jax.random.split(key, len(dims) - 1)
    return tuple(
        Layer(
            jax.random.normal(k, (m, n)) * jnp.sqrt(cfg.init_scale / m),
            jnp.zeros((n,)),
        )
        for k, (m, n) in zip(keys, zip(dims[:-1], dims[1:], strict=True), strict=True)
    )


def _check_params(params):
    check_layer_chain(params, Layer, "neural_collapse")


def _check_x(params, x):
    _check_params(params)
    x = as_float_array("x", x)
    d_in = params[0].w.shape[0]
    if x.ndim != 2 or x.shape[1] != d_in or x.shape[0] < 1:
        raise ValueError(f"x must have shape (N, d_in={d_in}), got {tuple(x.shape)}")
    return x


def features(params: Params, x: Float[ArrayLike, "N d_in"]) -> Float[Array, "N p"]:
    """Last-hidden-layer activations ``h(x)`` (after the ReLU).

    Args:
        params: network parameters (from :func:`init`).
        x: (N, d_in) inputs, finite.

    Returns:
        (N, width) features.

    Raises:
        TypeError: params not a tuple of :class:`Layer`, x not real numbers.
        ValueError: x not (N, d_in) or not finite; layer shapes that do not chain.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> p = nc.init(jax.random.key(0), nc.ETF_CONFIG)
        >>> nc.features(p, nc.training_data(jax.random.key(0), nc.ETF_CONFIG)[0]).shape
        (200, 128)
    """
    return _features(params, _check_x(params, x))


def _features(params, x):
    h = x
    for layer in params[:-1]:
        h = jax.nn.relu(h @ layer.w + layer.b)
    return h


def apply(params: Params, x: Float[ArrayLike, "N d_in"]) -> Float[Array, "N K"]:
    """Logits ``W h(x) + b``.

    Args:
        params: network parameters (from :func:`init`).
        x: (N, d_in) inputs, finite.

    Returns:
        (N, K) logits.

    Raises:
        TypeError, ValueError: as :func:`features`.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> p = nc.init(jax.random.key(0), nc.ETF_CONFIG)
        >>> nc.apply(p, nc.training_data(jax.random.key(0), nc.ETF_CONFIG)[0]).shape
        (200, 4)
    """
    return _apply(params, _check_x(params, x))


def _apply(params, x):
    last = params[-1]
    return _features(params, x) @ last.w + last.b


def loss(
    params: Params,
    x: Float[ArrayLike, "N d_in"],
    labels: Int[ArrayLike, " N"],
    weight_decay: float,
) -> Float[Array, ""]:
    r"""Mean softmax cross-entropy plus weight decay,
    :math:`\frac1N \sum_i \ell_{CE}(f(x_i), y_i) + \frac{\lambda}{2} \lVert\theta
    \rVert^2` over all weights and biases.

    Args:
        params: network parameters (from :func:`init`).
        x: (N, d_in) inputs, finite.
        labels: (N,) integer labels in 0..K-1 (K = the classifier's outputs).
        weight_decay: lambda >= 0.

    Returns:
        scalar loss.

    Raises:
        TypeError: labels not integers; params or x as in :func:`features`.
        ValueError: labels not (N,) or outside 0..K-1 (an index K gives NaN, a
            negative one wraps around silently); x not (N, d_in) or not finite;
            weight_decay < 0 or not finite.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> p = nc.init(jax.random.key(0), nc.ETF_CONFIG)
        >>> x, y = nc.training_data(jax.random.key(0), nc.ETF_CONFIG)
        >>> bool(nc.loss(p, x, y, 0.0) > 0)
        True
    """
    x = _check_x(params, x)
    num_classes = params[-1].w.shape[1]
    if isinstance(labels, jax.core.Tracer):
        lab = labels
    else:
        lab = _as_labels(labels)
    if lab.shape != (x.shape[0],):
        raise ValueError(
            f"labels must have shape (N={x.shape[0]},), got {tuple(lab.shape)}"
        )
    if is_concrete(lab):
        lab_np = np.asarray(lab)
        if lab_np.min() < 0 or lab_np.max() >= num_classes:
            raise ValueError(
                f"labels must be in 0..K-1 = 0..{num_classes - 1}, got values in "
                f"[{lab_np.min()}, {lab_np.max()}]"
            )
    if is_concrete(weight_decay):
        check_real("weight_decay", weight_decay, nonnegative=True)
    return _loss(params, x, lab, weight_decay)


def _loss(params, x, labels, weight_decay):
    ce = optax.softmax_cross_entropy_with_integer_labels(_apply(params, x), labels)
    sq = sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(params))
    return jnp.mean(ce) + 0.5 * weight_decay * sq


def training_data(
    key: jax.Array, cfg: Config
) -> tuple[Float[Array, "P d_in"], Int[Array, " P"]]:
    """The training set of ``train(key, cfg)``: inputs and integer labels.

    ``"gaussian"``: class means ``separation * g / |g|``-like, ``g ~ N(0, I_d /
    d)`` scaled by ``separation`` (so their norms are about ``separation``),
    ``num_train / K`` samples per class drawn as ``mu_c + N(0, I)``, class by
    class. ``"digits"``: ``lm_sims.data.digits_regression`` (random images,
    pixels standardised) with labels = the digit. Both use
    ``jax.random.fold_in(key, 1)``.

    Args:
        key: the PRNG key given to :func:`train`.
        cfg: the config.

    Returns:
        ``(x, labels)`` of shapes (P, d_in) and (P,) int.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> x, y = nc.training_data(jax.random.key(0), nc.ETF_CONFIG)
        >>> x.shape, y[:3].tolist(), y[-1].item()
        ((200, 32), [0, 0, 0], 3)
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    _check_cfg(cfg)
    return _training_data(key, cfg)


def _training_data(key, cfg):
    k = jax.random.fold_in(key, 1)
    if cfg.dataset == "digits":
        task = _data.make_regression(k, "digits", cfg.num_train, 64, 10)
        return task.x, jnp.argmax(task.y, axis=1)
    k_mu, k_x = jax.random.split(k)
    c, d = cfg.num_classes, cfg.d_in
    mu = jax.random.normal(k_mu, (c, d)) * cfg.separation / jnp.sqrt(d)
    labels = jnp.repeat(jnp.arange(c), cfg.num_train // c)
    x = mu[labels] + jax.random.normal(k_x, (cfg.num_train, d))
    return x, labels


def _as_labels(labels) -> jax.Array:
    """Concrete ``labels`` as a JAX integer array, or TypeError naming labels."""
    if labels is None or isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be an integer array, got labels={labels!r}")
    try:
        raw = np.asarray(labels)
    except (TypeError, ValueError) as err:  # ragged
        raise TypeError(f"labels must be an integer array ({err})") from None
    if raw.dtype == np.bool_ or not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {raw.dtype}")
    return jnp.asarray(raw)


def log_records(step: Int[ArrayLike, " records"], num: int = 60) -> np.ndarray:
    """Indices of about ``num`` records spaced evenly in log(step), step > 0.

    For plotting a run on a log time axis without thousands of points.

    Args:
        step: (records,) increasing record steps (e.g. ``Trajectory.step``).
        num: target number of points (int >= 2).

    Returns:
        (k,) int indices into ``step``, increasing, ``k <= num``, all with step > 0
        and always including the last record.

    Raises:
        TypeError: step not integers (fractions, NaN, strings, None).
        ValueError: step not 1-D and increasing, fewer than 2 records, or no
            step > 0; num < 2.

    Example:
        >>> import numpy as np
        >>> from lm_sims import neural_collapse
        >>> neural_collapse.log_records(np.arange(0, 1001, 10), 4).tolist()
        [1, 5, 22, 100]
    """
    check_int("num", num, minimum=2)
    s = as_int_array("step", step).astype(np.float64)
    if s.ndim != 1 or s.size < 2 or not np.all(np.diff(s) > 0):
        raise ValueError("step must be a 1-D increasing array of >= 2 record steps")
    positive = np.flatnonzero(s > 0)
    if positive.size == 0:
        raise ValueError(
            f"step must have at least one record with step > 0 (a log axis), got "
            f"steps in [{s[0]:g}, {s[-1]:g}]"
        )
    targets = np.geomspace(s[positive[0]], s[-1], num)
    idx = np.searchsorted(s, targets)
    return np.unique(np.clip(idx, positive[0], s.size - 1))


def train(
    key: jax.Array, cfg: Config, *, observe: Callable[[Params], Any] | None = None
) -> Trajectory:
    """Train the classifier by momentum GD on :func:`loss` and record NC1-NC4.

    Initialises with ``init(key, cfg)``, draws the data with
    ``training_data(key, cfg)`` and runs ``cfg.steps`` full-batch steps of
    ``lm_sims.training.run`` (``Optimizer("momentum")``), recording the loss, the
    cross-entropy and :func:`collapse_metrics` of the last-layer features every
    ``record_every`` steps. Jitted: static fields (and ``observe``) recompile;
    lr, momentum, weight_decay, separation and init_scale do not.

    Args:
        key: PRNG key.
        cfg: the config.
        observe: optional function of the parameters, recorded alongside.

    Returns:
        :class:`Trajectory`. A diverging run is a result: ``diverged_step`` says
        where, later records are NaN. So is a run whose features die (a large
        weight decay can kill every ReLU, leaving all class means equal):
        ``degenerate_step`` says where, and ``metrics`` is NaN from there on,
        never a fake NC1 = 0.

    Raises:
        TypeError: key not a PRNG key, cfg not a Config, observe not callable.
        ValueError: the run would allocate more than ``lm_sims._config.MAX_BYTES``
            (parameters ``d_in * width + width^2 * (depth - 1)``, optimizer state,
            activations ``num_train * (d_in + width * depth)``).

    References:
        Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
        phase of deep learning training", 2020, arXiv:2008.08186.

    Example:
        >>> import jax
        >>> from lm_sims import neural_collapse as nc
        >>> cfg = nc.ETF_CONFIG.replace(steps=200, record_every=100)
        >>> traj = nc.train(jax.random.key(0), cfg)
        >>> traj.t.tolist(), float(traj.metrics.accuracy[-1])
        ([0.0, 5.0, 10.0], 1.0)
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    _check_cfg(cfg)
    check_callable("observe", observe)
    n_params = (
        cfg.d_in * cfg.width
        + cfg.width * cfg.width * (cfg.depth - 1)
        + cfg.width * cfg.num_classes
    )
    n_act = cfg.num_train * (cfg.d_in + cfg.width * (cfg.depth + 1) + cfg.num_classes)
    check_allocation(
        f"a run with {cfg.num_train} samples, d_in={cfg.d_in}, width={cfg.width} "
        f"and depth={cfg.depth} (parameters, optimizer state, activations)",
        # params, gradient, momentum, update, record: 5 copies; forward + backward
        5 * num_bytes(n_params) + 4 * num_bytes(n_act),
        "use fewer samples, a smaller d_in, width or depth",
    )
    traj = _train(key, cfg, observe)
    return traj


@functools.partial(jax.jit, static_argnums=(2,))
def _train(key, cfg, observe_fn=None):
    params0 = init(key, cfg)
    x, labels = _training_data(key, cfg)

    def loss_fn(p):
        return _loss(p, x, labels, cfg.weight_decay)

    def observe(p):
        last = p[-1]
        ce = optax.softmax_cross_entropy_with_integer_labels(_apply(p, x), labels)
        h = _features(p, x)
        return {
            "cross_entropy": jnp.mean(ce),
            "metrics": _metrics(h, labels, last.w.T, last.b, cfg.num_classes),
            "degenerate": _is_degenerate(h, labels, last.w.T, cfg.num_classes),
            "observed": None if observe_fn is None else observe_fn(p),
        }

    result = training.run(
        loss_fn,
        params0,
        cfg.lr,
        steps=cfg.steps,
        record_every=cfg.record_every,
        optimizer=training.Optimizer("momentum", momentum=cfg.momentum),
        observe=observe,
    )
    rec = result.observed
    # dead features: the first degenerate record, and NaN metrics from there on
    dead = jnp.cumsum(rec["degenerate"].astype(result.step.dtype)) > 0
    first = jnp.argmax(dead)
    degenerate_step = jnp.where(dead[first], result.step[first], -1).astype(
        result.diverged_step.dtype
    )
    metrics = jax.tree_util.tree_map(
        lambda v: jnp.where(dead, jnp.nan, v), rec["metrics"]
    )
    return Trajectory(
        step=result.step,
        t=cfg.lr * result.step,
        loss=result.loss,
        cross_entropy=rec["cross_entropy"],
        metrics=metrics,
        params=result.params,
        diverged_step=result.diverged_step,
        degenerate_step=degenerate_step,
        observed=rec["observed"],
    )
