"""Infinite-width kernels of deep fully connected networks, and kernel dynamics.

Analytic NNGP and NTK Gram matrices by the layer-by-layer recursions, the signal
propagation maps of mean-field theory (order vs chaos) and their iteration through
depth, the empirical NTK of any JAX network, the closed-form training dynamics of a
linearised network, and the finite-network simulations these predict: output samples
and pre-activations of random networks at initialisation, and the NTK-regime width
scan (networks trained on a circle against kernel gradient descent).

The code lives in private modules (``_dual_kernels``, ``_signal_propagation``,
``_empirical_ntk``, ``_linearized``, ``_random_networks``, ``_ntk_scan``), one per
concept; import every name from here.

**Parameterisation (the NTK parameterisation).** A network with ``depth`` hidden
layers of width ``n`` maps an input ``x`` of dimension ``d`` to

.. math::

    h^1 = \\frac{\\sigma_w}{\\sqrt d} W^1 x + \\sigma_b b^1,\\qquad
    h^{l+1} = \\frac{\\sigma_w}{\\sqrt n} W^{l+1} \\phi(h^l) + \\sigma_b b^{l+1},
    \\qquad f = h^{L+1},

with every entry of every ``W`` and ``b`` drawn from ``N(0, 1)`` and every tensor
trained by gradient descent at the same learning rate. As ``n -> infinity`` the output
at initialisation is a Gaussian process with covariance :func:`nngp`, and gradient
descent moves it with the fixed kernel :func:`ntk`. The networks built by
``lm_sims.mlp`` with ``parameterization="ntk"`` are exactly these, so their
:func:`empirical_ntk` converges to :func:`ntk` at rate ``n^-1/2``.

**Input normalisation.** The first layer divides by ``sqrt(d)``, so the layer-1
covariance is ``sigma_w2 * x.x' / d + sigma_b2``: inputs are meant to have
coordinates of order one (``|x|^2 ~ d``). For inputs on the unit sphere, multiply them
by ``sqrt(d)``; then ``depth=1, sigma_w2=1, sigma_b2=0`` gives the book's two-layer
ReLU kernel :func:`ntk_relu_sphere`.

**Recursions** (``Sigma`` = NNGP, ``Theta`` = NTK, expectations over
``(u, v) ~ N(0, [[Sigma(x,x), Sigma(x,x')], [Sigma(x,x'), Sigma(x',x')]])``)::

    Sigma^1 = Theta^1 = sigma_w2 x.x'/d + sigma_b2
    Sigma^{l+1} = sigma_w2 E[phi(u) phi(v)] + sigma_b2
    Theta^{l+1} = Sigma^{l+1} + sigma_w2 E[phi'(u) phi'(v)] Theta^l

for ``l = 1..depth``; the output kernels are ``Sigma^{depth+1}``, ``Theta^{depth+1}``.
The Gaussian expectations are closed forms: the arc-cosine kernel for ReLU (Cho &
Saul 2009) and Williams' arcsine kernel for erf (Williams 1997). For every activation
the covariance is clipped to ``+-sqrt(Sigma(x,x) Sigma(x',x'))`` (the correlation to
[-1, 1]) before the dual is evaluated, and an input paired with itself (correlation 1
to rounding, equal lengths) stays exactly on the length recursion: the Gram matrix's
diagonal is :func:`nngp_diag` and no implied correlation leaves [-1, 1], at any depth
and in the chaotic phase. ``1 - c^2`` is formed as ``(1 - c)(1 + c)``, and the ReLU
NTK carries ``sqrt(Sigma Sigma') - Sigma(x, x') >= 0`` through the layers, so near
``c = 1`` (deep ordered networks, nearby inputs) no digits cancel: the kernels agree
with a 40-digit reference to 1e-12 at depths 1-100 (``tests/test_kernels_exact.py``).
The loop over layers is a ``lax.fori_loop``: any depth compiles once, in about a
second.

**Precision.** :func:`nngp`, :func:`ntk`, :func:`nngp_and_ntk`, :func:`nngp_diag`,
:func:`ntk_relu_sphere`, :func:`length_map` and :func:`correlation_map` compute in
float64 whatever JAX's mode (inside a ``jax.enable_x64(True)`` context, leaving the
global setting alone) and return NumPy float64 arrays: exact in NumPy, and ordinary
``jnp`` code converts them to the caller's default dtype without warnings.
:func:`empirical_ntk` differentiates the caller's network and returns a JAX array in
the dtype of its parameters.

References:
    Neal, "Bayesian Learning for Neural Networks", 1996.
    Williams, "Computing with infinite networks", NeurIPS 1997.
    Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009.
    Poole et al., "Exponential expressivity in deep neural networks through transient
    chaos", 2016, arXiv:1606.05340.
    Lee et al., "Deep neural networks as Gaussian processes", 2018, arXiv:1711.00165.
    Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and generalization
    in neural networks", 2018, arXiv:1806.07572.
    Lee et al., "Wide neural networks of any depth evolve as linear models under
    gradient descent", 2019, arXiv:1902.06720.
    Novak et al., "Fast finite width neural tangent kernel", 2022, arXiv:2206.08720.
"""

from lm_sims._dual_kernels import (
    ACTIVATIONS,
    Config,
    circle,
    nngp,
    nngp_and_ntk,
    nngp_diag,
    ntk,
    ntk_relu_sphere,
)
from lm_sims._empirical_ntk import empirical_ntk
from lm_sims._linearized import LinearizedPrediction, predict_linearized
from lm_sims._signal_propagation import (
    chi,
    correlation_map,
    length_fixed_point,
    length_map,
    signal_propagation_theory,
    stable_correlation,
)

# isort: split
# Last: these build on lm_sims.mlp, which itself imports this module (for
# ACTIVATIONS, ntk, empirical_ntk, predict_linearized, all bound above).
from lm_sims._ntk_scan import (
    NTK_SEEDS,
    NTK_STEPS,
    NTK_WIDTHS,
    TARGETS,
    NTKScan,
    ntk_config,
    ntk_gap_parts,
    ntk_width_scan,
)
from lm_sims._random_networks import output_samples, preactivations

__all__ = [
    "ACTIVATIONS",
    "NTK_SEEDS",
    "NTK_STEPS",
    "NTK_WIDTHS",
    "TARGETS",
    "Config",
    "LinearizedPrediction",
    "NTKScan",
    "chi",
    "circle",
    "correlation_map",
    "empirical_ntk",
    "length_fixed_point",
    "length_map",
    "nngp",
    "nngp_and_ntk",
    "nngp_diag",
    "ntk",
    "ntk_config",
    "ntk_gap_parts",
    "ntk_relu_sphere",
    "ntk_width_scan",
    "output_samples",
    "predict_linearized",
    "preactivations",
    "signal_propagation_theory",
    "stable_correlation",
]

# Documented (API page, help()) as members of this module, where they are imported
for _name in __all__:
    _obj = globals()[_name]
    if callable(_obj) and getattr(_obj, "__module__", "").startswith("lm_sims._"):
        _obj.__module__ = __name__
del _name, _obj
