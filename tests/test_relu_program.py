"""The ReLU convex program: exactness, reconstruction, restarts, solvers, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL
from cvxcnn.fitting import fit_relu
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.nonconvex import primal_value_and_grad, random_restarts
from cvxcnn.problem import make_problem, problem_from_matrix
from cvxcnn.programs.relu import build_relu_program, convex_objective
from cvxcnn.solve import resolve_solver, solve_cvxpy

BETA = 0.05


@pytest.fixture
def exact_fit(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    return tiny_1d_problem, patterns, fit_relu(tiny_1d_problem, patterns, beta=BETA)


def test_exact_program_reconstruction_equals_convex_optimum(exact_fit):
    problem, patterns, res = exact_fit
    assert res.success and res.exact_arrangement
    assert res.n_patterns == len(patterns)
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.solve.solver_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.sign_violation < 1e-7
    assert 0 < res.neurons <= 2 * res.active_patterns


def test_no_random_restart_beats_the_exact_optimum(exact_fit):
    problem, _, res = exact_fit
    restarts = random_restarts(
        problem, n_neurons=problem.n + 1, beta=BETA, n_restarts=30, random_state=1
    )
    tol = 1e-6 * abs(res.objective)
    assert restarts.objectives.min() >= res.objective - tol
    # the local optimizer does find the optimum from some start: the check is not vacuous
    assert restarts.best <= res.objective * (1 + 1e-3)


def test_sampled_patterns_give_an_upper_bound(exact_fit):
    problem, _, exact = exact_fit
    sampled = sample_relu_patterns(problem.Y, 3, random_state=0)
    res = fit_relu(problem, sampled, beta=BETA)
    assert not res.exact_arrangement
    assert res.objective >= exact.objective - 1e-7
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)


def test_second_solver_agrees(exact_fit):
    problem, patterns, res = exact_fit
    scs = fit_relu(problem, patterns, beta=BETA, solver="scs", solver_options={"eps": 1e-9})
    assert scs.solve.solver == "SCS"
    assert scs.objective == pytest.approx(res.objective, rel=1e-4)


def test_beta_parameter_resolves_without_rebuilding(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    program = build_relu_program(tiny_1d_problem, patterns, beta=0.5)
    solve_cvxpy(program.problem)
    program.beta.value = BETA
    info = solve_cvxpy(program.problem)
    fresh = fit_relu(tiny_1d_problem, patterns, beta=BETA)
    assert info.solver_objective == pytest.approx(fresh.objective, rel=1e-6)


def test_objective_decreases_in_beta_and_path_sparsity(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    values = [fit_relu(tiny_1d_problem, patterns, beta=b) for b in (0.01, 0.1, 1.0, 100.0)]
    objectives = [r.objective for r in values]
    assert objectives == sorted(objectives)
    assert values[-1].neurons == 0  # beta above the threshold: the zero network is optimal
    assert values[-1].objective == pytest.approx(
        0.5 * tiny_1d_problem.target @ tiny_1d_problem.target
    )


@pytest.mark.parametrize("loss", ["absolute", "huber"])
def test_other_losses_reconstruct_exactly(tiny_1d_problem, loss):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    res = fit_relu(tiny_1d_problem, patterns, beta=BETA, loss=loss)
    assert res.success
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-5)


def test_logistic_loss_with_average_pooling_readout(rng):
    images = rng.standard_normal((6, 4))
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    images[labels > 0] += 0.8
    problem = make_problem(images, labels, kernel_size=2, readout="mean")
    patterns = enumerate_relu_patterns(problem.Y)
    # exponential cones: 1e-10 ends in AlmostSolved, 1e-9 is reached
    tight = {key: 1e-9 for key in TIGHT_CLARABEL}
    res = fit_relu(problem, patterns, beta=0.01, loss="logistic", solver_options=tight)
    assert res.success
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-5)
    restarts = random_restarts(
        problem, n_neurons=10, beta=0.01, loss="logistic", n_restarts=10, random_state=0
    )
    assert restarts.best >= res.objective - 1e-6 * res.objective


def test_residual_problem(rng):
    clean = rng.random((1, 8))
    noisy = clean + 0.2 * rng.standard_normal(clean.shape)
    problem = make_problem(noisy, clean, kernel_size=2, residual=True)
    res = fit_relu(problem, enumerate_relu_patterns(problem.Y), beta=BETA)
    assert res.success
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)


def test_nonoptimal_status_is_surfaced(small_2d_problem):
    patterns = sample_relu_patterns(small_2d_problem.Y, 50, random_state=0)
    res = fit_relu(small_2d_problem, patterns, beta=BETA, solver_options={"max_iter": 2})
    assert not res.success
    assert res.status != "optimal"
    assert "optimal" not in res.message or "INACCURATE" in res.message


def test_gradient_of_primal_matches_finite_differences(small_2d_problem, rng):
    m, d = 3, small_2d_problem.d
    params = rng.standard_normal(m * d + m)
    from cvxcnn.losses import SquaredLoss

    value, grad = primal_value_and_grad(params, small_2d_problem, BETA, SquaredLoss(), m)
    net = ReluNetwork(params[: m * d].reshape(m, d), params[m * d :])
    assert value == pytest.approx(primal_objective(net, small_2d_problem, BETA))
    h = 1e-6
    idx = rng.choice(params.size, 8, replace=False)
    for i in idx:
        e = np.zeros_like(params)
        e[i] = h
        fd = (
            primal_value_and_grad(params + e, small_2d_problem, BETA, SquaredLoss(), m)[0]
            - primal_value_and_grad(params - e, small_2d_problem, BETA, SquaredLoss(), m)[0]
        ) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-4, abs=1e-6)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), n_patterns=st.integers(1, 30), beta=st.floats(1e-3, 1.0))
def test_reconstruction_reproduces_convex_objective(seed, n_patterns, beta):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((12, 3))
    problem = problem_from_matrix(Y, rng.standard_normal(12))
    patterns = sample_relu_patterns(Y, n_patterns, random_state=seed)
    res = fit_relu(problem, patterns, beta=beta)
    assert res.success
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6, abs=1e-9)
    assert convex_objective(res.W, res.Z, patterns.masks, problem, beta) == pytest.approx(
        res.objective
    )


def test_errors_name_the_argument(tiny_1d_problem):
    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    with pytest.raises(ValueError, match="beta"):
        fit_relu(tiny_1d_problem, patterns, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        fit_relu(tiny_1d_problem, patterns, beta=-1.0)
    with pytest.raises(ValueError, match="pattern set is empty"):
        fit_relu(tiny_1d_problem, np.zeros((0, tiny_1d_problem.n), bool), beta=BETA)
    with pytest.raises(ValueError, match=r"\(P, n\) mask array"):
        fit_relu(tiny_1d_problem, np.ones((3, 4), bool), beta=BETA)
    with pytest.raises(ValueError, match="installed CVXPY solvers"):
        resolve_solver("gurobi-not-here")


def test_full_beta_path_matches_fresh_solves(tiny_1d_problem):
    from cvxcnn.path import solve_path

    patterns = enumerate_relu_patterns(tiny_1d_problem.Y)
    betas = [1.0, 0.1, 0.01]
    path = solve_path(tiny_1d_problem, patterns, betas, working_set=False)
    assert [r.beta for r in path.fits] == betas
    assert all(p.working_set == len(patterns) and p.rounds == 1 for p in path.points)
    for beta, res in zip(betas, path.fits, strict=True):
        fresh = fit_relu(tiny_1d_problem, patterns, beta=beta)
        assert res.objective == pytest.approx(fresh.objective, rel=1e-6)
        assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)
    with pytest.raises(ValueError, match="betas"):
        solve_path(tiny_1d_problem, patterns, [0.1, -1.0], working_set=False)
