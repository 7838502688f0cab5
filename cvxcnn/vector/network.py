"""Vector-output two-layer ReLU networks and their float64 objective.

    f(Y) = sum_j (Y u_j)_+ w_j^T                      (n, c)
    P(U, W) = 1/2 ||R f(Y) - X||_F^2 + beta/2 sum_j (||u_j||^2 + ||w_j||^2)

(DESIGN.md section 13; the squared loss of :mod:`cvxcnn.losses` applied to
all channels at once). Every value reported for a vector network comes from
:func:`vector_objective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.losses import get_loss
from cvxcnn.networks import ReluNetwork
from cvxcnn.validation import axis_length, check_positive
from cvxcnn.vector.problem import VectorProblem


@dataclass(frozen=True)
class VectorReluNetwork:
    """``f(Y) = (Y U)_+ W``: ``m`` ReLU neurons, each with an output vector ``w_j`` in R^c.

    Attributes
    ----------
    U : ndarray of shape (d, m)
        First-layer filters (columns ``u_j``).
    W : ndarray of shape (m, c)
        Output weights (rows ``w_j``).
    """

    U: np.ndarray
    W: np.ndarray

    activation = "relu"

    n_neurons = axis_length("W", 0, "Number of hidden neurons ``m``.")
    d = axis_length("U", 0, "Filter length ``d``.")
    channels = axis_length("W", 1, "Output channels ``c``.")

    def __post_init__(self) -> None:
        U = np.asarray(self.U, dtype=np.float64)
        W = np.asarray(self.W, dtype=np.float64)
        if U.ndim != 2 or W.ndim != 2:
            raise ValueError(f"U (d, m) and W (m, c) must be 2-D; got {U.shape} and {W.shape}")
        if U.shape[1] != W.shape[0]:
            raise ValueError(f"U has {U.shape[1]} neurons (columns) but W has {W.shape[0]} rows")
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(W))):
            raise ValueError("network weights U and W must be finite")
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "W", W)

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``(Y U)_+``, shape (n, m)."""
        if Y.shape[1] != self.d:
            raise ValueError(
                f"patch matrix has d={Y.shape[1]} columns but the network's filters have "
                f"d={self.d}; use the same kernel size, channels and bias as in training"
            )
        return np.maximum(Y @ self.U, 0.0)

    def output(self, Y: np.ndarray) -> np.ndarray:
        """Network output per patch and channel, shape (n, c)."""
        return self.hidden(Y) @ self.W

    def penalty(self) -> float:
        """``1/2 sum_j (||u_j||^2 + ||w_j||^2)``."""
        return 0.5 * float(np.sum(self.U**2) + np.sum(self.W**2))

    def channel(self, k: int) -> ReluNetwork:
        """The scalar network of channel ``k`` (same filters, ``v = W[:, k]``)."""
        return ReluNetwork(self.U.T, self.W[:, k])

    @classmethod
    def from_channels(cls, networks: list[ReluNetwork]) -> VectorReluNetwork:
        """Stack scalar networks, one per channel: each neuron serves its own channel only."""
        c = len(networks)
        U = np.concatenate([net.U for net in networks], axis=0).T
        W = np.zeros((U.shape[1], c))
        start = 0
        for k, net in enumerate(networks):
            W[start : start + net.n_neurons, k] = net.v
            start += net.n_neurons
        return cls(U, W)

    def balanced(self) -> VectorReluNetwork:
        """The same function with ``||u_j|| = ||w_j||`` (least penalty); dead neurons dropped."""
        nu = np.linalg.norm(self.U, axis=0)
        nw = np.linalg.norm(self.W, axis=1)
        keep = (nu > 0) & (nw > 0)
        s = np.sqrt(nw[keep] / nu[keep])
        return VectorReluNetwork(self.U[:, keep] * s, self.W[keep] / s[:, None])


def vector_predict(network: VectorReluNetwork, problem: VectorProblem) -> np.ndarray:
    """``R f(Y)`` (n_out, c)."""
    return problem.readout.apply(network.output(problem.Y))


def vector_objective(network: VectorReluNetwork, problem: VectorProblem, beta: float) -> float:
    """The float64 objective ``P(U, W)`` (squared loss over every channel plus weight decay).

    Parameters
    ----------
    network : VectorReluNetwork
    problem : VectorProblem
    beta : float
        Weight decay, > 0.

    Returns
    -------
    float
    """
    beta = check_positive(beta, "beta")
    if network.channels != problem.channels:
        raise ValueError(
            f"the network has {network.channels} output channels, the target X has "
            f"{problem.channels}"
        )
    prediction = vector_predict(network, problem).ravel()
    return get_loss("squared").value(prediction, problem.target.ravel()) + beta * network.penalty()
