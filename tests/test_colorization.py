"""The colorization system: colour data, the separable convex step, metrics, one tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.colorization.convex import fit_convex_colorizer, stack_channel_networks
from cvxcnn.colorization.data import (
    AB_SCALE,
    BUNDLED_IMAGES,
    load_color_crops,
    load_color_image,
    to_lab,
    to_rgb,
)
from cvxcnn.metrics import mean_chroma, rmse
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.problem import problem_from_matrix
from cvxcnn.vector.network import VectorReluNetwork
from cvxcnn.vector_output import channel_problem, vector_objective

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("chelsea", "coffee", "rocket", "astronaut", "colorwheel"), id="default"),
        pytest.param(BUNDLED_IMAGES, id="all", marks=pytest.mark.slow),
    ],
)
def test_bundled_images_load_offline(names):
    for name in names:
        img = load_color_image(name, side=8)
        assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) == 8
        assert 0.0 <= img.min() and img.max() <= 1.0


def test_crops_scaling_round_trips_to_lab_and_rgb():
    from skimage.color import rgb2lab

    data = load_color_crops(("chelsea", "coffee"), crops_per_image=2, size=8, random_state=3)
    assert data.L.shape == (4, 8, 8) and data.ab.shape == (4, 2, 8, 8)
    assert data.sources == ("chelsea", "chelsea", "coffee", "coffee")
    np.testing.assert_allclose(to_lab(data.L, data.ab), rgb2lab(data.rgb), atol=1e-10)
    np.testing.assert_allclose(to_rgb(data.L, data.ab), data.rgb, atol=1e-6)
    assert -1.0 <= data.L.min() and data.L.max() <= 1.0  # L / 50 - 1
    assert np.abs(data.ab).max() < 1.1  # ab / 100


def test_crops_are_seeded_and_column_bands_are_disjoint():
    a = load_color_crops(("rocket",), crops_per_image=3, size=8, random_state=1)
    b = load_color_crops(("rocket",), crops_per_image=3, size=8, random_state=1)
    c = load_color_crops(("rocket",), crops_per_image=3, size=8, random_state=2)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)
    left = load_color_crops(("rocket",), crops_per_image=20, size=8, columns=(0, 0.5))
    right = load_color_crops(("rocket",), crops_per_image=20, size=8, columns=(0.5, 1))
    width = load_color_image("rocket").shape[1]
    assert left.positions[:, 1].max() + 8 <= round(0.5 * width) <= right.positions[:, 1].min()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(images=("lily",)), "not a bundled"),
        (dict(size=100), "size=100"),
        (dict(columns=(0.5, 0.2)), "columns"),
        (dict(crops_per_image=0), "crops_per_image"),
        (dict(images="chelsea"), "tuple of names"),
    ],
)
def test_bad_data_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_color_crops(**{"size": 8, **kwargs})


# --------------------------------------------------------------------------- #
# metrics
# --------------------------------------------------------------------------- #
def test_chroma_and_rmse_on_known_values():
    ab = np.zeros((1, 2, 2, 2))
    ab[0, 0] = 3.0
    ab[0, 1] = 4.0
    assert mean_chroma(ab) == pytest.approx(5.0)
    assert rmse(ab, np.zeros_like(ab)) == pytest.approx(np.sqrt(12.5))
    with pytest.raises(ValueError, match="2 channels"):
        mean_chroma(np.zeros((1, 3, 2, 2)))


# --------------------------------------------------------------------------- #
# the separable convex step
# --------------------------------------------------------------------------- #
def _tiny_problem(seed=0, n=9):
    rng = np.random.default_rng(seed)
    Y = np.column_stack([rng.standard_normal((n, 2)), np.ones(n)])
    X = rng.standard_normal((n, 2))
    return problem_from_matrix(Y, X[:, 0]), X


def test_separable_upper_bound_is_the_sum_of_channel_optima():
    problem, X = _tiny_problem()
    cells = enumerate_relu_patterns(problem.Y)
    res = fit_convex_colorizer(problem, cells, X, 0.3, settings={"solver_options": TIGHT})
    assert res.success and res.kind == "upper bound (separable, exact cells)"
    assert res.lower is None and res.gap is None  # no lower bound is claimed here
    assert res.upper == pytest.approx(sum(res.channel_objectives), rel=1e-6)
    # each column of the stacked network is the channel's own network
    for k, ch in enumerate(res.channels):
        np.testing.assert_allclose(
            res.network.output(problem.Y)[:, k], ch.network.output(problem.Y), atol=1e-12
        )
        p = primal_objective(ch.network, channel_problem(problem, X, k), 0.3)
        assert p == pytest.approx(ch.objective, rel=1e-6)
    assert np.all(np.count_nonzero(res.network.W, axis=1) == 1)  # one channel per neuron


def test_separable_optimum_beats_every_separable_restart():
    """Exact cells: no separable network (random start, L-BFGS in torch) goes below it."""
    torch = pytest.importorskip("torch")
    problem, X = _tiny_problem(seed=1)
    beta = 0.3
    res = fit_convex_colorizer(
        problem, enumerate_relu_patterns(problem.Y), X, beta, settings={"solver_options": TIGHT}
    )
    Y, T = torch.as_tensor(problem.Y), torch.as_tensor(X)
    m, d = 10, problem.d  # n + 1 neurons per channel suffice at the optimum
    torch.set_num_threads(1)
    mask = torch.zeros(2 * m, 2, dtype=torch.float64)
    mask[:m, 0], mask[m:, 1] = 1.0, 1.0  # neuron j serves one channel
    gen = torch.Generator().manual_seed(0)
    values = []
    for _ in range(8):
        U = torch.randn(2 * m, d, generator=gen, dtype=torch.float64).requires_grad_()
        v = torch.randn(2 * m, 1, generator=gen, dtype=torch.float64).requires_grad_()
        opt = torch.optim.LBFGS([U, v], max_iter=300, line_search_fn="strong_wolfe")

        def closure(U=U, v=v, opt=opt):
            opt.zero_grad()
            out = torch.relu(Y @ U.T) @ (v * mask)
            value = 0.5 * ((out - T) ** 2).sum() + beta / 2 * ((U**2).sum() + (v**2).sum())
            value.backward()
            return value

        opt.step(closure)
        W = (v * mask).detach().numpy()
        values.append(
            vector_objective(VectorReluNetwork(U.detach().numpy().T, W), problem, X, beta)
        )
    assert res.upper <= min(values) + 1e-6
    assert min(values) <= res.upper * (1 + 1e-2)  # and the restarts come close to it


def test_stack_channel_networks_keeps_outputs_and_penalty():
    rng = np.random.default_rng(2)
    nets = [ReluNetwork(rng.standard_normal((3, 4)), rng.standard_normal(3)) for _ in range(2)]
    nets.append(ReluNetwork(np.zeros((0, 4)), np.zeros(0)))  # a channel without neurons
    vec = stack_channel_networks(nets, 4)
    Y = rng.standard_normal((5, 4))
    np.testing.assert_allclose(vec.output(Y)[:, 0], nets[0].output(Y))
    np.testing.assert_allclose(vec.output(Y)[:, 2], 0.0)
    assert vec.penalty() == pytest.approx(sum(n.penalty() for n in nets))


def test_convex_step_refuses_bad_targets():
    problem, X = _tiny_problem()
    with pytest.raises(ValueError, match="rows"):
        fit_convex_colorizer(problem, enumerate_relu_patterns(problem.Y), X[:3], 0.1)
    with pytest.raises(ValueError, match="beta"):
        fit_convex_colorizer(problem, enumerate_relu_patterns(problem.Y), X, 0.0)


# --------------------------------------------------------------------------- #
# one tiny end-to-end run
# --------------------------------------------------------------------------- #
def test_tiny_run_end_to_end(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from cvxcnn.colorization.system import ColorizeConfig, plot_colorization, run_colorization

    cfg = ColorizeConfig(
        crops_per_image=1, size=8, stride=2, patterns=6, neurons=4, epochs=30, test_size=8
    )
    res = run_colorization(cfg, verbose=False)
    rows = {r["model"]: r for r in res.rows}
    assert list(rows) == ["grey", "convex", "primal", "primal+chroma"]
    assert rows["grey"]["test_chroma"] == 0.0
    assert rows["grey"]["test_rmse_ab"] == pytest.approx(
        AB_SCALE * rmse(res.test.ab, 0 * res.test.ab)
    )
    assert rows["convex"]["status"] == "optimal"
    assert rows["convex"]["objective"] < rows["grey"]["objective"]
    assert rows["primal"]["trained_objective"] == pytest.approx(rows["primal"]["objective"])
    # the chroma run reports its own loss (larger: the chroma term is added)
    assert rows["primal+chroma"]["trained_objective"] > rows["primal+chroma"]["objective"]
    assert res.predictions["convex"].shape == res.test.ab.shape
    png = plot_colorization(res, tmp_path / "c.png")
    assert 0 < png.stat().st_size < 200_000
    assert res.to_dict()["settings"]["patterns"] == 6
