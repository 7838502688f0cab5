"""One executor for the parallel parts: the serial result, whatever runs it (issue #17)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import noisy_problem

from cvxcnn.arrangements import sample_relu_patterns
from cvxcnn.certificates import dual_direction
from cvxcnn.executor import check_executor, dask_available, map_calls, worker_count
from cvxcnn.facets import cone_facet_mask
from cvxcnn.losses import get_loss
from cvxcnn.networks import ReluNetwork
from cvxcnn.nonconvex import random_restarts
from cvxcnn.oracle import relu_oracle

HINT = 'dask.distributed is not installed: pip install "dask[distributed]"'


def _affine(x: int, y: int) -> int:
    return 3 * x + y


@pytest.fixture(scope="module")
def case():
    problem = noisy_problem(2, (2, 16), 0.2, kernel_size=3)
    cells = sample_relu_patterns(problem.Y, 80, random_state=0)
    rng = np.random.default_rng(0)
    net = ReluNetwork(rng.standard_normal((3, problem.d)), rng.standard_normal(3))
    _, g = dual_direction(net, problem, get_loss("squared"))
    return problem, cells, g


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster (threads, so the test stays fast) shared by the Dask tests."""
    if not dask_available():
        pytest.skip(HINT)
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as lc:
        with Client(lc) as client:
            yield client


def _run_all(problem, cells, g, executor):
    """The three parallel parts on one executor."""
    import cvxcnn.oracle as oracle_module

    old, oracle_module.NNLS_CHUNK = oracle_module.NNLS_CHUNK, 7  # many chunks on a tiny case
    try:
        oracle = relu_oracle(problem.Y, g, cells.masks, threshold=0.0, executor=executor)
    finally:
        oracle_module.NNLS_CHUNK = old
    restarts = random_restarts(
        problem, n_neurons=3, beta=0.05, n_restarts=3, max_iter=50, executor=executor
    )
    facets = cone_facet_mask(cells.masks, problem.Y, interior=cells.generators, executor=executor)
    return oracle, restarts, facets


def _assert_same(a, b):
    oracle_a, restarts_a, facets_a = a
    oracle_b, restarts_b, facets_b = b
    assert oracle_a.n_solved == oracle_b.n_solved > 7
    np.testing.assert_array_equal(oracle_a.cell_upper, oracle_b.cell_upper)
    np.testing.assert_array_equal(oracle_a.cell_lower, oracle_b.cell_lower)
    np.testing.assert_array_equal(restarts_a.objectives, restarts_b.objectives)
    np.testing.assert_array_equal(restarts_a.best_network.U, restarts_b.best_network.U)
    np.testing.assert_array_equal(facets_a.keep, facets_b.keep)


def test_map_calls_in_order_on_every_executor():
    cases = [(i, 1) for i in range(7)]
    want = [3 * i + 1 for i in range(7)]
    assert map_calls(_affine, cases) == want
    done: list[int] = []
    assert map_calls(_affine, cases, executor=2, on_done=done.append) == want
    assert sorted(done) == list(range(7))
    assert worker_count(None) == worker_count(1) == 1 and worker_count(3) == 3


def test_local_processes_give_the_serial_result(case):
    problem, cells, g = case
    _assert_same(_run_all(problem, cells, g, None), _run_all(problem, cells, g, 2))


def test_dask_cluster_gives_the_serial_result(case, cluster):
    problem, cells, g = case
    _assert_same(_run_all(problem, cells, g, None), _run_all(problem, cells, g, cluster))
    assert worker_count(cluster) == 2


def test_bad_executors_are_refused():
    with pytest.raises(ValueError, match="executor must be a positive int"):
        check_executor(0)
    with pytest.raises(ValueError, match="tcp://host:8786"):
        check_executor("cluster-please")
    with pytest.raises(TypeError, match="executor must be None"):
        check_executor(2.5)
    with pytest.raises(TypeError, match="bool"):
        check_executor(True)


def test_relu_oracle_refuses_an_executor_it_would_not_use():
    rng = np.random.default_rng(0)
    Y, g = rng.standard_normal((8, 2)), rng.standard_normal(8)
    masks = Y @ rng.standard_normal((2, 4)) >= 0
    with pytest.raises(ValueError, match="executor"):
        relu_oracle(Y, g, masks.T, executor=2, method="socp")
    with pytest.raises(ValueError, match="executor"):
        relu_oracle(Y, g, masks.T, executor=2, threshold=0.1, keep=3)
