"""MRI benchmark: undersampled Shepp-Logan k-space, residual ReLU denoisers.

The phantom (``cvxcnn.data.load_phantom``, its 8 flips/rotations) is
Fourier transformed (``numpy.fft``, orthonormal), multiplied by a seeded
variable-density Cartesian line mask (whole phase-encode rows; a fully
sampled centre band; the other rows drawn without replacement with a
density decaying away from the centre) at acceleration ``R`` = 2, 4, 8, and
transformed back; the network input is the zero-filled reconstruction
(magnitude of the inverse FFT). A residual two-layer ReLU CNN
(``make_problem(..., residual=True)``) is fitted on patches of seeded random
crops of some orientations (training) and applied to the full images of the
other orientations (held out): PSNR of zero-filled vs convex vs primal.

The convex program uses sampled patterns, so its optimum is an **upper
bound** on the global optimum of the training problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.bench.report import Table, finite_or_none, nan_if_none
from cvxcnn.bench.runner import BenchmarkRun, PrimalSettings, Stopwatch, benchmark, torch_available

NAME = "mri"


@dataclass(frozen=True)
class MRIConfig:
    """Sizes of the MRI benchmark.

    The convex fit and the trainer see the same training patches, ``n =
    len(train_orientations) x crops_per_image x crop_size^2`` (1152 at
    ``default``); the PSNR columns ``te`` are over the whole ``image_size``
    images of ``test_orientations``, which no training patch comes from.
    Each entry of ``accelerations`` costs one convex fit and one training.

    Attributes
    ----------
    image_size : int
        Phantom side (k-space is ``image_size x image_size``).
    accelerations : tuple of int
        ``R``: about ``image_size / R`` phase-encode rows are kept.
    centre_fraction : float
        Share of rows in the fully sampled centre band.
    train_orientations, test_orientations : tuple of int
        Indices of the phantom's flips/rotations (``load_phantom`` image ``j``).
    crops_per_image, crop_size : int
        Random training crops per training orientation.
    kernel : int
    beta : float
    patterns : int
        Sampled sign patterns of the convex program.
    primal : PrimalSettings
        PyTorch Adam run.
    solver_options : tuple of (key, value)
        Clarabel options. QDLDL (also cvxcnn's default since Clarabel's own
        ``auto`` choice may pick the multithreaded faer factorization, 4-5x
        slower on these programs on the shared 2-core machine).
    """

    image_size: int = 64
    accelerations: tuple[int, ...] = (2, 4, 8)
    centre_fraction: float = 0.08
    train_orientations: tuple[int, ...] = (0, 1, 2, 3)
    test_orientations: tuple[int, ...] = (4, 5, 6, 7)
    crops_per_image: int = 2
    crop_size: int = 12
    kernel: int = 3
    beta: float = 0.5
    patterns: int = 48
    primal: PrimalSettings = PrimalSettings(neurons=128, epochs=2000, lr=1e-2)
    solver_options: tuple[tuple[str, str], ...] = (("direct_solve_method", "qdldl"),)


CONFIGS: dict[str, MRIConfig] = {
    "tiny": MRIConfig(
        image_size=16,
        train_orientations=(0,),
        test_orientations=(4,),
        crops_per_image=1,
        crop_size=6,
        patterns=4,
        primal=PrimalSettings(neurons=4, epochs=10),
    ),
    "default": MRIConfig(),
    "paper": MRIConfig(
        image_size=128,
        crops_per_image=4,
        crop_size=24,
        kernel=5,
        patterns=256,
        primal=PrimalSettings(neurons=512, epochs=10000),
    ),
}


def line_mask(size: int, acceleration: int, centre_fraction: float, seed: int) -> np.ndarray:
    """Seeded variable-density Cartesian mask of phase-encode rows.

    Parameters
    ----------
    size : int
        k-space side ``N``.
    acceleration : int
        ``R``; ``round(N / R)`` rows are kept (at least the centre band).
    centre_fraction : float
        The ``max(2, round(centre_fraction * N))`` rows nearest the centre are
        always kept.
    seed : int

    Returns
    -------
    ndarray of shape (N, N), bool
        In centred (``fftshift``) coordinates: row ``N // 2`` is ``ky = 0``.
    """
    rng = np.random.default_rng(seed)
    n_keep = max(1, int(round(size / acceleration)))
    dist = np.abs(np.arange(size) - size // 2)
    n_centre = min(n_keep, max(2, int(round(centre_fraction * size))))
    order = np.argsort(dist, kind="stable")
    keep = np.zeros(size, dtype=bool)
    keep[order[:n_centre]] = True
    rest = np.flatnonzero(~keep)
    n_more = n_keep - n_centre
    if n_more > 0 and rest.size:
        weight = (1.0 - dist[rest] / (size / 2 + 1)) ** 3 + 1e-3
        pick = rng.choice(rest, size=min(n_more, rest.size), replace=False, p=weight / weight.sum())
        keep[pick] = True
    return np.repeat(keep[:, None], size, axis=1)


def zero_filled(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Magnitude of the inverse FFT of the masked k-space of ``image`` (orthonormal FFT)."""
    kspace = np.fft.fftshift(np.fft.fft2(image, norm="ortho"))
    return np.abs(np.fft.ifft2(np.fft.ifftshift(kspace * mask), norm="ortho"))


def _crops(
    inputs: np.ndarray, targets: np.ndarray, count: int, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for img_in, img_out in zip(inputs, targets, strict=True):
        span = img_in.shape[0] - size + 1
        for _ in range(count):
            r, c = rng.integers(0, span, size=2)
            xs.append(img_in[r : r + size, c : c + size])
            ys.append(img_out[r : r + size, c : c + size])
    return np.stack(xs), np.stack(ys)


def _plot_images(axes: np.ndarray, examples: dict) -> None:
    cols = ["clean", "zero-filled", "convex", "primal"]
    for i, r in enumerate(sorted(examples)):
        for j, key in enumerate(cols):
            ax = axes[i, j]
            img = examples[r].get(key)
            if img is not None:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(key)
            if j == 0:
                ax.set_ylabel(f"R = {r}")


def _plot_psnr(ax: object, rows: list[dict]) -> None:
    rs = [r["acceleration"] for r in rows]
    for key, label, marker in (
        ("psnr_zero_filled_test", "zero-filled", "o"),
        ("psnr_convex_test", "convex (residual)", "s"),
        ("psnr_primal_test", "primal Adam (residual)", "^"),
    ):
        vals = [r.get(key) for r in rows]
        if any(v is not None for v in vals):
            ax.plot(rs, nan_if_none(vals), marker + "-", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(rs, [str(r) for r in rs])
    ax.set_xlabel("acceleration R")
    ax.set_ylabel("held-out PSNR (dB)")
    ax.set_title("Shepp-Logan, undersampled k-space")
    ax.legend()


def _undersampled(bench: BenchmarkRun, R: int, clean_all: np.ndarray) -> tuple:
    """Zero-filled inputs at acceleration ``R``: (row, x_tr, y_tr, x_te, y_te)."""

    cfg, n_orient = bench.cfg, clean_all.shape[0]
    masks = [
        line_mask(cfg.image_size, R, cfg.centre_fraction, bench.child_seed(R, j))
        for j in range(n_orient)
    ]
    zf_all = np.stack([zero_filled(clean_all[j], masks[j]) for j in range(n_orient)])
    tr_idx, te_idx = list(cfg.train_orientations), list(cfg.test_orientations)
    x_tr, y_tr = _crops(
        zf_all[tr_idx],
        clean_all[tr_idx],
        cfg.crops_per_image,
        cfg.crop_size,
        bench.child_seed(R, 100),
    )
    x_te, y_te = zf_all[te_idx], clean_all[te_idx]
    row: dict = {"acceleration": R, "sampled_fraction": float(masks[0][:, 0].mean())}
    return row, x_tr, y_tr, x_te, y_te


def _denoised(row: dict, ex: dict, prefix: str, net: object, data: tuple, kernel: int) -> None:
    from cvxcnn.bench.models import denoise
    from cvxcnn.metrics import psnr

    x_tr, y_tr, x_te, y_te = data
    den_tr = denoise(net, x_tr, y_tr, kernel_size=kernel, residual=True)
    den_te = denoise(net, x_te, y_te, kernel_size=kernel, residual=True)
    row[f"psnr_{prefix}_train"] = psnr(den_tr, y_tr, data_range=1.0)
    row[f"psnr_{prefix}_test"] = psnr(den_te, y_te, data_range=1.0)
    ex[prefix] = den_te[0]


def convex_case(bench: BenchmarkRun, R: int, row: dict, ex: dict, data: tuple) -> None:
    """Fit the residual convex program on the training crops; add its columns to ``row``."""
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.bench.models import problem_for
    from cvxcnn.fitting import fit_relu
    from cvxcnn.metrics import psnr

    cfg, (x_tr, y_tr, x_te, y_te) = bench.cfg, data
    problem = problem_for(x_tr, y_tr, cfg.kernel, residual=True)
    row.update(n=problem.n, d=problem.d)
    row["psnr_zero_filled_train"] = psnr(x_tr, y_tr, data_range=1.0)
    row["psnr_zero_filled_test"] = psnr(x_te, y_te, data_range=1.0)
    pats = sample_relu_patterns(problem.Y, cfg.patterns, random_state=bench.child_seed(R, 1))
    with Stopwatch() as sw:
        fit = fit_relu(problem, pats, beta=cfg.beta, solver_options=dict(cfg.solver_options))
    row.update(
        patterns=len(pats),
        status=fit.status,
        convex_objective=finite_or_none(fit.objective),
        convex_kind="upper bound (sampled patterns)",
        convex_neurons=fit.neurons,
        convex_compile_seconds=fit.solve.compile_seconds,
        convex_solve_seconds=fit.solve.solve_seconds,
        convex_seconds=sw.seconds,
    )
    if fit.network is not None:
        _denoised(row, ex, "convex", fit.network, data, cfg.kernel)


def primal_case(bench: BenchmarkRun, R: int, row: dict, ex: dict, data: tuple) -> None:
    """Train the residual PyTorch network on the training crops; add its columns to ``row``."""
    from cvxcnn.bench.models import train_with

    (x_tr, y_tr, _, _), cfg = data, bench.cfg
    seed = bench.child_seed(R, 2)
    trow, net = train_with(
        cfg.primal, x_tr, y_tr, kernel_size=cfg.kernel, beta=cfg.beta, seed=seed, residual=True
    )
    row.update(
        primal_objective=trow["final_objective"],
        primal_seconds=trow["train_seconds"],
        primal_status=trow["status"],
    )
    if net is not None:
        _denoised(row, ex, "primal", net, data, cfg.kernel)


@benchmark(NAME, CONFIGS)
def run(bench: BenchmarkRun) -> dict:
    """Run the MRI benchmark and write its JSON, CSV, Markdown and PNGs.

    The seed drives the masks, the crops, the patterns and the trainer.
    """
    from cvxcnn.data import load_phantom

    cfg = bench.cfg
    parts = [("convex", convex_case)] + ([("primal", primal_case)] if torch_available() else [])
    n_orient = max(max(cfg.train_orientations), max(cfg.test_orientations)) + 1
    clean_all = load_phantom(n_orient, size=cfg.image_size, noise=0.0).clean
    rows: list[dict] = []
    examples: dict[int, dict] = {}
    with bench.sweep(len(cfg.accelerations) * len(parts)) as bar:
        for R in cfg.accelerations:
            row, *data = _undersampled(bench, R, clean_all)
            examples[R] = {"clean": data[3][0], "zero-filled": data[2][0]}
            for part, case in parts:
                with bar.step(f"R={R} {part}"):
                    case(bench, R, row, examples[R], tuple(data))
            rows.append(row)
    with bench.figure("psnr", figsize=(4.2, 3.0)) as (_, ax):
        _plot_psnr(ax, rows)
    n = len(examples)
    with bench.figure("examples", n, 4, figsize=(6.4, 1.7 * n), squeeze=False) as (_, axes):
        _plot_images(axes, examples)
    tables = [
        Table(
            "Undersampled Shepp-Logan: held-out PSNR (dB) of zero-filled vs residual denoisers",
            [
                ("acceleration", "R"),
                ("sampled_fraction", "rows kept"),
                ("n", "train patches"),
                ("patterns", "P"),
                ("convex_objective", "convex opt. (upper bd.)"),
                ("primal_objective", "primal P"),
                ("psnr_zero_filled_train", "zero-filled tr"),
                ("psnr_convex_train", "convex tr"),
                ("psnr_primal_train", "primal tr"),
                ("psnr_zero_filled_test", "zero-filled te"),
                ("psnr_convex_test", "convex te"),
                ("psnr_primal_test", "primal te"),
                ("convex_seconds", "convex s"),
                ("primal_seconds", "primal s"),
            ],
            rows,
            note="Training: random crops of orientations "
            f"{list(cfg.train_orientations)}; test: full images of orientations "
            f"{list(cfg.test_orientations)} (flips/rotations of the phantom). The convex optimum "
            "uses sampled patterns: an upper bound on the global optimum. Clarabel options: "
            f"{dict(cfg.solver_options)}.",
        )
    ]
    return bench.finish(rows, tables)
