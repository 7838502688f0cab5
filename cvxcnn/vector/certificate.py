"""The dual certificate for ANY vector network (colorization paper eq. 8, our constants).

Weak duality: for every ``Lambda`` (n_out, c) with ``M(Lambda) = max_{||u|| <= 1}
||Lambda^T R (Y u)_+||_2 <= beta`` and every network (rescaled to ``||u_j|| <= 1``,
penalty ``beta sum_j ||w_j||``; the rescaling never raises ``P``),

    1/2 ||F - X||^2 >= <Lambda, X - F> - 1/2 ||Lambda||^2,
    <Lambda, F> = sum_j w_j^T Lambda^T R (Y u_j)_+ <= M(Lambda) sum_j ||w_j|| <= beta sum_j ||w_j||,

so ``p* >= <Lambda, X> - 1/2 ||Lambda||^2``. With ``Lambda = s G`` for a
direction ``G`` and ``0 <= s <= beta / M(G)`` this is the scalar bound of
:func:`cvxcnn.certificates.dual_bound` on the flattened arrays (the squared
loss is separable over channels), used here as is, with the rigorous UPPER
end of ``M`` from :func:`cvxcnn.vector.oracle.vector_oracle`. The direction
is the residual ``X - R f(Y)`` of a network (or of the relaxation's
prediction).

"certified" needs an exact cell set verified against THIS patch matrix
(:func:`cvxcnn.certificates.certificate_verdict`), as for scalar networks;
over sampled cells ``M`` may be underestimated and the bound is an estimate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.certificates import (
    CERTIFIED,
    FAILED,
    certificate_verdict,
    dual_bound,
    gap_fields,
    guard_certified,
)
from cvxcnn.losses import get_loss
from cvxcnn.results import Result
from cvxcnn.validation import check_positive
from cvxcnn.vector.network import VectorReluNetwork, vector_objective, vector_predict
from cvxcnn.vector.oracle import VECTOR_ORACLE_RTOL, vector_oracle
from cvxcnn.vector.problem import VectorProblem


@dataclass
class VectorCertificate(Result):
    """Upper bound (a network's objective), dual lower bound and gap.

    Attributes
    ----------
    upper_bound, lower_bound, gap, relative_gap : float
    certificate : {"certified", "estimated", "failed"}
    direction : str
        Which dual direction gave ``lower_bound`` (``"residual"`` or a given name).
    oracle_upper, oracle_lower : float
        Bracket on ``M`` at that direction.
    oracle_method : str
    oracle_evaluations : int
        Scalar oracle calls, all directions together.
    oracle_converged : bool
    dual_scale : float
    beta : float
    oracle_seconds : float
    message : str
    """

    upper_bound: float
    lower_bound: float
    gap: float
    relative_gap: float
    certificate: str
    direction: str
    oracle_upper: float
    oracle_lower: float
    oracle_method: str
    oracle_evaluations: int
    oracle_converged: bool
    dual_scale: float
    beta: float
    oracle_seconds: float
    message: str = ""

    def __post_init__(self) -> None:
        guard_certified(self.certificate, self.upper_bound, self.lower_bound, "the network")

    @property
    def certified(self) -> bool:
        return self.certificate == CERTIFIED


def direction_bound(
    problem: VectorProblem,
    cells: object,
    direction: np.ndarray,
    *,
    beta: float,
    rtol: float = VECTOR_ORACLE_RTOL,
    max_evaluations: int = 400,
    oracle_options: dict | None = None,
) -> tuple[float, float, object]:
    """The dual lower bound from one direction ``G`` (n_out, c): ``(lower, s, oracle)``."""
    G = np.asarray(direction, dtype=np.float64)
    oracle = vector_oracle(
        problem.Y,
        problem.readout.adjoint(G),
        cells,
        rtol=rtol,
        max_evaluations=max_evaluations,
        oracle_options=oracle_options,
    )
    loss = get_loss("squared")
    s, lower = dual_bound(loss, G.ravel(), problem.target.ravel(), beta, oracle.upper)
    return float(lower), float(s), oracle


def certify_vector(
    network: VectorReluNetwork,
    problem: VectorProblem,
    cells: object,
    *,
    beta: float,
    directions: dict | None = None,
    rtol: float = VECTOR_ORACLE_RTOL,
    max_evaluations: int = 400,
    oracle_options: dict | None = None,
) -> VectorCertificate:
    """Certificate (or estimate) of how far a vector network is from the global optimum.

    DESIGN.md section 13 (c): the dual bound of section 5 for the direction
    ``G`` (the residual, and each of ``directions``), with
    ``M = max ||G^T (Y u)_+||`` bracketed by
    :func:`cvxcnn.vector.oracle.vector_oracle` and its UPPER end used, so the
    lower bound is rigorous whatever the oracle's accuracy. It is
    ``"certified"`` only over an exact cell set verified against
    ``problem.Y``, otherwise ``"estimated"``; a non-finite objective or
    residual gives ``"failed"`` with a NaN lower bound. Cost: per direction at most
    ``max_evaluations`` scalar oracle calls over the cells.

    Parameters
    ----------
    network : VectorReluNetwork
    problem : VectorProblem
    cells : PatternSet or ndarray of shape (P, n), bool
        ReLU cells the oracle searches; "certified" only for an exact set
        verified against ``problem.Y``.
    beta : float
    directions : dict of str to ndarray of shape (n_out, c), optional
        Further dual directions to try besides the network's residual; the
        best bound is kept.
    rtol, max_evaluations, oracle_options
        See :func:`cvxcnn.vector.oracle.vector_oracle`.

    Returns
    -------
    VectorCertificate
    """
    beta = check_positive(beta, "beta")
    relu = get_activation("relu")
    cells = relu.check_cells(cells, problem.n)
    with np.errstate(over="ignore", invalid="ignore"):
        upper = vector_objective(network, problem, beta)
        residual = problem.target - vector_predict(network, problem)
    candidates = {"residual": residual, **(directions or {})}
    best, evaluations, seconds = None, 0, 0.0
    for name, G in candidates.items():
        if not np.all(np.isfinite(G)):
            continue
        start = time.perf_counter()
        lower, s, oracle = direction_bound(
            problem, cells, G, beta=beta, rtol=rtol, max_evaluations=max_evaluations,
            oracle_options=oracle_options,
        )  # fmt: skip
        seconds += time.perf_counter() - start
        evaluations += oracle.evaluations
        if best is None or lower > best[0]:
            best = (lower, s, oracle, name)
    if best is None or not math.isfinite(upper):
        lower, s, oracle, name = math.nan, math.nan, None, "none"
        kind, message = FAILED, f"the network's objective or residual is not finite ({upper})"
        gaps = {"gap": math.nan, "relative_gap": math.nan}
    else:
        lower, s, oracle, name = best
        kind, message = certificate_verdict(relu, cells, problem, upper, lower)
        gaps = gap_fields(upper, lower)
    return VectorCertificate(
        upper_bound=upper,
        lower_bound=lower,
        **gaps,
        certificate=kind,
        direction=name,
        **oracle_fields(oracle),
        oracle_evaluations=evaluations,
        dual_scale=s,
        beta=beta,
        oracle_seconds=seconds,
        message=message,
    )


def oracle_fields(oracle: object | None) -> dict:
    """A :class:`VectorCertificate`'s bracket on ``M``: ``oracle``'s, or NaN without one.

    Parameters
    ----------
    oracle : VectorOracleResult or None
        The oracle of the direction that gave the bound (None: no finite direction).

    Returns
    -------
    dict
        ``oracle_upper``, ``oracle_lower``, ``oracle_method`` and ``oracle_converged``.
    """
    if oracle is None:
        return {
            "oracle_upper": math.nan,
            "oracle_lower": math.nan,
            "oracle_method": "none",
            "oracle_converged": False,
        }
    return {
        "oracle_upper": oracle.upper,
        "oracle_lower": oracle.lower,
        "oracle_method": oracle.method,
        "oracle_converged": oracle.converged,
    }
