"""Datasets for the simulations: synthetic generators and one real dataset.

Every task is a :class:`Task` with samples along the first axis and *whitened* inputs,
``x.T @ x / P = I``, so that the input-output correlation ``Sigma_yx = y.T @ x / P``
alone drives linear-network learning (Saxe et al. 2014). The real dataset is
scikit-learn's bundled 8x8 handwritten digits (1,797 images; no download at run time).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from lm_sims._config import check_choice, check_int, check_key, check_real

__all__ = [
    "DATASETS",
    "Task",
    "correlation_svd",
    "digits_task",
    "hierarchical_task",
    "make_task",
    "synthetic_task",
]

DATASETS = ("synthetic", "tree", "digits")


class Task(NamedTuple):
    """A regression task with whitened inputs.

    Attributes:
        x: inputs, shape (P, d_in), float32, with ``x.T @ x / P = I``.
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
        ValueError: a dimension is too small for r modes, or a singular value <= 0.
        TypeError: ``key`` is not a PRNG key.
    """
    check_key(key)
    s = tuple(float(v) for v in singular_values)
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
def _digits_arrays(num_samples: int | None):
    try:
        from sklearn.datasets import load_digits  # bundled with scikit-learn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the digits dataset needs scikit-learn: pip install 'lm_sims[data]'"
        ) from err

    images, labels = load_digits(return_X_y=True)
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


def correlation_svd(task: Task):
    """SVD of the input-output correlation ``Sigma_yx = y.T x / P = U diag(s) V^T``.

    Returns:
        ``(U, s, Vt)`` with U (d_out, k), s (k,) descending, Vt (k, d_in),
        k = min(d_in, d_out).
    """
    sigma_yx = task.y.T @ task.x / task.x.shape[0]
    u, s, vt = jnp.linalg.svd(sigma_yx, full_matrices=False)
    return u, s, vt
