"""Run every benchmark at size "tiny" (seed 0) and compare with the recorded payloads.

The reference payloads in ``benchmarks/results/smoke/`` were written by the
benchmarks before their shared runner/report refactor (commit 302a3e4, the
scaling benchmark in-process). Every number but timings and memory must agree
to ``--rtol`` (default 1e-8 relative); with other numpy/scipy/cvxpy/clarabel/
scs/torch versions than the reference's, differences are reported but the
exit status stays 0.

Usage::

    python benchmarks/check_smoke.py --out /tmp/smoke [--only gap mri] [--record]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from cvxcnn.bench import BENCHMARKS
from cvxcnn.bench.report import payload_differences, same_versions

REFERENCE = Path(__file__).resolve().parent / "results" / "smoke"


def run_tiny(name: str, out: Path) -> dict:
    """The tiny, seed-0 payload of one benchmark (scaling solves in this process)."""
    from cvxcnn.bench import run_benchmark

    if name == "scaling":  # the reference's solver set, whatever else is installed now
        from cvxcnn.bench import scaling

        reference = json.loads((REFERENCE / "scaling.json").read_text())
        solvers = scaling.extra_solvers_of(reference)
        return scaling.run(
            out, size="tiny", seed=0, progress=False, isolate=False, extra_solvers=solvers
        )
    return run_benchmark(name, out, size="tiny", seed=0, progress=False)


def main(argv: list[str] | None = None) -> int:
    """Run, compare, print the differences; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--record", action="store_true", help="overwrite the reference")
    args = parser.parse_args(argv)
    failed = False
    for name in args.only:
        payload = run_tiny(name, args.out)
        if args.record:
            args.reference.mkdir(parents=True, exist_ok=True)
            shutil.copy(args.out / f"{name}.json", args.reference / f"{name}.json")
            continue
        reference = json.loads((args.reference / f"{name}.json").read_text(encoding="utf-8"))
        diffs = payload_differences(reference, payload, rtol=args.rtol)
        strict = same_versions(reference, payload)
        failed |= bool(diffs) and strict
        print(f"{name}: {len(diffs)} differences" + ("" if strict else " (other versions)"))
        for path, before, after in diffs[:20]:
            print(f"  {path}: {before!r} -> {after!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
