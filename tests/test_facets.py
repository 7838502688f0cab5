"""Facet reduction: same optimum, same network, every full sign constraint still holds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certify import TIGHT_CLARABEL
from cvxcnn.colgen import solve_colgen
from cvxcnn.facets import facet_row_mask
from cvxcnn.fit import fit_relu
from cvxcnn.problem import make_problem, problem_from_matrix
from cvxcnn.programs.relu import sign_violation


def _lp_is_redundant(A: np.ndarray, j: int) -> bool:
    """Row j of {w: A w >= 0} is redundant iff min a_j^T w over the others (box) is >= 0."""
    others = np.delete(A, j, axis=0)
    res = linprog(A[j], A_ub=-others, b_ub=np.zeros(len(others)), bounds=[(-1, 1)] * A.shape[1])
    return res.status == 0 and res.fun >= -1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_facets_match_an_lp_redundancy_check(seed):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((9, 3))
    Y[3] = -2 * Y[1]  # an anti-parallel row: same hyperplane
    cells = enumerate_relu_patterns(Y)
    keep = facet_row_mask(cells.masks, cells, Y)
    for i in range(0, len(cells), 7):
        A = (2.0 * cells.masks[i] - 1.0)[:, None] * Y
        for j in range(len(Y)):
            same = np.flatnonzero(
                np.all(
                    np.isclose(
                        np.abs(A / np.linalg.norm(A, axis=1)[:, None]),
                        np.abs(A[j] / np.linalg.norm(A[j])),
                    ),
                    axis=1,
                )
            )
            B = np.delete(A, [k for k in same if k != j], axis=0)
            jj = j - sum(1 for k in same if k < j and k != j)
            assert keep[j, i] == (not _lp_is_redundant(B, jj))


def test_reduced_program_has_the_same_optimum_and_network(rng):
    clean = rng.random((1, 30))
    noisy = clean + 0.25 * rng.standard_normal(clean.shape)
    problem = make_problem(noisy, clean, kernel_size=3, bias=True)
    cells = enumerate_relu_patterns(problem.Y)
    subsets = [cells.masks, cells.masks[::5]]
    for masks in subsets:
        keep = facet_row_mask(masks, cells, problem.Y)
        assert keep.sum() <= 0.3 * keep.size
        full = fit_relu(problem, masks, beta=0.02, solver_options=TIGHT_CLARABEL)
        reduced = fit_relu(problem, masks, beta=0.02, solver_options=TIGHT_CLARABEL, row_mask=keep)
        assert reduced.objective == pytest.approx(full.objective, rel=1e-7)
        assert reduced.constraint_rows == 2 * keep.sum()
        # every row of every cell, not only the kept ones
        assert sign_violation(reduced.W, reduced.Z, masks, problem.Y) < 1e-8
        assert reduced.primal_objective == pytest.approx(full.primal_objective, rel=1e-6)
        assert reduced.kkt["stationarity"] < 1e-5


def test_colgen_with_and_without_facet_reduction_agree(rng):
    problem = problem_from_matrix(rng.standard_normal((16, 3)), rng.standard_normal(16))
    cells = enumerate_relu_patterns(problem.Y)
    a = solve_colgen(problem, cells, beta=0.05, facet_reduction=True)
    b = solve_colgen(problem, cells, beta=0.05, facet_reduction=False)
    assert a.certificate.upper_bound == pytest.approx(b.certificate.upper_bound, rel=1e-7)
    assert a.certificate.certified and a.certificate.relative_gap <= 1e-6


def test_sampled_cells_are_refused(rng):
    Y = rng.standard_normal((8, 2))
    with pytest.raises(ValueError, match="exact pattern set"):
        facet_row_mask(np.ones((1, 8), bool), sample_relu_patterns(Y, 3), Y)
