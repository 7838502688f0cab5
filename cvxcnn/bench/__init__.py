"""Benchmarks of the convex programs against the PyTorch primal baseline.

One module per benchmark, each with ``run(out_dir, size="default", seed=0,
progress=True) -> dict`` that writes ``<name>.json``, ``<name>.csv``,
``<name>.md`` and ``<name>_*.png`` into ``out_dir``:

- :mod:`cvxcnn.bench.scaling`: solve time, iterations and memory vs P, n, d;
  PyTorch time to the (certified) optimum;
- :mod:`cvxcnn.bench.gap`: digits denoising at three noise levels, ReLU and
  soft threshold, objectives, estimated lower bounds, gaps, PSNR;
- :mod:`cvxcnn.bench.ablation`: objective and certified/estimated gaps vs
  the number of sampled patterns;
- :mod:`cvxcnn.bench.robustness`: Gaussian vs exponential noise, spread of
  primal training over inits and optimizers vs the certified convex optimum;
- :mod:`cvxcnn.bench.mri`: undersampled k-space of the Shepp-Logan phantom,
  residual denoisers;
- :mod:`cvxcnn.bench.colorization`: L -> ab on bundled colour images, convex
  vs primal vs primal+chroma (RMSE(ab), chroma, RGB PSNR).
- :mod:`cvxcnn.bench.certify` (by name only, not in ``all``): sampled-pattern
  optima vs certified gaps (exact MIP oracle) vs column generation with MIP
  pricing vs the primal trainer on digit crops.

Shared machinery: :mod:`cvxcnn.bench.runner` (sizes, seeds, the sweep's
progress bar, isolated processes, machine info), :mod:`cvxcnn.bench.report`
(JSON, CSV, Markdown tables, figures) and :mod:`cvxcnn.bench.models` (data,
convex and primal fits shared by several benchmarks).

The stable entry points, used by the command line (``cvxcnn bench NAME --out
DIR [--size tiny|default|paper] [--seed S]``) and ``benchmarks/run_all.py``,
are :data:`BENCHMARKS`, :data:`SIZES` and :func:`run_benchmark`. Importing
this package imports neither a benchmark module nor matplotlib.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: Benchmark names, in the order ``run_all`` runs them.
BENCHMARKS: tuple[str, ...] = ("scaling", "gap", "ablation", "robustness", "mri")
BENCHMARKS += ("colorization",)
#: Benchmarks run only by name (time-budgeted, machine-dependent; not in ``all``).
EXTRA_BENCHMARKS: tuple[str, ...] = ("certify",)

#: Benchmark sizes: ``tiny`` (tests, seconds), ``default`` (minutes), ``paper`` (long).
SIZES: tuple[str, ...] = ("tiny", "default", "paper")

__all__ = ["BENCHMARKS", "EXTRA_BENCHMARKS", "SIZES", "run_benchmark"]


def run_benchmark(name: str, out_dir: str | Path, **options: object) -> dict:
    """Run one benchmark by name (its module is imported only now).

    Parameters
    ----------
    name : str
        One of :data:`BENCHMARKS`.
    out_dir : path
        Output folder (created).
    **options
        The benchmark's ``run`` keywords, defined once for all of them
        (:data:`cvxcnn.bench.runner.RUN_PARAMETERS`): ``size`` ("tiny",
        "default" or "paper"), ``seed``, ``progress`` (a tqdm bar on stderr)
        and ``scheduler`` (None: serially in this process; "local", an
        address or a ``distributed.Client``: the sweep's independent cases on
        Dask, ``ablation`` only; see :mod:`cvxcnn.bench.distributed`).

    Returns
    -------
    dict
        The benchmark's JSON payload.
    """
    if name not in BENCHMARKS + EXTRA_BENCHMARKS:
        names = ", ".join(BENCHMARKS + EXTRA_BENCHMARKS)
        raise ValueError(f"unknown benchmark {name!r}; choose one of {names}")
    module = importlib.import_module(f"cvxcnn.bench.{name}")
    if options.get("scheduler") is not None:
        from cvxcnn.bench.distributed import DASK_BENCHMARKS

        if name not in DASK_BENCHMARKS:
            raise ValueError(
                f"scheduler= applies to {', '.join(DASK_BENCHMARKS)}; {name!r} runs serially "
                "(drop scheduler)"
            )
    return module.run(out_dir, **options)
