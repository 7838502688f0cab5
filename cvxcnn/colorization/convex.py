"""The convex step of the colorization system: ONE function, :func:`fit_convex_colorizer`.

Which objective is which (all in the scaled units of :mod:`cvxcnn.colorization.data`):

- the VECTOR problem (what the primal trainer minimizes too)::

      min_{U, W}  1/2 ||R f(Y) - X||_F^2 + beta/2 sum_j (||u_j||^2 + ||w_j||^2),
      f(Y) = sum_j (Y u_j)_+ w_j^T,  X (n_out, c = 2): the a and b channels;

- its SEPARABLE upper bound, solved here: the same problem restricted to
  networks whose every neuron serves ONE channel (``w_j = v_j e_k``). Then the
  objective splits into c scalar problems on the same ``Y`` and ``R``; each is
  solved exactly over the given cells by :func:`cvxcnn.fit` (Sahiner et al.
  eq. 4), and the c scalar networks stacked are a feasible vector network
  whose vector objective equals the sum of the c scalar optima.

The computation is :func:`cvxcnn.vector.separable.fit_separable` (which
:func:`cvxcnn.vector.fit_vector` runs first), called with ``cvxcnn.fit``'s
keyword arguments (``facets="off"`` above all: on these programs the default
facet reduction cost ~40 s for a ~4 s solve); this function packages its
result with the fields of ``VectorFitResult``.

So ``upper`` is an UPPER bound on the vector problem's global optimum (with
sampled cells it is also above the separable optimum). Nothing here is a
lower bound: the relaxation and the dual certificate of the vector problem
come from :func:`cvxcnn.vector.fit_vector`, which can replace this
function's body (same arguments, same ``upper``/``lower``/``gap``/``kind``/
``network``/``relaxation_value``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import PatchProblem
from cvxcnn.results import ConvexFitResult, Result, omitted
from cvxcnn.validation import check_finite_array, check_positive
from cvxcnn.vector.network import VectorReluNetwork
from cvxcnn.vector.problem import vector_problem
from cvxcnn.vector.separable import fit_separable

__all__ = ["SeparableVectorFit", "fit_convex_colorizer", "stack_channel_networks"]


@dataclass
class SeparableVectorFit(Result):
    """The separable upper bound of the vector problem (fields of ``VectorFitResult``).

    Attributes
    ----------
    upper : float
        ``P(U, W)`` of :attr:`network` by the float64 evaluator
        :func:`cvxcnn.vector_output.vector_objective`: an upper bound on the
        vector problem's global optimum.
    lower, gap, relaxation_value : None
        No lower bound is computed by the separable step.
    kind : str
        ``"upper bound (separable, exact cells)"`` or ``"upper bound
        (separable, sampled cells)"``.
    status : str
        ``"optimal"`` when every channel's program was solved to optimality,
        else the first other status.
    success : bool
    channel_objectives : list of float
        The c scalar convex optima (they sum to ``upper`` up to solver accuracy).
    neurons, n_patterns : int
    seconds : float
        Wall time of the c solves.
    network : VectorReluNetwork
        The c scalar networks stacked (each neuron with one nonzero output weight).
    channels : list of ConvexFitResult
    """

    upper: float
    kind: str
    status: str
    success: bool
    channel_objectives: list[float]
    neurons: int
    n_patterns: int
    seconds: float
    lower: float | None = None
    gap: float | None = None
    relaxation_value: float | None = None
    network: VectorReluNetwork | None = omitted(default=None, repr=False)
    channels: list[ConvexFitResult] = omitted(default_factory=list, repr=False)


def stack_channel_networks(networks: list, d: int) -> VectorReluNetwork:
    """Scalar networks ``(U_k, v_k)``, one per channel, as one vector network.

    Neuron ``j`` of channel ``k`` keeps its filter and gets ``w_j = v_j e_k``
    (:meth:`cvxcnn.vector.network.VectorReluNetwork.from_channels`), so the
    output's column ``k`` is network ``k``'s output and the penalty is the sum
    of the scalar penalties.

    Parameters
    ----------
    networks : list of ReluNetwork
        One per output channel (``c = len(networks)``).
    d : int
        Filter length (for channels without neurons).

    Returns
    -------
    VectorReluNetwork
        ``U`` (d, sum m_k), ``W`` (sum m_k, c).
    """
    shaped = [ReluNetwork(np.asarray(net.U).reshape(-1, d), net.v) for net in networks]
    return VectorReluNetwork.from_channels(shaped)


def fit_convex_colorizer(
    problem: PatchProblem,
    cells: object,
    X: np.ndarray,
    beta: float,
    *,
    settings: dict | None = None,
) -> SeparableVectorFit:
    """The separable upper bound of the vector problem: one :func:`cvxcnn.fit` per channel.

    :func:`cvxcnn.vector.separable.fit_separable` on ``(Y, R, X)``, reported
    with the fields of :class:`cvxcnn.vector.fit.VectorFitResult`: ``upper``
    bounds the vector optimum from above (``kind`` says whether the cells were
    exact or sampled), and ``lower``/``gap`` stay None; for a lower bound and
    the gap run :func:`cvxcnn.vector.fit_vector`. Cost: one scalar solve per channel
    (``c = 2`` for ab); pass ``settings={"facets": "off"}`` at colorization
    sizes, where the default facet reduction took ~40 s for a ~4 s solve. A
    channel that is not solved to optimality gives ``success=False`` with its
    status; one with no network raises :class:`cvxcnn.solve.SolverError`.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d) and readout ``R`` (its scalar ``target`` is not used).
    cells : PatternSet
        ReLU cells of ``problem.Y``, shared by every channel.
    X : ndarray of shape (n_out, c)
        Targets (the scaled a and b channels).
    beta : float
        Weight decay, > 0.
    settings : dict, optional
        Keyword arguments of :func:`cvxcnn.fit` (solver, solver_options, facets, ...).

    Returns
    -------
    SeparableVectorFit
    """
    beta = check_positive(beta, "beta")
    X = check_finite_array(X, "X", ndim=2)
    if X.shape[0] != problem.readout.n_out:
        raise ValueError(
            f"X has {X.shape[0]} rows; the problem has {problem.readout.n_out} outputs"
        )
    start = time.perf_counter()
    sep = fit_separable(vector_problem(problem, X), cells, beta=beta, **(settings or {}))
    fits = sep.fits
    failed = [f for f in fits if not f.success]
    exact = all(f.exact_arrangement for f in fits)
    return SeparableVectorFit(
        upper=sep.objective,
        kind=f"upper bound (separable, {'exact' if exact else 'sampled'} cells)",
        status=failed[0].status if failed else "optimal",
        success=not failed,
        channel_objectives=[float(f.objective) for f in fits],
        neurons=sep.neurons,
        n_patterns=int(fits[0].n_patterns),
        seconds=time.perf_counter() - start,
        network=sep.network,
        channels=fits,
    )
