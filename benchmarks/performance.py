"""Before/after timings of the performance work (issues #7 and #8) on digits.

Every case runs in a fresh ``spawn`` process (its own peak RSS) on the digits
problem of the issues: 4 noisy 8x8 digits (n = 256 patches), 3x3 kernels
(d = 9), squared loss, ``P`` Gaussian-sampled sign patterns.

Single solves at ``beta = 1e-3`` (the variants):

- ``before``: every sign row, Clarabel's own ``auto`` factorization choice
  (cvxcnn's defaults before this work);
- ``full``: every sign row, QDLDL (today's factorization, no reduction);
- ``facets``: facet-reduced rows (Qhull, one process), QDLDL (today's default);
- ``facets-2proc``: the same with the reduction in every CPU's process;
- ``facets-direct``: that program assembled without CVXPY.

Beta paths over 10 betas from 1 down to 1e-3:

- ``path-dpp``: :func:`cvxcnn.fit.fit_relu_path` (DPP parameter, every
  pattern and row at every beta: the "before");
- ``path-active``: :func:`cvxcnn.path.solve_path` (active set + oracle,
  facet-reduced working sets, reduction in every CPU's process).

Usage::

    python benchmarks/performance.py --out benchmarks/results/performance.json
    python benchmarks/performance.py --single 4000 --variants facets --paths   # memory
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from cvxcnn.bench._common import run_isolated

BETA = 1e-3
BETAS = list(np.logspace(0, -3, 10))
VARIANTS = {
    "before": dict(facets="off", solver_options={"direct_solve_method": "auto"}),
    "full": dict(facets="off"),
    "facets": dict(facets="auto"),
    "facets-2proc": dict(facets="auto", n_jobs=-1),
    "facets-direct": dict(facets="auto", backend="direct", n_jobs=-1),
}


def _problem(n_patterns: int):
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.data import load_digits
    from cvxcnn.problem import make_problem

    data = load_digits(4, noise=0.25, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    return problem, sample_relu_patterns(problem.Y, n_patterns, random_state=0)


def single_task(n_patterns: int, variant: str) -> dict:
    """One ``fit_relu`` at ``BETA``; runs in the child process."""
    from cvxcnn.fit import fit_relu

    problem, patterns = _problem(n_patterns)
    start = time.perf_counter()
    fit = fit_relu(problem, patterns, beta=BETA, **VARIANTS[variant])
    wall = time.perf_counter() - start
    return {
        "status": fit.status,
        "objective": fit.objective,
        "iterations": fit.solve.iterations,
        "constraint_rows": fit.constraint_rows,
        "constraint_rows_full": 2 * problem.n * len(patterns),
        "facet_seconds": fit.facets.get("seconds", 0.0),
        "facet_rounds": fit.facets.get("rounds", 0),
        "compile_seconds": fit.solve.compile_seconds,
        "solve_seconds": fit.solve.solve_seconds,
        "seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def path_task(n_patterns: int, variant: str) -> dict:
    """A 10-beta path; runs in the child process."""
    from cvxcnn.fit import fit_relu_path
    from cvxcnn.path import solve_path

    problem, patterns = _problem(n_patterns)
    start = time.perf_counter()
    if variant == "path-dpp":
        fits = fit_relu_path(problem, patterns, BETAS)
        objectives = [f.objective for f in fits]
        extra = {"iterations": sum(f.solve.iterations for f in fits)}
    else:
        result = solve_path(problem, patterns, BETAS, n_jobs=-1)
        objectives = list(result.objectives)
        extra = {
            "rounds": sum(p.rounds for p in result.points),
            "max_working_set": max(p.working_set for p in result.points),
            "converged": all(p.converged for p in result.points),
            "facet_seconds": result.facets.get("seconds", 0.0),
        }
    return {
        "objectives": objectives,
        "objective": objectives[-1],
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra,
    }


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--paths", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--dpp-max", type=int, default=300, help="largest P for path-dpp")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=Path("performance.json"))
    args = parser.parse_args()
    runs = []
    for p in args.single:
        for variant in args.variants:
            res = run_isolated(
                single_task, {"n_patterns": p, "variant": variant}, timeout=args.timeout
            )
            runs.append({"case": "single", "P": p, "variant": variant, **res})
            print(json.dumps(runs[-1]), flush=True)
    for p in args.paths:
        for variant in ("path-dpp", "path-active"):
            if variant == "path-dpp" and p > args.dpp_max:
                continue
            res = run_isolated(
                path_task, {"n_patterns": p, "variant": variant}, timeout=args.timeout
            )
            runs.append({"case": "path", "P": p, "variant": variant, **res})
            print(json.dumps(runs[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"beta": BETA, "betas": BETAS, "runs": runs}, indent=1))
    cols = [
        "case", "P", "variant", "status", "objective", "iterations", "constraint_rows",
        "facet_seconds", "compile_seconds", "solve_seconds", "seconds", "peak_rss_mb",
    ]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in runs:
        print("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")


if __name__ == "__main__":
    main()
