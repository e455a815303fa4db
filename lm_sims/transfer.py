# ruff: noqa: F722  (jaxtyping shape strings are not Python expressions)
r"""muTransfer: the learning-rate optimum across widths, in SP and in muP.

The network is an :mod:`lm_sims.mlp` network 64-n-n-10 (two hidden ReLU layers of
width n, ``sigma_w2 = 2``, biases starting at zero) trained on all 1,797 digits
images (:func:`lm_sims.data.digits_regression`: centred, globally scaled pixels,
centred one-hot targets) on the loss ``1/(2P) sum_i |y_i - f(x_i)|^2`` by minibatch
Adam or SGD (batch 64). For each width and each learning rate ``eta = 2^k`` on a
factor-2 grid the final training loss is recorded (two seeds). In the standard
parameterisation ("sp") the best ``eta`` falls as the width grows; in muP with base
width ``n0 = 64`` (:class:`lm_sims.mlp.Config` ``base_width``: equal to SP at ``n =
n0``; with ``width_mult = n / n0``, Adam rates ``eta / width_mult`` on hidden and
readout matrices and readout variance ``sigma_w^2 / (n width_mult)``) it stays put,
so the optimum found at width 64 transfers (Yang et al. 2022, Fig. 1).

The optimum of a width is read off the seed-mean final loss: the grid ``argmin``,
and a refined optimum, the vertex of the parabola through ``log L`` at the argmin
and its two neighbours (in ``log2 eta``; the argmin itself at the grid's edge or
next to a diverged run):

.. math::

    k^\star = k_i - \frac{\Delta}{2}\,
    \frac{\ell_{i+1} - \ell_{i-1}}{\ell_{i+1} - 2\ell_i + \ell_{i-1}},
    \qquad \ell_j = \log L(2^{k_j}).                               (refined-opt)

A run whose loss blows up (:func:`lm_sims.training.run`) is flagged in
``TransferSweep.diverged`` and its loss is ``+inf`` (never NaN).

The full Adam sweep (2 parameterisations x 5 widths x 11 rates x 2 seeds, 200 steps)
takes about five CPU minutes; :func:`reference_sweep` loads it from the file shipped
with the package, which ``scripts/make_transfer_reference.py`` regenerates and
``tests/test_transfer.py`` recomputes widths 64-256 and compares.

References:
    Yang & Hu, "Feature learning in infinite-width neural networks", 2021,
    arXiv:2011.14522.
    Yang et al., "Tensor Programs V: tuning large neural networks via zero-shot
    hyperparameter transfer", 2022, arXiv:2203.03466.
    Yang, Simon & Bernstein, "A spectral condition for feature learning", 2023,
    arXiv:2310.17813.
"""

from __future__ import annotations

import datetime
import importlib.resources
import json
import os
from typing import Any, NamedTuple

import jax
import numpy as np
from jaxtyping import Bool, Float, Int

from lm_sims import mlp
from lm_sims._config import (
    check_allocation,
    check_choice,
    check_int,
    check_key,
    num_bytes,
)
from lm_sims._sweep import sweep

__all__ = [
    "ADAM_LOG2_LRS",
    "OPTIMIZERS",
    "PARAMETERIZATIONS",
    "SGD_LOG2_LRS",
    "SGD_WIDTHS",
    "WIDTHS",
    "Optimum",
    "TransferSweep",
    "load_sweep",
    "network_config",
    "optimum",
    "reference_sweep",
    "save_sweep",
    "transfer_sweep",
    "wider_is_better",
]

PARAMETERIZATIONS = ("sp", "mup")
OPTIMIZERS = ("adam", "gd")  # "gd" with a batch size: minibatch SGD
WIDTHS = (64, 128, 256, 512, 1024)
ADAM_LOG2_LRS = tuple(range(-13, -2))  # eta = 2^-13 ... 2^-3
SGD_WIDTHS = (64, 128, 256, 512)
SGD_LOG2_LRS = tuple(range(-7, 1))  # eta = 2^-7 ... 2^0
BASE_WIDTH = 64
REFERENCE_FILE = "transfer_adam_digits.npz"


class TransferSweep(NamedTuple):
    """Final training losses of a width x learning-rate sweep.

    Attributes:
        parameterizations: names along axis 0 ("sp", "mup").
        widths: (W,) int, hidden widths n.
        log2_lrs: (R,) float, ``log2`` of the base learning rate eta.
        steps: (K,) int, the steps at which the loss was recorded (last = final).
        loss: (2, W, R, S, K) float64, full-data training loss
            ``1/(2P) sum |y - f|^2``; ``+inf`` for a diverged run from its
            divergence on.
        diverged: (2, W, R, S) bool, the run blew up (``diverged_step >= 0``).
        diverged_step: (2, W, R, S) int, the step it blew up at, or -1.
        config: the sweep's settings (optimizer, steps, batch_size, base_width,
            num_seeds, ...), a dict of JSON-able values.
    """

    parameterizations: tuple[str, ...]
    widths: Int[np.ndarray, " W"]
    log2_lrs: Float[np.ndarray, " R"]
    steps: Int[np.ndarray, " K"]
    loss: Float[np.ndarray, "2 W R S K"]
    diverged: Bool[np.ndarray, "2 W R S"]
    diverged_step: Int[np.ndarray, "2 W R S"]
    config: dict


class Optimum(NamedTuple):
    """The best learning rate per parameterisation and width (seed-mean loss).

    Where no rate has a finite seed-mean loss (every rate diverged in some seed, or
    the losses are NaN) there is no optimum: ``found`` is False, ``argmin`` is -1,
    ``log2_lr`` and ``refined`` are NaN and ``best_loss`` is ``+inf``. Read the
    other fields only where ``found`` holds.

    Attributes:
        argmin: (2, W) int, index into ``log2_lrs`` of the lowest final loss (-1:
            not found).
        log2_lr: (2, W) float, ``log2_lrs[argmin]``.
        refined: (2, W) float, the parabola vertex (refined-opt), in octaves
            (``log2 eta``), kept within half a grid step of the argmin.
        best_loss: (2, W) float, the seed-mean final loss at the argmin.
        found: (2, W) bool, some rate had a finite seed-mean loss.
    """

    argmin: Int[np.ndarray, "2 W"]
    log2_lr: Float[np.ndarray, "2 W"]
    refined: Float[np.ndarray, "2 W"]
    best_loss: Float[np.ndarray, "2 W"]
    found: Bool[np.ndarray, "2 W"]


def network_config(
    parameterization: str,
    width: int,
    *,
    optimizer: str = "adam",
    steps: int = 200,
    record_every: int = 50,
    batch_size: int = 64,
    base_width: int = BASE_WIDTH,
) -> mlp.Config:
    """The :class:`lm_sims.mlp.Config` of one run of the sweep.

    64-n-n-10 ReLU network, ``sigma_w2 = 2``, ``sigma_b2 = 0``, all 1,797 digits
    ("digits" dataset, d_out = 10), minibatches of ``batch_size``; "mup" is muP with
    ``base_width`` (SP at ``width == base_width``).

    Args:
        parameterization: "sp" or "mup".
        width: hidden width n (int >= 1).
        optimizer: "adam" (default) or "gd" (minibatch SGD).
        steps: optimizer steps (int >= 1).
        record_every: record the full-data loss every this many steps (divides
            steps).
        batch_size: minibatch size (1..1797).
        base_width: muP's base width n0 (int >= 1).

    Returns:
        :class:`lm_sims.mlp.Config` with ``lr = 2^-8`` (the sweep overrides it).

    Raises:
        ValueError: a choice or size out of range (named in the message).

    Example:
        >>> from lm_sims import transfer
        >>> cfg = transfer.network_config("mup", 256)
        >>> cfg.base_width, cfg.optimizer, cfg.num_train
        (64, 'adam', 1797)
    """
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    return mlp.Config(
        width=width,
        depth=2,
        d_in=64,
        d_out=10,
        activation="relu",
        parameterization=parameterization,
        steps=steps,
        record_every=record_every,
        sigma_w2=2.0,
        sigma_b2=0.0,
        lr=2.0**-8,
        dataset="digits",
        num_train=1797,
        optimizer=optimizer,
        batch_size=batch_size,
        base_width=base_width if parameterization == "mup" else None,
    )


def _grid(name, values, default, kind):
    """A validated, strictly increasing tuple of Python numbers (``None``: default).

    Tuples, lists and 1-D NumPy arrays are accepted; an empty grid, a bool, NaN or
    inf, a repeated or decreasing value raise a named error (never the default)."""
    if values is None:
        return tuple(default)
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype == bool:
            raise TypeError(
                f"{name} must be a 1-D sequence of numbers, got {name}={values!r}"
            )
        values = values.tolist()
    if not isinstance(values, (tuple, list)):
        raise TypeError(
            f"{name} must be a tuple of numbers (or None for the default), got "
            f"{name}={values!r}"
        )
    if not values:
        raise ValueError(
            f"{name} must hold at least one value (None for the default), got "
            f"{name}={values!r}"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer) + kind):
            raise TypeError(f"{name} must hold numbers, got {name}={values!r}")
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {name}={values!r}")
    if list(values) != sorted(set(values)):
        raise ValueError(
            f"{name} must be strictly increasing (no repeats), got {name}={values!r}"
        )
    return tuple(values)


def _check_parameterizations(parameterizations):
    if isinstance(parameterizations, np.ndarray):
        parameterizations = parameterizations.tolist()
    if not isinstance(parameterizations, (tuple, list)) or not parameterizations:
        raise TypeError(
            "parameterizations must be a non-empty tuple of 'sp', 'mup', got "
            f"parameterizations={parameterizations!r}"
        )
    for i, p in enumerate(parameterizations):
        check_choice(f"parameterizations[{i}]", p, PARAMETERIZATIONS)
    order = [PARAMETERIZATIONS.index(p) for p in parameterizations]
    if order != sorted(set(order)):
        raise ValueError(
            f"parameterizations must be a subset of {PARAMETERIZATIONS} in that "
            f"order, without repeats, got parameterizations={parameterizations!r}"
        )
    return tuple(parameterizations)


def transfer_sweep(
    key: jax.Array,
    optimizer: str = "adam",
    *,
    widths: tuple[int, ...] | None = None,
    log2_lrs: tuple[float, ...] | None = None,
    parameterizations: tuple[str, ...] = PARAMETERIZATIONS,
    steps: int = 200,
    record_every: int = 50,
    num_seeds: int = 2,
    batch_size: int = 64,
    base_width: int = BASE_WIDTH,
) -> TransferSweep:
    """Final training loss per (parameterisation, width, learning rate, seed).

    For each parameterisation and width, ``lm_sims.sweep(mlp.train, key, cfg,
    num_seeds=num_seeds, lr=2**log2_lrs)`` with ``cfg = network_config(...)``:
    one compilation per width, vmapped over the learning rates and seeds (the same
    seeds, hence the same initial draws and minibatches, at every rate).

    Args:
        key: PRNG key (seeds ``jax.random.split(key, num_seeds)``).
        optimizer: "adam" (default) or "gd" (minibatch SGD).
        widths: hidden widths (strictly increasing ints; tuple, list or 1-D
            array); ``None`` (default): ``WIDTHS`` (Adam) or ``SGD_WIDTHS`` (SGD).
        log2_lrs: ``log2`` of the learning rates (strictly increasing); ``None``
            (default): ``ADAM_LOG2_LRS`` (-13 ... -3) or ``SGD_LOG2_LRS``
            (-7 ... 0).
        parameterizations: a non-empty subset of ("sp", "mup"), in that order,
            without repeats.
        steps: optimizer steps (int >= 1).
        record_every: record the loss every this many steps (divides steps).
        num_seeds: seeds per grid point (int >= 1).
        batch_size: minibatch size (1..1797).
        base_width: muP's base width n0.

    Returns:
        :class:`TransferSweep` (NumPy arrays, float64 losses).

    Raises:
        ValueError, TypeError: an argument out of range or of the wrong type (named
            in the message): e.g. an empty, unsorted or repeated grid, or
            parameterisations out of order; or the sweep would allocate more than
            ``lm_sims._config.MAX_BYTES``.

    References:
        Yang et al., "Tensor Programs V", 2022, arXiv:2203.03466, Fig. 1.

    Example:
        >>> import jax
        >>> from lm_sims import transfer
        >>> s = transfer.transfer_sweep(jax.random.key(0), widths=(16,),
        ...     log2_lrs=(-8, -6), parameterizations=("mup",), steps=10,
        ...     record_every=10, num_seeds=1, base_width=16)
        >>> s.loss.shape
        (1, 1, 2, 1, 1)
    """
    check_key(key)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    sgd = optimizer == "gd"
    widths = _grid("widths", widths, SGD_WIDTHS if sgd else WIDTHS, ())
    log2_lrs = _grid(
        "log2_lrs",
        log2_lrs,
        SGD_LOG2_LRS if sgd else ADAM_LOG2_LRS,
        (float, np.floating),
    )
    for i, w in enumerate(widths):
        check_int(f"widths[{i}]", w, minimum=1)
    parameterizations = _check_parameterizations(parameterizations)
    check_int("num_seeds", num_seeds, minimum=1)
    runs, n = len(log2_lrs) * num_seeds, max(widths)
    check_allocation(
        f"{runs} vmapped runs (rates x seeds) at width={n}",
        # parameters, gradients, update, two Adam moments per run; activations
        runs * (5 * num_bytes(n * (n + 75)) + 3 * num_bytes(1797, 2 * n + 10)),
        "use fewer learning rates or seeds, or a smaller width",
    )
    lrs = [2.0 ** float(k) for k in log2_lrs]
    losses, steps_of_div = [], []
    for par in parameterizations:
        per_width_loss, per_width_div = [], []
        for n in widths:
            cfg = network_config(
                par,
                n,
                optimizer=optimizer,
                steps=steps,
                record_every=record_every,
                batch_size=batch_size,
                base_width=base_width,
            )
            traj = sweep(mlp.train, key, cfg, num_seeds=num_seeds, lr=lrs)
            per_width_loss.append(np.asarray(traj.loss, np.float64)[..., 1:])
            per_width_div.append(np.asarray(traj.diverged_step))
        losses.append(per_width_loss)
        steps_of_div.append(per_width_div)
    loss = np.asarray(losses)  # (params, W, R, S, K)
    diverged_step = np.asarray(steps_of_div).astype(np.int64)
    diverged = diverged_step >= 0
    loss = np.where(np.isfinite(loss), loss, np.inf)
    config = {
        "optimizer": optimizer,
        "steps": steps,
        "record_every": record_every,
        "batch_size": batch_size,
        "base_width": base_width,
        "num_seeds": num_seeds,
        "network": "64-n-n-10 ReLU, sigma_w2=2, sigma_b2=0, digits (1797), 1/2-MSE",
        "key_data": np.asarray(jax.random.key_data(key)).tolist(),
        "dtype": str(np.asarray(jax.numpy.zeros(())).dtype),
    }
    return TransferSweep(
        parameterizations=tuple(parameterizations),
        widths=np.asarray(widths, np.int64),
        log2_lrs=np.asarray(log2_lrs, np.float64),
        steps=np.arange(record_every, steps + 1, record_every, dtype=np.int64),
        loss=loss,
        diverged=diverged,
        diverged_step=diverged_step,
        config=config,
    )


def _check_sweep(result):
    if not isinstance(result, TransferSweep):
        raise TypeError(
            f"result must be a transfer.TransferSweep, got {type(result).__name__}"
        )


def optimum(result: TransferSweep, step: int | None = None) -> Optimum:
    """The best learning rate of every parameterisation and width.

    The seed-mean loss at ``step`` (a grid point with any diverged or NaN seed
    counts as ``+inf``); its argmin over the rates; and the refined optimum
    (refined-opt),
    the vertex of the parabola through ``log L`` at the argmin and its neighbours,
    clipped to within half a grid step of the argmin (the argmin itself at the
    grid's edge, next to a diverged rate, or where the parabola is not convex).

    Args:
        result: a :class:`TransferSweep`.
        step: a recorded step (``result.steps``); default the last.

    Returns:
        :class:`Optimum`; ``found`` is False for a parameterisation and width at
        which every rate diverged (no optimum; never a silent ``argmin`` 0).

    Raises:
        TypeError: result is not a TransferSweep.
        ValueError: step is not one of ``result.steps``.

    Example:
        >>> from lm_sims import transfer
        >>> opt = transfer.optimum(transfer.reference_sweep())
        >>> opt.refined.shape, bool(opt.found.all())
        ((2, 5), True)
    """
    _check_sweep(result)
    k = _step_index(result, step)
    loss = np.asarray(result.loss[..., k], np.float64)
    loss = np.where(np.isnan(loss), np.inf, loss)  # NaN: a diverged run
    mean = np.mean(loss, axis=-1)  # (2, W, R); inf if any seed is inf
    x = np.asarray(result.log2_lrs, np.float64)
    found = np.any(np.isfinite(mean), axis=-1)
    argmin = np.where(found, np.argmin(mean, axis=-1), -1)
    refined = np.where(found, x[argmin], np.nan)
    best = np.where(
        found, np.take_along_axis(mean, argmin[..., None], -1)[..., 0], np.inf
    )
    delta = np.diff(x)
    for idx in np.ndindex(argmin.shape):
        i = argmin[idx]
        if not found[idx]:
            continue
        if 0 < i < len(x) - 1 and np.all(np.isfinite(mean[idx][i - 1 : i + 2])):
            lo, mid, hi = np.log(mean[idx][i - 1 : i + 2])
            curv = hi - 2 * mid + lo
            if curv > 0 and np.allclose(delta[i - 1], delta[i]):
                shift = -0.5 * delta[i] * (hi - lo) / curv
                refined[idx] = x[i] + np.clip(shift, -delta[i] / 2, delta[i] / 2)
    log2_lr = np.where(found, x[argmin], np.nan)
    return Optimum(argmin, log2_lr, refined, best, found)


def _step_index(result, step):
    if step is None:
        return -1
    matches = np.flatnonzero(result.steps == step)
    if isinstance(step, bool) or not matches.size:
        raise ValueError(
            f"step must be one of the recorded steps {result.steps.tolist()}, got "
            f"step={step!r}"
        )
    return int(matches[0])


def wider_is_better(
    result: TransferSweep, parameterization: str = "mup", step: int | None = None
) -> tuple[Bool[np.ndarray, " R"], Bool[np.ndarray, " R"]]:
    """At which learning rates the seed-mean final loss falls with width.

    Args:
        result: a :class:`TransferSweep`.
        parameterization: "sp" or "mup" (must be in the sweep).
        step: a recorded step; default the last.

    Returns:
        ``(stable, wider_better)``, bool arrays over the rates: no seed of any
        width diverged; and the seed-mean loss strictly decreases from each width
        to the next.

    Raises:
        TypeError: result is not a TransferSweep.
        ValueError: parameterization not in the sweep or step not recorded.

    Example:
        >>> from lm_sims import transfer
        >>> stable, better = transfer.wider_is_better(transfer.reference_sweep())
        >>> bool(better[stable].mean() > 0.5)
        True
    """
    _check_sweep(result)
    check_choice("parameterization", parameterization, result.parameterizations)
    p = result.parameterizations.index(parameterization)
    k = _step_index(result, step)
    mean = np.mean(result.loss[p, ..., k], axis=-1)  # (W, R)
    stable = ~np.any(result.diverged[p], axis=(0, 2)) & np.all(
        np.isfinite(mean), axis=0
    )
    with np.errstate(invalid="ignore"):  # inf - inf where a width diverged
        better = np.all(np.diff(mean, axis=0) < 0, axis=0) & stable
    return stable, better


def save_sweep(path: Any, result: TransferSweep, **provenance: Any) -> None:
    """Write a sweep and its provenance to an ``.npz`` file.

    Args:
        path: file path (str or path-like).
        result: a :class:`TransferSweep`.
        **provenance: extra JSON-able entries stored beside ``result.config`` (the
            lm_sims version and the date are added).

    Raises:
        TypeError: result is not a TransferSweep; path is not a str or path-like.
    """
    _check_path(path, file_like=False)
    _check_sweep(result)
    from lm_sims import __version__

    meta = dict(result.config)
    meta.update(provenance)
    meta.setdefault("lm_sims_version", __version__)
    meta.setdefault("date", datetime.date.today().isoformat())
    np.savez_compressed(
        path,
        parameterizations=np.asarray(result.parameterizations),
        widths=result.widths,
        log2_lrs=result.log2_lrs,
        steps=result.steps,
        loss=result.loss,
        diverged=result.diverged,
        diverged_step=result.diverged_step,
        config=np.asarray(json.dumps(meta, sort_keys=True)),
    )


def _check_path(path, file_like):
    if isinstance(path, (str, os.PathLike)) or (file_like and hasattr(path, "read")):
        return
    raise TypeError(
        f"path must be a str or path-like{' or file-like' if file_like else ''} "
        f"object, got path={path!r:.80} ({type(path).__name__})"
    )


def load_sweep(path: Any) -> TransferSweep:
    """Read a sweep written by :func:`save_sweep`.

    Args:
        path: file path or file-like object.

    Returns:
        :class:`TransferSweep`; ``config`` holds the provenance.

    Raises:
        TypeError: path is not a str, path-like or file-like object.
    """
    _check_path(path, file_like=True)
    with np.load(path, allow_pickle=False) as f:
        return TransferSweep(
            parameterizations=tuple(str(p) for p in f["parameterizations"]),
            widths=f["widths"],
            log2_lrs=f["log2_lrs"],
            steps=f["steps"],
            loss=f["loss"],
            diverged=f["diverged"],
            diverged_step=f["diverged_step"],
            config=json.loads(str(f["config"])),
        )


def reference_sweep() -> TransferSweep:
    """The shipped Adam sweep: ``transfer_sweep(jax.random.key(0))``, precomputed.

    SP and muP (base width 64), widths 64 ... 1024, ``eta = 2^-13 ... 2^-3``, two
    seeds, 200 Adam steps on minibatches of 64, loss recorded every 50 steps.
    Regenerate it with ``scripts/make_transfer_reference.py``;
    ``tests/test_transfer.py`` recomputes widths 64-256 and checks them against
    the file (within the rounding differences between CPUs, which Adam amplifies:
    at most 0.25 x the spread of the two seeds, or 1e-3 relative).

    Returns:
        :class:`TransferSweep`; ``config`` holds the provenance (settings,
        lm_sims version, date, dtype).

    Example:
        >>> from lm_sims import transfer
        >>> ref = transfer.reference_sweep()
        >>> ref.widths.tolist(), ref.config["optimizer"]
        ([64, 128, 256, 512, 1024], 'adam')
    """
    path = importlib.resources.files("lm_sims") / "reference" / REFERENCE_FILE
    with path.open("rb") as f:
        return load_sweep(f)
