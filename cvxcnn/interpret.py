"""What a two-layer ReLU network computes: patch clustering, then linear filtering.

Sahiner et al. (ICLR 2021), section 4.2, eq. 8: on patch ``y_p`` the network
``f(y_p) = sum_i (y_p^T u_i)_+ v_i`` equals the LINEAR filter

    f(y_p) = y_p^T a_p,      a_p = sum_i d_i(p) u_i v_i,      d_i(p) = 1[y_p^T u_i >= 0]

so a forward pass first selects, per pixel, the set of active neurons (the
binary vector ``d(p)``), then applies the linear filter that set defines.
This holds for ANY ReLU network (a convex solution's reconstruction or a
network trained by gradient descent), with its own neurons giving ``d``.

Neurons whose activation patterns coincide on the images at hand act as ONE
filter there: grouped, their summed filters ``sum_{i in g} u_i v_i`` are the
*dual filters* ``w_g - z_g`` of the convex form (the reconstruction turns a
block ``w_g`` into the neuron ``u v = w_g`` and ``z_g`` into ``u v = -z_g``,
both with pattern ``D_g`` on the training patches). For a network trained by
gradient descent the groups are (almost always) single neurons with filters
``u_i v_i``.

:func:`explain` returns an :class:`Explanation`: the groups' patterns,
k-means clusters of the per-pixel vectors ``d(p)`` (scikit-learn, seeded),
the dual filters and their 2-D frequency responses ``|FFT|`` (Fig. 4), and
the largest difference between the linear reading ``y_p^T a_p`` and the
network's own output (it must be at rounding level). Figures:
:mod:`cvxcnn.interpret_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.networks import ReluNetwork, predict
from cvxcnn.problem import PatchProblem
from cvxcnn.results import Result, omitted
from cvxcnn.validation import check_positive_int

#: Side of the zero-padded FFT grid of the frequency responses.
FFT_SIZE = 16


def _check_relu(network: object) -> ReluNetwork:
    if not isinstance(network, ReluNetwork):
        raise ValueError(
            f"the clustering/linear-filter reading needs a ReLU network; got "
            f"{type(network).__name__} (a soft threshold's cells are triples, not 0/1 patterns)"
        )
    return network


def neuron_filters(network: ReluNetwork) -> np.ndarray:
    """Per-neuron effective filters ``u_i v_i``, shape (m, d)."""
    network = _check_relu(network)
    return network.U * network.v[:, None]


def activation_patterns(network: ReluNetwork, Y: np.ndarray) -> np.ndarray:
    """``d_i(p) = 1[y_p^T u_i >= 0]``, shape (n, m), bool, for ``Y`` of shape (n, d)."""
    network = _check_relu(network)
    if Y.ndim != 2 or Y.shape[1] != network.d:
        raise ValueError(
            f"Y must have shape (n, {network.d}) for this network; got {Y.shape}; build the "
            "patches with the kernel and bias the network was trained with"
        )
    return (Y @ network.U.T) >= 0


def patch_filters(network: ReluNetwork, Y: np.ndarray) -> np.ndarray:
    """The linear filter applied at each patch, ``a_p = sum_i d_i(p) u_i v_i``, shape (n, d)."""
    D = activation_patterns(network, Y).astype(np.float64)
    return D @ neuron_filters(network)


def linear_reading(network: ReluNetwork, Y: np.ndarray) -> np.ndarray:
    """``f(y_p) = y_p^T a_p`` for every patch, shape (n,) (eq. 8)."""
    return np.einsum("pd,pd->p", Y, patch_filters(network, Y))


@dataclass(frozen=True)
class FilterGroups:
    """Neurons grouped by their activation pattern on a patch matrix.

    Attributes
    ----------
    patterns : ndarray of shape (n, G), bool
        ``d_g(p)`` of each group (the columns are distinct).
    filters : ndarray of shape (G, d)
        ``sum_{i in g} u_i v_i``: the dual filter ``w_g - z_g`` of the group.
    members : ndarray of shape (m,), int
        The group of each neuron (:func:`filter_groups`), or the index of each
        active cell (:func:`dual_filter_groups`).
    """

    patterns: np.ndarray
    filters: np.ndarray
    members: np.ndarray


def filter_groups(network: ReluNetwork, Y: np.ndarray) -> FilterGroups:
    """Group the neurons whose patterns on ``Y`` (n, d) coincide; sum their filters."""
    D = activation_patterns(network, Y)
    if D.shape[1] == 0:
        return FilterGroups(D, np.zeros((0, network.d)), np.zeros(0, dtype=np.int64))
    _, first, members = np.unique(D.T, axis=0, return_index=True, return_inverse=True)
    members = members.reshape(-1)
    filters = np.zeros((first.size, network.d))
    np.add.at(filters, members, neuron_filters(network))
    return FilterGroups(D[:, first], filters, members)


def dual_filter_groups(result: object, cells: object) -> FilterGroups:
    """The convex form's own groups: active cells ``D_i`` and dual filters ``w_i - z_i``.

    Parameters
    ----------
    result : ConvexFitResult
        A ReLU fit (``result.W``, ``result.Z`` of shape (d, P)).
    cells : PatternSet or ndarray of shape (P, n), bool
        The cells the program was solved over (the training patches' ``D_i``).

    Returns
    -------
    FilterGroups
        Patterns (n, G) and filters (G, d) of the G active cells (a nonzero
        ``w_i`` or ``z_i``); ``members`` maps each active cell to its index
        among the P cells. The reading ``sum_i D_i Y (w_i - z_i)`` equals the
        reconstructed network's output on the TRAINING patches up to the
        solver's accuracy (:attr:`Explanation.group_reading_error`).
    """
    from cvxcnn.reconstruct import active_pattern_mask

    if getattr(result, "W", None) is None or getattr(result, "activation", "relu") != "relu":
        raise ValueError("dual_filter_groups needs a ReLU ConvexFitResult with W and Z")
    masks = np.asarray(getattr(cells, "masks", cells), dtype=bool)
    if masks.ndim != 2 or masks.shape[0] != result.W.shape[1]:
        raise ValueError(
            f"cells must be the {result.W.shape[1]} patterns the program was solved over; got "
            f"masks of shape {masks.shape}"
        )
    active = np.flatnonzero(active_pattern_mask(result.W, result.Z))
    filters = (result.W - result.Z)[:, active].T
    return FilterGroups(masks[active].T, np.ascontiguousarray(filters), active)


def cluster_patterns(patterns: np.ndarray, n_clusters: int, random_state: int = 0) -> np.ndarray:
    """k-means labels of the per-pixel binary vectors ``d(p)`` (rows of ``patterns``).

    Parameters
    ----------
    patterns : ndarray of shape (n, G), bool
    n_clusters : int
        ``k`` (Sahiner et al. use 12); lowered to the number of distinct rows
        when there are fewer (k-means cannot find more clusters than points).
    random_state : int
        Seeds scikit-learn's ``KMeans`` (the same seed gives the same labels).

    Returns
    -------
    ndarray of shape (n,), int
        Labels ordered by cluster size (0 = the largest cluster).
    """
    from sklearn.cluster import KMeans

    n_clusters = check_positive_int(n_clusters, "n_clusters")
    X = np.asarray(patterns, dtype=np.float64)
    k = min(n_clusters, len(np.unique(X, axis=0))) if X.shape[1] else 1
    if k <= 1:
        return np.zeros(X.shape[0], dtype=np.int64)
    labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(X)
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels]


def frequency_responses(filters: np.ndarray, problem: PatchProblem, size: int = FFT_SIZE):
    """``|FFT|`` of each filter's kernel, zero-padded to ``size`` per axis, centred.

    Parameters
    ----------
    filters : ndarray of shape (G, d)
        Rows ordered like a patch row (channels, kernel axes, then the bias).
    problem : PatchProblem
        Gives the kernel shape and channels (``problem.geometry``).
    size : int

    Returns
    -------
    ndarray of shape (G, C, *([size] * spatial_dims))
    """
    g = problem.geometry
    if g is None:
        raise ValueError("frequency responses need a problem built by make_problem (a geometry)")
    kernels = filters[:, : filters.shape[1] - int(g.bias)].reshape(
        filters.shape[0], g.in_channels, *g.kernel_size
    )
    axes = tuple(range(2, 2 + g.spatial_dims))
    spectrum = np.fft.fftn(kernels, s=(size,) * g.spatial_dims, axes=axes)
    return np.abs(np.fft.fftshift(spectrum, axes=axes))


@dataclass
class Explanation(Result):
    """The interpretation of one network on one problem (see the module docstring).

    Attributes
    ----------
    neurons, groups : int
        Neurons of the network; distinct activation patterns among them on
        these patches (the dual filters; for a convex solution on its own
        training patches: its active blocks).
    n_clusters : int
        ``k`` used (at most the one asked).
    cluster_sizes : list of int
        Pixels per cluster, largest first.
    linear_reading_error : float
        ``max_p |y_p^T a_p - f(y_p)|`` against the network's output.
    prediction_error : float
        ``max |R (y_p^T a_p)_p - R f(Y)|``: the linear reading against the
        network's prediction of the problem (:func:`cvxcnn.networks.predict`).
    group_reading_error : float
        ``max_p |sum_g d_g(p) y_p^T F_g - f(y_p)|`` over the groups drawn:
        rounding level for the network's own neurons; for the convex blocks
        (:func:`dual_filter_groups`) the solver's accuracy.
    source : {"neurons", "dual blocks"}
        What the groups are.
    output_scale : float
        ``max_p |f(y_p)|`` (what the errors compare with).
    active_per_pixel : list of float
        Min, mean and max over pixels of the active groups ``sum_g d_g(p)``.
    labels, patterns, filters, responses : ndarray
        Cluster label per patch (n,), group patterns (n, G), dual filters
        (G, d), their frequency responses (G, C, *fft grid).
    """

    neurons: int
    groups: int
    n_clusters: int
    cluster_sizes: list
    linear_reading_error: float
    prediction_error: float
    group_reading_error: float
    source: str
    output_scale: float
    active_per_pixel: list
    random_state: int
    labels: np.ndarray = omitted(repr=False)
    patterns: np.ndarray = omitted(repr=False)
    filters: np.ndarray = omitted(repr=False)
    responses: np.ndarray = omitted(repr=False)

    def _extra(self) -> dict:
        return {"filter_norms": np.linalg.norm(self.filters, axis=1)}


def explain(
    network: ReluNetwork,
    problem: PatchProblem,
    *,
    n_clusters: int = 12,
    random_state: int = 0,
    groups: FilterGroups | None = None,
) -> Explanation:
    """Patterns, clusters, dual filters and the checked linear reading of ``network``.

    Sahiner et al. section 4.2, eq. 8: on patch ``y_p`` a ReLU network is the
    linear filter ``y_p^T sum_i d_i(p) u_i v_i``, with ``d(p)`` its activation
    pattern there. The reading is exact, and checked rather than assumed:
    ``linear_reading_error`` and ``prediction_error`` compare it with the
    network's own output (rounding level, compared with ``output_scale``).
    The clusters are k-means on the patterns (seeded, not unique). Cost: one
    pass over ``Y`` plus k-means on an (n, G) 0/1 matrix.

    Parameters
    ----------
    network : ReluNetwork
        Any ReLU network (convex reconstruction, gradient-trained, loaded).
    problem : PatchProblem
        The images to explain (``problem.Y`` (n, d)), e.g. held-out images.
    n_clusters : int
        ``k`` of k-means (Sahiner et al.: 12).
    random_state : int
        Seed of k-means.
    groups : FilterGroups, optional
        The patterns and filters to cluster and draw; default: the network's
        neurons grouped by pattern on ``problem.Y`` (:func:`filter_groups`).
        Pass :func:`dual_filter_groups` for a convex solution on its own
        training problem (the blocks ``w_i - z_i`` and cells ``D_i``).

    Returns
    -------
    Explanation
    """
    network = _check_relu(network)
    Y = problem.Y
    source = "neurons"
    if groups is None:
        groups = filter_groups(network, Y)
    else:
        source = "dual blocks"
        if groups.patterns.shape[0] != problem.n or groups.filters.shape[1] != problem.d:
            raise ValueError(
                f"groups must have patterns ({problem.n}, G) and filters (G, {problem.d}) for "
                f"this problem; got {groups.patterns.shape} and {groups.filters.shape}"
            )
    by_group = np.einsum("pg,pg->p", groups.patterns, Y @ groups.filters.T)
    output = network.output(Y)
    linear = linear_reading(network, Y)
    values = problem.readout.apply(linear)
    reference = predict(network, problem)
    labels = cluster_patterns(groups.patterns, n_clusters, random_state)
    responses = np.zeros((groups.filters.shape[0], 0))
    if problem.geometry is not None:
        responses = frequency_responses(groups.filters, problem)
    active = groups.patterns.sum(axis=1)
    return Explanation(
        neurons=network.n_neurons,
        groups=groups.filters.shape[0],
        n_clusters=int(labels.max()) + 1 if labels.size else 0,
        cluster_sizes=np.bincount(labels).tolist(),
        linear_reading_error=float(np.max(np.abs(linear - output), initial=0.0)),
        prediction_error=float(np.max(np.abs(values - reference), initial=0.0)),
        group_reading_error=float(np.max(np.abs(by_group - output), initial=0.0)),
        source=source,
        output_scale=float(np.max(np.abs(output), initial=0.0)),
        active_per_pixel=[float(active.min()), float(active.mean()), float(active.max())],
        random_state=int(random_state),
        labels=labels,
        patterns=groups.patterns,
        filters=groups.filters,
        responses=responses,
    )
