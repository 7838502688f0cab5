"""One pipeline for both activations, and certificates that cannot lie.

- column generation and active-set paths run for soft thresholds through the
  same code as for ReLU, and agree with the full exact program;
- a certificate is "certified" only over an exact cell set verified against
  ITS problem (another patch matrix, a missing cell: "estimated");
- the certificate's constructor refuses non-finite bounds and lower > upper;
- mutation guards: the oracle's upper end covers every cell wherever the
  maximizing cell sits in the set, and the dual point is feasible for an
  independently computed ``M`` (a certificate that scales ``M`` down fails).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvxcnn.activations import ACTIVATIONS, activation_of, get_activation
from cvxcnn.arrangements import PatternSet, enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.certificates import (
    CERTIFIED,
    ESTIMATED,
    FAILED,
    TIGHT_CLARABEL,
    Certificate,
    CertificateError,
    certify,
)
from cvxcnn.colgen import solve_colgen
from cvxcnn.fitting import fit
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import relu_oracle
from cvxcnn.path import solve_path
from cvxcnn.problem import make_problem
from cvxcnn.soft_threshold import STNetwork, enumerate_st_triples

BETA = 1e-2
FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _signal(seed: int = 0, length: int = 12, kernel: int = 2):
    rng = np.random.default_rng(seed)
    clean = np.sin(np.linspace(0, 3, length))[None] + 0.2 * rng.random((1, length))
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    return make_problem(noisy, clean, kernel_size=kernel)


@pytest.fixture(scope="module")
def st_problem():
    problem = _signal(0)
    return problem, enumerate_st_triples(problem.Y)


def test_activation_registry_and_inference(st_problem):
    problem, triples = st_problem
    assert get_activation("st") is ACTIVATIONS["soft_threshold"]
    assert activation_of(triples).name == "soft_threshold"
    assert activation_of(np.ones((2, problem.n), dtype=bool)).name == "relu"
    with pytest.raises(ValueError, match="activation must be one of"):
        get_activation("tanh")
    with pytest.raises(TypeError, match="a relu network needs relu cells"):
        certify(ReluNetwork(np.ones((1, problem.d)), [1.0]), problem, triples, beta=BETA)


def test_st_colgen_certifies_the_exact_program(st_problem):
    problem, triples = st_problem
    full = fit(problem, triples, beta=BETA, solver_options=TIGHT_CLARABEL)
    cg = solve_colgen(problem, triples, beta=BETA)
    assert cg.certificate.certificate == CERTIFIED and cg.converged
    assert -1e-9 <= cg.certificate.relative_gap <= 1e-6
    assert cg.fit.objective == pytest.approx(full.objective, rel=1e-6)
    assert cg.patterns_used < len(triples)
    assert cg.to_dict()["activation"] == "soft_threshold"


def test_st_path_matches_fresh_solves(st_problem):
    problem, triples = st_problem
    betas = [0.5, 0.05]
    path = solve_path(problem, triples, betas)
    for point, beta in zip(path.points, betas, strict=True):
        fresh = fit(problem, triples, beta=beta)
        assert point.converged
        assert point.fit.objective == pytest.approx(fresh.objective, rel=1e-5)
        assert point.working_set <= len(triples)
    assert path.to_dict()["points"][0]["beta"] == 0.5


@pytest.mark.parametrize("kind", ["relu", "soft_threshold"])
def test_exact_cells_of_another_patch_matrix_are_not_trusted(kind):
    act = get_activation(kind)
    problem, other = _signal(0), _signal(1)  # same n, different Y
    cells = act.enumerate(other.Y, max_cells=100_000)
    own = act.enumerate(problem.Y, max_cells=100_000)
    net = fit(problem, act.sample(problem.Y, 30, random_state=0), beta=BETA).network
    assert certify(net, problem, own, beta=BETA).certificate == CERTIFIED
    foreign = certify(
        net, problem, act.subset(cells, np.arange(min(len(cells), len(own)))), beta=BETA
    )
    assert foreign.certificate == ESTIMATED and "not verified" in foreign.message
    forged = act.subset(own, np.arange(len(own) - 1))  # one cell missing ...
    forged = type(forged)(
        **{**vars(forged), "exact": True, "digest": own.digest, "exact_count": own.exact_count}
    )  # ... but claimed exact
    cert = certify(net, problem, forged, beta=BETA)
    assert cert.certificate == ESTIMATED


def test_relu_set_built_by_hand_with_exact_true_is_an_estimate():
    problem = _signal(0)
    own = enumerate_relu_patterns(problem.Y)
    by_hand = PatternSet(own.masks, own.generators, True, "given", own.count_bound)
    net = fit(problem, own, beta=BETA).network
    assert certify(net, problem, by_hand, beta=BETA).certificate == ESTIMATED


def test_certificate_constructor_refuses_false_certificates():
    common = dict(
        gap=0.0,
        relative_gap=0.0,
        oracle="exact/nnls",
        oracle_cells=1,
        oracle_upper=1.0,
        oracle_lower=1.0,
        dual_scale=1.0,
        beta=1.0,
        loss="squared",
        oracle_seconds=0.0,
    )
    with pytest.raises(CertificateError, match="not finite"):
        Certificate(upper_bound=math.nan, lower_bound=0.0, certificate=CERTIFIED, **common)
    with pytest.raises(CertificateError, match="exceeds upper bound"):
        Certificate(upper_bound=1.0, lower_bound=1.0 + 1e-6, certificate=CERTIFIED, **common)
    ok = Certificate(upper_bound=1.0, lower_bound=1.0 + 1e-13, certificate=CERTIFIED, **common)
    assert ok.certified
    Certificate(upper_bound=math.nan, lower_bound=0.0, certificate=FAILED, **common)


@pytest.mark.parametrize("kind", ["relu", "soft_threshold"])
def test_overflowing_weights_fail_instead_of_certifying(kind):
    problem = _signal(0)
    act = get_activation(kind)
    cells = act.enumerate(problem.Y, max_cells=100_000)
    net = fit(problem, cells, beta=BETA).network
    big = {
        "relu": lambda n: ReluNetwork(n.U * 1e200, n.v * 1e200),
        "soft_threshold": lambda n: STNetwork(
            U=n.U * 1e200, thresholds=n.thresholds, v=n.v * 1e200
        ),
    }[kind](net)
    cert = certify(big, problem, cells, beta=BETA)
    assert cert.certificate == FAILED and not cert.certified and cert.message


def test_certificate_searches_every_cell_wherever_the_maximizer_sits():
    """A certificate that skips one cell (any one) misses the maximizer at some position."""
    problem = _signal(2, length=14)
    cells = enumerate_relu_patterns(problem.Y)
    rng = np.random.default_rng(2)  # a residual whose maximizing cell is unique (see below)
    net = ReluNetwork(rng.standard_normal((3, problem.d)), rng.standard_normal(3))
    r = problem.target - problem.readout.apply(net.output(problem.Y))
    g = problem.readout.adjoint(r)
    per_cell = np.array(
        [relu_oracle(problem.Y, g, cells.masks[i : i + 1]).upper for i in range(len(cells))]
    )
    top = np.sort(per_cell)
    assert top[-1] - top[-2] > 1e-6 * top[-1]  # dropping the maximizer must show
    best = int(per_cell.argmax())
    rest = [i for i in range(len(cells)) if i != best]
    for at in range(len(cells)):  # the maximizing cell at every position of the set
        order = np.array(rest[:at] + [best] + rest[at:])
        sub = cells.subset(order)
        reordered = PatternSet(
            sub.masks, sub.generators, True, cells.method, cells.count_bound, cells.digest,
            cells.exact_count,
        )  # fmt: skip
        cert = certify(net, problem, reordered, beta=BETA)
        assert cert.certificate == CERTIFIED and cert.oracle_cells == len(cells)
        assert cert.oracle_upper >= per_cell.max() * (1 - 1e-12), at
        assert cert.oracle_upper <= per_cell.max() * (1 + 1e-9)


def test_dual_point_is_feasible_for_an_independent_oracle():
    """``s * M <= beta`` with ``M`` from the stacked-SOCP oracle: scaling M down breaks it."""
    problem = _signal(3, length=16)
    cells = enumerate_relu_patterns(problem.Y)
    cg = solve_colgen(problem, cells, beta=BETA)
    cert = cg.certificate
    assert cert.certified and -1e-9 <= cert.relative_gap <= 1e-6
    r = problem.target - problem.readout.apply(cg.fit.network.output(problem.Y))
    m_socp = relu_oracle(problem.Y, problem.readout.adjoint(r), cells.masks, method="socp").lower
    assert cert.dual_scale * m_socp <= BETA * (1 + 1e-7)
    assert cert.dual_scale * m_socp >= BETA * 0.999  # the constraint is active: not vacuous


@FAST
@given(seed=st.integers(0, 2**16), kind=st.sampled_from(["relu", "soft_threshold"]))
def test_any_certified_result_has_finite_ordered_bounds(seed, kind):
    rng = np.random.default_rng(seed)
    problem = _signal(seed % 7, length=8)
    act = get_activation(kind)
    cells = act.enumerate(problem.Y, max_cells=100_000)
    m = int(rng.integers(1, 4))
    U = rng.standard_normal((m, problem.d))
    v = rng.standard_normal(m) * 0.5
    net = (
        ReluNetwork(U, v) if kind == "relu" else STNetwork(U=U, thresholds=rng.random(m) * 0.3, v=v)
    )
    cert = certify(net, problem, cells, beta=BETA)
    if cert.certified:
        assert math.isfinite(cert.upper_bound) and math.isfinite(cert.lower_bound)
        assert cert.lower_bound <= cert.upper_bound + 1e-9 * max(1, abs(cert.upper_bound))


@pytest.mark.parametrize("kind", ["relu", "soft_threshold"])
def test_scaling_the_data_scales_the_optimum(kind):
    """Data x s and beta x s^2: the optimum x s^2, the same status, s in {1e-6, 1, 1e6}."""
    from cvxcnn.data import synthetic_1d

    data = synthetic_1d(1, length=16, noise=0.1, random_state=0)
    act = get_activation(kind)
    base = make_problem(data.noisy, data.clean, kernel_size=3)
    cells = act.sample(base.Y, 30, random_state=0)
    results = {}
    for s in (1e-6, 1.0, 1e6):
        problem = make_problem(data.noisy * s, data.clean * s, kernel_size=3)
        results[s] = fit(problem, cells, beta=BETA * s**2)
    ref = results[1.0]
    assert ref.success
    for s, res in results.items():
        assert res.status == ref.status
        assert res.objective == pytest.approx(ref.objective * s**2, rel=1e-6)
        assert res.primal_objective == pytest.approx(res.objective, rel=1e-5)


def test_huge_data_at_fixed_beta_gives_an_accurate_network():
    """The issue's case: data x 1e8 used to report optimal with a network 300x off."""
    from cvxcnn.data import synthetic_1d

    data = synthetic_1d(1, length=16, noise=0.1, random_state=0)
    problem = make_problem(data.noisy * 1e8, data.clean * 1e8, kernel_size=3)
    cells = sample_relu_patterns(problem.Y, 30, random_state=0)
    res = fit(problem, cells, beta=BETA)
    assert res.status in ("optimal", "optimal_inaccurate")
    if res.success:
        assert res.primal_objective == pytest.approx(res.objective, rel=1e-5)
    assert res.solve.solver_stats["normalization"]["patch_scale"] > 1e6


def test_a_program_too_large_for_memory_is_refused_before_it_is_built():
    from cvxcnn.fitting import ProgramTooLargeError

    problem = _signal(0)
    cells = sample_relu_patterns(problem.Y, 20, random_state=0)
    with pytest.raises(ProgramTooLargeError, match="max_memory"):
        fit(problem, cells, beta=BETA, max_memory=1e3)
    assert fit(problem, cells, beta=BETA, max_memory=1e9).success


@pytest.mark.parametrize("kind", ["relu", "soft_threshold"])
def test_facet_safety_net_never_returns_a_program_with_violated_rows(kind, monkeypatch):
    """One facet row dropped per cell, no re-solve allowed: the full program is solved instead."""
    import cvxcnn.fitting as fit_module

    problem = _signal(4, length=12)
    act = get_activation(kind)
    cells = act.enumerate(problem.Y, max_cells=100_000)
    full = fit(problem, cells, beta=BETA, facets="off", solver_options=TIGHT_CLARABEL)
    keep = act.facet_reduction(problem, cells, "lp", None).keep.copy()
    first = np.argmax(keep, axis=0)  # drop each cell's first facet row
    keep[first, np.arange(keep.shape[1])] = False
    monkeypatch.setattr(fit_module, "MAX_FACET_ROUNDS", 0)
    res = fit(problem, cells, beta=BETA, row_mask=keep, solver_options=TIGHT_CLARABEL)
    assert res.facets.get("fallback") == "full"  # the dropped rows were violated
    assert res.objective == pytest.approx(full.objective, rel=1e-6)
    assert res.sign_violation <= 1e-7 * max(1.0, float(np.abs(problem.Y).max()))


@pytest.mark.parametrize("kind", ["relu", "soft_threshold"])
def test_tiny_data_or_huge_beta_gives_the_zero_network_without_a_solve(kind):
    from cvxcnn.data import synthetic_1d

    act = get_activation(kind)
    data = synthetic_1d(1, length=12, noise=0.1, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=2)
    tiny = make_problem(data.noisy * 1e-8, data.clean * 1e-8, kernel_size=2)
    for prob, beta in ((problem, 1e3), (tiny, BETA)):
        res = fit(prob, act.sample(prob.Y, 20, random_state=0), beta=beta)
        assert res.success and res.neurons == 0 and res.solve.solver == "none"
        assert res.objective == pytest.approx(0.5 * float(prob.target @ prob.target), rel=1e-12)
    # just below the bound the program is solved, and its optimum is below the zero network's
    res = fit(problem, act.sample(problem.Y, 20, random_state=0), beta=0.1)
    assert res.solve.solver != "none" and res.objective < 0.5 * float(
        problem.target @ problem.target
    )


def test_one_estimator_for_both_activations():
    from cvxcnn import ConvexCNN, ConvexReLUCNN
    from cvxcnn.data import synthetic_1d

    data = synthetic_1d(2, length=12, noise=0.1, random_state=0)
    for activation, network_type in (("relu", ReluNetwork), ("st", STNetwork)):
        model = ConvexCNN(kernel_size=2, activation=activation, beta=1e-2, patterns=30)
        model.fit(data.noisy, data.clean)
        assert isinstance(model.network_, network_type) and model.result_.success
        assert model.predict(data.noisy).shape == data.clean.shape
        assert model.objective(data.noisy, data.clean) == pytest.approx(
            model.result_.primal_objective, rel=1e-12
        )
    with pytest.raises(TypeError, match="ReLU only"):
        ConvexReLUCNN(2, activation="st")
    with pytest.raises(ValueError, match="activation must be one of"):
        ConvexCNN(2, activation="tanh").fit(data.noisy, data.clean)


def test_st_program_output_is_the_networks_and_closes_the_set_gap_at_small_beta():
    """The dual point comes from the program's own blocks (not the pruned network).

    Before ``SoftThreshold.program_output`` the path at beta = 1e-3 stopped here
    with ``max_ratio`` 1.0024 and a set gap of 1.5e-3 (now 3e-8).
    """
    problem = _signal(0)
    triples = enumerate_st_triples(problem.Y)
    act = get_activation("st")
    full = fit(problem, triples, beta=1e-2, strategy="full")
    out = act.program_output(full, problem, triples)
    assert np.abs(out - full.network.output(problem.Y)).max() <= 1e-4 * np.abs(out).max()
    point = solve_path(problem, triples, [1e-3]).points[0]
    assert point.converged and point.max_ratio <= 1 + 1e-4
    assert point.set_gap <= 1e-6
