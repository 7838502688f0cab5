"""``cvxcnn bench``: run a benchmark of :mod:`cvxcnn.bench` (imported only when run).

The names and sizes are spelled out here so that ``import cvxcnn.cli`` does
not import the benchmark package (nor matplotlib); a test checks they equal
``cvxcnn.bench.BENCHMARKS`` and ``cvxcnn.bench.SIZES``. The files are written
into a staging folder next to ``--out`` and moved there when the run ends.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from cvxcnn.cli.common import RunContext, add_common_flags, int_arg
from cvxcnn.cli.errors import UsageError
from cvxcnn.cli.output import check_output_dir

BENCHMARK_NAMES = ("scaling", "gap", "ablation", "robustness", "mri")
BENCHMARK_NAMES += ("colorization",)
#: Benchmarks run by name only, not by ``all`` (``cvxcnn.bench.EXTRA_BENCHMARKS``).
EXTRA_NAMES = ("certify",)
SIZE_NAMES = ("tiny", "default", "paper")
#: Named configs of ``cvxcnn bench certify --config`` (``cvxcnn.bench.certify.NAMED``).
CERTIFY_CONFIGS = ("quick", "full", "digits", "frontier", "k2digits")
#: The benchmarks whose sweeps run on Dask (``cvxcnn.bench.distributed.DASK_BENCHMARKS``).
DASK_NAMES = ("ablation",)
DEFAULTS = {"out": Path("bench-out"), "size": "default", "seed": 0}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn bench``."""
    p = sub.add_parser(
        "bench",
        help="run a benchmark (scaling, gap, ablation, robustness, mri, colorization, all; "
        "or certify)",
        description="Run a benchmark and write NAME.json, NAME.csv, NAME.md and NAME_*.png "
        "into --out. Sizes: tiny (seconds, for tests), default (minutes), paper (long).",
    )
    p.add_argument(
        "name",
        choices=(*BENCHMARK_NAMES, "all", *EXTRA_NAMES),
        help="which benchmark (all: every one but certify)",
    )
    p.add_argument("--out", type=Path, help="output folder (default bench-out)")
    p.add_argument("--size", choices=SIZE_NAMES, help="problem sizes (default: default)")
    p.add_argument("--seed", type=int_arg(0), help="seed of every random choice (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the sweep's cases on Dask: a LocalCluster, or the scheduler at ADDRESS "
        '(tcp://host:8786); ablation only; needs pip install "dask[distributed]"',
    )
    p.add_argument(
        "--config",
        choices=CERTIFY_CONFIGS,
        help="certify only, instead of --size: quick (< 1 min, tests), full (crops 4x4 to one "
        "digit, ~20-30 min), digits (colgen with MIP pricing on 1, 2 and 4 digits), frontier "
        "(the 4x4 and 4x6 crops, 150 s per MIP pricing call), k2digits (2x2 kernels, 1-2 digits)",
    )
    add_common_flags(p)
    return p


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run the benchmark(s) named in ``args``; returns 0."""
    check_output_dir(args.out, "--out")
    from cvxcnn.bench import run_benchmark

    names = BENCHMARK_NAMES if args.name == "all" else (args.name,)
    scheduler = check_dask(args.dask, names)
    options = check_config(args.config, "size" in ctx.explicit, names)
    staging = ctx.outputs.stage_dir(args.out)
    for name in names:
        start = time.perf_counter()
        extra = {} if scheduler is None else {"scheduler": scheduler}
        extra |= options
        payload = run_benchmark(
            name, staging, size=args.size, seed=args.seed, progress=not args.quiet, **extra
        )
        if not args.quiet:
            print((staging / f"{name}.md").read_text(encoding="utf-8"))
            print(
                f"{name}: {time.perf_counter() - start:.1f} s; wrote {name}.json, {name}.csv, "
                f"{name}.md, {', '.join(payload.get('figures', []))} in {args.out}"
            )
    return 0


def check_config(config: str | None, size_given: bool, names: tuple[str, ...]) -> dict:
    """``--config``: certify only, and not together with ``--size``; the run's keywords."""
    if config is None:
        return {}
    if names != ("certify",):
        raise UsageError("--config", "applies to cvxcnn bench certify only (use --size)")
    if size_given:
        raise UsageError("--config", "give --config or --size, not both")
    return {"config": config}


def check_dask(address: str | None, names: tuple[str, ...]) -> str | None:
    """``--dask``: refused for benchmarks that run serially, a malformed address, or no Dask."""
    if address is None:
        return None
    if any(name not in DASK_NAMES for name in names):
        raise UsageError("--dask", f"applies to {', '.join(DASK_NAMES)} only")
    if address != "local" and "://" not in address:
        raise UsageError(
            "--dask",
            f"give no value (a LocalCluster) or a scheduler address like "
            f"tcp://host:8786; got {address!r}",
        )
    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--dask", 'needs Dask: pip install "dask[distributed]"')
    return address
