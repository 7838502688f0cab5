"""Convex losses shared by every activation, program and evaluator.

A loss ``L(p; x)`` of the predictions ``p`` (n_out,) against targets ``x``
knows three things (the skglm "datafit" idea):

- its CVXPY expression, for the convex programs;
- its float64 value and gradient, for the evaluator and local optimizers;
- its convex conjugate ``L*(z) = sup_p z^T p - L(p)``, for dual bounds.

Any convex loss makes the reformulation exact (Sahiner et al. App. E).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cvxpy as cp
import numpy as np
from scipy.special import expit, xlogy

from cvxcnn.validation import check_positive


class Loss(ABC):
    """A convex loss of predictions ``p`` (n_out,) against targets ``x`` (n_out,)."""

    name: str = "loss"
    #: ``k`` with ``L(b p, b x) = b^k L(p, x)`` for ``b > 0`` (None: not homogeneous).
    #: The fit normalizes targets only for homogeneous losses.
    homogeneity: int | None = None

    @abstractmethod
    def expression(self, prediction: cp.Expression, target: np.ndarray) -> cp.Expression:
        """CVXPY expression of the loss (convex in ``prediction``)."""

    @abstractmethod
    def value(self, prediction: np.ndarray, target: np.ndarray) -> float:
        """Loss in float64."""

    @abstractmethod
    def gradient(self, prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(Sub)gradient with respect to ``prediction``, shape (n_out,)."""

    @abstractmethod
    def conjugate(self, z: np.ndarray, target: np.ndarray) -> float:
        """``L*(z) = sup_p z^T p - L(p)``; ``inf`` outside its domain."""

    def conjugate_expression(
        self, z: cp.Expression, target: np.ndarray
    ) -> tuple[cp.Expression, list[cp.Constraint]]:
        """CVXPY expression of ``L*(z)`` (convex in ``z``) and its domain constraints.

        Used by the explicit dual program (:mod:`cvxcnn.programs.relu_dual`).
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no CVXPY conjugate; implement conjugate_expression"
        )

    def validate_target(self, target: np.ndarray) -> None:
        """Raise ``ValueError`` when ``target`` is not valid for this loss."""
        return None

    def to_dict(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({params})"


class SquaredLoss(Loss):
    """``1/2 ||p - x||^2`` (the default; Sahiner et al.)."""

    name = "squared"
    homogeneity = 2

    def expression(self, prediction, target):
        return 0.5 * cp.sum_squares(prediction - target)

    def value(self, prediction, target):
        r = np.asarray(prediction, dtype=np.float64) - target
        return float(0.5 * r @ r)

    def gradient(self, prediction, target):
        return np.asarray(prediction, dtype=np.float64) - target

    def conjugate(self, z, target):
        z = np.asarray(z, dtype=np.float64)
        return float(0.5 * z @ z + z @ target)

    def conjugate_expression(self, z, target):
        """``L*(z) = 1/2 ||z||^2 + z^T x`` (no domain constraint)."""
        return 0.5 * cp.sum_squares(z) + z @ target, []


class AbsoluteLoss(Loss):
    """``||p - x||_1``."""

    name = "absolute"
    homogeneity = 1

    def expression(self, prediction, target):
        return cp.norm1(prediction - target)

    def value(self, prediction, target):
        return float(np.abs(np.asarray(prediction, dtype=np.float64) - target).sum())

    def gradient(self, prediction, target):
        return np.sign(np.asarray(prediction, dtype=np.float64) - target)

    def conjugate(self, z, target):
        z = np.asarray(z, dtype=np.float64)
        if np.max(np.abs(z)) > 1 + 1e-12:
            return float("inf")
        return float(z @ target)

    def conjugate_expression(self, z, target):
        """``L*(z) = z^T x`` on ``|z| <= 1``."""
        return z @ target, [cp.abs(z) <= 1]


class HuberLoss(Loss):
    """``sum h(p_i - x_i)``: ``h(r) = r^2/2`` if ``|r| <= delta``, else ``delta |r| - delta^2/2``.

    Parameters
    ----------
    delta : float
        Transition point, > 0.
    """

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = check_positive(delta, "delta")

    def expression(self, prediction, target):
        # cvxpy's huber(r, M) = r^2 for |r| <= M, 2 M |r| - M^2 otherwise: twice ours.
        return 0.5 * cp.sum(cp.huber(prediction - target, self.delta))

    def value(self, prediction, target):
        a = np.abs(np.asarray(prediction, dtype=np.float64) - target)
        quad = np.minimum(a, self.delta)
        return float(np.sum(0.5 * quad**2 + self.delta * (a - quad)))

    def gradient(self, prediction, target):
        return np.clip(np.asarray(prediction, dtype=np.float64) - target, -self.delta, self.delta)

    def conjugate(self, z, target):
        z = np.asarray(z, dtype=np.float64)
        if np.max(np.abs(z)) > self.delta * (1 + 1e-12):
            return float("inf")
        return float(0.5 * z @ z + z @ target)

    def conjugate_expression(self, z, target):
        """``L*(z) = 1/2 ||z||^2 + z^T x`` on ``|z| <= delta``."""
        return 0.5 * cp.sum_squares(z) + z @ target, [cp.abs(z) <= self.delta]

    def to_dict(self):
        return {"name": self.name, "delta": self.delta}


class LogisticLoss(Loss):
    """``sum log(1 + exp(-x_i p_i))`` for labels ``x_i`` in {-1, +1}."""

    name = "logistic"

    def validate_target(self, target):
        if not np.all(np.isin(target, (-1.0, 1.0))):
            raise ValueError("the logistic loss needs targets in {-1, +1}; relabel your classes")

    def expression(self, prediction, target):
        return cp.sum(cp.logistic(-cp.multiply(target, prediction)))

    def value(self, prediction, target):
        return float(np.sum(np.logaddexp(0.0, -target * np.asarray(prediction, dtype=np.float64))))

    def gradient(self, prediction, target):
        return -target * expit(-target * np.asarray(prediction, dtype=np.float64))

    def conjugate(self, z, target):
        # f(p) = log(1 + exp(-y p)): f*(z) = q log q + (1 - q) log(1 - q), q = -y z in [0, 1].
        q = -np.asarray(z, dtype=np.float64) * target
        if np.any(q < -1e-12) or np.any(q > 1 + 1e-12):
            return float("inf")
        q = np.clip(q, 0.0, 1.0)
        return float(np.sum(xlogy(q, q) + xlogy(1 - q, 1 - q)))

    def conjugate_expression(self, z, target):
        """``L*(z) = sum -entr(q) - entr(1 - q)`` with ``q = -x z`` in [0, 1]."""
        q = -cp.multiply(target, z)
        return cp.sum(-cp.entr(q) - cp.entr(1 - q)), [q >= 0, q <= 1]


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (SquaredLoss, AbsoluteLoss, HuberLoss, LogisticLoss)
}


def get_loss(loss: str | Loss = "squared", **params: float) -> Loss:
    """Return a :class:`Loss` from a name (``squared``, ``absolute``, ``huber``, ``logistic``)."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a Loss instance; got {loss!r}")
    return LOSSES[loss](**params)


def check_objective(beta: object, loss: str | Loss) -> tuple[float, Loss]:
    """``beta`` checked (> 0, a float) and the :class:`Loss` of ``loss``: every objective's pair."""
    return check_positive(beta, "beta"), get_loss(loss)
