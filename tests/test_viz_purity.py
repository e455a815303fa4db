"""lm_sims.viz holds explorer factories and figure code only; the science lives in
the core. Every chapter module of lm_sims.viz (all but explorer.py and
__init__.py) exports only names that end in ``_explorer``, and every simulation or
prediction that used to live there is importable from the core."""

import importlib
import inspect
import pkgutil

import pytest

import lm_sims.viz

_NOT_CHAPTERS = {"explorer"}
CHAPTER_MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(lm_sims.viz.__path__)
    if m.name not in _NOT_CHAPTERS and not m.name.startswith("_")
)

# moved name -> its home in the core (issue 6, section 2)
MOVED = {
    "circle": "lm_sims.kernels",
    "output_samples": "lm_sims.kernels",
    "preactivations": "lm_sims.kernels",
    "signal_propagation_theory": "lm_sims.kernels",
    "stable_correlation": "lm_sims.kernels",
    "ntk_config": "lm_sims.kernels",
    "NTKScan": "lm_sims.kernels",
    "ntk_width_scan": "lm_sims.kernels",
    "ntk_gap_parts": "lm_sims.kernels",
    "NTK_WIDTHS": "lm_sims.kernels",
    "NTK_STEPS": "lm_sims.kernels",
    "NTK_SEEDS": "lm_sims.kernels",
    "TARGETS": "lm_sims.kernels",
    "one_step_changes": "lm_sims.feature_learning",
    "predicted_exponents": "lm_sims.feature_learning",
    "EXPONENTS": "lm_sims.feature_learning",
    "SP_LR_SCALINGS": "lm_sims.feature_learning",
    "LAZY_CONFIG": "lm_sims.lazy_rich",
    "alpha_sweep": "lm_sims.lazy_rich",
    "run_summary": "lm_sims.lazy_rich",
    "predict_lazy": "lm_sims.lazy_rich",
}


def test_the_chapter_modules_are_found():
    # the check below must not pass vacuously
    assert {"deep_linear", "eigenlearning", "kernels", "lazy_rich"} <= set(
        CHAPTER_MODULES
    )


@pytest.mark.parametrize("name", CHAPTER_MODULES)
def test_chapter_module_exports_only_explorer_factories(name):
    module = importlib.import_module(f"lm_sims.viz.{name}")
    exported = getattr(module, "__all__", None)
    assert exported, f"lm_sims.viz.{name} must declare __all__"
    assert [n for n in exported if not n.endswith("_explorer")] == []
    # and no other public function or class hides outside __all__
    public = [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]
    assert sorted(public) == sorted(exported)


@pytest.mark.parametrize(("name", "home"), sorted(MOVED.items()))
def test_moved_science_is_importable_from_the_core(name, home):
    module = importlib.import_module(home)
    assert name in module.__all__
    obj = getattr(module, name)
    if callable(obj) and inspect.isclass(type(obj)) is not False:
        assert obj.__doc__, f"{home}.{name} needs a docstring"


def test_moved_functions_are_documented_where_they_live():
    # shown on the API page under their core module, with a runnable example
    for name, home in MOVED.items():
        obj = getattr(importlib.import_module(home), name)
        if inspect.isfunction(obj):
            assert obj.__module__ == home, name
            assert ">>>" in (obj.__doc__ or ""), f"{home}.{name} has no example"
