"""The vector oracle ``M(G) = max_{||u|| <= 1} ||G^T (Y u)_+||_2`` with a rigorous upper end.

``G`` (n, c) is ``R^T Lambda`` for a dual point ``Lambda`` (n_out, c). With
``a(u) = G^T (Y u)_+`` in R^c and ``h(w) = max_u w^T a(u)`` the support
function of ``A = {a(u) : ||u|| <= 1}``,

    M = max_u ||a(u)|| = max_{||w|| = 1} h(w),

and ``max(h(w), h(-w)) = M_scalar(G w)`` is the scalar oracle
(:func:`cvxcnn.oracle.relu_oracle`, through the ReLU activation) for the
direction ``g = G w``: exact over the cells it is given, with a rigorous
upper end.

Upper bound over a region of directions (the "Lipschitz correction", done
with supporting lines instead of a Lipschitz constant). ``A`` lies in every
half-space ``{a : w_i^T a <= h(w_i)}``. A direction ``w`` in the spherical
arc (c = 2) or triangle (c = 3) spanned by ``w_1..w_c`` is ``w = sum
alpha_i w_i`` with ``alpha >= 0``, so

    h(w) <= sum_i alpha_i h(w_i) = w^T p,    p = [w_1 .. w_c]^{-T} (h(w_1), ..., h(w_c)),

and the max of the linear function ``w^T p`` over the region is closed form
(``||p||`` when ``p`` points into the region, else the max over its edges).
Upper ends of the scalar oracle keep it valid (the bound is monotone in
``h``), and ``h(-w)`` obeys the same bound, so regions covering half of the
circle (c = 2: arcs of ``[0, pi]``) or half of the sphere (c = 3: the four
upper faces of the octahedron) cover every direction. Branch and bound
splits the region with the largest bound until it is within ``rtol`` of the
best value found (``max ||a(u)||`` at the scalar oracle's maximizers). For
equal ``h`` at the two ends of an arc of angle ``t`` the bound is
``h / cos(t/2)``: a grid of spacing ``t`` with the Lipschitz correction
``h / (1 - delta)`` needs ``delta ~ t``, this needs only ``t^2 / 8``.

For ``c > 3``: ``M^2 <= sum_k M_scalar(G q_k)^2`` over an orthonormal basis
``q_k`` (here the right singular vectors of ``G``): rigorous, at most
``sqrt(c)`` times ``M``.

Only when the cells are every cell of the arrangement is ``M`` over them the
``M`` of the problem (the caller labels the bound).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.oracle import OracleBracket, bracket_closed
from cvxcnn.results import omitted
from cvxcnn.validation import check_finite_array

#: Default relative tolerance of the branch and bound (upper <= lower (1 + rtol)); the
#: scalar oracle brackets each direction to ~1e-9, so tighter rarely converges.
VECTOR_ORACLE_RTOL = 1e-8


@dataclass(kw_only=True)
class VectorOracleResult(OracleBracket):
    """:class:`~cvxcnn.oracle.OracleBracket` on ``M = max ||G^T (Y u)_+||`` over the given cells.

    Attributes
    ----------
    upper, lower : float
    direction : ndarray of shape (d,)
        Unit filter ``u`` with ``||G^T (Y u)_+|| = lower``.
    output_direction : ndarray of shape (c,)
        Unit ``w`` of the scalar oracle call that found ``direction``.
    evaluations : int
        Scalar oracle calls.
    converged : bool
        ``upper <= lower (1 + rtol)`` reached within ``max_evaluations``.
    method : {"scalar", "arcs", "triangles", "basis"}
    seconds : float
    """

    output_direction: np.ndarray = omitted(repr=False)
    evaluations: int
    method: str


def arc_max(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """``max w^T p`` over the shorter great-circle arc from unit ``a`` to unit ``b``."""
    cos = float(np.clip(a @ b, -1.0, 1.0))
    perp = b - cos * a
    norm = np.linalg.norm(perp)
    if norm == 0.0:
        return float(max(a @ p, b @ p))
    x, y = float(a @ p), float(perp @ p / norm)
    angle, t0 = float(np.arccos(cos)), float(np.arctan2(y, x))
    if 0.0 <= t0 <= angle:
        return float(np.hypot(x, y))
    return float(max(a @ p, b @ p))


def region_bound(vertices: np.ndarray, h: np.ndarray) -> float:
    """Upper bound on ``h`` over the spherical arc/triangle with unit ``vertices`` (k, c), k = c."""
    p = np.linalg.solve(vertices, h)
    k = len(vertices)
    weights = np.linalg.solve(vertices.T, p)  # p = sum_i weights_i w_i
    if np.all(weights >= 0):
        return float(np.linalg.norm(p))
    edges = [(i, j) for i in range(k) for j in range(i + 1, k)]
    return max(arc_max(vertices[i], vertices[j], p) for i, j in edges)


class _Evaluator:
    """Scalar oracle calls for output directions, cached, tracking the best point."""

    def __init__(self, Y, G, cells, options):
        self.Y, self.G, self.cells, self.options = Y, G, cells, options
        self.relu = get_activation("relu")
        self.cache: dict[bytes, float] = {}
        self.lower, self.direction, self.output = 0.0, np.zeros(Y.shape[1]), np.zeros(G.shape[1])
        self.calls = 0

    def __call__(self, w: np.ndarray) -> float:
        key = np.round(w, 15).tobytes()
        if key not in self.cache:
            res = self.relu.oracle(self.Y, self.G @ w, self.cells, **self.options)
            self.calls += 1
            value = float(np.linalg.norm(self.G.T @ np.maximum(self.Y @ res.direction, 0.0)))
            if value > self.lower:
                self.lower, self.direction, self.output = value, res.direction, w
            self.cache[key] = max(float(res.upper), float(res.lower))
        return self.cache[key]


def _initial_regions(c: int) -> list[np.ndarray]:
    if c == 2:
        angles = np.linspace(0.0, np.pi, 9)
        points = np.column_stack([np.cos(angles), np.sin(angles)])
        return [points[i : i + 2] for i in range(8)]
    e = np.eye(3)
    ring = [e[0], e[1], -e[0], -e[1]]
    return [np.array([ring[i], ring[(i + 1) % 4], e[2]]) for i in range(4)]


def _split(region: np.ndarray) -> list[np.ndarray]:
    def mid(a, b):
        m = a + b
        return m / np.linalg.norm(m)

    if len(region) == 2:
        m = mid(*region)
        return [np.array([region[0], m]), np.array([m, region[1]])]
    a, b, c = region
    ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
    return [np.array(t) for t in ([a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca])]


def _branch_and_bound(evaluate: _Evaluator, c: int, rtol: float, max_evaluations: int):
    heap, count = [], 0
    for region in _initial_regions(c):
        bound = region_bound(region, np.array([evaluate(w) for w in region]))
        heapq.heappush(heap, (-bound, count, region))
        count += 1
    while heap and not bracket_closed(-heap[0][0], evaluate.lower, rtol):
        if evaluate.calls >= max_evaluations:
            return -heap[0][0], False
        _, _, region = heapq.heappop(heap)
        for child in _split(region):
            bound = region_bound(child, np.array([evaluate(w) for w in child]))
            count += 1
            heapq.heappush(heap, (-bound, count, child))
    return (max(-heap[0][0], evaluate.lower) if heap else evaluate.lower), True


def vector_oracle(
    Y: np.ndarray,
    G: np.ndarray,
    cells: object,
    *,
    rtol: float = VECTOR_ORACLE_RTOL,
    max_evaluations: int = 400,
    oracle_options: dict | None = None,
) -> VectorOracleResult:
    """Bracket ``max over the cells and ||u|| <= 1 of ||G^T (Y u)_+||``.

    The dual certificate's oracle for ``c`` output channels (DESIGN.md
    section 13), ``M = max over unit w of M_scalar(G w)``: one scalar call
    for ``c = 1``; for ``c = 2, 3`` a branch and bound over output directions
    whose supporting-line bounds (module docstring) are rigorous at every
    step, so the upper end stays valid at ``max_evaluations``; for ``c > 3``
    the basis bound, rigorous but up to ``sqrt(c)`` times ``M``. Each
    evaluation is one scalar oracle call over ``cells``; ``M`` is the
    problem's only when they are every cell.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    G : ndarray of shape (n, c)
        ``R^T Lambda``.
    cells : PatternSet or ndarray of shape (P, n), bool
    rtol : float
        Stop when the upper end is within ``rtol`` (relative) of the lower end.
    max_evaluations : int
        Scalar oracle calls allowed (c = 2, 3); the upper end stays rigorous
        when the budget runs out (``converged=False``), only looser.
    oracle_options : dict, optional
        Passed to the scalar oracle (``method="nnls"|"socp"``).

    Returns
    -------
    VectorOracleResult
    """
    start = time.perf_counter()
    G = check_finite_array(G, "G", ndim=2)
    if G.shape[0] != Y.shape[0]:
        raise ValueError(f"G must have n={Y.shape[0]} rows (one per patch); got {G.shape}")
    c = G.shape[1]
    evaluate = _Evaluator(Y, G, cells, dict(oracle_options or {}))
    if c == 1:
        upper, converged, method = evaluate(np.ones(1)), True, "scalar"
    elif c in (2, 3):
        upper, converged = _branch_and_bound(evaluate, c, rtol, max_evaluations)
        method = "arcs" if c == 2 else "triangles"
    else:
        basis = np.linalg.svd(G, full_matrices=True)[2]
        upper = float(np.sqrt(sum(evaluate(q) ** 2 for q in basis)))
        converged, method = bracket_closed(upper, evaluate.lower, rtol), "basis"
    return VectorOracleResult(
        upper=float(max(upper, evaluate.lower)),
        lower=evaluate.lower,
        direction=evaluate.direction,
        output_direction=evaluate.output,
        evaluations=evaluate.calls,
        converged=bool(converged),
        method=method,
        seconds=time.perf_counter() - start,
    )
