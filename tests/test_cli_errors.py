"""Bad input over every subcommand: exit status, ONE line on stderr, no traceback, no files.

Each case runs in-process (``main(argv)``); ``{tmp}`` is a folder holding
only the input files below, and after the run it must hold nothing else.
Ctrl-C runs in a subprocess.
"""

from __future__ import annotations

import os
import shlex
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

#: Bad input per subcommand: ``{arguments after the subcommand: text the one stderr line
#: must contain}``, the arguments as typed on a command line (``{tmp}``: the input folder).
BAD_INPUT = {
    "solve": {
        # values
        "--beta 0": "--beta",
        "--beta -1": "--beta",
        "--patterns many": "--patterns",
        "--patterns 0": "--patterns",
        "--padding -1": "--padding",
        "--data-directed 1.5": "--data-directed",
        "--images 0": "--images",
        "--jobs 0": "--jobs",
        "--no-such-flag": "unrecognized",
        "--loss hinge": "--loss",
        # data and geometry
        "--data nope": "--data",
        "--data {tmp}/missing.npz": "missing.npz",
        "--data {tmp}/corrupt.npz": "--data",
        "--data {tmp}/wrongkeys.npz": "--data",
        "--data {tmp}/d.npz --noise 0.1": "--noise",
        "--data {tmp}/d.npz --size 4": "--size",
        "--data {tmp}/d.npz --images 9": "--data",
        "--data {tmp}/rgb.npz --residual": "--residual",
        "--kernel 9 --images 1": "--kernel",
        # solver
        "--solver nosuchsolver": "--solver",
        "--solver osqp": "--solver",
        "--solver-option oops": "KEY=VALUE",
        "--solver-option nosuch=1": "--solver-option",
        "--solver-option max_iter=abc": "--solver-option",
        "--backend direct --solver scs": "--backend",
        "--backend direct --canon-backend CPP": "--canon-backend",
        # sizes and modes
        "--patterns exact --max-cells 10 --images 1": "--patterns",
        # (--certify exact beyond --max-cells uses the mixed-integer oracle:
        # tests/test_mip_oracle.py)
        "--oracle-time-limit 5": "--oracle-time-limit",
        "--certify-patterns 10": "--certify-patterns",
        "--certify sampled --certify-patterns 0": "--certify-patterns",
        "--huber-delta 2": "--huber-delta",
        "--threshold 0.1": "--threshold",
        "--initial-patterns 5": "--initial-patterns",
        "--method colgen --patterns 10": "--patterns",
        "--method colgen --certify sampled": "--certify",
        "--method colgen --jobs 2": "--jobs",
        "--method colgen --facets hull": "--facets",
        "--activation st --backend direct": "--backend",
        "--activation st --method colgen --threshold 0.1": "--threshold",
        "--activation st --certify exact": "--certify",
        "--activation st --st-form paper": "--st-form",
        "--activation st --facets adjacency": "--facets",
        "--activation st --st-restarts 2": "--st-restarts",
        # outputs
        "--out {tmp}": "--out",
        "--out {tmp}/nodir/r.json": "--out",
        "--save-weights {tmp}/net": "--save-weights",
        "--save-weights {tmp}": "--save-weights",
        "--out {tmp}/x.npz --save-weights {tmp}/x.npz": "--save-weights",
    },
    "certify": {
        "": "--weights",
        "--weights {tmp}/missing.npz": "--weights",
        "--weights {tmp}/corrupt.npz --beta 1": "--weights",
        "--weights {tmp}/wrongkeys.npz --beta 1": "--weights",
        "--weights {tmp}/net.npz": "--beta",
        "--weights {tmp}/net.npz --beta 0.1 --kernel 2": "--weights",
        "--weights {tmp}/net.npz --beta 0.1 --certify exact --patterns 9": "--patterns",
        "--weights {tmp}/net.npz --beta 0.1 --out {tmp}": "--out",
        "--weights {tmp}/net.npz --beta 0.1 --certify sampled --oracle-time-limit 5": (
            "--oracle-time-limit"
        ),
    },
    "path": {
        "--betas 0": "--betas",
        "--betas abc": "--betas",
        "--beta 0.1": "unrecognized",
        "--plot {tmp}/p": "--plot",
        "--plot {tmp}/p.jpg": "--plot",
        "--out {tmp}/nodir/p.json": "--out",
        "--tol -1": "--tol",
        "--solver osqp": "--solver",
    },
    "train": {
        "--batch-size -1": "--batch-size",
        "--lr 0": "--lr",
        "--optimizer nope": "--optimizer",
        "--out {tmp}/net": "--out",
        "--log {tmp}/log.txt": "--log",
        "--threshold 0.1": "--threshold",
        "--learn-threshold": "--learn-threshold",
        "--init-std 0.1": "--init-std",
        "--rtol 0.1": "--rtol",
    },
    "demo": {
        "--images 0": "--images",
        "--patterns -3": "--patterns",
        "--out {tmp}/d.npz": "--out",
    },
    "bench": {
        "nope": "nope",
        "mri --seed -1": "--seed",
        "mri --size huge": "--size",
        "mri --out {tmp}/d.npz": "--out",
    },
    "explain": {
        "": "weights",
        "{tmp}/missing.npz": "weights",
        "{tmp}/corrupt.npz": "weights",
        "{tmp}/net.npz": "weights",  # no problem recorded
        "{tmp}/wrongkeys.json": "weights",
        "{tmp}/net.npz --clusters 0": "--clusters",
        "{tmp}/net.npz --filters 3": "--filters",
        "{tmp}/net.npz --show 3": "--show",
        "{tmp}/net.npz --out {tmp}/e.txt": "--out",
        "{tmp}/net.npz --cluster-plot {tmp}/c.jpg": "--cluster-plot",
    },
    "colorize": {
        "--kernel 0": "--kernel",
        "--gamma -1": "--gamma",
        "--beta 0": "--beta",
        "--size 33": "--size",
        "--out {tmp}/d.npz": "--out",
    },
}
CASES = [
    ([command, *shlex.split(line)], text)
    for command, cases in BAD_INPUT.items()
    for line, text in cases.items()
]
CASES.append(([], "COMMAND"))  # no subcommand at all


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
