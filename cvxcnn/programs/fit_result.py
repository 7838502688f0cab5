"""From a solved convex program to its result, the part every activation shares.

Every builder (ReLU: :mod:`cvxcnn.programs.relu_result`; soft threshold:
:func:`cvxcnn.soft_threshold.programs.result_from_st_program`) reports the
solver's outcome, the problem's size and the program's rows the same way, and
evaluates its reconstructed network with the one float64 objective
(:func:`cvxcnn.networks.primal_objective`); those fields are set here once.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.losses import Loss
from cvxcnn.networks import primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import SolveInfo


def solve_fields(
    info: SolveInfo, problem: PatchProblem, *, beta: float, loss: Loss, **fields: object
) -> dict:
    """The solver's outcome and the problem's size, as :class:`ConvexFitResult` fields.

    Parameters
    ----------
    info : SolveInfo
    problem : PatchProblem
        Gives ``n`` and ``d`` (the patch matrix is (n, d)).
    beta : float
    loss : Loss
    **fields
        The program's own fields (``n_patterns``, ``exact_arrangement``,
        ``build_seconds``, ``constraint_rows``, ``activation``...), passed on.

    Returns
    -------
    dict
    """
    return dict(
        **info.outcome(),
        beta=beta,
        loss=loss.name,
        n=problem.n,
        d=problem.d,
        solve=info,
        **fields,
    )


def unsolved_result(result_type: type, fields: dict) -> ConvexFitResult:
    """A result without a solution: NaN objectives, no active cell, no network."""
    nan = float("nan")
    return result_type(
        objective=nan,
        primal_objective=nan,
        active_patterns=0,
        neurons=0,
        sign_violation=nan,
        **fields,
    )


def solved_result(
    result_type: type,
    fields: dict,
    *,
    network: object,
    problem: PatchProblem,
    loss: Loss,
    blocks: tuple[np.ndarray, np.ndarray],
    **values: object,
) -> ConvexFitResult:
    """A result with a reconstructed ``network`` and its float64 objective ``P``.

    Parameters
    ----------
    result_type : type
        :class:`ConvexFitResult` or a subclass.
    fields : dict
        From :func:`solve_fields`.
    network : network object
        The reconstruction (``n_neurons`` and :func:`primal_objective`).
    problem : PatchProblem
    loss : Loss
    blocks : tuple of ndarray of shape (d, P)
        The solution's two blocks ``(W, Z)`` (soft thresholds: ``(W, W')``).
    **values
        ``objective``, ``active_patterns``, ``sign_violation`` and any field of
        ``result_type`` the program adds.
    """
    W, Z = blocks
    P = primal_objective(network, problem, fields["beta"], loss)
    return result_type(
        primal_objective=P, neurons=network.n_neurons, network=network, W=W, Z=Z, **values, **fields
    )
