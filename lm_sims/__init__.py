"""lm_sims: simulations and theory predictions for the Learning Mechanics book.

One module per phenomenon, each exposing ``Config``, ``init``, ``loss``, ``train``
and ``predict*`` where they apply; observables are pure functions beside them. The
core never imports plotting or widget libraries (those live in ``lm_sims.viz``).
"""

from lm_sims import (
    data,
    deep_linear,
    edge_of_stability,
    eigenlearning,
    feature_ansatz,
    feature_learning,
    kernels,
    lazy_rich,
    mlp,
    neural_collapse,
    observables,
    scaling,
    training,
)
from lm_sims.fitting import PowerLawFit, power_law_fit
from lm_sims.sweep import sweep

__all__ = [
    "PowerLawFit",
    "power_law_fit",
    "data",
    "deep_linear",
    "edge_of_stability",
    "eigenlearning",
    "feature_ansatz",
    "feature_learning",
    "kernels",
    "lazy_rich",
    "mlp",
    "neural_collapse",
    "observables",
    "scaling",
    "sweep",
    "training",
]
__version__ = "0.1.0"
