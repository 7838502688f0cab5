"""One small executor for the embarrassingly parallel parts: serial, local processes or Dask.

:func:`map_calls` runs ``func(*args)`` for each case and returns the results
in case order, whatever ran them, so a parallel run gives the serial run's
results. ``executor`` says where:

- ``None`` (the default) or ``1``: serially, in this process;
- an int ``k > 1`` (or ``-1``: every CPU, scikit-learn's convention): ``k``
  local worker processes (``fork`` where available);
- ``"local"``: a Dask ``LocalCluster`` started for the call (one single-threaded
  worker process per CPU) and closed after;
- ``"tcp://host:port"`` (any Dask scheduler address): that cluster;
- a ``distributed.Client``: used as given (several calls can share one cluster).

Used by benchmark sweeps (:mod:`cvxcnn.bench.distributed`), random restarts
(:func:`cvxcnn.nonconvex.random_restarts`), the oracle's per-cell NNLS chunks
(:func:`cvxcnn.oracle.relu_oracle`) and the per-cone facet reductions
(:func:`cvxcnn.facets.cone_facet_mask`). Dask is optional (``pip install
"cvxcnn[dask]"``); without it a Dask executor fails with that instruction.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

INSTALL_HINT = 'install Dask to use a scheduler: pip install "dask[distributed]"'


def dask_available() -> bool:
    """Whether ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def is_dask(executor: object) -> bool:
    """Whether ``executor`` names a Dask cluster (``"local"``, an address or a Client)."""
    return isinstance(executor, str) or type(executor).__name__ == "Client"


def check_executor(executor: object, name: str = "executor") -> object:
    """Validate an executor (module docstring); returns it (``1`` and None mean serial)."""
    if isinstance(executor, bool):
        raise TypeError(f"{name} must be None, an int, 'local', an address or a Client; got a bool")
    if executor is None:
        return None
    if isinstance(executor, int):
        if executor == 0:
            raise ValueError(f"{name} must be a positive int, -1 (every CPU) or None; got 0")
        return None if executor == 1 else executor
    if isinstance(executor, str):
        if executor != "local" and "://" not in executor:
            raise ValueError(
                f"{name} must be 'local' or a Dask scheduler address like 'tcp://host:8786'; "
                f"got {executor!r}"
            )
        if not dask_available():
            raise ImportError(f"{name}={executor!r} needs dask.distributed; {INSTALL_HINT}")
        return executor
    if type(executor).__name__ != "Client":
        raise TypeError(
            f"{name} must be None, an int, 'local', an address or a distributed.Client; "
            f"got {type(executor).__name__}"
        )
    return executor


def worker_count(executor: object) -> int:
    """Workers an executor offers (1 serial; the CPU count for a Dask cluster started here)."""
    executor = check_executor(executor)
    if executor is None:
        return 1
    if isinstance(executor, int):
        return max(1, (os.cpu_count() or 1) + 1 + executor) if executor < 0 else executor
    if type(executor).__name__ == "Client":
        return max(1, len(executor.scheduler_info().get("workers", {})))
    return os.cpu_count() or 1


@contextmanager
def dask_client(executor: object) -> Iterator[Any]:
    """A ``distributed.Client`` for a Dask executor; one this function started is closed after."""
    executor = check_executor(executor)
    if not isinstance(executor, str):
        yield executor
        return
    from distributed import Client, LocalCluster

    if executor == "local":
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1)
        client = Client(cluster)
    else:
        cluster, client = None, Client(executor)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_calls(
    func: Callable[..., Any],
    cases: Sequence[tuple],
    *,
    executor: object = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Any]:
    """``[func(*args) for args in cases]`` on ``executor``, in case order.

    Parameters
    ----------
    func : callable
        A module-level function (pickled by reference for other processes).
    cases : sequence of tuple
        Positional arguments of each call (picklable).
    executor : None, int, "local", str address or distributed.Client
        See the module docstring.
    on_done : callable, optional
        Called with a case's index as it finishes (a progress bar).

    Returns
    -------
    list
        ``out[i] = func(*cases[i])``.
    """
    executor = check_executor(executor)
    if executor is not None and mp.current_process().daemon:
        executor = None if isinstance(executor, int) else executor  # daemons start no pools
    if executor is None or len(cases) <= 1:
        return _serial(func, cases, on_done)
    if isinstance(executor, int):
        return _processes(func, cases, worker_count(executor), on_done)
    from distributed import as_completed

    with dask_client(executor) as client:
        futures = [client.submit(func, *args, pure=False) for args in cases]
        position = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            if on_done is not None:
                on_done(position[future.key])
        return client.gather(futures)


def _serial(func, cases, on_done) -> list[Any]:
    out = []
    for i, args in enumerate(cases):
        out.append(func(*args))
        if on_done is not None:
            on_done(i)
    return out


def _processes(func, cases, jobs: int, on_done) -> list[Any]:
    methods = mp.get_all_start_methods()
    context = mp.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        out = []
        for i, result in enumerate(pool.map(func, *zip(*cases, strict=True))):
            out.append(result)
            if on_done is not None:
                on_done(i)
        return out
