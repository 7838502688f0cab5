"""Local optimization of the non-convex primal problem (the reference check).

The convex program claims a global optimum; many random restarts of a local
optimizer on ``P(U, v)`` are the independent check that nothing goes below
it. This uses SciPy's L-BFGS-B on the flattened weights with the analytic
gradient (the PyTorch trainer in :mod:`cvxcnn.primal` is the full baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import check_positive, check_positive_int, check_random_state


def primal_value_and_grad(
    params: np.ndarray, data: PatchProblem, beta: float, loss: Loss, m: int
) -> tuple[float, np.ndarray]:
    """``P(U, v)`` and its gradient for flattened ``params = [U.ravel(), v]``.

    Parameters
    ----------
    params : ndarray of shape (m * d + m,)
    data : PatchProblem
    beta : float
    loss : Loss
    m : int
        Number of neurons.
    """
    d = data.d
    U = params[: m * d].reshape(m, d)
    v = params[m * d :]
    pre = data.Y @ U.T  # (n, m)
    hidden = np.maximum(pre, 0.0)
    prediction = data.readout.apply(hidden @ v)
    value = loss.value(prediction, data.target) + 0.5 * beta * (params @ params)
    g = data.readout.adjoint(loss.gradient(prediction, data.target))  # (n,)
    grad_v = hidden.T @ g + beta * v
    grad_U = ((pre > 0) * g[:, None] * v[None, :]).T @ data.Y + beta * U
    return value, np.concatenate([grad_U.ravel(), grad_v])


@dataclass
class RestartResult:
    """Outcome of random restarts of the non-convex problem.

    Attributes
    ----------
    objectives : ndarray of shape (n_restarts,)
        Final ``P(U, v)`` of each restart (shared evaluator).
    best : float
    best_network : ReluNetwork
    """

    objectives: np.ndarray
    best: float
    best_network: ReluNetwork = field(repr=False)


def random_restarts(
    data: PatchProblem,
    *,
    n_neurons: int,
    beta: float,
    loss: str | Loss = "squared",
    n_restarts: int = 20,
    init_scale: float = 1.0,
    max_iter: int = 5000,
    random_state: int | np.random.Generator | None = 0,
) -> RestartResult:
    """Minimize the non-convex ``P(U, v)`` from random initial points with L-BFGS-B.

    Parameters
    ----------
    data : PatchProblem
    n_neurons : int
        Hidden width ``m``.
    beta : float
    loss : str or Loss
        A differentiable loss is recommended (squared, huber, logistic).
    n_restarts : int
    init_scale : float
        Standard deviation of the Gaussian initial weights, divided by ``sqrt(d)`` for ``U``.
    max_iter : int
    random_state : int, Generator or None

    Returns
    -------
    RestartResult
    """
    beta = check_positive(beta, "beta")
    m = check_positive_int(n_neurons, "n_neurons")
    n_restarts = check_positive_int(n_restarts, "n_restarts")
    loss = get_loss(loss)
    rng = check_random_state(random_state)
    d = data.d
    objectives = np.empty(n_restarts)
    best_network, best = None, np.inf
    for k in range(n_restarts):
        x0 = np.concatenate(
            [rng.normal(0, init_scale / np.sqrt(d), m * d), rng.normal(0, init_scale, m)]
        )
        res = minimize(
            primal_value_and_grad,
            x0,
            args=(data, beta, loss, m),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "maxfun": 2 * max_iter, "ftol": 1e-15, "gtol": 1e-10},
        )
        network = ReluNetwork(res.x[: m * d].reshape(m, d), res.x[m * d :])
        objectives[k] = primal_objective(network, data, beta, loss)
        if objectives[k] < best:
            best, best_network = objectives[k], network
    return RestartResult(objectives=objectives, best=float(best), best_network=best_network)
