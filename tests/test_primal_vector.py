"""Vector outputs and the chroma loss in the PyTorch trainer, against float64 NumPy references.

The references are written here from the formulas (a real ``conv2d`` for the
layers, explicit sums for the losses), not taken from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cvxcnn.networks import ReluNetwork, primal_objective  # noqa: E402
from cvxcnn.primal import TwoLayerCNN, train_primal  # noqa: E402
from cvxcnn.problem import make_problem  # noqa: E402
from cvxcnn.vector.network import VectorReluNetwork  # noqa: E402
from cvxcnn.vector_output import (  # noqa: E402
    ChromaLoss,
    get_vector_loss,
    make_vector_problem,
    vector_objective,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n=2, c=2, h=6, w=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, h, w)), 0.5 * rng.standard_normal((n, c, h, w))


def _reference_objective(L, ab, U, W, beta, gamma, bias):
    """``1/2 ||f - X||^2 + gamma sum (|X| - |f|)^2 + beta/2 (|U|^2 + |W|^2)``, conv2d, float64."""
    k = 3
    filters = torch.as_tensor(U[:, : k * k].reshape(-1, 1, k, k))
    b = torch.as_tensor(U[:, -1]) if bias else None
    x = torch.as_tensor(L[:, None])
    hidden = torch.relu(torch.nn.functional.conv2d(x, filters, b, padding=1)).numpy()
    out = np.einsum("nmhw,mc->nchw", hidden, W)
    fit = 0.5 * np.sum((out - ab) ** 2)
    chroma = np.sum((np.linalg.norm(ab, axis=1) - np.linalg.norm(out, axis=1)) ** 2)
    return fit + gamma * chroma + 0.5 * beta * (np.sum(U**2) + np.sum(W**2))


@pytest.mark.parametrize("gamma", [0.0, 0.7])
def test_vector_objective_in_torch_equals_float64_reference(gamma):
    L, ab = _data()
    problem, X = make_vector_problem(L, ab, kernel_size=3, bias=True)
    model = TwoLayerCNN(problem.geometry, 5, out_channels=2)
    model.reset_parameters_("normal", 1.0, torch.Generator().manual_seed(3))
    loss = ChromaLoss(gamma)
    T = torch.as_tensor(ab)
    with torch.no_grad():
        value = float(model.penalty() * 0.1 + _torch_fit(model, L, T, loss))
    net = model.to_network()
    assert isinstance(net, VectorReluNetwork) and net.W.shape == (5, 2)
    ref = _reference_objective(L, ab, net.U.T, net.W, 0.1, gamma, bias=True)
    assert value == pytest.approx(ref, rel=1e-12)
    assert vector_objective(net, problem, X, 0.1, loss) == pytest.approx(ref, rel=1e-12)


def _torch_fit(model, L, T, loss):
    from cvxcnn.primal import torch_loss

    return torch_loss(loss, model.readout_output(torch.as_tensor(L)), T)


def test_trained_vector_objective_is_the_float64_evaluators():
    L, ab = _data(seed=1)
    res = train_primal(
        L, ab, out_channels=2, neurons=6, beta=0.05, epochs=20, lr=1e-2, bias=True, verbose=False
    )
    assert isinstance(res.network, VectorReluNetwork) and res.targets.shape == (2 * 6 * 7, 2)
    ref = _reference_objective(L, ab, res.network.U.T, res.network.W, 0.05, 0.0, bias=True)
    assert res.final_objective == pytest.approx(ref, rel=1e-10)
    assert res.trainer_objective == pytest.approx(ref, rel=1e-10)
    assert res.objectives[-1] < res.objectives[0]


def test_gamma_zero_chroma_equals_the_plain_loss():
    L, ab = _data(seed=2)
    common = dict(out_channels=2, neurons=4, beta=0.05, epochs=15, lr=1e-2, verbose=False)
    plain = train_primal(L, ab, loss="squared", **common)
    zero = train_primal(L, ab, loss="chroma", gamma=0.0, **common)
    np.testing.assert_array_equal(plain.objectives, zero.objectives)
    np.testing.assert_array_equal(plain.network.U, zero.network.U)
    chroma = train_primal(L, ab, loss="chroma", gamma=1.0, **common)
    assert not np.array_equal(chroma.network.U, plain.network.U)  # gamma changes what runs
    assert chroma.settings["loss"] == {"name": "chroma", "gamma": 1.0}
    assert plain.settings["loss"] == {"name": "squared"}
    # its reported objective includes the chroma term
    X = chroma.targets
    plain_value = vector_objective(chroma.network, chroma.problem, X, 0.05)
    assert chroma.final_objective > plain_value


def test_one_channel_vector_network_equals_the_scalar_model():
    """out_channels=2 with channel 1 zeroed reproduces the scalar network on channel 0."""
    L, ab = _data(seed=4)
    problem, X = make_vector_problem(L, ab, kernel_size=3)
    rng = np.random.default_rng(0)
    U, v = rng.standard_normal((4, 9)), rng.standard_normal(4)
    vec = VectorReluNetwork(U.T, np.stack([v, np.zeros(4)], 1))
    scalar = primal_objective(ReluNetwork(U, v), make_problem(L, ab[:, 0], kernel_size=3), 0.2)
    extra = 0.5 * np.sum(X[:, 1] ** 2)
    assert vector_objective(vec, problem, X, 0.2) == pytest.approx(scalar + extra, rel=1e-12)


def test_out_channels_changes_the_model_and_sum_readout():
    L, ab = _data(seed=5)
    targets = ab.sum(axis=(2, 3))  # (N, c) per-image targets
    res = train_primal(
        L, targets, out_channels=2, readout="sum", neurons=3, epochs=3, verbose=False
    )
    assert res.network.W.shape == (3, 2) and res.targets.shape == (2, 2)
    pred = res.model.readout_output(torch.as_tensor(L)).detach().numpy()
    np.testing.assert_allclose(pred, res.network.output(res.problem.Y).reshape(2, -1, 2).sum(1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(loss="chroma"), "out_channels >= 2"),
        (dict(gamma=0.5), "gamma"),
        (dict(out_channels=2, loss="absolute"), "squared or the chroma"),
        (dict(out_channels=2, loss="chroma", gamma=-1.0), "gamma"),
        (dict(out_channels=3), "3 but clean has 2"),
        (dict(out_channels=2, activation="st"), "activation='relu'"),
        (dict(out_channels=2, residual=True), "residual"),
        (dict(out_channels=0), "out_channels"),
    ],
)
def test_bad_vector_arguments_are_refused(kwargs, match):
    L, ab = _data(seed=6)
    clean = ab if kwargs.get("out_channels", 1) > 1 or "out_channels" in kwargs else ab[:, 0]
    with pytest.raises(ValueError, match=match):
        train_primal(L, clean, neurons=2, epochs=1, verbose=False, **kwargs)


def test_vector_loss_names():
    assert get_vector_loss("squared").gamma == 0 and get_vector_loss("chroma").gamma == 0.5
    with pytest.raises(ValueError, match="gamma applies"):
        get_vector_loss("squared", 1.0)
    with pytest.raises(ValueError, match="'squared' or 'chroma'"):
        get_vector_loss("huber")


def test_vector_network_saving_is_refused_clearly(tmp_path):
    L, ab = _data(seed=7)
    res = train_primal(L, ab, out_channels=2, neurons=2, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="not supported"):
        res.save(tmp_path / "net.npz")


def test_initial_vector_network_is_loaded():
    L, ab = _data(seed=8)
    rng = np.random.default_rng(1)
    init = VectorReluNetwork(rng.standard_normal((9, 3)), rng.standard_normal((3, 2)))
    res = train_primal(L, ab, out_channels=2, init=init, epochs=0, verbose=False)
    np.testing.assert_array_equal(res.network.U, init.U)
    np.testing.assert_array_equal(res.network.W, init.W)
