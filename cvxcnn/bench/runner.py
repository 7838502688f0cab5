"""Running a benchmark: sizes, seeds, the sweep's progress bar, isolated processes.

A benchmark module declares a frozen config dataclass (its PyTorch baseline,
if any, as one :class:`PrimalSettings` field) and one instance per size in
``CONFIGS``; its ``run`` opens a :class:`BenchmarkRun`, which picks
the config, derives every seed from the one benchmark seed
(:meth:`BenchmarkRun.child_seed`), shows one tqdm bar over the sweep
(:meth:`BenchmarkRun.sweep`, one :meth:`Progress.step` per case), collects
figures (:meth:`BenchmarkRun.figure`) and writes the outputs
(:meth:`BenchmarkRun.finish`, see :mod:`cvxcnn.bench.report`).
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvxcnn.bench import SIZES
from cvxcnn.bench.distributed import check_scheduler
from cvxcnn.bench.report import Table, pyplot, save_figure, write_outputs
from cvxcnn.executor import map_calls

__all__ = [
    "SIZES",
    "BenchmarkRun",
    "PrimalSettings",
    "benchmark",
    "Progress",
    "Stopwatch",
    "check_size",
    "child_seed",
    "config_entries",
    "current_rss_mb",
    "peak_rss_mb",
    "reset_peak_rss",
    "run_isolated",
    "torch_available",
]


def check_size(size: str) -> str:
    """Validate a size name.

    Parameters
    ----------
    size : str
        One of :data:`SIZES`.

    Returns
    -------
    str
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; got {size!r}")
    return size


def child_seed(seed: int, *key: int) -> int:
    """A reproducible 31-bit integer seed for the sub-task ``key`` of a run seeded ``seed``.

    Parameters
    ----------
    seed : int
        The benchmark's seed.
    *key : int
        Identifies the sub-task (e.g. ``(noise_index, repeat)``).

    Returns
    -------
    int
    """
    ss = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)


@dataclass(frozen=True)
class PrimalSettings:
    """The PyTorch primal baseline of a benchmark: its width, steps and step size.

    A config's ``primal`` field; :func:`cvxcnn.bench.models.train_with` trains
    with it (float64, CPU, one thread; Adam unless the call names another
    optimizer, and a keyword of the call wins over the settings). The JSON
    ``config`` lists the three entries flat, as every committed payload
    (:func:`config_entries`).

    Attributes
    ----------
    neurons : int
        Hidden filters ``m`` of the trained two-layer network.
    epochs : int
        Full-batch optimizer steps.
    lr : float
        The optimizer's step size.
    """

    neurons: int
    epochs: int = 2000
    lr: float = 1e-2


def config_entries(cfg: object) -> dict:
    """A config dataclass as the ``config`` entries of its JSON payload.

    Its fields in order, with the fields of a nested settings dataclass (a
    :class:`PrimalSettings`) inlined where it stands, so the payload reads as
    the flat configs before it (``neurons``, ``epochs``, ``lr`` at the top).

    Parameters
    ----------
    cfg : dataclass instance

    Returns
    -------
    dict
        Field name to value (tuples as ``asdict`` leaves them).

    Raises
    ------
    ValueError
        When an inlined name is also a field of ``cfg`` (the payload would drop one).
    """
    entries: dict = {}
    for name, value in asdict(cfg).items():
        inlined = value.items() if is_dataclass(getattr(cfg, name)) else [(name, value)]
        for key, item in inlined:
            if key in entries:
                raise ValueError(f"config entry {key!r} of {type(cfg).__name__} is given twice")
            entries[key] = item
    return entries


# --------------------------------------------------------------------------- #
# Optional dependencies
# --------------------------------------------------------------------------- #
def torch_available() -> bool:
    """Whether the PyTorch primal trainer can be imported."""
    try:
        import cvxcnn.primal  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- #
# Memory
# --------------------------------------------------------------------------- #
def _proc_status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        return None
    return None


def current_rss_mb() -> float | None:
    """Resident set size of this process in MiB (``VmRSS``; None off Linux)."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    ``VmHWM`` from ``/proc/self/status`` (which :func:`reset_peak_rss` can
    reset), else ``ru_maxrss``.
    """
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource  # pragma: no cover - not Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # pragma: no cover


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0).

    Writes ``5`` to ``/proc/self/clear_refs``. Returns False where that is not
    allowed; the peak then includes everything since the process started.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- #
# One task per fresh process
# --------------------------------------------------------------------------- #
def _call(func: Callable[..., dict], kwargs: dict, with_traceback: bool) -> dict:
    try:
        out = dict(func(**kwargs))
        out.setdefault("error", None)
    except Exception as exc:  # noqa: BLE001 - reported to the caller
        out = {"error": f"{type(exc).__name__}: {exc}"}
        if with_traceback:
            out["traceback"] = traceback.format_exc()
    return out


def _child_main(conn: Any, func: Callable[..., dict], kwargs: dict) -> None:
    import resource

    out = _call(func, kwargs, with_traceback=True)
    out["process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    conn.send(out)
    conn.close()


def _run_in_child(func: Callable[..., dict], kwargs: dict, timeout: float, start: float) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    # not a daemon: the child may start its own workers (facet reduction with n_jobs);
    # it is terminated below on timeout either way
    proc = ctx.Process(target=_child_main, args=(child, func, kwargs), daemon=False)
    proc.start()
    child.close()
    out: dict | None = None
    try:
        if parent.poll(timeout):
            out = parent.recv()
    except (EOFError, OSError):
        out = None
    finally:
        if out is None and proc.is_alive():
            proc.terminate()
        proc.join(10)
        if proc.is_alive():  # pragma: no cover
            proc.kill()
            proc.join()
        parent.close()
    if out is None:
        reason = (
            f"timed out after {timeout:.0f} s"
            if time.perf_counter() - start >= timeout
            else f"child exited with code {proc.exitcode}"
        )
        out = {"error": reason, "process_peak_rss_mb": None}
    return out


def run_isolated(
    func: Callable[..., dict],
    kwargs: dict,
    *,
    timeout: float,
    isolate: bool = True,
) -> dict:
    """Run ``func(**kwargs)`` in a fresh ``spawn`` process, so memory peaks are per run.

    Parameters
    ----------
    func : callable returning a dict
        A module-level function (it is pickled by reference).
    kwargs : dict
        Picklable keyword arguments.
    timeout : float
        Seconds; the child is terminated past it and ``error`` says so.
    isolate : bool
        False runs in this process (no memory isolation; for debugging).

    Returns
    -------
    dict
        What ``func`` returned, plus ``error`` (None or a message),
        ``process_peak_rss_mb`` (the child's ``ru_maxrss``: imports included)
        and ``process_seconds`` (wall time of the child, start-up included).
    """
    start = time.perf_counter()
    if isolate:
        out = _run_in_child(func, kwargs, timeout, start)
    else:
        out = _call(func, kwargs, with_traceback=False)
        out["process_peak_rss_mb"] = None
    out["process_seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------- #
# Timing, progress and one run of a benchmark
# --------------------------------------------------------------------------- #
class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


class Progress:
    """A tqdm bar on stderr over the cases of a sweep (disabled when ``enabled`` is False).

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        The bar's label (the benchmark's name).
    enabled : bool
    """

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    @contextmanager
    def step(self, label: str) -> Iterator[Stopwatch]:
        """One step: show ``label``, time the block, advance the bar when it ends.

        Yields
        ------
        Stopwatch
            Its ``seconds`` are set when the block ends.
        """
        self.bar.set_postfix_str(label)
        with Stopwatch() as sw:
            yield sw
        self.bar.update(1)

    def done(self, label: str) -> None:
        """One step finished elsewhere (a Dask worker): show ``label``, advance the bar."""
        self.bar.set_postfix_str(label)
        self.bar.update(1)


class BenchmarkRun:
    """One run of a benchmark: its config, seeds, output folder, figures and timer.

    Parameters
    ----------
    name : str
        The benchmark's name (prefix of every output file).
    configs : mapping of str to a dataclass instance
        The benchmark's config per size in :data:`SIZES`.
    out_dir : path
        Output folder (created).
    size : str
        One of :data:`SIZES`.
    seed : int
        The one seed every random choice derives from.
    progress : bool
        Show the tqdm bar.
    scheduler : None, "local", str or distributed.Client
        Where :meth:`map` runs the sweep's cases (None: serially here; see
        :mod:`cvxcnn.bench.distributed`).

    Attributes
    ----------
    cfg : dataclass instance
        ``configs[size]``.
    out : Path
    figures : list of str
        File names of the PNGs written so far.
    """

    def __init__(
        self,
        name: str,
        configs: Mapping[str, Any],
        out_dir: str | Path,
        size: str,
        seed: int,
        progress: bool,
        scheduler: object = None,
    ) -> None:
        self.name = name
        self.scheduler = check_scheduler(scheduler)
        self.size = size
        self.cfg = configs[check_size(size)]
        self.seed = seed
        self.progress = progress
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.figures: list[str] = []
        self._start = time.perf_counter()

    def child_seed(self, *key: int) -> int:
        """:func:`child_seed` of this run's seed and ``key``."""
        return child_seed(self.seed, *key)

    def map(
        self, func: Callable[..., Any], cases: Sequence[tuple], labels: Sequence[str], bar: Progress
    ) -> list[Any]:
        """``func(*args)`` for every case, on :attr:`scheduler`; results in case order.

        The cases run by :func:`cvxcnn.executor.map_calls`, serially or on
        the Dask cluster that :func:`cvxcnn.bench.distributed.check_scheduler`
        accepted when the run was opened.

        ``func`` must be a module-level function whose cases are seeded by
        their keys (:meth:`child_seed`), so the results do not depend on
        where or in which order they run; ``bar`` advances once per case.
        """
        return map_calls(
            func, cases, executor=self.scheduler, on_done=lambda i: bar.done(labels[i])
        )

    def __getstate__(self) -> dict:
        """Picklable for Dask workers (a Client stays with the caller)."""
        return {**self.__dict__, "scheduler": None}

    def sweep(self, total: int) -> Progress:
        """A :class:`Progress` bar of ``total`` steps labelled with the benchmark's name."""
        return Progress(total, self.name, self.progress)

    @contextmanager
    def figure(self, suffix: str, nrows: int = 1, ncols: int = 1, **subplots: Any) -> Iterator:
        """Draw one figure; it is saved as ``<name>_<suffix>.png`` when the block ends.

        Parameters
        ----------
        suffix : str
        nrows, ncols : int
        **subplots
            More arguments of ``pyplot.subplots`` (``figsize``, ``squeeze``).

        Yields
        ------
        (fig, axes)
            As ``pyplot.subplots`` returns them.
        """
        plt = pyplot()
        fig, axes = plt.subplots(nrows, ncols, **subplots)
        try:
            yield fig, axes
        except BaseException:
            plt.close(fig)
            raise
        self.figures.append(save_figure(fig, self.out, f"{self.name}_{suffix}.png"))

    def finish(
        self,
        runs: list[dict],
        tables: Sequence[Table],
        *,
        extra: dict | None = None,
        config: dict | None = None,
    ) -> dict:
        """Write ``<name>.json``, ``.csv`` and ``.md``; return the JSON payload.

        Parameters
        ----------
        runs : list of dict
            One CSV row each.
        tables : sequence of Table
        extra : dict, optional
            More top-level JSON keys.
        config : dict, optional
            More config entries (before the dataclass's, :func:`config_entries`, which win).

        Returns
        -------
        dict
        """
        return write_outputs(
            self.out,
            self.name,
            config={
                "size": self.size,
                "seed": self.seed,
                **(config or {}),
                **config_entries(self.cfg),
            },
            runs=runs,
            tables=list(tables),
            extra=extra,
            seconds=time.perf_counter() - self._start,
            figures=self.figures,
        )


#: The parameters section every benchmark's ``run`` shares (see :func:`benchmark`).
RUN_PARAMETERS = """
Parameters
----------
out_dir : path
    Output folder (created).
size : {"tiny", "default", "paper"}
    Which entry of the module's ``CONFIGS``.
seed : int
    The one seed every random choice derives from.
progress : bool
    Show a tqdm progress bar on stderr.
scheduler : None, "local", str or distributed.Client
    Where the sweep's independent cases run: serially here (None) or on Dask
    (see :mod:`cvxcnn.bench.distributed`), for the benchmarks that map them.
**options
    Keywords of the benchmark itself, if any.

Returns
-------
dict
    The JSON payload written to ``<out_dir>/<name>.json``.
"""


def benchmark(name: str, configs: Mapping[str, Any]) -> Callable:
    """Turn ``body(bench: BenchmarkRun, **options) -> dict`` into the benchmark's ``run``.

    Parameters
    ----------
    name : str
        The benchmark's name.
    configs : mapping of str to a dataclass instance
        Its config per size.

    Returns
    -------
    callable
        A decorator; the decorated function becomes
        ``run(out_dir, size="default", seed=0, progress=True, scheduler=None, **options)``,
        documented by ``body``'s docstring and :data:`RUN_PARAMETERS`.
    """

    def decorate(body: Callable[..., dict]) -> Callable[..., dict]:
        def run(
            out_dir: str | Path,
            size: str = "default",
            seed: int = 0,
            progress: bool = True,
            scheduler: object = None,
            **options: Any,
        ) -> dict:
            bench = BenchmarkRun(name, configs, out_dir, size, seed, progress, scheduler)
            return body(bench, **options)

        run.__module__, run.__name__, run.__qualname__ = body.__module__, "run", "run"
        run.__doc__ = inspect.cleandoc(body.__doc__ or "") + "\n" + RUN_PARAMETERS
        return run

    return decorate
