"""The soft-threshold activation with learnable thresholds (DESIGN.md section 6a).

Cells are :class:`~cvxcnn.soft_threshold.triples.TripleSet` triples (S1, S2,
S3); the cone of triple ``j`` acts on ``(w, t)``: signed rows of
``[Y, -1; Y, 1; 0, 1]`` (:func:`~cvxcnn.soft_threshold.facets.st_row_signs`);
its block of the prediction is ``D3 (Y w - t) + D1 (Y w + t)``; the oracle is
the stacked per-cell SOCP of :func:`~cvxcnn.soft_threshold.oracle.st_oracle`;
the network is :class:`~cvxcnn.soft_threshold.network.STNetwork`.
Xiong et al.'s fixed-gain paper program (6c) is not part of the pipeline: it
is not a reformulation of the network (see :func:`cvxcnn.soft_threshold.fit_st`).
"""

from __future__ import annotations

import numpy as np

from cvxcnn.activations.base import Activation
from cvxcnn.facets import FacetReduction
from cvxcnn.oracle import OracleResult
from cvxcnn.results import ConvexFitResult
from cvxcnn.soft_threshold.facets import (
    resolve_st_facets,
    st_facets_summary,
    st_row_signs,
    st_violated_dropped_rows,
)
from cvxcnn.soft_threshold.mip_oracle import STMipTriples, st_mip_triples
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.soft_threshold.oracle import st_oracle
from cvxcnn.soft_threshold.programs import (
    STFitResult,
    build_st_program,
    check_row_mask,
    check_triples,
    live_index,
    result_from_st_program,
    st_program_outputs,
)
from cvxcnn.soft_threshold.triples import (
    TripleSet,
    augmented_matrix,
    enumerate_st_triples,
    sample_st_triples,
)


class SoftThreshold(Activation):
    """``tau_t(a) = sign(a) max(|a| - t, 0)`` with a learnable ``t >= 0`` per neuron."""

    name = "soft_threshold"
    network_type = STNetwork
    cell_type = TripleSet

    #: Also a triple set: every triple, searched by the MIP oracle (no program over it).
    searched_type = STMipTriples

    sampler = staticmethod(sample_st_triples)
    enumerator = staticmethod(enumerate_st_triples)

    def check_listed(self, cells, n):
        return check_triples(cells, n)

    def search_all(self, Y, *, time_limit, random_state=0) -> STMipTriples:
        return st_mip_triples(Y, time_limit=time_limit, random_state=random_state)

    def cell_bits(self, cells) -> np.ndarray:
        return np.hstack([cells.s1, cells.s3])

    def generator_slack(self, cells, Y) -> np.ndarray:
        H = Y @ cells.generators.T  # (n, P)
        t = cells.thresholds[None, :]  # >= 0 (TripleSet checks)
        scale = np.linalg.norm(Y, axis=1)[:, None] * np.linalg.norm(cells.generators, axis=1) + t
        s1, s3 = cells.s1.T, cells.s3.T
        slack = np.where(s3, H - t, np.where(s1, -H - t, t - np.abs(H)))
        return slack / np.maximum(scale, 1e-300)

    def solve(self, problem, cells, *, beta, loss, row_mask, settings) -> ConvexFitResult:
        self.check_program_cells(cells, settings)
        s = settings
        program = build_st_program(problem, cells, beta=beta, loss=loss, row_mask=row_mask)
        return result_from_st_program(program, s.solve(program.problem), rtol=s.rtol)

    def program_nonzeros(self, problem, cells, row_mask, *, loss_only=False) -> int:
        n, q, P = problem.n, problem.d + 1, len(cells)
        rows = (2 * n + 1) * P if row_mask is None else int(np.count_nonzero(row_mask))
        rows = 0 if loss_only else rows
        return 2 * q * (n * P + rows)  # (w, t) and (w', t'): the loss rows and the cone rows

    def facet_reduction(self, problem, cells, facets, n_jobs) -> FacetReduction | None:
        self.check_program_cells(cells)
        return resolve_st_facets(problem.Y, cells, facets, n_jobs=n_jobs)

    def check_row_mask(self, row_mask, problem, cells):
        return check_row_mask(row_mask, cells).copy()

    def violated_rows(self, result, problem, cells, row_mask) -> np.ndarray:
        index = live_index(cells)
        signs = st_row_signs(cells)[index]
        keep = row_mask[:, index] & (signs.T != 0)
        missing = st_violated_dropped_rows(
            result.W, result.Z, result.T, result.Tp, signs, augmented_matrix(problem.Y), keep
        )
        full = np.zeros_like(row_mask, dtype=bool)
        full[:, index] = missing
        return full

    def facets_summary(self, reduction, cells) -> dict:
        return st_facets_summary(reduction, st_row_signs(cells))

    def unscale(self, result, patch_scale, target_scale) -> None:
        super().unscale(result, patch_scale, target_scale)
        if result.T is not None:  # thresholds live on the output side: Y w - t
            result.T, result.Tp = result.T * target_scale, result.Tp * target_scale

    def empty_network(self, d) -> STNetwork:
        return STNetwork(U=np.zeros((0, d)), thresholds=np.zeros(0), v=np.zeros(0))

    def block_count(self, cells) -> int:
        return int(live_index(cells).size)

    def zero_result(self, problem, cells, **common) -> STFitResult:
        base = super().zero_result(problem, cells, **common)
        t = np.zeros(self.block_count(cells))
        fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
        return STFitResult(**fields, form="exact", triples_exact=cells.exact, T=t, Tp=t.copy())

    def scale_network(self, network, patch_scale, target_scale) -> STNetwork:
        c = np.sqrt(target_scale / patch_scale)
        return STNetwork(
            U=network.U * c,
            thresholds=network.thresholds * np.sqrt(target_scale * patch_scale),
            v=network.v * c,
        )

    def program_output(self, result, problem, cells) -> np.ndarray | None:
        if result.W is None or result.T is None or self.is_searched(cells):
            return None
        index = live_index(cells)  # the program's blocks are the live triples
        s1, s3 = cells.s1[index], cells.s3[index]
        return st_program_outputs(result.W, result.Z, result.T, result.Tp, s1, s3, problem.Y)

    def active_cells(self, result, cells, *, rtol, floor) -> np.ndarray:
        norms = np.maximum(np.linalg.norm(result.W, axis=0), np.linalg.norm(result.Z, axis=0))
        scale = max(float(norms.max(initial=0.0)), floor)
        active = np.zeros(len(cells), dtype=bool)
        if scale > 0:
            active[live_index(cells)] = norms > rtol * scale
        return active

    def oracle(
        self,
        Y,
        g,
        cells,
        *,
        threshold=None,
        solver="CLARABEL",
        solver_options=None,
        time_limit=None,
    ) -> OracleResult:
        """Stacked per-cell SOCP over given triples; the MIP over an :class:`STMipTriples`.

        ``time_limit`` (seconds, MIP only) overrides the set's own.
        """
        options = dict(solver=solver, solver_options=solver_options)
        if self.is_searched(cells):
            return cells.bracket(Y, g, threshold=threshold, time_limit=time_limit, **options)
        self.check_time_limit(cells, time_limit)
        # every live cell is solved exactly, so ``threshold`` needs no special mode
        return st_oracle(Y, g, cells, **options)


__all__ = ["SoftThreshold"]
