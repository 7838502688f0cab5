"""The colorization system end to end: L -> ab with a convex and two primal networks.

Three networks of the same architecture (conv k x k with bias -> ReLU -> 1x1
conv with 2 output channels) are fitted on the training crops of
:mod:`cvxcnn.colorization.data` and compared on held-out crops of another image:

- ``convex``: :func:`cvxcnn.colorization.convex.fit_convex_colorizer`, the
  separable upper bound of the vector problem over sampled cells;
- ``primal``: the PyTorch trainer on the SAME objective
  ``1/2 ||R f - X||_F^2 + beta/2 sum_j (||u_j||^2 + ||w_j||^2)``;
- ``primal+chroma``: the PyTorch trainer on the chroma-augmented loss of the
  colorization paper's eq. 2 (``+ gamma sum_i (C_i - C_hat_i)^2``, not convex).

plus the ``grey`` reference (``ab = 0``). Metrics: RMSE of ab and mean chroma
(Lab units), PSNR of the RGB image ``lab2rgb(L, predicted ab)`` against the
true RGB crop. Training subsamples the patch positions with ``stride``
(a convolution trained on fewer positions); predictions use every pixel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from cvxcnn.arrangements import PatternSet, sample_relu_patterns
from cvxcnn.colorization.convex import SeparableVectorFit, fit_convex_colorizer
from cvxcnn.colorization.data import (
    AB_SCALE,
    TEST_COLUMNS,
    TEST_IMAGES,
    TRAIN_COLUMNS,
    TRAIN_IMAGES,
    ColorData,
    load_color_crops,
    to_rgb,
)
from cvxcnn.metrics import mean_chroma, psnr, rmse
from cvxcnn.patches import extract_patches
from cvxcnn.problem import PatchProblem
from cvxcnn.vector_output import make_vector_problem, vector_objective

#: The models of one run, in table order (``grey`` is the ab = 0 reference).
MODELS = ("grey", "convex", "primal", "primal+chroma")


@dataclass(frozen=True)
class ColorizeConfig:
    """Every setting of one colorization run (sizes chosen to run in minutes on 2 cores).

    Attributes
    ----------
    kernel : int
        First-layer kernel side (3 or 5 in the benchmark).
    crops_per_image, size, stride, side : int
        Training crops per training image, their side, the stride of the
        training patch positions, the shorter side of the resized images.
    test_crops, test_size : int
        Held-out crops per test image (predicted at every pixel), from the
        columns :data:`~cvxcnn.colorization.data.TEST_COLUMNS`, disjoint from
        the training crops' :data:`~cvxcnn.colorization.data.TRAIN_COLUMNS`.
    train_images, test_images : tuple of str
    patterns : int
        Sampled generators of the ReLU cells (deduplicated).
    data_directed : float
        Share of data-directed generators.
    beta : float
        Weight decay of every objective.
    gamma : float
        Chroma weight of ``primal+chroma``.
    neurons, epochs : int
    lr : float
        Adam's step size (full batch, float64).
    facets : str
        ``cvxcnn.fit``'s facet reduction; ``"off"`` (measured: on these
        programs ``auto`` cost ~40 s of row reduction for a ~4 s solve).
    seed : int
        Seeds the crops, the cells and the initializations.
    """

    kernel: int = 3
    crops_per_image: int = 2
    size: int = 16
    stride: int = 2
    side: int = 64
    test_crops: int = 1
    test_size: int = 24
    train_images: tuple[str, ...] = TRAIN_IMAGES
    test_images: tuple[str, ...] = TEST_IMAGES
    patterns: int = 40
    data_directed: float = 0.5
    beta: float = 0.01
    gamma: float = 1.0
    neurons: int = 64
    epochs: int = 1500
    lr: float = 1e-2
    facets: str = "off"
    seed: int = 0


@dataclass
class ColorizationResult:
    """Outcome of :func:`run_colorization`.

    Attributes
    ----------
    config : ColorizeConfig
    rows : list of dict
        One per model of :data:`MODELS`: objectives (scaled units), train and
        test RMSE(ab) and mean chroma (Lab units), test PSNR of the RGB image,
        seconds.
    convex : SeparableVectorFit
    predictions : dict of str to ndarray (N, 2, H, W)
        Test ab (scaled) per model.
    train, test : ColorData
    seconds : float
    """

    config: ColorizeConfig
    rows: list[dict]
    convex: SeparableVectorFit = field(repr=False)
    predictions: dict = field(repr=False)
    train: ColorData = field(repr=False)
    test: ColorData = field(repr=False)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready: settings, the table rows, the convex step's summary, seconds."""
        return {
            "settings": asdict(self.config),
            "rows": self.rows,
            "convex": self.convex.to_dict(),
            "true_mean_chroma": {
                "train": AB_SCALE * mean_chroma(self.train.ab),
                "test": AB_SCALE * mean_chroma(self.test.ab),
            },
            "units": "objectives in scaled units (input L/50 - 1, targets ab/100); RMSE(ab) and "
            "chroma in Lab units; PSNR in dB of lab2rgb(L, ab) against the true RGB crop",
            "seconds": self.seconds,
        }


def colorize(network: object, L: np.ndarray, kernel: int) -> np.ndarray:
    """Predicted scaled ab at every pixel: ``(N, 2, H, W)`` from scaled L ``(N, H, W)``."""
    patches = extract_patches(L, kernel, spatial_dims=2, bias=True)
    out = network.output(patches.Y).reshape(L.shape[0], *patches.geometry.output_shape, -1)
    return np.moveaxis(out, -1, 1)


def colour_metrics(ab: np.ndarray, data: ColorData) -> dict:
    """RMSE(ab) and mean chroma in Lab units, and the RGB PSNR (dB) of scaled ``ab`` on ``data``."""
    return {
        "rmse_ab": AB_SCALE * rmse(ab, data.ab),
        "chroma": AB_SCALE * mean_chroma(ab),
        "psnr_rgb": psnr(to_rgb(data.L, ab), data.rgb, data_range=1.0),
    }


def _train_primal(cfg: ColorizeConfig, train: ColorData, loss: str, verbose: bool) -> object:
    from cvxcnn.primal import train_primal

    return train_primal(
        train.L,
        train.ab,
        kernel_size=cfg.kernel,
        stride=cfg.stride,
        bias=True,
        out_channels=2,
        neurons=cfg.neurons,
        beta=cfg.beta,
        loss=loss,
        gamma=cfg.gamma if loss == "chroma" else None,
        optimizer="adam",
        lr=cfg.lr,
        epochs=cfg.epochs,
        dtype="float64",
        device="cpu",
        seed=cfg.seed,
        threads=1,
        verbose=verbose,
    )


def training_problem(
    cfg: ColorizeConfig, train: ColorData
) -> tuple[PatchProblem, np.ndarray, PatternSet]:
    """The training problem of a run: patches ``Y``, readout, targets ``X`` (n_out, 2), cells.

    Parameters
    ----------
    cfg : ColorizeConfig
        ``kernel``, ``stride`` (a first-layer bias is always used), ``patterns``,
        ``data_directed``, ``seed``.
    train : ColorData
        Scaled training crops: L ``(N, H, W)``, ab ``(N, 2, H, W)``.

    Returns
    -------
    (PatchProblem, ndarray of shape (n_out, 2), PatternSet)
        The cells are ``cfg.patterns`` seeded samples (never exact).
    """
    problem, X = make_vector_problem(
        train.L, train.ab, kernel_size=cfg.kernel, stride=cfg.stride, bias=True
    )
    cells = sample_relu_patterns(
        problem.Y, cfg.patterns, data_directed=cfg.data_directed, random_state=cfg.seed
    )
    return problem, X, cells


def _fit_models(cfg: ColorizeConfig, train: ColorData, verbose: bool) -> tuple[dict, dict]:
    """The three networks and their objectives: ({model: network}, {model: row})."""
    problem, X, cells = training_problem(cfg, train)
    solver = {"facets": cfg.facets, "solver_options": {"direct_solve_method": "qdldl"}}
    convex = fit_convex_colorizer(problem, cells, X, cfg.beta, settings=solver)
    rows = {
        "grey": {"objective": 0.5 * float(np.sum(X**2)), "seconds": 0.0},
        "convex": {
            "objective": convex.upper,
            "objective_kind": convex.kind,
            "status": convex.status,
            "neurons": convex.neurons,
            "patterns": convex.n_patterns,
            "seconds": convex.seconds,
        },
    }
    networks = {"grey": None, "convex": convex.network}
    for name, loss in (("primal", "squared"), ("primal+chroma", "chroma")):
        res = _train_primal(cfg, train, loss, verbose)
        networks[name] = res.network
        rows[name] = {
            "objective": vector_objective(res.network, problem, X, cfg.beta),
            "objective_kind": "trained network (Adam): its P",
            "trained_loss": res.settings["loss"],
            "trained_objective": res.final_objective,
            "neurons": res.network.n_neurons,
            "epochs": res.epochs_run,
            "seconds": res.total_seconds,
        }
    rows["convex"]["result"] = convex
    return networks, rows


def load_split(cfg: ColorizeConfig) -> tuple[ColorData, ColorData]:
    """The training and held-out crops of ``cfg`` (disjoint column bands)."""
    common = {"side": cfg.side, "random_state": cfg.seed}
    train = load_color_crops(
        cfg.train_images,
        crops_per_image=cfg.crops_per_image,
        size=cfg.size,
        columns=TRAIN_COLUMNS,
        **common,
    )
    test = load_color_crops(
        cfg.test_images,
        crops_per_image=cfg.test_crops,
        size=cfg.test_size,
        columns=TEST_COLUMNS,
        **common,
    )
    return train, test


def gamma_sweep(cfg: ColorizeConfig, gammas: tuple[float, ...]) -> list[dict]:
    """The primal network trained with the chroma loss at each ``gamma`` (0: squared loss).

    Parameters
    ----------
    cfg : ColorizeConfig
        Everything but ``gamma``.
    gammas : tuple of float
        Chroma weights ``>= 0``.

    Returns
    -------
    list of dict
        Per gamma: its squared objective ``P``, the trained loss, train/test
        RMSE(ab) and mean chroma, test RGB PSNR, seconds.
    """
    train, test = load_split(cfg)
    problem, X = make_vector_problem(
        train.L, train.ab, kernel_size=cfg.kernel, stride=cfg.stride, bias=True
    )
    rows = []
    for gamma in gammas:
        res = _train_primal(replace(cfg, gamma=gamma), train, "chroma", False)
        row = {"kernel": cfg.kernel, "gamma": float(gamma)}
        row["objective"] = vector_objective(res.network, problem, X, cfg.beta)
        row["trained_objective"] = res.final_objective
        for split, data in (("train", train), ("test", test)):
            pred = colorize(res.network, data.L, cfg.kernel)
            row |= {f"{split}_{k}": v for k, v in colour_metrics(pred, data).items()}
        rows.append({**row, "seconds": res.total_seconds})
    return rows


def run_colorization(
    config: ColorizeConfig | None = None, *, verbose: bool = True
) -> ColorizationResult:
    """Fit the convex, primal and primal+chroma colorizers and evaluate them.

    Parameters
    ----------
    config : ColorizeConfig, optional
    verbose : bool
        Progress bars of the trainer.

    Returns
    -------
    ColorizationResult
    """
    cfg = config or ColorizeConfig()
    start = time.perf_counter()
    train, test = load_split(cfg)
    networks, fitted = _fit_models(cfg, train, verbose)
    convex = fitted["convex"].pop("result")
    rows, predictions = [], {}
    for name in MODELS:
        net = networks[name]
        pred_train = np.zeros_like(train.ab) if net is None else colorize(net, train.L, cfg.kernel)
        pred_test = np.zeros_like(test.ab) if net is None else colorize(net, test.L, cfg.kernel)
        predictions[name] = pred_test
        train_m = {f"train_{k}": v for k, v in colour_metrics(pred_train, train).items()}
        test_m = {f"test_{k}": v for k, v in colour_metrics(pred_test, test).items()}
        rows.append({"model": name, **fitted[name], **train_m, **test_m})
    return ColorizationResult(
        config=cfg,
        rows=rows,
        convex=convex,
        predictions=predictions,
        train=train,
        test=test,
        seconds=time.perf_counter() - start,
    )


def plot_colorization(result: ColorizationResult, path: str | Path, n_show: int = 4) -> Path:
    """Compact PNG: one row per test crop; columns input L, truth, convex, primal, +chroma."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = result.test
    n = min(n_show, test.n_images)
    columns = [("input L", None), ("ground truth", test.ab)]
    columns += [(name, result.predictions[name]) for name in MODELS[1:]]
    fig, axes = plt.subplots(n, len(columns), figsize=(1.25 * len(columns), 1.3 * n), squeeze=False)
    for j, (title, ab) in enumerate(columns):
        images = to_rgb(test.L, np.zeros_like(test.ab) if ab is None else ab)
        for i in range(n):
            ax = axes[i, j]
            ax.imshow(images[i], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.tight_layout(pad=0.2)
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
