"""One sign of the ReLU oracle with SCIP: the unit ball as a convex quadratic constraint.

``M_s = max_{||u||^2 <= 1} w^T (Y u)_+`` with ``h_i >= 0``, ``h_i >= y_i^T u``
for every row, and for the rows with ``w_i > 0`` a binary ``z_i`` with
``h_i <= y_i^T u + M_i (1 - z_i)``, ``h_i <= M_i z_i`` (``M_i = ||y_i||``), as in
:mod:`cvxcnn.mip_oracle`, but over the EXACT ball instead of an outer polytope
refined by tangent cuts (SCIP builds its own outer approximation). An
optional backend (``pip install pyscipopt``, the ``scip`` extra).

With a ``threshold`` the objective limit prunes every node whose bound is at
most it: SCIP then either finds points above it or proves ``M_s <= threshold``
(status ``infeasible``), the proving call of column generation. The upper
end is SCIP's dual bound: as rigorous as its LP tolerances (like HiGHS's in
the polytope formulation); its primal points may violate the ball by its
feasibility tolerance (:data:`FEASTOL`), so the lower end is always re-evaluated in
float64 at a unit point by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: SCIP's feasibility tolerance (its default 1e-6 lets points leave the ball by that much,
#: which caps the proof at about ``M (1 + 5e-7)``).
FEASTOL = 1e-9


def scip_available() -> bool:
    """Whether ``pyscipopt`` can be imported."""
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class ScipSign:
    """Outcome of :func:`scip_sign`.

    Attributes
    ----------
    upper : float
        Proven upper end of ``M_s`` (``threshold`` when the limit was proven).
    points : ndarray of shape (k, d)
        The ``u`` of SCIP's solutions (not normalized), best first.
    status : str
        SCIP's status (``optimal``, ``infeasible`` = below the threshold, ``timelimit``...).
    nodes : int
    """

    upper: float
    points: np.ndarray
    status: str
    nodes: int

    @property
    def finished(self) -> bool:
        """Solved: the maximum, or the proof that nothing exceeds the threshold."""
        return self.status in ("optimal", "infeasible", "gaplimit")


def scip_sign(
    Y: np.ndarray, w: np.ndarray, seconds: float, threshold: float | None = None
) -> ScipSign:
    """``max w^T (Y u)_+`` over the unit ball by SCIP, one thread, ``seconds`` of wall time.

    One sign ``M_s`` of the mixed-integer oracle (DESIGN.md section 12) over
    the EXACT ball, where HiGHS needs an outer polytope refined by cuts;
    binaries only on the rows with ``w_i > 0``. ``upper`` is SCIP's dual
    bound at any stop (the time limit included), as rigorous as its LP
    tolerances (gap 1e-9, feasibility :data:`FEASTOL`), and ``inf`` when the
    solve failed; the ``points`` may leave the ball by ``FEASTOL``, so the
    caller values them at unit points. Needs ``pyscipopt``
    (:func:`scip_available`): ImportError otherwise.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    w : ndarray of shape (n,)
    seconds : float
    threshold : float, optional
        Objective limit: nodes bounded by it are pruned (status ``infeasible``
        when no point exceeds it: then ``upper = threshold``).
    """
    from pyscipopt import Model, quicksum

    n, d = Y.shape
    norms = np.linalg.norm(Y, axis=1)
    model = Model()
    model.hideOutput()
    u = [model.addVar(lb=-1.0, ub=1.0, name=f"u{j}") for j in range(d)]
    h = [model.addVar(lb=0.0, ub=float(norms[i]), name=f"h{i}") for i in range(n)]
    for i in np.flatnonzero((w != 0) & (norms > 0)):
        a = quicksum(float(Y[i, j]) * u[j] for j in range(d) if Y[i, j] != 0)
        model.addCons(h[i] >= a)
        model.addCons(a >= -float(norms[i]))
        model.addCons(a <= float(norms[i]))
        if w[i] > 0:
            z = model.addVar(vtype="B", name=f"z{i}")
            model.addCons(h[i] <= a + float(norms[i]) * (1 - z))
            model.addCons(h[i] <= float(norms[i]) * z)
    model.addCons(quicksum(x * x for x in u) <= 1.0)
    model.setObjective(quicksum(float(w[i]) * h[i] for i in range(n) if w[i] != 0), "maximize")
    model.setParam("limits/time", max(float(seconds), 0.01))
    model.setParam("limits/gap", 1e-9)
    model.setParam("numerics/feastol", FEASTOL)
    model.setParam("randomization/randomseedshift", 0)
    if threshold is not None:
        model.setObjlimit(float(threshold))
    model.optimize()
    status = model.getStatus()
    points = np.array([[model.getSolVal(sol, x) for x in u] for sol in model.getSols()])
    if status == "infeasible" and threshold is not None:
        upper = float(threshold)  # every node was bounded by the objective limit
    else:
        upper = float(model.getDualbound())
        if not math.isfinite(upper) or status in ("unknown", "inforunbd", "unbounded"):
            upper = math.inf
    return ScipSign(upper, points.reshape(-1, d), status, int(model.getNNodes()))
