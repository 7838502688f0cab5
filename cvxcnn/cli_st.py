"""``cvxcnn solve --activation st``: the soft-threshold solve behind the command line.

:func:`run_st_solve` takes the parsed ``solve`` arguments of :mod:`cvxcnn.cli`
(data, model, pattern and solver options) plus

- ``threshold``: ``lambda > 0`` (Xiong et al.'s fixed threshold) or None
  (learnable, unpenalized thresholds);
- ``st_form``: ``"exact"`` (program 6a) or ``"paper"`` (Xiong et al. eq. 22);
- optionally ``st_restarts`` (int, default 0): random restarts at fixed
  ``lambda`` added to the bracket's upper bound;

and returns the JSON payload (the caller writes it and picks the exit code).
``--patterns N`` samples ``N`` triples, ``--patterns exact`` enumerates every
triple (refused above ``--max-cells``).

What ``objective`` means:

- ``st_form="exact"``: the 6a optimum; ``primal_objective`` is the
  reconstructed learnable-threshold network's value (they agree); with
  ``exact_arrangement`` true it is the global optimum of the
  learnable-threshold network. With a ``threshold``, ``bracket_lower`` /
  ``bracket_upper`` / ``bracket_gap`` bracket the fixed-lambda optimum.
- ``st_form="paper"``: the paper program's value (our scaling, half of
  Xiong et al.'s); ``primal_objective`` is the TRUE soft-threshold network
  with threshold lambda built from its solution (the "paper network"), and
  ``gated_objective`` the fixed-gain model the program actually fits.
  ``exact_arrangement`` is false: that program is not exact. The 6a program
  is solved too, for the bracket (``learnable_objective``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cvxcnn.soft_threshold.triples import TripleSet

_NUMBERS = (int, float)


def _get_triples(args: argparse.Namespace, Y: np.ndarray, threshold: float | None) -> TripleSet:
    from cvxcnn.soft_threshold.triples import enumerate_st_triples, sample_st_triples

    spec = args.patterns
    if spec == "exact":
        return enumerate_st_triples(Y, max_cells=args.max_cells)
    if isinstance(spec, str) or not isinstance(spec, _NUMBERS) or isinstance(spec, bool):
        raise ValueError(f"--patterns must be a positive integer or 'exact'; got {spec!r}")
    return sample_st_triples(
        Y,
        int(spec),
        threshold=threshold,
        data_directed=float(getattr(args, "data_directed", 0.0) or 0.0),
        random_state=args.seed,
    )


def _check_st_args(args: argparse.Namespace) -> tuple[float | None, str]:
    from cvxcnn.soft_threshold.programs import ST_FORMS
    from cvxcnn.validation import check_positive

    threshold = getattr(args, "threshold", None)
    form = getattr(args, "st_form", None) or "exact"
    if form not in ST_FORMS:
        raise ValueError(f"--st-form must be one of {', '.join(ST_FORMS)}; got {form!r}")
    if threshold is not None:
        threshold = check_positive(threshold, "--threshold")
    if form == "paper" and threshold is None:
        raise ValueError(
            "--st-form paper needs --threshold LAMBDA > 0 (Xiong et al.'s network has a fixed "
            "threshold); omit --st-form paper for learnable thresholds"
        )
    return threshold, form


def run_st_solve(args: argparse.Namespace) -> dict:
    """Solve a soft-threshold program from parsed ``cvxcnn solve`` arguments.

    Parameters
    ----------
    args : argparse.Namespace
        The ``solve`` arguments of :mod:`cvxcnn.cli` (``data``, ``images``,
        ``noise``, ``noise_type``, ``size``, ``seed``, ``kernel``, ``stride``,
        ``padding``, ``bias``, ``residual``, ``beta``, ``loss``,
        ``huber_delta``, ``patterns``, ``data_directed``, ``max_cells``,
        ``solver``, ``solver_option``, ``canon_backend``, ``save_weights``)
        plus ``threshold`` (float or None), ``st_form`` (``"exact"`` or
        ``"paper"``) and optionally ``st_restarts``.

    Returns
    -------
    dict
        The ReLU solve's keys (``status``, ``solver``, ``objective``,
        ``primal_objective``, ``patterns``, ``active_patterns``, ``neurons``,
        ``compile_seconds``, ``solve_seconds``, ``exact_arrangement``,
        ``beta``, ``n``, ``d``, ...) plus ``activation`` (``"st"``),
        ``st_form``, ``threshold``, ``triples_exact``, ``triple_method``,
        ``triple_seconds``; with a threshold ``bracket_lower``,
        ``bracket_upper``, ``bracket_gap``, ``bracket_lower_kind``,
        ``bracket_upper_source``, ``bracket``; for the paper form also
        ``paper_objective``, ``paper_network_objective``, ``gated_objective``
        and ``learnable_objective``.

    Raises
    ------
    ValueError
        Bad arguments (named), e.g. ``--st-form paper`` without ``--threshold``.
    cvxcnn.arrangements.ArrangementTooLargeError
        ``--patterns exact`` beyond ``--max-cells``.
    """
    from cvxcnn.bracket import fixed_threshold_bracket
    from cvxcnn.cli import _parse_solver_options, load_data_from_args, loss_from_args
    from cvxcnn.fit import fit_st
    from cvxcnn.metrics import psnr
    from cvxcnn.networks import predict
    from cvxcnn.problem import make_problem, predictions_to_images
    from cvxcnn.soft_threshold.network import save_st_network

    threshold, form = _check_st_args(args)
    start = time.perf_counter()
    data = load_data_from_args(args)
    loss = loss_from_args(args)
    problem = make_problem(
        data.noisy,
        data.clean,
        kernel_size=args.kernel,
        spatial_dims=data.spatial_dims,
        stride=args.stride,
        padding=args.padding,
        bias=args.bias,
        residual=args.residual,
    )
    t0 = time.perf_counter()
    triples = _get_triples(args, problem.Y, threshold)
    triple_seconds = time.perf_counter() - t0
    solver_kw = dict(
        beta=args.beta,
        loss=loss,
        solver=args.solver,
        solver_options=_parse_solver_options(getattr(args, "solver_option", []) or []),
        canon_backend=getattr(args, "canon_backend", None),
    )
    learnable = fit_st(problem, triples, form="exact", **solver_kw)
    if form == "paper":
        result = fit_st(problem, triples, form="paper", threshold=threshold, **solver_kw)
    else:
        result = learnable
    payload = result.to_dict()
    payload.update(
        {
            "activation": "st",
            "st_form": form,
            "threshold": threshold,
            "triples_exact": triples.exact,
            "triple_method": triples.method,
            "triple_count_bound": triples.count_bound,
            "triple_seconds": triple_seconds,
            "data": str(args.data),
            "images": data.n_images,
            "noise": data.noise,
            "noise_type": data.noise_type,
            "kernel": args.kernel,
            "seed": args.seed,
        }
    )
    if form == "paper":
        payload.update(
            {
                "paper_objective": payload["objective"],
                "paper_network_objective": payload["primal_objective"],
                "learnable_objective": learnable.objective,
                "learnable_status": learnable.status,
            }
        )
    if threshold is not None:
        bracket = fixed_threshold_bracket(
            problem,
            triples,
            threshold,
            fit=learnable,
            n_restarts=int(getattr(args, "st_restarts", 0) or 0),
            random_state=args.seed,
            **solver_kw,
        )
        payload.update(
            {
                "bracket_lower": bracket.lower,
                "bracket_upper": bracket.upper,
                "bracket_gap": bracket.gap,
                "bracket_lower_kind": bracket.lower_kind,
                "bracket_upper_source": bracket.upper_source,
                "bracket": bracket.to_dict(),
            }
        )
    if result.network is not None:
        values = predict(result.network, problem)
        if problem.offset is not None:
            values = values + problem.offset
        prediction = predictions_to_images(values, problem)
        if prediction.size == data.clean.size:
            payload["psnr_noisy"] = psnr(data.noisy, data.clean)
            payload["psnr_convex"] = psnr(prediction, data.clean.reshape(prediction.shape))
        weights = getattr(args, "save_weights", None)
        if weights is not None:
            save_st_network(weights, result.network, beta=args.beta, kernel=args.kernel)
    payload["total_seconds"] = time.perf_counter() - start
    return payload
