"""Convex programs of two-layer soft-threshold CNNs (DESIGN.md section 6).

6a, exact with learnable, unpenalized thresholds (ours). For triple ``j`` with
0/1 masks ``D1_j, D3_j`` let ``F_j(w, t) = D3_j (Y w - t 1) + D1_j (Y w + t 1)``:

    minimize    L(R sum_j [F_j(w_j, t_j) - F_j(w'_j, t'_j)], x) + beta sum_j (||w_j|| + ||w'_j||)
    subject to  t_j >= 0,  (2 D3_j - I)(Y w_j - t_j 1) >= 0,  (2 D1_j - I)(-Y w_j - t_j 1) >= 0
                (the same for w'_j, t'_j)

On the closed cell ``tau_t(Y w) = F_j(w, t)``; reconstruction: ``u = w / sqrt||w||``,
threshold ``t / sqrt||w||``, ``v = +-sqrt||w||``. With EVERY triple
(:func:`~cvxcnn.soft_threshold.triples.enumerate_st_triples`) the optimum is
the global optimum of the learnable-threshold network.

6c, the paper form (Xiong et al. eq. 22/24), with FIXED gains ``Q_j``:

    minimize    L(R sum_j Q_j Y (w'_j - w_j), x) + beta sum_j (||w_j|| + ||w'_j||)
    subject to  Q^{S1}_j Y w >= 0,  Q^{S3}_j Y w <= 0          (w = w_j and w = w'_j)

(our scaling: half of Xiong et al.'s objective at equal beta). This is a
convex program over a gated model with fixed gains, not a reformulation of the
ST network; the gains are invariant under rescaling the generator, so the
program does not depend on ``lambda`` at all, only on the triples.

Both are built vectorized like the ReLU program: matrix variables ``W`` (d, P),
masks (n, P), ``cp.multiply``, ``cp.norm(axis=0)``; no per-triple Python
loop. Redundant sign rows are left out (on S3 rows ``Y w >= -t`` follows from
``Y w >= t``, on S1 rows ``Y w <= t`` from ``Y w <= -t``), so each block has
``n + |S2_j| + 1`` rows (with ``t >= 0``) instead of ``2n + 1``.

Facet reduction of 6a (:mod:`cvxcnn.soft_threshold.facets`): each block's
rows are ``+-1`` times rows of ``[Y, -1; Y, 1; 0, 1]`` acting on ``(w, t)``,
so only the facets of that cone are needed. :func:`fit_st` keeps only those
(``facets="auto"``), checks EVERY full row at the solution and re-solves with
any violated dropped row added, so its optimum is that of the full program.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from cvxcnn.facets import FacetReduction
from cvxcnn.losses import Loss
from cvxcnn.networks import primal_objective
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.cone import (
    Blocks,
    ConeProgram,
    assemble,
    make_blocks,
    prepare_loss,
    signed_rows,
)
from cvxcnn.programs.fit_result import solve_fields, solved_result, unsolved_result
from cvxcnn.programs.objective import group_norm_objective
from cvxcnn.reconstruct import DEFAULT_RTOL, natural_scale
from cvxcnn.results import ConvexFitResult, omitted
from cvxcnn.soft_threshold.facets import resolve_st_facets, st_row_signs
from cvxcnn.soft_threshold.network import GatedNetwork, STNetwork
from cvxcnn.soft_threshold.triples import TripleSet
from cvxcnn.solve import SolveInfo
from cvxcnn.validation import check_positive

ST_FORMS = ("exact", "paper")


# --------------------------------------------------------------------------- #
# Programs
# --------------------------------------------------------------------------- #


@dataclass(kw_only=True)
class STProgram(ConeProgram):
    """A built (not yet solved) soft-threshold program, 6a (``form="exact"``) or 6c (``"paper"``).

    Attributes
    ----------
    problem, beta, data, loss, constraints, build_seconds
        As in :class:`~cvxcnn.programs.cone.ConeProgram` (``constraints``:
        ``"cell_w"`` and ``"cell_wp"``, the cone rows of each side).
    W, Wp : cvxpy.Variable of shape (d, P)
        Column ``j`` is ``w_j`` / ``w'_j`` of live triple ``j``.
    T, Tp : cvxpy.Variable of shape (P,) or None
        Thresholds ``t_j`` / ``t'_j`` (6a only).
    triples : TripleSet
        The full triple set handed in.
    index : ndarray of shape (P,)
        Live triples (at least one row outside the dead zone) used as blocks;
        all-dead triples contribute nothing and are left out.
    form : {"exact", "paper"}
    row_mask : ndarray of shape (2n + 1, P), bool, or None
        6a only: rows of ``augmented_matrix(Y)`` kept for each block (see
        :func:`~cvxcnn.soft_threshold.facets.st_row_signs`); None when every
        row is kept.
    reduction : FacetReduction or None
        The facet reduction the mask came from (None: off or a given mask).
    """

    W: cp.Variable
    Wp: cp.Variable
    T: cp.Variable | None
    Tp: cp.Variable | None
    triples: TripleSet
    index: np.ndarray
    form: str
    row_mask: np.ndarray | None = field(default=None, repr=False)
    reduction: FacetReduction | None = field(default=None, repr=False)

    @property
    def s1(self) -> np.ndarray:
        """(P, n) bool masks of the blocks."""
        return self.triples.s1[self.index]

    @property
    def s3(self) -> np.ndarray:
        return self.triples.s3[self.index]

    @property
    def gains(self) -> np.ndarray:
        """(P, n) gains of the blocks (paper form)."""
        return self.triples.gains[self.index]

    @property
    def n_blocks(self) -> int:
        return int(self.index.size)

    @property
    def signs(self) -> np.ndarray:
        """(P, 2n + 1) int8 sign vectors of the blocks' full 6a rows (:func:`st_row_signs`)."""
        return st_row_signs(self.triples)[self.index]

    @property
    def constraint_rows_full(self) -> int:
        """Sign and ``t >= 0`` rows (6a) or cone rows (6c) of both blocks, without reduction."""
        if self.form == "paper":
            C = self.gains * (self.s1.astype(np.float64) - self.s3)
            return 2 * int(np.count_nonzero(C))
        return 2 * int(np.count_nonzero(self.signs))

    @property
    def constraint_rows(self) -> int:
        """Rows of :attr:`constraint_rows_full` actually in the program."""
        if self.row_mask is None:
            return self.constraint_rows_full
        return 2 * int(self.row_mask.sum())


def check_triples(triples: object, n: int) -> TripleSet:
    """``triples`` as a non-empty TripleSet for ``n`` rows, or an error naming the fix."""
    if not isinstance(triples, TripleSet):
        raise TypeError(
            f"triples must be a TripleSet (sample_st_triples / enumerate_st_triples); "
            f"got {type(triples).__name__}"
        )
    if triples.n_rows != n:
        raise ValueError(
            f"triples were made for a patch matrix with {triples.n_rows} rows, the problem has {n}"
        )
    if triples.n_triples == 0:
        raise ValueError("the triple set is empty; sample or enumerate at least one triple")
    return triples


def live_index(triples: TripleSet) -> np.ndarray:
    """Indices of the triples that get a block (live ones; triple 0 if none is live)."""
    index = np.flatnonzero(triples.live)
    if index.size == 0:
        # only the all-dead triple: keep one block so the program is well formed
        index = np.array([0])
    return index


def _cell_rows(
    side: Blocks, signs: np.ndarray, keep: np.ndarray | None
) -> tuple[list[cp.Constraint], list[cp.Constraint]]:
    """6a's cone rows of one side: ``signs * (augmented_matrix(Y) . (w, t)) >= 0``.

    ``signs``/``keep`` (2n + 1, P) in the layout of :func:`st_row_signs`: rows
    ``y_i . w - t``, then ``y_i . w + t``, then ``t``. Returns (cell rows, ``t >= 0`` rows).
    """
    n = (signs.shape[0] - 1) // 2
    groups = (
        (side.YW - side.T_row, slice(0, n)),
        (side.YW + side.T_row, slice(n, 2 * n)),
        (side.T_row, slice(2 * n, 2 * n + 1)),
    )
    rows = [signed_rows(expr, signs[k], None if keep is None else keep[k]) for expr, k in groups]
    return rows[0] + rows[1], rows[2]


def check_row_mask(row_mask: object, triples: TripleSet) -> np.ndarray:
    """``row_mask`` as a (2n + 1, n_triples) bool array, or a ValueError naming the shape."""
    mask = np.asarray(row_mask)
    shape = (2 * triples.n_rows + 1, triples.n_triples)
    if mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(
            f"row_mask must be a bool array of shape (2n + 1, n_triples) = {shape} (rows of "
            f"augmented_matrix(Y) per triple); got {mask.dtype} {mask.shape}"
        )
    return mask


def build_st_program(
    problem: PatchProblem,
    triples: TripleSet,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
    facets: str | FacetReduction | None = "off",
    row_mask: np.ndarray | None = None,
) -> STProgram:
    """Build the 6a program (learnable thresholds) for a problem and a triple set.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout ``R``, target ``x``.
    triples : TripleSet
        With ``exact=True`` the program is exact; with sampled triples its
        optimum is an upper bound on the learnable-threshold optimum.
    beta : float
        Weight decay (> 0), a ``cvxpy.Parameter``.
    loss : str or Loss
    facets : {"off", "auto", "hull", "lp"}, FacetReduction or None
        Facet reduction of each block's rows
        (:func:`~cvxcnn.soft_threshold.facets.resolve_st_facets`). Default
        ``off``: a bare program has no check of the dropped rows;
        :func:`fit_st` (default ``auto``) checks every full row after the
        solve and adds back any that a reduction missed.
    row_mask : ndarray of shape (2n + 1, n_triples), bool, optional
        Keep only these rows of ``augmented_matrix(Y)`` for each triple
        (layout of :func:`~cvxcnn.soft_threshold.facets.st_row_signs`, rows
        with sign 0 ignored); they must imply the others. Overrides ``facets``.

    Returns
    -------
    STProgram
    """
    start = time.perf_counter()
    loss = prepare_loss(problem, loss)
    triples = check_triples(triples, problem.n)
    index = live_index(triples)
    reduction = None
    if row_mask is None:
        reduction = resolve_st_facets(problem.Y, triples, facets)
        row_mask = None if reduction is None else reduction.keep
    signs = st_row_signs(triples)[index].T.astype(np.float64)  # (2n + 1, P)
    keep = None if row_mask is None else check_row_mask(row_mask, triples)[:, index] & (signs != 0)
    M1 = triples.s1[index].T.astype(np.float64)  # (n, P)
    M3 = triples.s3[index].T.astype(np.float64)
    w, wp = (make_blocks(problem.Y, index.size, name, thresholds=True) for name in ("W", "Wp"))
    # sum_j F_j(w_j, t_j) - F_j(w'_j, t'_j) = rowsum((M1 + M3) * Y(W - W')) + (M1 - M3)(T - T')
    outputs = cp.sum(cp.multiply(M1 + M3, w.YW - wp.YW), axis=1) + (M1 - M3) @ (w.T - wp.T)
    (cell_w, nonneg_w), (cell_wp, nonneg_wp) = (_cell_rows(side, signs, keep) for side in (w, wp))
    nonneg = nonneg_w + nonneg_wp
    rows = cell_w + cell_wp + nonneg
    return STProgram(
        **assemble(problem, outputs, (w, wp), rows, beta=beta, loss=loss, start=start),
        **dict(W=w.W, Wp=wp.W, T=w.T, Tp=wp.T, triples=triples, index=index, form="exact"),
        constraints={"cell_w": cell_w, "cell_wp": cell_wp, "nonneg": nonneg},
        row_mask=keep,
        reduction=reduction,
    )


def build_paper_program(
    problem: PatchProblem,
    triples: TripleSet,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
) -> STProgram:
    """Build Xiong et al.'s eq. 22/24 program (fixed gains) in our scaling.

    Parameters
    ----------
    problem : PatchProblem
    triples : TripleSet
        Their gains ``Q_j`` are used as fixed coefficients (normally sampled
        with ``threshold=lambda``; the gains do not depend on the generator's scale).
    beta : float
    loss : str or Loss

    Returns
    -------
    STProgram
        ``form="paper"``, ``T = Tp = None``.

    Notes
    -----
    Eq. 24 is implemented as printed: ``q_i y_i^T w >= 0`` on S1 and
    ``q_i y_i^T w <= 0`` on S3 (rows with ``q_i = 0`` give no constraint; the
    S2 equality is vacuous since ``q = 0`` there). These cones are the
    negatives of the generator's own side; flipping both gives the same
    optimum (``(w, w') -> (-w', -w)``).
    """
    start = time.perf_counter()
    loss = prepare_loss(problem, loss)
    triples = check_triples(triples, problem.n)
    index = live_index(triples)
    G = triples.gains[index].T  # (n, P)
    side = triples.s1[index].T.astype(np.float64) - triples.s3[index].T.astype(np.float64)
    C = G * side  # + on S1, - on S3: C * (Y w) >= 0 is eq. 24
    w, wp = (make_blocks(problem.Y, index.size, name) for name in ("W", "Wp"))
    outputs = cp.sum(cp.multiply(G, wp.YW - w.YW), axis=1)
    cone_w, cone_wp = (signed_rows(s.YW, C) for s in (w, wp))
    rows = cone_w + cone_wp
    return STProgram(
        **assemble(problem, outputs, (w, wp), rows, beta=beta, loss=loss, start=start),
        **dict(W=w.W, Wp=wp.W, T=None, Tp=None, triples=triples, index=index, form="paper"),
        constraints={"cone_w": cone_w, "cone_wp": cone_wp},
    )


# --------------------------------------------------------------------------- #
# Float64 evaluation and reconstruction
# --------------------------------------------------------------------------- #


def st_program_outputs(
    W: np.ndarray,
    Wp: np.ndarray,
    T: np.ndarray,
    Tp: np.ndarray,
    s1: np.ndarray,
    s3: np.ndarray,
    Y: np.ndarray,
) -> np.ndarray:
    """The 6a program's patch outputs ``sum_j F_j(w_j, t_j) - F_j(w'_j, t'_j)`` (n,), in float64.

    ``F_j(w, t) = D3_j (Y w - t 1) + D1_j (Y w + t 1)`` (DESIGN.md section
    6a) for the blocks ``W, Wp`` (d, P), ``T, Tp`` (P,) and the masks
    ``s1, s3`` (P, n) of the same P triples; ``Y`` is (n, d).
    """
    M1, M3 = s1.T.astype(np.float64), s3.T.astype(np.float64)
    return np.sum((M1 + M3) * (Y @ (W - Wp)), axis=1) + (M1 - M3) @ (T - Tp)


def paper_convex_objective(
    W: np.ndarray,
    Wp: np.ndarray,
    gains: np.ndarray,
    problem: PatchProblem,
    beta: float,
    loss: str | Loss = "squared",
) -> float:
    """The 6c objective (our scaling) in float64; ``gains`` (P, n)."""
    outputs = np.sum(gains.T * (problem.Y @ (Wp - W)), axis=1)
    return group_norm_objective(outputs, W, Wp, problem, beta, loss)


def st_cell_violation(
    W: np.ndarray, T: np.ndarray, s1: np.ndarray, s3: np.ndarray, Y: np.ndarray
) -> float:
    """Largest violation of the 6a cell constraints of blocks ``W`` (d, P), ``T`` (P,)."""
    H = Y @ W  # (n, P)
    M1, M3 = s1.T, s3.T
    upper = np.where(M1, np.inf, (2.0 * M3 - 1.0) * (H - T[None, :]))
    lower = np.where(M3, np.inf, (2.0 * M1 - 1.0) * (-H - T[None, :]))
    worst = min(upper.min(initial=np.inf), lower.min(initial=np.inf), T.min(initial=np.inf))
    return float(max(0.0, -worst))


def paper_cone_violation(
    W: np.ndarray, gains: np.ndarray, s1: np.ndarray, s3: np.ndarray, Y: np.ndarray
) -> float:
    """Largest violation of eq. 24's cone constraints of blocks ``W`` (d, P)."""
    C = gains.T * (s1.T.astype(np.float64) - s3.T.astype(np.float64))
    return float(max(0.0, -np.min(C * (Y @ W))))


def _active_blocks(norms: np.ndarray, scale: float, rtol: float) -> np.ndarray:
    return norms > rtol * scale if scale > 0 else np.zeros_like(norms, dtype=bool)


def _block_scale(nw: np.ndarray, nwp: np.ndarray, floor: float) -> float:
    return float(max(nw.max(initial=0.0), nwp.max(initial=0.0), floor))


def reconstruct_st(
    W: np.ndarray,
    Wp: np.ndarray,
    T: np.ndarray,
    Tp: np.ndarray,
    *,
    rtol: float = DEFAULT_RTOL,
    floor: float = 0.0,
) -> tuple[STNetwork, np.ndarray]:
    """Neurons ``(u, t, v)`` of a 6a solution.

    Each block with ``||w|| > rtol * max(largest block norm, floor)`` gives
    ``u = w / sqrt||w||``, ``t / sqrt||w||``, ``v = +sqrt||w||`` (``-`` for ``w'``),
    so ``tau(Y u) v = F_j(w, t)`` and ``1/2 (||u||^2 + v^2) = ||w||``.

    Parameters
    ----------
    W, Wp : ndarray of shape (d, P)
    T, Tp : ndarray of shape (P,)
        Slightly negative solver values are clipped to 0.
    rtol, floor : float
        See :func:`cvxcnn.reconstruct.reconstruct_relu`.

    Returns
    -------
    (STNetwork, ndarray of shape (m,))
        The network (positive neurons first) and the block index of each neuron.
    """
    nw, nwp = np.linalg.norm(W, axis=0), np.linalg.norm(Wp, axis=0)
    scale = _block_scale(nw, nwp, floor)
    kw, kp = _active_blocks(nw, scale, rtol), _active_blocks(nwp, scale, rtol)
    sw, sp = np.sqrt(nw[kw]), np.sqrt(nwp[kp])
    U = np.vstack([(W[:, kw] / sw).T, (Wp[:, kp] / sp).T]).reshape(-1, W.shape[0])
    t = np.concatenate([np.maximum(T[kw], 0.0) / sw, np.maximum(Tp[kp], 0.0) / sp])
    v = np.concatenate([sw, -sp])
    blocks = np.concatenate([np.flatnonzero(kw), np.flatnonzero(kp)])
    return STNetwork(U=U, thresholds=t, v=v), blocks


def reconstruct_paper(
    W: np.ndarray,
    Wp: np.ndarray,
    gains: np.ndarray,
    threshold: float,
    *,
    rtol: float = DEFAULT_RTOL,
    floor: float = 0.0,
) -> tuple[GatedNetwork, STNetwork]:
    """Networks of a 6c solution (Xiong et al. eq. 47).

    ``u = w / sqrt||w||`` with ``v = -sqrt||w||`` for ``w`` and ``+sqrt||w'||``
    for ``w'`` (eq. 47 prints ``+`` for both; the sign that reproduces
    eq. 22's ``w' - w`` is used).

    Returns
    -------
    (GatedNetwork, STNetwork)
        The gated network (fixed gains; its objective equals the program's)
        and the soft-threshold network with the same ``(u, v)`` and every
        threshold ``lambda`` that Xiong et al. take as the trained ST network.
        ``tau`` is odd, so the sign convention of the cones does not change it.
    """
    lam = check_positive(threshold, "threshold")
    nw, nwp = np.linalg.norm(W, axis=0), np.linalg.norm(Wp, axis=0)
    scale = _block_scale(nw, nwp, floor)
    kw, kp = _active_blocks(nw, scale, rtol), _active_blocks(nwp, scale, rtol)
    sw, sp = np.sqrt(nw[kw]), np.sqrt(nwp[kp])
    U = np.vstack([(Wp[:, kp] / sp).T, (W[:, kw] / sw).T]).reshape(-1, W.shape[0])
    v = np.concatenate([sp, -sw])
    G = np.vstack([gains[kp], gains[kw]]).reshape(-1, gains.shape[1])
    return GatedNetwork(U, v, G), STNetwork(U=U, thresholds=np.full(U.shape[0], lam), v=v)


# --------------------------------------------------------------------------- #
# Results
# --------------------------------------------------------------------------- #


@dataclass
class STFitResult(ConvexFitResult):
    """Outcome of an ST program: :class:`cvxcnn.fitting.ConvexFitResult` plus ST fields.

    For ``form="exact"`` (6a): ``objective`` is the convex optimum,
    ``network`` the reconstructed learnable-threshold :class:`STNetwork` and
    ``primal_objective`` its value (shared evaluator); ``exact_arrangement`` is
    True when the triples are every cell (then ``objective`` is the global
    optimum of the learnable-threshold problem).

    For ``form="paper"`` (6c): ``objective`` is the paper program's value (our
    scaling), ``gated_network`` its reconstruction (``gated_objective`` equals
    ``objective``), ``network`` the ST network with threshold ``lambda`` built
    from the same ``(u, v)`` and ``primal_objective`` ITS value (the "paper
    network"). ``exact_arrangement`` is always False: the paper program is not
    exact for the ST network whatever the triples.

    Additional attributes
    ---------------------
    form : {"exact", "paper"}
    threshold : float or None
        ``lambda`` of the paper form; None for 6a (learnable thresholds).
    triples_exact : bool
        Whether the triple set is every cell.
    T, Tp : ndarray of shape (P,) or None
        Block thresholds (6a).
    gated_network : GatedNetwork or None
    gated_objective : float
    constraint_rows_full : int
        Constraint rows of both blocks without facet reduction (6a: sign and
        ``t >= 0`` rows, ``2 sum_j (n + |S2_j| + 1)`` over live triples; 6c:
        the nonzero cone rows); ``constraint_rows`` counts those in the solved
        program and ``facets`` describes the reduction (with ``rounds``: re-solves
        that added dropped rows the full check found violated).
    """

    form: str = omitted(default="exact")
    threshold: float | None = None
    triples_exact: bool = False
    T: np.ndarray | None = omitted(default=None, repr=False)
    Tp: np.ndarray | None = omitted(default=None, repr=False)
    gated_network: GatedNetwork | None = omitted(default=None, repr=False)
    gated_objective: float = omitted(default=float("nan"))

    @property
    def Wp(self) -> np.ndarray | None:
        """The ``w'`` blocks (stored in ``Z``)."""
        return self.Z

    def _extra(self) -> dict:
        out = {**super()._extra(), "st_form": self.form}
        if self.form == "paper":
            out["gated_objective"] = self.gated_objective
        return out


def result_from_st_program(
    program: STProgram,
    info: SolveInfo,
    *,
    threshold: float | None = None,
    rtol: float = DEFAULT_RTOL,
) -> STFitResult:
    """Assemble an :class:`STFitResult` from a solved program (``threshold`` for the paper form)."""
    beta = float(program.beta.value)
    paper = program.form == "paper"
    if paper and threshold is None:
        raise ValueError("threshold (lambda > 0) is required for a paper-form result")
    common = solve_fields(
        info,
        program.data,
        beta=beta,
        loss=program.loss,
        n_patterns=program.triples.n_triples,
        exact_arrangement=bool(program.triples.exact and not paper),
        build_seconds=program.build_seconds,
        form=program.form,
        threshold=None if threshold is None else float(threshold),
        triples_exact=program.triples.exact,
        constraint_rows=program.constraint_rows,
        constraint_rows_full=program.constraint_rows_full,
        activation="soft_threshold",
    )
    if program.W.value is None:
        return unsolved_result(STFitResult, common)
    W, Wp = np.asarray(program.W.value), np.asarray(program.Wp.value)
    floor = natural_scale(program.data)
    nw, nwp = np.linalg.norm(W, axis=0), np.linalg.norm(Wp, axis=0)
    scale = _block_scale(nw, nwp, floor)
    active = int((_active_blocks(nw, scale, rtol) | _active_blocks(nwp, scale, rtol)).sum())
    s1, s3, data, loss = program.s1, program.s3, program.data, program.loss
    if paper:
        gains = program.gains
        gated, network = reconstruct_paper(W, Wp, gains, threshold, rtol=rtol, floor=floor)
        objective = paper_convex_objective(W, Wp, gains, data, beta, loss)
        violation = max(paper_cone_violation(X, gains, s1, s3, data.Y) for X in (W, Wp))
        extra = {
            "gated_network": gated,
            "gated_objective": primal_objective(gated, data, beta, loss),
        }
    else:
        T, Tp = np.asarray(program.T.value), np.asarray(program.Tp.value)
        network, _ = reconstruct_st(W, Wp, T, Tp, rtol=rtol, floor=floor)
        outputs = st_program_outputs(W, Wp, T, Tp, s1, s3, data.Y)
        objective = group_norm_objective(outputs, W, Wp, data, beta, loss)  # 6a in float64
        violation = max(st_cell_violation(X, t, s1, s3, data.Y) for X, t in ((W, T), (Wp, Tp)))
        extra = {"T": T, "Tp": Tp}
    return solved_result(
        STFitResult,
        common,
        network=network,
        problem=data,
        loss=loss,
        blocks=(W, Wp),
        objective=objective,
        active_patterns=active,
        sign_violation=violation,
        **extra,
    )
