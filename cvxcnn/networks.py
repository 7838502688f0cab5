"""Two-layer networks as weights, and the one float64 evaluator of ``P(U, v)``.

Every objective cvxcnn reports for a network (reconstructed from a convex
solution, trained by gradient descent, or loaded from a file) is computed by
:func:`primal_objective`, never taken from a solver's or trainer's log:

    P(U, v) = L(R f(Y), x) + beta/2 * sum_j (||u_j||^2 + v_j^2)

(with the squared loss ``L = 1/2 ||.||^2``, Sahiner et al.'s scaling).

Weights files (``.npz``, every network kind, with the problem definition)
are written and read by :mod:`cvxcnn.network_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cvxcnn.losses import Loss, check_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import axis_length


def check_weights(U: object, v: object) -> tuple[np.ndarray, np.ndarray]:
    """Two-layer weights as float64 arrays, validated.

    Parameters
    ----------
    U : array_like of shape (m, d)
        First-layer filters (rows).
    v : array_like of shape (m,)
        Second-layer weights.

    Returns
    -------
    (ndarray of shape (m, d), ndarray of shape (m,))

    Raises
    ------
    ValueError
        When ``U`` is not 2-D, the neuron counts differ, or an entry is not finite.
    """
    U = np.asarray(U, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if U.ndim != 2:
        raise ValueError(f"U must be a 2-D array (m, d); got shape {U.shape}")
    if U.shape[0] != v.shape[0]:
        raise ValueError(f"U has {U.shape[0]} neurons (rows) but v has {v.shape[0]} entries")
    if not (np.all(np.isfinite(U)) and np.all(np.isfinite(v))):
        raise ValueError("network weights U and v must be finite")
    return U, v


class TwoLayerNetwork:
    """What every network class shares: ``f(Y) = act(Y U^T) @ v`` and its penalty.

    A subclass is a frozen dataclass with fields ``U`` (m, d) and ``v`` (m,)
    (validated after ``__init__`` by :meth:`_set_weights`) and defines
    :meth:`hidden`; the activation's extra parameters (thresholds, gains) are
    validated by its :meth:`_check_parameters` and not penalized.
    """

    U: np.ndarray
    v: np.ndarray

    def __post_init__(self) -> None:
        self._set_weights()
        self._check_parameters()

    def _set_weights(self) -> None:
        """Validate ``U`` and ``v`` (:func:`check_weights`) and store them as float64."""
        U, v = check_weights(self.U, self.v)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "v", v)

    def _check_parameters(self) -> None:
        """Validate (and store) the activation's own parameters; none by default."""

    n_neurons = axis_length("U", 0, "Number of hidden neurons ``m`` (rows of ``U``).")
    d = axis_length("U", 1, "Filter length ``d`` (columns of ``U``).")

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``act(Y U^T)``, shape (n, m)."""
        raise NotImplementedError

    def output(self, Y: np.ndarray) -> np.ndarray:
        """Network output per patch ``hidden(Y) @ v``, shape (n,), for ``Y`` of shape (n, d)."""
        if Y.shape[1] != self.d:
            raise ValueError(
                f"patch matrix has d={Y.shape[1]} columns but the network's filters have "
                f"d={self.d}; use the same kernel size, channels and bias as in training"
            )
        return self.hidden(Y) @ self.v

    def penalty(self) -> float:
        """``1/2 sum_j (||u_j||^2 + v_j^2)``."""
        return 0.5 * float(np.sum(self.U**2) + np.sum(self.v**2))

    #: Fields scaled with ``u_j`` by :meth:`scale_neurons` (the activation is
    #: positively homogeneous in them jointly: soft thresholds add ``thresholds``).
    _input_side: tuple[str, ...] = ("U",)

    def scale_neurons(self, factors: np.ndarray) -> TwoLayerNetwork:
        """Neuron ``j`` times ``factors[j] >= 0`` on both layers; zero factors drop it.

        Then neuron ``j`` contributes ``factors[j]**2`` times its output and its
        penalty ``1/2 (||u_j||^2 + v_j^2)``, with the same activation pattern.

        Parameters
        ----------
        factors : ndarray of shape (m,)

        Returns
        -------
        TwoLayerNetwork
            Of the same class, with the neurons whose factor is 0 removed.
        """
        factors = np.asarray(factors, dtype=np.float64)
        keep = factors > 0
        s = factors[keep]
        changes = {"v": self.v[keep] * s}
        for name in self._input_side:
            value = getattr(self, name)[keep]
            changes[name] = value * (s[:, None] if value.ndim == 2 else s)
        return replace(self, **changes)


@dataclass(frozen=True)
class ReluNetwork(TwoLayerNetwork):
    """``f(Y) = sum_j (Y u_j)_+ v_j``.

    Attributes
    ----------
    U, v : ndarray
        The weights of :class:`TwoLayerNetwork`, validated by :func:`check_weights`.
    """

    U: np.ndarray
    v: np.ndarray

    activation = "relu"

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``(Y U^T)_+``, shape (n, m)."""
        return np.maximum(Y @ self.U.T, 0.0)


def predict(network: TwoLayerNetwork, problem: PatchProblem) -> np.ndarray:
    """``R f(Y)`` (n_out,): the network's fit of ``problem.target``."""
    return problem.readout.apply(network.output(problem.Y))


def primal_objective(
    network: TwoLayerNetwork, problem: PatchProblem, beta: float, loss: str | Loss = "squared"
) -> float:
    """The float64 objective ``P(U, v)`` of a network on a problem.

    Parameters
    ----------
    network : ReluNetwork, STNetwork or GatedNetwork
    problem : PatchProblem
    beta : float
        Weight decay, > 0.
    loss : str or Loss

    Returns
    -------
    float
    """
    beta, loss = check_objective(beta, loss)
    return loss.value(predict(network, problem), problem.target) + beta * network.penalty()
