"""The ``cvxcnn bench`` subcommand.

Registered by :mod:`cvxcnn.cli` through :func:`add_bench_parser`; the handler
is :func:`run_bench`. Example::

    cvxcnn bench scaling --out bench-out
    cvxcnn bench all --out bench-out --size paper --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cvxcnn.bench import BENCHMARKS, SIZES, run_benchmark

EXIT_BAD_INPUT = 2


def add_bench_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand (handler :func:`run_bench`) to ``subparsers``.

    It needs only :data:`cvxcnn.bench.BENCHMARKS`, :data:`cvxcnn.bench.SIZES` and
    :func:`cvxcnn.bench.run_benchmark`; the CLI package may define its own.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``bench`` parser.
    """
    p = subparsers.add_parser(
        "bench",
        help="run a benchmark (scaling, gap, ablation, robustness, mri, or all)",
        description=(
            "Run a benchmark and write NAME.json, NAME.csv, NAME.md and NAME_*.png into --out. "
            "Sizes: tiny (seconds, for tests), default (a few minutes each on 2 cores), "
            "paper (long)."
        ),
    )
    p.add_argument("name", choices=(*BENCHMARKS, "all"), help="which benchmark")
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder")
    p.add_argument("--size", choices=SIZES, default="default", help="problem sizes")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(handler=run_bench)
    return p


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark(s) named in ``args``; returns the exit status (0 on success)."""
    if args.seed < 0:
        print(f"cvxcnn bench: error: --seed must be >= 0; got {args.seed}", file=sys.stderr)
        return EXIT_BAD_INPUT
    names = BENCHMARKS if args.name == "all" else (args.name,)
    for name in names:
        start = time.perf_counter()
        payload = run_benchmark(
            name, args.out, size=args.size, seed=args.seed, progress=not args.quiet
        )
        if not args.quiet:
            print((Path(args.out) / f"{name}.md").read_text(encoding="utf-8"))
            print(
                f"{name}: {time.perf_counter() - start:.1f} s; wrote {name}.json, {name}.csv, "
                f"{name}.md, {', '.join(payload.get('figures', []))} in {args.out}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m cvxcnn.bench.cli_bench NAME ...``)."""
    parser = argparse.ArgumentParser(prog="cvxcnn")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
