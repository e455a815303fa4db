"""lm_sims: simulations and theory predictions for the Learning Mechanics book.

One module per phenomenon, each exposing ``Config``, ``init``, ``loss``, ``train``
and ``predict*`` where they apply; observables are pure functions beside them. The
core never imports plotting or widget libraries (those live in ``lm_sims.viz``).

Importing ``lm_sims`` does no work: the submodules (and the libraries they need,
such as Optax) load on first use, e.g. ``lm_sims.mlp`` or ``from lm_sims import
mlp`` (PEP 562 module ``__getattr__``). No JAX array is created and nothing is
compiled at import (``tests/test_import.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# the public submodules, loaded on first attribute access
_SUBMODULES = (
    "central_flow",
    "compilation_cache",
    "data",
    "deep_linear",
    "edge_of_stability",
    "eigenlearning",
    "feature_ansatz",
    "feature_learning",
    "hermite",
    "kernels",
    "lazy_rich",
    "learning_order",
    "mlp",
    "natural_data",
    "neural_collapse",
    "observables",
    "predictions",
    "representations",
    "scaling",
    "sgd_noise",
    "training",
    "transfer",
)
# public functions and classes: name -> the module that defines it
_ATTRIBUTES = {
    "PowerLawFit": "lm_sims.fitting",
    "power_law_fit": "lm_sims.fitting",
    "sweep": "lm_sims._sweep",
}

__all__ = [
    "PowerLawFit",
    "power_law_fit",
    "central_flow",
    "compilation_cache",
    "data",
    "deep_linear",
    "edge_of_stability",
    "eigenlearning",
    "feature_ansatz",
    "feature_learning",
    "hermite",
    "kernels",
    "learning_order",
    "lazy_rich",
    "mlp",
    "natural_data",
    "neural_collapse",
    "observables",
    "predictions",
    "representations",
    "scaling",
    "sgd_noise",
    "sweep",
    "training",
    "transfer",
]
__version__ = "0.1.0"

if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from lm_sims import (  # noqa: F401
        central_flow,
        compilation_cache,
        data,
        deep_linear,
        edge_of_stability,
        eigenlearning,
        feature_ansatz,
        feature_learning,
        hermite,
        kernels,
        lazy_rich,
        learning_order,
        mlp,
        natural_data,
        neural_collapse,
        observables,
        predictions,
        representations,
        scaling,
        sgd_noise,
        training,
        transfer,
    )
    from lm_sims._sweep import sweep  # noqa: F401
    from lm_sims.fitting import PowerLawFit, power_law_fit  # noqa: F401


def __getattr__(name: str):
    """Load a public submodule or name on first access (PEP 562)."""
    if name in _SUBMODULES:
        value = importlib.import_module(f"lm_sims.{name}")
    elif name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    else:
        raise AttributeError(f"module 'lm_sims' has no attribute {name!r}")
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
