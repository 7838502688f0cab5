"""Q^S triples of a patch matrix: the soft-threshold analogue of ReLU sign patterns.

Soft thresholding ``tau_t(a) = sign(a) * max(|a| - t, 0)`` splits the rows of
``Y`` (n, d), for a generator ``(u, t)`` with ``t >= 0``, into

- ``S1 = {i : y_i^T u <= -t}`` (negative side, output ``y_i^T u + t``),
- ``S3 = {i : y_i^T u >= t}`` (positive side, output ``y_i^T u - t``),
- ``S2`` = the rest (dead zone, output 0).

With ``h = Y u`` the gains ``q_i = (h_i + t) / h_i`` on S1, ``(h_i - t) / h_i``
on S3 and 0 on S2 give ``tau_t(Y u) = diag(q) Y u`` (Xiong et al. eq. 9); the
gains are invariant under ``(u, t) -> (e u, e t)``, ``e > 0``.

Sampled triples (:func:`sample_st_triples`)
    ``u ~ N(0, I_d)`` (or a data-directed direction), then the number ``k`` of
    dead-zone rows is drawn uniformly from ``{0, ..., n - 1}`` and ``t`` is put
    half-way between the ``k``-th and ``(k+1)``-th smallest ``|y_i^T u|``
    (``t = |h|_(1) / 2`` for ``k = 0``), so no row lies on a breakpoint. With a
    fixed ``threshold`` the generator is then rescaled to ``(u * lambda / t,
    lambda)``: the same triple and the same gains.
Exact triples (:func:`enumerate_st_triples`)
    One per full-dimensional cell of the arrangement of the ``2n`` hyperplanes
    ``y_i^T u = +-t`` in ``(u, t)``-space, intersected with ``t > 0``: the
    cells of the central arrangement of the rows ``[y_i, -1]``, ``[y_i, +1]``
    and ``[0, ..., 0, 1]`` (enumerated by
    :func:`cvxcnn.arrangements.enumerate_relu_patterns`) on the positive side
    of the last row. For generic data there are
    ``sum_{k <= d} C(n, k) 2^k`` of them (:func:`st_count_bound`).
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass

import numpy as np

from cvxcnn.arrangements import (
    ArrangementTooLargeError,
    CellSet,
    enumerate_relu_patterns,
    first_unique_rows,
    matrix_digest,
    relu_count_bound,
    sample_generators,
)
from cvxcnn.validation import (
    check_finite_array,
    check_fraction,
    check_patch_matrix,
    check_positive,
    check_positive_int,
    check_random_state,
)

__all__ = [
    "TripleSet",
    "enumerate_st_triples",
    "sample_st_triples",
    "soft_threshold",
    "st_count_bound",
    "triple_gains",
    "triples_from_generators",
]


def soft_threshold(a: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """``tau_t(a) = sign(a) * max(|a| - t, 0)``, elementwise with broadcasting.

    Parameters
    ----------
    a : ndarray
        Pre-activations, e.g. ``Y @ U.T`` of shape (n, m).
    t : float or ndarray
        Thresholds ``>= 0``, broadcast against ``a`` (shape (m,) for (n, m)).
    """
    a = np.asarray(a, dtype=np.float64)
    return np.sign(a) * np.maximum(np.abs(a) - t, 0.0)


def st_count_bound(n: int, rank: int) -> int:
    """Number of ST triples of ``n`` generic rows of rank ``rank``: ``sum_{k<=rank} C(n, k) 2^k``.

    It counts the regions of the affine arrangement of the ``2n`` hyperplanes
    ``y_i^T u = +-1`` (the slice ``t = 1`` of the cones): a region touches
    one vertex per choice of ``k <= rank`` rows and one sign for each.

    Parameters
    ----------
    n : int
        Number of distinct nonzero rows (up to sign), >= 0.
    rank : int
        Rank of those rows, >= 0.

    Returns
    -------
    int
        Exact Python integer; 201, 289, 1161 for (n, rank) = (10, 2), (12, 2), (10, 3).
    """
    n = check_positive_int(n, "n", minimum=0)
    rank = check_positive_int(rank, "rank", minimum=0)
    return sum(math.comb(n, k) * 2**k for k in range(min(n, rank) + 1))


def triple_gains(
    Y: np.ndarray,
    generators: np.ndarray,
    thresholds: np.ndarray,
    s1: np.ndarray,
    s3: np.ndarray,
) -> np.ndarray:
    """Gains ``q`` (P, n) of Xiong et al. eq. 9, so that ``tau_t(Y u) = q * (Y u)``.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    generators : ndarray of shape (P, d)
    thresholds : ndarray of shape (P,)
    s1, s3 : ndarray of shape (P, n), bool

    Returns
    -------
    ndarray of shape (P, n)
        ``(h + t)/h`` on S1, ``(h - t)/h`` on S3, 0 elsewhere (and 0 where ``h = 0``).
    """
    h = generators @ Y.T  # (P, n)
    t = thresholds[:, None]
    num = np.where(s1, h + t, np.where(s3, h - t, 0.0))
    return np.divide(num, h, out=np.zeros_like(h), where=(h != 0) & (s1 | s3))


@dataclass(frozen=True, eq=False, repr=False)
class TripleSet(CellSet):
    """A deduplicated set of soft-threshold triples with one generator each.

    The arrays are positional, ``exact`` and what follows it keyword-only:
    ``TripleSet(s1, s3, generators, thresholds, gains, exact=..., method=...,
    count_bound=...)``.

    Attributes
    ----------
    s1, s3 : ndarray of shape (P, n), bool
        ``s1[j, i] = (y_i^T u_j <= -t_j)``, ``s3[j, i] = (y_i^T u_j >= t_j)``;
        disjoint. The dead zone is ``~(s1 | s3)`` (:attr:`s2`).
    generators : ndarray of shape (P, d)
        ``u_j``; for exact sets an interior point of the cell (strict inequalities).
    thresholds : ndarray of shape (P,)
        ``t_j >= 0``.
    gains : ndarray of shape (P, n)
        Xiong et al.'s ``Q^S`` diagonals (:func:`triple_gains`), used by the paper form.
    exact : bool
        True only when the set is every full-dimensional cell of the ST
        arrangement (restricted to ``t > 0``).
    method : str
        ``"uniform-dead-zone"``, ``"data-directed"``, ``"mixed"``, ``"vertex"``,
        ``"lp-incremental"`` or ``"given"``.
    count_bound : int
        :func:`st_count_bound` of the distinct nonzero rows of ``Y``.
    digest, exact_count : str, int
        Set by exact enumeration: :func:`cvxcnn.arrangements.matrix_digest`
        of ``Y`` and the number of triples found; a certificate trusts
        ``exact`` only when they match its own problem
        (:meth:`cvxcnn.activations.SoftThreshold.verify_exact`).

    The arrays are stored as read-only views.
    """

    s1: np.ndarray
    s3: np.ndarray
    generators: np.ndarray
    thresholds: np.ndarray
    gains: np.ndarray
    _: KW_ONLY
    exact: bool
    method: str
    count_bound: int
    digest: str = ""
    exact_count: int = 0

    cell_arrays = ("s1", "s3", "generators", "thresholds", "gains")
    count_name = "n_triples"

    def __post_init__(self) -> None:
        s1, s3 = np.asarray(self.s1), np.asarray(self.s3)
        if s1.ndim != 2 or s1.dtype != np.bool_ or s3.shape != s1.shape or s3.dtype != np.bool_:
            raise ValueError(
                f"s1 and s3 must be 2-D bool arrays (P, n) of one shape; got {s1.dtype} "
                f"{s1.shape} and {s3.dtype} {s3.shape}"
            )
        if np.any(s1 & s3):
            raise ValueError("s1 and s3 must be disjoint: a row cannot be on both sides")
        P = s1.shape[0]
        gens = np.asarray(self.generators, dtype=np.float64)
        thr = np.asarray(self.thresholds, dtype=np.float64).reshape(-1)
        gains = np.asarray(self.gains, dtype=np.float64)
        if gens.ndim != 2 or gens.shape[0] != P:
            raise ValueError(f"generators must be (P={P}, d); got shape {gens.shape}")
        if thr.shape != (P,) or np.any(thr < 0) or not np.all(np.isfinite(thr)):
            raise ValueError(f"thresholds must be (P={P},) finite and >= 0; got shape {thr.shape}")
        if gains.shape != s1.shape:
            raise ValueError(f"gains must have the shape of s1 {s1.shape}; got {gains.shape}")
        self._freeze(s1=s1, s3=s3, generators=gens, thresholds=thr, gains=gains)

    @property
    def s2(self) -> np.ndarray:
        """Dead-zone rows, (P, n) bool."""
        return ~(self.s1 | self.s3)

    @property
    def n_triples(self) -> int:
        """Number of triples ``P``."""
        return len(self)

    @property
    def live(self) -> np.ndarray:
        """(P,) bool: triples with at least one row outside the dead zone.

        An all-dead triple contributes nothing to any program (its output is 0).
        """
        return np.any(self.s1 | self.s3, axis=1)

    def keys(self) -> set[bytes]:
        """The set of triples as hashable keys (packed ``[s1, s3]``), for comparisons."""
        packed = np.packbits(np.hstack([self.s1, self.s3]), axis=1)
        return {row.tobytes() for row in packed}

    def at_threshold(self, threshold: float) -> TripleSet:
        """The same triples with generators rescaled to ``t = threshold`` (> 0).

        ``(u, t) -> (u * threshold / t, threshold)`` keeps the triple and the
        gains. Generators with ``t = 0`` cannot be rescaled; they are kept as
        they are (their gains are 1 on S1 and S3: a linear neuron).
        """
        lam = check_positive(threshold, "threshold")
        t = self.thresholds
        scale = np.divide(lam, t, out=np.ones_like(t), where=t > 0)
        return TripleSet(
            s1=self.s1,
            s3=self.s3,
            generators=self.generators * scale[:, None],
            thresholds=np.where(t > 0, lam, 0.0),
            gains=self.gains,
            exact=self.exact,
            method=self.method,
            count_bound=self.count_bound,
        )


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _distinct_rows_up_to_sign(Y: np.ndarray) -> np.ndarray:
    """Distinct nonzero rows of ``Y`` up to sign (``y`` and ``-y`` give the same pair ``+-t``)."""
    Z = Y[np.any(Y != 0, axis=1)]
    if Z.shape[0] == 0:
        return Z
    lead = np.argmax(Z != 0, axis=1)
    sign = np.sign(Z[np.arange(Z.shape[0]), lead])
    canon = Z * sign[:, None] + 0.0
    return np.unique(np.round(canon, 12), axis=0)


def _rank(Z: np.ndarray) -> int:
    if Z.shape[0] == 0:
        return 0
    s = np.linalg.svd(Z, compute_uv=False)
    return int(np.sum(s > s[0] * max(Z.shape) * np.finfo(np.float64).eps))


def _count_bound_of(Y: np.ndarray) -> int:
    Z = _distinct_rows_up_to_sign(Y)
    return st_count_bound(Z.shape[0], _rank(Z))


def _partition(Y: np.ndarray, U: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = U @ Y.T
    return h <= -t[:, None], h >= t[:, None]


# --------------------------------------------------------------------------- #
# Sampled triples
# --------------------------------------------------------------------------- #


def triples_from_generators(
    Y: object, U: object, thresholds: object, *, method: str = "given"
) -> TripleSet:
    """Triples of given generators ``(u_j, t_j)``, deduplicated by ``(S1, S3)`` (first kept).

    Parameters
    ----------
    Y : array_like of shape (n, d)
    U : array_like of shape (P, d)
    thresholds : float or array_like of shape (P,)
        ``t_j >= 0`` (a scalar is used for every generator).
    method : str
        Stored as ``TripleSet.method``.

    Returns
    -------
    TripleSet
        ``exact=False``.
    """
    Y = check_patch_matrix(Y)
    U = check_finite_array(U, "U", ndim=2)
    if U.shape[1] != Y.shape[1]:
        raise ValueError(f"U must have d={Y.shape[1]} columns (those of Y); got shape {U.shape}")
    t = np.broadcast_to(check_finite_array(thresholds, "thresholds", ndim=(0, 1)), (U.shape[0],))
    if np.any(t < 0):
        raise ValueError("thresholds must be >= 0")
    t = np.array(t, dtype=np.float64)
    s1, s3 = _partition(Y, U, t)
    keep = first_unique_rows(np.hstack([s1, s3]))
    U, t, s1, s3 = U[keep], t[keep], s1[keep], s3[keep]
    return TripleSet(
        s1=s1,
        s3=s3,
        generators=np.array(U, dtype=np.float64),
        thresholds=t,
        gains=triple_gains(Y, U, t, s1, s3),
        exact=False,
        method=str(method),
        count_bound=_count_bound_of(Y),
    )


def _uniform_dead_zone_thresholds(
    Y: np.ndarray, U: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Thresholds with a dead zone of ``k ~ U{0, ..., n-1}`` rows, half-way between breakpoints."""
    n = Y.shape[0]
    a = np.sort(np.abs(U @ Y.T), axis=1)  # (P, n)
    k = rng.integers(0, n, size=U.shape[0])  # rows in the dead zone
    rows = np.arange(U.shape[0])
    above = a[rows, k]  # the (k+1)-th smallest |h|: first row outside the dead zone
    below = np.where(k > 0, a[rows, np.maximum(k - 1, 0)], 0.0)
    return 0.5 * (below + above)


def sample_st_triples(
    Y: object,
    n_samples: int,
    *,
    threshold: float | None = None,
    data_directed: float = 0.0,
    random_state: object = None,
) -> TripleSet:
    """Triples of random generators, deduplicated by ``(S1, S3)``.

    A generator ``(u, t)`` splits the rows into ``Y u <= -t`` (S1), the dead
    zone (S2) and ``Y u >= t`` (S3) (DESIGN.md section 6a). Like sampled ReLU
    patterns, the program over a sample is an upper bound and a certificate
    over it is only ESTIMATED (:func:`enumerate_st_triples` certifies).

    Parameters
    ----------
    Y : array_like of shape (n, d)
    n_samples : int
        Generators drawn (>= 1); the result has at most this many triples.
    threshold : float, optional
        Fixed ``lambda > 0``: every generator is rescaled to ``t = lambda``
        (the triple and its gains do not change). ``None``: thresholds as drawn.
    data_directed : float
        Fraction in [0, 1] of directions taken from the data (a random row of
        ``Y`` or the difference of two, plus a small jitter); the rest are
        ``N(0, I_d)``.
    random_state : None, int or numpy.random.Generator
        Seed of every random choice.

    Returns
    -------
    TripleSet
        ``exact=False``; method ``"uniform-dead-zone"`` (Gaussian directions),
        ``"data-directed"`` or ``"mixed"``.

    Notes
    -----
    Threshold distribution: for a direction ``u`` the number ``k`` of rows in
    the dead zone is uniform on ``{0, ..., n - 1}`` and ``t`` is the midpoint
    of the ``k``-th and ``(k+1)``-th smallest ``|y_i^T u|`` (half the smallest
    for ``k = 0``), so every dead-zone size is equally likely and no row sits
    on a breakpoint. ``(u, t)`` and ``(e u, e t)`` give the same triple, so the
    scale of ``u`` is immaterial.
    """
    Y = check_patch_matrix(Y)
    n_samples = check_positive_int(n_samples, "n_samples")
    data_directed = check_fraction(data_directed, "data_directed")
    if threshold is not None:
        threshold = check_positive(threshold, "threshold")
    rng = check_random_state(random_state)
    U, method = sample_generators(
        Y, n_samples, data_directed, rng, gaussian_method="uniform-dead-zone"
    )
    t = _uniform_dead_zone_thresholds(Y, U, rng)
    triples = triples_from_generators(Y, U, t, method=method)
    return triples if threshold is None else triples.at_threshold(threshold)


# --------------------------------------------------------------------------- #
# Exact enumeration
# --------------------------------------------------------------------------- #


def augmented_matrix(Y: np.ndarray) -> np.ndarray:
    """The (2n + 1, d + 1) matrix whose central arrangement gives the ST cells.

    Rows ``[y_i, -1]`` (value ``y_i^T u - t``), then ``[y_i, +1]`` (value
    ``y_i^T u + t``), then ``[0, ..., 0, 1]`` (value ``t``).
    """
    n, d = Y.shape
    top = np.hstack([Y, -np.ones((n, 1))])
    mid = np.hstack([Y, np.ones((n, 1))])
    last = np.zeros((1, d + 1))
    last[0, -1] = 1.0
    return np.vstack([top, mid, last])


def enumerate_st_triples(
    Y: object,
    *,
    max_cells: int = 200_000,
    **relu_options: object,
) -> TripleSet:
    """Every soft-threshold triple of ``Y``: one per full-dimensional cell with ``t > 0``.

    The cells are those of the ReLU arrangement of :func:`augmented_matrix`
    (``Y`` with ``-t`` and ``+t`` columns, and ``t``) on the side ``t > 0``.

    Parameters
    ----------
    Y : array_like of shape (n, d)
    max_cells : int
        Refuse with :class:`cvxcnn.arrangements.ArrangementTooLargeError` when
        :func:`st_count_bound` of the distinct nonzero rows (up to sign)
        exceeds this. Checked before any enumeration work.
    **relu_options
        ``method`` ("vertex" or "lp") and ``progress`` of
        :func:`cvxcnn.arrangements.enumerate_relu_patterns`, which enumerates
        the augmented arrangement.

    Returns
    -------
    TripleSet
        ``exact=True``; generators ``(u, t)`` interior to their cells (every
        row strictly inside S1, S2 or S3, ``t > 0``).

    Raises
    ------
    ArrangementTooLargeError
    """
    Y = check_patch_matrix(Y)
    max_cells = check_positive_int(max_cells, "max_cells")
    n, d = Y.shape
    Z = _distinct_rows_up_to_sign(Y)
    rank = _rank(Z)
    bound = st_count_bound(Z.shape[0], rank)
    if bound > max_cells:
        raise ArrangementTooLargeError(
            f"exact ST triple enumeration refused: {Z.shape[0]} distinct rows (from {n} rows "
            f"of Y, up to sign) of rank {rank} can have up to {bound} triples "
            f"(sum_{{k<={rank}}} C({Z.shape[0]}, k) 2^k), more than max_cells={max_cells}. "
            "Raise max_cells, use fewer patches or a smaller kernel, or sample triples "
            "instead (sample_st_triples)."
        )
    A = augmented_matrix(Y)
    # the ReLU refusal counts cells on both sides of t = 0: never binding after the check above
    cells = enumerate_relu_patterns(
        A, max_cells=relu_count_bound(A.shape[0], d + 1), **relu_options
    )
    positive = cells.masks[:, -1]
    masks, gens = cells.masks[positive], cells.generators[positive]
    s3 = masks[:, :n].copy()
    s1 = ~masks[:, n : 2 * n]
    U, t = gens[:, :d], gens[:, d]
    return TripleSet(
        s1=s1,
        s3=s3,
        generators=U,
        thresholds=t,
        gains=triple_gains(Y, U, t, s1, s3),
        exact=True,
        method=cells.method,
        count_bound=bound,
        digest=matrix_digest(Y),
        exact_count=int(s1.shape[0]),
    )
