"""Caratheodory pruning: at most n_out + 1 neurons, the same objective, the same patterns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvxcnn import fit, make_cells, make_problem, primal_objective
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import problem_from_matrix
from cvxcnn.prune import prune_network
from cvxcnn.soft_threshold import STNetwork

BETA = 1e-3


def _problem(seed: int, length: int = 20):
    rng = np.random.default_rng(seed)
    clean = np.sin(np.linspace(0, 4, length))[None] + 0.3 * rng.random((1, length))
    return make_problem(clean + 0.1 * rng.standard_normal(clean.shape), clean, kernel_size=3)


@pytest.mark.parametrize("activation", ["relu", "st"])
def test_pruned_optimum_has_at_most_n_plus_one_neurons(activation):
    problem = _problem(0)
    spec = "exact" if activation == "relu" else 300  # every ST triple takes a minute here
    cells = make_cells(problem.Y, spec, activation=activation, random_state=0)
    full = fit(problem, cells, beta=BETA)
    pruned = fit(problem, cells, beta=BETA, prune=True)
    n_out = problem.readout.n_out
    assert full.neurons > n_out + 1  # the check is not vacuous
    assert pruned.neurons_before_pruning == full.neurons
    assert pruned.neurons <= n_out + 1
    value = primal_objective(pruned.network, problem, BETA)
    assert value == pytest.approx(full.primal_objective, rel=1e-9)
    assert pruned.to_dict()["neurons_before_pruning"] == full.neurons


def _patterns(network, Y):
    H = Y @ network.U.T
    if isinstance(network, STNetwork):
        t = network.thresholds[None, :]
        return np.sign(np.where(np.abs(H) > t, H, 0.0))
    return H >= 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(4, 12),
    d=st.integers(2, 4),
    m=st.integers(1, 40),
    kind=st.sampled_from(["relu", "st"]),
    readout=st.sampled_from(["identity", "sum"]),
)
def test_pruning_any_network_keeps_its_objective_and_patterns(seed, n, d, m, kind, readout):
    rng = np.random.default_rng(seed)
    n_images = 2 if readout == "sum" and n % 2 == 0 else 1
    target = rng.standard_normal(n if readout == "identity" else n_images)
    problem = problem_from_matrix(
        rng.standard_normal((n, d)), target, readout=readout, n_images=n_images
    )
    U, v = rng.standard_normal((m, d)), rng.standard_normal(m)
    net = ReluNetwork(U, v) if kind == "relu" else STNetwork(U=U, thresholds=rng.random(m), v=v)
    pruned = prune_network(net, problem)
    assert pruned.n_neurons <= min(m, problem.readout.n_out + 1)
    before = primal_objective(net, problem, 0.1)
    assert primal_objective(pruned, problem, 0.1) == pytest.approx(before, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(
        problem.readout.apply(pruned.output(problem.Y)),
        problem.readout.apply(net.output(problem.Y)),
        rtol=1e-7,
        atol=1e-9,
    )
    # every kept neuron is a positive multiple of one of the originals: same patterns
    kept = [
        int(
            np.argmin(
                np.linalg.norm(
                    net.U / np.linalg.norm(net.U, axis=1)[:, None] - u / np.linalg.norm(u), axis=1
                )
            )
        )
        for u in pruned.U
    ]
    for j, k in enumerate(kept):
        same = _patterns(pruned, problem.Y)[:, j] == _patterns(net, problem.Y)[:, k]
        assert np.all(same)
