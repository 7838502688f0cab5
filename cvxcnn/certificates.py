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

Written once for every activation (:mod:`cvxcnn.activations`): the
activation supplies only the oracle over its cells (ReLU sign patterns, or
soft-threshold triples with ``M(r) = max |g^T tau_t(Y u)|`` over ``t >= 0``).

The lower bound is a **certificate** only when the oracle ran over every
cell of the arrangement: an exact cell set that was verified against THIS
problem's patch matrix (:meth:`cvxcnn.activations.Activation.verify_exact`).
Over sampled cells ``M(r)`` may be underestimated, so the "bound" is an
**estimate**; the result says which in ``certificate`` ("certified" /
"estimated"), and "failed" when the numbers cannot make a bound (a network
whose objective overflows, a lower bound above the upper one).
:class:`Certificate` refuses to be built as "certified" with non-finite
bounds or ``lower > upper`` beyond :data:`CERTIFICATE_RTOL`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from cvxcnn.activations import Activation, activation_of
from cvxcnn.losses import Loss, check_objective
from cvxcnn.networks import predict, primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.results import Result

CERTIFIED = "certified"
ESTIMATED = "estimated"
FAILED = "failed"

#: Relative float64 slack allowed for ``lower > upper`` in a certified result
#: (both are float64 evaluations of the same objective scale; anything above
#: this is a bug or a wrong cell set, never rounding).
CERTIFICATE_RTOL = 1e-9

#: Clarabel tolerances used when a solve feeds a certificate (DESIGN.md section 5:
#: at the defaults the certified gap at the optimum was 1e-7..5e-4).
TIGHT_CLARABEL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


#: Why a bound over sampled cells is only an estimate, with what was measured.
SAMPLED_WARNING = (
    "sampled cells: M(r) may be underestimated, the bound is an estimate; on digit images "
    "(3x3 kernels) an exact oracle found gaps an order of magnitude larger than the sampled "
    "estimate (>= 28-37% where the estimate said 1.5-2%)"
)


class CertificateError(ValueError):
    """A certificate was built from numbers that cannot certify anything."""


@dataclass
class Certificate(Result):
    """Upper bound, lower bound and gap of a network's objective.

    Attributes
    ----------
    upper_bound : float
        ``P`` of the network (float64 evaluator).
    lower_bound : float
        Dual bound on the global optimum: valid when ``certificate ==
        "certified"``; an estimate otherwise.
    gap, relative_gap : float
        ``upper - lower`` and ``gap / |upper|``.
    certificate : {"certified", "estimated", "failed"}
    oracle : str
        Which oracle ran, e.g. ``"exact/nnls"`` (enumerated cells),
        ``"exact/mip"`` (every cell by the mixed-integer oracle) or
        ``"sampled/st-socp"``.
    oracle_cells : int
        Cells the oracle searched.
    oracle_upper, oracle_lower : float
        Bracket on ``M(r)`` over those cells.
    dual_scale : float
        The scaling ``s`` of the dual point ``-s r``.
    beta : float
    loss : str
    oracle_seconds : float
    activation : str
    message : str
        Why the result is estimated or failed ("" when certified).
    oracle_converged : bool
        The oracle's bracket closed; False when an anytime oracle (the MIP)
        stopped at its time limit: the lower bound is still certified (from
        ``oracle_upper``), only looser.

    Raises
    ------
    CertificateError
        When built as "certified" with a non-finite bound or
        ``lower > upper + CERTIFICATE_RTOL * max(1, |upper|)``.
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
    activation: str = "relu"
    message: str = ""
    oracle_converged: bool = True

    def __post_init__(self) -> None:
        if self.certificate not in (CERTIFIED, ESTIMATED, FAILED):
            raise CertificateError(f"unknown certificate kind {self.certificate!r}")
        guard_certified(self.certificate, self.upper_bound, self.lower_bound, "the network")

    @property
    def certified(self) -> bool:
        return self.certificate == CERTIFIED


def certificate_problem(upper: float, lower: float) -> str:
    """Why ``(upper, lower)`` cannot be a certified bracket ("" when it can)."""
    if not (math.isfinite(upper) and math.isfinite(lower)):
        return f"bounds are not finite (upper {upper}, lower {lower})"
    if lower > upper + CERTIFICATE_RTOL * max(1.0, abs(upper)):
        return (
            f"lower bound {lower!r} exceeds upper bound {upper!r} beyond the float64 "
            f"tolerance {CERTIFICATE_RTOL:g} (relative)"
        )
    return ""


def relative_gap(upper: float, lower: float) -> float:
    """``(upper - lower) / |upper|``, every certificate's relative gap (inf at ``upper == 0``)."""
    return (upper - lower) / abs(upper) if upper != 0 else math.inf


def gap_fields(upper: float, lower: float) -> dict:
    """``{"gap": upper - lower, "relative_gap": ...}``: the gap entries of every bound result."""
    return {"gap": upper - lower, "relative_gap": relative_gap(upper, lower)}


def guard_certified(kind: str, upper: float, lower: float, what: str) -> None:
    """The one guard of every certified result's constructor.

    Raises :class:`CertificateError` when ``kind`` is "certified" but
    ``(upper, lower)`` is not a proof (:func:`certificate_problem`).
    """
    if kind == CERTIFIED:
        problem = certificate_problem(upper, lower)
        if problem:
            raise CertificateError(f"refusing to certify {what}: {problem}")


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


def dual_bound(
    loss: Loss, r: np.ndarray, target: np.ndarray, beta: float, oracle_upper: float
) -> tuple[float, float]:
    """The lower bound ``max_{0 <= s <= beta / M} -L*(-s r)`` from an upper end ``M`` of the oracle.

    The ONE place where an oracle value becomes a lower bound (used by
    :func:`certify`, column generation and paths).

    Parameters
    ----------
    loss : Loss
    r : ndarray of shape (n_out,)
        Residual direction.
    target : ndarray of shape (n_out,)
    beta : float
    oracle_upper : float
        An UPPER bound on ``M(r)`` over the cells of interest.

    Returns
    -------
    (s, lower) : tuple of float
    """
    s_max = beta / oracle_upper if oracle_upper > 0 else math.inf
    return best_dual_scale(loss, r, target, s_max)


def dual_direction(
    network: object, problem: PatchProblem, loss: Loss
) -> tuple[np.ndarray, np.ndarray]:
    """``r = -grad L(R f(Y))`` (n_out,) and ``g = R^T r`` (n,)."""
    r = -loss.gradient(predict(network, problem), problem.target)
    return r, problem.readout.adjoint(r)


@dataclass
class OracleSource:
    """Where a certificate's ``M(r)`` comes from: the one thing that differs between oracles.

    Attributes
    ----------
    run : callable
        ``run(g) -> OracleResult`` for ``g = R^T r`` (n,); its ``upper`` bounds
        ``M(r)`` over the cells searched and ``n_cells`` counts them.
    label : str
        Prefix of ``Certificate.oracle`` ("exact", "sampled", "streamed", ...).
    exhaustive : callable
        ``exhaustive(oracle_result) -> (bool, why_not)``: whether the search
        covered every cell of THIS problem's arrangement (only then is the
        bound certified).
    n_cells : int
        Cells to report when the oracle never ran (a failed network).
    """

    run: Callable[[np.ndarray], object]
    label: str
    exhaustive: Callable[[object], tuple[bool, str]]
    n_cells: int = 0


def certify(
    network: object,
    problem: PatchProblem,
    cells: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
    oracle_options: dict | None = None,
) -> Certificate:
    """Certificate (or estimate) of how far any network is from the global optimum.

    Parameters
    ----------
    network : ReluNetwork or STNetwork
        Any two-layer network for ``problem`` (reconstructed, trained, loaded).
    problem : PatchProblem
        Patches ``Y`` (n, d), readout ``R``, target ``x``.
    cells : PatternSet, TripleSet, MipArrangement or ndarray of shape (P, n), bool
        Cells the oracle searches, of the network's activation.
        ``certificate == "certified"`` only when they are an exact set
        verified against ``problem.Y``, or a
        :class:`cvxcnn.mip_oracle.MipArrangement` of ``problem.Y`` (every
        cell, searched by the mixed-integer oracle: certified at any time
        limit, ``oracle_converged`` False when it stopped there).
    beta : float
    loss : str or Loss
    oracle_options : dict, optional
        Passed to the activation's oracle (ReLU: ``method="nnls"|"socp"``,
        or ``time_limit`` seconds for a :class:`cvxcnn.mip_oracle.MipArrangement`;
        soft thresholds: ``solver``, ``solver_options``).

    Returns
    -------
    Certificate
        ``certificate="failed"`` (with ``message``) when the network's
        objective or the bound is not finite.
    """
    activation = _matching_activation(network, cells)
    cells = activation.check_cells(cells, problem.n)
    exact = getattr(cells, "exact", False)

    def exhaustive(_: object) -> tuple[bool, str]:
        return _exhaustive(activation, cells, problem)

    source = OracleSource(
        run=lambda g: activation.oracle(problem.Y, g, cells, **(oracle_options or {})),
        label="exact" if exact else "sampled",
        exhaustive=exhaustive,
        n_cells=len(cells),
    )
    return bound_network(network, problem, source, beta=beta, loss=loss)


def bound_network(
    network: object,
    problem: PatchProblem,
    source: OracleSource,
    *,
    beta: float,
    loss: str | Loss = "squared",
) -> Certificate:
    """The certificate of ``network`` with ``M(r)`` from ``source`` (the body of :func:`certify`).

    DESIGN.md section 5: ``upper = P(network)`` in float64, the residual
    direction ``r``, one oracle run at ``g = R^T r`` whose UPPER end bounds
    ``M(r)``, and the best dual bound ``lower`` for ``s <= beta / M``. The
    verdict is ``"certified"`` only when ``source.exhaustive`` confirms the
    search covered every cell and the bracket is finite and ordered;
    ``"estimated"`` otherwise; ``"failed"`` (with ``message``, and no oracle
    run) when the network's objective overflows float64. Any oracle plugs in
    here through an :class:`OracleSource` (in-memory cells, a stream, the MIP).

    Parameters
    ----------
    network : ReluNetwork or STNetwork
    problem : PatchProblem
    source : OracleSource
    beta : float
    loss : str or Loss

    Returns
    -------
    Certificate
    """
    beta, loss = check_objective(beta, loss)
    activation = activation_of(network)
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights: judged below
        upper = primal_objective(network, problem, beta, loss)
        r, g = dual_direction(network, problem, loss)
    common = dict(beta=beta, loss=loss.name, activation=activation.name)
    if not (math.isfinite(upper) and np.all(np.isfinite(g))):
        nan = math.nan
        return Certificate(
            upper_bound=upper, lower_bound=nan, gap=nan, relative_gap=nan, certificate=FAILED,
            oracle=f"{source.label}/none", oracle_cells=source.n_cells, oracle_upper=nan,
            oracle_lower=nan, dual_scale=nan, oracle_seconds=0.0, **common,
            message=f"the network's objective is not finite ({upper}): weights overflow float64",
        )  # fmt: skip
    start = time.perf_counter()
    oracle = source.run(g)
    seconds = time.perf_counter() - start
    s, lower = dual_bound(loss, r, problem.target, beta, oracle.upper)
    kind, message = _verdict(source.exhaustive(oracle), upper, lower)
    return Certificate(
        upper_bound=upper,
        lower_bound=lower,
        **gap_fields(upper, lower),
        certificate=kind,
        oracle=f"{source.label}/{oracle.method}",
        oracle_cells=int(oracle.n_cells),
        oracle_upper=oracle.upper,
        oracle_lower=oracle.lower,
        dual_scale=s,
        oracle_seconds=seconds,
        message=message,
        oracle_converged=oracle.converged,
        **common,
    )


def _matching_activation(network: object, cells: object) -> Activation:
    activation = activation_of(network)
    if activation is not activation_of(cells):
        raise TypeError(
            f"a {activation.name} network needs {activation.name} cells "
            f"({activation.cell_type.__name__}); got {type(cells).__name__}"
        )
    return activation


def _exhaustive(activation: Activation, cells: object, problem: PatchProblem) -> tuple[bool, str]:
    """Whether ``cells`` are every cell of ``problem``'s arrangement, and why not."""
    if not getattr(cells, "exact", False):
        return False, SAMPLED_WARNING
    if not activation.verify_exact(cells, problem.Y):
        return False, (
            "the cells claim to be exact but were not verified against this problem's patch "
            "matrix (enumerated from another Y, or cells missing): the bound is an estimate"
        )
    return True, ""


def certificate_verdict(
    activation: Activation, cells: object, problem: PatchProblem, upper: float, lower: float
) -> tuple[str, str]:
    """("certified" | "estimated" | "failed", why) for a bracket over ``cells``.

    Only ``problem.Y`` is read (so any problem with a patch matrix will do,
    e.g. :class:`cvxcnn.vector.VectorProblem`).
    """
    return _verdict(_exhaustive(activation, cells, problem), upper, lower)


def _verdict(exhaustive: tuple[bool, str], upper: float, lower: float) -> tuple[str, str]:
    """("certified" | "estimated" | "failed", why) for a computed bracket."""
    problem_text = certificate_problem(upper, lower)
    if not (math.isfinite(upper) and math.isfinite(lower)):
        return FAILED, f"no bound: {problem_text} (weights too large for float64?)"
    if not exhaustive[0]:
        return ESTIMATED, exhaustive[1]
    if problem_text:
        return FAILED, problem_text
    return CERTIFIED, ""


def certify_relu(network: object, problem: PatchProblem, patterns: object, **kwargs) -> Certificate:
    """:func:`certify` for a ReLU network (kept name; ``oracle_method`` -> ``oracle_options``)."""
    method = kwargs.pop("oracle_method", None)
    if method is not None:
        kwargs["oracle_options"] = {"method": method}
    return certify(network, problem, patterns, **kwargs)


def certify_st(network: object, problem: PatchProblem, triples: object, **kwargs) -> Certificate:
    """:func:`certify` for a soft-threshold network (kept name; oracle solver options)."""
    options = {k: kwargs.pop(k) for k in ("solver", "solver_options") if k in kwargs}
    return certify(network, problem, triples, oracle_options=options or None, **kwargs)
