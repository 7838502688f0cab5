"""Active-set beta paths, the oracle's per-set threshold mode, and the direct backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import noisy_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL
from cvxcnn.fitting import fit_relu
from cvxcnn.oracle import relu_oracle
from cvxcnn.path import solve_path

BETAS = [1.0, 0.2, 0.05, 0.01]


@pytest.fixture
def digits_like_problem():
    return noisy_problem(3, (2, 6, 6), 0.2, kernel_size=3)


def test_path_matches_fresh_full_solves(digits_like_problem):
    cells = sample_relu_patterns(digits_like_problem.Y, 150, random_state=0)
    path = solve_path(digits_like_problem, cells, BETAS, initial=20, tol=1e-5, facets="hull")
    assert [p.beta for p in path.points] == BETAS
    for point in path.points:
        fresh = fit_relu(digits_like_problem, cells, beta=point.beta, facets="off")
        assert point.converged
        assert point.fit.objective == pytest.approx(fresh.objective, rel=1e-6)
        assert point.lower_bound <= point.fit.primal_objective + 1e-9
        assert not point.fit.exact_arrangement  # sampled: optimal over the set only
    # the path never needed the whole set in one program
    assert max(p.working_set for p in path.points) < len(cells)
    assert path.facets["method"] == "hull"
    assert path.to_dict()["points"][0]["rounds"] >= 1


def test_path_over_every_cell_is_the_global_optimum():
    problem = noisy_problem(5, (1, 14), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    path = solve_path(problem, cells, [0.1, 0.02], solver_options=TIGHT_CLARABEL, tol=1e-6)
    for point in path.points:
        full = fit_relu(problem, cells, beta=point.beta, solver_options=TIGHT_CLARABEL)
        assert point.converged and point.fit.exact_arrangement
        assert point.fit.objective == pytest.approx(full.objective, rel=1e-7)
        assert point.set_gap <= 1e-5
    assert path.facets["method"] == "adjacency"


def test_path_errors_name_the_argument(digits_like_problem):
    cells = sample_relu_patterns(digits_like_problem.Y, 5, random_state=0)
    with pytest.raises(ValueError, match="betas is empty"):
        solve_path(digits_like_problem, cells, [])
    with pytest.raises(ValueError, match="beta"):
        solve_path(digits_like_problem, cells, [0.1, -1.0])
    with pytest.raises(ValueError, match="initial"):
        solve_path(digits_like_problem, cells, [0.1], initial=0)
    with pytest.raises(ValueError, match=r"\(P, n\)"):
        solve_path(digits_like_problem, np.ones((2, 3), bool), [0.1])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_threshold_mode_lists_every_cell_above_the_threshold(seed):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((12, 3))
    g = rng.standard_normal(12)
    masks = sample_relu_patterns(Y, 15, random_state=seed).masks
    # each cell alone, nothing to prune against: its exact value
    alone = np.array([relu_oracle(Y, g, m[None], threshold=0.0).cell_lower[0] for m in masks])
    t = float(np.median(alone))
    together = relu_oracle(Y, g, masks, threshold=t)
    clear = np.abs(alone - t) > 1e-7 * max(t, 1.0)
    assert np.array_equal((together.cell_lower > t)[clear], (alone > t)[clear])
    assert together.lower == pytest.approx(alone.max(), rel=1e-7)
    assert together.lower <= together.upper + 1e-12


def test_direct_backend_matches_cvxpy(digits_like_problem):
    cells = sample_relu_patterns(digits_like_problem.Y, 30, random_state=1)
    a = fit_relu(digits_like_problem, cells, beta=0.05)
    b = fit_relu(digits_like_problem, cells, beta=0.05, backend="direct")
    assert b.objective == pytest.approx(a.objective, rel=1e-6)
    assert b.constraint_rows == a.constraint_rows
    assert b.solve.solver_stats["interface"] == "direct"
    with pytest.raises(ValueError, match="backend must be"):
        fit_relu(digits_like_problem, cells, beta=0.05, backend="scipy")
    with pytest.raises(ValueError, match="Clarabel"):
        fit_relu(digits_like_problem, cells, beta=0.05, backend="direct", solver="SCS")
