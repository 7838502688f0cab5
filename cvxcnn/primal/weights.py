"""Exported weights of trained networks (float64 NumPy), and reading them back.

ReLU networks are :class:`cvxcnn.networks.ReluNetwork`. Soft-threshold
networks are :class:`SoftThresholdNetwork` (``U``, ``v`` and one threshold per
neuron ``t``); it has the ``output``/``penalty`` methods that
:func:`cvxcnn.networks.primal_objective` calls, so the one float64 evaluator
scores both kinds.

File format (``.npz``, written by :func:`cvxcnn.networks.save_network`):
``U`` (m, d), ``v`` (m,), ``activation`` (``"relu"`` or ``"st"``) and, for
``"st"``, ``t`` (m,); any other arrays are metadata (``beta``,
``kernel_size``...). :func:`load_weights` also reads soft-threshold files that
name the activation ``"soft_threshold"`` and the thresholds ``thresholds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvxcnn._validation import check_finite_array
from cvxcnn.networks import ReluNetwork, load_network

#: Activation names of soft-threshold weights files: ``"st"`` (written here) and
#: ``"soft_threshold"`` (thresholds stored as ``thresholds``), both read.
ST_ACTIVATIONS = ("st", "soft_threshold")


@dataclass(frozen=True)
class SoftThresholdNetwork:
    """``f(Y) = sum_j tau_{t_j}(Y u_j) v_j`` with ``tau_t(a) = sign(a) max(|a| - t, 0)``.

    Attributes
    ----------
    U : ndarray of shape (m, d)
        First-layer filters (rows, ordered like the patch matrix's columns).
    v : ndarray of shape (m,)
        Second-layer weights.
    t : ndarray of shape (m,)
        Nonnegative thresholds, one per neuron (not penalized).
    """

    U: np.ndarray
    v: np.ndarray
    t: np.ndarray

    activation = "st"

    def __post_init__(self) -> None:
        U = check_finite_array(self.U, "U", ndim=2)
        v = check_finite_array(self.v, "v", ndim=(1, 2)).reshape(-1)
        t = check_finite_array(self.t, "t", ndim=(0, 1, 2)).reshape(-1)
        if U.shape[0] != v.shape[0]:
            raise ValueError(f"U has {U.shape[0]} neurons (rows) but v has {v.shape[0]} entries")
        if t.shape[0] == 1 and U.shape[0] != 1:
            t = np.full(U.shape[0], t[0])
        if t.shape[0] != U.shape[0]:
            raise ValueError(f"t must hold one threshold per neuron ({U.shape[0]}); got {t.shape}")
        if np.any(t < 0):
            raise ValueError(f"thresholds t must be >= 0; the smallest is {t.min():g}")
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "t", t)

    @property
    def n_neurons(self) -> int:
        return self.U.shape[0]

    @property
    def d(self) -> int:
        return self.U.shape[1]

    def hidden(self, Y: np.ndarray) -> np.ndarray:
        """Hidden activations ``tau_t(Y U^T)``, shape (n, m)."""
        a = Y @ self.U.T
        return np.sign(a) * np.maximum(np.abs(a) - self.t, 0.0)

    def output(self, Y: np.ndarray) -> np.ndarray:
        """Network output per patch, shape (n,)."""
        if Y.shape[1] != self.d:
            raise ValueError(
                f"patch matrix has d={Y.shape[1]} columns but the network's filters have "
                f"d={self.d}; use the same kernel size, channels and bias as in training"
            )
        return self.hidden(Y) @ self.v

    def penalty(self) -> float:
        """``1/2 sum_j (||u_j||^2 + v_j^2)`` (thresholds are not penalized)."""
        return 0.5 * float(np.sum(self.U**2) + np.sum(self.v**2))


def load_weights(path: str | Path) -> ReluNetwork | SoftThresholdNetwork:
    """Read a ``.npz`` weights file of either activation.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ReluNetwork or SoftThresholdNetwork
        ``"relu"`` files go through :func:`cvxcnn.networks.load_network`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    with np.load(path, allow_pickle=False) as f:
        activation = str(f["activation"]) if "activation" in f.files else "relu"
        if activation == "relu":
            return load_network(path)
        if activation not in ST_ACTIVATIONS:
            raise ValueError(f"weights file {path} holds an unknown activation {activation!r}")
        key = next((k for k in ("t", "thresholds") if k in f.files), None)
        missing = [k for k in ("U", "v") if k not in f.files] + ([] if key else ["t"])
        if missing:
            raise ValueError(
                f"weights file {path} lacks array(s) {missing}; a soft-threshold network "
                "needs U (m, d), v (m,) and t (m,)"
            )
        return SoftThresholdNetwork(f["U"], f["v"], f[key])
