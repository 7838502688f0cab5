"""The soft-threshold oracle over EVERY triple without enumeration: a mixed-integer program.

``M(g) = max_{||u|| <= 1, t >= 0} |g^T tau_t(Y u)|`` (the learnable-threshold
program 6a, :mod:`cvxcnn.soft_threshold.oracle`). ``tau_t`` is odd, so
``(u, t) -> (-u, t)`` flips the sign of ``g^T tau_t(Y u)``: ``M`` is the
maximum of ``g^T tau_t(Y u)`` itself, ONE signed search (the ReLU oracle
needs two). With ``e_i = sign(g_i)``, ``a_i = e_i y_i^T u`` and
``tau_t(y_i^T u) g_i = |g_i| ((a_i - t)_+ - (-a_i - t)_+)``:

- the convex piece ``c_i = (a_i - t)_+`` (weight ``+|g_i|``) takes a binary
  ``z_i``: ``c_i >= a_i - t``, ``c_i <= a_i - t + L_i (1 - z_i)``,
  ``0 <= c_i <= N_i z_i`` with ``N_i = ||y_i||``, ``L_i = N_i + t_max``;
- the concave piece ``k_i = (-a_i - t)_+`` (weight ``-|g_i|``) needs none:
  ``k_i >= 0``, ``k_i >= -a_i - t`` (the maximization pushes it down);
- ``0 <= t <= t_max = max_i ||y_i||`` (a larger ``t`` zeroes every row, as
  ``t = t_max`` does on the ball), slabs ``|a_i| <= N_i``;
- the ball replaced by the outer polytope of :class:`cvxcnn.mip_oracle.SignedMip`
  (box, ``||u||_1 <= sqrt(d)``, tangent cuts) refined round by round by
  :class:`cvxcnn.mip_oracle.SignSearch`: at each incumbent the tangent at
  ``u* / ||u*||`` and the CELL CUT at the maximizer of its triple's cell
  (the tangent there makes the polytope maximum over that cell exact, by
  the cell SOCP's Lagrangian: ``c^T u + b t <= lambda u_j^T u`` on the cell).

Every point of the ball (with ``t <= t_max``) is feasible, so HiGHS's dual
bound is an upper bound on ``M`` at ANY stop: the oracle is **anytime**. The
lower end is the float64 value ``max_{t >= 0} g^T tau_t(Y u)`` at a point of
the ball (:func:`best_threshold`: exact over the breakpoints ``t = |y_i^T u|``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Unpack

import highspy
import numpy as np
import scipy.sparse as sp

from cvxcnn.arrangements import first_unique_rows
from cvxcnn.mip_oracle import (
    CUT_CELLS,
    DEFAULT_TIME_LIMIT,
    AnytimeOptions,
    MipOracleResult,
    SearchedCells,
    SignedMip,
    SignSearch,
    mip_result,
    oracle_inputs,
)
from cvxcnn.soft_threshold.oracle import (
    st_cell_brackets,
    st_cell_maximizers,
    st_objective_at,
)
from cvxcnn.soft_threshold.triples import (
    TripleSet,
    sample_st_triples,
    triples_from_generators,
)

#: Sampled triples an :class:`STMipTriples` starts with (each oracle call solves their cells).
DEFAULT_SAMPLES = 100


def best_threshold(Y: np.ndarray, w: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``max_{t >= 0} w^T tau_t(Y u)`` and its ``t`` for each row ``u`` of ``U`` (k, d).

    The function of ``t`` is piecewise linear with breakpoints ``|y_i^T u|``,
    so its maximum is at ``t = 0`` or at a breakpoint; all are evaluated with
    suffix sums over the sorted ``|y_i^T u|`` (``O(n log n)`` per point).

    Returns
    -------
    values : ndarray of shape (k,)
    thresholds : ndarray of shape (k,)
    """
    A = np.atleast_2d(U) @ Y.T  # (k, n)
    B = np.abs(A)
    order = np.argsort(B, axis=1)
    b = np.take_along_axis(B, order, axis=1)
    sw = np.take_along_axis(w[None, :] * np.sign(A), order, axis=1)
    s1 = np.cumsum((sw * b)[:, ::-1], axis=1)[:, ::-1]  # sum_{l >= j} sw_l b_l
    s0 = np.cumsum(sw[:, ::-1], axis=1)[:, ::-1]
    f = np.hstack([s1[:, :1], s1 - b * s0])  # t = 0, then t = b_j
    j = f.argmax(axis=1)
    rows = np.arange(len(A))
    t = np.where(j == 0, 0.0, b[rows, np.maximum(j - 1, 0)])
    return f[rows, j], t


class STSignedMip(SignedMip):
    """The MIP for ``max w^T tau_t(Y u)`` over the polytope (columns ``u, |u|, t, c, k, z``)."""

    def prepare(self, Y: np.ndarray, w: np.ndarray) -> None:
        norms = np.linalg.norm(Y, axis=1)
        rows = (w != 0) & (norms > 0)
        self.Ye = Y[rows] * np.sign(w[rows])[:, None]
        self.aw, self.N = np.abs(w[rows]), norms[rows]
        self.tmax = float(self.N.max(initial=0.0))
        self.d, self.m = Y.shape[1], int(rows.sum())
        self.p = self.m  # one binary per row: its convex piece
        self.trivial = float(self.aw @ self.N)  # |tau_t(a)| <= |a| <= ||y_i||

    def build(self) -> None:
        d, m = self.d, self.m
        h, inf = self.highs, highspy.kHighsInf
        N, L, one = self.N, self.N + self.tmax, np.ones
        lo = np.concatenate([-one(d), np.zeros(d), [0.0], np.zeros(2 * m), np.zeros(m)])
        hi = np.concatenate([one(d), one(d), [self.tmax], N, N, one(m)])
        cost = np.concatenate([np.zeros(2 * d + 1), self.aw, -self.aw, np.zeros(m)])
        h.addCols(len(lo), cost, lo, hi, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), [])
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        z0 = 2 * d + 1 + 2 * m
        h.changeColsIntegrality(
            m, np.arange(z0, z0 + m, dtype=np.int32), [highspy.HighsVarType.kInteger] * m
        )
        I_d, I_m, Z = sp.identity(d), sp.identity(m, format="csr"), sp.csr_matrix
        Ye, t1, Om = sp.csr_matrix(self.Ye), sp.csr_matrix(one((m, 1))), Z((m, m))
        zdm, z1m, zmd, zm1, no, yes = Z((d, m)), Z((1, m)), Z((m, d)), Z((m, 1)), -inf, inf
        blocks = [  # columns: u, |u|, t, c, k, z
            ([-I_d, I_d, Z((d, 1)), zdm, zdm, zdm], np.zeros(d), np.full(d, yes)),  # |u| >= u
            ([I_d, I_d, Z((d, 1)), zdm, zdm, zdm], np.zeros(d), np.full(d, yes)),  # |u| >= -u
            ([Z((1, d)), one((1, d)), Z((1, 1)), z1m, z1m, z1m], [no], [math.sqrt(d)]),
            ([-Ye, zmd, t1, I_m, Om, Om], np.zeros(m), np.full(m, yes)),  # c >= a - t
            ([-Ye, zmd, t1, I_m, Om, sp.diags(L)], np.full(m, no), L),  # c <= a - t + L (1 - z)
            ([zmd, zmd, zm1, I_m, Om, -sp.diags(N)], np.full(m, no), np.zeros(m)),  # c <= N z
            ([Ye, zmd, t1, Om, I_m, Om], np.zeros(m), np.full(m, yes)),  # k >= -a - t
            ([Ye, zmd, zm1, Om, Om, Om], -N, N),  # slab |a| <= N
        ]
        self.add_rows(h, blocks)

    def start_point(self, u: np.ndarray) -> np.ndarray:
        a = self.Ye @ u
        _, t = best_threshold(self.Ye, self.aw, u)
        t = min(float(t[0]), self.tmax)
        c, k = np.maximum(a - t, 0.0), np.maximum(-a - t, 0.0)
        return np.concatenate([u, np.abs(u), [t], c, k, (a - t > 0).astype(float)])

    def unit_value(self, u: np.ndarray) -> float:
        return float(best_threshold(self.Ye, self.aw, u)[0][0])


class STSignSearch(SignSearch):
    """:class:`cvxcnn.mip_oracle.SignSearch` for ``max_{||u|| <= 1, t >= 0} w^T tau_t(Y u)``."""

    def build_mip(self) -> STSignedMip:
        return STSignedMip(self.Y, self.w)

    def value(self, U: np.ndarray) -> np.ndarray:
        return best_threshold(self.Y, self.w, U)[0]

    def ascent(self, u: np.ndarray) -> np.ndarray:
        return np.zeros((0, len(u)))  # no local search over triples (yet)

    def candidates(self, U: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(U, axis=1)
        units = U / np.where(norms > 0, norms, 1.0)[:, None]
        _, t = best_threshold(self.Y, self.w, units)
        h = units @ self.Y.T
        s1, s3 = h <= -t[:, None], h >= t[:, None]
        live = np.flatnonzero(np.any(s1 | s3, axis=1) & (norms > 0))
        best = units.copy()  # a dead cell (value 0) keeps the incumbent itself
        if live.size:
            Uc, _, _ = st_cell_maximizers(self.Y, self.w, s1[live], s3[live])
            cn = np.linalg.norm(Uc, axis=1)
            ok = cn > 0
            best[live[ok]] = Uc[ok] / cn[ok, None]
        return np.stack([units, best], axis=1).reshape(-1, U.shape[1])


def st_mip_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    **options: Unpack[AnytimeOptions],
) -> MipOracleResult:
    """Bracket ``M(g) = max_{||u|| <= 1, t >= 0} |g^T tau_t(Y u)|`` over EVERY triple.

    The certificate oracle of program 6a (DESIGN.md sections 6 and 12)
    without enumerating triples: ``tau_t`` is odd, so ONE signed search of
    the model of the module docstring (HiGHS over an outer polytope refined
    by tangent and cell cuts; no SCIP engine) bounds ``M`` for every
    ``t >= 0``. The same anytime guarantee as the ReLU oracle: ``upper`` is
    HiGHS's dual bound at any stop, ``lower`` the float64 value at a unit
    point with its best threshold. The model has one binary per row with
    ``g_i != 0`` (a ReLU sign: one per row with ``s g_i > 0``).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
    **options : AnytimeOptions
        ``time_limit``, ``starts`` and ``threshold``, as
        :class:`cvxcnn.mip_oracle.AnytimeOptions` says (one signed search).

    Returns
    -------
    cvxcnn.mip_oracle.MipOracleResult
        ``points``: unit ``u`` with a positive ``max_t g^T tau_t(Y u)`` (best
        first; :func:`best_threshold` gives their ``t``); the sign brackets are
        equal (``tau`` is odd).
    """
    start_time = time.perf_counter()
    Y, g, time_limit, starts, threshold = oracle_inputs(Y, g, options, "st_mip_oracle")
    search = STSignSearch(Y, g, starts)
    search.run(start_time + time_limit, threshold, -math.inf)
    return mip_result(Y, g, {1.0: search}, threshold, search.mip.cuts, start_time)


# --------------------------------------------------------------------------- #
# Every triple, searched by the MIP (a soft-threshold cell set for the pipeline)
# --------------------------------------------------------------------------- #


def union_triples(a: TripleSet, b: TripleSet) -> TripleSet:
    """Deduplicated union (``a``'s triples first, keeping their generators); ``exact=False``."""
    s1, s3 = np.concatenate([a.s1, b.s1]), np.concatenate([a.s3, b.s3])
    keep = first_unique_rows(np.hstack([s1, s3]))
    gens = np.concatenate([a.generators, b.generators])[keep]
    thr = np.concatenate([a.thresholds, b.thresholds])[keep]
    return TripleSet(
        s1[keep], s3[keep], gens, thr, np.concatenate([a.gains, b.gains])[keep],
        exact=False, method=a.method if a.method == b.method else "mixed",
        count_bound=a.count_bound,
    )  # fmt: skip


@dataclass(frozen=True, eq=False, repr=False)
class STMipTriples(SearchedCells):
    """EVERY triple of ``Y``'s ST arrangement, searched by :func:`st_mip_oracle`.

    The soft-threshold counterpart of :class:`cvxcnn.mip_oracle.MipArrangement`:
    ``exact=True`` for certificates and column generation (tied to ``Y`` by
    ``digest``), while a program holds only :attr:`known` (sampled triples
    plus the maximizers the oracle found); :func:`cvxcnn.fit` over it is refused.

    Attributes
    ----------
    known : TripleSet
        Triples met so far (``exact=False``).
    digest : str
        :func:`cvxcnn.arrangements.matrix_digest` of the ``Y`` it searches.
    time_limit : float
        Seconds per oracle call.
    """

    s1 = property(lambda self: self.known.s1)
    s3 = property(lambda self: self.known.s3)
    generators = property(lambda self: self.known.generators)
    thresholds = property(lambda self: self.known.thresholds)
    live = property(lambda self: self.known.live)
    n_triples = property(lambda self: len(self.known))
    unite = staticmethod(union_triples)

    def known_brackets(self, Y, g, threshold, solver="CLARABEL", solver_options=None):
        """The stacked SOCP over the known triples; starts: their best maximizers, both signs.

        ``threshold`` is not needed: every live triple is solved exactly.
        The maximizers of ``-g`` are flipped onto ``+g`` (``tau`` is odd).
        """
        seen, maximizers = st_cell_brackets(Y, g, self.known, solver, solver_options)
        return seen, np.vstack([U[:CUT_CELLS] for U in maximizers])

    def search(self, Y, g, starts, threshold, time_limit):
        """:func:`st_mip_oracle` (one signed search: ``tau`` is odd)."""
        return st_mip_oracle(Y, g, time_limit=time_limit, starts=starts, threshold=threshold)

    def grow(self, Y, g, points):
        """The triples of ``points`` at their best thresholds, valued by :func:`st_objective_at`."""
        grown = self
        if len(points):
            _, t = best_threshold(Y, g, points)
            grown = self.with_known(triples_from_generators(Y, points, t, method="mip"))
        new = grown.known.subset(np.arange(len(self), len(grown)))
        return grown, st_objective_at(Y, g, new.generators, new.thresholds)


def st_mip_triples(
    Y: np.ndarray,
    *,
    samples: int = DEFAULT_SAMPLES,
    time_limit: float = DEFAULT_TIME_LIMIT,
    data_directed: float = 0.1,
    random_state: object = 0,
) -> STMipTriples:
    """Every triple of ``Y`` (n, d) for the MIP oracle, seeded with ``samples`` sampled triples."""
    seeded = SearchedCells.seeded_known(
        Y,
        sample_st_triples,
        samples,
        time_limit,
        data_directed=data_directed,
        random_state=random_state,
    )
    return STMipTriples(*seeded)
