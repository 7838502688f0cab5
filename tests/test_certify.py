"""Certificates: oracle brackets, dual bounds, column generation, honest labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import CERTIFIED, ESTIMATED, TIGHT_CLARABEL, certify_relu
from cvxcnn.cli import main
from cvxcnn.colgen import solve_colgen
from cvxcnn.fitting import fit_relu
from cvxcnn.losses import SquaredLoss
from cvxcnn.networks import ReluNetwork
from cvxcnn.nonconvex import primal_value_and_grad
from cvxcnn.oracle import objective_at, relu_oracle
from cvxcnn.problem import make_problem, problem_from_matrix

BETA = 0.05
FAST = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _signal_problem(seed: int, length: int = 12, kernel: int = 2):
    rng = np.random.default_rng(seed)
    clean = rng.random((1, length))
    noisy = clean + 0.3 * rng.standard_normal(clean.shape)
    return make_problem(noisy, clean, kernel_size=kernel)


@FAST
@given(seed=st.integers(0, 2**16), d=st.integers(2, 3))
def test_oracle_brackets_the_true_maximum(seed, d):
    """Exact oracle vs dense sampling of the sphere (an independent brute force)."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((10, d))
    g = rng.standard_normal(10)
    cells = enumerate_relu_patterns(Y)
    res = relu_oracle(Y, g, cells.masks)
    U = rng.standard_normal((100_000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    sampled = objective_at(Y, g, U).max()
    assert res.lower <= res.upper * (1 + 1e-12)
    assert sampled <= res.upper * (1 + 1e-9)
    assert res.upper - res.lower <= 1e-9 * res.upper
    assert objective_at(Y, g, res.direction[None])[0] == pytest.approx(res.lower)
    assert sampled >= res.lower * 0.99  # the sampling really is close: check is not vacuous


def test_nnls_oracle_agrees_with_stacked_socp(rng):
    Y = rng.standard_normal((14, 3))
    cells = enumerate_relu_patterns(Y)
    for _ in range(3):
        g = rng.standard_normal(14)
        a = relu_oracle(Y, g, cells.masks, method="nnls")
        b = relu_oracle(Y, g, cells.masks, method="socp")
        assert a.upper == pytest.approx(b.upper, rel=1e-6)
        assert a.n_solved == b.n_solved


@FAST
@given(seed=st.integers(0, 2**16), m=st.integers(1, 6), scale=st.floats(0.01, 3.0))
def test_lower_bound_below_upper_and_below_exact_optimum(seed, m, scale):
    problem = _signal_problem(seed % 50)
    cells = enumerate_relu_patterns(problem.Y)
    rng = np.random.default_rng(seed)
    net = ReluNetwork(scale * rng.standard_normal((m, problem.d)), rng.standard_normal(m))
    cert = certify_relu(net, problem, cells, beta=BETA)
    assert cert.certificate == CERTIFIED
    assert cert.lower_bound <= cert.upper_bound
    optimum = fit_relu(problem, cells, beta=BETA, solver_options=TIGHT_CLARABEL).objective
    assert cert.lower_bound <= optimum * (1 + 1e-9)


@pytest.mark.parametrize("loss", ["squared", "huber", "absolute"])
def test_lower_bound_is_valid_for_other_losses(loss):
    problem = _signal_problem(1)
    cells = enumerate_relu_patterns(problem.Y)
    opt = fit_relu(problem, cells, beta=BETA, loss=loss, solver_options=TIGHT_CLARABEL)
    rng = np.random.default_rng(0)
    net = ReluNetwork(rng.standard_normal((3, problem.d)), rng.standard_normal(3))
    for network in (net, opt.network):
        cert = certify_relu(network, problem, cells, beta=BETA, loss=loss)
        assert cert.lower_bound <= opt.objective * (1 + 1e-7) + 1e-12
        assert cert.lower_bound <= cert.upper_bound


def test_sampled_oracle_is_labelled_an_estimate():
    problem = _signal_problem(2)
    cells = sample_relu_patterns(problem.Y, 5, random_state=0)
    net = ReluNetwork(np.ones((1, problem.d)), np.ones(1))
    cert = certify_relu(net, problem, cells, beta=BETA)
    assert cert.certificate == ESTIMATED and not cert.certified
    assert cert.oracle.startswith("sampled")
    assert "certified" not in json.dumps(cert.to_dict())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_colgen_equals_exact_program_and_certifies(seed):
    problem = _signal_problem(seed, length=20, kernel=3)
    cells = enumerate_relu_patterns(problem.Y)
    exact = fit_relu(problem, cells, beta=BETA, solver_options=TIGHT_CLARABEL)
    res = solve_colgen(problem, cells, beta=BETA, initial=5, random_state=seed)
    assert res.converged
    assert res.certificate.certificate == CERTIFIED
    assert res.certificate.relative_gap <= 1e-6
    assert res.fit.objective == pytest.approx(exact.objective, rel=1e-6)
    assert res.certificate.upper_bound == pytest.approx(exact.primal_objective, rel=1e-6)
    assert res.patterns_used < len(cells)


def test_colgen_refuses_sampled_cells():
    problem = _signal_problem(0)
    with pytest.raises(ValueError, match="exact cell set"):
        solve_colgen(problem, sample_relu_patterns(problem.Y, 5), beta=BETA)


def test_scaling_data_and_beta_leaves_relative_gap_invariant(rng):
    """P_{cx, c beta}(sqrt(c) U, sqrt(c) v) = c^2 P_{x, beta}(U, v), and so do the bounds."""
    Y = rng.standard_normal((10, 2))
    x = rng.standard_normal(10)
    cells = enumerate_relu_patterns(Y)
    net = ReluNetwork(rng.standard_normal((3, 2)), rng.standard_normal(3))
    base = certify_relu(net, problem_from_matrix(Y, x), cells, beta=BETA)
    for c in (0.1, 7.0):
        scaled_net = ReluNetwork(np.sqrt(c) * net.U, np.sqrt(c) * net.v)
        cert = certify_relu(scaled_net, problem_from_matrix(Y, c * x), cells, beta=c * BETA)
        assert cert.upper_bound == pytest.approx(c**2 * base.upper_bound, rel=1e-10)
        assert cert.lower_bound == pytest.approx(c**2 * base.lower_bound, rel=1e-8)
        assert cert.relative_gap == pytest.approx(base.relative_gap, rel=1e-8)


def test_optimal_network_has_tiny_gap_and_suboptimal_training_shrinks_it():
    problem = _signal_problem(3, length=16, kernel=2)
    cells = enumerate_relu_patterns(problem.Y)
    optimal = solve_colgen(problem, cells, beta=BETA)
    assert optimal.certificate.relative_gap <= 1e-6
    m, d = 20, problem.d
    x0 = np.random.default_rng(0).normal(0, 0.5, m * d + m)
    gaps = []
    for iterations in (3, 30, 3000):
        res = minimize(
            primal_value_and_grad,
            x0,
            args=(problem, BETA, SquaredLoss(), m),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": iterations, "ftol": 1e-15, "gtol": 1e-12},
        )
        net = ReluNetwork(res.x[: m * d].reshape(m, d), res.x[m * d :])
        gaps.append(certify_relu(net, problem, cells, beta=BETA).gap)
    assert all(g > 0 for g in gaps)
    assert gaps[-1] < gaps[0]  # early vs late, not step by step (the gap is not monotone)
    assert gaps[-1] >= optimal.certificate.gap - 1e-9


def test_cli_solve_colgen_and_certify(tmp_path):
    out, weights = tmp_path / "cg.json", tmp_path / "net.npz"
    data = ["--data", "synthetic1d", "--images", "1", "--size", "16", "--seed", "1"]
    argv = ["solve", *data, "--kernel", "3", "--beta", "0.01", "--method", "colgen"]
    argv += ["--certify", "exact", "--quiet", "--out", str(out), "--save-weights", str(weights)]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    for key in ("upper_bound", "lower_bound", "gap", "relative_gap", "certificate", "oracle"):
        assert key in res
    assert res["certificate"] == "certified" and res["relative_gap"] <= 1e-6
    assert res["colgen_iterations"] >= 1 and res["patterns_used"] < res["total_cells"]
    assert isinstance(res["kkt"], dict) and "stationarity" in res["kkt"]
    cert_path = tmp_path / "cert.json"
    argv = ["certify", "--weights", str(weights), *data, "--beta", "0.01", "--quiet"]
    assert main([*argv, "--out", str(cert_path)]) == 0
    cert = json.loads(cert_path.read_text())
    assert cert["certificate"] == "certified"
    assert cert["upper_bound"] == pytest.approx(res["upper_bound"], rel=1e-9)
    assert cert["oracle_cells"] == res["total_cells"]
    sampled = tmp_path / "s.json"
    argv = ["certify", "--weights", str(weights), *data, "--beta", "0.01", "--quiet"]
    assert main([*argv, "--certify", "sampled", "--patterns", "50", "--out", str(sampled)]) == 0
    assert json.loads(sampled.read_text())["certificate"] == "estimated"


def test_cli_solve_with_sampled_certificate(tmp_path):
    out = tmp_path / "r.json"
    argv = ["solve", "--images", "1", "--patterns", "30", "--certify", "sampled", "--quiet"]
    assert main([*argv, "--certify-patterns", "200", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["certificate"] == "estimated" and res["oracle_cells"] >= 200
