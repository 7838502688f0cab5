"""Cells from a specification: the one place that turns "500" or "exact" into a cell set.

Used by the estimator, the command line and the benchmarks alike, for any
activation (:mod:`cvxcnn.activations`).
"""

from __future__ import annotations

import numbers

import numpy as np

from cvxcnn.activations import Activation, get_activation

#: Default refusal limit of exact enumeration (cells).
DEFAULT_MAX_CELLS = 200_000


def make_cells(
    Y: np.ndarray,
    spec: int | str | object,
    *,
    activation: str | Activation = "relu",
    data_directed: float = 0.0,
    random_state: object = 0,
    max_cells: int = DEFAULT_MAX_CELLS,
    progress: bool = False,
    **sample_options: object,
) -> object:
    """Cells of ``Y`` (n, d) for an activation, from a count, ``"exact"`` or a given set.

    The Python entry for any activation's cells: a count samples through
    :meth:`Activation.sample` (an upper-bound program, estimated
    certificates), ``"exact"`` enumerates through :meth:`Activation.enumerate`
    (certified), anything else goes through :meth:`Activation.check_cells`.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
        Patch matrix.
    spec : int, "exact", PatternSet, TripleSet or ndarray of shape (P, n), bool
        A number of seeded samples (deduplicated), every cell (refused with
        :class:`cvxcnn.arrangements.ArrangementTooLargeError` beyond
        ``max_cells``), or a cell set used as is (checked against ``Y``).
    activation : str or Activation
    data_directed : float
        Fraction of sampled generators taken from the data.
    random_state : int, Generator or None
    max_cells : int
    progress : bool
        Progress bar for exact enumeration.
    **sample_options
        Activation-specific sampling options (soft thresholds: ``threshold``).

    Returns
    -------
    PatternSet or TripleSet (or the given cells)
    """
    act = get_activation(activation)
    if isinstance(spec, str):
        if spec != "exact":
            raise ValueError(f"cells must be an int, 'exact' or a cell set; got {spec!r}")
        return act.enumerate(Y, max_cells=max_cells, progress=progress)
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        return act.sample(
            Y, int(spec), random_state=random_state, data_directed=data_directed, **sample_options
        )
    return act.check_cells(spec, np.asarray(Y).shape[0])
