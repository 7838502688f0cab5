"""The PyTorch primal trainer: layers == patch matrix, loss == P(U, v), the convex optimum.

CPU only, small problems; the whole file runs in well under a minute.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cvxcnn.arrangements import enumerate_relu_patterns  # noqa: E402
from cvxcnn.fitting import fit_relu  # noqa: E402
from cvxcnn.losses import get_loss  # noqa: E402
from cvxcnn.network_io import load_network  # noqa: E402
from cvxcnn.networks import ReluNetwork, predict, primal_objective  # noqa: E402
from cvxcnn.patches import extract_patches  # noqa: E402
from cvxcnn.primal import (  # noqa: E402
    OPTIMIZERS,
    TORCH_MISSING_MESSAGE,
    TwoLayerCNN,
    primal_loss,
    resolve_device,
    train_primal,
)
from cvxcnn.problem import make_problem  # noqa: E402
from cvxcnn.soft_threshold.network import STNetwork  # noqa: E402

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(shape, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.random(shape)
    return clean + 0.3 * rng.standard_normal(shape), clean


def _train(shape, seed, **kw):
    """``(noisy, clean, result)``: 5 epochs on :func:`_images`, kernel 3, 16 neurons, beta 1e-2."""
    noisy, clean = _images(shape, seed=seed)
    kw = {"kernel_size": 3, "neurons": 16, "beta": 1e-2, "epochs": 5, "verbose": False, **kw}
    return noisy, clean, train_primal(noisy, clean, **kw)


def _model(geometry, m=5, *, activation="relu", seed=1, **kw):
    model = TwoLayerCNN(geometry, m, activation=activation, **kw)
    model.reset_parameters_("normal", 1.0, torch.Generator().manual_seed(seed))
    return model


# --------------------------------------------------------------------------- #
# the layers compute the patch-matrix network
# --------------------------------------------------------------------------- #
GEOMETRIES = [
    ((3, 11), dict(kernel_size=2)),  # 1-D, even kernel: "same" pads 0 before, 1 after
    ((3, 11), dict(kernel_size=3, stride=2, padding="valid", bias=True)),
    ((2, 3, 9), dict(kernel_size=3, padding=1, bias=True, spatial_dims=1)),  # (N, C, L)
    ((2, 7, 6), dict(kernel_size=3, bias=True)),
    ((2, 2, 7, 6), dict(kernel_size=(2, 3), stride=(2, 1), padding=1, bias=True)),
    ((2, 7, 8), dict(kernel_size=4, stride=2)),
]


@pytest.mark.parametrize(("shape", "kw"), GEOMETRIES)
@pytest.mark.parametrize("activation", ["relu", "st"])
def test_layers_equal_patch_matrix_network(shape, kw, activation):
    x, _ = _images(shape)
    patches = extract_patches(x, **kw)
    st = {"threshold": 0.3, "learn_threshold": True} if activation == "st" else {}
    model = _model(patches.geometry, 6, activation=activation, dtype=torch.float64, **st)
    if activation == "st":  # distinct per-neuron thresholds
        model.set_weights_(model.to_network().U, model.to_network().v, np.linspace(0.0, 1.0, 6))
    net = model.to_network()
    assert net.U.shape == (6, patches.d)
    out = model.patch_output(torch.as_tensor(x)).detach().numpy()
    assert out.shape == (shape[0], *patches.geometry.output_shape)
    np.testing.assert_allclose(out.reshape(-1), net.output(patches.Y), rtol=1e-12, atol=1e-12)
    if activation == "relu":
        reference = ReluNetwork(net.U, net.v).output(patches.Y)
    else:
        a = patches.Y @ net.U.T
        reference = (np.sign(a) * np.maximum(np.abs(a) - net.t, 0.0)) @ net.v
    np.testing.assert_allclose(out.reshape(-1), reference, rtol=1e-12, atol=1e-12)


def test_filter_rows_are_conv_weights_in_c_order():
    x, _ = _images((2, 2, 5, 5))
    patches = extract_patches(x, (2, 3), bias=True)
    model = _model(patches.geometry, 3, dtype=torch.float64)
    U = model.to_network().U
    w = model.conv1.weight.detach().numpy()
    np.testing.assert_array_equal(U[:, :-1], w.reshape(3, -1))
    np.testing.assert_array_equal(U[:, -1], model.conv1.bias.detach().numpy())


@pytest.mark.parametrize(
    ("shape", "kw"),
    [
        ((3, 6, 6), dict(kernel_size=3, residual=True)),
        ((3, 6, 6), dict(kernel_size=2, stride=2, residual=True, bias=True)),
        ((3, 9), dict(kernel_size=3, readout="sum")),
        ((3, 2, 6, 5), dict(kernel_size=3, readout="mean", bias=True)),
    ],
)
def test_forward_equals_readout_and_residual(shape, kw):
    x, clean = _images(shape)
    readout = kw.get("readout", "identity")
    targets = clean.reshape(shape[0], -1).mean(axis=1) if readout != "identity" else clean
    if len(shape) == 4 and readout == "identity":
        targets = clean[:, 0]
    problem = make_problem(x, targets, **kw)
    model = _model(
        problem.geometry,
        4,
        residual=kw.get("residual", False),
        readout=readout,
        dtype=torch.float64,
    )
    net = model.to_network()
    expected = predict(net, problem)
    if problem.offset is not None:
        expected = expected + problem.offset
    got = model(torch.as_tensor(x)).detach().numpy().reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- #
# the loss is P(U, v)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("shape", "kw", "activation", "loss"),
    [
        ((2, 5, 5), dict(kernel_size=3, bias=True, residual=True), "relu", "squared"),
        ((3, 8), dict(kernel_size=3, stride=2, readout="sum"), "relu", "huber"),
        ((2, 5, 5), dict(kernel_size=2, bias=True), "st", "squared"),
    ],
)
def test_autograd_matches_finite_differences_of_evaluator(shape, kw, activation, loss):
    x, clean = _images(shape, seed=4)
    readout = kw.get("readout", "identity")
    targets = clean.sum(axis=1) if readout != "identity" else clean
    problem = make_problem(x, targets, **kw)
    loss_obj = get_loss(loss)
    beta = 0.07
    st = {"threshold": 0.2, "learn_threshold": True} if activation == "st" else {}
    model = _model(
        problem.geometry,
        4,
        activation=activation,
        residual=kw.get("residual", False),
        readout=readout,
        dtype=torch.float64,
        seed=3,
        **st,
    )
    if activation == "st":
        net0 = model.to_network()
        model.set_weights_(net0.U, net0.v, np.array([0.05, 0.1, 0.2, 0.4]))
    X = torch.as_tensor(x)
    T = torch.as_tensor(problem.target.reshape(model.readout_output(X).shape))
    value = primal_loss(model, X, T, beta, loss_obj)
    value.backward()
    net = model.to_network()
    assert value.item() == pytest.approx(primal_objective(net, problem, beta, loss_obj), rel=1e-12)

    grad_U = model.conv1.weight.grad.reshape(4, -1).numpy()
    if model.conv1.bias is not None:
        grad_U = np.hstack([grad_U, model.conv1.bias.grad.numpy()[:, None]])
    grads = {"U": grad_U, "v": model.conv2.weight.grad.reshape(4).numpy()}
    if activation == "st":
        grads["t"] = model.threshold.grad.numpy()

    def objective(arrays):
        if activation == "st":
            network = STNetwork(U=arrays["U"], thresholds=arrays["t"], v=arrays["v"])
        else:
            network = ReluNetwork(arrays["U"], arrays["v"])
        return primal_objective(network, problem, beta, loss_obj)

    base = {"U": net.U, "v": net.v}
    if activation == "st":
        base["t"] = net.t
    h = 1e-6
    for name, g in grads.items():
        numeric = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            plus = {k: a.copy() for k, a in base.items()}
            minus = {k: a.copy() for k, a in base.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric[idx] = (objective(plus) - objective(minus)) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    ("dtype", "rtol", "kw"),
    [
        ("float64", 1e-10, dict()),
        ("float32", 1e-5, dict()),
        ("float64", 1e-10, dict(batch_size=1, residual=True, bias=True)),
        ("float32", 1e-5, dict(batch_size=2, activation="st", learn_threshold=True)),
        ("float64", 1e-10, dict(activation="st", threshold=0.05, optimizer="rmsprop")),
    ],
)
def test_exported_objective_equals_last_full_batch_loss(dtype, rtol, kw):
    kw = {"optimizer": "adam", **kw}
    noisy, clean, result = _train((3, 6, 6), 2, lr=1e-2, dtype=dtype, device="cpu", **kw)
    assert result.final_objective == pytest.approx(result.trainer_objective, rel=rtol)
    problem = make_problem(
        noisy,
        clean,
        kernel_size=3,
        residual=kw.get("residual", False),
        bias=kw.get("bias", False),
    )
    assert primal_objective(result.network, problem, 1e-2) == pytest.approx(
        result.final_objective, rel=1e-13
    )
    assert result.objectives.shape == result.seconds.shape == (6,)
    assert result.epochs_run == 5 and np.all(np.diff(result.seconds) >= 0)
    assert result.device == "cpu" and result.dtype == dtype
    if kw.get("activation") == "st":
        assert isinstance(result.network, STNetwork)
        assert np.all(result.network.t >= 0)


# --------------------------------------------------------------------------- #
# the convex optimum on a tiny exact problem
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def exact_problem():
    """Two noisy 1-D signals of length 5, kernel 2: n = 10, every cell enumerated."""
    noisy, clean = _images((2, 5), seed=7)
    beta = 0.05
    problem = make_problem(noisy, clean, kernel_size=2)
    fit = fit_relu(problem, enumerate_relu_patterns(problem.Y), beta=beta, solver_options=TIGHT)
    assert fit.success and fit.exact_arrangement
    return noisy, clean, beta, fit.objective


def _train_exact(exact_problem, **options):
    """``train_primal`` on the exact problem's signals (kernel 2, its ``beta``), quietly."""
    noisy, clean, beta, _ = exact_problem
    return train_primal(noisy, clean, kernel_size=2, beta=beta, verbose=False, **options)


@pytest.mark.parametrize(
    "schedule",
    [
        dict(optimizer="adam", lr=1e-2, epochs=1500, init="normal", init_std=0.1),
        dict(optimizer="lbfgs", lr=1.0, epochs=30, init="normal", init_std=0.1),
        dict(optimizer="adam", lr=1e-2, epochs=1500, init="kaiming_uniform", seed=3),
    ],
)
def test_trained_objective_reaches_but_never_beats_the_convex_optimum(exact_problem, schedule):
    optimum = exact_problem[3]
    result = _train_exact(
        exact_problem,
        neurons=50,
        dtype="float64",
        device="cpu",
        target=optimum,
        rtol=1e-3,
        **schedule,
    )
    # no network goes below the global optimum
    assert np.all(result.objectives >= optimum * (1 - 1e-7))
    assert result.final_objective >= optimum * (1 - 1e-7)
    # and gradient training gets within 1e-3 of it
    assert result.reached_target
    assert result.final_objective <= optimum * (1 + 1e-3)
    assert result.epochs_to_target == result.epochs_run <= schedule["epochs"]
    assert 0 < result.seconds_to_target == result.seconds[-1]


def test_an_unknown_keyword_is_refused_with_the_problem_keywords():
    noisy, clean = _images((1, 5))
    with pytest.raises(TypeError, match="kernal_size.*kernel_size, spatial_dims"):
        train_primal(noisy, clean, kernal_size=3, epochs=1, verbose=False)


def test_unreachable_target_runs_every_epoch(exact_problem):
    optimum = exact_problem[3]
    result = _train_exact(exact_problem, neurons=8, lr=1e-2, epochs=20, target=0.5 * optimum)
    assert result.reached_target is False and result.epochs_run == 20
    assert result.epochs_to_target is None and result.seconds_to_target is None
    d = result.to_dict()
    assert d["reached_target"] is False and d["target"] == pytest.approx(0.5 * optimum)


# --------------------------------------------------------------------------- #
# optimizers, seeds, inits
# --------------------------------------------------------------------------- #
LEARNING_RATES = {
    "adam": 1e-2,
    "sgd": 1e-3,
    "sgdm": 1e-3,
    "adagrad": 1e-2,
    "rmsprop": 1e-3,
    "asgd": 1e-3,
    "lbfgs": 1.0,
}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [None, 2])
def test_every_optimizer_decreases_the_objective(optimizer, batch_size):
    if optimizer == "lbfgs" and batch_size is not None:
        pytest.skip("lbfgs is full batch only")
    lr = LEARNING_RATES[optimizer]
    _, _, result = _train((4, 6, 6), 5, optimizer=optimizer, lr=lr, batch_size=batch_size)
    assert result.objectives[-1] < result.objectives[0]
    assert result.settings["optimizer"] == optimizer


@pytest.mark.parametrize("batch_size", [None, 1])
def test_same_seed_same_curve(batch_size):
    noisy, clean = _images((3, 5, 5), seed=6)
    kw = dict(kernel_size=3, neurons=8, lr=1e-2, epochs=4, batch_size=batch_size, verbose=False)
    a = train_primal(noisy, clean, seed=11, **kw)
    b = train_primal(noisy, clean, seed=11, **kw)
    c = train_primal(noisy, clean, seed=12, **kw)
    np.testing.assert_array_equal(a.objectives, b.objectives)
    np.testing.assert_array_equal(a.network.U, b.network.U)
    assert not np.array_equal(a.objectives, c.objectives)


def test_inits():
    noisy, clean = _images((2, 6, 6))
    kw = dict(kernel_size=3, neurons=400, epochs=0, verbose=False, bias=True)
    normal = train_primal(noisy, clean, init="normal", init_std=0.01, **kw)
    assert np.std(normal.network.U) == pytest.approx(0.01, rel=0.05)
    assert np.std(normal.network.v) == pytest.approx(0.01, rel=0.1)
    kaiming = train_primal(noisy, clean, init="kaiming_uniform", **kw)
    assert np.abs(kaiming.network.U).max() <= 1 / 3 and np.abs(kaiming.network.U).max() > 0.3
    assert np.abs(kaiming.network.v).max() <= 1 / np.sqrt(400)
    # a network as the starting point: epoch 0 is its objective
    start = train_primal(noisy, clean, init=normal.network, **{**kw, "neurons": None})
    assert start.objectives[0] == pytest.approx(normal.final_objective, rel=1e-12)
    np.testing.assert_array_equal(start.network.U, normal.network.U)


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(optimizer="adamw"), "optimizer"),
        (dict(dtype="float16"), "dtype"),
        (dict(init="xavier"), "init"),
        (dict(batch_size=-1), "batch_size"),
        (dict(optimizer="lbfgs", batch_size=1), "full batches"),
        (dict(optimizer_options={"weight_decay": 0.1}), "weight_decay"),
        (dict(learn_threshold=True), "activation='st'"),
        (dict(activation="tanh"), "activation"),
        (dict(beta=0.0), "beta"),
        (dict(target=float("nan")), "target"),
        (dict(residual=True, readout="sum"), "residual"),
    ],
)
def test_bad_arguments_raise_value_error(kw, match):
    noisy, clean = _images((2, 5, 5))
    with pytest.raises(ValueError, match=match):
        train_primal(noisy, clean, epochs=1, verbose=False, **kw)


def test_divergence_is_reported():
    from cvxcnn.primal import TrainingDivergedError

    noisy, clean = _images((2, 5, 5))
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        train_primal(noisy, clean, optimizer="sgd", lr=1e6, epochs=50, verbose=False)


# --------------------------------------------------------------------------- #
# export and the command line
# --------------------------------------------------------------------------- #
def test_save_and_load_both_activations(tmp_path):
    noisy, clean = _images((2, 6, 6))
    for activation in ("relu", "st"):
        result = train_primal(
            noisy,
            clean,
            neurons=7,
            epochs=3,
            lr=1e-2,
            activation=activation,
            learn_threshold=activation == "st",
            bias=True,
            verbose=False,
        )
        path = tmp_path / f"{activation}.npz"
        result.save(path)
        net = load_network(path).network
        written = {"relu": "relu", "st": "soft_threshold"}[activation]
        assert type(net) is type(result.network) and net.activation == written
        np.testing.assert_array_equal(net.U, result.network.U)
        assert primal_objective(net, result.problem, 1e-3) == pytest.approx(
            result.final_objective, rel=1e-14
        )
        with np.load(path) as f:
            assert str(f["activation"]) == written
            assert ("thresholds" in f.files) == (activation == "st")
        spec = load_network(path).spec  # the whole problem travels with the weights
        assert spec is not None and spec.beta == 1e-3 and spec.bias
        assert spec.build_problem(noisy, clean).Y.shape == result.problem.Y.shape
        if activation == "st":
            assert net.t.shape == (7,)


def test_load_weights_reads_thresholds_key(tmp_path):
    path = tmp_path / "other.npz"
    U, v, t = np.ones((2, 3)), np.array([1.0, -1.0]), np.array([0.1, 0.2])
    np.savez(path, U=U, v=v, thresholds=t, activation=np.array("soft_threshold"))
    net = load_network(path).network
    assert isinstance(net, STNetwork)
    np.testing.assert_array_equal(net.t, t)
    np.savez(path, U=U, v=v, activation=np.array("st"))
    with pytest.raises(ValueError, match="lacks"):
        load_network(path)


# --------------------------------------------------------------------------- #
# torch stays optional
# --------------------------------------------------------------------------- #
class _NoTorch(importlib.abc.MetaPathFinder):
    """Import hook that makes ``import torch`` fail as if it were not installed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def test_missing_torch_gives_install_message(monkeypatch, capsys):
    stale = ("torch", "cvxcnn.primal")
    for name in [m for m in sys.modules if m in stale or m.startswith("cvxcnn.primal.")]:
        monkeypatch.delitem(sys.modules, name)
    # (sys.modules["torch"] = None also blocks the import, but SciPy's array-API
    # helpers then fail on the None entry; a finder is closer to "not installed")
    monkeypatch.setattr(sys, "meta_path", [_NoTorch(), *sys.meta_path])
    with pytest.raises(ImportError) as info:
        importlib.import_module("cvxcnn.primal")
    assert str(info.value) == TORCH_MISSING_MESSAGE
    assert "pip install torch==2.13.0 (or pip install 'cvxcnn[torch]')" in str(info.value)
    # the command line imports without torch, and the command says what to install
    from cvxcnn.cli import main

    assert main(["train", "--quiet"]) == 2
    assert TORCH_MISSING_MESSAGE in capsys.readouterr().err
