"""KKT residuals of the ReLU convex program (eq. 4) from the solver's duals.

For ``expr >= 0`` CVXPY returns a dual value ``mu >= 0`` with the Lagrangian
``objective - mu^T expr``. With ``S = 2M - 1`` (n, P), ``mu``/``nu`` the duals
of ``sign_w``/``sign_z`` (each (n, P)) and ``g = R^T grad L(R out)`` (n,),
where ``out = sum_i D_i Y (w_i - z_i)``, the conditions are

- stationarity:  ``0 in  Y^T D_i g + beta d||w_i|| - Y^T (S_i * mu_i)``
                 ``0 in -Y^T D_i g + beta d||z_i|| - Y^T (S_i * nu_i)``
  (``A_i^T mu_i = Y^T (S_i * mu_i)`` with ``A_i = (2 D_i - I) Y``). For a
  nonzero block (norm > ``rtol`` times the largest block norm) the
  subdifferential is ``{w_i / ||w_i||}`` and the residual is the norm of the
  sum; for a zero block it is the unit ball and the residual is
  ``max(0, ||Y^T D_i g - Y^T (S_i * mu_i)|| - beta)`` (with ``-g`` and ``nu``
  for ``z_i``);
- primal feasibility: ``S * (Y W) >= 0`` and ``S * (Y Z) >= 0``;
- dual feasibility: ``mu, nu >= 0``;
- complementary slackness: ``mu * (S * Y W) = 0`` and ``nu * (S * Y Z) = 0``.

All residuals are absolute (not scaled), in float64, and computed for every
pattern at once (no loop over patterns).

Non-differentiable losses. For the absolute loss the (sub)gradient at the
solution is not unique where a prediction fits its target exactly (``|p_j -
x_j| <= kink_tol``). With ``select_subgradient=True`` (default) those entries
of ``lam in dL(p)`` are chosen in [-1, 1] by bounded least squares so that the
stationarity equations of the NONZERO blocks hold as well as possible (the
other entries are ``sign(p_j - x_j)``); the zero-block residuals are then
evaluated at that choice. With ``select_subgradient=False`` the residual uses
``loss.gradient`` (``sign``, 0 at a kink) and may be loose. The squared,
Huber and logistic losses are differentiable: ``g`` is their gradient.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import lsq_linear

from cvxcnn.programs.relu import ReluProgram

#: Default relative threshold below which a block counts as zero (as in reconstruction).
DEFAULT_RTOL = 1e-6


@dataclass
class KKTResiduals:
    """KKT residuals of a solved eq. 4 program.

    Attributes
    ----------
    stationarity : float
        2-norm over all ``2P`` blocks of the per-block stationarity residuals.
    stationarity_max : float
        Largest per-block stationarity residual.
    primal_feasibility : float
        Largest violation of ``S * (Y W) >= 0`` and ``S * (Y Z) >= 0`` (0 if feasible).
    dual_feasibility : float
        Largest ``max(0, -mu)``, ``max(0, -nu)``.
    complementary_slackness : float
        ``sum |mu * (S * Y W)| + |nu * (S * Y Z)|``.
    complementary_slackness_max : float
        Largest entry of the same.
    active_blocks : int
        Number of nonzero blocks (``w_i`` and ``z_i`` counted separately).
    subgradient : str
        ``"gradient"`` (loss.gradient) or ``"selected"`` (chosen at kinks, see module doc).
    beta : float
    """

    stationarity: float
    stationarity_max: float
    primal_feasibility: float
    dual_feasibility: float
    complementary_slackness: float
    complementary_slackness_max: float
    active_blocks: int = 0
    subgradient: str = "gradient"
    beta: float = float("nan")

    @property
    def max_residual(self) -> float:
        """Largest of the four maximum-type residuals."""
        return max(
            self.stationarity_max,
            self.primal_feasibility,
            self.dual_feasibility,
            self.complementary_slackness_max,
        )

    def to_dict(self) -> dict:
        """JSON-ready dict (nan as None)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def _solution_arrays(program: ReluProgram) -> tuple[np.ndarray, ...]:
    status = program.problem.status
    if status is None:
        raise ValueError(
            "the program has no solver status: it was not solved, or the solver failed "
            "(solver_error); solve it with cvxcnn.solve.solve_cvxpy(program.problem) and check "
            "the returned status before kkt_residuals"
        )
    if program.W.value is None or program.Z.value is None:
        raise ValueError(
            f"the program has no primal solution (status {status!r}); KKT residuals need a "
            "solved program"
        )
    sign_w, sign_z = program.constraints.get("sign_w"), program.constraints.get("sign_z")
    if sign_w is None or sign_z is None:
        raise ValueError("the program has no 'sign_w'/'sign_z' constraints to read duals from")
    if sign_w.dual_value is None or sign_z.dual_value is None:
        raise ValueError(
            f"the solver returned no dual values (status {status!r}); use a solver that "
            "reports duals (Clarabel, SCS)"
        )
    W = np.asarray(program.W.value, dtype=np.float64)
    Z = np.asarray(program.Z.value, dtype=np.float64)
    shape = (program.data.n, program.n_patterns)
    if program.row_mask is None:
        mu = np.asarray(sign_w.dual_value, dtype=np.float64).reshape(shape)
        nu = np.asarray(sign_z.dual_value, dtype=np.float64).reshape(shape)
    else:  # facet-reduced program: dropped (redundant) rows carry zero multipliers
        rows, cols = np.nonzero(program.row_mask)
        mu, nu = np.zeros(shape), np.zeros(shape)
        if len(rows):
            mu[rows, cols] = np.asarray(sign_w.dual_value, dtype=np.float64).reshape(-1)
            nu[rows, cols] = np.asarray(sign_z.dual_value, dtype=np.float64).reshape(-1)
    return W, Z, mu, nu


def _block_residuals(
    T: np.ndarray, X: np.ndarray, active: np.ndarray, norms: np.ndarray, beta: float
) -> np.ndarray:
    """Per-column residual of ``0 in T_i + beta d||x_i||`` (T, X: (d, P))."""
    safe = np.where(active, norms, 1.0)
    on = np.linalg.norm(T + beta * X / safe, axis=0)
    off = np.maximum(0.0, np.linalg.norm(T, axis=0) - beta)
    return np.where(active, on, off)


def _select_absolute_subgradient(
    lam: np.ndarray,
    free: np.ndarray,
    program: ReluProgram,
    rhs_w: np.ndarray,
    rhs_z: np.ndarray,
    masks_w: np.ndarray,
    masks_z: np.ndarray,
) -> np.ndarray:
    """Choose ``lam[free]`` in [-1, 1] to satisfy the nonzero blocks' stationarity best.

    Equations (per nonzero block, linear in ``lam``):
    ``Y^T D_i R^T lam = A_i^T mu_i - beta w_i/||w_i||`` and
    ``-Y^T D_i R^T lam = A_i^T nu_i - beta z_i/||z_i||``.
    ``rhs_w``/``rhs_z`` (d, k) hold the right-hand sides of the active blocks,
    ``masks_w``/``masks_z`` (n, k) their masks.
    """
    data = program.data
    Y = data.Y
    n, d = Y.shape
    R_T = data.readout.matrix.T.tocsc()  # (n, n_out), sparse
    fixed = np.where(free, 0.0, lam)
    g_fixed = data.readout.adjoint(fixed)
    RK = R_T[:, np.flatnonzero(free)]  # (n, K), sparse

    def operator(masks: np.ndarray) -> np.ndarray:
        # rows (block k, coordinate j) of Y^T D_k R^T restricted to the free entries
        YD = (Y[:, None, :] * masks[:, :, None]).reshape(n, -1)  # (n, k*d)
        return np.asarray((RK.T @ YD).T)  # (k*d, K)

    A = np.concatenate([operator(masks_w), -operator(masks_z)])
    if A.shape[0] == 0:
        out = lam.copy()
        out[free] = 0.0
        return out
    bw = rhs_w - Y.T @ (masks_w * g_fixed[:, None])  # (d, k)
    bz = rhs_z + Y.T @ (masks_z * g_fixed[:, None])
    b = np.concatenate([bw.T.reshape(-1), bz.T.reshape(-1)])
    out = lam.copy()
    out[free] = lsq_linear(A, b, bounds=(-1.0, 1.0)).x
    return out


def kkt_residuals(
    program: ReluProgram,
    *,
    rtol: float = DEFAULT_RTOL,
    select_subgradient: bool = True,
    kink_tol: float = 1e-6,
) -> KKTResiduals:
    """KKT residuals of a solved eq. 4 program from its primal values and the duals.

    Parameters
    ----------
    program : ReluProgram
        Solved (``program.problem`` has a status and values). The current
        ``W.value``/``Z.value`` are used, so setting them to another point and
        calling again measures how far that point is from optimal (with the
        duals of the solve).
    rtol : float
        Blocks with norm <= ``rtol * (largest block norm)`` count as zero.
    select_subgradient : bool
        For the absolute loss, choose the subgradient at kinks (see module doc).
    kink_tol : float
        A prediction within ``kink_tol * max(1, max|x|)`` of its target is at a kink.

    Returns
    -------
    KKTResiduals

    Raises
    ------
    ValueError
        If the program is not solved or the solver gave no dual values.
    """
    W, Z, mu, nu = _solution_arrays(program)
    data, loss = program.data, program.loss
    beta = float(program.beta.value)
    Y = data.Y
    M = program.masks.T.astype(np.float64)  # (n, P)
    S = 2.0 * M - 1.0

    YW, YZ = Y @ W, Y @ Z
    outputs = np.sum(M * (YW - YZ), axis=1)
    prediction = data.readout.apply(outputs)
    lam = np.asarray(loss.gradient(prediction, data.target), dtype=np.float64)

    nw, nz = np.linalg.norm(W, axis=0), np.linalg.norm(Z, axis=0)
    scale = float(max(nw.max(initial=0.0), nz.max(initial=0.0)))
    act_w = nw > rtol * scale if scale > 0 else np.zeros_like(nw, dtype=bool)
    act_z = nz > rtol * scale if scale > 0 else np.zeros_like(nz, dtype=bool)
    Amu, Anu = Y.T @ (S * mu), Y.T @ (S * nu)  # (d, P): A_i^T mu_i, A_i^T nu_i

    subgradient = "gradient"
    if select_subgradient and loss.name == "absolute":
        tol = kink_tol * max(1.0, float(np.max(np.abs(data.target), initial=0.0)))
        free = np.abs(prediction - data.target) <= tol
        if free.any():
            rhs_w = Amu[:, act_w] - beta * W[:, act_w] / nw[act_w]
            rhs_z = Anu[:, act_z] - beta * Z[:, act_z] / nz[act_z]
            lam = _select_absolute_subgradient(
                lam, free, program, rhs_w, rhs_z, M[:, act_w], M[:, act_z]
            )
            subgradient = "selected"

    g = data.readout.adjoint(lam)
    C = Y.T @ (M * g[:, None])  # (d, P): Y^T D_i g
    res_w = _block_residuals(C - Amu, W, act_w, nw, beta)
    res_z = _block_residuals(-C - Anu, Z, act_z, nz, beta)
    res = np.concatenate([res_w, res_z])

    slack_w, slack_z = S * YW, S * YZ
    primal = max(0.0, -float(min(slack_w.min(), slack_z.min())))
    dual = max(0.0, -float(min(mu.min(), nu.min())))
    comp = np.concatenate([np.abs(mu * slack_w).ravel(), np.abs(nu * slack_z).ravel()])
    return KKTResiduals(
        stationarity=float(np.linalg.norm(res)),
        stationarity_max=float(res.max(initial=0.0)),
        primal_feasibility=primal,
        dual_feasibility=dual,
        complementary_slackness=float(comp.sum()),
        complementary_slackness_max=float(comp.max(initial=0.0)),
        active_blocks=int(act_w.sum() + act_z.sum()),
        subgradient=subgradient,
        beta=beta,
    )
