"""A benchmark sweep on a Dask LocalCluster gives the serial run's tables (timings aside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvxcnn.bench import SIZES, run_benchmark
from cvxcnn.bench.distributed import check_scheduler, dask_available

HINT = 'dask.distributed is not installed: pip install "dask[distributed]"'
needs_dask = pytest.mark.skipif(not dask_available(), reason=HINT)


def _without_timings(value: object) -> object:
    """The payload with every wall-time entry (``*seconds*``) and the machine left out."""
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if "seconds" not in k and k not in ("machine", "figures")
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _square(x: int, y: int) -> int:
    return x * x + y


@needs_dask
def test_ablation_on_a_local_cluster_matches_the_serial_run(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    serial = run_benchmark("ablation", tmp_path / "serial", size="tiny", progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        with Client(cluster) as client:
            dask = run_benchmark(
                "ablation", tmp_path / "dask", size="tiny", progress=False, scheduler=client
            )
    assert len(dask["runs"]) == len(serial["runs"]) > 0
    assert _without_timings(dask) == _without_timings(serial)  # runs, tables, references


@needs_dask
def test_benchmark_run_maps_cases_in_case_order_on_dask(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    from cvxcnn.bench.runner import BenchmarkRun

    cases = [(i, 10 * i) for i in range(7)]
    labels = [f"case {i}" for i in range(7)]
    configs = dict.fromkeys(SIZES)
    outs, steps = [], []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        with Client(cluster) as client:
            for scheduler in (None, client):
                run = BenchmarkRun("demo", configs, tmp_path, "tiny", 0, True, scheduler)
                with run.sweep(len(cases)) as bar:
                    outs.append(run.map(_square, cases, labels, bar))
                    steps.append(bar.bar.n)
    assert outs[0] == outs[1] == [_square(*c) for c in cases]
    assert steps == [len(cases), len(cases)]


def test_scheduler_errors_name_the_fix() -> None:
    assert check_scheduler(None) is None
    with pytest.raises(ValueError, match="scheduler must be 'local' or a Dask scheduler address"):
        check_scheduler("my-cluster")
    with pytest.raises(TypeError, match="distributed.Client"):
        check_scheduler(3)
    if not dask_available():
        with pytest.raises(ImportError, match="pip install"):
            check_scheduler("local")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "mri", "--dask"], "--dask: applies to ablation only"),
        (["bench", "ablation", "--dask", "my-cluster"], "scheduler address like tcp://"),
        (["solve", "--method", "colgen", "--strategy", "full"], "--strategy"),
    ],
)
def test_cli_refuses_what_it_would_ignore(argv, message, tmp_path, capsys) -> None:
    from cvxcnn.cli import main

    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_cli_names_the_dask_benchmarks_of_the_library() -> None:
    from cvxcnn.bench.distributed import DASK_BENCHMARKS
    from cvxcnn.cli.bench import DASK_NAMES

    assert DASK_NAMES == DASK_BENCHMARKS
