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

from dataclasses import dataclass

import numpy as np

from cvxcnn.bench.report import Table, finite_or_none, median_or_none, relative_excess
from cvxcnn.bench.runner import BenchmarkRun, Stopwatch, benchmark

NAME = "ablation"


@dataclass(frozen=True)
class AblationConfig:
    """Sizes of the ablation benchmark.

    ``length`` sets the cost: the certified reference enumerates the
    ``2 (1 + (n - 1) + (n - 1)(n - 2) / 2)`` cells of the 1-D arrangement
    (``n = length``, kernel 3: 134 cells at ``tiny``, 4034 at ``default``,
    16258 at ``paper``) before column generation over them; every entry of
    ``patterns`` then costs ``repeats`` convex fits, each certified by the
    oracle over those cells.

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


def _plot(ax: object, rows: list[dict], ref: dict) -> None:
    series = [
        ("rel_excess", "objective excess over p* (certified)", "C0", "o"),
        ("cert_rel_gap", "gap, CERTIFIED (oracle over every cell)", "C1", "s"),
        ("est_rel_gap_indep", "gap, estimated (independent sampled cells)", "C2", "^"),
        ("est_rel_gap_same", "gap, estimated (program's own cells)", "C3", "v"),
    ]
    sub = [r for r in rows if r["noise_label"] == ref["noise_label"]]
    groups: dict[int, list[dict]] = {}
    for r in sub:
        groups.setdefault(r["requested"], []).append(r)
    for key, label, color, marker in series:
        x = [r["patterns"] for r in sub]
        y = [max(r[key], 1e-10) if r.get(key) is not None else np.nan for r in sub]
        ax.loglog(x, y, marker, color=color, ms=3, alpha=0.6, label=label)
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


def reference(bench: BenchmarkRun, i: int, label: str, noise: float) -> tuple[dict, object, object]:
    """The certified optimum of noise level ``i``: (reference row, problem, every cell)."""
    from cvxcnn.bench.models import certified_optimum, problem_for
    from cvxcnn.data import synthetic_1d

    cfg = bench.cfg
    data = synthetic_1d(1, length=cfg.length, noise=noise, random_state=bench.seed)
    problem = problem_for(data.noisy, data.clean, cfg.kernel)
    opt = certified_optimum(problem, cfg.beta, bench.child_seed(i, 0))
    ref = {"noise_label": label, "noise": noise, "n": problem.n, "d": problem.d}
    return {**ref, **opt.reference()}, problem, opt.cells


def pattern_case(
    bench: BenchmarkRun, ref: dict, problem: object, cells: object, key: tuple[int, int, int]
) -> dict:
    """One program over ``P`` sampled patterns (``key = (i, P, repeat)``) and its gaps."""
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.certificates import certify_relu
    from cvxcnn.fitting import fit_relu

    cfg, (i, P, rep) = bench.cfg, key
    pats = sample_relu_patterns(problem.Y, P, random_state=bench.child_seed(i, P, rep))
    with Stopwatch() as sw:
        fit = fit_relu(problem, pats, beta=cfg.beta)
    row = {"noise_label": ref["noise_label"], "noise": ref["noise"], "requested": P}
    row.update(repeat=rep, patterns=len(pats), status=fit.status)
    row.update(objective=finite_or_none(fit.objective))
    row.update(objective_kind="upper bound (sampled patterns)", p_star=ref["p_star"])
    row.update(fit_seconds=sw.seconds)
    row["rel_excess"] = relative_excess(fit.primal_objective, ref["p_star"])
    if fit.network is None:
        return row
    indep = sample_relu_patterns(
        problem.Y, cfg.oracle_samples, random_state=bench.child_seed(i, P, rep, 1)
    )
    certs = {
        kind: certify_relu(fit.network, problem, oracle, beta=cfg.beta)
        for kind, oracle in (("exact", cells), ("same", pats), ("indep", indep))
    }
    row.update(
        cert_lower=certs["exact"].lower_bound,
        cert_kind=certs["exact"].certificate,
        cert_rel_gap=certs["exact"].relative_gap,
    )
    for kind in ("same", "indep"):
        row[f"est_lower_{kind}"] = certs[kind].lower_bound
        row[f"est_rel_gap_{kind}"] = certs[kind].relative_gap
        row[f"est_kind_{kind}"] = certs[kind].certificate
    row["indep_cells"] = len(indep)
    return row


def _summary(cfg: AblationConfig, rows: list[dict], refs: list[dict]) -> list[dict]:
    keys = ("patterns", "objective", "p_star", "rel_excess", "cert_rel_gap")
    keys += ("est_rel_gap_same", "est_rel_gap_indep", "fit_seconds")
    summary = []
    for ref in refs:
        for P in cfg.patterns:
            sub = [
                r for r in rows if r["noise_label"] == ref["noise_label"] and r["requested"] == P
            ]
            entry = {"noise_label": ref["noise_label"], "noise": ref["noise"], "requested": P}
            for key in keys:
                entry[key] = median_or_none(r.get(key) for r in sub)
            entry["p_star"] = ref["p_star"]
            summary.append(entry)
    return summary


@benchmark(NAME, CONFIGS)
def run(bench: BenchmarkRun) -> dict:
    """Run the ablation and write its JSON, CSV, Markdown and PNG.

    The references and the pattern cases run through :meth:`BenchmarkRun.map`
    (serially, or on Dask with ``scheduler=``).

    The seed drives the signals, the noise and the pattern samples; ``references``
    in the payload holds the certified optima.
    """
    cfg = bench.cfg
    with bench.sweep(len(cfg.noises) * (1 + len(cfg.patterns) * cfg.repeats)) as bar:
        labels = [f"{label}: column generation" for label, _ in cfg.noises]
        cases = [(bench, i, label, noise) for i, (label, noise) in enumerate(cfg.noises)]
        references = bench.map(reference, cases, labels, bar)
        refs = [ref for ref, _, _ in references]
        cases, labels = [], []
        for i, (ref, problem, cells) in enumerate(references):
            for P in cfg.patterns:
                for rep in range(cfg.repeats):
                    cases.append((bench, ref, problem, cells, (i, P, rep)))
                    labels.append(f"{ref['noise_label']}: P={P} rep {rep}")
        rows = bench.map(pattern_case, cases, labels, bar)
    figsize = (4.6 * len(refs), 3.3)
    with bench.figure("patterns", 1, len(refs), figsize=figsize, squeeze=False) as (_, axes):
        for ax, ref in zip(axes[0], refs, strict=True):
            _plot(ax, rows, ref)
    from cvxcnn.bench.models import CertifiedOptimum

    summary = _summary(cfg, rows, refs)
    tables = [
        Table(
            "Certified references (column generation, oracle over every cell)",
            [("noise_label", "noise"), ("noise", "sigma"), ("n", "n"), *CertifiedOptimum.columns()],
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
    return bench.finish(rows, tables, extra={"references": refs, "summary": summary})
