"""From a solution ``(W, Z)`` of the ReLU program to a :class:`~cvxcnn.results.ConvexFitResult`.

Shared by the CVXPY builder (:mod:`cvxcnn.programs.relu`) and the direct
Clarabel builder (:mod:`cvxcnn.programs.relu_direct`): the objective, the
reconstruction (Sahiner et al. eq. 5) and its float64 evaluation, and the
sign check on every row are computed here once.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.kkt import kkt_residuals
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.fit_result import solve_fields, solved_result, unsolved_result
from cvxcnn.programs.relu import ReluProgram, convex_objective, sign_violation
from cvxcnn.reconstruct import (
    DEFAULT_RTOL,
    active_pattern_mask,
    natural_scale,
    reconstruct_relu,
)
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import SolveInfo


def assemble_fit_result(
    program: object,
    info: SolveInfo,
    *,
    problem: PatchProblem,
    beta: float,
    exact: bool,
    W: np.ndarray | None,
    Z: np.ndarray | None,
    kkt: dict,
    rtol: float = DEFAULT_RTOL,
) -> ConvexFitResult:
    """A :class:`ConvexFitResult` from a solution ``W, Z`` (d, P), or None (no solution).

    Parameters
    ----------
    program : ReluProgram or ReluConic
        The solved program, either builder's: its ``masks``, ``loss``,
        ``build_seconds`` and ``sign_rows`` are reported.
    info : SolveInfo
    problem : PatchProblem
    beta : float
    exact : bool
        The masks are every cell (the optimum is then global).
    W, Z : ndarray of shape (d, P) or None
        The solution's blocks (None: the solve gave no point).
    kkt : dict
        KKT residuals (or ``{"error": ...}``).
    rtol : float
        Relative threshold for nonzero blocks in the reconstruction.
    """
    masks, loss = program.masks, program.loss
    common = solve_fields(
        info,
        problem,
        beta=beta,
        loss=loss,
        n_patterns=int(masks.shape[0]),
        exact_arrangement=exact,
        build_seconds=program.build_seconds,
        constraint_rows=program.sign_rows,
        constraint_rows_full=2 * int(masks.size),
        activation="relu",
    )
    if W is None or Z is None:
        return unsolved_result(ConvexFitResult, common)
    floor = natural_scale(problem)
    return solved_result(
        ConvexFitResult,
        common,
        network=reconstruct_relu(W, Z, rtol=rtol, floor=floor),
        problem=problem,
        loss=loss,
        blocks=(W, Z),
        objective=convex_objective(W, Z, masks, problem, beta, loss),
        active_patterns=int(active_pattern_mask(W, Z, rtol=rtol, floor=floor).sum()),
        sign_violation=sign_violation(W, Z, masks, problem.Y),
        kkt=kkt,
    )


def result_from_program(
    program: ReluProgram, info: SolveInfo, *, exact: bool, rtol: float = DEFAULT_RTOL
) -> ConvexFitResult:
    """Assemble a :class:`ConvexFitResult` from a solved CVXPY program."""
    W = Z = None
    kkt: dict = {}
    if program.W.value is not None:
        W, Z = np.asarray(program.W.value), np.asarray(program.Z.value)
        try:
            kkt = kkt_residuals(program, rtol=rtol).to_dict()
        except ValueError as exc:  # no duals from this solver
            kkt = {"error": str(exc)}
    beta = float(program.beta.value)
    return assemble_fit_result(
        program, info, problem=program.data, beta=beta, exact=exact, W=W, Z=Z, kkt=kkt, rtol=rtol
    )
