"""The fixed-threshold bracket (DESIGN.md section 6b).

Fixing every threshold at ``lambda`` (Xiong et al.'s network) is a special
case of learnable thresholds, so

    lower = optimum of program 6a          <=  fixed-lambda optimum  <=  upper,

where ``upper`` is the best fixed-lambda network at hand, evaluated by the
shared float64 evaluator:

- ``"rescaled"``: each neuron of the 6a network moved to threshold
  ``lambda`` by ``u -> e u``, ``v -> v / e``, ``e = lambda / t`` (the same
  function, a larger penalty). Neurons with ``t = 0`` are linear and cannot
  be rescaled to ``lambda > 0``: they are DROPPED (the function changes;
  the value is still that of the network actually evaluated);
- ``"rescaled-keep"``: (only when such neurons exist) they are kept with
  their ``(u, v)`` and threshold ``lambda``;
- ``"... +polish"``: L-BFGS-B on the fixed-lambda objective from each of the
  above (``polish=True``);
- ``"restarts"``: best of ``n_restarts`` random restarts at fixed lambda;
- ``"given[i]"``: networks handed in (thresholds must all equal ``lambda``).

``lower`` is the dual bound of :func:`cvxcnn.certificates.certify` at the 6a
network (not the solver's objective, which can sit above the true optimum
by the solver's tolerance); it is CERTIFIED only when the triples are every
cell, verified against this problem, and the solver reported ``optimal``;
with sampled triples the 6a value is an upper bound on the
learnable-threshold optimum and so bounds nothing about the fixed-lambda
optimum: ``lower_kind`` then says ``"estimate"``. Optionally (``certify=True``)
the dual certificate of :func:`cvxcnn.certificates.certify`
evaluated at the best fixed-lambda network adds a second, solver-independent
lower bound (``dual_lower``), certified under the same condition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvxcnn.certificates import Certificate, gap_fields, guard_certified
from cvxcnn.certificates import certify as dual_certificate
from cvxcnn.facets import FacetReduction
from cvxcnn.fitting import fit_st
from cvxcnn.losses import Loss, check_objective
from cvxcnn.networks import primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.results import Result, omitted
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.soft_threshold.programs import STFitResult
from cvxcnn.soft_threshold.restarts import polish_st_network, st_random_restarts
from cvxcnn.soft_threshold.triples import TripleSet
from cvxcnn.solve import DEFAULT_SOLVER
from cvxcnn.validation import check_positive

CERTIFIED = "certified"
ESTIMATE = "estimate"


@dataclass
class Bracket(Result):
    """Lower and upper bound on the fixed-threshold optimum.

    Attributes
    ----------
    threshold : float
        ``lambda``.
    lower : float
        Rigorous dual lower bound on the learnable-threshold optimum (program
        6a), from :func:`cvxcnn.certificates.certify` at the 6a network: within
        the certificate's gap of the 6a optimum, never above it.
    lower_kind : {"certified", "estimate"}
        ``"certified"`` only with an exact triple set verified against this
        problem and an optimal solve.
    upper : float
        Best fixed-lambda network value (shared evaluator).
    upper_source : str
        Which candidate gave ``upper``.
    gap, relative_gap : float
        ``upper - lower`` and ``gap / |upper|``.
    candidates : dict of str to float
        Every fixed-lambda network's value.
    zero_threshold_neurons : int
        Neurons of the 6a network with threshold 0 (linear), which the
        rescaling cannot move to ``lambda`` (dropped in ``"rescaled"``).
    dual_lower : float or None
        Dual certificate's lower bound at the best network (``certify=True``).
    dual_kind : str or None
        ``"certified"`` / ``"estimated"`` for ``dual_lower``.
    beta : float
    loss : str
    network : STNetwork
        The best fixed-lambda network.
    fit : STFitResult
        The 6a solve behind ``lower``.
    """

    threshold: float
    lower: float
    lower_kind: str
    upper: float
    upper_source: str
    gap: float
    relative_gap: float
    candidates: dict
    zero_threshold_neurons: int
    beta: float
    loss: str
    dual_lower: float | None = None
    dual_kind: str | None = None
    network: STNetwork | None = omitted(default=None, repr=False)
    fit: STFitResult | None = omitted(default=None, repr=False)

    @property
    def certified(self) -> bool:
        return self.lower_kind == CERTIFIED

    def __post_init__(self) -> None:
        guard_certified(self.lower_kind, self.upper, self.lower, "the bracket")


def _check_given(networks: Sequence[STNetwork], threshold: float) -> list[STNetwork]:
    out = []
    for i, net in enumerate(networks):
        if not isinstance(net, STNetwork):
            raise TypeError(f"networks[{i}] must be an STNetwork; got {type(net).__name__}")
        if not np.allclose(net.thresholds, threshold, rtol=1e-12, atol=0.0):
            raise ValueError(
                f"networks[{i}] has thresholds {np.unique(net.thresholds)[:5]}, not all equal to "
                f"threshold={threshold}: it is not a fixed-threshold network"
            )
        out.append(net)
    return out


def fixed_threshold_bracket(
    problem: PatchProblem,
    triples: TripleSet,
    threshold: float,
    *,
    beta: float,
    loss: str | Loss = "squared",
    fit: STFitResult | None = None,
    networks: Sequence[STNetwork] = (),
    polish: bool = True,
    n_restarts: int = 0,
    n_neurons: int | None = None,
    certify: bool = False,
    solver: str = DEFAULT_SOLVER,
    solver_options: dict | None = None,
    canon_backend: str | None = None,
    random_state: int | np.random.Generator | None = 0,
    max_iter: int = 2000,
    facets: str | FacetReduction | None = "auto",
) -> Bracket:
    """Bracket the optimum of the fixed-threshold ST network (DESIGN 6b).

    Parameters
    ----------
    problem : PatchProblem
    triples : TripleSet
        Triples for program 6a (exact for a certified lower bound).
    threshold : float
        ``lambda > 0``.
    beta : float
    loss : str or Loss
    fit : STFitResult, optional
        A solved 6a result for these ``problem``/``triples``/``beta`` (solved here if omitted).
    networks : sequence of STNetwork
        Further fixed-lambda networks (e.g. trained ones) for the upper bound.
    polish : bool
        Run L-BFGS-B at fixed ``lambda`` from the rescaled networks.
    n_restarts : int
        Random restarts at fixed ``lambda`` (0: none).
    n_neurons : int, optional
        Width of the restarts (default: neurons of the 6a network, at least 1).
    certify : bool
        Also compute the dual certificate at the best network (``dual_lower``).
    solver, solver_options, canon_backend
        For the 6a solve and the certificate's oracle.
    random_state : int, Generator or None
        Seeds the restarts.
    max_iter : int
        L-BFGS-B iterations (polish and restarts).
    facets : {"auto", "off", "hull", "lp"} or FacetReduction
        Facet reduction of the 6a solve (see :func:`fit_st`; unused when ``fit`` is given).

    Returns
    -------
    Bracket
    """
    lam = check_positive(threshold, "threshold")
    beta, loss = check_objective(beta, loss)
    given = _check_given(networks, lam)
    target = _FixedThreshold(problem, triples, lam, beta, loss, solver)
    if fit is None:
        fit = target.fit_6a(solver_options, canon_backend, facets)
    else:
        _check_fit(fit, target)
    lower, certified = target.lower_bound(fit)
    nets, zero = _upper_candidates(
        target, fit, given, polish, n_restarts, n_neurons, random_state, max_iter
    )
    candidates = {name: target.value(net) for name, net in nets.items()}
    source = min(candidates, key=candidates.get)
    dual_lower = dual_kind = None
    if certify:
        cert = target.certify(nets[source])
        dual_lower, dual_kind = cert.lower_bound, cert.certificate
    upper = candidates[source]
    return Bracket(
        threshold=lam,
        lower=lower,
        lower_kind=CERTIFIED if certified else ESTIMATE,
        upper=upper,
        upper_source=source,
        **gap_fields(upper, lower),
        candidates=candidates,
        zero_threshold_neurons=zero,
        beta=beta,
        loss=loss.name,
        dual_lower=dual_lower,
        dual_kind=dual_kind,
        network=nets[source],
        fit=fit,
    )


@dataclass(frozen=True)
class _FixedThreshold:
    """The bracketed problem: data, triples, ``lambda``, ``beta``, loss and the solver."""

    data: PatchProblem
    triples: TripleSet
    threshold: float
    beta: float
    loss: Loss
    solver: str

    def objective(self) -> dict:
        """``beta``, ``threshold`` and ``loss``: the fixed-``lambda`` objective, as keywords."""
        return {"beta": self.beta, "threshold": self.threshold, "loss": self.loss}

    def fit_6a(
        self,
        solver_options: dict | None,
        canon_backend: str | None,
        facets: str | FacetReduction | None,
    ) -> STFitResult:
        """Solve program 6a on these triples."""
        return fit_st(
            self.data,
            self.triples,
            beta=self.beta,
            loss=self.loss,
            solver=self.solver,
            solver_options=solver_options,
            canon_backend=canon_backend,
            facets=facets,
        )

    def certify(self, network: STNetwork) -> Certificate:
        """The dual certificate of :func:`cvxcnn.certificates.certify` at ``network``."""
        return dual_certificate(
            network,
            self.data,
            self.triples,
            beta=self.beta,
            loss=self.loss,
            oracle_options={"solver": self.solver},
        )

    def lower_bound(self, fit: STFitResult) -> tuple[float, bool]:
        """The rigorous dual bound at the 6a network (not the solver's objective), certified?"""
        if fit.network is None:
            return float("nan"), False
        learnable = self.certify(fit.network)
        return learnable.lower_bound, bool(fit.success and learnable.certified)

    def value(self, network: STNetwork) -> float:
        """``network``'s objective by the shared float64 evaluator."""
        return primal_objective(network, self.data, self.beta, self.loss)


def _check_fit(fit: STFitResult, target: _FixedThreshold) -> None:
    """ValueError unless ``fit`` is a 6a solve of these triples at this ``beta``."""
    triples = target.triples
    if fit.form != "exact":
        raise ValueError(f"fit must be a 6a ('exact' form) result; got form {fit.form!r}")
    if not math.isclose(fit.beta, target.beta, rel_tol=1e-12):
        raise ValueError(f"fit was solved at beta={fit.beta}, not beta={target.beta}")
    if fit.n_patterns != triples.n_triples or fit.triples_exact != triples.exact:
        raise ValueError(
            f"fit was solved with {fit.n_patterns} triples (exact={fit.triples_exact}), but "
            f"triples has {triples.n_triples} (exact={triples.exact}): pass the same set"
        )


def _rescaled_networks(
    target: _FixedThreshold, fit: STFitResult, polish: bool, max_iter: int
) -> tuple[dict[str, STNetwork], int]:
    """The 6a network moved to ``lambda`` (and polished); the count of ``t = 0`` neurons."""
    nets: dict[str, STNetwork] = {}
    if fit.network is None:
        return nets, 0
    lam = target.threshold
    nets["rescaled"], zero = fit.network.with_threshold(lam, zero_threshold="drop")
    if zero:
        nets["rescaled-keep"], _ = fit.network.with_threshold(lam, zero_threshold="keep")
    if polish:
        for name in list(nets):
            nets[f"{name}+polish"] = polish_st_network(
                nets[name], target.data, max_iter=max_iter, **target.objective()
            )
    return nets, zero


def _upper_candidates(
    target: _FixedThreshold,
    fit: STFitResult,
    given: list[STNetwork],
    polish: bool,
    n_restarts: int,
    n_neurons: int | None,
    random_state: int | np.random.Generator | None,
    max_iter: int,
) -> tuple[dict[str, STNetwork], int]:
    """Every fixed-``lambda`` network for the upper bound, by name; zero-threshold count."""
    nets, zero = _rescaled_networks(target, fit, polish, max_iter)
    if n_restarts:
        restarts = st_random_restarts(
            target.data,
            n_neurons=n_neurons or max(1, fit.neurons),
            n_restarts=n_restarts,
            max_iter=max_iter,
            random_state=random_state,
            **target.objective(),
        )
        nets["restarts"] = restarts.best_network
    for i, net in enumerate(given):
        nets[f"given[{i}]"] = net
    if not nets:  # failed solve and nothing handed in: the zero network is always feasible
        d = target.data.d
        nets["zero"] = STNetwork(U=np.zeros((0, d)), thresholds=np.zeros(0), v=np.zeros(0))
    return nets, zero
