"""The vector-output bracket: ``[best lower, best upper]`` on the global optimum, with its gap.

:func:`fit_vector` runs the exactly solvable pieces over one cell set:

- UPPER candidates (feasible networks, evaluated by
  :func:`cvxcnn.vector.network.vector_objective`): the separable networks
  (one scalar program per channel), the principal-direction network, the
  network built from the relaxation's blocks, each polished by L-BFGS-B,
  and optionally random restarts;
- the LOWER bound: the dual certificate (:func:`certify_vector`) at the best
  network's residual and at the relaxation's residual, whichever is larger:
  rigorous (``kind="certified"``) only with an exact cell set verified
  against the problem (the relaxation is the signed nuclear-norm one or its
  doubly nonnegative lift, see :mod:`cvxcnn.vector.relaxation`); the
  relaxation's own value is reported beside it
  (``relaxation_value``: a lower bound up to the solver's tolerance with
  every cell; never the certified end).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.certificates import (
    CERTIFIED,
    ESTIMATED,
    TIGHT_CLARABEL,
    gap_fields,
    guard_certified,
)
from cvxcnn.problem import PatchProblem
from cvxcnn.results import Result, omitted
from cvxcnn.solve import SolverSettings, resolve_solver
from cvxcnn.validation import check_choice, check_positive, check_positive_int
from cvxcnn.vector.certificate import VectorCertificate, certify_vector
from cvxcnn.vector.network import VectorReluNetwork, vector_objective
from cvxcnn.vector.problem import vector_problem
from cvxcnn.vector.relaxation import RelaxationResult, relaxed_prediction, solve_relaxation
from cvxcnn.vector.restarts import polish_vector, vector_restarts
from cvxcnn.vector.separable import ScalarUpperResult, fit_principal, fit_separable


@dataclass
class VectorFitResult(Result):
    """Bracket on the optimum of a vector-output two-layer ReLU CNN.

    Attributes
    ----------
    upper : float
        Best network's objective (float64 evaluator).
    lower : float
        Dual lower bound (``certify=True``), else the relaxation's value
        (``kind="estimated"``), else NaN.
    gap, relative_gap : float
    kind : {"certified", "estimated", "failed"}
        ``"certified"`` only for the dual bound over an exact, verified cell set.
    upper_source, lower_source : str
    candidates : dict of str to float
        Objective of every candidate network.
    relaxation_value : float
        The nuclear-norm relaxation's value (NaN when not run or failed; see
        ``relaxation_status``). Never the certified end: the dual bound at
        the relaxation's residual is (it equals this value up to the
        solver's tolerance, see docs/vector_output.md).
    relaxation_status, relaxation_form : str or None
    relaxation_rank_one : bool or None
        Every active block rank one (the relaxation is attained: tight).
    separable_value : float
        The separable networks' objective (channel by channel scalar optima).
    beta : float
    n, d, channels, n_cells : int
    exact_cells : bool
        The cells are an exact set verified against ``Y``.
    certificate : dict
        The :class:`VectorCertificate` summary (oracle bracket, evaluations...).
    timings : dict of str to float
        Seconds per stage (``separable``, ``principal``, ``relaxation``,
        ``polish``, ``restarts``, ``certificate``, ``total``).
    message : str
    network : VectorReluNetwork
    relaxation : RelaxationResult or None
    separable : ScalarUpperResult
    """

    upper: float
    lower: float
    gap: float
    relative_gap: float
    kind: str
    upper_source: str
    lower_source: str
    candidates: dict
    relaxation_value: float
    relaxation_status: str | None
    relaxation_form: str | None
    relaxation_rank_one: bool | None
    separable_value: float
    beta: float
    n: int
    d: int
    channels: int
    n_cells: int
    exact_cells: bool
    certificate: dict
    timings: dict
    message: str = ""
    network: VectorReluNetwork | None = omitted(default=None, repr=False)
    relaxation: RelaxationResult | None = omitted(default=None, repr=False)
    separable: ScalarUpperResult | None = omitted(default=None, repr=False)

    def __post_init__(self) -> None:
        guard_certified(self.kind, self.upper, self.lower, "the vector bracket")

    @property
    def certified(self) -> bool:
        return self.kind == CERTIFIED


def _default_settings(settings: SolverSettings | None) -> SolverSettings:
    """Clarabel with the certificate's tight tolerances unless told otherwise."""
    if settings is not None:
        return settings
    return SolverSettings(solver_options=dict(TIGHT_CLARABEL))


#: ``relaxation=True`` uses the lifted (doubly nonnegative) form up to this many
#: patch rows (``(n + c)^2`` entrywise rows per block), the nuclear form beyond.
DNN_MAX_ROWS = 32


def relaxation_form(relaxation: bool | str, n: int) -> str:
    """The relaxation form ``fit_vector(relaxation=...)`` solves (True: by size)."""
    if relaxation is True:
        return "dnn" if n <= DNN_MAX_ROWS else "nuclear"
    return str(check_choice(relaxation, "relaxation", (True, False, "nuclear", "dnn")))


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return out


def _upper_candidates(vp, cells, beta, settings, relaxation, timer, polish, restarts):
    """Every candidate network by name, and the separable/relaxation results."""
    separable = timer.run("separable", fit_separable, vp, cells, beta=beta, settings=settings)
    networks = {"separable": separable.network}
    if vp.channels > 1:
        principal = timer.run("principal", fit_principal, vp, cells, beta=beta, settings=settings)
        networks["principal"] = principal.network
    relax = None
    if relaxation:
        relax = timer.run(
            "relaxation", solve_relaxation, vp, cells, beta=beta, settings=settings,
            form=relaxation_form(relaxation, vp.n),
        )  # fmt: skip
        if relax.network is not None and relax.network.n_neurons:
            networks["relaxation"] = relax.network
    if polish:
        for name in list(networks):
            networks[f"{name}+polish"] = timer.run(
                "polish", polish_vector, networks[name], vp, beta=beta
            )
    if restarts is not None:
        n_restarts, random_state = restarts
        width = max(vp.n_out + 1, separable.neurons, 1)
        res = timer.run(
            "restarts", vector_restarts, vp, n_neurons=width, beta=beta,
            n_restarts=n_restarts, random_state=random_state,
        )  # fmt: skip
        networks["restarts"] = res.best_network
    return networks, separable, relax


def fit_vector(
    problem: PatchProblem,
    cells: object,
    X: object,
    *,
    beta: float,
    settings: SolverSettings | None = None,
    relaxation: bool | str = True,
    certify: bool = True,
    polish: bool = True,
    n_restarts: int = 0,
    random_state: int | None = 0,
    oracle_options: dict | None = None,
    max_evaluations: int = 400,
) -> VectorFitResult:
    """Bracket the optimum of the vector-output problem over ``cells``; return the best network.

    Parameters
    ----------
    problem : PatchProblem
        Its patch matrix ``Y`` (n, d) and readout ``R`` are used (its scalar
        target is not).
    cells : PatternSet or ndarray of shape (P, n), bool
        ReLU cells shared by every program and the oracle; an exact set
        (``make_cells(Y, "exact")``) makes the bracket a certificate.
    X : array_like of shape (n_out, c)
        Targets, one column per output channel.
    beta : float
        Weight decay, > 0.
    settings : SolverSettings, optional
        Solver settings of the convex programs (default: Clarabel with
        :data:`cvxcnn.certificates.TIGHT_CLARABEL`).
    relaxation : bool or {"nuclear", "dnn"}
        Solve a relaxation (an SDP with ``P 2^c`` blocks): ``"nuclear"``
        (signed nuclear norms), ``"dnn"`` (lifted, tighter, ``(n + c)^2``
        entrywise rows per block); True: ``"dnn"`` for ``n <=``
        :data:`DNN_MAX_ROWS`, ``"nuclear"`` beyond; False: none.
    certify : bool
        Compute the dual certificate (the rigorous lower end).
    polish : bool
        L-BFGS-B from every candidate network.
    n_restarts : int
        Random restarts of the non-convex problem added to the candidates.
    random_state : int or None
    oracle_options : dict, optional
        Scalar oracle options (``method``).
    max_evaluations : int
        Scalar oracle calls per dual direction (c = 2, 3).

    Returns
    -------
    VectorFitResult
    """
    start = time.perf_counter()
    beta = check_positive(beta, "beta")
    vp = vector_problem(problem, X)
    relu = get_activation("relu")
    cells = relu.check_cells(cells, vp.n)
    settings = _default_settings(settings)
    resolve_solver(settings.solver)
    restarts = None
    if n_restarts:
        restarts = (check_positive_int(n_restarts, "n_restarts"), random_state)
    timer = _Timer()
    networks, separable, relax = _upper_candidates(
        vp, cells, beta, settings, relaxation, timer, polish, restarts
    )
    candidates = {name: vector_objective(net, vp, beta) for name, net in networks.items()}
    upper_source = min(candidates, key=candidates.get)
    network, upper = networks[upper_source], candidates[upper_source]
    relax_ok = relax is not None and relax.status in ("optimal", "optimal_inaccurate")
    relax_value = relax.value if relax_ok else math.nan
    exact = relu.verify_exact(cells, vp.Y)
    cert = None
    if certify:
        directions = _relaxation_direction(vp, cells, relax if relax_ok else None)
        cert = timer.run(
            "certificate", certify_vector, network, vp, cells, beta=beta, directions=directions,
            oracle_options=oracle_options, max_evaluations=max_evaluations,
        )  # fmt: skip
    lower, lower_source, kind, message = _lower_end(cert, relax_value, exact)
    timer.seconds["total"] = time.perf_counter() - start
    return VectorFitResult(
        upper=upper, lower=lower, **gap_fields(upper, lower),
        kind=kind, upper_source=upper_source, lower_source=lower_source,
        candidates=candidates, relaxation_value=relax_value,
        relaxation_status=None if relax is None else relax.status,
        relaxation_form=None if relax is None else relax.form,
        relaxation_rank_one=relax.rank_one if relax_ok else None,
        separable_value=separable.objective, beta=beta, n=vp.n, d=vp.d,
        channels=vp.channels, n_cells=len(cells), exact_cells=exact,
        certificate={} if cert is None else cert.to_dict(),
        timings=timer.seconds, message=message, network=network,
        relaxation=relax, separable=separable,
    )  # fmt: skip


def _relaxation_direction(vp, cells, relax: RelaxationResult | None) -> dict:
    """``{"relaxation": X - R f_relaxed}`` (a dual direction; any direction gives a valid bound)."""
    if relax is None or relax.blocks_value is None:
        return {}
    masks = np.asarray(getattr(cells, "masks", cells), dtype=bool)
    return {"relaxation": vp.target - relaxed_prediction(relax.blocks_value, masks, vp)}


def _lower_end(
    cert: VectorCertificate | None, relax_value: float, exact: bool
) -> tuple[float, str, str, str]:
    """(lower, source, kind, message): the certificate's bound, else the relaxation's estimate."""
    if cert is not None:
        return cert.lower_bound, f"dual:{cert.direction}", cert.certificate, cert.message
    if math.isfinite(relax_value):
        why = "relaxation value (solver tolerance; not certified: certify=False)"
        if not exact:
            why = "relaxation over sampled cells: bounds nothing (estimate only)"
        return relax_value, "relaxation", ESTIMATED, why
    return math.nan, "none", ESTIMATED, "no lower bound computed (certify=False, relaxation off)"
