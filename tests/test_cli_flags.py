"""Every flag of every subcommand reaches the code (or its effect is seen), so none is dropped.

A case gives extra arguments, the function that must receive them (a spy
that records the call and stops the run there) and a check on the recorded
call; output flags are checked by their effect. A flag without a case fails
:func:`test_every_flag_has_a_case`.
"""

from __future__ import annotations

import argparse
import importlib
import json

import pytest

from cvxcnn.activations import ACTIVATIONS
from cvxcnn.cli import app, main
from cvxcnn.network_io import save_network
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec

CLI_MODULES = ("common", "solve", "solve_st", "certify", "path", "train", "demo", "bench")
CLI_MODULES += ("explain", "colorize")
#: Library modules whose names a spy also replaces (the cells come from the activations).
LIBRARY_MODULES = ("cvxcnn.primal", "cvxcnn.demo", "cvxcnn.bench", "cvxcnn.activations.relu")
LIBRARY_MODULES += ("cvxcnn.interpret_figures", "cvxcnn.colorization.system")
LIBRARY_MODULES += ("cvxcnn.activations.soft_threshold",)
BASE = {
    "solve": ["solve", "--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"],
    "certify": ["certify", "--weights", "{w}", "--data", "synthetic1d", "--size", "8"]
    + ["--beta", "0.1"],  # the file records no problem: the flags give it
    "path": ["path", "--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"],
    "train": ["train", "--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"],
    "demo": ["demo"],
    "bench": ["bench", "ablation"],
    "explain": ["explain", "{ws}", "--data", "synthetic1d", "--size", "8"],  # ws: with a spec
    "colorize": ["colorize"],
}
ST = ["--activation", "st"]


def kw(name, value):
    return lambda a, k: k.get(name) == value


def arg(i, value):
    return lambda a, k: a[i] == value


def loss_name(name):
    return lambda a, k: getattr(k.get("loss"), "name", k.get("loss")) == name


DATA = [
    ("--data", ["--data", "phantom"], "load_dataset", arg(0, "phantom")),
    ("--images", ["--images", "2"], "load_dataset", kw("n_images", 2)),
    ("--noise", ["--noise", "0.1"], "load_dataset", kw("noise", 0.1)),
    (
        "--noise-type",
        ["--noise-type", "exponential"],
        "load_dataset",
        kw("noise_type", "exponential"),
    ),
    ("--size", ["--size", "9"], "load_dataset", kw("size", 9)),
    ("--seed", ["--seed", "3"], "load_dataset", kw("random_state", 3)),
]
GEOMETRY = [
    ("--kernel", ["--kernel", "3"], "make_problem", kw("kernel_size", 3)),
    ("--stride", ["--stride", "2"], "make_problem", kw("stride", 2)),
    ("--padding", ["--padding", "valid"], "make_problem", kw("padding", "valid")),
    ("--bias", ["--bias"], "make_problem", kw("bias", True)),
    ("--residual", ["--residual"], "make_problem", kw("residual", True)),
]
#: ``--patterns --data-directed --max-cells`` of the convex solves (ReLU cells).
PATTERNS = [
    ("--patterns", ["--patterns", "7"], "sample_relu_patterns", arg(1, 7)),
    (
        "--data-directed",
        ["--data-directed", "0.5"],
        "sample_relu_patterns",
        kw("data_directed", 0.5),
    ),
    (
        "--max-cells",
        ["--patterns", "exact", "--max-cells", "999"],
        "enumerate_relu_patterns",
        kw("max_cells", 999),
    ),
]


def solver_cases(target):
    """``--solver --solver-option --facets --jobs --max-memory``, each reaching ``target``."""
    return [
        ("--solver", ["--solver", "scs"], target, kw("solver", "scs")),
        (
            "--solver-option",
            ["--solver-option", "max_iter=50"],
            target,
            kw("solver_options", {"max_iter": 50}),
        ),
        ("--facets", ["--facets", "off"], target, kw("facets", "off")),
        ("--jobs", ["--jobs", "1"], target, kw("n_jobs", 1)),
        ("--max-memory", ["--max-memory", "2"], target, kw("max_memory", 2 * 2**30)),
    ]


HUBER = ("--huber-delta", ["--loss", "huber", "--huber-delta", "2"], "get_loss", kw("delta", 2.0))
SOLVE = [
    *DATA,
    *GEOMETRY,
    ("--beta", ["--beta", "0.5"], "fit_relu", kw("beta", 0.5)),
    ("--loss", ["--loss", "absolute"], "fit_relu", loss_name("absolute")),
    HUBER,
    *PATTERNS,
    *solver_cases("fit_relu"),
    ("--canon-backend", ["--canon-backend", "SCIPY"], "fit_relu", kw("canon_backend", "SCIPY")),
    ("--backend", ["--backend", "direct"], "fit_relu", kw("backend", "direct")),
    ("--method", ["--method", "colgen"], "solve_colgen", lambda a, k: True),
    (
        "--initial-patterns",
        ["--method", "colgen", "--initial-patterns", "3"],
        "solve_colgen",
        kw("initial", 3),
    ),
    ("--certify", ["--certify", "sampled"], "certify", lambda a, k: not a[2].exact),
    (
        "--certify-patterns",
        ["--patterns", "exact", "--certify", "sampled", "--certify-patterns", "33"],
        "sample_relu_patterns",
        arg(1, 33),
    ),
    ("--activation", ST, "fit_st", lambda a, k: True),
    (
        "--oracle-time-limit",
        ["--method", "colgen", "--max-cells", "10", "--max-memory", "1e-9"]
        + ["--oracle-time-limit", "7"],  # beyond --max-cells and a stream's memory: the MIP
        "mip_arrangement",
        kw("time_limit", 7.0),
    ),
    (
        "--oracle-time-limit",
        [*ST, "--method", "colgen", "--max-cells", "10", "--oracle-time-limit", "7"],
        "st_mip_triples",
        kw("time_limit", 7.0),
    ),
    ("--prune", ["--prune"], "fit_relu", kw("prune", True)),
    ("--strategy", ["--strategy", "full"], "fit_relu", kw("strategy", "full")),
    ("--strategy", [*ST, "--strategy", "working_set"], "fit_st", kw("strategy", "working_set")),
    ("--threshold", [*ST, "--threshold", "0.2"], "fixed_threshold_bracket", arg(2, 0.2)),
    ("--st-form", [*ST, "--threshold", "0.1", "--st-form", "paper"], "fit_st", kw("form", "paper")),
    (
        "--st-restarts",
        [*ST, "--threshold", "0.1", "--st-restarts", "2"],
        "fixed_threshold_bracket",
        kw("n_restarts", 2),
    ),
    ("--out", ["--out", "{tmp}/r.json"], None, "file:r.json"),
    ("--save-weights", ["--save-weights", "{tmp}/w.npz"], None, "file:w.npz"),
    ("--quiet", ["--quiet"], None, "quiet"),
    ("--debug", ["--debug", "--beta", "0.5"], "fit_relu", "debug"),
]
CERTIFY = [
    ("--weights", [], "load_network", lambda a, k: str(a[0]).endswith("net.npz")),
    *DATA,
    *GEOMETRY,
    ("--beta", ["--beta", "0.5"], "certify", kw("beta", 0.5)),
    ("--loss", ["--loss", "absolute"], "certify", loss_name("absolute")),
    HUBER,
    ("--certify", ["--certify", "sampled"], "cell_set", arg(2, "sampled")),
    (
        "--patterns",
        ["--certify", "sampled", "--patterns", "77"],
        "sample_relu_patterns",
        arg(1, 77),
    ),
    (
        "--data-directed",
        ["--certify", "sampled", "--data-directed", "0.3"],
        "sample_relu_patterns",
        kw("data_directed", 0.3),
    ),
    ("--max-cells", ["--max-cells", "999"], "enumerate_relu_patterns", kw("max_cells", 999)),
    (
        "--oracle-time-limit",
        ["--certify", "exact", "--max-cells", "3", "--max-memory", "1e-9"]
        + ["--oracle-time-limit", "7"],
        "mip_arrangement",
        kw("time_limit", 7.0),
    ),
    (
        "--max-memory",
        ["--certify", "exact", "--max-memory", "3"],
        "choose_oracle",
        kw("max_memory", 3 * 2**30),
    ),
    ("--out", ["--out", "{tmp}/c.json"], None, "file:c.json"),
    ("--quiet", ["--quiet"], None, "quiet"),
    ("--debug", ["--debug", "--beta", "0.5"], "certify", "debug"),
    (
        "--dask",
        ["--dask", "tcp://127.0.0.1:1"],
        "certify",
        lambda a, k: k["oracle_options"] == {"executor": "tcp://127.0.0.1:1"},
    ),
]
PATH = [
    *DATA,
    *GEOMETRY,
    ("--loss", ["--loss", "absolute"], "solve_path", loss_name("absolute")),
    HUBER,
    *PATTERNS,
    *solver_cases("solve_path"),
    ("--betas", ["--betas", "0.5", "0.1"], "solve_path", arg(2, [0.5, 0.1])),
    ("--initial-patterns", ["--initial-patterns", "5"], "solve_path", kw("initial", 5)),
    ("--tol", ["--tol", "0.01"], "solve_path", kw("tol", 0.01)),
    ("--activation", ST, "solve_path", lambda a, k: type(a[1]).__name__ == "TripleSet"),
    ("--out", ["--out", "{tmp}/p.json", "--betas", "0.5"], None, "file:p.json"),
    ("--plot", ["--plot", "{tmp}/p.svg", "--betas", "0.5"], None, "file:p.svg"),
    ("--quiet", ["--quiet", "--betas", "0.5"], None, "quiet"),
    ("--debug", ["--debug", "--tol", "0.01"], "solve_path", "debug"),
]
TRAIN_TARGET = "train_primal"
TRAIN = [
    *DATA,
    ("--kernel", ["--kernel", "3"], TRAIN_TARGET, kw("kernel_size", 3)),
    ("--stride", ["--stride", "2"], TRAIN_TARGET, kw("stride", 2)),
    ("--padding", ["--padding", "valid"], TRAIN_TARGET, kw("padding", "valid")),
    ("--bias", ["--bias"], TRAIN_TARGET, kw("bias", True)),
    ("--residual", ["--residual"], TRAIN_TARGET, kw("residual", True)),
    ("--activation", ST, TRAIN_TARGET, kw("activation", "st")),
    ("--threshold", [*ST, "--threshold", "0.2"], TRAIN_TARGET, kw("threshold", 0.2)),
    ("--learn-threshold", [*ST, "--learn-threshold"], TRAIN_TARGET, kw("learn_threshold", True)),
    ("--neurons", ["--neurons", "5"], TRAIN_TARGET, kw("neurons", 5)),
    ("--beta", ["--beta", "0.5"], TRAIN_TARGET, kw("beta", 0.5)),
    ("--loss", ["--loss", "absolute"], TRAIN_TARGET, loss_name("absolute")),
    HUBER,
    ("--optimizer", ["--optimizer", "sgd"], TRAIN_TARGET, kw("optimizer", "sgd")),
    ("--lr", ["--lr", "0.5"], TRAIN_TARGET, kw("lr", 0.5)),
    ("--epochs", ["--epochs", "3"], TRAIN_TARGET, kw("epochs", 3)),
    ("--batch-size", ["--batch-size", "1"], TRAIN_TARGET, kw("batch_size", 1)),
    ("--init", ["--init", "normal"], TRAIN_TARGET, kw("init", "normal")),
    ("--init-std", ["--init", "normal", "--init-std", "0.2"], TRAIN_TARGET, kw("init_std", 0.2)),
    ("--dtype", ["--dtype", "float32"], TRAIN_TARGET, kw("dtype", "float32")),
    ("--device", ["--device", "cpu"], TRAIN_TARGET, kw("device", "cpu")),
    ("--threads", ["--threads", "1"], TRAIN_TARGET, kw("threads", 1)),
    ("--target", ["--target", "0.5"], TRAIN_TARGET, kw("target", 0.5)),
    ("--rtol", ["--target", "0.5", "--rtol", "0.2"], TRAIN_TARGET, kw("rtol", 0.2)),
    ("--out", ["--out", "{tmp}/t.npz", "--epochs", "1", "--neurons", "2"], None, "file:t.npz"),
    ("--log", ["--log", "{tmp}/t.json", "--epochs", "1", "--neurons", "2"], None, "file:t.json"),
    ("--quiet", ["--quiet", "--epochs", "1", "--neurons", "2"], None, "quiet"),
    ("--debug", ["--debug", "--lr", "0.5"], TRAIN_TARGET, "debug"),
]
DEMO = [
    ("--out", ["--out", "{tmp}/demo"], "run_demo", "file:demo/demo.json"),
    ("--images", ["--images", "2"], "run_demo", kw("n_images", 2)),
    ("--patterns", ["--patterns", "20"], "run_demo", kw("n_patterns", 20)),
    ("--seed", ["--seed", "3"], "run_demo", kw("seed", 3)),
    ("--debug", ["--debug", "--seed", "3"], "run_demo", "debug"),
]
BENCH = [
    ("name", [], "run_benchmark", arg(0, "ablation")),
    ("--out", ["--out", "{tmp}/b"], "run_benchmark", "file:b/ablation.md"),
    ("--size", ["--size", "tiny"], "run_benchmark", kw("size", "tiny")),
    ("--seed", ["--seed", "3"], "run_benchmark", kw("seed", 3)),
    ("--quiet", ["--quiet"], "run_benchmark", kw("progress", False)),
    ("--debug", ["--debug", "--seed", "3"], "run_benchmark", "debug"),
    (
        "--dask",
        ["--dask", "tcp://127.0.0.1:1"],
        "run_benchmark",
        kw("scheduler", "tcp://127.0.0.1:1"),
    ),
    # certify only (tests/test_bench_certify.py: it reaches run_benchmark as config=)
    ("--config", ["--config", "quick"], "check_config", arg(0, "quick")),
]
TABLE = {"solve": SOLVE, "certify": CERTIFY, "path": PATH, "train": TRAIN}
EXPLAIN = [
    ("weights", [], "load_network", lambda a, k: str(a[0]).endswith("net_spec.npz")),
    *DATA,
    ("--offset", ["--offset", "2"], "load_dataset", kw("offset", 2)),
    ("--clusters", ["--clusters", "3"], "explain", kw("n_clusters", 3)),
    (
        "--filters",
        ["--filter-plot", "{tmp}/f.png", "--filters", "3"],
        "plot_filters",
        kw("n_show", 3),
    ),
    ("--show", ["--cluster-plot", "{tmp}/c.png", "--show", "2"], "plot_clusters", kw("n_show", 2)),
    ("--out", ["--out", "{tmp}/e.json"], None, "file:e.json"),
    ("--cluster-plot", ["--cluster-plot", "{tmp}/c.png"], None, "file:c.png"),
    ("--filter-plot", ["--filter-plot", "{tmp}/f.svg"], None, "file:f.svg"),
    ("--quiet", ["--quiet"], None, "quiet"),
    ("--debug", ["--debug", "--clusters", "3"], "explain", "debug"),
]
TABLE |= {"demo": DEMO, "bench": BENCH, "explain": EXPLAIN}


def cfg(name, value):
    """The ColorizeConfig handed to run_colorization has ``name == value``."""
    return lambda a, k: getattr(a[0], name) == value


COLORIZE_FAST = ["--epochs", "1", "--patterns", "2", "--crops", "1", "--size", "8"]
COLORIZE_FAST += ["--neurons", "2"]
COLORIZE = [
    ("--out", ["--out", "{tmp}/c", *COLORIZE_FAST], None, "file:c/colorize.png"),
    ("--crops", ["--crops", "3"], "run_colorization", cfg("crops_per_image", 3)),
    ("--size", ["--size", "12"], "run_colorization", cfg("size", 12)),
    ("--stride", ["--stride", "1"], "run_colorization", cfg("stride", 1)),
    ("--seed", ["--seed", "3"], "run_colorization", cfg("seed", 3)),
    ("--kernel", ["--kernel", "5"], "run_colorization", cfg("kernel", 5)),
    ("--patterns", ["--patterns", "7"], "run_colorization", cfg("patterns", 7)),
    ("--beta", ["--beta", "0.5"], "run_colorization", cfg("beta", 0.5)),
    ("--gamma", ["--gamma", "0"], "run_colorization", cfg("gamma", 0.0)),
    ("--neurons", ["--neurons", "5"], "run_colorization", cfg("neurons", 5)),
    ("--epochs", ["--epochs", "3"], "run_colorization", cfg("epochs", 3)),
    ("--lr", ["--lr", "0.5"], "run_colorization", cfg("lr", 0.5)),
    ("--quiet", ["--quiet"], "run_colorization", kw("verbose", False)),
    ("--debug", ["--debug", "--seed", "3"], "run_colorization", "debug"),
]
TABLE |= {"colorize": COLORIZE}
CASES = [(cmd, *case) for cmd, cases in TABLE.items() for case in cases]


class Stop(Exception):
    """Raised by a spy to end the run once the call is recorded."""


def _spy(monkeypatch, name, calls, stop=True):
    """Record calls of ``name`` wherever the CLI looks it up; stop the run there."""
    owners = [importlib.import_module(f"cvxcnn.cli.{m}") for m in CLI_MODULES]
    owners += [importlib.import_module(m) for m in LIBRARY_MODULES]
    for owner in owners:
        real = getattr(owner, name, None)
        if real is None:
            continue

        def spy(*a, _real=real, **k):
            calls.append((a, k))
            if stop:
                raise Stop
            return _real(*a, **k)

        monkeypatch.setattr(owner, name, spy)
    for act in ACTIVATIONS.values():  # the activations hold their sampler/enumerator
        for slot in ("sampler", "enumerator"):
            real = getattr(type(act), slot)
            if getattr(real, "__name__", None) == name:

                def spy(*a, _real=real, **k):
                    calls.append((a, k))
                    if stop:
                        raise Stop
                    return _real(*a, **k)

                monkeypatch.setattr(type(act), slot, staticmethod(spy))


def _fake_outputs(monkeypatch):
    import cvxcnn.bench
    import cvxcnn.demo

    def demo(out, **kwargs):
        (out / "demo.json").write_text("{}")
        return 0

    def bench(name, out_dir, **kwargs):
        (out_dir / f"{name}.md").write_text("#\n")
        return {}

    monkeypatch.setattr(cvxcnn.demo, "run_demo", demo)
    monkeypatch.setattr(cvxcnn.bench, "run_benchmark", bench)


@pytest.mark.parametrize(
    ("command", "flag", "extra", "target", "check"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES]
)
def test_flag_reaches_the_code(command, flag, extra, target, check, tmp_path, monkeypatch, capsys):
    if command in ("train", "colorize"):
        pytest.importorskip("torch")
    weights = tmp_path / "net.npz"
    save_network(weights, ReluNetwork(np_ones((2, 3)), np_ones(2)))
    with_spec = tmp_path / "net_spec.npz"
    spec = ProblemSpec("relu", kernel_size=3, spatial_dims=1, channels=1, beta=0.1)
    save_network(with_spec, ReluNetwork(np_ones((2, 3)), np_ones(2)), spec)
    argv = [a.format(w=weights, ws=with_spec, tmp=tmp_path) for a in [*BASE[command], *extra]]
    if isinstance(check, str) and check.startswith("file:"):
        _fake_outputs(monkeypatch)
        if command not in ("demo", "bench", "colorize"):
            argv += _fast(command)
        assert main(argv) == 0, capsys.readouterr().err
        assert (tmp_path / check[5:]).exists()
        return
    if check == "quiet":
        argv += _fast(command)
        if command != "bench":
            assert main(argv) == 0, capsys.readouterr().err
            assert capsys.readouterr().out == ""
            return
    calls: list = []
    _spy(monkeypatch, target, calls)
    status = main(argv)
    err = capsys.readouterr().err
    assert calls, f"{target} was never called ({status}: {err})"
    if check == "debug":
        assert "Traceback" in err and "Stop" in err
    else:
        assert check(*calls[-1]), calls[-1]


def _fast(command):
    return {
        "solve": ["--patterns", "10"],
        "certify": [],
        "path": ["--patterns", "10"],
        "train": ["--epochs", "1", "--neurons", "2", "--device", "cpu"],
    }.get(command, [])


def np_ones(shape):
    import numpy as np

    return np.ones(shape)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    sub = argparse.ArgumentParser().add_subparsers()
    return {name: module.add_parser(sub) for name, module in app.COMMANDS.items()}


def test_every_flag_has_a_case():
    for name, parser in _subparsers().items():
        flags = set()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags.add(action.option_strings[0] if action.option_strings else action.dest)
        assert flags == {case[0] for case in TABLE[name]}, name


def test_every_resolved_argument_is_echoed_in_the_json(tmp_path):
    out = tmp_path / "r.json"
    argv = [*BASE["solve"], "--patterns", "10", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    config = json.loads(out.read_text())["config"]
    dests = {a.dest for a in _subparsers()["solve"]._actions if a.dest != "help"}
    assert set(config) == dests
    assert all(
        value is not None
        for key, value in config.items()
        if key in app.solve.DEFAULTS and app.solve.DEFAULTS[key] is not None
    )
