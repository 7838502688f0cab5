"""Two-layer vs deeper denoisers on digits, and what each one computes (Sahiner 4.2-4.3).

Trains on noisy 8x8 digits (sigma 0.5) and compares, on the same train/test
images: the two-layer convex network (sampled patterns), the two-layer
network trained by Adam, the greedy two-block convex network
(:func:`cvxcnn.deep.fit_greedy`: block 2 fitted by the convex program to
the clean images from block 1's output), the two unrolled blocks trained end
to end by Adam (:func:`cvxcnn.primal.deep.train_deep`), and the same trained
end to end from the greedy weights. Objectives are ``P`` (two layers) or
``P_deep`` (every block's weights penalized), float64; bounds are ESTIMATES
(sampled cells: 3x3 digit patches have far too many cells to enumerate) and
cover a block's own sub-problem only, never a deep network.

Writes into ``--out``: ``deep.json``, ``deep.md`` (the table),
``interpret_clusters.png`` (Fig. 5a: k-means of d(p) on clean test digits,
as the paper feeds them, convex and Adam two-layer networks),
``interpret_filters.png`` (Fig. 4: the convex network's dual filters
w_i - z_i and |FFT|), ``interpret_filters_primal.png`` (the Adam network's
u_i v_i) and ``deep_clusters.png`` (Fig. 5b: clusters of
each block, greedy and end to end), and every network's blocks in
``weights/*.npz`` (for ``cvxcnn explain``)::

    python benchmarks/deep.py --out deep-out
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from cvxcnn import certify, load_digits, make_cells, make_problem, psnr, save_network
from cvxcnn.deep import Block, deep_predict, fit_greedy
from cvxcnn.estimator import ConvexReLUCNN
from cvxcnn.interpret import dual_filter_groups, explain
from cvxcnn.interpret_figures import plot_cluster_rows, plot_filters
from cvxcnn.primal import train_primal
from cvxcnn.primal.deep import train_deep
from cvxcnn.problem import ProblemSpec
from cvxcnn.results import json_ready

NOISE = 0.5
KERNEL = 3


def _row(name, blocks, objective, train, test, *, neurons, seconds, bounds=None) -> dict:
    row = {"model": name, "blocks": len(blocks), "neurons": neurons, "objective": objective}
    row["train_psnr"] = psnr(deep_predict(blocks, train.noisy), train.clean)
    row["test_psnr"] = psnr(deep_predict(blocks, test.noisy), test.clean)
    row["seconds"] = seconds
    row["block_bounds"] = bounds or []
    return row


def _two_layer_convex(args, train):
    start = time.perf_counter()
    model = ConvexReLUCNN(
        KERNEL, beta=args.beta, patterns=args.patterns, data_directed=0.1, random_state=args.seed
    ).fit(train.noisy, train.clean)
    cells = make_cells(model.problem_.Y, args.oracle_cells, data_directed=0.1)
    cert = certify(model.network_, model.problem_, cells.union(model.patterns_), beta=args.beta)
    spec = ProblemSpec.from_problem(model.problem_, activation="relu", beta=args.beta)
    return model, cert, Block(model.network_, spec), time.perf_counter() - start


def _bound(cert) -> dict:
    return {"lower": cert.lower_bound, "upper": cert.upper_bound, "kind": cert.certificate}


def run(args: argparse.Namespace) -> dict:
    """Train every model, write the table and the figures; returns the payload."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = load_digits(args.train, noise=NOISE, random_state=args.seed)
    test = load_digits(args.test, noise=NOISE, random_state=args.seed, offset=args.train)
    verbose = not args.quiet
    convex, cert, convex_block, convex_s = _two_layer_convex(args, train)
    primal = train_primal(
        train.noisy, train.clean, kernel_size=KERNEL, beta=args.beta, neurons=args.neurons,
        lr=args.lr, epochs=args.epochs, seed=args.seed, device="cpu", threads=1, verbose=verbose,
    )  # fmt: skip
    primal_block = Block(primal.network, convex_block.spec)
    start = time.perf_counter()
    greedy = fit_greedy(
        train.noisy, train.clean, beta=args.beta, patterns=args.patterns,
        certify_cells=args.oracle_cells, random_state=args.seed, progress=verbose,
    )  # fmt: skip
    greedy_s = time.perf_counter() - start  # both blocks: cells, solves and bounds
    e2e = train_deep(
        train.noisy, train.clean, beta=args.beta, neurons=args.neurons, lr=args.lr,
        epochs=args.epochs, seed=args.seed, verbose=verbose,
    )  # fmt: skip
    tuned = train_deep(
        train.noisy, train.clean, beta=args.beta, lr=args.lr / 3, epochs=args.epochs // 2,
        init_blocks=greedy.blocks, seed=args.seed, verbose=verbose,
    )  # fmt: skip
    rows = [
        {
            "model": "noisy input",
            "train_psnr": psnr(train.noisy, train.clean),
            "test_psnr": psnr(test.noisy, test.clean),
        },
        _row("two-layer convex", [convex_block], convex.result_.objective, train, test,
             neurons=[convex.result_.neurons], seconds=convex_s, bounds=[_bound(cert)]),
        _row("two-layer Adam", [primal_block], primal.final_objective, train, test,
             neurons=[primal.network.n_neurons], seconds=primal.total_seconds),
        _row("greedy 2-block convex", greedy.blocks, greedy.deep_objectives[-1], train, test,
             neurons=[b.network.n_neurons for b in greedy.blocks], seconds=greedy_s,
             bounds=[_bound(c) for c in greedy.certificates]),
        _row("2 unrolled blocks, Adam end to end", e2e.blocks, e2e.final_objective, train, test,
             neurons=[b.network.n_neurons for b in e2e.blocks], seconds=e2e.seconds),
        _row("greedy, then Adam end to end", tuned.blocks, tuned.final_objective, train, test,
             neurons=[b.network.n_neurons for b in tuned.blocks], seconds=tuned.seconds),
    ]  # fmt: skip
    checks = _figures(out, args, train, test, convex, primal_block, greedy, e2e)
    named = {"convex": [convex_block], "adam": [primal_block], "greedy": greedy.blocks}
    _save_weights(out, named | {"end_to_end": e2e.blocks, "greedy_then_adam": tuned.blocks})
    payload = {
        "config": vars(args) | {"noise": NOISE, "kernel": KERNEL},
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "rows": rows,
        "greedy": greedy.to_dict(),
        "reading_checks": checks,
    }
    (out / "deep.json").write_text(json.dumps(json_ready(payload), indent=2) + "\n")
    (out / "deep.md").write_text(_table(rows) + "\n")
    if verbose:
        print(_table(rows))
    return payload


def _figures(out, args, train, test, convex, primal_block, greedy, e2e) -> dict:
    """Figs. 4, 5a, 5b, and the linear-reading checks of every network drawn.

    The clusters are of the networks fed ``--explain-input`` test images (the
    paper feeds clean ones); block b of a deep network is fed block b-1's output.
    """
    k, seed = args.clusters, args.seed
    feed = test.clean if args.explain_input == "clean" else test.noisy
    tp = make_problem(feed, test.clean, kernel_size=KERNEL)
    ex_convex = explain(convex.network_, tp, n_clusters=k, random_state=seed)
    ex_primal = explain(primal_block.network, tp, n_clusters=k, random_state=seed)
    images = [(f"input ({args.explain_input})", feed)]
    rows = [("convex", ex_convex.labels), ("Adam", ex_primal.labels)]
    title = f"k-means (k={k}) of d(p), two-layer networks, {args.explain_input} test digits"
    plot_cluster_rows(out / "interpret_clusters.png", images, rows, tp.geometry, title=title)
    groups = dual_filter_groups(convex.result_, convex.patterns_)
    ex_dual = explain(convex.network_, convex.problem_, n_clusters=k, groups=groups)
    plot_filters(out / "interpret_filters.png", ex_dual, tp.geometry, n_show=16)
    plot_filters(out / "interpret_filters_primal.png", ex_primal, tp.geometry, n_show=16)
    deep_rows, checks = [], {"two-layer convex": ex_convex, "two-layer Adam": ex_primal}
    checks["two-layer convex (dual blocks, train)"] = ex_dual
    for name, blocks in (("greedy", greedy.blocks), ("end to end", e2e.blocks)):
        x = feed
        for b, block in enumerate(blocks, start=1):
            problem = block.problem(x, test.clean)
            ex = explain(block.network, problem, n_clusters=k, random_state=seed)
            deep_rows.append((f"{name} {b}", ex.labels))
            checks[f"{name} block {b}"] = ex
            x = block(x)
    title = f"k-means (k={k}) of d(p) per block (Fig. 5b), {args.explain_input} test digits"
    plot_cluster_rows(out / "deep_clusters.png", images, deep_rows, tp.geometry, title=title)
    keys = ("neurons", "groups", "linear_reading_error", "group_reading_error", "output_scale")
    keys += ("active_per_pixel", "cluster_sizes")
    shape = tp.geometry.output_shape
    return {
        name: {key: getattr(ex, key) for key in keys}
        | {"label_changes": _label_changes(ex.labels, shape)}
        for name, ex in checks.items()
    }


def _save_weights(out: Path, named: dict[str, list[Block]]) -> None:
    """Every network's blocks as weights files (``cvxcnn explain`` reads them)."""
    folder = out / "weights"
    folder.mkdir(exist_ok=True)
    for name, blocks in named.items():
        for b, block in enumerate(blocks, start=1):
            suffix = f"_{b}" if len(blocks) > 1 else ""
            save_network(folder / f"{name}{suffix}.npz", block.network, block.spec)


def _label_changes(labels: np.ndarray, shape: tuple[int, ...]) -> float:
    """Fraction of neighbouring pixel pairs (rows and columns) in different clusters."""
    grid = labels.reshape(-1, *shape)
    pairs = [grid[:, 1:, :] != grid[:, :-1, :], grid[:, :, 1:] != grid[:, :, :-1]]
    return float(sum(p.sum() for p in pairs) / sum(p.size for p in pairs))


def _table(rows: list[dict]) -> str:
    lines = [
        "| model | neurons | objective | train PSNR | test PSNR | block bounds (ESTIMATED) | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "objective" not in r:
            lines.append(f"| {r['model']} | | | {r['train_psnr']:.2f} | {r['test_psnr']:.2f} | | |")
            continue
        bounds = "; ".join(f"[{b['lower']:.4g}, {b['upper']:.4g}]" for b in r["block_bounds"])
        neurons = " + ".join(str(n) for n in r["neurons"])
        lines.append(
            f"| {r['model']} | {neurons} | {r['objective']:.5g} | {r['train_psnr']:.2f} | "
            f"{r['test_psnr']:.2f} | {bounds} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="deep-out", help="output folder")
    p.add_argument("--train", type=int, default=8, help="training digits")
    p.add_argument("--test", type=int, default=16, help="test digits")
    p.add_argument("--beta", type=float, default=1.0, help="weight decay (the demo's)")
    p.add_argument("--patterns", type=int, default=200, help="sampled cells per convex program")
    p.add_argument("--oracle-cells", type=int, default=2000, help="sampled cells of the bounds")
    p.add_argument("--neurons", type=int, default=256, help="filters per Adam-trained block")
    p.add_argument("--epochs", type=int, default=3000, help="Adam epochs (full batch)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--clusters", type=int, default=12, help="k of k-means")
    p.add_argument(
        "--explain-input", choices=("clean", "noisy"), default="clean",
        help="test images fed to the networks for the cluster figures (paper: clean)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    run(p.parse_args())


if __name__ == "__main__":
    main()
