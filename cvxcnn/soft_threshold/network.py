"""Soft-threshold networks as weights, usable by :func:`cvxcnn.networks.primal_objective`.

``STNetwork``: ``f(Y) = sum_j tau_{t_j}(Y u_j) v_j`` with penalty
``1/2 sum_j (||u_j||^2 + v_j^2)``; the thresholds are not penalized (DESIGN
section 6a). A fixed-threshold network (Xiong et al.) is one whose thresholds
all equal ``lambda``.

``GatedNetwork``: ``f(Y) = sum_j q_j * (Y u_j) v_j`` with FIXED gains ``q_j``
(n,): the model that Xiong et al.'s convex program (eq. 22) actually fits.
It is defined on the training rows only (the gains are per row).

Weights files are written and read by :mod:`cvxcnn.network_io` (``U``, ``v``,
``thresholds``, ``activation`` = ``"soft_threshold"``, the problem spec).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.networks import TwoLayerNetwork
from cvxcnn.soft_threshold.triples import soft_threshold
from cvxcnn.validation import check_positive

#: Relative size below which a threshold counts as zero when rescaling.
ZERO_THRESHOLD_RTOL = 1e-9


@dataclass(frozen=True, kw_only=True)
class STNetwork(TwoLayerNetwork):
    """``f(Y) = tau_t(Y U^T) @ v``, thresholds per neuron.

    Keyword-only (``STNetwork(U=..., thresholds=..., v=...)``): ``thresholds``
    and ``v`` have the same shape, so a positional swap could not be caught.

    Attributes
    ----------
    U : ndarray of shape (m, d)
        First-layer filters (rows).
    thresholds : ndarray of shape (m,)
        ``t_j >= 0`` (a scalar is broadcast).
    v : ndarray of shape (m,)
        Second-layer weights.
    """

    U: np.ndarray
    thresholds: np.ndarray
    v: np.ndarray

    activation = "soft_threshold"

    def _check_parameters(self) -> None:
        m = self.n_neurons
        t = np.asarray(self.thresholds, dtype=np.float64)
        t = np.broadcast_to(t, (m,)).copy() if t.ndim == 0 else t.reshape(-1)
        if t.shape != (m,):
            raise ValueError(
                f"thresholds must be a scalar or have one entry per neuron ({m}); "
                f"got shape {t.shape}"
            )
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("thresholds must be finite and >= 0")
        object.__setattr__(self, "thresholds", t)

    @property
    def t(self) -> np.ndarray:
        """``thresholds`` under the PyTorch trainer's short name, shape (m,)."""
        return self.thresholds

    _input_side = ("U", "thresholds")  # tau_{e t}(e a) = e tau_t(a)

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``tau_t(Y U^T)``, shape (n, m)."""
        return soft_threshold(Y @ self.U.T, self.thresholds[None, :])

    def with_threshold(
        self, threshold: float, *, zero_threshold: str = "drop"
    ) -> tuple[STNetwork, int]:
        """The same function with every threshold equal to ``threshold`` (DESIGN 6b).

        ``tau_{e t}(e a) = e tau_t(a)``, so ``u -> e u``, ``v -> v / e`` with
        ``e = threshold / t_j`` keeps neuron ``j``'s output; only the penalty
        changes. A neuron with ``t_j = 0`` (see Notes) is linear, and no finite
        ``e`` turns it into a ``lambda > 0`` neuron: it is DROPPED, which
        changes the function; the evaluator then scores the network that is
        actually returned, so the value stays an honest upper bound.

        Parameters
        ----------
        threshold : float
            ``lambda > 0``.
        zero_threshold : {"drop", "keep"}
            What to do with zero-threshold (linear) neurons: ``"drop"`` them, or
            ``"keep"`` their ``(u, v)`` unchanged with threshold ``lambda`` (a
            different function too; a starting point for local polishing).

        Returns
        -------
        (STNetwork, int)
            The fixed-threshold network and the number of zero-threshold
            neurons (dropped or kept unscaled).

        Notes
        -----
        "Zero" means ``t_j <= 1e-9 * ||u_j||`` (a threshold that small would
        need ``e > 1e9 * lambda / ||u_j||``).
        """
        lam = check_positive(threshold, "threshold")
        if zero_threshold not in ("drop", "keep"):
            raise ValueError(f"zero_threshold must be 'drop' or 'keep'; got {zero_threshold!r}")
        norms = np.linalg.norm(self.U, axis=1)
        scalable = self.thresholds > ZERO_THRESHOLD_RTOL * np.maximum(norms, np.finfo(float).tiny)
        e = np.ones(self.n_neurons)
        e[scalable] = lam / self.thresholds[scalable]
        keep = scalable if zero_threshold == "drop" else np.ones_like(scalable)
        network = STNetwork(
            U=self.U[keep] * e[keep, None],
            thresholds=np.full(int(keep.sum()), lam),
            v=self.v[keep] / e[keep],
        )
        return network, int((~scalable).sum())

    def balanced(self) -> STNetwork:
        """Rescale each neuron (``u, t, v`` by ``e, e, 1/e``) so that ``||u_j|| = |v_j|``.

        Same function, smallest penalty (for learnable thresholds).
        """
        nu = np.linalg.norm(self.U, axis=1)
        ok = (nu > 0) & (self.v != 0)
        e = np.ones_like(nu)
        e[ok] = np.sqrt(np.abs(self.v[ok]) / nu[ok])
        return STNetwork(U=self.U * e[:, None], thresholds=self.thresholds * e, v=self.v / e)


@dataclass(frozen=True)
class GatedNetwork(TwoLayerNetwork):
    """``f(Y) = ((Y U^T) * G^T) @ v`` with fixed per-row gains ``G`` (m, n).

    The model fitted by Xiong et al.'s program (eq. 22): each neuron is linear
    in ``u`` with the gains of its triple, NOT a soft-threshold neuron.

    Attributes
    ----------
    U : ndarray of shape (m, d)
    v : ndarray of shape (m,)
    gains : ndarray of shape (m, n)
        Fixed per-row gains; ``output`` accepts only a ``Y`` with these ``n`` rows.
    """

    U: np.ndarray
    v: np.ndarray
    gains: np.ndarray

    activation = "gated"

    def _check_parameters(self) -> None:
        gains = np.asarray(self.gains, dtype=np.float64)
        if gains.ndim != 2 or gains.shape[0] != self.n_neurons:
            raise ValueError(f"gains must be (m={self.n_neurons}, n); got shape {gains.shape}")
        object.__setattr__(self, "gains", gains)

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``(Y U^T) * G^T``, shape (n, m), on the training rows."""
        if Y.shape[0] != self.gains.shape[1] or Y.shape[1] != self.d:
            raise ValueError(
                f"a gated network is defined on its training rows only: expected Y of shape "
                f"({self.gains.shape[1]}, {self.d}), got {Y.shape}"
            )
        return (Y @ self.U.T) * self.gains.T

    def output(self, Y: np.ndarray) -> np.ndarray:
        """Output per patch (n,) on the rows the gains were made for."""
        return self.hidden(Y) @ self.v
