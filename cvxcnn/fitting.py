"""The convex fit, written once for every activation: facets, solve, full-row check.

:func:`fit` takes any cell set (ReLU sign patterns or soft-threshold
triples); the activation (:mod:`cvxcnn.activations`) builds and solves its
program and reconstructs the network. What is common lives here once:
validation, the facet reduction of the cone rows, and the safety net after
every reduced solve: EVERY full row is checked at the solution, violated
dropped rows are added and the program re-solved, until none is violated
(after :data:`MAX_FACET_ROUNDS` rounds the full program is solved instead),
so the optimum is always that of the full program.

Scale safety: badly scaled data is solved normalized, ``Y / a`` and
``x / b`` (``a``, ``b`` powers of ten near the RMS row norm of ``Y`` and the
RMS target, 1 when those lie within 100x of 1; ``b = 1`` for losses that
are not homogeneous), at ``beta' = beta b^(1-k) / a`` for a
loss homogeneous of degree ``k``; the solution maps back exactly
(``w = (b / a) w'``, objective ``b^k`` times), so multiplying the data by
``s`` and ``beta`` by ``s^2`` multiplies the optimum by ``s^2`` with the
same solver iterates. The reconstructed network is then evaluated on the
ORIGINAL problem; if it disagrees with the program's objective by more than
:data:`RECONSTRUCTION_RTOL`, the result is ``optimal_inaccurate``, never
``optimal``.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from cvxcnn.activations import Activation, activation_of
from cvxcnn.certificates import dual_direction
from cvxcnn.facets import FacetReduction
from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.prune import prune_network
from cvxcnn.reconstruct import DEFAULT_RTOL
from cvxcnn.results import ConvexFitResult
from cvxcnn.soft_threshold.programs import (
    ST_FORMS,
    STFitResult,
    build_paper_program,
    result_from_st_program,
)
from cvxcnn.soft_threshold.triples import TripleSet
from cvxcnn.solve import DEFAULT_SOLVER, SolveInfo, SolverSettings
from cvxcnn.validation import check_positive
from cvxcnn.working_set import WorkingSets, resolve_strategy, solve_working_set

#: Re-solves with added rows before the full program is solved instead.
MAX_FACET_ROUNDS = 25
#: Bytes of peak memory per nonzero of the program while CVXPY builds it and
#: Clarabel factors it (measured: digits n = 256, d = 9, P = 1000 sampled
#: patterns, every sign row: 9.2M nonzeros, 1.2 GB peak RSS; 130 B each).
BYTES_PER_NONZERO = 150


class ProgramTooLargeError(ValueError):
    """The convex program would need more memory than ``max_memory`` allows."""


def default_max_memory() -> float:
    """Half of this machine's physical memory, in bytes (the default ``max_memory``)."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return float("inf")


def check_program_memory(nonzeros: int, n_cells: int, max_memory: float | None) -> float:
    """Estimated bytes of a program; :class:`ProgramTooLargeError` above ``max_memory``.

    Parameters
    ----------
    nonzeros : int
        Nonzeros of its constraint matrix (``Activation.program_nonzeros``).
    n_cells : int
    max_memory : float or None
        Bytes allowed (None: :func:`default_max_memory`).

    Returns
    -------
    float
        The estimate, ``BYTES_PER_NONZERO * nonzeros``.
    """
    limit = default_max_memory() if max_memory is None else float(max_memory)
    estimate = BYTES_PER_NONZERO * float(nonzeros)
    if estimate > limit:
        raise ProgramTooLargeError(
            f"the convex program over {n_cells} cells needs about {estimate / 2**30:.1f} GiB "
            f"({nonzeros:,} nonzeros), above max_memory={limit / 2**30:.1f} GiB: use column "
            "generation (solve_colgen, --method colgen), fewer sampled cells, a smaller "
            "problem, or raise max_memory (--max-memory GIB)"
        )
    return estimate


#: Largest relative disagreement between the network's objective and the
#: program's before a solve is reported ``optimal_inaccurate``.
RECONSTRUCTION_RTOL = 1e-5


#: Data whose RMS patch row norm (or RMS target) lies within this factor of 1
#: is solved as given; beyond it, it is divided by the nearest power of ten.
WELL_SCALED = 100.0


def normalization(problem: PatchProblem, loss: Loss) -> tuple[float, float]:
    """``(a, b)``: powers of ten near the RMS row norm of ``Y`` (n, d) and the RMS target.

    Each is 1 when its quantity lies within :data:`WELL_SCALED` of 1 (ordinary
    data is solved exactly as given); ``b`` is 1 for losses that are not
    homogeneous. Powers of ten keep ``s``-scaled data on the same normalized
    numbers up to rounding.
    """

    def snap(value: float) -> float:
        if not (value > 0 and np.isfinite(value)) or 1 / WELL_SCALED <= value <= WELL_SCALED:
            return 1.0
        return float(10.0 ** np.round(np.log10(value)))

    a = snap(float(np.linalg.norm(problem.Y)) / np.sqrt(max(problem.n, 1)))
    b = 1.0
    if loss.homogeneity is not None:
        b = snap(float(np.linalg.norm(problem.target)) / np.sqrt(max(problem.target.size, 1)))
    return a, b


def normalized_problem(problem: PatchProblem, a: float, b: float) -> PatchProblem:
    """The problem with ``Y / a`` and targets (and offsets) ``/ b``."""
    offset = None if problem.offset is None else problem.offset / b
    return replace(problem, Y=problem.Y / a, target=problem.target / b, offset=offset)


def fit(
    problem: PatchProblem,
    cells: object,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
    solver: str = DEFAULT_SOLVER,
    solver_options: dict | None = None,
    canon_backend: str | None = None,
    rtol: float = DEFAULT_RTOL,
    row_mask: np.ndarray | None = None,
    facets: str | FacetReduction | None = "auto",
    backend: str = "cvxpy",
    n_jobs: int | None = None,
    max_memory: float | None = None,
    prune: bool = False,
    strategy: str = "auto",
) -> ConvexFitResult:
    """Solve the exact convex program over ``cells`` and reconstruct the network.

    The program of the cells' activation: ReLU eq. 4 (DESIGN.md section 4)
    or soft-threshold 6a (section 6), then the reconstruction (eq. 5). Over
    an exact cell set its optimum is the global optimum of the non-convex
    network; over sampled cells only an upper bound (``exact_arrangement``
    says which; :func:`cvxcnn.certificates.certify` bounds it from below).
    The cost grows with the cone rows (``2 n P`` for ReLU): facet reduction
    cuts them, and large sets go through working sets by default. A badly
    scaled problem is solved rescaled by powers of ten (:func:`normalization`)
    and the result mapped back; the objectives are re-evaluated in float64.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout and target.
    cells : PatternSet, TripleSet or ndarray of shape (P, n), bool
        ReLU sign patterns or soft-threshold triples; an exact set (every
        cell) makes the optimum the global optimum of the network.
    beta : float
        Weight decay (> 0).
    loss : str or Loss
    solver : str
        Any installed CVXPY solver (default Clarabel).
    solver_options : dict, optional
    canon_backend : str, optional
        CVXPY canonicalization backend.
    rtol : float
        Relative threshold for nonzero blocks in the reconstruction.
    row_mask : ndarray, optional
        Keep only these cone rows (ReLU: (n, P); soft threshold:
        (2n + 1, P)); overrides ``facets``. Dropped rows are still checked.
    facets : {"auto", "off", "adjacency", "hull", "lp"} or FacetReduction
        Facet reduction of the cone rows. ``auto`` (default): adjacency for
        exact ReLU sets; Qhull for sampled sets only where it pays
        (:func:`cvxcnn.facets.hull_pays_off`); off otherwise.
    backend : {"cvxpy", "direct"}
        ``direct`` builds Clarabel's standard form (ReLU only).
    n_jobs : int or None
        Processes for the facet reduction (None: 1; -1: every CPU).
    max_memory : float or None
        Bytes the program may take (estimated from its nonzeros before it is
        built, :func:`check_program_memory`); None: half of the machine's RAM.
    prune : bool
        Reduce the reconstructed network to at most ``n_out + 1`` neurons at
        the same objective (:func:`cvxcnn.prune.prune_network`); the count
        before is kept in ``neurons_before_pruning``.
    strategy : {"auto", "full", "working_set"}
        ``full``: one program over every cell. ``working_set``: programs over
        growing subsets until the oracle finds no cell of the set violating
        its dual constraint (:func:`cvxcnn.working_set.solve_working_set`);
        the same optimum, with the rigorous gap over the whole set in
        ``result.working_set["set_gap"]`` and the program's cells in
        ``result.cell_index``. ``auto`` (default): the working set when
        ``P >= max(500, 8 (n_out + 1))`` (:func:`cvxcnn.working_set.resolve_strategy`)
        and no ``row_mask`` is given, else full.

    Returns
    -------
    ConvexFitResult
        (``STFitResult`` for soft thresholds.) Check ``success``: a failed
        solve is reported, not raised. ``facets`` holds the reduction with
        ``rounds``/``rows_added`` of the full-row check (``fallback:
        "full"`` when it gave up on the reduction).

    Raises
    ------
    ProgramTooLargeError
        Before any program is built, when it would not fit in ``max_memory``.
    """
    check_positive(beta, "beta")
    loss = get_loss(loss)
    activation = activation_of(cells)
    cells = activation.check_cells(cells, problem.n)
    if resolve_strategy(strategy, len(cells), problem.readout.n_out) == "working_set":
        if row_mask is not None:
            if strategy == "working_set":
                raise ValueError(
                    "strategy='working_set' chooses each program's rows itself; drop row_mask= "
                    "or use strategy='full'"
                )
        else:
            options = dict(solver=solver, solver_options=solver_options, rtol=rtol)
            options |= dict(canon_backend=canon_backend, backend=backend, n_jobs=n_jobs)
            options |= dict(max_memory=max_memory, prune=prune)
            return _fit_working_set(activation, problem, cells, beta, loss, facets, options)
    a, b = normalization(problem, loss)
    k = loss.homogeneity or 0
    original = problem
    if (a, b) != (1.0, 1.0):
        problem = normalized_problem(problem, a, b)
    beta_original, beta = beta, beta * b ** (1 - k) / a  # b = 1 unless the loss is homogeneous
    zero = _zero_if_optimal(activation, problem, cells, beta, loss)
    if zero is not None:
        return _back_to_original(activation, zero, original, beta_original, loss, a, b)
    reduction = None
    loss_rows = activation.program_nonzeros(problem, cells, None, loss_only=True)
    check_program_memory(loss_rows, len(cells), max_memory)  # before any reduction work
    if row_mask is None:
        reduction = activation.facet_reduction(problem, cells, facets, n_jobs)
        row_mask = None if reduction is None else reduction.keep.copy()
    else:
        row_mask = activation.check_row_mask(row_mask, problem, cells)
    nonzeros = activation.program_nonzeros(problem, cells, row_mask)
    check_program_memory(nonzeros, len(cells), max_memory)

    settings = SolverSettings(solver, solver_options, canon_backend, backend, rtol)

    def solve(rows: np.ndarray | None) -> ConvexFitResult:
        return activation.solve(
            problem, cells, beta=beta, loss=loss, row_mask=rows, settings=settings
        )

    result = solve(row_mask)
    if row_mask is not None:
        result = _full_row_check(activation, problem, cells, row_mask, result, solve)
        summary = {"method": "given"}
        if reduction is not None:
            summary = activation.facets_summary(reduction, cells)
        result.facets = {**summary, **result.facets}
    result = _back_to_original(activation, result, original, beta_original, loss, a, b)
    if prune and result.network is not None:
        result.neurons_before_pruning = result.neurons
        result.network = prune_network(result.network, original)
        result.neurons = result.network.n_neurons
        result.primal_objective = primal_objective(result.network, original, beta_original, loss)
    return result


def _fit_working_set(
    activation: Activation,
    problem: PatchProblem,
    cells: object,
    beta: float,
    loss: Loss,
    facets: str | FacetReduction | None,
    options: dict,
) -> ConvexFitResult:
    """:func:`fit` by working set (:func:`cvxcnn.working_set.solve_working_set`).

    A sampled set's facets are reduced per working-set program (only its
    cells pay); a given reduction, or the adjacency of an exact set (cheap
    over every cell), is computed once and each program uses its columns.
    """
    if facets is None or (isinstance(facets, str) and not getattr(cells, "exact", False)):
        reduction = "off" if facets is None else facets
    else:
        reduction = activation.facet_reduction(problem, cells, facets, options["n_jobs"]) or "off"
    ws = WorkingSets(
        activation, problem, cells, loss, fit, reduction, {**options, "strategy": "full"}
    )
    return solve_working_set(ws, beta)


def _back_to_original(
    activation: Activation,
    result: ConvexFitResult,
    problem: PatchProblem,
    beta: float,
    loss: Loss,
    a: float,
    b: float,
) -> ConvexFitResult:
    """Map a normalized solve back (see the module docstring) and check the network agrees."""
    if (a, b) != (1.0, 1.0):
        scale = b ** (loss.homogeneity or 0)
        activation.unscale(result, a, b)
        result.beta = beta
        result.objective *= scale
        result.solve.solver_objective *= scale
        if result.network is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                result.primal_objective = primal_objective(result.network, problem, beta, loss)
    result.solve.solver_stats["normalization"] = {"patch_scale": a, "target_scale": b}
    if result.network is None:
        return result
    mismatch = abs(result.primal_objective - result.objective)
    if result.success and not mismatch <= RECONSTRUCTION_RTOL * abs(result.objective):
        result.fail(
            "optimal_inaccurate",
            f"the solver reported optimal, but the reconstructed network's objective "
            f"{result.primal_objective!r} differs from the program's {result.objective!r} "
            f"by more than {RECONSTRUCTION_RTOL:g} relative: the solution is not accurate",
        )
    return result


def _zero_if_optimal(
    activation: Activation, problem: PatchProblem, cells: object, beta: float, loss: Loss
) -> ConvexFitResult | None:
    """The zero network's result when a closed-form bound proves it optimal, else None.

    At ``W = Z = 0`` the optimality condition is ``M(g) <= beta`` with
    ``g = R^T (-grad L(0))``; since ``|act(a)| <= |a|`` for ReLU and soft
    thresholds, ``M(g) <= sum_i |g_i| ||y_i||``. When that bound is below
    ``beta`` the zero network is optimal over every cell (no solve: large
    ``beta``, or data so small that the normalized ``beta`` is huge, where
    interior points fail). Otherwise the program is solved as usual.
    """
    _, g = dual_direction(activation.empty_network(problem.d), problem, loss)
    bound = float(np.abs(g) @ np.linalg.norm(problem.Y, axis=1))
    if not bound <= beta:
        return None
    value = loss.value(np.zeros_like(problem.target, dtype=np.float64), problem.target)
    info = SolveInfo(
        status="optimal",
        success=True,
        message=f"the zero network is optimal: M <= {bound:.6g} <= beta {beta:.6g} "
        "(closed-form bound, no solve)",
        solver="none",
        solver_objective=value,
        iterations=0,
        compile_seconds=0.0,
        solve_seconds=0.0,
    )
    exact = bool(getattr(cells, "exact", False))
    return activation.zero_result(
        problem, cells, status=info.status, success=True, message=info.message,
        objective=value, primal_objective=value, beta=beta, loss=loss.name, n=problem.n,
        d=problem.d, n_patterns=len(cells), active_patterns=0, neurons=0,
        exact_arrangement=exact, sign_violation=0.0, solve=info, activation=activation.name,
    )  # fmt: skip


def _full_row_check(
    activation: Activation,
    problem: PatchProblem,
    cells: object,
    row_mask: np.ndarray,
    result: ConvexFitResult,
    solve,
) -> ConvexFitResult:
    """Re-solve with violated dropped rows until none is; the full program after too many rounds."""
    rounds = added = 0
    while result.W is not None:
        missing = activation.violated_rows(result, problem, cells, row_mask)
        if not missing.any():
            break
        if rounds >= MAX_FACET_ROUNDS:
            result = solve(None)  # every row: nothing left to check
            result.facets = {"rounds": rounds, "rows_added": added, "fallback": "full"}
            return result
        row_mask = row_mask | missing
        added += int(missing.sum())
        rounds += 1
        result = solve(row_mask)
    result.facets = {"rounds": rounds, "rows_added": added}
    return result


def fit_relu(problem: PatchProblem, patterns: object, **options: object) -> ConvexFitResult:
    """:func:`fit` for ReLU sign patterns (a ``PatternSet`` or a (P, n) bool mask array)."""
    if isinstance(patterns, TripleSet):
        raise TypeError("fit_relu takes ReLU patterns; for a TripleSet use fit or fit_st")
    return fit(problem, patterns, **options)


def fit_st(
    problem: PatchProblem,
    triples: TripleSet,
    *,
    form: str = "exact",
    threshold: float | None = None,
    **options: object,
) -> STFitResult:
    """Soft-threshold fit: program 6a (``form="exact"``) or Xiong et al.'s eq. 22 (``"paper"``).

    ``"exact"`` is DESIGN.md section 6a through :func:`fit`: over an exact
    triple set its optimum is the global optimum with learnable thresholds,
    and a certified LOWER bound for any fixed threshold (6b).
    ``"paper"`` is section 6c: a convex program over a gated model with
    fixed gains, not a reformulation of the network, so its value bounds
    nothing; it is kept to compare with the 6a bracket.

    Parameters
    ----------
    problem : PatchProblem
    triples : TripleSet
    form : {"exact", "paper"}
        ``"exact"``: :func:`fit` over the triples (learnable thresholds, the
        pipeline's program). ``"paper"``: the fixed-gain program, kept for
        comparison (not a reformulation of the network; no facet reduction).
    threshold : float, optional
        ``lambda > 0``, required for ``form="paper"`` (the threshold of the
        reconstructed ST network); 6a learns its thresholds.
    **options
        As for :func:`fit` (``beta``, ``loss``, ``solver``, ``solver_options``,
        ``canon_backend``, ``rtol``, ``facets``, ``row_mask``, ``n_jobs``).

    Returns
    -------
    STFitResult
    """
    if form not in ST_FORMS:
        raise ValueError(f"form must be one of {ST_FORMS}; got {form!r}")
    if not isinstance(triples, TripleSet):
        raise TypeError(
            f"triples must be a TripleSet (sample_st_triples / enumerate_st_triples); "
            f"got {type(triples).__name__}"
        )
    if form == "exact":
        return fit(problem, triples, **options)
    return _fit_paper(problem, triples, threshold, **options)


def _fit_paper(
    problem: PatchProblem,
    triples: TripleSet,
    threshold: float | None,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
    facets: object = "auto",
    row_mask: np.ndarray | None = None,
    max_memory: float | None = None,
    **settings: object,
) -> STFitResult:
    """Program 6c; ``settings``: the :class:`SolverSettings` fields (``solver``, ``rtol``...)."""
    settings = SolverSettings(**settings)
    if settings.backend != "cvxpy":
        raise ValueError("form='paper' is built with CVXPY: drop backend= (direct is ReLU only)")
    if threshold is None:
        raise ValueError("form='paper' needs threshold=lambda > 0 (Xiong et al.'s fixed lambda)")
    if row_mask is not None or not (facets is None or facets in ("auto", "off")):
        raise ValueError(
            "facet reduction (facets=/row_mask=) applies to form='exact' (program 6a) only"
        )
    threshold = check_positive(threshold, "threshold")
    check_positive(beta, "beta")
    rows = 2 * problem.n * len(triples)  # a linear model per triple and its cone rows
    check_program_memory(2 * problem.d * rows, len(triples), max_memory)
    program = build_paper_program(problem, triples, beta=beta, loss=loss)
    info = settings.solve(program.problem)
    return result_from_st_program(program, info, threshold=threshold, rtol=settings.rtol)
