"""Reporting the results of a benchmark: numbers, JSON, CSV, Markdown tables and figures.

Every benchmark writes ``<name>.json`` (machine, configuration, every run,
summary tables and extra keys), ``<name>.csv`` (one row per run),
``<name>.md`` (the summary tables in Markdown) and ``<name>_*.png`` figures
into one output folder (:func:`write_outputs`, :func:`save_figure`).
matplotlib is imported only when a figure is drawn (:func:`pyplot`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from cvxcnn.results import json_ready as to_json_ready

__all__ = [
    "DPI",
    "Table",
    "finite_or_none",
    "fmt",
    "json_ready",
    "loglog_slope",
    "machine_info",
    "median_or_none",
    "nan_if_none",
    "payload_differences",
    "pyplot",
    "relative_excess",
    "same_versions",
    "save_figure",
    "set_log_xticks",
    "write_csv",
    "write_json",
    "write_outputs",
]

#: Resolution of every PNG the benchmarks write.
DPI = 90


# --------------------------------------------------------------------------- #
# Numbers
# --------------------------------------------------------------------------- #
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


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Slope of ``log y`` against ``log x`` (``numpy.polyfit``, degree 1).

    Parameters
    ----------
    x, y : sequence of float or None, shape (m,)
        Points with a None, non-positive or non-finite coordinate are ignored.

    Returns
    -------
    float or None
        None with fewer than two distinct remaining ``x``.
    """
    xs = np.asarray(nan_if_none(x), dtype=float)
    ys = np.asarray(nan_if_none(y), dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if np.unique(xs[ok]).size < 2:
        return None
    slope, _ = np.polyfit(np.log(xs[ok]), np.log(ys[ok]), 1)
    return float(slope)


def nan_if_none(values: Iterable[float | None]) -> list[float]:
    """The values with None replaced by NaN (for plotting), shape (m,) -> (m,)."""
    return [np.nan if v is None else v for v in values]


def median_or_none(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None, or None when there are none."""
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


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


#: Leaves of a payload that change from run to run (see :func:`payload_differences`).
_VOLATILE = r"seconds|rss|_mb\b|^machine\.|date"


def payload_differences(
    before: object, after: object, *, rtol: float = 1e-8, ignore: str = _VOLATILE
) -> list[tuple[str, object, object]]:
    """Where two JSON payloads of a benchmark differ, timings and memory aside.

    Parameters
    ----------
    before, after : JSON-like (dict, list, scalars)
    rtol : float
        Floats ``a, b`` agree when ``|a - b| <= rtol * max(|a|, |b|)``.
    ignore : str
        Regular expression; leaves whose path matches it are skipped
        (default: seconds, memory, the machine and the date).

    Returns
    -------
    list of (path, before value, after value)
        Empty when they agree; a missing leaf reads ``"<missing>"``.
    """
    pattern = re.compile(ignore)
    a = {p: v for p, v in _leaves(before) if not pattern.search(p)}
    b = {p: v for p, v in _leaves(after) if not pattern.search(p)}
    out = []
    for path in sorted(set(a) | set(b)):
        x, y = a.get(path, "<missing>"), b.get(path, "<missing>")
        if isinstance(x, float) and isinstance(y, float):
            if x != y and abs(x - y) > rtol * max(abs(x), abs(y)):
                out.append((path, x, y))
        elif x != y:
            out.append((path, x, y))
    return out


def same_versions(before: dict, after: dict) -> bool:
    """Whether two payloads were computed with the same numerical packages.

    Parameters
    ----------
    before, after : dict
        Benchmark payloads (their ``machine`` entries are compared).

    Returns
    -------
    bool
        True when numpy, scipy, cvxpy, clarabel, scs and torch versions agree.
    """
    keys = ("numpy", "scipy", "cvxpy", "clarabel", "scs", "torch")
    a, b = before.get("machine", {}), after.get("machine", {})
    return all(a.get(k) == b.get(k) for k in keys)


def _leaves(obj: object, path: str = "") -> Iterable[tuple[str, object]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, obj


# --------------------------------------------------------------------------- #
# Output files
# --------------------------------------------------------------------------- #
def json_ready(obj: object) -> object:
    """:func:`cvxcnn.results.json_ready` writing infinities as ``"inf"``/``"-inf"``."""
    return to_json_ready(obj, infinity="text")


def write_json(path: str | Path, payload: object) -> object:
    """Write ``json_ready(payload)`` (indented, parent folders created); return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ready = json_ready(payload)
    path.write_text(json.dumps(ready, indent=1) + "\n", encoding="utf-8")
    return ready


def _csv_value(value: object) -> object:
    value = json_ready(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def write_csv(path: str | Path, rows: Sequence[dict]) -> None:
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
    """A summary table: a title, column keys with headers, and rows of dicts.

    Attributes
    ----------
    title : str
    columns : list of (key, header)
    rows : list of dict
        Missing keys show as ``-``.
    note : str
        A paragraph under the table.
    """

    title: str
    columns: list[tuple[str, str]]
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def to_markdown(self) -> str:
        """The table as Markdown, under a ``####`` heading."""
        head = "| " + " | ".join(h for _, h in self.columns) + " |"
        sep = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in self.columns) + " |" for r in self.rows]
        text = [f"#### {self.title}", "", head, sep, *body]
        if self.note:
            text += ["", self.note]
        return "\n".join(text) + "\n"

    def to_dict(self) -> dict:
        """Title, column keys, headers, rows (restricted to the columns) and note."""
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

    Returns
    -------
    dict
    """
    out = Path(out_dir)
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
    payload = write_json(out / f"{name}.json", payload)
    write_csv(out / f"{name}.csv", runs)
    md = [f"### {name} (size {config.get('size')}, seed {config.get('seed')}, {seconds:.0f} s)"]
    md += ["", *[t.to_markdown() for t in tables]]
    (out / f"{name}.md").write_text("\n".join(md), encoding="utf-8")
    return payload


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend (imported only now)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7})
    return plt


def save_figure(fig: Any, out_dir: str | Path, filename: str) -> str:
    """Save a compact PNG at :data:`DPI` and close the figure.

    The rendering is reduced to a 256-colour palette (Pillow) and written
    optimized and without metadata: about a third of matplotlib's RGBA PNG.

    Returns
    -------
    str
        ``filename``.
    """
    import io

    from PIL import Image

    plt = pyplot()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    buf.seek(0)
    with Image.open(buf) as image:
        image.convert("RGB").quantize(256).save(Path(out_dir) / filename, optimize=True)
    return filename


def set_log_xticks(ax: Any, values: Iterable[float]) -> None:
    """Label a log x axis with exactly ``values`` (plain numbers, no minor labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    vals = sorted({float(v) for v in values if v is not None})
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(vals, [f"{v:g}" for v in vals])
