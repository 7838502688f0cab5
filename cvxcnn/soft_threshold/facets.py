"""Facet reduction of the sign rows of program 6a (learnable thresholds).

For triple ``j`` the block variable is ``x = (w, t)`` in ``R^(d+1)`` and every
constraint of 6a on it is a homogeneous inequality in ``x``: ``+-1`` times a
row of the augmented matrix (:func:`~cvxcnn.soft_threshold.triples.augmented_matrix`)

    Yt = [[Y, -1],      rows 0 .. n-1:   y_i . w - t
          [Y, +1],      rows n .. 2n-1:  y_i . w + t
          [0 ... 0, 1]] row 2n:          t

of shape (2n + 1, d + 1). The rows :func:`~cvxcnn.soft_threshold.programs.build_st_program`
uses are encoded by a sign vector ``s_j`` in ``{-1, 0, 1}^(2n+1)``
(:func:`st_row_signs`), and the block's feasible set is the cone
``{x : s_jk Yt_k . x >= 0 for s_jk != 0}``; the ``w'`` blocks share it.
Only its facets matter; :func:`cvxcnn.facets.signed_cone_facets` finds them
(Qhull or HiGHS, one call for all triples), and :func:`st_violated_dropped_rows`
checks every full row at a solution, so a facet the reduction missed is added
back instead of silently enlarging a cone.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.facets import (
    AUTO_MIN_ROWS_PER_DIM,
    FacetReduction,
    hull_pays_off,
    signed_cone_facets,
    violated_dropped_rows,
)
from cvxcnn.soft_threshold.triples import TripleSet, augmented_matrix

__all__ = [
    "ST_FACET_METHODS",
    "resolve_st_facets",
    "st_facet_reduction",
    "st_facets_summary",
    "st_row_signs",
    "st_violated_dropped_rows",
]

ST_FACET_METHODS = ("auto", "off", "hull", "lp")


def st_row_signs(triples: TripleSet) -> np.ndarray:
    """Sign vectors of the 6a constraint rows of every triple, vectorized.

    Parameters
    ----------
    triples : TripleSet
        ``P`` triples of a patch matrix with ``n`` rows.

    Returns
    -------
    ndarray of shape (P, 2n + 1), int8
        ``s[j, k] * (Yt[k] . (w, t)) >= 0`` is a constraint of block ``j``
        for every ``s[j, k] != 0`` (``Yt = augmented_matrix(Y)``):

        - rows ``i < n`` (``y_i . w - t``): ``+1`` on S3, ``-1`` on S2,
          ``0`` on S1 (implied there by ``y_i . w <= -t``);
        - rows ``n + i`` (``y_i . w + t``): ``-1`` on S1, ``+1`` on S2,
          ``0`` on S3 (implied there by ``y_i . w >= t``);
        - row ``2n`` (``t``): ``+1`` (``t >= 0``).

        These are exactly the rows :func:`build_st_program` builds without reduction.
    """
    s1, s3 = np.asarray(triples.s1, dtype=bool), np.asarray(triples.s3, dtype=bool)
    P, n = s1.shape
    signs = np.empty((P, 2 * n + 1), dtype=np.int8)
    signs[:, :n] = np.where(s1, 0, np.where(s3, 1, -1))
    signs[:, n : 2 * n] = np.where(s3, 0, np.where(s1, -1, 1))
    signs[:, 2 * n] = 1
    return signs


def st_facet_reduction(
    triples: TripleSet,
    Y: np.ndarray,
    **options: object,
) -> FacetReduction:
    """Facet rows of every triple's 6a cone (one :func:`signed_cone_facets` call).

    Parameters
    ----------
    triples : TripleSet
        ``P`` triples made for ``Y``.
    Y : ndarray of shape (n, d)
    **options
        ``method`` ("hull": Qhull, the default, or "lp": HiGHS LPs),
        ``progress`` and ``n_jobs``, of :func:`cvxcnn.facets.signed_cone_facets`.

    Returns
    -------
    FacetReduction
        ``keep`` of shape (2n + 1, P), the rows of ``augmented_matrix(Y)``
        kept for each triple (in the layout of the program's masks: column
        ``j`` is triple ``j`` of the set, dead triples included). Its
        ``rows_full`` counts every entry of ``keep``; the rows 6a actually
        has are the nonzero signs (:func:`st_facets_summary`).

    Notes
    -----
    ``t >= 0`` is never kept for a triple with a dead-zone row ``i``: it is
    the sum of that row's two constraints ``t - y_i . w >= 0`` and
    ``y_i . w + t >= 0``, so it is redundant, but only weakly when ``|S2| = 1``
    (its point lies on an edge of the hull), where Qhull may report it.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = triples.n_rows
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(
            f"Y must have n={n} rows (those the triples were made for); got shape {Y.shape}"
        )
    signs = st_row_signs(triples)
    # t >= 0 is the sum of the two rows of any dead-zone row i: -(y_i w - t) + (y_i w + t) = 2t.
    # Drop it there before the hull sees it: with |S2| = 1 its point lies ON an edge of the
    # hull (weakly redundant), which Qhull, in floating point, may report as a vertex.
    signs[triples.s2.any(axis=1), 2 * n] = 0
    # (u_j, t_j) is strictly inside its cone for sampled and enumerated triples: centred in
    # batch instead of one LP per cone (cones where it is not fall back to the LP)
    interior = np.column_stack([triples.generators, triples.thresholds])
    return signed_cone_facets(
        signs,
        augmented_matrix(Y),
        interior=interior,
        **options,
    )


def st_facets_summary(reduction: FacetReduction, signs: np.ndarray) -> dict:
    """JSON-ready summary of an ST reduction, counting only rows that 6a has.

    Parameters
    ----------
    reduction : FacetReduction
        ``keep`` of shape (2n + 1, P).
    signs : ndarray of shape (P, 2n + 1)
        :func:`st_row_signs` of the same triples.

    Returns
    -------
    dict
        ``reduction.to_dict()`` with ``rows_kept`` (kept rows with a nonzero
        sign), ``rows_full`` (nonzero signs) and ``fraction`` per variable
        block (``w`` or ``w'``) over all triples of the set.
    """
    present = np.asarray(signs).T != 0
    kept = int((reduction.keep & present).sum())
    full = int(present.sum())
    return {
        **reduction.to_dict(),
        "rows_kept": kept,
        "rows_full": full,
        "fraction": kept / max(full, 1),
    }


def resolve_st_facets(
    Y: np.ndarray, triples: TripleSet, facets: object, n_jobs: int | None = None
) -> FacetReduction | None:
    """Resolve the ``facets`` argument of :func:`~cvxcnn.soft_threshold.programs.fit_st`.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    triples : TripleSet
    facets : {"auto", "off", "hull", "lp"}, FacetReduction or None
        ``auto``: Qhull when ``rank(augmented_matrix(Y)) <=``
        :data:`cvxcnn.facets.HULL_MAX_RANK` and ``2n + 1 >= 40 (d + 1)``
        (below that size the reduction cost more than it saved: digits,
        n = 128 lost, n = 256 won), else no reduction (the LP test
        costs more than it saves there; ask for ``"lp"`` explicitly).
        ``off``/None: no reduction. ``hull``/``lp``: forced. A
        :class:`~cvxcnn.facets.FacetReduction` with ``keep`` of shape
        (2n + 1, n_triples) is used as is.

    Returns
    -------
    FacetReduction or None
    """
    if facets is None or (isinstance(facets, str) and facets == "off"):
        return None
    n_rows = 2 * triples.n_rows + 1
    if isinstance(facets, FacetReduction):
        if facets.keep.shape != (n_rows, triples.n_triples):
            raise ValueError(
                f"facets.keep must have shape (2n + 1, n_triples) = ({n_rows}, "
                f"{triples.n_triples}); got {facets.keep.shape}: compute it for these "
                "triples (st_facet_reduction)"
            )
        return facets
    if not isinstance(facets, str) or facets not in ST_FACET_METHODS:
        raise ValueError(
            f"facets must be one of {ST_FACET_METHODS} or a FacetReduction; got {facets!r} "
            "(adjacency does not apply: the 6a cones are not the cells of one arrangement)"
        )
    if facets == "auto":
        # rows come in pairs per patch: twice the ReLU rule (n = 128 lost, n = 256 won, d = 9)
        Yt = augmented_matrix(np.asarray(Y, dtype=np.float64))
        if not hull_pays_off(Yt, 2 * AUTO_MIN_ROWS_PER_DIM):
            return None
        facets = "hull"
    return st_facet_reduction(triples, Y, method=facets, n_jobs=n_jobs)


def st_violated_dropped_rows(
    W: np.ndarray,
    Wp: np.ndarray,
    T: np.ndarray,
    Tp: np.ndarray,
    signs: np.ndarray,
    Yt: np.ndarray,
    row_mask: np.ndarray,
) -> np.ndarray:
    """Dropped 6a rows that a solution violates, shape (2n + 1, P), bool.

    :func:`cvxcnn.facets.violated_dropped_rows` for the blocks ``(w_j, t_j)``
    and ``(w'_j, t'_j)``: every full row of both is checked.

    Parameters
    ----------
    W, Wp : ndarray of shape (d, P)
    T, Tp : ndarray of shape (P,)
    signs : ndarray of shape (P, 2n + 1)
        :func:`st_row_signs` of the blocks.
    Yt : ndarray of shape (2n + 1, d + 1)
        ``augmented_matrix(Y)``.
    row_mask : ndarray of shape (2n + 1, P), bool
        Rows in the solved program.

    Returns
    -------
    ndarray of shape (2n + 1, P), bool
    """
    X = np.vstack([W, np.asarray(T)[None, :]])
    Xp = np.vstack([Wp, np.asarray(Tp)[None, :]])
    return violated_dropped_rows(np.asarray(signs).T, Yt, X, Xp, row_mask)
