"""Deep networks from two-layer blocks: greedy convex blocks and end-to-end unrolled blocks."""

from __future__ import annotations

import numpy as np
import pytest

from cvxcnn import make_problem, primal_objective, synthetic_1d
from cvxcnn.deep import Block, deep_objective, deep_predict, fit_greedy
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec

torch = pytest.importorskip("torch")
from cvxcnn.primal import TwoLayerCNN  # noqa: E402
from cvxcnn.primal.deep import DeepCNN, train_deep  # noqa: E402

BETA = 0.05


@pytest.fixture(scope="module")
def data():
    return synthetic_1d(1, length=14, noise=0.2, random_state=0)


@pytest.fixture(scope="module")
def greedy(data):
    # exact cells (n = 14 patches, d = 3): each block's certificate is a certificate
    return fit_greedy(
        data.noisy, data.clean, beta=BETA, patterns=20, certify_cells="exact", progress=False
    )


def test_each_block_is_certified_on_its_own_problem(greedy, data):
    assert len(greedy.blocks) == 2
    for res, cert, value in zip(
        greedy.fits, greedy.certificates, greedy.block_objectives, strict=True
    ):
        assert res.success
        assert cert.certificate == "certified"
        assert cert.lower_bound <= cert.upper_bound + 1e-9 * max(1.0, cert.upper_bound)
        assert cert.upper_bound == pytest.approx(value, rel=1e-12)
        assert value == pytest.approx(res.primal_objective, rel=1e-12)
    assert greedy.deep_objectives[0] == pytest.approx(greedy.block_objectives[0], rel=1e-12)
    summary = greedy.to_dict()
    assert "not the deep network" in summary["what_is_certified"]


def test_deep_prediction_is_the_composition_of_real_conv_blocks(greedy, data):
    spec = greedy.blocks[0].spec
    geometry = make_problem(data.noisy, data.clean, kernel_size=3).geometry
    layers = []
    for block in greedy.blocks:
        layer = TwoLayerCNN(geometry, block.network.n_neurons, residual=spec.residual)
        layer.set_weights_(block.network.U, block.network.v)
        layers.append(layer)
    with torch.no_grad():
        reference = DeepCNN(layers)(torch.as_tensor(data.noisy)).numpy()
    assert np.allclose(deep_predict(greedy.blocks, data.noisy), reference, rtol=0, atol=1e-12)
    x1 = greedy.blocks[0](data.noisy)
    assert np.allclose(greedy.blocks[1](x1), reference, rtol=0, atol=1e-12)


def test_deep_objective_of_one_block_is_the_two_layer_objective(data):
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    rng = np.random.default_rng(0)
    net = ReluNetwork(rng.standard_normal((4, 3)), rng.standard_normal(4))
    block = Block(net, ProblemSpec.from_problem(problem, activation="relu", beta=BETA))
    assert deep_objective([block], data.noisy, data.clean, BETA) == pytest.approx(
        primal_objective(net, problem, BETA), rel=1e-14
    )
    two = deep_objective([block, block], data.noisy, data.clean, BETA)
    x1 = block(data.noisy)
    expected = primal_objective(net, block.problem(x1, data.clean), BETA) + BETA * net.penalty()
    assert two == pytest.approx(expected, rel=1e-14)


def test_residual_block_two_never_does_worse_than_keeping_block_one(data):
    res = fit_greedy(
        data.noisy,
        data.clean,
        beta=BETA,
        residual=True,
        patterns=15,
        certify_cells=30,
        progress=False,
    )
    x1 = res.blocks[0](data.noisy)
    keep = 0.5 * np.sum((x1 - data.clean) ** 2)  # block 2 = the zero network (feasible)
    assert res.fits[1].objective <= keep * (1 + 1e-6) + 1e-9
    assert res.certificates[0].certificate == "estimated"  # sampled cells: an estimate


def test_end_to_end_starts_from_the_greedy_objective(greedy, data):
    run = train_deep(
        data.noisy,
        data.clean,
        beta=BETA,
        epochs=3,
        lr=1e-4,
        init_blocks=greedy.blocks,
        verbose=False,
    )
    assert run.objectives[0] == pytest.approx(greedy.deep_objectives[-1], rel=1e-10)
    assert run.final_objective == pytest.approx(
        deep_objective(run.blocks, data.noisy, data.clean, BETA), rel=1e-14
    )
    fresh = train_deep(data.noisy, data.clean, beta=BETA, neurons=4, epochs=5, verbose=False)
    again = train_deep(data.noisy, data.clean, beta=BETA, neurons=4, epochs=5, verbose=False)
    assert fresh.final_objective == again.final_objective  # seeded
    assert [b.network.n_neurons for b in fresh.blocks] == [4, 4]


def test_bad_arguments(data):
    with pytest.raises(ValueError, match="n_blocks"):
        fit_greedy(data.noisy, data.clean, n_blocks=0, progress=False)
    with pytest.raises(ValueError, match="blocks"):
        deep_objective([], data.noisy, data.clean, BETA)
    with pytest.raises(ValueError, match="same shape"):
        problem = make_problem(data.noisy, data.clean, kernel_size=3, padding="valid")
        spec = ProblemSpec.from_problem(problem, activation="relu", beta=BETA)
        Block(ReluNetwork(np.ones((1, 3)), np.ones(1)), spec)(data.noisy)
