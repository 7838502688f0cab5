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
import sys
import time
from pathlib import Path

from cvxcnn.arrangements import sample_relu_patterns
from cvxcnn.bench.report import Table, machine_info, relative_excess, write_json
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


def markdown(rows: list[dict]) -> str:
    """The timings as a Markdown table, objectives relative to the CVXPY path's."""
    ref = {r["patterns"]: r["objective"] for r in rows if r["path"] == "cvxpy"}
    table = [
        {
            **r,
            "objective": f"{r['objective']:.10g}",
            "rel_diff": relative_excess(r["objective"], ref.get(r["patterns"])),
        }
        for r in rows
    ]
    columns = [("patterns", "P"), ("path", "path"), ("setup_seconds", "setup s")]
    columns += [("solve_seconds", "solve s"), ("total_seconds", "total s")]
    columns += [("iterations", "iters"), ("objective", "objective")]
    columns += [("rel_diff", "rel. diff vs cvxpy")]
    return Table("direct vs cvxpy", columns, table).to_markdown()


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
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": rows,
    }
    write_json(args.out, report)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
