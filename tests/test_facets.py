"""Facet reduction: same optimum, same network, every full sign constraint still holds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import facets_by_brute_lp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL
from cvxcnn.colgen import solve_colgen
from cvxcnn.facets import FacetReduction, cone_facet_mask, facet_row_mask, reduce_sign_rows
from cvxcnn.fitting import fit_relu
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
    clean = rng.random((1, 20))
    noisy = clean + 0.25 * rng.standard_normal(clean.shape)
    problem = make_problem(noisy, clean, kernel_size=3, bias=True)
    cells = enumerate_relu_patterns(problem.Y)
    subsets = [cells.masks, cells.masks[::5]]
    for masks in subsets:
        keep = facet_row_mask(masks, cells, problem.Y)
        assert keep.sum() <= 0.3 * keep.size
        full = fit_relu(problem, masks, beta=0.02, solver_options=TIGHT_CLARABEL, facets="off")
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


# --------------------------------------------------------------------------- #
# Sampled pattern sets: hull and LP reductions
# --------------------------------------------------------------------------- #


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 5), n=st.integers(6, 25))
def test_hull_and_lp_facets_match_brute_force(seed, d, n):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, d))
    Y[1] = 3.0 * Y[0]  # a duplicate direction: one constraint, kept once
    cells = sample_relu_patterns(Y, 6, random_state=seed)
    hull = cone_facet_mask(cells.masks, Y, method="hull")
    lp = cone_facet_mask(cells.masks, Y, method="lp")
    assert np.array_equal(hull.keep, lp.keep)
    assert not hull.keep[1].any()  # the parallel copy of row 0 is never needed
    for i in range(len(cells)):
        signs = 2 * cells.masks[i].astype(int) - 1  # every row, oriented by the pattern
        assert set(np.flatnonzero(hull.keep[:, i])) == facets_by_brute_lp(Y, signs)
    assert hull.rows_kept <= hull.rows_full


def test_rank_deficient_patches_reduce_in_the_row_space():
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((30, 2)) @ rng.standard_normal((2, 5))  # rank 2 in R^5
    cells = sample_relu_patterns(Y, 8, random_state=0)
    red = cone_facet_mask(cells.masks, Y, method="hull")
    # a cone in a 2-D row space has exactly 2 facets
    assert np.all(red.keep.sum(axis=0) == 2)
    assert red.full_cones == 0


def test_sampled_reduction_keeps_the_optimum_and_every_full_row(small_2d_problem):
    cells = sample_relu_patterns(small_2d_problem.Y, 40, random_state=1)
    full = fit_relu(small_2d_problem, cells, beta=1e-2, facets="off", solver_options=TIGHT_CLARABEL)
    reduced = fit_relu(
        small_2d_problem, cells, beta=1e-2, facets="hull", solver_options=TIGHT_CLARABEL
    )
    assert reduced.facets["method"] == "hull"
    # n = 50 < 20 d: too few rows per cone for "auto" to pay for Qhull
    assert fit_relu(small_2d_problem, cells, beta=1e-2).facets == {}
    assert reduced.constraint_rows < full.constraint_rows
    assert reduced.objective == pytest.approx(full.objective, rel=1e-6)
    assert reduced.primal_objective == pytest.approx(full.primal_objective, rel=1e-6)
    scale = max(np.abs(reduced.W).max(), np.abs(reduced.Z).max())
    assert sign_violation(reduced.W, reduced.Z, cells.masks, small_2d_problem.Y) <= 1e-6 * scale


def test_missing_facets_are_found_by_the_full_row_check(small_2d_problem):
    cells = sample_relu_patterns(small_2d_problem.Y, 20, random_state=2)
    full = fit_relu(small_2d_problem, cells, beta=1e-2, facets="off", solver_options=TIGHT_CLARABEL)
    red = cone_facet_mask(cells.masks, small_2d_problem.Y, method="hull")
    crippled = FacetReduction(np.zeros_like(red.keep), "hull", 0.0)  # drops every row
    fixed = fit_relu(
        small_2d_problem, cells, beta=1e-2, facets=crippled, solver_options=TIGHT_CLARABEL
    )
    assert fixed.facets["rounds"] >= 1
    assert fixed.objective == pytest.approx(full.objective, rel=1e-6)


def test_reduction_errors_name_the_fix(small_2d_problem):
    cells = sample_relu_patterns(small_2d_problem.Y, 5, random_state=0)
    with pytest.raises(ValueError, match="method must be one of"):
        reduce_sign_rows(cells, small_2d_problem.Y, method="qhull")
    with pytest.raises(ValueError, match="exact pattern set"):
        reduce_sign_rows(cells, small_2d_problem.Y, method="adjacency")
    with pytest.raises(ValueError, match="compute it for these patterns"):
        other = cone_facet_mask(cells.masks[:3], small_2d_problem.Y)
        fit_relu(small_2d_problem, cells, beta=1e-2, facets=other)


def test_parallel_reduction_equals_serial(small_2d_problem):
    cells = sample_relu_patterns(small_2d_problem.Y, 24, random_state=3)
    serial = reduce_sign_rows(cells, small_2d_problem.Y)
    parallel = reduce_sign_rows(cells, small_2d_problem.Y, n_jobs=2)
    assert np.array_equal(serial.keep, parallel.keep)
    # generators centred in batch vs one LP per cone: the same facets
    no_generators = reduce_sign_rows(cells.masks, small_2d_problem.Y)
    assert np.array_equal(serial.keep, no_generators.keep)
    with pytest.raises(ValueError, match="n_jobs"):
        reduce_sign_rows(cells, small_2d_problem.Y, n_jobs=0)
