"""The live explorers whose range ends train for minutes (issue 12): each computes
a figure with finite values at both ends of every live range. Kept apart from
test_trust_api.py so that the statistical tier runs them on one worker while the
other worker runs the other files (--dist loadfile)."""

import pytest
from test_trust_api import _IDS, FACTORIES, HEAVY, check_both_ends

_HEAVY = [(f, i) for f, i in zip(FACTORIES, _IDS, strict=True) if f.__name__ in HEAVY]


def test_the_heavy_explorers_exist():
    # a renamed factory must not silently drop out of the end-of-range check
    assert sorted(f.__name__ for f, _ in _HEAVY) == sorted(HEAVY)


@pytest.mark.statistical
@pytest.mark.parametrize("factory", [f for f, _ in _HEAVY], ids=[i for _, i in _HEAVY])
def test_heavy_explorers_compute_at_both_ends_of_every_live_range(factory):
    check_both_ends(factory)
