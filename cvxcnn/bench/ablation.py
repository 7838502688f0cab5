"""Ablation: objective and gap vs the number of sampled patterns, at low and high noise.

On 1-D synthetic signals with a kernel of 3 (few enough cells to enumerate),
column generation gives the **certified** global optimum ``p*``. Then the
convex program is solved over ``P`` Gaussian-sampled patterns for growing
``P`` (several sampling seeds), and for each solution:

- its objective (an upper bound on ``p*``) and the excess over ``p*``;
- the **certified** gap of the reconstructed network (dual bound with the
  oracle over EVERY cell);
- two **estimated** gaps (oracle over sampled cells only): with the program's
  own patterns as the oracle's cells, and with an independent sample of
  cells. Neither is a bound: a cell the sample misses can hold a larger
  ``M(r)``. (The oracle also scores the unit directions ``Y^T D_i r`` it
  visits in whatever cell they fall, so even the "own cells" estimate sees
  more than the restricted program's dual constraints.)
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
    finite_or_none,
    progress_bar,
    pyplot,
    relative_excess,
    save_figure,
    write_outputs,
)

NAME = "ablation"


@dataclass(frozen=True)
class AblationConfig:
    """Sizes of the ablation benchmark.

    Attributes
    ----------
    length : int
        Signal length (one signal: ``n = length`` patches).
    kernel : int
    beta : float
    noises : tuple of (str, float)
        ``(label, Gaussian sigma)``: low and high noise.
    patterns : tuple of int
        Gaussian generators drawn (deduplicated: the program may have fewer).
    repeats : int
        Sampling seeds per ``P``.
    oracle_samples : int
        Independent sampled cells of the second estimated gap.
    """

    length: int = 64
    kernel: int = 3
    beta: float = 1e-2
    noises: tuple[tuple[str, float], ...] = (("low", 0.1), ("high", 0.5))
    patterns: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    repeats: int = 3
    oracle_samples: int = 500


CONFIGS: dict[str, AblationConfig] = {
    "tiny": AblationConfig(length=12, patterns=(2, 8, 32), repeats=1, oracle_samples=50),
    "default": AblationConfig(),
    "paper": AblationConfig(
        length=128,
        patterns=tuple(2**k for k in range(2, 15)),
        repeats=5,
        oracle_samples=2000,
    ),
}


def _plot(rows: list[dict], refs: list[dict], out_dir: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(refs), figsize=(4.6 * len(refs), 3.3), squeeze=False)
    series = [
        ("rel_excess", "objective excess over p* (certified)", "C0", "o"),
        ("cert_rel_gap", "gap, CERTIFIED (oracle over every cell)", "C1", "s"),
        ("est_rel_gap_indep", "gap, estimated (independent sampled cells)", "C2", "^"),
        ("est_rel_gap_same", "gap, estimated (program's own cells)", "C3", "v"),
    ]
    for ax, ref in zip(axes[0], refs, strict=True):
        sub = [r for r in rows if r["noise_label"] == ref["noise_label"]]
        for key, label, color, marker in series:
            x = [r["patterns"] for r in sub]
            y = [max(r[key], 1e-10) if r.get(key) is not None else np.nan for r in sub]
            ax.loglog(x, y, marker, color=color, ms=3, alpha=0.6, label=label)
            groups: dict[int, list[dict]] = {}
            for r in sub:
                groups.setdefault(r["requested"], []).append(r)
            xs, ys = [], []
            for req in sorted(groups):
                g = groups[req]
                vals = [max(r[key], 1e-10) for r in g if r.get(key) is not None]
                if vals:
                    xs.append(float(np.median([r["patterns"] for r in g])))
                    ys.append(float(np.median(vals)))
            ax.loglog(xs, ys, "-", color=color, lw=1.0)
        ax.set_xlabel("distinct sampled patterns P (line: median per sample size)")
        ax.set_ylabel("relative excess / relative gap (clipped at 1e-10)")
        ax.set_title(f"{ref['noise_label']} noise (sigma {ref['noise']}), {ref['cells']} cells")
        ax.legend(fontsize=6)
    return save_figure(fig, out_dir, f"{NAME}_patterns.png")


def run(out_dir: str | Path, size: str = "default", seed: int = 0, progress: bool = True) -> dict:
    """Run the ablation and write its JSON, CSV, Markdown and PNG.

    Parameters
    ----------
    out_dir : path
    size : {"tiny", "default", "paper"}
    seed : int
        Seeds the signals, the noise and the pattern samples.
    progress : bool

    Returns
    -------
    dict
        The JSON payload; ``references`` holds the certified optima.
    """
    from cvxcnn.arrangements import enumerate_relu_patterns, sample_relu_patterns
    from cvxcnn.bench._models import problem_for
    from cvxcnn.certify import certify_relu
    from cvxcnn.colgen import solve_colgen
    from cvxcnn.data import synthetic_1d
    from cvxcnn.fit import fit_relu

    cfg = CONFIGS[check_size(size)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: list[dict] = []
    refs: list[dict] = []
    total = len(cfg.noises) * (1 + len(cfg.patterns) * cfg.repeats)
    with progress_bar(total, NAME, progress) as bar:
        for i, (label, noise) in enumerate(cfg.noises):
            data = synthetic_1d(1, length=cfg.length, noise=noise, random_state=seed)
            problem = problem_for(data.noisy, data.clean, cfg.kernel)
            bar.set_postfix_str(f"{label}: column generation")
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
                "noise_label": label,
                "noise": noise,
                "n": problem.n,
                "d": problem.d,
                "cells": len(cells),
                "p_star": cert.upper_bound,
                "p_star_lower": cert.lower_bound,
                "p_star_kind": "certified" if cert.certified and cg.converged else "not certified",
                "p_star_rel_gap": cert.relative_gap,
                "colgen_patterns": cg.patterns_used,
                "neurons": cg.fit.neurons,
                "colgen_seconds": sw.seconds,
            }
            refs.append(ref)
            p_star = ref["p_star"]
            bar.update(1)
            for P in cfg.patterns:
                for rep in range(cfg.repeats):
                    bar.set_postfix_str(f"{label}: P={P} rep {rep}")
                    pats = sample_relu_patterns(
                        problem.Y, P, random_state=child_seed(seed, i, P, rep)
                    )
                    with Stopwatch() as sw:
                        fit = fit_relu(problem, pats, beta=cfg.beta)
                    row = {
                        "noise_label": label,
                        "noise": noise,
                        "requested": P,
                        "repeat": rep,
                        "patterns": len(pats),
                        "status": fit.status,
                        "objective": finite_or_none(fit.objective),
                        "objective_kind": "upper bound (sampled patterns)",
                        "p_star": p_star,
                        "fit_seconds": sw.seconds,
                    }
                    row["rel_excess"] = relative_excess(fit.primal_objective, p_star)
                    if fit.network is not None:
                        c_exact = certify_relu(fit.network, problem, cells, beta=cfg.beta)
                        c_same = certify_relu(fit.network, problem, pats, beta=cfg.beta)
                        indep = sample_relu_patterns(
                            problem.Y,
                            cfg.oracle_samples,
                            random_state=child_seed(seed, i, P, rep, 1),
                        )
                        c_ind = certify_relu(fit.network, problem, indep, beta=cfg.beta)
                        row.update(
                            cert_lower=c_exact.lower_bound,
                            cert_kind=c_exact.certificate,
                            cert_rel_gap=c_exact.relative_gap,
                            est_lower_same=c_same.lower_bound,
                            est_rel_gap_same=c_same.relative_gap,
                            est_kind_same=c_same.certificate,
                            est_lower_indep=c_ind.lower_bound,
                            est_rel_gap_indep=c_ind.relative_gap,
                            est_kind_indep=c_ind.certificate,
                            indep_cells=len(indep),
                        )
                    rows.append(row)
                    bar.update(1)
    figures = [_plot(rows, refs, out)]
    summary = []
    for ref in refs:
        for P in cfg.patterns:
            sub = [
                r for r in rows if r["noise_label"] == ref["noise_label"] and r["requested"] == P
            ]

            def med(key: str, sub: list[dict] = sub) -> float | None:
                vals = [r[key] for r in sub if r.get(key) is not None]
                return float(np.median(vals)) if vals else None

            summary.append(
                {
                    "noise_label": ref["noise_label"],
                    "noise": ref["noise"],
                    "requested": P,
                    "patterns": med("patterns"),
                    "objective": med("objective"),
                    "p_star": ref["p_star"],
                    "rel_excess": med("rel_excess"),
                    "cert_rel_gap": med("cert_rel_gap"),
                    "est_rel_gap_same": med("est_rel_gap_same"),
                    "est_rel_gap_indep": med("est_rel_gap_indep"),
                    "fit_seconds": med("fit_seconds"),
                }
            )
    tables = [
        Table(
            "Certified references (column generation, oracle over every cell)",
            [
                ("noise_label", "noise"),
                ("noise", "sigma"),
                ("n", "n"),
                ("cells", "cells"),
                ("p_star", "p* (certified)"),
                ("p_star_lower", "certified lower"),
                ("p_star_rel_gap", "rel. gap"),
                ("p_star_kind", "kind"),
                ("colgen_patterns", "patterns used"),
                ("neurons", "neurons"),
                ("colgen_seconds", "s"),
            ],
            refs,
        ),
        Table(
            f"Objective and gaps vs sampled patterns (median over {cfg.repeats} seeds)",
            [
                ("noise_label", "noise"),
                ("requested", "samples"),
                ("patterns", "distinct P"),
                ("objective", "objective (upper bd.)"),
                ("p_star", "p*"),
                ("rel_excess", "rel. excess"),
                ("cert_rel_gap", "rel. gap CERTIFIED"),
                ("est_rel_gap_indep", "rel. gap est. (indep. cells)"),
                ("est_rel_gap_same", "rel. gap est. (own cells)"),
                ("fit_seconds", "solve s"),
            ],
            summary,
            note="Estimated gaps use a sampled oracle and can be far below the certified gap "
            "(they are not bounds). Relative gaps are gap / objective.",
        ),
    ]
    return write_outputs(
        out,
        NAME,
        config={"size": size, "seed": seed, **asdict(cfg)},
        runs=rows,
        tables=tables,
        extra={"references": refs, "summary": summary},
        seconds=time.perf_counter() - start,
        figures=figures,
    )
