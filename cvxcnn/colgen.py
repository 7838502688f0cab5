"""Certified solve by column generation (DESIGN.md section 5), for any activation.

Solve the convex program over a few cells; bracket ``M(r)`` for the residual of the
reconstructed network over EVERY cell with the exact oracle; while some cell
not yet in the program violates ``M <= beta (1 + tol)``, add the most
violated cells and re-solve. At most ``n + 1`` patterns are active at an
optimum, so the program stays small while the certificate covers every cell.

Interior-point solutions spread weight over many near-zero blocks, which
limits how accurate the residual (the dual point) is: the oracle then sees
spurious violations of a few 1e-3. Each round therefore re-solves once over
the active patterns only (a small program, at tight tolerances) and hands
that network's residual to the oracle; on a 1-D problem with 39,802 cells
this took the final relative gap from ~5e-3 to 8e-10.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field, fields

import numpy as np

from cvxcnn.activations import Activation, activation_of
from cvxcnn.certificates import (
    TIGHT_CLARABEL,
    Certificate,
    certify,
    dual_bound,
    dual_direction,
    relative_gap,
)
from cvxcnn.fitting import fit
from cvxcnn.losses import Loss, get_loss
from cvxcnn.problem import PatchProblem
from cvxcnn.reconstruct import natural_scale
from cvxcnn.results import ConvexFitResult, Result
from cvxcnn.validation import check_positive, check_positive_int
from cvxcnn.working_set import most_violated_at_zero

#: Most violated cells :func:`solve_colgen` adds per round by default.
ADD_PER_ITERATION = 50


@dataclass
class ColgenIteration(Result):
    """One round: program size, its optimum, the solve's status, and the oracle's verdict.

    ``upper_bound`` is the round's network objective, ``lower_bound`` the
    certified lower bound its residual gives with the oracle's upper end
    (valid for the global optimum whatever the round), ``relative_gap``
    their relative gap; ``oracle_converged`` False when an anytime oracle
    stopped at its time limit or at its first violator.
    """

    patterns: int
    objective: float
    oracle_upper: float
    added: int
    seconds: float
    status: str = "optimal"
    upper_bound: float = float("nan")
    lower_bound: float = float("nan")
    relative_gap: float = float("nan")
    oracle_lower: float = float("nan")
    oracle_seconds: float = 0.0
    oracle_converged: bool = True


@dataclass
class ColgenResult(Result):
    """Outcome of :func:`solve_colgen`.

    Attributes
    ----------
    fit : ConvexFitResult
        The final solve (its ``network`` is the certified one).
    certificate : Certificate
        Over every cell: ``certificate == "certified"``.
    converged : bool
        No cell outside the program violated the dual constraint, or the
        certified relative gap reached ``gap_tol``.
    iterations : list of ColgenIteration
    patterns_used : int
        Distinct cells that entered the program in some round.
    total_cells : int
        Cells of the arrangement.
    seconds : float
    polish : dict
        The final polishing solves (:meth:`RestrictedPrograms.polish`):
        relative gap before and after, cells and status of each solve.
    best_lower_bound : float
        The largest certified lower bound over the rounds and the final
        certificate (each one bounds the global optimum); NaN when not certified.
    best_relative_gap : float
        ``fit``'s objective against ``best_lower_bound`` (at most the
        certificate's own relative gap); NaN when not certified.
    """

    fit: ConvexFitResult
    certificate: Certificate
    converged: bool
    iterations: list[ColgenIteration] = field(default_factory=list)
    patterns_used: int = 0
    total_cells: int = 0
    seconds: float = 0.0
    polish: dict = field(default_factory=dict)
    best_lower_bound: float = float("nan")
    best_relative_gap: float = float("nan")

    def to_dict(self) -> dict:
        """The fit's and the certificate's summaries, with the column-generation record."""
        out = {**self.fit.to_dict(), **self.certificate.to_dict()}
        out.update(
            {
                "method": "colgen",
                "colgen_iterations": len(self.iterations),
                "colgen_converged": self.converged,
                "patterns_used": self.patterns_used,
                "total_cells": self.total_cells,
                "colgen_history": [it.to_dict() for it in self.iterations],
                "colgen_seconds": self.seconds,
                "colgen_polish": self.polish,
                "colgen_best_lower_bound": self.best_lower_bound,
                "colgen_best_relative_gap": self.best_relative_gap,
            }
        )
        return out


#: Relative block norm below which a pattern is dropped when re-solving on the active set.
REFINE_RTOL = 1e-4
#: Tolerances of the final polishing solve; its result is used only when the
#: solver reports ``optimal`` and the certified gap is smaller.
POLISH_CLARABEL = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}
#: Relative difference below which two rounds' objectives tie (the smaller gap is kept):
#: the restricted solves run at 1e-10 tolerances.
OBJECTIVE_TIE = 1e-9
#: Rounds without progress after which column generation stops (and polishes).
STALL_ROUNDS = 4


def _initial_cells(
    activation: Activation,
    problem: PatchProblem,
    cells: object,
    initial: int | np.ndarray,
    loss: Loss,
    random_state: object,
) -> np.ndarray:
    """(P,) bool over ``cells``: the starting program.

    An int samples that many cells (seeded) and keeps those of the exact set
    (for ReLU every sample is a cell); if none is, the cells most violated at
    the zero network start instead. Given masks (ReLU, (P0, n) bool) must all
    be cells of the set.
    """
    index_of = {key: i for i, key in enumerate(activation.keys(cells))}
    chosen = np.zeros(len(cells), dtype=bool)
    if isinstance(initial, (int, np.integer)):
        count = check_positive_int(initial, "initial")
        sample = activation.sample(problem.Y, count, random_state=random_state)
        found = [index_of[k] for k in activation.keys(sample) if k in index_of]
        if found:
            chosen[found] = True
        else:
            chosen[most_violated_at_zero(activation, problem, cells, loss, count)] = True
        return chosen
    keys = activation.keys(np.asarray(initial, dtype=bool))
    missing = [k for k in keys if k not in index_of]
    if missing:
        raise ValueError(f"{len(missing)} initial pattern(s) are not cells of the arrangement")
    chosen[[index_of[k] for k in keys]] = True
    return chosen


@dataclass
class RestrictedPrograms:
    """The programs column generation solves over subsets of an exact cell set.

    Attributes
    ----------
    activation : Activation
    problem : PatchProblem
    cells : PatternSet or TripleSet
        Every cell (the oracle's search space).
    beta : float
    loss : Loss
    tol : float
        A cell violates when its oracle value exceeds ``beta (1 + tol)``.
    solver : str
    solver_options : dict or None
    facet_reduction : bool
    max_memory : float or None
    floor : float
        :func:`cvxcnn.reconstruct.natural_scale` of the problem.
    gap_tol : float
        The certified relative gap column generation stops at: an oracle that
        takes a threshold (the MIP) need not prove ``M`` below more than what
        gives that gap (:func:`sufficient_oracle_upper`).
    """

    activation: Activation
    problem: PatchProblem
    cells: object
    beta: float
    loss: Loss
    tol: float
    solver: str
    solver_options: dict | None
    facet_reduction: bool
    max_memory: float | None
    floor: float
    gap_tol: float = 0.0

    def solve(self, mask: np.ndarray, options: dict | None = None) -> ConvexFitResult:
        """The program over the cells in ``mask`` (P,) bool (``options``: the solver's)."""
        index = np.flatnonzero(mask)
        act = self.activation
        rows = (
            act.colgen_row_mask(self.problem, self.cells, index) if self.facet_reduction else None
        )
        return fit(
            self.problem,
            act.subset(self.cells, index),
            beta=self.beta,
            loss=self.loss,
            solver=self.solver,
            solver_options=self.solver_options if options is None else options,
            row_mask=rows,
            facets="off",
            max_memory=self.max_memory,
            strategy="full",
        )

    def active(self, result: ConvexFitResult, mask: np.ndarray, rtol: float) -> np.ndarray:
        """(P,) bool: the cells of ``mask`` whose blocks are nonzero in ``result``."""
        index = np.flatnonzero(mask)
        sub = self.activation.subset(self.cells, index)
        out = np.zeros_like(mask)
        out[index[self.activation.active_cells(result, sub, rtol=rtol, floor=self.floor)]] = True
        return out

    def judge(self, result: ConvexFitResult, mask: np.ndarray):
        """The oracle over every cell at ``result``'s residual; the violators outside ``mask``.

        An oracle that takes a threshold (the MIP) prices at ``beta (1 + tol)``
        (or the looser :func:`sufficient_oracle_upper`); when it proved no
        violator but its upper end does not yet certify ``gap_tol``, one more
        call proves the tighter bound (its cells up to ``beta (1 + tol)`` are
        no violators).
        """
        r, g = dual_direction(result.network, self.problem, self.loss)
        threshold = self.beta * (1 + self.tol)
        if not getattr(self.cells, "prices_to_threshold", False):
            return self._search(g, mask, threshold, {})
        enough = sufficient_oracle_upper(
            self.loss, r, self.problem.target, self.beta, result.primal_objective, self.gap_tol
        )
        oracle, violated = self._search(g, mask, threshold, {"threshold": max(threshold, enough)})
        if not len(violated) and oracle.converged and enough < oracle.upper:
            tighter, again = self._search(g, mask, threshold, {"threshold": enough})
            if not len(again) and tighter.upper < oracle.upper:
                oracle, violated = tighter, again
        return oracle, violated

    def _search(self, g: np.ndarray, mask: np.ndarray, threshold: float, options: dict):
        """One oracle call (and the full search when pricing stopped at program cells)."""
        for _ in range(2 if options else 1):
            oracle = self.activation.oracle(self.problem.Y, g, self.cells, **options)
            if oracle.cells is not None:  # an enumeration-free oracle found cells: appended
                self.cells = oracle.cells
            mask = _grown(mask, len(self.cells))
            violated = np.flatnonzero((oracle.cell_lower > threshold) & ~mask)
            if len(violated) or getattr(oracle, "converged", True):
                break
            # pricing stopped at violators the program already holds (solver accuracy):
            # the full search brackets M itself
            options = {}
        return oracle, violated[np.argsort(-oracle.cell_lower[violated])]

    def certify(self, network: object) -> Certificate:
        """The certificate of ``network`` over every cell."""
        return certify(network, self.problem, self.cells, beta=self.beta, loss=self.loss)

    def total_cells(self) -> int:
        """Cells of the arrangement."""
        return len(self.cells)

    def pad(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` (k,) bool extended with False to the cells held now (a pool may grow)."""
        return np.concatenate([mask, np.zeros(len(self.cells) - mask.size, dtype=bool)])

    def round(self, in_program: np.ndarray, add: int):
        """One round: solve, refine on the active cells, judge; None if nothing was solved.

        Returns ``(fit, fit_mask, oracle, cells_to_add, certified_lower_bound,
        full_solve_optimal)``.
        """
        full = fit_ = self.solve(in_program)
        fit_mask = in_program.copy()
        if fit_.network is None:
            return None
        refined_mask = self.active(fit_, in_program, REFINE_RTOL)
        if 0 < refined_mask.sum() < in_program.sum():  # a more accurate residual for the oracle
            refined = self.solve(refined_mask)
            if refined.network is not None and refined.primal_objective <= fit_.primal_objective:
                fit_, fit_mask = refined, refined_mask
        oracle, violated = self.judge(fit_, fit_mask)
        in_program = self.pad(in_program)  # a growing pool may hold new cells now
        if fit_ is not full and len(violated) and in_program[violated].all():
            # the refinement dropped cells the full program holds: judge the full solution
            fit_, fit_mask = full, in_program.copy()
            oracle, violated = self.judge(fit_, fit_mask)
        order = violated[:add]
        # the certificate this round's network already earns (rigorous: oracle upper end)
        r, _ = dual_direction(fit_.network, self.problem, self.loss)
        lower = dual_bound(self.loss, r, self.problem.target, self.beta, oracle.upper)[1]
        return fit_, fit_mask, oracle, order, lower, bool(full.success)

    def polish(
        self,
        fit_: ConvexFitResult,
        mask: np.ndarray,
        gap_tol: float,
        neighbours: np.ndarray | None = None,
    ):
        """The certificate of ``fit_``; a last tight solve if that certifies a smaller gap.

        The first polishing solve runs, at :data:`POLISH_CLARABEL`
        tolerances, over ``fit_``'s largest blocks. If that does not reach
        ``gap_tol``, a second one runs over ``fit_``'s active cells plus
        ``neighbours`` (the cells active or added in the last rounds): when
        column generation cycles between the two cells adjacent to a neuron
        on a hyperplane (dropping the inactive one, re-adding it as
        violated), both sides are then in the program. The best certified
        result is kept.

        Returns ``(fit, certificate, record)``; ``record`` (JSON-ready) holds
        the relative gap before and after and the cells of each solve.
        """
        cert = self.certify(fit_.network)
        record = {"gap_before": cert.relative_gap, "solves": []}
        if cert.relative_gap <= gap_tol or self.solver.upper() != "CLARABEL":
            return fit_, cert, record
        options = {**(self.solver_options or {}), **POLISH_CLARABEL}
        mask = self.pad(mask)
        masks = [self.active(fit_, mask, 1e-3)]
        if neighbours is not None:
            masks.append(self.active(fit_, mask, REFINE_RTOL) | self.pad(neighbours))
        for cells in masks:
            polished = self.solve(cells, options)
            entry = {"cells": int(cells.sum()), "status": polished.status, "gap": None}
            record["solves"].append(entry)
            if not polished.success:
                continue
            other = self.certify(polished.network)
            entry["gap"] = other.relative_gap
            if other.gap < cert.gap:
                fit_, cert = polished, other
            if cert.relative_gap <= gap_tol:
                break
        record["gap_after"] = cert.relative_gap
        return fit_, cert, record


def sufficient_oracle_upper(
    loss: Loss, r: np.ndarray, target: np.ndarray, beta: float, upper: float, gap_tol: float
) -> float:
    """The largest oracle upper end ``U`` whose dual bound still certifies ``gap_tol``.

    The lower bound :func:`cvxcnn.certificates.dual_bound` is nonincreasing
    in ``U``: the oracle's proof may stop as soon as its upper end is below
    this (for the squared loss near an optimum, ``M <= beta (1 + eps)``
    costs about ``eps r^T p / P`` relative gap, ``p`` the predictions and
    ``P`` the objective). Bisection to 1e-12 relative; ``beta`` when even
    ``U = beta`` does not certify ``gap_tol``.

    Parameters
    ----------
    loss : Loss
    r : ndarray of shape (n_out,)
    target : ndarray of shape (n_out,)
    beta, upper, gap_tol : float
        ``upper``: the network's objective.
    """

    def certifies(U: float) -> bool:
        return relative_gap(upper, dual_bound(loss, r, target, beta, U)[1]) <= gap_tol

    if gap_tol <= 0 or not certifies(beta):
        return beta
    lo, hi = beta, 2.0 * beta
    while certifies(hi) and hi < 1e6 * beta:
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-12 * lo:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if certifies(mid) else (lo, mid)
    return lo


def _grown(mask: np.ndarray, size: int) -> np.ndarray:
    """``mask`` (P,) bool padded with False to ``size`` (cells appended by the oracle)."""
    return np.concatenate([mask, np.zeros(size - len(mask), dtype=bool)])


def _print_round(history: list[ColgenIteration], beta: float) -> None:
    it = history[-1]
    print(
        f"colgen round {len(history)}: {it.patterns} cells, objective "
        f"{it.objective:.10g}, M/beta {it.oracle_upper / beta:.8f}, added {it.added}, "
        f"certified gap {it.relative_gap:.3g}, oracle {it.oracle_seconds:.1f} s"
    )


def _stalled(history: list[ColgenIteration], rounds: int = STALL_ROUNDS) -> bool:
    """The objective has not moved (1e-11 relative) over the last ``rounds`` rounds."""
    objectives = [it.objective for it in history[-rounds:]]
    spread = max(objectives) - min(objectives)
    return len(objectives) == rounds and spread <= 1e-11 * abs(objectives[-1])


@dataclass
class ColgenSettings:
    """The settings every column generation takes, checked once.

    :func:`solve_colgen` builds one from its keywords;
    :func:`cvxcnn.colgen_stream.solve_colgen_streamed` takes one. Checked and
    normalized on construction: ``beta > 0``, ``tol >= 0``, positive counts,
    ``loss`` made a :class:`~cvxcnn.losses.Loss`, and Clarabel's
    ``solver_options`` defaulted to :data:`TIGHT_CLARABEL`.

    Attributes
    ----------
    beta, loss, initial, tol, max_iterations, solver, solver_options, \
random_state, progress, gap_tol, max_memory
        The keywords of :func:`solve_colgen` of the same names (documented there).
    add_per_iteration : int or None
        Most violated cells added per round (streamed: per sign of the dual
        constraint); None for the method's default (:data:`ADD_PER_ITERATION`;
        streamed: :data:`cvxcnn.colgen_stream.ADD_PER_SIGN`).
    """

    beta: float
    loss: str | Loss = "squared"
    initial: int | np.ndarray = 10
    tol: float = 1e-6
    add_per_iteration: int | None = None
    max_iterations: int = 100
    solver: str = "CLARABEL"
    solver_options: dict | None = None
    random_state: int | np.random.Generator | None = 0
    progress: bool = False
    gap_tol: float = 1e-7
    max_memory: float | None = None

    def __post_init__(self) -> None:
        self.beta = check_positive(self.beta, "beta")
        self.tol = check_positive(self.tol, "tol", allow_zero=True)
        if self.add_per_iteration is not None:
            self.add_per_iteration = check_positive_int(self.add_per_iteration, "add_per_iteration")
        if isinstance(self.initial, numbers.Integral) and not isinstance(self.initial, bool):
            self.initial = check_positive_int(self.initial, "initial")  # masks: checked with cells
        self.max_iterations = check_positive_int(self.max_iterations, "max_iterations")
        self.loss = get_loss(self.loss)
        if self.solver_options is None and self.solver.upper() == "CLARABEL":
            self.solver_options = TIGHT_CLARABEL

    @classmethod
    def of(cls, keywords: dict) -> ColgenSettings:
        """The settings among ``keywords`` (a public function's arguments, by field name)."""
        return cls(**{f.name: keywords[f.name] for f in fields(cls)})

    def programs(
        self,
        activation: Activation,
        problem: PatchProblem,
        cells: object,
        facet_reduction: bool,
        kind: type[RestrictedPrograms] | None = None,
        **extra: object,
    ) -> RestrictedPrograms:
        """The restricted programs over ``cells`` with these settings.

        ``kind``: :class:`RestrictedPrograms` (default) or a subclass, whose
        own fields come in ``extra``.
        """
        kind = kind or RestrictedPrograms
        shared = {f.name: getattr(self, f.name) for f in fields(kind) if hasattr(self, f.name)}
        floor = natural_scale(problem)
        return kind(activation, problem, cells, facet_reduction=facet_reduction, floor=floor,
                    **shared, **extra)  # fmt: skip

    def loop(self, add_per_iteration: int, drop_inactive: bool) -> ColgenLoop:
        """The :class:`ColgenLoop` adding ``add_per_iteration`` cells a round."""
        return ColgenLoop(
            add_per_iteration, self.max_iterations, self.gap_tol, drop_inactive, self.progress
        )


def solve_colgen(
    problem: PatchProblem,
    cells: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
    initial: int | np.ndarray = 10,
    tol: float = 1e-6,
    add_per_iteration: int = ADD_PER_ITERATION,
    max_iterations: int = 100,
    solver: str = "CLARABEL",
    solver_options: dict | None = None,
    random_state: int | np.random.Generator | None = 0,
    progress: bool = False,
    gap_tol: float = 1e-7,
    drop_inactive: bool = True,
    facet_reduction: bool = True,
    max_memory: float | None = None,
) -> ColgenResult:
    """Solve the convex program to the global optimum without putting every cell in it.

    The column generation of DESIGN.md section 5: the program holds a few
    cells, the exact oracle prices every cell at each round's residual and
    the most violated join. The final certificate
    (:func:`cvxcnn.certificates.certify` over every cell) proves the
    relative gap whatever the restricted solves' status. Each round costs a
    small solve plus one oracle pass over every cell: the way to the global
    optimum when the program over every cell (:func:`cvxcnn.fitting.fit`)
    is too large. Raises ``RuntimeError`` when no restricted program solves.

    Parameters
    ----------
    problem : PatchProblem
    cells : PatternSet, TripleSet or MipArrangement
        Every cell of the arrangement (``exact=True``), e.g. from
        :func:`cvxcnn.arrangements.enumerate_relu_patterns` or
        :func:`cvxcnn.soft_threshold.enumerate_st_triples`; the oracle
        searches them, the program holds only a few. A
        :class:`cvxcnn.mip_oracle.MipArrangement` (ReLU, no enumeration) is
        searched by the mixed-integer oracle, whose maximizers join its known
        cells as new columns; ``converged`` then also needs that oracle's
        bracket closed (not stopped at its time limit).
    beta : float
    loss : str or Loss
    initial : int or ndarray of shape (P0, n), bool
        Number of sampled starting cells, or (ReLU) the masks themselves.
    tol : float
        Stop when no cell outside the program has ``M_cell > beta (1 + tol)``.
    add_per_iteration : int
        Most violated cells added per round.
    max_iterations : int
    solver, solver_options
        Default: Clarabel at tight tolerances (:data:`TIGHT_CLARABEL`).
    random_state : int, Generator or None
    progress : bool
        Print one line per round.
    gap_tol : float
        Also stop once a round's network has a certified relative gap <= this.
        The loop also stops when the objective stalls for 4 rounds (then
        ``converged`` is False and the best certificate seen is reported).
    drop_inactive : bool
        Start each round from the previous active set plus the new cells
        (at most ``n + 1`` cells are active at an optimum), instead of
        accumulating every cell ever added. Convergence is judged by the
        oracle over every cell either way.
    facet_reduction : bool
        Keep only each cell's facet rows in the program where the activation
        knows them from the exact set (ReLU: adjacency); the full-row check
        of :func:`cvxcnn.fitting.fit` still runs.
    max_memory : float or None
        Bytes each restricted program may take (see :func:`cvxcnn.fitting.fit`).

    Returns
    -------
    ColgenResult
        ``converged``: the certified relative gap is within ``tol`` (a proof that
        holds whatever the restricted solves' status), or the loop ended with
        every restricted solve optimal and no violated cell left.
    """
    add_per_iteration = check_positive_int(add_per_iteration, "add_per_iteration")
    settings = ColgenSettings.of(locals())  # the keywords above, by name
    return colgen_over_cells(problem, cells, settings, drop_inactive, facet_reduction)


def colgen_over_cells(
    problem: PatchProblem,
    cells: object,
    settings: ColgenSettings,
    drop_inactive: bool = True,
    facet_reduction: bool = True,
) -> ColgenResult:
    """:func:`solve_colgen` with its settings in one object (see there)."""
    activation = activation_of(cells)
    cells = activation.check_cells(cells, problem.n)
    if not getattr(cells, "exact", False):
        raise ValueError(
            "cells must be the exact cell set (enumerate_relu_patterns / enumerate_st_triples); "
            "with sampled cells column generation cannot certify anything"
        )
    start = time.perf_counter()
    rp = settings.programs(activation, problem, cells, facet_reduction)
    in_program = _initial_cells(
        activation, problem, cells, settings.initial, settings.loss, settings.random_state
    )
    loop = settings.loop(settings.add_per_iteration or ADD_PER_ITERATION, drop_inactive)
    return run_colgen(rp, in_program, loop, start)


@dataclass
class ColgenLoop:
    """When column generation adds, drops, prints and stops (see :func:`solve_colgen`)."""

    add_per_iteration: int
    max_iterations: int
    gap_tol: float
    drop_inactive: bool
    progress: bool


def run_colgen(
    rp: RestrictedPrograms, in_program: np.ndarray, loop: ColgenLoop, start: float
) -> ColgenResult:
    """The column-generation loop over ``rp``'s cells, from the cells in ``in_program`` (P,) bool.

    Written once for an exact cell set (:class:`RestrictedPrograms`) and a
    pool that grows as the oracle finds cells (``rp.pad`` extends the masks).
    ``start``: ``time.perf_counter()`` at the caller's start. The returned
    network is the round with the LOWEST objective (ties within
    :data:`OBJECTIVE_TIE` relative: the smaller gap); with an anytime oracle a later round may
    carry a better bound, so the best certified lower bound of every round
    is reported too (``best_lower_bound``).
    """
    history: list[ColgenIteration] = []
    converged = False
    ever = in_program.copy()  # every cell that entered the program at some round
    recent: list[np.ndarray] = []  # active and added cells of the last rounds
    best: tuple[ConvexFitResult, float, np.ndarray] | None = None
    all_optimal = True
    for _ in range(loop.max_iterations):
        t0 = time.perf_counter()
        ever |= in_program
        step = rp.round(in_program, loop.add_per_iteration)
        if step is None:
            all_optimal = False
            break
        fit_, fit_mask, oracle, order, lower, full_ok = step
        in_program, ever, recent = rp.pad(in_program), rp.pad(ever), [rp.pad(m) for m in recent]
        all_optimal &= full_ok
        gap = relative_gap(fit_.primal_objective, lower)
        if best is None or _lower_objective(fit_, gap, best):
            best = (fit_, gap, fit_mask.copy())
        history.append(_iteration(fit_, oracle, order, lower, gap, time.perf_counter() - t0))
        if loop.progress:
            _print_round(history, rp.beta)
        if len(order) == 0 or gap <= loop.gap_tol:
            converged = gap <= loop.gap_tol or getattr(oracle, "converged", True)
            break
        active = rp.pad(rp.active(fit_, fit_mask, REFINE_RTOL))
        recent = [*recent[-(STALL_ROUNDS - 1) :], active.copy()]
        recent[-1][order] = True
        if _stalled(history):
            break  # solver accuracy, not missing cells, limits the oracle now
        if loop.drop_inactive:  # keep the program small: the active set plus the new cells
            in_program = active
        in_program[order] = True
    if best is None:
        raise RuntimeError("column generation failed: the restricted program was not solved")
    neighbours = np.logical_or.reduce(recent) if recent else None
    fit_, certificate, record = rp.polish(*best[::2], loop.gap_tol, neighbours)
    # the certificate is the proof: a certified gap within tolerance holds whatever the
    # restricted solves' status (its upper end is the network's float64 objective)
    proven = certificate.certified and certificate.relative_gap <= loop.gap_tol
    best_lower = max([certificate.lower_bound] + [it.lower_bound for it in history])
    if not certificate.certified:
        best_lower = float("nan")
    return ColgenResult(
        fit=fit_,
        certificate=certificate,
        converged=proven or (converged and all_optimal and fit_.success),
        iterations=history,
        patterns_used=int(rp.pad(ever).sum()),
        total_cells=rp.total_cells(),
        seconds=time.perf_counter() - start,
        polish=record,
        best_lower_bound=best_lower,
        best_relative_gap=relative_gap(certificate.upper_bound, best_lower),
    )


def _lower_objective(fit_: ConvexFitResult, gap: float, best: tuple) -> bool:
    """Whether ``fit_`` (with certified ``gap``) replaces ``best``: a lower objective.

    Within :data:`OBJECTIVE_TIE` relative the objectives tie (interior-point
    accuracy) and the smaller certified gap wins.
    """
    value, incumbent = fit_.primal_objective, best[0].primal_objective
    if value < incumbent - OBJECTIVE_TIE * abs(incumbent):
        return True
    return value <= incumbent + OBJECTIVE_TIE * abs(incumbent) and gap < best[1]


def _iteration(
    fit_: ConvexFitResult,
    oracle: object,
    order: np.ndarray,
    lower: float,
    gap: float,
    seconds: float,
) -> ColgenIteration:
    """The record of one round."""
    return ColgenIteration(
        patterns=fit_.n_patterns,
        objective=fit_.objective,
        oracle_upper=oracle.upper,
        added=len(order),
        seconds=seconds,
        status=fit_.status,
        upper_bound=fit_.primal_objective,
        lower_bound=lower,
        relative_gap=gap,
        oracle_lower=oracle.lower,
        oracle_seconds=oracle.seconds,
        oracle_converged=bool(getattr(oracle, "converged", True)),
    )
