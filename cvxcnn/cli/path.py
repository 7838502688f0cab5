"""``cvxcnn path``: the convex optimum for many ``beta`` values, by active set.

Builds the problem and the pattern set exactly as ``cvxcnn solve`` does
(:mod:`cvxcnn.cli.common`), runs :func:`cvxcnn.path.solve_path`, prints one
line per beta and writes the JSON (``--out``) and a plot of objective and
working-set size against beta (``--plot``, ``.png``/``.pdf``/``.svg``; needs
matplotlib, imported only then).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from cvxcnn.cli.common import (
    CONVEX_DEFAULTS,
    RunContext,
    activation_name,
    add_convex_args,
    add_output_args,
    check_jobs,
    check_solver,
    check_st_facets,
    float_arg,
    int_arg,
    print_lines,
    reduction_keywords,
    solver_options,
    training_setup,
    write_result,
)
from cvxcnn.cli.errors import UsageError
from cvxcnn.cli.output import FIGURE_SUFFIXES, check_distinct, check_output_file
from cvxcnn.path import solve_path

DEFAULTS = {k: v for k, v in CONVEX_DEFAULTS.items() if k != "beta"}  # --betas instead
DEFAULTS |= {"betas": None}
DEFAULTS |= {"initial_patterns": 50, "tol": 1e-4, "activation": "relu"}
#: ``--betas`` when not given: 10 values from 1 down to 1e-3.
DEFAULT_BETAS = tuple(float(b) for b in np.logspace(0, -3, 10))


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn path``."""
    p = sub.add_parser(
        "path", help="solve for many beta values, warm-started by active set; write JSON"
    )
    add_convex_args(p, beta=False)
    g = p.add_argument_group("path")
    g.add_argument(
        "--betas",
        type=float_arg(0.0),
        nargs="+",
        help="beta values > 0, solved in this order (default: 10 from 1 down to 1e-3)",
    )
    g.add_argument("--initial-patterns", type=int_arg(1), help="first working set (50)")
    g.add_argument(
        "--activation",
        choices=("relu", "st"),
        help="relu (default) or st: soft thresholds with learnable thresholds (triples)",
    )
    g.add_argument(
        "--tol", type=float_arg(0.0, inclusive=True), help="oracle tolerance (default 1e-4)"
    )
    files = {
        "--out": "JSON result file",
        "--plot": "figure: objective and working set (.png/.pdf/.svg)",
    }
    add_output_args(p, files)
    return p


def check(args: argparse.Namespace, explicit: set[str]) -> None:
    """Outputs, ``--jobs``, the solver and matplotlib (for ``--plot``), before any work."""
    check_output_file(args.out, "--out")
    check_output_file(args.plot, "--plot", FIGURE_SUFFIXES)
    check_distinct({"--out": args.out, "--plot": args.plot})
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot", "needs matplotlib: pip install matplotlib")
    check_jobs(args.jobs)
    check_solver(args.solver, args.loss, solver_options(args))
    if args.activation == "st":
        check_st_facets(args.facets)
    if args.betas is None:
        args.betas = list(DEFAULT_BETAS)


def plot(result: object, path: Path) -> None:
    """Objective and working-set size against beta."""
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
    fig.savefig(path)
    plt.close(fig)


def summary_lines(result: object) -> list[str]:
    """One line for the path, one per beta."""
    kind = "global optimum" if result.exact_arrangement else "optimum over the pattern set"
    lines = [f"{result.n_patterns} patterns ({kind}), {result.seconds:.1f} s in all"]
    for p in result.points:
        lines.append(
            f"beta {p.beta:.4g}: objective {p.fit.objective:.8g}, {p.rounds} round(s), "
            f"working set {p.working_set}, active {p.fit.active_patterns}, "
            f"set gap {p.set_gap:.2e}, {p.seconds:.2f} s"
            + ("" if p.converged else "  NOT CONVERGED")
        )
    return lines


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn path``; returns the exit status."""
    check(args, ctx.explicit)
    ctx.config["betas"] = list(args.betas)
    setup = training_setup(args, ctx.explicit, activation=activation_name(args))
    problem, loss = setup.problem, setup.loss
    result = solve_path(
        problem,
        setup.cells,
        args.betas,
        loss=loss,
        tol=args.tol,
        initial=args.initial_patterns,
        solver=args.solver,
        solver_options=solver_options(args),
        progress=not args.quiet,
        **reduction_keywords(args),
    )
    payload = {**result.to_dict(), **setup.summary(args), "n": problem.n, "d": problem.d}
    if args.plot is not None:
        ctx.outputs.write(args.plot, lambda tmp: plot(result, tmp))
    print_lines(args, summary_lines(result))
    ok = all(p.converged and p.fit.success for p in result.points)
    if not ok:
        payload.setdefault("message", "some betas did not converge (see points in the JSON)")
    return write_result(args, ctx, payload, ok)
