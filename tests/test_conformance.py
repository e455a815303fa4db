"""One shape for every phenomenon module, checked (the model: Optax's common tests).

Every module in ``MODULES`` exposes ``Config`` (with ``lr``, ``steps``,
``record_every``), ``init(key, cfg)``, ``train(key, cfg, *, observe=None)`` returning
a ``Trajectory`` with ``step``, ``t`` (= lr * step), ``loss``, ``diverged_step``, a
``diverged`` property and ``observed``, and a theory function that accepts the
trajectory's ``t``. A new module gets every test below by being added to ``MODULES``
with a :class:`Spec` in ``SPECS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_sims import (
    deep_linear,
    edge_of_stability,
    feature_ansatz,
    lazy_rich,
    mlp,
    neural_collapse,
    scaling,
    sweep,
)
from lm_sims.diagnostics import count_compilations


class Spec(NamedTuple):
    """How to run one module small: a config, a diverging change, a theory call."""

    cfg: Any  # a small, fast config (records must differ from every other dim)
    diverge: dict  # changes that make the run blow up
    predict: Callable  # (traj, key, cfg) -> theory evaluated at traj.t


def _predict_deep_linear(traj, key, cfg):
    return deep_linear.predict(traj.singular_values, traj.u0, traj.t, cfg.n_layers)


def _predict_lazy_rich(traj, key, cfg):
    pred = lazy_rich.predict_lazy(key, cfg)  # evaluated at train's own records
    np.testing.assert_allclose(pred.t, traj.t, rtol=1e-6)
    return pred.loss


def _predict_mlp(traj, key, cfg):
    task = mlp.training_data(key, cfg)
    pred = mlp.predict_ntk(cfg, task.x, task.y, traj.t, f0_train=traj.f_train[0])
    return pred.f_train


def _predict_edge_of_stability(traj, key, cfg):
    # the theory of this module is the stability threshold 2/lr, constant in t
    return np.full(np.shape(traj.t), edge_of_stability.stability_threshold(cfg.lr))


def _predict_neural_collapse(traj, key, cfg):
    # the simplex-ETF limits, constant in t: NC1 -> 0 here
    return np.asarray(neural_collapse.predict(cfg, traj.t).nc1)


def _predict_feature_ansatz(traj, key, cfg):
    return np.asarray(feature_ansatz.predict(cfg, traj.t))


SPECS = {
    "deep_linear": Spec(
        deep_linear.Config(steps=60, record_every=10),
        {"lr": 1.0, "init_scale": 0.5},
        _predict_deep_linear,
    ),
    "lazy_rich": Spec(
        lazy_rich.Config(width=20, num_train=16, steps=60, record_every=10),
        {"lr": 50.0},
        _predict_lazy_rich,
    ),
    "mlp": Spec(
        mlp.Config(width=16, d_in=3, num_train=12, steps=60, record_every=10),
        {"parameterization": "sp", "lr": 1e3},
        _predict_mlp,
    ),
    "edge_of_stability": Spec(
        edge_of_stability.Config(width=8, num_train=12, steps=60, record_every=10),
        {"lr": 1e3},
        _predict_edge_of_stability,
    ),
    "neural_collapse": Spec(
        neural_collapse.ETF_CONFIG.replace(
            width=16, depth=1, steps=60, record_every=10
        ),
        {"lr": 1e4, "momentum": 0.0},
        _predict_neural_collapse,
    ),
    "feature_ansatz": Spec(
        feature_ansatz.Config(num_train=100, width=16, steps=60, record_every=10),
        {"optimizer": "gd", "lr": 1e4},
        _predict_feature_ansatz,
    ),
    "scaling": Spec(
        scaling.Config(num_modes=50, n=20, steps=60, record_every=10),
        {"lr": 50.0},
        lambda traj, key, cfg: scaling.predict_time(cfg, traj.t),
    ),
}
MODULES = [
    deep_linear,
    lazy_rich,
    mlp,
    edge_of_stability,
    neural_collapse,
    feature_ansatz,
    scaling,
]
KEY = jax.random.key(0)


def _name(module):
    return module.__name__.rsplit(".", 1)[-1]


@pytest.fixture(params=MODULES, ids=_name)
def module(request):
    return request.param


@pytest.fixture
def spec(module):
    return SPECS[_name(module)]


def _records(cfg):
    return cfg.steps // cfg.record_every + 1


def test_every_module_has_a_spec():
    assert sorted(_name(m) for m in MODULES) == sorted(SPECS)


def test_trajectory_convention(module, spec):
    cfg = spec.cfg
    traj = module.train(KEY, cfg)
    assert isinstance(traj, module.Trajectory)
    for field in ("step", "t", "loss", "diverged_step", "observed"):
        assert field in module.Trajectory._fields, field
    n = _records(cfg)
    assert traj.step.shape == traj.t.shape == traj.loss.shape == (n,)
    assert jnp.issubdtype(traj.step.dtype, jnp.integer)
    np.testing.assert_array_equal(traj.step, cfg.record_every * np.arange(n))
    # t is the book's time lr * step (float32 rounding of the product)
    np.testing.assert_allclose(
        traj.t, float(cfg.lr) * np.arange(n) * cfg.record_every, rtol=1e-6
    )
    assert int(traj.diverged_step) == -1 and traj.diverged is False
    assert np.all(np.isfinite(traj.loss)) and traj.observed is None


def test_sweep_over_a_dynamic_field_compiles_once(module, spec):
    traces = []

    def run(key, cfg):
        traces.append(1)  # runs only while JAX traces the function
        return module.train(key, cfg)

    lr = float(spec.cfg.lr)
    first = sweep(run, KEY, spec.cfg, num_seeds=2, lr=[lr, 0.5 * lr])
    with count_compilations() as compiles:
        second = sweep(run, KEY, spec.cfg, num_seeds=2, lr=[0.8 * lr, 0.3 * lr])
    assert len(traces) == 1 and compiles.count == 0
    n = _records(spec.cfg)
    assert first.loss.shape == second.loss.shape == (2, 2, n)
    assert first.step.shape == (2, 2, n)
    assert not np.allclose(first.loss[:, :, -1], second.loss[:, :, -1])


def test_swept_runs_flag_divergence_per_grid_point_and_seed(module, spec):
    # one stable and one diverging lr: `diverged` is then an array over grid x seeds
    lr = float(spec.cfg.lr)
    big = float(spec.cfg.replace(**spec.diverge).lr)
    out = sweep(module.train, KEY, spec.cfg, num_seeds=2, lr=[lr, big])
    flags = out.diverged
    assert isinstance(flags, np.ndarray) and flags.shape == (2, 2)
    assert not flags[0].any() and flags[1].all()


def test_divergence_is_flagged_and_later_records_are_nan(module, spec):
    cfg = spec.cfg.replace(**spec.diverge)
    traj = module.train(KEY, cfg)
    first = int(traj.diverged_step)
    assert 0 <= first < cfg.steps and traj.diverged is True
    after = np.asarray(traj.step) > first
    assert after.any() and np.isfinite(traj.loss[0])
    n = _records(cfg)
    for name in traj._fields:
        value = getattr(traj, name)
        if name in ("step", "t") or not isinstance(value, jax.Array):
            continue
        if value.ndim == 0 or value.shape[0] != n:
            continue  # not a per-record field
        if jnp.issubdtype(value.dtype, jnp.floating):
            assert np.all(np.isnan(np.asarray(value)[after])), name
            assert np.all(np.isfinite(np.asarray(value)[0])), name


def test_theory_accepts_the_times_train_returns(module, spec):
    traj = module.train(KEY, spec.cfg)
    theory = np.asarray(spec.predict(traj, KEY, spec.cfg))
    assert theory.shape[0] == _records(spec.cfg)
    assert np.all(np.isfinite(theory))


def test_init_recovers_the_first_recorded_state(module, spec):
    traj = module.train(KEY, spec.cfg, observe=lambda params: params)
    first = jax.tree_util.tree_map(lambda r: r[0], traj.observed)
    last = jax.tree_util.tree_map(lambda r: r[-1], traj.observed)
    init = module.init(KEY, spec.cfg)
    assert jax.tree_util.tree_structure(first) == jax.tree_util.tree_structure(init)
    for a, b in zip(
        jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(init), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # jit vs eager
    assert not all(
        np.allclose(a, b)
        for a, b in zip(
            jax.tree_util.tree_leaves(last),
            jax.tree_util.tree_leaves(init),
            strict=True,
        )
    )


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"lr": -1.0}, r"lr must be > 0, got lr=-1"),
        ({"lr": float("nan")}, r"lr must be finite, got lr=nan"),
        ({"steps": 0}, r"steps must be >= 1, got steps=0"),
        ({"steps": 60, "record_every": 7}, r"record_every must divide steps"),
    ],
)
def test_a_bad_config_names_the_field_the_value_and_the_range(spec, changes, match):
    with pytest.raises(ValueError, match=match):
        spec.cfg.replace(**changes)


def test_bad_arguments_to_train_raise(module, spec):
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        module.train(0, spec.cfg)
    with pytest.raises(TypeError, match="cfg must be a"):
        module.train(KEY, {"lr": 0.1})
