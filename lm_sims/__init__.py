"""lm_sims: simulations and theory predictions for the Learning Mechanics book.

One module per phenomenon, each exposing ``Config``, ``init``, ``loss``, ``train``
and ``predict*`` where they apply; observables are pure functions beside them. The
core never imports plotting or widget libraries (those live in ``lm_sims.viz``).
"""

from lm_sims import (
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
    representations,
    scaling,
    sgd_noise,
    training,
    transfer,
)
from lm_sims._sweep import sweep
from lm_sims.fitting import PowerLawFit, power_law_fit

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
    "representations",
    "scaling",
    "sgd_noise",
    "sweep",
    "training",
    "transfer",
]
__version__ = "0.1.0"
