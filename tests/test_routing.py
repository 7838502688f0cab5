"""choose_oracle: enumeration, stream or MIP by size and memory; the CLI routes by it and says so.

References: the enumerated program's certified optimum (column generation over
every cell in memory) and the certificate over the enumerated cells.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvxcnn.arrangements import enumerate_relu_patterns, relu_count_bound
from cvxcnn.cli import main
from cvxcnn.network_io import save_network
from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec
from cvxcnn.routing import STREAM_MAX_RANK, choose_oracle

TINY = ["--data", "synthetic1d", "--images", "1", "--size", "14", "--kernel", "3"]


def test_each_branch_on_tiny_matrices():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((12, 3))
    bound = relu_count_bound(12, 3)
    assert choose_oracle(Y).oracle == "enumeration"
    assert choose_oracle(Y, max_cells=bound).oracle == "enumeration"  # the bound itself fits
    streamed = choose_oracle(Y, max_cells=bound - 1)
    assert streamed.oracle == "stream" and streamed.count_bound == bound and streamed.rank == 3
    assert str(bound) in streamed.reason and "max-cells" in streamed.reason
    starved = choose_oracle(Y, max_cells=10, max_memory=1.0)  # one byte for the stream
    assert starved.oracle == "mip" and "GiB" in starved.reason
    assert choose_oracle(Y, max_cells=10, max_stream_cells=10).oracle == "mip"
    wide = rng.standard_normal((12, STREAM_MAX_RANK + 1))  # rank 6: not streamed
    choice = choose_oracle(wide, max_cells=10)
    assert choice.oracle == "mip" and "rank 6" in choice.reason
    assert choose_oracle(wide).oracle == "enumeration"  # 2 sum_{k<6} C(11, k) fits 200000
    assert choose_oracle(Y, activation="st", max_cells=10).oracle == "enumeration"
    assert choice.to_dict() == {"oracle_choice": "mip", "oracle_reason": choice.reason}


def test_bound_counts_distinct_hyperplanes_like_the_enumeration():
    """Duplicate and anti-parallel rows do not count: the choice uses the enumeration's bound."""
    Y = np.random.default_rng(1).standard_normal((10, 2))
    Y = np.vstack([Y, Y, -2 * Y, np.zeros((3, 2))])
    cells = enumerate_relu_patterns(Y)
    choice = choose_oracle(Y, max_cells=len(cells))
    assert choice.oracle == "enumeration" and choice.count_bound == len(cells) == 20
    assert choose_oracle(Y, max_cells=19).oracle == "stream"  # enumeration refuses there too
    with pytest.raises(ValueError, match="max_cells=19"):
        enumerate_relu_patterns(Y, max_cells=19)


def _run(tmp_path, name, argv):
    out = tmp_path / f"{name}.json"
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_solve_colgen_streams_beyond_max_cells_and_matches_enumeration(tmp_path):
    """Forced to stream (--max-cells below the bound): the enumerated program's optimum."""
    base = ["solve", *TINY, "--beta", "0.01", "--method", "colgen"]
    ref = _run(tmp_path, "enum", base)
    res = _run(tmp_path, "stream", [*base, "--max-cells", "50"])
    assert ref["oracle_choice"] == "enumeration" and res["oracle_choice"] == "stream"
    assert "> --max-cells 50" in res["oracle_reason"]
    assert res["oracle"] == "streamed/streamed-enumeration" and ref["oracle"] == "exact/nnls"
    assert res["certificate"] == ref["certificate"] == "certified"
    assert res["relative_gap"] <= 1e-6 and ref["relative_gap"] <= 1e-6
    assert res["total_cells"] == ref["total_cells"]
    assert res["upper_bound"] == pytest.approx(ref["upper_bound"], rel=1e-6)
    assert res["colgen_passes"] and all(
        p["cells"] == ref["total_cells"] for p in res["colgen_passes"]
    )


def test_certify_exact_routes_by_size_and_echoes_the_choice(tmp_path):
    weights = tmp_path / "net.npz"
    rng = np.random.default_rng(3)
    spec = ProblemSpec("relu", kernel_size=3, spatial_dims=1, channels=1, beta=0.05)
    save_network(weights, ReluNetwork(rng.standard_normal((3, 3)), rng.standard_normal(3)), spec)
    base = ["certify", "--weights", str(weights), "--data", "synthetic1d", "--size", "14"]
    base += ["--certify", "exact"]
    runs = {
        "enumeration": _run(tmp_path, "e", base),
        "stream": _run(tmp_path, "s", [*base, "--max-cells", "50"]),
        "mip": _run(tmp_path, "m", [*base, "--max-cells", "50", "--max-memory", "1e-9"]),
    }
    for choice, res in runs.items():
        assert res["oracle_choice"] == choice and res["certificate"] == "certified", res
    # SCIP when pyscipopt is installed, HiGHS otherwise (ReLU's search_all: engine "auto")
    assert runs["mip"]["oracle"] in ("exact/mip", "exact/mip-scip")
    assert "GiB" in runs["mip"]["oracle_reason"]
    ref = runs["enumeration"]["lower_bound"]
    assert runs["stream"]["lower_bound"] == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert runs["mip"]["lower_bound"] == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_solve_certify_exact_echoes_the_choice_and_prints_it(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["solve", *TINY, "--patterns", "20", "--certify", "exact", "--max-cells", "50"]
    assert main([*argv, "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["oracle_choice"] == "stream" and res["certificate"] == "certified"
    assert "oracle: stream (count bound" in capsys.readouterr().out
