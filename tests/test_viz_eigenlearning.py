"""Chapter 1.2 explorer (lm_sims.viz.eigenlearning): the learning curve is a band of
one standard error over trials around its mean. The simulation and theory behind it
are tested in test_eigenlearning.py."""

import numpy as np
from explorer_grid import grid

from lm_sims.viz import eigenlearning as ve


def test_learning_curve_band_contains_its_mean_at_every_grid_point():
    # the core returns the mean and its standard error: the band is mean +- 1 s.e.m.
    # (equal halves up to float64 rounding, 1e-12 relative) of nonzero width at all
    # 6 sample sizes, above zero (log axis); the learnabilities stay markers with
    # error bars
    for values, panel in grid(ve.eigenlearning_explorer):
        bands = [c for c in panel.curves if c.is_band]
        assert [c.name for c in bands] == ["test MSE"], values
        c = bands[0]
        assert c.band_label == "mean ± 1 s.e.m. over 16 trials"
        assert c.y.size == 6, values
        assert np.all(c.lower < c.y) and np.all(c.y < c.upper), values
        assert np.all(c.lower > 0), values  # drawn on a log axis
        np.testing.assert_allclose(c.y - c.lower, c.upper - c.y, rtol=1e-12)
        by_name = {c.name: c for c in panel.curves}
        assert by_name["learnability"].error_y is not None
