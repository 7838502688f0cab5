"""Bad input over every subcommand: exit status, ONE line on stderr, no traceback, no files.

Each case runs in-process (``main(argv)``); ``{tmp}`` is a folder holding
only the input files below, and after the run it must hold nothing else.
Ctrl-C runs in a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cvxcnn.cli import main
from cvxcnn.network_io import save_network
from cvxcnn.networks import ReluNetwork

NPZ = ["--data", "{tmp}/d.npz"]
W = ["--weights", "{tmp}/net.npz"]
CASES = [
    # solve: values
    (["solve", "--beta", "0"], "--beta"),
    (["solve", "--beta", "-1"], "--beta"),
    (["solve", "--patterns", "many"], "--patterns"),
    (["solve", "--patterns", "0"], "--patterns"),
    (["solve", "--padding", "-1"], "--padding"),
    (["solve", "--data-directed", "1.5"], "--data-directed"),
    (["solve", "--images", "0"], "--images"),
    (["solve", "--jobs", "0"], "--jobs"),
    (["solve", "--no-such-flag"], "unrecognized"),
    (["solve", "--loss", "hinge"], "--loss"),
    # solve: data and geometry
    (["solve", "--data", "nope"], "--data"),
    (["solve", "--data", "{tmp}/missing.npz"], "missing.npz"),
    (["solve", "--data", "{tmp}/corrupt.npz"], "--data"),
    (["solve", "--data", "{tmp}/wrongkeys.npz"], "--data"),
    (["solve", *NPZ, "--noise", "0.1"], "--noise"),
    (["solve", *NPZ, "--size", "4"], "--size"),
    (["solve", *NPZ, "--images", "9"], "--data"),
    (["solve", "--data", "{tmp}/rgb.npz", "--residual"], "--residual"),
    (["solve", "--kernel", "9", "--images", "1"], "--kernel"),
    # solve: solver
    (["solve", "--solver", "nosuchsolver"], "--solver"),
    (["solve", "--solver", "osqp"], "--solver"),
    (["solve", "--solver-option", "oops"], "KEY=VALUE"),
    (["solve", "--solver-option", "nosuch=1"], "--solver-option"),
    (["solve", "--solver-option", "max_iter=abc"], "--solver-option"),
    (["solve", "--backend", "direct", "--solver", "scs"], "--backend"),
    (["solve", "--backend", "direct", "--canon-backend", "CPP"], "--canon-backend"),
    # solve: sizes and modes
    (["solve", "--patterns", "exact", "--max-cells", "10", "--images", "1"], "--patterns"),
    # (--certify exact beyond --max-cells uses the mixed-integer oracle: tests/test_mip_oracle.py)
    (["solve", "--oracle-time-limit", "5"], "--oracle-time-limit"),
    (["solve", "--certify-patterns", "10"], "--certify-patterns"),
    (["solve", "--certify", "sampled", "--certify-patterns", "0"], "--certify-patterns"),
    (["solve", "--huber-delta", "2"], "--huber-delta"),
    (["solve", "--threshold", "0.1"], "--threshold"),
    (["solve", "--initial-patterns", "5"], "--initial-patterns"),
    (["solve", "--method", "colgen", "--patterns", "10"], "--patterns"),
    (["solve", "--method", "colgen", "--certify", "sampled"], "--certify"),
    (["solve", "--method", "colgen", "--jobs", "2"], "--jobs"),
    (["solve", "--method", "colgen", "--facets", "hull"], "--facets"),
    (["solve", "--activation", "st", "--backend", "direct"], "--backend"),
    (["solve", "--activation", "st", "--method", "colgen", "--threshold", "0.1"], "--threshold"),
    (["solve", "--activation", "st", "--certify", "exact"], "--certify"),
    (["solve", "--activation", "st", "--st-form", "paper"], "--st-form"),
    (["solve", "--activation", "st", "--facets", "adjacency"], "--facets"),
    (["solve", "--activation", "st", "--st-restarts", "2"], "--st-restarts"),
    # solve: outputs
    (["solve", "--out", "{tmp}"], "--out"),
    (["solve", "--out", "{tmp}/nodir/r.json"], "--out"),
    (["solve", "--save-weights", "{tmp}/net"], "--save-weights"),
    (["solve", "--save-weights", "{tmp}"], "--save-weights"),
    (["solve", "--out", "{tmp}/x.npz", "--save-weights", "{tmp}/x.npz"], "--save-weights"),
    # certify
    (["certify"], "--weights"),
    (["certify", "--weights", "{tmp}/missing.npz"], "--weights"),
    (["certify", "--weights", "{tmp}/corrupt.npz", "--beta", "1"], "--weights"),
    (["certify", "--weights", "{tmp}/wrongkeys.npz", "--beta", "1"], "--weights"),
    (["certify", *W], "--beta"),
    (["certify", *W, "--beta", "0.1", "--kernel", "2"], "--weights"),
    (["certify", *W, "--beta", "0.1", "--certify", "exact", "--patterns", "9"], "--patterns"),
    (["certify", *W, "--beta", "0.1", "--out", "{tmp}"], "--out"),
    (
        ["certify", *W, "--beta", "0.1", "--certify", "sampled", "--oracle-time-limit", "5"],
        "--oracle-time-limit",
    ),
    # path
    (["path", "--betas", "0"], "--betas"),
    (["path", "--betas", "abc"], "--betas"),
    (["path", "--beta", "0.1"], "unrecognized"),
    (["path", "--plot", "{tmp}/p"], "--plot"),
    (["path", "--plot", "{tmp}/p.jpg"], "--plot"),
    (["path", "--out", "{tmp}/nodir/p.json"], "--out"),
    (["path", "--tol", "-1"], "--tol"),
    (["path", "--solver", "osqp"], "--solver"),
    # train
    (["train", "--batch-size", "-1"], "--batch-size"),
    (["train", "--lr", "0"], "--lr"),
    (["train", "--optimizer", "nope"], "--optimizer"),
    (["train", "--out", "{tmp}/net"], "--out"),
    (["train", "--log", "{tmp}/log.txt"], "--log"),
    (["train", "--threshold", "0.1"], "--threshold"),
    (["train", "--learn-threshold"], "--learn-threshold"),
    (["train", "--init-std", "0.1"], "--init-std"),
    (["train", "--rtol", "0.1"], "--rtol"),
    # demo
    (["demo", "--images", "0"], "--images"),
    (["demo", "--patterns", "-3"], "--patterns"),
    (["demo", "--out", "{tmp}/d.npz"], "--out"),
    # bench
    (["bench", "nope"], "nope"),
    (["bench", "mri", "--seed", "-1"], "--seed"),
    (["bench", "mri", "--size", "huge"], "--size"),
    (["bench", "mri", "--out", "{tmp}/d.npz"], "--out"),
    # explain
    (["explain"], "weights"),
    (["explain", "{tmp}/missing.npz"], "weights"),
    (["explain", "{tmp}/corrupt.npz"], "weights"),
    (["explain", "{tmp}/net.npz"], "weights"),  # no problem recorded
    (["explain", "{tmp}/wrongkeys.json"], "weights"),
    (["explain", "{tmp}/net.npz", "--clusters", "0"], "--clusters"),
    (["explain", "{tmp}/net.npz", "--filters", "3"], "--filters"),
    (["explain", "{tmp}/net.npz", "--show", "3"], "--show"),
    (["explain", "{tmp}/net.npz", "--out", "{tmp}/e.txt"], "--out"),
    (["explain", "{tmp}/net.npz", "--cluster-plot", "{tmp}/c.jpg"], "--cluster-plot"),
    # colorize
    (["colorize", "--kernel", "0"], "--kernel"),
    (["colorize", "--gamma", "-1"], "--gamma"),
    (["colorize", "--beta", "0"], "--beta"),
    (["colorize", "--size", "33"], "--size"),
    (["colorize", "--out", "{tmp}/d.npz"], "--out"),
    ([], "COMMAND"),
]


def _inputs(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    clean = rng.random((2, 6, 6))
    np.savez(tmp / "d.npz", noisy=clean + 0.1, clean=clean)
    np.savez(tmp / "rgb.npz", noisy=np.stack([clean, clean], axis=1), clean=clean)
    np.savez(tmp / "wrongkeys.npz", a=clean)
    (tmp / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    (tmp / "wrongkeys.json").write_text('{"status": "optimal"}')
    save_network(tmp / "net.npz", ReluNetwork(rng.standard_normal((3, 9)), rng.standard_normal(3)))


def _files(tmp: Path) -> set[str]:
    return {str(p.relative_to(tmp)) for p in tmp.rglob("*")}


def _check(status: int, err: str, out: str, expected: int = 2) -> None:
    assert status == expected, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(("argv", "names"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_exits_2_with_one_line(argv, names, tmp_path, capsys):
    _inputs(tmp_path)
    before = _files(tmp_path)
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    captured = capsys.readouterr()
    _check(status, captured.err, captured.out)
    assert captured.err.startswith("cvxcnn: error:")
    assert names in captured.err
    assert _files(tmp_path) == before


def test_there_are_enough_cases_over_every_subcommand():
    commands = {argv[0] for argv, _ in CASES if argv}
    assert commands == {"solve", "certify", "path", "train", "demo", "bench", "explain", "colorize"}
    assert len(CASES) >= 40


def test_memory_error_is_exit_2_with_a_hint(monkeypatch, tmp_path, capsys):
    import cvxcnn.cli.solve as solve_module

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(solve_module, "fit_relu", boom)
    out = tmp_path / "r.json"
    assert main(["solve", "--images", "1", "--patterns", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    _check(2, err, "")
    assert "--patterns" in err and "colgen" in err and not out.exists()


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    import cvxcnn.cli.solve as solve_module

    def bug(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(solve_module, "fit_relu", bug)
    argv = ["solve", "--images", "1", "--patterns", "5", "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    _check(1, err, "", expected=1)
    assert "internal error" in err and "--debug" in err
    assert main([*argv, "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unwritable_output_folder(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["solve", "--out", str(locked / "r.json")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line_and_no_files(tmp_path):
    out = tmp_path / "p.json"
    argv = ["path", "--data", "digits", "--images", "2", "--patterns", "300"]
    argv += ["--betas", *[str(b) for b in np.logspace(0, -3, 40)], "--quiet", "--out", str(out)]
    env = {"PYTHONPATH": str(Path(__file__).parents[1]), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvxcnn.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.count("\n") == 1 and "interrupted" in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
