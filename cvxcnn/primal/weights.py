"""Exported weights of trained networks (float64 NumPy), and reading them back.

ReLU networks are :class:`cvxcnn.networks.ReluNetwork`. Soft-threshold
networks are :class:`cvxcnn.soft_threshold.network.STNetwork` (``U``,
``thresholds`` (also readable as ``t``), ``v``), the class the convex ST
solvers return too; ``SoftThresholdNetwork`` is the same class. Both have the
``output``/``penalty`` methods that :func:`cvxcnn.networks.primal_objective`
calls, so the one float64 evaluator scores both kinds.

File format (``.npz``): ``U`` (m, d), ``v`` (m,), ``activation``
(``"relu"`` or ``"soft_threshold"``) and, for soft thresholds, ``thresholds``
(m,); any other arrays are metadata (``beta``, ``kernel_size``...).
:func:`load_weights` also reads older soft-threshold files with activation
``"st"`` and the thresholds stored as ``t``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cvxcnn.networks import ReluNetwork, load_network
from cvxcnn.soft_threshold.network import STNetwork

#: Activation names of soft-threshold weights files: ``"soft_threshold"`` (written
#: now, thresholds stored as ``thresholds``) and ``"st"`` (older files, ``t``), both read.
ST_ACTIVATIONS = ("st", "soft_threshold")


#: The soft-threshold network class of the whole package (one class, also
#: returned by the convex ST solvers); kept under this name for the trainer's API.
SoftThresholdNetwork = STNetwork


def load_weights(path: str | Path) -> ReluNetwork | STNetwork:
    """Read a ``.npz`` weights file of either activation.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ReluNetwork or STNetwork
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
        return STNetwork(U=f["U"], thresholds=f[key], v=f["v"])
