"""``cvxcnn bench certify``: the quick config runs, its certificates are honest and agree with
brute force over every enumerated cell, and the CLI routes ``--config``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvxcnn.bench import certify as bench_certify
from cvxcnn.certificates import SAMPLED_WARNING
from cvxcnn.cli import main

HAS_TORCH = bench_certify.torch_available()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("certify")
    payload = bench_certify.run(out, seed=0, progress=False, config="quick")
    return out, payload


def _by_case(rows):
    cases: dict[str, dict[str, dict]] = {}
    for r in rows:
        cases.setdefault(r["case"], {})[r["method"]] = r
    return cases


def test_quick_writes_every_output_with_the_columns(quick):
    out, payload = quick
    for suffix in (".json", ".csv", ".md", "_gaps.png"):
        assert (out / f"certify{suffix}").exists(), suffix
    data = json.loads((out / "certify.json").read_text())
    assert data["config"]["size"] == "quick" and data["config"]["cases"]
    table = data["tables"][0]
    for column in ("objective", "estimated_gap", "estimate_flag", "certified_gap",
                   "gap_vs_best_lower", "certified_1e6", "seconds_to_1e6", "psnr"):  # fmt: skip
        assert column in table["columns"], column
    assert "order of magnitude" in table["note"]
    assert "ESTIMATED gap" in (out / "certify.md").read_text()
    methods = {r["method"] for r in data["runs"]}
    expected = {"brute-force", "sampled-20", "sampled-200", "colgen-mip"}
    assert expected | ({"primal"} if HAS_TORCH else set()) == methods
    assert data["frontier"]["tolerance"] == 1e-6


def test_every_estimated_gap_carries_the_warning(quick):
    for r in quick[1]["runs"]:
        if r["method"].startswith("sampled"):
            assert r["estimate_warning"] == SAMPLED_WARNING
            assert r["estimate_flag"] == bench_certify.ESTIMATE_FLAG
            # an estimate over sampled cells is never above the bound over every cell
            assert r["estimated_gap"] <= r["enumerated_gap"] + 1e-9
        else:
            assert r.get("estimated_gap") is None


def test_certified_rows_are_honest_and_agree_with_brute_force(quick):
    for case, rows in _by_case(quick[1]["runs"]).items():
        reference = rows["brute-force"]
        assert reference["certified_kind"] == "certified" and reference["certified_gap"] <= 1e-6
        p_star = reference["objective"]
        best = reference["best_certified_lower"]
        for method, r in rows.items():
            # no network beats a certified lower bound of the global optimum
            assert r["objective"] >= best * (1 - 1e-9), (case, method)
            if r.get("certified_kind") == "certified":
                assert r["certified_lower"] <= r["objective"] * (1 + 1e-9), (case, method)
                assert r["certified_lower"] <= p_star * (1 + 1e-7), (case, method)
        for method in ("sampled-20", "sampled-200"):
            r = rows[method]
            # the MIP oracle's bound is never tighter than the oracle over every enumerated cell
            assert r["certified_gap"] >= r["enumerated_gap"] - 1e-9, (case, method)
            if r["certified_oracle_converged"]:
                assert r["certified_gap"] == pytest.approx(r["enumerated_gap"], abs=1e-6)
        cg = rows["colgen-mip"]
        assert cg["certified_1e6"] == (
            cg["certified_kind"] == "certified" and cg["certified_gap"] <= 1e-6
        )
        if cg["certified_1e6"]:
            assert cg["objective"] == pytest.approx(p_star, rel=1e-6), case
            assert cg["seconds_to_1e6"] == cg["seconds"]
        else:
            assert cg["seconds_to_1e6"] is None


def test_frontier_is_the_largest_certified_colgen_case():
    cg = {"method": "colgen-mip"}
    rows = [
        {**cg, "case": "a", "n": 9, "certified_1e6": True, "seconds_to_1e6": 5},
        {**cg, "case": "b", "n": 16, "certified_1e6": True, "seconds_to_1e6": 700},
        {**cg, "case": "c", "n": 24, "certified_1e6": False, "seconds_to_1e6": None},
        {"method": "brute-force", "case": "d", "n": 36},
    ]
    front = bench_certify.frontier(rows)
    assert (front["n"], front["case"], front["seconds"]) == (9, "a", 5)
    assert [m[0] for m in front["not_certified"]] == ["b", "c"]
    assert bench_certify.frontier(rows[2:])["n"] is None


def test_unknown_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="config must be one of"):
        bench_certify.run(tmp_path, progress=False, config="huge")


def test_cli_routes_config_to_certify_only(tmp_path, monkeypatch, capsys):
    import cvxcnn.bench
    from cvxcnn.cli.bench import CERTIFY_CONFIGS, EXTRA_NAMES

    assert EXTRA_NAMES == cvxcnn.bench.EXTRA_BENCHMARKS
    assert CERTIFY_CONFIGS == tuple(bench_certify.NAMED)
    seen = []

    def fake(name, out_dir, **kwargs):
        seen.append((name, kwargs))
        (Path(out_dir) / f"{name}.md").write_text("#\n")
        return {"figures": []}

    monkeypatch.setattr(cvxcnn.bench, "run_benchmark", fake)
    out = str(tmp_path / "b")
    assert main(["bench", "certify", "--config", "digits", "--out", out, "--quiet"]) == 0
    assert seen[-1][0] == "certify" and seen[-1][1]["config"] == "digits"
    assert main(["bench", "certify", "--out", out, "--quiet"]) == 0
    assert "config" not in seen[-1][1] and seen[-1][1]["size"] == "default"
    assert main(["bench", "gap", "--config", "quick", "--out", out]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["bench", "certify", "--config", "quick", "--size", "tiny", "--out", out]) == 2
    assert "not both" in capsys.readouterr().err
    assert len(seen) == 2
