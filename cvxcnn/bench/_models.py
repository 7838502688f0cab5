"""Helpers shared by the benchmarks: data, pattern sampling, prediction, primal training."""

from __future__ import annotations

import math
import time

import numpy as np

from cvxcnn.arrangements import PatternSet, sample_relu_patterns
from cvxcnn.bench._common import finite_or_none, relative_excess
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
    residual: bool = False,
    activation: str = "relu",
    threshold: float = 0.1,
    target: float | None = None,
    rtol: float = 1e-3,
    stop_at_target: bool = False,
) -> tuple[dict, object | None]:
    """Train the PyTorch primal network (float64, CPU, one thread); never raises on divergence.

    Parameters
    ----------
    noisy, clean : ndarray
    kernel_size, beta, neurons, optimizer, lr, epochs, init, init_std, seed,
    residual, activation, threshold, target, rtol, stop_at_target
        As for :func:`cvxcnn.primal.train_primal`.

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
            residual=residual,
            activation=activation,
            threshold=threshold,
            target=target,
            rtol=rtol,
            stop_at_target=stop_at_target,
            dtype="float64",
            device="cpu",
            threads=1,
            verbose=False,
        )
    except TrainingDivergedError as exc:
        row.update(
            status="diverged",
            message=str(exc),
            final_objective=None,
            train_seconds=time.perf_counter() - start,
            epochs_run=None,
            reached_target=False if target is not None else None,
            epochs_to_target=None,
            seconds_to_target=None,
            relative_excess=None,
        )
        return row, None
    final = finite_or_none(result.final_objective)
    row.update(
        status="ok" if final is not None else "diverged",
        final_objective=final,
        train_seconds=float(result.seconds[-1]),
        epochs_run=result.epochs_run,
        reached_target=result.reached_target,
        epochs_to_target=result.epochs_to_target,
        seconds_to_target=finite_or_none(result.seconds_to_target),
        relative_excess=relative_excess(final, target),
    )
    return row, result.network


def problem_for(
    noisy: np.ndarray, clean: np.ndarray, kernel_size: int, residual: bool = False
) -> PatchProblem:
    """``make_problem`` with "same" padding and the identity readout."""
    return make_problem(noisy, clean, kernel_size=kernel_size, residual=residual)


def safe_log10(x: float | None) -> float:
    """``log10(x)`` or NaN."""
    return math.log10(x) if x is not None and x > 0 else float("nan")
