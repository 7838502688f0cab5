"""The ReLU oracle over EVERY cell without enumeration: a mixed-integer program (HiGHS, SCIP).

``M(g) = max_{||u|| <= 1} |g^T (Y u)_+|`` (DESIGN.md section 12), one sign
``s = +-1`` at a time: ``M_s = max s g^T (Y u)_+``, ``M = max(M_+, M_-)``.
With ``w = s g`` and ``a_i = y_i^T u``:

- every row: ``h_i >= 0``, ``h_i >= a_i``, ``h_i <= a_i + M_i (1 - z_i)``,
  ``h_i <= M_i z_i`` with ``M_i = ||y_i||`` and the slab ``|a_i| <= M_i``;
  ``z_i`` is binary only where ``w_i > 0`` (for ``w_i <= 0`` the
  maximization pushes ``h_i`` down to ``(a_i)_+``, a continuous ``z_i``
  allows it), so the constraints do not depend on ``g`` and ONE model
  (:class:`ReluMip`) serves both signs and every call;
- the ball replaced by an OUTER polytope: the box ``|u_j| <= 1``,
  ``||u||_1 <= sqrt(d)``, and tangent cuts ``a^T u <= 1`` (``||a|| = 1``):
  at every incumbent ``u*`` the cut at ``u* / ||u*||`` and the cell cut at
  the maximizer of ``u*``'s cell (``u_K = P_K(c) / ||P_K(c)||`` from
  :func:`cvxcnn.oracle.cell_nnls`), which makes the polytope maximum over
  that cell exact, so the rounds end.

Every point of the ball is feasible (with ``h = (Y u)_+``), so the MIP's
DUAL bound over the polytope bounds ``M_s`` from above at ANY stop (time
limit, interrupt): the oracle is **anytime**; the smallest bound over rounds
is kept. The lower end is the float64 value at a point of the ball (an
incumbent normalized onto the ball, or its cell's maximizer). The upper end
is as rigorous as HiGHS's dual bound (its LP tolerances, tightened here to
1e-9); the rest of the bracket is exact float64 arithmetic.

After each solve the incumbents outside the ball give cuts and the MIP is
solved again (warm-started from the best point of the ball). With a
``threshold`` (column generation's pricing) a callback stops the solve at
the first point above it or once the dual bound proves ``M_s <= threshold``;
:func:`cell_ascent` walks over adjacent cells for strong violators. The
``engine="scip"`` variant (:mod:`cvxcnn.scip_oracle`) solves the same
big-M model over the exact ball with SCIP (docs/certificates.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

import highspy
import numpy as np
import scipy.sparse as sp

from cvxcnn.arrangements import (
    PatternSet,
    matrix_digest,
    patterns_from_generators,
    sample_relu_patterns,
)
from cvxcnn.oracle import (
    OracleBracket,
    OracleResult,
    bracket_closed,
    cell_nnls,
    objective_at,
    relu_oracle,
)
from cvxcnn.results import omitted
from cvxcnn.scip_oracle import scip_available, scip_sign
from cvxcnn.validation import check_finite_array, check_positive

#: Converged when ``upper <= lower * (1 + MIP_RTOL)`` (or both below :data:`MIP_ATOL` x scale).
MIP_RTOL = 1e-7
MIP_ATOL = 1e-12
#: The same for SCIP, whose bound carries its own tolerances (gap 1e-9, feasibility 1e-6).
SCIP_RTOL = 1e-6
#: An incumbent with ``||u|| > 1 + BALL_TOL`` is outside the ball: cut it and restart.
BALL_TOL = 1e-9
#: Known cells (best first) whose maximizers give the first cuts of :meth:`SearchedCells.bracket`.
CUT_CELLS = 50
#: First time slice (seconds) per sign when pricing (:func:`relu_mip_oracle` with a threshold).
PRICING_SLICE = 2.0
#: Steps of :func:`cell_ascent` from the best start and from each solve's best point.
ASCENT_STEPS = 30
#: Solvers of the mixed-integer oracle (:func:`relu_mip_oracle`'s ``engine``).
ENGINES = ("highs", "scip")
#: Default seconds for one oracle call (both signs).
DEFAULT_TIME_LIMIT = 60.0

_HIGHS_OPTIONS = {
    "output_flag": False,
    "threads": 1,
    "mip_rel_gap": 1e-9,
    "mip_abs_gap": 0.0,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
    "random_seed": 0,
}


#: Model statuses after which HiGHS's dual bound is a bound (a completed or stopped search).
_BOUND_STATUSES = tuple(
    getattr(highspy.HighsModelStatus, name)
    for name in ("kOptimal", "kTimeLimit", "kInterrupt", "kIterationLimit", "kSolutionLimit")
)


@dataclass(kw_only=True)
class MipOracleResult(OracleBracket):
    """:class:`~cvxcnn.oracle.OracleBracket` on ``M(g)`` over every cell of ``Y``'s arrangement.

    Attributes
    ----------
    upper : float
        Smallest proven MIP dual bound over polytopes containing the ball (both signs).
    lower : float
        ``|g^T (Y u)_+|`` at ``direction`` (a unit vector), float64.
    direction : ndarray of shape (d,)
        The best point found (``||u|| = 1``).
    points : ndarray of shape (k, d)
        Unit points met on the way (incumbents and cell maximizers) with a
        value above zero, best first: new sign patterns ``1[Y u >= 0]``.
    converged : bool
        ``upper <= lower (1 + MIP_RTOL)``: the bracket is the value itself.
        False at a time limit (the bracket is still rigorous).
    sign_upper, sign_lower : tuple of float
        Brackets of ``M_+`` (``+g``) and ``M_-`` (``-g``).
    rounds, cuts, nodes : int
        MIP solves, tangent cuts added, branch-and-bound nodes (both signs).
    stopped_early : bool
        ``threshold`` was given and exceeded: the search stopped at the first
        point above it (the upper end is then NOT the value).
    proved_below : bool
        ``threshold`` was given and the upper end is at most it: no point
        exceeds it (column generation's proof that no cell is violated).
    seconds : float
    """

    points: np.ndarray = omitted(repr=False)
    sign_upper: tuple
    sign_lower: tuple
    rounds: int = 0
    cuts: int = 0
    nodes: int = 0
    stopped_early: bool = False
    proved_below: bool = False
    seconds: float = 0.0


def signed_value(Y: np.ndarray, w: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``w^T (Y u)_+`` (signed, no absolute value) for each row of ``U`` (k, d); returns (k,)."""
    return np.maximum(np.atleast_2d(U) @ Y.T, 0.0) @ w


def _unit(u: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(u)
    return u / norm if norm > 0 else u


def quiet_highs() -> object:
    """A ``highspy.Highs`` with :data:`_HIGHS_OPTIONS`, without its banner on stdout.

    HiGHS 1.16 prints "Running HiGHS ..." from the constructor, before any
    option can be set (ERGO-Code/HiGHS#1932), straight to file descriptor 1;
    it is redirected to ``os.devnull`` for the construction only.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
            for name, value in _HIGHS_OPTIONS.items():
                highs.setOptionValue(name, value)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return highs


class SignedMip:
    """A HiGHS model of ``max w^T act(Y u)`` over a polytope containing the unit ball.

    The shared machinery: the model, tangent cuts (at ``+-y_i / ||y_i||``
    from the start), the incumbent and interrupt callbacks (pricing stops)
    and :meth:`solve`. An activation gives the hooks :meth:`prepare` (the
    data: ``d``, ``m`` (rows; none, no model), ``p`` (binaries in play) and
    ``trivial``, a bound), :meth:`build` (columns, ``u`` first, and rows),
    :meth:`start_point` and :meth:`unit_value`; :class:`ReluMip` is the ReLU
    model, :class:`cvxcnn.soft_threshold.mip_oracle.STSignedMip` the soft
    threshold's.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        The signed weights ``s g``.
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray) -> None:
        self.Y, self.w_full = Y, np.asarray(w, dtype=float)
        self.prepare(Y, self.w_full)
        self.cuts = 0
        self._cut_keys: set[bytes] = set()  # cuts already in the model (rounded to 1e-12)
        self.highs = quiet_highs()
        #: improving incumbents ``u`` of the current solve
        self.incumbents: list[np.ndarray] = []
        self._stop_above: float | None = None
        self._stop_below: float | None = None
        self._violator = False
        if self.m:
            self.build()
            self.highs.cbMipImprovingSolution.subscribe(self._on_incumbent)
            self.highs.cbMipInterrupt.subscribe(self._on_interrupt)
            norms = np.linalg.norm(Y, axis=1)
            unit_rows = Y[norms > 0] / norms[norms > 0, None]
            self.add_cuts(np.vstack([unit_rows, -unit_rows]))  # tangents at +-y_i/||y_i||

    # the activation's hooks
    @staticmethod
    def add_rows(h: highspy.Highs, blocks: list) -> None:
        """Append row blocks ``(column pieces, lower, upper)`` to the model ``h`` (one call)."""
        A = sp.vstack([sp.hstack(b) for b, _, _ in blocks], format="csr")
        lower = np.concatenate([np.asarray(b, float) for _, b, _ in blocks])
        upper = np.concatenate([np.asarray(b, float) for _, _, b in blocks])
        h.addRows(A.shape[0], lower, upper, A.nnz, A.indptr, A.indices, A.data)

    def prepare(self, Y: np.ndarray, w: np.ndarray) -> None:
        """Set ``d``, ``m`` (rows of the model; 0: no model), ``p`` and ``trivial``."""
        raise NotImplementedError

    def build(self) -> None:
        """Add the columns (``u`` first) and rows to :attr:`highs`."""
        raise NotImplementedError

    def start_point(self, u: np.ndarray) -> np.ndarray:
        """A feasible MIP point (all columns) at a unit ``u`` (d,)."""
        raise NotImplementedError

    def unit_value(self, u: np.ndarray) -> float:
        """``w^T act(Y u)`` at a unit ``u`` (d,), float64 (the pricing stop's test)."""
        raise NotImplementedError

    def set_weights(self, w: np.ndarray) -> None:
        """A model built for one ``w`` keeps it (:class:`ReluMip` changes its objective)."""
        if not np.array_equal(np.asarray(w, dtype=float), self.w_full):
            raise ValueError(f"{type(self).__name__} is built for one w; build one for this w")

    def _on_incumbent(self, event: highspy.HighsCallbackEvent) -> None:
        """Keep every improving incumbent; flag a violator (pricing stops there)."""
        u = np.asarray(event.data_out.mip_solution[: self.d], dtype=float)
        self.incumbents.append(u)
        if self._stop_above is not None:
            self._violator |= self.unit_value(_unit(u)) > self._stop_above

    def _on_interrupt(self, event: highspy.HighsCallbackEvent) -> None:
        """Stop at a violator, or once the dual bound proves ``M_s <= stop_below``."""
        proven = self._stop_below is not None and event.data_out.mip_dual_bound <= self._stop_below
        event.interrupt(bool(self._violator or proven))  # always set: the flag persists

    def add_cuts(self, A: np.ndarray) -> None:
        """Tangent cuts ``a^T u <= 1`` for the unit rows of ``A`` (k, d)."""
        A = np.asarray(A, dtype=float).reshape(-1, self.d)
        if not self.m or not len(A):
            return
        R = np.round(A, 12)
        first = np.sort(np.unique(R, axis=0, return_index=True)[1])
        first = [i for i in first if R[i].tobytes() not in self._cut_keys]  # no duplicate cuts
        if not first:
            return
        A = A[first]
        self._cut_keys.update(R[i].tobytes() for i in first)
        k, d = A.shape
        starts = np.arange(0, k * d, d, dtype=np.int32)
        index = np.tile(np.arange(d, dtype=np.int32), k)
        self.highs.addRows(k, np.full(k, -highspy.kHighsInf), np.ones(k), k * d, starts, index,
                           A.ravel())  # fmt: skip
        self.cuts += k

    def solve(
        self,
        seconds: float,
        start: np.ndarray | None,
        stop_above: float | None = None,
        stop_below: float | None = None,
    ) -> tuple[float, np.ndarray, int]:
        """One MIP solve: to the optimum over the polytope, the time limit, or a stop.

        ``stop_above``: stop at the first incumbent whose point on the ball is
        valued above it (a violator); ``stop_below``: stop once the dual bound
        is at most it. Returns ``(dual_bound, incumbents (k, d), nodes)``:
        every improving incumbent, the final one last.
        """
        h = self.highs
        h.setOptionValue("time_limit", max(float(seconds), 1e-3))
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(self.start_point(start))
            h.setSolution(sol)
        self.incumbents, self._violator = [], False
        self._stop_above, self._stop_below = stop_above, stop_below
        h.run()
        info = h.getInfo()
        bound = float(info.mip_dual_bound)
        if h.getModelStatus() not in _BOUND_STATUSES or not math.isfinite(bound):
            # a failed solve proves nothing (the ball is feasible: never truly infeasible)
            bound = math.inf
        found = list(self.incumbents)
        if info.primal_solution_status == highspy.kSolutionStatusFeasible:
            found.append(np.asarray(h.getSolution().col_value[: self.d]))
        return bound, np.array(found).reshape(-1, self.d), int(info.mip_node_count)

    def optimal(self) -> bool:
        """The last solve reached the optimum over the polytope (not stopped)."""
        return self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal


class ReluMip(SignedMip):
    """The MIP for ``max w^T (Y u)_+`` over a polytope containing the unit ball, for ANY ``w``.

    The constraints do not depend on ``w``: every row with ``||y_i|| > 0`` has
    ``h_i``, ``z_i`` and the big-M rows; :meth:`set_weights` changes only the
    objective and which ``z_i`` are integer (those with ``w_i > 0``; for
    ``w_i <= 0`` a continuous ``z_i`` still allows ``h_i = (a_i)_+`` and the
    maximization pushes ``h_i`` down to it). One model therefore serves both
    signs and every round of column generation, and the tangent and cell cuts
    (valid for the ball, whatever ``w``) accumulate in it.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    """

    def __init__(self, Y: np.ndarray) -> None:
        super().__init__(Y, np.zeros(Y.shape[0]))

    def prepare(self, Y: np.ndarray, w: np.ndarray) -> None:
        """Every row with ``||y_i|| > 0`` (whatever ``w``); the weights ``w`` (n,) so far."""
        norms = np.linalg.norm(Y, axis=1)
        self.rows = norms > 0
        self.Yr, self.M = Y[self.rows], norms[self.rows]
        self.d, self.m = Y.shape[1], int(self.rows.sum())
        self.w = w[self.rows]
        self.pos = self.w > 0

    @property
    def p(self) -> int:
        """Binaries in play: the rows with a positive weight (none: ``M_s = 0``)."""
        return int(self.pos.sum())

    @property
    def trivial(self) -> float:
        """Sum of the positive weights times ``||y_i||``: ``M_s`` is at most this."""
        return float(self.w[self.pos] @ self.M[self.pos])

    def set_weights(self, w: np.ndarray) -> None:
        """The objective ``w^T (Y u)_+`` for ``w`` (n,): costs and integrality only."""
        self.w = np.asarray(w, dtype=float)[self.rows]
        self.pos = self.w > 0
        if not self.m:
            return
        m, d = self.m, self.d
        h_cols = np.arange(2 * d, 2 * d + m, dtype=np.int32)
        self.highs.changeColsCost(m, h_cols, self.w)
        kinds = np.where(self.pos, highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous)
        self.highs.changeColsIntegrality(m, h_cols + m, list(kinds))

    def unit_value(self, u: np.ndarray) -> float:
        """``w^T (Y u)_+`` at a unit ``u`` (d,)."""
        return float(np.maximum(self.Yr @ u, 0.0) @ self.w)

    def build(self) -> None:
        """Columns ``(u, |u|, h, z)`` and rows of the ReLU model (see the module docstring)."""
        d, m = self.d, self.m
        h = self.highs
        inf = highspy.kHighsInf
        lo = np.concatenate([-np.ones(d), np.zeros(d), np.zeros(m), np.zeros(m)])
        hi = np.concatenate([np.ones(d), np.ones(d), self.M, np.ones(m)])
        h.addCols(len(lo), np.zeros(len(lo)), lo, hi, 0, np.zeros(0, np.int32),
                  np.zeros(0, np.int32), [])  # fmt: skip
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        I_d, I_m = sp.identity(d), sp.identity(m, format="csr")
        Yr, M = sp.csr_matrix(self.Yr), self.M
        Z = sp.csr_matrix
        blocks = [
            ([-I_d, I_d, Z((d, m)), Z((d, m))], np.zeros(d), np.full(d, inf)),  # t >= u
            ([I_d, I_d, Z((d, m)), Z((d, m))], np.zeros(d), np.full(d, inf)),  # t >= -u
            ([Z((1, d)), np.ones((1, d)), Z((1, m)), Z((1, m))], [-inf], [math.sqrt(d)]),
            ([-Yr, Z((m, d)), I_m, Z((m, m))], np.zeros(m), np.full(m, inf)),  # h >= a
            ([-Yr, Z((m, d)), I_m, sp.diags(M)], np.full(m, -inf), M),  # h <= a + M(1-z)
            ([Z((m, d)), Z((m, d)), I_m, -sp.diags(M)], np.full(m, -inf), np.zeros(m)),
            ([Yr, Z((m, d)), Z((m, m)), Z((m, m))], -M, M),  # slab |a| <= M
        ]
        self.add_rows(h, blocks)

    def start_point(self, u: np.ndarray) -> np.ndarray:
        """A feasible MIP point (all columns) at a unit ``u`` (d,)."""
        a = self.Yr @ u
        return np.concatenate([u, np.abs(u), np.maximum(a, 0.0), (a > 0).astype(float)])


def _candidates(Y: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Unit points from an incumbent ``u``: itself on the ball and its cell's maximizer."""
    unit = _unit(u)
    mask = Y @ unit >= 0
    _, proj = cell_nnls(Y, w, mask)
    return np.array([unit, _unit(proj)])


def cell_ascent(Y: np.ndarray, w: np.ndarray, u: np.ndarray, steps: int = ASCENT_STEPS):
    """A walk over adjacent cells from the cell of ``u`` (d,), uphill for ``w^T (Y u)_+``.

    Each step solves (by NNLS, :func:`cvxcnn.oracle.cell_nnls`) every cell
    across a hyperplane on which the current cell's maximizer lies, and
    moves to the best one while the value increases. A local search: it
    finds strongly violated cells for column generation and a better lower
    end for the MIP, never a bound.

    Returns
    -------
    ndarray of shape (k, d)
        The unit maximizers met, starting with that of ``u``'s cell.
    """
    mask = Y @ u >= 0
    norms = np.linalg.norm(Y, axis=1)
    value, proj = cell_nnls(Y, w, mask)
    path = [_unit(proj)]
    for _ in range(steps):
        tight = np.flatnonzero(np.abs(Y @ path[-1]) <= 1e-7 * norms)
        best = (value, None, None)
        for i in tight:
            flipped = mask.copy()
            flipped[i] = not flipped[i]
            v, q = cell_nnls(Y, w, flipped)
            if v > best[0] * (1 + 1e-9):
                best = (v, flipped, q)
        if best[1] is None:
            break
        value, mask = best[0], best[1]
        path.append(_unit(best[2]))
    return np.array(path)


class SignBracket:
    """The bracket of ``M_s = max_{||u|| <= 1} w^T act(Y u)``, refined by :meth:`run` (resumable).

    What the searches over HiGHS's polytope (:class:`SignSearch`) and SCIP's
    exact ball (:class:`ScipSearch`) share: the start (the best warm start
    and a local search from it), the stopping rules of :meth:`run` and how a
    solve's points update the lower end (:meth:`absorb`). A subclass gives
    :meth:`refine`, one solve; the activation's hooks :meth:`value`,
    :meth:`candidates` and :meth:`ascent` are the ReLU ones here (soft
    thresholds override them).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        ``s g``.
    starts : ndarray of shape (k, d)
        Unit warm starts: the best as the first incumbent.
    trivial : float
        A closed-form upper bound on ``M_s``: the first ``upper``.
    empty : bool
        No weight is positive: ``M_s = 0`` without a solve.

    Attributes
    ----------
    upper, lower : float
    point : ndarray of shape (d,)
        Unit point attaining ``lower``.
    starts : ndarray of shape (k', d)
        The warm starts and the local search's points (the first tangent cuts).
    found : list of ndarray
        Unit points with a positive value (new sign patterns).
    rounds, nodes : int
        Solves and branch-and-bound nodes so far.
    finished : bool
        The bracket closed, or the solver proved its bound: nothing left to refine.
    """

    def __init__(
        self, Y: np.ndarray, w: np.ndarray, starts: np.ndarray, trivial: float, empty: bool
    ) -> None:
        self.Y, self.w, self.trivial = Y, w, trivial
        vals = self.value(starts)
        walk = self.ascent(starts[int(vals.argmax())])
        walk_vals = self.value(walk)
        self.starts, vals = np.vstack([starts, walk]), np.concatenate([vals, walk_vals])
        best = int(vals.argmax())
        self.lower, self.point = max(float(vals[best]), 0.0), self.starts[best]
        self.upper, self.found = trivial, list(walk[walk_vals > 0])
        self.rounds = self.nodes = 0
        # no positive weight: the max is 0; or the trivial bound is attained
        self.finished = empty or self.upper <= self.lower
        self.upper = max(self.upper, self.lower)

    # the activation's hooks (soft thresholds override them)
    def value(self, U: np.ndarray) -> np.ndarray:
        """Float64 value of ``w^T act(Y u)`` at each row of ``U`` (k, d) (points of the ball)."""
        return signed_value(self.Y, self.w, U)

    def candidates(self, U: np.ndarray) -> np.ndarray:
        """(2k, d): for each incumbent ``U[i]`` (k, d), rows ``2i`` (it, on the ball) and
        ``2i + 1`` (its cell's maximizer, whose tangent is the cell cut)."""
        return np.vstack([_candidates(self.Y, self.w, u) for u in U])

    def ascent(self, u: np.ndarray) -> np.ndarray:
        """(k, d) unit points of a local search from ``u`` (d,): :func:`cell_ascent`."""
        return cell_ascent(self.Y, self.w, u)

    def closed(self) -> bool:
        """``upper <= lower (1 + MIP_RTOL)`` (plus :data:`MIP_ATOL` x the trivial bound)."""
        return bracket_closed(self.upper, self.lower, MIP_RTOL, MIP_ATOL * self.trivial)

    def absorb(self, U: np.ndarray) -> np.ndarray:
        """Raise the lower end with a solve's points ``U`` (k, d); returns their candidates.

        The candidates of ``U`` (:meth:`candidates`) and a local search from the
        best of them are valued in float64; those above zero join :attr:`found`.
        """
        cand = self.candidates(U)
        best = cand[int(self.value(cand).argmax())]
        points = np.vstack([cand, self.ascent(best)])
        vals = self.value(points)
        self.found.extend(points[vals > 0])
        j = int(vals.argmax())
        if vals[j] > self.lower:
            self.lower, self.point = float(vals[j]), points[j]
        return cand

    def valued_points(self) -> tuple[np.ndarray, np.ndarray]:
        """:attr:`found` as an array (k, d) and the values there (k,)."""
        points = np.array(self.found).reshape(-1, self.Y.shape[1])
        return points, self.value(points) if len(points) else np.zeros(0)

    def refine(
        self, deadline: float, threshold: float | None, above: float | None, below: float
    ) -> bool:
        """One solve (see :meth:`run`); returns whether another one in the same run may help."""
        raise NotImplementedError

    def run(
        self,
        deadline: float,
        threshold: float | None,
        irrelevant_below: float,
        collect: bool = False,
    ) -> None:
        """Solves until ``deadline``, a closed bracket, ``lower > threshold`` (a
        violator; with ``collect`` the search goes on to the deadline, gathering
        points), ``upper <= threshold`` (proven none), or ``upper <= irrelevant_below``
        (the other sign's lower end: ``M`` no longer depends on this sign).

        Each solve is a :meth:`refine` call with the violator level ``above``
        (None with ``collect``) and the level ``below`` under which the upper
        end settles the call.
        """
        below = irrelevant_below if threshold is None else max(threshold, irrelevant_below)
        above = None if collect else threshold
        while not self.finished and time.perf_counter() < deadline:
            if self.upper <= below or (above is not None and self.lower > above):
                break
            if not self.refine(deadline, threshold, above, below):
                break
        self.upper = max(self.upper, self.lower)


class SignSearch(SignBracket):
    """The :class:`SignBracket` of HiGHS over a polytope containing the ball, round by round.

    Each :meth:`refine` solves the MIP (warm-started at the best point so
    far); the incumbents outside the ball add their tangent and cell cuts
    and the next round solves again.

    Parameters
    ----------
    Y, w, starts
        As in :class:`SignBracket`; the starts (and the local search's points)
        are also the first tangent cuts.
    mip : SignedMip, optional
        The model; :meth:`build_mip` by default. A :class:`ReluMip` of ``Y``
        may be shared by both signs and, in column generation, by every call.
    """

    def __init__(
        self, Y: np.ndarray, w: np.ndarray, starts: np.ndarray, mip: SignedMip | None = None
    ) -> None:
        self.Y, self.w = Y, w
        self.mip = self.build_mip() if mip is None else mip
        self.mip.set_weights(w)
        super().__init__(Y, w, starts, self.mip.trivial, self.mip.p == 0)
        if not self.finished:
            self.mip.add_cuts(self.starts)  # tangents at the starts (a shared model has them)

    def build_mip(self) -> SignedMip:
        """The MIP of ``max w^T act(Y u)`` over a polytope containing the ball."""
        return ReluMip(self.Y)

    def refine(
        self, deadline: float, threshold: float | None, above: float | None, below: float
    ) -> bool:
        """One MIP round: solve, raise the lower end, cut the incumbents outside the ball."""
        self.mip.set_weights(self.w)
        bound, U, nodes = self.mip.solve(
            deadline - time.perf_counter(), self.point, stop_above=above, stop_below=below
        )
        self.rounds, self.nodes = self.rounds + 1, self.nodes + nodes
        self.upper = min(self.upper, bound)
        far = np.linalg.norm(U, axis=1) > 1 + BALL_TOL
        if len(U):
            cand = self.absorb(U)
        if far.any():
            self.mip.add_cuts(cand[np.repeat(far, 2)])  # tangent and cell cut of each
        self.finished = self.closed() or (self.mip.optimal() and not far.any())
        return True


class ScipSearch(SignBracket):
    """The ReLU :class:`SignBracket` by SCIP over the exact ball (:func:`scip_sign`).

    One SCIP solve per :meth:`run` (SCIP keeps nothing between solves, so
    there are no slices).
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray, starts: np.ndarray) -> None:
        trivial = float(np.maximum(w, 0.0) @ np.linalg.norm(Y, axis=1))
        super().__init__(Y, w, starts, trivial, not (w > 0).any())

    def refine(
        self, deadline: float, threshold: float | None, above: float | None, below: float
    ) -> bool:
        """One SCIP solve with the objective limit ``threshold``; never a second one."""
        out = scip_sign(self.Y, self.w, deadline - time.perf_counter(), threshold)
        self.rounds, self.nodes = self.rounds + 1, self.nodes + out.nodes
        self.upper = min(self.upper, out.upper)
        if len(out.points):
            self.absorb(out.points[:20])
        self.finished = out.finished
        return False


class AnytimeOptions(TypedDict, total=False):
    """The keywords every mixed-integer point oracle takes, checked by :func:`oracle_inputs`.

    :func:`relu_mip_oracle` and
    :func:`cvxcnn.soft_threshold.mip_oracle.st_mip_oracle` share this
    contract: an anytime search with a time limit, warm starts and
    column generation's pricing threshold.

    Attributes
    ----------
    time_limit : float
        Seconds for the whole call (default :data:`DEFAULT_TIME_LIMIT`). At
        the limit the bracket is still rigorous (``converged=False``).
    starts : ndarray of shape (k, d)
        Warm starts (e.g. the maximizers of the oracle over known cells),
        ``u`` and ``-u`` both used: tangent cuts at them and the best as the
        first incumbent. Default: the coordinate axes.
    threshold : float
        Column generation's pricing test: the search stops at its first
        point valued above it (``stopped_early``; the upper end is then not
        the value) or once its upper end is at most it (``proved_below``).
    """

    time_limit: float
    starts: np.ndarray | None
    threshold: float | None


def oracle_inputs(
    Y: np.ndarray, g: np.ndarray, options: dict, caller: str
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float | None]:
    """The checked arguments of a mixed-integer point oracle (every activation's).

    ``options`` are the caller's :class:`AnytimeOptions`; any other keyword
    is a TypeError naming ``caller``. Returns ``Y`` (n, d), ``g`` (n,),
    ``time_limit``, the unit warm starts ``+-starts`` (2k, d) without zero
    rows (``+-`` the identity when none are given or all are zero) and
    ``threshold``.
    """
    unknown = sorted(set(options) - set(AnytimeOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"{caller}() got unexpected keyword arguments {unknown}; it takes "
            f"{sorted(AnytimeOptions.__annotations__)} (cvxcnn.mip_oracle.AnytimeOptions)"
        )
    time_limit = options.get("time_limit", DEFAULT_TIME_LIMIT)
    starts, threshold = options.get("starts"), options.get("threshold")
    Y = check_finite_array(Y, "Y", ndim=2)
    n, d = Y.shape
    g = check_finite_array(g, "g", ndim=1)
    if g.shape != (n,):
        raise ValueError(f"g must have shape (n,) = ({n},) for Y of shape {Y.shape}; got {g.shape}")
    time_limit = check_positive(time_limit, "time_limit")
    starts = np.eye(d) if starts is None else check_finite_array(starts, "starts", ndim=(1, 2))
    starts = np.atleast_2d(starts)
    starts = np.vstack([starts, -starts])
    norms = np.linalg.norm(starts, axis=1)
    if not (norms > 0).any():
        starts, norms = np.vstack([np.eye(d), -np.eye(d)]), np.ones(2 * d)
    return Y, g, time_limit, starts[norms > 0] / norms[norms > 0, None], threshold


def relu_mip_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    *,
    model: ReluMip | None = None,
    engine: str = "highs",
    **options: Unpack[AnytimeOptions],
) -> MipOracleResult:
    """Bracket ``M(g) = max_{||u|| <= 1} |g^T (Y u)_+|`` over EVERY cell (no enumeration).

    The oracle of DESIGN.md section 12 for arrangements too large to
    enumerate: per sign, the big-M mixed-integer program of the module
    docstring over an outer polytope refined by tangent and cell cuts
    (HiGHS), or over the exact ball (SCIP). Anytime: ``upper`` is the
    smallest dual bound met, valid at any stop, and ``lower`` a float64
    value at a unit point, so a certificate from a call cut short by
    ``time_limit`` (``converged=False``) is still "certified", only looser.
    The cost grows fast with ``n`` (an NP-hard search; the prototype of section 12,
    ``d = 9``: n = 16 in 8-17 s, n = 36 in about 5 minutes).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
    model : ReluMip, optional
        A model of the same ``Y`` to reuse (its cuts stay valid for any ``g``);
        a fresh one by default (HiGHS only).
    engine : {"highs", "scip"}
        HiGHS over the polytope with tangent cuts, or SCIP over the exact
        ball (optional ``pyscipopt``; one full solve per sign, even past a
        violator with a threshold: the most violated point is the best column).
    **options : AnytimeOptions
        ``time_limit`` (for both signs together: the sign with the better
        start goes first and the other gets what is left), ``starts`` and
        ``threshold`` (per sign), as :class:`AnytimeOptions` says.

    Returns
    -------
    MipOracleResult
    """
    start_time = time.perf_counter()
    Y, g, time_limit, starts, threshold = oracle_inputs(Y, g, options, "relu_mip_oracle")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    if engine == "scip":
        return _scip_oracle(Y, g, time_limit, starts, threshold, start_time)
    if model is None:
        model = ReluMip(Y)
    elif model.Y.shape != Y.shape or not np.array_equal(model.Y, Y):
        raise ValueError("model must be a ReluMip of this Y (its rows and cuts belong to it)")
    cuts_before = model.cuts
    model.add_cuts(starts)
    order = [1.0, -1.0]
    if signed_value(Y, -g, starts).max() > signed_value(Y, g, starts).max():
        order.reverse()  # the sign with the better start first
    search = {s: SignSearch(Y, s * g, starts, mip=model) for s in order}
    deadline = start_time + time_limit
    if threshold is not None:
        _price(search, order, threshold, deadline, max(PRICING_SLICE, time_limit / 40))
    else:
        for k, s in enumerate(order):  # each sign its share, then what is left to the unfinished
            search[s].run(start_time + time_limit * (k + 1) / 2, None, search[-s].lower)
        for s in order:
            search[s].run(deadline, None, search[-s].lower)
    return mip_result(Y, g, search, threshold, model.cuts - cuts_before, start_time)


def _scip_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    time_limit: float,
    starts: np.ndarray,
    threshold: float | None,
    start_time: float,
) -> MipOracleResult:
    """:func:`relu_mip_oracle` with ``engine="scip"`` (arguments checked, unit ``+-starts``)."""
    if not scip_available():
        raise ImportError("engine 'scip' needs pyscipopt: pip install pyscipopt (or cvxcnn[scip])")
    order = [1.0, -1.0]
    if signed_value(Y, -g, starts).max() > signed_value(Y, g, starts).max():
        order.reverse()
    search = {s: ScipSearch(Y, s * g, starts) for s in order}
    for k, s in enumerate(order):  # each sign its share, then what is left
        search[s].run(start_time + time_limit * (k + 1) / 2, threshold, search[-s].lower, True)
    return mip_result(Y, g, search, threshold, 0, start_time, SCIP_RTOL)


def _price(search: dict, order: list, threshold: float, deadline: float, first: float) -> None:
    """Both signs in turn, in time slices doubling from ``first`` seconds,
    until one finds a point above ``threshold``, both prove none, or ``deadline``.

    The first slice of each sign (``time_limit / 40``, at least
    :data:`PRICING_SLICE`) runs to its end even past a violator: its
    incumbents and their :func:`cell_ascent` walks are strong new columns;
    later slices stop at the first violator. A sign without a violator
    cannot hold up the other one's easy violator (each slice restarts the
    search, with every cut so far: at most twice the time of one search).
    """
    budget, collect = first, True
    while time.perf_counter() < deadline:
        for s in order:
            slice_end = min(deadline, time.perf_counter() + budget)
            search[s].run(slice_end, threshold, -math.inf, collect=collect)
        if any(r.lower > threshold for r in search.values()):
            return
        if all(r.finished or r.upper <= threshold for r in search.values()):
            return
        budget, collect = 2 * budget, False


def mip_result(
    Y: np.ndarray,
    g: np.ndarray,
    search: dict,
    threshold: float | None,
    cuts: int,
    start_time: float,
    rtol: float = MIP_RTOL,
) -> MipOracleResult:
    """The :class:`MipOracleResult` of the searches ``{sign: SignBracket}`` (converged at ``rtol``).

    ``search`` holds both signs (ReLU: ``M = max(M_+, M_-)``), or ``+1`` alone
    when one search bounds both (soft thresholds: ``tau`` is odd, so
    ``M_- = M_+``). The points each search found are valued by it and
    returned best first; ``cuts`` is the number of cuts the call added.
    """
    plus, minus = search[1.0], search.get(-1.0, search[1.0])
    best = plus if plus.lower >= minus.lower else minus
    upper, lower = max(plus.upper, minus.upper), best.lower
    found = [r.valued_points() for r in search.values()]
    points, values = np.vstack([p for p, _ in found]), np.concatenate([v for _, v in found])
    scale = float(np.abs(g) @ np.linalg.norm(Y, axis=1))
    return MipOracleResult(
        upper=upper,
        lower=lower,
        direction=best.point,
        points=points[np.argsort(-values)],
        converged=bracket_closed(upper, lower, rtol, MIP_ATOL * scale),
        sign_upper=(plus.upper, minus.upper),
        sign_lower=(plus.lower, minus.lower),
        rounds=sum(r.rounds for r in search.values()),
        cuts=cuts,
        nodes=sum(r.nodes for r in search.values()),
        stopped_early=threshold is not None and lower > threshold,
        proved_below=threshold is not None and upper <= threshold,
        seconds=time.perf_counter() - start_time,
    )


# --------------------------------------------------------------------------- #
# The whole arrangement, searched by the MIP (a ReLU cell set for the pipeline)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False, repr=False)
class SearchedCells:
    """EVERY cell of ``Y``, searched by an activation's mixed-integer oracle (no enumeration).

    The part of :class:`MipArrangement` (ReLU) and
    :class:`cvxcnn.soft_threshold.mip_oracle.STMipTriples` that does not
    depend on the cell type: ``exact=True`` for certificates and column
    generation (tied to ``Y`` by ``digest``), while a program holds only
    :attr:`known` (sampled cells plus the maximizers the oracle found).
    Its oracle, :meth:`bracket`, is written here once for every activation;
    a subclass supplies the activation's pieces: how two of its cell sets
    are united (:meth:`unite`), the known cells' exact brackets and warm
    starts (:meth:`known_brackets`), the MIP over every cell (:meth:`search`)
    and the cells of the MIP's points (:meth:`grow`).

    Attributes
    ----------
    known : PatternSet or TripleSet
        Cells met so far (``exact=False``): warm starts and program candidates.
    digest : str
        :func:`cvxcnn.arrangements.matrix_digest` of the ``Y`` it searches.
    time_limit : float
        Seconds per oracle call.
    session : dict
        State shared by the calls (and by :meth:`with_known` copies): the
        last converged result, and whatever a subclass keeps (ReLU: its
        persistent model).
    """

    known: object
    digest: str
    time_limit: float = DEFAULT_TIME_LIMIT
    session: dict = field(default_factory=dict)

    exact = True
    method = "mip"
    exact_count = 0

    @property
    def count_bound(self) -> int:
        return self.known.count_bound

    @property
    def n_rows(self) -> int:
        return self.known.n_rows

    def __len__(self) -> int:
        return len(self.known)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(known={len(self)}, n_rows={self.n_rows}, "
            f"time_limit={self.time_limit:g}, count_bound={self.count_bound})"
        )

    @staticmethod
    def unite(a: object, b: object) -> object:
        """The deduplicated union of two cell sets of this type (``a``'s first)."""
        raise NotImplementedError

    def with_known(self, new: object) -> SearchedCells:
        """The same set with ``new`` cells appended to :attr:`known` (first ones kept)."""
        return dataclasses.replace(self, known=self.unite(self.known, new))

    def bracket(
        self,
        Y: np.ndarray,
        g: np.ndarray,
        *,
        threshold: float | None = None,
        time_limit: float | None = None,
        **options: object,
    ) -> OracleResult:
        """:class:`~cvxcnn.oracle.OracleResult` over EVERY cell: known cells exactly, then the MIP.

        The certificate oracle of DESIGN.md section 12 for any activation:
        the known cells' exact brackets (:meth:`known_brackets`) give the MIP
        its warm starts and first cell cuts; the MIP (:meth:`search`) bounds
        every cell within ``time_limit`` seconds (:meth:`call_limit`); its
        points become new cells (``result.cells``: this set grown by them,
        the brackets indexed in that order). ``upper`` is the MIP's bound
        over every cell, rigorous at any stop; ``lower`` the better of the
        two float64 values. With ``threshold`` (column generation's pricing)
        the search stops at its first violator or once it proves
        ``M <= threshold``. ``converged``: the bracket closed, or
        ``M <= threshold`` was proven; False at the time limit or at a
        violator. A converged result is kept in :attr:`session` and returned
        again for the same ``g`` when it answers the call (no threshold, or
        an upper end below it): the certificate of the network column
        generation just priced needs no second MIP.

        Parameters
        ----------
        Y : ndarray of shape (n, d)
            The patch matrix this set searches (its :attr:`digest`).
        g : ndarray of shape (n,)
            ``R^T r`` for a residual direction ``r``.
        threshold : float, optional
        time_limit : float, optional
            Overrides :attr:`time_limit` for this call.
        **options
            The known cells' oracle options (:meth:`known_brackets`).

        Returns
        -------
        OracleResult
        """
        start = time.perf_counter()
        limit = self.call_limit(time_limit)  # checked before any work
        Y, g = np.asarray(Y, dtype=np.float64), np.asarray(g, dtype=np.float64)
        cached = self.session.get("last")
        if cached is not None and cached[0] == g.tobytes() and cached[1].n_cells == len(self):
            if threshold is None or cached[1].upper <= threshold:
                return cached[1]
        seen, starts = self.known_brackets(Y, g, threshold, **options)
        mip = self.search(Y, g, starts, threshold, limit)
        grown, values = self.grow(Y, g, mip.points)
        converged = (mip.converged and not mip.stopped_early) or mip.proved_below
        result = self.grown_result(seen, mip, grown, values, start, converged=converged)
        if result.converged:
            self.session["last"] = (g.tobytes(), result)
        return result

    def known_brackets(
        self, Y: np.ndarray, g: np.ndarray, threshold: float | None, **options: object
    ) -> tuple[OracleResult, np.ndarray]:
        """The known cells' brackets (this set's order) and the MIP's warm starts (k, d)."""
        raise NotImplementedError

    def search(
        self,
        Y: np.ndarray,
        g: np.ndarray,
        starts: np.ndarray,
        threshold: float | None,
        time_limit: float,
    ) -> MipOracleResult:
        """The activation's MIP over every cell from ``starts`` (k, d), ``time_limit`` seconds."""
        raise NotImplementedError

    def grow(self, Y: np.ndarray, g: np.ndarray, points: np.ndarray) -> tuple[object, np.ndarray]:
        """This set grown by the cells of ``points`` (k, d), and the new cells' values (new,)."""
        raise NotImplementedError

    @property
    def oracle_method(self) -> str:
        """``OracleResult.method`` of :meth:`bracket`."""
        return "mip"

    def call_limit(self, time_limit: float | None) -> float:
        """Seconds for one oracle call: ``time_limit`` (checked) overrides :attr:`time_limit`."""
        return self.time_limit if time_limit is None else check_positive(time_limit, "time_limit")

    def grown_result(
        self,
        seen: OracleResult,
        mip: MipOracleResult,
        grown: SearchedCells,
        values: np.ndarray,
        start: float,
        *,
        converged: bool,
    ) -> OracleResult:
        """The :class:`~cvxcnn.oracle.OracleResult` of a call, over the ``grown`` cell set.

        ``seen``: the brackets of the known cells (this set's, in order);
        ``mip``: the MIP's bracket over every cell; ``grown``: this set with
        the cells of the MIP's points appended, valued ``values`` (new,) at
        their generators. The MIP's upper end bounds every cell (the new ones
        get it as their upper end); the lower end is the best of the known
        cells', the MIP's and the new cells' values (so ``lower`` is never
        below ``cell_lower.max()``).
        """
        extra = len(grown) - len(self)
        ends = [(seen.lower, seen.direction), (mip.lower, mip.direction)]
        if extra:  # a new cell's value at its generator (a unit point of the MIP)
            k = int(np.argmax(values))
            ends.append((float(values[k]), grown.generators[len(self) + k]))
        lower, direction = max(ends, key=lambda end: end[0])
        upper = max(mip.upper, lower)
        cell_lower = np.concatenate([seen.cell_lower, values])
        return OracleResult(
            upper=upper,
            lower=lower,
            cell_upper=np.minimum(np.concatenate([seen.cell_upper, np.full(extra, upper)]), upper),
            cell_lower=cell_lower,
            direction=direction,
            argmax=int(cell_lower.argmax()),
            n_cells=len(grown),
            n_screened=seen.n_screened,
            n_solved=seen.n_solved,
            method=self.oracle_method,
            seconds=time.perf_counter() - start,
            converged=converged,
            cells=grown if extra else None,
        )

    @staticmethod
    def seeded_known(
        Y: np.ndarray, sampler, samples: int, time_limit: float, **sample_options: object
    ) -> tuple[object, str, float]:
        """``(known, digest, time_limit)`` of a new set: ``Y`` (n, d) checked, ``samples`` cells.

        ``sampler(Y, samples, **sample_options)`` draws the seed cells (the
        activation's sampler, with ``data_directed`` and ``random_state``).
        """
        Y = check_finite_array(Y, "Y", ndim=2)
        time_limit = check_positive(time_limit, "time_limit")
        return sampler(Y, samples, **sample_options), matrix_digest(Y), time_limit


@dataclass(frozen=True, eq=False, repr=False)
class MipArrangement(SearchedCells):
    """EVERY cell of ``Y``'s arrangement, searched by :func:`relu_mip_oracle` (no enumeration).

    For :func:`cvxcnn.certify` and :func:`cvxcnn.colgen.solve_colgen`: the
    oracle over it bounds ``M`` over all of ``R^d`` (``exact=True``, tied to
    ``Y`` by ``digest``), so their certificates are "certified" (with the
    gap the time limit leaves). A program never holds "every cell" here: the
    program cells are :attr:`known` (sampled cells plus the maximizers the
    oracle found), and :func:`cvxcnn.fit` over this set is refused.

    Attributes
    ----------
    known : PatternSet
        Cells met so far (``exact=False``): warm starts and program candidates.
    digest : str
        :func:`cvxcnn.arrangements.matrix_digest` of the ``Y`` it searches.
    time_limit : float
        Seconds per oracle call (both signs).
    persistent : bool
        Keep ONE :class:`ReluMip` for every call (both signs, every round of
        column generation): only the objective changes, and the cuts of
        earlier calls stay (they are valid for any ``g``). False builds a
        fresh model per call.
    session : dict
        As :class:`SearchedCells`; also holds the persistent model.
    engine : {"highs", "scip"}
        The solver (:func:`relu_mip_oracle`).
    """

    persistent: bool = True
    engine: str = "highs"

    #: column generation passes its threshold ``beta (1 + tol)`` to this oracle (pricing)
    prices_to_threshold = True

    @property
    def masks(self) -> np.ndarray:
        """(P, n) bool masks of the known cells."""
        return self.known.masks

    @property
    def generators(self) -> np.ndarray:
        """(P, d) generators of the known cells."""
        return self.known.generators

    @staticmethod
    def unite(a: PatternSet, b: PatternSet) -> PatternSet:
        """:meth:`PatternSet.union` (``a``'s cells first)."""
        return a.union(b)

    def known_brackets(self, Y, g, threshold, executor=None):
        """NNLS over the known cells (on ``executor``); starts: the :data:`CUT_CELLS` best."""
        seen = relu_oracle(Y, g, self.masks, threshold=threshold, executor=executor)
        starts = [seen.direction]
        for i in np.argsort(-seen.cell_lower)[:CUT_CELLS]:  # cell cuts: the best cells exact
            starts += [cell_nnls(Y, g, self.masks[i], sign)[1] for sign in (1.0, -1.0)]
        return seen, np.array([u for u in starts if np.linalg.norm(u) > 0])

    def search(self, Y, g, starts, threshold, time_limit):
        """:func:`relu_mip_oracle` with the set's engine (and persistent HiGHS model)."""
        model = self.model(Y) if self.engine == "highs" else None
        return relu_mip_oracle(
            Y, g, model=model, engine=self.engine,
            time_limit=time_limit, starts=starts, threshold=threshold,
        )  # fmt: skip

    def grow(self, Y, g, points):
        """The patterns of ``points`` appended, valued by :func:`objective_at`."""
        grown = self
        if len(points):
            grown = self.with_known(patterns_from_generators(Y, points, method="mip"))
        return grown, objective_at(Y, g, grown.generators[len(self) :])

    @property
    def oracle_method(self) -> str:
        return "mip" if self.engine == "highs" else f"mip-{self.engine}"

    def model(self, Y: np.ndarray) -> ReluMip:
        """The persistent model of ``Y`` (built at the first call), or a fresh one."""
        if not self.persistent:
            return ReluMip(Y)
        model = self.session.get("model")
        if model is None or not np.array_equal(model.Y, Y):
            model = self.session["model"] = ReluMip(Y)
        return model


def mip_arrangement(
    Y: np.ndarray,
    *,
    samples: int = 500,
    time_limit: float = DEFAULT_TIME_LIMIT,
    data_directed: float = 0.1,
    random_state: object = 0,
    persistent: bool = True,
    engine: str = "highs",
) -> MipArrangement:
    """Every cell of ``Y`` (n, d) for the MIP oracle, seeded with ``samples`` sampled cells.

    ``engine``: "highs", "scip", or "auto" (SCIP when ``pyscipopt`` is installed).
    """
    if engine == "auto":
        engine = "scip" if scip_available() else "highs"
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'auto' or one of {ENGINES}; got {engine!r}")
    seeded = SearchedCells.seeded_known(
        Y,
        sample_relu_patterns,
        samples,
        time_limit,
        data_directed=data_directed,
        random_state=random_state,
    )
    return MipArrangement(*seeded, persistent=bool(persistent), engine=engine)
