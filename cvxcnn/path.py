"""Regularization paths warm-started by active set (DESIGN.md section 10), any activation.

Interior-point solvers cannot warm-start from a point, so re-solving the
full program for every ``beta`` costs a full solve each time
(``working_set=False``, the reference). An optimum of eq. 4 uses at most
``n + 1`` of the ``P`` patterns, and the previous ``beta``'s active set is a
good guess for the next one. :func:`solve_path` therefore solves each
``beta`` over a small working set only: the previous active patterns and
those the previous optimum's dual direction flags at the new ``beta``, plus
the patterns whose dual constraint the exact oracle finds violated at the
working set's optimum (column generation over the GIVEN pattern set). A
``beta`` is done when no pattern of the set violates
``max_{u in K_i, ||u|| <= 1} |g^T D_i Y u| <= beta (1 + tol)``: then the
working set's optimum is the optimum over all ``P`` patterns, and the same
oracle gives a rigorous lower bound on that program (reported as
``set_gap``). Over a sampled set that is optimality over the set, not the
global certificate (:func:`cvxcnn.certificates.certify_relu` says which).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cvxcnn.activations import activation_of
from cvxcnn.facets import FacetReduction
from cvxcnn.fitting import fit
from cvxcnn.losses import Loss, get_loss
from cvxcnn.problem import PatchProblem
from cvxcnn.reconstruct import DEFAULT_RTOL, natural_scale
from cvxcnn.results import ConvexFitResult, Result, omitted
from cvxcnn.solve import DEFAULT_SOLVER
from cvxcnn.validation import check_positive, check_positive_int
from cvxcnn.working_set import WorkingSets, most_violated_at_zero, set_bound


@dataclass
class PathPoint(Result):
    """One ``beta`` of a path.

    Attributes
    ----------
    fit : ConvexFitResult
        The last working-set solve (its network is the answer for this beta);
        JSON: its ``objective``, ``primal_objective``, ``status`` and
        ``active_patterns``.
    beta : float
    rounds : int
        Working-set solves for this beta.
    working_set : int
        Patterns in the last working-set program.
    max_ratio : float
        ``max_i M_i / beta`` over EVERY pattern of the set at the answer
        (``<= 1 + tol`` when ``converged``).
    lower_bound, set_gap : float
        Rigorous lower bound on the optimum over the whole pattern set, and
        ``(objective - lower_bound) / |objective|``.
    converged : bool
    seconds : float
    """

    fit: ConvexFitResult = omitted(
        lift=("objective", "primal_objective", "status", "active_patterns")
    )
    beta: float
    rounds: int
    working_set: int
    max_ratio: float
    lower_bound: float
    set_gap: float
    converged: bool
    seconds: float


@dataclass
class PathResult(Result):
    """Outcome of :func:`solve_path`.

    Attributes
    ----------
    points : list of PathPoint
        One per beta, in the order given.
    n_patterns : int
        Size of the pattern set.
    exact_arrangement : bool
        Whether the set is every cell (then each optimum is global).
    facets : dict
        The facet reduction computed once for the whole set (empty if off).
    seconds : float
        Wall time, reduction included.
    """

    points: list[PathPoint]
    n_patterns: int
    exact_arrangement: bool
    facets: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def betas(self) -> np.ndarray:
        return np.array([p.beta for p in self.points])

    @property
    def objectives(self) -> np.ndarray:
        return np.array([p.fit.objective for p in self.points])

    @property
    def fits(self) -> list[ConvexFitResult]:
        return [p.fit for p in self.points]


def _point(fit_, beta, loss, problem, r, oracle, rounds, index, converged, t0) -> PathPoint:
    """The :class:`PathPoint` of one beta, with the rigorous lower bound over the set."""
    max_ratio, lower, set_gap = set_bound(fit_, beta, loss, problem, r, oracle)
    return PathPoint(
        fit=fit_,
        beta=beta,
        rounds=rounds,
        working_set=len(index),
        max_ratio=max_ratio,
        lower_bound=lower,
        set_gap=set_gap,
        converged=converged and fit_.success,
        seconds=time.perf_counter() - t0,
    )


def solve_path(
    problem: PatchProblem,
    cells: object,
    betas: list[float] | np.ndarray,
    *,
    loss: str | Loss = "squared",
    tol: float = 1e-4,
    initial: int = 50,
    add_per_round: int = 100,
    max_rounds: int = 50,
    facets: str | FacetReduction | None = "auto",
    solver: str = DEFAULT_SOLVER,
    solver_options: dict | None = None,
    rtol: float = DEFAULT_RTOL,
    progress: bool = False,
    n_jobs: int | None = None,
    working_set: bool = True,
    max_memory: float | None = None,
) -> PathResult:
    """Solve the convex program over a cell set for several ``beta``, by active set.

    DESIGN.md section 10, lever 2: interior-point solves cannot be warm
    started, so each ``beta`` starts from the previous optimum's active cells
    plus the cells its dual direction finds violated, and working-set rounds
    (:meth:`cvxcnn.working_set.WorkingSets.solve_beta`) run until no cell of
    the set violates. Each point's ``set_gap`` is a rigorous bound over the
    WHOLE set; the optimum is global only when the set is exact. A round
    whose solve fails ends that beta with ``converged=False``.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout and target.
    cells : PatternSet, TripleSet or ndarray of shape (P, n), bool
        The cell set (ReLU patterns or soft-threshold triples); every
        ``beta`` is solved to optimality over ALL of it.
    betas : sequence of float
        Each > 0, solved in the given order (decreasing is cheapest: the
        active set grows as ``beta`` falls).
    loss : str or Loss
    tol : float
        A cell outside the working set enters when its oracle value
        exceeds ``beta (1 + tol)``. Interior-point duals are accurate to
        about 1e-4 at default tolerances; ``set_gap`` reports the rigorous
        consequence whatever ``tol`` is.
    initial : int
        Working-set size at the first beta (most violated at the zero network).
    add_per_round : int
        Most violated cells added per round.
    max_rounds : int
        Working-set solves per beta before giving up (``converged=False``).
    facets : {"auto", "off", "adjacency", "hull", "lp"} or FacetReduction
        Computed ONCE for the whole set; each working set uses its columns.
    solver, solver_options, rtol
        As in :func:`cvxcnn.fitting.fit`.
    progress : bool
        A tqdm bar over betas.
    n_jobs : int or None
        Processes for the facet reduction (None: 1; -1: every CPU).
    working_set : bool
        False: solve the full program over every cell at every beta (the
        reference the working sets are measured against; ``rounds`` is 1).
    max_memory : float or None
        Bytes each program may take (see :func:`cvxcnn.fitting.fit`).

    Returns
    -------
    PathResult
    """
    start = time.perf_counter()
    betas = [check_positive(b, "betas[i]") for b in np.atleast_1d(np.asarray(betas, float))]
    if not betas:
        raise ValueError("betas is empty; pass at least one value")
    tol = check_positive(tol, "tol", allow_zero=True)
    initial = check_positive_int(initial, "initial")
    add_per_round = check_positive_int(add_per_round, "add_per_round")
    max_rounds = check_positive_int(max_rounds, "max_rounds")
    loss = get_loss(loss)
    activation = activation_of(cells)
    cells = activation.check_cells(cells, problem.n)
    exact = bool(getattr(cells, "exact", False))
    reduction = activation.facet_reduction(problem, cells, facets, n_jobs)
    floor = natural_scale(problem)
    n_cells = len(cells)
    working = np.zeros(n_cells, dtype=bool)
    if working_set:
        working[most_violated_at_zero(activation, problem, cells, loss, initial)] = True
    else:
        working[:] = True
    options = dict(solver=solver, solver_options=solver_options, rtol=rtol)
    options |= dict(max_memory=max_memory, strategy="full")
    ws = WorkingSets(
        activation, problem, cells, loss, fit, "off" if reduction is None else reduction, options
    )
    points: list[PathPoint] = []
    previous_g: np.ndarray | None = None
    for beta in tqdm(betas, disable=not progress, unit="beta", desc="path"):
        t0 = time.perf_counter()
        threshold = beta * (1 + tol)
        if previous_g is not None and working_set:
            # the previous optimum's dual direction predicts who violates at this beta
            ws.add_violators(working, previous_g, threshold, add_per_round)
        fit_, index, rounds, converged, r, oracle = ws.solve_beta(
            beta, working, threshold, add_per_round, max_rounds if working_set else 1
        )
        fit_.exact_arrangement = exact and converged
        points.append(_point(fit_, beta, loss, problem, r, oracle, rounds, index, converged, t0))
        if fit_.W is not None and working_set:  # next beta starts from this optimum's active cells
            previous_g = problem.readout.adjoint(r)
            working = ws.active(fit_, index, floor)
    return PathResult(
        points=points,
        n_patterns=n_cells,
        exact_arrangement=exact,
        facets={} if reduction is None else reduction.to_dict(),
        seconds=time.perf_counter() - start,
    )
