"""Vector-output two-layer networks (c output channels) and their float64 objective.

``f(Y) = sum_j (Y u_j)_+ w_j^T`` with ``w_j`` in R^c (a 1x1 output convolution
with c channels, the readout ``R`` applied per channel), and

    P(U, W) = L(R f(Y), X) + beta/2 * sum_j (||u_j||^2 + ||w_j||^2)

with ``X`` of shape (n_out, c). ``L`` is the squared loss ``1/2 ||R f - X||_F^2``
(eq. 6 of the colorization paper, our constants) or the chroma-augmented loss
of eq. 2 (:class:`ChromaLoss`, not convex: primal training only).

The network class, its prediction and the squared objective live in
:mod:`cvxcnn.vector` (``VectorReluNetwork`` with ``U`` (d, m), ``W`` (m, c);
``vector_objective``); this module adds the chroma loss, the chroma-aware
evaluator used by the primal trainer, and the problem built from
multi-channel target images.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cvxcnn.problem import PatchProblem, make_problem
from cvxcnn.validation import check_finite_array, check_positive
from cvxcnn.vector.network import VectorReluNetwork, vector_predict
from cvxcnn.vector.network import vector_objective as squared_vector_objective
from cvxcnn.vector.problem import channel_targets, vector_problem

__all__ = [
    "ChromaLoss",
    "channel_problem",
    "get_vector_loss",
    "make_vector_problem",
    "vector_objective",
]


@dataclass(frozen=True)
class ChromaLoss:
    """The chroma-augmented loss of the colorization paper (eq. 2), NOT convex.

    ``L(P, X) = 1/2 ||P - X||_F^2 + gamma * sum_i (||X_i|| - ||P_i||)^2`` over
    the rows ``i`` (pixels) of ``P, X`` (n_out, c): the chroma ``C = ||ab||``
    of each pixel pulled towards the true one. ``gamma = 0`` is the squared
    loss. Used by the primal trainer only (``loss="chroma"``): the convex
    reformulation needs a convex loss.
    """

    gamma: float = 0.5

    @property
    def name(self) -> str:
        """``"chroma"``, or ``"squared"`` when ``gamma = 0`` (then it is the squared loss)."""
        return "chroma" if self.gamma else "squared"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gamma", check_positive(self.gamma, "gamma", allow_zero=True))

    def value(self, prediction: np.ndarray, target: np.ndarray) -> float:
        """The loss in float64 (channel axis last)."""
        P = np.asarray(prediction, dtype=np.float64)
        X = np.asarray(target, dtype=np.float64)
        if P.shape != X.shape or P.ndim != 2:
            raise ValueError(f"prediction {P.shape} and target {X.shape} must both be (n_out, c)")
        chroma = np.linalg.norm(X, axis=1) - np.linalg.norm(P, axis=1)
        return 0.5 * float(np.sum((P - X) ** 2)) + self.gamma * float(np.sum(chroma**2))

    def validate_target(self, target: np.ndarray) -> None:
        """Any finite target is valid."""
        return None

    def to_dict(self) -> dict:
        return {"name": self.name, "gamma": self.gamma} if self.gamma else {"name": self.name}


def get_vector_loss(loss: str | ChromaLoss = "squared", gamma: float | None = None) -> ChromaLoss:
    """``"squared"`` (``ChromaLoss(0)``, the squared loss) or ``"chroma"`` (default gamma 0.5)."""
    if isinstance(loss, ChromaLoss):
        if gamma is not None:
            raise ValueError("gamma is given twice: in the ChromaLoss and as gamma; pass one")
        return loss
    if loss == "squared":
        if gamma is not None:
            raise ValueError("gamma applies to loss='chroma'; drop it or use loss='chroma'")
        return ChromaLoss(0.0)
    if loss == "chroma":
        return ChromaLoss(0.5 if gamma is None else gamma)
    raise ValueError(f"vector-output loss must be 'squared' or 'chroma'; got {loss!r}")


def make_vector_problem(
    inputs: np.ndarray, targets: np.ndarray, **geometry: object
) -> tuple[PatchProblem, np.ndarray]:
    """The patch problem of ``inputs`` and the (n_out, c) target matrix ``X``.

    Parameters
    ----------
    inputs : ndarray
        As for :func:`cvxcnn.problem.make_problem`.
    targets : ndarray
        ``(N, c, *spatial)`` for the identity readout (``X`` holds each
        channel's value at every patch centre), ``(N, c)`` for ``sum``/``mean``.
    **geometry
        Keyword arguments of :func:`~cvxcnn.problem.make_problem`
        (``residual=True`` is refused: the residual is a single-channel idea).

    Returns
    -------
    problem : PatchProblem
        ``Y`` and ``R``; its ``target`` is channel 0 (``X[:, 0]``).
    X : ndarray of shape (n_out, c)
    """
    if geometry.get("residual"):
        raise ValueError("residual=True needs single-channel targets; vector outputs have c > 1")
    targets = check_finite_array(targets, "targets")
    if targets.ndim < 2:
        raise ValueError(f"targets must be (N, c, *spatial) or (N, c); got shape {targets.shape}")
    problem = make_problem(inputs, targets[:, 0], **geometry)
    if problem.readout.kind == "identity":
        X = channel_targets(targets, problem)
    else:
        X = targets.reshape(targets.shape[0], -1)
        if X.shape[1] != targets.shape[1]:
            raise ValueError(
                f"targets for a {problem.readout.kind} readout must be (N, c); got {targets.shape}"
            )
    return problem, X


def channel_problem(problem: PatchProblem, X: np.ndarray, k: int) -> PatchProblem:
    """The scalar problem of output channel ``k``: same ``Y`` and ``R``, target ``X[:, k]``."""
    return replace(problem, target=np.ascontiguousarray(X[:, k]))


def vector_objective(
    network: VectorReluNetwork,
    problem: PatchProblem,
    X: np.ndarray,
    beta: float,
    loss: str | ChromaLoss = "squared",
    gamma: float | None = None,
) -> float:
    """The float64 objective ``L(R f(Y), X) + beta/2 sum_j (||u_j||^2 + ||w_j||^2)``.

    The squared loss is :func:`cvxcnn.vector.network.vector_objective` itself;
    ``loss="chroma"`` adds the chroma term of :class:`ChromaLoss`.

    Parameters
    ----------
    network : VectorReluNetwork
    problem : PatchProblem
        ``Y`` (n, d) and ``R`` (its scalar ``target`` is not used).
    X : ndarray of shape (n_out, c)
    beta : float
        > 0.
    loss : {"squared", "chroma"} or ChromaLoss
    gamma : float, optional
        Chroma weight of ``loss="chroma"``.

    Returns
    -------
    float
    """
    beta = check_positive(beta, "beta")
    vp = vector_problem(problem, X)
    chroma = get_vector_loss(loss, gamma)
    if chroma.gamma == 0:
        return squared_vector_objective(network, vp, beta)
    if network.channels != vp.channels:
        raise ValueError(f"the network has {network.channels} channels, X has {vp.channels}")
    return chroma.value(vector_predict(network, vp), vp.target) + beta * network.penalty()
