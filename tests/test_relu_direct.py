"""The direct Clarabel path: same optimum and network as the CVXPY reference, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL
from cvxcnn.facets import facet_row_mask
from cvxcnn.losses import HuberLoss, get_loss
from cvxcnn.problem import make_problem, problem_from_matrix
from cvxcnn.programs.relu import build_relu_program, convex_objective
from cvxcnn.programs.relu_direct import build_relu_conic, fit_relu_direct
from cvxcnn.programs.relu_result import result_from_program
from cvxcnn.solve import solve_cvxpy

BETA = 0.05
REL = 1e-6  # both paths solve to TIGHT_CLARABEL; the optima agree far below this


def fit_relu(problem, patterns, *, beta, loss="squared", row_mask=None, options=TIGHT_CLARABEL):
    """The CVXPY reference on the very same program (every row, or exactly ``row_mask``).

    What :func:`cvxcnn.fitting.fit_relu` does without its own row reduction.
    """
    program = build_relu_program(problem, patterns, beta=beta, loss=loss, row_mask=row_mask)
    info = solve_cvxpy(program.problem, "CLARABEL", solver_options=options)
    return result_from_program(program, info, exact=bool(getattr(patterns, "exact", False)))


def _signals(readout: str, bias: bool, n_images: int = 2, length: int = 6, seed: int = 7):
    rng = np.random.default_rng(seed)
    clean = rng.random((n_images, length))
    noisy = clean + 0.3 * rng.standard_normal(clean.shape)
    target = clean if readout == "identity" else clean.sum(axis=1)
    return make_problem(noisy, target, kernel_size=2, bias=bias, readout=readout)


def _images(readout: str, bias: bool):
    rng = np.random.default_rng(3)
    clean = rng.random((2, 4, 4))
    noisy = clean + 0.2 * rng.standard_normal(clean.shape)
    target = clean if readout == "identity" else clean.mean(axis=(1, 2))
    return make_problem(noisy, target, kernel_size=3, bias=bias, readout=readout)


def _assert_same_fit(direct, reference):
    assert direct.success and reference.success
    assert direct.solve.solver_stats["interface"] == "direct"
    assert direct.objective == pytest.approx(reference.objective, rel=REL)
    assert direct.primal_objective == pytest.approx(reference.objective, rel=REL)
    assert direct.solve.solver_objective == pytest.approx(direct.objective, rel=REL)
    assert direct.sign_violation < 1e-7
    assert direct.neurons > 0


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("readout", ["identity", "sum", "mean"])
def test_1d_exact_matches_cvxpy(readout, bias):
    problem = _signals(readout, bias)
    patterns = enumerate_relu_patterns(problem.Y)
    ref = fit_relu(problem, patterns, beta=BETA)
    res = fit_relu_direct(problem, patterns, beta=BETA, solver_options=TIGHT_CLARABEL)
    _assert_same_fit(res, ref)
    assert res.exact_arrangement and res.n_patterns == len(patterns)
    assert res.constraint_rows == 2 * problem.n * len(patterns)


@pytest.mark.parametrize(("readout", "bias"), [("identity", False), ("mean", True)])
def test_2d_sampled_matches_cvxpy(readout, bias):
    problem = _images(readout, bias)
    patterns = sample_relu_patterns(problem.Y, 40, random_state=0)
    # Clarabel's default tolerances: at 1e-10 both paths stop at optimal_inaccurate here
    ref = fit_relu(problem, patterns, beta=BETA, options=None)
    res = fit_relu_direct(problem, patterns, beta=BETA)
    _assert_same_fit(res, ref)
    assert not res.exact_arrangement


@pytest.mark.parametrize("loss", ["absolute", "huber", HuberLoss(delta=0.05)])
def test_other_losses_match_cvxpy(loss):
    problem = _signals("identity", True)
    patterns = enumerate_relu_patterns(problem.Y)
    ref = fit_relu(problem, patterns, beta=BETA, loss=loss)
    res = fit_relu_direct(problem, patterns, beta=BETA, loss=loss, solver_options=TIGHT_CLARABEL)
    assert res.loss == get_loss(loss).name
    _assert_same_fit(res, ref)


def test_facet_row_mask_same_optimum_and_every_row_checked():
    problem = _signals("identity", True, n_images=1, length=12)
    cells = enumerate_relu_patterns(problem.Y)
    keep = facet_row_mask(cells.masks, cells, problem.Y)
    assert keep.sum() < keep.size
    full = fit_relu_direct(problem, cells, beta=0.02, solver_options=TIGHT_CLARABEL)
    reduced = fit_relu_direct(
        problem, cells, beta=0.02, solver_options=TIGHT_CLARABEL, row_mask=keep
    )
    ref = fit_relu(problem, cells, beta=0.02, row_mask=keep)
    _assert_same_fit(reduced, ref)
    assert reduced.objective == pytest.approx(full.objective, rel=REL)
    assert reduced.constraint_rows == 2 * int(keep.sum()) < full.constraint_rows
    # the kept rows are the facets, so the dropped rows hold too (checked on all n x P rows)
    assert reduced.sign_violation < 1e-7


def test_kkt_residuals_from_clarabel_duals():
    problem = _signals("identity", False)
    cells = enumerate_relu_patterns(problem.Y)
    keep = facet_row_mask(cells.masks, cells, problem.Y)
    for row_mask in (None, keep):
        res = fit_relu_direct(
            problem, cells, beta=BETA, solver_options=TIGHT_CLARABEL, row_mask=row_mask
        )
        assert "error" not in res.kkt
        assert res.kkt["stationarity_max"] < 1e-5
        assert res.kkt["dual_feasibility"] < 1e-8
        assert res.kkt["complementary_slackness_max"] < 1e-7


def test_standard_form_layout(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    conic = build_relu_conic(tiny_1d_problem, patterns, beta=BETA)
    n, d, P = tiny_1d_problem.n, tiny_1d_problem.d, len(patterns)
    n_vars = 2 * d * P + 2 * P + n
    assert conic.A.shape == (n + 2 * n * P + 2 * P * (d + 1), n_vars)
    assert conic.P.shape == (n_vars, n_vars) and sp.triu(conic.P).nnz == conic.P.nnz
    assert isinstance(conic.A, sp.csc_matrix) and conic.b.shape == (conic.A.shape[0],)
    assert conic.rows["soc"].stop == conic.A.shape[0]
    # a feasible point: W = Z = 0 except one block inside its cone
    W = np.zeros((d, P))
    W[:, 0] = patterns.generators[0]
    x = np.zeros(n_vars)
    x[conic.layout.W] = W.T.ravel()
    x[conic.layout.t_w] = np.linalg.norm(W, axis=0)
    out = (patterns.masks.T * (tiny_1d_problem.Y @ W)).sum(axis=1)
    x[conic.layout.loss_vars["r"]] = out - tiny_1d_problem.target
    W2, Z2 = conic.unpack(x)
    np.testing.assert_array_equal(W2, W)
    s = conic.b - conic.A @ x
    assert np.allclose(s[conic.rows["fit"]], 0.0)
    assert s[conic.rows["sign_w"]].min() >= -1e-12
    value = 0.5 * x @ (conic.P @ x) + conic.q @ x
    assert value == pytest.approx(convex_objective(W, Z2, patterns.masks, tiny_1d_problem, BETA))


def test_status_mapping_and_settings(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    res = fit_relu_direct(tiny_1d_problem, patterns, beta=BETA, solver_options={"max_iter": 1})
    assert res.status == "user_limit" and not res.success
    assert "user_limit" in res.message
    with pytest.raises(ValueError, match="not a Clarabel setting"):
        fit_relu_direct(tiny_1d_problem, patterns, beta=BETA, solver_options={"tol_nope": 1.0})


def test_bad_input_is_refused_clearly(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    with pytest.raises(ValueError, match="squared, absolute, huber"):
        fit_relu_direct(tiny_1d_problem, patterns, loss="logistic")
    for beta in (0.0, -1.0):
        with pytest.raises(ValueError, match="beta"):
            fit_relu_direct(tiny_1d_problem, patterns, beta=beta)
    with pytest.raises(ValueError, match=r"\(P, n\)"):
        fit_relu_direct(tiny_1d_problem, patterns.masks[:, :-1])
    with pytest.raises(ValueError, match="row_mask must have shape"):
        fit_relu_direct(
            tiny_1d_problem, patterns, row_mask=np.ones((len(patterns), tiny_1d_problem.n))
        )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(4, 9),
    d=st.integers(1, 3),
    beta=st.floats(1e-3, 1.0),
)
def test_random_problems_match_cvxpy(seed, n, d, beta):
    rng = np.random.default_rng(seed)
    problem = problem_from_matrix(rng.standard_normal((n, d)), rng.standard_normal(n))
    patterns = sample_relu_patterns(problem.Y, 12, random_state=seed)
    ref = fit_relu(problem, patterns, beta=beta)
    res = fit_relu_direct(problem, patterns, beta=beta, solver_options=TIGHT_CLARABEL)
    assert res.success
    assert res.objective == pytest.approx(ref.objective, rel=REL, abs=1e-9)
    assert res.primal_objective == pytest.approx(ref.objective, rel=REL, abs=1e-9)
