"""Local optimization of the non-convex primal problem (the reference check).

The convex program claims a global optimum; many random restarts of a local
optimizer on ``P(U, v)`` are the independent check that nothing goes below
it. This uses SciPy's L-BFGS-B on the flattened weights with the analytic
gradient (the PyTorch trainer in :mod:`cvxcnn.primal` is the full baseline).

One driver serves every activation (:func:`random_restarts`,
:func:`polish_network`); what differs is the value-and-gradient function
(:func:`primal_value_and_grad` for ReLU, :func:`st_value_and_grad` for soft
thresholds) and the layout of the flattened parameters:

- ReLU: ``[U.ravel(), v]``;
- soft threshold, fixed ``lambda``: ``[U.ravel(), v]`` (every ``t_j = lambda``);
- soft threshold, learnable thresholds: ``[U.ravel(), t, v]`` with ``t >= 0``
  through L-BFGS-B bounds (thresholds are not penalized, DESIGN 6a).

Every final value is re-evaluated by :func:`cvxcnn.networks.primal_objective`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize

from cvxcnn.executor import map_calls
from cvxcnn.losses import Loss, check_objective
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import check_positive, check_positive_int, check_random_state

if TYPE_CHECKING:
    from cvxcnn.soft_threshold.network import STNetwork

    Network = ReluNetwork | STNetwork

__all__ = [
    "LBFGS_OPTIONS",
    "RestartResult",
    "best_of_restarts",
    "keep_better",
    "lbfgs_options",
    "polish_network",
    "primal_value_and_grad",
    "random_restarts",
    "st_value_and_grad",
]

#: L-BFGS-B tolerances (as tight as float64 allows: the restarts are a reference).
LBFGS_OPTIONS = {"ftol": 1e-15, "gtol": 1e-10}
_ALIASES = {"st": "soft_threshold", "soft-threshold": "soft_threshold"}


def _backprop(
    data: PatchProblem,
    beta: float,
    loss: Loss,
    U: np.ndarray,
    v: np.ndarray,
    hidden: np.ndarray,
    active: np.ndarray,
    sq_norm: float,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Value and gradients shared by every activation.

    Parameters
    ----------
    data : PatchProblem
    beta : float
    loss : Loss
    U : ndarray of shape (m, d)
    v : ndarray of shape (m,)
    hidden : ndarray of shape (n, m)
        ``act(Y U^T)``.
    active : ndarray of shape (n, m), bool
        Where the activation's derivative in the pre-activation is 1 (it is 0 elsewhere).
    sq_norm : float
        ``||U||^2 + ||v||^2``.

    Returns
    -------
    (value, grad_U, grad_v, back)
        ``P``, its gradients (m, d) and (m,), and ``back`` (n, m), the
        derivative of the loss in the pre-activations.
    """
    prediction = data.readout.apply(hidden @ v)
    value = loss.value(prediction, data.target) + 0.5 * beta * sq_norm
    g = data.readout.adjoint(loss.gradient(prediction, data.target))  # (n,)
    grad_v = hidden.T @ g + beta * v
    back = active * g[:, None] * v[None, :]  # d loss / d pre, (n, m)
    grad_U = back.T @ data.Y + beta * U
    return value, grad_U, grad_v, back


def primal_value_and_grad(
    params: np.ndarray, data: PatchProblem, beta: float, loss: Loss, m: int
) -> tuple[float, np.ndarray]:
    """ReLU ``P(U, v)`` and its gradient for flattened ``params = [U.ravel(), v]``.

    Parameters
    ----------
    params : ndarray of shape (m * d + m,)
    data : PatchProblem
    beta : float
    loss : Loss
    m : int
        Number of neurons.

    Returns
    -------
    (float, ndarray of shape (m * d + m,))
    """
    U, _, v = _unpack(params, m, data.d, learn_t=False)
    pre = data.Y @ U.T  # (n, m)
    value, grad_U, grad_v, _ = _backprop(
        data, beta, loss, U, v, np.maximum(pre, 0.0), pre > 0, params @ params
    )
    return value, np.concatenate([grad_U.ravel(), grad_v])


def st_value_and_grad(
    params: np.ndarray,
    data: PatchProblem,
    beta: float,
    loss: Loss,
    m: int,
    threshold: float | None = None,
) -> tuple[float, np.ndarray]:
    """Soft-threshold ``P(U, t, v)`` and its gradient for flattened parameters.

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
    U, t, v = _unpack(params, m, data.d, learn_t=threshold is None)
    if t is None:
        t = np.full(m, threshold)
    pre = data.Y @ U.T  # (n, m)
    active = np.abs(pre) > t[None, :]
    sgn = np.sign(pre)
    hidden = np.where(active, pre - sgn * t[None, :], 0.0)
    sq_norm = np.sum(U**2) + np.sum(v**2)
    value, grad_U, grad_v, back = _backprop(data, beta, loss, U, v, hidden, active, sq_norm)
    parts = [grad_U.ravel()]
    if threshold is None:
        parts.append(-(back * sgn).sum(axis=0))
    parts.append(grad_v)
    return float(value), np.concatenate(parts)


# --------------------------------------------------------------------------- #
# Parameter layouts and the one L-BFGS-B driver
# --------------------------------------------------------------------------- #


def _unpack(
    params: np.ndarray, m: int, d: int, *, learn_t: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``U`` (m, d), ``t`` (m,) or None, ``v`` (m,) from ``[U.ravel(), (t,) v]``."""
    U = params[: m * d].reshape(m, d)
    if not learn_t:
        return U, None, params[m * d :]
    return U, params[m * d : m * d + m], params[m * d + m :]


@dataclass(frozen=True)
class _Layout:
    """What the driver needs to know about one activation (and threshold mode)."""

    activation: str
    threshold: float | None

    @property
    def learn_t(self) -> bool:
        return self.activation == "soft_threshold" and self.threshold is None

    def fun_and_args(self, data: PatchProblem, beta: float, loss: Loss, m: int) -> tuple:
        if self.activation == "relu":
            return primal_value_and_grad, (data, beta, loss, m)
        return st_value_and_grad, (data, beta, loss, m, self.threshold)

    def bounds(self, m: int, d: int) -> list[tuple[float | None, float | None]] | None:
        if self.activation == "relu":
            return None
        free: list[tuple[float | None, float | None]] = [(None, None)] * (m * d)
        if self.learn_t:
            free = free + [(0.0, None)] * m
        return free + [(None, None)] * m

    def pack(self, U: np.ndarray, t: np.ndarray | None, v: np.ndarray) -> np.ndarray:
        return np.concatenate([U.ravel(), t, v] if self.learn_t else [U.ravel(), v])

    def network(self, params: np.ndarray, m: int, d: int) -> Network:
        U, t, v = _unpack(params, m, d, learn_t=self.learn_t)
        if self.activation == "relu":
            return ReluNetwork(U, v)
        from cvxcnn.soft_threshold.network import STNetwork

        t = np.full(m, self.threshold) if t is None else np.maximum(t, 0.0)
        return STNetwork(U=U, thresholds=t, v=v)


def _layout(activation: object, threshold: float | None) -> _Layout:
    name = str(getattr(activation, "name", activation))
    name = _ALIASES.get(name, name)
    if name not in ("relu", "soft_threshold"):
        raise ValueError(f"activation must be 'relu' or 'soft_threshold'; got {activation!r}")
    if threshold is not None:
        if name == "relu":
            raise ValueError("threshold applies to the soft-threshold activation only")
        threshold = check_positive(threshold, "threshold")
    return _Layout(name, threshold)


def _local_minimum(
    layout: _Layout,
    x0: np.ndarray,
    data: PatchProblem,
    beta: float,
    loss: Loss,
    m: int,
    max_iter: int,
) -> Network:
    """L-BFGS-B from the flattened ``x0``; the network at its final point."""
    fun, args = layout.fun_and_args(data, beta, loss, m)
    res = minimize(
        fun,
        x0,
        args=args,
        jac=True,
        method="L-BFGS-B",
        bounds=layout.bounds(m, data.d),
        options=lbfgs_options(max_iter),
    )
    return layout.network(res.x, m, data.d)


def lbfgs_options(max_iter: int) -> dict:
    """L-BFGS-B options: ``max_iter`` iterations, twice as many calls, :data:`LBFGS_OPTIONS`."""
    return {"maxiter": max_iter, "maxfun": 2 * max_iter, **LBFGS_OPTIONS}


def keep_better(start: object, candidate: object, objective: Callable[[object], float]) -> object:
    """``candidate`` unless ``start`` has the lower ``objective`` (a polish is never worse)."""
    return candidate if objective(candidate) <= objective(start) else start


@dataclass
class RestartResult:
    """Outcome of random restarts of the non-convex problem.

    Attributes
    ----------
    objectives : ndarray of shape (n_restarts,)
        Final ``P`` of each restart (shared evaluator).
    best : float
    best_network : ReluNetwork or STNetwork
    """

    objectives: np.ndarray
    best: float
    best_network: Network = field(repr=False)


def best_of_restarts(
    n_restarts: int, run: Callable[[], object], objective: Callable[[object], float]
) -> tuple[np.ndarray, float, object]:
    """``run()`` (one local minimization from a fresh random start) ``n_restarts`` times.

    Returns
    -------
    objectives : ndarray of shape (n_restarts,)
        ``objective(network)`` of each run.
    best : float
    best_network : network object
        The first run that reached ``best``.
    """
    objectives = np.empty(n_restarts)
    best, best_network = np.inf, None
    for k in range(n_restarts):
        network = run()
        objectives[k] = objective(network)
        if objectives[k] < best:
            best, best_network = float(objectives[k]), network
    return objectives, best, best_network


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
    activation: object = "relu",
    threshold: float | None = None,
    executor: object = None,
) -> RestartResult:
    """Minimize the non-convex ``P`` from random initial points with L-BFGS-B.

    The independent check of a convex optimum (DESIGN.md sections 4 and 6b):
    every restart ends at a local minimum of ``P``, so ``best`` is an UPPER
    bound on the global optimum, never a lower bound or a certificate; no
    restart below the convex optimum is evidence, not proof. For a fixed soft
    threshold it gives the 6b bracket's trained upper end (through
    :func:`cvxcnn.soft_threshold.restarts.st_random_restarts`).
    Cost: ``n_restarts`` L-BFGS-B runs of at most ``max_iter`` iterations, each
    a pass over ``Y`` (O(n d m)).

    Parameters
    ----------
    data : PatchProblem
    n_neurons : int
        Hidden width ``m``.
    beta : float
        Weight decay, > 0.
    loss : str or Loss
        A differentiable loss is recommended (squared, huber, logistic).
    n_restarts : int
        Number of random starts, >= 1.
    init_scale : float
        ``U ~ N(0, init_scale^2 / d)`` (m, d), ``v ~ N(0, init_scale^2)`` (m,);
        learnable soft thresholds start at ``Uniform(0, 1) * median_i |y_i^T u_j|``
        (a random share of the rows in the dead zone).
    max_iter : int
        L-BFGS-B iterations per start.
    random_state : int, Generator or None
        Seed of every start.
    activation : {"relu", "soft_threshold"} or Activation
        ``"st"`` is accepted as a short name.
    threshold : float, optional
        Soft threshold only: a fixed ``lambda > 0`` (Xiong et al.'s network);
        None: learnable thresholds ``t >= 0`` (DESIGN 6a), bounded below by L-BFGS-B.
    executor : None, int, "local", address or distributed.Client
        Where the restarts run (:func:`cvxcnn.executor.map_calls`); the initial
        points are drawn here first, so the result is the serial one.

    Returns
    -------
    RestartResult
        ``objectives`` (n_restarts,) from the shared evaluator, the best one
        and its network (:class:`ReluNetwork` or :class:`STNetwork`).
    """
    beta, loss = check_objective(beta, loss)
    m = check_positive_int(n_neurons, "n_neurons")
    n_restarts = check_positive_int(n_restarts, "n_restarts")
    layout = _layout(activation, threshold)
    rng = check_random_state(random_state)
    d = data.d
    starts = []
    for _ in range(n_restarts):  # drawn here, in order: the serial draws on any executor
        U0 = rng.normal(0.0, init_scale / np.sqrt(d), (m, d))
        v0 = rng.normal(0.0, init_scale, m)
        t0 = None
        if layout.learn_t:
            t0 = rng.random(m) * np.median(np.abs(data.Y @ U0.T), axis=0)
        starts.append((layout, layout.pack(U0, t0, v0), data, beta, loss, m, max_iter))
    networks = iter(map_calls(_local_minimum, starts, executor=executor))
    objectives, best, network = best_of_restarts(
        n_restarts, lambda: next(networks), lambda net: primal_objective(net, data, beta, loss)
    )
    return RestartResult(objectives=objectives, best=best, best_network=network)


def polish_network(
    network: Network,
    data: PatchProblem,
    *,
    beta: float,
    loss: str | Loss = "squared",
    max_iter: int = 5000,
    threshold: float | None = None,
) -> Network:
    """Run L-BFGS-B on ``P`` from ``network`` (a local improvement, never worse).

    Parameters
    ----------
    network : ReluNetwork or STNetwork
        Starting point, ``m`` neurons on ``d``-dimensional patches. With
        ``threshold`` given (soft threshold only) its thresholds are replaced by it.
    data : PatchProblem
    beta : float
    loss : str or Loss
    max_iter : int
    threshold : float, optional
        Soft threshold: keep every threshold fixed at ``lambda``; None: learn
        them (``t >= 0``).

    Returns
    -------
    ReluNetwork or STNetwork
        The better of the start and the local optimum (shared evaluator).
    """
    beta, loss = check_objective(beta, loss)
    layout = _layout(network.activation, threshold)
    if layout.activation == "soft_threshold" and threshold is not None:
        network = type(network)(
            U=network.U, thresholds=np.full(network.n_neurons, layout.threshold), v=network.v
        )
    m = network.n_neurons
    if m == 0:
        return network
    t = getattr(network, "thresholds", None)
    x0 = layout.pack(network.U, t, network.v)
    polished = _local_minimum(layout, x0, data, beta, loss, m, max_iter)
    return keep_better(network, polished, lambda net: primal_objective(net, data, beta, loss))
