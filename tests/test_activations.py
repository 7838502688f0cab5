"""The searched-set and backend guards live once in ``Activation``: checked for every activation."""

import numpy as np
import pytest

from cvxcnn import fit
from cvxcnn.activations import ACTIVATIONS
from cvxcnn.problem import make_problem

ACTS = sorted(ACTIVATIONS)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 12))
    return make_problem(x, x, kernel_size=2, spatial_dims=1, padding="valid")


@pytest.fixture(params=ACTS)
def searched(request):
    act = ACTIVATIONS[request.param]
    problem = _problem()
    return act, problem, act.search_all(problem.Y, time_limit=5.0)


def test_a_searched_set_is_checked_through_its_known_cells_and_tied_to_its_Y(searched):
    act, problem, cells = searched
    assert act.is_searched(cells) and not act.is_searched(cells.known)
    assert act.check_cells(cells, problem.n) is cells
    with pytest.raises(ValueError):
        act.check_cells(cells, problem.n + 1)  # its known cells have n rows
    assert act.verify_exact(cells, problem.Y)
    moved = problem.Y.copy()
    moved[0, 0] += 1.0
    assert not act.verify_exact(cells, moved)


def test_subset_of_a_searched_set_is_a_listed_subset_of_its_known_cells(searched):
    act, _, cells = searched
    index = np.arange(min(2, len(cells.known)))
    part = act.subset(cells, index)
    assert not act.is_searched(part) and not part.exact
    assert np.array_equal(act.cell_bits(part), act.cell_bits(cells.known)[index])


def test_no_program_over_a_searched_set(searched):
    act, problem, cells = searched
    with pytest.raises(TypeError, match=type(cells).__name__ + ".*cells.known"):
        fit(problem, cells, beta=0.1)
    with pytest.raises(TypeError, match="cells.known"):
        act.facet_reduction(problem, cells, "auto", None)


@pytest.mark.parametrize("name", ACTS)
def test_time_limit_is_refused_for_listed_cells(name):
    act = ACTIVATIONS[name]
    problem = _problem(1)
    cells = act.sample(problem.Y, 5, random_state=0)
    with pytest.raises(ValueError, match="time_limit applies to the MIP oracle"):
        act.oracle(problem.Y, np.ones(problem.n), cells, time_limit=1.0)


@pytest.mark.parametrize("name", ACTS)
def test_a_backend_the_activation_does_not_build_is_refused(name):
    act = ACTIVATIONS[name]
    problem = _problem(2)
    cells = act.sample(problem.Y, 5, random_state=0)
    with pytest.raises(ValueError, match=f"backend must be one of .* for the {name} activation"):
        fit(problem, cells, beta=0.1, backend="nope")
    for backend in act.backends:  # every declared backend builds and solves
        assert fit(problem, cells, beta=0.1, backend=backend).status == "optimal"


def test_relu_raw_int_masks_are_checked_and_selected_as_bool():
    act = ACTIVATIONS["relu"]
    problem = _problem(3)
    masks = act.sample(problem.Y, 4, random_state=0).masks.astype(int)
    checked = act.check_cells(masks, problem.n)
    assert checked.dtype == bool and act.subset(checked, [0, 1]).dtype == bool


def test_the_one_cells_oracle_keeps_its_bracket_consistent(searched):
    """``SearchedCells.bracket``: lower at least every cell's value, at most upper."""
    act, problem, cells = searched
    g = np.random.default_rng(5).standard_normal(problem.n)
    res = act.oracle(problem.Y, g, cells, time_limit=20.0)
    assert res.converged and res.lower <= res.upper
    assert res.lower >= res.cell_lower.max()
    assert np.all(res.cell_upper <= res.upper)
    again = act.oracle(problem.Y, g, res.cells or cells)  # a converged answer is reused
    assert again.upper == res.upper
