"""The eq. 4 ReLU program in Clarabel's standard form, built by hand (no CVXPY).

Why hand-written: for the eq. 4 program CVXPY's canonicalization (expression
tree -> ``get_problem_data``) costs seconds once ``n * P`` grows, and it only
ever produces one fixed, well-understood sparse structure (DESIGN.md
section 10, lever 3). Here that structure is assembled directly with
``scipy.sparse`` index arithmetic (no Python loop over patterns) and handed to
``clarabel.DefaultSolver``. The CVXPY builder
(:func:`cvxcnn.programs.relu.build_relu_program` / :func:`cvxcnn.fitting.fit_relu`)
stays the reference path: it supports every loss and solver, DPP parameters and
the dual program; this module is an optional fast path for Clarabel with the
squared, absolute and Huber losses, tested against it. The standard form is
the one CVXPY produces (Clarabel takes the same iterations to the same
optimum), so what it saves is the canonicalization only: on digits
(n = 256, d = 9) 0.5 -> 0.05 s at P = 300 and 2.1 -> 0.2 s at P = 1000, against
12 s and 93 s of interior-point solve (``benchmarks/direct_vs_cvxpy.py``).

Clarabel solves ``min 1/2 x^T P x + q^T x  s.t.  A x + s = b,  s in K``.
Variables ``x`` (in this order)::

    W   (d*P)   column i of W (d, P) is x[W][i*d:(i+1)*d]   (pattern-major)
    Z   (d*P)   likewise
    t_w (P)     t_w[i] >= ||w_i||
    t_z (P)     t_z[i] >= ||z_i||
    loss variables (n_out each):
        squared : r            objective 1/2 ||r||^2
        absolute: r, e         e >= |r|,  objective sum(e)
        huber   : a, c, e      residual a + c, e >= |c|,  objective 1/2 ||a||^2 + delta * sum(e)

Rows of ``A`` (cones in this order)::

    fit     ZeroConeT(n_out)    R G (w - z) - r = x   (huber: R G (w - z) - a - c = x)
                                with G (n, d*P), G[j, i*d + k] = D_i[j] * Y[j, k]
    sign_w  NonnegativeConeT    s = (2 D_i[j] - 1) Y[j] w_i >= 0, kept (i, j), pattern-major
    sign_z  (same cone)         likewise for z_i
    loss    (same cone)         e - r >= 0, e + r >= 0 (absolute; huber with c for r)
    soc     2P x SecondOrderConeT(d + 1)   (t_w[i], w_i), then (t_z[i], z_i)

``q`` holds ``beta`` on ``t_w``, ``t_z`` (plus 1 or ``delta`` on ``e``);
``P`` is the identity on the quadratic loss variables, zero elsewhere.
Sign rows whose patch row ``Y[j]`` is identically zero (``0 >= 0``) are
dropped: a slack forced to 0 would leave the program no strictly feasible point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import clarabel
import numpy as np
import scipy.sparse as sp

from cvxcnn.kkt import kkt_residuals
from cvxcnn.losses import AbsoluteLoss, HuberLoss, Loss, SquaredLoss, get_loss
from cvxcnn.patches import Readout
from cvxcnn.problem import PatchProblem
from cvxcnn.programs.relu import relu_inputs
from cvxcnn.programs.relu_result import assemble_fit_result
from cvxcnn.reconstruct import DEFAULT_RTOL
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import DEFAULT_OPTIONS, SolveInfo, solver_stats_of
from cvxcnn.validation import axis_length, check_positive

#: Losses the direct path can write as a (quadratic) cone program.
DIRECT_LOSSES: tuple[str, ...] = ("squared", "absolute", "huber")

#: Clarabel status -> the CVXPY status string (same map as CVXPY's Clarabel interface).
_STATUS_MAP: dict[str, str] = {
    "Solved": "optimal",
    "AlmostSolved": "optimal_inaccurate",
    "PrimalInfeasible": "infeasible",
    "DualInfeasible": "unbounded",
    "AlmostPrimalInfeasible": "infeasible_inaccurate",
    "AlmostDualInfeasible": "unbounded_inaccurate",
    "MaxIterations": "user_limit",
    "MaxTime": "user_limit",
    "NumericalError": "solver_error",
    "InsufficientProgress": "solver_error",
    "Unsolved": "solver_error",
}
#: Statuses with a primal point worth reading (CVXPY's ``SOLUTION_PRESENT``).
_SOLUTION_PRESENT = ("optimal", "optimal_inaccurate", "user_limit")


@dataclass
class ReluConic:
    """The eq. 4 program in Clarabel's standard form (see the module docstring).

    Attributes
    ----------
    P : scipy.sparse.csc_matrix of shape (N, N)
        Upper triangle of the quadratic objective (diagonal here).
    q : ndarray of shape (N,)
    A : scipy.sparse.csc_matrix of shape (m, N)
    b : ndarray of shape (m,)
    cones : list of clarabel cone objects
        ``ZeroConeT(n_out)``, ``NonnegativeConeT(...)`` (if any row), then
        ``2P`` ``SecondOrderConeT(d + 1)``.
    layout : ConicLayout
        Where each variable sits in ``x`` (``layout.W``, ``layout.t_w``,
        ``layout.loss_vars``...); see :meth:`unpack`.
    rows : dict of str to slice
        Rows of ``A`` of the ``fit``, ``sign_w``, ``sign_z``, ``loss`` and ``soc`` blocks.
    sign_index : tuple of two ndarrays of shape (K,)
        ``(i, j)``: pattern and patch row of each kept sign row, in row order
        (the same for ``sign_w`` and ``sign_z``).
    masks : ndarray of shape (P, n), bool
    row_mask : ndarray of shape (n, P), bool, or None
        The caller's row mask (None: every row).
    loss : Loss
    beta : float
    build_seconds : float
        Wall time of the whole assembly (checks, index arithmetic, CSC conversion).
    """

    P: sp.csc_matrix
    q: np.ndarray
    A: sp.csc_matrix
    b: np.ndarray
    cones: list
    layout: ConicLayout
    rows: dict
    sign_index: tuple[np.ndarray, np.ndarray]
    masks: np.ndarray
    row_mask: np.ndarray | None
    loss: Loss
    beta: float
    build_seconds: float = 0.0

    n_variables = axis_length("A", 1, "Number of variables ``N`` (columns of ``A``).")
    n_constraints = axis_length("A", 0, "Number of constraint rows ``m`` of ``A``.")

    @property
    def sign_rows(self) -> int:
        """Number of sign-constraint rows in the program (both sides)."""
        return 2 * len(self.sign_index[0])

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``W``, ``Z`` of shape (d, P) from a solution vector ``x`` (N,)."""
        x = np.asarray(x, dtype=np.float64)
        shape = (self.layout.n_patterns, self.layout.d)
        W, Z = x[self.layout.W], x[self.layout.Z]
        return W.reshape(shape).T.copy(), Z.reshape(shape).T.copy()

    def sign_duals(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Multipliers ``mu``, ``nu`` (n, P) of the sign constraints from Clarabel's ``z``.

        Dropped (redundant or zero) rows get 0. The sign convention is CVXPY's:
        the Lagrangian is ``objective - mu^T ((2D - I) Y w)``, ``mu >= 0``.
        """
        z = np.asarray(z, dtype=np.float64)
        i, j = self.sign_index
        shape = self.masks.T.shape  # (n, P)
        mu, nu = np.zeros(shape), np.zeros(shape)
        mu[j, i] = z[self.rows["sign_w"]]
        nu[j, i] = z[self.rows["sign_z"]]
        return mu, nu


def _direct_loss(loss: str | Loss) -> tuple[Loss, str]:
    """The loss and its kind (``squared``, ``absolute`` or ``huber``); ValueError otherwise."""
    loss = get_loss(loss)
    for kind, cls in zip(DIRECT_LOSSES, (SquaredLoss, AbsoluteLoss, HuberLoss), strict=True):
        if isinstance(loss, cls):
            return loss, kind
    raise ValueError(
        f"the direct Clarabel path supports the losses {', '.join(DIRECT_LOSSES)}; "
        f"got {loss.name!r}. Use cvxcnn.fitting.fit_relu (CVXPY) for other losses"
    )


def _check_row_mask(row_mask: object, n: int, P: int) -> np.ndarray | None:
    if row_mask is None:
        return None
    row_mask = np.asarray(row_mask)
    if row_mask.shape != (n, P):
        raise ValueError(f"row_mask must have shape (n, P) = {(n, P)}; got {row_mask.shape}")
    if row_mask.dtype != np.bool_:
        if not np.all(np.isin(row_mask, (0, 1))):
            raise ValueError("row_mask must be boolean (or 0/1); got other values")
        row_mask = row_mask.astype(bool)
    return row_mask


def build_relu_conic(
    problem: PatchProblem,
    masks: object,
    *,
    beta: float,
    loss: str | Loss = "squared",
    row_mask: np.ndarray | None = None,
) -> ReluConic:
    """Assemble the eq. 4 program as Clarabel's ``(P, q, A, b, cones)``.

    The same program as :func:`cvxcnn.programs.relu.build_relu_program`
    (DESIGN.md section 4; section 10, lever 3), written by ``scipy.sparse``
    index arithmetic in the layout of the module docstring: no CVXPY
    canonicalization (the time before the solve falls ~10x, measured in the
    module docstring); squared, absolute and Huber losses only. Sign rows of
    all-zero patch rows are dropped.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout ``R`` (n_out, n) and target ``x`` (n_out,).
    masks : PatternSet or ndarray of shape (P, n), bool
        Sign patterns ``diag(D_i)``.
    beta : float
        Weight decay, > 0.
    loss : {"squared", "absolute", "huber"} or Loss
        Scaled as in :mod:`cvxcnn.losses` (squared: ``1/2 ||.||^2``).
    row_mask : ndarray of shape (n, P), bool, optional
        As in :func:`~cvxcnn.programs.relu.build_relu_program` (0/1 accepted).

    Returns
    -------
    ReluConic

    Raises
    ------
    ValueError
        For an unsupported loss, ``beta <= 0``, or masks of the wrong shape.
    """
    start = time.perf_counter()
    beta = check_positive(beta, "beta")
    loss, kind = _direct_loss(loss)
    loss, masks = relu_inputs(problem, masks, loss)
    Y = np.asarray(problem.Y, dtype=np.float64)
    n, d = Y.shape
    P = masks.shape[0]
    row_mask = _check_row_mask(row_mask, n, P)
    target = np.asarray(problem.target, dtype=np.float64)
    layout = _variable_layout(d, P, target.shape[0], kind)
    sign_index = _kept_sign_rows(Y, masks, row_mask)
    constraints = _constraint_rows(Y, masks, problem.readout, layout, kind, sign_index)
    A = constraints.matrix(layout.n_variables)
    b = np.zeros(constraints.n_rows)
    b[constraints.slices["fit"]] = target  # zero cone: A_fit x = R G (w - z) - r = x
    Pmat, q = _objective(layout, kind, beta, loss)
    return ReluConic(
        P=Pmat,
        q=q,
        A=A,
        b=b,
        cones=_cones(layout, constraints.slices),
        layout=layout,
        rows=constraints.slices,
        sign_index=sign_index,
        masks=masks,
        row_mask=row_mask,
        loss=loss,
        beta=beta,
        build_seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- #
# Pieces of build_relu_conic
# --------------------------------------------------------------------------- #

#: The loss variables of each loss kind, in ``x`` order.
_LOSS_VARIABLES: dict[str, tuple[str, ...]] = {
    "squared": ("r",),
    "absolute": ("r", "e"),
    "huber": ("a", "c", "e"),
}

#: Nonzeros ``(rows, columns, values)`` of a block of ``A``.
_Entries = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ConicLayout:
    """Where each variable of the conic program sits in ``x`` (see the module docstring).

    Attributes
    ----------
    d, n_patterns, n_out : int
        Block size, patterns ``P`` and outputs.
    W, Z : slice
        Entries of ``x`` holding ``W``/``Z`` (d, P) pattern-major.
    t_w, t_z : slice
        Epigraph variables of the block norms, (P,) each.
    loss_vars : dict of str to slice
        ``r`` (squared, absolute), ``a``/``c`` (huber), ``e`` (absolute, huber).
    n_variables : int
        Length of ``x``.
    """

    d: int
    n_patterns: int
    n_out: int
    W: slice
    Z: slice
    t_w: slice
    t_z: slice
    loss_vars: dict
    n_variables: int


def _variable_layout(d: int, P: int, n_out: int, kind: str) -> ConicLayout:
    """``W``, ``Z`` (d*P each), ``t_w``, ``t_z`` (P each), then the loss variables."""
    dP = d * P
    base = 2 * dP + 2 * P
    names = _LOSS_VARIABLES[kind]
    loss_vars = {
        name: slice(base + k * n_out, base + (k + 1) * n_out) for k, name in enumerate(names)
    }
    return ConicLayout(
        d=d,
        n_patterns=P,
        n_out=n_out,
        W=slice(0, dP),
        Z=slice(dP, 2 * dP),
        t_w=slice(2 * dP, 2 * dP + P),
        t_z=slice(2 * dP + P, base),
        loss_vars=loss_vars,
        n_variables=base + len(names) * n_out,
    )


class _RowBlocks:
    """The rows of ``A``, block after block: nonzeros and the rows of each block."""

    def __init__(self) -> None:
        self.entries: list[_Entries] = []
        self.slices: dict[str, slice] = {}
        self.n_rows = 0

    def add(self, name: str, n_rows: int, entries: list[_Entries]) -> None:
        """Append block ``name`` of ``n_rows`` rows; ``entries`` count rows from 0."""
        for rows, cols, vals in entries:
            self.entries.append((rows + self.n_rows, cols, vals))
        self.slices[name] = slice(self.n_rows, self.n_rows + n_rows)
        self.n_rows += n_rows

    def matrix(self, n_cols: int) -> sp.csc_matrix:
        """``A`` (n_rows, n_cols) in CSC, explicit zeros removed."""
        rows = np.concatenate([e[0] for e in self.entries])
        cols = np.concatenate([e[1] for e in self.entries])
        vals = np.concatenate([e[2] for e in self.entries])
        A = sp.csc_matrix((vals, (rows, cols)), shape=(self.n_rows, n_cols))
        A.eliminate_zeros()
        return A


def _fit_entries(
    Y: np.ndarray, masks: np.ndarray, readout: Readout, layout: ConicLayout, kind: str
) -> list[_Entries]:
    """``R G (w - z) - r`` (huber: ``- a - c``), ``G[j, i*d + k] = D_i[j] * Y[j, k]``."""
    n, d = Y.shape
    dP = d * layout.n_patterns
    jj, ii = np.nonzero(masks.T)  # nonzeros of M (n, P), row-major
    g_rows = np.repeat(jj, d)
    g_cols = (ii[:, None] * d + np.arange(d)).ravel()
    G = sp.csr_matrix((Y[jj].ravel(), (g_rows, g_cols)), shape=(n, dP))
    RG = (G if readout.kind == "identity" else readout.matrix @ G).tocoo()
    entries = [(RG.row, RG.col, RG.data), (RG.row, RG.col + dP, -RG.data)]
    eye_out = np.arange(layout.n_out)
    for name in ("a", "c") if kind == "huber" else ("r",):
        entries.append((eye_out, eye_out + layout.loss_vars[name].start, -np.ones(layout.n_out)))
    return entries


def _kept_sign_rows(
    Y: np.ndarray, masks: np.ndarray, row_mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` of the sign rows kept (pattern-major): in ``row_mask``, ``Y[j] != 0``."""
    keep = np.ones(masks.shape, dtype=bool) if row_mask is None else row_mask.T.copy()
    keep &= np.any(Y != 0, axis=1)[None, :]  # a zero row of Y constrains nothing
    return np.nonzero(keep)


def _sign_entries(Y: np.ndarray, masks: np.ndarray, si: np.ndarray, sj: np.ndarray) -> _Entries:
    """``s = (2 D_i[j] - 1) Y[j] w_i`` for the kept ``(i, j)``, columns of ``W``."""
    d = Y.shape[1]
    signs = np.where(masks[si, sj], 1.0, -1.0)
    s_vals = -(signs[:, None] * Y[sj])  # s = b - A x = signs * Y w
    s_rows = np.repeat(np.arange(si.shape[0]), d)
    s_cols = (si[:, None] * d + np.arange(d)).ravel()
    return s_rows, s_cols, s_vals.ravel()


def _loss_entries(layout: ConicLayout, kind: str) -> list[_Entries]:
    """``e - r >= 0``, ``e + r >= 0`` (absolute; huber with ``c``); none for squared."""
    if kind not in ("absolute", "huber"):
        return []
    n_out = layout.n_out
    eye_out = np.arange(n_out)
    abs_var = layout.loss_vars["r" if kind == "absolute" else "c"].start
    e0 = layout.loss_vars["e"].start
    entries = []
    for k, sign in enumerate((1.0, -1.0)):  # s = e - sign * v >= 0
        rows = k * n_out + eye_out
        entries.append((rows, e0 + eye_out, -np.ones(n_out)))
        entries.append((rows, abs_var + eye_out, np.full(n_out, sign)))
    return entries


def _soc_entries(layout: ConicLayout) -> list[_Entries]:
    """``(t_b, x_b)`` in ``SOC(d + 1)``, ``b = 0..2P-1`` (``W`` blocks, then ``Z``)."""
    d, P = layout.d, layout.n_patterns
    blk = np.arange(2 * P)
    t_rows = blk * (d + 1)
    x_rows = (t_rows[:, None] + 1 + np.arange(d)).ravel()
    x_cols = (blk[:, None] * d + np.arange(d)).ravel()  # W then Z, contiguous
    return [
        (t_rows, layout.t_w.start + blk, -np.ones(2 * P)),
        (x_rows, x_cols, -np.ones(2 * P * d)),
    ]


def _constraint_rows(
    Y: np.ndarray,
    masks: np.ndarray,
    readout: Readout,
    layout: ConicLayout,
    kind: str,
    sign_index: tuple[np.ndarray, np.ndarray],
) -> _RowBlocks:
    """The ``fit``, ``sign_w``, ``sign_z``, ``loss`` and ``soc`` blocks of ``A``, in order."""
    d, P, n_out = layout.d, layout.n_patterns, layout.n_out
    rows = _RowBlocks()
    rows.add("fit", n_out, _fit_entries(Y, masks, readout, layout, kind))
    s_rows, s_cols, s_vals = _sign_entries(Y, masks, *sign_index)
    K = sign_index[0].shape[0]
    for name, offset in (("sign_w", layout.W.start), ("sign_z", layout.Z.start)):
        rows.add(name, K, [(s_rows, s_cols + offset, s_vals)])
    loss_entries = _loss_entries(layout, kind)
    rows.add("loss", 2 * n_out if loss_entries else 0, loss_entries)
    rows.add("soc", 2 * P * (d + 1), _soc_entries(layout))
    return rows


def _objective(
    layout: ConicLayout, kind: str, beta: float, loss: Loss
) -> tuple[sp.csc_matrix, np.ndarray]:
    """``P`` (identity on the quadratic loss variables) and ``q`` (``beta``, 1 or ``delta``)."""
    q = np.zeros(layout.n_variables)
    q[layout.t_w] = beta
    q[layout.t_z] = beta
    quad = np.zeros(layout.n_variables)
    if kind == "squared":
        quad[layout.loss_vars["r"]] = 1.0
    elif kind == "absolute":
        q[layout.loss_vars["e"]] = 1.0
    else:
        quad[layout.loss_vars["a"]] = 1.0
        q[layout.loss_vars["e"]] = loss.delta
    Pmat = sp.diags(quad, format="csc")
    Pmat.eliminate_zeros()
    return Pmat, q


def _cones(layout: ConicLayout, rows: dict[str, slice]) -> list:
    """Zero cone (fit), one nonnegative cone (sign and loss rows, if any), 2P SOCs."""
    cones: list = [clarabel.ZeroConeT(layout.n_out)]
    n_nonneg = rows["loss"].stop - rows["sign_w"].start  # sign_w, sign_z, loss
    if n_nonneg:
        cones.append(clarabel.NonnegativeConeT(n_nonneg))
    cones.extend([clarabel.SecondOrderConeT(layout.d + 1)] * (2 * layout.n_patterns))
    return cones


def clarabel_settings(solver_options: dict | None = None) -> clarabel.DefaultSettings:
    """``clarabel.DefaultSettings`` with ``verbose=False``, the package defaults
    (:data:`cvxcnn.solve.DEFAULT_OPTIONS`: QDLDL) and ``solver_options`` applied.

    Parameters
    ----------
    solver_options : dict, optional
        Clarabel setting names and values (e.g. ``{"tol_gap_rel": 1e-10}``,
        ``{"max_iter": 500}``, ``{"verbose": True}``), as for the CVXPY path.

    Raises
    ------
    ValueError
        For a name that is not a Clarabel setting.
    TypeError
        For a value of the wrong type.
    """
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    options = {**DEFAULT_OPTIONS["CLARABEL"], **(solver_options or {})}
    for key, value in options.items():
        if key.startswith("_") or not hasattr(settings, key) or key == "default":
            raise ValueError(
                f"{key!r} is not a Clarabel setting; see clarabel.DefaultSettings() "
                "(e.g. tol_gap_abs, tol_gap_rel, tol_feas, max_iter, time_limit, verbose)"
            )
        try:
            setattr(settings, key, value)
        except TypeError as exc:
            raise TypeError(
                f"Clarabel setting {key!r} got a value of the wrong type: {value!r}"
            ) from exc
    return settings


def solve_conic(conic: ReluConic, solver_options: dict | None = None) -> tuple[SolveInfo, object]:
    """Solve a :class:`ReluConic` with ``clarabel.DefaultSolver``.

    Parameters
    ----------
    conic : ReluConic
    solver_options : dict, optional
        Clarabel settings (see :func:`clarabel_settings`).

    Returns
    -------
    info : SolveInfo
        ``status``/``success``/``message`` as :func:`cvxcnn.solve.solve_cvxpy`
        reports them for Clarabel (same status map as CVXPY's interface);
        ``compile_seconds`` is ``conic.build_seconds`` (the matrix assembly,
        the direct path's counterpart of CVXPY's canonicalization);
        ``solve_seconds`` covers the solver's construction (KKT setup) and
        ``solve()``, as through CVXPY. ``solver_stats`` adds
        ``interface="direct"`` and Clarabel's own ``solve_time``.
    solution : clarabel.DefaultSolution
        The raw solution (``x``, ``z``, ``s``, ``status``, ...).
    """
    settings = clarabel_settings(solver_options)
    start = time.perf_counter()
    solver = clarabel.DefaultSolver(conic.P, conic.q, conic.A, conic.b, conic.cones, settings)
    solution = solver.solve()
    solve_seconds = time.perf_counter() - start
    raw_status = str(solution.status)
    status = _STATUS_MAP.get(raw_status, "solver_error")
    if status == "optimal":
        message = "CLARABEL solved the program to optimality"
    elif status == "optimal_inaccurate":
        message = (
            "CLARABEL stopped with an INACCURATE solution (status optimal_inaccurate): "
            "tighten tolerances, raise max_iter or try another solver"
        )
    else:
        message = f"CLARABEL failed with status {status!r} (Clarabel status {raw_status})"
    value = float(solution.obj_val) if status in ("optimal", "optimal_inaccurate") else np.nan
    stats = solver_stats_of("CLARABEL", solution)
    stats["interface"] = "direct"
    stats["clarabel_solve_time"] = float(solution.solve_time)
    info = SolveInfo(
        status=status,
        success=status == "optimal",
        message=message,
        solver="CLARABEL",
        solver_objective=value,
        iterations=int(solution.iterations),
        compile_seconds=conic.build_seconds,
        solve_seconds=solve_seconds,
        solver_stats=stats,
    )
    return info, solution


def _kkt_view(
    conic: ReluConic, problem: PatchProblem, status: str, W, Z, mu, nu
) -> SimpleNamespace:
    """The attributes :func:`cvxcnn.kkt.kkt_residuals` reads from a solved ``ReluProgram``."""
    if conic.row_mask is None:
        dual_w, dual_z = mu, nu
    else:  # kkt expects the kept entries in np.nonzero(row_mask) order
        rows, cols = np.nonzero(conic.row_mask)
        dual_w, dual_z = mu[rows, cols], nu[rows, cols]
    return SimpleNamespace(
        problem=SimpleNamespace(status=status),
        W=SimpleNamespace(value=W),
        Z=SimpleNamespace(value=Z),
        constraints={
            "sign_w": SimpleNamespace(dual_value=dual_w),
            "sign_z": SimpleNamespace(dual_value=dual_z),
        },
        data=problem,
        loss=conic.loss,
        beta=SimpleNamespace(value=conic.beta),
        masks=conic.masks,
        n_patterns=conic.layout.n_patterns,
        row_mask=conic.row_mask,
    )


def fit_relu_direct(
    problem: PatchProblem,
    patterns: object,
    *,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
    solver_options: dict | None = None,
    rtol: float = DEFAULT_RTOL,
    row_mask: np.ndarray | None = None,
) -> ConvexFitResult:
    """Solve eq. 4 with Clarabel directly (no CVXPY) and reconstruct the network.

    Same inputs and result as :func:`cvxcnn.fitting.fit_relu` with
    ``solver="CLARABEL"``, for the squared, absolute and Huber losses.

    Parameters
    ----------
    problem : PatchProblem
        Patches ``Y`` (n, d), readout and target.
    patterns : PatternSet or ndarray of shape (P, n), bool
        A ``PatternSet`` with ``exact=True`` makes the result the global optimum.
    beta : float
        Weight decay (> 0).
    loss : {"squared", "absolute", "huber"} or Loss
    solver_options : dict, optional
        Clarabel settings (e.g. :data:`cvxcnn.certificates.TIGHT_CLARABEL`).
    rtol : float
        Relative threshold for nonzero blocks in the reconstruction.
    row_mask : ndarray of shape (n, P), bool, optional
        Keep only these sign constraints (facet reduction,
        :func:`cvxcnn.facets.facet_row_mask`); ``sign_violation`` is still
        checked on every row.

    Returns
    -------
    ConvexFitResult
        ``build_seconds`` and ``solve.compile_seconds`` both hold the matrix
        assembly time (do not add them: end to end is ``compile_seconds +
        solve_seconds``); ``solve.solver_stats["interface"] == "direct"``.
        ``constraint_rows`` counts the sign rows actually in the program
        (identically zero patch rows are dropped, see the module docstring).
        ``kkt`` holds the residuals of :func:`cvxcnn.kkt.kkt_residuals` from
        Clarabel's duals of the sign rows (``{"error": ...}`` if they cannot be
        computed). Check ``success``/``status``: a failed solve is reported,
        not raised.

    Raises
    ------
    ValueError
        For an unsupported loss (e.g. logistic), ``beta <= 0``, or masks /
        ``row_mask`` of the wrong shape.
    """
    conic = build_relu_conic(problem, patterns, beta=beta, loss=loss, row_mask=row_mask)
    info, solution = solve_conic(conic, solver_options)
    W = Z = None
    kkt: dict = {}
    if info.status in _SOLUTION_PRESENT and solution.x is not None and len(solution.x) > 0:
        W, Z = conic.unpack(solution.x)
        try:
            mu, nu = conic.sign_duals(solution.z)
            view = _kkt_view(conic, problem, info.status, W, Z, mu, nu)
            kkt = kkt_residuals(view, rtol=rtol).to_dict()
        except (ValueError, AttributeError, TypeError) as exc:
            kkt = {"error": str(exc)}
    exact = bool(getattr(patterns, "exact", False))
    return assemble_fit_result(
        conic, info, problem=problem, beta=conic.beta, exact=exact, W=W, Z=Z, kkt=kkt, rtol=rtol
    )
