"""Valid baseline arguments for every public function of lm_sims, and the invalid
values the property suite (tests/test_properties.py) substitutes for them.

``REGISTRY`` maps each public function's qualified name (``module.function``) to an
:class:`Entry`: a factory of VALID keyword arguments (small sizes: widths 4-8, two
steps, a few points), read from the function's signature, docstring and doctest,
plus per-parameter overrides of the mutation kind inferred from the baseline value
and the annotation. ``public_functions()`` enumerates the functions to cover (each
module's public names whose ``__module__`` starts with ``lm_sims``);
``public_configs()`` the Config dataclasses whose constructors are checked field by
field. ``mutations(name)`` lists every (parameter, mutation) pair for a function.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import lm_sims
import lm_sims.fitting  # noqa: F401 - the module behind lm_sims.power_law_fit
from lm_sims import central_flow as cf
from lm_sims import (
    data,
    deep_linear,
    eigenlearning,
    kernels,
    lazy_rich,
    learning_order,
    mlp,
    natural_data,
    neural_collapse,
    representations,
    scaling,
    sgd_noise,
    training,
    transfer,
)
from lm_sims import edge_of_stability as eos
from lm_sims import feature_ansatz as fa
from lm_sims import feature_learning as fl

# --- enumeration ----------------------------------------------------------------------


def public_modules():
    """The modules named in ``lm_sims.__all__`` (plus ``fitting``, whose two public
    names ``lm_sims`` re-exports, and ``sweep``'s module)."""
    mods = [getattr(lm_sims, n) for n in lm_sims.__all__]
    mods = [m for m in mods if inspect.ismodule(m)]
    return [
        *mods,
        sys.modules["lm_sims.fitting"],
        sys.modules[lm_sims.sweep.__module__],
    ]


def _public_objects(pred):
    out = {}
    for m in public_modules():
        names = getattr(m, "__all__", None) or [n for n in dir(m) if n[0] != "_"]
        for n in names:
            obj = getattr(m, n, None)
            if n.startswith("_") or not pred(obj):
                continue
            if not getattr(obj, "__module__", "").startswith("lm_sims"):
                continue
            short = m.__name__.removeprefix("lm_sims.").lstrip("_")
            out[f"{short}.{n}"] = obj
    return out


def public_functions() -> dict[str, Callable]:
    """Every public function of lm_sims, by qualified name (module.function)."""
    return _public_objects(inspect.isfunction)


def public_classes() -> dict[str, type]:
    return _public_objects(inspect.isclass)


def public_configs() -> dict[str, type]:
    """The Config dataclasses (validated at construction), by qualified name."""
    return {
        n: c
        for n, c in public_classes().items()
        if dataclasses.is_dataclass(c) and hasattr(c, "_validate")
    }


# --- small valid configs and objects --------------------------------------------------

KEY = jax.random.key(0)
KEY2 = jax.random.key(1)

CF = cf.Config(
    width=4, num_train=8, steps=2, max_warmup_steps=4, settle_steps=2, lanczos_iters=3
)
DL = deep_linear.Config(width=4, steps=2, record_every=1)
EOS = eos.Config(d=3, width=4, num_train=8, steps=2, record_every=1, lanczos_iters=3)
EL = eigenlearning.Config(n=8, num_modes=16)
FA = fa.Config(d_in=4, width=4, num_train=8, steps=2, record_every=1)
FL = fl.Config(width=8, input_dim=3, batch_size=4)
KC = kernels.Config(depth=1)
LO = learning_order.Config(
    num_train=8, num_test=8, width=4, steps=2, record_every=1, num_times=3
)
LR = lazy_rich.Config(width=4, num_train=8, steps=2, record_every=1)
MLP = mlp.Config(width=4, steps=2, record_every=1, num_train=8)
NC = neural_collapse.Config(
    num_classes=3, d_in=4, num_train=12, width=4, depth=1, steps=2, record_every=1
)
SC = scaling.Config(num_modes=16, n=8, steps=2, record_every=1)
QC = scaling.QuantaConfig(num_quanta=20)
SG = sgd_noise.Config(dim=4, steps=2, record_every=1, num_runs=2)
REP = representations.network_config(4, depth=1, steps=2)

X = np.asarray(jax.random.normal(KEY2, (6, 3)))
X2 = np.asarray(jax.random.normal(jax.random.key(2), (6, 2)))


def _quad(w):
    return 0.5 * jnp.sum(w**2)


def _frontier():
    """A small :class:`scaling.Frontier` (an optimum inside the widths at every
    budget), built directly: ``compute_frontier`` only fits it."""
    c = np.array([10.0, 100.0, 1000.0, 10000.0])
    nb = 2.0 * c**0.5
    return scaling.Frontier(
        compute=c,
        widths=np.array([1.0, 1000.0]),
        test_mse=np.ones((4, 2)),
        theory=np.ones((4, 2)),
        best_width=nb,
        best_mse=c**-0.3,
        theory_best_width=nb,
        theory_best_mse=c**-0.3,
        diverged=0,
    )


def _sweep_path():
    path = Path(tempfile.mkdtemp()) / "sweep.npz"
    transfer.save_sweep(path, O("sweep"))
    return str(path)


#: Objects that need a (small) computation, each made once, when first needed.
_MAKERS = {
    "dl_task": lambda: data.make_task(KEY, DL.dataset),
    "dl_params": lambda: deep_linear.init(KEY, DL, O("dl_task")),
    "eos_params": lambda: eos.init(KEY, EOS),
    "eos_batch": lambda: eos.training_data(KEY, EOS),
    "eos_traj": lambda: eos.train(KEY, EOS),
    "fa_params": lambda: fa.init(KEY, FA),
    "fa_data": lambda: fa.training_data(KEY, FA),
    "fl_params": lambda: fl.init(KEY, FL),
    "fl_batch": lambda: fl.sample_batch(KEY, FL),
    "lr_params": lambda: lazy_rich.init(KEY, LR),
    "lr_teacher": lambda: lazy_rich.teacher(KEY, LR),
    "lr_batch": lambda: lazy_rich.dataset(KEY, LR, O("lr_teacher")),
    "mlp_params": lambda: mlp.init(KEY, MLP),
    "mlp_task": lambda: mlp.training_data(KEY, MLP),
    "nc_params": lambda: neural_collapse.init(KEY, NC),
    "nc_data": lambda: neural_collapse.training_data(KEY, NC),
    "sg_traj": lambda: sgd_noise.train(KEY, SG),
    "sweep": transfer.reference_sweep,
    "frontier": _frontier,
    "rep_split": lambda: representations.digits_split(KEY),
    "digits_target": lambda: natural_data.digits_target(0),
    "sweep_path": _sweep_path,
}


@functools.cache
def O(name):  # noqa: E743, N802 - short: used in every factory below
    """The computed object ``name`` (made once)."""
    return _MAKERS[name]()


# --- registry -------------------------------------------------------------------------


class Entry(NamedTuple):
    """factory: () -> dict of valid keyword arguments; kinds: parameter -> mutation
    kind overriding the inferred one; skip: parameter -> why it is not mutated;
    valid: parameter -> mutation names that are valid values for it."""

    factory: Callable[[], dict[str, Any]]
    kinds: dict[str, str]
    skip: dict[str, str]
    valid: dict[str, tuple[str, ...]]


REGISTRY: dict[str, Entry] = {}


def R(name, factory, kinds=None, skip=None, valid=None):
    REGISTRY[name] = Entry(factory, kinds or {}, skip or {}, valid or {})


# compilation_cache: the baseline folder is the session's own (enabling it again
# changes nothing; a temporary one would move this worker's cache)
def _session_cache():
    return jax.config.jax_compilation_cache_dir or "off"


for _fn in ("cache_dir", "enable", "environment"):
    R(
        f"compilation_cache.{_fn}",
        lambda: dict(path=_session_cache()),
        kinds={"path": "path"},
    )
R(
    "compilation_cache.prune",
    lambda: dict(path=_session_cache()),
    kinds={"path": "path"},
    # generated valid bounds (0, 1, ...) would empty the session's cache; its
    # checks are tested in test_compilation_cache.py
    skip={"max_bytes": "would prune the session's cache; see test_compilation_cache"},
)


# central_flow
R(
    "central_flow.central_flow_step",
    lambda: dict(
        loss_fn=cf.toy_loss,
        params=jnp.array([2.0, 0.5]),
        lr=0.1,
        dt=0.5,
        eigenvector=None,
        lanczos_iters=3,
    ),
)
R("central_flow.experiment", lambda: dict(key=KEY, cfg=CF))
R(
    "central_flow.gaussian_smooth",
    lambda: dict(x=[0.0, 2.0, 0.0, 2.0], width=1.0),
    valid={"x": ("empty",)},
)
R(
    "central_flow.grad_sharpness",
    lambda: dict(
        loss_fn=lambda w: 0.5 * (w[0] * w[1]) ** 2,
        params=jnp.array([1.0, 3.0]),
        eigenvector=jnp.array([1.0, 0.0]),
    ),
)
R(
    "central_flow.median_relative_error",
    lambda: dict(prediction=[1.1, 2.0, 2.7], target=[1.0, 2.0, 3.0]),
)
R("central_flow.predicted_loss", lambda: dict(loss=0.5, sigma2=0.01, lr=0.1))
R(
    "central_flow.run_flows",
    lambda: dict(
        loss_fn=cf.toy_loss,
        params=jnp.array([2.5, 0.1]),
        lr=0.4,
        steps=2,
        substeps=2,
        lanczos_iters=3,
        num_eigs=1,
        record_params=False,
    ),
)
R(
    "central_flow.sigma_squared",
    lambda: dict(
        grad_loss=[1.0, 0.0], grad_sharp=[-1.0, 1.0], sharpness=4.0, lr=0.5, dt=None
    ),
    kinds={"sharpness": "real"},
)
R("central_flow.toy_conserved", lambda: dict(a=2.0, b=1.0))
R("central_flow.toy_flows", lambda: dict(a0=2.5, b0=0.1, lr=0.4, steps=2, substeps=2))
R("central_flow.toy_loss", lambda: dict(params=[2.0, 1.0]))
R("central_flow.toy_sharpness", lambda: dict(a=2.0, b=0.5))
R("central_flow.predict_toy_gradient_flow_sharpness", lambda: dict(a0=2.0, b0=0.5))

# data
R("data.correlation_svd", lambda: dict(task=O("dl_task")))
R("data.digits_regression", lambda: dict(key=KEY, num_train=8, d_out=1))
R("data.digits_task", lambda: dict(num_samples=100))
R("data.hierarchical_task", lambda: dict(levels=2))
R(
    "data.make_regression",
    lambda: dict(key=KEY, dataset="teacher", num_train=8, d_in=3, d_out=1),
)
R("data.make_task", lambda: dict(key=KEY, dataset="synthetic"))
R("data.random_labels", lambda: dict(key=KEY, num_train=8, d_in=3, d_out=1))
R(
    "data.synthetic_task",
    lambda: dict(key=KEY, singular_values=(3.0, 1.0), d_in=4, d_out=4, num_samples=8),
)
R("data.teacher_regression", lambda: dict(key=KEY, num_train=8, d_in=3, d_out=1))

# deep_linear
R(
    "deep_linear.effective_u0",
    lambda: dict(params=O("dl_params"), task=O("dl_task"), num_modes=2),
)
R(
    "deep_linear.half_time",
    lambda: dict(
        t=jnp.array([0.0, 1.0, 2.0]),
        u=jnp.array([[0.1], [0.5], [0.9]]),
        s=jnp.array([1.2]),
    ),
    kinds={"s": "array"},
    valid={"u": ("nan inside",)},  # documented: NaN records after a divergence
)
R("deep_linear.init", lambda: dict(key=KEY, cfg=DL, task=O("dl_task")))
R("deep_linear.loss", lambda: dict(params=O("dl_params"), task=O("dl_task")))
R(
    "deep_linear.predict",
    lambda: dict(
        s=jnp.array([3.0, 1.0]),
        u0=jnp.array([0.01, 0.01]),
        t=jnp.array([0.0, 1.0]),
        n_layers=2,
        substeps=4,
    ),
    valid={"u0": ("one axis fewer",)},  # documented: a scalar u0 for every mode
)
R(
    "deep_linear.predict_half_time",
    lambda: dict(s=jnp.array([3.0, 1.0]), u0=jnp.array([0.01, 0.01]), n_layers=2),
    kinds={"s": "array", "u0": "array"},
)
R("deep_linear.train", lambda: dict(key=KEY, cfg=DL, observe=None))

# edge_of_stability
R(
    "edge_of_stability.apply",
    lambda: dict(params=O("eos_params"), x=jnp.ones((3, 3)), activation="tanh"),
    valid={"x": ("empty",)},
)
R(
    "edge_of_stability.edge_summary",
    lambda: dict(traj=O("eos_traj"), lr=None, late_start=1),
)
R("edge_of_stability.init", lambda: dict(key=KEY, cfg=EOS))
R("edge_of_stability.initial_sharpness", lambda: dict(key=KEY, cfg=EOS))
R(
    "edge_of_stability.loss",
    lambda: dict(params=O("eos_params"), batch=O("eos_batch"), activation="tanh"),
)
R("edge_of_stability.lr_for_ratio", lambda: dict(key=KEY, cfg=EOS, k=2.0))
R(
    "edge_of_stability.predict_quadratic",
    lambda: dict(hessian=np.diag([2.0, 1.0]), x0=[1.0, 1.0], lr=0.5, steps=2),
)
R("edge_of_stability.quadratic_diverges", lambda: dict(lr=0.19, sharpness=10.0))
R(
    "edge_of_stability.quadratic_gd",
    lambda: dict(hessian=np.diag([2.0, 1.0]), x0=[1.0, 1.0], lr=0.5, steps=2),
)
R(
    "edge_of_stability.sharpness",
    lambda: dict(
        params=O("eos_params"), batch=O("eos_batch"), activation="tanh", num_iters=3
    ),
)
R("edge_of_stability.stability_threshold", lambda: dict(lr=0.5))
R("edge_of_stability.train", lambda: dict(key=KEY, cfg=EOS, observe=None))
R("edge_of_stability.training_data", lambda: dict(key=KEY, cfg=EOS))

# eigenlearning
_LAM = np.arange(1, 9) ** -2.0
_V = np.arange(1, 9) ** -1.0
R(
    "eigenlearning.effective_regularization",
    lambda: dict(eigenvalues=_LAM, n=4.0, ridge=0.0),
)
R("eigenlearning.learnabilities", lambda: dict(eigenvalues=_LAM, kappa=0.1))
R(
    "eigenlearning.measured_learnabilities",
    lambda: dict(coeffs=np.ones((2, 16)) * 0.1, cfg=EL),
)
R("eigenlearning.predict", lambda: dict(cfg=EL))
R(
    "eigenlearning.predict_test_mse",
    lambda: dict(eigenvalues=_LAM, target_coeffs=_V, n=4.0, ridge=0.0, noise=0.0),
)
R(
    "eigenlearning.predict_train_mse",
    lambda: dict(eigenvalues=_LAM, target_coeffs=_V, n=4.0, ridge=0.0, noise=0.0),
)
R(
    "eigenlearning.simulate_learning_curve",
    lambda: dict(key=KEY, cfg=EL, ns=[4, 8], num_seeds=2),
)
R("eigenlearning.spectrum", lambda: dict(cfg=EL))
R("eigenlearning.train", lambda: dict(key=KEY, cfg=EL))
R("eigenlearning.trials", lambda: dict(key=KEY, cfg=EL, num_seeds=2))

# feature_ansatz
_G3 = np.array([[2.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 2.0]])
R(
    "feature_ansatz.agop",
    lambda: dict(fn=lambda v: v[0] * v[1], x=jnp.array([[1.0, 2.0], [3.0, -1.0]])),
)
R(
    "feature_ansatz.apply",
    lambda: dict(params=O("fa_params"), x=jnp.ones((5, 4))),
    valid={"x": ("one axis fewer",)},
)  # one input (d,) is documented
R("feature_ansatz.init", lambda: dict(key=KEY, cfg=FA))
R(
    "feature_ansatz.loss",
    lambda: dict(
        params=O("fa_params"), x=O("fa_data")[0], y=O("fa_data")[1], weight_decay=0.0
    ),
)
R("feature_ansatz.matrix_power", lambda: dict(a=np.diag([4.0, 9.0]), power=0.5))
R(
    "feature_ansatz.nfa_correlation",
    lambda: dict(gram=_G3, agop_matrix=_G3 @ _G3, power=0.5),
)
R("feature_ansatz.off_diagonal_pearson", lambda: dict(a=_G3, b=2 * _G3 + 1))
R("feature_ansatz.predict", lambda: dict(cfg=FA, t=[0.0, 1.0]))
R(
    "feature_ansatz.target",
    lambda: dict(x=np.array([[2.0, 3.0, 0.0, 1.0]]), directions=np.eye(3, 4)),
    valid={"x": ("empty",)},
)
R("feature_ansatz.target_agop", lambda: dict(directions=np.eye(3, 4)))
R("feature_ansatz.train", lambda: dict(key=KEY, cfg=FA, observe=None))
R("feature_ansatz.training_data", lambda: dict(key=KEY, cfg=FA))

# feature_learning
R("feature_learning.effective_layer_scales", lambda: dict(cfg=FL))
R("feature_learning.feature_change_after_one_step", lambda: dict(key=KEY, cfg=FL))
R(
    "feature_learning.features",
    lambda: dict(params=O("fl_params"), x=jnp.ones((4, 3)), cfg=FL),
)
R("feature_learning.init", lambda: dict(key=KEY, cfg=FL))
R(
    "feature_learning.loss",
    lambda: dict(params=O("fl_params"), x=O("fl_batch")[0], y=O("fl_batch")[1], cfg=FL),
)
R("feature_learning.network_config", lambda: dict(cfg=FL))
R(
    "feature_learning.one_step_changes",
    lambda: dict(
        key=KEY,
        parameterization="ntk",
        lr=0.01,
        sp_lr="fixed",
        widths=(8, 16),
        num_seeds=1,
        optimizer="gd",
    ),
)
R(
    "feature_learning.predicted_exponents",
    lambda: dict(parameterization="sp", sp_lr="fixed", optimizer="gd"),
)
R("feature_learning.sample_batch", lambda: dict(key=KEY, cfg=FL))

# fitting
R(
    "fitting.power_law_fit",
    lambda: dict(
        x=np.array([16.0, 32.0, 64.0, 128.0]),
        y=np.array([[1.0, 0.5, 0.25, 0.125], [1.1, 0.6, 0.26, 0.12]]),
        sigma=None,
        num_bootstrap=100,
        key=KEY,
        confidence=0.9,
    ),
    kinds={"num_bootstrap": "int0"},
    valid={"num_bootstrap": ("zero",)},
)

# hermite
R(
    "hermite.fit_coefficients",
    lambda: dict(
        z=np.asarray(jax.random.normal(KEY, (20, 2)), float),
        y=np.asarray(jax.random.normal(KEY2, (20,)), float),
        indices=[[0, 0], [1, 1]],
    ),
    kinds={"indices": "intarray"},
)
R(
    "hermite.hermite_features",
    lambda: dict(z=np.array([[1.0, 2.0]]), indices=[[0, 0], [1, 0]]),
    kinds={"indices": "intarray"},
)
R(
    "hermite.multi_indices",
    lambda: dict(num_dims=2, max_degree=2),
    kinds={"max_degree": "int0"},
)
R(
    "hermite.predict_eigenvalues",
    lambda: dict(gammas=[1.0, 0.5], level_coeffs=[1.0, 0.5, 0.25], num_modes=4),
    kinds={"gammas": "array", "level_coeffs": "array"},
)
R(
    "hermite.rbf_kernel",
    lambda: dict(x=np.zeros((2, 2)), x2=np.ones((3, 2)), bandwidth=1.0),
)
R(
    "hermite.rbf_level_coefficients",
    lambda: dict(q=1.0, bandwidth=2.0, max_level=2),
    kinds={"q": "nonneg", "max_level": "int0"},
)

# kernels
R("kernels.chi", lambda: dict(cfg=KC, q=None))
R(
    "kernels.circle",
    lambda: dict(angles=np.array([0.0, 1.0]), d=2),
    valid={"angles": ("one axis fewer",)},
)  # a scalar angle is one point (documented)
R("kernels.correlation_map", lambda: dict(c=np.array([0.1, 0.5]), cfg=KC, q=None))
R(
    "kernels.empirical_ntk",
    lambda: dict(
        apply_fn=lambda p, x: jnp.tanh(x @ p["w"]) @ p["v"],
        params={"w": jnp.ones((3, 4)), "v": jnp.ones(4)},
        x1=jnp.ones((2, 3)),
        x2=None,
        method="auto",
    ),
)
R(
    "kernels.length_fixed_point",
    lambda: dict(cfg=kernels.Config(activation="erf", sigma_w2=1.5, sigma_b2=0.1)),
)
R("kernels.length_map", lambda: dict(q=np.array([1.0, 2.0]), cfg=KC))
for _k in ("nngp", "nngp_and_ntk", "ntk"):
    R(f"kernels.{_k}", lambda: dict(x1=X, x2=X[:2], cfg=KC))
R("kernels.nngp_diag", lambda: dict(x=X, cfg=KC))
R("kernels.ntk_config", lambda: dict(width=8, lr=1.0))
for _k in ("ntk_gap_parts", "ntk_width_scan"):
    R(
        f"kernels.{_k}",
        lambda: dict(
            key=KEY, lr=1.0, num_train=4, target="smooth", widths=(8,), num_seeds=1
        ),
    )
R("kernels.ntk_relu_sphere", lambda: dict(u=np.array([0.5, 1.0])))
R(
    "kernels.output_samples",
    lambda: dict(key=KEY, cfg=MLP, x=kernels.circle(np.array([0.0, 1.0])), num_inits=2),
)
R(
    "kernels.predict_linearized",
    lambda: dict(
        ntk_train=np.array([[1.0, 0.5], [0.5, 1.0]]),
        y_train=np.array([1.0, -1.0]),
        t=[0.0, 10.0],
    ),
)
R(
    "kernels.preactivations",
    lambda: dict(params=O("mlp_params"), x=kernels.circle(np.zeros(3)), cfg=MLP),
)
R(
    "kernels.signal_propagation_theory",
    lambda: dict(
        c0=[0.2, 0.9],
        cfg=kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3),
        depth=2,
    ),
)
R(
    "kernels.stable_correlation",
    lambda: dict(cfg=kernels.Config(activation="erf", sigma_w2=4.0, sigma_b2=0.3)),
)

# lazy_rich
R(
    "lazy_rich.alpha_sweep",
    lambda: dict(key=KEY, cfg=LR, alphas=[10.0, 100.0]),
    kinds={"alphas": "floatseq"},
)
R(
    "lazy_rich.dataset",
    lambda: dict(key=KEY, cfg=LR, teacher_directions=O("lr_teacher")),
)
R("lazy_rich.effective_lr", lambda: dict(cfg=LR))
R(
    "lazy_rich.forward",
    lambda: dict(params=O("lr_params"), x=jnp.ones((3, 2)), alpha=1.0),
)
R("lazy_rich.init", lambda: dict(key=KEY, cfg=LR))
R("lazy_rich.loss", lambda: dict(params=O("lr_params"), batch=O("lr_batch"), alpha=1.0))
R("lazy_rich.neuron_positions", lambda: dict(params=O("lr_params")))
R("lazy_rich.predict_lazy", lambda: dict(key=KEY, cfg=LR))
R(
    "lazy_rich.relative_change",
    lambda: dict(params=O("lr_params"), params0=O("lr_params")),
)
R("lazy_rich.run_summary", lambda: dict(key=KEY, cfg=LR))
R(
    "lazy_rich.target",
    lambda: dict(teacher_directions=O("lr_teacher"), x=jnp.ones((3, 2))),
)
R("lazy_rich.teacher", lambda: dict(key=KEY, cfg=LR))
R(
    "lazy_rich.teacher_alignment_fraction",
    lambda: dict(params=O("lr_params"), teacher_directions=O("lr_teacher"), radius=0.2),
)
R("lazy_rich.train", lambda: dict(key=KEY, cfg=LR, observe=None))
R(
    "lazy_rich.uniform_alignment_baseline",
    lambda: dict(teacher_directions=O("lr_teacher"), radius=0.2),
)

# learning_order
R(
    "learning_order.clock",
    lambda: dict(times=[2.0, 4.0, 6.0], reference=[1.0, 2.0, 3.0]),
    kinds={"times": "array", "reference": "array"},
    valid={"times": ("inf inside",)},
)
R("learning_order.compare_orders", lambda: dict(key=KEY, cfg=LO))
R("learning_order.exact_eigenvalues", lambda: dict(cfg=LO))
R("learning_order.kernel_flow", lambda: dict(key=KEY, cfg=LO, kernel="rbf", t=None))
R("learning_order.kernel_times", lambda: dict(cfg=LO))
R(
    "learning_order.learned_times",
    lambda: dict(
        t=np.linspace(0, 4, 5),
        learnability=1 - np.exp(-np.outer(np.linspace(0, 4, 5), [1.0, 0.1])),
        threshold=0.5,
    ),
    valid={"learnability": ("nan inside",)},
)
R("learning_order.make_task", lambda: dict(key=KEY, cfg=LO))
R("learning_order.predicted_eigenvalues", lambda: dict(cfg=LO))
R("learning_order.predicted_order", lambda: dict(cfg=LO))
R("learning_order.predicted_times", lambda: dict(cfg=LO))
R(
    "learning_order.ranks",
    lambda: dict(values=[3.0, 1.0, 2.0]),
    kinds={"values": "array"},
    valid={"values": ("inf inside",)},
)
R(
    "learning_order.spearman",
    lambda: dict(a=[1.0, 2.0, 3.0, 4.0], b=[10.0, 30.0, 20.0, 40.0]),
    kinds={"a": "array", "b": "array"},
    valid={"a": ("inf inside",), "b": ("inf inside",)},
)
R("learning_order.train_mlp", lambda: dict(key=KEY, cfg=LO, activation="tanh"))

# mlp
R("mlp.abc_exponents", lambda: dict(parameterization="mup", depth=2, optimizer="gd"))
R("mlp.apply", lambda: dict(params=O("mlp_params"), x=np.ones((3, 2)), cfg=MLP))
R(
    "mlp.empirical_ntk",
    lambda: dict(
        params=O("mlp_params"), x1=np.ones((3, 2)), x2=None, cfg=MLP, method="auto"
    ),
)
R("mlp.init", lambda: dict(key=KEY, cfg=MLP))
R("mlp.layer_scales", lambda: dict(cfg=MLP))
R(
    "mlp.loss",
    lambda: dict(params=O("mlp_params"), x=O("mlp_task").x, y=O("mlp_task").y, cfg=MLP),
)
R(
    "mlp.predict_ntk",
    lambda: dict(
        cfg=MLP,
        x_train=O("mlp_task").x,
        y_train=O("mlp_task").y,
        t=[0.0, 1.0],
        x_test=None,
        gradient_flow=False,
    ),
)
R(
    "mlp.train",
    lambda: dict(
        key=KEY, cfg=MLP, x_train=None, y_train=None, x_test=None, observe=None
    ),
)
R("mlp.training_data", lambda: dict(key=KEY, cfg=MLP))

# natural_data
R("natural_data.bundled_text", lambda: dict())
R("natural_data.digits_hea", lambda: dict())
R(
    "natural_data.digits_learning_curve",
    lambda: dict(
        key=KEY,
        target=O("digits_target"),
        bandwidth=2.0,
        ns=[4, 8],
        num_trials=1,
        ridge=1e-6,
    ),
)
R("natural_data.digits_target", lambda: dict(digit=0))
R("natural_data.gaussian_target", lambda: dict(num_dims=8))
R(
    "natural_data.predict_digits_learning_curve",
    lambda: dict(
        target=O("digits_target"),
        bandwidth=2.0,
        ns=[4, 8],
        num_fit_modes=10,
        num_modes=20,
        ridge=0.0,
    ),
)
R(
    "natural_data.gaussian_data",
    lambda: dict(key=KEY, gammas=[4.0, 1.0], num_samples=3),
    kinds={"gammas": "array"},
)
R(
    "natural_data.gaussian_learning_curve",
    lambda: dict(
        key=KEY,
        gammas=natural_data.power_law_gammas(3, 1.0),
        bandwidth=2.0,
        target_indices=[[1, 0, 0]],
        target_coeffs=[1.0],
        ns=[4, 8],
        num_trials=1,
        num_test=8,
        ridge=1e-6,
    ),
    kinds={"target_indices": "intarray", "target_coeffs": "array"},
)
R(
    "natural_data.hea_spectrum",
    lambda: dict(gammas=[0.5, 0.5], bandwidth=2.0, num_modes=3, max_level=3),
    kinds={"gammas": "array", "max_level": "int0"},
)
R(
    "natural_data.kernel_eigenvalues",
    lambda: dict(x=np.zeros((4, 2)), bandwidth=1.0, num=2),
)
R("natural_data.pca_spectrum", lambda: dict(x=np.array([[1.0, 0.0], [-1.0, 0.5]])))
R("natural_data.power_law_gammas", lambda: dict(num_dims=4, exponent=1.0))
R(
    "natural_data.predict_learning_curve",
    lambda: dict(
        gammas=natural_data.power_law_gammas(3, 1.0),
        bandwidth=2.0,
        target_indices=[[1, 0, 0]],
        target_coeffs=[1.0],
        ns=[1, 8],
        num_modes=20,
        ridge=0.0,
        noise=0.0,
    ),
    kinds={"target_indices": "intarray", "target_coeffs": "array"},
)
R(
    "natural_data.rank_frequency_fit",
    lambda: dict(counts=np.round(1000 / np.arange(1, 21)).astype(int), ranks=(1, 20)),
    kinds={"counts": "intarray", "ranks": "range"},
)
R(
    "natural_data.spectrum_fit",
    lambda: dict(
        key=KEY,
        x=np.asarray(jax.random.normal(KEY, (40, 5))),
        ranks=(1, 5),
        num_bootstrap=100,
        confidence=0.9,
    ),
    kinds={"ranks": "range"},
)
R(
    "natural_data.word_counts",
    lambda: dict(text="the cat and the hat"),
    kinds={"text": "text"},
)

# neural_collapse
R("neural_collapse.apply", lambda: dict(params=O("nc_params"), x=O("nc_data")[0]))
R(
    "neural_collapse.class_means",
    lambda: dict(
        features=jnp.array([[0.0], [2.0], [4.0]]),
        labels=jnp.array([0, 0, 1]),
        num_classes=2,
    ),
    kinds={"labels": "intarray"},
)
R(
    "neural_collapse.collapse_metrics",
    lambda: dict(
        features=neural_collapse.simplex_etf(3),
        labels=jnp.arange(3),
        weight=neural_collapse.simplex_etf(3),
        bias=jnp.zeros(3),
        num_classes=3,
    ),
    kinds={"labels": "intarray"},
)
R("neural_collapse.etf_cosine", lambda: dict(num_classes=3))
R("neural_collapse.features", lambda: dict(params=O("nc_params"), x=O("nc_data")[0]))
R("neural_collapse.init", lambda: dict(key=KEY, cfg=NC))
R(
    "neural_collapse.log_records",
    lambda: dict(step=np.arange(0, 101, 10), num=4),
    kinds={"step": "intarray"},
)
R(
    "neural_collapse.loss",
    lambda: dict(
        params=O("nc_params"),
        x=O("nc_data")[0],
        labels=O("nc_data")[1],
        weight_decay=0.0,
    ),
    kinds={"labels": "intarray"},
)
R("neural_collapse.predict", lambda: dict(cfg=NC, t=[1.0, 10.0]))
R("neural_collapse.simplex_etf", lambda: dict(num_classes=3, dim=None))
R("neural_collapse.train", lambda: dict(key=KEY, cfg=NC, observe=None))
R("neural_collapse.training_data", lambda: dict(key=KEY, cfg=NC))

# observables
_A3 = jnp.diag(jnp.array([1.0, 3.0, 2.0]))
R(
    "observables.balancedness",
    lambda: dict(weights=[jnp.ones((3, 2)), jnp.ones((1, 3))]),
    kinds={"weights": "matrices"},
)
R(
    "observables.balancedness_step_change",
    lambda: dict(grads=[jnp.ones((3, 2)), jnp.ones((1, 3))], lr=0.1),
    kinds={"grads": "matrices"},
)
R(
    "observables.hessian_top_eigenpairs",
    lambda: dict(
        loss_fn=lambda w: 0.5 * w @ _A3 @ w,
        params=jnp.ones(3),
        k=1,
        num_iters=3,
        start=None,
    ),
)
R(
    "observables.hessian_top_k",
    lambda: dict(
        loss_fn=lambda w: 0.5 * w @ _A3 @ w, params=jnp.ones(3), k=2, num_iters=3
    ),
)
R("observables.linear_cka", lambda: dict(x=X, y=X2))
R(
    "observables.mode_strengths",
    lambda: dict(w=jnp.ones((3, 2)), u=jnp.eye(3)[:, :2], vt=jnp.eye(2)),
)
R("observables.mutual_knn_alignment", lambda: dict(x=X, y=X2, k=2))
R(
    "observables.relative_change",
    lambda: dict(
        params={"a": jnp.array([3.0, 1.0])}, params0={"a": jnp.array([3.0, 0.0])}
    ),
    kinds={"params": "pytree", "params0": "pytree"},
)
R(
    "observables.rms_coordinates",
    lambda: dict(x=jnp.ones((2, 2)), axis=None),
    kinds={"x": "array_any", "axis": "axis"},
)
R(
    "observables.sharpness",
    lambda: dict(loss_fn=lambda w: 0.5 * w @ _A3 @ w, params=jnp.ones(3), num_iters=3),
)

# representations
R("representations.alignment", lambda: dict(x=X, y=X2, metric="cka", k=2))
R(
    "representations.cka_deficit_coefficient",
    lambda: dict(key=KEY, x=X, activation="relu", num_units=100),
)
R("representations.digits_split", lambda: dict(key=KEY))
R(
    "representations.initial_representations",
    lambda: dict(key=KEY, seed=0, cfg=REP),
    kinds={"seed": "int0"},
)
R(
    "representations.layer_alignment",
    lambda: dict(reps_a=[X, X**2], reps_b=[X2], metric="cka", k=2),
    kinds={"reps_a": "reps", "reps_b": "reps"},
)
R(
    "representations.layer_representations",
    lambda: dict(params=O("mlp_params"), x=np.ones((4, 2)), cfg=MLP),
)
R(
    "representations.model_alignment",
    lambda: dict(
        key=KEY,
        models=[(1, 4, "relu")],
        reference=(1, 4, "relu"),
        reference_seed=9,
        k=2,
    ),
    kinds={"models": "models", "reference": "model", "reference_seed": "int0"},
)
R(
    "representations.network_config",
    lambda: dict(width=4, depth=1, activation="relu", steps=2, lr=0.01),
)
R(
    "representations.predict_cka_deficit",
    lambda: dict(key=KEY, x=X, widths=[8, 16], activation="relu", num_units=100),
)
R(
    "representations.predict_pair_deficit",
    lambda: dict(deficit_a=[0.2, 0.1], deficit_b=0.02),
    kinds={"deficit_a": "array_any", "deficit_b": "array_any"},
)
R(
    "representations.random_feature_alignment",
    lambda: dict(key=KEY, x=X, widths=[4, 8], num_pairs=1, k=2, activation="relu"),
)
R(
    "representations.random_features",
    lambda: dict(key=KEY, x=X, width=4, activation="relu"),
)
R(
    "representations.train_network",
    lambda: dict(key=KEY, batch_key=KEY2, cfg=REP, train=O("rep_split")[0]),
)
R(
    "representations.trained_representations",
    lambda: dict(key=KEY, seed=0, cfg=REP),
    kinds={"seed": "int0"},
)
R(
    "representations.width_alignment",
    lambda: dict(
        key=KEY, widths=[4], num_pairs=1, depth=1, activation="relu", k=2, steps=2
    ),
)

# scaling
R("scaling.compute_frontier", lambda: dict(frontier=O("frontier"), theory=False))
R("scaling.data_curve", lambda: dict(key=KEY, cfg=SC, ns=[4, 8], num_seeds=1))
R(
    "scaling.digits_learning_curve",
    lambda: dict(key=KEY, ns=[4, 8], num_seeds=2, ridge=1e-3, bandwidth=8.0),
)
R("scaling.digits_spectrum", lambda: dict(bandwidth=8.0))
R("scaling.init", lambda: dict(key=KEY, cfg=SC.replace(width=4)))
R(
    "scaling.isoflop",
    lambda: dict(
        key=KEY,
        cfg=SC.replace(n=None),
        widths=[4, 8],
        compute=[50.0, 100.0],
        num_seeds=1,
    ),
    kinds={"compute": "floatseq"},
)
R(
    "scaling.predict_data",
    lambda: dict(cfg=SC, n=[4, 8]),
    kinds={"n": "intseq"},
    valid={"n": ("fraction",)},
)
R(
    "scaling.predict_digits",
    lambda: dict(ns=[4, 8], ridge=1e-3, bandwidth=8.0),
    kinds={"ns": "intseq"},
    valid={"ns": ("fraction",)},
)
R("scaling.predict_exponents", lambda: dict(alpha=1.5, r=2.0))
R(
    "scaling.predict_quanta",
    lambda: dict(qcfg=QC, width=[1, 4], n=None),
    kinds={"width": "intseq"},
    valid={"width": ("fraction",)},
)
R(
    "scaling.predict_time",
    lambda: dict(cfg=SC, t=[0.0, 1.0]),
    kinds={"t": "floatseq"},
    valid={"t": ("inf",)},
)
R(
    "scaling.predict_width",
    lambda: dict(cfg=SC, width=[4, 8]),
    kinds={"width": "intseq"},
    valid={"width": ("fraction",)},
)
R(
    "scaling.predict_width_time",
    lambda: dict(cfg=SC, width=[4, 8], t=[1.0, 2.0]),
    kinds={"width": "intseq", "t": "floatseq"},
    valid={"width": ("fraction",), "t": ("inf",)},
)
R(
    "scaling.quanta_curve",
    lambda: dict(key=KEY, qcfg=QC, axis="data", values=[4, 8], num_seeds=1),
    kinds={"values": "intseq"},
)
R("scaling.quanta_frequencies", lambda: dict(qcfg=QC))
R(
    "scaling.simulate_quanta",
    lambda: dict(key=KEY, qcfg=QC, width=[1, 4], n=[8], num_seeds=1),
    kinds={"width": "intseq", "n": "intseq"},
)
R(
    "scaling.predict_divergence",
    lambda: dict(key=KEY, cfg=SC, steps=[0, 2], num_seeds=1),
    kinds={"steps": "intseq"},
)
R(
    "scaling.simulate_test_mse",
    lambda: dict(key=KEY, cfg=SC, steps=[0, 2], num_seeds=1),
    kinds={"steps": "intseq"},
)
R("scaling.spectrum", lambda: dict(cfg=SC))
R(
    "scaling.time_curve",
    lambda: dict(key=KEY, cfg=SC.replace(n=None), steps=[2, 4], num_seeds=1),
)
R("scaling.train", lambda: dict(key=KEY, cfg=SC, observe=None))
R("scaling.width_curve", lambda: dict(key=KEY, cfg=SC, widths=[4, 8], num_seeds=1))

# sgd_noise
R(
    "sgd_noise.critical_batch",
    lambda: dict(cfg=SG, target=0.3, batch_sizes=(1, 2), fit_max=2),
    kinds={"batch_sizes": "intseq"},
)
R("sgd_noise.max_stable_lr", lambda: dict(cfg=SG, batch_size=1))
R(
    "sgd_noise.predict_divergence",
    lambda: dict(cfg=SG, max_step=2),
    valid={"max_step": ("zero",)},  # a run of 0 steps: nothing to cross
)
R(
    "sgd_noise.predict_noise_scale",
    lambda: dict(cfg=SG, step=[0, 1]),
    kinds={"step": "intseq"},
    valid={"step": ("empty",)},
)
R(
    "sgd_noise.predict_risk",
    lambda: dict(cfg=SG, step=[0, 1]),
    kinds={"step": "intseq"},
    valid={"step": ("empty",)},
)
R("sgd_noise.relaxation_steps", lambda: dict(cfg=SG, rtol=0.01, max_steps=1e4))
R("sgd_noise.simulated_steps_to_target", lambda: dict(traj=O("sg_traj"), target=0.4))
R("sgd_noise.spectrum", lambda: dict(dim=4, alpha=1.0), kinds={"alpha": "nonneg"})
R("sgd_noise.stationary_risk", lambda: dict(cfg=SG, lr=0.1, batch_size=1))
R("sgd_noise.stationary_risk_small_lr", lambda: dict(cfg=SG, lr=0.1, batch_size=1))
R("sgd_noise.steps_to_target", lambda: dict(cfg=SG, target=0.3, max_steps=1e4))
R("sgd_noise.train", lambda: dict(key=KEY, cfg=SG))
R("sgd_noise.tune_lr", lambda: dict(cfg=SG, target=0.3, max_steps=1e4))

# training
R(
    "training.make_optimizer",
    lambda: dict(optimizer=training.Optimizer(), lr=0.1, params=jnp.ones(2)),
    kinds={"lr": "pos", "params": "pytree"},
)
R(
    "training.run",
    lambda: dict(
        loss_fn=_quad,
        params=jnp.ones(2),
        lr=0.1,
        steps=2,
        record_every=1,
        optimizer=None,
        data=None,
        key=None,
        observe=None,
    ),
    kinds={"lr": "pos", "params": "pytree"},
    skip={"data": "any pytree is valid"},
)

if hasattr(training, "divergence_limit"):  # new in issue 12 (training engineer)
    R(
        "training.divergence_limit",
        lambda: dict(loss0=2.0, loss_scale=1.0),
        kinds={"loss_scale": "pos"},
    )

# transfer
R("transfer.load_sweep", lambda: dict(path=O("sweep_path")), kinds={"path": "path"})
R(
    "transfer.network_config",
    lambda: dict(
        parameterization="mup",
        width=8,
        optimizer="adam",
        steps=2,
        record_every=1,
        batch_size=4,
        base_width=4,
    ),
    valid={"batch_size": ("None",), "base_width": ("None",)},
)
R("transfer.optimum", lambda: dict(result=O("sweep"), step=None))
R("transfer.reference_sweep", lambda: dict())
R(
    "transfer.save_sweep",
    lambda: dict(path=str(Path(tempfile.mkdtemp()) / "s.npz"), result=O("sweep")),
    kinds={"path": "path"},
)
R(
    "transfer.transfer_sweep",
    lambda: dict(
        key=KEY,
        optimizer="adam",
        widths=(8,),
        log2_lrs=(-8.0,),
        parameterizations=("mup",),
        steps=2,
        record_every=1,
        num_seeds=1,
        batch_size=4,
        base_width=8,
    ),
    kinds={"log2_lrs": "floatseq", "parameterizations": "choices"},
    valid={"batch_size": ("None",), "base_width": ("None",)},
)
R(
    "transfer.wider_is_better",
    lambda: dict(result=O("sweep"), parameterization="mup", step=None),
)

# sweep
R(
    "sweep.sweep",
    lambda: dict(run=scaling.train, key=KEY, cfg=SC, num_seeds=1, lr=[0.5, 1.0]),
    skip={"lr": "a grid axis (**grid): checked via the config field"},
)

# predictions: the cheapest entry (Zipf's law of the bundled text, ~0.1 s)
R("predictions.run", lambda: dict(prediction_id="zipf-exponent"))
R(
    "predictions.scorecard",
    lambda: dict(ids=["zipf-exponent"]),
    kinds={"ids": "choices"},
)

# functions with no argument: nothing to mutate (covered by the baseline test)
NO_ARGUMENTS = {
    "natural_data.bundled_text",
    "natural_data.digits_hea",
    "transfer.reference_sweep",
}


# --- mutation kinds -------------------------------------------------------------------

#: real parameters whose valid range is > 0 (zero and negatives are invalid)
POSITIVE_REALS = {
    "lr",
    "bandwidth",
    "width",
    "dt",
    "k",
    "alpha",
    "alpha_q",
    "kappa",
    "threshold",
    "num_units",
    "max_steps",
    "sigma_w2",
    "confidence",
}
#: real parameters whose valid range is >= 0
NONNEGATIVE_REALS = {"ridge", "noise", "weight_decay", "radius", "target", "late_start"}


class Mutation(NamedTuple):
    name: str
    make: Callable[[Any], Any]  # baseline value -> invalid value
    also_named: tuple[str, ...] = ()  # other parameters the message may name


def _first_axis_empty(v):
    a = np.asarray(v)
    return a[:0]


def _with(v, value, idx=0):
    a = np.array(v, dtype=float, copy=True)
    a.flat[idx] = value
    return a


def _dims(annotation) -> tuple[str, ...] | None:
    """The dimension names of a jaxtyping annotation string, or None if variadic or
    absent (``"Float[ArrayLike, 'n d']"`` -> ``("n", "d")``)."""
    text = annotation if isinstance(annotation, str) else str(annotation)
    m = re.search(r"\[\s*\w+\s*,\s*['\"]([^'\"]*)['\"]\s*\]", text)
    if not m or "*" in m.group(1) or "..." in m.group(1):
        return None
    return tuple(m.group(1).split())


def _key_mutations():
    return [
        Mutation("int", lambda v: 0),
        Mutation("float", lambda v: 1.5),
        Mutation("string", lambda v: "key"),
        Mutation("uint32 triple", lambda v: np.zeros(3, np.uint32)),
        Mutation("float pair", lambda v: np.zeros(2)),
        Mutation("batch of keys", lambda v: jax.random.split(KEY, 2)),
    ]


def _int_mutations(kind):
    muts = [
        Mutation("float", lambda v: 1.5),
        Mutation("string", lambda v: "3"),
        Mutation("nan", lambda v: math.nan),
        Mutation("bool", lambda v: True),
    ]
    if kind == "int":
        muts += [Mutation("zero", lambda v: 0), Mutation("negative", lambda v: -1)]
    elif kind == "int0":
        muts += [Mutation("negative", lambda v: -1)]
    return muts


def _real_mutations(kind):
    muts = [
        Mutation("nan", lambda v: math.nan),
        Mutation("inf", lambda v: math.inf),
        Mutation("-inf", lambda v: -math.inf),
        Mutation("string", lambda v: "1.0"),
        Mutation("complex", lambda v: 1 + 1j),
        Mutation("list", lambda v: [1.0, 2.0]),
    ]
    if kind in ("pos", "nonneg"):
        muts.append(Mutation("negative", lambda v: -1.0))
    if kind == "pos":
        muts.append(Mutation("zero", lambda v: 0.0))
    return muts


def _array_mutations(kind, dims):
    muts = [
        Mutation("nan inside", lambda v: _with(v, np.nan)),
        Mutation("inf inside", lambda v: _with(v, np.inf)),
        Mutation("strings", lambda v: np.full(np.shape(v), "a")),
        Mutation("complex", lambda v: np.asarray(v) * (1 + 1j)),
    ]
    if kind == "intarray":
        muts = [
            Mutation("nan inside", lambda v: _with(v, np.nan)),
            Mutation("fraction inside", lambda v: _with(v, 0.5)),
            Mutation("strings", lambda v: np.full(np.shape(v), "a")),
        ]
    if dims is not None and kind != "array_any":
        muts += [
            Mutation("extra axis", lambda v: np.asarray(v)[..., None]),
            Mutation("empty", _first_axis_empty),
        ]
        if len(dims) >= 1:
            muts.append(Mutation("one axis fewer", lambda v: np.asarray(v)[0]))
    return muts


def _seq_mutations(kind):
    if kind == "intseq":
        return [
            Mutation("empty", lambda v: []),
            Mutation("fraction", lambda v: [1.5]),
            Mutation("string", lambda v: ["a"]),
            Mutation("negative", lambda v: [-1]),
            Mutation("nan", lambda v: [math.nan]),
        ]
    if kind == "floatseq":
        return [
            Mutation("empty", lambda v: []),
            Mutation("nan", lambda v: [math.nan]),
            Mutation("inf", lambda v: [math.inf]),
            Mutation("string", lambda v: ["a"]),
        ]
    if kind == "choices":
        return [
            Mutation("empty", lambda v: ()),
            Mutation("unknown", lambda v: ("no_such_option",)),
            Mutation("int", lambda v: (3,)),
        ]
    if kind == "range":
        return [
            Mutation("reversed", lambda v: (v[1], v[0])),
            Mutation("zero", lambda v: (0, v[1])),
            Mutation("fraction", lambda v: (1.5, v[1])),
            Mutation("one entry", lambda v: (v[0],)),
            Mutation("string", lambda v: "ab"),
        ]
    if kind in ("matrices", "reps"):
        return [
            Mutation("empty", lambda v: []),
            Mutation("nan inside", lambda v: [_with(v[0], np.nan), *v[1:]]),
            Mutation("strings", lambda v: ["a", "b"]),
            Mutation("vector", lambda v: [np.ones(3), *v[1:]]),
        ]
    if kind == "models":
        return [
            Mutation("empty", lambda v: []),
            Mutation("bad depth", lambda v: [(0, 4, "relu")]),
            Mutation("bad width", lambda v: [(1, 0, "relu")]),
            Mutation("bad activation", lambda v: [(1, 4, "nope")]),
            Mutation("short tuple", lambda v: [(1, 4)]),
        ]
    if kind == "model":
        return [
            Mutation("bad depth", lambda v: (0, 4, "relu")),
            Mutation("bad width", lambda v: (1, 1.5, "relu")),
            Mutation("bad activation", lambda v: (1, 4, "nope")),
            Mutation("short tuple", lambda v: (1, 4)),
        ]
    raise ValueError(kind)


def _config_mutations(value):
    other = sgd_noise.Config() if isinstance(value, scaling.QuantaConfig) else QC
    return [
        Mutation("dict", lambda v: dataclasses.asdict(v)),
        Mutation("wrong Config", lambda v: other),
        Mutation("string", lambda v: "config"),
    ]


def _infer_kind(name: str, value: Any, annotation: Any) -> str:
    ann = str(annotation)
    if name in ("key", "batch_key") or "jax.Array'" in ann and name.endswith("key"):
        return "key"
    if dataclasses.is_dataclass(value) and hasattr(value, "_validate"):
        return "config"
    if isinstance(value, bool):
        return "bool"
    if callable(value) and not isinstance(value, (np.ndarray, jax.Array)):
        return "callable"
    if isinstance(value, (int, np.integer)):
        return "int0" if name in ("seed", "digit", "late_start", "levels") else "int"
    if isinstance(value, float):
        if name in POSITIVE_REALS:
            return "pos"
        return "nonneg" if name in NONNEGATIVE_REALS else "real"
    if isinstance(value, str):
        return "choice"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return "object"
    if (
        isinstance(value, (tuple, list))
        and value
        and all(hasattr(v, "_fields") for v in value)
    ):
        return "object"  # a network's parameters: a tuple of layers
    if (
        isinstance(value, (list, tuple))
        and value
        and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
        )
    ):
        return "intseq"
    if isinstance(value, (list, tuple, np.ndarray, jax.Array)):
        if (
            isinstance(value, (list, tuple))
            and value
            and isinstance(value[0], (list, tuple, np.ndarray, jax.Array))
            and np.ndim(value[0]) > 1
        ):
            return "reps"
        if "Int[" in ann:
            return "intarray"
        return "array"
    if isinstance(value, dict):
        return "pytree"
    if value is None:
        return "none"
    return "object"


def param_kinds(name: str) -> dict[str, str]:
    fn = public_functions()[name]
    entry = REGISTRY[name]
    kwargs = entry.factory()
    sig = inspect.signature(fn)
    kinds = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD or p.name in entry.skip:
            continue
        value = kwargs.get(p.name, p.default)
        if value is inspect.Parameter.empty:
            continue
        kinds[p.name] = entry.kinds.get(p.name) or _infer_kind(
            p.name, value, p.annotation
        )
    return kinds


def mutations(name: str) -> list[tuple[str, Mutation]]:
    """Every (parameter, mutation) pair for the public function ``name``."""
    fn = public_functions()[name]
    entry = REGISTRY[name]
    kwargs = entry.factory()
    sig = inspect.signature(fn)
    kinds = param_kinds(name)
    # array parameters by dimension name, for cross-argument mismatches
    dims = {p: _dims(sig.parameters[p].annotation) for p in kinds}
    out = []
    for p, kind in kinds.items():
        value = kwargs.get(p, sig.parameters[p].default)
        default = sig.parameters[p].default
        muts: list[Mutation]
        if kind == "key":
            muts = _key_mutations()
        elif kind in ("int", "int0", "index"):
            muts = _int_mutations(kind)
        elif kind == "axis":
            muts = [
                Mutation("float", lambda v: 1.5),
                Mutation("string", lambda v: "a"),
                Mutation("out of range", lambda v: 5),
            ]
        elif kind in ("real", "pos", "nonneg"):
            muts = _real_mutations(kind)
            if "ArrayLike" in str(sig.parameters[p].annotation):
                muts = [m for m in muts if m.name != "list"]  # arrays are valid
        elif kind in ("array", "intarray", "array_any"):
            muts = _array_mutations(kind, dims[p])
            d = dims[p]
            if d and kind != "array_any":
                for axis, dim in enumerate(d):
                    partners = tuple(
                        q
                        for q in kinds
                        if q != p
                        and dims[q]
                        and dim in dims[q]
                        and kinds[q] != "callable"
                        and kwargs.get(q, sig.parameters[q].default) is not None
                    )
                    if partners and not dim.isdigit():
                        muts.append(
                            Mutation(
                                f"mismatched {dim}",
                                functools.partial(_grow, axis=axis),
                                partners,
                            )
                        )
        elif kind in (
            "intseq",
            "floatseq",
            "choices",
            "range",
            "matrices",
            "reps",
            "models",
            "model",
        ):
            muts = _seq_mutations(kind)
        elif kind == "config":
            muts = _config_mutations(value)
        elif kind == "choice":
            muts = [
                Mutation("unknown", lambda v: "no_such_option"),
                Mutation("int", lambda v: 3),
            ]
        elif kind == "text":
            muts = [Mutation("int", lambda v: 3), Mutation("bytes", lambda v: b"x")]
        elif kind == "path":
            muts = [Mutation("int", lambda v: 3.5)]
        elif kind == "callable":
            muts = [Mutation("int", lambda v: 3), Mutation("string", lambda v: "f")]
        elif kind == "bool":
            muts = [Mutation("string", lambda v: "yes"), Mutation("int", lambda v: 2)]
        elif kind == "pytree":
            muts = [
                Mutation("string", lambda v: "x"),
                Mutation("string leaf", lambda v: {"a": "x"}),
                Mutation(
                    "nan leaf",
                    lambda v: jax.tree_util.tree_map(lambda a: _with(a, np.nan), v),
                ),
            ]
        elif kind == "object":
            muts = [Mutation("int", lambda v: 3), Mutation("string", lambda v: "x")]
        elif kind == "none":
            # an optional parameter whose baseline is None: a string is invalid
            muts = [Mutation("string", lambda v: "x")]
        else:
            raise ValueError(f"{name}: unknown kind {kind} for {p}")
        optional = "None" in str(sig.parameters[p].annotation)
        if default is not None and kind != "none" and not optional:
            muts.append(Mutation("None", lambda v: None))
        valid = set(entry.valid.get(p, ()))
        out += [(p, m) for m in muts if m.name not in valid]
    return out


def _grow(v, axis):
    """``v`` with its ``axis`` one longer (the last slice repeated)."""
    a = np.asarray(v)
    last = np.take(a, [-1], axis=axis)
    return np.concatenate([a, last], axis=axis)


# --- Config fields --------------------------------------------------------------------

CONFIG_BASELINES = {
    "central_flow.Config": CF,
    "deep_linear.Config": DL,
    "edge_of_stability.Config": EOS,
    "eigenlearning.Config": EL,
    "feature_ansatz.Config": FA,
    "feature_learning.Config": FL,
    "kernels.Config": KC,
    "learning_order.Config": LO,
    "lazy_rich.Config": LR,
    "mlp.Config": MLP,
    "neural_collapse.Config": NC,
    "scaling.Config": SC,
    "scaling.QuantaConfig": QC,
    "sgd_noise.Config": SG,
    "training.Optimizer": training.Optimizer(),
}

#: Config fields that may be None (then a string is the invalid value tried)
_CONFIG_POSITIVE = POSITIVE_REALS | {
    "lr",
    "init_scale",
    "readout_scale",
    "separation",
    "eps",
    "lr_ratio",
    "warmup_ratio",
    "amplitude",
    "r",
}


#: (Config, field) -> mutations that are valid values of that field
CONFIG_VALID = {
    ("central_flow.Config", "max_warmup_steps"): ("zero",),  # no warm-up
    ("central_flow.Config", "settle_steps"): ("zero",),  # no settling
    ("scaling.Config", "n"): ("None",),  # infinite data
    ("sgd_noise.Config", "alpha"): ("zero",),  # a flat spectrum
}


def config_mutations(name: str) -> list[tuple[str, Mutation]]:
    """Every (field, mutation) pair for the Config class ``name``."""
    cfg = CONFIG_BASELINES[name]
    out = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool):
            muts = [Mutation("string", lambda v: "yes")]
        elif isinstance(value, int):
            muts = _int_mutations("int0" if f.name in ("momentum",) else "int")
        elif isinstance(value, float):
            kind = (
                "pos"
                if f.name in _CONFIG_POSITIVE
                else (
                    "nonneg"
                    if f.name in NONNEGATIVE_REALS | {"sigma_b2", "momentum"}
                    else "real"
                )
            )
            muts = [m for m in _real_mutations(kind) if m.name != "list"]
        elif isinstance(value, str):
            muts = [
                Mutation("unknown", lambda v: "no_such_option"),
                Mutation("int", lambda v: 3),
            ]
        elif isinstance(value, tuple):
            muts = [Mutation("string", lambda v: "x"), Mutation("empty", lambda v: ())]
        elif value is None:
            muts = [Mutation("string", lambda v: "x"), Mutation("float", lambda v: 1.5)]
        else:
            continue
        if value is not None:
            muts.append(Mutation("None", lambda v: None))
        valid = CONFIG_VALID.get((name, f.name), ())
        out += [(f.name, m) for m in muts if m.name not in valid]
    return out
