"""The certificate oracle of soft-threshold networks with learnable thresholds.

The weak-duality argument of :mod:`cvxcnn.certificates` carries over unchanged
once the ReLU oracle is replaced by

    M(r) = max_{||u|| <= 1, t >= 0} |g^T tau_t(Y u)|,     g = R^T r.

(The thresholds are unpenalized and ``tau_{e t}(e a) = e tau_t(a)``, so the
learnable-threshold problem rescales to ``min L(R f) + beta sum |v_k|`` over
``||u_k|| <= 1``, ``t_k >= 0``, exactly as the ReLU one; then
``p* >= -L*(-s r)`` for every ``0 <= s <= beta / M(r)``.) The bound is a
lower bound on the LEARNABLE-threshold optimum, hence also on every
fixed-threshold optimum (a special case).

The oracle. On the closed cell of triple ``j``, ``tau_t(Y u) = F_j(u, t)`` is
linear: ``g^T F_j = c_j^T u + b_j t`` with ``c_j = Y^T ((D1_j + D3_j) g)`` and
``b_j = g^T (D1_j - D3_j) 1``. Each cell's share is the small SOCP

    max  +-(c_j^T u + b_j t)   s.t.  ||u|| <= 1, t >= 0, A_j (u, t) >= 0

(``A_j`` the 6a sign rows). All cells are stacked into one separable SOCP per
sign (matrix variables, as in :func:`cvxcnn.oracle.relu_oracle` ``"socp"``).
Bounds, whatever the solver's accuracy:

- lower: ``|g^T tau_t(Y u)|`` evaluated in float64 at the solver's points
  (rescaled into ``||u|| <= 1``, ``t >= 0``), which are feasible for ``M``;
- upper: for any multipliers ``alpha >= 0`` with
  ``+-b_j + a_t^T alpha <= 0`` (``a_t`` the ``t``-column of ``A_j``),
  ``||+-c_j + A_u^T alpha||`` bounds the cell's max (Lagrangian duality).
  The solver's duals are clipped to ``alpha >= 0``; a positive ``t``
  coefficient left by rounding is cancelled by adding it on the S1/S3 row that
  grows the norm least, then the norm is evaluated in float64.

A certificate is "certified" only when the triples are every cell
(:func:`~cvxcnn.soft_threshold.triples.enumerate_st_triples`).
"""

from __future__ import annotations

import time

import cvxpy as cp
import numpy as np

from cvxcnn.oracle import OracleResult
from cvxcnn.soft_threshold.triples import TripleSet, soft_threshold

_CHUNK_ELEMENTS = 1 << 22


def st_objective_at(Y: np.ndarray, g: np.ndarray, U: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``|g^T tau_{t_k}(Y u_k)|`` for rows ``u_k`` of ``U`` (k, d), ``t`` (k,); returns (k,)."""
    return np.abs(g @ soft_threshold(Y @ U.T, t[None, :]))


def _cell_socp(Y, g, s1, s3, sign, solver, solver_options):
    """One stacked SOCP over the cells for one sign; returns values, points and duals."""
    n, d = Y.shape
    P = s1.shape[0]
    M1, M3 = s1.T.astype(np.float64), s3.T.astype(np.float64)  # (n, P)
    C = sign * ((M1 + M3) * g[:, None]).T @ Y  # (P, d)
    b = sign * (g @ (M1 - M3))  # (P,)
    U = cp.Variable((P, d))
    T = cp.Variable(P)
    YU = Y @ U.T  # (n, P)
    Trow = cp.reshape(T, (1, P), order="C")
    up_mask, low_mask = M1 == 0, M3 == 0
    up = cp.multiply(2.0 * M3 - 1.0, YU - Trow)
    low = cp.multiply(2.0 * M1 - 1.0, -YU - Trow)
    cons = [cp.norm(U, 2, axis=1) <= 1, T >= 0]
    up_con = up[up_mask] >= 0 if up_mask.any() else None
    low_con = low[low_mask] >= 0 if low_mask.any() else None
    cons += [c for c in (up_con, low_con) if c is not None]
    prob = cp.Problem(cp.Maximize(cp.sum(cp.multiply(C, U)) + b @ T), cons)
    try:
        prob.solve(solver=solver, **(solver_options or {}))
    except cp.error.SolverError:
        pass
    alpha_up = np.zeros((n, P))
    alpha_low = np.zeros((n, P))
    if up_con is not None and up_con.dual_value is not None:
        alpha_up[up_mask] = np.maximum(np.asarray(up_con.dual_value).reshape(-1), 0.0)
    if low_con is not None and low_con.dual_value is not None:
        alpha_low[low_mask] = np.maximum(np.asarray(low_con.dual_value).reshape(-1), 0.0)
    Uv = np.zeros((P, d)) if U.value is None else np.asarray(U.value)
    Tv = np.zeros(P) if T.value is None else np.asarray(T.value)
    return C, b, Uv, Tv, alpha_up, alpha_low, str(prob.status)


def _dual_upper(Y, C, b, s1, s3, alpha_up, alpha_low):
    """Valid per-cell upper bounds from clipped multipliers (see module docstring)."""
    S3s = 2.0 * s3.T - 1.0  # (n, P)
    S1s = 2.0 * s1.T - 1.0
    # u-coefficient: c + sum_i alpha_up_i S3s_i y_i - sum_i alpha_low_i S1s_i y_i
    V = C + (alpha_up * S3s - alpha_low * S1s).T @ Y  # (P, d)
    # t-coefficient: b - sum alpha_up S3s - sum alpha_low S1s (must be <= 0)
    excess = b - np.sum(alpha_up * S3s, axis=0) - np.sum(alpha_low * S1s, axis=0)
    upper = np.linalg.norm(V, axis=1)
    fix = np.flatnonzero(excess > 0)
    # rows with t-coefficient -1: up rows on S3 (adds +y_i to V), low rows on S1 (adds -y_i)
    step = max(1, _CHUNK_ELEMENTS // max(1, Y.size))
    for start in range(0, fix.size, step):
        j = fix[start : start + step]
        direction = np.where(s3[j][:, :, None], Y[None], np.where(s1[j][:, :, None], -Y[None], 0))
        valid = s3[j] | s1[j]  # (k, n)
        cand = np.linalg.norm(V[j][:, None, :] + excess[j][:, None, None] * direction, axis=2)
        cand = np.where(valid, cand, np.inf)
        upper[j] = cand.min(axis=1)  # live cells have an S1 or S3 row, so this is finite
    return upper


def st_cell_maximizers(
    Y: np.ndarray,
    w: np.ndarray,
    s1: np.ndarray,
    s3: np.ndarray,
    *,
    solver: str = "CLARABEL",
    solver_options: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell, ``max w^T F_j(u, t)`` over ``||u|| <= 1``, ``t >= 0`` and the cell (one sign).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        Signed weights (``+-g``).
    s1, s3 : ndarray of shape (P, n), bool
        The cells (live ones: some row in S1 or S3).

    Returns
    -------
    U : ndarray of shape (P, d)
        The solver's maximizers rescaled into ``||u|| <= 1`` (feasible for ``M``).
    T : ndarray of shape (P,)
        Their thresholds (``>= 0``, rescaled with ``u``).
    upper : ndarray of shape (P,)
        Rigorous upper bounds on each cell's maximum (module docstring).
    """
    C, b, U, T, a_up, a_low, _ = _cell_socp(Y, w, s1, s3, 1.0, solver, solver_options)
    upper = _dual_upper(Y, C, b, s1, s3, a_up, a_low)
    norms = np.maximum(np.linalg.norm(U, axis=1), 1.0)  # tau is homogeneous in (u, t)
    return U / norms[:, None], np.maximum(T, 0.0) / norms, upper


def st_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    triples: TripleSet,
    *,
    solver: str = "CLARABEL",
    solver_options: dict | None = None,
) -> OracleResult:
    """Bracket ``max over the given cells, ||u|| <= 1, t >= 0, of |g^T tau_t(Y u)|``.

    The certificate oracle of the learnable-threshold program 6a (DESIGN.md
    sections 5 and 6) over enumerated or sampled triples: per sign one SOCP
    stacking every live cell, bounded as in the module docstring, so the
    bracket is rigorous whatever the solver's accuracy. A solve that fails
    (solver error, no solution) leaves zero points and multipliers: a loose
    but valid upper end and ``lower = 0``. Cost: two SOCPs of ``P (d + 1)``
    variables; for triples too many to enumerate use
    :func:`cvxcnn.soft_threshold.mip_oracle.st_mip_oracle`.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
        ``R^T r``.
    triples : TripleSet
        Cells searched. Only when ``triples.exact`` is the bracket on ``M`` itself.
    solver, solver_options
        CVXPY solver for the stacked SOCPs (one per sign).

    Returns
    -------
    cvxcnn.oracle.OracleResult
        ``method="st-socp"``; ``direction`` holds ``u`` (the threshold of the
        best point is not part of that result type).
    """
    return st_cell_brackets(Y, g, triples, solver, solver_options)[0]


def st_cell_brackets(
    Y: np.ndarray,
    g: np.ndarray,
    triples: TripleSet,
    solver: str,
    solver_options: dict | None,
) -> tuple[OracleResult, list[np.ndarray]]:
    """:func:`st_oracle`'s result and the live cells' maximizers, for warm starts.

    The arguments are :func:`st_oracle`'s (the solver settings as given to
    it, defaults there). The MIP oracle over every triple
    (:meth:`cvxcnn.soft_threshold.mip_oracle.STMipTriples.bracket`) starts
    from the best maximizers and adds their cell cuts.

    Returns
    -------
    result : OracleResult
        As :func:`st_oracle`.
    maximizers : list of two ndarrays of shape (L, d)
        Per sign (``+g``, then ``-g``), each live cell's maximizing ``u``,
        best first, flipped onto ``+g`` (``tau`` is odd): ``g^T tau_t(Y u)``
        is the cell's value there, with a positive sign.
    """
    start = time.perf_counter()
    Y = np.asarray(Y, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    live = np.flatnonzero(triples.live)
    P = triples.n_triples
    cell_upper = np.zeros(P)
    cell_lower = np.zeros(P)
    best_u, best_val, best_cell = np.zeros(Y.shape[1]), 0.0, 0
    maximizers = [np.zeros((0, Y.shape[1]))] * 2
    if live.size:
        s1, s3 = triples.s1[live], triples.s3[live]
        for j, sign in enumerate((1.0, -1.0)):
            U, T, ups = st_cell_maximizers(
                Y, sign * g, s1, s3, solver=solver, solver_options=solver_options
            )
            vals = st_objective_at(Y, g, U, T)
            cell_upper[live] = np.maximum(cell_upper[live], ups)
            cell_lower[live] = np.maximum(cell_lower[live], vals)
            maximizers[j] = sign * U[np.argsort(-vals)]
            k = int(vals.argmax())
            if vals[k] > best_val:
                best_val, best_u, best_cell = float(vals[k]), U[k], int(live[k])
    cell_upper = np.maximum(cell_upper, cell_lower)
    result = OracleResult(
        upper=float(cell_upper.max(initial=0.0)),
        lower=best_val,
        cell_upper=cell_upper,
        cell_lower=cell_lower,
        direction=best_u,
        argmax=best_cell,
        n_cells=P,
        n_screened=P - live.size,
        n_solved=int(live.size) * 2,
        method="st-socp",
        seconds=time.perf_counter() - start,
    )
    return result, maximizers
