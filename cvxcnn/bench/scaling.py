"""Scaling benchmark: convex solve time, iterations and memory vs P, n and d.

Three sweeps of the ReLU program (Sahiner et al. eq. 4), each solve in a
fresh ``spawn`` process so that its peak RSS is its own:

- ``P``: number of sign patterns (distinct Gaussian samples) on a fixed
  digits problem (2-D, kernel 3, d = 9);
- ``n``: number of patches, 1-D synthetic signals of growing length
  (kernel 3, d = 3) at a fixed number of patterns;
- ``d``: patch dimension, kernel 2, 3, 4 on the digits problem (d = 4, 9, 16).

Solvers: Clarabel with cvxcnn's defaults (QDLDL factorization, facet
reduction of the sign rows where ``fit_relu(facets="auto")`` applies it),
Clarabel with the Qhull facet reduction forced (``d <= 10``), Clarabel with
its own ``auto`` factorization choice on every sign row (cvxcnn's defaults
before the performance work), SCS (CVXPY defaults), plus every other
installed CVXPY solver that accepts the program (the others are skipped with
the solver's own reason). Fitted log-log slopes (``numpy.polyfit`` on log values) of
compile time, solve time, iterations and memory against the swept size.

Then the PyTorch primal trainer (Adam; L-BFGS too at default/paper size) on
the same problems: time to come within ``rtol = 1e-3`` of the **certified**
optimum where column generation can certify it (the small 1-D problems), else
of the best convex optimum found, which is labelled an **upper bound**.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvxcnn.bench.report import (
    Table,
    finite_or_none,
    loglog_slope,
    nan_if_none,
    relative_excess,
    set_log_xticks,
)
from cvxcnn.bench.runner import (
    BenchmarkRun,
    PrimalSettings,
    benchmark,
    child_seed,
    current_rss_mb,
    peak_rss_mb,
    reset_peak_rss,
    run_isolated,
    torch_available,
)

NAME = "scaling"

#: Solver variants always timed: label -> (CVXPY solver, options, ``facets`` of
#: ``fit_relu``). ``CLARABEL``: cvxcnn's defaults (QDLDL; ``facets="auto"``, which
#: skips the reduction where it costs more than it saves, e.g. n < 20 d);
#: ``CLARABEL-facets``: Qhull facet reduction forced wherever ``d <= 10``;
#: ``CLARABEL-auto``: Clarabel's own factorization choice (``auto``, which may pick
#: faer) on every sign row, i.e. the defaults before the performance work. Other
#: installed solvers are tried once on a tiny program and timed with the defaults.
MAIN_SOLVERS: dict[str, tuple[str, dict, str]] = {
    "CLARABEL": ("CLARABEL", {}, "auto"),
    "CLARABEL-facets": ("CLARABEL", {}, "hull"),
    "CLARABEL-auto": ("CLARABEL", {"direct_solve_method": "auto"}, "off"),
    "SCS": ("SCS", {}, "auto"),
}


@dataclass(frozen=True)
class ScalingConfig:
    """Sizes of the scaling benchmark.

    Attributes
    ----------
    p_values : tuple of int
        Patterns of the ``P`` sweep (digits, ``digit_images`` images, kernel 3).
    n_lengths : tuple of int
        Signal lengths of the ``n`` sweep (one 1-D signal: ``n`` = length).
    n_patterns : int
        Patterns of the ``n`` sweep.
    d_kernels : tuple of int
        Kernels of the ``d`` sweep (digits): ``d = k * k``.
    d_patterns : int
        Patterns of the ``d`` sweep.
    digit_images : int
        Digits in the ``P`` and ``d`` problems (64 patches each).
    beta : float
    noise : float
        Gaussian noise level of all data.
    certify_max_n : int
        Certify the optimum by column generation for 1-D problems up to this ``n``.
    trainers : tuple of (optimizer, lr, epochs)
        PyTorch runs per problem (empty: none).
    timeout : float
        Seconds per solve before the child process is stopped.
    solvers : tuple of str
        Labels of :data:`MAIN_SOLVERS` to time.
    """

    p_values: tuple[int, ...]
    n_lengths: tuple[int, ...]
    n_patterns: int
    d_kernels: tuple[int, ...]
    d_patterns: int
    digit_images: int = 2
    beta: float = 0.1
    noise: float = 0.5
    certify_max_n: int = 64
    trainers: tuple[tuple[str, float, int], ...] = (("adam", 1e-2, 4000),)
    timeout: float = 300.0
    solvers: tuple[str, ...] = tuple(MAIN_SOLVERS)


CONFIGS: dict[str, ScalingConfig] = {
    "tiny": ScalingConfig(
        p_values=(4, 8),
        n_lengths=(8, 16),
        n_patterns=4,
        d_kernels=(2, 3),
        d_patterns=4,
        digit_images=1,
        certify_max_n=8,
        trainers=(("adam", 1e-2, 30),),
        timeout=120.0,
        solvers=("CLARABEL", "CLARABEL-facets", "SCS"),
    ),
    "default": ScalingConfig(
        p_values=(16, 32, 64, 128, 256, 512),
        n_lengths=(32, 64, 128, 256, 512, 1024),
        n_patterns=64,
        d_kernels=(2, 3, 4, 5),
        d_patterns=64,
        certify_max_n=128,
        trainers=(("adam", 1e-2, 4000), ("lbfgs", 1.0, 200)),
    ),
    "paper": ScalingConfig(
        p_values=(16, 32, 64, 128, 256, 512, 1024, 2048),
        n_lengths=(32, 64, 128, 256, 512, 1024, 2048, 4096),
        n_patterns=128,
        d_kernels=(2, 3, 4, 5, 6),
        d_patterns=128,
        digit_images=4,
        certify_max_n=128,
        trainers=(("adam", 1e-2, 20000), ("lbfgs", 1.0, 1000)),
        timeout=3600.0,
    ),
}


# --------------------------------------------------------------------------- #
# Problems (rebuilt identically in the child process and for the trainer)
# --------------------------------------------------------------------------- #
def _data(kind: str, size: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from cvxcnn.data import load_digits, synthetic_1d

    if kind == "digits":
        data = load_digits(size, noise=noise, random_state=seed)
    else:
        data = synthetic_1d(1, length=size, noise=noise, random_state=seed)
    return data.noisy, data.clean


def solve_task(
    *,
    kind: str,
    size: int,
    kernel: int,
    n_patterns: int,
    solver: str,
    solver_options: dict,
    facets: str,
    beta: float,
    noise: float,
    seed: int,
) -> dict:
    """One convex solve; runs in the child process. Memory is measured around the solve."""
    from cvxcnn.bench.models import problem_for, sample_exactly
    from cvxcnn.fitting import fit_relu

    noisy, clean = _data(kind, size, noise, seed)
    problem = problem_for(noisy, clean, kernel)
    patterns = sample_exactly(problem.Y, n_patterns, child_seed(seed, 1))
    rss_before = current_rss_mb()
    reset_ok = reset_peak_rss()
    start = time.perf_counter()
    from cvxcnn.facets import HULL_MAX_RANK

    if facets == "hull" and problem.d > HULL_MAX_RANK:
        facets = "off"  # Qhull in more than 10 dimensions: its facet count explodes
    fit = fit_relu(
        problem, patterns, beta=beta, solver=solver, solver_options=solver_options, facets=facets
    )
    wall = time.perf_counter() - start
    peak = peak_rss_mb()
    return {
        "status": fit.status,
        "objective": finite_or_none(fit.objective),
        "primal_objective": finite_or_none(fit.primal_objective),
        "n": problem.n,
        "d": problem.d,
        "patterns": len(patterns),
        "neurons": fit.neurons,
        "iterations": fit.solve.iterations,
        "build_seconds": fit.build_seconds,
        "compile_seconds": fit.solve.compile_seconds,
        "solve_seconds": fit.solve.solve_seconds,
        "fit_seconds": wall,
        "constraint_rows": fit.constraint_rows,
        "constraint_rows_full": 2 * problem.n * len(patterns),
        "facet_method": fit.facets.get("method", "off"),
        "facet_seconds": fit.facets.get("seconds", 0.0),
        "facet_rounds": fit.facets.get("rounds", 0),
        "rss_before_mb": rss_before,
        "solve_peak_rss_mb": peak if reset_ok else None,
        "solve_rss_increase_mb": (peak - rss_before) if reset_ok and rss_before else None,
    }


def _other_solvers(only: Sequence[str] | None = None) -> tuple[list[str], list[dict]]:
    """Installed CVXPY solvers besides the main ones that solve a tiny instance of the program.

    ``only``: try just these names (those installed), e.g. the solvers a reference payload saw.
    """
    import cvxpy as cp

    from cvxcnn.fitting import fit_relu
    from cvxcnn.problem import problem_from_matrix

    rng = np.random.default_rng(0)
    Y = rng.standard_normal((6, 2))
    problem = problem_from_matrix(Y, rng.standard_normal(6))
    masks = Y @ rng.standard_normal((2, 3)) >= 0
    usable, notes = [], []
    main = {solver for solver, _, _ in MAIN_SOLVERS.values()}
    names = set(cp.installed_solvers()) - main
    if only is not None:
        names &= set(only)
    for name in sorted(names):
        try:
            fit = fit_relu(problem, masks.T.copy(), beta=0.1, solver=name)
            ok = fit.status in ("optimal", "optimal_inaccurate")
            reason = "" if ok else f"status {fit.status}: {fit.message}"
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        if ok:
            usable.append(name)
        else:
            notes.append({"solver": name, "note": "skipped: " + reason.splitlines()[0][:200]})
    return usable, notes


# --------------------------------------------------------------------------- #
# Primal trainer vs the convex optimum
# --------------------------------------------------------------------------- #
def _target(bench: BenchmarkRun, runs: list[dict], sweep: str, kind: str, size: int, kernel: int):
    """The trainer's target on one problem: certified where possible, else the best optimum."""
    from cvxcnn.bench.models import certified_optimum, problem_for

    cfg = bench.cfg
    best = [
        r
        for r in runs
        if (r["kind"], r["size"], r["kernel"]) == (kind, size, kernel)
        and r.get("status") == "optimal"
    ]
    info: dict = {"sweep": sweep, "kind": kind, "size": size, "kernel": kernel}
    noisy, clean = _data(kind, size, cfg.noise, bench.seed)
    if kind == "synthetic1d" and size <= cfg.certify_max_n:
        opt = certified_optimum(problem_for(noisy, clean, kernel), cfg.beta, bench.child_seed(2))
        info.update(
            target=opt.value,
            target_kind="certified" if opt.certified else "upper bound",
            certified_lower=opt.lower,
            certified_rel_gap=opt.rel_gap,
            cells=len(opt.cells),
            colgen_patterns=opt.patterns_used,
            colgen_seconds=opt.seconds,
            convex_neurons=opt.neurons,
        )
    else:
        upper = min((r["objective"] for r in best), default=None)
        neurons = max((r.get("neurons") or 0 for r in best), default=0)
        info.update(target=upper, target_kind="upper bound", convex_neurons=neurons)
    info["n"] = int(clean.size)
    return info, (noisy, clean)


def _trainer_rows(bench: BenchmarkRun, runs: list[dict], bar: object) -> tuple[list, list]:
    from cvxcnn.bench.models import train_with

    cfg = bench.cfg
    problems = [("n", "synthetic1d", length, 3) for length in cfg.n_lengths]
    problems += [("d", "digits", cfg.digit_images, k) for k in cfg.d_kernels]
    targets, rows = [], []
    for sweep, kind, size, kernel in problems:
        info, (noisy, clean) = _target(bench, runs, sweep, kind, size, kernel)
        targets.append(info)
        width = int(min(512, max(32, 2 * (info["convex_neurons"] or 16))))
        for j, (opt, lr, epochs) in enumerate(cfg.trainers):
            with bar.step(f"{sweep} {opt} {kernel}/{size}"):
                row, _ = train_with(
                    PrimalSettings(neurons=width, epochs=epochs, lr=lr),
                    noisy,
                    clean,
                    kernel_size=kernel,
                    beta=cfg.beta,
                    seed=bench.child_seed(3, j),
                    optimizer=opt,
                    target=info["target"],
                    rtol=1e-3,
                    stop_at_target=True,
                )
            keys = ("sweep", "kind", "size", "kernel", "n")
            rows.append({**{k: info[k] for k in keys}, **row, "target": info["target"]})
            rows[-1]["target_kind"] = info["target_kind"]
    return targets, rows


# --------------------------------------------------------------------------- #
# Tables and plots
# --------------------------------------------------------------------------- #
_SWEEP_X = {"P": "patterns", "n": "n", "d": "d"}


def _slopes(runs: list[dict], solvers: list[str]) -> list[dict]:
    out = []
    for sweep, xkey in _SWEEP_X.items():
        for solver in solvers:
            rows = [r for r in runs if r["sweep"] == sweep and r["solver"] == solver]
            rows = [r for r in rows if r.get("status") in ("optimal", "optimal_inaccurate")]
            xs = [r.get(xkey) for r in rows]
            entry = {"sweep": sweep, "x": xkey, "solver": solver, "points": len(rows)}
            for metric in (
                "compile_seconds",
                "solve_seconds",
                "iterations",
                "solve_peak_rss_mb",
                "solve_rss_increase_mb",
            ):
                entry[metric] = loglog_slope(xs, [r.get(metric) for r in rows])
            out.append(entry)
    return out


def _solver_line(
    ax: object, runs: list[dict], sweep: str, solver: str, y: str, fmt: str, **style: object
) -> None:
    """``y`` against the sweep's size for one solver, on log-log axes."""
    xkey = _SWEEP_X[sweep]
    rows = sorted(
        (r for r in runs if r["sweep"] == sweep and r["solver"] == solver and r.get(y) is not None),
        key=lambda r: r[xkey],
    )
    if rows:
        ax.loglog([r[xkey] for r in rows], nan_if_none(r.get(y) for r in rows), fmt, **style)


def _finish_axes(ax: object, runs: list[dict], sweep: str) -> None:
    xkey = _SWEEP_X[sweep]
    set_log_xticks(ax, [r[xkey] for r in runs if r["sweep"] == sweep and r.get(xkey)])
    ax.legend()


def _plot_time(axes: object, runs: list[dict], solvers: list[str], slopes: list[dict]) -> None:
    slope_of = {(s["sweep"], s["solver"]): s for s in slopes}
    for ax, (sweep, xkey) in zip(axes, _SWEEP_X.items(), strict=True):
        for i, solver in enumerate(solvers):
            sl = slope_of[(sweep, solver)]
            for key, style, alpha in (("solve", "o-", 1.0), ("compile", "s--", 0.6)):
                label = f"{solver} {key} ({_slope_txt(sl[f'{key}_seconds'])})"
                _solver_line(
                    ax, runs, sweep, solver, f"{key}_seconds",
                    style, color=f"C{i}", alpha=alpha, label=label,
                )  # fmt: skip
        ax.set_xlabel(xkey)
        ax.set_ylabel("seconds")
        ax.set_title(f"time vs {xkey}")
        _finish_axes(ax, runs, sweep)


def _plot_iterations_memory(
    axes: object, runs: list[dict], solvers: list[str], slopes: list[dict]
) -> None:
    slope_of = {(s["sweep"], s["solver"]): s for s in slopes}
    for col, (sweep, xkey) in enumerate(_SWEEP_X.items()):
        for i, solver in enumerate(solvers):
            sl = slope_of[(sweep, solver)]
            for row, key in enumerate(("iterations", "solve_rss_increase_mb")):
                label = f"{solver} ({_slope_txt(sl[key])})"
                _solver_line(
                    axes[row, col], runs, sweep, solver, key, "o-", color=f"C{i}", label=label
                )
        axes[0, col].set_title(f"iterations vs {xkey}")
        axes[1, col].set_title(f"peak RSS increase during solve vs {xkey}")
        axes[1, col].set_ylabel("MiB above RSS before build")
        axes[1, col].set_xlabel(xkey)
        for ax in axes[:, col]:
            _finish_axes(ax, runs, sweep)


def _trainer_series(rows: list[dict], targets: list[dict], opt: str, key: str) -> list[float]:
    out = []
    for t in targets:
        match = [
            r
            for r in rows
            if r["optimizer"] == opt
            and (r["kind"], r["size"], r["kernel"]) == (t["kind"], t["size"], t["kernel"])
        ]
        out.append(match[0].get(key) if match else None)
    return nan_if_none(out)


def _plot_trainer(axes: object, rows: list[dict], targets: list[dict]) -> None:
    kinds = {"certified": "cert.", "upper bound": "upper bd."}
    labels = [
        f"{'1-D' if t['kind'] == 'synthetic1d' else 'dig'} n={t['n']} k={t['kernel']} "
        f"({kinds.get(t['target_kind'], t['target_kind'])})"
        for t in targets
    ]
    opts = sorted({r["optimizer"] for r in rows})
    width = 0.8 / max(len(opts), 1)
    for j, opt in enumerate(opts):
        xs = np.arange(len(targets)) + j * width
        axes[0].bar(xs, _trainer_series(rows, targets, opt, "relative_excess"), width, label=opt)
        axes[1].bar(xs, _trainer_series(rows, targets, opt, "seconds_to_target"), width, label=opt)
    ticks = np.arange(len(targets)) + 0.4 - width / 2
    colgen = [t.get("colgen_seconds") or np.nan for t in targets]
    axes[1].plot(ticks, colgen, "k*", ms=7, label="column generation (certified solve)")
    axes[0].axhline(1e-3, color="k", lw=0.8, ls="--", label="rtol 1e-3")
    axes[0].axhline(0.0, color="grey", lw=0.6)
    axes[0].set_yscale("symlog", linthresh=1e-4)
    axes[0].set_ylabel("final (P - target) / |target|")
    axes[0].set_title("relative excess when training stopped")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("seconds")
    axes[1].set_title("training seconds to within 1e-3 (missing: not reached)")
    for ax in axes:
        ax.set_xticks(ticks, labels, fontsize=6, rotation=35, ha="right")
        ax.legend()


def _slope_txt(value: float | None) -> str:
    return "slope -" if value is None else f"slope {value:.2f}"


# --------------------------------------------------------------------------- #
# Entry point
# --------------------------------------------------------------------------- #
def _tasks(cfg: ScalingConfig) -> list[dict]:
    tasks = [
        dict(sweep="P", kind="digits", size=cfg.digit_images, kernel=3, n_patterns=p)
        for p in cfg.p_values
    ]
    tasks += [
        dict(sweep="n", kind="synthetic1d", size=length, kernel=3, n_patterns=cfg.n_patterns)
        for length in cfg.n_lengths
    ]
    tasks += [
        dict(sweep="d", kind="digits", size=cfg.digit_images, kernel=k, n_patterns=cfg.d_patterns)
        for k in cfg.d_kernels
    ]
    return tasks


def _solves(bench: BenchmarkRun, variants: dict, bar: object, isolate: bool) -> list[dict]:
    cfg, runs = bench.cfg, []
    for task in _tasks(cfg):
        for solver, (name, options, facets) in variants.items():
            with bar.step(f"{task['sweep']} {solver} {task['kernel']}/{task['size']}"):
                kwargs = {k: v for k, v in task.items() if k != "sweep"}
                kwargs.update(solver=name, solver_options=options, facets=facets)
                kwargs.update(beta=cfg.beta, noise=cfg.noise, seed=bench.seed)
                res = run_isolated(solve_task, kwargs, timeout=cfg.timeout, isolate=isolate)
            res.pop("traceback", None)
            runs.append({**task, "solver": solver, **res})
    return runs


def extra_solvers_of(payload: dict) -> list[str]:
    """The solvers besides the main ones that a scaling payload tried (timed or skipped).

    Passed as ``extra_solvers`` to rerun a recorded payload with the same solver
    set whatever else is installed now (the smoke reference check).
    """
    main = set(MAIN_SOLVERS) | {solver for solver, _, _ in MAIN_SOLVERS.values()}
    timed = {run["solver"] for run in payload.get("runs", [])} - main
    return sorted(timed | {note["solver"] for note in payload.get("skipped_solvers", [])})


@benchmark(NAME, CONFIGS)
def run(
    bench: BenchmarkRun, *, isolate: bool = True, extra_solvers: Sequence[str] | None = None
) -> dict:
    """Run the scaling benchmark and write its JSON, CSV, Markdown and PNGs.

    The seed drives the data, the patterns and the trainer. Options:
    ``isolate`` (default True) solves each program in a fresh ``spawn``
    process (per-run peak memory), False in this process; ``extra_solvers``
    (default: every installed CVXPY solver that solves a tiny instance) limits
    the solvers timed besides the main ones to these names.
    """
    cfg = bench.cfg
    extra_solvers, solver_notes = _other_solvers(extra_solvers)
    variants = {k: MAIN_SOLVERS[k] for k in cfg.solvers}
    variants.update({name: (name, {}, "auto") for name in extra_solvers})
    solvers = list(variants)
    use_torch = torch_available() and bool(cfg.trainers)
    n_train = (len(cfg.n_lengths) + len(cfg.d_kernels)) * len(cfg.trainers) if use_torch else 0
    targets, trainer_rows = [], []
    with bench.sweep(len(_tasks(cfg)) * len(solvers) + n_train) as bar:
        runs = _solves(bench, variants, bar, isolate)
        if use_torch:
            targets, trainer_rows = _trainer_rows(bench, runs, bar)
    slopes = _slopes(runs, solvers)
    with bench.figure("time", 1, 3, figsize=(10, 3.1)) as (_, axes):
        _plot_time(axes, runs, solvers, slopes)
    with bench.figure("iterations_memory", 2, 3, figsize=(10, 5.4)) as (_, axes):
        _plot_iterations_memory(axes, runs, solvers, slopes)
    if trainer_rows:
        with bench.figure("trainer", 1, 2, figsize=(10, 3.8)) as (_, axes):
            _plot_trainer(axes, trainer_rows, targets)
    notes = list(NOTES) + ([] if use_torch else ["torch is not installed: no trainer runs"])
    extra = {"slopes": slopes, "trainer": trainer_rows, "targets": targets}
    extra.update(skipped_solvers=solver_notes, notes=notes)
    tables = _tables(runs, slopes, targets, trainer_rows, solver_notes)
    return bench.finish(runs, tables, extra=extra, config={"solvers": variants})


NOTES = (
    "Each solve runs in a fresh spawn process; 'peak RSS' is that process's high-water "
    "mark from just before the program is built to the end of the solve (reset via "
    "/proc/self/clear_refs), 'increase' subtracts the RSS at that point (imports, data).",
    "Trainer targets marked 'certified' come from column generation with an exact oracle "
    "over every cell; 'upper bound' targets are sampled-pattern convex optima.",
)


def _tables(
    runs: list[dict],
    slopes: list[dict],
    targets: list[dict],
    trainer_rows: list[dict],
    solver_notes: list[dict],
) -> list[Table]:
    tables = _solve_tables(runs, slopes)
    if trainer_rows:
        tables.append(_trainer_table(targets, trainer_rows))
    if solver_notes:
        tables.append(
            Table(
                "Other installed CVXPY solvers",
                [("solver", "solver"), ("note", "note")],
                solver_notes,
            )
        )
    return tables


def _solve_tables(runs: list[dict], slopes: list[dict]) -> list[Table]:
    tables = []
    by_solver = {}
    for r in runs:
        if r["solver"] == "CLARABEL" and r.get("objective") is not None:
            by_solver[(r["sweep"], r["kind"], r["size"], r["kernel"], r["n_patterns"])] = r[
                "objective"
            ]
    rows = []
    for r in runs:
        key = (r["sweep"], r["kind"], r["size"], r["kernel"], r["n_patterns"])
        rows.append(
            {
                **r,
                "status": r.get("status") or r.get("error"),
                "rel_to_clarabel": relative_excess(r.get("objective"), by_solver.get(key)),
            }
        )
    tables.append(
        Table(
            "Convex solves (every run)",
            [
                ("sweep", "sweep"),
                ("solver", "solver"),
                ("n", "n"),
                ("d", "d"),
                ("patterns", "P"),
                ("status", "status"),
                ("objective", "objective (upper bound)"),
                ("rel_to_clarabel", "rel. diff. vs Clarabel"),
                ("iterations", "iters"),
                ("constraint_rows", "sign rows"),
                ("constraint_rows_full", "rows (full)"),
                ("facet_seconds", "facets s"),
                ("compile_seconds", "compile s"),
                ("solve_seconds", "solve s"),
                ("fit_seconds", "end-to-end s"),
                ("solve_peak_rss_mb", "peak RSS MiB"),
                ("solve_rss_increase_mb", "RSS increase MiB"),
            ],
            rows,
            note="Objectives use sampled patterns: upper bounds on the global optimum.",
        )
    )
    tables.append(
        Table(
            "Fitted log-log slopes (numpy.polyfit of log metric on log size)",
            [
                ("sweep", "sweep"),
                ("x", "x"),
                ("solver", "solver"),
                ("points", "points"),
                ("compile_seconds", "compile"),
                ("solve_seconds", "solve"),
                ("iterations", "iterations"),
                ("solve_peak_rss_mb", "peak RSS"),
                ("solve_rss_increase_mb", "RSS increase"),
            ],
            slopes,
        )
    )
    return tables


def _trainer_table(targets: list[dict], trainer_rows: list[dict]) -> Table:
    tgt = {(t["kind"], t["size"], t["kernel"]): t for t in targets}
    rows = []
    for r in trainer_rows:
        t = tgt[(r["kind"], r["size"], r["kernel"])]
        rows.append(
            {
                **r,
                "colgen_seconds": t.get("colgen_seconds"),
                "certified_rel_gap": t.get("certified_rel_gap"),
            }
        )
    return Table(
        "PyTorch trainer: time to within 1e-3 relative of the convex optimum",
        [
            ("sweep", "sweep"),
            ("n", "n"),
            ("kernel", "kernel"),
            ("target_kind", "target"),
            ("target", "target value"),
            ("certified_rel_gap", "cert. rel. gap"),
            ("colgen_seconds", "colgen s"),
            ("optimizer", "optimizer"),
            ("neurons", "width"),
            ("reached_target", "reached"),
            ("seconds_to_target", "s to target"),
            ("epochs_run", "epochs run"),
            ("train_seconds", "train s"),
            ("relative_excess", "final rel. excess"),
        ],
        rows,
        note="'certified': global optimum certified by column generation over every cell. "
        "'upper bound': best sampled-pattern convex optimum, NOT the global optimum; a "
        "trained network may go below it (negative excess).",
    )
