"""``cvxcnn explain``: what a ReLU network computes, as patch clusters and linear filters.

Reads a weights file (``cvxcnn solve --save-weights``, ``cvxcnn train --out``,
or the JSON log/result that names one) with the problem it was made for,
builds that problem on the images ``--data ...`` select (``--offset`` skips
the first ones, e.g. the training images) and writes
(:func:`cvxcnn.interpret.explain`): the k-means clusters of the per-pixel
activation vectors ``d(p)`` drawn on the images (``--cluster-plot``), the
largest per-neuron filters ``u_i v_i`` and their ``|FFT|``
(``--filter-plot``), and a JSON with the check that the per-patch linear
filter reproduces the network's prediction (``linear_reading_error``).
Example::

    cvxcnn solve --data digits --images 8 --noise 0.5 --save-weights net.npz
    cvxcnn explain net.npz --data digits --images 8 --noise 0.5 --offset 8 \\
        --cluster-plot clusters.png --filter-plot filters.png --out explain.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cvxcnn.cli.certify import load_weights
from cvxcnn.cli.common import (
    DATA_DEFAULTS,
    INPUT_ERRORS,
    RunContext,
    add_data_args,
    add_output_args,
    data_summary,
    int_arg,
    load_data,
    print_lines,
    refuse,
    report_failure,
)
from cvxcnn.cli.errors import UsageError, one_line
from cvxcnn.cli.output import FIGURE_SUFFIXES, JSON_SUFFIXES, check_distinct, check_output_file
from cvxcnn.interpret import explain

DEFAULTS = {**DATA_DEFAULTS, "offset": 0, "clusters": 12, "filters": 16, "show": 6}
#: A reading error above this (relative to the output scale) fails the command (exit 1).
READING_TOL = 1e-10


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn explain``."""
    p = sub.add_parser(
        "explain",
        help="patch clusters and linear filters of a ReLU network (Sahiner et al. 4.2)",
        description="Per-pixel activation vectors d(p), their k-means clusters, the per-neuron "
        "filters and frequency responses, and the check that the network is, per patch, the "
        "linear filter sum_i d_i(p) u_i v_i.",
    )
    p.add_argument(
        "weights", type=Path, help="weights .npz (or a .json result/log naming its weights)"
    )
    add_data_args(p)
    g = p.add_argument_group("interpretation")
    g.add_argument("--offset", type=int_arg(0), help="index of the first image (default 0)")
    g.add_argument("--clusters", type=int_arg(1), help="k of k-means (default 12)")
    g.add_argument("--filters", type=int_arg(1), help="filters drawn, largest first (16)")
    g.add_argument("--show", type=int_arg(1), help="images drawn with their clusters (6)")
    files = {
        "--out": "JSON summary (.json)",
        "--cluster-plot": "cluster picture (.png/.pdf/.svg)",
        "--filter-plot": "filters and |FFT| picture (.png/.pdf/.svg)",
    }
    add_output_args(p, files)
    return p


def weights_path(path: Path) -> Path:
    """The ``.npz`` a positional argument names (itself, or the ``weights`` of a JSON)."""
    if path.suffix.lower() != ".json":
        return path
    if not path.is_file():
        raise UsageError("weights", f"{path}: no such file; pass a weights .npz or a JSON result")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError("weights", f"cannot read {path}: {one_line(exc)}") from exc
    config = payload.get("config") or {} if isinstance(payload, dict) else {}
    named = (payload.get("weights") if isinstance(payload, dict) else None) or config.get(
        "save_weights"
    )
    if not named:
        raise UsageError(
            "weights",
            f"{path} names no weights file (no 'weights' or config 'save_weights'); rerun with "
            "--save-weights / --out and pass the .npz",
        )
    named = Path(named)
    beside = path.parent / named  # a relative name, written from the JSON's own folder
    return beside if not named.is_absolute() and not named.exists() and beside.exists() else named


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn explain``; returns the exit status."""
    check_output_file(args.out, "--out", JSON_SUFFIXES)
    check_output_file(args.cluster_plot, "--cluster-plot", FIGURE_SUFFIXES)
    check_output_file(args.filter_plot, "--filter-plot", FIGURE_SUFFIXES)
    check_distinct(
        {"--out": args.out, "--cluster-plot": args.cluster_plot, "--filter-plot": args.filter_plot}
    )
    _check_matplotlib(args)
    if args.filter_plot is None:
        refuse(ctx.explicit, ("filters",), "it applies with --filter-plot")
    if args.cluster_plot is None:
        refuse(ctx.explicit, ("show",), "it applies with --cluster-plot")
    try:
        loaded = load_weights(weights_path(args.weights))
    except UsageError as exc:
        raise UsageError("weights", exc.message) from exc
    if loaded.network.activation != "relu":
        raise UsageError("weights", "explain reads ReLU networks; this file holds soft thresholds")
    if loaded.spec is None:
        raise UsageError(
            "weights",
            f"{args.weights} records no problem (an old format); re-save it with cvxcnn solve "
            "--save-weights or cvxcnn train --out",
        )
    data = load_data(args, ctx.explicit)
    try:
        problem = loaded.spec.build_problem(data.noisy, data.clean)
    except INPUT_ERRORS as exc:
        text = f"the weights' problem cannot be built: {one_line(exc)}"
        raise UsageError("--data", text) from exc
    result = explain(loaded.network, problem, n_clusters=args.clusters, random_state=args.seed)
    scale = max(result.output_scale, 1.0)
    ok = result.linear_reading_error <= READING_TOL * scale
    payload = {**result.to_dict(), **data_summary(args, data), "offset": args.offset}
    payload |= {"weights": str(args.weights), "problem": loaded.spec.to_dict()}
    payload |= {"reading_tolerance": READING_TOL * scale, "reading_ok": ok}
    _figures(args, ctx, result, data, problem)
    if args.out is not None:
        ctx.outputs.write_json(args.out, ctx.finish(payload))
    print_lines(args, _summary(result))
    if not ok:
        return report_failure(
            f"the linear reading differs from the network by {result.linear_reading_error:.3g}"
        )
    return 0


def _check_matplotlib(args: argparse.Namespace) -> None:
    """A figure flag without matplotlib is bad input (exit 2), found before any work."""
    flag = "--cluster-plot" if args.cluster_plot is not None else "--filter-plot"
    if args.cluster_plot is None and args.filter_plot is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise UsageError(flag, "needs matplotlib: pip install 'cvxcnn[plot]'") from exc


def _figures(args, ctx: RunContext, result, data, problem) -> None:
    """Stage ``--cluster-plot`` and ``--filter-plot``."""
    if args.cluster_plot is None and args.filter_plot is None:
        return
    from cvxcnn.interpret_figures import plot_clusters, plot_filters

    geometry = problem.geometry
    images = [("input", data.noisy)]
    if data.clean.shape == data.noisy.shape:
        images.append(("clean", data.clean))
    if args.cluster_plot is not None:
        ctx.outputs.write(
            args.cluster_plot,
            lambda tmp: plot_clusters(tmp, result, images, geometry, n_show=args.show),
        )
    if args.filter_plot is not None:
        ctx.outputs.write(
            args.filter_plot,
            lambda tmp: plot_filters(tmp, result, geometry, n_show=args.filters),
        )


def _summary(result) -> list[str]:
    return [
        f"{result.neurons} neurons, {result.groups} distinct activation patterns on these "
        f"images; k-means k={result.n_clusters}, cluster sizes {result.cluster_sizes}",
        f"per-patch linear reading vs the network: max difference "
        f"{result.linear_reading_error:.3g} (outputs up to {result.output_scale:.3g})",
        f"active patterns per pixel: min {result.active_per_pixel[0]:.0f}, mean "
        f"{result.active_per_pixel[1]:.1f}, max {result.active_per_pixel[2]:.0f}",
    ]
