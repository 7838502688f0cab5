"""Facet reduction of program 6a: same optimum, same network, every full row still holds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import facets_by_brute_lp, noisy_problem

from cvxcnn.certificates import TIGHT_CLARABEL
from cvxcnn.facets import FacetReduction
from cvxcnn.fitting import fit_st
from cvxcnn.soft_threshold import (
    build_st_program,
    sample_st_triples,
)
from cvxcnn.soft_threshold.facets import (
    st_facet_reduction,
    st_row_signs,
    st_violated_dropped_rows,
)
from cvxcnn.soft_threshold.programs import st_cell_violation
from cvxcnn.soft_threshold.triples import augmented_matrix

BETA = 0.05


@pytest.fixture(scope="module")
def problem_2d():
    """Two noisy 5x5 images, 3x3 kernel: n = 50, d = 9, rank([Y, 1]) = 10."""
    return noisy_problem(3, (2, 5, 5), 0.2, kernel_size=3)


@pytest.fixture(scope="module")
def sampled_triples(problem_2d):
    return sample_st_triples(problem_2d.Y, 20, random_state=1)


def _full_rows_hold(result, triples, Y, tol: float) -> None:
    """Every 6a row (not only the kept ones) of both blocks, relative to the largest block."""
    live = np.flatnonzero(triples.live)
    s1, s3 = triples.s1[live], triples.s3[live]
    scale = max(np.abs(result.W).max(), np.abs(result.Wp).max(), np.abs(result.T).max(), 1.0)
    assert st_cell_violation(result.W, result.T, s1, s3, Y) <= tol * scale
    assert st_cell_violation(result.Wp, result.Tp, s1, s3, Y) <= tol * scale


def _same_fit(reduced, full) -> None:
    assert reduced.success and full.success
    assert reduced.objective == pytest.approx(full.objective, rel=1e-6)
    assert reduced.primal_objective == pytest.approx(full.primal_objective, rel=1e-6)
    assert reduced.primal_objective == pytest.approx(reduced.objective, rel=1e-6)


# --------------------------------------------------------------------------- #
# Sign vectors
# --------------------------------------------------------------------------- #


def test_sign_vectors_encode_the_rows_the_program_builds(tiny_1d_st):
    problem_1d, exact_triples = tiny_1d_st
    signs = st_row_signs(exact_triples)
    n = problem_1d.n
    assert signs.shape == (len(exact_triples), 2 * n + 1) and signs.dtype == np.int8
    # the full program has exactly the nonzero signs of the live triples, for w and w'
    program = build_st_program(problem_1d, exact_triples, beta=BETA)
    assert program.row_mask is None
    live = exact_triples.live
    assert program.constraint_rows == program.constraint_rows_full
    assert program.constraint_rows_full == 2 * np.count_nonzero(signs[live])
    # each generator (u, t) lies strictly inside its own cone
    x = np.column_stack([exact_triples.generators, exact_triples.thresholds])
    values = signs * (x @ augmented_matrix(problem_1d.Y).T)
    assert np.all(values[signs != 0] > 0)


# --------------------------------------------------------------------------- #
# (a) exact triples, (b) sampled triples: same optimum, fewer rows
# --------------------------------------------------------------------------- #


def test_exact_triples_reduced_program_has_the_same_optimum(tiny_1d_st):
    problem_1d, exact_triples = tiny_1d_st
    full = fit_st(problem_1d, exact_triples, beta=BETA, solver_options=TIGHT_CLARABEL, facets="off")
    reduced = fit_st(
        problem_1d, exact_triples, beta=BETA, solver_options=TIGHT_CLARABEL, facets="hull"
    )
    _same_fit(reduced, full)
    assert full.facets == {} and full.constraint_rows == full.constraint_rows_full
    assert reduced.facets["method"] == "hull" and reduced.facets["rounds"] == 0
    assert "fallback" not in reduced.facets
    assert reduced.constraint_rows < 0.5 * reduced.constraint_rows_full
    assert reduced.constraint_rows_full == full.constraint_rows_full
    _full_rows_hold(reduced, exact_triples, problem_1d.Y, 1e-8)
    out = reduced.to_dict()
    assert out["constraint_rows"] == reduced.constraint_rows
    assert out["constraint_rows_full"] == full.constraint_rows_full
    assert out["facets"]["rows_kept"] < out["facets"]["rows_full"]
    # a precomputed reduction gives the same program
    red = st_facet_reduction(exact_triples, problem_1d.Y)
    again = fit_st(problem_1d, exact_triples, beta=BETA, solver_options=TIGHT_CLARABEL, facets=red)
    assert again.constraint_rows == reduced.constraint_rows
    assert again.objective == pytest.approx(reduced.objective, rel=1e-9)


def test_sampled_triples_reduced_program_has_the_same_optimum(problem_2d, sampled_triples):
    full = fit_st(
        problem_2d, sampled_triples, beta=1e-2, solver_options=TIGHT_CLARABEL, facets="off"
    )
    reduced = fit_st(
        problem_2d, sampled_triples, beta=1e-2, solver_options=TIGHT_CLARABEL, facets="hull"
    )
    _same_fit(reduced, full)
    assert reduced.facets["method"] == "hull" and reduced.facets["rounds"] == 0
    assert reduced.constraint_rows < full.constraint_rows == full.constraint_rows_full
    _full_rows_hold(reduced, sampled_triples, problem_2d.Y, 1e-7)


# --------------------------------------------------------------------------- #
# (c) the full-row check repairs a bad reduction
# --------------------------------------------------------------------------- #


def test_full_row_check_recovers_from_a_crippled_reduction(tiny_1d_st):
    problem_1d, exact_triples = tiny_1d_st
    full = fit_st(problem_1d, exact_triples, beta=BETA, solver_options=TIGHT_CLARABEL, facets="off")
    n_rows = 2 * problem_1d.n + 1
    crippled = FacetReduction(np.zeros((n_rows, len(exact_triples)), bool), "hull", 0.0)
    fixed = fit_st(
        problem_1d, exact_triples, beta=BETA, solver_options=TIGHT_CLARABEL, facets=crippled
    )
    assert fixed.facets["rounds"] >= 1 and fixed.facets["rows_added"] > 0
    assert "fallback" not in fixed.facets
    assert fixed.objective == pytest.approx(full.objective, rel=1e-6)
    _full_rows_hold(fixed, exact_triples, problem_1d.Y, 1e-8)


def test_full_row_check_adds_back_missing_facets(problem_2d, sampled_triples):
    """Drop the tightest facet of every cone: only violated rows come back, optimum intact."""
    full = fit_st(
        problem_2d, sampled_triples, beta=1e-2, solver_options=TIGHT_CLARABEL, facets="off"
    )
    red = st_facet_reduction(sampled_triples, problem_2d.Y)
    keep = red.keep.copy()
    x = np.column_stack([sampled_triples.generators, sampled_triples.thresholds])
    slack = st_row_signs(sampled_triples).T * (augmented_matrix(problem_2d.Y) @ x.T)
    tightest = np.argmin(np.where(keep, slack, np.inf), axis=0)
    keep[tightest, np.arange(keep.shape[1])] = False
    fixed = fit_st(
        problem_2d,
        sampled_triples,
        beta=1e-2,
        solver_options=TIGHT_CLARABEL,
        facets=FacetReduction(keep, "hull", 0.0),
    )
    assert fixed.objective == pytest.approx(full.objective, rel=1e-6)
    assert fixed.facets["rounds"] >= 1 and "fallback" not in fixed.facets
    assert 0 < fixed.facets["rows_added"] <= len(sampled_triples)  # only the dropped facets
    _full_rows_hold(fixed, sampled_triples, problem_2d.Y, 1e-7)


def test_violation_check_flags_only_dropped_violated_rows():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    tr = sample_st_triples(Y, 1, random_state=0)
    signs = st_row_signs(tr)
    Yt = augmented_matrix(Y)
    x = np.concatenate([tr.generators[0], tr.thresholds])
    W, T = x[:2, None], x[2:]
    keep = signs.T != 0
    none = st_violated_dropped_rows(W, W, T, T, signs, Yt, keep)
    assert not none.any()
    bad_W = -W  # violates the rows with a strict sign
    dropped = np.zeros_like(keep)
    flagged = st_violated_dropped_rows(bad_W, W, T, T, signs, Yt, dropped)
    assert flagged.any() and not (flagged & ~keep).any()


# --------------------------------------------------------------------------- #
# (d) independent LP check of the kept and dropped rows
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("which", ["exact", "sampled"])
def test_kept_rows_are_facets_and_dropped_rows_redundant_by_lp(
    which, tiny_1d_st, problem_2d, sampled_triples
):
    problem_1d, exact_triples = tiny_1d_st
    if which == "exact":
        Y, triples = problem_1d.Y, exact_triples.subset(slice(0, None, 29))
    else:
        Y, triples = problem_2d.Y, sampled_triples.subset(slice(0, 4))
    signs = st_row_signs(triples)
    Yt = augmented_matrix(Y)
    hull = st_facet_reduction(triples, Y, method="hull")
    lp = st_facet_reduction(triples, Y, method="lp")
    assert np.array_equal(hull.keep, lp.keep)
    assert hull.full_cones == 0
    assert not (hull.keep & (signs.T == 0)).any()  # never a row the triple does not have
    for j in range(len(triples)):
        assert set(np.flatnonzero(hull.keep[:, j])) == facets_by_brute_lp(Yt, signs[j])


# --------------------------------------------------------------------------- #
# Errors and the paper form
# --------------------------------------------------------------------------- #


def test_errors_name_the_fix(tiny_1d_st):
    problem_1d, exact_triples = tiny_1d_st
    with pytest.raises(ValueError, match="compute it for these"):
        other = st_facet_reduction(exact_triples.subset(slice(0, 3)), problem_1d.Y)
        fit_st(problem_1d, exact_triples, beta=BETA, facets=other)
    with pytest.raises(ValueError, match="adjacency does not apply"):
        fit_st(problem_1d, exact_triples, beta=BETA, facets="adjacency")
    with pytest.raises(ValueError, match="row_mask must be a bool array"):
        fit_st(problem_1d, exact_triples, beta=BETA, row_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="form='exact'"):
        fit_st(problem_1d, exact_triples, form="paper", threshold=0.1, beta=BETA, facets="hull")


def test_paper_form_reports_its_rows(tiny_1d_st):
    problem_1d, exact_triples = tiny_1d_st
    res = fit_st(problem_1d, exact_triples, form="paper", threshold=0.1, beta=BETA)
    assert res.facets == {}
    assert 0 < res.constraint_rows == res.constraint_rows_full
    assert res.to_dict()["constraint_rows_full"] == res.constraint_rows_full
