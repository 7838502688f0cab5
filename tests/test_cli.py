"""The command line: JSON keys, exit codes, user data, the demo at a tiny size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvxcnn.cli import main
from cvxcnn.networks import load_network

REQUIRED = {
    "status",
    "solver",
    "objective",
    "primal_objective",
    "patterns",
    "active_patterns",
    "neurons",
    "compile_seconds",
    "solve_seconds",
    "exact_arrangement",
    "beta",
    "n",
    "d",
}


def test_solve_exact_writes_json_and_weights(tmp_path, capsys):
    out, weights = tmp_path / "r.json", tmp_path / "net.npz"
    argv = ["solve", "--data", "synthetic1d", "--images", "1", "--size", "12", "--kernel", "2"]
    argv += ["--beta", "0.02", "--patterns", "exact", "--out", str(out)]
    argv += ["--save-weights", str(weights)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert REQUIRED <= result.keys()
    assert result["status"] == "optimal" and result["exact_arrangement"] is True
    assert result["primal_objective"] == pytest.approx(result["objective"], rel=1e-6)
    assert result["compile_seconds"] > 0 and result["solve_seconds"] > 0
    net = load_network(weights)
    assert net.n_neurons == result["neurons"] and net.d == result["d"] == 2
    assert "global optimum" in capsys.readouterr().out


def test_solve_sampled_digits_is_an_upper_bound(tmp_path):
    out = tmp_path / "r.json"
    argv = ["solve", "--data", "digits", "--images", "1", "--patterns", "20", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["exact_arrangement"] is False
    assert result["patterns"] <= 20 and result["n"] == 64 and result["d"] == 9
    assert result["psnr_convex"] > result["psnr_noisy"]


def test_user_npz_data(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.random((2, 6, 6))
    path = tmp_path / "mine.npz"
    np.savez(path, noisy=clean + 0.1 * rng.standard_normal(clean.shape), clean=clean)
    out = tmp_path / "r.json"
    argv = ["solve", "--data", str(path), "--patterns", "10", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["n"] == 72


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["solve", "--beta", "0"], "beta"),
        (["solve", "--beta", "-1"], "beta"),
        (["solve", "--data", "nope"], "unknown dataset"),
        (["solve", "--data", "missing.npz"], "missing.npz"),
        (["solve", "--kernel", "9"], "kernel_size"),
        (["solve", "--patterns", "exact", "--max-cells", "10"], "max_cells"),
        (["solve", "--solver", "nosuchsolver", "--images", "1"], "not installed"),
        (["solve", "--solver-option", "oops"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cvxcnn: error:") and message in err
    assert "\n" not in err


def test_bad_argument_type_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["solve", "--patterns", "many"])
    assert exc.value.code == 2
    assert "--patterns" in capsys.readouterr().err


def test_nonoptimal_solve_exits_1(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["solve", "--images", "1", "--patterns", "30", "--solver-option", "max_iter=2"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 1
    assert json.loads(out.read_text())["success"] is False
    assert "warning" in capsys.readouterr().err


def test_demo_runs_at_tiny_size(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--images", "2", "--patterns", "20"]) == 0
    summary = json.loads((tmp_path / "demo.json").read_text())
    assert summary["convex"]["status"] == "optimal"
    assert "test PSNR" in capsys.readouterr().out


def test_solve_soft_threshold_paper_form_reports_the_bracket(tmp_path):
    out = tmp_path / "st.json"
    argv = ["solve", "--activation", "st", "--threshold", "0.1", "--st-form", "paper"]
    argv += ["--data", "synthetic1d", "--images", "1", "--size", "8", "--kernel", "2"]
    argv += ["--beta", "0.01", "--patterns", "exact", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert res["activation"] == "st" and res["st_form"] == "paper"
    assert res["bracket_lower"] <= res["bracket_upper"]
    assert res["exact_arrangement"] is False  # the paper program is never called exact


def test_st_with_colgen_is_refused(capsys):
    assert main(["solve", "--activation", "st", "--method", "colgen"]) == 2
    assert "relu" in capsys.readouterr().err


def test_certify_auto_falls_back_to_an_estimate_on_digits(tmp_path, capsys):
    from cvxcnn.networks import ReluNetwork, save_network

    weights, out = tmp_path / "net.npz", tmp_path / "c.json"
    rng = np.random.default_rng(0)
    save_network(weights, ReluNetwork(rng.standard_normal((4, 9)), rng.standard_normal(4)))
    argv = ["certify", "--weights", str(weights), "--data", "digits", "--images", "1"]
    assert main([*argv, "--beta", "0.1", "--patterns", "100", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["certificate"] == "estimated" and res["oracle"].startswith("sampled")
    assert "ESTIMATE" in capsys.readouterr().out
    assert main([*argv, "--beta", "0.1", "--certify", "exact"]) == 2  # refused, bound named


def test_solve_facets_off_and_on_agree(tmp_path, capsys):
    base = ["solve", "--data", "digits", "--images", "1", "--patterns", "30", "--beta", "0.05"]
    results = {}
    for mode in ("off", "hull"):
        out = tmp_path / f"{mode}.json"
        assert main([*base, "--facets", mode, "--out", str(out)]) == 0
        results[mode] = json.loads(out.read_text())
    assert "sign rows" in capsys.readouterr().out
    off, auto = results["off"], results["hull"]
    assert auto["objective"] == pytest.approx(off["objective"], rel=1e-6)
    assert auto["constraint_rows"] < off["constraint_rows"] == off["constraint_rows_full"]
    assert auto["facets"]["method"] == "hull" and off["facets"] == {}


def test_path_writes_json_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "path.json", tmp_path / "path.png"
    argv = ["path", "--data", "digits", "--images", "1", "--patterns", "40"]
    argv += ["--betas", "0.5", "0.05", "--out", str(out), "--plot", str(plot)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert [p["beta"] for p in result["points"]] == [0.5, 0.05]
    assert all(p["converged"] for p in result["points"])
    assert plot.stat().st_size > 1000
    assert "beta 0.05" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: every beta must be > 0
        main(["path", "--data", "digits", "--images", "1", "--betas", "0"])
    assert "must be a finite number > 0" in capsys.readouterr().err
