"""Misuse of the public API, the way a student or an instructor would: wrong types,
wrong or mismatched shapes, NaN and empty inputs, out-of-range sizes, bad keys, bad
``observe`` hooks, and sizes that would allocate gigabytes. Each must raise a
ValueError / TypeError that names the argument, before any work is done; and a few
inputs that used to give a silently wrong number must now give the right one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import (
    data,
    kernels,
    lazy_rich,
    mlp,
    observables,
    training,
)
from lm_sims import feature_learning as fl
from lm_sims.fitting import power_law_fit

KEY = jax.random.key(0)
X = jax.random.normal(jax.random.key(1), (12, 3))
N = np.array([16.0, 32.0, 64.0, 128.0])
TINY = mlp.Config(width=4, steps=2, record_every=1, num_train=8)
LAZY = lazy_rich.LAZY_CONFIG.replace(steps=2, record_every=1)


def _quadratic(w):
    return 0.5 * jnp.sum(w**2)


def _regression_loss(w, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ w - y) ** 2)


# -- keys ----------------------------------------------------------------------------

BAD_KEYS = {
    "int": 0,
    "None": None,
    "int32 pair": np.array([0, 1], np.int32),
    "float pair": np.zeros(2),
    "uint32 triple": np.zeros(3, np.uint32),
    "batch of keys": jax.random.split(KEY, 2),
    "batch of raw keys": jax.random.split(jax.random.PRNGKey(0), 2),
}

KEY_TAKERS = {
    "data.teacher_regression": lambda k: data.teacher_regression(k, 4, 2, 1),
    "data.make_regression": lambda k: data.make_regression(k, "teacher", 4, 2, 1),
    "mlp.train": lambda k: mlp.train(k, TINY),
    "mlp.training_data": lambda k: mlp.training_data(k, TINY),
    "fl.feature_change_after_one_step": lambda k: fl.feature_change_after_one_step(
        k, fl.Config(width=8)
    ),
    "lazy_rich.run_summary": lambda k: lazy_rich.run_summary(k, LAZY),
    "kernels.output_samples": lambda k: kernels.output_samples(
        k, mlp.Config(width=4), jnp.ones((2, 2)), 2
    ),
    "training.run (minibatches)": lambda k: training.run(
        _regression_loss,
        jnp.zeros((2, 1)),
        0.1,
        steps=2,
        record_every=1,
        optimizer=training.Optimizer(batch_size=2),
        data=(jnp.ones((4, 2)), jnp.ones((4, 1))),
        key=k,
    ),
    "training.run (key given, full batch)": lambda k: training.run(
        _quadratic, jnp.ones(2), 0.1, steps=1, record_every=1, key=k
    ),
}


@pytest.mark.parametrize("bad", BAD_KEYS.values(), ids=BAD_KEYS.keys())
@pytest.mark.parametrize("taker", KEY_TAKERS)
def test_bad_key_is_a_type_error_naming_key(taker, bad):
    if bad is None and taker == "training.run (key given, full batch)":
        pytest.skip("key=None is the documented default of a full-batch run")
    with pytest.raises(TypeError, match="key"):
        KEY_TAKERS[taker](bad)


def test_legacy_raw_key_still_works():
    task = data.teacher_regression(jax.random.PRNGKey(0), 4, 2, 1)
    assert task.x.shape == (4, 2)


# -- values that are not arrays of real numbers -------------------------------------

NOT_REAL = {"None": None, "str": "abc", "complex": np.ones((4, 2), complex)}

ARRAY_TAKERS = {
    "linear_cka": ("x", lambda v: observables.linear_cka(v, X)),
    "mutual_knn_alignment": ("x", lambda v: observables.mutual_knn_alignment(v, X, 2)),
    "rms_coordinates": ("x", lambda v: observables.rms_coordinates(v)),
    "relative_change": ("params", lambda v: observables.relative_change(v, v)),
    "power_law_fit": ("x", lambda v: power_law_fit(v, N)),
    "signal_propagation_theory": (
        "c0",
        lambda v: kernels.signal_propagation_theory(v, kernels.Config(), 2),
    ),
    "lazy_rich.alpha_sweep": ("alphas", lambda v: lazy_rich.alpha_sweep(KEY, LAZY, v)),
    "mlp.train x_train": ("x_train", lambda v: mlp.train(KEY, TINY, v, jnp.ones(4))),
    "kernels.output_samples": (
        "x",
        lambda v: kernels.output_samples(KEY, mlp.Config(width=4), v, 2),
    ),
    "kernels.circle": ("angles", lambda v: kernels.circle(v)),
}


@pytest.mark.parametrize("bad", NOT_REAL.values(), ids=NOT_REAL.keys())
@pytest.mark.parametrize("name, call", ARRAY_TAKERS.values(), ids=ARRAY_TAKERS.keys())
def test_non_real_array_is_a_type_error_naming_the_argument(name, call, bad):
    if name in ("params", "x_train") and bad is None:
        pytest.skip("None is an empty pytree / the documented default")
    with pytest.raises(TypeError, match=name):
        call(bad)


# -- NaN and inf in, an error out (never NaN out) -----------------------------------

NAN_CASES = {
    "run params": (
        "params",
        lambda: training.run(
            _quadratic, jnp.array([jnp.nan, 1.0]), 0.1, steps=1, record_every=1
        ),
    ),
    "run data": (
        "data",
        lambda: training.run(
            _regression_loss,
            jnp.zeros((2, 1)),
            0.1,
            steps=1,
            record_every=1,
            data=(jnp.ones((4, 2)).at[0, 0].set(jnp.inf), jnp.ones((4, 1))),
        ),
    ),
    "mlp x_test": (
        "x_test",
        lambda: mlp.train(
            KEY, TINY, jnp.ones((4, 2)), jnp.ones(4), jnp.array([[jnp.nan, 0.0]])
        ),
    ),
    "relative_change": (
        "params",
        lambda: observables.relative_change(jnp.array([jnp.nan]), jnp.ones(1)),
    ),
    "output_samples": (
        "x",
        lambda: kernels.output_samples(
            KEY, mlp.Config(width=4), jnp.array([[jnp.nan, 0.0]]), 2
        ),
    ),
    "preactivations": (
        "x",
        lambda: kernels.preactivations(
            mlp.init(KEY, mlp.Config(width=4)),
            jnp.array([[jnp.nan, 0.0]]),
            mlp.Config(width=4),
        ),
    ),
    "linear_cka": ("x", lambda: observables.linear_cka(X.at[0, 0].set(jnp.nan), X)),
    "rms_coordinates": ("x", lambda: observables.rms_coordinates([1.0, jnp.inf])),
    "power_law_fit": ("y", lambda: power_law_fit(N, N * np.nan)),
}


@pytest.mark.parametrize("name, call", NAN_CASES.values(), ids=NAN_CASES.keys())
def test_nan_input_is_a_value_error(name, call):
    with pytest.raises(ValueError, match=rf"{name}.*(finite|NaN)"):
        call()


# -- empty inputs ----------------------------------------------------------------------

EMPTY_CASES = {
    "run params {}": (
        "params",
        lambda: training.run(lambda p: 0.0, {}, 0.1, steps=1, record_every=1),
    ),
    "run data P=0": (
        "sample",
        lambda: training.run(
            _regression_loss,
            jnp.zeros((2, 1)),
            0.1,
            steps=1,
            record_every=1,
            data=(jnp.ones((0, 2)), jnp.ones((0, 1))),
        ),
    ),
    "mlp x_train P=0": (
        "x_train",
        lambda: mlp.train(KEY, TINY, jnp.ones((0, 2)), jnp.ones(0)),
    ),
    "relative_change {}": ("params", lambda: observables.relative_change({}, {})),
    "sharpness no params": (
        "params",
        lambda: observables.sharpness(lambda w: 0.0, jnp.zeros(0)),
    ),
    "output_samples n=0": (
        "x",
        lambda: kernels.output_samples(KEY, mlp.Config(width=4), jnp.ones((0, 2)), 2),
    ),
    "signal_propagation_theory c0=[]": (
        "c0",
        lambda: kernels.signal_propagation_theory([], kernels.Config(), 2),
    ),
    "linear_cka n=0": ("x", lambda: observables.linear_cka(X[:0], X[:0])),
}


@pytest.mark.parametrize("name, call", EMPTY_CASES.values(), ids=EMPTY_CASES.keys())
def test_empty_input_is_a_value_error(name, call):
    with pytest.raises(ValueError, match=name):
        call()


def test_one_step_changes_needs_a_tuple_of_widths():
    for widths in ((), 64):
        with pytest.raises(TypeError, match="widths"):
            fl.one_step_changes(KEY, "mup", 0.01, widths=widths)


# -- sizes that would allocate gigabytes: refused up front, with an estimate ---------

HUGE_CASES = {
    "hessian_top_k basis": lambda: observables.hessian_top_k(
        _quadratic, jnp.ones(10**7), 1, num_iters=10**4
    ),
    "mutual_knn (n, n) similarities": lambda: observables.mutual_knn_alignment(
        jax.random.normal(KEY, (10**6, 2)), jax.random.normal(KEY, (10**6, 2)), 3
    ),
    "power_law_fit bootstrap": lambda: power_law_fit(
        np.arange(1.0, 10001.0),
        np.arange(1.0, 10001.0) * (1 + 0.01 * np.sin(np.arange(10000))),
        num_bootstrap=10**6,
        key=KEY,
    ),
    "teacher_regression": lambda: data.teacher_regression(KEY, 10**6, 10**5, 1),
    "make_regression": lambda: data.make_regression(
        KEY, "random_labels", 10**6, 10**5, 1
    ),
    "mlp.train width": lambda: mlp.train(
        KEY, mlp.Config(width=10**6, depth=2, steps=1, record_every=1)
    ),
    "training.run observe records": lambda: training.run(
        _quadratic,
        jnp.ones(10**5),
        0.1,
        steps=10**6,
        record_every=1,
        observe=lambda p: p,
    ),
    "ntk_width_scan Gram": lambda: kernels.ntk_width_scan(
        KEY, lr=1.0, num_train=10**6, target="smooth", widths=(8,), num_seeds=1
    ),
    "output_samples networks": lambda: kernels.output_samples(
        KEY, mlp.Config(width=4096), jnp.ones((2, 2)), 10**6
    ),
    "feature_change_after_one_step": lambda: fl.feature_change_after_one_step(
        KEY, fl.Config(width=10**6)
    ),
}


@pytest.mark.parametrize("call", HUGE_CASES.values(), ids=HUGE_CASES.keys())
def test_huge_sizes_refused_with_an_estimate(call):
    # the guard runs before any large allocation: a crash or a long run here means
    # it is missing
    with pytest.raises(ValueError, match=r"about [0-9.e+]+ GiB \(limit"):
        call()


def test_steps_beyond_the_step_counter_are_refused():
    if jax.config.jax_enable_x64:
        pytest.skip("the step counter is int64 under x64")
    with pytest.raises(ValueError, match="steps must be <="):
        training.run(_quadratic, jnp.ones(2), 0.1, steps=2**31, record_every=2**30)


def test_signal_propagation_depth_is_bounded():
    with pytest.raises(ValueError, match="depth must be >= 1 and <= 10000"):
        kernels.signal_propagation_theory([0.5], kernels.Config(), 10**9)


# -- functions the user passes in --------------------------------------------------

OBSERVE_TAKERS = {
    "training.run": lambda obs: training.run(
        _quadratic, jnp.ones(2), 0.1, steps=2, record_every=1, observe=obs
    ),
    "mlp.train": lambda obs: mlp.train(KEY, TINY, observe=obs),
    "lazy_rich.train": lambda obs: lazy_rich.train(KEY, LAZY, observe=obs),
}


@pytest.mark.parametrize(
    "bad, match",
    [(3, "observe must be a function"), (lambda p: "s", "observe must return")],
    ids=["not callable", "returns a str"],
)
@pytest.mark.parametrize("call", OBSERVE_TAKERS.values(), ids=OBSERVE_TAKERS.keys())
def test_bad_observe_hook(call, bad, match):
    with pytest.raises(TypeError, match=match):
        call(bad)


def test_ragged_observe_pytree_is_recorded_leaf_by_leaf():
    res = training.run(
        _quadratic,
        jnp.ones(3),
        0.5,
        steps=2,
        record_every=1,
        observe=lambda p: {"all": p, "two": p[:2], "n": 1.0},
    )
    assert res.observed["all"].shape == (3, 3)
    assert res.observed["two"].shape == (3, 2)
    assert res.observed["n"].shape == (3,)


@pytest.mark.parametrize(
    "call",
    [
        lambda: training.run(lambda w: w**2, jnp.ones(2), 0.1, steps=1, record_every=1),
        lambda: observables.sharpness(lambda w: w**2, jnp.ones(2)),
    ],
    ids=["run", "sharpness"],
)
def test_non_scalar_loss_is_named(call):
    with pytest.raises(TypeError, match="loss_fn must return a scalar"):
        call()


@pytest.mark.parametrize(
    "params",
    [jnp.array([1, 2]), {"w": "abc"}],
    ids=["int array", "str leaf"],
)
def test_run_needs_floating_params(params):
    with pytest.raises(TypeError, match="params must be floating"):
        training.run(lambda p: 0.0, params, 0.1, steps=1, record_every=1)


# -- other argument checks -------------------------------------------------------------

BAD_ARGS = {
    "circle 2-D angles": (
        ValueError,
        "angles must be a scalar or 1-D",
        lambda: kernels.circle(np.zeros((2, 3))),
    ),
    "digits d_out=True": (
        TypeError,
        "d_out",
        lambda: data.digits_regression(KEY, 10, True),
    ),
    "digits d_out=10.0": (
        TypeError,
        "d_out",
        lambda: data.digits_regression(KEY, 10, 10.0),
    ),
    "ntk scan target list": (
        TypeError,
        "target",
        lambda: kernels.ntk_width_scan(KEY, lr=1.0, num_train=4, target=["smooth"]),
    ),
    "ntk scan num_train str": (
        TypeError,
        "num_train",
        lambda: kernels.ntk_width_scan(KEY, lr=1.0, num_train="4", target="smooth"),
    ),
    "ntk scan num_train None": (
        TypeError,
        "num_train",
        lambda: kernels.ntk_width_scan(KEY, lr=1.0, num_train=None, target="smooth"),
    ),
    "ntk scan widths int": (
        TypeError,
        "widths",
        lambda: kernels.ntk_width_scan(
            KEY, lr=1.0, num_train=4, target="smooth", widths=64
        ),
    ),
    "output_samples kernels.Config": (
        TypeError,
        "mlp.Config",
        lambda: kernels.output_samples(KEY, kernels.Config(), jnp.ones((2, 2)), 2),
    ),
    "preactivations params of another width": (
        ValueError,
        "params do not match cfg",
        lambda: kernels.preactivations(
            mlp.init(KEY, mlp.Config(width=8)), jnp.ones((2, 2)), mlp.Config(width=16)
        ),
    ),
    "training_data cfg dict": (
        TypeError,
        "cfg",
        lambda: mlp.training_data(KEY, {"width": 8}),
    ),
    "rms axis out of range": (
        ValueError,
        "axis",
        lambda: observables.rms_coordinates(jnp.ones((2, 2)), axis=5),
    ),
    "cka constant representation": (
        ValueError,
        "constant",
        lambda: observables.linear_cka(jnp.ones((12, 3)), X),
    ),
    "relative_change zero reference": (
        ValueError,
        "params0",
        lambda: observables.relative_change(jnp.ones(3), jnp.zeros(3)),
    ),
    "knn k = n": (
        ValueError,
        "k must be",
        lambda: observables.mutual_knn_alignment(X, X, X.shape[0]),
    ),
    "power_law_fit bool x": (
        TypeError,
        "x",
        lambda: power_law_fit(np.array([True, True, True]), np.ones(3)),
    ),
}


@pytest.mark.parametrize("error, match, call", BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_argument(error, match, call):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("value", [np.bool_(True), jnp.array(False)])
def test_center_output_accepts_numpy_and_jax_bools(value):
    assert fl.Config(center_output=value).center_output is value


@pytest.mark.parametrize("value", [1, 0.0, "yes", None])
def test_center_output_rejects_non_bools(value):
    with pytest.raises(TypeError, match="center_output"):
        fl.Config(center_output=value)


@pytest.mark.parametrize("y", [-N, 0 * N, N * np.inf], ids=["negative", "zero", "inf"])
def test_power_law_fit_rejects_non_positive_data(y):
    with pytest.raises(ValueError, match="y must be finite and > 0"):
        power_law_fit(N, y)


# -- inputs that used to give a silently wrong number -------------------------------


@pytest.mark.parametrize("scale", [1e-30, 1e-12, 1.0, 1e12, 1e30])
def test_cka_is_one_for_identical_inputs_at_any_scale(scale):
    # float32 squares of 1e-30 underflowed to 0 (CKA = NaN) and of 1e30 overflowed;
    # now only rounding remains (a few float32 ulps)
    assert abs(float(observables.linear_cka(scale * X, X)) - 1.0) < 1e-5


def test_cka_ignores_the_mean_of_the_features():
    # linear CKA centres the features: a shift by a constant vector changes nothing
    # (up to float32 rounding of the large offset)
    shifted = X + 1e3 * jnp.arange(1.0, 4.0)
    assert abs(float(observables.linear_cka(shifted, X)) - 1.0) < 1e-4


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_rms_coordinates_does_not_underflow_or_overflow(scale):
    x = jnp.array([3.0, -4.0], jnp.float32) * scale
    rms = float(observables.rms_coordinates(x))
    # exact answer sqrt(12.5) * scale, to float32 rounding
    assert rms == pytest.approx(np.sqrt(12.5) * scale, rel=1e-6)


def test_relative_change_of_int_arrays_does_not_overflow():
    # int32 squares of 1e5 overflowed (gave 37548 instead of 99999)
    change = observables.relative_change(
        jnp.array([100_000], jnp.int32), jnp.array([1], jnp.int32)
    )
    assert float(change) == pytest.approx(99_999.0, rel=1e-6)


def test_sharpness_is_the_algebraic_maximum():
    # eigenvalues -5, 1, 0.5: the largest is 1, not the largest in magnitude (-5)
    a = jnp.diag(jnp.array([-5.0, 1.0, 0.5]))
    top = observables.sharpness(lambda w: 0.5 * w @ a @ w, jnp.ones(3))
    assert float(top) == pytest.approx(1.0, abs=1e-5)


def test_minibatch_sgd_with_the_whole_data_is_gradient_descent():
    # with batch_size = P every batch is a permutation of the data: the same mean
    # loss, so the same steps up to the order of summation (float rounding)
    x = jax.random.normal(KEY, (16, 3))
    y = x @ jnp.array([[1.0], [-2.0], [0.5]])
    kwargs = dict(steps=20, record_every=5, data=(x, y))
    gd = training.run(_regression_loss, jnp.zeros((3, 1)), 0.1, **kwargs)
    sgd = training.run(
        _regression_loss,
        jnp.zeros((3, 1)),
        0.1,
        optimizer=training.Optimizer(batch_size=16),
        key=KEY,
        **kwargs,
    )
    np.testing.assert_allclose(sgd.loss, gd.loss, rtol=1e-5)
    np.testing.assert_allclose(sgd.params, gd.params, rtol=1e-5, atol=1e-7)
