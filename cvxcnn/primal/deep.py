"""Unrolled two-layer blocks trained end to end (Sahiner et al. 4.3, Fig. 5b).

:class:`DeepCNN` stacks ``B`` :class:`~cvxcnn.primal.models.TwoLayerCNN`
blocks ("same" padding, stride 1: each maps an image to an image);
:func:`train_deep` minimizes ``P_deep`` (:func:`cvxcnn.deep.deep_objective`:
the squared loss of the last block's output plus ``beta/2`` times every
block's weights squared) with a torch optimizer, full batch, and re-evaluates
the result with the float64 evaluator. Its blocks come back as
:class:`cvxcnn.deep.Block` objects, so the deep network can be compared with
a greedy one (:func:`cvxcnn.deep.fit_greedy`) and explained block by block
(:func:`cvxcnn.interpret.explain`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cvxcnn.deep import Block, deep_objective
from cvxcnn.patches import as_batch
from cvxcnn.primal.models import TwoLayerCNN
from cvxcnn.primal.trainer import (
    DTYPES,
    TrainingDivergedError,
    make_optimizer,
    resolve_device,
    torch_threads,
)
from cvxcnn.problem import ProblemSpec, make_problem
from cvxcnn.results import Result, omitted
from cvxcnn.validation import check_positive, check_positive_int


class DeepCNN(nn.Module):
    """``B`` two-layer blocks applied in order (unrolled iterations).

    Parameters
    ----------
    blocks : list of TwoLayerCNN
        ReLU blocks with the identity readout whose output grid equals their
        input grid (stride 1, "same" padding), single channel.
    """

    def __init__(self, blocks: list[TwoLayerCNN]) -> None:
        super().__init__()
        for blk in blocks:
            g = blk.geometry
            if blk.readout != "identity" or g.in_channels != 1 or g.output_shape != g.input_shape:
                raise ValueError(
                    "every block must map a single-channel image to one of the same shape "
                    "(identity readout, stride 1, padding 'same')"
                )
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x_B`` of shape (N, *spatial) for inputs (N, *spatial)."""
        for blk in self.blocks:
            x = blk(x)
        return x

    def penalty(self) -> torch.Tensor:
        """``1/2 sum_b sum_j (||u_bj||^2 + v_bj^2)``, 0-d."""
        return sum(blk.penalty() for blk in self.blocks)

    def to_blocks(self, spec: ProblemSpec) -> list[Block]:
        """The blocks as float64 :class:`Block` objects (each with ``spec``)."""
        return [Block(blk.to_network(), spec) for blk in self.blocks]


@dataclass
class DeepTrainResult(Result):
    """Outcome of :func:`train_deep`.

    Attributes
    ----------
    blocks : list of Block
    final_objective : float
        ``P_deep`` re-evaluated in float64 (:func:`cvxcnn.deep.deep_objective`).
    objectives : ndarray
        Full-batch ``P_deep`` at each step (before it; the trainer's dtype).
    seconds : float
    settings : dict
    """

    blocks: list = omitted(repr=False)
    final_objective: float
    objectives: np.ndarray = omitted(repr=False)
    seconds: float
    settings: dict

    def _extra(self) -> dict:
        return {"neurons": [b.network.n_neurons for b in self.blocks]}


def _model(spec, geometry, neurons, init_blocks, generator, dtype, device) -> DeepCNN:
    blocks = []
    for b, count in enumerate(neurons):
        blk = TwoLayerCNN(geometry, count, residual=spec.residual, dtype=dtype, device=device)
        if init_blocks is not None:
            blk.set_weights_(init_blocks[b].network.U, init_blocks[b].network.v)
        else:
            blk.reset_parameters_("kaiming_uniform", generator=generator)
        blocks.append(blk)
    return DeepCNN(blocks)


def _run(model: DeepCNN, X, T, beta: float, opt, epochs: int, verbose: bool) -> list[float]:
    """Full-batch steps on ``P_deep``; the objective before each step."""

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = 0.5 * (model(X) - T).square().sum() + beta * model.penalty()
        value.backward()
        return value

    curve = []
    for epoch in tqdm(range(epochs), disable=not verbose, desc="train deep", unit="epoch"):
        value = float(opt.step(closure).detach())
        if not np.isfinite(value):
            raise TrainingDivergedError(
                f"the objective became {value} at epoch {epoch}; lower the learning rate"
            )
        curve.append(value)
    return curve


def train_deep(
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    n_blocks: int = 2,
    kernel_size: int = 3,
    neurons: int = 256,
    beta: float = 1e-3,
    residual: bool = False,
    optimizer: str = "adam",
    lr: float = 1e-3,
    epochs: int = 1000,
    init_blocks: list[Block] | None = None,
    seed: int = 0,
    dtype: str = "float64",
    device: str = "cpu",
    threads: int | None = 1,
    verbose: bool = True,
) -> DeepTrainResult:
    """Train ``n_blocks`` unrolled two-layer blocks end to end on ``P_deep``.

    Parameters
    ----------
    noisy, clean : ndarray of shape (N, *spatial)
    n_blocks, kernel_size, neurons, beta, residual
        The architecture and objective (each block ``neurons`` filters).
    optimizer, lr, epochs
        :func:`cvxcnn.primal.make_optimizer` (full batch).
    init_blocks : list of Block, optional
        Start from these weights (e.g. a greedy network) instead of Kaiming.
    seed, dtype, device, threads, verbose

    Returns
    -------
    DeepTrainResult

    Raises
    ------
    TrainingDivergedError
        The objective became NaN or infinite.
    """
    beta = check_positive(beta, "beta")
    n_blocks = check_positive_int(n_blocks, "n_blocks")
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    problem = make_problem(noisy, clean, kernel_size=kernel_size, residual=residual)
    spec = ProblemSpec.from_problem(problem, activation="relu", beta=beta)
    if init_blocks is not None and len(init_blocks) != n_blocks:
        raise ValueError(f"init_blocks has {len(init_blocks)} blocks; n_blocks is {n_blocks}")
    counts = [b.network.n_neurons for b in init_blocks] if init_blocks else [neurons] * n_blocks
    torch_dtype, dev = DTYPES[dtype], resolve_device(device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    start = time.perf_counter()
    with torch_threads(threads):
        model = _model(spec, problem.geometry, counts, init_blocks, generator, torch_dtype, dev)
        X = torch.as_tensor(as_batch(noisy, problem.geometry.spatial_dims), dtype=torch_dtype)
        shape = (X.shape[0], *problem.geometry.output_shape)
        T = torch.as_tensor(np.asarray(clean), dtype=torch_dtype).reshape(shape)
        X, T = X.to(dev), T.to(dev)
        opt = make_optimizer(optimizer, list(model.parameters()), lr)
        curve = _run(model, X, T, beta, opt, epochs, verbose)
        blocks = model.to_blocks(spec)
    settings = {"n_blocks": n_blocks, "kernel_size": kernel_size, "neurons": counts}
    settings |= {"beta": beta, "residual": residual, "optimizer": optimizer, "lr": lr}
    settings |= {"epochs": epochs, "seed": seed, "dtype": dtype, "device": str(dev)}
    settings["init"] = "blocks" if init_blocks is not None else "kaiming_uniform"
    return DeepTrainResult(
        blocks=blocks,
        final_objective=deep_objective(blocks, noisy, clean, beta),
        objectives=np.asarray(curve),
        seconds=time.perf_counter() - start,
        settings=settings,
    )
