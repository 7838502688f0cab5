"""Vector-output networks: brute force over every cell on tiny exact problems (issue 15).

Independent references: exact cell enumeration, 30 random restarts of the
non-convex problem, the scalar evaluator and trainer, dense sampling of the
sphere for the oracle.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad

from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.cells import make_cells
from cvxcnn.certificates import CERTIFIED, ESTIMATED, TIGHT_CLARABEL, CertificateError
from cvxcnn.fitting import fit
from cvxcnn.losses import SquaredLoss
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.nonconvex import primal_value_and_grad
from cvxcnn.problem import make_problem
from cvxcnn.solve import SolverSettings
from cvxcnn.vector import (
    VectorFitResult,
    VectorReluNetwork,
    certify_vector,
    channel_targets,
    fit_vector,
    solve_relaxation,
    vector_objective,
    vector_oracle,
    vector_problem,
    vector_restarts,
    vector_value_and_grad,
)
from cvxcnn.vector.oracle import region_bound

BETA = 0.1
TIGHT = SolverSettings(solver_options=dict(TIGHT_CLARABEL))
FAST = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _signal(seed: int, length: int = 8, kernel: int = 2):
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((1, length))
    problem = make_problem(signal, signal, kernel_size=kernel)
    return problem, make_cells(problem.Y, "exact"), rng


def _targets(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(n)
    if kind == "random":
        return rng.standard_normal((n, 2))
    if kind == "proportional":
        return np.outer(x, [0.6, 0.8])
    return np.outer(x, [1.0, -1.0])  # "opposite": the unsigned program fails here


# ------------------------------------------------------------------ evaluator
def test_separable_network_objective_is_the_sum_of_scalar_objectives():
    problem, _, rng = _signal(0)
    X = rng.standard_normal((problem.n, 2))
    nets = [ReluNetwork(rng.standard_normal((3, 2)), rng.standard_normal(3)) for _ in range(2)]
    vector = VectorReluNetwork.from_channels(nets)
    vp = vector_problem(problem, X)
    scalar = sum(primal_objective(net, vp.channel(k), BETA) for k, net in enumerate(nets))
    assert vector_objective(vector, vp, BETA) == pytest.approx(scalar, rel=1e-13)


def test_channel_targets_are_the_centre_pixels_of_each_channel():
    rng = np.random.default_rng(9)
    L, ab = rng.random((2, 5, 6)), rng.random((2, 2, 5, 6))
    problem = make_problem(L, L, kernel_size=3)
    X = channel_targets(ab, problem)
    assert X.shape == (problem.n, 2)
    for k in range(2):  # the scalar path's centre pixels, channel by channel
        np.testing.assert_array_equal(X[:, k], make_problem(L, ab[:, k], kernel_size=3).target)
    with pytest.raises(ValueError, match="spatial"):
        channel_targets(ab[:, :, :4], problem)


def test_value_and_grad_reduce_to_the_scalar_ones_for_one_channel():
    problem, _, rng = _signal(1)
    vp = vector_problem(problem, problem.target[:, None])
    m, d = 4, problem.d
    U, v = rng.standard_normal((m, d)), rng.standard_normal(m)  # scalar layout: U (m, d)
    value, grad = primal_value_and_grad(
        np.concatenate([U.ravel(), v]), problem, BETA, SquaredLoss(), m
    )
    value_v, grad_v = vector_value_and_grad(np.concatenate([U.T.ravel(), v]), vp, BETA, m)
    assert value_v == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(grad_v[: d * m].reshape(d, m), grad[: m * d].reshape(m, d).T)
    np.testing.assert_allclose(grad_v[d * m :], grad[m * d :])


def test_gradient_matches_finite_differences():
    problem, _, rng = _signal(2)
    vp = vector_problem(problem, rng.standard_normal((problem.n, 3)))
    x0 = rng.standard_normal(problem.d * 5 + 5 * 3)
    err = check_grad(
        lambda x: vector_value_and_grad(x, vp, BETA, 5)[0],
        lambda x: vector_value_and_grad(x, vp, BETA, 5)[1],
        x0,
    )
    assert err < 1e-5


# --------------------------------------------------------------------- oracle
@FAST
@given(seed=st.integers(0, 2**16), c=st.integers(1, 4), d=st.integers(2, 3))
def test_vector_oracle_brackets_the_sampled_maximum(seed, c, d):
    rng = np.random.default_rng(seed)
    Y, G = rng.standard_normal((9, d)), rng.standard_normal((9, c))
    res = vector_oracle(Y, G, enumerate_relu_patterns(Y))
    U = rng.standard_normal((50_000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    sampled = np.linalg.norm(np.maximum(U @ Y.T, 0.0) @ G, axis=1).max()
    assert sampled <= res.upper * (1 + 1e-9)
    assert res.lower <= res.upper
    at = np.linalg.norm(G.T @ np.maximum(Y @ res.direction, 0.0))
    assert at == pytest.approx(res.lower, rel=1e-12)
    assert sampled >= 0.99 * res.lower  # the sampling is close: not vacuous
    if c <= 3:  # branch and bound converges; c > 3 only has the basis bound
        assert res.converged and res.upper <= res.lower * (1 + 2e-8)
    else:
        assert res.upper <= math.sqrt(c) * res.lower * (1 + 1e-9)


@FAST
@given(seed=st.integers(0, 2**16), c=st.integers(2, 3))
def test_region_bound_dominates_a_support_function(seed, c):
    """For a finite set A, h(w) = max_a w.a; the bound over a region beats h on a dense grid."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((7, c))
    region = rng.standard_normal((c, c))
    region /= np.linalg.norm(region, axis=1, keepdims=True)
    weights = rng.random((20_000, c))
    W = weights @ region
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    h_vertices = (region @ A.T).max(axis=1)
    h_inside = (W @ A.T).max(axis=1)
    assert h_inside.max() <= region_bound(region, h_vertices) * (1 + 1e-12) + 1e-12


# ------------------------------------------------------- the Done-when checks
SEEDS = {"random": 0, "proportional": 3, "opposite": 4}


@functools.cache
def _case(kind: str):
    """A tiny 1-D problem (n = 8, d = 2, every cell), its targets and the bracket."""
    problem, cells, rng = _signal(SEEDS[kind])
    X = _targets(kind, problem.n, rng)
    result = fit_vector(problem, cells, X, beta=BETA, settings=TIGHT, relaxation="nuclear")
    return problem, cells, X, result


@functools.cache
def _restarts(kind: str):
    """30 random restarts of the non-convex problem of :func:`_case`."""
    problem, _, X, _ = _case(kind)
    vp = vector_problem(problem, X)
    return vector_restarts(vp, n_neurons=8, beta=BETA, n_restarts=30, max_iter=200)


@pytest.mark.parametrize("kind", ["random", "opposite"])
def test_brute_force_over_every_cell_confirms_the_bracket(kind):
    problem, cells, X, result = _case(kind)
    vp = vector_problem(problem, X)
    restarts = _restarts(kind)
    tol = 1e-9 * restarts.best
    assert result.kind == CERTIFIED and result.exact_cells
    # the relaxation is below every trained network, the separable optimum above it
    assert result.relaxation_value <= restarts.objectives.min() + tol
    assert result.separable_value >= result.relaxation_value - tol
    # the dual certificate is a valid lower bound, below the upper end
    assert result.lower <= restarts.best + tol
    assert result.lower <= result.upper
    assert result.upper == pytest.approx(vector_objective(result.network, vp, BETA), rel=1e-14)
    assert result.upper <= result.separable_value + tol


@pytest.mark.parametrize("kind", ["proportional", "opposite"])
def test_bracket_closes_where_the_relaxation_is_tight(kind):
    result = _case(kind)[3]
    assert result.kind == CERTIFIED and result.relaxation_rank_one
    assert result.gap <= 1e-6
    assert abs(result.relaxation_value - result.upper) <= 1e-6
    assert result.upper < result.separable_value - 1e-3  # the separable bound alone is not tight


def test_lifted_relaxation_is_tighter_and_still_below_every_restart():
    problem, cells, X, nuclear = _case("random")
    lifted = fit_vector(problem, cells, X, beta=BETA, settings=TIGHT, relaxation="dnn")
    restarts = _restarts("random")
    assert lifted.kind == CERTIFIED and lifted.relaxation_form == "dnn"
    assert lifted.relaxation_value <= restarts.objectives.min() * (1 + 1e-9)
    assert lifted.relaxation_value >= nuclear.relaxation_value - 1e-8
    assert lifted.lower <= min(lifted.upper, restarts.best)
    # measured: gap 1.3e-3 with the nuclear form, 1.6e-6 with the lifted one
    assert lifted.gap <= 1e-5 < nuclear.gap


def test_average_pooling_readout_one_vector_per_image():
    """The readout R (mean over positions) applies to every channel: X is (n_images, c)."""
    rng = np.random.default_rng(3)
    problem = make_problem(rng.standard_normal((4, 3)), np.zeros(4), kernel_size=2, readout="mean")
    cells = make_cells(problem.Y, "exact")
    X = rng.standard_normal((4, 2))
    result = fit_vector(problem, cells, X, beta=0.05, settings=TIGHT)
    restarts = vector_restarts(
        vector_problem(problem, X), n_neurons=6, beta=0.05, n_restarts=10, max_iter=200
    )
    assert result.kind == CERTIFIED
    assert result.relaxation_value <= restarts.objectives.min() * (1 + 1e-9)
    assert result.lower <= min(result.upper, restarts.best)
    assert result.gap <= 1e-6  # measured: 2e-9 (the relaxation's blocks are rank one)


def test_unsigned_column_constraints_are_not_a_relaxation():
    """Without sign patterns ('columns of V_i in K_i') the value exceeds the certified optimum."""
    problem, cells, X, result = _case("opposite")
    unsigned = solve_relaxation(
        vector_problem(problem, X), cells, beta=BETA, settings=TIGHT, form="unsigned"
    )
    assert result.gap <= 1e-6  # upper is the optimum, to 1e-6
    assert unsigned.success and unsigned.value > result.upper + 1e-3


def test_relaxation_with_one_channel_is_the_scalar_program():
    problem, cells, _ = _signal(5)
    relax = solve_relaxation(
        vector_problem(problem, problem.target[:, None]), cells, beta=BETA, settings=TIGHT
    )
    scalar = fit(problem, cells, beta=BETA, solver_options=dict(TIGHT_CLARABEL))
    assert relax.value == pytest.approx(scalar.objective, rel=1e-7)
    # badly scaled data is solved normalized and mapped back: Y, X times 1e3, beta times 1e6
    big = vector_problem(problem, 1e3 * problem.target[:, None])
    big = dataclasses.replace(big, Y=1e3 * big.Y)
    scaled = solve_relaxation(big, cells, beta=1e6 * BETA, settings=TIGHT)
    assert scaled.value == pytest.approx(1e6 * relax.value, rel=1e-6)


def test_three_channels_certified_and_below_restarts():
    problem, cells, rng = _signal(6, length=7)
    X = rng.standard_normal((problem.n, 3))
    result = fit_vector(problem, cells, X, beta=BETA, settings=TIGHT, relaxation=False)
    best = vector_restarts(
        vector_problem(problem, X), n_neurons=8, beta=BETA, n_restarts=5, max_iter=200
    ).best
    assert result.kind == CERTIFIED and result.certificate["oracle_method"] == "triangles"
    assert result.lower <= min(best, result.upper)
    json.dumps(result.to_dict())


# ----------------------------------------------------------------- properties
@FAST
@given(seed=st.integers(0, 2**16), length=st.integers(5, 8), scale=st.floats(0.1, 3.0))
def test_lower_never_exceeds_upper(seed, length, scale):
    problem, cells, rng = _signal(seed, length=length)
    X = scale * rng.standard_normal((problem.n, 2))
    result = fit_vector(problem, cells, X, beta=BETA, relaxation=False, polish=False)
    assert result.kind == CERTIFIED
    assert result.lower <= result.upper + 1e-9 * max(1.0, result.upper)
    assert result.lower >= 0.0
    # the bound from ANY network's residual is below every network's objective
    other = VectorReluNetwork(rng.standard_normal((problem.d, 3)), rng.standard_normal((3, 2)))
    cert = certify_vector(other, vector_problem(problem, X), cells, beta=BETA)
    assert cert.certificate == CERTIFIED
    assert cert.lower_bound <= result.upper + 1e-9 * max(1.0, result.upper)


def test_sampled_cells_are_only_an_estimate():
    problem, _, rng = _signal(7)
    sampled = make_cells(problem.Y, 5, random_state=0)
    X = rng.standard_normal((problem.n, 2))
    result = fit_vector(problem, sampled, X, beta=BETA, relaxation=False)
    assert result.kind == ESTIMATED and not result.exact_cells
    cert = certify_vector(result.network, vector_problem(problem, X), sampled, beta=BETA)
    assert cert.certificate == ESTIMATED and "sampled" in cert.message


def test_an_overflowing_network_gets_a_failed_certificate_with_nan_bounds():
    problem, cells, rng = _signal(3)
    X = rng.standard_normal((problem.n, 2))
    huge = VectorReluNetwork(np.full((problem.d, 2), 1e200), np.full((2, 2), 1e200))
    cert = certify_vector(huge, vector_problem(problem, X), cells, beta=BETA)
    assert cert.certificate == "failed" and not cert.certified
    assert math.isnan(cert.lower_bound) and math.isnan(cert.gap) and math.isnan(cert.dual_scale)
    assert cert.oracle_method == "none" and not cert.oracle_converged
    assert math.isnan(cert.oracle_upper) and "not finite" in cert.message
    json.dumps(cert.to_dict())


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_argument():
    problem, cells, _ = _signal(8)
    with pytest.raises(ValueError, match="X must have shape"):
        fit_vector(problem, cells, np.zeros((problem.n + 1, 2)), beta=BETA)
    with pytest.raises(ValueError, match="X contains"):
        fit_vector(problem, cells, np.full((problem.n, 2), np.nan), beta=BETA)
    with pytest.raises(ValueError, match="beta"):
        fit_vector(problem, cells, np.zeros((problem.n, 2)), beta=0.0)
    with pytest.raises(ValueError, match="masks|patterns"):
        fit_vector(problem, np.ones((3, problem.n + 1), bool), np.zeros((problem.n, 2)), beta=1)
    residual = make_problem(np.ones((1, 6)), np.ones((1, 6)), kernel_size=2, residual=True)
    with pytest.raises(ValueError, match="residual"):
        vector_problem(residual, np.zeros((6, 2)))


def test_a_certified_bracket_with_lower_above_upper_is_refused():
    fields = dict(
        upper=1.0, lower=2.0, gap=-1.0, relative_gap=-1.0, kind=CERTIFIED, upper_source="x",
        lower_source="y", candidates={}, relaxation_value=math.nan, relaxation_status=None,
        relaxation_form=None, relaxation_rank_one=None, separable_value=1.0, beta=1.0, n=1,
        d=1, channels=2, n_cells=1, exact_cells=True, certificate={}, timings={},
    )  # fmt: skip
    with pytest.raises(CertificateError):
        VectorFitResult(**fields)
    VectorFitResult(**{**fields, "kind": ESTIMATED})  # an estimate may say anything
