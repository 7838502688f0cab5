"""Run every cvxcnn benchmark; same as ``cvxcnn bench all``.

Usage::

    python benchmarks/run_all.py --out bench-out [--size tiny|default|paper] [--seed 0]
        [--only scaling gap ...] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cvxcnn.bench import BENCHMARKS, SIZES, run_benchmark


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    timings = {}
    for name in args.only:
        start = time.perf_counter()
        run_benchmark(name, args.out, size=args.size, seed=args.seed, progress=not args.quiet)
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.1f} s -> {args.out}/{name}.json", flush=True)
    print("total: " + f"{sum(timings.values()):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
