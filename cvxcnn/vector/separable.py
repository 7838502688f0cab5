"""Upper bounds from scalar programs: each neuron serves one output direction.

- :func:`fit_separable`: channel ``k``'s scalar program (:func:`cvxcnn.fit`,
  Sahiner et al. eq. 4) solved over the shared cells for each ``k``; its
  neurons get ``w = v e_k``. The vector objective of the stacked network is
  the SUM of the scalar objectives (the loss and the penalty both split by
  channel), so with every cell this is the optimum over networks whose
  neurons each serve one channel: an upper bound on the vector optimum.
- :func:`fit_principal`: the scalar program for ``X a`` with ``a`` the top
  right singular vector of ``X``, neurons ``w = v a``. Exact (equal to the
  vector optimum, with every cell) when the channels of ``X`` are
  proportional, ``X = x a^T``; an upper bound otherwise.

Both return feasible vector networks; their values come from
:func:`cvxcnn.vector.network.vector_objective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.fitting import fit
from cvxcnn.results import ConvexFitResult, Result, omitted
from cvxcnn.solve import SolverError, SolverSettings
from cvxcnn.vector.network import VectorReluNetwork, vector_objective
from cvxcnn.vector.problem import VectorProblem


def fit_options(settings: SolverSettings | None) -> dict:
    """:func:`cvxcnn.fit` keyword arguments from :class:`cvxcnn.solve.SolverSettings`."""
    s = settings or SolverSettings()
    return {
        "solver": s.solver,
        "solver_options": s.solver_options,
        "canon_backend": s.canon_backend,
        "backend": s.backend,
        "rtol": s.rtol,
    }


@dataclass
class ScalarUpperResult(Result):
    """A vector network assembled from scalar convex fits.

    Attributes
    ----------
    kind : {"separable", "principal"}
    objective : float
        ``P`` of ``network`` (float64 evaluator).
    program_objective : float
        Sum of the scalar programs' optima (equals ``objective`` up to the
        reconstruction tolerance).
    success : bool
        Every scalar solve reported ``optimal``.
    statuses : list of str
    seconds : float
        Solve time, all scalar fits together.
    neurons : int
    network : VectorReluNetwork
    fits : list of ConvexFitResult
    """

    kind: str
    objective: float
    program_objective: float
    success: bool
    statuses: list
    seconds: float
    neurons: int
    network: VectorReluNetwork = omitted(repr=False)
    fits: list = omitted(default_factory=list, repr=False)


def _scalar_fit(
    problem: VectorProblem, target: np.ndarray, cells: object, beta: float, settings, fit_kwargs
) -> ConvexFitResult:
    result = fit(problem.scalar(target), cells, beta=beta, **(fit_options(settings) | fit_kwargs))
    if result.network is None:
        raise SolverError(f"a scalar program of the vector problem failed: {result.status}")
    return result


def _seconds(result: ConvexFitResult) -> float:
    return result.solve.compile_seconds + result.solve.solve_seconds + result.build_seconds


def _assemble(kind, fits, network, problem, beta, program_objective) -> ScalarUpperResult:
    return ScalarUpperResult(
        kind=kind,
        objective=vector_objective(network, problem, beta),
        program_objective=float(program_objective),
        success=all(f.success for f in fits),
        statuses=[f.status for f in fits],
        seconds=sum(_seconds(f) for f in fits),
        neurons=network.n_neurons,
        network=network,
        fits=fits,
    )


def fit_separable(
    problem: VectorProblem,
    cells: object,
    *,
    beta: float,
    settings: SolverSettings | None = None,
    **fit_kwargs: object,
) -> ScalarUpperResult:
    """One scalar program per channel over the shared ``cells``; neurons ``w = v e_k``.

    DESIGN.md section 13 (a): when every neuron serves one channel the loss and
    the penalty split by channel, so channel ``k``'s scalar program (eq. 4 by
    :func:`cvxcnn.fit`, target ``X[:, k]``) is solved on its own and the
    stacked network's vector objective is the sum of the ``c`` scalar optima.
    That network is feasible: ``objective`` is an UPPER bound on the vector
    optimum, and the separable optimum itself only when ``cells`` is every
    cell. Cost: ``c`` scalar solves over the same cells. A channel whose
    program gives no network raises :class:`cvxcnn.solve.SolverError`; an
    inaccurate one leaves ``success`` False and its status in ``statuses``.

    Parameters
    ----------
    problem : VectorProblem
    cells : PatternSet or ndarray of shape (P, n), bool
    beta : float
    settings : SolverSettings, optional
    **fit_kwargs
        Further keyword arguments of :func:`cvxcnn.fit` (``facets``, ``strategy``,
        ...); they override ``settings``.

    Returns
    -------
    ScalarUpperResult
    """
    fits = [
        _scalar_fit(problem, problem.target[:, k], cells, beta, settings, fit_kwargs)
        for k in range(problem.channels)
    ]
    network = VectorReluNetwork.from_channels([f.network for f in fits])
    return _assemble("separable", fits, network, problem, beta, sum(f.objective for f in fits))


def fit_principal(
    problem: VectorProblem, cells: object, *, beta: float, settings: SolverSettings | None = None
) -> ScalarUpperResult:
    """The scalar program for ``X a`` (``a``: top right singular vector of ``X``); ``w = v a``.

    The vector objective is the scalar one plus ``1/2 ||X (I - a a^T)||_F^2``
    (the part of ``X`` orthogonal to ``a``, which the network cannot fit).
    """
    X = problem.target
    a = np.linalg.svd(X, full_matrices=False)[2][0]
    result = _scalar_fit(problem, X @ a, cells, beta, settings, {})
    net = result.network
    network = VectorReluNetwork(net.U.T, np.outer(net.v, a))
    rest = X - np.outer(X @ a, a)
    program = result.objective + 0.5 * float(np.sum(rest**2))
    return _assemble("principal", [result], network, problem, beta, program)
