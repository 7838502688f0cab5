"""MIP pricing for column generation: one persistent model, threshold stops, the returned round."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cvxcnn import load_digits, make_problem
from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.colgen import ColgenLoop, run_colgen
from cvxcnn.mip_oracle import ReluMip, mip_arrangement, relu_mip_oracle
from cvxcnn.oracle import relu_oracle


@pytest.fixture(scope="module")
def small():
    """4x4 digit crop, 2x2 kernel (n = 16, d = 4, 992 cells): brute force over every cell."""
    data = load_digits(1, random_state=0)
    sl = (slice(None), slice(2, 6), slice(2, 6))
    problem = make_problem(data.noisy[sl], data.clean[sl], kernel_size=2)
    return problem, enumerate_relu_patterns(problem.Y)


def test_one_persistent_model_equals_fresh_models_and_brute_force(small):
    problem, cells = small
    Y = problem.Y
    model = ReluMip(Y)  # shared by every g and both signs; its cuts accumulate
    rng = np.random.default_rng(5)
    for scale in (0.1, 10.0, 1.0):
        g = rng.standard_normal(problem.n) * scale
        exact = relu_oracle(Y, g, cells.masks)
        shared = relu_mip_oracle(Y, g, time_limit=60, model=model)
        fresh = relu_mip_oracle(Y, g, time_limit=60)
        assert shared.converged and fresh.converged
        for result in (shared, fresh):
            assert result.upper == pytest.approx(exact.upper, rel=1e-6)
            assert result.lower == pytest.approx(exact.lower, rel=1e-6)
    assert model.cuts > 2 * problem.n  # cuts of earlier calls stayed in the model


def test_persistent_model_refuses_another_Y(small):
    problem, _ = small
    model = ReluMip(problem.Y)
    with pytest.raises(ValueError, match="model must be a ReluMip of this Y"):
        relu_mip_oracle(problem.Y + 1.0, np.ones(problem.n), model=model)


def test_threshold_stops_at_a_real_violator_or_proves_none(small):
    problem, cells = small
    Y = problem.Y
    rng = np.random.default_rng(6)
    model = ReluMip(Y)
    for _ in range(3):
        g = rng.standard_normal(problem.n)
        M = relu_oracle(Y, g, cells.masks).upper
        above = relu_mip_oracle(Y, g, time_limit=60, threshold=0.5 * M, model=model)
        assert above.stopped_early and not above.proved_below
        assert 0.5 * M < above.lower <= M * (1 + 1e-9)  # a real point beyond the threshold
        assert above.upper >= M * (1 - 1e-9)  # still an upper bound
        below = relu_mip_oracle(Y, g, time_limit=60, threshold=1.01 * M, model=model)
        assert below.proved_below and not below.stopped_early
        assert M * (1 - 1e-9) <= below.upper <= 1.01 * M


def test_pricing_oracle_over_the_arrangement(small):
    problem, cells = small
    Y = problem.Y
    arrangement = mip_arrangement(Y, samples=30, time_limit=60)
    g = np.random.default_rng(7).standard_normal(problem.n)
    M = relu_oracle(Y, g, cells.masks).upper
    # a violator at once (a known cell or its ascent): stopped, still an upper end
    low = arrangement.bracket(Y, g, threshold=1e-6 * M)
    assert not low.converged and low.upper >= M
    proof = arrangement.bracket(Y, g, threshold=1.01 * M)
    assert proof.converged and M * (1 - 1e-9) <= proof.upper <= 1.01 * M
    # the same g again: the converged bracket is reused (no second MIP)
    again = (proof.cells or arrangement).bracket(Y, g)
    assert again is proof or again.upper == pytest.approx(proof.upper)


def _scripted_rounds(objectives: list[float], lowers: list[float]) -> SimpleNamespace:
    """A stand-in for RestrictedPrograms whose rounds return the given objectives and bounds."""
    rounds = iter(range(len(objectives)))

    def round_(in_program, add):
        k = next(rounds)
        fit = SimpleNamespace(primal_objective=objectives[k], objective=objectives[k],
                              n_patterns=3, status="optimal", success=True, k=k)  # fmt: skip
        oracle = SimpleNamespace(upper=2.0, lower=1.0, seconds=0.0, converged=False)
        last = k == len(objectives) - 1
        order = np.array([], dtype=int) if last else np.array([k + 1])
        return fit, in_program.copy(), oracle, order, lowers[k], True

    def polish(fit, mask, gap_tol, neighbours=None):
        cert = SimpleNamespace(certified=True, upper_bound=fit.primal_objective,
                               lower_bound=lowers[fit.k],
                               relative_gap=1 - lowers[fit.k] / fit.primal_objective)  # fmt: skip
        return fit, cert, {}

    return SimpleNamespace(
        round=round_, polish=polish, pad=lambda m: m, total_cells=lambda: 8, beta=1.0,
        active=lambda fit, mask, rtol: mask.copy(),
    )  # fmt: skip


def test_colgen_returns_the_lowest_objective_round_and_the_best_bound():
    # round 1 has the best certified gap, round 2 the lowest objective
    objectives, lowers = [3.0, 2.0, 2.5], [1.9, 1.0, 1.2]
    rp = _scripted_rounds(objectives, lowers)
    mask = np.zeros(8, dtype=bool)
    mask[0] = True
    loop = ColgenLoop(add_per_iteration=1, max_iterations=10, gap_tol=1e-9, drop_inactive=True,
                      progress=False)  # fmt: skip
    result = run_colgen(rp, mask, loop, 0.0)
    assert result.fit.primal_objective == min(objectives)
    assert [it.upper_bound for it in result.iterations] == objectives
    assert result.best_lower_bound == max(lowers)  # every round's bound holds for p*
    assert result.best_relative_gap == pytest.approx((2.0 - 1.9) / 2.0)
    assert not result.converged


def test_scip_engine_equals_brute_force_and_proves_a_threshold(small):
    pytest.importorskip("pyscipopt")
    problem, cells = small
    Y = problem.Y
    rng = np.random.default_rng(8)
    for scale in (10.0,):
        g = rng.standard_normal(problem.n) * scale
        M = relu_oracle(Y, g, cells.masks).upper
        full = relu_mip_oracle(Y, g, time_limit=60, engine="scip")
        assert full.converged
        assert full.lower == pytest.approx(M, rel=1e-9)  # a float64 value at a unit point
        assert M * (1 - 1e-9) <= full.upper <= M * (1 + 1e-6)  # SCIP's tolerances
        proof = relu_mip_oracle(Y, g, time_limit=60, engine="scip", threshold=1.01 * M)
        assert proof.proved_below and proof.upper <= 1.01 * M
        above = relu_mip_oracle(Y, g, time_limit=60, engine="scip", threshold=0.5 * M)
        assert not above.proved_below and above.lower == pytest.approx(M, rel=1e-9)


def test_engine_is_checked(small):
    problem, _ = small
    with pytest.raises(ValueError, match="engine must be"):
        relu_mip_oracle(problem.Y, np.ones(problem.n), engine="gurobi")
    with pytest.raises(ValueError, match="engine must be"):
        mip_arrangement(problem.Y, engine="cplex")
