"""Issue 12, training side: no silent wrong answers from the training modules.

Each class of failure has one test parametrized over every public function it
applies to (mlp, feature_learning, lazy_rich, deep_linear, training):

1. targets whose shape differs from the outputs' ((P,) against (P, 1)) raise
   instead of broadcasting the residual to P x P;
2. parameters that do not match the config (width, depth, d_in, d_out) raise;
3. deep_linear.predict at depth > 2 is right on any time grid (against an
   arbitrary-precision reference); effective_u0, half_time and the alignment radii
   validate their ranges;
4. numbers that pass the range checks but are 0 or inf in the run's dtype raise with
   the representable range;
5. divergence: a run is cut once its loss leaves 1,000 x (loss_0 + scale), and no
   recorded point at or after the diverged step is finite;
6. sizes that would run for hours or exhaust memory raise up front, with an explicit
   override.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import data, deep_linear, lazy_rich, mlp, training
from lm_sims import feature_learning as fl

KEY = jax.random.key(0)
DTYPE = jnp.result_type(float)
INFO = jnp.finfo(DTYPE)
# a number below the smallest normal and one above the largest of the run's dtype
# (above float64's max a Python float is inf: refused as not finite, also a
# ValueError)
UNDER = float(INFO.tiny) / 1e3
OVER = float(INFO.max) * 10.0 if DTYPE == jnp.float32 else float("inf")

NET = mlp.Config(width=8, depth=2, d_in=3, d_out=1, steps=4, record_every=2)
FL = fl.Config(width=8, input_dim=3, batch_size=5)
LR = lazy_rich.Config(width=6, num_train=5, steps=4, record_every=2)
X3 = jnp.ones((5, 3))


# -- 1. targets must have exactly the outputs' shape --------------------------------

TARGET_CASES = {
    "mlp.loss (P,)": lambda: mlp.loss(mlp.init(KEY, NET), X3, jnp.ones(5), NET),
    "mlp.loss (P, 2)": lambda: mlp.loss(mlp.init(KEY, NET), X3, jnp.ones((5, 2)), NET),
    "mlp.loss (P-1, 1)": lambda: mlp.loss(
        mlp.init(KEY, NET), X3, jnp.ones((4, 1)), NET
    ),
    "feature_learning.loss (P, 1)": lambda: fl.loss(
        fl.init(KEY, FL), X3, jnp.ones((5, 1)), FL
    ),
    "feature_learning.loss (P+1,)": lambda: fl.loss(
        fl.init(KEY, FL), X3, jnp.ones(6), FL
    ),
    "lazy_rich.loss (P, 1)": lambda: lazy_rich.loss(
        lazy_rich.init(KEY, LR),
        lazy_rich.Batch(jnp.ones((5, 2)), jnp.ones((5, 1))),
        1.0,
    ),
    "mlp.train y (P, 2)": lambda: mlp.train(KEY, NET, X3, jnp.ones((5, 2))),
}


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_targets_of_another_shape_raise(case):
    with pytest.raises(ValueError, match=r"y.* shape"):
        TARGET_CASES[case]()


def test_loss_with_matching_targets_is_the_mean_squared_error():
    # the value the (P,) targets used to corrupt, computed by hand
    p = mlp.init(KEY, NET)
    y = jnp.arange(5.0)[:, None]
    f = mlp.apply(p, X3, NET)
    want = 0.5 * float(jnp.mean((f - y) ** 2))
    assert float(mlp.loss(p, X3, y, NET)) == pytest.approx(want, rel=1e-6)
    assert float(fl.loss(fl.init(KEY, FL), X3, jnp.zeros(5), FL)) >= 0.0


# -- 2. parameters must match the config --------------------------------------------

_OTHER = {
    "width": NET.replace(width=16),
    "depth": NET.replace(depth=1),
    "d_in": NET.replace(d_in=4),
    "d_out": NET.replace(d_out=2),
}
_TASK = data.make_task(KEY, "synthetic")
_DL = deep_linear.init(KEY, deep_linear.Config(), _TASK)


def _wide_task():
    return data.Task(jnp.ones((4, 5)), jnp.ones((4, 8)))


PARAM_CASES = {
    **{
        f"mlp.apply other {k}": (lambda c=c: mlp.apply(mlp.init(KEY, NET), X3, c))
        for k, c in _OTHER.items()
        if k != "d_in"
    },
    "mlp.apply other d_in": lambda: mlp.apply(
        mlp.init(KEY, NET), jnp.ones((5, 4)), _OTHER["d_in"]
    ),
    "mlp.loss other width": lambda: mlp.loss(
        mlp.init(KEY, NET), X3, jnp.ones((5, 1)), _OTHER["width"]
    ),
    "mlp.apply x of another d_in": lambda: mlp.apply(
        mlp.init(KEY, NET), jnp.ones((5, 4)), NET
    ),
    "feature_learning.features other width": lambda: fl.features(
        fl.init(KEY, FL), X3, FL.replace(width=16)
    ),
    "feature_learning.loss other input_dim": lambda: fl.loss(
        fl.init(KEY, FL), jnp.ones((5, 4)), jnp.ones(5), FL.replace(input_dim=4)
    ),
    "lazy_rich.forward w of another shape": lambda: lazy_rich.forward(
        lazy_rich.Params(jnp.ones(6), jnp.ones((4, 2))), jnp.ones((5, 2)), 1.0
    ),
    "lazy_rich.loss x of 3 columns": lambda: lazy_rich.loss(
        lazy_rich.init(KEY, LR), lazy_rich.Batch(X3, jnp.ones(5)), 1.0
    ),
    "deep_linear.loss other task": lambda: deep_linear.loss(_DL, _wide_task()),
    "deep_linear.effective_u0 other task": lambda: deep_linear.effective_u0(
        _DL, _wide_task(), 2
    ),
}


@pytest.mark.parametrize("case", list(PARAM_CASES))
def test_parameters_that_do_not_match_the_config_raise(case):
    with pytest.raises(ValueError, match=r"shape|layers|chain"):
        PARAM_CASES[case]()


def test_parameters_check_works_under_jit():
    # the check reads shapes only: apply stays jittable
    p = mlp.init(KEY, NET)
    out = jax.jit(lambda p, x: mlp.apply(p, x, NET))(p, X3)
    assert out.shape == (5, 1)


# -- 3. deep_linear and lazy_rich: right on any grid, ranges validated ---------------


def _exact_time(s, u0, p, depth):
    """Time at which eq. (1.2) reaches p from u0, by arbitrary-precision quadrature
    of dt = dp / (L p^(2-2/L) (s - p)) (independent of lm_sims' integrator)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    a = mpmath.mpf(2) - mpmath.mpf(2) / depth
    s, u0, p = mpmath.mpf(s), mpmath.mpf(u0), mpmath.mpf(p)
    # in x = log q the integrand is smooth; split at s/2 for the quadrature
    f = lambda x: mpmath.e**x / (depth * mpmath.e ** (a * x) * (s - mpmath.e**x))  # noqa: E731
    pts = [mpmath.log(u0), mpmath.log(min(p, s / 2)), mpmath.log(p)]
    return float(mpmath.quad(f, sorted(set(pts))))


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_deep_linear_predict_is_right_on_a_coarse_grid(depth):
    # the probe: s = 3, u0 = 1e-3, grid (0, 10, 100); the exact times of
    # p = 0.01, 1.5, 2.9, 2.999 from the quadrature, asked for on one coarse grid
    s, u0 = 3.0, 1e-3
    targets = np.array([0.01, 1.5, 2.9, 2.999])
    times = np.array([_exact_time(s, u0, p, depth) for p in targets])
    grid = np.concatenate([[0.0, 10.0, 100.0], times])
    order = np.argsort(grid)
    u = np.asarray(deep_linear.predict(jnp.array([s]), u0, grid[order], depth))
    u = u[np.argsort(order), 0]
    # 64 RK4 steps per local time scale: error ~1e-7 relative; float32 rounding of
    # the times (t ~ 1e2, eps 1.2e-7) moves u by at most rate * dt ~ 1e-4
    rtol = 1e-4 if DTYPE == jnp.float32 else 1e-6
    np.testing.assert_allclose(u[3:], targets, rtol=rtol)
    np.testing.assert_allclose(u[:3], [u0, s, s], rtol=rtol)
    # a fine grid gives the same numbers as the coarse one
    fine = np.linspace(0.0, 100.0, 1001)
    u_fine = np.asarray(deep_linear.predict(jnp.array([s]), u0, fine, depth))
    np.testing.assert_allclose(u_fine[[100, 1000], 0], u[1:3], rtol=rtol)


RANGE_CASES = {
    "effective_u0 num_modes=100": lambda: deep_linear.effective_u0(_DL2(), _TASK, 100),
    "effective_u0 num_modes=-1": lambda: deep_linear.effective_u0(_DL2(), _TASK, -1),
    "effective_u0 num_modes=0": lambda: deep_linear.effective_u0(_DL2(), _TASK, 0),
    "half_time lengths": lambda: deep_linear.half_time(
        jnp.arange(3.0), jnp.ones((4, 1)), jnp.ones(1)
    ),
    "half_time NaN t": lambda: deep_linear.half_time(
        jnp.array([0.0, jnp.nan]), jnp.ones((2, 1)), jnp.ones(1)
    ),
    "half_time s<=0": lambda: deep_linear.half_time(
        jnp.arange(2.0), jnp.ones((2, 1)), -jnp.ones(1)
    ),
    "half_time empty": lambda: deep_linear.half_time(
        jnp.zeros(0), jnp.ones((0, 1)), jnp.ones(1)
    ),
    "predict t NaN": lambda: deep_linear.predict(
        jnp.ones(1), 0.1, jnp.array([0.0, jnp.nan]), 3
    ),
    **{
        f"{name} radius={r}": (lambda fn=fn, r=r: fn(r))
        for name, fn in {
            "teacher_alignment_fraction": lambda r: (
                lazy_rich.teacher_alignment_fraction(lazy_rich.init(KEY, LR), _DIRS, r)
            ),
            "uniform_alignment_baseline": lambda r: (
                lazy_rich.uniform_alignment_baseline(_DIRS, r)
            ),
        }.items()
        for r in (-0.1, 0.0, float("nan"), float("inf"), 4.0)
    },
}
_DIRS = lazy_rich.teacher(KEY, LR)


def _DL2():
    return deep_linear.init(KEY, deep_linear.Config(init="random"), _TASK)


@pytest.mark.parametrize("case", list(RANGE_CASES))
def test_out_of_range_arguments_raise(case):
    with pytest.raises(ValueError, match=r"num_modes|t |t must|s must|radius|shape"):
        RANGE_CASES[case]()


def test_radius_range_ends_are_valid():
    # (0, pi]: at r = pi every direction is near a teacher unit
    assert float(lazy_rich.uniform_alignment_baseline(_DIRS, math.pi)) == pytest.approx(
        1.0
    )
    with pytest.raises(TypeError, match="radius"):
        lazy_rich.uniform_alignment_baseline(_DIRS, "0.2")


# -- 4. numbers representable in the run's dtype ------------------------------------

REPR_CASES = {
    **{
        f"mlp.Config {f}={v:g}": (lambda f=f, v=v: mlp.Config(**{f: v}))
        for f in ("lr", "sigma_w2", "sigma_b2", "eps")
        for v in (UNDER, OVER)
    },
    **{
        f"deep_linear.Config {f}={v:g}": (lambda f=f, v=v: deep_linear.Config(**{f: v}))
        for f in ("lr", "init_scale")
        for v in (UNDER,)
    },
    "deep_linear.Config lr=max": lambda: deep_linear.Config(lr=OVER),
    **{
        f"lazy_rich.Config {f}={v:g}": (lambda f=f, v=v: lazy_rich.Config(**{f: v}))
        for f in ("alpha", "lr")
        for v in (UNDER, OVER)
    },
    "feature_learning.Config lr tiny": lambda: fl.Config(lr=UNDER),
    "feature_learning.Config lr huge": lambda: fl.Config(lr=OVER),
    "feature_learning.one_step_changes lr tiny": lambda: fl.one_step_changes(
        KEY, "mup", UNDER
    ),
    "training.run lr tiny": lambda: training.run(
        lambda w: jnp.sum(w**2), jnp.ones(2), UNDER, steps=1, record_every=1
    ),
    "training.run lr huge": lambda: training.run(
        lambda w: jnp.sum(w**2), jnp.ones(2), OVER, steps=1, record_every=1
    ),
    "training.run per-tensor lr tiny": lambda: training.run(
        lambda w: jnp.sum(w[0] ** 2),
        (jnp.ones(2),),
        (UNDER,),
        steps=1,
        record_every=1,
    ),
}


@pytest.mark.parametrize("case", list(REPR_CASES))
def test_numbers_outside_the_dtype_range_raise(case):
    with pytest.raises(ValueError, match=r"representable|finite"):
        REPR_CASES[case]()


def test_representable_message_names_the_range():
    if DTYPE != jnp.float32:
        pytest.skip("float32's range; under x64 1e-46 is a float64 number")
    with pytest.raises(ValueError, match=r"lr=1e-46 .*float32.*1\.18e-38, 3\.4e\+38"):
        mlp.Config(lr=1e-46)
    mlp.Config(lr=1e-30)  # small but representable: accepted


# -- 5. divergence: cut early, nothing recorded at or after the cut ----------------


def _quadratic_run(lr, steps=40, record_every=4):
    # loss w^2 / 2 with curvature 1: lr > 2 diverges by |1 - lr| per step
    return training.run(
        lambda w: 0.5 * jnp.sum(w**2),
        jnp.ones(3),
        lr,
        steps=steps,
        record_every=record_every,
        observe=lambda w: w,
    )


DIVERGING = {
    "training.run": (lambda: _quadratic_run(3.0), None),
    "mlp.train": (
        lambda: mlp.train(KEY, mlp.Config(width=16, steps=60, record_every=3, lr=40.0)),
        "f_train",
    ),
    "lazy_rich.train": (
        lambda: lazy_rich.train(KEY, LR.replace(lr=40.0, steps=60, record_every=3)),
        "positions",
    ),
    "deep_linear.train": (
        lambda: deep_linear.train(
            KEY, deep_linear.Config(lr=1.5, steps=60, record_every=3)
        ),
        "mode_strengths",
    ),
}


@pytest.mark.parametrize("name", list(DIVERGING))
def test_diverged_runs_report_no_point_at_or_after_the_cut(name):
    make, field = DIVERGING[name]
    res = make()
    ds = int(res.diverged_step)
    assert ds >= 0, name
    loss = np.asarray(res.loss, np.float64)
    steps = np.asarray(res.step)
    after = steps >= ds
    assert np.all(np.isnan(loss[after])), (ds, steps, loss)
    # every finite recorded loss is inside the limit: 1e3 x (loss_0 + scale), with
    # scale <= loss_0 + the zero predictor's loss here, so within 1e3 x 3 loss_0
    finite = loss[~after]
    assert np.all(np.isfinite(finite))
    assert finite.max() <= training.DIVERGENCE_FACTOR * 3 * abs(finite[0]) + 3e3
    if field is not None:
        rec = np.asarray(getattr(res, field), np.float64)
        assert np.all(np.isnan(rec[after])) and np.all(np.isfinite(rec[~after]))


def test_a_record_at_the_diverged_step_is_masked():
    # lr = 3: the loss grows by 4x a step from 1.5; it passes 1e3 x (1.5 + 1) at
    # step 5 (1.5 * 4^5 = 1536 < 2500 < 6144): recorded every step, the record
    # of step 6 (the first above) is the diverged step and is NaN
    res = _quadratic_run(3.0, steps=10, record_every=1)
    ds = int(res.diverged_step)
    assert ds == 6
    assert np.isfinite(res.loss[ds - 1]) and np.isnan(res.loss[ds])
    assert float(res.loss[ds - 1]) <= float(training.divergence_limit(1.5))


def test_a_spike_that_recovers_is_not_divergence():
    # a loss that climbs 500x above its start for a few steps and comes back
    # (a catapult) stays a result: 500 < DIVERGENCE_FACTOR
    # w[0] counts the steps: the linear term -w[0] (its value cancelled by the
    # stop_gradient) gives it gradient -1, so it grows by lr = 1 a step
    def loss(w):
        spike = jnp.where((w[0] > 3) & (w[0] < 7), 500.0, 1.0)
        return spike - w[0] + jax.lax.stop_gradient(w[0])

    res = training.run(loss, jnp.zeros(1), 1.0, steps=10, record_every=1)
    assert int(res.diverged_step) == -1
    assert float(jnp.nanmax(res.loss)) == pytest.approx(500.0)


def test_minibatch_runs_check_the_full_data_loss_at_records():
    # SGD steps see a batch; the full-data loss at each record is checked too
    x = jnp.ones((8, 1)) * jnp.arange(1.0, 9.0)[:, None]
    res = training.run(
        lambda w, b: 0.5 * jnp.mean((b[0] @ w - b[1]) ** 2),
        jnp.zeros(1),
        1.0,
        steps=30,
        record_every=1,
        data=(x, jnp.ones(8)),
        key=KEY,
        optimizer=training.Optimizer(batch_size=2),
    )
    ds = int(res.diverged_step)
    assert ds >= 0
    assert np.all(np.isnan(np.asarray(res.loss)[ds:]))


# -- 6. sizes that would hang or exhaust the machine raise up front ----------------

SIZE_CASES = {
    "mlp.train steps=1e8": lambda kw: mlp.train(
        KEY, mlp.Config(steps=10**8, record_every=10**8), **kw
    ),
    "deep_linear.train steps=1e8": lambda kw: deep_linear.train(
        KEY, deep_linear.Config(steps=10**8, record_every=10**8), **kw
    ),
    "lazy_rich.train steps=1e8": lambda kw: lazy_rich.train(
        KEY, lazy_rich.Config(steps=10**8, record_every=10**8), **kw
    ),
    "training.run steps=1e8": lambda kw: training.run(
        lambda w: jnp.sum(w**2),
        jnp.ones(10**4),
        0.1,
        steps=10**8,
        record_every=10**8,
        **kw,
    ),
    "feature_learning one step width=1e5": lambda kw: fl.feature_change_after_one_step(
        KEY, fl.Config(width=10**5), **kw
    ),
    "feature_learning one_step_changes width=1e5": lambda kw: fl.one_step_changes(
        KEY, "mup", 0.01, widths=(64, 10**5), **kw
    ),
}


@pytest.mark.parametrize("case", list(SIZE_CASES))
def test_sizes_beyond_the_budget_raise_with_the_estimate(case):
    with pytest.raises(ValueError, match=r"would (take|need) about .*limit"):
        SIZE_CASES[case]({})


@pytest.mark.parametrize(
    "call",
    [
        lambda b: mlp.train(KEY, NET, max_work=b),
        lambda b: lazy_rich.train(KEY, LR, max_work=b),
        lambda b: deep_linear.train(
            KEY, deep_linear.Config(steps=4, record_every=2), max_work=b
        ),
        lambda b: training.run(
            lambda w: jnp.sum(w**2),
            jnp.ones(2),
            0.1,
            steps=4,
            record_every=2,
            max_work=b,
        ),
        lambda b: fl.feature_change_after_one_step(KEY, FL, max_work=b),
    ],
    ids=["mlp", "lazy_rich", "deep_linear", "training", "feature_learning"],
)
def test_the_work_limit_is_an_explicit_argument(call):
    with pytest.raises(ValueError, match="max_work"):
        call(1.0)  # a tiny budget refuses even a small run
    call(math.inf)  # no limit: runs
    with pytest.raises(ValueError, match="max_work"):
        call(-1.0)


def test_the_memory_limit_is_an_explicit_argument():
    with pytest.raises(ValueError, match="max_bytes"):
        fl.feature_change_after_one_step(KEY, FL, max_bytes=100.0)
    assert fl.feature_change_after_one_step(KEY, FL, max_bytes=1e9).hidden.shape == (2,)
