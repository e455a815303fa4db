"""The NTK regime in finite networks: two-layer ReLU networks of several widths
trained on points of a circle against kernel gradient descent with the analytic NTK,
and the decomposition of the network-kernel gap. Re-exported by
:mod:`lm_sims.kernels`."""

# ruff: noqa: F722  (jaxtyping shape strings are not forward references)
from __future__ import annotations

import functools
import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# lm_sims.mlp imports lm_sims.kernels, which imports this module last: mlp is used
# only inside functions (it may be partly initialised while this module loads).
from lm_sims import mlp
from lm_sims._config import (
    check_allocation,
    check_choice,
    check_int_sequence,
    check_key,
    check_real,
)
from lm_sims._dual_kernels import circle, ntk
from lm_sims._linearized import predict_linearized

NTK_WIDTHS = (16, 64, 256, 1024)
NTK_STEPS = 200
NTK_SEEDS = 3  # networks per width; the width scan shows root mean squares over them
_NTK_SIGMA_W2 = 1.0
_NTK_SIGMA_B2 = 0.1  # a bias makes every frequency learnable (see the page)
_TEST_ANGLES = np.linspace(0.0, 2 * np.pi, 121)
_PROBE_ANGLES = np.arange(12) * 2 * np.pi / 12  # where the kernel's motion is measured

TARGETS = {
    "smooth": lambda a: np.sin(a) + 0.5 * np.cos(2 * a),
    "sin 3θ": lambda a: np.sin(3 * a),
    "square wave": lambda a: np.sign(np.sin(a)),
}


def ntk_config(width: int, lr: float) -> mlp.Config:
    """The network of :func:`ntk_width_scan`: an :class:`lm_sims.mlp.Config` with
    one hidden ReLU layer of ``width`` units, NTK parameterisation,
    ``sigma_w2 = 1``, ``sigma_b2 = 0.1`` (a bias makes every circular frequency
    learnable), d = 2, and ``NTK_STEPS`` = 200 full-batch steps of size ``lr``
    (time ``t = 200 lr``), recorded at the start and the end.

    Args:
        width: hidden width n (int >= 1).
        lr: learning rate (> 0).

    Returns:
        :class:`lm_sims.mlp.Config`.

    Raises:
        ValueError, TypeError: width or lr out of range (from the config).

    Example:
        >>> from lm_sims import kernels
        >>> cfg = kernels.ntk_config(256, 2.0)
        >>> cfg.parameterization, cfg.steps, cfg.sigma_b2
        ('ntk', 200, 0.1)
    """
    return mlp.Config(
        width=width,
        depth=1,
        d_in=2,
        sigma_w2=_NTK_SIGMA_W2,
        sigma_b2=_NTK_SIGMA_B2,
        lr=lr,
        steps=NTK_STEPS,
        record_every=NTK_STEPS,
    )


class NTKScan(NamedTuple):
    """Networks of several widths trained on the same data, and the NTK prediction.

    Shapes: W widths, S seeds (networks per width), n_test test inputs. Entries of a
    run that diverged are NaN.

    Attributes:
        widths: hidden widths, shape (W,).
        train_angles, y_train: training inputs (angles, radians) and targets, (P,).
        test_angles: angles of the test inputs on the circle, shape (n_test,).
        f0, f_net, f_kernel: outputs on the test inputs at initialisation, after
            training, and predicted by kernel gradient descent with the analytic NTK
            from the same f0; shape (W, S, n_test).
        kernel_change: ``|Theta_T - Theta_0|_F / |Theta_0|_F`` of the empirical NTK
            on 12 evenly spaced points of the circle, shape (W, S).
        weight_change: ``|w_T - w_0| / |w_0|`` over both weight matrices, (W, S).
        f0_train: outputs on the training inputs at initialisation, (W, S, P).
        residual0: root mean square of ``y - f_0`` over the training points, the
            distance the function has to travel, shape (W, S).
        gap: ``|f_net - f_kernel| / |f_kernel - f0|`` (root mean square over the
            test inputs), shape (W, S).
        diverged_step: first step at which each run diverged, or -1; shape (W, S).
        lr_max: ``2 P / lambda_max(Theta)``: kernel gradient descent diverges for
            ``lr >= lr_max``, and then ``f_kernel`` and ``gap`` are NaN.
    """

    widths: np.ndarray
    train_angles: np.ndarray
    y_train: np.ndarray
    test_angles: np.ndarray
    f0: np.ndarray
    f_net: np.ndarray
    f_kernel: np.ndarray
    kernel_change: np.ndarray
    weight_change: np.ndarray
    f0_train: np.ndarray
    residual0: np.ndarray
    gap: np.ndarray
    diverged_step: np.ndarray
    lr_max: float


@functools.partial(jax.jit, static_argnames=("num_seeds",))
def _train_seeds(key, cfg, x, y, x_test, probe, num_seeds):
    """Train num_seeds networks; initial and final test outputs, changes."""

    def one(k):
        traj = mlp.train(k, cfg, x, y, x_test)
        k0 = mlp.empirical_ntk(mlp.init(k, cfg), probe, None, cfg)
        k1 = mlp.empirical_ntk(traj.params, probe, None, cfg)
        change = jnp.linalg.norm(k1 - k0) / jnp.linalg.norm(k0)
        return (
            traj.f_train[0, :, 0],
            traj.f_test[0, :, 0],
            traj.f_test[-1, :, 0],
            traj.weight_change[-1],
            change,
            traj.diverged_step,
        )

    keys = jax.random.split(key, num_seeds)
    # vmap is faster for narrow networks, a sequential map for wide ones (2 cores)
    return jax.lax.map(one, keys, batch_size=num_seeds if cfg.width < 512 else 1)


@functools.lru_cache(maxsize=8)
def _train_kernels(num_train: int):
    """Analytic NTK on the training and test inputs (float64), and 2P/lambda_max."""
    angles = (np.arange(num_train) + 0.5) * 2 * np.pi / num_train
    x = np.asarray(circle(angles), np.float64)
    x_test = np.asarray(circle(_TEST_ANGLES), np.float64)
    cfg = ntk_config(1, 1.0)
    theta = np.asarray(ntk(x, None, cfg))
    theta_star = np.asarray(ntk(x_test, x, cfg))
    return theta, theta_star, 2 * num_train / float(np.linalg.eigvalsh(theta)[-1])


def _check_scan_args(key, lr, num_train, target, widths, num_seeds):
    check_key(key)
    if not isinstance(target, str):
        raise TypeError(
            f"target must be a str, one of {sorted(TARGETS)}; got target={target!r}"
        )
    check_choice("target", target, sorted(TARGETS))
    for name, value in (("num_train", num_train), ("num_seeds", num_seeds)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{name} must be an integer >= 1, got {name}={value!r} "
                f"({type(value).__name__})"
            )
        if not math.isfinite(value) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {name}={value!r}")
    check_real("lr", lr, positive=True)
    check_int_sequence("widths", widths, minimum=1)
    check_allocation(
        f"the float64 NTK Gram matrices of num_train={num_train} points",
        # Theta (P, P), its eigendecomposition, Theta* (121, P)
        8.0 * num_train * (3 * num_train + len(_TEST_ANGLES)),
        "use fewer training points",
    )


def ntk_width_scan(
    key: jax.Array,
    *,
    lr: float,
    num_train: int,
    target: str,
    widths: tuple[int, ...] = NTK_WIDTHS,
    num_seeds: int = NTK_SEEDS,
) -> NTKScan:
    """Train two-layer ReLU networks of several widths and predict them by the NTK.

    The networks (:func:`ntk_config`: NTK parameterisation, ``sigma_w2 = 1``,
    ``sigma_b2 = 0.1``, d = 2) see ``num_train`` evenly spaced points of the circle,
    at angles ``(i + 1/2) 2 pi / P``, labelled by ``TARGETS[target]``, and take 200
    full-batch gradient-descent steps of size ``lr`` on
    ``1/(2P) sum_i (f(x_i) - y_i)^2`` (time ``t = 200 lr``). The prediction is
    kernel gradient descent with the analytic NTK from each network's own initial
    function (:func:`lm_sims.kernels.predict_linearized`):

    ``f_t(X*) = f_0(X*) + Theta(X*, X) Theta^{-1} (I - (I - lr Theta / P)^200)
    (y - f_0(X))``.

    Args:
        key: PRNG key; the networks of every width use the seeds
            ``jax.random.split(key, num_seeds)``.
        lr: learning rate (> 0), in units of 1/step; the run lasts ``t = 200 lr``.
        num_train: number of training points P (int >= 1).
        target: a key of ``TARGETS``.
        widths: hidden widths (ints >= 1).
        num_seeds: networks per width (int >= 1).

    Returns:
        :class:`NTKScan` (float64 NumPy arrays). A run that diverged is a result:
        its ``diverged_step`` is set and its entries are NaN.

    Raises:
        ValueError: unknown target, or lr, num_train, num_seeds (NaN included),
            widths out of range or empty, or num_train so large that the NTK
            Gram matrices would exceed ``lm_sims._config.MAX_BYTES``.
        TypeError: key is not a PRNG key, target not a str, widths not a
            sequence, or num_train, num_seeds, a width not an int.

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel", 2018, arXiv:1806.07572;
        Lee et al., "Wide neural networks of any depth evolve as linear models under
        gradient descent", 2019, arXiv:1902.06720.

    Example:
        >>> import jax
        >>> from lm_sims import kernels
        >>> s = kernels.ntk_width_scan(jax.random.key(0), lr=1.0, num_train=4,
        ...                            target="smooth", widths=(64,), num_seeds=1)
        >>> s.f_net.shape, bool(s.gap[0, 0] < 0.5)
        ((1, 1, 121), True)
    """
    _check_scan_args(key, lr, num_train, target, widths, num_seeds)
    train_angles = (np.arange(num_train) + 0.5) * 2 * np.pi / num_train
    y = TARGETS[target](train_angles)
    x, x_test, probe = circle(train_angles), circle(_TEST_ANGLES), circle(_PROBE_ANGLES)
    y32 = jnp.asarray(y[:, None])  # the default float dtype, like the networks
    runs = [
        _train_seeds(key, ntk_config(w, lr), x, y32, x_test, probe, num_seeds)
        for w in widths
    ]
    f0_train, f0, f_net, weight, change, diverged = (
        np.stack([np.asarray(r[i], np.float64) for r in runs]) for i in range(6)
    )
    theta, theta_star, lr_max = _train_kernels(num_train)
    num_runs = len(widths) * num_seeds
    if lr < lr_max:  # one kernel prediction, every run a column
        f_kernel = np.asarray(
            predict_linearized(
                theta,
                np.repeat(y[:, None], num_runs, axis=1),
                lr * NTK_STEPS,
                ntk_test_train=theta_star,
                f0_train=f0_train.reshape(num_runs, -1).T,
                f0_test=f0.reshape(num_runs, -1).T,
                lr=lr,
            ).f_test
        ).T.reshape(f0.shape)
    else:  # kernel gradient descent diverges: no finite prediction to draw
        f_kernel = np.full_like(f0, np.nan)
    bad = diverged >= 0
    f_net[bad], weight[bad], change[bad] = np.nan, np.nan, np.nan
    gap = np.sqrt(
        np.mean((f_net - f_kernel) ** 2, axis=-1)
        / np.mean((f_kernel - f0) ** 2, axis=-1)
    )
    return NTKScan(
        widths=np.array(widths),
        train_angles=train_angles,
        y_train=y,
        test_angles=_TEST_ANGLES,
        f0=f0,
        f_net=f_net,
        f_kernel=f_kernel,
        kernel_change=change,
        weight_change=weight,
        f0_train=f0_train,
        residual0=np.sqrt(np.mean((y - f0_train) ** 2, axis=-1)),
        gap=gap,
        diverged_step=diverged.astype(int),
        lr_max=lr_max,
    )


@functools.partial(jax.jit, static_argnames=("num_seeds",))
def _initial_kernels(key, cfg, x, num_seeds):
    """Empirical NTK at initialisation of the networks of :func:`_train_seeds`."""

    def one(k):
        return mlp.empirical_ntk(mlp.init(k, cfg), x, None, cfg)

    return jax.lax.map(one, jax.random.split(key, num_seeds), batch_size=1)


def ntk_gap_parts(
    key: jax.Array,
    *,
    lr: float,
    num_train: int,
    target: str,
    widths: tuple[int, ...] = NTK_WIDTHS,
    num_seeds: int = NTK_SEEDS,
) -> tuple[NTKScan, np.ndarray, np.ndarray]:
    """Split the network-NTK gap of :func:`ntk_width_scan` into its two sources.

    With ``f_lin`` the network's own linearisation (kernel gradient descent with its
    empirical NTK at initialisation, from the same f0), the gap
    ``f_net - f_NTK = (f_net - f_lin) + (f_lin - f_NTK)`` is the kernel's motion
    during training plus the difference between the initial kernel and the
    infinite-width one. Both are measured like the gap, relative to
    ``|f_NTK - f_0|`` on the test inputs.

    Args:
        key, lr, num_train, target, widths, num_seeds: as :func:`ntk_width_scan`
            (``lr`` below ``2P / lambda_max``).

    Returns:
        ``(scan, motion, initial)``: the :class:`NTKScan`, and the relative sizes
        of ``f_net - f_lin`` and ``f_lin - f_NTK``, each of shape (W, S).

    Raises:
        ValueError: as :func:`ntk_width_scan`, or ``lr >= 2P / lambda_max``.
        TypeError: key is not a PRNG key.

    References:
        Lee et al., "Wide neural networks of any depth evolve as linear models under
        gradient descent", 2019, arXiv:1902.06720.

    Example:
        >>> import jax
        >>> from lm_sims import kernels
        >>> scan, motion, initial = kernels.ntk_gap_parts(
        ...     jax.random.key(0), lr=1.0, num_train=4, target="smooth",
        ...     widths=(64,), num_seeds=1)
        >>> bool(scan.gap[0, 0] <= motion[0, 0] + initial[0, 0] + 1e-9)
        True
    """
    _check_scan_args(key, lr, num_train, target, widths, num_seeds)
    scan = ntk_width_scan(
        key,
        lr=lr,
        num_train=num_train,
        target=target,
        widths=widths,
        num_seeds=num_seeds,
    )
    if lr >= scan.lr_max:
        raise ValueError(
            f"lr must be < 2P / lambda_max = {scan.lr_max:.3f} (the linearised "
            f"network diverges above), got lr={lr}"
        )
    x_all = jnp.concatenate([circle(scan.train_angles), circle(scan.test_angles)])
    motion = np.zeros(scan.gap.shape)
    initial = np.zeros(scan.gap.shape)
    for i, width in enumerate(widths):
        k0 = np.asarray(
            _initial_kernels(key, ntk_config(width, lr), x_all, num_seeds), np.float64
        )
        for j in range(num_seeds):
            f_lin = np.asarray(
                predict_linearized(
                    k0[j, :num_train, :num_train],
                    scan.y_train,
                    lr * NTK_STEPS,
                    ntk_test_train=k0[j, num_train:, :num_train],
                    f0_train=scan.f0_train[i, j],
                    f0_test=scan.f0[i, j],
                    lr=lr,
                ).f_test
            )
            size = np.sqrt(np.mean((scan.f_kernel[i, j] - scan.f0[i, j]) ** 2))
            motion[i, j] = np.sqrt(np.mean((scan.f_net[i, j] - f_lin) ** 2)) / size
            initial[i, j] = np.sqrt(np.mean((f_lin - scan.f_kernel[i, j]) ** 2)) / size
    return scan, motion, initial
