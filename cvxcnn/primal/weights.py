"""Exported weights of trained networks (float64 NumPy), and reading them back.

ReLU networks are :class:`cvxcnn.networks.ReluNetwork`. Soft-threshold
networks are :class:`cvxcnn.soft_threshold.network.STNetwork` (``U``,
``thresholds`` (also readable as ``t``), ``v``), the class the convex ST
solvers return too; ``SoftThresholdNetwork`` is the same class. Both have the
``output``/``penalty`` methods that :func:`cvxcnn.networks.primal_objective`
calls, so the one float64 evaluator scores both kinds.

Files are read and written by :mod:`cvxcnn.network_io` (format 2, and every
older layout: ``"st"``/``t`` soft-threshold files included);
:func:`load_weights` is its network-only shortcut.
"""

from __future__ import annotations

from pathlib import Path

from cvxcnn.network_io import load_network
from cvxcnn.networks import ReluNetwork
from cvxcnn.soft_threshold.network import STNetwork

#: The soft-threshold network class of the whole package (one class, also
#: returned by the convex ST solvers); kept under this name for the trainer's API.
SoftThresholdNetwork = STNetwork


def load_weights(path: str | Path) -> ReluNetwork | STNetwork:
    """The network of a weights file of either activation (``load_network(path).network``)."""
    return load_network(path).network
