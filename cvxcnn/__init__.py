"""cvxcnn: two-layer convolutional networks trained to certified global optimality.

The pipeline, for ReLU and soft-threshold networks alike::

    data -> problem (Y, R, x) -> cells -> convex program -> network -> certificate

    from cvxcnn import load_digits, make_problem, make_cells, fit, certify
    data = load_digits(2, noise=0.25, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3)
    cells = make_cells(problem.Y, 300, activation="relu")     # or "exact"
    result = fit(problem, cells, beta=1e-3)                   # ConvexFitResult
    cert = certify(result.network, problem, cells, beta=1e-3)  # Certificate

Everything a user needs is importable from here; the submodules hold the
pieces (see ``docs/architecture.md``).
"""

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import PatternSet, enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.bracket import Bracket, fixed_threshold_bracket
from cvxcnn.cells import make_cells
from cvxcnn.certificates import Certificate, certify
from cvxcnn.colgen import ColgenResult, solve_colgen
from cvxcnn.data import DenoisingData, load_dataset, load_digits, synthetic_1d
from cvxcnn.estimator import ConvexCNN, ConvexReLUCNN
from cvxcnn.fitting import fit, fit_st
from cvxcnn.metrics import psnr
from cvxcnn.mip_oracle import MipArrangement, mip_arrangement
from cvxcnn.network_io import LoadedNetwork, load_network, save_network
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.path import PathResult, solve_path
from cvxcnn.problem import PatchProblem, ProblemSpec, make_problem
from cvxcnn.results import ConvexFitResult
from cvxcnn.soft_threshold import STNetwork, TripleSet, enumerate_st_triples, sample_st_triples
from cvxcnn.vector import VectorFitResult, VectorReluNetwork, fit_vector

__version__ = "0.1.0"

__all__ = [
    "Bracket",
    "Certificate",
    "ColgenResult",
    "ConvexCNN",
    "ConvexFitResult",
    "ConvexReLUCNN",
    "DenoisingData",
    "LoadedNetwork",
    "MipArrangement",
    "PatchProblem",
    "PathResult",
    "PatternSet",
    "ProblemSpec",
    "ReluNetwork",
    "STNetwork",
    "TripleSet",
    "VectorFitResult",
    "VectorReluNetwork",
    "__version__",
    "certify",
    "enumerate_relu_patterns",
    "enumerate_st_triples",
    "fit",
    "fit_st",
    "fit_vector",
    "fixed_threshold_bracket",
    "get_activation",
    "load_dataset",
    "load_digits",
    "load_network",
    "make_cells",
    "make_problem",
    "mip_arrangement",
    "primal_objective",
    "psnr",
    "sample_relu_patterns",
    "sample_st_triples",
    "save_network",
    "solve_colgen",
    "solve_path",
    "synthetic_1d",
]
