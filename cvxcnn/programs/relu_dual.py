"""The explicit dual of the ReLU convex program (Sahiner et al. eq. 20, App. C).

    maximize_lam   -L*(lam)
    subject to     for every pattern i, with g = R^T lam (n,), c_i = Y^T D_i g (d,),
                   A_i = (2 D_i - I) Y (n, d):
                       exists alpha_i  >= 0:  || -c_i + A_i^T alpha_i  ||_2 <= beta
                       exists alpha'_i >= 0:  ||  c_i + A_i^T alpha'_i ||_2 <= beta

Derivation (signs)
------------------
Write the primal (eq. 4) with ``p = R sum_i D_i Y (w_i - z_i)`` and the cones
``K_i = {u : A_i u >= 0}``. Its Lagrangian in ``p`` with multiplier ``lam`` is
``L(p) - lam^T p + lam^T R sum_i D_i Y (w_i - z_i) + beta sum_i (||w_i|| + ||z_i||)``;
the infimum over ``p`` is ``-L*(lam)`` and the infimum over ``w_i in K_i`` of
``c_i^T w_i + beta ||w_i||`` is 0 iff ``max_{u in K_i, ||u|| <= 1} (-c_i)^T u <= beta``
(else ``-inf``); likewise ``z_i`` needs ``max_{u in K_i, ||u||<=1} c_i^T u <= beta``.
Conic duality turns each max into a min: for ``alpha >= 0`` and ``u in K_i``,
``c^T u <= c^T u + alpha^T A_i u = (c + A_i^T alpha)^T u <= ||c + A_i^T alpha||``
when ``||u|| <= 1``, and the bound is attained (strong duality, the constraints
are affine plus one Slater-feasible ball) — hence the existential constraints above.

Weak duality in two lines: for feasible ``(lam, alpha, alpha')`` and any
feasible ``(W, Z)``, ``(-c_i)^T w_i <= (-c_i + A_i^T alpha_i)^T w_i <= beta ||w_i||``
and ``c_i^T z_i <= beta ||z_i||``; so with Fenchel-Young
``L(p) >= lam^T p - L*(lam) = sum_i (c_i^T w_i - c_i^T z_i) - L*(lam)``
``>= -beta sum_i (||w_i|| + ||z_i||) - L*(lam)``: primal objective ``>= -L*(lam)``.

At a primal-dual optimum ``lam = grad L(p*)`` (for the squared loss the negated
residual ``p* - x``; Sahiner's ``r = x - p* = -lam``), and the multipliers
``alpha_i``/``alpha'_i`` are the duals of the sign constraints of eq. 4
(``cvxcnn.kkt``). With every cell of the arrangement the dual optimum equals the
non-convex optimum; with a subset of the cells the dual has fewer constraints,
so its optimum is >= the dual over all cells (it is then NOT a lower bound on
the non-convex optimum, only on the restricted program eq. 4 over that subset).

The program is vectorized: ``alpha`` and ``alpha'`` are (n, P) nonnegative
matrix variables, all ``c_i`` form one (d, P) expression
``Y^T (M * g 1^T)``, all ``A_i^T alpha_i`` one expression ``Y^T (S * alpha)``
with ``S = 2M - 1``, and the constraints are two ``norm(., 2, axis=0) <= beta``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from cvxcnn.losses import Loss
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.cone import ConeProgram, beta_parameter, program_fields
from cvxcnn.programs.relu import check_masks, pattern_masks, relu_inputs
from cvxcnn.solve import DEFAULT_SOLVER, SolveInfo, solve_cvxpy


@dataclass(kw_only=True)
class ReluDualProgram(ConeProgram):
    """A built (not yet solved) dual program.

    Attributes
    ----------
    problem : cvxpy.Problem
        ``minimize L*(lam)`` (its optimal value is the NEGATED dual value).
    beta, data, loss, build_seconds
        As in :class:`~cvxcnn.programs.cone.ConeProgram` (``beta``: DPP, set
        ``beta.value`` and re-solve).
    lam : cvxpy.Variable of shape (n_out,)
        Dual variable of the predictions.
    masks : ndarray of shape (P, n), bool
    alpha, alpha_neg : cvxpy.Variable of shape (n, P), nonneg
        Certificates of the ``w``-side (``-c_i``) and ``z``-side (``+c_i``)
        constraints.
    """

    lam: cp.Variable
    masks: np.ndarray
    alpha: cp.Variable | None = None
    alpha_neg: cp.Variable | None = None

    @property
    def n_patterns(self) -> int:
        return self.masks.shape[0]


@dataclass
class DualResult:
    """Outcome of solving the dual program.

    Attributes
    ----------
    value : float
        ``-L*(lam)`` recomputed in float64 (``lam`` first projected onto the
        loss's domain, see :func:`project_to_conjugate_domain`); ``nan`` on failure.
    lam : ndarray of shape (n_out,) or None
    solve : SolveInfo
    constraint_violation : float
        Largest ``max(0, ||-/+ c_i + A_i^T alpha|| - beta)`` over patterns, in
        float64 at the returned ``(lam, alpha, alpha')`` (nonneg-projected).
    beta : float
    loss : str
    n_patterns : int
    exact_arrangement : bool
        True when the patterns are every cell (then ``value`` equals the global
        optimum of the non-convex problem up to solver accuracy).
    """

    value: float
    lam: np.ndarray | None
    solve: SolveInfo
    constraint_violation: float = float("nan")
    beta: float = float("nan")
    loss: str = ""
    n_patterns: int = 0
    exact_arrangement: bool = False
    alpha: np.ndarray | None = field(default=None, repr=False)
    alpha_neg: np.ndarray | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.solve.success

    def to_dict(self) -> dict:
        """JSON-ready summary (``lam`` as a list)."""
        out = {
            "value": self.value,
            **self.solve.outcome(),
            **self.solve.summary(),
            "constraint_violation": self.constraint_violation,
            "beta": self.beta,
            "loss": self.loss,
            "patterns": self.n_patterns,
            "exact_arrangement": self.exact_arrangement,
            "solver_stats": self.solve.solver_stats,
            "lam": None if self.lam is None else [float(v) for v in self.lam],
        }
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def project_to_conjugate_domain(loss: Loss, lam: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Clip ``lam`` into the domain of ``L*`` (undoes solver round-off at its boundary).

    ``absolute``: ``|lam| <= 1``; ``huber``: ``|lam| <= delta``; ``logistic``:
    ``-x lam`` in [0, 1]; otherwise ``lam`` unchanged.
    """
    lam = np.asarray(lam, dtype=np.float64)
    if loss.name == "absolute":
        return np.clip(lam, -1.0, 1.0)
    if loss.name == "huber":
        return np.clip(lam, -loss.delta, loss.delta)
    if loss.name == "logistic":
        return -target * np.clip(-target * lam, 0.0, 1.0)
    return lam


def dual_constraint_violation(
    lam: np.ndarray,
    alpha: np.ndarray,
    alpha_neg: np.ndarray,
    masks: object,
    problem: PatchProblem,
    beta: float,
) -> float:
    """Largest violation of the dual's norm constraints at given certificates (float64).

    ``masks`` is a ``PatternSet`` or a (P, n) bool array; ``alpha``/``alpha_neg``
    (n, P) are projected onto ``>= 0`` first, so a returned 0 means ``lam`` is
    exactly dual feasible (in float64) for these patterns.
    """
    M = check_masks(pattern_masks(masks), problem.n).T.astype(np.float64)  # (n, P)
    S = 2.0 * M - 1.0
    Y = problem.Y
    g = problem.readout.adjoint(np.asarray(lam, dtype=np.float64))
    C = Y.T @ (M * g[:, None])  # (d, P): column i is c_i
    pos = np.linalg.norm(-C + Y.T @ (S * np.maximum(alpha, 0.0)), axis=0)
    neg = np.linalg.norm(C + Y.T @ (S * np.maximum(alpha_neg, 0.0)), axis=0)
    worst = max(pos.max(initial=0.0), neg.max(initial=0.0))
    return float(max(0.0, worst - beta))


def build_relu_dual_program(
    problem: PatchProblem,
    patterns: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
) -> ReluDualProgram:
    """Build the dual (eq. 20) of the eq. 4 program for a set of patterns.

    The vectorized program of the module docstring: ``lam`` (n_out,),
    ``alpha``/``alpha'`` (n, P) and two column-norm constraints. Its value
    bounds eq. 4 over THESE patterns from below; it bounds the non-convex
    optimum only when they are every cell (:func:`cvxcnn.certificates.certify`
    bounds any network without solving this program).

    Parameters
    ----------
    problem : PatchProblem
    patterns : PatternSet or ndarray of shape (P, n), bool
    beta : float
        Weight decay (> 0), stored in a ``cvxpy.Parameter``.
    loss : str or Loss
        Any loss with a ``conjugate_expression``.

    Returns
    -------
    ReluDualProgram
    """
    start = time.perf_counter()
    loss, masks = relu_inputs(problem, patterns, loss)
    Y = problem.Y
    n, P = problem.n, masks.shape[0]
    M = masks.T.astype(np.float64)  # (n, P)
    S = 2.0 * M - 1.0

    lam = cp.Variable(problem.readout.n_out, name="lam")
    alpha = cp.Variable((n, P), nonneg=True, name="alpha")
    alpha_neg = cp.Variable((n, P), nonneg=True, name="alpha_neg")
    beta_param = beta_parameter(beta)

    R = problem.readout.matrix
    g = lam if problem.readout.kind == "identity" else R.T @ lam  # (n,)
    G = cp.reshape(g, (n, 1), order="F") @ np.ones((1, P))  # (n, P): g in every column
    C = Y.T @ cp.multiply(M, G)  # (d, P): column i is c_i = Y^T D_i g
    conj, domain = loss.conjugate_expression(lam, problem.target)
    constraints = [
        cp.norm(-C + Y.T @ cp.multiply(S, alpha), 2, axis=0) <= beta_param,
        cp.norm(C + Y.T @ cp.multiply(S, alpha_neg), 2, axis=0) <= beta_param,
        *domain,
    ]
    convex = cp.Problem(cp.Minimize(conj), constraints)
    fields = program_fields(convex, beta_param, problem, loss, start)
    return ReluDualProgram(**fields, lam=lam, masks=masks, alpha=alpha, alpha_neg=alpha_neg)


def solve_relu_dual(
    problem: PatchProblem,
    patterns: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
    solver: str = DEFAULT_SOLVER,
    solver_options: dict | None = None,
) -> DualResult:
    """Build and solve the dual program; the value is recomputed in float64.

    ``lam`` is projected onto the conjugate's domain before ``-L*(lam)`` is
    evaluated, and the norm constraints are re-checked in float64 at the
    returned multipliers (``constraint_violation``): when it is 0 the value
    bounds eq. 4 over these patterns from below (weak duality) whatever the
    solver's accuracy. The strong-duality check of docs/certificates.md: on
    an exact set the value equals the convex optimum.

    Parameters
    ----------
    problem : PatchProblem
    patterns : PatternSet or ndarray of shape (P, n), bool
    beta : float
    loss : str or Loss
    solver : str
        Any installed CVXPY solver handling the loss's cones (Clarabel default;
        the logistic conjugate needs the exponential cone).
    solver_options : dict, optional

    Returns
    -------
    DualResult
        A failed solve is reported (``value`` nan), not raised.
    """
    program = build_relu_dual_program(problem, patterns, beta=beta, loss=loss)
    info = solve_cvxpy(program.problem, solver, solver_options=solver_options)
    common = dict(
        solve=info,
        beta=float(program.beta.value),
        loss=program.loss.name,
        n_patterns=program.n_patterns,
        exact_arrangement=bool(getattr(patterns, "exact", False)),
    )
    if program.lam.value is None or info.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return DualResult(value=float("nan"), lam=None, **common)
    lam = project_to_conjugate_domain(
        program.loss, np.asarray(program.lam.value, dtype=np.float64), problem.target
    )
    alpha = np.asarray(program.alpha.value, dtype=np.float64)
    alpha_neg = np.asarray(program.alpha_neg.value, dtype=np.float64)
    return DualResult(
        value=-program.loss.conjugate(lam, problem.target),
        lam=lam,
        constraint_violation=dual_constraint_violation(
            lam, alpha, alpha_neg, program.masks, problem, common["beta"]
        ),
        alpha=alpha,
        alpha_neg=alpha_neg,
        **common,
    )
