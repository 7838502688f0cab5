"""Scale-out of a benchmark sweep's independent cases on Dask (``dask.distributed``).

Every case of a sweep is seeded from the benchmark seed by its key
(:func:`cvxcnn.bench.runner.child_seed`), so the cases can run anywhere, in
any order: :meth:`cvxcnn.bench.runner.BenchmarkRun.map` runs ``func(*args)``
for each case serially in this process (``scheduler=None``, the default), or
on a Dask cluster: ``"local"`` starts a ``LocalCluster`` (one single-threaded
worker process per CPU), a ``"tcp://host:port"`` address connects to a running
scheduler, and a ``distributed.Client`` is used as given. Results come back
in case order, so the tables are those of the serial run (timing columns
aside).

The mechanics are :func:`cvxcnn.executor.map_calls` (shared with the
restarts, the oracle and the facet reductions); a benchmark scheduler is a
Dask one only (:func:`check_scheduler`). Dask is optional (``pip install
"cvxcnn[dask]"``).
"""

from __future__ import annotations

from cvxcnn.executor import INSTALL_HINT, check_executor, dask_available, dask_client

__all__ = [
    "DASK_BENCHMARKS",
    "INSTALL_HINT",
    "check_scheduler",
    "dask_available",
    "dask_client",
]

#: The benchmarks whose sweeps go through :meth:`cvxcnn.bench.runner.BenchmarkRun.map`.
DASK_BENCHMARKS: tuple[str, ...] = ("ablation",)


def check_scheduler(scheduler: object) -> object:
    """Validate a ``scheduler`` argument: None, ``"local"``, ``"tcp://..."`` or a Client."""
    if isinstance(scheduler, int) and not isinstance(scheduler, bool):
        raise TypeError(
            f"scheduler must be None, 'local', an address or a distributed.Client; got {scheduler}"
        )
    return check_executor(scheduler, "scheduler")
