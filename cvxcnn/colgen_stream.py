"""Column generation whose pricing streams every cell (ReLU, small ``d``).

:func:`cvxcnn.colgen.solve_colgen` holds the exact cell set in memory and
indexes the program by masks over it. Here the arrangement is a
:class:`~cvxcnn.arrangements.PatternStream` instead: the program's cells
live in a small pool that grows as the streamed oracle
(:func:`cvxcnn.streaming.streamed_relu_oracle`) returns the most violated
cells outside the program, and every certificate runs the oracle over the
whole stream (:func:`cvxcnn.streaming.certify_streamed`). The loop, its
refinement on the active set and the final polish are those of
:func:`cvxcnn.colgen.run_colgen`; only the pool differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import PatternSet, PatternStream, sample_relu_patterns
from cvxcnn.certificates import Certificate, dual_direction
from cvxcnn.colgen import ColgenResult, ColgenSettings, RestrictedPrograms, run_colgen
from cvxcnn.problem import PatchProblem
from cvxcnn.results import json_ready
from cvxcnn.streaming import CellBounds, certify_streamed, streamed_relu_oracle
from cvxcnn.validation import check_positive_int

#: Most violated cells :func:`solve_colgen_streamed` adds per round and per sign by default.
ADD_PER_SIGN = 100


@dataclass
class StreamedColgenResult(ColgenResult):
    """:class:`~cvxcnn.colgen.ColgenResult` with a record of each pass over the stream.

    Attributes
    ----------
    passes : list of dict
        Per pass (pricing, then the certificates): ``seconds``, ``cells``,
        ``skipped`` (by their carried bounds), ``solved`` (NNLS) and ``upper``.
    """

    passes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """:meth:`ColgenResult.to_dict` plus ``colgen_passes``."""
        return {**super().to_dict(), "colgen_passes": json_ready(self.passes)}


@dataclass
class StreamedPrograms(RestrictedPrograms):
    """:class:`~cvxcnn.colgen.RestrictedPrograms` over a growing pool priced by a stream.

    ``cells`` is the pool (a non-exact :class:`PatternSet`: every cell that
    entered some program); ``stream`` enumerates the whole arrangement.
    """

    stream: PatternStream | None = None
    keep: int = 50
    bounds: CellBounds | None = None
    passes: list = field(default_factory=list)

    def judge(self, result, mask):
        """The streamed oracle at ``result``'s residual; violators outside ``mask``, worst first.

        Up to ``keep`` violators per sign; new ones are appended to the pool
        (the indices refer to it). Cells whose carried bound
        (:class:`~cvxcnn.streaming.CellBounds`) is below the threshold are
        skipped.
        """
        _, g = dual_direction(result.network, self.problem, self.loss)
        program = self.cells.masks[np.flatnonzero(mask)]
        oracle = streamed_relu_oracle(
            self.problem.Y,
            g,
            stream=self.stream,
            keep=self.keep,
            exclude=program,
            threshold=self.beta * (1 + self.tol),
            bounds=self.bounds,
            budget=self.keep,
        )
        self._log(oracle)
        found = oracle.cells.subset(np.flatnonzero(oracle.cell_lower > self.beta * (1 + self.tol)))
        return oracle, self._indices(found)

    def _indices(self, found: PatternSet) -> np.ndarray:
        """Indices of ``found`` in the pool, appending those it does not hold (order kept)."""
        keys = self.activation.keys(self.cells)
        index_of = {key: i for i, key in enumerate(keys)}
        new = [i for i, key in enumerate(self.activation.keys(found)) if key not in index_of]
        if new:
            self.cells = self.cells.union(found.subset(np.array(new)))
            index_of = {key: i for i, key in enumerate(self.activation.keys(self.cells))}
        return np.array([index_of[k] for k in self.activation.keys(found)], dtype=np.intp)

    def _log(self, oracle: object) -> None:
        """One record per pass: seconds, cells screened and skipped by their bounds."""
        skipped = self.bounds.skipped if self.bounds is not None else 0
        self.passes.append(
            {"seconds": oracle.seconds, "cells": oracle.n_cells, "skipped": skipped,
             "solved": oracle.n_solved, "upper": oracle.upper}
        )  # fmt: skip

    def certify(self, network: object) -> Certificate:
        cert = certify_streamed(
            network,
            self.problem,
            beta=self.beta,
            loss=self.loss,
            stream=self.stream,
            bounds=self.bounds,
        )
        skipped = self.bounds.skipped if self.bounds is not None else 0
        self.passes.append(
            {"seconds": cert.oracle_seconds, "cells": self.stream.n_cells, "skipped": skipped,
             "certificate": cert.relative_gap}
        )  # fmt: skip
        return cert

    def total_cells(self) -> int:
        return self.stream.n_cells if self.stream.complete else self.stream.count_bound


def solve_colgen_streamed(
    problem: PatchProblem,
    settings: ColgenSettings | None = None,
    *,
    chunk_size: int = 65536,
    stream: PatternStream | None = None,
    **keywords: object,
) -> ColgenResult:
    """Certified ReLU optimum by column generation, pricing over a stream of every cell.

    Each round runs one pass over the stream at the restricted optimum's
    residual and adds up to ``add_per_iteration`` most violated cells PER
    SIGN of the dual constraint (``2 add_per_iteration`` in all). After the
    first pass the stream replays its bit-packed cache and every cell keeps
    an upper bound (:class:`~cvxcnn.streaming.CellBounds`) that moves with
    the residual by a Lipschitz step: a pass unpacks and screens only the
    cells whose bound may exceed the threshold (late rounds skip most).
    The program keeps its active cells plus the new ones (at most ``n + 1``
    are active at an optimum).

    Parameters
    ----------
    problem : PatchProblem
    settings : ColgenSettings, optional
        The column generation settings in one object; or give them as
        ``**keywords``.
    **keywords
        The fields of :class:`cvxcnn.colgen.ColgenSettings` (``beta``,
        ``loss``, ``initial``, ``tol``, ...), as for
        :func:`cvxcnn.colgen.solve_colgen`, except: ``initial`` must be an int
        (sampled starting cells, seeded by ``random_state``);
        ``add_per_iteration`` counts violated cells per round and PER SIGN
        (default :data:`ADD_PER_SIGN`); ``progress`` also shows a tqdm bar
        over the first enumeration. Not with ``settings``.
    chunk_size : int
        Cells per chunk of the stream (memory ``~chunk_size * n`` bytes; the
        stream keeps its cells bit-packed after the first pass).
    stream : PatternStream, optional
        A stream of ``problem.Y``'s cells (made cached here if it is not);
        default ``stream_relu_patterns(problem.Y, chunk_size, cache=True)``.

    Returns
    -------
    ColgenResult
        ``certificate.oracle == "streamed/streamed-enumeration"``; certified
        only when the stream covered every cell. ``passes`` (JSON
        ``colgen_passes``): seconds and skipped cells of each pass.
    """
    if settings is None:
        settings = ColgenSettings(**keywords)
    elif keywords:
        raise TypeError(f"give settings or keywords, not both; got settings and {sorted(keywords)}")
    initial = check_positive_int(settings.initial, "initial")
    keep = settings.add_per_iteration or ADD_PER_SIGN
    start = time.perf_counter()
    if stream is None:
        stream = PatternStream(
            problem.Y, chunk_size=chunk_size, progress=settings.progress, cache=True
        )
    elif stream.Y.shape != problem.Y.shape or not np.array_equal(stream.Y, problem.Y):
        raise ValueError("stream must enumerate the cells of problem.Y (build it from problem.Y)")
    stream.cache = True
    pool = sample_relu_patterns(problem.Y, initial, random_state=settings.random_state)
    rp = settings.programs(
        get_activation("relu"), problem, pool, False, StreamedPrograms,
        stream=stream, keep=keep, bounds=CellBounds(problem.Y),
    )  # fmt: skip
    loop = settings.loop(2 * keep, drop_inactive=True)
    result = run_colgen(rp, np.ones(len(pool), dtype=bool), loop, start)
    return StreamedColgenResult(**vars(result), passes=rp.passes)
