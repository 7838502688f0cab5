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
from dataclasses import dataclass

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import PatternSet, PatternStream, sample_relu_patterns
from cvxcnn.certificates import TIGHT_CLARABEL, Certificate, dual_direction
from cvxcnn.colgen import ColgenLoop, ColgenResult, RestrictedPrograms, run_colgen
from cvxcnn.losses import Loss, get_loss
from cvxcnn.problem import PatchProblem
from cvxcnn.reconstruct import natural_scale
from cvxcnn.streaming import certify_streamed, streamed_relu_oracle
from cvxcnn.validation import check_positive, check_positive_int


@dataclass
class StreamedPrograms(RestrictedPrograms):
    """:class:`~cvxcnn.colgen.RestrictedPrograms` over a growing pool priced by a stream.

    ``cells`` is the pool (a non-exact :class:`PatternSet`: every cell that
    entered some program); ``stream`` enumerates the whole arrangement.
    """

    stream: PatternStream | None = None
    keep: int = 50

    def judge(self, result, mask):
        """The streamed oracle at ``result``'s residual; violators outside ``mask``, worst first.

        New violators are appended to the pool; the indices refer to it.
        """
        _, g = dual_direction(result.network, self.problem, self.loss)
        program = self.cells.masks[np.flatnonzero(mask)]
        oracle = streamed_relu_oracle(
            self.problem.Y, g, stream=self.stream, keep=self.keep, exclude=program
        )
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

    def certify(self, network: object) -> Certificate:
        return certify_streamed(
            network, self.problem, beta=self.beta, loss=self.loss, stream=self.stream
        )

    def total_cells(self) -> int:
        return self.stream.n_cells if self.stream.complete else self.stream.count_bound


def solve_colgen_streamed(
    problem: PatchProblem,
    *,
    beta: float,
    loss: str | Loss = "squared",
    initial: int = 10,
    tol: float = 1e-6,
    add_per_iteration: int = 50,
    max_iterations: int = 100,
    solver: str = "CLARABEL",
    solver_options: dict | None = None,
    random_state: int | np.random.Generator | None = 0,
    progress: bool = False,
    gap_tol: float = 1e-7,
    chunk_size: int = 65536,
    max_memory: float | None = None,
) -> ColgenResult:
    """Certified ReLU optimum by column generation, pricing over a stream of every cell.

    Parameters
    ----------
    problem : PatchProblem
    beta, loss, tol, add_per_iteration, max_iterations, solver, solver_options, gap_tol
        As in :func:`cvxcnn.colgen.solve_colgen`.
    initial : int
        Sampled starting cells (seeded by ``random_state``).
    random_state : int, Generator or None
    progress : bool
        One line per round and a tqdm bar over the first enumeration.
    chunk_size : int
        Cells per chunk of the stream (memory ``~chunk_size * n`` bytes; the
        stream keeps its cells bit-packed after the first pass).
    max_memory : float or None
        Bytes each restricted program may take.

    Returns
    -------
    ColgenResult
        ``certificate.oracle == "streamed/streamed-enumeration"``; certified
        only when the stream covered every cell.
    """
    beta = check_positive(beta, "beta")
    tol = check_positive(tol, "tol", allow_zero=True)
    initial = check_positive_int(initial, "initial")
    loss = get_loss(loss)
    if solver_options is None and solver.upper() == "CLARABEL":
        solver_options = TIGHT_CLARABEL
    start = time.perf_counter()
    stream = PatternStream(problem.Y, chunk_size=chunk_size, progress=progress, cache=True)
    pool = sample_relu_patterns(problem.Y, initial, random_state=random_state)
    rp = StreamedPrograms(
        get_activation("relu"), problem, pool, beta, loss, tol, solver, solver_options,
        False, max_memory, natural_scale(problem), stream=stream,
        keep=check_positive_int(add_per_iteration, "add_per_iteration"),
    )  # fmt: skip
    loop = ColgenLoop(add_per_iteration, max_iterations, gap_tol, True, progress)
    return run_colgen(rp, np.ones(len(pool), dtype=bool), loop, start)
