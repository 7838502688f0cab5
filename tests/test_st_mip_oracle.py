"""The soft-threshold MIP oracle over every triple against the enumerated per-cell oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn import make_problem
from cvxcnn.activations import activation_of
from cvxcnn.colgen import solve_colgen
from cvxcnn.data import synthetic_1d
from cvxcnn.fitting import fit
from cvxcnn.soft_threshold.mip_oracle import (
    STMipTriples,
    best_threshold,
    st_mip_oracle,
    st_mip_triples,
)
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.soft_threshold.oracle import st_objective_at, st_oracle
from cvxcnn.soft_threshold.triples import enumerate_st_triples, soft_threshold


def _problem(length: int, kernel: int, seed: int = 0):
    data = synthetic_1d(1, length=length, random_state=seed, noise=0.2)
    return make_problem(data.noisy, data.clean, kernel_size=kernel)


@pytest.fixture(scope="module")
def tiny():
    """n = 10 rows, d = 3 (1,161 triples): enumeration and the MIP both well under a second."""
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((10, 3))
    return Y, enumerate_st_triples(Y)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 12), d=st.integers(1, 4))
def test_best_threshold_is_the_max_over_every_breakpoint(seed, n, d):
    rng = np.random.default_rng(seed)
    Y, w, U = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal((3, d))
    values, t = best_threshold(Y, w, U)
    for u, value, tk in zip(U, values, t, strict=True):
        grid = np.concatenate([[0.0], np.abs(Y @ u), np.abs(Y @ u) * 1.5 + 0.1])
        brute = max(w @ soft_threshold(Y @ u, s) for s in grid)  # breakpoints and between
        assert value == pytest.approx(brute, abs=1e-12 * (1 + abs(brute)))
        assert tk >= 0 and w @ soft_threshold(Y @ u, tk) == pytest.approx(value, abs=1e-12)


def test_mip_equals_the_enumerated_oracle_for_random_g_both_signs(tiny):
    Y, triples = tiny
    rng = np.random.default_rng(1)
    for scale, sign in ((0.1, 1.0), (10.0, -1.0)):  # M(g) = M(-g): tau is odd
        g = rng.standard_normal(Y.shape[0]) * scale
        exact = st_oracle(Y, g, triples)
        assert exact.upper - exact.lower <= 1e-6 * exact.upper
        mip = st_mip_oracle(Y, sign * g, time_limit=60)
        assert mip.converged and mip.lower <= mip.upper
        assert mip.upper == pytest.approx(exact.upper, rel=1e-6)
        assert mip.lower == pytest.approx(exact.lower, rel=1e-6)
        # the lower end is attained at the returned unit point with its best threshold
        assert np.linalg.norm(mip.direction) == pytest.approx(1.0)
        value, t = best_threshold(Y, sign * g, mip.direction[None])
        assert st_objective_at(Y, g, mip.direction[None], t)[0] == pytest.approx(mip.lower)
        assert value[0] == pytest.approx(mip.lower)


def test_anytime_upper_end_is_an_upper_bound_at_a_tiny_time_limit(tiny):
    Y, triples = tiny
    rng = np.random.default_rng(2)
    for _ in range(2):
        g = rng.standard_normal(Y.shape[0])
        exact = st_oracle(Y, g, triples)
        mip = st_mip_oracle(Y, g, time_limit=0.01)
        assert mip.upper >= exact.lower * (1 - 1e-9)  # rigorous whatever the stop
        assert mip.lower <= exact.upper * (1 + 1e-9)


def test_certify_with_st_mip_triples_matches_enumeration(tiny, searched_matches_enumerated):
    problem = _problem(10, 2)
    triples = enumerate_st_triples(problem.Y)
    net = STNetwork(U=np.array([[1.0, -0.5]]), thresholds=np.array([0.1]), v=np.array([0.3]))
    searched = st_mip_triples(problem.Y, samples=20, time_limit=60)
    searched_matches_enumerated(net, problem, triples, searched, beta=0.05)


def test_st_mip_triples_is_tied_to_its_Y_and_refused_as_a_program():
    problem = _problem(10, 2)
    searched = st_mip_triples(problem.Y, samples=20)
    assert isinstance(searched, STMipTriples)
    act = activation_of(searched)
    assert act.name == "soft_threshold" and act.verify_exact(searched, problem.Y)
    other = problem.Y.copy()
    other[0, 0] += 1.0
    assert not act.verify_exact(searched, other)
    with pytest.raises(TypeError, match="STMipTriples"):
        fit(problem, searched, beta=0.01)
    with pytest.raises(ValueError, match="time_limit"):
        act.oracle(problem.Y, np.ones(problem.n), searched.known, time_limit=1.0)


def test_colgen_with_mip_pricing_reaches_the_enumerated_optimum():
    problem = _problem(12, 2)  # n = 12, d = 2: 289 triples, the full program solves in a second
    beta = 0.01
    full = fit(problem, enumerate_st_triples(problem.Y), beta=beta)
    result = solve_colgen(problem, st_mip_triples(problem.Y, samples=10, time_limit=60), beta=beta)
    cert = result.certificate
    assert cert.certificate == "certified" and cert.oracle == "exact/mip"
    assert cert.oracle_converged and cert.relative_gap <= 1e-6
    assert cert.upper_bound == pytest.approx(full.objective, rel=1e-6)
    assert len(result.iterations) > 1  # pricing found columns the start lacked
    assert result.total_cells > 10  # the oracle's maximizers joined the known triples


def test_cli_picks_the_st_mip_oracle_beyond_max_cells_and_says_so(tmp_path):
    from cvxcnn.cli import main

    out = tmp_path / "r.json"
    base = ["solve", "--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"]
    argv = [*base, "--activation", "st", "--beta", "0.05", "--method", "colgen"]
    argv += ["--certify", "exact", "--max-cells", "10", "--oracle-time-limit", "30"]
    assert main([*argv, "--quiet", "--out", str(out)]) in (0, 1)
    result = json.loads(out.read_text())
    assert result["oracle"] == "exact/mip" and result["certificate"] == "certified"
    assert result["oracle_converged"] is True and result["relative_gap"] <= 1e-6
    # a direct ST solve searches nothing by MIP: the flag is refused there
    assert main([*base, "--activation", "st", "--oracle-time-limit", "5", "--quiet"]) == 2
    # cvxcnn certify on a saved ST network: the same choice by size
    weights, cert = tmp_path / "w.npz", tmp_path / "c.json"
    argv = [*base, "--activation", "st", "--beta", "0.05", "--patterns", "10", "--quiet"]
    assert main([*argv, "--save-weights", str(weights)]) == 0
    argv = ["certify", "--weights", str(weights), "--data", "synthetic1d", "--images", "1"]
    argv += ["--size", "8", "--certify", "exact", "--max-cells", "10", "--oracle-time-limit", "30"]
    assert main([*argv, "--quiet", "--out", str(cert)]) == 0
    result = json.loads(cert.read_text())
    assert result["oracle"] == "exact/mip" and result["certificate"] == "certified"
    assert result["oracle_converged"] is True
