"""The API an instructor meets (issue 12): every explorer factory checks its key,
every live control's ends are values the explorer computes, every public name has
one import path, and installing the package leaves the checkout clean."""

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from explorer_grid import all_factories, control_ends, end_states, explorer

import lm_sims
from lm_sims.viz import Heatmap

ROOT = Path(__file__).parents[1]
FACTORIES = all_factories()
_IDS = [f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}" for f in FACTORIES]

_BAD_KEYS = {
    "int": 0,
    "float array": np.zeros(2),
    "uint32 of shape (3,)": np.zeros(3, np.uint32),
    "a batch of keys": jax.random.split(jax.random.key(0), 2),
}


def test_discovery_finds_every_chapter_explorer():
    assert len(FACTORIES) >= 25, _IDS  # not vacuous: the chapters' factories


@pytest.mark.parametrize("bad", list(_BAD_KEYS), ids=list(_BAD_KEYS))
@pytest.mark.parametrize("factory", FACTORIES, ids=_IDS)
def test_every_explorer_factory_checks_its_key_first(factory, bad):
    # lm_sims._config.check_key's message, raised before anything is computed (a
    # bad key used to pass and fail later inside JAX, or not at all)
    with pytest.raises(TypeError, match=r"key must be a (single )?(JAX )?PRNG key"):
        factory(_BAD_KEYS[bad])


@pytest.mark.parametrize("factory", FACTORIES, ids=_IDS)
def test_every_live_control_end_is_a_valid_knob_value(factory):
    # a log slider's leftmost value 10**log10(low) rounds below low (0.05 ->
    # 0.049999999999999996): the live explorer moves what a control reports into
    # the knob's range, so its own ends always pass the knob's check
    for knob in explorer(factory).knobs:
        for raw in control_ends(knob):
            value = knob.clamp(raw)
            assert knob.check(value) == value
            if knob.continuous:
                assert knob.low <= value <= knob.high
                assert abs(value - raw) <= 1e-12 * max(abs(raw), 1.0)  # rounding only


def _values(item) -> list[np.ndarray]:
    if isinstance(item, Heatmap):
        return [item.z[np.isfinite(item.z)]]
    arrays = [item.x, item.y]
    if item.is_band:
        arrays += [item.lower, item.upper]
    if item.error_y is not None:
        arrays.append(item.error_y)
    return [a[~np.isnan(a)] if item.breaks else a for a in arrays]


# live ends that train for minutes (central flow, transfer, linear scaling: 93,
# 293 and 251 s on 2 cores at load 5) are checked by test_trust_api_ends.py, a
# file of their own so that the statistical tier's workers run them in parallel
# with the other files (--dist loadfile); the other 28 run here
HEAVY = {"central_flow_explorer", "transfer_explorer", "linear_scaling_explorer"}


def check_both_ends(factory):
    """Compute every live-only state with one knob at an end of its live range (as
    its control reports it, moved into range as the live explorer does) and check
    that the figure draws finite values; the static grid's own points are computed
    by the chapters' viz tests. Returns the computed panels, keyed by
    ``tuple(sorted(state.items()))``."""
    ex = explorer(factory)
    grid = ex.grid()
    panels = {}
    for state in (s for s in end_states(ex) if s not in grid):
        panel = ex.evaluate(**state)  # raises on any failure: the test fails
        drawn = 0
        for item in panel.curves:
            for a in _values(item):
                assert np.all(np.isfinite(a)), (state, item.id)
            drawn += int(_values(item)[-1].size > 0)
        assert drawn > 0, (state, "the figure draws nothing")
        panels[tuple(sorted(state.items()))] = panel
    return panels


@pytest.mark.statistical
@pytest.mark.parametrize(
    "factory",
    [f for f in FACTORIES if f.__name__ not in HEAVY],
    ids=[i for f, i in zip(FACTORIES, _IDS, strict=True) if f.__name__ not in HEAVY],
)
def test_every_explorer_computes_at_both_ends_of_every_live_range(factory):
    check_both_ends(factory)


def test_every_public_name_has_one_import_path():
    # lm_sims.sweep was the function and lm_sims/sweep.py a module of the same
    # name, so lm_sims.sweep.sweep (as docstrings cited it) failed
    for name in lm_sims.__all__:
        obj = getattr(lm_sims, name)
        spec = importlib.util.find_spec(f"lm_sims.{name}")
        if isinstance(obj, type(lm_sims)):
            assert obj.__name__ == f"lm_sims.{name}", name
        else:
            assert spec is None, f"lm_sims.{name} is both a {type(obj)} and a module"


@pytest.mark.slow
def test_pip_install_leaves_the_checkout_clean(tmp_path):
    # setuptools wrote build/ and lm_sims.egg-info/ into the checkout; needs pip
    # and the package index (for the build backend), hence slow
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    src = tmp_path / "src"
    for rel in filter(None, tracked):
        path = ROOT / rel.decode()
        if path.is_file():
            (src / rel.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / rel.decode())
    before = sorted(p.name for p in src.iterdir())
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
        + ["--target", str(target), str(src)],
        check=True,
        capture_output=True,
    )
    assert sorted(p.name for p in src.iterdir()) == before
    assert list(src.rglob("*.egg-info")) == [] and not (src / "build").exists()
    shipped = target / "lm_sims" / "reference"
    assert list(shipped.glob("*.npz")), "the package data did not ship"
