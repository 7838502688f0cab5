"""A scikit-learn style estimator around the exact convex program, for any activation."""

from __future__ import annotations

import time

import numpy as np

from cvxcnn.cells import DEFAULT_MAX_CELLS, make_cells
from cvxcnn.fitting import fit
from cvxcnn.losses import Loss
from cvxcnn.networks import predict as network_predict
from cvxcnn.networks import primal_objective
from cvxcnn.patches import as_batch, infer_spatial_dims
from cvxcnn.problem import PROBLEM_OPTIONS, PatchProblem, make_problem, predictions_to_images
from cvxcnn.results import ConvexFitResult

#: Which parameters reach which step of ``ConvexCNN.fit`` (``spatial_dims`` is ``fit``'s own).
_GEOMETRY = tuple(name for name in PROBLEM_OPTIONS if name != "spatial_dims")
_CELL_OPTIONS = ("activation", "data_directed", "random_state", "max_cells")
_FIT_OPTIONS = ("beta", "loss", "solver", "solver_options", "facets", "backend", "n_jobs")


class ConvexCNN:
    """Two-layer CNN (ReLU or soft threshold) fitted by its exact convex reformulation.

    ``fit`` builds the patch matrix, gets cells (sampled, or every cell with
    ``patterns="exact"``), solves the convex program (ReLU: Sahiner et al.'s
    eq. 4; soft threshold: program 6a with learnable thresholds) and
    reconstructs the network; ``predict`` runs that network as a convolution.

    Parameters
    ----------
    kernel_size : int or tuple of int
    activation : {"relu", "soft_threshold"}
    beta : float
        Weight decay of ``P(U, v)``, > 0.
    patterns : int, "exact", PatternSet, TripleSet or ndarray of shape (P, n)
        Number of seeded samples (deduplicated), every cell (``"exact"``,
        global optimum), or a given cell set for the training patches.
    data_directed : float
        Fraction of sampled generators taken from the data (patches and patch
        differences), which reach small cells that Gaussian sampling misses.
    loss : str or Loss
    residual : bool
        Learn ``target - input`` (Sahiner et al. Cor. 1.1).
    bias : bool
        First-layer bias (a column of ones in the patch matrix).
    stride, padding
        Convolution geometry (see :func:`cvxcnn.patches.extract_patches`).
    readout : {"identity", "sum", "mean"}
        Per-pixel outputs, or one scalar per image (average-pooling CNN).
    solver : str
        Any installed CVXPY solver (default Clarabel).
    solver_options : dict, optional
    max_cells : int
        Refuse exact enumeration when the count bound exceeds this.
    random_state : int, Generator or None
        Seeds the pattern sampling.
    facets : {"auto", "off", "adjacency", "hull", "lp"}
        Facet reduction of the cone rows (see :func:`cvxcnn.fitting.fit`);
        the optimum is that of the full program either way.
    backend : {"cvxpy", "direct"}
        Build with CVXPY (default) or Clarabel's standard form directly.
    n_jobs : int or None
        Processes for the facet reduction (None: 1; -1: every CPU).

    Attributes
    ----------
    problem_ : PatchProblem
    patterns_ : PatternSet or TripleSet
    result_ : ConvexFitResult
    network_ : ReluNetwork or STNetwork
    pattern_seconds_ : float
        Time spent sampling or enumerating patterns.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, ...] = 3,
        *,
        activation: str = "relu",
        beta: float = 1e-3,
        patterns: int | str | object = 500,
        data_directed: float = 0.0,
        loss: str | Loss = "squared",
        residual: bool = False,
        bias: bool = False,
        stride: int | tuple[int, ...] = 1,
        padding: str | int | tuple[int, ...] = "same",
        readout: str = "identity",
        solver: str = "clarabel",
        solver_options: dict | None = None,
        max_cells: int = DEFAULT_MAX_CELLS,
        random_state: int | np.random.Generator | None = 0,
        facets: str = "auto",
        backend: str = "cvxpy",
        n_jobs: int | None = None,
    ) -> None:
        self.kernel_size = kernel_size
        self.activation = activation
        self.beta = beta
        self.patterns = patterns
        self.data_directed = data_directed
        self.loss = loss
        self.residual = residual
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.readout = readout
        self.solver = solver
        self.solver_options = solver_options
        self.max_cells = max_cells
        self.random_state = random_state
        self.facets = facets
        self.backend = backend
        self.n_jobs = n_jobs

    def _options(self, names: tuple[str, ...]) -> dict:
        """The estimator's parameters ``names``, as keyword arguments."""
        return {name: getattr(self, name) for name in names}

    def _make_problem(self, X: np.ndarray, y: np.ndarray, spatial_dims: int | None):
        return make_problem(X, y, spatial_dims=spatial_dims, **self._options(_GEOMETRY))

    def fit(self, X: np.ndarray, y: np.ndarray, *, spatial_dims: int | None = None):
        """Fit to inputs ``X`` and targets ``y``.

        Parameters
        ----------
        X : ndarray
            ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)`` noisy inputs.
        y : ndarray
            Clean single-channel images ``(N, *spatial)`` (identity readout)
            or one scalar per image ``(N,)`` (``sum``/``mean`` readout).
        spatial_dims : {1, 2}, optional
            Needed only for multi-channel 1-D inputs ``(N, C, L)``.

        Returns
        -------
        self
        """
        self.spatial_dims_ = spatial_dims
        self.problem_ = self._make_problem(X, y, spatial_dims)
        start = time.perf_counter()
        cell_options = self._options(_CELL_OPTIONS)
        self.patterns_ = make_cells(self.problem_.Y, self.patterns, **cell_options)
        self.pattern_seconds_ = time.perf_counter() - start
        fit_options = self._options(_FIT_OPTIONS)
        self.result_: ConvexFitResult = fit(self.problem_, self.patterns_, **fit_options)
        if self.result_.network is None:
            raise RuntimeError(f"the convex solve failed: {self.result_.message}")
        self.network_ = self.result_.network
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise RuntimeError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) first"
            )

    def _problem_for(self, X: np.ndarray, y: np.ndarray | None) -> PatchProblem:
        if y is None:  # prediction needs no targets: zeros of the right shape
            dims = self.spatial_dims_ or infer_spatial_dims(X)
            batch = as_batch(X, dims, "X")
            shape = (batch.shape[0],) if self.readout != "identity" else batch[:, 0].shape
            y = np.zeros(shape)
        return self._make_problem(X, y, self.spatial_dims_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network predictions for new inputs.

        Returns
        -------
        ndarray
            ``(N, *output_shape)`` for the identity readout, ``(N,)`` otherwise.
        """
        self._check_fitted()
        problem = self._problem_for(X, None)
        values = network_predict(self.network_, problem)
        if problem.offset is not None:
            values = values + problem.offset
        return predictions_to_images(values, problem)

    def objective(self, X: np.ndarray, y: np.ndarray) -> float:
        """``P(U, v)`` of the fitted network on ``(X, y)`` (float64 evaluator)."""
        self._check_fitted()
        return primal_objective(self.network_, self._problem_for(X, y), self.beta, self.loss)


class ConvexReLUCNN(ConvexCNN):
    """:class:`ConvexCNN` with the ReLU activation (same parameters, no ``activation``)."""

    def __init__(self, kernel_size: int | tuple[int, ...] = 3, **params: object) -> None:
        if "activation" in params:
            raise TypeError("ConvexReLUCNN is ReLU only; use ConvexCNN(activation=...)")
        super().__init__(kernel_size, activation="relu", **params)
