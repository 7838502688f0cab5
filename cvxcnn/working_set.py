"""Working-set solves over a GIVEN cell set: one ``beta`` here, a path in :mod:`cvxcnn.path`.

An optimum of the convex program uses at most ``n + 1`` of the ``P`` cells,
so when ``P`` is large the program over a small working set has the same
optimum: start from the cells most violated at the zero network
(:func:`most_violated_at_zero`), solve, add every cell of the set whose
dual constraint ``max_{u in K_i, ||u|| <= 1} |g^T act(Y u)| <= beta (1 + tol)``
the activation's oracle finds violated, repeat. When nothing is added the
working set's optimum is the optimum over the WHOLE set; the oracle's upper
end over the whole set gives the rigorous lower bound on that program
(:func:`cvxcnn.certificates.dual_bound`), reported as ``set_gap``. Over a
sampled set that is optimality over the set, not the global certificate.

This module sits below :mod:`cvxcnn.fitting`: the full-program solve is
passed in (``solve``), so :func:`cvxcnn.fitting.fit` can dispatch here
(``strategy="working_set"``) and :mod:`cvxcnn.path` reuses the same loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cvxcnn.activations import Activation
from cvxcnn.certificates import dual_bound, dual_direction, relative_gap
from cvxcnn.facets import (
    PILOT_CONES,
    SAVED_FRACTION,
    SOLVE_SECONDS_PER_NONZERO,
    FacetReduction,
    hull_decision,
    hull_pays_off,
)
from cvxcnn.losses import Loss
from cvxcnn.problem import PatchProblem
from cvxcnn.reconstruct import natural_scale
from cvxcnn.results import ConvexFitResult, Result

#: ``fit(strategy="auto")`` solves by working set when ``P >= WORKING_SET_MIN_RATIO * (n_out + 1)``
#: (an optimum uses at most ``n_out + 1`` cells) and ``P >= WORKING_SET_MIN_CELLS`` (below it one
#: full solve takes about a second and the rounds' overhead dominates). Measured on digits
#: (n_out = 256, beta 1e-3, CPU seconds, set gap 1e-8): P = 1000 (3.9 (n_out + 1)) full 54 s,
#: working set 92 s; P = 3200 (12.5 (n_out + 1)) full 256 s, working set 132 s
#: (docs/performance.md); hence 8.
WORKING_SET_MIN_RATIO = 8.0
WORKING_SET_MIN_CELLS = 500
#: Defaults of the single-beta working-set solve (``fit(strategy="working_set")``): the first
#: program and each round's additions hold ``max(WS_MIN_BATCH, (n_out + 1) // 2)`` cells (half
#: the most an optimum can use), so a few rounds find the active set.
WS_TOL = 1e-4
WS_MIN_BATCH = 50
WS_MAX_ROUNDS = 30
STRATEGIES = ("auto", "full", "working_set")


def most_violated_at_zero(
    activation: Activation, problem: PatchProblem, cells: object, loss: Loss, size: int
) -> np.ndarray:
    """Indices of the ``size`` cells with the largest oracle value at the zero network."""
    _, g = dual_direction(activation.empty_network(problem.d), problem, loss)
    oracle = activation.oracle(problem.Y, g, cells)
    return np.argsort(-oracle.cell_lower[: len(cells)])[:size]  # not cells an oracle appended


def resolve_strategy(strategy: str, n_cells: int, n_out: int) -> str:
    """``"full"`` or ``"working_set"`` for ``strategy`` over ``n_cells`` cells, ``n_out`` outputs.

    ``"auto"`` picks the working set when ``n_cells >= WORKING_SET_MIN_RATIO * (n_out + 1)``
    and ``n_cells >= WORKING_SET_MIN_CELLS``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
    if strategy != "auto":
        return strategy
    wins = n_cells >= max(WORKING_SET_MIN_RATIO * (n_out + 1), WORKING_SET_MIN_CELLS)
    return "working_set" if wins else "full"


@dataclass
class FixedOutput:
    """Patch outputs ``(n,)`` standing in for a network in :func:`dual_direction`."""

    values: np.ndarray

    def output(self, Y: np.ndarray) -> np.ndarray:
        """The stored outputs (``Y`` is the problem's, already applied)."""
        return self.values


def program_direction(
    activation: Activation, problem: PatchProblem, cells: object, fit_: ConvexFitResult, loss: Loss
) -> tuple[np.ndarray, np.ndarray]:
    """``(r, g)`` at the program's own prediction (every block), else at its network.

    The reconstructed network drops blocks below ``rtol`` (1e-6) of the
    largest; at ``beta = 1e-3`` on digits (n = 256) that moved the oracle's
    ratio on the program's own cells to 1.03 and capped the set gap at 3e-2,
    where the program's prediction gives 1e-9 (docs/performance.md).
    """
    out = activation.program_output(fit_, problem, cells)
    return dual_direction(fit_.network if out is None else FixedOutput(out), problem, loss)


def mask_of(index: np.ndarray, size: int) -> np.ndarray:
    """(size,) bool, True at ``index``."""
    out = np.zeros(size, dtype=bool)
    out[index] = True
    return out


@dataclass
class WorkingSets:
    """Solves over working subsets of a cell set, and the oracle that grows them.

    Attributes
    ----------
    activation : Activation
    problem : PatchProblem
    cells : PatternSet, TripleSet or ndarray of shape (P, n), bool
    loss : Loss
    solve : callable
        The full-program fit, ``solve(problem, cells, *, beta, loss, facets, **options)``
        (:func:`cvxcnn.fitting.fit` with ``strategy="full"``).
    facets : FacetReduction or str
        A reduction of the WHOLE set (each working set uses its columns), or
        the ``facets`` method (``"auto"``, ``"hull"``...) applied to each cell
        when it first enters a program (a cell is reduced once; ``"off"``: none).
    options : dict
        Further keyword arguments of ``solve`` (solver, solver_options, rtol, ...).
    """

    activation: Activation
    problem: PatchProblem
    cells: object
    loss: Loss
    solve: Callable[..., ConvexFitResult]
    facets: FacetReduction | str = "off"
    options: dict = field(default_factory=dict)
    history: list = field(default_factory=list, init=False, repr=False)
    _reduced: FacetReduction | None = field(default=None, init=False, repr=False)
    _done: np.ndarray | None = field(default=None, init=False, repr=False)

    def fit(self, beta: float, index: np.ndarray, solver_options: dict | None = None, facets=None):
        """The program over the cells at ``index`` at this ``beta`` (a ``ConvexFitResult``).

        ``solver_options`` are merged over the configured ones and ``facets``
        replaces the working set's reduction (a tight polish over every row).
        """
        options = dict(self.options)
        if solver_options:
            options["solver_options"] = {**(options.get("solver_options") or {}), **solver_options}
        return self.solve(
            self.problem,
            self.activation.subset(self.cells, index),
            beta=beta,
            loss=self.loss,
            facets=self.facets_of(index) if facets is None else facets,
            **options,
        )

    def facets_of(self, index: np.ndarray) -> FacetReduction | str:
        """The facet rows of the cells at ``index``: reduces only cells not reduced before.

        The returned reduction's ``seconds`` is the time spent on every cell so far.
        """
        if isinstance(self.facets, FacetReduction):
            return self.facets.subset(index)
        if self.facets == "auto":
            self.facets = self._auto_method(index)
        if self.facets == "off":
            return "off"
        new = index if self._done is None else index[~self._done[index]]
        if len(new):
            sub = self.activation.subset(self.cells, new)
            red = self.activation.facet_reduction(
                self.problem, sub, self.facets, self.options.get("n_jobs")
            )
            if red is None:  # the method's own rule declined (e.g. "auto" on this data)
                self.facets = "off"
                return "off"
            self._merge(new, red)
        if self._reduced is None:
            return "off"
        red = self._reduced
        return FacetReduction(red.keep[:, index], red.method, red.seconds, red.full_cones)

    def _auto_method(self, index: np.ndarray) -> str:
        """``facets="auto"`` over a sampled set: ``"hull"`` if reducing EVERY cell would pay.

        Clear cases are decided from the sizes (:func:`cvxcnn.facets.hull_decision`); otherwise
        the full program's rule (:func:`cvxcnn.facets.pilot_reduction`) judged
        per cell: Qhull on the first :data:`cvxcnn.facets.PILOT_CONES` cells
        (CPU time, kept) against the solve time saved per cell of the full
        program. Each cell that enters a program is then reduced once.
        """
        if not hull_pays_off(self.problem.Y):
            return "off"
        full = self.activation.program_nonzeros(self.problem, self.cells, None)
        rank = int(np.linalg.matrix_rank(self.problem.Y))
        decision = hull_decision(rank, len(self.cells), full, self.options.get("n_jobs"))
        if decision != "pilot":  # clear from the sizes: no cone is reduced to find out
            return decision
        pilot = index[:PILOT_CONES]
        cpu = time.process_time()
        red = self.activation.facet_reduction(
            self.problem, self.activation.subset(self.cells, pilot), "hull", None
        )
        per_cone = (time.process_time() - cpu) / max(len(pilot), 1)
        self._merge(pilot, red)
        saved_per_cell = SAVED_FRACTION * SOLVE_SECONDS_PER_NONZERO * full / len(self.cells)
        return "hull" if per_cone <= saved_per_cell else "off"

    def _merge(self, new: np.ndarray, red: FacetReduction) -> None:
        """Store ``red`` (columns for the cells ``new``) into the whole set's reduction."""
        old = self._reduced
        if old is None:
            keep = np.ones((red.keep.shape[0], len(self.cells)), dtype=bool)
            old = FacetReduction(keep, red.method, 0.0, 0)
            self._done = np.zeros(len(self.cells), dtype=bool)
        old.keep[:, new] = red.keep
        self._done[new] = True
        method = red.method if old.method == red.method else "mixed"
        seconds, full_cones = old.seconds + red.seconds, old.full_cones + red.full_cones
        self._reduced = FacetReduction(old.keep, method, seconds, full_cones)

    def add_violators(self, working, g, threshold, most, program=None) -> object:
        """Add (in place) the ``most`` cells outside ``working`` most above ``threshold`` at ``g``.

        With ``program`` ((P,) bool, the cells of the program ``g`` came from),
        a cell must also exceed every cell of the program: the program's own
        cells satisfy their constraints only to the solver's accuracy, so
        outside cells within that accuracy are not evidence of a missing cell
        (the rigorous set gap reports whatever remains).

        Returns the oracle's result over every cell (``cell_lower`` of shape (P,)).
        """
        oracle = self.activation.oracle(self.problem.Y, g, self.cells, threshold=threshold)
        if program is not None:
            threshold = max(threshold, float(oracle.cell_lower[program].max(initial=0.0)))
        violated = np.flatnonzero((oracle.cell_lower > threshold) & ~working)
        working[violated[np.argsort(-oracle.cell_lower[violated])][:most]] = True
        return oracle

    def solve_beta(self, beta, working, threshold, most, max_rounds, floor=None):
        """Working-set rounds at one ``beta`` until no cell of the set violates.

        With ``floor`` (:func:`cvxcnn.reconstruct.natural_scale`), each next
        program holds only this optimum's active cells plus the new violators
        (its optimum can only fall, and stays small); without, cells accumulate.

        Returns ``(fit, index, rounds, converged, r, oracle)``: the last solve,
        its working set, the rounds, whether the whole set was satisfied, the
        residual direction and the last oracle over the set (None, None when
        the solve failed).
        """
        r = oracle = None
        for rounds in range(1, max_rounds + 1):
            index = np.flatnonzero(working)
            t0 = time.process_time()
            fit_ = self.fit(beta, index)
            if fit_.network is None:
                return fit_, index, rounds, False, None, None
            r, g = self.direction(fit_, index)
            program = working.copy()
            t1 = time.process_time()
            oracle = self.add_violators(working, g, threshold, most, program)
            added = working & ~program
            self.record("round", fit_, index, added, (t0, t1))
            if not added.any():
                return fit_, index, rounds, True, r, oracle
            if floor is not None:
                working[:] = self.active(fit_, index, floor) | added
        converged = not np.any((oracle.cell_lower > threshold) & ~mask_of(index, working.size))
        return fit_, index, rounds, converged, r, oracle

    def record(
        self,
        phase: str,
        fit_: ConvexFitResult,
        index: np.ndarray,
        added: np.ndarray,
        clock: tuple[float, float],
        set_gap: float | None = None,
    ) -> None:
        """Append one round's entry to ``history`` (see :class:`WorkingSetSummary`).

        ``clock``: ``time.process_time()`` before the fit and before the
        oracle (whose CPU seconds run to now); ``added`` (P,) bool: the cells
        the oracle added; ``set_gap`` recorded when given (polishing rounds).
        """
        t0, t1 = clock
        entry = {
            "phase": phase,
            "cells": len(index),
            "fit_cpu_seconds": t1 - t0,
            "facet_seconds": fit_.facets.get("seconds", 0.0),
            "iterations": fit_.solve.iterations,
            "compile_seconds": fit_.solve.compile_seconds,
            "solve_seconds": fit_.solve.solve_seconds,
            "oracle_cpu_seconds": time.process_time() - t1,
            "added": int(added.sum()),
        }
        if set_gap is not None:
            entry["set_gap"] = set_gap
        self.history.append(entry)

    def direction(self, fit_: ConvexFitResult, index: np.ndarray):
        """``(r, g)`` of the program over the cells at ``index`` (:func:`program_direction`)."""
        sub = self.activation.subset(self.cells, index)
        return program_direction(self.activation, self.problem, sub, fit_, self.loss)

    def active(self, fit_: ConvexFitResult, index: np.ndarray, floor: float) -> np.ndarray:
        """(P,) bool: the cells of ``index`` active in ``fit_`` (all of them if none is)."""
        sub = self.activation.subset(self.cells, index)
        keep = self.activation.active_cells(fit_, sub, rtol=self.options["rtol"], floor=floor)
        return mask_of(index[keep] if keep.any() else index, len(self.cells))


#: Set gap above which a converged working set is polished (:func:`polish`).
POLISH_ABOVE = 1e-7
#: Clarabel tolerances of the polishing solves over the active cells (:func:`polish`).
POLISH_CLARABEL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
#: A cell re-enters during the polish when its value exceeds ``beta (1 + POLISH_TOL)``.
POLISH_TOL = 1e-7
#: Most polishing solves (each adds the cells the dual point finds violated).
POLISH_ROUNDS = 6
#: Sign rows of the polishing solves: ``None`` the working set's facet rows, ``"off"`` every row.
POLISH_FACETS: str | None = None


def polish(ws: WorkingSets, beta: float, fit_: ConvexFitResult, index: np.ndarray, most: int):
    """More rounds at a tight entry threshold, then a tight solve, for a set gap near zero.

    The rounds stop when no cell exceeds ``beta (1 + tol)`` (``tol = 1e-4``); the
    cells between ``beta (1 + POLISH_TOL)`` and that still cap the rigorous set
    gap (2e-5 on digits, P = 1000). Each polishing round solves over the active
    cells plus the cells the oracle over the WHOLE set finds above ``beta (1 +
    POLISH_TOL)`` (and above the program's own cells), at the configured solver
    tolerances: the program's own dual point (:func:`program_direction`) is
    accurate to ~1e-8 there. When nothing is left to add and the gap is still
    above :data:`POLISH_ABOVE`, one solve over the same cells at
    :data:`POLISH_CLARABEL` (Clarabel only).

    Returns ``(fit, index, (r, oracle), (max_ratio, lower, set_gap))`` of the
    solve with the smallest set gap, or None when no polishing solve succeeded.
    """
    floor = natural_scale(ws.problem)
    working = ws.active(fit_, index, floor)
    clarabel = str(ws.options.get("solver", "")).upper() == "CLARABEL"
    best, tight = None, False
    for _ in range(POLISH_ROUNDS):
        idx = np.flatnonzero(working)
        t0 = time.process_time()
        polished = ws.fit(beta, idx, POLISH_CLARABEL if tight else None, facets=POLISH_FACETS)
        if not polished.success or polished.network is None:
            break
        r, g = ws.direction(polished, idx)
        program = working.copy()
        t1 = time.process_time()
        oracle = ws.add_violators(working, g, beta * (1 + POLISH_TOL), most, program)
        bound = set_bound(polished, beta, ws.loss, ws.problem, r, oracle)
        added = working & ~program
        ws.record("polish-tight" if tight else "polish", polished, idx, added, (t0, t1), bound[2])
        if best is None or bound[2] < best[3][2]:
            best = (polished, idx, (r, oracle), bound)
        if bound[2] <= POLISH_ABOVE or (tight and not added.any()):
            break
        if added.any():
            working = ws.active(polished, idx, floor) | added
        elif clarabel:
            tight, working = True, program
        else:
            break
    return best


def set_bound(
    fit_: ConvexFitResult, beta: float, loss: Loss, problem: PatchProblem, r, oracle
) -> tuple[float, float, float]:
    """``(max_ratio, lower_bound, set_gap)`` of a working-set optimum over the WHOLE set.

    ``max_ratio`` is ``max_i M_i / beta`` (oracle lower end), ``lower_bound``
    the rigorous dual bound from the oracle's upper end over every cell, and
    ``set_gap = (objective - lower_bound) / |objective|``; NaN when nothing was solved.
    """
    if fit_.network is None or oracle is None:
        return float("nan"), float("nan"), float("nan")
    lower = dual_bound(loss, r, problem.target, beta, oracle.upper)[1]
    set_gap = relative_gap(fit_.primal_objective, lower)
    return oracle.lower / beta, lower, set_gap


@dataclass
class WorkingSetSummary(Result):
    """How a single-beta working-set solve went (``ConvexFitResult.working_set``).

    Attributes
    ----------
    cells : int
        Size of the given set ``P``.
    program_cells : int
        Cells in the last working-set program.
    rounds : int
    converged : bool
        No cell of the set violated its dual constraint at the answer.
    max_ratio, lower_bound, set_gap : float
        As in :func:`set_bound` (the rigorous bound over the whole set).
    seconds : float
    fallback : str or None
        ``"full"`` when the rounds did not converge and the full program was solved.
    history : list of dict
        Per round (``phase``: "round", "polish" or "polish-tight"): program cells,
        the fit's and the oracle's CPU seconds, the cumulative facet seconds, the
        solve's compile and solve (wall) seconds, interior-point iterations,
        cells added (and, when polishing, the set gap).
    """

    cells: int
    program_cells: int
    rounds: int
    converged: bool
    max_ratio: float
    lower_bound: float
    set_gap: float
    seconds: float
    fallback: str | None = None
    history: list = field(default_factory=list)


def solve_working_set(
    ws: WorkingSets,
    beta: float,
    *,
    tol: float = WS_TOL,
    initial: int | None = None,
    add_per_round: int | None = None,
    max_rounds: int = WS_MAX_ROUNDS,
) -> ConvexFitResult:
    """The optimum over ALL of ``ws.cells`` at one ``beta``, by working set.

    The strategy :func:`cvxcnn.fitting.fit` picks for large sets: programs
    over a few cells, the activation's oracle over the whole set after each
    solve, the most violated cells added. Never less than the set's optimum:
    if the rounds do not converge the full program is solved
    (``fallback="full"``), and a converged answer with a set gap above
    :data:`POLISH_ABOVE` is polished (:func:`polish`). ``set_gap`` is
    rigorous over the whole set whatever the rounds did.

    Parameters
    ----------
    ws : WorkingSets
        The problem, the whole cell set and the full-program solve.
    beta : float
    tol : float
        A cell enters when its oracle value exceeds ``beta (1 + tol)``.
    initial : int or None
        Cells of the first program (most violated at the zero network);
        None: ``max(WS_MIN_BATCH, (n_out + 1) // 2)``.
    add_per_round : int or None
        Most violated cells added per round (None: as ``initial``). Each next
        program holds the current optimum's active cells plus these.
    max_rounds : int
        Rounds before the full program over every cell is solved instead.

    Returns
    -------
    ConvexFitResult
        The last working-set solve, with ``working_set`` (a
        :class:`WorkingSetSummary` dict) and ``cell_index`` (the columns of
        ``W``/``Z`` in the given set); ``exact_arrangement`` only when the set is
        exact and the rounds converged.
    """
    start = time.perf_counter()
    n_cells = len(ws.cells)
    batch = max(WS_MIN_BATCH, (ws.problem.readout.n_out + 1) // 2)
    initial = batch if initial is None else initial
    add_per_round = batch if add_per_round is None else add_per_round
    working = mask_of(
        most_violated_at_zero(ws.activation, ws.problem, ws.cells, ws.loss, initial), n_cells
    )
    fit_, index, rounds, converged, r, oracle = ws.solve_beta(
        beta, working, beta * (1 + tol), add_per_round, max_rounds, natural_scale(ws.problem)
    )
    fallback = None
    if fit_.network is not None and not converged:  # never report less than the set's optimum
        fit_, index, fallback = ws.fit(beta, np.arange(n_cells)), np.arange(n_cells), "full"
        converged = fit_.network is not None
        if converged:
            r, g = ws.direction(fit_, index)
            oracle = ws.activation.oracle(ws.problem.Y, g, ws.cells, threshold=beta)
    max_ratio, lower, set_gap = set_bound(fit_, beta, ws.loss, ws.problem, r, oracle)
    if converged and set_gap > POLISH_ABOVE and fallback is None:
        polished = polish(ws, beta, fit_, index, add_per_round)
        if polished is not None and polished[3][2] < set_gap:
            fit_, index, (r, oracle) = polished[0], polished[1], polished[2]
            max_ratio, lower, set_gap = polished[3]
    fit_.exact_arrangement = bool(getattr(ws.cells, "exact", False)) and converged
    fit_.cell_index = index
    fit_.working_set = WorkingSetSummary(
        cells=n_cells,
        program_cells=len(index),
        rounds=rounds,
        converged=converged and fit_.success,
        max_ratio=max_ratio,
        lower_bound=lower,
        set_gap=set_gap,
        seconds=time.perf_counter() - start,
        fallback=fallback,
        history=ws.history,
    ).to_dict()
    return fit_
