"""The one weights format (cvxcnn.network_io) and the problem spec it stores.

The format-1 fixtures in tests/data/*_v1.npz were written by the writers of
commit 302a3e4 (before format 2) with tests/data/make_v1_weights.py; they are
what users hold today and must keep loading.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.losses import get_loss
from cvxcnn.network_io import (
    FORMAT_VERSION,
    LoadedNetwork,
    check_weights_path,
    load_network,
    save_network,
)
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec, make_problem
from cvxcnn.soft_threshold.network import STNetwork

DATA = Path(__file__).parent / "data"


def _spec(**changes) -> ProblemSpec:
    base = dict(activation="relu", kernel_size=3, spatial_dims=2, channels=1, beta=0.05)
    base.update(changes)
    return ProblemSpec(**base)


def _relu(d: int, m: int = 3, seed: int = 0) -> ReluNetwork:
    rng = np.random.default_rng(seed)
    return ReluNetwork(rng.standard_normal((m, d)), rng.standard_normal(m))


def _st(d: int, m: int = 3, seed: int = 0, thresholds=None) -> STNetwork:
    rng = np.random.default_rng(seed)
    t = rng.random(m) if thresholds is None else thresholds
    return STNetwork(U=rng.standard_normal((m, d)), thresholds=t, v=rng.standard_normal(m))


def _assert_same_problem(a, b) -> None:
    np.testing.assert_array_equal(a.Y, b.Y)
    np.testing.assert_array_equal(a.target, b.target)
    assert a.readout == b.readout
    assert a.geometry == b.geometry
    assert (a.offset is None) == (b.offset is None)
    if a.offset is not None:
        np.testing.assert_array_equal(a.offset, b.offset)


# ---------------------------------------------------------------- round trips


@st.composite
def problems(draw):
    """A spec, matching images and targets, and a network of either activation."""
    dims = draw(st.sampled_from([1, 2]))
    readout = draw(st.sampled_from(["identity", "sum", "mean"]))
    residual = readout == "identity" and draw(st.booleans())
    channels = 1 if residual else draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    padding = draw(
        st.one_of(
            st.sampled_from(["same", "valid"]),
            st.integers(0, 1),
            # a tuple holding a 0 hits a make_problem limitation (patches._padding_pairs
            # takes 0 only as an int); ProblemSpec.build_problem works around it
            st.tuples(*[st.integers(1, 2)] * dims),
        )
    )
    activation = draw(st.sampled_from(["relu", "soft_threshold"]))
    threshold = draw(st.sampled_from([None, 0.25])) if activation == "soft_threshold" else None
    loss = draw(st.sampled_from(["squared", "absolute", "huber"]))
    spec = ProblemSpec(
        activation=activation,
        kernel_size=kernel,
        spatial_dims=dims,
        channels=channels,
        beta=draw(st.floats(1e-4, 10.0)),
        stride=tuple(draw(st.integers(1, 2)) for _ in range(dims)),
        padding=padding,
        bias=draw(st.booleans()),
        residual=residual,
        readout=readout,
        loss=loss,
        loss_params={"delta": 0.5} if loss == "huber" else {},
        threshold=threshold,
        data={"data": "synthetic", "images": 2, "noise": 0.1, "seed": 3},
    )
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 2))
    spatial = (5,) * dims
    shape = (n, *spatial) if channels == 1 else (n, channels, *spatial)
    inputs = rng.standard_normal(shape)
    targets = rng.standard_normal((n, *spatial)) if readout == "identity" else rng.random(n)
    if activation == "relu":
        network = _relu(spec.d, seed=seed)
    else:
        t = None if threshold is None else np.full(3, threshold)
        network = _st(spec.d, seed=seed, thresholds=t)
    return spec, padding, inputs, targets, network


@settings(max_examples=40, deadline=None)
@given(problems())
def test_round_trip_rebuilds_the_same_problem(case):
    spec, padding, inputs, targets, network = case
    original = make_problem(
        inputs,
        targets,
        kernel_size=spec.kernel_size,
        spatial_dims=spec.spatial_dims,
        stride=spec.stride,
        padding=padding,
        bias=spec.bias,
        residual=spec.residual,
        readout=spec.readout,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.npz"
        save_network(path, network, spec, final_objective=1.25)
        loaded = load_network(path)
    assert loaded.format_version == FORMAT_VERSION == 2
    assert type(loaded.network) is type(network)
    np.testing.assert_array_equal(loaded.network.U, network.U)
    np.testing.assert_array_equal(loaded.network.v, network.v)
    if isinstance(network, STNetwork):
        np.testing.assert_array_equal(loaded.network.thresholds, network.thresholds)
    assert loaded.spec == spec and hash(loaded.spec) == hash(spec)
    assert loaded.extra == {"final_objective": 1.25}
    assert loaded.recorded_fields == spec.to_dict()
    assert ProblemSpec.from_dict(spec.to_dict()) == spec
    assert ProblemSpec.from_json(spec.to_json()) == spec
    _assert_same_problem(loaded.spec.build_problem(inputs, targets), original)
    recorded = ProblemSpec.from_problem(
        original,
        activation=spec.activation,
        beta=spec.beta,
        loss=spec.make_loss(),
        threshold=spec.threshold,
        data=spec.data,
    )
    assert spec.contradictions(recorded) == []
    _assert_same_problem(recorded.build_problem(inputs, targets), original)
    assert loaded.spec.make_loss().to_dict() == get_loss(spec.loss, **spec.loss_params).to_dict()
    assert spec.contradictions(loaded.spec, include_data=True) == []


def test_the_file_layout(tmp_path):
    spec = _spec(activation="st", residual=True, threshold=0.5)
    net = _st(spec.d, thresholds=np.full(3, 0.5))
    path = tmp_path / "st.npz"
    save_network(path, net, spec, note="hello", curve=np.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["st.npz"]  # no temporary left
    with np.load(path, allow_pickle=False) as f:
        assert set(f.files) == {
            "format_version",
            "activation",
            "U",
            "v",
            "thresholds",
            "spec",
            "note",
            "curve",
        }
        assert f["format_version"].dtype.kind == "i" and int(f["format_version"]) == 2
        assert str(f["activation"]) == "soft_threshold"
        assert f["spec"].ndim == 0 and f["spec"].dtype.kind == "U"
        stored = json.loads(str(f["spec"]))
    assert stored == spec.to_dict() and stored["activation"] == "soft_threshold"
    loaded = load_network(path)
    assert loaded.extra["note"] == "hello"
    np.testing.assert_array_equal(loaded.extra["curve"], np.arange(3.0))


def test_saved_without_spec(tmp_path, rng):
    relu, st_net = _relu(9), _st(9)
    save_network(tmp_path / "r.npz", relu, beta=0.1, kernel=3)
    save_network(tmp_path / "s.npz", st_net, beta=0.1, kernel=3)
    loaded = load_network(tmp_path / "r.npz")
    assert loaded.spec is None and loaded.format_version == 2
    assert loaded.extra == {"beta": 0.1, "kernel": 3}
    assert loaded.recorded_fields == {"activation": "relu", "beta": 0.1, "kernel_size": 3}
    np.testing.assert_array_equal(loaded.network.U, relu.U)
    st_loaded = load_network(tmp_path / "s.npz", activation="soft_threshold")
    np.testing.assert_array_equal(st_loaded.network.thresholds, st_net.t)
    with pytest.raises(ValueError, match="not 'soft_threshold'"):
        load_network(tmp_path / "r.npz", activation="soft_threshold")


# ---------------------------------------------------------------- format 1


def test_v1_cli_relu_file():
    loaded = load_network(DATA / "relu_v1.npz")
    assert loaded.format_version == 1 and loaded.spec is None
    assert isinstance(loaded.network, ReluNetwork) and loaded.network.U.shape == (3, 9)
    assert loaded.extra == {"beta": 0.05, "kernel": 3}
    assert loaded.recorded_fields == {"activation": "relu", "beta": 0.05, "kernel_size": 3}


def test_v1_cli_st_file():
    loaded = load_network(DATA / "st_v1.npz")
    assert loaded.format_version == 1 and loaded.spec is None
    assert isinstance(loaded.network, STNetwork) and loaded.network.thresholds.shape == (3,)
    assert loaded.extra == {"beta": 0.05, "kernel": 3}


def test_v1_trainer_files_record_their_geometry():
    relu = load_network(DATA / "relu_trainer_v1.npz")
    assert relu.format_version == 1 and relu.spec is None
    assert relu.network.U.shape == (3, 10)
    fields = relu.recorded_fields
    assert fields == {
        "activation": "relu",
        "beta": 0.01,
        "kernel_size": [3, 3],
        "spatial_dims": 2,
        "stride": [1, 1],
        "channels": 1,
        "bias": True,
        "residual": True,
        "readout": "identity",
        "padding": "same",  # stored as pairs [[1, 1], [1, 1]]
    }
    assert relu.extra["final_objective"] == pytest.approx(0.8355144591062217)
    # the trainer's settings as a full spec agree with what the file records
    spec = _spec(kernel_size=3, padding=1, bias=True, residual=True, beta=0.01)
    assert spec.contradictions(fields) == []
    st_file = load_network(DATA / "st_trainer_v1.npz")
    assert isinstance(st_file.network, STNetwork)
    assert st_file.recorded_fields["activation"] == "soft_threshold"


def test_v1_oldest_st_layout_with_t_key():
    loaded = load_network(DATA / "st_old_v1.npz")
    assert isinstance(loaded.network, STNetwork)
    with np.load(DATA / "st_old_v1.npz") as f:
        np.testing.assert_array_equal(loaded.network.thresholds, f["t"])
    assert "t" not in loaded.extra and "activation" not in loaded.extra
    fields = loaded.recorded_fields
    assert fields["padding"] == "same" and fields["kernel_size"] == [2, 2]  # pairs (0, 1)


# ---------------------------------------------------------------- bad files


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_wrong_extension_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"end in '\.npz'"):
        save_network(tmp_path / "net", _relu(4))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"end in '\.npz'"):
        save_network(tmp_path / "net.npy", _relu(4))
    with pytest.raises(ValueError, match=r"end in '\.npz'"):
        load_network(tmp_path / "net.txt")
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "missing.npz")
    assert check_weights_path("a/b.npz") == Path("a/b.npz")
    with pytest.raises(ValueError, match=r"end in '\.npz'"):
        check_weights_path("b.NPZ.gz")


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"v": np.ones(2)}, r"lacks array\(s\) \['U'\]"),
        ({"U": np.ones((2, 3))}, r"lacks array\(s\) \['v'\]"),
        ({"U": np.ones((2, 3)), "v": np.ones(2), "activation": np.array("st")}, "lacks"),
        ({"U": np.ones((2, 3)), "v": np.ones(2), "activation": np.array("tanh")}, "'tanh'"),
        ({"U": np.ones((2, 3)), "v": np.ones(3)}, "3 entries"),
        ({"U": np.ones(3), "v": np.ones(3)}, "'U' must have 2"),
        ({"U": np.full((2, 3), "a"), "v": np.ones(2)}, "'U' must hold real numbers"),
        ({"U": np.ones((2, 3)), "v": np.array([1.0, np.nan])}, "'v' has 1 non-finite"),
        (
            {"U": np.ones((2, 3)), "v": np.ones(2), "t": np.array([0.1, np.inf])},
            None,  # a relu file (no activation): t is extra metadata, read fine
        ),
        (
            {
                "U": np.ones((2, 3)),
                "v": np.ones(2),
                "t": np.array([0.1, np.inf]),
                "activation": np.array("st"),
            },
            "'t' has 1 non-finite",
        ),
        (
            {
                "U": np.ones((2, 3)),
                "v": np.ones(2),
                "thresholds": -np.ones(2),
                "activation": np.array("soft_threshold"),
            },
            "thresholds must be finite and >= 0",
        ),
    ],
)
def test_bad_v1_files(tmp_path, arrays, match):
    path = _write(tmp_path / "bad.npz", **arrays)
    if match is None:
        assert load_network(path).format_version == 1
        return
    with pytest.raises(ValueError, match=match) as info:
        load_network(path)
    assert "bad.npz" in str(info.value)


def _v2(**changes):
    arrays = {
        "format_version": np.array(2),
        "activation": np.array("relu"),
        "U": np.ones((2, 9)),
        "v": np.ones(2),
        "spec": np.array(_spec().to_json()),
    }
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"U": None}, r"lacks array\(s\) \['U'\]"),
        ({"activation": None}, r"lacks array\(s\) \['activation'\]"),
        ({"activation": np.array("st")}, "must be 'relu' or 'soft_threshold'"),
        ({"activation": np.array("soft_threshold")}, r"lacks array\(s\) \['thresholds'\]"),
        ({"thresholds": np.ones(2)}, "'relu' network has no 'thresholds'"),
        ({"activation": np.array(1)}, "'activation' must be a 0-d string"),
        ({"format_version": np.array(3)}, "format_version 3 .written by a newer"),
        ({"format_version": np.array(2.0)}, "format_version must be a 0-d integer"),
        ({"spec": np.array("{not json")}, "'spec' is not valid JSON"),
        ({"spec": np.array(json.dumps({**_spec().to_dict(), "colour": 1}))}, r"\['colour'\]"),
        ({"spec": np.array(json.dumps({**_spec().to_dict(), "bias": 1}))}, "ProblemSpec.bias"),
        ({"spec": np.array("[1, 2]")}, "read from a mapping"),
        ({"spec": np.array(_spec(kernel_size=2).to_json())}, "d=9 entries but .* d=4"),
        ({"spec": np.array(_spec(activation="st").to_json())}, "'relu' network but the spec"),
        ({"U": np.array([[1.0, np.inf] * 4 + [0.0]] * 2)}, "'U' has 8 non-finite"),
        ({"v": np.ones(2, dtype=complex)}, "'v' must hold real numbers"),
    ],
)
def test_bad_v2_files(tmp_path, changes, match):
    path = _write(tmp_path / "bad.npz", **_v2(**changes))
    with pytest.raises(ValueError, match=match) as info:
        load_network(path)
    assert "bad.npz" in str(info.value)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "pickle.npz"
    np.savez(path, U=np.ones((2, 3)), v=np.ones(2), note=np.array({"a": 1}, dtype=object))
    with pytest.raises(ValueError, match="'note' holds Python objects"):
        load_network(path)
    np.savez(path, U=np.array([[1.0, 2.0]], dtype=object), v=np.ones(1))
    with pytest.raises(ValueError, match="'U' holds Python objects"):
        load_network(path)


def test_files_that_are_not_npz_archives(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("U,v\n1,2\n")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        load_network(path)
    with open(path, "wb") as fh:
        np.save(fh, np.ones(3))
    with pytest.raises(ValueError, match="single .npy array"):
        load_network(path)


def test_huge_but_finite_weights_load_and_overflow_is_refused(tmp_path):
    huge = ReluNetwork(1e200 * np.ones((2, 9)), 1e200 * np.ones(2))
    save_network(tmp_path / "huge.npz", huge, _spec())
    back = load_network(tmp_path / "huge.npz").network
    np.testing.assert_array_equal(back.U, huge.U)
    with np.errstate(over="ignore"):  # the evaluator scores it honestly: no finite bound
        assert back.penalty() == np.inf
    if np.finfo(np.longdouble).max > np.finfo(np.float64).max:
        U = np.ones((2, 9), dtype=np.longdouble)
        U[0, 0] = np.longdouble("1e400")
        path = _write(tmp_path / "long.npz", U=U, v=np.ones(2))
        with pytest.raises(ValueError, match="'U' has 1 non-finite .*beyond float64"):
            load_network(path)


def test_activation_filter_and_unsaveable_inputs(tmp_path):
    from cvxcnn.soft_threshold.network import GatedNetwork

    gated = GatedNetwork(np.ones((1, 2)), np.ones(1), np.ones((1, 4)))
    with pytest.raises(ValueError, match="GatedNetwork"):
        save_network(tmp_path / "g.npz", gated)
    with pytest.raises(ValueError, match="may not be named 'activation'"):
        save_network(tmp_path / "r.npz", _relu(9), None, activation="tanh")
    with pytest.raises(ValueError, match="'note' must be a number"):
        save_network(tmp_path / "r.npz", _relu(9), note=None)
    with pytest.raises(ValueError, match="d=9 entries"):
        save_network(tmp_path / "r.npz", _relu(9), _spec(bias=True))
    with pytest.raises(ValueError, match="fixes every threshold at 0.5"):
        save_network(tmp_path / "s.npz", _st(9), _spec(activation="st", threshold=0.5))
    float32_lambda = np.full(3, np.float32(0.05), dtype=np.float64)  # a float32-trained net
    save_network(
        tmp_path / "s.npz",
        _st(9, thresholds=float32_lambda),
        _spec(threshold=0.05, activation="st"),
    )
    save_network(tmp_path / "r.npz", _relu(9), _spec().to_dict())  # a mapping is accepted
    assert isinstance(load_network(tmp_path / "r.npz"), LoadedNetwork)
    with pytest.raises(ValueError, match="not 'soft_threshold'"):
        load_network(tmp_path / "r.npz", activation="soft_threshold")


# ---------------------------------------------------------------- ProblemSpec


def test_spec_normalizes():
    spec = _spec(activation="st", padding=1, stride=2, loss="huber")
    assert spec.activation == "soft_threshold"
    assert spec.kernel_size == (3, 3) and spec.stride == (2, 2) and spec.padding == (1, 1)
    assert spec.loss_params == {"delta": 1.0}
    assert _spec(loss=get_loss("huber", delta=2.0)).loss_params == {"delta": 2.0}
    assert spec.d == 9 and _spec(channels=3, bias=True).d == 28
    assert _spec(data={"path": Path("a.npz"), "seed": np.int64(3)}).data == {
        "path": "a.npz",
        "seed": 3,
    }


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"activation": "tanh"}, "activation"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": [3, 3, 3]}, "kernel_size"),
        ({"kernel_size": "3"}, "kernel_size"),
        ({"kernel_size": 2.0}, "kernel_size"),
        ({"spatial_dims": 3}, "spatial_dims"),
        ({"spatial_dims": True}, "spatial_dims"),
        ({"channels": 0}, "channels"),
        ({"beta": 0}, "beta"),
        ({"beta": "0.1"}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"stride": [1, 0]}, "stride"),
        ({"padding": "full"}, "padding"),
        ({"padding": -1}, "padding"),
        ({"bias": 1}, "bias"),
        ({"residual": "yes"}, "residual"),
        ({"readout": "max"}, "readout"),
        ({"residual": True, "readout": "sum"}, "residual"),
        ({"residual": True, "channels": 3}, "residual"),
        ({"loss": "hinge"}, "loss"),
        ({"loss_params": {"delta": 1.0}}, "loss_params"),
        ({"loss": "huber", "loss_params": {"delta": "x"}}, "loss_params"),
        ({"loss_params": [1]}, "loss_params"),
        ({"threshold": 0.1}, "threshold"),
        ({"activation": "st", "threshold": -1.0}, "threshold"),
        ({"data": "digits"}, "data"),
        ({"data": {"noise": float("nan")}}, "data"),
        ({"data": {"x": object()}}, "data"),
    ],
)
def test_spec_validation_names_the_key(changes, key):
    with pytest.raises(ValueError, match=rf"ProblemSpec\.{key}"):
        _spec(**changes)
    values = {**_spec().to_dict(), **changes}
    with pytest.raises(ValueError, match=rf"ProblemSpec\.{key}"):
        ProblemSpec.from_dict(values)


def test_from_dict_unknown_and_missing_keys():
    values = _spec().to_dict()
    with pytest.raises(ValueError, match=r"unknown ProblemSpec key\(s\) \['colour'\]"):
        ProblemSpec.from_dict({**values, "colour": "red"})
    del values["padding"]
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['padding'\]"):
        ProblemSpec.from_dict(values)
    values = _spec().to_dict()
    del values["data"]  # provenance is optional
    assert ProblemSpec.from_dict(values).data is None
    with pytest.raises(ValueError, match="malformed"):
        ProblemSpec.from_json("{")


DIFFERENT = {
    "activation": "relu",
    "kernel_size": 5,
    "spatial_dims": 1,
    "channels": 2,
    "beta": 0.5,
    "stride": 2,
    "padding": "valid",
    "bias": True,
    "residual": False,
    "readout": "sum",
    "loss": "squared",
    "loss_params": {"delta": 3.0},  # {} (squared's) when loss changes too
    "threshold": 0.2,
}


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(DIFFERENT))))
def test_contradictions_lists_exactly_the_differing_fields(changed):
    base = _spec(
        activation="soft_threshold", residual=True, loss="huber", threshold=0.1, data={"seed": 1}
    )
    flags = {name: DIFFERENT[name] for name in changed}
    if "loss" in changed and "loss_params" in changed:
        flags["loss_params"] = {}
    expected = [f.name for f in dataclasses.fields(ProblemSpec) if f.name in changed]
    assert base.contradictions(flags) == expected
    # the same against a full spec, when the changed fields make a valid one
    try:
        other = dataclasses.replace(base, data={"seed": 2}, **flags)
    except ValueError:
        return
    assert base.contradictions(other) == expected
    assert base.contradictions(other, include_data=True) == [*expected, "data.seed"]


def test_contradictions_compare_meaning_not_spelling():
    spec = _spec(padding="same", loss="huber", data={"noise": 0.1})
    same = {
        "activation": "relu",
        "kernel_size": (3, 3),
        "spatial_dims": 2,
        "padding": 1,
        "stride": [1, 1],
        "beta": 0.05,
        "loss": "huber",
        "loss_params": {"delta": 1},
        "bias": None,  # not stated
        "threshold": None,
    }
    assert spec.contradictions(same) == []
    assert spec.contradictions({"padding": "valid"}) == ["padding"]
    assert spec.contradictions({"loss": "huber", "loss_params": {"delta": 2.0}}) == ["loss_params"]
    assert spec.contradictions({"loss": get_loss("huber")}) == []
    assert spec.contradictions({"data": {"noise": 0.2}}) == []
    assert spec.contradictions({"data": {"noise": 0.2}}, include_data=True) == ["data.noise"]
    with pytest.raises(ValueError, match=r"unknown ProblemSpec key\(s\) \['kernel'\]"):
        spec.contradictions({"kernel": 3})
    with pytest.raises(ValueError, match=r"ProblemSpec\.kernel_size"):
        spec.contradictions({"kernel_size": "big"})


def test_check_agrees_names_both_values():
    spec = _spec(residual=True, padding=1)
    spec.check_agrees({"residual": True, "kernel_size": 3})
    with pytest.raises(ValueError, match=r"\(beta: 0.05 vs 1.0; residual: True vs False\)") as info:
        spec.check_agrees({"residual": False, "beta": 1.0, "kernel_size": 3})
    assert "command line contradicts" in str(info.value)


def test_from_problem_refuses_raw_matrices():
    from cvxcnn.problem import problem_from_matrix

    raw = problem_from_matrix(np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="no geometry"):
        ProblemSpec.from_problem(raw, activation="relu", beta=1.0)


def test_build_problem_checks_channels_and_the_residual_bug():
    rng = np.random.default_rng(0)
    noisy, clean = rng.random((2, 5, 5)), rng.random((2, 5, 5))
    valid = make_problem(noisy, clean, kernel_size=3, padding="valid")
    _assert_same_problem(_spec(padding=(0, 0)).build_problem(noisy, clean), valid)
    spec = _spec(residual=True, padding="valid", stride=2, bias=True)
    problem = spec.build_problem(noisy, clean)
    assert problem.residual and problem.d == 10 and problem.geometry.output_shape == (2, 2)
    default = make_problem(noisy, clean, kernel_size=3)  # what a defaulting reader built
    assert problem.Y.shape != default.Y.shape
    with pytest.raises(ValueError, match="3 channel.*channels=1"):
        _spec().build_problem(rng.random((2, 3, 5, 5)), clean)
