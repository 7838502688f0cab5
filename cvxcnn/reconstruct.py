"""From a convex solution back to network weights (Sahiner et al. eq. 5).

Each nonzero ``w_i`` gives the neuron ``u = w_i / sqrt(||w_i||)``,
``v = +sqrt(||w_i||)``; each nonzero ``z_i`` gives ``u = z_i / sqrt(||z_i||)``,
``v = -sqrt(||z_i||)``. Then ``(Y u)_+ v = D_i Y w_i`` on the feasible set and
``1/2 (||u||^2 + v^2) = ||w_i||``, so ``P(U, v)`` equals the convex objective.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import PatchProblem

#: Default relative threshold below which a block counts as zero.
DEFAULT_RTOL = 1e-6


def _active(norms: np.ndarray, scale: float, rtol: float) -> np.ndarray:
    return norms > rtol * scale if scale > 0 else np.zeros_like(norms, dtype=bool)


def _scale(nw: np.ndarray, nz: np.ndarray, floor: float) -> float:
    return float(max(nw.max(initial=0.0), nz.max(initial=0.0), floor))


def natural_scale(problem: PatchProblem) -> float:
    """``||x|| / ||Y||_F``: the size of a block that fits the target on its own.

    Used as a floor for the "largest block" in the relative threshold, so a
    solution that is zero up to solver noise (large ``beta``) has no neurons.
    """
    y_norm = float(np.linalg.norm(problem.Y))
    return float(np.linalg.norm(problem.target)) / y_norm if y_norm > 0 else 0.0


def block_norms(W: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column norms of ``W`` and ``Z`` (each (d, P)), as two (P,) arrays."""
    return np.linalg.norm(W, axis=0), np.linalg.norm(Z, axis=0)


def active_pattern_mask(
    W: np.ndarray, Z: np.ndarray, *, rtol: float = DEFAULT_RTOL, floor: float = 0.0
) -> np.ndarray:
    """(P,) bool: patterns with ``||w_i||`` or ``||z_i||`` above ``rtol * max(max norm, floor)``."""
    nw, nz = block_norms(W, Z)
    scale = _scale(nw, nz, floor)
    return _active(nw, scale, rtol) | _active(nz, scale, rtol)


def reconstruct_relu(
    W: np.ndarray, Z: np.ndarray, *, rtol: float = DEFAULT_RTOL, floor: float = 0.0
) -> ReluNetwork:
    """Neurons of the ReLU network encoded by a solution ``(W, Z)`` of eq. 4.

    Parameters
    ----------
    W, Z : ndarray of shape (d, P)
        Column ``i`` belongs to pattern ``i``.
    rtol : float
        Blocks with norm <= ``rtol * max(largest block norm, floor)`` are zero.
    floor : float
        Lower limit of the reference norm (see :func:`natural_scale`).

    Returns
    -------
    ReluNetwork
        ``U`` (m, d) and ``v`` (m,), positive neurons (from ``W``) first.
    """
    W = np.asarray(W, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    if W.shape != Z.shape or W.ndim != 2:
        raise ValueError(f"W and Z must be (d, P) arrays of one shape; got {W.shape}, {Z.shape}")
    nw, nz = block_norms(W, Z)
    scale = _scale(nw, nz, floor)
    keep_w, keep_z = _active(nw, scale, rtol), _active(nz, scale, rtol)
    U = np.vstack([(W[:, keep_w] / np.sqrt(nw[keep_w])).T, (Z[:, keep_z] / np.sqrt(nz[keep_z])).T])
    v = np.concatenate([np.sqrt(nw[keep_w]), -np.sqrt(nz[keep_z])])
    return ReluNetwork(U.reshape(-1, W.shape[0]), v)
