"""The mixed-integer oracle over every cell against brute force over the enumerated arrangement."""

from __future__ import annotations

import numpy as np
import pytest

from cvxcnn import load_digits, make_problem
from cvxcnn.activations import activation_of
from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.certificates import certify
from cvxcnn.colgen import solve_colgen
from cvxcnn.fitting import fit
from cvxcnn.mip_oracle import MipArrangement, mip_arrangement, relu_mip_oracle
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import objective_at, relu_oracle
from cvxcnn.soft_threshold.mip_oracle import st_mip_oracle


def _crop(h: int, w: int, kernel: int):
    data = load_digits(1, random_state=0)
    sl = (slice(None), slice(2, 2 + h), slice(2, 2 + w))
    return make_problem(data.noisy[sl], data.clean[sl], kernel_size=kernel)


@pytest.fixture(scope="module")
def small():
    """4x4 crop, 2x2 kernel (n = 16, d = 4): enumeration and MIP both take well under a second."""
    problem = _crop(4, 4, 2)
    return problem, enumerate_relu_patterns(problem.Y)


def test_mip_equals_enumeration_for_random_g_both_signs(small):
    problem, cells = small
    rng = np.random.default_rng(0)
    for _ in range(6):
        g = rng.standard_normal(problem.n) * rng.choice([0.1, 1.0, 10.0])
        exact = relu_oracle(problem.Y, g, cells.masks)
        assert exact.upper - exact.lower <= 1e-9 * exact.upper
        mip = relu_mip_oracle(problem.Y, g, time_limit=60)
        assert mip.converged
        assert mip.lower <= mip.upper
        assert abs(mip.upper - exact.upper) <= 1e-6 * exact.upper
        assert abs(mip.lower - exact.lower) <= 1e-6 * exact.upper
        # the lower end is attained at the returned unit point, evaluated directly
        assert np.linalg.norm(mip.direction) == pytest.approx(1.0)
        assert objective_at(problem.Y, g, mip.direction[None])[0] == pytest.approx(mip.lower)
        # each sign's upper end bounds that sign's values (a dominated sign may stop early)
        values = np.maximum(cells.generators @ problem.Y.T, 0.0) @ g  # a point per cell
        assert mip.sign_upper[0] >= values.max() - 1e-9
        assert mip.sign_upper[1] >= -values.min() - 1e-9
        assert max(mip.sign_upper) == pytest.approx(mip.upper)


def test_one_sign_only_positive_weights(small):
    problem, cells = small
    g = np.abs(np.random.default_rng(1).standard_normal(problem.n))  # M(-g) = 0
    mip = relu_mip_oracle(problem.Y, g, time_limit=60)
    assert mip.sign_upper[1] <= 1e-9 and mip.converged
    assert mip.upper == pytest.approx(relu_oracle(problem.Y, g, cells.masks).upper, rel=1e-6)


def _exact_and_mip(problem, cells, seed, time_limit):
    """For three random ``g``: the oracle over the enumerated ``cells``, and the MIP oracle."""
    rng = np.random.default_rng(seed)
    for _ in range(3):
        g = rng.standard_normal(problem.n)
        yield (
            relu_oracle(problem.Y, g, cells.masks),
            relu_mip_oracle(problem.Y, g, time_limit=time_limit),
        )


def test_anytime_upper_end_is_an_upper_bound_at_a_tiny_time_limit():
    problem = _crop(3, 4, 3)  # d = 9, n = 12: not solved in 0.05 s
    cells = enumerate_relu_patterns(problem.Y)
    for exact, mip in _exact_and_mip(problem, cells, seed=2, time_limit=0.05):
        assert mip.upper >= exact.upper * (1 - 1e-9)
        assert mip.lower <= exact.upper * (1 + 1e-9)


def test_certify_with_the_mip_arrangement_matches_enumeration(small, searched_matches_enumerated):
    problem, cells = small
    net = fit(problem, cells.subset(np.arange(20)), beta=0.05).network
    arrangement = mip_arrangement(problem.Y, samples=50, time_limit=60)
    searched_matches_enumerated(net, problem, cells, arrangement, beta=0.05)


def test_certify_at_a_time_limit_is_certified_but_not_converged():
    problem = _crop(3, 4, 3)
    net = ReluNetwork(np.ones((1, problem.d)) * 0.1, np.ones(1))
    cert = certify(net, problem, mip_arrangement(problem.Y, samples=20, time_limit=0.05), beta=0.1)
    assert cert.certificate == "certified" and not cert.oracle_converged
    assert cert.lower_bound <= cert.upper_bound


def test_mip_arrangement_is_tied_to_its_Y_and_refused_as_a_program(small):
    problem, _ = small
    arrangement = mip_arrangement(problem.Y, samples=30)
    assert isinstance(arrangement, MipArrangement) and activation_of(arrangement).name == "relu"
    other = _crop(4, 4, 2)
    other.Y[0, 0] += 1.0
    assert not activation_of(arrangement).verify_exact(arrangement, other.Y)
    net = ReluNetwork(np.ones((1, problem.d)), np.ones(1))
    cert = certify(net, other, arrangement, beta=0.1)
    assert cert.certificate == "estimated"
    with pytest.raises(TypeError, match="MipArrangement"):
        fit(problem, arrangement, beta=1e-3)
    with pytest.raises(ValueError, match="time_limit"):
        activation_of(arrangement).oracle(problem.Y, np.ones(problem.n), arrangement.known,
                                          time_limit=1.0)  # fmt: skip


@pytest.mark.parametrize("oracle", [relu_mip_oracle, st_mip_oracle], ids=["relu", "st"])
def test_bad_input_names_the_argument(oracle):
    """Both activations' MIP oracles check their arguments through ``oracle_inputs``."""
    Y = np.ones((3, 2))
    with pytest.raises(ValueError, match="g must have shape"):
        oracle(Y, np.ones(4))
    with pytest.raises(ValueError, match="time_limit"):
        oracle(Y, np.ones(3), time_limit=0)
    with pytest.raises(ValueError, match="NaN"):
        oracle(Y, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match=f"{oracle.__name__}.*'time_limt'.*AnytimeOptions"):
        oracle(Y, np.ones(3), time_limt=1.0)  # a misspelt keyword is not ignored


@pytest.mark.parametrize("oracle", [relu_mip_oracle, st_mip_oracle], ids=["relu", "st"])
def test_anytime_options_act(oracle):
    """``time_limit``, ``starts`` and ``threshold`` reach the search (defaults otherwise)."""
    rng = np.random.default_rng(3)
    Y, g = rng.standard_normal((8, 2)), rng.standard_normal(8)
    full = oracle(Y, g, time_limit=30)
    assert full.converged and not full.stopped_early
    low = oracle(Y, g, time_limit=30, threshold=1e-6 * full.upper)
    assert low.stopped_early and low.lower > 1e-6 * full.upper
    started = oracle(Y, g, time_limit=30, starts=full.direction[None, :])
    assert started.lower >= full.lower * (1 - 1e-9)


def test_colgen_with_mip_pricing_reaches_the_enumerated_optimum(small):
    problem, cells = small
    beta = 0.05
    full = fit(problem, cells, beta=beta)  # the program over every enumerated cell
    arrangement = mip_arrangement(problem.Y, samples=20, time_limit=60)
    result = solve_colgen(problem, arrangement, beta=beta)
    cert = result.certificate
    assert cert.certificate == "certified" and cert.oracle == "exact/mip"
    assert cert.oracle_converged  # (result.converged also needs every restricted solve optimal)
    assert cert.relative_gap <= 1e-6
    assert cert.upper_bound == pytest.approx(full.objective, rel=1e-6)
    assert result.total_cells >= 20  # the oracle's maximizers joined the known cells


@pytest.mark.slow
def test_digit_crop_4x4_kernel_3_mip_equals_enumeration_and_colgen_optimum():
    """The issue's case: n = 16, d = 9 (45,638 cells): oracle values and the certified optimum."""
    problem = _crop(4, 4, 3)
    cells = enumerate_relu_patterns(problem.Y)
    for exact, mip in _exact_and_mip(problem, cells, seed=3, time_limit=300):
        assert mip.converged and mip.upper == pytest.approx(exact.upper, rel=1e-6)
    beta = 0.1
    by_cells = solve_colgen(problem, cells, beta=beta)
    arrangement = mip_arrangement(problem.Y, samples=200, time_limit=300)
    by_mip = solve_colgen(problem, arrangement, beta=beta)
    assert by_mip.certificate.certified and by_mip.certificate.relative_gap <= 1e-6
    assert by_mip.certificate.upper_bound == pytest.approx(
        by_cells.certificate.upper_bound, rel=1e-6
    )


def test_cli_picks_the_mip_oracle_beyond_max_cells_and_says_so(tmp_path):
    import json

    from cvxcnn.cli import main

    out = tmp_path / "r.json"
    base = ["solve", "--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"]
    argv = [*base, "--beta", "0.05", "--method", "colgen", "--max-cells", "10"]
    argv += ["--max-memory", "0.001"]  # 1 MiB: a stream (1.8 MiB) no, the programs yes
    assert main([*argv, "--oracle-time-limit", "30", "--quiet", "--out", str(out)]) in (0, 1)
    result = json.loads(out.read_text())
    # SCIP when pyscipopt is installed, HiGHS otherwise (engine "auto")
    assert result["oracle"] in ("exact/mip", "exact/mip-scip")
    assert result["certificate"] == "certified"
    assert result["oracle_converged"] is True and result["relative_gap"] <= 1e-6
    # the enumerated arrangement when it fits
    assert main([*base, "--beta", "0.05", "--method", "colgen", "--quiet", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["oracle"] == "exact/nnls"
    # the flag applies only where every cell is searched
    assert main([*base, "--oracle-time-limit", "5", "--patterns", "10", "--quiet"]) == 2
    # cvxcnn certify on a saved network: the same choice by size
    weights, cert = tmp_path / "w.npz", tmp_path / "c.json"
    assert main([*base, "--beta", "0.05", "--patterns", "10", "--quiet", "--save-weights",
                 str(weights)]) == 0  # fmt: skip
    common = ["certify", "--weights", str(weights), "--data", "synthetic1d", "--images", "1"]
    common += ["--size", "8", "--quiet"]
    argv = [*common, "--certify", "exact", "--max-cells", "10", "--max-memory", "1e-9"]
    assert main([*argv, "--oracle-time-limit", "30", "--out", str(cert)]) == 0
    result = json.loads(cert.read_text())
    assert result["oracle"] in ("exact/mip", "exact/mip-scip")
    assert result["certificate"] == "certified" and result["oracle_converged"] is True
    assert main([*common, "--certify", "sampled", "--oracle-time-limit", "5"]) == 2
