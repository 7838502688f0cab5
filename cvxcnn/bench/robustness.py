"""Robustness: Gaussian vs exponential noise, convex optimum vs primal training.

For each noise model (Gaussian sigma 0.75 and the non-centred exponential
noise of Sahiner et al. App. B.1, scale 1/1.15), on a 1-D synthetic signal
with a kernel of 3:

- the convex optimum, **certified** by column generation over every cell
  (one value: it does not depend on any initialization or optimizer);
- the PyTorch primal network trained from several initializations
  (``kaiming_uniform``, ``normal`` with std 1e-3 and 5e-3) with several
  optimizers (Adam, SGD, SGD with momentum, RMSprop, Adagrad), a few seeds
  each: the spread of their final objectives (and of their test PSNR on
  held-out signals of the same kind).

Learning rates are fixed per optimizer (not tuned per run); see ``LEARNING_RATES``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cvxcnn.bench._common import (
    Stopwatch,
    Table,
    check_size,
    child_seed,
    progress_bar,
    pyplot,
    relative_excess,
    save_figure,
    torch_available,
    write_outputs,
)

NAME = "robustness"

#: Learning rate per optimizer (objective = sum over patches, not a mean).
LEARNING_RATES: dict[str, float] = {
    "adam": 1e-2,
    "sgd": 3e-3,
    "sgdm": 1e-3,
    "rmsprop": 1e-3,
    "adagrad": 1e-1,
}

#: ``(label, init, init_std)``.
INITS: tuple[tuple[str, str, float], ...] = (
    ("kaiming_uniform", "kaiming_uniform", 1e-3),
    ("normal(1e-3)", "normal", 1e-3),
    ("normal(5e-3)", "normal", 5e-3),
)


@dataclass(frozen=True)
class RobustnessConfig:
    """Sizes of the robustness benchmark.

    Attributes
    ----------
    length : int
        Training signal length (one signal).
    test_signals : int
        Held-out signals for the test PSNR.
    kernel : int
    beta : float
    noises : tuple of (str, float)
        ``(noise_type, level)``.
    optimizers : tuple of str
    seeds : int
        Initializations per (init, optimizer).
    neurons, epochs : int
    """

    length: int = 64
    test_signals: int = 4
    kernel: int = 3
    beta: float = 0.1
    noises: tuple[tuple[str, float], ...] = (("gaussian", 0.75), ("exponential", 1.0 / 1.15))
    optimizers: tuple[str, ...] = ("adam", "sgd", "sgdm", "rmsprop", "adagrad")
    seeds: int = 3
    neurons: int = 64
    epochs: int = 2000


CONFIGS: dict[str, RobustnessConfig] = {
    "tiny": RobustnessConfig(
        length=12, test_signals=1, optimizers=("adam", "sgd"), seeds=1, neurons=8, epochs=20
    ),
    "default": RobustnessConfig(),
    "paper": RobustnessConfig(length=128, seeds=10, neurons=256, epochs=20000),
}


def _plot(rows: list[dict], refs: list[dict], cfg: RobustnessConfig, out_dir: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(refs), figsize=(4.8 * len(refs), 5.6), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    markers = {label: m for (label, _, _), m in zip(INITS, ("o", "s", "^"), strict=True)}
    for col, ref in enumerate(refs):
        for row_i, (key, ylabel) in enumerate(
            (("final_objective", "objective P(U, v)"), ("psnr_test", "test PSNR (dB)"))
        ):
            ax = axes[row_i, col]
            for j, opt in enumerate(cfg.optimizers):
                for k, (label, _, _) in enumerate(INITS):
                    vals = [
                        r.get(key)
                        for r in rows
                        if r["noise_type"] == ref["noise_type"]
                        and r["optimizer"] == opt
                        and r["init"] == label
                        and r.get(key) is not None
                    ]
                    x = j + (k - 1) * 0.22 + rng.uniform(-0.05, 0.05, len(vals))
                    ax.plot(
                        x,
                        vals,
                        markers[label],
                        color=f"C{k}",
                        ms=4,
                        alpha=0.8,
                        label=label if j == 0 else None,
                    )
            ref_key = "p_star" if key == "final_objective" else "psnr_convex_test"
            ref_label = "convex optimum (certified)" if key == "final_objective" else "convex"
            ax.axhline(ref[ref_key], color="k", lw=1.0, ls="--", label=ref_label)
            if key == "psnr_test":
                ax.axhline(ref["psnr_noisy_test"], color="grey", lw=0.8, ls=":", label="noisy")
            if key == "final_objective":
                ax.set_yscale("log")
            ax.set_xticks(range(len(cfg.optimizers)), cfg.optimizers)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{ref['noise_type']} noise (level {ref['noise']:.3g})")
            ax.legend(fontsize=6)
    return save_figure(fig, out_dir, f"{NAME}_spread.png")


def run(out_dir: str | Path, size: str = "default", seed: int = 0, progress: bool = True) -> dict:
    """Run the robustness benchmark and write its JSON, CSV, Markdown and PNG.

    Parameters
    ----------
    out_dir : path
    size : {"tiny", "default", "paper"}
    seed : int
        Seeds the signals, the noise, column generation and every initialization.
    progress : bool

    Returns
    -------
    dict
        The JSON payload; ``references`` holds the certified convex optima.
    """
    from cvxcnn.arrangements import enumerate_relu_patterns
    from cvxcnn.bench._models import denoise, problem_for, train
    from cvxcnn.colgen import solve_colgen
    from cvxcnn.data import synthetic_1d
    from cvxcnn.metrics import psnr

    cfg = CONFIGS[check_size(size)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    use_torch = torch_available()
    per_noise = len(cfg.optimizers) * len(INITS) * cfg.seeds if use_torch else 0
    rows: list[dict] = []
    refs: list[dict] = []
    with progress_bar(len(cfg.noises) * (1 + per_noise), NAME, progress) as bar:
        for i, (kind, level) in enumerate(cfg.noises):
            tr = synthetic_1d(1, length=cfg.length, noise=level, noise_type=kind, random_state=seed)
            te = synthetic_1d(
                cfg.test_signals,
                length=cfg.length,
                noise=level,
                noise_type=kind,
                random_state=seed,
                offset=1,
            )
            problem = problem_for(tr.noisy, tr.clean, cfg.kernel)
            bar.set_postfix_str(f"{kind}: column generation")
            with Stopwatch() as sw:
                cells = enumerate_relu_patterns(problem.Y)
                cg = solve_colgen(
                    problem,
                    cells,
                    beta=cfg.beta,
                    add_per_iteration=40,
                    random_state=child_seed(seed, i, 0),
                )
            cert = cg.certificate
            ref = {
                "noise_type": kind,
                "noise": level,
                "n": problem.n,
                "cells": len(cells),
                "p_star": cert.upper_bound,
                "p_star_lower": cert.lower_bound,
                "p_star_kind": "certified" if cert.certified and cg.converged else "not certified",
                "p_star_rel_gap": cert.relative_gap,
                "neurons": cg.fit.neurons,
                "colgen_seconds": sw.seconds,
                "psnr_noisy_train": psnr(tr.noisy, tr.clean, data_range=1.0),
                "psnr_noisy_test": psnr(te.noisy, te.clean, data_range=1.0),
                "psnr_convex_test": psnr(
                    denoise(cg.fit.network, te.noisy, te.clean, kernel_size=cfg.kernel),
                    te.clean,
                    data_range=1.0,
                ),
            }
            refs.append(ref)
            bar.update(1)
            if not use_torch:
                continue
            for j, opt in enumerate(cfg.optimizers):
                for k, (label, init, std) in enumerate(INITS):
                    for s in range(cfg.seeds):
                        bar.set_postfix_str(f"{kind}: {opt} {label} seed {s}")
                        row, net = train(
                            tr.noisy,
                            tr.clean,
                            kernel_size=cfg.kernel,
                            beta=cfg.beta,
                            neurons=cfg.neurons,
                            optimizer=opt,
                            lr=LEARNING_RATES[opt],
                            epochs=cfg.epochs,
                            init=init,
                            init_std=std,
                            seed=child_seed(seed, i, j, k, s),
                            target=ref["p_star"],
                        )
                        row["init"] = label
                        row["psnr_test"] = (
                            psnr(
                                denoise(net, te.noisy, te.clean, kernel_size=cfg.kernel),
                                te.clean,
                                data_range=1.0,
                            )
                            if net is not None
                            else None
                        )
                        rows.append(
                            {"noise_type": kind, "noise": level, **row, "p_star": ref["p_star"]}
                        )
                        bar.update(1)
    figures = [_plot(rows, refs, cfg, out)] if rows else []
    summary = []
    for ref in refs:
        for opt in cfg.optimizers:
            for label, _, _ in INITS:
                sub = [
                    r
                    for r in rows
                    if r["noise_type"] == ref["noise_type"]
                    and r["optimizer"] == opt
                    and r["init"] == label
                ]
                objs = [r["final_objective"] for r in sub if r.get("final_objective") is not None]
                ps = [r["psnr_test"] for r in sub if r.get("psnr_test") is not None]
                if not sub:
                    continue
                summary.append(
                    {
                        "noise_type": ref["noise_type"],
                        "optimizer": opt,
                        "init": label,
                        "runs": len(sub),
                        "diverged": len(sub) - len(objs),
                        "min_objective": min(objs, default=None),
                        "median_objective": float(np.median(objs)) if objs else None,
                        "max_objective": max(objs, default=None),
                        "median_rel_excess": relative_excess(
                            float(np.median(objs)) if objs else None, ref["p_star"]
                        ),
                        "median_psnr_test": float(np.median(ps)) if ps else None,
                    }
                )
    tables = [
        Table(
            "Convex optimum (certified by column generation; one value per noise model)",
            [
                ("noise_type", "noise"),
                ("noise", "level"),
                ("n", "n"),
                ("cells", "cells"),
                ("p_star", "p* (certified)"),
                ("p_star_rel_gap", "rel. gap"),
                ("p_star_kind", "kind"),
                ("neurons", "neurons"),
                ("colgen_seconds", "s"),
                ("psnr_noisy_test", "PSNR noisy te"),
                ("psnr_convex_test", "PSNR convex te"),
            ],
            refs,
        ),
        Table(
            f"Primal training spread ({cfg.seeds} seeds per cell, {cfg.epochs} epochs, "
            f"width {cfg.neurons})",
            [
                ("noise_type", "noise"),
                ("optimizer", "optimizer"),
                ("init", "init"),
                ("runs", "runs"),
                ("diverged", "diverged"),
                ("min_objective", "min P"),
                ("median_objective", "median P"),
                ("max_objective", "max P"),
                ("median_rel_excess", "median (P - p*)/p*"),
                ("median_psnr_test", "median PSNR te"),
            ],
            summary,
            note="Learning rates: "
            + ", ".join(f"{k} {v:g}" for k, v in LEARNING_RATES.items())
            + ". No trained network can go below the certified p*.",
        ),
    ]
    notes = [] if use_torch else ["torch is not installed: no primal runs"]
    return write_outputs(
        out,
        NAME,
        config={
            "size": size,
            "seed": seed,
            "learning_rates": LEARNING_RATES,
            "inits": [list(i) for i in INITS],
            **asdict(cfg),
        },
        runs=rows,
        tables=tables,
        extra={"references": refs, "summary": summary, "notes": notes},
        seconds=time.perf_counter() - start,
        figures=figures,
    )
