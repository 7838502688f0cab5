"""The shared runner and report helpers of the benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cvxcnn.bench import SIZES
from cvxcnn.bench.report import (
    Table,
    median_or_none,
    nan_if_none,
    payload_differences,
    same_versions,
)
from cvxcnn.bench.runner import (
    BenchmarkRun,
    PrimalSettings,
    check_size,
    config_entries,
    run_isolated,
)


@dataclass(frozen=True)
class _Config:
    cases: int = 2


CONFIGS = {size: _Config(cases=i + 1) for i, size in enumerate(SIZES)}


def _fails() -> dict:
    raise RuntimeError("boom")


def test_benchmark_run_writes_every_output(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run = BenchmarkRun("demo", CONFIGS, tmp_path / "out", "default", 7, progress=False)
    assert run.cfg.cases == 2 and run.child_seed(1) != run.child_seed(2)
    rows = []
    with run.sweep(run.cfg.cases) as bar:
        for i in range(run.cfg.cases):
            with bar.step(f"case {i}") as sw:
                rows.append({"case": i, "value": 0.5 * i})
            assert sw.seconds >= 0
    with run.figure("line", figsize=(2, 2)) as (_, ax):
        ax.plot([r["case"] for r in rows], [r["value"] for r in rows])
    payload = run.finish(rows, [Table("t", [("case", "case"), ("value", "v")], rows)])
    assert payload["config"] == {"size": "default", "seed": 7, "cases": 2}
    assert payload["figures"] == ["demo_line.png"]
    out = tmp_path / "out"
    assert json.loads((out / "demo.json").read_text())["runs"] == rows
    assert (out / "demo_line.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "demo.csv").read_text().splitlines()[0] == "case,value"
    assert "| case | v |" in (out / "demo.md").read_text()
    with pytest.raises(ValueError, match="size must be one of"):
        check_size("huge")


def test_payload_differences_ignore_timings_only() -> None:
    a = {"machine": {"numpy": "1"}, "seconds": 1.0, "runs": [{"x": 1.0, "solve_seconds": 2}]}
    b = {"machine": {"numpy": "1"}, "seconds": 9, "runs": [{"x": 1 + 1e-12, "solve_seconds": 5}]}
    assert payload_differences(a, b) == [] and same_versions(a, b)
    b["runs"][0]["x"] = 1.1
    b["runs"][0]["y"] = "new"
    assert payload_differences(a, b) == [
        ("runs[0].x", 1.0, 1.1),
        ("runs[0].y", "<missing>", "new"),
    ]


def test_numbers_and_isolation() -> None:
    assert median_or_none([None, 3.0, 1.0]) == 2.0 and median_or_none([None]) is None
    assert nan_if_none([None, 1.0])[1] == 1.0
    out = run_isolated(_fails, {}, timeout=10, isolate=False)
    assert out["error"] == "RuntimeError: boom" and out["process_peak_rss_mb"] is None


@dataclass(frozen=True)
class _WithPrimal:
    kernel: int = 3
    primal: PrimalSettings = PrimalSettings(neurons=8, epochs=20)
    st: bool = True


@dataclass(frozen=True)
class _Clash:
    epochs: int = 5
    primal: PrimalSettings = PrimalSettings(neurons=8)


def test_config_entries_inline_the_primal_settings_in_place() -> None:
    entries = config_entries(_WithPrimal())
    assert list(entries) == ["kernel", "neurons", "epochs", "lr", "st"]
    assert entries == {"kernel": 3, "neurons": 8, "epochs": 20, "lr": 1e-2, "st": True}
    assert config_entries(_Config(cases=4)) == {"cases": 4}
    with pytest.raises(ValueError, match="'epochs' of _Clash is given twice"):
        config_entries(_Clash())


def test_train_with_passes_the_settings_and_lets_a_call_override_them(monkeypatch) -> None:
    from cvxcnn.bench import models

    calls: list[dict] = []
    monkeypatch.setattr(models, "train", lambda *args, **kw: calls.append(kw) or ({}, None))
    primal = PrimalSettings(neurons=8, epochs=20, lr=0.5)
    models.train_with(primal, None, None, kernel_size=3, beta=0.1, seed=4)
    models.train_with(primal, None, None, kernel_size=3, beta=0.1, seed=4, lr=0.1, residual=True)
    base = {"kernel_size": 3, "beta": 0.1, "seed": 4, "neurons": 8, "epochs": 20}
    assert calls == [{**base, "lr": 0.5}, {**base, "lr": 0.1, "residual": True}]
