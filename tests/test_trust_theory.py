"""Issue 12 for the closed-form theories: an unstable learning rate is a result
(which modes diverge, from which step, values masked as a diverged simulation's),
kernels must be kernels, eigenlearning sizes must be integers and affordable.

Every class is parametrized over the public functions it applies to. Runs in both
precisions (JAX_ENABLE_X64=1 too): the theories compute in float64 either way.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from lm_sims import eigenlearning as el
from lm_sims import kernels, lazy_rich, mlp, training

KEY = jax.random.key(0)


# --- instability: one case per theory of discrete-time gradient descent ------------


def _toy_kernel(num=5, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num + 3, 3))
    gram = np.asarray(kernels.ntk(x, x, kernels.Config(depth=2, sigma_b2=0.1)))
    y = rng.normal(size=(num, 2))
    return gram[:num, :num], gram[num:, :num], y


def _explicit_linearized(theta, theta_star, y, lr, steps):
    """GD on the linearised model, iterated: outputs, losses and the first step
    whose loss leaves training.divergence_limit (the simulations' criterion)."""
    num = len(y)
    f, fs = np.zeros_like(y), np.zeros((len(theta_star), y.shape[1]))
    zero_loss = 0.5 * np.sum(y**2) / num  # f_0 = 0: also the loss at step 0
    limit = float(training.divergence_limit(zero_loss, zero_loss))  # mlp.train's
    first, out = -1, []
    for k in range(steps + 1):
        loss = 0.5 * np.sum((f - y) ** 2) / num
        if first < 0 and not loss <= limit:
            first = k
        out.append((f.copy(), fs.copy()))
        resid = f - y
        f, fs = f - lr / num * theta @ resid, fs - lr / num * theta_star @ resid
    return out, first


def _linearized_case(pred, theta, theta_star, y, lr, steps):
    """A kernel-GD prediction, its modes' growth factors and its explicit-iteration
    reference (values and the first step past the divergence limit)."""
    ref, first = _explicit_linearized(theta, theta_star, y, lr, steps)
    return {
        "pred": pred,
        "factors": 1.0 - lr * pred.eigenvalues / len(y),
        "values": (np.asarray(pred.f_train), np.asarray(pred.f_test)),
        "reference": (
            np.stack([r[0] for r in ref]),
            np.stack([r[1] for r in ref]),
        ),
        "steps": np.arange(steps + 1),
        "first": first,
    }


def _case_linearized(unstable):
    theta, theta_star, y = _toy_kernel()
    lam_max = np.linalg.eigvalsh(theta)[-1]
    lr = (2.6 if unstable else 1.6) * len(y) / lam_max  # lr lambda_max / P
    steps = 40
    pred = kernels.predict_linearized(
        theta, y, lr * np.arange(steps + 1), ntk_test_train=theta_star, lr=lr
    )
    return _linearized_case(pred, theta, theta_star, y, lr, steps)


def _case_ntk(unstable):
    angles = np.linspace(0.0, 3.0, 5)
    x = np.asarray(kernels.circle(angles))
    y = np.stack([np.sin(angles), np.cos(angles)], axis=1)
    cfg = mlp.Config(width=64, d_in=2, d_out=2)
    theta = np.asarray(kernels.ntk(x, None, cfg))
    lam_max = np.linalg.eigvalsh(theta)[-1]
    lr = (2.6 if unstable else 1.6) * len(y) / lam_max
    steps = 40
    pred = mlp.predict_ntk(cfg.replace(lr=lr), x, y, lr * np.arange(steps + 1), x)
    return _linearized_case(pred, theta, theta, y, lr, steps)


def _lazy_linearised_run(key, cfg):
    """GD on the lazy_rich network linearised at init, iterated in float64 from
    the Jacobian of train's own initial network: losses, relative changes."""
    k_teacher, k_data, _ = jax.random.split(key, 3)
    batch = lazy_rich.dataset(k_data, cfg, lazy_rich.teacher(k_teacher, cfg))
    params = lazy_rich.init(key, cfg)
    x, y = np.asarray(batch.x, np.float64), np.asarray(batch.y, np.float64)
    a, w = np.asarray(params.a, np.float64), np.asarray(params.w, np.float64)
    pre = x @ w.T
    jac = (cfg.alpha / cfg.width) * np.concatenate(
        [
            np.maximum(pre, 0.0),
            ((a * (pre > 0))[:, :, None] * x[:, None, :]).reshape(len(x), -1),
        ],
        axis=1,
    )
    eta = float(lazy_rich.effective_lr(cfg))
    theta0 = np.sqrt(np.sum(a**2) + np.sum(w**2))
    delta = np.zeros(jac.shape[1])
    zero_loss = 0.5 * np.mean(y**2)  # f_0 = 0: also the loss at step 0
    limit = float(training.divergence_limit(zero_loss, zero_loss))  # train's
    losses, changes, first = [], [], -1
    for k in range(cfg.steps + 1):
        resid = jac @ delta - y  # f_0 = 0 exactly
        loss = 0.5 * np.mean(resid**2)
        if first < 0 and not loss <= limit:
            first = k
        losses.append(loss)
        changes.append(np.linalg.norm(delta) / theta0)
        delta = delta - eta * jac.T @ resid / len(y)
    return np.array(losses), np.array(changes), first


def _case_lazy(unstable):
    cfg = lazy_rich.Config(alpha=10.0, width=20, num_train=8, steps=40, record_every=1)
    # lr sets mu_a = lr * lambda_bar_a / n (alpha >= 1): find the top mode's lr
    lam_max = lazy_rich.predict_lazy(KEY, cfg).eigenvalues[0]
    eta_max = 2.0 / lam_max  # |1 - eta lambda| > 1 above it
    lr = (1.3 if unstable else 0.8) * eta_max / float(lazy_rich.effective_lr(cfg))
    lr *= float(cfg.lr)
    cfg = cfg.replace(lr=lr)
    pred = lazy_rich.predict_lazy(KEY, cfg)
    losses, changes, first = _lazy_linearised_run(KEY, cfg)
    return {
        "pred": pred,
        "factors": 1.0 - float(lazy_rich.effective_lr(cfg)) * pred.eigenvalues,
        "values": (pred.loss, pred.relative_change),
        "reference": (losses, changes),
        "steps": np.arange(cfg.steps + 1),
        "first": first,
    }


CASES = {
    "kernels.predict_linearized": _case_linearized,
    "mlp.predict_ntk": _case_ntk,
    "lazy_rich.predict_lazy": _case_lazy,
}


@pytest.mark.parametrize("name", CASES)
def test_unstable_lr_is_flagged_masked_and_names_the_modes(name):
    case = CASES[name](unstable=True)
    pred, steps = case["pred"], case["steps"]
    # the modes: exactly the closed form |1 - a_i| > 1, a_i = lr lambda_i (/ P)
    np.testing.assert_array_equal(pred.unstable_modes, np.abs(case["factors"]) > 1.0)
    assert pred.unstable_modes[0] and not pred.unstable_modes[-1]
    # the step: that of the explicit iteration under the simulations' criterion
    assert pred.diverged and pred.diverged_step == case["first"] > 0
    after = steps >= pred.diverged_step
    for got, ref in zip(case["values"], case["reference"], strict=True):
        assert np.all(np.isnan(got[after]))  # nothing past the blow-up is plotted
        # before it, the exact values (tolerance 1e-8: float64 rounding of a
        # recursion whose top mode grows by |1 - a| <= 1.6 per step)
        np.testing.assert_allclose(got[~after], ref[~after], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", CASES)
def test_stable_lr_has_no_flag_and_the_old_values(name):
    case = CASES[name](unstable=False)
    pred = case["pred"]
    assert not pred.diverged and pred.diverged_step == -1
    assert not np.any(pred.unstable_modes)
    for got, ref in zip(case["values"], case["reference"], strict=True):
        assert np.all(np.isfinite(got))
        # tolerance 1e-9: float64 rounding of 40 explicit steps against the
        # closed form (what these functions returned before issue 12)
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def test_gradient_flow_never_diverges_and_lr_equal_to_the_edge_is_stable():
    theta, _, y = _toy_kernel()
    flow = kernels.predict_linearized(theta, y, [0.0, 1e6])
    assert flow.diverged_step == -1 and not flow.unstable_modes.any()
    lam = flow.eigenvalues
    assert np.all(np.diff(lam) <= 0)  # descending
    # a = 2 exactly: the top mode oscillates with constant amplitude, no blow-up
    lr = 2.0 * len(y) / lam[0]
    edge = kernels.predict_linearized(theta, y, lr * np.arange(50), lr=lr)
    assert edge.diverged_step == -1 and np.all(np.isfinite(edge.f_train))


def test_divergence_past_the_last_requested_step_is_not_reported():
    # as a simulation of 2 steps would not see a blow-up at step 30
    theta, _, y = _toy_kernel()
    lr = 2.6 * len(y) / np.linalg.eigvalsh(theta)[-1]
    short = kernels.predict_linearized(theta, y, [0.0, 2 * lr], lr=lr)
    assert short.unstable_modes[0] and short.diverged_step == -1
    assert np.all(np.isfinite(short.f_train))


def test_lazy_explorer_shows_the_theory_blowup_as_a_note():
    from lm_sims.viz.lazy_rich import _lazy_rich_panel

    cfg = lazy_rich.LAZY_CONFIG.replace(alpha=100.0, width=200)
    # 1.5 x the lr at which the top tangent-kernel mode reaches |1 - eta lambda| = 1
    eta_edge = 2.0 / lazy_rich.predict_lazy(KEY, cfg).eigenvalues[0]
    cfg = cfg.replace(lr=1.5 * cfg.lr * eta_edge / float(lazy_rich.effective_lr(cfg)))
    assert lazy_rich.predict_lazy(KEY, cfg).diverged
    panel = _lazy_rich_panel(KEY, cfg)
    assert "lazy theory diverges at step" in panel.note
    for curve in panel.curves:
        y = np.asarray(curve.y, np.float64)
        finite = y[np.isfinite(y)]
        assert finite.size == 0 or np.max(np.abs(finite)) < 1e5, curve.name


# --- kernels must be kernels --------------------------------------------------------


@pytest.mark.parametrize(
    "kernel,match",
    [
        (np.array([[1.0, 0.5], [0.4, 1.0]]), r"symmetric.*max \|K - K\^T\| = 0.1"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), r"semi-definite.*most negative .* -1"),
        (-np.eye(2), "semi-definite.*most negative eigenvalue is -1"),
    ],
)
@pytest.mark.parametrize("lr", [None, 0.1])
def test_indefinite_or_asymmetric_kernel_raises(kernel, match, lr):
    with pytest.raises(ValueError, match="ntk_train must be .*" + match):
        kernels.predict_linearized(kernel, np.ones(2), 0.0 if lr else 1.0, lr=lr)


def test_kernel_tolerance_scales_with_the_input_dtype():
    theta, _, y = _toy_kernel()
    # a float32 rounding-level asymmetry is accepted from a float32 kernel ...
    k32 = theta.astype(np.float32)
    k32[0, 1] *= 1 + 4e-7
    kernels.predict_linearized(k32, y, 1.0)
    kernels.predict_linearized(k32.astype(np.float64), y, 1.0)  # cast: same origin
    # ... but the same from a float64 kernel is 1e9 ulp: refused
    k64 = theta.copy()
    k64[0, 1] *= 1 + 1e-5
    with pytest.raises(ValueError, match="ntk_train must be symmetric"):
        kernels.predict_linearized(k64, y, 1.0)
    # a rank-deficient kernel (eigenvalues at rounding level) is a kernel
    x = np.random.default_rng(0).normal(size=(8, 2))
    kernels.predict_linearized(x @ x.T, np.ones(8), 1.0)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (
            {"ntk_train": np.full((2, 2), np.nan)},
            ValueError,
            "ntk_train must be finite",
        ),
        ({"y_train": [1.0, np.inf]}, ValueError, "y_train must be finite"),
        ({"f0_train": [np.nan, 0.0]}, ValueError, "f0_train must be finite"),
        ({"t": np.nan}, ValueError, "t must be a scalar"),
        ({"ntk_test_train": np.ones((3, 3))}, ValueError, r"\(n_test, P=2\)"),
        ({"ntk_test_train": [[np.inf, 0.0]]}, ValueError, "ntk_test_train must be fin"),
        ({"f0_test": np.zeros(3)}, ValueError, "f0_test was given without"),
        (
            {"ntk_test_train": np.ones((3, 2)), "f0_test": np.zeros(2)},
            ValueError,
            r"f0_test must have shape \(3,\)",
        ),
        ({"f0_train": np.zeros(3)}, ValueError, "f0_train must have the shape"),
        ({"ntk_train": None}, TypeError, "ntk_train must be an array"),
        ({"y_train": "y"}, TypeError, "y_train must be an array"),
        ({"lr": math.nan}, ValueError, "lr must be finite"),
    ],
)
def test_linearized_inputs_are_checked(kwargs, exc, match):
    args = {"ntk_train": np.eye(2), "y_train": [1.0, 0.0], "t": 1.0}
    args.update(kwargs)
    pos = [args.pop(k) for k in ("ntk_train", "y_train", "t")]
    with pytest.raises(exc, match=match):
        kernels.predict_linearized(*pos, **args)


def test_ntk_prediction_checks_its_config():
    with pytest.raises(TypeError, match="cfg must be an mlp.Config"):
        mlp.predict_ntk(kernels.Config(), np.ones((2, 2)), np.ones((2, 1)), 1.0)


# --- eigenlearning: integer sizes, affordable sizes ---------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda n: el.simulate_learning_curve(KEY, el.Config(), [n]), r"ns\[0\]"),
        (lambda n: el.trials(KEY, el.Config(), n), "num_seeds"),
        (lambda n: el.simulate_learning_curve(KEY, el.Config(), [8], n), "num_seeds"),
        (lambda n: el.Config(n=n), "n must be an integer"),
        (lambda n: el.Config(n=1, num_modes=n), "num_modes must be an integer"),
    ],
)
@pytest.mark.parametrize("value", [1.5, 16.0, np.float64(8.0), True])
def test_eigenlearning_integer_sizes_refuse_non_integers(call, match, value):
    with pytest.raises(TypeError, match=match):
        call(value)


@pytest.mark.parametrize(
    "ns,exc,match",
    [
        ([], ValueError, "non-empty 1-D"),
        ([[4, 8], [16, 32]], ValueError, "non-empty 1-D"),
        (8, TypeError, "ns must be a sequence"),
        ([0], ValueError, r"ns\[0\] must be >= 1"),
        ([8, 1024], ValueError, r"ns\[1\] must be >= 1 and <= 1023"),
    ],
)
def test_learning_curve_sizes_are_checked(ns, exc, match):
    with pytest.raises(exc, match=match):
        el.simulate_learning_curve(KEY, el.Config(), ns)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda **kw: el.trials(KEY, el.Config(), 10**7, **kw), "10000000 kernel"),
        (
            lambda **kw: el.train(KEY, el.Config(n=10**4, num_modes=2 * 10**4), **kw),
            "n=10000 samples",
        ),
        (
            lambda **kw: el.simulate_learning_curve(
                KEY, el.Config(num_modes=2 * 10**4), [10**4], 2, **kw
            ),
            "n=10000",
        ),
        (lambda **kw: el.trials(KEY, el.Config(), 10**5, **kw), "flop-equivalents"),
    ],
)
def test_huge_krr_is_refused_before_allocating(call, match):
    # the estimate is checked at the boundary: these return at once (a fit of the
    # sizes here would take minutes to hours or exhaust memory)
    with pytest.raises(ValueError, match=match + ".*limit"):
        call(max_work=1e11)
    with pytest.raises(ValueError, match="max_work must be > 0"):
        call(max_work=-1.0)


def test_krr_limits_can_be_raised_explicitly():
    cfg = el.Config(n=16, num_modes=64)
    with pytest.raises(ValueError, match="flop-equivalents"):
        el.trials(KEY, cfg, 4, max_work=1.0)
    fits = el.trials(KEY, cfg, 4, max_work=math.inf, max_bytes=math.inf)
    assert fits.test_mse.shape == (4,)
    with pytest.raises(ValueError, match="GiB"):
        el.spectrum(el.Config(n=8, num_modes=10**10))


def test_measured_learnabilities_checks_the_mode_axis():
    with pytest.raises(ValueError, match=r"\(\*trials, num_modes=64\)"):
        el.measured_learnabilities(np.zeros((4, 128)), el.Config(n=8, num_modes=64))
    with pytest.raises(ValueError, match="coeffs must be finite"):
        el.measured_learnabilities(
            np.full((4, 64), np.nan), el.Config(n=8, num_modes=64)
        )


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"eigenvalues": None}, TypeError, "eigenvalues must be an array"),
        ({"eigenvalues": [1.0, np.nan]}, ValueError, "eigenvalues must be finite"),
        (
            {"eigenvalues": [1.0, -0.5]},
            ValueError,
            "eigenvalues must be finite and >= 0",
        ),
        ({"target_coeffs": [1.0, "a"]}, TypeError, "target_coeffs"),
        ({"n": None}, TypeError, "n must be a real number"),
        ({"n": math.inf}, ValueError, "n must be finite"),
        ({"ridge": -1.0}, ValueError, "ridge must be >= 0"),
    ],
)
@pytest.mark.parametrize("fn", [el.predict_test_mse, el.predict_train_mse])
def test_eigenlearning_theory_inputs_are_checked(fn, kwargs, exc, match):
    args = {"eigenvalues": [1.0, 0.5], "target_coeffs": [1.0, 0.0], "n": 1.0}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fn(**args)
