"""Gap benchmark: digits denoising at noise 0.25, 0.5, 0.75, convex vs trained.

For each noise level, on a few noisy 8x8 digits (training) and held-out digits
(test), with a 3x3 kernel:

ReLU
    - convex optimum over sampled patterns (an UPPER bound on the global optimum);
    - the reconstructed network's primal objective (equal to it up to solver accuracy);
    - the primal objective of a network trained by PyTorch Adam;
    - a lower bound from each network's residual via the dual certificate, with
      the oracle run over SAMPLED cells only: an **estimate**, not a certificate
      (digits have astronomically many cells); the larger of the two is reported;
    - gaps (objective - estimated lower bound) and train/test PSNR.

Soft threshold (fixed threshold lambda, Xiong et al.'s network)
    - program 6a over sampled triples (learnable thresholds; an upper bound on
      the learnable optimum, so only an **estimated** lower end of the bracket);
    - the fixed-lambda bracket (:func:`cvxcnn.soft_threshold.fixed_threshold_bracket`)
      with the trained network among its upper candidates;
    - the paper's program (Xiong et al. eq. 22) and the ST network read off it;
    - a PyTorch-trained ST network at lambda; train/test PSNR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn.bench.report import Table, finite_or_none, nan_if_none
from cvxcnn.bench.runner import BenchmarkRun, PrimalSettings, Stopwatch, benchmark, torch_available

NAME = "gap"


@dataclass(frozen=True)
class GapConfig:
    """Sizes of the gap benchmark.

    Each noise level costs one ReLU convex fit over ``patterns``, the
    estimated bound's oracle over ``oracle_samples`` cells (and the
    program's patterns) for each network, and with ``st`` program 6a, the
    paper program over ``triples`` and the bracket's polish; ``primal`` is
    trained once per part. The test digits follow the training ones in the
    data set, so none is trained on.

    Attributes
    ----------
    noises : tuple of float
        Gaussian noise levels (Sahiner et al. Sec. 5.1).
    train_images, test_images : int
        Digits for training and held-out testing (64 patches each).
    kernel : int
    beta : float
    patterns : int
        Sampled ReLU patterns of the convex program.
    oracle_samples : int
        Sampled cells (half data-directed) for the ESTIMATED lower bound.
    primal : PrimalSettings
        PyTorch Adam runs (ReLU and ST).
    st : bool
        Run the soft-threshold part.
    threshold : float
        Fixed soft threshold lambda.
    triples : int
        Sampled triples of program 6a and of the paper program.
    polish_iter : int
        L-BFGS-B iterations of the bracket's polish step.
    """

    noises: tuple[float, ...] = (0.25, 0.5, 0.75)
    train_images: int = 4
    test_images: int = 8
    kernel: int = 3
    beta: float = 0.5
    patterns: int = 200
    oracle_samples: int = 4000
    primal: PrimalSettings = PrimalSettings(neurons=128, epochs=2000, lr=1e-2)
    st: bool = True
    threshold: float = 0.1
    triples: int = 100
    polish_iter: int = 500


CONFIGS: dict[str, GapConfig] = {
    "tiny": GapConfig(
        noises=(0.25, 0.75),
        train_images=1,
        test_images=1,
        patterns=8,
        oracle_samples=50,
        primal=PrimalSettings(neurons=8, epochs=20),
        triples=8,
        polish_iter=20,
    ),
    "default": GapConfig(),
    "paper": GapConfig(
        train_images=16,
        test_images=16,
        patterns=1000,
        oracle_samples=20000,
        primal=PrimalSettings(neurons=512, epochs=10000),
        triples=500,
        polish_iter=3000,
    ),
}


def _psnr_pair(net: object, train: object, test: object, kernel: int) -> tuple[float, float]:
    from cvxcnn.bench.models import psnr_of

    return tuple(psnr_of(net, d.noisy, d.clean, kernel_size=kernel) for d in (train, test))


def _psnr_columns(row: dict, nets: dict, train: object, test: object, kernel: int) -> None:
    for name, net in nets.items():
        if net is not None:
            row[f"psnr_{name}_train"], row[f"psnr_{name}_test"] = _psnr_pair(
                net, train, test, kernel
            )


def _trained(cfg: GapConfig, data: object, seed: int, **options: object) -> tuple:
    """:func:`~cvxcnn.bench.models.train_with` ``cfg.primal`` on ``data`` (ReLU and ST parts)."""
    from cvxcnn.bench.models import train_with

    return train_with(
        cfg.primal,
        data.noisy,
        data.clean,
        kernel_size=cfg.kernel,
        beta=cfg.beta,
        seed=seed,
        **options,
    )


def _estimated_lower(cfg: GapConfig, problem: object, nets: dict, cells: object) -> dict:
    """The largest sampled-oracle dual bound over the networks (an estimate)."""
    from cvxcnn.certificates import certify_relu

    lowers = {}
    with Stopwatch() as sw:
        for name, net in nets.items():
            if net is None:
                continue
            cert = certify_relu(net, problem, cells, beta=cfg.beta)
            assert cert.certificate != "certified"  # sampled cells: never a certificate
            lowers[name] = cert.lower_bound
    return {
        "lower_bound": max(lowers.values()) if lowers else None,
        "lower_kind": f"estimated (sampled oracle, {len(cells)} cells)",
        "lower_from": max(lowers, key=lowers.get) if lowers else None,
        "oracle_seconds": sw.seconds,
    }


def relu_case(bench: BenchmarkRun, noise: float, i: int, train: object, test: object) -> dict:
    """The ReLU row of one noise level: convex fit, trained network, estimated bound, PSNR."""
    from cvxcnn.arrangements import sample_relu_patterns
    from cvxcnn.bench.models import problem_for
    from cvxcnn.fitting import fit_relu
    from cvxcnn.metrics import psnr

    cfg = bench.cfg
    problem = problem_for(train.noisy, train.clean, cfg.kernel)
    row: dict = {"part": "relu", "noise": noise, "n": problem.n, "d": problem.d}
    patterns = sample_relu_patterns(problem.Y, cfg.patterns, random_state=bench.child_seed(i, 1))
    fit = fit_relu(problem, patterns, beta=cfg.beta)
    row.update(
        patterns=len(patterns),
        status=fit.status,
        convex_objective=finite_or_none(fit.objective),
        convex_kind="upper bound (sampled patterns)",
        reconstructed_objective=finite_or_none(fit.primal_objective),
        convex_neurons=fit.neurons,
        convex_compile_seconds=fit.solve.compile_seconds,
        convex_solve_seconds=fit.solve.solve_seconds,
    )
    nets = {"convex": fit.network}
    if torch_available():
        trow, tnet = _trained(cfg, train, bench.child_seed(i, 2))
        row.update(
            trained_objective=trow["final_objective"],
            trained_seconds=trow["train_seconds"],
            trained_status=trow["status"],
        )
        if tnet is not None:
            nets["trained"] = tnet
    cells = sample_relu_patterns(
        problem.Y, cfg.oracle_samples, data_directed=0.5, random_state=bench.child_seed(i, 3)
    ).union(patterns)
    row.update(_estimated_lower(cfg, problem, nets, cells))
    lower, trained = row["lower_bound"], row.get("trained_objective")
    row["gap_convex"] = None if lower is None else row["reconstructed_objective"] - lower
    row["gap_trained"] = None if lower is None or trained is None else trained - lower
    row["psnr_noisy_train"] = psnr(train.noisy, train.clean, data_range=1.0)
    row["psnr_noisy_test"] = psnr(test.noisy, test.clean, data_range=1.0)
    _psnr_columns(row, nets, train, test, cfg.kernel)
    return row


def st_case(bench: BenchmarkRun, noise: float, i: int, train: object, test: object) -> dict:
    """The soft-threshold row of one noise level: 6a, paper program, trained net, bracket."""
    from cvxcnn.bench.models import as_st_network, problem_for
    from cvxcnn.bracket import fixed_threshold_bracket
    from cvxcnn.fitting import fit_st
    from cvxcnn.soft_threshold import sample_st_triples

    cfg, lam = bench.cfg, bench.cfg.threshold
    problem = problem_for(train.noisy, train.clean, cfg.kernel)
    triples = sample_st_triples(
        problem.Y, cfg.triples, threshold=lam, random_state=bench.child_seed(i, 4)
    )
    row: dict = {"part": "st", "noise": noise, "threshold": lam, "triples": len(triples)}
    row.update(n=problem.n, d=problem.d)
    with Stopwatch() as sw:
        fit6a = fit_st(problem, triples, beta=cfg.beta)
    row.update(
        st6a_objective=finite_or_none(fit6a.objective),
        st6a_status=fit6a.status,
        st6a_kind="upper bound on the learnable-threshold optimum (sampled triples)",
        st6a_seconds=sw.seconds,
    )
    with Stopwatch() as sw:
        paper = fit_st(problem, triples, form="paper", threshold=lam, beta=cfg.beta)
    row.update(
        paper_objective=finite_or_none(paper.objective),
        paper_status=paper.status,
        paper_network_objective=finite_or_none(paper.primal_objective),
        paper_seconds=sw.seconds,
    )
    given, trained_net = [], None
    if torch_available():
        seed = bench.child_seed(i, 5)
        trow, trained_net = _trained(cfg, train, seed, activation="st", threshold=lam)
        row.update(trained_objective=trow["final_objective"], trained_seconds=trow["train_seconds"])
        if trained_net is not None:
            given.append(as_st_network(trained_net))
    with Stopwatch() as sw:
        bracket = fixed_threshold_bracket(
            problem,
            triples,
            lam,
            beta=cfg.beta,
            fit=fit6a,
            networks=given,
            max_iter=cfg.polish_iter,
        )
    row.update(
        bracket_lower=finite_or_none(bracket.lower),
        bracket_lower_kind=bracket.lower_kind,
        bracket_upper=finite_or_none(bracket.upper),
        bracket_upper_source=bracket.upper_source,
        bracket_gap=finite_or_none(bracket.gap),
        bracket_seconds=sw.seconds,
    )
    nets = {"paper_net": paper.network, "bracket_best": bracket.network}
    if trained_net is not None:
        nets["trained"] = trained_net
    _psnr_columns(row, nets, train, test, cfg.kernel)
    return row


def _plot_objectives(ax: object, relu: list[dict]) -> None:
    x = np.arange(len(relu))
    keys = [
        ("reconstructed_objective", "convex (sampled, upper bd.)"),
        ("trained_objective", "trained (Adam)"),
        ("lower_bound", "lower bound (ESTIMATED)"),
    ]
    for j, (key, label) in enumerate(keys):
        ax.bar(x + 0.27 * j, nan_if_none(r.get(key) for r in relu), 0.27, label=label)
    ax.set_xticks(x + 0.27, [f"sigma {r['noise']}" for r in relu])
    ax.set_ylabel("objective P(U, v)")
    ax.set_title("ReLU: objectives and estimated lower bound")
    ax.legend()


def _plot_psnr(ax: object, relu: list[dict], st: list[dict]) -> None:
    series = [
        ("noisy", "noisy", "k", relu, "o-"),
        ("convex", "ReLU convex", "C0", relu, "o-"),
        ("trained", "ReLU trained", "C1", relu, "o-"),
        ("paper_net", "ST paper net", "C2", st, "o-"),
        ("bracket_best", "ST bracket best", "C3", st, "o-"),
        ("trained", "ST trained", "C4", st, "s--"),
    ]
    for key, label, color, src, style in series:
        vals = [r.get(f"psnr_{key}_test") for r in src]
        if src and any(v is not None for v in vals):
            x = [r["noise"] for r in src]
            ax.plot(x, nan_if_none(vals), style, color=color, label=label)
    ax.set_xlabel("noise sigma")
    ax.set_ylabel("test PSNR (dB)")
    ax.set_title("held-out digits")
    ax.legend()


@benchmark(NAME, CONFIGS)
def run(bench: BenchmarkRun) -> dict:
    """Run the gap benchmark and write its JSON, CSV, Markdown and PNGs.

    The seed drives the digits, the noise, the patterns/triples and the trainers.
    """
    from cvxcnn.data import load_digits

    cfg = bench.cfg
    parts = [("relu", relu_case)] + ([("st", st_case)] if cfg.st else [])
    rows: list[dict] = []
    with bench.sweep(len(cfg.noises) * len(parts)) as bar:
        for i, noise in enumerate(cfg.noises):
            train = load_digits(cfg.train_images, noise=noise, random_state=bench.seed)
            test = load_digits(
                cfg.test_images, noise=noise, random_state=bench.seed, offset=cfg.train_images
            )
            for part, case in parts:
                with bar.step(f"{part} sigma={noise}") as sw:
                    row = case(bench, noise, i, train, test)
                rows.append({**row, "seconds": sw.seconds})
    relu = [r for r in rows if r["part"] == "relu"]
    st = [r for r in rows if r["part"] == "st"]
    with bench.figure("summary", 1, 2, figsize=(9, 3.2)) as (_, axes):
        _plot_objectives(axes[0], relu)
        _plot_psnr(axes[1], relu, st)
    return bench.finish(rows, _tables(cfg, relu, st))


def _tables(cfg: GapConfig, relu: list[dict], st: list[dict]) -> list[Table]:
    tables = [
        Table(
            "ReLU: objectives, estimated lower bound, gaps and PSNR (dB)",
            [
                ("noise", "sigma"),
                ("n", "n"),
                ("patterns", "P"),
                ("convex_objective", "convex opt. (upper bd.)"),
                ("reconstructed_objective", "reconstructed"),
                ("trained_objective", "trained (Adam)"),
                ("lower_bound", "lower bd. (ESTIMATED)"),
                ("gap_convex", "gap convex"),
                ("gap_trained", "gap trained"),
                ("psnr_noisy_train", "PSNR noisy tr"),
                ("psnr_convex_train", "convex tr"),
                ("psnr_trained_train", "trained tr"),
                ("psnr_noisy_test", "noisy te"),
                ("psnr_convex_test", "convex te"),
                ("psnr_trained_test", "trained te"),
                ("seconds", "s"),
            ],
            relu,
            note="The convex optimum uses sampled patterns: an upper bound on the global "
            "optimum. The lower bound is the dual bound with the oracle over SAMPLED cells "
            "(not every cell): an estimate, not a certificate.",
        )
    ]
    if cfg.st:
        tables.append(
            Table(
                f"Soft threshold (lambda = {cfg.threshold}): bracket, paper program, PSNR (dB)",
                [
                    ("noise", "sigma"),
                    ("triples", "triples"),
                    ("bracket_lower", "6a opt. = bracket lower"),
                    ("bracket_lower_kind", "lower kind"),
                    ("bracket_upper", "bracket upper"),
                    ("bracket_upper_source", "upper from"),
                    ("paper_objective", "paper program"),
                    ("paper_network_objective", "paper net"),
                    ("trained_objective", "trained ST"),
                    ("psnr_paper_net_test", "PSNR paper net te"),
                    ("psnr_bracket_best_test", "bracket best te"),
                    ("psnr_trained_test", "trained te"),
                    ("seconds", "s"),
                ],
                st,
                note="With sampled triples program 6a bounds nothing from below ('estimate'); the "
                "paper program is a convex program over a gated model, not the ST network; "
                "'paper net' is the true ST network at lambda read off its solution.",
            )
        )
    return tables
