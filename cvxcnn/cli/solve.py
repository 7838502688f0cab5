"""``cvxcnn solve``: one convex solve (ReLU, column generation or soft threshold), JSON out.

Modes: the ReLU program over sampled or every cell (``--certify`` adds a
lower bound), ``--method colgen`` (certified, every cell searched by the
oracle; ReLU or, with ``--activation st``, the learnable soft-threshold
program), ``--activation st`` (soft-threshold program 6a or the paper's
eq. 22, with the fixed-lambda bracket and, with ``--certify``, the dual bound).
``--save-weights`` records the whole problem definition with the weights
(:class:`cvxcnn.problem.ProblemSpec`), so ``cvxcnn certify --weights``
rebuilds exactly the problem that was solved. A flag that does not apply to the
chosen mode is refused (exit 2), never ignored.
"""

from __future__ import annotations

import argparse
import time

from cvxcnn.arrangements import PatternStream
from cvxcnn.cli.common import (
    CONVEX_DEFAULTS,
    RunContext,
    activation_name,
    add_convex_args,
    add_oracle_time_limit,
    add_output_args,
    cell_set,
    certificate_lines,
    certify_over,
    check_jobs,
    check_solver,
    check_st_facets,
    data_summary,
    float_arg,
    int_arg,
    load_problem,
    max_memory,
    oracle_line,
    predict_images,
    print_lines,
    problem_spec,
    psnr_summary,
    reduction_keywords,
    refuse,
    save_weights,
    searched_cells,
    solver_keywords,
    solver_options,
    training_setup,
    write_result,
)
from cvxcnn.cli.errors import UsageError, one_line
from cvxcnn.cli.output import WEIGHTS_SUFFIXES, check_distinct, check_output_file
from cvxcnn.cli.solve_st import run_st
from cvxcnn.colgen import ColgenSettings, solve_colgen
from cvxcnn.colgen_stream import solve_colgen_streamed
from cvxcnn.fitting import fit_relu
from cvxcnn.mip_oracle import MipArrangement

DEFAULTS = {**CONVEX_DEFAULTS, "canon_backend": None, "backend": "cvxpy"}
DEFAULTS |= {"method": "direct", "initial_patterns": 10, "certify": None}
DEFAULTS |= {"certify_patterns": 5000, "activation": "relu", "threshold": None}
DEFAULTS |= {"st_form": "exact", "st_restarts": 0, "prune": False, "oracle_time_limit": 60.0}
DEFAULTS |= {"strategy": "auto"}
ST_FLAGS = ("threshold", "st_form", "st_restarts")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn solve``."""
    p = sub.add_parser("solve", help="solve the convex program on a data set, write JSON")
    g = add_convex_args(p)
    g.add_argument("--canon-backend", choices=("CPP", "SCIPY", "COO"), help="CVXPY backend")
    g.add_argument(
        "--backend",
        choices=("cvxpy", "direct"),
        help="'direct': Clarabel's standard form built with scipy.sparse (ReLU only)",
    )
    g = p.add_argument_group("method, certificate and activation")
    g.add_argument(
        "--method",
        choices=("direct", "colgen"),
        help="'colgen': certified solve by column generation over every cell",
    )
    g.add_argument(
        "--initial-patterns", type=int_arg(1), help="colgen starting patterns (default 10)"
    )
    g.add_argument(
        "--certify",
        choices=("exact", "sampled"),
        help="also bound the global optimum from below: 'exact' searches every cell "
        "(certified), 'sampled' --certify-patterns sampled cells (an estimate)",
    )
    g.add_argument("--certify-patterns", type=int_arg(1), help="cells for --certify sampled (5000)")
    add_oracle_time_limit(g)
    g.add_argument("--activation", choices=("relu", "st"), help="relu (default) or st")
    g.add_argument(
        "--threshold", type=float_arg(0.0), help="soft-threshold lambda (st; omit: learnable)"
    )
    g.add_argument("--st-form", choices=("exact", "paper"), help="st program (default exact)")
    g.add_argument(
        "--st-restarts", type=int_arg(0), help="fixed-lambda L-BFGS restarts (st, default 0)"
    )
    g.add_argument(
        "--prune",
        action="store_true",
        default=None,
        help="reduce the network to at most n_out + 1 neurons at the same objective",
    )
    g.add_argument(
        "--strategy",
        choices=("auto", "full", "working_set"),
        help="one program over every cell ('full') or growing working sets until no cell of "
        "the set violates its dual constraint ('working_set': same optimum, set gap reported); "
        "default auto: working sets when P >= max(500, 8 (n_out + 1))",
    )
    files = {"--out": "JSON result file", "--save-weights": "network weights file (.npz)"}
    add_output_args(p, files)
    return p


def check_relu(args: argparse.Namespace, explicit: set[str]) -> None:
    """Refuse flags the plain ReLU solve would ignore."""
    refuse(explicit, ("initial_patterns",), "it applies to --method colgen")
    refuse(explicit, ST_FLAGS, "it applies to --activation st")
    if args.certify != "sampled":
        refuse(explicit, ("certify_patterns",), "it applies to --certify sampled")
    if args.backend == "direct":
        refuse(explicit, ("canon_backend",), "--backend direct does not use CVXPY")
        if args.solver.lower() != "clarabel":
            raise UsageError("--backend", "direct builds Clarabel's program; use --solver clarabel")
        if args.loss == "logistic":
            raise UsageError("--backend", "direct has no logistic loss; use --backend cvxpy")


def check_colgen(args: argparse.Namespace, explicit: set[str]) -> None:
    """Refuse flags column generation would ignore."""
    why = "--method colgen searches every cell (its oracle) and samples nothing"
    refuse(explicit, ("patterns", "data_directed", "certify_patterns"), why)
    refuse(explicit, ("jobs", "canon_backend", "prune"), "--method colgen does not take it")
    refuse(explicit, ("strategy",), "--method colgen is its own working-set solve")
    why = "--method colgen solves the learnable-threshold program (no fixed lambda)"
    refuse(explicit, ST_FLAGS, why if args.activation == "st" else "it applies to --activation st")
    if args.backend != "cvxpy":
        raise UsageError("--backend", "--method colgen builds with CVXPY; drop --backend direct")
    if args.certify == "sampled":
        raise UsageError("--certify", "--method colgen certifies over every cell; use exact")
    if args.facets in ("hull", "lp"):
        raise UsageError("--facets", "--method colgen uses adjacency facets; use auto or off")


def check_st(args: argparse.Namespace, explicit: set[str]) -> None:
    """Refuse flags and combinations the soft-threshold solve cannot honour."""
    if args.backend == "direct":
        raise UsageError(
            "--backend", "the direct builder is ReLU-only; drop it for --activation st"
        )
    refuse(explicit, ("initial_patterns",), "it applies to --method colgen")
    if args.certify != "sampled":
        refuse(explicit, ("certify_patterns",), "it applies to --certify sampled")
    check_st_facets(args.facets)
    if args.threshold is None:
        if args.st_form == "paper":
            raise UsageError("--st-form", "paper needs --threshold LAMBDA > 0 (a fixed threshold)")
        refuse(explicit, ("st_restarts",), "restarts are for a fixed --threshold")
    if args.st_form == "paper" and args.facets not in ("auto", "off"):
        raise UsageError("--facets", "the paper program keeps every row; use auto or off")


def check(args: argparse.Namespace, explicit: set[str]) -> None:
    """Every check that needs no data: outputs, flag applicability, the solver."""
    st_direct = args.activation == "st" and args.method != "colgen"
    if args.certify != "exact" and args.method != "colgen" or st_direct:
        why = "it applies to the oracle over every cell (--certify exact, --method colgen)"
        refuse(explicit, ("oracle_time_limit",), why)
    check_output_file(args.out, "--out")
    check_output_file(args.save_weights, "--save-weights", WEIGHTS_SUFFIXES)
    check_distinct({"--out": args.out, "--save-weights": args.save_weights})
    check_jobs(args.jobs)
    if args.method == "colgen":
        check_colgen(args, explicit)
    elif args.activation == "st":
        check_st(args, explicit)
    else:
        check_relu(args, explicit)
    check_solver(args.solver, args.loss, solver_options(args))


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn solve``; returns the exit status."""
    check(args, ctx.explicit)
    if args.method == "colgen":
        return run_colgen(args, ctx)
    if args.activation == "st":
        return run_st(args, ctx)
    return run_relu(args, ctx)


def run_relu(args: argparse.Namespace, ctx: RunContext) -> int:
    """The ReLU program over sampled or every cell; ``--certify`` adds a bound."""
    start = time.perf_counter()
    setup = training_setup(args, ctx.explicit)
    data, problem, loss, patterns = setup.data, setup.problem, setup.loss, setup.cells
    cells = choice = None
    if args.certify == "exact":  # every cell, in the form the size allows, before the solve
        cells, choice = searched_cells(args, problem.Y)
        print_lines(args, [oracle_line(choice)])
    result = fit_relu(
        problem,
        patterns,
        **solver_keywords(args, loss),
        **reduction_keywords(args),
        prune=bool(args.prune),
        backend=args.backend,
        strategy=args.strategy,
    )
    payload = {**result.to_dict(), **setup.summary(args)}
    if result.network is not None:
        if args.certify is not None:
            if cells is None:
                cells = cell_set(
                    args, problem.Y, "sampled", samples=args.certify_patterns, extra=patterns
                )
            if isinstance(cells, MipArrangement):  # the solve's cells start the MIP
                cells = cells.with_known(patterns)
            cert = certify_over(result.network, problem, cells, beta=args.beta, loss=loss)
            payload.update(cert.to_dict())
            payload.update(choice.to_dict() if choice is not None else {})
            print_lines(args, certificate_lines(cert))
        prediction = predict_images(result.network, problem)
        payload.update(psnr_summary(data, prediction, "psnr_convex"))
        save_weights(
            args, ctx, result.network, problem_spec(args, problem, loss, activation="relu")
        )
    payload["total_seconds"] = time.perf_counter() - start
    print_lines(args, relu_summary(result))
    return write_result(args, ctx, payload, result.success)


def relu_summary(result: object) -> list[str]:
    """Status, objective, size and timing of a ReLU solve."""
    kind = "global optimum (every cell)" if result.exact_arrangement else "upper bound"
    lines = working_set_lines(result) + [
        f"{result.status}: objective {result.objective:.6g} ({kind}), reconstructed network "
        f"{result.primal_objective:.6g}, {result.neurons} neurons from "
        f"{result.active_patterns}/{result.n_patterns} patterns; compile "
        f"{result.solve.compile_seconds:.2f} s, solve {result.solve.solve_seconds:.2f} s"
    ]
    if result.facets:
        f = result.facets
        lines.append(
            f"sign rows {result.constraint_rows} of {2 * result.n * result.n_patterns} "
            f"(facets: {f.get('method')}, {f.get('seconds', 0.0):.2f} s, "
            f"{f.get('rounds', 0)} re-solve(s) for violated dropped rows)"
        )
    return lines


def working_set_lines(result: object) -> list[str]:
    """The working-set solve's rounds and its rigorous gap over the whole set (if one ran)."""
    ws = result.working_set
    if not ws:
        return []
    gap = ws.get("set_gap")
    return [
        f"working set: {ws['rounds']} round(s), last program {ws['program_cells']} of "
        f"{ws['cells']} cells, relative gap over the whole set "
        f"{'n/a' if gap is None else f'{gap:.2e}'}"
        + (" (did not converge: solved the full program)" if ws.get("fallback") else "")
    ]


def run_colgen(args: argparse.Namespace, ctx: RunContext) -> int:
    """Column generation over every cell (ReLU patterns or ST triples): a certified optimum."""
    start = time.perf_counter()
    data, problem, loss = load_problem(args, ctx.explicit)
    activation = activation_name(args)
    cells, choice = searched_cells(args, problem.Y, activation=activation, flag="--method")
    print_lines(args, [oracle_line(choice)])
    enumeration_seconds = time.perf_counter() - start
    info = {**data_summary(args, data), "enumeration_seconds": enumeration_seconds}
    info |= choice.to_dict()
    try:
        result = colgen_over(args, problem, cells, loss)
    except RuntimeError as exc:  # no restricted program was solved at all
        payload = {"status": "solver_error", "success": False, "message": one_line(exc)}
        payload |= {"method": "colgen", "colgen_converged": False, **info}
        return write_result(args, ctx, payload, False)
    payload = {**result.to_dict(), **info, "total_seconds": time.perf_counter() - start}
    if result.fit.network is not None:
        spec = problem_spec(args, problem, loss, activation=activation)
        save_weights(args, ctx, result.fit.network, spec)
    print_lines(
        args,
        [
            f"column generation: {len(result.iterations)} rounds, {result.patterns_used} of "
            f"{result.total_cells} cells entered the program",
            *certificate_lines(result.certificate),
        ],
    )
    # success: the restricted solve was optimal, or the certificate proves the gap within tol
    return write_result(args, ctx, payload, result.fit.success or result.converged)


def colgen_over(args: argparse.Namespace, problem: object, cells: object, loss: object) -> object:
    """:func:`solve_colgen` over ``cells``; :func:`solve_colgen_streamed` over a stream."""
    common = {
        "beta": args.beta,
        "loss": loss,
        "initial": args.initial_patterns,
        "solver": args.solver,
        "solver_options": solver_options(args) or None,
        "random_state": args.seed,
        "progress": not args.quiet,
        "max_memory": max_memory(args),
    }
    if isinstance(cells, PatternStream):
        if args.facets == "adjacency":
            raise UsageError("--facets", "a stream of cells has no adjacency; use auto or off")
        return solve_colgen_streamed(problem, ColgenSettings(**common), stream=cells)
    return solve_colgen(problem, cells, facet_reduction=args.facets != "off", **common)
