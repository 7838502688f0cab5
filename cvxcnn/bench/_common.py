"""Shared helpers of the benchmarks: sizes, seeds, output files, plots, memory, isolation.

Every benchmark writes ``<name>.json`` (metadata, configuration, every run,
summary tables), ``<name>.csv`` (one row per run), ``<name>.md`` (the summary
tables in Markdown) and ``<name>_*.png`` plots into one output folder.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: Benchmark sizes: ``tiny`` (tests, seconds), ``default`` (minutes), ``paper`` (long).
SIZES: tuple[str, ...] = ("tiny", "default", "paper")

#: Resolution of every PNG the benchmarks write.
DPI = 90


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


# --------------------------------------------------------------------------- #
# Machine description
# --------------------------------------------------------------------------- #
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """Where the numbers come from: cores, platform and package versions.

    Returns
    -------
    dict
        ``nproc`` (CPUs this process may use), ``cpu_count``, ``platform``,
        ``processor``, ``python`` and the versions of numpy, scipy, cvxpy,
        clarabel, scs, torch and cvxcnn; ``cuda`` is whether torch sees a GPU.
    """
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        nproc = os.cpu_count()
    info: dict[str, Any] = {
        "nproc": nproc,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    for pkg in ("numpy", "scipy", "cvxpy", "clarabel", "scs", "torch", "cvxcnn"):
        info[pkg] = _version(pkg)
    cuda = False
    if "torch" in sys.modules or info["torch"]:
        try:
            import torch

            cuda = bool(torch.cuda.is_available())
        except ImportError:  # pragma: no cover
            pass
    info["cuda"] = cuda
    return info


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
def _child_main(conn: Any, func: Callable[..., dict], kwargs: dict) -> None:
    import resource

    try:
        out = dict(func(**kwargs))
        out.setdefault("error", None)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    out["process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    conn.send(out)
    conn.close()


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
    if not isolate:
        try:
            out = dict(func(**kwargs))
            out.setdefault("error", None)
        except Exception as exc:  # noqa: BLE001
            out = {"error": f"{type(exc).__name__}: {exc}"}
        out["process_peak_rss_mb"] = None
        out["process_seconds"] = time.perf_counter() - start
        return out
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
        elapsed = time.perf_counter() - start
        reason = (
            f"timed out after {timeout:.0f} s"
            if elapsed >= timeout
            else f"child exited with code {proc.exitcode}"
        )
        out = {"error": reason, "process_peak_rss_mb": None}
    out["process_seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------- #
# Statistics
# --------------------------------------------------------------------------- #
def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Slope of ``log y`` against ``log x`` (``numpy.polyfit``, degree 1).

    Points with a non-positive or non-finite coordinate are ignored; fewer
    than two distinct remaining ``x`` give None.
    """
    xs = np.asarray([np.nan if v is None else v for v in x], dtype=float)
    ys = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if np.unique(xs[ok]).size < 2:
        return None
    slope, _ = np.polyfit(np.log(xs[ok]), np.log(ys[ok]), 1)
    return float(slope)


def finite_or_none(value: object) -> float | None:
    """``float(value)``, or None when it is None, NaN or infinite."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def relative_excess(value: float | None, reference: float | None) -> float | None:
    """``(value - reference) / |reference|`` or None."""
    v, r = finite_or_none(value), finite_or_none(reference)
    if v is None or r is None or r == 0:
        return None
    return (v - r) / abs(r)


# --------------------------------------------------------------------------- #
# Output files
# --------------------------------------------------------------------------- #
def json_ready(obj: object) -> object:
    """Convert numpy scalars/arrays, tuples and non-finite floats for ``json.dumps``."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _csv_value(value: object) -> object:
    value = json_ready(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    """One row per dict; columns are the union of keys in order of appearance."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})


def fmt(value: object, digits: int = 4) -> str:
    """Compact text for a table cell (``-`` for missing values)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}g}"
    return str(value)


@dataclass
class Table:
    """A summary table: a title, column keys with headers, and rows of dicts."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def to_markdown(self) -> str:
        head = "| " + " | ".join(h for _, h in self.columns) + " |"
        sep = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in self.columns) + " |" for r in self.rows]
        text = [f"#### {self.title}", "", head, sep, *body]
        if self.note:
            text += ["", self.note]
        return "\n".join(text) + "\n"

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "columns": [k for k, _ in self.columns],
            "headers": [h for _, h in self.columns],
            "rows": [{k: r.get(k) for k, _ in self.columns} for r in self.rows],
            "note": self.note,
        }


def write_outputs(
    out_dir: str | Path,
    name: str,
    *,
    config: dict,
    runs: list[dict],
    tables: list[Table],
    extra: dict | None = None,
    seconds: float,
    figures: Iterable[str] = (),
) -> dict:
    """Write ``<name>.json``, ``<name>.csv`` and ``<name>.md``; return the JSON payload.

    Parameters
    ----------
    out_dir : path
    name : str
    config : dict
        Sizes and settings of the run.
    runs : list of dict
        Every run (one CSV row each).
    tables : list of Table
        Summaries (also in the JSON and Markdown).
    extra : dict, optional
        More top-level JSON keys (e.g. fitted slopes, notes).
    seconds : float
        Wall time of the whole benchmark.
    figures : iterable of str
        File names of the PNGs written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": machine_info(),
        "config": config,
        "seconds": seconds,
        "figures": list(figures),
        "tables": [t.to_dict() for t in tables],
        "runs": runs,
        **(extra or {}),
    }
    payload = json_ready(payload)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    write_csv(out / f"{name}.csv", runs)
    md = [f"### {name} (size {config.get('size')}, seed {config.get('seed')}, {seconds:.0f} s)"]
    md += ["", *[t.to_markdown() for t in tables]]
    (out / f"{name}.md").write_text("\n".join(md), encoding="utf-8")
    return payload


# --------------------------------------------------------------------------- #
# Plots and progress
# --------------------------------------------------------------------------- #
def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7})
    return plt


def save_figure(fig: Any, out_dir: str | Path, filename: str) -> str:
    """Save at :data:`DPI`, close the figure, return ``filename``."""
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(Path(out_dir) / filename, dpi=DPI)
    plt.close(fig)
    return filename


def set_log_xticks(ax: Any, values: Iterable[float]) -> None:
    """Label a log x axis with exactly ``values`` (plain numbers, no minor labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    vals = sorted({float(v) for v in values if v is not None})
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(vals, [f"{v:g}" for v in vals])


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (disabled when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
