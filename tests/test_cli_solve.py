"""``cvxcnn solve``: JSON keys, exit codes, user data, ReLU, colgen and soft-threshold modes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvxcnn.cli import main
from cvxcnn.network_io import load_network

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
    "config",
    "warnings",
}
TINY = ["--data", "synthetic1d", "--images", "1", "--size", "12", "--kernel", "2"]


def test_solve_exact_writes_json_and_weights(tmp_path, capsys):
    out, weights = tmp_path / "r.json", tmp_path / "net.npz"
    argv = ["solve", *TINY, "--beta", "0.02", "--patterns", "exact", "--out", str(out)]
    argv += ["--save-weights", str(weights)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert REQUIRED <= result.keys()
    assert result["status"] == "optimal" and result["exact_arrangement"] is True
    assert result["primal_objective"] == pytest.approx(result["objective"], rel=1e-6)
    assert result["compile_seconds"] > 0 and result["solve_seconds"] > 0
    assert result["config"]["patterns"] == "exact" and result["config"]["beta"] == 0.02
    assert result["noise"] == 0.25 and result["warnings"] == []
    net = load_network(weights).network
    assert net.n_neurons == result["neurons"] and net.d == result["d"] == 2
    assert "global optimum" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz", "r.json"]  # no temp files


def test_solve_sampled_digits_is_an_upper_bound(tmp_path):
    out = tmp_path / "r.json"
    argv = ["solve", "--data", "digits", "--images", "1", "--patterns", "20", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["exact_arrangement"] is False
    assert result["patterns"] <= 20 and result["n"] == 64 and result["d"] == 9
    assert result["psnr_convex"] > result["psnr_noisy"]


def test_user_npz_data_reports_unknown_noise(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.random((2, 6, 6))
    path = tmp_path / "mine.npz"
    np.savez(path, noisy=clean + 0.1 * rng.standard_normal(clean.shape), clean=clean)
    out = tmp_path / "r.json"
    argv = ["solve", "--data", str(path), "--patterns", "10", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 72 and result["noise"] is None and result["noise_type"] == "unknown"


def test_multichannel_npz_solves_and_reports_psnr(tmp_path):
    rng = np.random.default_rng(1)
    clean = rng.random((2, 5, 5))
    noisy = np.stack([clean, clean], axis=1) + 0.1 * rng.standard_normal((2, 2, 5, 5))
    path = tmp_path / "rgb.npz"
    np.savez(path, noisy=noisy, clean=clean)
    out = tmp_path / "r.json"
    argv = ["solve", "--data", str(path), "--patterns", "10", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["d"] == 18 and result["psnr_noisy"] is None and result["psnr_convex"] > 0
    # --residual needs one channel: refused before any solve
    assert main([*argv, "--residual"]) == 2


def test_nonoptimal_solve_exits_1_and_still_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["solve", "--images", "1", "--patterns", "30", "--solver-option", "max_iter=2"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 1
    result = json.loads(out.read_text())
    assert result["success"] is False and result["config"]["solver_option"] == [["max_iter", 2]]
    err = capsys.readouterr().err.strip()
    assert err.startswith("cvxcnn: failed:") and "\n" not in err


def test_solver_warnings_go_to_the_json_not_stderr(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["solve", *TINY, "--patterns", "10", "--solver", "scs", "--quiet"]
    argv += ["--solver-option", "max_iters=5", "--out", str(out)]
    main(argv)
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "Traceback" not in captured.err
    result = json.loads(out.read_text())
    assert isinstance(result["warnings"], list)


def test_solve_facets_off_and_on_agree(tmp_path, capsys):
    base = ["solve", "--data", "digits", "--images", "1", "--patterns", "30", "--beta", "0.05"]
    results = {}
    for mode in ("off", "hull"):
        out = tmp_path / f"{mode}.json"
        assert main([*base, "--facets", mode, "--jobs", "1", "--out", str(out)]) == 0
        results[mode] = json.loads(out.read_text())
    assert "sign rows" in capsys.readouterr().out
    off, auto = results["off"], results["hull"]
    assert auto["objective"] == pytest.approx(off["objective"], rel=1e-6)
    assert auto["constraint_rows"] < off["constraint_rows"] == off["constraint_rows_full"]
    assert auto["facets"]["method"] == "hull" and off["facets"] == {}


def test_solve_canon_backend_and_direct_backend(tmp_path):
    outs = {}
    modes = (("scipy", ["--canon-backend", "SCIPY"]), ("direct", ["--backend", "direct"]))
    for name, extra in modes:
        outs[name] = tmp_path / f"{name}.json"
        argv = ["solve", *TINY, "--patterns", "20", "--quiet", *extra, "--out", str(outs[name])]
        assert main(argv) == 0
    a, b = (json.loads(p.read_text()) for p in outs.values())
    assert a["objective"] == pytest.approx(b["objective"], rel=1e-5)
    assert a["config"]["canon_backend"] == "SCIPY" and b["config"]["backend"] == "direct"


def test_solve_soft_threshold_paper_form_reports_the_bracket(tmp_path):
    out = tmp_path / "st.json"
    argv = ["solve", "--activation", "st", "--threshold", "0.1", "--st-form", "paper"]
    argv += ["--data", "synthetic1d", "--images", "1", "--size", "6", "--kernel", "2"]
    argv += ["--beta", "0.01", "--patterns", "exact", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert res["activation"] == "st" and res["st_form"] == "paper"
    assert res["bracket_lower"] <= res["bracket_upper"]
    assert res["exact_arrangement"] is False  # the paper program is never called exact
    assert res["paper_objective"] == res["objective"] and "learnable_objective" in res


def test_solve_soft_threshold_exact_form_facets_and_weights(tmp_path):
    outs = {}
    weights = tmp_path / "st.npz"
    small = ["--data", "synthetic1d", "--images", "1", "--size", "6", "--kernel", "2"]
    for facets in ("off", "hull"):
        outs[facets] = tmp_path / f"{facets}.json"
        argv = ["solve", "--activation", "st", *small, "--beta", "0.02", "--patterns", "exact"]
        argv += ["--quiet", "--facets", facets, "--out", str(outs[facets])]
        if facets == "off":
            argv += ["--threshold", "0.1"]
        else:
            argv += ["--save-weights", str(weights)]
        assert main(argv) == 0
    off, hull = (json.loads(p.read_text()) for p in outs.values())
    assert off["exact_arrangement"] is True and off["bracket_lower_kind"] == "certified"
    assert hull["objective"] == pytest.approx(off["objective"], rel=1e-5)
    assert hull["facets"].get("method") == "hull" and not off["facets"]
    assert off["bracket_lower"] <= off["objective"] <= off["bracket_upper"]  # a dual bound
    assert load_network(weights).network.n_neurons == hull["neurons"]


def test_solve_soft_threshold_learnable(tmp_path):
    out = tmp_path / "st.json"
    argv = ["solve", "--activation", "st", *TINY, "--beta", "0.02", "--patterns", "30"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert "bracket_lower" not in res and res["threshold"] is None
    assert res["triples_exact"] is False


def test_solve_colgen_solver_error_still_writes_json(tmp_path, monkeypatch, capsys):
    import cvxcnn.cli.solve as solve_module

    def failing(*args, **kwargs):
        raise RuntimeError("column generation failed: the restricted program was not solved")

    monkeypatch.setattr(solve_module, "solve_colgen", failing)
    out = tmp_path / "cg.json"
    argv = ["solve", *TINY, "--method", "colgen", "--quiet", "--out", str(out)]
    assert main(argv) == 1
    res = json.loads(out.read_text())
    assert res["status"] == "solver_error" and res["colgen_converged"] is False
    assert capsys.readouterr().err.count("\n") == 1


def test_solve_colgen_never_claims_convergence_from_failed_solves(tmp_path, capsys):
    out = tmp_path / "cg.json"
    argv = ["solve", *TINY, "--beta", "0.01", "--method", "colgen", "--quiet"]
    argv += ["--solver-option", "max_iter=1", "--out", str(out)]
    assert main(argv) == 1
    res = json.loads(out.read_text())
    assert res["success"] is False and res["colgen_converged"] is False


def test_console_script_entry_point_is_main():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'cvxcnn = "cvxcnn.cli:main"' in text


def test_solve_colgen_exit_status_follows_the_certificate(tmp_path):
    """Exit 0 iff the restricted solve was optimal or the certified gap is within tol."""
    out = tmp_path / "cg.json"
    argv = ["solve", *TINY, "--beta", "0.01", "--method", "colgen", "--quiet", "--out", str(out)]
    code = main(argv)
    res = json.loads(out.read_text())
    proven = res["certificate"] == "certified" and res["relative_gap"] <= 1e-6
    assert res["colgen_converged"] is True or not proven
    assert code == (0 if res["success"] or proven else 1)
    assert proven  # a tiny exact problem: colgen certifies it
