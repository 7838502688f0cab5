"""From a solution ``(W, Z)`` of the ReLU program to a :class:`~cvxcnn.results.ConvexFitResult`.

Shared by the CVXPY builder (:mod:`cvxcnn.programs.relu`) and the direct
Clarabel builder (:mod:`cvxcnn.programs.relu_direct`): the objective, the
reconstruction (Sahiner et al. eq. 5) and its float64 evaluation, and the
sign check on every row are computed here once.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.kkt import kkt_residuals
from cvxcnn.losses import Loss
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
    *,
    info: SolveInfo,
    problem: PatchProblem,
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
    """A :class:`ConvexFitResult` from a solution ``W, Z`` (d, P), or None (no solution)."""
    common = solve_fields(
        info,
        problem,
        beta=beta,
        loss=loss,
        n_patterns=int(masks.shape[0]),
        exact_arrangement=exact,
        build_seconds=build_seconds,
        constraint_rows=constraint_rows,
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
    rows = program.masks.size if program.row_mask is None else int(program.row_mask.sum())
    return assemble_fit_result(
        info=info,
        problem=program.data,
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
