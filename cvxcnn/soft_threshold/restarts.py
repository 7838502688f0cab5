"""Local optimization of the non-convex soft-threshold problem (the reference check).

``P(U, t, v) = L(R tau_t(Y U^T) v, x) + beta/2 (||U||^2 + ||v||^2)``, thresholds
either learnable (``t >= 0`` through L-BFGS-B bounds, not penalized) or fixed
at ``lambda``. SciPy's L-BFGS-B on the flattened weights with the analytic
(sub)gradient; every final value is re-evaluated by
:func:`cvxcnn.networks.primal_objective`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import primal_objective
from cvxcnn.nonconvex import RestartResult
from cvxcnn.problem import PatchProblem
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.validation import check_positive, check_positive_int, check_random_state

_LBFGS = {"ftol": 1e-15, "gtol": 1e-10}


def _unpack(
    params: np.ndarray, m: int, d: int, threshold: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    U = params[: m * d].reshape(m, d)
    if threshold is None:
        t = params[m * d : m * d + m]
        v = params[m * d + m :]
    else:
        t = np.full(m, threshold)
        v = params[m * d :]
    return U, t, v


def st_value_and_grad(
    params: np.ndarray,
    data: PatchProblem,
    beta: float,
    loss: Loss,
    m: int,
    threshold: float | None = None,
) -> tuple[float, np.ndarray]:
    """``P(U, t, v)`` and its gradient for flattened parameters.

    Parameters
    ----------
    params : ndarray
        ``[U.ravel(), t, v]`` of length ``m d + 2m`` (learnable thresholds,
        ``threshold=None``) or ``[U.ravel(), v]`` of length ``m d + m`` (fixed).
    data : PatchProblem
    beta : float
    loss : Loss
    m : int
        Number of neurons.
    threshold : float, optional
        Fixed ``lambda``; None for learnable thresholds.

    Returns
    -------
    (float, ndarray)
        Value and gradient (the subgradient 0 is used at the breakpoints ``|a| = t``).
    """
    d = data.d
    U, t, v = _unpack(params, m, d, threshold)
    pre = data.Y @ U.T  # (n, m)
    active = np.abs(pre) > t[None, :]
    sgn = np.sign(pre)
    hidden = np.where(active, pre - sgn * t[None, :], 0.0)
    prediction = data.readout.apply(hidden @ v)
    value = loss.value(prediction, data.target) + 0.5 * beta * (np.sum(U**2) + np.sum(v**2))
    g = data.readout.adjoint(loss.gradient(prediction, data.target))  # (n,)
    grad_v = hidden.T @ g + beta * v
    back = active * g[:, None] * v[None, :]  # d loss / d pre, (n, m)
    grad_U = back.T @ data.Y + beta * U
    parts = [grad_U.ravel()]
    if threshold is None:
        parts.append(-(back * sgn).sum(axis=0))
    parts.append(grad_v)
    return float(value), np.concatenate(parts)


def _pack(network: STNetwork, threshold: float | None) -> np.ndarray:
    parts = [network.U.ravel()]
    if threshold is None:
        parts.append(network.thresholds)
    parts.append(network.v)
    return np.concatenate(parts)


def _bounds(m: int, d: int, threshold: float | None) -> list[tuple[float | None, float | None]]:
    free: list[tuple[float | None, float | None]] = [(None, None)] * (m * d)
    if threshold is None:
        free = free + [(0.0, None)] * m
    return free + [(None, None)] * m


def polish_st_network(
    network: STNetwork,
    data: PatchProblem,
    *,
    beta: float,
    threshold: float | None = None,
    loss: str | Loss = "squared",
    max_iter: int = 5000,
) -> STNetwork:
    """Run L-BFGS-B on ``P`` from ``network`` (a local improvement, never worse).

    Parameters
    ----------
    network : STNetwork
        Starting point. With ``threshold`` given its thresholds are replaced by it.
    data : PatchProblem
    beta : float
    threshold : float, optional
        Keep every threshold fixed at ``lambda``; None: learn them (``t >= 0``).
    loss : str or Loss
    max_iter : int

    Returns
    -------
    STNetwork
        The better of the start and the local optimum (shared evaluator).
    """
    beta = check_positive(beta, "beta")
    loss = get_loss(loss)
    if threshold is not None:
        threshold = check_positive(threshold, "threshold")
        network = STNetwork(
            U=network.U, thresholds=np.full(network.n_neurons, threshold), v=network.v
        )
    m, d = network.n_neurons, network.d
    if m == 0:
        return network
    res = minimize(
        st_value_and_grad,
        _pack(network, threshold),
        args=(data, beta, loss, m, threshold),
        jac=True,
        method="L-BFGS-B",
        bounds=_bounds(m, d, threshold),
        options={"maxiter": max_iter, "maxfun": 2 * max_iter, **_LBFGS},
    )
    U, t, v = _unpack(res.x, m, d, threshold)
    polished = STNetwork(U=U, thresholds=np.maximum(t, 0.0), v=v)
    before = primal_objective(network, data, beta, loss)
    after = primal_objective(polished, data, beta, loss)
    return polished if after <= before else network


def st_random_restarts(
    data: PatchProblem,
    *,
    n_neurons: int,
    beta: float,
    threshold: float | None = None,
    loss: str | Loss = "squared",
    n_restarts: int = 20,
    init_scale: float = 1.0,
    max_iter: int = 5000,
    random_state: int | np.random.Generator | None = 0,
) -> RestartResult:
    """Minimize the non-convex ST objective from random initial points (L-BFGS-B).

    Parameters
    ----------
    data : PatchProblem
    n_neurons : int
        Hidden width ``m``.
    beta : float
    threshold : float, optional
        Fixed ``lambda > 0`` (Xiong et al.'s network); None: learnable
        thresholds ``t >= 0`` (DESIGN 6a), bounded below by L-BFGS-B.
    loss : str or Loss
        A differentiable loss is recommended.
    n_restarts : int
    init_scale : float
        ``U ~ N(0, init_scale^2 / d)``, ``v ~ N(0, init_scale^2)``; learnable
        thresholds start at ``Uniform(0, 1) * median_i |y_i^T u_j|`` (a
        random share of the rows in the dead zone).
    max_iter : int
    random_state : int, Generator or None

    Returns
    -------
    cvxcnn.nonconvex.RestartResult
        ``objectives`` (n_restarts,) from the shared evaluator, the best one
        and its :class:`STNetwork`.
    """
    beta = check_positive(beta, "beta")
    m = check_positive_int(n_neurons, "n_neurons")
    n_restarts = check_positive_int(n_restarts, "n_restarts")
    if threshold is not None:
        threshold = check_positive(threshold, "threshold")
    loss = get_loss(loss)
    rng = check_random_state(random_state)
    d = data.d
    objectives = np.empty(n_restarts)
    best_network, best = None, np.inf
    for k in range(n_restarts):
        U0 = rng.normal(0.0, init_scale / np.sqrt(d), (m, d))
        v0 = rng.normal(0.0, init_scale, m)
        if threshold is None:
            t0 = rng.random(m) * np.median(np.abs(data.Y @ U0.T), axis=0)
        else:
            t0 = np.full(m, threshold)
        res = minimize(
            st_value_and_grad,
            _pack(STNetwork(U=U0, thresholds=t0, v=v0), threshold),
            args=(data, beta, loss, m, threshold),
            jac=True,
            method="L-BFGS-B",
            bounds=_bounds(m, d, threshold),
            options={"maxiter": max_iter, "maxfun": 2 * max_iter, **_LBFGS},
        )
        U, t, v = _unpack(res.x, m, d, threshold)
        network = STNetwork(U=U, thresholds=np.maximum(t, 0.0), v=v)
        objectives[k] = primal_objective(network, data, beta, loss)
        if objectives[k] < best:
            best, best_network = objectives[k], network
    return RestartResult(objectives=objectives, best=float(best), best_network=best_network)
