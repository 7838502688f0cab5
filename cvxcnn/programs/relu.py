"""The exact convex program of a two-layer ReLU CNN (Sahiner et al. eq. 4).

    minimize    L(R sum_i D_i Y (w_i - z_i), x) + beta * sum_i (||w_i||_2 + ||z_i||_2)
    subject to  (2 D_i - I) Y w_i >= 0,  (2 D_i - I) Y z_i >= 0      for every pattern i

Built vectorized: the ``w_i`` are the columns of one matrix variable ``W``
(d, P) (likewise ``Z``); with the masks ``M`` (n, P) the prediction is
``rowsum(M * (Y W - Y Z))`` and the sign constraints are one elementwise
inequality ``(2M - 1) * (Y W) >= 0`` per side. No per-pattern atom is created,
so compile time does not grow with a Python loop over patterns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from cvxcnn.losses import Loss
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.cone import (
    ConeProgram,
    assemble,
    make_blocks,
    prepare_loss,
    signed_rows,
)
from cvxcnn.programs.objective import group_norm_objective


@dataclass(kw_only=True)
class ReluProgram(ConeProgram):
    """A built (not yet solved) ReLU convex program.

    Attributes
    ----------
    problem, beta, data, loss, build_seconds
        As in :class:`~cvxcnn.programs.cone.ConeProgram`.
    W, Z : cvxpy.Variable of shape (d, P)
        Column ``i`` is ``w_i`` / ``z_i`` of pattern ``i``.
    masks : ndarray of shape (P, n), bool
        ``masks[i] = diag(D_i)``.
    constraints : dict of str to cvxpy.Constraint
        ``"sign_w"`` and ``"sign_z"``, each of shape (n, P) (or the kept
        entries only when a ``row_mask`` was given), for dual values.
    row_mask : ndarray of shape (n, P), bool, or None
        Which sign constraints the program holds (None: all).
    """

    W: cp.Variable
    Z: cp.Variable
    masks: np.ndarray
    row_mask: np.ndarray | None = None

    @property
    def n_patterns(self) -> int:
        return self.masks.shape[0]

    @property
    def sign_rows(self) -> int:
        """Number of sign-constraint rows in the program (both sides)."""
        kept = self.masks.size if self.row_mask is None else int(self.row_mask.sum())
        return 2 * kept


def check_masks(masks: np.ndarray, n: int) -> np.ndarray:
    """``masks`` as a non-empty (P, n) bool array, or a ValueError naming the fix."""
    masks = np.asarray(masks)
    if masks.ndim != 2 or masks.shape[1] != n:
        raise ValueError(
            f"patterns must be a (P, n) mask array with n={n} (rows of Y); got shape {masks.shape}"
        )
    if masks.shape[0] == 0:
        raise ValueError("the pattern set is empty; sample or enumerate at least one pattern")
    return masks.astype(bool)


def pattern_masks(patterns: object) -> np.ndarray:
    """The (P, n) bool masks of a ``PatternSet`` or of a raw mask array."""
    return np.asarray(getattr(patterns, "masks", patterns))


def relu_inputs(
    problem: PatchProblem, patterns: object, loss: str | Loss
) -> tuple[Loss, np.ndarray]:
    """The loss (checked against ``problem``'s target) and the (P, n) bool masks of ``patterns``.

    What every ReLU builder (primal, direct, dual) starts from; a ValueError
    names the fix for a bad target or mask shape.
    """
    return prepare_loss(problem, loss), check_masks(pattern_masks(patterns), problem.n)


def build_relu_program(
    problem: PatchProblem,
    patterns: object,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
    row_mask: np.ndarray | None = None,
) -> ReluProgram:
    """Build the eq. 4 program for a problem and a set of sign patterns.

    DESIGN.md section 4, through CVXPY: the reference builder (every loss,
    every installed solver, DPP in ``beta``, duals for the KKT check).
    Nothing is solved here; :func:`cvxcnn.fitting.fit` builds, solves and
    reconstructs. Its cost is the ``2 n P`` sign rows (fewer with
    ``row_mask``); :func:`cvxcnn.programs.relu_direct.build_relu_conic`
    writes the same program for Clarabel without CVXPY's canonicalization.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout ``R`` and target ``x``.
    patterns : PatternSet or ndarray of shape (P, n), bool
        Sign patterns ``diag(D_i)``. With every cell of the arrangement the
        program is exact; with a subset its optimum is an upper bound.
    beta : float
        Weight decay (> 0); stored in a ``cvxpy.Parameter``.
    loss : str or Loss
        ``squared`` (default), ``absolute``, ``huber``, ``logistic``.
    row_mask : ndarray of shape (n, P), bool, optional
        Sign constraints to keep (e.g. :func:`cvxcnn.facets.facet_row_mask`);
        the others must be redundant for the cell, or the program changes.
        Default: every row.

    Returns
    -------
    ReluProgram
    """
    start = time.perf_counter()
    loss, masks = relu_inputs(problem, patterns, loss)
    M = masks.T.astype(np.float64)  # (n, P)
    if row_mask is not None:
        row_mask = np.asarray(row_mask, dtype=bool)
        if row_mask.shape != M.shape:
            raise ValueError(f"row_mask must have shape (n, P) = {M.shape}; got {row_mask.shape}")
    w, z = make_blocks(problem.Y, M.shape[1], "W"), make_blocks(problem.Y, M.shape[1], "Z")
    outputs = cp.sum(cp.multiply(M, w.YW - z.YW), axis=1)  # (n,) = sum_i D_i Y (w_i - z_i)
    signs = 2.0 * M - 1.0  # the cone (2 D_i - I) Y w >= 0
    [sign_w], [sign_z] = (signed_rows(side.YW, signs, row_mask) for side in (w, z))
    parts = assemble(problem, outputs, (w, z), [sign_w, sign_z], beta=beta, loss=loss, start=start)
    rows = {"sign_w": sign_w, "sign_z": sign_z}
    return ReluProgram(**parts, W=w.W, Z=z.W, masks=masks, constraints=rows, row_mask=row_mask)


def convex_objective(
    W: np.ndarray,
    Z: np.ndarray,
    masks: np.ndarray,
    problem: PatchProblem,
    beta: float,
    loss: str | Loss = "squared",
) -> float:
    """Eq. 4's objective at ``(W, Z)`` in float64 (constraints not checked).

    The ReLU outputs ``sum_i D_i Y (w_i - z_i)`` handed to
    :func:`~cvxcnn.programs.objective.group_norm_objective`; check
    feasibility with :func:`sign_violation`. One dense ``Y @ (W - Z)``:
    ``O(n d P)``.

    Parameters
    ----------
    W, Z : ndarray of shape (d, P)
    masks : ndarray of shape (P, n), bool
    problem : PatchProblem
    beta : float
    loss : str or Loss
    """
    M = np.asarray(masks, dtype=bool).T
    outputs = np.sum(M * (problem.Y @ (W - Z)), axis=1)
    return group_norm_objective(outputs, W, Z, problem, beta, loss)


def sign_violation(W: np.ndarray, Z: np.ndarray, masks: np.ndarray, Y: np.ndarray) -> float:
    """Largest violation of the sign constraints ``(2D_i - I) Y w_i >= 0`` (0 if feasible)."""
    signs = 2.0 * np.asarray(masks, dtype=bool).T - 1.0
    worst = min(np.min(signs * (Y @ W)), np.min(signs * (Y @ Z)))
    return float(max(0.0, -worst))
