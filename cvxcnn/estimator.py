"""A scikit-learn style estimator around the ReLU convex program."""

from __future__ import annotations

import numbers
import time

import numpy as np

from cvxcnn.arrangements import PatternSet, enumerate_relu_patterns, sample_relu_patterns
from cvxcnn.fit import ConvexFitResult, fit_relu
from cvxcnn.losses import Loss
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.networks import predict as network_predict
from cvxcnn.patches import as_batch, infer_spatial_dims
from cvxcnn.problem import PatchProblem, make_problem, predictions_to_images


class ConvexReLUCNN:
    """Two-layer ReLU CNN fitted by its exact convex reformulation.

    ``fit`` builds the patch matrix, gets sign patterns (sampled, or every
    cell with ``patterns="exact"``), solves Sahiner et al.'s eq. 4 program and
    reconstructs the network; ``predict`` runs that network as a convolution.

    Parameters
    ----------
    kernel_size : int or tuple of int
    beta : float
        Weight decay of ``P(U, v)``, > 0.
    patterns : int, "exact", PatternSet or ndarray of shape (P, n)
        Number of Gaussian samples (deduplicated), every cell (``"exact"``,
        global optimum), or a given pattern set for the training patches.
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
        Facet reduction of the sign rows (see :func:`cvxcnn.fit.fit_relu`);
        the optimum is that of the full program either way.
    backend : {"cvxpy", "direct"}
        Build with CVXPY (default) or Clarabel's standard form directly.
    n_jobs : int or None
        Processes for the facet reduction (None: 1; -1: every CPU).

    Attributes
    ----------
    problem_ : PatchProblem
    patterns_ : PatternSet
    result_ : ConvexFitResult
    network_ : ReluNetwork
    pattern_seconds_ : float
        Time spent sampling or enumerating patterns.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, ...] = 3,
        *,
        beta: float = 1e-3,
        patterns: int | str | PatternSet | np.ndarray = 500,
        data_directed: float = 0.0,
        loss: str | Loss = "squared",
        residual: bool = False,
        bias: bool = False,
        stride: int | tuple[int, ...] = 1,
        padding: str | int | tuple[int, ...] = "same",
        readout: str = "identity",
        solver: str = "clarabel",
        solver_options: dict | None = None,
        max_cells: int = 200_000,
        random_state: int | np.random.Generator | None = 0,
        facets: str = "auto",
        backend: str = "cvxpy",
        n_jobs: int | None = None,
    ) -> None:
        self.kernel_size = kernel_size
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

    def _make_problem(self, X: np.ndarray, y: np.ndarray, spatial_dims: int | None):
        return make_problem(
            X,
            y,
            kernel_size=self.kernel_size,
            spatial_dims=spatial_dims,
            stride=self.stride,
            padding=self.padding,
            bias=self.bias,
            residual=self.residual,
            readout=self.readout,
        )

    def _get_patterns(self, Y: np.ndarray) -> PatternSet | np.ndarray:
        spec = self.patterns
        if isinstance(spec, str):
            if spec != "exact":
                raise ValueError(f"patterns must be an int, 'exact' or a PatternSet; got {spec!r}")
            return enumerate_relu_patterns(Y, max_cells=self.max_cells)
        if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
            return sample_relu_patterns(
                Y, int(spec), data_directed=self.data_directed, random_state=self.random_state
            )
        return spec

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
        self.patterns_ = self._get_patterns(self.problem_.Y)
        self.pattern_seconds_ = time.perf_counter() - start
        self.result_: ConvexFitResult = fit_relu(
            self.problem_,
            self.patterns_,
            beta=self.beta,
            loss=self.loss,
            solver=self.solver,
            solver_options=self.solver_options,
            facets=self.facets,
            backend=self.backend,
            n_jobs=self.n_jobs,
        )
        if self.result_.network is None:
            raise RuntimeError(f"the convex solve failed: {self.result_.message}")
        self.network_: ReluNetwork = self.result_.network
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise RuntimeError("this ConvexReLUCNN is not fitted yet; call fit(X, y) first")

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
