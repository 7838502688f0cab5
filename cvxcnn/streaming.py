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
from dataclasses import dataclass

import numpy as np

from cvxcnn.arrangements import KeySet, PatternSet, PatternStream, matrix_digest, packed_keys
from cvxcnn.certificates import Certificate, OracleSource, bound_network
from cvxcnn.losses import Loss
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import OracleResult, relu_oracle
from cvxcnn.problem import PatchProblem
from cvxcnn.results import omitted
from cvxcnn.validation import check_positive_int

#: ``OracleResult.method`` / ``Certificate.oracle`` of the streamed oracle.
STREAMED = "streamed-enumeration"


@dataclass(kw_only=True)
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

    cells: PatternSet = omitted(repr=False, default=None)
    complete: bool = False
    count_bound: int = 0
    digest: str = ""
    n_chunks: int = 0


class _Best:
    """The ``keep`` cells with the largest lower bound per sign so far (outside ``exclude``)."""

    def __init__(self, keep: int, n: int, d: int, exclude: KeySet, floor: float) -> None:
        self.keep, self.exclude, self.floor = keep, exclude, floor
        self.masks = [np.zeros((0, n), dtype=bool) for _ in range(2)]
        self.gens = [np.zeros((0, d)) for _ in range(2)]
        self.lower = [np.zeros(0) for _ in range(2)]
        self.upper = [np.zeros(0) for _ in range(2)]

    def kth(self) -> float:
        """The smaller of the signs' ``keep``-th best lower bounds (``-inf`` until full)."""
        return float(min(self.sign_kth()))

    def sign_kth(self) -> tuple[float, float]:
        """Per sign, the ``keep``-th best lower bound held (``-inf`` until ``keep`` are held)."""
        full = [lower.min() if lower.size >= self.keep else -math.inf for lower in self.lower]
        return float(full[0]), float(full[1])

    def merge(self, chunk: PatternSet, result: OracleResult) -> None:
        signs = result.sign_lower
        if signs is None:
            signs = np.column_stack([result.cell_lower, np.zeros_like(result.cell_lower)])
        for s in range(2):
            held = self.lower[s]
            bar = max(self.floor, held.min() if held.size >= self.keep else -math.inf)
            take = signs[:, s] > bar
            if take.any():
                take[take] = ~self.exclude.contains(packed_keys(chunk.masks[take]))
            if not take.any():
                continue
            lower = np.concatenate([held, signs[take, s]])
            order = np.argsort(-lower, kind="stable")[: self.keep]
            self.masks[s] = np.concatenate([self.masks[s], chunk.masks[take]])[order]
            self.gens[s] = np.concatenate([self.gens[s], chunk.generators[take]])[order]
            self.upper[s] = np.concatenate([self.upper[s], result.cell_upper[take]])[order]
            self.lower[s] = lower[order]

    def cells(self, count_bound: int) -> tuple[PatternSet, np.ndarray, np.ndarray]:
        """Both signs' cells, each once (its larger lower bound), best first."""
        masks = np.concatenate(self.masks)
        lower = np.concatenate(self.lower)
        order = np.argsort(-lower, kind="stable")
        _, first = np.unique(packed_keys(masks[order]), return_index=True)
        order = order[np.sort(first)]
        gens = np.concatenate(self.gens)[order]
        cells = PatternSet(masks[order], gens, False, "streamed", count_bound)
        return cells, np.concatenate(self.upper)[order], lower[order]


class CellBounds:
    """Per-cell upper bounds on ``m_i(g)`` over a cached stream, carried from round to round.

    After a pass at ``g`` every cell of the stream has an upper end
    (``cell_upper`` of the oracle). At a new ``g'`` the bound moves by a
    Lipschitz step: for ``u`` in the cell and ``||u|| <= 1``,
    ``|g'^T D Y u| <= |g^T D Y u| + ||Y^T D (g' - g)||``, and
    ``||Y^T D delta|| <= min(||Y||_2 ||delta||, sum_j |delta_j| ||y_j||)``.
    A pass then skips (does not even unpack) every cell whose moved bound
    cannot matter, and the skipped cells still count, through their bound,
    in the pass's upper end: nothing is left out of the bracket.

    Attributes
    ----------
    upper : list of ndarray
        One (P_i, 2) array per cached chunk (signs ``+c_i``, ``-c_i``); valid
        at :attr:`g`.
    g : ndarray of shape (n,) or None
    skipped, examined : int
        Cells skipped and screened by the last pass.
    """

    def __init__(self, Y: np.ndarray) -> None:
        self.row_norms = np.linalg.norm(Y, axis=1)
        self.spectral = float(np.linalg.norm(Y, 2)) if Y.size else 0.0
        self.upper: list[np.ndarray] = []
        self.g: np.ndarray | None = None
        self.skipped = self.examined = 0

    def step(self, g: np.ndarray) -> float:
        """How far every cell's bound may move from :attr:`g` to ``g`` (inf without bounds)."""
        if self.g is None:
            return math.inf
        delta = g - self.g
        step = min(self.spectral * np.linalg.norm(delta), float(np.abs(delta) @ self.row_norms))
        return step * (1 + 1e-9) + 1e-300  # rounding of the norms above

    def ready(self, stream: PatternStream) -> bool:
        """Bounds for every cached chunk of ``stream``."""
        sizes = [u.shape[0] for u in self.upper]
        return self.g is not None and stream.cached and sizes == stream.cached_sizes()


def _passes(stream, bounds, g, cut):
    """``(key, chunk)`` of one pass; with ready bounds only cells that may exceed ``cut()``.

    ``cut()`` gives the current (2,) per-sign values below which a pair cannot
    matter. ``key`` is None in a full pass, else ``(chunk number, cell indices)``.
    """
    if bounds is None or not bounds.ready(stream):
        if bounds is not None:
            bounds.upper, bounds.g = [], None
        for chunk in stream:
            yield None, chunk
        return
    step = bounds.step(g)
    for upper in bounds.upper:
        upper += step
    bounds.g = None  # valid again (at g) only when the pass completes
    bounds.skipped = bounds.examined = 0

    def rows(i: int) -> np.ndarray:
        index = np.flatnonzero((bounds.upper[i] > np.asarray(cut())).any(axis=1))
        bounds.examined += index.size
        bounds.skipped += bounds.upper[i].shape[0] - index.size
        return index

    # chunks with the largest bounds first: the cut rises early, later chunks are skipped
    order = np.argsort([-(u.max() if u.size else -math.inf) for u in bounds.upper])
    for i, index, chunk in stream.replay(rows, order.tolist()):
        yield (i, index), chunk


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
    bounds: CellBounds | None = None,
    budget: int | None = None,
) -> StreamedOracleResult:
    """Bracket ``M = max over EVERY cell and ||u|| <= 1 of |g^T (Y u)_+|``, chunk by chunk.

    The exact oracle of DESIGN.md section 5 over an arrangement too large to
    hold (small ``d``: the enumeration of section 3 yields ``O(n^(d-1))``
    cells): each chunk of the stream goes through
    :func:`cvxcnn.oracle.relu_oracle`, pruned against the best value of the
    chunks before it, so time grows linearly with the number of cells and
    memory stays at one chunk, ``n / 8`` bytes per cell seen and the ``keep``
    best cells. The bracket is rigorous over the cells the stream yielded,
    and over the whole arrangement (a certificate) only when ``complete``.

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
        How many of the best cells PER SIGN (``+c_i``, ``-c_i``) to return in
        ``cells`` (up to ``2 keep`` cells).
    exclude : PatternSet or ndarray of shape (q, n), bool, optional
        Cells never returned in ``cells`` (those already in a program); they
        still count for ``upper``/``lower``.
    progress : bool
        tqdm bar over the extreme rays of the enumeration.
    stream : PatternStream, optional
        The stream to run (default: ``stream_relu_patterns(Y, chunk_size)``).
    bounds : CellBounds, optional
        Per-cell bounds of an earlier pass over the same cached ``stream``:
        cells whose moved bound is at most the threshold (or the best value
        so far) are skipped; the pass updates the bounds (the first pass
        records them).
    budget : int, optional
        With ``threshold``: NNLS solves per chunk and sign once ``keep``
        violators of that sign are known (see ``relu_oracle``): ``cells``
        are then violators, not necessarily the most violated, and a pass
        far from the optimum costs ``O(budget)`` solves a chunk. Without
        violators it changes nothing.

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
    state = {"upper": 0.0, "lower": 0.0, "screened": 0, "solved": 0}
    direction = np.zeros(Y.shape[1])

    def cut() -> tuple[float, float]:  # per sign: at or below it a pair cannot matter
        if threshold is None:
            return state["lower"], state["lower"]
        kth = best.sign_kth()
        return max(floor, kth[0]), max(floor, kth[1])

    recorded: list[np.ndarray] = []
    for key, chunk in _passes(stream, bounds, g, cut):
        if threshold is None:
            res = relu_oracle(Y, g, chunk.masks, known_lower=state["lower"])
        else:
            res = relu_oracle(
                Y, g, chunk.masks, threshold=floor, keep=keep, sign_floor=cut(), budget=budget
            )
        state["upper"] = max(state["upper"], res.upper)
        if res.lower > state["lower"]:
            state["lower"], direction = res.lower, res.direction
        state["screened"] += res.n_screened
        state["solved"] += res.n_solved
        best.merge(chunk, res)
        if bounds is not None:
            _record(bounds, recorded, key, res.sign_upper)
    upper = state["upper"]
    if bounds is not None:
        upper = _finish_bounds(bounds, recorded, stream, g, upper)
    cells, cell_upper, cell_lower = best.cells(stream.count_bound)
    return StreamedOracleResult(
        upper=max(upper, state["lower"]),
        lower=state["lower"],
        cell_upper=cell_upper,
        cell_lower=cell_lower,
        direction=direction,
        argmax=0,
        n_cells=stream.n_cells,
        n_screened=state["screened"],
        n_solved=state["solved"],
        method=STREAMED,
        seconds=time.perf_counter() - start,
        cells=cells,
        complete=stream.complete,
        count_bound=stream.count_bound,
        digest=stream.digest,
        n_chunks=stream.n_chunks,
    )


def _record(bounds: CellBounds, recorded: list, key: object, sign_upper: np.ndarray) -> None:
    """Store a chunk's fresh (P, 2) per-sign upper ends (a replayed chunk's selected cells)."""
    if key is None:  # a full pass: chunk after chunk, in the cache's order
        recorded.append(sign_upper.copy())
    else:
        chunk_id, rows = key
        bounds.upper[chunk_id][rows] = sign_upper


def _finish_bounds(bounds, recorded, stream, g, upper) -> float:
    """Bounds valid at ``g`` after the pass; the pass's upper end over skipped cells too."""
    if recorded:  # a full pass recorded every chunk (kept only if the stream cached it)
        bounds.upper = recorded if stream.complete and stream.cached else []
        bounds.examined, bounds.skipped = sum(u.shape[0] for u in recorded), 0
    if not stream.complete or not bounds.upper:
        bounds.upper, bounds.g = [], None
        return upper
    bounds.g = g.copy()
    return max(upper, max(float(u.max()) for u in bounds.upper if u.size))


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
    bounds: CellBounds | None = None,
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
    bounds : CellBounds, optional
        Per-cell bounds over that (cached) stream from earlier passes: cells
        that cannot reach the best value so far are skipped.

    Returns
    -------
    Certificate
    """
    if not isinstance(network, ReluNetwork):
        raise TypeError(f"network must be a ReluNetwork; got {type(network).__name__}")
    stream = stream or PatternStream(problem.Y, chunk_size=chunk_size, progress=progress)
    source = OracleSource(
        run=lambda g: streamed_relu_oracle(problem.Y, g, stream=stream, bounds=bounds),
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
