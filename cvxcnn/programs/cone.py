"""The pieces every activation's CVXPY program is made of, written once.

Every convex program in cvxcnn (ReLU eq. 4, soft-threshold 6a and 6c) has the
same shape (DESIGN.md sections 4 and 6):

    minimize    L(R outputs, x) + beta * sum_j (||w_j||_2 + ||z_j||_2)
    subject to  c_jk * (A_k . v_j) >= 0     for every block j and kept row k (both sides)

with, per cell ``j`` and side (``w`` or ``z``), a block ``v_j = (w_j, t_j)``:
``w_j`` (d,) penalized by its norm and, for soft thresholds, an unpenalized
threshold ``t_j``. The cell's cone is a set of signed rows of ONE fixed matrix
``A`` (ReLU: ``Y``; soft threshold: ``[Y, -1; Y, 1; 0, 1]``); what differs
between activations is only that matrix, the coefficients ``c`` and how the
blocks enter ``outputs``. The activation's builder supplies those; this module
creates the variables, the cone rows, the objective and the ``cvxpy.Problem``.

All of it is vectorized: one matrix variable per side (d, P), one elementwise
inequality for the cone rows of every block, ``cp.norm(axis=0)`` for the
group norms; no per-cell Python loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from cvxcnn.losses import Loss, get_loss
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import check_positive


@dataclass(kw_only=True)
class ConeProgram:
    """What every built (not yet solved) convex program holds.

    Attributes
    ----------
    problem : cvxpy.Problem
    beta : cvxpy.Parameter
        Regularization weight; set ``beta.value`` and re-solve without rebuilding (DPP).
    data : PatchProblem
    loss : Loss
    constraints : dict of str to cvxpy.Constraint
        The cone rows of each side (for dual values).
    build_seconds : float
        Time spent creating the CVXPY expressions (not the compile).
    """

    problem: cp.Problem
    beta: cp.Parameter
    data: PatchProblem
    loss: Loss
    constraints: dict = field(default_factory=dict)
    build_seconds: float = 0.0


@dataclass
class Blocks:
    """One side's blocks of every cell: ``W`` (d, P), optional thresholds ``T`` (P,)."""

    W: cp.Variable
    T: cp.Variable | None
    YW: cp.Expression

    @property
    def T_row(self) -> cp.Expression:
        """``T`` as a (1, P) row, to broadcast over the rows of a cell."""
        return cp.reshape(self.T, (1, self.T.shape[0]), order="C")


def make_blocks(Y: np.ndarray, P: int, name: str, *, thresholds: bool = False) -> Blocks:
    """The variables of one side: ``W`` (d, P) named ``name``, and ``T`` (P,) if asked.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    P : int
        Number of blocks (cells).
    name : str
        Name of the ``W`` variable (``T`` gets ``"T" + name[1:]``).
    thresholds : bool
        Add an unpenalized threshold per block (soft thresholds).
    """
    W = cp.Variable((Y.shape[1], P), name=name)
    T = cp.Variable(P, name="T" + name[1:]) if thresholds else None
    return Blocks(W=W, T=T, YW=Y @ W)


def prepare_loss(problem: PatchProblem, loss: str | Loss) -> Loss:
    """The loss object, after checking the problem's target against it."""
    loss = get_loss(loss)
    loss.validate_target(problem.target)
    return loss


def signed_rows(
    rows: cp.Expression, coefficients: np.ndarray, keep: np.ndarray | None = None
) -> list[cp.Constraint]:
    """``coefficients * rows >= 0`` on the kept entries with a nonzero coefficient.

    Parameters
    ----------
    rows : cvxpy.Expression of shape (r, P)
        Row ``k`` of the fixed matrix applied to every block.
    coefficients : ndarray of shape (r, P)
        Sign (or gain) of each row in each block; 0: no constraint.
    keep : ndarray of shape (r, P), bool, optional
        Rows to keep (a facet reduction); default every row.

    Returns
    -------
    list of cvxpy.Constraint
        One constraint, of shape (r, P) when every entry is constrained, else
        one entry per ``np.nonzero(keep & (coefficients != 0))`` in that
        (row-major) order. When a reduction keeps nothing, the first row with a
        nonzero coefficient (a valid cone row) stands in, so the constraint
        exists for dual values; empty only when every coefficient is 0.
    """
    select = coefficients != 0
    if keep is not None:
        select = select & keep
    if keep is None and select.all():
        return [cp.multiply(coefficients, rows) >= 0]
    r, c = np.nonzero(select)
    if r.size == 0:
        r, c = (a[:1] for a in np.nonzero(coefficients != 0))
        if r.size == 0:
            return []
    return [cp.multiply(coefficients[r, c], rows[r, c]) >= 0]


def assemble(
    problem: PatchProblem,
    outputs: cp.Expression,
    sides: tuple[Blocks, ...],
    cone_rows: list[cp.Constraint],
    *,
    beta: float,
    loss: Loss,
    start: float,
) -> dict:
    """``min L(R outputs, x) + beta * (column norms of every side)`` s.t. ``cone_rows``.

    Parameters
    ----------
    problem : PatchProblem
    outputs : cvxpy.Expression of shape (n,)
    sides : tuple of Blocks
        Their ``W`` columns carry the group-norm penalty.
    cone_rows : list of cvxpy.Constraint
    beta : float
        Checked (> 0) and stored in a ``cvxpy.Parameter``.
    loss : Loss
    start : float
        ``time.perf_counter()`` when the build began.

    Returns
    -------
    dict
        The :class:`ConeProgram` fields ``problem``, ``beta``, ``data``,
        ``loss``, ``build_seconds``, to pass on to the program's constructor.
    """
    beta_param = beta_parameter(beta)
    fit = loss.expression(problem.readout.expression(outputs), problem.target)
    norms = cp.sum(cp.norm(sides[0].W, 2, axis=0))
    for side in sides[1:]:
        norms = norms + cp.sum(cp.norm(side.W, 2, axis=0))
    convex = cp.Problem(cp.Minimize(fit + beta_param * norms), cone_rows)
    return program_fields(convex, beta_param, problem, loss, start)


def beta_parameter(beta: float) -> cp.Parameter:
    """``beta``, checked (> 0), as the nonnegative ``cvxpy.Parameter`` named ``"beta"``."""
    return cp.Parameter(nonneg=True, value=check_positive(beta, "beta"), name="beta")


def program_fields(
    convex: cp.Problem, beta: cp.Parameter, problem: PatchProblem, loss: Loss, start: float
) -> dict:
    """The :class:`ConeProgram` fields of a built program (``start``: when the build began)."""
    return dict(
        problem=convex,
        beta=beta,
        data=problem,
        loss=loss,
        build_seconds=time.perf_counter() - start,
    )
