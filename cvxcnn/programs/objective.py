"""The convex programs' objective in float64, written once for every activation.

``L(R outputs, x) + beta * sum_j (||w_j|| + ||z_j||)``: the outputs are the
activation's (ReLU: ``sum_i D_i Y (w_i - z_i)``; soft threshold: the 6a
blocks), the group-norm penalty and the loss are the same for all.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.losses import Loss, get_loss
from cvxcnn.problem import PatchProblem


def group_norm_objective(
    outputs: np.ndarray,
    W: np.ndarray,
    Z: np.ndarray,
    problem: PatchProblem,
    beta: float,
    loss: str | Loss = "squared",
) -> float:
    """``L(R outputs, x) + beta * (sum of the column norms of W and Z)``.

    The objective of every convex program (DESIGN.md sections 4 and 6),
    evaluated in float64 whatever the solver's precision: the value results
    report as ``objective``. Exact at any ``(W, Z)``; the cone constraints
    are NOT checked (an infeasible point gives a number that bounds
    nothing).

    Parameters
    ----------
    outputs : ndarray of shape (n,)
        The convex model's output per patch.
    W, Z : ndarray of shape (q, P)
        The two blocks of every cell (columns).
    problem : PatchProblem
    beta : float
    loss : str or Loss

    Returns
    -------
    float
    """
    loss = get_loss(loss)
    norms = np.linalg.norm(W, axis=0).sum() + np.linalg.norm(Z, axis=0).sum()
    return float(loss.value(problem.readout.apply(outputs), problem.target) + beta * norms)
