"""The explicit dual program (Sahiner eq. 20) and the KKT residuals of eq. 4."""

from __future__ import annotations

import functools
import json

import cvxpy as cp
import numpy as np
import pytest
from conftest import noisy_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.fitting import fit_relu
from cvxcnn.kkt import kkt_residuals
from cvxcnn.losses import AbsoluteLoss, HuberLoss, LogisticLoss, SquaredLoss, get_loss
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.problem import problem_from_matrix
from cvxcnn.programs.relu import build_relu_program
from cvxcnn.programs.relu_dual import (
    build_relu_dual_program,
    dual_constraint_violation,
    solve_relu_dual,
)
from cvxcnn.solve import solve_cvxpy

BETA = 0.05
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
# the dual (more variables) stalls at 'AlmostSolved' at 1e-10 for the Huber loss
DUAL_TIGHT = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9}


# --------------------------------------------------------------------------- #
# Problems (cached: hypothesis examples reuse them)
# --------------------------------------------------------------------------- #
@functools.cache
def signal_problem():
    """Two noisy 1-D signals of length 5, kernel 2: n = 10, d = 2 (``tiny_1d_problem``)."""
    return noisy_problem(7, (2, 5), 0.3, kernel_size=2)


@functools.cache
def matrix_problem(readout: str = "identity", labels: bool = False):
    """Random Y (12, 3); 12 targets (identity) or 3 (one per image, sum readout)."""
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((12, 3))
    n_images = 1 if readout == "identity" else 3
    n_out = 12 if readout == "identity" else 3
    target = rng.standard_normal(n_out)
    if labels:
        target = np.where(target >= np.median(target), 1.0, -1.0)
    return problem_from_matrix(Y, target, readout=readout, n_images=n_images)


PROBLEMS = {"signal": signal_problem, "matrix": matrix_problem}


@functools.cache
def exact_patterns(name: str):
    return enumerate_relu_patterns(PROBLEMS[name]().Y)


@functools.cache
def exact_dual(name: str, loss: str):
    return solve_relu_dual(
        PROBLEMS[name](), exact_patterns(name), beta=BETA, loss=loss, solver_options=DUAL_TIGHT
    )


@functools.cache
def exact_fit(name: str, loss: str):
    return fit_relu(
        PROBLEMS[name](), exact_patterns(name), beta=BETA, loss=loss, solver_options=TIGHT
    )


def _loss_target(loss, rng, n):
    return rng.choice([-1.0, 1.0], n) if loss.name == "logistic" else rng.standard_normal(n)


def _feasible_z(loss, x, rng):
    n = x.shape[0]
    if loss.name == "squared":
        return 2.0 * rng.standard_normal(n)
    if loss.name == "absolute":
        return rng.uniform(-1.0, 1.0, n)
    if loss.name == "huber":
        return rng.uniform(-loss.delta, loss.delta, n)
    return -x * rng.uniform(0.0, 1.0, n)  # logistic: q = -x z in [0, 1]


# --------------------------------------------------------------------------- #
# Loss.conjugate_expression
# --------------------------------------------------------------------------- #
LOSSES = [SquaredLoss(), AbsoluteLoss(), HuberLoss(0.3), LogisticLoss()]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: lo.name)
def test_conjugate_expression_matches_float64_conjugate(loss, rng):
    x = _loss_target(loss, rng, 7)
    for _ in range(5):
        z = _feasible_z(loss, x, rng)
        expr, domain = loss.conjugate_expression(cp.Constant(z), x)
        assert expr.is_convex()
        assert all(c.value() for c in domain)
        assert expr.value == pytest.approx(loss.conjugate(z, x), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("loss", LOSSES[1:], ids=lambda lo: lo.name)
def test_conjugate_expression_domain_excludes_infeasible_points(loss, rng):
    x = _loss_target(loss, rng, 4)
    z = _feasible_z(loss, x, rng)
    z[0] = -x[0] * 1.5 if loss.name == "logistic" else 1.5 * (getattr(loss, "delta", 1.0))
    _, domain = loss.conjugate_expression(cp.Constant(z), x)
    assert not all(c.value() for c in domain)
    assert loss.conjugate(z, x) == float("inf")


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: lo.name)
def test_conjugate_expression_minimum_is_minus_loss_at_zero(loss, rng):
    """min_z L*(z) = -L**(0) = -L(0): the CVXPY conjugate has the right domain and value."""
    x = _loss_target(loss, rng, 5)
    z = cp.Variable(5)
    expr, domain = loss.conjugate_expression(z, x)
    prob = cp.Problem(cp.Minimize(expr), domain)
    prob.solve(solver="CLARABEL")
    assert prob.value == pytest.approx(-loss.value(np.zeros(5), x), rel=1e-6, abs=1e-7)


# --------------------------------------------------------------------------- #
# Dual program: strong duality on exact pattern sets, bounds on sampled ones
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["signal", "matrix"])
@pytest.mark.parametrize("loss", ["squared", "huber", "absolute"])
def test_dual_equals_primal_on_exact_patterns(name, loss):
    dual = exact_dual(name, loss)
    res = exact_fit(name, loss)
    assert dual.success and res.success
    assert exact_patterns(name).exact and dual.exact_arrangement
    assert dual.value == pytest.approx(res.objective, rel=1e-6)
    # the reconstructed network (absolute loss: 5e-7 seen, dropped tiny blocks count linearly)
    assert dual.value == pytest.approx(res.primal_objective, rel=1e-6)
    assert dual.constraint_violation < 1e-8
    assert dual.value <= res.primal_objective + 1e-8


def test_dual_with_sum_readout_equals_primal():
    problem = matrix_problem("sum")
    patterns = enumerate_relu_patterns(problem.Y)
    dual = solve_relu_dual(problem, patterns, beta=BETA, solver_options=DUAL_TIGHT)
    res = fit_relu(problem, patterns, beta=BETA, solver_options=TIGHT)
    assert dual.lam.shape == (3,)
    assert dual.value == pytest.approx(res.objective, rel=1e-6)
    assert dual.value == pytest.approx(res.primal_objective, rel=1e-6)


def test_dual_logistic_equals_primal():
    problem = matrix_problem("identity", labels=True)
    patterns = enumerate_relu_patterns(problem.Y)
    dual = solve_relu_dual(problem, patterns, beta=BETA, loss="logistic")
    res = fit_relu(problem, patterns, beta=BETA, loss="logistic", solver_options=TIGHT)
    assert res.success
    assert dual.value == pytest.approx(res.objective, rel=1e-6)


@pytest.mark.parametrize("name", ["signal", "matrix"])
def test_sampled_dual_bounds(name):
    """Fewer cells: dual <= its own restricted primal, and >= the exact dual."""
    problem = PROBLEMS[name]()
    sampled = sample_relu_patterns(problem.Y, 4, random_state=0)
    assert len(sampled) < len(exact_patterns(name))
    dual = solve_relu_dual(problem, sampled, beta=BETA, solver_options=DUAL_TIGHT)
    res = fit_relu(problem, sampled, beta=BETA, solver_options=TIGHT)
    assert not dual.exact_arrangement
    tol = 1e-7 * abs(res.objective)
    assert dual.value <= res.objective + tol
    assert dual.value == pytest.approx(res.objective, rel=1e-6)  # strong duality per subset
    exact = exact_dual(name, "squared")
    assert dual.value >= exact.value - tol


def test_the_constraints_matter():
    """Without its constraints the dual would reach 1/2||x||^2 > the optimum."""
    problem = signal_problem()
    x = problem.target
    unconstrained = -get_loss("squared").conjugate(-x, x)
    assert unconstrained == pytest.approx(0.5 * x @ x)
    assert unconstrained > exact_fit("signal", "squared").objective * 1.05


def test_dual_program_is_vectorized_and_resolves_with_new_beta():
    problem = signal_problem()
    patterns = exact_patterns("signal")
    program = build_relu_dual_program(problem, patterns, beta=1.0)
    assert len(program.problem.constraints) == 2  # squared loss: no domain constraint
    assert program.alpha.shape == (problem.n, len(patterns))
    assert program.problem.is_dcp() and program.problem.is_dpp()
    solve_cvxpy(program.problem, solver_options=TIGHT)
    program.beta.value = BETA
    info = solve_cvxpy(program.problem, solver_options=TIGHT)
    assert -info.solver_objective == pytest.approx(exact_dual("signal", "squared").value, rel=1e-7)


def test_dual_result_to_dict_is_json():
    out = exact_dual("signal", "squared").to_dict()
    text = json.dumps(out)
    assert "value" in out and len(out["lam"]) == signal_problem().n
    assert json.loads(text)["exact_arrangement"] is True


# --------------------------------------------------------------------------- #
# Weak duality
# --------------------------------------------------------------------------- #
@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["signal", "matrix"]),
    loss=st.sampled_from(["squared", "absolute"]),
    shrink=st.floats(0.0, 0.999),
    seed=st.integers(0, 2**31 - 1),
    n_neurons=st.integers(1, 6),
    weight_scale=st.floats(0.01, 3.0),
)
def test_weak_duality_against_random_networks(name, loss, shrink, seed, n_neurons, weight_scale):
    problem = PROBLEMS[name]()
    dual = exact_dual(name, loss)
    lam = shrink * dual.lam  # (shrink lam, shrink alpha) is feasible: norms scale by shrink
    violation = dual_constraint_violation(
        lam, shrink * dual.alpha, shrink * dual.alpha_neg, exact_patterns(name), problem, BETA
    )
    assert violation <= 1e-9
    value = -get_loss(loss).conjugate(lam, problem.target)
    rng = np.random.default_rng(seed)
    net = ReluNetwork(
        weight_scale * rng.standard_normal((n_neurons, problem.d)),
        weight_scale * rng.standard_normal(n_neurons),
    )
    assert value <= primal_objective(net, problem, BETA, loss) + 1e-9
    # and never above the optimum (the reconstructed network), tight at shrink -> 1
    best = exact_fit(name, loss).primal_objective
    assert value <= best + 1e-8


# --------------------------------------------------------------------------- #
# KKT residuals
# --------------------------------------------------------------------------- #
def _solved_program(name, loss, *, labels=False):
    problem = matrix_problem(labels=True) if labels else PROBLEMS[name]()
    patterns = enumerate_relu_patterns(problem.Y)
    program = build_relu_program(problem, patterns, beta=BETA, loss=loss)
    info = solve_cvxpy(program.problem, solver_options=TIGHT)
    assert info.status in ("optimal", "optimal_inaccurate")
    return program


@pytest.mark.parametrize("name", ["signal", "matrix"])
@pytest.mark.parametrize("loss", ["squared", "huber", "absolute", "logistic"])
def test_kkt_residuals_small_at_optimum_and_large_elsewhere(name, loss):
    program = _solved_program(name, loss, labels=loss == "logistic")
    kkt = kkt_residuals(program)
    assert kkt.stationarity < 1e-5
    assert kkt.max_residual < 1e-5
    assert kkt.active_blocks > 0
    assert kkt.subgradient == ("selected" if loss == "absolute" else "gradient")
    json.dumps(kkt.to_dict())

    # perturb W: the point is neither stationary nor feasible any more
    rng = np.random.default_rng(0)
    W = np.asarray(program.W.value)
    program.W.value = W + 1e-2 * rng.standard_normal(W.shape)
    moved = kkt_residuals(program)
    assert moved.stationarity > 1e3 * max(kkt.stationarity, 1e-9)
    assert moved.stationarity_max > 1e-3
    assert moved.primal_feasibility > 1e-3
    assert moved.complementary_slackness > 1e3 * max(kkt.complementary_slackness, 1e-12)

    # a feasible but suboptimal point: the optimum shrunk by half
    program.W.value = 0.5 * W
    program.Z.value = 0.5 * np.asarray(program.Z.value)
    half = kkt_residuals(program)
    assert half.primal_feasibility < 1e-9
    assert half.stationarity > 1e-3


def test_kkt_duals_certify_the_dual_program():
    """lam = grad L(p*) and alpha = dual of sign_w are optimal for the dual program."""
    program = _solved_program("matrix", "squared")
    problem, loss = program.data, program.loss
    W, Z = np.asarray(program.W.value), np.asarray(program.Z.value)
    M = program.masks.T
    p = problem.readout.apply(np.sum(M * (problem.Y @ (W - Z)), axis=1))
    lam = loss.gradient(p, problem.target)
    mu = program.constraints["sign_w"].dual_value
    nu = program.constraints["sign_z"].dual_value
    violation = dual_constraint_violation(lam, mu, nu, program.masks, problem, BETA)
    assert violation < 1e-6
    assert -loss.conjugate(lam, problem.target) == pytest.approx(
        exact_dual("matrix", "squared").value, rel=1e-6
    )
    # the multipliers are needed: without them (alpha = 0) lam is not certified
    zero = np.zeros_like(mu)
    assert dual_constraint_violation(lam, zero, zero, program.masks, problem, BETA) > 1e-3


def test_kkt_absolute_plain_gradient_is_loose():
    program = _solved_program("signal", "absolute")
    selected = kkt_residuals(program)
    plain = kkt_residuals(program, select_subgradient=False)
    assert plain.subgradient == "gradient"
    assert selected.stationarity < 1e-5 < plain.stationarity


def test_kkt_needs_a_solved_program():
    problem = signal_problem()
    program = build_relu_program(problem, exact_patterns("signal"), beta=BETA)
    with pytest.raises(ValueError, match="not solved"):
        kkt_residuals(program)
