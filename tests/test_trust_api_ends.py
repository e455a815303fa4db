"""The live explorers whose range ends train for minutes (issue 12): each computes
a figure with finite values at both ends of every live range. Kept apart from
test_trust_api.py so that the statistical tier runs them on one worker while the
other worker runs the other files (--dist loadfile). The same end states serve
test_explorer's check that moving any live control changes the figure, done here for
these explorers so that each minutes-long state is computed once per CI run."""

import pytest
from explorer_grid import explorer
from test_explorer import moved_states, panel_data
from test_trust_api import _IDS, FACTORIES, HEAVY, check_both_ends

_HEAVY = [(f, i) for f, i in zip(FACTORIES, _IDS, strict=True) if f.__name__ in HEAVY]


def test_the_heavy_explorers_exist():
    # a renamed factory must not silently drop out of the end-of-range check
    assert sorted(f.__name__ for f, _ in _HEAVY) == sorted(HEAVY)


@pytest.mark.statistical
@pytest.mark.parametrize("factory", [f for f, _ in _HEAVY], ids=[i for _, i in _HEAVY])
def test_heavy_explorers_compute_at_both_ends_of_every_live_range(factory):
    panels = check_both_ends(factory)
    # and moving any live control changes the figure (test_explorer's check),
    # from the panels just computed where the moved state is one of them
    ex = explorer(factory)
    base, moves = moved_states(ex)
    for name, state in moves:
        moved = panels.get(tuple(sorted(state.items()))) or ex.evaluate(**state)
        assert (panel_data(moved), moved.note) != base, (name, state[name])
