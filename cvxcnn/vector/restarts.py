"""Local optimization of the non-convex vector problem (the independent reference).

L-BFGS-B on ``P(U, W)`` with the analytic gradient, from random starts
(:func:`vector_restarts`) or from a given network (:func:`polish_vector`).
For ``c = 1`` the value and gradient equal the scalar ones of
:func:`cvxcnn.nonconvex.primal_value_and_grad` (checked by the tests). Every
reported value is re-evaluated by :func:`cvxcnn.vector.network.vector_objective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from cvxcnn.nonconvex import (
    RestartResult,
    best_of_restarts,
    keep_better,
    lbfgs_options,
)
from cvxcnn.validation import check_positive, check_positive_int, check_random_state
from cvxcnn.vector.network import VectorReluNetwork, vector_objective
from cvxcnn.vector.problem import VectorProblem

__all__ = [
    "VectorRestartResult",
    "polish_vector",
    "vector_restarts",
    "vector_value_and_grad",
]


def vector_value_and_grad(
    params: np.ndarray, problem: VectorProblem, beta: float, m: int
) -> tuple[float, np.ndarray]:
    """``P(U, W)`` and its gradient for ``params = [U.ravel(), W.ravel()]``.

    Parameters
    ----------
    params : ndarray of shape (d m + m c,)
        ``U`` (d, m) and ``W`` (m, c), row-major.
    problem : VectorProblem
    beta : float
    m : int
        Number of neurons.

    Returns
    -------
    (float, ndarray of shape (d m + m c,))
    """
    d, c = problem.d, problem.channels
    U = params[: d * m].reshape(d, m)
    W = params[d * m :].reshape(m, c)
    pre = problem.Y @ U  # (n, m)
    hidden = np.maximum(pre, 0.0)
    residual = problem.readout.apply(hidden @ W) - problem.target  # (n_out, c)
    value = 0.5 * float(np.sum(residual**2)) + 0.5 * beta * float(params @ params)
    G = problem.readout.adjoint(residual)  # (n, c)
    grad_W = hidden.T @ G + beta * W
    back = (pre > 0) * (G @ W.T)  # (n, m)
    grad_U = problem.Y.T @ back + beta * U
    return value, np.concatenate([grad_U.ravel(), grad_W.ravel()])


def _local_minimum(
    x0: np.ndarray, problem: VectorProblem, beta: float, m: int, max_iter: int
) -> VectorReluNetwork:
    # one BLAS thread: L-BFGS-B's small dense products were measured 50x slower
    # (5.5 s vs 0.11 s for 264 iterations) with threaded BLAS on a busy 2-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        res = _minimize(x0, problem, beta, m, max_iter)
    d = problem.d
    return VectorReluNetwork(res.x[: d * m].reshape(d, m), res.x[d * m :].reshape(m, -1))


def _minimize(x0, problem, beta, m, max_iter):
    return minimize(
        vector_value_and_grad,
        x0,
        args=(problem, beta, m),
        jac=True,
        method="L-BFGS-B",
        options=lbfgs_options(max_iter),
    )


@dataclass
class VectorRestartResult(RestartResult):
    """Random restarts of the vector problem (:class:`cvxcnn.nonconvex.RestartResult`'s fields).

    ``objectives`` are evaluated by :func:`vector_objective` and
    ``best_network`` is a :class:`VectorReluNetwork`.
    """


def vector_restarts(
    problem: VectorProblem,
    *,
    n_neurons: int,
    beta: float,
    n_restarts: int = 20,
    init_scale: float = 1.0,
    max_iter: int = 5000,
    random_state: int | np.random.Generator | None = 0,
) -> VectorRestartResult:
    """Minimize ``P(U, W)`` from random starts with L-BFGS-B.

    The reference for the vector problem (DESIGN.md section 13), as
    :func:`cvxcnn.nonconvex.random_restarts` is for scalar outputs: ``best``
    is a local minimum, an UPPER bound on the vector optimum that the separable
    bound and the certificate's bracket are checked against; it certifies
    nothing. Cost: ``n_restarts`` serial L-BFGS-B runs of at most ``max_iter``
    iterations, each O(n m (d + c)), with one BLAS thread (threaded BLAS was
    measured 50x slower on these small products).

    Parameters
    ----------
    problem : VectorProblem
    n_neurons, beta, n_restarts, max_iter, random_state
        As for :func:`cvxcnn.nonconvex.random_restarts` (hidden width, weight
        decay, number of starts, L-BFGS-B iterations per start, seed).
    init_scale : float
        ``U ~ N(0, init_scale^2 / d)``, ``W ~ N(0, init_scale^2 / c)``.

    Returns
    -------
    VectorRestartResult
    """
    beta = check_positive(beta, "beta")
    m = check_positive_int(n_neurons, "n_neurons")
    n_restarts = check_positive_int(n_restarts, "n_restarts")
    rng = check_random_state(random_state)
    d, c = problem.d, problem.channels

    def run() -> VectorReluNetwork:
        U0 = rng.normal(0.0, init_scale / np.sqrt(d), (d, m))
        W0 = rng.normal(0.0, init_scale / np.sqrt(c), (m, c))
        x0 = np.concatenate([U0.ravel(), W0.ravel()])
        return _local_minimum(x0, problem, beta, m, max_iter)

    objectives, best, network = best_of_restarts(
        n_restarts, run, lambda net: vector_objective(net, problem, beta)
    )
    return VectorRestartResult(objectives=objectives, best=best, best_network=network)


def polish_vector(
    network: VectorReluNetwork, problem: VectorProblem, *, beta: float, max_iter: int = 5000
) -> VectorReluNetwork:
    """L-BFGS-B on ``P`` from ``network``; the better of the start and the local optimum."""
    beta = check_positive(beta, "beta")
    m = network.n_neurons
    if m == 0:
        return network
    x0 = np.concatenate([network.U.ravel(), network.W.ravel()])
    polished = _local_minimum(x0, problem, beta, m, max_iter)
    return keep_better(network, polished, lambda net: vector_objective(net, problem, beta))
