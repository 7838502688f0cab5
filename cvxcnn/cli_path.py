"""``cvxcnn path``: the convex optimum for many ``beta`` values, by active set.

Builds the problem and the pattern set exactly as ``cvxcnn solve`` does (same
flags), then runs :func:`cvxcnn.path.solve_path`, prints one line per beta,
and writes the JSON (``--out``) and a compact plot of objective and working
set size against beta (``--plot``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _betas_arg(text: str) -> float:
    value = float(text)
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"every beta must be a finite number > 0; got {text!r}")
    return value


def add_path_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn path`` (``handler=run_path``)."""
    from cvxcnn.cli import _add_data_args, _add_model_args, _add_solver_args

    p = subparsers.add_parser(
        "path", help="solve for many beta values, warm-started by active set; write JSON"
    )
    _add_data_args(p)
    _add_model_args(p)
    _add_solver_args(p)
    g = p.add_argument_group("path")
    g.add_argument(
        "--betas",
        type=_betas_arg,
        nargs="+",
        default=None,
        help="beta values, solved in this order (default: 10 from 1 down to 1e-3)",
    )
    g.add_argument(
        "--initial-patterns", type=int, default=50, help="first working set (default 50)"
    )
    g.add_argument(
        "--tol", type=float, default=1e-4, help="oracle tolerance on beta (default 1e-4)"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON result file")
    p.add_argument("--plot", type=Path, default=None, help="PNG: objective and working set")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=run_path)
    return p


def _plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.loglog(result.betas, result.objectives, "o-", label="objective")
    ax.set_xlabel("beta")
    ax.set_ylabel("convex optimum")
    twin = ax.twinx()
    twin.semilogx(result.betas, [p.working_set for p in result.points], "s--", color="C1")
    twin.set_ylabel("working-set patterns", color="C1")
    ax.set_title(f"{result.n_patterns} patterns, {result.seconds:.1f} s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_path(args: argparse.Namespace) -> int:
    """Run ``cvxcnn path``; returns the exit code."""
    from cvxcnn.cells import make_cells
    from cvxcnn.cli import (
        EXIT_NOT_OPTIMAL,
        _parse_solver_options,
        load_data_from_args,
        loss_from_args,
        write_json,
    )
    from cvxcnn.estimator import ConvexReLUCNN
    from cvxcnn.path import solve_path

    if args.backend != "cvxpy":
        raise ValueError("cvxcnn path builds its working-set programs with CVXPY; drop --backend")
    betas = args.betas if args.betas is not None else list(np.logspace(0, -3, 10))
    data = load_data_from_args(args)
    model = ConvexReLUCNN(
        args.kernel,
        patterns=args.patterns,
        data_directed=args.data_directed,
        residual=args.residual,
        bias=args.bias,
        stride=args.stride,
        padding=args.padding,
        max_cells=args.max_cells,
        random_state=args.seed,
    )
    problem = model._make_problem(data.noisy, data.clean, data.spatial_dims)
    start = time.perf_counter()
    patterns = make_cells(
        problem.Y,
        args.patterns,
        data_directed=args.data_directed,
        random_state=args.seed,
        max_cells=args.max_cells,
    )
    pattern_seconds = time.perf_counter() - start
    result = solve_path(
        problem,
        patterns,
        betas,
        loss=loss_from_args(args),
        tol=args.tol,
        initial=args.initial_patterns,
        facets=args.facets,
        solver=args.solver,
        solver_options=_parse_solver_options(args.solver_option),
        progress=not args.quiet,
        n_jobs=args.jobs,
    )
    payload = result.to_dict()
    payload.update(
        {
            "data": args.data,
            "images": data.n_images,
            "kernel": args.kernel,
            "seed": args.seed,
            "n": problem.n,
            "d": problem.d,
            "pattern_seconds": pattern_seconds,
        }
    )
    if args.out is not None:
        write_json(args.out, payload)
    if args.plot is not None:
        _plot(result, args.plot)
    if not args.quiet:
        kind = "global optimum" if result.exact_arrangement else "optimum over the pattern set"
        print(f"{result.n_patterns} patterns ({kind}), {result.seconds:.1f} s in all")
        for p in result.points:
            print(
                f"beta {p.beta:.4g}: objective {p.fit.objective:.8g}, {p.rounds} round(s), "
                f"working set {p.working_set}, active {p.fit.active_patterns}, "
                f"set gap {p.set_gap:.2e}, {p.seconds:.2f} s"
                + ("" if p.converged else "  NOT CONVERGED")
            )
    if not all(p.converged and p.fit.success for p in result.points):
        print("cvxcnn: warning: some betas did not converge (see the JSON)", file=sys.stderr)
        return EXIT_NOT_OPTIMAL
    return 0
