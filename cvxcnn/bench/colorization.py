"""Colorization benchmark: L -> ab on bundled colour images, kernels 3 and 5.

For each kernel, :func:`cvxcnn.colorization.system.run_colorization` fits the
convex network (the separable UPPER bound of the vector-output problem over
sampled cells), the PyTorch network on the same objective and the PyTorch
network on the chroma-augmented loss (eq. 2), and evaluates RMSE(ab), mean
chroma and the RGB PSNR on held-out crops. For the kernels of
``bracket_kernels`` the convex row also carries the vector-output bracket of
:func:`cvxcnn.vector.fit_vector` (no relaxation: the SDP is too slow at this
size) over the SAME sampled cells: ``vector_upper`` (best network: separable,
principal direction, each polished), ``vector_lower`` (the dual bound at the
best network's residual), ``vector_gap`` and ``vector_kind`` (``"estimated"``:
over sampled cells the oracle may miss the worst cell, so the lower end is an
estimate, never a certificate). One figure per kernel: input L, truth,
convex, primal, primal+chroma.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from cvxcnn.bench.report import Table
from cvxcnn.bench.runner import BenchmarkRun, benchmark, torch_available
from cvxcnn.colorization.system import ColorizeConfig

NAME = "colorization"


@dataclass(frozen=True)
class ColorizationBenchConfig:
    """Sizes of the colorization benchmark (the rest: ColorizeConfig's defaults).

    Each entry of ``kernels`` is one
    :func:`~cvxcnn.colorization.system.run_colorization` with the settings of
    :func:`colorize_config` (the fields shared by name); the gamma sweep
    retrains the first kernel's primal network for each of ``gammas`` and
    ``sweep_seeds``, so it costs ``len(gammas) x len(sweep_seeds)`` trainings.

    Attributes
    ----------
    kernels : tuple of int
    crops_per_image, crop_size, stride, patterns, neurons, epochs : int
    test_size : int
    gamma, beta : float
        ColorizeConfig's fields (``crop_size``: its ``size``), with its
        defaults.
    gammas : tuple of float
        The chroma-weight sweep of the primal network (first kernel only).
    sweep_seeds : tuple of int
        Offsets of the run's seed for the sweep (each: other crops, other init).
    bracket_kernels : tuple of int
        Kernels whose convex row gets the vector-output bracket (estimated).
    bracket_evaluations : int
        ``fit_vector``'s ``max_evaluations`` (scalar oracle calls per direction).
    """

    kernels: tuple[int, ...] = (3, 5)
    crops_per_image: int = ColorizeConfig.crops_per_image
    crop_size: int = ColorizeConfig.size
    stride: int = ColorizeConfig.stride
    patterns: int = ColorizeConfig.patterns
    neurons: int = ColorizeConfig.neurons
    epochs: int = ColorizeConfig.epochs
    test_size: int = ColorizeConfig.test_size
    gamma: float = ColorizeConfig.gamma
    beta: float = ColorizeConfig.beta
    gammas: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    sweep_seeds: tuple[int, ...] = (0, 1, 2)
    bracket_kernels: tuple[int, ...] = (3,)
    bracket_evaluations: int = 400


CONFIGS = {
    "tiny": ColorizationBenchConfig(
        kernels=(3,),
        crops_per_image=1,
        crop_size=8,
        patterns=4,
        neurons=4,
        epochs=10,
        test_size=8,
        gammas=(0.0, 1.0),
        sweep_seeds=(0,),
    ),
    "default": ColorizationBenchConfig(),
    "paper": ColorizationBenchConfig(crops_per_image=4, patterns=100, neurons=128, epochs=4000),
}


def colorize_config(b: ColorizationBenchConfig, kernel: int, seed: int) -> ColorizeConfig:
    """The settings of one kernel's run: ``b``'s fields that ColorizeConfig has by name.

    Every field the two configs share by name (crops, stride, patterns,
    neurons, epochs, test size, gamma, beta) goes through, so one added to
    both reaches the run; ``crop_size`` is ColorizeConfig's ``size``; the rest
    (``lr``, ``side``, ``data_directed``, ``facets``, the image lists) are
    ColorizeConfig's defaults.

    Parameters
    ----------
    b : ColorizationBenchConfig
    kernel : int
        One of ``b.kernels``.
    seed : int
        The run's seed (crops, cells, initializations).

    Returns
    -------
    ColorizeConfig
    """
    shared = {f.name for f in fields(ColorizeConfig)} & {f.name for f in fields(b)}
    same = {name: getattr(b, name) for name in sorted(shared)}
    return ColorizeConfig(kernel=kernel, size=b.crop_size, seed=seed, **same)


BRACKET_KEYS = ("vector_upper", "vector_lower", "vector_gap", "vector_kind")


def vector_bracket(cfg: object, result: object, max_evaluations: int) -> dict:
    """The vector-output bracket of one run's training problem over its sampled cells.

    Rebuilds the problem and the cells by the run's own
    :func:`cvxcnn.colorization.system.training_problem` (same crops, cells
    and seed) and runs :func:`cvxcnn.vector.fit_vector` with
    ``relaxation=False, certify=True``.

    Parameters
    ----------
    cfg : ColorizeConfig
    result : ColorizationResult
        Its ``train`` crops (L ``(N, H, W)``, ab ``(N, 2, H, W)``, scaled).
    max_evaluations : int

    Returns
    -------
    dict
        ``vector_upper``, ``vector_lower``, ``vector_gap``, ``vector_kind``
        (``"estimated"`` over sampled cells), the sources and seconds.
    """
    from cvxcnn.colorization.system import training_problem
    from cvxcnn.vector import fit_vector

    problem, X, cells = training_problem(cfg, result.train)
    fit = fit_vector(
        problem, cells, X, beta=cfg.beta, relaxation=False, certify=True,
        max_evaluations=max_evaluations, random_state=cfg.seed,
    )  # fmt: skip
    return {
        "vector_upper": fit.upper,
        "vector_lower": fit.lower,
        "vector_gap": fit.gap,
        "vector_kind": fit.kind,
        "vector_upper_source": fit.upper_source,
        "vector_lower_source": fit.lower_source,
        "vector_exact_cells": fit.exact_cells,
        "vector_seconds": fit.timings["total"],
    }


def _rows(kernel: int, result: object, bracket: dict | None = None) -> list[dict]:
    """The table rows of one kernel's run, and a ``truth`` row with the true mean chroma.

    ``bracket`` (from :func:`vector_bracket`) goes on the convex row; the
    other rows get None in its columns.
    """
    from cvxcnn.colorization.data import AB_SCALE
    from cvxcnn.metrics import mean_chroma

    rows = []
    for r in result.rows:
        row = {"kernel": kernel, **{k: v for k, v in r.items() if k != "trained_loss"}}
        row |= dict.fromkeys(BRACKET_KEYS)
        if r["model"] == "convex" and bracket is not None:
            row |= bracket
        rows.append(row)
    truth = {"kernel": kernel, "model": "truth"}
    truth["train_chroma"] = AB_SCALE * mean_chroma(result.train.ab)
    truth["test_chroma"] = AB_SCALE * mean_chroma(result.test.ab)
    return [*rows, truth]


def gamma_summary(sweep: list[dict], gammas: tuple[float, ...]) -> list[dict]:
    """Per gamma: means over the seeds, and in how many seeds chroma rose above gamma = 0's.

    Parameters
    ----------
    sweep : list of dict
        Rows of :func:`cvxcnn.colorization.system.gamma_sweep` with a ``seed`` key;
        every seed has a ``gamma = 0`` row (``gammas[0]`` must be 0).
    gammas : tuple of float

    Returns
    -------
    list of dict
    """
    base = {r["seed"]: r for r in sweep if r["gamma"] == 0.0}
    out = []
    for gamma in gammas:
        rows = [r for r in sweep if r["gamma"] == gamma]
        row = {"gamma": gamma, "seeds": len(rows)}
        for key in ("objective", "train_chroma", "test_chroma", "test_rmse_ab", "test_psnr_rgb"):
            row[key] = float(np.mean([r[key] for r in rows]))
        for split in ("train", "test"):
            key = f"{split}_chroma"
            up = sum(r[key] > base[r["seed"]][key] for r in rows)
            row[f"{split}_chroma_up"] = f"{up}/{len(rows)}"
        out.append(row)
    return out


@benchmark(NAME, CONFIGS)
def run(bench: BenchmarkRun) -> dict:
    """Run the colorization benchmark and write its JSON, CSV, Markdown and PNGs.

    The seed drives the crops, the cells and the initializations. Needs torch.
    """
    from cvxcnn.colorization.system import gamma_sweep, plot_colorization, run_colorization

    if not torch_available():
        raise ImportError("the colorization benchmark needs torch: pip install 'cvxcnn[torch]'")
    b = bench.cfg
    rows: list[dict] = []
    configs = []
    with bench.sweep(len(b.kernels) + 1) as bar:
        for kernel in b.kernels:
            with bar.step(f"kernel {kernel}"):
                cfg = colorize_config(b, kernel, bench.seed)
                result = run_colorization(cfg, verbose=False)
                bracket = None
                if kernel in b.bracket_kernels:
                    bracket = vector_bracket(cfg, result, b.bracket_evaluations)
                filename = f"{NAME}_k{kernel}.png"
                plot_colorization(result, bench.out / filename)
                bench.figures.append(filename)
                rows.extend(_rows(kernel, result, bracket))
                configs.append(cfg)
        with bar.step("gamma sweep"):
            sweep = []
            for offset in b.sweep_seeds:
                cfg = replace(configs[0], seed=bench.seed + offset)
                sweep += [{"seed": cfg.seed, **r} for r in gamma_sweep(cfg, b.gammas)]
    tables = _tables(b, rows, gamma_summary(sweep, b.gammas), configs[0].kernel)
    return bench.finish(rows + [{"sweep": "gamma", **r} for r in sweep], tables)


def _tables(b: ColorizationBenchConfig, rows: list[dict], summary: list[dict], kernel: int) -> list:
    """The model table and the gamma-sweep table."""
    table = Table(
        "Colorization L -> ab (held-out crops): objectives, vector bracket estimated (sampled "
        "cells), RMSE(ab), mean chroma, RGB PSNR",
        [
            ("kernel", "k"),
            ("model", "model"),
            ("objective", "P (squared)"),
            ("vector_upper", "vector upper"),
            ("vector_lower", "vector lower (estimated, sampled cells)"),
            ("vector_gap", "vector gap"),
            ("vector_kind", "bracket kind"),
            ("trained_objective", "trained loss"),
            ("train_rmse_ab", "RMSE(ab) tr"),
            ("test_rmse_ab", "RMSE(ab) te"),
            ("train_chroma", "chroma tr"),
            ("test_chroma", "chroma te"),
            ("test_psnr_rgb", "PSNR te (dB)"),
            ("seconds", "s"),
        ],
        rows,
        note="P: 1/2||R f - X||_F^2 + beta/2 sum_j(||u_j||^2 + ||w_j||^2) in scaled units (L/50-1, "
        f"ab/100), beta = {b.beta}. convex = separable network (each neuron serves one channel) "
        "over sampled cells: an UPPER bound on the global optimum. vector upper/lower/gap: the "
        "bracket of cvxcnn.vector.fit_vector (no relaxation) over the same cells, "
        "estimated (sampled cells): the lower end is the dual bound with an oracle over "
        "sampled cells only, an ESTIMATE, not a certificate. primal+chroma trains eq. 2 with "
        "gamma = "
        f"{b.gamma} ('trained loss' includes the chroma term; P is its squared objective). "
        "grey: ab = 0. RMSE and chroma in Lab units.",
    )
    sweep_table = Table(
        f"Chroma weight gamma (primal network, kernel {kernel}): does gamma > 0 raise mean chroma?",
        [
            ("gamma", "gamma"),
            ("seeds", "seeds"),
            ("objective", "mean P (squared)"),
            ("train_chroma", "mean chroma tr"),
            ("test_chroma", "mean chroma te"),
            ("train_chroma_up", "chroma tr > gamma 0"),
            ("test_chroma_up", "chroma te > gamma 0"),
            ("test_rmse_ab", "mean RMSE(ab) te"),
            ("test_psnr_rgb", "mean PSNR te (dB)"),
        ],
        summary,
        note="Per seed the same crops, init and Adam settings for every gamma (gamma = 0 is "
        "the squared loss); seeds change the crops and the init. 'chroma > gamma 0': in how "
        "many seeds the mean chroma exceeds the same seed's gamma = 0 network's.",
    )
    return [table, sweep_table]
