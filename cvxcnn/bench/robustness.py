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

from dataclasses import dataclass

import numpy as np

from cvxcnn.bench.report import Table, median_or_none, relative_excess
from cvxcnn.bench.runner import BenchmarkRun, PrimalSettings, benchmark, torch_available

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
        The trained networks' width and full-batch steps; each case trains
        with ``PrimalSettings(neurons, epochs, LEARNING_RATES[optimizer])``
        (:class:`~cvxcnn.bench.runner.PrimalSettings`).
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


def _plot(ax: object, rows: list[dict], ref: dict, key: str, cfg: RobustnessConfig) -> None:
    rng = np.random.default_rng(0)  # jitter only
    markers = {label: m for (label, _, _), m in zip(INITS, ("o", "s", "^"), strict=True)}
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
                x, vals, markers[label], color=f"C{k}", ms=4, alpha=0.8,
                label=label if j == 0 else None,
            )  # fmt: skip
    if key == "final_objective":
        ax.axhline(ref["p_star"], color="k", lw=1.0, ls="--", label="convex optimum (certified)")
        ax.set_yscale("log")
        ax.set_ylabel("objective P(U, v)")
    else:
        ax.axhline(ref["psnr_convex_test"], color="k", lw=1.0, ls="--", label="convex")
        ax.axhline(ref["psnr_noisy_test"], color="grey", lw=0.8, ls=":", label="noisy")
        ax.set_ylabel("test PSNR (dB)")
    ax.set_xticks(range(len(cfg.optimizers)), cfg.optimizers)
    ax.set_title(f"{ref['noise_type']} noise (level {ref['noise']:.3g})")
    ax.legend(fontsize=6)


def _signals(cfg: RobustnessConfig, kind: str, level: float, seed: int) -> tuple:
    from cvxcnn.data import synthetic_1d

    common = dict(length=cfg.length, noise=level, noise_type=kind, random_state=seed)
    return synthetic_1d(1, **common), synthetic_1d(cfg.test_signals, **common, offset=1)


def reference(bench: BenchmarkRun, i: int, kind: str, level: float) -> tuple[dict, tuple]:
    """The certified convex optimum of noise model ``i`` and its PSNR: (row, (train, test))."""
    from cvxcnn.bench.models import certified_optimum, problem_for, psnr_of
    from cvxcnn.metrics import psnr

    cfg = bench.cfg
    tr, te = _signals(cfg, kind, level, bench.seed)
    problem = problem_for(tr.noisy, tr.clean, cfg.kernel)
    opt = certified_optimum(problem, cfg.beta, bench.child_seed(i, 0))
    ref = {"noise_type": kind, "noise": level, "n": problem.n}
    ref.update(opt.reference(patterns_used=False))
    ref["psnr_noisy_train"] = psnr(tr.noisy, tr.clean, data_range=1.0)
    ref["psnr_noisy_test"] = psnr(te.noisy, te.clean, data_range=1.0)
    ref["psnr_convex_test"] = psnr_of(opt.network, te.noisy, te.clean, kernel_size=cfg.kernel)
    return ref, (tr, te)


def training_case(
    bench: BenchmarkRun, ref: dict, data: tuple, key: tuple[int, int, int, int]
) -> dict:
    """One primal training run (``key = (noise, optimizer, init, seed)`` indices)."""
    from cvxcnn.bench.models import psnr_of, train_with

    cfg, (tr, te), (i, j, k, s) = bench.cfg, data, key
    opt, (label, init, std) = cfg.optimizers[j], INITS[k]
    primal = PrimalSettings(neurons=cfg.neurons, epochs=cfg.epochs, lr=LEARNING_RATES[opt])
    row, net = train_with(
        primal,
        tr.noisy,
        tr.clean,
        kernel_size=cfg.kernel,
        beta=cfg.beta,
        seed=bench.child_seed(i, j, k, s),
        optimizer=opt,
        init=init,
        init_std=std,
        target=ref["p_star"],
    )
    row["init"] = label
    row["psnr_test"] = (
        None if net is None else psnr_of(net, te.noisy, te.clean, kernel_size=cfg.kernel)
    )
    return {"noise_type": ref["noise_type"], "noise": ref["noise"], **row, "p_star": ref["p_star"]}


def _summary(cfg: RobustnessConfig, rows: list[dict], refs: list[dict]) -> list[dict]:
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
                if not sub:
                    continue
                objs = [r["final_objective"] for r in sub if r.get("final_objective") is not None]
                median = median_or_none(objs)
                summary.append(
                    {
                        "noise_type": ref["noise_type"],
                        "optimizer": opt,
                        "init": label,
                        "runs": len(sub),
                        "diverged": len(sub) - len(objs),
                        "min_objective": min(objs, default=None),
                        "median_objective": median,
                        "max_objective": max(objs, default=None),
                        "median_rel_excess": relative_excess(median, ref["p_star"]),
                        "median_psnr_test": median_or_none(r.get("psnr_test") for r in sub),
                    }
                )
    return summary


@benchmark(NAME, CONFIGS)
def run(bench: BenchmarkRun) -> dict:
    """Run the robustness benchmark and write its JSON, CSV, Markdown and PNG.

    The seed drives the signals, the noise, column generation and every
    initialization; ``references`` in the payload holds the certified convex optima.
    """
    cfg = bench.cfg
    use_torch = torch_available()
    per_noise = len(cfg.optimizers) * len(INITS) * cfg.seeds if use_torch else 0
    rows: list[dict] = []
    refs: list[dict] = []
    with bench.sweep(len(cfg.noises) * (1 + per_noise)) as bar:
        for i, (kind, level) in enumerate(cfg.noises):
            with bar.step(f"{kind}: column generation"):
                ref, data = reference(bench, i, kind, level)
            refs.append(ref)
            if not use_torch:
                continue
            for j, k, s in np.ndindex(len(cfg.optimizers), len(INITS), cfg.seeds):
                with bar.step(f"{kind}: {cfg.optimizers[j]} {INITS[k][0]} seed {s}"):
                    rows.append(training_case(bench, ref, data, (i, j, k, s)))
    if rows:
        figsize = (4.8 * len(refs), 5.6)
        with bench.figure("spread", 2, len(refs), figsize=figsize, squeeze=False) as (_, axes):
            for col, ref in enumerate(refs):
                _plot(axes[0, col], rows, ref, "final_objective", cfg)
                _plot(axes[1, col], rows, ref, "psnr_test", cfg)
    from cvxcnn.bench.models import CertifiedOptimum

    summary = _summary(cfg, rows, refs)
    tables = [
        Table(
            "Convex optimum (certified by column generation; one value per noise model)",
            [
                ("noise_type", "noise"),
                ("noise", "level"),
                ("n", "n"),
                *CertifiedOptimum.columns(lower=False, patterns_used=False),
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
    return bench.finish(
        rows,
        tables,
        extra={"references": refs, "summary": summary, "notes": notes},
        config={"learning_rates": LEARNING_RATES, "inits": [list(i) for i in INITS]},
    )
