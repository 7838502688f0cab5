"""Deeper denoisers from two-layer blocks: greedy layer-wise convex training (Sahiner 4.3).

A *block* is a two-layer ReLU CNN (conv -> ReLU -> 1x1 conv, "same" padding,
stride 1, so its output image has the input's shape). A deep network applies
blocks one after another: ``x_0 = noisy``, ``x_b = block_b(x_{b-1})``, the
prediction is ``x_B``. Its objective (the same convention as
:func:`cvxcnn.networks.primal_objective`) is

    P_deep = L(x_B, clean) + beta/2 * sum_b sum_j (||u_bj||^2 + v_bj^2),

evaluated in float64 by :func:`deep_objective` for greedy and end-to-end
networks alike (:mod:`cvxcnn.primal.deep` trains it end to end).

:func:`fit_greedy` trains block 1 by the convex program on (noisy, clean),
feeds its output image to block 2, which the convex program fits to the same
clean targets, and so on. Each block is certified (or estimated, on sampled
cells) on ITS OWN sub-problem: the bound says how far block b is from the
best two-layer network on input ``x_{b-1}``. Nothing here bounds the deep
network's objective from below: the deep problem is not convex and no
certificate covers it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from cvxcnn.cells import make_cells
from cvxcnn.certificates import Certificate, certify
from cvxcnn.estimator import ConvexReLUCNN
from cvxcnn.losses import Loss, get_loss
from cvxcnn.networks import ReluNetwork, predict, primal_objective
from cvxcnn.problem import PatchProblem, ProblemSpec, predictions_to_images
from cvxcnn.results import ConvexFitResult, Result, omitted
from cvxcnn.validation import check_positive, check_positive_int


@dataclass(frozen=True)
class Block:
    """One two-layer block: a ReLU network and the problem geometry it applies with.

    Attributes
    ----------
    network : ReluNetwork
    spec : ProblemSpec
        Kernel, padding, bias, residual (its output must have the input's shape).
    """

    network: ReluNetwork
    spec: ProblemSpec

    def problem(self, inputs: np.ndarray, targets: np.ndarray | None = None) -> PatchProblem:
        """The block's patch problem on ``inputs`` (targets default to the inputs)."""
        return self.spec.build_problem(inputs, inputs if targets is None else targets)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The block's output images, shape of ``images`` (N, *spatial)."""
        problem = self.problem(images)
        values = predict(self.network, problem)
        if problem.offset is not None:
            values = values + problem.offset
        out = predictions_to_images(values, problem)
        if out.shape != images.shape:
            raise ValueError(
                f"a block must map images {images.shape} to the same shape; got {out.shape} "
                "(use stride 1 and padding 'same')"
            )
        return out


def deep_predict(blocks: list[Block], images: np.ndarray) -> np.ndarray:
    """``x_B``: the blocks applied in order to ``images`` (N, *spatial)."""
    x = np.asarray(images, dtype=np.float64)
    for block in blocks:
        x = block(x)
    return x


def deep_objective(
    blocks: list[Block],
    noisy: np.ndarray,
    clean: np.ndarray,
    beta: float,
    loss: str | Loss = "squared",
) -> float:
    """``P_deep`` of the module docstring, float64, through :func:`primal_objective`.

    The last block is scored by the one evaluator on its own problem (input
    ``x_{B-1}``, target ``clean``); the earlier blocks add their penalties.
    """
    beta = check_positive(beta, "beta")
    if not blocks:
        raise ValueError("blocks must hold at least one Block")
    x = deep_predict(blocks[:-1], noisy)
    last = blocks[-1]
    value = primal_objective(last.network, last.problem(x, clean), beta, get_loss(loss))
    return value + beta * sum(b.network.penalty() for b in blocks[:-1])


@dataclass
class GreedyResult(Result):
    """Greedy layer-wise convex training (:func:`fit_greedy`).

    Attributes
    ----------
    blocks : list of Block
    fits : list of ConvexFitResult
        Each block's convex solve on its own sub-problem.
    certificates : list of Certificate
        Each block's bound on its own sub-problem (``certified`` only over an
        exact cell set; with sampled cells an estimate, and it says so).
    block_objectives : list of float
        ``P`` of block b on its sub-problem (input ``x_{b-1}``, target clean).
    deep_objectives : list of float
        ``P_deep`` of the first b blocks (b = 1..B): the deep network's
        objective, which no certificate covers.
    beta : float
    """

    blocks: list = omitted(repr=False)
    fits: list
    certificates: list
    block_objectives: list
    deep_objectives: list
    beta: float

    def _extra(self) -> dict:
        return {
            "neurons": [b.network.n_neurons for b in self.blocks],
            "certified": [c.certificate for c in self.certificates],
            "what_is_certified": "each block on its own sub-problem; not the deep network",
        }


def fit_greedy(
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    n_blocks: int = 2,
    kernel_size: int = 3,
    beta: float = 1e-3,
    patterns: int | str = 500,
    certify_cells: int | str = 2000,
    data_directed: float = 0.1,
    residual: bool = False,
    random_state: int = 0,
    progress: bool = True,
    **fit_options: object,
) -> GreedyResult:
    """Blocks fitted one after another by the convex program, each certified on its own.

    Parameters
    ----------
    noisy, clean : ndarray of shape (N, *spatial)
        Single-channel inputs and targets.
    n_blocks : int
    kernel_size : int
    beta : float
    patterns : int or "exact"
        Cells of each block's program (:class:`cvxcnn.estimator.ConvexReLUCNN`).
    certify_cells : int or "exact"
        Cells the oracle of each block's certificate searches (sampled cells,
        plus the program's own: an ESTIMATE; "exact": a certificate).
    data_directed : float
    residual : bool
        Each block learns ``clean - its input`` (Cor. 1.1).
    random_state : int
        Block b uses ``random_state + b`` (programs) and ``+ 1000`` (oracle).
    progress : bool
    **fit_options
        Passed to :class:`ConvexReLUCNN` (solver, solver_options, facets...).

    Returns
    -------
    GreedyResult
    """
    n_blocks = check_positive_int(n_blocks, "n_blocks")
    blocks: list[Block] = []
    fits: list[ConvexFitResult] = []
    certs: list[Certificate] = []
    objectives: list[float] = []
    deep: list[float] = []
    x = np.asarray(noisy, dtype=np.float64)
    for b in tqdm(range(n_blocks), disable=not progress, desc="greedy blocks"):
        model = ConvexReLUCNN(
            kernel_size,
            beta=beta,
            patterns=patterns,
            data_directed=data_directed,
            residual=residual,
            random_state=random_state + b,
            **fit_options,
        )
        model.fit(x, clean)
        problem, res = model.problem_, model.result_
        cells = make_cells(
            problem.Y, certify_cells, data_directed=data_directed, random_state=random_state + 1000
        )
        if not getattr(cells, "exact", False):
            cells = cells.union(model.patterns_)
        certs.append(certify(res.network, problem, cells, beta=beta, loss=model.loss))
        spec = ProblemSpec.from_problem(problem, activation="relu", beta=beta, loss=model.loss)
        blocks.append(Block(res.network, spec))
        fits.append(res)
        objectives.append(primal_objective(res.network, problem, beta, model.loss))
        deep.append(deep_objective(blocks, noisy, clean, beta, model.loss))
        x = blocks[-1](x)
    return GreedyResult(blocks, fits, certs, objectives, deep, float(beta))
