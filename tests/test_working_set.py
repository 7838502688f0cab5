"""Single-beta working-set solves: the optimum over the WHOLE given set, with its rigorous gap."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import noisy_problem

from cvxcnn.activations import activation_of
from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL, certify
from cvxcnn.fitting import fit
from cvxcnn.losses import get_loss
from cvxcnn.soft_threshold import sample_st_triples
from cvxcnn.working_set import (
    WORKING_SET_MIN_CELLS,
    WorkingSets,
    resolve_strategy,
    solve_working_set,
)

BETA = 0.02


@pytest.fixture(scope="module")
def problem():
    """Two noisy 1-D signals of length 20, kernel 4: n = 40, d = 4."""
    return noisy_problem(3, (2, 20), 0.2, kernel_size=4)


@pytest.fixture(scope="module")
def patterns(problem):
    return sample_relu_patterns(problem.Y, 200, random_state=0)


def _check_same_optimum(ws_fit, full_fit, n_cells):
    assert full_fit.success and ws_fit.success
    assert ws_fit.objective == pytest.approx(full_fit.objective, rel=1e-6)
    info = ws_fit.working_set
    assert info["converged"] and info["cells"] == n_cells and info["fallback"] is None
    assert info["program_cells"] < n_cells  # the whole set never entered one program
    assert len(ws_fit.cell_index) == info["program_cells"] == ws_fit.n_patterns
    # rigorous: the bound over the whole set lies below the full program's optimum
    assert info["lower_bound"] <= full_fit.objective * (1 + 1e-9)
    assert 0 <= info["set_gap"] <= 1e-4
    assert full_fit.working_set == {} and full_fit.cell_index is None


def test_relu_working_set_equals_full_program(problem, patterns):
    opts = dict(beta=BETA, solver_options=TIGHT_CLARABEL, facets="off")
    full = fit(problem, patterns, strategy="full", **opts)
    ws = fit(problem, patterns, strategy="working_set", **opts)
    _check_same_optimum(ws, full, len(patterns))
    # the network it returns has the program's objective on the original problem
    cert = certify(ws.network, problem, patterns, beta=BETA)
    assert cert.upper_bound == pytest.approx(full.objective, rel=1e-6)


def test_relu_working_set_with_facet_reduction(problem, patterns):
    full = fit(problem, patterns, beta=BETA, strategy="full", facets="off")
    ws = fit(problem, patterns, beta=BETA, strategy="working_set", facets="hull")
    # each working-set program reduced its own cells (the tight polish keeps every row)
    assert ws.working_set["history"][0]["facet_seconds"] > 0
    assert ws.objective == pytest.approx(full.objective, rel=1e-6)
    assert ws.working_set["converged"]
    # default tolerances, then one tight solve over the active cells: a small rigorous gap
    assert 0 <= ws.working_set["set_gap"] <= 1e-6
    assert ws.working_set["history"] and ws.working_set["history"][0]["cells"] > 0


def test_soft_threshold_working_set_equals_full_program():
    problem = noisy_problem(4, (2, 12), 0.3, kernel_size=3)
    triples = sample_st_triples(problem.Y, 150, random_state=0)
    opts = dict(beta=0.05, solver_options=TIGHT_CLARABEL)
    full = fit(problem, triples, strategy="full", **opts)
    ws = fit(problem, triples, strategy="working_set", **opts)
    _check_same_optimum(ws, full, len(triples))


def test_exact_set_working_set_is_the_global_optimum():
    problem = noisy_problem(5, (1, 14), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    opts = dict(beta=0.02, solver_options=TIGHT_CLARABEL)
    full = fit(problem, cells, strategy="full", **opts)
    ws = fit(problem, cells, strategy="working_set", **opts)
    assert ws.exact_arrangement and full.exact_arrangement
    assert ws.objective == pytest.approx(full.objective, rel=1e-6)
    assert 0 <= ws.working_set["set_gap"] <= 1e-6  # over every cell: a certified gap


def test_too_few_rounds_fall_back_to_the_full_program(problem, patterns):
    loss = get_loss("squared")
    options = dict(solver="CLARABEL", solver_options=None, rtol=1e-6, strategy="full")
    ws = WorkingSets(activation_of(patterns), problem, patterns, loss, fit, "off", options)
    result = solve_working_set(ws, BETA, initial=5, add_per_round=5, max_rounds=1)
    assert result.working_set["fallback"] == "full"
    assert result.working_set["program_cells"] == len(patterns)
    full = fit(problem, patterns, beta=BETA, strategy="full", facets="off")
    assert result.objective == pytest.approx(full.objective, rel=1e-6)
    assert result.working_set["set_gap"] <= 1e-3  # default tolerances


def test_auto_rule_and_errors(problem, patterns):
    assert resolve_strategy("auto", WORKING_SET_MIN_CELLS, 10) == "working_set"
    assert resolve_strategy("auto", 1000, 255) == "full"  # digits P = 1000: the full program won
    assert resolve_strategy("auto", 3200, 255) == "working_set"
    assert resolve_strategy("auto", WORKING_SET_MIN_CELLS - 1, 10) == "full"
    assert resolve_strategy("auto", 10 * WORKING_SET_MIN_CELLS, 5 * WORKING_SET_MIN_CELLS) == "full"
    assert resolve_strategy("full", 10**6, 1) == "full"
    with pytest.raises(ValueError, match="strategy must be one of"):
        fit(problem, patterns, beta=BETA, strategy="fastest")
    row_mask = np.ones((problem.n, len(patterns)), dtype=bool)
    with pytest.raises(ValueError, match="row_mask"):
        fit(problem, patterns, beta=BETA, strategy="working_set", row_mask=row_mask)


def test_program_direction_is_the_programs_own_dual_point(problem, patterns):
    """The residual of every block (not the pruned network) satisfies the dual constraints."""
    from cvxcnn.working_set import program_direction

    res = fit(problem, patterns, beta=BETA, strategy="full", facets="off", rtol=1e-2)
    act, loss = activation_of(patterns), get_loss("squared")
    out = act.program_output(res, problem, patterns)
    value = loss.value(problem.readout.apply(out), problem.target)
    penalty = BETA * (np.linalg.norm(res.W, axis=0).sum() + np.linalg.norm(res.Z, axis=0).sum())
    assert value + penalty == pytest.approx(res.objective, rel=1e-9)  # the program's objective
    _, g = program_direction(act, problem, patterns, res, loss)
    ratio = act.oracle(problem.Y, g, patterns, threshold=BETA).upper / BETA
    assert abs(ratio - 1) < 1e-4  # at default tolerances
    # a coarse reconstruction (rtol 1e-2) moves the network's residual off the dual point
    _, g_net = program_direction(act, problem, patterns, replace(res, W=None), loss)
    ratio_net = act.oracle(problem.Y, g_net, patterns, threshold=BETA).upper / BETA
    assert ratio_net - 1 > 10 * abs(ratio - 1)


def test_polish_re_adds_the_cells_the_rounds_tolerated(problem, patterns):
    """Rounds that stop at a loose entry threshold (1%) are finished by the polish."""
    loss = get_loss("squared")
    options = dict(solver="CLARABEL", solver_options=None, rtol=1e-6, strategy="full")
    ws = WorkingSets(activation_of(patterns), problem, patterns, loss, fit, "off", options)
    result = solve_working_set(ws, BETA, tol=1e-2, initial=10, add_per_round=10)
    info = result.working_set
    polish = [h for h in info["history"] if h["phase"].startswith("polish")]
    assert polish and sum(h["added"] for h in polish) > 0  # the polish found cells to add
    assert info["converged"] and info["set_gap"] <= 1e-6
    full = fit(problem, patterns, beta=BETA, strategy="full", facets="off")
    assert result.objective == pytest.approx(full.objective, rel=1e-6)
