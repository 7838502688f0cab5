"""What several benchmarks compute: problems, pattern samples, certified optima, PSNR, training."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from cvxcnn.arrangements import PatternSet, sample_relu_patterns
from cvxcnn.bench.report import finite_or_none, relative_excess
from cvxcnn.bench.runner import PrimalSettings
from cvxcnn.problem import PatchProblem, make_problem


def sample_exactly(
    Y: np.ndarray, n_patterns: int, seed: int, *, max_draws: int = 2**20
) -> PatternSet:
    """``n_patterns`` distinct Gaussian-sampled sign patterns (fewer only if unreachable).

    Draws ``k = n_patterns, 2 n_patterns, ...`` Gaussian generators (seeded)
    until ``k`` generators give at least ``n_patterns`` distinct patterns, then
    keeps the first ``n_patterns`` of them, so the program size is exactly
    what the sweep asks for.

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    n_patterns : int
    seed : int
    max_draws : int
        Stop doubling past this many generators (a small arrangement has few cells).

    Returns
    -------
    PatternSet
        ``exact=False``.
    """
    k = n_patterns
    while True:
        patterns = sample_relu_patterns(Y, k, random_state=seed)
        if len(patterns) >= n_patterns or k >= max_draws:
            break
        k *= 2
    if len(patterns) > n_patterns:
        patterns = patterns.subset(np.arange(n_patterns))
    return patterns


def denoise(
    network: object,
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    kernel_size: int,
    residual: bool = False,
) -> np.ndarray:
    """Apply a two-layer network (ReLU or soft-threshold) to whole images.

    Parameters
    ----------
    network : object with ``output(Y)``
        ``ReluNetwork``, ``STNetwork`` or ``SoftThresholdNetwork``.
    noisy, clean : ndarray
        Inputs and (for the problem's shape only) targets.
    kernel_size : int
    residual : bool
        Add the input's centre pixel back (residual networks).

    Returns
    -------
    ndarray
        Denoised images, same shape as ``clean``.
    """
    problem = make_problem(noisy, clean, kernel_size=kernel_size, residual=residual)
    values = network.output(problem.Y)
    if problem.offset is not None:
        values = values + problem.offset
    return values.reshape(clean.shape)


def as_st_network(network: object) -> object:
    """A PyTorch ``SoftThresholdNetwork`` as the ``STNetwork`` the ST bracket accepts."""
    from cvxcnn.soft_threshold import STNetwork

    if isinstance(network, STNetwork):
        return network
    return STNetwork(U=network.U, thresholds=network.t, v=network.v)


def train(
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    kernel_size: int,
    beta: float,
    neurons: int,
    optimizer: str = "adam",
    lr: float = 1e-2,
    epochs: int = 2000,
    init: str = "kaiming_uniform",
    init_std: float = 1e-3,
    seed: int = 0,
    target: float | None = None,
    stop_at_target: bool = False,
    **options: object,
) -> tuple[dict, object | None]:
    """Train the PyTorch primal network (float64, CPU, one thread); never raises on divergence.

    Parameters
    ----------
    noisy, clean : ndarray of shape (N, *image)
    kernel_size, beta, neurons, optimizer, lr, epochs, init, init_std, seed, target
        As for :func:`cvxcnn.primal.train_primal`.
    stop_at_target : bool
        Stop once within ``rtol`` of ``target`` (off by default, unlike ``train_primal``).
    **options
        More keywords of :func:`cvxcnn.primal.train_primal` (``residual``,
        ``activation``, ``threshold``, ``rtol``).

    Returns
    -------
    (row, network) : tuple of dict and network or None
        ``row`` holds ``final_objective``, ``train_seconds``, ``epochs_run``,
        ``reached_target``, ``epochs_to_target``, ``seconds_to_target``,
        ``relative_excess`` (over ``target``) and ``status``
        (``"ok"`` / ``"diverged"``); ``network`` is None when it diverged.
    """
    from cvxcnn.primal import TrainingDivergedError, train_primal

    row: dict = {
        "optimizer": optimizer,
        "lr": lr,
        "init": init if init != "normal" else f"normal({init_std:g})",
        "neurons": neurons,
        "epochs": epochs,
        "seed": seed,
    }
    start = time.perf_counter()
    try:
        result = train_primal(
            noisy,
            clean,
            kernel_size=kernel_size,
            beta=beta,
            neurons=neurons,
            optimizer=optimizer,
            lr=lr,
            epochs=epochs,
            init=init,
            init_std=init_std,
            seed=seed,
            target=target,
            stop_at_target=stop_at_target,
            **options,
            dtype="float64",
            device="cpu",
            threads=1,
            verbose=False,
        )
    except TrainingDivergedError as exc:
        row.update(status="diverged", message=str(exc), final_objective=None)
        row.update(train_seconds=time.perf_counter() - start, epochs_run=None)
        row.update(reached_target=False if target is not None else None, epochs_to_target=None)
        row.update(seconds_to_target=None, relative_excess=None)
        return row, None
    row.update(_result_columns(result, target))
    return row, result.network


def _result_columns(result: object, target: float | None) -> dict:
    final = finite_or_none(result.final_objective)
    return {
        "status": "ok" if final is not None else "diverged",
        "final_objective": final,
        "train_seconds": float(result.seconds[-1]),
        "epochs_run": result.epochs_run,
        "reached_target": result.reached_target,
        "epochs_to_target": result.epochs_to_target,
        "seconds_to_target": finite_or_none(result.seconds_to_target),
        "relative_excess": relative_excess(final, target),
    }


def train_with(
    primal: PrimalSettings,
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    kernel_size: int,
    beta: float,
    seed: int,
    **options: object,
) -> tuple[dict, object | None]:
    """:func:`train` with a benchmark's primal baseline (``neurons``, ``epochs``, ``lr``).

    Parameters
    ----------
    primal : PrimalSettings
        Usually the config's ``primal`` field.
    noisy, clean : ndarray of shape (N, *image)
    kernel_size : int
    beta : float
    seed : int
    **options
        More keywords of :func:`train`; they win over ``primal``'s (a
        sweep's own ``lr`` per optimizer).

    Returns
    -------
    (row, network)
        As :func:`train`.
    """
    settings = {**asdict(primal), **options}
    return train(noisy, clean, kernel_size=kernel_size, beta=beta, seed=seed, **settings)


def problem_for(
    noisy: np.ndarray, clean: np.ndarray, kernel_size: int, residual: bool = False
) -> PatchProblem:
    """``make_problem`` with "same" padding and the identity readout."""
    return make_problem(noisy, clean, kernel_size=kernel_size, residual=residual)


def psnr_of(
    network: object,
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    kernel_size: int,
    residual: bool = False,
) -> float:
    """PSNR (dB, data range 1) of ``network`` applied to ``noisy`` against ``clean``.

    Parameters
    ----------
    network : object with ``output(Y)``
    noisy, clean : ndarray of shape (N, *image)
    kernel_size : int
    residual : bool

    Returns
    -------
    float
    """
    from cvxcnn.metrics import psnr

    est = denoise(network, noisy, clean, kernel_size=kernel_size, residual=residual)
    return psnr(est, clean, data_range=1.0)


@dataclass(frozen=True)
class CertifiedOptimum:
    """The global optimum of a small ReLU problem by column generation over every cell.

    Attributes
    ----------
    value : float
        The optimum found (an upper bound; the optimum itself when ``certified``).
    lower : float
        The dual certificate's lower bound.
    certified : bool
        Whether the certificate holds and column generation converged.
    rel_gap : float
    cells : PatternSet
        Every cell of the arrangement (the exact oracle's).
    patterns_used : int
    neurons : int
    network : ReluNetwork
    seconds : float
        Enumeration and column generation.
    """

    value: float
    lower: float
    certified: bool
    rel_gap: float
    cells: PatternSet
    patterns_used: int
    neurons: int
    network: object
    seconds: float

    def reference(self, *, patterns_used: bool = True) -> dict:
        """``cells``, ``p_star`` (and its lower bound, kind, gap), patterns, neurons, seconds."""
        row = {
            "cells": len(self.cells),
            "p_star": self.value,
            "p_star_lower": self.lower,
            "p_star_kind": "certified" if self.certified else "not certified",
            "p_star_rel_gap": self.rel_gap,
            "colgen_patterns": self.patterns_used,
            "neurons": self.neurons,
            "colgen_seconds": self.seconds,
        }
        if not patterns_used:
            del row["colgen_patterns"]
        return row

    @staticmethod
    def columns(*, lower: bool = True, patterns_used: bool = True) -> list[tuple[str, str]]:
        """The ``(key, header)`` table columns of :meth:`reference`'s entries, in order."""
        columns = [
            ("cells", "cells"),
            ("p_star", "p* (certified)"),
            ("p_star_lower", "certified lower"),
            ("p_star_rel_gap", "rel. gap"),
            ("p_star_kind", "kind"),
            ("colgen_patterns", "patterns used"),
            ("neurons", "neurons"),
            ("colgen_seconds", "s"),
        ]
        dropped = {"p_star_lower"} if not lower else set()
        dropped |= {"colgen_patterns"} if not patterns_used else set()
        return [column for column in columns if column[0] not in dropped]


def certified_optimum(problem: PatchProblem, beta: float, random_state: int) -> CertifiedOptimum:
    """Enumerate every cell of ``problem.Y`` and solve by column generation (40 per round).

    Parameters
    ----------
    problem : PatchProblem
        With ``Y`` of shape (n, d) small enough to enumerate (1-D, kernel 3).
    beta : float
    random_state : int
        Seeds column generation.

    Returns
    -------
    CertifiedOptimum
    """
    from cvxcnn.arrangements import enumerate_relu_patterns
    from cvxcnn.colgen import solve_colgen

    start = time.perf_counter()
    cells = enumerate_relu_patterns(problem.Y)
    cg = solve_colgen(problem, cells, beta=beta, add_per_iteration=40, random_state=random_state)
    seconds = time.perf_counter() - start
    cert = cg.certificate
    return CertifiedOptimum(
        value=cert.upper_bound,
        lower=cert.lower_bound,
        certified=bool(cert.certified and cg.converged),
        rel_gap=cert.relative_gap,
        cells=cells,
        patterns_used=cg.patterns_used,
        neurons=cg.fit.neurons,
        network=cg.fit.network,
        seconds=seconds,
    )
