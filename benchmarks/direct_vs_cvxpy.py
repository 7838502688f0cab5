"""Time the eq. 4 ReLU program end to end: the CVXPY path vs the direct Clarabel path.

Problem: 4 noisy 8x8 digits (``load_digits(4, noise=0.25, random_state=0)``),
3x3 kernel, identity readout (n = 256, d = 9), ``P`` sampled Gaussian
patterns (``sample_relu_patterns(Y, P, random_state=0)``), squared loss.
Both paths solve the SAME program with every sign row (no facet reduction)
and Clarabel's default settings:

- ``cvxpy``: :func:`cvxcnn.programs.relu.build_relu_program` (expressions),
  :func:`cvxcnn.solve.solve_cvxpy` (canonicalization, then Clarabel),
  :func:`cvxcnn.programs.relu_result.result_from_program` (reconstruction, KKT);
- ``direct``: :func:`cvxcnn.programs.relu_direct.fit_relu_direct`
  (scipy.sparse assembly, Clarabel, reconstruction, KKT).

"setup" is build + compile for CVXPY and the matrix assembly for the direct
path; "solve" is the solver call (construction + ``solve()``) in both;
"total" is the wall time of the whole fit, post-processing included.

Usage::

    python benchmarks/direct_vs_cvxpy.py --out direct_vs_cvxpy.json [--patterns 100 300 1000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from cvxcnn.arrangements import sample_relu_patterns
from cvxcnn.data import load_digits
from cvxcnn.problem import PatchProblem, make_problem
from cvxcnn.programs.relu import build_relu_program
from cvxcnn.programs.relu_direct import build_relu_conic, fit_relu_direct
from cvxcnn.programs.relu_result import result_from_program
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import solve_cvxpy

PATHS = ("cvxpy", "direct")


def _fit_cvxpy(problem: PatchProblem, patterns: object, beta: float) -> ConvexFitResult:
    program = build_relu_program(problem, patterns, beta=beta)
    info = solve_cvxpy(program.problem, "CLARABEL")
    return result_from_program(program, info, exact=False)


def _fit_direct(problem: PatchProblem, patterns: object, beta: float) -> ConvexFitResult:
    return fit_relu_direct(problem, patterns, beta=beta)


def run_one(problem: PatchProblem, patterns: object, path: str, beta: float) -> dict:
    """One end-to-end fit; returns the timings and the result's summary."""
    gc.collect()
    start = time.perf_counter()
    res = (_fit_cvxpy if path == "cvxpy" else _fit_direct)(problem, patterns, beta)
    total = time.perf_counter() - start
    if path == "cvxpy":
        setup = res.build_seconds + res.solve.compile_seconds
    else:  # build_seconds == compile_seconds == the assembly: count it once
        setup = res.solve.compile_seconds
    return {
        "path": path,
        "patterns": res.n_patterns,
        "status": res.status,
        "setup_seconds": setup,
        "build_seconds": res.build_seconds,
        "compile_seconds": res.solve.compile_seconds,
        "solve_seconds": res.solve.solve_seconds,
        "post_seconds": total - setup - res.solve.solve_seconds,
        "total_seconds": total,
        "iterations": res.solve.iterations,
        "objective": res.objective,
        "primal_objective": res.primal_objective,
        "sign_violation": res.sign_violation,
        "gap_rel": res.solve.solver_stats.get("gap_rel"),
        "neurons": res.neurons,
    }


def _markdown(rows: list[dict]) -> str:
    lines = [
        "| P | path | setup s | solve s | total s | iters | objective | rel. diff vs cvxpy |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    ref = {r["patterns"]: r["objective"] for r in rows if r["path"] == "cvxpy"}
    for r in rows:
        base = ref.get(r["patterns"])
        diff = "" if base is None else f"{(r['objective'] - base) / abs(base):.1e}"
        lines.append(
            f"| {r['patterns']} | {r['path']} | {r['setup_seconds']:.2f} | "
            f"{r['solve_seconds']:.2f} | {r['total_seconds']:.2f} | {r['iterations']} | "
            f"{r['objective']:.10g} | {diff} |"
        )
    return "\n".join(lines)


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "cvxpy", "clarabel"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--out", type=Path, default=Path("direct_vs_cvxpy.json"))
    parser.add_argument("--beta", type=float, default=1e-3)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    args = parser.parse_args(argv)

    data = load_digits(4, noise=0.25, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    rows = []
    for P in args.patterns:
        patterns = sample_relu_patterns(problem.Y, P, random_state=0)
        conic = build_relu_conic(problem, patterns, beta=args.beta)
        size = {"rows": conic.A.shape[0], "columns": conic.A.shape[1], "nnz": int(conic.A.nnz)}
        del conic
        for path in args.paths:
            row = run_one(problem, patterns, path, args.beta)
            row["standard_form"] = size
            rows.append(row)
            print(
                f"P={row['patterns']} {path}: setup {row['setup_seconds']:.2f} s, "
                f"solve {row['solve_seconds']:.2f} s, total {row['total_seconds']:.2f} s, "
                f"objective {row['objective']:.10g} ({row['status']})",
                file=sys.stderr,
                flush=True,
            )
    report = {
        "benchmark": "direct_vs_cvxpy",
        "problem": {
            "data": "load_digits(4, noise=0.25, random_state=0)",
            "kernel_size": 3,
            "n": problem.n,
            "d": problem.d,
            "beta": args.beta,
            "loss": "squared",
            "patterns": "sample_relu_patterns(Y, P, random_state=0)",
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": _versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=_json_default))
    print(_markdown(rows))
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
