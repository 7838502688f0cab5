"""Certificates: a lower bound on the global optimum from ANY network.

Weak duality (Sahiner et al. App. C eq. 17-18, written for any convex loss
``L`` with conjugate ``L*``): for every direction ``r`` (n_out,) and every
``0 <= s <= beta / M(r)``,

    p* >= h(s) = -L*(-s r),    M(r) = max_{||u|| <= 1} |r^T R (Y u)_+|,

because ``lam = -s r`` is then dual feasible. (Squared loss:
``h(s) = -1/2 ||s r||^2 + s r^T x``.) From a network with predictions
``p = R f(Y)`` take ``r = -grad L(p)`` (``x - p`` for the squared loss),
bracket ``M(r)`` with :func:`cvxcnn.oracle.relu_oracle`, use its UPPER end
so the bound stays valid whatever the oracle's accuracy, and maximize ``h``
over ``s``. Upper bound ``P(U, v)`` (the shared evaluator), gap = upper -
lower.

The lower bound is a **certificate** only when the oracle ran over every
cell of the arrangement (an exact pattern set). Over sampled cells ``M(r)``
may be underestimated, so the "bound" is an **estimate**; the result says
which in ``certificate`` ("certified" / "estimated").
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from cvxcnn._validation import check_positive
from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import ReluNetwork, predict, primal_objective
from cvxcnn.oracle import OracleResult, relu_oracle
from cvxcnn.problem import PatchProblem

CERTIFIED = "certified"
ESTIMATED = "estimated"

#: Clarabel tolerances used when a solve feeds a certificate (DESIGN.md section 5:
#: at the defaults the certified gap at the optimum was 1e-7..5e-4).
TIGHT_CLARABEL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


@dataclass
class Certificate:
    """Upper bound, lower bound and gap of a network's objective.

    Attributes
    ----------
    upper_bound : float
        ``P(U, v)`` of the network (float64 evaluator).
    lower_bound : float
        Dual bound on the global optimum: valid when ``certificate ==
        "certified"``; an estimate otherwise.
    gap, relative_gap : float
        ``upper - lower`` and ``gap / |upper|``.
    certificate : {"certified", "estimated"}
    oracle : str
        Which oracle ran, e.g. ``"exact/nnls"`` or ``"sampled/nnls"``.
    oracle_cells : int
        Cells the oracle searched.
    oracle_upper, oracle_lower : float
        Bracket on ``M(r)`` over those cells.
    dual_scale : float
        The scaling ``s`` of the dual point ``-s r``.
    beta : float
    loss : str
    oracle_seconds : float
    """

    upper_bound: float
    lower_bound: float
    gap: float
    relative_gap: float
    certificate: str
    oracle: str
    oracle_cells: int
    oracle_upper: float
    oracle_lower: float
    dual_scale: float
    beta: float
    loss: str
    oracle_seconds: float

    @property
    def certified(self) -> bool:
        return self.certificate == CERTIFIED

    def to_dict(self) -> dict:
        return asdict(self)


def _domain_limit(loss: Loss, r: np.ndarray, target: np.ndarray) -> float:
    """Largest ``s`` with ``L*(-s r)`` finite (the conjugate's domain is convex)."""
    if math.isfinite(loss.conjugate(-1e12 * r, target)):
        return math.inf
    lo, hi = 0.0, 1.0
    while math.isfinite(loss.conjugate(-hi * r, target)):
        lo, hi = hi, 2 * hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if math.isfinite(loss.conjugate(-mid * r, target)) else (lo, mid)
    return lo


def best_dual_scale(
    loss: Loss, r: np.ndarray, target: np.ndarray, s_max: float
) -> tuple[float, float]:
    """Maximize the concave ``h(s) = -L*(-s r)`` over ``0 <= s <= s_max``.

    Returns
    -------
    (s, h(s)) : tuple of float
        Any ``s`` in the interval gives a valid bound, so an inexact maximizer
        only loosens it.
    """
    s_hi = min(s_max, _domain_limit(loss, r, target))

    def h(s: float) -> float:
        return -loss.conjugate(-s * r, target)

    rr = float(r @ r)
    if rr == 0.0:
        return 0.0, h(0.0)
    if loss.name == "squared":  # closed form
        s = min(max(float(r @ target) / rr, 0.0), s_hi)
        return s, h(s)
    if not math.isfinite(s_hi):
        raise ValueError(f"the {loss.name} conjugate is unbounded along r; cannot scale")
    res = minimize_scalar(
        lambda s: -h(s), bounds=(0.0, s_hi), method="bounded", options={"xatol": 1e-14 * s_hi}
    )
    candidates = [(0.0, h(0.0)), (s_hi, h(s_hi)), (float(res.x), h(float(res.x)))]
    return max(candidates, key=lambda c: c[1])


def dual_direction(
    network: ReluNetwork, problem: PatchProblem, loss: Loss
) -> tuple[np.ndarray, np.ndarray]:
    """``r = -grad L(R f(Y))`` (n_out,) and ``g = R^T r`` (n,)."""
    r = -loss.gradient(predict(network, problem), problem.target)
    return r, problem.readout.adjoint(r)


def certify_relu(
    network: ReluNetwork,
    problem: PatchProblem,
    patterns: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
    oracle_method: str = "nnls",
) -> Certificate:
    """Certificate (or estimate) of how far a network is from the global optimum.

    Parameters
    ----------
    network : ReluNetwork
        Any two-layer ReLU network for ``problem`` (reconstructed, trained, loaded).
    problem : PatchProblem
        Patches ``Y`` (n, d), readout ``R``, target ``x``.
    patterns : PatternSet or ndarray of shape (P, n), bool
        Cells the oracle searches. ``certificate == "certified"`` only when
        this is a ``PatternSet`` with ``exact=True`` (every cell).
    beta : float
    loss : str or Loss
    oracle_method : {"nnls", "socp"}

    Returns
    -------
    Certificate
    """
    beta = check_positive(beta, "beta")
    loss = get_loss(loss)
    masks = np.asarray(getattr(patterns, "masks", patterns), dtype=bool)
    exact = bool(getattr(patterns, "exact", False))
    upper = primal_objective(network, problem, beta, loss)
    r, g = dual_direction(network, problem, loss)
    start = time.perf_counter()
    oracle: OracleResult = relu_oracle(problem.Y, g, masks, method=oracle_method)
    seconds = time.perf_counter() - start
    s_max = beta / oracle.upper if oracle.upper > 0 else math.inf
    s, lower = best_dual_scale(loss, r, problem.target, s_max)
    gap = upper - lower
    return Certificate(
        upper_bound=upper,
        lower_bound=lower,
        gap=gap,
        relative_gap=gap / abs(upper) if upper != 0 else math.inf,
        certificate=CERTIFIED if exact else ESTIMATED,
        oracle=f"{'exact' if exact else 'sampled'}/{oracle_method}",
        oracle_cells=int(masks.shape[0]),
        oracle_upper=oracle.upper,
        oracle_lower=oracle.lower,
        dual_scale=s,
        beta=beta,
        loss=loss.name,
        oracle_seconds=seconds,
    )
