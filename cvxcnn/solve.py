"""Solver choice, options and result objects.

Programs are compiled with ``Problem.get_problem_data`` and solved with
``SolvingChain.solve_via_data`` (CVXPY's documented low-level path) rather
than ``Problem.solve``, so that (a) compile time is measured apart from solve
time and (b) the solver's raw output is kept: through ``Problem.solve``
Clarabel's primal/dual objectives and residuals are discarded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import cvxpy as cp
import numpy as np

#: CVXPY solver names accepted case-insensitively.
DEFAULT_SOLVER = "CLARABEL"
OPTIMAL = "optimal"

#: Options applied unless the caller sets them. Clarabel 0.11's own default
#: ``direct_solve_method="auto"`` picks its faer factorization for some
#: programs, and faer was measured 1.5-7x slower than QDLDL per iteration on
#: these programs (digits n=256, P=300 facet-reduced: 0.52 vs 0.105 s per
#: iteration; n=512, P=150: 100 s vs 15 s; it also stalled at AlmostSolved on
#: exponential cones), so QDLDL is pinned.
DEFAULT_OPTIONS: dict[str, dict] = {"CLARABEL": {"direct_solve_method": "qdldl"}}


def _default_options(name: str, data: dict) -> dict:
    """Defaults for solver ``name`` (``data``: the compiled problem, for size rules)."""
    return dict(DEFAULT_OPTIONS.get(name, {}))


@dataclass(frozen=True)
class SolverSettings:
    """How one convex program is solved (shared by every activation's builder).

    Attributes
    ----------
    solver : str
        Any installed CVXPY solver (default Clarabel).
    solver_options : dict or None
        Passed to the solver.
    canon_backend : str or None
        CVXPY canonicalization backend.
    backend : {"cvxpy", "direct"}
        ``direct``: Clarabel's standard form assembled without CVXPY (ReLU).
    rtol : float
        Relative threshold for nonzero blocks in the reconstruction.
    """

    solver: str = DEFAULT_SOLVER
    solver_options: dict | None = None
    canon_backend: str | None = None
    backend: str = "cvxpy"
    rtol: float = 1e-6

    def solve(self, problem: cp.Problem) -> SolveInfo:
        """Compile and solve a built CVXPY problem with these settings (:func:`solve_cvxpy`)."""
        options, backend = self.solver_options, self.canon_backend
        return solve_cvxpy(problem, self.solver, solver_options=options, canon_backend=backend)


class SolverError(RuntimeError):
    """The solver failed (no usable solution at all)."""


def resolve_solver(name: str) -> str:
    """Map a case-insensitive solver name to an installed CVXPY solver name.

    Raises
    ------
    ValueError
        If the solver is not installed; the message lists the installed ones.
    """
    installed = cp.installed_solvers()
    key = str(name).upper()
    if key not in installed:
        raise ValueError(
            f"solver {name!r} is not installed; installed CVXPY solvers: "
            f"{', '.join(sorted(installed))}"
        )
    return key


def solver_stats_of(solver: str, raw: object) -> dict:
    """The solver's own gap and residuals, where it reports them."""
    if solver == "CLARABEL" and hasattr(raw, "obj_val"):
        primal, dual = float(raw.obj_val), float(raw.obj_val_dual)
        gap = abs(primal - dual)
        return {
            "primal_objective": primal,
            "dual_objective": dual,
            "gap_abs": gap,
            "gap_rel": gap / max(1.0, min(abs(primal), abs(dual))),
            "res_primal": float(raw.r_prim),
            "res_dual": float(raw.r_dual),
            "raw_status": str(raw.status),
        }
    if solver == "SCS" and isinstance(raw, dict) and "info" in raw:
        info = raw["info"]
        return {
            "primal_objective": float(info.get("pobj", np.nan)),
            "dual_objective": float(info.get("dobj", np.nan)),
            "gap_abs": float(info.get("gap", np.nan)),
            "res_primal": float(info.get("res_pri", np.nan)),
            "res_dual": float(info.get("res_dual", np.nan)),
            "raw_status": str(info.get("status", "")),
        }
    return {}


@dataclass
class SolveInfo:
    """What one solver call did.

    Attributes
    ----------
    status : str
        CVXPY status (``optimal``, ``optimal_inaccurate``, ``infeasible``, ...).
    success : bool
        True only for ``optimal``.
    message : str
        Human-readable summary, including why it is not optimal.
    solver : str
    solver_objective : float
        The optimal value as reported through CVXPY (nan on failure).
    iterations : int or None
    compile_seconds, solve_seconds : float
        CVXPY canonicalization vs the solver call (wall clock).
    solver_stats : dict
        The solver's own gap and residuals (keys ``gap_abs``, ``gap_rel``,
        ``res_primal``, ``res_dual``, ...), where it gives them.
    """

    status: str
    success: bool
    message: str
    solver: str
    solver_objective: float
    iterations: int | None
    compile_seconds: float
    solve_seconds: float
    solver_stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def outcome(self) -> dict:
        """``status``, ``success`` and ``message``: how the solve ended, as result fields."""
        return {"status": self.status, "success": self.success, "message": self.message}

    def summary(self) -> dict:
        """Solver, iterations and the compile and solve seconds: what every result reports."""
        return {
            "solver": self.solver,
            "iterations": self.iterations,
            "compile_seconds": self.compile_seconds,
            "solve_seconds": self.solve_seconds,
        }


def solve_cvxpy(
    problem: cp.Problem,
    solver: str = DEFAULT_SOLVER,
    *,
    solver_options: dict | None = None,
    canon_backend: str | None = None,
    warm_start: bool = False,
    verbose: bool = False,
) -> SolveInfo:
    """Compile and solve a CVXPY problem, timing the two phases apart.

    Parameters
    ----------
    problem : cvxpy.Problem
    solver : str
        Any installed CVXPY solver, case-insensitive (default Clarabel).
    solver_options : dict, optional
        Passed to the solver (e.g. ``{"tol_gap_rel": 1e-10}`` for Clarabel,
        ``{"eps": 1e-7}`` for SCS).
    canon_backend : {"CPP", "SCIPY", "COO"}, optional
        CVXPY canonicalization backend.
    warm_start : bool
        Ask the solver to warm start from the variables' current values.
    verbose : bool

    Returns
    -------
    SolveInfo
        Never raises on a solver failure: ``status``/``message`` say what happened.
    """
    name = resolve_solver(solver)
    opts = dict(solver_options or {})
    start = time.perf_counter()
    data, chain, inverse = problem.get_problem_data(
        name, verbose=verbose, canon_backend=canon_backend, solver_opts=opts
    )
    compiled = time.perf_counter()
    for key, value in _default_options(name, data).items():
        opts.setdefault(key, value)
    raw = None
    try:
        raw = chain.solve_via_data(problem, data, warm_start, verbose, opts)
        problem.unpack_results(raw, chain, inverse)
        status = problem.status
        error = ""
    except cp.error.SolverError as exc:
        status = "solver_error"
        error = str(exc)
    solved = time.perf_counter()
    stats = solver_stats_of(name, raw) if raw is not None else {}
    value = problem.value if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) else np.nan
    iterations = None
    if problem.solver_stats is not None and status != "solver_error":
        iterations = problem.solver_stats.num_iters
    if status == cp.OPTIMAL:
        message = f"{name} solved the program to optimality"
    elif status == cp.OPTIMAL_INACCURATE:
        message = (
            f"{name} stopped with an INACCURATE solution (status optimal_inaccurate): "
            "tighten tolerances, raise max_iter or try another solver"
        )
    else:
        message = f"{name} failed with status {status!r}" + (f": {error}" if error else "")
    return SolveInfo(
        status=str(status),
        success=status == cp.OPTIMAL,
        message=message,
        solver=name,
        solver_objective=float(value) if value is not None else float("nan"),
        iterations=iterations,
        compile_seconds=compiled - start,
        solve_seconds=solved - compiled,
        solver_stats=stats,
    )
