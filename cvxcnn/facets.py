"""Facet reduction: keep only the irredundant sign constraints of each cell.

The cone ``K_i = {w : (2 D_i - I) Y w >= 0}`` is cut out by its facets
alone; the other rows are redundant, yet they are most of the ``n x P``
constraint rows that dominate interior-point time (DESIGN.md section 10).

With an EXACT pattern set the facets come for free from adjacency: in a
hyperplane arrangement, hyperplane ``H`` supports a facet of cell ``C`` iff
the sign vector of ``C`` with the signs of ``H``'s rows flipped is another
cell. Rows on the same hyperplane (positive or negative multiples) flip
together; zero rows constrain nothing. This is exact, with no LP, and
vectorized: one XOR of bit-packed masks per (cell, hyperplane) and one
sorted-membership test. (For sampled pattern sets the adjacency is not
known; an LP-based redundancy test would be needed and is not implemented.)
"""

from __future__ import annotations

import numpy as np

from cvxcnn.arrangements import PatternSet, hyperplane_classes


def _void_keys(packed: np.ndarray) -> np.ndarray:
    packed = np.ascontiguousarray(packed)
    return packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)


def facet_row_mask(
    masks: np.ndarray, cells: PatternSet, Y: np.ndarray, *, chunk: int = 256
) -> np.ndarray:
    """Rows that are facets of each given cell.

    Parameters
    ----------
    masks : ndarray of shape (P, n), bool
        Cells whose constraints are to be reduced (each must be in ``cells``).
    cells : PatternSet
        EVERY cell of the arrangement of the rows of ``Y`` (``exact=True``).
    Y : ndarray of shape (n, d)
    chunk : int
        Cells processed at once (memory ``chunk * K * n / 8`` bytes).

    Returns
    -------
    ndarray of shape (n, P), bool
        ``keep[j, i]``: row ``j`` lies on a facet hyperplane of cell ``i``
        (the layout of the program's ``(n, P)`` constraint matrices).
    """
    if not getattr(cells, "exact", False):
        raise ValueError(
            "facet reduction from adjacency needs the exact pattern set "
            "(enumerate_relu_patterns); sampled cells do not reveal their neighbours"
        )
    masks = np.asarray(masks, dtype=bool)
    n = masks.shape[1]
    classes = hyperplane_classes(Y)
    K = int(classes.max()) + 1
    keep = np.zeros((n, masks.shape[0]), dtype=bool)
    if K == 0:
        return keep
    indicator = np.zeros((K, n), dtype=bool)
    nz = classes >= 0
    indicator[classes[nz], np.flatnonzero(nz)] = True
    flips = np.packbits(indicator, axis=1)  # (K, B)
    known = np.sort(_void_keys(np.packbits(np.asarray(cells.masks, dtype=bool), axis=1)))
    for start in range(0, masks.shape[0], chunk):
        block = np.packbits(masks[start : start + chunk], axis=1)  # (c, B)
        flipped = np.bitwise_xor(block[:, None, :], flips[None, :, :])  # (c, K, B)
        keys = _void_keys(flipped.reshape(-1, flipped.shape[2]))
        pos = np.clip(np.searchsorted(known, keys), 0, len(known) - 1)
        is_facet = (known[pos] == keys).reshape(block.shape[0], K)  # (c, K)
        keep[:, start : start + block.shape[0]] = is_facet[:, classes].T & nz[:, None]
    return keep
