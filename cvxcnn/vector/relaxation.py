"""The nuclear-norm relaxation: a LOWER bound on the vector-output optimum.

Exact form (Sahiner, Ergen, Pauly, Pilanci, ICLR 2021, with our constants).
A neuron whose filter ``u`` lies in the closed cone ``K_i = {u : S_i u >= 0}``,
``S_i = (2 D_i - I) Y``, outputs ``(Y u)_+ w^T = D_i Y u w^T``; after the
rescaling ``||u|| = ||w||`` its penalty is ``beta ||u|| ||w|| = beta ||u w^T||_*``.
Grouping the neurons by cell,

    p* = min_{V_i} 1/2 ||R sum_i D_i Y V_i - X||_F^2 + beta sum_i ||V_i||_{K_i,*},
    ||V||_{K,*} = min { sum_k ||u_k|| ||w_k|| : V = sum_k u_k w_k^T, u_k in K }

(the gauge of ``conv{u w^T : u in K, ||u||, ||w|| <= 1}``), a copositive
program. Relaxation solved here: group the neurons also by the sign pattern
``sigma`` in ``{-1, +1}^c`` of their output vector ``w``; the block
``V_{i,sigma} = sum_k u_k w_k^T`` then satisfies

    S_i V_{i,sigma} diag(sigma) >= 0      (each column, signed, is a nonnegative
                                           combination of the u_k, so in K_i)
    ||V_{i,sigma}||_* <= sum_k ||u_k|| ||w_k||   (triangle inequality).

So every network gives a feasible point of

    minimize  1/2 ||R sum_{i,s} D_i Y V_{i,s} - X||_F^2 + beta sum_{i,s} ||V_{i,s}||_*
    s.t.      S_i V_{i,s} diag(s) >= 0          (s = sigma)

with objective <= its own: with every cell, the optimum is a lower bound on p*.
(Without the sign patterns, "columns of V_i in K_i" is NOT implied: with
``X = [x, -x]`` the unsigned program's value exceeds the true optimum; a test
shows it.) For ``c = 1`` this is exactly the scalar program (eq. 4).

Tight when the optimal blocks are rank one: ``V = s a b^T`` with
``S a (sigma * b)^T >= 0`` is the single neuron ``u = a sqrt(s)``,
``w = b sqrt(s)`` (signs chosen so ``u`` is in ``K_i``) with penalty
``beta s = beta ||V||_*``, so the relaxed optimum is attained by a network.
Also tight for proportional channels ``X = x a^T`` (then p* is the scalar
optimum for ``x``, and ``sum_k |a_k| ||V_{:,k}|| <= ||V||_F <= ||V||_*``
maps any relaxed point to a scalar one no worse). The result says whether
the blocks came out rank one, and the network built from the top singular
pairs is always a feasible network (an upper bound, by the shared evaluator).

The lifted form (``form="dnn"``, tighter). For a group, ``Z = sum_k [u_k; w_k]
[u_k; w_k]^T`` (rescaled neurons) is PSD with ``tr Z / 2 = sum_k ||u_k|| ||w_k||``,
its off-diagonal block is ``V_{i,sigma}``, and every ``[S_i u_k; sigma * w_k]`` is
nonnegative, so ``T Z T^T`` (``T = diag(S_i, diag(sigma))``) is completely
positive, hence entrywise nonnegative: the doubly nonnegative relaxation of
the copositive program. Penalty ``tr Z / 2`` (``>= ||V||_*``, the nuclear form
is this one without the entrywise rows on ``A`` and ``B``). Its dual cone
(PSD + nonnegative) lies inside the copositive one, so the dual certificate
at its residual reproduces its value (measured to 1e-8).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from cvxcnn.fitting import normalization
from cvxcnn.losses import get_loss
from cvxcnn.programs.relu import check_masks, pattern_masks
from cvxcnn.results import Result, omitted
from cvxcnn.solve import SolveInfo, SolverSettings, solve_cvxpy
from cvxcnn.validation import check_choice, check_positive
from cvxcnn.vector.network import VectorReluNetwork, vector_objective
from cvxcnn.vector.problem import VectorProblem

#: A block is "rank one" when its second singular value is below this share of the first.
RANK_ONE_RTOL = 1e-6


def sign_patterns(c: int) -> np.ndarray:
    """Every ``sigma`` in ``{-1, +1}^c``, shape (2^c, c)."""
    return np.array(list(itertools.product((1.0, -1.0), repeat=c)))


@dataclass
class RelaxationResult(Result):
    """The nuclear-norm relaxation's solution.

    Attributes
    ----------
    status, success, message : str, bool, str
    value : float
        Relaxed objective at the solution, in float64 (with every cell: the
        lower bound on ``p*`` up to the solver's tolerance); also given for
        ``optimal_inaccurate`` (check ``status``), NaN when the solve failed.
    solver_value : float
    blocks, active_blocks : int
        ``P 2^c`` blocks, and those with a nonzero nuclear norm.
    rank_one : bool
        Every active block is rank one (``s_2 <= RANK_ONE_RTOL s_1``): the
        relaxation is attained by ``network`` (tight).
    max_rank_ratio : float
        Largest ``s_2 / s_1`` over active blocks.
    sign_violation : float
    network_objective : float
        ``P`` of ``network`` (top singular pair of every active block).
    build_seconds : float
    form : {"nuclear", "dnn", "unsigned"}
    solve : SolveInfo
    network : VectorReluNetwork
    blocks_value : ndarray of shape (P, 2^c, d, c)
    """

    status: str
    success: bool
    message: str
    value: float
    solver_value: float
    blocks: int
    active_blocks: int
    rank_one: bool
    max_rank_ratio: float
    sign_violation: float
    network_objective: float
    build_seconds: float
    form: str = "nuclear"
    solve: SolveInfo = omitted(default=None, repr=False)
    network: VectorReluNetwork | None = omitted(default=None, repr=False)
    blocks_value: np.ndarray | None = omitted(default=None, repr=False)

    def _extra(self) -> dict:
        return self.solve.summary()


#: Relaxations :func:`solve_relaxation` builds (``"unsigned"`` is NOT one; kept to show it).
RELAXATION_FORMS = ("nuclear", "dnn", "unsigned")


def _build_nuclear(problem: VectorProblem, masks: np.ndarray, beta: float, signed: bool):
    """Signed nuclear norms; variables ``V[s]`` (d, P c), block ``i`` = columns ``i c:(i+1) c``."""
    Y, X = problem.Y, problem.target
    P, d, c = masks.shape[0], problem.d, problem.channels
    sigmas = sign_patterns(c) if signed else np.ones((1, c))
    M = masks.T.astype(np.float64)  # (n, P)
    M_rep = np.repeat(M, c, axis=1)  # (n, P c): column i c + k is cell i
    E = sp.kron(np.ones((P, 1)), sp.identity(c), format="csr")  # (P c, c): sums the cells
    V = [cp.Variable((d, P * c), name=f"V{j}") for j in range(len(sigmas))]
    outputs, penalty, constraints = 0, 0, []
    for sigma, Vs in zip(sigmas, V, strict=True):
        YV = Y @ Vs
        outputs = outputs + cp.multiply(M_rep, YV) @ E
        signs = (2.0 * M_rep - 1.0) * np.tile(sigma, P)[None, :]
        constraints.append(cp.multiply(signs, YV) >= 0)
        penalty = penalty + sum(cp.normNuc(Vs[:, i * c : (i + 1) * c]) for i in range(P))

    def blocks() -> tuple[np.ndarray, float | None]:
        out = np.zeros((P, len(sigmas), d, c))
        if V[0].value is not None:
            for j, Vs in enumerate(V):
                out[:, j] = np.asarray(Vs.value).reshape(d, P, c).transpose(1, 0, 2)
        return out, None  # penalty: the nuclear norms of the blocks

    return _program(problem, outputs, X, beta, penalty, constraints), blocks, sigmas


def _build_dnn(problem: VectorProblem, masks: np.ndarray, beta: float):
    """Lifted blocks ``Z = [[A, V], [V^T, B]] >= 0`` (PSD) with ``T Z T^T >= 0`` entrywise."""
    Y, X = problem.Y, problem.target
    d, c = problem.d, problem.channels
    sigmas = sign_patterns(c)
    Z, outputs, penalty, constraints = [], 0, 0, []
    for mask in masks:
        S = (2.0 * mask - 1.0)[:, None] * Y  # (n, d)
        for sigma in sigmas:
            z = cp.Variable((d + c, d + c), PSD=True)
            T = sp.block_diag([sp.csr_matrix(S), sp.diags(sigma)], format="csr")
            constraints.append(T @ z @ T.T >= 0)
            outputs = outputs + (mask[:, None] * Y) @ z[:d, d:]
            penalty = penalty + 0.5 * cp.trace(z)
            Z.append(z)

    def blocks() -> tuple[np.ndarray, float | None]:
        out = np.zeros((len(masks), len(sigmas), d, c))
        if Z[0].value is None:
            return out, None
        values = np.array([np.asarray(z.value) for z in Z])  # (P S, d + c, d + c)
        out[:] = values[:, :d, d:].reshape(out.shape)
        return out, 0.5 * float(np.trace(values, axis1=1, axis2=2).sum())

    return _program(problem, outputs, X, beta, penalty, constraints), blocks, sigmas


def _program(problem, outputs, X, beta, penalty, constraints) -> cp.Problem:
    predictions = outputs
    if problem.readout.kind != "identity":
        predictions = problem.readout.matrix @ outputs
    objective = 0.5 * cp.sum_squares(predictions - X) + beta * penalty
    return cp.Problem(cp.Minimize(objective), constraints)


def relaxed_prediction(blocks: np.ndarray, masks: np.ndarray, problem: VectorProblem):
    """``R sum_{i,sigma} D_i Y V_{i,sigma}`` (n_out, c) for ``blocks`` (P, S, d, c)."""
    outputs = np.einsum("pn,nd,psdc->nc", masks.astype(float), problem.Y, blocks)
    return problem.readout.apply(outputs)


def relaxed_objective(
    blocks: np.ndarray,
    masks: np.ndarray,
    problem: VectorProblem,
    beta: float,
    penalty: float | None = None,
) -> float:
    """The relaxed objective in float64 at ``blocks`` (P, S, d, c); constraints not checked.

    ``penalty``: the lifted form's ``sum tr(Z) / 2``; None: the blocks' nuclear norms.
    """
    if penalty is None:
        penalty = float(np.linalg.svd(blocks, compute_uv=False).sum())
    prediction = relaxed_prediction(blocks, masks, problem).ravel()
    return get_loss("squared").value(prediction, problem.target.ravel()) + beta * penalty


def blocks_network(
    blocks: np.ndarray, masks: np.ndarray, Y: np.ndarray, *, rtol: float = 1e-6
) -> tuple[VectorReluNetwork, float]:
    """Neurons from the top singular pair of every active block, and the largest ``s_2 / s_1``.

    ``u = a sqrt(s_1)`` is oriented into its cell's cone (the sign with the
    smaller violation of ``S_i u >= 0``), ``w = b sqrt(s_1)`` with it.
    """
    P, S, d, c = blocks.shape
    flat = blocks.reshape(P * S, d, c)
    A, s, Bt = np.linalg.svd(flat, full_matrices=False)
    top = s[:, 0]
    active = top > rtol * max(float(top.max()), 1e-300)
    ratio = 0.0
    if s.shape[1] > 1 and active.any():
        ratio = float((s[active, 1] / top[active]).max())
    cell = np.repeat(np.arange(P), S)[active]
    u = A[active, :, 0] * np.sqrt(top[active])[:, None]  # (k, d)
    w = Bt[active, 0, :] * np.sqrt(top[active])[:, None]  # (k, c)
    signs = 2.0 * masks[cell].astype(float) - 1.0  # (k, n)
    slack = signs * (u @ Y.T)
    flip = np.minimum(-slack, 0.0).sum(axis=1) > np.minimum(slack, 0.0).sum(axis=1)
    u[flip], w[flip] = -u[flip], -w[flip]
    return VectorReluNetwork(u.T, w), ratio


def solve_relaxation(
    problem: VectorProblem,
    cells: object,
    *,
    beta: float,
    settings: SolverSettings | None = None,
    form: str = "nuclear",
) -> RelaxationResult:
    """Solve the nuclear-norm relaxation over ``cells`` (an SDP; Clarabel by default).

    Parameters
    ----------
    problem : VectorProblem
    cells : PatternSet or ndarray of shape (P, n), bool
        With every cell of the arrangement the optimum is a lower bound on
        the vector optimum; with sampled cells it is not a bound of anything.
    beta : float
    settings : SolverSettings, optional
        ``solver``, ``solver_options``, ``canon_backend``, ``rtol`` are used.
    form : {"nuclear", "dnn", "unsigned"}
        ``"nuclear"``: signed nuclear norms (``P 2^c`` blocks d x c).
        ``"dnn"``: the lifted (doubly nonnegative) form, tighter, with
        ``(n + c)^2`` entrywise rows per block: tiny problems.
        ``"unsigned"`` drops the sign patterns (columns of ``V_i`` in
        ``K_i``): NOT a relaxation in general, kept only to show it.

    Returns
    -------
    RelaxationResult
        Data with a patch or target scale far from 1 is solved normalized
        (:func:`cvxcnn.fitting.normalization`) and mapped back.
    """
    beta = check_positive(beta, "beta")
    s = settings or SolverSettings()
    masks = check_masks(pattern_masks(cells), problem.n)
    a, b = normalization(problem, get_loss("squared"))
    scaled = problem.scaled(a, b)
    start = time.perf_counter()
    check_choice(form, "form", RELAXATION_FORMS)
    if form == "dnn":
        program, extract, sigmas = _build_dnn(scaled, masks, beta / (a * b))
    else:
        program, extract, sigmas = _build_nuclear(
            scaled, masks, beta / (a * b), signed=form == "nuclear"
        )
    build = time.perf_counter() - start
    info = solve_cvxpy(
        program, s.solver, solver_options=s.solver_options, canon_backend=s.canon_backend
    )
    P, S = masks.shape[0], len(sigmas)
    blocks, penalty = extract()
    blocks *= b / a  # V = (b / a) V' and the penalty with it
    penalty = None if penalty is None else penalty * b / a
    solved = info.status in ("optimal", "optimal_inaccurate")
    value = relaxed_objective(blocks, masks, problem, beta, penalty) if solved else np.nan
    network, ratio = blocks_network(blocks, masks, problem.Y, rtol=s.rtol)
    signs = 2.0 * masks.astype(float) - 1.0  # (P, n)
    cone = np.einsum("pn,nd,psdc,sc->psnc", signs, problem.Y, blocks, sigmas)
    active = np.linalg.svd(blocks, compute_uv=False)[..., 0] > 0
    return RelaxationResult(
        status=info.status,
        success=info.success,
        message=info.message,
        value=float(value),
        solver_value=info.solver_objective * b * b,
        blocks=P * S,
        active_blocks=network.n_neurons,
        rank_one=bool(ratio <= RANK_ONE_RTOL),
        max_rank_ratio=ratio,
        sign_violation=float(max(0.0, -cone.min())) if active.any() else 0.0,
        network_objective=vector_objective(network, problem, beta),
        build_seconds=build,
        form=form,
        solve=info,
        network=network,
        blocks_value=blocks,
    )
