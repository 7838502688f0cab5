"""``cvxcnn certify``, ``path``, ``train``, ``demo`` and ``bench``; lazy imports of the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cvxcnn.cli import main
from cvxcnn.network_io import load_network, save_network
from cvxcnn.networks import ReluNetwork

ROOT = Path(__file__).parents[1]


def test_certify_auto_falls_back_to_an_estimate_on_digits(tmp_path, capsys):
    weights, out = tmp_path / "net.npz", tmp_path / "c.json"
    rng = np.random.default_rng(0)
    save_network(weights, ReluNetwork(rng.standard_normal((4, 9)), rng.standard_normal(4)))
    argv = ["certify", "--weights", str(weights), "--data", "digits", "--images", "1"]
    assert main([*argv, "--beta", "0.1", "--patterns", "100", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["certificate"] == "estimated" and res["oracle"].startswith("sampled")
    assert res["config"]["data_directed"] == 0.1 and res["problem"]["kernel_size"] == [3, 3]
    assert "ESTIMATE" in capsys.readouterr().out
    # beyond --max-cells, exact means the mixed-integer oracle: certified (anytime), never refused
    exact = [*argv, "--beta", "0.1", "--certify", "exact", "--oracle-time-limit", "2"]
    assert main([*exact, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["certificate"] == "certified" and res["oracle"] in ("exact/mip", "exact/mip-scip")
    assert res["lower_bound"] <= res["upper_bound"]
    if not res["oracle_converged"]:
        assert "anytime" in capsys.readouterr().out


def test_solve_then_certify_reads_the_geometry_back(tmp_path):
    weights, cert = tmp_path / "net.npz", tmp_path / "cert.json"
    data = ["--data", "synthetic1d", "--images", "1", "--size", "10", "--seed", "2"]
    argv = ["solve", *data, "--kernel", "3", "--bias", "--beta", "0.05", "--patterns", "exact"]
    assert main([*argv, "--quiet", "--save-weights", str(weights)]) == 0
    assert main(["certify", "--weights", str(weights), *data, "--quiet", "--out", str(cert)]) == 0
    res = json.loads(cert.read_text())
    assert res["certificate"] == "certified" and res["relative_gap"] < 1e-4
    assert res["problem"]["bias"] is True and res["problem"]["beta"] == 0.05


def test_path_writes_json_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "path.json", tmp_path / "path.png"
    argv = ["path", "--data", "digits", "--images", "1", "--patterns", "40"]
    argv += ["--betas", "0.5", "0.05", "--out", str(out), "--plot", str(plot)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert [p["beta"] for p in result["points"]] == [0.5, 0.05]
    assert all(p["converged"] for p in result["points"])
    assert result["config"]["betas"] == [0.5, 0.05]
    assert plot.stat().st_size > 1000
    assert "beta 0.05" in capsys.readouterr().out
    assert main(["path", "--data", "digits", "--images", "1", "--betas", "0"]) == 2
    assert "--betas" in capsys.readouterr().err


def test_train_writes_weights_and_log(tmp_path, capsys):
    pytest.importorskip("torch")
    from cvxcnn.data import load_dataset
    from cvxcnn.networks import primal_objective
    from cvxcnn.problem import make_problem

    out, log = tmp_path / "net.npz", tmp_path / "train.json"
    argv = ["train", "--data", "synthetic1d", "--images", "2", "--size", "12", "--kernel", "3"]
    argv += ["--neurons", "8", "--epochs", "6", "--lr", "1e-2", "--beta", "0.01", "--bias"]
    argv += ["--residual", "--batch-size", "1", "--seed", "3", "--out", str(out)]
    argv += ["--log", str(log), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    assert capsys.readouterr().out == ""
    payload = json.loads(log.read_text())
    assert {"final_objective", "curve", "device", "settings", "psnr_trained", "config"} <= set(
        payload
    )
    assert payload["device"] == "cpu" and payload["epochs_run"] == 6
    assert len(payload["curve"]["objective"]) == len(payload["curve"]["seconds"]) == 7
    assert payload["settings"]["batch_size"] == 1 and payload["settings"]["residual"] is True
    net = load_network(out).network
    assert net.U.shape == (8, 4)
    data = load_dataset("synthetic1d", n_images=2, noise=0.25, random_state=3, size=12)
    problem = make_problem(data.noisy, data.clean, kernel_size=3, bias=True, residual=True)
    assert primal_objective(net, problem, 0.01) == pytest.approx(
        payload["final_objective"], rel=1e-14
    )


def test_train_soft_threshold_and_summary(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "st.npz"
    argv = ["train", "--data", "digits", "--images", "1", "--activation", "st"]
    argv += ["--threshold", "0.05", "--neurons", "4", "--epochs", "2", "--dtype", "float32"]
    argv += ["--target", "1e-9", "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "float64 evaluator" in text and "not reached" in text
    np.testing.assert_allclose(load_network(out).network.t, 0.05, rtol=1e-7)


def test_demo_runs_at_tiny_size(tmp_path, capsys, monkeypatch):
    import cvxcnn.demo

    monkeypatch.setattr(cvxcnn.demo, "DEMO_EPOCHS", 50)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--images", "2", "--patterns", "20"]) == 0
    summary = json.loads((out / "demo.json").read_text())
    assert summary["convex"]["status"] == "optimal" and summary["config"]["images"] == 2
    assert "test PSNR" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # staging folder gone


def test_bench_choices_match_the_benchmark_package():
    import cvxcnn.bench
    from cvxcnn.cli.bench import BENCHMARK_NAMES, SIZE_NAMES

    assert BENCHMARK_NAMES == tuple(cvxcnn.bench.BENCHMARKS)
    assert SIZE_NAMES == tuple(cvxcnn.bench.SIZES)


def test_bench_runs_through_the_package(tmp_path, monkeypatch, capsys):
    import cvxcnn.bench

    seen = []

    def fake(name, out_dir, size="default", seed=0, progress=True):
        seen.append((name, size, seed, progress))
        (Path(out_dir) / f"{name}.md").write_text(f"# {name}\n")
        (Path(out_dir) / f"{name}.json").write_text("{}")
        return {"figures": []}

    monkeypatch.setattr(cvxcnn.bench, "run_benchmark", fake)
    out = tmp_path / "b"
    assert main(["bench", "all", "--out", str(out), "--size", "tiny", "--seed", "4"]) == 0
    assert [s[0] for s in seen] == list(cvxcnn.bench.BENCHMARKS)
    assert seen[0][1:] == ("tiny", 4, True)
    assert (out / "mri.md").exists() and "# scaling" in capsys.readouterr().out


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_import_and_solve_do_not_import_bench_or_matplotlib(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import sys, cvxcnn.cli\n"
        "assert 'cvxcnn.bench' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "rc = cvxcnn.cli.main(['solve', '--data', 'synthetic1d', '--images', '1', '--size', "
        f"'8', '--kernel', '2', '--patterns', '10', '--quiet', '--out', {str(out)!r}])\n"
        "bad = [m for m in ('cvxcnn.bench', 'matplotlib', 'torch') if m in sys.modules]\n"
        "print(rc, bad)\n"
    )
    proc = _run(code)
    assert proc.stdout.strip() == "0 []", proc.stderr
    assert proc.stderr == "" and out.exists()


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "cvxcnn.cli", "solve", "--patterns", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--patterns" in proc.stderr and "Traceback" not in proc.stderr
