"""Importing lm_sims does no work (issue 11): no JAX array, no trace or compilation,
no backend started, and no plotting or widget library, both for ``import lm_sims``
(whose submodules load on first use) and after loading every public submodule.
How long the import takes is measured in benchmarks/bench_import.py (no timed
assertion here)."""

import json
import subprocess
import sys

import lm_sims

_PROBE = """
import json, sys
import jax, jax.monitoring as monitoring
events = []
monitoring.register_event_duration_secs_listener(lambda e, d, **k: events.append(e))
monitoring.register_event_listener(lambda e, **k: events.append(e))
from jax._src import xla_bridge

def state():
    # the backends first: jax.live_arrays() itself starts the CPU backend
    out = {
        "jax_events": list(events),
        "backends_started": sorted(xla_bridge._backends),
        "plotting": sorted(
            m for m in sys.modules
            if m.split(".")[0] in ("plotly", "ipywidgets", "matplotlib", "IPython")
        ),
    }
    return out

import lm_sims
after_import = state()
loaded = sorted(m for m in sys.modules if m.startswith("lm_sims"))
for name in lm_sims.__all__:
    getattr(lm_sims, name)
after_all = state()
arrays = len(jax.live_arrays())
print(json.dumps(
    {"import": after_import, "loaded": loaded, "all": after_all, "arrays": arrays}
))
"""

_NOTHING = {"jax_events": [], "backends_started": [], "plotting": []}


def _probe():
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_and_every_public_submodule_do_no_jax_work():
    out = _probe()
    assert out["import"] == _NOTHING
    # the submodules load on first use, not at import
    assert out["loaded"] == ["lm_sims"]
    # loading every public module (the imports a chapter triggers) creates no
    # array either: no module-level jnp constants, no jit run at import
    assert out["all"] == _NOTHING
    assert out["arrays"] == 0


def test_the_probe_can_fail():
    # the same probe sees an array created and a compilation run (a test that
    # cannot fail is a defect)
    code = _PROBE.replace(
        "import lm_sims\nafter_import",
        "import lm_sims\nx = jax.jit(lambda a: a + 1)(jax.numpy.ones(2))\nafter_import",
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["arrays"] >= 1 and out["import"]["backends_started"]
    assert "/jax/core/compile/backend_compile_duration" in out["import"]["jax_events"]


def test_lazy_names_resolve_to_the_modules_and_functions():
    from lm_sims._sweep import sweep
    from lm_sims.fitting import PowerLawFit

    assert lm_sims.sweep is sweep and lm_sims.PowerLawFit is PowerLawFit
    assert lm_sims.mlp.__name__ == "lm_sims.mlp"
    assert set(lm_sims.__all__) <= set(dir(lm_sims))
    try:
        lm_sims.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("lm_sims.no_such_name did not raise AttributeError")
