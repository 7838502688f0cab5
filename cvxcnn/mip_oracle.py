"""The ReLU oracle over EVERY cell without enumeration: a mixed-integer program (HiGHS).

``M(g) = max_{||u|| <= 1} |g^T (Y u)_+|`` (DESIGN.md section 12), one sign
``s = +-1`` at a time: ``M_s = max s g^T (Y u)_+``, ``M = max(M_+, M_-)``.
With ``w = s g`` and ``a_i = y_i^T u``:

- every row with ``w_i != 0``: ``h_i >= 0``, ``h_i >= a_i`` (for ``w_i < 0``
  the maximization pushes ``h_i`` down to ``(a_i)_+``: no binary);
- ``w_i > 0``: a binary ``z_i`` and ``h_i <= a_i + M_i (1 - z_i)``,
  ``h_i <= M_i z_i`` with ``M_i = ||y_i||`` and the slab ``|a_i| <= M_i``;
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

A round stops as soon as an incumbent leaves the ball (a callback
interrupts the solve; the cuts are added and the MIP restarts, warm-started
from the best point of the ball), as in the prototype of issue 14.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from cvxcnn.arrangements import (
    PatternSet,
    matrix_digest,
    patterns_from_generators,
    sample_relu_patterns,
)
from cvxcnn.oracle import OracleResult, cell_nnls, objective_at, relu_oracle
from cvxcnn.results import Result
from cvxcnn.validation import check_finite_array, check_positive

#: Converged when ``upper <= lower * (1 + MIP_RTOL)`` (or both below :data:`MIP_ATOL` x scale).
MIP_RTOL = 1e-7
MIP_ATOL = 1e-12
#: An incumbent with ``||u|| > 1 + BALL_TOL`` is outside the ball: cut it and restart.
BALL_TOL = 1e-9
#: Known cells (best first) whose maximizers give the first cuts of :func:`mip_cells_oracle`.
CUT_CELLS = 50
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


@dataclass
class MipOracleResult(Result):
    """Bracket ``lower <= M(g) <= upper`` over every cell of ``Y``'s arrangement.

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
    seconds : float
    """

    upper: float
    lower: float
    direction: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    converged: bool
    sign_upper: tuple
    sign_lower: tuple
    rounds: int = 0
    cuts: int = 0
    nodes: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    _skip = ("direction", "points")


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
    """The MIP for ``max w^T (Y u)_+`` over a polytope containing the unit ball.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        The signed weights ``s g``.
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray) -> None:
        self.Y, self.w_full = Y, w
        self.prepare(Y, w)
        self.cuts = 0
        self.highs = quiet_highs()
        #: improving incumbents ``u`` of the current solve
        self.incumbents: list[np.ndarray] = []
        if self.p:
            self.build()
            self.highs.cbMipImprovingSolution.subscribe(self._on_incumbent)

    def prepare(self, Y: np.ndarray, w: np.ndarray) -> None:
        """The model's data: ``d``, ``p`` (binaries: none, no model) and ``trivial`` (a bound).

        Subclasses for other activations (soft thresholds) override this,
        :meth:`build` (the columns, ``u`` first, and rows) and :meth:`start_point`.
        """
        norms = np.linalg.norm(Y, axis=1)
        rows = (w != 0) & (norms > 0)
        self.Yr, self.w, self.M = Y[rows], w[rows], norms[rows]
        self.pos = self.w > 0
        self.d, self.m, self.p = Y.shape[1], int(rows.sum()), int(self.pos.sum())
        #: trivial bound: sum of the positive weights times ||y_i||
        self.trivial = float(self.w[self.pos] @ self.M[self.pos])

    def _on_incumbent(self, event: highspy.HighsCallbackEvent) -> None:
        """Keep every improving incumbent: each one outside the ball gives cuts."""
        self.incumbents.append(np.asarray(event.data_out.mip_solution[: self.d], dtype=float))

    def build(self) -> None:
        """Columns ``(u, |u|, h, z)`` and rows of the ReLU model (see the module docstring)."""
        d, m, p = self.d, self.m, self.p
        h = self.highs
        inf = highspy.kHighsInf
        lo = np.concatenate([-np.ones(d), np.zeros(d), np.zeros(m), np.zeros(p)])
        hi = np.concatenate([np.ones(d), np.ones(d), self.M, np.ones(p)])
        cost = np.concatenate([np.zeros(2 * d), self.w, np.zeros(p)])
        h.addCols(len(lo), cost, lo, hi, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), [])
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        z0 = 2 * d + m
        h.changeColsIntegrality(
            p, np.arange(z0, z0 + p, dtype=np.int32), [highspy.HighsVarType.kInteger] * p
        )
        I_d, I_m = sp.identity(d), sp.identity(m, format="csr")
        Yr, Yp, Mp = sp.csr_matrix(self.Yr), sp.csr_matrix(self.Yr[self.pos]), self.M[self.pos]
        E = I_m[np.flatnonzero(self.pos)]  # (p, m) picks the h of positive rows
        Z = sp.csr_matrix
        blocks = [
            ([-I_d, I_d, Z((d, m)), Z((d, p))], np.zeros(d), np.full(d, inf)),  # t >= u
            ([I_d, I_d, Z((d, m)), Z((d, p))], np.zeros(d), np.full(d, inf)),  # t >= -u
            ([Z((1, d)), np.ones((1, d)), Z((1, m)), Z((1, p))], [-inf], [math.sqrt(d)]),
            ([-Yr, Z((m, d)), I_m, Z((m, p))], np.zeros(m), np.full(m, inf)),  # h >= a
            ([-Yp, Z((p, d)), E, sp.diags(Mp)], np.full(p, -inf), Mp),  # h <= a + M(1-z)
            ([Z((p, d)), Z((p, d)), E, -sp.diags(Mp)], np.full(p, -inf), np.zeros(p)),
            ([Yp, Z((p, d)), Z((p, m)), Z((p, p))], -Mp, Mp),  # slab |a| <= M
        ]
        A = sp.vstack([sp.hstack(b) for b, _, _ in blocks], format="csr")
        lower = np.concatenate([np.asarray(b, float) for _, b, _ in blocks])
        upper = np.concatenate([np.asarray(b, float) for _, _, b in blocks])
        h.addRows(A.shape[0], lower, upper, A.nnz, A.indptr, A.indices, A.data)

    def add_cuts(self, A: np.ndarray) -> None:
        """Tangent cuts ``a^T u <= 1`` for the unit rows of ``A`` (k, d)."""
        A = np.asarray(A, dtype=float).reshape(-1, self.d)
        if not self.p or not len(A):
            return
        k, d = A.shape
        starts = np.arange(0, k * d, d, dtype=np.int32)
        index = np.tile(np.arange(d, dtype=np.int32), k)
        self.highs.addRows(k, np.full(k, -highspy.kHighsInf), np.ones(k), k * d, starts, index,
                           A.ravel())  # fmt: skip
        self.cuts += k

    def start_point(self, u: np.ndarray) -> np.ndarray:
        """A feasible MIP point (all columns) at a unit ``u`` (d,)."""
        a = self.Yr @ u
        z = (a[self.pos] > 0).astype(float)
        return np.concatenate([u, np.abs(u), np.maximum(a, 0.0), z])

    def solve(self, seconds: float, start: np.ndarray | None) -> tuple[float, np.ndarray, int]:
        """One MIP solve (to the optimum over the polytope or the time limit).

        Returns ``(dual_bound, incumbents (k, d), nodes)``: every improving
        incumbent, the final one last.
        """
        h = self.highs
        h.setOptionValue("time_limit", max(float(seconds), 1e-3))
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(self.start_point(start))
            h.setSolution(sol)
        self.incumbents = []
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


def _candidates(Y: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Unit points from an incumbent ``u``: itself on the ball and its cell's maximizer."""
    unit = _unit(u)
    mask = Y @ unit >= 0
    _, proj = cell_nnls(Y, w, mask)
    return np.array([unit, _unit(proj)])


class SignSearch:
    """The bracket of ``M_s = max_{||u|| <= 1} w^T (Y u)_+``, refined round by round (resumable).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
        ``s g``.
    starts : ndarray of shape (k, d)
        Unit warm starts: tangent cuts, and the best as the first incumbent.

    Attributes
    ----------
    upper, lower : float
    point : ndarray of shape (d,)
        Unit point attaining ``lower``.
    found : list of ndarray
        Unit points with a positive value (new sign patterns).
    finished : bool
        The bracket closed, or the MIP's maximizer over the polytope lies on the ball.
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray, starts: np.ndarray) -> None:
        self.Y, self.w = Y, w
        self.mip = self.build_mip()
        vals = self.value(starts)
        best = int(vals.argmax())
        self.lower, self.point = max(float(vals[best]), 0.0), starts[best]
        self.upper, self.found = self.mip.trivial, []
        self.rounds = self.nodes = 0
        self.finished = self.mip.p == 0 or self.upper <= self.lower
        if self.finished:  # no positive weight: the max is 0, or the trivial bound is attained
            self.upper = max(self.upper, self.lower)
            return
        norms = np.linalg.norm(Y, axis=1)
        rows = Y[norms > 0] / norms[norms > 0, None]
        self.mip.add_cuts(np.vstack([starts, rows, -rows]))  # tangents at the starts and +-y_i

    # the activation's hooks (soft thresholds override them)
    def build_mip(self) -> SignedMip:
        """The MIP of ``max w^T act(Y u)`` over a polytope containing the ball."""
        return SignedMip(self.Y, self.w)

    def value(self, U: np.ndarray) -> np.ndarray:
        """Float64 value of ``w^T act(Y u)`` at each row of ``U`` (k, d) (points of the ball)."""
        return signed_value(self.Y, self.w, U)

    def candidates(self, U: np.ndarray) -> np.ndarray:
        """(2k, d): for each incumbent ``U[i]`` (k, d), rows ``2i`` (it, on the ball) and
        ``2i + 1`` (its cell's maximizer, whose tangent is the cell cut)."""
        return np.vstack([_candidates(self.Y, self.w, u) for u in U])

    def closed(self) -> bool:
        """``upper <= lower (1 + MIP_RTOL)`` (plus :data:`MIP_ATOL` x the trivial bound)."""
        return self.upper <= self.lower * (1 + MIP_RTOL) + MIP_ATOL * self.mip.trivial

    def run(self, deadline: float, threshold: float | None, irrelevant_below: float) -> None:
        """MIP rounds until ``deadline``, a closed bracket, ``lower > threshold``, or
        ``upper <= irrelevant_below`` (the other sign's lower end: ``M`` no longer depends on it).
        """
        while not self.finished and time.perf_counter() < deadline:
            if self.upper <= irrelevant_below or (threshold is not None and self.lower > threshold):
                return
            bound, U, nodes = self.mip.solve(deadline - time.perf_counter(), self.point)
            self.rounds, self.nodes = self.rounds + 1, self.nodes + nodes
            self.upper = min(self.upper, bound)
            outside = U[np.linalg.norm(U, axis=1) > 1 + BALL_TOL]
            if len(U):
                cand = self.candidates(U)
                vals = self.value(cand)
                self.found.extend(cand[vals > 0])
                j = int(vals.argmax())
                if vals[j] > self.lower:
                    self.lower, self.point = float(vals[j]), cand[j]
            if len(outside):
                far = np.repeat(np.linalg.norm(U, axis=1) > 1 + BALL_TOL, 2)
                self.mip.add_cuts(cand[far])
            optimal = self.mip.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
            self.finished = self.closed() or (optimal and not len(outside))
        self.upper = max(self.upper, self.lower)


def relu_mip_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    starts: np.ndarray | None = None,
    threshold: float | None = None,
) -> MipOracleResult:
    """Bracket ``M(g) = max_{||u|| <= 1} |g^T (Y u)_+|`` over EVERY cell (no enumeration).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
    time_limit : float
        Seconds for both signs together (the sign with the better start goes
        first and the other gets what is left). At the limit the bracket is
        still rigorous (``converged=False``).
    starts : ndarray of shape (k, d), optional
        Warm starts (e.g. the maximizer of the oracle over sampled cells):
        tangent cuts at them and the best as the first incumbent.
    threshold : float, optional
        Stop at the first point whose value exceeds it (column generation's
        pricing test; the upper end is then not the value).

    Returns
    -------
    MipOracleResult
    """
    start_time = time.perf_counter()
    Y = check_finite_array(Y, "Y", ndim=2)
    n, d = Y.shape
    g = check_finite_array(g, "g", ndim=1)
    if g.shape != (n,):
        raise ValueError(f"g must have shape (n,) = ({n},) for Y of shape {Y.shape}; got {g.shape}")
    time_limit = check_positive(time_limit, "time_limit")
    if starts is None:
        starts = np.eye(d)
    starts = np.atleast_2d(check_finite_array(starts, "starts", ndim=(1, 2)))
    starts = np.array([_unit(u) for u in np.vstack([starts, -starts])])
    order = [1.0, -1.0]
    if signed_value(Y, -g, starts).max() > signed_value(Y, g, starts).max():
        order.reverse()  # the sign with the better start first
    search = {s: SignSearch(Y, s * g, starts) for s in order}
    deadline = start_time + time_limit
    for k, s in enumerate(order):  # each sign its share, then what is left to the unfinished
        search[s].run(start_time + time_limit * (k + 1) / 2, threshold, search[-s].lower)
    for s in order:
        search[s].run(deadline, threshold, search[-s].lower)
    out = {s: (r.upper, r.lower, r.point, r.found) for s, r in search.items()}
    progress = {"rounds": sum(r.rounds for r in search.values())}
    progress["nodes"] = sum(r.nodes for r in search.values())
    progress["cuts"] = sum(r.mip.cuts for r in search.values())
    upper = max(out[1.0][0], out[-1.0][0])
    s_best = 1.0 if out[1.0][1] >= out[-1.0][1] else -1.0
    lower, direction = out[s_best][1], out[s_best][2]
    points = [p for s in order for p in out[s][3]]
    points = np.array(points).reshape(-1, d)
    values = np.abs(signed_value(Y, g, points)) if len(points) else np.zeros(0)
    scale = float(np.abs(g) @ np.linalg.norm(Y, axis=1))
    return MipOracleResult(
        upper=upper,
        lower=lower,
        direction=direction,
        points=points[np.argsort(-values)],
        converged=bool(upper <= lower * (1 + MIP_RTOL) + MIP_ATOL * scale),
        sign_upper=(out[1.0][0], out[-1.0][0]),
        sign_lower=(out[1.0][1], out[-1.0][1]),
        stopped_early=threshold is not None and lower > threshold,
        seconds=time.perf_counter() - start_time,
        **progress,
    )


# --------------------------------------------------------------------------- #
# The whole arrangement, searched by the MIP (a ReLU cell set for the pipeline)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False, repr=False)
class MipArrangement:
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
    """

    known: PatternSet
    digest: str
    time_limit: float = DEFAULT_TIME_LIMIT

    exact = True
    method = "mip"
    exact_count = 0

    @property
    def masks(self) -> np.ndarray:
        """(P, n) bool masks of the known cells."""
        return self.known.masks

    @property
    def generators(self) -> np.ndarray:
        """(P, d) generators of the known cells."""
        return self.known.generators

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
            f"MipArrangement(known={len(self)}, n_rows={self.n_rows}, "
            f"time_limit={self.time_limit:g}, count_bound={self.count_bound})"
        )

    def with_known(self, new: PatternSet) -> MipArrangement:
        """The same arrangement with ``new`` cells appended to :attr:`known` (first ones kept)."""
        return dataclasses.replace(self, known=self.known.union(new))


def mip_arrangement(
    Y: np.ndarray,
    *,
    samples: int = 500,
    time_limit: float = DEFAULT_TIME_LIMIT,
    data_directed: float = 0.1,
    random_state: object = 0,
) -> MipArrangement:
    """Every cell of ``Y`` (n, d) for the MIP oracle, seeded with ``samples`` sampled cells."""
    Y = check_finite_array(Y, "Y", ndim=2)
    time_limit = check_positive(time_limit, "time_limit")
    known = sample_relu_patterns(Y, samples, data_directed=data_directed, random_state=random_state)
    return MipArrangement(known, matrix_digest(Y), time_limit)


def mip_cells_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    cells: MipArrangement,
    *,
    threshold: float | None = None,
    time_limit: float | None = None,
) -> OracleResult:
    """:class:`~cvxcnn.oracle.OracleResult` over every cell: known cells by NNLS, then the MIP.

    The known cells' exact per-cell values warm-start the MIP; the MIP's
    points give new cells (``result.cells``: ``cells`` grown by them, the
    brackets indexed in that order). ``upper`` is the MIP's bound over all
    of ``R^d``; ``converged`` is False at the time limit.
    """
    start = time.perf_counter()
    seen = relu_oracle(Y, g, cells.masks, threshold=threshold)
    limit = cells.time_limit if time_limit is None else check_positive(time_limit, "time_limit")
    starts = [seen.direction]
    for i in np.argsort(-seen.cell_lower)[:CUT_CELLS]:  # cell cuts: the best known cells exact
        starts += [cell_nnls(Y, g, cells.masks[i], sign)[1] for sign in (1.0, -1.0)]
    starts = np.array([u for u in starts if np.linalg.norm(u) > 0])
    mip = relu_mip_oracle(Y, g, time_limit=limit, starts=starts, threshold=threshold)
    grown = cells
    if len(mip.points):
        grown = cells.with_known(patterns_from_generators(Y, mip.points, method="mip"))
    extra = len(grown) - len(cells)
    values = objective_at(Y, g, grown.generators[len(cells) :])
    upper = max(mip.upper, seen.lower, mip.lower)
    lower, direction = max((seen.lower, seen.direction), (mip.lower, mip.direction),
                           key=lambda t: t[0])  # fmt: skip
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
        method="mip",
        seconds=time.perf_counter() - start,
        converged=mip.converged and not mip.stopped_early,
        cells=grown if extra else None,
    )
