"""``cvxcnn solve --activation st``: the soft-threshold solve behind the command line.

- ``--threshold LAMBDA`` (fixed, Xiong et al.) or none (learnable thresholds);
- ``--st-form exact`` (program 6a) or ``paper`` (Xiong et al. eq. 22, needs
  ``--threshold``);
- ``--st-restarts K``: random restarts at fixed lambda added to the bracket;
- ``--patterns N`` samples N triples, ``--patterns exact`` enumerates every
  triple (refused above ``--max-cells``); ``--facets`` and ``--jobs`` reach
  the facet reduction of program 6a;
- ``--certify exact|sampled``: the dual lower bound of
  :func:`cvxcnn.certificates.certify` at the 6a network (every triple searched:
  certified; sampled triples: an estimate).

What ``objective`` means: for ``exact`` the 6a optimum (with
``exact_arrangement`` true, the global optimum of the learnable-threshold
network); with a threshold, ``bracket_lower``/``bracket_upper`` bracket the
fixed-lambda optimum. For ``paper`` the paper program's value;
``primal_objective`` is the TRUE soft-threshold network built from its
solution and the 6a program is solved too (``learnable_objective``).
"""

from __future__ import annotations

import argparse
import time

from cvxcnn.bracket import fixed_threshold_bracket
from cvxcnn.certificates import certify
from cvxcnn.cli.common import (
    RunContext,
    cell_set,
    certificate_lines,
    data_summary,
    max_memory,
    predict_images,
    print_lines,
    problem_spec,
    psnr_summary,
    reduction_keywords,
    save_weights,
    solver_keywords,
    training_setup,
    write_result,
)
from cvxcnn.fitting import fit_st

#: The soft-threshold activation's registered name.
ST = "soft_threshold"


def bracket_payload(bracket: object) -> dict:
    """The fixed-lambda bracket's keys in the JSON."""
    return {
        "bracket_lower": bracket.lower,
        "bracket_upper": bracket.upper,
        "bracket_gap": bracket.gap,
        "bracket_lower_kind": bracket.lower_kind,
        "bracket_upper_source": bracket.upper_source,
        "bracket": bracket.to_dict(),
    }


def fit_learnable(args: argparse.Namespace, problem: object, triples: object, kw: dict):
    """Program 6a with the ``--facets`` / ``--jobs`` reduction."""
    prune = bool(args.prune)
    keywords = {**reduction_keywords(args), "strategy": args.strategy}
    return fit_st(problem, triples, form="exact", prune=prune, **keywords, **kw)


def certify_learnable(args: argparse.Namespace, problem: object, triples: object, fit, kw):
    """``--certify``: the dual bound at the 6a network over every or sampled triples."""
    if args.certify == "exact" and triples.exact:
        cells = triples
    else:
        cells = cell_set(
            args, problem.Y, args.certify, samples=args.certify_patterns, activation=ST
        )
    return certify(fit.network, problem, cells, beta=kw["beta"], loss=kw["loss"])


def run_st(args: argparse.Namespace, ctx: RunContext) -> int:
    """Solve a soft-threshold program; write the JSON; returns the exit status."""
    start = time.perf_counter()
    threshold = args.threshold
    setup = training_setup(args, ctx.explicit, activation=ST, threshold=threshold)
    data, problem, loss, triples = setup.data, setup.problem, setup.loss, setup.cells
    kw = solver_keywords(args, loss)
    result = None
    if args.st_form == "paper":
        memory = max_memory(args)
        result = fit_st(
            problem, triples, form="paper", threshold=threshold, max_memory=memory, **kw
        )
    learnable = fit_learnable(args, problem, triples, kw)  # the bracket needs 6a either way
    result = learnable if result is None else result
    payload = {**result.to_dict(), **data_summary(args, data), "activation": "st"}
    payload |= {"st_form": args.st_form, "threshold": threshold}
    payload |= {"triples_exact": triples.exact, "triple_method": triples.method}
    payload |= {"triple_count_bound": triples.count_bound, "triple_seconds": setup.cell_seconds}
    if args.st_form == "paper":
        payload |= {"paper_objective": payload["objective"]}
        payload |= {"paper_network_objective": payload["primal_objective"]}
        payload |= {"learnable_objective": learnable.objective}
        payload |= {"learnable_status": learnable.status}
    if threshold is not None and learnable.network is not None:
        bracket = fixed_threshold_bracket(
            problem,
            triples,
            threshold,
            fit=learnable,
            n_restarts=args.st_restarts,
            random_state=args.seed,
            facets=args.facets if args.st_form == "exact" else "auto",
            **kw,
        )
        payload.update(bracket_payload(bracket))
    lines = [summary_line(payload)]
    if args.certify is not None and learnable.network is not None:
        cert = certify_learnable(args, problem, triples, learnable, kw)
        payload |= {f"certificate_{k}": v for k, v in cert.to_dict().items()}
        payload |= {"lower_bound": cert.lower_bound, "certificate": cert.certificate}
        lines += certificate_lines(cert)
    if result.network is not None:
        payload.update(psnr_summary(data, predict_images(result.network, problem), "psnr_convex"))
        fixed = threshold if args.st_form == "paper" else None  # the saved network's own
        spec = problem_spec(args, problem, loss, activation=ST, threshold=fixed)
        save_weights(args, ctx, result.network, spec)
    payload["total_seconds"] = time.perf_counter() - start
    print_lines(args, lines)
    ok = result.success and learnable.success
    return write_result(args, ctx, payload, ok)


def summary_line(payload: dict) -> str:
    """One line: status, objectives and the bracket."""
    line = f"{payload['status']}: soft-threshold ({payload['st_form']}) objective "
    line += f"{fmt(payload['objective'])}, network {fmt(payload['primal_objective'])}"
    if payload.get("bracket_lower") is not None:
        line += (
            f"; fixed-lambda bracket [{fmt(payload['bracket_lower'])}, "
            f"{fmt(payload['bracket_upper'])}]"
        )
    return line


def fmt(value: object) -> str:
    """``value`` with 6 significant digits, or ``n/a``."""
    return "n/a" if value is None else f"{value:.6g}"
