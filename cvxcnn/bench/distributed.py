"""Scale-out of a benchmark sweep's independent cases on Dask (``dask.distributed``).

Every case of a sweep is seeded from the benchmark seed by its key
(:func:`cvxcnn.bench.runner.child_seed`), so the cases can run anywhere, in
any order: :func:`map_cases` runs ``func(*args)`` for each case serially in
this process (``scheduler=None``, the default), or on a Dask cluster:
``"local"`` starts a ``LocalCluster`` (one single-threaded worker process per
CPU), a ``"tcp://host:port"`` address connects to a running scheduler, and a
``distributed.Client`` is used as given. Results come back in case order,
so the tables are those of the serial run (timing columns aside).

Dask is optional (``pip install "cvxcnn[dask]"`` or ``pip install
"dask[distributed]"``); without it only the serial mode is available and a
scheduler request fails with that instruction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

INSTALL_HINT = 'install Dask to use a scheduler: pip install "dask[distributed]"'
#: The benchmarks whose sweeps go through :meth:`cvxcnn.bench.runner.BenchmarkRun.map`.
DASK_BENCHMARKS: tuple[str, ...] = ("ablation",)


def dask_available() -> bool:
    """Whether ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def check_scheduler(scheduler: object) -> object:
    """Validate a ``scheduler`` argument: None, ``"local"``, ``"tcp://..."`` or a Client."""
    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        if scheduler != "local" and "://" not in scheduler:
            raise ValueError(
                f"scheduler must be 'local' or a Dask scheduler address like "
                f"'tcp://host:8786'; got {scheduler!r}"
            )
        if not dask_available():
            raise ImportError(f"scheduler={scheduler!r} needs dask.distributed; {INSTALL_HINT}")
        return scheduler
    if type(scheduler).__name__ != "Client":
        raise TypeError(
            f"scheduler must be None, 'local', an address or a distributed.Client; "
            f"got {type(scheduler).__name__}"
        )
    return scheduler


@contextmanager
def dask_client(scheduler: object) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``; one this function started is closed after."""
    scheduler = check_scheduler(scheduler)
    if not isinstance(scheduler, str):
        yield scheduler
        return
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1)
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_cases(
    func: Callable[..., Any],
    cases: Sequence[tuple],
    *,
    scheduler: object = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Any]:
    """``[func(*args) for args in cases]``, serially or on a Dask cluster; in case order.

    Parameters
    ----------
    func : callable
        A module-level function (pickled by reference for remote workers).
    cases : sequence of tuple
        Positional arguments of each call (picklable).
    scheduler : None, "local", str address or distributed.Client
    on_done : callable, optional
        Called with the case's index as each case finishes (a progress bar).

    Returns
    -------
    list
        The results, ``out[i] = func(*cases[i])``.
    """
    if check_scheduler(scheduler) is None:
        out = []
        for i, args in enumerate(cases):
            out.append(func(*args))
            if on_done is not None:
                on_done(i)
        return out
    from distributed import as_completed

    with dask_client(scheduler) as client:
        futures = [client.submit(func, *args, pure=False) for args in cases]
        position = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            if on_done is not None:
                on_done(position[future.key])
        return client.gather(futures)
