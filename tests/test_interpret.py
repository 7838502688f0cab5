"""Patch clustering and linear filters (Sahiner et al. 4.2): exact reading, seeded clusters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn import fit, make_cells, make_problem, save_network, synthetic_1d
from cvxcnn.cli import main
from cvxcnn.interpret import (
    activation_patterns,
    cluster_patterns,
    dual_filter_groups,
    explain,
    filter_groups,
    frequency_responses,
    linear_reading,
    neuron_filters,
)
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec
from cvxcnn.soft_threshold import STNetwork

torch = pytest.importorskip("torch")
from cvxcnn.primal import TwoLayerCNN  # noqa: E402


def _torch_output(network: ReluNetwork, problem, images: np.ndarray) -> np.ndarray:
    """The network as real conv layers (an independent reference for ``f(y_p)``)."""
    model = TwoLayerCNN(problem.geometry, network.n_neurons)
    model.set_weights_(network.U, network.v)
    with torch.no_grad():
        return model.readout_output(torch.as_tensor(images)).numpy().reshape(-1)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(1, 7),
    dims=st.sampled_from([1, 2]),
    kernel=st.sampled_from([1, 2, 3]),
    bias=st.booleans(),
)
def test_linear_reading_reproduces_a_real_convolution(seed, m, dims, kernel, bias):
    rng = np.random.default_rng(seed)
    shape = (2, 9) if dims == 1 else (2, 5, 6)
    images = rng.standard_normal(shape)
    problem = make_problem(images, images, kernel_size=kernel, spatial_dims=dims, bias=bias)
    scale = 10.0 ** rng.uniform(-3, 3)
    network = ReluNetwork(scale * rng.standard_normal((m, problem.d)), rng.standard_normal(m))
    reading = linear_reading(network, problem.Y)
    reference = _torch_output(network, problem, images)
    tol = 1e-10 * max(1.0, np.abs(reference).max())
    assert np.max(np.abs(reading - reference)) <= tol
    groups = filter_groups(network, problem.Y)
    by_group = np.einsum("pg,pg->p", groups.patterns, problem.Y @ groups.filters.T)
    assert np.max(np.abs(by_group - reference)) <= tol
    assert groups.filters.shape[0] == len({c.tobytes() for c in groups.patterns.T})


def test_neurons_with_one_pattern_form_one_filter():
    rng = np.random.default_rng(1)
    U = rng.standard_normal((2, 3))
    network = ReluNetwork(np.vstack([U, 2 * U[:1]]), np.array([1.0, -2.0, 0.5]))
    Y = rng.standard_normal((40, 3))
    groups = filter_groups(network, Y)
    assert groups.filters.shape[0] == 2
    merged = groups.filters[groups.members[0]]
    assert np.allclose(merged, U[0] * 1.0 + 2 * U[0] * 0.5)
    assert np.array_equal(
        activation_patterns(network, Y)[:, 0], groups.patterns[:, groups.members[0]]
    )


@pytest.fixture(scope="module")
def convex_fit():
    data = synthetic_1d(1, length=24, noise=0.1, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    cells = make_cells(problem.Y, 40, random_state=0)
    return problem, cells, fit(problem, cells, beta=1e-2)


def test_convex_network_reading_and_dual_blocks(convex_fit):
    problem, cells, res = convex_fit
    assert res.success
    e = explain(res.network, problem, n_clusters=4)
    assert e.linear_reading_error <= 1e-10 * max(1.0, e.output_scale)
    assert e.prediction_error <= 1e-10 * max(1.0, e.output_scale)
    groups = dual_filter_groups(res, cells)
    assert groups.filters.shape[0] == res.active_patterns
    # the reconstruction splits w_i - z_i into neurons u v = w_i and u v = -z_i
    assert np.allclose(groups.filters.sum(0), neuron_filters(res.network).sum(0), atol=1e-12)
    dual = explain(res.network, problem, n_clusters=4, groups=groups)
    assert dual.source == "dual blocks" and dual.groups == res.active_patterns
    assert dual.group_reading_error <= 1e-5 * max(1.0, dual.output_scale)  # solver accuracy


def test_clusters_are_seeded_and_ordered_by_size():
    rng = np.random.default_rng(0)
    D = rng.random((200, 12)) < 0.4
    a, b = cluster_patterns(D, 5, random_state=3), cluster_patterns(D, 5, random_state=3)
    assert np.array_equal(a, b)
    sizes = np.bincount(a)
    assert sizes.size == 5 and np.all(np.diff(sizes) <= 0)
    few = np.repeat(np.eye(3, dtype=bool), 10, axis=0)
    labels = cluster_patterns(few, 12)
    assert labels.max() == 2  # three distinct rows: three clusters, not twelve


def test_frequency_response_is_the_dft_of_the_kernel():
    images = np.zeros((1, 6, 6))
    problem = make_problem(images, images, kernel_size=3)
    rng = np.random.default_rng(0)
    h = rng.standard_normal((2, 9))
    R = frequency_responses(h, problem, size=8)
    assert R.shape == (2, 1, 8, 8)
    k = h[1].reshape(3, 3)
    f1, f2 = 3, 5  # unshifted indices; fftshift moves index f to (f + 4) % 8
    direct = sum(
        k[a, b] * np.exp(-2j * np.pi * (a * f1 + b * f2) / 8) for a in range(3) for b in range(3)
    )
    assert np.isclose(R[1, 0, (f1 + 4) % 8, (f2 + 4) % 8], abs(direct))


def test_refuses_soft_thresholds_and_wrong_shapes():
    st_net = STNetwork(U=np.ones((1, 3)), thresholds=np.ones(1), v=np.ones(1))
    with pytest.raises(ValueError, match="ReLU"):
        neuron_filters(st_net)
    with pytest.raises(ValueError, match="shape"):
        activation_patterns(ReluNetwork(np.ones((1, 3)), np.ones(1)), np.ones((4, 2)))


def test_cli_explain_writes_figures_and_json(tmp_path, capsys):
    data = synthetic_1d(1, length=16, noise=0.1, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    spec = ProblemSpec.from_problem(problem, activation="relu", beta=0.1)
    rng = np.random.default_rng(0)
    weights = tmp_path / "w.npz"
    save_network(weights, ReluNetwork(rng.standard_normal((5, 3)), rng.standard_normal(5)), spec)
    log = tmp_path / "log.json"
    log.write_text(json.dumps({"weights": str(weights)}))
    out = tmp_path / "e.json"
    argv = ["explain", str(log), "--data", "synthetic1d", "--size", "16", "--noise", "0.1"]
    argv += ["--clusters", "3", "--out", str(out), "--quiet"]
    argv += ["--cluster-plot", str(tmp_path / "c.png"), "--filter-plot", str(tmp_path / "f.png")]
    assert main(argv) == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["reading_ok"] and payload["linear_reading_error"] < 1e-10
    assert payload["n_clusters"] <= 3 and payload["neurons"] == 5
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "f.png").stat().st_size > 0
