"""The ReLU activation: sign-pattern cells ``D_i``, Sahiner et al.'s eq. 4 program.

Cells are :class:`~cvxcnn.arrangements.PatternSet` masks (P, n); the cone of
cell ``i`` is ``(2 D_i - I) Y w >= 0``; its block of the prediction is
``D_i Y w``; the oracle is the NNLS/Moreau oracle of :mod:`cvxcnn.oracle`;
the network is :class:`~cvxcnn.networks.ReluNetwork`.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.activations.base import Activation
from cvxcnn.arrangements import (
    PatternSet,
    enumerate_relu_patterns,
    sample_relu_patterns,
)
from cvxcnn.facets import (
    FacetReduction,
    cone_facet_mask,
    facet_row_mask,
    hull_pays_off,
    pilot_reduction,
    reduce_sign_rows,
    violated_dropped_rows,
)
from cvxcnn.mip_oracle import MipArrangement, mip_arrangement
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import OracleResult, relu_oracle
from cvxcnn.programs.relu import build_relu_program, check_masks, pattern_masks
from cvxcnn.programs.relu_direct import fit_relu_direct
from cvxcnn.programs.relu_result import result_from_program
from cvxcnn.reconstruct import active_pattern_mask
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import resolve_solver


class Relu(Activation):
    """``act(a) = max(a, 0)``: sign-pattern cells, eq. 4, NNLS oracle."""

    name = "relu"
    network_type = ReluNetwork
    backends = ("cvxpy", "direct")
    cell_type = PatternSet

    #: Also a ReLU cell set: every cell, searched by the MIP oracle (no program over it).
    searched_type = MipArrangement

    sampler = staticmethod(sample_relu_patterns)
    enumerator = staticmethod(enumerate_relu_patterns)

    def check_listed(self, cells, n):
        if isinstance(cells, PatternSet):
            check_masks(cells.masks, n)
            return cells
        if isinstance(cells, np.ndarray):
            return check_masks(cells, n)  # raw masks: a (P, n) bool copy
        raise TypeError(
            "ReLU cells must be a PatternSet (sample_relu_patterns / enumerate_relu_patterns) "
            f"or a (P, n) bool mask array; got {type(cells).__name__}"
        )

    def cell_bits(self, cells) -> np.ndarray:
        return np.asarray(pattern_masks(cells), dtype=bool)

    def search_all(self, Y, *, time_limit, random_state=0) -> MipArrangement:
        # SCIP over the exact ball when pyscipopt is installed, else HiGHS (docs/certificates.md)
        return mip_arrangement(Y, time_limit=time_limit, random_state=random_state, engine="auto")

    def generator_slack(self, cells, Y) -> np.ndarray:
        H = Y @ cells.generators.T  # (n, P)
        scale = np.linalg.norm(Y, axis=1)[:, None] * np.linalg.norm(cells.generators, axis=1)
        return (2.0 * cells.masks.T - 1.0) * H / np.maximum(scale, 1e-300)

    def solve(self, problem, cells, *, beta, loss, row_mask, settings) -> ConvexFitResult:
        self.check_program_cells(cells, settings)
        s = settings
        if s.backend == "direct":
            if resolve_solver(s.solver) != "CLARABEL":
                raise ValueError(
                    f"backend='direct' builds Clarabel's standard form; got solver={s.solver!r}"
                )
            return fit_relu_direct(
                problem,
                cells,
                beta=beta,
                loss=loss,
                solver_options=s.solver_options,
                rtol=s.rtol,
                row_mask=row_mask,
            )
        program = build_relu_program(problem, cells, beta=beta, loss=loss, row_mask=row_mask)
        exact = bool(getattr(cells, "exact", False))
        return result_from_program(program, s.solve(program.problem), exact=exact, rtol=s.rtol)

    def program_nonzeros(self, problem, cells, row_mask, *, loss_only=False) -> int:
        n, d, P = problem.n, problem.d, len(pattern_masks(cells))
        rows = n * P if row_mask is None else int(np.count_nonzero(row_mask))
        rows = 0 if loss_only else rows
        return 2 * d * (n * P + rows)  # W and Z: the loss rows and the sign rows

    def facet_reduction(self, problem, cells, facets, n_jobs) -> FacetReduction | None:
        self.check_program_cells(cells)
        if facets is None or (isinstance(facets, str) and facets == "off"):
            return None
        if isinstance(facets, FacetReduction):
            shape = (problem.n, len(pattern_masks(cells)))
            if facets.keep.shape != shape:
                raise ValueError(
                    f"facets.keep must have shape (n, P) = {shape}; got {facets.keep.shape}: "
                    "compute it for these patterns"
                )
            return facets
        if facets == "auto" and not getattr(cells, "exact", False):
            # adjacency is free for exact sets; Qhull must pay for itself (a timed pilot)
            if not hull_pays_off(problem.Y):
                return None
            masks, generators = pattern_masks(cells), getattr(cells, "generators", None)

            def reduce(index, jobs):
                inside = None if generators is None else generators[index]
                return cone_facet_mask(
                    masks[index], problem.Y, method="hull", interior=inside, n_jobs=jobs
                )

            full = self.program_nonzeros(problem, cells, None)
            rank = int(np.linalg.matrix_rank(problem.Y))
            return pilot_reduction(reduce, len(masks), full, n_jobs, rank)
        return reduce_sign_rows(cells, problem.Y, method=str(facets), n_jobs=n_jobs)

    def check_row_mask(self, row_mask, problem, cells):
        mask = np.asarray(row_mask)
        shape = (problem.n, len(pattern_masks(cells)))
        if mask.dtype != np.bool_ or mask.shape != shape:
            raise ValueError(
                f"row_mask must be a bool array of shape (n, P) = {shape}; "
                f"got {mask.dtype} {mask.shape}"
            )
        return mask.copy()

    def violated_rows(self, result, problem, cells, row_mask) -> np.ndarray:
        signs = 2.0 * np.asarray(pattern_masks(cells), dtype=bool).T - 1.0  # (n, P)
        return violated_dropped_rows(signs, problem.Y, result.W, result.Z, row_mask)

    def colgen_row_mask(self, problem, cells, index):
        if isinstance(cells, MipArrangement):  # known cells: no adjacency, every row
            return None
        return facet_row_mask(cells.masks[index], cells, problem.Y)

    def empty_network(self, d) -> ReluNetwork:
        return ReluNetwork(np.zeros((0, d)), np.zeros(0))

    def scale_network(self, network, patch_scale, target_scale) -> ReluNetwork:
        c = np.sqrt(target_scale / patch_scale)
        return ReluNetwork(network.U * c, network.v * c)

    def active_cells(self, result, cells, *, rtol, floor) -> np.ndarray:
        return active_pattern_mask(result.W, result.Z, rtol=rtol, floor=floor)

    def program_output(self, result, problem, cells) -> np.ndarray | None:
        if result.W is None or isinstance(cells, MipArrangement):
            return None
        blocks = problem.Y @ (result.W - result.Z)  # (n, P): Y (w_i - z_i)
        return (blocks * pattern_masks(cells).T).sum(axis=1)  # sum_i D_i Y (w_i - z_i)

    def oracle(
        self, Y, g, cells, *, threshold=None, method=None, time_limit=None, executor=None
    ) -> OracleResult:
        """NNLS/SOCP over given cells (``method``); the MIP over a :class:`MipArrangement`.

        ``time_limit`` (seconds, MIP only) overrides the arrangement's own; ``executor``
        runs the per-cell NNLS chunks (:func:`cvxcnn.executor.map_calls`), of the
        known cells for a :class:`MipArrangement`.
        """
        if self.is_searched(cells):
            if method not in (None, "mip"):
                raise ValueError(f"a MipArrangement is searched by method 'mip'; got {method!r}")
            return cells.bracket(
                Y, g, threshold=threshold, time_limit=time_limit, executor=executor
            )
        self.check_time_limit(cells, time_limit)
        masks = pattern_masks(cells)
        method = method or "nnls"
        return relu_oracle(Y, g, masks, threshold=threshold, method=method, executor=executor)
