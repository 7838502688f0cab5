"""The ReLU oracle over a STREAM of every cell: exact without holding the arrangement.

For small ``d`` (1-D kernels, 2x2 image kernels: ``d <= 5``) every cell can
be enumerated (:func:`cvxcnn.arrangements.stream_relu_patterns`), but not
always held: 2 digits with a 2x2 kernel have ~680k cells, a 1-D signal of
n = 1000 with kernel 3 ~1M, each a mask of ``n`` bytes. Here the cells
arrive in chunks of ``chunk_size``; each chunk goes through the one ReLU
oracle (:func:`cvxcnn.oracle.relu_oracle`: closed-form screening, then
NNLS/Moreau per cell), pruned against the best value of the chunks before
it; the bracket of ``M(r) = max_{||u|| <= 1} |g^T (Y u)_+|`` is the max over
chunks. Only when the stream ran to the end (``complete``) does it cover the
whole arrangement, and only then is a bound from it "certified".

Memory: one chunk of masks (``chunk_size * n`` bytes) plus the stream's
keys of the cells seen (``n / 8`` bytes each) plus the ``keep`` best cells.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from cvxcnn.arrangements import KeySet, PatternSet, PatternStream, matrix_digest, packed_keys
from cvxcnn.certificates import Certificate, OracleSource, bound_network
from cvxcnn.losses import Loss
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import OracleResult, relu_oracle
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import check_positive_int

#: ``OracleResult.method`` / ``Certificate.oracle`` of the streamed oracle.
STREAMED = "streamed-enumeration"


@dataclass
class StreamedOracleResult(OracleResult):
    """:class:`~cvxcnn.oracle.OracleResult` over a stream of every cell.

    ``upper``/``lower`` bracket ``M`` over every cell the stream yielded;
    ``cell_upper``, ``cell_lower`` and ``argmax`` refer to :attr:`cells`,
    the ``keep`` cells with the largest ``cell_lower`` (outside ``exclude``).

    Attributes
    ----------
    cells : PatternSet
        The best cells (non-exact set), best first.
    complete : bool
        The stream ran to its end: the bracket covers the whole arrangement.
    count_bound : int
        The stream's count bound (generic data attain it).
    digest : str
        :func:`~cvxcnn.arrangements.matrix_digest` of the ``Y`` streamed.
    n_chunks : int
    """

    cells: PatternSet = field(repr=False, default=None)
    complete: bool = False
    count_bound: int = 0
    digest: str = ""
    n_chunks: int = 0


class _Best:
    """The ``keep`` cells with the largest lower bound seen so far (outside ``exclude``)."""

    def __init__(self, keep: int, n: int, d: int, exclude: KeySet, floor: float) -> None:
        self.keep, self.exclude, self.floor = keep, exclude, floor
        self.masks = np.zeros((0, n), dtype=bool)
        self.gens = np.zeros((0, d))
        self.lower = np.zeros(0)
        self.upper = np.zeros(0)

    def kth(self) -> float:
        """The ``keep``-th best lower bound (``-inf`` until ``keep`` cells are held)."""
        return float(self.lower.min()) if self.lower.size >= self.keep else -math.inf

    def merge(self, chunk: PatternSet, result: OracleResult) -> None:
        take = result.cell_lower > self.floor
        take[take] = ~self.exclude.contains(packed_keys(chunk.masks[take]))
        if not take.any():
            return
        lower = np.concatenate([self.lower, result.cell_lower[take]])
        order = np.argsort(-lower, kind="stable")[: self.keep]
        self.masks = np.concatenate([self.masks, chunk.masks[take]])[order]
        self.gens = np.concatenate([self.gens, chunk.generators[take]])[order]
        self.upper = np.concatenate([self.upper, result.cell_upper[take]])[order]
        self.lower = lower[order]


def streamed_relu_oracle(
    Y: np.ndarray,
    g: np.ndarray,
    *,
    chunk_size: int = 65536,
    threshold: float | None = None,
    keep: int = 1,
    exclude: object = None,
    progress: bool = False,
    stream: PatternStream | None = None,
) -> StreamedOracleResult:
    """Bracket ``M = max over EVERY cell and ||u|| <= 1 of |g^T (Y u)_+|``, chunk by chunk.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    g : ndarray of shape (n,)
        ``R^T r`` for a residual direction ``r``.
    chunk_size : int
        Cells per chunk (memory ``~chunk_size * n`` bytes); ignored when
        ``stream`` is given.
    threshold : float, optional
        Keep only cells whose value exceeds it (violators, for column
        generation); every cell whose bound exceeds ``max(threshold, the
        keep-th best so far)`` is decided exactly (see ``relu_oracle``).
        Without it, a cell is solved only when it may beat the best value
        so far (the certificate's use).
    keep : int
        How many of the best cells to return in ``cells``.
    exclude : PatternSet or ndarray of shape (q, n), bool, optional
        Cells never returned in ``cells`` (those already in a program); they
        still count for ``upper``/``lower``.
    progress : bool
        tqdm bar over the extreme rays of the enumeration.
    stream : PatternStream, optional
        The stream to run (default: ``stream_relu_patterns(Y, chunk_size)``).

    Returns
    -------
    StreamedOracleResult
        ``method == "streamed-enumeration"``; ``complete`` says whether the
        bracket covers the whole arrangement.
    """
    start = time.perf_counter()
    keep = check_positive_int(keep, "keep")
    Y = np.asarray(Y, dtype=float)
    g = np.asarray(g, dtype=float)
    if g.shape != (Y.shape[0],):
        raise ValueError(f"g must have shape (n,) = ({Y.shape[0]},); got {g.shape}")
    stream = stream or PatternStream(Y, chunk_size=chunk_size, progress=progress)
    if stream.Y.shape != Y.shape or not np.array_equal(stream.Y, Y):
        raise ValueError("stream must enumerate the cells of this Y (build it from the same Y)")
    excluded = KeySet(None if exclude is None else packed_keys(_masks_of(exclude)))
    floor = -math.inf if threshold is None else float(threshold)
    best = _Best(keep, Y.shape[0], Y.shape[1], excluded, max(floor, 0.0))
    upper = lower = 0.0
    direction = np.zeros(Y.shape[1])
    screened = solved = 0
    for chunk in stream:
        if threshold is None:
            res = relu_oracle(Y, g, chunk.masks, known_lower=lower)
        else:
            res = relu_oracle(Y, g, chunk.masks, threshold=max(floor, best.kth()))
        upper = max(upper, res.upper)
        if res.lower > lower:
            lower, direction = res.lower, res.direction
        screened, solved = screened + res.n_screened, solved + res.n_solved
        best.merge(chunk, res)
    cells = PatternSet(best.masks, best.gens, False, "streamed", stream.count_bound)
    return StreamedOracleResult(
        upper=max(upper, lower),
        lower=lower,
        cell_upper=best.upper,
        cell_lower=best.lower,
        direction=direction,
        argmax=0,
        n_cells=stream.n_cells,
        n_screened=screened,
        n_solved=solved,
        method=STREAMED,
        seconds=time.perf_counter() - start,
        cells=cells,
        complete=stream.complete,
        count_bound=stream.count_bound,
        digest=stream.digest,
        n_chunks=stream.n_chunks,
    )


def _masks_of(cells: object) -> np.ndarray:
    masks = cells.masks if isinstance(cells, PatternSet) else cells
    return np.asarray(masks, dtype=bool)


def certify_streamed(
    network: object,
    problem: PatchProblem,
    *,
    beta: float,
    loss: str | Loss = "squared",
    chunk_size: int = 65536,
    progress: bool = False,
    stream: PatternStream | None = None,
) -> Certificate:
    """:func:`cvxcnn.certify` of a ReLU network with the streamed oracle over every cell.

    "certified" only when the stream of ``problem.Y``'s cells ran to its end
    (``Certificate.oracle == "streamed/streamed-enumeration"``).

    Parameters
    ----------
    network : ReluNetwork
    problem : PatchProblem
    beta : float
    loss : str or Loss
    chunk_size : int
        Cells per chunk.
    progress : bool
    stream : PatternStream, optional
        A stream of ``problem.Y``'s cells to reuse (e.g. one with a cache).

    Returns
    -------
    Certificate
    """
    if not isinstance(network, ReluNetwork):
        raise TypeError(f"network must be a ReluNetwork; got {type(network).__name__}")
    stream = stream or PatternStream(problem.Y, chunk_size=chunk_size, progress=progress)
    source = OracleSource(
        run=lambda g: streamed_relu_oracle(problem.Y, g, stream=stream),
        label="streamed",
        exhaustive=lambda oracle: stream_exhaustive(oracle, problem.Y),
        n_cells=stream.count_bound,
    )
    return bound_network(network, problem, source, beta=beta, loss=loss)


def stream_exhaustive(oracle: StreamedOracleResult, Y: np.ndarray) -> tuple[bool, str]:
    """Whether a streamed oracle covered every cell of THIS ``Y``'s arrangement, and why not."""
    if oracle.digest != matrix_digest(Y):
        return False, "the stream enumerated another patch matrix: the bound is an estimate"
    if not oracle.complete:
        return False, "the stream of cells stopped before its end: the bound is an estimate"
    if oracle.n_cells > oracle.count_bound:  # impossible for a correct enumeration
        return False, (
            f"the stream yielded {oracle.n_cells} cells, more than the count bound "
            f"{oracle.count_bound}: the enumeration is wrong, the bound is an estimate"
        )
    return True, ""
