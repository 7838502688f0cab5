"""Solve the ReLU convex program end to end: build, solve, reconstruct, evaluate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cvxcnn._validation import check_positive
from cvxcnn.facets import (
    FacetReduction,
    hull_pays_off,
    reduce_sign_rows,
)
from cvxcnn.facets import violated_dropped_rows as signed_dropped_violations
from cvxcnn.kkt import kkt_residuals
from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.relu import (
    ReluProgram,
    _check_masks,
    build_relu_program,
    convex_objective,
    pattern_masks,
    sign_violation,
)
from cvxcnn.reconstruct import (
    DEFAULT_RTOL,
    active_pattern_mask,
    natural_scale,
    reconstruct_relu,
)
from cvxcnn.solve import DEFAULT_SOLVER, SolveInfo, resolve_solver, solve_cvxpy


@dataclass
class ConvexFitResult:
    """Outcome of solving the ReLU convex program (SciPy ``OptimizeResult`` style).

    Attributes
    ----------
    status, success, message : str, bool, str
        From the solver; ``success`` is True only for ``optimal``.
    objective : float
        Convex objective at the solution, re-evaluated in float64.
    primal_objective : float
        ``P(U, v)`` of the reconstructed network (shared float64 evaluator).
    beta : float
    loss : str
    n, d : int
        Rows and columns of the patch matrix.
    n_patterns, active_patterns, neurons : int
    exact_arrangement : bool
        True when the patterns are every cell, so ``objective`` is the global
        optimum of the non-convex problem; otherwise it is an upper bound.
    sign_violation : float
        Largest violation of the sign constraints at the solution.
    solve : SolveInfo
        Solver, iterations, compile/solve seconds, the solver's gap/residuals.
    kkt : dict
        KKT residuals of eq. 4 from the solver's duals (:mod:`cvxcnn.kkt`).
    constraint_rows : int
        Sign-constraint rows in the solved program (``2 n P`` without facet
        reduction; ``to_dict`` also reports that full count).
    facets : dict
        Facet reduction: method, rows kept, seconds, and ``rounds`` (re-solves
        that added rows the full check found violated; 0 when none).
    network : ReluNetwork or None
    W, Z : ndarray of shape (d, P) or None
    """

    status: str
    success: bool
    message: str
    objective: float
    primal_objective: float
    beta: float
    loss: str
    n: int
    d: int
    n_patterns: int
    active_patterns: int
    neurons: int
    exact_arrangement: bool
    sign_violation: float
    solve: SolveInfo
    build_seconds: float = 0.0
    constraint_rows: int = 0
    kkt: dict = field(default_factory=dict)
    facets: dict = field(default_factory=dict)
    network: ReluNetwork | None = field(default=None, repr=False)
    W: np.ndarray | None = field(default=None, repr=False)
    Z: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary (no arrays)."""
        out = {
            "status": self.status,
            "success": self.success,
            "message": self.message,
            "solver": self.solve.solver,
            "objective": self.objective,
            "primal_objective": self.primal_objective,
            "beta": self.beta,
            "loss": self.loss,
            "n": self.n,
            "d": self.d,
            "patterns": self.n_patterns,
            "active_patterns": self.active_patterns,
            "neurons": self.neurons,
            "exact_arrangement": self.exact_arrangement,
            "sign_violation": self.sign_violation,
            "constraint_rows": self.constraint_rows,
            "constraint_rows_full": 2 * self.n * self.n_patterns,
            "iterations": self.solve.iterations,
            "build_seconds": self.build_seconds,
            "compile_seconds": self.solve.compile_seconds,
            "solve_seconds": self.solve.solve_seconds,
            "solver_objective": self.solve.solver_objective,
            "solver_stats": self.solve.solver_stats,
            "kkt": self.kkt,
            "facets": self.facets,
        }
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def assemble_fit_result(
    *,
    info: SolveInfo,
    data: PatchProblem,
    masks: np.ndarray,
    beta: float,
    loss: Loss,
    exact: bool,
    build_seconds: float,
    constraint_rows: int,
    W: np.ndarray | None,
    Z: np.ndarray | None,
    kkt: dict,
    rtol: float = DEFAULT_RTOL,
) -> ConvexFitResult:
    """A :class:`ConvexFitResult` from a solution ``W, Z`` (d, P) or None (no solution).

    Shared by the CVXPY path (:func:`result_from_program`) and the direct
    Clarabel path: the objective, the reconstruction and its float64
    evaluation, and the sign check on every row are computed here once.
    """
    common = dict(
        status=info.status,
        success=info.success,
        message=info.message,
        beta=beta,
        loss=loss.name,
        n=data.n,
        d=data.d,
        n_patterns=int(masks.shape[0]),
        exact_arrangement=exact,
        solve=info,
        build_seconds=build_seconds,
        constraint_rows=constraint_rows,
    )
    if W is None or Z is None:
        nan = float("nan")
        return ConvexFitResult(
            objective=nan,
            primal_objective=nan,
            active_patterns=0,
            neurons=0,
            sign_violation=nan,
            **common,
        )
    floor = natural_scale(data)
    network = reconstruct_relu(W, Z, rtol=rtol, floor=floor)
    return ConvexFitResult(
        objective=convex_objective(W, Z, masks, data, beta, loss),
        primal_objective=primal_objective(network, data, beta, loss),
        active_patterns=int(active_pattern_mask(W, Z, rtol=rtol, floor=floor).sum()),
        neurons=network.n_neurons,
        sign_violation=sign_violation(W, Z, masks, data.Y),
        kkt=kkt,
        network=network,
        W=W,
        Z=Z,
        **common,
    )


def result_from_program(
    program: ReluProgram, info: SolveInfo, *, exact: bool, rtol: float = DEFAULT_RTOL
) -> ConvexFitResult:
    """Assemble a :class:`ConvexFitResult` from a solved program."""
    W = Z = None
    kkt: dict = {}
    if program.W.value is not None:
        W, Z = np.asarray(program.W.value), np.asarray(program.Z.value)
        try:
            kkt = kkt_residuals(program, rtol=rtol).to_dict()
        except ValueError as exc:  # no duals from this solver
            kkt = {"error": str(exc)}
    rows = program.masks.size if program.row_mask is None else int(program.row_mask.sum())
    return assemble_fit_result(
        info=info,
        data=program.data,
        masks=program.masks,
        beta=float(program.beta.value),
        loss=program.loss,
        exact=exact,
        build_seconds=program.build_seconds,
        constraint_rows=2 * rows,
        W=W,
        Z=Z,
        kkt=kkt,
        rtol=rtol,
    )


MAX_FACET_ROUNDS = 5
"""Re-solves allowed after adding violated dropped rows (then the result is returned as is)."""


def violated_dropped_rows(
    W: np.ndarray, Z: np.ndarray, masks: np.ndarray, Y: np.ndarray, row_mask: np.ndarray
) -> np.ndarray:
    """Dropped sign rows that the solution violates, shape (n, P), bool.

    :func:`cvxcnn.facets.violated_dropped_rows` for the ReLU cones
    ``(2 D_i - I) Y w >= 0`` of the blocks ``W`` and ``Z`` (d, P).
    """
    signs = 2.0 * np.asarray(masks, dtype=bool).T - 1.0  # (n, P)
    return signed_dropped_violations(signs, Y, W, Z, row_mask)


def resolve_facets(
    data: PatchProblem, patterns: object, facets: object, n_jobs: int | None = None
) -> FacetReduction | None:
    """Resolve the ``facets`` argument of :func:`fit_relu` to a reduction (or None).

    Parameters
    ----------
    data : PatchProblem
    patterns : PatternSet or ndarray of shape (P, n), bool
    facets : {"auto", "off", "adjacency", "hull", "lp"}, FacetReduction or None
    n_jobs : int or None
        Processes for the per-cone loop (None: 1; -1: every CPU).

    Returns
    -------
    FacetReduction or None
        None when reduction is off (or ``auto`` finds it not worth it).
    """
    if facets is None or facets == "off":
        return None
    if isinstance(facets, FacetReduction):
        n_patterns = len(np.asarray(getattr(patterns, "masks", patterns)))
        if facets.keep.shape != (data.n, n_patterns):
            raise ValueError(
                f"facets.keep must have shape (n, P) = ({data.n}, {n_patterns}); "
                f"got {facets.keep.shape}: compute it for these patterns"
            )
        return facets
    if facets == "auto" and not getattr(patterns, "exact", False) and not hull_pays_off(data.Y):
        return None  # adjacency is free for exact sets; Qhull must pay for itself
    return reduce_sign_rows(patterns, data.Y, method=str(facets), n_jobs=n_jobs)


def fit_relu(
    data: PatchProblem,
    patterns: object,
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
) -> ConvexFitResult:
    """Solve the ReLU convex program and reconstruct the network.

    Parameters
    ----------
    data : PatchProblem
        Patches ``Y`` (n, d), readout and target.
    patterns : PatternSet or ndarray of shape (P, n), bool
        A ``PatternSet`` with ``exact=True`` makes the result the global optimum.
    beta : float
        Weight decay (> 0).
    loss : str or Loss
    solver : str
        Any installed CVXPY solver (default Clarabel).
    solver_options : dict, optional
    canon_backend : str, optional
    rtol : float
        Relative threshold for nonzero blocks in the reconstruction.
    row_mask : ndarray of shape (n, P), bool, optional
        Keep only these sign constraints (they must make the others
        redundant); overrides ``facets``.
    facets : {"auto", "off", "adjacency", "hull", "lp"} or FacetReduction
        Facet reduction of the sign rows (:mod:`cvxcnn.facets`). ``auto``
        (default): from adjacency for exact pattern sets, by Qhull for
        sampled ones when ``rank(Y) <= 10`` and ``n >= 20 d`` (below that
        the reduction costs more than it saves), off otherwise. ``off``/None
        keeps every row. A precomputed :class:`~cvxcnn.facets.FacetReduction`
        is used as is (compute it once for many solves).
        Whatever the reduction, every FULL sign row is checked at the
        solution; violated dropped rows are added and the program re-solved
        (``facets["rounds"]`` in the result), so the optimum is that of the
        full program.
    backend : {"cvxpy", "direct"}
        ``cvxpy`` (default, the reference): build with CVXPY, any solver and
        loss. ``direct``: Clarabel's standard form assembled with
        scipy.sparse (:mod:`cvxcnn.programs.relu_direct`; Clarabel only;
        squared, absolute and Huber losses), which skips CVXPY's compile.
    n_jobs : int or None
        Processes for the facet reduction's loop over cones (None: 1, -1:
        every CPU); the solve itself is unaffected.

    Returns
    -------
    ConvexFitResult
        Check ``success``/``status``: a failed solve is reported, not raised.
    """
    check_positive(beta, "beta")
    loss = get_loss(loss)
    if backend not in ("cvxpy", "direct"):
        raise ValueError(f"backend must be 'cvxpy' or 'direct'; got {backend!r}")
    if backend == "direct" and resolve_solver(solver) != "CLARABEL":
        raise ValueError(f"backend='direct' builds Clarabel's standard form; got solver={solver!r}")
    masks = _check_masks(pattern_masks(patterns), data.n)
    reduction = None
    if row_mask is None:
        reduction = resolve_facets(data, patterns, facets, n_jobs=n_jobs)
        row_mask = None if reduction is None else reduction.keep.copy()
    exact = bool(getattr(patterns, "exact", False))
    rounds = 0
    while True:
        if backend == "direct":
            from cvxcnn.programs.relu_direct import fit_relu_direct

            result = fit_relu_direct(
                data,
                patterns,
                beta=beta,
                loss=loss,
                solver_options=solver_options,
                rtol=rtol,
                row_mask=row_mask,
            )
        else:
            program = build_relu_program(data, patterns, beta=beta, loss=loss, row_mask=row_mask)
            info = solve_cvxpy(
                program.problem, solver, solver_options=solver_options, canon_backend=canon_backend
            )
            result = result_from_program(program, info, exact=exact, rtol=rtol)
        if row_mask is None or result.W is None or rounds >= MAX_FACET_ROUNDS:
            break
        missing = violated_dropped_rows(result.W, result.Z, masks, data.Y, row_mask)
        if not missing.any():
            break
        row_mask = np.asarray(row_mask, dtype=bool) | missing
        rounds += 1
    if reduction is not None:
        result.facets = {**reduction.to_dict(), "rounds": rounds}
    elif row_mask is not None:
        result.facets = {"method": "given", "rounds": rounds}
    return result


def fit_relu_path(
    data: PatchProblem,
    patterns: object,
    betas: list[float] | np.ndarray,
    *,
    loss: str | Loss = "squared",
    solver: str = DEFAULT_SOLVER,
    solver_options: dict | None = None,
    canon_backend: str | None = None,
    rtol: float = DEFAULT_RTOL,
) -> list[ConvexFitResult]:
    """Solve eq. 4 for several ``beta`` values, building and compiling the program once.

    ``beta`` is a ``cvxpy.Parameter`` and the program is DPP, so after the
    first solve CVXPY re-uses its canonicalization: later ``compile_seconds``
    are the cheap parameter substitution only. Interior-point solvers gain
    nothing from a warm start (DESIGN.md section 10), so each beta is a cold
    solve.

    Parameters
    ----------
    data : PatchProblem
    patterns : PatternSet or ndarray of shape (P, n), bool
    betas : sequence of float
        Each > 0; solved in the given order.
    loss, solver, solver_options, canon_backend, rtol
        As in :func:`fit_relu`.

    Returns
    -------
    list of ConvexFitResult
        One per beta, in order.
    """
    betas = [check_positive(b, "betas[i]") for b in np.atleast_1d(betas)]
    if not betas:
        raise ValueError("betas is empty; pass at least one value")
    program = build_relu_program(data, patterns, beta=betas[0], loss=get_loss(loss))
    exact = bool(getattr(patterns, "exact", False))
    results = []
    for beta in betas:
        program.beta.value = beta
        info = solve_cvxpy(
            program.problem, solver, solver_options=solver_options, canon_backend=canon_backend
        )
        results.append(result_from_program(program, info, exact=exact, rtol=rtol))
    return results
