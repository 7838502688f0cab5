"""Soft-threshold networks: triples, programs 6a/6c, bracket, certificate, CLI (DESIGN 6)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime, linprog

from cvxcnn.arrangements import ArrangementTooLargeError
from cvxcnn.bracket import fixed_threshold_bracket
from cvxcnn.certificates import TIGHT_CLARABEL, certify_st
from cvxcnn.fitting import fit_st
from cvxcnn.losses import get_loss
from cvxcnn.network_io import load_network, save_network
from cvxcnn.networks import primal_objective
from cvxcnn.problem import make_problem, problem_from_matrix
from cvxcnn.soft_threshold import (
    STNetwork,
    TripleSet,
    build_st_program,
    enumerate_st_triples,
    sample_st_triples,
    soft_threshold,
    st_count_bound,
    st_oracle,
    st_random_restarts,
    st_value_and_grad,
    triples_from_generators,
)
from cvxcnn.soft_threshold.oracle import st_objective_at
from cvxcnn.solve import solve_cvxpy

BETA = 0.05


# --------------------------------------------------------------------------- #
# Fixtures and brute force
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def problem(tiny_1d_st):
    """Two noisy 1-D signals of length 5, kernel 2: n = 10, d = 2 (zero-padded rows)."""
    return tiny_1d_st[0]


@pytest.fixture(scope="module")
def triples(tiny_1d_st):
    return tiny_1d_st[1]


@pytest.fixture(scope="module")
def exact_fit(problem, triples):
    return fit_st(problem, triples, beta=BETA, solver_options=TIGHT_CLARABEL)


def brute_force_triples(Y: np.ndarray) -> set[bytes]:
    """Every (S1, S2, S3) assignment whose open cell in (u, t > 0) is non-empty, by LP."""
    n, d = Y.shape
    found = set()
    c = np.zeros(d + 2)
    c[-1] = -1.0  # maximize the slack s
    for labels in itertools.product((1, 2, 3), repeat=n):
        rows = []
        for y, label in zip(Y, labels, strict=True):
            if label == 3:  # y u - t >= s
                rows.append(np.r_[-y, 1.0, 1.0])
            elif label == 1:  # -y u - t >= s
                rows.append(np.r_[y, 1.0, 1.0])
            else:  # t - y u >= s and t + y u >= s
                rows.append(np.r_[y, -1.0, 1.0])
                rows.append(np.r_[-y, -1.0, 1.0])
        rows.append(np.r_[np.zeros(d), -1.0, 1.0])  # t >= s
        res = linprog(
            c,
            A_ub=np.array(rows),
            b_ub=np.zeros(len(rows)),
            bounds=[(-1, 1)] * d + [(0, 1), (None, 1)],
            method="highs",
        )
        if res.status == 0 and -res.fun > 1e-7:
            lab = np.array(labels)
            found.add(np.packbits(np.r_[lab == 1, lab == 3]).tobytes())
    return found


# --------------------------------------------------------------------------- #
# Triples
# --------------------------------------------------------------------------- #


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    d=st.integers(1, 4),
    t=st.floats(0.0, 3.0),
)
def test_gains_reproduce_soft_threshold(seed, n, d, t):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, d))
    U = rng.standard_normal((5, d))
    tr = triples_from_generators(Y, U, t)
    h = tr.generators @ Y.T
    assert np.allclose(soft_threshold(h, tr.thresholds[:, None]), tr.gains * h, atol=1e-12)
    assert not np.any(tr.s1 & tr.s3)
    assert np.all((tr.gains >= 0) & (tr.gains <= 1))
    assert np.all(tr.gains[tr.s2] == 0)


def test_soft_threshold_values():
    a = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    assert np.array_equal(soft_threshold(a, 1.0), [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    # tau_t(a) = (a - t)_+ - (-a - t)_+
    assert np.allclose(soft_threshold(a, 0.7), np.maximum(a - 0.7, 0) - np.maximum(-a - 0.7, 0))


@pytest.mark.parametrize(
    ("n", "rank", "expected"),
    [(10, 2, 201), (12, 2, 289), (10, 3, 1161), (3, 5, 27), (0, 2, 1), (4, 0, 1), (1, 1, 3)],
)
def test_count_bound_values(n, rank, expected):
    assert st_count_bound(n, rank) == expected


@pytest.mark.parametrize(("n", "d", "expected"), [(10, 2, 201), (12, 2, 289), (10, 3, 1161)])
def test_exact_count_equals_bound_on_generic_data(n, d, expected):
    Y = np.random.default_rng(n * d).standard_normal((n, d))
    tr = enumerate_st_triples(Y)
    assert len(tr) == tr.count_bound == expected
    assert tr.exact and len(tr.keys()) == len(tr)


def _degenerate(name: str) -> np.ndarray:
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((4, 2))
    return {
        "generic 4x2": Y,
        "generic 5x3": rng.standard_normal((5, 3)),
        "duplicate and scaled rows": np.vstack([Y[:3], Y[:1], 2.0 * Y[1:2]]),
        "negated row and zero row": np.vstack([Y[:3], -Y[:1], np.zeros((1, 2))]),
        "integer data with bias": np.hstack([rng.integers(-2, 3, (5, 1)), np.ones((5, 1))]),
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "generic 4x2",
        "generic 5x3",
        "duplicate and scaled rows",
        "negated row and zero row",
        "integer data with bias",
    ],
)
def test_exact_triples_match_brute_force_lp(name):
    Y = _degenerate(name).astype(float)
    tr = enumerate_st_triples(Y)
    assert tr.keys() == brute_force_triples(Y)
    assert len(tr) <= tr.count_bound
    # generators are interior: t > 0 and every row strictly on its side
    h = tr.generators @ Y.T
    t = tr.thresholds[:, None]
    assert np.all(tr.thresholds > 0)
    nonzero = np.any(Y != 0, axis=1)[None, :]
    assert np.all(np.where(tr.s3, h > t, True))
    assert np.all(np.where(tr.s1, h < -t, True))
    assert np.all(np.where(tr.s2 & nonzero, np.abs(h) < t, True))


def test_lp_method_agrees_with_vertex():
    Y = np.random.default_rng(1).standard_normal((6, 2))
    assert enumerate_st_triples(Y, method="lp").keys() == enumerate_st_triples(Y).keys()


def test_sampled_triples_are_seeded_deduplicated_and_a_subset(problem, triples):
    a = sample_st_triples(problem.Y, 400, random_state=3)
    b = sample_st_triples(problem.Y, 400, random_state=3)
    assert np.array_equal(a.s1, b.s1) and np.array_equal(a.thresholds, b.thresholds)
    assert not a.exact and a.method == "uniform-dead-zone"
    assert len(a.keys()) == len(a) <= 400
    assert a.keys() <= triples.keys()
    fixed = sample_st_triples(problem.Y, 400, threshold=0.3, random_state=3)
    assert fixed.keys() == a.keys() and np.all(fixed.thresholds == 0.3)
    assert np.allclose(fixed.gains, a.gains)  # gains are scale invariant
    mixed = sample_st_triples(problem.Y, 50, data_directed=0.5, random_state=0)
    assert mixed.method == "mixed"


def test_exact_enumeration_refuses_large_arrangements():
    Y = np.random.default_rng(0).standard_normal((40, 4))
    with pytest.raises(ArrangementTooLargeError, match=r"up to \d+ triples.*max_cells=1000"):
        enumerate_st_triples(Y, max_cells=1000)


def test_triple_set_validation():
    s = np.array([[True, False]])
    with pytest.raises(ValueError, match="disjoint"):
        TripleSet(
            s,
            s,
            np.zeros((1, 2)),
            np.zeros(1),
            np.zeros((1, 2)),
            exact=False,
            method="given",
            count_bound=1,
        )
    with pytest.raises(ValueError, match="thresholds"):
        triples_from_generators(np.eye(2), np.eye(2), -1.0)
    with pytest.raises(ValueError, match="threshold"):
        sample_st_triples(np.eye(2), 3, threshold=0.0)


# --------------------------------------------------------------------------- #
# Networks
# --------------------------------------------------------------------------- #


def test_st_network_output_penalty_rescaling_and_file(tmp_path, problem):
    rng = np.random.default_rng(0)
    U, t, v = rng.standard_normal((4, 2)), rng.random(4), rng.standard_normal(4)
    net = STNetwork(U=U, thresholds=t, v=v)
    expected = sum(soft_threshold(problem.Y @ U[j], t[j]) * v[j] for j in range(4))
    assert np.allclose(net.output(problem.Y), expected)
    assert net.penalty() == pytest.approx(0.5 * (np.sum(U**2) + np.sum(v**2)))
    value = primal_objective(net, problem, BETA)
    fixed, zero = net.with_threshold(0.7)
    assert zero == 0 and np.all(fixed.thresholds == 0.7)
    assert np.allclose(fixed.output(problem.Y), net.output(problem.Y))
    assert np.allclose(net.balanced().output(problem.Y), net.output(problem.Y))
    assert primal_objective(net.balanced(), problem, BETA) <= value + 1e-12
    lin = STNetwork(U=U, thresholds=np.r_[0.0, t[1:]], v=v)
    dropped, zero = lin.with_threshold(0.7)
    kept, _ = lin.with_threshold(0.7, zero_threshold="keep")
    assert zero == 1 and dropped.n_neurons == 3 and kept.n_neurons == 4
    path = tmp_path / "st.npz"
    save_network(path, net, beta=BETA)
    back = load_network(path).network
    assert np.array_equal(back.U, U) and np.array_equal(back.thresholds, t)
    with pytest.raises(ValueError, match="thresholds"):
        STNetwork(U=U, thresholds=-t, v=v)


def test_value_and_gradient_match_finite_differences(problem):
    rng = np.random.default_rng(1)
    m, d = 3, problem.d
    loss = get_loss("squared")
    x = np.r_[rng.standard_normal(m * d), rng.random(m), rng.standard_normal(m)]
    value, grad = st_value_and_grad(x, problem, 0.1, loss, m)
    fd = approx_fprime(x, lambda p: st_value_and_grad(p, problem, 0.1, loss, m)[0], 1e-7)
    assert np.allclose(grad, fd, atol=1e-5)
    net = STNetwork(U=x[: m * d].reshape(m, d), thresholds=x[m * d : m * d + m], v=x[m * d + m :])
    assert value == pytest.approx(primal_objective(net, problem, 0.1))
    y = np.r_[rng.standard_normal(m * d), rng.standard_normal(m)]
    _, grad = st_value_and_grad(y, problem, 0.1, loss, m, 0.2)
    fd = approx_fprime(y, lambda p: st_value_and_grad(p, problem, 0.1, loss, m, 0.2)[0], 1e-7)
    assert np.allclose(grad, fd, atol=1e-5)


# --------------------------------------------------------------------------- #
# Program 6a: exactness
# --------------------------------------------------------------------------- #


def test_exact_program_reconstruction_equals_convex_optimum(exact_fit, triples):
    res = exact_fit
    assert res.success and res.exact_arrangement and res.triples_exact
    assert res.n_patterns == len(triples)
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.solve.solver_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.sign_violation < 1e-7
    assert 0 < res.neurons and np.all(res.network.thresholds >= 0)
    d = res.to_dict()
    assert (
        d["activation"] == "soft_threshold" and d["st_form"] == "exact" and d["threshold"] is None
    )


@pytest.mark.parametrize("beta", [0.01, BETA])
def test_no_learnable_restart_beats_the_exact_optimum(problem, triples, beta):
    res = fit_st(problem, triples, beta=beta, solver_options=TIGHT_CLARABEL)
    restarts = st_random_restarts(
        problem, n_neurons=8, beta=beta, n_restarts=12, max_iter=2000, random_state=1
    )
    assert restarts.objectives.min() >= res.objective * (1 - 1e-6)
    assert restarts.best <= res.objective * 1.05  # the check is not vacuous


def test_generic_data_restarts_and_exactness():
    rng = np.random.default_rng(11)
    Y = rng.standard_normal((8, 2))
    prob = problem_from_matrix(Y, Y @ np.array([1.0, -0.5]) + 0.3 * rng.standard_normal(8))
    tr = enumerate_st_triples(Y)
    assert len(tr) == st_count_bound(8, 2)
    res = fit_st(prob, tr, beta=0.1, solver_options=TIGHT_CLARABEL)
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)
    restarts = st_random_restarts(prob, n_neurons=6, beta=0.1, n_restarts=10, random_state=2)
    assert restarts.objectives.min() >= res.objective * (1 - 1e-6)


def test_sampled_triples_give_an_upper_bound(problem, exact_fit):
    sampled = sample_st_triples(problem.Y, 5, random_state=0)
    res = fit_st(problem, sampled, beta=BETA)
    assert not res.exact_arrangement
    assert res.objective >= exact_fit.objective - 1e-7
    assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)


def test_beta_parameter_resolves_without_rebuilding(problem, triples, exact_fit):
    program = build_st_program(problem, triples, beta=0.5)
    solve_cvxpy(program.problem)
    program.beta.value = BETA
    info = solve_cvxpy(program.problem, solver_options=TIGHT_CLARABEL)
    assert info.solver_objective == pytest.approx(exact_fit.objective, rel=1e-6)


def test_other_losses_and_sum_readout():
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((8, 2))
    prob = problem_from_matrix(Y, rng.standard_normal(2), readout="sum", n_images=2)
    tr = enumerate_st_triples(Y)
    for loss in ("squared", "huber"):
        res = fit_st(prob, tr, beta=0.1, loss=loss, solver_options=TIGHT_CLARABEL)
        assert res.success
        assert res.primal_objective == pytest.approx(res.objective, rel=1e-6)


def test_second_solver_agrees(problem, triples, exact_fit):
    scs = fit_st(problem, triples, beta=BETA, solver="scs", solver_options={"eps": 1e-9})
    assert scs.solve.solver == "SCS"
    assert scs.objective == pytest.approx(exact_fit.objective, rel=1e-4)


# --------------------------------------------------------------------------- #
# Bracket, paper form, certificate
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("lam", [0.05, 0.3])
def test_fixed_threshold_bracket_and_restarts(problem, triples, exact_fit, lam):
    restarts = st_random_restarts(
        problem, n_neurons=8, beta=BETA, threshold=lam, n_restarts=20, max_iter=2000
    )
    b = fixed_threshold_bracket(
        problem,
        triples,
        lam,
        beta=BETA,
        fit=exact_fit,
        networks=[restarts.best_network],
        max_iter=1000,
        certify=True,
    )
    # the lower end is the rigorous dual bound at the 6a network: never above the 6a
    # optimum, and within the interior point's accuracy of it
    assert b.certified and b.lower <= exact_fit.objective
    assert b.lower == pytest.approx(exact_fit.objective, rel=1e-3)
    assert b.dual_kind == "certified" and b.dual_lower <= b.lower + 1e-9
    assert b.upper <= restarts.best + 1e-12 and b.upper >= b.lower
    assert b.gap == pytest.approx(b.upper - b.lower)
    # no fixed-lambda restart goes below the certified lower bound
    assert restarts.objectives.min() >= b.lower * (1 - 1e-6)
    assert set(b.candidates) >= {"rescaled", "rescaled+polish", "given[0]"}
    rescaled, _ = exact_fit.network.with_threshold(lam)
    assert b.candidates["rescaled"] == pytest.approx(primal_objective(rescaled, problem, BETA))
    assert np.all(b.network.thresholds == lam)
    with pytest.raises(ValueError, match="fixed-threshold"):
        fixed_threshold_bracket(
            problem, triples, lam, beta=BETA, fit=exact_fit, networks=[exact_fit.network]
        )


def test_bracket_with_sampled_triples_is_an_estimate(problem):
    sampled = sample_st_triples(problem.Y, 30, random_state=0)
    b = fixed_threshold_bracket(problem, sampled, 0.2, beta=BETA, polish=False)
    assert b.lower_kind == "estimate" and not b.certified


def test_paper_program(problem, exact_fit):
    lam = 0.2
    sampled = sample_st_triples(problem.Y, 60, threshold=lam, random_state=0)
    res = fit_st(problem, sampled, form="paper", threshold=lam, beta=BETA)
    assert res.success and not res.exact_arrangement and res.form == "paper"
    # the gated network is what the program fits; its value is the program's value
    assert res.gated_objective == pytest.approx(res.objective, rel=1e-6)
    assert res.sign_violation < 1e-7
    # the "paper network" (true ST at lambda) is a fixed-lambda network: above the lower bound
    assert np.all(res.network.thresholds == lam)
    assert res.primal_objective >= exact_fit.objective * (1 - 1e-6)
    # the program depends on the triples' gains only, not on lambda
    other = fit_st(problem, sampled.at_threshold(1.0), form="paper", threshold=1.0, beta=BETA)
    assert other.objective == pytest.approx(res.objective, rel=1e-6)
    with pytest.raises(ValueError, match="threshold"):
        fit_st(problem, sampled, form="paper", beta=BETA)
    with pytest.raises(ValueError, match="backend"):  # CVXPY only: never silently ignored
        fit_st(problem, sampled, form="paper", threshold=lam, beta=BETA, backend="direct")
    with pytest.raises(TypeError, match="n_jobs"):  # no facet reduction to parallelize
        fit_st(problem, sampled, form="paper", threshold=lam, beta=BETA, n_jobs=2)


def test_certificate_at_the_optimum_and_elsewhere(problem, triples, exact_fit):
    cert = certify_st(exact_fit.network, problem, triples, beta=BETA)
    assert cert.certified and cert.oracle == "exact/st-socp"
    assert cert.lower_bound <= exact_fit.objective * (1 + 1e-9)
    assert cert.relative_gap < 1e-3
    other = STNetwork(U=np.array([[1.0, -1.0]]), thresholds=np.array([0.1]), v=np.array([0.5]))
    weak = certify_st(other, problem, triples, beta=BETA)
    assert weak.lower_bound <= exact_fit.objective + 1e-9
    assert weak.oracle_lower <= weak.oracle_upper * (1 + 1e-9)
    sampled = sample_st_triples(problem.Y, 10, random_state=0)
    assert certify_st(other, problem, sampled, beta=BETA).certificate == "estimated"


def test_oracle_brackets_the_sampled_maximum(problem, triples):
    rng = np.random.default_rng(4)
    g = rng.standard_normal(problem.n)
    orc = st_oracle(problem.Y, g, triples)
    U = rng.standard_normal((50_000, problem.d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    t = rng.random(50_000) * np.abs(U @ problem.Y.T).max(axis=1)
    sampled = st_objective_at(problem.Y, g, U, t).max()
    assert sampled <= orc.upper * (1 + 1e-9)
    assert orc.lower <= orc.upper * (1 + 1e-9)
    assert orc.upper - orc.lower < 1e-6 * orc.upper
    assert sampled >= 0.99 * orc.lower


# --------------------------------------------------------------------------- #
# Slow: a digits problem with sampled triples
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_digits_sampled_side_by_side():
    from cvxcnn.data import load_digits

    data = load_digits(2, noise=0.25, random_state=0)
    prob = make_problem(data.noisy, data.clean, kernel_size=3)
    lam = 0.1
    tr = sample_st_triples(prob.Y, 300, threshold=lam, random_state=0)
    learn = fit_st(prob, tr, beta=1e-2)
    paper = fit_st(prob, tr, form="paper", threshold=lam, beta=1e-2)
    b = fixed_threshold_bracket(prob, tr, lam, beta=1e-2, fit=learn, max_iter=500)
    assert learn.success and paper.success
    assert learn.primal_objective == pytest.approx(learn.objective, rel=1e-5)
    assert paper.gated_objective == pytest.approx(paper.objective, rel=1e-5)
    assert b.lower_kind == "estimate" and b.upper > 0
