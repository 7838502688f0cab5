"""Local optimization of the non-convex soft-threshold problem (the reference check).

``P(U, t, v) = L(R tau_t(Y U^T) v, x) + beta/2 (||U||^2 + ||v||^2)``, thresholds
either learnable (``t >= 0`` through L-BFGS-B bounds, not penalized) or fixed
at ``lambda``. The one L-BFGS-B driver of :mod:`cvxcnn.nonconvex` does the
work (:func:`cvxcnn.nonconvex.random_restarts` with
``activation="soft_threshold"``); these are its soft-threshold names.
"""

from __future__ import annotations

from cvxcnn.nonconvex import RestartResult, polish_network, random_restarts, st_value_and_grad
from cvxcnn.problem import PatchProblem
from cvxcnn.soft_threshold.network import STNetwork

__all__ = ["polish_st_network", "st_random_restarts", "st_value_and_grad"]


def polish_st_network(network: STNetwork, problem: PatchProblem, **options: object) -> STNetwork:
    """:func:`cvxcnn.nonconvex.polish_network` for an :class:`STNetwork` (never worse).

    Parameters
    ----------
    network : STNetwork
        Starting point, ``m`` neurons on ``d``-dimensional patches.
    problem : PatchProblem
    **options
        ``beta`` (required), ``threshold`` (fixed ``lambda``; None: learn the
        thresholds), ``loss``, ``max_iter``: see :func:`cvxcnn.nonconvex.polish_network`.

    Returns
    -------
    STNetwork
        The better of the start and the local optimum (shared evaluator).
    """
    if not isinstance(network, STNetwork):
        raise TypeError(f"network must be an STNetwork; got {type(network).__name__}")
    return polish_network(network, problem, **options)


def st_random_restarts(problem: PatchProblem, **options: object) -> RestartResult:
    """:func:`cvxcnn.nonconvex.random_restarts` with ``activation="soft_threshold"``.

    Parameters
    ----------
    problem : PatchProblem
    **options
        ``n_neurons`` and ``beta`` (required), ``threshold`` (fixed ``lambda > 0``,
        Xiong et al.'s network; None: learnable thresholds ``t >= 0``, DESIGN
        6a), ``loss``, ``n_restarts``, ``init_scale``, ``max_iter``,
        ``random_state``: see :func:`cvxcnn.nonconvex.random_restarts`.

    Returns
    -------
    cvxcnn.nonconvex.RestartResult
        ``objectives`` (n_restarts,) from the shared evaluator, the best one
        and its :class:`STNetwork`.
    """
    return random_restarts(problem, activation="soft_threshold", **options)
