"""The certificate oracle ``M(r) = max_{||u|| <= 1} |g^T (Y u)_+|`` with ``g = R^T r``.

Over the closed cell ``K_i = {u : A_i u >= 0}``, ``A_i = (2 D_i - I) Y``,
``(Y u)_+ = D_i Y u``, so the cell's share of the max is

    m_i(c) = max { c^T u : u in K_i, ||u|| <= 1 },    c = +-c_i,  c_i = Y^T D_i g.

Exact per-cell method (instead of one SOCP per cell). By Moreau's
decomposition ``c = P_K(c) + P_K°(c)`` with the polar cone
``K° = {-A^T a : a >= 0}``, so

    m_i(c) = ||P_K(c)|| = min_{a >= 0} ||c + A_i^T a||_2,

a non-negative least-squares problem (``scipy.optimize.nnls``, exact
active-set method). Any ``a >= 0`` gives a valid UPPER bound
``||c + A^T a||`` evaluated in float64, and ``u = (c + A^T a*) / ||.||`` is a
point at which the objective is evaluated directly for a LOWER bound, so the
oracle brackets ``M`` rigorously whatever the accuracy of the NNLS.

Screening (closed form, vectorized over all cells): ``||c_i||`` is an upper
bound on ``m_i``, attained when ``c_i / ||c_i||`` lies in ``K_i``; and
``|g^T (Y u)_+|`` at ``u = +-c_i/||c_i||`` is a lower bound on ``M``. Only
cells whose ``||c_i||`` exceeds the best lower bound need the NNLS.

The SOCP form (``method="socp"``: the candidate cells stacked into one CVXPY
program, upper bounds from its duals) is kept as an independent check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from scipy.optimize import nnls

from cvxcnn.results import Result, omitted

ORACLE_METHODS = ("nnls", "socp")
_CHUNK = 2048


def bracket_closed(upper: float, lower: float, rtol: float, atol: float = 0.0) -> bool:
    """``upper <= lower (1 + rtol) + atol``: the bracket is the value itself (``converged``).

    The one test behind every oracle's ``converged`` flag; ``atol`` (a small
    multiple of the problem's scale) closes brackets whose value is zero.
    """
    return bool(upper <= lower * (1 + rtol) + atol)


@dataclass(kw_only=True)
class OracleBracket(Result):
    """A rigorous bracket ``lower <= M <= upper`` on an oracle's maximum ``M``.

    The contract of every oracle of the package (the ReLU and soft-threshold
    oracles of DESIGN.md sections 5 and 6, the mixed-integer ones of section
    12, the vector one of section 13): ``lower`` is a value of the objective
    evaluated in float64 at a point of the ball, ``direction``, so
    ``M >= lower`` holds exactly; ``upper`` is a proven bound: a closed form
    or a dual point evaluated in float64 (``M <= upper`` whatever the
    solver's accuracy), or a MIP solver's dual bound (as rigorous as that
    solver's tolerances, see :mod:`cvxcnn.mip_oracle`); ``upper >= lower``
    always. Over WHICH set ``M`` is taken (the given cells, or every cell) is
    the oracle's or the caller's to say: a certificate built on ``upper`` is
    "certified" only when it is every cell.

    Attributes
    ----------
    upper, lower : float
        ``lower <= M <= upper``.
    direction : ndarray of shape (d,)
        Point of the unit ball where the objective is at least ``lower``
        (soft thresholds: its ``u``, with the best threshold ``t >= 0``).
    converged : bool
        ``upper`` is the value itself up to the method's tolerance
        (:func:`bracket_closed`). False when an anytime oracle stopped at a
        time or evaluation limit: the bracket is still rigorous, only looser.
    seconds : float
        Wall time of the call.
    """

    upper: float
    lower: float
    direction: np.ndarray = omitted(repr=False)
    converged: bool
    seconds: float

    @property
    def gap(self) -> float:
        """``upper - lower`` (0 when the bracket is closed)."""
        return self.upper - self.lower


@dataclass(kw_only=True)
class OracleResult(OracleBracket):
    """:class:`OracleBracket` on ``M = max over the given cells and ||u|| <= 1 of |g^T (Y u)_+|``.

    With per-cell brackets, for column generation (which cells violate) and
    streaming (which cells to keep). ``upper``, ``lower`` and ``direction``
    are those of :class:`OracleBracket` over the given cells.

    Attributes
    ----------
    cell_upper, cell_lower : ndarray of shape (P,)
        Per-cell bracket of ``max(m_i(c_i), m_i(-c_i))``.
    argmax : int
        Cell with the largest ``cell_lower``.
    n_cells, n_screened, n_solved : int
        Cells seen, settled in closed form or pruned, and solved (NNLS/SOCP).
    method : str
    converged : bool
        True by default: the per-cell methods are exact; an anytime
        (mixed-integer) oracle sets False at its time limit.
    cells : object or None
        The given cells grown by the cells an enumeration-free oracle found
        (the brackets cover them, in that order); None when nothing was added.
    sign_lower, sign_upper : ndarray of shape (P, 2) or None
        ``cell_lower`` and ``cell_upper`` per sign (``+c_i``, ``-c_i``) where
        the oracle knows them.
    """

    cell_upper: np.ndarray = omitted(repr=False)
    cell_lower: np.ndarray = omitted(repr=False)
    argmax: int
    n_cells: int
    n_screened: int
    n_solved: int
    method: str
    converged: bool = True
    cells: object = omitted(default=None, repr=False)
    sign_lower: np.ndarray | None = omitted(default=None, repr=False)
    sign_upper: np.ndarray | None = omitted(default=None, repr=False)


def objective_at(Y: np.ndarray, g: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``|g^T (Y u)_+|`` for each row ``u`` of ``U`` (k, d); returns (k,)."""
    return np.abs(np.maximum(U @ Y.T, 0.0) @ g)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _screen(Y, g, masks):
    """Vectorized closed forms: ||c_i||, whether it is attained, lower and halfspace bounds.

    The halfspace bound of a (cell, sign) pair is ``||P_H(c)||`` for the
    half-space ``H = {a_j^T u >= 0}`` of the cell's row most violated by
    ``c``: ``K`` lies in ``H``, so ``m(c) = ||P_K(c)|| <= ||P_H(c)|| =
    ||c|| sqrt(1 - cos^2)``, with ``cos`` the most negative cosine between
    ``c`` and a row ``a_j`` (exact where ``c`` is in the cell).
    """
    P = masks.shape[0]
    c_norm = np.empty(P)
    attained = np.empty((P, 2), dtype=bool)
    value_at = np.empty((P, 2))
    halfspace = np.empty((P, 2))
    row_norm = np.linalg.norm(Y, axis=1)[:, None]
    inv_norm = np.divide(1.0, row_norm, out=np.zeros_like(row_norm), where=row_norm > 0)
    for start in range(0, P, _CHUNK):
        block = masks[start : start + _CHUNK]
        rows = slice(start, start + len(block))
        C = (block * g) @ Y  # (k, d): c_i = Y^T D_i g
        c_norm[rows] = np.linalg.norm(C, axis=1)
        Uc = _unit(C)
        YU = Y @ Uc.T  # (n, k)
        signs = 2.0 * block.T - 1.0
        scale = np.abs(YU).max(axis=0) + 1e-300
        slack = signs * YU / scale
        attained[rows, 0] = slack.min(axis=0) >= -1e-12
        attained[rows, 1] = (-slack).min(axis=0) >= -1e-12
        value_at[rows, 0] = objective_at(Y, g, Uc)
        value_at[rows, 1] = objective_at(Y, g, -Uc)
        cosine = np.clip(signs * YU * inv_norm, -1.0, 1.0)  # (n, k): a_j^T c / (|a_j| |c|)
        worst = np.stack([np.minimum(cosine.min(axis=0), 0.0), np.maximum(cosine.max(axis=0), 0.0)])
        halfspace[rows] = c_norm[rows, None] * np.sqrt(1.0 - worst.T**2)
    return c_norm, attained, value_at, halfspace


def cell_nnls(Y: np.ndarray, g: np.ndarray, mask: np.ndarray, sign: float = 1.0):
    """Exact max of ``sign * c^T u`` over the cell of ``mask`` (n,) and the unit ball.

    NNLS on the polar cone (module docstring): returns ``(m, p)`` with the
    upper end ``m = ||p||`` and ``p = P_K(c)`` (d,), whose direction is the
    cell's maximizer (``c = Y^T D g``).
    """
    c = sign * (Y.T @ (mask * g))
    A_T = (Y * (2.0 * mask - 1.0)[:, None]).T  # (d, n) = A^T
    a, _ = nnls(A_T, -c, maxiter=50 * A_T.shape[1])
    proj = c + A_T @ a
    return float(np.linalg.norm(proj)), proj


def nnls_pairs(Y: np.ndarray, g: np.ndarray, masks: np.ndarray, signs: np.ndarray):
    """:func:`cell_nnls` over (cell, sign) pairs: ``masks`` (k, n), ``signs`` (k,).

    Returns ``(upper (k,), points (k, d))``, points unnormalized (one chunk of
    the oracle's exact per-cell work, run by :func:`cvxcnn.executor.map_calls`).
    """
    ups = np.empty(len(masks))
    points = np.empty((len(masks), Y.shape[1]))
    for j in range(len(masks)):
        ups[j], points[j] = cell_nnls(Y, g, masks[j], signs[j])
    return ups, points


#: Pairs per oracle chunk when an executor runs the NNLS (enough work to pay for a task).
NNLS_CHUNK = 256


def _nnls_todo(Y, g, masks, todo, signs, executor):
    """Upper ends and unit points of the ``todo`` (cell, sign) pairs, in order."""
    if executor is None:
        ups, points = nnls_pairs(Y, g, masks[todo[:, 0]], signs)
        return ups, _unit(points)
    from cvxcnn.executor import map_calls

    parts = np.array_split(np.arange(len(todo)), max(1, -(-len(todo) // NNLS_CHUNK)))
    cases = [(Y, g, masks[todo[part, 0]], signs[part]) for part in parts]
    results = map_calls(nnls_pairs, cases, executor=executor)
    return np.concatenate([u for u, _ in results]), _unit(np.vstack([p for _, p in results]))


def _nnls_pairs(Y, g, masks, todo, best):
    """NNLS on the (cell, sign) pairs ``todo`` (k, 2); ``best``: stop early for a top-k.

    ``best = (pair_lower, pair_upper, keep, threshold, sign_floor, budget)``:
    pairs go best bound first, and a pair whose bound cannot beat its sign's
    ``keep``-th best lower end so far (closed-form values included) is
    skipped; with a ``budget``, a sign stops after that many solves once
    ``keep`` violators of ``threshold`` are known for it. Returns the pairs
    solved, their upper ends (k',) and unit maximizers (k', d).
    """
    ups, points, done = [], [], []
    if best is None:
        order, bars = range(len(todo)), None
    else:
        pair_lower, pair_upper, keep, threshold, sign_floor, budget = best
        order = np.argsort(-pair_upper[todo[:, 0], todo[:, 1]], kind="stable")
        bars = [np.sort(pair_lower[:, s])[::-1][:keep].tolist() for s in (0, 1)]
        solved = [0, 0]
    for j in order:
        cell, side = int(todo[j, 0]), int(todo[j, 1])
        if bars is not None and len(bars[side]) >= keep:
            if pair_upper[cell, side] <= bars[side][-1]:
                continue
            known = sign_floor[side] > threshold or bars[side][-1] > threshold
            if budget is not None and solved[side] >= budget and known:
                continue
        if bars is not None:
            solved[side] += 1
        up, proj = cell_nnls(Y, g, masks[cell], 1.0 if side == 0 else -1.0)
        ups.append(up)
        points.append(proj)
        done.append(j)
        if bars is not None:  # the point's value (within this cell) joins the sign's best
            value = min(float(objective_at(Y, g, _unit(proj[None]))[0]), up)
            bars[side] = sorted([*bars[side], value], reverse=True)[:keep]
    d = Y.shape[1]
    points = _unit(np.array(points).reshape(-1, d))
    return todo[np.array(done, dtype=np.intp)], np.array(ups), points


def _socp_cells(Y, g, masks, pairs, solver, solver_options):
    """One stacked SOCP over (cell, sign) pairs; upper bounds from its duals."""
    k = len(pairs)
    cells, signs = pairs[:, 0].astype(int), pairs[:, 1].astype(float)
    M = masks[cells].astype(float)  # (k, n)
    C = signs[:, None] * ((M * g) @ Y)  # (k, d)
    S = 2.0 * M.T - 1.0  # (n, k)
    U = cp.Variable((k, Y.shape[1]))
    sign_con = cp.multiply(S, Y @ U.T) >= 0
    prob = cp.Problem(
        cp.Maximize(cp.sum(cp.multiply(C, U))), [cp.norm(U, 2, axis=1) <= 1, sign_con]
    )
    prob.solve(solver=solver, **(solver_options or {}))
    upper = np.linalg.norm(C, axis=1)
    points = np.zeros_like(C)
    if U.value is not None:
        points = np.asarray(U.value)
    if sign_con.dual_value is not None:
        alpha = np.maximum(np.asarray(sign_con.dual_value), 0.0)  # (n, k)
        dual_bound = np.linalg.norm(C + (S * alpha).T @ Y, axis=1)
        upper = np.minimum(upper, dual_bound)
    return upper, _unit(points)


def relu_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    masks: np.ndarray,
    *,
    method: str = "nnls",
    solver: str = "CLARABEL",
    solver_options: dict | None = None,
    threshold: float | None = None,
    known_lower: float = 0.0,
    executor: object = None,
    keep: int | None = None,
    sign_floor: tuple[float, float] = (-np.inf, -np.inf),
    budget: int | None = None,
) -> OracleResult:
    """Bracket ``max over the cells in masks, ||u|| <= 1, of |g^T (Y u)_+|``.

    The certificate's oracle ``M(r)`` (DESIGN.md section 5), cell by cell but
    vectorized: the closed forms of the module docstring (``||c_i||``, whether
    it is attained, the half-space bound) settle most (cell, sign) pairs in
    ``O(P n d)``, and each remaining pair gets one exact NNLS on the polar
    cone (``method="socp"``: one stacked SOCP instead, kept as an independent
    check). The bracket is rigorous whatever the NNLS or solver accuracy
    (upper ends are norms at dual-feasible points, lower ends values at
    points of the ball, both in float64) and ``converged`` is True; it is
    ``M`` of the problem only when ``masks`` are every cell.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
        ``R^T r`` for a residual direction ``r``.
    masks : ndarray of shape (P, n), bool
        Cells to search. Only when these are every cell of the arrangement is
        the result ``M`` itself (the caller decides what to call it).
    method : {"nnls", "socp"}
        Exact per-cell solver for cells the closed forms do not settle.
    solver, solver_options
        For ``method="socp"``.
    threshold : float, optional
        Decide every cell against this value, within the GIVEN cells only:
        each cell whose bound exceeds ``threshold`` is solved exactly (so
        ``cell_lower > threshold`` lists every violator), and ``lower`` only
        counts points inside their own cell. By default the search stops at
        the maximum and ``lower`` may come from a point of a cell outside
        ``masks`` (valid for the whole arrangement, which is what a
        certificate over a sampled set estimates); cells pruned that way keep
        ``cell_lower = 0``.
    known_lower : float
        A value of ``M`` already reached elsewhere in the same arrangement
        (earlier chunks of a stream): by default, pairs whose bound is at
        most this are not solved either (ignored with ``threshold``).
    executor : None, int, "local", address or distributed.Client
        Where the per-cell NNLS runs, in chunks of :data:`NNLS_CHUNK` pairs
        (:func:`cvxcnn.executor.map_calls`; None: here). The result is the serial one.
    keep : int, optional
        With ``threshold`` (NNLS): only the ``keep`` best cells per sign are
        wanted. Pairs are solved best bound first, and a pair whose bound is
        below its sign's ``keep``-th best lower end so far is left unsolved
        (its bracket stays the closed-form one): ``cell_lower > threshold``
        then lists the ``keep`` most violated cells per sign, not every one.
    sign_floor : (float, float)
        With ``keep``: per sign (``+c``, ``-c``), a value already reached by
        ``keep`` cells elsewhere (earlier chunks); pairs at or below it are
        not solved.
    budget : int, optional
        With ``keep``: once ``keep`` violators of a sign are known (here or
        through ``sign_floor``), at most this many NNLS solves for that sign.
        The cells returned are then violators with exact values, not
        necessarily the ``keep`` most violated; when fewer than ``keep``
        violators exist every pair above ``threshold`` is still solved.

    Returns
    -------
    OracleResult
    """
    if method not in ORACLE_METHODS:
        raise ValueError(f"oracle method must be one of {ORACLE_METHODS}; got {method!r}")
    if executor is not None and (method != "nnls" or keep is not None):
        raise ValueError(
            "executor runs the per-cell NNLS of a full pass: use it with method='nnls' and "
            "without keep (the best-first top-k pass runs here)"
        )
    start = time.perf_counter()
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 2 or masks.shape[1] != Y.shape[0] or masks.shape[0] == 0:
        raise ValueError(f"masks must be a non-empty (P, n={Y.shape[0]}) array; got {masks.shape}")
    P = masks.shape[0]
    c_norm, attained, value_at, halfspace = _screen(Y, g, masks)
    # per (cell, sign) bracket: ||c_i|| (and the halfspace bound below it) bounds every
    # pair and is exact where attained
    pair_lower = np.where(attained, c_norm[:, None], 0.0)
    pair_upper = np.maximum(np.minimum(halfspace, c_norm[:, None]), pair_lower)
    if threshold is not None:  # a point outside its cell says nothing about the given cells
        value_at = np.where(attained, value_at, 0.0)
    best = value_at.max(axis=1)
    lower, best_cell = float(best.max()), int(best.argmax())
    side = 1.0 if value_at[best_cell, 0] >= value_at[best_cell, 1] else -1.0
    direction = side * _unit((masks[best_cell] * g) @ Y)
    # pairs whose closed-form bound is not attained and might beat `lower`
    cut = max(lower, known_lower) if threshold is None else float(threshold)
    if threshold is not None and keep is not None:  # per sign: the keep-th best elsewhere
        cut = np.maximum(cut, np.asarray(sign_floor, dtype=float))
    todo = np.argwhere(~attained & (pair_upper > cut))
    if len(todo):
        signs = np.where(todo[:, 1] == 0, 1.0, -1.0)
        if method == "nnls":
            if keep is not None and threshold is not None:
                best = (pair_lower, pair_upper, keep, threshold, sign_floor, budget)
                todo, ups, points = _nnls_pairs(Y, g, masks, todo, best)
                signs = np.where(todo[:, 1] == 0, 1.0, -1.0)
            else:
                ups, points = _nnls_todo(Y, g, masks, todo, signs, executor)
        else:
            pairs = np.column_stack([todo[:, 0], signs])
            ups, points = _socp_cells(Y, g, masks, pairs, solver, solver_options)
    if len(todo):
        rows, cols = todo[:, 0], todo[:, 1]
        pair_upper[rows, cols] = np.minimum(c_norm[rows], ups)  # the halfspace bound only prunes
        vals = objective_at(Y, g, points)
        if threshold is not None:
            # a point that rounding put outside its cell is valued in ANOTHER cell
            # (fine for the whole arrangement, not here): cap at this cell's upper end
            vals = np.minimum(vals, ups)
        pair_lower[rows, cols] = vals
        j = int(vals.argmax())
        if vals[j] > lower:
            lower, direction, best_cell = float(vals[j]), points[j], int(rows[j])
    cell_upper = pair_upper.max(axis=1)
    cell_lower = pair_lower.max(axis=1)
    return OracleResult(
        upper=max(float(cell_upper.max()), lower),
        lower=lower,
        cell_upper=cell_upper,
        cell_lower=cell_lower,
        direction=direction,
        argmax=best_cell,
        n_cells=P,
        n_screened=P * 2 - len(todo),
        n_solved=len(todo),
        method=method,
        seconds=time.perf_counter() - start,
        sign_lower=pair_lower,
        sign_upper=pair_upper,
    )
