"""Datasets for the simulations: synthetic generators and one real dataset.

Two families, both returning a :class:`Task` with samples along the first axis:

* tasks for deep linear networks (:func:`make_task`, ``DATASETS``) have *whitened*
  inputs, ``x.T @ x / P = I``, so that the input-output correlation
  ``Sigma_yx = y.T @ x / P`` alone drives linear-network learning (Saxe et al. 2014);
* regression datasets for nonlinear networks (:func:`make_regression`,
  ``REGRESSION_DATASETS``): a random ReLU teacher, random +-1 labels, or the digits.

The real dataset is scikit-learn's bundled 8x8 handwritten digits (1,797 images; no
download at run time).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from lm_sims._config import (
    as_float64_numpy,
    as_float_array,
    check_allocation,
    check_choice,
    check_instance,
    check_int,
    check_key,
    check_real,
    num_bytes,
)

__all__ = [
    "DATASETS",
    "Task",
    "REGRESSION_DATASETS",
    "correlation_svd",
    "digits_regression",
    "digits_task",
    "hierarchical_task",
    "make_regression",
    "make_task",
    "random_labels",
    "synthetic_task",
    "teacher_regression",
]

DATASETS = ("synthetic", "tree", "digits")
#: Dataset names accepted by :func:`make_regression` (and ``mlp.Config.dataset``).
REGRESSION_DATASETS = ("teacher", "random_labels", "digits")
#: Hidden width of the fixed random ReLU teacher of :func:`teacher_regression`.
TEACHER_WIDTH = 8
#: Number of images in scikit-learn's digits dataset.
NUM_DIGITS = 1797


class Task(NamedTuple):
    """A regression task: inputs and targets, samples along the first axis.

    Attributes:
        x: inputs, shape (P, d_in), float32; whitened (``x.T @ x / P = I``) for the
            tasks of :func:`make_task`.
        y: targets, shape (P, d_out), float32.
    """

    x: Float[Array, "P d_in"]
    y: Float[Array, "P d_out"]


def _orthonormal(key, rows: int, cols: int) -> Float[Array, "rows cols"]:
    """A random matrix with orthonormal columns (Haar distributed)."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (rows, cols)))
    return q * jnp.sign(jnp.diagonal(r))


def synthetic_task(
    key: jax.Array,
    singular_values: tuple[float, ...] = (3.0, 2.0, 1.0, 0.5),
    d_in: int = 8,
    d_out: int = 8,
    num_samples: int = 64,
) -> Task:
    """A task whose input-output correlation has the given singular values.

    ``x = sqrt(P) Q`` with ``Q`` (P, d_in) orthonormal columns, and
    ``y = x V diag(s) U^T`` with random orthonormal ``U`` (d_out, r), ``V`` (d_in, r),
    so ``Sigma_yx = y.T x / P = U diag(s) V^T`` exactly.

    Args:
        key: PRNG key.
        singular_values: the r target singular values ``s`` (> 0), any order.
        d_in, d_out: input and output dimensions (each >= r).
        num_samples: P, the number of samples (>= d_in).

    Returns:
        A :class:`Task` with x of shape (P, d_in) and y of shape (P, d_out).

    Raises:
        ValueError: a dimension is too small for r modes, or a singular value <= 0,
            NaN or inf, or ``singular_values`` not 1-D.
        TypeError: ``key`` is not a PRNG key; ``singular_values`` not real numbers.
    """
    check_key(key)
    s = as_float64_numpy("singular_values", singular_values)
    if s.ndim != 1:
        raise ValueError(f"singular_values must be 1-D (r values), got shape {s.shape}")
    s = tuple(float(v) for v in s)
    r = len(s)
    check_int("d_in", d_in, minimum=max(r, 1))
    check_int("d_out", d_out, minimum=max(r, 1))
    check_int("num_samples", num_samples, minimum=d_in)
    for i, v in enumerate(s):
        check_real(f"singular_values[{i}]", v, positive=True)
    return _synthetic(key, s, d_in, d_out, num_samples)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _synthetic(key, s, d_in, d_out, num_samples) -> Task:
    k_x, k_u, k_v = jax.random.split(key, 3)
    r = len(s)
    x = jnp.sqrt(num_samples) * _orthonormal(k_x, num_samples, d_in)
    u = _orthonormal(k_u, d_out, r)
    v = _orthonormal(k_v, d_in, r)
    y = x @ v @ jnp.diag(jnp.asarray(s, jnp.float32)) @ u.T
    return Task(x, y)


@functools.cache
def _tree_arrays(levels: int):
    num_items = 2**levels
    nodes = []  # each node = the set of leaves below it; root first (Saxe Fig. 3)
    for level in range(levels + 1):
        size = num_items // 2**level
        for j in range(2**level):
            nodes.append((j * size, (j + 1) * size))
    y = np.zeros((num_items, len(nodes)), np.float32)
    for f, (lo, hi) in enumerate(nodes):
        y[lo:hi, f] = 1.0
    x = np.sqrt(num_items) * np.eye(num_items, dtype=np.float32)
    return x, y


def hierarchical_task(levels: int = 3) -> Task:
    """The hierarchically structured task of Saxe, McClelland & Ganguli (2014, Fig. 3).

    ``P = 2**levels`` items are the leaves of a binary tree; each item's input is a
    one-hot vector (scaled by sqrt(P) to be whitened) and its output has one binary
    feature per tree node (root included), on when the item lies below that node. The
    singular values of ``Sigma_yx`` fall with the level of the hierarchy, so broad
    distinctions are learned before fine ones.

    Args:
        levels: depth of the tree (int, 1..6).

    Returns:
        A :class:`Task` with x of shape (P, P) and y of shape (P, 2P - 1).

    Raises:
        ValueError, TypeError: ``levels`` is not an int in 1..6.

    References:
        Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear dynamics of
        learning in deep linear neural networks", 2014, arXiv:1312.6120.
    """
    check_int("levels", levels, minimum=1, maximum=6)
    x, y = _tree_arrays(levels)
    return Task(jnp.asarray(x), jnp.asarray(y))


@functools.cache
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: (1797, 64) pixel values, (1797,) labels."""
    try:
        from sklearn.datasets import load_digits  # bundled with scikit-learn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the digits dataset needs scikit-learn: pip install 'lm_sims[data]'"
        ) from err

    images, labels = load_digits(return_X_y=True)
    return images, labels


@functools.cache
def _digits_arrays(num_samples: int | None):
    images, labels = _load_digits()
    if num_samples is not None:
        images, labels = images[:num_samples], labels[:num_samples]
    p = images.shape[0]
    x = images - images.mean(0)
    cov = x.T @ x / p
    evals, evecs = np.linalg.eigh(cov)
    keep = evals > 1e-8 * evals.max()  # constant border pixels carry no variance
    x = x @ evecs[:, keep] / np.sqrt(evals[keep])  # PCA whitening: x.T x / P = I
    y = np.eye(10)[labels]
    y = y - y.mean(0)  # a linear map of centred inputs cannot fit the label mean
    return x.astype(np.float32), y.astype(np.float32)


def digits_task(num_samples: int | None = None) -> Task:
    """scikit-learn's 8x8 handwritten digits: whitened pixels -> centred one-hot labels.

    Pixels are centred and PCA-whitened (constant pixels dropped, leaving d_in = 61
    dimensions); labels are one-hot (10 classes) minus their mean, so ``Sigma_yx``
    has rank 9.

    Args:
        num_samples: use the first ``num_samples`` images (>= 100), or all 1,797.

    Returns:
        A :class:`Task` with x of shape (P, d_in) and y of shape (P, 10).

    Raises:
        ValueError, TypeError: ``num_samples`` is not an int in 100..1797.

    References:
        Alpaydin & Kaynak, "Optical recognition of handwritten digits", UCI ML
        repository, 1998 (as bundled in scikit-learn, ``load_digits``).
    """
    if num_samples is not None:
        check_int("num_samples", num_samples, minimum=100, maximum=1797)
    x, y = _digits_arrays(num_samples)
    return Task(jnp.asarray(x), jnp.asarray(y))


def make_task(key: jax.Array, dataset: str) -> Task:
    """The book's default task for ``dataset`` in ``DATASETS``.

    ``"synthetic"``: :func:`synthetic_task` with s = (3, 2, 1, 0.5), d = 8, P = 64;
    ``"tree"``: :func:`hierarchical_task` with 3 levels (8 items);
    ``"digits"``: :func:`digits_task` (all 1,797 images).

    Raises:
        ValueError: unknown ``dataset``.
    """
    check_choice("dataset", dataset, DATASETS)
    if dataset == "synthetic":
        return _synthetic(key, (3.0, 2.0, 1.0, 0.5), 8, 8, 64)
    if dataset == "tree":
        return hierarchical_task(3)
    return digits_task()


def _check_task(task, name="task"):
    """Raise unless ``task`` is a :class:`Task` of finite real 2-D ``x`` (P, d_in)
    and ``y`` (P, d_out)."""
    check_instance(name, task, Task)
    x = as_float_array(f"{name}.x", task.x)
    y = as_float_array(f"{name}.y", task.y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ValueError(
            f"{name} must have x (P, d_in) and y (P, d_out) with P >= 1, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )


def correlation_svd(task: Task):
    """SVD of the input-output correlation ``Sigma_yx = y.T x / P = U diag(s) V^T``.

    Returns:
        ``(U, s, Vt)`` with U (d_out, k), s (k,) descending, Vt (k, d_in),
        k = min(d_in, d_out).

    Raises:
        TypeError: ``task`` is not a :class:`Task` of real arrays.
        ValueError: ``task.x`` / ``task.y`` are not (P, d_in) / (P, d_out), or hold
            NaN or inf.
    """
    _check_task(task)
    sigma_yx = task.y.T @ task.x / task.x.shape[0]
    u, s, vt = jnp.linalg.svd(sigma_yx, full_matrices=False)
    return u, s, vt


# -- regression datasets for nonlinear networks (mlp) --------------------------------


def _check_regression(num_train, d_in, d_out):
    check_int("num_train", num_train, minimum=1)
    check_int("d_in", d_in, minimum=1)
    check_int("d_out", d_out, minimum=1)
    check_allocation(
        f"a dataset of num_train={num_train} samples of d_in={d_in} + d_out={d_out}",
        num_bytes(num_train, d_in + d_out + TEACHER_WIDTH),
        "use fewer samples or dimensions",
    )


def teacher_regression(key: jax.Array, num_train: int, d_in: int, d_out: int) -> Task:
    """Gaussian inputs labelled by a fixed random two-layer ReLU teacher.

    ``x ~ N(0, I_d_in)`` and ``y = relu(x W1) W2`` with ``TEACHER_WIDTH`` (= 8)
    hidden units, ``W1 ~ N(0, 1/d_in)`` and ``W2 ~ N(0, 1/TEACHER_WIDTH)``
    entrywise, so each target has variance O(1) whatever ``d_in``. The teacher is
    drawn from ``key`` too (one key: teacher and inputs).

    Args:
        key: PRNG key.
        num_train: number of samples P (>= 1).
        d_in: input dimension (>= 1).
        d_out: output dimension (>= 1).

    Returns:
        A :class:`Task`, x of shape (P, d_in), y of shape (P, d_out).

    Raises:
        ValueError, TypeError: a size is not an int >= 1 (or the arrays would
            exceed ``lm_sims._config.MAX_BYTES``), or ``key`` is not a key.

    Example:
        >>> import jax
        >>> from lm_sims import data
        >>> data.teacher_regression(jax.random.key(0), 16, 3, 1).y.shape
        (16, 1)
    """
    check_key(key)
    _check_regression(num_train, d_in, d_out)
    return _teacher(key, num_train, d_in, d_out)


def _teacher(key, num_train, d_in, d_out):
    k_x, k_1, k_2 = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (num_train, d_in))
    w1 = jax.random.normal(k_1, (d_in, TEACHER_WIDTH)) / jnp.sqrt(d_in)
    w2 = jax.random.normal(k_2, (TEACHER_WIDTH, d_out)) / jnp.sqrt(TEACHER_WIDTH)
    return Task(x, jax.nn.relu(x @ w1) @ w2)


def random_labels(key: jax.Array, num_train: int, d_in: int, d_out: int) -> Task:
    """Gaussian inputs with independent random +-1 labels (a task with no structure).

    ``x ~ N(0, I_d_in)`` and every entry of ``y`` is +1 or -1 with probability 1/2,
    independent of ``x``: fitting it needs memorisation, which makes it the hard task
    of edge-of-stability experiments (Cohen et al. 2021).

    Args:
        key: PRNG key.
        num_train: number of samples P (>= 1).
        d_in: input dimension (>= 1).
        d_out: output dimension (>= 1).

    Returns:
        A :class:`Task`, x of shape (P, d_in), y of shape (P, d_out) in {-1, +1}.

    Raises:
        ValueError, TypeError: a size is not an int >= 1 (or the arrays would
            exceed ``lm_sims._config.MAX_BYTES``), or ``key`` is not a key.

    References:
        Zhang et al., "Understanding deep learning requires rethinking
        generalization", 2017, arXiv:1611.03530.
        Cohen et al., "Gradient descent on neural networks typically occurs at the
        edge of stability", 2021, arXiv:2103.00065.
    """
    check_key(key)
    _check_regression(num_train, d_in, d_out)
    return _random_labels(key, num_train, d_in, d_out)


def _random_labels(key, num_train, d_in, d_out):
    k_x, k_y = jax.random.split(key)
    x = jax.random.normal(k_x, (num_train, d_in))
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (num_train, d_out)), 1.0, -1.0)
    return Task(x, y.astype(x.dtype))


@functools.cache
def _digits_pixels():
    images, labels = _load_digits()
    x = images - images.mean(0)
    x = x / np.sqrt(np.mean(np.sum(x**2, axis=1)) / x.shape[1])
    return x.astype(np.float32), labels.astype(np.int32)


def digits_regression(key: jax.Array, num_train: int, d_out: int = 10) -> Task:
    """``num_train`` random digits images (8x8 pixels, d_in = 64) as a regression task.

    Inputs: the 64 pixels, centred per pixel and scaled by one global factor so
    that ``mean |x|^2 = 64`` (as for ``N(0, I_64)`` inputs; constant border pixels
    stay 0). Targets: with ``d_out = 10``, the one-hot label minus its mean 0.1
    (regression onto centred one-hot codes); with ``d_out = 1``, the scalar
    ``(label - 4.5) / 2.87`` (digit value standardised to unit variance). The images
    are a random subset drawn from ``key`` without replacement.

    Args:
        key: PRNG key (which images).
        num_train: number of images P (1..1797).
        d_out: 10 (one-hot) or 1 (scalar digit value).

    Returns:
        A :class:`Task`, x of shape (P, 64), y of shape (P, d_out).

    Raises:
        ValueError, TypeError: ``num_train`` out of range or ``d_out`` not 1 or 10.

    References:
        Alpaydin & Kaynak, "Optical recognition of handwritten digits", UCI ML
        repository, 1998 (as bundled in scikit-learn, ``load_digits``).
    """
    check_key(key)
    check_int("num_train", num_train, minimum=1, maximum=NUM_DIGITS)
    check_int("d_out", d_out)
    check_choice("d_out", d_out, (1, 10))
    return _digits(key, num_train, d_out)


def _digits(key, num_train, d_out):
    pixels, labels = _digits_pixels()
    idx = jax.random.choice(key, NUM_DIGITS, (num_train,), replace=False)
    x = jnp.asarray(pixels)[idx]
    lab = jnp.asarray(labels)[idx]
    if d_out == 10:
        y = jax.nn.one_hot(lab, 10, dtype=x.dtype) - 0.1
    else:
        y = ((lab.astype(x.dtype) - 4.5) / 2.87)[:, None]
    return Task(x, y)


def make_regression(
    key: jax.Array, dataset: str, num_train: int, d_in: int, d_out: int
) -> Task:
    """The regression dataset ``dataset`` in ``REGRESSION_DATASETS`` (jittable).

    ``"teacher"``: :func:`teacher_regression`; ``"random_labels"``:
    :func:`random_labels`; ``"digits"``: :func:`digits_regression` (needs
    ``d_in = 64`` and ``d_out`` 1 or 10). Sizes must be Python ints (static).

    Args:
        key: PRNG key.
        dataset: one of ``REGRESSION_DATASETS``.
        num_train: number of samples P.
        d_in: input dimension.
        d_out: output dimension.

    Returns:
        A :class:`Task`, x of shape (P, d_in), y of shape (P, d_out).

    Raises:
        ValueError: unknown ``dataset`` or sizes that do not fit it (or exceed
            ``lm_sims._config.MAX_BYTES``).
        TypeError: a size is not an int, or ``key`` is not a PRNG key.

    Example:
        >>> import jax
        >>> from lm_sims import data
        >>> task = data.make_regression(jax.random.key(0), "random_labels", 8, 4, 1)
        >>> task.x.shape, sorted(set(task.y.ravel().tolist()))
        ((8, 4), [-1.0, 1.0])
    """
    if not isinstance(key, jax.core.Tracer):
        check_key(key)
    check_regression_dataset(dataset, num_train, d_in, d_out)
    if dataset == "teacher":
        return _teacher(key, num_train, d_in, d_out)
    if dataset == "random_labels":
        return _random_labels(key, num_train, d_in, d_out)
    return _digits(key, num_train, d_out)


def check_regression_dataset(dataset: str, num_train: int, d_in: int, d_out: int):
    """Raise ValueError unless the sizes fit the regression dataset ``dataset``."""
    check_choice("dataset", dataset, REGRESSION_DATASETS)
    _check_regression(num_train, d_in, d_out)
    if dataset == "digits":
        if d_in != 64:
            raise ValueError(
                f"dataset='digits' has d_in=64 (8x8 pixels), got d_in={d_in}"
            )
        check_choice("d_out", d_out, (1, 10))
        check_int("num_train", num_train, minimum=1, maximum=NUM_DIGITS)
