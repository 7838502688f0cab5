"""ReLU sign patterns of a patch matrix: sampled and exact (DESIGN.md section 3).

A ReLU sign pattern of the patch matrix ``Y`` (n x d) is the boolean vector
``D = 1[Y u >= 0]`` for some ``u`` in ``R^d``; zero rows of ``Y`` are
therefore always ``True``. The exact set is one pattern per full-dimensional
cell of the central hyperplane arrangement ``{u : y_j^T u = 0}``; it has at
most ``relu_count_bound(n, rank(Y))`` elements, with equality for generic
data.

Two exact methods:

``"vertex"`` (fast)
    Every cell of an arrangement with trivial lineality space is a pointed
    cone, so it has an extreme ray where ``r - 1`` independent rows vanish.
    All such rays are visited (one vectorized null-vector computation per
    ``(r - 1)``-subset of distinct rows); the cells around a ray in general
    position are read off directly, those around a degenerate ray (more than
    ``r - 1`` rows through it) come from the arrangement of the rows through
    it, solved recursively one dimension down. No LP unless a generator fails
    the final check.
``"lp"`` (slow reference)
    Add hyperplanes one at a time, keeping one interior witness per cell; the
    side of the new hyperplane that holds the witness needs no LP, the other
    side one feasibility LP (HiGHS).

Sampled patterns come from Gaussian generators ``u ~ N(0, I_d)`` and/or
data-directed generators (a patch, or a difference of two patches, plus a
small jitter), deduplicated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from tqdm.auto import tqdm

from cvxcnn.validation import (
    check_finite_array,
    check_fraction,
    check_patch_matrix,
    check_positive_int,
    check_random_state,
)

__all__ = [
    "ArrangementTooLargeError",
    "CellSet",
    "PatternSet",
    "enumerate_relu_patterns",
    "patterns_from_generators",
    "relu_count_bound",
    "sample_generators",
    "sample_relu_patterns",
    "stream_relu_patterns",
]

_LOG = logging.getLogger(__name__)

EXACT_METHODS = ("vertex", "lp")

# Numerical tolerances; rows of the arrangement are unit vectors when they apply.
_PARALLEL_TOL = 1e-9  # two unit rows closer than this (up to sign) are one hyperplane
_ROUND_DECIMALS = 10  # exact-duplicate pre-pass before the pairwise parallel test
_VOLUME_TOL = 1e-10  # an (r-1)-subset of unit rows with smaller volume is dependent
_VANISH_TOL = 1e-9  # |y^T rho| below this: the row passes through the ray rho
_LP_TOL = 1e-9  # a cell is full-dimensional iff its max-slack LP optimum exceeds this
_WITNESS_TOL = 1e-9  # the LP method trusts a witness's side only beyond this margin
_JITTER = 1e-3  # relative size of the jitter added to data-directed generators
_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
_CHUNK_ELEMENTS = 1 << 21  # target size of the per-chunk work arrays


class ArrangementTooLargeError(ValueError):
    """Raised when exact enumeration would exceed the caller's ``max_cells``."""


def matrix_digest(Y: np.ndarray) -> str:
    """SHA-256 of a patch matrix (shape and float64 bytes), kept by exact cell sets.

    A set enumerated from ``Y`` stores this digest and its cell count; a
    certificate is "certified" only when the digest of ITS problem's ``Y``
    matches, no cell is missing, and every cell is reproduced by its
    generator on that ``Y`` (see :meth:`Activation.verify_exact`).

    Parameters
    ----------
    Y : ndarray of shape (n, d)

    Returns
    -------
    str
        Hex digest.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    h = hashlib.sha256(str(Y.shape).encode())
    h.update(Y.tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- #
# Cell sets
# --------------------------------------------------------------------------- #


def read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (any shape)."""
    view = arr.view()
    view.flags.writeable = False
    return view


class CellSet:
    """What every deduplicated cell set (:class:`PatternSet`, ``TripleSet``) shares.

    A subclass is a frozen dataclass whose per-cell arrays (first axis ``P``,
    the first one of shape (P, n)) are named in :attr:`cell_arrays`, with the
    fields ``exact``, ``method``, ``count_bound``, ``digest`` and ``exact_count``.
    """

    #: Names of the per-cell arrays, each with one row per cell.
    cell_arrays: tuple[str, ...] = ()
    #: Name of the cell count in ``repr``.
    count_name: str = "n_cells"

    exact: bool
    method: str
    count_bound: int
    digest: str
    exact_count: int

    def _freeze(self, **arrays: np.ndarray) -> None:
        """Store ``arrays`` as read-only views, ``exact`` as bool, ``count_bound`` as int."""
        for name, arr in arrays.items():
            object.__setattr__(self, name, read_only(arr))
        object.__setattr__(self, "exact", bool(self.exact))
        object.__setattr__(self, "count_bound", int(self.count_bound))

    @property
    def n_rows(self) -> int:
        """Number of rows ``n`` of the patch matrix."""
        return int(getattr(self, self.cell_arrays[0]).shape[1])

    def __len__(self) -> int:
        return int(getattr(self, self.cell_arrays[0]).shape[0])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.count_name}={len(self)}, n_rows={self.n_rows}, "
            f"exact={self.exact}, method={self.method!r}, count_bound={self.count_bound})"
        )

    def subset(self, index: object) -> CellSet:
        """Cells selected by ``index`` (int, slice, int array or bool mask of length P).

        The result is exact only when this set is exact and ``index`` selects
        every cell exactly once (in any order).
        """
        n_cells = len(self)
        idx = np.atleast_1d(np.arange(n_cells)[index])
        covers_all = idx.size == n_cells and np.unique(idx).size == n_cells
        return dataclasses.replace(
            self,
            **{name: getattr(self, name)[idx] for name in self.cell_arrays},
            exact=self.exact and covers_all,
            digest=self.digest if covers_all else "",
            exact_count=self.exact_count if covers_all else 0,
        )


# --------------------------------------------------------------------------- #
# PatternSet
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False, repr=False)
class PatternSet(CellSet):
    """A deduplicated set of ReLU sign patterns with one generator per pattern.

    Attributes
    ----------
    masks : ndarray of shape (P, n), bool
        ``masks[i, j] = (Y[j] @ generators[i] >= 0)``.
    generators : ndarray of shape (P, d), float64
        A vector producing each pattern; for exact sets an interior point of
        the cell (every nonzero row has a strict sign).
    exact : bool
        True only when the set is every full-dimensional cell of the central
        arrangement of the rows of ``Y``.
    method : str
        ``"gaussian"``, ``"data-directed"``, ``"mixed"``, ``"vertex"``,
        ``"lp-incremental"`` or ``"given"``.
    count_bound : int
        ``relu_count_bound(n, rank(Y))``.
    digest, exact_count : str, int
        Set by exact enumeration: :func:`matrix_digest` of the ``Y`` it was
        enumerated from and the number of cells found. A certificate trusts
        ``exact`` only when these match its own problem
        (:meth:`cvxcnn.activations.Relu.verify_exact`); empty/0 otherwise.

    The arrays are stored as read-only views.
    """

    masks: np.ndarray
    generators: np.ndarray
    exact: bool
    method: str
    count_bound: int
    digest: str = ""
    exact_count: int = 0

    cell_arrays = ("masks", "generators")
    count_name = "n_patterns"

    def __post_init__(self) -> None:
        masks = np.asarray(self.masks)
        if masks.ndim != 2 or masks.dtype != np.bool_:
            raise ValueError(
                f"masks must be a 2-D bool array (P, n); got dtype {masks.dtype}, "
                f"shape {masks.shape}"
            )
        gens = np.asarray(self.generators, dtype=np.float64)
        if gens.ndim != 2 or gens.shape[0] != masks.shape[0]:
            raise ValueError(
                f"generators must be a 2-D array with one row per mask ({masks.shape[0]}); "
                f"got shape {gens.shape}"
            )
        self._freeze(masks=masks, generators=gens)

    @property
    def n_patterns(self) -> int:
        """Number of patterns ``P``."""
        return len(self)

    def union(self, other: PatternSet) -> PatternSet:
        """Deduplicated union; patterns of ``self`` come first and keep their generators.

        The result is exact if either operand is. Its method is the common
        method, else the exact operand's, else ``"mixed"``.
        """
        if not isinstance(other, PatternSet):
            raise TypeError(f"other must be a PatternSet; got {type(other).__name__}")
        if other.n_rows != self.n_rows or other.generators.shape[1] != self.generators.shape[1]:
            raise ValueError(
                "pattern sets of different patch matrices: "
                f"(n, d) = ({self.n_rows}, {self.generators.shape[1]}) vs "
                f"({other.n_rows}, {other.generators.shape[1]})"
            )
        masks = np.concatenate([self.masks, other.masks])
        gens = np.concatenate([self.generators, other.generators])
        keep = first_unique_rows(masks)
        if self.method == other.method:
            method = self.method
        elif self.exact != other.exact:
            method = self.method if self.exact else other.method
        else:
            method = "mixed"
        return PatternSet(
            masks=masks[keep],
            generators=gens[keep],
            exact=self.exact or other.exact,
            method=method,
            count_bound=max(self.count_bound, other.count_bound),
            digest=self.digest if self.exact else other.digest,
            exact_count=self.exact_count if self.exact else other.exact_count,
        )


# --------------------------------------------------------------------------- #
# Counting, validation and small helpers
# --------------------------------------------------------------------------- #


def relu_count_bound(n: int, rank: int) -> int:
    """Upper bound on the number of ReLU patterns: ``2 * sum_{k<rank} C(n-1, k)``.

    Parameters
    ----------
    n : int
        Number of rows (hyperplanes), >= 1.
    rank : int
        Rank of the patch matrix, >= 0. For ``rank >= n`` the bound is ``2**n``;
        for ``rank == 0`` (all rows zero) it is 1 (the single all-True pattern).

    Returns
    -------
    int
        Exact Python integer.
    """
    n = check_positive_int(n, "n", minimum=1)
    rank = check_positive_int(rank, "rank", minimum=0)
    if rank == 0:
        return 1
    return 2 * sum(math.comb(n - 1, k) for k in range(min(rank, n)))


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    """Rows of ``Z`` (all nonzero) scaled to unit Euclidean norm."""
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def _nonzero_rows(Y: np.ndarray) -> np.ndarray:
    """Bool (n,): rows of ``Y`` with at least one nonzero entry."""
    return np.any(Y != 0, axis=1)


def _rank_of_rows(Z: np.ndarray) -> int:
    """Numerical rank of the row-normalized nonzero rows ``Z`` (scale invariant)."""
    if Z.shape[0] == 0:
        return 0
    svals = np.linalg.svd(_unit_rows(Z), compute_uv=False)
    return int(np.sum(svals > svals[0] * max(Z.shape) * np.finfo(np.float64).eps))


def _chunk_size(per_item: int, cap: int = 8192) -> int:
    return max(1, min(cap, _CHUNK_ELEMENTS // max(1, per_item)))


def _mask_words(masks: np.ndarray) -> np.ndarray:
    """Bool masks (N, n) bit-packed into (N, ceil(n / 64)) uint64 words."""
    packed = np.packbits(masks, axis=1)
    n_bytes = -(-packed.shape[1] // 8) * 8
    padded = np.zeros((packed.shape[0], n_bytes), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view(np.uint64)


def _words_to_masks(words: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`_mask_words`: (N, w) uint64 -> bool (N, n)."""
    return np.unpackbits(words.view(np.uint8), axis=1, count=n).astype(bool)


def _group_rows(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of a 2-D integer array, vectorized (lexsort).

    Returns ``order`` (N,), a stable sort putting equal rows together, and
    ``starts``, the positions in ``order`` where each group begins; so
    ``order[starts]`` is the first occurrence of each distinct row.
    """
    if words.shape[0] == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.lexsort(words.T[::-1])
    ordered = words[order]
    new = np.ones(words.shape[0], dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    return order, np.flatnonzero(new)


def first_unique_rows(masks: np.ndarray) -> np.ndarray:
    """Sorted indices (k,) of the first occurrence of each distinct row of bool ``masks`` (N, n)."""
    order, starts = _group_rows(_mask_words(masks))
    return np.sort(order[starts])


def _sign_masks(Y: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``(Y @ G.T >= 0).T`` of shape (m, n), computed in chunks of generators."""
    n = Y.shape[0]
    out = np.empty((G.shape[0], n), dtype=bool)
    step = _chunk_size(n)
    for start in range(0, G.shape[0], step):
        out[start : start + step] = (Y @ G[start : start + step].T >= 0).T
    return out


# --------------------------------------------------------------------------- #
# Sampled patterns
# --------------------------------------------------------------------------- #


def patterns_from_generators(Y: object, U: object, *, method: str = "given") -> PatternSet:
    """Sign patterns of given generators, deduplicated (first generator kept).

    Parameters
    ----------
    Y : array_like of shape (n, d)
        Patch matrix.
    U : array_like of shape (m, d)
        Generators; pattern ``i`` is ``Y @ U[i] >= 0``.
    method : str
        Stored as ``PatternSet.method``.

    Returns
    -------
    PatternSet
        At most ``m`` patterns in order of first appearance, ``exact=False``.
    """
    Y = check_patch_matrix(Y)
    U = check_finite_array(U, "U", ndim=2)
    if U.shape[1] != Y.shape[1]:
        raise ValueError(
            f"U must have d={Y.shape[1]} columns (the columns of Y); got shape {U.shape}"
        )
    masks = _sign_masks(Y, U)
    keep = first_unique_rows(masks)
    rank = _rank_of_rows(Y[_nonzero_rows(Y)])
    return PatternSet(
        masks=masks[keep],
        generators=np.array(U[keep], dtype=np.float64),
        exact=False,
        method=str(method),
        count_bound=relu_count_bound(Y.shape[0], rank),
    )


def data_directed_generators(Y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` generators: a random nonzero row, or a difference of two, plus a jitter.

    The jitter is Gaussian with norm about ``_JITTER * max(|u|, median row norm)``
    so that the generator lies on no hyperplane.
    """
    n, d = Y.shape
    nonzero = np.flatnonzero(_nonzero_rows(Y))
    pool = nonzero if nonzero.size else np.arange(n)
    first = Y[rng.choice(pool, size=k)]
    second = Y[rng.choice(pool, size=k)]
    use_difference = rng.random(k) < 0.5
    U = first - np.where(use_difference[:, None], second, 0.0)
    norms = np.linalg.norm(Y[nonzero], axis=1)
    ref = float(np.median(norms)) if norms.size else 1.0
    scale = _JITTER * np.maximum(np.linalg.norm(U, axis=1), ref) / math.sqrt(d)
    return U + scale[:, None] * rng.standard_normal((k, d))


def sample_generators(
    Y: np.ndarray,
    n_samples: int,
    data_directed: float,
    rng: np.random.Generator,
    *,
    gaussian_method: str = "gaussian",
) -> tuple[np.ndarray, str]:
    """Random generators: Gaussian first, then data-directed (the sampling of every cell type).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    n_samples : int
        Number of generators, >= 1.
    data_directed : float
        Fraction in [0, 1] (validated by the caller) drawn by
        :func:`data_directed_generators`; the rest are ``N(0, I_d)``.
    rng : numpy.random.Generator
    gaussian_method : str
        Method name when every generator is Gaussian.

    Returns
    -------
    (ndarray of shape (n_samples, d), str)
        The generators and the method: ``gaussian_method``, ``"data-directed"`` or ``"mixed"``.
    """
    n_directed = int(round(data_directed * n_samples))
    n_gaussian = n_samples - n_directed
    d = Y.shape[1]
    U = np.empty((n_samples, d))
    U[:n_gaussian] = rng.standard_normal((n_gaussian, d))
    if n_directed:
        U[n_gaussian:] = data_directed_generators(Y, n_directed, rng)
    if n_directed == 0:
        return U, gaussian_method
    return U, "data-directed" if n_gaussian == 0 else "mixed"


def sample_relu_patterns(
    Y: object,
    n_samples: int,
    *,
    data_directed: float = 0.0,
    random_state: object = None,
) -> PatternSet:
    """Sign patterns of random generators, deduplicated.

    Each generator ``u`` gives the mask ``1[Y u >= 0]`` of the cell it lies in
    (DESIGN.md section 3). A sample is part of the arrangement: the program
    over it is an upper bound, and a certificate over it is only ESTIMATED
    (:func:`enumerate_relu_patterns` or the MIP oracle certify).

    Parameters
    ----------
    Y : array_like of shape (n, d)
        Patch matrix.
    n_samples : int
        Number of generators drawn (>= 1); the result has at most this many patterns.
    data_directed : float
        Fraction in [0, 1] of data-directed generators (a random row of ``Y`` or
        the difference of two, plus a small Gaussian jitter); the rest are
        ``N(0, I_d)``. They reach small cells that Gaussian sampling misses.
    random_state : None, int or numpy.random.Generator
        Seed of every random choice.

    Returns
    -------
    PatternSet
        ``exact=False``; method ``"gaussian"``, ``"data-directed"`` or
        ``"mixed"`` (by the generators actually drawn). Gaussian generators
        come first, so a duplicate keeps its Gaussian generator.
    """
    Y = check_patch_matrix(Y)
    n_samples = check_positive_int(n_samples, "n_samples")
    fraction = check_fraction(data_directed, "data_directed")
    rng = check_random_state(random_state)
    U, method = sample_generators(Y, n_samples, fraction, rng)
    return patterns_from_generators(Y, U, method=method)


# --------------------------------------------------------------------------- #
# Reduction: distinct hyperplanes in the row space
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class HyperplaneReduction:
    """Nonzero rows ``Z`` (m0, k) reduced to distinct unit hyperplanes in ``R^r``.

    ``Z[i] / |Z[i]| ~ (-1)**flip[i] * basis @ rows[rep[i]]``.
    """

    basis: np.ndarray  # (k, r) orthonormal basis of the row space
    rows: np.ndarray  # (m, r) distinct unit rows, pairwise non-parallel
    rep: np.ndarray  # (m0,) index into rows
    flip: np.ndarray  # (m0,) bool, input row is a negative multiple of its representative

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])


def reduce_hyperplanes(Z: np.ndarray) -> HyperplaneReduction:
    """Normalize, project onto the row space, merge (anti)parallel rows.

    Parameters
    ----------
    Z : ndarray of shape (m0, k)
        Nonzero rows.

    Returns
    -------
    HyperplaneReduction
        Distinct unit hyperplanes ``rows`` (m, r) in the ``r``-dimensional row space.
    """
    Zn = _unit_rows(Z)
    _, svals, vt = np.linalg.svd(Zn, full_matrices=False)
    rank = int(np.sum(svals > svals[0] * max(Zn.shape) * np.finfo(np.float64).eps))
    basis = vt[:rank].T
    X = _unit_rows(Zn @ basis)
    rep, flip = _merge_parallel(X)
    reps, rep_index = np.unique(rep, return_inverse=True)
    return HyperplaneReduction(basis=basis, rows=X[reps], rep=rep_index.ravel(), flip=flip)


def _merge_parallel(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Representative (smallest index) and sign flip of each unit row up to sign.

    An exact pre-pass (canonical sign, rounding) collapses duplicates cheaply;
    a pairwise distance test on what is left merges rows within
    ``_PARALLEL_TOL`` of each other or of each other's negative.
    """
    m = X.shape[0]
    lead = np.argmax(np.abs(X) > 1e-6, axis=1)
    sign = np.sign(X[np.arange(m), lead])
    keys = np.round(X * sign[:, None], _ROUND_DECIMALS) + 0.0
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    flip1 = sign != sign[first[group]]
    rep2, flip2 = _merge_close(X[first])
    return first[rep2[group]], flip1 ^ flip2[group]


def _merge_close(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise version of :func:`_merge_parallel` for unit rows ``R`` (m, r)."""
    m, r = R.shape
    rep = np.empty(m, dtype=np.intp)
    flip = np.empty(m, dtype=bool)
    step = _chunk_size(m * r, cap=m)
    for start in range(0, m, step):
        block = R[start : start + step, None, :]
        minus = np.linalg.norm(block - R[None], axis=2)
        plus = np.linalg.norm(block + R[None], axis=2)
        close = np.minimum(minus, plus) <= _PARALLEL_TOL
        j = np.argmax(close, axis=1)
        rows = np.arange(j.size)
        rep[start : start + step] = j
        flip[start : start + step] = plus[rows, j] < minus[rows, j]
    while True:  # follow chains i -> rep[i] -> ... to a fixed point
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            return rep, flip
        flip = flip ^ flip[rep]
        rep = nxt


def _expand(
    red: HyperplaneReduction, masks: np.ndarray, gens: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Masks over the input rows and generators in input coordinates."""
    return masks[:, red.rep] ^ red.flip[None, :], gens @ red.basis.T


# --------------------------------------------------------------------------- #
# Vertex method
# --------------------------------------------------------------------------- #


class _CellAccumulator:
    """Deduplicates candidate masks; sums the unit generators of each cell.

    The sum of interior points of a convex cone is interior, and summing the
    near-vertex generators of a cell gives a far more central generator than
    any single one of them.
    """

    def __init__(self, n_rows: int, dim: int) -> None:
        self.n_rows = n_rows
        self.dim = dim
        self._words: list[np.ndarray] = []
        self._sums: list[np.ndarray] = []
        self._held = 0
        self._compacted = 0

    def add(self, masks: np.ndarray, gens: np.ndarray) -> None:
        """Add candidate masks (N, n_rows) with interior generators (N, dim)."""
        if masks.shape[0] == 0:
            return
        self._words.append(_mask_words(masks))
        self._sums.append(_unit_rows(gens))
        self._held += masks.shape[0]
        if self._held > 2 * self._compacted + 65536:
            self._compact()

    def _compact(self) -> None:
        n_words = -(-self.n_rows // 64)
        words = np.concatenate(self._words) if self._words else np.zeros((0, n_words), np.uint64)
        sums = np.concatenate(self._sums) if self._sums else np.zeros((0, self.dim))
        order, starts = _group_rows(words)
        if order.size:
            words = words[order[starts]]
            sums = np.add.reduceat(sums[order], starts, axis=0)
        self._words, self._sums = [words], [sums]
        self._held = self._compacted = words.shape[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct masks (P, n_rows) and unit generators (P, dim)."""
        self._compact()
        words, sums = self._words[0], self._sums[0]
        if words.shape[0] == 0:
            return np.zeros((0, self.n_rows), dtype=bool), sums
        return _words_to_masks(words, self.n_rows), _unit_rows(sums)


def _sign_choices(q: int) -> np.ndarray:
    """All ``2**q`` sign vectors as the columns of a (q, 2**q) float array."""
    return np.array(list(itertools.product((1.0, -1.0), repeat=q)), dtype=np.float64).T.reshape(
        q, 2**q
    )


def _null_vectors(A: np.ndarray) -> np.ndarray:
    """Generalized cross products of the rows of each ``A[b]`` (B, r-1, r) -> (B, r).

    ``rho_k = (-1)**k det(A without column k)``; ``A[b] @ rho[b] = 0`` and
    ``|rho[b]|`` is the volume spanned by the rows of ``A[b]``.
    """
    r = A.shape[2]
    rho = np.empty((A.shape[0], r))
    for k in range(r):
        cols = [c for c in range(r) if c != k]
        rho[:, k] = (-1.0) ** k * np.linalg.det(A[:, :, cols])
    return rho


def _safe_step(h: np.ndarray, g: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Half the largest step ``eps <= 1`` keeping ``sign(h + eps g)`` on rows not excluded.

    ``h`` (..., m) values at the ray, ``g`` (..., K, m) values of K step
    directions, ``exclude`` (..., m) bool rows through the ray. Returns (..., K).
    """
    habs = np.where(exclude, np.inf, np.abs(h))[..., None, :]
    ratio = np.abs(g)
    np.maximum(ratio, 1e-300, out=ratio)
    np.divide(habs, ratio, out=ratio)
    return np.minimum(0.5 * ratio.min(axis=-1), 1.0)


def _vertex_chunk(
    X: np.ndarray,
    S: np.ndarray,
    sigma: np.ndarray,
    acc: _CellAccumulator,
    degenerate: dict[bytes, np.ndarray],
) -> None:
    """Process the rays of the (r-1)-subsets ``S`` (B, r-1) of the unit rows ``X``."""
    m, r = X.shape
    rho = _null_vectors(X[S])
    vol = np.linalg.norm(rho, axis=1)
    ok = vol > _VOLUME_TOL
    S, rho = S[ok], rho[ok] / vol[ok, None]
    b = np.arange(S.shape[0])[:, None]
    h = rho @ X.T  # (B, m)
    h[b, S] = 0.0
    vanish = np.abs(h) <= _VANISH_TOL
    deg = vanish.sum(axis=1) > r - 1
    if deg.any():
        _collect_degenerate(vanish[deg], degenerate)
        S, rho, h = S[~deg], rho[~deg], h[~deg]
        b = np.arange(S.shape[0])[:, None]
    if S.shape[0] == 0:
        return
    A = X[S]  # (B, r-1, r)
    coef = np.linalg.solve(
        A @ A.transpose(0, 2, 1), np.broadcast_to(sigma, (S.shape[0],) + sigma.shape)
    )
    W = A.transpose(0, 2, 1) @ coef  # (B, r, K): A @ W = sigma, minimum norm
    on_s = np.zeros((S.shape[0], m), dtype=bool)
    on_s[b, S] = True
    eps = _safe_step(h, W.transpose(0, 2, 1) @ X.T, on_s)  # (B, K)
    steps = (eps[:, :, None] * W.transpose(0, 2, 1)).reshape(-1, r)  # (B*K, r)
    n_signs = sigma.shape[1]
    on_s_index = (b[:, :, None], np.arange(n_signs)[None, None, :], S[:, :, None])
    rays = np.repeat(rho, n_signs, axis=0)
    for side, off_s in ((1.0, h > 0), (-1.0, h < 0)):
        masks = np.repeat(off_s[:, None, :], n_signs, axis=1)  # (B, K, m)
        masks[on_s_index] = sigma[None] > 0
        acc.add(masks.reshape(-1, m), side * rays + steps)


def _collect_degenerate(vanish: np.ndarray, degenerate: dict[bytes, np.ndarray]) -> None:
    """Record each new degenerate ray once, keyed by the set of rows through it."""
    packed = np.packbits(vanish, axis=1)
    keys, first = np.unique(packed, axis=0, return_index=True)
    for key, i in zip(keys, first, strict=True):  # one iteration per distinct ray
        degenerate.setdefault(key.tobytes(), np.flatnonzero(vanish[i]))


def _degenerate_ray_cells(X: np.ndarray, T: np.ndarray, acc: _CellAccumulator) -> None:
    """Cells around the ray through the rows ``T`` of ``X`` (and its negative).

    Near ``rho`` the arrangement is the arrangement of the rows ``T`` in the
    complement of ``rho``; its cells, lifted by a safe step, give the cells of
    the full arrangement touching ``+rho`` and ``-rho``.
    """
    m = X.shape[0]
    _, _, vt = np.linalg.svd(X[T])
    rho, Q = vt[-1], vt[:-1].T  # (r,), (r, r-1)
    local_masks, local_gens = _all_cells(X[T] @ Q)
    W = local_gens @ Q.T  # (L, r)
    h = X @ rho
    h[T] = 0.0
    through = np.zeros(m, dtype=bool)
    through[T] = True
    eps = _safe_step(h, W @ X.T, through)[:, None]  # (L, 1)
    for side in (1.0, -1.0):
        masks = np.empty((W.shape[0], m), dtype=bool)
        masks[:] = side * h > 0
        masks[:, T] = local_masks
        acc.add(masks, side * rho[None, :] + eps * W)


class _Batch:
    """Collects the candidate cells of one batch of rays (the ``acc`` of :func:`_vertex_chunk`)."""

    def __init__(self, n_rows: int, dim: int) -> None:
        self.n_rows, self.dim = n_rows, dim
        self.masks: list[np.ndarray] = []
        self.gens: list[np.ndarray] = []
        self.count = 0

    def add(self, masks: np.ndarray, gens: np.ndarray) -> None:
        self.masks.append(masks)
        self.gens.append(gens)
        self.count += masks.shape[0]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate masks (N, n_rows) and generators (N, dim), repeats included."""
        if not self.masks:
            return np.zeros((0, self.n_rows), dtype=bool), np.zeros((0, self.dim))
        return np.concatenate(self.masks), np.concatenate(self.gens)


def _vertex_batches(
    X: np.ndarray, *, progress: bool = False, batch: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Candidate cells of the arrangement of distinct unit rows ``X`` (m, r), ``r >= 2``.

    Yields, batch by batch of extreme rays, candidate masks (N, m) and interior
    generators (N, r); every cell appears at least once over the whole
    stream (once per extreme ray it touches), the rays through more than
    ``r - 1`` rows last. ``batch``: at most this many (r-1)-subsets per
    batch (never more than keeps the work arrays at a few million elements).
    """
    m, r = X.shape
    sigma = _sign_choices(r - 1)
    degenerate: dict[bytes, np.ndarray] = {}
    subsets = itertools.combinations(range(m), r - 1)
    step = _chunk_size(2 * sigma.shape[1] * m)  # bounded work arrays (B, 2^(r-1), m)
    step = min(step, batch) if batch else step
    with tqdm(
        total=math.comb(m, r - 1), disable=not progress, unit="subset", desc="vertex rays"
    ) as bar:
        while True:
            flat = itertools.chain.from_iterable(itertools.islice(subsets, step))
            S = np.fromiter(flat, dtype=np.intp).reshape(-1, r - 1)
            if S.shape[0] == 0:
                break
            sink = _Batch(m, r)
            _vertex_chunk(X, S, sigma, sink, degenerate)
            bar.update(S.shape[0])
            yield sink.arrays()
    rays = tqdm(degenerate.values(), disable=not progress, unit="ray", desc="degenerate rays")
    with rays:
        sink = _Batch(m, r)
        for T in rays:
            _degenerate_ray_cells(X, T, sink)
            if sink.count >= step:
                yield sink.arrays()
                sink = _Batch(m, r)
        yield sink.arrays()


def _pointed_cells(X: np.ndarray, *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every cell of the arrangement of distinct unit rows ``X`` (m, r) of rank ``r >= 2``.

    Returns masks (P, m) and unit interior generators (P, r).
    """
    acc = _CellAccumulator(*X.shape)
    for masks, gens in _vertex_batches(X, progress=progress):
        acc.add(masks, gens)
    return acc.result()


def _reduced_cells(
    red: HyperplaneReduction, *, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the distinct reduced rows: masks (P, m) and generators (P, r)."""
    if red.rank == 1:
        gens = np.array([[1.0], [-1.0]])
        return (gens @ red.rows.T) > 0, gens
    return _pointed_cells(red.rows, progress=progress)


def _all_cells(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the central arrangement of the nonzero rows ``Z`` (m0, k).

    Returns masks (P, m0) and generators (P, k) (in the row space of ``Z``).
    """
    red = reduce_hyperplanes(Z)
    return _expand(red, *_reduced_cells(red))


# --------------------------------------------------------------------------- #
# LP helpers and the incremental (reference) method
# --------------------------------------------------------------------------- #


def max_slack(A: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Solve ``max s  s.t.  A u >= s, -1 <= u <= 1, s <= 1`` (A (k, d) has unit rows).

    Returns the optimum ``s`` and its ``u`` (d,), or ``(-inf, None)`` when the
    LP fails; the open cone ``A u > 0`` is nonempty iff ``s > 0`` (``_LP_TOL``
    in practice). The maximizer is a well-centred interior point, unlike a
    sampled generator that may sit next to a facet (the facet hull uses it).
    """
    k, d = A.shape
    c = np.zeros(d + 1)
    c[-1] = -1.0
    res = linprog(
        c,
        A_ub=np.hstack([-A, np.ones((k, 1))]),
        b_ub=np.zeros(k),
        bounds=[(-1.0, 1.0)] * d + [(None, 1.0)],
        method="highs",
        options=_HIGHS_OPTIONS,
    )
    if res.status != 0:
        return -np.inf, None
    return float(-res.fun), np.asarray(res.x[:d])


def _interior_witness(A: np.ndarray) -> np.ndarray | None:
    """An interior point of the open cone ``A u > 0``, or None if it is not full-dimensional."""
    slack, u = max_slack(A)
    if u is None or slack <= _LP_TOL or not np.all(A @ u > 0):
        return None
    return u


def _lp_incremental(Y: np.ndarray, *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Reference enumeration: one witness per cell, one LP per new side.

    Returns masks (P, n) and generators (P, d).
    """
    n, d = Y.shape
    nonzero = np.flatnonzero(_nonzero_rows(Y))
    rows = _unit_rows(Y[nonzero])
    signs = np.zeros((1, 0), dtype=np.int8)
    witnesses = np.full((1, d), 1.0 / math.sqrt(d))
    with tqdm(total=rows.shape[0], disable=not progress, unit="hyperplane", desc="LP cells") as bar:
        for k in range(rows.shape[0]):
            signs, witnesses = _add_hyperplane(rows[: k + 1], signs, witnesses)
            bar.update(1)
    masks = np.ones((signs.shape[0], n), dtype=bool)
    masks[:, nonzero] = signs > 0
    return masks, witnesses


def _add_hyperplane(
    rows: np.ndarray, signs: np.ndarray, witnesses: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split every cell (signs (C, k), witnesses (C, d)) by the last of ``rows`` (k+1, d)."""
    value = witnesses @ rows[-1]
    new_signs, new_witnesses = [], []
    for cell in range(signs.shape[0]):
        for side in (1, -1):
            if side * value[cell] > _WITNESS_TOL:
                u = witnesses[cell]
            else:
                full = np.append(signs[cell], side).astype(np.float64)
                u = _interior_witness(full[:, None] * rows)
                if u is None:
                    continue
            new_signs.append(np.append(signs[cell], np.int8(side)))
            new_witnesses.append(u)
    return np.array(new_signs, dtype=np.int8), np.array(new_witnesses)


# --------------------------------------------------------------------------- #
# Verification and the public enumeration entry point
# --------------------------------------------------------------------------- #


def _strict_sign_ok(Y: np.ndarray, masks: np.ndarray, gens: np.ndarray) -> np.ndarray:
    """Bool (P,): the generator has the mask's strict sign on every nonzero row."""
    nonzero = _nonzero_rows(Y)
    Yn, Mn = Y[nonzero], masks[:, nonzero]
    ok = np.empty(masks.shape[0], dtype=bool)
    step = _chunk_size(Yn.shape[0])
    for start in range(0, masks.shape[0], step):
        vals = gens[start : start + step] @ Yn.T
        right_side = np.all((vals > 0) == Mn[start : start + step], axis=1)
        ok[start : start + step] = right_side & np.all(vals != 0, axis=1)
    return ok


def _verify_and_repair(
    Y: np.ndarray, masks: np.ndarray, gens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Check every generator against its mask; re-solve failures by LP, drop empty cells.

    Returns the kept masks and generators, and counts ``checked``, ``repaired``
    (generator replaced by a Chebyshev-centre LP) and ``dropped`` (the LP found
    the cell not full-dimensional).
    """
    ok = _strict_sign_ok(Y, masks, gens)
    bad = np.flatnonzero(~ok)
    stats = {"checked": int(masks.shape[0]), "repaired": 0, "dropped": 0}
    if bad.size == 0:
        return masks, gens, stats
    nonzero = _nonzero_rows(Y)
    rows = _unit_rows(Y[nonzero])
    gens = gens.copy()
    keep = np.ones(masks.shape[0], dtype=bool)
    for i in bad:  # only the (rare) failing patterns
        signs = np.where(masks[i, nonzero], 1.0, -1.0)
        u = _interior_witness(signs[:, None] * rows)
        if u is None:
            keep[i] = False
            stats["dropped"] += 1
        else:
            gens[i] = u
            stats["repaired"] += 1
    _LOG.info(
        "arrangement check: %d of %d generators failed; %d repaired by LP, %d empty cells dropped",
        bad.size,
        masks.shape[0],
        stats["repaired"],
        stats["dropped"],
    )
    return masks[keep], gens[keep], stats


def _enumerate(
    Y: object, max_cells: int, method: str, progress: bool
) -> tuple[PatternSet, dict[str, int]]:
    """:func:`enumerate_relu_patterns` plus the verification counts."""
    Y = check_patch_matrix(Y)
    max_cells = check_positive_int(max_cells, "max_cells")
    if method not in EXACT_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(map(repr, EXACT_METHODS))}; got {method!r}"
        )
    n, d = Y.shape
    nonzero = _nonzero_rows(Y)
    if not nonzero.any():
        gens = np.zeros((1, d))
        gens[0, 0] = 1.0
        masks = np.ones((1, n), dtype=bool)
        stats = {"checked": 1, "repaired": 0, "dropped": 0}
        name = "vertex" if method == "vertex" else "lp-incremental"
        return PatternSet(masks, gens, True, name, 1, matrix_digest(Y), 1), stats
    red = reduce_hyperplanes(Y[nonzero])
    _check_size(n, red, max_cells)
    if method == "vertex":
        masks_nz, gens = _expand(red, *_reduced_cells(red, progress=progress))
        masks = np.ones((masks_nz.shape[0], n), dtype=bool)
        masks[:, nonzero] = masks_nz
        name = "vertex"
    else:
        masks, gens = _lp_incremental(Y, progress=progress)
        name = "lp-incremental"
    masks, gens, stats = _verify_and_repair(Y, masks, gens)
    gens = _unit_rows(gens)
    bound = relu_count_bound(n, red.rank)
    digest = matrix_digest(Y)
    return PatternSet(masks, gens, True, name, bound, digest, masks.shape[0]), stats


def _check_size(n: int, red: HyperplaneReduction, max_cells: int) -> None:
    """Refuse (before any enumeration work) arrangements that may exceed ``max_cells``."""
    m, r = red.rows.shape[0], red.rank
    bound = relu_count_bound(m, r)
    if bound > max_cells:
        raise ArrangementTooLargeError(
            f"exact enumeration refused: {m} distinct hyperplanes (from {n} rows of Y) "
            f"of rank {r} can have up to {bound} cells "
            f"(2 * sum_{{k<{r}}} C({m - 1}, k)), more than max_cells={max_cells}. "
            "Raise max_cells, use fewer patches or a smaller kernel, or sample "
            "patterns instead (sample_relu_patterns)."
        )


def enumerate_relu_patterns(
    Y: object,
    *,
    max_cells: int = 200_000,
    method: str = "vertex",
    progress: bool = False,
) -> PatternSet:
    """Every ReLU sign pattern of ``Y``: one per full-dimensional cell.

    The exact arrangement of DESIGN.md section 3: the program over it is the
    exact convex reformulation (eq. 4) and certificates over it are
    CERTIFIED. The count grows like ``n^(r-1)`` for rank ``r``, so the bound is
    checked first and a set beyond ``max_cells`` is refused, not truncated.

    Parameters
    ----------
    Y : array_like of shape (n, d)
        Patch matrix.
    max_cells : int
        Refuse with :class:`ArrangementTooLargeError` when the count bound
        ``relu_count_bound(m, r)`` exceeds this, where ``m`` is the number of
        distinct hyperplanes (zero rows dropped, parallel and anti-parallel
        rows merged) and ``r = rank(Y)``. Checked before any enumeration.
    method : {"vertex", "lp"}
        ``"vertex"``: extreme-ray enumeration (fast, default). ``"lp"``:
        incremental method with one LP per new side (slow; test oracle).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    PatternSet
        ``exact=True``; masks (P, n) in the original row order (zero rows
        always True), unit generators (P, d) with strict signs on every
        nonzero row; method ``"vertex"`` or ``"lp-incremental"``.

    Raises
    ------
    ArrangementTooLargeError
        When the arrangement may have more than ``max_cells`` cells.

    Notes
    -----
    Rows are compared by direction only (normalized); rows within ``1e-9``
    of parallel count as one hyperplane, and rank is numerical. Every
    generator is checked at the end; a failure (possible only for
    numerically degenerate data) is re-solved by a Chebyshev-centre LP, and
    the pattern is dropped if that LP finds the cell empty. The counts are
    logged at INFO level on ``cvxcnn.arrangements``.
    """
    patterns, _ = _enumerate(Y, max_cells, method, bool(progress))
    return patterns


def hyperplane_classes(Y: object) -> np.ndarray:
    """Which hyperplane each row of ``Y`` lies on.

    Rows that are positive or negative multiples of each other define the
    same hyperplane ``y^T u = 0``; zero rows define none.

    Parameters
    ----------
    Y : ndarray of shape (n, d)

    Returns
    -------
    ndarray of shape (n,), int
        Class index in ``0 .. K-1`` for every nonzero row, ``-1`` for zero rows.
    """
    Y = check_patch_matrix(Y)
    nonzero = _nonzero_rows(Y)
    classes = np.full(Y.shape[0], -1, dtype=np.int64)
    if nonzero.any():
        classes[nonzero] = reduce_hyperplanes(Y[nonzero]).rep
    return classes


# --------------------------------------------------------------------------- #
# Streamed exact enumeration
# --------------------------------------------------------------------------- #


def packed_keys(masks: np.ndarray) -> np.ndarray:
    """One sortable, comparable key per row of bool ``masks`` (N, n): packed bits as ``np.void``."""
    packed = np.ascontiguousarray(np.packbits(np.asarray(masks, dtype=bool), axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)


class KeySet:
    """An exact set of :func:`packed_keys`, held sorted (``n / 8`` bytes per key)."""

    def __init__(self, keys: np.ndarray | None = None) -> None:
        self.keys = np.unique(keys) if keys is not None and keys.size else None

    def __len__(self) -> int:
        return 0 if self.keys is None else int(self.keys.size)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """(N,) bool: which of ``keys`` are in the set."""
        if self.keys is None or keys.size == 0:
            return np.zeros(keys.size, dtype=bool)
        pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return self.keys[pos] == keys

    def add_new(self, keys: np.ndarray) -> np.ndarray:
        """Add ``keys`` (N,); return the sorted indices of those not seen before (first copies)."""
        _, first = np.unique(keys, return_index=True)
        first = first[~self.contains(keys[first])]
        if first.size:
            fresh = keys[first]  # sorted: np.unique sorted them
            if self.keys is None:
                self.keys = fresh.copy()
            else:
                self.keys = np.insert(self.keys, np.searchsorted(self.keys, fresh), fresh)
        return np.sort(first)


class PatternStream:
    """Every cell of ``Y``'s arrangement, chunk by chunk, each cell exactly once.

    The vertex method of :func:`enumerate_relu_patterns`, run over batches of
    extreme rays; each batch's candidates are deduplicated against the keys
    of every cell seen so far (:class:`KeySet`: ``ceil(m / 8)`` bytes per
    cell, ``m`` distinct hyperplanes, instead of ``n`` bytes of mask and
    ``8 d`` of generator), expanded to the rows of ``Y``, their generators
    checked (and repaired by LP, or dropped when the cell is empty, as in
    :func:`enumerate_relu_patterns`), and yielded as non-exact
    :class:`PatternSet` chunks of at most ``chunk_size`` cells. Each
    iteration enumerates afresh. After a full pass ``complete`` is True and
    ``n_cells`` is the number of cells (the count of the in-memory method).

    Attributes
    ----------
    Y : ndarray of shape (n, d)
    chunk_size : int
    count_bound : int
        ``relu_count_bound(m, rank)``; generic data attain it.
    rank, hyperplanes : int
        Rank ``r`` and number ``m`` of the distinct hyperplanes (nonzero rows
        up to positive scale).
    digest : str
        :func:`matrix_digest` of ``Y``.
    n_cells, n_chunks : int
        Cells and chunks yielded by the last (or current) pass.
    complete : bool
        The last pass ran to the end.
    repaired, dropped : int
        Generators replaced by an LP, empty cells dropped (degenerate data only).
    cache : bool
        Keep the cells of the first complete pass bit-packed (``n / 8 + 8 d``
        bytes per cell instead of ``n + 8 d``) and replay them on later
        passes instead of enumerating again (column generation runs one
        pass per round).
    """

    def __init__(
        self, Y: object, *, chunk_size: int = 65536, progress: bool = False, cache: bool = False
    ) -> None:
        self.Y = check_patch_matrix(Y)
        self.cache = bool(cache)
        self._cached: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.chunk_size = check_positive_int(chunk_size, "chunk_size")
        self.progress = bool(progress)
        self.digest = matrix_digest(self.Y)
        self._nonzero = _nonzero_rows(self.Y)
        self._red = reduce_hyperplanes(self.Y[self._nonzero]) if self._nonzero.any() else None
        red = self._red
        self.rank = 0 if red is None else red.rank
        self.hyperplanes = 0 if red is None else red.rows.shape[0]
        self.count_bound = 1 if red is None else relu_count_bound(self.hyperplanes, self.rank)
        self.n_cells = self.n_chunks = self.repaired = self.dropped = 0
        self.complete = False

    def __repr__(self) -> str:
        return (
            f"PatternStream(n_rows={self.Y.shape[0]}, count_bound={self.count_bound}, "
            f"chunk_size={self.chunk_size}, n_cells={self.n_cells}, complete={self.complete})"
        )

    def _reduced_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        red = self._red
        if red.rank == 1:
            gens = np.array([[1.0], [-1.0]])
            yield (gens @ red.rows.T) > 0, gens
            return
        subsets = max(1, self.chunk_size // (2**red.rank))  # ~chunk_size candidates a batch
        yield from _vertex_batches(red.rows, progress=self.progress, batch=subsets)

    def _finish(self, masks_r: np.ndarray, gens_r: np.ndarray) -> PatternSet:
        """Reduced candidates (new cells only) -> a verified chunk over the rows of ``Y``."""
        n = self.Y.shape[0]
        masks_nz, gens = _expand(self._red, masks_r, gens_r)
        masks = np.ones((masks_nz.shape[0], n), dtype=bool)
        masks[:, self._nonzero] = masks_nz
        masks, gens, stats = _verify_and_repair(self.Y, masks, gens)
        self.repaired += stats["repaired"]
        self.dropped += stats["dropped"]
        return PatternSet(masks, _unit_rows(gens), False, "streamed", self.count_bound)

    def __iter__(self) -> Iterator[PatternSet]:
        self.n_cells = self.n_chunks = 0
        if self._cached is None:  # a replay keeps the first pass's counts
            self.repaired = self.dropped = 0
        self.complete = False
        if self._cached is not None:
            chunks = self._from_cache()
        elif self._red is None:  # every row zero: one cell
            gens = np.zeros((1, self.Y.shape[1]))
            gens[0, 0] = 1.0
            chunks = [PatternSet(np.ones((1, self.Y.shape[0]), bool), gens, False, "streamed", 1)]
        else:
            chunks = self._chunks()
        packed: list[tuple[np.ndarray, np.ndarray]] = []
        for chunk in chunks:
            self.n_cells += len(chunk)
            self.n_chunks += 1
            if self.cache and self._cached is None:
                packed.append((np.packbits(chunk.masks, axis=1), chunk.generators))
            yield chunk
        self.complete = True
        if self.cache and self._cached is None:
            self._cached = packed

    @property
    def cached(self) -> bool:
        """A complete pass is held bit-packed (later passes and :meth:`replay` use it)."""
        return self._cached is not None

    def cached_sizes(self) -> list[int]:
        """Cells of each cached chunk, in order (empty before a complete cached pass)."""
        return [bits.shape[0] for bits, _ in self._cached or []]

    def replay(
        self, rows: Callable[[int], np.ndarray | None], order: Iterable[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray, PatternSet]]:
        """A pass over the cached chunks, chunk ``i`` cut to the cells ``rows(i)`` selects.

        ``rows(i)`` is called when chunk ``i`` is reached (indices into it,
        or None for all of it); only the selected cells are unpacked, and a
        chunk with none is skipped. ``order``: the chunks' order (default:
        as cached; every chunk must appear once). Yields ``(i, index,
        cells)``. The pass is ``complete`` (and ``n_cells`` counts every
        cell) at its end: the caller answers for the cells it did not select.
        """
        if self._cached is None:
            raise RuntimeError("replay needs a cached stream after one complete pass")
        n = self.Y.shape[0]
        self.n_cells = self.n_chunks = 0
        self.complete = False
        order = list(range(len(self._cached)) if order is None else order)
        if sorted(order) != list(range(len(self._cached))):
            raise ValueError("order must list every cached chunk once")
        for i in order:
            bits, gens = self._cached[i]
            self.n_cells += bits.shape[0]
            self.n_chunks += 1
            index = rows(i)
            index = np.arange(bits.shape[0]) if index is None else np.asarray(index, np.intp)
            if index.size:
                masks = np.unpackbits(bits[index], axis=1, count=n).astype(bool)
                yield i, index, PatternSet(masks, gens[index], False, "streamed", self.count_bound)
        self.complete = True

    def _from_cache(self) -> Iterator[PatternSet]:
        n = self.Y.shape[0]
        for bits, gens in self._cached:
            masks = np.unpackbits(bits, axis=1, count=n).astype(bool)
            yield PatternSet(masks, gens, False, "streamed", self.count_bound)

    def _chunks(self) -> Iterator[PatternSet]:
        """Verified chunks of ``chunk_size`` new cells (the last one smaller)."""
        seen = KeySet()
        held: list[tuple[np.ndarray, np.ndarray]] = []
        count = 0
        for masks_r, gens_r in self._candidate_blocks():
            new = seen.add_new(packed_keys(masks_r))
            held.append((masks_r[new], gens_r[new]))
            count += new.size
            while count >= self.chunk_size:
                masks_r_all = np.concatenate([h[0] for h in held])
                gens_r_all = np.concatenate([h[1] for h in held])
                size = self.chunk_size
                held = [(masks_r_all[size:], gens_r_all[size:])]
                count -= size
                yield from self._verified(masks_r_all[:size], gens_r_all[:size])
        if count:
            masks_r_all = np.concatenate([h[0] for h in held])
            yield from self._verified(masks_r_all, np.concatenate([h[1] for h in held]))

    def _candidate_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches of rays gathered to ~``chunk_size`` candidates (one key merge each)."""
        masks: list[np.ndarray] = []
        gens: list[np.ndarray] = []
        count = 0
        for masks_r, gens_r in self._reduced_batches():
            masks.append(masks_r)
            gens.append(gens_r)
            count += masks_r.shape[0]
            if count >= self.chunk_size:
                yield np.concatenate(masks), np.concatenate(gens)
                masks, gens, count = [], [], 0
        if masks:
            yield np.concatenate(masks), np.concatenate(gens)

    def _verified(self, masks_r: np.ndarray, gens_r: np.ndarray) -> Iterator[PatternSet]:
        chunk = self._finish(masks_r, gens_r)
        if len(chunk):
            yield chunk


def stream_relu_patterns(
    Y: object, *, chunk_size: int = 65536, progress: bool = False, cache: bool = False
) -> PatternStream:
    """Every ReLU sign pattern of ``Y`` as a stream of chunks (see :class:`PatternStream`).

    Parameters
    ----------
    Y : array_like of shape (n, d)
    chunk_size : int
        Most cells per chunk (and about the candidates per batch of rays):
        the working memory is ``O(chunk_size * n)`` plus the cell keys.
    progress : bool
        A tqdm bar over the extreme rays.
    cache : bool
        Replay the first complete pass from a bit-packed copy (see :class:`PatternStream`).

    Returns
    -------
    PatternStream
        Iterate it (each pass enumerates afresh) for :class:`PatternSet`
        chunks; the union of a complete pass is the cell set of
        :func:`enumerate_relu_patterns` (the same masks, other generators).
    """
    return PatternStream(Y, chunk_size=chunk_size, progress=progress, cache=cache)
