"""The benchmarks at size "tiny": well-formed JSON/CSV/PNG with the expected keys.

Times and memory are reported by the benchmarks, never asserted here.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cvxcnn.bench import BENCHMARKS, run_benchmark
from cvxcnn.bench.report import loglog_slope, payload_differences, same_versions, write_csv
from cvxcnn.bench.runner import child_seed, run_isolated, torch_available

pytest.importorskip("matplotlib")

HAS_TORCH = torch_available()

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Seed-0 tiny payloads written before the runner/report refactor (benchmarks/check_smoke.py).
REFERENCE = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "smoke"


def _check_reference(name: str, data: dict) -> None:
    """Every number but timings and memory as recorded, where the solver versions agree."""
    reference = json.loads((REFERENCE / f"{name}.json").read_text())
    if same_versions(reference, data):
        assert payload_differences(reference, data, rtol=1e-8) == []


def _check_outputs(out: Path, name: str, payload: dict) -> dict:
    data = json.loads((out / f"{name}.json").read_text())
    for key in ("benchmark", "machine", "config", "seconds", "figures", "tables", "runs"):
        assert key in data, key
    assert data["benchmark"] == name
    assert data["config"]["size"] == "tiny"
    assert data["machine"]["nproc"] >= 1 and data["machine"]["cvxpy"]
    assert data["runs"] and data["tables"]
    for table in data["tables"]:
        assert table["rows"] and set(table["rows"][0]) == set(table["columns"])
    with open(out / f"{name}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(data["runs"])
    assert data["figures"]
    for fig in data["figures"]:
        assert fig.startswith(f"{name}_") and fig.endswith(".png")
        assert (out / fig).read_bytes()[:8] == PNG_MAGIC
    md = (out / f"{name}.md").read_text()
    assert md.startswith(f"### {name}") and "|---|" in md
    assert payload["benchmark"] == name
    # honesty: a sampled-oracle bound is never called certified
    text = json.dumps(data["runs"])
    assert '"certified (sampled' not in text
    if data["config"]["seed"] == 0:
        _check_reference(name, data)
    return data


def test_scaling_tiny(tmp_path: Path) -> None:
    from cvxcnn.bench import scaling

    # the reference's solvers besides the main ones (a solver installed since, e.g. SCIP
    # with pyscipopt, would add runs that the reference cannot have)
    reference = json.loads((REFERENCE / "scaling.json").read_text())
    payload = scaling.run(
        tmp_path,
        size="tiny",
        seed=0,
        progress=False,
        isolate=False,
        extra_solvers=scaling.extra_solvers_of(reference),
    )
    data = _check_outputs(tmp_path, "scaling", payload)
    runs = data["runs"]
    assert {r["sweep"] for r in runs} == {"P", "n", "d"}
    assert {r["solver"] for r in runs} >= {"CLARABEL", "SCS"}
    for r in runs:
        assert r["error"] is None, r["error"]
        for key in (
            "status",
            "objective",
            "iterations",
            "compile_seconds",
            "solve_seconds",
            "solve_peak_rss_mb",
            "n",
            "d",
            "patterns",
        ):
            assert key in r
        assert r["status"] == "optimal"
    slope = data["slopes"][0]
    assert {"sweep", "solver", "compile_seconds", "solve_seconds", "iterations"} <= set(slope)
    kinds = {t["target_kind"] for t in data["targets"]}
    assert kinds <= {"certified", "upper bound"}
    if HAS_TORCH:
        assert "certified" in kinds
    for row in data["trainer"]:
        assert {"reached_target", "seconds_to_target", "relative_excess", "target_kind"} <= set(row)


def test_scaling_solve_in_spawned_process() -> None:
    from cvxcnn.bench.scaling import solve_task

    kwargs = dict(
        kind="synthetic1d",
        size=8,
        kernel=3,
        n_patterns=3,
        solver="CLARABEL",
        solver_options={},
        facets="auto",
        beta=0.1,
        noise=0.5,
        seed=0,
    )
    out = run_isolated(solve_task, kwargs, timeout=120)
    assert out["error"] is None
    assert out["status"] == "optimal" and out["patterns"] == 3
    assert 0 < out["constraint_rows"] <= out["constraint_rows_full"] == 2 * out["n"] * 3
    assert out["facet_method"] == "off"  # n = 8 < 20 d: auto does not reduce
    assert out["process_peak_rss_mb"] > 0 and out["process_seconds"] > 0


def test_gap_tiny(tmp_path: Path) -> None:
    payload = run_benchmark("gap", tmp_path, size="tiny", progress=False)
    data = _check_outputs(tmp_path, "gap", payload)
    relu = [r for r in data["runs"] if r["part"] == "relu"]
    st = [r for r in data["runs"] if r["part"] == "st"]
    assert len(relu) == len(st) == len(data["config"]["noises"])
    for r in relu:
        assert r["lower_kind"].startswith("estimated")
        for key in (
            "convex_objective",
            "reconstructed_objective",
            "lower_bound",
            "gap_convex",
            "psnr_convex_train",
            "psnr_convex_test",
            "psnr_noisy_test",
        ):
            assert r[key] is not None, key
    for r in st:
        assert r["bracket_lower_kind"] == "estimate"
        for key in (
            "st6a_objective",
            "paper_objective",
            "paper_network_objective",
            "bracket_upper",
        ):
            assert r[key] is not None, key


def test_ablation_tiny(tmp_path: Path) -> None:
    payload = run_benchmark("ablation", tmp_path, size="tiny", progress=False)
    data = _check_outputs(tmp_path, "ablation", payload)
    for ref in data["references"]:
        assert ref["p_star_kind"] == "certified"
    for r in data["runs"]:
        assert r["cert_kind"] == "certified"
        assert r["est_kind_same"] == r["est_kind_indep"] == "estimated"
        # a certified lower bound never exceeds the certified optimum (up to solver accuracy)
        assert r["cert_lower"] <= r["p_star"] * (1 + 1e-6) + 1e-9
        assert r["objective"] >= r["p_star"] * (1 - 1e-6) - 1e-9


@pytest.mark.skipif(not HAS_TORCH, reason="the primal runs need torch")
def test_robustness_tiny(tmp_path: Path) -> None:
    payload = run_benchmark("robustness", tmp_path, size="tiny", progress=False)
    data = _check_outputs(tmp_path, "robustness", payload)
    assert {r["noise_type"] for r in data["references"]} == {"gaussian", "exponential"}
    assert {r["init"] for r in data["runs"]} == {"kaiming_uniform", "normal(1e-3)", "normal(5e-3)"}
    for r in data["runs"]:
        if r["final_objective"] is not None:
            assert r["final_objective"] >= r["p_star"] * (1 - 1e-6)


def test_mri_tiny(tmp_path: Path) -> None:
    payload = run_benchmark("mri", tmp_path, size="tiny", progress=False)
    data = _check_outputs(tmp_path, "mri", payload)
    assert [r["acceleration"] for r in data["runs"]] == [2, 4, 8]
    for r in data["runs"]:
        for key in ("psnr_zero_filled_test", "psnr_convex_test", "psnr_primal_test"):
            assert np.isfinite(r[key]), key


def test_line_mask_is_seeded_and_keeps_centre() -> None:
    from cvxcnn.bench.mri import line_mask, zero_filled

    a = line_mask(32, 4, 0.08, seed=3)
    assert np.array_equal(a, line_mask(32, 4, 0.08, seed=3))
    rows = a[:, 0]
    assert rows.sum() == 8 and rows[16] and rows[15] and np.all(a == rows[:, None])
    full = np.ones((32, 32), dtype=bool)
    img = np.random.default_rng(0).random((32, 32))
    assert np.allclose(zero_filled(img, full), img)


def test_cli_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cvxcnn.bench.cli_bench import add_bench_parser

    parser = argparse.ArgumentParser(prog="cvxcnn")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["bench", "mri", "--out", str(tmp_path), "--size", "tiny", "--seed", "1", "--quiet"]
    )
    assert args.handler(args) == 0
    data = json.loads((tmp_path / "mri.json").read_text())
    assert data["config"]["seed"] == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "nope"])
    args = parser.parse_args(["bench", "mri", "--out", str(tmp_path), "--seed", "-1"])
    assert args.handler(args) == 2
    assert "seed" in capsys.readouterr().err


def test_helpers(tmp_path: Path) -> None:
    assert loglog_slope([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    assert loglog_slope([1, 1], [1, 2]) is None
    assert child_seed(0, 1, 2) == child_seed(0, 1, 2) != child_seed(0, 2, 1)
    write_csv(tmp_path / "x.csv", [{"a": 1, "b": {"c": 2}}, {"a": float("nan"), "d": [1]}])
    rows = list(csv.DictReader(open(tmp_path / "x.csv", newline="")))
    assert rows[0]["b"] == '{"c": 2}' and rows[1]["a"] == "" and rows[1]["d"] == "[1]"
    assert set(BENCHMARKS) == {"scaling", "gap", "ablation", "robustness", "mri", "colorization"}
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_benchmark("nope", tmp_path)


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_colorization_tiny(tmp_path: Path) -> None:
    from cvxcnn.bench import colorization

    payload = colorization.run(tmp_path, size="tiny", seed=0, progress=False)
    data = _check_outputs(tmp_path, "colorization", payload)
    rows = {r["model"]: r for r in data["runs"] if "model" in r}
    assert set(rows) == {"grey", "convex", "primal", "primal+chroma", "truth"}
    assert rows["truth"]["test_chroma"] > 0
    assert rows["convex"]["objective_kind"].startswith("upper bound")
    # the vector bracket (fit_vector, sampled cells) on the convex row only, never "certified"
    convex = rows["convex"]
    assert convex["vector_kind"] == "estimated" and not convex["vector_exact_cells"]
    assert 0 < convex["vector_lower"] <= convex["vector_upper"]
    assert convex["vector_gap"] == pytest.approx(convex["vector_upper"] - convex["vector_lower"])
    # its best network is at least as good as the separable one (up to the solvers' tolerance)
    assert convex["vector_upper"] <= convex["objective"] * (1 + 1e-4)
    others = [r for name, r in rows.items() if name != "convex"]
    assert all(r.get("vector_lower") is None for r in others)
    table = data["tables"][0]
    assert "estimated (sampled cells)" in table["title"]
    assert rows["grey"]["test_chroma"] == 0
    sweep = [r for r in data["runs"] if r.get("sweep") == "gamma"]
    assert [r["gamma"] for r in sweep] == [0.0, 1.0] and sweep[0]["seed"] == 0
    # gamma = 0 is the squared loss: the same network as the "primal" row
    assert sweep[0]["objective"] == pytest.approx(rows["primal"]["objective"], rel=1e-12)


def test_extra_solvers_of_names_the_timed_and_skipped_extra_solvers() -> None:
    from cvxcnn.bench import scaling

    runs = [{"solver": "CLARABEL"}, {"solver": "CLARABEL-facets"}, {"solver": "SCIP"}]
    payload = {"runs": runs, "skipped_solvers": [{"solver": "OSQP", "note": "skipped"}]}
    assert scaling.extra_solvers_of(payload) == ["OSQP", "SCIP"]


def test_colorization_runs_get_every_setting_the_configs_share() -> None:
    from dataclasses import asdict

    from cvxcnn.bench.colorization import CONFIGS, colorize_config
    from cvxcnn.colorization.system import ColorizeConfig

    defaults = asdict(ColorizeConfig())
    for b in CONFIGS.values():
        run = asdict(colorize_config(b, b.kernels[-1], 7))
        bench = asdict(b)
        shared = set(run) & set(bench)
        assert shared >= {"crops_per_image", "stride", "patterns", "neurons", "epochs", "beta"}
        assert all(run[name] == bench[name] for name in shared)
        assert (run["kernel"], run["size"], run["seed"]) == (b.kernels[-1], b.crop_size, 7)
        rest = set(run) - shared - {"kernel", "size", "seed"}
        assert {name: run[name] for name in rest} == {name: defaults[name] for name in rest}
    # the default size's kernel-3 run is ColorizeConfig's default run
    assert colorize_config(CONFIGS["default"], 3, 0) == ColorizeConfig()
