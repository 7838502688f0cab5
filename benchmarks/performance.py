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
- ``facets-direct``: that program assembled without CVXPY;
- ``working-set``: :func:`cvxcnn.fitting.fit` with ``strategy="working_set"`` (issue #17:
  growing working sets until the oracle finds no violated cell of the whole set;
  ``set_gap`` is the rigorous relative gap over the whole set). Every other variant
  pins ``strategy="full"`` (one program over every pattern).

The facet rule (issue #17, ``--dense-repeats R``): dense Gaussian data,
n = 400, d = 10, P = 500, ``facets="off"`` and the default ``"auto"``
interleaved R times (``cpu_seconds`` is the process's CPU time, which other
processes on a shared machine do not inflate).

Beta paths over 10 betas from 1 down to 1e-3:

- ``path-dpp``: :func:`cvxcnn.path.solve_path` with ``working_set=False,
  facets="off"`` (every pattern and row at every beta: the "before"; it
  was a DPP re-solve when the committed results were taken);
- ``path-active``: :func:`cvxcnn.path.solve_path` (active set + oracle,
  facet-reduced working sets, reduction in every CPU's process).

Usage::

    python benchmarks/performance.py --out benchmarks/results/performance.json
    python benchmarks/performance.py --single 4000 --variants facets --paths   # memory
    python benchmarks/performance.py --single 1000 2000 --variants facets working-set \
        --paths --dense-repeats 3 --out benchmarks/results/performance_ws.json  # issue #17
    python benchmarks/performance.py --config ws --out ws.json  # full vs working set, P 1000/3200
    python benchmarks/performance.py --config scnn --out scnn.json  # needs cvxcnn[bench-scnn]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from cvxcnn.bench.report import Table, machine_info, write_json
from cvxcnn.bench.runner import run_isolated

BETA = 1e-3
BETAS = list(np.logspace(0, -3, 10))
FULL = dict(strategy="full")
VARIANTS = {
    "before": dict(facets="off", solver_options={"direct_solve_method": "auto"}, **FULL),
    "full": dict(facets="off", **FULL),
    "facets": dict(facets="auto", **FULL),
    "facets-2proc": dict(facets="auto", n_jobs=-1, **FULL),
    "facets-direct": dict(facets="auto", backend="direct", n_jobs=-1, **FULL),
    "working-set": dict(facets="auto", strategy="working_set"),
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
    from cvxcnn.fitting import fit_relu

    problem, patterns = _problem(n_patterns)
    start, cpu = time.perf_counter(), time.process_time()
    fit = fit_relu(problem, patterns, beta=BETA, **VARIANTS[variant])
    wall = time.perf_counter() - start
    ws = fit.working_set
    return {
        **working_set_times(ws),
        "cpu_seconds": time.process_time() - cpu,
        "set_gap": ws.get("set_gap"),
        "ws_rounds": ws.get("rounds"),
        "ws_program_cells": ws.get("program_cells"),
        "active_patterns": fit.active_patterns,
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


def working_set_times(ws: dict) -> dict:
    """Where a working-set solve's CPU time went: solves, oracle, polish (from its history)."""
    if not ws:
        return {}
    rounds = [h for h in ws["history"] if h.get("phase", "round") == "round"]
    polish = [h for h in ws["history"] if str(h.get("phase")).startswith("polish")]
    return {
        "ws_fit_cpu": sum(h["fit_cpu_seconds"] for h in rounds),
        "ws_oracle_cpu": sum(h["oracle_cpu_seconds"] for h in ws["history"]),
        "ws_polish_cpu": sum(h["fit_cpu_seconds"] for h in polish),
        "ws_polish_solves": len(polish),
        "ws_compile_wall": sum(h.get("compile_seconds", 0.0) for h in ws["history"]),
        "ws_solve_wall": sum(h.get("solve_seconds", 0.0) for h in ws["history"]),
        "ws_iterations": sum(h["iterations"] for h in ws["history"]),
        "ws_max_ratio": ws["max_ratio"],
        "ws_fallback": ws["fallback"],
    }


def path_task(n_patterns: int, variant: str) -> dict:
    """A 10-beta path; runs in the child process."""
    from cvxcnn.path import solve_path

    problem, patterns = _problem(n_patterns)
    start = time.perf_counter()
    if variant == "path-dpp":
        fits = solve_path(problem, patterns, BETAS, working_set=False, facets="off").fits
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


def dense_task(facets: str, n_patterns: int = 500) -> dict:
    """One default ``fit`` on dense n = 400, d = 10 data, P patterns; runs in the child process."""
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.fitting import fit

    problem = dense_data(400, 10)
    patterns = sample_relu_patterns(problem.Y, n_patterns, random_state=0)
    start, cpu = time.perf_counter(), time.process_time()
    result = fit(problem, patterns, beta=BETA, facets=facets)
    return {
        "status": result.status,
        "objective": result.objective,
        "iterations": result.solve.iterations,
        "constraint_rows": result.constraint_rows,
        "facet_seconds": result.facets.get("seconds", 0.0),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


def dense_data(n: int, d: int):
    """Dense Gaussian ``Y`` (n, d) and a noisy one-neuron target (the issue's dense cases)."""
    from cvxcnn.problem import problem_from_matrix

    rng = np.random.default_rng(0)
    Y = rng.standard_normal((n, d))
    target = np.maximum(Y @ rng.standard_normal(d), 0) + 0.1 * rng.standard_normal(n)
    return problem_from_matrix(Y, target)


def scnn_task(n: int, d: int, n_patterns: int, solver: str) -> dict:
    """cvxcnn (``solver="cvxcnn"``) or scnn's augmented Lagrangian (``"scnn"``) on the SAME cells.

    scnn (pilancilab, ``pip install pyscnn``) gets the sampled cells' generators as its gates,
    so both solve eq. 4 over the same ``D_i``; its objective ``||.||^2 / (2 n) + lam sum ||.||``
    is cvxcnn's divided by ``n`` (``lam = beta / n``). Its solution is re-evaluated with
    cvxcnn's objective and sign rows. One thread each; runs in the child process.
    """
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.fitting import fit

    problem = dense_data(n, d)
    Y, x = problem.Y, problem.target
    cells = sample_relu_patterns(Y, n_patterns, random_state=0)
    masks, same_cells = np.asarray(cells.masks, dtype=bool), True
    start, cpu = time.perf_counter(), time.process_time()
    if solver == "cvxcnn":
        res = fit(problem, cells, beta=BETA, strategy="full")
        W, Z, status = res.W, res.Z, res.status
    else:
        import torch
        from scnn.metrics import Metrics
        from scnn.models import ConvexReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import AL

        torch.set_num_threads(1)
        G = cells.generators.T  # (d, P): scnn's D_i = diag(X g_i >= 0)
        model = ConvexReLU(G)
        model, _ = optimize_model(
            model, AL(model), Metrics(), Y, x[:, None], regularizer=NeuronGL1(BETA / n),
            unitize_data=False, dtype="float64", return_convex=True,
        )  # fmt: skip
        W, Z, status = model.parameters[0][0].T, model.parameters[1][0].T, "scnn-al"
        given = {row.tobytes() for row in masks}
        masks = model.compute_activations(Y).T.astype(bool)  # scnn's own order of the cells
        same_cells = {row.tobytes() for row in masks} == given and len(masks) == len(given)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    pred = (Y @ (W - Z) * masks.T).sum(axis=1)
    norms = np.linalg.norm(W, axis=0).sum() + np.linalg.norm(Z, axis=0).sum()
    signs = 2.0 * masks.T - 1.0
    scale = max(np.abs(Y @ W).max(), np.abs(Y @ Z).max(), 1e-300)
    violation = max(np.maximum(-signs * (Y @ W), 0).max(), np.maximum(-signs * (Y @ Z), 0).max())
    return {
        "status": status,
        "objective": 0.5 * float(np.sum((pred - x) ** 2)) + BETA * float(norms),
        "sign_violation": float(violation / scale),
        "same_cells": same_cells,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }


def scnn_available() -> bool:
    """Whether scnn (``pip install pyscnn``) imports."""
    try:
        import scnn.optimize  # noqa: F401
    except ImportError:
        return False
    return True


COLUMNS = (
    "case", "P", "variant", "status", "objective", "iterations", "constraint_rows",
    "facet_seconds", "compile_seconds", "solve_seconds", "seconds", "cpu_seconds",
    "set_gap", "ws_rounds", "ws_program_cells", "ws_fit_cpu", "ws_oracle_cpu", "ws_polish_cpu",
    "peak_rss_mb", "n", "d", "sign_violation",
)  # fmt: skip
#: ``--config ws`` (issue #17): full program vs working set at each P, interleaved.
CONFIGS = {
    "ws": dict(single=[1000, 3200], variants=["facets", "working-set"], paths=[]),
    "scnn": dict(single=[], paths=[], scnn=[[100, 5, 200], [400, 10, 500]]),
}


def ratios(runs: list[dict]) -> list[dict]:
    """Per ``P``: working set over full program (CPU, wall); per ``(n, d, P)``: scnn over cvxcnn."""
    out = []
    for p in sorted({r["P"] for r in runs if r["case"] == "single"}):
        by = {r["variant"]: r for r in runs if r["case"] == "single" and r["P"] == p}
        full, ws = by.get("facets"), by.get("working-set")
        if full and ws and full.get("cpu_seconds") and ws.get("cpu_seconds"):
            out.append(
                {
                    "P": p,
                    "cpu_ratio": ws["cpu_seconds"] / full["cpu_seconds"],
                    "wall_ratio": ws["seconds"] / full["seconds"],
                    "objective_rel_diff": abs(ws["objective"] - full["objective"])
                    / abs(full["objective"]),
                    "set_gap": ws["set_gap"],
                }
            )
    for key in sorted({(r["n"], r["d"], r["P"]) for r in runs if r["case"] == "scnn"}):
        same = [r for r in runs if r["case"] == "scnn" and (r["n"], r["d"], r["P"]) == key]
        by = {r["variant"]: r for r in same}
        ours, theirs = by.get("cvxcnn"), by.get("scnn")
        if ours and theirs and ours.get("objective") and theirs.get("objective"):
            out.append(
                {
                    "P": key,
                    "scnn_cpu_ratio": theirs["cpu_seconds"] / ours["cpu_seconds"],
                    "scnn_above": (theirs["objective"] - ours["objective"]) / ours["objective"],
                    "scnn_sign_violation": theirs["sign_violation"],
                }
            )
    return out


def cases(args: argparse.Namespace) -> list[tuple[str, int, str]]:
    """``(case, P, variant)`` to run: single solves, then paths (``path-dpp`` up to ``dpp_max``)."""
    out = [("single", p, v) for p in args.single for v in args.variants]
    for p in args.paths:
        if p <= args.dpp_max:
            out.append(("path", p, "path-dpp"))
        out.append(("path", p, "path-active"))
    for n, d, p in args.scnn:
        out += [("scnn", (n, d, p), "cvxcnn"), ("scnn", (n, d, p), "scnn")]
    for _ in range(args.dense_repeats):
        out += [("dense", args.dense_patterns, "off"), ("dense", args.dense_patterns, "auto")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--paths", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--dpp-max", type=int, default=300, help="largest P for path-dpp")
    parser.add_argument("--dense-repeats", type=int, default=0, help="facet-rule repeats")
    parser.add_argument("--dense-patterns", type=int, default=500, help="P of the dense case")
    parser.add_argument(
        "--scnn", type=int, nargs=3, action="append", default=[], metavar=("N", "D", "P"),
        help="cvxcnn vs scnn (pip install pyscnn) on dense data, same cells; repeatable",
    )  # fmt: skip
    parser.add_argument("--config", choices=list(CONFIGS), help="preset (overrides the above)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=Path("performance.json"))
    args = parser.parse_args()
    if args.config:
        vars(args).update(CONFIGS[args.config])
    runs = []
    for case, p, variant in cases(args):
        if case == "scnn" and variant == "scnn" and not scnn_available():
            print("scnn skipped: not installed (pip install 'cvxcnn[bench-scnn]')", flush=True)
            continue
        if case == "scnn":
            n, d, p = p
            kwargs = {"n": n, "d": d, "n_patterns": p, "solver": variant}
            res = {"n": n, "d": d, **run_isolated(scnn_task, kwargs, timeout=args.timeout)}
        elif case == "dense":
            kwargs = {"facets": variant, "n_patterns": p}
            res = run_isolated(dense_task, kwargs, timeout=args.timeout)
        else:
            task = single_task if case == "single" else path_task
            res = run_isolated(task, {"n_patterns": p, "variant": variant}, timeout=args.timeout)
        runs.append({"case": case, "P": p, "variant": variant, **res})
        print(json.dumps(runs[-1]), flush=True)
    payload = {"beta": BETA, "betas": BETAS, "machine": machine_info(), "runs": runs}
    payload["ratios"] = ratios(runs)
    write_json(args.out, payload)
    print(Table("performance", [(c, c) for c in COLUMNS], runs).to_markdown())
    for row in payload["ratios"]:
        print(json.dumps(row, default=str))


if __name__ == "__main__":
    main()
