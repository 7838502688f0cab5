"""Caratheodory pruning: an optimal network with at most ``n_out + 1`` neurons (DESIGN 4).

Neuron ``j`` of a two-layer network contributes the vector ``c_j = R act(Y u_j) v_j``
(n_out,) to the prediction and ``p_j = 1/2 (||u_j||^2 + v_j^2)`` to the penalty.
Scaling it by ``sqrt(a_j)`` on both layers (``a_j >= 0``; for soft thresholds
the threshold too, since ``tau_{e t}(e x) = e tau_t(x)``) multiplies both by
``a_j`` and keeps its activation pattern. So for any ``lambda`` in the null
space of the ``(n_out + 1) x m`` matrix with columns ``(c_j, p_j)``, the factors
``a_j = 1 + s lambda_j`` leave the prediction and the penalty, hence the
objective, unchanged; the largest ``s`` keeping every ``a_j >= 0`` removes at
least one neuron. Repeating while the columns are dependent (always when
``m > n_out + 1``) ends with at most ``n_out + 1`` neurons at the same
objective, for ANY network (optimal or not) and any loss.

Written by hand (a few lines of linear algebra per removed neuron: one SVD
of the current columns); no library offers it.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.problem import PatchProblem

#: A singular value below this times the largest marks the columns dependent.
RANK_RTOL = 1e-12


def neuron_columns(network: object, problem: PatchProblem) -> np.ndarray:
    """``(c_j, p_j)`` of every neuron, shape (n_out + 1, m)."""
    H = network.hidden(problem.Y) * network.v  # (n, m): each neuron's output
    C = np.asarray(problem.readout.matrix @ H)
    p = 0.5 * (np.sum(network.U**2, axis=1) + network.v**2)
    return np.vstack([C, p[None, :]])


def _removal_factors(A: np.ndarray) -> np.ndarray | None:
    """Factors ``1 + s lambda`` (m,) zeroing one column of ``A`` along a null vector, or None."""
    _, sing, vt = np.linalg.svd(A, full_matrices=True)
    m = A.shape[1]
    if m <= A.shape[0] and sing.size and sing[-1] > RANK_RTOL * sing[0]:
        return None  # independent columns: nothing to remove
    lam = vt[-1]
    if not np.any(lam < 0):
        lam = -lam
    negative = lam < 0
    s = np.min(-1.0 / lam[negative])
    factors = 1.0 + s * lam
    factors[np.flatnonzero(negative)[np.argmin(-1.0 / lam[negative])]] = 0.0
    return np.maximum(factors, 0.0)


def prune_network(network: object, problem: PatchProblem) -> object:
    """The same function and objective with at most ``n_out + 1`` neurons.

    Parameters
    ----------
    network : ReluNetwork or STNetwork
        Any two-layer network for ``problem`` (``scale_neurons`` and ``hidden``).
    problem : PatchProblem
        Patches ``Y`` (n, d) and the readout ``R`` (n_out, n).

    Returns
    -------
    network of the same class
        Prediction ``R f(Y)`` and penalty equal to the input's up to float64
        rounding (each step is exact in exact arithmetic), every neuron with
        the activation pattern it had.
    """
    factors = np.ones(network.n_neurons)
    A0 = neuron_columns(network, problem)
    while True:
        live = np.flatnonzero(factors > 0)
        step = _removal_factors(A0[:, live] * factors[live])
        if step is None:
            break
        factors[live] *= step
    return network.scale_neurons(np.sqrt(factors))
